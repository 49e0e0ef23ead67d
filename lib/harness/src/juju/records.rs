//! The parts of the model: endpoints, config options, relations, statuses, logs, the action,
//! and the writes a hook buffers.

use std::collections::{BTreeMap, BTreeSet};

use juju_hook::{Port, RelationData, RelationId, Status};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The role of an endpoint in metadata.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointRole {
    /// `provides:`
    Provides,
    /// `requires:`
    Requires,
    /// `peers:`
    Peers,
}

/// One endpoint declared in metadata.yaml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Provides, requires or peers.
    pub role: EndpointRole,
    /// The interface name.
    pub interface: String,
}

/// One option declared in config.yaml (the charm library's type).
pub use juju_hook::ConfigOption;

/// One relation of this unit, with both sides' databags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relation {
    /// The relation number.
    pub id: u32,
    /// This charm's endpoint.
    pub endpoint: String,
    /// The application on the other side (this application for a peer relation).
    pub remote_app: String,
    /// The remote application's databag.
    #[serde(default)]
    pub remote_app_data: RelationData,
    /// Remote units (departed ones included: their data stays readable) and their databags.
    #[serde(default)]
    pub remote_units: BTreeMap<String, RelationData>,
    /// Remote units that left the relation.
    #[serde(default)]
    pub departed_units: BTreeSet<String>,
    /// This unit's databag (committed writes).
    #[serde(default)]
    pub local_unit_data: RelationData,
    /// This application's databag (committed writes).
    #[serde(default)]
    pub local_app_data: RelationData,
    /// The relation was removed (`-relation-broken` and later): hook tools no longer see it.
    #[serde(default)]
    pub broken: bool,
}

impl Relation {
    /// The relation's id as hook tools print it.
    pub fn relation_id(&self) -> RelationId {
        RelationId::new(&self.endpoint, self.id)
    }

    /// Remote units currently in the relation, in Juju's order: the names sorted as strings
    /// (the uniter's `MemberNames` uses Go's `sort.Strings`), so `app/10` comes before `app/2`.
    pub fn current_units(&self) -> Vec<String> {
        // `remote_units` is a map by name: its order is the byte order Go sorts strings in.
        self.remote_units
            .keys()
            .filter(|u| !self.departed_units.contains(*u))
            .cloned()
            .collect()
    }
}

/// A unit's number (`app/10` → 10; 0 for a name without one).
pub(crate) fn unit_number(unit: &str) -> u64 {
    match unit.rsplit_once('/') {
        Some((_, n)) => n.parse().unwrap_or(u64::MAX),
        None => 0,
    }
}

/// One `status-set` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// Application status (`--application`) rather than unit status.
    pub application: bool,
    /// What was set.
    pub status: Status,
}

/// One `juju-log` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// `DEBUG`, `INFO`, ... (unknown levels become `INFO`, as in Juju).
    pub level: String,
    /// The message.
    pub message: String,
}

/// The action being run, and what it reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionRun {
    /// The action's name.
    pub name: String,
    /// `JUJU_ACTION_UUID`.
    pub id: String,
    /// Parameters (`action-get`).
    #[serde(default)]
    pub params: Map<String, Value>,
    /// Committed results (`action-set`), nested by dotted keys.
    #[serde(default)]
    pub results: Map<String, Value>,
    /// Committed `action-fail` message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// `action-log` lines (immediate).
    #[serde(default)]
    pub logs: Vec<String>,
}

/// A buffered `open-port` (`open: true`) or `close-port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortChange {
    /// Open or close.
    pub open: bool,
    /// Which port.
    pub port: Port,
}

/// Writes of the running hook that Juju applies only when it exits 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// Per relation id, keys written to this unit's databag (`""` deletes).
    #[serde(default)]
    pub unit_data: BTreeMap<u32, RelationData>,
    /// Per relation id, keys written to this application's databag (`""` deletes).
    #[serde(default)]
    pub app_data: BTreeMap<u32, RelationData>,
    /// `open-port` / `close-port` in call order.
    #[serde(default)]
    pub ports: Vec<PortChange>,
    /// `state-set` (`Some`) / `state-delete` (`None`).
    #[serde(default)]
    pub stored: BTreeMap<String, Option<String>>,
    /// `action-set` results, nested.
    #[serde(default)]
    pub action_results: Map<String, Value>,
    /// `action-fail` message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_failure: Option<String>,
}

impl Pending {
    /// Nothing is buffered.
    pub fn is_empty(&self) -> bool {
        *self == Pending::default()
    }
}

/// Merges `overlay` into `into`, recursing into objects present on both sides.
pub(crate) fn merge_json(into: &mut Map<String, Value>, overlay: &Map<String, Value>) {
    for (k, v) in overlay {
        match (into.get_mut(k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => merge_json(a, b),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

//! The fake Juju model one unit sees: everything hook tools read and write.
//!
//! It is plain serde data so it can live in a JSON file shared with the `fake-hook-tool`
//! executable (see [`super::StateFile`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use juju_hook::{
    Event, GoalStateEntry, Port, RelationData, RelationEvent, RelationEventKind, RelationId, Status,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

/// Something a test asked of the model does not fit it (a bug in the test, not the charm).
#[derive(Debug, Error)]
pub enum ModelError {
    /// A charm file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A charm file is not valid YAML of the expected shape.
    #[error("invalid {path}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// `set_config` of an option config.yaml does not declare.
    #[error("unknown config option {0:?}")]
    UnknownOption(String),
    /// `set_config` with a value of the wrong type.
    #[error("config option {option:?} is of type {expected}, got {value}")]
    WrongType {
        /// The option.
        option: String,
        /// Its declared type.
        expected: String,
        /// The rejected value.
        value: Value,
    },
    /// No (live) relation with this id.
    #[error("no relation {0}")]
    UnknownRelation(String),
    /// The state file could not be read, written or locked.
    #[error("state file {path}: {reason}")]
    StateFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

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

/// One option declared in config.yaml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigOption {
    /// `string`, `int`, `float`, `boolean` or `secret`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The default, if any (`null` = no default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

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

    /// Remote units currently in the relation, in Juju's order (by unit number).
    pub fn current_units(&self) -> Vec<String> {
        let mut units: Vec<String> = self
            .remote_units
            .keys()
            .filter(|u| !self.departed_units.contains(*u))
            .cloned()
            .collect();
        units.sort_by_key(|u| unit_sort_key(u));
        units
    }
}

/// Sorts `app/10` after `app/9`.
pub(crate) fn unit_sort_key(unit: &str) -> (String, u64) {
    match unit.rsplit_once('/') {
        Some((app, n)) => (app.to_string(), n.parse().unwrap_or(u64::MAX)),
        None => (unit.to_string(), 0),
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

/// Applies a relation-set style overlay: `""` deletes, anything else overwrites.
pub(crate) fn merge_databag(into: &mut RelationData, overlay: &RelationData) {
    for (k, v) in overlay {
        if v.is_empty() {
            into.remove(k);
        } else {
            into.insert(k.clone(), v.clone());
        }
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

const DEFAULT_UUID: &str = "2b3f4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d";
/// The `since` stamp the fake's goal-state prints.
pub(crate) const GOAL_SINCE: &str = "2026-01-01T00:00:00Z";

/// The Juju model as one unit sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelState {
    /// `JUJU_MODEL_NAME`.
    pub model_name: String,
    /// `JUJU_MODEL_UUID`.
    pub model_uuid: String,
    /// This application's name.
    pub app_name: String,
    /// This unit's number.
    pub unit_number: u32,
    /// Whether this unit is the leader.
    pub leader: bool,
    /// `JUJU_VERSION`.
    pub juju_version: String,
    /// `JUJU_CHARM_DIR`.
    pub charm_dir: PathBuf,
    /// Endpoints from metadata.yaml (empty = unknown: any binding is accepted).
    pub endpoints: BTreeMap<String, Endpoint>,
    /// `extra-bindings` from metadata.yaml.
    pub extra_bindings: BTreeSet<String>,
    /// Options from config.yaml (empty = unknown: `set_config` accepts anything).
    pub config_options: BTreeMap<String, ConfigOption>,
    /// Values the operator set (`juju config`), overriding defaults.
    pub config: Map<String, Value>,
    /// Relations, live and broken.
    pub relations: Vec<Relation>,
    /// Unit status (`None` = never set).
    pub unit_status: Option<Status>,
    /// Application status.
    pub app_status: Option<Status>,
    /// Every `status-set`, in order.
    pub status_history: Vec<StatusChange>,
    /// `application-version-set`.
    pub workload_version: Option<String>,
    /// Committed opened ports.
    pub opened_ports: BTreeSet<Port>,
    /// The action being run, if the hook is an action.
    pub action: Option<ActionRun>,
    /// `juju-log` lines.
    pub logs: Vec<LogLine>,
    /// The unit's controller-side key/value store (`state-get`/`state-set`), committed.
    pub stored: BTreeMap<String, String>,
    /// `goal-state` units of this application (empty = just this unit, active).
    pub goal_units: BTreeMap<String, GoalStateEntry>,
    /// This unit's address (`network-get`, `ingress-address`).
    pub address: String,
    /// Writes buffered until the hook exits 0.
    pub pending: Pending,
    /// Calls per hook tool name.
    pub calls: BTreeMap<String, u64>,
    /// Last action id handed out by [`ModelState::start_action`].
    pub last_action_id: u64,
}

impl Default for ModelState {
    fn default() -> Self {
        Self::new("app", 0)
    }
}

impl ModelState {
    /// A model with one unit `<app>/<unit_number>`, not leader, no charm files loaded.
    pub fn new(app_name: &str, unit_number: u32) -> Self {
        Self {
            model_name: "test-model".into(),
            model_uuid: DEFAULT_UUID.into(),
            app_name: app_name.into(),
            unit_number,
            leader: false,
            juju_version: "3.6.8".into(),
            charm_dir: PathBuf::from(format!(
                "/var/lib/juju/agents/unit-{app_name}-{unit_number}/charm"
            )),
            endpoints: BTreeMap::new(),
            extra_bindings: BTreeSet::new(),
            config_options: BTreeMap::new(),
            config: Map::new(),
            relations: Vec::new(),
            unit_status: None,
            app_status: None,
            status_history: Vec::new(),
            workload_version: None,
            opened_ports: BTreeSet::new(),
            action: None,
            logs: Vec::new(),
            stored: BTreeMap::new(),
            goal_units: BTreeMap::new(),
            address: format!("10.1.0.{}", 10 + unit_number % 240),
            pending: Pending::default(),
            calls: BTreeMap::new(),
            last_action_id: 0,
        }
    }

    /// A model for the charm in `dir`: app name, endpoints and extra-bindings from
    /// metadata.yaml, options and defaults from config.yaml (optional). Unit 0, not leader.
    pub fn from_charm_dir(dir: &Path) -> Result<Self, ModelError> {
        let metadata: Value = read_yaml(&dir.join("metadata.yaml"))?;
        let bad = |reason: &str| ModelError::Parse {
            path: dir.join("metadata.yaml"),
            reason: reason.to_string(),
        };
        let name = metadata
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no name"))?;
        let mut state = Self::new(name, 0);
        state.charm_dir = dir.to_path_buf();
        for (section, role) in [
            ("provides", EndpointRole::Provides),
            ("requires", EndpointRole::Requires),
            ("peers", EndpointRole::Peers),
        ] {
            let Some(entries) = metadata.get(section).and_then(Value::as_object) else {
                continue;
            };
            for (endpoint, spec) in entries {
                let interface = spec
                    .get("interface")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(&format!("endpoint {endpoint:?} has no interface")))?;
                state.endpoints.insert(
                    endpoint.clone(),
                    Endpoint {
                        role,
                        interface: interface.to_string(),
                    },
                );
            }
        }
        if let Some(extra) = metadata.get("extra-bindings").and_then(Value::as_object) {
            state.extra_bindings = extra.keys().cloned().collect();
        }
        let config_path = dir.join("config.yaml");
        if config_path.exists() {
            #[derive(Deserialize)]
            struct ConfigYaml {
                #[serde(default)]
                options: BTreeMap<String, ConfigOption>,
            }
            let config: ConfigYaml = read_yaml(&config_path)?;
            state.config_options = config.options;
        }
        Ok(state)
    }

    /// This unit's name, `<app>/<n>`.
    pub fn unit_name(&self) -> String {
        format!("{}/{}", self.app_name, self.unit_number)
    }

    /// Makes this unit the leader or not.
    pub fn set_leader(&mut self, leader: bool) -> &mut Self {
        self.leader = leader;
        self
    }

    /// Sets a config option as `juju config` would, checking it against config.yaml when that
    /// was loaded. `Value::Null` resets the option to its default.
    pub fn set_config(&mut self, key: &str, value: impl Into<Value>) -> Result<(), ModelError> {
        let value = value.into();
        if value.is_null() {
            self.config.remove(key);
            return Ok(());
        }
        if !self.config_options.is_empty() {
            let option = self
                .config_options
                .get(key)
                .ok_or_else(|| ModelError::UnknownOption(key.to_string()))?;
            let fits = match option.kind.as_str() {
                "string" | "secret" => value.is_string(),
                "int" => value.is_i64() || value.is_u64(),
                "float" => value.is_number(),
                "boolean" => value.is_boolean(),
                _ => true,
            };
            if !fits {
                return Err(ModelError::WrongType {
                    option: key.to_string(),
                    expected: option.kind.clone(),
                    value,
                });
            }
        }
        self.config.insert(key.to_string(), value);
        Ok(())
    }

    /// What `config-get` prints: every option that is set or has a non-null default.
    pub fn effective_config(&self) -> Map<String, Value> {
        let mut out: Map<String, Value> = self
            .config_options
            .iter()
            .filter_map(|(k, o)| match &o.default {
                Some(v) if !v.is_null() => Some((k.clone(), v.clone())),
                _ => None,
            })
            .collect();
        for (k, v) in &self.config {
            out.insert(k.clone(), v.clone());
        }
        out
    }

    /// The Juju-managed keys every unit databag holds.
    fn juju_unit_keys(address: &str) -> RelationData {
        [
            ("egress-subnets", format!("{address}/32")),
            ("ingress-address", address.to_string()),
            ("private-address", address.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Relates `endpoint` to `remote_app` and returns the new relation's id. For a peer
    /// endpoint pass this application's name. This unit's databag starts with the keys Juju
    /// manages (`ingress-address`, `private-address`, `egress-subnets`).
    pub fn add_relation(&mut self, endpoint: &str, remote_app: &str) -> RelationId {
        let id = self.relations.iter().map(|r| r.id + 1).max().unwrap_or(0);
        self.add_relation_with_id(endpoint, remote_app, id)
    }

    /// Like [`ModelState::add_relation`] with a chosen relation number (must be unused).
    pub fn add_relation_with_id(
        &mut self,
        endpoint: &str,
        remote_app: &str,
        id: u32,
    ) -> RelationId {
        assert!(
            self.relations.iter().all(|r| r.id != id),
            "relation id {id} is already used"
        );
        self.relations.push(Relation {
            id,
            endpoint: endpoint.to_string(),
            remote_app: remote_app.to_string(),
            remote_app_data: RelationData::new(),
            remote_units: BTreeMap::new(),
            departed_units: BTreeSet::new(),
            local_unit_data: Self::juju_unit_keys(&self.address),
            local_app_data: RelationData::new(),
            broken: false,
        });
        self.relations.sort_by_key(|r| r.id);
        RelationId::new(endpoint, id)
    }

    /// Whether a relation is a peer relation (its remote side is this application).
    pub fn is_peer(&self, relation: &Relation) -> bool {
        relation.remote_app == self.app_name
            || self
                .endpoints
                .get(&relation.endpoint)
                .is_some_and(|e| e.role == EndpointRole::Peers)
    }

    /// The relation with this id, live or broken.
    pub fn relation(&self, relation: &RelationId) -> Option<&Relation> {
        self.relations
            .iter()
            .find(|r| r.id == relation.id && r.endpoint == relation.endpoint)
    }

    /// Mutable access to a relation; panics if there is none (a test bug).
    pub fn relation_mut(&mut self, relation: &RelationId) -> &mut Relation {
        self.relations
            .iter_mut()
            .find(|r| r.id == relation.id && r.endpoint == relation.endpoint)
            .unwrap_or_else(|| panic!("no relation {relation}"))
    }

    /// A remote unit joins (or rejoins) a relation; its databag starts with Juju's keys.
    pub fn add_remote_unit(&mut self, relation: &RelationId, unit: &str) -> &mut Self {
        let n = unit_sort_key(unit).1 % 240;
        let address = format!("10.1.{}.{}", 100 + relation.id % 150, 10 + n);
        let rel = self.relation_mut(relation);
        rel.departed_units.remove(unit);
        rel.remote_units
            .entry(unit.to_string())
            .or_insert_with(|| Self::juju_unit_keys(&address));
        self
    }

    /// Merges keys into the remote application's databag (`""` deletes), as if the remote
    /// leader ran `relation-set --app`.
    pub fn set_remote_app_data(&mut self, relation: &RelationId, data: &RelationData) -> &mut Self {
        merge_databag(&mut self.relation_mut(relation).remote_app_data, data);
        self
    }

    /// Merges keys into a remote unit's databag (`""` deletes); adds the unit if needed.
    pub fn set_remote_unit_data(
        &mut self,
        relation: &RelationId,
        unit: &str,
        data: &RelationData,
    ) -> &mut Self {
        if !self.relation_mut(relation).remote_units.contains_key(unit) {
            self.add_remote_unit(relation, unit);
        }
        let rel = self.relation_mut(relation);
        merge_databag(rel.remote_units.get_mut(unit).expect("added above"), data);
        self
    }

    /// A remote unit departs: it leaves `relation-list`, its data stays readable.
    pub fn remove_remote_unit(&mut self, relation: &RelationId, unit: &str) -> &mut Self {
        let rel = self.relation_mut(relation);
        assert!(
            rel.remote_units.contains_key(unit),
            "{unit} is not in relation {relation}"
        );
        rel.departed_units.insert(unit.to_string());
        self
    }

    /// The relation is removed (`-relation-broken`): all remote units depart and hook tools
    /// answer "relation not found" for it from now on.
    pub fn remove_relation(&mut self, relation: &RelationId) -> &mut Self {
        let rel = self.relation_mut(relation);
        let units: Vec<String> = rel.remote_units.keys().cloned().collect();
        rel.departed_units.extend(units);
        rel.broken = true;
        self
    }

    /// The event of `kind` on `relation`, with `JUJU_REMOTE_APP` from the relation.
    /// `remote_unit` is the remote (or, for departed, departing) unit, `None` for created,
    /// broken and changes of the remote application's databag.
    pub fn relation_event(
        &self,
        relation: &RelationId,
        kind: RelationEventKind,
        remote_unit: Option<&str>,
    ) -> Event {
        let rel = self
            .relation(relation)
            .unwrap_or_else(|| panic!("no relation {relation}"));
        Event::Relation(RelationEvent {
            kind,
            relation: relation.clone(),
            remote_app: rel.remote_app.clone(),
            remote_unit: remote_unit.map(str::to_string),
            departing_unit: (kind == RelationEventKind::Departed)
                .then(|| remote_unit.map(str::to_string))
                .flatten(),
        })
    }

    /// Starts running action `name` with `params` and returns its event.
    pub fn start_action(&mut self, name: &str, params: Map<String, Value>) -> Event {
        self.last_action_id += 1;
        let id = self.last_action_id.to_string();
        self.action = Some(ActionRun {
            name: name.to_string(),
            id: id.clone(),
            params,
            ..ActionRun::default()
        });
        Event::Action {
            name: name.to_string(),
            id,
        }
    }

    /// The hook exited 0: apply every buffered write, as Juju's context flush does.
    pub fn commit_pending(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for rel in self.relations.iter_mut().filter(|r| !r.broken) {
            if let Some(data) = pending.unit_data.get(&rel.id) {
                merge_databag(&mut rel.local_unit_data, data);
            }
            if let Some(data) = pending.app_data.get(&rel.id) {
                merge_databag(&mut rel.local_app_data, data);
            }
        }
        for change in &pending.ports {
            if change.open {
                self.opened_ports.insert(change.port);
            } else {
                self.opened_ports.remove(&change.port);
            }
        }
        for (k, v) in pending.stored {
            match v {
                Some(v) => self.stored.insert(k, v),
                None => self.stored.remove(&k),
            };
        }
        if let Some(action) = &mut self.action {
            merge_json(&mut action.results, &pending.action_results);
            if pending.action_failure.is_some() {
                action.failure = pending.action_failure;
            }
        }
    }

    /// The hook failed: drop every buffered write.
    pub fn discard_pending(&mut self) {
        self.pending = Pending::default();
    }

    /// Counts one call of `tool`.
    pub fn record_call(&mut self, tool: &str) {
        *self.calls.entry(tool.to_string()).or_default() += 1;
    }

    /// How many times `tool` ran.
    pub fn call_count(&self, tool: &str) -> u64 {
        self.calls.get(tool).copied().unwrap_or(0)
    }

    /// Total hook-tool calls.
    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }
}

fn read_yaml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_yaml_ng::from_str(&text).map_err(|e| ModelError::Parse {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

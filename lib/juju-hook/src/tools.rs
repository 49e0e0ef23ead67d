//! The hook tools a charm uses, as a trait, and the types they exchange.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::HookToolError;

pub use crate::databag::RelationData;

/// What a databag holds after `relation-set` of `written` is committed: an empty value
/// deletes the key, anything else sets it.
pub fn merge_relation_set(into: &mut RelationData, written: &RelationData) {
    for (key, value) in written {
        if value.is_empty() {
            into.remove(key);
        } else {
            into.insert(key.clone(), value.clone());
        }
    }
}

/// A relation id as Juju prints it: `<endpoint>:<number>`, e.g. `metrics-endpoint:3`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RelationId {
    /// The endpoint name from metadata.yaml.
    pub endpoint: String,
    /// The relation's number, unique in the model.
    pub id: u32,
}

impl RelationId {
    /// A relation id from its endpoint and number.
    pub fn new(endpoint: impl Into<String>, id: u32) -> Self {
        Self {
            endpoint: endpoint.into(),
            id,
        }
    }
}

impl fmt::Display for RelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.endpoint, self.id)
    }
}

impl FromStr for RelationId {
    type Err = String;

    /// Parses `<endpoint>:<n>`; like Juju, the number is what follows the last `:`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (endpoint, num) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("invalid relation id {s:?}: expected <endpoint>:<number>"))?;
        let id = num
            .parse()
            .map_err(|_| format!("invalid relation id {s:?}: {num:?} is not a number"))?;
        Ok(Self::new(endpoint, id))
    }
}

impl TryFrom<String> for RelationId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<RelationId> for String {
    fn from(r: RelationId) -> String {
        r.to_string()
    }
}

/// The workload status kinds a charm may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusKind {
    /// The unit is busy with something the operator should not act on.
    Maintenance,
    /// The operator must act (invalid config, missing relation...).
    Blocked,
    /// Waiting for something outside the operator's control (a container, another app).
    Waiting,
    /// Working.
    Active,
}

impl StatusKind {
    /// The word `status-set` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusKind::Maintenance => "maintenance",
            StatusKind::Blocked => "blocked",
            StatusKind::Waiting => "waiting",
            StatusKind::Active => "active",
        }
    }
}

impl fmt::Display for StatusKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A unit or application status: kind and message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Status {
    /// The kind (`active`, `blocked`, ...).
    pub kind: StatusKind,
    /// The message shown in `juju status`; may be empty.
    pub message: String,
}

impl Status {
    /// Active with a message (often empty).
    pub fn active(message: impl Into<String>) -> Self {
        Self {
            kind: StatusKind::Active,
            message: message.into(),
        }
    }
    /// Blocked: the operator must act.
    pub fn blocked(message: impl Into<String>) -> Self {
        Self {
            kind: StatusKind::Blocked,
            message: message.into(),
        }
    }
    /// Waiting on something outside the operator's control.
    pub fn waiting(message: impl Into<String>) -> Self {
        Self {
            kind: StatusKind::Waiting,
            message: message.into(),
        }
    }
    /// Maintenance: busy.
    pub fn maintenance(message: impl Into<String>) -> Self {
        Self {
            kind: StatusKind::Maintenance,
            message: message.into(),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.kind, self.message)
        }
    }
}

/// Log levels `juju-log` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    /// `TRACE`
    Trace,
    /// `DEBUG`
    Debug,
    /// `INFO`
    Info,
    /// `WARNING`
    Warning,
    /// `ERROR`
    Error,
}

impl LogLevel {
    /// The word `juju-log --log-level` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
            LogLevel::Error => "ERROR",
        }
    }
}

/// A port protocol for `open-port` / `close-port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP
    Tcp,
    /// UDP
    Udp,
}

/// One opened port, printed by Juju as `9090/tcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Port {
    /// Port number.
    pub number: u16,
    /// Protocol.
    pub protocol: Protocol,
}

impl Port {
    /// A TCP port.
    pub fn tcp(number: u16) -> Self {
        Self {
            number,
            protocol: Protocol::Tcp,
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        write!(f, "{}/{}", self.number, proto)
    }
}

impl FromStr for Port {
    type Err = String;
    /// Parses `9090/tcp` (or `9090`, TCP by default).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (num, proto) = s.split_once('/').unwrap_or((s, "tcp"));
        let number = num
            .trim()
            .parse()
            .map_err(|_| format!("invalid port {s:?}"))?;
        let protocol = match proto.trim() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            other => return Err(format!("unsupported protocol {other:?} in {s:?}")),
        };
        Ok(Self { number, protocol })
    }
}

/// What `network-get <binding> --format=json` prints, reduced to what charms use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    /// Addresses the unit binds to (`bind-addresses[].addresses[].value`).
    pub bind_addresses: Vec<String>,
    /// Addresses other units should use to reach this one (`ingress-addresses`).
    pub ingress_addresses: Vec<String>,
    /// `egress-subnets`.
    pub egress_subnets: Vec<String>,
}

impl NetworkInfo {
    /// Reads `network-get --format=json` output. Bind addresses come from
    /// `bind-addresses[].addresses[].value`, or `address` as Juju before 2.9 printed it.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let obj = value
            .as_object()
            .ok_or_else(|| format!("expected a JSON object, got {value}"))?;
        let strings = |key: &str| -> Result<Vec<String>, String> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| format!("{key}: expected strings, got {v}"))
                    })
                    .collect(),
                Some(other) => Err(format!("{key}: expected an array, got {other}")),
            }
        };
        let mut bind_addresses = Vec::new();
        if let Some(binds) = obj.get("bind-addresses").and_then(Value::as_array) {
            for bind in binds {
                let addresses = bind.get("addresses").and_then(Value::as_array);
                for address in addresses.into_iter().flatten() {
                    let text = address
                        .get("value")
                        .or_else(|| address.get("address"))
                        .and_then(Value::as_str)
                        .ok_or_else(|| format!("bind address without value: {address}"))?;
                    bind_addresses.push(text.to_string());
                }
            }
        }
        Ok(Self {
            bind_addresses,
            ingress_addresses: strings("ingress-addresses")?,
            egress_subnets: strings("egress-subnets")?,
        })
    }
}

/// One entry of `goal-state`: a unit or a related application/unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoalStateEntry {
    /// `active`, `waiting`, `joining`, `joined`, `dying`, ...
    pub status: String,
    /// When it got there (RFC 3339), if Juju says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

/// What `goal-state --format=json` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoalState {
    /// Units of this application, by name.
    #[serde(default)]
    pub units: BTreeMap<String, GoalStateEntry>,
    /// Per endpoint, related applications and units by name.
    #[serde(default)]
    pub relations: BTreeMap<String, BTreeMap<String, GoalStateEntry>>,
}

impl GoalState {
    /// Units of this application that are planned (not dying), sorted by name.
    pub fn planned_units(&self) -> Vec<&str> {
        self.units
            .iter()
            .filter(|(_, e)| e.status != "dying")
            .map(|(n, _)| n.as_str())
            .collect()
    }
}

/// Typed access to Juju's hook tools.
///
/// [`crate::ProcessHookTools`] runs the real executables; a test harness implements this trait
/// in memory. Methods take `&self`: implementations that record calls use interior mutability.
/// Writes that Juju buffers until the hook exits 0 (`relation-set`, `open-port`, `action-set`,
/// `state-set`) are buffered by every implementation alike.
pub trait HookTools {
    /// `config-get --format=json`: every option that is set or has a default.
    fn config_get(&self) -> Result<Map<String, Value>, HookToolError>;
    /// `is-leader --format=json`.
    fn is_leader(&self) -> Result<bool, HookToolError>;
    /// `relation-ids <endpoint> --format=json`: live relations on an endpoint, sorted by
    /// number (Juju itself prints them sorted as strings).
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationId>, HookToolError>;
    /// `relation-list -r <id> --format=json`: remote units in the relation.
    fn relation_list(&self, relation: &RelationId) -> Result<Vec<String>, HookToolError>;
    /// `relation-list -r <id> --app --format=json`: the remote application's name.
    fn relation_remote_app(&self, relation: &RelationId) -> Result<String, HookToolError>;
    /// `relation-get -r <id> - <unit> --format=json` (or `--app - <app>` when `app` is true):
    /// one whole databag of a unit or application, local or remote.
    fn relation_get(
        &self,
        relation: &RelationId,
        member: &str,
        app: bool,
    ) -> Result<RelationData, HookToolError>;
    /// `relation-set -r <id> [--app] --file -` with a JSON object on stdin. Merges into the
    /// databag; an empty value deletes the key. App data needs leadership.
    fn relation_set(
        &self,
        relation: &RelationId,
        app: bool,
        data: &RelationData,
    ) -> Result<(), HookToolError>;
    /// `status-set [--application] <kind> -- <message>`. Takes effect at once.
    fn status_set(&self, status: &Status, application: bool) -> Result<(), HookToolError>;
    /// `application-version-set -- <version>`.
    fn application_version_set(&self, version: &str) -> Result<(), HookToolError>;
    /// `juju-log --log-level <LEVEL> -- <message>`.
    fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), HookToolError>;
    /// `open-port <port>/<proto>`.
    fn open_port(&self, port: Port) -> Result<(), HookToolError>;
    /// `close-port <port>/<proto>`.
    fn close_port(&self, port: Port) -> Result<(), HookToolError>;
    /// `opened-ports --format=json`.
    fn opened_ports(&self) -> Result<Vec<Port>, HookToolError>;
    /// `network-get <binding> --format=json`.
    fn network_get(&self, binding: &str) -> Result<NetworkInfo, HookToolError>;
    /// `goal-state --format=json`.
    fn goal_state(&self) -> Result<GoalState, HookToolError>;
    /// `action-get --format=json`: the action's parameters.
    fn action_get(&self) -> Result<Map<String, Value>, HookToolError>;
    /// `action-set k=v ...`: keys may be dotted to nest.
    fn action_set(&self, results: &BTreeMap<String, String>) -> Result<(), HookToolError>;
    /// `action-fail -- <message>`.
    fn action_fail(&self, message: &str) -> Result<(), HookToolError>;
    /// `action-log -- <message>`: progress, shown at once.
    fn action_log(&self, message: &str) -> Result<(), HookToolError>;
    /// `state-get --format=json`: the unit's controller-side key/value store.
    fn state_get(&self) -> Result<BTreeMap<String, String>, HookToolError>;
    /// `state-set --file -`: merge keys into the store. Unlike relation data, an empty value
    /// is stored as an empty string (Juju's `state-delete` removes keys).
    fn state_set(&self, data: &BTreeMap<String, String>) -> Result<(), HookToolError>;

    /// A memo the charm attached to `relation` with [`set_relation_memo`](Self::set_relation_memo),
    /// returned only while the tools vouch that nothing they answer about that relation has
    /// changed since (a cache does; tools that ask Juju every time keep no memo: `None`).
    fn relation_memo(&self, relation: &RelationId) -> Option<String> {
        let _ = relation;
        None
    }

    /// Attaches `memo` (say, a digest of what the charm read) to `relation`, to be returned by
    /// [`relation_memo`](Self::relation_memo) in later hooks until something the tools answer
    /// about the relation changes. Set it after the hook's last `relation-set` on it.
    fn set_relation_memo(&self, relation: &RelationId, memo: String) {
        let _ = (relation, memo);
    }

    /// The charm has read the databags it needs for this hook: tools that keep databags in
    /// memory may let go of those they need not save, and read them again if asked. A large
    /// model's databags would otherwise be held twice (by the tools and by the charm's copy)
    /// through the rest of the hook.
    fn release_databags(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_set_overwrites_adds_and_deletes_with_an_empty_value() {
        let mut bag = RelationData::from([
            ("kept".to_string(), "1".to_string()),
            ("changed".to_string(), "old".to_string()),
            ("deleted".to_string(), "x".to_string()),
        ]);
        let written = RelationData::from([
            ("changed".to_string(), "new".to_string()),
            ("deleted".to_string(), String::new()),
            ("added".to_string(), "2".to_string()),
            ("never-there".to_string(), String::new()),
        ]);
        merge_relation_set(&mut bag, &written);
        assert_eq!(
            bag,
            RelationData::from([
                ("added".to_string(), "2".to_string()),
                ("changed".to_string(), "new".to_string()),
                ("kept".to_string(), "1".to_string()),
            ])
        );
    }
}

//! The fake Juju model one unit sees: everything hook tools read and write.
//!
//! It is plain serde data so it can live in a JSON file shared with the `fake-hook-tool`
//! executable (see [`super::StateFile`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use juju_hook::{merge_relation_set, ConfigValueError, GoalStateEntry, Port, Status};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

use super::records::{
    merge_json, ActionRun, ConfigOption, Endpoint, EndpointRole, LogLine, Pending, Relation,
    StatusChange,
};

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
    /// `set_config` of a value Juju refuses: an undeclared option or the wrong type.
    #[error(transparent)]
    Config(#[from] ConfigValueError),
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
            juju_hook::check_config_value(&self.config_options, key, &value)?;
        }
        self.config.insert(key.to_string(), value);
        Ok(())
    }

    /// What `config-get` prints: every option that is set or has a non-null default.
    pub fn effective_config(&self) -> Map<String, Value> {
        juju_hook::effective_config(&self.config_options, &self.config)
    }

    /// The hook exited 0: apply every buffered write, as Juju's context flush does.
    pub fn commit_pending(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for rel in self.relations.iter_mut().filter(|r| !r.broken) {
            if let Some(data) = pending.unit_data.get(&rel.id) {
                merge_relation_set(&mut rel.local_unit_data, data);
            }
            if let Some(data) = pending.app_data.get(&rel.id) {
                merge_relation_set(&mut rel.local_app_data, data);
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

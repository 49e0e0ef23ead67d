//! [`HookTools`] over an in-memory [`ModelState`], with Juju's semantics.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use juju_hook::{
    GoalState, HookToolError, HookTools, LogLevel, NetworkInfo, Port, RelationData, RelationId,
    Status,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::apply::apply;
use super::call::{Call, RelRef};
use super::state::ModelState;

/// In-memory hook tools: the counterpart of `ops.testing`'s backend.
///
/// Every call goes through the same [`apply`] as the `fake-hook-tool` executable, and its
/// failures are classified by the same [`HookToolError::from_exit`] as the real client, so a
/// charm sees identical behaviour through either. Buffered writes wait for [`Self::commit`]
/// (the hook exited 0) or [`Self::rollback`].
#[derive(Debug, Clone, Default)]
pub struct FakeHookTools {
    state: Arc<Mutex<ModelState>>,
}

impl FakeHookTools {
    /// Fake tools over `state`.
    pub fn new(state: ModelState) -> Self {
        Self::from_shared(Arc::new(Mutex::new(state)))
    }

    /// Fake tools over a state shared with the test.
    pub fn from_shared(state: Arc<Mutex<ModelState>>) -> Self {
        Self { state }
    }

    /// The shared state.
    pub fn shared(&self) -> Arc<Mutex<ModelState>> {
        Arc::clone(&self.state)
    }

    /// Locks the state for inspection or changes by the test.
    pub fn state(&self) -> MutexGuard<'_, ModelState> {
        // A panicking test thread must not hide the state from the assertions that follow.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The hook exited 0: apply buffered writes.
    pub fn commit(&self) {
        self.state().commit_pending();
    }

    /// The hook failed: drop buffered writes.
    pub fn rollback(&self) {
        self.state().discard_pending();
    }

    /// How many times `tool` was called.
    pub fn calls(&self, tool: &str) -> u64 {
        self.state().call_count(tool)
    }

    fn call(&self, call: Call) -> Result<Option<Value>, HookToolError> {
        let tool = call.tool();
        let mut state = self.state();
        state.record_call(tool);
        apply(&mut state, &call).map_err(|f| HookToolError::from_exit(tool, f.code, &f.stderr()))
    }

    /// A call whose output is decoded like the real client decodes stdout.
    fn call_json<T: DeserializeOwned + Default>(&self, call: Call) -> Result<T, HookToolError> {
        let tool = call.tool();
        match self.call(call)? {
            None | Some(Value::Null) => Ok(T::default()),
            Some(v) => serde_json::from_value(v).map_err(|e| HookToolError::BadOutput {
                tool: tool.to_string(),
                reason: e.to_string(),
            }),
        }
    }
}

impl HookTools for FakeHookTools {
    fn config_get(&self) -> Result<Map<String, Value>, HookToolError> {
        self.call_json(Call::ConfigGet {
            key: None,
            all: false,
        })
    }

    fn is_leader(&self) -> Result<bool, HookToolError> {
        self.call_json(Call::IsLeader)
    }

    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationId>, HookToolError> {
        // Juju prints them sorted as strings; the trait promises numeric order.
        let mut ids: Vec<RelationId> = self.call_json(Call::RelationIds {
            endpoint: endpoint.to_string(),
        })?;
        ids.sort();
        Ok(ids)
    }

    fn relation_list(&self, relation: &RelationId) -> Result<Vec<String>, HookToolError> {
        self.call_json(Call::RelationList {
            relation: RelRef::from(relation),
            app: false,
        })
    }

    fn relation_remote_app(&self, relation: &RelationId) -> Result<String, HookToolError> {
        self.call_json(Call::RelationList {
            relation: RelRef::from(relation),
            app: true,
        })
    }

    fn relation_get(
        &self,
        relation: &RelationId,
        member: &str,
        app: bool,
    ) -> Result<RelationData, HookToolError> {
        self.call_json(Call::RelationGet {
            relation: RelRef::from(relation),
            key: None,
            member: member.to_string(),
            app,
        })
    }

    fn relation_set(
        &self,
        relation: &RelationId,
        app: bool,
        data: &RelationData,
    ) -> Result<(), HookToolError> {
        self.call(Call::RelationSet {
            relation: RelRef::from(relation),
            app,
            data: data.clone(),
        })
        .map(drop)
    }

    fn status_set(&self, status: &Status, application: bool) -> Result<(), HookToolError> {
        self.call(Call::StatusSet {
            application,
            status: status.kind.as_str().to_string(),
            message: status.message.clone(),
        })
        .map(drop)
    }

    fn application_version_set(&self, version: &str) -> Result<(), HookToolError> {
        self.call(Call::ApplicationVersionSet {
            version: version.to_string(),
        })
        .map(drop)
    }

    fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), HookToolError> {
        self.call(Call::JujuLog {
            level: level.as_str().to_string(),
            message: message.to_string(),
        })
        .map(drop)
    }

    fn open_port(&self, port: Port) -> Result<(), HookToolError> {
        self.call(Call::OpenPort { port }).map(drop)
    }

    fn close_port(&self, port: Port) -> Result<(), HookToolError> {
        self.call(Call::ClosePort { port }).map(drop)
    }

    fn opened_ports(&self) -> Result<Vec<Port>, HookToolError> {
        let entries: Vec<String> = self.call_json(Call::OpenedPorts)?;
        entries
            .iter()
            .map(|e| {
                e.parse().map_err(|reason| HookToolError::BadOutput {
                    tool: "opened-ports".into(),
                    reason,
                })
            })
            .collect()
    }

    fn network_get(&self, binding: &str) -> Result<NetworkInfo, HookToolError> {
        let value: Value = self.call_json(Call::NetworkGet {
            binding: binding.to_string(),
            relation: None,
        })?;
        NetworkInfo::from_json(&value).map_err(|reason| HookToolError::BadOutput {
            tool: "network-get".into(),
            reason,
        })
    }

    fn goal_state(&self) -> Result<GoalState, HookToolError> {
        self.call_json(Call::GoalState)
    }

    fn action_get(&self) -> Result<Map<String, Value>, HookToolError> {
        self.call_json(Call::ActionGet { key: None })
    }

    fn action_set(&self, results: &BTreeMap<String, String>) -> Result<(), HookToolError> {
        if results.is_empty() {
            return Ok(());
        }
        self.call(Call::ActionSet {
            pairs: results
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
        .map(drop)
    }

    fn action_fail(&self, message: &str) -> Result<(), HookToolError> {
        self.call(Call::ActionFail {
            message: Some(message.to_string()),
        })
        .map(drop)
    }

    fn action_log(&self, message: &str) -> Result<(), HookToolError> {
        self.call(Call::ActionLog {
            message: message.to_string(),
        })
        .map(drop)
    }

    fn state_get(&self) -> Result<BTreeMap<String, String>, HookToolError> {
        self.call_json(Call::StateGet {
            key: None,
            strict: false,
        })
    }

    fn state_set(&self, data: &BTreeMap<String, String>) -> Result<(), HookToolError> {
        self.call(Call::StateSet { data: data.clone() }).map(drop)
    }
}

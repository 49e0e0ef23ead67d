//! [`HookTools`] backed by the real hook-tool executables Juju puts on `PATH`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::{
    GoalState, HookToolError, HookTools, LogLevel, NetworkInfo, Port, RelationData, RelationId,
    Status,
};

/// Runs Juju's hook tools as child processes with the exact command lines Juju documents.
///
/// The environment is inherited unchanged: the tools need `JUJU_CONTEXT_ID` and
/// `JUJU_AGENT_SOCKET_*` to reach the unit agent.
#[derive(Debug, Clone, Default)]
pub struct ProcessHookTools {
    _private: (),
}

impl ProcessHookTools {
    /// Hook tools found on `PATH`.
    pub fn new() -> Self {
        Self::default()
    }
}

impl HookTools for ProcessHookTools {
    fn config_get(&self) -> Result<Map<String, Value>, HookToolError> {
        todo!()
    }
    fn is_leader(&self) -> Result<bool, HookToolError> {
        todo!()
    }
    fn relation_ids(&self, _endpoint: &str) -> Result<Vec<RelationId>, HookToolError> {
        todo!()
    }
    fn relation_list(&self, _relation: &RelationId) -> Result<Vec<String>, HookToolError> {
        todo!()
    }
    fn relation_remote_app(&self, _relation: &RelationId) -> Result<String, HookToolError> {
        todo!()
    }
    fn relation_get(
        &self,
        _relation: &RelationId,
        _member: &str,
        _app: bool,
    ) -> Result<RelationData, HookToolError> {
        todo!()
    }
    fn relation_set(
        &self,
        _relation: &RelationId,
        _app: bool,
        _data: &RelationData,
    ) -> Result<(), HookToolError> {
        todo!()
    }
    fn status_set(&self, _status: &Status, _application: bool) -> Result<(), HookToolError> {
        todo!()
    }
    fn application_version_set(&self, _version: &str) -> Result<(), HookToolError> {
        todo!()
    }
    fn juju_log(&self, _level: LogLevel, _message: &str) -> Result<(), HookToolError> {
        todo!()
    }
    fn open_port(&self, _port: Port) -> Result<(), HookToolError> {
        todo!()
    }
    fn close_port(&self, _port: Port) -> Result<(), HookToolError> {
        todo!()
    }
    fn opened_ports(&self) -> Result<Vec<Port>, HookToolError> {
        todo!()
    }
    fn network_get(&self, _binding: &str) -> Result<NetworkInfo, HookToolError> {
        todo!()
    }
    fn goal_state(&self) -> Result<GoalState, HookToolError> {
        todo!()
    }
    fn action_get(&self) -> Result<Map<String, Value>, HookToolError> {
        todo!()
    }
    fn action_set(&self, _results: &BTreeMap<String, String>) -> Result<(), HookToolError> {
        todo!()
    }
    fn action_fail(&self, _message: &str) -> Result<(), HookToolError> {
        todo!()
    }
    fn action_log(&self, _message: &str) -> Result<(), HookToolError> {
        todo!()
    }
    fn state_get(&self) -> Result<BTreeMap<String, String>, HookToolError> {
        todo!()
    }
    fn state_set(&self, _data: &BTreeMap<String, String>) -> Result<(), HookToolError> {
        todo!()
    }
}

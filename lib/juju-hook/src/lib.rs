//! Juju hook context for charms written in Rust.
//!
//! Juju runs a charm's `dispatch` executable for every event. This crate turns the process
//! environment Juju sets (`JUJU_DISPATCH_PATH` and the other `JUJU_*` variables) into a typed
//! [`HookContext`], and gives typed access to the hook tools (`config-get`, `relation-get`, ...)
//! through the [`HookTools`] trait. [`ProcessHookTools`] runs the real executables with the exact
//! command lines Juju expects; a test harness implements the same trait in memory.
//! [`CachedHookTools`] wraps any of them with a cache kept in the charm directory between
//! successful hooks, so that a hook asks Juju only for what may have changed.

pub mod cache;
mod config_schema;
mod databag;
mod error;
mod event;
mod process;
mod tools;

pub use cache::{CacheSettings, CachedHookTools, Refresh};
pub use config_schema::{
    check_config_value, effective_config, ConfigOption, ConfigOptions, ConfigValueError,
};
pub use error::HookToolError;
pub use event::{
    Event, HookContext, HookContextError, RelationEvent, RelationEventKind, SecretEventKind,
    StorageEventKind, WorkloadEventKind,
};
pub use process::ProcessHookTools;
pub use tools::{
    merge_relation_set, GoalState, GoalStateEntry, HookTools, LogLevel, NetworkInfo, Port,
    Protocol, RelationData, RelationId, Status, StatusKind,
};

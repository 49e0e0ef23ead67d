//! The fake Juju side of the harness: a model one unit sees ([`ModelState`]), hook tools over
//! it in memory ([`FakeHookTools`]) or as executables (`fake-hook-tool`, via [`StateFile`] and
//! [`install_hook_tools`]), the environment Juju gives each event ([`ModelState::env_for`]),
//! and [`HookRunner`], which runs a compiled charm for an event as Juju does.
//!
//! Both kinds of fake tools apply calls through one implementation ([`apply`]) with Juju's
//! semantics: leader-only application data, buffered writes committed only when the hook
//! exits 0, "relation not found" for broken relations, and per-tool call counts.

mod apply;
mod call;
mod cli;
mod env;
mod fake_tools;
mod file;
mod fixture;
mod index;
mod records;
mod relations;
mod runner;
mod state;
pub mod tool_costs;

pub use apply::apply;
pub use call::{Call, RelRef, ToolFailure};
pub use cli::{run_tool, ToolOutcome, TOOL_NAMES};
pub use fake_tools::FakeHookTools;
pub use file::{hook_command, install_hook_tools, StateFile, STATE_ENV};
pub use records::{
    ActionRun, ConfigOption, Endpoint, EndpointRole, LogLine, Pending, PortChange, Relation,
    StatusChange,
};
pub use runner::{HookOutcome, HookRunner};
pub use state::{ModelError, ModelState};

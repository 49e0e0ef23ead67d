use thiserror::Error;

/// A hook tool failed. The variants are the failures a charm is expected to handle.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum HookToolError {
    /// The relation no longer exists (for example during `-relation-broken`).
    #[error("relation not found: {0}")]
    RelationNotFound(String),
    /// The unit may not do this (non-leader writing app data, reading a databag it may not read).
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// A unit or key that is not there (a departed unit).
    #[error("not found: {0}")]
    NotFound(String),
    /// The tool could not be started at all (not on PATH: not running inside a Juju hook).
    #[error("cannot run hook tool {tool}: {reason}")]
    Spawn { tool: String, reason: String },
    /// The tool's output was not what Juju prints.
    #[error("unexpected output from {tool}: {reason}")]
    BadOutput { tool: String, reason: String },
    /// Any other non-zero exit, with the tool name, exit code and its stderr.
    #[error("{tool} failed (exit {code}): {stderr}")]
    Failed {
        tool: String,
        code: i32,
        stderr: String,
    },
}

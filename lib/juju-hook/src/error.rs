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

impl HookToolError {
    /// Classifies a hook tool's non-zero exit the way `ops` does, from its stderr text.
    ///
    /// `relation not found` wins over the generic `not found`; authorisation failures are
    /// recognised by any of the texts Juju prints for them. The leading `ERROR ` is dropped
    /// from the message kept in the error.
    pub fn from_exit(tool: &str, code: i32, stderr: &str) -> Self {
        let text = stderr.trim();
        let message = text.strip_prefix("ERROR ").unwrap_or(text).to_string();
        let lower = message.to_ascii_lowercase();
        const DENIED: [&str; 4] = [
            "permission denied",
            "not the leader",
            "cannot write relation settings",
            "access denied",
        ];
        if lower.contains("relation not found") {
            HookToolError::RelationNotFound(message)
        } else if DENIED.iter().any(|d| lower.contains(d)) {
            HookToolError::PermissionDenied(message)
        } else if lower.contains("not found") {
            HookToolError::NotFound(message)
        } else {
            HookToolError::Failed {
                tool: tool.to_string(),
                code,
                stderr: text.to_string(),
            }
        }
    }
}

//! Pebble's response envelope and the objects its API returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::layer::{CheckLevel, Startup};

/// The envelope around every JSON response (`sync`, `async` or `error`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct Envelope {
    #[serde(rename = "type")]
    pub kind: String,
    pub status_code: u16,
    #[serde(default)]
    pub change: Option<String>,
    #[serde(default)]
    pub result: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct ErrorResult {
    #[serde(default)]
    message: String,
    #[serde(default)]
    kind: Option<String>,
}

/// What a successful envelope carried.
#[derive(Debug)]
pub(crate) enum Answer {
    /// `sync`: the result value.
    Sync(serde_json::Value),
    /// `async`: the id of the change that was started, and the (usually null) result.
    Async {
        change: String,
        result: serde_json::Value,
    },
}

impl Envelope {
    /// Decodes a JSON body; `http_status` is used when the body is not an envelope.
    pub(crate) fn decode(http_status: u16, body: &[u8]) -> Result<Answer, Error> {
        let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
            Error::Protocol(format!(
                "HTTP {http_status}: body is not a Pebble envelope ({e}): {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ))
        })?;
        match envelope.kind.as_str() {
            "sync" => Ok(Answer::Sync(envelope.result)),
            "async" => Ok(Answer::Async {
                change: envelope
                    .change
                    .ok_or_else(|| Error::Protocol("async response without a change id".into()))?,
                result: envelope.result,
            }),
            "error" => {
                let err: ErrorResult =
                    serde_json::from_value(envelope.result).unwrap_or(ErrorResult {
                        message: String::new(),
                        kind: None,
                    });
                Err(Error::Api {
                    status_code: envelope.status_code,
                    kind: err.kind.filter(|k| !k.is_empty()),
                    message: err.message,
                })
            }
            other => Err(Error::Protocol(format!("unknown response type {other:?}"))),
        }
    }
}

/// Decodes a `result` into a typed value.
pub(crate) fn from_result<T: serde::de::DeserializeOwned>(
    what: &str,
    value: serde_json::Value,
) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|e| Error::Protocol(format!("{what}: {e}")))
}

/// `GET /v1/system-info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SystemInfo {
    /// Pebble version, e.g. `v1.32.1`.
    pub version: String,
    /// Changes on every boot of the container.
    pub boot_id: String,
}

/// A change (a group of tasks) as returned by `/v1/changes/{id}` and `/wait`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Change {
    /// Change id.
    pub id: String,
    /// `replan`, `start`, `stop`, `restart`, `exec`, ...
    pub kind: String,
    /// Human summary.
    #[serde(default)]
    pub summary: String,
    /// `Do`, `Doing`, `Done`, `Error`, ... (capitalised).
    pub status: String,
    /// True once the change finished, successfully or not.
    #[serde(default)]
    pub ready: bool,
    /// Error text when the change failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub err: Option<String>,
    /// Tasks in order.
    #[serde(default)]
    pub tasks: Vec<Task>,
    /// RFC 3339 time the change was created.
    #[serde(default)]
    pub spawn_time: String,
    /// RFC 3339 time it became ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_time: Option<String>,
}

impl Change {
    /// Finished without error.
    pub fn is_success(&self) -> bool {
        self.ready && self.err.as_deref().unwrap_or("").is_empty()
    }
}

/// One task of a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Task {
    /// Task id.
    pub id: String,
    /// `start`, `stop`, `exec`, ...
    pub kind: String,
    /// Human summary.
    #[serde(default)]
    pub summary: String,
    /// Status like the change's.
    pub status: String,
    /// Log lines.
    #[serde(default)]
    pub log: Vec<String>,
    /// Task-specific data (`exit-code` for exec).
    #[serde(default)]
    pub data: BTreeMap<String, serde_json::Value>,
}

/// Current state of a service (`GET /v1/services`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceStatus {
    /// Starting or running.
    Active,
    /// Never started or stopped.
    Inactive,
    /// Waiting to be restarted automatically.
    Backoff,
    /// Exited and not being restarted.
    Error,
    /// A state this client does not know.
    #[serde(other)]
    Unknown,
}

/// One entry of `GET /v1/services`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ServiceInfo {
    /// Service name.
    pub name: String,
    /// `enabled` or `disabled`.
    pub startup: Startup,
    /// Current state.
    pub current: ServiceStatus,
    /// RFC 3339 time of the last state change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_since: Option<String>,
}

impl ServiceInfo {
    /// Starting or running.
    pub fn is_running(&self) -> bool {
        self.current == ServiceStatus::Active
    }
}

/// State of a health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Passing (or not yet failed `threshold` times).
    Up,
    /// Failed `threshold` times in a row.
    Down,
    /// Not running.
    Inactive,
    /// A state this client does not know.
    #[serde(other)]
    Unknown,
}

/// One entry of `GET /v1/checks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CheckInfo {
    /// Check name.
    pub name: String,
    /// Level, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<CheckLevel>,
    /// `enabled` or `disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<Startup>,
    /// Current state.
    pub status: CheckStatus,
    /// Successes so far.
    #[serde(default)]
    pub successes: u64,
    /// Failures in a row.
    #[serde(default)]
    pub failures: u64,
    /// Failures in a row before the check is down.
    #[serde(default)]
    pub threshold: u32,
    /// The change running the check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_id: Option<String>,
    /// The change that ran it before the last perform/recover switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_change_id: Option<String>,
}

/// Kind of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileType {
    /// Regular file.
    File,
    /// Directory.
    Directory,
    /// Symbolic link.
    Symlink,
    /// Unix socket.
    Socket,
    /// FIFO.
    NamedPipe,
    /// Device node.
    Device,
    /// Anything else.
    #[serde(other)]
    Unknown,
}

/// One entry of `GET /v1/files?action=list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FileInfo {
    /// Absolute path.
    pub path: String,
    /// Base name.
    pub name: String,
    /// Entry type.
    #[serde(rename = "type")]
    pub file_type: FileType,
    /// Size in bytes (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Octal permission string such as `644`.
    pub permissions: String,
    /// RFC 3339 modification time.
    pub last_modified: String,
    /// Owner uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<u32>,
    /// Owner name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Group gid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<u32>,
    /// Group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

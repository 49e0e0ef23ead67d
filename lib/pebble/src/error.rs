//! The client's error type.

use std::path::PathBuf;

/// Everything a Pebble API call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The socket is missing or refuses connections: the container is not ready yet (or is
    /// restarting). Callers usually wait for the next pebble-ready event.
    #[error("cannot connect to Pebble at {}: {reason} (container not ready yet)", socket.display())]
    Connect {
        /// The socket path.
        socket: PathBuf,
        /// What the connection attempt reported.
        reason: String,
    },
    /// Pebble answered with an error envelope (any non-2xx status).
    #[error("Pebble API error {status_code}: {message}")]
    Api {
        /// HTTP status code.
        status_code: u16,
        /// Pebble's error kind (`not-found`, `permission-denied`, ...), when given.
        kind: Option<String>,
        /// Pebble's message.
        message: String,
    },
    /// A change finished with an error.
    #[error("change {id} ({kind}) failed: {err}")]
    ChangeFailed {
        /// Change id.
        id: String,
        /// Change kind (`replan`, `start`, `exec`, ...).
        kind: String,
        /// Pebble's error text for the change.
        err: String,
    },
    /// A request or a wait did not finish in time.
    #[error("timed out: {what}")]
    Timeout {
        /// What was being waited for.
        what: String,
    },
    /// A per-file error inside a successful files response.
    #[error("file error on {path} ({kind}): {message}")]
    File {
        /// The path concerned.
        path: String,
        /// Pebble's error kind (`permission-denied`, `generic-file-error`, ...).
        kind: String,
        /// Pebble's message.
        message: String,
    },
    /// The path does not exist in the container.
    #[error("no such file or directory in the container: {path}")]
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// Pebble's answer did not have the expected shape.
    #[error("unexpected response from Pebble: {0}")]
    Protocol(String),
}

impl Error {
    /// True when Pebble could not be reached at all (socket missing or refused).
    pub fn is_connect(&self) -> bool {
        matches!(self, Error::Connect { .. })
    }

    /// True for a missing path ([`Error::NotFound`] or an API error of kind `not-found`).
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::NotFound { .. } => true,
            Error::Api { kind, .. } => kind.as_deref() == Some("not-found"),
            Error::File { kind, .. } => kind == "not-found",
            _ => false,
        }
    }
}

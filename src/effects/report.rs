//! What an apply did, and why it stopped: shared by the modules that apply (apply, promtool,
//! services, HTTP reload) and read by the reconcile for the status.

use thiserror::Error;

/// What one apply did, for statuses, logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Files pushed live.
    pub pushed: Vec<String>,
    /// Stale files removed.
    pub removed: Vec<String>,
    /// Bytes pushed (live, candidate and the manifest).
    pub bytes_pushed: usize,
    /// The layer was (re)added.
    pub layer_changed: bool,
    /// Services (re)started by replan or an explicit restart.
    pub restarted: Vec<String>,
    /// Services stopped.
    pub stopped: Vec<String>,
    /// Prometheus reloaded its configuration.
    pub reloaded: bool,
}

impl ApplyReport {
    /// True when nothing at all was changed.
    pub fn is_noop(&self) -> bool {
        self.pushed.is_empty()
            && self.removed.is_empty()
            && !self.layer_changed
            && self.restarted.is_empty()
            && self.stopped.is_empty()
            && !self.reloaded
    }
}

/// Why an apply stopped. Nothing is recorded as applied, so the next event retries.
#[derive(Debug, Error)]
pub enum ApplyError {
    /// Pebble failed (unreachable, API error, failed change).
    #[error("{0}")]
    Pebble(#[from] pebble::Error),
    /// promtool rejected the rendered configuration; Prometheus keeps the old one.
    #[error("generated configuration rejected by promtool: {0}")]
    InvalidConfig(String),
    /// `promtool check rules` rejected these rule files (live path, promtool's reason).
    #[error("rule files rejected by promtool: {}", .0.iter().map(|(p, m)| format!("{p}: {m}")).collect::<Vec<_>>().join("; "))]
    InvalidRules(Vec<(String, String)>),
    /// promtool could not be run.
    #[error("cannot validate configuration: {0}")]
    Validation(String),
    /// Prometheus did not accept `POST /-/reload`.
    #[error("Prometheus reload failed: {0}")]
    ReloadFailed(String),
    /// Prometheus did not answer the reload (still starting, e.g. replaying its WAL).
    #[error("Prometheus not ready for reload: {0}")]
    NotReady(String),
    /// A local file to push could not be read.
    #[error("{0}")]
    LocalFile(String),
    /// What was pushed could not be recorded in the charm container.
    #[error("cannot record the relation target files in the charm container: {0}")]
    Record(String),
}

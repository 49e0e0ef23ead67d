//! What the workload container should look like: files (rendered or local), the Pebble layer,
//! and the services and checks to stop. Computed by [`crate::core::desired`], applied by
//! [`crate::effects::apply`].

use std::path::PathBuf;

use bytes::Bytes;
use pebble::Layer;
use sha2::{Digest, Sha256};

/// What a desired file is for, which decides what its change triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// prometheus.yml or a rule file: validated with promtool, applied by reload.
    PrometheusConfig,
    /// One relation's job file, listed in prometheus.yml's `scrape_config_files`: validated
    /// and applied as the configuration, recorded apart (a large model has thousands).
    RelationJobs,
    /// The poller's executable: a change restarts the poller service.
    PollerBinary,
    /// A file the poller reads once at start (its URL file). Triggers nothing itself: the
    /// layer carries its hash, so a change restarts the poller through replan.
    PollerInput,
    /// A relation job's targets, served over HTTP: Prometheus fetches them on its next
    /// refresh, so a change triggers nothing (no promtool, no reload).
    ScrapeTargets,
    /// Certificate, key, CA or web configuration: Prometheus reads them on every TLS handshake,
    /// so a change triggers nothing (the `--web.config.file` flag restarts it once, through
    /// the layer).
    Tls,
}

/// A file of the charm container (the charm's own binary), identified without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// Path in the charm container.
    pub path: PathBuf,
    /// Identity that changes when the file does (size and modification time).
    pub identity: String,
}

/// Where a desired file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileContent {
    /// Rendered in memory; shared, so pushing it never copies it.
    Bytes(Bytes),
    /// A file of the charm container (the charm's own binary), identified without reading it.
    Local {
        /// Path in the charm container.
        path: PathBuf,
        /// Identity that changes when the file does (size and modification time).
        identity: String,
    },
}

/// One file the workload should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredFile {
    /// Absolute path in the workload container.
    pub path: String,
    /// Its content.
    pub content: FileContent,
    /// Unix permissions.
    pub permissions: u32,
    /// What a change of it triggers.
    pub role: FileRole,
}

impl DesiredFile {
    /// A relation's job file.
    pub fn relation_jobs(path: impl Into<String>, content: impl Into<Bytes>) -> Self {
        Self {
            role: FileRole::RelationJobs,
            ..Self::config(path, content)
        }
    }

    /// The last component of its path.
    pub fn file_name(&self) -> &str {
        self.path
            .rsplit_once('/')
            .map_or(self.path.as_str(), |(_, name)| name)
    }

    /// Whether Prometheus reads its configuration from this file (promtool checks it, a
    /// change is a reload).
    pub fn is_configuration(&self) -> bool {
        matches!(
            self.role,
            FileRole::PrometheusConfig | FileRole::RelationJobs
        )
    }

    /// A rendered Prometheus configuration or rule file.
    pub fn config(path: impl Into<String>, content: impl Into<Bytes>) -> Self {
        Self {
            path: path.into(),
            content: FileContent::Bytes(content.into()),
            permissions: 0o644,
            role: FileRole::PrometheusConfig,
        }
    }

    /// What the manifest records for this file: the SHA-256 of rendered bytes, the size and
    /// modification time of a local file.
    pub fn identity(&self) -> String {
        match &self.content {
            FileContent::Bytes(bytes) => content_identity(bytes),
            FileContent::Local { identity, .. } => identity.clone(),
        }
    }
}

/// The identity of rendered bytes (hex SHA-256), as the manifest records it.
pub fn content_identity(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Everything the workload should look like.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredWorkload {
    /// Files to have, by absolute path.
    pub files: Vec<DesiredFile>,
    /// The charm's Pebble layer.
    pub layer: Layer,
    /// Services the layer keeps only as disabled definitions: stop them if running.
    pub stopped_services: Vec<String>,
    /// Checks the layer keeps only as disabled definitions: stop them if running (Pebble
    /// keeps running a check whose `startup` becomes `disabled` until it is stopped).
    pub stopped_checks: Vec<String>,
    /// The Prometheus version the files were rendered for.
    pub prometheus_version: Option<String>,
    /// How to reach Prometheus' web API when it serves HTTPS.
    pub web_tls: Option<WebTls>,
    /// How long a reload of these files may take (see
    /// [`crate::core::prometheus_config::reload_timeout`]).
    pub reload_timeout: std::time::Duration,
}

/// Prometheus serves HTTPS: the CA its certificate comes from and the name it certifies.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WebTls {
    /// The CA (PEM) to trust.
    pub ca: String,
    /// The name the certificate is for (the unit's FQDN).
    pub server_name: String,
}

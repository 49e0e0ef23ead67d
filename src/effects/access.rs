//! How this process reaches the workload and its own files: Pebble's socket, Prometheus' and
//! the poller's URLs, the charm binary pushed for the poller, where the pod's FQDN is read.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::core::desired_workload::{DesiredFile, FileContent, LocalFile};
use crate::core::workload::{CONTAINER, POLLER_LISTEN, PROMETHEUS_PORT};
use crate::effects::fqdn::FqdnSource;
use crate::effects::report::ApplyError;

/// How this process reaches the workload. Defaults are what Juju sets up in a sidecar pod;
/// each can be overridden by an environment variable (the harness and the demo do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadAccess {
    /// Pebble's Unix socket (`CHARM_PEBBLE_SOCKET`).
    pub pebble_socket: PathBuf,
    /// Base URL of Prometheus' web API (`CHARM_PROMETHEUS_URL`).
    pub prometheus_url: String,
    /// The poller's HTTP API, reachable over the pod's shared network (`CHARM_POLLER_URL`).
    pub poller_url: String,
    /// Where Prometheus reaches the relation-targets server (`CHARM_TARGETS_URL`): the base
    /// of the relation jobs' `http_sd` URLs in prometheus.yml. Constant in a pod; the demo's
    /// deployments share one host and each gets its own port.
    pub targets_url: String,
    /// This binary, pushed into the workload for the poller (`CHARM_POLLER_BINARY`).
    pub charm_binary: Option<PathBuf>,
    /// This unit's FQDN when given (`CHARM_UNIT_FQDN`; `render` uses the snapshot's); else it
    /// is resolved from [`Self::fqdn_source`].
    pub unit_fqdn: Option<String>,
    /// Where the pod's host name and hosts file are read to resolve its FQDN.
    pub fqdn_source: FqdnSource,
    /// The database volume's capacity when given (`CHARM_DATABASE_CAPACITY`, e.g. `1Gi`;
    /// `render` uses the snapshot's `pvc_capacity`): then a percentage `maximum_retention_size`
    /// needs no Kubernetes API.
    pub database_capacity: Option<String>,
}

impl WorkloadAccess {
    /// From the environment, with the in-pod defaults.
    pub fn from_env() -> Self {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// From any source of variables.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let non_empty = |k: &str| var(k).filter(|v| !v.is_empty());
        Self {
            pebble_socket: non_empty("CHARM_PEBBLE_SOCKET")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(format!("/charm/containers/{CONTAINER}/pebble.socket"))
                }),
            prometheus_url: non_empty("CHARM_PROMETHEUS_URL")
                .unwrap_or_else(|| format!("http://localhost:{PROMETHEUS_PORT}")),
            poller_url: non_empty("CHARM_POLLER_URL")
                .unwrap_or_else(|| format!("http://{POLLER_LISTEN}")),
            targets_url: non_empty("CHARM_TARGETS_URL")
                .unwrap_or_else(crate::core::prometheus_config::relation_targets::default_base_url),
            charm_binary: non_empty("CHARM_POLLER_BINARY")
                .map(PathBuf::from)
                .or_else(|| std::env::current_exe().ok()),
            unit_fqdn: non_empty("CHARM_UNIT_FQDN"),
            fqdn_source: FqdnSource::default(),
            database_capacity: non_empty("CHARM_DATABASE_CAPACITY"),
        }
    }
}

impl WorkloadAccess {
    /// The charm binary to push for the poller, with its identity; `None` when there is none
    /// or it cannot be read.
    pub fn charm_binary_file(&self) -> Option<LocalFile> {
        let path = self.charm_binary.as_deref()?;
        Some(LocalFile {
            path: path.to_path_buf(),
            identity: local_file_identity(path)?,
        })
    }
}

/// A local file's identity by size and modification time, so that a hook does not hash
/// megabytes to find the charm's binary unchanged; `None` when it cannot be read.
pub fn local_file_identity(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    Some(format!("size={} mtime={mtime}", meta.len()))
}

/// The bytes of a desired file (a local one is read now).
pub fn file_bytes(file: &DesiredFile) -> Result<Bytes, ApplyError> {
    match &file.content {
        FileContent::Bytes(bytes) => Ok(bytes.clone()),
        FileContent::Local { path, .. } => std::fs::read(path)
            .map(Bytes::from)
            .map_err(|e| local_file_error(path, &e)),
    }
}

/// A local file opened to be streamed, and its length.
pub fn open_local(path: &Path) -> Result<(std::fs::File, u64), ApplyError> {
    let file = std::fs::File::open(path).map_err(|e| local_file_error(path, &e))?;
    let len = file
        .metadata()
        .map_err(|e| local_file_error(path, &e))?
        .len();
    Ok((file, len))
}

fn local_file_error(path: &Path, e: &std::io::Error) -> ApplyError {
    ApplyError::LocalFile(format!("cannot read {}: {e}", path.display()))
}

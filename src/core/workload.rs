//! Where things live in the Prometheus workload container, and how the charm reaches it.

use std::path::PathBuf;

/// The workload container's name in metadata.yaml.
pub const CONTAINER: &str = "prometheus";
/// Label of the Pebble layer the charm adds.
pub const LAYER_LABEL: &str = "prometheus-rs-k8s";
/// Pebble service running Prometheus.
pub const PROMETHEUS_SERVICE: &str = "prometheus";
/// Pebble service running the inventory poller.
pub const INVENTORY_SERVICE: &str = "inventory-sd";

/// Prometheus' configuration directory; paths inside prometheus.yml are relative to it.
pub const CONFIG_DIR: &str = "/etc/prometheus";
/// The main configuration file.
pub const CONFIG_FILE: &str = "/etc/prometheus/prometheus.yml";
/// Rule files written from relation data.
pub const RULES_DIR: &str = "/etc/prometheus/rules";
/// Directory of file_sd target files written by the inventory poller.
pub const FILE_SD_DIR: &str = "/etc/prometheus/file_sd";
/// The inventory poller's target file.
pub const INVENTORY_FILE: &str = "/etc/prometheus/file_sd/inventory.json";
/// Where a candidate configuration is staged and validated before it goes live: outside the
/// directory Prometheus reads, with the same layout (relative paths resolve the same way).
pub const CANDIDATE_DIR: &str = "/etc/prometheus-rs-k8s/candidate";
/// Where earlier versions of the charm staged it (inside Prometheus' directory): removed.
pub const LEGACY_CANDIDATE_DIR: &str = "/etc/prometheus/.candidate";
/// What the charm last applied successfully (file hashes, detected version).
pub const MANIFEST_FILE: &str = "/etc/prometheus/.charm-applied.json";
/// The charm's own binary, pushed into the workload to run the poller.
pub const POLLER_BINARY: &str = "/opt/prometheus-rs-k8s/prometheus-rs-k8s";
/// Prometheus binary in the workload image.
pub const PROMETHEUS_BINARY: &str = "/bin/prometheus";
/// promtool in the workload image.
pub const PROMTOOL_BINARY: &str = "/usr/bin/promtool";
/// Where the poller serves metrics, health and `POST /refresh`.
pub const POLLER_LISTEN: &str = "127.0.0.1:9099";
/// Prometheus web port.
pub const PROMETHEUS_PORT: u16 = 9090;

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
    /// This binary, pushed into the workload for the poller (`CHARM_POLLER_BINARY`).
    pub charm_binary: Option<PathBuf>,
    /// This unit's FQDN when given (`CHARM_UNIT_FQDN`; `render` uses the snapshot's); else it
    /// is resolved from [`Self::fqdn_source`].
    pub unit_fqdn: Option<String>,
    /// Where the pod's host name and hosts file are read to resolve its FQDN.
    pub fqdn_source: crate::effects::fqdn::FqdnSource,
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
            charm_binary: non_empty("CHARM_POLLER_BINARY")
                .map(PathBuf::from)
                .or_else(|| std::env::current_exe().ok()),
            unit_fqdn: non_empty("CHARM_UNIT_FQDN"),
            fqdn_source: crate::effects::fqdn::FqdnSource::default(),
            database_capacity: non_empty("CHARM_DATABASE_CAPACITY"),
        }
    }
}

//! Where things live in the Prometheus workload container: names, paths and ports.

/// The workload container's name in metadata.yaml.
pub const CONTAINER: &str = "prometheus";
/// The charm's name (metadata.yaml), as other charms see it in topology labels.
pub const CHARM_NAME: &str = "prometheus-rs-k8s";
/// Label of the Pebble layer the charm adds (and combines).
pub const LAYER_LABEL: &str = "prometheus-rs-k8s";
/// Pebble service running Prometheus.
pub const PROMETHEUS_SERVICE: &str = "prometheus";
/// Pebble service running the inventory poller.
pub const INVENTORY_SERVICE: &str = "inventory-sd";
/// Pebble service serving the relation jobs' targets to Prometheus' `http_sd`.
pub const TARGETS_SERVICE: &str = "relation-targets";
/// Scrape job of Prometheus' self-scrape.
pub const SELF_JOB_NAME: &str = "prometheus";
/// Scrape job of the inventory poller's own metrics.
pub const POLLER_JOB_NAME: &str = "inventory-sd";

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
/// Where one relation's job file is staged and validated alone (see
/// `crate::hook::targets_shortcut`): apart from [`CANDIDATE_DIR`], which may hold thousands
/// of staged files that would be removed with it.
pub const JOBS_CANDIDATE_DIR: &str = "/etc/prometheus-rs-k8s/candidate-jobs";
/// Where earlier versions of the charm staged it (inside Prometheus' directory): removed.
pub const LEGACY_CANDIDATE_DIR: &str = "/etc/prometheus/.candidate";
/// What the charm last applied successfully (file hashes, detected version).
pub const MANIFEST_FILE: &str = "/etc/prometheus/.charm-applied.json";
/// The charm's own binary, pushed into the workload to run the poller.
pub const POLLER_BINARY: &str = "/opt/prometheus-rs-k8s/prometheus-rs-k8s";
/// Where the TSDB lives: the `database` storage's mount (metadata.yaml).
pub const TSDB_DIR: &str = "/var/lib/prometheus";
/// Prometheus binary in the workload image.
pub const PROMETHEUS_BINARY: &str = "/bin/prometheus";
/// promtool in the workload image.
pub const PROMTOOL_BINARY: &str = "/usr/bin/promtool";
/// Where the relation jobs' target files live, one `<id>.json` per job: outside Prometheus'
/// directory, since they are served over HTTP and a change must not count as a config change.
pub const TARGETS_DIR: &str = "/etc/prometheus-rs-k8s/targets";
/// Where [`TARGETS_SERVICE`] serves `GET /targets/<id>` (loopback: only Prometheus asks).
pub const TARGETS_LISTEN: &str = "127.0.0.1:9098";
/// Where the poller serves metrics, health and `POST /refresh`.
pub const POLLER_LISTEN: &str = "127.0.0.1:9099";
/// Prometheus web port.
pub const PROMETHEUS_PORT: u16 = 9090;

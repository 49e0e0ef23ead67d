//! Where things live in the Prometheus workload container: names, paths and ports.

use crate::core::version::PrometheusVersion;

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
/// The name a relation's job file is staged under in [`JOBS_CANDIDATE_DIR`], whichever the
/// relation: each check overwrites the files of the one before (the candidate configuration
/// and this), so the directory never needs emptying first (a Pebble request less per join).
pub const JOBS_CANDIDATE_FILE: &str = "jobs.yml";
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

/// The environment promtool runs with, for the workload's Prometheus `version` (`X.Y.Z`, when
/// known): Go's garbage collector only once promtool's heap nears 64 MiB. A check is
/// short-lived, and with Go's default collector the start-up alone (package initialisation
/// allocates several MB) ran collections: promtool 3.14 checking a small configuration took
/// 9.5 ms instead of 12.2 (median of 21), and a 2000x5 one 0.33 s instead of 0.35 at about the
/// same peak RSS (89 MB instead of 84). `GOMEMLIMIT` needs Go 1.19, which built Prometheus from
/// 2.40 on; for an older or unknown version promtool runs as it comes.
pub fn promtool_environment(version: Option<&str>) -> &'static [(&'static str, &'static str)] {
    let recent = version
        .and_then(|v| v.parse::<PrometheusVersion>().ok())
        .is_some_and(|v| v >= PrometheusVersion::new(2, 40, 0));
    if recent {
        &[("GOGC", "off"), ("GOMEMLIMIT", "64MiB")]
    } else {
        &[]
    }
}

/// Where the relation jobs' target files live, one `<id>.json` per job: outside Prometheus'
/// directory, since they are served over HTTP and a change must not count as a config change.
pub const TARGETS_DIR: &str = "/etc/prometheus-rs-k8s/targets";
/// Where [`TARGETS_SERVICE`] serves `GET /targets/<id>` (loopback: only Prometheus asks).
pub const TARGETS_LISTEN: &str = "127.0.0.1:9098";
/// Where the poller serves metrics, health and `POST /refresh`.
pub const POLLER_LISTEN: &str = "127.0.0.1:9099";
/// Prometheus web port.
pub const PROMETHEUS_PORT: u16 = 9090;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promtool_holds_its_collector_back_from_prometheus_2_40_on() {
        for version in ["2.40.0", "2.42.0", "3.0.0", "3.14.0"] {
            assert_eq!(
                promtool_environment(Some(version)),
                &[("GOGC", "off"), ("GOMEMLIMIT", "64MiB")],
                "{version}"
            );
        }
        for version in [Some("2.39.9"), Some("1.8.2"), Some("not a version"), None] {
            assert!(promtool_environment(version).is_empty(), "{version:?}");
        }
    }
}

//! The scrape jobs the charm defines itself: Prometheus' self-scrape, the inventory job and the
//! inventory poller's own metrics.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{
    Topology, FILE_SD_GLOB, FILE_SD_REFRESH_INTERVAL, INVENTORY_TARGET_LIMIT, POLLER_JOB_NAME,
    SELF_JOB_NAME,
};

use crate::core::workload::{CHARM_NAME, POLLER_LISTEN};

/// One scrape job as the charm writes it (relation jobs are passed as plain maps instead).
#[derive(Debug, Clone, Serialize)]
pub struct OwnJob {
    pub job_name: String,
    pub metrics_path: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub static_configs: Vec<StaticConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub file_sd_configs: Vec<FileSdConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relabel_configs: Vec<RelabelConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_limit: Option<u64>,
}

/// `static_configs` entry.
#[derive(Debug, Clone, Serialize)]
pub struct StaticConfig {
    pub targets: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// `file_sd_configs` entry.
#[derive(Debug, Clone, Serialize)]
pub struct FileSdConfig {
    pub files: Vec<String>,
    pub refresh_interval: String,
}

/// `relabel_configs` entry (only the fields used here).
#[derive(Debug, Clone, Serialize)]
pub struct RelabelConfig {
    pub source_labels: Vec<String>,
    pub separator: String,
    pub target_label: String,
    pub regex: String,
}

/// Juju topology labels for a target of this unit.
fn topology_labels(t: &Topology) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("juju_model".to_owned(), t.model.clone()),
        ("juju_model_uuid".to_owned(), t.model_uuid.clone()),
        ("juju_application".to_owned(), t.application.clone()),
        ("juju_unit".to_owned(), t.unit.clone()),
        ("juju_charm".to_owned(), CHARM_NAME.to_owned()),
    ])
}

/// `instance` = `<model>_<uuid>_<app>_<unit>`, as prometheus-k8s sets it: stable over pod
/// re-creation, and the same for the self-scrape and the poller of one unit.
fn instance_from_topology() -> RelabelConfig {
    RelabelConfig {
        source_labels: [
            "juju_model",
            "juju_model_uuid",
            "juju_application",
            "juju_unit",
        ]
        .map(String::from)
        .to_vec(),
        separator: "_".into(),
        target_label: "instance".into(),
        regex: "(.*)".into(),
    }
}

/// A job scraping a process of this unit, labelled with the unit's topology.
fn local_job(name: &str, target: &str, topology: &Topology) -> OwnJob {
    OwnJob {
        job_name: name.to_owned(),
        metrics_path: "/metrics".into(),
        static_configs: vec![StaticConfig {
            targets: vec![target.to_owned()],
            labels: topology_labels(topology),
        }],
        file_sd_configs: Vec::new(),
        relabel_configs: vec![instance_from_topology()],
        target_limit: None,
    }
}

/// Prometheus scraping itself at `target`, this unit's address (as prometheus-k8s does), so
/// federated or remote-written series of several units keep distinct `__address__`es. Uses
/// the global interval and timeout (no per-job override).
pub fn self_job(target: &str, topology: &Topology) -> OwnJob {
    local_job(SELF_JOB_NAME, target, topology)
}

/// The inventory poller's own metrics (poll success, latency, target count).
pub fn poller_job(topology: &Topology) -> OwnJob {
    local_job(POLLER_JOB_NAME, POLLER_LISTEN, topology)
}

/// Hosts listed by the inventory, read from the file_sd files the poller writes.
pub fn inventory_job(job_name: &str, metrics_path: &str) -> OwnJob {
    OwnJob {
        job_name: job_name.to_owned(),
        metrics_path: metrics_path.to_owned(),
        static_configs: Vec::new(),
        file_sd_configs: vec![FileSdConfig {
            files: vec![FILE_SD_GLOB.to_owned()],
            refresh_interval: FILE_SD_REFRESH_INTERVAL.to_owned(),
        }],
        relabel_configs: Vec::new(),
        target_limit: Some(INVENTORY_TARGET_LIMIT),
    }
}

//! Relation data contracts of the observability charms, as pure functions over databags.
//!
//! Nothing here performs I/O or talks to Juju: the charm reads databags through the hook tools,
//! builds [`RelationView`]s and calls these functions; what they return is either Prometheus
//! configuration fragments (scrape jobs, rule files, alertmanager entries, remote-write entries)
//! or the keys the charm should write back into its own databags.
//!
//! Modules, one contract each:
//! - [`scrape`]: `prometheus_scrape` consumer (`metrics-endpoint`): scrape jobs, visible errors,
//!   explanations, and the `event` feedback key.
//! - [`alert_rules`]: `alert_rules` of `prometheus_scrape` / `prometheus_remote_write` peers →
//!   rule files.
//! - [`grafana_source`]: `grafana_datasource` provider (`grafana-source`).
//! - [`alertmanager`]: `alertmanager_dispatch` consumer (`alertmanager`).
//! - [`self_metrics`]: `prometheus_scrape` provider (`self-metrics-endpoint`).
//! - [`remote_write`]: `prometheus_remote_write` consumer and provider.
//! - [`ingress_per_unit`]: `ingress_per_unit` requirer (`ingress`).
//! - [`catalogue`]: `catalogue` requirer (`catalogue`).
//! - [`prometheus_api`]: `prometheus_api` provider (`prometheus-api`).
//! - [`datasource_exchange`]: `grafana_datasource_exchange` provider (`send-datasource`).
//! - [`grafana_dashboard`]: `grafana_dashboard` provider (`grafana-dashboard`).
//! - [`loki_push_api`]: `loki_push_api` requirer (`logging`), Pebble log forwarding.
//! - [`tracing_endpoint`]: `tracing` requirer (`workload-tracing`, `charm-tracing`).
//! - [`tls_certificates`]: `tls-certificates` v4 requirer (`certificates`): key, CSR, issued
//!   certificate.
//! - [`certificate_transfer`]: `certificate_transfer` requirer (`receive-ca-cert`): CAs to
//!   trust.

pub mod alert_rules;
pub mod alertmanager;
pub mod catalogue;
pub mod certificate_transfer;
pub mod databag;
pub mod datasource_exchange;
pub mod grafana_dashboard;
pub mod grafana_source;
mod httpurl;
pub mod ingress_per_unit;
pub mod loki_push_api;
mod ordered;
pub mod parallel;
pub mod prometheus_api;
mod promql;
pub mod remote_write;
pub mod scrape;
pub mod self_metrics;
pub mod tls_certificates;
pub mod topology;
pub mod tracing_endpoint;
mod validate;

pub use scrape::{scrape_jobs, AppError, Explanation, ScrapeJob, ScrapeOutcome};

/// A relation databag: key → string value (Juju's, from the hook tools).
pub use juju_hook::RelationData as Databag;

/// One relation as seen by this unit: the remote application's databag and the databags of the
/// remote units currently in the relation (departed units are simply absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationView<'a> {
    /// Endpoint (relation) name from metadata.yaml, e.g. `metrics-endpoint`.
    pub endpoint: &'a str,
    /// Relation id number.
    pub id: u32,
    /// Remote application name.
    pub app: &'a str,
    /// Remote application databag.
    pub app_data: &'a Databag,
    /// Remote units: (Juju unit name, unit databag).
    pub units: Vec<(&'a str, &'a Databag)>,
}

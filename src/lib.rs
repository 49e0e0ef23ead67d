//! prometheus-rs-k8s: a Juju Kubernetes sidecar charm for Prometheus.
//!
//! The library holds the charm's pure core: reading and validating config ([`config`]),
//! rendering prometheus.yml ([`prometheus_config`]) and the Pebble layer ([`layer`]) from it and
//! the model snapshot ([`model`]), for the Prometheus version detected ([`version`]).

pub mod actions;
pub mod apply;
pub mod charm_tracing;
pub mod config;
pub mod databag_cache;
pub mod desired;
pub mod dispatch;
pub mod event_policy;
pub mod fqdn;
pub mod grafana_dashboard;
pub mod k8s;
pub mod layer;
pub mod log_forwarding;
pub mod model;
pub mod model_reader;
pub mod prometheus_config;
pub mod reconcile;
pub mod render_cmd;
pub mod sharding;
pub mod unchanged_inputs;
pub mod version;
pub mod workload;
pub mod workload_tracing;

pub use config::{CharmConfig, ConfigError, ConfigErrors, InventoryConfig};
pub use layer::{build_layer, InventoryService};
pub use prometheus_config::{render, ConfigInput, RenderedConfig, Topology};
pub use version::PrometheusVersion;

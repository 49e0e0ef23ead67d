//! prometheus-rs-k8s: a Juju Kubernetes sidecar charm for Prometheus.
//!
//! The library holds the charm's pure core: reading and validating config ([`config`]),
//! rendering prometheus.yml ([`prometheus_config`]) and the Pebble layer ([`layer`]) from it and
//! the model snapshot ([`model`]), for the Prometheus version detected ([`version`]).

pub mod config;
pub mod layer;
pub mod model;
pub mod prometheus_config;
pub mod version;

pub use config::{CharmConfig, ConfigError, ConfigErrors, InventoryConfig};
pub use layer::{build_layer, InventoryService};
pub use prometheus_config::{render, ConfigInput, RenderedConfig, Topology};
pub use version::PrometheusVersion;

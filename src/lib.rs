//! prometheus-rs-k8s: a Juju Kubernetes sidecar charm for Prometheus.
//!
//! Four layers, each a folder, imports running one way (`cli` and `hook` → `effects` →
//! `core`; `core` imports none of the others):
//!
//! - [`core`]: pure: config validation, the model snapshot, the desired state (prometheus.yml,
//!   rule files, the Pebble layer, relation data), sharding, the Prometheus version.
//! - [`hook`]: the hook flow: dispatch, the reconcile, reading the model through the hook
//!   tools, actions.
//! - [`effects`]: what touches the world: Pebble, promtool, Prometheus' HTTP API, Kubernetes.
//! - [`cli`]: command-line entry points (`render`).

#[cfg(feature = "mimalloc")]
pub mod allocator;
pub mod cli;
pub mod core;
pub mod effects;
pub mod hook;

pub use crate::core::config::{CharmConfig, ConfigError, ConfigErrors, InventoryConfig};
pub use crate::core::layer::{build_layer, InventoryService};
pub use crate::core::prometheus_config::{render, ConfigInput, RenderedConfig};
pub use crate::core::version::PrometheusVersion;

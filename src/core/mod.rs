//! The pure core: from a model snapshot and the config options to everything the charm wants
//! (prometheus.yml, rule files, the Pebble layer, relation data, the status). No Juju, Pebble,
//! Kubernetes or file-system calls: hooks and `render` share it, and tests call it directly.
//! Nothing here imports [`crate::hook`], [`crate::effects`] or [`crate::cli`].

pub mod config;
pub mod desired;
pub mod layer;
pub mod limits;
pub mod model;
pub mod prometheus_config;
pub mod quantity;
pub mod sharding;
pub mod version;
pub mod workload;

//! The pure rendering paths: config validation, prometheus.yml, the Pebble layer and
//! `render --model`, checked with insta snapshots and the real promtool. One test binary, a
//! module per area, so CI links it once.

#[path = "../common/mod.rs"]
mod common;
#[path = "../render_common/mod.rs"]
mod render_common;
/// Models of a given size (the benches' own).
#[path = "../../benches/support/mod.rs"]
mod sized_models;

mod config;
mod hostile_config;
mod inventory_options;
mod layer;
mod prometheus_config;
mod relation_targets;
mod snapshot;

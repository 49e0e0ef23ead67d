//! Pebble, the workload container's service manager, as seen from a charm.
//!
//! * [`layer`]: the typed layer and plan schema (YAML in and out).
//! * [`merge`]: Pebble's rules for combining layers into a plan, with its validation messages.
//! * [`plan_yaml`]: the plan YAML byte for byte as `GET /v1/plan` prints it.

pub mod layer;
pub mod merge;
pub mod plan_yaml;

pub use layer::{
    Check, CheckLevel, ExecCheck, HttpCheck, Layer, LogTarget, Override, Plan, Service,
    ServiceAction, Startup, TcpCheck,
};
pub use merge::{combine_into, combine_layers, service_changed, PlanError};
pub use plan_yaml::plan_to_yaml;

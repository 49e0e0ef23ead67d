//! Pebble, the workload container's service manager, as seen from a charm.
//!
//! * [`layer`]: the typed layer and plan schema (YAML in and out).
//! * [`merge`]: Pebble's rules for combining layers into a plan, with its validation messages.
//! * [`plan_yaml`]: the plan YAML byte for byte as `GET /v1/plan` prints it.
//! * [`parse`]: the client's decoders of Pebble's answers, on bytes (tests, fuzzing).
//! * [`Client`]: a blocking client for the HTTP API over Pebble's Unix socket
//!   ([`client`] transport, services and changes; [`files`]; [`exec`]), with
//!   [`types`] for what it returns and [`Error`] for how it fails.

pub mod client;
pub mod error;
pub mod exec;
pub mod files;
pub mod layer;
pub mod merge;
pub mod parse;
pub mod plan_yaml;
pub mod types;

/// The shared buffer file contents are pushed from.
pub use bytes::Bytes;
pub use client::Client;
pub use error::Error;
pub use exec::{ExecOptions, ExecOutput};
pub use files::PushOptions;
pub use layer::{
    Check, CheckLevel, ExecCheck, HttpCheck, Layer, LogTarget, Override, Plan, Service,
    ServiceAction, Startup, TcpCheck,
};
pub use merge::{combine_into, combine_layers, service_changed, PlanError};
pub use plan_yaml::plan_to_yaml;
pub use types::{
    Change, CheckInfo, CheckStatus, FileInfo, FileType, ServiceInfo, ServiceStatus, SystemInfo,
    Task,
};

//! Pebble, the workload container's service manager, as seen from a charm.
//!
//! [`layer`] holds the typed layer and plan schema and Pebble's rules for combining layers.
//! The client for the HTTP API over Pebble's Unix socket lives beside it.

pub mod layer;

pub use layer::{
    Check, CheckLevel, ExecCheck, HttpCheck, Layer, LogTarget, Override, Plan, Service,
    ServiceAction, Startup, TcpCheck,
};

//! Test harness for Rust charms, the counterpart of Python's `ops.testing`.

pub mod juju;
pub mod pebble;
pub mod ports;
pub mod prometheus_web;
pub mod real_systems;

pub use juju::{install_hook_tools, FakeHookTools, ModelState};
pub use pebble::{ExecRequest, ExecResult, FakePebble, RecordedRequest, ServiceCurrent};
pub use prometheus_web::{FakePrometheusWeb, ReloadResponse};

//! Everything that touches the world outside the charm process: the workload container
//! through Pebble, Prometheus and the poller over HTTP, the Kubernetes API, the pod's own
//! files. The hook flow ([`crate::hook`]) calls these; the core ([`crate::core`]) never does.

pub mod access;
pub mod apply;
pub mod charm_tracing;
pub mod clock;
pub mod current;
pub mod fqdn;
pub mod gateway;
pub mod http;
pub mod k8s;
pub mod promtool;
pub mod report;
pub mod services;
pub mod targets_record;
pub mod tls_client;

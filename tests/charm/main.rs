//! The charm run in-process against the harness (fake Juju model, fake Pebble with a real
//! promtool, fake Prometheus web API): behaviour over events, relations, the databag cache,
//! the unchanged-inputs shortcut, Kubernetes through a stand-in, and faults. One test binary,
//! a module per area, so CI links it once.

#[path = "../common/mod.rs"]
mod common;

mod cache_rotation;
mod charm_tracing;
mod compat_prometheus_k8s;
mod databag_cache;
mod datasource_exchange;
mod faults;
mod grafana_dashboard;
mod hostile_neighbours;
mod ingress;
mod inventory;
mod k8s;
mod lifecycle;
mod logging;
mod relation_targets;
mod relations;
mod secrets;
mod sharding;
mod switch_from_prometheus_k8s;
mod targets_shortcut;
mod tls;
mod unchanged_inputs;
mod workload_tracing;

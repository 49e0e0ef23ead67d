//! prometheus-rs-k8s: a Juju Kubernetes sidecar charm for Prometheus.

fn main() {}

//! Kubernetes options through the whole charm (fake model and Pebble, real promtool), outside
//! a cluster: the API is used only when an option needs it, and when it cannot be reached the
//! unit is Blocked with the reason while Prometheus is configured and runs as usual. A
//! percentage retention becomes a size once the volume's capacity is known.

mod common;

use common::Charm;
use prometheus_rs_k8s::model::ModelSnapshot;
use prometheus_rs_k8s::reconcile::desired_for;
use serde_json::json;

#[test]
fn without_kubernetes_options_no_api_is_needed_and_the_unit_is_active() {
    let charm = Charm::leader();
    charm.deploy();
    charm.assert_active();
}

#[test]
fn limits_outside_a_cluster_block_with_the_reason_and_the_workload_still_runs() {
    let charm = Charm::leader();
    charm.set_config("cpu", "500m");
    charm.set_config("memory", "2Gi");
    charm.deploy();
    let status = charm.status();
    assert_eq!(status.kind, juju_hook::StatusKind::Blocked, "{status:?}");
    assert!(
        status
            .message
            .starts_with("Kubernetes resources: no in-cluster Kubernetes configuration"),
        "{status:?}"
    );
    assert!(charm.config_yaml().contains("job_name: prometheus"));

    // Emptying them goes back to Active without any API call.
    charm.configure("cpu", "");
    charm.configure("memory", "");
    charm.assert_active();
}

#[test]
fn invalid_quantities_and_percentages_are_config_errors() {
    let charm = Charm::leader();
    charm.deploy();
    charm.configure("cpu", "half");
    let status = charm.status();
    assert_eq!(status.kind, juju_hook::StatusKind::Blocked);
    assert!(status.message.contains("cpu"), "{status:?}");
    charm.configure("cpu", "1");
    charm.configure("maximum_retention_size", "120%");
    let status = charm.status();
    assert!(
        status.message.contains("maximum_retention_size"),
        "{status:?}"
    );
}

fn snapshot(capacity: Option<&str>) -> ModelSnapshot {
    let mut value = json!({
        "leader": true,
        "model": {"name": "cos", "uuid": "00000000-0000-4000-8000-000000000000"},
        "app_name": "prom", "unit_id": 0, "fqdn": "prom-0.prom-endpoints.cos.svc.cluster.local",
        "config": {"maximum_retention_size": "80%"},
    });
    if let Some(c) = capacity {
        value["pvc_capacity"] = json!(c);
    }
    serde_json::from_value(value).unwrap()
}

fn prometheus_command(snapshot: &ModelSnapshot) -> String {
    let desired = desired_for(snapshot).unwrap();
    desired.workload.layer.services["prometheus"]
        .command
        .clone()
        .unwrap()
}

#[test]
fn a_percentage_retention_is_a_share_of_the_database_volume() {
    let command = prometheus_command(&snapshot(Some("10Gi")));
    assert!(
        command.contains("--storage.tsdb.retention.size=8192MB"),
        "{command}"
    );
    // Capacity unknown (API refused): no size flag rather than a wrong one.
    let command = prometheus_command(&snapshot(None));
    assert!(!command.contains("retention.size"), "{command}");
}

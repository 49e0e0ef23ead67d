//! `send-remote-write` (the `prometheus_remote_write` consumer) against what Canonical's
//! library does on that side: the receiver's `remote_write` unit data is read for its `url`
//! only (the library drops every other key), and the leader publishes `alert_rules` in the
//! application databag in the library's shape (the recorded consumer in
//! `tests/fixtures/prometheus_k8s/prometheus_remote_write-scenario.json`).

mod common;

use std::collections::BTreeSet;

use charm_interfaces::remote_write::{consumer_app_data, endpoints};
use charm_interfaces::self_metrics::SelfMetrics;
use common::{promtool_check_rules, views, Rel};
use serde_json::{json, Value};

fn me() -> SelfMetrics<'static> {
    SelfMetrics {
        model: "cos",
        model_uuid: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        application: "prometheus-rs-k8s",
        unit: "prometheus-rs-k8s/0",
        charm_name: "prometheus-rs-k8s",
        address: "prometheus-rs-k8s-0.prometheus-rs-k8s-endpoints.cos.svc.cluster.local",
        fqdn: "prometheus-rs-k8s-0.prometheus-rs-k8s-endpoints.cos.svc.cluster.local",
        port: 9090,
        path: "",
        https: false,
        ca: None,
    }
}

/// The recorded consumer's `alert_rules` (the real library, otelcol as the consumer).
fn recorded_consumer_rules() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/prometheus_k8s/prometheus_remote_write-scenario.json"
    );
    let scenario: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let rel = scenario["relations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["endpoint"] == "receive-remote-write")
        .unwrap();
    serde_json::from_str(rel["app_data"]["alert_rules"].as_str().unwrap()).unwrap()
}

#[test]
fn only_the_url_is_read_as_the_library_reads_it() {
    // What the provider library writes (`json.dumps({"url": ...})`), and a receiver that adds
    // keys the library does not read: they must not reach prometheus.yml.
    let extra = json!({
        "url": "http://mimir:8080/api/v1/push",
        "headers": {"X-Scope-OrgID": "team-a"},
        "tenant": "team-a",
        "tls_config": {"insecure_skip_verify": true},
        "basic_auth": {"username": "u", "password": "p"}
    });
    let rels = [Rel::new("send-remote-write", 3, "mimir")
        .unit(
            "mimir/0",
            &[(
                "remote_write",
                r#"{"url": "http://prometheus-k8s-0.prometheus-k8s-endpoints.cos.svc.cluster.local:9090/api/v1/write"}"#,
            )],
        )
        .unit("mimir/1", &[("remote_write", &extra.to_string())])];
    let out = endpoints(&views(&rels));
    assert!(out.per_app_errors.is_empty(), "{:?}", out.per_app_errors);
    let keys: Vec<BTreeSet<&str>> = out
        .endpoints
        .iter()
        .map(|e| e.as_object().unwrap().keys().map(String::as_str).collect())
        .collect();
    assert_eq!(
        keys,
        vec![BTreeSet::from(["url", "queue_config"]); 2],
        "{:?}",
        out.endpoints
    );
    assert_eq!(out.endpoints[0]["url"], "http://mimir:8080/api/v1/push");
}

#[test]
fn alert_rules_have_the_shape_the_library_publishes() {
    let units = vec![
        "prometheus-rs-k8s/1".to_string(),
        "prometheus-rs-k8s/0".to_string(),
    ];
    let bag = consumer_app_data(&me(), &units);
    assert_eq!(bag.keys().collect::<Vec<_>>(), ["alert_rules"]);
    let ours: Value = serde_json::from_str(&bag["alert_rules"]).unwrap();
    let recorded = recorded_consumer_rules();

    // The library's generic group, named `<identifier>_AggregatorHostHealth_rules`, one
    // HostMetricsMissing per unit (with `juju_unit`) and one AggregatorMetricsMissing.
    let recorded_group = &recorded["groups"][0];
    assert_eq!(
        recorded_group["name"],
        "workloads_f4b3a2c1_otelcol_AggregatorHostHealth_rules"
    );
    let group = ours["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "cos_0a1b2c3d_prometheus_rs_k8s_AggregatorHostHealth_rules")
        .expect("the aggregator group");
    let shape = |g: &Value| -> Vec<(String, String, BTreeSet<String>)> {
        g["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["alert"].as_str().unwrap().to_string(),
                    r["labels"]["severity"].as_str().unwrap().to_string(),
                    r["labels"].as_object().unwrap().keys().cloned().collect(),
                )
            })
            .collect()
    };
    let recorded_shape = shape(recorded_group);
    let our_shape = shape(group);
    // Ours has one HostMetricsMissing per unit (2), the recording one (1 unit).
    assert_eq!(our_shape.len(), 3);
    assert_eq!(our_shape[0], recorded_shape[0]);
    assert_eq!(our_shape[1], recorded_shape[0]);
    assert_eq!(our_shape[2], recorded_shape[1]);
    let units_in_rules: Vec<&str> = group["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["labels"]["juju_unit"].as_str())
        .collect();
    assert_eq!(
        units_in_rules,
        ["prometheus-rs-k8s/0", "prometheus-rs-k8s/1"]
    );
    for rule in group["rules"].as_array().unwrap() {
        assert_eq!(rule["for"], recorded_group["rules"][0]["for"]);
        // Topology matchers, as the library's label injection (cos-tool) adds them.
        assert_eq!(
            rule["expr"],
            "absent(up{juju_application=\"prometheus-rs-k8s\",juju_model=\"cos\",juju_model_uuid=\"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\"})"
        );
        assert_eq!(rule["labels"]["juju_charm"], "prometheus-rs-k8s");
    }

    // Before it, the self-monitoring groups published on self-metrics-endpoint.
    let names: Vec<&str> = ours["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "cos_0a1b2c3d_prometheus_rs_k8s_prometheus_self_rules",
            "cos_0a1b2c3d_prometheus_rs_k8s_prometheus_tsdb_rules",
            "cos_0a1b2c3d_prometheus_rs_k8s_inventory_sd_rules",
            "cos_0a1b2c3d_prometheus_rs_k8s_AggregatorHostHealth_rules",
        ]
    );
    for group in ours["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            for key in [
                "juju_model",
                "juju_model_uuid",
                "juju_application",
                "juju_charm",
            ] {
                assert!(rule["labels"][key].is_string(), "{key} missing: {rule}");
            }
        }
    }

    // A valid rule file for both Prometheus majors.
    let yaml = serde_yaml_ng::to_string(&ours).unwrap();
    promtool_check_rules(&[("forwarded.rules".to_string(), yaml)]);
}

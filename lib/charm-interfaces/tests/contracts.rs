//! grafana_datasource, alertmanager_dispatch, prometheus_remote_write, the self-metrics provider
//! and the `event` feedback key.

mod common;

use charm_interfaces::alert_rules::scrape_rule_files;
use charm_interfaces::alertmanager::alertmanagers;
use charm_interfaces::databag::diff;
use charm_interfaces::grafana_source::{desired, GrafanaSource};
use charm_interfaces::remote_write::{endpoints, provider_unit_data, sender_rule_files};
use charm_interfaces::scrape::feedback::event_feedback;
use charm_interfaces::scrape::scrape_jobs;
use charm_interfaces::self_metrics::{app_data, unit_data, SelfMetrics};
use common::{bag, promtool_check_rules, views, Rel};
use serde_json::{json, Value};

fn source() -> GrafanaSource<'static> {
    GrafanaSource {
        model: "cos",
        model_uuid: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        application: "prometheus-k8s",
        fqdn: "prometheus-k8s-0.prometheus-k8s-endpoints.cos.svc.cluster.local",
        port: 9090,
        https: false,
        scrape_interval: "1m",
    }
}

#[test]
fn grafana_source_values_are_exact_and_stable() {
    let (app, unit) = desired(&source());
    assert_eq!(
        app["grafana_source_data"],
        r#"{"model": "cos", "model_uuid": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "application": "prometheus-k8s", "type": "prometheus", "extra_fields": {"timeInterval": "1m"}, "secure_extra_fields": null}"#
    );
    assert_eq!(app["grafana_source_app_host"], "");
    assert_eq!(
        unit["grafana_source_host"],
        "http://prometheus-k8s-0.prometheus-k8s-endpoints.cos.svc.cluster.local:9090"
    );
    // Same input, same bytes: nothing to write on the next hook.
    let (app2, unit2) = desired(&source());
    assert!(diff(&app, &app2).is_empty());
    assert!(diff(&unit, &unit2).is_empty());
    // A changed interval changes only the data key; TLS changes only the unit URL.
    let (app3, _) = desired(&GrafanaSource {
        scrape_interval: "15s",
        ..source()
    });
    assert_eq!(
        diff(&app, &app3).keys().collect::<Vec<_>>(),
        ["grafana_source_data"]
    );
    let (_, unit3) = desired(&GrafanaSource {
        https: true,
        ..source()
    });
    assert!(diff(&unit, &unit3)["grafana_source_host"].starts_with("https://"));
}

#[test]
fn alertmanagers_grouped_by_scheme_and_path_across_apps() {
    let rels = [
        Rel::new("alertmanager", 1, "am")
            .unit(
                "am/1",
                &[("url", "http://am-1.am-endpoints.cos.svc.cluster.local:9093")],
            )
            .unit(
                "am/0",
                &[
                    ("url", "http://am-0.am-endpoints.cos.svc.cluster.local:9093"),
                    ("public_address", "ignored:1"),
                    ("scheme", "http"),
                ],
            )
            .unit("am/2", &[]),
        Rel::new("alertmanager", 2, "am-edge")
            .unit(
                "am-edge/0",
                &[
                    ("public_address", "traefik.example.com/cos-alertmanager"),
                    ("scheme", "https"),
                ],
            )
            .unit(
                "am-edge/1",
                &[("url", "https://traefik.example.com/cos-alertmanager")],
            )
            .unit("am-edge/2", &[("public_address", "old-style:9093")])
            .unit("am-edge/3", &[("url", "not a url")]),
    ];
    let out = alertmanagers(&views(&rels));
    assert_eq!(
        Value::Array(out.alertmanagers),
        json!([
            {"scheme": "http", "path_prefix": "/", "static_configs": [{"targets": [
                "am-0.am-endpoints.cos.svc.cluster.local:9093", "am-1.am-endpoints.cos.svc.cluster.local:9093", "old-style:9093"]}]},
            {"scheme": "https", "path_prefix": "/cos-alertmanager", "static_configs": [{"targets": ["traefik.example.com"]}]},
        ])
    );
    assert_eq!(out.per_app_errors.len(), 1);
    assert_eq!(out.per_app_errors[0].app, "am-edge");
    assert!(out.per_app_errors[0].message.contains("am-edge/3"));
}

#[test]
fn remote_write_consumer_and_provider() {
    let rels = [
        Rel::new("send-remote-write", 5, "mimir")
            .unit(
                "mimir/0",
                &[(
                    "remote_write",
                    r#"{"url": "http://mimir-0:9009/api/v1/push"}"#,
                )],
            )
            .unit(
                "mimir/1",
                &[(
                    "remote_write",
                    r#"{"url": "http://mimir-0:9009/api/v1/push"}"#,
                )],
            ),
        Rel::new("send-remote-write", 6, "prom2")
            .unit(
                "prom2/0",
                &[(
                    "remote_write",
                    r#"{"url": "http://a-prom:9090/api/v1/write"}"#,
                )],
            )
            .unit("prom2/1", &[("remote_write", "{broken")]),
    ];
    let out = endpoints(&views(&rels));
    let urls: Vec<&str> = out
        .endpoints
        .iter()
        .map(|e| e["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            "http://a-prom:9090/api/v1/write",
            "http://mimir-0:9009/api/v1/push"
        ]
    );
    assert_eq!(
        out.endpoints[0]["queue_config"]["max_samples_per_send"],
        2000
    );
    assert_eq!(out.per_app_errors.len(), 1);
    assert_eq!(out.per_app_errors[0].app, "prom2");

    let unit = provider_unit_data(
        "http://prometheus-k8s-0.prometheus-k8s-endpoints.cos.svc.cluster.local:9090/",
    );
    assert_eq!(
        unit["remote_write"],
        r#"{"url": "http://prometheus-k8s-0.prometheus-k8s-endpoints.cos.svc.cluster.local:9090/api/v1/write"}"#
    );

    // Senders' rules: one file per relation.
    let rules = json!({"groups": [{"name": "agg", "rules": [{"alert": "AggregatorMetricsMissing", "expr": "absent(up)",
        "labels": {"juju_model": "cos", "juju_model_uuid": "12345678-0000-4000-8000-000000000000", "juju_application": "agent"}}]}]});
    let senders = [Rel::new("receive-remote-write", 9, "agent")
        .app_key("alert_rules", &rules.to_string())
        .unit("agent/0", &[])];
    let files = sender_rule_files(&views(&senders));
    assert_eq!(
        files.files[0].0,
        "juju_cos_12345678_agent_receive-remote-write_9.rules"
    );
    promtool_check_rules(&files.files);
}

fn me() -> SelfMetrics<'static> {
    SelfMetrics {
        model: "cos",
        model_uuid: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        application: "prometheus-k8s",
        unit: "prometheus-k8s/0",
        charm_name: "prometheus-k8s",
        address: "10.1.2.3",
        fqdn: "prometheus-k8s-0.prometheus-k8s-endpoints.cos.svc.cluster.local",
        port: 9090,
        path: "",
        https: false,
        ca: None,
    }
}

#[test]
fn self_metrics_round_trip_through_a_consumer() {
    let app = app_data(&me());
    assert_eq!(
        app["scrape_jobs"],
        r#"[{"metrics_path": "/metrics", "static_configs": [{"targets": ["*:9090"]}]}]"#
    );
    assert_eq!(
        app["scrape_metadata"],
        r#"{"model": "cos", "model_uuid": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "application": "prometheus-k8s", "unit": "prometheus-k8s/0", "charm_name": "prometheus-k8s"}"#
    );
    let unit = unit_data(&me());
    assert_eq!(unit["prometheus_scrape_unit_address"], "10.1.2.3");
    assert_eq!(unit["prometheus_scrape_unit_name"], "prometheus-k8s/0");
    assert_eq!(unit["prometheus_scrape_unit_path"], "");
    assert_eq!(app, app_data(&me()), "byte-stable");

    // What a consuming Prometheus (this crate's consumer) makes of it.
    let mut rel =
        Rel::new("metrics-endpoint", 1, "prometheus-k8s").unit_bag("prometheus-k8s/0", unit);
    rel.app_data = app;
    let rels = [rel];
    let jobs = scrape_jobs(&views(&rels));
    assert!(jobs.per_app_errors.is_empty());
    assert_eq!(jobs.job_maps().len(), 1);
    assert_eq!(
        jobs.job_maps()[0]["job_name"],
        "juju_cos_0a1b2c3d_prometheus-k8s_prometheus_scrape-0"
    );
    assert_eq!(
        jobs.job_maps()[0]["static_configs"][0]["targets"],
        json!(["10.1.2.3:9090"])
    );

    let rules = scrape_rule_files(&views(&rels));
    assert!(
        rules.per_app_errors.is_empty(),
        "{:?}",
        rules.per_app_errors
    );
    assert_eq!(rules.files.len(), 1);
    let text = &rules.files[0].1;
    for alert in [
        "PrometheusConfigReloadFailed",
        "PrometheusTsdbWalCorrupted",
        "InventoryDiscoveryFailing",
        "InventoryDiscoveryStale",
    ] {
        assert!(text.contains(alert), "{alert} missing");
    }
    assert!(text.contains(r#"inventory_sd_consecutive_failures{juju_application="prometheus-k8s""#));
    assert!(text.contains("cos_0a1b2c3d_prometheus_k8s_inventory_sd_rules"));
    promtool_check_rules(&rules.files);
    insta::assert_snapshot!("self_metrics_rules", text);
}

#[test]
fn event_feedback_from_outcomes() {
    let broken = Rel::new("metrics-endpoint", 3, "x")
        .app_key("scrape_metadata", r#"{"model": "m", "model_uuid": "12121212-0000-4000-8000-000000000000", "application": "x"}"#)
        .app_key("scrape_jobs", r#"[{"scheme": "ftp"}]"#)
        .app_key("alert_rules", r#"{"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up =="}]}]}"#)
        .unit_bag("x/0", bag(&[("prometheus_scrape_unit_address", "10.0.0.1")]));
    let fine = Rel::new("metrics-endpoint", 4, "y")
        .app_key("scrape_jobs", "[]")
        .unit("y/0", &[]);
    let rels = [broken, fine];
    let v = views(&rels);
    let jobs = scrape_jobs(&v);
    let rules = scrape_rule_files(&v);
    let fb = event_feedback(&[3, 4], &jobs.per_app_errors, &rules.per_app_errors);
    let ev: Value = serde_json::from_str(&fb[&3]["event"]).unwrap();
    assert_eq!(ev["valid"], false);
    assert!(ev["errors"].as_str().unwrap().contains("PromQL"));
    assert!(ev["scrape_job_errors"].as_str().unwrap().contains("scheme"));
    let ok: Value = serde_json::from_str(&fb[&4]["event"]).unwrap();
    assert_eq!(
        ok,
        json!({"errors": "", "scrape_job_errors": "", "valid": true})
    );
}

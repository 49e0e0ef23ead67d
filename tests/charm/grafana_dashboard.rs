//! The `grafana-dashboard` relation (`grafana_dashboard`): the leader sends this charm's own
//! dashboard as Grafana's library encodes it (checked against prometheus-k8s's capture in
//! `lib/charm-interfaces/tests/grafana_dashboard.rs`), once; a non-leader and a unit without
//! the relation do nothing. The dashboard itself: valid Grafana JSON whose queries use the
//! `${prometheusds}` datasource and are valid PromQL.

use crate::common::Charm;
use charm_interfaces::grafana_dashboard::{dashboard_uid, decompress};
use charm_sim::charm_model_state;
use juju_hook::{RelationEventKind, RelationId};
use prometheus_rs_k8s::core::grafana_dashboard::DASHBOARDS;
use serde_json::Value;

const DASHBOARD: u32 = 15;

fn dashboard_rel() -> RelationId {
    RelationId::new("grafana-dashboard", DASHBOARD)
}

fn related(leader: bool) -> Charm {
    let mut state = charm_model_state().unwrap();
    state.set_leader(leader);
    let rel = state.add_relation_with_id("grafana-dashboard", "grafana", DASHBOARD);
    state.add_remote_unit(&rel, "grafana/0");
    Charm::with_state(state)
}

#[test]
fn the_leader_sends_the_dashboard_once() {
    let c = related(true);
    c.deploy();
    c.assert_active();
    let bag = c.local_app_data(&dashboard_rel());
    let sent: Value = serde_json::from_str(&bag["dashboards"]).unwrap();
    let templates = sent["templates"].as_object().unwrap();
    assert_eq!(
        templates.keys().collect::<Vec<_>>(),
        ["file:prometheus-rs-k8s-overview.json"]
    );
    let template = &templates["file:prometheus-rs-k8s-overview.json"];
    let state = c.sim.juju.state();
    assert_eq!(template["charm"], "prometheus-rs-k8s");
    assert_eq!(template["inject_dropdowns"], true);
    assert_eq!(
        template["juju_topology"]["model"].as_str(),
        Some(state.model_name.as_str())
    );
    assert_eq!(
        template["juju_topology"]["unit"].as_str(),
        Some(state.unit_name().as_str())
    );
    drop(state);
    let dashboard: Value =
        serde_json::from_str(&decompress(template["content"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(
        dashboard["uid"].as_str(),
        Some(dashboard_uid("prometheus-rs-k8s", "prometheus-rs-k8s-overview.json").as_str())
    );
    assert!(dashboard["tags"]
        .as_array()
        .unwrap()
        .contains(&Value::from("charm: prometheus-rs-k8s")));

    // Nothing changed: nothing written again (the uuid follows the content).
    c.reset_records();
    c.ok(&juju_hook::Event::ConfigChanged);
    c.ok(&c.relation_event(
        &dashboard_rel(),
        RelationEventKind::Changed,
        Some("grafana/0"),
    ));
    assert_eq!(c.sim.juju.calls("relation-set"), 0);
}

#[test]
fn a_non_leader_sends_nothing() {
    let c = related(false);
    c.deploy();
    c.assert_active();
    assert!(c.local_app_data(&dashboard_rel()).is_empty());
}

/// Every built-in dashboard: a JSON object with a title, panels whose every query names the
/// `${prometheusds}` datasource (the variable Grafana's library expects, declared in the
/// templating) and parses as PromQL.
#[test]
fn the_dashboards_are_grafana_json_with_valid_queries() {
    for (name, json) in DASHBOARDS {
        let d: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()), "{name}");
        let vars = d["templating"]["list"].as_array().unwrap();
        assert!(
            vars.iter()
                .any(|v| v["name"] == "prometheusds" && v["type"] == "datasource"),
            "{name}"
        );
        let panels = d["panels"].as_array().unwrap();
        assert!(panels.len() >= 6, "{name}");
        for panel in panels {
            assert_eq!(panel["datasource"]["uid"], "${prometheusds}", "{name}");
            let targets = panel["targets"].as_array().unwrap();
            assert!(!targets.is_empty());
            for target in targets {
                assert_eq!(target["datasource"]["uid"], "${prometheusds}");
                let expr = target["expr"].as_str().unwrap();
                promql_parser::parser::parse(expr)
                    .unwrap_or_else(|e| panic!("{name}: {expr}: {e}"));
            }
        }
    }
}

/// Metric names a PromQL expression selects.
fn metric_names(expr: &str) -> Vec<String> {
    let re = regex::Regex::new(r"\b(prometheus_[a-z_]+|up|scrape_duration_seconds)\b").unwrap();
    re.find_iter(expr).map(|m| m.as_str().to_owned()).collect()
}

/// Every query of the built-in dashboards against a real Prometheus 3.14 (the production
/// release) on loopback that scrapes itself, evaluates a rule group and has a remote-write
/// queue (to a closed port): each query is accepted and every metric it names exists.
#[test]
fn every_dashboard_query_runs_on_a_real_prometheus_3() {
    let binary = charm_harness::real_systems::require(charm_harness::real_systems::prometheus3());
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n- name: g\n  rules:\n  - record: r\n    expr: vector(1)\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             rule_files: [rules.yml]\n\
             scrape_configs:\n- job_name: prometheus\n  static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n\
             remote_write:\n- url: http://127.0.0.1:9/api/v1/write\n"
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(binary)
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(&mut child);
    let http = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    let get = |path: &str| -> Option<Value> {
        http.get(format!("http://127.0.0.1:{port}{path}"))
            .send()
            .ok()?
            .json()
            .ok()
    };
    // Wait until it scraped itself and evaluated the rule (all metric families present).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let names = loop {
        let names: Vec<String> = get("/api/v1/label/__name__/values")
            .and_then(|v| serde_json::from_value(v["data"].clone()).ok())
            .unwrap_or_default();
        if names
            .iter()
            .any(|n| n == "prometheus_rule_group_last_duration_seconds")
            && names
                .iter()
                .any(|n| n == "prometheus_remote_storage_samples_pending")
        {
            break names;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Prometheus 3 did not come up: {names:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    for (name, json) in DASHBOARDS {
        let d: Value = serde_json::from_str(json).unwrap();
        for panel in d["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"].as_str().unwrap();
                for metric in metric_names(expr) {
                    assert!(
                        names.contains(&metric),
                        "{name}: {expr}: no metric {metric}"
                    );
                }
                let url = format!(
                    "http://127.0.0.1:{port}/api/v1/query?query={}",
                    expr.bytes()
                        .map(|b| format!("%{b:02X}"))
                        .collect::<String>()
                );
                let answer: Value = http.get(url).send().unwrap().json().unwrap();
                assert_eq!(answer["status"], "success", "{name}: {expr}: {answer}");
            }
        }
    }
}

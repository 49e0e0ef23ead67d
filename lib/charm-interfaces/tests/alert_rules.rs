//! Rule files from `alert_rules`: naming, topology injection, per-group validation, and the real
//! promtool accepting every file produced.

mod common;

use charm_interfaces::alert_rules::{rule_files, scrape_rule_files};
use common::{fixture_relations, promtool_check_rules, scrape_unit, views, Rel};
use serde_json::json;

#[test]
fn fixture_rule_files() {
    let rels: Vec<Rel> = fixture_relations()
        .into_iter()
        .filter(|r| r.endpoint == "metrics-endpoint")
        .collect();
    let out = scrape_rule_files(&views(&rels));
    assert!(out.per_app_errors.is_empty(), "{:?}", out.per_app_errors);
    let names: Vec<&str> = out.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "juju_workloads_f4b3a2c1_node-exporter_metrics-endpoint_10.rules",
            "juju_workloads_f4b3a2c1_web-api_metrics-endpoint_11.rules",
        ]
    );
    let node: serde_yaml_ng::Value = serde_yaml_ng::from_str(&out.files[0].1).unwrap();
    let groups = node["groups"].as_sequence().unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(
        groups[0]["name"],
        "workloads_f4b3a2c1_node_exporter_target_down_rules"
    );
    let rule = &groups[0]["rules"][0];
    assert_eq!(rule["alert"], "NodeExporterTargetDown");
    assert_eq!(
        rule["expr"],
        r#"up{juju_application="node-exporter",juju_model="workloads",juju_model_uuid="f4b3a2c1-0d9e-4f8a-b7c6-5d4e3f2a1b0c"} < 1"#
    );
    assert_eq!(rule["for"], "5m");
    assert_eq!(rule["labels"]["severity"], "critical");
    assert_eq!(
        groups[1]["rules"][1]["expr"],
        r#"absent(up{juju_application="node-exporter",juju_model="workloads",juju_model_uuid="f4b3a2c1-0d9e-4f8a-b7c6-5d4e3f2a1b0c"})"#
    );
    promtool_check_rules(&out.files);
    insta::assert_snapshot!("fixture_node_exporter_rules", out.files[0].1);
}

fn rules_json(app: &str, expr: &str) -> String {
    json!({"groups": [{"name": format!("m_11112222_{app}_g_rules"), "rules": [{
        "alert": "A", "expr": expr, "for": "1m",
        "labels": {"juju_model": "m", "juju_model_uuid": "11112222-0000-4000-8000-000000000000",
                   "juju_application": app, "severity": "warning"},
        "annotations": {"summary": "{{ $labels.instance }} is sad"}}]}]})
    .to_string()
}

#[test]
fn two_relations_to_one_app_get_distinct_files() {
    let rel = |id| {
        Rel::new("metrics-endpoint", id, "app")
            .app_key("alert_rules", &rules_json("app", "up == 0"))
            .unit_bag("app/0", scrape_unit("app/0", "10.0.0.1", "", ""))
    };
    let rels = [rel(1), rel(2)];
    let out = scrape_rule_files(&views(&rels));
    let names: Vec<&str> = out.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "juju_m_11112222_app_metrics-endpoint_1.rules",
            "juju_m_11112222_app_metrics-endpoint_2.rules"
        ]
    );
    assert_eq!(out.files[0].1, out.files[1].1);
    promtool_check_rules(&out.files);
}

#[test]
fn invalid_group_is_reported_and_others_survive() {
    let bad = json!({"groups": [
        {"name": "ok", "rules": [{"record": "job:up:sum", "expr": "sum by (job) (up)"}]},
        {"name": "broken_expr", "rules": [{"alert": "X", "expr": "sum(rate(x[5m]) >"}]},
        {"name": "bad_for", "rules": [{"alert": "Y", "expr": "up == 0", "for": "five minutes"}]},
        {"name": "both", "rules": [{"alert": "Z", "record": "z", "expr": "up"}]},
        {"name": "ok", "rules": [{"alert": "Dup", "expr": "up == 0"}]},
        {"rules": []}
    ]})
    .to_string();
    let rels = [
        Rel::new("metrics-endpoint", 4, "bad")
            .app_key("alert_rules", &bad)
            .app_key("scrape_metadata", r#"{"model": "m", "model_uuid": "99998888-0000-4000-8000-000000000000", "application": "bad"}"#)
            .unit("bad/0", &[]),
        Rel::new("metrics-endpoint", 5, "good").app_key("alert_rules", &rules_json("good", "up == 0")).unit("good/0", &[]),
        Rel::new("metrics-endpoint", 6, "junk").app_key("alert_rules", "{oops").unit("junk/0", &[]),
        Rel::new("metrics-endpoint", 7, "empty").app_key("alert_rules", "{}").unit("empty/0", &[]),
    ];
    let out = scrape_rule_files(&views(&rels));
    let names: Vec<&str> = out.files.iter().map(|(n, _)| n.as_str()).collect();
    // No topology labels in the first group: the identifier comes from scrape_metadata.
    assert_eq!(
        names,
        [
            "juju_m_99998888_bad_metrics-endpoint_4.rules",
            "juju_m_11112222_good_metrics-endpoint_5.rules"
        ]
    );
    assert!(out.files[0].1.contains("job:up:sum"));
    assert!(!out.files[0].1.contains("broken_expr"));
    let bad_msgs: Vec<&str> = out
        .per_app_errors
        .iter()
        .filter(|e| e.app == "bad")
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(bad_msgs.len(), 5, "{bad_msgs:?}");
    assert!(bad_msgs[0].contains("broken_expr") && bad_msgs[0].contains("PromQL"));
    assert!(bad_msgs[1].contains("duration"));
    assert!(bad_msgs[2].contains("not both"));
    assert!(bad_msgs[3].contains("earlier group"));
    assert!(bad_msgs[4].contains("no name"));
    assert!(out
        .per_app_errors
        .iter()
        .any(|e| e.app == "junk" && e.message.contains("not valid JSON")));
    assert!(out
        .per_app_errors
        .iter()
        .all(|e| e.app != "good" && e.app != "empty"));
    promtool_check_rules(&out.files);
}

#[test]
fn placeholder_and_group_name_identifier() {
    let rules = json!({"groups": [{"name": "lonely group/1", "rules": [{"alert": "A", "expr": "up{%%juju_topology%%} == 0"}]}]}).to_string();
    let rels = [Rel::new("receive-remote-write", 3, "agent")
        .app_key("alert_rules", &rules)
        .unit("agent/0", &[])];
    let out = rule_files(&views(&rels));
    assert!(out.per_app_errors.is_empty(), "{:?}", out.per_app_errors);
    // Not plain file-name characters: sanitised, with a hash of the original.
    let name = &out.files[0].0;
    assert!(name.starts_with("juju_lonely_group_1_"), "{name}");
    assert!(name.ends_with("_receive-remote-write_3.rules"), "{name}");
    assert!(
        out.files[0].1.contains("expr: up{} == 0"),
        "{}",
        out.files[0].1
    );
    promtool_check_rules(&out.files);
}

#[test]
fn remote_write_names_never_collide() {
    let rel = |id| {
        Rel::new("receive-remote-write", id, "agent")
            .app_key("alert_rules", &rules_json("agent", "up == 0"))
            .unit("agent/0", &[])
    };
    let rels = [rel(1), rel(2)];
    // One relation at a time, as the charm computes them.
    let names: Vec<String> = rels
        .iter()
        .flat_map(|r| rule_files(&views(std::slice::from_ref(r))).files)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "juju_m_11112222_agent_receive-remote-write_1.rules",
            "juju_m_11112222_agent_receive-remote-write_2.rules"
        ]
    );
}

#[test]
fn placeholder_is_filled_with_topology_matchers() {
    let labels = json!({"juju_model": "m", "juju_model_uuid": "11112222-0000-4000-8000-000000000000", "juju_application": "app"});
    let rules = json!({"groups": [{"name": "g", "rules": [
        {"alert": "A", "expr": "{%%juju_topology%%} == 0", "labels": labels},
        {"alert": "B", "expr": "rate(x{%%juju_topology%%,job=\"j\"}[5m]) > 1", "labels": labels},
    ]}]})
    .to_string();
    let rels = [Rel::new("metrics-endpoint", 1, "app")
        .app_key("alert_rules", &rules)
        .unit("app/0", &[])];
    let out = scrape_rule_files(&views(&rels));
    assert!(out.per_app_errors.is_empty(), "{:?}", out.per_app_errors);
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&out.files[0].1).unwrap();
    let m = r#"juju_application="app",juju_model="m",juju_model_uuid="11112222-0000-4000-8000-000000000000""#;
    assert_eq!(
        doc["groups"][0]["rules"][0]["expr"],
        format!("{{{m}}} == 0").as_str()
    );
    assert_eq!(
        doc["groups"][0]["rules"][1]["expr"],
        format!("rate(x{{job=\"j\",{m}}}[5m]) > 1").as_str()
    );
    promtool_check_rules(&out.files);
}

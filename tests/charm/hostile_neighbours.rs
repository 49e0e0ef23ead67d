//! One related application's hostile data, through the charm (fake Pebble writing real files,
//! the real promtool): it costs only that application's own jobs or rules, is named in the
//! status and in its `event` feedback, and every other application's change still applies.

use crate::common::*;
use juju_hook::{RelationEventKind, StatusKind};
use serde_json::json;

const RULES_DIR: &str = "/etc/prometheus/rules";

#[test]
fn a_300_character_model_name_in_rule_topology_costs_nothing_else() {
    if !have_prometheus() {
        return;
    }
    let c = Charm::two_apps(true);
    c.deploy();
    let web_api = metrics_relation(11);
    let node = metrics_relation(10);
    let mut rules = c.remote_app_key(&web_api, "alert_rules");
    for group in rules["groups"].as_array_mut().unwrap() {
        for rule in group["rules"].as_array_mut().unwrap() {
            rule["labels"]["juju_model"] = json!("m".repeat(300));
        }
    }
    c.set_remote_app_key(&web_api, "alert_rules", &rules);
    // Another application's change in the same hook's configuration.
    let mut node_jobs = c.remote_app_key(&node, "scrape_jobs");
    node_jobs[0]["scrape_interval"] = json!("17s");
    c.set_remote_app_key(&node, "scrape_jobs", &node_jobs);
    c.ok(&c.relation_event(&web_api, RelationEventKind::Changed, None));

    c.assert_active();
    let files = c.dir_entries(RULES_DIR);
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        assert!(f.len() <= 255, "{} bytes: {f}", f.len());
    }
    assert!(files
        .iter()
        .any(|f| f.ends_with("_metrics-endpoint_11.rules")));
    assert!(
        c.config_yaml().contains("17s"),
        "the other app's change applied"
    );
}

#[test]
fn a_unit_with_a_bad_address_costs_only_itself_and_is_named_in_status_and_feedback() {
    if !have_prometheus() {
        return;
    }
    let c = Charm::two_apps(true);
    c.deploy();
    let node = metrics_relation(10);
    let before_jobs = c.job_names();
    assert!(c.config_yaml().contains("10.1.0.11:9100"));
    {
        let mut state = c.sim.juju.state();
        let mut data = juju_hook::RelationData::new();
        data.insert(
            "prometheus_scrape_unit_address".into(),
            "10.1.0.20/x".into(),
        );
        state.set_remote_unit_data(&node, "node-exporter/1", &data);
    }
    c.ok(&c.relation_event(&node, RelationEventKind::Changed, Some("node-exporter/1")));

    let status = c.status();
    assert_eq!(status.kind, StatusKind::Blocked, "{status:?}");
    assert!(
        status
            .message
            .starts_with("metrics-endpoint:10 (node-exporter): "),
        "{status:?}"
    );
    assert!(status.message.contains("node-exporter/1"), "{status:?}");
    let feedback = c.event_feedback(&node).expect("event written");
    assert!(
        feedback["scrape_job_errors"]
            .as_str()
            .unwrap()
            .contains("node-exporter/1"),
        "{feedback}"
    );
    // Applied (promtool accepted it): only the bad unit's target is gone.
    let config = c.config_yaml();
    assert!(!config.contains("10.1.0.20"), "{config}");
    assert!(!config.contains("10.1.0.11:9100"), "{config}");
    assert!(config.contains("10.1.0.10:9100"), "{config}");
    assert!(config.contains("api-0.example.com:8080"), "{config}");
    let after_jobs = c.job_names();
    assert_eq!(after_jobs.len() + 1, before_jobs.len(), "{after_jobs:?}");
}

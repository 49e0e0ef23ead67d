//! metrics-endpoint relations through the charm, with relation data recorded from the real
//! scrape library (the shared two-apps fixture): jobs, rule files, the `event` feedback the
//! leader writes, units departing, relations breaking, and one application's bad data.

use crate::common::*;
use charm_harness::RecordedRequest;
use juju_hook::{Event, RelationEventKind, Status, StatusKind};
use serde_json::{json, Value};

const RULES_DIR: &str = "/etc/prometheus/rules";

fn node_exporter() -> juju_hook::RelationId {
    metrics_relation(10)
}

fn web_api() -> juju_hook::RelationId {
    metrics_relation(11)
}

/// Job names in prometheus.yml that scrape `app`.
fn jobs_of(c: &Charm, app: &str) -> Vec<String> {
    c.job_names()
        .into_iter()
        .filter(|j| j.contains(&format!("_{app}_")))
        .collect()
}

fn rule_file_of(c: &Charm, app: &str) -> Option<String> {
    c.dir_entries(RULES_DIR)
        .into_iter()
        .find(|f| f.contains(app))
}

fn clean_feedback() -> Value {
    json!({"errors": "", "scrape_job_errors": "", "valid": true})
}

#[test]
fn fixture_relations_become_jobs_rule_files_and_leader_feedback() {
    let c = Charm::two_apps(true);
    c.deploy();
    c.assert_active();

    assert!(
        !jobs_of(&c, "node-exporter").is_empty(),
        "{:?}",
        c.job_names()
    );
    assert!(!jobs_of(&c, "web-api").is_empty(), "{:?}", c.job_names());
    let config = c.config_yaml();
    for target in [
        "10.1.0.10:9100",
        "10.1.0.11:9100",
        "api-0.example.com:8080",
        "10.200.0.5:8080",
    ] {
        assert!(config.contains(target), "{target} in\n{config}");
    }
    insta::assert_snapshot!("two_apps_prometheus_yml", config);

    // One rule file per application, with the fixture's alerts.
    assert_eq!(
        c.dir_entries(RULES_DIR).len(),
        2,
        "{:?}",
        c.dir_entries(RULES_DIR)
    );
    let node_rules = c
        .file(&format!(
            "{RULES_DIR}/{}",
            rule_file_of(&c, "node").expect("node-exporter rules")
        ))
        .unwrap();
    assert!(
        node_rules.contains("NodeExporterTargetDown"),
        "{node_rules}"
    );
    let web_rules = c
        .file(&format!(
            "{RULES_DIR}/{}",
            rule_file_of(&c, "web").expect("web-api rules")
        ))
        .unwrap();
    assert!(web_rules.contains("HostDown"), "{web_rules}");

    // The leader tells each scrape target its data was fine.
    assert_eq!(c.event_feedback(&node_exporter()), Some(clean_feedback()));
    assert_eq!(c.event_feedback(&web_api()), Some(clean_feedback()));

    // Written once: later hooks find it in place and write nothing.
    let sets = c.sim.juju.calls("relation-set");
    c.ok(&Event::UpdateStatus);
    assert_eq!(c.sim.juju.calls("relation-set"), sets);
}

#[test]
fn a_non_leader_scrapes_the_same_but_writes_no_app_data() {
    let leader = Charm::two_apps(true);
    leader.deploy();
    let c = Charm::two_apps(false);
    c.deploy();
    c.assert_active();
    assert_eq!(c.config_yaml(), leader.config_yaml());
    assert_eq!(c.dir_entries(RULES_DIR), leader.dir_entries(RULES_DIR));
    for rel in [node_exporter(), web_api()] {
        assert_eq!(c.local_app_data(&rel), Default::default(), "{rel}");
        // Only what Juju itself puts in a unit's databag.
        let unit_data = c
            .sim
            .juju
            .state()
            .relation(&rel)
            .unwrap()
            .local_unit_data
            .clone();
        assert_eq!(
            unit_data.keys().collect::<Vec<_>>(),
            ["egress-subnets", "ingress-address", "private-address"],
            "{rel}"
        );
    }
    let state = c.sim.juju.state();
    assert!(
        state.relations.iter().all(|r| r.local_app_data.is_empty()),
        "no application databag written anywhere"
    );
}

#[test]
fn a_departing_unit_loses_its_target_by_reload() {
    let c = Charm::two_apps(true);
    c.deploy();
    let before = c.counters();
    c.sim
        .juju
        .state()
        .remove_remote_unit(&node_exporter(), "node-exporter/1");
    c.ok(&c.relation_event(
        &node_exporter(),
        RelationEventKind::Departed,
        Some("node-exporter/1"),
    ));

    c.assert_active();
    let config = c.config_yaml();
    assert!(config.contains("10.1.0.10:9100"), "{config}");
    assert!(!config.contains("10.1.0.11:9100"), "{config}");
    let after = c.counters();
    assert_eq!(after.reloads, before.reloads + 1);
    assert_eq!(after.prometheus_starts, before.prometheus_starts);
    assert!(rule_file_of(&c, "node").is_some(), "the app's rules stay");
}

#[test]
fn a_broken_relation_removes_the_apps_jobs_and_rule_file() {
    let c = Charm::two_apps(true);
    c.deploy();
    let web_rules = rule_file_of(&c, "web").expect("web-api rules");
    let node_jobs = jobs_of(&c, "node-exporter");
    let before = c.counters();
    c.reset_records();
    c.sim.juju.state().remove_relation(&web_api());
    c.ok(&c.relation_event(&web_api(), RelationEventKind::Broken, None));

    c.assert_active();
    assert_eq!(jobs_of(&c, "web-api"), Vec::<String>::new());
    assert_eq!(jobs_of(&c, "node-exporter"), node_jobs);
    assert!(!c.config_yaml().contains("api-0.example.com"));
    assert_eq!(
        rule_file_of(&c, "web"),
        None,
        "{:?}",
        c.dir_entries(RULES_DIR)
    );
    assert!(rule_file_of(&c, "node").is_some());
    let requests = c.requests();
    let removed: Vec<&RecordedRequest> = file_requests(&requests, "remove")
        .into_iter()
        .filter(|r| {
            r.body_json
                .as_ref()
                .unwrap()
                .to_string()
                .contains(&web_rules)
        })
        .collect();
    assert_eq!(removed.len(), 1, "the rule file removed through Pebble");
    let after = c.counters();
    assert_eq!(after.reloads, before.reloads + 1);
    assert_eq!(after.prometheus_starts, before.prometheus_starts);
}

#[test]
fn an_invalid_scrape_job_drops_that_apps_jobs_only_and_is_reported_to_it() {
    let c = Charm::two_apps(true);
    c.deploy();
    let node_jobs = jobs_of(&c, "node-exporter");
    let mut jobs = c.remote_app_key(&web_api(), "scrape_jobs");
    jobs[0]["metrics_path"] = json!(42);
    c.set_remote_app_key(&web_api(), "scrape_jobs", &jobs);
    c.ok(&c.relation_event(&web_api(), RelationEventKind::Changed, None));

    let status = c.status();
    assert_eq!(status.kind, StatusKind::Blocked, "{status:?}");
    assert!(
        status
            .message
            .starts_with("metrics-endpoint:11 (web-api): "),
        "{status:?}"
    );
    assert!(status.message.contains("metrics_path"), "{status:?}");
    assert_eq!(jobs_of(&c, "web-api"), Vec::<String>::new());
    assert_eq!(jobs_of(&c, "node-exporter"), node_jobs);
    assert!(!c.config_yaml().contains("api-0.example.com"));

    let feedback = c.event_feedback(&web_api()).expect("event written");
    let errors = feedback["scrape_job_errors"].as_str().unwrap();
    assert!(errors.contains("metrics_path"), "{feedback}");
    assert_eq!(c.event_feedback(&node_exporter()), Some(clean_feedback()));

    // Fixed by the remote charm: Active again and the feedback cleared.
    jobs[0]["metrics_path"] = json!("/api/v1/metrics");
    c.set_remote_app_key(&web_api(), "scrape_jobs", &jobs);
    c.ok(&c.relation_event(&web_api(), RelationEventKind::Changed, None));
    c.assert_active();
    assert!(!jobs_of(&c, "web-api").is_empty());
    assert_eq!(c.event_feedback(&web_api()), Some(clean_feedback()));
}

#[test]
fn an_invalid_rule_group_is_left_out_and_reported_to_its_app() {
    let c = Charm::two_apps(true);
    c.deploy();
    let file = format!(
        "{RULES_DIR}/{}",
        rule_file_of(&c, "node").expect("node-exporter rules")
    );
    let original = c.remote_app_key(&node_exporter(), "alert_rules");
    let groups = original["groups"].as_array().unwrap().len();
    assert!(
        groups >= 2,
        "the fixture has several groups for node-exporter"
    );

    // One bad group: left out of the app's rule file, the other groups stay.
    let mut rules = original.clone();
    rules["groups"][0]["rules"][0]["expr"] = json!("up <");
    c.set_remote_app_key(&node_exporter(), "alert_rules", &rules);
    c.ok(&c.relation_event(&node_exporter(), RelationEventKind::Changed, None));

    let status = c.status();
    assert_eq!(status.kind, StatusKind::Blocked, "{status:?}");
    assert!(
        status.message.starts_with(
            "metrics-endpoint:10 (node-exporter): rule group \"workloads_f4b3a2c1_node_exporter_target_down_rules\" left out: "
        ),
        "{status:?}"
    );
    let content = c.file(&file).expect("the valid groups stay");
    assert!(!content.contains("target_down_rules"), "{content}");
    assert!(!content.contains("NodeExporterTargetDown"), "{content}");
    assert!(content.contains("HostHealth_rules"), "{content}");
    assert!(rule_file_of(&c, "web").is_some());
    assert!(
        !jobs_of(&c, "node-exporter").is_empty(),
        "jobs are not affected"
    );

    let feedback = c.event_feedback(&node_exporter()).expect("event written");
    assert_eq!(feedback["valid"], false, "{feedback}");
    let errors = feedback["errors"].as_str().unwrap();
    assert!(errors.contains("is not valid PromQL"), "{feedback}");
    assert_eq!(feedback["scrape_job_errors"], "", "{feedback}");
    assert_eq!(c.event_feedback(&web_api()), Some(clean_feedback()));

    // Every group bad: no rule file for the app at all (removed from the container).
    for group in 0..groups {
        rules["groups"][group]["rules"][0]["expr"] = json!("sum(");
    }
    c.set_remote_app_key(&node_exporter(), "alert_rules", &rules);
    c.ok(&c.relation_event(&node_exporter(), RelationEventKind::Changed, None));
    assert_eq!(c.status().kind, StatusKind::Blocked);
    assert_eq!(
        rule_file_of(&c, "node"),
        None,
        "{:?}",
        c.dir_entries(RULES_DIR)
    );
    assert!(rule_file_of(&c, "web").is_some());
    assert_eq!(c.event_feedback(&node_exporter()).unwrap()["valid"], false);

    // Fixed: the rule file is back, the error cleared.
    c.set_remote_app_key(&node_exporter(), "alert_rules", &original);
    c.ok(&c.relation_event(&node_exporter(), RelationEventKind::Changed, None));
    assert_eq!(c.status(), Status::active(""));
    assert!(c.file(&file).unwrap().contains("NodeExporterTargetDown"));
    assert_eq!(c.event_feedback(&node_exporter()), Some(clean_feedback()));
}
#[test]
fn a_no_change_hook_with_relations_reads_each_databag_once_and_writes_nothing() {
    let c = Charm::two_apps(true);
    c.deploy();
    c.reset_records();
    c.ok(&Event::ConfigChanged);
    c.assert_active();

    let requests = c.requests();
    assert_eq!(mutating(&requests), Vec::<&RecordedRequest>::new());
    // Measured: 36 hook-tool calls = config-get, is-leader, state-get, 16 × relation-ids (one
    // per endpoint, the only cost of an endpoint without relations), 3 ×
    // relation-list, 12 × relation-get (per metrics-endpoint relation: 2 units, the remote
    // app, our app databag; grafana-source: 1 unit, the remote app, our unit and app
    // databags), opened-ports, status-set; and 3 Pebble reads (manifest, plan, services).
    // (update-status also reads back the managed files: tested in charm_lifecycle.)
    let calls = c.sim.juju.state().calls.clone();
    assert!(c.tool_calls() <= 36, "{calls:?}");
    assert!(calls["relation-get"] <= 12, "{calls:?}");
    assert_eq!(calls.get("relation-set"), None, "{calls:?}");
    assert!(requests.len() <= 3, "{requests:#?}");
}

#[test]
fn relation_changes_while_the_container_is_down_are_applied_when_it_is_back() {
    let c = Charm::two_apps(true);
    c.deploy();
    let web_rules = rule_file_of(&c, "web").expect("web-api rules");
    let before = c.counters();

    c.sim.pebble.set_unreachable(true);
    c.sim.juju.state().remove_relation(&web_api());
    c.ok(&c.relation_event(&web_api(), RelationEventKind::Broken, None));
    assert_eq!(c.status().kind, StatusKind::Waiting);

    // Pebble restarted with the container (files kept on the pod's disk).
    c.sim.pebble.set_unreachable(false);
    c.sim.pebble.restart_container(false);
    c.ok(&pebble_ready());
    c.assert_active();
    assert_eq!(jobs_of(&c, "web-api"), Vec::<String>::new());
    assert!(
        !c.dir_entries(RULES_DIR).contains(&web_rules),
        "stale rule file removed"
    );
    assert!(rule_file_of(&c, "node").is_some());
    let after = c.counters();
    assert_eq!(after.prometheus_starts, before.prometheus_starts + 1);
    assert_eq!(after.reloads, before.reloads, "started on the new files");
}
#[test]
fn a_rule_file_promtool_rejects_is_left_out_and_reported_to_its_app() {
    let c = Charm::two_apps(true);
    c.deploy();
    let original = c.remote_app_key(&web_api(), "alert_rules");
    let before = c.counters();
    // Valid PromQL, so the relation data checks pass it; the Go template is broken, which
    // only promtool sees.
    let mut rules = original.clone();
    rules["groups"][0]["rules"][0]["annotations"]["summary"] = json!("{{ $labels.instance ");
    c.set_remote_app_key(&web_api(), "alert_rules", &rules);
    c.ok(&c.relation_event(&web_api(), RelationEventKind::Changed, None));

    let status = c.status();
    assert_eq!(status.kind, StatusKind::Blocked, "{status:?}");
    assert!(
        status
            .message
            .starts_with("metrics-endpoint:11 (web-api): alert rules rejected by promtool: "),
        "{status:?}"
    );
    assert!(
        status.message.contains("unclosed action"),
        "promtool's words: {status:?}"
    );
    assert_eq!(
        rule_file_of(&c, "web"),
        None,
        "{:?}",
        c.dir_entries(RULES_DIR)
    );
    assert!(
        rule_file_of(&c, "node").is_some(),
        "the other app's rules stay"
    );
    assert!(!jobs_of(&c, "web-api").is_empty(), "its scrape jobs stay");
    let feedback = c.event_feedback(&web_api()).expect("event written");
    assert_eq!(feedback["valid"], false, "{feedback}");
    assert!(
        feedback["errors"]
            .as_str()
            .unwrap()
            .contains("unclosed action"),
        "{feedback}"
    );
    assert_eq!(c.event_feedback(&node_exporter()), Some(clean_feedback()));
    let after = c.counters();
    assert_eq!(
        after.reloads,
        before.reloads + 1,
        "the rest applied by reload"
    );
    assert_eq!(after.prometheus_starts, before.prometheus_starts);

    c.set_remote_app_key(&web_api(), "alert_rules", &original);
    c.ok(&c.relation_event(&web_api(), RelationEventKind::Changed, None));
    c.assert_active();
    assert!(rule_file_of(&c, "web").is_some());
    assert_eq!(c.event_feedback(&web_api()), Some(clean_feedback()));
}

#[test]
fn a_unit_elected_leader_writes_the_feedback_without_touching_the_workload() {
    let c = Charm::two_apps(false);
    c.deploy();
    assert_eq!(c.event_feedback(&node_exporter()), None);
    c.sim.juju.state().set_leader(true);
    c.reset_records();
    c.ok(&Event::LeaderElected);

    c.assert_active();
    assert_eq!(c.event_feedback(&node_exporter()), Some(clean_feedback()));
    assert_eq!(c.event_feedback(&web_api()), Some(clean_feedback()));
    let requests = c.requests();
    assert_eq!(workload_changes(&requests), Vec::<&RecordedRequest>::new());
    assert_eq!(
        written_paths(&requests),
        [MANIFEST_FILE],
        "the record of the new inputs"
    );
}

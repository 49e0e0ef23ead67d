//! The compiled charm driven as Juju drives it: one process per event, `JUJU_*` environment,
//! hook tools on `PATH` backed by a model file, Pebble on a Unix socket, Prometheus' web API on
//! loopback. A whole deployment, a failing hook tool (Juju drops the hook's writes) and an
//! action.

mod common;

use std::path::Path;

use charm_harness::juju::Relation;
use charm_harness::ModelState;
use charm_sim::charm_model_state;
use common::process::ProcessCharm;
use common::*;
use juju_hook::{Event, Port, RelationEventKind, RelationId, Status, StatusKind};
use serde_json::{Map, Value};

/// The relations recorded in the shared fixture, by remote application.
fn fixture_relation(app: &str) -> Relation {
    let mut state = charm_model_state().unwrap();
    state.load_fixture(Path::new(TWO_APPS_FIXTURE)).unwrap();
    state
        .relations
        .iter()
        .find(|r| r.remote_app == app)
        .cloned()
        .unwrap_or_else(|| panic!("{app} in the fixture"))
}

fn leader_state() -> ModelState {
    let mut state = charm_model_state().unwrap();
    state.set_leader(true);
    state
}

fn event(c: &ProcessCharm, rel: &RelationId, kind: RelationEventKind, unit: Option<&str>) -> Event {
    c.state().relation_event(rel, kind, unit)
}

/// Job names of the live prometheus.yml.
fn job_names(c: &ProcessCharm) -> Vec<String> {
    let config: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&common::effective_config::of_container(&c.pebble)).unwrap();
    config["scrape_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|j| j["job_name"].as_str().unwrap().to_string())
        .collect()
}

fn jobs_of(c: &ProcessCharm, app: &str) -> Vec<String> {
    job_names(c)
        .into_iter()
        .filter(|j| j.contains(&format!("_{app}_")))
        .collect()
}

fn rule_files(c: &ProcessCharm) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(c.pebble.host_path("/etc/prometheus/rules"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn event_feedback(c: &ProcessCharm, rel: &RelationId) -> Value {
    let state = c.state();
    let data = &state.relation(rel).expect("relation").local_app_data;
    serde_json::from_str(data.get("event").expect("event key written")).unwrap()
}

/// Adds the fixture's relation to `app` to the model with no data yet, as at
/// `-relation-created`.
fn create_relation(c: &ProcessCharm, app: &str) -> RelationId {
    let rel = fixture_relation(app);
    c.update(|s| s.add_relation_with_id("metrics-endpoint", app, rel.id))
}

/// A remote unit of the fixture's relation joins with its data (and the app's data).
fn join_unit(c: &ProcessCharm, rel: &RelationId, unit: &str) {
    let fixture = fixture_relation(&c.state().relation(rel).unwrap().remote_app);
    c.update(|s| {
        s.set_remote_app_data(rel, &fixture.remote_app_data);
        s.add_remote_unit(rel, unit);
        s.set_remote_unit_data(rel, unit, &fixture.remote_units[unit]);
    });
}

#[track_caller]
fn assert_active(c: &ProcessCharm) {
    assert_eq!(c.status(), Status::active(""));
}

/// What must hold after every step of a healthy deployment: Active, the plan of one
/// Prometheus started once and never restarted, a live configuration the real promtool
/// accepts, nothing left buffered, and clean feedback on every live metrics relation.
#[track_caller]
fn assert_settled(c: &ProcessCharm, relations: &[&RelationId]) {
    assert_active(c);
    let plan = c.pebble.plan();
    // The relation-targets server runs while relation jobs have targets to serve.
    let serving = c
        .file(CONFIG_FILE)
        .is_some_and(|config| config.contains("http_sd_configs"));
    let services: &[&str] = if serving {
        &["prometheus", "relation-targets"]
    } else {
        &["prometheus"]
    };
    assert_eq!(plan.services.keys().collect::<Vec<_>>(), services);
    assert_eq!(plan.checks.keys().collect::<Vec<_>>(), ["prometheus-ready"]);
    assert_eq!(c.pebble.starts("prometheus"), 1);
    assert_eq!(c.pebble.restarts("prometheus"), 0);
    let check = std::process::Command::new("/usr/bin/promtool")
        .args(["check", "config"])
        .arg(c.pebble.host_path(CONFIG_FILE))
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    let state = c.state();
    assert!(state.pending.is_empty());
    for rel in relations {
        assert_eq!(
            event_feedback(c, rel),
            serde_json::json!({"errors": "", "scrape_job_errors": "", "valid": true}),
            "{rel}"
        );
    }
}

#[test]
fn a_full_deployment_through_the_compiled_binary() {
    let c = ProcessCharm::start(&leader_state());

    // The pod is scheduled, the workload container not up yet.
    c.pebble.set_unreachable(true);
    for e in [Event::Install, Event::LeaderElected, Event::ConfigChanged] {
        let out = c.ok(&e);
        assert!(out.stdout.contains("handling event"), "{}", out.stdout);
        assert_eq!(
            c.status(),
            Status::waiting("waiting for Pebble in the prometheus container")
        );
    }
    assert!(c.file(CONFIG_FILE).is_none());

    c.pebble.set_unreachable(false);
    c.ok(&pebble_ready());
    assert_active(&c);
    let plan = c.pebble.plan();
    assert_eq!(plan.services.keys().collect::<Vec<_>>(), ["prometheus"]);
    assert_eq!(plan.checks.keys().collect::<Vec<_>>(), ["prometheus-ready"]);
    assert_eq!(c.pebble.starts("prometheus"), 1);
    assert_eq!(job_names(&c), ["prometheus"]);
    let state = c.state();
    assert_eq!(
        state.opened_ports.iter().copied().collect::<Vec<_>>(),
        [Port::tcp(9090)]
    );
    assert_eq!(state.workload_version.as_deref(), Some("2.42.0"));
    c.ok(&Event::Start);
    assert_settled(&c, &[]);

    // First scrape target: created (no data yet), then its units join.
    let node = create_relation(&c, "node-exporter");
    c.ok(&event(&c, &node, RelationEventKind::Created, None));
    assert_settled(&c, &[&node]);
    assert_eq!(jobs_of(&c, "node-exporter"), Vec::<String>::new());
    for unit in ["node-exporter/0", "node-exporter/1"] {
        join_unit(&c, &node, unit);
        c.ok(&event(&c, &node, RelationEventKind::Joined, Some(unit)));
        c.ok(&event(&c, &node, RelationEventKind::Changed, Some(unit)));
        assert_settled(&c, &[&node]);
    }
    let node_jobs = jobs_of(&c, "node-exporter");
    assert!(!node_jobs.is_empty(), "{:?}", job_names(&c));
    let config = common::effective_config::of_container(&c.pebble);
    assert!(config.contains("10.1.0.10:9100"), "{config}");
    assert!(config.contains("10.1.0.11:9100"), "{config}");
    assert_eq!(rule_files(&c).len(), 1, "{:?}", rule_files(&c));
    assert_eq!(event_feedback(&c, &node)["valid"], true);

    // Second scrape target, all at once.
    let web = create_relation(&c, "web-api");
    join_unit(&c, &web, "web-api/0");
    join_unit(&c, &web, "web-api/1");
    c.ok(&event(&c, &web, RelationEventKind::Created, None));
    c.ok(&event(
        &c,
        &web,
        RelationEventKind::Joined,
        Some("web-api/0"),
    ));
    c.ok(&event(
        &c,
        &web,
        RelationEventKind::Changed,
        Some("web-api/0"),
    ));
    assert_active(&c);
    let web_jobs = jobs_of(&c, "web-api");
    assert!(!web_jobs.is_empty(), "{:?}", job_names(&c));
    let config = common::effective_config::of_container(&c.pebble);
    assert!(config.contains("api-0.example.com:8080"), "{config}");
    assert!(config.contains("metrics_path: /api/v1/metrics"), "{config}");
    assert_eq!(rule_files(&c).len(), 2, "{:?}", rule_files(&c));
    assert_eq!(event_feedback(&c, &web)["valid"], true);
    assert_eq!(c.pebble.starts("prometheus"), 1, "relations never restart");
    let reloads = c.web.reload_count();
    assert!(
        reloads >= 2,
        "each new target applied by reload ({reloads})"
    );

    // A config change applied by reload.
    c.update(|s| s.set_config("evaluation_interval", "30s").unwrap());
    c.ok(&Event::ConfigChanged);
    assert_settled(&c, &[&node, &web]);
    assert!(c
        .file(CONFIG_FILE)
        .unwrap()
        .contains("evaluation_interval: 30s"));
    assert_eq!(c.web.reload_count(), reloads + 1);
    assert_eq!(c.pebble.starts("prometheus"), 1);

    // update-status changes nothing.
    let requests = c.pebble.request_count();
    c.ok(&Event::UpdateStatus);
    assert_settled(&c, &[&node, &web]);
    assert_eq!(c.web.reload_count(), reloads + 1);
    assert_eq!(
        mutating(&c.pebble.requests()[requests..]),
        Vec::<&charm_harness::RecordedRequest>::new()
    );

    // A node-exporter unit departs: its target goes.
    c.update(|s| {
        s.remove_remote_unit(&node, "node-exporter/1");
    });
    c.ok(&event(
        &c,
        &node,
        RelationEventKind::Departed,
        Some("node-exporter/1"),
    ));
    assert_settled(&c, &[&node, &web]);
    let config = common::effective_config::of_container(&c.pebble);
    assert!(config.contains("10.1.0.10:9100"), "{config}");
    assert!(!config.contains("10.1.0.11:9100"), "{config}");
    assert_eq!(c.web.reload_count(), reloads + 2);
    // The wildcard job is expanded per unit: the departed unit's job is gone.
    let node_jobs_left = jobs_of(&c, "node-exporter");
    assert_eq!(
        node_jobs_left.len(),
        node_jobs.len() - 1,
        "{node_jobs_left:?}"
    );

    // web-api goes away: its jobs and rule file too.
    c.update(|s| {
        s.remove_relation(&web);
    });
    c.ok(&event(&c, &web, RelationEventKind::Broken, None));
    assert_settled(&c, &[&node]);
    assert_eq!(jobs_of(&c, "web-api"), Vec::<String>::new());
    assert_eq!(jobs_of(&c, "node-exporter"), node_jobs_left);
    assert_eq!(rule_files(&c).len(), 1, "{:?}", rule_files(&c));
    assert_eq!(c.web.reload_count(), reloads + 3);
    assert_eq!(c.pebble.starts("prometheus"), 1);
    assert_eq!(c.pebble.restarts("prometheus"), 0);
    assert!(c.state().pending.is_empty());
}

#[test]
fn a_failing_hook_tool_fails_the_hook_and_nothing_is_committed() {
    let c = ProcessCharm::start(&leader_state());
    c.ok(&Event::Install);
    c.ok(&pebble_ready());
    assert_active(&c);
    let node = create_relation(&c, "node-exporter");
    join_unit(&c, &node, "node-exporter/0");
    let changed = event(
        &c,
        &node,
        RelationEventKind::Changed,
        Some("node-exporter/0"),
    );

    // relation-get fails: the hook exits non-zero so Juju retries it.
    c.break_tool("relation-get", "connection to the controller lost");
    let out = c.run(&changed);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("connection to the controller lost"),
        "{}",
        out.stderr
    );
    let state = c.state();
    assert!(state.relation(&node).unwrap().local_app_data.is_empty());
    assert!(state.pending.is_empty());
    c.repair_tool("relation-get");

    // A tool failing after relation-set: Juju drops the hook's buffered relation data. (The
    // failed hook above left no databag cache, so this one sends its status again.)
    c.break_tool("status-set", "status-set: controller unavailable");
    let out = c.run(&changed);
    assert_eq!(out.code, Some(1), "{out:?}");
    let state = c.state();
    assert!(
        state.relation(&node).unwrap().local_app_data.is_empty(),
        "{:?}",
        state.relation(&node).unwrap().local_app_data
    );
    assert!(state.pending.is_empty());
    assert!(
        state.calls.get("relation-set").copied().unwrap_or(0) >= 1,
        "the charm did write before failing: {:?}",
        state.calls
    );
    c.repair_tool("status-set");

    // Juju retries the hook: now it goes through and the data is committed.
    c.ok(&changed);
    assert_active(&c);
    assert_eq!(event_feedback(&c, &node)["valid"], true);
}

#[test]
fn validate_configuration_action_reports_promtool_verdict() {
    let c = ProcessCharm::start(&leader_state());
    c.ok(&Event::Install);
    c.ok(&pebble_ready());

    let action = c.update(|s| s.start_action("validate-configuration", Map::new()));
    let out = c.ok(&action);
    let run = c.state().action.expect("action recorded");
    assert_eq!(run.failure, None, "{out:?}");
    assert_eq!(run.results["valid"], "true", "{:?}", run.results);
    let result = run.results["result"].as_str().unwrap();
    assert!(result.contains("SUCCESS"), "{result}");
    assert!(
        result.contains("/etc/prometheus/prometheus.yml"),
        "container path: {result}"
    );

    // Someone broke the live file: the action says so, without failing.
    c.pebble
        .write_file(CONFIG_FILE, "global:\n  scrape_interval: often\n");
    let action = c.update(|s| s.start_action("validate-configuration", Map::new()));
    c.ok(&action);
    let run = c.state().action.expect("action recorded");
    assert_eq!(run.results["valid"], "false", "{:?}", run.results);
    let error = run.results["error-message"].as_str().unwrap();
    assert!(error.contains("often"), "{error}");
    assert_eq!(
        c.status().kind,
        StatusKind::Active,
        "an action sets no status"
    );
}

#[test]
fn invalid_config_blocks_with_exit_zero_and_leaves_the_workload_as_it_was() {
    let c = ProcessCharm::start(&leader_state());
    c.ok(&Event::Install);
    c.ok(&pebble_ready());
    let requests = c.pebble.request_count();
    c.update(|s| s.set_config("log_level", "chatty").unwrap());
    c.ok(&Event::ConfigChanged);
    assert_eq!(
        c.status(),
        Status::blocked(
            r#"invalid config: log_level="chatty": must be one of debug, info, warn, error"#
        )
    );
    // The workload is converged with the last valid options: nothing to change but the
    // charm's record of what it applied for.
    let after = c.pebble.requests();
    assert_eq!(
        common::workload_changes(&after[requests..]),
        Vec::<&charm_harness::RecordedRequest>::new(),
        "the workload untouched"
    );
}

#[test]
fn the_poller_binary_named_by_the_environment_is_pushed_and_run() {
    // The debug charm binary is far larger than a release one: push a small stand-in.
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("poller");
    std::fs::write(&binary, b"#!/bin/sh\nexec sleep 3600\n").unwrap();
    let binary_env = binary.display().to_string();
    let c = ProcessCharm::start_with_env(
        &leader_state(),
        &[("CHARM_POLLER_BINARY", binary_env.as_str())],
    );
    c.ok(&Event::Install);
    c.ok(&pebble_ready());
    assert!(c.pebble.read_file(POLLER_BINARY).is_none());

    c.update(|s| {
        s.set_config("inventory_url", "http://inventory:1337/hosts")
            .unwrap()
    });
    c.ok(&Event::ConfigChanged);
    assert_active(&c);
    assert_eq!(
        c.pebble.read_file(POLLER_BINARY).unwrap(),
        std::fs::read(&binary).unwrap()
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(c.pebble.host_path(POLLER_BINARY))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    let plan = c.pebble.plan();
    let command = plan.services["inventory-sd"].command.clone().unwrap();
    assert!(
        command.starts_with(&format!("{POLLER_BINARY} poll ")),
        "{command}"
    );
    assert_eq!(
        c.pebble.service_status("inventory-sd"),
        Some(charm_harness::ServiceCurrent::Active)
    );
    assert_eq!(c.pebble.starts("prometheus"), 1, "Prometheus only reloaded");
    assert_eq!(c.web.reload_count(), 1);
}

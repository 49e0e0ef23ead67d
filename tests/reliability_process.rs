//! The compiled charm failing half-way through a hook because a hook tool fails AFTER the
//! workload was changed: Juju drops the hook's writes and retries it, and the retry neither
//! pushes nor reloads again (the change was recorded as applied in the workload), while the
//! status and relation data the failed run lost are written.

mod common;

use charm_sim::charm_model_state;
use common::process::ProcessCharm;
use common::*;
use juju_hook::{Event, RelationId, Status, StatusKind};
use serde_json::Value;

/// A deployed leader related to Grafana, with the reload and start counts after deployment.
fn deployed() -> (ProcessCharm, RelationId, usize, usize) {
    let mut state = charm_model_state().unwrap();
    state.set_leader(true);
    let grafana = state.add_relation("grafana-source", "grafana");
    let c = ProcessCharm::start(&state);
    c.ok(&Event::Install);
    c.ok(&Event::LeaderElected);
    c.ok(&pebble_ready());
    assert_eq!(c.status(), Status::active(""));
    let reloads = c.web.reload_count();
    let starts = c.pebble.starts("prometheus");
    (c, grafana, reloads, starts)
}

/// The scrape interval the charm published to Grafana.
fn published_interval(c: &ProcessCharm, grafana: &RelationId) -> Value {
    let state = c.state();
    let data = &state.relation(grafana).unwrap().local_app_data;
    let source: Value = serde_json::from_str(&data["grafana_source_data"]).unwrap();
    source["extra_fields"]["timeInterval"].clone()
}

/// The retry writes what the failed run lost and leaves the workload alone.
#[track_caller]
fn assert_retry_converges(c: &ProcessCharm, reloads: usize, starts: usize) {
    c.pebble.clear_requests();
    let out = c.ok(&Event::ConfigChanged);
    assert_eq!(c.status(), Status::active(""), "{}", out.stderr);
    assert_eq!(c.web.reload_count(), reloads + 1, "not reloaded twice");
    assert_eq!(c.pebble.starts("prometheus"), starts, "never restarted");
    assert_eq!(
        written_paths(&c.pebble.requests()),
        Vec::<String>::new(),
        "nothing pushed again"
    );
}

#[test]
fn relation_data_lost_with_a_failed_hook_is_written_by_the_retry_without_a_second_reload() {
    let (c, grafana, reloads, starts) = deployed();
    assert_eq!(published_interval(&c, &grafana), "1m");

    c.update(|s| s.set_config("scrape_interval", "30s").unwrap());
    c.break_tool("relation-set", "relation-set: controller unavailable");
    let out = c.run(&Event::ConfigChanged);
    assert_eq!(out.code, Some(1), "{out:?}");
    // The workload moved before the failure; the relation data did not.
    assert!(c
        .file(CONFIG_FILE)
        .unwrap()
        .contains("scrape_interval: 30s"));
    assert_eq!(c.web.reload_count(), reloads + 1);
    assert_eq!(published_interval(&c, &grafana), "1m");
    c.repair_tool("relation-set");

    assert_retry_converges(&c, reloads, starts);
    assert_eq!(published_interval(&c, &grafana), "30s");
}

#[test]
fn a_status_lost_with_a_failed_hook_is_set_by_the_retry_without_a_second_reload() {
    let (c, _, reloads, starts) = deployed();
    c.update(|s| s.set_config("log_level", "verbose").unwrap());
    c.ok(&Event::ConfigChanged);
    assert_eq!(c.status().kind, StatusKind::Blocked);

    // Fixed, with a change that applies by reload, and status-set failing at the end.
    c.update(|s| {
        s.set_config("log_level", "info").unwrap();
        s.set_config("evaluation_interval", "45s").unwrap();
    });
    c.break_tool("status-set", "status-set: controller unavailable");
    let out = c.run(&Event::ConfigChanged);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(c
        .file(CONFIG_FILE)
        .unwrap()
        .contains("evaluation_interval: 45s"));
    assert_eq!(c.web.reload_count(), reloads + 1);
    assert_eq!(
        c.status().kind,
        StatusKind::Blocked,
        "the status did not move"
    );
    c.repair_tool("status-set");

    assert_retry_converges(&c, reloads, starts);
}

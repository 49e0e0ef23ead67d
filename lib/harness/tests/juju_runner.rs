//! `HookRunner` runs a charm executable as Juju would; `load_fixture` reads recorded models.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use charm_harness::juju::{HookRunner, ModelState};
use juju_hook::{Event, RelationEventKind, RelationId, Status};
use serde_json::{json, Map};

const FAKE_TOOL: &str = env!("CARGO_BIN_EXE_fake-hook-tool");

/// A stand-in charm: writes its event into its databag, sets status, echoes to both streams,
/// runs an action's tools when dispatched for one, and exits with `$FAIL` (default 0).
const CHARM: &str = r#"#!/bin/sh
set -e
echo "out $JUJU_DISPATCH_PATH"
echo "err $JUJU_UNIT_NAME" >&2
case "$JUJU_DISPATCH_PATH" in
  actions/*)
    action-set "result=$(action-get param)"
    action-log working
    ;;
  *)
    for id in $(relation-ids metrics-endpoint); do
      relation-set -r "$id" "last=$JUJU_HOOK_NAME"
    done
    open-port 9090/tcp
    ;;
esac
status-set active "$JUJU_DISPATCH_PATH"
exit "${FAIL:-0}"
"#;

fn charm(dir: &Path) -> PathBuf {
    let path = dir.join("dispatch");
    std::fs::write(&path, CHARM).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn runner(state: &ModelState) -> (tempfile::TempDir, HookRunner) {
    let dir = tempfile::tempdir().unwrap();
    let charm = charm(dir.path());
    let runner = HookRunner::new(dir.path(), Path::new(FAKE_TOOL), &charm, state).unwrap();
    (dir, runner)
}

#[test]
fn successful_hooks_commit_and_failed_hooks_roll_back() {
    let mut state = ModelState::new("prom", 0);
    let rel = state.add_relation("metrics-endpoint", "ne");
    let (_dir, runner) = runner(&state);

    let out = runner.run(&Event::ConfigChanged).unwrap();
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout, "out hooks/config-changed\n");
    assert_eq!(out.stderr, "err prom/0\n");
    let s = runner.state().unwrap();
    assert_eq!(s.relations[0].local_unit_data["last"], "config-changed");
    assert_eq!(s.opened_ports.len(), 1);
    assert_eq!(s.unit_status, Some(Status::active("hooks/config-changed")));
    assert!(s.pending.is_empty());

    let failing = runner.clone().with_env("FAIL", "3");
    let event = s.relation_event(&rel, RelationEventKind::Changed, None);
    let out = failing.run(&event).unwrap();
    assert_eq!(out.code, Some(3));
    let s = runner.state().unwrap();
    assert_eq!(
        s.relations[0].local_unit_data["last"], "config-changed",
        "the failed hook's relation-set is dropped"
    );
    assert_eq!(
        s.unit_status,
        Some(Status::active("hooks/metrics-endpoint-relation-changed")),
        "status-set is immediate"
    );
    assert!(s.pending.is_empty());
    assert_eq!(s.call_count("relation-set"), 2);
}

#[test]
fn actions_report_results_after_the_hook() {
    let (_dir, runner) = runner(&ModelState::new("prom", 0));
    let mut params = Map::new();
    params.insert("param".into(), json!("42"));
    let event = runner.update(|s| s.start_action("do-it", params)).unwrap();
    let out = runner.run(&event).unwrap();
    assert!(out.success(), "{out:?}");
    let s = runner.state().unwrap();
    let action = s.action.unwrap();
    assert_eq!(action.results["result"], json!("42"));
    assert_eq!(action.logs, vec!["working"]);
}

#[test]
fn fixture_of_real_relation_data_loads() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/prometheus_scrape/two-apps.json");
    check_fixture(&path);
}

fn check_fixture(path: &Path) {
    let charm_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut state = ModelState::from_charm_dir(&charm_dir).unwrap();
    state.load_fixture(path).unwrap();
    assert!(state.leader);
    assert_eq!(state.model_name, "cos");
    assert_eq!(state.unit_name(), "prometheus-k8s/0");
    let rel = state
        .relation(&RelationId::new("metrics-endpoint", 10))
        .expect("relation 10 from the fixture");
    assert_eq!(rel.remote_app, "node-exporter");
    assert_eq!(
        rel.current_units(),
        vec!["node-exporter/0", "node-exporter/1"]
    );
    assert!(rel.remote_app_data.contains_key("scrape_jobs"));
    assert_eq!(
        rel.remote_units["node-exporter/0"]["prometheus_scrape_unit_name"],
        "node-exporter/0"
    );
    // Relations added later get fresh ids.
    let next = state.add_relation("alertmanager", "am");
    assert!(state.relations.iter().filter(|r| r.id == next.id).count() == 1);
}

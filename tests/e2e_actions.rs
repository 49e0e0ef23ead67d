//! The charm's actions end to end: run through the harness as Juju would run them, against
//! the REAL workload (the host's Prometheus and promtool, the charm binary as the inventory
//! poller on loopback), results read from the fake model's action record.

mod common;

use std::path::Path;
use std::time::Duration;

use charm_harness::juju::ActionRun;
use charm_harness::ModelState;
use charm_sim::charm_model_state;
use charm_sim::demo::{self, LiveDeployment, Ports, INVENTORY_JOB};
use common::{have_prometheus, pebble_ready, Charm, CONFIG_FILE};
use juju_hook::{Event, StatusKind};
use prometheus_rs_k8s::core::workload::{INVENTORY_FILE, INVENTORY_SERVICE};
use serde_json::{Map, Value};

/// Prometheus follows file_sd changes within seconds; the first poll happens at start.
const DEADLINE: Duration = Duration::from_secs(30);

/// A deployed leader unit with the real workload, and `options` set before the first hook.
fn deployed(options: &[(&str, &str)]) -> LiveDeployment {
    let mut state: ModelState = charm_model_state().unwrap();
    state.set_leader(true);
    for (key, value) in options {
        state.set_config(key, *value).unwrap();
    }
    let binary = Path::new(env!("CARGO_BIN_EXE_prometheus-rs-k8s"));
    let live = LiveDeployment::start(state, binary, Ports::Ephemeral).unwrap();
    live.run(&Event::ConfigChanged).unwrap();
    live.run(&pebble_ready()).unwrap();
    let status = live.model().unit_status.clone().unwrap();
    assert_eq!(status.kind, StatusKind::Active, "{status}");
    live.wait_ready(DEADLINE).unwrap();
    live
}

/// Runs action `name` as Juju would (the hook must succeed) and returns its record.
fn run_action(live: &LiveDeployment, name: &str) -> ActionRun {
    let event = live.model().start_action(name, Map::new());
    live.run(&event)
        .unwrap_or_else(|e| panic!("{name} failed as a hook: {e:#}"));
    live.model().action.clone().expect("an action record")
}

fn result<'a>(action: &'a ActionRun, key: &str) -> &'a str {
    action
        .results
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {key:?} in {:?}", action.results))
}

/// Targets in the file_sd file the poller wrote (0 when absent).
fn file_sd_targets(live: &LiveDeployment) -> Vec<String> {
    let Some(bytes) = live.sim.pebble.read_file(INVENTORY_FILE) else {
        return Vec::new();
    };
    let groups: Value = serde_json::from_slice(&bytes).expect("file_sd is JSON");
    let mut targets: Vec<String> = (groups.as_array().into_iter().flatten())
        .flat_map(|g| g["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    targets.sort();
    targets
}

/// Number of active targets Prometheus has in the inventory job.
fn prometheus_inventory_targets(live: &LiveDeployment) -> Option<usize> {
    let targets = live.targets().ok()?;
    Some(
        targets
            .iter()
            .filter(|t| t.labels.get("job").map(String::as_str) == Some(INVENTORY_JOB))
            .count(),
    )
}

#[test]
fn refresh_inventory_polls_now_and_reports_the_target_count() {
    if !have_prometheus() {
        return;
    }
    const N: usize = 6;
    const M: usize = 9;
    // Deployed first: the sample inventory is served from the deployment's runtime.
    let live = &deployed(&[
        ("inventory_poll_interval", "1h"),
        ("inventory_timeout", "5s"),
    ]);
    let inventory = live.sample_inventory(N).unwrap();
    let hosts: Vec<String> = (inventory.metrics_addrs().iter())
        .map(ToString::to_string)
        .collect();
    live.model()
        .set_config("inventory_url", inventory.url())
        .unwrap();
    live.run(&Event::ConfigChanged).unwrap();
    assert!(
        live.pid(INVENTORY_SERVICE).is_some(),
        "the poller runs; status {:?}, its log: {}",
        live.model().unit_status,
        std::fs::read_to_string(live.log_dir().join(format!("{INVENTORY_SERVICE}.log")))
            .unwrap_or_else(|e| e.to_string()),
    );
    // The poller polls once as it starts; after that not for an hour.
    let first = demo::wait_for(DEADLINE, || {
        (file_sd_targets(live).len() == N).then_some(())
    });
    assert!(first.is_some(), "first poll: {:?}", file_sd_targets(live));

    let action = run_action(live, "refresh-inventory");
    assert_eq!(action.failure, None, "{action:?}");
    assert_eq!(result(&action, "targets"), N.to_string(), "{action:?}");
    let mut want = hosts.clone();
    want.sort();
    assert_eq!(file_sd_targets(live), want);

    // The inventory changes: the action makes the poller see it at once, not in an hour.
    let new_hosts: Vec<String> = (0..M).map(|i| format!("host-{i}.lab")).collect();
    inventory.set_hosts(&new_hosts);
    let action = run_action(live, "refresh-inventory");
    assert_eq!(action.failure, None, "{action:?}");
    assert_eq!(result(&action, "targets"), M.to_string(), "{action:?}");
    assert_eq!(result(&action, "written"), "true", "{action:?}");
    let mut want: Vec<String> = new_hosts.iter().map(|h| format!("{h}:9100")).collect();
    want.sort();
    assert_eq!(
        file_sd_targets(live),
        want,
        "written before the action returned"
    );
    // And Prometheus follows the file.
    let seen = demo::wait_for(DEADLINE, || {
        (prometheus_inventory_targets(live)? == M).then_some(())
    });
    assert!(
        seen.is_some(),
        "Prometheus has {:?} inventory targets",
        prometheus_inventory_targets(live)
    );
}

#[test]
fn validate_configuration_runs_the_real_promtool_on_the_live_config() {
    if !have_prometheus() {
        return;
    }
    let live = deployed(&[]);
    let action = run_action(&live, "validate-configuration");
    assert_eq!(action.failure, None, "{action:?}");
    assert_eq!(result(&action, "valid"), "true", "{action:?}");
    assert!(result(&action, "result").contains("SUCCESS"), "{action:?}");

    // Someone edits prometheus.yml in the container by hand.
    let path = live.sim.pebble.host_path(CONFIG_FILE);
    std::fs::write(&path, "global:\n  scrape_interval: notaduration\n").unwrap();
    let action = run_action(&live, "validate-configuration");
    assert_eq!(action.failure, None, "{action:?}");
    assert_eq!(result(&action, "valid"), "false", "{action:?}");
    let message = result(&action, "error-message");
    assert!(
        message.contains("not a valid duration string: \"notaduration\""),
        "promtool's message: {message:?}"
    );
}

#[test]
fn refresh_inventory_without_an_inventory_fails_saying_so() {
    // No workload process is involved: the charm refuses before calling the poller.
    let charm = Charm::leader();
    charm.deploy();
    let event = charm
        .sim
        .juju
        .state()
        .start_action("refresh-inventory", Map::new());
    charm.ok(&event);
    let action = charm.sim.juju.state().action.clone().unwrap();
    assert_eq!(
        action.failure.as_deref(),
        Some("inventory_url is not set: there is no inventory to refresh")
    );
    assert!(action.results.is_empty(), "{:?}", action.results);
}

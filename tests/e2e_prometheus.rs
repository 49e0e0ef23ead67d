//! End to end with the REAL workload: the charm in-process against the harness, the fake
//! Pebble running the host's Prometheus 2.42 and the charm's own poller as real processes on
//! loopback, the real promtool validating, and the results read from Prometheus' HTTP API.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use charm_harness::ModelState;
use charm_sim::charm_model_state;
use charm_sim::demo::{self, LiveDeployment, Ports, INVENTORY_JOB};
use common::have_prometheus;
use juju_hook::{Event, RelationData, RelationEventKind, WorkloadEventKind};
use prometheus_rs_k8s::core::workload::{INVENTORY_SERVICE, PROMETHEUS_SERVICE};

/// Prometheus applies file_sd and relation changes within ~5-10 s; scrapes run every 2 s.
const DEADLINE: Duration = Duration::from_secs(30);

fn model(options: &[(&str, &str)]) -> ModelState {
    let mut state = charm_model_state().unwrap();
    state.set_leader(true);
    for (key, value) in [("scrape_interval", "2s"), ("scrape_timeout", "1s")]
        .iter()
        .chain(options)
    {
        state.set_config(key, *value).unwrap();
    }
    state
}

/// The unit with its fakes around, no event run yet.
fn unit(options: &[(&str, &str)]) -> LiveDeployment {
    let binary = Path::new(env!("CARGO_BIN_EXE_prometheus-rs-k8s"));
    LiveDeployment::start(model(options), binary, Ports::Ephemeral).unwrap()
}

/// config-changed then pebble-ready, and Prometheus ready.
fn deploy(live: &LiveDeployment) {
    live.run(&Event::ConfigChanged).unwrap();
    live.run(&Event::Workload {
        container: "prometheus".into(),
        kind: WorkloadEventKind::PebbleReady,
    })
    .unwrap();
    let status = live.model().unit_status.clone().unwrap();
    assert_eq!(status.to_string(), "active", "{status:?}");
    // Detected from the real binary: 2.x, so the rendered config has no 3.x-only keys.
    let version = live.model().workload_version.clone();
    assert_eq!(version, Some(demo::host_prometheus_version().unwrap()));
    live.wait_ready(DEADLINE).unwrap();
}

fn config_changed(live: &LiveDeployment, key: &str, value: &str) {
    live.model().set_config(key, value).unwrap();
    live.run(&Event::ConfigChanged).unwrap();
    let status = live.model().unit_status.clone().unwrap();
    assert_eq!(status.to_string(), "active", "{status:?}");
}

/// Waits until the targets of `job` are exactly `want`, all scraped successfully.
fn wait_up(live: &LiveDeployment, job: &str, want: &BTreeSet<String>) {
    let seen = demo::wait_for(DEADLINE, || {
        let q = format!("up{{job=\"{job}\"}} == 1");
        let rows = live.query(&q).ok()?;
        let up: BTreeSet<String> = rows
            .into_iter()
            .map(|(l, _)| l["instance"].clone())
            .collect();
        let targets = live.targets().ok()?;
        let in_job: Vec<_> = (targets.iter())
            .filter(|t| t.labels["job"] == job)
            .collect();
        let active: BTreeSet<String> = (in_job.iter())
            .map(|t| t.labels["instance"].clone())
            .collect();
        let all_up = in_job.iter().all(|t| t.health == "up");
        (&active == want && all_up && &up == want).then_some(())
    });
    let targets: Vec<String> = (live.targets().unwrap().iter())
        .map(|t| format!("{} {} {}", t.labels["job"], t.labels["instance"], t.health))
        .collect();
    assert!(
        seen.is_some(),
        "want {want:?} up in {job}; targets: {targets:#?}"
    );
}

fn process_gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn inventory_targets_are_discovered_followed_without_reload_and_poll_interval_restarts_only_the_poller(
) {
    if !have_prometheus() {
        return;
    }
    let live = unit(&[
        ("inventory_poll_interval", "2s"),
        ("inventory_timeout", "1s"),
    ]);
    let sample = live.sample_inventory(20).unwrap();
    let hosts: Vec<String> = (sample.metrics_addrs().iter())
        .map(ToString::to_string)
        .collect();
    sample.set_hosts(&hosts[..15]);
    live.model()
        .set_config("inventory_url", sample.url())
        .unwrap();
    deploy(&live);
    wait_up(&live, INVENTORY_JOB, &hosts[..15].iter().cloned().collect());
    let prometheus_pid = live.pid(PROMETHEUS_SERVICE).unwrap();
    let poller_pid = live.pid(INVENTORY_SERVICE).unwrap();
    let loaded = live.last_reload().unwrap();

    // The inventory loses 5 hosts and gains 5 others: followed through file_sd alone.
    sample.set_hosts(&hosts[5..]);
    wait_up(&live, INVENTORY_JOB, &hosts[5..].iter().cloned().collect());
    assert_eq!(live.pid(PROMETHEUS_SERVICE), Some(prometheus_pid));
    assert_eq!(live.pid(INVENTORY_SERVICE), Some(poller_pid));
    assert_eq!(
        live.last_reload(),
        Some(loaded),
        "no reload for inventory changes"
    );

    // A poller option restarts the poller only: Prometheus is neither restarted nor reloaded.
    config_changed(&live, "inventory_poll_interval", "60s");
    let new_poller = live.pid(INVENTORY_SERVICE).unwrap();
    assert_ne!(new_poller, poller_pid, "the poller restarted");
    assert!(process_gone(poller_pid));
    assert_eq!(live.pid(PROMETHEUS_SERVICE), Some(prometheus_pid));
    assert_eq!(live.last_reload(), Some(loaded));
    assert_eq!(live.sim.pebble.restarts(PROMETHEUS_SERVICE), 0);
    let poller_cmd = live.sim.pebble.services_started_with(INVENTORY_SERVICE);
    assert!(poller_cmd
        .unwrap()
        .command
        .unwrap()
        .contains("--interval=60s"));
    // The restarted poller wrote the same targets: nothing changed for Prometheus.
    wait_up(&live, INVENTORY_JOB, &hosts[5..].iter().cloned().collect());

    drop(sample);
    drop(live);
    assert!(process_gone(prometheus_pid) && process_gone(new_poller));
}

#[test]
fn prometheus_yml_changes_are_reloaded_and_relation_jobs_scraped() {
    if !have_prometheus() {
        return;
    }
    let live = unit(&[]);
    deploy(&live);
    let pid = live.pid(PROMETHEUS_SERVICE).unwrap();
    assert_eq!(live.pid(INVENTORY_SERVICE), None, "no inventory, no poller");
    let loaded = live.last_reload().unwrap();
    assert!(live
        .running_config()
        .unwrap()
        .contains("evaluation_interval: 1m"));

    config_changed(&live, "evaluation_interval", "7s");
    assert_eq!(
        live.pid(PROMETHEUS_SERVICE),
        Some(pid),
        "reloaded, not restarted"
    );
    assert_eq!(
        live.own_metric("prometheus_config_last_reload_successful")
            .unwrap(),
        Some(1.0)
    );
    assert!(
        live.last_reload().unwrap() > loaded,
        "the reload time advanced"
    );
    let running = live.running_config().unwrap();
    assert!(running.contains("evaluation_interval: 7s"), "{running}");

    // A related application whose unit is a loopback metrics endpoint, with a wildcard job.
    let endpoint = live.sample_inventory(1).unwrap();
    let port = endpoint.metrics_addrs()[0].port();
    let event = {
        let mut m = live.model();
        let id = m.add_relation("metrics-endpoint", "sensor-app");
        let metadata = serde_json::json!({"model": "lab", "model_uuid": m.model_uuid.clone(),
            "application": "sensor-app", "unit": "sensor-app/0", "charm_name": "sensor-app"});
        let jobs = serde_json::json!([{"static_configs": [{"targets": [format!("*:{port}")]}]}]);
        m.set_remote_app_data(
            &id,
            &RelationData::from([
                ("scrape_metadata".into(), metadata.to_string()),
                ("scrape_jobs".into(), jobs.to_string()),
            ]),
        );
        m.add_remote_unit(&id, "sensor-app/0");
        m.set_remote_unit_data(
            &id,
            "sensor-app/0",
            &RelationData::from([
                ("prometheus_scrape_unit_address".into(), "127.0.0.1".into()),
                ("prometheus_scrape_unit_name".into(), "sensor-app/0".into()),
            ]),
        );
        m.relation_event(&id, RelationEventKind::Changed, Some("sensor-app/0"))
    };
    live.run(&event).unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let target = demo::wait_for(DEADLINE, || {
        let targets = live.targets().ok()?;
        targets.into_iter().find(|t| {
            t.scrape_url == url
                && t.health == "up"
                && t.labels.get("juju_unit").map(String::as_str) == Some("sensor-app/0")
        })
    });
    assert!(
        target.is_some(),
        "relation target never up: {:#?}",
        live.targets().unwrap()
    );
    assert_eq!(
        live.pid(PROMETHEUS_SERVICE),
        Some(pid),
        "still the same process"
    );
    let scraped = demo::wait_for(DEADLINE, || {
        let rows = live
            .query("sensor_temperature_celsius{juju_application=\"sensor-app\"}")
            .ok()?;
        (!rows.is_empty()).then_some(rows)
    });
    assert!(scraped.is_some(), "no samples from the related unit");

    drop(endpoint);
    drop(live);
    assert!(process_gone(pid), "Prometheus stops with the fake Pebble");
}

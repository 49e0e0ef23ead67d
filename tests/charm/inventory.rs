//! The inventory poller through the charm: `inventory_url` adds the `inventory-sd` service and
//! a file_sd scrape job, poller-only options restart only the poller, unsetting the URL
//! disables and stops it, and the charm's own binary is pushed for it when it changed.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::common::*;
use charm_harness::pebble::ServiceRunner;
use charm_harness::ServiceCurrent;
use juju_hook::{Event, StatusKind};
use pebble::{Service, Startup};
use serde_json::{json, Value};

const URL: &str = "http://inventory:1337/inventory";

/// A deployed leader with the inventory configured.
fn deployed_with_inventory() -> Charm {
    let c = Charm::leader();
    c.deploy();
    c.configure("inventory_url", URL);
    c.assert_active();
    c
}

/// The scrape job of this name in the live prometheus.yml.
fn job(c: &Charm, name: &str) -> Option<serde_yaml_ng::Value> {
    c.config_value()["scrape_configs"]
        .as_sequence()?
        .iter()
        .find(|j| j["job_name"].as_str() == Some(name))
        .cloned()
}

fn service_command(c: &Charm, name: &str) -> String {
    c.sim.pebble.plan().services[name]
        .command
        .clone()
        .expect("service has a command")
}

#[test]
fn inventory_url_adds_the_poller_service_and_a_file_sd_job_by_reload() {
    let c = Charm::leader();
    c.deploy();
    let before = c.counters();
    c.reset_records();
    c.configure("inventory_url", URL);
    c.assert_active(); // promtool checked the candidate on the way

    let plan = c.sim.pebble.plan();
    let poller = &plan.services["inventory-sd"];
    assert_eq!(poller.startup, Some(Startup::Enabled));
    let command = poller.command.as_deref().unwrap();
    assert!(
        command.starts_with(&format!(
            "{POLLER_BINARY} poll --inventory-url-file=/etc/prometheus-rs-k8s/inventory-url "
        )),
        "{command}"
    );
    assert!(
        command.contains("--output=/etc/prometheus/file_sd/inventory.json"),
        "{command}"
    );
    assert!(plan.checks.contains_key("inventory-sd-ready"));
    assert_eq!(
        c.sim.pebble.service_status("inventory-sd"),
        Some(ServiceCurrent::Active)
    );

    // prometheus.yml: the file_sd job for the inventory's hosts, relative to /etc/prometheus.
    let inventory = job(&c, "inventory").expect("inventory job");
    assert_eq!(inventory["metrics_path"].as_str(), Some("/metrics"));
    assert_eq!(
        serde_yaml_ng::to_string(&inventory["file_sd_configs"]).unwrap(),
        "- files:\n  - file_sd/*.json\n  refresh_interval: 30s\n"
    );
    assert!(
        job(&c, "inventory-sd").is_some(),
        "the poller's own metrics"
    );

    // Prometheus' definition did not change: reloaded, not restarted; the poller started once.
    let after = c.counters();
    assert_eq!(after.reloads, before.reloads + 1);
    assert_eq!(after.prometheus_starts, before.prometheus_starts);
    assert_eq!((after.inventory_starts, after.inventory_restarts), (1, 0));
    // Simulation has no charm binary to push: only the config moved.
    assert!(!written_paths(&c.requests()).contains(&POLLER_BINARY.to_string()));

    insta::assert_snapshot!("inventory_prometheus_yml", c.config_yaml());
    insta::assert_snapshot!("inventory_plan", c.sim.pebble.plan_yaml());
}

#[test]
fn poller_only_options_restart_only_the_poller() {
    let c = deployed_with_inventory();
    for (option, value, flag) in [
        ("inventory_poll_interval", json!("60s"), "--interval=60s"),
        ("inventory_timeout", json!("5s"), "--timeout=5s"),
        ("inventory_target_port", json!(9200), "--target-port=9200"),
        ("inventory_labels", json!("site=lab"), "--labels=site=lab"),
    ] {
        let before = c.counters();
        let config = c.sim.pebble.read_file(CONFIG_FILE).unwrap();
        let prometheus = service_command(&c, "prometheus");
        c.reset_records();
        c.configure(option, value);

        let after = c.counters();
        assert_eq!(
            after.inventory_restarts,
            before.inventory_restarts + 1,
            "{option}: poller restarted"
        );
        assert_eq!(
            (
                after.prometheus_starts,
                after.prometheus_stops,
                after.reloads
            ),
            (
                before.prometheus_starts,
                before.prometheus_stops,
                before.reloads
            ),
            "{option}: Prometheus neither restarted nor reloaded"
        );
        assert!(
            service_command(&c, "inventory-sd").contains(flag),
            "{option}"
        );
        assert_eq!(service_command(&c, "prometheus"), prometheus, "{option}");
        assert_eq!(
            c.sim.pebble.read_file(CONFIG_FILE).unwrap(),
            config,
            "{option}"
        );
        assert_eq!(
            written_paths(&c.requests()),
            vec![MANIFEST_FILE.to_string()],
            "{option}: only the charm's record of what it applied"
        );
        c.assert_active();
    }
}

#[test]
fn scrape_job_options_reload_prometheus_and_leave_the_poller_running() {
    let c = deployed_with_inventory();
    for (option, value, job_name, path) in [
        (
            "inventory_metrics_path",
            "/node/metrics",
            "inventory",
            "/node/metrics",
        ),
        (
            "inventory_job_name",
            "edge-hosts",
            "edge-hosts",
            "/node/metrics",
        ),
    ] {
        let before = c.counters();
        c.configure(option, value);
        let after = c.counters();
        assert_eq!(after.reloads, before.reloads + 1, "{option}");
        assert_eq!(after.inventory_starts, before.inventory_starts, "{option}");
        assert_eq!(
            after.prometheus_starts, before.prometheus_starts,
            "{option}"
        );
        let j = job(&c, job_name).unwrap_or_else(|| panic!("{option}: job {job_name}"));
        assert_eq!(j["metrics_path"].as_str(), Some(path), "{option}");
        c.assert_active();
    }
    assert!(job(&c, "inventory").is_none(), "renamed, not duplicated");
}

#[test]
fn unsetting_inventory_url_disables_and_stops_the_poller_and_drops_its_jobs() {
    let c = deployed_with_inventory();
    let before = c.counters();
    c.reset_records();
    c.configure("inventory_url", Value::Null);
    c.assert_active();

    let plan = c.sim.pebble.plan();
    // Layers cannot delete a service: it stays as a disabled definition, its check too.
    assert_eq!(
        plan.services["inventory-sd"].startup,
        Some(Startup::Disabled)
    );
    assert_eq!(
        plan.checks["inventory-sd-ready"].startup,
        Some(Startup::Disabled)
    );
    assert_eq!(
        c.sim.pebble.service_status("inventory-sd"),
        Some(ServiceCurrent::Inactive)
    );
    assert_eq!(service_actions(&c.requests(), "stop"), 1);
    assert!(job(&c, "inventory").is_none());
    assert!(job(&c, "inventory-sd").is_none());
    assert!(!c.config_yaml().contains("file_sd"));

    let after = c.counters();
    assert_eq!(after.inventory_stops, before.inventory_stops + 1);
    assert_eq!(
        after.reloads,
        before.reloads + 1,
        "job removal applied by reload"
    );
    assert_eq!(after.prometheus_starts, before.prometheus_starts);

    // Settled: later hooks neither start nor stop anything.
    c.reset_records();
    c.ok(&Event::UpdateStatus);
    assert_eq!(c.counters(), after);
    c.assert_nothing_written();

    // And setting it again brings the poller back.
    c.configure("inventory_url", URL);
    assert_eq!(
        c.sim.pebble.service_status("inventory-sd"),
        Some(ServiceCurrent::Active)
    );
    assert!(job(&c, "inventory").is_some());
}

#[test]
fn the_charm_binary_is_pushed_for_the_poller_only_when_it_changed() {
    let mut c = Charm::leader();
    let binary = c.sim.scratch_dir().join("charm-binary");
    std::fs::write(&binary, b"#!/bin/sh\necho poller v1\n").unwrap();
    c.sim.access.charm_binary = Some(binary.clone());
    c.deploy();
    assert!(
        c.file(POLLER_BINARY).is_none(),
        "not pushed while the inventory is off"
    );

    c.reset_records();
    c.configure("inventory_url", URL);
    c.assert_active();
    assert_eq!(
        c.sim.pebble.read_file(POLLER_BINARY).unwrap(),
        std::fs::read(&binary).unwrap()
    );
    let mode = std::fs::metadata(c.sim.pebble.host_path(POLLER_BINARY))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    let requests = c.requests();
    let push = file_requests(&requests, "write")
        .into_iter()
        .find_map(|r| {
            r.body_json.as_ref().unwrap()["files"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["path"] == POLLER_BINARY)
                .cloned()
        })
        .expect("binary pushed");
    assert_eq!(push["permissions"], "755");
    assert_eq!(c.counters().inventory_starts, 1);

    // Unchanged: not pushed again, poller left alone.
    c.reset_records();
    c.ok(&Event::UpdateStatus);
    c.ok(&Event::ConfigChanged);
    assert_eq!(written_paths(&c.requests()), Vec::<String>::new());
    assert_eq!(c.counters().inventory_starts, 1);

    // A new charm revision: pushed and the poller restarted on it, Prometheus untouched.
    let before = c.counters();
    std::fs::write(&binary, b"#!/bin/sh\necho poller v2, longer\n").unwrap();
    c.reset_records();
    c.ok(&Event::UpgradeCharm);
    c.assert_active();
    assert_eq!(
        written_paths(&c.requests())
            .into_iter()
            .filter(|p| p == POLLER_BINARY)
            .count(),
        1
    );
    assert_eq!(
        c.sim.pebble.read_file(POLLER_BINARY).unwrap(),
        std::fs::read(&binary).unwrap()
    );
    let after = c.counters();
    assert_eq!(after.inventory_restarts, before.inventory_restarts + 1);
    assert_eq!(after.prometheus_starts, before.prometheus_starts);
    assert_eq!(after.reloads, before.reloads);
}

/// Services that start, but whose `inventory-sd` process is found dead while `dead` is set, as
/// a poller that exits at once would be.
#[derive(Default)]
struct DyingPoller {
    dead: AtomicBool,
}

impl ServiceRunner for DyingPoller {
    fn start(&self, _name: &str, _service: &Service, _fs_root: &Path) -> Result<(), String> {
        Ok(())
    }

    fn stop(&self, _name: &str) -> Result<(), String> {
        Ok(())
    }

    fn is_running(&self, name: &str) -> Option<bool> {
        (name == "inventory-sd").then(|| !self.dead.load(Ordering::SeqCst))
    }
}

#[test]
fn a_poller_that_keeps_exiting_blocks_the_unit_until_it_runs_again() {
    let c = deployed_with_inventory();
    let runner = Arc::new(DyingPoller::default());
    c.sim.pebble.set_runner(runner.clone());
    runner.dead.store(true, Ordering::SeqCst);

    c.ok(&Event::UpdateStatus);
    let status = c.status();
    assert_eq!(status.kind, StatusKind::Blocked, "{status:?}");
    assert!(
        status.message.contains("inventory poller keeps exiting")
            && status.message.contains("pebble logs inventory-sd"),
        "{status:?}"
    );
    // Prometheus itself was left running.
    assert_eq!(
        c.sim.pebble.service_status("prometheus"),
        Some(ServiceCurrent::Active)
    );

    runner.dead.store(false, Ordering::SeqCst);
    c.ok(&Event::UpdateStatus);
    c.assert_active();
}

//! Faults in the middle of a hook, against the in-process charm and the harness: Pebble's
//! socket disappearing while promtool runs, promtool missing from the image, a replan that
//! fails while the poller is being added, Prometheus answering the reload slowly. In each case:
//! the hook exits 0 with the status that says what is wrong, the last good configuration is
//! still what Prometheus serves, nothing is recorded as applied, and the next event converges
//! once the fault clears.

use std::sync::mpsc;
use std::time::Duration;

use crate::common::*;
use charm_harness::pebble::exec::real_promtool_handler;
use charm_harness::{ExecResult, ReloadResponse, ServiceCurrent};
use charm_sim::{charm_model_state, Simulation};
use juju_hook::{Event, Status, StatusKind};

/// Bytes of the live prometheus.yml.
fn live_config(c: &Charm) -> Vec<u8> {
    c.sim.pebble.read_file(CONFIG_FILE).expect("prometheus.yml")
}

/// A leader whose workload image has no promtool (exec answers `cannot find executable`).
fn leader_without_promtool() -> Charm {
    let mut state = charm_model_state().expect("charm metadata loads");
    state.set_leader(true);
    Charm {
        sim: Simulation::start(state, PROMETHEUS_VERSION).expect("simulation starts"),
    }
}

fn install_real_promtool(c: &Charm) {
    let promtool = real_promtool_handler("/usr/bin/promtool".into());
    c.sim.pebble.on_exec("promtool", move |req| promtool(req));
}

#[test]
fn socket_gone_while_promtool_runs_waits_keeps_the_live_config_and_recovers() {
    let c = Charm::leader();
    c.deploy();
    let good = live_config(&c);
    let manifest = c.file(MANIFEST_FILE).unwrap();
    let before = c.counters();

    // promtool tells the test it started, then waits until the socket is gone: the container
    // goes away in the middle of the hook, between validation and the push.
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (gone_tx, gone_rx) = mpsc::channel::<()>();
    let started_tx = std::sync::Mutex::new(started_tx);
    let gone_rx = std::sync::Mutex::new(gone_rx);
    let promtool = real_promtool_handler("/usr/bin/promtool".into());
    c.sim.pebble.on_exec("promtool", move |req| {
        let _ = started_tx.lock().unwrap().send(());
        let _ = gone_rx
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(10));
        promtool(req)
    });
    c.set_config("evaluation_interval", "30s");
    let pebble = &c.sim.pebble;
    std::thread::scope(|s| {
        s.spawn(move || {
            if started_rx.recv_timeout(Duration::from_secs(30)).is_ok() {
                pebble.set_unreachable(true);
            }
            let _ = gone_tx.send(());
        });
        c.ok(&Event::ConfigChanged); // exit 0: pebble-ready will come
    });

    // Not "promtool failed": the container is gone, so wait for it.
    assert_eq!(
        c.status(),
        Status::waiting("waiting for Pebble in the prometheus container")
    );
    assert_eq!(live_config(&c), good, "the live config is untouched");
    assert_eq!(c.file(MANIFEST_FILE).unwrap(), manifest, "nothing recorded");
    assert_eq!(c.counters(), before, "no restart, no reload");

    // The container is back (same files): the next event applies the change by reload.
    install_real_promtool(&c);
    c.sim.pebble.set_unreachable(false);
    c.ok(&pebble_ready());
    c.assert_active();
    assert!(c.config_yaml().contains("evaluation_interval: 30s"));
    assert_eq!(c.counters().reloads, before.reloads + 1);
    assert_eq!(c.counters().prometheus_restarts, before.prometheus_restarts);
}

#[test]
fn promtool_missing_from_the_image_blocks_and_nothing_unvalidated_goes_live() {
    let c = leader_without_promtool();
    c.deploy();
    let status = c.status();
    assert_eq!(status.kind, StatusKind::Blocked, "{status:?}");
    assert!(
        status
            .message
            .starts_with("cannot validate configuration: "),
        "{status:?}"
    );
    assert!(
        status.message.contains("cannot find executable"),
        "Pebble's words: {status:?}"
    );
    assert!(c.file(CONFIG_FILE).is_none(), "never pushed unvalidated");
    assert!(c.file(MANIFEST_FILE).is_none());
    assert_eq!(c.counters().prometheus_starts, 0);

    // The image gets its promtool back: the next event starts Prometheus on a checked config.
    install_real_promtool(&c);
    c.ok(&Event::UpdateStatus);
    c.assert_active();
    assert!(c.file(CONFIG_FILE).is_some());
    assert_eq!(c.counters().prometheus_starts, 1);
}

#[test]
fn promtool_vanishing_after_deployment_keeps_serving_the_last_good_config() {
    let c = Charm::leader();
    c.deploy();
    let good = live_config(&c);
    let manifest = c.file(MANIFEST_FILE).unwrap();
    let before = c.counters();

    // An exec that fails like a missing binary does in a real container (no handler).
    c.sim.pebble.on_exec("promtool", |_| ExecResult {
        exit_code: 127,
        stdout: Vec::new(),
        stderr: b"exec: \"/usr/bin/promtool\": stat /usr/bin/promtool: no such file or directory\n"
            .to_vec(),
    });
    c.configure("scrape_interval", "30s");
    let status = c.status();
    assert_eq!(status.kind, StatusKind::Blocked, "{status:?}");
    assert!(status.message.contains("promtool"), "{status:?}");
    assert_eq!(live_config(&c), good);
    assert_eq!(c.file(MANIFEST_FILE).unwrap(), manifest);
    assert_eq!(c.counters(), before);

    install_real_promtool(&c);
    c.ok(&Event::UpdateStatus);
    c.assert_active();
    assert!(c.config_yaml().contains("scrape_interval: 30s"));
    assert_eq!(c.counters().reloads, before.reloads + 1);
}

#[test]
fn a_failing_replan_while_adding_the_poller_keeps_prometheus_and_retries() {
    let c = Charm::leader();
    c.deploy();
    let before = c.counters();
    c.sim
        .pebble
        .fail_change_with("replan", "cannot start service: exec format error");
    c.configure("inventory_url", "http://inventory:1337/inventory");

    let status = c.status();
    assert_eq!(status.kind, StatusKind::Blocked, "{status:?}");
    assert!(status.message.contains("exec format error"), "{status:?}");
    assert!(!status.message.contains('\n'), "{status:?}");
    assert_eq!(
        c.sim.pebble.service_status("prometheus"),
        Some(ServiceCurrent::Active),
        "Prometheus kept running"
    );
    assert_eq!(c.counters().prometheus_starts, before.prometheus_starts);

    // Retried by the next event: the poller starts, Prometheus is never restarted.
    c.ok(&Event::UpdateStatus);
    c.assert_active();
    assert_eq!(
        c.sim.pebble.service_status("inventory-sd"),
        Some(ServiceCurrent::Active)
    );
    assert_eq!(c.counters().prometheus_restarts, before.prometheus_restarts);
    assert!(c.job_names().contains(&"inventory".to_string()));
}

#[test]
fn a_slow_reload_within_the_timeout_is_applied_once() {
    let c = Charm::leader();
    c.deploy();
    let before = c.counters();
    c.sim
        .web
        .set_reload_response(ReloadResponse::Delay(Duration::from_millis(1500)));
    c.configure("evaluation_interval", "45s");
    c.assert_active();
    assert_eq!(c.counters().reloads, before.reloads + 1);
    c.ok(&Event::UpdateStatus);
    assert_eq!(
        c.counters().reloads,
        before.reloads + 1,
        "recorded as applied"
    );
}

#[test]
fn a_pebble_that_drops_away_and_back_between_every_hook_converges_once() {
    let c = Charm::leader();
    c.deploy();
    let before = c.counters();
    // Flapping container: every other hook finds no socket; config changes keep coming.
    for (i, interval) in ["20s", "25s", "35s", "40s"].into_iter().enumerate() {
        c.sim.pebble.set_unreachable(i % 2 == 0);
        c.configure("evaluation_interval", interval);
        let expected_kind = if i % 2 == 0 {
            StatusKind::Waiting
        } else {
            StatusKind::Active
        };
        assert_eq!(c.status().kind, expected_kind, "hook {i}: {:?}", c.status());
    }
    c.sim.pebble.set_unreachable(false);
    c.ok(&Event::UpdateStatus);
    assert_eq!(c.status(), Status::active(""));
    assert!(c.config_yaml().contains("evaluation_interval: 40s"));
    assert_eq!(c.counters().prometheus_restarts, before.prometheus_restarts);
    assert_eq!(
        c.counters().reloads,
        before.reloads + 2,
        "one per reachable change"
    );
}

#[test]
fn socket_gone_while_prometheus_reloads_waits_and_the_retry_reloads_once_more() {
    let c = Charm::leader();
    c.deploy();
    let manifest = c.file(MANIFEST_FILE).unwrap();
    let before = c.counters();
    // Prometheus takes a second to reload; the container's socket goes away meanwhile, so the
    // charm cannot record what it applied.
    c.sim
        .web
        .set_reload_response(ReloadResponse::Delay(Duration::from_millis(1000)));
    c.set_config("evaluation_interval", "50s");
    let (pebble, web) = (&c.sim.pebble, &c.sim.web);
    std::thread::scope(|s| {
        s.spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while web.reload_count() == before.reloads && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            pebble.set_unreachable(true);
        });
        c.ok(&Event::ConfigChanged);
    });
    assert_eq!(
        c.status(),
        Status::waiting("waiting for Pebble in the prometheus container")
    );
    assert_eq!(c.counters().reloads, before.reloads + 1);
    assert!(
        c.config_yaml().contains("evaluation_interval: 50s"),
        "applied"
    );
    // Not recorded: the manifest is the last apply's, and the charm container marks this
    // apply as begun and not complete, so no hook trusts that manifest.
    assert_eq!(c.file(MANIFEST_FILE).unwrap(), manifest, "not recorded");
    assert!(c.book().apply_in_flight(), "marked in flight");

    // Back: the unrecorded change is pushed and reloaded once more (harmless), then recorded.
    c.sim.web.set_reload_response(ReloadResponse::Ok);
    c.sim.pebble.set_unreachable(false);
    c.ok(&pebble_ready());
    c.assert_active();
    assert_eq!(c.counters().reloads, before.reloads + 2);
    assert_ne!(c.file(MANIFEST_FILE).unwrap(), manifest);
    assert!(!c.book().apply_in_flight(), "complete");
    c.ok(&Event::UpdateStatus);
    assert_eq!(c.counters().reloads, before.reloads + 2, "settled");
    assert_eq!(c.counters().prometheus_restarts, before.prometheus_restarts);
}

#[test]
fn a_deleted_inventory_url_file_is_restored_by_update_status_without_restarts() {
    const URL_FILE: &str = "/etc/prometheus-rs-k8s/inventory-url";
    let c = Charm::leader();
    c.deploy();
    c.configure("inventory_url", "http://inventory:1337/inventory");
    let before = c.counters();
    std::fs::remove_file(c.sim.pebble.host_path(URL_FILE)).unwrap();

    c.ok(&Event::UpdateStatus);
    c.assert_active();
    assert_eq!(
        c.file(URL_FILE).as_deref(),
        Some("http://inventory:1337/inventory\n")
    );
    // The poller read it at start and still has it: nothing restarts or reloads.
    assert_eq!(c.counters(), before);
}

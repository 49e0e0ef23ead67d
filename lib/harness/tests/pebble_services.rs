//! Replan semantics, counters, failing and slow changes, through the real client.

mod pebble_support;

use std::time::{Duration, Instant};

use charm_harness::ServiceCurrent;
use pebble::{Layer, Override, Service, Startup};
use pebble_support::{client, fake, raw, raw_json};
use serde_json::json;

const T: Duration = Duration::from_secs(5);

fn service(command: &str, env: &[(&str, &str)]) -> Service {
    Service {
        r#override: Some(Override::Replace),
        command: Some(command.into()),
        startup: Some(Startup::Enabled),
        environment: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Service::default()
    }
}

fn layer(prometheus_env: &str) -> Layer {
    let mut layer = Layer::default();
    layer.services.insert(
        "prometheus".into(),
        service(
            "/bin/prometheus --config.file=/etc/prometheus/prometheus.yml",
            &[("CONFIG_HASH", prometheus_env)],
        ),
    );
    layer.services.insert(
        "inventory-sd".into(),
        service("/opt/prometheus-rs-k8s/prometheus-rs-k8s poll", &[]),
    );
    layer
}

#[test]
fn replan_starts_enabled_services_and_records_their_definition() {
    let (_dir, fake) = fake();
    let c = client(&fake);
    c.add_layer("prometheus-rs-k8s", &layer("a"), true).unwrap();
    // Adding a layer alone starts nothing.
    assert_eq!(
        fake.service_status("prometheus"),
        Some(ServiceCurrent::Inactive)
    );
    let change = c.replan(T).unwrap();
    assert!(change.is_success());
    assert_eq!(change.summary, "Replan service \"inventory-sd\" and 1 more");
    assert_eq!(
        fake.service_status("prometheus"),
        Some(ServiceCurrent::Active)
    );
    assert_eq!(
        fake.service_status("inventory-sd"),
        Some(ServiceCurrent::Active)
    );
    assert_eq!(fake.service_status("nope"), None);
    assert_eq!(fake.starts("prometheus"), 1);
    assert_eq!(fake.restarts("prometheus"), 0);
    let started = fake.services_started_with("prometheus").unwrap();
    assert_eq!(started.environment["CONFIG_HASH"], "a");
    assert!(c.services(&[]).unwrap().iter().all(|s| s.is_running()));
}

#[test]
fn replan_restarts_only_services_whose_definition_changed() {
    let (_dir, fake) = fake();
    let c = client(&fake);
    c.add_layer("prometheus-rs-k8s", &layer("a"), true).unwrap();
    c.replan(T).unwrap();

    c.add_layer("prometheus-rs-k8s", &layer("b"), true).unwrap();
    let change = c.replan(T).unwrap();
    assert_eq!(change.summary, "Replan service \"prometheus\"");
    let kinds: Vec<&str> = change.tasks.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["stop", "start"]);
    assert_eq!(fake.restarts("prometheus"), 1);
    assert_eq!(fake.starts("prometheus"), 2);
    assert_eq!(fake.stops("prometheus"), 1);
    assert_eq!(fake.restarts("inventory-sd"), 0);
    assert_eq!(fake.starts("inventory-sd"), 1);
    assert_eq!(
        fake.services_started_with("prometheus")
            .unwrap()
            .environment["CONFIG_HASH"],
        "b"
    );
}

#[test]
fn replan_with_nothing_to_do_is_a_done_change_without_tasks() {
    let (_dir, fake) = fake();
    let c = client(&fake);
    c.add_layer("prometheus-rs-k8s", &layer("a"), true).unwrap();
    c.replan(T).unwrap();
    // Re-adding the identical layer and replanning touches nothing.
    c.add_layer("prometheus-rs-k8s", &layer("a"), true).unwrap();
    let change = c.replan(T).unwrap();
    assert_eq!(change.summary, "Replan - no services");
    assert_eq!(change.status, "Done");
    assert!(change.tasks.is_empty());
    assert_eq!(fake.restarts("prometheus"), 0);
    assert_eq!(fake.starts("prometheus"), 1);
}

#[test]
fn replan_starts_an_enabled_service_that_was_stopped() {
    let (_dir, fake) = fake();
    let c = client(&fake);
    c.add_layer("l", &layer("a"), true).unwrap();
    c.replan(T).unwrap();
    c.stop_services(&["inventory-sd"], T).unwrap();
    assert_eq!(
        fake.service_status("inventory-sd"),
        Some(ServiceCurrent::Inactive)
    );
    let change = c.replan(T).unwrap();
    assert_eq!(change.summary, "Replan service \"inventory-sd\"");
    assert_eq!(
        fake.service_status("inventory-sd"),
        Some(ServiceCurrent::Active)
    );
    assert_eq!(fake.restarts("inventory-sd"), 0);
    assert_eq!(fake.starts("inventory-sd"), 2);
}

#[test]
fn restart_counts_only_for_running_services() {
    let (_dir, fake) = fake();
    let c = client(&fake);
    c.add_layer("l", &layer("a"), true).unwrap();
    c.restart_services(&["prometheus"], T).unwrap();
    // Not running before: a plain start.
    assert_eq!(fake.restarts("prometheus"), 0);
    assert_eq!(fake.starts("prometheus"), 1);
    c.restart_services(&["prometheus"], T).unwrap();
    assert_eq!(fake.restarts("prometheus"), 1);
    // Starting a running service is a no-op task.
    let change = c.start_services(&["prometheus"], T).unwrap();
    assert_eq!(
        change.tasks[0].log,
        ["Service \"prometheus\" already started."]
    );
    assert_eq!(fake.starts("prometheus"), 2);
}

#[test]
fn a_failed_change_reaches_the_client_as_change_failed() {
    let (_dir, fake) = fake();
    let c = client(&fake);
    c.add_layer("l", &layer("a"), true).unwrap();
    fake.fail_change_with("replan", "exited quickly with code 1");
    let err = c.replan(T).unwrap_err();
    match &err {
        pebble::Error::ChangeFailed { kind, err, .. } => {
            assert_eq!(kind, "replan");
            assert!(err.starts_with("cannot perform the following tasks:\n- Start service"));
            assert!(err.ends_with("(exited quickly with code 1)"), "{err}");
        }
        other => panic!("expected ChangeFailed, got {other:?}"),
    }
    assert_eq!(
        fake.service_status("inventory-sd"),
        Some(ServiceCurrent::Error)
    );
    // One-shot: the next replan works.
    assert!(c.replan(T).unwrap().is_success());
    assert_eq!(
        fake.service_status("inventory-sd"),
        Some(ServiceCurrent::Active)
    );
}

#[test]
fn wait_times_out_with_504_while_a_change_is_running() {
    let (_dir, fake) = fake();
    let c = client(&fake);
    c.add_layer("l", &layer("a"), true).unwrap();
    fake.delay_changes("replan", Duration::from_millis(1500));
    let (status, body) = raw_json(
        &fake,
        "POST",
        "/v1/services",
        Some(json!({"action": "replan"})),
    );
    assert_eq!(status, 202);
    let id = body["change"].as_str().unwrap().to_string();

    let started = Instant::now();
    let (status, body) = raw_json(
        &fake,
        "GET",
        &format!("/v1/changes/{id}/wait?timeout=0.2s"),
        None,
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(status, 504);
    assert_eq!(
        body,
        json!({"type": "error", "status-code": 504, "status": "Gateway Timeout",
               "result": {"message": "timed out waiting for change after 200ms"}})
    );
    let (_, body) = raw_json(&fake, "GET", &format!("/v1/changes/{id}"), None);
    assert_eq!(body["result"]["status"], "Doing");
    assert_eq!(body["result"]["ready"], false);

    // The client keeps re-asking past 504s until the change is done.
    let change = c.wait_change(&id, T).unwrap();
    assert_eq!(change.status, "Done");
    assert_eq!(
        fake.service_status("prometheus"),
        Some(ServiceCurrent::Active)
    );

    let (status, _) = raw(&fake, "GET", "/v1/changes/1/wait?timeout=bogus", None);
    assert_eq!(status, 400);
}

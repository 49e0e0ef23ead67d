//! Faults a charm must survive: Pebble unreachable, one-shot API errors, container restarts.

mod pebble_support;

use std::time::Duration;

use charm_harness::ServiceCurrent;
use pebble::PushOptions;
use pebble_support::{add_demo_layer, client, fake, raw_json};
use serde_json::json;

#[test]
fn unreachable_pebble_is_a_connect_error_until_it_comes_back() {
    let (_dir, fake) = fake();
    let c = client(&fake);
    c.system_info().unwrap();

    fake.set_unreachable(true);
    assert!(fake.is_unreachable());
    assert!(!fake.socket_path().exists());
    let err = c.system_info().unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    let before = fake.request_count();
    // (A streamed multipart body may surface as a body error rather than a connect error.)
    c.push("/etc/x", b"x", &PushOptions::default()).unwrap_err();
    assert_eq!(fake.request_count(), before);
    assert!(fake.read_file("/etc/x").is_none());

    fake.set_unreachable(false);
    assert!(!fake.is_unreachable());
    c.system_info().unwrap();
}

#[test]
fn fail_next_answers_one_matching_request_with_an_error_envelope() {
    let (_dir, fake) = fake();
    fake.fail_next("POST", "/v1/layers", 500, "internal error");
    let c = client(&fake);
    // A request that does not match is untouched.
    c.system_info().unwrap();
    let layer = pebble::Layer::default();
    let err = c.add_layer("l", &layer, true).unwrap_err();
    match &err {
        pebble::Error::Api {
            status_code,
            message,
            ..
        } => {
            assert_eq!(*status_code, 500);
            assert_eq!(message, "internal error");
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    // One-shot: the retry goes through, and both attempts were recorded.
    c.add_layer("l", &layer, true).unwrap();
    let layer_posts = fake
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/layers")
        .count();
    assert_eq!(layer_posts, 2);

    fake.fail_next("get", "/v1/files", 403, "access denied");
    let (status, body) = raw_json(&fake, "GET", "/v1/files?action=list&path=/", None);
    assert_eq!(status, 403);
    assert_eq!(
        body,
        json!({"type": "error", "status-code": 403, "status": "Forbidden", "result": {"message": "access denied"}})
    );
}

#[test]
fn container_restart_forgets_layers_services_and_changes() {
    let (_dir, fake) = fake();
    let c = client(&fake);
    add_demo_layer(&fake);
    c.replan(Duration::from_secs(5)).unwrap();
    fake.mount_storage("/var/lib/prometheus");
    fake.write_file("/var/lib/prometheus/wal/000001", "data");
    fake.write_file("/etc/prometheus/prometheus.yml", "global: {}\n");
    let boot_id = fake.boot_id();

    fake.restart_container(false);
    assert_ne!(fake.boot_id(), boot_id);
    assert!(fake.layers().is_empty());
    assert_eq!(fake.service_status("sleeper"), None);
    assert!(fake.changes().is_empty());
    // Counters survive, so a test can still tell what happened before.
    assert_eq!(fake.starts("sleeper"), 1);
    // Files are kept without wiping.
    assert!(fake.read_file("/etc/prometheus/prometheus.yml").is_some());
    // The same client reconnects to the new Pebble.
    assert_eq!(c.system_info().unwrap().boot_id, fake.boot_id());
    assert_eq!(c.get_plan().unwrap(), pebble::Plan::default());

    add_demo_layer(&fake);
    c.replan(Duration::from_secs(5)).unwrap();
    assert_eq!(fake.service_status("sleeper"), Some(ServiceCurrent::Active));
    fake.restart_container(true);
    assert!(fake.read_file("/etc/prometheus/prometheus.yml").is_none());
    assert_eq!(
        fake.read_file("/var/lib/prometheus/wal/000001").unwrap(),
        b"data"
    );
}

#[test]
fn image_layers_come_first_and_survive_a_container_restart() {
    let (_dir, fake) = fake();
    let image: pebble::Layer = pebble::Layer::from_yaml(
        "services:\n  base:\n    override: replace\n    command: sleep 1\n    startup: disabled\n",
    )
    .unwrap();
    fake.add_image_layer("000-image", &image);
    add_demo_layer(&fake);
    let labels: Vec<String> = fake.layers().into_iter().map(|(l, _)| l).collect();
    assert_eq!(labels, ["000-image", "demo"]);
    assert!(fake.plan().services.contains_key("base"));

    fake.restart_container(false);
    let labels: Vec<String> = fake.layers().into_iter().map(|(l, _)| l).collect();
    assert_eq!(labels, ["000-image"]);
    assert_eq!(fake.service_status("base"), Some(ServiceCurrent::Inactive));
}

#[test]
fn a_container_restart_starts_the_image_layers_checks_afresh() {
    let (_dir, fake) = fake();
    let image = pebble::Layer::from_yaml(
        "checks:\n  image-check:\n    override: replace\n    level: alive\n    tcp:\n      port: 1\n",
    )
    .unwrap();
    fake.add_image_layer("000-image", &image);
    add_demo_layer(&fake);
    let c = client(&fake);
    let names = |c: &pebble::Client| -> Vec<String> {
        c.checks(None, &[])
            .unwrap()
            .into_iter()
            .map(|i| i.name)
            .collect()
    };
    assert_eq!(names(&c), ["image-check", "sleeper-alive"]);
    assert_eq!(c.stop_checks(&["image-check"]).unwrap(), ["image-check"]);

    fake.restart_container(false);
    // The API-added layer's check is gone; the image's runs again as a new boot's first change.
    assert_eq!(names(&c), ["image-check"]);
    let check = c.checks(None, &[]).unwrap().remove(0);
    assert_eq!(check.status, pebble::CheckStatus::Up);
    assert_eq!(check.change_id.as_deref(), Some("1"));
    assert_eq!(fake.changes().len(), 1);
}

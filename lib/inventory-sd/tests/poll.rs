//! Poll cycles against a real HTTP inventory on loopback: formats, failures, keep-last-good.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::{config, poller, sensors, snapshot, targets};
use inventory_sd::metrics::PollResult;
use inventory_sd::sample::{Fault, SampleInventory};
use inventory_sd::PollError;
use serde_json::json;

#[tokio::test]
async fn host_names_become_sorted_targets_with_the_default_port() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&inv.url(), dir.path());
    let out = cfg.output.clone();
    let p = poller(cfg);
    let s = p.poll().await.unwrap();
    assert_eq!((s.targets, s.skipped, s.written), (100, 0, true));
    assert_eq!(targets(&out), sensors(100, 9100));
    let content = fs::read_to_string(&out).unwrap();
    // Byte order: `sensor_10:` sorts before `sensor_1:` (`0` < `:`).
    assert!(
        content
            .starts_with("[{\"targets\":[\"sensor_0:9100\",\"sensor_10:9100\",\"sensor_11:9100\""),
        "{content}"
    );
    assert!(
        content.ends_with("]\n") && !content.contains("  "),
        "compact JSON"
    );
    assert_eq!(
        fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert!(!dir.path().join("file_sd/.inventory.json.tmp").exists());
    assert_eq!(p.metrics().polls(PollResult::success), 1);
    assert_eq!(p.metrics().targets.get(), 100);
    assert!(p.metrics().last_success.get() > 1.7e9);
}

#[tokio::test]
async fn host_port_entries_are_kept_and_http_sd_groups_keep_their_labels() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&inv.url(), dir.path());
    cfg.labels = [("env".to_string(), "prod".to_string())].into();
    cfg.target_port = 9200;
    let out = cfg.output.clone();
    let p = poller(cfg);

    inv.set_hosts(["b:8080", "a", "b:8080"]);
    p.poll().await.unwrap();
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        "[{\"targets\":[\"a:9200\",\"b:8080\"],\"labels\":{\"env\":\"prod\"}}]\n"
    );

    inv.set_json(&json!([
        {"targets": ["z:1", "y"], "labels": {"env": "lab", "rack": "r1"}},
        {"targets": ["x:2"]}
    ]));
    let s = p.poll().await.unwrap();
    assert_eq!(s.targets, 3);
    let groups: serde_json::Value = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
    assert_eq!(
        groups,
        json!([
            {"targets": ["y:9200", "z:1"], "labels": {"env": "lab", "rack": "r1"}},
            {"targets": ["x:2"], "labels": {"env": "prod"}}
        ])
    );
}

#[tokio::test]
async fn a_really_empty_inventory_writes_an_empty_list() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&inv.url(), dir.path());
    let out = cfg.output.clone();
    let p = poller(cfg);
    p.poll().await.unwrap();
    inv.set_hosts(Vec::<String>::new());
    let s = p.poll().await.unwrap();
    assert_eq!((s.targets, s.written), (0, true));
    assert_eq!(fs::read(&out).unwrap(), b"[]\n");
    assert_eq!(p.metrics().targets.get(), 0);
}

#[tokio::test]
async fn unchanged_inventory_does_not_touch_the_file() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&inv.url(), dir.path());
    let out = cfg.output.clone();
    let p = poller(cfg);
    assert!(p.poll().await.unwrap().written);
    let before = snapshot(&out);
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Same set in another order with duplicates: same canonical output.
    let mut shuffled: Vec<String> = (0..100).rev().map(|i| format!("sensor_{i}")).collect();
    shuffled.push("sensor_5".into());
    inv.set_hosts(shuffled);
    for _ in 0..3 {
        assert!(!p.poll().await.unwrap().written);
    }
    assert_eq!(snapshot(&out), before);
    assert_eq!(p.metrics().file_writes.get(), 1);
    assert_eq!(p.metrics().polls(PollResult::success), 4);
}

#[tokio::test]
async fn invalid_entries_are_skipped_and_counted() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&inv.url(), dir.path());
    let out = cfg.output.clone();
    let p = poller(cfg);
    inv.set_hosts([
        "ok",
        "",
        "two words",
        "http://x:1/metrics",
        "h:70000",
        "h/x",
    ]);
    let s = p.poll().await.unwrap();
    assert_eq!((s.targets, s.skipped), (1, 5));
    assert_eq!(targets(&out), vec!["ok:9100"]);
    p.poll().await.unwrap();
    assert_eq!(p.metrics().skipped_entries.get(), 10);
}

/// Runs `fault` against a poller holding a good file and checks that the poll fails with
/// `expected`, the file is untouched, and the inventory saw `requests` requests.
async fn assert_failure_keeps_last_good(
    setup: impl FnOnce(&SampleInventory, &mut inventory_sd::PollerConfig),
    expected: PollResult,
    requests: u64,
) {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&inv.url(), dir.path());
    // The good poll is done by a first poller with the default limits.
    let good = poller(cfg.clone());
    good.poll().await.unwrap();
    let before = snapshot(&cfg.output);
    setup(&inv, &mut cfg);
    let p = poller(cfg.clone());
    let base = inv.requests();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let err = p.poll().await.unwrap_err();
    assert_eq!(err.result(), expected, "{err}");
    assert_eq!(inv.requests() - base, requests, "requests for {expected:?}");
    assert_eq!(snapshot(&cfg.output), before, "file must stay as it was");
    assert_eq!(p.metrics().polls(expected), 1);
    assert_eq!(p.metrics().polls(PollResult::success), 0);
    assert_eq!(p.metrics().consecutive_failures.get(), 1);
    assert_eq!(p.metrics().targets.get(), 100, "last good loaded at start");
    let leftovers: Vec<_> = fs::read_dir(cfg.output.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn an_inventory_with_nothing_valid_keeps_the_last_good_file() {
    assert_failure_keeps_last_good(
        |inv, _| {
            inv.set_json(&json!([
                "two words",
                "http://x:1/metrics",
                {"targets": ["a:1"], "labels": {"job": "prometheus"}}
            ]))
        },
        PollResult::malformed,
        1,
    )
    .await;
}

#[tokio::test]
async fn timeout_is_retried_then_fails() {
    assert_failure_keeps_last_good(
        |inv, _| {
            inv.set_fault(Fault {
                delay_ms: 400,
                ..Fault::default()
            })
        },
        PollResult::timeout,
        3,
    )
    .await;
}

#[tokio::test]
async fn a_slowly_dripping_body_times_out() {
    assert_failure_keeps_last_good(
        |inv, _| {
            inv.set_fault(Fault {
                drip_bytes: Some(50),
                drip_interval_ms: 20,
                ..Fault::default()
            })
        },
        PollResult::timeout,
        3,
    )
    .await;
}

#[tokio::test]
async fn persistent_500_is_an_http_error_after_all_attempts() {
    assert_failure_keeps_last_good(
        |inv, _| {
            inv.set_fault(Fault {
                status: Some(500),
                ..Fault::default()
            })
        },
        PollResult::http_error,
        3,
    )
    .await;
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    assert_failure_keeps_last_good(
        |inv, _| {
            inv.set_fault(Fault {
                status: Some(404),
                ..Fault::default()
            })
        },
        PollResult::http_error,
        1,
    )
    .await;
}

#[tokio::test]
async fn malformed_json_is_not_retried() {
    assert_failure_keeps_last_good(
        |inv, _| inv.set_raw("<html>oops</html>"),
        PollResult::malformed,
        1,
    )
    .await;
}

#[tokio::test]
async fn wrong_json_types_fail() {
    for body in [
        "null",
        "{\"hosts\": []}",
        "[1, 2]",
        "[\"a\", null]",
        "\"a\"",
    ] {
        assert_failure_keeps_last_good(|inv, _| inv.set_raw(body), PollResult::malformed, 1).await;
    }
}

#[tokio::test]
async fn truncated_json_is_malformed() {
    assert_failure_keeps_last_good(
        |inv, _| {
            inv.set_fault(Fault {
                truncate: true,
                ..Fault::default()
            })
        },
        PollResult::malformed,
        1,
    )
    .await;
}

#[tokio::test]
async fn a_cut_connection_is_a_retried_transport_error() {
    assert_failure_keeps_last_good(
        |inv, _| {
            inv.set_fault(Fault {
                abort: true,
                ..Fault::default()
            })
        },
        PollResult::transport_error,
        3,
    )
    .await;
}

#[tokio::test]
async fn oversized_body_with_content_length_fails() {
    assert_failure_keeps_last_good(
        |inv, cfg| {
            cfg.max_body_bytes = 4096;
            inv.set_fault(Fault {
                oversize_bytes: Some(10_000),
                ..Fault::default()
            })
        },
        PollResult::too_large,
        1,
    )
    .await;
}

#[tokio::test]
async fn oversized_chunked_body_is_stopped_while_streaming() {
    assert_failure_keeps_last_good(
        |inv, cfg| {
            cfg.max_body_bytes = 4096;
            inv.set_fault(Fault {
                oversize_bytes: Some(1_000_000),
                drip_bytes: Some(1024),
                drip_interval_ms: 1,
                ..Fault::default()
            })
        },
        PollResult::too_large,
        1,
    )
    .await;
}

#[tokio::test]
async fn too_many_targets_fail() {
    assert_failure_keeps_last_good(
        |_, cfg| cfg.max_targets = 99,
        PollResult::too_many_targets,
        1,
    )
    .await;
}

#[tokio::test]
async fn transient_503_and_500_are_retried_within_one_cycle() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = poller(config(&inv.url(), dir.path()));
    inv.set_fault(Fault {
        status: Some(503),
        times: Some(2),
        ..Fault::default()
    });
    let s = p.poll().await.unwrap();
    assert_eq!(s.targets, 100);
    assert_eq!(inv.requests(), 3);
    inv.set_fault(Fault {
        status: Some(500),
        times: Some(1),
        ..Fault::default()
    });
    p.poll().await.unwrap();
    assert_eq!(inv.requests(), 5);
    assert_eq!(p.metrics().polls(PollResult::success), 2);
    assert_eq!(p.metrics().consecutive_failures.get(), 0);
}

#[tokio::test]
async fn outage_keeps_the_file_then_recovery_writes_the_new_list() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&inv.url(), dir.path());
    let out = cfg.output.clone();
    let p = poller(cfg);
    p.poll().await.unwrap();
    let before = snapshot(&out);

    inv.set_fault(Fault {
        status: Some(503),
        ..Fault::default()
    });
    for n in 1..=3 {
        assert!(matches!(p.poll().await, Err(PollError::Fetch(_))));
        assert_eq!(p.metrics().consecutive_failures.get(), n);
    }
    assert_eq!(snapshot(&out), before);
    assert_eq!(p.metrics().targets.get(), 100);

    inv.clear_fault();
    inv.set_hosts((0..7).map(|i| format!("sensor_{i}")));
    let s = p.poll().await.unwrap();
    assert_eq!((s.targets, s.written), (7, true));
    assert_eq!(targets(&out), sensors(7, 9100));
    assert_eq!(p.metrics().consecutive_failures.get(), 0);
    assert_eq!(p.metrics().polls(PollResult::http_error), 3);
}

#[tokio::test]
async fn connection_refused_keeps_the_file() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&inv.url(), dir.path());
    let out = cfg.output.clone();
    poller(cfg.clone()).poll().await.unwrap();
    let before = snapshot(&out);
    inv.stop().await;
    let p = poller(cfg);
    let err = p.poll().await.unwrap_err();
    assert_eq!(err.result(), PollResult::transport_error, "{err}");
    assert_eq!(snapshot(&out), before);
}

#[tokio::test]
async fn restart_loads_the_last_good_file_and_keeps_it_during_an_outage() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&inv.url(), dir.path());
    let out = cfg.output.clone();
    poller(cfg.clone()).poll().await.unwrap();
    let before = snapshot(&out);

    inv.set_fault(Fault {
        status: Some(502),
        ..Fault::default()
    });
    let restarted = poller(cfg);
    assert_eq!(restarted.metrics().targets.get(), 100);
    assert!(restarted.poll().await.is_err());
    assert_eq!(snapshot(&out), before);
    assert_eq!(restarted.metrics().targets.get(), 100);
}

#[tokio::test]
async fn credentials_are_sent_but_never_reported() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = inv.url().replace("http://", "http://scraper:s3cr3t@");
    let p = poller(config(&url, dir.path()));
    p.poll().await.unwrap();
    // "scraper:s3cr3t" in base64.
    assert_eq!(
        inv.last_authorization().as_deref(),
        Some("Basic c2NyYXBlcjpzM2NyM3Q=")
    );
    inv.set_fault(Fault {
        status: Some(500),
        ..Fault::default()
    });
    let err = p.poll().await.unwrap_err();
    let seen = format!(
        "{err} {err:?} {:?} {} {}",
        p.config(),
        p.health().reason,
        p.metrics().encode()
    );
    assert!(!seen.contains("s3cr3t"), "{seen}");
}

#[tokio::test]
async fn concurrent_polls_never_overlap() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = poller(config(&inv.url(), dir.path()));
    inv.set_fault(Fault {
        delay_ms: 30,
        ..Fault::default()
    });
    let start = Instant::now();
    let polls: Vec<_> = (0..4)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move { p.poll().await })
        })
        .collect();
    for t in polls {
        t.await.unwrap().unwrap();
    }
    assert_eq!(inv.requests(), 4);
    assert_eq!(inv.max_in_flight(), 1);
    assert!(start.elapsed() >= Duration::from_millis(120));
}

#[tokio::test]
async fn poll_once_writes_and_reports_the_count() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&inv.url(), dir.path());
    cfg.once = true;
    let out = cfg.output.clone();
    let s = inventory_sd::poll_once(cfg.clone()).await.unwrap();
    assert_eq!(s.targets, 100);
    assert_eq!(targets(&out).len(), 100);
    inv.set_raw("[");
    assert!(inventory_sd::poll_once(cfg).await.is_err());
    assert_eq!(targets(&out).len(), 100);
}

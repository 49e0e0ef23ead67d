//! The running service: poll loop, `/metrics`, `/health`, `POST /refresh`, graceful stop,
//! and a reader that never sees a partial file.

mod common;

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{config, targets};
use inventory_sd::sample::{Fault, SampleInventory};

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn loop_polls_every_interval_and_stops_gracefully() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&inv.url(), dir.path());
    cfg.interval = Duration::from_millis(200);
    cfg.timeout = Duration::from_millis(100);
    let out = cfg.output.clone();
    let svc = inventory_sd::start(cfg).await.unwrap();
    wait_for("first poll", || out.exists()).await;
    assert_eq!(inv.requests(), 1, "the first poll runs at once");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let n = inv.requests();
    assert!((2..=5).contains(&n), "{n} polls in ~0.5s at 200ms");

    inv.set_hosts(["new_host"]);
    wait_for("the new list", || targets(&out) == vec!["new_host:9100"]).await;

    let stop_started = Instant::now();
    svc.stop().await.unwrap();
    assert!(stop_started.elapsed() < Duration::from_secs(1));
    let after = inv.requests();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(inv.requests(), after, "no poll after stop");
}

#[tokio::test]
async fn run_returns_when_the_shutdown_future_completes() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&inv.url(), dir.path());
    let out = cfg.output.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(inventory_sd::run(cfg, async move {
        let _ = rx.await;
    }));
    wait_for("first poll", || out.exists()).await;
    tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .expect("run stops")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_busy_listen_address_is_an_error() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&inv.url(), dir.path());
    cfg.listen = inv.addr();
    let err = inventory_sd::start(cfg).await.unwrap_err();
    assert!(err.to_string().contains("cannot listen"), "{err}");
}

#[tokio::test]
async fn metrics_endpoint_exposes_every_metric() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&inv.url(), dir.path());
    let out = cfg.output.clone();
    let svc = inventory_sd::start(cfg).await.unwrap();
    wait_for("first poll", || out.exists()).await;
    // The counters are updated just after the file is written: read until the poll is counted.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let text = loop {
        let resp = reqwest::get(format!("http://{}/metrics", svc.local_addr()))
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"));
        let text = resp.text().await.unwrap();
        if text.contains("inventory_sd_polls_total{result=\"success\"} 1")
            || tokio::time::Instant::now() > deadline
        {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for line in [
        "inventory_sd_polls_total{result=\"success\"} 1",
        "inventory_sd_polls_total{result=\"http_error\"} 0",
        "inventory_sd_polls_total{result=\"timeout\"} 0",
        "inventory_sd_polls_total{result=\"malformed\"} 0",
        "inventory_sd_polls_total{result=\"too_large\"} 0",
        "inventory_sd_consecutive_failures 0",
        "inventory_sd_targets 100",
        "inventory_sd_skipped_entries_total 0",
        "inventory_sd_poll_duration_seconds_count 1",
        "inventory_sd_file_writes_total 1",
        "inventory_sd_build_info{version=\"0.1.0\"} 1",
        "# TYPE inventory_sd_last_success_timestamp_seconds gauge",
    ] {
        assert!(text.contains(line), "missing `{line}` in\n{text}");
    }
    svc.stop().await.unwrap();
}

#[tokio::test]
async fn health_turns_503_when_failures_outlast_the_staleness_limit() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&inv.url(), dir.path());
    cfg.interval = Duration::from_millis(100);
    cfg.timeout = Duration::from_millis(50);
    cfg.retry.attempts = 1;
    cfg.stale_after = Duration::from_millis(300);
    let svc = inventory_sd::start(cfg).await.unwrap();
    let url = format!("http://{}/health", svc.local_addr());
    let health = || async {
        let r = reqwest::get(&url).await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    wait_for("first poll", || inv.requests() >= 1).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (status, body) = health().await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("ok"), "{body}");

    inv.set_fault(Fault {
        status: Some(503),
        ..Fault::default()
    });
    let failing_since = Instant::now();
    let (status, body) = health().await;
    assert_eq!(status, 200, "failures younger than the limit: {body}");
    let mut last = (status, body);
    while last.0 == 200 && failing_since.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        last = health().await;
    }
    assert_eq!(last.0, 503, "{}", last.1);
    assert!(last.1.starts_with("stale:"), "{}", last.1);
    assert!(last.1.contains("HTTP status 503"), "{}", last.1);
    assert!(failing_since.elapsed() >= Duration::from_millis(250));

    inv.clear_fault();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let (status, body) = health().await;
        if status == 200 {
            assert!(body.starts_with("ok"), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "health did not recover: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    svc.stop().await.unwrap();
}

#[tokio::test]
async fn refresh_polls_now_and_reports_the_count_or_the_error() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&inv.url(), dir.path());
    cfg.interval = Duration::from_secs(3600);
    let out = cfg.output.clone();
    let svc = inventory_sd::start(cfg).await.unwrap();
    wait_for("first poll", || out.exists()).await;
    inv.set_hosts(["a", "b", "c"]);
    let client = reqwest::Client::new();
    let url = format!("http://{}/refresh", svc.local_addr());
    let resp = client.post(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"targets": 3, "skipped": 0, "written": true})
    );
    assert_eq!(targets(&out).len(), 3);

    inv.set_raw("{");
    let resp = client.post(&url).send().await.unwrap();
    assert_eq!(resp.status(), 502);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["result"], "malformed");
    assert_eq!(targets(&out).len(), 3);
    svc.stop().await.unwrap();
}

/// A reader polling the file in a tight loop never sees a missing, partial or invalid file
/// while the service replaces it with many different target sets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_see_a_partial_file() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&inv.url(), dir.path());
    cfg.interval = Duration::from_secs(3600);
    let out: PathBuf = cfg.output.clone();
    let svc = inventory_sd::start(cfg).await.unwrap();
    wait_for("first poll", || out.exists()).await;

    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let reader = {
        let (done, reads, out) = (done.clone(), reads.clone(), out.clone());
        std::thread::spawn(move || -> Result<(), String> {
            while !done.load(Ordering::Relaxed) {
                let bytes = fs::read(&out).map_err(|e| format!("read: {e}"))?;
                let v: serde_json::Value = serde_json::from_slice(&bytes)
                    .map_err(|e| format!("partial file ({} bytes): {e}", bytes.len()))?;
                let n = v[0]["targets"].as_array().map_or(0, Vec::len);
                if n == 0 {
                    return Err("empty target list".into());
                }
                reads.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        })
    };
    let poller = svc.poller().clone();
    let mut writes = 0;
    for round in 0..150usize {
        // Sizes from 1 to ~3000 hosts so some writes take more than one write(2).
        let n = 1 + (round * 997) % 3000;
        inv.set_hosts((0..n).map(|i| format!("host_{round}_{i}")));
        writes += usize::from(poller.poll().await.unwrap().written);
    }
    done.store(true, Ordering::Relaxed);
    reader.join().unwrap().unwrap();
    assert_eq!(writes, 150);
    assert!(reads.load(Ordering::Relaxed) > 100, "the reader did run");
    svc.stop().await.unwrap();
}

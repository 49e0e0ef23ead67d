//! An inventory that flaps: good answers interleaved with 503s, truncated and cut bodies,
//! garbage, answers slower than the timeout and oversized bodies, over and over. The file
//! always holds the last good list (never an empty or partial one), each failure is counted
//! under its own `result`, `consecutive_failures` resets on every success, `/health` stays up
//! while the last success is fresh, and every good answer is followed.

mod common;

use std::time::{Duration, Instant};

use common::{config, targets};
use inventory_sd::metrics::PollResult;
use inventory_sd::sample::{Fault, SampleInventory};

async fn wait_requests(inv: &SampleInventory, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while inv.requests() < n {
        assert!(Instant::now() < deadline, "the poller stopped polling");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn list(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn expected(prefix: &str, n: usize) -> Vec<String> {
    let mut v: Vec<String> = list(prefix, n)
        .iter()
        .map(|h| format!("{h}:9100"))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_inventory_never_costs_the_last_good_targets() {
    let inv = SampleInventory::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&inv.url(), dir.path());
    cfg.interval = Duration::from_millis(100);
    cfg.timeout = Duration::from_millis(80);
    cfg.retry.attempts = 1;
    cfg.max_body_bytes = 64 * 1024;
    cfg.stale_after = Duration::from_secs(30);
    let out = cfg.output.clone();
    let svc = inventory_sd::start(cfg).await.unwrap();
    let health_url = format!("http://{}/health", svc.local_addr());

    let faults = [
        (
            Fault {
                status: Some(503),
                ..Fault::default()
            },
            PollResult::http_error,
        ),
        (
            Fault {
                truncate: true,
                ..Fault::default()
            },
            PollResult::malformed,
        ),
        (
            Fault {
                abort: true,
                ..Fault::default()
            },
            PollResult::transport_error,
        ),
        (
            Fault {
                delay_ms: 300,
                ..Fault::default()
            },
            PollResult::timeout,
        ),
        (
            Fault {
                oversize_bytes: Some(256 * 1024),
                ..Fault::default()
            },
            PollResult::too_large,
        ),
    ];
    for round in 0..3 {
        for (i, (fault, result)) in faults.iter().enumerate() {
            // A good answer, followed.
            let (prefix, n) = (format!("r{round}f{i}h"), 5 + i);
            inv.clear_fault();
            inv.set_hosts(list(&prefix, n));
            let deadline = Instant::now() + Duration::from_secs(10);
            // The file is written just before the metrics are updated: wait for both.
            while !out.exists()
                || targets(&out) != expected(&prefix, n)
                || svc.poller().metrics().consecutive_failures.get() != 0
            {
                assert!(
                    Instant::now() < deadline,
                    "round {round}: good answer not followed"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let good = std::fs::read(&out).unwrap();

            // Then the fault for a few polls: the file does not move.
            let before = svc.poller().metrics().polls(*result);
            inv.set_fault(fault.clone());
            wait_requests(&inv, inv.requests() + 3).await;
            if matches!(result, PollResult::timeout) {
                // Slow answers end in the poller's timeout, not in the server's count.
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            assert!(
                svc.poller().metrics().polls(*result) > before,
                "round {round}: {result:?} counted"
            );
            assert!(svc.poller().metrics().consecutive_failures.get() >= 1);
            assert_eq!(
                std::fs::read(&out).unwrap(),
                good,
                "round {round}: {result:?}"
            );
            assert_eq!(
                svc.poller().metrics().targets.get(),
                i64::try_from(n).unwrap(),
                "the targets gauge keeps the last good count"
            );
            let health = reqwest::get(&health_url).await.unwrap();
            assert_eq!(health.status().as_u16(), 200, "fresh enough: still healthy");
        }
    }
    // Garbage that is valid JSON of the wrong shape, then empty-looking bodies.
    for body in [&b"{\"hosts\": 1}"[..], b"null", b"", b"\xff\xfe"] {
        let good = std::fs::read(&out).unwrap();
        inv.clear_fault();
        inv.set_raw(body.to_vec());
        wait_requests(&inv, inv.requests() + 2).await;
        assert_eq!(std::fs::read(&out).unwrap(), good, "{body:?}");
    }
    svc.stop().await.unwrap();
}

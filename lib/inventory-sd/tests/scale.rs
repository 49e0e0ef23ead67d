//! 100k hosts: the whole cycle stays fast and the output is what Prometheus expects.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{config, poller};
use inventory_sd::parse::{parse_inventory, ParseOptions};
use inventory_sd::sample::SampleInventory;

#[tokio::test]
async fn one_hundred_thousand_hosts() {
    let inv = SampleInventory::start().await.unwrap();
    inv.set_hosts((0..100_000).map(|i| format!("sensor_{i}")));
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&inv.url(), dir.path());
    cfg.timeout = Duration::from_secs(1);
    let out = cfg.output.clone();
    let p = poller(cfg);

    let started = Instant::now();
    let s = p.poll().await.unwrap();
    let cycle = started.elapsed();
    assert_eq!((s.targets, s.written), (100_000, true));
    let size = std::fs::metadata(&out).unwrap().len();
    // Compact JSON: about 20 bytes per `"sensor_N:9100",`.
    assert!((1_900_000..2_200_000).contains(&size), "{size} bytes");

    let started = Instant::now();
    assert!(!p.poll().await.unwrap().written);
    let unchanged = started.elapsed();

    let body = serde_json::to_vec(
        &(0..100_000)
            .map(|i| format!("sensor_{i}"))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let labels = BTreeMap::new();
    let started = Instant::now();
    let inventory = parse_inventory(
        &body,
        ParseOptions {
            target_port: 9100,
            max_targets: 100_000,
            labels: &labels,
        },
    )
    .unwrap();
    let rendered = inventory.render();
    let parse_render = started.elapsed();
    assert_eq!(rendered.len() as u64, size);

    eprintln!(
        "100k hosts: first cycle {cycle:?}, unchanged cycle {unchanged:?}, parse+render {parse_render:?}, file {size} bytes"
    );
    // Generous bound for unoptimized test builds on a busy 2-core machine.
    assert!(cycle < Duration::from_secs(5), "{cycle:?}");
}

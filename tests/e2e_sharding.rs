//! Sharding end to end with REAL Prometheus processes on loopback: two units of a sharded
//! application, each run by the charm in-process over the harness (fake Pebble running the
//! host's Prometheus 2.42 and the charm's poller), scrape a shared inventory of loopback
//! metrics endpoints and remote-write to a third Prometheus started as a receiver. Through the
//! receiver's query API every target's `up` series arrives exactly once, and the two units'
//! active targets are disjoint and together complete. Scaled down to one unit, the remaining
//! unit takes over every target and each target is still one series at the receiver.

mod common;

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use charm_sim::charm_model_state;
use charm_sim::demo::{self, LiveDeployment, Ports, INVENTORY_JOB};
use juju_hook::{Event, RelationData, WorkloadEventKind};
use serde_json::Value;

use common::have_prometheus;

/// The application (the charm's name in the harness model).
const APP: &str = "prometheus-rs-k8s";
/// Number of inventory hosts (each a real loopback `/metrics` endpoint).
const TARGETS: usize = 12;
/// Scrapes every second, remote write batches within 5 s: well within this.
const DEADLINE: Duration = Duration::from_secs(30);

/// A Prometheus accepting remote write, with nothing to scrape; killed when dropped.
struct Receiver {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Receiver {
    fn start() -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();
        let port = charm_harness::ports::unused_port().unwrap();
        let log = File::create(dir.path().join("receiver.log")).unwrap();
        let child = Command::new(demo::HOST_PROMETHEUS)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Receiver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("receiver.log")
    }

    /// An instant query's vector result as (labels, value).
    fn query(&self, promql: &str) -> Option<Vec<(Value, f64)>> {
        let url = format!("{}/api/v1/query", self.url);
        let url = reqwest::Url::parse_with_params(&url, [("query", promql)]).ok()?;
        let body: Value = reqwest::blocking::get(url).ok()?.json().ok()?;
        let rows = body["data"]["result"].as_array()?.clone();
        rows.into_iter()
            .map(|r| {
                let value = r["value"][1].as_str()?.parse().ok()?;
                Some((r["metric"].clone(), value))
            })
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Unit `n` of a sharded two-unit application writing to `receiver`, deployed and ready.
fn unit(n: u32, inventory_url: Option<&str>, receiver: &Receiver) -> LiveDeployment {
    let mut state = charm_model_state().unwrap();
    state.unit_number = n;
    state.set_leader(n == 0);
    state.set_planned_units(2);
    for (key, value) in [
        ("scrape_sharding", Value::Bool(true)),
        ("scrape_interval", "1s".into()),
        ("scrape_timeout", "1s".into()),
        ("inventory_poll_interval", "2s".into()),
        ("inventory_timeout", "1s".into()),
    ] {
        state.set_config(key, value).unwrap();
    }
    if let Some(url) = inventory_url {
        state.set_config("inventory_url", url).unwrap();
    }
    let peers = state.add_relation("prometheus-peers", APP);
    state.add_remote_unit(&peers, &format!("{APP}/{}", 1 - n));
    let rel = state.add_relation("send-remote-write", "receiver");
    state.add_remote_unit(&rel, "receiver/0");
    let write_url = format!("{}/api/v1/write", receiver.url);
    let data = RelationData::from([(
        "remote_write".to_string(),
        serde_json::json!({ "url": write_url }).to_string(),
    )]);
    state.set_remote_unit_data(&rel, "receiver/0", &data);

    let binary = Path::new(env!("CARGO_BIN_EXE_prometheus-rs-k8s"));
    LiveDeployment::start(state, binary, Ports::Ephemeral).unwrap()
}

fn deploy(live: &LiveDeployment) {
    live.run(&Event::ConfigChanged).unwrap();
    live.run(&Event::Workload {
        container: "prometheus".into(),
        kind: WorkloadEventKind::PebbleReady,
    })
    .unwrap();
    let status = live.model().unit_status.clone().unwrap();
    assert_eq!(status.to_string(), "active", "{status:?}");
    live.wait_ready(DEADLINE).unwrap();
}

/// Inventory targets this unit has active (any health).
fn active_inventory(live: &LiveDeployment) -> BTreeSet<String> {
    live.targets()
        .unwrap()
        .into_iter()
        .filter(|t| t.labels.get("job").map(String::as_str) == Some(INVENTORY_JOB))
        .map(|t| t.labels["instance"].clone())
        .collect()
}

#[test]
fn two_shards_scrape_disjoint_halves_and_the_receiver_gets_every_target_once() {
    if !have_prometheus() {
        return;
    }
    let receiver = Receiver::start();
    // Unit 0 also hosts the sample inventory (its runtime serves the endpoints).
    let unit0 = unit(0, None, &receiver);
    let inventory = unit0.sample_inventory(TARGETS).unwrap();
    unit0
        .model()
        .set_config("inventory_url", inventory.url())
        .unwrap();
    let unit1 = unit(1, Some(&inventory.url()), &receiver);
    deploy(&unit0);
    deploy(&unit1);

    let all: BTreeSet<String> = inventory
        .metrics_addrs()
        .iter()
        .map(ToString::to_string)
        .collect();
    // Both units discovered the inventory and kept their shares.
    let shares = demo::wait_for(DEADLINE, || {
        let (a, b) = (active_inventory(&unit0), active_inventory(&unit1));
        let union: BTreeSet<String> = a.union(&b).cloned().collect();
        (union == all).then_some((a, b))
    });
    let (a, b) = shares.unwrap_or_else(|| {
        panic!(
            "active inventory targets never covered all {TARGETS}: unit 0 {:?}, unit 1 {:?}",
            active_inventory(&unit0),
            active_inventory(&unit1)
        )
    });
    assert!(
        a.is_disjoint(&b),
        "shared targets: {:?}",
        a.intersection(&b)
    );
    assert!(
        !a.is_empty() && !b.is_empty(),
        "a shard is empty: {a:?} {b:?}"
    );
    // The split is Prometheus' hashmod, which the charm's own implementation reproduces.
    let expected: BTreeSet<String> = all
        .iter()
        .filter(|t| prometheus_rs_k8s::core::sharding::hashmod(t, 2) == 0)
        .cloned()
        .collect();
    assert_eq!(a, expected, "unit 0 keeps the targets whose hashmod is 0");

    // Every target's `up` arrives at the receiver exactly once, from the unit scraping it,
    // carrying this application's external labels.
    let query = format!(
        "count by (instance) (up{{job=\"{INVENTORY_JOB}\",juju_application=\"prometheus-rs-k8s\"}})"
    );
    let rows = demo::wait_for(DEADLINE, || {
        let rows = receiver.query(&query)?;
        (rows.len() == TARGETS).then_some(rows)
    });
    let rows = rows.unwrap_or_else(|| {
        panic!(
            "receiver never had all {TARGETS} instances: {:?}\nreceiver log: {}",
            receiver.query(&query),
            std::fs::read_to_string(receiver.log()).unwrap_or_default()
        )
    });
    let instances: BTreeSet<String> = rows
        .iter()
        .map(|(m, _)| m["instance"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(instances, all);
    for (metric, count) in &rows {
        assert_eq!(*count, 1.0, "{metric} arrived from more than one unit");
    }
    let total = receiver
        .query(&format!("count(up{{job=\"{INVENTORY_JOB}\"}})"))
        .unwrap();
    assert_eq!(total[0].1, TARGETS as f64);
    // No replica label on shards: a target keeps its series identity whichever unit scrapes it.
    let replicas = receiver.query("count(up{__replica__!=\"\"})").unwrap();
    assert!(replicas.is_empty(), "{replicas:?}");

    // Scale down to one unit: unit 1 departs, unit 0 takes over every target, and at the
    // receiver each target is still one series.
    drop(unit1);
    let stopped = Instant::now();
    let departed = {
        let mut m = unit0.model();
        m.set_planned_units(1);
        let peers = m
            .relations
            .iter()
            .find(|r| r.endpoint == "prometheus-peers")
            .map(|r| juju_hook::RelationId::new("prometheus-peers", r.id))
            .unwrap();
        m.relation_event(
            &peers,
            juju_hook::RelationEventKind::Departed,
            Some(&format!("{APP}/1")),
        )
    };
    unit0.run(&departed).unwrap();
    let status = unit0.model().unit_status.clone().unwrap();
    assert_eq!(status.to_string(), "active", "{status:?}");
    assert!(
        demo::wait_for(DEADLINE, || (active_inventory(&unit0) == all).then_some(())).is_some(),
        "unit 0 alone never scraped every target: {:?}",
        active_inventory(&unit0)
    );
    let taken_over: BTreeSet<String> = b.iter().cloned().collect();
    // Past the window, unit 1's last samples no longer count.
    std::thread::sleep(Duration::from_secs(3).saturating_sub(stopped.elapsed()));
    let fresh = demo::wait_for(DEADLINE, || {
        // Samples of unit 1's former targets younger than 2 s can only come from unit 0 now.
        let q = format!("count by (instance) (count_over_time(up{{job=\"{INVENTORY_JOB}\"}}[2s]))");
        let rows = receiver.query(&q)?;
        let seen: BTreeSet<String> = rows
            .iter()
            .map(|(m, _)| m["instance"].as_str().unwrap_or_default().to_string())
            .collect();
        taken_over.is_subset(&seen).then_some(rows)
    });
    let rows = fresh.expect("unit 1's former targets reach the receiver from unit 0");
    assert!(rows.iter().all(|(_, count)| *count == 1.0), "{rows:?}");
    let rows = receiver.query(&query).unwrap();
    assert_eq!(rows.len(), TARGETS, "{rows:?}");
    assert!(rows.iter().all(|(_, count)| *count == 1.0), "{rows:?}");
}

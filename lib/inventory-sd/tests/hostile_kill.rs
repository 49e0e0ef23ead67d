//! The real poller process killed with SIGKILL at random moments while it rewrites a large
//! target file, again and again: the file Prometheus reads is always complete, parseable JSON
//! holding one of the lists the inventory served; a restart during an outage keeps that last
//! good file; when the inventory is back the file follows it. The URL comes from
//! `--inventory-url-file`, as under the charm.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use inventory_sd::sample::{Fault, SampleInventory};

/// Hosts of inventory version `v`: large enough that writing the file takes a while.
const BASE_HOSTS: usize = 120_000;

fn hosts(v: usize) -> Vec<String> {
    (0..BASE_HOSTS + v).map(|i| format!("h{i}")).collect()
}

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_poller(url_file: &Path, out: &Path) -> Guard {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_inventory-sd"));
    for (k, _) in std::env::vars() {
        if k.starts_with("INVENTORY_SD_") {
            cmd.env_remove(k);
        }
    }
    let child = cmd
        .arg(format!("--inventory-url-file={}", url_file.display()))
        .arg(format!("--output={}", out.display()))
        .args(["--interval=200ms", "--timeout=190ms", "--attempts=1"])
        .args(["--listen=127.0.0.1:0", "--max-targets=1000000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the poller starts");
    Guard(child)
}

/// The file parses and is exactly one version's complete list; returns that version.
fn check_complete(out: &Path, served_max: usize) -> usize {
    let bytes = std::fs::read(out).expect("the file exists");
    let groups: serde_json::Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("partial file ({e}), {} bytes", bytes.len()));
    let targets: Vec<&str> = groups
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["targets"].as_array().unwrap())
        .map(|t| t.as_str().unwrap())
        .collect();
    let v = targets.len() - BASE_HOSTS;
    assert!(v <= served_max, "version {v} was never served");
    let mut expected: Vec<String> = hosts(v).iter().map(|h| format!("{h}:9100")).collect();
    expected.sort();
    assert_eq!(targets, expected, "complete list of version {v}");
    v
}

#[test]
fn sigkill_mid_write_never_leaves_a_partial_file_and_restarts_keep_the_last_good_one() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let inv = runtime.block_on(SampleInventory::start()).unwrap();
    inv.set_hosts(hosts(0));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("file_sd/inventory.json");
    let url_file = dir.path().join("inventory-url");
    std::fs::write(&url_file, format!("{}\n", inv.url())).unwrap();

    // The inventory changes every 60 ms, so nearly every poll rewrites the file.
    let version = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let inv = Arc::new(inv);
    let changer = {
        let (inv, version, stop) = (inv.clone(), version.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let v = version.fetch_add(1, Ordering::SeqCst) + 1;
                inv.set_hosts(hosts(v % 50));
                std::thread::sleep(Duration::from_millis(60));
            }
        })
    };

    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut tmp_seen = 0;
    for round in 0..12 {
        let mut poller = start_poller(&url_file, &out);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !out.exists() {
            assert!(Instant::now() < deadline, "round {round}: no file");
            std::thread::sleep(Duration::from_millis(5));
        }
        let tmp = dir.path().join("file_sd/.inventory.json.tmp");
        if round % 2 == 0 {
            // xorshift: a different moment in each round, reproducible from run to run.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            std::thread::sleep(Duration::from_millis(50 + seed % 400));
        } else {
            // Aimed: as soon as the poller is writing its temporary file.
            let deadline = Instant::now() + Duration::from_secs(5);
            while !tmp.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        poller.0.kill().unwrap(); // SIGKILL
        poller.0.wait().unwrap();
        if tmp.exists() {
            tmp_seen += 1;
        }
        check_complete(&out, 49);
        // What Prometheus' `file_sd/*.json` glob sees: only the complete file.
        let names: Vec<String> = std::fs::read_dir(dir.path().join("file_sd"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        assert_eq!(names, ["inventory.json"], "round {round}");
    }
    stop.store(true, Ordering::Relaxed);
    changer.join().unwrap();
    eprintln!("killed while a temporary file existed in {tmp_seen} of 12 rounds");
    assert!(tmp_seen > 0, "no kill landed in the middle of a write");

    // Restart during an outage: the last good file stays exactly as it is.
    let before = std::fs::read(&out).unwrap();
    inv.set_fault(Fault {
        status: Some(503),
        ..Fault::default()
    });
    let requests = inv.requests();
    let mut poller = start_poller(&url_file, &out);
    let deadline = Instant::now() + Duration::from_secs(10);
    while inv.requests() < requests + 3 {
        assert!(
            Instant::now() < deadline,
            "the restarted poller does not poll"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        poller.0.try_wait().unwrap().is_none(),
        "keeps running through failures"
    );
    assert_eq!(std::fs::read(&out).unwrap(), before, "last good file kept");

    // The inventory is back: the file follows it without a restart.
    inv.set_hosts(hosts(7));
    inv.clear_fault();
    let deadline = Instant::now() + Duration::from_secs(10);
    while check_complete(&out, 49) != 7 {
        assert!(
            Instant::now() < deadline,
            "the file did not follow the inventory"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    poller.0.kill().unwrap();
    let _ = poller.0.wait();
}

//! Shared helpers: a poller config with short timings against a sample inventory.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use inventory_sd::config::RetryPolicy;
use inventory_sd::{Poller, PollerConfig};

/// A config with ms timings: interval 2s, timeout 150ms, 3 attempts, 5ms backoff base.
pub fn config(url: &str, dir: &Path) -> PollerConfig {
    let mut c = PollerConfig::new(url, dir.join("file_sd/inventory.json")).expect("valid config");
    c.interval = Duration::from_secs(2);
    c.timeout = Duration::from_millis(150);
    c.retry = RetryPolicy {
        attempts: 3,
        base: Duration::from_millis(5),
    };
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.validate().expect("valid config");
    c
}

pub fn poller(config: PollerConfig) -> Arc<Poller> {
    Arc::new(Poller::new(config).expect("poller"))
}

/// Content, inode and mtime of a file: equal snapshots mean the file was not touched.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub content: Vec<u8>,
    pub ino: u64,
    pub mtime_ns: i128,
}

pub fn snapshot(path: &Path) -> Snapshot {
    let meta = fs::metadata(path).expect("file exists");
    Snapshot {
        content: fs::read(path).unwrap(),
        ino: meta.ino(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
    }
}

/// Targets of a written file_sd file, all groups together.
pub fn targets(path: &PathBuf) -> Vec<String> {
    let groups: serde_json::Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    groups
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["targets"].as_array().unwrap().iter())
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

pub fn sensors(n: usize, port: u16) -> Vec<String> {
    let mut v: Vec<String> = (0..n).map(|i| format!("sensor_{i}:{port}")).collect();
    v.sort();
    v
}

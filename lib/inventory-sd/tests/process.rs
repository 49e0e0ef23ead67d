//! The real binaries: `sample-inventory` with per-host metrics endpoints, `inventory-sd --once`
//! exit codes, and the service configured by environment and stopped by SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the child (a process this test started) if the test ends early.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `sample-inventory` on an ephemeral port and returns it with its inventory URL.
fn sample(args: &[&str]) -> (Guard, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sample-inventory"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Guard(child), line.trim().to_owned())
}

fn poller() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_inventory-sd"));
    // Keep the caller's environment from configuring the poller.
    for (k, _) in std::env::vars() {
        if k.starts_with("INVENTORY_SD_") {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn once_prints_the_count_and_targets_are_real_metrics_endpoints() {
    let (_inv, url) = sample(&["--hosts", "5", "--metrics-ports", "auto"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("file_sd/inventory.json");
    let run = poller()
        .args(["--once", "--inventory-url", &url, "--output"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    assert_eq!(String::from_utf8_lossy(&run.stdout), "5\n");

    let groups: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let targets = groups[0]["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 5);
    for t in targets {
        let t = t.as_str().unwrap();
        assert!(t.starts_with("127.0.0.1:"), "{t}");
        let body = reqwest::blocking::get(format!("http://{t}/metrics"))
            .unwrap()
            .text()
            .unwrap();
        assert!(body.contains("sensor_temperature_celsius "), "{body}");
    }

    // A failing poll exits 1 and leaves the file alone.
    let before = std::fs::read(&out).unwrap();
    let run = poller()
        .args(["--once", "--inventory-url", "http://127.0.0.1:1/inventory"])
        .args(["--timeout", "200ms", "--attempts", "1", "--output"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(run.stdout.is_empty());
    assert_eq!(std::fs::read(&out).unwrap(), before);
}

#[test]
fn bad_configuration_exits_2_without_leaking_credentials() {
    let run = poller()
        .args(["--once", "--inventory-url", "https://ops:t0psecret@inv/x"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("TLS is not built into this binary"),
        "{stderr}"
    );
    assert!(!stderr.contains("t0psecret"), "{stderr}");

    let run = poller()
        .args([
            "--inventory-url",
            "http://inv/x",
            "--interval",
            "5s",
            "--timeout",
            "5s",
        ])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
}

#[test]
fn service_from_environment_stops_on_sigterm_and_never_logs_credentials() {
    let (_inv, url) = sample(&["--hosts", "3"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("inventory.json");
    let secret_url = url.replace("http://", "http://ops:t0psecret@");
    let mut child = poller()
        .env("INVENTORY_SD_INVENTORY_URL", &secret_url)
        .env("INVENTORY_SD_OUTPUT", &out)
        .env("INVENTORY_SD_INTERVAL", "100ms")
        .env("INVENTORY_SD_TIMEOUT", "50ms")
        .env("INVENTORY_SD_LISTEN", "127.0.0.1:0")
        .env("INVENTORY_SD_TARGET_PORT", "9200")
        .env("INVENTORY_SD_LABELS", "env=test")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !out.exists() {
        assert!(Instant::now() < deadline, "no output file");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Let a few cycles run so debug logs are produced.
    std::thread::sleep(Duration::from_millis(300));
    let content = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        content,
        "[{\"targets\":[\"sensor_0:9200\",\"sensor_1:9200\",\"sensor_2:9200\"],\"labels\":{\"env\":\"test\"}}]\n"
    );

    let sent = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let stopped_at = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            stopped_at.elapsed() < Duration::from_secs(5),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status:?}");
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(logs.contains("inventory poller starting"), "{logs}");
    assert!(logs.contains("http://***@127.0.0.1"), "{logs}");
    assert!(!logs.contains("t0psecret"), "{logs}");
    assert!(
        !logs.contains('\u{1b}'),
        "no colour codes in non-terminal logs: {logs}"
    );
}

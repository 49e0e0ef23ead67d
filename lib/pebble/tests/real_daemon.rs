//! The client against a real Pebble daemon (`PEBBLE_BIN`, built by `scripts/real-systems`):
//! the checks API and health, whose behaviour the charm's readiness depends on, and pushes.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pebble::{Bytes, CheckLevel, CheckStatus, Client, Error, Layer, PushOptions};

/// The real daemon: `PEBBLE_BIN`, else where `scripts/real-systems` caches it.
fn pebble_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("PEBBLE_BIN") {
        return path.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    let cached = PathBuf::from(home).join(".cache/prometheus-rs-k8s/tools/pebble-v1.32.1/pebble");
    assert!(
        cached.exists(),
        "no real Pebble: run scripts/real-systems (./run_tests does) or set PEBBLE_BIN"
    );
    cached
}

struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
    client: Client,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_daemon() -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(pebble_bin())
        .args(["run", "--hold"])
        .env("PEBBLE", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = Client::new(dir.path().join(".pebble.socket"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.system_info().is_err() {
        assert!(Instant::now() < deadline, "pebble did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Daemon { child, dir, client }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A ready check against a port nothing listens on: down after its first failure.
const FAILING_READY_CHECK: &str = "checks:\n  c1:\n    override: replace\n    level: ready\n    period: 200ms\n    threshold: 1\n    startup: enabled\n    tcp:\n      port: 1\n";

#[test]
fn a_stopped_check_is_inactive_and_no_longer_counts_for_readiness() {
    let daemon = start_daemon();
    let c = &daemon.client;
    c.add_layer("l", &Layer::from_yaml(FAILING_READY_CHECK).unwrap(), true)
        .unwrap();
    c.replan(Duration::from_secs(10)).unwrap();
    wait_for("the check to go down", || {
        c.checks(None, &["c1"]).unwrap()[0].status == CheckStatus::Down
    });
    assert!(!c.health(Some(CheckLevel::Ready)).unwrap());
    // The alive level does not include ready checks.
    assert!(c.health(Some(CheckLevel::Alive)).unwrap());

    assert_eq!(c.stop_checks(&["c1"]).unwrap(), ["c1"]);
    assert_eq!(
        c.checks(None, &["c1"]).unwrap()[0].status,
        CheckStatus::Inactive
    );
    assert!(c.health(Some(CheckLevel::Ready)).unwrap());
    // Stopping it again changes nothing.
    assert!(c.stop_checks(&["c1"]).unwrap().is_empty());

    assert_eq!(c.start_checks(&["c1"]).unwrap(), ["c1"]);
    assert!(c.start_checks(&["c1"]).unwrap().is_empty());
}

#[test]
fn starting_a_check_missing_from_the_plan_is_refused() {
    let daemon = start_daemon();
    let c = &daemon.client;
    c.add_layer("l", &Layer::from_yaml(FAILING_READY_CHECK).unwrap(), true)
        .unwrap();
    match c.start_checks(&["c1", "nope"]) {
        Err(Error::Api {
            status_code,
            message,
            ..
        }) => {
            assert_eq!(status_code, 400);
            assert!(message.contains("nope"), "{message}");
        }
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[test]
fn disabling_a_running_check_in_a_layer_leaves_it_running() {
    let daemon = start_daemon();
    let c = &daemon.client;
    c.add_layer("l", &Layer::from_yaml(FAILING_READY_CHECK).unwrap(), true)
        .unwrap();
    c.replan(Duration::from_secs(10)).unwrap();
    let disabled = FAILING_READY_CHECK.replace("startup: enabled", "startup: disabled");
    c.add_layer("l", &Layer::from_yaml(&disabled).unwrap(), true)
        .unwrap();
    c.replan(Duration::from_secs(10)).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let check = &c.checks(None, &["c1"]).unwrap()[0];
    assert_eq!(check.status, CheckStatus::Down, "{check:?}");
    assert!(!c.health(Some(CheckLevel::Ready)).unwrap());
}

#[test]
fn a_failing_check_without_level_does_not_count_for_readiness() {
    let daemon = start_daemon();
    let c = &daemon.client;
    let unlevelled = FAILING_READY_CHECK.replace("    level: ready\n", "");
    c.add_layer("l", &Layer::from_yaml(&unlevelled).unwrap(), true)
        .unwrap();
    c.replan(Duration::from_secs(10)).unwrap();
    wait_for("the check to go down", || {
        c.checks(None, &["c1"]).unwrap()[0].status == CheckStatus::Down
    });
    let check = &c.checks(None, &["c1"]).unwrap()[0];
    assert_eq!(check.level, None, "{check:?}");
    // Neither the ready nor the alive level includes it (the pod stays ready and alive); only
    // the health of all checks does.
    assert!(c.health(Some(CheckLevel::Ready)).unwrap());
    assert!(c.health(Some(CheckLevel::Alive)).unwrap());
    assert!(!c.health(None).unwrap());
}

#[test]
fn one_push_request_writes_each_file_with_its_own_permissions() {
    let d = start_daemon();
    let root = d.dir.path().join("files");
    let mode = |permissions| PushOptions {
        permissions: Some(permissions),
        ..PushOptions::default()
    };
    let files = [
        (
            format!("{}/t/a.json", root.display()),
            Bytes::from_static(b"[]\n"),
            mode(0o644),
        ),
        (
            format!("{}/manifest.json", root.display()),
            Bytes::from_static(b"{}"),
            mode(0o600),
        ),
    ];
    d.client.push_each(&files).expect("push");
    for (path, content, opts) in &files {
        assert_eq!(d.client.pull(path).expect("pull"), content.as_ref());
        let listed = d.client.list_files(path, None).expect("list");
        assert_eq!(
            listed[0].permissions,
            format!("{:o}", opts.permissions.unwrap()),
            "{path}"
        );
    }
}

#[test]
fn multi_megabyte_pushes_are_streamed_whole_from_memory_and_from_disk() {
    let d = start_daemon();
    let root = d.dir.path().join("files");
    // Not a repeating pattern, so a lost or repeated chunk changes what is read back.
    let big: Vec<u8> = (0u32..(5 << 20) / 4)
        .flat_map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes())
        .collect();
    let files = [
        (
            format!("{}/big.yml", root.display()),
            Bytes::from(big.clone()),
        ),
        (
            format!("{}/t/a.json", root.display()),
            Bytes::from_static(b"[]\n"),
        ),
        (format!("{}/t/b.json", root.display()), Bytes::new()),
    ];
    d.client
        .push_many(&files, &PushOptions::default())
        .expect("push");
    assert_eq!(d.client.pull(&files[0].0).expect("pull big"), big);
    assert_eq!(d.client.pull(&files[1].0).expect("pull a"), b"[]\n");
    assert_eq!(d.client.pull(&files[2].0).expect("pull b"), b"");

    // A local file streamed from disk, as the charm pushes its own binary.
    let local = d.dir.path().join("local.bin");
    std::fs::write(&local, &big[..3 << 20]).unwrap();
    let file = std::fs::File::open(&local).unwrap();
    let path = format!("{}/bin/poller", root.display());
    let opts = PushOptions {
        permissions: Some(0o755),
        ..PushOptions::default()
    };
    d.client
        .push_reader(&path, file, 3 << 20, &opts)
        .expect("push_reader");
    assert_eq!(d.client.pull(&path).expect("pull poller"), &big[..3 << 20]);
    let listed = d.client.list_files(&path, None).expect("list");
    assert_eq!(listed[0].permissions, "755");
}

/// The charm runs promtool with `GOGC` and `GOMEMLIMIT` set through the exec request: the
/// variables reach the command, and the daemon's own environment is still there beside them.
#[test]
fn exec_environment_reaches_the_command_beside_the_daemons_own() {
    let d = start_daemon();
    let opts = pebble::ExecOptions {
        environment: [("GOGC", "off"), ("GOMEMLIMIT", "64MiB")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        timeout: Some(Duration::from_secs(10)),
        ..pebble::ExecOptions::default()
    };
    let script = r#"printf '%s|%s|%s' "$GOGC" "$GOMEMLIMIT" "${PATH:+path}""#;
    let output = d.client.exec(&["sh", "-c", script], &opts).unwrap();
    assert_eq!(output.exit_code, 0, "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "off|64MiB|path");

    let plain = d
        .client
        .exec(&["sh", "-c", script], &pebble::ExecOptions::default())
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&plain.stdout), "||path");
}

/// The client reads a command's stdout and stderr on one thread, as each has frames: a
/// command that fills one stream while the client would be waiting on the other must not
/// stall (more than the socket and pipe buffers hold, each way), and each stream arrives
/// whole and in order.
#[test]
fn exec_reads_stdout_and_stderr_as_they_come_without_stalling() {
    let d = start_daemon();
    let opts = pebble::ExecOptions {
        timeout: Some(Duration::from_secs(30)),
        ..pebble::ExecOptions::default()
    };
    let filled = |byte: char| -> Vec<u8> { vec![byte as u8; 2_097_152] };
    let lines = |prefix: &str| -> Vec<u8> {
        (1..=2000)
            .flat_map(|i| format!("{prefix}{i}\n").into_bytes())
            .collect()
    };
    // 2 MiB on one stream before a line on the other, both ways round, then both interleaved.
    let cases = [
        (
            "head -c 2097152 /dev/zero | tr '\\0' e >&2; echo done",
            b"done\n".to_vec(),
            filled('e'),
        ),
        (
            "head -c 2097152 /dev/zero | tr '\\0' o; echo done >&2",
            filled('o'),
            b"done\n".to_vec(),
        ),
        (
            "for i in $(seq 1 2000); do echo out$i; echo err$i >&2; done",
            lines("out"),
            lines("err"),
        ),
    ];
    for (script, stdout, stderr) in cases {
        let output = d.client.exec(&["sh", "-c", script], &opts).unwrap();
        assert_eq!(output.exit_code, 0, "{script}");
        assert!(
            output.stdout == stdout,
            "{script}: stdout of {} bytes",
            output.stdout.len()
        );
        assert!(
            output.stderr == stderr,
            "{script}: stderr of {} bytes",
            output.stderr.len()
        );
    }
}

//! Exec over websockets through the real client: scripted handlers, the Prometheus version
//! built-in and the real promtool on the fake's file system.

mod pebble_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use charm_harness::{ExecResult, FakePebble};
use pebble::{ExecOptions, PushOptions};
use pebble_support::{client, raw_json};
use serde_json::json;

const VALID_CONFIG: &str = "global:\n  scrape_interval: 1m\nrule_files:\n  - rules/*.rules\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['localhost:9090']\n";
const RULES: &str =
    "groups:\n  - name: demo\n    rules:\n      - alert: Up\n        expr: up == 0\n";

#[test]
fn scripted_handler_gets_stdin_env_and_cwd_and_its_output_reaches_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakePebble::start(dir.path());
    let seen = Arc::new(Mutex::new(None));
    let seen_in_handler = seen.clone();
    fake.on_exec("sh", move |req| {
        *seen_in_handler.lock().unwrap() = Some(req.clone());
        let mut out = b"out: ".to_vec();
        out.extend_from_slice(&req.stdin);
        out.push(b'\n');
        ExecResult {
            exit_code: 3,
            stdout: out,
            stderr: b"err\n".to_vec(),
        }
    });
    let opts = ExecOptions {
        environment: BTreeMap::from([("FOO".to_string(), "bar".to_string())]),
        working_dir: Some("/tmp".into()),
        stdin: Some(b"hello-stdin".to_vec()),
        timeout: Some(Duration::from_secs(5)),
        ..ExecOptions::default()
    };
    let output = client(&fake)
        .exec(
            &["sh", "-c", "echo out: $(cat); echo err >&2; exit 3"],
            &opts,
        )
        .unwrap();
    assert_eq!(output.exit_code, 3);
    assert_eq!(output.stdout, b"out: hello-stdin\n");
    assert_eq!(output.stderr, b"err\n");

    let req = seen.lock().unwrap().clone().unwrap();
    assert_eq!(req.command[0], "sh");
    assert_eq!(req.args()[0], "-c");
    assert_eq!(req.environment["FOO"], "bar");
    assert_eq!(req.environment["HOME"], "/root");
    assert_eq!(req.working_dir, "/tmp");
    assert_eq!(req.timeout, Some(Duration::from_secs(5)));

    // The exec change carries the exit code, as Pebble records it.
    let change = fake.changes().pop().unwrap();
    assert_eq!(change["kind"], "exec");
    assert_eq!(change["summary"], "Execute command \"sh\"");
    assert_eq!(change["status"], "Done");
    assert_eq!(change["tasks"][0]["data"]["exit-code"], 3);
}

#[test]
fn exec_post_answers_async_with_task_id_environment_and_working_dir() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakePebble::start(dir.path());
    fake.on_exec("echo", |_| ExecResult::success("combined\n"));
    let (status, body) = raw_json(
        &fake,
        "POST",
        "/v1/exec",
        Some(json!({"command": ["echo", "combined"], "split-stderr": false})),
    );
    assert_eq!(status, 202);
    assert_eq!(body["type"], "async");
    assert_eq!(body["change"], "1");
    assert_eq!(body["result"]["task-id"], "1");
    assert_eq!(body["result"]["working-dir"], "/root");
    assert_eq!(body["result"]["environment"]["LANG"], "C.UTF-8");
}

#[test]
fn unknown_executable_is_a_400() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakePebble::start(dir.path());
    let (status, body) = raw_json(
        &fake,
        "POST",
        "/v1/exec",
        Some(json!({"command": ["/usr/bin/nothing", "x"]})),
    );
    assert_eq!(status, 400);
    assert_eq!(
        body["result"]["message"],
        "cannot find executable \"/usr/bin/nothing\""
    );
    let err = client(&fake)
        .exec(&["nothing"], &ExecOptions::default())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot find executable \"nothing\""),
        "{err}"
    );
}

#[test]
fn prometheus_version_builtin_prints_like_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakePebble::start(dir.path()).with_prometheus_version("3.5.0");
    let c = client(&fake);
    let out = c
        .exec(&["/bin/prometheus", "--version"], &ExecOptions::default())
        .unwrap();
    assert_eq!(out.exit_code, 0);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("prometheus, version 3.5.0 (branch: "),
        "{text}"
    );
    assert!(text.contains("revision: "));
    assert!(text.contains("go version:"));
    let out = c
        .exec(&["/bin/prometheus"], &ExecOptions::default())
        .unwrap();
    assert_ne!(out.exit_code, 0);
}

fn promtool_fake() -> (tempfile::TempDir, FakePebble) {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakePebble::start(dir.path()).with_real_promtool();
    (dir, fake)
}

#[test]
fn real_promtool_accepts_a_valid_pushed_config() {
    let (_dir, fake) = promtool_fake();
    let c = client(&fake);
    let opts = PushOptions::default();
    c.push(
        "/etc/prometheus/prometheus.yml",
        VALID_CONFIG.as_bytes(),
        &opts,
    )
    .unwrap();
    c.push("/etc/prometheus/rules/demo.rules", RULES.as_bytes(), &opts)
        .unwrap();

    let out = c
        .exec(
            &[
                "/usr/bin/promtool",
                "check",
                "config",
                "/etc/prometheus/prometheus.yml",
            ],
            &ExecOptions::default(),
        )
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.exit_code, 0, "{text}");
    // promtool followed the relative rule_files glob and found the rule file.
    assert!(text.contains("1 rules found"), "{text}");
    // Host paths are mapped back to container paths.
    assert!(text.contains("/etc/prometheus/prometheus.yml"), "{text}");
    assert!(
        !text.contains(&fake.fs_root().to_string_lossy().into_owned()),
        "{text}"
    );

    // Relative arguments resolve against the mapped working directory.
    let opts = ExecOptions {
        working_dir: Some("/etc/prometheus".into()),
        ..ExecOptions::default()
    };
    let out = c
        .exec(&["promtool", "check", "config", "prometheus.yml"], &opts)
        .unwrap();
    assert_eq!(out.exit_code, 0);
}

#[test]
fn real_promtool_rejects_an_invalid_config() {
    let (_dir, fake) = promtool_fake();
    let c = client(&fake);
    let broken = "scrape_configs:\n  - job_name: x\n    bogus_field: 1\n";
    c.push(
        "/etc/prometheus/prometheus.yml",
        broken.as_bytes(),
        &PushOptions::default(),
    )
    .unwrap();
    let out = c
        .exec(
            &[
                "promtool",
                "check",
                "config",
                "/etc/prometheus/prometheus.yml",
            ],
            &ExecOptions::default(),
        )
        .unwrap();
    assert_eq!(out.exit_code, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bogus_field"), "{stderr}");
    assert!(
        stderr.contains("/etc/prometheus/prometheus.yml"),
        "{stderr}"
    );
}

#[test]
fn any_host_command_can_stand_in_for_a_container_executable() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakePebble::start(dir.path());
    fake.on_exec_host("cat", "/bin/cat");
    fake.write_file("/etc/motd", "hello from the container\n");
    let c = client(&fake);
    let out = c
        .exec(&["cat", "/etc/motd"], &ExecOptions::default())
        .unwrap();
    assert_eq!(out.exit_code, 0);
    assert_eq!(out.stdout, b"hello from the container\n");

    let opts = ExecOptions {
        stdin: Some(b"piped".to_vec()),
        ..ExecOptions::default()
    };
    let out = c.exec(&["/usr/bin/cat"], &opts).unwrap();
    assert_eq!(out.stdout, b"piped");

    let out = c
        .exec(&["cat", "/etc/missing"], &ExecOptions::default())
        .unwrap();
    assert_eq!(out.exit_code, 1);
    // The error names the container path, not the host one.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.ends_with(": /etc/missing: No such file or directory\n"),
        "{stderr}"
    );
}

#[test]
fn a_command_past_its_timeout_fails_the_exec_change() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakePebble::start(dir.path());
    fake.on_exec("slow", |_| {
        std::thread::sleep(Duration::from_secs(2));
        ExecResult::success("late\n")
    });
    let opts = ExecOptions {
        timeout: Some(Duration::from_millis(300)),
        ..ExecOptions::default()
    };
    let err = client(&fake).exec(&["slow"], &opts).unwrap_err();
    match &err {
        pebble::Error::ChangeFailed { kind, err, .. } => {
            assert_eq!(kind, "exec");
            assert_eq!(
                err,
                "cannot perform the following tasks:\n- Execute command \"slow\" (timed out after 300ms: context deadline exceeded)"
            );
        }
        other => panic!("expected ChangeFailed, got {other:?}"),
    }
}

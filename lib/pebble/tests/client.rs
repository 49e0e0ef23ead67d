//! The client against a replay of real Pebble v1.32.1 answers: what it sends and how it reads
//! the answers.

mod replay;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use pebble::merge::combine_layers;
use pebble::{
    Bytes, CheckLevel, CheckStatus, Client, Error, ExecOptions, FileType, Layer, PushOptions,
    ServiceStatus, Startup,
};
use replay::recorded as rec;
use replay::{Canned, Replay};
use serde_json::json;

const DEMO_LAYER: &str = "summary: demo layer\nservices:\n  sleeper:\n    override: replace\n    summary: sleeps\n    command: sleep 1000\n    startup: enabled\n  ticker:\n    override: replace\n    summary: prints a line every second\n    command: sh -c \"while true; do echo tick; sleep 1; done\"\n    startup: enabled\nchecks:\n  sleeper-alive:\n    override: replace\n    period: 2s\n    exec:\n      command: pgrep -f \"sleep 1000\"\n";

fn get(uri: &str, body: &str) -> Canned {
    Canned::json("GET", uri, 200, body)
}

fn post(uri: &str, status: u16, body: &str) -> Canned {
    Canned::json("POST", uri, status, body)
}

/// A client with a long enough request timeout that a 10 s wait is one slice.
fn client(replay: &Replay) -> Client {
    Client::new(&replay.socket).with_timeout(Duration::from_secs(15))
}

#[test]
fn system_info() {
    let replay = Replay::start(vec![get("/v1/system-info", rec::SYSTEM_INFO)]);
    let info = client(&replay).system_info().unwrap();
    assert_eq!(info.version, "v1.32.1");
    assert_eq!(info.boot_id, "ca213186-9d9f-43af-acf2-0472ecb838db");
    assert_eq!(replay.lines(), ["GET /v1/system-info"]);
    assert_eq!(replay.seen()[0].accept.as_deref(), Some("application/json"));
}

#[test]
fn plan_is_parsed_from_the_yaml_result() {
    let replay = Replay::start(vec![get("/v1/plan?format=yaml", rec::PLAN)]);
    let plan = client(&replay).get_plan().unwrap();
    let expected = combine_layers(&[("demo".into(), Layer::from_yaml(DEMO_LAYER).unwrap())]);
    assert_eq!(plan, expected.unwrap());
    assert_eq!(plan.checks["sleeper-alive"].threshold, Some(3));
}

#[test]
fn add_layer_sends_yaml_with_label_and_combine() {
    let replay = Replay::start(vec![post("/v1/layers", 200, rec::ADD_LAYER)]);
    let layer = Layer::from_yaml(DEMO_LAYER).unwrap();
    client(&replay).add_layer("demo", &layer, true).unwrap();
    let seen = &replay.seen()[0];
    assert_eq!(seen.content_type.as_deref(), Some("application/json"));
    let mut body = seen.json();
    let sent_layer = body["layer"].take();
    assert_eq!(
        body,
        json!({"action": "add", "combine": true, "label": "demo", "format": "yaml", "layer": null})
    );
    assert_eq!(
        Layer::from_yaml(sent_layer.as_str().unwrap()).unwrap(),
        layer
    );
}

#[test]
fn replan_posts_and_waits_for_the_change() {
    let replay = Replay::start(vec![
        post("/v1/services", 202, rec::REPLAN),
        get("/v1/changes/2/wait?timeout=10s", rec::WAIT_REPLAN),
    ]);
    let change = client(&replay).replan(Duration::from_secs(10)).unwrap();
    assert_eq!(change.id, "2");
    assert_eq!(change.kind, "replan");
    assert!(change.is_success());
    assert_eq!(change.tasks.len(), 2);
    assert_eq!(replay.seen()[0].json(), json!({"action": "replan"}));
    assert_eq!(replay.unused(), 0);
}

#[test]
fn restart_and_stop_name_their_services() {
    let replay = Replay::start(vec![
        post("/v1/services", 202, rec::RESTART),
        get("/v1/changes/3/wait?timeout=10s", rec::WAIT_RESTART),
        post("/v1/services", 202, rec::STOP),
        get("/v1/changes/4/wait?timeout=10s", rec::WAIT_STOP),
    ]);
    let c = client(&replay);
    let restart = c
        .restart_services(&["sleeper"], Duration::from_secs(10))
        .unwrap();
    assert_eq!(restart.kind, "restart");
    let stop = c
        .stop_services(&["sleeper", "ticker"], Duration::from_secs(10))
        .unwrap();
    assert_eq!(stop.id, "4");
    let seen = replay.seen();
    assert_eq!(
        seen[0].json(),
        json!({"action": "restart", "services": ["sleeper"]})
    );
    assert_eq!(
        seen[2].json(),
        json!({"action": "stop", "services": ["sleeper", "ticker"]})
    );
    assert_eq!(replay.unused(), 0);
}

#[test]
fn services_all_and_by_name() {
    let replay = Replay::start(vec![
        get("/v1/services", rec::SERVICES),
        get("/v1/services?names=sleeper", rec::SERVICES_SLEEPER),
        get("/v1/services", rec::SERVICES_STOPPED),
    ]);
    let c = client(&replay);
    let all = c.services(&[]).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].name, "ticker");
    assert_eq!(all[1].startup, Startup::Enabled);
    assert!(all[1].is_running());
    let one = c.services(&["sleeper"]).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].name, "sleeper");
    let stopped = c.services(&[]).unwrap();
    assert!(stopped.iter().all(|s| s.current == ServiceStatus::Inactive));
}

#[test]
fn unknown_change_is_an_api_error() {
    let replay = Replay::start(vec![
        Canned::json("GET", "/v1/changes/999", 404, rec::CHANGE_404),
        Canned::json(
            "GET",
            "/v1/changes/999/wait?timeout=1s",
            404,
            rec::CHANGE_404,
        ),
    ]);
    let c = client(&replay);
    for result in [
        c.get_change("999"),
        c.wait_change("999", Duration::from_secs(1)),
    ] {
        match result {
            Err(Error::Api {
                status_code: 404,
                kind: None,
                message,
            }) => assert_eq!(message, "cannot find change with id \"999\""),
            other => panic!("expected a 404 API error, got {other:?}"),
        }
    }
}

#[test]
fn wait_re_asks_in_slices_while_pebble_answers_504() {
    let timed_out = r#"{"type":"error","status-code":504,"status":"Gateway Timeout","result":{"message":"timed out waiting for change after 1s"}}"#;
    let replay = Replay::start(vec![
        Canned::json("GET", "/v1/changes/2/wait?timeout=1s", 504, timed_out),
        Canned::json("GET", "/v1/changes/2/wait?timeout=1s", 504, timed_out),
        get("/v1/changes/2/wait?timeout=1s", rec::WAIT_REPLAN),
    ]);
    // Request timeout 2 s → slices of 1 s.
    let c = Client::new(&replay.socket).with_timeout(Duration::from_secs(2));
    let change = c.wait_change("2", Duration::from_secs(30)).unwrap();
    assert_eq!(change.id, "2");
    assert_eq!(replay.unused(), 0);
}

#[test]
fn wait_gives_up_after_the_total_timeout() {
    let timed_out = r#"{"type":"error","status-code":504,"status":"Gateway Timeout","result":{"message":"timed out waiting for change after 1s"}}"#;
    let script = (0..3)
        .map(|i| {
            let uri = if i == 0 {
                "/v1/changes/2/wait?timeout=1s"
            } else {
                "/v1/changes/2/wait?timeout=0."
            };
            let mut canned = Canned::json("GET", uri, 504, timed_out);
            canned.prefix = i > 0;
            canned.delay = Duration::from_millis(if i == 0 { 1000 } else { 500 });
            canned
        })
        .collect();
    let replay = Replay::start(script);
    let c = Client::new(&replay.socket).with_timeout(Duration::from_secs(2));
    let started = Instant::now();
    let err = c.wait_change("2", Duration::from_millis(1500)).unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert_eq!(replay.lines()[0], "GET /v1/changes/2/wait?timeout=1s");
    // The second slice is the time left, about 0.5 s.
    assert!(replay.lines()[1].starts_with("GET /v1/changes/2/wait?timeout=0.4"));
}

#[test]
fn failed_change_is_change_failed() {
    let failed = r#"{"type":"sync","status-code":200,"status":"OK","result":{"id":"5","kind":"start","summary":"Start service \"prometheus\"","status":"Error","ready":true,"err":"cannot perform the following tasks:\n- Start service \"prometheus\" (cannot start service: exited quickly with code 1)","spawn-time":"2026-11-24T12:12:05Z","ready-time":"2026-11-24T12:12:06Z"}}"#;
    let replay = Replay::start(vec![
        post(
            "/v1/services",
            202,
            r#"{"type":"async","status-code":202,"status":"Accepted","change":"5","result":null}"#,
        ),
        get("/v1/changes/5/wait?timeout=10s", failed),
    ]);
    match client(&replay).start_services(&["prometheus"], Duration::from_secs(10)) {
        Err(Error::ChangeFailed { id, kind, err }) => {
            assert_eq!((id.as_str(), kind.as_str()), ("5", "start"));
            assert!(err.contains("exited quickly with code 1"));
        }
        other => panic!("expected ChangeFailed, got {other:?}"),
    }
}

#[test]
fn push_sends_one_multipart_request() {
    let replay = Replay::start(vec![post("/v1/files", 200, rec::PUSH)]);
    let opts = PushOptions {
        permissions: Some(0o644),
        ..PushOptions::default()
    };
    client(&replay)
        .push("/tmp/pebble-demo/hello.txt", b"hello from pebble\n", &opts)
        .unwrap();
    let seen = &replay.seen()[0];
    let parts = multipart_parts(seen);
    assert_eq!(parts.len(), 2);
    let (name, filename, content_type, data) = &parts[0];
    assert_eq!((name.as_str(), filename.as_deref()), ("request", None));
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let request: serde_json::Value = serde_json::from_slice(data).unwrap();
    // Exactly the metadata the recorded session sent.
    assert_eq!(
        request,
        json!({"action":"write","files":[{"path":"/tmp/pebble-demo/hello.txt","make-dirs":true,"permissions":"644"}]})
    );
    let (name, filename, content_type, data) = &parts[1];
    assert_eq!(name, "files");
    assert_eq!(filename.as_deref(), Some("/tmp/pebble-demo/hello.txt"));
    assert_eq!(content_type.as_deref(), Some("application/octet-stream"));
    assert_eq!(data, b"hello from pebble\n");
}

#[test]
fn push_many_is_one_request_with_ownership() {
    let result = r#"{"type":"sync","status-code":200,"status":"OK","result":[{"path":"/a"},{"path":"/b/c"}]}"#;
    let replay = Replay::start(vec![post("/v1/files", 200, result)]);
    let opts = PushOptions {
        make_dirs: false,
        permissions: Some(0o600),
        user: Some("prometheus".into()),
        group_id: Some(65534),
        ..PushOptions::default()
    };
    let files = [
        ("/a".to_string(), Bytes::from_static(b"1")),
        ("/b/c".to_string(), Bytes::from_static(b"22")),
    ];
    client(&replay).push_many(&files, &opts).unwrap();
    assert_eq!(replay.lines(), ["POST /v1/files"]);
    let parts = multipart_parts(&replay.seen()[0]);
    let request: serde_json::Value = serde_json::from_slice(&parts[0].3).unwrap();
    assert_eq!(
        request,
        json!({"action":"write","files":[
            {"path":"/a","permissions":"600","user":"prometheus","group-id":65534},
            {"path":"/b/c","permissions":"600","user":"prometheus","group-id":65534}]})
    );
    let files: Vec<_> = parts[1..]
        .iter()
        .map(|(_, f, _, d)| (f.clone().unwrap(), d.clone()))
        .collect();
    assert_eq!(
        files,
        [
            ("/a".into(), b"1".to_vec()),
            ("/b/c".into(), b"22".to_vec())
        ]
    );
}

#[test]
fn per_file_error_in_a_200_answer_is_a_file_error() {
    let result = r#"{"type":"sync","status-code":200,"status":"OK","result":[{"path":"/etc/prometheus/prometheus.yml","error":{"kind":"permission-denied","message":"open /etc/prometheus/.prometheus.yml.1: permission denied"}}]}"#;
    let replay = Replay::start(vec![post("/v1/files", 200, result)]);
    let err = client(&replay)
        .push(
            "/etc/prometheus/prometheus.yml",
            b"x",
            &PushOptions::default(),
        )
        .unwrap_err();
    match err {
        Error::File {
            path,
            kind,
            message,
        } => {
            assert_eq!(path, "/etc/prometheus/prometheus.yml");
            assert_eq!(kind, "permission-denied");
            assert!(message.ends_with("permission denied"));
        }
        other => panic!("expected a file error, got {other:?}"),
    }
}

#[test]
fn pull_reads_the_recorded_multipart_answer() {
    let mut canned = get(
        "/v1/files?action=read&path=%2Ftmp%2Fpebble-demo%2Fhello.txt",
        "",
    );
    canned.content_type = "multipart/form-data; boundary=fb585e5d852da932872bb81eebd9f6cf725524181d11421606836679bde0".into();
    canned.body = include_bytes!("data/pull-hello.multipart").to_vec();
    let replay = Replay::start(vec![canned]);
    let content = client(&replay).pull("/tmp/pebble-demo/hello.txt").unwrap();
    assert_eq!(content, b"hello from pebble\n");
    assert_eq!(
        replay.seen()[0].accept.as_deref(),
        Some("multipart/form-data")
    );
}

#[test]
fn pull_of_a_missing_file_is_not_found() {
    let boundary = "0123456789abcdef0123456789abcdef0123456789";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"response\"\r\nContent-Type: application/json\r\n\r\n{}\n\r\n--{boundary}--\r\n",
        r#"{"type":"sync","status-code":200,"status":"OK","result":[{"path":"/nope","error":{"kind":"not-found","message":"stat /nope: no such file or directory"}}]}"#
    );
    let mut canned = get("/v1/files?action=read&path=%2Fnope", "");
    canned.content_type = format!("multipart/form-data; boundary={boundary}");
    canned.body = body.into_bytes();
    let replay = Replay::start(vec![canned]);
    let err = client(&replay).pull("/nope").unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { path } if path == "/nope"),
        "{err:?}"
    );
    assert!(err.is_not_found());
}

#[test]
fn list_make_dirs_and_remove() {
    let not_found = r#"{"type":"error","status-code":404,"status":"Not Found","result":{"message":"stat /missing: no such file or directory","kind":"not-found"}}"#;
    let replay = Replay::start(vec![
        get("/v1/files?action=list&path=%2Ftmp%2Fpebble-demo", rec::LIST),
        Canned::json(
            "GET",
            "/v1/files?action=list&path=%2Fmissing&pattern=*.yml",
            404,
            not_found,
        ),
        post("/v1/files", 200, rec::MAKE_DIRS),
        post("/v1/files", 200, rec::REMOVE),
    ]);
    let c = client(&replay);
    let entries = c.list_files("/tmp/pebble-demo", None).unwrap();
    assert_eq!(entries.len(), 1);
    let hello = &entries[0];
    assert_eq!(hello.name, "hello.txt");
    assert_eq!(hello.file_type, FileType::File);
    assert_eq!(hello.size, Some(18));
    assert_eq!(hello.permissions, "644");
    assert_eq!(hello.user.as_deref(), Some("root"));
    let err = c.list_files("/missing", Some("*.yml")).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

    c.make_dir("/tmp/pebble-demo/sub/dir", true, Some(0o755))
        .unwrap();
    c.remove_path("/tmp/pebble-demo/sub", true).unwrap();
    let seen = replay.seen();
    assert_eq!(
        seen[2].json(),
        json!({"action":"make-dirs","dirs":[{"path":"/tmp/pebble-demo/sub/dir","make-parents":true,"permissions":"755"}]})
    );
    assert_eq!(
        seen[3].json(),
        json!({"action":"remove","paths":[{"path":"/tmp/pebble-demo/sub","recursive":true}]})
    );
}

#[test]
fn checks_and_signals() {
    let replay = Replay::start(vec![
        get("/v1/checks", rec::CHECKS),
        get(
            "/v1/checks?level=ready&names=up%2Cdown",
            r#"{"type":"sync","status-code":200,"status":"OK","result":[]}"#,
        ),
        post("/v1/signals", 200, rec::SIGNAL),
    ]);
    let c = client(&replay);
    let checks = c.checks(None, &[]).unwrap();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].name, "sleeper-alive");
    assert_eq!(checks[0].status, CheckStatus::Up);
    assert_eq!(
        (checks[0].successes, checks[0].failures, checks[0].threshold),
        (2, 0, 3)
    );
    assert_eq!(checks[0].level, None);
    assert_eq!(checks[0].change_id.as_deref(), Some("1"));
    assert!(c
        .checks(Some(CheckLevel::Ready), &["up", "down"])
        .unwrap()
        .is_empty());
    c.send_signal("SIGHUP", &["sleeper"]).unwrap();
    assert_eq!(
        replay.seen()[2].json(),
        json!({"signal":"SIGHUP","services":["sleeper"]})
    );
}

#[test]
fn exec_collects_stdout_stderr_and_exit_code() {
    let replay = Replay::start(vec![
        post("/v1/exec", 202, rec::EXEC),
        get("/v1/changes/1/wait?timeout=14s", rec::WAIT_EXEC),
    ]);
    let opts = ExecOptions {
        environment: BTreeMap::from([("FOO".to_string(), "bar".to_string())]),
        working_dir: Some("/tmp".into()),
        timeout: Some(Duration::from_secs(5)),
        stdin: Some(b"hello-stdin".to_vec()),
        ..ExecOptions::default()
    };
    let command = ["sh", "-c", "echo out: $(cat); echo err >&2; exit 3"];
    let output = client(&replay).exec(&command, &opts).unwrap();
    assert_eq!(output.exit_code, 3);
    assert_eq!(output.stdout, b"out: hello-stdin\n");
    assert_eq!(output.stderr, b"err\n");
    // The body the recorded session sent.
    assert_eq!(
        replay.seen()[0].json(),
        json!({"command": ["sh", "-c", "echo out: $(cat); echo err >&2; exit 3"], "environment": {"FOO": "bar"}, "working-dir": "/tmp", "timeout": "5s", "split-stderr": true})
    );
    let stdio: Vec<String> = replay
        .ws_frames()
        .into_iter()
        .filter(|(s, _)| s == "stdio")
        .map(|(_, f)| f)
        .collect();
    assert_eq!(stdio, ["binary hello-stdin", r#"text {"command":"end"}"#]);
}

#[test]
fn exec_of_a_missing_executable_is_an_api_error() {
    let missing = r#"{"type":"error","status-code":400,"status":"Bad Request","result":{"message":"cannot find executable \"nope\""}}"#;
    let replay = Replay::start(vec![post("/v1/exec", 400, missing)]);
    match client(&replay).exec(&["nope"], &ExecOptions::default()) {
        Err(Error::Api {
            status_code: 400,
            message,
            ..
        }) => assert_eq!(message, "cannot find executable \"nope\""),
        other => panic!("expected an API error, got {other:?}"),
    }
    assert_eq!(
        replay.seen()[0].json(),
        json!({"command": ["nope"], "split-stderr": true})
    );
}

#[test]
fn missing_socket_is_a_connect_error() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("pebble.socket");
    let c = Client::new(&socket);
    assert_eq!(c.socket_path(), socket);
    let err = c.system_info().unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert!(matches!(&err, Error::Connect { socket: s, .. } if *s == socket));
    // A socket file nobody listens on (container restarting) is refused: same error.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(c.get_plan().unwrap_err().is_connect());
}

/// The parts of a multipart request: (name, filename, content type, bytes).
type Part = (String, Option<String>, Option<String>, Vec<u8>);

fn multipart_parts(seen: &replay::Seen) -> Vec<Part> {
    let content_type = seen.content_type.as_deref().unwrap();
    assert!(content_type.starts_with("multipart/form-data; boundary="));
    let boundary = multer::parse_boundary(content_type).unwrap();
    assert!(
        boundary.len() >= 32,
        "Pebble rejects short boundaries: {boundary}"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut multipart = multer::Multipart::with_reader(seen.body.as_slice(), boundary);
        let mut parts = Vec::new();
        while let Some(field) = multipart.next_field().await.unwrap() {
            let name = field.name().unwrap_or("").to_string();
            let filename = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(|m| m.to_string());
            parts.push((
                name,
                filename,
                content_type,
                field.bytes().await.unwrap().to_vec(),
            ));
        }
        parts
    })
}

#[test]
fn slow_answer_is_a_timeout_and_empty_plan_is_empty() {
    let mut slow = get("/v1/system-info", rec::SYSTEM_INFO);
    slow.delay = Duration::from_millis(1500);
    let replay = Replay::start(vec![
        slow,
        get(
            "/v1/plan?format=yaml",
            r#"{"type":"sync","status-code":200,"status":"OK","result":"{}\n"}"#,
        ),
    ]);
    let c = Client::new(&replay.socket).with_timeout(Duration::from_millis(500));
    assert_eq!(c.timeout(), Duration::from_millis(500));
    let err = c.system_info().unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    // The client is usable again right after a timeout.
    assert!(c.get_plan().unwrap().is_empty());
}

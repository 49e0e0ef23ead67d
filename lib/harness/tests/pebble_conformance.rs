//! One scenario run against the real Pebble daemon (`PEBBLE_BIN`, built by
//! `scripts/real-systems`) and against the fake, side by side, comparing what each shows after
//! every step: checks (all, and filtered by level), health at each level (status and body),
//! the plan, services and the answers of the checks API. Ids and times are normalised away,
//! and so are the addresses and paths that differ between the two runs.
//!
//! The checks probe things the test controls on loopback: an HTTP server whose answer it
//! flips, a TCP port it keeps open, and a file an exec check tests for.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use charm_harness::FakePebble;
use serde_json::{json, Value};

/// The real daemon: `PEBBLE_BIN`, else where `scripts/real-systems` caches it.
fn pebble_bin() -> PathBuf {
    charm_harness::real_systems::require(charm_harness::real_systems::pebble())
}

/// A loopback HTTP server answering 200 or 500 as the test says.
struct Web {
    port: u16,
    healthy: Arc<AtomicBool>,
}

impl Web {
    fn start() -> Web {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let healthy = Arc::new(AtomicBool::new(true));
        let flag = healthy.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                answer(stream, flag.load(Ordering::SeqCst));
            }
        });
        Web { port, healthy }
    }

    fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::SeqCst);
    }
}

fn answer(mut stream: TcpStream, healthy: bool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let (status, body) = if healthy {
        ("200 OK", "ok")
    } else {
        ("500 Internal Server Error", "broken")
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// What one system's checks probe, and the strings to normalise away.
struct Env {
    web: Web,
    _open_port: TcpListener,
    port: u16,
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let open = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = open.local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("flag"), "").unwrap();
        Env {
            web: Web::start(),
            _open_port: open,
            port,
            dir,
        }
    }

    fn flag(&self) -> PathBuf {
        self.dir.path().join("flag")
    }

    fn base_layer(&self) -> String {
        format!(
            "services:
  svc:
    override: replace
    command: sleep 1000
    startup: enabled
checks:
  web:
    override: replace
    level: ready
    period: 400ms
    timeout: 350ms
    threshold: 2
    http:
      url: http://127.0.0.1:{web}/ready
  port:
    override: replace
    level: alive
    period: 400ms
    timeout: 350ms
    threshold: 1
    tcp:
      host: 127.0.0.1
      port: {port}
  file:
    override: replace
    level: ready
    startup: enabled
    period: 400ms
    timeout: 350ms
    threshold: 1
    exec:
      command: test -e {flag}
  spare:
    override: replace
    startup: disabled
    period: 400ms
    timeout: 350ms
    http:
      url: http://127.0.0.1:{web}/spare
",
            web = self.web.port,
            port = self.port,
            flag = self.flag().display(),
        )
    }

    fn normalise(&self, text: &str) -> String {
        text.replace(&self.flag().display().to_string(), "<flag>")
            .replace(&format!(":{}/", self.web.port), ":<web>/")
            .replace(&format!("port: {}", self.port), "port: <port>")
    }
}

/// One system under test: its socket, and what keeps it alive.
struct System {
    socket: PathBuf,
    _daemon: Option<Daemon>,
    _fake: Option<FakePebble>,
    _dir: tempfile::TempDir,
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl System {
    fn real() -> System {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(pebble_bin())
            .args(["run", "--hold"])
            .env("PEBBLE", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let system = System {
            socket: dir.path().join(".pebble.socket"),
            _daemon: Some(Daemon(child)),
            _fake: None,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while pebble::Client::new(&system.socket).system_info().is_err() {
            assert!(Instant::now() < deadline, "pebble did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        system
    }

    fn fake() -> System {
        let dir = tempfile::tempdir().unwrap();
        let fake = FakePebble::start(dir.path());
        System {
            socket: fake.socket_path().to_path_buf(),
            _daemon: None,
            _fake: Some(fake),
            _dir: dir,
        }
    }

    /// A raw request: status and JSON body.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        call(&self.socket, method, path, body)
    }
}

fn call(socket: &Path, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::blocking::Client::builder()
        .unix_socket(socket.to_path_buf())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client.request(method, format!("http://localhost{path}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, value)
}

/// A check entry with ids, counters that depend on timing, and addresses normalised.
fn normalise_check(check: &Value) -> Value {
    let mut out = check.clone();
    let object = out.as_object_mut().unwrap();
    for id in ["change-id", "prev-change-id"] {
        if object.contains_key(id) {
            object.insert(id.into(), json!("<id>"));
        }
    }
    let successes = object.get("successes").and_then(Value::as_u64).unwrap_or(0);
    object.insert("successes".into(), json!(successes > 0));
    // Failures keep counting while a check recovers: only "none", "some" or "at threshold".
    let failures = object.get("failures").and_then(Value::as_u64).unwrap_or(0);
    let threshold = object.get("threshold").and_then(Value::as_u64).unwrap_or(0);
    let failures = match failures {
        0 => "none",
        n if n >= threshold => "at threshold",
        _ => "some",
    };
    object.insert("failures".into(), json!(failures));
    out
}

/// Everything a system shows, normalised.
fn snapshot(system: &System, env: &Env) -> Value {
    let (status, checks) = system.call("GET", "/v1/checks", None);
    assert_eq!(status, 200, "{checks}");
    // A check whose change-id names a finished change is a stale record: the real daemon can
    // leave one when a stop lands while a probe is in flight (the probe's result is written
    // back after the stop), and the check then shows `up` without running.
    let stale: Vec<Value> = checks["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["change-id"].as_str().is_some_and(|id| {
                let (_, change) = system.call("GET", &format!("/v1/changes/{id}"), None);
                change["result"]["ready"] == true
            })
        })
        .map(|c| c["name"].clone())
        .collect();
    let checks: Vec<Value> = checks["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(normalise_check)
        .collect();
    let names = |query: &str| {
        let (_, body) = system.call("GET", &format!("/v1/checks?{query}"), None);
        body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].clone())
            .collect::<Vec<_>>()
    };
    let mut health = serde_json::Map::new();
    for level in ["", "alive", "ready"] {
        let (status, body) = system.call("GET", &format!("/v1/health?level={level}"), None);
        health.insert(
            if level.is_empty() { "any" } else { level }.into(),
            json!({"http": status, "body": body}),
        );
    }
    let (_, plan) = system.call("GET", "/v1/plan?format=yaml", None);
    let (_, services) = system.call("GET", "/v1/services", None);
    let services: Vec<Value> = services["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json!({"name": s["name"], "startup": s["startup"], "current": s["current"]}))
        .collect();
    json!({
        "stale-checks": stale,
        "checks": checks,
        "ready-checks": names("level=ready"),
        "alive-checks": names("level=alive"),
        "named": names("names=web,file"),
        "health": health,
        "plan": env.normalise(plan["result"].as_str().unwrap()),
        "services": services,
    })
}

/// The snapshot once it stops changing: two equal snapshots further apart than a check period
/// (so at least one probe ran between them), at least 1.2 s after the step. Both systems are
/// compared in their settled state.
fn settled(system: &System, env: &Env) -> Value {
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(600));
    let mut last = snapshot(system, env);
    loop {
        std::thread::sleep(Duration::from_millis(600));
        let next = snapshot(system, env);
        if next == last && start.elapsed() >= Duration::from_millis(1200) {
            return next;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never settled: {next:#}"
        );
        last = next;
    }
}

fn layer(label: &str, yaml: &str) -> Value {
    json!({"action": "add", "combine": true, "label": label, "format": "yaml", "layer": yaml})
}

/// Runs the scenario; returns `(step, what was seen)` after every step.
fn scenario(system: &System) -> Vec<(String, Value)> {
    let env = Env::new();
    let mut seen = Vec::new();
    let mut step = |name: &str, answer: Value, system: &System| {
        let mut shown = settled(system, &env);
        shown["answer"] = answer;
        seen.push((name.to_string(), shown));
    };
    let post = |path: &str, body: Value| {
        let (status, body) = system.call("POST", path, Some(body));
        let answer = if body["type"] == "async" {
            json!({"http": status, "type": "async"})
        } else {
            json!({"http": status, "body": body})
        };
        if let Some(change) = body["change"].as_str() {
            let (_, done) = system.call(
                "GET",
                &format!("/v1/changes/{change}/wait?timeout=15s"),
                None,
            );
            assert_eq!(done["result"]["status"], "Done", "{done}");
        }
        answer
    };

    step("empty", Value::Null, system);
    let answer = post("/v1/layers", layer("base", &env.base_layer()));
    step("layer added: enabled checks start", answer, system);
    let answer = post("/v1/services", json!({"action": "replan"}));
    step("replan starts the service", answer, system);

    env.web.set_healthy(false);
    step("web failing: down at its threshold", Value::Null, system);
    env.web.set_healthy(true);
    step("web recovered", Value::Null, system);

    std::fs::remove_file(env.flag()).unwrap();
    step("flag gone: the exec check is down", Value::Null, system);

    let disable = "checks:\n  file:\n    override: merge\n    startup: disabled\n";
    let answer = post("/v1/layers", layer("base", disable));
    step(
        "layer disables the running check: it keeps running",
        answer,
        system,
    );
    let answer = post("/v1/services", json!({"action": "replan"}));
    step("replan does not stop it either", answer, system);
    let answer = post(
        "/v1/checks",
        json!({"action": "stop", "checks": ["file", "spare"]}),
    );
    step("stopped through the API", answer, system);
    let answer = post(
        "/v1/checks",
        json!({"action": "start", "checks": ["spare"]}),
    );
    step("a disabled check started through the API", answer, system);
    let answer = post(
        "/v1/checks",
        json!({"action": "stop", "checks": ["port", "nope", "gone"]}),
    );
    step("names missing from the plan are refused", answer, system);
    let answer = post("/v1/checks", json!({"action": "stop", "checks": ["port"]}));
    step("alive check stopped", answer, system);
    let answer = post("/v1/checks", json!({"action": "stop", "checks": []}));
    step("no names", answer, system);

    let extra = "services:\n  other:\n    override: replace\n    command: sleep 1000\n";
    let answer = post("/v1/layers", layer("extra", extra));
    step(
        "any new layer restarts stopped enabled checks",
        answer,
        system,
    );
    let answer = post(
        "/v1/checks",
        json!({"action": "stop", "checks": ["port", "web"]}),
    );
    step("stopped again", answer, system);
    let answer = post("/v1/services", json!({"action": "replan"}));
    step("replan restarts stopped enabled checks", answer, system);

    std::fs::write(env.flag(), "").unwrap();
    let answer = post("/v1/checks", json!({"action": "start", "checks": ["file"]}));
    step("the disabled exec check started again", answer, system);
    let (status, body) = system.call("GET", "/v1/health?level=bogus", None);
    step("bad level", json!({"http": status, "body": body}), system);
    seen
}

#[test]
fn the_fake_shows_what_the_real_daemon_shows() {
    let has_stale = |seen: &[(String, Value)]| {
        seen.iter()
            .any(|(_, v)| !v["stale-checks"].as_array().unwrap().is_empty())
    };
    let mut attempt = 1;
    let (real, fake) = loop {
        let real = std::thread::spawn(|| scenario(&System::real()));
        let fake = scenario(&System::fake());
        let real = real.join().expect("the scenario against the real daemon");
        assert!(!has_stale(&fake), "the fake left a stale check record");
        // The real daemon's stop/probe race (see `snapshot`) is not modelled: run again.
        if has_stale(&real) && attempt < 3 {
            eprintln!("attempt {attempt}: the real daemon left a stale check record; again");
            attempt += 1;
            continue;
        }
        break (real, fake);
    };
    assert_eq!(real.len(), fake.len());
    let mut differences = Vec::new();
    for ((step, real), (_, fake)) in real.iter().zip(&fake) {
        for (key, real_value) in real.as_object().unwrap() {
            let fake_value = &fake[key];
            if real_value != fake_value {
                differences.push(format!(
                    "step {step:?}, {key}:\n  real: {real_value}\n  fake: {fake_value}"
                ));
            }
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n\n"));
}

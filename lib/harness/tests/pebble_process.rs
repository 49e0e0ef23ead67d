//! End to end: the fake Pebble running the real Prometheus through the `ProcessRunner`.

mod pebble_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use charm_harness::pebble::ProcessRunner;
use charm_harness::{FakePebble, ServiceCurrent};
use pebble::{Layer, Override, PushOptions, Service, Startup};
use pebble_support::client;

const CONFIG: &str = "global:\n  scrape_interval: 1m\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['localhost:9090']\n";

fn free_port() -> u16 {
    charm_harness::ports::unused_port().unwrap()
}

fn prometheus_layer(config: &str) -> Layer {
    service_layer(
        "prometheus",
        &format!(
            "/bin/prometheus --config.file={config} --storage.tsdb.path=/var/lib/prometheus --web.enable-lifecycle"
        ),
    )
}

/// A layer with one enabled service `name` running `command`.
fn service_layer(name: &str, command: &str) -> Layer {
    let mut layer = Layer::default();
    layer.services.insert(
        name.into(),
        Service {
            r#override: Some(Override::Replace),
            startup: Some(Startup::Enabled),
            command: Some(command.into()),
            ..Service::default()
        },
    );
    layer
}

fn start(dir: &std::path::Path, port: u16) -> FakePebble {
    start_with(dir, port, ProcessRunner::new())
}

fn start_with(dir: &std::path::Path, port: u16, runner: ProcessRunner) -> FakePebble {
    let runner = runner
        .executable("/bin/prometheus", "/usr/bin/prometheus")
        .extra_args(
            "prometheus",
            &[&format!("--web.listen-address=127.0.0.1:{port}")],
        )
        .log_dir(dir.join("logs"));
    FakePebble::start_with_runner(dir, Arc::new(runner))
}

fn wait_ready(url: &str) -> bool {
    let http = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{url}/-/ready")).send() {
            if r.status().is_success() {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn real_prometheus_runs_reloads_and_stops_under_the_fake() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let fake = start(dir.path(), port);
    let c = client(&fake);
    c.push(
        "/etc/prometheus/prometheus.yml",
        CONFIG.as_bytes(),
        &PushOptions::default(),
    )
    .unwrap();
    c.add_layer(
        "prometheus-rs-k8s",
        &prometheus_layer("/etc/prometheus/prometheus.yml"),
        true,
    )
    .unwrap();
    c.replan(Duration::from_secs(20)).unwrap();
    assert_eq!(
        fake.service_status("prometheus"),
        Some(ServiceCurrent::Active)
    );
    let url = format!("http://127.0.0.1:{port}");
    assert!(wait_ready(&url), "prometheus never became ready");
    // The TSDB went to the mapped storage directory.
    assert!(fake.host_path("/var/lib/prometheus").is_dir());

    let http = reqwest::blocking::Client::new();
    let reload = || {
        http.post(format!("{url}/-/reload"))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(reload(), 200);
    c.push(
        "/etc/prometheus/prometheus.yml",
        b"scrape_configs: [{bogus: 1}]\n",
        &PushOptions::default(),
    )
    .unwrap();
    assert_eq!(reload(), 500);

    c.send_signal("SIGHUP", &["prometheus"]).unwrap();
    c.stop_services(&["prometheus"], Duration::from_secs(20))
        .unwrap();
    assert_eq!(
        fake.service_status("prometheus"),
        Some(ServiceCurrent::Inactive)
    );
    assert!(http.get(format!("{url}/-/ready")).send().is_err());
}

#[test]
fn a_prometheus_that_cannot_load_its_config_fails_the_replan() {
    let dir = tempfile::tempdir().unwrap();
    // Prometheus exits within tens of milliseconds once its binary is in the page cache, but
    // the first start after CI's build (a 100 MB binary read from disk) took over Pebble's
    // 1 s okay-delay in three of five clean runs: the fake's okay-delay itself is checked in
    // `process_runner`'s own tests.
    let fake = start_with(
        dir.path(),
        free_port(),
        ProcessRunner::new().okay_delay(Duration::from_secs(10)),
    );
    let c = client(&fake);
    c.add_layer(
        "prometheus-rs-k8s",
        &prometheus_layer("/etc/prometheus/missing.yml"),
        true,
    )
    .unwrap();
    let err = c.replan(Duration::from_secs(20)).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("Start service \"prometheus\""), "{text}");
    // Prometheus exits non-zero (2 for a missing file in 2.42).
    assert!(text.contains("exited quickly with code "), "{text}");
    assert!(!text.contains("exited quickly with code 0"), "{text}");
    assert_eq!(
        fake.service_status("prometheus"),
        Some(ServiceCurrent::Error)
    );
    let log = std::fs::read_to_string(dir.path().join("logs/prometheus.log")).unwrap();
    assert!(log.contains("missing.yml"), "{log}");
}

#[test]
fn a_start_longer_than_the_request_timeout_answers_at_once_and_is_waited_for() {
    // Pebble answers `POST /v1/services` with the change id before it starts anything; a start
    // that takes its okay-delay (here 3 s) must not outlast the client's 2 s request timeout.
    let dir = tempfile::tempdir().unwrap();
    let runner = ProcessRunner::new()
        .okay_delay(Duration::from_secs(3))
        .log_dir(dir.path().join("logs"));
    let fake = FakePebble::start_with_runner(dir.path(), Arc::new(runner));
    let c = client(&fake).with_timeout(Duration::from_secs(2));
    c.add_layer("base", &service_layer("sleeper", "sleep 60"), true)
        .unwrap();
    let asked = Instant::now();
    let change = c.replan(Duration::from_secs(20)).unwrap();
    assert!(asked.elapsed() >= Duration::from_secs(3), "{change:?}");
    assert_eq!(change.status, "Done", "{change:?}");
    assert_eq!(fake.service_status("sleeper"), Some(ServiceCurrent::Active));
}

#[test]
fn a_ready_check_of_localhost_9090_probes_the_process_where_the_runner_moved_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let runner = ProcessRunner::new()
        .executable("/bin/prometheus", "/usr/bin/prometheus")
        .address("0.0.0.0:9090", format!("127.0.0.1:{port}"))
        .log_dir(dir.path().join("logs"));
    let fake = FakePebble::start_with_runner(dir.path(), Arc::new(runner));
    let c = client(&fake);
    c.push(
        "/etc/prometheus/prometheus.yml",
        CONFIG.as_bytes(),
        &PushOptions::default(),
    )
    .unwrap();
    let mut layer = prometheus_layer("/etc/prometheus/prometheus.yml");
    let service = layer.services.get_mut("prometheus").unwrap();
    let command = service.command.take().unwrap();
    service.command = Some(format!("{command} --web.listen-address=0.0.0.0:9090"));
    layer.checks.insert(
        "prometheus-ready".into(),
        Layer::from_yaml(
            "checks:\n  c:\n    override: replace\n    level: ready\n    period: 500ms\n    timeout: 450ms\n    threshold: 1\n    http:\n      url: http://localhost:9090/-/ready\n",
        )
        .unwrap()
        .checks["c"]
            .clone(),
    );
    c.add_layer("prometheus-rs-k8s", &layer, true).unwrap();
    c.replan(Duration::from_secs(20)).unwrap();

    let wait = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let check = || c.checks(None, &["prometheus-ready"]).unwrap().remove(0);
    wait("the check to reach the moved Prometheus", &|| {
        check().successes > 0
    });
    assert_eq!(check().status, pebble::CheckStatus::Up);
    assert!(c.health(Some(pebble::CheckLevel::Ready)).unwrap());

    // Prometheus gone: the check fails at its threshold and readiness follows.
    c.stop_services(&["prometheus"], Duration::from_secs(20))
        .unwrap();
    wait("the check to go down", &|| {
        check().status == pebble::CheckStatus::Down
    });
    assert!(!c.health(Some(pebble::CheckLevel::Ready)).unwrap());
    assert!(c.health(Some(pebble::CheckLevel::Alive)).unwrap());
}

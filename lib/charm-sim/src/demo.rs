//! `demo`: the charm driven through a deployment on this machine, without Juju or Kubernetes.
//! The harness plays Juju and Pebble; the REAL Prometheus and inventory poller run on loopback
//! as the charm configured them ([`LiveDeployment`], which the end-to-end tests use too).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use charm_harness::pebble::exec::real_promtool_handler;
use charm_harness::pebble::ProcessRunner;
use charm_harness::ports;
use charm_harness::ModelState;
use inventory_sd::sample::{MetricsPorts, SampleInventory, SampleOptions};
use juju_hook::{Event, RelationData, RelationEventKind, RelationId, WorkloadEventKind};
use serde::Deserialize;
use serde_json::Value;

use crate::{charm_model_state, Simulation};

use prometheus_rs_k8s::core::manifest::Manifest;
use prometheus_rs_k8s::core::version::PrometheusVersion;
use prometheus_rs_k8s::core::workload::{
    CONTAINER, INVENTORY_SERVICE, MANIFEST_FILE, POLLER_BINARY, POLLER_LISTEN, PROMETHEUS_BINARY,
    PROMETHEUS_PORT, PROMETHEUS_SERVICE, TARGETS_DIR, TARGETS_LISTEN, TARGETS_SERVICE,
};

/// The host's Prometheus (Debian package `prometheus`).
pub const HOST_PROMETHEUS: &str = "/usr/bin/prometheus";
/// The host's promtool (same package).
pub const HOST_PROMTOOL: &str = "/usr/bin/promtool";
/// Job name of the inventory targets (the `inventory_job_name` default).
pub const INVENTORY_JOB: &str = "inventory";
const RELOAD_METRIC: &str = "prometheus_config_last_reload_success_timestamp_seconds";

/// The demo's options (`cargo run --release --example demo -- --help`).
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Keep Prometheus and the poller running at the end, until Ctrl-C.
    #[arg(long)]
    pub keep_running: bool,
    /// Number of sensors in the sample inventory.
    #[arg(long, default_value_t = 10)]
    pub sensors: usize,
}

/// Which host ports the workload's listeners get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ports {
    /// Free ephemeral ports (tests run side by side).
    Ephemeral,
    /// The in-pod ports 9090 and 9099 when free (then Prometheus' self-scrape works too).
    PreferInPod,
}

/// One target as `/api/v1/targets` reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct Target {
    /// Target labels (`job`, `instance`, topology...).
    pub labels: BTreeMap<String, String>,
    /// `up`, `down` or `unknown` (not scraped yet).
    pub health: String,
    /// The last scrape error, empty when fine.
    #[serde(rename = "lastError", default)]
    pub last_error: String,
    /// The URL scraped.
    #[serde(rename = "scrapeUrl", default)]
    pub scrape_url: String,
}

/// The charm in-process against the harness, with Pebble services run as real processes:
/// `/bin/prometheus` is the host's Prometheus, the poller is the charm binary, listeners are
/// moved to loopback ports, promtool is the real one. Everything stops when dropped.
pub struct LiveDeployment {
    /// The simulated unit (model, hook tools, fake Pebble); `access` points at the real ports.
    pub sim: Simulation,
    /// The runner, for process ids.
    pub runner: Arc<ProcessRunner>,
    /// Base URL of the real Prometheus.
    pub prometheus_url: String,
    http: reqwest::blocking::Client,
    // Last: sample servers spawned on it are dropped first.
    runtime: tokio::runtime::Runtime,
}

/// Whether the host has Prometheus and promtool.
pub fn host_has_prometheus() -> bool {
    Path::new(HOST_PROMETHEUS).is_file() && Path::new(HOST_PROMTOOL).is_file()
}

/// `X.Y.Z` of the host's Prometheus.
pub fn host_prometheus_version() -> anyhow::Result<String> {
    let out = std::process::Command::new(HOST_PROMETHEUS)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run {HOST_PROMETHEUS}"))?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Ok(PrometheusVersion::parse_version_output(&text)?.to_string())
}

fn free_port(preferred: Option<u16>) -> anyhow::Result<u16> {
    Ok(match preferred {
        Some(port) => ports::port_preferring(port)?,
        None => ports::unused_port()?,
    })
}

/// Polls `probe` every 200 ms until it answers or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl LiveDeployment {
    /// Starts the fakes around `state`; the poller runs `charm_binary poll ...`.
    pub fn start(state: ModelState, charm_binary: &Path, ports: Ports) -> anyhow::Result<Self> {
        let version = host_prometheus_version()?;
        let mut sim = Simulation::start(state, &version)?;
        let prefer = |p| (ports == Ports::PreferInPod).then_some(p);
        let poller_port = POLLER_LISTEN.parse::<SocketAddr>()?.port();
        let prom = free_port(prefer(PROMETHEUS_PORT))?;
        let poller = free_port(prefer(poller_port))?;
        let targets_port = TARGETS_LISTEN.parse::<SocketAddr>()?.port();
        let targets = free_port(prefer(targets_port))?;
        let runner = Arc::new(
            ProcessRunner::new()
                .executable(PROMETHEUS_BINARY, HOST_PROMETHEUS)
                .executable(POLLER_BINARY, charm_binary)
                .address(
                    &format!("0.0.0.0:{PROMETHEUS_PORT}"),
                    format!("127.0.0.1:{prom}"),
                )
                .address(POLLER_LISTEN, format!("127.0.0.1:{poller}"))
                .address(TARGETS_LISTEN, format!("127.0.0.1:{targets}"))
                .log_dir(sim.pebble.fs_root().join("var/log/pebble")),
        );
        sim.pebble.set_runner(runner.clone());
        let promtool = real_promtool_handler(HOST_PROMTOOL.into());
        sim.pebble.on_exec("promtool", move |req| promtool(req));
        let prometheus_url = format!("http://127.0.0.1:{prom}");
        sim.access.prometheus_url = prometheus_url.clone();
        sim.access.poller_url = format!("http://127.0.0.1:{poller}");
        sim.access.targets_url = format!("http://127.0.0.1:{targets}");
        sim.access.charm_binary = Some(charm_binary.to_path_buf());
        // The "pod" is this machine: its name for itself resolves here, so the self-scrape at
        // `<fqdn>:9090` reaches this Prometheus when it has the in-pod port.
        sim.access.unit_fqdn = Some("localhost".to_owned());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self {
            sim,
            runner,
            prometheus_url,
            http,
            runtime,
        })
    }

    /// Runs one event as a hook would.
    pub fn run(&self, event: &Event) -> anyhow::Result<()> {
        self.sim.run(event)
    }

    /// The Juju model, to change between events.
    pub fn model(&self) -> MutexGuard<'_, ModelState> {
        self.sim.juju.state()
    }

    /// Host process id of a running Pebble service.
    pub fn pid(&self, service: &str) -> Option<u32> {
        self.runner.pid(service)
    }

    /// Where the services' output goes.
    pub fn log_dir(&self) -> PathBuf {
        self.sim.pebble.fs_root().join("var/log/pebble")
    }

    /// Starts a sample inventory of `hosts` real loopback `/metrics` endpoints.
    pub fn sample_inventory(&self, hosts: usize) -> anyhow::Result<SampleInventory> {
        let opts = SampleOptions {
            hosts,
            metrics: MetricsPorts::Ephemeral,
            ..SampleOptions::default()
        };
        Ok(self.runtime.block_on(SampleInventory::start_with(opts))?)
    }

    fn get_json(&self, path: &str) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.prometheus_url);
        let body: Value = self.http.get(&url).send()?.error_for_status()?.json()?;
        Ok(body["data"].clone())
    }

    /// Waits until Prometheus answers `/-/ready`.
    pub fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let url = format!("{}/-/ready", self.prometheus_url);
        wait_for(timeout, || {
            let r = self.http.get(&url).send().ok()?;
            r.status().is_success().then_some(())
        })
        .with_context(|| format!("Prometheus not ready after {timeout:?}"))
    }

    /// Active targets (`/api/v1/targets`).
    pub fn targets(&self) -> anyhow::Result<Vec<Target>> {
        let data = self.get_json("/api/v1/targets?state=active")?;
        Ok(serde_json::from_value(data["activeTargets"].clone())?)
    }

    /// An instant query's vector result as (labels, value).
    pub fn query(&self, promql: &str) -> anyhow::Result<Vec<(BTreeMap<String, String>, f64)>> {
        let url = format!("{}/api/v1/query", self.prometheus_url);
        let url = reqwest::Url::parse_with_params(&url, [("query", promql)])?;
        let body: Value = self.http.get(url).send()?.error_for_status()?.json()?;
        let rows = body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        rows.into_iter()
            .map(|row| {
                let labels: BTreeMap<String, String> =
                    serde_json::from_value(row["metric"].clone())?;
                let value: f64 = row["value"][1].as_str().unwrap_or("NaN").parse()?;
                Ok((labels, value))
            })
            .collect()
    }

    /// The configuration Prometheus runs (`/api/v1/status/config`).
    pub fn running_config(&self) -> anyhow::Result<String> {
        let data = self.get_json("/api/v1/status/config")?;
        Ok(data["yaml"].as_str().unwrap_or_default().to_string())
    }

    /// One of Prometheus' own metrics, read from its `/metrics`.
    pub fn own_metric(&self, name: &str) -> anyhow::Result<Option<f64>> {
        let text = self
            .http
            .get(format!("{}/metrics", self.prometheus_url))
            .send()?
            .error_for_status()?
            .text()?;
        Ok(text
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok()))
    }

    /// When Prometheus last loaded its configuration (start or reload).
    pub fn last_reload(&self) -> Option<f64> {
        self.own_metric(RELOAD_METRIC).ok().flatten()
    }
}

// ---------------------------------------------------------------------------------------------
// The demo itself

/// What the demo looks at before and after a step, to tell what the charm did.
struct Observed {
    manifest: BTreeMap<String, String>,
    pids: [Option<u32>; 3],
    reload: Option<f64>,
    databags: BTreeMap<String, RelationData>,
}

/// Unit databag keys Juju itself writes when a relation is created.
const JUJU_KEYS: [&str; 3] = ["egress-subnets", "ingress-address", "private-address"];
const SERVICES: [&str; 3] = [PROMETHEUS_SERVICE, TARGETS_SERVICE, INVENTORY_SERVICE];

impl Observed {
    fn take(live: &LiveDeployment) -> Self {
        let mut manifest = live
            .sim
            .pebble
            .read_file(MANIFEST_FILE)
            .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
            .unwrap_or_default()
            .files;
        // The relation jobs' target files are recorded in the charm container, not the
        // manifest: their contents stand for their identity here.
        let targets_dir = live.sim.pebble.host_path(TARGETS_DIR);
        for entry in std::fs::read_dir(targets_dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let content = std::fs::read_to_string(entry.path()).unwrap_or_default();
            manifest.insert(format!("{TARGETS_DIR}/{name}"), content);
        }
        let mut databags = BTreeMap::new();
        for rel in live.model().relations.iter().filter(|r| !r.broken) {
            let id = format!("{}:{}", rel.endpoint, rel.id);
            databags.insert(format!("{id} app"), rel.local_app_data.clone());
            databags.insert(format!("{id} unit"), rel.local_unit_data.clone());
        }
        Self {
            manifest,
            pids: SERVICES.map(|s| live.pid(s)),
            reload: live.pid(PROMETHEUS_SERVICE).and(live.last_reload()),
            databags,
        }
    }

    /// What changed from `before`, in words.
    fn actions_since(&self, before: &Observed) -> Vec<String> {
        let mut out = Vec::new();
        let pushed: Vec<&str> = (self.manifest.iter())
            .filter(|(p, id)| before.manifest.get(*p) != Some(id))
            .map(|(p, _)| p.as_str())
            .collect();
        if !pushed.is_empty() {
            out.push(format!("pushed {}", pushed.join(", ")));
        }
        for (i, name) in SERVICES.iter().enumerate() {
            match (before.pids[i], self.pids[i]) {
                (None, Some(p)) => out.push(format!("started {name} (pid {p})")),
                (Some(a), Some(b)) if a != b => out.push(format!("restarted {name} ({a} → {b})")),
                (Some(_), None) => out.push(format!("stopped {name}")),
                _ => {}
            }
        }
        if self.pids[0].is_some() && self.pids[0] == before.pids[0] && self.reload != before.reload
        {
            out.push("reloaded Prometheus (same process)".into());
        }
        for (bag, data) in &self.databags {
            let old = before.databags.get(bag);
            let keys: Vec<&str> = (data.iter())
                .filter(|(k, v)| old.and_then(|o| o.get(*k)) != Some(v))
                .filter(|(k, _)| !JUJU_KEYS.contains(&k.as_str()))
                .map(|(k, _)| k.as_str())
                .collect();
            if !keys.is_empty() {
                out.push(format!("wrote {bag} data: {}", keys.join(", ")));
            }
        }
        if out.is_empty() {
            out.push("nothing: the workload was already as wanted".into());
        }
        out
    }
}

const APP: &str = "sample-app";

/// Up inventory targets, up sample-app targets, and all targets of either.
fn counts(targets: &[Target]) -> (usize, usize, usize) {
    let count = |f: &dyn Fn(&Target) -> bool| targets.iter().filter(|t| f(t)).count();
    let inv = |t: &Target| t.labels.get("job").map(String::as_str) == Some(INVENTORY_JOB);
    let app = |t: &Target| t.labels.get("juju_application").map(String::as_str) == Some(APP);
    (
        count(&|t| inv(t) && t.health == "up"),
        count(&|t| app(t) && t.health == "up"),
        count(&|t| inv(t) || app(t)),
    )
}

struct Demo {
    live: LiveDeployment,
    step: usize,
    /// Steps whose targets did not settle as expected.
    missed: Vec<String>,
}

impl Demo {
    /// Changes the model, runs the events, waits for Prometheus to show `expect` (up inventory
    /// targets, up sample-app targets) and prints what happened. A failed hook or targets that
    /// do not settle are misses: the demo then exits non-zero (`run_tests` runs it).
    fn step(
        &mut self,
        title: &str,
        expect: (usize, usize),
        act: impl FnOnce(&mut ModelState) -> Vec<Event>,
    ) {
        self.step += 1;
        println!("\n── {}. {title}", self.step);
        let before = Observed::take(&self.live);
        let events = act(&mut self.live.model());
        for event in &events {
            if let Err(e) = self.live.run(event) {
                println!("   hook {} failed: {e:#}", event.name());
                self.missed.push(format!(
                    "step {} ({title}): hook {} failed",
                    self.step,
                    event.name()
                ));
            }
        }
        let names: Vec<String> = events.iter().map(Event::name).collect();
        println!("   events:    {}", names.join(", "));
        let status = self.live.model().unit_status.clone();
        let status = status.map_or("(none)".into(), |s| s.to_string());
        println!("   status:    {status}");
        let targets = if self.live.pid(PROMETHEUS_SERVICE).is_some() {
            let _ = self.live.wait_ready(Duration::from_secs(20));
            wait_for(Duration::from_secs(20), || {
                let t = self.live.targets().ok()?;
                let (inv, app, all) = counts(&t);
                // Settled: what was expected, and every target scraped at least once.
                let scraped = !t.is_empty() && t.iter().all(|t| t.health != "unknown");
                ((inv, app) == expect && all == inv + app && scraped).then_some(t)
            })
            .or_else(|| {
                self.missed.push(format!(
                    "step {} ({title}): {} up inventory and {} up {APP} targets expected",
                    self.step, expect.0, expect.1
                ));
                self.live.targets().ok()
            })
        } else {
            None
        };
        let after = Observed::take(&self.live);
        for (i, line) in after.actions_since(&before).iter().enumerate() {
            let head = if i == 0 { "charm did:" } else { "" };
            println!("   {head:<10} {line}");
        }
        match targets {
            None => println!("   targets:   (Prometheus is not running)"),
            Some(t) => print_targets(&t),
        }
    }
}

fn print_targets(targets: &[Target]) {
    let mut jobs: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for t in targets {
        let job = t.labels.get("job").map_or("?", String::as_str);
        let entry = jobs.entry(job).or_default();
        entry.1 += 1;
        entry.0 += usize::from(t.health == "up");
    }
    if jobs.is_empty() {
        println!("   targets:   none discovered yet");
    }
    for (i, (job, (up, all))) in jobs.iter().enumerate() {
        let head = if i == 0 { "targets:" } else { "" };
        println!("   {head:<10} {up}/{all} up  {job}");
    }
}

/// Runs the demo (`cargo run --release --example demo`). The poller service runs the current
/// executable with `poll`, which must hand over to [`inventory_sd::run_cli`] as the charm does.
pub fn run(args: &DemoArgs) -> ExitCode {
    if !host_has_prometheus() {
        eprintln!(
            "demo: {HOST_PROMETHEUS} and {HOST_PROMTOOL} are needed; install them with\n  \
             sudo apt-get install --no-install-recommends prometheus"
        );
        return ExitCode::from(2);
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .without_time()
        .try_init();
    match demo(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn set(model: &mut ModelState, options: &[(&str, &str)]) {
    for (key, value) in options {
        model.set_config(key, *value).expect("a config.yaml option");
    }
}

fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    let mut model = charm_model_state()?;
    model.model_name = "demo".into();
    model.address = "127.0.0.1".into();
    // As if deployed with `--config scrape_interval=5s`, so targets show up quickly.
    set(
        &mut model,
        &[("scrape_interval", "5s"), ("scrape_timeout", "3s")],
    );
    let exe = std::env::current_exe()?;
    let live = LiveDeployment::start(model, &exe, Ports::PreferInPod)?;
    let sensors = live.sample_inventory(args.sensors)?;
    let app = live.sample_inventory(1)?;
    let app_port = app.metrics_addrs()[0].port();
    println!(
        "demo: the prometheus-rs-k8s charm in this process, Juju and Pebble simulated, the real \
         Prometheus ({}) and inventory poller on loopback.\nPrometheus: {}\nService logs: {}",
        host_prometheus_version()?,
        live.prometheus_url,
        live.log_dir().display()
    );
    let mut d = Demo {
        live,
        step: 0,
        missed: Vec::new(),
    };
    let pebble_ready = Event::Workload {
        container: CONTAINER.into(),
        kind: WorkloadEventKind::PebbleReady,
    };
    d.step("install", (0, 0), |_| vec![Event::Install]);
    d.step("leader elected", (0, 0), |m| {
        m.set_leader(true);
        vec![Event::LeaderElected]
    });
    d.step("config-changed", (0, 0), |_| vec![Event::ConfigChanged]);
    d.step("prometheus container ready", (0, 0), |_| vec![pebble_ready]);
    let metrics = RelationId::new("metrics-endpoint", 1);
    d.step(
        &format!("relate {APP} (2 units at 127.0.0.1, wildcard job *:{app_port})"),
        (0, 2),
        |m| relate_sample_app(m, &metrics, app_port),
    );
    d.step("relate grafana (grafana-source)", (0, 2), |m| {
        let id = m.add_relation("grafana-source", "grafana");
        m.add_remote_unit(&id, "grafana/0");
        vec![m.relation_event(&id, RelationEventKind::Joined, Some("grafana/0"))]
    });
    let url = sensors.url();
    let n = args.sensors;
    d.step(&format!("config: inventory_url={url}"), (n, 2), |m| {
        let opts = [
            ("inventory_poll_interval", "5s"),
            ("inventory_timeout", "2s"),
        ];
        set(m, &opts);
        set(m, &[("inventory_url", &url)]);
        vec![Event::ConfigChanged]
    });
    d.step("config: evaluation_interval=15s", (n, 2), |m| {
        set(m, &[("evaluation_interval", "15s")]);
        vec![Event::ConfigChanged]
    });
    d.step("config: inventory_poll_interval=60s", (n, 2), |m| {
        set(m, &[("inventory_poll_interval", "60s")]);
        vec![Event::ConfigChanged]
    });
    d.step("update-status", (n, 2), |_| vec![Event::UpdateStatus]);
    d.step(&format!("{APP}/1 departs"), (n, 1), |m| {
        m.remove_remote_unit(&metrics, "sample-app/1");
        vec![m.relation_event(&metrics, RelationEventKind::Departed, Some("sample-app/1"))]
    });
    d.step(&format!("{APP} relation removed"), (n, 0), |m| {
        m.remove_relation(&metrics);
        vec![m.relation_event(&metrics, RelationEventKind::Broken, None)]
    });
    println!("\nPrometheus: {}", d.live.prometheus_url);
    if args.keep_running {
        println!("Running until Ctrl-C.");
        d.live.runtime.block_on(tokio::signal::ctrl_c())?;
    }
    println!("Stopping Prometheus and the poller.");
    if !d.missed.is_empty() {
        anyhow::bail!(
            "the deployment did not go as expected: {}",
            d.missed.join("; ")
        );
    }
    Ok(())
}

/// A metrics-endpoint relation whose units are loopback endpoints (one wildcard job).
fn relate_sample_app(m: &mut ModelState, id: &RelationId, port: u16) -> Vec<Event> {
    let id = m.add_relation_with_id(&id.endpoint, APP, id.id);
    let metadata = serde_json::json!({"model": "demo", "model_uuid": m.model_uuid,
        "application": APP, "unit": format!("{APP}/0"), "charm_name": APP});
    let jobs = serde_json::json!([{"static_configs": [{"targets": [format!("*:{port}")]}]}]);
    let app_data = RelationData::from([
        ("scrape_metadata".into(), metadata.to_string()),
        ("scrape_jobs".into(), jobs.to_string()),
    ]);
    m.set_remote_app_data(&id, &app_data);
    let mut events = vec![];
    for unit in [format!("{APP}/0"), format!("{APP}/1")] {
        m.add_remote_unit(&id, &unit);
        let data = RelationData::from([
            ("prometheus_scrape_unit_address".into(), "127.0.0.1".into()),
            ("prometheus_scrape_unit_name".into(), unit.clone()),
        ]);
        m.set_remote_unit_data(&id, &unit, &data);
        events.push(m.relation_event(&id, RelationEventKind::Joined, Some(&unit)));
        events.push(m.relation_event(&id, RelationEventKind::Changed, Some(&unit)));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(pids: [Option<u32>; 3], reload: f64, file: &str) -> Observed {
        Observed {
            manifest: BTreeMap::from([("/etc/prometheus/prometheus.yml".into(), file.into())]),
            pids,
            reload: Some(reload),
            databags: BTreeMap::new(),
        }
    }

    #[test]
    fn a_step_is_told_as_restart_reload_or_nothing() {
        let before = observed([Some(10), None, Some(20)], 1.0, "a");
        let same = observed([Some(10), None, Some(20)], 1.0, "a");
        assert_eq!(
            same.actions_since(&before),
            ["nothing: the workload was already as wanted"]
        );
        let reloaded = observed([Some(10), None, Some(20)], 2.0, "b");
        assert_eq!(
            reloaded.actions_since(&before),
            [
                "pushed /etc/prometheus/prometheus.yml",
                "reloaded Prometheus (same process)"
            ]
        );
        // A restarted Prometheus reloads as it starts: that is not told as a reload.
        let restarted = observed([Some(11), Some(30), None], 2.0, "a");
        assert_eq!(
            restarted.actions_since(&before),
            [
                "restarted prometheus (10 → 11)",
                "started relation-targets (pid 30)",
                "stopped inventory-sd"
            ]
        );
    }
}

//! Cortex (v1.21.1, built by `scripts/real-systems --with-cortex`) in monolithic mode
//! (`-target=all`) in the cluster's network namespace: blocks and rules on the local
//! filesystem under a temporary directory, the rings in an in-memory KV store, the HA tracker
//! (which refuses `inmemory`) on memberlist bound to loopback with no peers, the ruler API
//! on. Cortex is the Apache-2.0 project
//! Grafana Mimir was forked from, with the same remote-write, query, limits, HA-tracker and
//! ruler APIs; it stands in for Mimir, which this project does not run (AGPL).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use charm_harness::real_systems;
use serde_json::Value;
use tempfile::TempDir;

use crate::cluster::{Cluster, SERVICE_IP};

/// Cortex's HTTP port.
pub const HTTP_PORT: u16 = 9009;

/// The tenant every request is accounted to with authentication off (`auth_enabled: false`
/// makes Cortex use this fixed tenant; Mimir's equivalent is `anonymous`).
pub const NO_AUTH_TENANT: &str = "fake";

/// Where Cortex is, or why the test is skipped: `None` (with a message) when `CORTEX_BIN` and
/// the script's cache have no binary, or the pods cannot be made (not root). With `CI=true`
/// a missing binary fails the test instead.
pub fn find() -> Option<PathBuf> {
    let path = real_systems::cortex();
    let problem = if !path.is_file() {
        Some(format!(
            "no Cortex at {} (run scripts/real-systems --with-cortex; .ci/run does)",
            path.display()
        ))
    } else if unsafe { libc::geteuid() } != 0 {
        Some("the pods need root (namespaces and mounts)".to_string())
    } else {
        None
    };
    match problem {
        None => Some(path),
        Some(message) => {
            assert!(
                std::env::var("CORTEX_REQUIRED").as_deref() != Ok("true"),
                "{message}"
            );
            eprintln!("SKIPPED: {message}");
            None
        }
    }
}

/// Per-instance settings.
#[derive(Debug, Clone)]
pub struct CortexOptions {
    /// `auth_enabled`: require `X-Scope-OrgID` on every request.
    pub auth_enabled: bool,
    /// Per-tenant ingestion rate limit (samples/s) and burst.
    pub ingestion_rate: f64,
    /// Burst size of the ingestion rate limiter.
    pub ingestion_burst: u64,
}

impl Default for CortexOptions {
    fn default() -> Self {
        Self {
            auth_enabled: false,
            // Cortex's defaults.
            ingestion_rate: 25000.0,
            ingestion_burst: 50000,
        }
    }
}

/// A running Cortex; killed when dropped.
pub struct Cortex {
    binary: PathBuf,
    dir: TempDir,
    child: Option<Child>,
    netns: String,
    http: reqwest::blocking::Client,
    /// How long the last start took until `/ready` answered 200.
    pub started_in: Duration,
}

impl Cortex {
    /// Starts Cortex in `cluster` and waits until it is ready.
    pub fn start(binary: &Path, cluster: &Cluster, options: &CortexOptions) -> Cortex {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = config_yaml(dir.path(), options);
        std::fs::write(dir.path().join("cortex.yaml"), config).unwrap();
        std::fs::write(dir.path().join("overrides.yaml"), "overrides: {}\n").unwrap();
        for sub in ["alerts", "ruler-tmp"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let mut cortex = Cortex {
            binary: binary.to_path_buf(),
            dir,
            child: None,
            netns: cluster.netns(),
            http: cluster.http(),
            started_in: Duration::ZERO,
        };
        cortex.start_again();
        cortex
    }

    /// The base URL, as the pods reach it.
    pub fn url(&self) -> String {
        format!("http://{SERVICE_IP}:{HTTP_PORT}")
    }

    /// The remote-write (push) URL.
    pub fn push_url(&self) -> String {
        format!("{}/api/v1/push", self.url())
    }

    /// Starts the process again (after [`Cortex::stop`]) on the same data, and waits for
    /// `/ready`.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "Cortex runs");
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("cortex.log"))
            .unwrap();
        let started = Instant::now();
        let child = std::process::Command::new("/usr/bin/nsenter")
            .arg(format!("--net={}", self.netns))
            .arg("--")
            .arg(&self.binary)
            .arg(format!(
                "-config.file={}",
                self.dir.path().join("cortex.yaml").display()
            ))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("Cortex starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let ready = self
                .http
                .get(format!("{}/ready", self.url()))
                .send()
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                break;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("Cortex exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "Cortex not ready after 120 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        self.started_in = started.elapsed();
    }

    /// Stops the process (SIGTERM, then SIGKILL after 20 s); the data stays.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Sets per-tenant limit overrides (Cortex's runtime configuration, re-read every
    /// second), e.g. `ingestion_rate: 1`; `""` removes them.
    pub fn set_overrides(&self, tenant: &str, limits_yaml: &str) {
        let text = if limits_yaml.is_empty() {
            "overrides: {}\n".to_string()
        } else {
            let indented: String = limits_yaml.lines().map(|l| format!("    {l}\n")).collect();
            format!("overrides:\n  {tenant}:\n{indented}")
        };
        let tmp = self.dir.path().join("overrides.yaml.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(tmp, self.dir.path().join("overrides.yaml")).unwrap();
    }

    /// Cortex's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("cortex.log")).unwrap_or_default()
    }

    fn get(&self, path_and_query: &str, tenant: Option<&str>) -> anyhow::Result<Value> {
        let mut req = self.http.get(format!("{}{path_and_query}", self.url()));
        if let Some(t) = tenant {
            req = req.header("X-Scope-OrgID", t);
        }
        let resp = req.send()?;
        let status = resp.status();
        let body = resp.text()?;
        anyhow::ensure!(status.is_success(), "HTTP {status}: {body}");
        Ok(serde_json::from_str(&body)?)
    }

    /// The `data.result` rows of an instant query through Cortex's Prometheus API as `tenant`.
    fn result_rows(&self, promql: &str, tenant: &str) -> anyhow::Result<Vec<Value>> {
        let url = reqwest::Url::parse_with_params(
            "http://x/prometheus/api/v1/query",
            [("query", promql)],
        )?;
        let path = format!("{}?{}", url.path(), url.query().unwrap_or_default());
        let body = self.get(&path, Some(tenant))?;
        Ok(body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// An instant query through Cortex's Prometheus API as `tenant`: (labels, value) rows.
    pub fn query(&self, promql: &str, tenant: &str) -> anyhow::Result<Vec<(Value, f64)>> {
        Ok(self
            .result_rows(promql, tenant)?
            .into_iter()
            .filter_map(|r| {
                let value = r["value"][1].as_str()?.parse().ok()?;
                Some((r["metric"].clone(), value))
            })
            .collect())
    }

    /// An instant query returning a range vector (`promql` ends in `[...]`): each series'
    /// labels and its sample timestamps (seconds).
    pub fn samples(&self, promql: &str, tenant: &str) -> anyhow::Result<Vec<(Value, Vec<f64>)>> {
        Ok(self
            .result_rows(promql, tenant)?
            .into_iter()
            .map(|r| {
                let times = r["values"]
                    .as_array()
                    .map(|vs| vs.iter().filter_map(|v| v[0].as_f64()).collect())
                    .unwrap_or_default();
                (r["metric"].clone(), times)
            })
            .collect())
    }

    /// Uploads one rule group into namespace `namespace` of `tenant` through the ruler's
    /// configuration API (`POST /api/v1/rules/<namespace>`, YAML body).
    pub fn set_rule_group(
        &self,
        tenant: &str,
        namespace: &str,
        group: &Value,
    ) -> anyhow::Result<()> {
        let yaml = serde_yaml_ng::to_string(group)?;
        let resp = self
            .http
            .post(format!("{}/api/v1/rules/{namespace}", self.url()))
            .header("X-Scope-OrgID", tenant)
            .header("Content-Type", "application/yaml")
            .body(yaml)
            .send()?;
        let status = resp.status();
        anyhow::ensure!(status.is_success(), "HTTP {status}: {}", resp.text()?);
        Ok(())
    }

    /// The rule groups the ruler evaluates for `tenant` (`/prometheus/api/v1/rules`).
    pub fn loaded_rules(&self, tenant: &str) -> anyhow::Result<Vec<Value>> {
        let body = self.get("/prometheus/api/v1/rules", Some(tenant))?;
        Ok(body["data"]["groups"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// One of Cortex's own metrics, summed over its series matching `filter` (a substring of
    /// the label part), from `/metrics`.
    pub fn metric(&self, name: &str, filter: &str) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.url()))
            .send()
            .and_then(|r| r.text())
            .unwrap_or_default();
        metric_sum(&text, name, filter)
    }
}

impl Drop for Cortex {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The sum of the samples of metric `name` in Prometheus' text format whose label part
/// contains `filter` (`""` for all).
pub fn metric_sum(text: &str, name: &str, filter: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let (labels, value) = match rest.strip_prefix('{') {
                Some(r) => r.split_once("} ")?,
                None => ("", rest.strip_prefix(' ')?),
            };
            labels
                .contains(filter)
                .then(|| value.trim().parse::<f64>().ok())?
        })
        .sum()
}

/// The configuration file: single process, local filesystem, in-memory rings.
fn config_yaml(dir: &Path, o: &CortexOptions) -> String {
    let d = dir.display();
    format!(
        r#"target: all
auth_enabled: {auth}
server:
  http_listen_address: 0.0.0.0
  http_listen_port: {HTTP_PORT}
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: 9095
  log_level: warn
distributor:
  shard_by_all_labels: true
  pool:
    health_check_ingesters: true
  ring:
    instance_addr: 127.0.0.1
    kvstore:
      store: inmemory
  ha_tracker:
    enable_ha_tracker: true
    ha_tracker_update_timeout: 1s
    ha_tracker_update_timeout_jitter_max: 0s
    ha_tracker_failover_timeout: 5s
    kvstore:
      store: memberlist
ingester:
  lifecycler:
    address: 127.0.0.1
    min_ready_duration: 0s
    final_sleep: 0s
    num_tokens: 512
    ring:
      kvstore:
        store: inmemory
      replication_factor: 1
blocks_storage:
  backend: filesystem
  filesystem:
    dir: {d}/blocks
  tsdb:
    dir: {d}/tsdb
  bucket_store:
    sync_dir: {d}/tsdb-sync
compactor:
  data_dir: {d}/compactor
  sharding_ring:
    instance_addr: 127.0.0.1
    kvstore:
      store: inmemory
store_gateway:
  sharding_ring:
    instance_addr: 127.0.0.1
    kvstore:
      store: inmemory
frontend_worker:
  match_max_concurrent: true
ruler:
  enable_api: true
  rule_path: {d}/ruler-tmp
  poll_interval: 2s
  evaluation_interval: 5s
  ring:
    instance_addr: 127.0.0.1
    kvstore:
      store: inmemory
ruler_storage:
  backend: filesystem
  filesystem:
    dir: {d}/rules
alertmanager:
  external_url: http://127.0.0.1:{HTTP_PORT}/alertmanager
  data_dir: {d}/alertmanager
  sharding_ring:
    instance_addr: 127.0.0.1
    kvstore:
      store: inmemory
alertmanager_storage:
  backend: local
  local:
    path: {d}/alerts
memberlist:
  bind_addr: [127.0.0.1]
  advertise_addr: 127.0.0.1
runtime_config:
  file: {d}/overrides.yaml
  period: 1s
limits:
  accept_ha_samples: true
  ha_cluster_label: cluster
  ha_replica_label: __replica__
  ingestion_rate: {rate}
  ingestion_burst_size: {burst}
"#,
        auth = o.auth_enabled,
        rate = o.ingestion_rate,
        burst = o.ingestion_burst,
    )
}

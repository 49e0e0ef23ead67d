//! The self-monitoring alert rules against real running Prometheus servers of both majors
//! (3.14, what the rock ships, and Debian's 2.42): every Prometheus metric a rule names is one
//! the server exports, and every rule loads and evaluates without error. A rule on a metric a
//! release stopped exporting would never fire, silently.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use charm_interfaces::self_metrics::{app_data, SelfMetrics};
use promql_parser::parser::{self, Expr};
use serde_json::Value;

fn me() -> SelfMetrics<'static> {
    SelfMetrics {
        model: "cos",
        model_uuid: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        application: "prometheus-k8s",
        unit: "prometheus-k8s/0",
        charm_name: "prometheus-k8s",
        address: "127.0.0.1",
        fqdn: "127.0.0.1",
        port: 9090,
        path: "",
        https: false,
        ca: None,
    }
}

/// The metric names of every vector and range selector of `expr`.
fn metric_names(expr: &Expr, out: &mut BTreeSet<String>) {
    match expr {
        Expr::Aggregate(a) => {
            metric_names(&a.expr, out);
            if let Some(p) = &a.param {
                metric_names(p, out);
            }
        }
        Expr::Unary(u) => metric_names(&u.expr, out),
        Expr::Binary(b) => {
            metric_names(&b.lhs, out);
            metric_names(&b.rhs, out);
        }
        Expr::Paren(p) => metric_names(&p.expr, out),
        Expr::Subquery(s) => metric_names(&s.expr, out),
        Expr::VectorSelector(vs) => out.extend(vs.name.clone()),
        Expr::MatrixSelector(ms) => out.extend(ms.vs.name.clone()),
        Expr::Call(c) => c.args.args.iter().for_each(|a| metric_names(a, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// A plain HTTP/1.0 GET on loopback; the body.
fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?;
    (status == "200").then(|| body.to_owned())
}

/// A real Prometheus scraping itself every second and evaluating `rules` every second.
struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(binary: &Path, rules: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(dir.path().join("self.rules"), rules).unwrap();
    // An Alertmanager nobody listens for: 3.x exports the notification queue's length per
    // Alertmanager, so only once one is configured (as the charm does when related to one).
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['127.0.0.1:9']\n\
         rule_files:\n- self.rules\n\
         scrape_configs:\n- job_name: self\n  static_configs:\n  - targets: ['127.0.0.1:{port}']\n"
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let child = Command::new(binary)
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", binary.display()));
    Server {
        child,
        port,
        _dir: dir,
    }
}

/// Whether the exposition `text` has a sample of `metric` (any labels, any suffix-free name).
fn has_sample(text: &str, metric: &str) -> bool {
    text.lines().any(|l| {
        l.strip_prefix(metric)
            .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
    })
}

fn check_against(binary: PathBuf, rules: &str, metrics: &BTreeSet<String>) {
    let server = start(&binary, rules);
    // Some series appear only after a few scrapes (the scrape interval summary) or rule
    // evaluations (the rule group gauges).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut missing: Vec<&String>;
    loop {
        let text = get(server.port, "/metrics").unwrap_or_default();
        missing = metrics.iter().filter(|m| !has_sample(&text, m)).collect();
        let rules_ok = get(server.port, "/api/v1/rules")
            .and_then(|body| serde_json::from_str::<Value>(&body).ok())
            .map(|v| rules_health(&v));
        if missing.is_empty() && rules_ok == Some(Ok(())) {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "{}: metrics the self-monitoring rules name but the server does not export: \
                 {missing:?}; rules: {rules_ok:?}",
                binary.display()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `Ok` when every rule was evaluated and is healthy, else what is not.
fn rules_health(v: &Value) -> Result<(), String> {
    let groups = v["data"]["groups"].as_array().ok_or("no groups")?;
    let rules: Vec<&Value> = groups
        .iter()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .collect();
    if rules.is_empty() {
        return Err("no rules loaded".into());
    }
    let bad: Vec<String> = rules
        .iter()
        .filter(|r| r["health"] != "ok")
        .map(|r| format!("{} {} {}", r["name"], r["health"], r["lastError"]))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("; "))
    }
}

#[test]
fn every_metric_the_self_monitoring_rules_name_exists_on_prometheus_2_and_3() {
    let rules = app_data(&me())["alert_rules"].clone();
    let doc: Value = serde_json::from_str(&rules).unwrap();
    let mut names = BTreeSet::new();
    for group in doc["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            let expr = rule["expr"].as_str().unwrap();
            metric_names(&parser::parse(expr).unwrap(), &mut names);
        }
    }
    // The poller's own metrics come from inventory-sd, not from Prometheus.
    let (poller, prometheus): (BTreeSet<String>, BTreeSet<String>) = names
        .into_iter()
        .partition(|n| n.starts_with("inventory_sd_"));
    assert!(
        prometheus.contains("prometheus_target_interval_length_seconds"),
        "the rules changed: {prometheus:?}"
    );
    assert!(!poller.is_empty());
    // Both majors take the rule file (JSON is YAML) and export every metric it names.
    common::promtool_check_rules(&[("self.rules".into(), rules.clone())]);
    check_against(
        charm_harness::real_systems::require(charm_harness::real_systems::prometheus3()),
        &rules,
        &prometheus,
    );
    let prometheus2 = PathBuf::from("/usr/bin/prometheus");
    assert!(
        prometheus2.exists(),
        "no /usr/bin/prometheus (2.42): apt-get install prometheus (./run_tests does)"
    );
    check_against(prometheus2, &rules, &prometheus);
}

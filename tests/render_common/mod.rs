//! Shared inputs and the real-promtool check for the render tests.

#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::process::Command;

use charm_harness::real_systems;
use charm_interfaces::ScrapeJob;
use prometheus_rs_k8s::core::model::Topology;
use prometheus_rs_k8s::{CharmConfig, ConfigInput, PrometheusVersion};
use serde_json::{json, Map, Value};

/// Debian's Prometheus on build machines.
pub const V2_42: PrometheusVersion = PrometheusVersion::new(2, 42, 0);
/// A Prometheus 3 release.
pub const V3_5: PrometheusVersion = PrometheusVersion::new(3, 5, 0);
/// The production image's Prometheus (the release `scripts/real-systems` builds).
pub const V3_14: PrometheusVersion = PrometheusVersion::new(3, 14, 0);
/// One release of each major the charm renders for, each checked by its own promtool.
pub const MAJORS: [PrometheusVersion; 2] = [V2_42, V3_14];

/// Debian's Prometheus 2.42 tool `name` under /usr/bin.
fn prometheus2_tool(name: &str) -> PathBuf {
    let path = PathBuf::from("/usr/bin").join(name);
    assert!(
        path.exists(),
        "no {} (Prometheus 2.42): apt-get install prometheus (./run_tests does)",
        path.display()
    );
    path
}

/// The promtool of `version`'s major: Debian's 2.42 for 2.x, 3.14 (`PROMTOOL3_BIN`) for 3.x.
pub fn promtool_for(version: PrometheusVersion) -> PathBuf {
    if version.major >= 3 {
        real_systems::require(real_systems::promtool3())
    } else {
        prometheus2_tool("promtool")
    }
}

/// The Prometheus server of `version`'s major, as [`promtool_for`].
pub fn prometheus_for(version: PrometheusVersion) -> PathBuf {
    if version.major >= 3 {
        real_systems::require(real_systems::prometheus3())
    } else {
        prometheus2_tool("prometheus")
    }
}

/// Parses config options, panicking on invalid ones.
pub fn config(options: Value) -> CharmConfig {
    CharmConfig::from_options(options.as_object().expect("object")).expect("valid config")
}

/// The unit the tests render for.
pub fn topology() -> Topology {
    Topology {
        model: "cos".into(),
        model_uuid: "f2c4a6d8-1234-4abc-8def-0123456789ab".into(),
        application: "prometheus".into(),
        unit: "prometheus/0".into(),
        charm_name: "prometheus-rs-k8s".into(),
    }
}

/// An input with no relation data.
pub fn input(config: &CharmConfig, version: PrometheusVersion) -> ConfigInput {
    ConfigInput::new(config, topology(), version)
}

fn object(v: Value) -> Map<String, Value> {
    v.as_object().expect("object").clone()
}

/// Relation jobs as the scrape interface produces them: two unit jobs of a charm, a verbatim
/// job from a scrape-target charm (with its own fallback protocol and extra keys), and a
/// verbatim job whose name collides with the self-scrape job.
pub fn relation_jobs() -> Vec<ScrapeJob> {
    let unit_job = |n: u32, addr: &str| {
        object(json!({
            "job_name": format!("juju_cos_f2c4a6d8_node-exp_prometheus_scrape-{n}"),
            "metrics_path": "/metrics",
            "static_configs": [{
                "targets": [format!("{addr}:9100")],
                "labels": {
                    "juju_model": "cos",
                    "juju_model_uuid": "f2c4a6d8-1234-4abc-8def-0123456789ab",
                    "juju_application": "node-exp",
                    "juju_charm": "node-exporter-k8s",
                    "juju_unit": format!("node-exp/{n}"),
                },
            }],
            "relabel_configs": [{
                "source_labels": ["juju_model", "juju_model_uuid", "juju_application", "juju_unit"],
                "separator": "_",
                "target_label": "instance",
                "regex": "(.*)",
            }],
            "fallback_scrape_protocol": "PrometheusText0.0.4",
        }))
    };
    vec![
        unit_job(1, "10.1.0.12"),
        object(json!({
            "job_name": "juju_cos_f2c4a6d_snmp_external_jobs",
            "metrics_path": "/snmp",
            "params": {"module": ["if_mib"]},
            "scrape_interval": "30s",
            "static_configs": [{"targets": ["192.168.5.2:7000"], "labels": {"dc": "lab1"}}],
            "fallback_scrape_protocol": "PrometheusText1.0.0",
        })),
        unit_job(0, "10.1.0.11"),
        object(json!({
            "job_name": "prometheus",
            "static_configs": [{"targets": ["192.0.2.9:9090"]}],
        })),
    ]
    .into_iter()
    .map(ScrapeJob::from)
    .collect()
}

/// Alertmanager entries as the alertmanager interface produces them.
pub fn alertmanagers() -> Vec<Value> {
    vec![
        json!({
            "scheme": "http",
            "path_prefix": "/",
            "static_configs": [{"targets": [
                "am-0.am-endpoints.cos.svc.cluster.local:9093",
                "am-1.am-endpoints.cos.svc.cluster.local:9093",
            ]}],
        }),
        json!({
            "scheme": "https",
            "path_prefix": "/cos-alertmanager",
            "static_configs": [{"targets": ["traefik.example.com"]}],
        }),
    ]
}

/// remote_write entries.
pub fn remote_write() -> Vec<Value> {
    vec![json!({"url": "http://mimir.cos.svc.cluster.local:9009/api/v1/push"})]
}

const SAMPLE_RULES: &str = "groups:
- name: sample
  rules:
  - alert: TargetDown
    expr: up == 0
    for: 5m
    labels:
      severity: warning
    annotations:
      summary: Target {{ $labels.instance }} is down
";

const SAMPLE_FILE_SD: &str =
    r#"[{"targets": ["sensor_0:9100", "sensor_1:9100"], "labels": {"site": "lab"}}]"#;

/// Lays `yaml` out as /etc/prometheus would be (prometheus.yml, rules/, file_sd/) in a temp dir
/// and runs the real `promtool check config` of `version`'s major on it; panics with promtool's
/// output unless it exits 0.
pub fn assert_promtool_accepts(version: PrometheusVersion, yaml: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir(root.join("rules")).expect("rules dir");
    std::fs::write(root.join("rules/sample.rules"), SAMPLE_RULES).expect("rules");
    std::fs::create_dir(root.join("file_sd")).expect("file_sd dir");
    std::fs::write(root.join("file_sd/inventory.json"), SAMPLE_FILE_SD).expect("file_sd");
    std::fs::write(root.join("prometheus.yml"), yaml).expect("config");
    let (ok, output) = promtool_check(version, root);
    assert!(
        ok,
        "promtool {version} rejected the config:\n{output}\n--- config ---\n{yaml}"
    );
    // The rule file was found through the relative glob, so the paths resolve.
    assert!(output.contains("1 rules found"), "{output}");
}

/// Runs `promtool check config <dir>/prometheus.yml` with the promtool of `version`'s major.
pub fn promtool_check(version: PrometheusVersion, dir: &Path) -> (bool, String) {
    let promtool = promtool_for(version);
    let out = Command::new(&promtool)
        .arg("check")
        .arg("config")
        .arg(dir.join("prometheus.yml"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", promtool.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The rendered prometheus.yml as Prometheus sees it: relation jobs' targets inlined from the
/// rendered target files.
pub fn effective(rendered: &prometheus_rs_k8s::RenderedConfig) -> String {
    let yaml = crate::common::effective_config::inline_relation_files(&rendered.yaml, |path| {
        rendered
            .relation_files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, text)| text.clone().into_bytes())
    });
    crate::common::effective_config::inline_targets(&yaml, |id| {
        rendered
            .target_files
            .iter()
            .find(|f| f.id == id)
            .map(|f| f.json.clone())
    })
}

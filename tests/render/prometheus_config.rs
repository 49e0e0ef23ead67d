//! prometheus.yml rendering: snapshots, and every render validated by the real promtool of the
//! major it targets (Debian's 2.42 for 2.x, 3.14 for 3.x).

use crate::render_common::*;
use charm_interfaces::ScrapeJob;
use insta::assert_snapshot;
use prometheus_rs_k8s::core::prometheus_config::render;
use prometheus_rs_k8s::CharmConfig;
use serde_json::{json, Value};

fn inventory_options() -> Value {
    json!({
        "inventory_url": "http://inventory:1337/inventory",
        "inventory_job_name": "sensors",
        "inventory_metrics_path": "/metrics",
        "inventory_labels": "site=lab",
    })
}

fn jobs_of(yaml: &str) -> Vec<serde_yaml_ng::Value> {
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).expect("yaml");
    doc["scrape_configs"].as_sequence().expect("jobs").clone()
}

fn job_names(yaml: &str) -> Vec<String> {
    jobs_of(yaml)
        .iter()
        .map(|j| j["job_name"].as_str().expect("name").to_owned())
        .collect()
}

/// Renders `i` for each major, each checked by its own promtool as pushed and with the relation
/// jobs' targets inlined; returns the 2.42 and the 3.x renders as Prometheus sees them.
fn render_both(i: &prometheus_rs_k8s::ConfigInput) -> (String, String) {
    let [v2, v3] = MAJORS.map(|version| {
        let mut i = i.clone();
        i.version = version;
        let rendered = render(&i).unwrap();
        assert_promtool_accepts(version, &rendered.yaml);
        let seen = effective(&rendered);
        assert_promtool_accepts(version, &seen);
        seen
    });
    (v2, v3)
}

#[test]
fn defaults() {
    let i = input(&config(json!({})), V2_42);
    assert!(render(&i).unwrap().notes.is_empty());
    let (v2, v3) = render_both(&i);
    assert_snapshot!(v2);
    assert_snapshot!("defaults_3x", v3);
}

#[test]
fn custom_intervals() {
    let c = config(json!({
        "scrape_interval": "15s",
        "scrape_timeout": "5s",
        "evaluation_interval": "30s",
    }));
    let (v2, v3) = render_both(&input(&c, V2_42));
    assert!(v2.contains("scrape_interval: 15s"));
    assert!(v3.contains("scrape_interval: 15s"));
    assert_snapshot!(v2);
    assert_snapshot!("custom_intervals_3x", v3);
}

#[test]
fn relation_jobs_alertmanagers_and_remote_write() {
    let mut i = input(&config(json!({})), V2_42);
    i.relation_jobs = relation_jobs();
    i.alertmanagers = alertmanagers();
    i.remote_write = remote_write();
    let rendered = render(&i).unwrap();
    let (v2, v3) = render_both(&i);
    assert_eq!(effective(&rendered), v2);
    // As pushed: each relation job names its target file, served by the relation-targets
    // service; the charm's own job keeps its static target.
    assert_snapshot!("relation_jobs_as_pushed", rendered.yaml);
    assert_eq!(rendered.target_files.len(), 4);

    for yaml in [&v2, &v3] {
        assert_eq!(
            job_names(yaml),
            [
                "prometheus",
                "juju_cos_f2c4a6d8_node-exp_prometheus_scrape-0",
                "juju_cos_f2c4a6d8_node-exp_prometheus_scrape-1",
                "juju_cos_f2c4a6d_snmp_external_jobs",
                "prometheus_2",
            ]
        );
        // Relation jobs honour their labels; the self job does not need to.
        let jobs = jobs_of(yaml);
        assert!(jobs[1..]
            .iter()
            .all(|j| j["honor_labels"].as_bool() == Some(true)));
        assert!(jobs[0].get("honor_labels").is_none());
    }
    // The colliding relation job is renamed, not dropped, and the rename is reported.
    assert_eq!(
        rendered.notes,
        [r#"renamed relation scrape job "prometheus" to "prometheus_2": the name is already used"#]
    );
    assert_snapshot!(v2);
    assert_snapshot!("relation_jobs_alertmanagers_and_remote_write_3x", v3);
}

#[test]
fn with_inventory() {
    let c = config(inventory_options());
    let (v2, v3) = render_both(&input(&c, V2_42));
    assert_eq!(job_names(&v2), ["prometheus", "sensors", "inventory-sd"]);
    assert_eq!(job_names(&v3), ["prometheus", "sensors", "inventory-sd"]);
    assert_snapshot!(v2);
    assert_snapshot!("with_inventory_3x", v3);
}

#[test]
fn relation_job_colliding_with_inventory_jobs_is_renamed() {
    let mut i = input(&config(inventory_options()), V2_42);
    i.relation_jobs = vec![
        json!({"job_name": "sensors", "static_configs": [{"targets": ["a:1"]}]}),
        json!({"job_name": "inventory-sd", "static_configs": [{"targets": ["b:1"]}]}),
    ]
    .into_iter()
    .map(|v| ScrapeJob::from(v.as_object().unwrap().clone()))
    .collect();
    let (v2, v3) = render_both(&i);
    for yaml in [&v2, &v3] {
        assert_eq!(
            job_names(yaml),
            [
                "prometheus",
                "sensors",
                "inventory-sd",
                "inventory-sd_2",
                "sensors_2"
            ]
        );
    }
}

#[test]
fn version_2_42_strips_fallback_scrape_protocol() {
    let mut i = input(&config(inventory_options()), V2_42);
    i.relation_jobs = relation_jobs();
    let rendered = render(&i).unwrap();
    assert_promtool_accepts(V2_42, &rendered.yaml);
    let yaml = effective(&rendered);
    assert!(!yaml.contains("fallback_scrape_protocol"), "{yaml}");
    assert_promtool_accepts(V2_42, &yaml);
    assert_snapshot!(yaml);
}

#[test]
fn version_3_5_has_fallback_scrape_protocol_on_every_job() {
    let mut i = input(&config(inventory_options()), V3_5);
    i.relation_jobs = relation_jobs();
    let yaml = effective(&render(&i).unwrap());
    for job in jobs_of(&yaml) {
        let protocol = job["fallback_scrape_protocol"].as_str();
        let expected = if job["job_name"].as_str() == Some("juju_cos_f2c4a6d_snmp_external_jobs") {
            "PrometheusText1.0.0" // a verbatim job's own choice is kept
        } else {
            "PrometheusText0.0.4"
        };
        assert_eq!(protocol, Some(expected), "{job:?}");
    }
    assert_snapshot!(yaml);
    // Prometheus 3 accepts it...
    assert_promtool_accepts(V3_5, &yaml);

    // ...and the 2.42 promtool rejects the 3.x-only key: proof the check has teeth and that
    // rendering by version matters.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("prometheus.yml"), &yaml).unwrap();
    let (ok, output) = promtool_check(V2_42, dir.path());
    assert!(!ok, "promtool 2.42 accepted a 3.x-only key:\n{output}");
    assert!(output.contains("fallback_scrape_protocol"), "{output}");
}

#[test]
fn unknown_version_renders_for_3x() {
    let c = config(json!({}));
    let assumed = prometheus_rs_k8s::PrometheusVersion::detected_or_assumed(None);
    let yaml = render(&input(&c, assumed)).unwrap().yaml;
    assert!(yaml.contains("fallback_scrape_protocol: PrometheusText0.0.4"));
    assert_promtool_accepts(assumed, &yaml);
}

#[test]
fn output_does_not_depend_on_relation_order() {
    let mut a = input(&config(json!({})), V3_5);
    a.relation_jobs = relation_jobs();
    let mut b = a.clone();
    b.relation_jobs.reverse();
    assert_eq!(render(&a).unwrap(), render(&b).unwrap());
}

#[test]
fn poller_only_options_do_not_touch_prometheus_yml() {
    let base = render(&input(&config(inventory_options()), V3_5))
        .unwrap()
        .yaml;
    let mut opts = inventory_options();
    let o = opts.as_object_mut().unwrap();
    o.insert("inventory_poll_interval".into(), json!("5m"));
    o.insert("inventory_timeout".into(), json!("1m"));
    o.insert("inventory_target_port".into(), json!(9200));
    o.insert("inventory_labels".into(), json!("site=elsewhere"));
    o.insert(
        "inventory_url".into(),
        json!("http://other.example.com/hosts"),
    );
    let changed = render(&input(&config(opts), V3_5)).unwrap().yaml;
    assert_eq!(base, changed);
}

#[test]
fn restart_only_options_do_not_touch_prometheus_yml() {
    let base = render(&input(&config(json!({})), V3_5)).unwrap().yaml;
    let changed = render(&input(
        &config(json!({
            "log_level": "debug",
            "metrics_retention_time": "30d",
            "maximum_retention_size": "10GB",
            "metrics_wal_compression": false,
        })),
        V3_5,
    ))
    .unwrap()
    .yaml;
    assert_eq!(base, changed);
}

#[test]
fn topology_comes_from_the_model_snapshot() {
    let snapshot: prometheus_rs_k8s::core::model::ModelSnapshot = serde_json::from_value(json!({
        "leader": true,
        "model": {"name": "cos", "uuid": "f2c4a6d8-1234-4abc-8def-0123456789ab"},
        "app_name": "prometheus",
        "unit_id": 0,
        "fqdn": "prometheus-0.prometheus-endpoints.cos.svc.cluster.local",
    }))
    .unwrap();
    assert_eq!(snapshot.topology(), topology());
}

/// Exemplar storage as prometheus-k8s renders it: `storage.exemplars.max_exemplars` in
/// prometheus.yml (at least 100000), accepted by promtool; absent when off.
#[test]
fn exemplar_storage_section() {
    let on = config(json!({"max_global_exemplars_per_user": 5}));
    for version in [V2_42, V3_5] {
        let yaml = render(&input(&on, version)).expect("render").yaml;
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml).unwrap();
        assert_eq!(
            doc["storage"]["exemplars"]["max_exemplars"].as_u64(),
            Some(100_000)
        );
        assert_promtool_accepts(version, &yaml);
    }
    let off = render(&input(&CharmConfig::default(), V3_5))
        .expect("render")
        .yaml;
    assert!(!off.contains("storage:"), "{off}");
}

/// The reload budget covers the reload times measured on a loaded machine (BENCHMARKS.md,
/// "Prometheus' side of a change") about twice, and stays finite.
#[test]
fn the_reload_budget_covers_the_measured_reload_times() {
    use prometheus_rs_k8s::core::prometheus_config::reload_timeout;
    use std::time::Duration;
    assert_eq!(reload_timeout(0, 0), Duration::from_secs(5));
    // 1,001 jobs, 0.6 MB: 1.45 s (3.14), 1.98 s (2.42).
    assert!(reload_timeout(1001, 600 << 10) >= Duration::from_secs_f64(2.0 * 1.98));
    // 10,001 jobs, 4.4 MB with the targets served over http_sd: 216.6 s (3.14).
    let large = reload_timeout(10_001, 4400 << 10);
    assert!(large >= Duration::from_secs_f64(1.5 * 216.6), "{large:?}");
    assert!(large <= Duration::from_secs(600), "{large:?}");
    // Large rule files alone still add time.
    assert!(reload_timeout(1, 10 << 20) > Duration::from_secs(100));
}

/// The budget follows the jobs the rendered file has.
#[test]
fn the_reload_budget_grows_with_the_relation_jobs() {
    let budget = |apps: usize| {
        let snapshot = crate::sized_models::snapshot(apps, 5);
        prometheus_rs_k8s::core::desired::desired_for(&snapshot)
            .unwrap()
            .workload
            .reload_timeout
    };
    let (small, large) = (budget(2), budget(200));
    assert!(small < std::time::Duration::from_secs(6), "{small:?}");
    assert!(
        large > small + std::time::Duration::from_secs(3),
        "{small:?} {large:?}"
    );
}

/// A model large enough that the per-relation work runs on several threads gives what it
/// gives on one, byte for byte: files, target files, relation writes, problems, shapes and
/// (when asked for) explanations; with relations whose job names collide (their jobs inline, renamed), one
/// whose jobs are refused, and on both Prometheus majors (job files with 3).
#[test]
fn a_large_model_computes_the_same_on_one_thread_and_on_several() {
    let apps = 3 * charm_interfaces::parallel::MIN_ITEMS;
    let mut snapshot = crate::sized_models::snapshot(apps, 3);
    for (i, rel) in snapshot.relations.iter_mut().enumerate() {
        match i % 17 {
            // No topology: these share the job name `shared`, so they stay inline.
            3 | 4 => {
                rel.app_data.remove("scrape_metadata");
                rel.app_data.insert(
                    "scrape_jobs".into(),
                    json!([{"job_name": "shared", "static_configs": [{"targets": [format!("10.9.{i}.1:80")]}]}])
                        .to_string(),
                );
            }
            5 => {
                rel.app_data.insert("scrape_jobs".into(), "not json".into());
            }
            _ => {}
        }
    }
    let pool = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    };
    for version in ["2.42.0", "3.14.0"] {
        snapshot.prometheus_version = Some(version.into());
        let one =
            pool(1).install(|| prometheus_rs_k8s::core::desired::desired_explained(&snapshot));
        let four =
            pool(4).install(|| prometheus_rs_k8s::core::desired::desired_explained(&snapshot));
        let (one, four) = (one.unwrap(), four.unwrap());
        assert!(!one.problems.is_empty(), "the refused jobs are reported");
        assert!(
            one.workload.files.len() > apps,
            "{version}: a target file per job"
        );
        if version == "3.14.0" {
            assert!(one.relation_shapes.len() > apps / 2, "isolated relations");
        }
        assert!(one == four, "{version}: one thread and four disagree");
        // And as a hook computes it, without explanations.
        let plain = |threads| {
            pool(threads)
                .install(|| prometheus_rs_k8s::core::desired::desired_for(&snapshot))
                .unwrap()
        };
        assert!(plain(1) == plain(4), "{version}: without explanations");
    }
}

/// The scrape jobs are written one at a time between the two halves of the file; the result
/// must be the bytes `serde_yaml_ng` writes for the whole file, including where a value sends
/// the fast writer back to `serde_yaml_ng` (a string with spaces) and with sections after
/// `scrape_configs` (`storage`, `tracing`).
#[test]
fn jobs_written_one_by_one_make_the_file_serde_yaml_ng_writes_whole() {
    let mut i = input(&config(json!({})), V3_14);
    let mut jobs = relation_jobs();
    jobs.push(ScrapeJob::from(
        json!({
            "job_name": "spaced",
            "params": {"module": ["if mib with spaces"]},
            "static_configs": [{"targets": ["a:1"], "labels": {"site": "two words"}}],
        })
        .as_object()
        .unwrap()
        .clone(),
    ));
    i.relation_jobs = jobs;
    i.alertmanagers = alertmanagers();
    i.remote_write = remote_write();
    i.max_exemplars = Some(100_000);
    i.tracing = Some(json!({"endpoint": "tempo:4317", "insecure": true}));
    let yaml = render(&i).unwrap().yaml;
    assert!(yaml.contains("if mib with spaces"));
    assert!(yaml.find("scrape_configs:") < yaml.find("storage:"));
    assert!(yaml.find("storage:") < yaml.find("tracing:"));
    let tree: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(yaml, serde_yaml_ng::to_string(&tree).unwrap());
}

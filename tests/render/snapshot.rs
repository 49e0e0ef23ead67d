//! `render --model`: the same files and plan as a deployed unit of the same model, the status
//! and explanation of refused data, unknown snapshot fields named, `--out` files, and the
//! `--explain` text (every job's origin, every dropped job, rule group and rename).

use crate::common;

use std::path::Path;
use std::process::Command;

use crate::common::{Charm, TWO_APPS_FIXTURE};
use juju_hook::StatusKind;
use prometheus_rs_k8s::cli::render::{explain_text, load_snapshot, render_snapshot, RenderOutput};
use prometheus_rs_k8s::core::model::ModelSnapshot;
use prometheus_rs_k8s::core::workload::{CONFIG_DIR, CONFIG_FILE};
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_prometheus-rs-k8s");

fn fixture() -> ModelSnapshot {
    load_snapshot(Path::new(TWO_APPS_FIXTURE)).expect("the shared fixture loads")
}

fn fixture_json() -> Value {
    let text = std::fs::read_to_string(TWO_APPS_FIXTURE).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn snapshot_from(value: Value) -> ModelSnapshot {
    serde_json::from_value(value).expect("a valid snapshot")
}

fn render(value: Value) -> RenderOutput {
    render_snapshot(&snapshot_from(value)).expect("render runs")
}

/// The fixture with the `scrape_jobs` of relation `index` replaced.
fn with_scrape_jobs(index: usize, jobs: Value) -> Value {
    let mut value = fixture_json();
    value["relations"][index]["app_data"]["scrape_jobs"] = Value::String(jobs.to_string());
    value
}

/// Runs the compiled binary's `render` on `snapshot` written to a temporary file.
fn run_binary(snapshot: &str, extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.json");
    std::fs::write(&path, snapshot).unwrap();
    Command::new(BINARY)
        .arg("render")
        .arg("--model")
        .arg(&path)
        .args(extra)
        .output()
        .expect("the binary runs")
}

#[test]
fn render_gives_the_same_files_and_plan_as_a_deployed_unit_of_the_same_model() {
    let charm = Charm::two_apps(true);
    charm.deploy();
    charm.assert_active();

    // The harness unit's workload answers `prometheus --version` with 2.42.0 (the host's
    // promtool validates what it renders); the fixture names no version, so render would
    // assume 3.x and add `fallback_scrape_protocol`. Render for the same version.
    let mut snapshot = fixture();
    snapshot.prometheus_version = Some(common::PROMETHEUS_VERSION.into());
    let out = render_snapshot(&snapshot).unwrap();

    let mut harness_files = std::collections::BTreeMap::new();
    harness_files.insert(common::CONFIG_FILE.to_string(), charm.pushed_config_yaml());
    for dir in ["/etc/prometheus/rules", common::TARGETS_DIR] {
        for name in charm.dir_entries(dir) {
            let path = format!("{dir}/{name}");
            harness_files.insert(path.clone(), charm.file(&path).unwrap());
        }
    }
    assert!(
        harness_files.len() >= 6,
        "prometheus.yml, both apps' rule files and the three jobs' targets: {:?}",
        harness_files.keys()
    );
    assert_eq!(
        out.files.keys().collect::<Vec<_>>(),
        harness_files.keys().collect::<Vec<_>>()
    );
    for (path, content) in &harness_files {
        assert_eq!(&out.files[path], content, "{path} differs");
    }
    assert_eq!(out.layer_yaml, charm.sim.pebble.plan_yaml());
    assert_eq!(out.status, charm.status());
}

#[test]
fn an_invalid_scrape_job_blocks_naming_the_app_and_explain_says_why_it_was_dropped() {
    let out = render(with_scrape_jobs(
        1,
        json!([{"job_name": "api", "metrics_path": 5, "static_configs": [{"targets": ["a:1"]}]}]),
    ));
    assert_eq!(out.status.kind, StatusKind::Blocked);
    assert!(out.status.message.contains("web-api"), "{}", out.status);
    assert!(
        out.status.message.contains("metrics_path"),
        "{}",
        out.status
    );

    let text = explain_text(&out.explain);
    let dropped = text
        .lines()
        .position(|l| l.starts_with("dropped \"api\"") && l.contains("app web-api"))
        .unwrap_or_else(|| panic!("no dropped line for web-api's job:\n{text}"));
    let reason = text.lines().nth(dropped + 1).unwrap();
    assert!(reason.contains("metrics_path must be a string"), "{text}");
    // The other application's jobs are kept.
    assert!(text.contains("job juju_workloads_f4b3a2c1_node-exporter_prometheus_scrape-0"));
    let yml = &jobs_inlined(&out);
    assert!(!yml.contains("web-api"), "the dropped job is not rendered");
    assert!(yml.contains("node-exporter"));
}

#[test]
fn malformed_scrape_jobs_json_blocks_naming_the_app_and_is_explained() {
    let mut value = fixture_json();
    value["relations"][0]["app_data"]["scrape_jobs"] = Value::String("[{not json".into());
    let out = render(value);
    assert_eq!(out.status.kind, StatusKind::Blocked);
    assert!(
        out.status.message.contains("node-exporter"),
        "{}",
        out.status
    );

    let text = explain_text(&out.explain);
    let refused = text
        .lines()
        .position(|l| l == "refused metrics-endpoint:10 app node-exporter")
        .unwrap_or_else(|| panic!("node-exporter not named as refused:\n{text}"));
    let reason = text.lines().nth(refused + 1).unwrap();
    assert!(reason.contains("scrape_jobs"), "{reason}");
    assert!(
        !text.contains("node-exporter_prometheus_scrape-0"),
        "{text}"
    );
}

#[test]
fn dropped_rule_groups_are_explained_with_their_app_and_reason() {
    let mut value = fixture_json();
    let rules = json!({"groups": [
        {"name": "broken_expr", "rules": [{"alert": "X", "expr": "up <"}]},
        {"name": "not_a_list", "rules": "nope"},
    ]});
    value["relations"][1]["app_data"]["alert_rules"] = Value::String(rules.to_string());
    let out = render(value);
    assert_eq!(out.status.kind, StatusKind::Blocked);
    assert!(out.status.message.contains("web-api"), "{}", out.status);

    let text = explain_text(&out.explain);
    let refused: Vec<&str> = text
        .lines()
        .zip(text.lines().skip(1))
        .filter(|(l, _)| *l == "refused metrics-endpoint:11 app web-api")
        .map(|(_, reason)| reason.trim())
        .collect();
    assert_eq!(refused.len(), 2, "{text}");
    assert!(refused[0].contains("\"broken_expr\"") && refused[0].contains("PromQL"));
    assert!(refused[1].contains("\"not_a_list\"") && refused[1].contains("must be a list"));
    // node-exporter's rules are kept.
    assert!(out.files.keys().any(|p| p.contains("node-exporter")));
    assert!(!out.files.keys().any(|p| p.contains("web-api")));
}

#[test]
fn the_charms_own_jobs_are_explained_with_the_inventory_url_redacted() {
    let mut value = fixture_json();
    value["config"]["inventory_url"] = json!("http://bob:hunter2@inv.example:1337/hosts?token=abc");
    value["config"]["inventory_labels"] = json!("site=lab,rack=r1");
    value["config"]["inventory_target_port"] = json!(9200);
    value["config"]["inventory_poll_interval"] = json!("45s");
    let out = render(value);
    let text = explain_text(&out.explain);
    assert!(!text.contains("hunter2") && !text.contains("abc"), "{text}");
    assert!(text.contains("job prometheus <- self-scrape of prometheus-k8s/0\n"));
    assert!(
        text.contains(
            "job inventory <- inventory http://***@inv.example:1337/hosts?token=***\n    \
             targets from http://***@inv.example:1337/hosts?token=*** via file_sd, port 9200, \
             labels rack=r1,site=lab\n"
        ),
        "{text}"
    );
    assert!(text.contains("rewrites every 45s"), "{text}");
    assert!(
        text.contains("job inventory-sd <- inventory poller\n"),
        "{text}"
    );

    // Every job in prometheus.yml is explained as produced.
    let yml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&jobs_inlined(&out)).unwrap();
    let jobs: Vec<&str> = yml["scrape_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|j| j["job_name"].as_str().unwrap())
        .collect();
    assert_eq!(jobs.len(), 6, "{jobs:?}");
    for job in jobs {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("job {job} <- "))),
            "{job} not explained:\n{text}"
        );
    }

    // Without the inventory only the self-scrape is the charm's own.
    let plain = explain_text(&fixture_render().explain);
    assert!(plain.contains("job prometheus <- self-scrape"));
    assert!(!plain.contains("inventory"), "{plain}");
}

fn fixture_render() -> RenderOutput {
    render_snapshot(&fixture()).unwrap()
}

#[test]
fn a_renamed_relation_job_is_explained() {
    // The inventory job takes the name a related application's job has: that one is renamed.
    let name = "juju_workloads_f4b3a2c1_web-api_prometheus_scrape_api";
    let mut value = fixture_json();
    value["config"]["inventory_url"] = json!("http://inv.example:1337/hosts");
    value["config"]["inventory_job_name"] = json!(name);
    let out = render(value);
    assert_eq!(out.status.kind, StatusKind::Active, "{}", out.status);
    let text = explain_text(&out.explain);
    assert!(
        text.contains(&format!(
            "note: renamed relation scrape job \"{name}\" to \"{name}_2\": the name is already used\n"
        )),
        "{text}"
    );
    assert!(text.contains(&format!(
        "job {name} <- inventory http://inv.example:1337/hosts\n"
    )));
    assert!(out.files["/etc/prometheus/prometheus.yml"].contains(&format!("job_name: {name}_2\n")));
}

#[test]
fn unknown_snapshot_fields_are_an_error_naming_them() {
    let mut value = fixture_json();
    value["colour"] = json!("blue");
    let out = run_binary(&value.to_string(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("colour"), "{stderr}");
    assert!(out.stdout.is_empty());

    let mut value = fixture_json();
    value["relations"][0]["appdata"] = json!({});
    let out = run_binary(&value.to_string(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("appdata"), "{stderr}");

    let out = run_binary("{\"leader\": tru", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid model snapshot"));
}

#[test]
fn out_dir_holds_every_output_as_rendered_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let run = run_binary(
        &std::fs::read_to_string(TWO_APPS_FIXTURE).unwrap(),
        &["--explain", "--out", out_dir.to_str().unwrap()],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.stdout.is_empty(), "--out prints nothing");

    let expected = fixture_render();
    let read = |name: &str| {
        std::fs::read_to_string(out_dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    assert_eq!(
        read("prometheus.yml"),
        expected.files["/etc/prometheus/prometheus.yml"]
    );
    let mut rule_files: Vec<String> = std::fs::read_dir(out_dir.join("rules"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    rule_files.sort();
    let expected_rules: Vec<String> = expected
        .files
        .keys()
        .filter_map(|p| p.strip_prefix("/etc/prometheus/rules/"))
        .map(str::to_string)
        .collect();
    assert_eq!(rule_files, expected_rules);
    assert!(!rule_files.is_empty());
    for name in &rule_files {
        assert!(name.ends_with(".rules"), "{name}");
        assert_eq!(
            read(&format!("rules/{name}")),
            expected.files[&format!("/etc/prometheus/rules/{name}")]
        );
    }
    assert_eq!(read("pebble-plan.yaml"), expected.layer_yaml);
    let relation_data: Value = serde_json::from_str(&read("relation-data.json")).unwrap();
    assert_eq!(
        relation_data,
        serde_json::to_value(&expected.relation_data).unwrap()
    );
    assert_eq!(read("status.txt"), format!("{}\n", expected.status));
    assert_eq!(read("explain.txt"), explain_text(&expected.explain));
}

#[test]
fn explain_text_of_the_fixture() {
    insta::assert_snapshot!(explain_text(&fixture_render().explain));
}

#[test]
fn sharded_jobs_say_which_share_this_unit_keeps() {
    let mut value = fixture_json();
    value["unit_id"] = json!(4);
    value["planned_unit_numbers"] = json!([0, 4, 9]);
    value["config"]["scrape_sharding"] = json!(true);
    value["config"]["inventory_url"] = json!("http://inv.example:1337/hosts");
    let text = explain_text(&render(value).explain);
    let share = "    scrape_sharding: this unit keeps share 2 of 3 of the targets";
    // Entries: a header line and its indented reasons.
    let mut sharded = Vec::new();
    let mut whole = Vec::new();
    for entry in text.split("\njob ").skip(1) {
        let header = entry.lines().next().unwrap();
        if entry.lines().any(|l| l.starts_with(share)) {
            sharded.push(header);
        } else {
            whole.push(header);
        }
    }
    assert_eq!(
        whole,
        ["inventory-sd <- inventory poller"],
        "only the poller is whole after the self-scrape:\n{text}"
    );
    assert!(text.starts_with("job prometheus <- self-scrape of prometheus-k8s/4\n    Prometheus"));
    assert!(!text
        .split("\njob ")
        .next()
        .unwrap()
        .contains("scrape_sharding"));
    // The inventory job and the three relation jobs keep a share.
    assert_eq!(sharded.len(), 4, "{text}");
    assert!(sharded[0].starts_with("inventory <- "));
}

/// Every snapshot field reaches the render as it would reach a hook: `pvc_capacity` is the
/// volume a percentage retention is computed from (prometheus-k8s: ratio × the claim's
/// capacity), `fqdn` is the unit's own address (prometheus-k8s publishes `socket.getfqdn()`
/// and scrapes itself there).
#[test]
fn render_honours_pvc_capacity_and_fqdn() {
    let mut value = fixture_json();
    value["config"]["maximum_retention_size"] = json!("50%");
    value["pvc_capacity"] = json!("10Gi");
    value["fqdn"] = json!("prom-0.prom-endpoints.cos.svc.corp.example");
    let out = render(value.clone());
    assert_eq!(out.status, juju_hook::Status::active(""));
    assert!(
        out.layer_yaml
            .contains("--storage.tsdb.retention.size=5120MB"),
        "{}",
        out.layer_yaml
    );
    let yml = &out.files["/etc/prometheus/prometheus.yml"];
    assert!(
        yml.contains("- prom-0.prom-endpoints.cos.svc.corp.example:9090"),
        "{yml}"
    );
    let grafana = &out.relation_data["grafana-source:20"].unit;
    assert_eq!(
        grafana["grafana_source_host"],
        "http://prom-0.prom-endpoints.cos.svc.corp.example:9090"
    );

    // No capacity (an untrusted unit): no size limit, and Active saying so, never Blocked.
    value.as_object_mut().unwrap().remove("pvc_capacity");
    let out = render(value);
    assert_eq!(out.status.kind, StatusKind::Active, "{}", out.status);
    assert!(
        out.status.message.starts_with("no TSDB size limit"),
        "{}",
        out.status
    );
    assert!(
        !out.layer_yaml.contains("retention.size"),
        "{}",
        out.layer_yaml
    );
}

/// Snapshots no Juju model could produce are refused with exit code 2 and every problem
/// named, instead of a panic.
#[test]
fn malformed_snapshots_exit_2_naming_what_is_wrong() {
    let mut value = fixture_json();
    // Relation id 10 twice, and this unit listed as a remote unit of a relation.
    value["relations"][1]["id"] = json!(10);
    value["relations"][2]["units"] = json!([{"name": "prometheus-k8s/0"}]);
    let out = run_binary(&value.to_string(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("relation id 10 is used twice"), "{stderr}");
    assert!(
        stderr.contains("lists this unit (prometheus-k8s/0) as a remote unit"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    for (field, bad, named) in [
        (
            "endpoint",
            json!("tracing"),
            "endpoint \"tracing\" is not declared",
        ),
        ("app", json!("prometheus-k8s"), "cannot be this application"),
    ] {
        let mut value = fixture_json();
        value["relations"][0][field] = bad;
        let out = run_binary(&value.to_string(), &[]);
        assert_eq!(out.status.code(), Some(2), "{field}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(named), "{stderr}");
    }
    let mut value = fixture_json();
    value["relations"][0]["units"][1]["name"] = json!("node-exporter/0");
    let stderr = String::from_utf8_lossy(&run_binary(&value.to_string(), &[]).stderr).into_owned();
    assert!(
        stderr.contains("unit node-exporter/0 is listed twice"),
        "{stderr}"
    );
}

/// `planned_units` alone plans units `0..n` (goal-state numbers units from 0): with
/// `scrape_sharding` unit 0 of 2 keeps one share; a count that contradicts
/// `planned_unit_numbers` is refused.
#[test]
fn planned_units_alone_plans_the_first_units_and_must_agree_with_their_numbers() {
    let mut value = fixture_json();
    value["config"]["scrape_sharding"] = json!(true);
    value["planned_units"] = json!(2);
    let out = render(value.clone());
    let text = explain_text(&out.explain);
    assert!(text.contains("share 1 of 2"), "{text}");

    value["planned_unit_numbers"] = json!([0, 1, 2]);
    let out = run_binary(&value.to_string(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("planned_units is 2 but planned_unit_numbers lists 3"),
        "{stderr}"
    );
}

/// The rendered prometheus.yml with the jobs of the files it lists in `scrape_config_files`
/// in its `scrape_configs` (see `common::effective_config`).
fn jobs_inlined(out: &RenderOutput) -> String {
    common::effective_config::inline_relation_files(&out.files[CONFIG_FILE], |path| {
        out.files
            .get(&format!("{CONFIG_DIR}/{path}"))
            .map(|text| text.clone().into_bytes())
    })
}

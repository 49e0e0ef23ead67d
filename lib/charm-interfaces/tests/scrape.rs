//! `prometheus_scrape` consumer: the shared fixture, the reference's worked examples, and the
//! edge cases users hit.

mod common;

use charm_interfaces::scrape::{scrape_jobs, Job};
use common::{by_name, fixture_relations, scrape_unit, views, Rel};
use serde_json::{json, Value};

const EP: &str = "metrics-endpoint";

fn meta(model: &str, uuid: &str, app: &str, charm: &str) -> String {
    json!({"model": model, "model_uuid": uuid, "application": app, "unit": format!("{app}/0"), "charm_name": charm})
        .to_string()
}

fn names(jobs: &[Job]) -> Vec<String> {
    jobs.iter()
        .map(|j| j["job_name"].as_str().unwrap().to_owned())
        .collect()
}

fn wildcard_relabel() -> Value {
    json!([{"source_labels": ["juju_model", "juju_model_uuid", "juju_application", "juju_unit"],
            "separator": "_", "target_label": "instance", "regex": "(.*)"}])
}

fn external_relabel() -> Value {
    json!([{"source_labels": ["juju_model", "juju_model_uuid", "juju_application"],
            "separator": "_", "target_label": "instance", "regex": "(.*)"}])
}

#[test]
fn shared_fixture_jobs() {
    let rels = fixture_relations();
    let metrics: Vec<Rel> = rels.into_iter().filter(|r| r.endpoint == EP).collect();
    let out = scrape_jobs(&views(&metrics));
    assert!(out.per_app_errors.is_empty(), "{:?}", out.per_app_errors);
    let jobs = by_name(&out.job_maps());
    let uuid = "f4b3a2c1-0d9e-4f8a-b7c6-5d4e3f2a1b0c";
    assert_eq!(
        jobs.keys().collect::<Vec<_>>(),
        [
            "juju_workloads_f4b3a2c1_node-exporter_prometheus_scrape-0",
            "juju_workloads_f4b3a2c1_node-exporter_prometheus_scrape-1",
            "juju_workloads_f4b3a2c1_web-api_prometheus_scrape_api",
        ]
    );
    for (n, addr) in [(0, "10.1.0.10"), (1, "10.1.0.11")] {
        let job = &jobs[&format!("juju_workloads_f4b3a2c1_node-exporter_prometheus_scrape-{n}")];
        assert_eq!(
            job,
            &json!({
                "job_name": format!("juju_workloads_f4b3a2c1_node-exporter_prometheus_scrape-{n}"),
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [format!("{addr}:9100")], "labels": {
                    "juju_model": "workloads", "juju_model_uuid": uuid, "juju_application": "node-exporter",
                    "juju_charm": "node-exporter-k8s", "juju_unit": format!("node-exporter/{n}")}}],
                "relabel_configs": wildcard_relabel(),
                "fallback_scrape_protocol": "PrometheusText0.0.4",
            })
        );
    }
    // web-api's explicit targets are not its units' addresses: one external job, no juju_unit.
    assert_eq!(
        jobs["juju_workloads_f4b3a2c1_web-api_prometheus_scrape_api"],
        json!({
            "job_name": "juju_workloads_f4b3a2c1_web-api_prometheus_scrape_api",
            "metrics_path": "/api/v1/metrics",
            "scrape_interval": "30s",
            "static_configs": [{"targets": ["api-0.example.com:8080", "10.200.0.5:8080"], "labels": {
                "juju_model": "workloads", "juju_model_uuid": uuid, "juju_application": "web-api",
                "juju_charm": "web-api-k8s", "env": "prod"}}],
            "relabel_configs": external_relabel(),
            "fallback_scrape_protocol": "PrometheusText0.0.4",
        })
    );
    insta::assert_yaml_snapshot!("fixture_two_apps_jobs", out.job_maps());
}

/// The targets a job hands over are the JSON of its `static_configs` as the map form has them
/// (labels sorted, though the library inserted them in topology order), and the job keeps the
/// rest.
#[test]
fn plain_static_configs_are_taken_as_serde_json_writes_them() {
    let rels = fixture_relations();
    let metrics: Vec<Rel> = rels.into_iter().filter(|r| r.endpoint == EP).collect();
    let out = scrape_jobs(&views(&metrics));
    assert_eq!(out.jobs.len(), 3);
    for job in out.jobs {
        let mut map = job.to_map();
        let groups = map
            .remove("static_configs")
            .expect("every fixture job has targets");
        assert!(job.has_plain_static_configs());
        let mut taken = job.clone();
        let json = taken.take_plain_static_configs().expect("plain groups");
        assert_eq!(json, serde_json::to_vec(&groups).unwrap());
        assert_eq!(taken.into_map(), map);
    }
    let mut tls = charm_interfaces::ScrapeJob::from(
        json!({"job_name": "j", "static_configs": [{"targets": ["a:1"], "labels": {"x": "y"}}, {"targets": ["b:1"], "tls": true}]})
            .as_object()
            .unwrap()
            .clone(),
    );
    assert!(!tls.has_plain_static_configs());
    let before = tls.clone();
    assert_eq!(tls.take_plain_static_configs(), None);
    assert_eq!(tls, before);
}

fn example1() -> Rel {
    Rel::new(EP, 3, "node-exp")
        .app_key(
            "scrape_metadata",
            &meta(
                "cos",
                "f2c4a6d8-1234-4abc-8def-0123456789ab",
                "node-exp",
                "node-exporter-k8s",
            ),
        )
        .app_key(
            "scrape_jobs",
            r#"[{"metrics_path": "/metrics", "static_configs": [{"targets": ["*:9100"]}]}]"#,
        )
        .app_key("alert_rules", "{}")
        .unit_bag(
            "node-exp/0",
            scrape_unit(
                "node-exp/0",
                "10.1.0.11",
                "",
                "node-exp-0.node-exp-endpoints.cos.svc.cluster.local",
            ),
        )
        .unit_bag(
            "node-exp/1",
            scrape_unit(
                "node-exp/1",
                "10.1.0.12",
                "",
                "node-exp-1.node-exp-endpoints.cos.svc.cluster.local",
            ),
        )
}

#[test]
fn example_1_wildcard_two_units() {
    let rels = [example1()];
    let out = scrape_jobs(&views(&rels));
    assert!(out.per_app_errors.is_empty());
    let uuid = "f2c4a6d8-1234-4abc-8def-0123456789ab";
    let expected: Vec<Value> = [(0, "10.1.0.11"), (1, "10.1.0.12")]
        .iter()
        .map(|(n, addr)| {
            json!({
                "job_name": format!("juju_cos_f2c4a6d8_node-exp_prometheus_scrape-{n}"),
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [format!("{addr}:9100")], "labels": {
                    "juju_model": "cos", "juju_model_uuid": uuid, "juju_application": "node-exp",
                    "juju_charm": "node-exporter-k8s", "juju_unit": format!("node-exp/{n}")}}],
                "relabel_configs": wildcard_relabel(),
                "fallback_scrape_protocol": "PrometheusText0.0.4",
            })
        })
        .collect();
    let got: Vec<Value> = out.job_maps().into_iter().map(Value::Object).collect();
    assert_eq!(got, expected);
}

fn example2() -> Rel {
    Rel::new(EP, 7, "web")
        .app_key("scrape_metadata", &meta("lab", "0a1b2c3d-0000-4000-8000-000000000001", "web", "webapp"))
        .app_key(
            "scrape_jobs",
            r#"[{"job_name": "api", "metrics_path": "/stats", "scrape_interval": "30s", "honor_timestamps": false,
                 "static_configs": [{"targets": ["*:8080", "192.0.2.50:9000"], "labels": {"tier": "frontend"}}]},
                {"job_name": "api", "static_configs": [{"targets": ["*:8081"]}]}]"#,
        )
        .unit_bag("web/0", scrape_unit("web/0", "web.lab.example.com", "/lab-web-0", ""))
}

#[test]
fn example_2_names_hashes_external_ingress_and_dropped_key() {
    let rels = [example2()];
    let out = scrape_jobs(&views(&rels));
    assert!(out.per_app_errors.is_empty(), "{:?}", out.per_app_errors);
    let uuid = "0a1b2c3d-0000-4000-8000-000000000001";
    let unit_labels = |extra: Option<(&str, &str)>| {
        let mut l = json!({"juju_model": "lab", "juju_model_uuid": uuid, "juju_application": "web",
                           "juju_charm": "webapp", "juju_unit": "web/0"});
        if let Some((k, v)) = extra {
            l[k] = json!(v);
        }
        l
    };
    let expected = vec![
        json!({
            "job_name": "juju_lab_0a1b2c3d_web_prometheus_scrape_api-0_d3c70a644d0225f841b19c125be588de437d1e0d48694f113bf2385be6ea5d97",
            "metrics_path": "/lab-web-0/stats",
            "scrape_interval": "30s",
            "static_configs": [{"targets": ["web.lab.example.com:8080"], "labels": unit_labels(Some(("tier", "frontend")))}],
            "relabel_configs": wildcard_relabel(),
            "fallback_scrape_protocol": "PrometheusText0.0.4",
        }),
        json!({
            "job_name": "juju_lab_0a1b2c3d_web_prometheus_scrape_api-0_320b29810e1720472706e6288dcacd72a4debf4e3d1bbb390d9e7aa90fb99fdb",
            "metrics_path": "/lab-web-0/metrics",
            "static_configs": [{"targets": ["web.lab.example.com:8081"], "labels": unit_labels(None)}],
            "relabel_configs": wildcard_relabel(),
            "fallback_scrape_protocol": "PrometheusText0.0.4",
        }),
        json!({
            "job_name": "juju_lab_0a1b2c3d_web_prometheus_scrape_api",
            "metrics_path": "/stats",
            "scrape_interval": "30s",
            "static_configs": [{"targets": ["192.0.2.50:9000"], "labels": {
                "juju_model": "lab", "juju_model_uuid": uuid, "juju_application": "web",
                "juju_charm": "webapp", "tier": "frontend"}}],
            "relabel_configs": external_relabel(),
            "fallback_scrape_protocol": "PrometheusText0.0.4",
        }),
    ];
    let got: Vec<Value> = out.job_maps().iter().cloned().map(Value::Object).collect();
    assert_eq!(got, expected);
    // The explain view says why each job looks the way it does.
    let ext = out
        .explanations
        .iter()
        .find(|e| e.job == "juju_lab_0a1b2c3d_web_prometheus_scrape_api")
        .unwrap();
    assert!(ext.produced && ext.unit.is_none());
    assert!(
        ext.reasons.iter().any(|r| r.contains("honor_timestamps")),
        "{:?}",
        ext.reasons
    );
    assert!(ext.reasons.iter().any(|r| r.contains("external")));
    let first = out
        .explanations
        .iter()
        .find(|e| {
            e.job
                .ends_with("d3c70a644d0225f841b19c125be588de437d1e0d48694f113bf2385be6ea5d97")
        })
        .unwrap();
    assert_eq!(first.unit.as_deref(), Some("web/0"));
    assert!(first.reasons.iter().any(|r| r.contains("wildcard")));
    assert!(first.reasons.iter().any(|r| r.contains("sha256")));
    assert!(first.reasons.iter().any(|r| r.contains("/lab-web-0")));
}

#[test]
fn example_3_no_metadata_is_verbatim() {
    let job = r#"[{"job_name": "juju_cos_f2c4a6d_snmp_external_jobs", "static_configs": [{"targets": ["192.168.5.2:7000"], "labels": {"dc": "lab1"}}], "metrics_path": "/snmp", "params": {"module": ["if_mib"]}}]"#;
    let rels = [Rel::new(EP, 4, "snmp")
        .app_key("scrape_jobs", job)
        .unit_bag("snmp/0", common::bag(&[]))];
    let out = scrape_jobs(&views(&rels));
    assert!(out.per_app_errors.is_empty(), "{:?}", out.per_app_errors);
    let want: Value = serde_json::from_str(job).unwrap();
    assert_eq!(
        Value::Array(out.job_maps().into_iter().map(Value::Object).collect()),
        want
    );
    assert!(out.explanations[0].reasons[0].contains("verbatim"));
}

#[test]
fn relation_without_units_is_skipped() {
    let mut rel = example1();
    rel.units.clear();
    let out = scrape_jobs(&views(&[rel]));
    assert!(out.job_maps().is_empty());
    assert!(out
        .explanations
        .iter()
        .any(|e| !e.produced && e.reasons[0].contains("no units")));
}

#[test]
fn departed_unit_job_disappears() {
    let rel = example1();
    let before = scrape_jobs(&views(std::slice::from_ref(&rel)));
    assert_eq!(before.job_maps().len(), 2);
    let mut departed = rel;
    departed.units.retain(|(n, _)| n != "node-exp/1");
    let after = scrape_jobs(&views(&[departed]));
    assert_eq!(
        names(&after.job_maps()),
        ["juju_cos_f2c4a6d8_node-exp_prometheus_scrape-0"]
    );
}

#[test]
fn mixed_targets_unit_matching_and_ipv6() {
    // Unit 0 is IPv6; a fully-qualified target naming unit 1's fqdn and one naming unit 0's
    // address (bracketed) are per-unit targets, each in a job of its own next to the unit's
    // wildcard job (so all four get sha256 suffixes); 203.0.113.9 stays external.
    let rels = [Rel::new(EP, 9, "db")
        .app_key("scrape_metadata", &meta("m", "11112222-0000-4000-8000-000000000000", "db", "db-k8s"))
        .app_key(
            "scrape_jobs",
            r#"[{"job_name": "x", "static_configs": [{"targets": ["*:9100", "[fd00::1]:9200", "db-1.db.svc:9300", "203.0.113.9:9400"]}]}]"#,
        )
        .unit_bag("db/1", scrape_unit("db/1", "10.0.0.7", "", "db-1.db.svc"))
        .unit_bag("db/0", scrape_unit("db/0", "fd00:0::1", "", ""))];
    let out = scrape_jobs(&views(&rels));
    assert!(out.per_app_errors.is_empty(), "{:?}", out.per_app_errors);
    let prefix = "juju_m_11112222_db_prometheus_scrape_x";
    let unit_jobs = |n: u32| -> Vec<(Value, Value)> {
        out.job_maps()
            .iter()
            .filter(|j| {
                j["job_name"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{prefix}-{n}_"))
            })
            .map(|j| {
                let sc = &j["static_configs"][0];
                (sc["targets"].clone(), sc["labels"]["juju_unit"].clone())
            })
            .collect()
    };
    assert_eq!(
        unit_jobs(0),
        [
            (json!(["[fd00:0::1]:9100"]), json!("db/0")),
            (json!(["[fd00::1]:9200"]), json!("db/0"))
        ]
    );
    assert_eq!(
        unit_jobs(1),
        [
            (json!(["10.0.0.7:9100"]), json!("db/1")),
            (json!(["db-1.db.svc:9300"]), json!("db/1"))
        ]
    );
    let jobs = by_name(&out.job_maps());
    assert_eq!(
        jobs[prefix]["static_configs"][0]["targets"],
        json!(["203.0.113.9:9400"])
    );
    assert!(jobs[prefix]["static_configs"][0]["labels"]
        .get("juju_unit")
        .is_none());
    assert_eq!(jobs.len(), 5);
    // Unit jobs come out in unit-number order whatever order the charm listed the units in.
    assert!(names(&out.job_maps())[0].starts_with(&format!("{prefix}-0_")));
}

/// The shared fixture's node-exporter (units at 10.1.0.10 and 10.1.0.11), with a job holding a
/// wildcard and explicit targets: unit 0's fqdn on another port, unit 1's own `*:9100` target
/// written out, unit 1 on another port, and an external host. The library makes one job per
/// distinct target for each unit (wildcard ports of a static_config together), all named
/// `<job>-<unit>`, then dedupe appends the sha256 of each job's JSON and collapses identical
/// jobs. The names below were computed with Python's `json.dumps` and `hashlib.sha256` over
/// the jobs as the library builds them.
#[test]
fn fixture_wildcard_plus_explicit_targets_get_library_job_names() {
    let mut rels: Vec<Rel> = fixture_relations()
        .into_iter()
        .filter(|r| r.endpoint == EP && r.app == "node-exporter")
        .collect();
    let fqdn0 = "node-exporter-0.node-exporter-endpoints.workloads.svc.cluster.local";
    rels[0].app_data.insert(
        "scrape_jobs".into(),
        json!([{"metrics_path": "/metrics", "static_configs": [{"targets": [
            "*:9100", format!("{fqdn0}:9256"), "10.1.0.11:9100", "10.1.0.11:9256", "192.0.2.1:9100"
        ]}]}])
        .to_string(),
    );
    let out = scrape_jobs(&views(&rels));
    assert!(out.per_app_errors.is_empty(), "{:?}", out.per_app_errors);
    let prefix = "juju_workloads_f4b3a2c1_node-exporter_prometheus_scrape";
    let got: Vec<(String, Value)> = out
        .job_maps()
        .iter()
        .map(|j| {
            (
                j["job_name"].as_str().unwrap().to_owned(),
                j["static_configs"][0]["targets"].clone(),
            )
        })
        .collect();
    let expected = [
        (
            "-0_73cac23b198b30781f8920bf194ff0f1b4b7d0b4132d2f3e06255604225da5be",
            json!(["10.1.0.10:9100"]),
        ),
        (
            "-0_dbefd41129475953a71287d42145a36048beb0869c5b92a41c1e877125e8b2b3",
            json!([format!("{fqdn0}:9256")]),
        ),
        (
            "-1_636b3d482d90687da69de1177d9d857dec061405872a09e1dd4f08a7d18061eb",
            json!(["10.1.0.11:9100"]),
        ),
        (
            "-1_cfba33acb4a38b551351a2481e8d9eab8ba82aff306253c6fcc1892d66577621",
            json!(["10.1.0.11:9256"]),
        ),
        ("", json!(["192.0.2.1:9100"])),
    ];
    let expected: Vec<(String, Value)> = expected
        .into_iter()
        .map(|(suffix, targets)| (format!("{prefix}{suffix}"), targets))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn legacy_host_key_and_unit_name_fallback() {
    let rels = [Rel::new(EP, 2, "old")
        .app_key(
            "scrape_metadata",
            &meta("m", "33334444-0000-4000-8000-000000000000", "old", ""),
        )
        .app_key(
            "scrape_jobs",
            r#"[{"static_configs": [{"targets": ["*:80"]}]}]"#,
        )
        .unit("old/3", &[("prometheus_scrape_host", "10.9.9.9")])
        .unit("old/4", &[("prometheus_scrape_unit_path", "/x")])];
    let out = scrape_jobs(&views(&rels));
    assert_eq!(
        names(&out.job_maps()),
        ["juju_m_33334444_old_prometheus_scrape-3"]
    );
    let labels = &out.job_maps()[0]["static_configs"][0]["labels"];
    assert_eq!(labels["juju_unit"], "old/3");
    assert!(
        labels.get("juju_charm").is_none(),
        "empty charm name is not a label"
    );
}

#[test]
fn user_labels_win_and_jobs_without_targets_vanish() {
    let rels = [Rel::new(EP, 5, "a")
        .app_key("scrape_metadata", &meta("m", "55556666-0000-4000-8000-000000000000", "a", "a-k8s"))
        .app_key(
            "scrape_jobs",
            r#"[{"job_name": "l", "static_configs": [{"targets": ["*:1"], "labels": {"juju_unit": "mine", "juju_model": "other"}}]},
                {"job_name": "empty", "static_configs": [{"targets": []}]},
                {"job_name": "none", "static_configs": []}]"#,
        )
        .unit_bag("a/0", scrape_unit("a/0", "10.0.0.1", "", ""))];
    let out = scrape_jobs(&views(&rels));
    assert_eq!(
        names(&out.job_maps()),
        ["juju_m_55556666_a_prometheus_scrape_l-0"]
    );
    let labels = &out.job_maps()[0]["static_configs"][0]["labels"];
    assert_eq!(labels["juju_unit"], "mine");
    assert_eq!(labels["juju_model"], "other");
    let gone: Vec<&str> = out
        .explanations
        .iter()
        .filter(|e| !e.produced)
        .map(|e| e.job.as_str())
        .collect();
    assert!(
        gone.contains(&"juju_m_55556666_a_prometheus_scrape_empty"),
        "{gone:?}"
    );
    assert!(
        gone.contains(&"juju_m_55556666_a_prometheus_scrape_none"),
        "{gone:?}"
    );
}

#[test]
fn identical_jobs_collapse_and_cross_relation_duplicates_get_hashes() {
    // Two relations carrying the same verbatim job name but different targets.
    let job = |t: &str| {
        format!(r#"[{{"job_name": "shared", "static_configs": [{{"targets": ["{t}"]}}]}}]"#)
    };
    let rels = [
        Rel::new(EP, 1, "p")
            .app_key("scrape_jobs", &job("10.0.0.1:80"))
            .unit("p/0", &[]),
        Rel::new(EP, 2, "q")
            .app_key("scrape_jobs", &job("10.0.0.2:80"))
            .unit("q/0", &[]),
        Rel::new(EP, 3, "r")
            .app_key("scrape_jobs", &job("10.0.0.1:80"))
            .unit("r/0", &[]),
    ];
    let out = scrape_jobs(&views(&rels));
    let n = names(&out.job_maps());
    assert_eq!(n.len(), 2, "identical job from r collapsed: {n:?}");
    assert!(n
        .iter()
        .all(|x| x.starts_with("shared_") && x.len() == "shared_".len() + 64));
    assert_ne!(n[0], n[1]);
    let collapsed = out
        .explanations
        .iter()
        .find(|e| !e.produced && e.app == "r")
        .unwrap();
    assert!(collapsed.reasons.last().unwrap().contains("identical"));
}

#[test]
fn invalid_job_reports_app_and_others_keep_working() {
    let mut rels = vec![example1()];
    rels.push(
        Rel::new(EP, 8, "broken")
            .app_key("scrape_metadata", &meta("m", "77778888-0000-4000-8000-000000000000", "broken", "b"))
            .app_key(
                "scrape_jobs",
                r#"[{"job_name": "bad", "params": {"module": "if_mib"}, "static_configs": [{"targets": ["*:1"]}]},
                    {"job_name": "good", "static_configs": [{"targets": ["*:2"]}]},
                    {"job_name": "path", "metrics_path": "metrics", "static_configs": [{"targets": ["*:3"]}]},
                    {"job_name": "dur", "scrape_interval": "1 minute", "static_configs": [{"targets": ["*:4"]}]},
                    {"job_name": "lbl", "static_configs": [{"targets": ["*:5"], "labels": {"bad-name": "x"}}]}]"#,
            )
            .unit_bag("broken/0", scrape_unit("broken/0", "10.0.0.9", "", "")),
    );
    rels.push(
        Rel::new(EP, 10, "garbage")
            .app_key(
                "scrape_metadata",
                &meta("m", "99990000-0000-4000-8000-000000000000", "garbage", "g"),
            )
            .app_key("scrape_jobs", "[{not json")
            .unit_bag("garbage/0", scrape_unit("garbage/0", "10.0.0.10", "", "")),
    );
    let out = scrape_jobs(&views(&rels));
    let n = names(&out.job_maps());
    assert!(n.contains(&"juju_cos_f2c4a6d8_node-exp_prometheus_scrape-0".to_owned()));
    assert!(n.contains(&"juju_m_77778888_broken_prometheus_scrape_good-0".to_owned()));
    assert_eq!(n.len(), 3, "{n:?}");
    let broken: Vec<&str> = out
        .per_app_errors
        .iter()
        .filter(|e| e.app == "broken")
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(broken.len(), 4, "{broken:?}");
    assert!(
        broken[0].contains("\"bad\"") && broken[0].contains("params.module"),
        "{broken:?}"
    );
    assert!(broken[1].contains("metrics_path"));
    assert!(broken[2].contains("duration"));
    assert!(broken[3].contains("label name"));
    assert!(out
        .per_app_errors
        .iter()
        .all(|e| e.relation_id == 8 || e.relation_id == 10));
    let garbage = out
        .per_app_errors
        .iter()
        .find(|e| e.app == "garbage")
        .unwrap();
    assert!(garbage.message.contains("not valid JSON"));
}

/// Upstream (`prometheus_scrape` consumer and prometheus-k8s) keeps every allow-listed
/// `relabel_configs` rule, including those that write `__address__`: that is how a blackbox
/// exporter charm publishes probes (each target becomes `__param_target`, the address becomes
/// the exporter's). Such a job is accepted whole, with nothing reported.
#[test]
fn blackbox_probe_jobs_that_rewrite_address_are_accepted_as_upstream() {
    let probe_relabels = json!([
        {"source_labels": ["__address__"], "target_label": "__param_target"},
        {"source_labels": ["__param_target"], "target_label": "probe_target"},
        {"target_label": "__address__", "replacement": "10.1.1.1:9115"}
    ]);
    let jobs = json!([{
        "job_name": "blackbox_http_2xx",
        "metrics_path": "/probe",
        "params": {"module": ["http_2xx"]},
        "static_configs": [{"targets": ["https://example.com/health", "10.0.0.7:8080"]}],
        "relabel_configs": probe_relabels,
        "kubernetes_sd_configs": [{"role": "pod"}]
    }]);
    let rels = [Rel::new(EP, 6, "blackbox")
        .app_key(
            "scrape_metadata",
            &meta(
                "m",
                "abcdabcd-0000-4000-8000-000000000000",
                "blackbox",
                "blackbox-exporter-k8s",
            ),
        )
        .app_key("scrape_jobs", &jobs.to_string())
        .unit_bag("blackbox/0", scrape_unit("blackbox/0", "10.1.1.1", "", ""))];
    let out = scrape_jobs(&views(&rels));
    assert!(out.per_app_errors.is_empty(), "{:?}", out.per_app_errors);
    assert_eq!(
        names(&out.job_maps()),
        ["juju_m_abcdabcd_blackbox_prometheus_scrape_blackbox_http_2xx"]
    );
    let job = &out.job_maps()[0];
    // The keys outside the allow-list go (silently, as upstream); the probe rules stay, in
    // order, before the instance relabel the library appends.
    assert!(job.get("kubernetes_sd_configs").is_none());
    let mut expected = probe_relabels.as_array().unwrap().clone();
    expected.extend(external_relabel().as_array().unwrap().iter().cloned());
    assert_eq!(job["relabel_configs"], Value::Array(expected));
    assert_eq!(job["params"], json!({"module": ["http_2xx"]}));
    assert_eq!(
        job["static_configs"][0]["targets"],
        json!(["https://example.com/health", "10.0.0.7:8080"])
    );
}

#[test]
fn pass_through_rejects_unknown_fields_and_strips_service_discovery() {
    let rels = [Rel::new(EP, 11, "cfg")
        .app_key(
            "scrape_jobs",
            r#"[{"job_name": "ok", "static_configs": [{"targets": ["a:1"]}], "file_sd_configs": [{"files": ["/etc/passwd"]}]},
                {"job_name": "typo", "static_configs": [{"targets": ["a:1"]}], "metrics_relabel_configs": []},
                {"static_configs": [{"targets": ["a:1"]}]}]"#,
        )
        .unit("cfg/0", &[])];
    let out = scrape_jobs(&views(&rels));
    assert_eq!(names(&out.job_maps()), ["ok"]);
    assert!(out.job_maps()[0].get("file_sd_configs").is_none());
    let msgs: Vec<&str> = out
        .per_app_errors
        .iter()
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert!(msgs[0].contains("file_sd_configs"));
    assert!(msgs[1].contains("metrics_relabel_configs"));
    assert!(msgs[2].contains("job_name"));
}

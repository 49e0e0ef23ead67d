//! Hostile relation data from other applications: megabyte values, unicode, every wrong JSON
//! type in every field, keys outside the allow-list, jobs bringing their own `*_sd_configs` or
//! relabelling `__address__`, broken alertmanager and remote-write data. Nothing panics; what
//! is refused is reported against the relation and application it came from, in messages of
//! bounded size (they end up in `juju status` and in the provider's databag).

mod common;

use charm_interfaces::scrape::{scrape_jobs, AppError};
use charm_interfaces::{alert_rules, alertmanager, remote_write};
use common::{scrape_unit, views, Rel};
use proptest::prelude::*;
use serde_json::{json, Value};

const META: &str = r#"{"model":"m","model_uuid":"12345678-0000-4000-8000-000000000000","application":"evil","unit":"evil/0","charm_name":"evil-k8s"}"#;

/// Longest error message accepted: it is shown in `juju status` and written back to the
/// provider's databag.
const MAX_MESSAGE: usize = 2048;

fn evil(id: u32, jobs: &str, meta: Option<&str>) -> Rel {
    let mut rel = Rel::new("metrics-endpoint", id, "evil")
        .app_key("scrape_jobs", jobs)
        .unit_bag("evil/0", scrape_unit("evil/0", "10.0.0.7", "", ""));
    if let Some(meta) = meta {
        rel = rel.app_key("scrape_metadata", meta);
    }
    rel
}

fn assert_errors_sourced(errors: &[AppError], id: u32, app: &str) {
    for e in errors {
        assert_eq!((e.relation_id, e.app.as_str()), (id, app), "{e:?}");
        assert!(
            e.message.len() <= MAX_MESSAGE,
            "message of {} bytes: {}…",
            e.message.len(),
            &e.message[..200.min(e.message.len())]
        );
    }
}

/// Any JSON value, a few levels deep, with keys a scrape job may or may not have.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        Just(json!(1.5)),
        "\\PC{0,12}".prop_map(Value::String),
        Just(json!("*:80")),
        Just(json!("__address__")),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("job_name".to_string()),
                    Just("metrics_path".to_string()),
                    Just("static_configs".to_string()),
                    Just("targets".to_string()),
                    Just("labels".to_string()),
                    Just("relabel_configs".to_string()),
                    Just("metric_relabel_configs".to_string()),
                    Just("target_label".to_string()),
                    Just("replacement".to_string()),
                    Just("action".to_string()),
                    Just("scrape_interval".to_string()),
                    Just("scheme".to_string()),
                    Just("basic_auth".to_string()),
                    Just("kubernetes_sd_configs".to_string()),
                    Just("file_sd_configs".to_string()),
                    "[a-z_]{1,12}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever the jobs hold, in both modes: no job comes out with service discovery of its
    /// own; every job is named; errors name the relation and application.
    #[test]
    fn arbitrary_job_shapes_never_escape_the_rules(jobs in prop::collection::vec(any_json(), 0..4), with_meta in any::<bool>()) {
        let text = Value::Array(jobs).to_string();
        let rels = [evil(3, &text, with_meta.then_some(META))];
        let out = scrape_jobs(&views(&rels));
        assert_errors_sourced(&out.per_app_errors, 3, "evil");
        for job in &out.job_maps() {
            prop_assert!(!job.keys().any(|k| k.ends_with("_sd_configs")), "{job:?}");
            prop_assert!(job.get("job_name").and_then(Value::as_str).is_some_and(|n| !n.is_empty()));
        }
        let rules = alert_rules::scrape_rule_files(&views(&rels));
        assert_errors_sourced(&rules.per_app_errors, 3, "evil");
    }

    /// Arbitrary text in every databag the charm reads (alertmanager, remote write, rules).
    #[test]
    fn arbitrary_text_in_other_relations_never_panics(a in "\\PC{0,80}", b in "\\PC{0,80}", c in any_json()) {
        let c = c.to_string();
        let am = Rel::new("alertmanager", 5, "am").app_key("public_address", &a)
            .unit("am/0", &[("public_address", &b), ("scheme", &a)]);
        let out = alertmanager::alertmanagers(&views(std::slice::from_ref(&am)));
        assert_errors_sourced(&out.per_app_errors, 5, "am");
        let rw = Rel::new("send-remote-write", 6, "rw").unit("rw/0", &[("remote_write", &c)]);
        let out = remote_write::endpoints(&views(std::slice::from_ref(&rw)));
        assert_errors_sourced(&out.per_app_errors, 6, "rw");
        let sender = Rel::new("receive-remote-write", 7, "snd").app_key("alert_rules", &c)
            .app_key("metadata", &a).unit("snd/0", &[]);
        let out = remote_write::sender_rule_files(&views(std::slice::from_ref(&sender)));
        assert_errors_sourced(&out.per_app_errors, 7, "snd");
    }
}

#[test]
fn megabyte_values_are_handled_and_reported_briefly() {
    let big = "x".repeat(4 << 20);
    let cases = [
        // A 4 MiB job name (kept out: job names are prefixed and hashed, or refused).
        json!([{"job_name": big, "static_configs": [{"targets": ["*:80"]}]}]),
        // A 4 MiB label value.
        json!([{"static_configs": [{"targets": ["*:80"], "labels": {"k": big}}]}]),
        // A 4 MiB target.
        json!([{"static_configs": [{"targets": [big]}]}]),
        // 4 MiB under a key outside the allow-list.
        json!([{"static_configs": [{"targets": ["*:80"]}], "evil_key": big}]),
        // A wrong type with a huge body.
        json!([{"static_configs": big}]),
        // 20 000 jobs.
        Value::Array((0..20_000).map(|i| json!({"job_name": format!("j{i}"), "static_configs": [{"targets": ["*:80"]}]})).collect()),
    ];
    for (i, jobs) in cases.iter().enumerate() {
        for meta in [Some(META), None] {
            let rels = [evil(9, &jobs.to_string(), meta)];
            let out = scrape_jobs(&views(&rels));
            assert_errors_sourced(&out.per_app_errors, 9, "evil");
            // Kept or dropped, never half-made: every job produced has a name and targets.
            for job in &out.job_maps() {
                assert!(
                    job["job_name"].as_str().is_some_and(|n| !n.is_empty()),
                    "case {i}"
                );
            }
        }
    }
    // Not JSON at all, 4 MiB of it.
    let rels = [evil(9, &big, Some(META))];
    let out = scrape_jobs(&views(&rels));
    assert!(out.job_maps().is_empty());
    assert_eq!(out.per_app_errors.len(), 1);
    assert_errors_sourced(&out.per_app_errors, 9, "evil");
}

#[test]
fn unicode_everywhere_is_kept_or_refused_by_name() {
    let jobs = json!([{
        "job_name": "jöb-🔥",
        "metrics_path": "/mé trics",
        "static_configs": [{"targets": ["*:80", "ünïcode.example:9"], "labels": {"tier": "日本", "ñame": "x"}}]
    }]);
    for meta in [Some(META), None] {
        let rels = [evil(2, &jobs.to_string(), meta)];
        let out = scrape_jobs(&views(&rels));
        assert_errors_sourced(&out.per_app_errors, 2, "evil");
        // The label name `ñame` is not a Prometheus label name: never written as one.
        for job in &out.job_maps() {
            assert!(
                !serde_json::to_string(job).unwrap().contains("\"ñame\""),
                "{job:?}"
            );
        }
    }
}

/// Service discovery is refused; relabels of `__address__` are kept, as upstream keeps them
/// (the blackbox probe pattern), and are not reported.
#[test]
fn service_discovery_is_refused_by_name_and_address_relabels_kept() {
    let jobs = json!([
        {"job_name": "a", "static_configs": [{"targets": ["*:80"]}], "dns_sd_configs": [{"names": ["evil.example"]}]},
        {"job_name": "b", "static_configs": [{"targets": ["*:80"]}], "relabel_configs": [
            {"action": "replace", "source_labels": ["__meta_x"], "target_label": "__address__", "replacement": "169.254.169.254:80"}]},
        {"job_name": "c", "static_configs": [{"targets": ["*:80"]}], "relabel_configs": [
            {"action": "labelmap", "regex": "(.*)", "replacement": "__address__"}]},
    ]);
    let rels = [evil(4, &jobs.to_string(), Some(META))];
    let out = scrape_jobs(&views(&rels));
    assert_errors_sourced(&out.per_app_errors, 4, "evil");
    let all = serde_json::to_string(&out.job_maps()).unwrap();
    assert!(!all.contains("dns_sd_configs"), "{all}");
    assert!(all.contains("169.254.169.254"), "{all}");
    assert!(all.contains("\"__address__\""), "{all}");
    assert_eq!(out.job_maps().len(), 3, "{all}");
    // Keys outside the allow-list (the service discovery) are dropped and explained per job.
    assert!(out.per_app_errors.is_empty(), "{:?}", out.per_app_errors);
    assert!(
        out.explanations
            .iter()
            .filter(|e| e.relation_id == 4 && e.app == "evil")
            .any(|e| e.reasons.iter().any(|r| r.contains("dns_sd_configs"))),
        "{:?}",
        out.explanations
    );
    // Without metadata (verbatim mode) service discovery is removed and reported too.
    let rels = [evil(4, &jobs.to_string(), None)];
    let out = scrape_jobs(&views(&rels));
    assert_errors_sourced(&out.per_app_errors, 4, "evil");
    assert!(!serde_json::to_string(&out.job_maps())
        .unwrap()
        .contains("dns_sd_configs"));
    assert!(out
        .per_app_errors
        .iter()
        .any(|e| e.message.contains("dns_sd_configs")));
}

/// The longest string anywhere in a job.
fn longest_text(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().map(longest_text).max().unwrap_or(0),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| k.len().max(longest_text(v)))
            .max()
            .unwrap_or(0),
        _ => 0,
    }
}

#[test]
fn oversized_text_drops_that_job_only_and_never_reaches_the_config() {
    let big = "x".repeat(1 << 20);
    let good = json!({"job_name": "fine", "static_configs": [{"targets": ["*:80"]}]});
    let cases = [
        (
            "job_name",
            json!({"job_name": big, "static_configs": [{"targets": ["*:80"]}]}),
        ),
        (
            "labels.k",
            json!({"job_name": "l", "static_configs": [{"targets": ["*:80"], "labels": {"k": big}}]}),
        ),
        (
            "targets[0]",
            json!({"job_name": "t", "static_configs": [{"targets": [format!("{big}:80")]}]}),
        ),
        (
            "metrics_path",
            json!({"job_name": "p", "metrics_path": format!("/{big}"), "static_configs": [{"targets": ["*:80"]}]}),
        ),
        (
            "replacement",
            json!({"job_name": "r", "static_configs": [{"targets": ["*:80"]}], "relabel_configs": [{"target_label": "x", "replacement": big}]}),
        ),
    ];
    for (field, bad) in cases {
        for meta in [Some(META), None] {
            let jobs = json!([good, bad]).to_string();
            let rels = [evil(9, &jobs, meta)];
            let out = scrape_jobs(&views(&rels));
            assert_errors_sourced(&out.per_app_errors, 9, "evil");
            assert!(
                out.per_app_errors
                    .iter()
                    .any(|e| e.message.contains(field) && e.message.contains("bytes long")),
                "{field}: {:?}",
                out.per_app_errors
            );
            assert_eq!(
                out.job_maps().len(),
                1,
                "{field}: only the good job is kept"
            );
            for job in &out.job_maps() {
                let longest = longest_text(&Value::Object(job.clone()));
                assert!(longest <= 4096, "{field}: {longest} bytes reached a job");
            }
        }
    }

    // An inline CA chain of 10 KiB is fine (up to 64 KiB): certificates are long.
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        "A".repeat(10 << 10)
    );
    let jobs = json!([{"job_name": "tls", "scheme": "https", "tls_config": {"ca": pem},
        "static_configs": [{"targets": ["*:443"]}]}]);
    let rels = [evil(9, &jobs.to_string(), Some(META))];
    let out = scrape_jobs(&views(&rels));
    assert_eq!(out.job_maps().len(), 1, "{:?}", out.per_app_errors);
    assert_eq!(out.job_maps()[0]["tls_config"]["ca"], pem.as_str());
}

#[test]
fn oversized_unit_addresses_are_not_expanded_into_jobs() {
    let big = "h".repeat(1 << 20);
    let jobs = json!([{"job_name": "node", "static_configs": [{"targets": ["*:9100"]}]}]);
    for meta in [Some(META), None] {
        let mut rel = Rel::new("metrics-endpoint", 9, "evil")
            .app_key("scrape_jobs", &jobs.to_string())
            .unit_bag("evil/0", scrape_unit("evil/0", "10.0.0.7", "", ""))
            .unit_bag("evil/1", scrape_unit("evil/1", &big, "", ""))
            .unit_bag(
                "evil/2",
                scrape_unit("evil/2", "10.0.0.9", &format!("/{big}"), &big),
            );
        if let Some(meta) = meta {
            rel = rel.app_key("scrape_metadata", meta);
        }
        let rels = [rel];
        let out = scrape_jobs(&views(&rels));
        let text = serde_json::to_string(&out.job_maps()).unwrap();
        assert!(text.len() < 4096, "{} bytes of jobs", text.len());
        if meta.is_some() {
            assert!(
                text.contains("10.0.0.7:9100") && text.contains("10.0.0.9:9100"),
                "{text}"
            );
        }
    }
}

#[test]
fn megabyte_rule_text_drops_that_group_and_is_reported_briefly() {
    let big = "x".repeat(1 << 20);
    let good = json!({"name": "good", "rules": [{"alert": "Up", "expr": "up < 1"}]});
    let cases = [
        json!({"name": "a", "rules": [{"alert": "A", "expr": "up < 1", "annotations": {"description": big}}]}),
        json!({"name": "b", "rules": [{"alert": "B", "expr": format!("up{{job=\"{big}\"}} < 1")}]}),
        json!({"name": "c", "rules": [{"record": big, "expr": "up"}]}),
        // Invalid PromQL quoted in the error, short of the size limit.
        json!({"name": "d", "rules": [{"alert": "D", "expr": format!("up < {}", "(".repeat(60_000))}]}),
    ];
    for (i, bad) in cases.iter().enumerate() {
        let rules = json!({"groups": [good, bad]}).to_string();
        let rels = [evil(9, "[]", Some(META)).app_key("alert_rules", &rules)];
        let out = alert_rules::scrape_rule_files(&views(&rels));
        assert_errors_sourced(&out.per_app_errors, 9, "evil");
        assert_eq!(
            out.per_app_errors.len(),
            1,
            "case {i}: {:?}",
            out.per_app_errors
        );
        let written: usize = out.files.iter().map(|(_, content)| content.len()).sum();
        assert!(written > 0, "case {i}: the good group is kept");
        assert!(
            written < 64 << 10,
            "case {i}: {written} bytes of rule files"
        );
    }
}

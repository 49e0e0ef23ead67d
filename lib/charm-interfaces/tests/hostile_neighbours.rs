//! One related application's data costs only its own jobs or rules: rule file names are
//! bounded and never collide across endpoints and relations, and a unit's bad address costs
//! only that unit (reported against its relation).

mod common;

use charm_interfaces::alert_rules::{rule_file_name, rule_files};
use charm_interfaces::scrape::scrape_jobs;
use common::{promtool_check_rules, scrape_unit, views, Rel};
use proptest::prelude::*;
use serde_json::{json, Value};

const ENDPOINTS: [&str; 2] = ["metrics-endpoint", "receive-remote-write"];

/// Rules whose first rule carries the given topology (the identifier comes from it).
fn rules_with_topology(model: &str, app: &str) -> String {
    json!({"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0",
        "labels": {"juju_model": model, "juju_model_uuid": "11112222-0000-4000-8000-000000000000",
                   "juju_application": app}}]}]})
    .to_string()
}

/// Rules without topology (verbatim mode): the identifier is the first group's name.
fn rules_named(group: &str) -> String {
    json!({"groups": [{"name": group, "rules": [{"alert": "A", "expr": "up == 0"}]}]}).to_string()
}

/// Rule files relation by relation, as the charm computes them.
fn names_of(rels: &[Rel]) -> Vec<String> {
    rels.iter()
        .flat_map(|r| rule_files(&views(std::slice::from_ref(r))).files)
        .map(|(n, _)| n)
        .collect()
}

fn assert_file_name(name: &str) {
    assert!(name.len() <= 255, "{} bytes: {name}", name.len());
    assert!(
        name.starts_with("juju_") && name.ends_with(".rules"),
        "{name}"
    );
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')),
        "{name}"
    );
}

#[test]
fn a_long_topology_or_group_name_makes_a_short_file_name() {
    let rels = [
        Rel::new("metrics-endpoint", 1, "long-model")
            .app_key("alert_rules", &rules_with_topology(&"m".repeat(300), "app"))
            .unit("long-model/0", &[]),
        Rel::new("metrics-endpoint", 2, "long-group")
            .app_key("alert_rules", &rules_named(&"g".repeat(3000)))
            .unit("long-group/0", &[]),
    ];
    let names = names_of(&rels);
    assert_eq!(names.len(), 2, "{names:?}");
    for name in &names {
        assert_file_name(name);
    }
    assert!(names[0].ends_with("_metrics-endpoint_1.rules"));
    // The files are valid rule files under these names.
    let files: Vec<(String, String)> = rels
        .iter()
        .flat_map(|r| rule_files(&views(std::slice::from_ref(r))).files)
        .collect();
    promtool_check_rules(&files);
}

#[test]
fn remote_write_senders_cannot_overwrite_each_other_or_a_scrape_relation() {
    let rels = [
        Rel::new("metrics-endpoint", 10, "node")
            .app_key("alert_rules", &rules_with_topology("m", "node"))
            .unit("node/0", &[]),
        // Same topology from two senders.
        Rel::new("receive-remote-write", 11, "a1")
            .app_key("alert_rules", &rules_with_topology("m", "agent"))
            .unit("a1/0", &[]),
        Rel::new("receive-remote-write", 12, "a2")
            .app_key("alert_rules", &rules_with_topology("m", "agent"))
            .unit("a2/0", &[]),
        // Topology chosen to spell the scrape relation's file name.
        Rel::new("receive-remote-write", 13, "evil")
            .app_key(
                "alert_rules",
                &rules_with_topology("m", "node_metrics-endpoint_10"),
            )
            .unit("evil/0", &[]),
    ];
    let mut names = names_of(&rels);
    assert_eq!(names.len(), 4);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.contains(&"juju_m_11112222_node_metrics-endpoint_10.rules".to_owned()));
}

fn arbitrary_identifier() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{0,12}",
        ".{0,40}",
        // Pieces of real file names, to aim at collisions.
        prop::collection::vec(
            prop::sample::select(vec![
                "_",
                "metrics-endpoint",
                "receive-remote-write",
                "1",
                "10",
                "m",
                ".rules",
                "/",
                "..",
                " ",
            ]),
            0..8
        )
        .prop_map(|v| v.concat()),
        (1usize..4000).prop_map(|n| "x".repeat(n)),
        (1usize..400).prop_map(|n| "é".repeat(n)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever identifiers the applications choose (topology or group names, any length and
    /// characters), each relation's file has its own bounded name of safe characters.
    #[test]
    fn rule_file_names_are_bounded_and_distinct(
        rels in prop::collection::vec(
            (0usize..2, 0u32..30, any::<bool>(), arbitrary_identifier(), arbitrary_identifier()),
            1..6),
    ) {
        let mut seen_ids = std::collections::BTreeSet::new();
        let built: Vec<Rel> = rels
            .iter()
            .filter(|(ep, id, ..)| seen_ids.insert((*ep, *id)))
            .map(|(ep, id, topo, a, b)| {
                let rules = if *topo { rules_with_topology(a, b) } else { rules_named(a) };
                Rel::new(ENDPOINTS[*ep], *id, "app")
                    .app_key("alert_rules", &rules)
                    .unit("app/0", &[])
            })
            .collect();
        let names = names_of(&built);
        for name in &names {
            assert_file_name(name);
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        prop_assert_eq!(unique.len(), names.len(), "{:?}", names);
    }

    #[test]
    fn rule_file_name_is_a_function_of_its_relation(
        a in arbitrary_identifier(), b in arbitrary_identifier(),
        ep_a in 0usize..2, ep_b in 0usize..2, id_a in any::<u32>(), id_b in any::<u32>(),
    ) {
        let x = rule_file_name(&a, ENDPOINTS[ep_a], id_a);
        let y = rule_file_name(&b, ENDPOINTS[ep_b], id_b);
        assert_file_name(&x);
        if (ep_a, id_a) != (ep_b, id_b) {
            prop_assert_ne!(x, y);
        }
    }
}

/// One wildcard job, three units: one with the given address, two good ones.
fn relation_with_address(address: &str) -> Rel {
    let meta = json!({"model": "m", "model_uuid": "12345678-0000-4000-8000-000000000000", "application": "app"});
    Rel::new("metrics-endpoint", 7, "app")
        .app_key(
            "scrape_jobs",
            &json!([{"job_name": "j", "static_configs": [{"targets": ["*:9100"]}]}]).to_string(),
        )
        .app_key("scrape_metadata", &meta.to_string())
        .unit_bag("app/0", scrape_unit("app/0", "10.0.0.1", "", ""))
        .unit_bag("app/1", scrape_unit("app/1", address, "", ""))
        .unit_bag(
            "app/2",
            scrape_unit("app/2", "app-2.app-endpoints.m.svc", "", ""),
        )
}

fn targets(jobs: &[serde_json::Map<String, Value>]) -> Vec<String> {
    jobs.iter()
        .flat_map(|j| j["static_configs"].as_array().cloned().unwrap_or_default())
        .flat_map(|sc| sc["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_unit_with_a_bad_address_costs_only_itself_and_is_named() {
    for bad in [
        "10.1.0.20/x",
        "10.1.0.20\nx",
        "host name",
        "a..b",
        "http://x",
        "x:80",
    ] {
        let rels = [relation_with_address(bad)];
        let out = scrape_jobs(&views(&rels));
        let t = targets(&out.job_maps());
        assert_eq!(
            t,
            ["10.0.0.1:9100", "app-2.app-endpoints.m.svc:9100"],
            "{bad:?}"
        );
        assert_eq!(
            out.per_app_errors.len(),
            1,
            "{bad:?}: {:?}",
            out.per_app_errors
        );
        let e = &out.per_app_errors[0];
        assert_eq!((e.relation_id, e.app.as_str()), (7, "app"));
        assert!(e.message.contains("app/1"), "{}", e.message);
        assert!(
            e.message.contains("prometheus_scrape_unit_address"),
            "{}",
            e.message
        );
    }
}

#[test]
fn a_unit_address_over_4_kib_is_reported() {
    let rels = [relation_with_address(&"a".repeat(5000))];
    let out = scrape_jobs(&views(&rels));
    assert_eq!(targets(&out.job_maps()).len(), 2);
    assert_eq!(out.per_app_errors.len(), 1, "{:?}", out.per_app_errors);
    let msg = &out.per_app_errors[0].message;
    assert!(msg.contains("app/1") && msg.contains("5000 bytes"), "{msg}");
    assert!(msg.len() < 400, "{msg}");
}

#[test]
fn ip_addresses_and_host_names_are_kept() {
    for good in [
        "10.1.0.20",
        "fd00::1",
        "[fd00::1]",
        "a-0.b_c.svc.cluster.local",
        "host.",
    ] {
        let rels = [relation_with_address(good)];
        let out = scrape_jobs(&views(&rels));
        assert!(
            out.per_app_errors.is_empty(),
            "{good}: {:?}",
            out.per_app_errors
        );
        assert_eq!(targets(&out.job_maps()).len(), 3, "{good}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any address: either the unit is scraped at a host Prometheus takes, or it is left out and
    /// named; the other units are scraped either way.
    #[test]
    fn any_unit_address_costs_at_most_that_unit(address in prop_oneof![
        ".{1,40}",
        "[0-9./:a-f\\[\\]]{1,30}",
        "[a-z0-9.\\-_]{1,300}",
    ]) {
        let rels = [relation_with_address(&address)];
        let out = scrape_jobs(&views(&rels));
        let t = targets(&out.job_maps());
        prop_assert!(t.contains(&"10.0.0.1:9100".to_owned()));
        prop_assert!(t.contains(&"app-2.app-endpoints.m.svc:9100".to_owned()));
        for target in &t {
            prop_assert!(!target.contains(['/', ' ', '\n', '\r', '\t', '@', '?', '#']), "{:?}", target);
        }
        match t.len() {
            3 => prop_assert!(out.per_app_errors.is_empty()),
            2 => {
                prop_assert_eq!(out.per_app_errors.len(), 1);
                prop_assert!(out.per_app_errors[0].message.contains("app/1"));
            }
            n => prop_assert!(false, "{} targets", n),
        }
    }
}

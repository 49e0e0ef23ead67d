//! Properties of the scrape consumer over generated relation data.

mod common;

use charm_interfaces::scrape::{scrape_jobs, scrape_jobs_with};
use common::{scrape_unit, views, Rel};
use proptest::prelude::*;
use serde_json::{json, Value};

fn job_strategy() -> impl Strategy<Value = Value> {
    let name = prop::option::of(prop::sample::select(vec!["a", "b", ""]));
    let path = prop::option::of(prop::sample::select(vec!["/m", "/x"]));
    let target = prop::sample::select(vec![
        "*:80",
        "*:81",
        "10.0.0.1:9",
        "[fd00::1]:9",
        "x.example:1",
        "203.0.113.1:5",
    ]);
    let sc = (
        prop::collection::vec(target, 0..4),
        prop::option::of(prop::sample::select(vec!["t1", "t2"])),
    );
    (name, path, prop::collection::vec(sc, 0..3)).prop_map(|(name, path, scs)| {
        let mut job = serde_json::Map::new();
        if let Some(n) = name {
            job.insert("job_name".into(), json!(n));
        }
        if let Some(p) = path {
            job.insert("metrics_path".into(), json!(p));
        }
        let scs: Vec<Value> = scs
            .into_iter()
            .map(|(targets, label)| match label {
                Some(l) => json!({"targets": targets, "labels": {"tier": l}}),
                None => json!({"targets": targets}),
            })
            .collect();
        job.insert("static_configs".into(), Value::Array(scs));
        Value::Object(job)
    })
}

fn relation(id: u32, with_meta: bool, jobs: &[Value], units: &[(u8, u8)]) -> Rel {
    let app = format!("app{id}");
    let mut rel = Rel::new("metrics-endpoint", id, &app)
        .app_key("scrape_jobs", &Value::Array(jobs.to_vec()).to_string());
    if with_meta {
        let meta = json!({"model": "m", "model_uuid": "12345678-0000-4000-8000-000000000000", "application": app});
        rel = rel.app_key("scrape_metadata", &meta.to_string());
    }
    for (n, addr) in units {
        let address = ["10.0.0.1", "fd00::1", "x.example", "10.0.0.2"][*addr as usize % 4];
        let name = format!("{app}/{n}");
        rel = rel.unit_bag(&name, scrape_unit(&name, address, "", ""));
    }
    rel
}

/// One to three relations: topology or not, jobs, unit number → address index.
fn relation_specs(
) -> impl Strategy<Value = Vec<(bool, Vec<Value>, std::collections::BTreeMap<u8, u8>)>> {
    prop::collection::vec(
        (
            any::<bool>(),
            prop::collection::vec(job_strategy(), 0..4),
            prop::collection::btree_map(0u8..4, 0u8..4, 0..4),
        ),
        1..4,
    )
}

/// Generated relations (topology or not, jobs, unit number → address index), numbered from 0.
fn relations(rels: &[(bool, Vec<Value>, std::collections::BTreeMap<u8, u8>)]) -> Vec<Rel> {
    rels.iter()
        .enumerate()
        .map(|(i, (meta, jobs, units))| {
            let units: Vec<(u8, u8)> = units.iter().map(|(k, v)| (*k, *v)).collect();
            relation(i as u32, *meta, jobs, &units)
        })
        .collect()
}

/// A job name without the `_<sha256>` a collision appends.
fn given_name(name: &str) -> &str {
    match name.rsplit_once('_') {
        Some((given, digest))
            if digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            given
        }
        _ => name,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn names_unique_deterministic_and_unit_order_free(
        rels in relation_specs(),
    ) {
        let built = relations(&rels);
        let out = scrape_jobs(&views(&built));
        let maps = out.job_maps();
        let mut names: Vec<&str> = maps.iter().map(|j| j["job_name"].as_str().unwrap()).collect();
        let total = names.len();
        names.sort_unstable();
        names.dedup();
        prop_assert_eq!(names.len(), total, "duplicate job names");
        prop_assert_eq!(&out, &scrape_jobs(&views(&built)));
        // Without explanations, everything else is the same.
        let unexplained = scrape_jobs_with(&views(&built), false);
        prop_assert!(unexplained.explanations.is_empty());
        prop_assert_eq!(out.explanations.iter().filter(|e| e.produced).count(), out.jobs.len());
        prop_assert_eq!(&unexplained, &charm_interfaces::scrape::ScrapeOutcome { explanations: Vec::new(), ..out.clone() });
        let reversed: Vec<Rel> = built
            .iter()
            .cloned()
            .map(|mut r| { r.units.reverse(); r })
            .collect();
        prop_assert_eq!(&out.job_maps(), &scrape_jobs(&views(&reversed)).job_maps());
        // Every sanitized job (pass-through ones are verbatim) has targets.
        for j in out.job_maps().iter().filter(|j| j.contains_key("fallback_scrape_protocol")) {
            let targets: usize = j["static_configs"].as_array().unwrap().iter()
                .map(|sc| sc["targets"].as_array().map_or(0, Vec::len)).sum();
            prop_assert!(targets > 0);
        }
    }

    #[test]
    fn a_relation_sharing_no_job_name_gets_the_jobs_it_gets_alone(
        rels in relation_specs(),
    ) {
        let built = relations(&rels);
        let all = views(&built);
        let out = scrape_jobs(&all);
        prop_assert_eq!(out.job_relations.len(), out.job_maps().len());
        for view in &all {
            let alone = scrape_jobs(std::slice::from_ref(view));
            let in_all: Vec<_> = out.job_maps().iter().zip(&out.job_relations)
                .filter(|(_, r)| **r == view.id)
                .map(|(j, _)| j.clone())
                .collect();
            if out.shared_names.contains(&view.id) {
                // Shared only if another relation really had one of its names, as given or
                // as renamed for a collision inside the relation (`<name>_<sha256>`): each
                // name is counted in both forms.
                let names = |jobs: &[serde_json::Map<String, Value>]| -> Vec<String> {
                    jobs.iter()
                        .map(|j| j["job_name"].as_str().unwrap_or("").to_owned())
                        .flat_map(|n| [given_name(&n).to_owned(), n])
                        .collect()
                };
                let own = names(&alone.job_maps());
                let others: Vec<String> = all.iter().filter(|v| v.id != view.id)
                    .flat_map(|v| names(&scrape_jobs(std::slice::from_ref(v)).job_maps()))
                    .collect();
                prop_assert!(own.iter().any(|n| others.contains(n)));
            } else {
                prop_assert_eq!(&in_all, &alone.job_maps());
            }
        }
    }

    #[test]
    fn arbitrary_databag_text_never_panics(jobs in ".{0,200}", meta in ".{0,80}", rules in ".{0,120}") {
        let rel = Rel::new("metrics-endpoint", 1, "x")
            .app_key("scrape_jobs", &jobs)
            .app_key("scrape_metadata", &meta)
            .app_key("alert_rules", &rules)
            .unit_bag("x/0", scrape_unit("x/0", "10.0.0.1", "", ""));
        let rels = [rel];
        let _ = scrape_jobs(&views(&rels));
        let _ = charm_interfaces::alert_rules::scrape_rule_files(&views(&rels));
    }
}

/// Found by the property above: three relations without topology, the middle one with two
/// jobs named `a`, renamed `a_<sha256>` inside it, each identical to the single `a` job of one
/// of the others, which the collision across relations renames to the same name and collapses
/// it into. Its jobs depend on the others, so it shares their names.
#[test]
fn a_relation_whose_renamed_jobs_collapse_into_others_shares_their_names() {
    let plain = json!({"job_name": "a", "static_configs": []});
    let with_path = json!({"job_name": "a", "metrics_path": "/m", "static_configs": []});
    let unit = std::collections::BTreeMap::from([(0u8, 0u8)]);
    let rels = relations(&[
        (false, vec![with_path.clone()], unit.clone()),
        (false, vec![plain.clone(), with_path], unit.clone()),
        (false, vec![plain], unit),
    ]);
    let out = scrape_jobs(&views(&rels));
    assert!(
        !out.job_relations.contains(&1),
        "collapsed into the others' jobs"
    );
    assert_eq!(
        out.shared_names,
        std::collections::BTreeSet::from([0, 1, 2])
    );
}

//! Scrape sharding through the whole charm (fake model with goal-state units, fake Pebble, real
//! promtool): the prometheus.yml each unit renders keeps a disjoint share of the relation and
//! inventory targets, the shares cover every target before and after rescaling, peer events
//! re-render, and goal-state is read only when sharding is on.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{add_scrape_app, pebble_ready, Charm};
use charm_harness::ModelState;
use charm_sim::charm_model_state;
use juju_hook::{GoalStateEntry, RelationEventKind};
use prometheus_rs_k8s::core::sharding::{hashmod, HASH_LABEL, REPLICA_LABEL};
use prometheus_rs_k8s::core::workload::{POLLER_JOB_NAME, SELF_JOB_NAME};
use serde_json::json;
use serde_yaml_ng::Value;

const APP: &str = "prometheus-rs-k8s";

/// 40 explicit `host:port` targets from one related application.
fn targets() -> Vec<String> {
    (0..40)
        .map(|i| format!("10.20.{}.{}:9100", i / 10, i % 10 + 1))
        .collect()
}

/// Unit `unit` of an application whose goal-state plans `planned`, sharding on.
fn unit(unit: u32, planned: &[u32]) -> Charm {
    let mut state = charm_model_state().unwrap();
    state.unit_number = unit;
    state.set_leader(unit == planned[0]);
    state.set_config("scrape_sharding", true).unwrap();
    plan(&mut state, planned);
    add_scrape_app(
        &mut state,
        "sensors",
        7,
        json!([{"job_name": "sensors", "static_configs": [{"targets": targets()}]}]),
        None,
    );
    let charm = Charm::with_state(state);
    charm.deploy();
    charm.assert_active();
    charm
}

fn plan(state: &mut ModelState, planned: &[u32]) {
    state.goal_units = planned
        .iter()
        .map(|n| {
            let entry = GoalStateEntry {
                status: "active".into(),
                since: None,
            };
            (format!("{APP}/{n}"), entry)
        })
        .collect();
}

/// The shard rules of one job: `(modulus, kept hash)`, `None` when the job is not sharded.
fn shard_rule(job: &Value) -> Option<(u64, u64)> {
    let rules = job["relabel_configs"].as_sequence()?;
    let hash = rules
        .iter()
        .find(|r| r["action"].as_str() == Some("hashmod"))?;
    assert_eq!(hash["source_labels"][0].as_str(), Some("__address__"));
    assert_eq!(hash["target_label"].as_str(), Some(HASH_LABEL));
    let keep = rules.last().unwrap();
    assert_eq!(
        keep["action"].as_str(),
        Some("keep"),
        "keep is the last rule"
    );
    assert_eq!(keep["source_labels"][0].as_str(), Some(HASH_LABEL));
    let regex: u64 = keep["regex"].as_str().unwrap().parse().unwrap();
    Some((hash["modulus"].as_u64().unwrap(), regex))
}

/// Targets this unit scrapes, per job, after its shard rules (evaluated like Prometheus).
fn scraped(charm: &Charm) -> BTreeMap<String, BTreeSet<String>> {
    let config = charm.config_value();
    let mut out = BTreeMap::new();
    for job in config["scrape_configs"].as_sequence().unwrap() {
        let name = job["job_name"].as_str().unwrap().to_string();
        let rule = shard_rule(job);
        if name == SELF_JOB_NAME || name == POLLER_JOB_NAME {
            assert_eq!(rule, None, "{name} is never sharded");
        }
        let kept: BTreeSet<String> = job["static_configs"]
            .as_sequence()
            .into_iter()
            .flatten()
            .flat_map(|sc| sc["targets"].as_sequence().cloned().unwrap_or_default())
            .map(|t| t.as_str().unwrap().to_string())
            .filter(|t| rule.is_none_or(|(m, keep)| hashmod(t, m) == keep))
            .collect();
        out.insert(name, kept);
    }
    out
}

/// The share of the related application's job.
fn sensors(jobs: &BTreeMap<String, BTreeSet<String>>) -> &BTreeSet<String> {
    let mut shares = jobs.iter().filter(|(name, _)| name.contains("sensors"));
    let (_, share) = shares.next().expect("a job for the related application");
    assert!(shares.next().is_none());
    share
}

/// Every unit of `planned` renders; their shares of `sensors` are disjoint and complete.
fn assert_partition(planned: &[u32]) {
    let all: BTreeSet<String> = targets().into_iter().collect();
    let mut union = BTreeSet::new();
    for (position, n) in planned.iter().enumerate() {
        let charm = unit(*n, planned);
        let config = charm.config_value();
        let jobs = scraped(&charm);
        let share = sensors(&jobs);
        if planned.len() >= 2 {
            let job = config["scrape_configs"]
                .as_sequence()
                .unwrap()
                .iter()
                .find(|j| j["job_name"].as_str().unwrap().contains("sensors"))
                .unwrap();
            assert_eq!(
                shard_rule(job),
                Some((planned.len() as u64, position as u64)),
                "unit {n} of {planned:?}"
            );
            assert!(share.len() < all.len(), "unit {n} of {planned:?} kept all");
        }
        assert_eq!(jobs[SELF_JOB_NAME].len(), 1, "every unit scrapes itself");
        for t in share {
            assert!(union.insert(t.clone()), "{t} scraped twice in {planned:?}");
        }
        // Shards: topology external labels, no replica label.
        let labels = &config["global"]["external_labels"];
        assert_eq!(labels["juju_application"].as_str(), Some(APP));
        assert!(labels.get(REPLICA_LABEL).is_none());
    }
    assert_eq!(union, all, "the shares of {planned:?} cover every target");
}

#[test]
fn shares_partition_the_targets_for_1_2_3_and_5_units() {
    for n in [1u32, 2, 3, 5] {
        let planned: Vec<u32> = (0..n).collect();
        assert_partition(&planned);
    }
}

#[test]
fn shares_partition_the_targets_after_units_come_and_go() {
    // Scaled down from 0..5 by removing units 1 and 4, then up again with new numbers.
    assert_partition(&[0, 2, 3]);
    assert_partition(&[0, 2, 3, 5, 6]);
}

#[test]
fn peer_departure_rerenders_with_the_new_unit_count() {
    let charm = unit(2, &[0, 1, 2]);
    let before = sensors(&scraped(&charm)).clone();

    let departed = {
        let mut m = charm.sim.juju.state();
        let peers = m.add_relation("prometheus-peers", APP);
        m.add_remote_unit(&peers, &format!("{APP}/0"));
        m.add_remote_unit(&peers, &format!("{APP}/1"));
        plan(&mut m, &[0, 2]);
        m.relation_event(
            &peers,
            RelationEventKind::Departed,
            Some(&format!("{APP}/1")),
        )
    };
    charm.ok(&departed);
    charm.assert_active();
    let after = sensors(&scraped(&charm)).clone();
    assert_ne!(before, after);
    let expected: BTreeSet<String> = targets()
        .into_iter()
        .filter(|t| hashmod(t, 2) == 1)
        .collect();
    assert_eq!(after, expected, "unit 2 is now the second of two");
}

#[test]
fn goal_state_is_read_only_when_sharding_is_on() {
    let mut state = charm_model_state().unwrap();
    state.set_leader(true);
    state.set_planned_units(3);
    add_scrape_app(
        &mut state,
        "sensors",
        7,
        json!([{"static_configs": [{"targets": targets()}]}]),
        None,
    );
    let charm = Charm::with_state(state);
    charm.deploy();
    assert_eq!(charm.sim.juju.state().call_count("goal-state"), 0);
    assert!(charm.config_value()["global"]
        .get("external_labels")
        .is_none());

    charm.configure("scrape_sharding", true);
    assert_eq!(charm.sim.juju.state().call_count("goal-state"), 1);
    charm.ok(&pebble_ready());
    assert_eq!(charm.sim.juju.state().call_count("goal-state"), 2);
    assert!(charm.config_yaml().contains("hashmod"));

    charm.configure("scrape_sharding", false);
    assert_eq!(charm.sim.juju.state().call_count("goal-state"), 2);
    assert!(!charm.config_yaml().contains("hashmod"));
}

#[test]
fn replicas_sending_remote_write_are_labelled_for_deduplication() {
    let mut state = charm_model_state().unwrap();
    state.unit_number = 1;
    let rel = state.add_relation("send-remote-write", "mimir");
    state.add_remote_unit(&rel, "mimir/0");
    let data = juju_hook::RelationData::from([(
        "remote_write".to_string(),
        json!({"url": "http://mimir-0.mimir:8080/api/v1/push"}).to_string(),
    )]);
    state.set_remote_unit_data(&rel, "mimir/0", &data);
    let am = state.add_relation("alertmanager", "alertmanager");
    state.add_remote_unit(&am, "alertmanager/0");
    let am_data = juju_hook::RelationData::from([(
        "public_address".to_string(),
        "alertmanager-0.alertmanager:9093".to_string(),
    )]);
    state.set_remote_unit_data(&am, "alertmanager/0", &am_data);
    let charm = Charm::with_state(state);
    charm.deploy();
    charm.assert_active();
    let config = charm.config_value();
    let labels = &config["global"]["external_labels"];
    assert_eq!(labels[REPLICA_LABEL].as_str(), Some("prometheus-rs-k8s/1"));
    let uuid = charm.sim.juju.state().model_uuid.clone();
    assert_eq!(
        labels["cluster"].as_str(),
        Some(format!("{uuid}/{APP}").as_str())
    );
    // Alertmanager gets one alert for all replicas: the replica label is dropped from alerts.
    assert_eq!(
        config["alerting"]["alert_relabel_configs"][0],
        serde_yaml_ng::from_str::<Value>("{action: labeldrop, regex: __replica__}").unwrap()
    );
    assert!(!charm.config_yaml().contains("hashmod"));
    assert_eq!(charm.sim.juju.state().call_count("goal-state"), 0);
}

#[test]
fn sharded_config_snapshot() {
    let charm = unit(1, &[0, 1, 2]);
    let yaml = charm.config_yaml();
    let uuid = charm.sim.juju.state().model_uuid.clone();
    insta::assert_snapshot!(yaml.replace(&uuid, "<model-uuid>"));
}

#[test]
fn render_of_a_snapshot_uses_its_planned_units() {
    let snapshot: prometheus_rs_k8s::core::model::ModelSnapshot = serde_json::from_value(json!({
        "leader": false,
        "model": {"name": "cos", "uuid": "00000000-0000-4000-8000-000000000000"},
        "app_name": "prom", "unit_id": 4, "fqdn": "prom-4.prom-endpoints.cos.svc.cluster.local",
        "config": {"scrape_sharding": true, "inventory_url": "http://inventory:1337/hosts"},
        "planned_unit_numbers": [0, 4, 9],
    }))
    .unwrap();
    let out = prometheus_rs_k8s::cli::render::render_snapshot(&snapshot).unwrap();
    let yaml: Value =
        serde_yaml_ng::from_str(&out.files["/etc/prometheus/prometheus.yml"]).unwrap();
    let inventory = yaml["scrape_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|j| j["job_name"].as_str() == Some("inventory"))
        .unwrap();
    assert_eq!(
        shard_rule(inventory),
        Some((3, 1)),
        "unit 4 is the second of 0, 4, 9"
    );
}

#[test]
fn the_leader_forwards_alert_rules_on_send_remote_write_for_every_planned_unit() {
    for leader in [true, false] {
        let mut state = charm_model_state().unwrap();
        state.set_leader(leader);
        state.set_config("scrape_sharding", true).unwrap();
        state.set_planned_units(3);
        let rel = state.add_relation("send-remote-write", "mimir");
        state.add_remote_unit(&rel, "mimir/0");
        let data = juju_hook::RelationData::from([(
            "remote_write".to_string(),
            json!({"url": "http://mimir-0.mimir:8080/api/v1/push"}).to_string(),
        )]);
        state.set_remote_unit_data(&rel, "mimir/0", &data);
        let charm = Charm::with_state(state);
        charm.deploy();
        charm.assert_active();
        let bag = charm.local_app_data(&rel);
        if !leader {
            assert!(bag.is_empty(), "only the leader writes app data: {bag:?}");
            continue;
        }
        let rules: serde_json::Value = serde_json::from_str(&bag["alert_rules"]).unwrap();
        let aggregator = rules["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| {
                g["name"]
                    .as_str()
                    .unwrap()
                    .ends_with("_prometheus_rs_k8s_AggregatorHostHealth_rules")
            })
            .expect("the aggregator group");
        let units: BTreeSet<&str> = aggregator["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["labels"]["juju_unit"].as_str())
            .collect();
        let expected: BTreeSet<String> = (0..3).map(|n| format!("{APP}/{n}")).collect();
        assert_eq!(
            units,
            expected.iter().map(String::as_str).collect::<BTreeSet<_>>()
        );
    }
}

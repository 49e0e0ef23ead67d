//! Scrape sharding across the units of the application, and the external labels that mark
//! this Prometheus' series once they leave it (remote write).
//!
//! With `scrape_sharding` on, unit `i` of `N` planned units (its position among the planned
//! units ordered by unit number) keeps only the targets whose Prometheus `hashmod` of
//! `__address__` modulo `N` is `i`. The units then scrape disjoint sets whose union is every
//! target. The charm's own loopback jobs (Prometheus itself, the inventory poller) are never
//! sharded: each unit has its own.
//!
//! External labels, the choice made for a remote receiver such as Mimir:
//! - Always `juju_model`, `juju_model_uuid` and `juju_application` of this Prometheus (added
//!   by Prometheus only to series that lack them, so relation targets keep their own topology).
//! - Sharded: nothing per unit. Shards hold disjoint series, so no label is needed to keep
//!   them apart, and a target that moves to another unit when the application is rescaled
//!   keeps its series identity at the receiver instead of starting a new one.
//! - Not sharded, more than one unit possible: every unit scrapes every target, so the units
//!   are HA replicas. `cluster` (`<model uuid>/<application>`) and `__replica__` (the unit
//!   name) are Mimir's HA-tracker convention: Mimir keeps one replica's samples per cluster
//!   (the tracker drops `__replica__`); without the tracker the copies stay distinct series
//!   instead of colliding. Alerts drop `__replica__` so Alertmanager deduplicates them.

use std::collections::BTreeMap;

use md5::{Digest, Md5};
use serde_json::{json, Value};

use crate::core::model::Topology;
use crate::core::version::PrometheusVersion;

/// Label the hash is written to (dropped by Prometheus after relabelling: `__tmp_` prefix).
pub const HASH_LABEL: &str = "__tmp_hash";
/// Mimir's HA-tracker replica label.
pub const REPLICA_LABEL: &str = "__replica__";
/// Mimir's HA-tracker cluster label.
pub const CLUSTER_LABEL: &str = "cluster";
/// Targets dropped by the shard rules that a sharded job keeps in memory for the targets page.
///
/// Every unit discovers every target and drops the others' shares; without a bound Prometheus
/// keeps all of them (a 100k-target inventory on 5 units: 80k dropped targets per unit).
pub const KEEP_DROPPED_TARGETS: u64 = 100;
/// First Prometheus release that knows `keep_dropped_targets` (older ones reject the key).
pub const KEEP_DROPPED_TARGETS_SINCE: PrometheusVersion = PrometheusVersion::new(2, 47, 0);

/// This unit's share of the targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    /// Position of this unit among the planned units ordered by unit number (`0..count`).
    pub index: u32,
    /// Number of planned units (≥ 2: with one unit there is nothing to split).
    pub count: u32,
}

/// The shard of unit `unit` given the planned unit numbers (any order, duplicates ignored).
///
/// `None` (scrape everything) when fewer than two units are planned, or when this unit is not
/// planned any more (dying): it keeps scraping everything until it is gone, so that no target
/// goes unscraped while the others take over its share.
pub fn shard_for(unit: u32, planned: &[u32]) -> Option<Shard> {
    let mut units = planned.to_vec();
    units.sort_unstable();
    units.dedup();
    let index = units.iter().position(|u| *u == unit)?;
    let count = units.len();
    (count >= 2).then(|| Shard {
        index: u32::try_from(index).expect("fewer than 2^32 units"),
        count: u32::try_from(count).expect("fewer than 2^32 units"),
    })
}

/// Prometheus' `hashmod` relabel action: MD5 of the (joined) source label values, the last 8
/// bytes of the digest read as a big-endian `u64`, modulo `modulus`.
pub fn hashmod(value: &str, modulus: u64) -> u64 {
    let digest = Md5::digest(value.as_bytes());
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&digest[8..]);
    u64::from_be_bytes(tail) % modulus
}

/// The two relabel rules that keep this shard's targets, to append after a job's own rules
/// (so the hash is taken over the final address).
pub fn relabel_rules(shard: Shard) -> [Value; 2] {
    [
        json!({
            "source_labels": ["__address__"],
            "modulus": shard.count,
            "target_label": HASH_LABEL,
            "action": "hashmod",
        }),
        json!({
            "source_labels": [HASH_LABEL],
            "regex": shard.index.to_string(),
            "action": "keep",
        }),
    ]
}

/// Appends the shard's rules to every job in `jobs` whose `job_name` is not in `exempt`, and
/// bounds the dropped targets kept ([`KEEP_DROPPED_TARGETS`]) where `version` supports it and
/// the job sets no bound of its own.
pub fn shard_jobs(jobs: &mut [Value], shard: Shard, exempt: &[&str], version: PrometheusVersion) {
    for job in jobs {
        let Some(map) = job.as_object_mut() else {
            continue;
        };
        let name = map.get("job_name").and_then(Value::as_str).unwrap_or("");
        if exempt.contains(&name) {
            continue;
        }
        let rules = map
            .entry("relabel_configs")
            .or_insert_with(|| Value::Array(Vec::new()));
        if !rules.is_array() {
            // Not a list: Prometheus would reject the job anyway; make it one.
            *rules = Value::Array(Vec::new());
        }
        if let Value::Array(rules) = rules {
            rules.extend(relabel_rules(shard));
        }
        if version >= KEEP_DROPPED_TARGETS_SINCE {
            map.entry("keep_dropped_targets")
                .or_insert(json!(KEEP_DROPPED_TARGETS));
        }
    }
}

/// `global.external_labels` for this unit (see the module documentation for the choice).
pub fn external_labels(topology: &Topology, sharded: bool) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        ("juju_model".to_owned(), topology.model.clone()),
        ("juju_model_uuid".to_owned(), topology.model_uuid.clone()),
        ("juju_application".to_owned(), topology.application.clone()),
    ]);
    if !sharded {
        labels.insert(
            CLUSTER_LABEL.to_owned(),
            format!("{}/{}", topology.model_uuid, topology.application),
        );
        labels.insert(REPLICA_LABEL.to_owned(), topology.unit.clone());
    }
    labels
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn hashmod_matches_prometheus() {
        // md5("") = d41d8cd98f00b204e9800998ecf8427e: last 8 bytes e9800998ecf8427e.
        assert_eq!(hashmod("", 1_000_003), 0xe980_0998_ecf8_427e % 1_000_003);
        // md5("abc") = 900150983cd24fb0d6963f7d28e17f72.
        assert_eq!(hashmod("abc", 1 << 40), 0xd696_3f7d_28e1_7f72 % (1 << 40));
        assert_eq!(hashmod("abc", 1), 0);
    }

    #[test]
    fn shard_is_position_among_planned_units() {
        assert_eq!(
            shard_for(7, &[12, 3, 7]),
            Some(Shard { index: 1, count: 3 })
        );
        assert_eq!(
            shard_for(12, &[12, 3, 7, 3]),
            Some(Shard { index: 2, count: 3 })
        );
        assert_eq!(shard_for(0, &[0]), None, "one unit: nothing to split");
        assert_eq!(shard_for(0, &[]), None);
        assert_eq!(
            shard_for(4, &[1, 2]),
            None,
            "a dying unit scrapes everything"
        );
    }

    #[test]
    fn shards_are_disjoint_and_complete() {
        let targets: Vec<String> = (0..500)
            .map(|i| format!("10.0.{}.{}:9100", i / 200, i % 200))
            .collect();
        for count in [2u32, 3, 5] {
            let planned: Vec<u32> = (0..count).collect();
            let mut seen = BTreeSet::new();
            for unit in &planned {
                let shard = shard_for(*unit, &planned).unwrap();
                let kept = targets
                    .iter()
                    .filter(|t| hashmod(t, u64::from(shard.count)) == u64::from(shard.index));
                for target in kept {
                    assert!(seen.insert(target.clone()), "{target} kept twice");
                }
            }
            assert_eq!(seen.len(), targets.len(), "N={count}: every target kept");
        }
    }

    #[test]
    fn rules_are_appended_except_to_exempt_jobs() {
        let mut jobs = vec![
            json!({"job_name": "prometheus"}),
            json!({"job_name": "a", "relabel_configs": [{"action": "labeldrop", "regex": "x"}]}),
            json!({"job_name": "b"}),
        ];
        shard_jobs(
            &mut jobs,
            Shard { index: 1, count: 3 },
            &["prometheus"],
            PrometheusVersion::new(2, 42, 0),
        );
        assert!(jobs[0].get("relabel_configs").is_none());
        assert!(jobs.iter().all(|j| j.get("keep_dropped_targets").is_none()));
        let a = jobs[1]["relabel_configs"].as_array().unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a[0]["action"], "labeldrop");
        assert_eq!(a[1]["action"], "hashmod");
        assert_eq!(a[1]["modulus"], 3);
        assert_eq!(a[2]["regex"], "1");
        assert_eq!(a[2]["source_labels"], json!([HASH_LABEL]));
        assert_eq!(jobs[2]["relabel_configs"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn dropped_targets_are_bounded_where_prometheus_knows_how() {
        let mut jobs = vec![
            json!({"job_name": "prometheus"}),
            json!({"job_name": "a"}),
            json!({"job_name": "b", "keep_dropped_targets": 7}),
        ];
        let shard = Shard { index: 0, count: 2 };
        shard_jobs(
            &mut jobs,
            shard,
            &["prometheus"],
            PrometheusVersion::new(3, 0, 0),
        );
        assert!(jobs[0].get("keep_dropped_targets").is_none());
        assert_eq!(jobs[1]["keep_dropped_targets"], KEEP_DROPPED_TARGETS);
        assert_eq!(
            jobs[2]["keep_dropped_targets"], 7,
            "the job's own bound wins"
        );
    }

    #[test]
    fn replicas_get_cluster_and_replica_shards_do_not() {
        let t = Topology {
            model: "m".into(),
            model_uuid: "u".into(),
            application: "p".into(),
            unit: "p/1".into(),
            charm_name: String::new(),
        };
        let sharded = external_labels(&t, true);
        assert_eq!(
            sharded.keys().collect::<Vec<_>>(),
            ["juju_application", "juju_model", "juju_model_uuid"]
        );
        let replicas = external_labels(&t, false);
        assert_eq!(replicas[REPLICA_LABEL], "p/1");
        assert_eq!(replicas[CLUSTER_LABEL], "u/p");
    }
}

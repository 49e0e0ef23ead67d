//! What a `metrics-endpoint` relation adds to the workload besides its jobs' targets: its
//! **shape**. A relation event that leaves the shape as the last apply recorded it (a unit
//! moved, a unit of a static job came or went) changes only that relation's target files, which
//! Prometheus fetches over `http_sd` without a reload; the hook can then leave the other
//! relations, prometheus.yml, the rules and promtool alone (see
//! `crate::hook::targets_shortcut`).
//!
//! That holds only for a relation whose jobs are its own: **isolated** (no job name another
//! relation or one of the charm's own jobs also has, so no job of it is renamed, collapsed or
//! reordered because of others) and with a job name on every job. Everything else of
//! prometheus.yml that a relation job becomes (TLS, version keys, sharding) follows from the
//! job and from inputs the hook's fingerprint covers.
//!
//! The full path ([`crate::core::desired::compute`]) and the shortcut
//! ([`relation_alone`]) take the shape with the same function, [`shape_digest`].
//!
//! With Prometheus ≥ 2.43 an isolated relation's jobs are in a file of their own
//! (`scrape_config_files`), so an event that changes only its jobs (a unit of a wildcard job
//! joined or departed: a job per unit) rewrites and checks that file alone, as long as its
//! errors and rules ([`rest_digest`]) are as recorded and its new job names are held by no other
//! relation ([`JobNames`]).

use std::collections::{BTreeMap, BTreeSet};

use charm_interfaces::alert_rules::{self, RulesOutcome};
use charm_interfaces::scrape::{self, AppError, ScrapeJob, ScrapeOutcome};
use foldhash::{HashMap, HashMapExt};
use juju_hook::RelationId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::core::desired::RelationWrite;
use crate::core::desired_workload::WebTls;
use crate::core::model::RelationSnapshot;
use crate::core::prometheus_config::relation_targets::{self, TargetFile};
use crate::core::prometheus_config::JobsContext;

/// An isolated relation's shape as the full path computed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationShape {
    /// The relation.
    pub relation: RelationId,
    /// [`shape_digest`] of its jobs, errors and rules.
    pub shape: String,
    /// [`rest_digest`] of its errors and rules.
    pub rest: String,
    /// The names of its jobs' target files (in the targets directory).
    pub target_files: Vec<String>,
    /// Its job file, relative to the config file, when its jobs have one.
    pub jobs_file: Option<String>,
}

/// An isolated relation computed alone, for the shortcut.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationAlone {
    /// [`shape_digest`] of its jobs, errors and rules.
    pub shape: String,
    /// [`rest_digest`] of its errors and rules.
    pub rest: String,
    /// Its jobs, as the full path would have them.
    pub jobs: Vec<ScrapeJob>,
    /// Whether it renamed jobs of its own that collided: the names they had before then
    /// count for its isolation too (`ScrapeOutcome::given_names`).
    pub renamed_within: bool,
    /// The feedback the leader would write to it (`None` when there is nothing to write).
    pub feedback: Option<RelationWrite>,
}

impl RelationAlone {
    /// Its jobs' target files, served from `targets_url`.
    pub fn target_files(&self, targets_url: &str) -> Vec<TargetFile> {
        self.jobs
            .iter()
            .filter_map(|job| {
                let mut job = job.clone();
                let name = job.name()?.to_owned();
                relation_targets::serve_over_http(&mut job, &name, targets_url)
            })
            .collect()
    }

    /// Its job names.
    pub fn job_names(&self) -> impl Iterator<Item = &str> {
        self.jobs.iter().map(job_name)
    }
}

/// A digest of one relation's rule files and rule errors.
pub fn rules_digest(rules: &RulesOutcome) -> String {
    let mut hasher = Sha256::new();
    serde_json::to_writer(&mut hasher, &(&rules.files, &rules.per_app_errors))
        .expect("rules serialise");
    hex::encode(hasher.finalize())
}

/// What a relation adds besides its jobs: its scrape errors and the [`rules_digest`] of its
/// rules.
pub fn rest_digest<'a>(
    errors: impl IntoIterator<Item = &'a AppError>,
    rules_digest: &str,
) -> String {
    let mut hasher = Sha256::new();
    for error in errors {
        serde_json::to_writer(&mut hasher, error).expect("an error serialises");
    }
    hasher.update(rules_digest.as_bytes());
    hex::encode(hasher.finalize())
}

/// The shape of a relation: its jobs (with the targets that move to a target file left out,
/// and whether they moved) and the [`rest_digest`] of its errors and rules.
pub fn shape_digest<'a>(jobs: impl IntoIterator<Item = &'a ScrapeJob>, rest: &str) -> String {
    let mut hasher = Sha256::new();
    // Each job is encoded into one buffer and hashed at once.
    let mut bytes = Vec::new();
    for job in jobs {
        let served = relation_targets::scrape_job_moves_to_a_file(job);
        bytes.clear();
        job.encode_for_digest(served.then_some("static_configs"), &mut bytes);
        bytes.extend_from_slice(if served { b"\nserved\n" } else { b"\ninline\n" });
        hasher.update(&bytes);
    }
    hasher.update(rest.as_bytes());
    hex::encode(hasher.finalize())
}

/// The shapes of the isolated relations of a full computation: `scrape` is the outcome for
/// every `metrics-endpoint` relation, `rules` each relation's [`rules_digest`], `reserved` the
/// charm's own job names.
pub fn isolated_shapes(
    endpoint: &str,
    relation_ids: &[u32],
    scrape: &ScrapeOutcome,
    rules: &BTreeMap<u32, String>,
    reserved: &BTreeSet<String>,
) -> Vec<RelationShape> {
    let mut uses: HashMap<&str, usize> = HashMap::with_capacity(scrape.jobs.len());
    for job in &scrape.jobs {
        *uses.entry(job_name(job)).or_default() += 1;
    }
    let mut jobs_of: BTreeMap<u32, Vec<&ScrapeJob>> = BTreeMap::new();
    for (job, relation) in scrape.jobs.iter().zip(&scrape.job_relations) {
        jobs_of.entry(*relation).or_default().push(job);
    }
    let no_jobs = Vec::new();
    let candidates: Vec<u32> = relation_ids
        .iter()
        .copied()
        .filter(|id| !scrape.shared_names.contains(id))
        .collect();
    // Digesting each relation's jobs is most of this: on several threads in a large model.
    charm_interfaces::parallel::map(candidates, |id| {
        let jobs = jobs_of.get(&id).unwrap_or(&no_jobs);
        let isolated = jobs.iter().all(|job| {
            let name = job_name(job);
            !name.is_empty() && uses.get(name) == Some(&1) && !reserved.contains(name)
        });
        isolated.then(|| {
            let rest = rest_digest(
                scrape.per_app_errors.iter().filter(|e| e.relation_id == id),
                rules.get(&id).map_or("", String::as_str),
            );
            RelationShape {
                relation: RelationId::new(endpoint, id),
                shape: shape_digest(jobs.iter().copied(), &rest),
                rest,
                target_files: jobs
                    .iter()
                    .filter(|job| relation_targets::scrape_job_moves_to_a_file(job))
                    .map(|job| relation_targets::file_name(job_name(job)))
                    .collect(),
                jobs_file: None,
            }
        })
    })
    .into_iter()
    .flatten()
    .collect()
}

/// One relation computed alone, as the full path would see it were it isolated: `None` when
/// it is not isolated on its own (a job without a name or with a reserved one). `leader`
/// decides whether feedback is written.
pub fn relation_alone(
    rel: &RelationSnapshot,
    leader: bool,
    reserved: &BTreeSet<String>,
) -> Option<RelationAlone> {
    let view = crate::core::desired::view(rel);
    let views = std::slice::from_ref(&view);
    let scrape = scrape::scrape_jobs_with(views, false);
    let rules = alert_rules::scrape_rule_files(views);
    let mut names = BTreeSet::new();
    for job in &scrape.jobs {
        let name = job_name(job);
        if name.is_empty() || reserved.contains(name) || !names.insert(name) {
            return None;
        }
    }
    let rest = rest_digest(&scrape.per_app_errors, &rules_digest(&rules));
    let shape = shape_digest(&scrape.jobs, &rest);
    let feedback = leader
        .then(|| {
            let wanted = scrape::feedback::event_feedback(
                &[rel.id],
                &scrape.per_app_errors,
                &rules.per_app_errors,
            );
            let mut writes = Vec::new();
            if let Some(wanted) = wanted.get(&rel.id) {
                crate::core::desired::push_write(&mut writes, rel, true, wanted);
            }
            writes.pop()
        })
        .flatten();
    Some(RelationAlone {
        shape,
        rest,
        jobs: scrape.jobs,
        renamed_within: !scrape.given_names.is_empty(),
        feedback,
    })
}

/// Every relation job name of an apply, as the keys of their SHA-256 (first 8 bytes) with
/// the relation holding it, sorted: the names a relation's new jobs must not take for the
/// relation to stay isolated. Besides the final names, the names that relations renaming their
/// own collisions gave (see `ScrapeOutcome::given_names`). Two names sharing a key only make
/// a hook take the full path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobNames(Vec<(u64, u32)>);

impl JobNames {
    /// The names of a full computation's relation jobs.
    pub fn of(scrape: &ScrapeOutcome) -> JobNames {
        let names: Vec<(&str, u32)> = scrape
            .jobs
            .iter()
            .map(job_name)
            .zip(scrape.job_relations.iter().copied())
            .chain(
                scrape
                    .given_names
                    .iter()
                    .map(|(name, relation)| (name.as_str(), *relation)),
            )
            .collect();
        // A digest per job: on several threads in a large model.
        let mut entries =
            charm_interfaces::parallel::map(names, |(name, relation)| (name_key(name), relation));
        entries.sort_unstable();
        entries.dedup();
        JobNames(entries)
    }

    /// Whether a relation other than `relation` holds one of the names of `keys`
    /// ([`JobNames::keys`]).
    pub fn held_by_another(&self, relation: u32, keys: &[u64]) -> bool {
        keys.iter().any(|&key| {
            let start = self.0.partition_point(|(k, _)| *k < key);
            self.0[start..]
                .iter()
                .take_while(|(k, _)| *k == key)
                .any(|(_, holder)| *holder != relation)
        })
    }

    /// These names with `relation`'s replaced by `names` (see [`JobNames::replace_relations`]).
    pub fn with_relation<'a>(
        mut self,
        relation: u32,
        names: impl Iterator<Item = &'a str>,
    ) -> JobNames {
        self.replace_relations(&BTreeMap::from([(relation, names.map(name_key).collect())]));
        self
    }

    /// Replaces the names of each relation of `replaced` by its keys ([`JobNames::keys`]):
    /// one pass over the names, whatever the number of relations replaced (replayed a
    /// journal line at a time, each line had rewritten every name: quadratic in a burst of
    /// joins).
    pub fn replace_relations(&mut self, replaced: &BTreeMap<u32, Vec<u64>>) {
        if replaced.is_empty() {
            return;
        }
        let mut added: Vec<(u64, u32)> = replaced
            .iter()
            .flat_map(|(relation, keys)| keys.iter().map(|key| (*key, *relation)))
            .collect();
        added.sort_unstable();
        added.dedup();
        let kept = std::mem::take(&mut self.0)
            .into_iter()
            .filter(|(_, holder)| !replaced.contains_key(holder));
        let mut merged = Vec::with_capacity(kept.size_hint().1.unwrap_or(0) + added.len());
        let mut added = added.into_iter().peekable();
        for entry in kept {
            while let Some(new) = added.next_if(|new| *new < entry) {
                merged.push(new);
            }
            merged.push(entry);
        }
        merged.extend(added);
        self.0 = merged;
    }

    /// The keys `names` are held by.
    pub fn keys<'a>(names: impl Iterator<Item = &'a str>) -> Vec<u64> {
        names.map(name_key).collect()
    }

    /// As stored: 12 bytes per name (key, relation; little-endian).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.0.len() * 12);
        for (key, relation) in &self.0 {
            bytes.extend_from_slice(&key.to_le_bytes());
            bytes.extend_from_slice(&relation.to_le_bytes());
        }
        bytes
    }

    /// From [`Self::to_bytes`]; `None` for bytes it did not write.
    pub fn from_bytes(bytes: &[u8]) -> Option<JobNames> {
        if !bytes.len().is_multiple_of(12) {
            return None;
        }
        let entries: Vec<(u64, u32)> = bytes
            .chunks_exact(12)
            .map(|c| {
                let key = u64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
                let relation = u32::from_le_bytes(c[8..].try_into().expect("4 bytes"));
                (key, relation)
            })
            .collect();
        entries.is_sorted().then_some(JobNames(entries))
    }
}

fn name_key(name: &str) -> u64 {
    let digest = Sha256::digest(name.as_bytes());
    u64::from_le_bytes(digest[..8].try_into().expect("a SHA-256 has 8 bytes"))
}

fn job_name(job: &ScrapeJob) -> &str {
    job.name().unwrap_or("")
}

/// What a full apply that gave isolated relations job files of their own leaves for a later
/// hook that changes one of them alone: how their jobs were finished and checked, and how
/// Prometheus is reloaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobsBasis {
    /// How every relation job was finished.
    pub context: JobsContext,
    /// Whether rendering renamed or dropped a relation job left in prometheus.yml: the names
    /// it chose depend on every other name, so no relation's jobs may change alone.
    pub inline_renames: bool,
    /// Prometheus serves HTTPS: how the reload reaches it.
    pub web_tls: Option<WebTls>,
    /// How long a reload may take.
    pub reload_timeout: std::time::Duration,
    /// Every relation job name (stored on its own, see [`JobNames::to_bytes`]).
    #[serde(skip)]
    pub names: JobNames,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `with_relation` means: the other relations' names and the new ones, sorted.
    fn replaced_by_sorting(names: &JobNames, relation: u32, new: &[String]) -> JobNames {
        let mut entries: Vec<(u64, u32)> = (names.0.iter().copied())
            .filter(|(_, holder)| *holder != relation)
            .chain(new.iter().map(|name| (name_key(name), relation)))
            .collect();
        entries.sort_unstable();
        entries.dedup();
        JobNames(entries)
    }

    proptest::proptest! {
        #[test]
        fn replacing_a_relations_names_merges_them_in_sorted(
            held in proptest::collection::vec(("[a-d]{1,2}", 0u32..4), 0..40),
            relation in 0u32..4,
            new in proptest::collection::vec("[a-d]{1,2}", 0..8),
        ) {
            let mut entries: Vec<(u64, u32)> =
                held.iter().map(|(name, holder)| (name_key(name), *holder)).collect();
            entries.sort_unstable();
            entries.dedup();
            let names = JobNames(entries);
            let expected = replaced_by_sorting(&names, relation, &new);
            let merged = names.with_relation(relation, new.iter().map(String::as_str));
            proptest::prop_assert!(merged.0.is_sorted());
            proptest::prop_assert_eq!(merged, expected);
        }

        /// Several relations replaced at once are those relations replaced one by one.
        #[test]
        fn replacing_several_relations_at_once_is_replacing_each_in_turn(
            held in proptest::collection::vec(("[a-d]{1,2}", 0u32..4), 0..40),
            replaced in proptest::collection::btree_map(
                0u32..6,
                proptest::collection::vec("[a-d]{1,2}", 0..8),
                0..4,
            ),
        ) {
            let mut entries: Vec<(u64, u32)> =
                held.iter().map(|(name, holder)| (name_key(name), *holder)).collect();
            entries.sort_unstable();
            entries.dedup();
            let names = JobNames(entries);
            let expected = replaced
                .iter()
                .fold(names.clone(), |names, (relation, new)| {
                    replaced_by_sorting(&names, *relation, new)
                });
            let keys = replaced
                .iter()
                .map(|(relation, new)| (*relation, JobNames::keys(new.iter().map(String::as_str))))
                .collect();
            let mut merged = names;
            merged.replace_relations(&keys);
            proptest::prop_assert!(merged.0.is_sorted());
            proptest::prop_assert_eq!(merged, expected);
        }
    }
}

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

use std::collections::{BTreeMap, BTreeSet};

use charm_interfaces::alert_rules::{self, RulesOutcome};
use charm_interfaces::scrape::{self, AppError, ScrapeJob, ScrapeOutcome};
use foldhash::{HashMap, HashMapExt};
use juju_hook::RelationId;
use sha2::{Digest, Sha256};

use crate::core::desired::RelationWrite;
use crate::core::model::RelationSnapshot;
use crate::core::prometheus_config::relation_targets::{self, TargetFile};

/// An isolated relation's shape as the full path computed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationShape {
    /// The relation.
    pub relation: RelationId,
    /// [`shape_digest`] of its jobs, errors and rules.
    pub shape: String,
    /// The names of its jobs' target files (in the targets directory).
    pub target_files: Vec<String>,
}

/// An isolated relation computed alone, for the shortcut.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationAlone {
    /// [`shape_digest`] of its jobs, errors and rules.
    pub shape: String,
    /// Its jobs' target files.
    pub target_files: Vec<TargetFile>,
    /// The feedback the leader would write to it (`None` when there is nothing to write).
    pub feedback: Option<RelationWrite>,
}

/// A digest of one relation's rule files and rule errors.
pub fn rules_digest(rules: &RulesOutcome) -> String {
    let mut hasher = Sha256::new();
    serde_json::to_writer(&mut hasher, &(&rules.files, &rules.per_app_errors))
        .expect("rules serialise");
    hex::encode(hasher.finalize())
}

/// The shape of a relation: its jobs (with the targets that move to a target file left out,
/// and whether they moved), its scrape errors and the [`rules_digest`] of its rules.
pub fn shape_digest<'a>(
    jobs: impl IntoIterator<Item = &'a ScrapeJob>,
    errors: impl IntoIterator<Item = &'a AppError>,
    rules_digest: &str,
) -> String {
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
    for error in errors {
        serde_json::to_writer(&mut hasher, error).expect("an error serialises");
    }
    hasher.update(rules_digest.as_bytes());
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
    relation_ids
        .iter()
        .filter(|id| !scrape.shared_names.contains(id))
        .filter_map(|&id| {
            let jobs = jobs_of.get(&id).unwrap_or(&no_jobs);
            let isolated = jobs.iter().all(|job| {
                let name = job_name(job);
                !name.is_empty() && uses.get(name) == Some(&1) && !reserved.contains(name)
            });
            isolated.then(|| RelationShape {
                relation: RelationId::new(endpoint, id),
                shape: shape_digest(
                    jobs.iter().copied(),
                    scrape.per_app_errors.iter().filter(|e| e.relation_id == id),
                    rules.get(&id).map_or("", String::as_str),
                ),
                target_files: jobs
                    .iter()
                    .filter(|job| relation_targets::scrape_job_moves_to_a_file(job))
                    .map(|job| relation_targets::file_name(job_name(job)))
                    .collect(),
            })
        })
        .collect()
}

/// One relation computed alone, as the full path would see it were it isolated: `None` when
/// it is not isolated on its own (a job without a name or with a reserved one). `leader`
/// decides whether feedback is written; `targets_url` is where Prometheus fetches targets.
pub fn relation_alone(
    rel: &RelationSnapshot,
    leader: bool,
    reserved: &BTreeSet<String>,
    targets_url: &str,
) -> Option<RelationAlone> {
    let view = crate::core::desired::view(rel);
    let views = std::slice::from_ref(&view);
    let scrape = scrape::scrape_jobs(views);
    let rules = alert_rules::scrape_rule_files(views);
    let mut names = BTreeSet::new();
    for job in &scrape.jobs {
        let name = job_name(job);
        if name.is_empty() || reserved.contains(name) || !names.insert(name) {
            return None;
        }
    }
    let shape = shape_digest(&scrape.jobs, &scrape.per_app_errors, &rules_digest(&rules));
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
    let target_files = scrape
        .jobs
        .into_iter()
        .filter_map(|mut job| {
            let name = job.name()?.to_owned();
            relation_targets::serve_over_http(&mut job, &name, targets_url)
        })
        .collect();
    Some(RelationAlone {
        shape,
        target_files,
        feedback,
    })
}

fn job_name(job: &ScrapeJob) -> &str {
    job.name().unwrap_or("")
}

//! `prometheus_scrape` consumer (`metrics-endpoint`): scrape jobs from the providers' databags.
//!
//! Behaves like the Python library's `MetricsEndpointConsumer.jobs()` so that every existing
//! provider charm gets the same job names, labels and targets, with two deliberate differences:
//! - Every job is checked structurally here (there is no cos-tool). A job that fails is dropped
//!   alone and reported as an [`AppError`] naming the application; the application's other jobs
//!   and every other relation keep working. Unparseable `scrape_jobs`/`scrape_metadata` drop that
//!   application's jobs (nothing else can be trusted) and are reported the same way.
//! - `*_sd_configs` are removed from pass-through jobs, and reported.
//!
//! Relabel rules that write `__address__` (the blackbox-exporter probe pattern: each target
//! becomes `__param_target`, the address becomes the exporter's) are kept, as the library does.

mod dedupe;
mod expand;
pub mod feedback;
mod hosts;

use std::collections::BTreeSet;

use compact_str::CompactString;
use foldhash::{HashMap, HashMapExt};
use serde::Serialize;
use serde_json::Value;

pub use crate::ordered::{JobNode, JobValue};
use crate::ordered::{OMap, OVal, Sorted};
use crate::topology::Topology;
use crate::validate::{self, ALLOWED_KEYS};
use crate::RelationView;

/// A scrape job ready for `scrape_configs` (the charm adds `honor_labels: true`), as a JSON map.
pub type Job = serde_json::Map<String, Value>;

/// A scrape job as [`scrape_jobs`] produces it: the keys in the provider's order, each map a
/// vector of its entries. A model with thousands of jobs holds them all at once, and a
/// [`Job`] (a B-tree per map, each node sized for eleven entries) costs several times the
/// memory; a consumer turns them into [`Job`]s one at a time ([`ScrapeJob::into_map`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeJob(OMap);

impl ScrapeJob {
    /// Its `job_name`, when that is a string.
    pub fn name(&self) -> Option<&str> {
        self.0.get("job_name").and_then(OVal::as_str)
    }

    /// The value of one key, as JSON (a copy).
    pub fn get(&self, key: &str) -> Option<Value> {
        self.0.get(key).map(OVal::to_value)
    }

    /// Appends an unambiguous encoding of the job to `out`, leaving out the key `except`:
    /// the input of a digest compared only with digests made the same way (equal jobs give
    /// equal bytes; the provider's key order counts).
    pub fn encode_for_digest(&self, except: Option<&str>, out: &mut Vec<u8>) {
        for (key, value) in self.0.iter() {
            if Some(key.as_str()) == except {
                continue;
            }
            crate::ordered::encode_str(key, out);
            value.encode_into(out);
        }
    }

    /// Sets one key to a JSON value, in place or appended.
    pub fn insert(&mut self, key: &str, value: Value) {
        self.0.insert(key, OVal::from(value));
    }

    /// Removes one key, returning its value as JSON.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.0.remove(key).map(OVal::into_value)
    }

    /// Its entries sorted by key, as views: what the job's [`ScrapeJob::to_map`] holds,
    /// without the copy.
    pub fn sorted_views(&self) -> Vec<(&str, JobValue<'_>)> {
        self.0.sorted_views()
    }

    /// Whether its `static_configs` is a list of target groups holding nothing but `targets`
    /// (a list of strings) and `labels` (an object of strings): groups any service discovery
    /// that speaks Prometheus' target-group format carries as they are.
    pub fn has_plain_static_configs(&self) -> bool {
        self.0
            .get(STATIC_CONFIGS_KEY)
            .and_then(OVal::as_arr)
            .is_some_and(|groups| groups.iter().all(is_plain_group))
    }

    /// Takes its plain `static_configs` (see [`ScrapeJob::has_plain_static_configs`]) out, as
    /// the JSON `serde_json` writes for them (keys sorted); `None`, leaving the job as it was,
    /// when they are not plain.
    pub fn take_plain_static_configs(&mut self) -> Option<Vec<u8>> {
        if !self.has_plain_static_configs() {
            return None;
        }
        let groups = self.0.remove(STATIC_CONFIGS_KEY)?;
        serde_json::to_vec(&Sorted(&groups)).ok()
    }

    /// The job as a JSON map (keys sorted), a copy.
    pub fn to_map(&self) -> Job {
        into_map(self.0.to_value())
    }

    /// The job as a JSON map (keys sorted), moving its strings.
    pub fn into_map(self) -> Job {
        into_map(self.0.into_value())
    }
}

/// The key of a job's inline target groups.
const STATIC_CONFIGS_KEY: &str = "static_configs";

fn is_plain_group(group: &OVal) -> bool {
    group.as_obj().is_some_and(|group| {
        group
            .iter()
            .all(|(key, value)| match (key.as_str(), value) {
                ("targets", OVal::Arr(targets)) => targets.iter().all(|t| t.as_str().is_some()),
                ("labels", OVal::Obj(labels)) => labels.iter().all(|(_, v)| v.as_str().is_some()),
                _ => false,
            })
    })
}

fn into_map(value: Value) -> Job {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("an ordered map becomes a JSON object"),
    }
}

impl From<Job> for ScrapeJob {
    fn from(job: Job) -> Self {
        match OVal::from(Value::Object(job)) {
            OVal::Obj(map) => ScrapeJob(map),
            _ => unreachable!("a JSON object becomes an ordered map"),
        }
    }
}

/// The protocol assumed when a target sends no valid Content-Type (Prometheus 3 needs it; a
/// renderer for Prometheus 2.x removes the key).
pub const FALLBACK_SCRAPE_PROTOCOL: &str = "PrometheusText0.0.4";

/// A problem with one application's data, to be shown to the operator and fed back to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppError {
    /// Relation the data came from.
    pub relation_id: u32,
    /// Remote application name.
    pub app: String,
    /// What is wrong and what was done about it.
    pub message: String,
}

/// Why a job exists (or does not), for an `--explain` view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// Relation the job came from.
    pub relation_id: u32,
    /// Remote application name.
    pub app: String,
    /// Final job name when produced; the provider's name (or `#<index>`) when dropped.
    pub job: String,
    /// Unit the job scrapes, for per-unit jobs.
    pub unit: Option<String>,
    /// Whether the job is in [`ScrapeOutcome::jobs`].
    pub produced: bool,
    /// The rules that shaped or dropped it, in the order they applied.
    pub reasons: Vec<String>,
}

/// Everything [`scrape_jobs`] found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScrapeOutcome {
    /// Jobs for `scrape_configs`, in relation order.
    pub jobs: Vec<ScrapeJob>,
    /// The relation each of [`Self::jobs`] came from (same order).
    pub job_relations: Vec<u32>,
    /// Relations with a job whose name another relation's job also had, before or after each
    /// relation's own collisions were renamed: the jobs of these depend on other relations
    /// (renamed with a digest, or collapsed into an identical job). Every other relation's
    /// jobs are what it gives alone.
    pub shared_names: BTreeSet<u32>,
    /// The names the jobs of relations that renamed their own colliding jobs had before they
    /// were renamed, with their relation (empty when no relation did): what, besides the final
    /// names, decides [`Self::shared_names`].
    pub given_names: Vec<(String, u32)>,
    /// Problems, per application.
    pub per_app_errors: Vec<AppError>,
    /// One entry per produced or dropped job.
    pub explanations: Vec<Explanation>,
}

impl ScrapeOutcome {
    /// [`Self::jobs`] as JSON maps (copies).
    pub fn job_maps(&self) -> Vec<Job> {
        self.jobs.iter().map(ScrapeJob::to_map).collect()
    }
}

/// Why a draft is what it is, in the order the rules applied: recorded only when the caller
/// asked for [`ScrapeOutcome::explanations`] (a hook never reads them, and at thousands of jobs
/// formatting them was a measurable part of the pipeline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reasons(Option<Vec<String>>);

impl Reasons {
    pub(crate) fn new(explain: bool) -> Self {
        Self(explain.then(Vec::new))
    }

    /// Records the reason `why` formats, when explaining.
    pub(crate) fn note(&mut self, why: impl FnOnce() -> String) {
        if let Some(reasons) = &mut self.0 {
            reasons.push(why());
        }
    }

    fn into_vec(self) -> Vec<String> {
        self.0.unwrap_or_default()
    }
}

/// A job on its way through the pipeline, with where it came from and what happened to it.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub relation_id: u32,
    pub app: CompactString,
    pub job: OMap,
    pub unit: Option<CompactString>,
    pub dropped: bool,
    pub reasons: Reasons,
}

impl Draft {
    pub(crate) fn new(relation_id: u32, app: &str, job: OMap, reasons: Reasons) -> Draft {
        Draft {
            relation_id,
            app: app.into(),
            job,
            unit: None,
            dropped: false,
            reasons,
        }
    }

    /// A new draft for `job` with this draft's origin and reasons.
    pub(crate) fn derive(&self, job: OMap, unit: Option<CompactString>) -> Draft {
        Draft {
            relation_id: self.relation_id,
            app: self.app.clone(),
            job,
            unit,
            dropped: self.dropped,
            reasons: self.reasons.clone(),
        }
    }

    /// The draft's explanation, and its job.
    fn into_explanation(self, fallback_name: &str) -> (Explanation, OMap) {
        let name = self
            .job
            .get("job_name")
            .and_then(OVal::as_str)
            .unwrap_or(fallback_name)
            .to_owned();
        let explanation = Explanation {
            relation_id: self.relation_id,
            app: self.app.into(),
            job: name,
            unit: self.unit.map(Into::into),
            produced: !self.dropped,
            reasons: self.reasons.into_vec(),
        };
        (explanation, self.job)
    }
}

/// Per-relation collector.
struct Collector<'a> {
    rel: &'a RelationView<'a>,
    errors: Vec<AppError>,
    /// Whether explanations are kept.
    explain: bool,
    explanations: Vec<Explanation>,
}

impl Collector<'_> {
    fn error(&mut self, message: String) {
        self.errors.push(AppError {
            relation_id: self.rel.id,
            app: self.rel.app.to_owned(),
            message,
        });
    }

    fn skipped(&mut self, job: &str, reason: String) {
        if !self.explain {
            return;
        }
        self.explanations.push(Explanation {
            relation_id: self.rel.id,
            app: self.rel.app.to_owned(),
            job: job.to_owned(),
            unit: None,
            produced: false,
            reasons: vec![reason],
        });
    }
}

/// Compute the scrape jobs of every relation passed in (normally all `metrics-endpoint`
/// relations), following the `prometheus_scrape` contract, with
/// [`ScrapeOutcome::explanations`].
pub fn scrape_jobs(relations: &[RelationView<'_>]) -> ScrapeOutcome {
    scrape_jobs_with(relations, true)
}

/// [`scrape_jobs`], with [`ScrapeOutcome::explanations`] left empty unless `explain`:
/// everything else is the same.
pub fn scrape_jobs_with(relations: &[RelationView<'_>], explain: bool) -> ScrapeOutcome {
    let mut outcome = ScrapeOutcome::default();
    let mut all = Vec::new();
    // The names of relations whose own jobs collide, before they are renamed: two jobs named
    // `a` in one relation become `a_<digest>`, which is also what an identical job named `a`
    // of another relation becomes once renamed, and is then collapsed into. (Every other
    // relation's names are kept as given.)
    let mut given: Vec<(String, u32)> = Vec::new();
    // Each relation alone (expanded, its own collisions renamed), on several threads in a
    // large model; then together, in relation order.
    let parts = crate::parallel::map(relations.iter().collect(), |rel| {
        relation_part(rel, explain)
    });
    all.reserve(parts.iter().map(|part| part.kept.len()).sum());
    for mut part in parts {
        given.append(&mut part.given);
        all.append(&mut part.kept);
        outcome.per_app_errors.append(&mut part.errors);
        outcome.explanations.append(&mut part.explanations);
    }
    let (shared_names, repeated) = relations_sharing_names(
        given.iter().map(|(name, id)| (name.as_str(), *id)),
        all.iter().map(|d| (dedupe::name_of(d), d.relation_id)),
    );
    outcome.shared_names = shared_names;
    outcome.given_names = given;
    // No job's name was seen twice: nothing to rename or collapse.
    let (kept, collapsed) = if repeated {
        dedupe::dedupe(all)
    } else {
        (all, Vec::new())
    };
    outcome.jobs.reserve(kept.len());
    outcome.job_relations.reserve(kept.len());
    if explain {
        outcome
            .explanations
            .extend(collapsed.into_iter().map(|d| d.into_explanation("").0));
        outcome.explanations.reserve(kept.len());
    }
    for d in kept {
        outcome.job_relations.push(d.relation_id);
        let job = if explain {
            let (explanation, job) = d.into_explanation("");
            outcome.explanations.push(explanation);
            job
        } else {
            d.job
        };
        outcome.jobs.push(ScrapeJob(job));
    }
    outcome
}

/// What one relation gives before the relations are put together.
struct RelationPart {
    /// Its live drafts, its own colliding names renamed.
    kept: Vec<Draft>,
    /// The names of its drafts before they were renamed, when any were.
    given: Vec<(String, u32)>,
    errors: Vec<AppError>,
    explanations: Vec<Explanation>,
}

fn relation_part(rel: &RelationView<'_>, explain: bool) -> RelationPart {
    let mut c = Collector {
        rel,
        errors: Vec::new(),
        explain,
        explanations: Vec::new(),
    };
    let drafts = relation_drafts(&mut c);
    let mut given = Vec::new();
    let (kept, collapsed) = if dedupe::names_unique(&drafts) {
        (drafts, Vec::new())
    } else {
        given.extend(
            drafts
                .iter()
                .map(|d| (dedupe::name_of(d).to_owned(), d.relation_id)),
        );
        dedupe::dedupe_colliding(drafts)
    };
    if explain {
        c.explanations
            .extend(collapsed.into_iter().map(|d| d.into_explanation("").0));
    }
    RelationPart {
        kept,
        given,
        errors: c.errors,
        explanations: c.explanations,
    }
}

/// The relations of `(name, relation)` pairs, given names then the jobs', whose name another
/// relation also has; and whether a job's name was seen before (a given name or another
/// job's, of any relation): if not, every job's name is unique.
fn relations_sharing_names<'a>(
    given: impl Iterator<Item = (&'a str, u32)>,
    jobs: impl Iterator<Item = (&'a str, u32)>,
) -> (BTreeSet<u32>, bool) {
    let mut first_holder: HashMap<&str, u32> = HashMap::with_capacity(jobs.size_hint().0);
    let mut shared = BTreeSet::new();
    let mut repeated = false;
    let mut note = |name: &'a str, relation_id: u32| match first_holder.get(name) {
        Some(&other) => {
            if other != relation_id {
                shared.insert(other);
                shared.insert(relation_id);
            }
            true
        }
        None => {
            first_holder.insert(name, relation_id);
            false
        }
    };
    for (name, relation_id) in given {
        note(name, relation_id);
    }
    for (name, relation_id) in jobs {
        repeated |= note(name, relation_id);
    }
    (shared, repeated)
}

/// The live drafts of one relation, before dedupe.
fn relation_drafts(c: &mut Collector<'_>) -> Vec<Draft> {
    let rel = c.rel;
    if rel.units.is_empty() {
        c.skipped("", "relation has no units yet: nothing to scrape".into());
        return Vec::new();
    }
    let raw_jobs = rel
        .app_data
        .get("scrape_jobs")
        .map(String::as_str)
        .filter(|s| !s.is_empty());
    let jobs = match OVal::parse(raw_jobs.unwrap_or("[]")) {
        Ok(OVal::Arr(jobs)) => jobs,
        Ok(other) => {
            c.error(format!(
                "scrape_jobs must be a JSON list, got {}: all jobs ignored",
                other.type_name()
            ));
            return Vec::new();
        }
        Err(e) => {
            c.error(format!(
                "scrape_jobs is not valid JSON ({e}): all jobs ignored"
            ));
            return Vec::new();
        }
    };
    if jobs.is_empty() {
        c.skipped("", "no scrape_jobs published".into());
        return Vec::new();
    }
    let raw_meta = rel
        .app_data
        .get("scrape_metadata")
        .map(String::as_str)
        .filter(|s| !s.is_empty());
    let meta = match OVal::parse(raw_meta.unwrap_or("{}")) {
        Ok(m) => m,
        Err(e) => {
            c.error(format!(
                "scrape_metadata is not valid JSON ({e}): all jobs ignored"
            ));
            return Vec::new();
        }
    };
    if !meta.truthy() {
        return pass_through(c, jobs);
    }
    let topology = match meta.as_obj().and_then(Topology::from_metadata) {
        Some(t) => t,
        None => {
            c.error(
                "scrape_metadata must be an object with string model, model_uuid and application: all jobs ignored"
                    .into(),
            );
            return Vec::new();
        }
    };
    let hosts = hosts::unit_hosts(&rel.units);
    for problem in hosts::unit_address_problems(&rel.units) {
        c.error(problem);
    }
    let mut out = Vec::new();
    for (i, job) in jobs.into_iter().enumerate() {
        out.extend(sanitized(c, i, job, &topology, &hosts));
    }
    out
}

fn job_label(job: &OVal, i: usize) -> String {
    match job
        .as_obj()
        .and_then(|j| j.get("job_name"))
        .and_then(OVal::as_str)
    {
        Some(n) => format!("{:?} (#{i})", validate::brief(n, 64)),
        None => format!("#{i}"),
    }
}

/// No `scrape_metadata`: the job is used as written (scrape-target / scrape-config charms).
fn pass_through(c: &mut Collector<'_>, jobs: Vec<OVal>) -> Vec<Draft> {
    let mut out = Vec::new();
    for (i, job) in jobs.into_iter().enumerate() {
        let label = job_label(&job, i);
        let OVal::Obj(mut job) = job else {
            c.error(format!(
                "scrape job {label} dropped: must be an object, got {}",
                job.type_name()
            ));
            c.skipped(&format!("#{i}"), "not an object".into());
            continue;
        };
        let mut reasons = Reasons::new(c.explain);
        reasons
            .note(|| "passed through verbatim: the application sent no scrape_metadata".to_owned());
        let sd: Vec<CompactString> = job
            .keys()
            .filter(|k| validate::is_sd_key(k))
            .cloned()
            .collect();
        for k in &sd {
            job.remove(k);
            c.error(format!("scrape job {label}: {k} removed (service discovery is not accepted over relations)"));
            reasons
                .note(|| format!("{k} removed: service discovery is not accepted over relations"));
        }
        let problem = if job
            .get("job_name")
            .and_then(OVal::as_str)
            .is_none_or(str::is_empty)
        {
            Some("job_name must be a non-empty string".to_owned())
        } else if let Some(k) = job.keys().find(|k| !validate::is_known_scrape_key(k)) {
            Some(format!("{k:?} is not a Prometheus scrape_config field"))
        } else {
            validate::check_job_fields(job.iter()).err()
        };
        if let Some(p) = problem {
            c.error(format!("scrape job {label} dropped: {p}"));
            c.skipped(&label, format!("invalid: {p}"));
            continue;
        }
        out.push(Draft::new(c.rel.id, c.rel.app, job, reasons));
    }
    out
}

/// With `scrape_metadata`: prefix, allow-list, expand, label, add the fallback protocol.
fn sanitized(
    c: &mut Collector<'_>,
    i: usize,
    job: OVal,
    topology: &Topology,
    hosts: &[hosts::UnitHost],
) -> Vec<Draft> {
    let label = job_label(&job, i);
    let OVal::Obj(job) = job else {
        c.error(format!(
            "scrape job {label} dropped: must be an object, got {}",
            job.type_name()
        ));
        c.skipped(&format!("#{i}"), "not an object".into());
        return Vec::new();
    };
    let is_allowed = |(k, _): &(&CompactString, &OVal)| ALLOWED_KEYS.contains(&k.as_str());
    if let Err(p) = validate::check_job_fields(job.iter().filter(is_allowed)) {
        c.error(format!("scrape job {label} dropped: {p}"));
        c.skipped(&label, format!("invalid: {p}"));
        return Vec::new();
    }
    let prefix = format!("juju_{}_prometheus_scrape", topology.identifier());
    let mut reasons = Reasons::new(c.explain);

    // The name prefixed (in its place, or last when there was none), then the allowed keys
    // overlaid on the default job, in the provider's order.
    let name = match job
        .get("job_name")
        .and_then(OVal::as_str)
        .filter(|n| !n.is_empty())
    {
        Some(n) => format!("{prefix}_{n}"),
        None => prefix,
    };
    let had_static_configs = job.contains_key("static_configs");
    let mut sane = OMap::new();
    sane.insert("metrics_path", OVal::str("/metrics"));
    sane.insert(
        "static_configs",
        OVal::Arr(vec![OVal::Obj(
            [("targets".to_owned(), OVal::Arr(vec![OVal::str("*:80")]))]
                .into_iter()
                .collect(),
        )]),
    );
    let mut named = false;
    let mut dropped_keys = Vec::new();
    for (k, v) in job {
        if k == "job_name" {
            named = true;
            sane.insert(k, OVal::str(name.clone()));
        } else if ALLOWED_KEYS.contains(&k.as_str()) {
            sane.insert(k, v);
        } else {
            dropped_keys.push(k);
        }
    }
    if !named {
        sane.insert("job_name", OVal::str(name.clone()));
    }
    if !dropped_keys.is_empty() {
        reasons.note(|| format!("allow-list dropped key(s): {}", dropped_keys.join(", ")));
    }
    if !had_static_configs {
        reasons.note(|| "no static_configs: default target *:80 used".into());
    }

    let base = Draft::new(c.rel.id, c.rel.app, sane, reasons);
    let mut drafts = expand::expand_job(&base, hosts, topology);
    for d in drafts.iter_mut().filter(|d| !d.dropped) {
        d.job.insert(
            "fallback_scrape_protocol",
            OVal::str(FALLBACK_SCRAPE_PROTOCOL),
        );
    }
    let (live, dropped): (Vec<Draft>, Vec<Draft>) = drafts.into_iter().partition(|d| !d.dropped);
    if c.explain {
        for d in dropped {
            let (mut e, _) = d.into_explanation(&name);
            e.job = name.clone();
            c.explanations.push(e);
        }
    }
    live
}

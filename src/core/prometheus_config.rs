//! Renders `/etc/prometheus/prometheus.yml` from the validated config, this unit's topology,
//! the jobs and endpoints translated from relations, and the detected Prometheus version.
//!
//! Pure and deterministic: equal inputs give equal bytes (all mapping keys sorted, relation jobs
//! ordered by name), so comparing the rendered text is enough to decide whether to reload.
//! Paths are relative to the config file's directory (`/etc/prometheus`).

mod block_yaml;
mod own_jobs;
mod relation_jobs;
pub mod relation_targets;
mod yaml;

use std::collections::{BTreeMap, BTreeSet};

use charm_interfaces::ScrapeJob;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::core::config::{CharmConfig, InventoryConfig, PromDuration};
use crate::core::model::Topology;
use crate::core::sharding::{self, Shard};
use crate::core::version::PrometheusVersion;
use crate::core::workload::{POLLER_JOB_NAME, SELF_JOB_NAME};
use relation_targets::{TargetFile, HTTP_SD_CONFIGS_KEY};

pub use yaml::to_canonical_yaml;

/// Rule files, relative to the config file.
pub const RULE_FILES_GLOB: &str = "rules/*.rules";
/// file_sd files of the inventory job, relative to the config file.
pub const FILE_SD_GLOB: &str = "file_sd/*.json";
/// How often Prometheus re-reads file_sd files besides watching them with inotify.
///
/// Fixed on purpose: it must not follow `inventory_poll_interval`, so that changing the poll
/// interval leaves prometheus.yml (and Prometheus) untouched.
pub const FILE_SD_REFRESH_INTERVAL: &str = "30s";
/// Most targets the inventory job may have.
///
/// A circuit breaker against a runaway inventory (e.g. an endpoint answering a huge generated
/// list): beyond it Prometheus fails the job's scrapes instead of exhausting memory. 100 000 is
/// far above the expected fleet (hundreds to a few thousand hosts) and about what one Prometheus
/// can scrape at a 1m interval.
pub const INVENTORY_TARGET_LIMIT: u64 = 100_000;
/// Job key that exists only in Prometheus ≥ 3.0.
pub const FALLBACK_SCRAPE_PROTOCOL_KEY: &str = "fallback_scrape_protocol";
/// Value added where a job does not choose one (the classic text format, as Prometheus 2 assumed).
pub const FALLBACK_SCRAPE_PROTOCOL: &str = "PrometheusText0.0.4";

/// The `global` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalSettings {
    /// Default scrape interval.
    pub scrape_interval: String,
    /// Default scrape timeout.
    pub scrape_timeout: String,
    /// Rule evaluation interval.
    pub evaluation_interval: String,
    /// Labels added to series and alerts leaving this Prometheus (see [`sharding`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub external_labels: BTreeMap<String, String>,
}

impl GlobalSettings {
    /// From the validated config.
    pub fn from_config(config: &CharmConfig) -> Self {
        let s = |d: &PromDuration| d.as_str().to_owned();
        Self {
            scrape_interval: s(&config.scrape_interval),
            scrape_timeout: s(&config.scrape_timeout),
            evaluation_interval: s(&config.evaluation_interval),
            external_labels: BTreeMap::new(),
        }
    }
}

/// What prometheus.yml needs from the inventory options: only the job's name and path. The poll
/// interval, timeout, port and labels belong to the poller (the Pebble service), not here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryJob {
    /// Scrape job name.
    pub job_name: String,
    /// Metrics path on inventory hosts.
    pub metrics_path: String,
}

impl InventoryJob {
    /// From the validated inventory options.
    pub fn from_config(config: &InventoryConfig) -> Self {
        Self {
            job_name: config.job_name.clone(),
            metrics_path: config.metrics_path.clone(),
        }
    }
}

/// Everything prometheus.yml is rendered from.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigInput {
    /// `global` section.
    pub global: GlobalSettings,
    /// This unit's topology.
    pub topology: Topology,
    /// Scrape jobs from relations, already named (verbatim jobs may carry any keys).
    pub relation_jobs: Vec<ScrapeJob>,
    /// `alerting.alertmanagers` entries.
    pub alertmanagers: Vec<Value>,
    /// `remote_write` entries.
    pub remote_write: Vec<Value>,
    /// The inventory job, when the inventory is on.
    pub inventory: Option<InventoryJob>,
    /// Detected (or assumed) Prometheus version.
    pub version: PrometheusVersion,
    /// This unit's share of the relation and inventory targets, when sharding.
    pub shard: Option<Shard>,
    /// The self-scrape target, `<this unit's fqdn>:9090` (as prometheus-k8s scrapes itself).
    pub self_target: String,
    /// `storage.exemplars.max_exemplars`, when exemplar storage is on.
    pub max_exemplars: Option<u64>,
    /// The `tracing` section (Prometheus' own traces), when a receiver is related.
    pub tracing: Option<Value>,
    /// The CA of the certificate Prometheus serves, when it serves HTTPS: the self-scrape
    /// then uses https and trusts it.
    pub self_ca_file: Option<String>,
    /// The CAs received on `receive-ca-cert` (path relative to prometheus.yml): trusted by https
    /// relation jobs that name no CA of their own.
    pub trusted_cas_file: Option<String>,
    /// Where Prometheus reaches the relation-targets server (see [`relation_targets`]).
    pub targets_url: String,
    /// Relations whose jobs go to a file of their own, listed in `scrape_config_files`
    /// (Prometheus ≥ 2.43): the isolated ones (see [`crate::core::relation_shape`]), so that a
    /// change of one relation's jobs rewrites and checks that file alone.
    pub relation_files: Vec<RelationJobsFile>,
}

/// One relation's jobs in a file of their own.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationJobsFile {
    /// Its path, relative to the config file ([`relation_jobs_path`]).
    pub path: String,
    /// Its jobs, each with a name no other job has.
    pub jobs: Vec<ScrapeJob>,
}

/// How the names of the relations' job files begin.
pub const RELATION_JOBS_PREFIX: &str = "jobs-";

/// Where the jobs of `relation` go when they have a file of their own, relative to the config
/// file: beside it, because Prometheus resolves the relative paths of a listed file's jobs
/// (a `ca_file`, a `bearer_token_file`) against that file's directory, so they mean what they
/// would inline.
pub fn relation_jobs_path(relation: &juju_hook::RelationId) -> String {
    format!(
        "{RELATION_JOBS_PREFIX}{}-{}.yml",
        relation.endpoint, relation.id
    )
}

/// Whether `relative` (a path relative to the config file) is a relation's job file.
pub fn is_relation_jobs_path(relative: &str) -> bool {
    relative.starts_with(RELATION_JOBS_PREFIX)
        && relative.ends_with(".yml")
        && !relative.contains('/')
}

/// What finishing a relation job takes besides the job: the same for every relation job of
/// a render, and a function of inputs the hook's fingerprint covers (config, version, peers,
/// certificates), so a later hook whose other inputs are unchanged can finish one relation's
/// jobs alone exactly as the render did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobsContext {
    /// The `global` section (what promtool checks jobs against).
    pub global: GlobalSettings,
    /// Version-dependent keys.
    pub version: PrometheusVersion,
    /// This unit's share of the targets, when sharding.
    pub shard: Option<Shard>,
    /// The CA of Prometheus' own certificate (self-scrape), when it serves HTTPS.
    pub self_ca_file: Option<String>,
    /// The CAs received on `receive-ca-cert`.
    pub trusted_cas_file: Option<String>,
    /// Where Prometheus reaches the relation-targets server.
    pub targets_url: String,
}

impl ConfigInput {
    /// An input with the config's globals and inventory job and no relation data yet.
    pub fn new(config: &CharmConfig, topology: Topology, version: PrometheusVersion) -> Self {
        Self {
            global: GlobalSettings::from_config(config),
            topology,
            relation_jobs: Vec::new(),
            alertmanagers: Vec::new(),
            remote_write: Vec::new(),
            inventory: config.inventory.as_ref().map(InventoryJob::from_config),
            version,
            shard: None,
            self_target: format!("localhost:{}", crate::core::workload::PROMETHEUS_PORT),
            max_exemplars: config.max_exemplars,
            tracing: None,
            self_ca_file: None,
            trusted_cas_file: None,
            targets_url: relation_targets::default_base_url(),
            relation_files: Vec::new(),
        }
    }

    /// What finishing a relation job takes from this input.
    pub fn jobs_context(&self) -> JobsContext {
        JobsContext {
            global: self.global.clone(),
            version: self.version,
            shard: self.shard,
            self_ca_file: self.self_ca_file.clone(),
            trusted_cas_file: self.trusted_cas_file.clone(),
            targets_url: self.targets_url.clone(),
        }
    }
}

impl ConfigInput {
    /// The names of the charm's own jobs, which a relation job never takes.
    pub fn own_job_names(&self) -> BTreeSet<String> {
        self.own_jobs().into_iter().map(|j| j.job_name).collect()
    }

    fn own_jobs(&self) -> Vec<own_jobs::OwnJob> {
        let mut own = vec![own_jobs::self_job(&self.self_target, &self.topology)];
        if let Some(inv) = &self.inventory {
            own.push(own_jobs::inventory_job(&inv.job_name, &inv.metrics_path));
            own.push(own_jobs::poller_job(&self.topology));
        }
        own
    }
}

/// The rendered file, the relation jobs' target files and notes on relation jobs that were
/// renamed or dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedConfig {
    /// prometheus.yml content.
    pub yaml: String,
    /// One line per relation job renamed or dropped (for the debug log).
    pub notes: Vec<String>,
    /// The targets of the relation jobs, served over HTTP (see [`relation_targets`]).
    pub target_files: Vec<TargetFile>,
    /// The relations' job files: path relative to the config file, content.
    pub relation_files: Vec<(String, String)>,
    /// How many scrape jobs prometheus.yml and its relation files have.
    pub jobs: usize,
}

/// How long a reload of a configuration of `jobs` scrape jobs and `config_bytes` bytes
/// (prometheus.yml and rules) may take before the charm stops waiting for it.
///
/// Prometheus answers `POST /-/reload` when the reload is done, and its time grows with the
/// square of the jobs: every job's discovery configuration is compared with every one
/// registered before it. Measured (BENCHMARKS.md, "Prometheus' side of a change"; a loaded
/// machine): 1.45 s (3.14) and 1.98 s (2.42) at 1,001 jobs, 216.6 s (3.14) at 10,001. The
/// budget is about twice that curve, so that a large reload is waited for rather than taken for
/// a Prometheus that does not answer, which would send it again with every following hook.
pub fn reload_timeout(jobs: usize, config_bytes: usize) -> std::time::Duration {
    let thousands = jobs as f64 / 1000.0;
    std::time::Duration::from_secs(5)
        + std::time::Duration::from_millis((config_bytes / 1024) as u64 * 10)
        + std::time::Duration::from_secs_f64(4.0 * thousands * thousands)
}

/// Rendering failed: a value could not be serialised (not expected with well-formed input).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A job could not be turned into a JSON value.
    #[error("cannot serialise a scrape job: {0}")]
    Json(#[from] serde_json::Error),
    /// The file could not be written as YAML.
    #[error("cannot render prometheus.yml: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
}

#[derive(Serialize)]
struct PrometheusYml {
    global: GlobalSettings,
    rule_files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alerting: Option<Alerting>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    remote_write: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    storage: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tracing: Option<Value>,
}

#[derive(Serialize)]
struct Alerting {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    alert_relabel_configs: Vec<Value>,
    alertmanagers: Vec<Value>,
}

/// Renders prometheus.yml.
///
/// Job order: `prometheus` (self), then, with the inventory on, the inventory job and
/// `inventory-sd`, then relation jobs by name (see `relation_jobs::prepare` for how name
/// collisions are renamed). On Prometheus < 3 `fallback_scrape_protocol` is removed from every
/// job, verbatim ones included; on ≥ 3 every job lacking it gets `PrometheusText0.0.4`, which
/// only matters for targets that send no valid Content-Type.
pub fn render(input: &ConfigInput) -> Result<RenderedConfig, RenderError> {
    render_jobs(
        input,
        input.relation_jobs.clone(),
        input.relation_files.clone(),
    )
}

/// [`render`], taking the input so that its relation jobs are moved into the file rather
/// than copied (thousands of jobs in a large model).
pub fn render_owned(mut input: ConfigInput) -> Result<RenderedConfig, RenderError> {
    let relation_jobs = std::mem::take(&mut input.relation_jobs);
    let relation_files = std::mem::take(&mut input.relation_files);
    render_jobs(&input, relation_jobs, relation_files)
}

/// [`render`] with `relation_jobs` and `relation_files` in place of the input's.
///
/// Each job becomes a JSON map only while it is finished and written: ten thousand relation
/// jobs held at once as JSON maps would take several times the memory of the compact jobs.
fn render_jobs(
    input: &ConfigInput,
    relation_jobs: Vec<ScrapeJob>,
    relation_files: Vec<RelationJobsFile>,
) -> Result<RenderedConfig, RenderError> {
    let own = input.own_jobs();
    let context = input.jobs_context();
    let reserved: BTreeSet<String> = own.iter().map(|j| j.job_name.clone()).collect();
    let in_files: usize = relation_files.iter().map(|f| f.jobs.len()).sum();
    // The jobs in relation files keep their names (no other job has them); a job renamed
    // because its name is taken skips them as it skipped them when every job was inline.
    let prepared = relation_jobs::prepare(relation_jobs, &reserved, &relation_files);
    let prepared_count = prepared.jobs.len();
    // Replicas' alerts differ only by the replica label: drop it so Alertmanager dedupes them.
    let alert_relabel_configs = if input
        .global
        .external_labels
        .contains_key(sharding::REPLICA_LABEL)
    {
        vec![serde_json::json!({"action": "labeldrop", "regex": sharding::REPLICA_LABEL})]
    } else {
        Vec::new()
    };

    let file = PrometheusYml {
        global: input.global.clone(),
        rule_files: vec![RULE_FILES_GLOB.to_owned()],
        alerting: (!input.alertmanagers.is_empty()).then(|| Alerting {
            alert_relabel_configs,
            alertmanagers: input.alertmanagers.clone(),
        }),
        remote_write: input.remote_write.clone(),
        storage: input
            .max_exemplars
            .map(|n| serde_json::json!({"exemplars": {"max_exemplars": n}})),
        tracing: input.tracing.clone(),
    };
    // The file's mapping in key order, split around `scrape_configs`, whose entries are
    // written one by one between the two halves.
    let Value::Object(whole) = serde_json::to_value(&file)? else {
        unreachable!("a struct serialises to a JSON object")
    };
    let (mut before, after): (Map<String, Value>, Map<String, Value>) = whole
        .into_iter()
        .partition(|(key, _)| key.as_str() < SCRAPE_CONFIGS_KEY);
    if !relation_files.is_empty() {
        // Sorts before `scrape_configs`, like every key of `before`.
        let paths = relation_files.iter().map(|f| f.path.clone());
        before.insert(
            SCRAPE_CONFIG_FILES_KEY.to_owned(),
            Value::Array(paths.map(Value::String).collect()),
        );
    }
    let mut yaml = yaml::value_to_yaml(&Value::Object(before))?;
    yaml.push_str(SCRAPE_CONFIGS_KEY);
    yaml.push_str(":\n");

    let total = own.len() + prepared_count + in_files;
    let mut seq = block_yaml::RootSeq::default();
    for job in &own {
        let mut job = serde_json::to_value(job)?;
        finish_job(&mut job, &context);
        append_job(&job, &mut seq, &mut yaml)?;
    }
    let mut target_files = Vec::with_capacity(prepared_count + in_files);
    let mut rendered_files = Vec::with_capacity(relation_files.len());
    // Each relation's file alone, on several threads in a large model; each thread keeps one
    // memory of quoted scalars for all its files (the same few recur in each).
    let rendered = charm_interfaces::parallel::map_with(
        relation_files,
        block_yaml::RootSeq::default,
        |seq, file| render_relation_file_with(&context, file.jobs, seq).map(|r| (file.path, r)),
    );
    for file in rendered {
        let (path, (text, targets)) = file?;
        target_files.extend(targets);
        rendered_files.push((path, text));
    }
    for (i, prepared) in prepared.jobs.into_iter().enumerate() {
        let start = yaml.len();
        let written = append_relation_job(prepared, &context, &mut seq, &mut yaml)?;
        target_files.extend(written.target_file);
        if i == 0 {
            // Grown by doubling, a file of 10,000 jobs is copied some twenty times, and each
            // large allocation makes the allocator consolidate its free lists: size it once
            // from the first job. Pages never written are never resident.
            yaml.reserve((yaml.len() - start) * prepared_count * 5 / 4);
        }
    }
    if !after.is_empty() {
        yaml.push_str(&yaml::value_to_yaml(&Value::Object(after))?);
    }
    Ok(RenderedConfig {
        yaml,
        notes: prepared.notes,
        target_files,
        relation_files: rendered_files,
        jobs: total,
    })
}

/// One relation's job file: its jobs ordered by name under `scrape_configs`, finished as in
/// prometheus.yml, and their target files. Every job must have a name no other job has (the
/// relation is isolated).
pub fn render_relation_file(
    context: &JobsContext,
    jobs: Vec<ScrapeJob>,
) -> Result<(String, Vec<TargetFile>), RenderError> {
    render_relation_file_with(context, jobs, &mut block_yaml::RootSeq::default())
}

/// [`render_relation_file`] with the writer's memory of the scalars `serde_yaml_ng` wrote
/// kept by the caller, across files.
fn render_relation_file_with(
    context: &JobsContext,
    jobs: Vec<ScrapeJob>,
    seq: &mut block_yaml::RootSeq,
) -> Result<(String, Vec<TargetFile>), RenderError> {
    let mut prepared: Vec<relation_jobs::PreparedJob> = jobs
        .into_iter()
        .map(|job| relation_jobs::PreparedJob {
            name: job.name().unwrap_or_default().to_owned(),
            job,
        })
        .collect();
    prepared.sort_by(|a, b| a.name.cmp(&b.name));
    if prepared.is_empty() {
        return Ok((format!("{SCRAPE_CONFIGS_KEY}: []\n"), Vec::new()));
    }
    let mut yaml = format!("{SCRAPE_CONFIGS_KEY}:\n");
    let mut target_files = Vec::with_capacity(prepared.len());
    for job in prepared {
        let written = append_relation_job(job, context, seq, &mut yaml)?;
        target_files.extend(written.target_file);
    }
    Ok((yaml, target_files))
}

/// A configuration to check one relation's job file with (at `path`, relative to it) before
/// it goes live: the `global` section the jobs are validated against, and that file.
pub fn relation_file_candidate(context: &JobsContext, path: &str) -> Result<String, RenderError> {
    let candidate = serde_json::json!({
        "global": context.global,
        SCRAPE_CONFIG_FILES_KEY: [path],
    });
    yaml::value_to_yaml(&candidate)
}

/// The key of the scrape jobs in prometheus.yml.
const SCRAPE_CONFIGS_KEY: &str = "scrape_configs";
/// The key of the files of further scrape jobs (see [`ConfigInput::relation_files`]).
const SCRAPE_CONFIG_FILES_KEY: &str = "scrape_config_files";

/// What every job gets from the inputs besides its relation's data: TLS, the version's keys,
/// this unit's shard.
fn finish_job(job: &mut Value, context: &JobsContext) {
    let one = std::slice::from_mut(job);
    crate::core::tls::secure_jobs(
        one,
        SELF_JOB_NAME,
        context.self_ca_file.as_deref(),
        context.trusted_cas_file.as_deref(),
    );
    apply_version(&mut one[0], context.version);
    if let Some(shard) = context.shard {
        sharding::shard_jobs(
            one,
            shard,
            &[SELF_JOB_NAME, POLLER_JOB_NAME],
            context.version,
        );
    }
}

/// The top-level keys [`finish_job`] reads or writes in `context`, and those the charm sets on
/// every relation job. A relation job is finished on a map of these alone; the rest of it stays
/// compact and is written as it is. Keys only TLS or sharding touch are left compact when
/// `context` has neither: most models, and turning a job's relabel rules into a JSON tree
/// and back was a tenth of rendering one.
fn finished_keys(context: &JobsContext) -> impl Iterator<Item = &'static str> {
    let tls = context.self_ca_file.is_some() || context.trusted_cas_file.is_some();
    let sharded = context.shard.is_some();
    [
        ("job_name", true),
        ("honor_labels", true),
        (FALLBACK_SCRAPE_PROTOCOL_KEY, true),
        (HTTP_SD_CONFIGS_KEY, true),
        ("scheme", tls),
        ("tls_config", tls),
        ("relabel_configs", sharded),
        ("keep_dropped_targets", sharded),
    ]
    .into_iter()
    .filter_map(|(key, finished)| finished.then_some(key))
}

/// What [`append_relation_job`] did.
struct WrittenJob {
    /// The job's targets, when they moved to a file.
    target_file: Option<TargetFile>,
    /// Whether `serde_yaml_ng` wrote it (a scalar the compact writer leaves to it): read by
    /// the tests, which check that the compact writer is the one normally used.
    #[cfg_attr(not(test), allow(dead_code))]
    by_serde_yaml_ng: bool,
}

/// Appends a relation job to `scrape_configs`: its targets moved to a target file when they
/// are plain, its final name, `honor_labels: true`, then finished as every job is.
///
/// The keys the charm sets or finishing touches are taken out as a small JSON map; the rest of
/// the job is written from its compact form beside them, unless it holds a scalar only
/// `serde_yaml_ng` writes.
fn append_relation_job(
    prepared: relation_jobs::PreparedJob,
    input: &JobsContext,
    seq: &mut block_yaml::RootSeq,
    yaml: &mut String,
) -> Result<WrittenJob, RenderError> {
    let relation_jobs::PreparedJob { name, mut job } = prepared;
    let target_file = relation_targets::take_targets(&mut job, &name);
    let mut set = Map::new();
    for key in finished_keys(input) {
        if let Some(value) = job.remove(key) {
            set.insert(key.to_owned(), value);
        }
    }
    if let Some(file) = &target_file {
        set.insert(
            HTTP_SD_CONFIGS_KEY.to_owned(),
            relation_targets::http_sd_configs(&input.targets_url, &file.id),
        );
    }
    set.insert("job_name".to_owned(), Value::String(name));
    set.insert("honor_labels".to_owned(), Value::Bool(true));
    let mut finished = Value::Object(set);
    finish_job(&mut finished, input);
    let Value::Object(set) = finished else {
        unreachable!("finishing keeps a job an object")
    };

    let mut entries: Vec<(&str, block_yaml::Layered<'_>)> = job
        .sorted_views()
        .into_iter()
        .map(|(k, v)| (k, block_yaml::Layered::Job(v)))
        .chain(
            set.iter()
                .map(|(k, v)| (k.as_str(), block_yaml::Layered::Json(v))),
        )
        .collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let by_serde_yaml_ng = seq.append_map(entries, yaml).is_none();
    if by_serde_yaml_ng {
        let mut whole = job.into_map();
        whole.extend(set);
        append_job(&Value::Object(whole), seq, yaml)?;
    }
    Ok(WrittenJob {
        target_file,
        by_serde_yaml_ng,
    })
}

/// Appends one entry of `scrape_configs` as `serde_yaml_ng` writes it in the whole file.
fn append_job(
    job: &Value,
    seq: &mut block_yaml::RootSeq,
    yaml: &mut String,
) -> Result<(), RenderError> {
    let one = [job];
    if seq.append(&one, yaml).is_none() {
        yaml.push_str(&serde_yaml_ng::to_string(&one)?);
    }
    Ok(())
}

/// Adds or strips the version-dependent job keys.
fn apply_version(job: &mut Value, version: PrometheusVersion) {
    let Some(map) = job.as_object_mut() else {
        return;
    };
    if version.supports_fallback_scrape_protocol() {
        map.entry(FALLBACK_SCRAPE_PROTOCOL_KEY)
            .or_insert_with(|| Value::String(FALLBACK_SCRAPE_PROTOCOL.to_owned()));
    } else {
        map.remove(FALLBACK_SCRAPE_PROTOCOL_KEY);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TARGETS_URL: &str = "http://127.0.0.1:9098";

    /// A relation job written the way every job was before relation jobs stayed compact: its
    /// targets served over HTTP, the whole job as a `serde_json` tree, finished, then written
    /// by `serde_yaml_ng`.
    fn through_a_tree(job: &ScrapeJob, name: &str, input: &ConfigInput) -> (String, Vec<u8>) {
        let mut job = job.clone();
        let file = relation_targets::serve_over_http(&mut job, name, TARGETS_URL);
        let mut map = job.to_map();
        map.insert("job_name".into(), json!(name));
        map.insert("honor_labels".into(), json!(true));
        let mut job = Value::Object(map);
        finish_job(&mut job, &input.jobs_context());
        let yaml = serde_yaml_ng::to_string(&[job]).unwrap();
        (yaml, file.map(|f| f.json).unwrap_or_default())
    }

    /// The job as the renderer writes it, and whether the compact writer wrote it.
    fn compact(job: &ScrapeJob, name: &str, input: &ConfigInput) -> ((String, Vec<u8>), bool) {
        let prepared = relation_jobs::PreparedJob {
            name: name.to_owned(),
            job: job.clone(),
        };
        let mut out = String::new();
        let written = append_relation_job(
            prepared,
            &input.jobs_context(),
            &mut block_yaml::RootSeq::default(),
            &mut out,
        )
        .unwrap();
        let file = written.target_file.map(|f| f.json).unwrap_or_default();
        ((out, file), !written.by_serde_yaml_ng)
    }

    #[test]
    fn a_compact_relation_job_is_finished_and_written_as_its_json_tree_would_be() {
        let jobs = [
            json!({"job_name": "a", "metrics_path": "/m", "relabel_configs": [{"action": "keep"}]}),
            json!({"job_name": "b", "scheme": "https", "static_configs": [{"targets": ["h:1"]}]}),
            json!({"job_name": "g", "static_configs": [{"targets": ["h:1"], "labels": {"a": "b"}}],
                   "http_sd_configs": [{"url": "http://x"}], "relabel_configs": [{"action": "keep"}]}),
            json!({"job_name": "h", "static_configs": [{"targets": [1]}]}),
            json!({"job_name": "c", "scheme": "https", "tls_config": {"ca_file": "/x"}}),
            json!({"job_name": "d", "scheme": "https", "tls_config": {"insecure_skip_verify": true}}),
            json!({"job_name": "e", "relabel_configs": "not a list", "keep_dropped_targets": 5}),
            json!({"job_name": "f", "fallback_scrape_protocol": "OpenMetricsText1.0.0",
                   "honor_labels": false, "params": {"module": ["x"]}, "scrape_interval": "1m"}),
            json!({"job_name": "prometheus", "scheme": "https"}),
        ];
        let mut compared = 0;
        let mut written_compact = 0;
        for version in [
            PrometheusVersion::new(2, 42, 0),
            PrometheusVersion::new(3, 14, 0),
        ] {
            for shard in [None, Some(Shard { index: 1, count: 3 })] {
                for (cas, self_ca) in [
                    (None, None),
                    (Some("certs/trusted.pem"), Some("certs/ca.pem")),
                    (None, Some("certs/ca.pem")),
                ] {
                    let topology = Topology {
                        model: "m".into(),
                        model_uuid: "u".into(),
                        application: "prometheus".into(),
                        unit: "prometheus/0".into(),
                        charm_name: "prometheus-rs-k8s".into(),
                    };
                    let mut input = ConfigInput::new(&CharmConfig::default(), topology, version);
                    input.shard = shard;
                    input.trusted_cas_file = cas.map(str::to_owned);
                    input.self_ca_file = self_ca.map(str::to_owned);
                    input.targets_url = TARGETS_URL.to_owned();
                    for job in &jobs {
                        let job = ScrapeJob::from(job.as_object().unwrap().clone());
                        for name in [job.name().unwrap(), "renamed_2"] {
                            let (written, alone) = compact(&job, name, &input);
                            assert_eq!(
                                written,
                                through_a_tree(&job, name, &input),
                                "{job:?} as {name} ({version}, {shard:?}, {cas:?}, {self_ca:?})"
                            );
                            compared += 1;
                            written_compact += usize::from(alone);
                        }
                    }
                }
            }
        }
        assert_eq!(compared, 2 * 2 * 3 * jobs.len() * 2);
        // All but the job whose relabel_configs is a spaced string (which sharding replaces
        // with a list) went through the compact writer.
        assert_eq!(written_compact, compared - 2 * 2 * 3);
    }
}

//! `render --model snapshot.json`: what the charm would apply for a model, without a cluster.
//!
//! A pure function of the snapshot: the model as a `config-changed` hook reads it (config
//! defaults from config.yaml, the databags the hook sees), the desired state computed by the
//! hook's own [`desired::compute`](crate::core::desired::compute) (with the explanations a hook
//! leaves out: [`desired_explained`]), and from it the files, the Pebble plan the charm's layer
//! makes, the relation data written and the status. No Pebble, no socket, no promtool: `render`
//! shows, it does not validate (every hook and the `validate-configuration` action do, in the
//! workload).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use charm_interfaces::scrape::Explanation;
use juju_hook::Status;
use serde::Serialize;

use crate::core::config::{format_simple, CharmConfig};
use crate::core::desired::desired_explained;
use crate::core::desired::RelationProblem;
use crate::core::desired_workload::{FileContent, FileRole};
use crate::core::endpoints::ENDPOINTS;
use crate::core::model::{Databag, ModelSnapshot, RelationSnapshot};
use crate::core::prometheus_config::{FILE_SD_GLOB, INVENTORY_TARGET_LIMIT};
use crate::core::workload::{
    CONFIG_DIR, CONFIG_FILE, LAYER_LABEL, POLLER_JOB_NAME, POLLER_LISTEN, PROMETHEUS_PORT,
    RULES_DIR, SELF_JOB_NAME,
};

/// Arguments of `render`.
#[derive(Debug, Clone, clap::Args)]
pub struct RenderArgs {
    /// The model snapshot (JSON; see INTEGRATION.md "Model snapshots").
    #[arg(long)]
    pub model: PathBuf,
    /// Write each output as a file in this directory instead of printing.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also say, for every scrape job, where it came from and which rules shaped it.
    #[arg(long)]
    pub explain: bool,
}

/// Relation data the charm wrote on one relation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WrittenData {
    /// This application's databag.
    pub app: Databag,
    /// This unit's databag.
    pub unit: Databag,
}

/// Everything `render` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOutput {
    /// Workload files by path in the container (prometheus.yml, rule files, the relation
    /// jobs' target files).
    pub files: BTreeMap<String, String>,
    /// The Pebble plan after the hook.
    pub layer_yaml: String,
    /// Relation data written, by relation id (`endpoint:id`).
    pub relation_data: BTreeMap<String, WrittenData>,
    /// The unit status at the end of the hook.
    pub status: Status,
    /// Where every job, rule file and rename came from.
    pub explain: Explain,
}

/// A scrape job the charm defines itself (not from a relation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnJobExplanation {
    /// Job name in prometheus.yml.
    pub job: String,
    /// What produced it: the self-scrape, the inventory (URL redacted) or its poller.
    pub source: String,
    /// How it is shaped.
    pub reasons: Vec<String>,
}

/// Why prometheus.yml and the rule files hold what they hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Explain {
    /// The charm's own jobs, in prometheus.yml order.
    pub own_jobs: Vec<OwnJobExplanation>,
    /// Relation jobs, produced or dropped, and the rules that shaped them.
    pub relation_jobs: Vec<Explanation>,
    /// Related applications' data refused (dropped jobs, rule groups, rule files...).
    pub problems: Vec<RelationProblem>,
    /// Renamed (or otherwise rewritten) relation jobs.
    pub notes: Vec<String>,
    /// With `scrape_sharding`: which share of relation and inventory targets this unit keeps.
    pub sharding: Option<String>,
}

/// The charm's own jobs for `config` (see `prometheus_config::render` for their order).
fn own_jobs(snapshot: &ModelSnapshot, config: &CharmConfig) -> Vec<OwnJobExplanation> {
    let mut jobs = vec![OwnJobExplanation {
        job: SELF_JOB_NAME.into(),
        source: format!("self-scrape of {}", snapshot.unit_name()),
        reasons: vec![format!(
            "Prometheus' own metrics at {}:{}, labelled with this unit's Juju topology; \
             instance is <model>_<model uuid>_<application>_<unit>",
            snapshot.fqdn, PROMETHEUS_PORT
        )],
    }];
    if let Some(inv) = &config.inventory {
        let url = redacted_url(&inv.url);
        let labels = if inv.labels.is_empty() {
            "none".to_string()
        } else {
            let pairs: Vec<String> = inv.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            pairs.join(",")
        };
        let mut reasons = vec![
            format!(
                "targets from {url} via file_sd, port {}, labels {labels}",
                inv.target_port
            ),
            format!(
                "read from {FILE_SD_GLOB}, which the inventory-sd poller rewrites every {} \
                 (timeout {}); metrics path {}, at most {INVENTORY_TARGET_LIMIT} targets",
                format_simple(inv.poll_interval),
                format_simple(inv.timeout),
                inv.metrics_path
            ),
        ];
        if config.scrape_sharding {
            reasons.push(sharding_text(snapshot));
        }
        jobs.push(OwnJobExplanation {
            job: inv.job_name.clone(),
            source: format!("inventory {url}"),
            reasons,
        });
        jobs.push(OwnJobExplanation {
            job: POLLER_JOB_NAME.into(),
            source: "inventory poller".into(),
            reasons: vec![format!(
                "the poller's own metrics (polls, latency, target count) at {POLLER_LISTEN}"
            )],
        });
    }
    jobs
}

/// Which targets of a sharded job this unit keeps.
fn sharding_text(snapshot: &ModelSnapshot) -> String {
    let planned = snapshot.planned_numbers().unwrap_or_default();
    match crate::core::sharding::shard_for(snapshot.unit_id, &planned) {
        Some(shard) => format!(
            "scrape_sharding: this unit keeps share {} of {} of the targets (hashmod of the address)",
            shard.index + 1,
            shard.count
        ),
        None => "scrape_sharding: every target (fewer than two planned units, or this unit \
                 is leaving)"
            .into(),
    }
}

/// The URL with credentials and query values hidden, as the poller logs it.
fn redacted_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => inventory_sd::redact::redact(&parsed),
        Err(_) => "<unparsable URL>".into(),
    }
}

/// Reads and checks a snapshot file; unknown fields are an error that names them.
pub fn load_snapshot(path: &Path) -> anyhow::Result<ModelSnapshot> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_snapshot(&text).with_context(|| format!("invalid model snapshot {}", path.display()))
}

/// Parses a snapshot and checks it is a model Juju could present ([`ModelSnapshot::problems`]),
/// so rendering it never meets an impossible model.
pub fn parse_snapshot(text: &str) -> anyhow::Result<ModelSnapshot> {
    let snapshot: ModelSnapshot = serde_json::from_str(text)?;
    let problems = snapshot.problems();
    if !problems.is_empty() {
        anyhow::bail!("{}", problems.join("; "));
    }
    Ok(snapshot)
}

/// The Prometheus version `render` renders for when the snapshot names none.
pub const DEFAULT_RENDER_VERSION: &str = "3.5.0";

/// config.yaml as shipped: the option types and defaults a hook's `config-get` applies.
const CONFIG_YAML: &str = include_str!("../../config.yaml");

#[derive(serde::Deserialize)]
struct ConfigYaml {
    options: juju_hook::ConfigOptions,
}

/// The options as `config-get` shows them to a hook: config.yaml's defaults with the snapshot's
/// values over them (`null` resets an option to its default). A value Juju would refuse
/// (unknown option, wrong type) is an error naming the option.
fn effective_config(
    set: &serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let options: ConfigYaml =
        serde_yaml_ng::from_str(CONFIG_YAML).context("the shipped config.yaml is invalid")?;
    for (key, value) in set {
        juju_hook::check_config_value(&options.options, key, value)
            .with_context(|| format!("config option {key:?}"))?;
    }
    Ok(juju_hook::effective_config(&options.options, set))
}

/// The snapshot as a `config-changed` hook reads it through the hook tools
/// (`model_reader::read_snapshot`): effective config, the endpoints the charm handles in their
/// order and relations by id, only the databags the hook reads, planned units from goal-state
/// when sharding. `prometheus_version` is the one rendered for.
fn hook_view(snapshot: &ModelSnapshot) -> anyhow::Result<ModelSnapshot> {
    let config = effective_config(&snapshot.config)?;
    let mut relations = Vec::new();
    for endpoint in ENDPOINTS {
        let mut on_endpoint: Vec<&RelationSnapshot> =
            snapshot.relations_on(endpoint.name).collect();
        on_endpoint.sort_by_key(|r| r.id);
        for rel in on_endpoint {
            let mut rel = rel.clone();
            if rel.units.is_empty() {
                rel.app_data = Databag::new();
            }
            if !endpoint.writes_unit {
                rel.local_unit_data = Databag::new();
            }
            if !(endpoint.writes_app && snapshot.leader) {
                rel.local_app_data = Databag::new();
            }
            relations.push(rel);
        }
    }
    // goal-state lists the planned units, or this unit alone when nothing else is planned.
    let planned =
        (config.get("scrape_sharding") == Some(&serde_json::Value::Bool(true))).then(|| {
            let mut numbers = snapshot
                .planned_numbers()
                .unwrap_or_else(|| vec![snapshot.unit_id]);
            numbers.sort_unstable();
            numbers.dedup();
            numbers
        });
    let version = snapshot
        .prometheus_version
        .clone()
        .unwrap_or_else(|| DEFAULT_RENDER_VERSION.to_owned());
    Ok(ModelSnapshot {
        description: None,
        config,
        leader: snapshot.leader,
        model: snapshot.model.clone(),
        app_name: snapshot.app_name.clone(),
        unit_id: snapshot.unit_id,
        fqdn: snapshot.fqdn.clone(),
        relations,
        prometheus_version: Some(version),
        planned_units: planned
            .as_ref()
            .map(|p| u32::try_from(p.len()).unwrap_or(u32::MAX)),
        planned_unit_numbers: planned,
        pvc_capacity: snapshot.pvc_capacity.clone(),
        tls: snapshot.tls.clone(),
    })
}

/// Computes what one `config-changed` hook would apply for the snapshot, as a fresh unit (no
/// plan, no files, no remembered state) whose workload accepts everything: the desired state
/// of [`desired_explained`], the plan the charm's layer makes, the relation data after the hook's
/// writes and the status the hook ends with.
pub fn render_snapshot(snapshot: &ModelSnapshot) -> anyhow::Result<RenderOutput> {
    let problems = snapshot.problems();
    if !problems.is_empty() {
        anyhow::bail!("invalid model snapshot: {}", problems.join("; "));
    }
    let view = hook_view(snapshot)?;

    // This unit's databags as the model holds them, then as the hook leaves them.
    let mut relation_data: BTreeMap<u32, (String, WrittenData)> = snapshot
        .relations
        .iter()
        .map(|rel| {
            let written = WrittenData {
                app: rel.local_app_data.clone(),
                unit: rel.local_unit_data.clone(),
            };
            (rel.id, (format!("{}:{}", rel.endpoint, rel.id), written))
        })
        .collect();
    let mut files = BTreeMap::new();
    let mut explain = Explain::default();
    let (layer_yaml, status) = match CharmConfig::from_options(&view.config) {
        // Invalid options and none ever valid: the hook blocks before touching anything.
        Err(errors) => (
            pebble::plan_to_yaml(&pebble::Plan::default()),
            Status::blocked(errors.status_message()),
        ),
        Ok(config) => {
            let desired = desired_explained(&view)?;
            for write in &desired.writes {
                let Some((_, data)) = relation_data.get_mut(&write.relation.id) else {
                    continue;
                };
                let bag = if write.app {
                    &mut data.app
                } else {
                    &mut data.unit
                };
                for (key, value) in &write.data {
                    if value.is_empty() {
                        bag.remove(key);
                    } else {
                        bag.insert(key.clone(), value.clone());
                    }
                }
            }
            for file in &desired.workload.files {
                // The relation jobs' targets and the TLS files are shown too, except the
                // private key.
                let shown = file.path == CONFIG_FILE
                    || is_relation_jobs_file(&file.path)
                    || file.role == FileRole::ScrapeTargets
                    || std::path::Path::new(&file.path).parent() == Some(Path::new(RULES_DIR))
                    || crate::core::tls::shown_by_render(&file.path);
                if let (true, FileContent::Bytes(bytes)) = (shown, &file.content) {
                    files.insert(file.path.clone(), String::from_utf8_lossy(bytes).into());
                }
            }
            let plan =
                pebble::combine_layers(&[(LAYER_LABEL.to_owned(), desired.workload.layer.clone())])
                    .context("the charm's layer does not make a valid Pebble plan")?;
            explain.own_jobs = own_jobs(snapshot, &config);
            explain.sharding = config.scrape_sharding.then(|| sharding_text(snapshot));
            let status = desired.status();
            explain.relation_jobs = desired.explanations;
            explain.problems = desired.problems;
            explain.notes = desired.notes;
            (pebble::plan_to_yaml(&plan), status)
        }
    };
    let relation_data = relation_data
        .into_values()
        .filter(|(_, data)| !data.app.is_empty() || !data.unit.is_empty())
        .collect();
    Ok(RenderOutput {
        files,
        layer_yaml,
        relation_data,
        status,
        explain,
    })
}

/// Human-readable explanation: every scrape job with what produced it and the rules that
/// shaped it, then every dropped job, refused rule group or file and renamed job with why.
pub fn explain_text(explain: &Explain) -> String {
    let mut out = String::new();
    for job in &explain.own_jobs {
        let _ = writeln!(out, "job {} <- {}", job.job, job.source);
        for reason in &job.reasons {
            let _ = writeln!(out, "    {reason}");
        }
    }
    for e in &explain.relation_jobs {
        let state = if e.produced { "job" } else { "dropped" };
        let unit = e
            .unit
            .as_deref()
            .map(|u| format!(" unit {u}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{state} {} <- metrics-endpoint:{} app {}{unit}",
            e.job, e.relation_id, e.app
        );
        for reason in &e.reasons {
            let _ = writeln!(out, "    {reason}");
        }
        if let (true, Some(sharding)) = (e.produced, &explain.sharding) {
            let _ = writeln!(out, "    {sharding}");
        }
    }
    for p in &explain.problems {
        let _ = writeln!(out, "refused {} app {}", p.relation, p.app);
        let _ = writeln!(out, "    {}", p.message);
    }
    for note in &explain.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

/// The `render` command.
pub fn run(args: &RenderArgs) -> ExitCode {
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("render: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(args: &RenderArgs) -> anyhow::Result<()> {
    let snapshot = load_snapshot(&args.model)?;
    let output = render_snapshot(&snapshot)?;
    let relation_json = serde_json::to_string_pretty(&output.relation_data)?;
    let status = format!("{}\n", output.status);
    let explain = args.explain.then(|| explain_text(&output.explain));

    match &args.out {
        Some(dir) => {
            for (path, content) in &output.files {
                // Prometheus' own directory at the top, anything else under its full path.
                let relative = path
                    .strip_prefix("/etc/prometheus/")
                    .unwrap_or_else(|| path.trim_start_matches('/'));
                let target = dir.join(relative);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&target, content)?;
            }
            std::fs::create_dir_all(dir)?;
            std::fs::write(dir.join("pebble-plan.yaml"), &output.layer_yaml)?;
            std::fs::write(dir.join("relation-data.json"), relation_json + "\n")?;
            std::fs::write(dir.join("status.txt"), &status)?;
            if let Some(text) = explain {
                std::fs::write(dir.join("explain.txt"), text)?;
            }
        }
        None => {
            for (path, content) in &output.files {
                println!("# ---- {path}\n{content}");
            }
            println!("# ---- Pebble plan\n{}", output.layer_yaml);
            println!("# ---- relation data written\n{relation_json}\n");
            println!("# ---- unit status\n{status}");
            if let Some(text) = explain {
                println!("# ---- explanation\n{text}");
            }
        }
    }
    Ok(())
}

/// Whether `path` is a relation's job file (see [`ConfigInput::relation_files`]).
///
/// [`ConfigInput::relation_files`]: crate::core::prometheus_config::ConfigInput::relation_files
fn is_relation_jobs_file(path: &str) -> bool {
    path.strip_prefix(CONFIG_DIR)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(crate::core::prometheus_config::is_relation_jobs_path)
}

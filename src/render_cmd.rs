//! `render --model snapshot.json`: what the charm would apply for a model, without a cluster.
//!
//! The snapshot is loaded into the harness and one `config-changed` hook runs through the same
//! code as in production; what the fake workload and the fake model hold afterwards is printed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use charm_harness::ExecResult;
use charm_interfaces::scrape::Explanation;
use juju_hook::{Event, Status};
use serde::Serialize;

use crate::config::{format_simple, CharmConfig};
use crate::desired::RelationProblem;
use crate::model::{Databag, ModelSnapshot};
use crate::prometheus_config::{
    FILE_SD_GLOB, INVENTORY_TARGET_LIMIT, POLLER_JOB_NAME, POLLER_TARGET, SELF_JOB_NAME,
};
use crate::reconcile::desired_for;
use crate::simulate::Simulation;
use crate::workload::{CONFIG_FILE, RULES_DIR};

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
    /// Workload files by path in the container (prometheus.yml and rule files).
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
            snapshot.fqdn,
            crate::workload::PROMETHEUS_PORT
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
                "the poller's own metrics (polls, latency, target count) at {POLLER_TARGET}"
            )],
        });
    }
    jobs
}

/// Which targets of a sharded job this unit keeps.
fn sharding_text(snapshot: &ModelSnapshot) -> String {
    let planned = snapshot.planned_numbers().unwrap_or_default();
    match crate::sharding::shard_for(snapshot.unit_id, &planned) {
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

/// Runs one `config-changed` for the snapshot and collects what the charm applied.
pub fn render_snapshot(snapshot: &ModelSnapshot) -> anyhow::Result<RenderOutput> {
    let problems = snapshot.problems();
    if !problems.is_empty() {
        anyhow::bail!("invalid model snapshot: {}", problems.join("; "));
    }
    let sim = Simulation::from_snapshot(snapshot)?;
    // promtool of the right version is not at hand here: render shows, it does not validate
    // (the `validate-configuration` action and every hook validate in the real workload).
    sim.pebble.on_exec("promtool", |_| ExecResult {
        exit_code: 0,
        stdout: b"SUCCESS: not validated by render\n".to_vec(),
        stderr: Vec::new(),
    });
    // Kubernetes as a cluster that applies the limits and has the snapshot's volume: what a
    // trusted unit would do (`render` never calls a real API).
    let ctx = sim.context(&Event::ConfigChanged)?;
    let cluster = |_: &crate::k8s::Workload, wanted: &crate::k8s::Wanted| crate::k8s::Outcome {
        limits_in_place: true,
        pvc_capacity: snapshot
            .pvc_capacity
            .clone()
            .filter(|_| wanted.pvc_capacity),
        ..crate::k8s::Outcome::default()
    };
    match crate::reconcile::reconcile_with(&ctx, &sim.juju, &sim.access, &cluster) {
        Ok(_) => sim.juju.commit(),
        Err(e) => {
            sim.juju.rollback();
            return Err(e);
        }
    }

    let mut files = BTreeMap::new();
    if let Some(bytes) = sim.pebble.read_file(CONFIG_FILE) {
        files.insert(
            CONFIG_FILE.to_string(),
            String::from_utf8_lossy(&bytes).into(),
        );
    }
    let rules_dir = sim.pebble.host_path(RULES_DIR);
    if let Ok(entries) = std::fs::read_dir(&rules_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = format!("{RULES_DIR}/{name}");
            if let Some(bytes) = sim.pebble.read_file(&path) {
                files.insert(path, String::from_utf8_lossy(&bytes).into());
            }
        }
    }

    let state = sim.juju.state();
    let mut relation_data = BTreeMap::new();
    for rel in state.relations.iter().filter(|r| !r.broken) {
        if rel.local_app_data.is_empty() && rel.local_unit_data.is_empty() {
            continue;
        }
        relation_data.insert(
            rel.relation_id().to_string(),
            WrittenData {
                app: rel.local_app_data.clone(),
                unit: rel.local_unit_data.clone(),
            },
        );
    }
    let status = state
        .unit_status
        .clone()
        .unwrap_or_else(|| Status::maintenance(""));
    drop(state);

    let mut explain = Explain::default();
    if let Ok(config) = CharmConfig::from_options(&snapshot.config) {
        explain.own_jobs = own_jobs(snapshot, &config);
        explain.sharding = config.scrape_sharding.then(|| sharding_text(snapshot));
    }
    if let Ok(desired) = desired_for(snapshot) {
        explain.relation_jobs = desired.explanations;
        explain.problems = desired.problems;
        explain.notes = desired.notes;
    }
    Ok(RenderOutput {
        files,
        layer_yaml: sim.pebble.plan_yaml(),
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
                let target = dir.join(path.trim_start_matches("/etc/prometheus/"));
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

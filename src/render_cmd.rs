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

use crate::model::{Databag, ModelSnapshot};
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
    /// Why each scrape job exists or was dropped.
    pub explanations: Vec<Explanation>,
}

/// Reads and checks a snapshot file; unknown fields are an error that names them.
pub fn load_snapshot(path: &Path) -> anyhow::Result<ModelSnapshot> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("invalid model snapshot {}", path.display()))
}

/// Runs one `config-changed` for the snapshot and collects what the charm applied.
pub fn render_snapshot(snapshot: &ModelSnapshot) -> anyhow::Result<RenderOutput> {
    let sim = Simulation::from_snapshot(snapshot)?;
    // promtool of the right version is not at hand here: render shows, it does not validate
    // (the `validate-configuration` action and every hook validate in the real workload).
    sim.pebble.on_exec("promtool", |_| ExecResult {
        exit_code: 0,
        stdout: b"SUCCESS: not validated by render\n".to_vec(),
        stderr: Vec::new(),
    });
    sim.run(&Event::ConfigChanged)?;

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

    let explanations = desired_for(snapshot)
        .map(|d| d.explanations)
        .unwrap_or_default();
    Ok(RenderOutput {
        files,
        layer_yaml: sim.pebble.plan_yaml(),
        relation_data,
        status,
        explanations,
    })
}

/// Human-readable explanation lines.
pub fn explain_text(explanations: &[Explanation]) -> String {
    let mut out = String::new();
    for e in explanations {
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
    let explain = args.explain.then(|| explain_text(&output.explanations));

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

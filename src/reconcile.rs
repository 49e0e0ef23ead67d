//! The one reconcile every event runs: read the model, compute the desired state, write
//! relation data, apply the workload through Pebble, set the status.

use std::collections::BTreeMap;
use std::time::Duration;

use juju_hook::{Event, HookContext, HookTools, Port, Status, StatusKind, WorkloadEventKind};
use pebble::{Client, ExecOptions};
use tracing::{info, warn};

use crate::apply::{self, ApplyError, ApplyReport, CurrentWorkload};
use crate::config::CharmConfig;
use crate::desired::{self, Desired, DesiredInputs};
use crate::k8s;
use crate::model::ModelSnapshot;
use crate::model_reader;
use crate::version::PrometheusVersion;
use crate::workload::{WorkloadAccess, PROMETHEUS_BINARY, PROMETHEUS_PORT};

/// What a reconcile did, for logs and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileOutcome {
    /// The status set at the end.
    pub status: Status,
    /// What was applied to the workload (`None` when it was not reachable or config invalid).
    pub report: Option<ApplyReport>,
}

/// Runs the reconcile for one hook.
///
/// Errors are returned only for failures Juju should retry the hook for (a hook tool failing);
/// everything else ends in a status and exit 0.
pub fn reconcile(
    ctx: &HookContext,
    tools: &dyn HookTools,
    access: &WorkloadAccess,
) -> anyhow::Result<ReconcileOutcome> {
    let mut snapshot = model_reader::read_snapshot(ctx, tools)?;
    let config = match CharmConfig::from_options(&snapshot.config) {
        Ok(config) => config,
        Err(errors) => {
            // Leave the workload and relation data as they are: Prometheus keeps running its
            // last good configuration until the operator fixes the option.
            let status = Status::blocked(errors.status_message());
            warn!("invalid config: {errors}");
            tools.status_set(&status, false)?;
            return Ok(ReconcileOutcome {
                status,
                report: None,
            });
        }
    };

    // Kubernetes only when an option needs it (limits, percentage retention).
    let k8s = k8s::Wanted::from_config(&config).map(|wanted| {
        let workload = k8s::Workload {
            namespace: ctx.model_name.clone(),
            app: ctx.app_name.clone(),
            unit_number: ctx.unit_number,
        };
        let outcome = k8s::sync_in_cluster(&workload, &wanted);
        if outcome.patched {
            info!("patched the StatefulSet's resources: Kubernetes restarts the pod");
        }
        snapshot.pvc_capacity.clone_from(&outcome.pvc_capacity);
        outcome
    });

    let client = Client::new(&access.pebble_socket);
    let current = match CurrentWorkload::read(&client).and_then(|mut current| {
        // update-status, every few minutes, also repairs files edited in the container.
        if ctx.event == Event::UpdateStatus {
            let drifted = current.forget_drifted_files(&client)?;
            if !drifted.is_empty() {
                warn!("restoring files changed in the workload: {drifted:?}");
            }
        }
        Ok(current)
    }) {
        Ok(current) => Some(current),
        Err(e) if e.is_connect() => None,
        Err(e) => {
            let status = Status::waiting(e.to_string());
            tools.status_set(&status, false)?;
            return Ok(ReconcileOutcome {
                status,
                report: None,
            });
        }
    };

    let fresh_container = matches!(
        ctx.event,
        Event::Workload {
            kind: WorkloadEventKind::PebbleReady,
            ..
        } | Event::UpgradeCharm
    );
    let version = current
        .as_ref()
        .map(|c| workload_version(&client, tools, c, fresh_container));

    let version = PrometheusVersion::detected_or_assumed(version.flatten().as_deref());
    let inventory_in_plan = current.as_ref().is_some_and(|c| {
        c.plan
            .services
            .contains_key(crate::workload::INVENTORY_SERVICE)
    });
    if current.is_some() {
        ensure_port(tools)?;
    }
    let mut rejected_rules = BTreeMap::new();
    let (desired, result) = loop {
        let desired = desired::compute(&DesiredInputs {
            snapshot: &snapshot,
            config: &config,
            version,
            inventory_in_plan,
            charm_binary: access.charm_binary.as_deref(),
            rejected_rules: &rejected_rules,
        })?;
        let Some(current) = &current else {
            break (desired, None);
        };
        match apply::apply(&client, &access.prometheus_url, &desired.workload, current) {
            // Leave out the rule files promtool rejected and try once more without them.
            Err(ApplyError::InvalidRules(bad)) if rejected_rules.is_empty() => {
                warn!("promtool rejected rule files: {bad:?}");
                rejected_rules.extend(bad);
            }
            other => break (desired, Some(other)),
        }
    };
    write_relation_data(tools, &desired)?;

    let (status, report) = match result {
        None => (
            Status::waiting("waiting for Pebble in the prometheus container"),
            None,
        ),
        Some(Ok(report)) => {
            log_report(&report);
            let status = match k8s.and_then(|k| k.problem) {
                // The workload runs; what Kubernetes refused still needs the operator.
                Some(problem) if desired.status().kind == StatusKind::Active => {
                    Status::blocked(problem)
                }
                _ => desired.status(),
            };
            (status, Some(report))
        }
        Some(Err(e)) => {
            warn!("apply failed: {e}");
            (status_for(&e), None)
        }
    };
    tools.status_set(&status, false)?;
    Ok(ReconcileOutcome { status, report })
}

/// Computes the desired state for a snapshot, without touching anything: the path `render`
/// takes, identical to the hook's.
pub fn desired_for(snapshot: &ModelSnapshot) -> anyhow::Result<Desired> {
    let config = CharmConfig::from_options(&snapshot.config)
        .map_err(|e| anyhow::anyhow!(e.status_message()))?;
    Ok(desired::compute(&DesiredInputs {
        snapshot,
        config: &config,
        version: PrometheusVersion::detected_or_assumed(snapshot.prometheus_version.as_deref()),
        inventory_in_plan: false,
        charm_binary: None,
        rejected_rules: &BTreeMap::new(),
    })?)
}

fn write_relation_data(tools: &dyn HookTools, desired: &Desired) -> anyhow::Result<()> {
    for write in &desired.writes {
        match tools.relation_set(&write.relation, write.app, &write.data) {
            Ok(()) => {}
            // Relation gone while we ran (-broken for a sibling relation): nothing to write to.
            Err(juju_hook::HookToolError::RelationNotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The Prometheus version: remembered in the manifest, detected again on pebble-ready and
/// upgrades (the image may have changed) or when unknown.
fn workload_version(
    client: &Client,
    tools: &dyn HookTools,
    current: &CurrentWorkload,
    fresh_container: bool,
) -> Option<String> {
    if !fresh_container {
        if let Some(v) = &current.manifest.prometheus_version {
            return Some(v.clone());
        }
    }
    let output = client
        .exec(
            &[PROMETHEUS_BINARY, "--version"],
            &ExecOptions {
                timeout: Some(Duration::from_secs(10)),
                ..ExecOptions::default()
            },
        )
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let version = PrometheusVersion::parse_version_output(&text).ok()?;
    let version = version.to_string();
    if let Err(e) = tools.application_version_set(&version) {
        warn!("cannot set the workload version: {e}");
    }
    Some(version)
}

fn ensure_port(tools: &dyn HookTools) -> anyhow::Result<()> {
    let port = Port::tcp(PROMETHEUS_PORT);
    if !tools.opened_ports()?.contains(&port) {
        tools.open_port(port)?;
    }
    Ok(())
}

fn status_for(error: &ApplyError) -> Status {
    match error {
        ApplyError::NotReady(_) => Status::maintenance("waiting for Prometheus to become ready"),
        ApplyError::Pebble(e) if e.is_connect() => {
            Status::waiting("waiting for Pebble in the prometheus container")
        }
        // `juju status` shows one line; Pebble change errors list their tasks on several.
        other => Status::blocked(other.to_string().replace('\n', " ")),
    }
}

fn log_report(report: &ApplyReport) {
    if report.is_noop() {
        info!("workload up to date: nothing pushed, restarted or reloaded");
        return;
    }
    info!(
        pushed = ?report.pushed,
        removed = ?report.removed,
        restarted = ?report.restarted,
        stopped = ?report.stopped,
        reloaded = report.reloaded,
        bytes = report.bytes_pushed,
        "workload updated"
    );
}

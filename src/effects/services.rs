//! The charm's Pebble layer and the services and checks it defines: add the layer and replan
//! when a definition changed, start what should run, stop what the layer disabled.

use std::collections::BTreeSet;

use pebble::Plan;

use crate::core::desired_workload::DesiredWorkload;
use crate::core::workload::PROMETHEUS_SERVICE;
use crate::effects::gateway::WorkloadGateway;
use crate::effects::report::{ApplyError, ApplyReport};

/// Adds the layer and replans when the plan or the services' state differ from what is
/// desired. Returns whether Prometheus was (re)started, which makes a reload unnecessary.
pub fn apply_layer(
    workload: &WorkloadGateway,
    desired: &DesiredWorkload,
    plan: &Plan,
    report: &mut ApplyReport,
) -> Result<bool, ApplyError> {
    let names: Vec<&str> = desired.layer.services.keys().map(String::as_str).collect();
    let running: BTreeSet<String> = workload
        .services(&names)?
        .into_iter()
        .filter(|s| s.is_running())
        .map(|s| s.name)
        .collect();

    let mut will_start = Vec::new();
    let mut layer_changed = false;
    for (name, wanted) in &desired.layer.services {
        let current = plan.services.get(name);
        let definition_changed = current.is_none_or(|c| pebble::merge::service_changed(c, wanted));
        layer_changed |= definition_changed;
        let enabled = wanted.startup == Some(pebble::Startup::Enabled);
        if enabled && (definition_changed || !running.contains(name)) {
            will_start.push(name.clone());
        }
    }
    layer_changed |= desired
        .layer
        .checks
        .iter()
        .any(|(name, check)| plan.checks.get(name) != Some(check));
    // Log targets take effect when the layer is added (no replan needed).
    layer_changed |= desired
        .layer
        .log_targets
        .iter()
        .any(|(name, target)| plan.log_targets.get(name) != Some(target));

    if layer_changed {
        workload.add_layer(&desired.layer)?;
        report.layer_changed = true;
    }
    for name in &desired.stopped_services {
        if running.contains(name) {
            workload.stop_services(&[name.as_str()])?;
            report.stopped.push(name.clone());
        }
    }
    if !desired.stopped_checks.is_empty() {
        let names: Vec<&str> = desired.stopped_checks.iter().map(String::as_str).collect();
        let active: Vec<String> = workload
            .checks(&names)?
            .into_iter()
            .filter(|c| c.status != pebble::CheckStatus::Inactive)
            .map(|c| c.name)
            .collect();
        if !active.is_empty() {
            let active: Vec<&str> = active.iter().map(String::as_str).collect();
            workload.stop_checks(&active)?;
        }
    }
    if !will_start.is_empty() {
        workload.replan()?;
        report.restarted.extend(will_start);
    }
    Ok(report.restarted.iter().any(|s| s == PROMETHEUS_SERVICE))
}

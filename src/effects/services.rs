//! The charm's Pebble layer and the services and checks it defines: add the layer and replan
//! when a definition changed, start what should run, stop what the layer disabled.

use std::collections::BTreeSet;
use std::time::Duration;

use pebble::{Client, Plan};

use crate::core::desired_workload::DesiredWorkload;
use crate::core::workload::{LAYER_LABEL, PROMETHEUS_SERVICE};
use crate::effects::apply::{ApplyError, ApplyReport};

/// How long Pebble may take to start or restart services.
pub const CHANGE_TIMEOUT: Duration = Duration::from_secs(60);

/// Adds the layer and replans when the plan or the services' state differ from what is
/// desired. Returns whether Prometheus was (re)started, which makes a reload unnecessary.
pub fn apply_layer(
    client: &Client,
    desired: &DesiredWorkload,
    plan: &Plan,
    report: &mut ApplyReport,
) -> Result<bool, ApplyError> {
    let names: Vec<&str> = desired.layer.services.keys().map(String::as_str).collect();
    let running: BTreeSet<String> = client
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

    if layer_changed {
        client.add_layer(LAYER_LABEL, &desired.layer, true)?;
        report.layer_changed = true;
    }
    for name in &desired.stopped_services {
        if running.contains(name) {
            client.stop_services(&[name.as_str()], CHANGE_TIMEOUT)?;
            report.stopped.push(name.clone());
        }
    }
    if !desired.stopped_checks.is_empty() {
        let names: Vec<&str> = desired.stopped_checks.iter().map(String::as_str).collect();
        let active: Vec<String> = client
            .checks(None, &names)?
            .into_iter()
            .filter(|c| c.status != pebble::CheckStatus::Inactive)
            .map(|c| c.name)
            .collect();
        if !active.is_empty() {
            let active: Vec<&str> = active.iter().map(String::as_str).collect();
            client.stop_checks(&active)?;
        }
    }
    if !will_start.is_empty() {
        client.replan(CHANGE_TIMEOUT)?;
        report.restarted.extend(will_start);
    }
    Ok(report.restarted.iter().any(|s| s == PROMETHEUS_SERVICE))
}

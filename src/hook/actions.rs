//! The charm's actions (actions.yaml).

use std::collections::BTreeMap;

use juju_hook::{HookContext, HookTools};

use crate::core::config::CharmConfig;
use crate::core::workload::CONFIG_FILE;
use crate::effects::access::WorkloadAccess;
use crate::effects::gateway::WorkloadGateway;
use crate::effects::{http, promtool};

/// Runs the named action; unknown names fail the action (Juju only sends declared ones).
pub fn run(
    name: &str,
    _ctx: &HookContext,
    tools: &dyn HookTools,
    access: &WorkloadAccess,
) -> anyhow::Result<()> {
    match name {
        "validate-configuration" => validate_configuration(tools, access),
        "refresh-inventory" => refresh_inventory(tools, access),
        other => {
            tools.action_fail(&format!("unknown action {other:?}"))?;
            Ok(())
        }
    }
}

/// Runs promtool in the workload against the live configuration.
fn validate_configuration(tools: &dyn HookTools, access: &WorkloadAccess) -> anyhow::Result<()> {
    let workload = WorkloadGateway::new(&access.pebble_socket);
    // As promtool comes (its version is not read for an action).
    let output = match promtool::check_config(&workload, CONFIG_FILE, None) {
        Ok(output) => output,
        Err(e) => {
            tools.action_fail(&format!("cannot run promtool in the workload: {e}"))?;
            return Ok(());
        }
    };
    let valid = output.exit_code == 0;
    let results = BTreeMap::from([
        ("valid".to_string(), valid.to_string()),
        (
            "result".to_string(),
            String::from_utf8_lossy(&output.stdout).trim().to_string(),
        ),
        (
            "error-message".to_string(),
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ),
    ]);
    tools.action_set(&results)?;
    Ok(())
}

/// Asks the running poller to poll now and reports how many targets it wrote.
fn refresh_inventory(tools: &dyn HookTools, access: &WorkloadAccess) -> anyhow::Result<()> {
    let config = match CharmConfig::from_options(&tools.config_get()?) {
        Ok(config) => config,
        Err(e) => {
            // The message already starts with "invalid config: ".
            tools.action_fail(&e.status_message())?;
            return Ok(());
        }
    };
    if config.inventory.is_none() {
        tools.action_fail("inventory_url is not set: there is no inventory to refresh")?;
        return Ok(());
    }
    let answer = http::refresh_inventory(&access.poller_url)?;
    match answer {
        Ok(body) => {
            let mut results = BTreeMap::new();
            if let Some(obj) = body.as_object() {
                for (k, v) in obj {
                    let value = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    results.insert(k.replace('_', "-"), value);
                }
            }
            tools.action_set(&results)?;
        }
        Err(e) => tools.action_fail(&format!("the inventory poller did not refresh: {e}"))?,
    }
    Ok(())
}

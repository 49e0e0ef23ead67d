//! From the event Juju dispatched to what the charm does about it.

use juju_hook::{Event, HookContext, HookTools};
use tracing::{info, info_span};

use crate::effects::access::WorkloadAccess;
use crate::hook::event_policy::EventPolicy;
use crate::hook::reconcile::reconcile;
use crate::hook::{actions, databag_cache};

/// Handles one dispatched event. An `Err` makes the process exit non-zero, so Juju retries
/// the hook; it is returned only for failures a retry can fix (a hook tool failing).
pub fn handle_event(
    ctx: &HookContext,
    tools: &dyn HookTools,
    access: &WorkloadAccess,
) -> anyhow::Result<()> {
    let _span = info_span!("dispatch", event = %ctx.event.name(), unit = %ctx.unit_name).entered();
    info!(event = %ctx.event.name(), unit = %ctx.unit_name, "handling event");
    if ctx.event == Event::UpgradeCharm {
        databag_cache::remove_legacy(&ctx.charm_dir);
    }
    match (EventPolicy::of(&ctx.event), &ctx.event) {
        (EventPolicy::Action, Event::Action { name, .. }) => actions::run(name, ctx, tools, access),
        (EventPolicy::Reconcile { .. }, _) => reconcile(ctx, tools, access).map(|_| ()),
        // Nothing to converge: the pod is going away, or the event does not concern the charm.
        _ => Ok(()),
    }
}

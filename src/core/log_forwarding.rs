//! The `logging` relation (`loki_push_api`): Pebble forwards the workload's service logs to
//! every related Loki unit through log targets in the charm's layer.
//!
//! One target per Loki unit that published a push URL, named after the unit, as the Loki
//! library's `LogForwarder` names them. Pebble's layers cannot delete a log target, so a target
//! in the plan that no unit wants any more (the unit departed, the relation went, or another
//! charm's layer left it) is turned off the way the library does it: replaced by one with
//! `services: [-all]`. Log targets take effect when the layer is added; no service restarts.

use std::collections::BTreeMap;

use charm_interfaces::loki_push_api::{self, LogTopology};
use charm_interfaces::Databag;
use pebble::{LogTarget, Override};

use crate::core::desired::RelationProblem;
use crate::core::model::ModelSnapshot;
use crate::core::workload::CHARM_NAME;

use crate::core::endpoints::LOGGING;

/// Pebble's log target type for Loki.
const LOKI: &str = "loki";

fn log_topology<'a>(snapshot: &'a ModelSnapshot, unit: &'a str) -> LogTopology<'a> {
    LogTopology {
        model: &snapshot.model.name,
        model_uuid: &snapshot.model.uuid,
        application: &snapshot.app_name,
        unit,
        charm_name: CHARM_NAME,
    }
}

/// Whether a log target forwards any service: its `services` evaluated left to right as
/// Pebble does (`all`, `-all`, `name`, `-name`).
pub fn forwards_anything(target: &LogTarget) -> bool {
    let mut all = false;
    let mut some = std::collections::BTreeSet::new();
    for s in &target.services {
        match s.as_str() {
            "all" => all = true,
            "-all" => {
                all = false;
                some.clear();
            }
            name => match name.strip_prefix('-') {
                Some(removed) => {
                    some.remove(removed);
                }
                None => {
                    some.insert(name);
                }
            },
        }
    }
    all || !some.is_empty()
}

/// The log targets of the charm's layer. `in_plan` is the log targets of Pebble's current plan
/// (`None` when unknown, e.g. for `render`: nothing to turn off then). A Loki unit whose
/// `endpoint` cannot be used is a problem of its relation; the other units keep forwarding.
pub fn log_targets(
    snapshot: &ModelSnapshot,
    in_plan: Option<&BTreeMap<String, LogTarget>>,
    problems: &mut Vec<RelationProblem>,
) -> BTreeMap<String, LogTarget> {
    let me = snapshot.unit_name();
    let labels: BTreeMap<String, String> = loki_push_api::labels(&log_topology(snapshot, &me))
        .into_iter()
        .collect();
    let mut targets = BTreeMap::new();
    for rel in snapshot.relations_on(LOGGING.name) {
        for unit in &rel.units {
            match loki_push_api::push_url(&unit.data) {
                Ok(Some(url)) => {
                    targets.insert(
                        unit.name.clone(),
                        LogTarget {
                            r#override: Some(Override::Replace),
                            r#type: Some(LOKI.to_owned()),
                            location: Some(url),
                            services: vec!["all".to_owned()],
                            labels: labels.clone(),
                        },
                    );
                }
                Ok(None) => {}
                Err(message) => problems.push(RelationProblem {
                    relation: rel.relation_id(),
                    app: rel.app.clone(),
                    message: format!("{}: {message}", unit.name),
                }),
            }
        }
    }
    for (name, target) in in_plan.into_iter().flatten() {
        if targets.contains_key(name) || !forwards_anything(target) {
            continue;
        }
        targets.insert(
            name.clone(),
            LogTarget {
                r#override: Some(Override::Replace),
                r#type: target.r#type.clone().or_else(|| Some(LOKI.to_owned())),
                location: target.location.clone(),
                services: vec!["-all".to_owned()],
                labels: BTreeMap::new(),
            },
        );
    }
    targets
}

/// The leader's application databag on every `logging` relation (`metadata`, `alert_rules`).
pub fn app_data(snapshot: &ModelSnapshot) -> Databag {
    let me = snapshot.unit_name();
    loki_push_api::app_data(&log_topology(snapshot, &me))
}

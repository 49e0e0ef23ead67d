//! Fills a [`ModelSnapshot`] through the hook tools, reading every databag at most once.

use juju_hook::{Event, HookContext, HookToolError, HookTools, RelationEventKind, RelationId};

use crate::model::{Databag, ModelInfo, ModelSnapshot, RelationSnapshot, UnitSnapshot};

/// Endpoints whose remote data the charm reads, and whether it writes this unit's or this
/// application's databag there (so it must know what it wrote last).
pub struct EndpointUse {
    /// Endpoint name from metadata.yaml.
    pub name: &'static str,
    /// The charm writes this unit's databag on this endpoint.
    pub writes_unit: bool,
    /// The leader writes the application databag on this endpoint.
    pub writes_app: bool,
}

/// Every relation endpoint the charm handles.
pub const ENDPOINTS: &[EndpointUse] = &[
    EndpointUse {
        name: "metrics-endpoint",
        writes_unit: false,
        writes_app: true,
    },
    EndpointUse {
        name: "alertmanager",
        writes_unit: false,
        writes_app: false,
    },
    EndpointUse {
        name: "grafana-source",
        writes_unit: true,
        writes_app: true,
    },
    EndpointUse {
        name: "self-metrics-endpoint",
        writes_unit: true,
        writes_app: true,
    },
    EndpointUse {
        name: "send-remote-write",
        writes_unit: false,
        writes_app: false,
    },
    EndpointUse {
        name: "receive-remote-write",
        writes_unit: true,
        writes_app: true,
    },
    EndpointUse {
        name: "ingress",
        writes_unit: true,
        writes_app: false,
    },
    EndpointUse {
        name: "catalogue",
        writes_unit: false,
        writes_app: true,
    },
    EndpointUse {
        name: "prometheus-api",
        writes_unit: false,
        writes_app: true,
    },
    EndpointUse {
        name: "send-datasource",
        writes_unit: false,
        writes_app: true,
    },
    EndpointUse {
        name: "logging",
        writes_unit: false,
        writes_app: true,
    },
    EndpointUse {
        name: "workload-tracing",
        writes_unit: false,
        writes_app: true,
    },
    EndpointUse {
        name: "charm-tracing",
        writes_unit: false,
        writes_app: true,
    },
    EndpointUse {
        name: "grafana-dashboard",
        writes_unit: false,
        writes_app: true,
    },
];

/// Reads config, leadership and every relation into a snapshot.
///
/// Calls: `config-get`, `is-leader`, one `relation-ids` per endpoint, then per relation one
/// `relation-list`, one `relation-get` per remote unit and for the remote app (only when it has
/// units), and this unit's/app's own databags only on endpoints where the charm writes; plus
/// `goal-state` only when `scrape_sharding` is on.
/// `fqdn` is this unit's FQDN (see [`crate::fqdn`]).
pub fn read_snapshot(
    ctx: &HookContext,
    tools: &dyn HookTools,
    fqdn: String,
) -> Result<ModelSnapshot, HookToolError> {
    let config = tools.config_get()?;
    let leader = tools.is_leader()?;
    let hook_relation = match &ctx.event {
        Event::Relation(r) => Some(r),
        _ => None,
    };

    let mut relations = Vec::new();
    for endpoint in ENDPOINTS {
        for id in tools.relation_ids(endpoint.name)? {
            // During -relation-broken the relation may still be listed; it is going away.
            let broken = hook_relation
                .is_some_and(|r| r.kind == RelationEventKind::Broken && r.relation.id == id.id);
            if broken {
                continue;
            }
            let departing = hook_relation
                .filter(|r| r.relation.id == id.id)
                .and_then(|r| r.departing_unit.as_deref());
            match read_relation(ctx, tools, endpoint, &id, leader, departing) {
                Ok(rel) => relations.push(rel),
                // Gone between relation-ids and now: treat as absent, like Juju's -broken.
                Err(HookToolError::RelationNotFound(_)) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    let planned = if sharding_on(&config) {
        Some(planned_unit_numbers(ctx, tools)?)
    } else {
        None
    };

    Ok(ModelSnapshot {
        description: None,
        config,
        leader,
        model: ModelInfo {
            name: ctx.model_name.clone(),
            uuid: ctx.model_uuid.clone(),
        },
        app_name: ctx.app_name.clone(),
        unit_id: ctx.unit_number,
        fqdn,
        relations,
        prometheus_version: None,
        planned_units: planned
            .as_ref()
            .map(|p| u32::try_from(p.len()).unwrap_or(u32::MAX)),
        planned_unit_numbers: planned,
        pvc_capacity: None,
    })
}

/// Whether the `scrape_sharding` option is on (the config is validated later; anything but
/// `true` is off here).
fn sharding_on(config: &serde_json::Map<String, serde_json::Value>) -> bool {
    config.get("scrape_sharding") == Some(&serde_json::Value::Bool(true))
}

/// Unit numbers of this application's planned (not dying) units, from `goal-state`.
fn planned_unit_numbers(
    ctx: &HookContext,
    tools: &dyn HookTools,
) -> Result<Vec<u32>, HookToolError> {
    let goal = tools.goal_state()?;
    let prefix = format!("{}/", ctx.app_name);
    let mut numbers: Vec<u32> = goal
        .planned_units()
        .into_iter()
        .filter_map(|name| name.strip_prefix(&prefix)?.parse().ok())
        .collect();
    numbers.sort_unstable();
    Ok(numbers)
}

fn read_relation(
    ctx: &HookContext,
    tools: &dyn HookTools,
    endpoint: &EndpointUse,
    id: &RelationId,
    leader: bool,
    departing: Option<&str>,
) -> Result<RelationSnapshot, HookToolError> {
    let unit_names: Vec<String> = tools
        .relation_list(id)?
        .into_iter()
        .filter(|u| Some(u.as_str()) != departing)
        .collect();

    let app = match unit_names.first() {
        Some(unit) => unit.split('/').next().unwrap_or(unit).to_string(),
        None => match &ctx.event {
            Event::Relation(r) if r.relation.id == id.id && !r.remote_app.is_empty() => {
                r.remote_app.clone()
            }
            _ => tools.relation_remote_app(id)?,
        },
    };

    let mut units = Vec::with_capacity(unit_names.len());
    for name in unit_names {
        let data = match tools.relation_get(id, &name, false) {
            Ok(data) => data,
            // A unit that departed between relation-list and relation-get.
            Err(HookToolError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        units.push(UnitSnapshot { name, data });
    }
    let app_data = if units.is_empty() {
        Databag::new()
    } else {
        tools.relation_get(id, &app, true)?
    };
    let local_unit_data = if endpoint.writes_unit {
        tools.relation_get(id, &ctx.unit_name, false)?
    } else {
        Databag::new()
    };
    let local_app_data = if endpoint.writes_app && leader {
        tools.relation_get(id, &ctx.app_name, true)?
    } else {
        Databag::new()
    };

    Ok(RelationSnapshot {
        endpoint: endpoint.name.to_string(),
        id: id.id,
        app,
        app_data,
        units,
        local_app_data,
        local_unit_data,
    })
}

//! Fills a [`ModelSnapshot`] through the hook tools, reading every databag at most once, on
//! the endpoints of [`crate::core::endpoints::ENDPOINTS`].

use juju_hook::{Event, HookContext, HookToolError, HookTools, RelationEventKind, RelationId};

use crate::core::endpoints::{by_name, Endpoint, CERTIFICATES, CHARM_TRACING, ENDPOINTS};
use crate::core::model::{Databag, ModelInfo, ModelSnapshot, RelationSnapshot, UnitSnapshot};

/// Reads config, leadership and every relation into a snapshot.
///
/// Calls: `config-get`, `is-leader`, one `relation-ids` per endpoint, then per relation one
/// `relation-list`, one `relation-get` per remote unit and for the remote app (only when it has
/// units), and this unit's/app's own databags only on endpoints where the charm writes; plus
/// `goal-state` only when `scrape_sharding` is on.
/// `fqdn` is this unit's FQDN (see [`crate::effects::fqdn`]).
pub fn read_snapshot(
    ctx: &HookContext,
    tools: &dyn HookTools,
    fqdn: String,
) -> Result<ModelSnapshot, HookToolError> {
    read(ctx, tools, fqdn, false).map(|(snapshot, _)| snapshot)
}

/// Endpoints whose data a hook uses before it knows whether its inputs changed (the TLS
/// material is prepared and the charm-tracing receiver remembered first): always read.
const READ_FIRST: [&Endpoint; 2] = [&CERTIFICATES, &CHARM_TRACING];

/// Like [`read_snapshot`], except that a relation the tools keep a memo for
/// ([`HookTools::relation_memo`]: its digest, set when a hook last applied it, kept while
/// nothing about it changed) is listed without its databags. Returns, for each relation of
/// the snapshot, its memo when its databags were not read; [`read_unread`] reads them.
pub fn read_snapshot_lazily(
    ctx: &HookContext,
    tools: &dyn HookTools,
    fqdn: String,
) -> Result<(ModelSnapshot, Vec<Option<String>>), HookToolError> {
    read(ctx, tools, fqdn, true)
}

/// Reads the databags of the relations [`read_snapshot_lazily`] left unread (those with a
/// memo), making `snapshot` what [`read_snapshot`] would have read.
pub fn read_unread(
    ctx: &HookContext,
    tools: &dyn HookTools,
    snapshot: &mut ModelSnapshot,
    memos: &[Option<String>],
) -> Result<(), HookToolError> {
    let mut gone = Vec::new();
    for (index, _) in memos.iter().enumerate().filter(|(_, m)| m.is_some()) {
        let Some(rel) = snapshot.relations.get(index) else {
            continue;
        };
        let Some(endpoint) = by_name(&rel.endpoint) else {
            continue;
        };
        let id = rel.relation_id();
        match read_relation(ctx, tools, endpoint, &id, snapshot.leader, None) {
            Ok(read) => snapshot.relations[index] = read,
            Err(HookToolError::RelationNotFound(_)) => gone.push(index),
            Err(e) => return Err(e),
        }
    }
    for index in gone.into_iter().rev() {
        snapshot.relations.remove(index);
    }
    Ok(())
}

fn read(
    ctx: &HookContext,
    tools: &dyn HookTools,
    fqdn: String,
    lazily: bool,
) -> Result<(ModelSnapshot, Vec<Option<String>>), HookToolError> {
    let config = tools.config_get()?;
    let leader = tools.is_leader()?;
    let hook_relation = match &ctx.event {
        Event::Relation(r) => Some(r),
        _ => None,
    };

    let mut relations = Vec::new();
    let mut memos = Vec::new();
    for endpoint in ENDPOINTS {
        let may_defer = lazily && !READ_FIRST.iter().any(|e| e.name == endpoint.name);
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
            if let Some(memo) = may_defer.then(|| tools.relation_memo(&id)).flatten() {
                relations.push(RelationSnapshot {
                    endpoint: endpoint.name.to_string(),
                    id: id.id,
                    app: String::new(),
                    app_data: Databag::new(),
                    units: Vec::new(),
                    local_app_data: Databag::new(),
                    local_unit_data: Databag::new(),
                });
                memos.push(Some(memo));
                continue;
            }
            match read_relation(ctx, tools, endpoint, &id, leader, departing) {
                Ok(rel) => {
                    relations.push(rel);
                    memos.push(None);
                }
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

    let snapshot = ModelSnapshot {
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
        tls: None,
    };
    Ok((snapshot, memos))
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
    endpoint: &Endpoint,
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

//! Juju's semantics for one hook-tool call on a [`ModelState`]: the single implementation
//! behind both [`super::FakeHookTools`] and the `fake-hook-tool` executable.

use std::collections::BTreeMap;

use juju_hook::{merge_relation_set, RelationData, Status, StatusKind};
use serde_json::{json, Map, Value};

use super::call::{Call, RelRef, ToolFailure};
use super::records::{LogLine, PortChange, Relation, StatusChange};
use super::state::{ModelState, GOAL_SINCE};

fn not_leader() -> ToolFailure {
    ToolFailure::runtime("this unit is not the leader")
}

fn no_action() -> ToolFailure {
    ToolFailure::runtime("not running an action")
}

fn find_relation<'a>(state: &'a ModelState, r: &RelRef) -> Result<&'a Relation, ToolFailure> {
    state
        .relations
        .iter()
        .find(|rel| {
            rel.id == r.id
                && !rel.broken
                && r.endpoint.as_ref().is_none_or(|ep| *ep == rel.endpoint)
        })
        .ok_or_else(|| {
            ToolFailure::usage(format!(
                "invalid value {:?} for option -r: relation not found",
                r.text
            ))
        })
}

/// Checks an `action-set` key as Juju does, per dot-separated segment: lowercase letters,
/// digits and inner hyphens, and none of the segments Juju reserves.
fn check_action_key(key: &str) -> Result<(), ToolFailure> {
    let ok_segment = |s: &str| {
        let b = s.as_bytes();
        let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty()
            && edge(b[0])
            && edge(b[b.len() - 1])
            && b.iter().all(|&c| edge(c) || c == b'-')
    };
    for segment in key.split('.') {
        if !ok_segment(segment) {
            return Err(ToolFailure::usage(format!(
                "key {segment:?} must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods"
            )));
        }
        if ["stdout", "stdout-encoding", "stderr", "stderr-encoding"].contains(&segment) {
            return Err(ToolFailure::usage(format!(
                "cannot set reserved action key {segment:?}"
            )));
        }
    }
    Ok(())
}

/// Inserts `value` at a dotted path, creating objects on the way.
fn insert_dotted(map: &mut Map<String, Value>, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            map.insert(key.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = map
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            insert_dotted(entry.as_object_mut().expect("made an object"), rest, value);
        }
    }
}

fn status_json(status: &Option<Status>) -> Value {
    let (kind, message) = match status {
        Some(s) => (s.kind.as_str(), s.message.as_str()),
        None => ("unknown", ""),
    };
    json!({"status": kind, "message": message, "status-data": {}})
}

/// This unit's databag in `rel`, including the running hook's pending writes.
fn local_unit_view(state: &ModelState, rel: &Relation) -> RelationData {
    let mut data = rel.local_unit_data.clone();
    if let Some(p) = state.pending.unit_data.get(&rel.id) {
        merge_relation_set(&mut data, p);
    }
    data
}

fn local_app_view(state: &ModelState, rel: &Relation) -> RelationData {
    let mut data = rel.local_app_data.clone();
    if let Some(p) = state.pending.app_data.get(&rel.id) {
        merge_relation_set(&mut data, p);
    }
    data
}

fn relation_get(
    state: &ModelState,
    r: &RelRef,
    key: Option<&str>,
    member: &str,
    app: bool,
) -> Result<Value, ToolFailure> {
    let rel = find_relation(state, r)?;
    let data = if app {
        let target = member.split('/').next().unwrap_or(member);
        if target == state.app_name {
            if !state.leader && !state.is_peer(rel) {
                return Err(ToolFailure::runtime("permission denied"));
            }
            local_app_view(state, rel)
        } else if target == rel.remote_app {
            rel.remote_app_data.clone()
        } else {
            return Err(ToolFailure::runtime(format!(
                "cannot read settings for application {target:?} in relation {:?}: settings not found",
                r.text
            )));
        }
    } else {
        if !member.contains('/') {
            return Err(ToolFailure::usage(format!(
                "expected unit name, got application name {member:?}"
            )));
        }
        if member == state.unit_name() {
            local_unit_view(state, rel)
        } else if let Some(data) = rel.remote_units.get(member) {
            data.clone()
        } else {
            return Err(ToolFailure::runtime(format!(
                "cannot read settings for unit {member:?} in relation {:?}: unit {member:?}: settings not found",
                r.text
            )));
        }
    };
    Ok(match key {
        Some(k) => data
            .get(k)
            .map_or(Value::Null, |v| Value::String(v.clone())),
        None => json!(data),
    })
}

fn goal_state(state: &ModelState) -> Value {
    let entry = |status: &str| json!({"status": status, "since": GOAL_SINCE});
    let units: Map<String, Value> = if state.goal_units.is_empty() {
        [(state.unit_name(), entry("active"))].into_iter().collect()
    } else {
        state
            .goal_units
            .iter()
            .map(|(name, e)| (name.clone(), json!(e)))
            .collect()
    };
    let mut relations = Map::new();
    for rel in state.relations.iter().filter(|r| !r.broken) {
        let slot = relations
            .entry(rel.endpoint.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        let slot = slot.as_object_mut().expect("created as object");
        if !state.is_peer(rel) {
            slot.insert(rel.remote_app.clone(), entry("joined"));
        }
        for unit in rel.current_units() {
            slot.insert(unit, entry("joined"));
        }
    }
    json!({"units": units, "relations": relations})
}

fn network_get(
    state: &ModelState,
    binding: &str,
    relation: Option<&RelRef>,
) -> Result<Value, ToolFailure> {
    if let Some(r) = relation {
        find_relation(state, r)?;
    }
    let known = state.endpoints.contains_key(binding)
        || state.extra_bindings.contains(binding)
        || binding == "juju-info";
    if !state.endpoints.is_empty() && !known {
        return Err(ToolFailure::runtime(format!(
            "binding name {binding:?} not defined by the unit's charm"
        )));
    }
    let addr = &state.address;
    Ok(json!({
        "bind-addresses": [{
            "mac-address": "",
            "interface-name": "",
            "addresses": [{"hostname": "", "value": addr, "cidr": ""}],
        }],
        "egress-subnets": [format!("{addr}/32")],
        "ingress-addresses": [addr],
    }))
}

/// Buffers a databag merge; the application databag is the leader's to write.
fn relation_set(
    state: &mut ModelState,
    relation: &RelRef,
    app: bool,
    data: &RelationData,
) -> Result<Option<Value>, ToolFailure> {
    let id = find_relation(state, relation)?.id;
    if app && !state.leader {
        return Err(ToolFailure::runtime("cannot write relation settings"));
    }
    let pending = if app {
        &mut state.pending.app_data
    } else {
        &mut state.pending.unit_data
    };
    let overlay = pending.entry(id).or_default();
    for (k, v) in data {
        overlay.insert(k.clone(), v.clone());
    }
    Ok(None)
}

/// Sets unit or (leader only) application status, at once.
fn status_set(
    state: &mut ModelState,
    application: bool,
    status: &str,
    message: &str,
) -> Result<Option<Value>, ToolFailure> {
    let kind: StatusKind =
        serde_json::from_value(Value::String(status.to_string())).map_err(|_| {
            ToolFailure::usage(format!(
                "invalid status {status:?}, expected one of [maintenance blocked waiting active]"
            ))
        })?;
    if application && !state.leader {
        return Err(not_leader());
    }
    let status = Status {
        kind,
        message: message.to_string(),
    };
    if application {
        state.app_status = Some(status.clone());
    } else {
        state.unit_status = Some(status.clone());
    }
    state.status_history.push(StatusChange {
        application,
        status,
    });
    Ok(None)
}

/// Buffers action results under their dotted keys.
fn action_set(
    state: &mut ModelState,
    pairs: &[(String, String)],
) -> Result<Option<Value>, ToolFailure> {
    for (k, _) in pairs {
        check_action_key(k)?;
    }
    if pairs.is_empty() {
        return Ok(None);
    }
    if state.action.is_none() {
        return Err(no_action());
    }
    for (k, v) in pairs {
        insert_dotted(
            &mut state.pending.action_results,
            k,
            Value::String(v.clone()),
        );
    }
    Ok(None)
}

/// Reads the unit's key/value store, pending writes included.
fn state_get(
    state: &ModelState,
    key: Option<&str>,
    strict: bool,
) -> Result<Option<Value>, ToolFailure> {
    let mut view = state.stored.clone();
    for (k, v) in &state.pending.stored {
        match v {
            Some(v) => view.insert(k.clone(), v.clone()),
            None => view.remove(k),
        };
    }
    match key {
        // Juju prints an empty store as `null` in JSON.
        None if view.is_empty() => Ok(Some(Value::Null)),
        None => Ok(Some(json!(view))),
        Some(k) => match view.get(k) {
            Some(v) => Ok(Some(Value::String(v.clone()))),
            None if strict => Err(ToolFailure::runtime(format!("{k:?} not found"))),
            None => Ok(Some(Value::String(String::new()))),
        },
    }
}

/// Buffers key/value store writes within Juju's size limits.
fn state_set(
    state: &mut ModelState,
    data: &BTreeMap<String, String>,
) -> Result<Option<Value>, ToolFailure> {
    for (k, v) in data {
        if k.len() > 256 || v.len() > 64 * 1024 {
            return Err(ToolFailure::runtime(format!(
                "key {k:?}: key is limited to 256 bytes and value to 65536 bytes"
            )));
        }
    }
    // Unlike relation-set, an empty value is stored, not a deletion.
    for (k, v) in data {
        state.pending.stored.insert(k.clone(), Some(v.clone()));
    }
    Ok(None)
}

/// Applies `call` to `state` with Juju's semantics. `Ok(None)` = the tool prints nothing;
/// `Ok(Some(v))` = it prints `v` in the requested format. The caller counts the call
/// ([`ModelState::record_call`]).
pub fn apply(state: &mut ModelState, call: &Call) -> Result<Option<Value>, ToolFailure> {
    match call {
        Call::ConfigGet { key, all } => {
            let mut config = state.effective_config();
            if *all {
                for k in state.config_options.keys() {
                    config.entry(k.clone()).or_insert(Value::Null);
                }
            }
            Ok(Some(match key {
                Some(k) => config.get(k).cloned().unwrap_or(Value::Null),
                None => Value::Object(config),
            }))
        }
        Call::IsLeader => Ok(Some(Value::Bool(state.leader))),
        Call::RelationIds { endpoint } => {
            let ids: Vec<&Relation> = state
                .relations
                .iter()
                .filter(|r| !r.broken && r.endpoint == *endpoint)
                .collect();
            // Juju sorts the printed ids as strings (`ep:12` before `ep:3`).
            let mut ids: Vec<String> = ids.iter().map(|r| r.relation_id().to_string()).collect();
            ids.sort();
            Ok(Some(json!(ids)))
        }
        Call::RelationList { relation, app } => {
            let rel = find_relation(state, relation)?;
            Ok(Some(if *app {
                Value::String(rel.remote_app.clone())
            } else {
                json!(rel.current_units())
            }))
        }
        Call::RelationGet {
            relation,
            key,
            member,
            app,
        } => relation_get(state, relation, key.as_deref(), member, *app).map(Some),
        Call::RelationSet {
            relation,
            app,
            data,
        } => relation_set(state, relation, *app, data),
        Call::StatusSet {
            application,
            status,
            message,
        } => status_set(state, *application, status, message),
        Call::StatusGet { application } => {
            if !*application {
                return Ok(Some(status_json(&state.unit_status)));
            }
            if !state.leader {
                return Err(not_leader());
            }
            let mut app = status_json(&state.app_status);
            app["units"] = json!({ state.unit_name(): status_json(&state.unit_status) });
            Ok(Some(json!({ "application-status": app })))
        }
        Call::ApplicationVersionSet { version } => {
            state.workload_version = Some(version.clone());
            Ok(None)
        }
        Call::JujuLog { level, message } => {
            let upper = level.to_ascii_uppercase();
            let level = match upper.as_str() {
                "TRACE" | "DEBUG" | "INFO" | "WARNING" | "ERROR" | "CRITICAL" => upper,
                _ => "INFO".to_string(),
            };
            state.logs.push(LogLine {
                level,
                message: message.clone(),
            });
            Ok(None)
        }
        Call::OpenPort { port } | Call::ClosePort { port } => {
            state.pending.ports.push(PortChange {
                open: matches!(call, Call::OpenPort { .. }),
                port: *port,
            });
            Ok(None)
        }
        Call::OpenedPorts => Ok(Some(json!(state
            .opened_ports
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()))),
        Call::NetworkGet { binding, relation } => {
            network_get(state, binding, relation.as_ref()).map(Some)
        }
        Call::GoalState => Ok(Some(goal_state(state))),
        Call::ActionGet { key } => {
            let action = state.action.as_ref().ok_or_else(no_action)?;
            let params = Value::Object(action.params.clone());
            Ok(Some(match key {
                None => params,
                Some(k) => k
                    .split('.')
                    .try_fold(&params, |v, seg| v.get(seg))
                    .cloned()
                    .unwrap_or(Value::Null),
            }))
        }
        Call::ActionSet { pairs } => action_set(state, pairs),
        Call::ActionFail { message } => {
            if state.action.is_none() {
                return Err(no_action());
            }
            state.pending.action_failure = Some(message.clone().unwrap_or_else(|| {
                "action failed without reason given, check action for errors".to_string()
            }));
            Ok(None)
        }
        Call::ActionLog { message } => {
            let action = state.action.as_mut().ok_or_else(no_action)?;
            action.logs.push(message.clone());
            Ok(None)
        }
        Call::StateGet { key, strict } => state_get(state, key.as_deref(), *strict),
        Call::StateSet { data } => state_set(state, data),
        Call::StateDelete { key } => {
            if !key.is_empty() {
                state.pending.stored.insert(key.clone(), None);
            }
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_keys() {
        assert!(check_action_key("result").is_ok());
        assert!(check_action_key("a.b-c.d9").is_ok());
        for bad in [
            "Result", "-a", "a-", "a..b", "", "stdout", "a_b", "x.stderr",
        ] {
            assert_eq!(check_action_key(bad).unwrap_err().code, 2, "{bad}");
        }
    }

    #[test]
    fn dotted_insert_nests() {
        let mut m = Map::new();
        insert_dotted(&mut m, "a.b", json!("1"));
        insert_dotted(&mut m, "a.c", json!("2"));
        insert_dotted(&mut m, "d", json!("3"));
        assert_eq!(
            Value::Object(m),
            json!({"a": {"b": "1", "c": "2"}, "d": "3"})
        );
    }
}

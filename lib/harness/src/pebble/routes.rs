//! Handlers for system info, health, layers and plan, services, changes, checks and signals.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use pebble::{CheckLevel, Plan, Startup};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::changes::{format_go_duration, parse_go_duration, timestamp};
use super::checks;
use super::envelope;
use super::services::{plan_action, reconcile, run_change, Op};
use super::state::{CheckStatus, LabeledLayer, Shared, State as FakeState};

type Params = Query<BTreeMap<String, String>>;

/// The combined plan of the current layers (empty if they do not combine, which the layer
/// endpoint never lets happen).
pub fn current_plan(state: &FakeState) -> Plan {
    combine(&state.layers).unwrap_or_default()
}

fn combine(layers: &[LabeledLayer]) -> Result<Plan, pebble::PlanError> {
    let pairs: Vec<(String, pebble::Layer)> = layers
        .iter()
        .map(|l| (l.label.clone(), l.layer.clone()))
        .collect();
    pebble::combine_layers(&pairs)
}

fn names_param(params: &BTreeMap<String, String>) -> Vec<String> {
    params
        .get("names")
        .map(|n| {
            n.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Decodes a JSON body; the error is Pebble's 400 message.
fn parse_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("cannot decode request body: {e}"))
}

/// `GET /v1/system-info`.
pub async fn system_info(State(shared): State<Arc<Shared>>) -> Response {
    let boot_id = shared.lock().boot_id.clone();
    envelope::sync(&json!({"boot-id": boot_id, "version": "v1.32.1"}))
}

/// The `level` query parameter; `Err` is Pebble's 400.
fn level_param(params: &BTreeMap<String, String>) -> Result<Option<CheckLevel>, &'static str> {
    match params.get("level").map(String::as_str).unwrap_or_default() {
        "" => Ok(None),
        "alive" => Ok(Some(CheckLevel::Alive)),
        "ready" => Ok(Some(CheckLevel::Ready)),
        _ => Err(r#"level must be "alive" or "ready""#),
    }
}

/// `GET /v1/health?level=&names=`: 502 with `healthy:false` (still a sync envelope) if a
/// selected check is down; `ready` includes alive checks, inactive checks do not count.
pub async fn health(State(shared): State<Arc<Shared>>, Query(params): Params) -> Response {
    let level = match level_param(&params) {
        Ok(level) => level,
        Err(message) => return envelope::bad_request(message),
    };
    let names = names_param(&params);
    let state = shared.lock();
    let healthy = !check_infos(&state).iter().any(|c| {
        let selected_level = match level {
            None => true,
            Some(CheckLevel::Alive) => c.level == Some(CheckLevel::Alive),
            Some(CheckLevel::Ready) => c.level.is_some(),
        };
        let selected_name = names.is_empty() || names.contains(&c.name);
        selected_level && selected_name && c.status == CheckStatus::Down
    });
    let status = if healthy { 200 } else { 502 };
    envelope::sync_with_status(status, &json!({ "healthy": healthy }))
}

/// `GET /v1/plan?format=yaml`.
pub async fn get_plan(State(shared): State<Arc<Shared>>, Query(params): Params) -> Response {
    let format = params.get("format").map(String::as_str).unwrap_or_default();
    if format != "yaml" {
        return envelope::bad_request(format!("invalid format \"{format}\""));
    }
    let plan = current_plan(&shared.lock());
    envelope::sync(&pebble::plan_to_yaml(&plan))
}

#[derive(Deserialize)]
struct LayersBody {
    #[serde(default)]
    action: String,
    #[serde(default)]
    combine: bool,
    #[serde(default)]
    label: String,
    #[serde(default)]
    format: String,
    #[serde(default)]
    layer: String,
}

/// `POST /v1/layers`: add (or combine into) a layer. Services are not touched.
pub async fn post_layers(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body: LayersBody = match parse_body(&body) {
        Ok(b) => b,
        Err(message) => return envelope::bad_request(message),
    };
    if body.action != "add" {
        return envelope::bad_request(format!("invalid action \"{}\"", body.action));
    }
    if body.label.is_empty() {
        return envelope::bad_request("label must be set");
    }
    if body.format != "yaml" {
        return envelope::bad_request(format!("invalid format \"{}\"", body.format));
    }
    let layer = match pebble::merge::parse_layer(&body.label, &body.layer) {
        Ok(l) => l,
        Err(e) => return envelope::bad_request(e.to_string()),
    };
    let mut state = shared.lock();
    let mut layers = state.layers.clone();
    match layers.iter_mut().find(|l| l.label == body.label) {
        Some(_) if !body.combine => {
            return envelope::bad_request(format!("layer \"{}\" already exists", body.label))
        }
        Some(existing) => {
            if let Err(e) = pebble::combine_into(&mut existing.layer, &layer) {
                return envelope::bad_request(e.to_string());
            }
        }
        None => layers.push(LabeledLayer {
            label: body.label.clone(),
            layer,
        }),
    }
    let plan = match combine(&layers) {
        Ok(plan) => plan,
        Err(e) => return envelope::bad_request(e.to_string()),
    };
    state.layers = layers;
    checks::plan_changed(&shared, &mut state, &plan);
    envelope::sync(&true)
}

/// One entry of `GET /v1/services`, in Pebble's field order.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct ServiceInfo<'a> {
    name: &'a str,
    startup: &'static str,
    current: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_since: Option<String>,
}

fn startup_str(startup: Startup) -> &'static str {
    match startup {
        Startup::Enabled => "enabled",
        Startup::Disabled => "disabled",
    }
}

/// `GET /v1/services?names=`.
pub async fn get_services(State(shared): State<Arc<Shared>>, Query(params): Params) -> Response {
    reconcile(&shared);
    let state = shared.lock();
    let plan = current_plan(&state);
    let names = names_param(&params);
    let list: Vec<ServiceInfo> = plan
        .services
        .iter()
        .filter(|(name, _)| names.is_empty() || names.contains(name))
        .map(|(name, svc)| ServiceInfo {
            name,
            startup: startup_str(svc.startup.unwrap_or(Startup::Disabled)),
            current: state.current(name).as_str(),
            current_since: state.services.get(name).map(|rt| timestamp(rt.since)),
        })
        .collect();
    envelope::sync(&list)
}

#[derive(Deserialize)]
struct ServicesBody {
    #[serde(default)]
    action: String,
    #[serde(default)]
    services: Vec<String>,
}

/// `POST /v1/services`: start/stop/restart/replan/autostart as an async change.
///
/// With the simulated runner and no configured delay the change runs to completion before the
/// `202` is sent, so a test sees the new state right after the call; with `delay_changes` it
/// stays `Doing`. A runner that spawns real processes runs it in the background, as Pebble
/// does: a slow first start must not outlast the client's request timeout.
pub async fn post_services(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body: ServicesBody = match parse_body(&body) {
        Ok(b) => b,
        Err(message) => return envelope::bad_request(message),
    };
    reconcile(&shared);
    let (change_id, planned, failure, delay) = {
        let mut state = shared.lock();
        let plan = current_plan(&state);
        let planned = match plan_action(&state, &plan, &body.action, &body.services) {
            Ok(p) => p,
            Err(r) => return envelope::error(r.status, r.message, r.kind),
        };
        if body.action == "replan" {
            // Pebble starts the checks before it creates the replan change.
            checks::replan(&shared, &mut state, &plan);
        }
        let tasks: Vec<(String, String)> = planned.ops.iter().map(Op::task).collect();
        let change_id = state
            .changes
            .create(&planned.kind, planned.summary.clone(), &tasks);
        let failure = state.take_failing(&planned.kind);
        let delay = state.change_delays.get(&planned.kind).copied();
        (change_id, planned, failure, delay)
    };
    let job = run_change(shared.clone(), change_id, planned, failure, delay);
    if delay.is_some() || shared.runner().takes_time() {
        tokio::spawn(job);
    } else {
        job.await;
    }
    envelope::async_change(change_id, &Value::Null)
}

/// The change id if it exists; otherwise Pebble's 404.
fn parse_change_id(shared: &Shared, id: &str) -> Option<u64> {
    id.parse()
        .ok()
        .filter(|n| shared.lock().changes.get(*n).is_some())
}

fn change_not_found(id: &str) -> Response {
    envelope::error(404, format!("cannot find change with id \"{id}\""), None)
}

/// `GET /v1/changes/{id}`.
pub async fn get_change(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let Some(n) = parse_change_id(&shared, &id) else {
        return change_not_found(&id);
    };
    let state = shared.lock();
    match state.changes.get(n) {
        Some(change) => envelope::sync(&change.view()),
        None => change_not_found(&id),
    }
}

/// `GET /v1/changes/{id}/wait?timeout=`: blocks until ready; 504 on timeout.
pub async fn wait_change(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    let timeout = match params.get("timeout").map(String::as_str) {
        None | Some("") => None,
        Some(t) => match parse_go_duration(t) {
            Some(d) => Some(d),
            None => return envelope::bad_request(format!("invalid timeout \"{t}\"")),
        },
    };
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut rx = shared.changes_tx.subscribe();
    loop {
        let Some(n) = parse_change_id(&shared, &id) else {
            return change_not_found(&id);
        };
        if let Some(change) = shared.lock().changes.get(n).filter(|c| c.ready()) {
            return envelope::sync(&change.view());
        }
        let wait = rx.changed();
        let woke = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                tokio::time::timeout(left, wait).await.map(|r| r.is_ok())
            }
            None => Ok(wait.await.is_ok()),
        };
        match woke {
            Ok(true) => {}
            Ok(false) => return envelope::error(500, "change notifications stopped", None),
            Err(_) => {
                let t = format_go_duration(timeout.unwrap_or(Duration::ZERO));
                return envelope::error(
                    504,
                    format!("timed out waiting for change after {t}"),
                    None,
                );
            }
        }
    }
}

/// `GET /v1/changes?select=all|in-progress|ready`.
pub async fn list_changes(State(shared): State<Arc<Shared>>, Query(params): Params) -> Response {
    let select = params
        .get("select")
        .map(String::as_str)
        .unwrap_or("in-progress");
    let state = shared.lock();
    let list: Vec<_> = state
        .changes
        .all()
        .filter(|c| match select {
            "all" => true,
            "ready" => c.ready(),
            _ => !c.ready(),
        })
        .map(|c| c.view())
        .collect();
    envelope::sync(&list)
}

/// A check as `GET /v1/checks` reports it.
pub struct CheckInfo {
    /// Name.
    pub name: String,
    /// Level.
    pub level: Option<CheckLevel>,
    /// Startup.
    pub startup: Startup,
    /// Status (a status pinned by the test wins).
    pub status: CheckStatus,
    /// Successes of the current run.
    pub successes: u64,
    /// Failures in a row.
    pub failures: u64,
    /// Threshold.
    pub threshold: u32,
    /// Change running the check.
    pub change_id: Option<u64>,
    /// Change that ran it before.
    pub prev_change_id: Option<u64>,
}

/// The checks the daemon knows, in name order.
pub fn check_infos(state: &FakeState) -> Vec<CheckInfo> {
    state
        .checks
        .iter()
        .map(|(name, data)| CheckInfo {
            name: name.clone(),
            level: data.level,
            startup: data.startup,
            status: state
                .check_overrides
                .get(name)
                .copied()
                .unwrap_or(data.status),
            successes: data.successes,
            failures: data.failures,
            threshold: data.threshold,
            change_id: data.change_id,
            prev_change_id: data.prev_change_id,
        })
        .collect()
}

/// One entry of `GET /v1/checks`, in Pebble's field order.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct CheckEntry {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    level: Option<&'static str>,
    startup: &'static str,
    status: &'static str,
    successes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    failures: u64,
    threshold: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    change_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev_change_id: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `GET /v1/checks?level=&names=`: the level filter is exact (`ready` does not include alive
/// checks here, unlike `/v1/health`).
pub async fn get_checks(State(shared): State<Arc<Shared>>, Query(params): Params) -> Response {
    let level = match level_param(&params) {
        Ok(level) => level,
        Err(message) => return envelope::bad_request(message),
    };
    let names = names_param(&params);
    let state = shared.lock();
    let list: Vec<CheckEntry> = check_infos(&state)
        .into_iter()
        .filter(|c| names.is_empty() || names.contains(&c.name))
        .filter(|c| level.is_none() || c.level == level)
        .map(|c| CheckEntry {
            level: c.level.map(|l| match l {
                CheckLevel::Alive => "alive",
                CheckLevel::Ready => "ready",
            }),
            startup: startup_str(c.startup),
            status: c.status.as_str(),
            successes: c.successes,
            failures: c.failures,
            threshold: c.threshold,
            change_id: c.change_id.map(|id| id.to_string()),
            prev_change_id: c.prev_change_id.map(|id| id.to_string()),
            name: c.name,
        })
        .collect();
    envelope::sync(&list)
}

#[derive(Deserialize)]
struct ChecksBody {
    #[serde(default)]
    action: String,
    #[serde(default)]
    checks: Vec<String>,
}

/// `POST /v1/checks`: `start` or `stop` named checks; answers `{"changed": [...]}` (sorted).
pub async fn post_checks(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body: ChecksBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return envelope::bad_request(format!("cannot decode data from request body: {e}"))
        }
    };
    if body.checks.is_empty() {
        return envelope::bad_request(format!("must specify checks for {} action", body.action));
    }
    if !matches!(body.action.as_str(), "start" | "stop") {
        return envelope::bad_request(format!("invalid action {:?}", body.action));
    }
    let mut state = shared.lock();
    let plan = current_plan(&state);
    let mut missing: Vec<&str> = body
        .checks
        .iter()
        .filter(|n| !plan.checks.contains_key(*n))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        missing.sort_unstable();
        return envelope::bad_request(format!(
            "cannot {} checks: cannot find checks in plan: {}",
            body.action,
            missing.join(", ")
        ));
    }
    let mut changed = if body.action == "start" {
        checks::start(&shared, &mut state, &plan, &body.checks)
    } else {
        checks::stop(&mut state, &plan, &body.checks)
    };
    drop(state);
    shared.notify_changes();
    changed.sort();
    envelope::sync(&json!({ "changed": changed }))
}

#[derive(Deserialize)]
struct SignalsBody {
    #[serde(default)]
    signal: String,
    #[serde(default)]
    services: Vec<String>,
}

/// `POST /v1/signals`: delivered to running services through the runner, and recorded.
pub async fn post_signals(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body: SignalsBody = match parse_body(&body) {
        Ok(b) => b,
        Err(message) => return envelope::bad_request(message),
    };
    if body.services.is_empty() {
        return envelope::bad_request("must specify one or more services");
    }
    reconcile(&shared);
    {
        let state = shared.lock();
        let plan = current_plan(&state);
        for name in &body.services {
            if !plan.services.contains_key(name)
                || state.current(name) != super::state::ServiceCurrent::Active
            {
                return envelope::bad_request(format!(
                    "cannot send signal to \"{name}\": service is not running"
                ));
            }
        }
    }
    let runner = shared.runner();
    for name in &body.services {
        if let Err(e) = runner.signal(name, &body.signal) {
            return envelope::bad_request(e);
        }
        shared
            .lock()
            .signals
            .push((name.clone(), body.signal.clone()));
    }
    envelope::sync(&true)
}

/// `GET /v1/notices`: the fake raises no notices.
pub async fn get_notices() -> Response {
    envelope::sync(&json!([]))
}

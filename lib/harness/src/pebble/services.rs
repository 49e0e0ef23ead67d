//! Service actions (`start`, `stop`, `restart`, `replan`, `autostart`): which tasks a request
//! becomes, and running those tasks against the [`ServiceRunner`](super::ServiceRunner).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pebble::{Plan, Service, Startup};

use super::changes::{services_summary, ChangeStatus};
use super::state::{ServiceCurrent, ServiceRuntime, Shared, State};

/// One step of a service change.
#[derive(Debug, Clone)]
pub enum Op {
    /// Start the service with this definition.
    Start(String, Box<Service>),
    /// Stop the service.
    Stop(String),
}

impl Op {
    /// `(task kind, task summary)` of this step.
    pub fn task(&self) -> (String, String) {
        match self {
            Op::Start(name, _) => ("start".into(), format!("Start service \"{name}\"")),
            Op::Stop(name) => ("stop".into(), format!("Stop service \"{name}\"")),
        }
    }
}

/// What a service request turns into.
#[derive(Debug, Clone)]
pub struct PlannedChange {
    /// Change kind (= the action).
    pub kind: String,
    /// Change summary.
    pub summary: String,
    /// Tasks in order.
    pub ops: Vec<Op>,
    /// Services whose stop+start counts as a restart.
    pub restarts: BTreeSet<String>,
}

/// A rejected request: HTTP status, message and optional error kind.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// HTTP status.
    pub status: u16,
    /// `result.message`.
    pub message: String,
    /// `result.kind`.
    pub kind: Option<&'static str>,
}

fn reject(message: String) -> Rejection {
    Rejection {
        status: 400,
        message,
        kind: None,
    }
}

/// Works out the tasks for `action` on `names` given the current plan and runtime state.
pub fn plan_action(
    state: &State,
    plan: &Plan,
    action: &str,
    names: &[String],
) -> Result<PlannedChange, Rejection> {
    match action {
        "start" | "stop" | "restart" => {
            if names.is_empty() {
                return Err(reject(format!("must specify services for {action} action")));
            }
            if let Some(missing) = names.iter().find(|n| !plan.services.contains_key(*n)) {
                return Err(reject(format!(
                    "cannot {action} services: service \"{missing}\" does not exist"
                )));
            }
        }
        "replan" | "autostart" => {
            if !names.is_empty() {
                return Err(reject(format!("{action} accepts no service names")));
            }
        }
        other => return Err(reject(format!("invalid action \"{other}\""))),
    }
    let def = |name: &str| plan.services.get(name).cloned().unwrap_or_default();
    let running = |name: &str| state.current(name) == ServiceCurrent::Active;
    let mut restarts = BTreeSet::new();
    let (ops, summary_names) = match action {
        "start" => {
            let order = start_order(plan, &with_requirements(plan, names));
            let ops = order
                .iter()
                .map(|n| Op::Start(n.clone(), Box::new(def(n))))
                .collect();
            (ops, order)
        }
        "stop" => {
            let mut order = with_dependents(plan, names);
            order.reverse();
            let ops = order.iter().map(|n| Op::Stop(n.clone())).collect();
            (ops, names.to_vec())
        }
        "restart" => {
            let order = start_order(plan, &with_requirements(plan, names));
            let mut ops: Vec<Op> = order
                .iter()
                .rev()
                .filter(|n| running(n))
                .map(|n| Op::Stop(n.clone()))
                .collect();
            restarts.extend(order.iter().filter(|n| running(n)).cloned());
            ops.extend(order.iter().map(|n| Op::Start(n.clone(), Box::new(def(n)))));
            (ops, names.to_vec())
        }
        "replan" => {
            let stop: Vec<String> = state
                .services
                .iter()
                .filter(|(_, rt)| rt.current == ServiceCurrent::Active)
                .filter(
                    |(name, rt)| match (plan.services.get(*name), &rt.started_with) {
                        (Some(new), Some(old)) => pebble::service_changed(old, new),
                        _ => true,
                    },
                )
                .map(|(name, _)| name.clone())
                .collect();
            let wanted: Vec<String> = plan
                .services
                .iter()
                .filter(|(name, svc)| {
                    stop.contains(name) || (svc.startup == Some(Startup::Enabled) && !running(name))
                })
                .map(|(name, _)| name.clone())
                .collect();
            let start = start_order(plan, &with_requirements(plan, &wanted));
            restarts.extend(start.iter().filter(|n| stop.contains(n)).cloned());
            let mut ops: Vec<Op> = stop.iter().rev().map(|n| Op::Stop(n.clone())).collect();
            ops.extend(start.iter().map(|n| Op::Start(n.clone(), Box::new(def(n)))));
            let names = if start.is_empty() { stop } else { start };
            (ops, names)
        }
        _ => {
            let enabled: Vec<String> = plan
                .services
                .iter()
                .filter(|(_, svc)| svc.startup == Some(Startup::Enabled))
                .map(|(name, _)| name.clone())
                .collect();
            if enabled.is_empty() {
                return Err(Rejection {
                    status: 400,
                    message: "no default services".into(),
                    kind: Some("no-default-services"),
                });
            }
            let order = start_order(plan, &with_requirements(plan, &enabled));
            let ops = order
                .iter()
                .map(|n| Op::Start(n.clone(), Box::new(def(n))))
                .collect();
            (ops, order)
        }
    };
    let verb = capitalise(action);
    Ok(PlannedChange {
        kind: action.to_string(),
        summary: services_summary(&verb, &summary_names),
        ops,
        restarts,
    })
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `names` plus everything they (transitively) require.
fn with_requirements(plan: &Plan, names: &[String]) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    let mut todo: Vec<String> = names.to_vec();
    while let Some(name) = todo.pop() {
        if plan.services.contains_key(&name) && set.insert(name.clone()) {
            todo.extend(plan.services[&name].requires.iter().cloned());
        }
    }
    set
}

/// `names` plus every service that (transitively) requires one of them, in start order.
fn with_dependents(plan: &Plan, names: &[String]) -> Vec<String> {
    let mut set: BTreeSet<String> = names.iter().cloned().collect();
    loop {
        let more: Vec<String> = plan
            .services
            .iter()
            .filter(|(n, s)| !set.contains(*n) && s.requires.iter().any(|r| set.contains(r)))
            .map(|(n, _)| n.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        set.extend(more);
    }
    start_order(plan, &set)
}

/// Orders services by their `after`/`before` constraints (name order otherwise).
fn start_order(plan: &Plan, names: &BTreeSet<String>) -> Vec<String> {
    let must_precede = |a: &str, b: &str| {
        let after = plan
            .services
            .get(b)
            .is_some_and(|s| s.after.iter().any(|x| x == a));
        let before = plan
            .services
            .get(a)
            .is_some_and(|s| s.before.iter().any(|x| x == b));
        after || before
    };
    let mut left: Vec<String> = names.iter().cloned().collect();
    let mut order = Vec::with_capacity(left.len());
    while !left.is_empty() {
        // Cycles are rejected when layers are added; fall back to name order regardless.
        let pos = left
            .iter()
            .position(|b| !left.iter().any(|a| a != b && must_precede(a, b)))
            .unwrap_or(0);
        order.push(left.remove(pos));
    }
    order
}

/// Marks `active` services whose process the runner reports dead as `error` (Pebble's state
/// for a service that exited and is not being restarted).
pub fn reconcile(shared: &Shared) {
    let runner = shared.runner();
    let mut state = shared.lock();
    let dead: Vec<String> = state
        .services
        .iter()
        .filter(|(_, rt)| rt.current == ServiceCurrent::Active)
        .filter(|(name, _)| runner.is_running(name) == Some(false))
        .map(|(name, _)| name.clone())
        .collect();
    let now = SystemTime::now();
    for name in dead {
        set_current(&mut state, &name, ServiceCurrent::Error, now);
    }
}

/// Runs the tasks of change `change_id` (created from `planned`), updating state and counters.
/// `failure` (from a test's `fail_change`) fails the first start task, or the first task.
pub async fn run_change(
    shared: Arc<Shared>,
    change_id: u64,
    planned: PlannedChange,
    failure: Option<String>,
    delay: Option<Duration>,
) {
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let fail_at = failure.as_ref().map(|_| {
        planned
            .ops
            .iter()
            .position(|op| matches!(op, Op::Start(..)))
            .unwrap_or(0)
    });
    let mut error: Option<(usize, String)> = None;
    for (index, op) in planned.ops.iter().enumerate() {
        let outcome = if fail_at == Some(index) {
            Err(failure.clone().unwrap_or_default())
        } else {
            run_op(&shared, op).await
        };
        let mut state = shared.lock();
        let now = SystemTime::now();
        match outcome {
            Ok(log) => {
                apply_op(&mut state, op, &planned.restarts, log.is_none(), now);
                if let Some(task) = task_mut(&mut state, change_id, index) {
                    task.status = ChangeStatus::Done;
                    task.ready_time = Some(now);
                    task.log.extend(log);
                }
            }
            Err(message) => {
                if let Op::Start(name, _) = op {
                    set_current(&mut state, name, ServiceCurrent::Error, now);
                }
                if let Some(task) = task_mut(&mut state, change_id, index) {
                    task.status = ChangeStatus::Error;
                    task.ready_time = Some(now);
                    task.log.push(format!("ERROR {message}"));
                }
                error = Some((index, message));
                break;
            }
        }
    }
    let mut state = shared.lock();
    if let Some(change) = state.changes.get_mut(change_id) {
        match error {
            None => change.finish(ChangeStatus::Done, None),
            Some((index, message)) => {
                for task in change.tasks.iter_mut().skip(index + 1) {
                    task.status = ChangeStatus::Hold;
                }
                let summary = change.tasks.get(index).map(|t| t.summary.clone());
                let err = format!(
                    "cannot perform the following tasks:\n- {} ({message})",
                    summary.unwrap_or_default()
                );
                change.finish(ChangeStatus::Error, Some(err));
            }
        }
    }
    drop(state);
    shared.notify_changes();
}

fn task_mut(state: &mut State, change_id: u64, index: usize) -> Option<&mut super::changes::Task> {
    state
        .changes
        .get_mut(change_id)
        .and_then(|c| c.tasks.get_mut(index))
}

/// Runs one op on the runner unless it is a no-op; `Ok(Some(log))` for a no-op.
async fn run_op(shared: &Arc<Shared>, op: &Op) -> Result<Option<String>, String> {
    let current = match op {
        Op::Start(name, _) | Op::Stop(name) => shared.lock().current(name),
    };
    let runner = shared.runner();
    let fs_root = shared.fs_root.clone();
    match op.clone() {
        Op::Start(name, _) if current == ServiceCurrent::Active => {
            Ok(Some(format!("Service \"{name}\" already started.")))
        }
        Op::Stop(name) if current != ServiceCurrent::Active => {
            Ok(Some(format!("Service \"{name}\" is not running.")))
        }
        Op::Start(name, service) => {
            tokio::task::spawn_blocking(move || runner.start(&name, &service, &fs_root))
                .await
                .map_err(|e| e.to_string())??;
            Ok(None)
        }
        Op::Stop(name) => {
            tokio::task::spawn_blocking(move || runner.stop(&name))
                .await
                .map_err(|e| e.to_string())??;
            Ok(None)
        }
    }
}

fn apply_op(
    state: &mut State,
    op: &Op,
    restarts: &BTreeSet<String>,
    did_something: bool,
    now: SystemTime,
) {
    if !did_something {
        return;
    }
    match op {
        Op::Start(name, service) => {
            set_current(state, name, ServiceCurrent::Active, now);
            if let Some(rt) = state.services.get_mut(name) {
                rt.started_with = Some((**service).clone());
            }
            let counters = state.counters.entry(name.clone()).or_default();
            counters.starts += 1;
            if restarts.contains(name) {
                counters.restarts += 1;
            }
        }
        Op::Stop(name) => {
            set_current(state, name, ServiceCurrent::Inactive, now);
            state.counters.entry(name.clone()).or_default().stops += 1;
        }
    }
}

fn set_current(state: &mut State, name: &str, current: ServiceCurrent, now: SystemTime) {
    let rt = state
        .services
        .entry(name.to_string())
        .or_insert(ServiceRuntime {
            current,
            since: now,
            started_with: None,
        });
    rt.current = current;
    rt.since = now;
}

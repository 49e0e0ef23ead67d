//! Everything the fake Pebble remembers, behind one lock shared by the server and the test.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use pebble::{Layer, Service};
use serde_json::Value;
use tokio::sync::watch;

use super::changes::ChangeStore;
use super::checks::CheckData;
use super::exec::{ExecHandler, ExecSession};
use super::runner::ServiceRunner;

/// A service's current state as `GET /v1/services` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceCurrent {
    /// Starting or running.
    Active,
    /// Never started, or stopped.
    Inactive,
    /// Waiting to be restarted after exiting.
    Backoff,
    /// Exited and not restarting.
    Error,
}

impl ServiceCurrent {
    /// Pebble's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceCurrent::Active => "active",
            ServiceCurrent::Inactive => "inactive",
            ServiceCurrent::Backoff => "backoff",
            ServiceCurrent::Error => "error",
        }
    }
}

/// A check's status as `GET /v1/checks` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    /// Passing.
    Up,
    /// Failed `threshold` times in a row.
    Down,
    /// Not running.
    Inactive,
}

impl CheckStatus {
    /// Pebble's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Up => "up",
            CheckStatus::Down => "down",
            CheckStatus::Inactive => "inactive",
        }
    }
}

/// How often a service went through each transition (kept across container restarts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceCounters {
    /// Every start of the process, including the start half of a restart.
    pub starts: usize,
    /// Every stop of a running process, including the stop half of a restart.
    pub stops: usize,
    /// Stop-then-start cycles: `restart` of a running service, or `replan` of a changed one.
    pub restarts: usize,
}

/// Runtime side of one service.
#[derive(Debug, Clone)]
pub struct ServiceRuntime {
    /// Current state.
    pub current: ServiceCurrent,
    /// When `current` last changed.
    pub since: SystemTime,
    /// The plan's definition at the last start.
    pub started_with: Option<Service>,
}

/// One HTTP request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// `GET`, `POST`...
    pub method: String,
    /// Path without the query, e.g. `/v1/services`.
    pub path: String,
    /// Raw query string (empty if none).
    pub query: String,
    /// The body when it was JSON; for a multipart file write, the `request` part.
    pub body_json: Option<Value>,
}

/// A one-shot error to answer instead of the real handler.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Method to match (case-insensitive).
    pub method: String,
    /// Path prefix to match, e.g. `/v1/layers`.
    pub path_prefix: String,
    /// HTTP status of the error envelope.
    pub status: u16,
    /// `result.message` of the error envelope.
    pub message: String,
}

/// Ownership requested for a pushed file or made directory (the fake cannot `chown`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ownership {
    /// Numeric user id.
    pub user_id: Option<u32>,
    /// User name.
    pub user: Option<String>,
    /// Numeric group id.
    pub group_id: Option<u32>,
    /// Group name.
    pub group: Option<String>,
}

/// A layer with its label, in plan order.
#[derive(Debug, Clone)]
pub struct LabeledLayer {
    /// The layer's label.
    pub label: String,
    /// The layer as combined so far under that label.
    pub layer: Layer,
}

/// Mutable state of the fake.
pub struct State {
    /// Changes on each simulated Pebble start.
    pub boot_id: String,
    /// Layers in order: the image's layers first, then those added through the API.
    pub layers: Vec<LabeledLayer>,
    /// Layers the image ships (`$PEBBLE/layers`); they come back after a container restart.
    pub image_layers: Vec<LabeledLayer>,
    /// Runtime of services that were ever started this boot.
    pub services: BTreeMap<String, ServiceRuntime>,
    /// Per-service counters.
    pub counters: BTreeMap<String, ServiceCounters>,
    /// Changes this boot.
    pub changes: ChangeStore,
    /// Requests in arrival order.
    pub requests: Vec<RecordedRequest>,
    /// Pending one-shot faults.
    pub faults: Vec<Fault>,
    /// `(kind, message)` of the next changes to fail (one entry per failure).
    pub failing_changes: Vec<(String, String)>,
    /// Changes of these kinds stay `Doing` this long before running.
    pub change_delays: BTreeMap<String, Duration>,
    /// Exec handlers keyed by executable basename.
    pub exec_handlers: BTreeMap<String, ExecHandler>,
    /// Exec sessions keyed by task id, waiting for or running with their websockets.
    pub exec_sessions: BTreeMap<u64, Arc<ExecSession>>,
    /// Checks the daemon knows, by name (see [`super::checks`]).
    pub checks: BTreeMap<String, CheckData>,
    /// Check statuses pinned by the test: shown and counted for health instead of the
    /// status the probes give.
    pub check_overrides: BTreeMap<String, CheckStatus>,
    /// Check probe redirections, `host:port` to `host:port`.
    pub check_addresses: BTreeMap<String, String>,
    /// Signals delivered: `(service, signal)`.
    pub signals: Vec<(String, String)>,
    /// Ownership of pushed paths (container paths).
    pub ownership: BTreeMap<String, Ownership>,
    /// Container directories that survive a wiping container restart.
    pub storage_mounts: Vec<String>,
}

impl State {
    pub(crate) fn new() -> Self {
        State {
            boot_id: new_boot_id(),
            layers: Vec::new(),
            image_layers: Vec::new(),
            services: BTreeMap::new(),
            counters: BTreeMap::new(),
            changes: ChangeStore::default(),
            requests: Vec::new(),
            faults: Vec::new(),
            failing_changes: Vec::new(),
            change_delays: BTreeMap::new(),
            exec_handlers: BTreeMap::new(),
            exec_sessions: BTreeMap::new(),
            checks: BTreeMap::new(),
            check_overrides: BTreeMap::new(),
            check_addresses: BTreeMap::new(),
            signals: Vec::new(),
            ownership: BTreeMap::new(),
            storage_mounts: Vec::new(),
        }
    }

    /// Current state of a service (`inactive` if never started).
    pub fn current(&self, name: &str) -> ServiceCurrent {
        self.services
            .get(name)
            .map_or(ServiceCurrent::Inactive, |s| s.current)
    }

    /// The failure message if a change of `kind` is due to fail; consumes the entry.
    pub fn take_failing(&mut self, kind: &str) -> Option<String> {
        let pos = self.failing_changes.iter().position(|(k, _)| k == kind)?;
        Some(self.failing_changes.remove(pos).1)
    }
}

/// State plus the things the server needs beside it.
pub struct Shared {
    state: Mutex<State>,
    /// Bumped whenever a change finishes, so `/wait` can sleep on it.
    pub changes_tx: watch::Sender<u64>,
    /// Host directory standing for the container's `/`.
    pub fs_root: PathBuf,
    runner: Mutex<Arc<dyn ServiceRunner>>,
    runtime: tokio::runtime::Handle,
}

impl Shared {
    pub(crate) fn new(
        fs_root: PathBuf,
        runner: Arc<dyn ServiceRunner>,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        Shared {
            state: Mutex::new(State::new()),
            changes_tx: watch::channel(0).0,
            fs_root,
            runner: Mutex::new(runner),
            runtime,
        }
    }

    /// The fake's runtime, where check probes run.
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    /// Locks the state (a panicking test thread must not wedge the server).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The service runner.
    pub fn runner(&self) -> Arc<dyn ServiceRunner> {
        self.runner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the service runner.
    pub fn set_runner(&self, runner: Arc<dyn ServiceRunner>) {
        *self.runner.lock().unwrap_or_else(|e| e.into_inner()) = runner;
    }

    /// Wakes everyone waiting on a change.
    pub fn notify_changes(&self) {
        self.changes_tx.send_modify(|v| *v += 1);
    }
}

fn new_boot_id() -> String {
    let b: [u8; 16] = rand::random();
    format!(
        "{}-{}-{}-{}-{}",
        hex(&b[0..4]),
        hex(&b[4..6]),
        hex(&b[6..8]),
        hex(&b[8..10]),
        hex(&b[10..16])
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh Pebble boot: new boot id, only the image's layers, no services or changes; the
/// checks of the image's plan start as at any plan change.
pub(crate) fn reboot(shared: &Arc<Shared>, state: &mut State) {
    state.boot_id = new_boot_id();
    state.layers = state.image_layers.clone();
    state.services.clear();
    state.changes = ChangeStore::default();
    state.exec_sessions.clear();
    super::checks::abort_all(state);
    state.checks.clear();
    state.check_overrides.clear();
    let plan = super::routes::current_plan(state);
    super::checks::plan_changed(shared, state, &plan);
}

//! A fake Pebble that speaks the real Pebble v1.32.1 HTTP API on a Unix socket.
//!
//! [`FakePebble::start`] serves `<root>/pebble.socket` from its own tokio runtime, so both a
//! synchronous test and a charm binary running as a separate process can talk to it with the
//! real client. The container's file system is the real directory `<root>/fs/` (container path
//! `/etc/prometheus/x` is `<root>/fs/etc/prometheus/x`), so tests can run real tools on what the
//! charm pushed.
//!
//! ```no_run
//! use std::time::Duration;
//! use charm_harness::{ExecResult, FakePebble};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let fake = FakePebble::start(dir.path())
//!     .with_prometheus_version("3.5.0")
//!     .with_real_promtool();
//! fake.on_exec("sh", |_req| ExecResult::success("hi\n"));
//!
//! // ... run the charm against fake.socket_path() ...
//! let client = pebble::Client::new(fake.socket_path());
//! client.replan(Duration::from_secs(5)).unwrap();
//!
//! assert_eq!(fake.restarts("prometheus"), 0);
//! let config = fake.read_file("/etc/prometheus/prometheus.yml");
//! # let _ = config;
//! ```
//!
//! Modules: [`server`] (routes, recording, faults, the socket), [`state`] (what is remembered),
//! [`changes`] (changes, tasks, durations), [`checks`] (health checks run as Pebble runs
//! them), [`services`] (service actions and replan),
//! [`files`] (`/v1/files`), [`exec`] (`/v1/exec` and task websockets), [`runner`] (how services
//! run: simulated by default, pluggable) and [`process_runner`] (real processes).

pub mod changes;
pub mod checks;
mod envelope;
pub mod exec;
pub mod files;
pub mod process_runner;
mod routes;
pub mod runner;
pub mod server;
pub mod services;
pub mod state;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::pebble::{Layer, Service};
use serde_json::Value;
use tokio::runtime::Runtime;

pub use exec::{ExecHandler, ExecRequest, ExecResult};
pub use process_runner::ProcessRunner;
pub use runner::{ServiceRunner, SimulatedRunner};
pub use state::{CheckStatus, RecordedRequest, ServiceCounters, ServiceCurrent};

use server::Serving;
use state::{Fault, Shared};

/// A fake Pebble serving the real API on `<root>/pebble.socket`, with its file system under
/// `<root>/fs/`. Dropping it stops the server and removes the socket.
pub struct FakePebble {
    shared: Arc<Shared>,
    root: PathBuf,
    socket_path: PathBuf,
    serving: Mutex<Option<Serving>>,
    runtime: Option<Runtime>,
}

impl FakePebble {
    /// Starts a fake Pebble rooted at `root` (created if missing) with simulated services.
    ///
    /// # Panics
    /// If the directory, runtime or socket cannot be set up (a broken test environment; note
    /// that a Unix socket path must stay under 108 bytes, so keep `root` short).
    pub fn start(root: &Path) -> FakePebble {
        Self::start_with_runner(root, Arc::new(SimulatedRunner))
    }

    /// Starts a fake Pebble whose services run through `runner`.
    ///
    /// # Panics
    /// As [`FakePebble::start`].
    pub fn start_with_runner(root: &Path, runner: Arc<dyn ServiceRunner>) -> FakePebble {
        let fs_root = root.join("fs");
        std::fs::create_dir_all(&fs_root).expect("create the fake container's file system");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fake-pebble")
            .enable_all()
            .build()
            .expect("start the fake Pebble's runtime");
        let shared = Arc::new(Shared::new(fs_root, runner, runtime.handle().clone()));
        let socket_path = root.join("pebble.socket");
        let serving = Serving::start(&runtime, &socket_path, shared.clone())
            .expect("bind the fake Pebble socket");
        FakePebble {
            shared,
            root: root.to_path_buf(),
            socket_path,
            serving: Mutex::new(Some(serving)),
            runtime: Some(runtime),
        }
    }

    // -- where things are ------------------------------------------------------------------

    /// The Unix socket the API is served on.
    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }

    /// The host directory standing for the container's `/`.
    pub fn fs_root(&self) -> &Path {
        &self.shared.fs_root
    }

    /// The directory the fake was started in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Host path of a container path.
    pub fn host_path(&self, container_path: &str) -> PathBuf {
        files::host_path(self.fs_root(), container_path)
    }

    // -- files -----------------------------------------------------------------------------

    /// Contents of a container file, `None` if it is missing or not a file.
    pub fn read_file(&self, container_path: &str) -> Option<Vec<u8>> {
        std::fs::read(self.host_path(container_path)).ok()
    }

    /// Puts a file into the container (parents created), as if the image shipped it.
    ///
    /// # Panics
    /// If the file cannot be written.
    pub fn write_file(&self, container_path: &str, content: impl AsRef<[u8]>) {
        let path = self.host_path(container_path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directories");
        }
        std::fs::write(&path, content).expect("write file into the fake container");
    }

    /// Marks a container directory as mounted storage: it survives
    /// [`FakePebble::restart_container`] with `wipe_files`.
    pub fn mount_storage(&self, container_dir: &str) {
        let dir = container_dir.trim_end_matches('/').to_string();
        let _ = std::fs::create_dir_all(self.host_path(&dir));
        self.shared.lock().storage_mounts.push(dir);
    }

    // -- layers and services ---------------------------------------------------------------

    /// The combined plan.
    pub fn plan(&self) -> Layer {
        routes::current_plan(&self.shared.lock())
    }

    /// The plan as `GET /v1/plan?format=yaml` prints it.
    pub fn plan_yaml(&self) -> String {
        ::pebble::plan_to_yaml(&self.plan())
    }

    /// Adds a layer as if the image shipped it in `$PEBBLE/layers`: it sits before every
    /// API-added layer and survives [`FakePebble::restart_container`].
    ///
    /// # Panics
    /// If the layer is invalid or does not combine with the current plan.
    pub fn add_image_layer(&self, label: &str, layer: &Layer) {
        let mut state = self.shared.lock();
        let entry = state::LabeledLayer {
            label: label.to_string(),
            layer: layer.clone(),
        };
        let mut layers = state.layers.clone();
        layers.insert(state.image_layers.len(), entry.clone());
        let pairs: Vec<(String, Layer)> = layers
            .iter()
            .map(|l| (l.label.clone(), l.layer.clone()))
            .collect();
        if let Err(e) = ::pebble::combine_layers(&pairs) {
            panic!("image layer {label:?} is invalid: {e}");
        }
        state.layers = layers;
        state.image_layers.push(entry);
        let plan = routes::current_plan(&state);
        checks::plan_changed(&self.shared, &mut state, &plan);
    }

    /// The layers, in order, as `(label, layer)`.
    pub fn layers(&self) -> Vec<(String, Layer)> {
        self.shared
            .lock()
            .layers
            .iter()
            .map(|l| (l.label.clone(), l.layer.clone()))
            .collect()
    }

    /// Current state of a service in the plan (`None` if the plan has no such service).
    pub fn service_status(&self, name: &str) -> Option<ServiceCurrent> {
        services::reconcile(&self.shared);
        let state = self.shared.lock();
        routes::current_plan(&state)
            .services
            .contains_key(name)
            .then(|| state.current(name))
    }

    /// Start/stop/restart counters of a service (all zero if never touched).
    pub fn service_counters(&self, name: &str) -> ServiceCounters {
        self.shared
            .lock()
            .counters
            .get(name)
            .copied()
            .unwrap_or_default()
    }

    /// How many times the service was started (including restarts).
    pub fn starts(&self, name: &str) -> usize {
        self.service_counters(name).starts
    }

    /// How many times the running service was stopped (including restarts).
    pub fn stops(&self, name: &str) -> usize {
        self.service_counters(name).stops
    }

    /// How many stop-then-start cycles the service went through.
    pub fn restarts(&self, name: &str) -> usize {
        self.service_counters(name).restarts
    }

    /// The service definition it was last started with.
    pub fn services_started_with(&self, name: &str) -> Option<Service> {
        self.shared
            .lock()
            .services
            .get(name)
            .and_then(|s| s.started_with.clone())
    }

    /// Signals delivered through `POST /v1/signals`, as `(service, signal)`.
    pub fn signals(&self) -> Vec<(String, String)> {
        self.shared.lock().signals.clone()
    }

    /// Every change of this boot as Pebble's JSON.
    pub fn changes(&self) -> Vec<Value> {
        self.shared
            .lock()
            .changes
            .all()
            .map(|c| c.to_json())
            .collect()
    }

    /// Pins a check's status: `GET /v1/checks` and `/v1/health` report `status` whatever its
    /// probes give (`down` makes `/v1/health` answer 502) until
    /// [`FakePebble::clear_check_status`] or a container restart. Checks otherwise really run
    /// (see [`checks`]); to make one fail honestly, point it at something that fails.
    pub fn set_check_status(&self, name: &str, status: CheckStatus) {
        self.shared
            .lock()
            .check_overrides
            .insert(name.to_string(), status);
    }

    /// Lets a check report what its probes give again.
    pub fn clear_check_status(&self, name: &str) {
        self.shared.lock().check_overrides.remove(name);
    }

    /// Sends the probes of checks aimed at `from` (`host:port`, e.g. `localhost:9090`) to `to`
    /// (e.g. `127.0.0.1:41234`), for a service a test runs elsewhere than the plan says.
    pub fn map_check_address(&self, from: &str, to: &str) -> &Self {
        self.shared
            .lock()
            .check_addresses
            .insert(from.to_string(), to.to_string());
        self
    }

    /// What the daemon knows of a check (`None` if it never knew it this boot).
    pub fn check(&self, name: &str) -> Option<checks::CheckData> {
        self.shared.lock().checks.get(name).cloned()
    }

    /// Replaces the service runner (see [`runner`]).
    pub fn set_runner(&self, runner: Arc<dyn ServiceRunner>) {
        self.shared.set_runner(runner);
    }

    /// The current boot id (changes on [`FakePebble::restart_container`]).
    pub fn boot_id(&self) -> String {
        self.shared.lock().boot_id.clone()
    }

    // -- requests --------------------------------------------------------------------------

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Number of requests received.
    pub fn request_count(&self) -> usize {
        self.shared.lock().requests.len()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    // -- exec ------------------------------------------------------------------------------

    /// Answers exec of any executable whose basename is `executable` with `handler`.
    pub fn on_exec<F>(&self, executable: &str, handler: F) -> &Self
    where
        F: Fn(&ExecRequest) -> ExecResult + Send + Sync + 'static,
    {
        self.shared
            .lock()
            .exec_handlers
            .insert(executable.to_string(), Arc::new(handler));
        self
    }

    /// Answers `prometheus --version` as Prometheus `version` prints it.
    pub fn with_prometheus_version(self, version: &str) -> Self {
        let handler = exec::prometheus_version_handler(version);
        self.shared
            .lock()
            .exec_handlers
            .insert("prometheus".into(), handler);
        self
    }

    /// Answers `promtool` by running the host's `/usr/bin/promtool` on the fake file system.
    pub fn with_real_promtool(self) -> Self {
        self.with_real_promtool_at(PathBuf::from("/usr/bin/promtool"))
    }

    /// Answers exec of `promtool` by running the promtool at `promtool` on the fake's file
    /// system (see [`exec::real_promtool_handler`]).
    pub fn with_real_promtool_at(self, promtool: impl Into<PathBuf>) -> Self {
        let handler = exec::real_promtool_handler(promtool.into());
        self.shared
            .lock()
            .exec_handlers
            .insert("promtool".into(), handler);
        self
    }

    /// Answers exec of `executable` (basename) by running the host's `host_executable` on the
    /// fake's file system (see [`exec::real_command_handler`]).
    pub fn on_exec_host(&self, executable: &str, host_executable: impl Into<PathBuf>) -> &Self {
        let handler = exec::real_command_handler(host_executable.into());
        self.shared
            .lock()
            .exec_handlers
            .insert(executable.to_string(), handler);
        self
    }

    // -- faults ----------------------------------------------------------------------------

    /// `true` removes the socket and drops every connection (the container is not up, or
    /// Pebble is restarting); `false` serves again on a fresh socket.
    pub fn set_unreachable(&self, unreachable: bool) {
        let mut serving = self.serving.lock().unwrap_or_else(|e| e.into_inner());
        match (unreachable, serving.is_some()) {
            (true, true) => {
                if let Some(s) = serving.take() {
                    s.stop();
                }
            }
            (false, false) => {
                let runtime = self
                    .runtime
                    .as_ref()
                    .expect("runtime lives as long as the fake");
                *serving = Some(
                    Serving::start(runtime, &self.socket_path, self.shared.clone())
                        .expect("rebind the fake Pebble socket"),
                );
            }
            _ => {}
        }
    }

    /// Whether the socket is currently down.
    pub fn is_unreachable(&self) -> bool {
        self.serving
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    /// Answers the next request with this method and path prefix with an error envelope.
    pub fn fail_next(&self, method: &str, path_prefix: &str, status: u16, message: &str) {
        self.shared.lock().faults.push(Fault {
            method: method.to_string(),
            path_prefix: path_prefix.to_string(),
            status,
            message: message.to_string(),
        });
    }

    /// Makes the next service change of `kind` (`replan`, `start`, `restart`, `stop`,
    /// `autostart`) end in `Error`: its first start task (or first task) fails.
    pub fn fail_change(&self, kind: &str) {
        self.fail_change_with(kind, "injected failure");
    }

    /// Like [`FakePebble::fail_change`] with the task's error text.
    pub fn fail_change_with(&self, kind: &str, message: &str) {
        self.shared
            .lock()
            .failing_changes
            .push((kind.to_string(), message.to_string()));
    }

    /// Keeps service changes of `kind` in `Doing` for `delay` before they run (to exercise
    /// `/wait` timeouts); `Duration::ZERO` removes the delay.
    pub fn delay_changes(&self, kind: &str, delay: Duration) {
        let mut state = self.shared.lock();
        if delay.is_zero() {
            state.change_delays.remove(kind);
        } else {
            state.change_delays.insert(kind.to_string(), delay);
        }
    }

    /// Simulates Pebble restarting with its container: connections drop, the API-added layers,
    /// service states and changes are gone, the boot id changes. With `wipe_files`, every file
    /// outside [mounted storage](FakePebble::mount_storage) is deleted too (a new container
    /// from the image). Counters and recorded requests are kept.
    pub fn restart_container(&self, wipe_files: bool) {
        let was_up = !self.is_unreachable();
        self.set_unreachable(true);
        let runner = self.shared.runner();
        let mounts = {
            let mut state = self.shared.lock();
            for (name, rt) in &state.services {
                if rt.current == ServiceCurrent::Active {
                    let _ = runner.stop(name);
                }
            }
            state::reboot(&self.shared, &mut state);
            state.storage_mounts.clone()
        };
        if wipe_files {
            wipe(self.fs_root(), "", &mounts);
        }
        if was_up {
            self.set_unreachable(false);
        }
    }
}

/// Deletes everything under `host_dir` (container path `container_dir`) except mounts.
fn wipe(host_dir: &Path, container_dir: &str, mounts: &[String]) {
    let Ok(entries) = std::fs::read_dir(host_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let container = format!("{container_dir}/{}", entry.file_name().to_string_lossy());
        let host = entry.path();
        let keep = mounts
            .iter()
            .any(|m| *m == container || m.starts_with(&format!("{container}/")));
        if mounts.contains(&container) {
            continue;
        }
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if keep && is_dir {
            wipe(&host, &container, mounts);
        } else if is_dir {
            let _ = std::fs::remove_dir_all(&host);
        } else {
            let _ = std::fs::remove_file(&host);
        }
    }
}

impl Drop for FakePebble {
    fn drop(&mut self) {
        if let Some(s) = self
            .serving
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            s.stop();
        }
        checks::abort_all(&mut self.shared.lock());
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        self.shared.runner().shutdown();
    }
}

impl std::fmt::Debug for FakePebble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakePebble")
            .field("socket_path", &self.socket_path)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fake_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::FakePebble>();
        assert_send_sync::<crate::prometheus_web::FakePrometheusWeb>();
    }
}

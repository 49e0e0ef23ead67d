//! Shared helpers for the charm behaviour tests: a unit of the charm run in-process against the
//! harness (fake Juju model, fake Pebble with the host's real promtool, fake Prometheus web
//! API), the events of a deployment, and views of what the workload received.

#![allow(dead_code)] // each test file uses a different subset

pub mod effective_config;
pub mod pod;
pub mod process;

use std::path::Path;

use charm_harness::pebble::exec::real_promtool_handler;
use charm_harness::{ModelState, RecordedRequest};
use charm_sim::{charm_model_state, Simulation};
use juju_hook::{Event, RelationEventKind, RelationId, Status, WorkloadEventKind};
use serde_json::Value;

/// The Prometheus version the fake workload reports (Debian's, which the host promtool is).
pub const PROMETHEUS_VERSION: &str = "2.42.0";
/// Two scrape-target applications recorded from the real charm library (see
/// `tests/fixtures/README.md`).
pub const TWO_APPS_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/prometheus_scrape/two-apps.json"
);
/// The real promtool of `version`'s major: Debian's 2.42 for 2.x; for 3.x, 3.14 from
/// `PROMTOOL3_BIN`, else where `scripts/real-systems` caches it.
pub fn promtool_for(version: &str) -> std::path::PathBuf {
    if !version.starts_with('3') {
        return "/usr/bin/promtool".into();
    }
    charm_harness::real_systems::require(charm_harness::real_systems::promtool3())
}

/// Live configuration file in the workload container.
pub const CONFIG_FILE: &str = "/etc/prometheus/prometheus.yml";
/// Where the relation jobs' target files are pushed.
pub const TARGETS_DIR: &str = prometheus_rs_k8s::core::workload::TARGETS_DIR;
/// What the charm records as applied.
pub const MANIFEST_FILE: &str = "/etc/prometheus/.charm-applied.json";
/// Where the charm pushes its own binary for the poller.
pub const POLLER_BINARY: &str = "/opt/prometheus-rs-k8s/prometheus-rs-k8s";

/// A unit of the charm with everything around it faked, promtool real.
pub struct Charm {
    /// The simulation (public so a test can reach any fake directly).
    pub sim: Simulation,
}

impl Charm {
    /// The leader unit of a fresh deployment with config.yaml defaults.
    pub fn leader() -> Charm {
        let mut state = charm_model_state().expect("charm metadata loads");
        state.set_leader(true);
        Charm::with_state(state)
    }

    /// A unit over `state`, whose fake workload answers `prometheus --version` with
    /// [`PROMETHEUS_VERSION`] and runs the host's `/usr/bin/promtool` on what was pushed.
    pub fn with_state(state: ModelState) -> Charm {
        Charm::with_state_on(state, PROMETHEUS_VERSION)
    }

    /// A unit over `state` whose workload runs Prometheus `version`, with the real promtool of
    /// that major (Debian's 2.42, or 3.14 from `scripts/real-systems`).
    pub fn with_state_on(state: ModelState, version: &str) -> Charm {
        let sim = Simulation::start(state, version).expect("simulation starts");
        // Prometheus' ready check probes the fake web API the charm is pointed at.
        sim.pebble
            .map_check_address("localhost:9090", &format!("127.0.0.1:{}", sim.web.port()));
        let promtool = real_promtool_handler(promtool_for(version));
        sim.pebble.on_exec("promtool", move |req| promtool(req));
        Charm { sim }
    }

    /// A unit of the model recorded in the shared two-apps fixture (leader, two
    /// metrics-endpoint relations and a grafana-source one).
    pub fn two_apps(leader: bool) -> Charm {
        let mut state = charm_model_state().expect("charm metadata loads");
        state
            .load_fixture(Path::new(TWO_APPS_FIXTURE))
            .expect("fixture loads");
        state.set_leader(leader);
        Charm::with_state(state)
    }

    /// Runs one event as Juju would; buffered hook-tool writes are committed on success.
    pub fn run(&self, event: &Event) -> anyhow::Result<()> {
        self.sim.run(event)
    }

    /// Runs one event that must succeed (hook exit 0).
    #[track_caller]
    pub fn ok(&self, event: &Event) {
        if let Err(e) = self.run(event) {
            panic!("{} failed: {e:#}", event.name());
        }
    }

    /// The first-deploy sequence: install, leader-elected (for a leader), config-changed,
    /// prometheus-pebble-ready, start.
    pub fn deploy(&self) {
        let leader = self.sim.juju.state().leader;
        self.ok(&Event::Install);
        if leader {
            self.ok(&Event::LeaderElected);
        }
        self.ok(&Event::ConfigChanged);
        self.ok(&pebble_ready());
        self.ok(&Event::Start);
    }

    /// The unit status last set.
    pub fn status(&self) -> Status {
        self.sim
            .juju
            .state()
            .unit_status
            .clone()
            .expect("a status was set")
    }

    /// Asserts the unit is Active with an empty message.
    #[track_caller]
    pub fn assert_active(&self) {
        assert_eq!(self.status(), Status::active(""));
    }

    /// Asserts that no Pebble request since the last `reset_records` changed the workload.
    #[track_caller]
    pub fn assert_nothing_written(&self) {
        assert_eq!(
            mutating(&self.requests()),
            Vec::<&charm_harness::RecordedRequest>::new()
        );
    }

    /// Sets a config option as `juju config` would (type-checked against config.yaml).
    pub fn set_config(&self, key: &str, value: impl Into<Value>) {
        self.sim
            .juju
            .state()
            .set_config(key, value)
            .expect("option and type fit config.yaml");
    }

    /// `juju config <key>=<value>` then the config-changed hook, which must succeed.
    pub fn configure(&self, key: &str, value: impl Into<Value>) {
        self.set_config(key, value);
        self.ok(&Event::ConfigChanged);
    }

    /// What the charm directory keeps of the workload (target record, results, the
    /// in-flight marker).
    pub fn book(&self) -> prometheus_rs_k8s::effects::targets_record::TargetsBook {
        let dir = self.sim.juju.state().charm_dir.clone();
        prometheus_rs_k8s::effects::targets_record::TargetsBook::in_charm_dir(&dir)
    }

    /// A container file as text, `None` when absent.
    pub fn file(&self, container_path: &str) -> Option<String> {
        self.sim
            .pebble
            .read_file(container_path)
            .map(|b| String::from_utf8(b).expect("UTF-8 file"))
    }

    /// The live prometheus.yml as Prometheus sees it: the relation jobs' targets inlined from
    /// their target files (see [`effective_config`]).
    pub fn config_yaml(&self) -> String {
        effective_config::of_container(&self.sim.pebble)
    }

    /// The live prometheus.yml as pushed.
    pub fn pushed_config_yaml(&self) -> String {
        self.file(CONFIG_FILE).expect("prometheus.yml is present")
    }

    /// The live prometheus.yml parsed, targets inlined.
    pub fn config_value(&self) -> serde_yaml_ng::Value {
        serde_yaml_ng::from_str(&self.config_yaml()).expect("prometheus.yml is YAML")
    }

    /// Job names in the live prometheus.yml, in order.
    pub fn job_names(&self) -> Vec<String> {
        self.config_value()["scrape_configs"]
            .as_sequence()
            .map(|jobs| {
                jobs.iter()
                    .filter_map(|j| j["job_name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// File names in a container directory, sorted (empty when it does not exist).
    pub fn dir_entries(&self, container_dir: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.sim.pebble.host_path(container_dir))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// What the services went through so far, and how often Prometheus reloaded.
    pub fn counters(&self) -> Counters {
        let p = &self.sim.pebble;
        Counters {
            prometheus_starts: p.starts("prometheus"),
            prometheus_stops: p.stops("prometheus"),
            prometheus_restarts: p.restarts("prometheus"),
            inventory_starts: p.starts("inventory-sd"),
            inventory_stops: p.stops("inventory-sd"),
            inventory_restarts: p.restarts("inventory-sd"),
            reloads: self.sim.web.reload_count(),
        }
    }

    /// Pebble requests received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.sim.pebble.requests()
    }

    /// Forgets recorded Pebble requests and hook-tool call counts, to measure one hook.
    pub fn reset_records(&self) {
        self.sim.pebble.clear_requests();
        self.sim.juju.state().calls.clear();
    }

    /// Total hook-tool calls since the last [`Charm::reset_records`].
    pub fn tool_calls(&self) -> u64 {
        self.sim.juju.state().total_calls()
    }

    /// The app databag this unit's application wrote on a relation (committed).
    pub fn local_app_data(&self, relation: &RelationId) -> juju_hook::RelationData {
        self.sim
            .juju
            .state()
            .relation(relation)
            .expect("relation exists")
            .local_app_data
            .clone()
    }

    /// The `event` key of our app databag on a relation, parsed.
    pub fn event_feedback(&self, relation: &RelationId) -> Option<Value> {
        self.local_app_data(relation)
            .get("event")
            .map(|s| serde_json::from_str(s).expect("event is JSON"))
    }

    /// One key of a remote application's databag, parsed as JSON.
    pub fn remote_app_key(&self, relation: &RelationId, key: &str) -> Value {
        let state = self.sim.juju.state();
        serde_json::from_str(
            &state
                .relation(relation)
                .expect("relation exists")
                .remote_app_data[key],
        )
        .expect("the key holds JSON")
    }

    /// Rewrites one key of a remote application's databag (as JSON).
    pub fn set_remote_app_key(&self, relation: &RelationId, key: &str, value: &Value) {
        let mut state = self.sim.juju.state();
        let mut data = state
            .relation(relation)
            .expect("relation exists")
            .remote_app_data
            .clone();
        data.insert(key.into(), value.to_string());
        state.set_remote_app_data(relation, &data);
    }

    /// The event of `kind` on `relation` (remote unit given for joined/changed/departed).
    pub fn relation_event(
        &self,
        relation: &RelationId,
        kind: RelationEventKind,
        unit: Option<&str>,
    ) -> Event {
        self.sim.juju.state().relation_event(relation, kind, unit)
    }
}

/// Service transitions and reloads, to compare before and after a hook.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Starts of `prometheus` (restarts included).
    pub prometheus_starts: usize,
    /// Stops of a running `prometheus` (restarts included).
    pub prometheus_stops: usize,
    /// Stop-then-start cycles of `prometheus`.
    pub prometheus_restarts: usize,
    /// Starts of `inventory-sd`.
    pub inventory_starts: usize,
    /// Stops of `inventory-sd`.
    pub inventory_stops: usize,
    /// Stop-then-start cycles of `inventory-sd`.
    pub inventory_restarts: usize,
    /// `POST /-/reload` received by the fake Prometheus.
    pub reloads: usize,
}

/// Whether the host's Prometheus and promtool are there, for tests that run them: without
/// them such a test fails on CI (`CI=true`) and is skipped elsewhere.
pub fn have_prometheus() -> bool {
    use charm_sim::demo;
    if demo::host_has_prometheus() {
        return true;
    }
    let message = format!(
        "{} or {} is missing (sudo apt-get install --no-install-recommends prometheus)",
        demo::HOST_PROMETHEUS,
        demo::HOST_PROMTOOL
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
    eprintln!("SKIPPED: {message}");
    false
}

/// `prometheus-pebble-ready`.
pub fn pebble_ready() -> Event {
    Event::Workload {
        container: "prometheus".into(),
        kind: WorkloadEventKind::PebbleReady,
    }
}

/// The metrics-endpoint relation of the fixture with this id.
pub fn metrics_relation(id: u32) -> RelationId {
    RelationId::new("metrics-endpoint", id)
}

/// Requests that change the workload: everything but reads (`GET`) and command runs
/// (`POST /v1/exec`, which the charm uses only for `--version` and promtool).
pub fn mutating(requests: &[RecordedRequest]) -> Vec<&RecordedRequest> {
    requests
        .iter()
        .filter(|r| r.method != "GET" && r.path != "/v1/exec")
        .collect()
}

/// Mutating requests other than pushes of the charm's own record of what it applied (which
/// changes whenever a hook's inputs do, even when the workload does not).
pub fn workload_changes(requests: &[RecordedRequest]) -> Vec<&RecordedRequest> {
    mutating(requests)
        .into_iter()
        .filter(|r| written_paths(std::slice::from_ref(*r)) != [MANIFEST_FILE])
        .collect()
}

/// `POST <path>` requests whose JSON body has this `action`.
fn posts_with_action<'a>(
    requests: &'a [RecordedRequest],
    path: &str,
    action: &str,
) -> Vec<&'a RecordedRequest> {
    requests
        .iter()
        .filter(|r| r.method == "POST" && r.path == path)
        .filter(|r| {
            r.body_json
                .as_ref()
                .and_then(|b| b.get("action"))
                .and_then(Value::as_str)
                == Some(action)
        })
        .collect()
}

/// `POST /v1/files` requests with this action (`write`, `remove`, `make-dirs`).
pub fn file_requests<'a>(
    requests: &'a [RecordedRequest],
    action: &str,
) -> Vec<&'a RecordedRequest> {
    posts_with_action(requests, "/v1/files", action)
}

/// Container paths written by `POST /v1/files` write requests.
pub fn written_paths(requests: &[RecordedRequest]) -> Vec<String> {
    file_requests(requests, "write")
        .iter()
        .flat_map(|r| {
            r.body_json
                .as_ref()
                .and_then(|b| b.get("files"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|f| f.get("path").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// Requests to this method and path.
pub fn count(requests: &[RecordedRequest], method: &str, path: &str) -> usize {
    requests
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}

/// `POST /v1/services` requests with this action (`replan`, `restart`, `stop`...).
pub fn service_actions(requests: &[RecordedRequest], action: &str) -> usize {
    posts_with_action(requests, "/v1/services", action).len()
}

/// Juju topology a scrape-target charm writes as `scrape_metadata`.
pub fn scrape_metadata(app: &str) -> String {
    serde_json::json!({
        "model": "workloads",
        "model_uuid": "f4b3a2c1-0d9e-4f8a-b7c6-5d4e3f2a1b0c",
        "application": app,
        "unit": format!("{app}/0"),
        "charm_name": format!("{app}-k8s"),
    })
    .to_string()
}

/// Adds a metrics-endpoint relation to `app` with id `id`, one unit `<app>/0` and the given
/// `scrape_jobs` (and `alert_rules`, when given) in the app databag, as the scrape library
/// writes them.
pub fn add_scrape_app(
    state: &mut ModelState,
    app: &str,
    id: u32,
    jobs: Value,
    rules: Option<Value>,
) -> RelationId {
    let rel = state.add_relation_with_id("metrics-endpoint", app, id);
    let mut data = juju_hook::RelationData::new();
    data.insert("scrape_metadata".into(), scrape_metadata(app));
    data.insert("scrape_jobs".into(), jobs.to_string());
    if let Some(rules) = rules {
        data.insert("alert_rules".into(), rules.to_string());
    }
    state.set_remote_app_data(&rel, &data);
    let unit = format!("{app}/0");
    state.add_remote_unit(&rel, &unit);
    let unit_data = juju_hook::RelationData::from([
        (
            "prometheus_scrape_unit_address".to_string(),
            "10.1.2.10".to_string(),
        ),
        ("prometheus_scrape_unit_name".to_string(), unit.clone()),
    ]);
    state.set_remote_unit_data(&rel, &unit, &unit_data);
    rel
}

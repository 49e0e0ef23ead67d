//! Logs and traces leaving the pod, against the real systems: the compiled charm, run as Juju
//! runs it, configures a real Pebble v1.32.1 running the real Prometheus 3.14 (the pod of
//! `common::pod`), and the test runs the receivers on the pod's loopback:
//!
//! - a Loki push API (`POST /loki/api/v1/push`, the JSON streams Pebble's Loki client sends):
//!   the `logging` relation's log target makes Pebble forward Prometheus' log lines there, with
//!   the Juju topology labels; when the relation goes, forwarding stops;
//! - an OTLP/HTTP receiver (`POST /v1/traces`): the `workload-tracing` relation makes
//!   Prometheus send its spans there, applied by a reload.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use charm_harness::juju::{HookOutcome, HookRunner};
use charm_harness::ModelState;
use charm_sim::charm_model_state;
use common::pod::{wait_for, Pod, RealSystems};
use juju_hook::{Event, RelationData, RelationEventKind, RelationId, Status};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(60);

/// What the receivers got: Loki pushes (decoded JSON) and OTLP trace exports (content type and
/// raw protobuf body).
#[derive(Default)]
struct Received {
    loki: Vec<Value>,
    loki_errors: Vec<String>,
    traces: Vec<(String, Vec<u8>)>,
}

type Shared = Arc<Mutex<Received>>;

async fn loki_push(State(got): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    match serde_json::from_slice::<Value>(&body) {
        Ok(push) => {
            got.lock().unwrap().loki.push(push);
            StatusCode::NO_CONTENT
        }
        Err(e) => {
            got.lock()
                .unwrap()
                .loki_errors
                .push(format!("{content_type}: {e}"));
            StatusCode::BAD_REQUEST
        }
    }
}

async fn otlp_traces(State(got): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    got.lock()
        .unwrap()
        .traces
        .push((content_type, body.to_vec()));
    StatusCode::OK
}

/// The receivers, serving on an ephemeral port of the pod's loopback.
struct Receivers {
    _runtime: tokio::runtime::Runtime,
    port: u16,
    got: Shared,
}

impl Receivers {
    fn start(pod: &Pod) -> Receivers {
        let got: Shared = Arc::default();
        let state = got.clone();
        let (runtime, port) = pod.in_net(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let listener = runtime
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .unwrap();
            let port = listener.local_addr().unwrap().port();
            let app = Router::new()
                .route("/loki/api/v1/push", post(loki_push))
                .route("/v1/traces", post(otlp_traces))
                .with_state(state);
            runtime.spawn(async move { axum::serve(listener, app).await });
            (runtime, port)
        });
        Receivers {
            _runtime: runtime,
            port,
            got,
        }
    }

    /// Every pushed stream as (labels, log lines).
    fn loki_streams(&self) -> Vec<(Value, Vec<String>)> {
        let got = self.got.lock().unwrap();
        assert!(got.loki_errors.is_empty(), "{:?}", got.loki_errors);
        got.loki
            .iter()
            .flat_map(|push| push["streams"].as_array().cloned().unwrap_or_default())
            .map(|s| {
                let lines = s["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v[1].as_str().map(str::to_owned))
                    .collect();
                (s["stream"].clone(), lines)
            })
            .collect()
    }

    fn loki_lines(&self) -> usize {
        self.loki_streams().iter().map(|(_, l)| l.len()).sum()
    }

    fn traces(&self) -> Vec<(String, Vec<u8>)> {
        self.got.lock().unwrap().traces.clone()
    }
}

/// The leader unit of a fresh deployment in a pod with the real systems.
struct Unit {
    pod: Pod,
    runner: HookRunner,
    http: reqwest::blocking::Client,
}

impl Unit {
    fn new() -> Option<Unit> {
        let pod = Pod::start(RealSystems::find()?);
        let mut state = charm_model_state().expect("charm metadata loads");
        state.set_leader(true);
        state.set_config("scrape_interval", "5s").unwrap();
        state.set_config("scrape_timeout", "2s").unwrap();
        let runner = pod.hook_runner(&mut state);
        let http = pod.http_client();
        Some(Unit { pod, runner, http })
    }

    #[track_caller]
    fn ok(&self, event: &Event) -> HookOutcome {
        self.pod.hook_ok(&self.runner, event)
    }

    fn state(&self) -> ModelState {
        self.runner.state().unwrap()
    }

    fn update<R>(&self, change: impl FnOnce(&mut ModelState) -> R) -> R {
        self.runner.update(change).unwrap()
    }

    fn status(&self) -> Status {
        self.state().unit_status.expect("a status was set")
    }

    fn deploy(&self) {
        for event in [
            Event::Install,
            Event::LeaderElected,
            Event::ConfigChanged,
            common::pebble_ready(),
            Event::Start,
        ] {
            self.ok(&event);
        }
        assert_eq!(self.status(), Status::active(""));
        wait_for("Prometheus to serve queries", DEADLINE, || {
            self.query("up").ok()
        });
    }

    /// An instant query (`promql` needs no URL escaping).
    fn query(&self, promql: &str) -> anyhow::Result<Value> {
        Ok(self
            .http
            .get(format!("http://127.0.0.1:9090/api/v1/query?query={promql}"))
            .send()?
            .error_for_status()?
            .json()?)
    }

    /// The configuration Prometheus runs, parsed.
    fn loaded_config(&self) -> serde_yaml_ng::Value {
        let body: Value = self
            .http
            .get("http://127.0.0.1:9090/api/v1/status/config")
            .send()
            .unwrap()
            .json()
            .unwrap();
        serde_yaml_ng::from_str(body["data"]["yaml"].as_str().unwrap()).unwrap()
    }

    /// The process id of Prometheus, from Pebble's view of the pod: a reload keeps it.
    fn prometheus_pid(&self) -> String {
        let pids: Vec<String> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .ok()
                    .is_some_and(|c| c.starts_with(b"/bin/prometheus\0"))
            })
            .filter(|pid| {
                std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()
                    == std::fs::read_link(self.pod.netns()).ok()
            })
            .collect();
        assert_eq!(pids.len(), 1, "{pids:?}");
        pids[0].clone()
    }

    /// Relates `app` on `endpoint` with one unit, sets the data and runs created, joined and
    /// changed.
    fn relate(
        &self,
        endpoint: &str,
        app: &str,
        app_data: &[(&str, String)],
        unit_data: &[(&str, String)],
    ) -> RelationId {
        let unit = format!("{app}/0");
        let rel = self.update(|s| {
            let rel = s.add_relation(endpoint, app);
            s.add_remote_unit(&rel, &unit);
            let bag = |pairs: &[(&str, String)]| -> RelationData {
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect()
            };
            s.set_remote_app_data(&rel, &bag(app_data));
            s.set_remote_unit_data(&rel, &unit, &bag(unit_data));
            rel
        });
        for (kind, remote) in [
            (RelationEventKind::Created, None),
            (RelationEventKind::Joined, Some(unit.as_str())),
            (RelationEventKind::Changed, Some(unit.as_str())),
        ] {
            let event = self.state().relation_event(&rel, kind, remote);
            self.ok(&event);
        }
        rel
    }

    fn unrelate(&self, rel: &RelationId) {
        let event = self
            .state()
            .relation_event(rel, RelationEventKind::Broken, None);
        self.update(|s| {
            s.remove_relation(rel);
        });
        self.ok(&event);
    }
}

/// Pebble forwards Prometheus' log lines to the Loki unit of the relation, labelled with the
/// Juju topology as the Loki library's `LogForwarder` labels them; once the relation is gone the
/// target is off and nothing more arrives, although Prometheus keeps logging.
#[test]
fn prometheus_logs_reach_the_related_loki_with_the_juju_topology() {
    let Some(unit) = Unit::new() else { return };
    let receivers = Receivers::start(&unit.pod);
    unit.deploy();
    let pid = unit.prometheus_pid();
    let url = format!("http://127.0.0.1:{}/loki/api/v1/push", receivers.port);
    let rel = unit.relate(
        "logging",
        "loki",
        &[],
        &[("endpoint", json!({ "url": url }).to_string())],
    );
    assert_eq!(unit.status(), Status::active(""));
    let target = &unit.pod.client().get_plan().unwrap().log_targets["loki/0"];
    assert_eq!(target.location.as_deref(), Some(url.as_str()));

    // Prometheus logs on every reload: make it log now.
    unit.update(|s| s.set_config("scrape_interval", "6s").unwrap());
    unit.ok(&Event::ConfigChanged);
    let (labels, lines) = wait_for(
        "Prometheus' log lines at the Loki receiver",
        DEADLINE,
        || {
            receivers
                .loki_streams()
                .into_iter()
                .find(|(labels, lines)| {
                    labels["pebble_service"] == "prometheus" && !lines.is_empty()
                })
        },
    );
    let state = unit.state();
    let expected = json!({
        "product": "Juju",
        "charm": "prometheus-rs-k8s",
        "juju_model": state.model_name,
        "juju_model_uuid": state.model_uuid,
        "juju_application": state.app_name,
        "juju_unit": state.unit_name(),
        "job": format!("juju_{}_{}_{}", state.model_name, &state.model_uuid[..8], state.app_name),
        "pebble_service": "prometheus",
    });
    assert_eq!(labels, expected);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Loading configuration file")),
        "{lines:#?}"
    );
    assert_eq!(unit.prometheus_pid(), pid, "forwarding needs no restart");

    // The relation goes: the target is turned off, and new log lines stay in the pod.
    unit.unrelate(&rel);
    assert_eq!(unit.status(), Status::active(""));
    let plan = unit.pod.client().get_plan().unwrap();
    assert_eq!(plan.log_targets["loki/0"].services, ["-all"]);
    // Let anything buffered before the change arrive, then make Prometheus log again.
    std::thread::sleep(Duration::from_secs(3));
    let before = receivers.loki_lines();
    unit.update(|s| s.set_config("scrape_interval", "7s").unwrap());
    unit.ok(&Event::ConfigChanged);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        receivers.loki_lines(),
        before,
        "nothing forwarded after removal"
    );
}

/// Tempo publishes an OTLP/HTTP receiver on the pod's loopback: prometheus.yml gets the
/// `tracing` block (a reload, same process) and Prometheus 3 exports the spans of the queries
/// it serves there; removing the relation removes the block.
#[test]
fn prometheus_sends_its_spans_to_the_related_otlp_receiver() {
    let Some(unit) = Unit::new() else { return };
    let receivers = Receivers::start(&unit.pod);
    unit.deploy();
    let pid = unit.prometheus_pid();
    let receivers_json = json!([
        {"protocol": {"name": "otlp_grpc", "type": "grpc"}, "url": "127.0.0.1:4317"},
        {"protocol": {"name": "otlp_http", "type": "http"},
         "url": format!("http://127.0.0.1:{}", receivers.port)},
    ]);
    let rel = unit.relate(
        "workload-tracing",
        "tempo",
        &[("receivers", receivers_json.to_string())],
        &[],
    );
    assert_eq!(unit.status(), Status::active(""));
    // What the leader asked for.
    let asked = unit.state().relation(&rel).unwrap().local_app_data.clone();
    assert_eq!(asked["receivers"], r#"["otlp_http"]"#);

    let tracing = &unit.loaded_config()["tracing"];
    assert_eq!(tracing["client_type"].as_str(), Some("http"));
    assert_eq!(
        tracing["endpoint"].as_str(),
        Some(format!("127.0.0.1:{}", receivers.port).as_str())
    );
    assert_eq!(unit.prometheus_pid(), pid, "applied by a reload");

    let (content_type, body) = wait_for("spans at the OTLP receiver", DEADLINE, || {
        unit.query("up").ok()?;
        receivers
            .traces()
            .into_iter()
            .find(|(_, body)| !body.is_empty())
    });
    assert_eq!(content_type, "application/x-protobuf");
    let contains = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"service.name"), "a resource with a service name");
    assert!(contains(b"prometheus"), "Prometheus' spans");

    unit.unrelate(&rel);
    assert_eq!(unit.status(), Status::active(""));
    assert!(
        unit.loaded_config()["tracing"].is_null()
            || unit.loaded_config()["tracing"]["endpoint"].is_null()
    );
    assert_eq!(unit.prometheus_pid(), pid);
}

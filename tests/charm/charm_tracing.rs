//! The `charm-tracing` relation (`tracing`): the leader asks for `otlp_http` byte for byte as
//! ops-tracing writes it, every unit remembers Tempo's receiver (the data its real provider
//! library wrote, `tests/fixtures/tracing/charm-tracing/`), bad data names the relation and
//! costs nothing that works; and the compiled charm, run as Juju runs it, exports each hook's
//! spans over OTLP/HTTP protobuf to a loopback receiver this test runs, or spends a bounded
//! time on a receiver that does not answer and still succeeds.

use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::process::ProcessCharm;
use crate::common::Charm;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::routing::post;
use axum::Router;
use charm_harness::ModelState;
use charm_sim::charm_model_state;
use juju_hook::{Event, RelationData, RelationEventKind, RelationId, StatusKind};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prometheus_rs_k8s::effects::charm_tracing::{EXPORT_TIMEOUT, RECEIVER_FILE};
use prost::Message;
use serde_json::Value;

const TRACING: u32 = 11;

fn tracing_rel() -> RelationId {
    RelationId::new("charm-tracing", TRACING)
}

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tracing/charm-tracing")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn bag(v: &Value) -> RelationData {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

fn receivers_for(url: &str) -> String {
    serde_json::json!([{"protocol": {"name": "otlp_http", "type": "http"}, "url": url}]).to_string()
}

fn related_state(leader: bool, charm_dir: &Path) -> ModelState {
    let mut state = charm_model_state().unwrap();
    state.set_leader(leader);
    state.charm_dir = charm_dir.to_path_buf();
    let rel = state.add_relation_with_id("charm-tracing", "tempo", TRACING);
    state.add_remote_unit(&rel, "tempo/0");
    state
}

fn publish(c: &Charm, receivers: &str) {
    let data = RelationData::from([("receivers".to_owned(), receivers.to_owned())]);
    c.sim
        .juju
        .state()
        .set_remote_app_data(&tracing_rel(), &data);
    c.ok(&c.relation_event(&tracing_rel(), RelationEventKind::Changed, Some("tempo/0")));
}

fn remembered(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(RECEIVER_FILE)).ok()
}

/// The leader's request is what ops-tracing's requirer wrote, from the first hook on; a
/// non-leader writes nothing (as the fixture's non-leader replay).
#[test]
fn the_leader_asks_for_otlp_http_as_ops_tracing_writes_it() {
    let writes = fixture("prometheus-writes.json");
    for leader in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let c = Charm::with_state(related_state(leader, dir.path()));
        c.deploy();
        c.assert_active();
        let expected = if leader {
            bag(&writes["final"]["app"])
        } else {
            RelationData::new()
        };
        assert_eq!(
            c.local_app_data(&tracing_rel()),
            expected,
            "leader {leader}"
        );
        // Tempo has not answered: nothing to remember yet.
        assert_eq!(remembered(dir.path()), None);
    }
}

/// Tempo's receiver is remembered for the next hooks; unusable data blocks naming the
/// relation, forgets the receiver and neither restarts nor reloads Prometheus; the relation
/// going forgets it too.
#[test]
fn the_receiver_is_remembered_and_bad_data_costs_nothing_that_works() {
    let dir = tempfile::tempdir().unwrap();
    let c = Charm::with_state(related_state(true, dir.path()));
    c.deploy();
    let before = c.counters();
    let config = c.config_yaml();
    publish(
        &c,
        fixture("remote-app.json")["receivers"].as_str().unwrap(),
    );
    c.assert_active();
    assert_eq!(
        remembered(dir.path()).as_deref(),
        Some("http://tempo.cos.svc.cluster.local:4318")
    );
    for (bad, why) in [
        ("not json", "`receivers` is not valid JSON"),
        (r#"{"otlp_http": 1}"#, "`receivers` is not a list"),
        (
            &receivers_for("http://tempo:4318/v1/traces") as &str,
            "otlp_http URL must be scheme://host[:port]",
        ),
    ] {
        publish(&c, bad);
        let status = c.status();
        assert_eq!(status.kind, StatusKind::Blocked, "{bad}");
        assert!(
            status
                .message
                .starts_with(&format!("charm-tracing:{TRACING} (tempo): {why}")),
            "{bad}: {}",
            status.message
        );
        assert_eq!(remembered(dir.path()), None, "{bad}");
    }
    assert_eq!(c.counters(), before);
    assert_eq!(
        c.config_yaml(),
        config,
        "charm tracing never touches Prometheus"
    );

    // An https receiver is not bad data, but the charm cannot send to it: not remembered.
    publish(&c, &receivers_for("https://tempo.example.com"));
    c.assert_active();
    assert_eq!(remembered(dir.path()), None);
    publish(&c, &receivers_for("http://tempo:4318"));
    c.assert_active();
    assert_eq!(remembered(dir.path()).as_deref(), Some("http://tempo:4318"));
    c.sim.juju.state().remove_relation(&tracing_rel());
    c.ok(&c.relation_event(&tracing_rel(), RelationEventKind::Broken, None));
    c.assert_active();
    assert_eq!(remembered(dir.path()), None);
}

/// What the loopback OTLP receiver got: (path, content type, body) per request.
type Got = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

async fn record(State(got): State<Got>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    got.lock()
        .unwrap()
        .push((uri.path().to_owned(), content_type, body.to_vec()));
    StatusCode::OK
}

struct Receiver {
    _runtime: tokio::runtime::Runtime,
    url: String,
    got: Got,
}

impl Receiver {
    fn start() -> Receiver {
        let got: Got = Arc::default();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let app = Router::new()
            .route("/v1/traces", post(record))
            .fallback(record)
            .with_state(got.clone());
        runtime.spawn(async move { axum::serve(listener, app).await });
        Receiver {
            _runtime: runtime,
            url,
            got,
        }
    }
}

fn attributes(
    attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue],
) -> std::collections::BTreeMap<String, String> {
    attrs
        .iter()
        .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(s) => Some((kv.key.clone(), s.clone())),
            _ => None,
        })
        .collect()
}

/// A deployed leader of the compiled charm related to a receiver at `url`, the relation
/// data published and remembered (the hook that learns the receiver exports nothing yet).
fn process_charm_related_to(url: &str) -> ProcessCharm {
    let mut state = charm_model_state().unwrap();
    state.set_leader(true);
    let rel = state.add_relation_with_id("charm-tracing", "tempo", TRACING);
    state.add_remote_unit(&rel, "tempo/0");
    state.set_remote_app_data(
        &rel,
        &RelationData::from([("receivers".to_owned(), receivers_for(url))]),
    );
    let c = ProcessCharm::start(&state);
    c.ok(&Event::Install);
    c
}

/// The compiled charm run for `config-changed` (an option changed, so the reconcile computes
/// and applies) as Juju runs it sends OTLP/HTTP protobuf to `/v1/traces` with the dispatch and
/// reconcile phases as spans, the event and the unit's Juju topology as resource attributes.
#[test]
fn the_compiled_charm_exports_its_hook_spans_over_otlp_http() {
    let receiver = Receiver::start();
    let c = process_charm_related_to(&receiver.url);
    let before = receiver.got.lock().unwrap().len();
    c.update(|s| s.set_config("evaluation_interval", "30s").unwrap());
    let t = Instant::now();
    c.ok(&Event::ConfigChanged);
    eprintln!("traced config-changed took {:?}", t.elapsed());
    let t = Instant::now();
    c.ok(&Event::UpdateStatus);
    eprintln!("traced no-change update-status took {:?}", t.elapsed());
    let got = receiver.got.lock().unwrap().clone();
    assert!(
        got.len() > before,
        "no export after the receiver was remembered"
    );
    let mut by_event = std::collections::BTreeMap::new();
    for (path, content_type, body) in &got[before..] {
        assert_eq!(path, "/v1/traces");
        assert_eq!(content_type, "application/x-protobuf");
        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP protobuf");
        for rs in &request.resource_spans {
            let resource = attributes(&rs.resource.as_ref().unwrap().attributes);
            let names: Vec<String> = rs
                .scope_spans
                .iter()
                .flat_map(|s| s.spans.iter().map(|s| s.name.clone()))
                .collect();
            by_event
                .entry(resource["juju_event"].clone())
                .or_insert_with(|| (resource.clone(), Vec::new()))
                .1
                .extend(names);
        }
    }
    let (resource, names) = &by_event["config-changed"];
    for span in ["dispatch", "read model", "compute", "apply"] {
        assert!(names.iter().any(|n| n == span), "{span} in {names:?}");
    }
    let state = c.state();
    for (key, value) in [
        ("service.name", state.app_name.clone()),
        ("juju_application", state.app_name.clone()),
        (
            "juju_unit",
            format!("{}/{}", state.app_name, state.unit_number),
        ),
        ("juju_model", state.model_name.clone()),
        ("juju_model_uuid", state.model_uuid.clone()),
    ] {
        assert_eq!(resource.get(key), Some(&value), "{key}: {resource:?}");
    }
}

/// A receiver that accepts the connection but never answers, or a closed port (the exporter
/// retries until its deadline), costs the hook at most the export time limit plus a margin for
/// process overhead on a loaded machine, and the hook succeeds.
#[test]
fn an_unreachable_receiver_costs_a_bounded_time_and_never_fails_the_hook() {
    // Bound and never accepted: the kernel completes the handshake, nobody answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    // Bound then closed: connection refused.
    let closed_url = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let baseline = {
        let c = ProcessCharm::start(&charm_model_state().unwrap());
        c.ok(&Event::Install);
        let t = Instant::now();
        c.ok(&Event::ConfigChanged);
        let took = t.elapsed();
        // Nothing remembered, so the next hook sets up no exporter.
        assert!(!c.state().charm_dir.join(RECEIVER_FILE).exists());
        let t = Instant::now();
        c.ok(&Event::UpdateStatus);
        eprintln!("untraced no-change update-status took {:?}", t.elapsed());
        took
    };
    for (what, url) in [("silent", &silent_url), ("closed", &closed_url)] {
        let c = process_charm_related_to(url);
        let t = Instant::now();
        let out = c.ok(&Event::ConfigChanged);
        let took = t.elapsed();
        eprintln!("{what} receiver: hook took {took:?} (no relation: {baseline:?})");
        assert!(out.success());
        assert!(
            took < baseline + EXPORT_TIMEOUT + Duration::from_millis(1500),
            "{what}: {took:?} vs {baseline:?}"
        );
    }
}

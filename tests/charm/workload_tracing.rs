//! The `workload-tracing` relation (`tracing`) through the whole charm on the harness: the
//! leader asks for `otlp_http` as the tracing library writes it, Tempo's receiver (the data its
//! real provider library wrote, `tests/fixtures/tracing/`) becomes prometheus.yml's `tracing`
//! block, checked by the real promtool of each major and applied by a reload, bad data costs
//! nothing that works, and the block goes with the relation.

use crate::common::Charm;
use charm_sim::charm_model_state;
use juju_hook::{RelationData, RelationEventKind, RelationId, StatusKind};
use serde_json::{json, Value};

const TRACING: u32 = 14;

fn tracing_rel() -> RelationId {
    RelationId::new("workload-tracing", TRACING)
}

/// Tempo's application databag as its library wrote it (otlp_http at tempo:4318).
fn tempo_receivers() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tracing/charm-tracing/remote-app.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["receivers"].as_str().unwrap().to_owned()
}

fn related(leader: bool, version: &str) -> Charm {
    let mut state = charm_model_state().unwrap();
    state.set_leader(leader);
    let rel = state.add_relation_with_id("workload-tracing", "tempo", TRACING);
    state.add_remote_unit(&rel, "tempo/0");
    Charm::with_state_on(state, version)
}

fn publish(c: &Charm, receivers: &str) {
    let data = RelationData::from([("receivers".to_owned(), receivers.to_owned())]);
    c.sim
        .juju
        .state()
        .set_remote_app_data(&tracing_rel(), &data);
    c.ok(&c.relation_event(&tracing_rel(), RelationEventKind::Changed, Some("tempo/0")));
}

#[test]
fn the_receiver_becomes_the_tracing_block_by_reload_on_both_majors() {
    for version in [crate::common::PROMETHEUS_VERSION, "3.14.0"] {
        let c = related(true, version);
        c.deploy();
        c.assert_active();
        // Asked for from the first hook on, as the library does.
        assert_eq!(
            c.local_app_data(&tracing_rel())["receivers"],
            r#"["otlp_http"]"#
        );
        assert!(c.config_value()["tracing"].is_null());
        let before = c.counters();

        // The real promtool of this major checked the file before it went live.
        publish(&c, &tempo_receivers());
        c.assert_active();
        let tracing = &c.config_value()["tracing"];
        let expected: serde_yaml_ng::Value = serde_yaml_ng::from_str(
            "client_type: http\nendpoint: tempo.cos.svc.cluster.local:4318\n\
             insecure: true\nsampling_fraction: 1\n",
        )
        .unwrap();
        assert_eq!(tracing, &expected, "{version}");
        let after = c.counters();
        assert_eq!(after.prometheus_restarts, before.prometheus_restarts);
        assert_eq!(after.reloads, before.reloads + 1, "{version}");

        // The relation goes: the block goes, by reload.
        c.sim.juju.state().remove_relation(&tracing_rel());
        c.ok(&c.relation_event(&tracing_rel(), RelationEventKind::Broken, None));
        c.assert_active();
        assert!(c.config_value()["tracing"].is_null());
        assert_eq!(c.counters().prometheus_restarts, before.prometheus_restarts);
    }
}

#[test]
fn an_https_receiver_is_not_insecure_and_a_non_leader_writes_nothing() {
    let c = related(false, crate::common::PROMETHEUS_VERSION);
    c.deploy();
    assert!(c.local_app_data(&tracing_rel()).is_empty());
    publish(
        &c,
        &json!([{"protocol": {"name": "otlp_http", "type": "http"}, "url": "https://tempo.example.com"}])
            .to_string(),
    );
    c.assert_active();
    let tracing = &c.config_value()["tracing"];
    assert_eq!(tracing["endpoint"].as_str(), Some("tempo.example.com:443"));
    assert_eq!(tracing["insecure"].as_bool(), Some(false));
}

/// Tempo has not opened the http receiver yet: no tracing, and not a problem. Unusable data:
/// Blocked naming the relation, no tracing, Prometheus neither restarted nor reloaded.
#[test]
fn no_receiver_yet_is_fine_and_bad_data_costs_nothing_that_works() {
    let c = related(true, crate::common::PROMETHEUS_VERSION);
    c.deploy();
    publish(
        &c,
        r#"[{"protocol": {"name": "otlp_grpc", "type": "grpc"}, "url": "tempo:4317"}]"#,
    );
    c.assert_active();
    assert!(c.config_value()["tracing"].is_null());
    let before = c.counters();
    for (bad, why) in [
        ("not json", "`receivers` is not valid JSON"),
        (r#"{"otlp_http": 1}"#, "`receivers` is not a list"),
        (
            r#"[{"protocol": {"name": "otlp_http"}, "url": "http://tempo:4318/v1/traces"}]"#,
            "otlp_http URL must be scheme://host[:port]",
        ),
    ] {
        publish(&c, bad);
        let status = c.status();
        assert_eq!(status.kind, StatusKind::Blocked, "{bad}");
        assert!(
            status
                .message
                .starts_with(&format!("workload-tracing:{TRACING} (tempo): {why}")),
            "{bad}: {}",
            status.message
        );
        assert!(c.config_value()["tracing"].is_null());
    }
    assert_eq!(c.counters(), before);
    publish(&c, &tempo_receivers());
    c.assert_active();
}

/// `render` of a model with Tempo related: prometheus.yml carries the block and the leader's
/// request is in the relation data.
#[test]
fn render_shows_the_tracing_block_and_the_request() {
    let mut value: Value =
        serde_json::from_str(&std::fs::read_to_string(crate::common::TWO_APPS_FIXTURE).unwrap())
            .unwrap();
    value["relations"].as_array_mut().unwrap().push(json!({
        "endpoint": "workload-tracing",
        "id": TRACING,
        "app": "tempo",
        "app_data": {"receivers": tempo_receivers()},
        "units": [{"name": "tempo/0", "data": {}}],
    }));
    let snapshot = serde_json::from_value(value).unwrap();
    let out = prometheus_rs_k8s::cli::render::render_snapshot(&snapshot).unwrap();
    assert_eq!(out.status.kind, StatusKind::Active);
    let yml = &out.files["/etc/prometheus/prometheus.yml"];
    let start = yml.find("\ntracing:").expect("a tracing block");
    insta::assert_snapshot!("render_tracing_block", &yml[start + 1..]);
    // prometheus-k8s's block (asking for otlp_grpc) differs only by the receiver it names and
    // the client type: same host, TLS choice and sampling.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tracing/workload-tracing/workload.json");
    let workload: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let theirs: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        workload["final"]["files_vs_baseline"]["modified"]["/etc/prometheus/prometheus.yml"]
            ["content"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let ours: serde_yaml_ng::Value = serde_yaml_ng::from_str(yml).unwrap();
    let (theirs, ours) = (&theirs["tracing"], &ours["tracing"]);
    assert_eq!(theirs["insecure"], ours["insecure"]);
    assert_eq!(theirs["sampling_fraction"], ours["sampling_fraction"]);
    let host = |v: &serde_yaml_ng::Value| {
        v["endpoint"]
            .as_str()
            .unwrap()
            .rsplit_once(':')
            .unwrap()
            .0
            .to_owned()
    };
    assert_eq!(host(theirs), host(ours));
    assert!(theirs["client_type"].is_null(), "grpc, Prometheus' default");
    assert_eq!(ours["client_type"].as_str(), Some("http"));
    assert_eq!(
        out.relation_data[&format!("workload-tracing:{TRACING}")].app["receivers"],
        r#"["otlp_http"]"#
    );
}

//! The `logging` relation (`loki_push_api`) through the whole charm on the harness, with the data
//! Loki's real provider library wrote (`tests/fixtures/loki_push_api/`): one Pebble log target
//! per Loki unit, as prometheus-k8s's `LogForwarder` adds it (no restart, no reload), the
//! leader's databag, targets turned off when their unit or the relation goes, bad data costing
//! only that unit, and `render` showing it.

use crate::common::{Charm, TWO_APPS_FIXTURE};
use charm_sim::charm_model_state;
use juju_hook::{RelationData, RelationEventKind, RelationId, StatusKind};
use pebble::{Layer, LogTarget};
use prometheus_rs_k8s::cli::render::{explain_text, render_snapshot};
use prometheus_rs_k8s::core::model::ModelSnapshot;
use serde_json::{json, Value};

const LOGGING: u32 = 12;

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/loki_push_api")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn logging() -> RelationId {
    RelationId::new("logging", LOGGING)
}

/// The `endpoint` Loki's library wrote for `loki/0`.
fn loki_endpoint() -> String {
    fixture("remote-units.json")["loki/0"]["endpoint"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn endpoint_of(url: &str) -> String {
    json!({ "url": url }).to_string()
}

/// A unit related to Loki (units `loki/0`..`loki/<n-1>`), which has published nothing yet.
fn related(leader: bool, units: usize) -> Charm {
    let mut state = charm_model_state().unwrap();
    state.set_leader(leader);
    let rel = state.add_relation_with_id("logging", "loki", LOGGING);
    for n in 0..units {
        state.add_remote_unit(&rel, &format!("loki/{n}"));
    }
    Charm::with_state(state)
}

/// Loki unit `unit` publishes `endpoint` and relation-changed runs.
fn publish(c: &Charm, unit: &str, endpoint: &str) {
    let data = RelationData::from([
        ("endpoint".to_owned(), endpoint.to_owned()),
        (
            "public_address".to_owned(),
            "loki-0.loki-endpoints.cos.svc.cluster.local".to_owned(),
        ),
    ]);
    c.sim
        .juju
        .state()
        .set_remote_unit_data(&logging(), unit, &data);
    c.ok(&c.relation_event(&logging(), RelationEventKind::Changed, Some(unit)));
}

/// prometheus-k8s's log target for `loki/0` with this unit's topology.
fn expected_target(c: &Charm) -> LogTarget {
    let state = c.sim.juju.state();
    let (model, uuid, app, unit) = (
        state.model_name.clone(),
        state.model_uuid.clone(),
        state.app_name.clone(),
        state.unit_name(),
    );
    drop(state);
    let mut theirs = fixture("workload.json")["final"]["layers"]["prometheus-log-forwarding"]
        ["log-targets"]["loki/0"]
        .clone();
    let labels = &mut theirs["labels"];
    labels["charm"] = json!("prometheus-rs-k8s");
    labels["juju_model"] = json!(model);
    labels["juju_model_uuid"] = json!(uuid);
    labels["juju_application"] = json!(app);
    labels["juju_unit"] = json!(unit);
    labels["job"] = json!(format!("juju_{model}_{}_{app}", &uuid[..8]));
    serde_json::from_value(theirs).unwrap()
}

fn target(c: &Charm, name: &str) -> Option<LogTarget> {
    c.sim.pebble.plan().log_targets.get(name).cloned()
}

#[test]
fn a_loki_unit_gets_the_log_target_prometheus_k8s_adds_without_a_restart() {
    let c = related(true, 1);
    c.deploy();
    c.assert_active();
    // No endpoint yet: nothing to forward to, and not a problem.
    assert!(c.sim.pebble.plan().log_targets.is_empty());
    let before = c.counters();

    publish(&c, "loki/0", &loki_endpoint());
    c.assert_active();
    assert_eq!(target(&c, "loki/0"), Some(expected_target(&c)));
    // Log targets apply when the layer is added: Prometheus neither restarts nor reloads.
    assert_eq!(c.counters(), before);

    // The leader's databag: the fixture's, with this application's topology.
    let state = c.sim.juju.state();
    let expected_meta = json!({
        "model": state.model_name,
        "model_uuid": state.model_uuid,
        "application": state.app_name,
        "unit": state.unit_name(),
        "charm_name": "prometheus-rs-k8s",
    });
    drop(state);
    let app = c.local_app_data(&logging());
    assert_eq!(app["alert_rules"], "{}");
    let meta: Value = serde_json::from_str(&app["metadata"]).unwrap();
    assert_eq!(meta, expected_meta);
    // Key order and spacing as the library's json.dumps.
    assert!(app["metadata"].starts_with(r#"{"model": ""#), "{app:?}");

    // A later hook changes nothing.
    c.reset_records();
    c.ok(&juju_hook::Event::ConfigChanged);
    assert_eq!(c.sim.juju.calls("relation-set"), 0);
    assert_eq!(crate::common::mutating(&c.requests()), Vec::<&_>::new());
}

#[test]
fn a_non_leader_forwards_its_logs_and_writes_nothing() {
    let c = related(false, 1);
    c.deploy();
    publish(&c, "loki/0", &loki_endpoint());
    c.assert_active();
    assert_eq!(target(&c, "loki/0"), Some(expected_target(&c)));
    assert!(c.local_app_data(&logging()).is_empty());
}

/// Pebble cannot delete a log target: one whose Loki unit departed, or whose relation is gone,
/// is turned off with `services: [-all]` (as the library does), the others keep forwarding.
#[test]
fn targets_of_departed_units_and_a_removed_relation_are_turned_off() {
    let c = related(true, 2);
    c.deploy();
    publish(
        &c,
        "loki/0",
        &endpoint_of("http://loki-0.loki:3100/loki/api/v1/push"),
    );
    publish(
        &c,
        "loki/1",
        &endpoint_of("http://loki-1.loki:3100/loki/api/v1/push"),
    );
    let plan = c.sim.pebble.plan();
    assert_eq!(
        plan.log_targets.keys().collect::<Vec<_>>(),
        ["loki/0", "loki/1"]
    );

    let before = c.counters();
    let event = c.relation_event(&logging(), RelationEventKind::Departed, Some("loki/1"));
    c.sim.juju.state().remove_remote_unit(&logging(), "loki/1");
    c.ok(&event);
    c.assert_active();
    let off = target(&c, "loki/1").unwrap();
    assert_eq!(off.services, ["-all"]);
    assert_eq!(
        off.location.as_deref(),
        Some("http://loki-1.loki:3100/loki/api/v1/push")
    );
    assert_eq!(target(&c, "loki/0").unwrap().services, ["all"]);

    c.sim.juju.state().remove_relation(&logging());
    c.ok(&c.relation_event(&logging(), RelationEventKind::Broken, None));
    c.assert_active();
    assert_eq!(target(&c, "loki/0").unwrap().services, ["-all"]);
    assert_eq!(target(&c, "loki/1").unwrap().services, ["-all"]);
    assert_eq!(c.counters(), before, "no restart, no reload");

    // Turned off once: later hooks leave the layer alone.
    c.reset_records();
    c.ok(&juju_hook::Event::UpdateStatus);
    assert_eq!(crate::common::count(&c.requests(), "POST", "/v1/layers"), 0);
}

/// A unit that inherits prometheus-k8s's log forwarding layer (a switch) and has no logging
/// relation: the old target is turned off.
#[test]
fn a_log_target_another_charm_left_is_turned_off() {
    let c = Charm::leader();
    let old: Layer = serde_json::from_value(json!({
        "log-targets": fixture("workload.json")["final"]["layers"]["prometheus-log-forwarding"]
            ["log-targets"].clone()
    }))
    .unwrap();
    c.sim
        .pebble
        .add_image_layer("prometheus-log-forwarding", &old);
    assert_eq!(target(&c, "loki/0").unwrap().services, ["all"]);
    c.deploy();
    c.assert_active();
    assert_eq!(target(&c, "loki/0").unwrap().services, ["-all"]);
}

/// A unit whose `endpoint` cannot be used: the unit is Blocked naming the relation, the Loki
/// unit and the reason; the other Loki unit keeps its target and Prometheus runs on.
#[test]
fn a_bad_endpoint_costs_only_its_own_unit() {
    let c = related(true, 2);
    c.deploy();
    publish(&c, "loki/0", &loki_endpoint());
    let before = c.counters();
    for (bad, why) in [
        ("{not json", "`endpoint` is not valid JSON"),
        (r#"{"address": "x"}"#, "`endpoint` has no string `url`"),
        (
            r#"{"url": "file:///etc/passwd"}"#,
            "scheme must be http or https",
        ),
    ] {
        publish(&c, "loki/1", bad);
        let status = c.status();
        assert_eq!(status.kind, StatusKind::Blocked, "{bad}: {status:?}");
        assert!(
            status
                .message
                .starts_with(&format!("logging:{LOGGING} (loki): loki/1: "))
                && status.message.contains(why),
            "{bad}: {}",
            status.message
        );
        assert_eq!(target(&c, "loki/0"), Some(expected_target(&c)));
        assert_eq!(target(&c, "loki/1"), None);
    }
    assert_eq!(c.counters(), before);
    publish(
        &c,
        "loki/1",
        &endpoint_of("http://loki-1.loki:3100/loki/api/v1/push"),
    );
    c.assert_active();
    assert!(target(&c, "loki/1").is_some());
}

/// The shared scrape fixture plus a logging relation to one Loki unit.
fn snapshot_with_loki(endpoint: &str) -> ModelSnapshot {
    let mut value: Value =
        serde_json::from_str(&std::fs::read_to_string(TWO_APPS_FIXTURE).unwrap()).unwrap();
    value["relations"].as_array_mut().unwrap().push(json!({
        "endpoint": "logging",
        "id": LOGGING,
        "app": "loki",
        "app_data": {},
        "units": [{"name": "loki/0", "data": {"endpoint": endpoint}}],
    }));
    serde_json::from_value(value).unwrap()
}

/// `render` of the fixture's model (prometheus-k8s/0 in `cos`, the names the logging fixture
/// was captured with): the plan holds the target prometheus-k8s had (but for the charm name),
/// the leader's databag is the fixture's, and a bad endpoint is explained.
#[test]
fn render_shows_the_log_target_and_the_leaders_databag() {
    let out = render_snapshot(&snapshot_with_loki(&loki_endpoint())).unwrap();
    assert_eq!(out.status.kind, StatusKind::Active);
    let plan = Layer::from_yaml(&out.layer_yaml).unwrap();
    let theirs = &fixture("workload.json")["final"]["plan"]["log-targets"];
    let mut expected: LogTarget = serde_json::from_value(theirs["loki/0"].clone()).unwrap();
    expected
        .labels
        .insert("charm".into(), "prometheus-rs-k8s".into());
    assert_eq!(plan.log_targets["loki/0"], expected);
    let start = out
        .layer_yaml
        .find("log-targets:")
        .expect("log targets in the plan");
    insta::assert_snapshot!("render_log_targets", &out.layer_yaml[start..]);
    let written = &out.relation_data[&format!("logging:{LOGGING}")];
    let theirs: RelationData = fixture("prometheus-writes.json")["final"]["app"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let v = v.as_str().unwrap().replace(
                "\"charm_name\": \"prometheus-k8s\"",
                "\"charm_name\": \"prometheus-rs-k8s\"",
            );
            (k.clone(), v)
        })
        .collect();
    assert_eq!(written.app, theirs);
    assert!(written.unit.is_empty());

    let out = render_snapshot(&snapshot_with_loki("[]")).unwrap();
    assert_eq!(out.status.kind, StatusKind::Blocked);
    assert!(Layer::from_yaml(&out.layer_yaml)
        .unwrap()
        .log_targets
        .is_empty());
    let text = explain_text(&out.explain);
    assert!(
        text.contains(&format!(
            "refused logging:{LOGGING} app loki\n    loki/0: `endpoint` has no string `url`"
        )),
        "{text}"
    );
}

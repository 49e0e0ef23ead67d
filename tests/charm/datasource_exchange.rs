//! `send-datasource` (`grafana_datasource_exchange`) through the whole charm on the harness,
//! with Grafana's answer on `grafana-source` as its real library wrote it
//! (`tests/fixtures/grafana_datasource/remote-app.json`): the leader publishes the datasource
//! UIDs in the fixture's format, a non-leader writes nothing, and a Grafana whose answer
//! cannot be used is named in the status and left out, nothing else changing.

use crate::common::Charm;
use charm_sim::charm_model_state;
use juju_hook::{RelationData, RelationEventKind, RelationId, StatusKind};
use serde_json::Value;

fn fixture(path: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn grafana() -> RelationId {
    RelationId::new("grafana-source", 3)
}

fn tempo() -> RelationId {
    RelationId::new("send-datasource", 8)
}

fn related(leader: bool) -> Charm {
    let mut state = charm_model_state().unwrap();
    state.set_leader(leader);
    for (rel, app) in [(grafana(), "grafana"), (tempo(), "tempo")] {
        let rel = state.add_relation_with_id(&rel.endpoint, app, rel.id);
        state.add_remote_unit(&rel, &format!("{app}/0"));
    }
    // Tempo publishes its own datasources (not used by Prometheus).
    let tempo_data: RelationData = fixture("grafana_datasource_exchange/remote-app.json")
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    state.set_remote_app_data(&tempo(), &tempo_data);
    Charm::with_state(state)
}

/// Grafana's answer from the fixture, for this unit and model.
fn grafana_answer(c: &Charm) -> (RelationData, String, String) {
    let state = c.sim.juju.state();
    let (unit, model, uuid) = (
        state.unit_name(),
        state.model_name.clone(),
        state.model_uuid.clone(),
    );
    drop(state);
    let ours = format!("juju_{model}_{uuid}_{}", unit.replace('/', "_"));
    let grafana_uid = format!("juju_{model}_{uuid}_grafana_0");
    let mut data: RelationData = fixture("grafana_datasource/remote-app.json")
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    data.insert("grafana_uid".into(), grafana_uid.clone());
    data.insert(
        "datasource_uids".into(),
        serde_json::json!({ unit: ours }).to_string(),
    );
    (data, ours, grafana_uid)
}

fn grafana_changed(c: &Charm, data: &RelationData) {
    c.sim.juju.state().set_remote_app_data(&grafana(), data);
    c.ok(&c.relation_event(&grafana(), RelationEventKind::Changed, Some("grafana/0")));
}

#[test]
fn the_leader_publishes_the_uids_grafana_gave_in_the_fixtures_format() {
    let c = related(true);
    c.deploy();
    c.assert_active();
    // Grafana has not answered: an empty list.
    assert_eq!(c.local_app_data(&tempo())["datasources"], "[]");

    let (answer, ours, grafana_uid) = grafana_answer(&c);
    let before = c.counters();
    grafana_changed(&c, &answer);
    c.assert_active();
    assert_eq!(
        c.local_app_data(&tempo())["datasources"],
        format!(r#"[{{"type":"prometheus","uid":"{ours}","grafana_uid":"{grafana_uid}"}}]"#)
    );
    // No workload effect.
    assert_eq!(c.counters(), before);

    // Grafana's answer cannot be used: the unit names the relation, the entry is dropped,
    // Prometheus and the datasource itself are untouched.
    let mut bad = answer.clone();
    bad.insert("datasource_uids".into(), "{not json".into());
    grafana_changed(&c, &bad);
    let status = c.status();
    assert_eq!(status.kind, StatusKind::Blocked);
    assert!(
        status
            .message
            .starts_with("grafana-source:3 (grafana): `datasource_uids`"),
        "{}",
        status.message
    );
    assert_eq!(c.local_app_data(&tempo())["datasources"], "[]");
    assert_eq!(c.counters(), before);

    grafana_changed(&c, &answer);
    c.assert_active();
    assert!(c.local_app_data(&tempo())["datasources"].contains(&ours));
}

#[test]
fn a_non_leader_writes_nothing() {
    let c = related(false);
    c.deploy();
    let (answer, _, _) = grafana_answer(&c);
    grafana_changed(&c, &answer);
    c.assert_active();
    assert!(c.local_app_data(&tempo()).is_empty());
}

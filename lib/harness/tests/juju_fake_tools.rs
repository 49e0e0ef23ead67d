//! `FakeHookTools`: Juju's semantics over the in-memory model.

use std::collections::BTreeMap;
use std::path::PathBuf;

use charm_harness::juju::{FakeHookTools, ModelError, ModelState};
use juju_hook::{
    ConfigValueError, Event, HookContext, HookToolError, HookTools, LogLevel, Port, RelationData,
    RelationEventKind, RelationId, SecretEventKind, Status, StorageEventKind, WorkloadEventKind,
};
use serde_json::{json, Map};

fn data(pairs: &[(&str, &str)]) -> RelationData {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The charm of this repository (metadata.yaml and config.yaml at the workspace root).
fn charm_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn charm_state() -> ModelState {
    ModelState::from_charm_dir(&charm_dir()).expect("the repository's charm loads")
}

#[test]
fn from_charm_dir_reads_metadata_and_config_defaults() {
    let state = charm_state();
    assert_eq!(state.app_name, "prometheus-rs-k8s");
    assert_eq!(state.unit_name(), "prometheus-rs-k8s/0");
    assert!(state.endpoints.contains_key("metrics-endpoint"));
    assert!(state.endpoints.contains_key("prometheus-peers"));
    assert_eq!(state.config_options["inventory_target_port"].kind, "int");
    let options = state.config_options.clone();
    let tools = FakeHookTools::new(state);
    let config = tools.config_get().unwrap();
    // Options with a default show it, natively typed; options without one are absent.
    for (name, option) in options {
        let default = option.default.filter(|d| !d.is_null());
        assert_eq!(config.get(&name), default.as_ref(), "{name}");
    }
    assert!(config["inventory_target_port"].is_u64());
}

#[test]
fn set_config_overrides_and_checks_types() {
    let mut state = charm_state();
    state.set_config("log_level", "debug").unwrap();
    assert!(matches!(
        state.set_config("inventory_target_port", "9100"),
        Err(ModelError::Config(ConfigValueError::WrongType { .. }))
    ));
    assert!(matches!(
        state.set_config("no_such_option", 1),
        Err(ModelError::Config(ConfigValueError::UnknownOption(_)))
    ));
    let tools = FakeHookTools::new(state);
    assert_eq!(tools.config_get().unwrap()["log_level"], json!("debug"));
    tools
        .state()
        .set_config("log_level", serde_json::Value::Null)
        .unwrap();
    assert_eq!(tools.config_get().unwrap()["log_level"], json!("info"));
}

#[test]
fn config_get_omits_options_without_value() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("metadata.yaml"),
        "name: demo\nrequires:\n  db:\n    interface: pg\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        "options:\n  a: {type: string, default: x}\n  b: {type: int}\n  c: {type: string, default: null}\n",
    )
    .unwrap();
    let mut state = ModelState::from_charm_dir(dir.path()).unwrap();
    let tools = FakeHookTools::new(state.clone());
    let config = tools.config_get().unwrap();
    assert_eq!(config.keys().collect::<Vec<_>>(), vec!["a"]);
    state.set_config("b", 3).unwrap();
    let config = FakeHookTools::new(state).config_get().unwrap();
    assert_eq!(config["b"], json!(3));
    assert!(!config.contains_key("c"));
}

#[test]
fn app_databag_writes_need_leadership() {
    let mut state = ModelState::new("prom", 0);
    let rel = state.add_relation("grafana-source", "grafana");
    let tools = FakeHookTools::new(state);
    let err = tools
        .relation_set(&rel, true, &data(&[("url", "http://x")]))
        .unwrap_err();
    assert_eq!(
        err,
        HookToolError::PermissionDenied("cannot write relation settings".into())
    );
    // Non-leaders cannot even read their own application's databag on a regular relation.
    let err = tools.relation_get(&rel, "prom", true).unwrap_err();
    assert_eq!(
        err,
        HookToolError::PermissionDenied("permission denied".into())
    );

    tools.state().set_leader(true);
    tools
        .relation_set(&rel, true, &data(&[("url", "http://x")]))
        .unwrap();
    assert_eq!(
        tools.relation_get(&rel, "prom", true).unwrap(),
        data(&[("url", "http://x")])
    );
}

#[test]
fn peer_app_databag_is_readable_by_every_unit() {
    let mut state = ModelState::new("prom", 1);
    let peers = state.add_relation("prometheus-peers", "prom");
    state.relation_mut(&peers).local_app_data = data(&[("leader-address", "10.0.0.1")]);
    state.add_remote_unit(&peers, "prom/0");
    let tools = FakeHookTools::new(state);
    assert_eq!(
        tools.relation_get(&peers, "prom", true).unwrap()["leader-address"],
        "10.0.0.1"
    );
    assert_eq!(tools.relation_remote_app(&peers).unwrap(), "prom");
    assert_eq!(tools.relation_list(&peers).unwrap(), vec!["prom/0"]);
    // Still only the leader may write it.
    assert!(matches!(
        tools.relation_set(&peers, true, &data(&[("k", "v")])),
        Err(HookToolError::PermissionDenied(_))
    ));
}

#[test]
fn buffered_writes_wait_for_commit() {
    let mut state = ModelState::new("prom", 0);
    state.set_leader(true);
    let rel = state.add_relation("metrics-endpoint", "ne");
    let tools = FakeHookTools::new(state);

    tools
        .relation_set(&rel, false, &data(&[("a", "1"), ("b", "2")]))
        .unwrap();
    tools
        .relation_set(&rel, true, &data(&[("app", "x")]))
        .unwrap();
    tools.open_port(Port::tcp(9090)).unwrap();
    tools
        .state_set(&[("hash".to_string(), "abc".to_string())].into())
        .unwrap();
    tools.status_set(&Status::active("ready"), false).unwrap();
    tools.application_version_set("2.42.0").unwrap();
    tools.juju_log(LogLevel::Info, "hello").unwrap();

    // Own databags and the state store show the pending writes; opened-ports does not.
    let own = tools.relation_get(&rel, "prom/0", false).unwrap();
    assert_eq!((own["a"].as_str(), own["b"].as_str()), ("1", "2"));
    assert_eq!(tools.state_get().unwrap()["hash"], "abc");
    assert!(tools.opened_ports().unwrap().is_empty());
    {
        let s = tools.state();
        assert!(!s.relations[0].local_unit_data.contains_key("a"));
        assert!(s.relations[0].local_app_data.is_empty());
        assert!(s.stored.is_empty());
        // Immediate tools took effect at once.
        assert_eq!(s.unit_status, Some(Status::active("ready")));
        assert_eq!(s.workload_version.as_deref(), Some("2.42.0"));
        assert_eq!(s.logs.len(), 1);
    }

    tools.commit();
    assert_eq!(tools.opened_ports().unwrap(), vec![Port::tcp(9090)]);
    {
        let s = tools.state();
        assert_eq!(s.relations[0].local_unit_data["a"], "1");
        assert_eq!(s.relations[0].local_app_data["app"], "x");
        assert_eq!(s.stored["hash"], "abc");
        assert!(s.pending.is_empty());
    }

    // A failed hook's writes vanish, but its status stays.
    tools
        .relation_set(&rel, false, &data(&[("a", ""), ("c", "3")]))
        .unwrap();
    tools.close_port(Port::tcp(9090)).unwrap();
    tools.status_set(&Status::blocked("broken"), false).unwrap();
    assert!(!tools
        .relation_get(&rel, "prom/0", false)
        .unwrap()
        .contains_key("a"));
    tools.rollback();
    let own = tools.relation_get(&rel, "prom/0", false).unwrap();
    assert_eq!(own["a"], "1");
    assert!(!own.contains_key("c"));
    assert_eq!(tools.opened_ports().unwrap(), vec![Port::tcp(9090)]);
    assert_eq!(tools.state().unit_status, Some(Status::blocked("broken")));

    // An empty value deletes on commit.
    tools
        .relation_set(&rel, false, &data(&[("a", "")]))
        .unwrap();
    tools.commit();
    assert!(!tools.state().relations[0].local_unit_data.contains_key("a"));
}

#[test]
fn relation_lifecycle_and_not_found() {
    let mut state = ModelState::new("prom", 0);
    let rel = state.add_relation("metrics-endpoint", "ne");
    state.add_remote_unit(&rel, "ne/10");
    state.add_remote_unit(&rel, "ne/2");
    state.set_remote_unit_data(&rel, "ne/2", &data(&[("port", "9100")]));
    state.set_remote_app_data(&rel, &data(&[("scrape_jobs", "[]")]));
    let other = state.add_relation("metrics-endpoint", "cadvisor");
    let tools = FakeHookTools::new(state);

    assert_eq!(
        tools.relation_ids("metrics-endpoint").unwrap(),
        vec![rel.clone(), other.clone()]
    );
    assert!(tools.relation_ids("alertmanager").unwrap().is_empty());
    // Sorted as strings, as Juju's uniter sorts them (`sort.Strings`): `ne/10` before `ne/2`.
    assert_eq!(tools.relation_list(&rel).unwrap(), vec!["ne/10", "ne/2"]);
    let unit = tools.relation_get(&rel, "ne/2", false).unwrap();
    assert_eq!(unit["port"], "9100");
    // Juju-managed keys are present in every unit databag.
    assert!(unit.contains_key("ingress-address"));
    assert_eq!(
        tools.relation_get(&rel, "ne", true).unwrap()["scrape_jobs"],
        "[]"
    );
    // A unit name is accepted with --app and names its application.
    assert_eq!(
        tools.relation_get(&rel, "ne/2", true).unwrap()["scrape_jobs"],
        "[]"
    );

    tools.state().remove_remote_unit(&rel, "ne/2");
    assert_eq!(tools.relation_list(&rel).unwrap(), vec!["ne/10"]);
    // A departed unit's data stays readable.
    assert_eq!(
        tools.relation_get(&rel, "ne/2", false).unwrap()["port"],
        "9100"
    );
    assert!(matches!(
        tools.relation_get(&rel, "ne/7", false),
        Err(HookToolError::NotFound(_))
    ));

    tools.state().remove_relation(&rel);
    assert_eq!(tools.relation_ids("metrics-endpoint").unwrap(), vec![other]);
    let err = tools.relation_get(&rel, "ne/10", false).unwrap_err();
    assert_eq!(
        err,
        HookToolError::RelationNotFound(format!(
            "invalid value \"{rel}\" for option -r: relation not found"
        ))
    );
    assert!(matches!(
        tools.relation_list(&rel),
        Err(HookToolError::RelationNotFound(_))
    ));
    assert!(matches!(
        tools.relation_set(&RelationId::new("metrics-endpoint", 99), false, &data(&[])),
        Err(HookToolError::RelationNotFound(_))
    ));
    // Right number, wrong endpoint: not that relation.
    assert!(matches!(
        tools.relation_list(&RelationId::new("alertmanager", 1)),
        Err(HookToolError::RelationNotFound(_))
    ));
}

#[test]
fn pending_writes_to_a_relation_broken_meanwhile_are_dropped() {
    let mut state = ModelState::new("prom", 0);
    let rel = state.add_relation("metrics-endpoint", "ne");
    let tools = FakeHookTools::new(state);
    tools
        .relation_set(&rel, false, &data(&[("k", "v")]))
        .unwrap();
    tools.state().remove_relation(&rel);
    tools.commit();
    assert!(!tools.state().relations[0].local_unit_data.contains_key("k"));
}

#[test]
fn application_status_needs_leadership() {
    let tools = FakeHookTools::new(ModelState::new("prom", 0));
    let err = tools.status_set(&Status::active(""), true).unwrap_err();
    assert_eq!(
        err,
        HookToolError::PermissionDenied("this unit is not the leader".into())
    );
    tools.state().set_leader(true);
    tools.status_set(&Status::waiting("x"), true).unwrap();
    let s = tools.state();
    assert_eq!(s.app_status, Some(Status::waiting("x")));
    assert_eq!(s.status_history.len(), 1);
    assert!(s.status_history[0].application);
}

#[test]
fn actions() {
    let tools = FakeHookTools::new(ModelState::new("prom", 0));
    assert_eq!(
        tools.action_get().unwrap_err(),
        HookToolError::Failed {
            tool: "action-get".into(),
            code: 1,
            stderr: "ERROR not running an action".into()
        }
    );
    let mut params = Map::new();
    params.insert("deep".into(), json!({"x": 1}));
    let event = tools.state().start_action("validate-configuration", params);
    assert_eq!(
        event,
        Event::Action {
            name: "validate-configuration".into(),
            id: "1".into()
        }
    );
    assert_eq!(tools.action_get().unwrap()["deep"], json!({"x": 1}));
    let results: BTreeMap<String, String> = [
        ("valid".to_string(), "false".to_string()),
        ("detail.line".to_string(), "3".to_string()),
    ]
    .into();
    tools.action_set(&results).unwrap();
    tools.action_log("checking").unwrap();
    tools.action_fail("invalid config").unwrap();
    let bad: BTreeMap<String, String> = [("Bad_Key".to_string(), "x".to_string())].into();
    assert!(matches!(
        tools.action_set(&bad),
        Err(HookToolError::Failed { code: 2, .. })
    ));
    {
        let s = tools.state();
        let action = s.action.as_ref().unwrap();
        assert!(
            action.results.is_empty(),
            "results are delivered at the end"
        );
        assert_eq!(action.logs, vec!["checking"]);
    }
    tools.commit();
    let s = tools.state();
    let action = s.action.as_ref().unwrap();
    assert_eq!(
        serde_json::Value::Object(action.results.clone()),
        json!({"valid": "false", "detail": {"line": "3"}})
    );
    assert_eq!(action.failure.as_deref(), Some("invalid config"));
}

#[test]
fn network_and_goal_state() {
    let mut state = charm_state();
    let rel = state.add_relation("metrics-endpoint", "ne");
    state.add_remote_unit(&rel, "ne/0");
    let tools = FakeHookTools::new(state);
    let info = tools.network_get("metrics-endpoint").unwrap();
    let address = tools.state().address.clone();
    assert_eq!(info.bind_addresses, vec![address.clone()]);
    assert_eq!(info.ingress_addresses, vec![address.clone()]);
    assert_eq!(info.egress_subnets, vec![format!("{address}/32")]);
    assert!(matches!(
        tools.network_get("nope"),
        Err(HookToolError::Failed { code: 1, .. })
    ));
    let goal = tools.goal_state().unwrap();
    assert_eq!(goal.planned_units(), vec!["prometheus-rs-k8s/0"]);
    tools.state().set_planned_units(3);
    tools
        .state()
        .goal_units
        .get_mut("prometheus-rs-k8s/2")
        .unwrap()
        .status = "dying".into();
    assert_eq!(
        tools.goal_state().unwrap().planned_units(),
        vec!["prometheus-rs-k8s/0", "prometheus-rs-k8s/1"]
    );
    assert!(goal.relations["metrics-endpoint"].contains_key("ne/0"));
    assert!(goal.relations["metrics-endpoint"].contains_key("ne"));
}

#[test]
fn calls_are_counted_per_tool_even_when_they_fail() {
    let tools = FakeHookTools::new(ModelState::new("prom", 0));
    tools.is_leader().unwrap();
    tools.is_leader().unwrap();
    let _ = tools.relation_list(&RelationId::new("x", 4));
    assert_eq!(tools.calls("is-leader"), 2);
    assert_eq!(tools.calls("relation-list"), 1);
    assert_eq!(tools.calls("config-get"), 0);
    assert_eq!(tools.state().total_calls(), 3);
}

#[test]
fn model_state_round_trips_through_json() {
    let mut state = charm_state();
    let rel = state.add_relation("metrics-endpoint", "ne");
    state.set_remote_unit_data(&rel, "ne/0", &data(&[("k", "v")]));
    let tools = FakeHookTools::new(state);
    tools
        .relation_set(&rel, false, &data(&[("x", "y")]))
        .unwrap();
    let state = tools.state().clone();
    let text = serde_json::to_string(&state).unwrap();
    let back: ModelState = serde_json::from_str(&text).unwrap();
    assert_eq!(back, state);
}

/// `env_for` sets exactly what Juju sets, so `HookContext` reads back the same event.
#[test]
fn env_for_round_trips_through_hook_context() {
    let mut state = charm_state();
    let rel = state.add_relation("metrics-endpoint", "node-exporter");
    state.add_remote_unit(&rel, "node-exporter/0");
    let action = state.start_action("validate-configuration", Map::new());
    let mut events = vec![
        Event::Install,
        Event::LeaderElected,
        Event::LeaderSettingsChanged,
        Event::ConfigChanged,
        Event::Start,
        Event::Stop,
        Event::Remove,
        Event::UpgradeCharm,
        Event::UpdateStatus,
        Event::CollectMetrics,
        action,
        Event::Workload {
            container: "prometheus".into(),
            kind: WorkloadEventKind::PebbleReady,
        },
        Event::Workload {
            container: "prometheus".into(),
            kind: WorkloadEventKind::CustomNotice {
                id: "3".into(),
                notice_type: "custom".into(),
                key: "example.com/reload".into(),
            },
        },
        Event::Workload {
            container: "prometheus".into(),
            kind: WorkloadEventKind::CheckFailed { check: "up".into() },
        },
        Event::Workload {
            container: "prometheus".into(),
            kind: WorkloadEventKind::CheckRecovered { check: "up".into() },
        },
        Event::Storage {
            name: "database".into(),
            id: "database/0".into(),
            kind: StorageEventKind::Attached,
        },
        Event::Secret {
            kind: SecretEventKind::Changed,
            id: "secret:abc".into(),
            label: Some("tls".into()),
        },
        Event::Unknown("leader-deposed".into()),
    ];
    for (kind, unit) in [
        (RelationEventKind::Created, None),
        (RelationEventKind::Joined, Some("node-exporter/0")),
        (RelationEventKind::Changed, Some("node-exporter/0")),
        (RelationEventKind::Changed, None),
        (RelationEventKind::Departed, Some("node-exporter/0")),
        (RelationEventKind::Broken, None),
    ] {
        events.push(state.relation_event(&rel, kind, unit));
    }
    for event in events {
        let env: BTreeMap<String, String> = state.env_for(&event).into_iter().collect();
        let ctx = HookContext::from_vars(|k| env.get(k).cloned())
            .unwrap_or_else(|e| panic!("{event:?}: {e}"));
        assert_eq!(ctx.event, event);
        assert_eq!(ctx.unit_name, "prometheus-rs-k8s/0");
        assert_eq!(ctx.model_name, state.model_name);
        let hook_name = &env["JUJU_HOOK_NAME"];
        if matches!(event, Event::Action { .. }) {
            assert_eq!(hook_name, "");
            assert_eq!(env["JUJU_ACTION_TAG"], "action-1");
        } else {
            assert_eq!(*hook_name, event.name());
        }
        if let Event::Relation(r) = &event {
            // Always exported, even when empty.
            assert_eq!(
                env["JUJU_REMOTE_UNIT"],
                r.remote_unit.clone().unwrap_or_default()
            );
            assert_eq!(
                env["JUJU_RELATION_ID"],
                format!("metrics-endpoint:{}", rel.id)
            );
        }
        assert!(!env.contains_key("PATH") && !env.contains_key("HOME"));
    }
}

//! `HookContext::from_vars` over every event kind Juju dispatches, with the variables Juju sets.

use std::collections::HashMap;
use std::path::PathBuf;

use juju_hook::{
    Event, HookContext, HookContextError, RelationEvent, RelationEventKind, RelationId,
    SecretEventKind, StorageEventKind, WorkloadEventKind,
};

/// The variables Juju sets for every hook, plus `extra`.
fn vars(dispatch: &str, hook_name: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = [
        ("JUJU_DISPATCH_PATH", dispatch),
        ("JUJU_HOOK_NAME", hook_name),
        ("JUJU_UNIT_NAME", "prometheus-k8s/3"),
        ("JUJU_MODEL_NAME", "cos"),
        ("JUJU_MODEL_UUID", "cdac5656-2423-4388-8f30-41854b4cca7d"),
        ("JUJU_VERSION", "3.6.8"),
        (
            "JUJU_CHARM_DIR",
            "/var/lib/juju/agents/unit-prometheus-k8s-3/charm",
        ),
        (
            "CHARM_DIR",
            "/var/lib/juju/agents/unit-prometheus-k8s-3/charm",
        ),
        ("JUJU_CONTEXT_ID", "prometheus-k8s/3-install-1234"),
        ("JUJU_MACHINE_ID", ""),
        ("JUJU_PRINCIPAL_UNIT", ""),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    env
}

fn parse(env: &HashMap<String, String>) -> Result<HookContext, HookContextError> {
    HookContext::from_vars(|k| env.get(k).cloned())
}

fn event(dispatch: &str, hook_name: &str, extra: &[(&str, &str)]) -> Event {
    parse(&vars(dispatch, hook_name, extra)).unwrap().event
}

#[test]
fn common_fields() {
    let ctx = parse(&vars("hooks/install", "install", &[])).unwrap();
    assert_eq!(ctx.event, Event::Install);
    assert_eq!(ctx.unit_name, "prometheus-k8s/3");
    assert_eq!(ctx.app_name, "prometheus-k8s");
    assert_eq!(ctx.unit_number, 3);
    assert_eq!(ctx.model_name, "cos");
    assert_eq!(ctx.model_uuid, "cdac5656-2423-4388-8f30-41854b4cca7d");
    assert_eq!(
        ctx.charm_dir,
        PathBuf::from("/var/lib/juju/agents/unit-prometheus-k8s-3/charm")
    );
    assert_eq!(ctx.juju_version, "3.6.8");
}

#[test]
fn unit_hooks() {
    let cases = [
        ("install", Event::Install),
        ("leader-elected", Event::LeaderElected),
        ("leader-settings-changed", Event::LeaderSettingsChanged),
        ("config-changed", Event::ConfigChanged),
        ("start", Event::Start),
        ("upgrade-charm", Event::UpgradeCharm),
        ("update-status", Event::UpdateStatus),
        ("stop", Event::Stop),
        ("remove", Event::Remove),
        ("collect-metrics", Event::CollectMetrics),
    ];
    for (name, expected) in cases {
        let got = event(&format!("hooks/{name}"), name, &[]);
        assert_eq!(got, expected, "{name}");
        assert_eq!(got.name(), name);
        assert_eq!(got.dispatch_path(), format!("hooks/{name}"));
    }
}

#[test]
fn relation_hooks_with_hyphenated_endpoints() {
    let kinds = [
        ("created", RelationEventKind::Created, ""),
        ("joined", RelationEventKind::Joined, "node-exporter/1"),
        ("changed", RelationEventKind::Changed, "node-exporter/1"),
        ("departed", RelationEventKind::Departed, "node-exporter/1"),
        ("broken", RelationEventKind::Broken, ""),
    ];
    for endpoint in ["metrics-endpoint", "self-metrics-endpoint", "alertmanager"] {
        for (suffix, kind, remote_unit) in kinds {
            let hook = format!("{endpoint}-relation-{suffix}");
            let rel_id = format!("{endpoint}:17");
            let mut extra = vec![
                ("JUJU_RELATION", endpoint),
                ("JUJU_RELATION_ID", rel_id.as_str()),
                ("JUJU_REMOTE_APP", "node-exporter"),
                ("JUJU_REMOTE_UNIT", remote_unit),
            ];
            if kind == RelationEventKind::Departed {
                extra.push(("JUJU_DEPARTING_UNIT", "node-exporter/1"));
            }
            let got = event(&format!("hooks/{hook}"), &hook, &extra);
            let expected = Event::Relation(RelationEvent {
                kind,
                relation: RelationId::new(endpoint, 17),
                remote_app: "node-exporter".into(),
                remote_unit: (!remote_unit.is_empty()).then(|| remote_unit.to_string()),
                departing_unit: (kind == RelationEventKind::Departed)
                    .then(|| "node-exporter/1".to_string()),
            });
            assert_eq!(got, expected, "{hook}");
            assert_eq!(got.name(), hook);
        }
    }
}

#[test]
fn relation_changed_for_app_data_has_no_remote_unit() {
    let got = event(
        "hooks/metrics-endpoint-relation-changed",
        "metrics-endpoint-relation-changed",
        &[
            ("JUJU_RELATION", "metrics-endpoint"),
            ("JUJU_RELATION_ID", "metrics-endpoint:4"),
            ("JUJU_REMOTE_APP", "ne"),
            ("JUJU_REMOTE_UNIT", ""),
        ],
    );
    let Event::Relation(r) = got else {
        panic!("not a relation event: {got:?}")
    };
    assert_eq!(r.remote_unit, None);
    assert_eq!(r.relation, RelationId::new("metrics-endpoint", 4));
}

#[test]
fn relation_hook_needs_relation_vars() {
    let env = vars(
        "hooks/metrics-endpoint-relation-joined",
        "metrics-endpoint-relation-joined",
        &[("JUJU_RELATION", "metrics-endpoint")],
    );
    assert_eq!(
        parse(&env).unwrap_err(),
        HookContextError::Missing("JUJU_RELATION_ID")
    );
    let env = vars(
        "hooks/metrics-endpoint-relation-joined",
        "metrics-endpoint-relation-joined",
        &[
            ("JUJU_RELATION", "metrics-endpoint"),
            ("JUJU_RELATION_ID", "metrics-endpoint:x"),
        ],
    );
    assert!(matches!(
        parse(&env).unwrap_err(),
        HookContextError::Invalid {
            name: "JUJU_RELATION_ID",
            ..
        }
    ));
}

#[test]
fn workload_hooks() {
    let base = [("JUJU_WORKLOAD_NAME", "prometheus-main")];
    assert_eq!(
        event(
            "hooks/prometheus-main-pebble-ready",
            "prometheus-main-pebble-ready",
            &base
        ),
        Event::Workload {
            container: "prometheus-main".into(),
            kind: WorkloadEventKind::PebbleReady
        }
    );
    let notice = event(
        "hooks/prometheus-main-pebble-custom-notice",
        "prometheus-main-pebble-custom-notice",
        &[
            base[0],
            ("JUJU_NOTICE_ID", "17"),
            ("JUJU_NOTICE_TYPE", "custom"),
            ("JUJU_NOTICE_KEY", "example.com/reload"),
        ],
    );
    assert_eq!(
        notice,
        Event::Workload {
            container: "prometheus-main".into(),
            kind: WorkloadEventKind::CustomNotice {
                id: "17".into(),
                notice_type: "custom".into(),
                key: "example.com/reload".into()
            }
        }
    );
    for (suffix, failed) in [
        ("pebble-check-failed", true),
        ("pebble-check-recovered", false),
    ] {
        let hook = format!("prometheus-main-{suffix}");
        let got = event(
            &format!("hooks/{hook}"),
            &hook,
            &[base[0], ("JUJU_PEBBLE_CHECK_NAME", "up")],
        );
        let kind = if failed {
            WorkloadEventKind::CheckFailed { check: "up".into() }
        } else {
            WorkloadEventKind::CheckRecovered { check: "up".into() }
        };
        assert_eq!(
            got,
            Event::Workload {
                container: "prometheus-main".into(),
                kind
            }
        );
        assert_eq!(got.name(), hook);
    }
}

#[test]
fn storage_hooks() {
    for (suffix, kind) in [
        ("storage-attached", StorageEventKind::Attached),
        ("storage-detaching", StorageEventKind::Detaching),
    ] {
        let hook = format!("tsdb-data-{suffix}");
        let got = event(
            &format!("hooks/{hook}"),
            &hook,
            &[
                ("JUJU_STORAGE_ID", "tsdb-data/0"),
                ("JUJU_STORAGE_LOCATION", "/var/lib/juju/storage/tsdb-data/0"),
                ("JUJU_STORAGE_KIND", "filesystem"),
            ],
        );
        assert_eq!(
            got,
            Event::Storage {
                name: "tsdb-data".into(),
                id: "tsdb-data/0".into(),
                kind
            }
        );
        assert_eq!(got.name(), hook);
    }
}

#[test]
fn secret_hooks() {
    for (name, kind) in [
        ("secret-changed", SecretEventKind::Changed),
        ("secret-rotate", SecretEventKind::Rotate),
        ("secret-remove", SecretEventKind::Remove),
        ("secret-expired", SecretEventKind::Expired),
    ] {
        let got = event(
            &format!("hooks/{name}"),
            name,
            &[
                ("JUJU_SECRET_ID", "secret:cj4v2vq9o2d3kfb7ilb0"),
                ("JUJU_SECRET_LABEL", ""),
                ("JUJU_SECRET_REVISION", "2"),
            ],
        );
        assert_eq!(
            got,
            Event::Secret {
                kind,
                id: "secret:cj4v2vq9o2d3kfb7ilb0".into(),
                label: None
            }
        );
    }
    let labelled = event(
        "hooks/secret-changed",
        "secret-changed",
        &[("JUJU_SECRET_ID", "secret:x"), ("JUJU_SECRET_LABEL", "tls")],
    );
    assert!(matches!(labelled, Event::Secret { label: Some(ref l), .. } if l == "tls"));
}

#[test]
fn actions_keep_hyphens_and_have_empty_hook_name() {
    let got = event(
        "actions/validate-configuration",
        "",
        &[
            ("JUJU_ACTION_NAME", "validate-configuration"),
            ("JUJU_ACTION_UUID", "42"),
            ("JUJU_ACTION_TAG", "action-42"),
        ],
    );
    assert_eq!(
        got,
        Event::Action {
            name: "validate-configuration".into(),
            id: "42".into()
        }
    );
    assert_eq!(got.dispatch_path(), "actions/validate-configuration");
}

#[test]
fn unknown_hooks_are_not_errors() {
    assert_eq!(
        event("hooks/leader-deposed", "leader-deposed", &[]),
        Event::Unknown("leader-deposed".into())
    );
}

#[test]
fn missing_or_bad_common_vars() {
    let mut env = vars("hooks/install", "install", &[]);
    env.remove("JUJU_DISPATCH_PATH");
    assert_eq!(
        parse(&env).unwrap_err(),
        HookContextError::Missing("JUJU_DISPATCH_PATH")
    );
    let mut env = vars("hooks/install", "install", &[]);
    env.insert("JUJU_UNIT_NAME".into(), "prometheus".into());
    assert!(matches!(
        parse(&env).unwrap_err(),
        HookContextError::Invalid {
            name: "JUJU_UNIT_NAME",
            ..
        }
    ));
    let mut env = vars("hooks/install", "install", &[]);
    env.insert("JUJU_MODEL_UUID".into(), String::new());
    assert_eq!(
        parse(&env).unwrap_err(),
        HookContextError::Missing("JUJU_MODEL_UUID")
    );
}

//! The event Juju dispatched, parsed from `JUJU_DISPATCH_PATH` and the `JUJU_*` environment.

use std::path::PathBuf;

use thiserror::Error;

use crate::RelationId;

/// What happened to a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelationEventKind {
    /// `-relation-created`
    Created,
    /// `-relation-joined`
    Joined,
    /// `-relation-changed`
    Changed,
    /// `-relation-departed`
    Departed,
    /// `-relation-broken`
    Broken,
}

/// A relation hook's details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationEvent {
    /// What happened.
    pub kind: RelationEventKind,
    /// The relation (`JUJU_RELATION_ID`); its endpoint is `JUJU_RELATION`.
    pub relation: RelationId,
    /// `JUJU_REMOTE_APP`.
    pub remote_app: String,
    /// `JUJU_REMOTE_UNIT`; `None` when empty (created, broken, app-data changes).
    pub remote_unit: Option<String>,
    /// `JUJU_DEPARTING_UNIT` in `-relation-departed`.
    pub departing_unit: Option<String>,
}

/// What happened in a workload container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkloadEventKind {
    /// `<container>-pebble-ready`: Pebble answers (again); its API-added plan is empty.
    PebbleReady,
    /// `<container>-pebble-custom-notice`.
    CustomNotice {
        /// `JUJU_NOTICE_ID`
        id: String,
        /// `JUJU_NOTICE_TYPE`
        notice_type: String,
        /// `JUJU_NOTICE_KEY`
        key: String,
    },
    /// `<container>-pebble-check-failed` for `JUJU_PEBBLE_CHECK_NAME`.
    CheckFailed {
        /// The check's name.
        check: String,
    },
    /// `<container>-pebble-check-recovered` for `JUJU_PEBBLE_CHECK_NAME`.
    CheckRecovered {
        /// The check's name.
        check: String,
    },
}

/// Storage hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageEventKind {
    /// `<storage>-storage-attached`
    Attached,
    /// `<storage>-storage-detaching`
    Detaching,
}

/// Secret hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretEventKind {
    /// `secret-changed`
    Changed,
    /// `secret-rotate`
    Rotate,
    /// `secret-remove`
    Remove,
    /// `secret-expired`
    Expired,
}

/// Every event Juju can dispatch to a Kubernetes sidecar charm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `install`
    Install,
    /// `leader-elected`
    LeaderElected,
    /// `leader-settings-changed`
    LeaderSettingsChanged,
    /// `config-changed`
    ConfigChanged,
    /// `start`
    Start,
    /// `stop`
    Stop,
    /// `remove`
    Remove,
    /// `upgrade-charm`
    UpgradeCharm,
    /// `update-status`
    UpdateStatus,
    /// `collect-metrics` (machine charms; ignored)
    CollectMetrics,
    /// `<endpoint>-relation-*`
    Relation(RelationEvent),
    /// `<container>-pebble-*`
    Workload {
        /// `JUJU_WORKLOAD_NAME`.
        container: String,
        /// What happened.
        kind: WorkloadEventKind,
    },
    /// `<storage>-storage-*`
    Storage {
        /// Storage name from metadata.yaml.
        name: String,
        /// `JUJU_STORAGE_ID`, e.g. `database/0`.
        id: String,
        /// What happened.
        kind: StorageEventKind,
    },
    /// `secret-*`
    Secret {
        /// What happened.
        kind: SecretEventKind,
        /// `JUJU_SECRET_ID`.
        id: String,
        /// `JUJU_SECRET_LABEL`, if any.
        label: Option<String>,
    },
    /// `actions/<name>`
    Action {
        /// The action name as in actions.yaml.
        name: String,
        /// `JUJU_ACTION_UUID`.
        id: String,
    },
    /// A hook this crate does not know (Juju may add some; treat as a no-op).
    Unknown(String),
}

impl Event {
    /// The hook or action name, as in `JUJU_DISPATCH_PATH`'s last component.
    pub fn name(&self) -> String {
        match self {
            Event::Install => "install".into(),
            Event::LeaderElected => "leader-elected".into(),
            Event::LeaderSettingsChanged => "leader-settings-changed".into(),
            Event::ConfigChanged => "config-changed".into(),
            Event::Start => "start".into(),
            Event::Stop => "stop".into(),
            Event::Remove => "remove".into(),
            Event::UpgradeCharm => "upgrade-charm".into(),
            Event::UpdateStatus => "update-status".into(),
            Event::CollectMetrics => "collect-metrics".into(),
            Event::Relation(r) => {
                let suffix = match r.kind {
                    RelationEventKind::Created => "created",
                    RelationEventKind::Joined => "joined",
                    RelationEventKind::Changed => "changed",
                    RelationEventKind::Departed => "departed",
                    RelationEventKind::Broken => "broken",
                };
                format!("{}-relation-{suffix}", r.relation.endpoint)
            }
            Event::Workload { container, kind } => {
                let suffix = match kind {
                    WorkloadEventKind::PebbleReady => "pebble-ready",
                    WorkloadEventKind::CustomNotice { .. } => "pebble-custom-notice",
                    WorkloadEventKind::CheckFailed { .. } => "pebble-check-failed",
                    WorkloadEventKind::CheckRecovered { .. } => "pebble-check-recovered",
                };
                format!("{container}-{suffix}")
            }
            Event::Storage { name, kind, .. } => match kind {
                StorageEventKind::Attached => format!("{name}-storage-attached"),
                StorageEventKind::Detaching => format!("{name}-storage-detaching"),
            },
            Event::Secret { kind, .. } => match kind {
                SecretEventKind::Changed => "secret-changed".into(),
                SecretEventKind::Rotate => "secret-rotate".into(),
                SecretEventKind::Remove => "secret-remove".into(),
                SecretEventKind::Expired => "secret-expired".into(),
            },
            Event::Action { name, .. } => name.clone(),
            Event::Unknown(name) => name.clone(),
        }
    }

    /// The `JUJU_DISPATCH_PATH` Juju would set for this event.
    pub fn dispatch_path(&self) -> String {
        match self {
            Event::Action { name, .. } => format!("actions/{name}"),
            other => format!("hooks/{}", other.name()),
        }
    }
}

/// The environment was not one Juju sets for a hook.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum HookContextError {
    /// A variable Juju always sets for this kind of hook is missing or empty.
    #[error("{0} is not set: not running as a Juju hook")]
    Missing(&'static str),
    /// A variable has a value Juju never sets.
    #[error("{name} has an invalid value {value:?}: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
}

/// Everything a hook knows from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookContext {
    /// The event being handled.
    pub event: Event,
    /// `JUJU_UNIT_NAME`, e.g. `prometheus/0`.
    pub unit_name: String,
    /// The application name (before the `/`).
    pub app_name: String,
    /// The unit number (after the `/`).
    pub unit_number: u32,
    /// `JUJU_MODEL_NAME` (also the Kubernetes namespace).
    pub model_name: String,
    /// `JUJU_MODEL_UUID`.
    pub model_uuid: String,
    /// `JUJU_CHARM_DIR`.
    pub charm_dir: PathBuf,
    /// `JUJU_VERSION`, e.g. `3.6.8`.
    pub juju_version: String,
}

impl HookContext {
    /// Reads the context from this process's environment.
    pub fn from_env() -> Result<Self, HookContextError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the context from any source of variables (tests pass a map).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, HookContextError> {
        let get = |name: &'static str| var(name).filter(|v| !v.is_empty());
        let require = |name: &'static str| get(name).ok_or(HookContextError::Missing(name));

        let dispatch = require("JUJU_DISPATCH_PATH")?;
        let unit_name = require("JUJU_UNIT_NAME")?;
        let (app_name, number) =
            unit_name
                .split_once('/')
                .ok_or_else(|| HookContextError::Invalid {
                    name: "JUJU_UNIT_NAME",
                    value: unit_name.clone(),
                    reason: "expected <application>/<number>".into(),
                })?;
        let unit_number = number.parse().map_err(|_| HookContextError::Invalid {
            name: "JUJU_UNIT_NAME",
            value: unit_name.clone(),
            reason: "the unit number is not a number".into(),
        })?;
        let app_name = app_name.to_string();
        let model_name = require("JUJU_MODEL_NAME")?;
        let model_uuid = require("JUJU_MODEL_UUID")?;
        let charm_dir = get("JUJU_CHARM_DIR")
            .or_else(|| get("CHARM_DIR"))
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        let juju_version = get("JUJU_VERSION").unwrap_or_default();

        let event = parse_event(&dispatch, &get)?;
        Ok(Self {
            event,
            unit_name,
            app_name,
            unit_number,
            model_name,
            model_uuid,
            charm_dir,
            juju_version,
        })
    }
}

fn parse_event(
    dispatch: &str,
    get: &dyn Fn(&'static str) -> Option<String>,
) -> Result<Event, HookContextError> {
    let require = |name: &'static str| get(name).ok_or(HookContextError::Missing(name));
    let (parent, name) = dispatch.rsplit_once('/').unwrap_or(("hooks", dispatch));
    if parent.ends_with("actions") {
        return Ok(Event::Action {
            name: name.to_string(),
            id: get("JUJU_ACTION_UUID").unwrap_or_default(),
        });
    }
    let simple = match name {
        "install" => Some(Event::Install),
        "leader-elected" => Some(Event::LeaderElected),
        "leader-settings-changed" => Some(Event::LeaderSettingsChanged),
        "config-changed" => Some(Event::ConfigChanged),
        "start" => Some(Event::Start),
        "stop" => Some(Event::Stop),
        "remove" => Some(Event::Remove),
        "upgrade-charm" => Some(Event::UpgradeCharm),
        "update-status" => Some(Event::UpdateStatus),
        "collect-metrics" => Some(Event::CollectMetrics),
        "secret-changed" | "secret-rotate" | "secret-remove" | "secret-expired" => {
            let kind = match name {
                "secret-changed" => SecretEventKind::Changed,
                "secret-rotate" => SecretEventKind::Rotate,
                "secret-remove" => SecretEventKind::Remove,
                _ => SecretEventKind::Expired,
            };
            Some(Event::Secret {
                kind,
                id: get("JUJU_SECRET_ID").unwrap_or_default(),
                label: get("JUJU_SECRET_LABEL"),
            })
        }
        _ => None,
    };
    if let Some(event) = simple {
        return Ok(event);
    }

    const RELATION: [(&str, RelationEventKind); 5] = [
        ("-relation-created", RelationEventKind::Created),
        ("-relation-joined", RelationEventKind::Joined),
        ("-relation-changed", RelationEventKind::Changed),
        ("-relation-departed", RelationEventKind::Departed),
        ("-relation-broken", RelationEventKind::Broken),
    ];
    if let Some((_, kind)) = RELATION.iter().find(|(s, _)| name.ends_with(s)) {
        let raw_id = require("JUJU_RELATION_ID")?;
        let mut relation: RelationId =
            raw_id.parse().map_err(|reason| HookContextError::Invalid {
                name: "JUJU_RELATION_ID",
                value: raw_id.clone(),
                reason,
            })?;
        // The endpoint comes from JUJU_RELATION: endpoint names may contain hyphens.
        relation.endpoint = require("JUJU_RELATION")?;
        return Ok(Event::Relation(RelationEvent {
            kind: *kind,
            relation,
            remote_app: get("JUJU_REMOTE_APP").unwrap_or_default(),
            remote_unit: get("JUJU_REMOTE_UNIT"),
            departing_unit: get("JUJU_DEPARTING_UNIT"),
        }));
    }

    const WORKLOAD: [&str; 4] = [
        "-pebble-ready",
        "-pebble-custom-notice",
        "-pebble-check-failed",
        "-pebble-check-recovered",
    ];
    if let Some(suffix) = WORKLOAD.iter().find(|s| name.ends_with(*s)) {
        let container =
            get("JUJU_WORKLOAD_NAME").unwrap_or_else(|| name.trim_end_matches(suffix).to_string());
        let kind = match *suffix {
            "-pebble-ready" => WorkloadEventKind::PebbleReady,
            "-pebble-custom-notice" => WorkloadEventKind::CustomNotice {
                id: get("JUJU_NOTICE_ID").unwrap_or_default(),
                notice_type: get("JUJU_NOTICE_TYPE").unwrap_or_default(),
                key: get("JUJU_NOTICE_KEY").unwrap_or_default(),
            },
            "-pebble-check-failed" => WorkloadEventKind::CheckFailed {
                check: get("JUJU_PEBBLE_CHECK_NAME").unwrap_or_default(),
            },
            _ => WorkloadEventKind::CheckRecovered {
                check: get("JUJU_PEBBLE_CHECK_NAME").unwrap_or_default(),
            },
        };
        return Ok(Event::Workload { container, kind });
    }

    for (suffix, kind) in [
        ("-storage-attached", StorageEventKind::Attached),
        ("-storage-detaching", StorageEventKind::Detaching),
    ] {
        if let Some(storage) = name.strip_suffix(suffix) {
            let id = get("JUJU_STORAGE_ID").unwrap_or_default();
            let name = id
                .split_once('/')
                .map(|(n, _)| n.to_string())
                .unwrap_or_else(|| storage.to_string());
            return Ok(Event::Storage { name, id, kind });
        }
    }

    Ok(Event::Unknown(name.to_string()))
}

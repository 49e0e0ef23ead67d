//! The environment Juju gives `dispatch` for an event.

use juju_hook::{Event, RelationEventKind, WorkloadEventKind};

use super::state::ModelState;

impl ModelState {
    /// The variables Juju sets when it runs `dispatch` for `event` in this model: the common
    /// `JUJU_*` set plus the event kind's own (relation, action, workload, secret, storage).
    /// `PATH` is not included (see [`super::hook_command`]).
    pub fn env_for(&self, event: &Event) -> Vec<(String, String)> {
        let unit = self.unit_name();
        let charm_dir = self.charm_dir.display().to_string();
        let hook_name = match event {
            Event::Action { .. } => String::new(),
            other => other.name(),
        };
        let mut env: Vec<(&str, String)> = vec![
            ("JUJU_DISPATCH_PATH", event.dispatch_path()),
            ("JUJU_HOOK_NAME", hook_name),
            ("JUJU_UNIT_NAME", unit.clone()),
            ("JUJU_MODEL_NAME", self.model_name.clone()),
            ("JUJU_MODEL_UUID", self.model_uuid.clone()),
            ("JUJU_VERSION", self.juju_version.clone()),
            ("JUJU_CHARM_DIR", charm_dir.clone()),
            ("CHARM_DIR", charm_dir),
            ("JUJU_CONTEXT_ID", format!("{unit}-{}-1", event.name())),
            (
                "JUJU_AGENT_SOCKET_ADDRESS",
                format!(
                    "@/var/lib/juju/agents/unit-{}-{}/agent.socket",
                    self.app_name, self.unit_number
                ),
            ),
            ("JUJU_AGENT_SOCKET_NETWORK", "unix".into()),
            ("JUJU_API_ADDRESSES", "10.152.183.1:17070".into()),
            ("JUJU_MACHINE_ID", String::new()),
            ("JUJU_PRINCIPAL_UNIT", String::new()),
            ("JUJU_AVAILABILITY_ZONE", String::new()),
            ("CLOUD_API_VERSION", "1.31.0".into()),
            ("JUJU_CHARM_HTTP_PROXY", String::new()),
            ("JUJU_CHARM_HTTPS_PROXY", String::new()),
            ("JUJU_CHARM_FTP_PROXY", String::new()),
            ("JUJU_CHARM_NO_PROXY", String::new()),
            ("LANG", "C.UTF-8".into()),
            ("TERM", "tmux-256color".into()),
            ("DEBIAN_FRONTEND", "noninteractive".into()),
            ("APT_LISTCHANGES_FRONTEND", "none".into()),
        ];
        match event {
            Event::Relation(r) => {
                env.push(("JUJU_RELATION", r.relation.endpoint.clone()));
                env.push(("JUJU_RELATION_ID", r.relation.to_string()));
                env.push(("JUJU_REMOTE_APP", r.remote_app.clone()));
                // Always exported, empty when there is no remote unit.
                env.push((
                    "JUJU_REMOTE_UNIT",
                    r.remote_unit.clone().unwrap_or_default(),
                ));
                if r.kind == RelationEventKind::Departed {
                    env.push((
                        "JUJU_DEPARTING_UNIT",
                        r.departing_unit.clone().unwrap_or_default(),
                    ));
                }
            }
            Event::Action { name, id } => {
                env.push(("JUJU_ACTION_NAME", name.clone()));
                env.push(("JUJU_ACTION_UUID", id.clone()));
                env.push(("JUJU_ACTION_TAG", format!("action-{id}")));
            }
            Event::Workload { container, kind } => {
                env.push(("JUJU_WORKLOAD_NAME", container.clone()));
                match kind {
                    WorkloadEventKind::PebbleReady => {}
                    WorkloadEventKind::CustomNotice {
                        id,
                        notice_type,
                        key,
                    } => {
                        env.push(("JUJU_NOTICE_ID", id.clone()));
                        env.push(("JUJU_NOTICE_TYPE", notice_type.clone()));
                        env.push(("JUJU_NOTICE_KEY", key.clone()));
                    }
                    WorkloadEventKind::CheckFailed { check }
                    | WorkloadEventKind::CheckRecovered { check } => {
                        env.push(("JUJU_PEBBLE_CHECK_NAME", check.clone()));
                    }
                }
            }
            Event::Secret { id, label, .. } => {
                env.push(("JUJU_SECRET_ID", id.clone()));
                env.push(("JUJU_SECRET_LABEL", label.clone().unwrap_or_default()));
            }
            Event::Storage { id, .. } => {
                env.push(("JUJU_STORAGE_ID", id.clone()));
                env.push((
                    "JUJU_STORAGE_LOCATION",
                    format!("/var/lib/juju/storage/{id}"),
                ));
                env.push(("JUJU_STORAGE_KIND", "filesystem".into()));
            }
            _ => {}
        }
        env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

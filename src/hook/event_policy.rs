//! What an event asks of the charm: the one place that decides which events converge the
//! unit, which take the full path (every databag read afresh, no shortcut), and which mean a
//! new workload container.

use juju_hook::{Event, StorageEventKind, WorkloadEventKind};

/// How the charm handles one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventPolicy {
    /// An action: run it, converge nothing.
    Action,
    /// Nothing to converge: the pod is going away, or the event does not concern the charm.
    Ignore,
    /// Converge the whole unit.
    Reconcile {
        /// Read every databag afresh (no databag cache) and compute and apply in full (no
        /// unchanged-inputs shortcut). These events bound how long anything cached can be
        /// stale: update-status runs every 5 minutes by default.
        full_path: bool,
        /// The workload container (or its image) may be new: detect the Prometheus version
        /// again.
        fresh_container: bool,
    },
}

impl EventPolicy {
    /// The policy of `event`.
    pub fn of(event: &Event) -> Self {
        match event {
            Event::Action { .. } => Self::Action,
            Event::Stop
            | Event::Remove
            | Event::CollectMetrics
            | Event::Secret { .. }
            | Event::Unknown(_)
            | Event::Storage {
                kind: StorageEventKind::Detaching,
                ..
            } => Self::Ignore,
            Event::Workload {
                kind: WorkloadEventKind::PebbleReady,
                ..
            }
            | Event::UpgradeCharm => Self::Reconcile {
                full_path: true,
                fresh_container: true,
            },
            Event::Install | Event::LeaderElected | Event::UpdateStatus => Self::Reconcile {
                full_path: true,
                fresh_container: false,
            },
            _ => Self::Reconcile {
                full_path: false,
                fresh_container: false,
            },
        }
    }

    /// Whether `event` takes the full path (see [`EventPolicy::Reconcile`]).
    pub fn is_full_path(event: &Event) -> bool {
        matches!(
            Self::of(event),
            Self::Reconcile {
                full_path: true,
                ..
            }
        )
    }

    /// Whether `event` may come with a new workload container.
    pub fn is_fresh_container(event: &Event) -> bool {
        matches!(
            Self::of(event),
            Self::Reconcile {
                fresh_container: true,
                ..
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use juju_hook::{RelationEvent, RelationEventKind, RelationId};

    fn pebble_ready() -> Event {
        Event::Workload {
            kind: WorkloadEventKind::PebbleReady,
            container: "prometheus".into(),
        }
    }

    #[test]
    fn full_path_events_are_those_that_bound_staleness_or_see_a_new_container() {
        for event in [
            Event::Install,
            Event::UpgradeCharm,
            Event::LeaderElected,
            Event::UpdateStatus,
            pebble_ready(),
        ] {
            assert!(EventPolicy::is_full_path(&event), "{event:?}");
        }
        for event in [
            Event::ConfigChanged,
            Event::Start,
            Event::LeaderSettingsChanged,
        ] {
            assert!(!EventPolicy::is_full_path(&event), "{event:?}");
        }
    }

    #[test]
    fn only_pebble_ready_and_upgrades_mean_a_fresh_container() {
        assert!(EventPolicy::is_fresh_container(&pebble_ready()));
        assert!(EventPolicy::is_fresh_container(&Event::UpgradeCharm));
        assert!(!EventPolicy::is_fresh_container(&Event::UpdateStatus));
        assert!(!EventPolicy::is_fresh_container(&Event::Install));
    }

    #[test]
    fn relation_events_reconcile_without_the_full_path() {
        let event = Event::Relation(RelationEvent {
            kind: RelationEventKind::Changed,
            relation: RelationId::new("metrics-endpoint", 3),
            remote_app: "node".into(),
            remote_unit: Some("node/0".into()),
            departing_unit: None,
        });
        assert_eq!(
            EventPolicy::of(&event),
            EventPolicy::Reconcile {
                full_path: false,
                fresh_container: false
            }
        );
        assert_eq!(EventPolicy::of(&Event::Stop), EventPolicy::Ignore);
    }
}

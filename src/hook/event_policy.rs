//! What an event asks of the charm: the one place that decides which events converge the
//! unit, which take the full path (every databag read afresh, no shortcut), and which mean a
//! new workload container.

use juju_hook::{Event, Refresh, StorageEventKind, WorkloadEventKind};

/// Hook-tool calls update-status spends re-reading remote relation data from Juju (on top of
/// `config-get`, `is-leader`, one `relation-ids`, and once a round `opened-ports`, `state-get`
/// and `status-set`): at most 20 calls in all. See [`juju_hook::cache::Rotation`] for the bound
/// this gives on how long a databag can stay unverified.
pub const UPDATE_STATUS_READ_BUDGET: usize = 14;

/// How the charm handles one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventPolicy {
    /// An action: run it, converge nothing.
    Action,
    /// Nothing to converge: the pod is going away, or the event does not concern the charm.
    Ignore,
    /// Converge the whole unit.
    Reconcile {
        /// Compute and apply in full (no unchanged-inputs shortcut).
        full_path: bool,
        /// How much of the databag cache to trust: install, upgrade-charm and leader-elected
        /// read everything afresh; update-status re-reads a rotating slice within
        /// [`UPDATE_STATUS_READ_BUDGET`] calls, which bounds how long anything cached can be
        /// stale; pebble-ready trusts it (a new workload container changes nothing in Juju,
        /// and the charm container keeps the cache).
        reads: Refresh,
        /// The workload container (or its image) may be new: detect the Prometheus version
        /// again.
        fresh_container: bool,
        /// Check the workload's files against what the charm pushed (pull the managed
        /// configuration files, list the target files) and recompute after a targets-only
        /// apply: what bounds how long anything changed behind the charm's back, or applied by
        /// the targets shortcut, stands unchecked.
        checks_workload: bool,
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
            } => Self::Reconcile {
                full_path: true,
                reads: Refresh::Cached,
                fresh_container: true,
                checks_workload: false,
            },
            Event::UpgradeCharm => Self::Reconcile {
                full_path: true,
                reads: Refresh::Full,
                fresh_container: true,
                checks_workload: false,
            },
            Event::Install | Event::LeaderElected => Self::Reconcile {
                full_path: true,
                reads: Refresh::Full,
                fresh_container: false,
                checks_workload: false,
            },
            // Not the full path: only what its checks find out of place, a re-read that
            // changed or a targets-only apply makes it compute everything.
            Event::UpdateStatus => Self::Reconcile {
                full_path: false,
                reads: Refresh::Rotate {
                    budget: UPDATE_STATUS_READ_BUDGET,
                },
                fresh_container: false,
                checks_workload: true,
            },
            _ => Self::Reconcile {
                full_path: false,
                reads: Refresh::Cached,
                fresh_container: false,
                checks_workload: false,
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

    /// How much of the databag cache `event` trusts (see [`EventPolicy::Reconcile`]);
    /// events that converge nothing trust all of it.
    pub fn cache_refresh(event: &Event) -> Refresh {
        match Self::of(event) {
            Self::Reconcile { reads, .. } => reads,
            Self::Action | Self::Ignore => Refresh::Cached,
        }
    }

    /// Whether `event` checks the workload's files (see [`EventPolicy::Reconcile`]).
    pub fn checks_workload(event: &Event) -> bool {
        matches!(
            Self::of(event),
            Self::Reconcile {
                checks_workload: true,
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
    fn full_path_events_are_those_that_read_everything_or_see_a_new_container() {
        for event in [
            Event::Install,
            Event::UpgradeCharm,
            Event::LeaderElected,
            pebble_ready(),
        ] {
            assert!(EventPolicy::is_full_path(&event), "{event:?}");
        }
        for event in [
            Event::ConfigChanged,
            Event::Start,
            Event::LeaderSettingsChanged,
            Event::UpdateStatus,
        ] {
            assert!(!EventPolicy::is_full_path(&event), "{event:?}");
        }
    }

    #[test]
    fn only_install_upgrades_and_leadership_read_everything_and_update_status_rotates() {
        for event in [Event::Install, Event::UpgradeCharm, Event::LeaderElected] {
            assert_eq!(
                EventPolicy::cache_refresh(&event),
                Refresh::Full,
                "{event:?}"
            );
        }
        assert!(matches!(
            EventPolicy::cache_refresh(&Event::UpdateStatus),
            Refresh::Rotate { budget } if budget + 6 <= 20
        ));
        for event in [pebble_ready(), Event::ConfigChanged, Event::Start] {
            assert_eq!(
                EventPolicy::cache_refresh(&event),
                Refresh::Cached,
                "{event:?}"
            );
        }
    }

    #[test]
    fn only_update_status_checks_the_workload() {
        assert!(EventPolicy::checks_workload(&Event::UpdateStatus));
        for event in [
            Event::Install,
            Event::UpgradeCharm,
            Event::ConfigChanged,
            pebble_ready(),
        ] {
            assert!(!EventPolicy::checks_workload(&event), "{event:?}");
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
                reads: Refresh::Cached,
                fresh_container: false,
                checks_workload: false,
            }
        );
        assert_eq!(EventPolicy::of(&Event::Stop), EventPolicy::Ignore);
    }
}

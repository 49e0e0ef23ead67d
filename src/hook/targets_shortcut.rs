//! A `metrics-endpoint` relation event that changes nothing but that relation's targets: a
//! unit moved to a new address (every pod restart), or a unit of a job with static targets
//! came or went. Its jobs' target files are pushed and Prometheus fetches them over `http_sd`
//! (see [`crate::core::prometheus_config::relation_targets`]); prometheus.yml, the rules, the
//! layer and every other relation stay as the last apply left them, so the hook reads no other
//! databag, renders nothing, runs no promtool and reloads nothing.
//!
//! Taken only when all of this holds, each checked in the hook:
//!
//! * **The event's relation is the only input that changed.** The hook's fingerprint with that
//!   relation's digest replaced by the one recorded for it at the last apply (its
//!   `RelationResult`, kept in the charm container under the manifest's generation) equals the
//!   fingerprint in the manifest, and the workload is as that apply left it (same plan,
//!   services as they should be): the same test as the unchanged-inputs shortcut.
//! * **The relation's shape is the recorded one.** Computed alone, its jobs (all but their
//!   targets), errors and rules digest to the recorded shape, which the full path took only for
//!   an isolated relation (see [`crate::core::relation_shape`]): its jobs end up in
//!   prometheus.yml exactly as before, only their target files differ.
//! * **Nothing to write back to it** (the leader's feedback is as the relation has it).
//!
//! Anything else, and every event that takes the full path (pebble-ready, upgrade,
//! leader-elected), recomputes everything; so does the first update-status after this shortcut
//! applied (every 5 minutes by default), as the manifest says the apply was targets-only. A
//! failed push leaves the apply marked in flight in the charm directory
//! ([`crate::effects::targets_record::TargetsBook::begin_apply`]), so the next hook takes the
//! full path too.

use juju_hook::{Event, RelationEventKind, Status};

use crate::core::config::CharmConfig;
use crate::core::desired::target_file;
use crate::core::endpoints::METRICS_ENDPOINT;
use crate::core::manifest::AppliedFor;
use crate::core::model::ModelSnapshot;
use crate::core::prometheus_config::ConfigInput;
use crate::core::relation_shape::relation_alone;
use crate::core::version::PrometheusVersion;
use crate::effects::apply::apply_targets;
use crate::effects::current::CurrentWorkload;
use crate::effects::gateway::WorkloadGateway;
use crate::effects::report::{ApplyError, ApplyReport};
use crate::effects::targets_record::{RelationResult, TargetsBook};
use crate::hook::unchanged_inputs;

/// What the hook knows when it tries the shortcut.
pub struct ShortcutInputs<'a> {
    /// The event.
    pub event: &'a Event,
    /// The model as read (the event's relation read, the others from their memos).
    pub snapshot: &'a ModelSnapshot,
    /// Whether each relation of the snapshot was left unread (it has a memo).
    pub unread: &'a [bool],
    /// Each relation's digest (read, or its memo).
    pub digests: &'a [String],
    /// The fingerprint of this hook's inputs.
    pub fingerprint: &'a str,
    /// The fingerprint of the snapshot with other digests.
    pub fingerprint_of: &'a dyn Fn(&ModelSnapshot, &[String]) -> String,
    /// The valid config in use.
    pub config: &'a CharmConfig,
    /// The Prometheus version rendered for.
    pub version: PrometheusVersion,
    /// Where Prometheus fetches the relation targets.
    pub targets_url: &'a str,
    /// The charm container's book of target files.
    pub book: &'a TargetsBook,
}

/// What the shortcut did.
#[derive(Debug)]
pub struct Shortcut {
    /// The status of the last apply, which still holds.
    pub status: Status,
    /// The apply's outcome.
    pub applied: Result<ApplyReport, ApplyError>,
}

/// Applies the event's relation's targets alone when the event changed nothing else; `None`
/// when the full path must run.
pub fn try_targets_only(
    inputs: &ShortcutInputs<'_>,
    current: &CurrentWorkload,
    workload: &WorkloadGateway,
) -> Option<Shortcut> {
    let Event::Relation(event) = inputs.event else {
        return None;
    };
    if event.kind == RelationEventKind::Broken || event.relation.endpoint != METRICS_ENDPOINT.name {
        return None;
    }
    let snapshot = inputs.snapshot;
    let index = snapshot
        .relations
        .iter()
        .position(|r| r.relation_id() == event.relation)?;
    if inputs.unread.get(index) != Some(&false) {
        return None;
    }
    let recorded = RelationResult::load(
        &inputs.book.results,
        &event.relation,
        &current.manifest.generation,
    )?;
    let mut digests = inputs.digests.to_vec();
    digests[index] = recorded.digest.clone();
    let status = unchanged_inputs::last_status_if_unchanged(
        inputs.event,
        workload,
        current,
        &(inputs.fingerprint_of)(snapshot, &digests),
        &inputs.book.record,
    )?;
    let reserved =
        ConfigInput::new(inputs.config, snapshot.topology(), inputs.version).own_job_names();
    let rel = &snapshot.relations[index];
    let alone = relation_alone(rel, snapshot.leader, &reserved, inputs.targets_url)?;
    if alone.shape != recorded.shape || alone.feedback.is_some() {
        return None;
    }
    let plan = current.manifest.applied_for.as_ref()?.plan.clone();
    let files: Vec<_> = alone.target_files.into_iter().map(target_file).collect();
    let result = RelationResult {
        digest: inputs.digests[index].clone(),
        ..recorded
    };
    let applied = apply_targets(
        workload,
        current,
        &files,
        &event.relation,
        result,
        inputs.book,
        AppliedFor {
            inputs: inputs.fingerprint.to_owned(),
            status: status.clone(),
            plan,
            targets_only: true,
        },
    );
    Some(Shortcut { status, applied })
}

//! A `metrics-endpoint` relation event that changes nothing but that relation's targets or
//! jobs: a unit moved to a new address (every pod restart), a unit of a job with static
//! targets came or went (its targets change), or a unit of a wildcard job came or went (a job
//! per unit: its jobs change). The other relations, prometheus.yml, the rules and the layer
//! stay as the last apply left them, so the hook reads no other databag and renders only that
//! relation.
//!
//! * **Targets only**: its jobs' target files are pushed and Prometheus fetches them over
//!   `http_sd` (see [`crate::core::prometheus_config::relation_targets`]); no promtool, no
//!   reload.
//! * **Jobs only** (Prometheus ≥ 2.43, where an isolated relation's jobs have a file of their
//!   own listed in `scrape_config_files`): its job file is checked by promtool under a
//!   configuration naming only it, pushed with its target files, and Prometheus reloads.
//!
//! Taken only when all of this holds, each checked in the hook:
//!
//! * **The event's relation is the only input that changed.** The hook's fingerprint with that
//!   relation's digest replaced by the one recorded for it at the last apply (its
//!   `RelationResult`, kept in the charm container under the manifest's generation) equals the
//!   fingerprint in the manifest, and the workload is as that apply left it (same plan,
//!   services as they should be): the same test as the unchanged-inputs shortcut.
//! * **The relation is isolated, and stays so.** Computed alone, its jobs have names, none of
//!   the charm's own, none twice. For targets only, its jobs (all but their
//!   targets), errors and rules digest to the recorded shape, which the full path took only
//!   for an isolated relation (see [`crate::core::relation_shape`]): its jobs end up in
//!   prometheus.yml exactly as before, only their target files differ. For jobs only, its
//!   errors and rules digest as recorded, it renamed none of its own jobs, it had a job file, no other relation holds one of
//!   its new job names (the job names of the last apply, kept beside the results), the last
//!   full apply renamed no job, and the targets service stays as needed (running while a job
//!   has a target file).
//! * **Nothing to write back to it** (the leader's feedback is as the relation has it).
//!
//! For jobs only, promtool (a process start in the workload: the longest wait of such a hook)
//! checks the job file on a thread while the hook settles the costliest checks, which weigh
//! every relation: the fingerprint, and the job names other relations hold. When they fail,
//! that check was made for nothing (the full path makes its own); nothing live changes before
//! both agree.
//!
//! Anything else, and every event that takes the full path (pebble-ready, upgrade,
//! leader-elected), recomputes everything; so does the first update-status after this shortcut
//! applied (every 5 minutes by default), as the manifest says the apply was a shortcut's. A
//! failed push leaves the apply marked in flight in the charm directory
//! ([`crate::effects::targets_record::TargetsBook::begin_apply`]), so the next hook takes the
//! full path too; a job file promtool rejects sends this hook down the full path, which says
//! why.

use juju_hook::{Event, RelationEventKind, RelationId, Status};

use crate::core::config::CharmConfig;
use crate::core::desired::target_file;
use crate::core::desired_workload::DesiredFile;
use crate::core::endpoints::METRICS_ENDPOINT;
use crate::core::manifest::AppliedFor;
use crate::core::model::ModelSnapshot;
use crate::core::prometheus_config::{relation_file_candidate, render_relation_file, ConfigInput};
use crate::core::relation_shape::{relation_alone, JobNames, JobsBasis, RelationAlone};
use crate::core::version::PrometheusVersion;
use crate::core::workload::{CONFIG_DIR, CONFIG_FILE, JOBS_CANDIDATE_FILE, TARGETS_SERVICE};
use crate::effects::apply::{
    apply_relation_jobs, apply_targets, check_relation_jobs, RelationJobsChange,
};
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
    /// Prometheus' web API (for the reload after a change of jobs).
    pub prometheus_url: &'a str,
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

/// Applies the event's relation's targets or jobs alone when the event changed nothing else;
/// `None` when the full path must run.
pub fn try_relation_only(
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
    let reserved =
        ConfigInput::new(inputs.config, snapshot.topology(), inputs.version).own_job_names();
    let rel = &snapshot.relations[index];
    let alone = relation_alone(rel, snapshot.leader, &reserved)?;
    if alone.feedback.is_some() {
        return None;
    }
    let plan = &current.manifest.applied_for.as_ref()?.plan;
    let digest = inputs.digests[index].clone();
    if alone.shape == recorded.shape {
        let status = only_this_relation_changed(inputs, current, index, &recorded.digest)?;
        let files: Vec<_> = alone
            .target_files(inputs.targets_url)
            .into_iter()
            .map(target_file)
            .collect();
        let applied_for = applied_for(inputs, plan, &status);
        let result = RelationResult { digest, ..recorded };
        let applied = apply_targets(
            workload,
            current,
            &files,
            &event.relation,
            result,
            inputs.book,
            applied_for,
        );
        return Some(Shortcut { status, applied });
    }
    let generation = &current.manifest.generation;
    let basis = inputs.book.load_basis_without_names(generation)?;
    let recorded_digest = recorded.digest.clone();
    let change = jobs_change(
        inputs,
        current,
        &basis,
        &event.relation,
        alone,
        recorded,
        digest,
    )?;
    let name_keys = change.name_keys.clone();
    // promtool checks the job file while this thread settles whether the shortcut may be
    // taken at all (see the module docs).
    let (checked, status, names_free) = std::thread::scope(|scope| {
        let span = tracing::Span::current();
        let checking =
            scope.spawn(move || span.in_scope(|| check_relation_jobs(workload, current, change)));
        let status = only_this_relation_changed(inputs, current, index, &recorded_digest);
        let names_free = status.is_some()
            && inputs
                .book
                .load_names(generation)
                .is_some_and(|names| !names.held_by_another(event.relation.id, &name_keys));
        (checking.join(), status, names_free)
    });
    let status = status?;
    if !names_free {
        return None;
    }
    let checked = match checked.unwrap_or_else(|panic| std::panic::resume_unwind(panic)) {
        Ok(checked) => checked,
        // The full path renders everything and says what promtool found.
        Err(ApplyError::InvalidConfig(reason)) => {
            tracing::info!("promtool rejected the relation's job file ({reason}): full path");
            return None;
        }
        Err(e) => {
            return Some(Shortcut {
                status,
                applied: Err(e),
            })
        }
    };
    let applied_for = applied_for(inputs, plan, &status);
    let applied = apply_relation_jobs(
        workload,
        inputs.prometheus_url,
        current,
        checked,
        &basis,
        inputs.book,
        applied_for,
    );
    Some(Shortcut { status, applied })
}

/// The last apply's status when the event's relation (at `index`) is the only input that
/// changed since: the hook's fingerprint with that relation's digest replaced by the one
/// recorded for it at that apply equals the manifest's, and the workload is as that apply left it.
fn only_this_relation_changed(
    inputs: &ShortcutInputs<'_>,
    current: &CurrentWorkload,
    index: usize,
    recorded_digest: &str,
) -> Option<Status> {
    let mut digests = inputs.digests.to_vec();
    digests[index] = recorded_digest.to_owned();
    unchanged_inputs::last_status_if_unchanged(
        inputs.event,
        current,
        &(inputs.fingerprint_of)(inputs.snapshot, &digests),
        &inputs.book.record,
    )
}

/// What the shortcut's apply is recorded as applied for: this hook's inputs, the last apply's
/// status and plan.
fn applied_for(inputs: &ShortcutInputs<'_>, plan: &str, status: &Status) -> AppliedFor {
    AppliedFor {
        inputs: inputs.fingerprint.to_owned(),
        status: status.clone(),
        plan: plan.to_owned(),
        targets_only: true,
    }
}

/// The relation's new jobs as a change of its job file alone, when the last full apply left
/// a `basis` for it and the relation stays isolated with its errors and rules as recorded
/// (whether another relation holds one of its new job names is for the caller).
fn jobs_change<'a>(
    inputs: &ShortcutInputs<'_>,
    current: &CurrentWorkload,
    basis: &JobsBasis,
    relation: &'a RelationId,
    alone: RelationAlone,
    recorded: RelationResult,
    digest: String,
) -> Option<RelationJobsChange<'a>> {
    let path = recorded.jobs_file.clone()?;
    // Renamed jobs' names before count for isolation, and only the full path sees them all.
    if alone.rest != recorded.rest || alone.renamed_within {
        return None;
    }
    if basis.inline_renames
        || basis.context.version != inputs.version
        || basis.context.targets_url != inputs.targets_url
    {
        return None;
    }
    let name_keys = JobNames::keys(alone.job_names());
    let candidate = relation_file_candidate(&basis.context, JOBS_CANDIDATE_FILE).ok()?;
    let (text, targets) = render_relation_file(&basis.context, alone.jobs).ok()?;
    // The targets service runs while some relation job has a target file: whether it should
    // run changes only with the first of them or the last, which the full path decides.
    let targets_running = current.plan.services.contains_key(TARGETS_SERVICE);
    if (!targets.is_empty() && !targets_running)
        || (targets.is_empty() && !recorded.files.is_empty())
    {
        return None;
    }
    let result = RelationResult {
        digest,
        shape: alone.shape,
        rest: alone.rest,
        ..recorded
    };
    Some(RelationJobsChange {
        relation,
        jobs_file: DesiredFile::config(format!("{CONFIG_DIR}/{path}"), text),
        candidate: DesiredFile::config(CONFIG_FILE, candidate),
        target_files: targets.into_iter().map(target_file).collect(),
        result,
        name_keys,
    })
}

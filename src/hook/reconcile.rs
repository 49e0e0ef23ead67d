//! The one reconcile every event runs: read the model, compute the desired state, write
//! relation data, apply the workload through Pebble, set the status.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use juju_hook::{Event, HookContext, HookTools, Port, Status, StatusKind, WorkloadEventKind};
use pebble::ServiceStatus;
use tracing::{info, warn};

use crate::core::config::CharmConfig;
use crate::core::desired::{self, Desired, DesiredInputs};
use crate::core::desired_workload::LocalFile;
use crate::core::limits::Managed;
use crate::core::manifest::AppliedFor;
use crate::core::model::ModelSnapshot;
use crate::core::relation_shape::RelationShape;
use crate::core::version::PrometheusVersion;
use crate::core::workload::{
    INVENTORY_SERVICE, PROMETHEUS_BINARY, PROMETHEUS_PORT, PROMETHEUS_SERVICE, TARGETS_SERVICE,
};
use crate::effects::access::WorkloadAccess;
use crate::effects::apply;
use crate::effects::current::CurrentWorkload;
use crate::effects::gateway::WorkloadGateway;
use crate::effects::http::inventory_outage;
use crate::effects::k8s;
use crate::effects::report::{ApplyError, ApplyReport};
use crate::effects::targets_record::TargetsBook;
use crate::hook::event_policy::EventPolicy;
use crate::hook::model_reader;
use crate::hook::targets_shortcut::{self, Shortcut, ShortcutInputs};
use crate::hook::unchanged_inputs::{self, HookInputs};

/// What a reconcile did, for logs and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileOutcome {
    /// The status set at the end.
    pub status: Status,
    /// What was applied to the workload (`None` when it was not reachable or config invalid).
    pub report: Option<ApplyReport>,
    /// The inputs were those of the last successful apply: nothing was computed or applied.
    pub inputs_unchanged: bool,
}

/// How a hook reaches Kubernetes: [`k8s::sync_in_cluster`] in production, a stand-in in tests.
pub type KubernetesSync<'a> = dyn Fn(&k8s::Workload, &k8s::Wanted) -> k8s::Outcome + 'a;

/// Runs the reconcile for one hook.
///
/// Errors are returned only for failures Juju should retry the hook for (a hook tool failing);
/// everything else ends in a status and exit 0.
pub fn reconcile(
    ctx: &HookContext,
    tools: &dyn HookTools,
    access: &WorkloadAccess,
) -> anyhow::Result<ReconcileOutcome> {
    reconcile_with(ctx, tools, access, &k8s::sync_in_cluster)
}

/// [`reconcile`] with Kubernetes reached through `kubernetes`.
pub fn reconcile_with(
    ctx: &HookContext,
    tools: &dyn HookTools,
    access: &WorkloadAccess,
    kubernetes: &KubernetesSync<'_>,
) -> anyhow::Result<ReconcileOutcome> {
    let fqdn = crate::effects::fqdn::unit_fqdn(
        access.unit_fqdn.as_deref(),
        &access.fqdn_source,
        &ctx.app_name,
        ctx.unit_number,
        &ctx.model_name,
    );
    let workload = WorkloadGateway::new(&access.pebble_socket);
    let book = TargetsBook::in_charm_dir(&ctx.charm_dir);
    // What the workload has does not depend on the model: it is read while the hook tools
    // answer (each a process, and a round trip to the unit agent).
    let (model, current) = std::thread::scope(|scope| {
        let span = tracing::Span::current();
        let (workload, book) = (&workload, &book);
        let current = scope.spawn(move || span.in_scope(|| read_workload(ctx, workload, book)));
        // Relations with a memo are read only if the inputs turn out to have changed.
        let model = tracing::info_span!("read model")
            .in_scope(|| model_reader::read_snapshot_lazily(ctx, tools, fqdn));
        (model, current.join())
    });
    let (mut snapshot, memos) = model?;
    let current = current.map_err(|_| anyhow::anyhow!("reading the workload panicked"))?;
    crate::effects::charm_tracing::remember(&ctx.charm_dir, &snapshot);
    // Read once: the last good options, the Kubernetes resources the charm manages and the
    // database volume's remembered capacity.
    let unit_state = tools.state_get()?;
    // Unit-state writes of this hook, made in one `state-set` (Juju commits it with the hook).
    let mut state_writes = BTreeMap::new();
    let (config, config_problem) =
        match config_or_last_good(&unit_state, &mut state_writes, &snapshot) {
            Ok(found) => found,
            Err(blocked) => return finish(tools, blocked, None),
        };
    let config_problem = config_problem.as_ref();
    let k8s_problem = sync_kubernetes(
        ctx,
        access,
        &unit_state,
        &mut state_writes,
        &config,
        &mut snapshot,
        kubernetes,
    );
    crate::core::tls::prepare(
        &mut snapshot,
        &unit_state,
        &mut state_writes,
        crate::effects::clock::now(),
    );
    if !state_writes.is_empty() {
        tools.state_set(&state_writes)?;
    }

    let current = match current {
        Ok(current) => current,
        Err(e) => {
            let status = config_problem
                .cloned()
                .unwrap_or_else(|| Status::waiting(e.to_string()));
            return finish(tools, status, None);
        }
    };
    let version = current.as_ref().and_then(|c| {
        workload_version(
            &workload,
            tools,
            c,
            EventPolicy::is_fresh_container(&ctx.event),
        )
    });
    if current.is_some() {
        ensure_port(tools)?;
    }

    let charm_binary = access.charm_binary_file();
    let version = PrometheusVersion::detected_or_assumed(version.as_deref());
    let fingerprint_of = |snapshot: &ModelSnapshot, digests: &[String]| {
        unchanged_inputs::fingerprint(&hook_inputs(
            snapshot,
            digests,
            version,
            charm_binary.as_ref(),
            k8s_problem.as_deref(),
        ))
    };
    // Unread relations count through their memo, the digest they had when last applied.
    let mut digests: Vec<String> = snapshot
        .relations
        .iter()
        .zip(&memos)
        .map(|(rel, memo)| {
            memo.clone()
                .unwrap_or_else(|| unchanged_inputs::relation_digest(rel))
        })
        .collect();
    // Hashed once: it decides the shortcut, and is what gets recorded when the hook writes no
    // relation data.
    let mut fingerprint = fingerprint_of(&snapshot, &digests);
    if let Some(current) = &current {
        if let Some(status) = unchanged_inputs::last_status_if_unchanged(
            &ctx.event,
            current,
            &fingerprint,
            &book.record,
        ) {
            info!("inputs unchanged since the last apply: the workload is up to date");
            // The relations read in this hook are as the last apply saw them: memo them again.
            memo_relations_read(tools, &snapshot, &memos, &digests);
            let status = with_inventory_state(status, &config, access, &workload);
            tools.status_set(&status, false)?;
            return Ok(ReconcileOutcome {
                status,
                report: Some(ApplyReport::default()),
                inputs_unchanged: true,
            });
        }
    }
    if let Some(current) = &current {
        let unread: Vec<bool> = memos.iter().map(Option::is_some).collect();
        let shortcut = tracing::info_span!("targets shortcut").in_scope(|| {
            targets_shortcut::try_relation_only(
                &ShortcutInputs {
                    event: &ctx.event,
                    snapshot: &snapshot,
                    unread: &unread,
                    digests: &digests,
                    fingerprint: &fingerprint,
                    fingerprint_of: &fingerprint_of,
                    config: &config,
                    version,
                    targets_url: &access.targets_url,
                    prometheus_url: &access.prometheus_url,
                    book: &book,
                },
                current,
                &workload,
            )
        });
        if let Some(Shortcut { status, applied }) = shortcut {
            let status = match applied {
                Ok(report) => {
                    info!("only the event's relation changed: applied it alone");
                    log_report(&report);
                    // The relations read are as the apply recorded them: memo them.
                    memo_relations_read(tools, &snapshot, &memos, &digests);
                    let status = config_problem.cloned().unwrap_or(status);
                    let status = with_inventory_state(status, &config, access, &workload);
                    return finish(tools, status, Some(report));
                }
                Err(e) => {
                    warn!("apply failed: {e}");
                    config_problem.cloned().unwrap_or_else(|| status_for(&e))
                }
            };
            return finish(tools, status, None);
        }
    }
    if memos.iter().any(Option::is_some) {
        tracing::info_span!("read model")
            .in_scope(|| model_reader::read_unread(ctx, tools, &mut snapshot, &memos))?;
        digests = unchanged_inputs::relation_digests(&snapshot);
        fingerprint = fingerprint_of(&snapshot, &digests);
    }
    // The snapshot holds every databag this hook needs; the cache need not hold them too
    // while everything is computed.
    tools.release_databags();
    let inputs = Inputs {
        snapshot: &snapshot,
        config: &config,
        version,
        inventory_in_plan: current
            .as_ref()
            .is_some_and(|c| c.plan.services.contains_key(INVENTORY_SERVICE)),
        targets_in_plan: current
            .as_ref()
            .is_some_and(|c| c.plan.services.contains_key(TARGETS_SERVICE)),
        charm_binary: charm_binary.as_ref(),
        kubernetes_problem: k8s_problem.as_deref(),
        config_problem,
    };
    let Converged {
        desired,
        applied,
        after_digests,
    } = converge(
        &inputs,
        &digests,
        &fingerprint,
        &workload,
        access,
        current.as_ref(),
        &ctx.charm_dir,
    )?;
    let unwritten = write_relation_data(tools, &desired)?;
    remember_relations(tools, &snapshot, after_digests, &unwritten);

    let (status, report) = match applied {
        None => (
            Status::waiting("waiting for Pebble in the prometheus container"),
            None,
        ),
        Some(Ok(report)) => {
            log_report(&report);
            let status = status_once_applied(&desired, &inputs);
            (
                with_inventory_state(status, &config, access, &workload),
                Some(report),
            )
        }
        Some(Err(e)) => {
            warn!("apply failed: {e}");
            (status_for(&e), None)
        }
    };
    // An invalid option is what the operator must fix, whatever else happened.
    let status = config_problem.cloned().unwrap_or(status);
    finish(tools, status, report)
}

/// The status of a hook whose apply succeeded: Blocked naming the option while the last good
/// configuration stands in for an invalid one.
fn status_once_applied(desired: &Desired, inputs: &Inputs<'_>) -> Status {
    if let Some(problem) = inputs.config_problem {
        return problem.clone();
    }
    match inputs.kubernetes_problem {
        // The workload runs; what Kubernetes refused still needs the operator.
        Some(problem) if desired.status().kind == StatusKind::Active => Status::blocked(problem),
        _ => desired.status(),
    }
}

/// The unit-state key holding the last valid config options (JSON), so that no state of the
/// options leaves the unit without Prometheus: while an option is invalid, the workload is
/// converged with these (after a container restart too: the unit state is kept by Juju, not in
/// the container). Written only when the valid options change.
pub const LAST_GOOD_CONFIG_KEY: &str = "last-good-config";

/// The config to converge with: the options as set when they are valid (remembered as the last
/// good ones), else the last good ones with the Blocked status naming what is wrong. `Err`
/// (that status) when the options are invalid and none were ever valid: nothing to converge.
fn config_or_last_good(
    unit_state: &BTreeMap<String, String>,
    state_writes: &mut BTreeMap<String, String>,
    snapshot: &ModelSnapshot,
) -> Result<(CharmConfig, Option<Status>), Status> {
    let remembered = unit_state.get(LAST_GOOD_CONFIG_KEY);
    match CharmConfig::from_options(&snapshot.config) {
        Ok(config) => {
            let options = serde_json::Value::Object(snapshot.config.clone()).to_string();
            if remembered != Some(&options) {
                state_writes.insert(LAST_GOOD_CONFIG_KEY.to_string(), options);
            }
            Ok((config, None))
        }
        Err(errors) => {
            warn!("invalid config: {errors}");
            let blocked = Status::blocked(errors.status_message());
            let last_good = remembered
                .and_then(|json| {
                    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json).ok()
                })
                .and_then(|options| CharmConfig::from_options(&options).ok());
            match last_good {
                Some(config) => {
                    info!("converging with the last good config options until they are fixed");
                    Ok((config, Some(blocked)))
                }
                None => Err(blocked),
            }
        }
    }
}

/// An Active status that also says how the inventory poller is doing. A poller that Pebble
/// keeps restarting (`backoff`) or gave up on (`error`) makes the unit Blocked: the inventory
/// is no longer polled, although Prometheus keeps scraping the last good targets. An outage
/// of the inventory itself goes in the message: how long the poller has been failing and how
/// many last good targets Prometheus still scrapes (read from the poller's metrics). The pod
/// stays ready meanwhile: Prometheus serves queries.
fn with_inventory_state(
    status: Status,
    config: &CharmConfig,
    access: &WorkloadAccess,
    workload: &WorkloadGateway,
) -> Status {
    if status.kind != StatusKind::Active || config.inventory.is_none() {
        return status;
    }
    if let Some(problem) = poller_crashing(workload) {
        return Status::blocked(problem);
    }
    match inventory_outage(&access.poller_url) {
        Some(outage) if status.message.is_empty() => Status::active(outage),
        Some(outage) => Status::active(format!("{}; {outage}", status.message)),
        None => status,
    }
}

/// The poller's service as Pebble shows it, when it keeps exiting.
fn poller_crashing(workload: &WorkloadGateway) -> Option<String> {
    let services = workload.services(&[INVENTORY_SERVICE]).ok()?;
    let service = services.into_iter().find(|s| s.name == INVENTORY_SERVICE)?;
    let state = match service.current {
        ServiceStatus::Backoff => "backoff: restarted after exiting",
        ServiceStatus::Error => "error: exited and not restarted",
        _ => return None,
    };
    Some(format!(
        "the inventory poller keeps exiting (Pebble service {INVENTORY_SERVICE}: {state}); \
         its log: pebble logs {INVENTORY_SERVICE}, in the prometheus container"
    ))
}

/// Sets the final status (one `status-set` per hook) and reports what happened.
fn finish(
    tools: &dyn HookTools,
    status: Status,
    report: Option<ApplyReport>,
) -> anyhow::Result<ReconcileOutcome> {
    tools.status_set(&status, false)?;
    Ok(ReconcileOutcome {
        status,
        report,
        inputs_unchanged: false,
    })
}

/// Kubernetes only when an option needs it (limits, percentage retention) or a limit the charm
/// set must go. Returns what Kubernetes refused, for the status; fills in the volume capacity
/// it found. Which resources the charm manages is kept in the unit state (answered from the
/// databag cache between hooks, so this costs no hook tool in a steady state); it is written
/// only when it changes, and Juju commits it only if the hook succeeds: a hook that dies
/// after patching (the patch restarts the pod) leaves it as it was, and the next hook, finding
/// the limits in place, records them then.
fn sync_kubernetes(
    ctx: &HookContext,
    access: &WorkloadAccess,
    unit_state: &BTreeMap<String, String>,
    state_writes: &mut BTreeMap<String, String>,
    config: &CharmConfig,
    snapshot: &mut ModelSnapshot,
    kubernetes: &KubernetesSync<'_>,
) -> Option<String> {
    let managed = Managed::from_state(unit_state);
    let mut wanted = k8s::Wanted::from_config(config, &managed)?;
    // The volume's capacity: given (render, tests), or remembered from an earlier hook and
    // read again only on the events that may follow a resize or a `juju trust`. An empty
    // remembered value records a read that failed: not retried before such an event either,
    // so an untrusted unit does not ask the API in every hook.
    let cached = unit_state.get(k8s::CAPACITY_STATE_KEY);
    let reuse = !refreshes_capacity(&ctx.event);
    let known_capacity = access
        .database_capacity
        .clone()
        .or_else(|| cached.filter(|c| !c.is_empty() && reuse).cloned());
    if access.database_capacity.is_some() || (cached.is_some() && reuse) {
        wanted.pvc_capacity = false;
    }
    let outcome = if wanted == k8s::Wanted::default() {
        k8s::Outcome::default()
    } else {
        let workload = k8s::Workload {
            namespace: ctx.model_name.clone(),
            app: ctx.app_name.clone(),
            unit_number: ctx.unit_number,
        };
        kubernetes(&workload, &wanted)
    };
    if outcome.patched {
        info!("patched the StatefulSet's resources: Kubernetes restarts the pod");
    }
    if outcome.limits_in_place {
        let after = wanted.limits.managed_after();
        if after != managed {
            state_writes.extend(after.to_state());
        }
    }
    if let Some(capacity) = &outcome.pvc_capacity {
        if access.database_capacity.is_none() && cached != Some(capacity) {
            state_writes.insert(k8s::CAPACITY_STATE_KEY.to_owned(), capacity.clone());
        }
    }
    // A failed read keeps the capacity remembered, if any: a passing API error must not drop
    // the size limit (and restart Prometheus twice).
    let remembered = cached.filter(|c| !c.is_empty()).cloned();
    if let Some(e) = &outcome.capacity_problem {
        match &remembered {
            Some(c) => warn!("cannot read the database volume's capacity, using {c}: {e}"),
            None => {
                warn!("no size limit for the TSDB: {e}");
                if cached.is_none() {
                    state_writes.insert(k8s::CAPACITY_STATE_KEY.to_owned(), String::new());
                }
            }
        }
    }
    snapshot.pvc_capacity = known_capacity.or(outcome.pvc_capacity).or(remembered);
    outcome.problem
}

/// Events after which the database volume's capacity is read again rather than remembered.
fn refreshes_capacity(event: &Event) -> bool {
    matches!(
        event,
        Event::Install
            | Event::Start
            | Event::UpgradeCharm
            | Event::ConfigChanged
            | Event::UpdateStatus
            | Event::LeaderElected
            | Event::Storage { .. }
            | Event::Workload {
                kind: WorkloadEventKind::PebbleReady,
                ..
            }
    )
}

/// What the workload has now; `None` when its Pebble is not up (yet). On update-status, every
/// few minutes, managed files edited in the container are noticed so they get restored, and
/// target files removed, resized or added are noticed by their listing.
fn read_workload(
    ctx: &HookContext,
    workload: &WorkloadGateway,
    book: &TargetsBook,
) -> Result<Option<CurrentWorkload>, pebble::Error> {
    let result = CurrentWorkload::read(workload, book).and_then(|mut current| {
        if EventPolicy::checks_workload(&ctx.event) {
            current.forget_drifted_files(workload, book)?;
            if !current.drifted.is_empty() {
                warn!(
                    "restoring files changed in the workload: {:?}",
                    current.drifted
                );
            }
            current.list_target_files(workload)?;
        }
        Ok(current)
    });
    match result {
        Ok(current) => Ok(Some(current)),
        Err(e) if e.is_connect() => Ok(None),
        Err(e) => Err(e),
    }
}

/// What the desired state is computed from in a hook.
struct Inputs<'a> {
    snapshot: &'a ModelSnapshot,
    config: &'a CharmConfig,
    version: PrometheusVersion,
    inventory_in_plan: bool,
    targets_in_plan: bool,
    charm_binary: Option<&'a LocalFile>,
    kubernetes_problem: Option<&'a str>,
    /// Blocked status naming the invalid option, when `config` is the last good one.
    config_problem: Option<&'a Status>,
}

impl Inputs<'_> {
    /// What the fingerprint covers, with `snapshot` standing for this hook's model (as read,
    /// or as it will be after the hook's writes).
    fn hook_inputs<'s>(
        &'s self,
        snapshot: &'s ModelSnapshot,
        relation_digests: &'s [String],
    ) -> HookInputs<'s> {
        hook_inputs(
            snapshot,
            relation_digests,
            self.version,
            self.charm_binary,
            self.kubernetes_problem,
        )
    }
}

/// What the fingerprint covers: the model (its relations through their digests) and the
/// other inputs of the desired state.
fn hook_inputs<'a>(
    snapshot: &'a ModelSnapshot,
    relation_digests: &'a [String],
    version: PrometheusVersion,
    charm_binary: Option<&LocalFile>,
    kubernetes_problem: Option<&'a str>,
) -> HookInputs<'a> {
    HookInputs {
        snapshot,
        relation_digests,
        prometheus_version: version.to_string(),
        charm_binary: charm_binary.map(|b| b.identity.clone()),
        kubernetes_problem,
    }
}

/// Computes the desired state and applies it when the workload is reachable. Rule files that
/// promtool rejects are left out (and reported to their application) and the rest is applied
/// in a second attempt; nothing went live in the first, validation comes before any push.
/// `read_fingerprint` is that of the inputs as read (see `unchanged_inputs`).
fn converge(
    inputs: &Inputs<'_>,
    read_digests: &[String],
    read_fingerprint: &str,
    workload: &WorkloadGateway,
    access: &WorkloadAccess,
    current: Option<&CurrentWorkload>,
    charm_dir: &std::path::Path,
) -> anyhow::Result<Converged> {
    let mut rejected_rules = BTreeMap::new();
    loop {
        let desired = tracing::info_span!("compute").in_scope(|| {
            desired::compute(&DesiredInputs {
                snapshot: inputs.snapshot,
                config: inputs.config,
                version: inputs.version,
                inventory_in_plan: inputs.inventory_in_plan,
                targets_in_plan: inputs.targets_in_plan,
                charm_binary: inputs.charm_binary,
                rejected_rules: &rejected_rules,
                external_url_in_plan: current
                    .and_then(|c| c.plan.services.get(PROMETHEUS_SERVICE))
                    .and_then(|s| s.command.as_deref())
                    .and_then(desired::external_url_of),
                log_targets_in_plan: current.map(|c| &c.plan.log_targets),
                targets_url: &access.targets_url,
                explain: false,
            })
        })?;
        let after = unchanged_inputs::after_writes(inputs.snapshot, &desired.writes);
        let after_digests = match &after {
            Cow::Borrowed(_) => read_digests.to_vec(),
            Cow::Owned(after) => digests_after_writes(after, read_digests, &desired.writes),
        };
        let Some(current) = current else {
            return Ok(Converged {
                desired,
                applied: None,
                after_digests,
            });
        };
        let inputs_after_writes = match &after {
            Cow::Borrowed(_) => read_fingerprint.to_owned(),
            Cow::Owned(after) => {
                unchanged_inputs::fingerprint(&inputs.hook_inputs(after, &after_digests))
            }
        };
        let applied_for = AppliedFor {
            inputs: inputs_after_writes,
            status: status_once_applied(&desired, inputs),
            plan: String::new(),
            targets_only: false,
        };
        let shapes = shapes_to_record(inputs.snapshot, &after_digests, &desired);
        let result = tracing::info_span!("apply").in_scope(|| {
            apply::apply(
                workload,
                &access.prometheus_url,
                &desired.workload,
                current,
                applied_for,
                &TargetsBook::in_charm_dir(charm_dir),
                apply::ForShortcuts {
                    shapes: &shapes,
                    basis: desired.jobs_basis.as_ref(),
                },
            )
        });
        match result {
            Err(ApplyError::InvalidRules(bad)) if rejected_rules.is_empty() => {
                warn!("promtool rejected rule files: {bad:?}");
                rejected_rules.extend(bad);
            }
            other => {
                return Ok(Converged {
                    desired,
                    applied: Some(other),
                    after_digests,
                })
            }
        }
    }
}

/// The isolated relations' shapes with their digests after this hook's writes, as the
/// recorded fingerprint has them.
fn shapes_to_record<'a>(
    snapshot: &ModelSnapshot,
    after_digests: &'a [String],
    desired: &'a Desired,
) -> Vec<(&'a RelationShape, &'a str)> {
    let index_of: std::collections::HashMap<(&str, u32), usize> = snapshot
        .relations
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.endpoint.as_str(), r.id), i))
        .collect();
    desired
        .relation_shapes
        .iter()
        .filter_map(|shape| {
            let index = *index_of.get(&(shape.relation.endpoint.as_str(), shape.relation.id))?;
            Some((shape, after_digests.get(index)?.as_str()))
        })
        .collect()
}

/// What [`converge`] computed and did.
struct Converged {
    desired: Desired,
    /// The apply's outcome; `None` when the workload was not reachable.
    applied: Option<Result<ApplyReport, ApplyError>>,
    /// The digest of each relation as the next hook will read it, once the writes are committed.
    after_digests: Vec<String>,
}

/// The digests of `after` (the snapshot once `writes` are committed): those read, except for
/// the relations written to.
fn digests_after_writes(
    after: &ModelSnapshot,
    read_digests: &[String],
    writes: &[desired::RelationWrite],
) -> Vec<String> {
    after
        .relations
        .iter()
        .zip(read_digests)
        .map(|(rel, read)| {
            let written = writes
                .iter()
                .any(|w| w.relation.id == rel.id && w.relation.endpoint == rel.endpoint);
            if written {
                unchanged_inputs::relation_digest(rel)
            } else {
                read.clone()
            }
        })
        .collect()
}

/// Writes the relation data; returns the relations that were gone by then.
fn write_relation_data(
    tools: &dyn HookTools,
    desired: &Desired,
) -> anyhow::Result<Vec<juju_hook::RelationId>> {
    let mut unwritten = Vec::new();
    for write in &desired.writes {
        match tools.relation_set(&write.relation, write.app, &write.data) {
            Ok(()) => {}
            // Relation gone while we ran (-broken for a sibling relation): nothing to write to.
            Err(juju_hook::HookToolError::RelationNotFound(_)) => {
                unwritten.push(write.relation.clone());
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(unwritten)
}

/// Gives each relation read in this hook (it had no memo) its digest as its memo: for hooks
/// that wrote nothing, so the digests read are those the next hook will read.
fn memo_relations_read(
    tools: &dyn HookTools,
    snapshot: &ModelSnapshot,
    memos: &[Option<String>],
    digests: &[String],
) {
    for ((rel, memo), digest) in snapshot.relations.iter().zip(memos).zip(digests) {
        if memo.is_none() {
            tools.set_relation_memo(&rel.relation_id(), digest.clone());
        }
    }
}

/// Gives each relation its digest as the next hook will read it (after this hook's writes) as
/// its memo, so the next hooks can leave its databags unread while nothing about it changes.
fn remember_relations(
    tools: &dyn HookTools,
    snapshot: &ModelSnapshot,
    after_digests: Vec<String>,
    unwritten: &[juju_hook::RelationId],
) {
    for (rel, digest) in snapshot.relations.iter().zip(after_digests) {
        let id = rel.relation_id();
        if !unwritten.contains(&id) {
            tools.set_relation_memo(&id, digest);
        }
    }
}

/// The Prometheus version: remembered in the manifest, detected again on pebble-ready and
/// upgrades (the image may have changed) or when unknown.
fn workload_version(
    workload: &WorkloadGateway,
    tools: &dyn HookTools,
    current: &CurrentWorkload,
    fresh_container: bool,
) -> Option<String> {
    if !fresh_container {
        if let Some(v) = &current.manifest.prometheus_version {
            return Some(v.clone());
        }
    }
    let output = workload
        .exec(&[PROMETHEUS_BINARY, "--version"], Duration::from_secs(10))
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let version = PrometheusVersion::parse_version_output(&text).ok()?;
    let version = version.to_string();
    if let Err(e) = tools.application_version_set(&version) {
        warn!("cannot set the workload version: {e}");
    }
    Some(version)
}

fn ensure_port(tools: &dyn HookTools) -> anyhow::Result<()> {
    let port = Port::tcp(PROMETHEUS_PORT);
    if !tools.opened_ports()?.contains(&port) {
        tools.open_port(port)?;
    }
    Ok(())
}

fn status_for(error: &ApplyError) -> Status {
    match error {
        ApplyError::NotReady(_) => Status::maintenance("waiting for Prometheus to become ready"),
        ApplyError::Pebble(e) if e.is_connect() => {
            Status::waiting("waiting for Pebble in the prometheus container")
        }
        // `juju status` shows one line; Pebble change errors list their tasks on several.
        other => Status::blocked(other.to_string().replace('\n', " ")),
    }
}

fn log_report(report: &ApplyReport) {
    if report.is_noop() {
        info!("workload up to date: nothing pushed, restarted or reloaded");
        return;
    }
    info!(
        pushed = ?report.pushed,
        removed = ?report.removed,
        restarted = ?report.restarted,
        stopped = ?report.stopped,
        reloaded = report.reloaded,
        bytes = report.bytes_pushed,
        "workload updated"
    );
}

//! Applies a desired workload state through Pebble: push only what changed, validate with
//! promtool before anything goes live, then restart (layer changed), reload (only files
//! changed) or do nothing. What was applied is recorded only after it succeeded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::core::desired_workload::{DesiredFile, DesiredWorkload, FileContent, FileRole, WebTls};
use crate::core::manifest::{plan_digest, AppliedFor, Manifest};
use crate::core::prometheus_config::RELATION_JOBS_PREFIX;
use crate::core::relation_shape::{JobsBasis, RelationShape};
use crate::core::workload::{
    CONFIG_DIR, INVENTORY_SERVICE, JOBS_CANDIDATE_DIR, JOBS_CANDIDATE_FILE, MANIFEST_FILE,
    RULES_DIR, TARGETS_DIR, TARGETS_SERVICE,
};
use crate::effects::access::open_local;
use crate::effects::current::CurrentWorkload;
use crate::effects::gateway::WorkloadGateway;
use crate::effects::http::reload_prometheus;
use crate::effects::promtool::{validate_candidate, validate_files};
use crate::effects::report::{ApplyError, ApplyReport};
use crate::effects::services::apply_layer;
use crate::effects::targets_record::{self, FilesRecord, RelationResult, TargetsBook};
use juju_hook::RelationId;

/// Applies `desired` against the workload reached through `workload`, with Prometheus' web API at
/// `prometheus_url`. `current` is what [`CurrentWorkload::read`] returned at the start of the
/// hook; `applied_for` is recorded in the manifest once everything succeeded, and so are the
/// isolated relations' `shapes` in `book`, each with its digest as `applied_for`'s fingerprint
/// has it, and the basis for changing their jobs alone (see [`ForShortcuts`]). The relation
/// jobs' target files are tracked in the charm container's record in `book`.
///
/// Before the first change to the workload the manifest loses its `applied_for`: a hook that
/// dies half-way must not leave a manifest that vouches for the inputs of the apply before it
/// (a later hook with those inputs would take the workload as up to date), and the target
/// record counts as unknown until an apply completes again.
pub fn apply(
    workload: &WorkloadGateway,
    prometheus_url: &str,
    desired: &DesiredWorkload,
    current: &CurrentWorkload,
    applied_for: AppliedFor,
    book: &TargetsBook,
    relations: ForShortcuts<'_>,
) -> Result<ApplyReport, ApplyError> {
    let ForShortcuts { shapes, basis } = relations;
    let manifest = &current.manifest;
    let mut report = ApplyReport::default();
    let (target_files, files): (Vec<&DesiredFile>, Vec<&DesiredFile>) = desired
        .files
        .iter()
        .partition(|f| f.role == FileRole::ScrapeTargets);
    let (job_files, files): (Vec<&DesiredFile>, Vec<&DesiredFile>) = files
        .into_iter()
        .partition(|f| f.role == FileRole::RelationJobs);
    // Each file's identity once: hashing a large prometheus.yml is the costly part of a check.
    let identities: Vec<(&DesiredFile, String)> =
        files.iter().map(|f| (*f, f.identity())).collect();
    let jobs = JobsChange::new(workload, &book.jobs, current, &job_files)?;
    let mut applied = Manifest {
        files: identities
            .iter()
            .map(|(f, id)| (f.path.clone(), id.clone()))
            .collect(),
        prometheus_version: desired.prometheus_version.clone(),
        applied_for: None,
        generation: if manifest.generation.is_empty() {
            new_generation()
        } else {
            manifest.generation.clone()
        },
    };

    let mut changed: Vec<&DesiredFile> = identities
        .iter()
        .filter(|(f, id)| manifest.files.get(&f.path) != Some(id))
        .map(|(f, _)| *f)
        .collect();
    changed.extend(&jobs.changed);
    let mut stale: Vec<String> = manifest
        .files
        .keys()
        .filter(|p| !applied.files.contains_key(*p))
        .cloned()
        .collect();
    stale.extend(jobs.stale.iter().cloned());
    if manifest.files.is_empty() {
        stale.extend(unknown_rule_files(workload, &applied)?);
    }
    let targets = TargetsChange::new(workload, &book.record, current, &applied, &target_files)?;
    if targets.restored > 0 {
        tracing::warn!(
            "restoring {} relation target file(s) removed or changed in the workload",
            targets.restored
        );
    }
    changed.extend(&targets.changed);
    let config_changed = changed.iter().any(|f| f.is_configuration())
        || stale
            .iter()
            .any(|p| p.starts_with(&format!("{CONFIG_DIR}/")));
    let binary_changed = changed.iter().any(|f| f.role == FileRole::PollerBinary);

    if config_changed {
        // Job files as they are live are named there rather than staged.
        validate_candidate(workload, desired, &jobs.live, &mut report)?;
    }
    let changes = !changed.is_empty() || !stale.is_empty() || !targets.stale.is_empty();
    if changes {
        begin(book, manifest)?;
    }
    push_changed(workload, &changed, &mut report)?;
    for path in stale.iter().chain(&targets.stale) {
        workload.remove(path, false)?;
        report.removed.push(path.clone());
    }
    // The target files are in place: record them (a later failure does not undo them).
    targets.save(&book.record);
    let results = shapes
        .iter()
        .map(|(s, digest)| {
            let result = RelationResult {
                generation: applied.generation.clone(),
                digest: digest.to_string(),
                shape: s.shape.clone(),
                files: s
                    .target_files
                    .iter()
                    .filter_map(|name| {
                        let identity = targets.record.files.get(name)?;
                        Some((name.clone(), identity.clone()))
                    })
                    .collect(),
                rest: s.rest.clone(),
                jobs_file: s.jobs_file.clone(),
                jobs_identity: (s.jobs_file.as_ref())
                    .and_then(|name| jobs.record.files.get(name))
                    .cloned(),
            };
            (s.relation.clone(), result)
        })
        .collect();

    let prometheus_restarted = apply_layer(workload, desired, &current.plan, &mut report)?;

    if binary_changed {
        // The services running the charm's binary, unless the layer just restarted them.
        let to_restart: Vec<&str> = [TARGETS_SERVICE, INVENTORY_SERVICE]
            .into_iter()
            .filter(|name| !report.restarted.iter().any(|s| s == name))
            .filter(|name| {
                desired
                    .layer
                    .services
                    .get(*name)
                    .is_some_and(|s| s.startup == Some(pebble::Startup::Enabled))
            })
            .collect();
        if !to_restart.is_empty() {
            workload.restart_services(&to_restart)?;
            report
                .restarted
                .extend(to_restart.iter().map(|s| s.to_string()));
        }
    }

    if config_changed && !prometheus_restarted {
        reload(
            prometheus_url,
            desired.web_tls.as_ref(),
            desired.reload_timeout,
        )?;
        report.reloaded = true;
    }

    // The plan changes only when the layer was added: then read what Pebble made of it.
    let plan = if report.layer_changed {
        plan_digest(&workload.plan()?)
    } else {
        plan_digest(&current.plan)
    };
    applied.applied_for = Some(AppliedFor {
        plan,
        ..applied_for
    });
    // Prometheus has the job files now (reloaded or restarted, or none changed). Recorded
    // before the manifest vouches for them (see `begin`).
    jobs.save(&book.jobs, &applied.generation);
    targets_record::save_results(&book.results, &results);
    book.save_basis(&applied.generation, basis);
    // After a change always: a change of target files alone (a lost record, restored files)
    // leaves the manifest as it was, and one left without `applied_for` would send every
    // later hook down the full path with every target file unknown.
    if changes || &applied != manifest {
        push_manifest(workload, &applied, &mut report)?;
    }
    book.end_apply();
    Ok(report)
}

/// What an apply records for later hooks that change one relation alone
/// (`crate::hook::targets_shortcut`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ForShortcuts<'a> {
    /// The isolated relations' shapes, each with its digest as the apply's fingerprint has it.
    pub shapes: &'a [(&'a RelationShape, &'a str)],
    /// When isolated relations have job files of their own: how their jobs were finished.
    pub basis: Option<&'a JobsBasis>,
}

/// The manifest's mode: only Pebble's user reads it.
const MANIFEST_PERMISSIONS: u32 = 0o600;

/// Pushes the manifest.
fn push_manifest(
    workload: &WorkloadGateway,
    manifest: &Manifest,
    report: &mut ApplyReport,
) -> Result<(), ApplyError> {
    let bytes = manifest_bytes(manifest);
    workload.push(MANIFEST_FILE, &bytes, MANIFEST_PERMISSIONS)?;
    report.bytes_pushed += bytes.len();
    Ok(())
}

/// The manifest as the workload keeps it.
fn manifest_bytes(manifest: &Manifest) -> Vec<u8> {
    serde_json::to_vec(manifest).expect("manifest serialises")
}

/// Before the first change of an apply: unless the manifest already does not vouch for the
/// workload, marks the apply as in flight ([`TargetsBook::begin_apply`]), so that a hook that
/// dies after changing a file and before pushing the manifest leaves a marker the next hook
/// reads as "the manifest does not vouch".
fn begin(book: &TargetsBook, manifest: &Manifest) -> Result<(), ApplyError> {
    if manifest.applied_for.is_none() {
        return Ok(());
    }
    mark_in_flight(book)
}

fn mark_in_flight(book: &TargetsBook) -> Result<(), ApplyError> {
    book.begin_apply()
        .map_err(|e| ApplyError::Record(format!("cannot mark the apply in flight: {e}")))
}

/// Applies a change of one isolated relation's target files alone (see
/// `crate::hook::targets_shortcut`): pushes those of `files` whose identity differs from
/// `known`, records them (journal and the relation's result, now `result`) and records
/// `applied_for` in the manifest. Nothing else of the workload changes: no promtool, no reload.
pub fn apply_targets(
    workload: &WorkloadGateway,
    current: &CurrentWorkload,
    files: &[DesiredFile],
    relation: &RelationId,
    mut result: RelationResult,
    book: &TargetsBook,
    applied_for: AppliedFor,
) -> Result<ApplyReport, ApplyError> {
    let manifest = &current.manifest;
    let mut report = ApplyReport::default();
    let known = std::mem::take(&mut result.files);
    let (changed, identities) = target_files_against(files.iter(), &known);
    result.files = identities;
    let pushed: BTreeMap<String, String> = result
        .files
        .iter()
        .filter(|(name, identity)| known.get(*name) != Some(*identity))
        .map(|(name, identity)| (name.clone(), identity.clone()))
        .collect();
    let applied = Manifest {
        applied_for: Some(applied_for),
        ..manifest.clone()
    };
    if changed.is_empty() {
        push_manifest(workload, &applied, &mut report)?;
    } else {
        // Always, unlike `begin`: the manifest that vouches rides with the targets.
        mark_in_flight(book)?;
        push_with_manifest(workload, &changed, &applied, &mut report)?;
        targets_record::FilesRecord::append(&book.record, &manifest.generation, &pushed)
            .map_err(|e| ApplyError::Record(e.to_string()))?;
    }
    result
        .save(&book.results, relation)
        .map_err(|e| ApplyError::Record(e.to_string()))?;
    book.end_apply();
    Ok(report)
}

/// One isolated relation's new jobs (see `crate::hook::targets_shortcut`): its job file, the
/// configuration that file is checked with, and its jobs' target files.
pub struct RelationJobsChange<'a> {
    /// The relation.
    pub relation: &'a RelationId,
    /// Its job file, at its live path.
    pub jobs_file: DesiredFile,
    /// A configuration naming only that file, as staged ([`JOBS_CANDIDATE_FILE`]), at the live
    /// prometheus.yml's path: staged and checked, never pushed live.
    pub candidate: DesiredFile,
    /// Its jobs' target files.
    pub target_files: Vec<DesiredFile>,
    /// Its result once applied; `files` are the target files recorded before.
    pub result: RelationResult,
    /// The keys of the relation's job names once applied
    /// ([`crate::core::relation_shape::JobNames::keys`]).
    pub name_keys: Vec<u64>,
}

/// A change of a relation's jobs whose job file promtool accepted under its candidate
/// configuration ([`check_relation_jobs`]), and what staging it cost.
pub struct CheckedJobs<'a> {
    change: RelationJobsChange<'a>,
    report: ApplyReport,
}

/// Stages one isolated relation's job file with the configuration naming only it and runs
/// promtool on them, in a directory of their own (the full path's may hold thousands of staged
/// files) where every relation's job file is staged under one name. Nothing live changes.
pub fn check_relation_jobs<'a>(
    workload: &WorkloadGateway,
    current: &CurrentWorkload,
    change: RelationJobsChange<'a>,
) -> Result<CheckedJobs<'a>, ApplyError> {
    let mut report = ApplyReport::default();
    let staged = DesiredFile {
        path: format!("{CONFIG_DIR}/{JOBS_CANDIDATE_FILE}"),
        ..change.jobs_file.clone()
    };
    validate_files(
        workload,
        JOBS_CANDIDATE_DIR,
        &[&change.candidate, &staged],
        &BTreeSet::new(),
        current.manifest.prometheus_version.as_deref(),
        &mut report,
    )?;
    Ok(CheckedJobs { change, report })
}

/// Applies a change of one isolated relation's jobs alone, once promtool accepted its job file
/// ([`check_relation_jobs`]): the file and its jobs' changed target files are pushed,
/// Prometheus reloads, and the relation's result, the job names and the manifest
/// (`applied_for`) are recorded. prometheus.yml, the rules, the layer and every other
/// relation's files stay as they are.
pub fn apply_relation_jobs(
    workload: &WorkloadGateway,
    prometheus_url: &str,
    current: &CurrentWorkload,
    checked: CheckedJobs<'_>,
    basis: &JobsBasis,
    book: &TargetsBook,
    applied_for: AppliedFor,
) -> Result<ApplyReport, ApplyError> {
    let manifest = &current.manifest;
    let CheckedJobs { change, mut report } = checked;
    let mut result = change.result;
    let known = std::mem::take(&mut result.files);
    let (mut changed, identities) = target_files_against(change.target_files.iter(), &known);
    let pushed_targets: BTreeMap<String, String> = identities
        .iter()
        .filter(|(name, identity)| known.get(*name) != Some(*identity))
        .map(|(name, identity)| (name.clone(), identity.clone()))
        .collect();
    result.files = identities;
    let applied = Manifest {
        applied_for: Some(applied_for),
        ..manifest.clone()
    };
    let identity = relation_jobs_identity(&change.jobs_file);
    let jobs_changed = result.jobs_identity.as_ref() != Some(&identity);
    if jobs_changed {
        changed.push(&change.jobs_file);
    }
    // The manifest rides with the files: until `end_apply` the marker says it does not vouch,
    // and the job file is recorded only once Prometheus has reloaded it.
    mark_in_flight(book)?;
    push_with_manifest(workload, &changed, &applied, &mut report)?;
    let record = |e: std::io::Error| ApplyError::Record(e.to_string());
    FilesRecord::append(&book.record, &manifest.generation, &pushed_targets).map_err(record)?;
    if jobs_changed {
        reload(prometheus_url, basis.web_tls.as_ref(), basis.reload_timeout)?;
        report.reloaded = true;
        let name = change.jobs_file.file_name().to_owned();
        let jobs = BTreeMap::from([(name, identity.clone())]);
        FilesRecord::append(&book.jobs, &manifest.generation, &jobs).map_err(record)?;
    }
    result.jobs_identity = Some(identity);
    result
        .save(&book.results, change.relation)
        .map_err(record)?;
    book.append_names(&manifest.generation, change.relation.id, &change.name_keys)
        .map_err(record)?;
    book.end_apply();
    Ok(report)
}

/// Asks Prometheus to reload its configuration, over HTTPS when it serves it.
fn reload(
    prometheus_url: &str,
    web_tls: Option<&WebTls>,
    timeout: std::time::Duration,
) -> Result<(), ApplyError> {
    match web_tls {
        Some(tls) => {
            crate::effects::tls_client::reload_prometheus_tls(prometheus_url, tls, timeout)
        }
        None => reload_prometheus(prometheus_url, timeout),
    }
}

/// Pushes the changed target files and then the manifest that vouches for them, in one
/// request when they fit in one (a Pebble round trip less per moved unit). Pebble writes the
/// files of a request in turn, so the manifest may land while a target file failed: the apply,
/// marked in flight before and cleared only once everything is recorded, makes the next hook
/// distrust such a manifest, as it does one pushed after a failed target push.
fn push_with_manifest(
    workload: &WorkloadGateway,
    changed: &[&DesiredFile],
    applied: &Manifest,
    report: &mut ApplyReport,
) -> Result<(), ApplyError> {
    let contents: Option<Vec<(String, bytes::Bytes, u32)>> = changed
        .iter()
        .map(|f| match &f.content {
            FileContent::Bytes(bytes) => Some((f.path.clone(), bytes.clone(), f.permissions)),
            FileContent::Local { .. } => None,
        })
        .collect();
    let fits = |files: &[(String, bytes::Bytes, u32)]| {
        files.len() < PUSH_BATCH_FILES
            && files.iter().map(|(_, b, _)| b.len()).sum::<usize>() < PUSH_BATCH_BYTES
    };
    match contents {
        Some(mut files) if fits(&files) => {
            let manifest = manifest_bytes(applied).into();
            files.push((MANIFEST_FILE.to_owned(), manifest, MANIFEST_PERMISSIONS));
            report.bytes_pushed += files.iter().map(|(_, b, _)| b.len()).sum::<usize>();
            workload.push_each(&files)?;
            report.pushed = changed.iter().map(|f| f.path.clone()).collect();
            Ok(())
        }
        _ => {
            push_changed(workload, changed, report)?;
            push_manifest(workload, applied, report)
        }
    }
}

/// A fresh manifest generation: unique enough to tell this container's files from another's.
fn new_generation() -> String {
    targets_record::unique_token()
}

/// The relations' job files to push and to remove, against the charm container's record of
/// what Prometheus has loaded (see [`crate::effects::targets_record`]).
struct JobsChange<'a> {
    changed: Vec<&'a DesiredFile>,
    /// The names of the others, live as they are wanted.
    live: BTreeSet<&'a str>,
    stale: Vec<String>,
    /// The record once applied.
    record: FilesRecord,
    /// Whether it differs from the record loaded (or none was).
    record_changed: bool,
}

impl<'a> JobsChange<'a> {
    /// Against the record at `record_path`, less the files `current` found drifted. A record
    /// the hook cannot trust (none of this generation, or an apply that did not complete:
    /// files may have been pushed that it lacks) counts as empty, and the job files in the
    /// container that are not wanted are listed to be removed.
    fn new(
        workload: &WorkloadGateway,
        record_path: &Path,
        current: &CurrentWorkload,
        desired: &[&'a DesiredFile],
    ) -> Result<Self, pebble::Error> {
        let manifest = &current.manifest;
        let loaded = FilesRecord::load(record_path, &manifest.generation)
            .filter(|_| manifest.applied_for.is_some());
        let trusted = loaded.is_some();
        let (loaded, journal) = loaded.unwrap_or_default();
        let mut known = loaded.files.clone();
        for path in &current.drifted {
            if let Some(name) = path
                .strip_prefix(CONFIG_DIR)
                .and_then(|p| p.strip_prefix('/'))
            {
                known.remove(name);
            }
        }
        let mut changed = Vec::new();
        let mut live = BTreeSet::new();
        let mut files = BTreeMap::new();
        for file in desired.iter().copied() {
            let identity = relation_jobs_identity(file);
            if known.get(file.file_name()) == Some(&identity) {
                live.insert(file.file_name());
            } else {
                changed.push(file);
            }
            files.insert(file.file_name().to_owned(), identity);
        }
        let mut stale: BTreeSet<String> = known
            .keys()
            .filter(|name| !files.contains_key(*name))
            .cloned()
            .collect();
        if !trusted {
            stale.extend(
                workload
                    .file_sizes(CONFIG_DIR, &format!("{RELATION_JOBS_PREFIX}*.yml"))?
                    .into_keys()
                    .filter(|name| !files.contains_key(name)),
            );
        }
        let record_changed = !trusted || journal || loaded.files != files;
        Ok(Self {
            changed,
            live,
            stale: stale
                .into_iter()
                .map(|name| format!("{CONFIG_DIR}/{name}"))
                .collect(),
            record: FilesRecord {
                generation: String::new(),
                files,
            },
            record_changed,
        })
    }

    /// Records the job files as applied under `generation` (only when that changes the record).
    fn save(mut self, path: &Path, generation: &str) {
        if self.record_changed {
            self.record.generation = generation.to_owned();
            self.record.save(path);
        }
    }
}

/// The relation jobs' target files to push and to remove, against the charm container's
/// record of what this container has (see [`crate::effects::targets_record`]).
struct TargetsChange<'a> {
    changed: Vec<&'a DesiredFile>,
    stale: Vec<String>,
    record: FilesRecord,
    record_changed: bool,
    /// Files the record has as pushed that the container's listing lacks or has at another
    /// size (pushed again, in `changed`).
    restored: usize,
}

impl<'a> TargetsChange<'a> {
    /// With `current.target_files` (the container's listing, on update-status), files missing
    /// or resized there are pushed again and files there that the record lacks are removed.
    fn new(
        workload: &WorkloadGateway,
        record_path: &Path,
        current: &CurrentWorkload,
        applied: &Manifest,
        desired: &[&'a DesiredFile],
    ) -> Result<Self, pebble::Error> {
        let manifest = &current.manifest;
        // A manifest without `applied_for` (or one the hook distrusts: an apply in flight) is
        // an apply that did not complete: the record may lag behind the container, so it
        // counts as unknown.
        let (loaded, journal) = match FilesRecord::load(record_path, &manifest.generation) {
            Some((record, journal)) if manifest.applied_for.is_some() => (Some(record), journal),
            _ => (None, false),
        };
        let known = loaded.clone().unwrap_or_default();
        let (mut changed, files) = target_files_against(desired.iter().copied(), &known.files);
        let record = FilesRecord {
            generation: applied.generation.clone(),
            files,
        };
        let mut restored = 0;
        if let (Some(listed), Some(_)) = (&current.target_files, &loaded) {
            let missing = missing_or_resized(desired, &changed, listed);
            restored = missing.len();
            changed.extend(missing);
        }
        let mut stale: BTreeSet<String> = known
            .files
            .keys()
            .filter(|name| !record.files.contains_key(*name))
            .cloned()
            .collect();
        // Nothing known of this container's target files (no record of its generation): any
        // other one there is left by an earlier charm container and must go. The same for
        // files listed on update-status that nothing pushed.
        let listed = match (&current.target_files, &loaded) {
            (Some(listed), _) => Some(listed.keys().cloned().collect::<Vec<_>>()),
            (None, None) => Some(
                workload
                    .file_sizes(TARGETS_DIR, "*.json")?
                    .into_keys()
                    .collect(),
            ),
            (None, Some(_)) => None,
        };
        stale.extend(
            listed
                .into_iter()
                .flatten()
                .filter(|name| !record.files.contains_key(name)),
        );
        let record_changed = journal || loaded.as_ref() != Some(&record);
        Ok(TargetsChange {
            changed,
            stale: stale
                .into_iter()
                .map(|name| format!("{TARGETS_DIR}/{name}"))
                .collect(),
            record,
            record_changed,
            restored,
        })
    }

    fn save(&self, path: &Path) {
        if self.record_changed {
            self.record.save(path);
        }
    }
}

/// The target files of `desired` not already in `pushing` that the container's listing
/// (`listed`, name → size) lacks or has at another size.
fn missing_or_resized<'a>(
    desired: &[&'a DesiredFile],
    pushing: &[&DesiredFile],
    listed: &BTreeMap<String, u64>,
) -> Vec<&'a DesiredFile> {
    let pushing: BTreeSet<&str> = pushing.iter().map(|f| f.path.as_str()).collect();
    desired
        .iter()
        .copied()
        .filter(|file| !pushing.contains(file.path.as_str()))
        .filter(|file| {
            let there = listed.get(file.file_name()).copied();
            match &file.content {
                FileContent::Bytes(bytes) => there != Some(bytes.len() as u64),
                FileContent::Local { .. } => there.is_none(),
            }
        })
        .collect()
}

/// The target files among `files` whose identity differs from `known` (name → identity), and
/// the name → identity of all of them.
fn target_files_against<'a>(
    files: impl Iterator<Item = &'a DesiredFile>,
    known: &BTreeMap<String, String>,
) -> (Vec<&'a DesiredFile>, BTreeMap<String, String>) {
    let mut changed = Vec::new();
    let mut identities = BTreeMap::new();
    for file in files {
        let name = file.file_name().to_owned();
        let identity = match &file.content {
            FileContent::Bytes(bytes) => targets_record::identity(bytes),
            FileContent::Local { identity, .. } => identity.clone(),
        };
        if known.get(&name) != Some(&identity) {
            changed.push(file);
        }
        identities.insert(name, identity);
    }
    (changed, identities)
}

/// The identity recorded for a relation's job file (compact, with its length, see
/// [`targets_record::identity`]).
fn relation_jobs_identity(file: &DesiredFile) -> String {
    match &file.content {
        FileContent::Bytes(bytes) => targets_record::identity(bytes),
        FileContent::Local { identity, .. } => identity.clone(),
    }
}

/// Most files in one push request. Pebble writes each file of a request in turn, syncing the
/// file and its directory to disk, and answers when all are written: with Pebble 1.32 on the
/// test machine 1,000 small files took 0.6-0.7 s, and 2.0-2.2 s of the client's 5 s timeout
/// while a CI run shared the machine (a request outlasting it fails the apply; at 5000x5 one
/// request of 25,000 did). 100 take 0.06 s there, 0.15-0.37 s under that load.
pub const PUSH_BATCH_FILES: usize = 100;
/// Most bytes in one push request (a single larger file still goes alone).
const PUSH_BATCH_BYTES: usize = 8 << 20;

/// Pushes the changed files: multipart requests per permission set (config files share
/// 0644, the poller's binary is 0755, its URL file 0600), in batches of at most
/// [`PUSH_BATCH_FILES`] files or about [`PUSH_BATCH_BYTES`]; a local file (the poller's
/// binary) goes in a request of its own, streamed from disk.
fn push_changed(
    workload: &WorkloadGateway,
    changed: &[&DesiredFile],
    report: &mut ApplyReport,
) -> Result<(), ApplyError> {
    for perms in changed
        .iter()
        .map(|f| f.permissions)
        .collect::<BTreeSet<_>>()
    {
        let mut files = Vec::new();
        let mut bytes = 0;
        for file in changed.iter().filter(|f| f.permissions == perms) {
            let content = match &file.content {
                FileContent::Bytes(content) => content.clone(),
                FileContent::Local { path, .. } => {
                    // The poller's binary (the charm's own, MBs): streamed from disk, alone.
                    let (reader, len) = open_local(path)?;
                    workload.push_reader(&file.path, reader, len, perms)?;
                    report.bytes_pushed += len as usize;
                    continue;
                }
            };
            bytes += content.len();
            files.push((file.path.clone(), content));
            if files.len() >= PUSH_BATCH_FILES || bytes >= PUSH_BATCH_BYTES {
                report.bytes_pushed += bytes;
                workload.push_many(&std::mem::take(&mut files), perms)?;
                bytes = 0;
            }
        }
        if !files.is_empty() {
            report.bytes_pushed += bytes;
            workload.push_many(&files, perms)?;
        }
    }
    report.pushed = changed.iter().map(|f| f.path.clone()).collect();
    Ok(())
}

/// Rule files in the rules directory that this apply does not want, found when the charm has
/// applied nothing in this container yet: left by another charm (prometheus-k8s writes
/// `juju_*.rules` there, and `juju refresh --switch` keeps the container), they would be
/// loaded by the `rules/*.rules` glob.
fn unknown_rule_files(
    workload: &WorkloadGateway,
    applied: &Manifest,
) -> Result<Vec<String>, pebble::Error> {
    Ok(workload
        .file_sizes(RULES_DIR, "*.rules")?
        .into_keys()
        .map(|name| format!("{RULES_DIR}/{name}"))
        .filter(|p| !applied.files.contains_key(p))
        .collect())
}

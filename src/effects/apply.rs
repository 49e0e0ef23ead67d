//! Applies a desired workload state through Pebble: push only what changed, validate with
//! promtool before anything goes live, then restart (layer changed), reload (only files
//! changed) or do nothing. What was applied is recorded only after it succeeded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::core::desired_workload::{DesiredFile, DesiredWorkload, FileContent, FileRole};
use crate::core::manifest::{plan_digest, AppliedFor, Manifest};
use crate::core::workload::{
    CONFIG_DIR, INVENTORY_SERVICE, MANIFEST_FILE, RULES_DIR, TARGETS_DIR, TARGETS_SERVICE,
};
use crate::effects::access::file_bytes;
use crate::effects::current::CurrentWorkload;
use crate::effects::gateway::WorkloadGateway;
use crate::effects::http::{reload_prometheus, reload_timeout};
use crate::effects::promtool::validate_candidate;
use crate::effects::report::{ApplyError, ApplyReport};
use crate::effects::services::apply_layer;
use crate::effects::targets_record::{self, TargetsRecord};

/// Applies `desired` against the workload reached through `workload`, with Prometheus' web API at
/// `prometheus_url`. `current` is what [`CurrentWorkload::read`] returned at the start of the
/// hook; `applied_for` is recorded in the manifest once everything succeeded. The relation
/// jobs' target files are tracked in the charm container's record at `targets_record`.
pub fn apply(
    workload: &WorkloadGateway,
    prometheus_url: &str,
    desired: &DesiredWorkload,
    current: &CurrentWorkload,
    applied_for: AppliedFor,
    targets_record: &Path,
) -> Result<ApplyReport, ApplyError> {
    let manifest = &current.manifest;
    let mut report = ApplyReport::default();
    let (target_files, files): (Vec<&DesiredFile>, Vec<&DesiredFile>) = desired
        .files
        .iter()
        .partition(|f| f.role == FileRole::ScrapeTargets);
    // Each file's identity once: hashing a large prometheus.yml is the costly part of a check.
    let identities: Vec<(&DesiredFile, String)> =
        files.iter().map(|f| (*f, f.identity())).collect();
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
    let mut stale: Vec<String> = manifest
        .files
        .keys()
        .filter(|p| !applied.files.contains_key(*p))
        .cloned()
        .collect();
    if manifest.files.is_empty() {
        stale.extend(unknown_rule_files(workload, &applied)?);
    }
    let targets = TargetsChange::new(workload, targets_record, manifest, &applied, &target_files)?;
    changed.extend(&targets.changed);
    let config_changed = changed.iter().any(|f| f.role == FileRole::PrometheusConfig)
        || stale
            .iter()
            .any(|p| p.starts_with(&format!("{CONFIG_DIR}/")));
    let binary_changed = changed.iter().any(|f| f.role == FileRole::PollerBinary);

    if config_changed {
        validate_candidate(workload, desired, &mut report)?;
    }
    push_changed(workload, &changed, &mut report)?;
    for path in stale.iter().chain(&targets.stale) {
        workload.remove(path, false)?;
        report.removed.push(path.clone());
    }
    // The target files are in place: record them (a later failure does not undo them).
    targets.save(targets_record);

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
        let config_bytes: usize = desired
            .files
            .iter()
            .filter(|f| f.role == FileRole::PrometheusConfig)
            .map(|f| match &f.content {
                FileContent::Bytes(b) => b.len(),
                FileContent::Local { .. } => 0,
            })
            .sum();
        match &desired.web_tls {
            Some(tls) => crate::effects::tls_client::reload_prometheus_tls(
                prometheus_url,
                tls,
                reload_timeout(config_bytes),
            )?,
            None => reload_prometheus(prometheus_url, reload_timeout(config_bytes))?,
        }
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
    if &applied != manifest {
        let bytes = serde_json::to_vec(&applied).expect("manifest serialises");
        workload.push(MANIFEST_FILE, &bytes, 0o600)?;
        report.bytes_pushed += bytes.len();
    }
    Ok(report)
}

/// A fresh manifest generation: unique enough to tell this container's files from another's.
fn new_generation() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:x}-{:x}", std::process::id())
}

/// The relation jobs' target files to push and to remove, against the charm container's
/// record of what this container has (see [`crate::effects::targets_record`]).
struct TargetsChange<'a> {
    changed: Vec<&'a DesiredFile>,
    stale: Vec<String>,
    record: TargetsRecord,
    record_changed: bool,
}

impl<'a> TargetsChange<'a> {
    fn new(
        workload: &WorkloadGateway,
        record_path: &Path,
        manifest: &Manifest,
        applied: &Manifest,
        desired: &[&'a DesiredFile],
    ) -> Result<Self, pebble::Error> {
        let loaded = TargetsRecord::load(record_path, &manifest.generation);
        let known = loaded.clone().unwrap_or_default();
        let mut record = TargetsRecord {
            generation: applied.generation.clone(),
            files: BTreeMap::new(),
        };
        let mut changed = Vec::new();
        for file in desired {
            let name = file_name(&file.path).to_owned();
            let identity = match &file.content {
                FileContent::Bytes(bytes) => targets_record::identity(bytes),
                FileContent::Local { identity, .. } => identity.clone(),
            };
            if known.files.get(&name) != Some(&identity) {
                changed.push(*file);
            }
            record.files.insert(name, identity);
        }
        let mut stale: Vec<String> = known
            .files
            .keys()
            .filter(|name| !record.files.contains_key(*name))
            .map(|name| format!("{TARGETS_DIR}/{name}"))
            .collect();
        // Nothing known of this container's target files (no record of its generation): any
        // other one there is left by an earlier charm container and must go.
        if loaded.is_none() {
            stale.extend(
                workload
                    .list_files(TARGETS_DIR, "*.json")?
                    .into_iter()
                    .filter(|f| f.file_type == pebble::FileType::File)
                    .filter(|f| !record.files.contains_key(&f.name))
                    .map(|f| format!("{TARGETS_DIR}/{}", f.name)),
            );
        }
        let record_changed = loaded.as_ref() != Some(&record);
        Ok(TargetsChange {
            changed,
            stale,
            record,
            record_changed,
        })
    }

    fn save(&self, path: &Path) {
        if self.record_changed {
            self.record.save(path);
        }
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

/// Pushes the changed files: one multipart request per permission set (config files share
/// 0644, the poller's binary is 0755, its URL file 0600).
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
        for file in changed.iter().filter(|f| f.permissions == perms) {
            files.push((file.path.clone(), file_bytes(file)?));
        }
        report.bytes_pushed += files.iter().map(|(_, b)| b.len()).sum::<usize>();
        workload.push_many(&files, perms)?;
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
        .list_files(RULES_DIR, "*.rules")?
        .into_iter()
        .filter(|f| f.file_type == pebble::FileType::File)
        .map(|f| format!("{RULES_DIR}/{}", f.name))
        .filter(|p| !applied.files.contains_key(p))
        .collect())
}

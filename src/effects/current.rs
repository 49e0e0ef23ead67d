//! What the workload has now, read once at the start of a hook: the manifest of the last
//! successful apply and Pebble's plan; on update-status also the drift check of the managed
//! files (against the manifest, and the job files against their record in the charm
//! container) and the listing of the relation target files.

use std::collections::BTreeMap;
use std::path::Path;

use pebble::Plan;

use crate::core::desired_workload::content_identity;
use crate::core::manifest::Manifest;
use crate::core::prometheus_config::RELATION_JOBS_PREFIX;
use crate::core::workload::{CONFIG_DIR, MANIFEST_FILE, TARGETS_DIR};
use crate::effects::gateway::WorkloadGateway;
use crate::effects::targets_record::{self, FilesRecord, TargetsBook};

/// What the workload has now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CurrentWorkload {
    /// What the charm applied last.
    pub manifest: Manifest,
    /// Pebble's current plan.
    pub plan: Plan,
    /// Pebble's services as they run, when it answered (for the test that the workload is as
    /// the last apply left it: read with the plan, beside the hook tools, rather than on the
    /// hook's path).
    pub services: Option<Vec<pebble::ServiceInfo>>,
    /// The relation target files in the container, name → size, when listed (update-status).
    pub target_files: Option<BTreeMap<String, u64>>,
    /// Managed configuration files found changed or removed behind the charm's back, when
    /// checked (update-status; see [`CurrentWorkload::forget_drifted_files`]).
    pub drifted: Vec<String>,
}

impl CurrentWorkload {
    /// Reads the manifest and the plan. A connection error means the container is not up.
    /// When `book` marks an apply as begun and not complete, the manifest vouches for nothing
    /// (see [`TargetsBook::begin_apply`]): what it vouched for may no longer be what the
    /// workload has.
    pub fn read(
        workload: &WorkloadGateway,
        book: &TargetsBook,
    ) -> Result<CurrentWorkload, pebble::Error> {
        let mut manifest = load_manifest(workload)?;
        if book.apply_in_flight() {
            tracing::warn!("the last apply did not complete: computing everything");
            manifest.applied_for = None;
        }
        let plan = workload.plan()?;
        let services = workload.services(&[]).ok();
        Ok(CurrentWorkload {
            manifest,
            plan,
            services,
            target_files: None,
            drifted: Vec::new(),
        })
    }

    /// Lists the relation target files in the container (one request, names and sizes), so
    /// that the apply re-pushes those removed or resized behind the charm's back and removes
    /// those it did not push. Their contents are not pulled: 10,000 files at 2000x5.
    pub fn list_target_files(&mut self, workload: &WorkloadGateway) -> Result<(), pebble::Error> {
        self.target_files = Some(workload.file_sizes(TARGETS_DIR, "*.json")?);
        Ok(())
    }

    /// Checks the managed configuration files in the container against the manifest, and the
    /// relations' job files against their record in `book`, and lists in
    /// [`CurrentWorkload::drifted`] those changed or removed behind the charm's back; the
    /// manifest forgets them, and so does the apply for the job files, so this apply restores
    /// them. Costs one pull per file and one listing of the job files: the charm does it on
    /// update-status only.
    pub fn forget_drifted_files(
        &mut self,
        workload: &WorkloadGateway,
        book: &TargetsBook,
    ) -> Result<(), pebble::Error> {
        let mut drifted = Vec::new();
        for (path, identity) in &self.manifest.files {
            if !path.starts_with(CONFIG_DIR) {
                continue;
            }
            let actual = workload.pull(path)?.map(|bytes| content_identity(&bytes));
            if actual.as_ref() != Some(identity) {
                drifted.push(path.clone());
            }
        }
        for path in &drifted {
            self.manifest.files.remove(path);
        }
        // The relations' job files by one listing: a file missing or of another length
        // (a same-length edit goes unnoticed, as for target files).
        let jobs = FilesRecord::load(&book.jobs, &self.manifest.generation);
        if let Some((record, _)) = jobs.filter(|(r, _)| !r.files.is_empty()) {
            let listed =
                workload.file_sizes(CONFIG_DIR, &format!("{RELATION_JOBS_PREFIX}*.yml"))?;
            drifted.extend(
                record
                    .files
                    .iter()
                    .filter(|(name, identity)| {
                        listed.get(*name).copied() != targets_record::identity_len(identity)
                    })
                    .map(|(name, _)| format!("{CONFIG_DIR}/{name}")),
            );
        }
        self.drifted = drifted;
        Ok(())
    }

    /// Whether the files checked in this hook are as the last apply left them: no managed
    /// configuration file drifted and, when the target files were listed, the listing is
    /// exactly the record at `record` (see [`FilesRecord::matches_listing`]). True when
    /// nothing was checked.
    pub fn files_as_applied(&self, record: &Path) -> bool {
        if !self.drifted.is_empty() {
            return false;
        }
        let Some(listed) = &self.target_files else {
            return true;
        };
        FilesRecord::load(record, &self.manifest.generation)
            .is_some_and(|(record, _)| record.matches_listing(listed))
    }
}

/// Reads the manifest; a missing or unreadable one is empty (everything will be pushed).
pub fn load_manifest(workload: &WorkloadGateway) -> Result<Manifest, pebble::Error> {
    Ok(workload
        .pull(MANIFEST_FILE)?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default())
}

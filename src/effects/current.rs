//! What the workload has now, read once at the start of a hook: the manifest of the last
//! successful apply and Pebble's plan; on update-status also the drift check of the managed
//! files.

use pebble::{Client, Plan};

use crate::core::desired_workload::content_identity;
use crate::core::manifest::Manifest;
use crate::core::workload::{CONFIG_DIR, MANIFEST_FILE};

/// What the workload has now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CurrentWorkload {
    /// What the charm applied last.
    pub manifest: Manifest,
    /// Pebble's current plan.
    pub plan: Plan,
}

impl CurrentWorkload {
    /// Reads the manifest and the plan. A connection error means the container is not up.
    pub fn read(client: &Client) -> Result<CurrentWorkload, pebble::Error> {
        let manifest = load_manifest(client)?;
        let plan = client.get_plan()?;
        Ok(CurrentWorkload { manifest, plan })
    }

    /// Checks the managed configuration files in the container against the manifest and
    /// forgets those that were changed or removed behind the charm's back, so this apply
    /// restores them. Costs one pull per file: the charm does it on update-status only.
    pub fn forget_drifted_files(&mut self, client: &Client) -> Result<Vec<String>, pebble::Error> {
        let mut drifted = Vec::new();
        for (path, identity) in &self.manifest.files {
            if !path.starts_with(CONFIG_DIR) {
                continue;
            }
            let actual = match client.pull(path) {
                Ok(bytes) => Some(content_identity(&bytes)),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e),
            };
            if actual.as_ref() != Some(identity) {
                drifted.push(path.clone());
            }
        }
        for path in &drifted {
            self.manifest.files.remove(path);
        }
        Ok(drifted)
    }
}

/// Reads the manifest; a missing or unreadable one is empty (everything will be pushed).
pub fn load_manifest(client: &Client) -> Result<Manifest, pebble::Error> {
    match client.pull(MANIFEST_FILE) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_default()),
        Err(e) if e.is_not_found() => Ok(Manifest::default()),
        Err(e) => Err(e),
    }
}

//! The record of what the charm applied successfully, kept in the workload container
//! ([`crate::core::workload::MANIFEST_FILE`]): a container restart loses it together with the
//! Pebble plan, and then everything is applied again.

use std::collections::BTreeMap;

use juju_hook::Status;
use pebble::Plan;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What the charm applied successfully last time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Path → identity of each managed file but the relations' target files and job files,
    /// which the charm container records (`effects::targets_record`): thousands at a large
    /// model, where every hook reads the manifest.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// The detected Prometheus version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_version: Option<String>,
    /// What the apply was for: lets a later hook with the same inputs skip the work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_for: Option<AppliedFor>,
    /// Made by the first apply in a container and kept while the manifest is: the charm
    /// container's records of the relations' target files and job files count only for this
    /// generation.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub generation: String,
}

/// The hook an apply belonged to, as far as a later hook needs to recognise the same
/// situation: same inputs and an untouched plan mean the same result (see
/// [`crate::hook::unchanged_inputs`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedFor {
    /// Fingerprint of the hook's inputs, with this unit's databags as they are once the hook's
    /// relation writes are committed.
    pub inputs: String,
    /// The status the hook ends with when the apply succeeds.
    pub status: Status,
    /// Digest of Pebble's plan right after the apply (filled in by the apply).
    #[serde(default)]
    pub plan: String,
    /// Whether the apply pushed one relation's target files without computing the rest
    /// (`crate::hook::targets_shortcut`): update-status then computes everything once, which
    /// bounds how long such an apply stands unchecked by the full computation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub targets_only: bool,
}

/// A digest of a Pebble plan, to notice that it changed.
pub fn plan_digest(plan: &Plan) -> String {
    let mut hasher = Sha256::new();
    serde_json::to_writer(&mut hasher, plan).expect("a plan serialises");
    hex::encode(hasher.finalize())
}

//! What the charm pushed of the relation jobs' target files, kept in the charm container.
//!
//! There is one target file per relation job (a unit is a job): 10,000 at 2000 applications of
//! 5 units. Recorded in the workload's manifest, their identities would make it a megabyte
//! pulled by every hook and pushed by every change, for a moved unit whose own file is a few
//! hundred bytes. So they are recorded here, next to the databag cache, under the manifest's
//! `generation`: a token the manifest gets in a fresh container. A container restart loses the
//! manifest, the next apply makes a new generation, and a record of another generation counts
//! as empty, so every target file is pushed again; a record lost with the charm container does
//! the same.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The record's file in the charm directory.
pub const TARGETS_RECORD_FILE: &str = ".relation-targets.json";

/// Target file name → identity of the bytes pushed, for one generation of the workload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetsRecord {
    /// The manifest generation the files were pushed under.
    pub generation: String,
    /// File name (in the targets directory) → [`identity`] of its bytes.
    pub files: BTreeMap<String, String>,
}

/// The identity recorded for a target file's bytes: 64 bits of their SHA-256 (enough to notice
/// a change; nothing here defends against a chosen collision, as nothing needs to).
pub fn identity(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..8])
}

/// Where the record lives for the charm directory `charm_dir`.
pub fn record_path(charm_dir: &Path) -> PathBuf {
    charm_dir.join(TARGETS_RECORD_FILE)
}

impl TargetsRecord {
    /// The record at `path` if it belongs to `generation`; `None` when there is none (nothing
    /// is known of the container's target files).
    pub fn load(path: &Path, generation: &str) -> Option<TargetsRecord> {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<TargetsRecord>(&bytes).ok())
            .filter(|r| !generation.is_empty() && r.generation == generation)
    }

    /// Saves the record (through a temporary file and a rename, so a reader never sees half).
    /// A failure only costs a full push of the target files in a later hook.
    pub fn save(&self, path: &Path) {
        let tmp = path.with_extension("json.tmp");
        let written = serde_json::to_vec(self)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            tracing::warn!("cannot save {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_of_another_generation_or_unreadable_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = record_path(dir.path());
        let record = TargetsRecord {
            generation: "g1".into(),
            files: BTreeMap::from([("a.json".into(), identity(b"[]\n"))]),
        };
        assert_eq!(TargetsRecord::load(&path, "g1"), None, "no record yet");
        record.save(&path);
        assert_eq!(TargetsRecord::load(&path, "g1"), Some(record));
        assert_eq!(TargetsRecord::load(&path, "g2"), None);
        assert_eq!(TargetsRecord::load(&path, ""), None);
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(TargetsRecord::load(&path, "g1"), None);
    }
}

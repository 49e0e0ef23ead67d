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
//!
//! A hook that changes only one relation's target files (`crate::hook::targets_shortcut`)
//! appends what it pushed to a journal beside the record instead of rewriting the record (a
//! megabyte at 2000x5); loading applies the journal, saving folds it in. That hook finds what it
//! needs of its relation in the relation's own [`RelationResult`], one small file per relation.
//!
//! The relations' job files (`jobs-<endpoint>-<id>.yml` beside prometheus.yml, one per isolated
//! relation on Prometheus ≥ 2.43) are recorded the same way, in a record of their own
//! ([`JOBS_RECORD_FILE`]): 2,000 identities at 2000x5, which the workload's manifest used to
//! carry, so every relation hook pulled, parsed and pushed them back for the one it changed. A
//! job file is recorded only once Prometheus has reloaded it: a hook that dies between the push
//! and the reload leaves the old identity, and the next hook pushes the file and reloads again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use juju_hook::RelationId;
use serde::{Deserialize, Serialize};

use crate::core::relation_shape::{JobNames, JobsBasis};
use sha2::{Digest, Sha256};

/// The target files' record in the charm directory.
pub const TARGETS_RECORD_FILE: &str = ".relation-targets.json";
/// The journal of the target files' record: lines `<generation> <file name> <identity>`,
/// newest last (a record's journal is its file with the extension `journal`).
pub const TARGETS_JOURNAL_FILE: &str = ".relation-targets.journal";
/// The job files' record in the charm directory (journal: `.relation-jobs.journal`).
pub const JOBS_RECORD_FILE: &str = ".relation-jobs.json";
/// The directory of the relations' [`RelationResult`]s in the charm directory.
pub const RELATION_RESULTS_DIR: &str = ".relation-results";
/// The marker of an apply in flight in the charm directory (see [`TargetsBook::begin_apply`]).
pub const APPLY_IN_FLIGHT_FILE: &str = ".apply-in-flight";
/// The last full apply's [`JobsBasis`] in the charm directory, with its generation.
pub const JOBS_BASIS_FILE: &str = ".jobs-basis.json";
/// Every relation job name of the last full apply ([`JobNames::to_bytes`]), after a line with
/// its generation and a token of this save; a journal beside it (`.job-names.journal`) holds
/// the names relations took since, one line per hook (see [`TargetsBook::append_names`]).
pub const JOB_NAMES_FILE: &str = ".job-names";

/// File name → identity of the bytes pushed, for the files of one directory of the workload
/// (the relation target files, or the relations' job files) and one generation of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesRecord {
    /// The manifest generation the files were pushed under.
    pub generation: String,
    /// File name (in its directory) → [`identity`] of its bytes.
    pub files: BTreeMap<String, String>,
}

/// The identity recorded for a target file's bytes: their length and 64 bits of their SHA-256
/// (enough to notice a change; nothing here defends against a chosen collision, as nothing
/// needs to), as `<length>-<16 hex digits>`. The length lets a listing of the container, which
/// has sizes but no contents, be checked against the record ([`FilesRecord::matches_listing`]).
pub fn identity(bytes: &[u8]) -> String {
    format!(
        "{}-{}",
        bytes.len(),
        hex::encode(&Sha256::digest(bytes)[..8])
    )
}

/// The length an [`identity`] was made from; `None` for one that is not an identity.
pub fn identity_len(identity: &str) -> Option<u64> {
    identity.split_once('-')?.0.parse().ok()
}

/// Where the record lives for the charm directory `charm_dir`.
pub fn record_path(charm_dir: &Path) -> PathBuf {
    charm_dir.join(TARGETS_RECORD_FILE)
}

fn journal_path(record: &Path) -> PathBuf {
    record.with_extension("journal")
}

impl FilesRecord {
    /// The record at `path`, with its journal applied, if it belongs to `generation`; `None`
    /// when there is none (nothing is known of the container's target files). The second
    /// value says whether a journal was applied (the record is then saved again, folding it).
    pub fn load(path: &Path, generation: &str) -> Option<(FilesRecord, bool)> {
        let mut record = std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<FilesRecord>(&bytes).ok())
            .filter(|r| !generation.is_empty() && r.generation == generation)?;
        let journal = std::fs::read_to_string(journal_path(path)).unwrap_or_default();
        for line in journal.lines() {
            let mut fields = line.split(' ');
            if let (Some(g), Some(name), Some(identity), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            {
                if g == generation {
                    record.files.insert(name.to_owned(), identity.to_owned());
                }
            }
        }
        Some((record, !journal.is_empty()))
    }

    /// Saves the record (through a temporary file and a rename, so a reader never sees half)
    /// and drops the journal it now holds. A failure only costs a full push of the target
    /// files in a later hook.
    pub fn save(&self, path: &Path) {
        let tmp = path.with_extension("json.tmp");
        let written = serde_json::to_vec(self)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, path));
        match written {
            Ok(()) => match std::fs::remove_file(journal_path(path)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    tracing::warn!("cannot remove the targets journal: {e}");
                }
                _ => {}
            },
            Err(e) => tracing::warn!("cannot save {}: {e}", path.display()),
        }
    }

    /// Whether `listed` (the container's target files, name → size) holds exactly the files of
    /// the record, each at the length of its identity: nothing removed, resized or added behind
    /// the charm's back (a same-size edit goes unnoticed, as contents are not pulled).
    pub fn matches_listing(&self, listed: &BTreeMap<String, u64>) -> bool {
        self.files.len() == listed.len()
            && self
                .files
                .iter()
                .zip(listed)
                .all(|((name, identity), (there, size))| {
                    name == there && identity_len(identity) == Some(*size)
                })
    }

    /// Appends `files` (name → identity) pushed under `generation` to the journal of the
    /// record at `path`.
    pub fn append(
        path: &Path,
        generation: &str,
        files: &BTreeMap<String, String>,
    ) -> std::io::Result<()> {
        use std::io::Write;
        let mut lines = String::new();
        for (name, identity) in files {
            lines.push_str(&format!("{generation} {name} {identity}\n"));
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(journal_path(path))?
            .write_all(lines.as_bytes())
    }
}

/// What the last apply made of one isolated `metrics-endpoint` relation (see
/// [`crate::core::relation_shape`]), kept so that a hook in which only that relation's targets
/// changed can tell so from this file alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationResult {
    /// The manifest generation of that apply.
    pub generation: String,
    /// The relation's digest as that apply's fingerprint has it (after its writes).
    pub digest: String,
    /// Its shape ([`crate::core::relation_shape::shape_digest`]).
    pub shape: String,
    /// Its target files: name → [`identity`] of the bytes in the container.
    pub files: BTreeMap<String, String>,
    /// Its errors and rules ([`crate::core::relation_shape::rest_digest`]).
    #[serde(default)]
    pub rest: String,
    /// Its job file, relative to the config file, when its jobs have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs_file: Option<String>,
    /// The [`identity`] of that job file as Prometheus last loaded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs_identity: Option<String>,
}

/// Where the relation results live for the charm directory `charm_dir`.
pub fn results_dir(charm_dir: &Path) -> PathBuf {
    charm_dir.join(RELATION_RESULTS_DIR)
}

/// Where the charm container keeps what it knows of the workload's relation target files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetsBook {
    /// The record of the target files ([`record_path`]).
    pub record: PathBuf,
    /// The record of the relations' job files ([`JOBS_RECORD_FILE`]).
    pub jobs: PathBuf,
    /// The relations' results ([`results_dir`]).
    pub results: PathBuf,
    /// The marker of an apply in flight ([`APPLY_IN_FLIGHT_FILE`]).
    pub in_flight: PathBuf,
    /// The last full apply's basis for changing one relation's jobs ([`JOBS_BASIS_FILE`]).
    pub basis: PathBuf,
    /// Every relation job name ([`JOB_NAMES_FILE`]).
    pub names: PathBuf,
}

impl TargetsBook {
    /// The book of the charm directory `charm_dir`.
    pub fn in_charm_dir(charm_dir: &Path) -> TargetsBook {
        TargetsBook {
            record: record_path(charm_dir),
            jobs: charm_dir.join(JOBS_RECORD_FILE),
            results: results_dir(charm_dir),
            in_flight: charm_dir.join(APPLY_IN_FLIGHT_FILE),
            basis: charm_dir.join(JOBS_BASIS_FILE),
            names: charm_dir.join(JOB_NAMES_FILE),
        }
    }

    /// Saves the basis of an apply of `generation` (names included), or removes the one there
    /// when this apply has none. A failure is logged: without a basis a hook takes the full
    /// path.
    pub fn save_basis(&self, generation: &str, basis: Option<&JobsBasis>) {
        let Some(basis) = basis else {
            for path in [&self.basis, &self.names] {
                let _ = std::fs::remove_file(path);
            }
            return;
        };
        let saved = serde_json::to_vec(&StoredBasis {
            generation: generation.to_owned(),
            basis: basis.clone(),
        })
        .map_err(std::io::Error::other)
        .and_then(|bytes| std::fs::write(&self.basis, bytes))
        .and_then(|()| self.save_names(generation, &basis.names));
        if let Err(e) = saved {
            tracing::warn!("cannot save {}: {e}", self.basis.display());
        }
    }

    /// Saves the job names of `generation` (the basis keeps its own), under a new token: the
    /// lines of the journal, written under the token before, no longer count (and the journal
    /// goes).
    pub fn save_names(&self, generation: &str, names: &JobNames) -> std::io::Result<()> {
        let token = unique_token();
        let mut bytes = format!("{generation} {token}\n").into_bytes();
        bytes.extend(names.to_bytes());
        let tmp = self.names.with_extension("tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &self.names)?;
        match std::fs::remove_file(self.names_journal()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!("cannot remove the job names' journal: {e}");
            }
            _ => {}
        }
        Ok(())
    }

    /// Records that `relation`'s job names are now those of `keys` ([`JobNames::keys`]): one
    /// line appended to the journal of the names saved for `generation`, where rewriting them
    /// all cost a hook 12 bytes per job of the model (120 KB and a new file at 2000x5). Fails
    /// when no names of `generation` are saved (the next full apply saves them).
    pub fn append_names(
        &self,
        generation: &str,
        relation: u32,
        keys: &[u64],
    ) -> std::io::Result<()> {
        use std::io::Write;
        let token = self
            .names_header()
            .filter(|(g, _)| g == generation)
            .map(|(_, token)| token)
            .ok_or_else(|| std::io::Error::other("no job names of this generation"))?;
        let keys: Vec<String> = keys.iter().map(|k| format!("{k:016x}")).collect();
        let line = format!("{token} {relation} {}\n", keys.join(","));
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.names_journal())?
            .write_all(line.as_bytes())
    }

    fn names_journal(&self) -> PathBuf {
        self.names.with_extension("journal")
    }

    /// The generation and token of the saved names.
    fn names_header(&self) -> Option<(String, String)> {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(std::fs::File::open(&self.names).ok()?)
            .read_line(&mut line)
            .ok()?;
        let (generation, token) = line.strip_suffix('\n')?.split_once(' ')?;
        Some((generation.to_owned(), token.to_owned()))
    }

    /// The basis of `generation` with its names left empty (they weigh 12 bytes per relation
    /// job: [`TargetsBook::load_names`] reads them when they are needed).
    pub fn load_basis_without_names(&self, generation: &str) -> Option<JobsBasis> {
        let stored: StoredBasis = serde_json::from_slice(&std::fs::read(&self.basis).ok()?).ok()?;
        (!generation.is_empty() && stored.generation == generation).then_some(stored.basis)
    }

    /// The job names of the basis of `generation`, with their journal applied; `None` when
    /// they are of another generation or cannot be read.
    pub fn load_names(&self, generation: &str) -> Option<JobNames> {
        let bytes = std::fs::read(&self.names).ok()?;
        let newline = bytes.iter().position(|b| *b == b'\n')?;
        let (saved_for, token) = std::str::from_utf8(&bytes[..newline])
            .ok()?
            .split_once(' ')?;
        if generation.is_empty() || saved_for != generation {
            return None;
        }
        let mut names = JobNames::from_bytes(&bytes[newline + 1..])?;
        let journal = std::fs::read_to_string(self.names_journal()).unwrap_or_default();
        // A line cut short (a hook killed while appending) makes the names unknown.
        if !journal.is_empty() && !journal.ends_with('\n') {
            return None;
        }
        let mut replaced = BTreeMap::new();
        for line in journal.lines() {
            let mut fields = line.split(' ');
            let (Some(t), Some(relation), Some(keys), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return None;
            };
            if t != token {
                continue;
            }
            let relation: u32 = relation.parse().ok()?;
            let keys = (keys.split(',').filter(|k| !k.is_empty()))
                .map(|k| {
                    (k.len() == 16)
                        .then(|| u64::from_str_radix(k, 16).ok())
                        .flatten()
                })
                .collect::<Option<Vec<u64>>>()?;
            // A relation's last line is its names.
            replaced.insert(relation, keys);
        }
        names.replace_relations(&replaced);
        Some(names)
    }

    /// Marks an apply as begun, before its first change to the workload. Until
    /// [`TargetsBook::end_apply`], the workload's manifest does not vouch for the workload: a
    /// hook that died between the two (files pushed, manifest not) leaves the marker, and the
    /// next hook distrusts the manifest's fingerprint and the record, so it computes everything
    /// and pushes what the model wants. Kept in the charm container, beside the record, rather
    /// than as a push of the manifest without its fingerprint: that was one more Pebble request
    /// (a synced write) in every hook that changes a file. The file stays; its content says.
    /// Should the charm directory be lost with the marker in it, the record goes with it, and
    /// the next update-status, finding no record, computes everything.
    pub fn begin_apply(&self) -> std::io::Result<()> {
        overwrite_in_place(&self.in_flight, APPLY_BEGUN)
    }

    /// Marks the apply begun with [`TargetsBook::begin_apply`] as complete, once the manifest
    /// vouches for it.
    pub fn end_apply(&self) {
        if let Err(e) = overwrite_in_place(&self.in_flight, APPLY_COMPLETE) {
            tracing::warn!("cannot clear {}: {e}", self.in_flight.display());
        }
    }

    /// Whether an apply began and did not complete: the marker says anything but complete (or
    /// nothing, as an earlier version cleared it).
    pub fn apply_in_flight(&self) -> bool {
        match std::fs::read(&self.in_flight) {
            Ok(marker) => !(marker.is_empty() || marker == APPLY_COMPLETE),
            Err(e) => e.kind() != std::io::ErrorKind::NotFound,
        }
    }
}

/// The apply marker's two contents, of one length: each overwrites the other in place, as a
/// file truncated and written again makes ext4 (`auto_da_alloc`) start writing it back as it
/// is closed, 0.07–0.15 ms on this project's machines, twice per apply.
const APPLY_BEGUN: &[u8] = b"in flight\n";
const APPLY_COMPLETE: &[u8] = b"completed\n";

/// Writes `bytes` over the start of `path` (created if absent), without truncating it.
fn overwrite_in_place(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    file.write_all_at(bytes, 0)
}

/// A token unique enough to tell one save (of a manifest generation, of the job names) from
/// another: the time in nanoseconds and the process id.
pub fn unique_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:x}-{:x}", std::process::id())
}

/// A [`JobsBasis`] as saved, with the generation it belongs to.
#[derive(Serialize, Deserialize)]
struct StoredBasis {
    generation: String,
    basis: JobsBasis,
}

fn result_path(dir: &Path, relation: &RelationId) -> PathBuf {
    dir.join(format!("{}-{}.json", relation.endpoint, relation.id))
}

impl RelationResult {
    /// The result of `relation` in `dir`, if it is of `generation`.
    pub fn load(dir: &Path, relation: &RelationId, generation: &str) -> Option<RelationResult> {
        std::fs::read(result_path(dir, relation))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<RelationResult>(&bytes).ok())
            .filter(|r| !generation.is_empty() && r.generation == generation)
    }

    /// Saves it for `relation` in `dir`, in place: a result written halfway does not parse
    /// (a JSON object is whole only with its last byte), and an unreadable result sends the
    /// next hook of its relation down the full path. A new file renamed over it would cost
    /// an inode per save, about a millisecond on ext4 here, a tenth of a moved target's hook.
    pub fn save(&self, dir: &Path, relation: &RelationId) -> std::io::Result<()> {
        std::fs::write(
            result_path(dir, relation),
            serde_json::to_vec(self).map_err(std::io::Error::other)?,
        )
    }
}

/// Makes `dir` hold exactly `results`: writes those that differ from what is there, removes
/// every other file. A failure is logged: a missing or stale result only sends a later hook
/// down the full path (a result counts only with a fingerprint that matches the manifest's).
pub fn save_results(dir: &Path, results: &BTreeMap<RelationId, RelationResult>) {
    if results.is_empty() && !dir.exists() {
        return;
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        tracing::warn!("cannot create {}: {e}", dir.display());
        return;
    }
    let wanted: BTreeMap<PathBuf, (&RelationId, &RelationResult)> = results
        .iter()
        .map(|(relation, result)| (result_path(dir, relation), (relation, result)))
        .collect();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if !wanted.contains_key(&path) {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    for (path, (relation, result)) in &wanted {
        let same = std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<RelationResult>(&bytes).ok())
            .is_some_and(|there| &there == *result);
        if !same {
            if let Err(e) = result.save(dir, relation) {
                tracing::warn!("cannot save {}: {e}", path.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The basis of `generation` with its names, as the jobs shortcut reads them.
    fn load_basis(book: &TargetsBook, generation: &str) -> Option<JobsBasis> {
        let names = book.load_names(generation)?;
        Some(JobsBasis {
            names,
            ..book.load_basis_without_names(generation)?
        })
    }

    #[test]
    fn a_record_of_another_generation_or_unreadable_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = record_path(dir.path());
        let record = FilesRecord {
            generation: "g1".into(),
            files: BTreeMap::from([("a.json".into(), identity(b"[]\n"))]),
        };
        assert_eq!(FilesRecord::load(&path, "g1"), None, "no record yet");
        record.save(&path);
        assert_eq!(FilesRecord::load(&path, "g1"), Some((record, false)));
        assert_eq!(FilesRecord::load(&path, "g2"), None);
        assert_eq!(FilesRecord::load(&path, ""), None);
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(FilesRecord::load(&path, "g1"), None);
    }

    #[test]
    fn an_identity_carries_the_length_it_was_made_from() {
        let id = identity(b"[{\"targets\":[]}]\n");
        assert_eq!(identity_len(&id), Some(17));
        assert_ne!(id, identity(b"[{\"targets\":[1]}]\n"));
        assert_eq!(identity_len(&identity(b"")), Some(0));
        assert_eq!(identity_len("0123456789abcdef"), None, "an older identity");
    }

    #[test]
    fn a_listing_matches_the_record_only_with_the_same_files_at_their_lengths() {
        let record = FilesRecord {
            generation: "g".into(),
            files: BTreeMap::from([
                ("a.json".into(), identity(b"[]\n")),
                ("b.json".into(), identity(b"[1]\n")),
            ]),
        };
        let listed = |files: &[(&str, u64)]| -> BTreeMap<String, u64> {
            files.iter().map(|(n, s)| (n.to_string(), *s)).collect()
        };
        assert!(record.matches_listing(&listed(&[("a.json", 3), ("b.json", 4)])));
        assert!(
            !record.matches_listing(&listed(&[("a.json", 3)])),
            "removed"
        );
        assert!(
            !record.matches_listing(&listed(&[("a.json", 3), ("b.json", 3)])),
            "resized"
        );
        assert!(
            !record.matches_listing(&listed(&[("a.json", 3), ("b.json", 4), ("c.json", 3)])),
            "added"
        );
        assert!(
            !record.matches_listing(&listed(&[("a.json", 3), ("c.json", 4)])),
            "another name"
        );
        let older = FilesRecord {
            generation: "g".into(),
            files: BTreeMap::from([("a.json".into(), "0123456789abcdef".into())]),
        };
        assert!(!older.matches_listing(&listed(&[("a.json", 3)])));
        assert!(FilesRecord::default().matches_listing(&BTreeMap::new()));
    }

    #[test]
    fn the_journal_overrides_the_record_until_saved_into_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = record_path(dir.path());
        let mut record = FilesRecord {
            generation: "g1".into(),
            files: BTreeMap::from([("a.json".into(), "1".into()), ("b.json".into(), "2".into())]),
        };
        record.save(&path);
        FilesRecord::append(
            &path,
            "g1",
            &BTreeMap::from([("a.json".into(), "3".into())]),
        )
        .unwrap();
        FilesRecord::append(
            &path,
            "g0",
            &BTreeMap::from([("b.json".into(), "9".into())]),
        )
        .unwrap();
        let (loaded, journal) = FilesRecord::load(&path, "g1").unwrap();
        assert!(journal);
        record.files.insert("a.json".into(), "3".into());
        assert_eq!(
            loaded, record,
            "the journal line of another generation is ignored"
        );
        loaded.save(&path);
        assert!(!dir.path().join(TARGETS_JOURNAL_FILE).exists());
        assert_eq!(FilesRecord::load(&path, "g1"), Some((record, false)));
    }

    #[test]
    fn results_are_kept_per_relation_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let results = results_dir(dir.path());
        let one = RelationId::new("metrics-endpoint", 1);
        let two = RelationId::new("metrics-endpoint", 2);
        let result = RelationResult {
            generation: "g".into(),
            digest: "d".into(),
            shape: "s".into(),
            files: BTreeMap::from([("a.json".into(), "1".into())]),
            rest: "r".into(),
            jobs_file: None,
            jobs_identity: None,
        };
        save_results(
            &results,
            &BTreeMap::from([(one.clone(), result.clone()), (two.clone(), result.clone())]),
        );
        assert_eq!(
            RelationResult::load(&results, &two, "g"),
            Some(result.clone())
        );
        assert_eq!(RelationResult::load(&results, &two, "h"), None);
        save_results(&results, &BTreeMap::from([(one.clone(), result.clone())]));
        assert_eq!(RelationResult::load(&results, &one, "g"), Some(result));
        assert_eq!(RelationResult::load(&results, &two, "g"), None, "pruned");
    }

    /// The apply marker is overwritten in place, one content over the other: absent, empty
    /// (as an earlier version cleared it) or complete is no apply in flight; begun, or anything
    /// else (a marker written halfway), is one.
    #[test]
    fn the_apply_marker_says_in_flight_unless_it_says_complete() {
        let dir = tempfile::tempdir().unwrap();
        let book = TargetsBook::in_charm_dir(dir.path());
        assert!(!book.apply_in_flight(), "no marker");
        book.begin_apply().unwrap();
        assert!(book.apply_in_flight());
        let inode =
            || std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&book.in_flight).unwrap());
        let first = inode();
        book.end_apply();
        assert!(!book.apply_in_flight());
        assert_eq!(std::fs::read(&book.in_flight).unwrap(), APPLY_COMPLETE);
        book.begin_apply().unwrap();
        assert!(book.apply_in_flight());
        assert_eq!(inode(), first, "the same file, overwritten");
        for (marker, in_flight) in [
            (&b""[..], false),
            (b"in flight\n", true),
            (b"comp flight\n", true),
            (b"complete", true),
        ] {
            std::fs::write(&book.in_flight, marker).unwrap();
            assert_eq!(book.apply_in_flight(), in_flight, "{marker:?}");
        }
        std::fs::write(&book.in_flight, b"").unwrap();
        book.begin_apply().unwrap();
        assert!(
            book.apply_in_flight(),
            "begun over an earlier version's cleared marker"
        );
    }

    /// The basis loads only for its generation, with the names saved beside it (the last
    /// ones saved, as a jobs-only apply saves them alone); a missing, foreign or torn names
    /// file makes it unknown.
    #[test]
    fn a_basis_loads_for_its_generation_with_the_names_saved_last() {
        let dir = tempfile::tempdir().unwrap();
        let book = TargetsBook::in_charm_dir(dir.path());
        let names = JobNames::default().with_relation(1, ["a", "b"].into_iter());
        let basis = JobsBasis {
            names: names.clone(),
            ..basis_of_3()
        };
        assert_eq!(load_basis(&book, "g"), None, "none saved");
        book.save_basis("g", Some(&basis));
        assert_eq!(load_basis(&book, "g"), Some(basis.clone()));
        assert_eq!(load_basis(&book, "h"), None, "another generation");
        assert_eq!(load_basis(&book, ""), None);

        let later = names.with_relation(2, ["c"].into_iter());
        book.save_names("g", &later).unwrap();
        assert_eq!(load_basis(&book, "g").unwrap().names, later);
        book.save_names("h", &later).unwrap();
        assert_eq!(load_basis(&book, "g"), None, "names of another generation");

        book.save_names("g", &later).unwrap();
        let bytes = std::fs::read(&book.names).unwrap();
        std::fs::write(&book.names, &bytes[..bytes.len() - 5]).unwrap();
        assert_eq!(load_basis(&book, "g"), None, "names cut short");
    }

    /// A jobs-only apply appends its relation's names to the journal; loading applies the
    /// journal's lines of the names saved last, in order, and a full apply's save makes the
    /// lines before it count for nothing, even if the journal could not be removed.
    #[test]
    fn the_names_journal_replaces_a_relations_names_until_the_next_save() {
        let dir = tempfile::tempdir().unwrap();
        let book = TargetsBook::in_charm_dir(dir.path());
        let names = JobNames::default()
            .with_relation(1, ["a", "b"].into_iter())
            .with_relation(2, ["c"].into_iter());
        let basis = JobsBasis {
            names: names.clone(),
            ..basis_of_3()
        };
        let keys = |names: &[&str]| JobNames::keys(names.iter().copied());
        assert!(
            book.append_names("g", 1, &keys(&["x"])).is_err(),
            "nothing saved to append to"
        );
        book.save_basis("g", Some(&basis));
        book.append_names("g", 1, &keys(&["x"])).unwrap();
        book.append_names("g", 2, &keys(&["y", "z"])).unwrap();
        book.append_names("g", 1, &keys(&["a", "w"])).unwrap();
        assert!(
            book.append_names("h", 1, &keys(&["v"])).is_err(),
            "another generation"
        );
        let expected = names
            .clone()
            .with_relation(1, ["a", "w"].into_iter())
            .with_relation(2, ["y", "z"].into_iter());
        assert_eq!(load_basis(&book, "g").unwrap().names, expected);

        // A journal that outlives the save of the names it was written under counts no more.
        let journal = std::fs::read(book.names_journal()).unwrap();
        book.save_names("g", &names).unwrap();
        assert!(!book.names_journal().exists());
        std::fs::write(book.names_journal(), &journal).unwrap();
        assert_eq!(load_basis(&book, "g").unwrap().names, names);

        // A line cut short makes the names unknown (the full path then).
        book.append_names("g", 2, &keys(&["q"])).unwrap();
        let journal = std::fs::read(book.names_journal()).unwrap();
        for cut in [1, 4, 18] {
            let mut journal = journal.clone();
            journal.truncate(journal.len() - cut);
            std::fs::write(book.names_journal(), &journal).unwrap();
            assert_eq!(load_basis(&book, "g"), None, "{cut} bytes cut");
        }
    }

    fn basis_of_3() -> JobsBasis {
        use crate::core::prometheus_config::ConfigInput;
        let topology = crate::core::model::Topology {
            model: "m".into(),
            model_uuid: "u".into(),
            application: "prometheus".into(),
            unit: "prometheus/0".into(),
            charm_name: "prometheus-rs-k8s".into(),
        };
        JobsBasis {
            context: ConfigInput::new(
                &crate::core::config::CharmConfig::default(),
                topology,
                crate::core::version::PrometheusVersion::new(3, 14, 0),
            )
            .jobs_context(),
            inline_renames: false,
            web_tls: None,
            reload_timeout: std::time::Duration::from_secs(7),
            names: JobNames::default(),
        }
    }

    #[test]
    fn a_basis_without_names_is_removed_by_an_apply_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let book = TargetsBook::in_charm_dir(dir.path());
        book.save_basis("g", Some(&basis_of_3()));
        assert!(load_basis(&book, "g").is_some());

        book.save_basis("g", None);
        assert_eq!(
            load_basis(&book, "g"),
            None,
            "an apply without a basis removes it"
        );
    }

    /// A result is saved in place: one cut short anywhere (a hook killed while writing it)
    /// must not load, so that its relation takes the full path.
    #[test]
    fn a_result_written_halfway_does_not_load() {
        let dir = tempfile::tempdir().unwrap();
        let relation = RelationId::new("metrics-endpoint", 3);
        let result = RelationResult {
            generation: "g".into(),
            digest: "d".repeat(64),
            shape: "s".repeat(64),
            files: BTreeMap::from([("a.json".into(), identity(b"[]\n"))]),
            rest: "r".repeat(64),
            jobs_file: Some("jobs-metrics-endpoint-3.yml".into()),
            jobs_identity: Some(identity(b"scrape_configs: []\n")),
        };
        result.save(dir.path(), &relation).unwrap();
        let path = result_path(dir.path(), &relation);
        let whole = std::fs::read(&path).unwrap();
        assert_eq!(
            RelationResult::load(dir.path(), &relation, "g"),
            Some(result)
        );
        for cut in 0..whole.len() {
            std::fs::write(&path, &whole[..cut]).unwrap();
            assert_eq!(
                RelationResult::load(dir.path(), &relation, "g"),
                None,
                "cut at {cut}"
            );
        }
    }
}

//! The state file's layout and its index, so that a hook tool that reads one relation parses
//! that relation and the small rest of the model, not every relation's databags.
//!
//! The state is written as one JSON object whose first member is `"relations"`, each relation
//! encoded on its own; the rest of the model follows. `<state>.idx` records where each
//! relation and the rest start and end, and the size and modification time of the file it
//! describes, so an index left by another writer is never trusted.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::records::Relation;
use super::state::ModelState;

/// Which file an index describes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Stamp {
    len: u64,
    modified_ns: u128,
}

impl Stamp {
    pub(super) fn of(path: &Path) -> std::io::Result<Self> {
        let meta = std::fs::metadata(path)?;
        let modified_ns = meta
            .modified()?
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Ok(Self {
            len: meta.len(),
            modified_ns,
        })
    }
}

/// Where each part of a state file is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Index {
    pub(super) stamp: Stamp,
    /// Relation number and byte range of each relation, in file order.
    relations: Vec<(u32, usize, usize)>,
    /// Byte offset of the rest of the model (the members after `"relations"`).
    rest: usize,
}

impl Index {
    pub(super) fn store(&self, path: &Path) -> std::io::Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp{}", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec(self)?)?;
        std::fs::rename(&tmp, path)
    }
}

/// `<state>.idx`.
pub(super) fn path_of(state: &Path) -> PathBuf {
    let mut path = state.as_os_str().to_owned();
    path.push(".idx");
    PathBuf::from(path)
}

/// The file's bytes and their index (stamp left to the caller, once the file is written).
pub(super) fn encode(state: &ModelState) -> serde_json::Result<(Vec<u8>, Index)> {
    let mut rest = serde_json::to_value(state)?;
    if let Some(map) = rest.as_object_mut() {
        map.remove("relations");
    }
    let rest = serde_json::to_vec(&rest)?;
    let mut out = Vec::with_capacity(rest.len() + state.relations.len() * 256);
    out.extend_from_slice(b"{\"relations\":[");
    let mut index = Index::default();
    for (i, relation) in state.relations.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let start = out.len();
        serde_json::to_writer(&mut out, relation)?;
        index.relations.push((relation.id, start, out.len()));
    }
    out.push(b']');
    // `rest` is an object: `{...}`; its members follow the relations'.
    if rest.len() > 2 {
        out.push(b',');
    }
    index.rest = out.len();
    out.extend_from_slice(&rest[1..]);
    Ok((out, index))
}

/// The state with only the relations numbered in `wanted`, when the index describes the file
/// as it is; `None` otherwise (the caller reads the whole state).
pub(super) fn read_partial(state: &Path, wanted: &BTreeSet<u32>) -> Option<ModelState> {
    let index: Index = serde_json::from_slice(&std::fs::read(path_of(state)).ok()?).ok()?;
    let bytes = std::fs::read(state).ok()?;
    if Stamp::of(state).ok()? != index.stamp || bytes.len() as u64 != index.stamp.len {
        return None;
    }
    let mut rest = Vec::with_capacity(bytes.len() - index.rest + 1);
    rest.push(b'{');
    rest.extend_from_slice(bytes.get(index.rest..)?);
    let mut model: Value = serde_json::from_slice(&rest).ok()?;
    model.as_object_mut()?.remove("relations");
    let mut model: ModelState = serde_json::from_value(model).ok()?;
    for &(id, start, end) in &index.relations {
        if wanted.contains(&id) {
            let relation: Relation = serde_json::from_slice(bytes.get(start..end)?).ok()?;
            model.relations.push(relation);
        }
    }
    Some(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::juju::StateFile;
    use juju_hook::RelationData;

    #[test]
    fn a_partial_read_is_the_whole_state_restricted_to_the_wanted_relations() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = ModelState::new("p", 0);
        state.set_leader(true);
        let mut ids = Vec::new();
        for app in ["a", "b", "c"] {
            let id = state.add_relation("metrics-endpoint", app);
            let unit = format!("{app}/0");
            state.set_remote_unit_data(
                &id,
                &unit,
                &RelationData::from([("k".to_string(), app.to_string())]),
            );
            ids.push(id);
        }
        let file = StateFile::create(dir.path().join("model.json"), &state).unwrap();
        assert_eq!(file.load().unwrap(), state, "the layout round-trips");

        let wanted = BTreeSet::from([ids[1].id]);
        let partial = read_partial(file.path(), &wanted).expect("index is current");
        let mut expected = state.clone();
        expected.relations.retain(|r| r.id == ids[1].id);
        assert_eq!(partial, expected);

        // A file replaced behind the index's back is never read through it.
        std::fs::write(file.path(), serde_json::to_vec_pretty(&state).unwrap()).unwrap();
        assert!(read_partial(file.path(), &wanted).is_none());
        assert_eq!(file.load().unwrap(), state);
    }
}

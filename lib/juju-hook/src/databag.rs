//! The relation databag: string keys to string values, sorted by key.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Deref, DerefMut, Index};

use litemap::LiteMap;
use serde::{Deserialize, Serialize};

/// A relation databag: Juju relation data values are always strings.
///
/// Held as one sorted vector: a databag has a handful of keys, and a model of thousands of
/// units holds thousands of them at once, where a B-tree node per bag (sized for eleven
/// entries) cost several times the memory. Reads and iteration are a `BTreeMap`'s (sorted
/// keys, the same JSON); [`Deref`] gives the map's methods.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RelationData(LiteMap<String, String>);

impl RelationData {
    /// An empty databag.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether it holds no key (a path serde's `skip_serializing_if` can name).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for RelationData {
    /// As a `BTreeMap` prints: `{"key": "value"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

impl Deref for RelationData {
    type Target = LiteMap<String, String>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for RelationData {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Index<&str> for RelationData {
    type Output = String;

    /// The value of `key`; panics when the key is absent, as a `BTreeMap` does.
    fn index(&self, key: &str) -> &String {
        match self.0.get(key) {
            Some(value) => value,
            None => panic!("no key {key:?} in the databag"),
        }
    }
}

impl<const N: usize> From<[(String, String); N]> for RelationData {
    fn from(entries: [(String, String); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl From<BTreeMap<String, String>> for RelationData {
    fn from(map: BTreeMap<String, String>) -> Self {
        // Already sorted: each entry is appended.
        Self(map.into_iter().collect())
    }
}

impl From<RelationData> for BTreeMap<String, String> {
    fn from(data: RelationData) -> Self {
        data.0.into_iter().collect()
    }
}

impl FromIterator<(String, String)> for RelationData {
    /// Later entries win over earlier ones with the same key, as in a `BTreeMap`.
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        let mut map = LiteMap::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        Self(map)
    }
}

impl Extend<(String, String)> for RelationData {
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.0.insert(k, v);
        }
    }
}

impl IntoIterator for RelationData {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_tuple_vec().into_iter()
    }
}

/// Borrowed entries in key order.
type Entries<'a> = std::iter::Map<
    std::slice::Iter<'a, (String, String)>,
    fn(&'a (String, String)) -> (&'a String, &'a String),
>;

impl<'a> IntoIterator for &'a RelationData {
    type Item = (&'a String, &'a String);
    type IntoIter = Entries<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.as_slice().iter().map(|(k, v)| (k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> String {
        v.to_owned()
    }

    #[test]
    fn reads_and_writes_like_a_btreemap() {
        let entries = [(s("b"), s("2")), (s("a"), s("1")), (s("b"), s("3"))];
        let bag: RelationData = entries.clone().into_iter().collect();
        let tree: BTreeMap<String, String> = entries.into_iter().collect();
        assert_eq!(BTreeMap::from(bag.clone()), tree);
        assert_eq!(RelationData::from(tree.clone()), bag);
        assert_eq!(bag["b"], "3");
        assert_eq!(format!("{bag:?}"), format!("{tree:?}"));
        assert_eq!(format!("{bag:#?}"), format!("{tree:#?}"));
        assert_eq!(bag.get("a").map(String::as_str), Some("1"));
        let keys: Vec<&String> = (&bag).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(
            serde_json::to_string(&bag).unwrap(),
            serde_json::to_string(&tree).unwrap()
        );
        let read: RelationData = serde_json::from_str(r#"{"z":"1","a":"2","z":"3"}"#).unwrap();
        assert_eq!(
            read,
            RelationData::from([(s("a"), s("2")), (s("z"), s("3"))])
        );
        let mut grown = RelationData::new();
        grown.extend([(s("y"), s("1")), (s("x"), s("2")), (s("y"), s("4"))]);
        assert_eq!(
            grown.into_iter().collect::<Vec<_>>(),
            [(s("x"), s("2")), (s("y"), s("4"))]
        );
    }

    #[test]
    #[should_panic(expected = "no key \"missing\"")]
    fn indexing_a_missing_key_panics_with_its_name() {
        let _ = &RelationData::new()["missing"];
    }
}

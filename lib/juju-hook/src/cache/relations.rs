//! The index's relations as a hook holds them: each as loaded (its JSON text, parsed only when
//! the hook uses more than its memo) or parsed. Every hook looks at every relation's memo, but
//! reads or changes only a few relations: at thousands of relations, parsing each into
//! [`CachedRelation`] and serialising it again was a third of a relation hook's own work. A
//! relation left as loaded is written back as the same text.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use tracing::warn;

use super::CachedRelation;

/// One relation of the index.
#[derive(Debug)]
pub(super) enum Slot {
    /// As loaded: the JSON of a [`CachedRelation`] (without databags), not yet parsed.
    Raw(Box<RawValue>),
    /// Parsed (or new in this hook).
    Parsed(CachedRelation),
}

impl Serialize for Slot {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Slot::Raw(raw) => raw.serialize(serializer),
            Slot::Parsed(rel) => rel.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Slot {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(Slot::Raw)
    }
}

/// Only the memo of a relation's JSON (the rest is skipped, not built).
#[derive(Deserialize)]
struct MemoOnly {
    #[serde(default)]
    memo: Option<String>,
}

/// Relations by id as Juju prints it (`metrics-endpoint:3`), parsed on first use.
#[derive(Debug, Default)]
pub(super) struct Relations {
    slots: BTreeMap<String, Slot>,
    /// Relations whose loaded JSON did not parse: dropped from the index (so asked from Juju),
    /// their bags files to be removed.
    unreadable: Vec<String>,
}

impl Relations {
    /// The relations as loaded from an index.
    pub(super) fn loaded(slots: BTreeMap<String, Slot>) -> Self {
        Self {
            slots,
            unreadable: Vec::new(),
        }
    }

    /// The relation `key`, parsed now if it was not yet; `None` if absent or unreadable (then
    /// dropped, see [`take_unreadable`](Self::take_unreadable)).
    pub(super) fn get_mut(&mut self, key: &str) -> Option<&mut CachedRelation> {
        let parsed = match self.slots.get(key)? {
            Slot::Raw(raw) => Some(serde_json::from_str::<CachedRelation>(raw.get())),
            Slot::Parsed(_) => None,
        };
        match parsed {
            Some(Ok(rel)) => {
                if let Some(slot) = self.slots.get_mut(key) {
                    *slot = Slot::Parsed(rel);
                }
            }
            Some(Err(e)) => {
                warn!("ignoring the cached relation {key}: {e}");
                self.slots.remove(key);
                self.unreadable.push(key.to_owned());
                return None;
            }
            None => {}
        }
        match self.slots.get_mut(key)? {
            Slot::Parsed(rel) => Some(rel),
            Slot::Raw(_) => unreachable!("parsed above"),
        }
    }

    /// The memo of relation `key`, without parsing the rest of a relation as loaded. An
    /// unreadable one has none: the hook then reads the relation, which drops it.
    pub(super) fn memo(&self, key: &str) -> Option<String> {
        match self.slots.get(key)? {
            Slot::Parsed(rel) => rel.memo.clone(),
            Slot::Raw(raw) => serde_json::from_str::<MemoOnly>(raw.get()).ok()?.memo,
        }
    }

    /// The relation `key`, a new empty one if absent.
    pub(super) fn get_or_default(&mut self, key: String) -> &mut CachedRelation {
        if self.get_mut(&key).is_none() {
            let slot = Slot::Parsed(CachedRelation::default());
            self.slots.insert(key.clone(), slot);
        }
        self.get_mut(&key).expect("present and parsed")
    }

    /// Whether relation `key` is in the index.
    pub(super) fn contains_key(&self, key: &str) -> bool {
        self.slots.contains_key(key)
    }

    /// Drops relation `key`.
    pub(super) fn remove(&mut self, key: &str) {
        self.slots.remove(key);
    }

    /// Drops every relation.
    pub(super) fn clear(&mut self) {
        self.slots.clear();
    }

    /// The relations' ids, in order.
    pub(super) fn keys(&self) -> impl DoubleEndedIterator<Item = &String> {
        self.slots.keys()
    }

    /// The ids after `after`, in order.
    pub(super) fn keys_after(&self, after: &String) -> impl Iterator<Item = &String> {
        self.slots
            .range::<String, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
            .map(|(k, _)| k)
    }

    /// The relations dropped as unreadable since the last call.
    pub(super) fn take_unreadable(&mut self) -> Vec<String> {
        std::mem::take(&mut self.unreadable)
    }

    /// Every relation, parsed (those that do not parse are dropped).
    pub(super) fn into_parsed(mut self) -> BTreeMap<String, CachedRelation> {
        let keys: Vec<String> = self.slots.keys().cloned().collect();
        for key in &keys {
            self.get_mut(key);
        }
        self.slots
            .into_iter()
            .filter_map(|(k, slot)| match slot {
                Slot::Parsed(rel) => Some((k, rel)),
                Slot::Raw(_) => None,
            })
            .collect()
    }

    /// The slots, as the index holds them.
    pub(super) fn slots_mut(&mut self) -> &mut BTreeMap<String, Slot> {
        &mut self.slots
    }

    /// The slots, to be written as the index.
    pub(super) fn into_slots(self) -> BTreeMap<String, Slot> {
        self.slots
    }
}

/// Deserializes a JSON object into a map built in one pass: the index writes its relations in
/// key order, and a map built from sorted entries costs a comparison per entry, where inserting
/// them one by one cost a search each (at 2,000 relations, a fifth of loading the index).
/// Keys out of order or repeated are still handled (sorted, the last one kept), as an insert
/// would.
pub(super) fn sorted_map<'de, D, V>(deserializer: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Entries<V>(PhantomData<V>);

    impl<'de, V: Deserialize<'de>> Visitor<'de> for Entries<V> {
        type Value = BTreeMap<String, V>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
            while let Some(entry) = map.next_entry::<String, V>()? {
                entries.push(entry);
            }
            Ok(entries.into_iter().collect())
        }
    }

    deserializer.deserialize_map(Entries(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        #[serde(deserialize_with = "sorted_map")]
        map: BTreeMap<String, u32>,
    }

    fn map_of(json: &str) -> BTreeMap<String, u32> {
        serde_json::from_str::<Holder>(json).unwrap().map
    }

    #[test]
    fn a_sorted_map_holds_what_inserting_each_entry_in_turn_gives() {
        let cases: [(&str, &[(&str, u32)]); 4] = [
            (r#"{"map": {}}"#, &[]),
            (
                r#"{"map": {"a:1": 1, "a:10": 2, "a:2": 3}}"#,
                &[("a:1", 1), ("a:10", 2), ("a:2", 3)],
            ),
            (
                r#"{"map": {"b": 1, "a": 2, "c": 3}}"#,
                &[("b", 1), ("a", 2), ("c", 3)],
            ),
            (
                r#"{"map": {"a": 1, "b": 2, "a": 3}}"#,
                &[("a", 1), ("b", 2), ("a", 3)],
            ),
        ];
        for (json, entries) in cases {
            let mut inserted = BTreeMap::new();
            for (k, v) in entries {
                inserted.insert(k.to_string(), *v);
            }
            assert_eq!(map_of(json), inserted, "{json}");
        }
    }
}

//! The index's relations as a hook holds them: each as loaded (its line of the index, parsed
//! only when the hook uses more than its memo) or parsed. Every hook looks at every relation's
//! memo, but reads or changes only a few relations: at thousands of relations, parsing each
//! into [`CachedRelation`] and serialising it again was a third of a relation hook's own work.
//! A relation left as loaded is written back as the same line.
//!
//! # The index's layout
//!
//! The index is a line of JSON (the [`CacheFile`](super::CacheFile) with its relations left
//! out), then one line per relation, in key order:
//!
//! ```text
//! <relation id as Juju prints it> TAB <memo, or nothing> TAB <its CachedRelation as JSON, without memo or databags>
//! ```
//!
//! Loading splits the lines and keeps where each relation's memo and JSON are in the bytes
//! read: a hook reads a relation's memo as it stands and parses the JSON of the relations it
//! uses only, where a JSON index was scanned whole (every entry validated and copied, then
//! parsed again for its memo). Compact JSON holds no tab or newline, and neither does a
//! relation id; a memo that does would break the line, so it is not kept (the relation is then
//! read again, as for any relation without a memo).

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use tracing::warn;

use super::CachedRelation;

/// One relation of the index.
#[derive(Debug)]
pub(super) enum Slot {
    /// As loaded: where its line is in the loaded index, not yet parsed.
    Raw(Line),
    /// Parsed (or new in this hook).
    Parsed(CachedRelation),
}

/// Where a relation's line and its parts are in the loaded index.
#[derive(Debug, Clone)]
pub(super) struct Line {
    /// The whole line, without its newline.
    whole: Range<usize>,
    /// The memo (empty: none).
    memo: Range<usize>,
    /// The relation's JSON.
    json: Range<usize>,
}

/// Relations by id as Juju prints it (`metrics-endpoint:3`), parsed on first use.
#[derive(Debug, Default)]
pub(super) struct Relations {
    /// Sorted by id, each id once: loaded as the index lists them (in order), where building a
    /// map of thousands of relations was a tenth of loading the index; a hook adds or drops a
    /// few.
    slots: Vec<(String, Slot)>,
    /// The index the [`Slot::Raw`] lines are in.
    source: Arc<Vec<u8>>,
    /// Relations whose loaded JSON did not parse: dropped from the index (so asked from Juju),
    /// their bags files to be removed.
    unreadable: Vec<String>,
}

impl Relations {
    /// The relations of an index `source` whose relation lines start at `start` (see the
    /// module docs); an error names the first line that is not one.
    pub(super) fn loaded(source: Arc<Vec<u8>>, start: usize) -> Result<Self, String> {
        let rest = source.get(start..).unwrap_or_default();
        let mut entries = Vec::with_capacity(memchr::memchr_iter(b'\n', rest).count());
        let mut at = start;
        while at < source.len() {
            let end = memchr::memchr(b'\n', &source[at..]).map_or(source.len(), |n| at + n);
            let line = &source[at..end];
            let mut tabs = memchr::memchr_iter(b'\t', line);
            let (Some(key_end), Some(memo_end)) = (tabs.next(), tabs.next()) else {
                return Err(format!("line {} is not a relation", entries.len() + 2));
            };
            let key = std::str::from_utf8(&line[..key_end])
                .map_err(|_| format!("line {}: the relation id is not text", entries.len() + 2))?;
            let slot = Slot::Raw(Line {
                whole: at..end,
                memo: at + key_end + 1..at + memo_end,
                json: at + memo_end + 1..end,
            });
            entries.push((key.to_owned(), slot));
            at = end + 1;
        }
        // Written in order; an index edited out of order, or with an id twice, still loads
        // (the last line of an id counts).
        if !entries.is_sorted_by(|a, b| a.0 < b.0) {
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            entries.dedup_by(|later, kept| {
                let same = later.0 == kept.0;
                if same {
                    std::mem::swap(later, kept);
                }
                same
            });
        }
        Ok(Self {
            slots: entries,
            source,
            unreadable: Vec::new(),
        })
    }

    /// The relations of a whole index as [`CacheFile`](super::CacheFile) holds them.
    pub(super) fn from_parsed(relations: BTreeMap<String, CachedRelation>) -> Self {
        Self {
            slots: relations
                .into_iter()
                .map(|(k, rel)| (k, Slot::Parsed(rel)))
                .collect(),
            ..Self::default()
        }
    }

    /// The relation `key`, parsed now if it was not yet; `None` if absent or unreadable (then
    /// dropped, see [`take_unreadable`](Self::take_unreadable)).
    pub(super) fn get_mut(&mut self, key: &str) -> Option<&mut CachedRelation> {
        let at = self.find(key).ok()?;
        if let Slot::Raw(line) = &self.slots[at].1 {
            match self.parse(line) {
                Ok(rel) => self.slots[at].1 = Slot::Parsed(rel),
                Err(e) => {
                    warn!("ignoring the cached relation {key}: {e}");
                    self.slots.remove(at);
                    self.unreadable.push(key.to_owned());
                    return None;
                }
            }
        }
        match &mut self.slots[at].1 {
            Slot::Parsed(rel) => Some(rel),
            Slot::Raw(_) => unreachable!("parsed above"),
        }
    }

    /// Where relation `key` is, or would go.
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.slots.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// A loaded line as a relation.
    fn parse(&self, line: &Line) -> Result<CachedRelation, String> {
        let mut rel: CachedRelation =
            serde_json::from_slice(&self.source[line.json.clone()]).map_err(|e| e.to_string())?;
        rel.memo = self.memo_of(line);
        Ok(rel)
    }

    fn memo_of(&self, line: &Line) -> Option<String> {
        let memo = std::str::from_utf8(&self.source[line.memo.clone()]).ok()?;
        (!memo.is_empty()).then(|| memo.to_owned())
    }

    /// The memo of relation `key`, without parsing the rest of a relation as loaded.
    pub(super) fn memo(&self, key: &str) -> Option<String> {
        match &self.slots[self.find(key).ok()?].1 {
            Slot::Parsed(rel) => rel.memo.clone(),
            Slot::Raw(line) => self.memo_of(line),
        }
    }

    /// The relation `key`, a new empty one if absent.
    pub(super) fn get_or_default(&mut self, key: String) -> &mut CachedRelation {
        if self.get_mut(&key).is_none() {
            let at = self.find(&key).unwrap_err();
            let slot = Slot::Parsed(CachedRelation::default());
            self.slots.insert(at, (key.clone(), slot));
        }
        self.get_mut(&key).expect("present and parsed")
    }

    /// Whether relation `key` is in the index.
    pub(super) fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Drops relation `key`.
    pub(super) fn remove(&mut self, key: &str) {
        if let Ok(at) = self.find(key) {
            self.slots.remove(at);
        }
    }

    /// Drops every relation.
    pub(super) fn clear(&mut self) {
        self.slots.clear();
    }

    /// The relations' ids, in order.
    pub(super) fn keys(&self) -> impl DoubleEndedIterator<Item = &String> {
        self.slots.iter().map(|(k, _)| k)
    }

    /// The ids after `after`, in order.
    pub(super) fn keys_after(&self, after: &String) -> impl Iterator<Item = &String> {
        let start = self.slots.partition_point(|(k, _)| k <= after);
        self.slots[start..].iter().map(|(k, _)| k)
    }

    /// The relations dropped as unreadable since the last call.
    pub(super) fn take_unreadable(&mut self) -> Vec<String> {
        std::mem::take(&mut self.unreadable)
    }

    /// Every relation, parsed (those that do not parse are dropped).
    pub(super) fn into_parsed(mut self) -> BTreeMap<String, CachedRelation> {
        let keys: Vec<String> = self.keys().cloned().collect();
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

    /// The slots, as the index holds them, in order.
    pub(super) fn slots_mut(&mut self) -> impl Iterator<Item = (&String, &mut Slot)> {
        self.slots.iter_mut().map(|(k, slot)| (&*k, slot))
    }

    /// Appends the relations' lines to `out` (see the module docs): a relation as loaded as
    /// the line read, a parsed one serialised without its memo, which goes in its column. A
    /// relation whose id holds a tab or a newline is left out (read from Juju next time), as is
    /// a memo that does.
    pub(super) fn write_lines(self, out: &mut Vec<u8>) {
        for (key, slot) in self.slots {
            if key.bytes().any(|b| b == b'\t' || b == b'\n') {
                continue;
            }
            match slot {
                Slot::Raw(line) => out.extend_from_slice(&self.source[line.whole]),
                Slot::Parsed(mut rel) => {
                    let memo = rel
                        .memo
                        .take()
                        .filter(|m| !m.bytes().any(|b| b == b'\t' || b == b'\n'));
                    out.extend_from_slice(key.as_bytes());
                    out.push(b'\t');
                    out.extend_from_slice(memo.unwrap_or_default().as_bytes());
                    out.push(b'\t');
                    serde_json::to_writer(&mut *out, &rel).expect("a relation serialises");
                }
            }
            out.push(b'\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relation(units: &[&str], memo: Option<&str>) -> CachedRelation {
        CachedRelation {
            units: Some(units.iter().map(|u| u.to_string()).collect()),
            remote_app: Some("app".into()),
            memo: memo.map(str::to_owned),
            ..CachedRelation::default()
        }
    }

    fn lines_of(relations: Relations) -> Vec<u8> {
        let mut out = Vec::new();
        relations.write_lines(&mut out);
        out
    }

    #[test]
    fn lines_read_back_as_the_relations_written_and_unused_ones_as_the_same_bytes() {
        let written = BTreeMap::from([
            ("ep:1".to_owned(), relation(&["app/0"], Some("d1"))),
            ("ep:10".to_owned(), relation(&["app/0", "app/1"], None)),
            ("ep:2".to_owned(), relation(&[], Some("d2"))),
        ]);
        let bytes = lines_of(Relations::from_parsed(written.clone()));
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.starts_with("ep:1\td1\t{"), "{text}");

        let source: Arc<Vec<u8>> = bytes.clone().into();
        let loaded = Relations::loaded(source.clone(), 0).unwrap();
        assert_eq!(loaded.memo("ep:1").as_deref(), Some("d1"));
        assert_eq!(loaded.memo("ep:10"), None);
        assert_eq!(lines_of(loaded), bytes, "untouched: the bytes read");
        assert_eq!(Relations::loaded(source, 0).unwrap().into_parsed(), written);
    }

    #[test]
    fn a_memo_or_id_that_would_break_its_line_is_not_kept() {
        let written = BTreeMap::from([
            ("ep:1".to_owned(), relation(&["app/0"], Some("a\tb"))),
            ("ep:2".to_owned(), relation(&["app/0"], Some("a\nb"))),
            ("ep\n:3".to_owned(), relation(&["app/0"], Some("d3"))),
        ]);
        let bytes = lines_of(Relations::from_parsed(written));
        let read = Relations::loaded(bytes.into(), 0).unwrap().into_parsed();
        assert_eq!(
            read,
            BTreeMap::from([
                ("ep:1".to_owned(), relation(&["app/0"], None)),
                ("ep:2".to_owned(), relation(&["app/0"], None)),
            ])
        );
    }

    #[test]
    fn lines_out_of_order_or_repeated_load_sorted_with_the_last_line_of_an_id() {
        let source = b"ep:2\tb\t{}\nep:1\ta\t{}\nep:2\tc\t{}\nep:10\td\t{}\n".to_vec();
        let loaded = Relations::loaded(source.into(), 0).unwrap();
        let keys: Vec<&String> = loaded.keys().collect();
        assert_eq!(keys, ["ep:1", "ep:10", "ep:2"]);
        assert_eq!(loaded.memo("ep:2").as_deref(), Some("c"));
        let after: Vec<&String> = loaded.keys_after(&"ep:1".to_owned()).collect();
        assert_eq!(after, ["ep:10", "ep:2"]);
    }

    #[test]
    fn a_line_without_its_columns_makes_the_index_unreadable_and_bad_json_only_its_relation() {
        let err = Relations::loaded(b"ep:1\tmemo-only\n".to_vec().into(), 0).unwrap_err();
        assert!(err.contains("line 2"), "{err}");

        let source = b"ep:1\t\t{\"units\": 5}\nep:2\td\t{}\n".to_vec();
        let mut loaded = Relations::loaded(source.into(), 0).unwrap();
        assert!(loaded.get_mut("ep:1").is_none());
        assert_eq!(loaded.take_unreadable(), vec!["ep:1".to_owned()]);
        assert_eq!(loaded.get_mut("ep:2").unwrap().memo.as_deref(), Some("d"));
    }
}

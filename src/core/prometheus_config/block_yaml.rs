//! A fast writer of the block YAML that `serde_yaml_ng` writes for a `serde_json::Value`, byte
//! for byte, for the values prometheus.yml is made of. It walks any [`Tree`]: a JSON value, or
//! a relation job in its compact form (written as its JSON value would be, never built).
//!
//! `serde_yaml_ng` goes through libyaml's emitter, which costs about 15 µs per scrape job:
//! 150 ms for 10,000 jobs. The layout of block YAML is simple (two spaces per level, a
//! sequence inside a mapping not indented, `{}` and `[]` for empty collections); what is not
//! simple is how a string scalar is written (plain, single- or double-quoted, folded at
//! spaces past column 80, literal when multi-line). So this writer handles the layout itself
//! and each scalar as follows:
//!
//! * a string that is obviously plain (see [`obviously_plain`]) is written as it is;
//! * any other string without whitespace or control characters is written as `serde_yaml_ng`
//!   writes it alone (its style does not depend on where it stands: libyaml folds scalars only
//!   at spaces, and chooses a style for a block-context value by the same analysis at the
//!   root as in a mapping or sequence);
//! * anything else (a string with a space, a line break or a control character, a key that
//!   could not be a simple key) makes [`to_block_yaml`] return `None`, and the caller uses
//!   `serde_yaml_ng` for the whole document.
//!
//! Tests compare it with `serde_yaml_ng` on tricky values and on whole configurations.

use std::collections::HashMap;
use std::fmt::Write as _;

use charm_interfaces::scrape::{JobNode, JobValue};
use serde_json::{Number, Value};

/// `value` as `serde_yaml_ng::to_string` writes it, or `None` when it holds a scalar this
/// writer leaves to `serde_yaml_ng` (see the module docs).
pub fn to_block_yaml(value: &Value) -> Option<String> {
    let mut w = Writer {
        out: String::with_capacity(1 << 16),
        memo: HashMap::new(),
    };
    match value.node() {
        Node::Map(map) if !map.is_empty() => w.map(map, 0, false)?,
        Node::Seq(seq) if !seq.is_empty() => w.seq(seq, 0, false)?,
        other => {
            w.inline(other, false)?;
            w.out.push('\n');
        }
    }
    Some(w.out)
}

/// A tree the writer walks: a `serde_json::Value`, or a relation job kept in its compact form
/// ([`JobValue`]), which is written without being turned into a `serde_json::Value` first.
pub trait Tree<'a>: Copy + 'a {
    /// What this value is; a mapping's entries sorted by key.
    fn node(self) -> Node<'a, Self>;
}

/// One value of a [`Tree`].
pub enum Node<'a, T> {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(&'a Number),
    /// A string.
    Str(&'a str),
    /// A sequence.
    Seq(Vec<T>),
    /// A mapping, sorted by key.
    Map(Vec<(&'a str, T)>),
}

impl<'a> Tree<'a> for &'a Value {
    fn node(self) -> Node<'a, Self> {
        match self {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(*b),
            Value::Number(n) => Node::Number(n),
            Value::String(s) => Node::Str(s),
            Value::Array(a) => Node::Seq(a.iter().collect()),
            Value::Object(m) => Node::Map(m.iter().map(|(k, v)| (k.as_str(), v)).collect()),
        }
    }
}

impl<'a> Tree<'a> for JobValue<'a> {
    fn node(self) -> Node<'a, Self> {
        match JobValue::node(self) {
            JobNode::Null => Node::Null,
            JobNode::Bool(b) => Node::Bool(b),
            JobNode::Number(n) => Node::Number(n),
            JobNode::Str(s) => Node::Str(s),
            JobNode::Seq(items) => Node::Seq(items),
            JobNode::Map(entries) => Node::Map(entries),
        }
    }
}

/// A value of a relation job being written: from its compact form, or from the few keys the
/// charm set on it as JSON.
#[derive(Clone, Copy)]
pub enum Layered<'a> {
    /// From the compact job.
    Job(JobValue<'a>),
    /// Set by the charm.
    Json(&'a Value),
}

impl<'a> Tree<'a> for Layered<'a> {
    fn node(self) -> Node<'a, Self> {
        fn lift<'a, T: Tree<'a>>(
            node: Node<'a, T>,
            wrap: fn(T) -> Layered<'a>,
        ) -> Node<'a, Layered<'a>> {
            match node {
                Node::Null => Node::Null,
                Node::Bool(b) => Node::Bool(b),
                Node::Number(n) => Node::Number(n),
                Node::Str(s) => Node::Str(s),
                Node::Seq(items) => Node::Seq(items.into_iter().map(wrap).collect()),
                Node::Map(entries) => {
                    Node::Map(entries.into_iter().map(|(k, v)| (k, wrap(v))).collect())
                }
            }
        }
        match self {
            Layered::Job(v) => lift(Tree::node(v), Layered::Job),
            Layered::Json(v) => lift(Tree::node(v), Layered::Json),
        }
    }
}

/// Appends the entries of a block sequence at the root, or under a key of the root mapping
/// (which `serde_yaml_ng` does not indent): `- ` at column 0. It remembers across calls how
/// `serde_yaml_ng` writes the scalars it had to ask it for (the same few recur in every job).
#[derive(Debug, Default)]
pub struct RootSeq {
    memo: HashMap<String, String>,
}

impl RootSeq {
    /// Appends `items` to `out`; `None`, with `out` as it was, when an item holds a scalar
    /// this writer leaves to `serde_yaml_ng`.
    pub fn append<'a, T: Tree<'a>>(&mut self, items: &[T], out: &mut String) -> Option<()> {
        if items.is_empty() {
            return Some(());
        }
        let start = out.len();
        let mut w = Writer {
            out: std::mem::take(out),
            memo: std::mem::take(&mut self.memo),
        };
        let written = w.seq(items.to_vec(), 0, false);
        *out = w.out;
        self.memo = w.memo;
        if written.is_none() {
            out.truncate(start);
        }
        written
    }

    /// Appends one mapping as an entry of the sequence, its entries sorted by key.
    pub fn append_map<'a, T: Tree<'a>>(
        &mut self,
        entries: Vec<(&'a str, T)>,
        out: &mut String,
    ) -> Option<()> {
        let start = out.len();
        let mut w = Writer {
            out: std::mem::take(out),
            memo: std::mem::take(&mut self.memo),
        };
        w.out.push_str("- ");
        let written = if entries.is_empty() {
            w.out.push_str("{}\n");
            Some(())
        } else {
            w.map(entries, 2, true)
        };
        *out = w.out;
        self.memo = w.memo;
        if written.is_none() {
            out.truncate(start);
        }
        written
    }
}

struct Writer {
    out: String,
    /// Scalars written by `serde_yaml_ng`, by their text.
    memo: HashMap<String, String>,
}

/// Strings libyaml writes plain and `serde_yaml_ng` does not quote: ASCII letters, digits and
/// `_ . / : -`, no `:` at the end, starting with a letter, `_` or `/` (so never a number,
/// `.inf`, `-x` or a YAML indicator), or with a digit when a `:` or two `.` rule out a number
/// (`10.0.0.1:9100`); never a word YAML reads as a boolean or null.
fn obviously_plain(s: &str) -> bool {
    // Every byte of every key and value of a render goes through this test: one table lookup
    // a byte rather than five comparisons (the comparisons were 8 % of a full computation at
    // 2000x5 on one thread; BENCHMARKS.md, "Session 25").
    const PLAIN_BYTES: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            table[b] = c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'/' | b':' | b'-');
            b += 1;
        }
        table
    };
    let bytes = s.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if s.len() > 100 || last == b':' || !bytes.iter().all(|&b| PLAIN_BYTES[usize::from(b)]) {
        return false;
    }
    let starts_ok = first.is_ascii_alphabetic()
        || first == b'_'
        || first == b'/'
        || (first.is_ascii_digit()
            && (bytes.contains(&b':') || bytes.iter().filter(|&&b| b == b'.').count() >= 2));
    if !starts_ok {
        return false;
    }
    // Compared without allocating: this runs for every key and value of the file.
    const WORDS: [&str; 12] = [
        "true", "false", "yes", "no", "y", "n", "on", "off", "null", "nan", "inf", "infinity",
    ];
    s.len() > 8 || !WORDS.iter().any(|w| w.eq_ignore_ascii_case(s))
}

impl Writer {
    fn indent(&mut self, n: usize) {
        const SPACES: &str = "                                                                ";
        match SPACES.get(..n) {
            Some(spaces) => self.out.push_str(spaces),
            None => self.out.extend(std::iter::repeat_n(' ', n)),
        }
    }

    /// A scalar or empty collection on the current line (`key` = as a mapping key).
    fn inline<T>(&mut self, node: Node<'_, T>, key: bool) -> Option<()> {
        match node {
            Node::Null => self.out.push_str("null"),
            Node::Bool(b) => self.out.push_str(if b { "true" } else { "false" }),
            Node::Number(n) if n.is_i64() || n.is_u64() => {
                let _ = write!(self.out, "{n}");
            }
            Node::Number(n) => {
                let text = serde_yaml_ng::to_string(n).ok()?;
                self.out.push_str(single_line(&text)?);
            }
            Node::Str(s) => self.string(s, key)?,
            Node::Map(m) if m.is_empty() => self.out.push_str("{}"),
            Node::Seq(a) if a.is_empty() => self.out.push_str("[]"),
            _ => return None,
        }
        Some(())
    }

    fn string(&mut self, s: &str, key: bool) -> Option<()> {
        if obviously_plain(s) {
            self.out.push_str(s);
            return Some(());
        }
        if s.is_empty() {
            self.out.push_str("''");
            return Some(());
        }
        if (key && s.len() > 100) || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        if let Some(text) = self.memo.get(s) {
            self.out.push_str(text);
            return Some(());
        }
        let text = serde_yaml_ng::to_string(s).ok()?;
        let text = single_line(&text)?.to_owned();
        self.out.push_str(&text);
        self.memo.insert(s.to_owned(), text);
        Some(())
    }

    /// A non-empty mapping at `indent`; `inline_first`: its first key goes on the current
    /// line (after `- `).
    fn map<'a, T: Tree<'a>>(
        &mut self,
        map: Vec<(&'a str, T)>,
        indent: usize,
        inline_first: bool,
    ) -> Option<()> {
        for (i, (k, v)) in map.into_iter().enumerate() {
            if i > 0 || !inline_first {
                self.indent(indent);
            }
            self.string(k, true)?;
            self.out.push(':');
            match v.node() {
                Node::Map(m) if !m.is_empty() => {
                    self.out.push('\n');
                    self.map(m, indent + 2, false)?;
                }
                Node::Seq(a) if !a.is_empty() => {
                    self.out.push('\n');
                    self.seq(a, indent, false)?;
                }
                other => {
                    self.out.push(' ');
                    self.inline(other, false)?;
                    self.out.push('\n');
                }
            }
        }
        Some(())
    }

    /// A non-empty sequence at `indent`; `inline_first`: its first `- ` goes on the current
    /// line.
    fn seq<'a, T: Tree<'a>>(
        &mut self,
        seq: Vec<T>,
        indent: usize,
        inline_first: bool,
    ) -> Option<()> {
        for (i, v) in seq.into_iter().enumerate() {
            if i > 0 || !inline_first {
                self.indent(indent);
            }
            self.out.push_str("- ");
            match v.node() {
                Node::Map(m) if !m.is_empty() => self.map(m, indent + 2, true)?,
                Node::Seq(a) if !a.is_empty() => self.seq(a, indent + 2, true)?,
                other => {
                    self.inline(other, false)?;
                    self.out.push('\n');
                }
            }
        }
        Some(())
    }
}

/// `text` (a lone scalar as `serde_yaml_ng` writes it) without its line break, when it is one
/// line and not a document marker.
fn single_line(text: &str) -> Option<&str> {
    let line = text.strip_suffix('\n')?;
    (!line.contains('\n') && !line.starts_with("---") && !line.starts_with("...")).then_some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn root_sequence_items_are_appended_as_serde_yaml_ng_writes_them_or_not_at_all() {
        let items = [
            json!({"job_name": "a", "params": {"m": ["x"]}}),
            json!({"b": [1, 2]}),
        ];
        let mut out = "head: 1\n".to_owned();
        let mut seq = RootSeq::default();
        seq.append(&items.iter().collect::<Vec<_>>(), &mut out)
            .expect("plain values");
        assert_eq!(
            out,
            format!("head: 1\n{}", serde_yaml_ng::to_string(&items).unwrap())
        );
        let spaced = [json!({"job_name": "two words"})];
        assert_eq!(seq.append(&[&spaced[0]], &mut out), None);
        assert!(out.ends_with("- b:\n  - 1\n  - 2\n"), "{out}");
        // A scalar written by serde_yaml_ng once is remembered for the next items.
        let asked = [json!({"regex": "(.*)"})];
        seq.append(&[&asked[0]], &mut out)
            .expect("a scalar serde_yaml_ng writes");
        assert!(seq.memo.contains_key("(.*)"));
        seq.append(&[&asked[0]], &mut out).expect("again");
        assert!(
            out.ends_with("- b:\n  - 1\n  - 2\n- regex: (.*)\n- regex: (.*)\n"),
            "{out}"
        );
    }

    fn same(value: &Value) {
        let reference = serde_yaml_ng::to_string(value).unwrap();
        if let Some(fast) = to_block_yaml(value) {
            assert_eq!(fast, reference, "{value}");
        }
        // The same mapping held as a compact job, written as an item of `scrape_configs`.
        if let Value::Object(map) = value {
            let job = charm_interfaces::ScrapeJob::from(map.clone());
            let mut out = String::new();
            if RootSeq::default()
                .append_map(job.sorted_views(), &mut out)
                .is_some()
            {
                assert_eq!(out, serde_yaml_ng::to_string(&[value]).unwrap(), "{value}");
            }
        }
    }

    #[test]
    fn writes_what_serde_yaml_ng_writes_for_tricky_scalars() {
        let long = "x".repeat(120);
        let strings = [
            "",
            "a",
            "true",
            "True",
            "TRUE",
            "yes",
            "No",
            "y",
            "n",
            "on",
            "OFF",
            "null",
            "Null",
            "~",
            "nan",
            ".nan",
            "inf",
            ".inf",
            "-.inf",
            "infinity",
            "1",
            "-1",
            "+1",
            "1.5",
            "1e3",
            "1_000",
            "0x1F",
            "0o17",
            "0b1",
            "010",
            "1:20",
            "10.0.0.1:9100",
            "1.2.3",
            "/metrics",
            "-",
            "-a",
            "- a",
            ":",
            "a:",
            "a:b",
            "a: b",
            "#a",
            "a#b",
            "a #b",
            "@a",
            "`a",
            "!a",
            "&a",
            "*a",
            "|",
            ">",
            "'",
            "\"",
            "%a",
            "?",
            "?a",
            "[a]",
            "{a}",
            "a,b",
            "(.*)",
            "(.+):\\d+",
            "$1",
            "${1}:9100",
            "__address__",
            "juju_unit",
            "a/b",
            "a.b-c_d",
            "---",
            "...",
            "a b",
            "a\nb",
            " a",
            "a ",
            "\ta",
            "é",
            "日本",
            "\u{7f}",
            "a=b",
            "https://x.example:443/path?q=1",
            long.as_str(),
            "0",
            "00",
            "1.",
            ".5",
            "Infinity",
            "-Infinity",
            "NaN",
        ];
        for s in strings {
            same(&json!(s));
            same(&json!([s, {"k": s}]));
            same(&json!({ s: s }));
            same(&json!({"a": {"b": [s, [s, s], {"c": s, "d": []}]}}));
        }
    }

    #[test]
    fn writes_what_serde_yaml_ng_writes_for_layouts_and_numbers() {
        for value in [
            json!(null),
            json!(true),
            json!(12),
            json!(-3),
            json!(1.5),
            json!(1e300),
            json!(0.1),
            json!(u64::MAX),
            json!({}),
            json!([]),
            json!({"a": {}, "b": [], "c": [[]], "d": [{}], "e": [[1, [2, 3]], {"x": [4]}]}),
            json!([[{"a": 1, "b": [1, 2]}, 3], {"c": {"d": {"e": null}}}]),
            json!({"global": {"scrape_interval": "1m"}, "scrape_configs": [{"job_name": "j",
                "static_configs": [{"targets": ["10.1.2.3:9100"],
                "labels": {"juju_unit": "a/0"}}], "honor_labels": true}]}),
        ] {
            same(&value);
            assert!(to_block_yaml(&value).is_some(), "{value}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2000, failure_persistence: None, ..Default::default()
        })]
        /// Any short string of the bytes the plain test looks at, and of some it refuses, is
        /// written as `serde_yaml_ng` writes it, as a key and as a value.
        #[test]
        fn arbitrary_strings_are_written_as_serde_yaml_ng_writes_them(
            s in "[a-zA-Z0-9_./:\\-]{0,6}[ #'!&*?|>%@`{},\\[\\]=\\$]?[a-zA-Z0-9_./:-]{0,6}"
        ) {
            same(&json!({ s.as_str(): [s.as_str(), {"k": s.as_str()}] }));
        }
    }

    #[test]
    fn leaves_strings_with_spaces_or_breaks_to_serde_yaml_ng() {
        assert_eq!(to_block_yaml(&json!({"a": "b c"})), None);
        assert_eq!(to_block_yaml(&json!(["a\nb"])), None);
        assert!(obviously_plain("10.0.0.1:9100"));
        assert!(!obviously_plain("1.5"));
        assert!(!obviously_plain("yes"));
    }
}

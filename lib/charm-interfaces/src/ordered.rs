//! A JSON value that keeps object keys in document order, plus the serialisation Python's
//! `json.dumps` (default arguments) would produce for it.
//!
//! The scrape-job dedupe suffix is the sha256 of the job as Python serialises it, and Python
//! dicts keep insertion order. Reproducing the names other charms' libraries compute therefore
//! needs the providers' key order, which `serde_json::Map` (sorted) loses. The workspace-wide
//! `preserve_order` feature would change every crate's maps, so this module keeps its own type.

use std::fmt::{self, Write as _};

use compact_str::CompactString;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

/// An ordered JSON value.
///
/// Strings and keys are `CompactString`s: a scrape job holds dozens of short ones (keys, label
/// names and values, targets), and thousands of jobs are held at once; up to 24 bytes stay
/// inline instead of taking an allocation each.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OVal {
    Null,
    Bool(bool),
    Num(Number),
    Str(CompactString),
    Arr(Vec<OVal>),
    Obj(OMap),
}

/// An ordered JSON object; keys are unique, insertion order is kept (like a Python dict).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct OMap(Vec<(CompactString, OVal)>);

impl OMap {
    pub(crate) fn new() -> Self {
        Self(Vec::new())
    }

    pub(crate) fn get(&self, key: &str) -> Option<&OVal> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut OVal> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Python `d[key] = value`: replaces in place, or appends a new key.
    pub(crate) fn insert(&mut self, key: impl Into<CompactString>, value: OVal) {
        let key = key.into();
        match self.get_mut(&key) {
            Some(slot) => *slot = value,
            None => self.0.push((key, value)),
        }
    }

    /// A copy with the values of `with` in place of its own (new keys appended in the order
    /// given): a clone followed by an insert of each, without copying what is replaced.
    pub(crate) fn clone_replacing<const N: usize>(&self, with: [(&str, OVal); N]) -> OMap {
        let mut with = with.map(Some);
        let mut out = Vec::with_capacity(self.0.len() + N);
        for (k, v) in &self.0 {
            let replaced = with
                .iter_mut()
                .find(|w| w.as_ref().is_some_and(|(key, _)| *key == k.as_str()))
                .and_then(Option::take);
            out.push((k.clone(), replaced.map_or_else(|| v.clone(), |(_, v)| v)));
        }
        out.extend(with.into_iter().flatten().map(|(k, v)| (k.into(), v)));
        OMap(out)
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<OVal> {
        let pos = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(pos).1)
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&CompactString, &OVal)> + Clone {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &CompactString> {
        self.0.iter().map(|(k, _)| k)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text Python's `json.dumps` produces for this object (see [`OVal::py_dumps`]).
    pub(crate) fn py_dumps(&self) -> String {
        let mut out = String::new();
        write_py_object(self, &mut out);
        out
    }

    /// Convert to a `serde_json::Value` object (keys become sorted), moving the strings.
    pub(crate) fn into_value(self) -> Value {
        Value::Object(
            self.0
                .into_iter()
                .map(|(k, v)| (k.into_string(), v.into_value()))
                .collect(),
        )
    }
}

impl OMap {
    /// A `serde_json::Value` object equal to what [`OMap::into_value`] gives, copying.
    pub(crate) fn to_value(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_value()))
                .collect(),
        )
    }

    /// The entries in key order, each value serialising with its own keys sorted: the bytes
    /// `serde_json` writes for the [`OMap::into_value`] of this map, without building it.
    pub(crate) fn sorted_entries(&self) -> Vec<(&str, Sorted<'_>)> {
        self.sorted_as(Sorted)
    }

    /// The entries sorted by key, as views.
    pub(crate) fn sorted_views(&self) -> Vec<(&str, JobValue<'_>)> {
        self.sorted_as(JobValue)
    }

    /// The entries sorted by key, each value wrapped by `wrap`.
    fn sorted_as<'a, T>(&'a self, wrap: fn(&'a OVal) -> T) -> Vec<(&'a str, T)> {
        let mut entries: Vec<(&str, T)> =
            self.0.iter().map(|(k, v)| (k.as_str(), wrap(v))).collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        entries
    }
}

/// An [`OVal`] serialised as its `serde_json::Value` is: object keys sorted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sorted<'a>(pub(crate) &'a OVal);

impl serde::Serialize for Sorted<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            OVal::Null => serializer.serialize_unit(),
            OVal::Bool(b) => serializer.serialize_bool(*b),
            OVal::Num(n) => serde::Serialize::serialize(n, serializer),
            OVal::Str(s) => serializer.serialize_str(s),
            OVal::Arr(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Sorted(item))?;
                }
                seq.end()
            }
            OVal::Obj(map) => {
                let entries = map.sorted_entries();
                let mut out = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    out.serialize_entry(k, &v)?;
                }
                out.end()
            }
        }
    }
}

impl From<Value> for OVal {
    /// A `serde_json::Value` as an ordered value (its keys are in sorted order already).
    fn from(value: Value) -> Self {
        match value {
            Value::Null => OVal::Null,
            Value::Bool(b) => OVal::Bool(b),
            Value::Number(n) => OVal::Num(n),
            Value::String(s) => OVal::Str(s.into()),
            Value::Array(a) => OVal::Arr(a.into_iter().map(OVal::from).collect()),
            Value::Object(m) => OVal::Obj(OMap(
                m.into_iter()
                    .map(|(k, v)| (k.into(), OVal::from(v)))
                    .collect(),
            )),
        }
    }
}

impl IntoIterator for OMap {
    type Item = (CompactString, OVal);
    type IntoIter = std::vec::IntoIter<(CompactString, OVal)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<K: Into<CompactString>> FromIterator<(K, OVal)> for OMap {
    fn from_iter<T: IntoIterator<Item = (K, OVal)>>(iter: T) -> Self {
        let mut map = OMap::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl OVal {
    /// Appends an unambiguous encoding of this value to `out` (every item tagged, strings and
    /// collections prefixed with their length, keys in their order): the input of a digest
    /// that is compared only with digests made the same way, cheaper than JSON with sorted keys.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            OVal::Null => out.push(b'n'),
            OVal::Bool(b) => out.push(if *b { b't' } else { b'f' }),
            OVal::Num(n) => {
                let text = n.to_string();
                out.push(b'#');
                len(out, text.len());
                out.extend_from_slice(text.as_bytes());
            }
            OVal::Str(s) => encode_str(s, out),
            OVal::Arr(items) => {
                out.push(b'[');
                len(out, items.len());
                for item in items {
                    item.encode_into(out);
                }
            }
            OVal::Obj(map) => {
                out.push(b'{');
                len(out, map.0.len());
                for (k, v) in &map.0 {
                    encode_str(k, out);
                    v.encode_into(out);
                }
            }
        }
    }
}

/// A length in [`OVal::encode_into`] (relation data is far below 4 GiB).
fn len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

/// A string as [`OVal::encode_into`] encodes it.
pub(crate) fn encode_str(s: &str, out: &mut Vec<u8>) {
    out.push(b's');
    len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

impl OVal {
    pub(crate) fn str(s: impl Into<CompactString>) -> Self {
        OVal::Str(s.into())
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            OVal::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_obj(&self) -> Option<&OMap> {
        match self {
            OVal::Obj(m) => Some(m),
            _ => None,
        }
    }

    pub(crate) fn as_arr(&self) -> Option<&Vec<OVal>> {
        match self {
            OVal::Arr(a) => Some(a),
            _ => None,
        }
    }

    /// Python truthiness of a decoded JSON value (`{}`, `[]`, `""`, `0`, `null` are false).
    pub(crate) fn truthy(&self) -> bool {
        match self {
            OVal::Null => false,
            OVal::Bool(b) => *b,
            OVal::Num(n) => n.as_f64().is_some_and(|f| f != 0.0),
            OVal::Str(s) => !s.is_empty(),
            OVal::Arr(a) => !a.is_empty(),
            OVal::Obj(m) => !m.is_empty(),
        }
    }

    /// A short name of the JSON type, for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            OVal::Null => "null",
            OVal::Bool(_) => "a boolean",
            OVal::Num(_) => "a number",
            OVal::Str(_) => "a string",
            OVal::Arr(_) => "a list",
            OVal::Obj(_) => "an object",
        }
    }

    /// Parse JSON text keeping key order.
    pub(crate) fn parse(text: &str) -> Result<OVal, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Convert to a `serde_json::Value` (object keys become sorted), moving the strings.
    pub(crate) fn into_value(self) -> Value {
        match self {
            OVal::Null => Value::Null,
            OVal::Bool(b) => Value::Bool(b),
            OVal::Num(n) => Value::Number(n),
            OVal::Str(s) => Value::String(s.into_string()),
            OVal::Arr(a) => Value::Array(a.into_iter().map(OVal::into_value).collect()),
            OVal::Obj(m) => m.into_value(),
        }
    }

    /// [`OVal::into_value`], copying.
    pub(crate) fn to_value(&self) -> Value {
        match self {
            OVal::Null => Value::Null,
            OVal::Bool(b) => Value::Bool(*b),
            OVal::Num(n) => Value::Number(n.clone()),
            OVal::Str(s) => Value::String(s.to_string()),
            OVal::Arr(a) => Value::Array(a.iter().map(OVal::to_value).collect()),
            OVal::Obj(m) => m.to_value(),
        }
    }

    /// The text Python's `json.dumps(value)` produces with default arguments: `", "` and
    /// `": "` separators, keys in insertion order, non-ASCII escaped as `\uXXXX`.
    pub(crate) fn py_dumps(&self) -> String {
        let mut out = String::new();
        self.write_py(&mut out);
        out
    }

    fn write_py(&self, out: &mut String) {
        match self {
            OVal::Null => out.push_str("null"),
            OVal::Bool(true) => out.push_str("true"),
            OVal::Bool(false) => out.push_str("false"),
            OVal::Num(n) => write_py_number(n, out),
            OVal::Str(s) => write_py_string(s, out),
            OVal::Arr(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write_py(out);
                }
                out.push(']');
            }
            OVal::Obj(m) => write_py_object(m, out),
        }
    }
}

fn write_py_object(m: &OMap, out: &mut String) {
    out.push('{');
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_py_string(k, out);
        out.push_str(": ");
        v.write_py(out);
    }
    out.push('}');
}

fn write_py_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Integers print as-is; floats the way Python's `float.__repr__` does.
fn write_py_number(n: &Number, out: &mut String) {
    if n.is_i64() || n.is_u64() {
        let _ = write!(out, "{n}");
        return;
    }
    let f = n.as_f64().unwrap_or(0.0);
    out.push_str(&py_float_repr(f));
}

fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits, like Python's repr.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if !(-4..16).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1; // position of the decimal point within `digits`
    let body = if point <= 0 {
        format!("0.{}{}", "0".repeat((-point) as usize), digits)
    } else if point as usize >= digits.len() {
        format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

impl<'de> Deserialize<'de> for OVal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OValVisitor)
    }
}

struct OValVisitor;

impl<'de> Visitor<'de> for OValVisitor {
    type Value = OVal;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<OVal, E> {
        Ok(OVal::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<OVal, E> {
        Ok(OVal::Num(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<OVal, E> {
        Ok(OVal::Num(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<OVal, E> {
        Number::from_f64(v)
            .map(OVal::Num)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<OVal, E> {
        Ok(OVal::Str(v.into()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<OVal, E> {
        Ok(OVal::Str(v.into()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<OVal, E> {
        Ok(OVal::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<OVal, E> {
        Ok(OVal::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<OVal, D::Error> {
        OVal::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OVal, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(OVal::Arr(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OVal, A::Error> {
        // Duplicate keys behave like Python's json.loads: first position, last value.
        let mut out = OMap::new();
        while let Some((k, v)) = map.next_entry::<CompactString, OVal>()? {
            out.insert(k, v);
        }
        Ok(OVal::Obj(out))
    }
}

/// A read-only view of an ordered value, for writers that walk it without converting it
/// (prometheus.yml is written from the compact jobs).
#[derive(Debug, Clone, Copy)]
pub struct JobValue<'a>(pub(crate) &'a OVal);

/// What one [`JobValue`] is.
#[derive(Debug)]
pub enum JobNode<'a> {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(&'a Number),
    /// A string.
    Str(&'a str),
    /// A list, in order.
    Seq(Vec<JobValue<'a>>),
    /// An object's entries, **sorted by key** (as its `serde_json::Value` iterates them).
    Map(Vec<(&'a str, JobValue<'a>)>),
}

impl<'a> JobValue<'a> {
    /// What this value is; a list's items and an object's entries as views.
    pub fn node(self) -> JobNode<'a> {
        match self.0 {
            OVal::Null => JobNode::Null,
            OVal::Bool(b) => JobNode::Bool(*b),
            OVal::Num(n) => JobNode::Number(n),
            OVal::Str(s) => JobNode::Str(s),
            OVal::Arr(items) => JobNode::Seq(items.iter().map(JobValue).collect()),
            OVal::Obj(map) => JobNode::Map(map.sorted_views()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_encoding_tells_apart_what_json_tells_apart() {
        let enc = |text: &str| {
            let mut out = Vec::new();
            OVal::parse(text).unwrap().encode_into(&mut out);
            out
        };
        let distinct = [
            r#"{"a": "1"}"#,
            r#"{"a": 1}"#,
            r#"{"a": 1.0}"#,
            r#"{"a": true}"#,
            r#"{"a": null}"#,
            r#"{"a": ["bc"]}"#,
            r#"{"a": ["b", "c"]}"#,
            r#"{"ab": "c"}"#,
            r#"{"a": "bc"}"#,
            r#"{"a": {}}"#,
            r#"{"a": []}"#,
            r#"{"a": [[]]}"#,
            r#"{"a": "", "b": ""}"#,
            r#"{"b": "", "a": ""}"#,
        ];
        let encoded: Vec<Vec<u8>> = distinct.iter().map(|t| enc(t)).collect();
        for (i, a) in encoded.iter().enumerate() {
            for (j, b) in encoded.iter().enumerate() {
                assert_eq!(i == j, a == b, "{} / {}", distinct[i], distinct[j]);
            }
        }
        assert_eq!(enc(r#"{"a": [1, "x"]}"#), enc(r#"{ "a" : [1,"x"] }"#));
    }

    #[test]
    fn clone_replacing_is_a_clone_then_inserts() {
        let base: OMap = [
            ("a", OVal::str("1")),
            ("b", OVal::str("2")),
            ("c", OVal::Null),
        ]
        .into_iter()
        .collect();
        let with = || {
            [
                ("c", OVal::str("3")),
                ("z", OVal::str("4")),
                ("a", OVal::Bool(true)),
            ]
        };
        let mut expected = base.clone();
        for (k, v) in with() {
            expected.insert(k, v);
        }
        let replaced = base.clone_replacing(with());
        assert_eq!(replaced, expected);
        assert_eq!(
            replaced
                .keys()
                .map(CompactString::as_str)
                .collect::<Vec<_>>(),
            ["a", "b", "c", "z"]
        );
        assert_eq!(
            replaced.py_dumps(),
            r#"{"a": true, "b": "2", "c": "3", "z": "4"}"#
        );
    }

    #[test]
    fn sorted_serialises_as_the_json_value_and_copies_equal_moves() {
        let v = OVal::parse(r#"{"z": [{"b": 1, "a": null}, 2.5], "a": {"y": true, "x": "s"}}"#)
            .unwrap();
        let expected = serde_json::to_string(&v.clone().into_value()).unwrap();
        assert_eq!(
            expected,
            r#"{"a":{"x":"s","y":true},"z":[{"a":null,"b":1},2.5]}"#
        );
        assert_eq!(serde_json::to_string(&Sorted(&v)).unwrap(), expected);
        assert_eq!(v.to_value(), v.clone().into_value());
        let OVal::Obj(map) = &v else {
            panic!("an object")
        };
        let keys: Vec<&str> = map.sorted_entries().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "z"]);
        assert_eq!(OVal::from(v.to_value()).to_value(), v.to_value());
    }

    #[test]
    fn keeps_key_order_and_python_separators() {
        let v =
            OVal::parse(r#"{"b": 1, "a": [true, null, "x"], "c": {"z": 2.5, "y": "é"}}"#).unwrap();
        assert_eq!(
            v.py_dumps(),
            r#"{"b": 1, "a": [true, null, "x"], "c": {"z": 2.5, "y": "\u00e9"}}"#
        );
    }

    #[test]
    fn duplicate_keys_keep_first_position_last_value() {
        let v = OVal::parse(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        assert_eq!(v.py_dumps(), r#"{"a": 3, "b": 2}"#);
    }

    #[test]
    fn floats_print_like_python_repr() {
        for (f, want) in [
            (1.0, "1.0"),
            (0.5, "0.5"),
            (100000.0, "100000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.25e-7, "-2.25e-07"),
            (123.456, "123.456"),
            (1e15, "1000000000000000.0"),
        ] {
            assert_eq!(py_float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn escapes_like_python() {
        let v = OVal::str("a\"b\\c\nd\u{1}/😀");
        assert_eq!(v.py_dumps(), r#""a\"b\\c\nd\u0001/\ud83d\ude00""#);
    }
}

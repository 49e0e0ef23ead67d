//! Inventory body -> canonical file_sd target groups.
//!
//! Accepted inventory shapes (a JSON array at the top level, entries may be mixed):
//! - a host name, `"sensor_0"` -> `sensor_0:<target-port>`;
//! - a `host:port` (or `[v6]:port`) string, kept as is;
//! - an http_sd target group `{"targets": [...], "labels": {...}}`.
//!
//! Labels: the configured `--labels` apply to every group; a group's own labels win over them
//! on the same name (the inventory knows more about its hosts than a global default).
//! Plain strings form the group that carries only the configured labels.
//!
//! Entries that are not valid target addresses are skipped and counted, and so is a group
//! whose labels break the rules of `--labels` ([`check_label`]: no `__*`, `job` or
//! `instance`, bounded sizes, at most [`MAX_LABELS`]): an inventory cannot change how or as
//! which job its targets are scraped. An inventory with entries of which none is valid fails
//! the poll (the last good file stays). Anything that breaks
//! the format itself (top level not an array, an entry of another JSON type, a non-string
//! target or label value, an invalid label name, an unknown key in a group) fails the whole
//! poll, like Prometheus' http_sd does, so the last good file stays.
//!
//! Output is canonical: groups with the same final labels are merged, targets are deduplicated
//! and sorted, groups are ordered by their labels, empty groups are dropped.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::labels::{check_label, is_valid_label_name, MAX_LABELS};

/// Longest accepted entry, in bytes (a DNS name is at most 253, plus `:65535`).
pub const MAX_ENTRY_LEN: usize = 260;

/// How many skipped entries are kept as examples for the log.
const SKIP_EXAMPLES: usize = 5;

/// One file_sd target group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    /// `host:port` addresses, sorted and unique.
    pub targets: Vec<String>,
    /// Labels of every target of the group.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Why an entry was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Empty string.
    Empty,
    /// Longer than [`MAX_ENTRY_LEN`].
    TooLong,
    /// Contains whitespace or a control character.
    Whitespace,
    /// Looks like a URL (`/`, `://`, `@`, `?`, `#`).
    NotAnAddress,
    /// The host part has characters outside `[A-Za-z0-9._-]` or starts/ends badly.
    BadHost,
    /// The port is not a number in 1..=65535.
    BadPort,
    /// A group whose labels are refused (reserved, too many or too long).
    BadLabels,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty",
            Self::TooLong => "too long",
            Self::Whitespace => "contains whitespace or control characters",
            Self::NotAnAddress => "looks like a URL, not host[:port]",
            Self::BadHost => "invalid host name",
            Self::BadPort => "invalid port",
            Self::BadLabels => "group labels refused",
        })
    }
}

/// A skipped entry kept for the log (shortened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEntry {
    /// The entry, cut to 64 characters and escaped with `{:?}` when logged.
    pub entry: String,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// The result of a successful parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// Canonical target groups.
    pub groups: Vec<TargetGroup>,
    /// Number of skipped entries.
    pub skipped: u64,
    /// The first few skipped entries.
    pub skipped_examples: Vec<SkippedEntry>,
}

impl Inventory {
    /// Number of distinct targets over all groups.
    pub fn target_count(&self) -> usize {
        self.groups.iter().map(|g| g.targets.len()).sum()
    }

    /// The file_sd JSON (compact, one trailing newline).
    pub fn render(&self) -> Vec<u8> {
        render(&self.groups)
    }
}

/// Renders groups as compact file_sd JSON with a trailing newline.
pub fn render(groups: &[TargetGroup]) -> Vec<u8> {
    let mut out = serde_json::to_vec(groups).expect("string maps always serialize");
    out.push(b'\n');
    out
}

/// Why an inventory body is refused.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not the expected JSON shape.
    #[error("malformed inventory: {0}")]
    Malformed(#[from] serde_json::Error),
    /// Entries were given but none of them is valid.
    #[error(
        "none of the {skipped} inventory entries is valid{}",
        examples_text(examples)
    )]
    NothingValid {
        /// Entries skipped.
        skipped: u64,
        /// The first few of them.
        examples: Vec<SkippedEntry>,
    },
    /// More distinct targets than allowed.
    #[error("inventory has {count} targets, more than --max-targets {max}")]
    TooManyTargets {
        /// Distinct targets found.
        count: usize,
        /// The limit.
        max: usize,
    },
}

/// Parameters of a parse.
#[derive(Debug, Clone, Copy)]
pub struct ParseOptions<'a> {
    /// Port appended to bare host names.
    pub target_port: u16,
    /// Maximum number of distinct targets.
    pub max_targets: usize,
    /// Labels of every group (group labels win).
    pub labels: &'a BTreeMap<String, String>,
}

/// Parses an inventory body into canonical target groups.
pub fn parse_inventory(body: &[u8], opts: ParseOptions<'_>) -> Result<Inventory, ParseError> {
    let mut acc = Accumulator::new(opts.target_port);
    let mut de = serde_json::Deserializer::from_slice(body);
    de.deserialize_seq(TopLevel(&mut acc))?;
    de.end()?;
    let groups = acc.finish(opts.labels);
    let inventory = Inventory {
        groups,
        skipped: acc.skipped,
        skipped_examples: acc.examples,
    };
    let count = inventory.target_count();
    if count == 0 && inventory.skipped > 0 {
        return Err(ParseError::NothingValid {
            skipped: inventory.skipped,
            examples: inventory.skipped_examples,
        });
    }
    if count > opts.max_targets {
        return Err(ParseError::TooManyTargets {
            count,
            max: opts.max_targets,
        });
    }
    Ok(inventory)
}

/// `: "a b" (reason), ...` for an error message.
fn examples_text(examples: &[SkippedEntry]) -> String {
    let list: Vec<String> = examples
        .iter()
        .map(|e| format!("{:?} ({})", e.entry, e.reason))
        .collect();
    if list.is_empty() {
        String::new()
    } else {
        format!(": {}", list.join(", "))
    }
}

/// Parses an existing file_sd JSON file (to load the last good targets at start).
pub fn parse_file_sd(content: &[u8]) -> Result<Vec<TargetGroup>, serde_json::Error> {
    serde_json::from_slice(content)
}

/// Checks one entry and returns the target address (`host:port`).
pub fn normalize_target(entry: &str, default_port: u16) -> Result<String, SkipReason> {
    if entry.is_empty() {
        return Err(SkipReason::Empty);
    }
    if entry.len() > MAX_ENTRY_LEN {
        return Err(SkipReason::TooLong);
    }
    if entry.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(SkipReason::Whitespace);
    }
    if entry.contains(['/', '@', '?', '#']) {
        return Err(SkipReason::NotAnAddress);
    }
    let (host, port) = split_host_port(entry)?;
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => {}
            _ => return Err(SkipReason::BadPort),
        }
        return Ok(entry.to_owned());
    }
    let _ = host;
    let mut out = String::with_capacity(entry.len() + 6);
    out.push_str(entry);
    out.push(':');
    out.push_str(itoa_u16(default_port).as_str());
    Ok(out)
}

/// Splits `host[:port]` / `[v6][:port]`, validating the host part.
fn split_host_port(entry: &str) -> Result<(&str, Option<&str>), SkipReason> {
    if let Some(rest) = entry.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or(SkipReason::BadHost)?;
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(SkipReason::BadHost);
        }
        return match after {
            "" => Ok((v6, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((v6, Some(port))),
                None => Err(SkipReason::BadHost),
            },
        };
    }
    let (host, port) = match entry.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (entry, None),
    };
    if port.is_some_and(|p| p.contains(':')) {
        // A bare IPv6 address or a double port: ambiguous, refuse.
        return Err(SkipReason::BadHost);
    }
    let valid_chars = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if host.is_empty()
        || !valid_chars
        || host.starts_with(['.', '-'])
        || host.ends_with('-')
        || host.contains("..")
    {
        return Err(SkipReason::BadHost);
    }
    Ok((host, port))
}

/// Decimal of a port without going through `format!`.
fn itoa_u16(mut n: u16) -> String {
    let mut buf = [0u8; 5];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    String::from_utf8_lossy(&buf[i..]).into_owned()
}

/// Collects targets while the body is deserialized (no intermediate JSON tree).
struct Accumulator {
    target_port: u16,
    /// Targets of plain string entries.
    plain: Vec<String>,
    /// Groups from http_sd objects, with their own labels (before merging).
    groups: Vec<(BTreeMap<String, String>, Vec<String>)>,
    skipped: u64,
    examples: Vec<SkippedEntry>,
}

impl Accumulator {
    fn new(target_port: u16) -> Self {
        Self {
            target_port,
            plain: Vec::new(),
            groups: Vec::new(),
            skipped: 0,
            examples: Vec::new(),
        }
    }

    /// Adds an entry to `into`, or counts it as skipped.
    fn take(&mut self, entry: &str, into: Option<&mut Vec<String>>) {
        match normalize_target(entry, self.target_port) {
            Ok(t) => into.unwrap_or(&mut self.plain).push(t),
            Err(reason) => self.skip(entry, reason),
        }
    }

    /// Counts a skipped entry, keeping the first few as examples.
    fn skip(&mut self, entry: &str, reason: SkipReason) {
        self.skipped += 1;
        if self.examples.len() < SKIP_EXAMPLES {
            self.examples.push(SkippedEntry {
                entry: entry.chars().take(64).collect(),
                reason,
            });
        }
    }

    /// Merges groups by final labels, sorts and dedupes targets, drops empty groups.
    fn finish(&mut self, base: &BTreeMap<String, String>) -> Vec<TargetGroup> {
        let mut merged: BTreeMap<BTreeMap<String, String>, Vec<String>> = BTreeMap::new();
        merged.insert(base.clone(), std::mem::take(&mut self.plain));
        for (own, targets) in std::mem::take(&mut self.groups) {
            let mut labels = base.clone();
            labels.extend(own);
            merged.entry(labels).or_default().extend(targets);
        }
        merged
            .into_iter()
            .filter_map(|(labels, mut targets)| {
                targets.sort_unstable();
                targets.dedup();
                (!targets.is_empty()).then_some(TargetGroup { targets, labels })
            })
            .collect()
    }
}

struct TopLevel<'a>(&'a mut Accumulator);

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of host names or target groups")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Entry(self.0))?.is_some() {}
        Ok(())
    }
}

/// One element of the top-level array.
struct Entry<'a>(&'a mut Accumulator);

impl<'de> DeserializeSeed<'de> for Entry<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Entry<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a host name string or a {\"targets\", \"labels\"} object")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.take(v, None);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut targets: Option<Vec<String>> = None;
        let mut labels: Option<BTreeMap<String, String>> = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "targets" if targets.is_none() => {
                    let mut list = Vec::new();
                    map.next_value_seed(GroupTargets(self.0, &mut list))?;
                    targets = Some(list);
                }
                "labels" if labels.is_none() => {
                    let l: BTreeMap<String, String> = map.next_value()?;
                    if let Some(bad) = l.keys().find(|k| !is_valid_label_name(k)) {
                        return Err(de::Error::custom(format!(
                            "\"{bad}\" is not a valid label name"
                        )));
                    }
                    labels = Some(l);
                }
                "targets" | "labels" => {
                    return Err(de::Error::custom(format!("duplicate field `{key}`")))
                }
                other => {
                    let _: IgnoredAny = map.next_value()?;
                    return Err(de::Error::unknown_field(other, &["targets", "labels"]));
                }
            }
        }
        let labels = labels.unwrap_or_default();
        let refused = if labels.len() > MAX_LABELS {
            Some(format!("{} labels", labels.len()))
        } else {
            labels
                .iter()
                .find_map(|(k, v)| check_label(k, v).err())
                .map(|e| e.to_string())
        };
        match refused {
            // The group's targets are counted as one skipped entry; they are not scraped.
            Some(why) => self.0.skip(&why, SkipReason::BadLabels),
            None => self.0.groups.push((labels, targets.unwrap_or_default())),
        }
        Ok(())
    }
}

/// The `targets` array of a group: strings only.
struct GroupTargets<'a, 'b>(&'a mut Accumulator, &'b mut Vec<String>);

impl<'de> DeserializeSeed<'de> for GroupTargets<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for GroupTargets<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of target strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(GroupTarget(&mut *self.0, &mut *self.1))?
            .is_some()
        {}
        Ok(())
    }
}

/// One target string of a group, borrowed from the body when it has no escapes.
struct GroupTarget<'a, 'b>(&'a mut Accumulator, &'b mut Vec<String>);

impl<'de> DeserializeSeed<'de> for GroupTarget<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for GroupTarget<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a target string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.take(v, Some(self.1));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(labels: &BTreeMap<String, String>) -> ParseOptions<'_> {
        ParseOptions {
            target_port: 9100,
            max_targets: 1000,
            labels,
        }
    }

    fn parse(body: &str) -> Result<Inventory, ParseError> {
        parse_inventory(body.as_bytes(), opts(&BTreeMap::new()))
    }

    #[test]
    fn host_names_get_the_port_and_are_sorted_and_deduped() {
        let inv = parse(r#"["sensor_1","sensor_0","sensor_1","h:8080"]"#).unwrap();
        assert_eq!(
            inv.groups,
            vec![TargetGroup {
                targets: vec![
                    "h:8080".into(),
                    "sensor_0:9100".into(),
                    "sensor_1:9100".into()
                ],
                labels: BTreeMap::new(),
            }]
        );
        assert_eq!(inv.skipped, 0);
        assert_eq!(
            String::from_utf8(inv.render()).unwrap(),
            "[{\"targets\":[\"h:8080\",\"sensor_0:9100\",\"sensor_1:9100\"],\"labels\":{}}]\n"
        );
    }

    #[test]
    fn escaped_strings_work() {
        let inv = parse(r#"["sensor\u005f7"]"#).unwrap();
        assert_eq!(inv.groups[0].targets, vec!["sensor_7:9100"]);
    }

    #[test]
    fn really_empty_inventory_renders_empty_list() {
        let inv = parse(" [ ] ").unwrap();
        assert!(inv.groups.is_empty());
        assert_eq!(inv.render(), b"[]\n");
    }

    #[test]
    fn bad_entries_are_skipped_and_counted() {
        let inv = parse(
            r#"["ok", "", " x", "a b", "http://x:1", "x/metrics", "h:0", "h:99999", "h:abc",
                "u@h", "-h", "h..x", "::1", "[::1]", "[::1]:9", "[zz]:1", "h:+80"]"#,
        )
        .unwrap();
        assert_eq!(
            inv.groups[0].targets,
            vec!["[::1]:9".to_string(), "[::1]:9100".into(), "ok:9100".into()]
        );
        assert_eq!(inv.skipped, 14);
        assert_eq!(inv.skipped_examples.len(), SKIP_EXAMPLES);
        assert_eq!(inv.skipped_examples[0].reason, SkipReason::Empty);
        assert_eq!(inv.skipped_examples[1].reason, SkipReason::Whitespace);
        assert_eq!(inv.skipped_examples[3].reason, SkipReason::NotAnAddress);
        let long = format!("[\"ok\", \"{}\"]", "a".repeat(MAX_ENTRY_LEN + 1));
        assert_eq!(parse(&long).unwrap().skipped, 1);
    }

    #[test]
    fn http_sd_groups_merge_labels_and_group_labels_win() {
        let base: BTreeMap<String, String> = [
            ("env".to_string(), "prod".to_string()),
            ("team".into(), "a".into()),
        ]
        .into();
        let body = r#"[
            {"targets": ["b:1", "a:1", "bad host"], "labels": {"team": "b", "rack": "r1"}},
            "plain",
            {"targets": ["c:1"], "labels": {"team": "b", "rack": "r1"}},
            {"targets": [], "labels": {"zone": "x"}},
            {"labels": {"zone": "y"}}
        ]"#;
        let inv = parse_inventory(body.as_bytes(), opts(&base)).unwrap();
        assert_eq!(inv.skipped, 1);
        assert_eq!(inv.groups.len(), 2, "{:?}", inv.groups);
        // Groups are ordered by their label sets: `rack` sorts before `team`.
        assert_eq!(inv.groups[1].targets, vec!["plain:9100"]);
        assert_eq!(inv.groups[1].labels, base);
        assert_eq!(inv.groups[0].targets, vec!["a:1", "b:1", "c:1"]);
        assert_eq!(inv.groups[0].labels["team"], "b");
        assert_eq!(inv.groups[0].labels["env"], "prod");
        assert_eq!(inv.groups[0].labels["rack"], "r1");
    }

    #[test]
    fn groups_with_labels_the_scrape_job_owns_or_oversized_labels_are_skipped() {
        let many: BTreeMap<String, String> = (0..=crate::labels::MAX_LABELS)
            .map(|i| (format!("l{i}"), "v".to_string()))
            .collect();
        for labels in [
            serde_json::json!({"__scheme__": "https"}),
            serde_json::json!({"__metrics_path__": "/other"}),
            serde_json::json!({"__param_target": "x"}),
            serde_json::json!({"job": "prometheus"}),
            serde_json::json!({"instance": "spoofed"}),
            serde_json::json!({"big": "v".repeat(crate::labels::MAX_LABEL_VALUE_BYTES + 1)}),
            serde_json::json!({"ctl": "a\nb"}),
            serde_json::json!(many),
        ] {
            let body = serde_json::json!([
                {"targets": ["evil:1"], "labels": labels},
                {"targets": ["good:1"], "labels": {"rack": "r1"}},
            ])
            .to_string();
            let inv = parse(&body).unwrap();
            assert_eq!(inv.skipped, 1, "{labels}");
            assert_eq!(inv.skipped_examples[0].reason, SkipReason::BadLabels);
            assert_eq!(inv.groups.len(), 1, "{labels}");
            assert_eq!(inv.groups[0].targets, vec!["good:1"]);
        }
    }

    #[test]
    fn an_inventory_with_nothing_valid_fails() {
        for body in [
            r#"["a b", "http://x/"]"#,
            r#"[{"targets": ["a:1"], "labels": {"job": "prometheus"}}]"#,
        ] {
            let e = parse(body).unwrap_err();
            assert!(matches!(e, ParseError::NothingValid { .. }), "{body}: {e}");
            assert!(e.to_string().contains("none of the"), "{e}");
        }
        // Nothing at all is a valid (empty) inventory.
        assert!(parse("[]").unwrap().groups.is_empty());
        assert!(parse(r#"[{"targets": []}]"#).unwrap().groups.is_empty());
    }

    #[test]
    fn group_order_does_not_depend_on_inventory_order() {
        let a = parse(
            r#"[{"targets":["x:1"],"labels":{"k":"2"}},{"targets":["y:1"],"labels":{"k":"1"}}]"#,
        )
        .unwrap();
        let b = parse(
            r#"[{"targets":["y:1"],"labels":{"k":"1"}},{"targets":["x:1"],"labels":{"k":"2"}}]"#,
        )
        .unwrap();
        assert_eq!(a.render(), b.render());
    }

    #[test]
    fn wrong_shapes_fail() {
        for body in [
            "null",
            "{}",
            "\"sensor_0\"",
            "",
            "[\"a\"",
            "[1]",
            "[null]",
            "[[\"a\"]]",
            "[true]",
            r#"[{"targets": "a:1"}]"#,
            r#"[{"targets": [1]}]"#,
            r#"[{"targets": ["a:1"], "labels": {"k": 1}}]"#,
            r#"[{"targets": ["a:1"], "labels": {"1bad": "v"}}]"#,
            r#"[{"targets": ["a:1"], "label": {}}]"#,
            r#"[{"targets": ["a:1"], "targets": ["b:1"]}]"#,
            "[\"a\"] trailing",
        ] {
            assert!(
                matches!(parse(body), Err(ParseError::Malformed(_))),
                "{body:?} should be malformed"
            );
        }
    }

    #[test]
    fn too_many_distinct_targets_fail() {
        let base = BTreeMap::new();
        let o = ParseOptions {
            target_port: 1,
            max_targets: 2,
            labels: &base,
        };
        assert!(parse_inventory(br#"["a","b","a","b"]"#, o).is_ok());
        assert!(matches!(
            parse_inventory(br#"["a","b","c"]"#, o),
            Err(ParseError::TooManyTargets { count: 3, max: 2 })
        ));
    }

    #[test]
    fn file_sd_round_trip() {
        let inv = parse(r#"["a","b"]"#).unwrap();
        assert_eq!(parse_file_sd(&inv.render()).unwrap(), inv.groups);
        assert!(parse_file_sd(b"[{\"targets\":[],\"x\":1}]").is_err());
    }

    #[test]
    fn ports() {
        assert_eq!(itoa_u16(0), "0");
        assert_eq!(itoa_u16(9100), "9100");
        assert_eq!(itoa_u16(65535), "65535");
    }
}

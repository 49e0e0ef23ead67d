//! Rule files from the `alert_rules` key that `prometheus_scrape` providers and
//! `prometheus_remote_write` senders publish in their application databag.
//!
//! Per relation: `alert_rules` = JSON `{"groups": [...]}` (`{}` means no rules). Every rule
//! carrying Juju topology labels gets `juju_model`/`juju_model_uuid`/`juju_application` matchers
//! injected into its expression (the `%%juju_topology%%` placeholder is removed first). Groups
//! are checked one by one: an invalid group is left out and reported against the application;
//! its valid groups and every other relation are kept. File names are derived by
//! [`rule_file_name`] from the endpoint, the relation id and a bounded, sanitised form of the
//! identifier: they never collide across endpoints or relations, whatever the remote
//! application publishes, and stay far below the 255-byte limit of a file name.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;
use sha2::Digest;

use crate::ordered::{OMap, OVal};
use crate::promql;
use crate::scrape::AppError;
use crate::topology::Topology;
use crate::validate::{
    brief, check_text_sizes, expect_duration, expect_label_map, expect_list, expect_obj,
    expect_str, is_label_name, MAX_RULE_TEXT,
};
use crate::RelationView;

/// A rule file: (file name, YAML text).
pub type RuleFile = (String, String);

/// Rule files and the problems found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RulesOutcome {
    /// Files for `/etc/prometheus/rules/`, in relation order.
    pub files: Vec<RuleFile>,
    /// Problems, per application (for the `event` key `errors`).
    pub per_app_errors: Vec<AppError>,
}

/// Longest part of a rule file name taken from the identifier (topology or group name).
pub const MAX_RULE_FILE_STEM: usize = 64;

/// Rule files for `metrics-endpoint` relations.
pub fn scrape_rule_files(relations: &[RelationView<'_>]) -> RulesOutcome {
    rule_files(relations)
}

/// Rule files for the relations passed in, one per relation, named by [`rule_file_name`].
pub fn rule_files(relations: &[RelationView<'_>]) -> RulesOutcome {
    let mut out = RulesOutcome::default();
    for rel in relations {
        let mut errors = Vec::new();
        if let Some((identifier, groups)) = relation_rules(rel, &mut errors) {
            let name = rule_file_name(&identifier, rel.endpoint, rel.id);
            let doc = serde_json::json!({ "groups": groups });
            let yaml = serde_yaml_ng::to_string(&doc).unwrap_or_default();
            out.files.push((name, yaml));
        }
        out.per_app_errors
            .extend(errors.into_iter().map(|message| AppError {
                relation_id: rel.id,
                app: rel.app.to_owned(),
                message,
            }));
    }
    out
}

/// `juju_<stem>_<endpoint>_<relation id>.rules`. The stem is the identifier when it is at most
/// [`MAX_RULE_FILE_STEM`] bytes of `[A-Za-z0-9_.-]`; otherwise its first 48 such characters
/// (others become `_`) and 8 hex digits of its SHA-256. The endpoint and relation id at the end
/// keep names of different relations apart whatever the identifier holds (an identifier
/// ending in `_metrics-endpoint_10` still ends up before this relation's own suffix).
pub fn rule_file_name(identifier: &str, endpoint: &str, relation_id: u32) -> String {
    let plain = identifier.len() <= MAX_RULE_FILE_STEM
        && !identifier.is_empty()
        && identifier.bytes().all(is_file_char);
    let stem = if plain {
        identifier.to_owned()
    } else {
        let cut: String = identifier
            .chars()
            .take(48)
            .map(|c| {
                if c.is_ascii() && is_file_char(c as u8) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let digest = sha2::Sha256::digest(identifier.as_bytes());
        format!("{cut}_{}", hex::encode(&digest[..4]))
    };
    let endpoint: String = endpoint
        .bytes()
        .map(|b| if is_file_char(b) { b as char } else { '_' })
        .collect();
    format!("juju_{stem}_{endpoint}_{relation_id}.rules")
}

/// Bytes kept in a rule file name as they are.
fn is_file_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// (identifier, valid groups) of one relation, or `None` when it contributes no file.
fn relation_rules(
    rel: &RelationView<'_>,
    errors: &mut Vec<String>,
) -> Option<(String, Vec<Value>)> {
    if rel.units.is_empty() {
        return None;
    }
    let raw = rel
        .app_data
        .get("alert_rules")
        .map(String::as_str)
        .filter(|s| !s.is_empty());
    let doc = match OVal::parse(raw.unwrap_or("{}")) {
        Ok(d) => d,
        Err(e) => {
            errors.push(format!(
                "alert_rules is not valid JSON ({e}): no rules loaded"
            ));
            return None;
        }
    };
    if !doc.truthy() {
        return None;
    }
    let Some(doc) = doc.as_obj() else {
        errors.push(format!(
            "alert_rules must be a JSON object, got {}: no rules loaded",
            doc.type_name()
        ));
        return None;
    };
    let groups = match doc
        .get("groups")
        .map(|g| expect_list(g, "alert_rules.groups"))
    {
        Some(Ok(g)) => g,
        Some(Err(e)) => {
            errors.push(format!("{e}: no rules loaded"));
            return None;
        }
        None => {
            errors.push("alert_rules has no \"groups\" list: no rules loaded".into());
            return None;
        }
    };
    let identifier = identifier(groups, rel)?;
    let mut seen = BTreeSet::new();
    let mut valid = Vec::new();
    for (i, group) in groups.iter().enumerate() {
        let name = group
            .as_obj()
            .and_then(|g| g.get("name"))
            .and_then(OVal::as_str)
            .unwrap_or("");
        let label = if name.is_empty() {
            format!("#{i}")
        } else {
            format!("{name:?}")
        };
        match check_group(group).and_then(|()| inject_group(group)) {
            Ok(_) if !seen.insert(name.to_owned()) => {
                errors.push(format!(
                    "rule group {label} left out: the name is used by an earlier group"
                ));
            }
            Ok(g) => valid.push(g),
            Err(e) => errors.push(format!("rule group {label} left out: {e}")),
        }
    }
    if valid.is_empty() {
        return None;
    }
    Some((identifier, valid))
}

/// The library's choice: topology of the first group whose first rule has topology labels,
/// else `scrape_metadata`, else the first group's name.
fn identifier(groups: &[OVal], rel: &RelationView<'_>) -> Option<String> {
    for g in groups {
        let labels = g
            .as_obj()
            .and_then(|g| g.get("rules"))
            .and_then(OVal::as_arr)
            .and_then(|r| r.first())
            .and_then(OVal::as_obj)
            .and_then(|r| r.get("labels"))
            .and_then(OVal::as_obj);
        if let Some(t) = labels.and_then(Topology::from_labels) {
            return Some(t.identifier());
        }
    }
    let meta = rel
        .app_data
        .get("scrape_metadata")
        .and_then(|m| OVal::parse(m).ok());
    if let Some(t) = meta
        .as_ref()
        .and_then(OVal::as_obj)
        .and_then(Topology::from_metadata)
    {
        return Some(t.identifier());
    }
    groups
        .iter()
        .filter_map(|g| {
            g.as_obj()
                .and_then(|g| g.get("name"))
                .and_then(OVal::as_str)
        })
        .find(|n| !n.is_empty())
        .map(str::to_owned)
}

fn is_metric_name(s: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new("^[a-zA-Z_:][a-zA-Z0-9_:]*$").expect("static regex"))
        .is_match(s)
}

/// Structural check of one group, as Prometheus' rule loader would do it.
fn check_group(group: &OVal) -> Result<(), String> {
    check_text_sizes(group, "group", &|_| MAX_RULE_TEXT)?;
    let g = expect_obj(group, "group")?;
    for k in g.keys() {
        if !matches!(k.as_str(), "name" | "interval" | "limit" | "rules") {
            return Err(format!("unknown group field {k:?}"));
        }
    }
    let name = g.get("name").ok_or("group has no name")?;
    if expect_str(name, "name")?.is_empty() {
        return Err("group name is empty".into());
    }
    if let Some(i) = g.get("interval") {
        expect_duration(i, "interval")?;
    }
    if let Some(l) = g.get("limit") {
        if !matches!(l, OVal::Num(n) if n.is_u64()) {
            return Err("limit must be a non-negative integer".into());
        }
    }
    let rules = expect_list(g.get("rules").ok_or("group has no rules list")?, "rules")?;
    for (i, r) in rules.iter().enumerate() {
        check_rule(r).map_err(|e| format!("rules[{i}]: {e}"))?;
    }
    Ok(())
}

fn check_rule(rule: &OVal) -> Result<(), String> {
    let r = expect_obj(rule, "rule")?;
    let alert = r.get("alert").map(|a| expect_str(a, "alert")).transpose()?;
    let record = r
        .get("record")
        .map(|a| expect_str(a, "record"))
        .transpose()?;
    match (alert, record) {
        (Some(_), Some(_)) => return Err("a rule has either alert or record, not both".into()),
        (None, None) => return Err("a rule needs alert or record".into()),
        (Some(""), None) => return Err("alert name is empty".into()),
        (None, Some(rec)) if !is_metric_name(rec) => {
            return Err(format!(
                "record {:?} is not a valid metric name",
                brief(rec, 200)
            ))
        }
        _ => {}
    }
    let allowed: &[&str] = if alert.is_some() {
        &[
            "alert",
            "expr",
            "for",
            "keep_firing_for",
            "labels",
            "annotations",
        ]
    } else {
        &["record", "expr", "labels"]
    };
    if let Some(k) = r.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("field {k:?} is not allowed in this rule"));
    }
    let expr = expect_str(r.get("expr").ok_or("rule has no expr")?, "expr")?;
    let expr = fill_placeholder(expr, rule_topology(r).as_ref());
    promql::check(&expr)
        .map_err(|e| format!("expr {:?} is not valid PromQL: {e}", brief(&expr, 200)))?;
    for d in ["for", "keep_firing_for"] {
        if let Some(v) = r.get(d) {
            expect_duration(v, d)?;
        }
    }
    if let Some(l) = r.get("labels") {
        expect_label_map(l, "labels")?;
    }
    if let Some(a) = r.get("annotations") {
        let m = expect_obj(a, "annotations")?;
        for (k, v) in m.iter() {
            if !is_label_name(k) {
                return Err(format!("annotations: {k:?} is not a valid annotation name"));
            }
            expect_str(v, &format!("annotations.{k}"))?;
        }
    }
    Ok(())
}

fn rule_topology(rule: &OMap) -> Option<Topology> {
    rule.get("labels")
        .and_then(OVal::as_obj)
        .and_then(Topology::from_labels)
}

/// `%%juju_topology%%` stands for the topology matchers: filled in when the rule's labels give
/// the topology, removed (with a following comma) otherwise.
fn fill_placeholder(expr: &str, topology: Option<&Topology>) -> String {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new("%%juju_topology%%(,?)").expect("static regex"));
    match topology {
        Some(t) => {
            let matchers: Vec<String> = t
                .alert_matchers()
                .iter()
                .map(|(k, v)| format!("{k}={}", serde_json::Value::from(v.as_str())))
                .collect();
            let text = matchers.join(",");
            re.replace_all(expr, |c: &regex::Captures<'_>| format!("{text}{}", &c[1]))
                .into_owned()
        }
        None => re.replace_all(expr, "").into_owned(),
    }
}

/// The group with topology matchers injected into each rule that carries topology labels.
fn inject_group(group: &OVal) -> Result<Value, String> {
    let mut g: OMap = group.as_obj().cloned().unwrap_or_default();
    let rules: Vec<OVal> = g
        .get("rules")
        .and_then(OVal::as_arr)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::with_capacity(rules.len());
    for rule in rules {
        let OVal::Obj(mut r) = rule else { continue };
        let topology = rule_topology(&r);
        let expr = fill_placeholder(
            r.get("expr").and_then(OVal::as_str).unwrap_or(""),
            topology.as_ref(),
        );
        let expr = match topology {
            Some(t) => promql::inject_matchers(&expr, &t.alert_matchers())?,
            None => expr,
        };
        r.insert("expr", OVal::str(expr));
        out.push(OVal::Obj(r));
    }
    g.insert("rules", OVal::Arr(out));
    Ok(g.into_value())
}

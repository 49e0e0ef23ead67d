//! Structural checks of provider-supplied Prometheus configuration fragments.
//!
//! These run before anything reaches prometheus.yml so that one application's bad data is
//! reported against that application instead of breaking the whole configuration.

use std::fmt;
use std::sync::OnceLock;

use regex::Regex;

use compact_str::CompactString;

use crate::ordered::{OMap, OVal};

/// Is `s` a Prometheus duration (`1h30m`, `15s`, `0`)?
pub(crate) fn is_duration(s: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$")
            .expect("static regex")
    });
    s == "0" || (!s.is_empty() && re.is_match(s))
}

/// Duration in milliseconds, for comparisons (`None` when invalid).
pub(crate) fn duration_ms(s: &str) -> Option<u64> {
    if !is_duration(s) {
        return None;
    }
    if s == "0" {
        return Some(0);
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            1
        } else {
            match c {
                'y' => 365 * 24 * 3_600_000,
                'w' => 7 * 24 * 3_600_000,
                'd' => 24 * 3_600_000,
                'h' => 3_600_000,
                'm' => 60_000,
                's' => 1_000,
                _ => return None,
            }
        };
        let n: u64 = num.parse().ok()?;
        total = total.saturating_add(n.saturating_mul(unit));
        num.clear();
    }
    Some(total)
}

/// Is `s` a valid (legacy, ASCII) Prometheus label name?
pub(crate) fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) fn expect_str<'a>(v: &'a OVal, what: &str) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| format!("{what} must be a string, got {}", v.type_name()))
}

pub(crate) fn expect_obj<'a>(v: &'a OVal, what: &str) -> Result<&'a OMap, String> {
    v.as_obj()
        .ok_or_else(|| format!("{what} must be an object, got {}", v.type_name()))
}

pub(crate) fn expect_list<'a>(v: &'a OVal, what: &str) -> Result<&'a Vec<OVal>, String> {
    v.as_arr()
        .ok_or_else(|| format!("{what} must be a list, got {}", v.type_name()))
}

pub(crate) fn expect_duration(v: &OVal, what: &str) -> Result<(), String> {
    let s = expect_str(v, what)?;
    if is_duration(s) {
        Ok(())
    } else {
        Err(format!(
            "{what} {s:?} is not a valid duration (e.g. 30s, 1m, 1h30m)"
        ))
    }
}

fn expect_non_negative_int(v: &OVal, what: &str) -> Result<(), String> {
    match v {
        OVal::Num(n) if n.is_u64() => Ok(()),
        _ => Err(format!(
            "{what} must be a non-negative integer, got {}",
            v.type_name()
        )),
    }
}

/// A map of label name → string value (static labels, rule labels).
pub(crate) fn expect_label_map(v: &OVal, what: &str) -> Result<(), String> {
    let m = expect_obj(v, what)?;
    for (k, val) in m.iter() {
        if !is_label_name(k) {
            return Err(format!("{what}: {k:?} is not a valid label name"));
        }
        expect_str(val, &format!("{what}.{k}"))?;
    }
    Ok(())
}

fn expect_string_fields(
    m: &OMap,
    what: &str,
    strings: &[&str],
    bools: &[&str],
) -> Result<(), String> {
    for (k, v) in m.iter() {
        if strings.contains(&k.as_str()) {
            expect_str(v, &format!("{what}.{k}"))?;
        } else if bools.contains(&k.as_str()) {
            if !matches!(v, OVal::Bool(_)) {
                return Err(format!(
                    "{what}.{k} must be a boolean, got {}",
                    v.type_name()
                ));
            }
        } else {
            return Err(format!("{what}: unknown field {k:?}"));
        }
    }
    Ok(())
}

const RELABEL_ACTIONS: &[&str] = &[
    "replace",
    "keep",
    "drop",
    "keepequal",
    "dropequal",
    "hashmod",
    "labelmap",
    "labeldrop",
    "labelkeep",
    "lowercase",
    "uppercase",
];

/// One `relabel_configs` / `metric_relabel_configs` entry.
pub(crate) fn check_relabel_config(v: &OVal, what: &str) -> Result<(), String> {
    let m = expect_obj(v, what)?;
    for (k, val) in m.iter() {
        let field = format!("{what}.{k}");
        match k.as_str() {
            "source_labels" => {
                for s in expect_list(val, &field)? {
                    expect_str(s, &field)?;
                }
            }
            "separator" | "replacement" => {
                expect_str(val, &field)?;
            }
            "target_label" => {
                expect_str(val, &field)?;
            }
            "regex" => {
                let re = expect_str(val, &field)?;
                // Prometheus anchors relabel regexes; RE2 and the regex crate agree on the
                // common syntax, which is what this check is for.
                Regex::new(&format!("^(?:{re})$")).map_err(|e| {
                    format!("{field} {re:?} is not a valid regular expression: {e}")
                })?;
            }
            "modulus" => expect_non_negative_int(val, &field)?,
            "action" => {
                let a = expect_str(val, &field)?;
                if !RELABEL_ACTIONS.contains(&a.to_ascii_lowercase().as_str()) {
                    return Err(format!(
                        "{field} {a:?} is unknown (known: {})",
                        RELABEL_ACTIONS.join(", ")
                    ));
                }
            }
            other => return Err(format!("{what}: unknown field {other:?}")),
        }
    }
    let action = m
        .get("action")
        .and_then(OVal::as_str)
        .unwrap_or("replace")
        .to_ascii_lowercase();
    let needs_target = matches!(
        action.as_str(),
        "replace" | "hashmod" | "lowercase" | "uppercase" | "keepequal" | "dropequal"
    );
    if needs_target
        && m.get("target_label")
            .and_then(OVal::as_str)
            .unwrap_or("")
            .is_empty()
    {
        return Err(format!("{what}: action {action:?} requires target_label"));
    }
    if action == "hashmod" && m.get("modulus").is_none() {
        return Err(format!("{what}: action \"hashmod\" requires modulus"));
    }
    Ok(())
}

fn check_static_config(v: &OVal, what: &str) -> Result<(), String> {
    let m = expect_obj(v, what)?;
    for (k, val) in m.iter() {
        let field = format!("{what}.{k}");
        match k.as_str() {
            "targets" => {
                for t in expect_list(val, &field)? {
                    let t = expect_str(t, &field)?;
                    // URLs are allowed: probe jobs move them to `__param_target` by relabelling.
                    if t.is_empty() || t.chars().any(char::is_whitespace) {
                        return Err(format!("{field}: {t:?} is not a valid target"));
                    }
                }
            }
            "labels" => expect_label_map(val, &field)?,
            other => return Err(format!("{what}: unknown field {other:?}")),
        }
    }
    Ok(())
}

/// Keys a provider may set on a job when Prometheus applies its sanitising rules.
pub(crate) const ALLOWED_KEYS: &[&str] = &[
    "job_name",
    "metrics_path",
    "static_configs",
    "scrape_interval",
    "scrape_timeout",
    "proxy_url",
    "relabel_configs",
    "metric_relabel_configs",
    "sample_limit",
    "label_limit",
    "label_name_length_limit",
    "label_value_length_limit",
    "scheme",
    "basic_auth",
    "tls_config",
    "authorization",
    "params",
];

/// Other `scrape_config` fields Prometheus knows; accepted (unchecked) in pass-through jobs.
const OTHER_PROMETHEUS_KEYS: &[&str] = &[
    "honor_labels",
    "honor_timestamps",
    "track_timestamps_staleness",
    "scrape_protocols",
    "fallback_scrape_protocol",
    "scrape_classic_histograms",
    "always_scrape_classic_histograms",
    "convert_classic_histograms_to_nhcb",
    "no_proxy",
    "proxy_from_environment",
    "proxy_connect_header",
    "enable_compression",
    "enable_http2",
    "follow_redirects",
    "oauth2",
    "bearer_token",
    "bearer_token_file",
    "target_limit",
    "keep_dropped_targets",
    "body_size_limit",
    "native_histogram_bucket_limit",
    "native_histogram_min_bucket_factor",
    "metric_name_validation_scheme",
    "metric_name_escaping_scheme",
    "scrape_failure_log_file",
];

/// Is this key a service-discovery block (`kubernetes_sd_configs`, `file_sd_configs`, ...)?
pub(crate) fn is_sd_key(k: &str) -> bool {
    k.ends_with("_sd_configs")
}

/// Is `k` a scrape_config field Prometheus would accept?
pub(crate) fn is_known_scrape_key(k: &str) -> bool {
    ALLOWED_KEYS.contains(&k) || OTHER_PROMETHEUS_KEYS.contains(&k) || is_sd_key(k)
}

/// Check the allow-listed fields of one job. Other keys are not looked at.
/// Longest text a scrape job may carry in one field: names, paths, targets and label values
/// are far shorter; a larger one is hostile or broken, and would be copied into prometheus.yml
/// and every reload.
pub(crate) const MAX_JOB_TEXT: usize = 4 * 1024;
/// Longest inline PEM a `tls_config` may carry (`ca`, `cert`, `key`): room for a long chain.
pub(crate) const MAX_JOB_PEM: usize = 64 * 1024;

/// Longest text an alert or recording rule may carry in one field (expressions and annotation
/// templates can be long, but not megabytes).
pub(crate) const MAX_RULE_TEXT: usize = 64 * 1024;

/// The limit of a scrape job field, by the field's name.
pub(crate) fn job_text_limit(field: &str) -> usize {
    if matches!(field, "ca" | "cert" | "key") {
        MAX_JOB_PEM
    } else {
        MAX_JOB_TEXT
    }
}

/// At most `max_chars` characters of `text`, marked when cut: provider data quoted in an error
/// message, which ends up in `juju status` and in the provider's databag.
pub(crate) fn brief(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Refuses any text in `value` (found under `path`) longer than `limit` allows for its field
/// (the last dotted part of the key it is under; `""` for an item of a list); keys count too.
pub(crate) fn check_text_sizes(
    value: &OVal,
    path: &str,
    limit: &dyn Fn(&str) -> usize,
) -> Result<(), String> {
    check_sizes_under(value, TextPath::Root(path), limit)
}

/// Where a text is, written out only for an error: every value of every job is checked, and
/// formatting each one's path cost more than the check.
#[derive(Clone, Copy)]
enum TextPath<'a> {
    Root(&'a str),
    Index(&'a TextPath<'a>, usize),
    Key(&'a TextPath<'a>, &'a str),
}

impl TextPath<'_> {
    /// The field whose limit applies.
    fn field(&self) -> &str {
        match self {
            TextPath::Root(key) | TextPath::Key(_, key) => key.rsplit('.').next().unwrap_or(key),
            TextPath::Index(..) => "",
        }
    }
}

impl fmt::Display for TextPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextPath::Root(root) => f.write_str(root),
            TextPath::Index(parent, i) => write!(f, "{parent}[{i}]"),
            TextPath::Key(parent, key) => write!(f, "{parent}.{key}"),
        }
    }
}

fn check_sizes_under(
    value: &OVal,
    path: TextPath<'_>,
    limit: &dyn Fn(&str) -> usize,
) -> Result<(), String> {
    match value {
        OVal::Str(text) => {
            let limit = limit(path.field());
            if text.len() > limit {
                return Err(format!(
                    "{path} is {} bytes long, more than the {limit} allowed",
                    text.len()
                ));
            }
        }
        OVal::Arr(items) => {
            for (i, item) in items.iter().enumerate() {
                check_sizes_under(item, TextPath::Index(&path, i), limit)?;
            }
        }
        OVal::Obj(map) => {
            for (key, item) in map.iter() {
                if key.len() > MAX_JOB_TEXT {
                    return Err(format!(
                        "a key in {path} is {} bytes long, more than the {MAX_JOB_TEXT} allowed",
                        key.len()
                    ));
                }
                check_sizes_under(item, TextPath::Key(&path, key), limit)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Checks the fields of a job, given as its entries (twice iterable: sizes first).
pub(crate) fn check_job_fields<'a, I>(entries: I) -> Result<(), String>
where
    I: Iterator<Item = (&'a CompactString, &'a OVal)> + Clone,
{
    let get = |key: &str| entries.clone().find(|(k, _)| *k == key).map(|(_, v)| v);
    for (k, v) in entries.clone() {
        check_text_sizes(v, k, &job_text_limit)?;
    }
    for (k, v) in entries.clone() {
        let what = k.as_str();
        match what {
            "job_name" => {
                expect_str(v, what)?;
            }
            "metrics_path" => {
                let p = expect_str(v, what)?;
                if !p.starts_with('/') {
                    return Err(format!("metrics_path {p:?} must start with \"/\""));
                }
            }
            "static_configs" => {
                for (i, sc) in expect_list(v, what)?.iter().enumerate() {
                    check_static_config(sc, &format!("static_configs[{i}]"))?;
                }
            }
            "scrape_interval" | "scrape_timeout" => expect_duration(v, what)?,
            "proxy_url" => {
                let u = expect_str(v, what)?;
                let ok = ["http://", "https://", "socks5://"]
                    .iter()
                    .any(|s| u.starts_with(s));
                if !ok {
                    return Err(format!(
                        "proxy_url {u:?} must be an http, https or socks5 URL"
                    ));
                }
            }
            "relabel_configs" | "metric_relabel_configs" => {
                for (i, rc) in expect_list(v, what)?.iter().enumerate() {
                    check_relabel_config(rc, &format!("{what}[{i}]"))?;
                }
            }
            "sample_limit"
            | "label_limit"
            | "label_name_length_limit"
            | "label_value_length_limit" => expect_non_negative_int(v, what)?,
            "scheme" => {
                let s = expect_str(v, what)?;
                if s != "http" && s != "https" {
                    return Err(format!("scheme {s:?} must be \"http\" or \"https\""));
                }
            }
            "basic_auth" => expect_string_fields(
                expect_obj(v, what)?,
                what,
                &["username", "password", "username_file", "password_file"],
                &[],
            )?,
            "tls_config" => expect_string_fields(
                expect_obj(v, what)?,
                what,
                &[
                    "ca",
                    "ca_file",
                    "cert",
                    "cert_file",
                    "key",
                    "key_file",
                    "server_name",
                    "min_version",
                    "max_version",
                ],
                &["insecure_skip_verify"],
            )?,
            "authorization" => expect_string_fields(
                expect_obj(v, what)?,
                what,
                &["type", "credentials", "credentials_file"],
                &[],
            )?,
            "params" => {
                for (name, vals) in expect_obj(v, what)?.iter() {
                    let field = format!("params.{name}");
                    for s in expect_list(vals, &field)? {
                        expect_str(s, &field)?;
                    }
                }
            }
            _ => {}
        }
    }
    let auths: Vec<&str> = [
        "basic_auth",
        "authorization",
        "oauth2",
        "bearer_token",
        "bearer_token_file",
    ]
    .into_iter()
    .filter(|k| get(k).is_some())
    .collect();
    if auths.len() > 1 {
        return Err(format!("only one of {} may be set", auths.join(", ")));
    }
    if let (Some(i), Some(t)) = (get("scrape_interval"), get("scrape_timeout")) {
        if let (Some(i), Some(t)) = (
            i.as_str().and_then(duration_ms),
            t.as_str().and_then(duration_ms),
        ) {
            if t > i {
                return Err("scrape_timeout is greater than scrape_interval".into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_too_long_is_named_by_its_path_and_limited_by_its_key() {
        let big = "A".repeat(MAX_JOB_TEXT + 1);
        let check = |job: serde_json::Value| {
            let OVal::Obj(job) = OVal::from(job) else {
                unreachable!("an object")
            };
            check_job_fields(job.iter())
        };
        assert_eq!(
            check(serde_json::json!({"static_configs": [{"labels": {"a.b": big}}]})),
            Err(format!(
                "static_configs[0].labels.a.b is {} bytes long, more than the {MAX_JOB_TEXT} allowed",
                big.len()
            ))
        );
        // A PEM may be long under `ca`, `cert` and `key` (the last dotted part of a key), not
        // in a list under them.
        assert_eq!(
            check(serde_json::json!({"tls_config": {"ca": big}})),
            Ok(())
        );
        assert_eq!(
            check(serde_json::json!({"params": {"x.key": [big.clone()]}}))
                .map_err(|e| e[..16].to_owned()),
            Err("params.x.key[0] ".to_owned())
        );
        assert_eq!(
            check(serde_json::json!({"tls_config": {"cert": big, "key": big}})),
            Ok(())
        );
    }

    #[test]
    fn durations() {
        for ok in ["0", "30s", "1m", "1h30m", "100ms", "1y2w3d4h5m6s7ms"] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in ["", "30", "1.5m", "m", "30 s", "-1s", "1s1h"] {
            assert!(!is_duration(bad), "{bad}");
        }
        assert_eq!(duration_ms("1m30s"), Some(90_000));
        assert_eq!(duration_ms("250ms"), Some(250));
    }

    #[test]
    fn label_names() {
        assert!(is_label_name("juju_model"));
        assert!(is_label_name("_x9"));
        assert!(!is_label_name("9x"));
        assert!(!is_label_name("a-b"));
        assert!(!is_label_name(""));
    }

    #[test]
    fn relabel_rules() {
        let ok = OVal::parse(r#"{"source_labels": ["a"], "regex": "(.*)", "target_label": "b"}"#)
            .unwrap();
        assert!(check_relabel_config(&ok, "r").is_ok());
        let bad_action = OVal::parse(r#"{"action": "explode"}"#).unwrap();
        assert!(check_relabel_config(&bad_action, "r")
            .unwrap_err()
            .contains("explode"));
        let no_target = OVal::parse(r#"{"source_labels": ["a"]}"#).unwrap();
        assert!(check_relabel_config(&no_target, "r")
            .unwrap_err()
            .contains("target_label"));
        let bad_re = OVal::parse(r#"{"action": "keep", "regex": "(unclosed"}"#).unwrap();
        assert!(check_relabel_config(&bad_re, "r").is_err());
    }
}

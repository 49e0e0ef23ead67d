//! Prometheus label-name rules and the `k=v,k2=v2` label list of `--labels`.

use std::collections::BTreeMap;

/// Reasons a label list is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// An item is not `name=value`.
    #[error("`{0}` is not name=value")]
    NotPair(String),
    /// The name breaks Prometheus' rule `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("`{0}` is not a valid Prometheus label name")]
    InvalidName(String),
    /// Names starting with `__` are reserved (e.g. `__metrics_path__`): set those in the scrape job.
    #[error("`{0}` is reserved (names starting with `__` belong to the scrape job)")]
    Reserved(String),
    /// The value is empty (Prometheus treats it as an absent label).
    #[error("label `{0}` has an empty value")]
    EmptyValue(String),
    /// The same name appears twice.
    #[error("label `{0}` is given twice")]
    Duplicate(String),
}

/// Whether `name` is a valid Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses `k=v,k2=v2` (whitespace around items is ignored; an empty string is no labels).
pub fn parse_label_list(text: &str) -> Result<BTreeMap<String, String>, LabelError> {
    let mut labels = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (name, value) = item
            .split_once('=')
            .ok_or_else(|| LabelError::NotPair(item.to_owned()))?;
        let (name, value) = (name.trim(), value.trim());
        if !is_valid_label_name(name) {
            return Err(LabelError::InvalidName(name.to_owned()));
        }
        if name.starts_with("__") {
            return Err(LabelError::Reserved(name.to_owned()));
        }
        if value.is_empty() {
            return Err(LabelError::EmptyValue(name.to_owned()));
        }
        if labels.insert(name.to_owned(), value.to_owned()).is_some() {
            return Err(LabelError::Duplicate(name.to_owned()));
        }
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names() {
        for ok in ["a", "_a", "A_1", "job", "__metrics_path__"] {
            assert!(is_valid_label_name(ok), "{ok}");
        }
        for bad in ["", "1a", "a-b", "a.b", "é", "a b"] {
            assert!(!is_valid_label_name(bad), "{bad}");
        }
    }

    #[test]
    fn lists() {
        assert!(parse_label_list("").unwrap().is_empty());
        let l = parse_label_list(" env=prod , team=a=b ").unwrap();
        assert_eq!(l["env"], "prod");
        assert_eq!(l["team"], "a=b");
        assert_eq!(
            parse_label_list("env"),
            Err(LabelError::NotPair("env".into()))
        );
        assert_eq!(
            parse_label_list("1x=y"),
            Err(LabelError::InvalidName("1x".into()))
        );
        assert_eq!(
            parse_label_list("__scheme__=https"),
            Err(LabelError::Reserved("__scheme__".into()))
        );
        assert_eq!(
            parse_label_list("a=1,a=2"),
            Err(LabelError::Duplicate("a".into()))
        );
        assert_eq!(
            parse_label_list("a="),
            Err(LabelError::EmptyValue("a".into()))
        );
    }
}

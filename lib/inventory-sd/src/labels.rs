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
    /// `job` and `instance` are the scrape job's (an inventory must not pose as another job).
    #[error("`{0}` is set by the scrape job, not by labels")]
    JobLabel(String),
    /// The value is longer than [`MAX_LABEL_VALUE_BYTES`].
    #[error("label `{name}` has a value of {bytes} bytes, more than {MAX_LABEL_VALUE_BYTES}")]
    ValueTooLong {
        /// The label name.
        name: String,
        /// Its value's length.
        bytes: usize,
    },
    /// A name longer than [`MAX_LABEL_NAME_BYTES`].
    #[error("a label name of {0} bytes, more than {MAX_LABEL_NAME_BYTES}")]
    NameTooLong(usize),
    /// More than [`MAX_LABELS`] labels.
    #[error("{0} labels, more than {MAX_LABELS}")]
    TooMany(usize),
    /// A control character in the value.
    #[error("label `{0}` has control characters in its value")]
    ControlCharacter(String),
}

/// Most labels in one list (`--labels`, `inventory_labels`, or one inventory group).
pub const MAX_LABELS: usize = 32;

/// Longest label name, in bytes.
pub const MAX_LABEL_NAME_BYTES: usize = 128;

/// Longest label value, in bytes. With [`MAX_LABELS`] this keeps `--labels` far below the
/// 128 KiB the kernel allows for one argument.
pub const MAX_LABEL_VALUE_BYTES: usize = 1024;

/// The rules every label name and value from outside obeys, wherever it comes from: a valid
/// Prometheus name of at most [`MAX_LABEL_NAME_BYTES`], not reserved (`__*` belongs to the
/// scrape job's internals, `job` and `instance` to the job itself), a non-empty value of at most
/// [`MAX_LABEL_VALUE_BYTES`] without control characters.
pub fn check_label(name: &str, value: &str) -> Result<(), LabelError> {
    if name.len() > MAX_LABEL_NAME_BYTES {
        return Err(LabelError::NameTooLong(name.len()));
    }
    if !is_valid_label_name(name) {
        return Err(LabelError::InvalidName(name.to_owned()));
    }
    if name.starts_with("__") {
        return Err(LabelError::Reserved(name.to_owned()));
    }
    if name == "job" || name == "instance" {
        return Err(LabelError::JobLabel(name.to_owned()));
    }
    if value.is_empty() {
        return Err(LabelError::EmptyValue(name.to_owned()));
    }
    if value.len() > MAX_LABEL_VALUE_BYTES {
        return Err(LabelError::ValueTooLong {
            name: name.to_owned(),
            bytes: value.len(),
        });
    }
    if value.chars().any(char::is_control) {
        return Err(LabelError::ControlCharacter(name.to_owned()));
    }
    Ok(())
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

/// Parses `k=v,k2=v2` (whitespace around items is ignored; an empty string is no labels),
/// each label under [`check_label`], at most [`MAX_LABELS`].
pub fn parse_label_list(text: &str) -> Result<BTreeMap<String, String>, LabelError> {
    let mut labels = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (name, value) = item
            .split_once('=')
            .ok_or_else(|| LabelError::NotPair(item.to_owned()))?;
        let (name, value) = (name.trim(), value.trim());
        check_label(name, value)?;
        if labels.insert(name.to_owned(), value.to_owned()).is_some() {
            return Err(LabelError::Duplicate(name.to_owned()));
        }
        if labels.len() > MAX_LABELS {
            return Err(LabelError::TooMany(labels.len()));
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
        for reserved in ["job=prometheus", "instance=x"] {
            assert!(
                matches!(parse_label_list(reserved), Err(LabelError::JobLabel(_))),
                "{reserved}"
            );
        }
        let big = format!("a={}", "v".repeat(MAX_LABEL_VALUE_BYTES + 1));
        assert!(matches!(
            parse_label_list(&big),
            Err(LabelError::ValueTooLong { .. })
        ));
        let many: Vec<String> = (0..=MAX_LABELS).map(|i| format!("l{i}=v")).collect();
        assert!(matches!(
            parse_label_list(&many.join(",")),
            Err(LabelError::TooMany(_))
        ));
    }
}

//! A charm's `config.yaml`: the options it declares, their types and defaults, and the checks
//! Juju makes on a value given with `juju config` before any hook sees it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One option declared in config.yaml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigOption {
    /// `string`, `int`, `float`, `boolean` or `secret`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The default, if any (`null` = no default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

/// The options of a config.yaml, by name.
pub type ConfigOptions = BTreeMap<String, ConfigOption>;

/// A value Juju refuses for an option.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigValueError {
    /// config.yaml does not declare the option.
    #[error("unknown config option {0:?}")]
    UnknownOption(String),
    /// The value is not of the option's declared type.
    #[error("config option {option:?} is of type {expected}, got {value}")]
    WrongType {
        /// The option.
        option: String,
        /// Its declared type.
        expected: String,
        /// The refused value.
        value: Value,
    },
}

/// Checks `value` for option `key` as `juju config` does: the option must be declared and the
/// value of its type (`null`, which resets an option, is always accepted).
pub fn check_config_value(
    options: &ConfigOptions,
    key: &str,
    value: &Value,
) -> Result<(), ConfigValueError> {
    if value.is_null() {
        return Ok(());
    }
    let option = options
        .get(key)
        .ok_or_else(|| ConfigValueError::UnknownOption(key.to_string()))?;
    let fits = match option.kind.as_str() {
        "string" | "secret" => value.is_string(),
        "int" => value.is_i64() || value.is_u64(),
        "float" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    };
    if fits {
        Ok(())
    } else {
        Err(ConfigValueError::WrongType {
            option: key.to_string(),
            expected: option.kind.clone(),
            value: value.clone(),
        })
    }
}

/// What `config-get` prints: every option with a non-null default, with the values set over
/// them (a `null` value resets its option to the default).
pub fn effective_config<'a>(
    options: &ConfigOptions,
    set: impl IntoIterator<Item = (&'a String, &'a Value)>,
) -> Map<String, Value> {
    let mut out: Map<String, Value> = options
        .iter()
        .filter_map(|(k, o)| match &o.default {
            Some(v) if !v.is_null() => Some((k.clone(), v.clone())),
            _ => None,
        })
        .collect();
    for (k, v) in set {
        if v.is_null() {
            match options.get(k).and_then(|o| o.default.clone()) {
                Some(default) if !default.is_null() => out.insert(k.clone(), default),
                _ => out.remove(k),
            };
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn options() -> ConfigOptions {
        serde_json::from_value(json!({
            "name": {"type": "string", "default": "a"},
            "count": {"type": "int"},
            "on": {"type": "boolean", "default": false},
        }))
        .unwrap()
    }

    #[test]
    fn values_are_checked_against_the_declared_type() {
        let o = options();
        assert!(check_config_value(&o, "count", &json!(3)).is_ok());
        assert!(check_config_value(&o, "count", &Value::Null).is_ok());
        assert_eq!(
            check_config_value(&o, "count", &json!("3"))
                .unwrap_err()
                .to_string(),
            "config option \"count\" is of type int, got \"3\""
        );
        assert_eq!(
            check_config_value(&o, "nope", &json!(1)).unwrap_err(),
            ConfigValueError::UnknownOption("nope".into())
        );
    }

    #[test]
    fn the_effective_config_is_the_defaults_with_the_values_set_over_them() {
        let o = options();
        let set = Map::from_iter([
            ("count".to_string(), json!(2)),
            ("name".to_string(), Value::Null),
        ]);
        assert_eq!(
            Value::Object(effective_config(&o, &set)),
            json!({"name": "a", "count": 2, "on": false})
        );
    }
}

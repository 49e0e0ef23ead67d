//! Canonical YAML: every mapping's keys sorted, so equal configs are equal bytes whatever order
//! their parts were assembled in (and whether or not `serde_json` preserves insertion order).

use std::cmp::Ordering;

use serde::Serialize;
use serde_yaml_ng::{Mapping, Value};

/// Serialises `value` as YAML with all mapping keys sorted, recursively.
pub fn to_canonical_yaml<T: Serialize>(value: &T) -> Result<String, serde_yaml_ng::Error> {
    let tree = sorted(serde_yaml_ng::to_value(value)?);
    serde_yaml_ng::to_string(&tree)
}

fn sorted(value: Value) -> Value {
    match value {
        Value::Mapping(map) => {
            let mut entries: Vec<(Value, Value)> =
                map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            entries.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal));
            Value::Mapping(entries.into_iter().collect::<Mapping>())
        }
        Value::Sequence(seq) => Value::Sequence(seq.into_iter().map(sorted).collect()),
        Value::Tagged(mut tagged) => {
            tagged.value = sorted(tagged.value);
            Value::Tagged(tagged)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_nested_keys_and_keeps_sequence_order() {
        let v = serde_json::json!({"b": {"z": 1, "a": [{"y": 1, "x": 2}, 3]}, "a": true});
        assert_eq!(
            to_canonical_yaml(&v).unwrap(),
            "a: true\nb:\n  a:\n  - x: 2\n    y: 1\n  - 3\n  z: 1\n"
        );
    }
}

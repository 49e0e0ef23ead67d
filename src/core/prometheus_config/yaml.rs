//! Canonical YAML: every mapping's keys sorted, so equal configs are equal bytes whatever order
//! their parts were assembled in (and whether or not `serde_json` preserves insertion order).

use serde::Serialize;

/// Serialises `value` as YAML with all mapping keys sorted, recursively.
///
/// Going through `serde_json::Value` sorts every mapping for free: without its
/// `preserve_order` feature (which nothing in this workspace enables; a test below guards it),
/// `serde_json::Map` is a `BTreeMap`. That is about twice as fast as sorting a YAML value tree,
/// which matters for configurations of thousands of jobs.
///
/// The bytes are `serde_yaml_ng`'s; `block_yaml` writes them itself when it can (ten
/// times faster), else `serde_yaml_ng` does.
pub fn to_canonical_yaml<T: Serialize>(value: &T) -> Result<String, super::RenderError> {
    value_to_yaml(&serde_json::to_value(value)?)
}

/// Serialises a JSON tree as YAML; its mappings are sorted already (see [`to_canonical_yaml`]).
pub(super) fn value_to_yaml(tree: &serde_json::Value) -> Result<String, super::RenderError> {
    if let Some(text) = super::block_yaml::to_block_yaml(tree) {
        return Ok(text);
    }
    Ok(serde_yaml_ng::to_string(tree)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_maps_iterate_in_key_order() {
        let map: serde_json::Map<String, serde_json::Value> =
            [("b".to_string(), 1.into()), ("a".to_string(), 2.into())]
                .into_iter()
                .collect();
        let keys: Vec<&String> = map.keys().collect();
        assert_eq!(keys, ["a", "b"], "serde_json's preserve_order got enabled");
    }

    #[test]
    fn sorts_nested_keys_and_keeps_sequence_order() {
        let v = serde_json::json!({"b": {"z": 1, "a": [{"y": 1, "x": 2}, 3]}, "a": true});
        assert_eq!(
            to_canonical_yaml(&v).unwrap(),
            "a: true\nb:\n  a:\n  - x: 2\n    y: 1\n  - 3\n  z: 1\n"
        );
    }
}

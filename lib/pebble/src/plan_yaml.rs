//! The plan YAML exactly as Pebble prints it for `GET /v1/plan?format=yaml`.
//!
//! Pebble marshals with Go's yaml.v3: 4-space indentation, sequences indented under their key,
//! fields in schema order, map keys sorted. `serde_yaml_ng` has a fixed 2-space layout, so this
//! module lays out the block structure itself and leaves every scalar to `serde_yaml_ng`, only
//! switching to yaml.v3's double quotes where yaml.v3 uses them (strings that would otherwise
//! read as another type).
//!
//! Known difference: yaml.v3 orders map keys "naturally" (`c9` before `c10`); here keys are in
//! plain byte order.

use serde_yaml_ng::Value;

use crate::layer::Plan;

const INDENT: usize = 4;

/// Renders a combined plan the way `GET /v1/plan?format=yaml` returns it (`{}\n` when empty).
///
/// The plan's summary and description are not part of Pebble's plan and are not printed. Use a
/// plan from [`crate::merge::combine_layers`], which fills the printed `threshold` default.
pub fn plan_to_yaml(plan: &Plan) -> String {
    let mut plan = plan.clone();
    plan.summary = None;
    plan.description = None;
    let value = serde_yaml_ng::to_value(&plan).expect("a plan always serialises to YAML");
    match &value {
        Value::Mapping(m) if !m.is_empty() => {
            let mut out = String::new();
            emit_mapping(&mut out, m, 0);
            out
        }
        _ => "{}\n".to_string(),
    }
}

fn emit_mapping(out: &mut String, map: &serde_yaml_ng::Mapping, indent: usize) {
    for (key, value) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(scalar(key, indent).trim_end());
        out.push(':');
        emit_value(out, value, indent);
    }
}

/// Emits the value of a mapping entry or sequence item, after the `key:` or `-` already written.
fn emit_value(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Mapping(m) if !m.is_empty() => {
            out.push('\n');
            emit_mapping(out, m, indent + INDENT);
        }
        Value::Sequence(items) if !items.is_empty() => {
            out.push('\n');
            for item in items {
                out.push_str(&" ".repeat(indent + INDENT));
                out.push('-');
                // Items here are scalars in Pebble's schema; nested mappings would be laid out
                // on the following lines.
                emit_value(out, item, indent + INDENT);
            }
        }
        Value::Mapping(_) => out.push_str(" {}\n"),
        Value::Sequence(_) => out.push_str(" []\n"),
        other => {
            out.push(' ');
            out.push_str(&scalar(other, indent));
        }
    }
}

/// One scalar, newline-terminated, with multi-line block scalars re-indented to `indent + 4`.
fn scalar(value: &Value, indent: usize) -> String {
    if let Value::Number(n) = value {
        if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
            return format!("{}\n", go_float(f));
        }
    }
    let text = serde_yaml_ng::to_string(value).expect("scalars always serialise");
    if let Value::String(s) = value {
        if !s.contains('\n') && needs_double_quotes(s) {
            return format!("{}\n", serde_json::to_string(s).expect("strings serialise"));
        }
        if text.starts_with('|') {
            // Block scalar: header line, then content indented by 2; re-indent to ours.
            let mut lines = text.lines();
            // An explicit indentation indicator (`|2-`, for content starting with a blank or
            // a line break) counts from the key: ours is INDENT, not serde_yaml_ng's 2.
            let header: String = lines
                .next()
                .unwrap_or("|")
                .chars()
                .map(|c| {
                    if c.is_ascii_digit() {
                        char::from_digit(INDENT as u32, 10).unwrap_or(c)
                    } else {
                        c
                    }
                })
                .collect();
            let mut out = format!("{header}\n");
            for line in lines {
                let content = line.strip_prefix("  ").unwrap_or(line);
                if !content.is_empty() {
                    out.push_str(&" ".repeat(indent + INDENT));
                }
                out.push_str(content);
                out.push('\n');
            }
            return out;
        }
    }
    text
}

/// yaml.v3 double-quotes strings that would otherwise read as another type, including YAML 1.1
/// booleans such as `on` and `yes`.
fn needs_double_quotes(s: &str) -> bool {
    const OLD_BOOLS: [&str; 16] = [
        "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off",
        "OFF",
    ];
    // Only text that is a whole plain scalar can resolve to another type; anything else
    // (comments, leading spaces, `a: b`) is single-quoted by both emitters.
    let resolves_to_other_type = !s.starts_with('#')
        && s.trim() == s
        && matches!(
            serde_yaml_ng::from_str::<Value>(s),
            Ok(Value::Null | Value::Bool(_) | Value::Number(_))
        );
    s.is_empty() || OLD_BOOLS.contains(&s) || resolves_to_other_type
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` for the values a plan holds (`2`, `1.5`).
fn go_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_follows_yaml_v3() {
        assert!(needs_double_quotes(""));
        assert!(needs_double_quotes("123"));
        assert!(needs_double_quotes("on"));
        assert!(needs_double_quotes("true"));
        assert!(!needs_double_quotes("a: b"));
        assert!(!needs_double_quotes("#c"));
        assert!(!needs_double_quotes(" 1"));
        assert!(!needs_double_quotes("500ms"));
        assert_eq!(go_float(2.0), "2");
        assert_eq!(go_float(1.5), "1.5");
    }
}

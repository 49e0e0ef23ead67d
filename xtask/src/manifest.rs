//! manifest.yaml: the file `charmcraft pack` adds to every charm. Juju reads `bases` from it to
//! know where the charm runs; the other keys record how and when the charm was built.

use std::time::SystemTime;

use serde::Serialize;

use crate::recipe::Recipe;
use crate::PackError;

/// Written as `charmcraft-version`: names this packer rather than a charmcraft release, so a
/// charm built without charmcraft can be told apart.
pub const PACKER_VERSION: &str = concat!("xtask-pack ", env!("CARGO_PKG_VERSION"));

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Manifest<'a> {
    charmcraft_version: &'a str,
    charmcraft_started_at: String,
    bases: Vec<Base<'a>>,
    analysis: Analysis,
}

#[derive(Serialize)]
struct Base<'a> {
    name: &'a str,
    channel: &'a str,
    architectures: &'a [String],
}

#[derive(Serialize)]
struct Analysis {
    attributes: Vec<Attribute>,
}

#[derive(Serialize)]
struct Attribute {
    name: &'static str,
    result: &'static str,
}

/// Renders manifest.yaml for `recipe`, stamped with `started_at` (UTC, microseconds).
///
/// `analysis.attributes` carries what charmcraft's analysers would find: `language` and
/// `framework` are both `unknown` for a charm that is a compiled binary without ops.
pub fn render_manifest(recipe: &Recipe, started_at: SystemTime) -> Result<String, PackError> {
    let manifest = Manifest {
        charmcraft_version: PACKER_VERSION,
        charmcraft_started_at: humantime::format_rfc3339_micros(started_at).to_string(),
        bases: vec![Base {
            name: &recipe.base.name,
            channel: &recipe.base.channel,
            architectures: &recipe.base.architectures,
        }],
        analysis: Analysis {
            attributes: vec![
                Attribute {
                    name: "language",
                    result: "unknown",
                },
                Attribute {
                    name: "framework",
                    result: "unknown",
                },
            ],
        },
    };
    Ok(serde_yaml_ng::to_string(&manifest)?)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::recipe::RunBase;

    #[test]
    fn manifest_lists_the_run_base_and_stays_a_string_channel() {
        let recipe = Recipe {
            name: "demo".into(),
            platform: "amd64".into(),
            base: RunBase {
                name: "ubuntu".into(),
                channel: "24.04".into(),
                architectures: vec!["amd64".into()],
            },
        };
        let at = UNIX_EPOCH + Duration::from_micros(1_764_074_767_123_456);
        let text = render_manifest(&recipe, at).unwrap();
        let expected = format!(
            "charmcraft-version: {PACKER_VERSION}\n\
             charmcraft-started-at: 2025-11-25T12:46:07.123456Z\n\
             bases:\n\
             - name: ubuntu\n  channel: '24.04'\n  architectures:\n  - amd64\n\
             analysis:\n  attributes:\n  - name: language\n    result: unknown\n  \
             - name: framework\n    result: unknown\n"
        );
        assert_eq!(text, expected);
        // The channel must read back as the string "24.04", not the number 24.04.
        let back: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(back["bases"][0]["channel"].as_str(), Some("24.04"));
    }
}

//! What the archive needs from charmcraft.yaml and metadata.yaml: the charm's name, the base it
//! runs on and the platform it is built for.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::PackError;

/// The run-time base of the charm, as manifest.yaml lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunBase {
    /// Distribution, e.g. `ubuntu`.
    pub name: String,
    /// Release, e.g. `24.04`.
    pub channel: String,
    /// Debian architectures, e.g. `amd64`.
    pub architectures: Vec<String>,
}

/// The parts of the build recipe the archive depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    /// `name` from metadata.yaml.
    pub name: String,
    /// The platform packed (the first of charmcraft.yaml's `platforms`, in name order).
    pub platform: String,
    /// `base` and the platform's `build-for` architectures.
    pub base: RunBase,
}

#[derive(Deserialize)]
struct CharmcraftYaml {
    #[serde(rename = "type")]
    kind: String,
    base: Option<String>,
    #[serde(default)]
    platforms: BTreeMap<String, Option<PlatformYaml>>,
}

#[derive(Deserialize)]
struct PlatformYaml {
    #[serde(rename = "build-for", default)]
    build_for: Vec<String>,
}

#[derive(Deserialize)]
struct MetadataYaml {
    name: String,
}

fn read_yaml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, PackError> {
    let text = std::fs::read_to_string(path).map_err(|e| PackError::io(path, e))?;
    serde_yaml_ng::from_str(&text).map_err(|e| PackError::Recipe {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

impl Recipe {
    /// Reads charmcraft.yaml and metadata.yaml from the project directory.
    pub fn load(project_dir: &Path) -> Result<Recipe, PackError> {
        let recipe_path = project_dir.join("charmcraft.yaml");
        let bad = |reason: String| PackError::Recipe {
            path: recipe_path.clone(),
            reason,
        };
        let recipe: CharmcraftYaml = read_yaml(&recipe_path)?;
        if recipe.kind != "charm" {
            return Err(bad(format!("type is {:?}, not \"charm\"", recipe.kind)));
        }
        let base = recipe
            .base
            .ok_or_else(|| bad("no `base` (e.g. ubuntu@24.04)".into()))?;
        let (distro, channel) = base
            .split_once('@')
            .ok_or_else(|| bad(format!("base {base:?} is not <distribution>@<release>")))?;
        let (platform, spec) = recipe
            .platforms
            .into_iter()
            .next()
            .ok_or_else(|| bad("no `platforms`".into()))?;
        // Shorthand `amd64:` builds for the architecture it is named after.
        let architectures = match spec {
            Some(p) if !p.build_for.is_empty() => p.build_for,
            _ => vec![platform.clone()],
        };
        if let Some(multi) = architectures.iter().find(|a| a.contains(':')) {
            return Err(bad(format!(
                "multi-base platform entry {multi:?} is not supported; use `base` and an architecture"
            )));
        }
        let metadata: MetadataYaml = read_yaml(&project_dir.join("metadata.yaml"))?;
        Ok(Recipe {
            name: metadata.name,
            platform,
            base: RunBase {
                name: distro.to_string(),
                channel: channel.to_string(),
                architectures,
            },
        })
    }

    /// The archive name charmcraft gives this charm: `<name>_<platform>.charm`.
    pub fn charm_file_name(&self) -> String {
        format!("{}_{}.charm", self.name, self.platform)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(charmcraft: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("charmcraft.yaml"), charmcraft).unwrap();
        std::fs::write(dir.path().join("metadata.yaml"), "name: demo-k8s\n").unwrap();
        dir
    }

    #[test]
    fn shorthand_platform_builds_for_its_own_architecture() {
        let dir = project("type: charm\nbase: ubuntu@24.04\nplatforms:\n  amd64:\n");
        let recipe = Recipe::load(dir.path()).unwrap();
        assert_eq!(recipe.name, "demo-k8s");
        assert_eq!(recipe.charm_file_name(), "demo-k8s_amd64.charm");
        assert_eq!(
            recipe.base,
            RunBase {
                name: "ubuntu".into(),
                channel: "24.04".into(),
                architectures: vec!["amd64".into()],
            }
        );
    }

    #[test]
    fn standard_platform_uses_build_for() {
        let dir = project(
            "type: charm\nbase: ubuntu@22.04\nplatforms:\n  x86:\n    build-on: [amd64]\n    build-for: [amd64]\n",
        );
        let recipe = Recipe::load(dir.path()).unwrap();
        assert_eq!(recipe.platform, "x86");
        assert_eq!(recipe.base.channel, "22.04");
        assert_eq!(recipe.base.architectures, ["amd64"]);
    }

    #[test]
    fn rejects_recipes_it_cannot_describe() {
        for (text, needle) in [
            ("type: bundle\n", "not \"charm\""),
            ("type: charm\nplatforms:\n  amd64:\n", "no `base`"),
            ("type: charm\nbase: noble\nplatforms:\n  amd64:\n", "<distribution>@<release>"),
            ("type: charm\nbase: ubuntu@24.04\n", "no `platforms`"),
            (
                "type: charm\nbase: ubuntu@24.04\nplatforms:\n  p:\n    build-on: [ubuntu@24.04:amd64]\n    build-for: [ubuntu@24.04:amd64]\n",
                "multi-base",
            ),
        ] {
            let dir = project(text);
            let err = Recipe::load(dir.path()).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}

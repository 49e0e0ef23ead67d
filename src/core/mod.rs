//! The pure core: from a model snapshot and the config options to everything the charm wants
//! (prometheus.yml, rule files, the Pebble layer, relation data, the status). No Juju, Pebble,
//! Kubernetes or file-system calls: hooks and `render` share it, and tests call it directly.
//! Nothing here imports [`crate::hook`], [`crate::effects`] or [`crate::cli`].

pub mod charm_tracing;
pub mod config;
pub mod desired;
pub mod desired_workload;
pub mod endpoints;
pub mod grafana_dashboard;
pub mod layer;
pub mod limits;
pub mod log_forwarding;
pub mod manifest;
pub mod model;
pub mod prometheus_config;
pub mod quantity;
pub mod relation_shape;
pub mod sharding;
pub mod tls;
pub mod version;
pub mod workload;
pub mod workload_tracing;

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// Paths the core must never name: the other layers, and the clients and calls that reach
    /// outside the process.
    const FORBIDDEN: &[&str] = &[
        "crate::hook",
        "crate::effects",
        "crate::cli",
        "pebble::Client",
        "reqwest::blocking",
        "kube::",
        "tokio::",
        "std::fs",
        "std::net",
        "std::process",
        "std::env::",
        "SystemTime::now",
        "Instant::now",
    ];

    fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src/core is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                rust_files(&path, into);
            } else if path.extension().is_some_and(|e| e == "rs") {
                into.push(path);
            }
        }
    }

    /// Every path a source text names outside comments, with the items of grouped imports
    /// (`use crate::{hook, ...}`, on one line or several) spelled out as `crate::<item>`.
    fn violations(text: &str) -> Vec<String> {
        let split = |s: &str| -> Vec<String> {
            s.split([',', '{', '}', ';'])
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| format!("crate::{item}"))
                .collect()
        };
        let mut found = Vec::new();
        let mut in_group = false;
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("").trim();
            let mut names = vec![code.to_owned()];
            if in_group {
                names.extend(split(code));
                in_group = !code.contains('}');
            }
            if let Some((_, rest)) = code.split_once("crate::{") {
                names.extend(split(rest));
                in_group = !rest.contains('}');
            }
            for forbidden in FORBIDDEN {
                if names.iter().any(|n| n.contains(forbidden)) {
                    found.push(format!("line {}: {forbidden}: {}", number + 1, line.trim()));
                }
            }
        }
        found
    }

    #[test]
    fn the_checker_catches_imports_of_other_layers_and_io() {
        assert!(!violations("use crate::effects::apply::ApplyError;").is_empty());
        assert!(!violations("use crate::{core::model, hook::reconcile};").is_empty());
        assert!(!violations("use crate::{\n    core::model,\n    cli::render,\n};").is_empty());
        assert!(!violations("    let x = std::fs::read(path);").is_empty());
        assert!(violations("use crate::core::model::ModelSnapshot; // not crate::hook").is_empty());
        assert!(violations("//! Applied by [`crate::effects::apply`].").is_empty());
    }

    /// The core is pure: no file under `src/core` imports the hook flow, the effects or the
    /// command-line layer, or reaches the file system, the network or other processes. This
    /// keeps the core usable by `render` and by tests without a workload.
    #[test]
    fn core_imports_no_other_layer_and_does_no_io() {
        let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core");
        let mut files = Vec::new();
        rust_files(&core, &mut files);
        assert!(files.len() > 10, "src/core holds the core's files");
        let mut problems = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("readable source");
            // The tests below the code may use the file system (this one does).
            let code = text.split("#[cfg(test)]").next().unwrap_or(&text);
            for v in violations(code) {
                problems.push(format!("{}: {v}", file.display()));
            }
        }
        assert!(
            problems.is_empty(),
            "the core must stay pure:\n{}",
            problems.join("\n")
        );
    }
}

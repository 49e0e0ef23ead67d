//! Building the static charm binary with cargo.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{PackError, BINARY_NAME};

/// The target of the shipped binary: static, so it runs in the charm container and in the
/// workload image whatever their libc.
pub const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

/// Runs `cargo build --release --locked --target x86_64-unknown-linux-musl -p prometheus-rs-k8s`
/// in `workspace` and returns the path of the binary cargo reports.
pub fn build_release_binary(workspace: &Path) -> Result<PathBuf, PackError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .current_dir(workspace)
        .args(["build", "--release", "--locked", "--target", MUSL_TARGET])
        .args(["-p", BINARY_NAME, "--bin", BINARY_NAME])
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| PackError::Build(format!("cannot run cargo: {e}")))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut executable = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.map_err(|e| PackError::Build(e.to_string()))?;
        if let Some(path) = executable_of(&line) {
            executable = Some(path);
        }
    }
    let status = child.wait().map_err(|e| PackError::Build(e.to_string()))?;
    if !status.success() {
        return Err(PackError::Build(format!("cargo exited with {status}")));
    }
    executable.ok_or_else(|| PackError::Build(format!("cargo reported no {BINARY_NAME} binary")))
}

/// The executable of a `compiler-artifact` message for the charm binary, if `line` is one.
fn executable_of(line: &str) -> Option<PathBuf> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message["reason"] != "compiler-artifact" || message["target"]["name"] != BINARY_NAME {
        return None;
    }
    message["executable"].as_str().map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_charm_binary_from_cargo_messages() {
        let bin = r#"{"reason":"compiler-artifact","target":{"name":"prometheus-rs-k8s","kind":["bin"]},"executable":"/t/x86_64-unknown-linux-musl/release/prometheus-rs-k8s"}"#;
        let lib = r#"{"reason":"compiler-artifact","target":{"name":"prometheus_rs_k8s","kind":["lib"]},"executable":null}"#;
        let done = r#"{"reason":"build-finished","success":true}"#;
        assert_eq!(
            executable_of(bin),
            Some(PathBuf::from(
                "/t/x86_64-unknown-linux-musl/release/prometheus-rs-k8s"
            ))
        );
        assert_eq!(executable_of(lib), None);
        assert_eq!(executable_of(done), None);
        assert_eq!(executable_of("not json"), None);
    }
}

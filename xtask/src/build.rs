//! Building the static charm binary with cargo.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{PackError, BINARY_NAME};

/// The target of the shipped binary: static, so it runs in the charm container and in the
/// workload image whatever their libc.
pub const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

/// C compilers for the musl target that the `cc` crate looks for (the TLS code of the
/// Kubernetes client has C and assembly parts), unless `CC_x86_64_unknown_linux_musl` names one.
const MUSL_COMPILERS: [&str; 2] = ["x86_64-linux-musl-gcc", "musl-gcc"];

/// Whether a C compiler for the musl target can be found, given `PATH` and the `cc` crate's
/// per-target override variable.
pub fn musl_compiler_available(path: Option<&std::ffi::OsStr>, cc_override: bool) -> bool {
    cc_override
        || path.is_some_and(|p| {
            std::env::split_paths(p).any(|dir| MUSL_COMPILERS.iter().any(|c| dir.join(c).is_file()))
        })
}

/// Runs `cargo build --release --locked --target x86_64-unknown-linux-musl -p prometheus-rs-k8s`
/// in `workspace` and returns the path of the binary cargo reports.
pub fn build_release_binary(workspace: &Path) -> Result<PathBuf, PackError> {
    let path = std::env::var_os("PATH");
    let cc_override = std::env::var_os("CC_x86_64_unknown_linux_musl").is_some();
    if !musl_compiler_available(path.as_deref(), cc_override) {
        return Err(PackError::Build(
            "no C compiler for the musl target (musl-gcc): install it with \
             `apt-get install musl-tools`, or pass --binary"
                .into(),
        ));
    }
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
    fn musl_compiler_is_found_on_path_or_named_by_the_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = std::env::join_paths([dir.path()]).unwrap();
        assert!(!musl_compiler_available(Some(&path), false));
        assert!(!musl_compiler_available(None, false));
        assert!(musl_compiler_available(None, true));
        std::fs::write(dir.path().join("musl-gcc"), "").unwrap();
        assert!(musl_compiler_available(Some(&path), false));
    }

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

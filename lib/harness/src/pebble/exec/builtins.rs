//! Built-in exec handlers: `prometheus --version`, and real host commands (promtool) run on
//! the fake's file system.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use super::{ExecHandler, ExecRequest, ExecResult};
use crate::pebble::files::{host_path, map_arg};

/// Answers `prometheus --version` the way Prometheus prints it; other invocations exit 1.
pub fn prometheus_version_handler(version: &str) -> ExecHandler {
    let text = format!(
        "prometheus, version {version} (branch: HEAD, revision: 0000000000000000000000000000000000000000)\n  \
         build user:       root@buildkitsandbox\n  \
         build date:       20250714-16:15:23\n  \
         go version:       go1.24.5\n  \
         platform:         linux/amd64\n  \
         tags:             netgo,builtinassets\n"
    );
    Arc::new(move |req: &ExecRequest| {
        if req.args().iter().any(|a| a == "--version") {
            ExecResult::success(text.clone())
        } else {
            ExecResult::failure(
                1,
                "the fake Prometheus only answers --version\n".to_string(),
            )
        }
    })
}

/// Container paths that a real tool must see under the fake's file-system root.
const MAPPED_PREFIXES: [&str; 2] = ["/etc/", "/opt/"];

/// Runs the host's real `promtool` on the fake's file system, as [`real_command_handler`].
pub fn real_promtool_handler(promtool: PathBuf) -> ExecHandler {
    real_command_handler(promtool)
}

/// Runs a real host executable instead of the container's: container paths under /etc and
/// /opt in arguments (`/etc/x`, `--flag=/etc/x`) and the working directory are mapped into the
/// fake's file system, stdin is fed in, and host paths in its (UTF-8) output are mapped back to
/// container paths. The request's environment is passed on, except `PATH` and `HOME`.
pub fn real_command_handler(executable: PathBuf) -> ExecHandler {
    Arc::new(move |req: &ExecRequest| run_host_command(&executable, req))
}

fn run_host_command(executable: &Path, req: &ExecRequest) -> ExecResult {
    let args: Vec<String> = req
        .args()
        .iter()
        .map(|a| map_arg(&req.fs_root, a, &MAPPED_PREFIXES))
        .collect();
    let cwd = host_path(&req.fs_root, &req.working_dir);
    let cwd = if cwd.is_dir() {
        cwd
    } else {
        req.fs_root.clone()
    };
    let env = req
        .environment
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "PATH" | "HOME"));
    let name = executable.display();
    let child = Command::new(executable)
        .args(&args)
        .envs(env)
        .current_dir(&cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return ExecResult::failure(127, format!("cannot run {name}: {e}\n")),
    };
    // Feed stdin from a thread so a command that writes before reading cannot deadlock us.
    let feeder = child.stdin.take().map(|mut stdin| {
        let input = req.stdin.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&input);
        })
    });
    let output = child.wait_with_output();
    if let Some(feeder) = feeder {
        let _ = feeder.join();
    }
    match output {
        Ok(out) => {
            let root = req.fs_root.to_string_lossy().into_owned();
            let unmap = |bytes: Vec<u8>| match String::from_utf8(bytes) {
                Ok(text) => text.replace(&root, "").into_bytes(),
                Err(e) => e.into_bytes(),
            };
            ExecResult {
                exit_code: out.status.code().unwrap_or(-1),
                stdout: unmap(out.stdout),
                stderr: unmap(out.stderr),
            }
        }
        Err(e) => ExecResult::failure(1, format!("{name} failed: {e}\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_etc_and_opt_paths_are_mapped() {
        let root = std::path::Path::new("/r/fs");
        let map = |a: &str| map_arg(root, a, &MAPPED_PREFIXES);
        assert_eq!(map("/etc/prometheus/p.yml"), "/r/fs/etc/prometheus/p.yml");
        assert_eq!(map("--config.file=/opt/x"), "--config.file=/r/fs/opt/x");
        assert_eq!(map("/tmp/x"), "/tmp/x");
        assert_eq!(map("check"), "check");
    }
}

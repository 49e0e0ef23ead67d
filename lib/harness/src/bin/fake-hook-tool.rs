//! One executable for every Juju hook tool, acting by the name it is called as (`argv[0]`,
//! e.g. a `config-get` symlink made by `install_hook_tools`) or by its first argument.
//!
//! It loads the model from the JSON file named by `CHARM_HARNESS_STATE`, applies the call with
//! Juju's semantics, prints what Juju prints, saves the state back under a file lock, and exits
//! 0, 1 (runtime error) or 2 (usage error) with `ERROR <text>` on stderr.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use charm_harness::juju::{run_tool, StateFile, STATE_ENV};

/// Tools that never change the model (only their call is counted).
const READ_ONLY: &[&str] = &[
    "action-get",
    "config-get",
    "goal-state",
    "is-leader",
    "network-get",
    "opened-ports",
    "relation-get",
    "relation-ids",
    "relation-list",
    "state-get",
    "status-get",
];

fn main() -> ExitCode {
    let mut args = std::env::args();
    let argv0 = args.next().unwrap_or_default();
    let mut rest: Vec<String> = args.collect();
    let mut tool = Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if tool == "fake-hook-tool" && !rest.is_empty() {
        tool = rest.remove(0);
    }
    let Some(path) = std::env::var_os(STATE_ENV) else {
        eprintln!("ERROR {STATE_ENV} is not set: not running under the charm harness");
        return ExitCode::from(1);
    };
    let env = |name: &str| std::env::var(name).ok();
    let file = StateFile::new(path);
    let run = |state: &mut _| run_tool(state, &tool, &rest, &mut std::io::stdin(), &env);
    // Tools that only read need not rewrite the whole state (see `StateFile::read_only`).
    let outcome = if READ_ONLY.contains(&tool.as_str()) {
        file.read_only(run)
    } else {
        file.update(run)
    };
    match outcome {
        Ok(out) => {
            // Nothing sensible is left to do if the parent closed our pipes.
            let _ = std::io::stdout().write_all(out.stdout.as_bytes());
            let _ = std::io::stderr().write_all(out.stderr.as_bytes());
            ExitCode::from(u8::try_from(out.code).unwrap_or(1))
        }
        Err(e) => {
            eprintln!("ERROR {e}");
            ExitCode::from(1)
        }
    }
}

//! One executable for every Juju hook tool, acting by the name it is called as (`argv[0]`,
//! e.g. a `config-get` symlink made by `install_hook_tools`) or by its first argument.
//!
//! It loads the model from the JSON file named by `CHARM_HARNESS_STATE`, applies the call with
//! Juju's semantics, prints what Juju prints, saves the state back under a file lock, and exits
//! 0, 1 (runtime error) or 2 (usage error) with `ERROR <text>` on stderr.
//!
//! `relation-get` and `relation-list` parse only the relation they name, and `config-get`,
//! `is-leader`, `opened-ports`, `state-get` and `action-get` none (see
//! `StateFile::read_only_relations`), so their cost does not grow with the model. Every call
//! appends its own duration in nanoseconds, from the start of `main` to its end, as one line
//! to `<state>.times`, so benchmarks can tell the charm's time from the tools'; its own CPU
//! time in nanoseconds (user and system, from the `exec` that started it: loading included) to
//! `<state>.cpu`, so they can tell the charm's CPU from the tools' (a parent's CPU usage counts
//! its waited children's); and its own peak resident set (`VmHWM`, KiB) to `<state>.rss`, so
//! they can tell the charm's peak from its hook tools' (a parent's `ru_maxrss` counts its
//! children's).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use charm_harness::juju::tool_costs::{self, CPU_SUFFIX, RSS_SUFFIX, WALL_SUFFIX};
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

/// Read-only tools that never look at relations: they parse none.
const NO_RELATIONS: &[&str] = &[
    "action-get",
    "config-get",
    "is-leader",
    "opened-ports",
    "state-get",
];

fn main() -> ExitCode {
    let before_main = tool_costs::time_before_main();
    let started = Instant::now();
    let code = run();
    if let Some(path) = std::env::var_os(STATE_ENV) {
        let elapsed = (before_main + started.elapsed()).as_nanos();
        append_line(&path, WALL_SUFFIX, &elapsed.to_string());
        if let Some(cpu) = own_cpu() {
            append_line(&path, CPU_SUFFIX, &cpu.as_nanos().to_string());
        }
        // This process's own high-water mark: unlike `ru_maxrss`, `VmHWM` starts anew at `exec`.
        let hwm = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .map(|v| v.trim().trim_end_matches("kB").trim().to_string())
            });
        if let Some(hwm) = hwm {
            append_line(&path, RSS_SUFFIX, &hwm);
        }
    }
    code
}

/// This process's user and system CPU time so far.
fn own_cpu() -> Option<std::time::Duration> {
    // SAFETY: `getrusage` writes into the zeroed struct it is given and reads nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return None;
    }
    Some(tool_costs::cpu_time(&usage))
}

/// Appends `line` to the file named `state` + `suffix` (best effort: it only feeds benchmarks).
fn append_line(state: &std::ffi::OsStr, suffix: &str, line: &str) {
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(tool_costs::cost_file(Path::new(state), suffix))
    {
        let _ = writeln!(file, "{line}");
    }
}

/// The relation numbers a `relation-get` or `relation-list` call may name: any argument's
/// number after its last `=` and `:` (`-r metrics-endpoint:3`, `--relation=3`), and
/// `JUJU_RELATION_ID`'s. Extra numbers only load extra relations.
fn named_relations(rest: &[String]) -> BTreeSet<u32> {
    let env = std::env::var("JUJU_RELATION_ID").ok();
    rest.iter()
        .map(String::as_str)
        .chain(env.as_deref())
        .filter_map(|arg| {
            let tail = arg.rsplit('=').next()?;
            tail.rsplit(':').next()?.parse().ok()
        })
        .collect()
}

fn run() -> ExitCode {
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
    let outcome = if matches!(tool.as_str(), "relation-get" | "relation-list") {
        file.read_only_relations(&named_relations(&rest), run)
    } else if NO_RELATIONS.contains(&tool.as_str()) {
        file.read_only_relations(&BTreeSet::new(), run)
    } else if READ_ONLY.contains(&tool.as_str()) {
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

//! The hook tools' command lines: Juju's flags, defaults from the hook environment, output
//! formats and `ERROR ...` texts, turned into a [`Call`] applied by [`apply`].

use std::io::Read;

use serde_json::Value;

use super::apply::apply;
use super::call::ToolFailure;
use super::state::ModelState;

mod args;
mod parse;

use args::Format;
use parse::parse;

/// Every hook tool the fake implements (one symlink each, see [`super::install_hook_tools`]).
pub const TOOL_NAMES: &[&str] = &[
    "action-fail",
    "action-get",
    "action-log",
    "action-set",
    "application-version-set",
    "close-port",
    "config-get",
    "goal-state",
    "is-leader",
    "juju-log",
    "network-get",
    "open-port",
    "opened-ports",
    "relation-get",
    "relation-ids",
    "relation-list",
    "relation-set",
    "state-delete",
    "state-get",
    "state-set",
    "status-get",
    "status-set",
];

/// What one hook-tool process printed and its exit code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolOutcome {
    /// Standard output.
    pub stdout: String,
    /// Standard error (`ERROR <text>\n` on failure).
    pub stderr: String,
    /// Exit code: 0, 1 (runtime error) or 2 (usage error).
    pub code: i32,
}

/// Renders a result as the tool prints it. `smart` is Juju's: strings as they are, booleans
/// as `True`/`False`, numbers plainly, lists of strings one per line, the rest as YAML.
fn render(value: &Value, format: Format) -> String {
    let string_list = |items: &[Value]| -> Option<Vec<String>> {
        items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect()
    };
    match (format, value) {
        (Format::Json, v) => format!("{v}\n"),
        (Format::Smart, Value::String(s)) => format!("{s}\n"),
        (Format::Smart, Value::Bool(b)) => format!("{}\n", if *b { "True" } else { "False" }),
        (Format::Smart, Value::Number(n)) => format!("{n}\n"),
        (Format::Smart, Value::Null) => String::new(),
        (Format::Smart, Value::Array(items)) if string_list(items).is_some() => {
            let lines = string_list(items).unwrap_or_default();
            lines.iter().map(|l| format!("{l}\n")).collect()
        }
        (_, v) => serde_yaml_ng::to_string(v).unwrap_or_else(|e| format!("{e}\n")),
    }
}

/// Runs hook tool `tool` with `args` (argv without the program name) on `state`, as the
/// `fake-hook-tool` executable does. `env` supplies the hook's `JUJU_*` defaults.
pub fn run_tool(
    state: &mut ModelState,
    tool: &str,
    args: &[String],
    stdin: &mut dyn Read,
    env: &dyn Fn(&str) -> Option<String>,
) -> ToolOutcome {
    state.record_call(tool);
    let flags = args.iter().take_while(|a| *a != "--");
    if flags.clone().any(|a| a == "--help" || a == "-h") {
        return ToolOutcome {
            stdout: format!("Usage: {tool} [options]\n"),
            ..ToolOutcome::default()
        };
    }
    let failed = |f: ToolFailure| ToolOutcome {
        stdout: String::new(),
        stderr: f.stderr(),
        code: f.code,
    };
    let parsed = match parse(tool, args, stdin, env) {
        Ok(p) => p,
        Err(f) => return failed(f),
    };
    match apply(state, &parsed.call) {
        Err(f) => failed(f),
        Ok(output) => ToolOutcome {
            stdout: output
                .map(|v| match parsed.select {
                    Some(select) => select(v),
                    None => v,
                })
                .map(|v| render(&v, parsed.format))
                .unwrap_or_default(),
            stderr: parsed
                .warning
                // Juju writes the bare text, without a newline.
                .unwrap_or_default(),
            code: 0,
        },
    }
}

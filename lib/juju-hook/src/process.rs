//! [`HookTools`] backed by the real hook-tool executables Juju puts on `PATH`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::{
    GoalState, HookToolError, HookTools, LogLevel, NetworkInfo, Port, RelationData, RelationId,
    Status,
};

/// `juju-log` messages longer than this are sent in several calls (as `ops` does).
const MAX_LOG_CHARS: usize = 131_071;

/// Runs Juju's hook tools as child processes with the exact command lines Juju documents.
///
/// Tools are spawned directly (never through a shell). The environment is inherited unchanged:
/// the tools need `JUJU_CONTEXT_ID` and `JUJU_AGENT_SOCKET_*` to reach the unit agent.
#[derive(Debug, Clone, Default)]
pub struct ProcessHookTools {
    /// Where the tools live; `None` = look them up on `PATH`.
    dir: Option<PathBuf>,
}

impl ProcessHookTools {
    /// Hook tools found on `PATH`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hook tools found in `dir` (for example a directory of fakes in tests).
    pub fn with_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(dir.into()),
        }
    }

    /// The directory the tools are taken from, if not `PATH`.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    fn program(&self, tool: &str) -> PathBuf {
        match &self.dir {
            Some(dir) => dir.join(tool),
            None => PathBuf::from(tool),
        }
    }

    /// Runs `tool args...`, feeding `stdin` if given, and returns its stdout on exit 0.
    fn run(
        &self,
        tool: &str,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<Vec<u8>, HookToolError> {
        tracing::trace!(tool, ?args, "running hook tool");
        let spawn_error = |e: std::io::Error| HookToolError::Spawn {
            tool: tool.to_string(),
            reason: e.to_string(),
        };
        let mut child = Command::new(self.program(tool))
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        // Feed stdin from a thread so a tool that writes before reading cannot deadlock us.
        let feeder = match (stdin, child.stdin.take()) {
            (Some(input), Some(mut pipe)) => {
                let input = input.to_vec();
                Some(std::thread::spawn(move || pipe.write_all(&input)))
            }
            _ => None,
        };
        let output = child.wait_with_output().map_err(spawn_error)?;
        if let Some(feeder) = feeder {
            // A tool may exit without reading stdin (e.g. on a usage error): its exit status
            // is what matters then, so a broken pipe is only reported on success.
            let written = feeder.join().unwrap_or(Ok(()));
            if let (Err(e), true) = (written, output.status.success()) {
                return Err(HookToolError::Failed {
                    tool: tool.to_string(),
                    code: 0,
                    stderr: format!("writing stdin failed: {e}"),
                });
            }
        }
        if output.status.success() {
            Ok(output.stdout)
        } else {
            let code = output.status.code().unwrap_or(-1);
            let stderr = String::from_utf8_lossy(&output.stderr);
            Err(HookToolError::from_exit(tool, code, &stderr))
        }
    }

    /// Runs a tool and decodes its JSON stdout.
    fn run_json<T: DeserializeOwned>(&self, tool: &str, args: &[&str]) -> Result<T, HookToolError> {
        let out = self.run(tool, args, None)?;
        parse_json(tool, &out)
    }
}

fn parse_json<T: DeserializeOwned>(tool: &str, out: &[u8]) -> Result<T, HookToolError> {
    serde_json::from_slice(out).map_err(|e| HookToolError::BadOutput {
        tool: tool.to_string(),
        reason: format!("{e}: {:?}", String::from_utf8_lossy(out)),
    })
}

/// JSON `null` (an empty collection in some Juju versions) becomes the default value.
fn or_default<T: Default>(value: Option<T>) -> T {
    value.unwrap_or_default()
}

fn to_json_stdin(tool: &str, data: &impl serde::Serialize) -> Result<Vec<u8>, HookToolError> {
    serde_json::to_vec(data).map_err(|e| HookToolError::BadOutput {
        tool: tool.to_string(),
        reason: format!("cannot encode input: {e}"),
    })
}

/// Splits `s` into pieces of at most `max` characters, on character boundaries.
fn chunks(s: &str, max: usize) -> Vec<&str> {
    if s.is_empty() {
        return vec![s];
    }
    let mut pieces = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let cut = rest
            .char_indices()
            .nth(max)
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let (head, tail) = rest.split_at(cut);
        pieces.push(head);
        rest = tail;
    }
    pieces
}

impl HookTools for ProcessHookTools {
    fn config_get(&self) -> Result<Map<String, Value>, HookToolError> {
        self.run_json::<Option<_>>("config-get", &["--format=json"])
            .map(or_default)
    }

    fn is_leader(&self) -> Result<bool, HookToolError> {
        self.run_json("is-leader", &["--format=json"])
    }

    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationId>, HookToolError> {
        let ids: Vec<String> = self
            .run_json::<Option<_>>("relation-ids", &[endpoint, "--format=json"])
            .map(or_default)?;
        let mut parsed = ids
            .iter()
            .map(|s| {
                s.parse::<RelationId>()
                    .map_err(|reason| HookToolError::BadOutput {
                        tool: "relation-ids".into(),
                        reason,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        parsed.sort();
        Ok(parsed)
    }

    fn relation_list(&self, relation: &RelationId) -> Result<Vec<String>, HookToolError> {
        let rel = relation.to_string();
        self.run_json::<Option<_>>("relation-list", &["--format=json", "-r", &rel])
            .map(or_default)
    }

    fn relation_remote_app(&self, relation: &RelationId) -> Result<String, HookToolError> {
        let rel = relation.to_string();
        self.run_json("relation-list", &["--format=json", "--app", "-r", &rel])
    }

    fn relation_get(
        &self,
        relation: &RelationId,
        member: &str,
        app: bool,
    ) -> Result<RelationData, HookToolError> {
        let rel = relation.to_string();
        let args: Vec<&str> = if app {
            vec!["--format=json", "-r", &rel, "--app", "-", member]
        } else {
            vec!["--format=json", "-r", &rel, "-", member]
        };
        self.run_json::<Option<_>>("relation-get", &args)
            .map(or_default)
    }

    fn relation_set(
        &self,
        relation: &RelationId,
        app: bool,
        data: &RelationData,
    ) -> Result<(), HookToolError> {
        let rel = relation.to_string();
        let args: Vec<&str> = if app {
            vec!["-r", &rel, "--app", "--file", "-"]
        } else {
            vec!["-r", &rel, "--file", "-"]
        };
        let input = to_json_stdin("relation-set", data)?;
        self.run("relation-set", &args, Some(&input)).map(drop)
    }

    fn status_set(&self, status: &Status, application: bool) -> Result<(), HookToolError> {
        let flag = if application {
            "--application=True"
        } else {
            "--application=False"
        };
        self.run(
            "status-set",
            &[flag, status.kind.as_str(), "--", &status.message],
            None,
        )
        .map(drop)
    }

    fn application_version_set(&self, version: &str) -> Result<(), HookToolError> {
        self.run("application-version-set", &["--", version], None)
            .map(drop)
    }

    fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), HookToolError> {
        for piece in chunks(message, MAX_LOG_CHARS) {
            self.run(
                "juju-log",
                &["--log-level", level.as_str(), "--", piece],
                None,
            )?;
        }
        Ok(())
    }

    fn open_port(&self, port: Port) -> Result<(), HookToolError> {
        self.run("open-port", &[&port.to_string()], None).map(drop)
    }

    fn close_port(&self, port: Port) -> Result<(), HookToolError> {
        self.run("close-port", &[&port.to_string()], None).map(drop)
    }

    fn opened_ports(&self) -> Result<Vec<Port>, HookToolError> {
        let entries: Vec<String> = self
            .run_json::<Option<_>>("opened-ports", &["--format=json"])
            .map(or_default)?;
        // Ranges (`8000-8010/tcp`) and `icmp` cannot be a `Port`: they are skipped, as a
        // charm that only opens single ports never created them.
        let mut ports: Vec<Port> = entries.iter().filter_map(|e| e.parse().ok()).collect();
        ports.sort();
        Ok(ports)
    }

    fn network_get(&self, binding: &str) -> Result<NetworkInfo, HookToolError> {
        let value: Value = self.run_json("network-get", &[binding, "--format=json"])?;
        NetworkInfo::from_json(&value).map_err(|reason| HookToolError::BadOutput {
            tool: "network-get".into(),
            reason,
        })
    }

    fn goal_state(&self) -> Result<GoalState, HookToolError> {
        self.run_json::<Option<_>>("goal-state", &["--format=json"])
            .map(or_default)
    }

    fn action_get(&self) -> Result<Map<String, Value>, HookToolError> {
        self.run_json::<Option<_>>("action-get", &["--format=json"])
            .map(or_default)
    }

    fn action_set(&self, results: &BTreeMap<String, String>) -> Result<(), HookToolError> {
        if results.is_empty() {
            return Ok(());
        }
        let pairs: Vec<String> = results.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let args: Vec<&str> = pairs.iter().map(String::as_str).collect();
        self.run("action-set", &args, None).map(drop)
    }

    fn action_fail(&self, message: &str) -> Result<(), HookToolError> {
        self.run("action-fail", &["--", message], None).map(drop)
    }

    fn action_log(&self, message: &str) -> Result<(), HookToolError> {
        self.run("action-log", &["--", message], None).map(drop)
    }

    fn state_get(&self) -> Result<BTreeMap<String, String>, HookToolError> {
        self.run_json::<Option<_>>("state-get", &["--format=json"])
            .map(or_default)
    }

    fn state_set(&self, data: &BTreeMap<String, String>) -> Result<(), HookToolError> {
        let input = to_json_stdin("state-set", data)?;
        self.run("state-set", &["--file", "-"], Some(&input))
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::chunks;

    #[test]
    fn chunks_split_on_char_boundaries() {
        assert_eq!(chunks("", 3), vec![""]);
        assert_eq!(chunks("abcdefg", 3), vec!["abc", "def", "g"]);
        assert_eq!(chunks("ééé", 2), vec!["éé", "é"]);
    }
}

//! `POST /v1/exec` and the task websockets, with scriptable command handlers.
//!
//! Flow, as a real Pebble does it: the POST answers `202` with a change and a `task-id`; the
//! client opens `control`, `stdio` and (with `split-stderr`) `stderr` websockets under
//! `/v1/tasks/<task-id>/websocket/`; once all are connected the command "runs". Data travels
//! in binary frames, a text frame `{"command":"end"}` is end-of-file in either direction, and
//! the exit code lands in the change's `tasks[0].data["exit-code"]`.
//!
//! Here a command is answered by a handler registered for its executable's basename. The
//! handler gets the whole stdin (read until the client's end-of-file, or until the client has
//! sent nothing for [`STDIN_IDLE`]) and returns exit code, stdout and stderr at once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path as UrlPath, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::changes::{format_go_duration, parse_go_duration, ChangeStatus};
use super::envelope;
use super::state::Shared;

mod builtins;

pub use builtins::{prometheus_version_handler, real_command_handler, real_promtool_handler};

/// How long to wait for more stdin before running the handler without an end-of-file.
pub const STDIN_IDLE: Duration = Duration::from_secs(2);
/// Pebble fails an exec whose websockets are not all connected within this time.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const END: &str = r#"{"command":"end"}"#;

/// A command as the handler sees it.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    /// Command line, `command[0]` being the executable as the client gave it.
    pub command: Vec<String>,
    /// Environment: Pebble's defaults overlaid with the request's variables.
    pub environment: BTreeMap<String, String>,
    /// Working directory in the container (`/root` unless the client set one).
    pub working_dir: String,
    /// Timeout the client asked for.
    pub timeout: Option<Duration>,
    /// User the client asked to run as.
    pub user: Option<String>,
    /// Everything the client sent on stdin.
    pub stdin: Vec<u8>,
    /// Host directory standing for the container's `/`.
    pub fs_root: PathBuf,
}

impl ExecRequest {
    /// The arguments after the executable.
    pub fn args(&self) -> &[String] {
        self.command.get(1..).unwrap_or_default()
    }
}

/// What a command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecResult {
    /// Exit code.
    pub exit_code: i32,
    /// Bytes written to stdout.
    pub stdout: Vec<u8>,
    /// Bytes written to stderr.
    pub stderr: Vec<u8>,
}

impl ExecResult {
    /// Exit 0 with this stdout.
    pub fn success(stdout: impl Into<Vec<u8>>) -> Self {
        ExecResult {
            exit_code: 0,
            stdout: stdout.into(),
            stderr: Vec::new(),
        }
    }

    /// Exit `code` with this stderr.
    pub fn failure(code: i32, stderr: impl Into<Vec<u8>>) -> Self {
        ExecResult {
            exit_code: code,
            stdout: Vec::new(),
            stderr: stderr.into(),
        }
    }
}

/// A command handler; runs on a blocking thread.
pub type ExecHandler = Arc<dyn Fn(&ExecRequest) -> ExecResult + Send + Sync>;

/// The executable's basename, the key handlers are registered under.
pub fn executable_key(command0: &str) -> &str {
    command0.rsplit('/').next().unwrap_or(command0)
}

#[derive(Default)]
struct Sockets {
    control: Option<WebSocket>,
    stdio: Option<WebSocket>,
    stderr: Option<WebSocket>,
    started: bool,
}

/// One exec task waiting for (or running with) its websockets.
pub struct ExecSession {
    change_id: u64,
    request: ExecRequest,
    split_stderr: bool,
    handler: ExecHandler,
    sockets: Mutex<Sockets>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ExecBody {
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    environment: Option<BTreeMap<String, String>>,
    working_dir: Option<String>,
    timeout: Option<String>,
    user: Option<String>,
    #[serde(default)]
    split_stderr: bool,
}

fn default_environment() -> BTreeMap<String, String> {
    [
        ("HOME", "/root"),
        ("LANG", "C.UTF-8"),
        (
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ),
        ("PEBBLE", "/var/lib/pebble/default"),
        ("USER", "root"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `POST /v1/exec`.
pub async fn post_exec(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body: ExecBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return envelope::bad_request(format!("cannot decode request body: {e}")),
    };
    let Some(command0) = body.command.first().cloned() else {
        return envelope::bad_request("must specify command");
    };
    let timeout = match body.timeout.as_deref() {
        None | Some("") => None,
        Some(t) => match parse_go_duration(t) {
            Some(d) => Some(d),
            None => return envelope::bad_request(format!("invalid timeout \"{t}\"")),
        },
    };
    let mut environment = default_environment();
    environment.extend(body.environment.unwrap_or_default());
    let working_dir = body.working_dir.unwrap_or_else(|| "/root".into());
    let mut state = shared.lock();
    let Some(handler) = state.exec_handlers.get(executable_key(&command0)).cloned() else {
        return envelope::bad_request(format!("cannot find executable \"{command0}\""));
    };
    let summary = format!("Execute command \"{command0}\"");
    let change_id = state
        .changes
        .create("exec", summary.clone(), &[("exec".into(), summary)]);
    let task_id = state
        .changes
        .get(change_id)
        .map(|c| c.tasks[0].id)
        .unwrap_or_default();
    let request = ExecRequest {
        command: body.command,
        environment: environment.clone(),
        working_dir: working_dir.clone(),
        timeout,
        user: body.user,
        stdin: Vec::new(),
        fs_root: shared.fs_root.clone(),
    };
    let session = Arc::new(ExecSession {
        change_id,
        request,
        split_stderr: body.split_stderr,
        handler,
        sockets: Mutex::new(Sockets::default()),
    });
    state.exec_sessions.insert(task_id, session.clone());
    drop(state);
    tokio::spawn(connect_deadline(shared.clone(), session));
    envelope::async_change(
        change_id,
        &json!({
            "environment": environment,
            "task-id": task_id.to_string(),
            "working-dir": working_dir,
        }),
    )
}

async fn connect_deadline(shared: Arc<Shared>, session: Arc<ExecSession>) {
    tokio::time::sleep(CONNECT_TIMEOUT).await;
    // Drop the sockets that did connect, closing their connections.
    let abandoned = session.sockets.lock().ok().and_then(|mut s| {
        (!s.started).then(|| {
            s.started = true;
            (s.control.take(), s.stdio.take(), s.stderr.take())
        })
    });
    if abandoned.is_some() {
        drop(abandoned);
        finish(
            &shared,
            session.change_id,
            Err("timeout waiting for websocket connections".into()),
        );
    }
}

/// `GET /v1/tasks/{task_id}/websocket/{name}`.
pub async fn task_websocket(
    State(shared): State<Arc<Shared>>,
    UrlPath((task_id, name)): UrlPath<(String, String)>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let session = task_id
        .parse::<u64>()
        .ok()
        .and_then(|id| shared.lock().exec_sessions.get(&id).cloned());
    let Some(session) = session else {
        return envelope::error(404, format!("cannot find task with id \"{task_id}\""), None);
    };
    if !matches!(name.as_str(), "control" | "stdio" | "stderr") {
        return envelope::error(404, format!("websocket for \"{name}\" not found"), None);
    }
    upgrade.on_upgrade(move |socket| attach(shared, session, name, socket))
}

async fn attach(shared: Arc<Shared>, session: Arc<ExecSession>, name: String, socket: WebSocket) {
    let ready = {
        let Ok(mut sockets) = session.sockets.lock() else {
            return;
        };
        match name.as_str() {
            "control" => sockets.control = Some(socket),
            "stdio" => sockets.stdio = Some(socket),
            _ => sockets.stderr = Some(socket),
        }
        let all = sockets.control.is_some()
            && sockets.stdio.is_some()
            && (!session.split_stderr || sockets.stderr.is_some());
        if all && !sockets.started {
            sockets.started = true;
            Some((
                sockets.control.take(),
                sockets.stdio.take(),
                sockets.stderr.take(),
            ))
        } else {
            None
        }
    };
    if let Some((Some(control), Some(stdio), stderr)) = ready {
        run_session(shared, session, control, stdio, stderr).await;
    }
}

async fn run_session(
    shared: Arc<Shared>,
    session: Arc<ExecSession>,
    mut control: WebSocket,
    mut stdio: WebSocket,
    mut stderr: Option<WebSocket>,
) {
    let mut request = session.request.clone();
    request.stdin = read_stdin(&mut stdio).await;
    let timeout = request.timeout;
    let handler = session.handler.clone();
    let job = tokio::task::spawn_blocking(move || handler(&request));
    // Like Pebble, a command running past its timeout fails the change (the handler's thread
    // is left to finish on its own).
    let outcome = match timeout {
        Some(limit) => tokio::time::timeout(limit, job).await.map_err(|_| limit),
        None => Ok(job.await),
    };
    let result = match outcome {
        Ok(joined) => {
            joined.unwrap_or_else(|e| ExecResult::failure(1, format!("exec handler panicked: {e}")))
        }
        Err(limit) => {
            if let Some(ws) = stderr.as_mut() {
                let _ = ws.send(Message::Text(END.into())).await;
            }
            let _ = stdio.send(Message::Text(END.into())).await;
            let message = format!(
                "timed out after {}: context deadline exceeded",
                format_go_duration(limit)
            );
            finish(&shared, session.change_id, Err(message));
            let _ = control.send(Message::Close(None)).await;
            return;
        }
    };
    if !result.stdout.is_empty() {
        let _ = stdio.send(Message::Binary(result.stdout.into())).await;
    }
    if !result.stderr.is_empty() {
        let target = stderr.as_mut().unwrap_or(&mut stdio);
        let _ = target.send(Message::Binary(result.stderr.into())).await;
    }
    if let Some(ws) = stderr.as_mut() {
        let _ = ws.send(Message::Text(END.into())).await;
    }
    let _ = stdio.send(Message::Text(END.into())).await;
    finish(&shared, session.change_id, Ok(result.exit_code));
    let _ = control.send(Message::Close(None)).await;
    let _ = stdio.send(Message::Close(None)).await;
    if let Some(mut ws) = stderr {
        let _ = ws.send(Message::Close(None)).await;
    }
}

async fn read_stdin(stdio: &mut WebSocket) -> Vec<u8> {
    let mut stdin = Vec::new();
    loop {
        match tokio::time::timeout(STDIN_IDLE, stdio.recv()).await {
            Ok(Some(Ok(Message::Binary(data)))) => stdin.extend_from_slice(&data),
            Ok(Some(Ok(Message::Text(text)))) => {
                let command = serde_json::from_str::<Value>(text.as_str())
                    .ok()
                    .and_then(|v| v.get("command").and_then(Value::as_str).map(String::from));
                if command.as_deref() == Some("end") {
                    break;
                }
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            _ => break,
        }
    }
    stdin
}

fn finish(shared: &Shared, change_id: u64, outcome: Result<i32, String>) {
    let mut state = shared.lock();
    if let Some(change) = state.changes.get_mut(change_id) {
        if change.ready() {
            return;
        }
        match outcome {
            Ok(code) => {
                if let Some(task) = change.tasks.first_mut() {
                    task.data.insert("exit-code".into(), json!(code));
                }
                change.finish(ChangeStatus::Done, None);
            }
            Err(message) => {
                let summary = change.summary.clone();
                change.finish(
                    ChangeStatus::Error,
                    Some(format!(
                        "cannot perform the following tasks:\n- {summary} ({message})"
                    )),
                );
            }
        }
    }
    drop(state);
    shared.notify_changes();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handlers_are_keyed_by_basename() {
        assert_eq!(executable_key("/bin/prometheus"), "prometheus");
        assert_eq!(executable_key("promtool"), "promtool");
    }
}

//! Running a command in the workload container: `POST /v1/exec`, then the task's websockets
//! (control, stdio, stderr) over the same Unix socket, then the change for the exit code.

use std::collections::BTreeMap;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tungstenite::{Message, WebSocket};

use crate::client::{go_duration, Client};
use crate::error::Error;
use crate::types::from_result;

/// How a command runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// Extra environment variables.
    pub environment: BTreeMap<String, String>,
    /// Working directory (Pebble's default is the user's home).
    pub working_dir: Option<String>,
    /// Pebble kills the command after this long (the change then fails). Without it the
    /// client waits for the command as long as it runs.
    pub timeout: Option<Duration>,
    /// Bytes fed to the command's standard input (then end of input).
    pub stdin: Option<Vec<u8>>,
    /// Run as this user.
    pub user: Option<String>,
    /// Run with this group.
    pub group: Option<String>,
}

/// What a finished command produced. A non-zero exit is an output, not an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit status.
    pub exit_code: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ExecResult {
    task_id: String,
}

type Socket = WebSocket<UnixStream>;

impl Client {
    /// Runs `command` (no shell) and collects its output and exit code. An unknown executable
    /// is an [`Error::Api`] (400 `cannot find executable ...`).
    pub fn exec(&self, command: &[&str], opts: &ExecOptions) -> Result<ExecOutput, Error> {
        let (change, result) =
            self.start_change(Method::POST, "/v1/exec", Some(&exec_body(command, opts)))?;
        let task: ExecResult = from_result("exec", result)?;

        // Pebble starts the process once control and both output streams are connected: the
        // stderr stream connects on a thread of its own, which then reads it (so a command
        // that fills one pipe cannot stall us), while this one connects the other two. The
        // handshakes overlap instead of taking three round trips before the command starts.
        let io_timeout = opts.timeout.map(|t| t + self.timeout());
        let address = WebSocketAddress {
            socket: self.socket_path().to_path_buf(),
            task: task.task_id,
            write_timeout: self.timeout(),
            read_timeout: io_timeout,
        };
        let stderr_address = address.clone();
        let stderr_reader = std::thread::spawn(move || {
            let mut socket = stderr_address.open("stderr")?;
            read_stream(&mut socket, "stderr")
        });
        let mut control = address.open("control")?;
        let mut stdio = address.open("stdio")?;

        if let Some(input) = &opts.stdin {
            send(&mut stdio, Message::binary(input.clone()))?;
        }
        send(&mut stdio, Message::text(r#"{"command":"end"}"#))?;
        let stdout = read_stream(&mut stdio, "stdout");
        let stderr = stderr_reader
            .join()
            .map_err(|_| Error::Protocol("stderr reader panicked".into()))?;
        let _ = control.close(None);
        let _ = control.flush();
        let (stdout, stderr) = (stdout?, stderr?);

        // Both streams ended, so the process has exited: the change is about to finish.
        let change = self.wait_change(&change, self.timeout())?;
        let exit_code = change
            .tasks
            .first()
            .and_then(|t| t.data.get("exit-code"))
            .and_then(Value::as_i64)
            .ok_or_else(|| {
                Error::Protocol(format!("exec change {} has no exit code", change.id))
            })?;
        Ok(ExecOutput {
            exit_code: exit_code as i32,
            stdout,
            stderr,
        })
    }
}

/// Where an exec task's websockets are, and the timeouts of their connections.
#[derive(Clone)]
struct WebSocketAddress {
    socket: PathBuf,
    task: String,
    write_timeout: Duration,
    /// `None`: as long as the command runs.
    read_timeout: Option<Duration>,
}

impl WebSocketAddress {
    /// Opens `/v1/tasks/<task>/websocket/<name>` over a fresh connection to the socket.
    fn open(&self, name: &str) -> Result<Socket, Error> {
        let stream = UnixStream::connect(&self.socket).map_err(|e| Error::Connect {
            socket: self.socket.clone(),
            reason: e.to_string(),
        })?;
        let io = |e: std::io::Error| Error::Protocol(format!("websocket {name}: {e}"));
        stream.set_read_timeout(self.read_timeout).map_err(io)?;
        stream
            .set_write_timeout(Some(self.write_timeout))
            .map_err(io)?;
        let url = format!("ws://localhost/v1/tasks/{}/websocket/{name}", self.task);
        let (socket, _response) = tungstenite::client::client(url, stream)
            .map_err(|e| Error::Protocol(format!("websocket {name} handshake: {e}")))?;
        Ok(socket)
    }
}

/// The JSON body of `POST /v1/exec` (stderr always separate).
fn exec_body(command: &[&str], opts: &ExecOptions) -> Value {
    let mut body = Map::new();
    body.insert("command".into(), json!(command));
    if !opts.environment.is_empty() {
        body.insert("environment".into(), json!(opts.environment));
    }
    if let Some(dir) = &opts.working_dir {
        body.insert("working-dir".into(), json!(dir));
    }
    if let Some(timeout) = opts.timeout {
        body.insert("timeout".into(), json!(go_duration(timeout)));
    }
    if let Some(user) = &opts.user {
        body.insert("user".into(), json!(user));
    }
    if let Some(group) = &opts.group {
        body.insert("group".into(), json!(group));
    }
    body.insert("split-stderr".into(), json!(true));
    Value::Object(body)
}

fn send(socket: &mut Socket, message: Message) -> Result<(), Error> {
    socket
        .send(message)
        .map_err(|e| Error::Protocol(format!("websocket stdio send: {e}")))
}

/// Collects binary frames until the `{"command":"end"}` text frame (or the close).
fn read_stream(socket: &mut Socket, name: &str) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    loop {
        match socket.read() {
            Ok(Message::Binary(bytes)) => out.extend_from_slice(&bytes),
            Ok(Message::Text(text)) => {
                let command: Option<Value> = serde_json::from_str(text.as_str()).ok();
                if command.as_ref().and_then(|c| c.get("command")) == Some(&json!("end")) {
                    break;
                }
            }
            Ok(Message::Close(_)) => break,
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => break,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(Error::Timeout {
                    what: format!("exec {name}"),
                })
            }
            Err(e) => return Err(Error::Protocol(format!("websocket {name}: {e}"))),
        }
    }
    let _ = socket.close(None);
    let _ = socket.flush();
    Ok(out)
}

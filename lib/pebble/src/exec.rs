//! Running a command in the workload container: `POST /v1/exec`, then the task's websockets
//! (control, stdio, stderr) over the same Unix socket, then the change for the exit code.

use std::collections::BTreeMap;
use std::os::unix::net::UnixStream;
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

        // Pebble starts the process once control and the output streams are connected.
        let io_timeout = opts.timeout.map(|t| t + self.timeout());
        let mut control = self.websocket(&task.task_id, "control", io_timeout)?;
        let mut stdio = self.websocket(&task.task_id, "stdio", io_timeout)?;
        let mut stderr_ws = self.websocket(&task.task_id, "stderr", io_timeout)?;

        if let Some(input) = &opts.stdin {
            send(&mut stdio, Message::binary(input.clone()))?;
        }
        send(&mut stdio, Message::text(r#"{"command":"end"}"#))?;
        let output = read_both(&mut stdio, &mut stderr_ws, io_timeout);
        let _ = control.close(None);
        let _ = control.flush();
        let (stdout, stderr) = output?;

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

    /// Opens `/v1/tasks/<task>/websocket/<name>` over a fresh connection to the socket.
    fn websocket(
        &self,
        task: &str,
        name: &str,
        timeout: Option<Duration>,
    ) -> Result<Socket, Error> {
        let stream = UnixStream::connect(self.socket_path()).map_err(|e| Error::Connect {
            socket: self.socket_path().to_path_buf(),
            reason: e.to_string(),
        })?;
        let io = |e: std::io::Error| Error::Protocol(format!("websocket {name}: {e}"));
        stream.set_read_timeout(timeout).map_err(io)?;
        stream.set_write_timeout(Some(self.timeout())).map_err(io)?;
        let url = format!("ws://localhost/v1/tasks/{task}/websocket/{name}");
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

/// Collects stdout's and stderr's binary frames until each one's `{"command":"end"}` text
/// frame (or its close), on this thread: both sockets are made non-blocking, frames are read
/// from either as they come, and `poll(2)` waits for one of them when neither has a frame,
/// so a command that fills one pipe while the other is read cannot stall (a thread reading
/// stderr cost a hook more than the rest of the exec's client side). `timeout` bounds each
/// wait for a frame.
fn read_both(
    stdio: &mut Socket,
    stderr: &mut Socket,
    timeout: Option<Duration>,
) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let mut streams = [
        Stream::new(stdio, "stdout")?,
        Stream::new(stderr, "stderr")?,
    ];
    loop {
        let mut moved = false;
        for stream in streams.iter_mut().filter(|s| !s.ended) {
            moved |= stream.read_ready()?;
        }
        let open: Vec<&Stream<'_>> = streams.iter().filter(|s| !s.ended).collect();
        if open.is_empty() {
            break;
        }
        if !moved {
            wait_readable(&open, timeout)?;
        }
    }
    let [stdout, stderr] = streams.map(Stream::finish);
    Ok((stdout, stderr))
}

/// One output stream of an exec, read without blocking.
struct Stream<'a> {
    socket: &'a mut Socket,
    name: &'static str,
    out: Vec<u8>,
    ended: bool,
}

impl<'a> Stream<'a> {
    fn new(socket: &'a mut Socket, name: &'static str) -> Result<Self, Error> {
        socket
            .get_ref()
            .set_nonblocking(true)
            .map_err(|e| Error::Protocol(format!("websocket {name}: {e}")))?;
        Ok(Self {
            socket,
            name,
            out: Vec::new(),
            ended: false,
        })
    }

    /// Reads the frames there are; whether any was.
    fn read_ready(&mut self) -> Result<bool, Error> {
        let mut moved = false;
        while !self.ended {
            match self.socket.read() {
                Ok(Message::Binary(bytes)) => self.out.extend_from_slice(&bytes),
                Ok(Message::Text(text)) => {
                    let command: Option<Value> = serde_json::from_str(text.as_str()).ok();
                    if command.as_ref().and_then(|c| c.get("command")) == Some(&json!("end")) {
                        self.ended = true;
                    }
                }
                Ok(Message::Close(_)) => self.ended = true,
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    self.ended = true
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return Ok(moved)
                }
                Err(e) => {
                    return Err(Error::Protocol(format!("websocket {}: {e}", self.name)));
                }
            }
            moved = true;
        }
        Ok(moved)
    }

    fn finish(self) -> Vec<u8> {
        let _ = self.socket.close(None);
        let _ = self.socket.flush();
        self.out
    }
}

/// Waits until one of `streams` can be read, at most `timeout` (forever without one).
fn wait_readable(streams: &[&Stream<'_>], timeout: Option<Duration>) -> Result<(), Error> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let timeout = timeout
        .map(Timespec::try_from)
        .transpose()
        .map_err(|_| Error::Protocol("exec timeout out of range".into()))?;
    let mut fds: Vec<PollFd<'_>> = streams
        .iter()
        .map(|s| PollFd::new(s.socket.get_ref(), PollFlags::IN))
        .collect();
    loop {
        match poll(&mut fds, timeout.as_ref()) {
            Ok(0) => {
                let names: Vec<&str> = streams.iter().map(|s| s.name).collect();
                return Err(Error::Timeout {
                    what: format!("exec {}", names.join(" and ")),
                });
            }
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Error::Protocol(format!("exec poll: {e}"))),
        }
    }
}

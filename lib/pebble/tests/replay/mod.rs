//! A replay server: answers each request on a Unix socket with the next scripted (recorded)
//! response and records what the client sent, including exec websocket traffic.

pub mod recorded;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

/// One scripted answer, checked against the request it answers.
pub struct Canned {
    pub method: &'static str,
    /// Path and query exactly as expected, e.g. `/v1/changes/2/wait?timeout=10s`.
    pub uri: String,
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    /// Hold the answer this long (Pebble holding a `/wait`).
    pub delay: Duration,
    /// Match any request whose path and query start with `uri`.
    pub prefix: bool,
}

impl Canned {
    /// A JSON answer.
    pub fn json(method: &'static str, uri: &str, status: u16, body: &str) -> Canned {
        Canned {
            method,
            uri: uri.to_string(),
            status,
            content_type: "application/json".into(),
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
            prefix: false,
        }
    }
}

/// What the client sent.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Canned>>,
    seen: Mutex<Vec<Seen>>,
    /// Frames the client sent on each exec websocket, as (stream, frame description).
    ws_frames: Mutex<Vec<(String, String)>>,
}

/// A running replay server; dropped with the test.
pub struct Replay {
    pub socket: PathBuf,
    shared: Arc<Shared>,
    _dir: tempfile::TempDir,
}

impl Replay {
    pub fn start(script: Vec<Canned>) -> Replay {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("pebble.socket");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        listener.set_nonblocking(true).unwrap();
        let shared = Arc::new(Shared::default());
        *shared.script.lock().unwrap() = script.into();
        let state = shared.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::UnixListener::from_std(listener).unwrap();
                let app = Router::new()
                    .route("/v1/tasks/{task}/websocket/{stream}", get(websocket))
                    .fallback(replay)
                    .with_state(state);
                axum::serve(listener, app).await.unwrap();
            });
        });
        Replay {
            socket,
            shared,
            _dir: dir,
        }
    }

    /// Requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// `METHOD uri` of every request seen, in order.
    pub fn lines(&self) -> Vec<String> {
        self.seen()
            .iter()
            .map(|s| format!("{} {}", s.method, s.uri))
            .collect()
    }

    /// Frames the client sent on exec websockets.
    pub fn ws_frames(&self) -> Vec<(String, String)> {
        self.shared.ws_frames.lock().unwrap().clone()
    }

    /// Scripted answers not asked for.
    pub fn unused(&self) -> usize {
        self.shared.script.lock().unwrap().len()
    }
}

async fn replay(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let header_text = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let seen = Seen {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        content_type: header_text(header::CONTENT_TYPE),
        accept: header_text(header::ACCEPT),
        body: to_bytes(body, 1 << 20).await.unwrap().to_vec(),
    };
    let next = shared.script.lock().unwrap().pop_front();
    let answer = match next {
        Some(c)
            if c.method == seen.method
                && (c.uri == seen.uri || (c.prefix && seen.uri.starts_with(&c.uri))) =>
        {
            c
        }
        other => {
            let expected = other.map(|c| format!("{} {}", c.method, c.uri));
            let message = format!(
                "replay expected {expected:?}, got {} {}",
                seen.method, seen.uri
            );
            shared.seen.lock().unwrap().push(seen);
            return Response::builder()
                .status(StatusCode::IM_A_TEAPOT)
                .body(Body::from(message))
                .unwrap();
        }
    };
    shared.seen.lock().unwrap().push(seen);
    tokio::time::sleep(answer.delay).await;
    Response::builder()
        .status(answer.status)
        .header(header::CONTENT_TYPE, answer.content_type)
        .body(Body::from(answer.body))
        .unwrap()
}

/// The exec websockets, replaying the recorded `sh -c "echo out: $(cat); echo err >&2; exit 3"`.
async fn websocket(
    State(shared): State<Arc<Shared>>,
    Path((_task, stream)): Path<(String, String)>,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade.on_upgrade(move |socket| serve_stream(shared, stream, socket))
}

async fn serve_stream(shared: Arc<Shared>, stream: String, mut socket: WebSocket) {
    let end = || Message::Text(r#"{"command":"end"}"#.into());
    match stream.as_str() {
        "stderr" => {
            socket
                .send(Message::Binary(b"err\n".to_vec().into()))
                .await
                .unwrap();
            socket.send(end()).await.unwrap();
        }
        "stdio" => {
            let mut input = Vec::new();
            while let Some(Ok(frame)) = socket.recv().await {
                let text = match &frame {
                    Message::Binary(b) => {
                        input.extend_from_slice(b);
                        format!("binary {}", String::from_utf8_lossy(b))
                    }
                    Message::Text(t) => format!("text {}", t.as_str()),
                    _ => continue,
                };
                shared
                    .ws_frames
                    .lock()
                    .unwrap()
                    .push((stream.clone(), text.clone()));
                if text == r#"text {"command":"end"}"# {
                    break;
                }
            }
            let out = format!("out: {}\n", String::from_utf8_lossy(&input));
            socket
                .send(Message::Binary(out.into_bytes().into()))
                .await
                .unwrap();
            socket.send(end()).await.unwrap();
        }
        _ => {}
    }
    // Hold the connection until the client closes it.
    while let Some(Ok(frame)) = socket.recv().await {
        if let Message::Text(t) = frame {
            shared
                .ws_frames
                .lock()
                .unwrap()
                .push((stream.clone(), format!("text {}", t.as_str())));
        }
    }
}

//! The HTTP side: routes, request recording and one-shot faults, and serving on a Unix socket
//! whose connections can be cut (Pebble going away).

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};
use tokio::runtime::Runtime;
use tokio::sync::watch;

use super::state::{RecordedRequest, Shared};
use super::{envelope, exec, files, routes};

/// Index of the request in the recorded list, for handlers that fill in details later.
#[derive(Debug, Clone, Copy)]
pub struct RecordIndex(pub usize);

/// Builds the router for the fake Pebble API.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/system-info", get(routes::system_info))
        .route("/v1/health", get(routes::health))
        .route("/v1/plan", get(routes::get_plan))
        .route("/v1/layers", post(routes::post_layers))
        .route(
            "/v1/services",
            get(routes::get_services).post(routes::post_services),
        )
        .route("/v1/changes", get(routes::list_changes))
        .route("/v1/changes/{id}", get(routes::get_change))
        .route("/v1/changes/{id}/wait", get(routes::wait_change))
        .route(
            "/v1/checks",
            get(routes::get_checks).post(routes::post_checks),
        )
        .route("/v1/signals", post(routes::post_signals))
        .route("/v1/notices", get(routes::get_notices))
        .route("/v1/files", get(files::get_files).post(files::post_files))
        .route("/v1/exec", post(exec::post_exec))
        .route(
            "/v1/tasks/{task_id}/websocket/{name}",
            get(exec::task_websocket),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(shared.clone(), intercept))
        .with_state(shared)
}

async fn not_found() -> Response {
    envelope::not_found_endpoint()
}

async fn method_not_allowed(method: Method) -> Response {
    envelope::error(405, format!("method \"{method}\" not allowed"), None)
}

/// Records every request, then answers a matching one-shot fault instead of the handler.
async fn intercept(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let multipart = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/"));
    let (body_json, body) = if multipart {
        (None, body)
    } else {
        match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => (serde_json::from_slice(&bytes).ok(), Body::from(bytes)),
            Err(_) => (None, Body::empty()),
        }
    };
    let method = parts.method.to_string();
    let path = parts.uri.path().to_string();
    let fault = {
        let mut state = shared.lock();
        state.requests.push(RecordedRequest {
            method: method.clone(),
            path: path.clone(),
            query: parts.uri.query().unwrap_or_default().to_string(),
            body_json,
        });
        parts
            .extensions
            .insert(RecordIndex(state.requests.len() - 1));
        let pos = state.faults.iter().position(|f| {
            f.method.eq_ignore_ascii_case(&method) && path.starts_with(&f.path_prefix)
        });
        pos.map(|p| state.faults.remove(p))
    };
    match fault {
        Some(f) => envelope::error(f.status, f.message, None),
        None => next.run(Request::from_parts(parts, body)).await,
    }
}

/// A running server on the socket; dropping the `cut` sender (or sending `true`) ends it and
/// every connection.
pub struct Serving {
    cut: watch::Sender<bool>,
    socket_path: PathBuf,
    live: Arc<AtomicUsize>,
}

/// How long [`Serving::stop`] waits for cut connections to be closed.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Extra time for a client's connection pool to see the close before the next request.
const CLIENT_GRACE: Duration = Duration::from_millis(50);

impl Serving {
    /// Binds `socket_path` (replacing a stale file) and serves `shared` on `runtime`.
    pub fn start(runtime: &Runtime, socket_path: &Path, shared: Arc<Shared>) -> io::Result<Self> {
        let _ = std::fs::remove_file(socket_path);
        let listener = {
            let _guard = runtime.enter();
            UnixListener::bind(socket_path)?
        };
        let (cut, cut_rx) = watch::channel(false);
        let live = Arc::new(AtomicUsize::new(0));
        let listener = CuttableListener {
            inner: listener,
            cut: cut_rx.clone(),
            live: live.clone(),
        };
        let app = router(shared);
        let mut shutdown_rx = cut_rx;
        runtime.spawn(async move {
            let shutdown = async move { cut_signal(&mut shutdown_rx).await };
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
        });
        Ok(Serving {
            cut,
            socket_path: socket_path.to_path_buf(),
            live,
        })
    }

    /// Removes the socket and drops every open connection; returns once they are closed, so
    /// the next request of a test sees Pebble gone.
    pub fn stop(self) {
        let _ = std::fs::remove_file(&self.socket_path);
        let _ = self.cut.send(true);
        let deadline = Instant::now() + CLOSE_WAIT;
        let mut had_connections = false;
        while self.live.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            had_connections = true;
            std::thread::sleep(Duration::from_millis(5));
        }
        if had_connections {
            std::thread::sleep(CLIENT_GRACE);
        }
    }
}

async fn cut_signal(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

struct CuttableListener {
    inner: UnixListener,
    cut: watch::Receiver<bool>,
    live: Arc<AtomicUsize>,
}

impl axum::serve::Listener for CuttableListener {
    type Io = CuttableStream;
    type Addr = tokio::net::unix::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        let mut rx = self.cut.clone();
        self.live.fetch_add(1, Ordering::SeqCst);
        let stream = CuttableStream {
            inner: stream,
            cut: Box::pin(async move { cut_signal(&mut rx).await }),
            is_cut: false,
            live: self.live.clone(),
        };
        (stream, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection that fails all I/O once the server is cut, so hyper drops it.
struct CuttableStream {
    inner: UnixStream,
    cut: Pin<Box<dyn Future<Output = ()> + Send>>,
    is_cut: bool,
    live: Arc<AtomicUsize>,
}

impl Drop for CuttableStream {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl CuttableStream {
    fn check_cut(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.is_cut && self.cut.as_mut().poll(cx).is_ready() {
            self.is_cut = true;
        }
        self.is_cut
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "pebble went away")
}

impl AsyncRead for CuttableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.check_cut(cx) {
            return Poll::Ready(Err(gone()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CuttableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.check_cut(cx) {
            return Poll::Ready(Err(gone()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

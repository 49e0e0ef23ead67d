//! The relation-targets server: Prometheus' `http_sd` endpoint for the charm's relation jobs.
//!
//! The charm writes each relation job's target groups to `<dir>/<id>.json` (pushed through
//! Pebble, which writes atomically) and gives the job an `http_sd_configs` entry pointing at
//! `GET /targets/<id>` here. A moved, added or removed unit then changes one small file that
//! Prometheus fetches on its next refresh: no `prometheus.yml` push, no promtool, no reload.
//!
//! The server holds no state: every request reads the job's file. Answers follow what
//! Prometheus' `http_sd` expects: 200 with `Content-Type: application/json` and the file's
//! bytes (a JSON list of target groups); any other answer makes Prometheus keep the targets of
//! its last good refresh, which is what a missing or unreadable file must do.
//!
//! Prometheus keeps one connection open per relation job (each `http_sd` config has its own
//! HTTP client), so the server holds as many connections as there are jobs, twice that for a
//! while after a Prometheus 2.x reload, which starts every discoverer anew and leaves the old
//! ones' connections open until its client's 5-minute idle timeout. Hence two things a plain
//! server lacks: the process raises its soft limit of open files to the hard limit at start
//! (as Go programs such as Prometheus and Pebble do for themselves; Pebble's children get the
//! container's original soft limit, often 1,024), and a connection idle for
//! [`DEFAULT_IDLE_TIMEOUT`] (`--idle-timeout`) is closed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;

use crate::config::parse_duration;

/// How long a connection may stay idle before the server closes it: six of the refreshes the
/// charm asks of Prometheus (`refresh_interval: 10s`). A connection idle that long belongs to a
/// discoverer that a reload replaced; Prometheus' client retries a request on a connection
/// closed under it, so closing one early costs nothing.
pub const DEFAULT_IDLE_TIMEOUT: &str = "60s";

/// Arguments of the `serve-targets` subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetsArgs {
    /// Address to serve on.
    #[arg(long)]
    pub listen: SocketAddr,
    /// Directory of the `<id>.json` target files.
    #[arg(long)]
    pub dir: PathBuf,
    /// Close a connection that has carried no request for this long (0: never).
    #[arg(long, default_value = DEFAULT_IDLE_TIMEOUT, value_parser = parse_duration)]
    pub idle_timeout: Duration,
}

/// Whether `id` can name a target file: lowercase hex, as the charm makes them, so a request
/// never reaches outside the directory.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The router serving `dir`: `GET /targets/{id}` and `GET /health`.
pub fn router(dir: PathBuf) -> Router {
    Router::new()
        .route("/targets/{id}", get(targets))
        .route("/health", get(|| async { "ok\n" }))
        .with_state(Arc::new(dir))
}

async fn targets(State(dir): State<Arc<PathBuf>>, Path(id): Path<String>) -> Response {
    if !valid_id(&id) {
        return (
            StatusCode::BAD_REQUEST,
            "target file ids are lowercase hex\n",
        )
            .into_response();
    }
    let path = dir.join(format!("{id}.json"));
    match tokio::fs::read(&path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            (StatusCode::NOT_FOUND, format!("no target file {id}.json\n")).into_response()
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), "cannot read a target file: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read {id}.json: {e}\n"),
            )
                .into_response()
        }
    }
}

/// Serves `args` until `shutdown` completes.
pub async fn serve(
    args: &TargetsArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(listen = %args.listen, dir = %args.dir.display(), "relation-targets server starting");
    serve_on(
        listener,
        router(args.dir.clone()),
        args.idle_timeout,
        shutdown,
    )
    .await;
    Ok(())
}

/// Serves `app` on `listener`, closing connections idle for `idle_timeout` (zero: never),
/// until `shutdown` completes; connections still open then are dropped (every request is an
/// idempotent read that Prometheus makes again on its next refresh).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    app: Router,
    idle_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    // hyper's header-read timeout runs from the moment the connection waits for a request,
    // between requests too: with a timer it is the idle timeout.
    http.timer(TokioTimer::new())
        .header_read_timeout((!idle_timeout.is_zero()).then_some(idle_timeout));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors, most likely: wait for connections to close.
                tracing::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

/// Raises the soft limit of open files to the hard limit; returns the new soft limit.
pub fn raise_open_files_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// Runs the `serve-targets` subcommand until SIGTERM. Logging must be set up by the caller.
pub fn run_cli(args: &TargetsArgs) -> ExitCode {
    match raise_open_files_limit() {
        Ok(limit) => tracing::info!("open files limit: {limit}"),
        Err(e) => tracing::warn!("cannot raise the open files limit: {e}"),
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("serve-targets: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args, crate::shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve-targets: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::valid_id;

    #[test]
    fn ids_are_bounded_lowercase_hex() {
        assert!(valid_id("0123456789abcdef"));
        assert!(!valid_id(""));
        assert!(!valid_id("../etc/passwd"));
        assert!(!valid_id("ABCDEF"));
        assert!(!valid_id(&"a".repeat(65)));
    }
}

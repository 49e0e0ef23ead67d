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

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// Arguments of the `serve-targets` subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetsArgs {
    /// Address to serve on.
    #[arg(long)]
    pub listen: SocketAddr,
    /// Directory of the `<id>.json` target files.
    #[arg(long)]
    pub dir: PathBuf,
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
    axum::serve(listener, router(args.dir.clone()))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Runs the `serve-targets` subcommand until SIGTERM. Logging must be set up by the caller.
pub fn run_cli(args: &TargetsArgs) -> ExitCode {
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

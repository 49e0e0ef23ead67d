//! The local HTTP server: `GET /metrics`, `GET /health`, `POST /refresh`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::metrics::CONTENT_TYPE;
use crate::poller::Poller;

/// The router over a shared poller.
pub fn router(poller: Arc<Poller>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/refresh", post(refresh))
        .with_state(poller)
}

async fn metrics(State(poller): State<Arc<Poller>>) -> Response {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        poller.metrics().encode(),
    )
        .into_response()
}

async fn health(State(poller): State<Arc<Poller>>) -> Response {
    let h = poller.health();
    let status = if h.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, format!("{}\n", h.reason)).into_response()
}

/// Polls now (after any running cycle) and answers `{"targets": N, "skipped": n, "written": b}`,
/// or 502 with `{"error": "...", "result": "..."}`.
async fn refresh(State(poller): State<Arc<Poller>>) -> Response {
    match poller.poll().await {
        Ok(summary) => Json(summary).into_response(),
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            Json(serde_json::json!({
                "error": e.to_string(),
                "result": format!("{:?}", e.result()),
            })),
        )
            .into_response(),
    }
}

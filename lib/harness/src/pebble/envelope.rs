//! Pebble's JSON response envelope: `sync`, `async` and `error` responses.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// `{"type":"sync","status-code":200,"status":"OK","result":…}`.
pub fn sync(result: Value) -> Response {
    let body = sync_body(result);
    json_response(StatusCode::OK, &body)
}

/// The body of a sync response (also embedded in multipart file reads).
pub fn sync_body(result: Value) -> Value {
    json!({"type": "sync", "status-code": 200, "status": "OK", "result": result})
}

/// `{"type":"async","status-code":202,"status":"Accepted","change":"<id>","result":…}`.
pub fn async_change(change_id: u64, result: Value) -> Response {
    let body = json!({
        "type": "async",
        "status-code": 202,
        "status": "Accepted",
        "change": change_id.to_string(),
        "result": result,
    });
    json_response(StatusCode::ACCEPTED, &body)
}

/// An error envelope with `result.message` (and `result.kind` when given).
pub fn error(status: u16, message: impl Into<String>, kind: Option<&str>) -> Response {
    let mut result = Map::new();
    result.insert("message".into(), Value::String(message.into()));
    if let Some(kind) = kind {
        result.insert("kind".into(), Value::String(kind.into()));
    }
    error_with_result(status, Value::Object(result))
}

/// An error envelope with an arbitrary `result` object.
pub fn error_with_result(status: u16, result: Value) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({
        "type": "error",
        "status-code": code.as_u16(),
        "status": code.canonical_reason().unwrap_or(""),
        "result": result,
    });
    json_response(code, &body)
}

/// 400 with a message, the most common Pebble error.
pub fn bad_request(message: impl Into<String>) -> Response {
    error(400, message, None)
}

/// 404 `invalid API endpoint requested`.
pub fn not_found_endpoint() -> Response {
    error(404, "invalid API endpoint requested", None)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

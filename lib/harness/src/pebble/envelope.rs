//! Pebble's JSON response envelope: `sync`, `async` and `error` responses.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The envelope, with Pebble's field order.
#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(rename = "status-code")]
    status_code: u16,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<String>,
    result: &'a T,
}

/// `{"type":"sync","status-code":200,"status":"OK","result":…}`.
pub fn sync<T: Serialize>(result: &T) -> Response {
    json_response(StatusCode::OK, sync_body(result))
}

/// The text of a sync response (also embedded in multipart file reads).
pub fn sync_body<T: Serialize>(result: &T) -> String {
    encode(&Envelope {
        kind: "sync",
        status_code: 200,
        status: "OK",
        change: None,
        result,
    })
}

/// A sync envelope with another status: Pebble's `/v1/health` answers
/// `{"type":"sync","status-code":502,"status":"Bad Gateway","result":{"healthy":false}}`.
pub fn sync_with_status<T: Serialize>(status: u16, result: &T) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = encode(&Envelope {
        kind: "sync",
        status_code: code.as_u16(),
        status: code.canonical_reason().unwrap_or(""),
        change: None,
        result,
    });
    json_response(code, body)
}

/// `{"type":"async","status-code":202,"status":"Accepted","change":"<id>","result":…}`.
pub fn async_change<T: Serialize>(change_id: u64, result: &T) -> Response {
    let body = encode(&Envelope {
        kind: "async",
        status_code: 202,
        status: "Accepted",
        change: Some(change_id.to_string()),
        result,
    });
    json_response(StatusCode::ACCEPTED, body)
}

/// An error envelope with `result.message` (and `result.kind` when given).
pub fn error(status: u16, message: impl Into<String>, kind: Option<&str>) -> Response {
    let result = ErrorResult {
        message: message.into(),
        kind: kind.map(String::from),
    };
    error_with_result(status, &result)
}

/// An error envelope with an arbitrary `result` object.
pub fn error_with_result<T: Serialize>(status: u16, result: &T) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = encode(&Envelope {
        kind: "error",
        status_code: code.as_u16(),
        status: code.canonical_reason().unwrap_or(""),
        change: None,
        result,
    });
    json_response(code, body)
}

/// Pebble's error `result`: message first, kind when set.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorResult {
    /// Human message.
    pub message: String,
    /// Machine-readable kind (`not-found`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// 400 with a message, the most common Pebble error.
pub fn bad_request(message: impl Into<String>) -> Response {
    error(400, message, None)
}

/// 404 `invalid API endpoint requested`.
pub fn not_found_endpoint() -> Response {
    error(404, "invalid API endpoint requested", None)
}

fn encode<T: Serialize>(envelope: &Envelope<'_, T>) -> String {
    serde_json::to_string(envelope).unwrap_or_else(|e| {
        format!(r#"{{"type":"error","status-code":500,"status":"Internal Server Error","result":{{"message":"cannot encode response: {e}"}}}}"#)
    })
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

//! Pure decoders of Pebble's answers, exactly as the [`Client`](crate::Client) applies them to
//! the bytes it receives, without a socket: for property tests and fuzzing. Whatever the bytes,
//! each returns a value or a typed [`Error`]; none panics.

use serde_json::Value;

use crate::error::Error;
use crate::layer::{Layer, Plan};
use crate::types::{from_result, Answer, Change, Envelope, FileInfo, ServiceInfo};

/// What a successful envelope carried.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// `sync`: the result.
    Sync(Value),
    /// `async`: the change started, and the (usually null) result.
    Async {
        /// The change id.
        change: String,
        /// The result.
        result: Value,
    },
}

/// Decodes a response envelope; `http_status` is what the HTTP layer reported.
pub fn envelope(http_status: u16, body: &[u8]) -> Result<Decoded, Error> {
    Ok(match Envelope::decode(http_status, body)? {
        Answer::Sync(result) => Decoded::Sync(result),
        Answer::Async { change, result } => Decoded::Async { change, result },
    })
}

fn sync_result(what: &str, http_status: u16, body: &[u8]) -> Result<Value, Error> {
    match envelope(http_status, body)? {
        Decoded::Sync(result) => Ok(result),
        Decoded::Async { change, .. } => Err(Error::Protocol(format!(
            "{what}: started change {change} where a direct answer was expected"
        ))),
    }
}

/// `GET /v1/plan?format=yaml`: the envelope, then the plan YAML inside it.
pub fn plan_response(http_status: u16, body: &[u8]) -> Result<Plan, Error> {
    let yaml: String = from_result("plan", sync_result("plan", http_status, body)?)?;
    plan_yaml(&yaml)
}

/// A plan's YAML as Pebble prints it.
pub fn plan_yaml(yaml: &str) -> Result<Plan, Error> {
    Layer::from_yaml(yaml).map_err(|e| Error::Protocol(format!("plan: {e}")))
}

/// `GET /v1/changes/{id}` or its `/wait`.
pub fn change_response(http_status: u16, body: &[u8]) -> Result<Change, Error> {
    from_result("change", sync_result("change", http_status, body)?)
}

/// `GET /v1/files?action=list`.
pub fn file_list_response(http_status: u16, body: &[u8]) -> Result<Vec<FileInfo>, Error> {
    from_result("file list", sync_result("file list", http_status, body)?)
}

/// `GET /v1/services`.
pub fn services_response(http_status: u16, body: &[u8]) -> Result<Vec<ServiceInfo>, Error> {
    from_result("services", sync_result("services", http_status, body)?)
}

/// One part of a multipart answer (`GET /v1/files?action=read`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The form field name (`response`, `files`).
    pub name: Option<String>,
    /// The file name (the path, for `files` parts).
    pub filename: Option<String>,
    /// The bytes.
    pub data: Vec<u8>,
}

/// A complete multipart body with its `Content-Type` header.
pub fn multipart(content_type: &str, body: &[u8]) -> Result<Vec<Part>, Error> {
    Ok(crate::files::parse_multipart(content_type, body)?
        .into_iter()
        .map(|p| Part {
            name: p.name,
            filename: p.filename,
            data: p.data,
        })
        .collect())
}

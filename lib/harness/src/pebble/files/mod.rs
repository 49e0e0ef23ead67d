//! `/v1/files`: push (multipart), pull (multipart answer), list, make-dirs and remove, on a
//! real host directory standing for the container's `/`.
//!
//! Modules: `write` (multipart push), `read` (pull and list), `dirs` (make-dirs, remove),
//! `glob` (list patterns); this file maps paths, spells errors and dispatches requests.
//!
//! Error texts follow Go's `*PathError` form (`open /etc/x: no such file or directory`) with
//! the container path, so a charm sees what it would see against a real Pebble.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::Extension;
use serde::{Deserialize, Serialize};

use super::envelope::{self, ErrorResult};
use super::server::RecordIndex;
use super::state::{Ownership, Shared};

mod dirs;
mod glob;
mod read;
mod write;

use dirs::{make_dir, remove_path, MakeDirItem, RemoveItem};
pub use glob::glob_match;
use read::{list_files, read_files};
use write::write_files;

/// Pebble rejects multipart boundaries shorter than this.
const MIN_BOUNDARY_LENGTH: usize = 32;

/// Maps a container path to the host path under `fs_root` (lexically cleaned, never above it).
pub fn host_path(fs_root: &Path, container_path: &str) -> PathBuf {
    let mut out = fs_root.to_path_buf();
    let mut depth = 0usize;
    for component in Path::new(container_path).components() {
        match component {
            Component::Normal(part) => {
                out.push(part);
                depth += 1;
            }
            Component::ParentDir if depth > 0 => {
                out.pop();
                depth -= 1;
            }
            _ => {}
        }
    }
    out
}

/// Maps a container path in a command argument (`/etc/x` or `--flag=/etc/x`) to its host
/// path when it lies under one of `prefixes` (each ending in `/`); other arguments are kept.
pub fn map_arg(fs_root: &Path, arg: &str, prefixes: &[&str]) -> String {
    let (flag, value) = match arg.split_once('=') {
        Some((flag, value)) if flag.starts_with('-') => (Some(flag), value),
        _ => (None, arg),
    };
    let mapped = if prefixes.iter().any(|p| value.starts_with(p)) {
        host_path(fs_root, value).to_string_lossy().into_owned()
    } else {
        value.to_string()
    };
    match flag {
        Some(flag) => format!("{flag}={mapped}"),
        None => mapped,
    }
}

/// A per-path failure, reported as `{"kind":…,"message":…}`.
#[derive(Debug, Clone)]
pub struct FileError {
    kind: &'static str,
    message: String,
}

impl FileError {
    fn generic(message: String) -> Self {
        FileError {
            kind: "generic-file-error",
            message,
        }
    }

    /// Like Go's `&PathError{Op: op, Path: path, Err: err}`.
    fn os(op: &str, path: &str, err: &io::Error) -> Self {
        let kind = match err.kind() {
            io::ErrorKind::NotFound => "not-found",
            io::ErrorKind::PermissionDenied => "permission-denied",
            _ => "generic-file-error",
        };
        FileError {
            kind,
            message: format!("{op} {path}: {}", go_errno_text(err)),
        }
    }

    fn wrap(self, prefix: &str) -> Self {
        FileError {
            kind: self.kind,
            message: format!("{prefix}: {}", self.message),
        }
    }

    fn result(&self) -> ErrorResult {
        ErrorResult {
            message: self.message.clone(),
            kind: Some(self.kind.to_string()),
        }
    }
}

/// Go spells errno texts in lower case without the `(os error N)` suffix.
fn go_errno_text(err: &io::Error) -> String {
    let text = match err.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code).to_string(),
        None => err.to_string(),
    };
    let text = match text.find(" (os error") {
        Some(pos) => text[..pos].to_string(),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

fn not_absolute(path: &str) -> FileError {
    FileError::generic(format!("paths must be absolute, got \"{path}\""))
}

/// One per-path result: `{"path":…}` or `{"path":…,"error":{…}}`.
#[derive(Debug, Serialize)]
struct PathResult {
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorResult>,
}

fn result_entry(path: &str, outcome: Result<(), FileError>) -> PathResult {
    PathResult {
        path: path.to_string(),
        error: outcome.err().map(|e| e.result()),
    }
}

fn parse_permissions(text: Option<&str>, default: u32) -> Result<u32, FileError> {
    match text {
        None | Some("") => Ok(default),
        Some(t) => match u32::from_str_radix(t, 8) {
            Ok(mode) if t.len() == 3 => Ok(mode),
            _ => Err(FileError::generic(format!(
                "permissions must be a 3-digit octal string, got \"{t}\""
            ))),
        },
    }
}

/// `mkdir -p` that reports the first non-directory component like Go's `MkdirAll`.
fn mkdir_all(fs_root: &Path, container_dir: &str, mode: u32) -> Result<(), FileError> {
    let mut prefix = String::new();
    for part in container_dir.split('/').filter(|p| !p.is_empty()) {
        prefix.push('/');
        prefix.push_str(part);
        let host = host_path(fs_root, &prefix);
        match std::fs::metadata(&host) {
            Ok(meta) if meta.is_dir() => continue,
            Ok(_) => {
                let err = io::Error::from_raw_os_error(20); // ENOTDIR
                return Err(FileError::os("mkdir", &prefix, &err));
            }
            Err(_) => {
                std::fs::create_dir(&host).map_err(|e| FileError::os("mkdir", &prefix, &e))?;
                let _ = std::fs::set_permissions(&host, std::fs::Permissions::from_mode(mode));
            }
        }
    }
    Ok(())
}

fn parent_of(container_path: &str) -> String {
    match container_path.trim_end_matches('/').rfind('/') {
        Some(0) | None => "/".into(),
        Some(pos) => container_path[..pos].into(),
    }
}

fn ownership_of(
    user_id: Option<u32>,
    user: Option<String>,
    group_id: Option<u32>,
    group: Option<String>,
) -> Option<Ownership> {
    if user_id.is_none() && user.is_none() {
        return None;
    }
    Some(Ownership {
        user_id,
        user,
        group_id,
        group,
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct JsonFilesRequest {
    #[serde(default)]
    action: String,
    #[serde(default)]
    dirs: Vec<MakeDirItem>,
    #[serde(default)]
    paths: Vec<RemoveItem>,
}

/// `POST /v1/files`: multipart write, or JSON make-dirs / remove.
pub async fn post_files(
    State(shared): State<Arc<Shared>>,
    record: Option<Extension<RecordIndex>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "multipart/form-data" => {
            write_files(shared, record.map(|e| e.0), &content_type, body).await
        }
        "application/json" => {
            let bytes = match axum::body::to_bytes(body, usize::MAX).await {
                Ok(b) => b,
                Err(e) => return envelope::bad_request(format!("cannot read request body: {e}")),
            };
            let request: JsonFilesRequest = match serde_json::from_slice(&bytes) {
                Ok(r) => r,
                Err(e) => return envelope::bad_request(format!("cannot decode request body: {e}")),
            };
            let result: Vec<PathResult> = match request.action.as_str() {
                "make-dirs" => request
                    .dirs
                    .iter()
                    .map(|d| result_entry(&d.path, make_dir(&shared, d)))
                    .collect(),
                "remove" => request
                    .paths
                    .iter()
                    .map(|p| result_entry(&p.path, remove_path(&shared, p)))
                    .collect(),
                "write" => {
                    return envelope::bad_request("must use multipart with \"write\" action")
                }
                other => return envelope::bad_request(format!("invalid action \"{other}\"")),
            };
            envelope::sync(&result)
        }
        "" => envelope::bad_request(format!("invalid Content-Type \"{content_type}\"")),
        other => envelope::bad_request(format!("invalid media type \"{other}\"")),
    }
}

/// `GET /v1/files?action=read|list`.
pub async fn get_files(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let get = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    match get("action") {
        "read" => {
            let paths: Vec<String> = query
                .iter()
                .filter(|(k, _)| k == "path")
                .map(|(_, v)| v.clone())
                .collect();
            if paths.is_empty() {
                return envelope::bad_request("must specify one or more paths");
            }
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if accept != "multipart/form-data" {
                return envelope::bad_request("must accept multipart/form-data");
            }
            read_files(&shared, &paths)
        }
        "list" => {
            let path = get("path");
            if path.is_empty() {
                return envelope::bad_request("must specify path");
            }
            let itself = get("itself");
            if !matches!(itself, "" | "true" | "false") {
                return envelope::bad_request("itself parameter must be \"true\" or \"false\"");
            }
            if !path.starts_with('/') {
                return envelope::bad_request(format!("path must be absolute, got \"{path}\""));
            }
            match list_files(&shared, path, get("pattern"), itself == "true") {
                Ok(entries) => envelope::sync(&entries),
                Err(e) => {
                    let status = match e.kind {
                        "not-found" => 404,
                        "permission-denied" => 403,
                        _ => 400,
                    };
                    envelope::error_with_result(status, &e.result())
                }
            }
        }
        other => envelope::bad_request(format!("invalid action \"{other}\"")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_stay_under_the_root() {
        let root = Path::new("/tmp/x/fs");
        assert_eq!(
            host_path(root, "/etc/prometheus/a.yml"),
            root.join("etc/prometheus/a.yml")
        );
        assert_eq!(host_path(root, "/../../etc"), root.join("etc"));
        assert_eq!(host_path(root, "/etc/../var"), root.join("var"));
    }

    #[test]
    fn errno_texts_are_go_spelled() {
        let e = io::Error::from_raw_os_error(2);
        assert_eq!(
            FileError::os("open", "/x", &e).message,
            "open /x: no such file or directory"
        );
        assert_eq!(FileError::os("open", "/x", &e).kind, "not-found");
    }
}

//! `/v1/files`: push (multipart), pull (multipart answer), list, make-dirs and remove, on a
//! real host directory standing for the container's `/`.
//!
//! Error texts follow Go's `*PathError` form (`open /etc/x: no such file or directory`) with
//! the container path, so a charm sees what it would see against a real Pebble.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::envelope::{self, ErrorResult};
use super::server::RecordIndex;
use super::state::{Ownership, Shared};

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

/// One entry of a listing, in Pebble's field order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct ListEntry {
    path: String,
    name: String,
    #[serde(rename = "type")]
    file_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    permissions: String,
    last_modified: String,
    user_id: u32,
    user: String,
    group_id: u32,
    group: String,
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

// ---------------------------------------------------------------------------------------------
// Write

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WriteItem {
    path: String,
    #[serde(default)]
    make_dirs: bool,
    permissions: Option<String>,
    user_id: Option<u32>,
    user: Option<String>,
    group_id: Option<u32>,
    group: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WriteRequest {
    #[serde(default)]
    action: String,
    #[serde(default)]
    files: Vec<WriteItem>,
}

fn write_file(shared: &Shared, item: &WriteItem, content: &[u8]) -> Result<(), FileError> {
    if !item.path.starts_with('/') {
        return Err(not_absolute(&item.path));
    }
    let root = &shared.fs_root;
    if item.make_dirs {
        mkdir_all(root, &parent_of(&item.path), 0o755)
            .map_err(|e| e.wrap("cannot create directory"))?;
    }
    let mode = parse_permissions(item.permissions.as_deref(), 0o644)?;
    let target = host_path(root, &item.path);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix: u32 = rand::random();
    let temp = target.with_file_name(format!(".{name}.{suffix:08x}~"));
    let open_err = |e: io::Error| FileError::os("open", &item.path, &e);
    std::fs::write(&temp, content).map_err(open_err)?;
    let finish = std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(mode))
        .and_then(|()| std::fs::rename(&temp, &target));
    if let Err(e) = finish {
        let _ = std::fs::remove_file(&temp);
        return Err(FileError::os("rename", &item.path, &e));
    }
    let owner = ownership_of(
        item.user_id,
        item.user.clone(),
        item.group_id,
        item.group.clone(),
    );
    let mut state = shared.lock();
    match owner {
        Some(o) => state.ownership.insert(item.path.clone(), o),
        None => state.ownership.remove(&item.path),
    };
    Ok(())
}

async fn write_files(
    shared: Arc<Shared>,
    record: Option<RecordIndex>,
    content_type: &str,
    body: Body,
) -> Response {
    let boundary = multer::parse_boundary(content_type).unwrap_or_default();
    if boundary.len() < MIN_BOUNDARY_LENGTH {
        return envelope::bad_request(format!("invalid boundary \"{boundary}\""));
    }
    let mut multipart = multer::Multipart::new(body.into_data_stream(), boundary);
    let meta_field = match multipart.next_field().await {
        Ok(Some(field)) => field,
        Ok(None) => return envelope::bad_request("cannot read request metadata: EOF"),
        Err(e) => return envelope::bad_request(format!("cannot read request metadata: {e}")),
    };
    let field_name = meta_field.name().unwrap_or_default().to_string();
    if field_name != "request" {
        return envelope::bad_request(format!(
            "metadata field name must be \"request\", got \"{field_name}\""
        ));
    }
    let meta_bytes = match meta_field.bytes().await {
        Ok(b) => b,
        Err(e) => return envelope::bad_request(format!("cannot read request metadata: {e}")),
    };
    let meta_json: Value = match serde_json::from_slice(&meta_bytes) {
        Ok(v) => v,
        Err(e) => return envelope::bad_request(format!("cannot decode request metadata: {e}")),
    };
    if let Some(RecordIndex(index)) = record {
        if let Some(req) = shared.lock().requests.get_mut(index) {
            req.body_json = Some(meta_json.clone());
        }
    }
    let request: WriteRequest = match serde_json::from_value(meta_json) {
        Ok(r) => r,
        Err(e) => return envelope::bad_request(format!("cannot decode request metadata: {e}")),
    };
    if request.action != "write" {
        return envelope::bad_request(format!(
            "multipart action must be \"write\", got \"{}\"",
            request.action
        ));
    }
    if request.files.is_empty() {
        return envelope::bad_request("must specify one or more files");
    }
    let mut outcomes: Vec<(String, Result<(), FileError>)> = Vec::new();
    let mut part = 0usize;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return envelope::bad_request(format!("cannot read file part {part}: {e}")),
        };
        let name = field.name().unwrap_or_default().to_string();
        if name != "files" {
            return envelope::bad_request(format!("field name must be \"files\", got \"{name}\""));
        }
        let path = field.file_name().unwrap_or_default().to_string();
        let Some(item) = request.files.iter().find(|f| f.path == path) else {
            return envelope::bad_request(format!("no metadata for path \"{path}\""));
        };
        let content = match field.bytes().await {
            Ok(b) => b,
            Err(e) => return envelope::bad_request(format!("cannot read file part {part}: {e}")),
        };
        outcomes.push((path, write_file(&shared, item, &content)));
        part += 1;
    }
    let result: Vec<PathResult> = request
        .files
        .iter()
        .map(|item| {
            let outcome = outcomes
                .iter()
                .find(|(p, _)| *p == item.path)
                .map(|(_, o)| o.clone())
                .unwrap_or_else(|| {
                    Err(FileError::generic(format!(
                        "no file content for path \"{}\"",
                        item.path
                    )))
                });
            result_entry(&item.path, outcome)
        })
        .collect();
    envelope::sync(&result)
}

// ---------------------------------------------------------------------------------------------
// Make dirs and remove

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct MakeDirItem {
    path: String,
    #[serde(default)]
    make_parents: bool,
    permissions: Option<String>,
    user_id: Option<u32>,
    user: Option<String>,
    group_id: Option<u32>,
    group: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RemoveItem {
    path: String,
    #[serde(default)]
    recursive: bool,
}

#[derive(Debug, Deserialize)]
struct JsonFilesRequest {
    #[serde(default)]
    action: String,
    #[serde(default)]
    dirs: Vec<MakeDirItem>,
    #[serde(default)]
    paths: Vec<RemoveItem>,
}

fn make_dir(shared: &Shared, item: &MakeDirItem) -> Result<(), FileError> {
    if !item.path.starts_with('/') {
        return Err(not_absolute(&item.path));
    }
    let mode = parse_permissions(item.permissions.as_deref(), 0o755)?;
    if item.make_parents {
        mkdir_all(&shared.fs_root, &item.path, mode)?;
    } else {
        let host = host_path(&shared.fs_root, &item.path);
        std::fs::create_dir(&host).map_err(|e| FileError::os("mkdir", &item.path, &e))?;
        let _ = std::fs::set_permissions(&host, std::fs::Permissions::from_mode(mode));
    }
    if let Some(o) = ownership_of(
        item.user_id,
        item.user.clone(),
        item.group_id,
        item.group.clone(),
    ) {
        shared.lock().ownership.insert(item.path.clone(), o);
    }
    Ok(())
}

fn remove_path(shared: &Shared, item: &RemoveItem) -> Result<(), FileError> {
    if !item.path.starts_with('/') {
        return Err(not_absolute(&item.path));
    }
    let host = host_path(&shared.fs_root, &item.path);
    let err = |e: io::Error| FileError::os("remove", &item.path, &e);
    let meta = std::fs::symlink_metadata(&host);
    if item.recursive {
        match meta {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&host).map_err(err)?,
            Ok(_) => std::fs::remove_file(&host).map_err(err)?,
        }
    } else {
        match meta.map_err(err)? {
            m if m.is_dir() => std::fs::remove_dir(&host).map_err(err)?,
            _ => std::fs::remove_file(&host).map_err(err)?,
        }
    }
    let prefix = format!("{}/", item.path.trim_end_matches('/'));
    shared
        .lock()
        .ownership
        .retain(|p, _| p != &item.path && !p.starts_with(&prefix));
    Ok(())
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

// ---------------------------------------------------------------------------------------------
// Read and list

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

fn read_files(shared: &Shared, paths: &[String]) -> Response {
    let boundary: String = (0..30)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    let mut body: Vec<u8> = Vec::new();
    let mut results = Vec::new();
    for path in paths {
        let outcome = read_one(shared, path).map(|content| {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; \
                     filename=\"{path}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(&content);
            body.extend_from_slice(b"\r\n");
        });
        results.push(result_entry(path, outcome));
    }
    let response = envelope::sync_body(&results);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"response\"\r\n\
             Content-Type: application/json\r\n\r\n{response}\n\r\n--{boundary}--\r\n"
        )
        .as_bytes(),
    );
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )],
        body,
    )
        .into_response()
}

fn read_one(shared: &Shared, path: &str) -> Result<Vec<u8>, FileError> {
    if !path.starts_with('/') {
        return Err(not_absolute(path));
    }
    let host = host_path(&shared.fs_root, path);
    let meta = std::fs::metadata(&host).map_err(|e| FileError::os("stat", path, &e))?;
    if !meta.is_file() {
        return Err(FileError::generic(format!(
            "can only read a regular file: \"{path}\""
        )));
    }
    std::fs::read(&host).map_err(|e| FileError::os("open", path, &e))
}

fn list_files(
    shared: &Shared,
    path: &str,
    pattern: &str,
    itself: bool,
) -> Result<Vec<ListEntry>, FileError> {
    let host = host_path(&shared.fs_root, path);
    let meta = std::fs::metadata(&host).map_err(|e| FileError::os("stat", path, &e))?;
    let clean = path.trim_end_matches('/');
    let mut entries: Vec<(String, std::fs::Metadata)> = Vec::new();
    if !meta.is_dir() || itself {
        entries.push((
            if clean.is_empty() {
                "/".into()
            } else {
                clean.into()
            },
            meta,
        ));
    } else {
        let dir = std::fs::read_dir(&host).map_err(|e| FileError::os("open", path, &e))?;
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Ok(m) = entry.metadata() {
                entries.push((format!("{clean}/{name}"), m));
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
    }
    let state = shared.lock();
    let mut out = Vec::new();
    for (full, meta) in entries {
        let name = full.rsplit('/').next().unwrap_or_default().to_string();
        let name = if name.is_empty() {
            "/".to_string()
        } else {
            name
        };
        if !pattern.is_empty() && !glob_match(pattern, &name) {
            continue;
        }
        let file_type = meta.file_type();
        let kind = if file_type.is_file() {
            "file"
        } else if file_type.is_dir() {
            "directory"
        } else if file_type.is_symlink() {
            "symlink"
        } else {
            "unknown"
        };
        let owner = state.ownership.get(&full).cloned().unwrap_or_default();
        let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
        out.push(ListEntry {
            path: full,
            name,
            file_type: kind,
            size: file_type.is_file().then_some(meta.len()),
            permissions: format!("{:03o}", meta.mode() & 0o777),
            last_modified: humantime::format_rfc3339_seconds(modified).to_string(),
            user_id: owner.user_id.unwrap_or(0),
            user: owner.user.unwrap_or_else(|| "root".into()),
            group_id: owner.group_id.unwrap_or(0),
            group: owner.group.unwrap_or_else(|| "root".into()),
        });
    }
    Ok(out)
}

/// Go's `path.Match` for the patterns a charm uses: `*`, `?`, `[...]` classes, `\` escapes.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_at(&p, &n)
}

fn glob_at(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len())
            .take_while(|&i| i == 0 || n[i - 1] != '/')
            .any(|i| glob_at(&p[1..], &n[i..])),
        Some('?') => !n.is_empty() && n[0] != '/' && glob_at(&p[1..], &n[1..]),
        Some('[') => {
            let Some(c) = n.first() else { return false };
            let Some(end) = p.iter().skip(1).position(|&x| x == ']').map(|i| i + 1) else {
                return false;
            };
            let class = &p[1..end];
            let (negate, class) = match class.first() {
                Some('^') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut matched = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    matched |= class[i] <= *c && *c <= class[i + 2];
                    i += 3;
                } else {
                    matched |= class[i] == *c;
                    i += 1;
                }
            }
            matched != negate && glob_at(&p[end + 1..], &n[1..])
        }
        Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && glob_at(&p[2..], &n[1..]),
        Some(c) => n.first() == Some(c) && glob_at(&p[1..], &n[1..]),
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
    fn glob_matches_like_go_path_match() {
        assert!(glob_match("*.rules", "a.rules"));
        assert!(!glob_match("*.rules", "a.yml"));
        assert!(glob_match("file_?.json", "file_1.json"));
        assert!(glob_match("[a-c]*", "beta"));
        assert!(!glob_match("[^a-c]*", "beta"));
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

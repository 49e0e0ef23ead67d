//! Reading files (multipart answer) and listing directories.

use std::os::unix::fs::MetadataExt;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{glob_match, host_path, not_absolute, result_entry, FileError};
use crate::pebble::envelope;
use crate::pebble::state::Shared;

/// One entry of a listing, in Pebble's field order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(super) struct ListEntry {
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

pub(super) fn read_files(shared: &Shared, paths: &[String]) -> Response {
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

pub(super) fn list_files(
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

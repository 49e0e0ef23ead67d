//! Multipart file writes (`POST /v1/files`, action `write`): atomic, per-file results.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::{
    host_path, mkdir_all, not_absolute, ownership_of, parent_of, parse_permissions, result_entry,
    FileError, PathResult, MIN_BOUNDARY_LENGTH,
};
use crate::pebble::envelope;
use crate::pebble::server::RecordIndex;
use crate::pebble::state::Shared;

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

pub(super) async fn write_files(
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

//! `make-dirs` and `remove` (`POST /v1/files` with a JSON body).

use std::io;
use std::os::unix::fs::PermissionsExt;

use serde::Deserialize;

use super::{host_path, mkdir_all, not_absolute, ownership_of, parse_permissions, FileError};
use crate::pebble::state::Shared;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) struct MakeDirItem {
    pub(super) path: String,
    #[serde(default)]
    make_parents: bool,
    permissions: Option<String>,
    user_id: Option<u32>,
    user: Option<String>,
    group_id: Option<u32>,
    group: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RemoveItem {
    pub(super) path: String,
    #[serde(default)]
    recursive: bool,
}

pub(super) fn make_dir(shared: &Shared, item: &MakeDirItem) -> Result<(), FileError> {
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

pub(super) fn remove_path(shared: &Shared, item: &RemoveItem) -> Result<(), FileError> {
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

//! Writing the zip: one flat entry per file, each with its Unix mode, so Juju unpacks `dispatch`
//! and the binary as executables.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::PackError;

/// Where an entry's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntrySource {
    /// A file on disk.
    File(PathBuf),
    /// Generated content.
    Bytes(Vec<u8>),
}

/// One file of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path inside the archive.
    pub name: String,
    /// Content.
    pub source: EntrySource,
    /// Unix permission bits, e.g. `0o755`.
    pub mode: u32,
}

impl Entry {
    /// An entry copied from a file.
    pub fn file(name: &str, path: PathBuf, mode: u32) -> Self {
        Self {
            name: name.to_string(),
            source: EntrySource::File(path),
            mode,
        }
    }

    /// An entry with generated content.
    pub fn bytes(name: &str, bytes: Vec<u8>, mode: u32) -> Self {
        Self {
            name: name.to_string(),
            source: EntrySource::Bytes(bytes),
            mode,
        }
    }
}

/// How entries are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipSettings {
    /// Deflate entries (what charmcraft does); `false` stores them as they are, which is much
    /// faster for the 100+ MB unoptimised binaries of tests.
    pub compress: bool,
    /// Modification time recorded on every entry (UTC).
    pub modified: SystemTime,
}

/// Writes `entries` to `out` (via a temporary sibling renamed into place) and returns the size.
pub fn write_zip(out: &Path, entries: &[Entry], settings: ZipSettings) -> Result<u64, PackError> {
    let method = if settings.compress {
        CompressionMethod::Deflated
    } else {
        CompressionMethod::Stored
    };
    let modified = zip_time(settings.modified);
    let zip_err = |source| PackError::Zip {
        path: out.to_path_buf(),
        source,
    };
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| PackError::io(parent, e))?;
    }
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".part");
    let tmp = PathBuf::from(tmp);
    let file = File::create(&tmp).map_err(|e| PackError::io(&tmp, e))?;
    let mut zip = ZipWriter::new(BufWriter::new(file));
    let result = (|| {
        for entry in entries {
            let options = SimpleFileOptions::default()
                .compression_method(method)
                .last_modified_time(modified)
                .unix_permissions(entry.mode);
            zip.start_file(entry.name.as_str(), options)
                .map_err(zip_err)?;
            match &entry.source {
                EntrySource::Bytes(bytes) => {
                    zip.write_all(bytes).map_err(|e| PackError::io(out, e))?
                }
                EntrySource::File(path) => {
                    let mut input = File::open(path).map_err(|e| PackError::io(path, e))?;
                    std::io::copy(&mut input, &mut zip).map_err(|e| PackError::io(path, e))?;
                }
            }
        }
        let mut writer = zip.finish().map_err(zip_err)?;
        writer.flush().map_err(|e| PackError::io(&tmp, e))?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, out).map_err(|e| PackError::io(out, e))?;
    let size = std::fs::metadata(out)
        .map_err(|e| PackError::io(out, e))?
        .len();
    Ok(size)
}

/// Extracts a charm archive into `dir` as Juju does: flat entries, Unix modes applied. Returns
/// the entry names with their modes, in archive order. Entries that would land outside `dir`
/// are refused.
pub fn unpack(archive: &Path, dir: &Path) -> Result<Vec<(String, u32)>, PackError> {
    let zip_err = |source| PackError::Zip {
        path: archive.to_path_buf(),
        source,
    };
    let file = File::open(archive).map_err(|e| PackError::io(archive, e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(zip_err)?;
    let mut entries = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(zip_err)?;
        let name = entry.name().map_err(zip_err)?.into_owned();
        let relative = entry.enclosed_name().ok_or_else(|| PackError::Recipe {
            path: archive.to_path_buf(),
            reason: format!("entry {name:?} points outside the charm directory"),
        })?;
        let target = dir.join(relative);
        let mode = entry.unix_mode().unwrap_or(0o644) & 0o7777;
        if entry.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| PackError::io(&target, e))?;
        } else {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| PackError::io(parent, e))?;
            }
            let mut out = File::create(&target).map_err(|e| PackError::io(&target, e))?;
            std::io::copy(&mut entry, &mut out).map_err(|e| PackError::io(&target, e))?;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
                .map_err(|e| PackError::io(&target, e))?;
        }
        entries.push((name, mode));
    }
    Ok(entries)
}

/// A zip timestamp (local time without zone, 2-second resolution, 1980-2107) for `time` in UTC;
/// out-of-range times give the zip epoch.
fn zip_time(time: SystemTime) -> DateTime {
    // "YYYY-MM-DDTHH:MM:SSZ"
    let text = humantime::format_rfc3339_seconds(time).to_string();
    let field = |range: std::ops::Range<usize>| text.get(range).and_then(|s| s.parse().ok());
    let parts = (
        field(0..4),
        field(5..7),
        field(8..10),
        field(11..13),
        field(14..16),
        field(17..19),
    );
    if let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) = parts {
        if let Ok(t) =
            DateTime::from_date_and_time(y, mo as u8, d as u8, h as u8, mi as u8, s as u8)
        {
            return t;
        }
    }
    DateTime::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_content_and_modes_and_no_temporary_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("script");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let out = dir.path().join("sub/out.charm");
        let entries = [
            Entry::file("dispatch", script, 0o755),
            Entry::bytes("manifest.yaml", b"a: 1\n".to_vec(), 0o644),
        ];
        let modified = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_764_074_767);
        let settings = ZipSettings {
            compress: true,
            modified,
        };
        let size = write_zip(&out, &entries, settings).unwrap();
        assert_eq!(size, std::fs::metadata(&out).unwrap().len());
        assert!(!dir.path().join("sub/out.charm.part").exists());

        let mut zip = zip::ZipArchive::new(File::open(&out).unwrap()).unwrap();
        let mut seen = Vec::new();
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).unwrap();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut f, &mut text).unwrap();
            seen.push((
                f.name().unwrap().to_string(),
                f.unix_mode().unwrap() & 0o7777,
                text,
            ));
        }
        let unpacked = dir.path().join("unpacked");
        let listed = unpack(&out, &unpacked).unwrap();
        assert_eq!(
            listed,
            [
                ("dispatch".to_string(), 0o755),
                ("manifest.yaml".to_string(), 0o644)
            ]
        );
        let mode = std::fs::metadata(unpacked.join("dispatch"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            std::fs::read_to_string(unpacked.join("manifest.yaml")).unwrap(),
            "a: 1\n"
        );
        assert_eq!(
            seen,
            [
                ("dispatch".to_string(), 0o755, "#!/bin/sh\n".to_string()),
                ("manifest.yaml".to_string(), 0o644, "a: 1\n".to_string()),
            ]
        );
    }

    #[test]
    fn a_missing_input_fails_without_leaving_an_archive() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.charm");
        let settings = ZipSettings {
            compress: false,
            modified: SystemTime::now(),
        };
        let missing = [Entry::file("x", dir.path().join("missing"), 0o644)];
        let err = write_zip(&out, &missing, settings).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        assert!(!out.exists());
        assert!(!dir.path().join("out.charm.part").exists());
    }
}

//! Atomic, change-only replacement of the file_sd output file.
//!
//! Sequence: compare with the current content (an unchanged poll opens nothing for writing, so
//! it succeeds on a read-only file system), lock `.<name>.lock` (so a `--once` run and the
//! service never share the temp file), compare again, remove a stale `.<name>.tmp` and create
//! it afresh in the same directory (a name no `*.json` glob matches), set mode 0644, fsync,
//! rename over the output, fsync the directory. A reader therefore sees either the old or the
//! new complete file, never a partial one.
//!
//! Neither the lock nor the temporary file is opened through a symbolic link: the lock with
//! `O_NOFOLLOW`, the temporary file with `O_CREAT|O_EXCL|O_NOFOLLOW`, so a link planted in the
//! directory makes the write fail instead of redirecting it (or the `fchmod`) to another file.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of the output: Prometheus runs as another user and must read it.
pub const OUTPUT_MODE: u32 = 0o644;

/// A failed write (the previous file is left as it was).
#[derive(Debug, thiserror::Error)]
#[error("{action} {path}: {source}")]
pub struct WriteError {
    /// What was being done.
    pub action: &'static str,
    /// The file or directory concerned.
    pub path: String,
    /// The I/O error.
    #[source]
    pub source: io::Error,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The file was replaced.
    Written,
    /// The file already had this content: nothing was touched.
    Unchanged,
}

/// Writes one output file atomically.
#[derive(Debug, Clone)]
pub struct FileWriter {
    path: PathBuf,
    dir: PathBuf,
    tmp: PathBuf,
    lock: PathBuf,
}

fn err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> WriteError + 'a {
    move |source| WriteError {
        action,
        path: path.display().to_string(),
        source,
    }
}

impl FileWriter {
    /// A writer for `path` (which must have a file name).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "inventory.json".into());
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Self {
            tmp: dir.join(format!(".{name}.tmp")),
            lock: dir.join(format!(".{name}.lock")),
            path,
            dir,
        }
    }

    /// The output file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary file used before the rename.
    pub fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// Creates the output directory (mode 0755) if it is missing.
    pub fn ensure_dir(&self) -> Result<(), WriteError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&self.dir)
            .map_err(err("create directory", &self.dir))
    }

    /// The current content of the output, `None` if it does not exist.
    pub fn read_current(&self) -> Result<Option<Vec<u8>>, WriteError> {
        match fs::read(&self.path) {
            Ok(c) => Ok(Some(c)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(err("read", &self.path)(e)),
        }
    }

    /// Replaces the output with `content` unless it already holds exactly that.
    pub fn write_if_changed(&self, content: &[u8]) -> Result<WriteOutcome, WriteError> {
        // Nothing to do: open nothing for writing (the file system may be read-only).
        if self.holds(content)? {
            return Ok(WriteOutcome::Unchanged);
        }
        self.ensure_dir()?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.lock)
            .map_err(err("open lock", &self.lock))?;
        lock.lock().map_err(err("lock", &self.lock))?;
        if self.holds(content)? {
            return Ok(WriteOutcome::Unchanged);
        }
        self.replace(content)?;
        Ok(WriteOutcome::Written)
        // `lock` is released when dropped.
    }

    /// Whether the output already holds exactly `content` (reads it only if the size matches).
    fn holds(&self, content: &[u8]) -> Result<bool, WriteError> {
        match fs::metadata(&self.path) {
            Ok(m) if m.len() == content.len() as u64 => {}
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(err("stat", &self.path)(e)),
        }
        Ok(self.read_current()?.as_deref() == Some(content))
    }

    fn replace(&self, content: &[u8]) -> Result<(), WriteError> {
        let tmp = &self.tmp;
        // A leftover of a killed run, or whatever was planted there: unlinking removes a
        // symbolic link itself, never its target.
        match fs::remove_file(tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(err("remove stale", tmp)(e)),
        }
        let result = (|| {
            let mut f = OpenOptions::new()
                .create_new(true)
                .write(true)
                .mode(OUTPUT_MODE)
                .custom_flags(libc::O_NOFOLLOW)
                .open(tmp)
                .map_err(err("create", tmp))?;
            // The umask may have narrowed the mode given to open(): set it explicitly, and
            // before the rename so the file is never visible with the wrong mode.
            f.set_permissions(Permissions::from_mode(OUTPUT_MODE))
                .map_err(err("chmod", tmp))?;
            f.write_all(content).map_err(err("write", tmp))?;
            f.sync_all().map_err(err("fsync", tmp))?;
            drop(f);
            fs::rename(tmp, &self.path).map_err(err("rename into", &self.path))
        })();
        if let Err(e) = result {
            // Remove only what this run created (a file planted in the way stays as it was).
            if e.action != "create" {
                let _ = fs::remove_file(tmp);
            }
            return Err(e);
        }
        // Make the rename itself durable.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(err("fsync directory", &self.dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn writes_atomically_with_mode_and_skips_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sub/dir/inventory.json");
        let w = FileWriter::new(&out);
        assert_eq!(w.read_current().unwrap(), None);
        assert_eq!(w.write_if_changed(b"[]\n").unwrap(), WriteOutcome::Written);
        let meta = fs::metadata(&out).unwrap();
        assert_eq!(meta.mode() & 0o777, OUTPUT_MODE);
        assert!(!w.tmp_path().exists());
        assert_eq!(
            w.tmp_path().file_name().unwrap().to_str().unwrap(),
            ".inventory.json.tmp"
        );
        assert_eq!(
            w.write_if_changed(b"[]\n").unwrap(),
            WriteOutcome::Unchanged
        );
        assert_eq!(fs::metadata(&out).unwrap().ino(), meta.ino());
        assert_eq!(w.write_if_changed(b"[1]\n").unwrap(), WriteOutcome::Written);
        assert_ne!(fs::metadata(&out).unwrap().ino(), meta.ino());
        assert_eq!(fs::read(&out).unwrap(), b"[1]\n");
    }

    #[test]
    fn concurrent_writers_never_expose_a_mixed_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("inventory.json");
        let a = vec![b'a'; 200_000];
        let b = vec![b'b'; 300_000];
        FileWriter::new(&out).write_if_changed(&a).unwrap();
        std::thread::scope(|s| {
            for content in [&a, &b] {
                let w = FileWriter::new(&out);
                s.spawn(move || {
                    for _ in 0..50 {
                        w.write_if_changed(content).unwrap();
                        std::thread::yield_now();
                    }
                });
            }
            s.spawn(|| {
                for _ in 0..500 {
                    let c = fs::read(&out).unwrap();
                    assert!(c == a || c == b, "mixed file of {} bytes", c.len());
                }
            });
        });
    }

    #[test]
    fn failure_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("inventory.json");
        let w = FileWriter::new(&out);
        w.write_if_changed(b"old").unwrap();
        // A directory in the way of the temp file makes the write fail.
        fs::create_dir(w.tmp_path()).unwrap();
        assert!(w.write_if_changed(b"new").is_err());
        assert_eq!(fs::read(&out).unwrap(), b"old");
    }

    #[test]
    fn a_symlink_planted_as_the_temp_file_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        fs::set_permissions(&victim, Permissions::from_mode(0o600)).unwrap();
        let out = dir.path().join("inventory.json");
        let w = FileWriter::new(&out);
        std::os::unix::fs::symlink(&victim, w.tmp_path()).unwrap();
        assert_eq!(w.write_if_changed(b"[]\n").unwrap(), WriteOutcome::Written);
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(fs::metadata(&victim).unwrap().mode() & 0o777, 0o600);
        assert_eq!(fs::read(&out).unwrap(), b"[]\n");
        assert!(!fs::symlink_metadata(&out).unwrap().file_type().is_symlink());
    }

    #[test]
    fn a_symlinked_lock_file_is_refused_and_its_target_never_created() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("inventory.json");
        let w = FileWriter::new(&out);
        w.write_if_changed(b"old").unwrap();
        fs::remove_file(&w.lock).unwrap();
        let target = dir.path().join("created-by-the-lock");
        std::os::unix::fs::symlink(&target, &w.lock).unwrap();
        let e = w.write_if_changed(b"new").unwrap_err();
        assert_eq!(e.action, "open lock", "{e}");
        assert!(!target.exists());
        assert_eq!(fs::read(&out).unwrap(), b"old");
    }

    #[test]
    fn an_unchanged_write_opens_nothing_for_writing() {
        // Stands in for a read-only file system: the lock cannot be opened for writing.
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("inventory.json");
        let w = FileWriter::new(&out);
        w.write_if_changed(b"same").unwrap();
        fs::remove_file(&w.lock).unwrap();
        fs::create_dir(&w.lock).unwrap();
        assert_eq!(
            w.write_if_changed(b"same").unwrap(),
            WriteOutcome::Unchanged
        );
        assert!(w.write_if_changed(b"other").is_err());
        assert_eq!(fs::read(&out).unwrap(), b"same");
    }
}

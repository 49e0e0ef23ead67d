//! Files in the workload container: push (multipart write), pull (multipart read), list,
//! make-dirs and remove.

use std::future::Future;
use std::io::Read;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::client::{Client, Reply};
use crate::error::Error;
use crate::types::{from_result, Answer, Envelope, FileInfo};

/// How pushed files are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOptions {
    /// Create missing parent directories (mode 0755).
    pub make_dirs: bool,
    /// File mode, e.g. `0o644`; Pebble's default (644) when `None`.
    pub permissions: Option<u32>,
    /// Owner by name.
    pub user: Option<String>,
    /// Group by name.
    pub group: Option<String>,
    /// Owner by uid.
    pub user_id: Option<u32>,
    /// Group by gid.
    pub group_id: Option<u32>,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            make_dirs: true,
            permissions: None,
            user: None,
            group: None,
            user_id: None,
            group_id: None,
        }
    }
}

/// A part streaming a shared buffer (no copy of its content).
fn shared_part(content: &Bytes) -> Part {
    Part::stream_with_length(content.clone(), content.len() as u64)
}

/// Bytes read from a local file per chunk of a streamed part.
const READ_CHUNK: usize = 256 << 10;

/// A part streaming what `reader` gives, `len` bytes, read as the request is sent.
fn reader_part(reader: impl Read + Send + 'static, len: u64) -> Part {
    // The reader is a local file: a blocking read on the thread that drives the request is
    // what the request would wait for anyway. After an error the stream ends.
    let chunks = futures_util::stream::unfold(Some(reader), |reader| async move {
        let mut reader = reader?;
        let mut chunk = vec![0; READ_CHUNK];
        match reader.read(&mut chunk) {
            Ok(0) => None,
            Ok(n) => {
                chunk.truncate(n);
                Some((Ok(Bytes::from(chunk)), Some(reader)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    Part::stream_with_length(reqwest::Body::wrap_stream(chunks), len)
}

/// One entry of the per-path results of a files call.
#[derive(Debug, Deserialize)]
struct PathResult {
    path: String,
    #[serde(default)]
    error: Option<PathError>,
}

#[derive(Debug, Deserialize)]
struct PathError {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    message: String,
}

impl Client {
    /// Writes one file (atomically, on Pebble's side).
    pub fn push(&self, path: &str, content: &[u8], opts: &PushOptions) -> Result<(), Error> {
        self.push_many(&[(path.to_string(), Bytes::copy_from_slice(content))], opts)
    }

    /// Writes several files in ONE multipart request; the first per-file error is returned.
    ///
    /// The contents are streamed from the shared buffers, never copied whole: a push of a
    /// few MB holds no second copy of it.
    pub fn push_many(&self, files: &[(String, Bytes)], opts: &PushOptions) -> Result<(), Error> {
        self.push_parts(
            files
                .iter()
                .map(|(path, content)| (path.as_str(), shared_part(content), opts)),
        )
    }

    /// Writes several files, each with its own options, in ONE multipart request (Pebble takes
    /// the options per file); the first per-file error is returned. Pebble writes them in
    /// order, each atomically, but not the request as a whole.
    pub fn push_each(&self, files: &[(String, Bytes, PushOptions)]) -> Result<(), Error> {
        self.push_parts(
            files
                .iter()
                .map(|(path, content, opts)| (path.as_str(), shared_part(content), opts)),
        )
    }

    /// Writes one file of `len` bytes read from `reader` while the request is sent: a large
    /// local file is pushed without being held in memory.
    pub fn push_reader(
        &self,
        path: &str,
        reader: impl Read + Send + 'static,
        len: u64,
        opts: &PushOptions,
    ) -> Result<(), Error> {
        self.push_parts([(path, reader_part(reader, len), opts)])
    }

    /// One write request of `files`, each a part streaming its content, with its options.
    fn push_parts<'a>(
        &self,
        files: impl IntoIterator<Item = (&'a str, Part, &'a PushOptions)>,
    ) -> Result<(), Error> {
        let mut metadata = Vec::new();
        let mut parts = Vec::new();
        for (path, part, opts) in files {
            metadata.push(write_metadata(path, opts));
            let part = part
                .file_name(path.to_owned())
                .mime_str("application/octet-stream")
                .expect("a valid MIME type");
            parts.push(part);
        }
        if parts.is_empty() {
            return Ok(());
        }
        let request = json!({ "action": "write", "files": metadata }).to_string();
        // reqwest's boundaries are 67 characters; Pebble rejects ones under 32.
        let mut form = Form::new().part("request", json_part(request));
        for part in parts {
            form = form.part("files", part);
        }
        let request = self
            .request(Method::POST, "/v1/files", &[], None)
            .multipart(form);
        let (status, body) = self.execute(request)?;
        check_path_results(sync_result(status, &body)?)
    }

    /// Reads a file; a missing file gives [`Error::NotFound`].
    pub fn pull(&self, path: &str) -> Result<Vec<u8>, Error> {
        let query = [("action", "read"), ("path", path)];
        let request = self.request_accepting(
            Method::GET,
            "/v1/files",
            &query,
            None,
            "multipart/form-data",
        );
        let Reply {
            status,
            content_type,
            body,
        } = self.fetch(request)?;
        if !content_type.starts_with("multipart/") {
            // Errors for the whole request (bad path, no access) come as a JSON envelope.
            sync_result(status, &body)?;
            return Err(Error::Protocol(format!(
                "read of {path} answered {content_type:?}, not multipart"
            )));
        }
        let mut content = None;
        let mut response_part = None;
        for part in parse_multipart(&content_type, &body)? {
            match part.name.as_deref() {
                Some("files") if part.filename.as_deref() == Some(path) => {
                    content = Some(part.data)
                }
                Some("response") => response_part = Some(part.data),
                _ => {}
            }
        }
        let response_part = response_part
            .ok_or_else(|| Error::Protocol(format!("read of {path}: no response part")))?;
        match check_path_results(sync_result(status, &response_part)?) {
            Err(Error::File { kind, .. }) if kind == "not-found" => Err(Error::NotFound {
                path: path.to_string(),
            }),
            Err(e) => Err(e),
            Ok(()) => content.ok_or_else(|| {
                Error::Protocol(format!("read of {path}: no file part in the answer"))
            }),
        }
    }

    /// Lists a directory (or, with `pattern`, the entries matching a glob such as `*.yml`).
    /// A missing path gives [`Error::NotFound`].
    pub fn list_files(&self, path: &str, pattern: Option<&str>) -> Result<Vec<FileInfo>, Error> {
        let mut query = vec![("action", "list"), ("path", path)];
        if let Some(pattern) = pattern {
            query.push(("pattern", pattern));
        }
        match self.sync(Method::GET, "/v1/files", &query, None) {
            Ok(result) => from_result("file list", result),
            Err(Error::Api {
                kind: Some(kind), ..
            }) if kind == "not-found" => Err(Error::NotFound {
                path: path.to_string(),
            }),
            Err(e) => Err(e),
        }
    }

    /// Creates a directory (and its parents with `make_parents`); mode e.g. `0o755`.
    pub fn make_dir(
        &self,
        path: &str,
        make_parents: bool,
        permissions: Option<u32>,
    ) -> Result<(), Error> {
        let mut dir = Map::new();
        dir.insert("path".into(), json!(path));
        if make_parents {
            dir.insert("make-parents".into(), json!(true));
        }
        if let Some(mode) = permissions {
            dir.insert("permissions".into(), json!(octal(mode)));
        }
        let body = json!({ "action": "make-dirs", "dirs": [dir] });
        check_path_results(self.sync(Method::POST, "/v1/files", &[], Some(&body))?)
    }

    /// Removes a path; `recursive` removes a directory tree and ignores a missing path.
    pub fn remove_path(&self, path: &str, recursive: bool) -> Result<(), Error> {
        let mut entry = Map::new();
        entry.insert("path".into(), json!(path));
        if recursive {
            entry.insert("recursive".into(), json!(true));
        }
        let body = json!({ "action": "remove", "paths": [entry] });
        check_path_results(self.sync(Method::POST, "/v1/files", &[], Some(&body))?)
    }
}

fn json_part(text: String) -> Part {
    Part::text(text)
        .mime_str("application/json")
        .expect("a valid MIME type")
}

/// The metadata object of one file in a write request.
fn write_metadata(path: &str, opts: &PushOptions) -> Value {
    let mut meta = Map::new();
    meta.insert("path".into(), json!(path));
    if opts.make_dirs {
        meta.insert("make-dirs".into(), json!(true));
    }
    if let Some(mode) = opts.permissions {
        meta.insert("permissions".into(), json!(octal(mode)));
    }
    if let Some(uid) = opts.user_id {
        meta.insert("user-id".into(), json!(uid));
    }
    if let Some(user) = &opts.user {
        meta.insert("user".into(), json!(user));
    }
    if let Some(gid) = opts.group_id {
        meta.insert("group-id".into(), json!(gid));
    }
    if let Some(group) = &opts.group {
        meta.insert("group".into(), json!(group));
    }
    Value::Object(meta)
}

/// Pebble's permission strings are 3-digit octal: `0o644` → `"644"`.
fn octal(mode: u32) -> String {
    format!("{mode:03o}")
}

fn sync_result(status: u16, body: &[u8]) -> Result<Value, Error> {
    match Envelope::decode(status, body)? {
        Answer::Sync(result) => Ok(result),
        Answer::Async { change, .. } => Err(Error::Protocol(format!(
            "files call started change {change}"
        ))),
    }
}

/// Files calls answer 200 even when a path failed: check every entry.
fn check_path_results(result: Value) -> Result<(), Error> {
    let entries: Vec<PathResult> = from_result("file results", result)?;
    for entry in entries {
        if let Some(error) = entry.error {
            return Err(Error::File {
                path: entry.path,
                kind: error.kind,
                message: error.message,
            });
        }
    }
    Ok(())
}

/// One part of a multipart body.
pub(crate) struct MultipartPart {
    pub(crate) name: Option<String>,
    pub(crate) filename: Option<String>,
    pub(crate) data: Vec<u8>,
}

/// Parses a complete multipart body with `multer`.
pub(crate) fn parse_multipart(
    content_type: &str,
    body: &[u8],
) -> Result<Vec<MultipartPart>, Error> {
    let protocol = |e: multer::Error| Error::Protocol(format!("multipart answer: {e}"));
    let boundary = multer::parse_boundary(content_type).map_err(protocol)?;
    let mut multipart = multer::Multipart::with_reader(body, boundary);
    let mut parts = Vec::new();
    while let Some(field) = ready(multipart.next_field())?.map_err(protocol)? {
        let name = field.name().map(str::to_string);
        let filename = field.file_name().map(str::to_string);
        let data = ready(field.bytes())?.map_err(protocol)?.to_vec();
        parts.push(MultipartPart {
            name,
            filename,
            data,
        });
    }
    Ok(parts)
}

/// Polls a future once. `multer` is async, but its input here is a byte slice already in
/// memory, so every step completes on the first poll and no executor is needed.
fn ready<F: Future>(future: F) -> Result<F::Output, Error> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => Err(Error::Protocol(
            "multipart parser wanted more input than the body held".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_are_three_octal_digits() {
        assert_eq!(octal(0o644), "644");
        assert_eq!(octal(0o755), "755");
        assert_eq!(octal(0o600), "600");
        assert_eq!(octal(0o7), "007");
    }
}

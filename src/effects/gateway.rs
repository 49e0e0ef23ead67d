//! The workload gateway: every Pebble call the charm makes goes through [`WorkloadGateway`],
//! with the charm's choices made once: the layer's label, how long a change may take, how
//! files are pushed, a missing file or directory being no error where it means "nothing
//! there".
//!
//! Adding a Pebble call: add a method here, and call it from the module that needs it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use pebble::{CheckInfo, Client, ExecOptions, ExecOutput, Layer, Plan, PushOptions, ServiceInfo};

use crate::core::workload::LAYER_LABEL;

/// How long Pebble may take to start, restart or stop services.
pub const CHANGE_TIMEOUT: Duration = Duration::from_secs(60);

/// The workload container, reached through its Pebble.
#[derive(Debug, Clone)]
pub struct WorkloadGateway {
    client: Client,
}

impl WorkloadGateway {
    /// The gateway to the Pebble listening on `socket`.
    pub fn new(socket: &Path) -> Self {
        Self {
            client: Client::new(socket),
        }
    }

    /// Pebble's current plan.
    pub fn plan(&self) -> Result<Plan, pebble::Error> {
        self.client.get_plan()
    }

    /// Adds (combines) the charm's layer under its label.
    pub fn add_layer(&self, layer: &Layer) -> Result<(), pebble::Error> {
        self.client.add_layer(LAYER_LABEL, layer, true)
    }

    /// Replans: starts the enabled services whose definition changed or that are stopped.
    pub fn replan(&self) -> Result<(), pebble::Error> {
        self.client.replan(CHANGE_TIMEOUT).map(drop)
    }

    /// The named services (every service when `names` is empty).
    pub fn services(&self, names: &[&str]) -> Result<Vec<ServiceInfo>, pebble::Error> {
        self.client.services(names)
    }

    /// Restarts the named services.
    pub fn restart_services(&self, names: &[&str]) -> Result<(), pebble::Error> {
        self.client
            .restart_services(names, CHANGE_TIMEOUT)
            .map(drop)
    }

    /// Stops the named services.
    pub fn stop_services(&self, names: &[&str]) -> Result<(), pebble::Error> {
        self.client.stop_services(names, CHANGE_TIMEOUT).map(drop)
    }

    /// The named checks, whatever their level.
    pub fn checks(&self, names: &[&str]) -> Result<Vec<CheckInfo>, pebble::Error> {
        self.client.checks(None, names)
    }

    /// Stops the named checks.
    pub fn stop_checks(&self, names: &[&str]) -> Result<(), pebble::Error> {
        self.client.stop_checks(names).map(drop)
    }

    /// A file's content, `None` when it does not exist.
    pub fn pull(&self, path: &str) -> Result<Option<Vec<u8>>, pebble::Error> {
        match self.client.pull(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Pushes one file with `permissions`, creating its directories.
    pub fn push(&self, path: &str, content: &[u8], permissions: u32) -> Result<(), pebble::Error> {
        self.client.push(path, content, &push_options(permissions))
    }

    /// Pushes one file of `len` bytes streamed from `reader` with `permissions`.
    pub fn push_reader(
        &self,
        path: &str,
        reader: impl std::io::Read + Send + 'static,
        len: u64,
        permissions: u32,
    ) -> Result<(), pebble::Error> {
        self.client
            .push_reader(path, reader, len, &push_options(permissions))
    }

    /// Pushes files sharing `permissions` in one request, creating their directories.
    pub fn push_many(
        &self,
        files: &[(String, Bytes)],
        permissions: u32,
    ) -> Result<(), pebble::Error> {
        self.client.push_many(files, &push_options(permissions))
    }

    /// Pushes files, each with its own permissions, in one request, creating directories.
    pub fn push_each(&self, files: &[(String, Bytes, u32)]) -> Result<(), pebble::Error> {
        let files: Vec<_> = files
            .iter()
            .map(|(path, content, permissions)| {
                (path.clone(), content.clone(), push_options(*permissions))
            })
            .collect();
        self.client.push_each(&files)
    }

    /// Removes a file (or a directory with `recursive`); one already gone is no error.
    pub fn remove(&self, path: &str, recursive: bool) -> Result<(), pebble::Error> {
        match self.client.remove_path(path, recursive) {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }

    /// The regular files of `dir` matching `pattern`, name → size, in one listing; none when
    /// the directory does not exist.
    pub fn file_sizes(
        &self,
        dir: &str,
        pattern: &str,
    ) -> Result<BTreeMap<String, u64>, pebble::Error> {
        let listed = match self.client.list_files(dir, Some(pattern)) {
            Err(e) if e.is_not_found() => Vec::new(),
            other => other?,
        };
        Ok(listed
            .into_iter()
            .filter(|f| f.file_type == pebble::FileType::File)
            .map(|f| (f.name, f.size.unwrap_or_default()))
            .collect())
    }

    /// Runs a command in the workload container and waits for it, up to `timeout`.
    pub fn exec(&self, command: &[&str], timeout: Duration) -> Result<ExecOutput, pebble::Error> {
        self.exec_with(command, &[], timeout)
    }

    /// [`exec`](Self::exec) with the variables of `environment` added to the command's.
    pub fn exec_with(
        &self,
        command: &[&str],
        environment: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<ExecOutput, pebble::Error> {
        self.client.exec(
            command,
            &ExecOptions {
                timeout: Some(timeout),
                environment: environment
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..ExecOptions::default()
            },
        )
    }

    /// Whether Pebble no longer answers (the container went away).
    pub fn is_gone(&self) -> bool {
        self.client
            .system_info()
            .is_err_and(|probe| probe.is_connect())
    }

    /// A connection error for this Pebble, with `reason`.
    pub fn connect_error(&self, reason: String) -> pebble::Error {
        pebble::Error::Connect {
            socket: self.client.socket_path().to_path_buf(),
            reason,
        }
    }
}

fn push_options(permissions: u32) -> PushOptions {
    PushOptions {
        make_dirs: true,
        permissions: Some(permissions),
        ..PushOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                rust_files(&path, into);
            } else if path.extension().is_some_and(|e| e == "rs") {
                into.push(path);
            }
        }
    }

    /// Every Pebble call goes through the gateway: no other module of the charm names the
    /// Pebble client.
    #[test]
    fn only_the_gateway_uses_the_pebble_client() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut found = Vec::new();
        for file in files.iter().filter(|f| !f.ends_with("effects/gateway.rs")) {
            let text = std::fs::read_to_string(file).expect("readable source");
            let code = text.split("#[cfg(test)]").next().unwrap_or(&text);
            let mut in_pebble_use = false;
            for (number, line) in code.lines().enumerate() {
                let line = line.split("//").next().unwrap_or("");
                in_pebble_use |= line.contains("use pebble::");
                let names_client = line.contains("pebble::Client")
                    || (in_pebble_use
                        && line
                            .split(|c: char| !c.is_alphanumeric())
                            .any(|w| w == "Client"));
                if names_client {
                    found.push(format!(
                        "{}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
                if in_pebble_use && line.contains(';') {
                    in_pebble_use = false;
                }
            }
        }
        assert!(
            found.is_empty(),
            "use effects::gateway::WorkloadGateway instead of the Pebble client:\n{}",
            found.join("\n")
        );
    }
}

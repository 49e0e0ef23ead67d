//! Runs a compiled charm for one event the way Juju does, against the fake hook tools, and
//! settles the hook's buffered writes by its exit status.

use std::path::{Path, PathBuf};

use juju_hook::Event;

use super::file::{hook_command, install_hook_tools, StateFile};
use super::state::{ModelError, ModelState};

/// What one hook run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookOutcome {
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// The charm's standard output.
    pub stdout: String,
    /// The charm's standard error.
    pub stderr: String,
}

impl HookOutcome {
    /// Exit 0: Juju committed the hook's buffered writes.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// A charm binary wired to a model in a state file and a directory of fake hook tools.
#[derive(Debug, Clone)]
pub struct HookRunner {
    charm_binary: PathBuf,
    tools_dir: PathBuf,
    file: StateFile,
    extra_env: Vec<(String, String)>,
    launcher: Vec<String>,
}

impl HookRunner {
    /// Installs the hook tools in `work_dir/hook-tools` (links to `fake_tool_binary`, the
    /// `fake-hook-tool` executable) and writes `state` to `work_dir/model.json`.
    pub fn new(
        work_dir: &Path,
        fake_tool_binary: &Path,
        charm_binary: &Path,
        state: &ModelState,
    ) -> Result<Self, ModelError> {
        let tools_dir = work_dir.join("hook-tools");
        install_hook_tools(&tools_dir, fake_tool_binary).map_err(|e| ModelError::StateFile {
            path: tools_dir.clone(),
            reason: format!("cannot install hook tools: {e}"),
        })?;
        let file = StateFile::create(work_dir.join("model.json"), state)?;
        Ok(Self {
            charm_binary: charm_binary.to_path_buf(),
            tools_dir,
            file,
            extra_env: Vec::new(),
            launcher: Vec::new(),
        })
    }

    /// Adds a variable to every hook's environment (Juju sets none beyond `env_for`, but a
    /// test may need e.g. `RUST_LOG` or a socket path override).
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_env.push((key.into(), value.into()));
        self
    }

    /// Runs every hook through this command line, which must `exec` the rest of its
    /// arguments (e.g. `nsenter --net=<path> --` to put the charm in a pod's network
    /// namespace, as a sidecar charm shares its pod's network). The hook's environment and
    /// working directory are unchanged.
    pub fn with_launcher(mut self, launcher: &[&str]) -> Self {
        self.launcher = launcher.iter().map(|s| (*s).to_string()).collect();
        self
    }

    /// The state file shared with the hook tools.
    pub fn state_file(&self) -> &StateFile {
        &self.file
    }

    /// The directory holding the fake hook tools.
    pub fn tools_dir(&self) -> &Path {
        &self.tools_dir
    }

    /// The model as it is now.
    pub fn state(&self) -> Result<ModelState, ModelError> {
        self.file.load()
    }

    /// Changes the model between hooks (add a relation, set config, start an action...).
    pub fn update<R>(&self, change: impl FnOnce(&mut ModelState) -> R) -> Result<R, ModelError> {
        self.file.update(change)
    }

    /// Runs the charm for `event`, then commits its buffered writes if it exited 0 and
    /// drops them otherwise, as Juju does.
    pub fn run(&self, event: &Event) -> Result<HookOutcome, ModelError> {
        let mut env = self.file.load()?.env_for(event);
        env.extend(self.extra_env.iter().cloned());
        let mut command = hook_command(&self.charm_binary, &env, &self.tools_dir, self.file.path());
        if let Some((program, args)) = self.launcher.split_first() {
            let mut launched = std::process::Command::new(program);
            launched
                .args(args)
                .arg(command.get_program())
                .args(command.get_args());
            launched
                .env_clear()
                .envs(command.get_envs().filter_map(|(k, v)| Some((k, v?))));
            if let Some(dir) = command.get_current_dir() {
                launched.current_dir(dir);
            }
            launched.stdin(std::process::Stdio::null());
            command = launched;
        }
        let output = command.output().map_err(|e| ModelError::StateFile {
            path: self.charm_binary.clone(),
            reason: format!("cannot run the charm: {e}"),
        })?;
        let outcome = HookOutcome {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        if outcome.success() {
            self.file.commit_pending()?;
        } else {
            self.file.discard_pending()?;
        }
        Ok(outcome)
    }
}

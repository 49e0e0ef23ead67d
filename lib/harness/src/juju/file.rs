//! The model state in a JSON file shared between a test and the `fake-hook-tool` processes
//! a charm binary spawns, plus the helpers to run a charm the way Juju does.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::cli::TOOL_NAMES;
use super::index;
use super::state::{ModelError, ModelState};

/// The environment variable naming the state file for `fake-hook-tool`.
pub const STATE_ENV: &str = "CHARM_HARNESS_STATE";

/// A [`ModelState`] stored as JSON at a path. Every access holds an exclusive lock on
/// `<path>.lock`, so concurrent hook-tool processes see and save whole states.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// The state file at `path` (not touched yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Writes `state` to `path` and returns the handle.
    pub fn create(path: impl Into<PathBuf>, state: &ModelState) -> Result<Self, ModelError> {
        let file = Self::new(path);
        file.store(state)?;
        Ok(file)
    }

    /// Where the state lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, what: &str, e: impl std::fmt::Display) -> ModelError {
        ModelError::StateFile {
            path: self.path.clone(),
            reason: format!("{what}: {e}"),
        }
    }

    fn lock(&self) -> Result<File, ModelError> {
        let mut lock_path = self.path.clone().into_os_string();
        lock_path.push(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| self.error("cannot open lock file", e))?;
        lock.lock().map_err(|e| self.error("cannot lock", e))?;
        Ok(lock)
    }

    /// `<path>.calls`: one line per hook-tool call made by [`StateFile::read_only`] since the
    /// state was last written, so a read-only tool does not rewrite the whole state.
    fn calls_path(&self) -> PathBuf {
        let mut path = self.path.clone().into_os_string();
        path.push(".calls");
        PathBuf::from(path)
    }

    fn read_unlocked(&self) -> Result<ModelState, ModelError> {
        let text = std::fs::read(&self.path).map_err(|e| self.error("cannot read", e))?;
        let mut state: ModelState =
            serde_json::from_slice(&text).map_err(|e| self.error("invalid JSON", e))?;
        self.merge_call_log(&mut state)?;
        Ok(state)
    }

    fn merge_call_log(&self, state: &mut ModelState) -> Result<(), ModelError> {
        match std::fs::read_to_string(self.calls_path()) {
            Ok(calls) => calls.lines().for_each(|tool| state.record_call(tool)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.error("cannot read the call log", e)),
        }
        Ok(())
    }

    fn write_unlocked(&self, state: &ModelState) -> Result<(), ModelError> {
        let (text, mut index) = index::encode(state).map_err(|e| self.error("cannot encode", e))?;
        // Write a sibling then rename, so a reader never sees half a file.
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(format!(".tmp{}", std::process::id()));
        std::fs::write(&tmp, text).map_err(|e| self.error("cannot write", e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.error("cannot replace", e))?;
        // The index names the file it describes by size and modification time; a reader that
        // finds another file (or no index) parses the whole state.
        index.stamp = index::Stamp::of(&self.path).map_err(|e| self.error("cannot stat", e))?;
        index
            .store(&index::path_of(&self.path))
            .map_err(|e| self.error("cannot write the index", e))?;
        // The state now holds every call counted in the call log.
        match std::fs::remove_file(self.calls_path()) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(self.error("cannot clear the call log", e))
            }
            _ => Ok(()),
        }
    }

    /// Reads the state.
    pub fn load(&self) -> Result<ModelState, ModelError> {
        let _lock = self.lock()?;
        self.read_unlocked()
    }

    /// Replaces the state.
    pub fn store(&self, state: &ModelState) -> Result<(), ModelError> {
        let _lock = self.lock()?;
        self.write_unlocked(state)
    }

    /// Reads, changes and saves the state under one lock.
    pub fn update<R>(&self, change: impl FnOnce(&mut ModelState) -> R) -> Result<R, ModelError> {
        let _lock = self.lock()?;
        let mut state = self.read_unlocked()?;
        let result = change(&mut state);
        self.write_unlocked(&state)?;
        Ok(result)
    }

    /// Runs `call` on the state under the lock without saving the state: for hook tools that
    /// only read. Calls it counts (in [`ModelState::calls`]) are appended to a small call log
    /// that every read merges, so the counts stay exact while a read-only tool costs one
    /// parse of the state instead of a parse and a rewrite. Any other change is dropped.
    pub fn read_only<R>(&self, call: impl FnOnce(&mut ModelState) -> R) -> Result<R, ModelError> {
        let _lock = self.lock()?;
        let mut state = self.read_unlocked()?;
        let before = state.calls.clone();
        let result = call(&mut state);
        self.append_calls(&before, &state)?;
        Ok(result)
    }

    /// Like [`read_only`](Self::read_only) for a tool that reads only the relations whose
    /// numbers are in `relations` (`relation-get`, `relation-list`): when the index written
    /// with the state is current, only those relations are parsed (the state's other
    /// relations are absent from what `call` sees), so the call costs what those relations
    /// weigh rather than the whole model. Without a current index, the whole state is read.
    pub fn read_only_relations<R>(
        &self,
        relations: &std::collections::BTreeSet<u32>,
        call: impl FnOnce(&mut ModelState) -> R,
    ) -> Result<R, ModelError> {
        let _lock = self.lock()?;
        let mut state = match index::read_partial(&self.path, relations) {
            Some(mut state) => {
                self.merge_call_log(&mut state)?;
                state
            }
            None => self.read_unlocked()?,
        };
        let before = state.calls.clone();
        let result = call(&mut state);
        self.append_calls(&before, &state)?;
        Ok(result)
    }

    fn append_calls(
        &self,
        before: &std::collections::BTreeMap<String, u64>,
        state: &ModelState,
    ) -> Result<(), ModelError> {
        let mut log = String::new();
        for (tool, count) in &state.calls {
            let new = count.saturating_sub(before.get(tool).copied().unwrap_or(0));
            for _ in 0..new {
                log.push_str(tool);
                log.push('\n');
            }
        }
        if !log.is_empty() {
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.calls_path())
                .map_err(|e| self.error("cannot open the call log", e))?;
            file.write_all(log.as_bytes())
                .map_err(|e| self.error("cannot append to the call log", e))?;
        }
        Ok(())
    }

    /// The hook exited 0: apply its buffered writes.
    pub fn commit_pending(&self) -> Result<(), ModelError> {
        self.update(ModelState::commit_pending)
    }

    /// The hook failed: drop its buffered writes.
    pub fn discard_pending(&self) -> Result<(), ModelError> {
        self.update(ModelState::discard_pending)
    }
}

/// Makes `dir` a hook-tools directory: one symlink per tool name to `fake_tool_binary`
/// (the `fake-hook-tool` executable, which acts by the name it is called as).
pub fn install_hook_tools(dir: &Path, fake_tool_binary: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for name in TOOL_NAMES {
        let link = dir.join(name);
        if link.symlink_metadata().is_ok() {
            std::fs::remove_file(&link)?;
        }
        symlink(fake_tool_binary, &link)?;
    }
    Ok(())
}

/// A command that runs `charm_binary` as Juju runs `dispatch`: a cleared environment holding
/// exactly `env` (from [`ModelState::env_for`]), `PATH` = `tools_dir` first, the state file
/// in [`STATE_ENV`], stdin closed, and the charm directory as working directory if it exists.
pub fn hook_command(
    charm_binary: &Path,
    env: &[(String, String)],
    tools_dir: &Path,
    state_file: &Path,
) -> Command {
    let mut cmd = Command::new(charm_binary);
    cmd.env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", tools_dir.display()),
        )
        .env(STATE_ENV, state_file)
        .stdin(std::process::Stdio::null());
    if let Some((_, dir)) = env.iter().find(|(k, _)| k == "JUJU_CHARM_DIR") {
        if Path::new(dir).is_dir() {
            cmd.current_dir(dir);
        }
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_calls_are_counted_without_saving_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let file =
            StateFile::create(dir.path().join("model.json"), &ModelState::new("p", 0)).unwrap();
        let saved = std::fs::read(file.path()).unwrap();
        for _ in 0..2 {
            file.read_only(|s| {
                s.record_call("is-leader");
                s.leader = true;
            })
            .unwrap();
        }
        assert_eq!(
            std::fs::read(file.path()).unwrap(),
            saved,
            "state not rewritten"
        );
        let state = file.load().unwrap();
        assert_eq!(state.call_count("is-leader"), 2);
        assert!(!state.leader, "a read-only call cannot change the model");

        // A write folds the log into the state; clearing the counts clears the log too.
        file.update(|s| s.record_call("status-set")).unwrap();
        let state = file.load().unwrap();
        assert_eq!((state.call_count("is-leader"), state.total_calls()), (2, 3));
        file.update(|s| s.calls.clear()).unwrap();
        assert_eq!(file.load().unwrap().total_calls(), 0);
    }
}

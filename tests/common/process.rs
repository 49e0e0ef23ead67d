//! The compiled charm run as Juju runs it: one process per event with the `JUJU_*`
//! environment, hook tools on `PATH` (the harness's `fake-hook-tool` executable over a JSON
//! model file), Pebble and Prometheus' web API reached through the `CHARM_*` overrides.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use charm_harness::juju::{HookOutcome, HookRunner};
use charm_harness::{FakePebble, FakePrometheusWeb, ModelState};
use juju_hook::{Event, Status};
use tempfile::TempDir;

/// The charm binary Cargo built for these tests.
pub const CHARM_BINARY: &str = env!("CARGO_BIN_EXE_prometheus-rs-k8s");

/// The `fake-hook-tool` executable of the charm-harness crate.
///
/// It is a bin target of another package, so Cargo gives the root package's tests no
/// `CARGO_BIN_EXE_` for it. It is built once per test process with
/// `cargo build -p charm-harness --bin fake-hook-tool` into the same target directory as the
/// charm binary (found from `CARGO_BIN_EXE_prometheus-rs-k8s`), which is a no-op when it is up
/// to date. Cargo releases its build lock before it runs tests, so the nested build does not
/// deadlock. If that build fails (e.g. a manifest being edited) but a binary is already there,
/// that one is used.
pub fn fake_hook_tool() -> &'static Path {
    static TOOL: OnceLock<PathBuf> = OnceLock::new();
    TOOL.get_or_init(|| {
        let profile_dir = Path::new(CHARM_BINARY)
            .parent()
            .expect("the charm binary is in a profile directory");
        let target_dir = profile_dir.parent().expect("profile directory in target");
        let tool = profile_dir.join("fake-hook-tool");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "charm-harness",
                "--bin",
                "fake-hook-tool",
            ])
            .arg("--manifest-path")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir)
            .output()
            .expect("cargo runs");
        if !output.status.success() {
            assert!(
                tool.is_file(),
                "cannot build fake-hook-tool: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            eprintln!(
                "warning: using the existing {} (build failed: {})",
                tool.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        tool
    })
}

/// A unit of the compiled charm with its fakes: the model in a state file shared with the
/// hook-tool processes, a fake Pebble (real promtool) and a fake Prometheus web API.
pub struct ProcessCharm {
    /// Runs the charm per event and settles its buffered writes.
    pub runner: HookRunner,
    /// The workload container's Pebble.
    pub pebble: FakePebble,
    /// Prometheus' web API.
    pub web: FakePrometheusWeb,
    dir: TempDir,
}

impl ProcessCharm {
    /// Sets everything up around `state`.
    pub fn start(state: &ModelState) -> ProcessCharm {
        Self::start_with_env(state, &[])
    }

    /// Like [`ProcessCharm::start`], with more variables in every hook's environment.
    pub fn start_with_env(state: &ModelState, env: &[(&str, &str)]) -> ProcessCharm {
        let dir = tempfile::tempdir().expect("temp dir");
        // A charm directory of its own, as Juju gives each unit: the charm keeps its databag
        // cache there between hooks.
        let mut state = state.clone();
        state.charm_dir = dir.path().join("charm");
        std::fs::create_dir_all(&state.charm_dir).expect("charm dir");
        let state = &state;
        let pebble = FakePebble::start(&dir.path().join("container"))
            .with_prometheus_version(super::PROMETHEUS_VERSION)
            .with_real_promtool();
        let web = FakePrometheusWeb::start();
        // Prometheus' ready check probes the fake web API the charm is pointed at.
        pebble.map_check_address("localhost:9090", &format!("127.0.0.1:{}", web.port()));
        let runner = HookRunner::new(
            &dir.path().join("juju"),
            fake_hook_tool(),
            Path::new(CHARM_BINARY),
            state,
        )
        .expect("hook runner set up")
        .with_env(
            "CHARM_PEBBLE_SOCKET",
            pebble.socket_path().display().to_string(),
        )
        .with_env("CHARM_PROMETHEUS_URL", web.url())
        .with_env("CHARM_POLLER_URL", "http://127.0.0.1:9")
        // A trusted pod's 1Gi volume, as in the in-process simulation.
        .with_env("CHARM_DATABASE_CAPACITY", "1Gi");
        let runner = env
            .iter()
            .fold(runner, |runner, (k, v)| runner.with_env(*k, *v));
        ProcessCharm {
            runner,
            pebble,
            web,
            dir,
        }
    }

    /// Runs the charm for `event` and returns what the process did.
    pub fn run(&self, event: &Event) -> HookOutcome {
        self.runner.run(event).expect("the charm process runs")
    }

    /// Runs `event`, which must exit 0.
    #[track_caller]
    pub fn ok(&self, event: &Event) -> HookOutcome {
        let out = self.run(event);
        assert!(
            out.success(),
            "{} exited {:?}\nstdout:\n{}\nstderr:\n{}",
            event.name(),
            out.code,
            out.stdout,
            out.stderr
        );
        out
    }

    /// The model now.
    pub fn state(&self) -> ModelState {
        self.runner.state().expect("state file readable")
    }

    /// Changes the model between hooks.
    pub fn update<R>(&self, change: impl FnOnce(&mut ModelState) -> R) -> R {
        self.runner.update(change).expect("state file writable")
    }

    /// The unit status last set.
    pub fn status(&self) -> Status {
        self.state().unit_status.expect("a status was set")
    }

    /// A container file as text.
    pub fn file(&self, container_path: &str) -> Option<String> {
        self.pebble
            .read_file(container_path)
            .map(|b| String::from_utf8(b).expect("UTF-8"))
    }

    /// Replaces one hook tool by a script that fails as Juju's tools do (`ERROR ...`, exit 1).
    pub fn break_tool(&self, tool: &str, message: &str) {
        let path = self.runner.tools_dir().join(tool);
        std::fs::remove_file(&path).expect("tool installed");
        std::fs::write(
            &path,
            format!("#!/bin/sh\necho 'ERROR {message}' >&2\nexit 1\n"),
        )
        .expect("write script");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    /// Puts the real fake tool back in place of a broken one.
    pub fn repair_tool(&self, tool: &str) {
        let path = self.runner.tools_dir().join(tool);
        std::fs::remove_file(&path).expect("tool installed");
        std::os::unix::fs::symlink(fake_hook_tool(), &path).expect("symlink");
    }

    /// A scratch directory living as long as this.
    pub fn scratch_dir(&self) -> &Path {
        self.dir.path()
    }
}

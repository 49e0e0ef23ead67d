//! The packed charm is deployable: the archive has what Juju needs with the right modes, and
//! its `dispatch`, run the way Juju runs it, handles a hook with the charm binary beside it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use charm_harness::juju::{hook_command, install_hook_tools, ModelState, StateFile};
use juju_hook::{Event, StatusKind};
use xtask::{pack, unpack, PackOptions, BINARY_NAME};

const CHARM_BINARY: &str = env!("CARGO_BIN_EXE_prometheus-rs-k8s");

/// The harness's multi-call hook tool. It is a binary of another workspace package, so Cargo
/// does not build it for this test by itself: use the one beside the charm binary, building it
/// first when it is not there.
fn fake_hook_tool() -> PathBuf {
    let dir = Path::new(CHARM_BINARY)
        .parent()
        .expect("binary has a directory");
    let tool = dir.join("fake-hook-tool");
    if !tool.is_file() {
        let status = Command::new(env!("CARGO"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "-p", "charm-harness", "--bin", "fake-hook-tool"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cannot build fake-hook-tool");
    }
    assert!(tool.is_file(), "{} missing after the build", tool.display());
    tool
}

struct Packed {
    _dir: tempfile::TempDir,
    charm: PathBuf,
    unpacked: PathBuf,
    listed: Vec<(String, u32)>,
}

fn pack_and_unpack() -> Packed {
    let dir = tempfile::tempdir().unwrap();
    let charm = dir.path().join("prometheus-rs-k8s_amd64.charm");
    let mut options = PackOptions::new(env!("CARGO_MANIFEST_DIR"), CHARM_BINARY);
    options.out = Some(charm.clone());
    // The debug binary is large; deflating it unoptimised would dominate the test's run time.
    options.compress = false;
    let report = pack(&options).expect("pack");
    assert_eq!(report.path, charm);
    assert!(charm.is_file());
    let unpacked = dir.path().join("charm");
    let listed = unpack(&charm, &unpacked).expect("unpack");
    assert_eq!(
        listed, report.entries,
        "the archive holds what pack reported"
    );
    Packed {
        _dir: dir,
        charm,
        unpacked,
        listed,
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn archive_has_dispatch_binary_and_charm_files_with_their_modes() {
    let packed = pack_and_unpack();
    let expected_modes = [
        ("dispatch", 0o755),
        (BINARY_NAME, 0o755),
        ("metadata.yaml", 0o644),
        ("config.yaml", 0o644),
        ("actions.yaml", 0o644),
        ("manifest.yaml", 0o644),
        ("README.md", 0o644),
    ];
    for (name, want) in expected_modes {
        let entry = packed.listed.iter().find(|(n, _)| n == name);
        assert_eq!(
            entry.map(|(_, m)| *m),
            Some(want),
            "{name} in {}",
            packed.charm.display()
        );
        assert_eq!(mode(&packed.unpacked.join(name)), want, "{name} on disk");
    }
    let names: Vec<&str> = packed.listed.iter().map(|(n, _)| n.as_str()).collect();
    let optional = ["LICENSE"];
    for name in &names {
        assert!(
            expected_modes.iter().any(|(n, _)| n == name) || optional.contains(name),
            "unexpected entry {name}"
        );
    }
    // The repository's charm files are shipped unchanged.
    for name in ["metadata.yaml", "config.yaml", "actions.yaml", "README.md"] {
        let shipped = std::fs::read(packed.unpacked.join(name)).unwrap();
        let source = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap();
        assert!(shipped == source, "{name} differs from the repository's");
    }
    let binary = std::fs::read(packed.unpacked.join(BINARY_NAME)).unwrap();
    assert!(
        binary == std::fs::read(CHARM_BINARY).unwrap(),
        "the binary is shipped byte for byte"
    );

    let manifest: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(packed.unpacked.join("manifest.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["bases"][0]["name"].as_str(), Some("ubuntu"));
    assert_eq!(manifest["bases"][0]["channel"].as_str(), Some("24.04"));
    assert_eq!(
        manifest["bases"][0]["architectures"][0].as_str(),
        Some("amd64")
    );
    assert!(manifest["charmcraft-started-at"].as_str().is_some());
}

/// charmcraft's `entrypoint` linter (run by `charmcraft pack` and `charmcraft analyse`) takes
/// the last shell word of dispatch's last non-empty line as the entrypoint, relative to the
/// charm root, and fails the pack unless it is an executable file there.
#[test]
fn dispatch_names_the_binary_where_charmcraft_looks_for_the_entrypoint() {
    let packed = pack_and_unpack();
    let dispatch = std::fs::read_to_string(packed.unpacked.join("dispatch")).unwrap();
    let last_line = dispatch
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .expect("dispatch has a command");
    let entrypoint = shlex::split(last_line)
        .and_then(|words| words.last().cloned())
        .expect("the last line splits into shell words");
    let path = packed.unpacked.join(&entrypoint);
    let mode = std::fs::metadata(&path)
        .unwrap_or_else(|e| panic!("entrypoint {entrypoint:?}: {e}"))
        .permissions()
        .mode();
    assert!(
        path.is_file() && mode & 0o111 != 0,
        "{entrypoint:?} {mode:o}"
    );
    assert!(path.ends_with("prometheus-rs-k8s"), "{entrypoint:?}");
}

#[test]
fn dispatch_runs_the_install_hook_and_waits_for_pebble() {
    let packed = pack_and_unpack();
    let work = tempfile::tempdir().unwrap();
    let tools = work.path().join("tools");
    install_hook_tools(&tools, &fake_hook_tool()).unwrap();

    let mut state = ModelState::from_charm_dir(&packed.unpacked).unwrap();
    state.set_leader(true);
    let state_file = StateFile::create(work.path().join("state.json"), &state).unwrap();

    let env = state.env_for(&Event::Install);
    assert!(env
        .iter()
        .any(|(k, v)| k == "JUJU_DISPATCH_PATH" && v == "hooks/install"));
    let output = hook_command(
        &packed.unpacked.join("dispatch"),
        &env,
        &tools,
        state_file.path(),
    )
    // No workload container here: the socket does not exist.
    .env(
        "CHARM_PEBBLE_SOCKET",
        work.path().join("missing/pebble.socket"),
    )
    .output()
    .expect("dispatch runs");
    assert!(
        output.status.success(),
        "install failed: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    state_file.commit_pending().unwrap();

    let after = state_file.load().unwrap();
    let status = after.unit_status.expect("the hook set a unit status");
    assert_eq!(status.kind, StatusKind::Waiting, "{status:?}");
    assert!(
        status.message.contains("Pebble"),
        "the message says what is awaited: {status:?}"
    );
    assert!(
        after.calls.get("config-get").copied().unwrap_or(0) >= 1,
        "the hook read its config through the hook tools: {:?}",
        after.calls
    );
}

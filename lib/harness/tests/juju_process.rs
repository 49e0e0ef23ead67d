//! The real hook-tool client (`ProcessHookTools`) against the `fake-hook-tool` executable,
//! and the executable's command lines, output formats, error texts and exit codes.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

use charm_harness::juju::{
    hook_command, install_hook_tools, FakeHookTools, ModelState, StateFile, STATE_ENV, TOOL_NAMES,
};
use juju_hook::{
    HookToolError, HookTools, LogLevel, Port, ProcessHookTools, RelationData, RelationEventKind,
    RelationId, Status,
};
use serde_json::{json, Map};
use tempfile::TempDir;

const FAKE_TOOL: &str = env!("CARGO_BIN_EXE_fake-hook-tool");

/// `ProcessHookTools` passes this process's environment to the tools, so tests that use it
/// set `CHARM_HARNESS_STATE` process-wide and must not overlap.
static ENV_LOCK: Mutex<()> = Mutex::new(());

struct Rig {
    dir: TempDir,
    file: StateFile,
    _env: Option<MutexGuard<'static, ()>>,
}

impl Rig {
    /// Tools installed in a temp dir, `state` in a state file there.
    fn new(state: &ModelState) -> Self {
        let dir = tempfile::tempdir().unwrap();
        install_hook_tools(&dir.path().join("tools"), Path::new(FAKE_TOOL)).unwrap();
        let file = StateFile::create(dir.path().join("state.json"), state).unwrap();
        Self {
            dir,
            file,
            _env: None,
        }
    }

    /// Like `new`, and points `CHARM_HARNESS_STATE` at this rig for `ProcessHookTools`.
    fn with_env(state: &ModelState) -> Self {
        let guard = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut rig = Self::new(state);
        std::env::set_var(STATE_ENV, rig.file.path());
        rig._env = Some(guard);
        rig
    }

    fn tools_dir(&self) -> PathBuf {
        self.dir.path().join("tools")
    }

    fn client(&self) -> ProcessHookTools {
        ProcessHookTools::with_dir(self.tools_dir())
    }

    fn state(&self) -> ModelState {
        self.file.load().unwrap()
    }

    /// Runs one tool with exact argv, extra env and stdin.
    fn raw(&self, tool: &str, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
        let mut child = Command::new(self.tools_dir().join(tool))
            .args(args)
            .env(STATE_ENV, self.file.path())
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

fn text(out: &Output) -> (i32, String, String) {
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn data(pairs: &[(&str, &str)]) -> RelationData {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn charm_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A model with something in every corner.
fn rich_state() -> (ModelState, RelationId, RelationId) {
    let mut s = ModelState::from_charm_dir(&charm_dir()).unwrap();
    s.set_leader(true);
    s.set_config("log_level", "debug").unwrap();
    let scrape = s.add_relation("metrics-endpoint", "node-exporter");
    s.add_remote_unit(&scrape, "node-exporter/0");
    s.set_remote_unit_data(&scrape, "node-exporter/1", &data(&[("port", "9100")]));
    s.set_remote_app_data(&scrape, &data(&[("scrape_jobs", "[{\"a\": 1}]")]));
    let peers = s.add_relation("prometheus-peers", "prometheus-rs-k8s");
    s.add_remote_unit(&peers, "prometheus-rs-k8s/1");
    s.relation_mut(&peers).local_app_data = data(&[("k", "v")]);
    s.opened_ports.insert(Port::tcp(9090));
    s.stored.insert("hash".into(), "abc".into());
    let mut params = Map::new();
    params.insert("verbose".into(), json!(true));
    s.start_action("validate-configuration", params);
    (s, scrape, peers)
}

/// Runs the same reads and writes through the real client + executable and through the
/// in-memory fake: results, errors and the resulting model must be identical.
#[test]
fn process_client_and_in_memory_fake_agree() {
    let (state, scrape, peers) = rich_state();
    let rig = Rig::with_env(&state);
    let proc_tools = rig.client();
    let mem_tools = FakeHookTools::new(state);
    let gone = RelationId::new("metrics-endpoint", 42);

    macro_rules! same {
        ($($call:tt)*) => {{
            let a = proc_tools.$($call)*;
            let b = mem_tools.$($call)*;
            assert_eq!(a, b, "{}", stringify!($($call)*));
            a
        }};
    }

    let config = same!(config_get()).unwrap();
    assert_eq!(config["log_level"], json!("debug"));
    assert!(same!(is_leader()).unwrap());
    assert_eq!(
        same!(relation_ids("metrics-endpoint")).unwrap(),
        vec![scrape.clone()]
    );
    assert_eq!(
        same!(relation_list(&scrape)).unwrap(),
        vec!["node-exporter/0", "node-exporter/1"]
    );
    assert_eq!(
        same!(relation_remote_app(&scrape)).unwrap(),
        "node-exporter"
    );
    assert_eq!(
        same!(relation_get(&scrape, "node-exporter/1", false)).unwrap()["port"],
        "9100"
    );
    same!(relation_get(&scrape, "node-exporter", true)).unwrap();
    same!(relation_get(&scrape, "prometheus-rs-k8s/0", false)).unwrap();
    same!(relation_get(&peers, "prometheus-rs-k8s", true)).unwrap();
    assert!(matches!(
        same!(relation_get(&gone, "x/0", false)),
        Err(HookToolError::RelationNotFound(_))
    ));
    assert!(matches!(
        same!(relation_get(&scrape, "node-exporter/9", false)),
        Err(HookToolError::NotFound(_))
    ));
    assert_eq!(same!(opened_ports()).unwrap(), vec![Port::tcp(9090)]);
    same!(network_get("metrics-endpoint")).unwrap();
    assert!(matches!(
        same!(network_get("no-such-binding")),
        Err(HookToolError::Failed { code: 1, .. })
    ));
    same!(goal_state()).unwrap();
    assert_eq!(same!(action_get()).unwrap()["verbose"], json!(true));
    assert_eq!(same!(state_get()).unwrap()["hash"], "abc");

    // Writes, including values that look like flags and characters JSON must escape.
    same!(relation_set(
        &scrape,
        false,
        &data(&[("a", "-1"), ("q", "\"x\"\n")])
    ))
    .unwrap();
    same!(relation_set(&scrape, true, &data(&[("app", "yes")]))).unwrap();
    same!(status_set(&Status::maintenance("-starting"), false)).unwrap();
    same!(status_set(&Status::active(""), true)).unwrap();
    same!(application_version_set("2.42.0")).unwrap();
    same!(juju_log(LogLevel::Warning, "--careful")).unwrap();
    same!(open_port(Port::tcp(9091))).unwrap();
    same!(close_port(Port::tcp(9090))).unwrap();
    let results: BTreeMap<String, String> = [
        ("valid".to_string(), "true".to_string()),
        ("detail.text".to_string(), "a=b c".to_string()),
    ]
    .into();
    same!(action_set(&results)).unwrap();
    same!(action_log("-progress")).unwrap();
    same!(action_fail("--reason")).unwrap();
    same!(state_set(&[("hash".to_string(), "def".to_string())].into())).unwrap();
    assert_eq!(
        same!(relation_get(&scrape, "prometheus-rs-k8s/0", false)).unwrap()["q"],
        "\"x\"\n"
    );

    let on_disk = rig.state();
    let in_memory = mem_tools.state().clone();
    assert_eq!(on_disk, in_memory);
    assert!(on_disk.call_count("relation-get") >= 7);
}

#[test]
fn leader_rules_through_the_executable() {
    let mut state = ModelState::new("prom", 0);
    let rel = state.add_relation("grafana-source", "grafana");
    let rig = Rig::with_env(&state);
    let tools = rig.client();
    assert!(!tools.is_leader().unwrap());
    assert_eq!(
        tools
            .relation_set(&rel, true, &data(&[("k", "v")]))
            .unwrap_err(),
        HookToolError::PermissionDenied("cannot write relation settings".into())
    );
    assert_eq!(
        tools.relation_get(&rel, "prom", true).unwrap_err(),
        HookToolError::PermissionDenied("permission denied".into())
    );
    assert_eq!(
        tools.status_set(&Status::active(""), true).unwrap_err(),
        HookToolError::PermissionDenied("this unit is not the leader".into())
    );
    // Unit data is fine.
    tools
        .relation_set(&rel, false, &data(&[("k", "v")]))
        .unwrap();
    assert!(rig.state().relations[0].local_app_data.is_empty());
}

#[test]
fn buffering_and_commit_through_the_state_file() {
    let mut state = ModelState::new("prom", 0);
    let rel = state.add_relation("metrics-endpoint", "ne");
    let rig = Rig::with_env(&state);
    let tools = rig.client();

    tools
        .relation_set(&rel, false, &data(&[("job", "1")]))
        .unwrap();
    tools.open_port(Port::tcp(9090)).unwrap();
    tools.status_set(&Status::active("up"), false).unwrap();
    assert_eq!(
        tools.relation_get(&rel, "prom/0", false).unwrap()["job"],
        "1"
    );
    assert!(tools.opened_ports().unwrap().is_empty());
    rig.file.discard_pending().unwrap();
    let s = rig.state();
    assert!(!s.relations[0].local_unit_data.contains_key("job"));
    assert_eq!(s.unit_status, Some(Status::active("up")));
    assert!(tools.opened_ports().unwrap().is_empty());

    tools
        .relation_set(&rel, false, &data(&[("job", "2")]))
        .unwrap();
    tools.open_port(Port::tcp(9090)).unwrap();
    rig.file.commit_pending().unwrap();
    assert_eq!(rig.state().relations[0].local_unit_data["job"], "2");
    assert_eq!(tools.opened_ports().unwrap(), vec![Port::tcp(9090)]);
    assert_eq!(rig.state().call_count("open-port"), 2);
    assert_eq!(rig.state().call_count("opened-ports"), 3);
}

#[test]
fn exact_output_formats() {
    let (state, scrape, _) = rich_state();
    let rig = Rig::new(&state);
    let rel = scrape.to_string();
    let ok = |tool: &str, args: &[&str]| {
        let (code, out, err) = text(&rig.raw(tool, args, &[], ""));
        assert_eq!((code, err.as_str()), (0, ""), "{tool} {args:?}");
        out
    };
    assert_eq!(ok("is-leader", &["--format=json"]), "true\n");
    assert_eq!(ok("is-leader", &[]), "True\n");
    assert_eq!(
        ok("config-get", &["--format=json", "log_level"]),
        "\"debug\"\n"
    );
    assert_eq!(ok("config-get", &["log_level"]), "debug\n");
    assert_eq!(ok("config-get", &["--format=json", "nope"]), "null\n");
    assert_eq!(
        ok("relation-ids", &["metrics-endpoint", "--format=json"]),
        format!("[\"{rel}\"]\n")
    );
    assert_eq!(
        ok("relation-ids", &["alertmanager", "--format=json"]),
        "[]\n"
    );
    assert_eq!(
        ok("relation-list", &["--format=json", "--app", "-r", &rel]),
        "\"node-exporter\"\n"
    );
    assert_eq!(
        ok(
            "relation-list",
            &["--format", "json", &format!("--relation={rel}")]
        ),
        "[\"node-exporter/0\",\"node-exporter/1\"]\n"
    );
    // `-r <n>` without the endpoint is accepted too.
    assert_eq!(
        ok(
            "relation-get",
            &[
                "--format=json",
                "-r",
                &scrape.id.to_string(),
                "port",
                "node-exporter/1"
            ]
        ),
        "\"9100\"\n"
    );
    assert_eq!(
        ok(
            "relation-get",
            &["--format=json", "-r", &rel, "missing", "node-exporter/1"]
        ),
        "null\n"
    );
    assert_eq!(
        ok(
            "relation-get",
            &[
                "--format=json",
                "-r",
                &rel,
                "--app=true",
                "-",
                "node-exporter"
            ]
        ),
        "{\"scrape_jobs\":\"[{\\\"a\\\": 1}]\"}\n"
    );
    assert_eq!(ok("opened-ports", &["--format=json"]), "[\"9090/tcp\"]\n");
    assert_eq!(ok("opened-ports", &["--endpoints"]), "9090/tcp (*)\n");
    assert_eq!(
        ok("relation-list", &["-r", &rel]),
        "node-exporter/0\nnode-exporter/1\n"
    );
    let port = state.effective_config()["inventory_target_port"].clone();
    assert!(port.is_u64());
    assert_eq!(
        ok("config-get", &["inventory_target_port"]),
        format!("{port}\n")
    );
    assert_eq!(ok("state-get", &["--format=json", "missing"]), "\"\"\n");
    assert_eq!(ok("action-get", &["--format=json", "verbose"]), "true\n");
    let address = state.address.clone();
    assert_eq!(
        ok("network-get", &["metrics-endpoint", "--format=json"]),
        format!(
            "{{\"bind-addresses\":[{{\"addresses\":[{{\"cidr\":\"\",\"hostname\":\"\",\"value\":\"{address}\"}}],\"interface-name\":\"\",\"mac-address\":\"\"}}],\"egress-subnets\":[\"{address}/32\"],\"ingress-addresses\":[\"{address}\"]}}\n"
        )
    );
    assert_eq!(
        ok("network-get", &["metrics-endpoint", "--bind-address"]),
        format!("{address}\n")
    );
    assert_eq!(
        ok("status-get", &["--format=json", "--include-data"]),
        "{\"message\":\"\",\"status\":\"unknown\",\"status-data\":{}}\n"
    );
    ok(
        "status-set",
        &["--application=False", "maintenance", "--", "-x"],
    );
    assert_eq!(ok("status-get", &["--format=json"]), "\"maintenance\"\n");
    assert_eq!(
        ok("status-get", &["--format=json", "--include-data", "--application"]),
        "{\"application-status\":{\"message\":\"\",\"status\":\"unknown\",\"status-data\":{},\"units\":{\"prometheus-rs-k8s/0\":{\"message\":\"-x\",\"status\":\"maintenance\",\"status-data\":{}}}}}\n"
    );
}

#[test]
fn exact_errors_and_exit_codes() {
    let mut state = ModelState::new("prom", 0);
    let rel = state.add_relation("metrics-endpoint", "ne");
    let rig = Rig::new(&state);
    let r = rel.to_string();
    let fails = |tool: &str, args: &[&str]| text(&rig.raw(tool, args, &[], ""));
    let usage = |msg: &str| (2, String::new(), format!("ERROR {msg}\n"));
    let runtime = |msg: &str| (1, String::new(), format!("ERROR {msg}\n"));

    assert_eq!(
        fails("relation-get", &["--format=json", "-", "ne/0"]),
        usage("no relation id specified")
    );
    assert_eq!(
        fails("relation-get", &["-r", "metrics-endpoint:9", "-", "ne/0"]),
        usage("invalid value \"metrics-endpoint:9\" for option -r: relation not found")
    );
    assert_eq!(
        fails("relation-list", &["-r", "one"]),
        usage("invalid value \"one\" for option -r: invalid relation id")
    );
    assert_eq!(
        fails("relation-get", &["-r", &r, "-"]),
        usage("no unit or application specified")
    );
    assert_eq!(
        fails("status-set", &["active", "a", "b"]),
        usage("unrecognized args: [\"b\"]")
    );
    assert_eq!(
        fails("relation-get", &["-r", &r, "-", "mysql"]),
        usage("expected unit name, got application name \"mysql\"")
    );
    assert_eq!(
        fails("status-set", &["error", "x"]),
        usage("invalid status \"error\", expected one of [maintenance blocked waiting active]")
    );
    assert_eq!(
        fails("relation-set", &["-r", &r, "--app", "k=v"]),
        runtime("cannot write relation settings")
    );
    assert_eq!(
        fails("status-set", &["--application", "active"]),
        runtime("this unit is not the leader")
    );
    assert_eq!(fails("action-get", &[]), runtime("not running an action"));
    assert_eq!(
        fails("state-get", &["--strict", "k"]),
        runtime("\"k\" not found")
    );
    assert_eq!(
        fails("action-set", &["Bad=1"]).0,
        2,
        "invalid action keys are usage errors"
    );
    // Flags Juju does not define are usage errors too.
    let (code, out, err) = fails("is-leader", &["--bogus"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.starts_with("ERROR ") && err.contains("--bogus"),
        "{err}"
    );
    // Every call counts, failed or not.
    assert_eq!(rig.state().call_count("relation-get"), 4);
    assert_eq!(rig.state().call_count("is-leader"), 1);
}

#[test]
fn defaults_come_from_the_hook_environment() {
    let mut state = ModelState::new("prom", 0);
    let rel = state.add_relation("metrics-endpoint", "ne");
    state.set_remote_unit_data(&rel, "ne/3", &data(&[("k", "unit")]));
    state.set_remote_app_data(&rel, &data(&[("k", "app")]));
    let rig = Rig::new(&state);
    let hook_env = [
        ("JUJU_RELATION", "metrics-endpoint"),
        ("JUJU_RELATION_ID", &*rel.to_string()),
        ("JUJU_REMOTE_UNIT", "ne/3"),
        ("JUJU_REMOTE_APP", "ne"),
    ]
    .map(|(k, v)| (k, v.to_string()));
    let env: Vec<(&str, &str)> = hook_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = |tool: &str, args: &[&str], stdin: &str| text(&rig.raw(tool, args, &env, stdin));
    assert_eq!(run("relation-get", &["k"], "").1, "unit\n");
    assert_eq!(run("relation-get", &["--app", "k"], "").1, "app\n");
    assert_eq!(
        run("relation-ids", &["--format=json"], "").1,
        format!("[\"{rel}\"]\n")
    );
    // relation-set: YAML or JSON on stdin, key=value arguments on top.
    assert_eq!(
        run(
            "relation-set",
            &["--file", "-", "b=arg"],
            "a: yaml\nb: file\nn: 3\n"
        )
        .0,
        0
    );
    assert_eq!(
        run("relation-get", &["--format=json", "-", "prom/0"], "").1,
        "{\"a\":\"yaml\",\"b\":\"arg\",\"egress-subnets\":\"10.1.0.10/32\",\"ingress-address\":\"10.1.0.10\",\"n\":\"3\",\"private-address\":\"10.1.0.10\"}\n"
    );
    // --format on relation-set is accepted with a deprecation warning.
    let (code, _, err) = run("relation-set", &["--format=json", "c=1"], "");
    assert_eq!(
        (code, err.as_str()),
        (0, "--format flag deprecated for command \"relation-set\"")
    );
}

#[test]
fn without_a_remote_unit_relation_get_reads_the_remote_app() {
    let mut state = ModelState::new("prom", 0);
    let rel = state.add_relation("metrics-endpoint", "ne");
    state.set_remote_app_data(&rel, &data(&[("k", "app")]));
    let rig = Rig::new(&state);
    let rel_text = rel.to_string();
    let env = [
        ("JUJU_RELATION_ID", rel_text.as_str()),
        ("JUJU_REMOTE_UNIT", ""),
        ("JUJU_REMOTE_APP", "ne"),
    ];
    let out = text(&rig.raw("relation-get", &["k"], &env, ""));
    assert_eq!(out, (0, "app\n".into(), String::new()));
    let out = text(&rig.raw("relation-get", &["-r", &rel_text, "-", "ne/x"], &[], ""));
    assert_eq!(
        out,
        (
            2,
            String::new(),
            "ERROR invalid unit name \"ne/x\"\n".into()
        )
    );
}

#[test]
fn relation_ids_print_in_string_order_and_clients_sort_by_number() {
    let mut state = ModelState::new("prom", 0);
    let twelve = state.add_relation_with_id("metrics-endpoint", "a", 12);
    let three = state.add_relation_with_id("metrics-endpoint", "b", 3);
    let rig = Rig::with_env(&state);
    let out = text(&rig.raw(
        "relation-ids",
        &["metrics-endpoint", "--format=json"],
        &[],
        "",
    ));
    assert_eq!(out.1, "[\"metrics-endpoint:12\",\"metrics-endpoint:3\"]\n");
    let expected = vec![three, twelve];
    assert_eq!(
        rig.client().relation_ids("metrics-endpoint").unwrap(),
        expected
    );
    assert_eq!(
        FakeHookTools::new(state)
            .relation_ids("metrics-endpoint")
            .unwrap(),
        expected
    );
}

#[test]
fn state_store_semantics() {
    let rig = Rig::with_env(&ModelState::new("prom", 0));
    let out = text(&rig.raw("state-get", &["--format=json"], &[], ""));
    assert_eq!(
        out,
        (0, "null\n".into(), String::new()),
        "an empty store prints null"
    );
    assert!(rig.client().state_get().unwrap().is_empty());
    let kv: BTreeMap<String, String> = [
        ("a".to_string(), String::new()),
        ("b".to_string(), "1".to_string()),
    ]
    .into();
    rig.client().state_set(&kv).unwrap();
    assert_eq!(text(&rig.raw("state-delete", &["b"], &[], "")).0, 0);
    assert_eq!(text(&rig.raw("state-delete", &[], &[], "")).0, 0);
    assert_eq!(
        rig.client().state_get().unwrap(),
        BTreeMap::from(data(&[("a", "")]))
    );
    rig.file.commit_pending().unwrap();
    assert_eq!(rig.state().stored, BTreeMap::from(data(&[("a", "")])));
    assert_eq!(
        text(&rig.raw("state-get", &["--format=json", "-"], &[], "")).1,
        "{\"a\":\"\"}\n"
    );
    // action-set without pairs does nothing, even outside an action.
    assert_eq!(text(&rig.raw("action-set", &[], &[], "")).0, 0);
    let out = text(&rig.raw("action-set", &["novalue"], &[], ""));
    assert_eq!(
        out,
        (
            2,
            String::new(),
            "ERROR argument \"novalue\" must be of the form key...=value\n".into()
        )
    );
}

#[test]
fn concurrent_calls_are_serialised_by_the_lock() {
    let rig = Rig::new(&ModelState::new("prom", 0));
    let children: Vec<_> = (0..16)
        .map(|i| {
            Command::new(rig.tools_dir().join("juju-log"))
                .args(["--log-level", "INFO", "--", &format!("line {i}")])
                .env(STATE_ENV, rig.file.path())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let state = rig.state();
    assert_eq!(state.logs.len(), 16);
    assert_eq!(state.call_count("juju-log"), 16);
}

#[test]
fn install_hook_tools_links_every_tool_and_is_idempotent() {
    let rig = Rig::new(&ModelState::new("prom", 0));
    install_hook_tools(&rig.tools_dir(), Path::new(FAKE_TOOL)).unwrap();
    for name in TOOL_NAMES {
        let link = rig.tools_dir().join(name);
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new(FAKE_TOOL));
    }
    // Called by its own name, the first argument names the tool.
    let out = Command::new(FAKE_TOOL)
        .args(["is-leader", "--format=json"])
        .env(STATE_ENV, rig.file.path())
        .output()
        .unwrap();
    assert_eq!(text(&out), (0, "false\n".into(), String::new()));
    let out = Command::new(FAKE_TOOL)
        .args(["is-leader"])
        .env_remove(STATE_ENV)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

/// A stand-in charm (a shell script) run exactly as Juju runs `dispatch`.
#[test]
fn a_hook_run_with_hook_command_sees_juju_environment() {
    let mut state = ModelState::new("prom", 0);
    let rel = state.add_relation("metrics-endpoint", "ne");
    state.add_remote_unit(&rel, "ne/0");
    let rig = Rig::new(&state);
    let charm = rig.dir.path().join("dispatch");
    std::fs::write(
        &charm,
        "#!/bin/sh\nset -e\n\
         relation-set --file - <<EOF\n{\"seen\": \"$JUJU_REMOTE_UNIT\", \"home\": \"${HOME:-unset}\"}\nEOF\n\
         status-set active \"$JUJU_HOOK_NAME\"\n\
         exit \"${FAIL:-0}\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&charm, std::fs::Permissions::from_mode(0o755)).unwrap();

    let event = state.relation_event(&rel, RelationEventKind::Joined, Some("ne/0"));
    let env = state.env_for(&event);
    let status = hook_command(&charm, &env, &rig.tools_dir(), rig.file.path())
        .status()
        .unwrap();
    assert!(status.success());
    rig.file.commit_pending().unwrap();
    let s = rig.state();
    assert_eq!(s.relations[0].local_unit_data["seen"], "ne/0");
    assert_eq!(s.relations[0].local_unit_data["home"], "unset");
    assert_eq!(
        s.unit_status,
        Some(Status::active("metrics-endpoint-relation-joined"))
    );

    // A failing hook: status stays (immediate), the databag write is dropped.
    let mut failing_env =
        state.env_for(&state.relation_event(&rel, RelationEventKind::Changed, Some("ne/0")));
    failing_env.push(("FAIL".into(), "1".into()));
    rig.file
        .update(|s| s.relations[0].local_unit_data.remove("seen"))
        .unwrap();
    let status = hook_command(&charm, &failing_env, &rig.tools_dir(), rig.file.path())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    rig.file.discard_pending().unwrap();
    let s = rig.state();
    assert!(!s.relations[0].local_unit_data.contains_key("seen"));
    assert_eq!(
        s.unit_status,
        Some(Status::active("metrics-endpoint-relation-changed"))
    );
}

/// `relation-get` and `relation-list` parse only the relation they name, tools that read no
/// relation none (through the index written with the state); what they print, their errors
/// and the call counts are exactly those of a read of the whole state (the index removed).
#[test]
fn relation_reads_through_the_index_answer_as_reads_of_the_whole_state() {
    let (state, scrape, peers) = rich_state();
    let rig = Rig::new(&state);
    let (scrape, peers) = (scrape.to_string(), peers.to_string());
    let env_rel = [("JUJU_RELATION_ID", scrape.as_str())];
    let relation_flag = format!("--relation={scrape}");
    type ToolCall<'a> = (&'a str, Vec<&'a str>, &'a [(&'a str, &'a str)]);
    let calls: Vec<ToolCall> = vec![
        (
            "relation-get",
            vec!["--format=json", "-r", &scrape, "-", "node-exporter/1"],
            &[],
        ),
        (
            "relation-get",
            vec![
                "--format=json",
                "-r",
                &scrape,
                "--app",
                "-",
                "node-exporter",
            ],
            &[],
        ),
        (
            "relation-get",
            vec!["--format=json", "-", "node-exporter/1"],
            &env_rel,
        ),
        (
            "relation-get",
            vec!["-r", &peers, "--app", "k", "prometheus-rs-k8s"],
            &[],
        ),
        (
            "relation-get",
            vec!["-r", "metrics-endpoint:99", "-", "x/0"],
            &[],
        ),
        ("relation-list", vec!["--format=json", &relation_flag], &[]),
        ("relation-list", vec!["--format=json", "--app"], &env_rel),
        ("relation-list", vec!["-r", "7"], &[]),
        // Tools that read no relation parse none.
        ("is-leader", vec!["--format=json"], &[]),
        ("config-get", vec!["--format=json"], &[]),
        ("opened-ports", vec!["--format=json"], &[]),
        ("state-get", vec!["--format=json"], &[]),
        ("action-get", vec!["--format=json"], &[]),
    ];
    let run_all = || -> Vec<(i32, String, String)> {
        calls
            .iter()
            .map(|(tool, args, env)| text(&rig.raw(tool, args, env, "")))
            .collect()
    };
    let indexed = run_all();
    let counted = rig.state().calls;
    let index = {
        let mut p = rig.file.path().as_os_str().to_owned();
        p.push(".idx");
        PathBuf::from(p)
    };
    assert!(index.exists(), "the state file is written with its index");
    rig.file.update(|s| s.calls.clear()).unwrap();
    std::fs::remove_file(&index).unwrap();
    assert_eq!(run_all(), indexed);
    assert_eq!(rig.state().calls, counted);
    assert_eq!(indexed[0].0, 0, "{indexed:?}");
    assert!(indexed[0].1.contains("9100"), "{indexed:?}");
    assert_ne!(
        indexed[4].0, 0,
        "an unknown relation is an error: {indexed:?}"
    );
}

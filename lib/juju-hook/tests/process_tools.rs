//! `ProcessHookTools` against tiny fake executables that record their argv and stdin and print
//! the output formats Juju's hook tools print.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};

use juju_hook::{
    HookToolError, HookTools, LogLevel, Port, ProcessHookTools, Protocol, RelationData, RelationId,
    Status,
};
use serde_json::json;
use tempfile::TempDir;

/// One shell script installed under every tool name. It appends its tool name and argv
/// (separated by the ASCII unit separator) to `calls.log`, saves its stdin to `<tool>.stdin`,
/// then prints `<tool>.out` / `<tool>.err` and exits with `<tool>.code` (default 0).
const FAKE_TOOL: &str = r#"#!/bin/sh
d=$(dirname "$0")
t=$(basename "$0")
{ printf '%s' "$t"; for a in "$@"; do printf '\037%s' "$a"; done; printf '\n'; } >> "$d/calls.log"
cat > "$d/$t.stdin"
[ -f "$d/$t.err" ] && cat "$d/$t.err" >&2
[ -f "$d/$t.out" ] && cat "$d/$t.out"
if [ -f "$d/$t.code" ]; then exit "$(cat "$d/$t.code")"; fi
exit 0
"#;

const TOOLS: &[&str] = &[
    "config-get",
    "is-leader",
    "relation-ids",
    "relation-list",
    "relation-get",
    "relation-set",
    "status-set",
    "application-version-set",
    "juju-log",
    "open-port",
    "close-port",
    "opened-ports",
    "network-get",
    "goal-state",
    "action-get",
    "action-set",
    "action-fail",
    "action-log",
    "state-get",
    "state-set",
];

struct Fake {
    dir: TempDir,
}

impl Fake {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("fake-tool.sh");
        fs::write(&script, FAKE_TOOL).unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        for tool in TOOLS {
            symlink(&script, dir.path().join(tool)).unwrap();
        }
        Self { dir }
    }

    fn tools(&self) -> ProcessHookTools {
        ProcessHookTools::with_dir(self.dir.path())
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Makes `tool` print `stdout`.
    fn prints(&self, tool: &str, stdout: &str) -> &Self {
        fs::write(self.path(&format!("{tool}.out")), stdout).unwrap();
        self
    }

    /// Makes `tool` fail with `stderr` and exit `code`.
    fn fails(&self, tool: &str, code: i32, stderr: &str) -> &Self {
        fs::write(self.path(&format!("{tool}.err")), stderr).unwrap();
        fs::write(self.path(&format!("{tool}.code")), code.to_string()).unwrap();
        self
    }

    /// Every recorded call: tool name followed by its arguments.
    fn calls(&self) -> Vec<Vec<String>> {
        let log = fs::read_to_string(self.path("calls.log")).unwrap_or_default();
        log.lines()
            .map(|l| l.split('\u{1f}').map(str::to_string).collect())
            .collect()
    }

    fn last_call(&self) -> Vec<String> {
        self.calls().pop().expect("no hook tool was called")
    }

    fn stdin(&self, tool: &str) -> String {
        fs::read_to_string(self.path(&format!("{tool}.stdin"))).unwrap()
    }
}

fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

fn rel(endpoint: &str, id: u32) -> RelationId {
    RelationId::new(endpoint, id)
}

#[test]
fn config_get_parses_native_types() {
    let fake = Fake::new();
    fake.prints(
        "config-get",
        r#"{"log_level":"info","retention_size":0.8,"web_port":9090,"enable":true}"#,
    );
    let config = fake.tools().config_get().unwrap();
    assert_eq!(fake.last_call(), argv(&["config-get", "--format=json"]));
    assert_eq!(config["log_level"], json!("info"));
    assert_eq!(config["retention_size"], json!(0.8));
    assert_eq!(config["web_port"], json!(9090));
    assert_eq!(config["enable"], json!(true));
}

#[test]
fn is_leader_reads_json_bool() {
    let fake = Fake::new();
    fake.prints("is-leader", "true\n");
    assert!(fake.tools().is_leader().unwrap());
    fake.prints("is-leader", "false\n");
    assert!(!fake.tools().is_leader().unwrap());
    assert_eq!(fake.last_call(), argv(&["is-leader", "--format=json"]));
}

#[test]
fn relation_ids_are_parsed_and_sorted() {
    let fake = Fake::new();
    fake.prints(
        "relation-ids",
        r#"["metrics-endpoint:12","metrics-endpoint:3"]"#,
    );
    let ids = fake.tools().relation_ids("metrics-endpoint").unwrap();
    assert_eq!(
        fake.last_call(),
        argv(&["relation-ids", "metrics-endpoint", "--format=json"])
    );
    assert_eq!(
        ids,
        vec![rel("metrics-endpoint", 3), rel("metrics-endpoint", 12)]
    );
}

#[test]
fn relation_list_units_and_app() {
    let fake = Fake::new();
    fake.prints("relation-list", r#"["node-exporter/0","node-exporter/1"]"#);
    let units = fake
        .tools()
        .relation_list(&rel("metrics-endpoint", 3))
        .unwrap();
    assert_eq!(units, vec!["node-exporter/0", "node-exporter/1"]);
    assert_eq!(
        fake.last_call(),
        argv(&["relation-list", "--format=json", "-r", "metrics-endpoint:3"])
    );

    fake.prints("relation-list", "\"node-exporter\"\n");
    let app = fake
        .tools()
        .relation_remote_app(&rel("metrics-endpoint", 3))
        .unwrap();
    assert_eq!(app, "node-exporter");
    assert_eq!(
        fake.last_call(),
        argv(&[
            "relation-list",
            "--format=json",
            "--app",
            "-r",
            "metrics-endpoint:3"
        ])
    );
}

#[test]
fn relation_get_unit_and_app_databags() {
    let fake = Fake::new();
    fake.prints(
        "relation-get",
        r#"{"ingress-address":"10.1.2.3","prometheus_scrape_unit_name":"ne/0"}"#,
    );
    let data = fake
        .tools()
        .relation_get(&rel("metrics-endpoint", 3), "ne/0", false)
        .unwrap();
    assert_eq!(data["prometheus_scrape_unit_name"], "ne/0");
    assert_eq!(
        fake.last_call(),
        argv(&[
            "relation-get",
            "--format=json",
            "-r",
            "metrics-endpoint:3",
            "-",
            "ne/0"
        ])
    );

    fake.prints("relation-get", r#"{"scrape_jobs":"[]"}"#);
    let data = fake
        .tools()
        .relation_get(&rel("metrics-endpoint", 3), "ne", true)
        .unwrap();
    assert_eq!(data["scrape_jobs"], "[]");
    assert_eq!(
        fake.last_call(),
        argv(&[
            "relation-get",
            "--format=json",
            "-r",
            "metrics-endpoint:3",
            "--app",
            "-",
            "ne"
        ])
    );
}

#[test]
fn relation_get_rejects_non_string_values() {
    let fake = Fake::new();
    fake.prints("relation-get", r#"{"port":9090}"#);
    let err = fake
        .tools()
        .relation_get(&rel("metrics-endpoint", 3), "ne/0", false)
        .unwrap_err();
    assert!(
        matches!(err, HookToolError::BadOutput { ref tool, .. } if tool == "relation-get"),
        "{err:?}"
    );
}

#[test]
fn relation_set_sends_json_on_stdin() {
    let fake = Fake::new();
    let data: RelationData = [
        ("url".to_string(), "http://p:9090".to_string()),
        ("gone".to_string(), String::new()),
    ]
    .into();
    fake.tools()
        .relation_set(&rel("grafana-source", 5), false, &data)
        .unwrap();
    assert_eq!(
        fake.last_call(),
        argv(&["relation-set", "-r", "grafana-source:5", "--file", "-"])
    );
    let sent: serde_json::Value = serde_json::from_str(&fake.stdin("relation-set")).unwrap();
    assert_eq!(sent, json!({"url": "http://p:9090", "gone": ""}));

    fake.tools()
        .relation_set(&rel("grafana-source", 5), true, &data)
        .unwrap();
    assert_eq!(
        fake.last_call(),
        argv(&[
            "relation-set",
            "-r",
            "grafana-source:5",
            "--app",
            "--file",
            "-"
        ])
    );
}

#[test]
fn status_set_unit_and_application() {
    let fake = Fake::new();
    fake.tools()
        .status_set(&Status::blocked("-bad config"), false)
        .unwrap();
    assert_eq!(
        fake.last_call(),
        argv(&[
            "status-set",
            "--application=False",
            "blocked",
            "--",
            "-bad config"
        ])
    );
    fake.tools().status_set(&Status::active(""), true).unwrap();
    assert_eq!(
        fake.last_call(),
        argv(&["status-set", "--application=True", "active", "--", ""])
    );
}

#[test]
fn version_log_and_action_messages_use_double_dash() {
    let fake = Fake::new();
    let tools = fake.tools();
    tools.application_version_set("-2.42.0").unwrap();
    tools.juju_log(LogLevel::Warning, "-careful").unwrap();
    tools.action_fail("-nope").unwrap();
    tools.action_log("-halfway").unwrap();
    assert_eq!(
        fake.calls(),
        vec![
            argv(&["application-version-set", "--", "-2.42.0"]),
            argv(&["juju-log", "--log-level", "WARNING", "--", "-careful"]),
            argv(&["action-fail", "--", "-nope"]),
            argv(&["action-log", "--", "-halfway"]),
        ]
    );
}

#[test]
fn long_log_messages_are_split() {
    let fake = Fake::new();
    let message = "x".repeat(131_071 + 5);
    fake.tools().juju_log(LogLevel::Debug, &message).unwrap();
    let calls = fake.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0][4].len(), 131_071);
    assert_eq!(
        calls[1],
        argv(&["juju-log", "--log-level", "DEBUG", "--", "xxxxx"])
    );
}

#[test]
fn ports() {
    let fake = Fake::new();
    let tools = fake.tools();
    tools.open_port(Port::tcp(9090)).unwrap();
    tools
        .close_port(Port {
            number: 53,
            protocol: Protocol::Udp,
        })
        .unwrap();
    fake.prints(
        "opened-ports",
        r#"["9090/tcp","8000-8010/tcp","icmp","53/udp"]"#,
    );
    let opened = tools.opened_ports().unwrap();
    assert_eq!(
        fake.calls(),
        vec![
            argv(&["open-port", "9090/tcp"]),
            argv(&["close-port", "53/udp"]),
            argv(&["opened-ports", "--format=json"]),
        ]
    );
    assert_eq!(
        opened,
        vec![
            Port {
                number: 53,
                protocol: Protocol::Udp
            },
            Port::tcp(9090)
        ]
    );
}

#[test]
fn network_get_reads_value_and_legacy_address() {
    let fake = Fake::new();
    fake.prints(
        "network-get",
        r#"{"bind-addresses":[{"mac-address":"","interface-name":"","addresses":[{"hostname":"","value":"10.1.36.77","cidr":""}]}],"egress-subnets":["10.152.183.55/32"],"ingress-addresses":["10.152.183.55"]}"#,
    );
    let info = fake.tools().network_get("metrics-endpoint").unwrap();
    assert_eq!(
        fake.last_call(),
        argv(&["network-get", "metrics-endpoint", "--format=json"])
    );
    assert_eq!(info.bind_addresses, vec!["10.1.36.77"]);
    assert_eq!(info.ingress_addresses, vec!["10.152.183.55"]);
    assert_eq!(info.egress_subnets, vec!["10.152.183.55/32"]);

    fake.prints(
        "network-get",
        r#"{"bind-addresses":[{"addresses":[{"address":"10.0.0.9","cidr":"10.0.0.0/24"}]}]}"#,
    );
    let info = fake.tools().network_get("juju-info").unwrap();
    assert_eq!(info.bind_addresses, vec!["10.0.0.9"]);
    assert!(info.ingress_addresses.is_empty());
}

#[test]
fn goal_state_planned_units() {
    let fake = Fake::new();
    fake.prints(
        "goal-state",
        r#"{"units":{"prometheus/0":{"status":"active","since":"2026-11-25T10:00:00Z"},"prometheus/1":{"status":"dying","since":"2026-11-25T10:00:00Z"}},"relations":{"metrics-endpoint":{"ne":{"status":"joined","since":"2026-11-25T10:00:00Z"}}}}"#,
    );
    let goal = fake.tools().goal_state().unwrap();
    assert_eq!(fake.last_call(), argv(&["goal-state", "--format=json"]));
    assert_eq!(goal.planned_units(), vec!["prometheus/0"]);
    assert_eq!(goal.relations["metrics-endpoint"]["ne"].status, "joined");
}

#[test]
fn action_get_and_set() {
    let fake = Fake::new();
    fake.prints("action-get", r#"{"verbose":true,"nested":{"a":"b"}}"#);
    let params = fake.tools().action_get().unwrap();
    assert_eq!(params["nested"], json!({"a": "b"}));
    assert_eq!(fake.last_call(), argv(&["action-get", "--format=json"]));

    let results: BTreeMap<String, String> = [
        ("result".to_string(), "ok".to_string()),
        ("detail.errors".to_string(), "a=b".to_string()),
    ]
    .into();
    fake.tools().action_set(&results).unwrap();
    assert_eq!(
        fake.last_call(),
        argv(&["action-set", "detail.errors=a=b", "result=ok"])
    );
}

#[test]
fn state_get_null_is_empty_and_state_set_uses_stdin() {
    let fake = Fake::new();
    fake.prints("state-get", "null\n");
    assert!(fake.tools().state_get().unwrap().is_empty());
    fake.prints("state-get", r#"{"config-hash":"abc"}"#);
    assert_eq!(fake.tools().state_get().unwrap()["config-hash"], "abc");
    assert_eq!(fake.last_call(), argv(&["state-get", "--format=json"]));

    let data: BTreeMap<String, String> = [("k".to_string(), "v".to_string())].into();
    fake.tools().state_set(&data).unwrap();
    assert_eq!(fake.last_call(), argv(&["state-set", "--file", "-"]));
    assert_eq!(fake.stdin("state-set"), r#"{"k":"v"}"#);
}

#[test]
fn errors_are_classified_like_ops() {
    let fake = Fake::new();
    let tools = fake.tools();
    let r = rel("metrics-endpoint", 9);

    fake.fails(
        "relation-get",
        2,
        "ERROR invalid value \"metrics-endpoint:9\" for option -r: relation not found\n",
    );
    let err = tools.relation_get(&r, "ne/0", false).unwrap_err();
    assert_eq!(
        err,
        HookToolError::RelationNotFound(
            "invalid value \"metrics-endpoint:9\" for option -r: relation not found".into()
        )
    );

    for text in [
        "ERROR cannot write relation settings\n",
        "ERROR permission denied\n",
        "ERROR this unit is not the leader\n",
        "ERROR access denied\n",
    ] {
        fake.fails("relation-set", 1, text);
        let err = tools
            .relation_set(&r, true, &RelationData::new())
            .unwrap_err();
        assert!(
            matches!(err, HookToolError::PermissionDenied(ref m) if text.contains(m.as_str())),
            "{text}: {err:?}"
        );
    }

    fake.fails(
        "relation-get",
        1,
        "ERROR cannot read settings for unit \"ne/7\" in relation \"metrics-endpoint:9\": unit \"ne/7\": settings not found\n",
    );
    let err = tools.relation_get(&r, "ne/7", false).unwrap_err();
    assert!(matches!(err, HookToolError::NotFound(_)), "{err:?}");

    fake.fails(
        "status-set",
        2,
        "ERROR invalid status \"error\", expected one of [maintenance blocked waiting active]\n",
    );
    let err = tools.status_set(&Status::active(""), false).unwrap_err();
    assert_eq!(
        err,
        HookToolError::Failed {
            tool: "status-set".into(),
            code: 2,
            stderr: "ERROR invalid status \"error\", expected one of [maintenance blocked waiting active]".into()
        }
    );
}

#[test]
fn bad_output_and_missing_tools() {
    let fake = Fake::new();
    fake.prints("is-leader", "maybe\n");
    let err = fake.tools().is_leader().unwrap_err();
    assert!(
        matches!(err, HookToolError::BadOutput { ref tool, .. } if tool == "is-leader"),
        "{err:?}"
    );

    let empty = tempfile::tempdir().unwrap();
    let err = ProcessHookTools::with_dir(empty.path())
        .config_get()
        .unwrap_err();
    assert!(
        matches!(err, HookToolError::Spawn { ref tool, .. } if tool == "config-get"),
        "{err:?}"
    );
    assert_eq!(
        ProcessHookTools::with_dir(empty.path()).dir(),
        Some(empty.path())
    );
}

#[test]
fn without_a_directory_tools_are_found_on_path() {
    let fake = Fake::new();
    fake.prints("is-leader", "true");
    // Prepend (not replace) so the fake script still finds `cat`, `dirname`... Other tests
    // name their tools by absolute path, so they are not affected by this process-wide change.
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::set_var("PATH", format!("{}:{path}", fake.dir.path().display()));
    let leader = ProcessHookTools::new().is_leader();
    std::env::set_var("PATH", path);
    assert!(leader.unwrap());
    assert_eq!(fake.last_call(), argv(&["is-leader", "--format=json"]));
    assert!(ProcessHookTools::new().dir().is_none());
}

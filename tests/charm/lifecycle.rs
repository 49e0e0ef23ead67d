//! The charm's lifecycle against the harness: first deployment, hooks that change nothing,
//! changes applied by reload or by restart, invalid config, an unreachable or restarted
//! container, failed reloads and configurations promtool rejects.

use crate::common;

use crate::common::*;
use charm_harness::ReloadResponse;
use juju_hook::{Event, Port, Status, StatusKind};
use serde_json::{json, Value};

/// Bytes of the live prometheus.yml, to prove it was not touched.
fn live_config_bytes(c: &Charm) -> Vec<u8> {
    c.sim.pebble.read_file(CONFIG_FILE).expect("prometheus.yml")
}

/// The `prometheus` service's command in the plan.
fn prometheus_command(c: &Charm) -> String {
    c.sim.pebble.plan().services["prometheus"]
        .command
        .clone()
        .expect("prometheus has a command")
}

/// Runs the host's promtool on the live configuration as the workload would.
fn promtool_accepts_live_config(c: &Charm) -> bool {
    std::process::Command::new("/usr/bin/promtool")
        .args(["check", "config"])
        .arg(c.sim.pebble.host_path(CONFIG_FILE))
        .output()
        .expect("promtool runs")
        .status
        .success()
}

#[test]
fn first_deployment_reaches_active_with_prometheus_started_once() {
    let c = Charm::leader();
    c.deploy();

    c.assert_active();
    // Files: configuration and the record of what was applied.
    let config = c.config_yaml();
    assert!(config.contains("job_name: prometheus"), "{config}");
    assert!(config.contains("- rules/*.rules"), "{config}");
    assert!(promtool_accepts_live_config(&c));
    let manifest: Value =
        serde_json::from_str(&c.file(MANIFEST_FILE).expect("manifest written")).unwrap();
    assert_eq!(manifest["prometheus_version"], "2.42.0");
    assert!(manifest["files"].get(CONFIG_FILE).is_some(), "{manifest}");

    // Plan: the prometheus service and its ready-level check, no poller.
    let plan = c.sim.pebble.plan();
    assert_eq!(
        plan.services.keys().collect::<Vec<_>>(),
        ["prometheus"],
        "no inventory-sd without inventory_url"
    );
    assert_eq!(plan.checks.keys().collect::<Vec<_>>(), ["prometheus-ready"]);
    assert_eq!(
        c.sim
            .pebble
            .layers()
            .iter()
            .map(|(l, _)| l.as_str())
            .collect::<Vec<_>>(),
        ["prometheus-rs-k8s"]
    );
    assert_eq!(
        c.sim.pebble.service_status("prometheus"),
        Some(charm_harness::ServiceCurrent::Active)
    );

    // Started exactly once, never restarted, never reloaded (nothing ran before the start).
    let n = c.counters();
    assert_eq!(
        (n.prometheus_starts, n.prometheus_restarts),
        (1, 0),
        "{n:?}"
    );
    assert_eq!(n.reloads, 0);

    // Juju side: port committed, workload version from `prometheus --version`.
    let state = c.sim.juju.state();
    assert_eq!(
        state.opened_ports.iter().copied().collect::<Vec<_>>(),
        [Port::tcp(9090)]
    );
    assert_eq!(state.workload_version.as_deref(), Some("2.42.0"));
    assert!(state.pending.is_empty(), "every hook committed");
    drop(state);
    let asked_version = c.requests().iter().any(|r| {
        r.path == "/v1/exec"
            && r.body_json
                .as_ref()
                .is_some_and(|b| b["command"] == json!(["/bin/prometheus", "--version"]))
    });
    assert!(
        asked_version,
        "the version comes from the workload's binary"
    );

    insta::assert_snapshot!("first_deploy_prometheus_yml", config);
    insta::assert_snapshot!("first_deploy_plan", c.sim.pebble.plan_yaml());
}

/// promtool runs with Go's collector held back (`GOGC=off` until its heap nears
/// `GOMEMLIMIT`) where its Go knows `GOMEMLIMIT` (Prometheus 2.40 and later), and as it comes
/// for an older workload, where `GOGC=off` alone would have no bound.
#[test]
fn promtool_runs_with_the_collector_held_back_only_where_go_bounds_it() {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};
    let held_back = BTreeMap::from([
        ("GOGC".to_string(), "off".to_string()),
        ("GOMEMLIMIT".to_string(), "64MiB".to_string()),
    ]);
    for (version, expected) in [
        ("3.14.0", held_back.clone()),
        ("2.42.0", held_back.clone()),
        ("2.40.0", held_back),
        ("2.39.1", BTreeMap::new()),
    ] {
        let mut state = charm_sim::charm_model_state().unwrap();
        state.set_leader(true);
        let c = Charm {
            sim: charm_sim::Simulation::start(state, version).unwrap(),
        };
        let seen: Arc<Mutex<Vec<BTreeMap<String, String>>>> = Arc::default();
        let record = Arc::clone(&seen);
        c.sim.pebble.on_exec("promtool", move |req| {
            let go: BTreeMap<String, String> = req
                .environment
                .iter()
                .filter(|(k, _)| k.starts_with("GO"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            record.lock().unwrap().push(go);
            charm_harness::ExecResult::success(String::new())
        });
        c.deploy();
        c.set_config("evaluation_interval", "50s");
        c.ok(&Event::ConfigChanged);
        let seen = seen.lock().unwrap();
        assert!(
            seen.len() >= 2,
            "{version}: promtool ran {} times",
            seen.len()
        );
        for env in seen.iter() {
            assert_eq!(env, &expected, "{version}");
        }
    }
}

#[test]
fn a_prometheus_3_workload_gets_a_3x_configuration_its_own_promtool_accepts() {
    let mut state = charm_sim::charm_model_state().unwrap();
    state
        .load_fixture(std::path::Path::new(common::TWO_APPS_FIXTURE))
        .unwrap();
    state.set_leader(true);
    let c = Charm::with_state_on(state, "3.14.0");
    c.deploy();
    // Active means the workload's promtool (3.14 here) accepted the staged configuration.
    c.assert_active();
    let yaml = c.config_yaml();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml).unwrap();
    let jobs = doc["scrape_configs"].as_sequence().unwrap();
    assert!(jobs.len() >= 3, "{yaml}");
    assert!(
        jobs.iter()
            .all(|j| j["fallback_scrape_protocol"].as_str().is_some()),
        "{yaml}"
    );
    let promtool = |path: std::path::PathBuf| {
        std::process::Command::new(path)
            .args(["check", "config"])
            .arg(c.sim.pebble.host_path(CONFIG_FILE))
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(promtool(common::promtool_for("3.14.0")));
    // The same file is not a 2.x configuration: rendering follows the detected major.
    assert!(!promtool(common::promtool_for("2.42.0")));
}

#[test]
fn hooks_that_change_nothing_neither_write_nor_restart_nor_reload() {
    let c = Charm::leader();
    c.deploy();
    let before = c.counters();
    let config = live_config_bytes(&c);

    for event in [Event::ConfigChanged, Event::UpdateStatus, Event::Start] {
        c.reset_records();
        c.ok(&event);
        let requests = c.requests();
        assert_eq!(
            mutating(&requests),
            Vec::<&charm_harness::RecordedRequest>::new()
        );
        assert_eq!(
            count(&requests, "POST", "/v1/exec"),
            0,
            "no promtool, no --version"
        );
        assert_eq!(c.counters(), before, "{}", event.name());
        c.assert_active();

        // Measured for a no-change hook of a leader without relations: 21 hook-tool calls
        // (config-get, is-leader, state-get, 16 × relation-ids, opened-ports, status-set; the
        // databag cache, not used here, answers all but the first two) and 3 Pebble
        // requests (manifest read, plan, services); update-status also reads back each managed
        // config file to repair drift (here: prometheus.yml) and lists the target files.
        let calls = c.tool_calls();
        assert!(calls <= 21, "{}: {calls} hook-tool calls", event.name());
        let drift_checks = 2 * usize::from(event == Event::UpdateStatus);
        assert!(
            requests.len() <= 3 + drift_checks,
            "{}: {requests:#?}",
            event.name()
        );
    }
    assert_eq!(live_config_bytes(&c), config);
}

#[test]
fn interval_changes_reload_prometheus_without_restarting_it() {
    let c = Charm::leader();
    c.deploy();
    for (option, value, line) in [
        ("evaluation_interval", "30s", "evaluation_interval: 30s"),
        ("scrape_interval", "2m", "scrape_interval: 2m"),
        ("scrape_timeout", "20s", "scrape_timeout: 20s"),
    ] {
        let before = c.counters();
        let command = prometheus_command(&c);
        c.reset_records();
        c.configure(option, value);

        let after = c.counters();
        assert_eq!(after.reloads, before.reloads + 1, "{option}: one reload");
        assert_eq!(
            (after.prometheus_starts, after.prometheus_restarts),
            (before.prometheus_starts, before.prometheus_restarts),
            "{option}: no restart"
        );
        let requests = c.requests();
        assert_eq!(
            count(&requests, "POST", "/v1/layers"),
            0,
            "{option}: layer untouched"
        );
        assert_eq!(service_actions(&requests, "replan"), 0);
        assert_eq!(prometheus_command(&c), command);
        assert_eq!(
            written_paths(&requests),
            [
                "/etc/prometheus-rs-k8s/candidate/prometheus.yml",
                CONFIG_FILE,
                MANIFEST_FILE
            ],
            "{option}: staged and validated, pushed, recorded"
        );
        assert!(c.config_yaml().contains(line), "{option}");
        c.assert_active();
    }
}

#[test]
fn restart_options_restart_prometheus_without_reloading_it() {
    let c = Charm::leader();
    c.deploy();
    for (option, value, flag) in [
        ("log_level", json!("debug"), "--log.level=debug"),
        (
            "metrics_retention_time",
            json!("30d"),
            "--storage.tsdb.retention.time=30d",
        ),
        (
            "maximum_retention_size",
            json!("50GB"),
            "--storage.tsdb.retention.size=50GB",
        ),
        (
            "metrics_wal_compression",
            json!(true),
            " --storage.tsdb.wal-compression",
        ),
        (
            "web_external_url",
            json!("https://prom.example.com/cos"),
            "--web.external-url=https://prom.example.com/cos --web.route-prefix=/",
        ),
    ] {
        let before = c.counters();
        let config = live_config_bytes(&c);
        c.reset_records();
        c.configure(option, value);

        let after = c.counters();
        assert_eq!(
            after.prometheus_restarts,
            before.prometheus_restarts + 1,
            "{option}: one restart"
        );
        assert_eq!(after.reloads, before.reloads, "{option}: no reload");
        assert!(prometheus_command(&c).contains(flag), "{option}");
        let started_with = c.sim.pebble.services_started_with("prometheus").unwrap();
        assert!(started_with.command.unwrap().contains(flag), "{option}");
        let requests = c.requests();
        assert_eq!(count(&requests, "POST", "/v1/layers"), 1, "{option}");
        assert_eq!(
            written_paths(&requests),
            [MANIFEST_FILE],
            "{option}: no file but the record of what was applied"
        );
        assert_eq!(live_config_bytes(&c), config, "{option}");
        c.assert_active();
    }
}

/// Every option of config.yaml with a value the charm must refuse, and the exact status.
fn invalid_options() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        (
            "log_level",
            json!("verbose"),
            r#"invalid config: log_level="verbose": must be one of debug, info, warn, error"#,
        ),
        (
            "scrape_interval",
            json!("1 minute"),
            r#"invalid config: scrape_interval="1 minute": must be a Prometheus duration such as 15s, 1m or 1h30m"#,
        ),
        (
            "scrape_timeout",
            json!("2m"),
            r#"invalid config: scrape_timeout="2m": must not exceed scrape_interval (1m)"#,
        ),
        (
            "evaluation_interval",
            json!("0s"),
            r#"invalid config: evaluation_interval="0s": must be greater than zero"#,
        ),
        (
            "metrics_retention_time",
            json!("15 days"),
            r#"invalid config: metrics_retention_time="15 days": must be a Prometheus duration such as 15d or 4w, or 0"#,
        ),
        (
            "maximum_retention_size",
            json!("50 gigs"),
            r#"invalid config: maximum_retention_size="50 gigs": must be a whole number with a unit B, KB, MB, GB, TB, PB or EB, e.g. 50GB"#,
        ),
        (
            "metrics_wal_compression",
            json!("yes"),
            r#"invalid config: metrics_wal_compression="yes": must be a boolean"#,
        ),
        (
            "web_external_url",
            json!("prom.example.com/cos"),
            r#"invalid config: web_external_url="prom.example.com/cos": is not a valid URL (relative URL without a base)"#,
        ),
        (
            "max_global_exemplars_per_user",
            json!("many"),
            r#"invalid config: max_global_exemplars_per_user="many": must be an integer"#,
        ),
        (
            "scrape_sharding",
            json!("yes"),
            r#"invalid config: scrape_sharding="yes": must be a boolean"#,
        ),
        (
            "cpu",
            json!("lots"),
            r#"invalid config: cpu="lots": must be a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi"#,
        ),
        (
            "memory",
            json!("0"),
            r#"invalid config: memory="0": must be greater than zero (leave empty for no limit)"#,
        ),
        (
            "inventory_url",
            json!("ftp://inventory/hosts"),
            r#"invalid config: inventory_url="ftp://inventory/hosts": scheme must be http or https"#,
        ),
        (
            "inventory_poll_interval",
            json!("soon"),
            r#"invalid config: inventory_poll_interval="soon": must be a duration such as 30s or 2m"#,
        ),
        (
            "inventory_timeout",
            json!("30s"),
            r#"invalid config: inventory_timeout="30s": must be shorter than inventory_poll_interval (30s)"#,
        ),
        (
            "inventory_target_port",
            json!(70000),
            "invalid config: inventory_target_port=70000: must be between 1 and 65535",
        ),
        (
            "inventory_metrics_path",
            json!("metrics"),
            r#"invalid config: inventory_metrics_path="metrics": must start with "/""#,
        ),
        (
            "inventory_job_name",
            json!("prometheus"),
            r#"invalid config: inventory_job_name="prometheus": must differ from the charm's own scrape jobs (prometheus, inventory-sd)"#,
        ),
        (
            "inventory_labels",
            json!("site"),
            r#"invalid config: inventory_labels="site": "site" is not name=value (use comma-separated name=value pairs)"#,
        ),
    ]
}

#[test]
fn every_invalid_option_blocks_naming_it_and_leaves_the_workload_alone() {
    // The charm keeps converging with the last valid options (so a container restart still
    // gets Prometheus back): with the same model that changes nothing in the workload.
    let c = Charm::leader();
    c.deploy();
    let config = live_config_bytes(&c);
    let before = c.counters();

    let cases = invalid_options();
    let declared: Vec<String> = c.sim.juju.state().config_options.keys().cloned().collect();
    let mut tested: Vec<String> = cases.iter().map(|(o, _, _)| o.to_string()).collect();
    tested.sort();
    assert_eq!(tested, declared, "one invalid value per config.yaml option");

    for (option, value, message) in cases {
        c.reset_records();
        // Written straight into the model: Juju refuses a non-boolean for a boolean option,
        // but the charm must not trust that.
        c.sim.juju.state().config.insert(option.into(), value);
        c.ok(&Event::ConfigChanged);

        assert_eq!(c.status(), Status::blocked(message), "{option}");
        assert_eq!(
            workload_changes(&c.requests()),
            Vec::<&charm_harness::RecordedRequest>::new(),
            "{option}: the workload untouched"
        );
        assert_eq!(live_config_bytes(&c), config, "{option}");
        assert_eq!(c.counters(), before, "{option}");

        // Back to the default: Active again, and still nothing to apply.
        c.sim.juju.state().config.remove(option);
        c.ok(&Event::ConfigChanged);
        c.assert_active();
        assert_eq!(
            workload_changes(&c.requests()),
            Vec::<&charm_harness::RecordedRequest>::new()
        );
    }
    assert_eq!(c.counters(), before);
}

#[test]
fn several_invalid_options_are_counted_in_one_message() {
    let c = Charm::leader();
    c.deploy();
    c.set_config("log_level", "loud");
    c.set_config("scrape_interval", "often");
    c.set_config("inventory_labels", "__x=1");
    c.ok(&Event::ConfigChanged);
    assert_eq!(
        c.status(),
        Status::blocked(
            r#"invalid config: log_level="loud": must be one of debug, info, warn, error (and 2 more: scrape_interval, inventory_labels)"#
        )
    );
}

#[test]
fn unreachable_pebble_waits_then_pebble_ready_converges() {
    let c = Charm::leader();
    c.sim.pebble.set_unreachable(true);
    for event in [Event::Install, Event::LeaderElected, Event::ConfigChanged] {
        c.ok(&event); // exit 0: Juju must not retry, pebble-ready will come
        assert_eq!(
            c.status(),
            Status::waiting("waiting for Pebble in the prometheus container")
        );
    }
    assert!(c.file(CONFIG_FILE).is_none());
    assert!(c.sim.juju.state().opened_ports.is_empty());
    assert_eq!(c.counters(), Counters::default());

    c.sim.pebble.set_unreachable(false);
    c.ok(&pebble_ready());
    c.assert_active();
    assert!(c.file(CONFIG_FILE).is_some());
    assert_eq!(c.counters().prometheus_starts, 1);
    assert_eq!(
        c.sim.juju.state().workload_version.as_deref(),
        Some("2.42.0")
    );

    // Going away again later: Waiting, nothing lost.
    c.sim.pebble.set_unreachable(true);
    c.ok(&Event::UpdateStatus);
    assert_eq!(c.status().kind, StatusKind::Waiting);
    c.sim.pebble.set_unreachable(false);
    c.ok(&Event::UpdateStatus);
    c.assert_active();
    assert_eq!(c.counters().prometheus_starts, 1);
}

#[test]
fn failed_reload_blocks_and_the_next_event_retries_it() {
    let c = Charm::leader();
    c.deploy();
    c.sim.web.set_reload_response(ReloadResponse::Status(
        500,
        "failed to reload config: out of cheese".into(),
    ));
    c.configure("evaluation_interval", "30s");
    let blocked = Status::blocked(
        "Prometheus reload failed: HTTP 500: failed to reload config: out of cheese",
    );
    assert_eq!(c.status(), blocked);
    assert_eq!(c.counters().reloads, 1);
    let manifest = c.file(MANIFEST_FILE).unwrap();

    // Still failing: retried, still Blocked, and not recorded as applied.
    c.ok(&Event::UpdateStatus);
    assert_eq!(c.counters().reloads, 2);
    assert_eq!(c.status(), blocked);
    assert_eq!(c.file(MANIFEST_FILE).unwrap(), manifest);

    // Prometheus accepts it now: the next event reloads and reaches Active.
    c.sim.web.set_reload_response(ReloadResponse::Ok);
    c.ok(&Event::UpdateStatus);
    assert_eq!(c.counters().reloads, 3);
    c.assert_active();
    assert_ne!(
        c.file(MANIFEST_FILE).unwrap(),
        manifest,
        "recorded once it worked"
    );

    // And then it is settled.
    c.ok(&Event::UpdateStatus);
    assert_eq!(c.counters().reloads, 3);
    assert_eq!(c.counters().prometheus_restarts, 0);
}

#[test]
fn config_rejected_by_promtool_blocks_and_leaves_the_live_config_untouched() {
    let c = Charm::leader();
    c.deploy();
    let config = live_config_bytes(&c);
    // A timeout longer than the global 1m interval the job inherits: the relation data
    // checks pass it (the job sets no interval of its own), Prometheus does not.
    let rel = add_scrape_app(
        &mut c.sim.juju.state(),
        "slow-app",
        7,
        json!([{"metrics_path": "/metrics", "scrape_timeout": "2m",
                "static_configs": [{"targets": ["*:8080"]}]}]),
        None,
    );
    let before = c.counters();
    c.reset_records();
    c.ok(&c.relation_event(
        &rel,
        juju_hook::RelationEventKind::Changed,
        Some("slow-app/0"),
    ));

    let status = c.status();
    assert_eq!(status.kind, StatusKind::Blocked, "{status:?}");
    assert!(
        status
            .message
            .starts_with("generated configuration rejected by promtool: "),
        "{status:?}"
    );
    assert!(
        status
            .message
            .contains("scrape timeout greater than scrape interval"),
        "promtool's own words: {status:?}"
    );
    assert!(
        !status.message.contains("prometheus-rs-k8s/candidate"),
        "paths shown as live ones: {status:?}"
    );
    assert_eq!(live_config_bytes(&c), config);
    let candidate = c
        .file("/etc/prometheus-rs-k8s/candidate/prometheus.yml")
        .expect("staged");
    assert!(candidate.contains("scrape_timeout: 2m"), "{candidate}");
    let requests = c.requests();
    assert_eq!(
        written_paths(&requests),
        ["/etc/prometheus-rs-k8s/candidate/prometheus.yml"],
        "only the candidate was written"
    );
    assert_eq!(c.counters(), before, "no restart, no reload");

    // The relation is fixed: the next event applies it.
    let mut data = c
        .sim
        .juju
        .state()
        .relation(&rel)
        .unwrap()
        .remote_app_data
        .clone();
    data.insert(
        "scrape_jobs".into(),
        json!([{"metrics_path": "/metrics", "scrape_timeout": "20s",
                "static_configs": [{"targets": ["*:8080"]}]}])
        .to_string(),
    );
    c.sim.juju.state().set_remote_app_data(&rel, &data);
    c.ok(&c.relation_event(&rel, juju_hook::RelationEventKind::Changed, None));
    c.assert_active();
    assert!(c.config_yaml().contains("scrape_timeout: 20s"));
    assert_eq!(c.counters().reloads, before.reloads + 1);
}

#[test]
fn an_invalid_option_across_a_container_restart_runs_the_last_valid_options() {
    let c = Charm::leader();
    c.deploy();
    c.configure("evaluation_interval", "30s");
    let config = live_config_bytes(&c);
    c.configure("scrape_interval", "banana");
    let blocked = c.status();
    assert_eq!(blocked.kind, juju_hook::StatusKind::Blocked);
    assert!(blocked.message.contains("scrape_interval"), "{blocked:?}");

    // A new container while the option is invalid: the last valid options are applied.
    c.sim.pebble.restart_container(true);
    c.ok(&pebble_ready());
    assert_eq!(c.status(), blocked, "still naming the option");
    assert_eq!(live_config_bytes(&c), config);
    assert_eq!(
        c.sim.pebble.service_status("prometheus"),
        Some(charm_harness::ServiceCurrent::Active)
    );

    // Fixed: applied, Active.
    c.configure("scrape_interval", "20s");
    c.assert_active();
    assert!(c.config_yaml().contains("scrape_interval: 20s"));
}

#[test]
fn invalid_options_from_the_start_apply_nothing() {
    let c = Charm::leader();
    c.set_config("scrape_interval", "banana");
    c.ok(&Event::Install);
    c.ok(&pebble_ready());
    let status = c.status();
    assert_eq!(status.kind, juju_hook::StatusKind::Blocked);
    assert!(status.message.contains("scrape_interval"), "{status:?}");
    assert!(
        c.file(CONFIG_FILE).is_none(),
        "no valid options were ever seen"
    );
    assert!(c.sim.pebble.plan().services.is_empty());
}

#[test]
fn container_restart_reapplies_everything() {
    let c = Charm::leader();
    c.deploy();
    c.configure("evaluation_interval", "30s");
    let config = live_config_bytes(&c);
    let before = c.counters();

    // A new container from the image: plan, services and files are gone.
    c.sim.pebble.restart_container(true);
    assert!(c.file(CONFIG_FILE).is_none());
    assert!(c.sim.pebble.plan().services.is_empty());
    c.ok(&pebble_ready());

    c.assert_active();
    assert_eq!(live_config_bytes(&c), config);
    assert!(c.file(MANIFEST_FILE).is_some());
    assert_eq!(
        c.sim.pebble.service_status("prometheus"),
        Some(charm_harness::ServiceCurrent::Active)
    );
    let after = c.counters();
    assert_eq!(after.prometheus_starts, before.prometheus_starts + 1);
    assert_eq!(
        after.reloads, before.reloads,
        "started with the new files, no reload"
    );
    assert_eq!(
        c.sim.juju.state().workload_version.as_deref(),
        Some("2.42.0")
    );

    // Pebble restarting alone (files kept): the layer comes back, nothing is pushed.
    c.sim.pebble.restart_container(false);
    c.reset_records();
    c.ok(&pebble_ready());
    c.assert_active();
    let requests = c.requests();
    assert_eq!(written_paths(&requests), Vec::<String>::new());
    assert_eq!(count(&requests, "POST", "/v1/layers"), 1);
    assert_eq!(c.counters().prometheus_starts, before.prometheus_starts + 2);
    assert_eq!(c.counters().reloads, before.reloads);
}

#[test]
fn a_failed_service_start_blocks_and_the_next_event_starts_it() {
    let c = Charm::leader();
    c.sim.pebble.fail_change("replan");
    c.ok(&Event::Install);

    let status = c.status();
    assert_eq!(status.kind, StatusKind::Blocked, "{status:?}");
    assert!(status.message.contains("replan"), "{status:?}");
    assert!(status.message.contains("injected failure"), "{status:?}");
    assert_eq!(c.counters().prometheus_starts, 0);
    assert!(
        c.file(MANIFEST_FILE).is_none(),
        "nothing recorded as applied"
    );

    // Juju's next event (update-status at the latest) converges without operator help.
    c.ok(&Event::UpdateStatus);
    c.assert_active();
    assert_eq!(c.counters().prometheus_starts, 1);
    assert_eq!(
        c.counters().reloads,
        0,
        "started on the new files, no reload"
    );
    assert!(c.file(MANIFEST_FILE).is_some());
}

#[test]
fn status_messages_stay_on_one_line() {
    // Pebble's change errors span lines ("cannot perform the following tasks:\n- ...");
    // `juju status` shows one line, as the charm does for config errors.
    let c = Charm::leader();
    c.sim.pebble.fail_change("replan");
    c.ok(&Event::Install);
    let status = c.status();
    assert_eq!(status.kind, StatusKind::Blocked, "{status:?}");
    assert!(!status.message.contains('\n'), "{status:?}");
}

#[test]
fn a_failed_push_blocks_and_the_next_event_pushes_again() {
    let c = Charm::leader();
    c.deploy();
    c.sim
        .pebble
        .fail_next("POST", "/v1/files", 500, "disk full");
    c.configure("evaluation_interval", "30s");
    assert_eq!(
        c.status(),
        Status::blocked("Pebble API error 500: disk full")
    );
    assert!(!c.config_yaml().contains("evaluation_interval: 30s"));

    c.ok(&Event::UpdateStatus);
    c.assert_active();
    assert!(c.config_yaml().contains("evaluation_interval: 30s"));
    assert_eq!(c.counters().reloads, 1);
    assert_eq!(c.counters().prometheus_restarts, 0);
}

#[test]
fn pebble_api_errors_while_reading_wait_and_exit_zero() {
    let c = Charm::leader();
    c.deploy();
    let before = c.counters();
    c.sim.pebble.fail_next("GET", "/v1/plan", 500, "boom");
    c.ok(&Event::UpdateStatus);
    let status = c.status();
    assert_eq!(status.kind, StatusKind::Waiting, "{status:?}");
    assert!(status.message.ends_with("500: boom"), "{status:?}");
    assert_eq!(c.counters(), before);
    c.ok(&Event::UpdateStatus);
    c.assert_active();
}

#[test]
fn pebble_api_error_status_names_the_error_once() {
    let c = Charm::leader();
    c.deploy();
    c.sim.pebble.fail_next("GET", "/v1/plan", 500, "boom");
    c.ok(&Event::UpdateStatus);
    let status = c.status();
    assert_eq!(
        status.message.matches("Pebble API error").count(),
        1,
        "{status:?}"
    );
}

#[test]
fn prometheus_not_answering_the_reload_is_maintenance_and_retried() {
    let mut c = Charm::leader();
    c.deploy();
    let url = std::mem::replace(
        &mut c.sim.access.prometheus_url,
        "http://127.0.0.1:9".into(),
    );
    c.configure("evaluation_interval", "30s");
    assert_eq!(
        c.status(),
        Status::maintenance("waiting for Prometheus to become ready")
    );
    assert_eq!(c.counters().reloads, 0);
    assert!(
        c.config_yaml().contains("evaluation_interval: 30s"),
        "pushed, waiting for the reload"
    );

    c.sim.access.prometheus_url = url;
    c.ok(&Event::UpdateStatus);
    c.assert_active();
    assert_eq!(c.counters().reloads, 1);
    assert_eq!(c.counters().prometheus_restarts, 0);
}

#[test]
fn a_new_workload_image_is_detected_on_pebble_ready() {
    let c = Charm::leader();
    c.deploy();
    assert!(!c.config_yaml().contains("fallback_scrape_protocol"));

    // The pod comes back with Prometheus 3.5 (the host's promtool is 2.42, which does not
    // know 3.x fields: let promtool pass here).
    c.sim.pebble.restart_container(true);
    let v3 = charm_harness::pebble::exec::prometheus_version_handler("3.5.0");
    c.sim.pebble.on_exec("prometheus", move |r| v3(r));
    c.sim.pebble.on_exec("promtool", |_| {
        charm_harness::ExecResult::success("SUCCESS\n")
    });
    c.ok(&pebble_ready());

    c.assert_active();
    assert_eq!(
        c.sim.juju.state().workload_version.as_deref(),
        Some("3.5.0")
    );
    assert!(c.config_yaml().contains("fallback_scrape_protocol"));
    let manifest: Value = serde_json::from_str(&c.file(MANIFEST_FILE).unwrap()).unwrap();
    assert_eq!(manifest["prometheus_version"], "3.5.0");

    // Other hooks use the recorded version: no exec.
    c.reset_records();
    c.ok(&Event::UpdateStatus);
    assert_eq!(count(&c.requests(), "POST", "/v1/exec"), 0);
}

#[test]
fn stop_remove_and_unknown_events_touch_nothing() {
    let c = Charm::leader();
    c.deploy();
    let before = c.counters();
    c.reset_records();
    let status = c.status();
    let history = c.sim.juju.state().status_history.len();
    for event in [
        Event::Stop,
        Event::Remove,
        Event::Unknown("future-hook".into()),
    ] {
        c.ok(&event);
    }
    assert_eq!(c.requests(), []);
    assert_eq!(c.counters(), before);
    assert_eq!(c.status(), status);
    assert_eq!(c.sim.juju.state().status_history.len(), history);
}

#[test]
fn a_managed_file_changed_behind_the_charms_back_is_restored_by_update_status() {
    let c = Charm::leader();
    c.deploy();
    let config = live_config_bytes(&c);
    c.sim.pebble.write_file(CONFIG_FILE, "global: {}\n");
    c.ok(&Event::UpdateStatus);
    assert_eq!(live_config_bytes(&c), config);
}

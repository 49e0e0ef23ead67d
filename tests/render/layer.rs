//! Pebble layer rendering: snapshots, and which option changes touch which part of the
//! workload (service definitions vs prometheus.yml).

use crate::render_common::*;
use insta::assert_snapshot;
use pebble::{CheckLevel, Layer, Startup};
use prometheus_rs_k8s::core::layer::{
    build_layer, InventoryService, INVENTORY_READY_CHECK, PROMETHEUS_READY_CHECK,
};
use prometheus_rs_k8s::core::prometheus_config::render;
use prometheus_rs_k8s::core::workload::{INVENTORY_SERVICE, PROMETHEUS_SERVICE};
use prometheus_rs_k8s::CharmConfig;
use serde_json::{json, Value};

fn inventory_options() -> Value {
    json!({
        "inventory_url": "http://inventory:1337/inventory",
        "inventory_labels": "site=lab,tier=edge",
    })
}

fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut v = base.clone();
    v.as_object_mut().unwrap().insert(key.into(), value);
    v
}

fn layer_for(c: &CharmConfig) -> Layer {
    build_layer(c, InventoryService::from_config(c, false)).expect("layer")
}

fn yaml(layer: &Layer) -> String {
    serde_yaml_ng::to_string(layer).expect("yaml")
}

fn prometheus_yml(c: &CharmConfig) -> String {
    render(&input(c, V3_5)).expect("render").yaml
}

fn command(layer: &Layer, service: &str) -> String {
    layer.services[service].command.clone().expect("command")
}

/// Splits a command the way Pebble does (shell-like, no shell).
fn argv(layer: &Layer, service: &str) -> Vec<String> {
    shlex::split(&command(layer, service)).expect("splittable")
}

#[test]
fn defaults() {
    let layer = layer_for(&CharmConfig::default());
    assert_eq!(
        command(&layer, PROMETHEUS_SERVICE),
        "/bin/prometheus --config.file=/etc/prometheus/prometheus.yml \
         --storage.tsdb.path=/var/lib/prometheus --web.listen-address=0.0.0.0:9090 \
         --web.enable-lifecycle --web.enable-remote-write-receiver --log.level=info \
         --storage.tsdb.retention.time=15d --no-storage.tsdb.wal-compression"
    );
    assert!(!layer.services.contains_key(INVENTORY_SERVICE));
    assert!(!layer.checks.contains_key(INVENTORY_READY_CHECK));
    // Ready-level checks only: an alive failure would make Kubernetes restart the container.
    assert!(layer
        .checks
        .values()
        .all(|c| c.level == Some(CheckLevel::Ready)));
    assert_snapshot!(yaml(&layer));
}

#[test]
fn restart_options_render_into_flags() {
    let c = config(json!({
        "log_level": "DEBUG",
        "metrics_retention_time": "0",
        "maximum_retention_size": "50GB",
        "metrics_wal_compression": true,
    }));
    let args = argv(&layer_for(&c), PROMETHEUS_SERVICE);
    for flag in [
        "--log.level=debug",
        "--storage.tsdb.retention.time=0",
        "--storage.tsdb.retention.size=50GB",
        "--storage.tsdb.wal-compression",
    ] {
        assert!(
            args.iter().any(|a| a == flag),
            "{flag} missing from {args:?}"
        );
    }
    assert!(!args
        .iter()
        .any(|a| a == "--no-storage.tsdb.wal-compression"));

    let off = argv(
        &layer_for(&config(json!({"metrics_wal_compression": false}))),
        PROMETHEUS_SERVICE,
    );
    assert!(off.iter().any(|a| a == "--no-storage.tsdb.wal-compression"));
    assert!(!off.iter().any(|a| a == "--storage.tsdb.wal-compression"));
    assert!(!off
        .iter()
        .any(|a| a.starts_with("--storage.tsdb.retention.size")));
}

/// Starts the real (2.42) Prometheus with the rendered arguments, paths and listen address
/// swapped for a temp dir and a free loopback port, and waits until `/-/ready` answers 200
/// (fails if it exits first).
fn assert_prometheus_starts(c: &CharmConfig) {
    assert_binary_starts("/usr/bin/prometheus", c);
}

/// [`assert_prometheus_starts`] with another Prometheus binary.
fn assert_binary_starts(binary: &str, c: &CharmConfig) {
    use std::io::Read;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("prometheus.yml");
    std::fs::write(&config_file, "global: {}\n").unwrap();
    let port = charm_harness::ports::unused_port().unwrap();
    let mut args = argv(&layer_for(c), PROMETHEUS_SERVICE);
    args.remove(0);
    for arg in &mut args {
        if arg.starts_with("--config.file=") {
            *arg = format!("--config.file={}", config_file.display());
        } else if arg.starts_with("--storage.tsdb.path=") {
            *arg = format!("--storage.tsdb.path={}", dir.path().join("data").display());
        } else if arg.starts_with("--web.listen-address=") {
            *arg = format!("--web.listen-address=127.0.0.1:{port}");
        }
    }
    let mut child = Command::new(binary)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{binary}: {e}"));
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/-/ready");
    let deadline = Instant::now() + Duration::from_secs(30);
    let outcome = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Err(format!("exited with {status}"));
        }
        if let Ok(resp) = http.get(&url).send() {
            if resp.status().is_success() {
                break Ok(());
            }
        }
        if Instant::now() > deadline {
            break Err("not ready after 30s".to_owned());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    if let Err(why) = outcome {
        let mut stderr = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
        panic!("prometheus {why} with {args:?}:\n{stderr}");
    }
}

#[test]
fn prometheus_starts_with_the_rendered_flags() {
    // Both WAL-compression spellings, a size limit and retention `0` are accepted by the real
    // binary (flag values are only checked when it really starts, not with --help).
    assert_prometheus_starts(&CharmConfig::default());
    assert_prometheus_starts(&config(json!({
        "log_level": "warn",
        "metrics_retention_time": "0",
        "maximum_retention_size": "1GB",
        "metrics_wal_compression": false,
    })));
    assert_prometheus_starts(&config(json!({
        "log_level": "DEBUG",
        "metrics_retention_time": "1y2w",
        "maximum_retention_size": "512MB",
    })));
}

/// prometheus-k8s passes `--web.external-url=<url> --web.route-prefix=/` and, with exemplars,
/// `--enable-feature=exemplar-storage`; both Prometheus 2 (Debian's 2.42) and 3 (the rock's,
/// `PROMETHEUS3_BIN`, when given) start with them.
#[test]
fn external_url_and_exemplar_storage_flags_start_prometheus_2_and_3() {
    let c = config(json!({
        "web_external_url": "https://prom.example.com/cos-prom",
        "max_global_exemplars_per_user": 1,
    }));
    let args = argv(&layer_for(&c), PROMETHEUS_SERVICE);
    for flag in [
        "--web.external-url=https://prom.example.com/cos-prom",
        "--web.route-prefix=/",
        "--enable-feature=exemplar-storage",
    ] {
        assert!(
            args.iter().any(|a| a == flag),
            "{flag} missing from {args:?}"
        );
    }
    let plain = argv(&layer_for(&CharmConfig::default()), PROMETHEUS_SERVICE);
    assert!(!plain
        .iter()
        .any(|a| a.starts_with("--web.") && a.contains("url") || a.contains("exemplar")));
    assert_prometheus_starts(&c);
    if let Ok(p3) = std::env::var("PROMETHEUS3_BIN") {
        assert_binary_starts(&p3, &c);
    }
}

#[test]
fn inventory_on() {
    let c = config(inventory_options());
    let layer = layer_for(&c);
    assert_eq!(
        argv(&layer, INVENTORY_SERVICE),
        [
            "/opt/prometheus-rs-k8s/prometheus-rs-k8s",
            "poll",
            "--inventory-url-file=/etc/prometheus-rs-k8s/inventory-url",
            "--interval=30s",
            "--timeout=10s",
            "--target-port=9100",
            "--output=/etc/prometheus/file_sd/inventory.json",
            "--listen=127.0.0.1:9099",
            "--labels=site=lab,tier=edge",
        ]
    );
    assert_eq!(
        layer.services[INVENTORY_SERVICE].startup,
        Some(Startup::Enabled)
    );
    assert_eq!(
        layer.checks[INVENTORY_READY_CHECK].startup,
        Some(Startup::Enabled)
    );
    // No level: an inventory outage must not make the pod NotReady (Prometheus keeps serving
    // the last good targets); only Prometheus' own check is ready-level.
    assert_eq!(layer.checks[INVENTORY_READY_CHECK].level, None);
    // The URL (it may hold credentials) is in a file, never in the plan: only its hash is,
    // so that a new URL restarts the poller.
    let plan_text = yaml(&layer);
    assert!(!plan_text.contains("inventory:1337"), "{plan_text}");
    assert_eq!(
        layer.services[INVENTORY_SERVICE].environment["INVENTORY_URL_SHA256"],
        prometheus_rs_k8s::core::layer::inventory_url_hash("http://inventory:1337/inventory")
    );
    // The inventory does not change Prometheus' own service.
    assert_eq!(
        layer.services[PROMETHEUS_SERVICE],
        layer_for(&CharmConfig::default()).services[PROMETHEUS_SERVICE]
    );
    assert_snapshot!(yaml(&layer));
}

#[test]
fn inventory_off_but_present() {
    let c = CharmConfig::default();
    let layer = build_layer(&c, InventoryService::from_config(&c, true)).unwrap();
    assert_eq!(
        layer.services[INVENTORY_SERVICE].startup,
        Some(Startup::Disabled)
    );
    assert_eq!(
        layer.checks[INVENTORY_READY_CHECK].startup,
        Some(Startup::Disabled)
    );
    assert_snapshot!(yaml(&layer));
}

#[test]
fn arguments_with_shell_specials_survive_pebble_splitting() {
    let c = config(json!({
        "inventory_url": "http://inventory:1337/hosts?site=lab&kind=$x",
        "inventory_labels": "site=lab one,quote=it's \"x\"",
        "inventory_poll_interval": "1m 30s",
    }));
    let args = argv(&layer_for(&c), INVENTORY_SERVICE);
    assert!(args.contains(&"--labels=quote=it's \"x\",site=lab one".to_owned()));
    assert!(args.contains(&"--interval=90s".to_owned()));
}

#[test]
fn log_level_and_retention_change_the_prometheus_service_only() {
    let base_opts = inventory_options();
    let base = config(base_opts.clone());
    let base_layer = layer_for(&base);
    for (key, value) in [
        ("log_level", json!("debug")),
        ("metrics_retention_time", json!("30d")),
        ("maximum_retention_size", json!("10GB")),
        ("metrics_wal_compression", json!(true)),
        ("web_external_url", json!("http://prom.example.com")),
        ("max_global_exemplars_per_user", json!(1)),
    ] {
        let changed = config(with(&base_opts, key, value));
        let layer = layer_for(&changed);
        assert_ne!(
            layer.services[PROMETHEUS_SERVICE], base_layer.services[PROMETHEUS_SERVICE],
            "{key} must change the prometheus service"
        );
        assert_eq!(
            layer.services[INVENTORY_SERVICE], base_layer.services[INVENTORY_SERVICE],
            "{key} must not change the inventory-sd service"
        );
        assert_eq!(layer.checks, base_layer.checks);
    }
}

#[test]
fn intervals_change_prometheus_yml_only() {
    let base_opts = inventory_options();
    let base = config(base_opts.clone());
    for (key, value) in [
        ("evaluation_interval", json!("30s")),
        ("scrape_interval", json!("30s")),
    ] {
        let changed = config(with(&base_opts, key, value));
        assert_eq!(
            layer_for(&changed),
            layer_for(&base),
            "{key} must not change the layer"
        );
        assert_ne!(
            prometheus_yml(&changed),
            prometheus_yml(&base),
            "{key} must change prometheus.yml"
        );
    }
}

#[test]
fn inventory_poll_interval_changes_the_inventory_service_only() {
    let base_opts = inventory_options();
    let base = config(base_opts.clone());
    let changed = config(with(&base_opts, "inventory_poll_interval", json!("2m")));
    let (a, b) = (layer_for(&base), layer_for(&changed));
    assert_ne!(a.services[INVENTORY_SERVICE], b.services[INVENTORY_SERVICE]);
    assert!(argv(&b, INVENTORY_SERVICE).contains(&"--interval=120s".to_owned()));
    assert_eq!(
        a.services[PROMETHEUS_SERVICE],
        b.services[PROMETHEUS_SERVICE]
    );
    assert_eq!(a.checks, b.checks);
    assert_eq!(prometheus_yml(&base), prometheus_yml(&changed));
}

#[test]
fn prometheus_check_is_ready_level_on_the_ready_endpoint() {
    let layer = layer_for(&CharmConfig::default());
    let check = &layer.checks[PROMETHEUS_READY_CHECK];
    assert_eq!(check.level, Some(CheckLevel::Ready));
    assert_eq!(
        check.http.as_ref().map(|h| h.url.as_str()),
        Some("http://localhost:9090/-/ready")
    );
}

/// The `poll` subcommand's flags, as the charm binary will parse them.
#[derive(clap::Parser)]
struct PollCli {
    #[command(flatten)]
    args: inventory_sd::Args,
}

#[test]
fn the_poller_accepts_the_rendered_arguments() {
    use clap::Parser;
    let c = config(json!({
        "inventory_url": "http://user:pw@inventory:1337/hosts?site=lab&x=$y",
        "inventory_poll_interval": "1m30s",
        "inventory_timeout": "2500ms",
        "inventory_target_port": 9200,
        "inventory_labels": "site=lab one, tier=edge",
    }));
    let mut args = argv(&layer_for(&c), INVENTORY_SERVICE);
    assert_eq!(args[1], "poll");
    // The URL travels in the file the charm pushes (its content as the charm writes it).
    let dir = tempfile::tempdir().unwrap();
    let url_file = dir.path().join("inventory-url");
    let url = &c.inventory.as_ref().unwrap().url;
    std::fs::write(&url_file, format!("{url}\n")).unwrap();
    let flag = args
        .iter_mut()
        .find(|a| a.starts_with("--inventory-url-file="))
        .expect("the URL file flag");
    *flag = format!("--inventory-url-file={}", url_file.display());
    assert!(!args.iter().any(|a| a.contains("user:pw")), "{args:?}");
    let cli = PollCli::try_parse_from(&args[1..]).expect("clap accepts the arguments");
    let poller = inventory_sd::PollerConfig::from_args(&cli.args).expect("poller accepts");
    assert_eq!(
        poller.inventory_url.expose().as_str(),
        "http://user:pw@inventory:1337/hosts?site=lab&x=$y"
    );
    assert_eq!(poller.interval, std::time::Duration::from_secs(90));
    assert_eq!(poller.timeout, std::time::Duration::from_millis(2500));
    assert_eq!(poller.target_port, 9200);
    assert_eq!(poller.labels["site"], "lab one");
    assert_eq!(poller.labels["tier"], "edge");
    assert_eq!(
        poller.output,
        std::path::PathBuf::from("/etc/prometheus/file_sd/inventory.json")
    );
    assert_eq!(poller.listen.to_string(), "127.0.0.1:9099");
}

proptest::proptest! {
    /// Any label value the config accepts reaches the poller unchanged through the command
    /// string (quoted where needed, split back shell-style).
    #[test]
    fn any_accepted_label_value_survives_command_splitting(
        value in "[^,\\p{Cc}]{1,24}",
        path in "[a-zA-Z0-9/_.~-]{0,16}",
    ) {
        let trimmed = value.trim();
        proptest::prop_assume!(!trimmed.is_empty());
        let c = config(json!({
            "inventory_url": format!("http://inv:1337/{path}"),
            "inventory_labels": format!("k={value}"),
        }));
        let args = argv(&layer_for(&c), INVENTORY_SERVICE);
        let expected = format!("--labels=k={trimmed}");
        proptest::prop_assert!(args.contains(&expected), "{:?} not in {:?}", expected, args);
    }
}

/// Runs `prometheus <args> --version` with the server of `version`'s major: its flag parser
/// rejects unknown flags before printing the version, without starting anything.
fn prometheus_parses(
    version: prometheus_rs_k8s::PrometheusVersion,
    args: &[String],
) -> (bool, String) {
    let out = std::process::Command::new(prometheus_for(version))
        .args(args)
        .arg("--version")
        .output()
        .expect("prometheus runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn every_prometheus_flag_the_layer_passes_is_accepted_by_both_majors() {
    let configs = [
        json!({}),
        json!({
            "log_level": "debug",
            "metrics_retention_time": "30d",
            "maximum_retention_size": "10GB",
            "metrics_wal_compression": false,
        }),
        json!({"metrics_retention_time": "0", "log_level": "error"}),
    ];
    for options in configs {
        let args = prometheus_rs_k8s::core::layer::prometheus_args(&config(options.clone()));
        for version in MAJORS {
            let (ok, text) = prometheus_parses(version, &args[1..]);
            assert!(
                ok,
                "Prometheus {version} refused {args:?} ({options}):\n{text}"
            );
            let expected = format!("prometheus, version {}.{}", version.major, version.minor);
            assert!(text.starts_with(&expected), "{text}");
        }
    }
    // The check has teeth: a flag neither major knows is refused.
    for version in MAJORS {
        let (ok, text) = prometheus_parses(version, &["--storage.tsdb.no-such-flag".into()]);
        assert!(!ok, "{text}");
        assert!(text.contains("unknown long flag"), "{text}");
    }
}

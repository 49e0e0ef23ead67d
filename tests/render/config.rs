//! Config option validation: every option, good and bad values, exact messages.

use std::collections::BTreeMap;
use std::time::Duration;

use prometheus_rs_k8s::core::config::LogLevel;
use prometheus_rs_k8s::{CharmConfig, ConfigErrors};
use serde_json::{json, Map, Value};

fn options(v: Value) -> Map<String, Value> {
    v.as_object().expect("an object").clone()
}

fn errors(v: Value) -> ConfigErrors {
    CharmConfig::from_options(&options(v)).expect_err("config should be invalid")
}

/// The single error message for one bad option.
fn message(option: &str, value: Value) -> String {
    let e = errors(json!({ option: value }));
    assert_eq!(e.errors().len(), 1, "expected one error, got: {e}");
    e.errors()[0].to_string()
}

#[test]
fn defaults_match_config_yaml() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.yaml"))
        .expect("config.yaml");
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("yaml");
    let mut from_yaml = Map::new();
    for (name, spec) in doc["options"].as_mapping().expect("options") {
        let name = name.as_str().expect("name").to_owned();
        let default: Value = serde_json::to_value(&spec["default"]).expect("json");
        from_yaml.insert(name, default);
    }
    // Every option is known: giving every default explicitly equals giving none.
    assert_eq!(
        CharmConfig::from_options(&from_yaml).expect("defaults valid"),
        CharmConfig::from_options(&Map::new()).expect("empty valid")
    );
    assert_eq!(
        from_yaml.len(),
        19,
        "config.yaml options changed: update CharmConfig"
    );

    let c = CharmConfig::default();
    assert_eq!(c.log_level, LogLevel::Info);
    assert_eq!(c.scrape_interval.as_str(), "1m");
    assert_eq!(c.scrape_timeout.as_str(), "10s");
    assert_eq!(c.evaluation_interval.as_str(), "1m");
    assert_eq!(c.metrics_retention_time.as_str(), "15d");
    // prometheus-k8s' defaults: 80% of the volume, WAL compression option off, no external
    // URL, no exemplar storage.
    assert_eq!(c.maximum_retention_size, None);
    assert_eq!(c.maximum_retention_percent, Some(80));
    assert!(!c.metrics_wal_compression);
    assert_eq!(c.web_external_url, None);
    assert_eq!(c.max_exemplars, None);
    assert_eq!(c.inventory, None);
}

/// `web_external_url` is an absolute http(s) URL, kept without its trailing `/`;
/// `max_global_exemplars_per_user` turns exemplar storage on above 0 with at least 100000
/// exemplars (prometheus-k8s: `max(v, 100000)`).
#[test]
fn external_url_and_exemplars() {
    let c = CharmConfig::from_options(&options(json!({
        "web_external_url": "https://prom.example.com/cos/",
        "max_global_exemplars_per_user": 1,
    })))
    .expect("valid");
    assert_eq!(
        c.web_external_url.as_deref(),
        Some("https://prom.example.com/cos")
    );
    assert_eq!(c.max_exemplars, Some(100_000));
    for (given, stored) in [
        (0, None),
        (-5, None),
        (100_000, Some(100_000)),
        (250_000, Some(250_000)),
    ] {
        let c =
            CharmConfig::from_options(&options(json!({ "max_global_exemplars_per_user": given })))
                .expect("valid");
        assert_eq!(c.max_exemplars, stored, "{given}");
    }
    for (bad, why) in [
        ("ftp://x/y", "scheme must be http or https"),
        (
            "http://x/?a=b",
            "must not have a query, a fragment or user info",
        ),
        (
            "http://u:p@x/",
            "must not have a query, a fragment or user info",
        ),
        (
            " http://x/",
            "must not contain blanks or control characters",
        ),
    ] {
        let m = message("web_external_url", json!(bad));
        assert!(m.contains(why), "{bad}: {m}");
    }
}

#[test]
fn valid_custom_values_are_parsed_and_normalised() {
    let c = CharmConfig::from_options(&options(json!({
        "log_level": "WARN",
        "scrape_interval": "30s",
        "scrape_timeout": "30s",
        "evaluation_interval": "1h30m",
        "metrics_retention_time": "0",
        "maximum_retention_size": "50GB",
        "metrics_wal_compression": false,
        "inventory_url": "http://inventory:1337/inventory",
        "inventory_poll_interval": "2m 30s",
        "inventory_timeout": "1m30s",
        "inventory_target_port": 9200,
        "inventory_metrics_path": "/probe/metrics",
        "inventory_job_name": "sensors",
        "inventory_labels": "site=lab, tier=edge",
        "unknown_option": 42,
    })))
    .expect("valid");
    assert_eq!(c.log_level.as_str(), "warn");
    assert_eq!(c.metrics_retention_time.millis(), 0);
    assert_eq!(c.maximum_retention_size.unwrap().bytes(), 50 << 30);
    let inv = c.inventory.expect("inventory on");
    assert_eq!(inv.url, "http://inventory:1337/inventory");
    assert_eq!(inv.poll_interval, Duration::from_secs(150));
    assert_eq!(inv.timeout, Duration::from_secs(90));
    assert_eq!(inv.target_port, 9200);
    assert_eq!(inv.metrics_path, "/probe/metrics");
    assert_eq!(inv.job_name, "sensors");
    assert_eq!(
        inv.labels,
        BTreeMap::from([
            ("site".into(), "lab".into()),
            ("tier".into(), "edge".into())
        ])
    );
}

#[test]
fn null_means_default() {
    let c = CharmConfig::from_options(&options(json!({"log_level": null}))).unwrap();
    assert_eq!(c.log_level, LogLevel::Info);
}

#[test]
fn log_level() {
    assert_eq!(
        message("log_level", json!("verbose")),
        r#"log_level="verbose": must be one of debug, info, warn, error"#
    );
    assert_eq!(
        message("log_level", json!(3)),
        "log_level=3: must be a string"
    );
}

#[test]
fn scrape_interval() {
    assert_eq!(
        message("scrape_interval", json!("1 m")),
        r#"scrape_interval="1 m": must be a Prometheus duration such as 15s, 1m or 1h30m"#
    );
    assert_eq!(
        message("scrape_interval", json!("")),
        r#"scrape_interval="": must be a Prometheus duration such as 15s, 1m or 1h30m"#
    );
    assert_eq!(
        message("scrape_interval", json!("0s")),
        r#"scrape_interval="0s": must be greater than zero"#
    );
    assert_eq!(
        message("scrape_interval", json!("300y")),
        r#"scrape_interval="300y": is too long for Prometheus"#
    );
}

#[test]
fn scrape_timeout() {
    assert_eq!(
        message("scrape_timeout", json!("2m")),
        r#"scrape_timeout="2m": must not exceed scrape_interval (1m)"#
    );
    assert_eq!(
        message("scrape_timeout", json!("10")),
        r#"scrape_timeout="10": must be a Prometheus duration such as 15s, 1m or 1h30m"#
    );
    // Equal to the interval is fine.
    assert!(CharmConfig::from_options(&options(json!({"scrape_timeout": "1m"}))).is_ok());
    // Checked against a custom interval too.
    let e = errors(json!({"scrape_interval": "15s", "scrape_timeout": "20s"}));
    assert_eq!(
        e.to_string(),
        r#"scrape_timeout="20s": must not exceed scrape_interval (15s)"#
    );
}

#[test]
fn evaluation_interval() {
    assert_eq!(
        message("evaluation_interval", json!("1h1d")),
        r#"evaluation_interval="1h1d": must be a Prometheus duration such as 15s, 1m or 1h30m"#
    );
}

#[test]
fn metrics_retention_time() {
    assert_eq!(
        message("metrics_retention_time", json!("15 days")),
        r#"metrics_retention_time="15 days": must be a Prometheus duration such as 15d or 4w, or 0"#
    );
    assert_eq!(
        message("metrics_retention_time", json!("")),
        r#"metrics_retention_time="": must be a Prometheus duration such as 15d or 4w, or 0"#
    );
}

#[test]
fn maximum_retention_size() {
    assert_eq!(
        message("maximum_retention_size", json!("80GiB")),
        r#"maximum_retention_size="80GiB": must be a whole number with a unit B, KB, MB, GB, TB, PB or EB, e.g. 50GB"#
    );
    // A share of the database volume, resolved once its capacity is known.
    let c = CharmConfig::from_options(&options(json!({"maximum_retention_size": "80%"}))).unwrap();
    assert_eq!(
        (c.maximum_retention_size, c.maximum_retention_percent),
        (None, Some(80))
    );
    for bad in ["0%", "101%", "12.5%", "%"] {
        assert_eq!(
            message("maximum_retention_size", json!(bad)),
            format!(
                r#"maximum_retention_size="{bad}": a percentage must be a whole number from 1% to 100%"#
            )
        );
    }
    assert_eq!(
        message("maximum_retention_size", json!("0GB")),
        r#"maximum_retention_size="0GB": must be greater than zero (leave empty for no size limit)"#
    );
    assert_eq!(
        message("maximum_retention_size", json!("9EB")),
        r#"maximum_retention_size="9EB": is too large"#
    );
}

#[test]
fn cpu_and_memory_are_kubernetes_quantities() {
    let c = CharmConfig::from_options(&options(json!({"cpu": "500m", "memory": "2Gi"}))).unwrap();
    assert_eq!(c.cpu.unwrap().as_str(), "500m");
    assert_eq!(c.memory.unwrap().millis(), 2000 << 30);
    assert_eq!(CharmConfig::default().cpu, None);
    for option in ["cpu", "memory"] {
        assert_eq!(
            message(option, json!("2 GB")),
            format!(
                r#"{option}="2 GB": must be a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi"#
            )
        );
    }
}

#[test]
fn metrics_wal_compression() {
    assert_eq!(
        message("metrics_wal_compression", json!("yes")),
        r#"metrics_wal_compression="yes": must be a boolean"#
    );
}

#[test]
fn inventory_url() {
    assert_eq!(
        message("inventory_url", json!("ftp://x")),
        r#"inventory_url="ftp://x": scheme must be http or https"#
    );
    assert_eq!(
        message("inventory_url", json!("inventory:1337/inventory")),
        r#"inventory_url="inventory:1337/inventory": scheme must be http or https"#
    );
    assert_eq!(
        message("inventory_url", json!("/inventory")),
        r#"inventory_url="/inventory": is not a valid URL (relative URL without a base)"#
    );
    assert_eq!(
        message("inventory_url", json!("https://inventory/hosts")),
        r#"inventory_url="https://inventory/hosts": https is not supported: the inventory poller is built without TLS; use http"#
    );
    // A password is never echoed.
    assert_eq!(
        message(
            "inventory_url",
            json!("https://user:s3cret@inventory/hosts")
        ),
        r#"inventory_url="https://user:***@inventory/hosts": https is not supported: the inventory poller is built without TLS; use http"#
    );
    assert_eq!(
        message("inventory_url", json!("http://")),
        r#"inventory_url="http://": is not a valid URL (empty host)"#
    );
}

#[test]
fn inventory_poll_interval() {
    assert_eq!(
        message("inventory_poll_interval", json!("often")),
        r#"inventory_poll_interval="often": must be a duration such as 30s or 2m"#
    );
    assert_eq!(
        message("inventory_poll_interval", json!("500ms")),
        r#"inventory_poll_interval="500ms": must be at least 1s"#
    );
}

#[test]
fn inventory_timeout() {
    assert_eq!(
        message("inventory_timeout", json!("30s")),
        r#"inventory_timeout="30s": must be shorter than inventory_poll_interval (30s)"#
    );
    assert_eq!(
        message("inventory_timeout", json!("0s")),
        r#"inventory_timeout="0s": must be greater than zero"#
    );
    assert_eq!(
        message("inventory_timeout", json!("ten seconds")),
        r#"inventory_timeout="ten seconds": must be a duration such as 10s"#
    );
    // Against a custom interval, reported as the user wrote it.
    let e = errors(json!({"inventory_poll_interval": "5s", "inventory_timeout": "10s"}));
    assert_eq!(
        e.to_string(),
        r#"inventory_timeout="10s": must be shorter than inventory_poll_interval (5s)"#
    );
}

#[test]
fn inventory_target_port() {
    for bad in [json!(0), json!(65536), json!(-1)] {
        assert_eq!(
            message("inventory_target_port", bad.clone()),
            format!("inventory_target_port={bad}: must be between 1 and 65535")
        );
    }
    assert_eq!(
        message("inventory_target_port", json!("9100")),
        r#"inventory_target_port="9100": must be an integer"#
    );
}

#[test]
fn inventory_metrics_path() {
    assert_eq!(
        message("inventory_metrics_path", json!("metrics")),
        r#"inventory_metrics_path="metrics": must start with "/""#
    );
    assert_eq!(
        message("inventory_metrics_path", json!("/metrics?x=1")),
        r##"inventory_metrics_path="/metrics?x=1": must not contain whitespace, control characters, "?" or "#""##
    );
}

#[test]
fn inventory_job_name() {
    assert_eq!(
        message("inventory_job_name", json!("")),
        r#"inventory_job_name="": must be non-empty and use only letters, digits and _ : . -"#
    );
    assert_eq!(
        message("inventory_job_name", json!("my job")),
        r#"inventory_job_name="my job": must be non-empty and use only letters, digits and _ : . -"#
    );
    assert_eq!(
        message("inventory_job_name", json!("prometheus")),
        r#"inventory_job_name="prometheus": must differ from the charm's own scrape jobs (prometheus, inventory-sd)"#
    );
}

#[test]
fn inventory_labels() {
    let cases = [
        (
            "site",
            r#""site" is not name=value (use comma-separated name=value pairs)"#,
        ),
        (
            "1site=lab",
            r#"label name "1site" must match [a-zA-Z_][a-zA-Z0-9_]*"#,
        ),
        (
            "__site=lab",
            r#"label name "__site" must not start with "__" (reserved)"#,
        ),
        ("site=", r#"label "site" has an empty value"#),
        ("site=a,site=b", r#"label "site" is given more than once"#),
    ];
    for (value, reason) in cases {
        assert_eq!(
            message("inventory_labels", json!(value)),
            format!("inventory_labels={}: {reason}", json!(value))
        );
    }
}

#[test]
fn every_invalid_option_is_reported_in_order_with_one_line_status() {
    let e = errors(json!({
        "inventory_url": "ftp://x",
        "log_level": "verbose",
        "scrape_interval": "1m",
        "scrape_timeout": "2m",
    }));
    assert_eq!(
        e.options(),
        ["log_level", "scrape_timeout", "inventory_url"]
    );
    assert_eq!(
        e.status_message(),
        r#"invalid config: log_level="verbose": must be one of debug, info, warn, error (and 2 more: scrape_timeout, inventory_url)"#
    );
    let single = errors(json!({"log_level": "verbose"}));
    assert_eq!(
        single.status_message(),
        r#"invalid config: log_level="verbose": must be one of debug, info, warn, error"#
    );
}

#[test]
fn inventory_options_are_checked_even_when_inventory_is_off() {
    let e = errors(json!({"inventory_url": "", "inventory_target_port": 0}));
    assert_eq!(e.options(), ["inventory_target_port"]);
}

#[test]
fn long_and_multiline_values_stay_on_one_short_line() {
    let long = format!("{}\nx", "a".repeat(100));
    let e = errors(json!({ "log_level": long }));
    let status = e.status_message();
    assert!(!status.contains('\n'));
    assert!(status.contains("aaa…"), "{status}");
    assert!(status.len() < 160, "{status}");
}

proptest::proptest! {
    /// Arbitrary strings for every string option never panic; every error names an option that
    /// was given, and the status line stays on one line.
    #[test]
    fn arbitrary_values_never_panic(values in proptest::collection::vec(".{0,12}", 12)) {
        let names = [
            "log_level", "scrape_interval", "scrape_timeout", "evaluation_interval",
            "metrics_retention_time", "maximum_retention_size", "inventory_url",
            "inventory_poll_interval", "inventory_timeout", "inventory_metrics_path",
            "inventory_job_name", "inventory_labels",
        ];
        let opts: Map<String, Value> = names
            .iter()
            .zip(&values)
            .map(|(n, v)| (n.to_string(), json!(v)))
            .collect();
        if let Err(e) = CharmConfig::from_options(&opts) {
            for err in e.errors() {
                proptest::prop_assert!(names.contains(&err.option.as_str()));
            }
            proptest::prop_assert!(!e.status_message().contains('\n'));
        }
    }
}

//! Hostile config values never reach a shell. Pebble splits a service command shell-style
//! (no shell runs it), so each value must come back from `shlex::split` as ONE literal argument,
//! the very one the charm meant, or be refused by validation with an error naming its option.
//! The same values in prometheus.yml stay literal YAML strings.

use crate::render_common::{input, V3_5};
use prometheus_rs_k8s::core::layer::{
    build_layer, inventory_args, prometheus_args, InventoryService,
};
use prometheus_rs_k8s::core::prometheus_config::render;
use prometheus_rs_k8s::core::workload::{INVENTORY_SERVICE, PROMETHEUS_SERVICE};
use prometheus_rs_k8s::CharmConfig;
use serde_json::{json, Map, Value};

/// Payloads a shell would act on, plus quoting and line breaks.
const HOSTILE: [&str; 14] = [
    "$(reboot)",
    "`reboot`",
    "; reboot",
    "a && reboot",
    "| nc -l 4444",
    "x' y",
    "x\" y",
    "x\\",
    "x\nreboot",
    "x\r\n--web.enable-admin-api",
    "--config.file=/tmp/evil.yml",
    " --web.enable-admin-api",
    "${IFS}reboot",
    "x\u{0}y",
];

/// Options whose values can end up on a command line or in prometheus.yml.
const OPTIONS: [&str; 12] = [
    "log_level",
    "scrape_interval",
    "scrape_timeout",
    "evaluation_interval",
    "metrics_retention_time",
    "maximum_retention_size",
    "inventory_url",
    "inventory_poll_interval",
    "inventory_timeout",
    "inventory_metrics_path",
    "inventory_job_name",
    "inventory_labels",
];

fn base() -> Map<String, Value> {
    json!({"inventory_url": "http://inventory:1337/hosts"})
        .as_object()
        .unwrap()
        .clone()
}

/// The value as the option takes it: labels need `name=value`, URLs a scheme and host.
fn shaped(option: &str, payload: &str) -> String {
    match option {
        "inventory_labels" => format!("site={payload}"),
        "inventory_url" => format!("http://inventory:1337/{payload}"),
        "inventory_metrics_path" => format!("/{payload}"),
        _ => payload.to_string(),
    }
}

/// Splits a command as Pebble does; it must split (never be rejected at start).
fn split(command: &str) -> Vec<String> {
    shlex::split(command).unwrap_or_else(|| panic!("Pebble cannot split {command:?}"))
}

#[test]
fn hostile_values_are_refused_by_name_or_stay_single_literal_arguments() {
    let mut accepted = 0;
    for option in OPTIONS {
        for payload in HOSTILE {
            let value = shaped(option, payload);
            let mut options = base();
            options.insert(option.into(), json!(value));
            let config = match CharmConfig::from_options(&options) {
                Ok(c) => c,
                Err(errors) => {
                    let named: Vec<&str> =
                        errors.errors().iter().map(|e| e.option.as_str()).collect();
                    assert_eq!(named, [option], "{option}={value:?}");
                    let status = errors.status_message();
                    assert!(!status.contains('\n'), "{status:?}");
                    assert!(!status.contains('\r'), "{status:?}");
                    continue;
                }
            };
            accepted += 1;
            let layer = build_layer(&config, InventoryService::from_config(&config, false))
                .expect("a validated config always builds a layer");
            // Every service: what Pebble will exec is exactly the charm's argument vector.
            let expected = [
                (PROMETHEUS_SERVICE, prometheus_args(&config)),
                (
                    INVENTORY_SERVICE,
                    inventory_args(config.inventory.as_ref().unwrap()),
                ),
            ];
            for (service, args) in expected {
                let command = layer.services[service].command.as_deref().unwrap();
                let words = split(command);
                assert_eq!(words, args, "{option}={value:?}: {command}");
                for word in &words[1..] {
                    assert!(
                        word.starts_with("--") || word == "poll",
                        "{option}={value:?} produced a stray argument {word:?}"
                    );
                }
                assert!(
                    !words
                        .iter()
                        .any(|w| w == "--web.enable-admin-api"
                            || w.starts_with("--config.file=/tmp")),
                    "{option}={value:?} injected a flag: {words:?}"
                );
            }
            // The URL file holds one line: the poller refuses anything else.
            let url = &config.inventory.as_ref().unwrap().url;
            assert!(
                !url.contains(['\n', '\r', '\0']),
                "{option}={value:?}: {url:?}"
            );

            // prometheus.yml: values stay literal strings of valid YAML.
            let yaml = render(&input(&config, V3_5)).expect("renders").yaml;
            let parsed: serde_yaml_ng::Value =
                serde_yaml_ng::from_str(&yaml).expect("prometheus.yml is valid YAML");
            if option == "inventory_job_name" {
                let jobs = parsed["scrape_configs"].as_sequence().unwrap();
                assert!(
                    jobs.iter()
                        .any(|j| j["job_name"].as_str() == Some(value.trim())),
                    "{value:?} kept literally"
                );
            }
        }
    }
    assert!(accepted > 0, "some hostile values are legitimate text");
}

#[test]
fn label_values_with_shell_syntax_reach_the_poller_literally() {
    for payload in ["$(reboot)", "`id`", "a;b", "x' y", "x\" y", "${IFS}"] {
        let mut options = base();
        options.insert("inventory_labels".into(), json!(format!("site={payload}")));
        let config = CharmConfig::from_options(&options).expect("printable label values are fine");
        let layer = build_layer(&config, InventoryService::from_config(&config, false)).unwrap();
        let words = split(
            layer.services[INVENTORY_SERVICE]
                .command
                .as_deref()
                .unwrap(),
        );
        assert!(
            words.contains(&format!("--labels=site={payload}")),
            "{payload:?}: {words:?}"
        );
    }
}

#[test]
fn wrong_json_types_are_refused_naming_the_option() {
    for option in OPTIONS
        .into_iter()
        .chain(["metrics_wal_compression", "inventory_target_port"])
    {
        for wrong in [
            json!({"a": 1}),
            json!([1, 2]),
            json!(1.5),
            json!(true),
            json!("x".repeat(1 << 20)),
            json!([["y".repeat(1 << 20)]]),
        ] {
            let mut options = base();
            options.insert(option.into(), wrong.clone());
            if let Err(errors) = CharmConfig::from_options(&options) {
                let named: Vec<&str> = errors.errors().iter().map(|e| e.option.as_str()).collect();
                assert_eq!(named, [option], "{option}={wrong}");
                // A megabyte value is not echoed whole into `juju status`.
                assert!(errors.status_message().len() < 4096, "{option}");
            }
        }
    }
}

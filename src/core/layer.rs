//! The Pebble layer for the workload: the `prometheus` service, the `relation-targets` server
//! its relation jobs' `http_sd` asks, the optional `inventory-sd` poller and their checks. Only
//! Prometheus' check is ready-level: Juju points the pod's readiness probe at Pebble's ready
//! level, and readiness means "Prometheus serves queries".
//!
//! What goes here decides restarts: Pebble's replan restarts exactly the services whose
//! definition changed. So the `prometheus` command carries only options that need a restart
//! (log level, retention, WAL compression) and nothing inventory-related, and the `inventory-sd`
//! command carries the poller options; options read from prometheus.yml (intervals, jobs) are
//! applied by reload and never appear in the layer.

use std::collections::BTreeMap;

use pebble::{Check, CheckLevel, HttpCheck, Layer, Override, Service, Startup};

use crate::core::config::{format_simple, CharmConfig, InventoryConfig};
use crate::core::workload::{
    CONFIG_FILE, INVENTORY_FILE, INVENTORY_SERVICE, POLLER_BINARY, POLLER_LISTEN,
    PROMETHEUS_BINARY, PROMETHEUS_PORT, PROMETHEUS_SERVICE, TARGETS_DIR, TARGETS_LISTEN,
    TARGETS_SERVICE, TSDB_DIR,
};

/// Ready check of Prometheus.
pub const PROMETHEUS_READY_CHECK: &str = "prometheus-ready";
/// Check of the poller (its `/health`). It has no level: an inventory outage must not take
/// Prometheus, which keeps serving the last good targets, out of its Service; a failure only
/// raises `pebble-check-failed`. (The name is kept from when it was ready-level: a layer cannot
/// remove a check from the plan.)
pub const INVENTORY_READY_CHECK: &str = "inventory-sd-ready";
/// The file holding the inventory URL, readable only by the poller (mode 0600): the URL may
/// carry credentials, so it never appears on a command line, in the plan or in the environment.
pub const INVENTORY_URL_FILE: &str = "/etc/prometheus-rs-k8s/inventory-url";
/// Environment variable of the poller service holding the SHA-256 of the URL: a new URL changes
/// the service definition, so Pebble's replan restarts the poller (and only it).
pub const INVENTORY_URL_HASH_ENV: &str = "INVENTORY_URL_SHA256";

/// What to do with the `inventory-sd` service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InventoryService {
    /// Not configured and not in the plan: leave it out of the layer.
    Off,
    /// Not configured but still in the plan (layers cannot remove services): render it with
    /// `startup: disabled`, and its check disabled too. The charm must also stop it explicitly:
    /// replan alone does not stop a running service.
    OffButPresent,
    /// Configured: run the poller with these options.
    On(InventoryConfig),
}

impl InventoryService {
    /// From the config and whether the current plan already has the service.
    pub fn from_config(config: &CharmConfig, in_plan: bool) -> Self {
        match (&config.inventory, in_plan) {
            (Some(inv), _) => Self::On(inv.clone()),
            (None, true) => Self::OffButPresent,
            (None, false) => Self::Off,
        }
    }
}

/// What to do with the `relation-targets` service, which runs only while relation jobs have
/// targets to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetsService {
    /// Nothing to serve and not in the plan: leave it out of the layer.
    Off,
    /// Nothing to serve but still in the plan: disabled, and stopped by the charm.
    OffButPresent,
    /// Serving relation jobs' targets.
    On,
}

impl TargetsService {
    /// From whether any relation job's targets are served and whether the plan has the service.
    pub fn new(serving: bool, in_plan: bool) -> Self {
        match (serving, in_plan) {
            (true, _) => Self::On,
            (false, true) => Self::OffButPresent,
            (false, false) => Self::Off,
        }
    }
}

/// A command line could not be quoted for Pebble (an argument holds a NUL byte, which
/// validated config never does).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot quote the {service} command line: {reason}")]
pub struct LayerError {
    /// The service whose command failed.
    pub service: &'static str,
    /// Why.
    pub reason: String,
}

/// Bytes that never need quoting for Pebble's shell-like splitting (plain words), so common
/// `--flag=value` arguments stay readable in the plan.
fn is_plain(arg: &str) -> bool {
    !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b))
}

/// Joins arguments into one command string that Pebble's shell-like splitting turns back into
/// exactly these arguments: plain words as they are, anything else quoted by `shlex`.
fn join(service: &'static str, args: &[String]) -> Result<String, LayerError> {
    let mut words = Vec::with_capacity(args.len());
    for arg in args {
        if is_plain(arg) {
            words.push(arg.clone());
        } else {
            let quoted = shlex::try_quote(arg).map_err(|e| LayerError {
                service,
                reason: e.to_string(),
            })?;
            words.push(quoted.into_owned());
        }
    }
    Ok(words.join(" "))
}

/// The Prometheus command line (arguments, unquoted).
pub fn prometheus_args(config: &CharmConfig) -> Vec<String> {
    let mut args: Vec<String> = vec![
        PROMETHEUS_BINARY.into(),
        format!("--config.file={CONFIG_FILE}"),
        format!("--storage.tsdb.path={TSDB_DIR}"),
        format!("--web.listen-address=0.0.0.0:{PROMETHEUS_PORT}"),
        "--web.enable-lifecycle".into(),
        "--web.enable-remote-write-receiver".into(),
    ];
    args.push(format!("--log.level={}", config.log_level));
    args.push(format!(
        "--storage.tsdb.retention.time={}",
        config.metrics_retention_time
    ));
    if let Some(size) = &config.maximum_retention_size {
        args.push(format!("--storage.tsdb.retention.size={}", size.as_str()));
    }
    // Behind a proxy that strips the URL's path (as prometheus-k8s does with ingress): links
    // and redirects use the external URL, Prometheus itself still serves at `/`.
    if let Some(url) = &config.web_external_url {
        args.push(format!("--web.external-url={url}"));
        args.push("--web.route-prefix=/".into());
    }
    if config.max_exemplars.is_some() {
        args.push("--enable-feature=exemplar-storage".into());
    }
    // Explicit both ways: Prometheus compresses the WAL by default (since 2.20), so leaving the
    // flag out when the option is false would not turn compression off.
    args.push(if config.metrics_wal_compression {
        "--storage.tsdb.wal-compression".into()
    } else {
        "--no-storage.tsdb.wal-compression".into()
    });
    args
}

/// The poller command line (arguments, unquoted). The metrics path is not here: it belongs to
/// the scrape job in prometheus.yml.
pub fn inventory_args(inv: &InventoryConfig) -> Vec<String> {
    let mut args = vec![
        POLLER_BINARY.to_owned(),
        "poll".to_owned(),
        format!("--inventory-url-file={INVENTORY_URL_FILE}"),
        format!("--interval={}", format_simple(inv.poll_interval)),
        format!("--timeout={}", format_simple(inv.timeout)),
        format!("--target-port={}", inv.target_port),
        format!("--output={INVENTORY_FILE}"),
        format!("--listen={POLLER_LISTEN}"),
    ];
    if !inv.labels.is_empty() {
        let labels: Vec<String> = inv.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        args.push(format!("--labels={}", labels.join(",")));
    }
    args
}

/// The relation-targets server's command line (arguments, unquoted).
pub fn targets_args() -> Vec<String> {
    vec![
        POLLER_BINARY.to_owned(),
        "serve-targets".to_owned(),
        format!("--listen={TARGETS_LISTEN}"),
        format!("--dir={TARGETS_DIR}"),
    ]
}

/// Adds the `relation-targets` service to `layer` as `targets` says.
pub fn add_targets_service(layer: &mut Layer, targets: TargetsService) -> Result<(), LayerError> {
    let startup = match targets {
        TargetsService::Off => return Ok(()),
        TargetsService::OffButPresent => Startup::Disabled,
        TargetsService::On => Startup::Enabled,
    };
    layer.services.insert(
        TARGETS_SERVICE.into(),
        service(
            "Serves the relation jobs' targets to Prometheus' http_sd",
            join(TARGETS_SERVICE, &targets_args())?,
            startup,
        ),
    );
    Ok(())
}

/// Hex SHA-256 of the inventory URL, for [`INVENTORY_URL_HASH_ENV`].
pub fn inventory_url_hash(url: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(url.as_bytes()))
}

/// Arguments of a present-but-disabled poller: never started, so only the fixed parts.
fn disabled_inventory_args() -> Vec<String> {
    vec![
        POLLER_BINARY.to_owned(),
        "poll".to_owned(),
        format!("--output={INVENTORY_FILE}"),
        format!("--listen={POLLER_LISTEN}"),
    ]
}

fn http_check(url: &str, level: Option<CheckLevel>, startup: Startup) -> Check {
    Check {
        r#override: Some(Override::Replace),
        level,
        startup: Some(startup),
        period: Some("10s".into()),
        timeout: Some("3s".into()),
        threshold: Some(3),
        http: Some(HttpCheck {
            url: url.to_owned(),
            headers: BTreeMap::new(),
        }),
        ..Check::default()
    }
}

fn service(summary: &str, command: String, startup: Startup) -> Service {
    Service {
        summary: Some(summary.to_owned()),
        startup: Some(startup),
        r#override: Some(Override::Replace),
        command: Some(command),
        ..Service::default()
    }
}

/// Builds the charm's layer (add it under [`LAYER_LABEL`](crate::core::workload::LAYER_LABEL) with `combine: true`).
pub fn build_layer(config: &CharmConfig, inventory: InventoryService) -> Result<Layer, LayerError> {
    let mut layer = Layer {
        summary: Some("Prometheus".into()),
        description: Some("Managed by the prometheus-rs-k8s charm".into()),
        ..Layer::default()
    };
    layer.services.insert(
        PROMETHEUS_SERVICE.into(),
        service(
            "Prometheus server",
            join(PROMETHEUS_SERVICE, &prometheus_args(config))?,
            Startup::Enabled,
        ),
    );
    layer.checks.insert(
        PROMETHEUS_READY_CHECK.into(),
        http_check(
            &format!("http://localhost:{PROMETHEUS_PORT}/-/ready"),
            Some(CheckLevel::Ready),
            Startup::Enabled,
        ),
    );

    let poller = match &inventory {
        InventoryService::Off => None,
        InventoryService::OffButPresent => Some((disabled_inventory_args(), Startup::Disabled)),
        InventoryService::On(inv) => Some((inventory_args(inv), Startup::Enabled)),
    };
    if let Some((args, startup)) = poller {
        let mut poller = service(
            "Inventory poller writing file_sd targets",
            join(INVENTORY_SERVICE, &args)?,
            startup,
        );
        if let InventoryService::On(inv) = &inventory {
            poller
                .environment
                .insert(INVENTORY_URL_HASH_ENV.into(), inventory_url_hash(&inv.url));
        }
        layer.services.insert(INVENTORY_SERVICE.into(), poller);
        layer.checks.insert(
            INVENTORY_READY_CHECK.into(),
            http_check(&format!("http://{POLLER_LISTEN}/health"), None, startup),
        );
    }
    Ok(layer)
}

//! The charm's config options (config.yaml), read from `config-get` output and validated as a
//! whole: [`CharmConfig::from_options`] reports every invalid option, not just the first.

mod duration;
mod error;
mod values;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

pub use duration::{format_simple, parse_flexible, DurationError, PromDuration};
pub use error::{ConfigError, ConfigErrors};
pub use values::{LogLevel, RetentionSize};

use crate::core::quantity::Quantity;
use crate::core::workload::{POLLER_JOB_NAME, SELF_JOB_NAME};

/// Defaults, identical to config.yaml (Juju normally fills them in; absent keys get them too).
mod defaults {
    pub const LOG_LEVEL: &str = "info";
    pub const SCRAPE_INTERVAL: &str = "1m";
    pub const SCRAPE_TIMEOUT: &str = "10s";
    pub const EVALUATION_INTERVAL: &str = "1m";
    pub const METRICS_RETENTION_TIME: &str = "15d";
    pub const MAXIMUM_RETENTION_SIZE: &str = "80%";
    pub const METRICS_WAL_COMPRESSION: bool = false;
    pub const WEB_EXTERNAL_URL: &str = "";
    pub const MAX_GLOBAL_EXEMPLARS_PER_USER: i64 = 0;
    pub const SCRAPE_SHARDING: bool = false;
    pub const CPU: &str = "";
    pub const MEMORY: &str = "";
    pub const INVENTORY_URL: &str = "";
    pub const INVENTORY_POLL_INTERVAL: &str = "30s";
    pub const INVENTORY_TIMEOUT: &str = "10s";
    pub const INVENTORY_TARGET_PORT: i64 = 9100;
    pub const INVENTORY_METRICS_PATH: &str = "/metrics";
    pub const INVENTORY_JOB_NAME: &str = "inventory";
    pub const INVENTORY_LABELS: &str = "";
}

/// Shortest inventory poll interval accepted.
const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The validated charm config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharmConfig {
    /// `--log.level`.
    pub log_level: LogLevel,
    /// `global.scrape_interval` (> 0).
    pub scrape_interval: PromDuration,
    /// `global.scrape_timeout` (> 0, ≤ scrape_interval).
    pub scrape_timeout: PromDuration,
    /// `global.evaluation_interval` (> 0).
    pub evaluation_interval: PromDuration,
    /// `--storage.tsdb.retention.time` (`0` allowed: no time limit).
    pub metrics_retention_time: PromDuration,
    /// `--storage.tsdb.retention.size`, if set as a size.
    pub maximum_retention_size: Option<RetentionSize>,
    /// `maximum_retention_size` given as `N%` of the database volume (1..=100).
    pub maximum_retention_percent: Option<u8>,
    /// Explicit `--[no-]storage.tsdb.wal-compression`.
    pub metrics_wal_compression: bool,
    /// `--web.external-url` (with `--web.route-prefix=/`), without a trailing `/`; also the
    /// base of the URLs the charm publishes. `None`: `http://<fqdn>:9090`.
    pub web_external_url: Option<String>,
    /// `storage.exemplars.max_exemplars` with `--enable-feature=exemplar-storage`; `None`: off.
    pub max_exemplars: Option<u64>,
    /// Split relation and inventory targets across the application's units (hashmod).
    pub scrape_sharding: bool,
    /// CPU limit (and request) of the prometheus container.
    pub cpu: Option<Quantity>,
    /// Memory limit (and request) of the prometheus container.
    pub memory: Option<Quantity>,
    /// The inventory poller and its scrape job; `None` when `inventory_url` is empty.
    pub inventory: Option<InventoryConfig>,
}

/// Inventory settings, present only when `inventory_url` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryConfig {
    /// Inventory URL (normalised by URL parsing).
    pub url: String,
    /// Poll period (≥ 1s).
    pub poll_interval: Duration,
    /// Request timeout (> 0, < poll_interval).
    pub timeout: Duration,
    /// Port added to bare host names.
    pub target_port: u16,
    /// Metrics path of the scrape job.
    pub metrics_path: String,
    /// Scrape job name.
    pub job_name: String,
    /// Extra target labels, by name.
    pub labels: BTreeMap<String, String>,
}

impl Default for CharmConfig {
    /// The config.yaml defaults.
    fn default() -> Self {
        Self::from_options(&Map::new()).expect("config.yaml defaults are valid")
    }
}

impl CharmConfig {
    /// Reads and validates every option; unknown keys are ignored, absent (or null) keys take
    /// their config.yaml default. Fails with every invalid option, in config.yaml order.
    pub fn from_options(options: &Map<String, Value>) -> Result<Self, ConfigErrors> {
        let mut r = Reader {
            options,
            errors: Vec::new(),
        };

        let log_level = r.string("log_level", defaults::LOG_LEVEL, LogLevel::parse);
        let scrape_interval = r.string("scrape_interval", defaults::SCRAPE_INTERVAL, interval);
        let scrape_timeout = r.string("scrape_timeout", defaults::SCRAPE_TIMEOUT, interval);
        if let (Some(i), Some(t)) = (&scrape_interval, &scrape_timeout) {
            if t.millis() > i.millis() {
                r.fail(
                    "scrape_timeout",
                    Value::String(t.as_str().into()),
                    format!("must not exceed scrape_interval ({i})"),
                );
            }
        }
        let evaluation_interval = r.string(
            "evaluation_interval",
            defaults::EVALUATION_INTERVAL,
            interval,
        );
        let metrics_retention_time = r.string(
            "metrics_retention_time",
            defaults::METRICS_RETENTION_TIME,
            retention_time,
        );
        let maximum_retention_size = r.string(
            "maximum_retention_size",
            defaults::MAXIMUM_RETENTION_SIZE,
            |s| match s {
                "" => Ok((None, None)),
                s if s.ends_with('%') => parse_percent(s).map(|p| (None, Some(p))),
                s => RetentionSize::parse(s).map(|r| (Some(r), None)),
            },
        );
        let metrics_wal_compression =
            r.boolean("metrics_wal_compression", defaults::METRICS_WAL_COMPRESSION);
        let web_external_url = r.string(
            "web_external_url",
            defaults::WEB_EXTERNAL_URL,
            |s| match s {
                "" => Ok(None),
                s => values::parse_external_url(s).map(Some),
            },
        );
        let max_exemplars = r.integer(
            "max_global_exemplars_per_user",
            defaults::MAX_GLOBAL_EXEMPLARS_PER_USER,
            |n| Ok(exemplar_storage(n)),
        );
        let scrape_sharding = r.boolean("scrape_sharding", defaults::SCRAPE_SHARDING);
        let quantity = |s: &str| match s {
            "" => Ok(None),
            s => Quantity::parse(s).map(Some),
        };
        let cpu = r.string("cpu", defaults::CPU, quantity);
        let memory = r.string("memory", defaults::MEMORY, quantity);

        let url = r.string("inventory_url", defaults::INVENTORY_URL, |s| match s {
            "" => Ok(None),
            s => values::parse_inventory_url(s).map(|u| Some(u.to_string())),
        });
        // Never echo a password into `juju status` or the log.
        if let Some(e) = r.errors.last_mut().filter(|e| e.option == "inventory_url") {
            if let Value::String(s) = &e.value {
                e.value = Value::String(values::redact_url_password(s));
            }
        }
        let poll_interval = r.string(
            "inventory_poll_interval",
            defaults::INVENTORY_POLL_INTERVAL,
            |s| {
                let d = parse_flexible(s).ok_or("must be a duration such as 30s or 2m")?;
                if d < MIN_POLL_INTERVAL {
                    return Err("must be at least 1s".to_owned());
                }
                inventory_sd::config::check_duration(d)?;
                Ok(d)
            },
        );
        let timeout = r.string("inventory_timeout", defaults::INVENTORY_TIMEOUT, |s| {
            let d = parse_flexible(s).ok_or("must be a duration such as 10s")?;
            if d.is_zero() {
                return Err("must be greater than zero".to_owned());
            }
            inventory_sd::config::check_duration(d)?;
            Ok(d)
        });
        if let (Some(i), Some(t)) = (poll_interval, timeout) {
            // The poller's own rule, compared exactly (the layer passes both unrounded).
            if inventory_sd::config::check_timing(i, t).is_err() {
                let given = r.raw("inventory_timeout", defaults::INVENTORY_TIMEOUT);
                let interval_text =
                    r.raw("inventory_poll_interval", defaults::INVENTORY_POLL_INTERVAL);
                let interval_text = interval_text.as_str().unwrap_or_default().to_owned();
                r.fail(
                    "inventory_timeout",
                    given,
                    format!("must be shorter than inventory_poll_interval ({interval_text})"),
                );
            }
        }
        let target_port = r.integer(
            "inventory_target_port",
            defaults::INVENTORY_TARGET_PORT,
            |n| {
                u16::try_from(n)
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| "must be between 1 and 65535".to_owned())
            },
        );
        let metrics_path = r.string(
            "inventory_metrics_path",
            defaults::INVENTORY_METRICS_PATH,
            values::parse_metrics_path,
        );
        let job_name = r.string("inventory_job_name", defaults::INVENTORY_JOB_NAME, |s| {
            let name = values::parse_job_name(s)?;
            if name == SELF_JOB_NAME || name == POLLER_JOB_NAME {
                return Err(format!(
                    "must differ from the charm's own scrape jobs ({SELF_JOB_NAME}, {POLLER_JOB_NAME})"
                ));
            }
            Ok(name)
        });
        let labels = r.string(
            "inventory_labels",
            defaults::INVENTORY_LABELS,
            values::parse_labels,
        );

        if let Some(errors) = ConfigErrors::from_vec(r.errors) {
            return Err(errors);
        }
        // No errors: every field parsed, so the `expect`s below cannot fire.
        let inventory = url.expect("validated").map(|url| InventoryConfig {
            url,
            poll_interval: poll_interval.expect("validated"),
            timeout: timeout.expect("validated"),
            target_port: target_port.expect("validated"),
            metrics_path: metrics_path.expect("validated"),
            job_name: job_name.expect("validated"),
            labels: labels.expect("validated"),
        });
        Ok(Self {
            log_level: log_level.expect("validated"),
            scrape_interval: scrape_interval.expect("validated"),
            scrape_timeout: scrape_timeout.expect("validated"),
            evaluation_interval: evaluation_interval.expect("validated"),
            metrics_retention_time: metrics_retention_time.expect("validated"),
            maximum_retention_size: maximum_retention_size.clone().expect("validated").0,
            maximum_retention_percent: maximum_retention_size.expect("validated").1,
            metrics_wal_compression: metrics_wal_compression.expect("validated"),
            web_external_url: web_external_url.expect("validated"),
            max_exemplars: max_exemplars.expect("validated"),
            scrape_sharding: scrape_sharding.expect("validated"),
            cpu: cpu.expect("validated"),
            memory: memory.expect("validated"),
            inventory,
        })
    }
}

/// A positive Prometheus duration (scrape/evaluation intervals and timeouts).
fn interval(s: &str) -> Result<PromDuration, String> {
    let d = PromDuration::parse(s, false).map_err(|e| match e {
        DurationError::Syntax => {
            "must be a Prometheus duration such as 15s, 1m or 1h30m".to_owned()
        }
        DurationError::OutOfRange => "is too long for Prometheus".to_owned(),
    })?;
    if d.millis() == 0 {
        return Err("must be greater than zero".into());
    }
    Ok(d)
}

/// Exemplar storage as prometheus-k8s sets it from `max_global_exemplars_per_user`: off for 0
/// or less, else that many exemplars but never fewer than 100 000.
pub fn exemplar_storage(max_global_exemplars_per_user: i64) -> Option<u64> {
    u64::try_from(max_global_exemplars_per_user)
        .ok()
        .filter(|n| *n > 0)
        .map(|n| n.max(MIN_EXEMPLARS))
}

/// The fewest exemplars stored once exemplar storage is on (as prometheus-k8s).
pub const MIN_EXEMPLARS: u64 = 100_000;

/// A percentage of the database volume, `1%` to `100%`.
fn parse_percent(s: &str) -> Result<u8, String> {
    s.strip_suffix('%')
        .and_then(|n| n.parse::<u8>().ok())
        .filter(|n| (1..=100).contains(n))
        .ok_or_else(|| "a percentage must be a whole number from 1% to 100%".to_owned())
}

/// A retention time: a Prometheus duration or `0`.
fn retention_time(s: &str) -> Result<PromDuration, String> {
    PromDuration::parse(s, true).map_err(|e| match e {
        DurationError::Syntax => "must be a Prometheus duration such as 15d or 4w, or 0".to_owned(),
        DurationError::OutOfRange => "is too long for Prometheus".to_owned(),
    })
}

/// Reads typed options, collecting errors instead of stopping at the first.
struct Reader<'a> {
    options: &'a Map<String, Value>,
    errors: Vec<ConfigError>,
}

impl Reader<'_> {
    fn fail(&mut self, option: &str, value: Value, reason: impl Into<String>) {
        self.errors.push(ConfigError::new(option, value, reason));
    }

    /// The value given, or the default when absent or null.
    fn raw(&self, option: &str, default: impl Into<Value>) -> Value {
        match self.options.get(option) {
            None | Some(Value::Null) => default.into(),
            Some(v) => v.clone(),
        }
    }

    fn string<T>(
        &mut self,
        option: &str,
        default: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.raw(option, default);
        let Value::String(s) = &value else {
            self.fail(option, value, "must be a string");
            return None;
        };
        match parse(s) {
            Ok(v) => Some(v),
            Err(reason) => {
                self.fail(option, value, reason);
                None
            }
        }
    }

    fn integer<T>(
        &mut self,
        option: &str,
        default: i64,
        parse: impl FnOnce(i64) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.raw(option, default);
        let Some(n) = value.as_i64() else {
            self.fail(option, value, "must be an integer");
            return None;
        };
        match parse(n) {
            Ok(v) => Some(v),
            Err(reason) => {
                self.fail(option, value, reason);
                None
            }
        }
    }

    fn boolean(&mut self, option: &str, default: bool) -> Option<bool> {
        let value = self.raw(option, default);
        match value.as_bool() {
            Some(b) => Some(b),
            None => {
                self.fail(option, value, "must be a boolean");
                None
            }
        }
    }
}

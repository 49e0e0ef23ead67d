//! Command-line / environment configuration of the poller and its validation.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::labels::{parse_label_list, LabelError};
use crate::redact::InventoryUrl;

/// Default place of the file_sd output inside the Prometheus container.
pub const DEFAULT_OUTPUT: &str = "/etc/prometheus/file_sd/inventory.json";

/// Flags of the `poll` subcommand; every flag can also come from an `INVENTORY_SD_*` variable.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// URL answering the inventory (a JSON array of hosts, or http_sd target groups).
    /// Only `http://` is supported: TLS is not built into this binary. A URL given here is
    /// visible in the process list: prefer `--inventory-url-file` when it holds credentials.
    #[arg(
        long,
        env = "INVENTORY_SD_INVENTORY_URL",
        hide_env_values = true,
        required_unless_present = "inventory_url_file",
        conflicts_with = "inventory_url_file"
    )]
    pub inventory_url: Option<SecretString>,

    /// File holding the inventory URL (surrounding whitespace ignored), so that credentials
    /// stay out of the command line and the environment. Read once at start.
    #[arg(long, env = "INVENTORY_SD_INVENTORY_URL_FILE")]
    pub inventory_url_file: Option<PathBuf>,

    /// Time between the starts of two polls (e.g. `30s`, `1m`).
    #[arg(long, env = "INVENTORY_SD_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub interval: Duration,

    /// Timeout of one HTTP request, body included; must be shorter than the interval.
    #[arg(long, env = "INVENTORY_SD_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Port appended to inventory entries that carry none.
    #[arg(long, env = "INVENTORY_SD_TARGET_PORT", default_value_t = 9100)]
    pub target_port: u16,

    /// Extra labels for every target group, `k=v,k2=v2` (names starting with `__` are refused).
    #[arg(long, env = "INVENTORY_SD_LABELS", default_value = "")]
    pub labels: String,

    /// The file_sd JSON file to write (replaced atomically).
    #[arg(long, env = "INVENTORY_SD_OUTPUT", default_value = DEFAULT_OUTPUT)]
    pub output: PathBuf,

    /// Address of the HTTP server for `/metrics`, `/health` and `POST /refresh`.
    #[arg(long, env = "INVENTORY_SD_LISTEN", default_value = "127.0.0.1:9099")]
    pub listen: SocketAddr,

    /// A poll answering more distinct targets than this fails (the last good file stays).
    #[arg(long, env = "INVENTORY_SD_MAX_TARGETS", default_value_t = 100_000)]
    pub max_targets: usize,

    /// A poll whose body is larger than this many bytes fails (the last good file stays).
    #[arg(long, env = "INVENTORY_SD_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: u64,

    /// HTTP attempts per poll (retries on connection errors, timeouts, 429 and 5xx).
    #[arg(long, env = "INVENTORY_SD_ATTEMPTS", default_value_t = 3)]
    pub attempts: u32,

    /// Base of the exponential backoff (full jitter) between attempts.
    #[arg(long, env = "INVENTORY_SD_RETRY_BACKOFF", default_value = "200ms", value_parser = parse_duration)]
    pub retry_backoff: Duration,

    /// `/health` answers 503 once the last success is older than this and a poll failed
    /// (default: max(3 x interval, 2m)).
    #[arg(long, env = "INVENTORY_SD_STALE_AFTER", value_parser = parse_duration)]
    pub stale_after: Option<Duration>,

    /// Poll once, write the file if it changed, print the number of targets and exit.
    #[arg(long, env = "INVENTORY_SD_ONCE")]
    pub once: bool,
}

/// Longest duration a timing flag takes (`--interval`, `--timeout`, `--retry-backoff`,
/// `--stale-after`): a year, so that no arithmetic on them can overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parses a timing flag as humantime writes it (`30s`, `1m 30s`, `1500ms`, `1ns`), exact to the
/// nanosecond, at most [`MAX_DURATION`]. The charm validates its options with this function and
/// renders them with [`format_duration`], so it accepts nothing the poller refuses.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| e.to_string())?;
    check_duration(d)?;
    Ok(d)
}

/// The bound of [`parse_duration`].
pub fn check_duration(d: Duration) -> Result<(), String> {
    if d > MAX_DURATION {
        return Err(format!(
            "{} is longer than the {} allowed",
            format_duration(d),
            humantime::format_duration(MAX_DURATION)
        ));
    }
    Ok(())
}

/// Formats a duration in one unit (`s`, `ms`, `us` or `ns`, the coarsest that is exact) so that
/// [`parse_duration`] reads back exactly the same duration.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    match nanos {
        n if n % 1_000_000_000 == 0 => format!("{}s", n / 1_000_000_000),
        n if n % 1_000_000 == 0 => format!("{}ms", n / 1_000_000),
        n if n % 1_000 == 0 => format!("{}us", n / 1_000),
        n => format!("{n}ns"),
    }
}

/// The relation the poller requires between its interval and timeout: both above zero, the
/// timeout strictly shorter (compared exactly, to the nanosecond).
pub fn check_timing(interval: Duration, timeout: Duration) -> Result<(), String> {
    if interval.is_zero() {
        return Err("--interval must be > 0".into());
    }
    if timeout.is_zero() || timeout >= interval {
        return Err(format!(
            "--timeout ({}) must be > 0 and shorter than --interval ({})",
            format_duration(timeout),
            format_duration(interval)
        ));
    }
    Ok(())
}

/// A string whose `Debug` never shows its content (it may hold credentials).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(pub String);

impl std::str::FromStr for SecretString {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(..)")
    }
}

/// Retry policy inside one poll cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total HTTP attempts (at least 1).
    pub attempts: u32,
    /// Backoff base: attempt n waits a random time in `[0, base * 2^(n-1)]`.
    pub base: Duration,
}

/// Validated configuration of the poller.
#[derive(Debug, Clone)]
pub struct PollerConfig {
    /// The inventory URL (credentials redacted in `Display`/`Debug`).
    pub inventory_url: InventoryUrl,
    /// Time between the starts of two polls.
    pub interval: Duration,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
    /// Port appended to bare host names.
    pub target_port: u16,
    /// Extra labels added to every target group.
    pub labels: BTreeMap<String, String>,
    /// The file_sd output file.
    pub output: PathBuf,
    /// Address of the metrics/health server.
    pub listen: SocketAddr,
    /// Maximum number of distinct targets.
    pub max_targets: usize,
    /// Maximum size of the inventory body in bytes.
    pub max_body_bytes: u64,
    /// Retry policy inside one cycle.
    pub retry: RetryPolicy,
    /// Age of the last success after which `/health` fails (once a poll has failed).
    pub stale_after: Duration,
    /// Poll once and exit.
    pub once: bool,
}

/// Reasons a configuration is refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The URL does not parse or has an unsupported scheme.
    #[error("invalid --inventory-url {url}: {reason}")]
    Url {
        /// The redacted URL.
        url: String,
        /// Why it is refused.
        reason: String,
    },
    /// `--inventory-url-file` could not be read or holds no URL.
    #[error("cannot read the inventory URL from --inventory-url-file {path}: {reason}")]
    UrlFile {
        /// The file.
        path: String,
        /// Why (never the file's content).
        reason: String,
    },
    /// Neither `--inventory-url` nor `--inventory-url-file` was given.
    #[error("one of --inventory-url or --inventory-url-file is required")]
    NoUrl,
    /// `https://` was asked but the binary has no TLS.
    #[error(
        "--inventory-url {url} uses https, but TLS is not built into this binary: \
         use an http:// URL (e.g. through a local proxy or a sidecar that terminates TLS)"
    )]
    TlsNotBuiltIn {
        /// The redacted URL.
        url: String,
    },
    /// Bad `--labels`.
    #[error("invalid --labels: {0}")]
    Labels(#[from] LabelError),
    /// Timing values do not fit together.
    #[error("invalid timing: {0}")]
    Timing(String),
    /// Another value is out of range.
    #[error("invalid {flag}: {reason}")]
    Value {
        /// The flag.
        flag: &'static str,
        /// Why it is refused.
        reason: String,
    },
}

impl PollerConfig {
    /// Validates command-line arguments into a configuration.
    pub fn from_args(args: &Args) -> Result<Self, ConfigError> {
        let inventory_url = InventoryUrl::parse(&args.url()?.0)?;
        let labels = parse_label_list(&args.labels)?;
        let stale_after = args
            .stale_after
            .unwrap_or_else(|| default_stale_after(args.interval));
        let config = Self {
            inventory_url,
            interval: args.interval,
            timeout: args.timeout,
            target_port: args.target_port,
            labels,
            output: args.output.clone(),
            listen: args.listen,
            max_targets: args.max_targets,
            max_body_bytes: args.max_body_bytes,
            retry: RetryPolicy {
                attempts: args.attempts,
                base: args.retry_backoff,
            },
            stale_after,
            once: args.once,
        };
        config.validate()?;
        Ok(config)
    }

    /// A configuration with the documented defaults for `url` and `output` (handy in tests).
    pub fn new(url: &str, output: impl Into<PathBuf>) -> Result<Self, ConfigError> {
        let interval = Duration::from_secs(30);
        let config = Self {
            inventory_url: InventoryUrl::parse(url)?,
            interval,
            timeout: Duration::from_secs(10),
            target_port: 9100,
            labels: BTreeMap::new(),
            output: output.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 9099)),
            max_targets: 100_000,
            max_body_bytes: 16 * 1024 * 1024,
            retry: RetryPolicy {
                attempts: 3,
                base: Duration::from_millis(200),
            },
            stale_after: default_stale_after(interval),
            once: false,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks the relations between values (e.g. timeout < interval).
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_timing(self.interval, self.timeout).map_err(ConfigError::Timing)?;
        for (flag, d) in [
            ("--interval", self.interval),
            ("--timeout", self.timeout),
            ("--retry-backoff", self.retry.base),
            ("--stale-after", self.stale_after),
        ] {
            check_duration(d).map_err(|reason| ConfigError::Value { flag, reason })?;
        }
        if self.retry.attempts == 0 {
            return Err(ConfigError::Value {
                flag: "--attempts",
                reason: "must be at least 1".into(),
            });
        }
        if self.max_targets == 0 {
            return Err(ConfigError::Value {
                flag: "--max-targets",
                reason: "must be at least 1".into(),
            });
        }
        if self.max_body_bytes < 2 {
            return Err(ConfigError::Value {
                flag: "--max-body-bytes",
                reason: "must be at least 2".into(),
            });
        }
        if self.target_port == 0 {
            return Err(ConfigError::Value {
                flag: "--target-port",
                reason: "must be 1-65535".into(),
            });
        }
        if self.output.file_name().is_none() {
            return Err(ConfigError::Value {
                flag: "--output",
                reason: format!("{} has no file name", self.output.display()),
            });
        }
        Ok(())
    }
}

impl Args {
    /// The inventory URL, from the flag or read from `--inventory-url-file`.
    pub fn url(&self) -> Result<SecretString, ConfigError> {
        match (&self.inventory_url, &self.inventory_url_file) {
            (Some(url), _) => Ok(url.clone()),
            (None, Some(path)) => read_url_file(path),
            (None, None) => Err(ConfigError::NoUrl),
        }
    }
}

/// Reads a URL file: the whole content, trimmed. An error never quotes the content.
pub fn read_url_file(path: &std::path::Path) -> Result<SecretString, ConfigError> {
    let fail = |reason: String| ConfigError::UrlFile {
        path: path.display().to_string(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| fail("not UTF-8".into()))?;
    let url = text.trim();
    if url.is_empty() {
        return Err(fail("the file is empty".into()));
    }
    if url.contains(['\n', '\r']) {
        return Err(fail("the file holds more than one line".into()));
    }
    Ok(SecretString(url.to_owned()))
}

/// `max(3 x interval, 2 minutes)`, at most [`MAX_DURATION`]: a derived default must never be
/// refused when the interval it derives from is accepted.
pub fn default_stale_after(interval: Duration) -> Duration {
    interval
        .saturating_mul(3)
        .max(Duration::from_secs(120))
        .min(MAX_DURATION)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Result<PollerConfig, ConfigError> {
        let mut full = vec!["poll"];
        full.extend_from_slice(argv);
        let cli = Cli::try_parse_from(full).expect("clap parses");
        PollerConfig::from_args(&cli.args)
    }

    #[test]
    fn defaults() {
        let c = parse(&["--inventory-url", "http://inv:1337/inventory"]).unwrap();
        assert_eq!(c.interval, Duration::from_secs(30));
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!(c.target_port, 9100);
        assert_eq!(c.listen.to_string(), "127.0.0.1:9099");
        assert_eq!(c.max_targets, 100_000);
        assert_eq!(c.max_body_bytes, 16 * 1024 * 1024);
        assert_eq!(c.output, PathBuf::from(DEFAULT_OUTPUT));
        assert_eq!(c.stale_after, Duration::from_secs(120));
        assert!(c.labels.is_empty());
        assert!(!c.once);
    }

    #[test]
    fn equals_form_used_in_the_pebble_command() {
        let c = parse(&[
            "--inventory-url=http://inv:1337/inventory",
            "--interval=1500ms",
            "--timeout=1s",
            "--target-port=9101",
            "--output=/etc/prometheus/file_sd/inventory.json",
            "--listen=127.0.0.1:9099",
            "--labels=env=prod,site=a",
        ])
        .unwrap();
        assert_eq!(c.interval, Duration::from_millis(1500));
        assert_eq!(c.timeout, Duration::from_secs(1));
        assert_eq!(c.target_port, 9101);
        assert_eq!(c.labels.len(), 2);
        assert_eq!(c.labels["site"], "a");
    }

    #[test]
    fn the_default_stale_after_of_a_long_interval_stays_within_the_bound() {
        // 122 days: three intervals would be over a year.
        let interval = Duration::from_secs(122 * 24 * 3600);
        assert_eq!(default_stale_after(interval), MAX_DURATION);
        assert!(check_duration(default_stale_after(MAX_DURATION)).is_ok());
    }

    #[test]
    fn stale_after_scales_with_interval() {
        let c = parse(&["--inventory-url", "http://i/", "--interval", "5m"]).unwrap();
        assert_eq!(c.stale_after, Duration::from_secs(900));
    }

    #[test]
    fn timeout_must_be_below_interval() {
        let e = parse(&[
            "--inventory-url",
            "http://i/",
            "--interval",
            "10s",
            "--timeout",
            "10s",
        ])
        .unwrap_err();
        assert!(matches!(e, ConfigError::Timing(_)), "{e}");
    }

    #[test]
    fn https_is_refused_with_a_clear_message_and_no_credentials() {
        let e = parse(&["--inventory-url", "https://bob:hunter2@inv/x"]).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("TLS is not built into this binary"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
        assert!(!msg.contains("bob"), "{msg}");
    }

    #[test]
    fn labels_are_parsed_and_reserved_names_refused() {
        let c = parse(&[
            "--inventory-url",
            "http://i/",
            "--labels",
            "env=prod,team=a",
        ])
        .unwrap();
        assert_eq!(c.labels.get("env").map(String::as_str), Some("prod"));
        assert_eq!(c.labels.len(), 2);
        let e = parse(&[
            "--inventory-url",
            "http://i/",
            "--labels",
            "__metrics_path__=/m",
        ])
        .unwrap_err();
        assert!(matches!(e, ConfigError::Labels(_)), "{e}");
    }

    #[test]
    fn debug_hides_credentials() {
        let cli = Cli::try_parse_from(["poll", "--inventory-url", "http://u:secretpw@h/"]).unwrap();
        let c = PollerConfig::from_args(&cli.args).unwrap();
        let dbg = format!("{c:?} {:?}", cli.args.inventory_url);
        assert!(!dbg.contains("secretpw"), "{dbg}");
    }
    #[test]
    fn the_url_can_come_from_a_file_and_errors_never_quote_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("inventory-url");
        std::fs::write(&file, "http://ops:s3cret@inv:1337/hosts\n").unwrap();
        let flag = format!("--inventory-url-file={}", file.display());
        let c = parse(&[&flag]).unwrap();
        assert_eq!(
            c.inventory_url.expose().as_str(),
            "http://ops:s3cret@inv:1337/hosts"
        );

        std::fs::write(&file, "http://a/\nhttp://b/").unwrap();
        let e = parse(&[&flag]).unwrap_err().to_string();
        assert!(e.contains("more than one line"), "{e}");
        std::fs::write(&file, "  \n").unwrap();
        let e = parse(&[&flag]).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        std::fs::write(&file, "https://ops:s3cret@inv/x").unwrap();
        let e = parse(&[&flag]).unwrap_err().to_string();
        assert!(!e.contains("s3cret"), "{e}");
        let missing = format!("--inventory-url-file={}", dir.path().join("nope").display());
        let e = parse(&[&missing]).unwrap_err();
        assert!(matches!(e, ConfigError::UrlFile { .. }), "{e}");
    }

    #[test]
    fn exactly_one_source_of_the_url() {
        assert!(Cli::try_parse_from(["poll"]).is_err());
        assert!(Cli::try_parse_from([
            "poll",
            "--inventory-url=http://i/",
            "--inventory-url-file=/x"
        ])
        .is_err());
    }

    #[test]
    fn durations_are_exact_and_bounded() {
        let base = ["--inventory-url=http://i/"];
        let with = |extra: &[&str]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            parse(&v)
        };
        let c = with(&["--interval=1s 1ns", "--timeout=1s"]).unwrap();
        assert_eq!(c.interval, Duration::new(1, 1));
        assert!(with(&["--interval=1s", "--timeout=1s"]).is_err());
        let c = with(&["--interval=1s", "--timeout=500us"]).unwrap();
        assert_eq!(c.timeout, Duration::from_micros(500));
        assert_eq!(
            with(&["--timeout=1ns"]).unwrap().timeout,
            Duration::from_nanos(1)
        );
        // Too long for the bound (and for the arithmetic on it): refused, not a panic.
        let cli = Cli::try_parse_from([
            "poll",
            "--inventory-url=http://i/",
            "--interval=7000000000000000000s",
        ]);
        assert!(cli.is_err());
        assert!(parse_duration("366d").is_err());
        assert_eq!(parse_duration("365d").unwrap(), MAX_DURATION);
        for d in [
            Duration::from_nanos(1),
            Duration::from_micros(500),
            Duration::from_millis(1500),
            Duration::new(1, 1),
            Duration::from_secs(30),
            MAX_DURATION,
        ] {
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d, "{d:?}");
        }
    }
}

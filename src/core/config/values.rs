//! Parsers for the option value types that are not durations: each returns the typed value or
//! the reason (the `reason` part of a [`super::ConfigError`]) it is rejected.

use std::collections::BTreeMap;
use std::fmt;

use reqwest::Url;

use crate::core::quantity::Quantity;

/// Prometheus' `--log.level` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `debug`
    Debug,
    /// `info`
    Info,
    /// `warn`
    Warn,
    /// `error`
    Error,
}

impl LogLevel {
    /// Case-insensitive parse (surrounding blanks ignored).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "debug" => Ok(Self::Debug),
            "info" => Ok(Self::Info),
            "warn" => Ok(Self::Warn),
            "error" => Ok(Self::Error),
            _ => Err("must be one of debug, info, warn, error".into()),
        }
    }

    /// The flag value, lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The units of a retention size and their powers of two; `B` is tried last, since every other
/// unit ends with it.
const SIZE_UNITS: [(&str, u32); 7] = [
    ("KB", 10),
    ("MB", 20),
    ("GB", 30),
    ("TB", 40),
    ("PB", 50),
    ("EB", 60),
    ("B", 0),
];

/// A `--storage.tsdb.retention.size` value such as `50GB` (units are powers of 1024).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionSize {
    text: String,
    bytes: u64,
}

impl RetentionSize {
    /// Parses `<n><unit>`; the size must be positive and fit Prometheus' `int64` byte count.
    pub fn parse(text: &str) -> Result<Self, String> {
        const REASON: &str =
            "must be a whole number with a unit B, KB, MB, GB, TB, PB or EB, e.g. 50GB";
        // `^([0-9]+)(B|KB|MB|GB|TB|PB|EB)$`, scanned (no regex to compile every hook).
        let (number, shift) = SIZE_UNITS
            .iter()
            .find_map(|&(unit, shift)| Some((text.strip_suffix(unit)?, shift)))
            .filter(|(number, _)| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
            .ok_or(REASON)?;
        let n: u64 = number.parse().map_err(|_| "is too large")?;
        if n == 0 {
            return Err("must be greater than zero (leave empty for no size limit)".into());
        }
        let bytes = n
            .checked_mul(1u64 << shift)
            .filter(|b| *b <= i64::MAX as u64)
            .ok_or("is too large")?;
        Ok(Self {
            text: text.to_owned(),
            bytes,
        })
    }

    /// `percent` of a volume `capacity` (a Kubernetes quantity) as a size in whole MB (1024²
    /// bytes), `None` when the capacity is not a quantity or the share is under 1 MB.
    pub fn percent_of(capacity: &str, percent: u8) -> Option<Self> {
        let bytes = Quantity::parse(capacity).ok()?.millis() / 1000;
        let mb = bytes * u128::from(percent) / 100 / (1 << 20);
        (mb > 0)
            .then(|| Self::parse(&format!("{mb}MB")).ok())
            .flatten()
    }

    /// The text as written (what the flag gets).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Size in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// Checks an inventory URL: absolute, http, with a host.
///
/// `https` is refused with its own reason: the embedded poller is built without TLS, so it
/// would only fail at start-up, out of sight of `juju status`.
pub fn parse_inventory_url(text: &str) -> Result<Url, String> {
    if text.trim() != text || text.chars().any(char::is_control) {
        return Err("must not contain blanks or control characters".into());
    }
    let url = Url::parse(text).map_err(|e| format!("is not a valid URL ({e})"))?;
    match url.scheme() {
        "http" => {}
        "https" => {
            return Err(
                "https is not supported: the inventory poller is built without TLS; use http"
                    .into(),
            )
        }
        _ => return Err("scheme must be http or https".into()),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    Ok(url)
}

/// `web_external_url`: an absolute http(s) URL with a host and no query, user info or
/// fragment, returned without its trailing `/` (how Prometheus and the published URLs use it).
pub fn parse_external_url(text: &str) -> Result<String, String> {
    if text.trim() != text || text.chars().any(char::is_control) {
        return Err("must not contain blanks or control characters".into());
    }
    let url = Url::parse(text).map_err(|e| format!("is not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("scheme must be http or https".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err("must not have a query, a fragment or user info".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `text` with any password in a URL's user info replaced by `***`, for messages.
pub fn redact_url_password(text: &str) -> String {
    match Url::parse(text) {
        Ok(mut url) if url.password().is_some() => {
            // Only fails for URLs that cannot have credentials, which this one has.
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => text.to_owned(),
    }
}

/// Checks a scrape metrics path: absolute, no whitespace, control characters, query or
/// fragment (Prometheus takes those from `params`, not the path).
pub fn parse_metrics_path(text: &str) -> Result<String, String> {
    if !text.starts_with('/') {
        return Err("must start with \"/\"".into());
    }
    if text
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
    {
        return Err("must not contain whitespace, control characters, \"?\" or \"#\"".into());
    }
    Ok(text.to_owned())
}

/// Checks a scrape job name: non-empty, letters, digits and `_ : . -`.
pub fn parse_job_name(text: &str) -> Result<String, String> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.' | b'-');
    if text.is_empty() || !text.bytes().all(allowed) {
        return Err("must be non-empty and use only letters, digits and _ : . -".into());
    }
    Ok(text.to_owned())
}

/// `^[a-zA-Z_][a-zA-Z0-9_]*$`: a Prometheus label name.
fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Parses `name=value,name2=value2` (blanks around names and values are trimmed; empty string
/// means no labels). Names must be valid Prometheus label names not starting with `__`
/// (reserved for internal labels); values must be non-empty and free of control characters;
/// a name may appear once.
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    if text.trim().is_empty() {
        return Ok(labels);
    }
    for pair in text.split(',') {
        let pair = pair.trim();
        let Some((name, value)) = pair.split_once('=') else {
            return Err(format!(
                "{pair:?} is not name=value (use comma-separated name=value pairs)"
            ));
        };
        let (name, value) = (name.trim(), value.trim());
        if !is_label_name(name) {
            return Err(format!(
                "label name {name:?} must match [a-zA-Z_][a-zA-Z0-9_]*"
            ));
        }
        if name.starts_with("__") {
            return Err(format!(
                "label name {name:?} must not start with \"__\" (reserved)"
            ));
        }
        if value.is_empty() {
            return Err(format!("label {name:?} has an empty value"));
        }
        if value.chars().any(char::is_control) {
            return Err(format!(
                "label {name:?} has control characters in its value"
            ));
        }
        // The poller's own rules (reserved `job`/`instance`, sizes), so that what passes here
        // also passes `--labels`, and the command line stays far below the kernel's limit.
        inventory_sd::labels::check_label(name, value).map_err(|e| e.to_string())?;
        if labels.insert(name.to_owned(), value.to_owned()).is_some() {
            return Err(format!("label {name:?} is given more than once"));
        }
        if labels.len() > inventory_sd::labels::MAX_LABELS {
            return Err(format!(
                "more than {} labels",
                inventory_sd::labels::MAX_LABELS
            ));
        }
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The scans accept exactly what the regexes they replace match.
        #[test]
        fn the_scans_agree_with_the_regexes(text in "[0-9a-zA-Z_:. -]{0,6}(B|KB|GB|EB|Bx)?") {
            let size = regex::Regex::new(r"^([0-9]+)(B|KB|MB|GB|TB|PB|EB)$").unwrap();
            let job = regex::Regex::new(r"^[a-zA-Z0-9_:.-]+$").unwrap();
            let label = regex::Regex::new(r"^[a-zA-Z_][a-zA-Z0-9_]*$").unwrap();
            let parsed = RetentionSize::parse(&text);
            match size.captures(&text) {
                // Matched, it is refused only for being zero or over Prometheus' int64 bytes.
                Some(caps) => {
                    let n: u128 = caps[1].parse().unwrap();
                    let shift = SIZE_UNITS.iter().find(|(u, _)| *u == &caps[2]).unwrap().1;
                    let fits = n > 0 && n << shift <= i64::MAX as u128;
                    proptest::prop_assert_eq!(parsed.is_ok(), fits, "{:?}: {:?}", text, parsed);
                }
                None => proptest::prop_assert!(parsed.is_err()),
            }
            proptest::prop_assert_eq!(parse_job_name(&text).is_ok(), job.is_match(&text));
            proptest::prop_assert_eq!(is_label_name(&text), label.is_match(&text));
        }
    }

    #[test]
    fn percent_of_capacity_in_megabytes() {
        assert_eq!(
            RetentionSize::percent_of("10Gi", 80).unwrap().as_str(),
            "8192MB"
        );
        assert_eq!(
            RetentionSize::percent_of("1G", 50).unwrap().as_str(),
            "476MB"
        );
        assert_eq!(RetentionSize::percent_of("1Mi", 50), None);
        assert_eq!(RetentionSize::percent_of("junk", 50), None);
    }

    #[test]
    fn log_level_is_case_insensitive_and_normalised() {
        assert_eq!(LogLevel::parse("WARN").unwrap().as_str(), "warn");
        assert_eq!(LogLevel::parse(" Debug ").unwrap(), LogLevel::Debug);
        assert!(LogLevel::parse("fatal").is_err());
    }

    #[test]
    fn retention_sizes() {
        assert_eq!(RetentionSize::parse("1KB").unwrap().bytes(), 1024);
        assert_eq!(RetentionSize::parse("50GB").unwrap().bytes(), 50 << 30);
        assert_eq!(RetentionSize::parse("7EB").unwrap().bytes(), 7 << 60);
        assert_eq!(RetentionSize::parse("8EB").unwrap_err(), "is too large");
        for bad in ["50", "50 GB", "50gb", "50GiB", "1.5GB", "GB", "-1GB", "80%"] {
            assert!(RetentionSize::parse(bad).is_err(), "{bad}");
        }
        assert!(RetentionSize::parse("0GB")
            .unwrap_err()
            .contains("greater than zero"));
    }

    #[test]
    fn urls() {
        assert!(parse_inventory_url("http://inventory:1337/inventory").is_ok());
        assert!(parse_inventory_url("http://10.0.0.1/").is_ok());
        assert!(parse_inventory_url("https://10.0.0.1/")
            .unwrap_err()
            .starts_with("https is not supported"));
        assert_eq!(
            parse_inventory_url("ftp://x").unwrap_err(),
            "scheme must be http or https"
        );
        assert!(parse_inventory_url("inventory:1337").is_err());
        assert!(parse_inventory_url("not a url").is_err());
        assert!(parse_inventory_url(" http://x/").is_err());
    }

    #[test]
    fn labels() {
        let l = parse_labels(" site = lab ,tier=edge").unwrap();
        assert_eq!(l.get("site").unwrap(), "lab");
        assert_eq!(l.get("tier").unwrap(), "edge");
        assert_eq!(parse_labels("a=b=c").unwrap().get("a").unwrap(), "b=c");
        assert!(parse_labels("").unwrap().is_empty());
        let long_value = format!("a={}", "v".repeat(2000));
        let many = (0..40)
            .map(|i| format!("l{i}=v"))
            .collect::<Vec<_>>()
            .join(",");
        for bad in [
            "site",
            "1x=y",
            "__x=y",
            "a=",
            "a=b,a=c",
            "a=b,,c=d",
            "a-b=c",
            "job=prometheus",
            "instance=x",
            &long_value,
            &many,
        ] {
            assert!(parse_labels(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn job_names_and_paths() {
        assert!(parse_job_name("inventory:sensors.v1-a_b").is_ok());
        assert!(parse_job_name("").is_err());
        assert!(parse_job_name("a b").is_err());
        assert!(parse_metrics_path("/metrics").is_ok());
        assert!(parse_metrics_path("metrics").is_err());
        assert!(parse_metrics_path("/m?x=1").is_err());
    }
}

//! The Prometheus version running in the workload, which decides version-dependent config keys.

use std::fmt;
use std::str::FromStr;

/// A Prometheus release number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PrometheusVersion {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
}

/// The text holds no `X.Y.Z` version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no Prometheus version (X.Y.Z) found in {0:?}")]
pub struct VersionParseError(pub String);

impl PrometheusVersion {
    /// Assumed when the version cannot be detected: 3.0.0.
    ///
    /// The production workload image (the `ubuntu/prometheus` rock) ships Prometheus 3.x, so an
    /// unknown version is most likely 3.x. Guessing wrong is also asymmetric: a 3.x server given a
    /// 2.x-style config silently fails scrapes of targets that send no valid Content-Type (no
    /// `fallback_scrape_protocol`), while a 2.x server given a 3.x-style config rejects it loudly
    /// (`promtool check config` fails before any reload), which is visible and recoverable.
    pub const ASSUMED: Self = Self::new(3, 0, 0);

    /// Builds a version.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// Parses `prometheus --version` output (`prometheus, version 2.42.0+ds (branch: ...`) or a
    /// bare `3.5.0`: the first `X.Y.Z` after `version`, else the first `X.Y.Z` anywhere.
    pub fn parse_version_output(output: &str) -> Result<Self, VersionParseError> {
        let after_keyword = output.find("version").map(|i| &output[i..]);
        after_keyword
            .and_then(Self::first_triple)
            .or_else(|| Self::first_triple(output))
            .ok_or_else(|| VersionParseError(output.chars().take(80).collect()))
    }

    /// The detected version, or [`Self::ASSUMED`] when unknown or unparsable.
    pub fn detected_or_assumed(text: Option<&str>) -> Self {
        text.and_then(|t| Self::parse_version_output(t).ok())
            .unwrap_or(Self::ASSUMED)
    }

    /// The leftmost `X.Y.Z` of ASCII digits (what the regex `([0-9]+)\.([0-9]+)\.([0-9]+)` finds
    /// first), `None` when there is none or its numbers overflow. A scan, not a regex: every hook
    /// reads the version, and compiling that regex was 0.8 M of the 11.6 M instructions of a
    /// hook that moves one target.
    fn first_triple(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let digits_at = |i: usize| {
            bytes.get(i..).map_or(0, |rest| {
                rest.iter().take_while(|b| b.is_ascii_digit()).count()
            })
        };
        let mut start = 0;
        while start < bytes.len() {
            let first = digits_at(start);
            if first == 0 {
                start += 1;
                continue;
            }
            // Digits, a dot, digits, a dot, digits; a match starting inside this run of
            // digits would fail where this one does.
            let mut numbers = [0..0, 0..0, 0..0];
            let mut at = start;
            let matched = numbers.iter_mut().enumerate().all(|(k, number)| {
                if k > 0 {
                    if bytes.get(at) != Some(&b'.') {
                        return false;
                    }
                    at += 1;
                }
                let len = digits_at(at);
                *number = at..at + len;
                at += len;
                len > 0
            });
            if matched {
                let [major, minor, patch] = numbers.map(|n| text[n].parse::<u32>().ok());
                return Some(Self::new(major?, minor?, patch?));
            }
            start += first;
        }
        None
    }

    /// Whether scrape configs may carry `fallback_scrape_protocol` (Prometheus ≥ 3.0; 2.x
    /// rejects the key as unknown).
    pub fn supports_fallback_scrape_protocol(self) -> bool {
        self.major >= 3
    }

    /// Whether prometheus.yml may list further files of scrape configs in
    /// `scrape_config_files` (Prometheus ≥ 2.43; Debian's 2.42 rejects the key).
    pub fn supports_scrape_config_files(self) -> bool {
        (self.major, self.minor) >= (2, 43)
    }
}

impl Default for PrometheusVersion {
    /// [`Self::ASSUMED`].
    fn default() -> Self {
        Self::ASSUMED
    }
}

impl FromStr for PrometheusVersion {
    type Err = VersionParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_version_output(s)
    }
}

impl fmt::Display for PrometheusVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// As its `X.Y.Z` text.
impl serde::Serialize for PrometheusVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// From its `X.Y.Z` text.
impl<'de> serde::Deserialize<'de> for PrometheusVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN_OUTPUT: &str = "prometheus, version 2.42.0+ds (branch: debian/sid, revision: 2.42.0+ds-5)\n  build user:       team+pkg-go@tracker.debian.org\n  build date:       20230318-08:26:44\n  go version:       go1.19.6\n  platform:         linux/amd64\n";

    #[test]
    fn parses_debian_version_output() {
        let v = PrometheusVersion::parse_version_output(DEBIAN_OUTPUT).unwrap();
        assert_eq!(v, PrometheusVersion::new(2, 42, 0));
        assert!(!v.supports_fallback_scrape_protocol());
    }

    #[test]
    fn parses_bare_and_3x() {
        let v: PrometheusVersion = "3.5.0".parse().unwrap();
        assert_eq!(v.to_string(), "3.5.0");
        assert!(v.supports_fallback_scrape_protocol());
        let v = PrometheusVersion::parse_version_output(
            "prometheus, version 3.5.0 (branch: HEAD, revision: 8be3a9560fbdd18a94dedec4b747c35178177202)",
        )
        .unwrap();
        assert_eq!(v, PrometheusVersion::new(3, 5, 0));
    }

    #[test]
    fn only_ascii_digits_make_a_version() {
        // Other scripts' digits are not a release number: the ASCII triple after them is.
        let v = PrometheusVersion::parse_version_output("prometheus, version ٣.١٤.٠ (2.42.0)");
        assert_eq!(v.unwrap(), PrometheusVersion::new(2, 42, 0));
        assert!(PrometheusVersion::parse_version_output("version ٣.١٤.٠").is_err());
    }

    proptest::proptest! {
        /// The scan finds what the regex it replaces finds first.
        #[test]
        fn the_scan_finds_the_regex_s_first_triple(text in "[0-9a-z. ٣+-]{0,24}") {
            let re = regex::Regex::new(r"([0-9]+)\.([0-9]+)\.([0-9]+)").unwrap();
            let expected = re.captures(&text).and_then(|caps| {
                Some(PrometheusVersion::new(
                    caps[1].parse().ok()?,
                    caps[2].parse().ok()?,
                    caps[3].parse().ok()?,
                ))
            });
            proptest::prop_assert_eq!(PrometheusVersion::first_triple(&text), expected);
        }
    }

    #[test]
    fn the_first_triple_is_leftmost_and_whole() {
        for (text, expected) in [
            ("x11.2.3", Some((11, 2, 3))),
            ("1.2x3.4.5", Some((3, 4, 5))),
            ("1..2.3.4", Some((2, 3, 4))),
            ("1.2.3.4", Some((1, 2, 3))),
            ("1.2.", None),
            ("99999999999.1.1 2.0.0", None),
            ("", None),
        ] {
            let expected = expected.map(|(a, b, c)| PrometheusVersion::new(a, b, c));
            assert_eq!(PrometheusVersion::first_triple(text), expected, "{text:?}");
        }
    }

    #[test]
    fn unknown_means_assumed_3x() {
        assert!(PrometheusVersion::parse_version_output("garbage").is_err());
        assert_eq!(
            PrometheusVersion::detected_or_assumed(Some("garbage")),
            PrometheusVersion::ASSUMED
        );
        assert_eq!(
            PrometheusVersion::detected_or_assumed(None),
            PrometheusVersion::new(3, 0, 0)
        );
        assert!(PrometheusVersion::default().supports_fallback_scrape_protocol());
    }

    #[test]
    fn parses_the_installed_binary() {
        // Debian's Prometheus 2.x, installed on build machines for promtool.
        let out = std::process::Command::new("/usr/bin/prometheus")
            .arg("--version")
            .output()
            .expect("/usr/bin/prometheus is installed");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let v = PrometheusVersion::parse_version_output(&text).unwrap();
        assert_eq!(v.major, 2);
    }
}

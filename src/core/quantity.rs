//! Kubernetes resource quantities (`500m`, `2`, `1.5Gi`, `1e3`), parsed to compare values the
//! API server may have normalised (`1000m` comes back as `1`).

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

static QUANTITY_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][0-9]+)?$")
        .expect("static regex")
});

/// A positive quantity: the text as given and its value in thousandths (rounded up, like the
/// API server rounds to `1m`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    text: String,
    millis: u128,
}

impl Quantity {
    /// Parses a quantity; the reason it is rejected otherwise (for a config error).
    pub fn parse(text: &str) -> Result<Self, String> {
        const REASON: &str = "must be a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi";
        let caps = QUANTITY_RE.captures(text).ok_or(REASON)?;
        let (int, frac) = caps[1].split_once('.').unwrap_or((&caps[1], ""));
        let digits = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 24 {
            return Err("is too large".into());
        }
        let mantissa: u128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| REASON)?
        };
        let milli_per_unit: u128 = match caps.get(2).map_or("", |m| m.as_str()) {
            "" => 1000,
            "m" => 1,
            "k" => 1000u128.pow(2),
            "M" => 1000u128.pow(3),
            "G" => 1000u128.pow(4),
            "T" => 1000u128.pow(5),
            "P" => 1000u128.pow(6),
            "E" => 1000u128.pow(7),
            "Ki" => 1000 << 10,
            "Mi" => 1000 << 20,
            "Gi" => 1000 << 30,
            "Ti" => 1000 << 40,
            "Pi" => 1000 << 50,
            "Ei" => 1000 << 60,
            exp => {
                let e: u32 = exp[1..].parse().map_err(|_| REASON)?;
                10u128
                    .checked_pow(e)
                    .and_then(|p| p.checked_mul(1000))
                    .ok_or("is too large")?
            }
        };
        let scale = 10u128.pow(u32::try_from(frac.len()).map_err(|_| REASON)?.min(38));
        let millis = mantissa
            .checked_mul(milli_per_unit)
            .ok_or("is too large")?
            .div_ceil(scale);
        if millis == 0 {
            return Err("must be greater than zero (leave empty for no limit)".into());
        }
        Ok(Self {
            text: text.to_owned(),
            millis,
        })
    }

    /// The text as written (what is sent to Kubernetes).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value in thousandths of the unit (millicores, millibytes).
    pub fn millis(&self) -> u128 {
        self.millis
    }

    /// Whether `other` (as Kubernetes shows it) is the same amount.
    pub fn same_as(&self, other: &str) -> bool {
        Quantity::parse(other).is_ok_and(|q| q.millis == self.millis)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let m = |s: &str| Quantity::parse(s).unwrap().millis();
        assert_eq!(m("1"), 1000);
        assert_eq!(m("1000m"), 1000);
        assert_eq!(m("0.5"), 500);
        assert_eq!(m(".5"), 500);
        assert_eq!(m("1.5Gi"), 1000 * 3 * (1 << 29));
        assert_eq!(m("2k"), 2_000_000);
        assert_eq!(m("1e3"), 1_000_000);
        assert_eq!(m("0.0001"), 1, "rounded up to 1m");
        assert!(Quantity::parse("1Gi").unwrap().same_as("1024Mi"));
        assert!(!Quantity::parse("1G").unwrap().same_as("1Gi"));
    }

    #[test]
    fn rejects_invalid() {
        for bad in [
            "", "0", "-1", "1.2.3", "1gi", "1 Gi", "Gi", "1Gb", "0m", "1e99",
        ] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?}");
        }
    }
}

//! Prometheus durations (`1m`, `1h30m`, `15d`) as the config options spell them.

use std::fmt;
use std::time::Duration;

/// Prometheus' own duration grammar (`^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?
/// (([0-9]+)s)?(([0-9]+)ms)?$`): units in the order of their rank, each at most once; with
/// milliseconds per unit (`y` is 365 days, as in Prometheus). `ms` ranks last but is tried
/// before `m`. Scanned rather than matched by a regex: the config is read every hook, and
/// compiling that regex cost more than the rest of reading it.
const UNITS: [(&str, u64, usize); 7] = [
    ("y", 365 * 24 * 3_600_000, 0),
    ("w", 7 * 24 * 3_600_000, 1),
    ("d", 24 * 3_600_000, 2),
    ("h", 3_600_000, 3),
    ("ms", 1, 6),
    ("m", 60_000, 4),
    ("s", 1_000, 5),
];

/// Largest duration Prometheus accepts (it stores durations as `i64` nanoseconds).
const MAX_MILLIS: u64 = (i64::MAX as u64) / 1_000_000;

/// Why a string is not a Prometheus duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationError {
    /// Does not match the grammar.
    Syntax,
    /// Matches, but overflows Prometheus' range.
    OutOfRange,
}

/// A validated Prometheus duration; keeps the text the user wrote so rendered files show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromDuration {
    text: String,
    millis: u64,
}

impl PromDuration {
    /// Parses Prometheus' duration syntax. `allow_bare_zero` admits `0` (valid for retention).
    pub fn parse(text: &str, allow_bare_zero: bool) -> Result<Self, DurationError> {
        if allow_bare_zero && text == "0" {
            return Ok(Self {
                text: text.to_owned(),
                millis: 0,
            });
        }
        if text.is_empty() {
            return Err(DurationError::Syntax);
        }
        // The grammar first, then the arithmetic: a text that is not a duration is a syntax
        // error even when one of its numbers would overflow.
        let mut terms: Vec<(&str, u64)> = Vec::with_capacity(UNITS.len());
        let mut rest = text;
        // The rank the next unit must exceed.
        let mut next_rank = 0;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(DurationError::Syntax);
            }
            let (number, tail) = rest.split_at(digits);
            let &(unit, per_unit, rank) = UNITS
                .iter()
                .find(|(unit, _, _)| tail.starts_with(unit))
                .ok_or(DurationError::Syntax)?;
            if rank < next_rank {
                return Err(DurationError::Syntax);
            }
            next_rank = rank + 1;
            rest = &tail[unit.len()..];
            terms.push((number, per_unit));
        }
        let mut millis: u64 = 0;
        for (number, per_unit) in terms {
            let n: u64 = number.parse().map_err(|_| DurationError::OutOfRange)?;
            millis = n
                .checked_mul(per_unit)
                .and_then(|v| v.checked_add(millis))
                .ok_or(DurationError::OutOfRange)?;
        }
        if millis > MAX_MILLIS {
            return Err(DurationError::OutOfRange);
        }
        Ok(Self {
            text: text.to_owned(),
            millis,
        })
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Length in milliseconds.
    pub fn millis(&self) -> u64 {
        self.millis
    }

    /// Length as a [`Duration`].
    pub fn as_duration(&self) -> Duration {
        Duration::from_millis(self.millis)
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Parses a duration written either as humantime (`30s`, `2m 30s`, `1min`) or as a Prometheus
/// duration (`1m30s`); used by options that only the charm interprets.
pub fn parse_flexible(text: &str) -> Option<Duration> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    PromDuration::parse(trimmed, false)
        .ok()
        .map(|d| d.as_duration())
        .or_else(|| humantime::parse_duration(trimmed).ok())
}

/// Formats a duration exactly, in the simplest form the inventory poller reads back as the same
/// duration: whole seconds as `<n>s`, whole milliseconds as `<n>ms`, anything finer in `us` or
/// `ns` (see [`inventory_sd::config::format_duration`]).
pub fn format_simple(d: Duration) -> String {
    inventory_sd::config::format_duration(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The scan accepts what the grammar's regex accepts, with the same milliseconds.
        #[test]
        fn the_scan_agrees_with_the_grammar_s_regex(text in "([0-9]{1,3}(y|w|d|h|m|s|ms|x)){0,4}|[0-9ywdhms]{0,8}") {
            let re = regex::Regex::new(
                r"^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$",
            )
            .unwrap();
            let per_group = [(2, 365 * 24 * 3_600_000u64), (4, 604_800_000), (6, 86_400_000),
                (8, 3_600_000), (10, 60_000), (12, 1_000), (14, 1)];
            let expected = if text.is_empty() {
                Err(DurationError::Syntax)
            } else {
                match re.captures(&text) {
                    None => Err(DurationError::Syntax),
                    Some(caps) => Ok(per_group
                        .iter()
                        .filter_map(|&(g, unit)| caps.get(g).map(|m| m.as_str().parse::<u64>().unwrap() * unit))
                        .sum::<u64>())
                        .and_then(|millis| if millis > MAX_MILLIS { Err(DurationError::OutOfRange) } else { Ok(millis) }),
                }
            };
            proptest::prop_assert_eq!(PromDuration::parse(&text, false).map(|d| d.millis()), expected);
        }
    }

    #[test]
    fn parses_compound_durations() {
        assert_eq!(
            PromDuration::parse("1h30m", false).unwrap().millis(),
            5_400_000
        );
        assert_eq!(
            PromDuration::parse("1y", false).unwrap().millis(),
            31_536_000_000
        );
        assert_eq!(
            PromDuration::parse("2w1d", false).unwrap().millis(),
            15 * 86_400_000
        );
        assert_eq!(
            PromDuration::parse("1s500ms", false).unwrap().millis(),
            1_500
        );
    }

    #[test]
    fn rejects_bad_syntax_and_order() {
        for bad in ["", "1", "1m1h", "1 m", "m", "1M", "-1s", "1.5s", "0"] {
            assert_eq!(
                PromDuration::parse(bad, false),
                Err(DurationError::Syntax),
                "{bad}"
            );
        }
        assert_eq!(PromDuration::parse("0", true).unwrap().millis(), 0);
        assert_eq!(PromDuration::parse("", true), Err(DurationError::Syntax));
    }

    #[test]
    fn rejects_overflow() {
        assert_eq!(
            PromDuration::parse("300y", false),
            Err(DurationError::OutOfRange)
        );
        assert_eq!(
            PromDuration::parse("99999999999999999999s", false),
            Err(DurationError::OutOfRange)
        );
        assert!(PromDuration::parse("290y", false).is_ok());
    }

    #[test]
    fn flexible_accepts_both_syntaxes() {
        assert_eq!(parse_flexible("2m 30s"), Some(Duration::from_secs(150)));
        assert_eq!(parse_flexible("2m30s"), Some(Duration::from_secs(150)));
        assert_eq!(parse_flexible("1min"), Some(Duration::from_secs(60)));
        assert_eq!(parse_flexible("soon"), None);
        assert_eq!(parse_flexible(""), None);
    }

    #[test]
    fn simple_format() {
        assert_eq!(format_simple(Duration::from_secs(90)), "90s");
        assert_eq!(format_simple(Duration::from_millis(1500)), "1500ms");
        // Never rounded: `1ns` once became `0s`, which the poller refuses.
        assert_eq!(format_simple(Duration::from_nanos(1)), "1ns");
        assert_eq!(format_simple(Duration::from_micros(500)), "500us");
        assert_eq!(format_simple(Duration::new(1, 1)), "1000000001ns");
    }
}

//! Validation errors for config options, worded for `juju status` and the debug log.

use std::fmt;

use serde_json::Value;

/// Longest value (in characters) a message quotes before eliding the rest.
const MAX_QUOTED_CHARS: usize = 60;
/// Longest reason shown: a reason may quote part of the value (a label pair), and a
/// megabyte value must not become a megabyte status.
const MAX_REASON_CHARS: usize = 200;

/// `text` cut to `max` characters, with `…` when something was cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let head: String = text.chars().take(max).collect();
    format!("{head}…")
}

/// One invalid option: its name, the value given and why it is rejected.
///
/// Displays as `<option>=<value as JSON>: <reason>`, e.g.
/// `log_level="verbose": must be one of debug, info, warn, error`. String values longer than
/// 60 characters are shortened with `…` so a message stays one readable line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Option name as in config.yaml.
    pub option: String,
    /// The value as Juju handed it over.
    pub value: Value,
    /// Why it is rejected.
    pub reason: String,
}

impl ConfigError {
    /// Builds an error.
    pub fn new(option: &str, value: Value, reason: impl Into<String>) -> Self {
        Self {
            option: option.to_owned(),
            value,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = match &self.value {
            Value::String(s) => Value::String(shorten(s, MAX_QUOTED_CHARS)).to_string(),
            // Juju types options, but a broken model may hand over anything: keep it short.
            other => shorten(&other.to_string(), MAX_QUOTED_CHARS),
        };
        let reason = shorten(&self.reason, MAX_REASON_CHARS);
        write!(f, "{}={}: {}", self.option, shown, reason)
    }
}

/// Every invalid option of one config, in config.yaml order. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    errors: Vec<ConfigError>,
}

impl ConfigErrors {
    /// Wraps a non-empty list; `None` when there is nothing to report.
    pub fn from_vec(errors: Vec<ConfigError>) -> Option<Self> {
        (!errors.is_empty()).then_some(Self { errors })
    }

    /// The individual errors.
    pub fn errors(&self) -> &[ConfigError] {
        &self.errors
    }

    /// Names of the invalid options, in order.
    pub fn options(&self) -> Vec<&str> {
        self.errors.iter().map(|e| e.option.as_str()).collect()
    }

    /// One line for a Blocked status: the first error, then how many more and which options.
    ///
    /// e.g. `invalid config: log_level="verbose": must be one of debug, info, warn, error
    /// (and 2 more: scrape_timeout, inventory_url)`.
    pub fn status_message(&self) -> String {
        let mut msg = format!("invalid config: {}", self.errors[0]);
        let rest = &self.errors[1..];
        if !rest.is_empty() {
            let names: Vec<&str> = rest.iter().map(|e| e.option.as_str()).collect();
            msg.push_str(&format!(" (and {} more: {})", rest.len(), names.join(", ")));
        }
        // Status messages are single-line; JSON quoting already escapes newlines in values.
        msg.replace('\n', " ")
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

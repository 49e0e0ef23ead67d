//! The inventory URL, which may carry credentials that must never reach a log or a metric.

use std::fmt;

use crate::config::ConfigError;

/// A parsed `http://` inventory URL. `Display` and `Debug` show it with the user info and
/// query values replaced by `***`; only [`InventoryUrl::expose`] gives the real URL.
#[derive(Clone, PartialEq, Eq)]
pub struct InventoryUrl {
    url: reqwest::Url,
    redacted: String,
}

impl InventoryUrl {
    /// Parses and checks an inventory URL (http only: TLS is not built in).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let url = reqwest::Url::parse(text).map_err(|e| ConfigError::Url {
            url: redact_unparsed(text),
            reason: e.to_string(),
        })?;
        let redacted = redact(&url);
        match url.scheme() {
            "http" => {}
            "https" => return Err(ConfigError::TlsNotBuiltIn { url: redacted }),
            other => {
                return Err(ConfigError::Url {
                    url: redacted,
                    reason: format!("scheme `{other}` is not supported (use http://)"),
                })
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ConfigError::Url {
                url: redacted,
                reason: "no host".into(),
            });
        }
        Ok(Self { url, redacted })
    }

    /// The real URL, credentials included: only for making the request.
    pub fn expose(&self) -> &reqwest::Url {
        &self.url
    }

    /// The URL safe to log.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }
}

impl fmt::Display for InventoryUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for InventoryUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InventoryUrl({})", self.redacted)
    }
}

/// The URL with user info and query values replaced by `***`.
pub fn redact(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    if !url.username().is_empty() || url.password().is_some() {
        // Both setters only fail for URLs that cannot have credentials at all.
        let _ = url.set_username("***");
        let _ = url.set_password(None);
    }
    if url.query().is_some() {
        let pairs: Vec<String> = url.query_pairs().map(|(k, _)| format!("{k}=***")).collect();
        url.set_query(Some(&pairs.join("&")));
    }
    url.to_string()
}

/// Best effort for text that is not even a URL: drop everything between `://` and `@`.
fn redact_unparsed(text: &str) -> String {
    let (scheme, rest) = text.split_once("://").unwrap_or(("", text));
    let rest = match rest.rfind('@') {
        Some(at) => format!("***@{}", &rest[at + 1..]),
        None => rest.to_owned(),
    };
    let rest = match rest.split_once('?') {
        Some((path, _)) => format!("{path}?***"),
        None => rest,
    };
    if scheme.is_empty() {
        rest
    } else {
        format!("{scheme}://{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_query_values_are_hidden() {
        let u = InventoryUrl::parse("http://bob:hunter2@inv:1337/inventory?token=abc&x=1").unwrap();
        assert_eq!(
            u.redacted(),
            "http://***@inv:1337/inventory?token=***&x=***"
        );
        assert_eq!(format!("{u} {u:?}").matches("hunter2").count(), 0);
        assert_eq!(u.expose().password(), Some("hunter2"));
    }

    #[test]
    fn plain_url_is_unchanged() {
        let u = InventoryUrl::parse("http://inv:1337/inventory").unwrap();
        assert_eq!(u.redacted(), "http://inv:1337/inventory");
    }

    #[test]
    fn unparsable_url_is_redacted_in_the_error() {
        let e = InventoryUrl::parse("http://bob:pw@[bad/x").unwrap_err();
        assert!(!e.to_string().contains("pw@"), "{e}");
    }

    #[test]
    fn other_schemes_refused() {
        assert!(InventoryUrl::parse("ftp://inv/x").is_err());
        assert!(matches!(
            InventoryUrl::parse("https://inv/x"),
            Err(ConfigError::TlsNotBuiltIn { .. })
        ));
    }
}

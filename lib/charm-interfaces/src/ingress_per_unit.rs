//! `ingress_per_unit` requirer (`ingress`): each unit asks the ingress provider (Traefik) for a
//! route to itself and reads back the URL the provider gives it.
//!
//! Every unit writes its request in its own databag: `model`, `name` (the unit), `host` (its
//! FQDN), `port`, `mode` (`http`), `scheme` (`http`, or `https` when Prometheus serves TLS),
//! `strip-prefix` and `redirect-https` (both `"true"`: the proxy strips the unit's path prefix,
//! so Prometheus keeps serving at `/`). The provider's leader answers in its application
//! databag, key `ingress`: a YAML mapping `<unit name>: {url: <url>}`, one entry per unit it
//! routes. A unit without an entry (or a bag without the key) has no route yet; that is not an
//! error.

use crate::Databag;

/// Provider application databag key holding the per-unit URLs (YAML).
pub const INGRESS_KEY: &str = "ingress";

/// What a unit asks the provider for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressRequest<'a> {
    /// Model name.
    pub model: &'a str,
    /// This unit's name (`app/N`).
    pub unit: &'a str,
    /// The host the provider routes to (this unit's FQDN).
    pub host: &'a str,
    /// The port the provider routes to.
    pub port: u16,
    /// Whether the unit serves TLS (the provider then talks https to it).
    pub https: bool,
}

/// The unit databag the requirer writes, byte for byte as the Python library writes it.
pub fn request_unit_data(req: &IngressRequest<'_>) -> Databag {
    let scheme = if req.https { "https" } else { "http" };
    [
        ("model", req.model.to_owned()),
        ("name", req.unit.to_owned()),
        ("host", req.host.to_owned()),
        ("port", req.port.to_string()),
        ("mode", "http".to_owned()),
        ("scheme", scheme.to_owned()),
        ("strip-prefix", "true".to_owned()),
        ("redirect-https", "true".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The URL the provider published for `unit`, without a trailing `/`.
///
/// `Ok(None)`: no route yet (no `ingress` key, an empty one, or no entry for this unit).
/// `Err`: the provider's data cannot be used; the message says why (and never panics).
pub fn unit_url(app_data: &Databag, unit: &str) -> Result<Option<String>, String> {
    let raw = match app_data.get(INGRESS_KEY) {
        Some(raw) if !raw.trim().is_empty() => raw,
        _ => return Ok(None),
    };
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(raw)
        .map_err(|e| format!("`{INGRESS_KEY}` is not valid YAML: {e}"))?;
    let map = doc
        .as_mapping()
        .ok_or_else(|| format!("`{INGRESS_KEY}` is not a mapping of unit names to URLs"))?;
    let Some(entry) = map.get(unit) else {
        return Ok(None);
    };
    let url = entry
        .get("url")
        .and_then(serde_yaml_ng::Value::as_str)
        .ok_or_else(|| format!("`{INGRESS_KEY}` entry for {unit} has no string `url`"))?;
    check_url(url).map(Some)
}

/// An http(s) URL with a host and nothing that would need quoting on Prometheus' command line.
fn check_url(url: &str) -> Result<String, String> {
    let short: String = url.chars().take(200).collect();
    if url.is_empty()
        || !url
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\'' | '\\' | '`'))
    {
        return Err(format!(
            "ingress URL {short:?} contains blanks, quotes or non-ASCII characters"
        ));
    }
    if url.contains(['?', '#']) {
        return Err(format!(
            "ingress URL {short:?} must not have a query or fragment"
        ));
    }
    crate::httpurl::parse(url).map_err(|e| format!("ingress URL {e}"))?;
    Ok(url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bag(yaml: &str) -> Databag {
        Databag::from([(INGRESS_KEY.to_owned(), yaml.to_owned())])
    }

    #[test]
    fn reads_this_units_url_only() {
        let data =
            bag("p/0:\n  url: http://10.0.0.1/cos-p-0\np/1:\n  url: http://10.0.0.1/cos-p-1/\n");
        assert_eq!(
            unit_url(&data, "p/0").unwrap().as_deref(),
            Some("http://10.0.0.1/cos-p-0")
        );
        assert_eq!(
            unit_url(&data, "p/1").unwrap().as_deref(),
            Some("http://10.0.0.1/cos-p-1")
        );
        assert_eq!(unit_url(&data, "p/2").unwrap(), None);
        assert_eq!(unit_url(&Databag::new(), "p/0").unwrap(), None);
        assert_eq!(unit_url(&bag(""), "p/0").unwrap(), None);
    }

    #[test]
    fn refuses_bad_data_with_a_reason() {
        for (yaml, why) in [
            ("p/0: [", "not valid YAML"),
            ("- a", "not a mapping"),
            ("p/0: {}", "no string `url`"),
            ("p/0:\n  url: 3", "no string `url`"),
            ("p/0:\n  url: ftp://x/y", "scheme"),
            ("p/0:\n  url: \"http://x/a b\"", "blanks"),
            ("p/0:\n  url: \"http://x/a'b\"", "quotes"),
            ("p/0:\n  url: http://x/?q=1", "query"),
            ("p/0:\n  url: http://u:p@x/", "credentials"),
        ] {
            let err = unit_url(&bag(yaml), "p/0").unwrap_err();
            assert!(err.contains(why), "{yaml}: {err}");
        }
    }
}

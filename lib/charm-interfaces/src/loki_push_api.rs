//! `loki_push_api` requirer (`logging`), as the Loki library's `LogForwarder` runs it: the
//! workload's service logs go to every Loki unit through Pebble's log targets.
//!
//! Each Loki unit publishes, in its unit databag, `endpoint`: JSON `{"url": "<push URL>"}`
//! (`http://<fqdn>:3100/loki/api/v1/push`), and `public_address`. A unit without `endpoint`
//! has not answered yet (not an error). Loki's application databag (`promtail_binary_zip_url`)
//! is for promtail-based clients and is not used.
//!
//! The requirer's leader writes `metadata` (this application's topology, the JSON the
//! library's consumer writes) and `alert_rules` (`{}`: this charm ships no LogQL rules).
//! Every Pebble log target is named after the Loki unit, carries `type: loki`, the push URL,
//! `services: [all]` and the labels of [`labels`].

use crate::ordered::{OMap, OVal};
use crate::Databag;

/// Loki unit databag key with the push endpoint (JSON).
pub const ENDPOINT_KEY: &str = "endpoint";

/// This charm's Juju topology, as the library labels forwarded logs with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTopology<'a> {
    /// Model name.
    pub model: &'a str,
    /// Full model UUID.
    pub model_uuid: &'a str,
    /// This application's name.
    pub application: &'a str,
    /// This unit's name.
    pub unit: &'a str,
    /// The charm's name.
    pub charm_name: &'a str,
}

/// The push URL a Loki unit published: `Ok(None)` when it has not published one yet, `Err`
/// with the reason when its `endpoint` cannot be used.
pub fn push_url(unit_data: &Databag) -> Result<Option<String>, String> {
    let Some(raw) = unit_data.get(ENDPOINT_KEY) else {
        return Ok(None);
    };
    let value: serde_json::Value = serde_json::from_str(raw)
        .map_err(|e| format!("`{ENDPOINT_KEY}` is not valid JSON: {e}"))?;
    let url = value
        .get("url")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| format!("`{ENDPOINT_KEY}` has no string `url`"))?;
    crate::httpurl::parse(url).map_err(|e| format!("push URL {e}"))?;
    if !url.chars().all(|c| c.is_ascii_graphic()) {
        return Err("push URL contains blanks or non-ASCII characters".to_owned());
    }
    Ok(Some(url.to_owned()))
}

/// The labels on every forwarded log line (Pebble adds `pebble_service`), in the library's
/// names: `product` (`Juju`), `charm`, `juju_model`, `juju_model_uuid`, `juju_application`,
/// `juju_unit`, and `job` = `juju_<model>_<uuid8>_<application>`.
pub fn labels(t: &LogTopology<'_>) -> Vec<(String, String)> {
    let short: String = t.model_uuid.chars().take(8).collect();
    [
        ("product", "Juju".to_owned()),
        ("charm", t.charm_name.to_owned()),
        ("juju_model", t.model.to_owned()),
        ("juju_model_uuid", t.model_uuid.to_owned()),
        ("juju_application", t.application.to_owned()),
        ("juju_unit", t.unit.to_owned()),
        (
            "job",
            format!("juju_{}_{short}_{}", t.model, t.application).replace('/', "_"),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The leader's application databag: `metadata` and `alert_rules`.
pub fn app_data(t: &LogTopology<'_>) -> Databag {
    let mut meta = OMap::new();
    meta.insert("model", OVal::str(t.model));
    meta.insert("model_uuid", OVal::str(t.model_uuid));
    meta.insert("application", OVal::str(t.application));
    meta.insert("unit", OVal::str(t.unit));
    meta.insert("charm_name", OVal::str(t.charm_name));
    Databag::from([
        ("metadata".to_owned(), OVal::Obj(meta).py_dumps()),
        ("alert_rules".to_owned(), "{}".to_owned()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(endpoint: &str) -> Databag {
        Databag::from([(ENDPOINT_KEY.to_owned(), endpoint.to_owned())])
    }

    #[test]
    fn reads_the_url_or_nothing_yet() {
        assert_eq!(
            push_url(&unit(r#"{"url": "http://l:3100/loki/api/v1/push"}"#)).unwrap(),
            Some("http://l:3100/loki/api/v1/push".to_owned())
        );
        assert_eq!(push_url(&Databag::new()).unwrap(), None);
    }

    #[test]
    fn refuses_bad_endpoints_with_a_reason() {
        for (raw, why) in [
            ("{", "not valid JSON"),
            ("[]", "no string `url`"),
            (r#"{"url": 3}"#, "no string `url`"),
            (r#"{"url": "ftp://l/x"}"#, "scheme"),
            (r#"{"url": "http://l/a b"}"#, "whitespace"),
            (r#"{"url": "http://l/\u00e9"}"#, "non-ASCII"),
            (r#"{"url": "http://u:p@l/"}"#, "credentials"),
        ] {
            let err = push_url(&unit(raw)).unwrap_err();
            assert!(err.contains(why), "{raw}: {err}");
        }
    }
}

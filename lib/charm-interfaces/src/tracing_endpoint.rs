//! `tracing` requirer (`workload-tracing`, `charm-tracing`), as Tempo's tracing library
//! (`TracingEndpointRequirer`, v2 databags) exchanges it.
//!
//! The requirer's leader asks for the receivers it will send to: application databag key
//! `receivers`, a JSON list of protocol names (`["otlp_http"]`). The provider (Tempo) answers in
//! its application databag, key `receivers`: a JSON list of
//! `{"protocol": {"name": <protocol>, "type": "http" | "grpc"}, "url": <url>}`, one per receiver
//! it runs. An http receiver's `url` has a scheme (`http://tempo:4318`), a grpc one has none
//! (`tempo:4317`). No `receivers` key, or none for the protocol asked for, means the provider
//! is not ready yet (not an error).

use crate::Databag;

/// Application databag key, on both sides.
pub const RECEIVERS_KEY: &str = "receivers";
/// OTLP over HTTP (protobuf), the protocol this charm asks for on both endpoints.
pub const OTLP_HTTP: &str = "otlp_http";

/// The requirer's application databag asking for `protocols` (the JSON `json.dumps` writes).
pub fn request_app_data(protocols: &[&str]) -> Databag {
    let list: Vec<String> = protocols
        .iter()
        .map(|p| serde_json::Value::String((*p).to_owned()).to_string())
        .collect();
    Databag::from([(RECEIVERS_KEY.to_owned(), format!("[{}]", list.join(", ")))])
}

/// An OTLP/HTTP receiver, split the way an OTLP exporter is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReceiver {
    /// The receiver's URL as published, without a trailing `/`.
    pub url: String,
    /// `host:port` (the scheme's default port when the URL has none).
    pub endpoint: String,
    /// Whether the URL is `https`.
    pub tls: bool,
}

/// The OTLP/HTTP receiver the provider published: `Ok(None)` when there is none yet, `Err`
/// with the reason when its data cannot be used.
pub fn otlp_http_receiver(app_data: &Databag) -> Result<Option<HttpReceiver>, String> {
    let Some(raw) = app_data.get(RECEIVERS_KEY) else {
        return Ok(None);
    };
    let value: serde_json::Value = serde_json::from_str(raw)
        .map_err(|e| format!("`{RECEIVERS_KEY}` is not valid JSON: {e}"))?;
    let list = value
        .as_array()
        .ok_or_else(|| format!("`{RECEIVERS_KEY}` is not a list"))?;
    for (i, receiver) in list.iter().enumerate() {
        let name = receiver
            .pointer("/protocol/name")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| format!("`{RECEIVERS_KEY}` entry #{i} has no string protocol.name"))?;
        if name != OTLP_HTTP {
            continue;
        }
        let url = receiver
            .get("url")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| format!("`{RECEIVERS_KEY}` {OTLP_HTTP} has no string `url`"))?;
        return parse_http_url(url).map(Some);
    }
    Ok(None)
}

fn parse_http_url(url: &str) -> Result<HttpReceiver, String> {
    let parsed = crate::httpurl::parse(url).map_err(|e| format!("{OTLP_HTTP} URL {e}"))?;
    if !url.chars().all(|c| c.is_ascii_graphic()) {
        return Err(format!(
            "{OTLP_HTTP} URL contains blanks or non-ASCII characters"
        ));
    }
    if url.contains(['?', '#']) || !parsed.path.trim_end_matches('/').is_empty() {
        return Err(format!(
            "{OTLP_HTTP} URL must be scheme://host[:port] (a path, query or fragment cannot be \
             given to an OTLP exporter's endpoint)"
        ));
    }
    let tls = parsed.scheme == "https";
    let has_port = parsed
        .netloc
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.contains(']'));
    let endpoint = if has_port {
        parsed.netloc.clone()
    } else {
        format!("{}:{}", parsed.netloc, if tls { 443 } else { 80 })
    };
    Ok(HttpReceiver {
        url: url.trim_end_matches('/').to_owned(),
        endpoint,
        tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bag(raw: &str) -> Databag {
        Databag::from([(RECEIVERS_KEY.to_owned(), raw.to_owned())])
    }

    #[test]
    fn the_request_is_what_json_dumps_writes() {
        assert_eq!(
            request_app_data(&["otlp_http"])[RECEIVERS_KEY],
            r#"["otlp_http"]"#
        );
        assert_eq!(
            request_app_data(&["otlp_grpc", "otlp_http"])[RECEIVERS_KEY],
            r#"["otlp_grpc", "otlp_http"]"#
        );
    }

    #[test]
    fn reads_the_http_receiver_or_nothing_yet() {
        let r = otlp_http_receiver(&bag(
            r#"[{"protocol": {"name": "otlp_grpc", "type": "grpc"}, "url": "t:4317"},
                {"protocol": {"name": "otlp_http", "type": "http"}, "url": "http://t.cos:4318"}]"#,
        ))
        .unwrap()
        .unwrap();
        assert_eq!(r.endpoint, "t.cos:4318");
        assert!(!r.tls);
        let r = otlp_http_receiver(&bag(
            r#"[{"protocol": {"name": "otlp_http", "type": "http"}, "url": "https://t/"}]"#,
        ))
        .unwrap()
        .unwrap();
        assert_eq!((r.endpoint.as_str(), r.tls), ("t:443", true));
        assert_eq!(otlp_http_receiver(&Databag::new()).unwrap(), None);
        assert_eq!(otlp_http_receiver(&bag("[]")).unwrap(), None);
    }

    #[test]
    fn refuses_bad_data_with_a_reason() {
        for (raw, why) in [
            ("{", "not valid JSON"),
            ("{}", "not a list"),
            ("[{}]", "protocol.name"),
            (
                r#"[{"protocol": {"name": "otlp_http"}}]"#,
                "no string `url`",
            ),
            (
                r#"[{"protocol": {"name": "otlp_http"}, "url": "t:4318"}]"#,
                "no scheme",
            ),
            (
                r#"[{"protocol": {"name": "otlp_http"}, "url": "http://t/x"}]"#,
                "path",
            ),
        ] {
            let err = otlp_http_receiver(&bag(raw)).unwrap_err();
            assert!(err.contains(why), "{raw}: {err}");
        }
    }
}

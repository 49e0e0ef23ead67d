//! `prometheus_remote_write`, both sides.
//!
//! - Consumer (`send-remote-write`, Prometheus forwards its samples): every receiver unit
//!   publishes `remote_write` = JSON `{"url": ...}`; the distinct URLs become `remote_write:`
//!   entries, sorted, each with an explicit `queue_config` so the behaviour does not shift with
//!   the Prometheus version's defaults. External labels are the renderer's business.
//! - Provider (`receive-remote-write`, agents push to Prometheus): every unit publishes its
//!   write URL; the senders' `alert_rules` become rule files, one per relation.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::alert_rules::{rule_files, RulesOutcome};
use crate::httpurl;
use crate::ordered::{OMap, OVal};
use crate::scrape::AppError;
use crate::{Databag, RelationView};

/// Databag key used by both sides.
pub const REMOTE_WRITE_KEY: &str = "remote_write";

/// `remote_write:` entries and the problems found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RemoteWriteOutcome {
    /// Entries for `remote_write:`, sorted by URL.
    pub endpoints: Vec<Value>,
    /// Problems, per application.
    pub per_app_errors: Vec<AppError>,
}

fn queue_config() -> Value {
    json!({
        "capacity": 10000,
        "max_shards": 50,
        "max_samples_per_send": 2000,
        "batch_send_deadline": "5s",
        "min_backoff": "30ms",
        "max_backoff": "5s",
    })
}

/// Consumer: the receivers' endpoints over every relation passed in (normally all
/// `send-remote-write` relations).
pub fn endpoints(relations: &[RelationView<'_>]) -> RemoteWriteOutcome {
    let mut urls = BTreeSet::new();
    let mut per_app_errors = Vec::new();
    for rel in relations {
        for (unit, data) in &rel.units {
            let Some(raw) = data.get(REMOTE_WRITE_KEY).filter(|v| !v.is_empty()) else {
                continue;
            };
            let url = serde_json::from_str::<Value>(raw)
                .map_err(|e| format!("remote_write is not valid JSON ({e})"))
                .and_then(|v| match v.get("url").and_then(Value::as_str) {
                    Some(u) => Ok(u.to_owned()),
                    None => Err("remote_write has no \"url\" string".to_owned()),
                })
                .and_then(|u| httpurl::parse(&u).map(|_| u));
            match url {
                Ok(u) => {
                    urls.insert(u);
                }
                Err(e) => per_app_errors.push(AppError {
                    relation_id: rel.id,
                    app: rel.app.to_owned(),
                    message: format!("unit {unit} left out of remote_write: {e}"),
                }),
            }
        }
    }
    let endpoints = urls
        .into_iter()
        .map(|url| json!({"url": url, "queue_config": queue_config()}))
        .collect();
    RemoteWriteOutcome {
        endpoints,
        per_app_errors,
    }
}

/// Provider: this unit's databag, advertising `<base_url>/api/v1/write` (`base_url` such as
/// `http://<fqdn>:9090`, or the most external URL).
pub fn provider_unit_data(base_url: &str) -> Databag {
    let mut m = OMap::new();
    m.insert(
        "url",
        OVal::Str(format!("{}/api/v1/write", base_url.trim_end_matches('/'))),
    );
    Databag::from([(REMOTE_WRITE_KEY.to_owned(), OVal::Obj(m).py_dumps())])
}

/// Provider: rule files from the senders' `alert_rules`, one per relation.
pub fn sender_rule_files(relations: &[RelationView<'_>]) -> RulesOutcome {
    rule_files(relations)
}

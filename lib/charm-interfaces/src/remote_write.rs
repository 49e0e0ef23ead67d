//! `prometheus_remote_write`, both sides.
//!
//! - Consumer (`send-remote-write`, Prometheus forwards its samples): every receiver unit
//!   publishes `remote_write` = JSON `{"url": ...}`; the distinct URLs become `remote_write:`
//!   entries, sorted, each with an explicit `queue_config` so the behaviour does not shift with
//!   the Prometheus version's defaults. Only `url` is read, as the Canonical consumer library
//!   reads it: other keys a receiver may add (headers, a tenant, TLS settings) are ignored by
//!   that library and so are ignored here. External labels are the renderer's business. The
//!   leader publishes `alert_rules` in the application databag, as the library's consumer
//!   does: this charm's self-monitoring rules plus the `AggregatorHostHealth` group (one
//!   `HostMetricsMissing` per unit given, one `AggregatorMetricsMissing`), with topology
//!   labels and matchers, for the receiver's ruler.
//! - Provider (`receive-remote-write`, agents push to Prometheus): every unit publishes its
//!   write URL; the senders' `alert_rules` become rule files, one per relation.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::alert_rules::{rule_files, RulesOutcome};
use crate::httpurl;
use crate::ordered::{OMap, OVal};
use crate::promql;
use crate::scrape::AppError;
use crate::self_metrics::{self, SelfMetrics};
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
        OVal::str(format!("{}/api/v1/write", base_url.trim_end_matches('/'))),
    );
    Databag::from([(REMOTE_WRITE_KEY.to_owned(), OVal::Obj(m).py_dumps())])
}

/// Provider: rule files from the senders' `alert_rules`, one per relation.
pub fn sender_rule_files(relations: &[RelationView<'_>]) -> RulesOutcome {
    rule_files(relations)
}

/// Consumer: the leader's application databag, `alert_rules` = `{"groups": [...]}`: the
/// self-monitoring groups of `self-metrics-endpoint`, then `<identifier>_AggregatorHostHealth_rules`
/// with `HostMetricsMissing` for each of `units` (sorted, with a `juju_unit` label) and
/// `AggregatorMetricsMissing`, firing when this application's `up` series stop arriving at the
/// receiver. Every rule carries the topology labels; every expression the topology matchers.
pub fn consumer_app_data(s: &SelfMetrics<'_>, units: &[String]) -> Databag {
    let t = self_metrics::topology(s);
    let expr = promql::inject_matchers("absent(up)", &t.alert_matchers())
        .unwrap_or_else(|_| "absent(up)".to_owned());
    let rule =
        |alert: &str, unit: Option<&str>, severity: &str, summary: &str, description: &str| {
            let mut labels = t.target_labels();
            if let Some(unit) = unit {
                labels.insert("juju_unit", OVal::str(unit));
            }
            labels.insert("severity", OVal::str(severity));
            let mut annotations = OMap::new();
            annotations.insert("summary", OVal::str(summary));
            annotations.insert("description", OVal::str(description));
            let mut r = OMap::new();
            r.insert("alert", OVal::str(alert));
            r.insert("expr", OVal::str(expr.clone()));
            r.insert("for", OVal::str("5m"));
            r.insert("labels", OVal::Obj(labels));
            r.insert("annotations", OVal::Obj(annotations));
            OVal::Obj(r)
        };
    let mut units: Vec<&str> = units.iter().map(String::as_str).collect();
    units.sort_unstable();
    units.dedup();
    let mut rules: Vec<OVal> = units
        .iter()
        .map(|u| {
            rule(
                "HostMetricsMissing",
                Some(u),
                "warning",
                "Unit '{{ $labels.juju_unit }}' of application '{{ $labels.juju_application }}' is down or failing to remote write.",
                "`up` is missing for unit '{{ $labels.juju_unit }}' of application {{ $labels.juju_application }} in model {{ $labels.juju_model }}: the unit is down or cannot reach the remote-write endpoint.",
            )
        })
        .collect();
    rules.push(rule(
        "AggregatorMetricsMissing",
        None,
        "critical",
        "Metrics not received from application '{{ $labels.juju_application }}'.",
        "`up` is missing for every unit of application {{ $labels.juju_application }} in model {{ $labels.juju_model }}: all units are down or cannot reach the remote-write endpoint.",
    ));
    let mut aggregator = OMap::new();
    aggregator.insert(
        "name",
        OVal::str(self_metrics::group_name(&t, "AggregatorHostHealth")),
    );
    aggregator.insert("rules", OVal::Arr(rules));
    let mut groups = self_metrics::rule_groups(s);
    groups.push(OVal::Obj(aggregator));
    let mut doc = OMap::new();
    doc.insert("groups", OVal::Arr(groups));
    Databag::from([("alert_rules".to_owned(), OVal::Obj(doc).py_dumps())])
}

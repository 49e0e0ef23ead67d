//! `alertmanager_dispatch` consumer (`alertmanager`): where to send alerts.
//!
//! Each Alertmanager unit publishes in its unit databag either `url` (v1 schema) or
//! `public_address` (`host[:port][/path]`) + `scheme` (v0, scheme defaults to http). All units of
//! all relations (several Alertmanager applications are fine) are gathered into a set of URLs,
//! grouped by (scheme, path) into `alerting.alertmanagers` entries. Output order is sorted, so it
//! does not depend on the order units were listed in. A unit with an unusable address is left out
//! and reported against its application.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::httpurl::{self, HttpUrl};
use crate::scrape::AppError;
use crate::RelationView;

/// Alertmanager entries and the problems found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertmanagerOutcome {
    /// `alerting.alertmanagers` entries: `{scheme, path_prefix, static_configs: [{targets}]}`.
    pub alertmanagers: Vec<Value>,
    /// Problems, per application.
    pub per_app_errors: Vec<AppError>,
}

/// The URL a unit advertises, `None` when it advertises nothing yet.
fn unit_url(data: &crate::Databag) -> Option<Result<HttpUrl, String>> {
    let non_empty = |k: &str| data.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    if let Some(url) = non_empty("url") {
        return Some(httpurl::parse(url));
    }
    let address = non_empty("public_address")?;
    let scheme = non_empty("scheme").unwrap_or("http");
    Some(httpurl::parse(&format!("{scheme}://{address}")))
}

/// Gather the Alertmanagers of every relation passed in (normally all `alertmanager` relations).
pub fn alertmanagers(relations: &[RelationView<'_>]) -> AlertmanagerOutcome {
    let mut urls = BTreeSet::new();
    let mut per_app_errors = Vec::new();
    for rel in relations {
        for (unit, data) in &rel.units {
            match unit_url(data) {
                None => {}
                Some(Ok(u)) => {
                    urls.insert(u);
                }
                Some(Err(e)) => per_app_errors.push(AppError {
                    relation_id: rel.id,
                    app: rel.app.to_owned(),
                    message: format!("unit {unit} left out of alerting: {e}"),
                }),
            }
        }
    }
    let mut groups: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for u in urls {
        let path = if u.path.is_empty() {
            "/".to_owned()
        } else {
            u.path
        };
        groups.entry((u.scheme, path)).or_default().push(u.netloc);
    }
    let alertmanagers = groups
        .into_iter()
        .map(|((scheme, path_prefix), targets)| {
            json!({"scheme": scheme, "path_prefix": path_prefix, "static_configs": [{"targets": targets}]})
        })
        .collect();
    AlertmanagerOutcome {
        alertmanagers,
        per_app_errors,
    }
}

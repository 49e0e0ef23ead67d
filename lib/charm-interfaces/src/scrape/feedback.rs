//! The `event` key Prometheus (leader) writes in its application databag of each
//! `metrics-endpoint` / `receive-remote-write` relation, so the provider charm can show why its
//! jobs or rules were refused.
//!
//! The provider library reads `json.loads(databag.get("event", "{}"))` and, when the result is
//! non-empty, reports `valid` (default true) and `errors` as its alert-rule status, and
//! `scrape_job_errors`, when non-empty, as an invalid-scrape-job event. Consequences:
//! - the value is never `""` (that is not JSON and would fail the provider's hook);
//! - with no problems it is `{"errors":"","scrape_job_errors":"","valid":true}`, which clears a
//!   previously reported error (an absent key or `{}` would leave the old status in place);
//! - `valid` is false exactly when there are rule errors (a provider that only looks at `valid`
//!   would otherwise treat reported errors as fine).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::AppError;
use crate::Databag;

/// The key written.
pub const EVENT_KEY: &str = "event";

fn joined(errors: &[AppError], relation_id: u32) -> String {
    errors
        .iter()
        .filter(|e| e.relation_id == relation_id)
        .map(|e| e.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The `event` value for each relation id given: scrape-job errors and rule errors of that
/// relation's application. Serialised with sorted keys, so equal inputs give equal bytes.
pub fn event_feedback(
    relation_ids: &[u32],
    scrape_errors: &[AppError],
    rule_errors: &[AppError],
) -> BTreeMap<u32, Databag> {
    // Most relations have no problem: their value is the same, written once.
    let with_errors: BTreeSet<u32> = scrape_errors
        .iter()
        .chain(rule_errors)
        .map(|e| e.relation_id)
        .collect();
    let clear = value(String::new(), String::new());
    relation_ids
        .iter()
        .map(|&id| {
            let value = if with_errors.contains(&id) {
                value(joined(rule_errors, id), joined(scrape_errors, id))
            } else {
                clear.clone()
            };
            (id, Databag::from([(EVENT_KEY.to_owned(), value)]))
        })
        .collect()
}

/// One relation's `event` value: `valid` unless it has rule errors.
fn value(errors: String, scrape_job_errors: String) -> String {
    let valid = errors.is_empty();
    json!({
        "errors": errors,
        "scrape_job_errors": scrape_job_errors,
        "valid": valid,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clears_with_valid_json_and_reports_per_relation() {
        let scrape = [AppError {
            relation_id: 2,
            app: "a".into(),
            message: "bad job".into(),
        }];
        let rules = [AppError {
            relation_id: 3,
            app: "b".into(),
            message: "bad rule".into(),
        }];
        let fb = event_feedback(&[1, 2, 3], &scrape, &rules);
        assert_eq!(
            fb[&1]["event"],
            r#"{"errors":"","scrape_job_errors":"","valid":true}"#
        );
        assert_eq!(
            fb[&2]["event"],
            r#"{"errors":"","scrape_job_errors":"bad job","valid":true}"#
        );
        assert_eq!(
            fb[&3]["event"],
            r#"{"errors":"bad rule","scrape_job_errors":"","valid":false}"#
        );
    }
}

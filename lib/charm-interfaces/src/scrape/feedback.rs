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

use std::collections::BTreeMap;

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
    relation_ids
        .iter()
        .map(|&id| {
            let errors = joined(rule_errors, id);
            let value = json!({
                "errors": errors,
                "scrape_job_errors": joined(scrape_errors, id),
                "valid": errors.is_empty(),
            });
            (
                id,
                Databag::from([(EVENT_KEY.to_owned(), value.to_string())]),
            )
        })
        .collect()
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

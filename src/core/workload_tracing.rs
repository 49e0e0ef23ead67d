//! The `workload-tracing` relation (`tracing`): Prometheus sends its own traces (queries, rule
//! evaluation, remote write) to the OTLP/HTTP receiver the provider (Tempo) publishes.
//!
//! The leader asks for `otlp_http`; once the provider publishes that receiver, prometheus.yml
//! gets a `tracing:` block (`client_type: http`, the receiver's `host:port`, `insecure` for an
//! `http://` receiver, every trace sampled), which Prometheus applies on reload. Data that
//! cannot be used is a problem of the relation and leaves tracing off; nothing else changes.

use charm_interfaces::tracing_endpoint::{self, OTLP_HTTP};
use charm_interfaces::Databag;
use serde_json::{json, Value};

use crate::core::desired::RelationProblem;
use crate::core::model::ModelSnapshot;

use crate::core::endpoints::WORKLOAD_TRACING;

/// Prometheus' `tracing:` section for the related receiver, if there is a usable one.
pub fn tracing_config(
    snapshot: &ModelSnapshot,
    problems: &mut Vec<RelationProblem>,
) -> Option<Value> {
    for rel in snapshot.relations_on(WORKLOAD_TRACING.name) {
        match tracing_endpoint::otlp_http_receiver(&rel.app_data) {
            Ok(Some(receiver)) => {
                return Some(json!({
                    "client_type": "http",
                    "endpoint": receiver.endpoint,
                    "insecure": !receiver.tls,
                    "sampling_fraction": 1,
                }))
            }
            Ok(None) => {}
            Err(message) => problems.push(RelationProblem {
                relation: rel.relation_id(),
                app: rel.app.clone(),
                message,
            }),
        }
    }
    None
}

/// The leader's application databag: the receiver protocol it asks for.
pub fn request_app_data() -> Databag {
    tracing_endpoint::request_app_data(&[OTLP_HTTP])
}

//! The `workload-tracing` relation (`tracing`): Prometheus sends its own traces (queries, rule
//! evaluation, remote write) to the OTLP/HTTP receiver the provider (Tempo) publishes.
//!
//! The leader asks for `otlp_http`; once the provider publishes that receiver, prometheus.yml
//! gets a `tracing:` block (`client_type: http`, the receiver's `host:port`, `insecure` for an
//! `http://` receiver, every trace sampled), which Prometheus applies on reload. Data that
//! cannot be used is a problem of the relation and leaves tracing off; nothing else changes.

use charm_interfaces::tracing_endpoint::{self, HttpReceiver, OTLP_HTTP};
use charm_interfaces::Databag;
use serde_json::{json, Value};

use crate::core::desired::RelationProblem;
use crate::core::model::ModelSnapshot;

use crate::core::endpoints::{Endpoint, WORKLOAD_TRACING};

/// Prometheus' `tracing:` section for the related receiver, if there is a usable one.
pub fn tracing_config(
    snapshot: &ModelSnapshot,
    problems: &mut Vec<RelationProblem>,
) -> Option<Value> {
    let receiver = otlp_http_receiver(snapshot, &WORKLOAD_TRACING, problems)?;
    Some(json!({
        "client_type": "http",
        "endpoint": receiver.endpoint,
        "insecure": !receiver.tls,
        "sampling_fraction": 1,
    }))
}

/// The OTLP/HTTP receiver a `tracing` provider (Tempo) publishes on `endpoint`, if there is a
/// usable one; unusable data is a problem of its relation. Shared by `workload-tracing` and
/// `charm-tracing`, which ask for the same protocol.
pub fn otlp_http_receiver(
    snapshot: &ModelSnapshot,
    endpoint: &Endpoint,
    problems: &mut Vec<RelationProblem>,
) -> Option<HttpReceiver> {
    for rel in snapshot.relations_on(endpoint.name) {
        match tracing_endpoint::otlp_http_receiver(&rel.app_data) {
            Ok(Some(receiver)) => return Some(receiver),
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

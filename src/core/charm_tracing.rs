//! The `charm-tracing` relation (`tracing`), its pure part: the leader's request for an
//! OTLP/HTTP receiver and the receiver the provider (Tempo) answers with. Remembering it and
//! exporting the hooks' spans are effects (`crate::effects::charm_tracing`).

use charm_interfaces::tracing_endpoint::{self, HttpReceiver, OTLP_HTTP};
use charm_interfaces::Databag;

use crate::core::desired::RelationProblem;
use crate::core::endpoints::CHARM_TRACING;
use crate::core::model::ModelSnapshot;

/// The provider's OTLP/HTTP receiver, if there is a usable one; unusable data is a problem of
/// the relation.
pub fn receiver(
    snapshot: &ModelSnapshot,
    problems: &mut Vec<RelationProblem>,
) -> Option<HttpReceiver> {
    for rel in snapshot.relations_on(CHARM_TRACING.name) {
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

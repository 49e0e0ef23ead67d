//! The `charm-tracing` relation (`tracing`), its pure part: the receiver the provider (Tempo)
//! answers with. The leader asks for `otlp_http` exactly as on `workload-tracing`
//! ([`crate::core::workload_tracing::request_app_data`]). Remembering the receiver and exporting
//! the hooks' spans are effects (`crate::effects::charm_tracing`).

use charm_interfaces::tracing_endpoint::HttpReceiver;

use crate::core::desired::RelationProblem;
use crate::core::endpoints::CHARM_TRACING;
use crate::core::model::ModelSnapshot;
use crate::core::workload_tracing::otlp_http_receiver;

/// The provider's OTLP/HTTP receiver, if there is a usable one; unusable data is a problem of
/// the relation.
pub fn receiver(
    snapshot: &ModelSnapshot,
    problems: &mut Vec<RelationProblem>,
) -> Option<HttpReceiver> {
    otlp_http_receiver(snapshot, &CHARM_TRACING, problems)
}

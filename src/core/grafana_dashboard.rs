//! The `grafana-dashboard` relation (`grafana_dashboard`, provided): this charm's own Grafana
//! dashboards (`src/core/grafana_dashboards/`, built into the binary), sent by the leader as
//! Grafana's library encodes them (see `charm_interfaces::grafana_dashboard`). Their `uid`s
//! keep the library's `<charm>-src/grafana_dashboards/<file>` convention, whatever the folder.

use charm_interfaces::grafana_dashboard::{self, DashboardSource};
use charm_interfaces::Databag;

use crate::core::model::ModelSnapshot;
use crate::core::workload::CHARM_NAME;

use crate::core::endpoints::GRAFANA_DASHBOARD;

/// The dashboards: file name and JSON, in the order they are sent.
pub const DASHBOARDS: &[(&str, &str)] = &[(
    "prometheus-rs-k8s-overview.json",
    include_str!("grafana_dashboards/prometheus-rs-k8s-overview.json"),
)];

/// The leader's application databag (`dashboards`); `None` when there is no relation on the
/// endpoint, so a unit without Grafana does not compress anything.
pub fn app_data(snapshot: &ModelSnapshot) -> Option<Databag> {
    snapshot.relations_on(GRAFANA_DASHBOARD.name).next()?;
    let unit = snapshot.unit_name();
    let source = DashboardSource {
        charm_name: CHARM_NAME,
        model: &snapshot.model.name,
        model_uuid: &snapshot.model.uuid,
        application: &snapshot.app_name,
        unit: &unit,
    };
    // The dashboards are part of the binary; their tests parse every one of them.
    Some(
        grafana_dashboard::app_data(&source, DASHBOARDS)
            .expect("the built-in dashboards are JSON objects"),
    )
}

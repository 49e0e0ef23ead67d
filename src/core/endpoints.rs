//! The charm's relation endpoints, one row each: name, interface, role and limit as
//! metadata.yaml declares them, and which databags the charm writes there. Reading the model
//! ([`crate::hook::model_reader`] via [`ENDPOINTS`]) and computing relation data
//! ([`crate::core::desired`], through the named rows) both use this table, and a test checks
//! it against metadata.yaml.
//!
//! Adding a relation: declare it in metadata.yaml, add its row here (a `const` and its entry
//! in [`ENDPOINTS`]), then read or write its data in [`crate::core::desired`].

/// An endpoint's role in metadata.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Under `provides:`.
    Provides,
    /// Under `requires:`.
    Requires,
    /// Under `peers:`.
    Peers,
}

impl Role {
    /// The metadata.yaml section it is declared in.
    pub fn section(self) -> &'static str {
        match self {
            Role::Provides => "provides",
            Role::Requires => "requires",
            Role::Peers => "peers",
        }
    }
}

/// One relation endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// Endpoint name.
    pub name: &'static str,
    /// Interface (the relation contract).
    pub interface: &'static str,
    /// Role.
    pub role: Role,
    /// Most relations it may have (`limit:`), `None` for no limit.
    pub limit: Option<u32>,
    /// The charm writes this unit's databag on it (so a hook reads what it wrote last).
    pub writes_unit: bool,
    /// The leader writes the application databag on it.
    pub writes_app: bool,
}

impl Endpoint {
    const fn new(name: &'static str, interface: &'static str, role: Role) -> Self {
        Self {
            name,
            interface,
            role,
            limit: None,
            writes_unit: false,
            writes_app: false,
        }
    }

    const fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    const fn writes_unit(mut self) -> Self {
        self.writes_unit = true;
        self
    }

    const fn writes_app(mut self) -> Self {
        self.writes_app = true;
        self
    }
}

use Role::{Peers, Provides, Requires};

/// Scrape jobs and alert rules of related charms; the leader writes problems back (`event`).
pub const METRICS_ENDPOINT: Endpoint =
    Endpoint::new("metrics-endpoint", "prometheus_scrape", Requires).writes_app();
/// Alertmanagers that receive the alerts.
pub const ALERTMANAGER: Endpoint = Endpoint::new("alertmanager", "alertmanager_dispatch", Requires);
/// This Prometheus as a Grafana datasource.
pub const GRAFANA_SOURCE: Endpoint =
    Endpoint::new("grafana-source", "grafana_datasource", Provides)
        .writes_unit()
        .writes_app();
/// Another Prometheus scraping this one.
pub const SELF_METRICS_ENDPOINT: Endpoint =
    Endpoint::new("self-metrics-endpoint", "prometheus_scrape", Provides)
        .writes_unit()
        .writes_app();
/// Remote-write endpoints Prometheus forwards samples to.
pub const SEND_REMOTE_WRITE: Endpoint =
    Endpoint::new("send-remote-write", "prometheus_remote_write", Requires).writes_app();
/// The remote-write receiver of this Prometheus; the leader writes problems back (`event`).
pub const RECEIVE_REMOTE_WRITE: Endpoint =
    Endpoint::new("receive-remote-write", "prometheus_remote_write", Provides)
        .writes_unit()
        .writes_app();
/// A per-unit route through an ingress (Traefik).
pub const INGRESS: Endpoint = Endpoint::new("ingress", "ingress_per_unit", Requires)
    .limit(1)
    .writes_unit();
/// An entry in the COS catalogue.
pub const CATALOGUE: Endpoint = Endpoint::new("catalogue", "catalogue", Requires)
    .limit(1)
    .writes_app();
/// The URLs of the HTTP API, for charms that query Prometheus.
pub const PROMETHEUS_API: Endpoint =
    Endpoint::new("prometheus-api", "prometheus_api", Provides).writes_app();
/// The Grafana datasource UIDs of this Prometheus.
pub const SEND_DATASOURCE: Endpoint =
    Endpoint::new("send-datasource", "grafana_datasource_exchange", Provides).writes_app();

/// Loki units this Prometheus forwards its workload's logs to (Pebble log targets).
pub const LOGGING: Endpoint = Endpoint::new("logging", "loki_push_api", Requires).writes_app();
/// A tracing receiver (Tempo) for Prometheus' own traces.
pub const WORKLOAD_TRACING: Endpoint = Endpoint::new("workload-tracing", "tracing", Requires)
    .limit(1)
    .writes_app();
/// A tracing receiver (Tempo) for the charm's own hooks.
pub const CHARM_TRACING: Endpoint = Endpoint::new("charm-tracing", "tracing", Requires)
    .limit(1)
    .writes_app();
/// This charm's dashboards, sent to Grafana.
pub const GRAFANA_DASHBOARD: Endpoint =
    Endpoint::new("grafana-dashboard", "grafana_dashboard", Provides).writes_app();

/// A TLS provider signing this unit's server certificate (tls-certificates v4).
pub const CERTIFICATES: Endpoint = Endpoint::new("certificates", "tls-certificates", Requires)
    .limit(1)
    .writes_unit();
/// CAs to trust when scraping TLS targets.
pub const RECEIVE_CA_CERT: Endpoint =
    Endpoint::new("receive-ca-cert", "certificate_transfer", Requires).writes_app();

/// Every endpoint whose relations the charm reads, in the order a hook reads them.
pub const ENDPOINTS: &[Endpoint] = &[
    METRICS_ENDPOINT,
    ALERTMANAGER,
    GRAFANA_SOURCE,
    SELF_METRICS_ENDPOINT,
    SEND_REMOTE_WRITE,
    RECEIVE_REMOTE_WRITE,
    INGRESS,
    CATALOGUE,
    PROMETHEUS_API,
    SEND_DATASOURCE,
    LOGGING,
    WORKLOAD_TRACING,
    CHARM_TRACING,
    GRAFANA_DASHBOARD,
    CERTIFICATES,
    RECEIVE_CA_CERT,
];

/// The peer endpoint between this application's units. Not in [`ENDPOINTS`]: the charm does
/// not read it (which units are planned comes from `goal-state`).
pub const PEERS: Endpoint = Endpoint::new("prometheus-peers", "prometheus_peers", Peers);

/// Every endpoint metadata.yaml declares: [`ENDPOINTS`] and [`PEERS`].
pub fn all() -> impl Iterator<Item = &'static Endpoint> {
    ENDPOINTS.iter().chain(std::iter::once(&PEERS))
}

/// The endpoint named `name`, if the charm declares it.
pub fn by_name(name: &str) -> Option<&'static Endpoint> {
    all().find(|e| e.name == name)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(serde::Deserialize)]
    struct Declared {
        interface: String,
        #[serde(default)]
        limit: Option<u32>,
    }

    /// metadata.yaml's endpoints as (name → (section, interface, limit)).
    fn declared() -> BTreeMap<String, (String, String, Option<u32>)> {
        let metadata: BTreeMap<String, serde_yaml_ng::Value> =
            serde_yaml_ng::from_str(include_str!("../../metadata.yaml")).expect("metadata.yaml");
        let mut out = BTreeMap::new();
        for section in ["provides", "requires", "peers"] {
            let Some(endpoints) = metadata.get(section) else {
                continue;
            };
            let endpoints: BTreeMap<String, Declared> =
                serde_yaml_ng::from_value(endpoints.clone()).expect("endpoints");
            for (name, d) in endpoints {
                out.insert(name, (section.to_owned(), d.interface, d.limit));
            }
        }
        out
    }

    #[test]
    fn the_table_is_metadata_yaml() {
        let table: BTreeMap<String, (String, String, Option<u32>)> = all()
            .map(|e| {
                (
                    e.name.to_owned(),
                    (e.role.section().to_owned(), e.interface.to_owned(), e.limit),
                )
            })
            .collect();
        assert_eq!(all().count(), table.len(), "an endpoint is listed twice");
        assert_eq!(table, declared());
    }

    #[test]
    fn only_the_peer_relation_is_left_unread() {
        assert!(ENDPOINTS.iter().all(|e| e.role != Role::Peers));
        assert_eq!(by_name("prometheus-peers"), Some(&PEERS));
        assert_eq!(by_name("metrics-endpoint"), Some(&METRICS_ENDPOINT));
        assert_eq!(by_name("no-such-endpoint"), None);
    }
}

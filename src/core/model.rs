//! A snapshot of everything the charm reads from the Juju model in one hook.
//!
//! The reconcile is a function of this snapshot: hooks fill it through the hook tools (each
//! databag read once), `render --model` reads it from a JSON file of the same shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use charm_interfaces::topology::Topology;
/// A relation databag (all values are strings).
pub use charm_interfaces::Databag;

use crate::core::endpoints;
use crate::core::workload::CHARM_NAME;

/// The model the unit lives in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// `JUJU_MODEL_NAME`.
    pub name: String,
    /// `JUJU_MODEL_UUID`.
    pub uuid: String,
}

/// One remote unit in a relation and its databag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitSnapshot {
    /// Unit name, e.g. `node-exporter/0`.
    pub name: String,
    /// Its databag.
    #[serde(default)]
    pub data: Databag,
}

/// One relation: the remote side's data and what this unit and app last wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationSnapshot {
    /// Endpoint name from metadata.yaml.
    pub endpoint: String,
    /// Relation number.
    pub id: u32,
    /// Remote application name.
    pub app: String,
    /// Remote application databag.
    #[serde(default)]
    pub app_data: Databag,
    /// Remote units (departed units are absent).
    #[serde(default)]
    pub units: Vec<UnitSnapshot>,
    /// This application's databag on the relation, as last written (read only by the leader).
    #[serde(default, skip_serializing_if = "Databag::is_empty")]
    pub local_app_data: Databag,
    /// This unit's databag on the relation, as last written.
    #[serde(default, skip_serializing_if = "Databag::is_empty")]
    pub local_unit_data: Databag,
}

impl RelationSnapshot {
    /// The relation id as Juju prints it.
    pub fn relation_id(&self) -> juju_hook::RelationId {
        juju_hook::RelationId::new(self.endpoint.clone(), self.id)
    }
}

/// Everything one reconcile needs from Juju.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSnapshot {
    /// Free text describing the snapshot (ignored by the charm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Config option → value, as `config-get` prints it (defaults filled in).
    #[serde(default)]
    pub config: Map<String, Value>,
    /// Whether this unit is the leader.
    pub leader: bool,
    /// The model.
    pub model: ModelInfo,
    /// This application's name.
    pub app_name: String,
    /// This unit's number.
    pub unit_id: u32,
    /// This unit's fully-qualified domain name, as other pods reach it.
    pub fqdn: String,
    /// Every relation, across endpoints.
    #[serde(default)]
    pub relations: Vec<RelationSnapshot>,
    /// The Prometheus version detected in the workload (e.g. `3.5.0`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_version: Option<String>,
    /// Number of planned units of this application (from goal-state), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_units: Option<u32>,
    /// Unit numbers of this application's planned units (from goal-state), read only when
    /// `scrape_sharding` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_unit_numbers: Option<Vec<u32>>,
    /// Capacity of the database volume (e.g. `1Gi`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc_capacity: Option<String>,
    /// This unit's TLS key, certificate request and served certificate (kept in the unit
    /// state, see `crate::tls`), when related on `certificates`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::core::tls::UnitTls>,
}

impl ModelSnapshot {
    /// What makes this snapshot a model Juju could not present, one line each (empty: none):
    /// names that are empty or malformed, a relation id used twice, an endpoint the charm does
    /// not declare, this unit listed as a remote unit, a unit listed twice or belonging to
    /// another application than the relation's.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let app_ok = |a: &str| {
            !a.is_empty()
                && a.len() <= 253
                && a.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if !app_ok(&self.app_name) {
            out.push(format!(
                "app_name {:?} is not a Juju application name",
                self.app_name
            ));
        }
        if self.model.name.is_empty() || self.model.name.chars().any(char::is_whitespace) {
            out.push(format!(
                "model.name {:?} is not a Juju model name",
                self.model.name
            ));
        }
        if self.fqdn.is_empty() || self.fqdn.chars().any(|c| c.is_whitespace() || c == '/') {
            out.push(format!("fqdn {:?} is not a host name", self.fqdn));
        }
        if let (Some(n), Some(numbers)) = (self.planned_units, &self.planned_unit_numbers) {
            if usize::try_from(n).ok() != Some(numbers.len()) {
                out.push(format!(
                    "planned_units is {n} but planned_unit_numbers lists {}",
                    numbers.len()
                ));
            }
        }
        let me = self.unit_name();
        let mut ids = BTreeMap::new();
        for rel in &self.relations {
            let name = format!("relation {}:{}", rel.endpoint, rel.id);
            if let Some(first) = ids.insert(rel.id, rel.endpoint.as_str()) {
                out.push(format!(
                    "relation id {} is used twice ({first} and {})",
                    rel.id, rel.endpoint
                ));
            }
            if endpoints::by_name(&rel.endpoint).is_none() {
                out.push(format!(
                    "{name}: endpoint {:?} is not declared by the charm",
                    rel.endpoint
                ));
            }
            let peer = rel.endpoint == endpoints::PEERS.name;
            if !app_ok(&rel.app) {
                out.push(format!(
                    "{name}: app {:?} is not a Juju application name",
                    rel.app
                ));
            } else if peer != (rel.app == self.app_name) {
                out.push(format!(
                    "{name}: app {:?} {} this application",
                    rel.app,
                    if peer { "must be" } else { "cannot be" }
                ));
            }
            let mut seen = std::collections::BTreeSet::new();
            for unit in &rel.units {
                if !seen.insert(unit.name.as_str()) {
                    out.push(format!("{name}: unit {} is listed twice", unit.name));
                }
                if unit.name == me {
                    out.push(format!("{name}: lists this unit ({me}) as a remote unit"));
                    continue;
                }
                match unit.name.split_once('/') {
                    Some((app, n)) if app == rel.app && n.parse::<u32>().is_ok() => {}
                    _ => out.push(format!(
                        "{name}: unit {:?} is not a unit of {} (<app>/<number>)",
                        unit.name, rel.app
                    )),
                }
            }
        }
        out
    }

    /// The planned units' numbers: `planned_unit_numbers`, else `0..planned_units` (units are
    /// numbered from 0 when none has been removed), else `None`.
    pub fn planned_numbers(&self) -> Option<Vec<u32>> {
        self.planned_unit_numbers
            .clone()
            .or_else(|| self.planned_units.map(|n| (0..n.min(10_000)).collect()))
    }

    /// Where this unit sits in Juju, for the topology labels of its own targets and series.
    pub fn topology(&self) -> Topology {
        Topology {
            model: self.model.name.clone(),
            model_uuid: self.model.uuid.clone(),
            application: self.app_name.clone(),
            unit: self.unit_name(),
            charm_name: CHARM_NAME.to_owned(),
        }
    }

    /// This unit's name, `<app>/<n>`.
    pub fn unit_name(&self) -> String {
        format!("{}/{}", self.app_name, self.unit_id)
    }

    /// The relations on one endpoint, in id order.
    pub fn relations_on<'a>(
        &'a self,
        endpoint: &'a str,
    ) -> impl Iterator<Item = &'a RelationSnapshot> + 'a {
        self.relations
            .iter()
            .filter(move |r| r.endpoint == endpoint)
    }
}

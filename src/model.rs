//! A snapshot of everything the charm reads from the Juju model in one hook.
//!
//! The reconcile is a function of this snapshot: hooks fill it through the hook tools (each
//! databag read once), `render --model` reads it from a JSON file of the same shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A relation databag (all values are strings).
pub type Databag = BTreeMap<String, String>;

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
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub local_app_data: Databag,
    /// This unit's databag on the relation, as last written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
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
}

impl ModelSnapshot {
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

//! Juju topology as the observability libraries exchange it (`scrape_metadata`, rule labels).

use crate::ordered::{OMap, OVal};

/// Where a piece of telemetry comes from in Juju.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Model name.
    pub model: String,
    /// Full model UUID.
    pub model_uuid: String,
    /// Application name.
    pub application: String,
    /// Unit name (the leader that wrote the metadata), possibly empty.
    pub unit: String,
    /// Charm name, possibly empty.
    pub charm_name: String,
}

impl Topology {
    /// Build from a decoded `scrape_metadata` object; `None` when a required key is missing or
    /// not a string.
    pub(crate) fn from_metadata(meta: &OMap) -> Option<Topology> {
        let req = |k: &str| meta.get(k).and_then(OVal::as_str).map(str::to_owned);
        let opt = |k: &str| meta.get(k).and_then(OVal::as_str).unwrap_or("").to_owned();
        Some(Topology {
            model: req("model")?,
            model_uuid: req("model_uuid")?,
            application: req("application")?,
            unit: opt("unit"),
            charm_name: opt("charm_name"),
        })
    }

    /// Build from rule labels (`juju_model`, `juju_model_uuid`, `juju_application` required).
    pub(crate) fn from_labels(labels: &OMap) -> Option<Topology> {
        let req = |k: &str| labels.get(k).and_then(OVal::as_str).map(str::to_owned);
        let opt = |k: &str| {
            labels
                .get(k)
                .and_then(OVal::as_str)
                .unwrap_or("")
                .to_owned()
        };
        Some(Topology {
            model: req("juju_model")?,
            model_uuid: req("juju_model_uuid")?,
            application: req("juju_application")?,
            unit: opt("juju_unit"),
            charm_name: opt("juju_charm"),
        })
    }

    /// `<model>_<uuid[:8]>_<application>` with `/` replaced by `_`.
    pub fn identifier(&self) -> String {
        let short: String = self.model_uuid.chars().take(8).collect();
        format!("{}_{}_{}", self.model, short, self.application).replace('/', "_")
    }

    /// Labels that tag scrape targets: `juju_model`, `juju_model_uuid`, `juju_application`,
    /// and `juju_charm` when known, in that order.
    pub(crate) fn target_labels(&self) -> OMap {
        let mut m = OMap::new();
        m.insert("juju_model", OVal::str(&self.model));
        m.insert("juju_model_uuid", OVal::str(&self.model_uuid));
        m.insert("juju_application", OVal::str(&self.application));
        if !self.charm_name.is_empty() {
            m.insert("juju_charm", OVal::str(&self.charm_name));
        }
        m
    }

    /// Label matchers injected into alert expressions: model, model uuid, application.
    pub fn alert_matchers(&self) -> Vec<(String, String)> {
        vec![
            ("juju_model".into(), self.model.clone()),
            ("juju_model_uuid".into(), self.model_uuid.clone()),
            ("juju_application".into(), self.application.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_uses_short_uuid_and_no_slashes() {
        let t = Topology {
            model: "cos".into(),
            model_uuid: "f2c4a6d8-1234-4abc-8def-0123456789ab".into(),
            application: "a/b".into(),
            unit: String::new(),
            charm_name: String::new(),
        };
        assert_eq!(t.identifier(), "cos_f2c4a6d8_a_b");
    }
}

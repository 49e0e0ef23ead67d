//! Loading a recorded model (`shared/fixtures/.../*.json`: relation data written by real
//! charm libraries) into a [`ModelState`].

use std::path::Path;

use juju_hook::RelationData;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::state::{ModelError, ModelState};

#[derive(Deserialize)]
struct Fixture {
    #[serde(default)]
    leader: Option<bool>,
    #[serde(default)]
    model: Option<FixtureModel>,
    #[serde(default)]
    app_name: Option<String>,
    #[serde(default)]
    unit_id: Option<u32>,
    #[serde(default)]
    config: Map<String, Value>,
    #[serde(default)]
    relations: Vec<FixtureRelation>,
}

#[derive(Deserialize)]
struct FixtureModel {
    name: String,
    uuid: String,
}

#[derive(Deserialize)]
struct FixtureRelation {
    endpoint: String,
    id: u32,
    app: String,
    #[serde(default)]
    app_data: RelationData,
    #[serde(default)]
    units: Vec<FixtureUnit>,
}

#[derive(Deserialize)]
struct FixtureUnit {
    name: String,
    #[serde(default)]
    data: RelationData,
}

impl ModelState {
    /// Applies a fixture of shape `{leader, model: {name, uuid}, app_name, unit_id, config,
    /// relations: [{endpoint, id, app, app_data, units: [{name, data}]}]}` (every key
    /// optional): identity, leadership, config values (checked against config.yaml) and one
    /// relation per entry with the remote app's and units' databags.
    pub fn load_fixture(&mut self, path: &Path) -> Result<(), ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let fixture: Fixture = serde_json::from_str(&text).map_err(|e| ModelError::Parse {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if let Some(leader) = fixture.leader {
            self.leader = leader;
        }
        if let Some(model) = fixture.model {
            self.model_name = model.name;
            self.model_uuid = model.uuid;
        }
        if let Some(app) = fixture.app_name {
            self.app_name = app;
        }
        if let Some(unit) = fixture.unit_id {
            self.unit_number = unit;
        }
        for (key, value) in fixture.config {
            self.set_config(&key, value)?;
        }
        for rel in fixture.relations {
            let id = self.add_relation_with_id(&rel.endpoint, &rel.app, rel.id);
            self.set_remote_app_data(&id, &rel.app_data);
            for unit in rel.units {
                self.add_remote_unit(&id, &unit.name);
                self.set_remote_unit_data(&id, &unit.name, &unit.data);
            }
        }
        Ok(())
    }
}

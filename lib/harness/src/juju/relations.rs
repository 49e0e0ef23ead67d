//! Building the model's relations in tests, and the events that go with them.

use std::collections::{BTreeMap, BTreeSet};

use juju_hook::{
    merge_relation_set, Event, GoalStateEntry, RelationData, RelationEvent, RelationEventKind,
    RelationId,
};
use serde_json::{Map, Value};

use super::records::{unit_number, ActionRun, EndpointRole, Relation};
use super::state::{ModelState, GOAL_SINCE};

impl ModelState {
    /// The Juju-managed keys every unit databag holds.
    fn juju_unit_keys(address: &str) -> RelationData {
        [
            ("egress-subnets", format!("{address}/32")),
            ("ingress-address", address.to_string()),
            ("private-address", address.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Relates `endpoint` to `remote_app` and returns the new relation's id. For a peer
    /// endpoint pass this application's name. This unit's databag starts with the keys Juju
    /// manages (`ingress-address`, `private-address`, `egress-subnets`).
    pub fn add_relation(&mut self, endpoint: &str, remote_app: &str) -> RelationId {
        let id = self.relations.iter().map(|r| r.id + 1).max().unwrap_or(0);
        self.add_relation_with_id(endpoint, remote_app, id)
    }

    /// Like [`ModelState::add_relation`] with a chosen relation number (must be unused).
    pub fn add_relation_with_id(
        &mut self,
        endpoint: &str,
        remote_app: &str,
        id: u32,
    ) -> RelationId {
        assert!(
            self.relations.iter().all(|r| r.id != id),
            "relation id {id} is already used"
        );
        self.relations.push(Relation {
            id,
            endpoint: endpoint.to_string(),
            remote_app: remote_app.to_string(),
            remote_app_data: RelationData::new(),
            remote_units: BTreeMap::new(),
            departed_units: BTreeSet::new(),
            local_unit_data: Self::juju_unit_keys(&self.address),
            local_app_data: RelationData::new(),
            broken: false,
        });
        self.relations.sort_by_key(|r| r.id);
        RelationId::new(endpoint, id)
    }

    /// Whether a relation is a peer relation (its remote side is this application).
    pub fn is_peer(&self, relation: &Relation) -> bool {
        relation.remote_app == self.app_name
            || self
                .endpoints
                .get(&relation.endpoint)
                .is_some_and(|e| e.role == EndpointRole::Peers)
    }

    /// The relation with this id, live or broken.
    pub fn relation(&self, relation: &RelationId) -> Option<&Relation> {
        self.relations
            .iter()
            .find(|r| r.id == relation.id && r.endpoint == relation.endpoint)
    }

    /// Mutable access to a relation; panics if there is none (a test bug).
    pub fn relation_mut(&mut self, relation: &RelationId) -> &mut Relation {
        self.relations
            .iter_mut()
            .find(|r| r.id == relation.id && r.endpoint == relation.endpoint)
            .unwrap_or_else(|| panic!("no relation {relation}"))
    }

    /// A remote unit joins (or rejoins) a relation; its databag starts with Juju's keys.
    pub fn add_remote_unit(&mut self, relation: &RelationId, unit: &str) -> &mut Self {
        assert!(
            unit != self.unit_name(),
            "{unit} is this unit: it is never its own remote unit"
        );
        let n = unit_number(unit) % 240;
        let address = format!("10.1.{}.{}", 100 + relation.id % 150, 10 + n);
        let rel = self.relation_mut(relation);
        rel.departed_units.remove(unit);
        rel.remote_units
            .entry(unit.to_string())
            .or_insert_with(|| Self::juju_unit_keys(&address));
        self
    }

    /// Merges keys into the remote application's databag (`""` deletes), as if the remote
    /// leader ran `relation-set --app`.
    pub fn set_remote_app_data(&mut self, relation: &RelationId, data: &RelationData) -> &mut Self {
        merge_relation_set(&mut self.relation_mut(relation).remote_app_data, data);
        self
    }

    /// Merges keys into a remote unit's databag (`""` deletes); adds the unit if needed.
    pub fn set_remote_unit_data(
        &mut self,
        relation: &RelationId,
        unit: &str,
        data: &RelationData,
    ) -> &mut Self {
        if !self.relation_mut(relation).remote_units.contains_key(unit) {
            self.add_remote_unit(relation, unit);
        }
        let rel = self.relation_mut(relation);
        merge_relation_set(rel.remote_units.get_mut(unit).expect("added above"), data);
        self
    }

    /// A remote unit departs: it leaves `relation-list`, its data stays readable.
    pub fn remove_remote_unit(&mut self, relation: &RelationId, unit: &str) -> &mut Self {
        let rel = self.relation_mut(relation);
        assert!(
            rel.remote_units.contains_key(unit),
            "{unit} is not in relation {relation}"
        );
        rel.departed_units.insert(unit.to_string());
        self
    }

    /// The relation is removed (`-relation-broken`): all remote units depart and hook tools
    /// answer "relation not found" for it from now on.
    pub fn remove_relation(&mut self, relation: &RelationId) -> &mut Self {
        let rel = self.relation_mut(relation);
        let units: Vec<String> = rel.remote_units.keys().cloned().collect();
        rel.departed_units.extend(units);
        rel.broken = true;
        self
    }

    /// The event of `kind` on `relation`, with `JUJU_REMOTE_APP` from the relation.
    /// `remote_unit` is the remote (or, for departed, departing) unit, `None` for created,
    /// broken and changes of the remote application's databag.
    pub fn relation_event(
        &self,
        relation: &RelationId,
        kind: RelationEventKind,
        remote_unit: Option<&str>,
    ) -> Event {
        let rel = self
            .relation(relation)
            .unwrap_or_else(|| panic!("no relation {relation}"));
        Event::Relation(RelationEvent {
            kind,
            relation: relation.clone(),
            remote_app: rel.remote_app.clone(),
            remote_unit: remote_unit.map(str::to_string),
            departing_unit: (kind == RelationEventKind::Departed)
                .then(|| remote_unit.map(str::to_string))
                .flatten(),
        })
    }

    /// `goal-state` plans units `<app>/0` .. `<app>/<count - 1>`, all active.
    pub fn set_planned_units(&mut self, count: u32) -> &mut Self {
        self.goal_units = (0..count)
            .map(|n| {
                let entry = GoalStateEntry {
                    status: "active".into(),
                    since: Some(GOAL_SINCE.into()),
                };
                (format!("{}/{n}", self.app_name), entry)
            })
            .collect();
        self
    }

    /// Starts running action `name` with `params` and returns its event.
    pub fn start_action(&mut self, name: &str, params: Map<String, Value>) -> Event {
        self.last_action_id += 1;
        let id = self.last_action_id.to_string();
        self.action = Some(ActionRun {
            name: name.to_string(),
            id: id.clone(),
            params,
            ..ActionRun::default()
        });
        Event::Action {
            name: name.to_string(),
            id,
        }
    }
}

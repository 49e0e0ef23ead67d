//! Which container resources the charm manages on the StatefulSet, and what to set or remove
//! given the config and that memory.
//!
//! The charm remembers the resources whose limit and request it set in this unit's Juju state
//! ([`STATE_KEY`], e.g. `cpu,memory`): that outlives the pod restart the patch itself causes,
//! which the charm directory and the workload container do not. A resource whose option is
//! emptied is removed only when it is remembered, so limits someone else set are never
//! touched.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::core::quantity::Quantity;

/// The unit-state key holding the managed resources, comma-separated (empty: none).
pub const STATE_KEY: &str = "k8s-managed-resources";

/// A container resource the charm may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// `cpu`.
    Cpu,
    /// `memory`.
    Memory,
}

impl Resource {
    /// Every resource, in order.
    pub const ALL: [Resource; 2] = [Resource::Cpu, Resource::Memory];

    /// The name Kubernetes (and the config) use.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Cpu => "cpu",
            Resource::Memory => "memory",
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The resources the charm manages: whose limit and request it set and has not removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Managed(BTreeSet<Resource>);

impl Managed {
    /// From the unit state (all of it); names it does not know are ignored.
    pub fn from_state(state: &BTreeMap<String, String>) -> Self {
        let value = state.get(STATE_KEY).map_or("", String::as_str);
        Self(
            value
                .split(',')
                .filter_map(|name| Resource::ALL.into_iter().find(|r| r.name() == name.trim()))
                .collect(),
        )
    }

    /// The unit-state write that records this set (`state-set` cannot delete a key: an empty
    /// value stands for none).
    pub fn to_state(&self) -> BTreeMap<String, String> {
        let names: Vec<&str> = self.0.iter().map(|r| r.name()).collect();
        BTreeMap::from([(STATE_KEY.to_string(), names.join(","))])
    }

    /// Whether `resource` is managed.
    pub fn contains(&self, resource: Resource) -> bool {
        self.0.contains(&resource)
    }

    /// Whether nothing is managed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<Resource> for Managed {
    fn from_iter<I: IntoIterator<Item = Resource>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// What to do with the container's resources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitsPlan {
    /// Limit and request to set, by resource.
    pub set: BTreeMap<Resource, Quantity>,
    /// Limit and request to remove: managed, and no option asks for them any more.
    pub remove: BTreeSet<Resource>,
}

impl LimitsPlan {
    /// Decides from the options (`None` = empty) and what the charm manages: every option set
    /// is set; a managed resource whose option is empty is removed; an unmanaged one is left
    /// alone.
    pub fn decide(cpu: Option<&Quantity>, memory: Option<&Quantity>, managed: &Managed) -> Self {
        let mut plan = LimitsPlan::default();
        for (resource, option) in [(Resource::Cpu, cpu), (Resource::Memory, memory)] {
            match option {
                Some(q) => {
                    plan.set.insert(resource, q.clone());
                }
                None if managed.contains(resource) => {
                    plan.remove.insert(resource);
                }
                None => {}
            }
        }
        plan
    }

    /// Whether the plan touches the StatefulSet at all.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }

    /// What the charm manages once the plan is in place: what it set.
    pub fn managed_after(&self) -> Managed {
        self.set.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap()
    }

    fn managed(value: &str) -> Managed {
        Managed::from_state(&BTreeMap::from([(
            STATE_KEY.to_string(),
            value.to_string(),
        )]))
    }

    #[test]
    fn set_options_are_set_whatever_is_managed() {
        for remembered in ["", "cpu", "cpu,memory"] {
            let plan = LimitsPlan::decide(Some(&q("500m")), Some(&q("2Gi")), &managed(remembered));
            assert_eq!(
                plan.set,
                BTreeMap::from([(Resource::Cpu, q("500m")), (Resource::Memory, q("2Gi"))])
            );
            assert!(plan.remove.is_empty(), "{remembered}");
            assert_eq!(plan.managed_after(), managed("cpu,memory"));
        }
    }

    #[test]
    fn an_emptied_option_removes_only_what_the_charm_manages() {
        let plan = LimitsPlan::decide(Some(&q("1")), None, &managed("cpu,memory"));
        assert_eq!(plan.set, BTreeMap::from([(Resource::Cpu, q("1"))]));
        assert_eq!(plan.remove, BTreeSet::from([Resource::Memory]));
        assert_eq!(plan.managed_after(), managed("cpu"));

        let plan = LimitsPlan::decide(None, None, &managed("memory"));
        assert!(plan.set.is_empty());
        assert_eq!(plan.remove, BTreeSet::from([Resource::Memory]));
        assert!(plan.managed_after().is_empty());
    }

    #[test]
    fn nothing_managed_and_nothing_set_is_no_plan() {
        let plan = LimitsPlan::decide(None, None, &Managed::default());
        assert!(plan.is_empty());
        assert!(plan.managed_after().is_empty());
        // Memory set by someone else is never the charm's to remove.
        let plan = LimitsPlan::decide(Some(&q("2")), None, &managed("cpu"));
        assert!(plan.remove.is_empty());
    }

    #[test]
    fn the_state_value_round_trips_and_tolerates_junk() {
        let both: Managed = Resource::ALL.into_iter().collect();
        assert_eq!(both.to_state()[STATE_KEY], "cpu,memory");
        assert_eq!(Managed::from_state(&both.to_state()), both);
        assert_eq!(Managed::default().to_state()[STATE_KEY], "");
        assert!(Managed::from_state(&Managed::default().to_state()).is_empty());
        assert!(Managed::from_state(&BTreeMap::new()).is_empty());
        assert_eq!(managed(" memory ,gpu,,"), managed("memory"));
    }
}

//! Kubernetes options through the whole charm (fake model and Pebble, real promtool), outside
//! a cluster: the API is used only when an option needs it, and when it cannot be reached the
//! unit is Blocked with the reason while Prometheus is configured and runs as usual. A
//! percentage retention becomes a size once the volume's capacity is known. Which limits the
//! charm set is kept in the unit state, so emptying an option removes exactly those: checked
//! with the Kubernetes step stood in for (`reconcile_with`).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use crate::common::Charm;
use juju_hook::{Event, StatusKind};
use prometheus_rs_k8s::core::desired::desired_for;
use prometheus_rs_k8s::core::limits::Resource;
use prometheus_rs_k8s::core::limits::STATE_KEY;
use prometheus_rs_k8s::core::model::ModelSnapshot;
use prometheus_rs_k8s::effects::k8s::{Outcome, Wanted, Workload};
use prometheus_rs_k8s::hook::reconcile::reconcile_with;
use serde_json::json;

#[test]
fn without_kubernetes_options_no_api_is_needed_and_the_unit_is_active() {
    let charm = Charm::leader();
    charm.deploy();
    charm.assert_active();
}

#[test]
fn limits_outside_a_cluster_block_with_the_reason_and_the_workload_still_runs() {
    let charm = Charm::leader();
    charm.set_config("cpu", "500m");
    charm.set_config("memory", "2Gi");
    charm.deploy();
    let status = charm.status();
    assert_eq!(status.kind, juju_hook::StatusKind::Blocked, "{status:?}");
    assert!(
        status
            .message
            .starts_with("Kubernetes resources: no in-cluster Kubernetes configuration"),
        "{status:?}"
    );
    assert!(charm.config_yaml().contains("job_name: prometheus"));

    // Emptying them goes back to Active without any API call.
    charm.configure("cpu", "");
    charm.configure("memory", "");
    charm.assert_active();
}

#[test]
fn invalid_quantities_and_percentages_are_config_errors() {
    let charm = Charm::leader();
    charm.deploy();
    charm.configure("cpu", "half");
    let status = charm.status();
    assert_eq!(status.kind, juju_hook::StatusKind::Blocked);
    assert!(status.message.contains("cpu"), "{status:?}");
    charm.configure("cpu", "1");
    charm.configure("maximum_retention_size", "120%");
    let status = charm.status();
    assert!(
        status.message.contains("maximum_retention_size"),
        "{status:?}"
    );
}

fn snapshot(capacity: Option<&str>) -> ModelSnapshot {
    let mut value = json!({
        "leader": true,
        "model": {"name": "cos", "uuid": "00000000-0000-4000-8000-000000000000"},
        "app_name": "prom", "unit_id": 0, "fqdn": "prom-0.prom-endpoints.cos.svc.cluster.local",
        "config": {"maximum_retention_size": "80%"},
    });
    if let Some(c) = capacity {
        value["pvc_capacity"] = json!(c);
    }
    serde_json::from_value(value).unwrap()
}

fn prometheus_command(snapshot: &ModelSnapshot) -> String {
    let desired = desired_for(snapshot).unwrap();
    desired.workload.layer.services["prometheus"]
        .command
        .clone()
        .unwrap()
}

#[test]
fn a_percentage_retention_is_a_share_of_the_database_volume() {
    let command = prometheus_command(&snapshot(Some("10Gi")));
    assert!(
        command.contains("--storage.tsdb.retention.size=8192MB"),
        "{command}"
    );
    // Capacity unknown (API refused): no size flag rather than a wrong one.
    let command = prometheus_command(&snapshot(None));
    assert!(!command.contains("retention.size"), "{command}");
}

/// What a hook asked of the cluster: resources set (with their quantity) and removed.
type Asked = (Vec<(Resource, String)>, BTreeSet<Resource>);

/// A stand-in for the cluster: records what each hook asked and answers `answer`.
struct Cluster {
    asked: RefCell<Vec<Wanted>>,
    answer: RefCell<Outcome>,
}

impl Cluster {
    /// A cluster that applies whatever is asked.
    fn trusting() -> Cluster {
        Cluster {
            asked: RefCell::new(Vec::new()),
            answer: RefCell::new(Outcome {
                patched: true,
                limits_in_place: true,
                ..Outcome::default()
            }),
        }
    }

    fn refuse(&self, problem: &str) {
        *self.answer.borrow_mut() = Outcome {
            problem: Some(problem.to_string()),
            ..Outcome::default()
        };
    }

    fn allow(&self, patched: bool) {
        *self.answer.borrow_mut() = Outcome {
            patched,
            limits_in_place: true,
            ..Outcome::default()
        };
    }

    fn sync(&self, workload: &Workload, wanted: &Wanted) -> Outcome {
        assert_eq!(
            (workload.app.as_str(), workload.unit_number),
            ("prometheus-rs-k8s", 0)
        );
        self.asked.borrow_mut().push(wanted.clone());
        self.answer.borrow().clone()
    }

    /// What the last hook asked: (resources set, resources removed); `None` if it did not ask.
    fn last_asked(&self) -> Option<Asked> {
        let asked = self.asked.borrow();
        assert!(asked.len() <= 1, "one sync per hook: {asked:?}");
        asked.first().cloned().map(|w| {
            let set = w
                .limits
                .set
                .iter()
                .map(|(r, q)| (*r, q.as_str().to_string()))
                .collect();
            (set, w.limits.remove)
        })
    }
}

/// A deployed leader unit, and a cluster that lets it patch its StatefulSet.
fn deployed_in_a_trusting_cluster() -> (Charm, Cluster) {
    let charm = Charm::leader();
    charm.deploy();
    (charm, Cluster::trusting())
}

/// Runs config-changed with `cluster` for Kubernetes; commits what the hook wrote if `commit`
/// (as Juju does when the hook exits 0), else discards it (a hook killed midway).
fn config_changed(charm: &Charm, cluster: &Cluster, commit: bool) {
    let ctx = charm.sim.context(&Event::ConfigChanged).unwrap();
    charm.reset_records();
    cluster.asked.borrow_mut().clear();
    let result = reconcile_with(&ctx, &charm.sim.juju, &charm.sim.access, &|w, wanted| {
        cluster.sync(w, wanted)
    });
    result.expect("the hook succeeds");
    if commit {
        charm.sim.juju.commit();
    } else {
        charm.sim.juju.rollback();
    }
}

/// The committed unit state's record of managed resources.
fn remembered(charm: &Charm) -> Option<String> {
    charm.sim.juju.state().stored.get(STATE_KEY).cloned()
}

fn calls(charm: &Charm, tool: &str) -> u64 {
    charm.sim.juju.state().call_count(tool)
}

fn set(pairs: &[(Resource, &str)]) -> Vec<(Resource, String)> {
    pairs.iter().map(|(r, q)| (*r, q.to_string())).collect()
}

#[test]
fn limits_set_are_remembered_in_the_unit_state_and_removed_when_emptied() {
    let (charm, cluster) = deployed_in_a_trusting_cluster();

    // Nothing set, nothing remembered: no API at all, one state-get, no state-set.
    config_changed(&charm, &cluster, true);
    assert_eq!(cluster.last_asked(), None);
    assert_eq!(
        (calls(&charm, "state-get"), calls(&charm, "state-set")),
        (1, 0)
    );
    assert_eq!(remembered(&charm), None);

    charm.set_config("cpu", "500m");
    charm.set_config("memory", "2Gi");
    config_changed(&charm, &cluster, true);
    let both = set(&[(Resource::Cpu, "500m"), (Resource::Memory, "2Gi")]);
    assert_eq!(cluster.last_asked(), Some((both.clone(), BTreeSet::new())));
    assert_eq!(remembered(&charm).as_deref(), Some("cpu,memory"));
    charm.assert_active();

    // Unchanged: asked again (a no-op for the API), the record is not rewritten.
    cluster.allow(false);
    config_changed(&charm, &cluster, true);
    assert_eq!(cluster.last_asked(), Some((both, BTreeSet::new())));
    assert_eq!(calls(&charm, "state-set"), 0);

    // cpu emptied: removed; memory kept.
    cluster.allow(true);
    charm.set_config("cpu", "");
    config_changed(&charm, &cluster, true);
    let memory = set(&[(Resource::Memory, "2Gi")]);
    assert_eq!(
        cluster.last_asked(),
        Some((memory, BTreeSet::from([Resource::Cpu])))
    );
    assert_eq!(remembered(&charm).as_deref(), Some("memory"));

    // memory emptied too: removed, and nothing is left to manage.
    charm.set_config("memory", "");
    config_changed(&charm, &cluster, true);
    assert_eq!(
        cluster.last_asked(),
        Some((Vec::new(), BTreeSet::from([Resource::Memory])))
    );
    assert_eq!(remembered(&charm).as_deref(), Some(""));
    charm.assert_active();

    // From now on the API is not needed at all.
    config_changed(&charm, &cluster, true);
    assert_eq!(cluster.last_asked(), None);
    assert_eq!(calls(&charm, "state-set"), 0);
}

#[test]
fn a_refused_removal_blocks_with_the_reason_and_is_retried_until_it_succeeds() {
    let (charm, cluster) = deployed_in_a_trusting_cluster();
    charm.set_config("memory", "2Gi");
    config_changed(&charm, &cluster, true);
    assert_eq!(remembered(&charm).as_deref(), Some("memory"));

    let refusal = "cpu/memory limits need \"juju trust prometheus-rs-k8s --scope=cluster\": \
                   statefulsets is forbidden";
    cluster.refuse(refusal);
    charm.set_config("memory", "");
    config_changed(&charm, &cluster, true);
    assert_eq!(
        cluster.last_asked(),
        Some((Vec::new(), BTreeSet::from([Resource::Memory])))
    );
    let status = charm.status();
    assert_eq!(status.kind, StatusKind::Blocked, "{status:?}");
    assert_eq!(status.message, refusal);
    assert_eq!(
        remembered(&charm).as_deref(),
        Some("memory"),
        "still managed"
    );
    assert!(
        charm.config_yaml().contains("job_name: prometheus"),
        "the rest works"
    );

    // Trusted now: the next hook removes it.
    cluster.allow(true);
    config_changed(&charm, &cluster, true);
    assert_eq!(
        cluster.last_asked(),
        Some((Vec::new(), BTreeSet::from([Resource::Memory])))
    );
    assert_eq!(remembered(&charm).as_deref(), Some(""));
    charm.assert_active();
}

#[test]
fn a_hook_that_dies_after_the_patch_is_recorded_by_the_next_one() {
    // The patch restarts the pod, which may kill the hook before Juju commits its state-set.
    let (charm, cluster) = deployed_in_a_trusting_cluster();
    charm.set_config("cpu", "2");
    config_changed(&charm, &cluster, false);
    assert_eq!(remembered(&charm), None);
    // After the restart the limit is in place: no patch, but now it is remembered.
    cluster.allow(false);
    config_changed(&charm, &cluster, true);
    assert_eq!(calls(&charm, "state-set"), 1);
    assert_eq!(remembered(&charm).as_deref(), Some("cpu"));
}

#[test]
fn limits_the_charm_never_set_are_never_touched() {
    let (charm, cluster) = deployed_in_a_trusting_cluster();
    // Someone else manages memory: the charm only ever set cpu.
    charm.set_config("cpu", "1");
    config_changed(&charm, &cluster, true);
    charm.set_config("cpu", "");
    config_changed(&charm, &cluster, true);
    let (_, removed) = cluster.last_asked().unwrap();
    assert_eq!(removed, BTreeSet::from([Resource::Cpu]));
    // A record of a resource the charm does not know is ignored, not removed.
    charm
        .sim
        .juju
        .state()
        .stored
        .insert(STATE_KEY.to_string(), "gpu".to_string());
    config_changed(&charm, &cluster, true);
    assert_eq!(cluster.last_asked(), None);
}

#[test]
fn a_removal_outside_a_cluster_blocks_with_the_reason() {
    let charm = Charm::leader();
    charm.deploy();
    // A limit the charm set earlier (in a cluster) whose option is now empty.
    charm.sim.juju.state().stored = BTreeMap::from([(STATE_KEY.to_string(), "cpu".to_string())]);
    charm.ok(&Event::ConfigChanged);
    let status = charm.status();
    assert_eq!(status.kind, StatusKind::Blocked, "{status:?}");
    assert!(
        status
            .message
            .starts_with("Kubernetes resources: no in-cluster Kubernetes configuration"),
        "{status:?}"
    );
    assert_eq!(
        remembered(&charm).as_deref(),
        Some("cpu"),
        "kept until removed"
    );
}

/// The volume's capacity is read once and remembered in the unit state: later hooks that are
/// not about a possible resize or `juju trust` (here relation-changed) ask Kubernetes nothing,
/// and a failed read keeps the remembered capacity rather than dropping the size limit.
#[test]
fn the_volume_capacity_is_remembered_and_survives_a_failed_read() {
    use prometheus_rs_k8s::effects::k8s::CAPACITY_STATE_KEY;
    let mut charm = Charm::leader();
    charm.sim.access.database_capacity = None;
    charm.deploy();
    let cluster = Cluster::trusting();
    *cluster.answer.borrow_mut() = Outcome {
        pvc_capacity: Some("10Gi".into()),
        ..Outcome::default()
    };
    config_changed(&charm, &cluster, true);
    assert!(
        cluster.asked.borrow()[0].pvc_capacity,
        "config-changed reads it"
    );
    assert_eq!(
        charm
            .sim
            .juju
            .state()
            .stored
            .get(CAPACITY_STATE_KEY)
            .cloned(),
        Some("10Gi".to_string())
    );
    let command = |c: &Charm| {
        c.sim.pebble.plan().services["prometheus"]
            .command
            .clone()
            .unwrap()
    };
    assert!(command(&charm).contains("--storage.tsdb.retention.size=8192MB"));
    charm.assert_active();

    // A relation hook: remembered, no API call at all.
    relation_changed(&charm, &cluster);
    assert!(cluster.asked.borrow().is_empty(), "no API call");
    assert!(command(&charm).contains("--storage.tsdb.retention.size=8192MB"));

    // A read that fails (trust removed, API down) keeps the remembered capacity.
    *cluster.answer.borrow_mut() = Outcome {
        capacity_problem: Some("refused".into()),
        ..Outcome::default()
    };
    config_changed(&charm, &cluster, true);
    assert!(command(&charm).contains("--storage.tsdb.retention.size=8192MB"));
    charm.assert_active();
}

/// An untrusted unit (the capacity read refused) records the failure: relation hooks do not
/// ask the API again; the next refresh event (config-changed) does, and a grant is picked up.
#[test]
fn a_refused_capacity_read_is_not_retried_before_a_refresh_event() {
    let mut charm = Charm::leader();
    charm.sim.access.database_capacity = None;
    charm.deploy();
    let cluster = Cluster::trusting();
    *cluster.answer.borrow_mut() = Outcome {
        capacity_problem: Some("forbidden".into()),
        ..Outcome::default()
    };
    config_changed(&charm, &cluster, true);
    assert_eq!(charm.status().kind, StatusKind::Active);
    assert!(charm.status().message.starts_with("no TSDB size limit"));

    relation_changed(&charm, &cluster);
    assert!(cluster.asked.borrow().is_empty(), "not retried");

    // `juju trust`, then config-changed: read again and applied.
    *cluster.answer.borrow_mut() = Outcome {
        pvc_capacity: Some("2Gi".into()),
        ..Outcome::default()
    };
    config_changed(&charm, &cluster, true);
    charm.assert_active();
    let command = charm.sim.pebble.plan().services["prometheus"]
        .command
        .clone()
        .unwrap();
    assert!(
        command.contains("--storage.tsdb.retention.size=1638MB"),
        "{command}"
    );
}

/// A relation joins and its unit's data changes (a hook that is not a capacity-refresh event),
/// with the record of API calls cleared first.
fn relation_changed(charm: &Charm, cluster: &Cluster) {
    let rel = {
        let mut state = charm.sim.juju.state();
        let rel = state.add_relation("metrics-endpoint", "app");
        state.add_remote_unit(&rel, "app/0");
        rel
    };
    let event = charm.relation_event(&rel, juju_hook::RelationEventKind::Changed, Some("app/0"));
    let ctx = charm.sim.context(&event).unwrap();
    cluster.asked.borrow_mut().clear();
    reconcile_with(&ctx, &charm.sim.juju, &charm.sim.access, &|w, wanted| {
        cluster.sync(w, wanted)
    })
    .unwrap();
    charm.sim.juju.commit();
}

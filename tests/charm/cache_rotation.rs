//! Routine events are cheap and the databag cache still cannot stay wrong for long:
//! update-status re-reads a rotating slice of the relations within a budget of hook-tool calls,
//! so a databag changed without a hook (which Juju never does) is seen within a bounded number
//! of update-status runs; pebble-ready after a container wipe re-pushes every file from what
//! the charm container keeps, without re-reading Juju; a failed hook leaves no cache.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::databag_cache::{app_data, unit_data};
use charm_harness::ModelState;
use charm_sim::{charm_model_state, Simulation};
use juju_hook::{CachedHookTools, Event, RelationId, WorkloadEventKind};
use prometheus_rs_k8s::hook::databag_cache::{self, CACHE_FILE};
use prometheus_rs_k8s::hook::dispatch::handle_event;
use prometheus_rs_k8s::hook::event_policy::UPDATE_STATUS_READ_BUDGET;

const APPS: u8 = 30;
const UNITS: u8 = 5;
/// The documented bound (`juju_hook::cache::Rotation`): each update-status re-reads as many
/// relations as fit in the budget at `relation-list` + one `relation-get` per remote unit +
/// the remote application's databag, at least one; so all are re-read within this many runs.
fn rotation_bound(relations: usize, units: usize) -> usize {
    let per_run = (UPDATE_STATUS_READ_BUDGET / (units + 2)).max(1);
    relations.div_ceil(per_run)
}

struct Unit {
    sim: Simulation,
    cache: PathBuf,
    _dir: tempfile::TempDir,
}

impl Unit {
    /// A leader unit related to `APPS` applications of `UNITS` units each.
    fn new() -> Unit {
        let dir = tempfile::tempdir().unwrap();
        let mut state: ModelState = charm_model_state().unwrap();
        state.set_leader(true);
        state.charm_dir = dir.path().to_path_buf();
        for i in 0..APPS {
            let app = format!("app{i}");
            let id = state.add_relation("metrics-endpoint", &app);
            state.set_remote_app_data(&id, &app_data(&app, "/metrics"));
            for n in 0..UNITS {
                let unit = format!("{app}/{n}");
                state.set_remote_unit_data(&id, &unit, &unit_data(&unit, &format!("10.0.{i}.{n}")));
            }
        }
        let sim = Simulation::start(state, "2.42.0").unwrap();
        sim.pebble.on_exec_host("promtool", "/usr/bin/promtool");
        sim.pebble.mount_storage("/var/lib/prometheus");
        let unit = Unit {
            sim,
            cache: dir.path().join(CACHE_FILE),
            _dir: dir,
        };
        for event in [
            Event::Install,
            Event::LeaderElected,
            Event::ConfigChanged,
            pebble_ready(),
            Event::Start,
        ] {
            assert!(unit.run(&event, false), "{}", event.name());
        }
        unit
    }

    /// Runs `event` as `main` does; `fail` makes the hook fail after the charm ran.
    fn run(&self, event: &Event, fail: bool) -> bool {
        let ctx = self.sim.context(event).unwrap();
        self.sim.juju.state().calls.clear();
        let tools = CachedHookTools::open_at(
            &ctx,
            &self.sim.juju,
            &databag_cache::settings(),
            Some(self.cache.clone()),
        );
        let ok = handle_event(&ctx, &tools, &self.sim.access).is_ok() && !fail;
        if ok {
            self.sim.juju.commit();
        } else {
            self.sim.juju.rollback();
        }
        tools.finish(ok);
        ok
    }

    /// prometheus.yml as Prometheus sees it (targets inlined).
    fn config(&self) -> String {
        crate::common::effective_config::of_container(&self.sim.pebble)
    }

    fn total_calls(&self) -> u64 {
        self.sim.juju.state().total_calls()
    }

    fn relations(&self) -> Vec<RelationId> {
        let state = self.sim.juju.state();
        state
            .relations
            .iter()
            .map(|r| RelationId::new(r.endpoint.clone(), r.id))
            .collect()
    }

    /// Every file in the workload container, by path, with its content.
    fn files(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else {
                    let rel = path.strip_prefix(root).unwrap().to_path_buf();
                    out.insert(rel, std::fs::read(&path).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        let root = self.sim.pebble.fs_root();
        walk(root, root, &mut out);
        out
    }
}

fn pebble_ready() -> Event {
    Event::Workload {
        container: "prometheus".into(),
        kind: WorkloadEventKind::PebbleReady,
    }
}

#[test]
fn update_status_costs_at_most_20_calls_and_sees_a_change_without_a_hook_within_the_bound() {
    let unit = Unit::new();
    let relations = unit.relations();
    let bound = rotation_bound(relations.len(), UNITS.into());
    assert!(bound > 1, "the model must need more than one run: {bound}");
    // Changes injected at different points of the rotation, in relations at its start, middle
    // and end, each made without the relation-changed hook Juju would run.
    for (step, (index, warmup)) in [(0, 0), (relations.len() / 2, 3), (relations.len() - 1, 7)]
        .into_iter()
        .enumerate()
    {
        for _ in 0..warmup {
            assert!(unit.run(&Event::UpdateStatus, false));
        }
        let id = &relations[index];
        let unit_name = format!("app{index}/3");
        let address = format!("10.9.{step}.3");
        unit.sim.juju.state().set_remote_unit_data(
            id,
            &unit_name,
            &unit_data(&unit_name, &address),
        );
        assert!(unit.run(&Event::ConfigChanged, false));
        assert!(!unit.config().contains(&address), "served from the cache");
        let mut runs = 0;
        while !unit.config().contains(&address) {
            runs += 1;
            assert!(
                runs <= bound,
                "step {step}: relation {id} not re-read within {bound} update-status runs"
            );
            assert!(unit.run(&Event::UpdateStatus, false));
            assert!(
                unit.total_calls() <= 20,
                "update-status made {} hook-tool calls: {:?}",
                unit.total_calls(),
                unit.sim.juju.state().calls
            );
        }
    }
}

#[test]
fn a_full_rotation_reads_every_relation_once_and_relists_every_endpoint() {
    let unit = Unit::new();
    let relations = unit.relations();
    let bound = rotation_bound(relations.len(), UNITS.into());
    let mut relation_lists = 0;
    let mut relation_ids = 0;
    let mut ports = 0;
    for _ in 0..bound.max(prometheus_rs_k8s::core::endpoints::ENDPOINTS.len()) {
        assert!(unit.run(&Event::UpdateStatus, false));
        let state = unit.sim.juju.state();
        relation_lists += state.call_count("relation-list");
        relation_ids += state.call_count("relation-ids");
        ports += state.call_count("opened-ports");
    }
    // relation-list: once per relation for its units (the remote application's name, which
    // never changes, is not asked again).
    assert!(
        relation_lists >= relations.len() as u64,
        "{relation_lists} relation-list calls for {} relations",
        relations.len()
    );
    assert!(relation_ids >= prometheus_rs_k8s::core::endpoints::ENDPOINTS.len() as u64);
    assert!(ports >= 1, "the ports are asked for once a round");
}

#[test]
fn pebble_ready_after_a_container_wipe_restores_every_file_without_reading_juju() {
    let unit = Unit::new();
    let before = unit.files();
    assert!(before.keys().any(|p| p.ends_with("prometheus.yml")));
    unit.sim.pebble.restart_container(true);
    assert!(
        unit.files()
            .keys()
            .all(|p| p.starts_with("var/lib/prometheus")),
        "the wipe left files outside storage"
    );
    assert!(unit.run(&pebble_ready(), false));
    let calls = unit.sim.juju.state().calls.clone();
    assert!(unit.total_calls() <= 20, "{calls:?}");
    assert_eq!(calls.get("relation-get"), None, "{calls:?}");
    assert_eq!(calls.get("relation-list"), None, "{calls:?}");
    let after = unit.files();
    // The manifest is the new container's: a new generation, the same files.
    let manifest = Path::new("etc/prometheus/.charm-applied.json");
    let changed: Vec<_> = before
        .iter()
        .filter(|(p, content)| *p != manifest && after.get(*p) != Some(*content))
        .map(|(p, _)| p)
        .collect();
    assert!(changed.is_empty(), "not restored as they were: {changed:?}");
    let parse = |files: &BTreeMap<PathBuf, Vec<u8>>| {
        serde_json::from_slice::<prometheus_rs_k8s::core::manifest::Manifest>(&files[manifest])
            .unwrap()
    };
    let (old, new) = (parse(&before), parse(&after));
    assert_eq!(old.files, new.files);
    assert_ne!(old.generation, new.generation);
}

#[test]
fn a_failed_update_status_leaves_no_cache_and_the_next_hook_reads_everything() {
    let unit = Unit::new();
    assert!(unit.cache.exists());
    let id = &unit.relations()[APPS as usize - 1];
    let name = format!("app{}/0", APPS - 1);
    unit.sim
        .juju
        .state()
        .set_remote_unit_data(id, &name, &unit_data(&name, "10.9.9.9"));
    assert!(!unit.run(&Event::UpdateStatus, true));
    assert!(!unit.cache.exists(), "a failed hook left a cache");
    assert!(unit.run(&Event::ConfigChanged, false));
    assert!(unit.config().contains("10.9.9.9"));
    assert!(
        unit.sim.juju.state().call_count("relation-get") >= u64::from(APPS) * u64::from(UNITS),
        "everything was read again"
    );
    assert!(unit.cache.exists());
}

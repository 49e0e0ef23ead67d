//! The databag cache changes how many hook tools a hook runs, never what the charm does: the
//! same events give the same prometheus.yml, relation data, status and ports with and without
//! it; a failed hook leaves no cache; a cache of another unit, model or charm version is
//! ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use charm_harness::ModelState;
use charm_sim::{charm_model_state, Simulation};
use juju_hook::cache::CacheFile;
use juju_hook::CachedHookTools;
use juju_hook::{
    Event, GoalState, HookToolError, HookTools, LogLevel, NetworkInfo, Port, RelationData,
    RelationEventKind, RelationId, Status, StatusKind, WorkloadEventKind,
};
use prometheus_rs_k8s::core::endpoints::ENDPOINTS;
use prometheus_rs_k8s::hook::databag_cache::{self, CACHE_FILE};
use prometheus_rs_k8s::hook::dispatch::handle_event;
use prometheus_rs_k8s::hook::reconcile::LAST_GOOD_CONFIG_KEY;
use serde_json::{Map, Value};

pub(crate) fn app_data(app: &str, path: &str) -> RelationData {
    let metadata = serde_json::json!({
        "model": "workloads", "model_uuid": "f4b3a2c1-0d9e-4f8a-b7c6-5d4e3f2a1b0c",
        "application": app, "unit": format!("{app}/0"), "charm_name": "node-exporter-k8s",
    });
    let jobs = serde_json::json!([{"metrics_path": path,
        "static_configs": [{"targets": ["*:9100"]}]}]);
    RelationData::from([
        ("scrape_metadata".to_string(), metadata.to_string()),
        ("scrape_jobs".to_string(), jobs.to_string()),
    ])
}

pub(crate) fn unit_data(unit: &str, address: &str) -> RelationData {
    RelationData::from([
        (
            "prometheus_scrape_unit_address".to_string(),
            address.to_string(),
        ),
        ("prometheus_scrape_unit_name".to_string(), unit.to_string()),
    ])
}

/// Relates `app` with `units` units (addresses 10.0.<i>.<n>).
fn relate(state: &mut ModelState, app: &str, i: u8, units: u8) -> RelationId {
    let id = state.add_relation("metrics-endpoint", app);
    state.set_remote_app_data(&id, &app_data(app, "/metrics"));
    for n in 0..units {
        let unit = format!("{app}/{n}");
        state.set_remote_unit_data(&id, &unit, &unit_data(&unit, &format!("10.0.{i}.{n}")));
    }
    id
}

/// A leader unit related to two applications of two units, its charm dir in `dir`.
fn model(dir: &Path) -> ModelState {
    let mut state = charm_model_state().expect("charm metadata loads");
    state.set_leader(true);
    state.charm_dir = dir.to_path_buf();
    relate(&mut state, "alpha", 1, 2);
    relate(&mut state, "beta", 2, 2);
    state
}

/// A unit of the charm, run with or without the databag cache.
struct Unit {
    sim: Simulation,
    cache: Option<PathBuf>,
    _dir: tempfile::TempDir,
}

impl Unit {
    fn new(cached: bool) -> Unit {
        let dir = tempfile::tempdir().unwrap();
        let sim = Simulation::start(model(dir.path()), "2.42.0").unwrap();
        sim.pebble.on_exec_host("promtool", "/usr/bin/promtool");
        Unit {
            sim,
            cache: cached.then(|| dir.path().join(CACHE_FILE)),
            _dir: dir,
        }
    }

    /// Runs `event` as `main` does: cache opened first, saved after the outcome is known.
    fn run_with(&self, event: &Event, wrap: impl Fn(&dyn HookTools) -> Result<(), String>) -> bool {
        let ctx = self.sim.context(event).unwrap();
        self.sim.juju.state().calls.clear();
        let tools = CachedHookTools::open_at(
            &ctx,
            &self.sim.juju,
            &databag_cache::settings(),
            self.cache.clone(),
        );
        let result = handle_event(&ctx, &tools, &self.sim.access)
            .map_err(|e| e.to_string())
            .and_then(|()| wrap(&tools));
        let ok = result.is_ok();
        if ok {
            self.sim.juju.commit();
        } else {
            self.sim.juju.rollback();
        }
        tools.finish(ok);
        ok
    }

    #[track_caller]
    fn ok(&self, event: &Event) {
        assert!(self.run_with(event, |_| Ok(())), "{} failed", event.name());
    }

    fn change(&self, f: impl FnOnce(&mut ModelState)) {
        f(&mut self.sim.juju.state());
    }

    fn relation_event(
        &self,
        id: &RelationId,
        kind: RelationEventKind,
        unit: Option<&str>,
    ) -> Event {
        self.sim.juju.state().relation_event(id, kind, unit)
    }

    /// prometheus.yml as Prometheus sees it (targets inlined).
    fn config(&self) -> String {
        crate::common::effective_config::of_container(&self.sim.pebble)
    }

    fn local_app_data(&self) -> Vec<(String, RelationData)> {
        let state = self.sim.juju.state();
        state
            .relations
            .iter()
            .filter(|r| !r.broken)
            .map(|r| (format!("{}:{}", r.endpoint, r.id), r.local_app_data.clone()))
            .collect()
    }

    fn calls(&self, tool: &str) -> u64 {
        self.sim.juju.state().call_count(tool)
    }

    /// Every hook tool the last hook ran, with its count.
    fn all_calls(&self) -> BTreeMap<String, u64> {
        self.sim.juju.state().calls.clone()
    }

    fn status(&self) -> Option<Status> {
        self.sim.juju.state().unit_status.clone()
    }

    fn ports(&self) -> BTreeSet<Port> {
        self.sim.juju.state().opened_ports.clone()
    }

    fn set_config(&self, key: &str, value: impl Into<Value>) {
        self.change(|s| s.set_config(key, value).unwrap());
    }

    fn deploy(&self) {
        for event in [
            Event::Install,
            Event::LeaderElected,
            Event::ConfigChanged,
            pebble_ready(),
            Event::Start,
        ] {
            self.ok(&event);
        }
    }
}

/// Two deployed units of the same model: one with the databag cache, one without.
fn deployed_with_and_without_cache() -> (Unit, Unit) {
    let (cached, plain) = (Unit::new(true), Unit::new(false));
    for u in [&cached, &plain] {
        u.deploy();
    }
    (cached, plain)
}

fn pebble_ready() -> Event {
    Event::Workload {
        container: "prometheus".into(),
        kind: WorkloadEventKind::PebbleReady,
    }
}

fn ids(unit: &Unit) -> Vec<RelationId> {
    let state = unit.sim.juju.state();
    state
        .relations
        .iter()
        .map(|r| RelationId::new(r.endpoint.clone(), r.id))
        .collect()
}

#[test]
fn the_same_events_render_the_same_config_with_and_without_the_cache() {
    let cached = Unit::new(true);
    let plain = Unit::new(false);
    let both = [&cached, &plain];
    let same = |step: &str| {
        assert_eq!(
            cached.config(),
            plain.config(),
            "prometheus.yml after {step}"
        );
        assert_eq!(
            cached.local_app_data(),
            plain.local_app_data(),
            "app data after {step}"
        );
        assert_eq!(cached.status(), plain.status(), "status after {step}");
        assert_eq!(cached.ports(), plain.ports(), "ports after {step}");
    };
    for u in both {
        u.deploy();
    }
    same("deploy");
    let rel = ids(&cached);
    let (alpha, beta) = (&rel[0], &rel[1]);

    // Nothing changed: the cached unit reads no databag at all.
    for u in both {
        u.ok(&Event::ConfigChanged);
    }
    same("config-changed");
    assert_eq!(cached.calls("relation-get"), 0);
    assert_eq!(cached.calls("relation-list"), 0);
    assert!(plain.calls("relation-get") >= 6);
    // Nor relation ids, ports or status: only config and leadership are asked.
    let expected = BTreeMap::from([("config-get".to_string(), 1), ("is-leader".to_string(), 1)]);
    assert_eq!(cached.all_calls(), expected);
    // One `relation-ids` per endpoint without the cache (a relation the unit lacks costs only
    // that), none with it.
    assert_eq!(plain.calls("relation-ids"), ENDPOINTS.len() as u64);
    assert_eq!(plain.calls("status-set"), 1);

    // A remote unit moves: relation-changed on its relation.
    for u in both {
        u.change(|s| {
            s.set_remote_unit_data(alpha, "alpha/1", &unit_data("alpha/1", "10.9.9.9"));
        });
        u.ok(&u.relation_event(alpha, RelationEventKind::Changed, Some("alpha/1")));
    }
    same("alpha/1 changed");
    assert!(cached.config().contains("10.9.9.9"));
    // Only what the event names is read again: alpha/1's databag.
    assert_eq!(cached.calls("relation-get"), 1);
    assert_eq!(cached.calls("relation-list"), 0);
    assert!(plain.calls("relation-get") >= 6);

    // A unit joins beta.
    for u in both {
        u.change(|s| {
            s.set_remote_unit_data(beta, "beta/2", &unit_data("beta/2", "10.0.2.2"));
        });
        u.ok(&u.relation_event(beta, RelationEventKind::Joined, Some("beta/2")));
        u.ok(&u.relation_event(beta, RelationEventKind::Changed, Some("beta/2")));
    }
    same("beta/2 joined");
    assert!(cached.config().contains("10.0.2.2"));
    // relation-changed for beta/2 read only its databag.
    assert_eq!(cached.calls("relation-get"), 1);

    // beta's application data changes (relation-changed without a remote unit).
    for u in both {
        u.change(|s| {
            s.set_remote_app_data(beta, &app_data("beta", "/custom"));
        });
        u.ok(&u.relation_event(beta, RelationEventKind::Changed, None));
    }
    same("beta app data changed");
    assert!(cached.config().contains("/custom"));
    assert_eq!(
        (cached.calls("relation-get"), cached.calls("relation-list")),
        (1, 0),
        "only beta's application databag is read again"
    );

    // A new application is related.
    for u in both {
        let gamma = u.sim.juju.state().add_relation("metrics-endpoint", "gamma");
        u.ok(&u.relation_event(&gamma, RelationEventKind::Created, None));
        u.change(|s| {
            s.set_remote_app_data(&gamma, &app_data("gamma", "/metrics"));
            s.set_remote_unit_data(&gamma, "gamma/0", &unit_data("gamma/0", "10.0.3.0"));
        });
        u.ok(&u.relation_event(&gamma, RelationEventKind::Joined, Some("gamma/0")));
        u.ok(&u.relation_event(&gamma, RelationEventKind::Changed, Some("gamma/0")));
        // Other hooks in between use the cache for alpha and beta, and gamma's fresh data.
        u.ok(&Event::ConfigChanged);
    }
    same("gamma related");
    assert!(cached.config().contains("10.0.3.0"));
    assert_eq!(cached.calls("relation-get"), 0);
    assert_eq!(cached.calls("relation-ids"), 0);

    // alpha/0 leaves.
    for u in both {
        let departed = u.relation_event(alpha, RelationEventKind::Departed, Some("alpha/0"));
        u.change(|s| {
            s.remove_remote_unit(alpha, "alpha/0");
        });
        u.ok(&departed);
        u.ok(&Event::ConfigChanged);
    }
    same("alpha/0 departed");
    assert!(!cached.config().contains("10.0.1.0"));

    // beta is removed altogether.
    for u in both {
        let departing: Vec<Event> = ["beta/0", "beta/1", "beta/2"]
            .iter()
            .map(|unit| u.relation_event(beta, RelationEventKind::Departed, Some(unit)))
            .collect();
        let broken = u.relation_event(beta, RelationEventKind::Broken, None);
        for (event, unit) in departing.iter().zip(["beta/0", "beta/1", "beta/2"]) {
            u.change(|s| {
                s.remove_remote_unit(beta, unit);
            });
            u.ok(event);
        }
        u.change(|s| {
            s.remove_relation(beta);
        });
        u.ok(&broken);
        u.ok(&Event::ConfigChanged);
    }
    same("beta removed");
    assert!(!cached.config().contains("/custom"));
    assert_eq!(cached.calls("relation-ids"), 0, "answered from the cache");
    let file = cache_file(&cached);
    assert!(
        !file.relations.contains_key(&beta.to_string()),
        "a relation relation-ids no longer lists is dropped: {:?}",
        file.relations.keys()
    );

    assert!(!file.relation_ids["metrics-endpoint"].contains(beta));

    for u in both {
        u.ok(&Event::UpdateStatus);
    }
    same("update-status");
}

#[test]
fn a_departing_unit_is_never_cached_as_a_member() {
    let unit = Unit::new(true);
    unit.deploy();
    let alpha = ids(&unit)[0].clone();
    // The fake still lists alpha/0 while its -departed hook runs.
    unit.ok(&unit.relation_event(&alpha, RelationEventKind::Departed, Some("alpha/0")));
    let cached = &cache_file(&unit).relations[&alpha.to_string()];
    assert_eq!(cached.units.as_deref(), Some(&["alpha/1".to_string()][..]));
    assert!(!cached.unit_data.contains_key("alpha/0"));
    unit.ok(&Event::ConfigChanged);
    assert!(!unit.config().contains("10.0.1.0:"), "alpha/0 stays out");
}

/// What the fake Juju's `relation-list` answers for `relation` now.
fn juju_lists(unit: &Unit, relation: &RelationId) -> Vec<String> {
    let state = unit.sim.juju.state();
    let rel = state.relation(relation).expect("the relation exists");
    rel.current_units()
}

/// Juju's membership in a `-joined` or `-departed` hook is what its earlier hooks committed
/// plus or minus the event's unit, listed in byte order (`beta/10` before `beta/2`): the cache
/// keeps it so, without a `relation-list`, and the charm renders what it renders without the
/// cache.
#[test]
fn joined_and_departed_hooks_keep_the_membership_as_juju_lists_it() {
    let (cached, plain) = deployed_with_and_without_cache();
    let both = [&cached, &plain];
    let beta = ids(&cached)[1].clone();
    let members = |u: &Unit| cache_file(u).relations[&beta.to_string()].units.clone();
    assert_eq!(members(&cached), Some(juju_lists(&cached, &beta)));

    for (unit, address) in [("beta/10", "10.0.2.10"), ("beta/2", "10.0.2.2")] {
        for u in both {
            u.change(|s| {
                s.set_remote_unit_data(&beta, unit, &unit_data(unit, address));
            });
            u.ok(&u.relation_event(&beta, RelationEventKind::Joined, Some(unit)));
        }
        assert_eq!(cached.calls("relation-list"), 0, "{unit} joined");
        assert_eq!(
            cached.calls("relation-get"),
            1,
            "only {unit}'s databag is read"
        );
        assert_eq!(members(&cached), Some(juju_lists(&cached, &beta)));
        assert!(cached.config().contains(&format!("{address}:")), "{unit}");
        assert_eq!(cached.config(), plain.config(), "{unit} joined");
    }
    assert_eq!(
        members(&cached).unwrap(),
        ["beta/0", "beta/1", "beta/10", "beta/2"]
    );

    for u in both {
        let departed = u.relation_event(&beta, RelationEventKind::Departed, Some("beta/1"));
        u.change(|s| {
            s.remove_remote_unit(&beta, "beta/1");
        });
        u.ok(&departed);
    }
    assert_eq!(cached.calls("relation-list"), 0, "beta/1 departed");
    assert_eq!(cached.calls("relation-get"), 0, "nothing to read");
    assert_eq!(members(&cached), Some(juju_lists(&cached, &beta)));
    assert!(
        !cached.config().contains("10.0.2.1:"),
        "beta/1 is no longer scraped"
    );
    assert_eq!(cached.config(), plain.config(), "beta/1 departed");

    // Without a cached membership (a rotation dropped it, say), the hook asks Juju.
    edit_index(&cached, |json| {
        json["relations"][&beta.to_string()]
            .as_object_mut()
            .unwrap()
            .remove("units");
    });
    cached.change(|s| {
        s.set_remote_unit_data(&beta, "beta/3", &unit_data("beta/3", "10.0.2.3"));
    });
    cached.ok(&cached.relation_event(&beta, RelationEventKind::Joined, Some("beta/3")));
    assert_eq!(cached.calls("relation-list"), 1);
    assert_eq!(members(&cached), Some(juju_lists(&cached, &beta)));
    assert!(cached.config().contains("10.0.2.3:"));
}

#[test]
fn full_refresh_events_bound_staleness() {
    // Juju always runs a relation hook after a remote change; if one were lost, a change made
    // without it stays invisible only until the next full re-read.
    let unit = Unit::new(true);
    unit.deploy();
    let alpha = ids(&unit)[0].clone();
    unit.change(|s| {
        s.set_remote_unit_data(&alpha, "alpha/0", &unit_data("alpha/0", "10.7.7.7"));
    });
    unit.ok(&Event::ConfigChanged);
    assert!(!unit.config().contains("10.7.7.7"), "served from the cache");
    unit.ok(&Event::UpdateStatus);
    assert!(
        unit.config().contains("10.7.7.7"),
        "update-status re-reads everything"
    );
    assert!(unit.calls("relation-get") >= 6);
}

#[test]
fn a_failed_hook_leaves_no_cache_and_the_next_hook_reads_everything() {
    let unit = Unit::new(true);
    unit.deploy();
    let path = unit.cache.clone().unwrap();
    assert!(path.exists(), "a successful hook saves the cache");
    let before = std::fs::read(&path).unwrap();

    let alpha = ids(&unit)[0].clone();
    unit.change(|s| {
        s.set_remote_unit_data(&alpha, "alpha/0", &unit_data("alpha/0", "10.8.8.8"));
    });
    let event = unit.relation_event(&alpha, RelationEventKind::Changed, Some("alpha/0"));
    // The hook fails after having read everything (a status-set refused, say).
    let failed = unit.run_with(&event, |tools| {
        tools
            .status_set(&Status::active(""), true)
            .map_err(|e| e.to_string())?;
        Err("status-set failed".into())
    });
    assert!(!failed);
    assert!(!path.exists(), "the failed hook left a cache: {before:?}");

    // Skipped (juju resolve --no-retry): the next hook is not about alpha, yet sees its change.
    unit.ok(&Event::ConfigChanged);
    assert!(unit.config().contains("10.8.8.8"));
    assert!(unit.calls("relation-get") >= 6, "everything was read again");
    assert_eq!(
        unit.calls("relation-ids"),
        ENDPOINTS.len() as u64,
        "every endpoint was listed again"
    );
    assert_eq!(unit.calls("opened-ports"), 1, "ports were asked again");
    assert_eq!(unit.calls("status-set"), 1, "the status was set again");
    assert!(path.exists());
}

/// `config-get` is answered from the cache except where the config may have changed: in
/// `config-changed` (which Juju runs after every change), in update-status and in the full
/// refreshes; and after a failed hook, which leaves no cache.
#[test]
fn the_config_comes_from_the_cache_until_config_changed_or_a_re_read() {
    let unit = Unit::new(true);
    unit.deploy();
    let alpha = ids(&unit)[0].clone();
    let moved = |unit: &Unit, address: &str| {
        unit.change(|s| {
            s.set_remote_unit_data(&alpha, "alpha/0", &unit_data("alpha/0", address));
        });
        unit.ok(&unit.relation_event(&alpha, RelationEventKind::Changed, Some("alpha/0")));
    };
    moved(&unit, "10.8.0.1");
    assert_eq!(
        unit.calls("config-get"),
        0,
        "a relation event trusts the cache"
    );
    for event in [pebble_ready(), Event::Start] {
        unit.ok(&event);
        assert_eq!(unit.calls("config-get"), 0, "{}", event.name());
    }

    // `juju config`: until its config-changed runs, a hook sees the config it had.
    unit.set_config("evaluation_interval", "17s");
    moved(&unit, "10.8.0.2");
    assert!(unit.config().contains("10.8.0.2"));
    assert!(!unit.config().contains("17s"), "{}", unit.config());
    unit.ok(&Event::ConfigChanged);
    assert_eq!(unit.calls("config-get"), 1);
    assert!(
        unit.config().contains("evaluation_interval: 17s"),
        "{}",
        unit.config()
    );
    moved(&unit, "10.8.0.3");
    assert_eq!(unit.calls("config-get"), 0);
    assert!(unit.config().contains("evaluation_interval: 17s"));

    // A change Juju did not follow with config-changed lasts until the next update-status.
    unit.set_config("evaluation_interval", "19s");
    unit.ok(&Event::UpdateStatus);
    assert_eq!(unit.calls("config-get"), 1);
    assert!(unit.config().contains("evaluation_interval: 19s"));
    for event in [Event::UpgradeCharm, Event::LeaderElected] {
        unit.ok(&event);
        assert_eq!(unit.calls("config-get"), 1, "{}", event.name());
    }

    // A failed hook saves nothing: the next one asks.
    unit.set_config("evaluation_interval", "23s");
    let event = unit.relation_event(&alpha, RelationEventKind::Changed, Some("alpha/0"));
    assert!(!unit.run_with(&event, |_| Err("failed".into())));
    moved(&unit, "10.8.0.4");
    assert_eq!(unit.calls("config-get"), 1);
    assert!(unit.config().contains("evaluation_interval: 23s"));
}

/// Bags files are written in place, before the index is put back: a hook killed after
/// writing one (here: a wrong address planted in it) and before its index was back leaves the
/// index in flight, and the next hook neither trusts that index nor reads the bags file.
#[test]
fn a_hook_killed_while_saving_leaves_bags_files_that_are_never_read() {
    let unit = Unit::new(true);
    unit.deploy();
    plant(&unit, |_| {});
    let path = unit.cache.clone().unwrap();
    let mut in_flight = path.as_os_str().to_owned();
    in_flight.push(".in-flight");
    std::fs::rename(&path, &in_flight).unwrap();

    unit.ok(&Event::ConfigChanged);
    assert!(!unit.config().contains("192.0.2.1"), "{}", unit.config());
    assert!(unit.calls("relation-get") >= 6, "everything was read again");
    assert!(path.exists());
    let alpha = ids(&unit)[0].to_string();
    let bags = std::fs::read_to_string(juju_hook::cache::bags_file(&path, &alpha)).unwrap();
    assert!(
        !bags.contains("192.0.2.1"),
        "the bags file was replaced: {bags}"
    );
    unit.ok(&Event::ConfigChanged);
    assert_eq!(unit.calls("relation-get"), 0, "the new cache is used");
    assert!(!unit.config().contains("192.0.2.1"));
}

#[test]
fn a_failing_hook_tool_makes_the_hook_fail_without_a_cache() {
    let unit = Unit::new(true);
    unit.deploy();
    // An unchanged status is not sent at all: make it change.
    unit.set_config("log_level", "verbose");
    let ctx = unit.sim.context(&Event::ConfigChanged).unwrap();
    let failing = FailingStatus(&unit.sim.juju);
    let tools = CachedHookTools::open_at(
        &ctx,
        &failing,
        &databag_cache::settings(),
        unit.cache.clone(),
    );
    let result = handle_event(&ctx, &tools, &unit.sim.access);
    assert!(result.is_err(), "status-set failing fails the hook");
    unit.sim.juju.rollback();
    tools.finish(result.is_ok());
    assert!(!unit.cache.as_ref().unwrap().exists());
}

fn cache_file(unit: &Unit) -> CacheFile {
    juju_hook::cache::read_whole(unit.cache.as_ref().unwrap()).expect("a cache was saved")
}

/// A change to a cache file.
type OwnerEdit = fn(&mut CacheFile);

/// Plants a wrong address for alpha/0 in the cache, after changing its owner with `edit`.
fn plant(unit: &Unit, edit: impl FnOnce(&mut CacheFile)) {
    let path = unit.cache.clone().unwrap();
    let alpha = ids(unit)[0].to_string();
    let mut file = cache_file(unit);
    let alpha_rel = file.relations.get_mut(&alpha).expect("alpha is cached");
    alpha_rel
        .unit_data
        .get_mut("alpha/0")
        .expect("alpha/0's databag is cached")
        .insert("prometheus_scrape_unit_address".into(), "192.0.2.1".into());
    // Without its memo, the relation is read (from the cache) and digested again.
    alpha_rel.memo = None;
    edit(&mut file);
    juju_hook::cache::write_whole(&path, &file).unwrap();
}

#[test]
fn the_cache_is_used_when_it_is_this_units() {
    // Control for the test below: a planted value shows the cache is read.
    let unit = Unit::new(true);
    unit.deploy();
    plant(&unit, |_| {});
    unit.ok(&Event::ConfigChanged);
    assert!(unit.config().contains("192.0.2.1"));
}

#[test]
fn a_cache_of_another_unit_model_or_charm_version_is_ignored() {
    let edits: [(&str, OwnerEdit); 4] = [
        ("unit", |f| f.owner.unit = "other-app/0".into()),
        ("model", |f| {
            f.owner.model_uuid = "00000000-0000-4000-8000-000000000000".into()
        }),
        ("charm version", |f| {
            f.owner.charm_version = "0.0.0-other".into()
        }),
        ("format", |f| f.owner.format = 999),
    ];
    for (what, edit) in edits {
        let unit = Unit::new(true);
        unit.deploy();
        plant(&unit, edit);
        unit.ok(&Event::ConfigChanged);
        assert!(
            !unit.config().contains("192.0.2.1"),
            "a cache of another {what} was used"
        );
        assert!(
            unit.calls("relation-get") >= 6,
            "{what}: everything was read"
        );
        assert!(cache_file(&unit).owner.unit.ends_with("/0"));
    }
}

#[test]
fn a_change_of_leadership_drops_the_cache() {
    let unit = Unit::new(true);
    unit.deploy();
    plant(&unit, |f| f.leader = false);
    unit.ok(&Event::ConfigChanged);
    assert!(!unit.config().contains("192.0.2.1"));
    assert!(unit.calls("relation-get") >= 6);
    // Relation ids, ports and the unit's status do not depend on leadership.
    assert_eq!(unit.calls("relation-ids"), 0);
    assert_eq!(unit.calls("opened-ports"), 0);
    assert_eq!(unit.calls("status-set"), 0);
}

#[test]
fn own_databag_writes_are_kept_in_the_cache_so_no_rewrite_follows() {
    let cached = Unit::new(true);
    cached.deploy();
    cached.ok(&Event::ConfigChanged);
    assert_eq!(
        cached.calls("relation-set"),
        0,
        "nothing changed, nothing written"
    );
    // The leader's writes made during deploy are in the cache as Juju committed them.
    let file = cache_file(&cached);
    let app = cached.sim.juju.state().app_name.clone();
    for (id, committed) in cached.local_app_data() {
        let bag = file.relations[&id].app_data.get(&app);
        assert_eq!(bag, Some(&committed), "{id}");
    }
}

/// Relates a new application `gamma` with one unit, `gamma/0` at 10.0.3.0, without a hook.
fn relate_gamma(unit: &Unit) -> RelationId {
    let gamma = (unit.sim.juju.state()).add_relation("metrics-endpoint", "gamma");
    unit.change(|s| {
        s.set_remote_app_data(&gamma, &app_data("gamma", "/metrics"));
        s.set_remote_unit_data(&gamma, "gamma/0", &unit_data("gamma/0", "10.0.3.0"));
    });
    gamma
}

/// Relation ids change only around `-relation-created` and `-relation-broken`: those two
/// ask Juju for their own endpoint's ids, the hooks between them (the common ones) do not.
#[test]
fn only_created_and_broken_ask_juju_for_the_ids_of_their_endpoint() {
    let unit = Unit::new(true);
    unit.deploy();
    let [alpha, beta] = [0, 1].map(|i| ids(&unit)[i].clone());
    for (kind, remote) in [
        (RelationEventKind::Changed, Some("alpha/0")),
        (RelationEventKind::Changed, None),
        (RelationEventKind::Joined, Some("alpha/0")),
        (RelationEventKind::Departed, Some("alpha/0")),
    ] {
        unit.ok(&unit.relation_event(&alpha, kind, remote));
        assert_eq!(unit.calls("relation-ids"), 0, "{kind:?}");
    }
    unit.ok(&unit.relation_event(&beta, RelationEventKind::Created, None));
    assert_eq!(unit.calls("relation-ids"), 1, "created");
    // The other endpoints' lists were kept, its own one was saved again.
    let file = cache_file(&unit);
    assert_eq!(
        file.relation_ids.len(),
        ENDPOINTS.len(),
        "{:?}",
        file.relation_ids
    );
    assert_eq!(file.relation_ids["metrics-endpoint"], ids(&unit));

    // A list that lacks the event's relation is stale: that hook asks Juju and sees it.
    let gamma = relate_gamma(&unit);
    unit.ok(&unit.relation_event(&gamma, RelationEventKind::Changed, Some("gamma/0")));
    assert_eq!(
        unit.calls("relation-ids"),
        1,
        "changed of an unlisted relation"
    );
    assert!(unit.config().contains("10.0.3.0"), "{}", unit.config());
}

#[test]
fn a_new_relation_is_seen_by_the_next_hook_that_lists_its_endpoint_from_the_cache() {
    let unit = Unit::new(true);
    unit.deploy();
    // The fake shows gamma's unit already in -relation-created: what matters here is that
    // the next hook, not about gamma, lists it from the cache and so renders it.
    let gamma = relate_gamma(&unit);
    unit.ok(&unit.relation_event(&gamma, RelationEventKind::Created, None));
    assert_eq!(unit.calls("relation-ids"), 1);
    assert!(cache_file(&unit).relation_ids["metrics-endpoint"].contains(&gamma));
    unit.ok(&Event::ConfigChanged);
    assert_eq!(unit.calls("relation-ids"), 0);
    assert!(unit.config().contains("10.0.3.0"), "{}", unit.config());
    assert!(cache_file(&unit).relations.contains_key(&gamma.to_string()));
}

#[test]
fn a_broken_relation_is_never_saved_as_listed_even_when_juju_still_lists_it() {
    let unit = Unit::new(true);
    unit.deploy();
    let beta = ids(&unit)[1].clone();
    // Older Juju still listed the relation in its own -relation-broken: the fake does too
    // while the relation is not removed from its model.
    unit.ok(&unit.relation_event(&beta, RelationEventKind::Broken, None));
    assert_eq!(unit.calls("relation-ids"), 1);
    assert!(unit
        .sim
        .juju
        .relation_ids("metrics-endpoint")
        .unwrap()
        .contains(&beta));
    let file = cache_file(&unit);
    assert_eq!(
        file.relation_ids["metrics-endpoint"],
        [ids(&unit)[0].clone()]
    );
    assert!(!file.relations.contains_key(&beta.to_string()));

    unit.change(|s| {
        s.remove_relation(&beta);
    });
    unit.ok(&Event::ConfigChanged);
    assert_eq!(unit.calls("relation-ids"), 0);
    assert!(!unit.config().contains("10.0.2."), "beta stays out");
    assert!(unit.config().contains("10.0.1.0"), "alpha stays in");
}

#[test]
fn the_unit_status_is_sent_only_when_it_changes_and_always_on_full_refreshes() {
    let (cached, plain) = deployed_with_and_without_cache();
    let both = [&cached, &plain];
    let active = cached.status().expect("deploy set a status");
    assert_eq!(cache_file(&cached).unit_status.as_ref(), Some(&active));

    // (event, whether the cached unit sends its status, what the option is set to first)
    let steps: [(Event, bool, Option<&str>); 8] = [
        (Event::ConfigChanged, false, None),
        (Event::ConfigChanged, true, Some("verbose")),
        (Event::ConfigChanged, false, None),
        (Event::UpdateStatus, true, None),
        (Event::ConfigChanged, false, None),
        (Event::ConfigChanged, true, Some("info")),
        (pebble_ready(), false, None),
        (Event::LeaderElected, true, None),
    ];
    for (i, (event, sent, log_level)) in steps.iter().enumerate() {
        for u in both {
            if let Some(level) = log_level {
                u.set_config("log_level", *level);
            }
            u.ok(event);
        }
        let step = format!("step {i}: {}", event.name());
        if *log_level == Some("verbose") {
            let status = cached.status().unwrap();
            assert_eq!(status.kind, StatusKind::Blocked, "{step}: {status:?}");
        }
        assert_eq!(cached.calls("status-set"), u64::from(*sent), "{step}");
        assert_eq!(plain.calls("status-set"), 1, "{step}");
        assert_eq!(cached.status(), plain.status(), "{step}");
        assert_eq!(
            cache_file(&cached).unit_status,
            cached.status(),
            "{step}: the cache remembers what Juju shows"
        );
    }
    assert_eq!(cached.status(), Some(active));
}

#[test]
fn the_last_status_sent_in_a_hook_is_the_one_remembered() {
    let unit = Unit::new(true);
    unit.deploy();
    let active = unit.status().unwrap();
    let busy = Status::maintenance("busy");
    // The hook sets maintenance, then the status it ends with.
    let ok = unit.run_with(&Event::ConfigChanged, |tools| {
        tools.status_set(&busy, false).map_err(|e| e.to_string())?;
        tools.status_set(&active, false).map_err(|e| e.to_string())
    });
    assert!(ok);
    assert_eq!(
        unit.calls("status-set"),
        2,
        "maintenance, then back to active"
    );
    assert_eq!(unit.status().as_ref(), Some(&active));
    assert_eq!(cache_file(&unit).unit_status, Some(active.clone()));
    // Application status is never taken from the cache.
    let ok = unit.run_with(&Event::ConfigChanged, |tools| {
        tools.status_set(&active, true).map_err(|e| e.to_string())?;
        tools.status_set(&active, true).map_err(|e| e.to_string())
    });
    assert!(ok);
    assert_eq!(
        unit.calls("status-set"),
        2,
        "both application statuses sent"
    );
    assert_eq!(unit.sim.juju.state().app_status.as_ref(), Some(&active));
}

#[test]
fn opened_ports_come_from_the_cache_until_a_full_refresh() {
    let unit = Unit::new(true);
    unit.deploy();
    let prometheus = BTreeSet::from([Port::tcp(9090)]);
    assert_eq!(unit.ports(), prometheus);
    assert_eq!(cache_file(&unit).opened_ports, Some(prometheus.clone()));
    unit.ok(&Event::ConfigChanged);
    assert_eq!(unit.calls("opened-ports"), 0);
    assert_eq!(unit.calls("open-port"), 0);

    // A port closed behind the charm's back (`juju exec`) stays unnoticed until update-status.
    unit.change(|s| s.opened_ports.clear());
    unit.ok(&Event::ConfigChanged);
    assert_eq!(unit.calls("open-port"), 0, "served from the cache");
    assert!(unit.ports().is_empty());
    unit.ok(&Event::UpdateStatus);
    assert_eq!(unit.calls("opened-ports"), 1);
    assert_eq!(unit.calls("open-port"), 1);
    assert_eq!(unit.ports(), prometheus);
}

#[test]
fn the_ports_saved_are_those_juju_commits() {
    let unit = Unit::new(true);
    unit.deploy();
    let seen = std::cell::RefCell::new(Vec::new());
    // Open 8080 and close 9090, then look: like Juju, the hook's own changes are pending.
    let ok = unit.run_with(&Event::ConfigChanged, |tools| {
        tools
            .open_port(Port::tcp(8080))
            .map_err(|e| e.to_string())?;
        tools
            .close_port(Port::tcp(9090))
            .map_err(|e| e.to_string())?;
        *seen.borrow_mut() = tools.opened_ports().map_err(|e| e.to_string())?;
        Ok(())
    });
    assert!(ok);
    assert_eq!(*seen.borrow(), [Port::tcp(9090)]);
    assert_eq!(unit.calls("opened-ports"), 0);
    let committed = BTreeSet::from([Port::tcp(8080)]);
    assert_eq!(unit.ports(), committed);
    assert_eq!(cache_file(&unit).opened_ports, Some(committed));

    // The next hook knows 9090 is closed without asking, and opens it again.
    unit.ok(&Event::ConfigChanged);
    assert_eq!(unit.calls("opened-ports"), 0);
    assert_eq!(unit.calls("open-port"), 1);
    assert_eq!(
        unit.ports(),
        BTreeSet::from([Port::tcp(8080), Port::tcp(9090)])
    );
    assert_eq!(cache_file(&unit).opened_ports, Some(unit.ports()));
}

#[test]
fn the_unit_state_comes_from_the_cache_with_the_hooks_own_writes() {
    let unit = Unit::new(true);
    unit.deploy();
    // The charm keeps its last valid config options in the unit state itself; this test looks
    // at the other keys.
    let others = |state: Option<BTreeMap<String, String>>| {
        state.map(|mut state| {
            state.remove(LAST_GOOD_CONFIG_KEY);
            state
        })
    };
    let cached = || others(cache_file(&unit).unit_state);
    assert!(
        cache_file(&unit)
            .unit_state
            .is_some_and(|s| s.contains_key(LAST_GOOD_CONFIG_KEY)),
        "read once, with the charm's own write"
    );
    assert_eq!(cached(), Some(BTreeMap::new()));
    let kv = |v: &str| BTreeMap::from([("k".to_string(), v.to_string())]);
    let get = |tools: &dyn HookTools| {
        let mut state = tools.state_get().map_err(|e| e.to_string())?;
        state.remove(LAST_GOOD_CONFIG_KEY);
        Ok::<_, String>(state)
    };

    // A write goes to Juju and, like Juju, is seen by the same hook's reads.
    let seen = std::cell::RefCell::new(BTreeMap::new());
    let ok = unit.run_with(&Event::ConfigChanged, |tools| {
        tools.state_set(&kv("v")).map_err(|e| e.to_string())?;
        *seen.borrow_mut() = get(tools)?;
        Ok(())
    });
    assert!(ok);
    assert_eq!(*seen.borrow(), kv("v"));
    assert_eq!((unit.calls("state-set"), unit.calls("state-get")), (1, 0));
    assert_eq!(
        others(Some(unit.sim.juju.state().stored.clone())),
        Some(kv("v"))
    );
    assert_eq!(cached(), Some(kv("v")));

    // A failed hook's write is not committed; the next hook asks Juju again.
    let failed = unit.run_with(&Event::ConfigChanged, |tools| {
        tools.state_set(&kv("lost")).map_err(|e| e.to_string())?;
        Err("the hook failed".into())
    });
    assert!(!failed);
    let ok = unit.run_with(&Event::ConfigChanged, |tools| {
        *seen.borrow_mut() = get(tools)?;
        Ok(())
    });
    assert!(ok);
    assert_eq!(*seen.borrow(), kv("v"));
    assert_eq!(unit.calls("state-get"), 1);

    // A change behind the charm's back lasts only until a full refresh.
    unit.change(|s| {
        s.stored = kv("edited");
    });
    let read = |event: &Event| {
        assert!(unit.run_with(event, |tools| {
            *seen.borrow_mut() = get(tools)?;
            Ok(())
        }));
        seen.borrow().clone()
    };
    assert_eq!(
        read(&Event::ConfigChanged),
        kv("v"),
        "served from the cache"
    );
    assert_eq!(unit.calls("state-get"), 0);
    assert_eq!(read(&Event::UpdateStatus), kv("edited"));
    assert_eq!(unit.calls("state-get"), 1);
    assert_eq!(cached(), Some(kv("edited")));
}

/// Hook tools whose `status-set` fails, as a broken agent connection would.
struct FailingStatus<'a>(&'a dyn HookTools);

impl HookTools for FailingStatus<'_> {
    fn config_get(&self) -> Result<Map<String, Value>, HookToolError> {
        self.0.config_get()
    }
    fn is_leader(&self) -> Result<bool, HookToolError> {
        self.0.is_leader()
    }
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationId>, HookToolError> {
        self.0.relation_ids(endpoint)
    }
    fn relation_list(&self, relation: &RelationId) -> Result<Vec<String>, HookToolError> {
        self.0.relation_list(relation)
    }
    fn relation_remote_app(&self, relation: &RelationId) -> Result<String, HookToolError> {
        self.0.relation_remote_app(relation)
    }
    fn relation_get(
        &self,
        relation: &RelationId,
        member: &str,
        app: bool,
    ) -> Result<RelationData, HookToolError> {
        self.0.relation_get(relation, member, app)
    }
    fn relation_set(
        &self,
        relation: &RelationId,
        app: bool,
        data: &RelationData,
    ) -> Result<(), HookToolError> {
        self.0.relation_set(relation, app, data)
    }
    fn status_set(&self, _: &Status, _: bool) -> Result<(), HookToolError> {
        Err(HookToolError::Failed {
            tool: "status-set".into(),
            code: 1,
            stderr: "connection refused".into(),
        })
    }
    fn application_version_set(&self, version: &str) -> Result<(), HookToolError> {
        self.0.application_version_set(version)
    }
    fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), HookToolError> {
        self.0.juju_log(level, message)
    }
    fn open_port(&self, port: Port) -> Result<(), HookToolError> {
        self.0.open_port(port)
    }
    fn close_port(&self, port: Port) -> Result<(), HookToolError> {
        self.0.close_port(port)
    }
    fn opened_ports(&self) -> Result<Vec<Port>, HookToolError> {
        self.0.opened_ports()
    }
    fn network_get(&self, binding: &str) -> Result<NetworkInfo, HookToolError> {
        self.0.network_get(binding)
    }
    fn goal_state(&self) -> Result<GoalState, HookToolError> {
        self.0.goal_state()
    }
    fn action_get(&self) -> Result<Map<String, Value>, HookToolError> {
        self.0.action_get()
    }
    fn action_set(&self, results: &BTreeMap<String, String>) -> Result<(), HookToolError> {
        self.0.action_set(results)
    }
    fn action_fail(&self, message: &str) -> Result<(), HookToolError> {
        self.0.action_fail(message)
    }
    fn action_log(&self, message: &str) -> Result<(), HookToolError> {
        self.0.action_log(message)
    }
    fn state_get(&self) -> Result<BTreeMap<String, String>, HookToolError> {
        self.0.state_get()
    }
    fn state_set(&self, data: &BTreeMap<String, String>) -> Result<(), HookToolError> {
        self.0.state_set(data)
    }
}

/// A hook whose inputs are unchanged leaves the databags unread: each relation's memo (its
/// digest when last applied) stands for them. The bags files are neither parsed nor
/// rewritten; when a hook does need one and it is unusable, its databags are asked from Juju
/// again.
#[test]
fn an_unchanged_hook_leaves_the_databags_unread() {
    let unit = Unit::new(true);
    unit.deploy();
    unit.ok(&Event::ConfigChanged);
    let index = unit.cache.clone().unwrap();
    let memos = |file: &CacheFile| file.relations.values().filter(|r| r.memo.is_some()).count();
    assert_eq!(
        memos(&cache_file(&unit)),
        ids(&unit).len(),
        "every relation has a memo"
    );
    let files: Vec<PathBuf> = ids(&unit)
        .iter()
        .map(|id| juju_hook::cache::bags_file(&index, &id.to_string()))
        .collect();
    for file in &files {
        std::fs::write(file, b"not the databags").unwrap();
    }

    unit.ok(&Event::ConfigChanged);
    assert_eq!(
        unit.all_calls(),
        BTreeMap::from([("config-get".into(), 1), ("is-leader".into(), 1)])
    );
    for file in &files {
        assert_eq!(
            std::fs::read(file).unwrap(),
            b"not the databags",
            "not rewritten"
        );
    }

    // A change that needs the databags (prometheus.yml is rendered again): unusable, so every
    // relation is read from Juju.
    unit.set_config("evaluation_interval", "50s");
    unit.ok(&Event::ConfigChanged);
    let config = unit.config();
    assert!(config.contains("evaluation_interval: 50s"), "{config}");
    assert!(
        unit.calls("relation-get") > 2,
        "the rest read from Juju again"
    );
    assert_eq!(memos(&cache_file(&unit)), ids(&unit).len(), "memos again");
    for file in &files {
        assert_ne!(std::fs::read(file).unwrap(), b"not the databags");
    }
}

/// A relation event reads and writes the databags of its own relation only.
#[test]
fn a_relation_event_touches_only_its_relations_bags_file() {
    let unit = Unit::new(true);
    unit.deploy();
    let index = unit.cache.clone().unwrap();
    let [alpha, beta] = [ids(&unit)[0].clone(), ids(&unit)[1].clone()];
    let beta_file = juju_hook::cache::bags_file(&index, &beta.to_string());
    std::fs::write(&beta_file, b"unreadable").unwrap();
    unit.change(|s| {
        s.set_remote_unit_data(&alpha, "alpha/0", &unit_data("alpha/0", "10.6.6.6"));
    });
    unit.ok(&unit.relation_event(&alpha, RelationEventKind::Changed, Some("alpha/0")));
    let config = unit.config();
    assert!(config.contains("10.6.6.6"), "{config}");
    assert!(config.contains("beta"), "beta's jobs are kept: {config}");
    // Only alpha's targets changed (the targets shortcut): alpha/0 is read, beta's file is
    // not even opened.
    assert_eq!(unit.calls("relation-get"), 1);
    assert_eq!(std::fs::read(&beta_file).unwrap(), b"unreadable");

    // A change that needs every relation reads beta from Juju: its 2 units, its application
    // and this application's; its file is written again.
    unit.set_config("evaluation_interval", "50s");
    unit.ok(&Event::ConfigChanged);
    assert!(unit.config().contains("beta"));
    assert_eq!(unit.calls("relation-get"), 4);
    assert_ne!(
        std::fs::read(&beta_file).unwrap(),
        b"unreadable",
        "beta rewritten"
    );
}

/// The index as one JSON object: its first line, with `relations` holding each relation's
/// line (`<id> TAB <memo> TAB <JSON>`) as its JSON and, when it has one, its memo.
fn index_json(unit: &Unit) -> Value {
    let text = std::fs::read_to_string(unit.cache.as_ref().unwrap()).unwrap();
    let mut lines = text.lines();
    let mut json: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let relations = lines
        .map(|line| {
            let [id, memo, rel] = line.splitn(3, '\t').collect::<Vec<_>>()[..] else {
                panic!("not a relation line: {line}");
            };
            let mut rel: Value = serde_json::from_str(rel).unwrap();
            if !memo.is_empty() {
                rel["memo"] = Value::from(memo);
            }
            (id.to_owned(), rel)
        })
        .collect();
    json["relations"] = Value::Object(relations);
    json
}

/// Edits the index as [`index_json`] shows it, and writes it back in its layout.
fn edit_index(unit: &Unit, edit: impl FnOnce(&mut Value)) {
    let mut json = index_json(unit);
    edit(&mut json);
    let relations = json.as_object_mut().unwrap().remove("relations").unwrap();
    let mut text = serde_json::to_string(&json).unwrap();
    for (id, mut rel) in relations.as_object().unwrap().clone() {
        let memo = rel.as_object_mut().unwrap().remove("memo");
        let memo = memo.as_ref().and_then(Value::as_str).unwrap_or_default();
        text.push_str(&format!("\n{id}\t{memo}\t{rel}"));
    }
    text.push('\n');
    std::fs::write(unit.cache.as_ref().unwrap(), text).unwrap();
}

/// A relation a hook does not touch keeps its index entry as it was read, not parsed and
/// written again: a field this build does not know survives a hook that rewrites the index
/// for another relation.
#[test]
fn an_untouched_relations_index_entry_is_written_back_as_it_was_read() {
    let unit = Unit::new(true);
    unit.deploy();
    let [alpha, beta] = [ids(&unit)[0].to_string(), ids(&unit)[1].to_string()];
    edit_index(&unit, |json| {
        json["relations"][&beta]["a_field_of_this_test"] = Value::from(7);
    });
    let beta_before = index_json(&unit)["relations"][&beta].clone();
    let alpha_id = ids(&unit)[0].clone();
    unit.change(|s| {
        s.set_remote_unit_data(&alpha_id, "alpha/0", &unit_data("alpha/0", "10.6.6.7"));
    });
    unit.ok(&unit.relation_event(&alpha_id, RelationEventKind::Changed, Some("alpha/0")));
    assert!(unit.config().contains("10.6.6.7"));
    let after = index_json(&unit);
    assert_ne!(after["relations"][&alpha]["units"], Value::Null);
    assert_eq!(
        after["relations"][&beta], beta_before,
        "beta as it was read"
    );

    // Once a hook reads beta, its entry is parsed and written as this build writes it.
    unit.ok(&unit.relation_event(&ids(&unit)[1], RelationEventKind::Changed, Some("beta/0")));
    let entry = &index_json(&unit)["relations"][&beta];
    assert_eq!(entry["a_field_of_this_test"], Value::Null, "{entry}");
    assert!(entry["units"].is_array(), "{entry}");
}

/// An index entry that does not parse costs only its own relation: it is read from Juju
/// (without its memo, nothing vouches for it), the others still come from the cache, and the
/// next index holds it well-formed.
#[test]
fn an_unreadable_index_entry_costs_only_its_relation() {
    let unit = Unit::new(true);
    unit.deploy();
    unit.ok(&Event::ConfigChanged);
    let before = unit.config();
    let beta = ids(&unit)[1].to_string();
    edit_index(&unit, |json| {
        json["relations"][&beta] = serde_json::json!({"units": 5});
    });
    unit.ok(&Event::ConfigChanged);
    assert_eq!(unit.config(), before, "the same configuration");
    // beta: its list, its 2 units, its application and this application; alpha: nothing.
    assert_eq!(unit.calls("relation-list"), 1);
    assert_eq!(unit.calls("relation-get"), 4);
    let file = cache_file(&unit);
    assert_eq!(file.relations[&beta].units.as_ref().map(Vec::len), Some(2));
    assert!(file.relations[&beta].memo.is_some(), "memo again");
    unit.ok(&Event::ConfigChanged);
    assert_eq!(unit.calls("relation-get"), 0);
}

/// A memo never outlives a change it did not see: a changed databag drops the memo of its
/// relation only, and the next unchanged hook again reads nothing.
#[test]
fn a_relation_event_drops_only_its_own_memo() {
    let unit = Unit::new(true);
    unit.deploy();
    let [alpha, beta] = [ids(&unit)[0].clone(), ids(&unit)[1].clone()];
    unit.change(|s| {
        s.set_remote_unit_data(&alpha, "alpha/1", &unit_data("alpha/1", "10.9.9.9"));
    });
    let event = unit.relation_event(&alpha, RelationEventKind::Changed, Some("alpha/1"));
    let index = unit.cache.clone().unwrap();
    let saved = std::fs::read(&index).unwrap();
    let ctx = unit.sim.context(&event).unwrap();
    let tools = CachedHookTools::open_at(
        &ctx,
        &unit.sim.juju,
        &databag_cache::settings(),
        unit.cache.clone(),
    );
    assert_eq!(tools.relation_memo(&alpha), None, "the changed relation");
    assert!(
        tools.relation_memo(&beta).is_some(),
        "the others keep theirs"
    );
    // Opening moved the index aside (a hook in flight): put it back, then run the hook.
    drop(tools);
    std::fs::write(&index, saved).unwrap();
    unit.ok(&event);
    assert!(unit.config().contains("10.9.9.9"));
    unit.ok(&Event::ConfigChanged);
    assert_eq!(unit.calls("relation-get"), 0);
}

/// A relation event whose data turns out unchanged (the shortcut) gives its relation its memo
/// back: the next unchanged hook reads no databag.
#[test]
fn an_unchanged_relation_event_memos_its_relation_again() {
    let unit = Unit::new(true);
    unit.deploy();
    let alpha = ids(&unit)[0].clone();
    unit.ok(&unit.relation_event(&alpha, RelationEventKind::Changed, Some("alpha/0")));
    assert_eq!(
        unit.calls("relation-get"),
        1,
        "only the named unit's databag"
    );
    let file = cache_file(&unit);
    assert!(file.relations[&alpha.to_string()].memo.is_some());
    unit.ok(&Event::ConfigChanged);
    assert_eq!(unit.calls("relation-get"), 0);
}

/// An unchanged hook puts the index back as it was read, without writing it again; anything a
/// hook changes through the tools, even in a hook that is otherwise unchanged, is saved.
#[test]
fn an_unchanged_hook_keeps_the_index_and_any_change_is_saved() {
    let unit = Unit::new(true);
    unit.deploy();
    unit.ok(&Event::ConfigChanged);
    let index = unit.cache.clone().unwrap();
    let before = std::fs::read(&index).unwrap();
    unit.ok(&Event::ConfigChanged);
    assert_eq!(std::fs::read(&index).unwrap(), before, "unchanged");

    // One change per hook (after an unchanged one): each must mark the index changed.
    let alpha = ids(&unit)[0].clone();
    let status = Status::maintenance("a status of this test");
    let kv = BTreeMap::from([("k".to_string(), "v".to_string())]);
    assert!(unit.run_with(&Event::ConfigChanged, |tools| {
        tools.status_set(&status, false).map_err(|e| e.to_string())
    }));
    assert_eq!(cache_file(&unit).unit_status, Some(status));
    unit.ok(&Event::ConfigChanged); // sets the charm's own status again
    assert!(unit.run_with(&Event::ConfigChanged, |tools| {
        tools.state_set(&kv).map_err(|e| e.to_string())
    }));
    assert_eq!(cache_file(&unit).unit_state.unwrap()["k"], "v");
    // Last: a memo that is not the relation's digest sends the next hook down the full path.
    assert!(unit.run_with(&Event::ConfigChanged, |tools| {
        tools.set_relation_memo(&alpha, "a memo of this test".to_string());
        Ok(())
    }));
    assert_eq!(
        cache_file(&unit).relations[&alpha.to_string()]
            .memo
            .as_deref(),
        Some("a memo of this test")
    );

    // A change of leadership, seen in `is-leader`, is saved.
    unit.change(|s| {
        s.set_leader(false);
    });
    unit.ok(&Event::ConfigChanged);
    assert!(!cache_file(&unit).leader);
}

#[test]
fn databags_let_go_after_reading_are_read_again_from_the_cache_and_saved_whole() {
    let unit = Unit::new(true);
    unit.deploy();
    unit.ok(&Event::ConfigChanged);
    let alpha = ids(&unit)[0].clone();
    let before = cache_file(&unit).relations[&alpha.to_string()].clone();
    let app = unit.sim.juju.state().app_name.clone();
    let extra = RelationData::from([("extra".to_string(), "1".to_string())]);
    let seen = std::cell::RefCell::new(Vec::new());
    let ok = unit.run_with(&Event::ConfigChanged, |tools| {
        let read = |tools: &dyn HookTools| {
            tools
                .relation_get(&alpha, "alpha/0", false)
                .map_err(|e| e.to_string())
        };
        seen.borrow_mut().push(read(tools)?);
        tools.release_databags();
        seen.borrow_mut().push(read(tools)?);
        tools.release_databags();
        tools
            .relation_set(&alpha, true, &extra)
            .map_err(|e| e.to_string())
    });
    assert!(ok);
    let bag = &before.unit_data["alpha/0"];
    assert_eq!(bag["prometheus_scrape_unit_address"], "10.0.1.0");
    assert_eq!(*seen.borrow(), [bag.clone(), bag.clone()]);
    assert_eq!(unit.calls("relation-get"), 0, "answered from the cache");
    // A relation written after its databags were let go is saved with all of them.
    let after = cache_file(&unit).relations[&alpha.to_string()].clone();
    assert_eq!(after.unit_data, before.unit_data);
    let mut own = before.app_data[&app].clone();
    own.extend(extra);
    assert_eq!(after.app_data[&app], own);
    assert_eq!(after.app_data.len(), before.app_data.len());
}

/// The cache as earlier versions of the charm kept it (a JSON index, its in-flight copy and a
/// directory of databags) is removed on upgrade-charm: the charm directory keeps files an
/// upgrade does not replace, and nothing reads these any more.
#[test]
fn upgrade_charm_removes_the_cache_files_of_earlier_versions() {
    let unit = Unit::new(true);
    unit.deploy();
    let dir = unit.cache.as_ref().unwrap().parent().unwrap().to_path_buf();
    let legacy = [".databag-cache.json", ".databag-cache.json.in-flight"];
    for name in legacy {
        std::fs::write(dir.join(name), b"{}").unwrap();
    }
    let bags = dir.join(".databag-cache.json.bags");
    std::fs::create_dir_all(&bags).unwrap();
    std::fs::write(bags.join("metrics-endpoint:1.json"), b"{}").unwrap();

    unit.ok(&Event::ConfigChanged);
    assert!(bags.exists(), "only upgrade-charm looks for them");
    unit.ok(&Event::UpgradeCharm);
    for name in legacy {
        assert!(!dir.join(name).exists(), "{name}");
    }
    assert!(!bags.exists());
    assert!(
        unit.cache.as_ref().unwrap().exists(),
        "the cache itself stays"
    );
}

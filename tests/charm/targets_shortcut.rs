//! The relation shortcut (`hook::targets_shortcut`): a relation event that changes only its
//! relation's targets pushes that relation's target files alone; with Prometheus 3 (job files
//! per isolated relation), one that changes only its jobs (a unit of a wildcard job joined or
//! departed) rewrites and checks that relation's job file alone. These tests hold both to the
//! full path: after every step of a history of moves, joins, departures, job and config
//! changes, the workload is what a unit deployed afresh on the same model has, and the full
//! path that the next update-status takes after a shortcut finds nothing to push.

use std::path::PathBuf;

use crate::common::*;
use charm_harness::ReloadResponse;
use juju_hook::{Event, RelationEventKind, RelationId, StatusKind};
use prometheus_rs_k8s::core::workload::{CONFIG_DIR, CONFIG_FILE, MANIFEST_FILE, RULES_DIR};
use prometheus_rs_k8s::effects::targets_record::FilesRecord;
use serde_json::{json, Value};

/// A model of four `metrics-endpoint` relations: `node` and `web` (isolated, one job per
/// unit), and `rawa` and `rawb`, which send no topology, so that their job names collide
/// (their jobs depend on each other: never the shortcut).
fn model() -> (charm_harness::ModelState, Vec<RelationId>) {
    let mut state = charm_sim::charm_model_state().expect("charm metadata loads");
    state.set_leader(true);
    let mut rels = Vec::new();
    for (id, app) in [(3, "node"), (4, "web")] {
        rels.push(add_scrape_app(
            &mut state,
            app,
            id,
            json!([{"job_name": "main", "static_configs": [{"targets": ["*:9100"]}]}]),
            None,
        ));
    }
    for (id, app) in [(5, "rawa"), (6, "rawb")] {
        let rel = state.add_relation_with_id("metrics-endpoint", app, id);
        let data = juju_hook::RelationData::from([(
            "scrape_jobs".to_string(),
            json!([{"job_name": "shared", "static_configs": [{"targets": [format!("10.{id}.0.1:80")]}]}])
                .to_string(),
        )]);
        state.set_remote_app_data(&rel, &data);
        let unit = format!("{app}/0");
        state.add_remote_unit(&rel, &unit);
        set_address(&mut state, &rel, &unit, &format!("10.{id}.1.1"));
        rels.push(rel);
    }
    (state, rels)
}

/// A leader unit deployed on [`model`].
fn deployed() -> (Charm, Vec<RelationId>) {
    deployed_on(PROMETHEUS_VERSION)
}

/// A leader unit deployed on [`model`], its workload running Prometheus `version`.
fn deployed_on(version: &str) -> (Charm, Vec<RelationId>) {
    let (state, rels) = model();
    let c = Charm::with_state_on(state, version);
    c.deploy();
    (c, rels)
}

/// Prometheus 3, whose isolated relations have job files of their own.
const PROMETHEUS_3: &str = "3.14.0";

/// Whether the last apply was a shortcut's (the manifest says so, for the next update-status).
fn last_apply_was_a_shortcut(c: &Charm) -> bool {
    let manifest: Value = serde_json::from_str(&c.file(MANIFEST_FILE).unwrap()).unwrap();
    manifest["applied_for"]["targets_only"] == json!(true)
}

/// The live configuration, job files and all, is one promtool 3 accepts (no job name twice
/// across the files, every listed file there).
#[track_caller]
fn assert_live_config_passes_promtool_3(c: &Charm) {
    let out = std::process::Command::new(promtool_for(PROMETHEUS_3))
        .args(["check", "config", "--syntax-only"])
        .arg(c.sim.pebble.host_path(CONFIG_FILE))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The job file of an isolated relation.
fn jobs_file(rel: &RelationId) -> String {
    format!("{CONFIG_DIR}/jobs-{}-{}.yml", rel.endpoint, rel.id)
}

fn set_address(state: &mut charm_harness::ModelState, rel: &RelationId, unit: &str, addr: &str) {
    let data = juju_hook::RelationData::from([
        (
            "prometheus_scrape_unit_address".to_string(),
            addr.to_string(),
        ),
        ("prometheus_scrape_unit_name".to_string(), unit.to_string()),
    ]);
    state.set_remote_unit_data(rel, unit, &data);
}

/// `node/7` joins `rel` in the model, at 10.7.7.7 (its hook not yet run).
fn add_unit_7(c: &Charm, rel: &RelationId) {
    let mut s = c.sim.juju.state();
    s.add_remote_unit(rel, "node/7");
    set_address(&mut s, rel, "node/7", "10.7.7.7");
}

/// The journal the shortcut appends to: it grows exactly when the shortcut pushed targets.
fn journal_len(c: &Charm) -> u64 {
    let dir = c.sim.juju.state().charm_dir.clone();
    std::fs::metadata(dir.join(prometheus_rs_k8s::effects::targets_record::TARGETS_JOURNAL_FILE))
        .map_or(0, |m| m.len())
}

/// prometheus.yml (job files and targets inlined) of a unit deployed afresh on `c`'s model,
/// its workload running Prometheus `version`.
fn fresh_config(c: &Charm, version: &str) -> String {
    let mut state = c.sim.juju.state().clone();
    state.charm_dir = PathBuf::from("/nonexistent/charm-dir");
    let fresh = Charm::with_state_on(state, version);
    fresh.deploy();
    fresh.config_yaml()
}

/// A small deterministic generator (no crate needed for a fixed history).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % bound as u64) as usize
    }
}

#[test]
fn every_step_of_a_history_leaves_what_the_full_path_and_a_fresh_unit_want() {
    let (targets, jobs) = history(PROMETHEUS_VERSION);
    assert!(targets >= 5, "{targets} targets-only shortcuts");
    assert_eq!(jobs, 0, "no job files with 2.42");
}

/// The same history with Prometheus 3: joins and departures of isolated relations' units,
/// and their applications' changed jobs, change their job files alone.
#[test]
fn every_step_of_a_history_on_prometheus_3_leaves_what_a_fresh_unit_wants() {
    let (targets, jobs) = history(PROMETHEUS_3);
    assert!(targets >= 5, "{targets} targets-only shortcuts");
    assert!(jobs >= 3, "{jobs} jobs-only shortcuts");
}

/// Runs a history of 40 steps on a unit whose workload runs Prometheus `version`; returns
/// how many steps took the shortcut for targets only, and for jobs.
fn history(version: &str) -> (usize, usize) {
    let (c, rels) = deployed_on(version);
    c.assert_active();
    let mut units: Vec<Vec<usize>> = vec![vec![0]; rels.len()];
    let mut next_unit = 1;
    let mut rng = Lcg(7);
    let (mut shortcuts, mut jobs_shortcuts) = (0, 0);
    for step in 0..40 {
        let r = rng.next(rels.len());
        let rel = &rels[r];
        let app = rel_app(&c, rel);
        let action = rng.next(6);
        let before = journal_len(&c);
        let event = match action {
            // A unit moves.
            0 | 1 => {
                let n = units[r][rng.next(units[r].len())];
                let unit = format!("{app}/{n}");
                set_address(
                    &mut c.sim.juju.state(),
                    rel,
                    &unit,
                    &format!("10.{r}.{step}.{n}"),
                );
                c.relation_event(rel, RelationEventKind::Changed, Some(&unit))
            }
            // A unit joins.
            2 => {
                let unit = format!("{app}/{next_unit}");
                units[r].push(next_unit);
                next_unit += 1;
                {
                    let mut s = c.sim.juju.state();
                    s.add_remote_unit(rel, &unit);
                    set_address(&mut s, rel, &unit, &format!("10.{r}.200.{step}"));
                }
                c.ok(&c.relation_event(rel, RelationEventKind::Joined, Some(&unit)));
                c.relation_event(rel, RelationEventKind::Changed, Some(&unit))
            }
            // A unit departs (one stays).
            3 if units[r].len() > 1 => {
                let i = rng.next(units[r].len());
                let n = units[r].remove(i);
                let unit = format!("{app}/{n}");
                c.sim.juju.state().remove_remote_unit(rel, &unit);
                let mut event = c.relation_event(rel, RelationEventKind::Departed, Some(&unit));
                if let Event::Relation(e) = &mut event {
                    e.departing_unit = Some(unit);
                }
                event
            }
            // The application changes its jobs.
            3 | 4 => {
                let mut s = c.sim.juju.state();
                let mut data = s.relation(rel).unwrap().remote_app_data.clone();
                let jobs: Value = serde_json::from_str(&data["scrape_jobs"]).unwrap();
                let mut jobs = jobs.as_array().unwrap().clone();
                jobs[0]["metrics_path"] = json!(format!("/metrics{step}"));
                data.insert("scrape_jobs".into(), Value::Array(jobs).to_string());
                s.set_remote_app_data(rel, &data);
                drop(s);
                c.relation_event(rel, RelationEventKind::Changed, None)
            }
            // An option changes.
            _ => {
                c.set_config("evaluation_interval", format!("{}s", 30 + step));
                Event::ConfigChanged
            }
        };
        let config_before = c.pushed_config_yaml();
        c.ok(&event);
        c.assert_active();
        let shortcut = last_apply_was_a_shortcut(&c);
        if shortcut {
            assert!(r < 2, "step {step}: shortcut on {rel}, not isolated");
            assert_eq!(c.pushed_config_yaml(), config_before, "step {step}");
            if action <= 1 {
                assert!(journal_len(&c) > before, "step {step}: targets pushed");
                shortcuts += 1;
            } else {
                // A unit joined or departed, or the application changed its jobs.
                assert!(
                    matches!(action, 2..=4),
                    "step {step}: shortcut for action {action}"
                );
                jobs_shortcuts += 1;
            }
        }
        let config = c.config_yaml();
        assert_eq!(config, fresh_config(&c, version), "step {step}: {event:?}");

        // The update-status that follows computes everything after a shortcut and finds the
        // workload as it wants it: it only records in the manifest that the full computation
        // agrees. The next one has nothing to do.
        let reloads = c.counters().reloads;
        for (pass, vouches) in [(1, shortcut), (2, false)] {
            c.reset_records();
            c.ok(&Event::UpdateStatus);
            let expected = if vouches {
                vec![MANIFEST_FILE.to_string()]
            } else {
                Vec::new()
            };
            assert_eq!(
                written_paths(&c.requests()),
                expected,
                "step {step}, update-status {pass}"
            );
        }
        assert_eq!(c.counters().reloads, reloads, "step {step}");
        assert_eq!(c.config_yaml(), config);
    }
    (shortcuts, jobs_shortcuts)
}

/// A unit joining a wildcard job of an isolated relation, on Prometheus 3: its relation's job
/// file gains the unit's job and is checked alone (promtool on a configuration naming only
/// that file), its target file is pushed, Prometheus reloads; prometheus.yml, the rules and
/// the other relations' files are not touched. Its departure takes the job away the same way.
#[test]
fn a_unit_joining_or_departing_changes_its_relation_job_file_alone() {
    let (c, rels) = deployed_on(PROMETHEUS_3);
    let rel = &rels[0];
    let file = jobs_file(rel);
    assert!(c
        .file(&file)
        .unwrap()
        .contains("node_prometheus_scrape_main-0"));
    let config = c.pushed_config_yaml();
    assert!(config.contains("jobs-metrics-endpoint-3.yml"), "{config}");

    c.reset_records();
    let reloads = c.counters().reloads;
    add_unit_7(&c, rel);
    c.ok(&c.relation_event(rel, RelationEventKind::Joined, Some("node/7")));
    c.assert_active();
    assert!(last_apply_was_a_shortcut(&c));
    let requests = c.requests();
    assert_eq!(c.counters().reloads, reloads + 1, "one reload");
    assert_eq!(count(&requests, "POST", "/v1/exec"), 1, "one promtool run");
    let written = written_paths(&requests);
    let staged: Vec<&String> = written
        .iter()
        .filter(|p| !p.starts_with("/etc/prometheus/") && !p.starts_with(TARGETS_DIR))
        .collect();
    assert_eq!(
        staged.len(),
        2,
        "the candidate and the job file staged: {written:?}"
    );
    assert!(
        staged
            .iter()
            .any(|p| p.ends_with("/candidate-jobs/jobs.yml")),
        "every relation's job file is staged under one name: {staged:?}"
    );
    assert_eq!(
        file_requests(&requests, "remove").len(),
        0,
        "nothing to empty first: the staged files overwrite the last check's"
    );
    let live: Vec<&String> = written.iter().filter(|p| !staged.contains(p)).collect();
    assert_eq!(
        live,
        [
            &target_file_of(&c, "node/7"),
            &file,
            &MANIFEST_FILE.to_string()
        ],
        "{written:?}"
    );
    let with_manifest: Vec<String> = file_requests(&requests, "write")
        .into_iter()
        .map(|r| written_paths(std::slice::from_ref(r)))
        .filter(|paths| paths.contains(&MANIFEST_FILE.to_string()))
        .flatten()
        .collect();
    assert!(
        with_manifest.contains(&file),
        "the manifest rides with the job file: {with_manifest:?}"
    );
    let manifest: Value = serde_json::from_str(&c.file(MANIFEST_FILE).unwrap()).unwrap();
    assert_eq!(
        manifest.get("relation_jobs"),
        None,
        "the job files are recorded in the charm container: {manifest}"
    );
    assert_eq!(c.pushed_config_yaml(), config, "prometheus.yml untouched");
    assert!(c
        .file(&file)
        .unwrap()
        .contains("node_prometheus_scrape_main-7"));
    assert!(c.config_yaml().contains("10.7.7.7:9100"));
    assert_eq!(c.config_yaml(), fresh_config(&c, PROMETHEUS_3));
    // The relation-changed that follows the join changes nothing more.
    c.reset_records();
    c.ok(&c.relation_event(rel, RelationEventKind::Changed, Some("node/7")));
    assert_eq!(written_paths(&c.requests()), Vec::<String>::new());

    c.reset_records();
    c.sim.juju.state().remove_remote_unit(rel, "node/7");
    let mut event = c.relation_event(rel, RelationEventKind::Departed, Some("node/7"));
    if let Event::Relation(e) = &mut event {
        e.departing_unit = Some("node/7".into());
    }
    c.ok(&event);
    assert!(last_apply_was_a_shortcut(&c));
    assert_eq!(c.counters().reloads, reloads + 2);
    assert!(!c.file(&file).unwrap().contains("main-7"));
    assert_eq!(c.pushed_config_yaml(), config, "prometheus.yml untouched");
    assert_eq!(c.config_yaml(), fresh_config(&c, PROMETHEUS_3));
    assert_live_config_passes_promtool_3(&c);
}

/// A join whose reload fails: the job file is in place, but Prometheus has not loaded it, so
/// it is not recorded; the next hook (the apply still marked in flight) pushes it again and
/// reloads, and only then records it.
#[test]
fn a_job_file_prometheus_did_not_reload_is_pushed_and_reloaded_by_the_next_hook() {
    let (c, rels) = deployed_on(PROMETHEUS_3);
    let rel = &rels[0];
    let file = jobs_file(rel);
    let name = file.rsplit_once('/').unwrap().1.to_owned();
    let generation = || {
        let manifest: Value = serde_json::from_str(&c.file(MANIFEST_FILE).unwrap()).unwrap();
        manifest["generation"].as_str().unwrap().to_owned()
    };
    let recorded =
        || FilesRecord::load(&c.book().jobs, &generation()).map(|(r, _)| r.files[&name].clone());
    let before = recorded().expect("the deploy recorded the job file");
    c.sim.web.set_reload_response(ReloadResponse::Status(
        500,
        "failed to reload config: out of cheese".into(),
    ));
    add_unit_7(&c, rel);
    let reloads = c.counters().reloads;
    c.ok(&c.relation_event(rel, RelationEventKind::Joined, Some("node/7")));
    assert_eq!(c.status().kind, StatusKind::Blocked);
    assert_eq!(c.counters().reloads, reloads + 1);
    assert!(c.file(&file).unwrap().contains("main-7"), "pushed");
    assert_eq!(recorded(), Some(before.clone()), "not recorded");
    assert!(c.book().apply_in_flight());

    c.sim.web.set_reload_response(ReloadResponse::Ok);
    c.reset_records();
    c.ok(&c.relation_event(rel, RelationEventKind::Changed, Some("node/7")));
    c.assert_active();
    assert_eq!(c.counters().reloads, reloads + 2, "reloaded again");
    assert!(written_paths(&c.requests()).contains(&file), "pushed again");
    let after = recorded().expect("recorded");
    assert_ne!(after, before);
    assert!(!c.book().apply_in_flight());
    assert_eq!(c.config_yaml(), fresh_config(&c, PROMETHEUS_3));

    // Settled: the next hooks push and reload nothing.
    c.reset_records();
    c.ok(&Event::UpdateStatus);
    c.ok(&c.relation_event(rel, RelationEventKind::Changed, Some("node/7")));
    assert_eq!(written_paths(&c.requests()), Vec::<String>::new());
    assert_eq!(c.counters().reloads, reloads + 2);
}

/// A joining unit whose job would take a name another relation's job holds takes the full
/// path: the two relations' jobs then depend on each other (the full path renames one) and
/// leave their job files for prometheus.yml.
#[test]
fn a_joining_unit_whose_job_name_another_relation_holds_takes_the_full_path() {
    let (c, rels) = deployed_on(PROMETHEUS_3);
    let rel = &rels[0];
    let taken = c
        .job_names()
        .into_iter()
        .find(|j| j.ends_with("_node_prometheus_scrape_main-0"))
        .unwrap()
        .replace("main-0", "main-7");
    // `rawa` (no topology: its names are kept as given) takes the name node/7's job will have.
    let app_jobs = json!([{"job_name": taken, "static_configs": [{"targets": ["10.5.0.1:80"]}]}]);
    let data = juju_hook::RelationData::from([("scrape_jobs".to_string(), app_jobs.to_string())]);
    c.sim.juju.state().set_remote_app_data(&rels[2], &data);
    c.ok(&c.relation_event(&rels[2], RelationEventKind::Changed, None));
    let config = c.pushed_config_yaml();

    add_unit_7(&c, rel);
    c.ok(&c.relation_event(rel, RelationEventKind::Joined, Some("node/7")));
    c.assert_active();
    assert!(!last_apply_was_a_shortcut(&c), "the full path");
    assert_ne!(c.pushed_config_yaml(), config);
    assert!(
        c.file(&jobs_file(rel)).is_none(),
        "node's jobs left their file"
    );
    assert_eq!(c.config_yaml(), fresh_config(&c, PROMETHEUS_3));
}

/// A join whose relation's recorded digest no longer accounts for the fingerprint (as when
/// something else changed since the last apply) takes the full path. promtool checks the
/// relation's job file while the hook settles that, so it runs once more than the full path
/// needs; nothing live is written before the full path's own check.
#[test]
fn a_join_that_finds_more_changed_than_its_relation_takes_the_full_path_after_its_check() {
    let (c, rels) = deployed_on(PROMETHEUS_3);
    let rel = &rels[0];
    let result_file = c
        .book()
        .results
        .join(format!("{}-{}.json", rel.endpoint, rel.id));
    let mut result: Value = serde_json::from_slice(&std::fs::read(&result_file).unwrap()).unwrap();
    result["digest"] = json!("not what the last apply's fingerprint holds");
    std::fs::write(&result_file, result.to_string()).unwrap();
    add_unit_7(&c, rel);
    c.reset_records();
    c.ok(&c.relation_event(rel, RelationEventKind::Joined, Some("node/7")));
    c.assert_active();
    assert!(!last_apply_was_a_shortcut(&c), "the full path");
    let requests = c.requests();
    let execs: Vec<usize> = (requests.iter().enumerate())
        .filter(|(_, r)| r.method == "POST" && r.path == "/v1/exec")
        .map(|(at, _)| at)
        .collect();
    assert_eq!(execs.len(), 2, "the shortcut's check, then the full path's");
    let live_before_check = written_paths(&requests[..execs[1]])
        .into_iter()
        .filter(|p| p.starts_with("/etc/prometheus/") || p.starts_with(TARGETS_DIR))
        .collect::<Vec<_>>();
    assert_eq!(live_before_check, Vec::<String>::new());
    assert!(c.file(&jobs_file(rel)).unwrap().contains("main-7"));
    assert_eq!(c.config_yaml(), fresh_config(&c, PROMETHEUS_3));
}

fn rel_app(c: &Charm, rel: &RelationId) -> String {
    c.sim.juju.state().relation(rel).unwrap().remote_app.clone()
}

/// A hook that died after pushing a relation's targets and before the manifest (the apply
/// marked in flight in the charm directory) is repaired by the next hook, even when the model
/// is back to the last complete apply's inputs: neither shortcut trusts the manifest or the
/// record then.
#[test]
fn targets_pushed_by_a_hook_that_died_are_repaired_by_the_next() {
    let (c, rels) = deployed();
    let rel = &rels[0];
    let file = target_file_of(&c, "node/0");
    let good = c.file(&file).unwrap();
    assert!(good.contains("10.1.2.10:9100"), "{good}");

    // What a hook moving node/0 to 10.66.0.1 leaves when it dies after the push: the apply
    // marked in flight, the new targets in place, the manifest of the apply before (which
    // vouches for Juju's data as it is again).
    c.book().begin_apply().unwrap();
    c.sim
        .pebble
        .write_file(&file, good.replace("10.1.2.10", "10.66.0.1").as_bytes());

    c.ok(&c.relation_event(rel, RelationEventKind::Changed, Some("node/0")));
    assert_eq!(
        c.file(&file).unwrap(),
        good,
        "the targets of the model are back"
    );
    let manifest: Value = serde_json::from_str(&c.file(MANIFEST_FILE).unwrap()).unwrap();
    assert!(manifest.get("applied_for").is_some(), "vouched for again");
    assert!(!c.book().apply_in_flight(), "complete");
}

/// The shortcut pushes the target files and the manifest in one request, which Pebble writes
/// file by file: the manifest can land while a target file did not. The apply stays marked in
/// flight, so the retried hook distrusts that manifest and pushes the targets again.
#[test]
fn a_manifest_that_landed_without_its_targets_is_not_trusted() {
    let (c, rels) = deployed();
    let rel = &rels[0];
    let file = target_file_of(&c, "node/0");
    let old = c.file(&file).unwrap();
    set_address(&mut c.sim.juju.state(), rel, "node/0", "10.66.0.1");
    c.ok(&c.relation_event(rel, RelationEventKind::Changed, Some("node/0")));
    let moved = c.file(&file).unwrap();
    assert!(moved.contains("10.66.0.1:9100"), "{moved}");

    // What the hook leaves when the target file's write failed and the manifest's did not:
    // the manifest vouching for the move, the old targets, the apply still in flight.
    c.book().begin_apply().unwrap();
    c.sim.pebble.write_file(&file, old.as_bytes());

    c.ok(&c.relation_event(rel, RelationEventKind::Changed, Some("node/0")));
    assert_eq!(
        c.file(&file).unwrap(),
        moved,
        "the moved target is pushed again"
    );
    assert!(!c.book().apply_in_flight(), "complete");
}

/// Moving a unit of an isolated relation pushes its target file alone, runs no promtool and
/// reloads nothing. (Which databags it reads is the databag cache's business: see
/// `databag_cache::a_relation_event_touches_only_its_relations_bags_file`.)
#[test]
fn a_moved_unit_of_an_isolated_relation_costs_its_own_relation_only() {
    let (c, rels) = deployed();
    c.reset_records();
    let (journal, reloads) = (journal_len(&c), c.counters().reloads);
    set_address(&mut c.sim.juju.state(), &rels[1], "web/0", "10.44.0.9");
    c.ok(&c.relation_event(&rels[1], RelationEventKind::Changed, Some("web/0")));
    c.assert_active();
    let requests = c.requests();
    assert!(journal_len(&c) > journal, "the shortcut journaled its push");
    assert_eq!(c.counters().reloads, reloads, "no reload");
    assert_eq!(count(&requests, "POST", "/v1/exec"), 0, "no promtool");
    assert_eq!(
        written_paths(&requests),
        [target_file_of(&c, "web/0"), MANIFEST_FILE.to_string()]
    );
    // The manifest rides in the targets' request, each file with its own mode.
    let writes = file_requests(&requests, "write");
    assert_eq!(writes.len(), 1, "one write request");
    let modes: Vec<&str> = writes[0].body_json.as_ref().unwrap()["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["permissions"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["644", "600"]);
    assert!(c.config_yaml().contains("10.44.0.9:9100"));

    // The same move on a relation whose job name another relation shares takes the full path.
    let journal = journal_len(&c);
    let app_jobs = serde_json::json!([{"job_name": "shared", "metrics_path": "/m",
        "static_configs": [{"targets": ["10.5.0.1:80"]}]}]);
    let data = juju_hook::RelationData::from([("scrape_jobs".to_string(), app_jobs.to_string())]);
    c.sim.juju.state().set_remote_app_data(&rels[2], &data);
    c.ok(&c.relation_event(&rels[2], RelationEventKind::Changed, None));
    assert!(
        journal_len(&c) <= journal,
        "the full path (which folds the journal)"
    );
    assert!(c.config_yaml().contains("metrics_path: /m"));
    assert!(
        c.config_yaml().contains("10.5.0.1:80"),
        "rawa's static targets are still scraped"
    );
}

/// The target file of the job of `unit` (of `node` or `web`, job `main`).
fn target_file_of(c: &Charm, unit: &str) -> String {
    let (app, n) = unit.split_once('/').unwrap();
    let job = c
        .job_names()
        .into_iter()
        .find(|j| j.ends_with(&format!("_{app}_prometheus_scrape_main-{n}")))
        .unwrap_or_else(|| panic!("a job for {unit}: {:?}", c.job_names()));
    format!(
        "{TARGETS_DIR}/{}.json",
        prometheus_rs_k8s::core::prometheus_config::relation_targets::file_id(&job)
    )
}

/// A relation event that changes the relation's alert rules is not a targets-only change:
/// the rules are part of the shape, so the full path writes and checks them.
#[test]
fn changed_alert_rules_take_the_full_path() {
    for version in [PROMETHEUS_VERSION, PROMETHEUS_3] {
        changed_alert_rules_take_the_full_path_on(version);
    }
}

fn changed_alert_rules_take_the_full_path_on(version: &str) {
    let (c, rels) = deployed_on(version);
    assert!(c.dir_entries(RULES_DIR).is_empty());
    let journal = journal_len(&c);
    {
        let mut s = c.sim.juju.state();
        let mut data = s.relation(&rels[0]).unwrap().remote_app_data.clone();
        let rules = json!({"groups": [{"name": "node", "rules": [
            {"alert": "NodeDown", "expr": "up == 0", "for": "1m"}]}]});
        data.insert("alert_rules".into(), rules.to_string());
        s.set_remote_app_data(&rels[0], &data);
    }
    c.ok(&c.relation_event(&rels[0], RelationEventKind::Changed, None));
    c.assert_active();
    assert!(journal_len(&c) <= journal, "not the shortcut");
    assert!(!last_apply_was_a_shortcut(&c), "{version}: the full path");
    let rules = c.dir_entries(RULES_DIR);
    assert_eq!(rules.len(), 1, "{rules:?}");
    let text = c.file(&format!("{RULES_DIR}/{}", rules[0])).unwrap();
    assert!(text.contains("NodeDown"), "{text}");
}

/// A relation job renamed in prometheus.yml (its name is one of the charm's own) makes the
/// names of every relation depend on each other: `rawb`'s new job takes the name the renamed
/// one was given, which the full path then gives up for the next free one. No shortcut.
#[test]
fn a_relation_job_renamed_in_prometheus_yml_keeps_every_relation_on_the_full_path() {
    let (c, rels) = deployed_on(PROMETHEUS_3);
    let set_job = |rel: &RelationId, name: &str, target: &str| {
        let jobs = json!([{"job_name": name, "static_configs": [{"targets": [target]}]}]);
        let data = juju_hook::RelationData::from([("scrape_jobs".to_string(), jobs.to_string())]);
        c.sim.juju.state().set_remote_app_data(rel, &data);
        c.ok(&c.relation_event(rel, RelationEventKind::Changed, None));
        c.assert_active();
    };
    // `rawa`'s job is named like the self-scrape: renamed `prometheus_2` in prometheus.yml;
    // `rawb`'s is its own: a job file.
    set_job(&rels[2], "prometheus", "10.5.0.1:80");
    assert!(c.pushed_config_yaml().contains("job_name: prometheus_2"));
    assert!(c.file(&jobs_file(&rels[3])).is_some(), "rawb is isolated");

    set_job(&rels[3], "prometheus_2", "10.6.0.1:80");
    assert!(!last_apply_was_a_shortcut(&c), "the full path");
    assert_eq!(c.config_yaml(), fresh_config(&c, PROMETHEUS_3));
    assert_live_config_passes_promtool_3(&c);
}

/// A change of one relation's jobs that promtool rejects (a timeout longer than the 30 s
/// global interval the jobs inherit, shorter than Prometheus' default of 1 m: the check's
/// configuration carries the `global` section) goes no further than the candidate: the full
/// path then says why, and the live files stay.
#[test]
fn a_relation_job_file_promtool_rejects_blocks_and_leaves_the_live_files() {
    let (c, rels) = deployed_on(PROMETHEUS_3);
    c.set_config("scrape_interval", "30s");
    c.ok(&Event::ConfigChanged);
    c.assert_active();
    let rel = &rels[0];
    let (config, file) = (c.pushed_config_yaml(), c.file(&jobs_file(rel)).unwrap());
    {
        let mut s = c.sim.juju.state();
        let mut data = s.relation(rel).unwrap().remote_app_data.clone();
        let jobs = json!([{"job_name": "main", "scrape_timeout": "45s",
            "static_configs": [{"targets": ["*:9100"]}]}]);
        data.insert("scrape_jobs".into(), jobs.to_string());
        s.set_remote_app_data(rel, &data);
    }
    let reloads = c.counters().reloads;
    c.reset_records();
    c.ok(&c.relation_event(rel, RelationEventKind::Changed, None));
    let status = c.status();
    assert_eq!(status.kind, juju_hook::StatusKind::Blocked, "{status:?}");
    assert!(
        status
            .message
            .contains("scrape timeout greater than scrape interval"),
        "{status:?}"
    );
    assert_eq!(
        count(&c.requests(), "POST", "/v1/exec"),
        2,
        "the job file's check, then the full path's"
    );
    assert_eq!(c.counters().reloads, reloads, "no reload");
    assert_eq!(c.pushed_config_yaml(), config);
    assert_eq!(c.file(&jobs_file(rel)).unwrap(), file);
}

/// The job files are checked on update-status by one listing of the configuration directory
/// (names and lengths, against the charm container's record of them): one removed or cut short behind
/// the charm's back is pushed again, and Prometheus reloads.
#[test]
fn a_job_file_removed_or_resized_in_the_container_is_restored_by_update_status() {
    let (c, rels) = deployed_on(PROMETHEUS_3);
    let (node, web) = (jobs_file(&rels[0]), jobs_file(&rels[1]));
    let (node_text, web_text) = (c.file(&node).unwrap(), c.file(&web).unwrap());
    c.reset_records();
    c.ok(&Event::UpdateStatus);
    assert_eq!(
        written_paths(&c.requests()),
        Vec::<String>::new(),
        "nothing moved"
    );
    let job_files_read: Vec<String> = c
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/v1/files")
        .filter(|r| r.query.contains("jobs-"))
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(
        job_files_read.len(),
        1,
        "one listing, not a pull each: {job_files_read:?}"
    );
    assert!(
        job_files_read[0].contains("action=list"),
        "{job_files_read:?}"
    );

    std::fs::remove_file(c.sim.pebble.host_path(&node)).unwrap();
    c.sim
        .pebble
        .write_file(&web, &web_text[..web_text.len() - 3]);
    let reloads = c.counters().reloads;
    c.reset_records();
    c.ok(&Event::UpdateStatus);
    c.assert_active();
    assert_eq!(c.file(&node).unwrap(), node_text);
    assert_eq!(c.file(&web).unwrap(), web_text);
    assert_eq!(c.counters().reloads, reloads + 1);
    let written = written_paths(&c.requests());
    assert!(
        written.contains(&node) && written.contains(&web),
        "{written:?}"
    );
}

/// A full path that changes no job file stages none: the staged prometheus.yml names them at
/// their live paths (each staged file is a synced write for Pebble, thousands in a large
/// model); promtool 3 accepts it so.
#[test]
fn the_full_path_stages_only_the_job_files_it_changes() {
    let (c, _rels) = deployed_on(PROMETHEUS_3);
    c.reset_records();
    c.set_config("evaluation_interval", "45s");
    c.ok(&Event::ConfigChanged);
    c.assert_active();
    let candidate_dir = prometheus_rs_k8s::core::workload::CANDIDATE_DIR;
    let written = written_paths(&c.requests());
    let staged: Vec<&String> = written
        .iter()
        .filter(|p| p.starts_with(candidate_dir))
        .collect();
    assert_eq!(
        staged,
        [&format!("{candidate_dir}/prometheus.yml")],
        "{written:?}"
    );
    let candidate = c.file(&format!("{candidate_dir}/prometheus.yml")).unwrap();
    assert!(
        candidate.contains(&format!("\n- {CONFIG_DIR}/jobs-metrics-endpoint-3.yml\n")),
        "{candidate}"
    );
    assert!(c
        .pushed_config_yaml()
        .contains("\n- jobs-metrics-endpoint-3.yml\n"));
}

/// The relation-targets service runs while some relation job has a target file: a change of
/// one relation's jobs that gives the model its first target file (its only job had no
/// targets before) takes the full path, which starts the service.
#[test]
fn a_change_of_jobs_that_needs_the_targets_service_takes_the_full_path() {
    let mut state = charm_sim::charm_model_state().expect("charm metadata loads");
    state.set_leader(true);
    let rel = state.add_relation_with_id("metrics-endpoint", "inl", 9);
    let set_jobs = |state: &mut charm_harness::ModelState, jobs: Value| {
        let data = juju_hook::RelationData::from([("scrape_jobs".to_string(), jobs.to_string())]);
        state.set_remote_app_data(&rel, &data);
    };
    set_jobs(
        &mut state,
        json!([{"job_name": "inl", "metrics_path": "/m"}]),
    );
    state.add_remote_unit(&rel, "inl/0");
    let c = Charm::with_state_on(state, PROMETHEUS_3);
    c.deploy();
    c.assert_active();
    assert!(c.file(&jobs_file(&rel)).is_some(), "isolated: a job file");
    assert!(!c.sim.pebble.plan_yaml().contains("relation-targets"));

    let jobs = json!([{"job_name": "inl", "static_configs": [{"targets": ["10.9.0.1:80"]}]}]);
    set_jobs(&mut c.sim.juju.state(), jobs);
    c.ok(&c.relation_event(&rel, RelationEventKind::Changed, None));
    c.assert_active();
    assert!(!last_apply_was_a_shortcut(&c), "the full path");
    assert!(c.sim.pebble.plan_yaml().contains("relation-targets"));
    assert_eq!(c.config_yaml(), fresh_config(&c, PROMETHEUS_3));
}

/// Without the charm container's record of the job files (a charm directory lost), the next
/// full path pushes every job file again, removes a job file nothing wants, and records them.
#[test]
fn a_lost_job_file_record_makes_the_full_path_push_every_job_file_and_remove_strays() {
    let (c, rels) = deployed_on(PROMETHEUS_3);
    let files: Vec<String> = rels[..2].iter().map(jobs_file).collect();
    std::fs::remove_file(&c.book().jobs).unwrap();
    let stray = format!("{CONFIG_DIR}/jobs-metrics-endpoint-99.yml");
    c.sim.pebble.write_file(&stray, b"scrape_configs: []\n");
    c.reset_records();
    c.configure("evaluation_interval", "30s");
    c.assert_active();
    let written = written_paths(&c.requests());
    for file in &files {
        assert!(written.contains(file), "{file} pushed again: {written:?}");
    }
    assert_eq!(c.file(&stray), None, "the stray job file is removed");
    assert!(std::fs::metadata(&c.book().jobs).is_ok(), "recorded again");
    assert_eq!(c.config_yaml(), fresh_config(&c, PROMETHEUS_3));
}

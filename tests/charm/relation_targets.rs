//! Relation jobs' targets are served to Prometheus over HTTP (the `relation-targets` service):
//! a unit that moves rewrites its job's target file and nothing else (no prometheus.yml push,
//! no promtool, no reload); jobs that appear or go still change prometheus.yml, checked by
//! promtool and applied by reload, with their target files in place first.

use crate::common::*;
use juju_hook::{Event, RelationEventKind, RelationId, WorkloadEventKind};
use prometheus_rs_k8s::core::prometheus_config::relation_targets::file_id;
use prometheus_rs_k8s::effects::apply::PUSH_BATCH_FILES;
use serde_json::{json, Value};

const JOB: &str = "juju_workloads_f4b3a2c1_node_prometheus_scrape_node";

/// A leader related to `node` (one job on `*:9100`) with units at the given addresses.
fn related(addresses: &[&str]) -> (Charm, RelationId) {
    let mut state = charm_harness_state();
    let rel = add_scrape_app(
        &mut state,
        "node",
        7,
        json!([{"job_name": "node", "static_configs": [{"targets": ["*:9100"]}]}]),
        None,
    );
    for (n, address) in addresses.iter().enumerate() {
        set_unit_address(&mut state, &rel, n, address);
    }
    let c = Charm::with_state(state);
    c.deploy();
    c.assert_active();
    (c, rel)
}

fn charm_harness_state() -> charm_harness::ModelState {
    let mut state = charm_sim::charm_model_state().expect("charm metadata loads");
    state.set_leader(true);
    state
}

fn set_unit_address(
    state: &mut charm_harness::ModelState,
    rel: &RelationId,
    n: usize,
    address: &str,
) {
    let unit = format!("node/{n}");
    if n > 0 {
        state.add_remote_unit(rel, &unit);
    }
    let data = juju_hook::RelationData::from([
        (
            "prometheus_scrape_unit_address".to_string(),
            address.to_string(),
        ),
        ("prometheus_scrape_unit_name".to_string(), unit.clone()),
    ]);
    state.set_remote_unit_data(rel, &unit, &data);
}

/// Gives unit `node/<n>` the address `address` and runs the relation event `kind` for it.
fn unit_at(c: &Charm, rel: &RelationId, n: usize, address: &str, kind: RelationEventKind) {
    set_unit_address(&mut c.sim.juju.state(), rel, n, address);
    c.ok(&c.relation_event(rel, kind, Some(&format!("node/{n}"))));
}

fn target_path(job: &str) -> String {
    format!("{TARGETS_DIR}/{}.json", file_id(job))
}

fn targets_of(c: &Charm, job: &str) -> Value {
    serde_json::from_str(&c.file(&target_path(job)).expect("target file pushed")).unwrap()
}

/// The last hook pushed these target files alone, then the record of the apply:
/// prometheus.yml as `config` was, no promtool, no reload, no restart (`before` are the
/// counters before the hook).
#[track_caller]
fn assert_targets_alone_pushed(c: &Charm, targets: &[String], config: &str, before: &Counters) {
    let requests = c.requests();
    let mut expected = targets.to_vec();
    expected.push(MANIFEST_FILE.to_string());
    assert_eq!(written_paths(&requests), expected);
    assert_eq!(c.pushed_config_yaml(), config);
    assert_eq!(count(&requests, "POST", "/v1/exec"), 0, "no promtool run");
    assert_eq!(&c.counters(), before, "no reload, no restart");
}

#[test]
fn relation_jobs_name_their_target_file_and_the_file_holds_the_targets() {
    let (c, _) = related(&["10.1.2.10", "10.1.2.11"]);
    let pushed: serde_yaml_ng::Value = serde_yaml_ng::from_str(&c.pushed_config_yaml()).unwrap();
    let jobs = pushed["scrape_configs"].as_sequence().unwrap();
    for n in 0..2 {
        let name = format!("{JOB}-{n}");
        let job = jobs
            .iter()
            .find(|j| j["job_name"].as_str() == Some(&name))
            .expect("the unit's job");
        assert!(job.get("static_configs").is_none(), "{job:?}");
        assert_eq!(
            job["http_sd_configs"][0]["url"].as_str().unwrap(),
            format!("http://127.0.0.1:9098/targets/{}", file_id(&name))
        );
        let groups = targets_of(&c, &name);
        assert_eq!(groups[0]["targets"], json!([format!("10.1.2.1{n}:9100")]));
        assert_eq!(groups[0]["labels"]["juju_unit"], format!("node/{n}"));
    }
    // The charm's own job keeps its static target.
    let own = &jobs[0];
    assert_eq!(own["job_name"].as_str(), Some("prometheus"));
    assert!(own.get("static_configs").is_some());
    // The service serving them runs the charm's binary.
    let plan = c.sim.pebble.plan_yaml();
    assert!(
        plan.contains("serve-targets --listen=127.0.0.1:9098 --dir=/etc/prometheus-rs-k8s/targets"),
        "{plan}"
    );
}

#[test]
fn a_moved_unit_rewrites_its_target_file_only() {
    let (c, rel) = related(&["10.1.2.10", "10.1.2.11"]);
    let config_before = c.pushed_config_yaml();
    let before = c.counters();
    c.reset_records();

    unit_at(&c, &rel, 1, "10.1.9.99", RelationEventKind::Changed);
    c.assert_active();

    assert_targets_alone_pushed(
        &c,
        &[target_path(&format!("{JOB}-1"))],
        &config_before,
        &before,
    );
    assert_eq!(
        file_requests(&c.requests(), "write").len(),
        1,
        "the manifest rides with the target file"
    );
    assert_eq!(
        targets_of(&c, &format!("{JOB}-1"))[0]["targets"],
        json!(["10.1.9.99:9100"])
    );
    assert!(c.config_yaml().contains("10.1.9.99:9100"));
    assert!(!c.config_yaml().contains("10.1.2.11:9100"));
}

#[test]
fn a_new_unit_adds_a_job_checked_and_reloaded_with_its_targets_in_place() {
    let (c, rel) = related(&["10.1.2.10"]);
    let before = c.counters();
    c.reset_records();
    unit_at(&c, &rel, 1, "10.1.2.11", RelationEventKind::Joined);

    let requests = c.requests();
    let written = written_paths(&requests);
    let new_file = target_path(&format!("{JOB}-1"));
    assert!(written.contains(&new_file), "{written:?}");
    assert!(written.contains(&CONFIG_FILE.to_string()), "{written:?}");
    assert_eq!(c.counters().reloads, before.reloads + 1);
    assert!(
        count(&requests, "POST", "/v1/exec") >= 1,
        "promtool checked it"
    );
    assert!(c.job_names().contains(&format!("{JOB}-1")));
}

#[test]
fn a_departed_unit_and_a_broken_relation_remove_their_target_files() {
    let (c, rel) = related(&["10.1.2.10", "10.1.2.11"]);
    {
        let mut state = c.sim.juju.state();
        state.remove_remote_unit(&rel, "node/1");
    }
    let event = c.relation_event(&rel, RelationEventKind::Departed, Some("node/1"));
    c.ok(&event);
    assert_eq!(c.file(&target_path(&format!("{JOB}-1"))), None);
    assert!(c.file(&target_path(&format!("{JOB}-0"))).is_some());

    c.sim.juju.state().remove_relation(&rel);
    c.ok(&c.relation_event(&rel, RelationEventKind::Broken, None));
    assert_eq!(c.dir_entries(TARGETS_DIR), Vec::<String>::new());
}

#[test]
fn a_fresh_container_gets_every_target_file_again() {
    let (c, _) = related(&["10.1.2.10", "10.1.2.11"]);
    let files = c.dir_entries(TARGETS_DIR);
    assert_eq!(files.len(), 2, "{files:?}");
    c.sim.pebble.restart_container(true);
    c.ok(&Event::Workload {
        container: "prometheus".into(),
        kind: WorkloadEventKind::PebbleReady,
    });
    assert_eq!(c.dir_entries(TARGETS_DIR), files);
    assert!(c.config_yaml().contains("10.1.2.11:9100"));
}

#[test]
fn the_record_of_target_files_lives_in_the_charm_container_not_the_manifest() {
    let (c, rel) = related(&["10.1.2.10", "10.1.2.11"]);
    let manifest = c.file(MANIFEST_FILE).expect("manifest");
    assert!(!manifest.contains(TARGETS_DIR), "{manifest}");
    let record_file =
        prometheus_rs_k8s::effects::targets_record::record_path(&c.sim.juju.state().charm_dir);
    let record: Value = serde_json::from_slice(&std::fs::read(&record_file).unwrap()).unwrap();
    assert_eq!(record["files"].as_object().unwrap().len(), 2, "{record}");

    // A charm container that lost its record (a restarted charm container, which loses the
    // relations' results with it) pushes every target file again and removes any the workload
    // has that no job wants.
    std::fs::remove_file(&record_file).unwrap();
    std::fs::remove_dir_all(prometheus_rs_k8s::effects::targets_record::results_dir(
        &c.sim.juju.state().charm_dir,
    ))
    .unwrap();
    let stray = format!("{TARGETS_DIR}/0123456789abcdef0123456789abcdef.json");
    c.sim.pebble.write_file(&stray, b"[]\n");
    c.reset_records();
    unit_at(&c, &rel, 0, "10.1.3.10", RelationEventKind::Changed);
    let written = written_paths(&c.requests());
    for n in 0..2 {
        assert!(
            written.contains(&target_path(&format!("{JOB}-{n}"))),
            "{written:?}"
        );
    }
    assert_eq!(c.file(&stray), None, "the stray target file is removed");
    assert!(record_file.exists());
}

/// Thousands of target files go in several push requests: one request for all of them
/// outlasted the Pebble client's timeout at 25,000 (every apply failed).
#[test]
fn a_lost_record_with_unchanged_inputs_ends_with_a_manifest_that_vouches_for_the_apply() {
    let (c, _) = related(&["10.1.2.10", "10.1.2.11"]);
    let charm_dir = c.sim.juju.state().charm_dir.clone();
    std::fs::remove_file(prometheus_rs_k8s::effects::targets_record::record_path(
        &charm_dir,
    ))
    .unwrap();
    // Same inputs: only the target files, unknown now, are pushed again.
    c.reset_records();
    c.ok(&Event::UpdateStatus);
    let written = written_paths(&c.requests());
    assert!(
        written.contains(&target_path(&format!("{JOB}-0"))),
        "{written:?}"
    );
    assert_eq!(
        written.last(),
        Some(&MANIFEST_FILE.to_string()),
        "{written:?}"
    );
    let manifest: Value = serde_json::from_str(&c.file(MANIFEST_FILE).unwrap()).unwrap();
    assert!(manifest["applied_for"].is_object(), "{manifest}");
    // So the next hook with the same inputs changes nothing.
    c.reset_records();
    c.ok(&Event::ConfigChanged);
    c.assert_nothing_written();
    c.assert_active();
}

#[test]
fn target_files_removed_resized_or_added_in_the_workload_are_set_right_by_update_status() {
    let (c, _) = related(&["10.1.2.10", "10.1.2.11", "10.1.2.12"]);
    let [removed, resized, kept] = [0, 1, 2].map(|n| target_path(&format!("{JOB}-{n}")));
    let wanted = [&removed, &resized, &kept].map(|p| c.file(p).expect("pushed"));
    std::fs::remove_file(c.sim.pebble.host_path(&removed)).unwrap();
    c.sim.pebble.write_file(&resized, b"[]\n");
    let stray = format!("{TARGETS_DIR}/0123456789abcdef0123456789abcdef.json");
    c.sim.pebble.write_file(&stray, b"[]\n");
    let config = c.pushed_config_yaml();
    let before = c.counters();

    // Other hooks trust the record: nothing is noticed.
    c.reset_records();
    c.ok(&Event::ConfigChanged);
    c.assert_nothing_written();

    // update-status lists the directory (one request): the missing and the resized file are
    // pushed again, the stray one removed; prometheus.yml, promtool and Prometheus are left
    // alone.
    c.reset_records();
    c.ok(&Event::UpdateStatus);
    c.assert_active();
    assert_targets_alone_pushed(&c, &[removed.clone(), resized.clone()], &config, &before);
    assert_eq!(
        [&removed, &resized, &kept].map(|p| c.file(p).expect("in place")),
        wanted
    );
    assert_eq!(c.file(&stray), None);

    // Set right: the next update-status changes nothing.
    c.reset_records();
    c.ok(&Event::UpdateStatus);
    c.assert_nothing_written();
}

#[test]
fn many_target_files_are_pushed_in_batches() {
    let many = PUSH_BATCH_FILES + 1;
    let addresses: Vec<String> = (0..many)
        .map(|n| format!("10.2.{}.{}", n / 250, n % 250))
        .collect();
    let addresses: Vec<&str> = addresses.iter().map(String::as_str).collect();
    let (c, _) = related(&addresses);
    let requests = c.requests();
    let batches: Vec<usize> = file_requests(&requests, "write")
        .iter()
        .map(|r| {
            r.body_json.as_ref().unwrap()["files"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["path"].as_str().unwrap().starts_with(TARGETS_DIR))
                .count()
        })
        .filter(|n| *n > 0)
        .collect();
    assert_eq!(batches.iter().sum::<usize>(), many, "{batches:?}");
    assert!(
        batches.len() >= 2 && batches.iter().all(|n| *n <= PUSH_BATCH_FILES),
        "{batches:?}"
    );
    assert_eq!(c.dir_entries(TARGETS_DIR).len(), many);
}

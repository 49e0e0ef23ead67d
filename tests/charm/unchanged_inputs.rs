//! A hook whose inputs are those of the last successful apply skips computing the desired
//! state, and ends exactly as the full computation would: same status, no Pebble change. Any
//! change of input, of the plan or of the services, any event that re-checks everything, and
//! an update-status that finds a file out of place, takes the full path.

use std::time::Duration;

use crate::common::*;
use juju_hook::{Event, RelationEventKind, RelationId, Status, StatusKind};
use pebble::{Client, Layer};
use prometheus_rs_k8s::effects::targets_record;
use prometheus_rs_k8s::hook::reconcile::{reconcile, ReconcileOutcome};
use serde_json::Value;

/// Runs `event` through the reconcile as a hook that exits 0 (writes committed).
fn reconciled(c: &Charm, event: &Event) -> ReconcileOutcome {
    let ctx = c.sim.context(event).unwrap();
    let outcome = reconcile(&ctx, &c.sim.juju, &c.sim.access).expect("hook succeeds");
    c.sim.juju.commit();
    outcome
}

fn pebble(c: &Charm) -> Client {
    Client::new(&c.sim.access.pebble_socket)
}

fn grafana_relation(c: &Charm) -> RelationId {
    let state = c.sim.juju.state();
    let rel = state
        .relations
        .iter()
        .find(|r| r.endpoint == "grafana-source")
        .expect("the fixture has a grafana-source relation");
    RelationId::new(rel.endpoint.clone(), rel.id)
}

/// Gives the first remote unit of `metrics-endpoint:10` another address, without a hook.
fn move_first_unit(c: &Charm, address: &str) {
    let rel = metrics_relation(10);
    let mut state = c.sim.juju.state();
    let relation = state.relation(&rel).unwrap();
    let (unit, data) = relation.remote_units.iter().next().unwrap();
    let (unit, mut data) = (unit.clone(), data.clone());
    data.insert("prometheus_scrape_unit_address".into(), address.into());
    state.set_remote_unit_data(&rel, &unit, &data);
}

fn deployed() -> Charm {
    let c = Charm::two_apps(true);
    c.deploy();
    c.assert_active();
    c
}

#[test]
fn an_unchanged_hook_ends_as_the_last_apply_without_touching_anything() {
    let c = deployed();
    let config = c.config_yaml();
    let before = c.counters();
    c.reset_records();

    let outcome = reconciled(&c, &Event::ConfigChanged);
    assert!(outcome.inputs_unchanged);
    assert_eq!(outcome.status, Status::active(""));
    assert_eq!(c.status(), Status::active(""));
    let requests = c.requests();
    assert_eq!(
        mutating(&requests),
        Vec::<&charm_harness::RecordedRequest>::new()
    );
    assert_eq!(
        requests.len(),
        3,
        "manifest, plan and services: {requests:#?}"
    );
    assert_eq!(c.counters(), before);
    assert_eq!(c.config_yaml(), config);

    // A relation event whose data did not change is recognised too.
    let event = c.relation_event(&metrics_relation(10), RelationEventKind::Changed, None);
    assert!(reconciled(&c, &event).inputs_unchanged);
}

#[test]
fn the_status_of_refused_relation_data_survives_unchanged_hooks() {
    let c = deployed();
    let rel = metrics_relation(10);
    {
        let mut state = c.sim.juju.state();
        let mut data = state.relation(&rel).unwrap().remote_app_data.clone();
        data.insert("scrape_jobs".into(), "not json".into());
        state.set_remote_app_data(&rel, &data);
    }
    let first = reconciled(
        &c,
        &c.relation_event(&rel, RelationEventKind::Changed, None),
    );
    assert!(!first.inputs_unchanged);
    assert_eq!(first.status.kind, StatusKind::Blocked);
    assert!(
        first.status.message.contains("metrics-endpoint:10"),
        "{first:?}"
    );

    let again = reconciled(&c, &Event::ConfigChanged);
    assert!(again.inputs_unchanged);
    assert_eq!(again.status, first.status);
    assert_eq!(c.status(), first.status);
}

#[test]
fn every_change_of_input_takes_the_full_path() {
    let c = deployed();
    let before = c.counters();

    c.set_config("evaluation_interval", "2m");
    let outcome = reconciled(&c, &Event::ConfigChanged);
    assert!(!outcome.inputs_unchanged);
    assert!(c.config_yaml().contains("evaluation_interval: 2m"));
    assert_eq!(c.counters().reloads, before.reloads + 1);
    assert!(reconciled(&c, &Event::ConfigChanged).inputs_unchanged);

    move_first_unit(&c, "10.99.0.1");
    // Even a hook about something else sees it (the harness has no databag cache).
    assert!(!reconciled(&c, &Event::ConfigChanged).inputs_unchanged);
    assert!(c.config_yaml().contains("10.99.0.1"));
}

#[test]
fn events_that_recheck_everything_never_skip() {
    let c = deployed();
    for event in [Event::UpgradeCharm, Event::LeaderElected, pebble_ready()] {
        let outcome = reconciled(&c, &event);
        assert!(!outcome.inputs_unchanged, "{}", event.name());
        assert_eq!(
            outcome.report.map(|r| r.is_noop()),
            Some(true),
            "{}",
            event.name()
        );
    }
}

/// update-status checks the workload's files; it skips the computation only when they are as
/// the last apply left them, and otherwise sets them right.
#[test]
fn update_status_computes_only_when_a_file_is_out_of_place() {
    let c = deployed();
    let config = c.config_yaml();
    let targets = c.dir_entries(TARGETS_DIR);
    assert!(
        targets.len() >= 2,
        "the fixture has relation targets: {targets:?}"
    );
    let target = |name: &str| format!("{TARGETS_DIR}/{name}");
    let wanted = c.file(&target(&targets[0])).expect("pushed");

    c.reset_records();
    let quiet = reconciled(&c, &Event::UpdateStatus);
    assert!(quiet.inputs_unchanged, "{quiet:?}");
    assert_eq!(quiet.status, Status::active(""));
    assert_eq!(
        mutating(&c.requests()),
        Vec::<&charm_harness::RecordedRequest>::new()
    );

    // Each way a file can be out of place takes the full path, which sets it right; the next
    // update-status skips again.
    type Breakage<'a> = (&'static str, Box<dyn Fn() + 'a>);
    let out_of_place: [Breakage; 5] = [
        (
            "prometheus.yml edited",
            Box::new(|| c.sim.pebble.write_file(CONFIG_FILE, "global: {}\n")),
        ),
        (
            "a target file removed",
            Box::new(|| {
                std::fs::remove_file(c.sim.pebble.host_path(&target(&targets[0]))).unwrap()
            }),
        ),
        (
            "a target file resized",
            Box::new(|| c.sim.pebble.write_file(&target(&targets[0]), "[]\n")),
        ),
        (
            "a stray target file",
            Box::new(|| {
                c.sim
                    .pebble
                    .write_file(&target("0123456789abcdef.json"), "[]\n")
            }),
        ),
        (
            "the charm's record of its target files lost",
            Box::new(|| {
                std::fs::remove_file(targets_record::record_path(&c.sim.juju.state().charm_dir))
                    .unwrap()
            }),
        ),
    ];
    for (what, break_it) in out_of_place {
        break_it();
        let outcome = reconciled(&c, &Event::UpdateStatus);
        assert!(!outcome.inputs_unchanged, "{what}");
        assert_eq!(outcome.status, Status::active(""), "{what}");
        assert_eq!(c.config_yaml(), config, "{what}");
        assert_eq!(c.dir_entries(TARGETS_DIR), targets, "{what}");
        assert_eq!(c.file(&target(&targets[0])), Some(wanted.clone()), "{what}");
        assert!(
            reconciled(&c, &Event::UpdateStatus).inputs_unchanged,
            "{what}, set right"
        );
    }

    // A remote change no hook announced (the harness keeps no databag cache: every
    // update-status reads everything) is applied.
    move_first_unit(&c, "10.99.0.2");
    assert!(!reconciled(&c, &Event::UpdateStatus).inputs_unchanged);
    assert!(c
        .dir_entries(TARGETS_DIR)
        .iter()
        .any(|name| c.file(&target(name)).unwrap().contains("10.99.0.2")));
}

#[test]
fn a_stopped_service_is_started_again_by_the_next_hook() {
    let c = deployed();
    pebble(&c)
        .stop_services(&["prometheus"], Duration::from_secs(5))
        .unwrap();
    let outcome = reconciled(&c, &Event::ConfigChanged);
    assert!(!outcome.inputs_unchanged);
    assert_eq!(
        outcome.report.unwrap().restarted,
        vec!["prometheus".to_string()]
    );
    c.assert_active();
    assert!(reconciled(&c, &Event::ConfigChanged).inputs_unchanged);
}

#[test]
fn a_plan_changed_behind_the_charm_is_restored_by_the_next_hook() {
    let c = deployed();
    let client = pebble(&c);
    let mut layer: Layer = client.get_plan().unwrap();
    let service = layer.services.get_mut("prometheus").unwrap();
    service.command = Some("/bin/prometheus --version".into());
    // Replacing the charm's own layer, as `pebble add --combine prometheus-rs-k8s` would.
    client.add_layer("prometheus-rs-k8s", &layer, true).unwrap();

    let outcome = reconciled(&c, &Event::ConfigChanged);
    assert!(!outcome.inputs_unchanged);
    assert!(outcome.report.unwrap().layer_changed);
    let command = client.get_plan().unwrap().services["prometheus"]
        .command
        .clone()
        .unwrap();
    assert!(command.contains("--config.file"), "{command}");
    assert!(reconciled(&c, &Event::ConfigChanged).inputs_unchanged);
}

#[test]
fn relation_writes_dropped_with_a_failed_hook_are_written_by_the_next_one() {
    let c = deployed();
    let grafana = grafana_relation(&c);
    let written = |c: &Charm| -> Value {
        let data = c.local_app_data(&grafana);
        serde_json::from_str(&data["grafana_source_data"]).unwrap()
    };
    assert_eq!(written(&c)["extra_fields"]["timeInterval"], "1m");

    // The hook applies the workload and writes, then fails: Juju drops its writes, while the
    // workload (and the record of what was applied) stays.
    c.set_config("scrape_interval", "30s");
    let ctx = c.sim.context(&Event::ConfigChanged).unwrap();
    reconcile(&ctx, &c.sim.juju, &c.sim.access).unwrap();
    c.sim.juju.rollback();
    assert_eq!(
        written(&c)["extra_fields"]["timeInterval"],
        "1m",
        "dropped with the hook"
    );

    let retry = reconciled(&c, &Event::ConfigChanged);
    assert!(
        !retry.inputs_unchanged,
        "the databag differs from what was recorded"
    );
    assert_eq!(written(&c)["extra_fields"]["timeInterval"], "30s");
    assert!(reconciled(&c, &Event::ConfigChanged).inputs_unchanged);
}

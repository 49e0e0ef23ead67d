//! `juju refresh prometheus-k8s --switch ./prometheus-rs-k8s_amd64.charm`: the names the switch
//! depends on are those of prometheus-k8s, and a unit as the Python charm leaves it (its
//! relation data, its Pebble layer, its files in the workload container) is taken over by this
//! charm with no hook error: every hook Juju runs after the switch succeeds, the Python charm's
//! leftovers that would change what Prometheus does are replaced or removed, and the URLs it
//! published stay the same.
//!
//! The relation data and workload files are those recorded from the real prometheus-k8s
//! (upstream commit 432c227, see /work/shared/fixtures INTERFACES.md) in
//! `tests/fixtures/prometheus_k8s/` and `tests/fixtures/prometheus_scrape/`.

use std::path::Path;
use std::time::Duration;

use crate::common::{pebble_ready, Charm, CONFIG_FILE, TWO_APPS_FIXTURE};
use charm_sim::{charm_model_state, CONFIG_YAML, METADATA_YAML};
use juju_hook::{Event, RelationId, Status};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/prometheus_k8s");
const SCENARIOS: [&str; 3] = [
    "grafana_datasource-scenario.json",
    "prometheus_remote_write-scenario.json",
    "alertmanager_dispatch-scenario.json",
];

fn json_file(path: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn yaml(text: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(text).unwrap()
}

/// What upstream's charmcraft.yaml declares (reference: prometheus-k8s-charm.md §2, §3), which
/// a switch keeps: a name missing here would be refused by `juju refresh --switch` (storage,
/// container, an endpoint in use) or would lose the user's setting (a config option).
#[test]
fn every_name_the_switch_depends_on_is_that_of_prometheus_k8s() {
    let meta = yaml(METADATA_YAML);
    assert_eq!(
        meta["containers"]["prometheus"]["resource"].as_str(),
        Some("prometheus-image")
    );
    let mounts = &meta["containers"]["prometheus"]["mounts"][0];
    assert_eq!(mounts["storage"].as_str(), Some("database"));
    assert_eq!(mounts["location"].as_str(), Some("/var/lib/prometheus"));
    assert_eq!(
        meta["storage"]["database"]["type"].as_str(),
        Some("filesystem")
    );
    assert_eq!(
        meta["resources"]["prometheus-image"]["type"].as_str(),
        Some("oci-image")
    );
    assert_eq!(
        meta["peers"]["prometheus-peers"]["interface"].as_str(),
        Some("prometheus_peers")
    );
    // Endpoints this charm shares with prometheus-k8s: same role, same interface.
    for (role, endpoint, interface) in [
        ("provides", "self-metrics-endpoint", "prometheus_scrape"),
        ("provides", "grafana-source", "grafana_datasource"),
        (
            "provides",
            "receive-remote-write",
            "prometheus_remote_write",
        ),
        ("requires", "metrics-endpoint", "prometheus_scrape"),
        ("requires", "alertmanager", "alertmanager_dispatch"),
    ] {
        assert_eq!(
            meta[role][endpoint]["interface"].as_str(),
            Some(interface),
            "{role} {endpoint}"
        );
    }
    // Every upstream option exists with upstream's type, so `juju config` values carry over.
    let config = yaml(CONFIG_YAML);
    for (option, kind) in [
        ("log_level", "string"),
        ("web_external_url", "string"),
        ("metrics_retention_time", "string"),
        ("maximum_retention_size", "string"),
        ("metrics_wal_compression", "boolean"),
        ("evaluation_interval", "string"),
        ("cpu", "string"),
        ("memory", "string"),
        ("max_global_exemplars_per_user", "int"),
    ] {
        assert_eq!(
            config["options"][option]["type"].as_str(),
            Some(kind),
            "{option}"
        );
    }
    // Upstream's defaults where they protect the user (a bounded TSDB) or change the data.
    assert_eq!(
        config["options"]["maximum_retention_size"]["default"].as_str(),
        Some("80%")
    );
    assert_eq!(
        config["options"]["metrics_wal_compression"]["default"].as_bool(),
        Some(false)
    );
    assert_eq!(
        config["options"]["max_global_exemplars_per_user"]["default"].as_i64(),
        Some(0)
    );
}

/// The stale rule file of an application related to prometheus-k8s earlier, no longer there.
const GONE_RULES: &str =
    "/etc/prometheus/rules/juju_workloads_f4b3a2c1_gone-app_metrics-endpoint_3.rules";

/// A unit of application `prometheus-k8s` (model `cos`) holding what the Python charm left:
/// its relations with both sides' data, its layer (service `prometheus` running) and files.
fn switched_unit() -> (Charm, Vec<RelationId>) {
    let mut state = charm_model_state().unwrap();
    state.load_fixture(Path::new(TWO_APPS_FIXTURE)).unwrap();
    let mut ids = Vec::new();
    for name in SCENARIOS {
        let path = format!("{FIXTURES}/{name}");
        state.load_fixture(Path::new(&path)).unwrap();
        // The fixture loader reads the remote side; Prometheus' own writes are set here.
        for rel in json_file(&path)["relations"].as_array().unwrap() {
            let id = RelationId::new(
                rel["endpoint"].as_str().unwrap(),
                rel["id"].as_u64().unwrap() as u32,
            );
            let strmap = |v: &Value| -> juju_hook::RelationData {
                v.as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                    .collect()
            };
            let local = state.relation_mut(&id);
            local.local_app_data.extend(strmap(&rel["local_app_data"]));
            local
                .local_unit_data
                .extend(strmap(&rel["local_unit_data"]));
            ids.push(id);
        }
    }
    // The Python charm's feedback on metrics-endpoint: an error of its cos-tool validation.
    let node_exporter = RelationId::new("metrics-endpoint", 10);
    state.relation_mut(&node_exporter).local_app_data.insert(
        "event".into(),
        r#"{"scrape_job_errors": "cos-tool: job invalid"}"#.into(),
    );
    ids.push(node_exporter);
    let charm = Charm::with_state(state);

    // The workload as prometheus-k8s left it: its layer (label `prometheus`) with the service
    // running, its prometheus.yml, hash files and rule files.
    let workload = json_file(&format!("{FIXTURES}/prometheus_remote_write-workload.json"));
    let final_state = &workload["final"];
    let layer_yaml = serde_yaml_ng::to_string(&final_state["layers"]["prometheus"]).unwrap();
    let layer = pebble::Layer::from_yaml(&layer_yaml).unwrap();
    let client = pebble::Client::new(charm.sim.pebble.socket_path());
    client.add_layer("prometheus", &layer, true).unwrap();
    client.replan(Duration::from_secs(10)).unwrap();
    for (path, file) in final_state["files_vs_baseline"]["added"]
        .as_object()
        .unwrap()
    {
        charm
            .sim
            .pebble
            .write_file(path, file["content"].as_str().unwrap());
    }
    charm.sim.pebble.write_file(
        CONFIG_FILE,
        "global: {scrape_interval: 1m, scrape_timeout: 10s}\n\
         rule_files: [/etc/prometheus/rules/juju_*.rules]\n\
         scrape_configs:\n- job_name: prometheus\n  static_configs:\n  - targets: ['localhost:9090']\n",
    );
    charm
        .sim
        .pebble
        .write_file("/etc/prometheus/config.sha256", "0".repeat(64));
    charm
        .sim
        .pebble
        .write_file("/etc/prometheus/alerts.sha256", "0".repeat(64));
    charm.sim.pebble.write_file(
        GONE_RULES,
        "groups:\n- name: gone\n  rules:\n  - alert: Gone\n    expr: up == 0\n",
    );
    (charm, ids)
}

#[test]
fn a_unit_left_by_prometheus_k8s_is_taken_over_without_a_hook_error() {
    let (charm, ids) = switched_unit();
    let before: Vec<(RelationId, juju_hook::RelationData)> = ids
        .iter()
        .map(|id| (id.clone(), charm.local_app_data(id)))
        .collect();
    let grafana = RelationId::new("grafana-source", 7);
    let remote_write = RelationId::new("receive-remote-write", 13);
    let unit_data = |id: &RelationId| {
        charm
            .sim
            .juju
            .state()
            .relation(id)
            .unwrap()
            .local_unit_data
            .clone()
    };
    let grafana_url = unit_data(&grafana)["grafana_source_host"].clone();
    let remote_write_url = unit_data(&remote_write)["remote_write"].clone();

    // What Juju runs on the unit after `refresh --switch`, then the pod's restart.
    for event in [
        Event::UpgradeCharm,
        Event::ConfigChanged,
        pebble_ready(),
        Event::Start,
    ] {
        charm.ok(&event);
    }
    assert_eq!(charm.status(), Status::active(""));

    // The service `prometheus` now runs this charm's command line.
    let plan = charm.sim.pebble.plan_yaml();
    assert!(plan.contains("--web.enable-lifecycle"), "{plan}");
    assert!(!plan.contains("--web.route-prefix"), "{plan}");
    // prometheus.yml is this charm's, and only this charm's rule files are loaded: a rule
    // file of an application no longer related is gone.
    let yml = charm.config_yaml();
    assert!(yml.contains("rules/*.rules"), "{yml}");
    assert!(yml.contains("node-exporter"), "{yml}");
    assert!(charm.file(GONE_RULES).is_none(), "stale rule file kept");
    let rules = charm.dir_entries("/etc/prometheus/rules");
    assert!(!rules.is_empty());
    // The Python charm's error feedback is cleared (the provider library reads `event`).
    let feedback = charm
        .event_feedback(&RelationId::new("metrics-endpoint", 10))
        .unwrap();
    assert_eq!(feedback["scrape_job_errors"], "");
    // The URLs published before are published unchanged (same FQDN, same port).
    assert_eq!(unit_data(&grafana)["grafana_source_host"], grafana_url);
    assert_eq!(unit_data(&remote_write)["remote_write"], remote_write_url);
    // The Grafana datasource description keeps the same model, application and type.
    let (_, grafana_before) = before.iter().find(|(id, _)| *id == grafana).unwrap();
    let old: Value = serde_json::from_str(&grafana_before["grafana_source_data"]).unwrap();
    let new: Value =
        serde_json::from_str(&charm.local_app_data(&grafana)["grafana_source_data"]).unwrap();
    for key in ["model", "model_uuid", "application", "type"] {
        assert_eq!(old[key], new[key], "{key}");
    }
}

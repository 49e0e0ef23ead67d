//! Models of a given size for the benchmarks: `apps` scrape-target applications related on
//! `metrics-endpoint`, each with `units` units and one wildcard job (`*:9100`), as the
//! Prometheus scrape library writes them.

#![allow(dead_code)] // each bench uses a part

use charm_harness::ModelState;
use charm_sim::charm_model_state;
use juju_hook::RelationId;
use prometheus_rs_k8s::core::model::{
    Databag, ModelInfo, ModelSnapshot, RelationSnapshot, UnitSnapshot,
};

/// Model name and UUID of the related applications.
const REMOTE_MODEL: &str = "workloads";
const REMOTE_UUID: &str = "f4b3a2c1-0d9e-4f8a-b7c6-5d4e3f2a1b0c";

/// The remote application name of relation `i`.
pub fn app_name(i: usize) -> String {
    format!("exporter-{i}")
}

/// The application databag a scrape target writes: metadata and one wildcard job.
pub fn app_data(app: &str) -> Databag {
    let metadata = serde_json::json!({
        "model": REMOTE_MODEL, "model_uuid": REMOTE_UUID, "application": app,
        "unit": format!("{app}/0"), "charm_name": "node-exporter-k8s",
    });
    let jobs = serde_json::json!([{"metrics_path": "/metrics",
        "static_configs": [{"targets": ["*:9100"]}]}]);
    Databag::from([
        ("scrape_metadata".to_string(), metadata.to_string()),
        ("scrape_jobs".to_string(), jobs.to_string()),
    ])
}

/// A unit databag: address, name and FQDN.
pub fn unit_data(app: &str, n: usize, i: usize) -> Databag {
    Databag::from([
        (
            "prometheus_scrape_unit_address".to_string(),
            format!("10.{}.{}.{}", 1 + i / 250, i % 250, n + 1),
        ),
        (
            "prometheus_scrape_unit_name".to_string(),
            format!("{app}/{n}"),
        ),
        (
            "prometheus_scrape_unit_fqdn".to_string(),
            format!("{app}-{n}.{app}-endpoints.{REMOTE_MODEL}.svc.cluster.local"),
        ),
    ])
}

/// A leader unit's snapshot with `apps` × `units` related units.
pub fn snapshot(apps: usize, units: usize) -> ModelSnapshot {
    let relations = (0..apps)
        .map(|i| {
            let app = app_name(i);
            RelationSnapshot {
                endpoint: "metrics-endpoint".into(),
                id: 100 + i as u32,
                app: app.clone(),
                app_data: app_data(&app),
                units: (0..units)
                    .map(|n| UnitSnapshot {
                        name: format!("{app}/{n}"),
                        data: unit_data(&app, n, i),
                    })
                    .collect(),
                local_app_data: Databag::new(),
                local_unit_data: Databag::new(),
            }
        })
        .collect();
    ModelSnapshot {
        description: None,
        config: serde_json::Map::new(),
        leader: true,
        model: ModelInfo {
            name: "cos".into(),
            uuid: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d".into(),
        },
        app_name: "prometheus-k8s".into(),
        unit_id: 0,
        fqdn: "prometheus-k8s-0.prometheus-k8s-endpoints.cos.svc.cluster.local".into(),
        relations,
        prometheus_version: Some("2.42.0".into()),
        planned_units: None,
        planned_unit_numbers: None,
        pvc_capacity: None,
        tls: None,
    }
}

/// The harness model of a leader unit with `apps` × `units` related units, config.yaml
/// defaults and metadata.yaml endpoints; returns the relation ids in order.
pub fn model_state(apps: usize, units: usize) -> (ModelState, Vec<RelationId>) {
    let mut state = charm_model_state().expect("charm metadata loads");
    state.app_name = "prometheus-k8s".into();
    state.set_leader(true);
    let mut ids = Vec::with_capacity(apps);
    for i in 0..apps {
        let app = app_name(i);
        let id = state.add_relation("metrics-endpoint", &app);
        state.set_remote_app_data(&id, &app_data(&app));
        for n in 0..units {
            let unit = format!("{app}/{n}");
            state.add_remote_unit(&id, &unit);
            state.set_remote_unit_data(&id, &unit, &unit_data(&app, n, i));
        }
        ids.push(id);
    }
    (state, ids)
}

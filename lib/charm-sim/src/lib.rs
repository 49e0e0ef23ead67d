//! Runs the prometheus-rs-k8s charm in-process against the harness: a fake Juju model and hook
//! tools, a fake Pebble speaking the real API on a Unix socket, and a fake Prometheus web API.
//! The same [`handle_event`] a hook runs, so what is observed here is what a hook would do.
//! Used by the tests, the benches and the demo ([`demo`]); a dev-only crate, never shipped.

pub mod demo;

use std::path::Path;

use anyhow::Context;
use charm_harness::{FakeHookTools, FakePebble, FakePrometheusWeb, ModelState};
use juju_hook::{Event, HookContext};
use tempfile::TempDir;

use prometheus_rs_k8s::core::model::ModelSnapshot;
use prometheus_rs_k8s::effects::access::WorkloadAccess;
use prometheus_rs_k8s::effects::fqdn::{conventional_fqdn, FqdnSource};
use prometheus_rs_k8s::hook::dispatch::handle_event;

/// metadata.yaml and config.yaml as shipped, so a simulation knows the charm's endpoints and
/// option defaults without a charm directory.
pub const METADATA_YAML: &str = include_str!("../../../metadata.yaml");
/// See [`METADATA_YAML`].
pub const CONFIG_YAML: &str = include_str!("../../../config.yaml");
/// See [`METADATA_YAML`].
pub const ACTIONS_YAML: &str = include_str!("../../../actions.yaml");

/// The database volume's capacity in a simulation (that of the reference captures).
pub const SIMULATED_DATABASE_CAPACITY: &str = "1Gi";

/// A unit of the charm with everything around it faked.
pub struct Simulation {
    /// The Juju model and hook tools.
    pub juju: FakeHookTools,
    /// The workload container's Pebble.
    pub pebble: FakePebble,
    /// Prometheus' web API (reload).
    pub web: FakePrometheusWeb,
    /// How the charm reaches them.
    pub access: WorkloadAccess,
    dir: TempDir,
}

/// A fresh model of this charm: defaults from config.yaml, endpoints from metadata.yaml.
pub fn charm_model_state() -> anyhow::Result<ModelState> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("metadata.yaml"), METADATA_YAML)?;
    std::fs::write(dir.path().join("config.yaml"), CONFIG_YAML)?;
    std::fs::write(dir.path().join("actions.yaml"), ACTIONS_YAML)?;
    ModelState::from_charm_dir(dir.path()).context("cannot load the charm's metadata")
}

impl Simulation {
    /// Starts the fakes around a model; `prometheus_version` is what `prometheus --version`
    /// answers in the fake workload.
    ///
    /// The unit runs as in a trusted pod with a 1Gi database volume: its host name and hosts
    /// file are those the kubelet writes for `<app>-<n>` (with the default cluster domain), and
    /// the volume's capacity is known without a Kubernetes API. A charm directory that does not
    /// exist (the model's default names Juju's) is made in the simulation's own directory, as
    /// Juju's always exists.
    pub fn start(mut state: ModelState, prometheus_version: &str) -> anyhow::Result<Simulation> {
        let dir = tempfile::tempdir()?;
        if !state.charm_dir.is_dir() {
            state.charm_dir = dir.path().join("charm");
            std::fs::create_dir(&state.charm_dir)?;
        }
        let fqdn_source = FqdnSource {
            hostname_file: dir.path().join("hostname"),
            hosts_file: dir.path().join("hosts"),
        };
        let pod = format!("{}-{}", state.app_name, state.unit_number);
        let fqdn = conventional_fqdn(&state.app_name, state.unit_number, &state.model_name);
        std::fs::write(&fqdn_source.hostname_file, format!("{pod}\n"))?;
        std::fs::write(
            &fqdn_source.hosts_file,
            format!("127.0.0.1\tlocalhost\n10.1.0.2\t{fqdn}\t{pod}\n"),
        )?;
        let pebble = FakePebble::start(&dir.path().join("container"))
            .with_prometheus_version(prometheus_version);
        let web = FakePrometheusWeb::start();
        let access = WorkloadAccess {
            pebble_socket: pebble.socket_path().to_path_buf(),
            prometheus_url: web.url(),
            poller_url: "http://127.0.0.1:9".into(),
            targets_url:
                prometheus_rs_k8s::core::prometheus_config::relation_targets::default_base_url(),
            charm_binary: None,
            unit_fqdn: None,
            fqdn_source,
            database_capacity: Some(SIMULATED_DATABASE_CAPACITY.to_owned()),
        };
        Ok(Simulation {
            juju: FakeHookTools::new(state),
            pebble,
            web,
            access,
            dir,
        })
    }

    /// A model built from a snapshot (the `render --model` format).
    pub fn from_snapshot(snapshot: &ModelSnapshot) -> anyhow::Result<Simulation> {
        let mut state = charm_model_state()?;
        state.app_name = snapshot.app_name.clone();
        state.unit_number = snapshot.unit_id;
        state.model_name = snapshot.model.name.clone();
        state.model_uuid = snapshot.model.uuid.clone();
        state.set_leader(snapshot.leader);
        for (key, value) in &snapshot.config {
            state
                .set_config(key, value.clone())
                .with_context(|| format!("config option {key:?}"))?;
        }
        for rel in &snapshot.relations {
            let id = state.add_relation_with_id(&rel.endpoint, &rel.app, rel.id);
            state.set_remote_app_data(&id, &rel.app_data);
            for unit in &rel.units {
                state.add_remote_unit(&id, &unit.name);
                state.set_remote_unit_data(&id, &unit.name, &unit.data);
            }
            let local = state.relation_mut(&id);
            local.local_app_data = rel.local_app_data.clone();
            local.local_unit_data = rel.local_unit_data.clone();
        }
        // goal-state plans the snapshot's units (scrape sharding reads them).
        for n in snapshot.planned_numbers().iter().flatten() {
            let entry = juju_hook::GoalStateEntry {
                status: "active".into(),
                since: None,
            };
            state
                .goal_units
                .insert(format!("{}/{n}", snapshot.app_name), entry);
        }
        let version = snapshot.prometheus_version.as_deref().unwrap_or("3.5.0");
        let mut sim = Self::start(state, version)?;
        // The snapshot says what the pod and the cluster would answer.
        sim.access.unit_fqdn = Some(snapshot.fqdn.clone());
        sim.access.database_capacity = snapshot.pvc_capacity.clone();
        Ok(sim)
    }

    /// A scratch directory that lives as long as the simulation.
    pub fn scratch_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The hook context Juju would give this unit for `event`.
    pub fn context(&self, event: &Event) -> anyhow::Result<HookContext> {
        let env = self.juju.state().env_for(event);
        HookContext::from_vars(|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
            .context("the harness built an invalid hook environment")
    }

    /// Runs one event as a hook would; buffered hook-tool writes are committed when it
    /// succeeds and dropped when it fails, like Juju does.
    pub fn run(&self, event: &Event) -> anyhow::Result<()> {
        let ctx = self.context(event)?;
        let result = handle_event(&ctx, &self.juju, &self.access);
        match &result {
            Ok(()) => self.juju.commit(),
            Err(_) => self.juju.rollback(),
        }
        result
    }
}

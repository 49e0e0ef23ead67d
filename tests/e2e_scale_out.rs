//! Scale-out end to end, real processes only: units of the charm (the compiled binary run as
//! Juju runs it, one process per event) each in a pod with a real Pebble running the real
//! Prometheus 3.14 (see `common::pod`), with `scrape_sharding` on, remote-write over
//! `send-remote-write` to a real Cortex v1.21.1 in monolithic mode (`common::cortex`). The pods,
//! Cortex and the scrape targets share a bridged cluster network of namespaces
//! (`common::cluster`).
//!
//! Cortex stands in for Grafana Mimir, which was forked from it and keeps its remote-write,
//! query, per-tenant limits, HA-tracker and ruler APIs; Mimir itself is AGPL-3.0 and not used
//! here. What this leaves untested is listed in INTEGRATION.md ("Scaling out to Cortex or
//! Mimir").
//!
//! Skipped with a message when Cortex was not built (`scripts/real-systems --with-cortex`,
//! which `.ci/run` runs) or the real systems are missing; `CORTEX_REQUIRED=true` (set by
//! `.ci/run`) turns a missing Cortex into a failure.

#[path = "common/cluster.rs"]
mod cluster;
mod common;
#[path = "common/cortex.rs"]
mod cortex;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use charm_harness::juju::{HookOutcome, HookRunner};
use charm_harness::ModelState;
use charm_sim::charm_model_state;
use cluster::{Cluster, Targets, SERVICE_IP};
use common::pod::{wait_for, Pod, RealSystems};
use cortex::{metric_sum, Cortex, CortexOptions, NO_AUTH_TENANT};
use juju_hook::{Event, RelationData, RelationEventKind, RelationId, Status};
use prometheus_rs_k8s::core::sharding::hashmod;
use serde_json::{json, Value};

const APP: &str = "prometheus-rs-k8s";
/// The related scrape-target application and its model (as its scrape library publishes).
const SENSORS: &str = "sensors";
const SENSORS_MODEL: &str = "workloads";
const SENSORS_UUID: &str = "f4b3a2c1-0d9e-4f8a-b7c6-5d4e3f2a1b0c";
/// Inventory hosts (each a real `/metrics` endpoint in the cluster network).
const INVENTORY_TARGETS: usize = 9;
/// The scrape interval of the units (seconds).
const SCRAPE_INTERVAL: f64 = 2.0;
/// Longest allowed gap between two samples of one target at Cortex while units are added and
/// removed (documented in README, "Scaling out"): a target that moves is picked up by its new
/// unit at the hook that tells that unit (a reload, then the first scrape within one
/// interval), while the unit that gave it up may already be gone.
const MAX_GAP: f64 = 4.0 * SCRAPE_INTERVAL + 4.0;
const DEADLINE: Duration = Duration::from_secs(90);

/// Everything the units share: the cluster network, Cortex, the targets.
struct World {
    systems: RealSystems,
    cluster: Cluster,
    cortex: Cortex,
    inventory: Targets,
    sensors: Targets,
}

impl World {
    fn start(options: &CortexOptions) -> Option<World> {
        Self::start_with(options, 1)
    }

    /// Like [`World::start`], each inventory target serving `series` series.
    fn start_with(options: &CortexOptions, series: usize) -> Option<World> {
        let binary = cortex::find()?;
        let systems = RealSystems::find()?;
        // 10.250.0.2 and .3 are the two sensors units' addresses.
        let cluster = Cluster::start(2);
        let cortex = Cortex::start(&binary, &cluster, options);
        eprintln!("Cortex ready in {:?}", cortex.started_in);
        let inventory = cluster.targets_with(SERVICE_IP, INVENTORY_TARGETS, series);
        // One endpoint on every cluster address: each sensors unit's `*:<port>`.
        let sensors = cluster.targets(Ipv4Addr::UNSPECIFIED, 1);
        Some(World {
            systems,
            cluster,
            cortex,
            inventory,
            sensors,
        })
    }

    /// Every target the units must scrape, as `job instance` the way Prometheus labels them.
    fn expected_targets(&self) -> BTreeSet<String> {
        self.target_addresses().into_keys().collect()
    }

    /// Each target (`job instance`) with its `__address__`, the label the charm's sharding
    /// hashes.
    fn target_addresses(&self) -> BTreeMap<String, String> {
        let mut all: BTreeMap<String, String> = (self.inventory.addrs.iter())
            .map(|a| (format!("inventory {a}"), a.to_string()))
            .collect();
        let port = self.sensors.ports()[0];
        for n in 0..2u8 {
            all.insert(
                format!(
                    "{} {SENSORS_MODEL}_{SENSORS_UUID}_{SENSORS}_{SENSORS}/{n}",
                    sensors_job(n.into())
                ),
                format!("{}:{port}", Cluster::ip(2 + n)),
            );
        }
        all
    }

    /// The share of each of `units` units (by unit number) as Prometheus' `hashmod` of the
    /// address splits the targets: computed, not observed, so a shard that happens to get no
    /// target (the inventory's ports are random) is expected empty.
    fn expected_shares(&self, units: usize) -> Vec<BTreeSet<String>> {
        let mut shares = vec![BTreeSet::new(); units];
        for (target, address) in self.target_addresses() {
            let shard = hashmod(&address, units as u64) as usize;
            shares[shard].insert(target);
        }
        shares
    }
}

/// The job name the charm gives sensors unit `n`'s wildcard job (the scrape library's rule).
fn sensors_job(n: u32) -> String {
    format!(
        "juju_{SENSORS_MODEL}_{}_{SENSORS}_prometheus_scrape-{n}",
        &SENSORS_UUID[..8]
    )
}

/// A unit of the charm in its pod, joined to the cluster network.
struct Unit {
    n: u32,
    pod: Pod,
    runner: HookRunner,
    http: reqwest::blocking::Client,
}

impl Unit {
    /// Unit `n` of an application of `planned` units, related to the sensors application, the
    /// inventory and Cortex, deployed and serving.
    fn deploy(world: &mut World, n: u32, planned: u32) -> Unit {
        Self::deploy_with(world, n, planned, true)
    }

    /// Like [`Unit::deploy`], with `scrape_sharding` as given.
    fn deploy_with(world: &mut World, n: u32, planned: u32, sharding: bool) -> Unit {
        let pod = Pod::start(world.systems.clone());
        let ip = world.cluster.attach(&pod);
        let mut state = charm_model_state().expect("charm metadata loads");
        state.unit_number = n;
        state.set_leader(n == 0);
        state.set_planned_units(planned);
        for (key, value) in [
            ("scrape_sharding", Value::Bool(sharding)),
            ("scrape_interval", format!("{SCRAPE_INTERVAL}s").into()),
            ("scrape_timeout", "1s".into()),
            ("inventory_url", world.inventory.inventory_url().into()),
            ("inventory_poll_interval", "5s".into()),
            ("inventory_timeout", "2s".into()),
            ("inventory_labels", "site=lab".into()),
        ] {
            state.set_config(key, value).unwrap();
        }
        let peers = state.add_relation("prometheus-peers", APP);
        for other in (0..planned).filter(|m| *m != n) {
            state.add_remote_unit(&peers, &format!("{APP}/{other}"));
        }
        relate_sensors(&mut state, world.sensors.ports()[0]);
        relate_cortex(&mut state, &world.cortex.push_url());
        let runner = pod
            .hook_runner(&mut state)
            // The pod's address is its name in the cluster: the self-scrape target and the
            // published URLs use it, so the units' own series differ.
            .with_env("CHARM_UNIT_FQDN", ip.to_string());
        let http = pod.in_net(|| {
            reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap()
        });
        let unit = Unit {
            n,
            pod,
            runner,
            http,
        };
        for event in [
            Event::Install,
            Event::LeaderElected,
            Event::ConfigChanged,
            common::pebble_ready(),
            Event::Start,
        ] {
            unit.ok(&event);
        }
        assert_eq!(unit.status(), Status::active(""));
        wait_for("Prometheus to serve queries", DEADLINE, || {
            unit.api("/api/v1/query?query=up").ok()
        });
        unit
    }

    #[track_caller]
    fn ok(&self, event: &Event) -> HookOutcome {
        let out = self.runner.run(event).expect("the charm process runs");
        assert!(
            out.success(),
            "unit {}: {} exited {:?}\nstdout:\n{}\nstderr:\n{}\npebble log:\n{}",
            self.n,
            event.name(),
            out.code,
            out.stdout,
            out.stderr,
            self.pod.pebble_log()
        );
        out
    }

    fn state(&self) -> ModelState {
        self.runner.state().unwrap()
    }

    fn status(&self) -> Status {
        self.state().unit_status.expect("a status was set")
    }

    fn peers(&self) -> RelationId {
        let state = self.state();
        let rel = state
            .relations
            .iter()
            .find(|r| r.endpoint == "prometheus-peers")
            .expect("peer relation");
        RelationId::new("prometheus-peers", rel.id)
    }

    /// `juju add-unit`: unit `other` joins, the plan grows to `planned` units.
    fn peer_joined(&self, other: u32, planned: u32) {
        let peers = self.peers();
        let name = format!("{APP}/{other}");
        let event = self.runner.update(|s| {
            s.set_planned_units(planned);
            s.add_remote_unit(&peers, &name);
            s.relation_event(&peers, RelationEventKind::Joined, Some(&name))
        });
        self.ok(&event.unwrap());
    }

    /// `juju remove-unit`: unit `other` departs, the plan shrinks to `planned` units.
    fn peer_departed(&self, other: u32, planned: u32) {
        let peers = self.peers();
        let name = format!("{APP}/{other}");
        let event = self.runner.update(|s| {
            s.set_planned_units(planned);
            s.remove_remote_unit(&peers, &name);
            s.relation_event(&peers, RelationEventKind::Departed, Some(&name))
        });
        self.ok(&event.unwrap());
    }

    /// `GET` on the unit's Prometheus API, the `data` member.
    fn api(&self, path: &str) -> anyhow::Result<Value> {
        let body: Value = self
            .http
            .get(format!("http://127.0.0.1:9090{path}"))
            .send()?
            .error_for_status()?
            .json()?;
        Ok(body["data"].clone())
    }

    /// Active sharded targets (`job instance`; the self-scrape and poller jobs left out).
    fn sharded_targets(&self) -> BTreeSet<String> {
        self.try_sharded_targets().unwrap_or_default()
    }

    /// [`Unit::sharded_targets`], or why the unit's Prometheus did not say.
    fn try_sharded_targets(&self) -> anyhow::Result<BTreeSet<String>> {
        let data = self.api("/api/v1/targets?state=active")?;
        Ok(data["activeTargets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                (
                    t["labels"]["job"].as_str().unwrap_or_default().to_string(),
                    t["labels"]["instance"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .filter(|(job, _)| job == "inventory" || job.starts_with("juju_"))
            .map(|(job, instance)| format!("{job} {instance}"))
            .collect())
    }

    /// A metric of the unit's own Prometheus (`/metrics`), summed over series matching
    /// `filter`.
    fn own_metric(&self, name: &str, filter: &str) -> f64 {
        let text = self
            .http
            .get("http://127.0.0.1:9090/metrics")
            .send()
            .and_then(|r| r.text())
            .unwrap_or_default();
        metric_sum(&text, name, filter)
    }

    /// An instant query's first value on the unit's own Prometheus.
    fn local_value(&self, promql: &str) -> Option<f64> {
        let url =
            reqwest::Url::parse_with_params("http://x/api/v1/query", [("query", promql)]).unwrap();
        let data = self
            .api(&format!("/api/v1/query?{}", url.query().unwrap()))
            .ok()?;
        data["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

/// The sensors application on `metrics-endpoint`, two units at 10.250.0.2 and .3, one
/// wildcard job on `port`, as the scrape library publishes it.
fn relate_sensors(state: &mut ModelState, port: u16) {
    let rel = state.add_relation("metrics-endpoint", SENSORS);
    let metadata = json!({
        "model": SENSORS_MODEL, "model_uuid": SENSORS_UUID, "application": SENSORS,
        "unit": format!("{SENSORS}/0"), "charm_name": "sensors-k8s"
    });
    let jobs = json!([{"metrics_path": "/metrics",
                       "static_configs": [{"targets": [format!("*:{port}")]}]}]);
    let data: RelationData = [
        ("scrape_metadata".to_string(), metadata.to_string()),
        ("scrape_jobs".to_string(), jobs.to_string()),
    ]
    .into_iter()
    .collect();
    state.set_remote_app_data(&rel, &data);
    for n in 0..2u8 {
        let unit = format!("{SENSORS}/{n}");
        state.add_remote_unit(&rel, &unit);
        let data: RelationData = [
            (
                "prometheus_scrape_unit_address".to_string(),
                Cluster::ip(2 + n).to_string(),
            ),
            ("prometheus_scrape_unit_name".to_string(), unit.clone()),
        ]
        .into_iter()
        .collect();
        state.set_remote_unit_data(&rel, &unit, &data);
    }
}

/// Cortex on `send-remote-write`, one unit publishing `remote_write` exactly as the
/// Canonical provider library writes it (`json.dumps({"url": ...})`).
fn relate_cortex(state: &mut ModelState, push_url: &str) {
    let rel = state.add_relation("send-remote-write", "cortex");
    state.add_remote_unit(&rel, "cortex/0");
    let data = RelationData::from([(
        "remote_write".to_string(),
        format!("{{\"url\": \"{push_url}\"}}"),
    )]);
    state.set_remote_unit_data(&rel, "cortex/0", &data);
}

/// Waits until each unit scrapes exactly its share of the targets (`expected`, by unit number)
/// and returns the shares.
fn wait_for_shards(units: &[&Unit], expected: &[BTreeSet<String>]) -> Vec<BTreeSet<String>> {
    assert_eq!(units.len(), expected.len());
    let deadline = Instant::now() + DEADLINE;
    loop {
        let answers: Vec<_> = units.iter().map(|u| u.try_sharded_targets()).collect();
        let shares: Vec<BTreeSet<String>> = (answers.iter())
            .map(|a| a.as_ref().cloned().unwrap_or_default())
            .collect();
        if answers.iter().all(Result::is_ok) && shares == expected {
            return shares;
        }
        assert!(
            Instant::now() < deadline,
            "shards never settled: {shares:#?}\nexpected {expected:#?}\n{}",
            unanswered(units, &answers)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// For each unit whose Prometheus did not answer: the error, its status and Pebble's log.
fn unanswered(units: &[&Unit], answers: &[anyhow::Result<BTreeSet<String>>]) -> String {
    let mut out = String::new();
    for (unit, answer) in units.iter().zip(answers) {
        if let Err(e) = answer {
            out.push_str(&format!(
                "unit {} did not answer: {e:#}\nstatus: {:?}\npebble log:\n{}\n",
                unit.n,
                unit.state().unit_status,
                unit.pod.pebble_log()
            ));
        }
    }
    out
}

/// `job instance` of each series `up` at Cortex, with its count of series.
fn series_at_cortex(cortex: &Cortex) -> BTreeMap<String, usize> {
    let rows = cortex
        .query("up{job=~\"inventory|juju_.*\"}", NO_AUTH_TENANT)
        .unwrap_or_default();
    let mut seen = BTreeMap::new();
    for (metric, _) in rows {
        let key = format!(
            "{} {}",
            metric["job"].as_str().unwrap_or_default(),
            metric["instance"].as_str().unwrap_or_default()
        );
        *seen.entry(key).or_insert(0) += 1;
    }
    seen
}

/// Waits until Cortex has every expected target as exactly one fresh `up` series.
fn wait_for_cortex(cortex: &Cortex, expected: &BTreeSet<String>) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let seen = series_at_cortex(cortex);
        let keys: BTreeSet<String> = seen.keys().cloned().collect();
        if &keys == expected {
            assert!(
                seen.values().all(|c| *c == 1),
                "a target arrived as more than one series: {seen:#?}"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Cortex never had every target: {seen:#?}\nexpected {expected:#?}\nCortex log:\n{}",
            cortex.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// For every sharded target, the longest time between two consecutive samples at Cortex in
/// the last `window` seconds, and how many pairs of samples were closer than half a scrape
/// interval (both units scraping it for a moment).
fn gaps_at_cortex(cortex: &Cortex, window: u64) -> BTreeMap<String, (f64, usize)> {
    let rows = cortex
        .samples(
            &format!("up{{job=~\"inventory|juju_.*\"}}[{window}s]"),
            NO_AUTH_TENANT,
        )
        .expect("range query");
    rows.into_iter()
        .map(|(metric, times)| {
            let key = format!(
                "{} {}",
                metric["job"].as_str().unwrap_or_default(),
                metric["instance"].as_str().unwrap_or_default()
            );
            let max_gap = times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
            let close = times
                .windows(2)
                .filter(|w| w[1] - w[0] < SCRAPE_INTERVAL / 2.0)
                .count();
            (key, (max_gap, close))
        })
        .collect()
}

#[test]
fn sharded_units_write_every_target_once_to_cortex_across_adding_and_removing_a_unit() {
    let Some(mut world) = World::start(&CortexOptions::default()) else {
        return;
    };
    let expected = world.expected_targets();
    let unit0 = Unit::deploy(&mut world, 0, 2);
    let unit1 = Unit::deploy(&mut world, 1, 2);

    // The two units split the targets, each scraped by exactly one unit.
    wait_for_shards(&[&unit0, &unit1], &world.expected_shares(2));

    // At Cortex every relation and inventory target is one series, with the labels the charm
    // promises.
    wait_for_cortex(&world.cortex, &expected);
    let state = unit0.state();
    let inventory = world
        .cortex
        .query("up{job=\"inventory\"}", NO_AUTH_TENANT)
        .unwrap();
    for (metric, _) in &inventory {
        assert_eq!(metric["site"], "lab", "inventory_labels: {metric}");
        assert_eq!(metric["juju_application"], APP, "{metric}");
        assert_eq!(metric["juju_model"], state.model_name.as_str(), "{metric}");
        assert_eq!(
            metric["juju_model_uuid"],
            state.model_uuid.as_str(),
            "{metric}"
        );
    }
    for n in 0..2 {
        let rows = world
            .cortex
            .query(&format!("up{{job=\"{}\"}}", sensors_job(n)), NO_AUTH_TENANT)
            .unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        let metric = &rows[0].0;
        // The provider's topology wins over this Prometheus' external labels.
        assert_eq!(metric["juju_application"], SENSORS, "{metric}");
        assert_eq!(metric["juju_model"], SENSORS_MODEL, "{metric}");
        assert_eq!(metric["juju_model_uuid"], SENSORS_UUID, "{metric}");
        assert_eq!(metric["juju_unit"], format!("{SENSORS}/{n}"), "{metric}");
        assert_eq!(metric["juju_charm"], "sensors-k8s", "{metric}");
        assert_eq!(rows[0].1, 1.0, "scraped: {metric}");
    }
    // Sharded units are not replicas: no HA labels, so Cortex's HA tracker keeps everything.
    let ha = world
        .cortex
        .query(
            "count({__replica__!=\"\"}) or count({cluster!=\"\"})",
            NO_AUTH_TENANT,
        )
        .unwrap();
    assert!(ha.is_empty(), "{ha:?}");
    // Each unit's self-scrape is its own series.
    let own = world
        .cortex
        .query("up{job=\"prometheus\"}", NO_AUTH_TENANT)
        .unwrap();
    let own: BTreeSet<String> = own
        .iter()
        .map(|(m, _)| m["instance"].as_str().unwrap().to_string())
        .collect();
    let topology = format!("{}_{}_{APP}", state.model_name, state.model_uuid);
    assert_eq!(
        own,
        BTreeSet::from([format!("{topology}_{APP}/0"), format!("{topology}_{APP}/1")])
    );

    // The alert rules the leader forwards on send-remote-write, loaded into Cortex's ruler
    // as the receiving charm would (one namespace per sender), are accepted, evaluated, and
    // keep the topology labels.
    check_forwarded_rules(&world.cortex, &unit0);

    // juju add-unit: unit 2 comes up knowing 3 planned units, then the others hear of it.
    let scale_started = Instant::now();
    let unit2 = Unit::deploy(&mut world, 2, 3);
    unit0.peer_joined(2, 3);
    unit1.peer_joined(2, 3);
    wait_for_shards(&[&unit0, &unit1, &unit2], &world.expected_shares(3));
    std::thread::sleep(Duration::from_secs(10));
    wait_for_cortex(&world.cortex, &expected);

    // juju remove-unit: unit 2's pod goes away first, then the others hear of it (the order
    // that leaves its targets unscraped the longest).
    drop(unit2);
    unit0.peer_departed(2, 2);
    unit1.peer_departed(2, 2);
    wait_for_shards(&[&unit0, &unit1], &world.expected_shares(2));
    // Let the last samples through the remote-write queues.
    std::thread::sleep(Duration::from_secs(15));
    wait_for_cortex(&world.cortex, &expected);

    let window = scale_started.elapsed().as_secs() + 5;
    let gaps = gaps_at_cortex(&world.cortex, window);
    let keys: BTreeSet<String> = gaps.keys().cloned().collect();
    assert_eq!(keys, expected, "every target has samples in the window");
    let worst = gaps.values().map(|(g, _)| *g).fold(0.0, f64::max);
    let doubled: usize = gaps.values().map(|(_, c)| *c).sum();
    let out_of_order = world
        .cortex
        .metric("cortex_discarded_samples_total", "sample-out-of-order");
    let failed: f64 = [&unit0, &unit1]
        .iter()
        .map(|u| u.own_metric("prometheus_remote_storage_samples_failed_total", ""))
        .sum();
    eprintln!(
        "scale 2 -> 3 -> 2 over {window} s: longest gap {worst:.1} s (bound {MAX_GAP} s), \
         {doubled} sample pairs closer than half an interval, {out_of_order} samples refused \
         out of order by Cortex, {failed} samples failed at units 0 and 1"
    );
    for (target, (gap, _)) in &gaps {
        assert!(
            *gap <= MAX_GAP,
            "{target}: gap of {gap:.1} s at Cortex: {gaps:#?}"
        );
    }
    // After the moves, still one series per target.
    let seen = series_at_cortex(&world.cortex);
    assert!(seen.values().all(|c| *c == 1), "{seen:#?}");
}

/// Loads the `alert_rules` unit 0 (the leader) published on `send-remote-write` into Cortex's
/// ruler and checks what the ruler API then shows.
fn check_forwarded_rules(cortex: &Cortex, leader: &Unit) {
    let state = leader.state();
    let rel = state
        .relations
        .iter()
        .find(|r| r.endpoint == "send-remote-write")
        .expect("send-remote-write relation");
    let rules: Value = serde_json::from_str(
        rel.local_app_data
            .get("alert_rules")
            .expect("the leader publishes alert_rules"),
    )
    .unwrap();
    let groups = rules["groups"].as_array().unwrap();
    let namespace = format!("{}_{}_{APP}", state.model_name, &state.model_uuid[..8]);
    for group in groups {
        cortex
            .set_rule_group(NO_AUTH_TENANT, &namespace, group)
            .unwrap_or_else(|e| panic!("Cortex refused group {}: {e}", group["name"]));
    }
    let sent: BTreeSet<String> = groups
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    // The ruler syncs every poll interval (2 s) and evaluates every 5 s.
    let loaded = wait_for("the ruler to evaluate every group", DEADLINE, || {
        let loaded = cortex.loaded_rules(NO_AUTH_TENANT).ok()?;
        let evaluated: BTreeSet<String> = loaded
            .iter()
            .filter(|g| {
                g["rules"].as_array().is_some_and(|rs| {
                    rs.iter().all(|r| {
                        r["health"] == "ok"
                            && !r["lastEvaluation"]
                                .as_str()
                                .unwrap_or("0001")
                                .starts_with("0001")
                    })
                })
            })
            .filter_map(|g| g["name"].as_str().map(str::to_string))
            .collect();
        (evaluated == sent).then_some(loaded)
    });
    for group in &loaded {
        assert_eq!(group["file"], namespace.as_str(), "{group}");
        for rule in group["rules"].as_array().unwrap() {
            assert_eq!(rule["labels"]["juju_application"], APP, "{rule}");
            assert_eq!(
                rule["labels"]["juju_model"],
                state.model_name.as_str(),
                "{rule}"
            );
            assert_eq!(rule["labels"]["juju_model_uuid"], state.model_uuid.as_str());
            assert_eq!(rule["labels"]["juju_charm"], APP, "{rule}");
            assert!(
                rule["query"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("juju_application=\"{APP}\"")),
                "topology matcher: {rule}"
            );
        }
    }
    // The units' `up` arrives, so the aggregator's "metrics missing" alerts stay inactive.
    let aggregator = loaded
        .iter()
        .find(|g| {
            g["name"]
                .as_str()
                .unwrap()
                .ends_with("_AggregatorHostHealth_rules")
        })
        .expect("aggregator group");
    let units: BTreeSet<&str> = aggregator["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["labels"]["juju_unit"].as_str())
        .collect();
    assert_eq!(
        units,
        BTreeSet::from([&*format!("{APP}/0"), &*format!("{APP}/1")])
    );
    for rule in aggregator["rules"].as_array().unwrap() {
        assert_eq!(rule["state"], "inactive", "{rule}");
    }
}

/// The unit's samples per second sent, over `secs`.
fn sent_rate(unit: &Unit, secs: u64) -> f64 {
    let before = unit.own_metric("prometheus_remote_storage_samples_total", "");
    std::thread::sleep(Duration::from_secs(secs));
    let after = unit.own_metric("prometheus_remote_storage_samples_total", "");
    (after - before) / secs as f64
}

/// Remote-write lag of a unit: the newest sample in its WAL minus the newest sent (seconds).
fn lag(unit: &Unit) -> f64 {
    unit.own_metric("prometheus_remote_storage_highest_timestamp_in_seconds", "")
        - unit.own_metric(
            "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
            "",
        )
}

/// Runs a config-changed and an update-status on `unit`; returns the longer time, asserting
/// both end Active.
fn time_hooks(unit: &Unit) -> Duration {
    let mut worst = Duration::ZERO;
    for event in [Event::ConfigChanged, Event::UpdateStatus] {
        let started = Instant::now();
        unit.ok(&event);
        worst = worst.max(started.elapsed());
        assert_eq!(unit.status(), Status::active(""), "after {}", event.name());
    }
    worst
}

#[test]
fn cortex_down_or_refusing_never_blocks_hooks_and_the_local_tsdb_keeps_every_sample() {
    let Some(mut world) = World::start(&CortexOptions::default()) else {
        return;
    };
    let expected = world.expected_targets();
    let unit = Unit::deploy(&mut world, 0, 1);
    wait_for_cortex(&world.cortex, &expected);
    let baseline = time_hooks(&unit);

    // Cortex down for a minute.
    world.cortex.stop();
    let down = Instant::now();
    let during = time_hooks(&unit);
    assert!(
        during < Duration::from_secs(10),
        "a hook took {during:?} with Cortex down"
    );
    std::thread::sleep(Duration::from_secs(60).saturating_sub(down.elapsed()));
    let lag_down = lag(&unit);
    let retried = unit.own_metric("prometheus_remote_storage_samples_retried_total", "");
    let failed_down = unit.own_metric("prometheus_remote_storage_samples_failed_total", "");
    let pending = unit.own_metric("prometheus_remote_storage_samples_pending", "");
    eprintln!(
        "Cortex down 60 s: hooks {baseline:?} before, {during:?} during; lag {lag_down:.0} s, \
         {retried} samples retried, {failed_down} failed, {pending} pending"
    );
    assert!(
        lag_down > 40.0,
        "the queue lags while Cortex is down: {lag_down}"
    );
    assert!(retried > 0.0, "connection errors are retried");
    // The local TSDB kept scraping: about one sample per interval for every target.
    let local = unit
        .local_value("min(count_over_time(up{job=\"inventory\"}[60s]))")
        .expect("local query");
    assert!(
        local >= 60.0 / SCRAPE_INTERVAL - 3.0,
        "local samples per target in the minute: {local}"
    );

    world.cortex.start_again();
    let back = Instant::now();
    wait_for("the queue to catch up", DEADLINE, || {
        (lag(&unit) < 10.0).then_some(())
    });
    let caught_up = back.elapsed();
    std::thread::sleep(Duration::from_secs(10));
    // Nothing was lost at Cortex: the outage is filled from the write-ahead log.
    let window = down.elapsed().as_secs() + 10;
    let gaps = gaps_at_cortex(&world.cortex, window);
    let worst = gaps.values().map(|(g, _)| *g).fold(0.0, f64::max);
    eprintln!(
        "Cortex back: caught up in {caught_up:?}; longest gap at Cortex over the outage \
         {worst:.1} s"
    );
    assert_eq!(gaps.len(), expected.len(), "{gaps:#?}");
    assert!(worst <= MAX_GAP, "{gaps:#?}");
    let failed_after = unit.own_metric("prometheus_remote_storage_samples_failed_total", "");
    assert_eq!(failed_after, 0.0, "no sample given up during the outage");

    // Rate limited: the tenant's ingestion rate drops to 1 sample/s (a runtime override;
    // Cortex is restarted so its limiter starts from the new limit). Cortex answers 429,
    // which Prometheus does not retry (`retry_on_http_429` is off by default): the batch is
    // dropped and counted as failed; the local TSDB still has it.
    let rate = sent_rate(&unit, 10);
    world
        .cortex
        .set_overrides(NO_AUTH_TENANT, "ingestion_rate: 1\ningestion_burst_size: 1");
    world.cortex.stop();
    world.cortex.start_again();
    let limited = Instant::now();
    let refused = |c: &Cortex| {
        c.metric(
            "cortex_request_duration_seconds_count",
            "route=\"api_v1_push\",status_code=\"429\"",
        )
    };
    wait_for("Cortex to answer pushes with 429", DEADLINE, || {
        (refused(&world.cortex) > 0.0).then_some(())
    });
    let during = time_hooks(&unit);
    assert!(during < Duration::from_secs(10), "{during:?}");
    std::thread::sleep(Duration::from_secs(20).saturating_sub(limited.elapsed()));
    let failed = unit.own_metric("prometheus_remote_storage_samples_failed_total", "");
    let retried = unit.own_metric("prometheus_remote_storage_samples_retried_total", "");
    eprintln!(
        "rate limited: unit sent {rate:.0} samples/s before; {} pushes answered 429 in 20 s, \
         {failed} samples failed at the unit, {retried} retried in total, hooks {during:?}",
        refused(&world.cortex)
    );
    assert!(failed > 0.0, "429 batches are dropped and counted");
    let local = unit
        .local_value("min(count_over_time(up{job=\"inventory\"}[20s]))")
        .expect("local query");
    assert!(
        local >= 20.0 / SCRAPE_INTERVAL - 2.0,
        "local samples: {local}"
    );
    world.cortex.set_overrides(NO_AUTH_TENANT, "");
}

#[test]
fn unsharded_replicas_are_deduplicated_by_the_ha_tracker_and_fail_over() {
    let Some(mut world) = World::start(&CortexOptions::default()) else {
        return;
    };
    let expected = world.expected_targets();
    let unit0 = Unit::deploy_with(&mut world, 0, 2, false);
    let unit1 = Unit::deploy_with(&mut world, 1, 2, false);
    // Both replicas scrape every target.
    for unit in [&unit0, &unit1] {
        wait_for("every target on each replica", DEADLINE, || {
            (unit.sharded_targets() == expected).then_some(())
        });
    }
    // Cortex keeps one replica per cluster and drops `__replica__`: one series per target.
    wait_for_cortex(&world.cortex, &expected);
    let state = unit0.state();
    let cluster = format!("{}/{APP}", state.model_uuid);
    let rows = world
        .cortex
        .query("up{job=\"inventory\"}", NO_AUTH_TENANT)
        .unwrap();
    assert_eq!(rows.len(), INVENTORY_TARGETS, "{rows:?}");
    for (metric, _) in &rows {
        assert_eq!(metric["cluster"], cluster.as_str(), "{metric}");
        assert!(metric.get("__replica__").is_none(), "{metric}");
    }
    // The non-elected replica's samples are all dropped, its own metrics included: the
    // receiver sees one unit's self-scrape.
    std::thread::sleep(Duration::from_secs(5));
    let own = world
        .cortex
        .query(
            "count(count_over_time(up{job=\"prometheus\"}[4s]))",
            NO_AUTH_TENANT,
        )
        .unwrap();
    assert_eq!(own.first().map(|r| r.1), Some(1.0), "{own:?}");

    // The first replica's pod goes away: after the failover timeout (5 s here, 30 s by
    // default) the other replica is elected and its samples arrive.
    let elected_before = world
        .cortex
        .metric("cortex_ha_tracker_elected_replica_changes_total", "");
    let gone = Instant::now();
    drop(unit0);
    std::thread::sleep(Duration::from_secs(20));
    let window = gone.elapsed().as_secs() + 10;
    let gaps = gaps_at_cortex(&world.cortex, window);
    let worst = gaps.values().map(|(g, _)| *g).fold(0.0, f64::max);
    let changes = world
        .cortex
        .metric("cortex_ha_tracker_elected_replica_changes_total", "")
        - elected_before;
    eprintln!("HA failover: longest gap {worst:.1} s, {changes} elected-replica changes");
    assert_eq!(gaps.len(), expected.len(), "{gaps:#?}");
    assert!(worst <= 5.0 + MAX_GAP, "{gaps:#?}");
    wait_for_cortex(&world.cortex, &expected);
    drop(unit1);
}

/// Series per inventory target in the throughput test: 9 targets, 45,000 series, 22,500
/// samples/s at the 2 s interval, split over two units.
const LOAD_SERIES: usize = 5000;

#[test]
fn two_sharded_units_sustain_the_load_and_keep_up() {
    let options = CortexOptions {
        ingestion_rate: 1_000_000.0,
        ingestion_burst: 2_000_000,
        ..CortexOptions::default()
    };
    let Some(mut world) = World::start_with(&options, LOAD_SERIES) else {
        return;
    };
    let expected = world.expected_targets();
    let unit0 = Unit::deploy(&mut world, 0, 2);
    let unit1 = Unit::deploy(&mut world, 1, 2);
    wait_for_shards(&[&unit0, &unit1], &world.expected_shares(2));
    wait_for_cortex(&world.cortex, &expected);
    // Let the queues settle, then measure both units over the same 30 s.
    std::thread::sleep(Duration::from_secs(10));
    let samples = |u: &Unit| u.own_metric("prometheus_remote_storage_samples_total", "");
    let received = |c: &Cortex| c.metric("cortex_distributor_received_samples_total", "");
    let (s0, s1, r) = (samples(&unit0), samples(&unit1), received(&world.cortex));
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(30));
    let secs = started.elapsed().as_secs_f64();
    let rate0 = (samples(&unit0) - s0) / secs;
    let rate1 = (samples(&unit1) - s1) / secs;
    let rate_cortex = (received(&world.cortex) - r) / secs;
    let (lag0, lag1) = (lag(&unit0), lag(&unit1));
    let failed: f64 = [&unit0, &unit1]
        .iter()
        .map(|u| u.own_metric("prometheus_remote_storage_samples_failed_total", ""))
        .sum();
    eprintln!(
        "load: unit 0 sent {rate0:.0} samples/s, unit 1 {rate1:.0}; Cortex received \
         {rate_cortex:.0}/s; lag {lag0:.1} s and {lag1:.1} s; {failed} failed"
    );
    let scraped = (INVENTORY_TARGETS * LOAD_SERIES) as f64 / SCRAPE_INTERVAL;
    assert!(
        rate0 + rate1 >= 0.9 * scraped,
        "the units forward what they scrape: {rate0} + {rate1} < {scraped}"
    );
    assert!(
        lag0 < 15.0 && lag1 < 15.0,
        "the queues keep up: {lag0} {lag1}"
    );
    assert_eq!(failed, 0.0);
    let series = world
        .cortex
        .query("count(sample_value)", NO_AUTH_TENANT)
        .unwrap();
    assert_eq!(
        series.first().map(|r| r.1),
        Some((INVENTORY_TARGETS * LOAD_SERIES + 2) as f64),
        "every series once (plus the two sensors targets)"
    );
}

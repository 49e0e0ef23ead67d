//! The real-Pebble tier: the compiled charm run as Juju runs it (one process per event, the
//! `JUJU_*` environment, the fake hook tools over a model file, a charm directory of its own)
//! against a real Pebble v1.32.1 whose services are the real Prometheus 3.14 and the charm's
//! real poller, in a pod of namespaces on this machine (see `common::pod`). Assertions are on
//! Pebble's own view (plan, services, checks, `/v1/health?level=ready`, which is what Juju
//! points the pod's readiness probe at) and on Prometheus' HTTP API.
//!
//! Each test has its own pod (its own network namespace, so the fixed ports 9090 and 9099 do
//! not collide), so the tests may run in parallel.

mod common;
#[path = "common/test_ca.rs"]
mod test_ca;

use std::collections::BTreeSet;
use std::time::Duration;

use charm_harness::juju::{HookOutcome, HookRunner};
use charm_harness::ModelState;
use charm_sim::charm_model_state;
use common::pod::{is_alive, open_files_limits, wait_for, Pod, RealSystems};
use inventory_sd::sample::{Fault, MetricsPorts, SampleInventory, SampleOptions};
use juju_hook::{Event, RelationData, RelationEventKind, Status, StatusKind};
use pebble::{CheckLevel, CheckStatus, ServiceStatus};
use prometheus_rs_k8s::core::workload::{CONFIG_FILE, MANIFEST_FILE, TARGETS_DIR};
use serde_json::{Map, Value};

/// Prometheus and the poller react within seconds; Prometheus 3 starts in a few.
const DEADLINE: Duration = Duration::from_secs(60);

/// A unit of the charm in a pod with the real systems.
struct Unit {
    pod: Pod,
    runner: HookRunner,
    /// An HTTP client whose connections are made in the pod's network.
    http: reqwest::blocking::Client,
}

impl Unit {
    /// The leader unit of a fresh deployment with these options; `None` when the real systems
    /// are missing (skipped; a failure on CI).
    fn new(options: &[(&str, &str)]) -> Option<Unit> {
        let systems = RealSystems::find()?;
        let pod = Pod::start(systems);
        let mut state = charm_model_state().expect("charm metadata loads");
        state.set_leader(true);
        for (key, value) in [("scrape_interval", "5s"), ("scrape_timeout", "2s")]
            .iter()
            .chain(options)
        {
            state
                .set_config(key, *value)
                .expect("option fits config.yaml");
        }
        let runner = pod.hook_runner(&mut state);
        let http = pod.http_client();
        Some(Unit { pod, runner, http })
    }

    /// Runs `event`, which must exit 0.
    #[track_caller]
    fn ok(&self, event: &Event) -> HookOutcome {
        self.pod.hook_ok(&self.runner, event)
    }

    fn state(&self) -> ModelState {
        self.runner.state().unwrap()
    }

    fn update<R>(&self, change: impl FnOnce(&mut ModelState) -> R) -> R {
        self.runner.update(change).unwrap()
    }

    fn status(&self) -> Status {
        self.state().unit_status.expect("a status was set")
    }

    /// `juju config key=value` and config-changed.
    fn configure(&self, key: &str, value: &str) {
        self.update(|s| s.set_config(key, value).unwrap());
        self.ok(&Event::ConfigChanged);
    }

    /// install, leader-elected, config-changed, pebble-ready, start; then Prometheus serves.
    fn deploy(&self) {
        for event in [
            Event::Install,
            Event::LeaderElected,
            Event::ConfigChanged,
            common::pebble_ready(),
            Event::Start,
        ] {
            self.ok(&event);
        }
        assert_eq!(self.status(), Status::active(""));
        self.wait_serving();
    }

    /// Waits until Prometheus answers a query.
    fn wait_serving(&self) {
        wait_for("Prometheus to serve queries", DEADLINE, || {
            self.api("/api/v1/query?query=up").ok()
        });
    }

    /// `GET` on Prometheus' API, the `data` member.
    fn api(&self, path: &str) -> anyhow::Result<Value> {
        let body: Value = self
            .http
            .get(format!("http://127.0.0.1:9090{path}"))
            .send()?
            .error_for_status()?
            .json()?;
        Ok(body["data"].clone())
    }

    /// The configuration Prometheus runs, parsed.
    fn loaded_config(&self) -> serde_yaml_ng::Value {
        let data = self.api("/api/v1/status/config").expect("config status");
        serde_yaml_ng::from_str(data["yaml"].as_str().unwrap()).unwrap()
    }

    fn loaded_scrape_interval(&self) -> String {
        self.loaded_config()["global"]["scrape_interval"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Active targets as `job instance`.
    fn targets(&self) -> BTreeSet<String> {
        let data = self.api("/api/v1/targets").expect("targets");
        data["activeTargets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                format!(
                    "{} {}",
                    t["labels"]["job"].as_str().unwrap_or_default(),
                    t["labels"]["instance"].as_str().unwrap_or_default()
                )
            })
            .collect()
    }

    /// PIDs (host view) of the pod's processes whose first argument is `argv0`.
    fn pids(&self, argv0: &str) -> Vec<u32> {
        let netns = std::fs::read_link(self.pod.netns()).unwrap();
        let mut pids: Vec<u32> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .filter(|pid| is_alive(*pid))
            .filter(|pid| {
                std::fs::read_link(format!("/proc/{pid}/ns/net"))
                    .ok()
                    .as_ref()
                    == Some(&netns)
            })
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .ok()
                    .and_then(|c| c.split(|b| *b == 0).next().map(|a| a == argv0.as_bytes()))
                    .unwrap_or(false)
            })
            .collect();
        pids.sort();
        pids
    }

    /// The one Prometheus process.
    fn prometheus_pid(&self) -> u32 {
        let pids = self.pids("/bin/prometheus");
        assert_eq!(pids.len(), 1, "one Prometheus process: {pids:?}");
        pids[0]
    }

    /// Pebble's view of one service.
    fn service(&self, name: &str) -> Option<ServiceStatus> {
        self.pod
            .client()
            .services(&[name])
            .ok()?
            .into_iter()
            .next()
            .map(|s| s.current)
    }

    /// Pebble's view of one check.
    fn check(&self, name: &str) -> Option<(Option<CheckLevel>, CheckStatus)> {
        self.pod
            .client()
            .checks(None, &[name])
            .ok()?
            .into_iter()
            .next()
            .map(|c| (c.level, c.status))
    }

    /// `GET /v1/health?level=ready`: the pod's readiness.
    fn ready(&self) -> bool {
        self.pod.client().health(Some(CheckLevel::Ready)).unwrap()
    }

    /// A sample inventory served in the pod's network, with its Tokio runtime.
    fn sample_inventory(&self, hosts: usize) -> (tokio::runtime::Runtime, SampleInventory) {
        self.pod.in_net(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let sample = runtime
                .block_on(SampleInventory::start_with(SampleOptions {
                    hosts,
                    metrics: MetricsPorts::Ephemeral,
                    ..SampleOptions::default()
                }))
                .unwrap();
            (runtime, sample)
        })
    }

    /// Metrics of the poller, in the pod's network.
    fn poller_metric(&self, name: &str) -> Option<f64> {
        let text = self
            .http
            .get("http://127.0.0.1:9099/metrics")
            .send()
            .ok()?
            .text()
            .ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    }
}

fn plan_services(unit: &Unit) -> BTreeSet<String> {
    unit.pod
        .client()
        .get_plan()
        .unwrap()
        .services
        .into_keys()
        .collect()
}

#[test]
fn pebble_ready_runs_prometheus_3_and_the_pod_is_ready() {
    let Some(unit) = Unit::new(&[]) else { return };
    unit.deploy();
    let plan = unit.pod.client().get_plan().unwrap();
    assert_eq!(
        plan.services.keys().collect::<Vec<_>>(),
        ["prometheus"],
        "{plan:?}"
    );
    assert!(plan.checks.contains_key("prometheus-ready"), "{plan:?}");
    assert_eq!(unit.service("prometheus"), Some(ServiceStatus::Active));
    assert_eq!(
        unit.check("prometheus-ready"),
        Some((Some(CheckLevel::Ready), CheckStatus::Up))
    );
    assert!(unit.ready(), "the pod is ready");
    // The version was detected from the real binary in the container.
    assert_eq!(unit.state().workload_version.as_deref(), Some("3.14.0"));
    let build = unit.api("/api/v1/status/buildinfo").unwrap();
    assert_eq!(build["version"], "3.14.0");
    assert_eq!(unit.loaded_scrape_interval(), "5s");
}

#[test]
fn config_changes_reload_restart_or_do_nothing_as_the_process_shows() {
    let Some(unit) = Unit::new(&[]) else { return };
    unit.deploy();
    let pid = unit.prometheus_pid();

    // Read from prometheus.yml: a reload, same process.
    unit.configure("scrape_interval", "7s");
    assert_eq!(unit.status(), Status::active(""));
    assert_eq!(unit.loaded_scrape_interval(), "7s");
    assert_eq!(unit.prometheus_pid(), pid, "reloaded, not restarted");

    // Nothing changed: nothing happens.
    unit.ok(&Event::ConfigChanged);
    unit.ok(&Event::UpdateStatus);
    assert_eq!(unit.prometheus_pid(), pid, "no-op hooks leave the process");

    // A command-line flag: Pebble restarts the service, a new process.
    unit.configure("log_level", "debug");
    assert_eq!(unit.status(), Status::active(""));
    let restarted = unit.prometheus_pid();
    assert_ne!(restarted, pid, "restarted for a command-line flag");
    assert_eq!(unit.service("prometheus"), Some(ServiceStatus::Active));
    unit.wait_serving();
    assert_eq!(unit.loaded_scrape_interval(), "7s");
    assert!(unit.ready());
}

/// Relates a scrape-target application (`app`) publishing one job on `127.0.0.1:9090` (this
/// Prometheus) and `alert_rules`, and runs created and changed.
fn relate_scrape_target(unit: &Unit, app: &str, alert_rules: &Value) {
    let relation = unit.update(|s| {
        let rel = s.add_relation("metrics-endpoint", app);
        let metadata = serde_json::json!({
            "model": "workloads", "model_uuid": "f4b3a2c1-0d9e-4f8a-b7c6-5d4e3f2a1b0c",
            "application": app, "unit": format!("{app}/0"), "charm_name": format!("{app}-k8s")
        });
        let jobs = serde_json::json!([{
            "metrics_path": "/metrics",
            "static_configs": [{"targets": ["127.0.0.1:9090"]}]
        }]);
        let data: RelationData = [
            ("scrape_metadata".to_string(), metadata.to_string()),
            ("scrape_jobs".to_string(), jobs.to_string()),
            ("alert_rules".to_string(), alert_rules.to_string()),
        ]
        .into_iter()
        .collect();
        s.set_remote_app_data(&rel, &data);
        s.add_remote_unit(&rel, &format!("{app}/0"));
        rel
    });
    for kind in [RelationEventKind::Created, RelationEventKind::Changed] {
        let event = unit.state().relation_event(&relation, kind, None);
        unit.ok(&event);
    }
}

/// One alert rule group with this summary annotation (a Go template).
fn rule_group(name: &str, summary: &str) -> Value {
    serde_json::json!({"groups": [{"name": name, "rules": [{
        "alert": format!("{name}Alert"), "expr": "up < 1", "for": "1m",
        "labels": {"severity": "warning"}, "annotations": {"summary": summary}
    }]}]})
}

/// Rule group names Prometheus loaded.
fn loaded_rule_groups(unit: &Unit) -> BTreeSet<String> {
    let data = unit.api("/api/v1/rules").expect("rules");
    data["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_relation_adds_scrape_jobs_that_prometheus_scrapes() {
    let Some(unit) = Unit::new(&[]) else { return };
    unit.deploy();
    let pid = unit.prometheus_pid();
    relate_scrape_target(&unit, "self-scraped", &serde_json::json!({"groups": []}));
    assert_eq!(unit.status(), Status::active(""));
    let job = wait_for("the relation's target in /api/v1/targets", DEADLINE, || {
        unit.targets()
            .into_iter()
            .find(|t| t.starts_with("juju_workloads_f4b3a2c1_self-scraped_"))
    });
    let job_name = job.split(' ').next().unwrap().to_string();
    wait_for("the relation's target scraped", DEADLINE, || {
        let q = format!("/api/v1/query?query=up{{job=\"{job_name}\"}}");
        let data = unit.api(&q).ok()?;
        (data["result"][0]["value"][1] == "1").then_some(())
    });
    assert_eq!(unit.prometheus_pid(), pid, "a new job is a reload");
}

/// A unit joining a wildcard job of an isolated relation: the relation's job file alone
/// changes (prometheus.yml stays as it was, the manifest says a shortcut applied it), the
/// real promtool 3 checks that file, and the real Prometheus reloads (same process) and
/// scrapes the new unit's job; the unit's departure takes the job away the same way.
#[test]
fn a_unit_joining_a_wildcard_job_is_scraped_once_its_relation_file_alone_changed() {
    let Some(unit) = Unit::new(&[]) else { return };
    unit.deploy();
    let set_address = |s: &mut ModelState, rel: &juju_hook::RelationId, name: &str| {
        let data: RelationData = [
            ("prometheus_scrape_unit_address", "127.0.0.1"),
            ("prometheus_scrape_unit_name", name),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        s.set_remote_unit_data(rel, name, &data);
    };
    let relation = unit.update(|s| {
        let rel = s.add_relation("metrics-endpoint", "node");
        let metadata = serde_json::json!({
            "model": "workloads", "model_uuid": "f4b3a2c1-0d9e-4f8a-b7c6-5d4e3f2a1b0c",
            "application": "node", "unit": "node/0", "charm_name": "node-k8s"
        });
        let jobs = serde_json::json!([{"static_configs": [{"targets": ["*:9090"]}]}]);
        let data: RelationData = [
            ("scrape_metadata".to_string(), metadata.to_string()),
            ("scrape_jobs".to_string(), jobs.to_string()),
        ]
        .into_iter()
        .collect();
        s.set_remote_app_data(&rel, &data);
        s.add_remote_unit(&rel, "node/0");
        set_address(s, &rel, "node/0");
        rel
    });
    for kind in [RelationEventKind::Created, RelationEventKind::Changed] {
        unit.ok(&unit.state().relation_event(&relation, kind, Some("node/0")));
    }
    let scraped = |n: u32| {
        unit.targets().into_iter().any(|t| {
            t.starts_with("juju_workloads_f4b3a2c1_node_") && t.contains(&format!("-{n} "))
        })
    };
    wait_for("node/0's job", DEADLINE, || scraped(0).then_some(()));
    let client = unit.pod.client();
    let pull = |path: &str| String::from_utf8(client.pull(path).unwrap()).unwrap();
    let config = pull(CONFIG_FILE);
    assert!(config.contains("scrape_config_files"), "{config}");
    let pid = unit.prometheus_pid();

    unit.update(|s| {
        s.add_remote_unit(&relation, "node/1");
        set_address(s, &relation, "node/1");
    });
    unit.ok(&unit
        .state()
        .relation_event(&relation, RelationEventKind::Joined, Some("node/1")));
    assert_eq!(unit.status(), Status::active(""));
    let manifest: Value = serde_json::from_str(&pull(MANIFEST_FILE)).unwrap();
    assert_eq!(
        manifest["applied_for"]["targets_only"], true,
        "the shortcut"
    );
    assert_eq!(pull(CONFIG_FILE), config, "prometheus.yml untouched");
    wait_for("node/1's job", DEADLINE, || scraped(1).then_some(()));
    assert_eq!(unit.prometheus_pid(), pid, "a reload");

    unit.update(|s| {
        s.remove_remote_unit(&relation, "node/1");
    });
    unit.ok(&unit
        .state()
        .relation_event(&relation, RelationEventKind::Departed, Some("node/1")));
    wait_for("node/1's job gone", DEADLINE, || {
        (!scraped(1)).then_some(())
    });
    assert!(scraped(0));
    // The full path that the next update-status takes agrees with the shortcut.
    unit.ok(&Event::UpdateStatus);
    assert_eq!(pull(CONFIG_FILE), config);
    assert_eq!(unit.prometheus_pid(), pid);
}

#[test]
fn a_target_file_removed_in_the_container_is_restored_by_update_status() {
    let Some(unit) = Unit::new(&[]) else { return };
    unit.deploy();
    relate_scrape_target(&unit, "self-scraped", &serde_json::json!({"groups": []}));
    let client = unit.pod.client();
    let listed = || {
        client
            .list_files(TARGETS_DIR, Some("*.json"))
            .unwrap()
            .into_iter()
            .map(|f| (f.name, f.size))
            .collect::<BTreeSet<_>>()
    };
    let files = listed();
    assert_eq!(files.len(), 1, "{files:?}");
    let (name, _) = files.first().unwrap().clone();
    client
        .remove_path(&format!("{TARGETS_DIR}/{name}"), false)
        .unwrap();
    assert!(listed().is_empty());

    unit.ok(&Event::UpdateStatus);
    assert_eq!(unit.status(), Status::active(""));
    assert_eq!(
        listed(),
        files,
        "the real daemon's listing (names and sizes) drives it"
    );
    wait_for("the relation's target served again", DEADLINE, || {
        unit.targets()
            .into_iter()
            .find(|t| t.starts_with("juju_workloads_f4b3a2c1_self-scraped_"))
    });
}

/// Pebble (a Go program) raises its own soft limit of open files but starts its services and
/// commands with the container's original one (1,024 in this pod, as under containerd 2);
/// Prometheus, also in Go, raises its own; the relation-targets server, which holds a
/// connection per relation job, must raise its own too.
#[test]
fn the_relation_targets_server_raises_the_soft_limit_pebble_starts_it_with() {
    let Some(unit) = Unit::new(&[]) else { return };
    unit.deploy();
    relate_scrape_target(&unit, "self-scraped", &serde_json::json!({"groups": []}));
    let output = unit
        .pod
        .client()
        .exec(&["sh", "-c", "ulimit -Sn"], &pebble::ExecOptions::default())
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "1024",
        "what Pebble gives its children"
    );
    let servers: Vec<u32> = unit
        .pids(prometheus_rs_k8s::core::workload::POLLER_BINARY)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).nth(1) == Some(b"serve-targets".as_slice()))
        })
        .collect();
    assert_eq!(servers.len(), 1, "one relation-targets server: {servers:?}");
    let (soft, hard) = open_files_limits(servers[0]);
    assert_eq!(soft, hard, "the server's soft limit");
    assert_ne!(soft, "1024");
    // Go sets its own to the hard limit less one.
    let (soft, _) = open_files_limits(unit.prometheus_pid());
    assert!(
        soft.parse::<u64>().map_or(true, |n| n > 1024),
        "Prometheus' soft limit: {soft}"
    );
}

#[test]
fn rule_files_are_validated_staged_outside_prometheus_directory() {
    let Some(unit) = Unit::new(&[]) else { return };
    unit.deploy();
    relate_scrape_target(
        &unit,
        "good",
        &rule_group("Good", "{{ $labels.instance }} is down"),
    );
    assert_eq!(unit.status(), Status::active(""));
    wait_for("the good rules loaded", DEADLINE, || {
        loaded_rule_groups(&unit)
            .iter()
            .any(|g| g.contains("Good"))
            .then_some(())
    });

    // promtool 3.14 in the container checks the staged prometheus.yml with the staged rule
    // files (relative paths): the bad group is traced to its application and left out.
    // A template only promtool parses: the charm's own checks let it through.
    relate_scrape_target(&unit, "bad", &rule_group("Bad", "{{ $labels.instance "));
    let status = unit.status();
    assert_eq!(status.kind, StatusKind::Blocked, "{status:?}");
    assert!(
        status.message.contains("(bad)") && status.message.contains("promtool"),
        "{status:?}"
    );
    assert!(
        !status.message.contains("candidate"),
        "paths shown as live ones: {status:?}"
    );
    let groups = loaded_rule_groups(&unit);
    assert!(groups.iter().any(|g| g.contains("Good")), "{groups:?}");
    assert!(!groups.iter().any(|g| g.contains("Bad")), "{groups:?}");

    // Nothing staged in the directory Prometheus reads.
    let etc_prometheus = unit.pod.container_etc_prometheus().unwrap();
    let entries: Vec<String> = std::fs::read_dir(&etc_prometheus)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !entries.iter().any(|e| e.contains("candidate")),
        "{entries:?}"
    );
}

#[test]
fn inventory_on_outage_back_and_off_keep_the_pod_ready() {
    let Some(unit) = Unit::new(&[]) else { return };
    let (_runtime, sample) = unit.sample_inventory(3);
    unit.deploy();
    let prometheus = unit.prometheus_pid();

    // On: the poller runs, its targets are scraped, Prometheus keeps its process.
    unit.update(|s| {
        s.set_config("inventory_url", sample.url()).unwrap();
        s.set_config("inventory_poll_interval", "2s").unwrap();
        s.set_config("inventory_timeout", "1s").unwrap();
    });
    unit.ok(&Event::ConfigChanged);
    assert_eq!(unit.status(), Status::active(""));
    assert_eq!(unit.service("inventory-sd"), Some(ServiceStatus::Active));
    let hosts: BTreeSet<String> = sample
        .metrics_addrs()
        .iter()
        .map(|a| format!("inventory {a}"))
        .collect();
    wait_for("the inventory's targets", DEADLINE, || {
        let inventory: BTreeSet<String> = unit
            .targets()
            .into_iter()
            .filter(|t| t.starts_with("inventory "))
            .collect();
        (inventory == hosts).then_some(())
    });
    assert_eq!(unit.prometheus_pid(), prometheus);
    assert!(unit.ready());
    // The poller's check says how the poller is, but is not what the pod's readiness is made
    // of: readiness means Prometheus serves queries.
    let (level, status) = unit.check("inventory-sd-ready").expect("poller check");
    assert_eq!(status, CheckStatus::Up);
    assert_eq!(level, None, "the poller's check has no level");

    // Outage: the inventory answers 500. Prometheus keeps the last good targets, the pod
    // stays ready, the unit status says since when and how many targets are served.
    sample.set_fault(Fault {
        status: Some(500),
        ..Fault::default()
    });
    wait_for("a failed poll", DEADLINE, || {
        (unit.poller_metric("inventory_sd_consecutive_failures")? >= 2.0).then_some(())
    });
    unit.ok(&Event::UpdateStatus);
    let status = unit.status();
    assert_eq!(status.kind, StatusKind::Active, "{status:?}");
    assert!(
        status.message.contains("inventory")
            && status.message.contains("3 last good targets")
            && status.message.contains("failed"),
        "{status:?}"
    );
    assert!(unit.ready(), "an inventory outage leaves the pod ready");
    assert_eq!(
        unit.targets()
            .iter()
            .filter(|t| t.starts_with("inventory "))
            .count(),
        3
    );

    // Back: the status clears on the next hook.
    sample.clear_fault();
    wait_for("a successful poll", DEADLINE, || {
        (unit.poller_metric("inventory_sd_consecutive_failures")? == 0.0).then_some(())
    });
    unit.ok(&Event::UpdateStatus);
    assert_eq!(unit.status(), Status::active(""));

    // Off: the poller stops, and its check with it, in the same hook; the pod stays ready.
    unit.configure("inventory_url", "");
    assert_eq!(unit.status(), Status::active(""));
    assert_eq!(unit.service("inventory-sd"), Some(ServiceStatus::Inactive));
    let (_, status) = unit.check("inventory-sd-ready").expect("still in the plan");
    assert_eq!(status, CheckStatus::Inactive, "the check was stopped");
    assert!(unit.ready());
    assert_eq!(unit.prometheus_pid(), prometheus);
}

#[test]
fn inventory_off_stops_the_poller_check_so_the_pod_stays_ready() {
    let Some(unit) = Unit::new(&[]) else { return };
    let (_runtime, sample) = unit.sample_inventory(2);
    unit.update(|s| s.set_config("inventory_url", sample.url()).unwrap());
    unit.deploy();
    assert_eq!(unit.service("inventory-sd"), Some(ServiceStatus::Active));

    unit.configure("inventory_url", "");
    assert_eq!(unit.service("inventory-sd"), Some(ServiceStatus::Inactive));
    assert_eq!(
        unit.check("inventory-sd-ready").map(|c| c.1),
        Some(CheckStatus::Inactive),
        "a check whose startup became disabled keeps running until stopped"
    );
    // Three failures of a 10 s period would have taken it down.
    std::thread::sleep(Duration::from_secs(35));
    assert!(unit.ready(), "{:?}", unit.pod.client().checks(None, &[]));
    assert_eq!(unit.status(), Status::active(""));
}

#[test]
fn a_container_restart_gets_a_new_pebble_and_the_charm_applies_everything_again() {
    let Some(mut unit) = Unit::new(&[]) else {
        return;
    };
    unit.deploy();
    unit.configure("scrape_interval", "6s");
    let before = unit.prometheus_pid();
    let pebble_before = unit.pod.pebble_pid();

    unit.pod.restart_container();
    assert_ne!(unit.pod.pebble_pid(), pebble_before, "a new daemon");
    assert!(
        plan_services(&unit).is_empty(),
        "the new daemon's plan is empty"
    );
    assert!(unit.pids("/bin/prometheus").is_empty());

    unit.ok(&common::pebble_ready());
    assert_eq!(unit.status(), Status::active(""));
    assert_eq!(
        plan_services(&unit),
        BTreeSet::from(["prometheus".to_string()])
    );
    unit.wait_serving();
    assert_ne!(unit.prometheus_pid(), before);
    assert_eq!(unit.loaded_scrape_interval(), "6s");
    assert!(unit.ready());
    // The data volume survived: Prometheus' database is the same directory.
    assert!(unit.pod.data_dir().join("wal").is_dir());
}

#[test]
fn pebble_killed_then_back_is_waited_for_and_reapplied() {
    let Some(mut unit) = Unit::new(&[]) else {
        return;
    };
    unit.deploy();
    unit.pod.kill_pebble();
    assert!(
        unit.pids("/bin/prometheus").is_empty(),
        "the container died with Pebble"
    );

    // Hooks while the container is down wait for it, and succeed.
    unit.ok(&Event::UpdateStatus);
    assert_eq!(
        unit.status().kind,
        StatusKind::Waiting,
        "{:?}",
        unit.status()
    );

    unit.pod.start_container();
    unit.ok(&common::pebble_ready());
    assert_eq!(unit.status(), Status::active(""));
    unit.wait_serving();
    assert!(unit.ready());
}

#[test]
fn a_service_stopped_behind_the_charms_back_is_started_by_update_status() {
    let Some(unit) = Unit::new(&[]) else { return };
    unit.deploy();
    let before = unit.prometheus_pid();
    unit.pod
        .client()
        .stop_services(&["prometheus"], Duration::from_secs(30))
        .unwrap();
    assert_eq!(unit.service("prometheus"), Some(ServiceStatus::Inactive));

    unit.ok(&Event::UpdateStatus);
    assert_eq!(unit.status(), Status::active(""));
    assert_eq!(unit.service("prometheus"), Some(ServiceStatus::Active));
    unit.wait_serving();
    assert_ne!(unit.prometheus_pid(), before);
}

#[test]
fn an_invalid_option_across_a_container_restart_keeps_the_last_good_prometheus() {
    let Some(mut unit) = Unit::new(&[]) else {
        return;
    };
    unit.deploy();
    unit.configure("scrape_interval", "8s");

    unit.configure("scrape_interval", "banana");
    let blocked = unit.status();
    assert_eq!(blocked.kind, StatusKind::Blocked);
    assert!(blocked.message.contains("scrape_interval"), "{blocked:?}");
    assert_eq!(
        unit.loaded_scrape_interval(),
        "8s",
        "the last good config runs"
    );

    // The workload container restarts while the option is invalid.
    unit.pod.restart_container();
    unit.ok(&common::pebble_ready());
    assert_eq!(unit.status(), blocked, "still Blocked naming the option");
    assert_eq!(
        plan_services(&unit),
        BTreeSet::from(["prometheus".to_string()])
    );
    unit.wait_serving();
    assert_eq!(
        unit.loaded_scrape_interval(),
        "8s",
        "the last good config runs"
    );
    assert!(unit.ready());

    // Stopped behind the charm's back while Blocked: started again.
    unit.pod
        .client()
        .stop_services(&["prometheus"], Duration::from_secs(30))
        .unwrap();
    unit.ok(&Event::UpdateStatus);
    assert_eq!(unit.status(), blocked);
    assert_eq!(unit.service("prometheus"), Some(ServiceStatus::Active));
    unit.wait_serving();

    // Fixed: Active, the new value runs.
    unit.configure("scrape_interval", "9s");
    assert_eq!(unit.status(), Status::active(""));
    assert_eq!(unit.loaded_scrape_interval(), "9s");
}

#[test]
fn upgrade_charm_pushes_the_poller_again_and_leaves_prometheus_running() {
    let Some(unit) = Unit::new(&[]) else { return };
    let (_runtime, sample) = unit.sample_inventory(2);
    unit.update(|s| s.set_config("inventory_url", sample.url()).unwrap());
    unit.deploy();
    let prometheus = unit.prometheus_pid();

    // What Juju runs on `juju refresh` (K8s): upgrade-charm, config-changed, start,
    // pebble-ready.
    for event in [
        Event::UpgradeCharm,
        Event::ConfigChanged,
        Event::Start,
        common::pebble_ready(),
    ] {
        unit.ok(&event);
    }
    assert_eq!(unit.status(), Status::active(""));
    assert_eq!(
        unit.prometheus_pid(),
        prometheus,
        "same charm, same Prometheus"
    );
    assert_eq!(unit.service("inventory-sd"), Some(ServiceStatus::Active));
    assert!(unit.ready());
}

#[test]
fn refresh_inventory_with_an_invalid_option_says_so_once() {
    let Some(unit) = Unit::new(&[]) else { return };
    unit.deploy();
    // `juju config`, then its config-changed, as Juju runs it before the action.
    unit.update(|s| s.set_config("scrape_interval", "banana").unwrap());
    unit.ok(&Event::ConfigChanged);
    let action = unit.update(|s| s.start_action("refresh-inventory", Map::new()));
    unit.ok(&action);
    let failure = unit.state().action.unwrap().failure.expect("action failed");
    assert!(failure.starts_with("invalid config: "), "{failure}");
    assert_eq!(failure.matches("invalid config").count(), 1, "{failure}");
    assert!(failure.contains("scrape_interval"), "{failure}");
}

/// An HTTPS server on `listener` answering every request with `body` as Prometheus text
/// metrics, with `cert` and `key` (PEM): a TLS scrape target. One connection at a time.
fn serve_https_metrics(listener: std::net::TcpListener, cert: &str, key: &str, body: &'static str) {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::Arc;
    let der = |pem: &str| {
        x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .unwrap()
            .1
            .contents
    };
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![der(cert).into()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(der(key).into()),
    )
    .unwrap();
    let config = Arc::new(config);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                continue;
            };
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let mut reader = BufReader::new(&mut tls);
            let mut line = String::new();
            // The request head; a failed handshake (an untrusting client) ends here.
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.write_all(answer.as_bytes());
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
}

/// Everything TLS against the real Prometheus 3 in the real Pebble: a CA made here signs the
/// request the compiled charm published on `certificates`; Prometheus then serves HTTPS only
/// (a client trusting only that CA gets answers, plain HTTP and other CAs do not), Pebble's
/// ready check (`promtool check ready` over TLS) passes, the charm's reload goes over https,
/// a renewed certificate is used without a restart (Prometheus reads it per handshake), and
/// a TLS scrape target signed by a second CA is scraped only once that CA arrives on
/// `receive-ca-cert`.
#[test]
fn tls_serves_https_reloads_over_https_and_trusts_transferred_cas() {
    use prometheus_rs_k8s::core::desired_workload::WebTls;
    use prometheus_rs_k8s::effects::tls_client;
    use test_ca::{now, published_csr, TestCa, DAY};

    let Some(unit) = Unit::new(&[]) else { return };
    unit.deploy();
    let fqdn = format!(
        "prometheus-rs-k8s-0.prometheus-rs-k8s-endpoints.{}.svc.cluster.local",
        unit.state().model_name
    );

    // A TLS scrape target in the pod's network, its certificate from a second CA.
    let target_ca = TestCa::new("target-ca");
    let (target_cert, target_key) = target_ca.server(&["127.0.0.1"]);
    let listener = unit
        .pod
        .in_net(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    let target = listener.local_addr().unwrap().to_string();
    serve_https_metrics(listener, &target_cert, &target_key, "tls_target_up 1\n");
    let scrape = unit.update(|s| {
        let rel = s.add_relation("metrics-endpoint", "secure-exporter");
        let jobs = serde_json::json!([{"job_name": "secure", "scheme": "https",
            "static_configs": [{"targets": [target]}]}]);
        let data: RelationData = [("scrape_jobs".to_string(), jobs.to_string())]
            .into_iter()
            .collect();
        s.set_remote_app_data(&rel, &data);
        s.add_remote_unit(&rel, "secure-exporter/0");
        rel
    });
    let event = unit
        .state()
        .relation_event(&scrape, RelationEventKind::Changed, None);
    unit.ok(&event);

    // certificates: the request, signed by the test's CA.
    let certs = unit.update(|s| {
        let rel = s.add_relation("certificates", "self-signed-certificates");
        s.add_remote_unit(&rel, "self-signed-certificates/0");
        rel
    });
    let created = unit
        .state()
        .relation_event(&certs, RelationEventKind::Created, None);
    unit.ok(&created);
    let csrs = unit.state().relation(&certs).unwrap().local_unit_data
        ["certificate_signing_requests"]
        .clone();
    let csr = published_csr(&csrs);
    let ca = TestCa::new("prometheus-ca");
    let answer = |ca: &TestCa, until: i64| {
        let cert = ca.sign(&csr, now() - DAY, until);
        let value = ca.answer(&csr, &cert, serde_json::json!({}));
        unit.update(|s| {
            let data: RelationData = [("certificates".to_string(), value.to_string())]
                .into_iter()
                .collect();
            s.set_remote_app_data(&certs, &data);
        });
        // An application databag change: relation-changed without a remote unit.
        let changed = unit
            .state()
            .relation_event(&certs, RelationEventKind::Changed, None);
        unit.ok(&changed);
        cert
    };
    let pid_http = unit.prometheus_pid();
    answer(&ca, now() + 365 * DAY);
    assert_eq!(unit.status(), Status::active(""));
    let pid = unit.prometheus_pid();
    assert_ne!(pid, pid_http, "restarted once for --web.config.file");

    let trusting = |ca: &TestCa| WebTls {
        ca: ca.pem.clone(),
        server_name: fqdn.clone(),
    };
    let get = |tls: WebTls, path: &'static str| {
        unit.pod.in_net(move || {
            tls_client::request(
                "https://localhost:9090",
                &tls,
                "GET",
                path,
                Duration::from_secs(10),
            )
        })
    };
    let tls = trusting(&ca);
    let ready = wait_for("Prometheus to serve HTTPS", DEADLINE, || {
        get(tls.clone(), "/-/ready").ok()
    });
    assert_eq!(ready.status, 200, "{ready:?}");
    // Only over TLS, and only for a client trusting the CA.
    let plain = unit
        .http
        .get("http://127.0.0.1:9090/-/ready")
        .send()
        .unwrap();
    assert_eq!(plain.status().as_u16(), 400, "plain HTTP is refused");
    let stranger = TestCa::new("stranger");
    assert!(matches!(
        get(trusting(&stranger), "/-/ready"),
        Err(tls_client::HttpsError::Tls(_))
    ));
    // Pebble's ready check is promtool 3 over TLS: the pod is ready.
    wait_for("the TLS ready check up", DEADLINE, || {
        (unit.check("prometheus-ready") == Some((Some(CheckLevel::Ready), CheckStatus::Up)))
            .then_some(())
    });
    assert!(unit.ready());

    // The charm's reload goes over https: a new interval, same process.
    unit.configure("scrape_interval", "7s");
    assert_eq!(unit.status(), Status::active(""));
    let config = get(tls.clone(), "/api/v1/status/config").unwrap();
    let config: Value = serde_json::from_str(&config.body).unwrap();
    assert!(
        config["data"]["yaml"]
            .as_str()
            .unwrap()
            .contains("scrape_interval: 7s"),
        "{config}"
    );
    assert_eq!(
        unit.prometheus_pid(),
        pid,
        "reloaded over https, not restarted"
    );

    // The TLS target is down until its CA is trusted.
    let target_health = |tls: &WebTls| -> Option<(String, String)> {
        let answer = get(tls.clone(), "/api/v1/targets").ok()?;
        let body: Value = serde_json::from_str(&answer.body).ok()?;
        body["data"]["activeTargets"]
            .as_array()?
            .iter()
            .find(|t| t["labels"]["job"] == "secure")
            .map(|t| {
                (
                    t["health"].as_str().unwrap_or_default().to_owned(),
                    t["lastError"].as_str().unwrap_or_default().to_owned(),
                )
            })
    };
    let (health, error) = wait_for("the TLS target scraped once", DEADLINE, || {
        target_health(&tls).filter(|(h, _)| h != "unknown")
    });
    assert_eq!(health, "down", "{error}");
    assert!(error.contains("certificate"), "{error}");
    let cas = unit.update(|s| {
        let rel = s.add_relation("receive-ca-cert", "ca-sender");
        let data: RelationData = [
            (
                "certificates".to_string(),
                serde_json::json!([target_ca.pem]).to_string(),
            ),
            ("version".to_string(), "1".to_string()),
        ]
        .into_iter()
        .collect();
        s.set_remote_app_data(&rel, &data);
        s.add_remote_unit(&rel, "ca-sender/0");
        rel
    });
    let changed = unit
        .state()
        .relation_event(&cas, RelationEventKind::Changed, None);
    unit.ok(&changed);
    assert_eq!(unit.status(), Status::active(""));
    wait_for(
        "the TLS target up with the transferred CA",
        DEADLINE,
        || target_health(&tls).filter(|(h, _)| h == "up"),
    );
    assert_eq!(unit.prometheus_pid(), pid, "a reload, not a restart");

    // Renewal with another CA (to tell the certificates apart): the same process serves the
    // new certificate on the next handshake; clients trusting only the old CA are refused.
    let renewed_ca = TestCa::new("renewed-ca");
    answer(&renewed_ca, now() + 2 * 365 * DAY);
    assert_eq!(unit.status(), Status::active(""));
    let ready = get(trusting(&renewed_ca), "/-/ready").unwrap();
    assert_eq!(ready.status, 200);
    assert!(matches!(
        get(tls.clone(), "/-/ready"),
        Err(tls_client::HttpsError::Tls(_))
    ));
    assert_eq!(unit.prometheus_pid(), pid, "renewal: no restart");
}

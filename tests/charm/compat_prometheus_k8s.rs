//! Behaviour that follows prometheus-k8s (reference: /work/shared/reference/prometheus-k8s-charm.md
//! §3, §4.1, §4.4, §4.8), through the whole charm on the harness: the unit's FQDN as the pod
//! resolves it, the self-scrape at that address, `web_external_url`, exemplar storage, and the
//! default percentage retention of an untrusted unit.

use crate::common::{Charm, CONFIG_FILE};
use charm_sim::charm_model_state;
use juju_hook::{RelationId, Status, StatusKind};
use prometheus_rs_k8s::effects::fqdn::FqdnSource;
use serde_json::{json, Value};

fn prometheus_command(c: &Charm) -> String {
    c.sim.pebble.plan().services["prometheus"]
        .command
        .clone()
        .unwrap()
}

/// A leader related to Grafana, a remote-write sender and a scraper of this Prometheus.
fn related_leader() -> Charm {
    let mut state = charm_model_state().unwrap();
    state.set_leader(true);
    for (endpoint, app, id) in [
        ("grafana-source", "grafana", 3),
        ("receive-remote-write", "agent", 4),
        ("self-metrics-endpoint", "cos-prom", 5),
    ] {
        let rel = state.add_relation_with_id(endpoint, app, id);
        state.add_remote_unit(&rel, &format!("{app}/0"));
    }
    Charm::with_state(state)
}

fn unit_data(c: &Charm, endpoint: &str, id: u32) -> juju_hook::RelationData {
    c.sim
        .juju
        .state()
        .relation(&RelationId::new(endpoint, id))
        .unwrap()
        .local_unit_data
        .clone()
}

/// prometheus-k8s takes its FQDN from `socket.getfqdn()`, i.e. what the pod resolves for its
/// own host name; in a cluster whose domain is not `cluster.local` every URL it publishes and
/// its self-scrape use that domain. Here the pod's hosts file (as the kubelet writes it) says
/// `corp.example`.
#[test]
fn the_fqdn_is_the_pods_own_and_every_published_url_and_the_self_scrape_use_it() {
    let mut c = related_leader();
    let dir = c.sim.scratch_dir().join("pod");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hostname"), "prometheus-rs-k8s-0\n").unwrap();
    std::fs::write(
        dir.join("hosts"),
        "127.0.0.1\tlocalhost\n10.1.9.9\tprometheus-rs-k8s-0.prometheus-rs-k8s-endpoints.lab.svc.corp.example\tprometheus-rs-k8s-0\n",
    )
    .unwrap();
    c.sim.access.fqdn_source = FqdnSource {
        hostname_file: dir.join("hostname"),
        hosts_file: dir.join("hosts"),
    };
    c.deploy();
    c.assert_active();
    let fqdn = "prometheus-rs-k8s-0.prometheus-rs-k8s-endpoints.lab.svc.corp.example";
    let url = format!("http://{fqdn}:9090");
    assert_eq!(
        unit_data(&c, "grafana-source", 3)["grafana_source_host"],
        url
    );
    assert_eq!(
        unit_data(&c, "receive-remote-write", 4)["remote_write"],
        format!(r#"{{"url": "{url}/api/v1/write"}}"#)
    );
    let me = unit_data(&c, "self-metrics-endpoint", 5);
    assert_eq!(me["prometheus_scrape_unit_address"], fqdn);
    assert_eq!(me["prometheus_scrape_unit_fqdn"], fqdn);
    // The self-scrape job targets the unit's own address (prometheus-k8s: `<fqdn>:9090`), not
    // `localhost:9090`, so every unit's target differs.
    let config = c.config_value();
    let jobs = config["scrape_configs"].as_sequence().unwrap();
    let own = jobs
        .iter()
        .find(|j| j["job_name"].as_str() == Some("prometheus"))
        .unwrap();
    assert_eq!(
        own["static_configs"][0]["targets"][0].as_str(),
        Some(format!("{fqdn}:9090").as_str())
    );
    assert!(!c.config_yaml().contains("localhost:9090"));
}

/// `web_external_url`: Prometheus gets `--web.external-url` and `--web.route-prefix=/` (as
/// prometheus-k8s passes its external URL behind a prefix-stripping proxy), which restarts it;
/// the URLs published follow the external URL (remote write: `<external>/api/v1/write`, as
/// upstream's `most_external_url`); emptying it goes back to the unit's own URL.
#[test]
fn web_external_url_is_passed_to_prometheus_and_published() {
    let c = related_leader();
    c.deploy();
    let restarts = c.counters().prometheus_restarts;
    c.configure("web_external_url", "https://prom.example.com/cos-prom/");
    c.assert_active();
    let command = prometheus_command(&c);
    assert!(
        command
            .contains("--web.external-url=https://prom.example.com/cos-prom --web.route-prefix=/"),
        "{command}"
    );
    assert_eq!(c.counters().prometheus_restarts, restarts + 1);
    assert_eq!(
        unit_data(&c, "grafana-source", 3)["grafana_source_host"],
        "https://prom.example.com/cos-prom"
    );
    assert_eq!(
        unit_data(&c, "receive-remote-write", 4)["remote_write"],
        r#"{"url": "https://prom.example.com/cos-prom/api/v1/write"}"#
    );
    let me = unit_data(&c, "self-metrics-endpoint", 5);
    assert_eq!(me["prometheus_scrape_unit_address"], "prom.example.com");
    assert_eq!(me["prometheus_scrape_unit_path"], "/cos-prom");
    let app = c.local_app_data(&RelationId::new("self-metrics-endpoint", 5));
    let jobs: Value = serde_json::from_str(&app["scrape_jobs"]).unwrap();
    assert_eq!(
        jobs,
        json!([{"metrics_path": "/metrics", "static_configs": [{"targets": ["*:443"]}], "scheme": "https"}])
    );
    // Prometheus still serves at `/` in the pod: its self-scrape is unchanged.
    assert!(c.config_yaml().contains("metrics_path: /metrics"));

    c.configure("web_external_url", "");
    assert!(!prometheus_command(&c).contains("--web.external-url"));
    let model = c.sim.juju.state().model_name.clone();
    assert_eq!(
        unit_data(&c, "grafana-source", 3)["grafana_source_host"],
        format!(
            "http://prometheus-rs-k8s-0.prometheus-rs-k8s-endpoints.{model}.svc.cluster.local:9090"
        )
    );
}

/// prometheus-k8s: `max_global_exemplars_per_user` ≤ 0 is off; > 0 adds
/// `--enable-feature=exemplar-storage` and `storage.exemplars.max_exemplars: max(v, 100000)`
/// in prometheus.yml. Turning it on restarts Prometheus (new flag); changing the number only
/// reloads it (prometheus.yml).
#[test]
fn exemplar_storage_follows_max_global_exemplars_per_user() {
    let c = Charm::leader();
    c.deploy();
    assert!(!prometheus_command(&c).contains("exemplar"));
    assert!(!c.config_yaml().contains("exemplars"));

    let before = c.counters();
    c.configure("max_global_exemplars_per_user", 5);
    c.assert_active();
    assert!(prometheus_command(&c).contains("--enable-feature=exemplar-storage"));
    assert_eq!(
        c.config_value()["storage"]["exemplars"]["max_exemplars"].as_u64(),
        Some(100_000)
    );
    let after = c.counters();
    assert_eq!(after.prometheus_restarts, before.prometheus_restarts + 1);
    assert_eq!(after.reloads, before.reloads, "restarted, not reloaded");

    c.configure("max_global_exemplars_per_user", 250_000);
    assert_eq!(
        c.config_value()["storage"]["exemplars"]["max_exemplars"].as_u64(),
        Some(250_000)
    );
    let again = c.counters();
    assert_eq!(again.prometheus_restarts, after.prometheus_restarts);
    assert_eq!(again.reloads, after.reloads + 1);
    // The staged file passed the host's promtool (Prometheus 2.42) before going live.
    assert!(c
        .file(CONFIG_FILE)
        .unwrap()
        .contains("max_exemplars: 250000"));

    c.configure("max_global_exemplars_per_user", -1);
    assert!(!prometheus_command(&c).contains("exemplar"));
    assert!(!c.config_yaml().contains("exemplars"));
}

/// The default `maximum_retention_size` is 80% (prometheus-k8s). Without `juju trust` (no
/// Kubernetes API here) the volume's capacity is unknown: Prometheus runs with no size limit and
/// the unit is Active saying so (prometheus-k8s would go Blocked; a default must not block).
/// With the capacity known (a 1Gi volume) the limit is 80% of it.
#[test]
fn the_default_percentage_retention_never_blocks() {
    // The simulation is a trusted unit with a 1Gi volume.
    let c = Charm::leader();
    c.deploy();
    c.assert_active();
    assert!(prometheus_command(&c).contains("--storage.tsdb.retention.size=819MB"));

    let mut untrusted = Charm::leader();
    untrusted.sim.access.database_capacity = None;
    untrusted.deploy();
    let status = untrusted.status();
    assert_eq!(status.kind, StatusKind::Active, "{status:?}");
    assert_eq!(
        status,
        Status::active(
            "no TSDB size limit: maximum_retention_size=80% needs \"juju trust prometheus-rs-k8s --scope=cluster\""
        )
    );
    let command = prometheus_command(&untrusted);
    assert!(!command.contains("retention.size"), "{command}");
    assert!(untrusted.config_yaml().contains("job_name: prometheus"));
}

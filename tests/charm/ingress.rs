//! The `ingress` relation (`ingress_per_unit`) through the whole charm on the harness, with the
//! data captured from prometheus-k8s and Traefik's real provider library
//! (`tests/fixtures/ingress_per_unit/`): the request each unit writes, the URL becoming
//! Prometheus' external URL (a restart, as a changed flag needs) and every published URL,
//! `web_external_url` taking precedence, bad data costing nothing that works, and the relation
//! going away.

use crate::common::{Charm, TWO_APPS_FIXTURE};
use charm_sim::charm_model_state;
use juju_hook::{RelationData, RelationEventKind, RelationId, StatusKind};
use prometheus_rs_k8s::cli::render::{explain_text, render_snapshot};
use prometheus_rs_k8s::core::model::ModelSnapshot;
use serde_json::{json, Value};

const INGRESS: u32 = 7;
const CATALOGUE: u32 = 8;
const API: u32 = 9;
const TRAEFIK_URL: &str = "http://10.0.0.100/cos-prometheus-k8s-0";

fn fixture(name: &str) -> Value {
    fixture_at(&format!("ingress_per_unit/{name}"))
}

fn fixture_at(path: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn catalogue() -> RelationId {
    RelationId::new("catalogue", CATALOGUE)
}

fn api() -> RelationId {
    RelationId::new("prometheus-api", API)
}

fn ingress() -> RelationId {
    RelationId::new("ingress", INGRESS)
}

fn prometheus_command(c: &Charm) -> String {
    c.sim.pebble.plan().services["prometheus"]
        .command
        .clone()
        .unwrap()
}

fn unit_data(c: &Charm, rel: &RelationId) -> RelationData {
    c.sim
        .juju
        .state()
        .relation(rel)
        .unwrap()
        .local_unit_data
        .clone()
}

/// A databag without the keys Juju itself sets (`ingress-address`, ...).
fn charm_keys(data: RelationData) -> RelationData {
    data.into_iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "ingress-address" | "private-address" | "egress-subnets"
            )
        })
        .collect()
}

/// A unit (leader or not) related to Grafana, a remote-write sender, a scraper of this
/// Prometheus and Traefik, which has published nothing yet.
fn related(leader: bool) -> Charm {
    let mut state = charm_model_state().unwrap();
    state.set_leader(leader);
    for (endpoint, app, id) in [
        ("grafana-source", "grafana", 3),
        ("receive-remote-write", "agent", 4),
        ("self-metrics-endpoint", "cos-prom", 5),
        ("ingress", "traefik", INGRESS),
        ("catalogue", "catalogue", CATALOGUE),
        ("prometheus-api", "api-client", API),
    ] {
        let rel = state.add_relation_with_id(endpoint, app, id);
        state.add_remote_unit(&rel, &format!("{app}/0"));
    }
    Charm::with_state(state)
}

/// Traefik's app databag as its library wrote it in the fixture, for our unit's name.
fn publish(c: &Charm, ingress_yaml: &str) {
    let mut state = c.sim.juju.state();
    let data = RelationData::from([("ingress".to_owned(), ingress_yaml.to_owned())]);
    state.set_remote_app_data(&ingress(), &data);
}

fn fixture_publication(c: &Charm) -> String {
    let unit = c.sim.juju.state().unit_name();
    fixture("remote-app.json")["ingress"]
        .as_str()
        .unwrap()
        .replace("prometheus-k8s/0", &unit)
}

fn changed(c: &Charm) {
    c.ok(&c.relation_event(&ingress(), RelationEventKind::Changed, Some("traefik/0")));
}

/// The request is the fixture's, with this unit's names (every unit writes it, leader or not).
#[test]
fn every_unit_writes_the_request_prometheus_k8s_writes() {
    for leader in [true, false] {
        let c = related(leader);
        c.deploy();
        c.assert_active();
        let state = c.sim.juju.state();
        let (model, unit) = (state.model_name.clone(), state.unit_name());
        drop(state);
        let fqdn =
            format!("prometheus-rs-k8s-0.prometheus-rs-k8s-endpoints.{model}.svc.cluster.local");
        let expected: RelationData = fixture("prometheus-writes.json")["final"]["unit"]
            ["prometheus-k8s/0"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let v = v
                    .as_str()
                    .unwrap()
                    .replace(
                        "prometheus-k8s-0.prometheus-k8s-endpoints.cos.svc.cluster.local",
                        &fqdn,
                    )
                    .replace("prometheus-k8s/0", &unit);
                let v = if k == "model" { model.clone() } else { v };
                (k.clone(), v)
            })
            .collect();
        let written = charm_keys(unit_data(&c, &ingress()));
        assert_eq!(written, expected, "leader={leader}");
        // No URL yet: Prometheus runs at its own address.
        assert!(!prometheus_command(&c).contains("--web.external-url"));
        assert!(c.local_app_data(&ingress()).is_empty(), "no app data");
    }
}

/// Traefik publishes the unit's URL: `--web.external-url=<url> --web.route-prefix=/` (a
/// restart, not a reload, as prometheus-k8s's add_layer + replan), and every URL the unit
/// publishes goes through Traefik. Hooks after that change nothing.
#[test]
fn the_ingress_url_becomes_the_external_url_and_every_published_url() {
    let c = related(true);
    c.deploy();
    let before = c.counters();
    let config_before = c.config_yaml();
    publish(&c, &fixture_publication(&c));
    changed(&c);
    c.assert_active();

    let command = prometheus_command(&c);
    assert!(
        command.contains(&format!(
            "--web.external-url={TRAEFIK_URL} --web.route-prefix=/"
        )),
        "{command}"
    );
    let after = c.counters();
    assert_eq!(after.prometheus_restarts, before.prometheus_restarts + 1);
    assert_eq!(after.reloads, before.reloads, "restarted, not reloaded");
    // prometheus.yml is unchanged: Prometheus still serves (and scrapes itself) at `/`.
    assert_eq!(c.config_yaml(), config_before);

    let grafana = RelationId::new("grafana-source", 3);
    assert_eq!(unit_data(&c, &grafana)["grafana_source_host"], TRAEFIK_URL);
    assert_eq!(
        unit_data(&c, &RelationId::new("receive-remote-write", 4))["remote_write"],
        format!(r#"{{"url": "{TRAEFIK_URL}/api/v1/write"}}"#)
    );
    let scraper = RelationId::new("self-metrics-endpoint", 5);
    let me = unit_data(&c, &scraper);
    assert_eq!(me["prometheus_scrape_unit_address"], "10.0.0.100");
    assert_eq!(me["prometheus_scrape_unit_path"], "/cos-prometheus-k8s-0");
    let jobs: Value = serde_json::from_str(&c.local_app_data(&scraper)["scrape_jobs"]).unwrap();
    // The port of the ingress URL (80 for http without one), as prometheus-k8s.
    assert_eq!(jobs[0]["static_configs"], json!([{"targets": ["*:80"]}]));
    assert_eq!(jobs[0]["metrics_path"], "/metrics");

    // The catalogue entry and the API URLs follow too (the direct URL stays the unit's own).
    let entry = c.local_app_data(&catalogue());
    assert_eq!(entry["url"], TRAEFIK_URL);
    assert!(
        entry["api_endpoints"].starts_with(&format!(
            r#"{{"Instant queries": "{TRAEFIK_URL}/api/v1/query", "#
        )),
        "{}",
        entry["api_endpoints"]
    );
    let urls = c.local_app_data(&api());
    assert_eq!(urls["ingress_url"], TRAEFIK_URL);
    assert!(
        urls["direct_url"].ends_with(".svc.cluster.local:9090/"),
        "{urls:?}"
    );

    // A later hook: nothing to write, nothing to restart.
    c.reset_records();
    let counters = c.counters();
    c.ok(&juju_hook::Event::ConfigChanged);
    assert_eq!(c.sim.juju.calls("relation-set"), 0);
    assert_eq!(c.counters(), counters);
}

/// `web_external_url`, set by the operator, wins over the ingress URL (as prometheus-k8s while
/// the option had an effect); emptying it hands over to the ingress URL.
#[test]
fn web_external_url_takes_precedence_over_the_ingress_url() {
    let c = related(true);
    c.deploy();
    publish(&c, &fixture_publication(&c));
    changed(&c);
    c.configure("web_external_url", "https://prom.example.com/cos");
    c.assert_active();
    assert!(prometheus_command(&c).contains("--web.external-url=https://prom.example.com/cos "));
    assert_eq!(
        unit_data(&c, &RelationId::new("grafana-source", 3))["grafana_source_host"],
        "https://prom.example.com/cos"
    );
    c.configure("web_external_url", "");
    assert!(prometheus_command(&c).contains(&format!("--web.external-url={TRAEFIK_URL} ")));
}

/// Unusable data from Traefik: the unit is Blocked naming the relation and the problem, and
/// Prometheus keeps the URL it had (no restart) and every other relation keeps working.
/// Fixed data brings the unit back.
#[test]
fn bad_ingress_data_names_the_relation_and_changes_nothing() {
    let c = related(true);
    c.deploy();
    let good = fixture_publication(&c);
    publish(&c, &good);
    changed(&c);
    let command = prometheus_command(&c);
    let unit = c.sim.juju.state().unit_name();
    for bad in [
        "not: [yaml".to_owned(),
        "- a list".to_owned(),
        format!("{unit}:\n  url: ftp://10.0.0.100/x\n"),
        format!("{unit}:\n  host: 10.0.0.100\n"),
    ] {
        let before = c.counters();
        publish(&c, &bad);
        changed(&c);
        let status = c.status();
        assert_eq!(status.kind, StatusKind::Blocked, "{bad}: {status:?}");
        assert!(
            status
                .message
                .starts_with(&format!("ingress:{INGRESS} (traefik): ")),
            "{bad}: {}",
            status.message
        );
        // Prometheus runs on with the URL it had: no restart, the same published URLs.
        assert_eq!(c.counters().prometheus_restarts, before.prometheus_restarts);
        assert_eq!(prometheus_command(&c), command);
        assert_eq!(
            unit_data(&c, &RelationId::new("grafana-source", 3))["grafana_source_host"],
            TRAEFIK_URL
        );
    }
    publish(&c, &good);
    changed(&c);
    c.assert_active();
    assert_eq!(prometheus_command(&c), command);
}

/// The route is withdrawn (Traefik removed our entry), the last Traefik unit departs (its
/// application databag is no longer read: there is nobody to route) or the relation is
/// removed: Prometheus goes back to its own address (one restart), and so do the published
/// URLs.
#[test]
fn losing_the_route_reverts_the_external_url() {
    for how in ["withdrawn", "departed", "broken"] {
        let c = related(true);
        c.deploy();
        let own = prometheus_command(&c);
        publish(&c, &fixture_publication(&c));
        changed(&c);
        let before = c.counters();
        match how {
            "broken" => {
                c.sim.juju.state().remove_relation(&ingress());
                c.ok(&c.relation_event(&ingress(), RelationEventKind::Broken, None));
            }
            "departed" => {
                let event =
                    c.relation_event(&ingress(), RelationEventKind::Departed, Some("traefik/0"));
                c.sim
                    .juju
                    .state()
                    .remove_remote_unit(&ingress(), "traefik/0");
                c.ok(&event);
            }
            _ => {
                publish(&c, "");
                changed(&c);
            }
        }
        c.assert_active();
        assert_eq!(prometheus_command(&c), own, "{how}");
        assert_eq!(
            c.counters().prometheus_restarts,
            before.prometheus_restarts + 1
        );
        assert!(
            unit_data(&c, &RelationId::new("grafana-source", 3))["grafana_source_host"]
                .ends_with(":9090")
        );
    }
}

/// The shared scrape fixture (prometheus-k8s/0 in model `cos`, the names the ingress fixture was
/// captured with) plus an ingress relation whose Traefik app databag is `ingress_yaml`.
fn snapshot_with_ingress(ingress_yaml: Option<&str>) -> ModelSnapshot {
    let mut value: Value =
        serde_json::from_str(&std::fs::read_to_string(TWO_APPS_FIXTURE).unwrap()).unwrap();
    let app_data = match ingress_yaml {
        Some(yaml) => json!({ "ingress": yaml }),
        None => json!({}),
    };
    value["relations"].as_array_mut().unwrap().push(json!({
        "endpoint": "ingress",
        "id": INGRESS,
        "app": "traefik",
        "app_data": app_data,
        "units": [{"name": "traefik/0", "data": {}}],
    }));
    for (endpoint, app, id) in [
        ("catalogue", "catalogue", CATALOGUE),
        ("prometheus-api", "api-client", API),
    ] {
        value["relations"].as_array_mut().unwrap().push(json!({
            "endpoint": endpoint,
            "id": id,
            "app": app,
            "app_data": {},
            "units": [{"name": format!("{app}/0"), "data": {}}],
        }));
    }
    serde_json::from_value(value).unwrap()
}

/// `render` of the fixture's model: the request is byte for byte prometheus-k8s's, the layer
/// carries Traefik's URL and `--explain` says where the external URL comes from; unusable data
/// is refused naming the relation.
#[test]
fn render_shows_the_request_the_external_url_and_where_it_comes_from() {
    let traefik = fixture("remote-app.json")["ingress"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = render_snapshot(&snapshot_with_ingress(Some(&traefik))).unwrap();
    let expected: juju_hook::RelationData = fixture("prometheus-writes.json")["final"]["unit"]
        ["prometheus-k8s/0"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let written = &out.relation_data[&format!("ingress:{INGRESS}")];
    assert_eq!(written.unit, expected);
    assert!(written.app.is_empty());
    assert!(
        out.layer_yaml.contains(&format!(
            "--web.external-url={TRAEFIK_URL} --web.route-prefix=/"
        )),
        "{}",
        out.layer_yaml
    );
    let text = explain_text(&out.explain);
    assert!(
        text.contains(&format!(
            "note: external URL {TRAEFIK_URL} from ingress:{INGRESS}"
        )),
        "{text}"
    );

    // No route yet: the request is written, no flag, nothing to explain.
    let out = render_snapshot(&snapshot_with_ingress(None)).unwrap();
    assert_eq!(
        out.relation_data[&format!("ingress:{INGRESS}")].unit,
        expected
    );
    assert!(!out.layer_yaml.contains("--web.external-url"));
    assert_eq!(out.status.kind, StatusKind::Active);

    let out = render_snapshot(&snapshot_with_ingress(Some("prometheus-k8s/0: [1"))).unwrap();
    assert_eq!(out.status.kind, StatusKind::Blocked);
    let text = explain_text(&out.explain);
    assert!(
        text.contains(&format!(
            "refused ingress:{INGRESS} app traefik\n    `ingress` is not valid YAML"
        )),
        "{text}"
    );
}

/// The leader writes the catalogue entry and the API URLs (the fixtures' keys, with this
/// unit's own URL before any ingress); a non-leader writes nothing there. A later hook writes
/// nothing again.
#[test]
fn the_leader_publishes_the_catalogue_entry_and_the_api_urls() {
    let c = related(true);
    c.deploy();
    let internal =
        unit_data(&c, &RelationId::new("grafana-source", 3))["grafana_source_host"].clone();
    let entry = c.local_app_data(&catalogue());
    let keys: Vec<&String> = entry.keys().collect();
    assert_eq!(
        keys,
        [
            "api_docs",
            "api_endpoints",
            "description",
            "icon",
            "name",
            "url"
        ]
    );
    assert_eq!(entry["name"], "Prometheus");
    assert_eq!(entry["icon"], "chart-line-variant");
    assert_eq!(entry["url"], internal);
    let links: Value = serde_json::from_str(&entry["api_endpoints"]).unwrap();
    assert_eq!(links["Alerts"], format!("{internal}/api/v1/alerts"));
    let urls = c.local_app_data(&api());
    assert_eq!(
        urls,
        RelationData::from([("direct_url".to_owned(), format!("{internal}/"))])
    );
    assert!(charm_keys(unit_data(&c, &catalogue())).is_empty());
    assert!(charm_keys(unit_data(&c, &api())).is_empty());

    let follower = related(false);
    follower.deploy();
    follower.assert_active();
    assert!(follower.local_app_data(&catalogue()).is_empty());
    assert!(follower.local_app_data(&api()).is_empty());
    assert!(charm_keys(unit_data(&follower, &catalogue())).is_empty());
}

//! TLS through the whole charm on the harness: the `certificates` relation (`tls-certificates`
//! v4) with a CA the test makes signing the request the unit published, and `receive-ca-cert`
//! (`certificate_transfer`) with the CAs captured from the real provider library
//! (`tests/fixtures/certificate_transfer/`). Statuses, relation data, Pebble plan and files,
//! restarts versus reloads, renewal, revocation, expiry, hostile answers and the relations
//! going away.

#[path = "../common/test_ca.rs"]
mod test_ca;

use crate::common::{add_scrape_app, Charm};
use charm_sim::charm_model_state;
use juju_hook::{Event, RelationData, RelationEventKind, RelationId, StatusKind};
use prometheus_rs_k8s::core::tls::{
    SERVER_CA_FILE, SERVER_CERT_FILE, SERVER_KEY_FILE, TLS_STATE_KEY, WEB_CONFIG_FILE,
};
use serde_json::{json, Value};
use test_ca::{now, published_csr, TestCa, DAY};
use x509_parser::prelude::FromDer;

const CERTS: u32 = 11;
const CAS: u32 = 12;
const PROVIDER: &str = "self-signed-certificates";

fn certs() -> RelationId {
    RelationId::new("certificates", CERTS)
}

fn cas_rel() -> RelationId {
    RelationId::new("receive-ca-cert", CAS)
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

fn command(c: &Charm) -> String {
    c.sim.pebble.plan().services["prometheus"]
        .command
        .clone()
        .unwrap()
}

fn fqdn(c: &Charm) -> String {
    let state = c.sim.juju.state();
    format!(
        "prometheus-rs-k8s-0.prometheus-rs-k8s-endpoints.{}.svc.cluster.local",
        state.model_name
    )
}

/// A unit related to a TLS provider (which has answered nothing yet), Grafana, a scraper of
/// this Prometheus, an API client and Traefik (no route yet).
fn related(leader: bool) -> Charm {
    let mut state = charm_model_state().unwrap();
    state.set_leader(leader);
    for (endpoint, app, id) in [
        ("grafana-source", "grafana", 3),
        ("self-metrics-endpoint", "cos-prom", 5),
        ("ingress", "traefik", 7),
        ("prometheus-api", "api-client", 9),
        ("certificates", PROVIDER, CERTS),
    ] {
        let rel = state.add_relation_with_id(endpoint, app, id);
        state.add_remote_unit(&rel, &format!("{app}/0"));
    }
    Charm::with_state(state)
}

fn csr_of(c: &Charm) -> String {
    published_csr(&unit_data(c, &certs())["certificate_signing_requests"])
}

/// The provider answers with `value` as its `certificates` key; relation-changed runs.
fn answer(c: &Charm, value: &Value) {
    c.set_remote_app_key(&certs(), "certificates", value);
    c.ok(&c.relation_event(
        &certs(),
        RelationEventKind::Changed,
        Some(&format!("{PROVIDER}/0")),
    ));
}

/// Issues a certificate valid for a year for the published request.
fn issue(c: &Charm, ca: &TestCa) -> String {
    let csr = csr_of(c);
    let cert = ca.sign(&csr, now() - DAY, now() + 365 * DAY);
    answer(c, &ca.answer(&csr, &cert, json!({})));
    cert
}

fn stored_tls(c: &Charm) -> Value {
    let state = c.sim.juju.state();
    serde_json::from_str(&state.stored[TLS_STATE_KEY]).unwrap()
}

/// Every unit publishes one request, for its FQDN, named after the application, in its own
/// databag; the key stays in the unit state and the request is stable across hooks. Until the
/// certificate comes, Prometheus serves HTTP and the unit says it is waiting.
#[test]
fn every_unit_requests_a_certificate_for_its_fqdn() {
    for leader in [true, false] {
        let c = related(leader);
        c.deploy();
        let csr = csr_of(&c);
        let (_, der) = x509_parser::pem::parse_x509_pem(csr.as_bytes()).unwrap();
        let (_, req) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&der.contents)
                .unwrap();
        let subject = req.certification_request_info.subject.to_string();
        assert!(subject.contains("CN=prometheus-rs-k8s"), "{subject}");
        // 2.5.4.45, x500UniqueIdentifier: a random UUID, as the library sets it.
        assert!(subject.contains("uniqueIdentifier="), "{subject}");
        let sans: Vec<String> = req
            .requested_extensions()
            .unwrap()
            .filter_map(|e| match e {
                x509_parser::extensions::ParsedExtension::SubjectAlternativeName(s) => Some(
                    s.general_names
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(sans, [format!("DNSName({})", fqdn(&c))]);
        assert!(c.local_app_data(&certs()).is_empty(), "leader={leader}");
        let stored = stored_tls(&c);
        assert!(stored["private_key"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(stored["csr"], csr);

        let status = c.status();
        assert_eq!(status.kind, StatusKind::Active);
        assert_eq!(
            status.message,
            format!("certificates:{CERTS} ({PROVIDER}): waiting for the certificate; serving HTTP meanwhile")
        );
        assert!(!command(&c).contains("--web.config.file"));
        assert_eq!(c.file(WEB_CONFIG_FILE), None);

        // Later hooks keep the same key and request: nothing to write.
        c.reset_records();
        c.ok(&Event::ConfigChanged);
        c.ok(&Event::UpdateStatus);
        assert_eq!(csr_of(&c), csr);
        assert_eq!(c.sim.juju.calls("relation-set"), 0);
        assert_eq!(c.sim.juju.calls("state-set"), 0);
    }
}

/// The certificate arrives: certificate, key, CA and web config are pushed, Prometheus is
/// restarted once with `--web.config.file` (its command changed), the self-scrape goes over
/// https trusting the CA, and every URL the unit publishes says https.
#[test]
fn an_issued_certificate_makes_prometheus_serve_https() {
    let c = related(true);
    c.deploy();
    let ca = TestCa::new("test-ca");
    let before = c.counters();
    let cert = issue(&c, &ca);
    c.assert_active();

    assert_eq!(c.file(SERVER_CERT_FILE).unwrap(), cert);
    assert_eq!(
        c.file(SERVER_KEY_FILE).unwrap(),
        stored_tls(&c)["private_key"].as_str().unwrap()
    );
    assert_eq!(c.file(SERVER_CA_FILE).unwrap(), ca.pem);
    assert_eq!(
        c.file(WEB_CONFIG_FILE).unwrap(),
        "tls_server_config:\n  cert_file: /etc/prometheus/server.cert\n  key_file: /etc/prometheus/server.key\n"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| {
        std::fs::metadata(c.sim.pebble.host_path(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(SERVER_KEY_FILE), 0o600);
    assert_eq!(mode(SERVER_CERT_FILE), 0o644);

    assert!(
        command(&c).ends_with(" --web.config.file=/etc/prometheus/prometheus-web-config.yml"),
        "{}",
        command(&c)
    );
    let after = c.counters();
    assert_eq!(after.prometheus_restarts, before.prometheus_restarts + 1);
    assert_eq!(after.reloads, before.reloads, "restarted, not reloaded");

    let config = c.config_value();
    let own = &config["scrape_configs"][0];
    assert_eq!(own["job_name"].as_str(), Some("prometheus"));
    assert_eq!(own["scheme"].as_str(), Some("https"));
    assert_eq!(own["tls_config"]["ca_file"].as_str(), Some(SERVER_CA_FILE));
    assert_eq!(
        own["static_configs"][0]["targets"][0].as_str(),
        Some(format!("{}:9090", fqdn(&c)).as_str())
    );

    // The ready check speaks TLS (Prometheus 2.42 here: a TCP check of the port).
    let check = &c.sim.pebble.plan().checks["prometheus-ready"];
    assert!(check.http.is_none());
    assert_eq!(check.tcp.as_ref().map(|t| t.port), Some(9090));

    let https = format!("https://{}:9090", fqdn(&c));
    assert_eq!(
        unit_data(&c, &RelationId::new("grafana-source", 3))["grafana_source_host"],
        https
    );
    assert_eq!(
        c.local_app_data(&RelationId::new("prometheus-api", 9))["direct_url"],
        format!("{https}/")
    );
    assert_eq!(
        unit_data(&c, &RelationId::new("ingress", 7))["scheme"],
        "https"
    );
    let scraper = RelationId::new("self-metrics-endpoint", 5);
    let jobs: Value = serde_json::from_str(&c.local_app_data(&scraper)["scrape_jobs"]).unwrap();
    assert_eq!(jobs[0]["scheme"], "https");
    assert_eq!(jobs[0]["tls_config"]["ca_file"], ca.pem.as_str());
    assert_eq!(jobs[0]["static_configs"], json!([{"targets": ["*:9090"]}]));

    // A later hook changes nothing.
    let counters = c.counters();
    c.reset_records();
    c.ok(&Event::ConfigChanged);
    assert_eq!(c.counters(), counters);
    assert_eq!(c.sim.juju.calls("relation-set"), 0);
}

/// A renewed certificate for the same request replaces the file, without a restart or a
/// reload (Prometheus reads the files on every handshake).
#[test]
fn renewal_replaces_the_certificate_without_a_restart() {
    let c = related(true);
    c.deploy();
    let ca = TestCa::new("test-ca");
    let first = issue(&c, &ca);
    let before = c.counters();
    let csr = csr_of(&c);
    let renewed = ca.sign(&csr, now() - DAY, now() + 2 * 365 * DAY);
    assert_ne!(renewed, first);
    answer(&c, &ca.answer(&csr, &renewed, json!({})));
    c.assert_active();
    assert_eq!(c.file(SERVER_CERT_FILE).unwrap(), renewed);
    assert_eq!(c.counters(), before, "no restart, no reload");
    assert_eq!(csr_of(&c), csr, "same request");
}

/// A certificate in the last tenth of its validity: the unit asks for a new one (same key)
/// and keeps serving the current one meanwhile.
#[test]
fn a_certificate_near_its_end_is_renewed_with_a_new_request() {
    let c = related(true);
    c.deploy();
    let ca = TestCa::new("test-ca");
    let csr = csr_of(&c);
    let key = stored_tls(&c)["private_key"].clone();
    let ending = ca.sign(&csr, now() - 95 * DAY, now() + 5 * DAY);
    answer(&c, &ca.answer(&csr, &ending, json!({})));
    c.assert_active();
    assert_eq!(c.file(SERVER_CERT_FILE).unwrap(), ending);
    let renewal = csr_of(&c);
    assert_ne!(renewal, csr, "a new request");
    assert_eq!(stored_tls(&c)["private_key"], key, "for the same key");
    // The new certificate arrives for the new request.
    let next = ca.sign(&renewal, now() - DAY, now() + 365 * DAY);
    answer(&c, &ca.answer(&renewal, &next, json!({})));
    assert_eq!(c.file(SERVER_CERT_FILE).unwrap(), next);
    c.assert_active();
}

/// Revoked: a new key and request; expired: a new request. Prometheus keeps serving what it
/// has until the replacement arrives.
#[test]
fn revoked_or_expired_certificates_are_requested_again() {
    for how in ["revoked", "expired"] {
        let c = related(true);
        c.deploy();
        let ca = TestCa::new("test-ca");
        let cert = issue(&c, &ca);
        let csr = csr_of(&c);
        let key = stored_tls(&c)["private_key"].clone();
        let restarts = c.counters().prometheus_restarts;
        match how {
            "revoked" => answer(&c, &ca.answer(&csr, &cert, json!({"revoked": true}))),
            _ => {
                let old = ca.sign(&csr, now() - 30 * DAY, now() - DAY);
                answer(&c, &ca.answer(&csr, &old, json!({})));
            }
        }
        assert_ne!(csr_of(&c), csr, "{how}: a new request");
        let same_key = stored_tls(&c)["private_key"] == key;
        assert_eq!(same_key, how == "expired", "{how}: key");
        assert_eq!(c.file(SERVER_CERT_FILE).unwrap(), cert, "{how}");
        assert_eq!(c.counters().prometheus_restarts, restarts, "{how}");
        let status = c.status();
        assert_eq!(status.kind, StatusKind::Active, "{how}: {status:?}");
        // The replacement, for the new request and key.
        let new_csr = csr_of(&c);
        let next = ca.sign(&new_csr, now() - DAY, now() + 365 * DAY);
        answer(&c, &ca.answer(&new_csr, &next, json!({})));
        assert_eq!(c.file(SERVER_CERT_FILE).unwrap(), next, "{how}");
        assert_eq!(
            c.file(SERVER_KEY_FILE).unwrap(),
            stored_tls(&c)["private_key"].as_str().unwrap()
        );
        c.assert_active();
    }
}

/// Unusable answers name the relation and what is wrong; Prometheus keeps serving the last
/// good certificate (nothing pushed, nothing restarted), and the rest of the unit works on.
#[test]
fn bad_certificate_data_keeps_the_last_good_certificate() {
    let c = related(true);
    c.deploy();
    let ca = TestCa::new("test-ca");
    let good = issue(&c, &ca);
    let csr = csr_of(&c);
    let stranger = TestCa::new("stranger");
    let (foreign, _) = stranger.server(&["elsewhere"]);
    for (what, value, needle) in [
        ("not JSON", json!("not json"), "not a JSON list"),
        ("an object", json!({"a": 1}), "not a JSON list"),
        (
            "another key's certificate",
            ca.answer(&csr, &foreign, json!({})),
            "not for this unit's key",
        ),
        (
            "garbage PEM",
            ca.answer(
                &csr,
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                json!({}),
            ),
            "`certificate` is not a PEM certificate",
        ),
        (
            "a CA that is not a certificate",
            ca.answer(&csr, &good, json!({"ca": "junk"})),
            "`ca` is not a PEM certificate",
        ),
    ] {
        let before = c.counters();
        match &value {
            Value::String(s) => {
                let mut state = c.sim.juju.state();
                let data = RelationData::from([("certificates".to_owned(), s.clone())]);
                state.set_remote_app_data(&certs(), &data);
                drop(state);
                c.ok(&c.relation_event(
                    &certs(),
                    RelationEventKind::Changed,
                    Some(&format!("{PROVIDER}/0")),
                ));
            }
            _ => answer(&c, &value),
        }
        let status = c.status();
        assert_eq!(status.kind, StatusKind::Blocked, "{what}: {status:?}");
        assert!(
            status
                .message
                .starts_with(&format!("certificates:{CERTS} ({PROVIDER}): ")),
            "{what}: {}",
            status.message
        );
        assert!(
            status.message.contains(needle),
            "{what}: {}",
            status.message
        );
        assert!(
            status
                .message
                .ends_with("serving the last good certificate"),
            "{what}: {}",
            status.message
        );
        assert_eq!(c.file(SERVER_CERT_FILE).unwrap(), good, "{what}");
        assert_eq!(c.counters(), before, "{what}");
        assert_eq!(csr_of(&c), csr, "{what}: the request stands");
    }
    answer(&c, &ca.answer(&csr, &good, json!({})));
    c.assert_active();
}

/// The relation goes away: HTTPS is off again (the files go, the flag goes: one restart), the
/// published URLs are http again, and the TLS material is dropped from the unit state.
#[test]
fn removing_the_relation_turns_https_off() {
    let c = related(true);
    c.deploy();
    let ca = TestCa::new("test-ca");
    issue(&c, &ca);
    let restarts = c.counters().prometheus_restarts;
    c.sim.juju.state().remove_relation(&certs());
    c.ok(&c.relation_event(&certs(), RelationEventKind::Broken, None));
    c.assert_active();
    for path in [
        SERVER_CERT_FILE,
        SERVER_KEY_FILE,
        SERVER_CA_FILE,
        WEB_CONFIG_FILE,
    ] {
        assert_eq!(c.file(path), None, "{path}");
    }
    assert!(!command(&c).contains("--web.config.file"));
    assert_eq!(c.counters().prometheus_restarts, restarts + 1);
    assert!(c.config_value()["scrape_configs"][0]["tls_config"].is_null());
    assert!(
        unit_data(&c, &RelationId::new("grafana-source", 3))["grafana_source_host"]
            .starts_with("http://")
    );
    assert_eq!(
        c.sim
            .juju
            .state()
            .stored
            .get(TLS_STATE_KEY)
            .map(String::as_str),
        Some("")
    );
}

/// Fixture file of `certificate_transfer`.
fn transfer_fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/certificate_transfer")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `receive-ca-cert`: the leader writes `version` 1 (as the library), the CAs the real provider
/// sent become one bundle, given to https relation jobs without a CA of their own (a reload,
/// not a restart); http jobs and jobs with their own CA are untouched. A bad entry is reported
/// and the good CAs are still used.
#[test]
fn received_cas_are_trusted_by_https_relation_jobs() {
    let mut state = charm_model_state().unwrap();
    state.set_leader(true);
    let rel = state.add_relation_with_id("receive-ca-cert", "ca-sender", CAS);
    state.add_remote_unit(&rel, "ca-sender/0");
    let jobs = json!([
        {"job_name": "secure", "scheme": "https", "static_configs": [{"targets": ["10.1.0.5:9100"]}]},
        {"job_name": "own-ca", "scheme": "https", "tls_config": {"ca_file": "/etc/ssl/theirs.pem"},
         "static_configs": [{"targets": ["10.1.0.6:9100"]}]},
        {"job_name": "plain", "static_configs": [{"targets": ["10.1.0.7:9100"]}]},
    ]);
    add_scrape_app(&mut state, "exporters", 20, jobs, None);
    let c = Charm::with_state(state);
    c.deploy();
    let writes = transfer_fixture("prometheus-writes.json");
    assert_eq!(
        serde_json::to_value(c.local_app_data(&cas_rel())).unwrap(),
        writes["final"]["app"]
    );
    assert!(
        unit_data(&c, &cas_rel())
            .keys()
            .all(|k| k.ends_with("-address") || k == "egress-subnets"),
        "the unit writes nothing"
    );
    let before = c.counters();

    let sent = transfer_fixture("remote-app.json");
    let data: RelationData = sent
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    c.sim.juju.state().set_remote_app_data(&cas_rel(), &data);
    c.ok(&c.relation_event(&cas_rel(), RelationEventKind::Changed, Some("ca-sender/0")));
    c.assert_active();
    let bundle = c.file("/etc/prometheus/receive-ca-cert.pem").unwrap();
    let list: Vec<String> = serde_json::from_str(&data["certificates"]).unwrap();
    for pem in &list {
        assert!(bundle.contains(pem.trim()), "every CA is in the bundle");
    }
    let after = c.counters();
    assert_eq!(after.reloads, before.reloads + 1, "reloaded");
    assert_eq!(after.prometheus_restarts, before.prometheus_restarts);

    let config = c.config_value();
    let job = |name: &str| {
        config["scrape_configs"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|j| j["job_name"].as_str().is_some_and(|n| n.ends_with(name)))
            .unwrap()
            .clone()
    };
    assert_eq!(
        job("secure")["tls_config"]["ca_file"].as_str(),
        Some("receive-ca-cert.pem")
    );
    assert_eq!(
        job("own-ca")["tls_config"]["ca_file"].as_str(),
        Some("/etc/ssl/theirs.pem")
    );
    assert!(job("plain")["tls_config"].is_null());

    // One bad entry: named, the good CAs kept.
    let mut bad = list.clone();
    bad.push("not a certificate".into());
    c.set_remote_app_key(&cas_rel(), "certificates", &json!(bad));
    c.ok(&c.relation_event(&cas_rel(), RelationEventKind::Changed, Some("ca-sender/0")));
    let status = c.status();
    assert_eq!(status.kind, StatusKind::Blocked);
    assert!(
        status.message.starts_with(&format!(
            "receive-ca-cert:{CAS} (ca-sender): `certificates[2]`"
        )),
        "{}",
        status.message
    );
    assert_eq!(
        c.file("/etc/prometheus/receive-ca-cert.pem").unwrap(),
        bundle
    );

    // Gone: the bundle and the jobs' ca_file go with it.
    c.sim.juju.state().remove_relation(&cas_rel());
    c.ok(&c.relation_event(&cas_rel(), RelationEventKind::Broken, None));
    c.assert_active();
    assert_eq!(c.file("/etc/prometheus/receive-ca-cert.pem"), None);
    assert!(c.config_value()["scrape_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .all(|j| j["tls_config"]["ca_file"].as_str() != Some("receive-ca-cert.pem")));
}

/// A unit with neither relation makes no TLS call: no state written, no key made.
#[test]
fn without_the_relations_tls_costs_nothing() {
    let c = Charm::leader();
    c.deploy();
    assert!(!c.sim.juju.state().stored.contains_key(TLS_STATE_KEY));
    c.reset_records();
    c.ok(&Event::ConfigChanged);
    assert_eq!(c.sim.juju.calls("state-set"), 0);
    assert_eq!(c.sim.juju.calls("relation-set"), 0);
}

/// `render` of a model with both relations, with the data captured from prometheus-k8s and the
/// real provider libraries (the shared scrape fixture is unit `prometheus-k8s/0` of model
/// `cos`, the names the TLS fixture's certificate was issued for) and the unit's TLS material
/// in the snapshot's `tls` field: the files (not the key), the layer, the relation data and
/// `--explain` show HTTPS and the trusted CAs.
#[test]
fn render_shows_https_and_the_trusted_cas() {
    let fixture = |path: &str| -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(path),
        )
        .unwrap()
    };
    let mut value: Value =
        serde_json::from_str(&std::fs::read_to_string(crate::common::TWO_APPS_FIXTURE).unwrap())
            .unwrap();
    let remote: Value = serde_json::from_str(&fixture("tls_certificates/remote-app.json")).unwrap();
    let transfer: Value =
        serde_json::from_str(&fixture("certificate_transfer/remote-app.json")).unwrap();
    value["relations"].as_array_mut().unwrap().extend([
        json!({"endpoint": "certificates", "id": 41, "app": PROVIDER, "app_data": remote,
               "units": [{"name": format!("{PROVIDER}/0"), "data": {}}]}),
        json!({"endpoint": "receive-ca-cert", "id": 42, "app": "ca-sender", "app_data": transfer,
               "units": [{"name": "ca-sender/0", "data": {}}]}),
    ]);
    let key = fixture("tls_certificates/pem/prometheus-k8s-0.key");
    value["tls"] = json!({
        "private_key": key,
        "csr": fixture("tls_certificates/pem/prometheus-k8s-0.csr"),
        "served": {
            "certificate": fixture("tls_certificates/pem/prometheus-k8s-0.crt"),
            "ca": fixture("tls_certificates/pem/ca.crt"),
            "private_key": key,
            "not_after": 2_082_585_600_i64,
        },
    });
    let snapshot: prometheus_rs_k8s::core::model::ModelSnapshot =
        serde_json::from_value(value).unwrap();
    let out = prometheus_rs_k8s::cli::render::render_snapshot(&snapshot).unwrap();
    assert_eq!(out.status, juju_hook::Status::active(""));
    assert!(
        !out.files.contains_key(SERVER_KEY_FILE),
        "the key is not shown"
    );
    assert!(out.files.values().all(|f| !f.contains("PRIVATE KEY")));
    assert_eq!(
        out.files[SERVER_CERT_FILE],
        fixture("tls_certificates/pem/prometheus-k8s-0.crt")
    );
    let writes = &out.relation_data["certificates:41"];
    assert!(writes.unit["certificate_signing_requests"].contains("BEGIN CERTIFICATE REQUEST"));
    assert_eq!(out.relation_data["receive-ca-cert:42"].app["version"], "1");
    let explain = prometheus_rs_k8s::cli::render::explain_text(&out.explain);
    let shown: Vec<String> = out
        .files
        .iter()
        .filter(|(p, _)| !p.ends_with(".rules"))
        .map(|(p, c)| {
            // PEM bodies are long and say nothing: their first line stands for them.
            let c = if c.starts_with("-----BEGIN") {
                format!("{} ... ({} bytes)\n", c.lines().next().unwrap(), c.len())
            } else {
                c.clone()
            };
            format!("# ---- {p}\n{c}")
        })
        .collect();
    let grafana = &out.relation_data["grafana-source:20"].unit;
    insta::assert_snapshot!(
        "render_tls",
        format!(
            "{}# ---- plan\n{}# ---- grafana-source:20 unit\n{grafana:#?}\n# ---- explain\n{explain}",
            shown.join(""),
            out.layer_yaml
        )
    );
}

/// The web configuration the charm pushes is accepted by `promtool check web-config` of both
/// majors (2.42 and 3.14), with a certificate and key made here at its paths.
#[test]
fn the_web_config_passes_promtool_check_web_config_of_both_majors() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("test-ca");
    let (cert, key) = ca.server(&["prometheus.example"]);
    let cert_path = dir.path().join("server.cert");
    let key_path = dir.path().join("server.key");
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    let config = prometheus_rs_k8s::core::tls::web_config()
        .replace(SERVER_CERT_FILE, &cert_path.display().to_string())
        .replace(SERVER_KEY_FILE, &key_path.display().to_string());
    assert_ne!(config, prometheus_rs_k8s::core::tls::web_config());
    let file = dir.path().join("web.yml");
    std::fs::write(&file, &config).unwrap();
    for version in ["2.42.0", "3.14.0"] {
        let out = std::process::Command::new(crate::common::promtool_for(version))
            .args(["check", "web-config"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {version}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Debian's Prometheus 2.42 and Prometheus 3.14 started with the web configuration the charm
/// renders (paths moved to a temporary directory) serve HTTPS: the charm's client, trusting
/// only the test's CA and checking the certificate names the unit, gets `/-/ready` and the
/// reload through; plain HTTP is refused; a client trusting another CA is refused.
#[test]
fn prometheus_2_and_3_serve_https_and_reload_over_it() {
    use prometheus_rs_k8s::core::desired_workload::WebTls;
    use prometheus_rs_k8s::effects::tls_client;
    use std::time::{Duration, Instant};
    if !crate::common::have_prometheus() {
        return;
    }
    let binaries = [
        std::path::PathBuf::from("/usr/bin/prometheus"),
        charm_harness::real_systems::require(charm_harness::real_systems::prometheus3()),
    ];
    let name = "prometheus-rs-k8s-0.prometheus-rs-k8s-endpoints.lab.svc.cluster.local";
    let ca = TestCa::new("test-ca");
    let (cert, key) = ca.server(&[name]);
    for binary in binaries {
        let dir = tempfile::tempdir().unwrap();
        let path = |f: &str| dir.path().join(f).display().to_string();
        std::fs::write(path("server.cert"), &cert).unwrap();
        std::fs::write(path("server.key"), &key).unwrap();
        std::fs::write(
            path("web.yml"),
            prometheus_rs_k8s::core::tls::web_config()
                .replace(SERVER_CERT_FILE, &path("server.cert"))
                .replace(SERVER_KEY_FILE, &path("server.key")),
        )
        .unwrap();
        std::fs::write(path("prometheus.yml"), "global:\n  scrape_interval: 1m\n").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = std::process::Command::new(&binary)
            .arg(format!("--config.file={}", path("prometheus.yml")))
            .arg(format!("--storage.tsdb.path={}", path("data")))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-lifecycle")
            .arg(format!("--web.config.file={}", path("web.yml")))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let tls = WebTls {
            ca: ca.pem.clone(),
            server_name: name.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let ready = loop {
            match tls_client::request(&base, &tls, "GET", "/-/ready", Duration::from_secs(5)) {
                Ok(a) if a.status == 200 => break a,
                _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
                other => panic!("{}: not serving HTTPS: {other:?}", binary.display()),
            }
        };
        assert_eq!(ready.status, 200);
        tls_client::reload_prometheus_tls(&base, &tls, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("{}: reload over https: {e}", binary.display()));
        let other = WebTls {
            ca: TestCa::new("stranger").pem,
            server_name: name.to_owned(),
        };
        assert!(matches!(
            tls_client::request(&base, &other, "GET", "/-/ready", Duration::from_secs(5)),
            Err(tls_client::HttpsError::Tls(_))
        ));
        let wrong_name = WebTls {
            ca: ca.pem.clone(),
            server_name: "other.example".to_owned(),
        };
        assert!(matches!(
            tls_client::request(
                &base,
                &wrong_name,
                "GET",
                "/-/ready",
                Duration::from_secs(5)
            ),
            Err(tls_client::HttpsError::Tls(_))
        ));
        let mut plain = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        use std::io::{Read, Write};
        plain
            .write_all(b"GET /-/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        let _ = plain.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.0 400"), "{answer}");
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// TLS with an http ingress route, as in the captured combined fixture: the request asks
/// Traefik for `scheme: https`, the direct URL is the unit's https one while the external URL
/// stays Traefik's, and the self-metrics job follows the URL scrapers use (Traefik's).
#[test]
fn tls_with_an_ingress_route_keeps_the_route_and_asks_for_https_upstream() {
    let c = related(true);
    c.deploy();
    let ca = TestCa::new("test-ca");
    issue(&c, &ca);
    let unit = c.sim.juju.state().unit_name();
    let traefik = "http://10.0.0.100/cos-prometheus-rs-k8s-0";
    let mut state = c.sim.juju.state();
    let data = RelationData::from([("ingress".to_owned(), format!("{unit}:\n  url: {traefik}\n"))]);
    state.set_remote_app_data(&RelationId::new("ingress", 7), &data);
    drop(state);
    c.ok(&c.relation_event(
        &RelationId::new("ingress", 7),
        RelationEventKind::Changed,
        Some("traefik/0"),
    ));
    c.assert_active();
    assert!(command(&c).contains(&format!("--web.external-url={traefik} ")));
    assert!(command(&c).ends_with("--web.config.file=/etc/prometheus/prometheus-web-config.yml"));
    assert_eq!(
        unit_data(&c, &RelationId::new("ingress", 7))["scheme"],
        "https"
    );
    let api = c.local_app_data(&RelationId::new("prometheus-api", 9));
    assert_eq!(api["direct_url"], format!("https://{}:9090/", fqdn(&c)));
    assert_eq!(api["ingress_url"], traefik);
    let scraper = RelationId::new("self-metrics-endpoint", 5);
    let jobs: Value = serde_json::from_str(&c.local_app_data(&scraper)["scrape_jobs"]).unwrap();
    assert_eq!(jobs[0]["static_configs"], json!([{"targets": ["*:80"]}]));
    assert!(jobs[0].get("tls_config").is_none());
    // Prometheus scrapes itself at its own address, over TLS.
    assert_eq!(
        c.config_value()["scrape_configs"][0]["scheme"].as_str(),
        Some("https")
    );
}

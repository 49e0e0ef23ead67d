//! TLS: Prometheus serving HTTPS with a certificate from the `certificates` relation
//! (`tls-certificates` v4), and CAs from `receive-ca-cert` (`certificate_transfer`) trusted by
//! https scrape jobs.
//!
//! The unit's private key, its certificate request and the certificate Prometheus serves are
//! kept in the unit state (one JSON value under [`TLS_STATE_KEY`]), read and brought up to date
//! by [`prepare`] at the start of a hook and put in the model snapshot, so the desired state
//! stays a pure function of the snapshot (and `render` can show it). The Python library keeps
//! the key in a unit-owned Juju secret instead; see INTEGRATION.md.
//!
//! What is served is the last good certificate: a new one replaces it only once it passed every
//! check (issued for this unit's key, valid now, not revoked), so bad or missing provider data
//! never takes HTTPS away; the unit says what is wrong meanwhile.

use std::collections::BTreeMap;

use bytes::Bytes;
use charm_interfaces::certificate_transfer;
use charm_interfaces::tls_certificates::{self, TlsError};
use charm_interfaces::Databag;
use juju_hook::RelationId;
use pebble::{Check, CheckLevel, ExecCheck, Layer, Override, Startup, TcpCheck};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::core::desired::RelationProblem;
use crate::core::desired_workload::{DesiredFile, FileContent, FileRole};
use crate::core::endpoints::{CERTIFICATES, RECEIVE_CA_CERT};
use crate::core::model::ModelSnapshot;
use crate::core::version::PrometheusVersion;
use crate::core::workload::{PROMETHEUS_PORT, PROMETHEUS_SERVICE, PROMTOOL_BINARY};

/// Unit-state key holding [`UnitTls`] as JSON (`""` once the relation is gone).
pub const TLS_STATE_KEY: &str = "tls-certificates";
/// The server certificate (the leaf), where prometheus-k8s puts it.
pub const SERVER_CERT_FILE: &str = "/etc/prometheus/server.cert";
/// The server's private key.
pub const SERVER_KEY_FILE: &str = "/etc/prometheus/server.key";
/// The CA that signed the server certificate (trusted by the self-scrape and the ready check).
/// prometheus-k8s puts it in `/usr/local/share/ca-certificates/` for `update-ca-certificates`;
/// this charm does not change the image's trust store, so it stays with Prometheus' files.
pub const SERVER_CA_FILE: &str = "/etc/prometheus/ca.crt";
/// Prometheus' web configuration (`--web.config.file`).
pub const WEB_CONFIG_FILE: &str = "/etc/prometheus/prometheus-web-config.yml";
/// HTTP client configuration of the ready check (`promtool check ready`) under TLS.
pub const READY_CHECK_HTTP_CONFIG: &str = "/etc/prometheus-rs-k8s/ready-check-http.yml";
/// The CAs received on `receive-ca-cert`, one bundle, relative to prometheus.yml's directory
/// (so the staged copy validates the same way).
pub const TRUSTED_CAS_FILE: &str = "receive-ca-cert.pem";
/// Name of the Prometheus ready check (the layer's).
const READY_CHECK: &str = crate::core::layer::PROMETHEUS_READY_CHECK;

/// This unit's TLS material, as kept in the unit state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitTls {
    /// PEM private key the current request was made with.
    pub private_key: String,
    /// The request published on `certificates` (PEM CSR).
    pub csr: String,
    /// The certificate Prometheus serves (the last good one), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served: Option<ServedCertificate>,
    /// What is wrong with the provider's answer in this hook (not kept in the unit state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A certificate in use, with the key it was issued for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServedCertificate {
    /// Leaf certificate (PEM).
    pub certificate: String,
    /// The signing CA (PEM).
    pub ca: String,
    /// The private key (PEM).
    pub private_key: String,
    /// End of validity, seconds since the epoch.
    pub not_after: i64,
}

/// Reads this unit's TLS material from the unit state and brings it up to date with the
/// `certificates` relation at time `now`, putting the result in `snapshot.tls`; unit-state
/// changes go to `state_writes`. Without the relation nothing is read or made (no cost), and
/// material left from an earlier relation is dropped.
///
/// - No key yet (or an unreadable one): a new key and request.
/// - The request does not name this unit's FQDN any more: a new request for the same key.
/// - The provider issued a certificate for the request that passes every check: it becomes the
///   served one; in the last tenth of its validity a new request is made (renewal).
/// - Expired: a new request; revoked: a new key and request. The served certificate stays
///   until a new one arrives.
/// - Anything else wrong: reported (Blocked), the served certificate stays.
pub fn prepare(
    snapshot: &mut ModelSnapshot,
    unit_state: &BTreeMap<String, String>,
    state_writes: &mut BTreeMap<String, String>,
    now: i64,
) {
    let stored = unit_state.get(TLS_STATE_KEY).filter(|s| !s.is_empty());
    let Some(rel) = snapshot.relations_on(CERTIFICATES.name).next() else {
        if stored.is_some() {
            info!("the certificates relation is gone: HTTPS off, TLS material dropped");
            state_writes.insert(TLS_STATE_KEY.to_owned(), String::new());
        }
        snapshot.tls = None;
        return;
    };
    let names = vec![snapshot.fqdn.clone()];
    let common_name = snapshot.app_name.clone();
    let mut tls = match stored.map(|s| serde_json::from_str::<UnitTls>(s)) {
        Some(Ok(tls)) => tls,
        other => {
            if let Some(Err(e)) = other {
                warn!("the stored TLS material is unreadable ({e}): making a new key");
            }
            match tls_certificates::generate(&common_name, &names) {
                Ok(made) => UnitTls {
                    private_key: made.private_key,
                    csr: made.csr,
                    served: None,
                    problem: None,
                },
                Err(e) => {
                    warn!("cannot make a certificate request: {e}");
                    snapshot.tls = None;
                    return;
                }
            }
        }
    };
    let rerequest = |tls: &mut UnitTls, new_key: bool| {
        let key = if new_key {
            tls_certificates::generate_private_key()
        } else {
            Ok(tls.private_key.clone())
        };
        match key.and_then(|key| {
            tls_certificates::certificate_request(&key, &common_name, &names).map(|c| (key, c))
        }) {
            Ok((key, csr)) => {
                tls.private_key = key;
                tls.csr = csr;
            }
            Err(e) => warn!("cannot make a new certificate request: {e}"),
        }
    };
    if tls_certificates::request_dns_names(&tls.csr).ok().as_ref() != Some(&names) {
        info!(
            "the certificate request does not name {}: a new one",
            names[0]
        );
        rerequest(&mut tls, false);
    }
    tls.problem = None;
    match tls_certificates::issued_for(&rel.app_data, &tls.csr, now) {
        Ok(Some(issued)) => {
            tls.served = Some(ServedCertificate {
                certificate: issued.certificate.clone(),
                ca: issued.ca.clone(),
                private_key: tls.private_key.clone(),
                not_after: issued.not_after,
            });
            if issued.renewal_due(now) {
                info!("the certificate is in its last tenth of validity: requesting a new one");
                rerequest(&mut tls, false);
            }
        }
        Ok(None) => {}
        Err(TlsError::Revoked) => {
            warn!("the provider revoked the certificate: new key and request");
            rerequest(&mut tls, true);
        }
        Err(e @ TlsError::Expired { .. }) => {
            warn!("{e}: requesting a new one");
            rerequest(&mut tls, false);
        }
        Err(e) => tls.problem = Some(e.to_string()),
    }
    let mut kept = tls.clone();
    kept.problem = None;
    let json = serde_json::to_string(&kept).expect("TLS material serialises");
    if stored != Some(&json) {
        state_writes.insert(TLS_STATE_KEY.to_owned(), json);
    }
    snapshot.tls = Some(tls);
}

/// What TLS adds to the desired state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsDesired {
    /// Files to have in the workload.
    pub files: Vec<DesiredFile>,
    /// The served certificate's CA, when Prometheus serves HTTPS.
    pub server_ca: Option<String>,
    /// Unit databag to write on `certificates` (the request).
    pub request: Option<(RelationId, Databag)>,
    /// Problems of the two relations.
    pub problems: Vec<RelationProblem>,
    /// What an Active unit says (a certificate requested, not issued yet).
    pub notice: Option<String>,
    /// Relative path of the received CA bundle, when there is one.
    pub trusted_cas: Option<&'static str>,
    /// What `render --explain` says about TLS.
    pub notes: Vec<String>,
}

/// The TLS part of the desired state for `snapshot`.
pub fn desired(snapshot: &ModelSnapshot) -> TlsDesired {
    let mut out = TlsDesired::default();
    if let (Some(rel), Some(tls)) = (
        snapshot.relations_on(CERTIFICATES.name).next(),
        &snapshot.tls,
    ) {
        out.request = Some((
            rel.relation_id(),
            tls_certificates::requirer_unit_data(&tls.csr),
        ));
        if let Some(problem) = &tls.problem {
            out.problems.push(RelationProblem {
                relation: rel.relation_id(),
                app: rel.app.clone(),
                message: match &tls.served {
                    Some(_) => format!("{problem}; serving the last good certificate"),
                    None => format!("{problem}; serving HTTP"),
                },
            });
        }
        match &tls.served {
            Some(served) => {
                out.notes.push(format!(
                    "HTTPS: serving the certificate from {} ({}), valid until {} \
                     (--web.config.file={WEB_CONFIG_FILE})",
                    rel.relation_id(),
                    rel.app,
                    humantime::format_rfc3339_seconds(
                        std::time::UNIX_EPOCH
                            + std::time::Duration::from_secs(served.not_after.max(0) as u64)
                    )
                ));
                out.server_ca = Some(served.ca.clone());
                out.files.extend(server_files(served));
            }
            None if tls.problem.is_none() => {
                out.notice = Some(format!(
                    "{} ({}): waiting for the certificate; serving HTTP meanwhile",
                    rel.relation_id(),
                    rel.app
                ));
            }
            None => {}
        }
    }
    let mut bundle = std::collections::BTreeSet::new();
    for rel in snapshot.relations_on(RECEIVE_CA_CERT.name) {
        let units: Vec<(&str, &Databag)> = rel
            .units
            .iter()
            .map(|u| (u.name.as_str(), &u.data))
            .collect();
        let found = certificate_transfer::cas(&rel.app_data, &units);
        bundle.extend(found.certificates);
        out.problems
            .extend(found.problems.into_iter().map(|message| RelationProblem {
                relation: rel.relation_id(),
                app: rel.app.clone(),
                message,
            }));
    }
    if !bundle.is_empty() {
        let count = bundle.len();
        let mut text = bundle.into_iter().collect::<Vec<_>>().join("\n");
        text.push('\n');
        out.files.push(DesiredFile::config(
            format!("{}/{TRUSTED_CAS_FILE}", crate::core::workload::CONFIG_DIR),
            text,
        ));
        out.trusted_cas = Some(TRUSTED_CAS_FILE);
        out.notes.push(format!(
            "receive-ca-cert: {count} CA certificate(s) in {TRUSTED_CAS_FILE}, trusted by https \
             relation jobs without a CA of their own"
        ));
    }
    out
}

/// Whether `render` prints a TLS file of the workload (all but the private key).
pub fn shown_by_render(path: &str) -> bool {
    [
        SERVER_CERT_FILE,
        SERVER_CA_FILE,
        WEB_CONFIG_FILE,
        READY_CHECK_HTTP_CONFIG,
    ]
    .contains(&path)
        || path == format!("{}/{TRUSTED_CAS_FILE}", crate::core::workload::CONFIG_DIR)
}

/// The leader's application databag on `receive-ca-cert`, as the library writes it.
pub fn receive_ca_cert_app_data() -> Databag {
    certificate_transfer::requirer_app_data()
}

fn tls_file(path: &str, content: &str, permissions: u32) -> DesiredFile {
    DesiredFile {
        path: path.to_owned(),
        content: FileContent::Bytes(Bytes::copy_from_slice(content.as_bytes())),
        permissions,
        role: FileRole::Tls,
    }
}

/// The certificate, key, CA and web configuration files (Prometheus reads the certificate and
/// key on every TLS handshake, so a renewal needs neither a restart nor a reload).
fn server_files(served: &ServedCertificate) -> Vec<DesiredFile> {
    vec![
        tls_file(SERVER_CERT_FILE, &served.certificate, 0o644),
        tls_file(SERVER_KEY_FILE, &served.private_key, 0o600),
        tls_file(SERVER_CA_FILE, &served.ca, 0o644),
        tls_file(WEB_CONFIG_FILE, &web_config(), 0o644),
    ]
}

/// Prometheus' web configuration: the same for 2.x and 3.x (`tls_server_config` with the
/// certificate and key files).
pub fn web_config() -> String {
    format!("tls_server_config:\n  cert_file: {SERVER_CERT_FILE}\n  key_file: {SERVER_KEY_FILE}\n")
}

/// The ready check's HTTP client configuration: trust the served certificate's CA and check
/// the certificate names the unit's FQDN (the check connects to localhost).
fn ready_check_http_config(fqdn: &str) -> String {
    format!("tls_config:\n  ca_file: {SERVER_CA_FILE}\n  server_name: {fqdn}\n")
}

/// Makes the layer serve HTTPS: `--web.config.file` on Prometheus' command line (a restart when
/// it first appears), and a ready check that speaks TLS. Pebble's http checks cannot be told
/// which CA to trust, so on Prometheus 3 the check runs `promtool check ready` over https with
/// the CA; promtool 2.x has no such command, so there it is a TCP check of the port. Returns the
/// extra file the check needs.
pub fn secure_layer(layer: &mut Layer, version: PrometheusVersion, fqdn: &str) -> Vec<DesiredFile> {
    if let Some(service) = layer.services.get_mut(PROMETHEUS_SERVICE) {
        if let Some(command) = &mut service.command {
            command.push_str(&format!(" --web.config.file={WEB_CONFIG_FILE}"));
        }
    }
    let mut files = Vec::new();
    if let Some(check) = layer.checks.get_mut(READY_CHECK) {
        let base = Check {
            r#override: Some(Override::Replace),
            level: Some(CheckLevel::Ready),
            startup: Some(Startup::Enabled),
            period: check.period.clone(),
            timeout: check.timeout.clone(),
            threshold: check.threshold,
            ..Check::default()
        };
        *check = if version.major >= 3 {
            files.push(tls_file(
                READY_CHECK_HTTP_CONFIG,
                &ready_check_http_config(fqdn),
                0o644,
            ));
            Check {
                exec: Some(ExecCheck {
                    command: format!(
                        "{PROMTOOL_BINARY} check ready --url=https://localhost:{PROMETHEUS_PORT} \
                         --http.config.file={READY_CHECK_HTTP_CONFIG}"
                    ),
                    ..ExecCheck::default()
                }),
                ..base
            }
        } else {
            Check {
                tcp: Some(TcpCheck {
                    port: PROMETHEUS_PORT,
                    host: Some("localhost".into()),
                }),
                ..base
            }
        };
    }
    files
}

/// Makes the self-scrape job scrape over https trusting `server_ca_file`, and gives every
/// https relation job without a CA of its own (`tls_config.ca` or `ca_file`) the received CA
/// bundle `trusted_cas`. Jobs are prometheus.yml `scrape_configs` entries; the self-scrape is
/// the one named `self_job`.
pub fn secure_jobs(
    jobs: &mut [serde_json::Value],
    self_job: &str,
    server_ca_file: Option<&str>,
    trusted_cas: Option<&str>,
) {
    for job in jobs.iter_mut() {
        let Some(map) = job.as_object_mut() else {
            continue;
        };
        let is_self = map.get("job_name").and_then(|n| n.as_str()) == Some(self_job);
        if is_self {
            if let Some(ca) = server_ca_file {
                map.insert("scheme".into(), "https".into());
                map.insert("tls_config".into(), serde_json::json!({ "ca_file": ca }));
            }
            continue;
        }
        let Some(bundle) = trusted_cas else { continue };
        if map.get("scheme").and_then(|s| s.as_str()) != Some("https") {
            continue;
        }
        let tls = map
            .entry("tls_config")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(tls) = tls.as_object_mut() {
            if !tls.contains_key("ca") && !tls.contains_key("ca_file") {
                tls.insert("ca_file".into(), bundle.into());
            }
        }
    }
}

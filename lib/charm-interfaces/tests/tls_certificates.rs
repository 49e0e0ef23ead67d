//! `tls-certificates` v4 (`certificates`) and `certificate_transfer` (`receive-ca-cert`): what
//! this charm writes compared byte for byte with what prometheus-k8s's library wrote, what the
//! real provider libraries wrote parsed back (both captured in `tests/fixtures/`), requests made
//! with rcgen signed by a CA the test makes, hostile answers, and property tests.

mod common;

use charm_interfaces::certificate_transfer::{self, cas};
use charm_interfaces::tls_certificates::{
    self, certificate_request, generate, issued_for, request_dns_names, requirer_unit_data, Issued,
    TlsError, CERTIFICATES_KEY,
};
use charm_interfaces::Databag;
use common::{json_bag, repo_fixture};
use proptest::prelude::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use serde_json::{json, Value};

const UNIT: &str = "prometheus-k8s/0";
const FQDN: &str = "prometheus-k8s-0.prometheus-k8s-endpoints.cos.svc.cluster.local";
/// 2026-06-01T00:00:00Z, inside the fixture certificate's validity (2026-01-01 .. 2035-12-30).
const JUNE_2026: i64 = 1_780_272_000;

fn tls_fixture(name: &str) -> Value {
    repo_fixture(&format!("tls_certificates/{name}"))
}

fn pem_file(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The CSR prometheus-k8s's library wrote (from its unit databag).
fn fixture_csr() -> String {
    let writes = tls_fixture("prometheus-writes.json");
    let list: Value = serde_json::from_str(
        writes["final"]["unit"][UNIT]["certificate_signing_requests"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    list[0]["certificate_signing_request"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_request_databag_is_byte_for_byte_what_the_library_writes() {
    let writes = tls_fixture("prometheus-writes.json");
    let expected = json_bag(&writes["final"]["unit"][UNIT]);
    assert_eq!(requirer_unit_data(&fixture_csr()), expected);
    // Written at relation-created, in the unit databag; the application databag stays empty.
    assert_eq!(json_bag(&writes["per_hook"][0]["unit"][UNIT]), expected);
    assert!(writes["final"]["app"].as_object().unwrap().is_empty());
}

#[test]
fn the_library_requests_the_unit_fqdn_only() {
    assert_eq!(request_dns_names(&fixture_csr()).unwrap(), [FQDN]);
}

#[test]
fn the_certificate_the_real_provider_issued_is_read_and_checked() {
    let app = json_bag(&tls_fixture("remote-app.json"));
    let issued = issued_for(&app, &fixture_csr(), JUNE_2026)
        .unwrap()
        .expect("issued");
    assert_eq!(
        issued.certificate.trim(),
        pem_file("tls_certificates/pem/prometheus-k8s-0.crt").trim()
    );
    assert_eq!(
        issued.ca.trim(),
        pem_file("tls_certificates/pem/ca.crt").trim()
    );
    assert_eq!(issued.chain.len(), 2);
    // 2026-01-01 .. 2035-12-30.
    assert_eq!(issued.not_before, 1_767_225_600);
    assert_eq!(issued.not_after, 2_082_585_600);
    assert!(!issued.renewal_due(JUNE_2026));
    assert!(issued.renewal_due(2_060_000_000));
    // A CSR of another unit finds nothing: not an error.
    let other = generate("prometheus-k8s", &["other".into()]).unwrap();
    assert_eq!(issued_for(&app, &other.csr, JUNE_2026).unwrap(), None);
    // No key, an empty key, an empty list: not issued yet.
    for raw in [None, Some(""), Some("[]")] {
        let bag: Databag = raw
            .map(|r| Databag::from([(CERTIFICATES_KEY.to_owned(), r.to_owned())]))
            .unwrap_or_default();
        assert_eq!(issued_for(&bag, &fixture_csr(), JUNE_2026).unwrap(), None);
    }
}

/// A CA made by the test, and a certificate it signs for a CSR.
struct TestCa {
    key: KeyPair,
    params: CertificateParams,
    pem: String,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa { key, params, pem }
    }

    /// Signs `csr`, valid from `from` to `until` (Unix seconds).
    fn sign(&self, csr: &str, from: i64, until: i64) -> String {
        let mut req = rcgen::CertificateSigningRequestParams::from_pem(csr).unwrap();
        req.params.not_before = time::OffsetDateTime::from_unix_timestamp(from).unwrap();
        req.params.not_after = time::OffsetDateTime::from_unix_timestamp(until).unwrap();
        let issuer = Issuer::from_params(&self.params, &self.key);
        req.signed_by(&issuer).unwrap().pem()
    }

    fn answer(&self, csr: &str, cert: &str, extra: Value) -> Databag {
        let mut entry = json!({
            "ca": self.pem,
            "certificate_signing_request": csr,
            "certificate": cert,
            "chain": [cert, self.pem],
        });
        for (k, v) in extra.as_object().unwrap() {
            entry[k] = v.clone();
        }
        Databag::from([(
            CERTIFICATES_KEY.to_owned(),
            Value::Array(vec![entry]).to_string(),
        )])
    }
}

const YEAR: i64 = 365 * 86_400;

#[test]
fn a_request_made_here_names_the_unit_and_a_test_ca_can_sign_it() {
    let sans = vec![FQDN.to_owned()];
    let made = generate("prometheus-k8s", &sans).unwrap();
    assert!(made.private_key.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(made.csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
    assert_eq!(request_dns_names(&made.csr).unwrap(), sans);
    // Two requests for the same key differ (the random unique identifier).
    let again = certificate_request(&made.private_key, "prometheus-k8s", &sans).unwrap();
    assert_ne!(again, made.csr);

    let ca = TestCa::new("test-ca");
    let cert = ca.sign(&made.csr, JUNE_2026 - YEAR, JUNE_2026 + YEAR);
    let issued = issued_for(
        &ca.answer(&made.csr, &cert, json!({})),
        &made.csr,
        JUNE_2026,
    )
    .unwrap()
    .unwrap();
    assert_eq!(issued.certificate, cert);
    assert_eq!(issued.ca, ca.pem);
    // The same certificate is not valid for a request made with the same names but another key.
    let other = generate("prometheus-k8s", &sans).unwrap();
    let answer = ca.answer(&other.csr, &cert, json!({}));
    assert_eq!(
        issued_for(&answer, &other.csr, JUNE_2026),
        Err(TlsError::WrongKey)
    );
}

#[test]
fn hostile_or_stale_answers_are_named_errors() {
    let made = generate("prometheus-k8s", &[FQDN.to_owned()]).unwrap();
    let ca = TestCa::new("test-ca");
    let good = ca.sign(&made.csr, JUNE_2026 - YEAR, JUNE_2026 + YEAR);
    let expired = ca.sign(&made.csr, JUNE_2026 - 2 * YEAR, JUNE_2026 - YEAR);
    let future = ca.sign(&made.csr, JUNE_2026 + YEAR, JUNE_2026 + 2 * YEAR);
    let csr = made.csr.as_str();
    let check = |bag: Databag| issued_for(&bag, csr, JUNE_2026);

    assert!(matches!(
        check(ca.answer(csr, &expired, json!({}))),
        Err(TlsError::Expired { .. })
    ));
    assert!(matches!(
        check(ca.answer(csr, &future, json!({}))),
        Err(TlsError::NotYetValid { .. })
    ));
    assert_eq!(
        check(ca.answer(csr, &good, json!({"revoked": true}))),
        Err(TlsError::Revoked)
    );
    // Not PEM, a key where a certificate should be, two certificates, garbage inside PEM.
    for (field, value) in [
        ("certificate", json!("not a certificate")),
        ("certificate", json!(made.private_key)),
        ("certificate", json!(format!("{good}\n{good}"))),
        (
            "ca",
            json!("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        ),
        ("chain", json!(["junk"])),
    ] {
        let err = check(ca.answer(csr, &good, json!({ field: value }))).unwrap_err();
        assert!(
            matches!(&err, TlsError::BadPem { field: f, .. } if f.starts_with(field)),
            "{field}: {err}"
        );
    }
    // Missing or mistyped fields, and a bag that is not a list.
    let err = check(ca.answer(csr, &good, json!({"certificate": 5}))).unwrap_err();
    assert!(matches!(err, TlsError::Malformed(_)), "{err}");
    for raw in ["{}", "not json", "{\"a\": 1}", "\"[]\""] {
        let bag = Databag::from([(CERTIFICATES_KEY.to_owned(), raw.to_owned())]);
        assert!(
            matches!(check(bag), Err(TlsError::NotAList(_))),
            "{raw} is not a list"
        );
    }
    // Entries that are not objects, or for other requests, are not this unit's: ignored.
    let bag = Databag::from([(
        CERTIFICATES_KEY.to_owned(),
        json!([1, "x", {"certificate_signing_request": "other"}]).to_string(),
    )]);
    assert_eq!(check(bag), Ok(None));
    let message = TlsError::WrongKey.to_string();
    assert!(message.contains("not for this unit's key"), "{message}");
}

#[test]
fn certificate_transfer_v1_reads_the_cas_the_real_provider_sent() {
    let app = json_bag(&repo_fixture("certificate_transfer/remote-app.json"));
    let found = cas(&app, &[]);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    let expected: std::collections::BTreeSet<String> = ["ca1.crt", "ca2.crt"]
        .iter()
        .map(|f| {
            pem_file(&format!("certificate_transfer/pem/{f}"))
                .trim()
                .to_owned()
        })
        .collect();
    assert_eq!(found.certificates, expected);
    // What the requirer's leader writes, as the library does.
    let writes = repo_fixture("certificate_transfer/prometheus-writes.json");
    assert_eq!(
        certificate_transfer::requirer_app_data(),
        json_bag(&writes["final"]["app"])
    );
    assert!(writes["final"]["unit"][UNIT]
        .as_object()
        .unwrap()
        .is_empty());
}

#[test]
fn certificate_transfer_v0_unit_keys_and_bad_entries() {
    let ca = TestCa::new("v0-ca");
    let inter = TestCa::new("v0-intermediate");
    let unit = Databag::from([
        ("ca".to_owned(), ca.pem.clone()),
        ("certificate".to_owned(), "ignored".to_owned()),
        ("chain".to_owned(), json!([inter.pem]).to_string()),
    ]);
    let found = cas(&Databag::new(), &[("ca-provider/0", &unit)]);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    assert_eq!(found.certificates.len(), 2);

    // v1 with one bad entry: the good one is kept, the bad one reported by position.
    let app = Databag::from([(
        "certificates".to_owned(),
        json!([ca.pem, "garbage", 7]).to_string(),
    )]);
    let found = cas(&app, &[]);
    assert_eq!(found.certificates.len(), 1);
    assert_eq!(found.problems.len(), 2, "{:?}", found.problems);
    assert!(found.problems[0].contains("certificates[1]"));
    assert!(found.problems[1].contains("certificates[2]"));
    let found = cas(
        &Databag::from([("certificates".to_owned(), "nope".to_owned())]),
        &[],
    );
    assert!(found.certificates.is_empty());
    assert!(found.problems[0].contains("not a JSON list"));
}

#[test]
fn an_issued_certificate_knows_when_renewal_is_due() {
    let issued = Issued {
        certificate: String::new(),
        ca: String::new(),
        chain: Vec::new(),
        not_before: 0,
        not_after: 1000,
    };
    assert!(!issued.renewal_due(899));
    assert!(issued.renewal_due(900));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the provider writes, reading it returns a value or a named error.
    #[test]
    fn reading_any_provider_data_never_panics(
        raw in prop_oneof![
            any::<String>(),
            "\\[\\{\"ca\": \"[ -~]{0,40}\", \"certificate_signing_request\": \"[ -~]{0,40}\", \"certificate\": \"[ -~]{0,40}\"\\}\\]",
            "-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]{0,200}\n-----END CERTIFICATE-----",
        ],
        csr in prop_oneof![any::<String>(), Just(String::new())],
        now in any::<i64>(),
    ) {
        let bag = Databag::from([(CERTIFICATES_KEY.to_owned(), raw.clone())]);
        let _ = issued_for(&bag, &csr, now);
        let _ = request_dns_names(&raw);
        let _ = tls_certificates::certificates_in(&raw, "x");
        let _ = cas(&Databag::from([("certificates".to_owned(), raw.clone())]), &[]);
        let unit = Databag::from([("ca".to_owned(), raw.clone()), ("chain".to_owned(), raw)]);
        let _ = cas(&Databag::new(), &[("p/0", &unit)]);
    }

    /// The entry for this unit's request is found whatever else the list holds, and only it.
    #[test]
    fn only_the_entry_for_this_request_counts(others in proptest::collection::vec("[ -~]{0,30}", 0..5)) {
        let app = json_bag(&tls_fixture("remote-app.json"));
        let mut list: Vec<Value> = serde_json::from_str(&app[CERTIFICATES_KEY]).unwrap();
        for (i, other) in others.iter().enumerate() {
            list.insert(i % (list.len() + 1), json!({"certificate_signing_request": other, "certificate": "x", "ca": "y"}));
        }
        let bag = Databag::from([(CERTIFICATES_KEY.to_owned(), Value::Array(list).to_string())]);
        prop_assert!(issued_for(&bag, &fixture_csr(), JUNE_2026).unwrap().is_some());
    }
}

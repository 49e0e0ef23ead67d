//! A certificate authority made by a test (rcgen): signs certificate requests the charm wrote,
//! and answers on `certificates` the way the v4 provider library does. Included with
//! `#[path]` by the TLS tests.
#![allow(dead_code)]

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DnType, IsCa, Issuer,
    KeyPair, KeyUsagePurpose,
};
use serde_json::{json, Value};

/// One day in seconds.
pub const DAY: i64 = 86_400;

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A CA with its key.
pub struct TestCa {
    key: KeyPair,
    params: CertificateParams,
    /// The CA certificate (PEM).
    pub pem: String,
}

impl TestCa {
    /// A new self-signed CA named `name`.
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa { key, params, pem }
    }

    /// Signs a PEM CSR, valid from `from` to `until` (Unix seconds), with the names it asks for.
    pub fn sign(&self, csr: &str, from: i64, until: i64) -> String {
        let mut req = CertificateSigningRequestParams::from_pem(csr).unwrap();
        req.params.not_before = time::OffsetDateTime::from_unix_timestamp(from).unwrap();
        req.params.not_after = time::OffsetDateTime::from_unix_timestamp(until).unwrap();
        let issuer = Issuer::from_params(&self.params, &self.key);
        req.signed_by(&issuer).unwrap().pem()
    }

    /// A server certificate and key for `names` (not through a CSR): a TLS target of a test.
    pub fn server(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap().pem();
        (cert, key.serialize_pem())
    }

    /// The provider's `certificates` value answering `csr` with `cert` (plus `extra` keys).
    pub fn answer(&self, csr: &str, cert: &str, extra: Value) -> Value {
        let mut entry = json!({
            "ca": self.pem,
            "certificate_signing_request": csr,
            "certificate": cert,
            "chain": [cert, self.pem],
        });
        for (k, v) in extra.as_object().unwrap() {
            entry[k] = v.clone();
        }
        json!([entry])
    }
}

/// The CSR a unit published in its `certificate_signing_requests` value.
pub fn published_csr(csrs: &str) -> String {
    let list: Value = serde_json::from_str(csrs).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["ca"], false);
    list[0]["certificate_signing_request"]
        .as_str()
        .unwrap()
        .to_owned()
}

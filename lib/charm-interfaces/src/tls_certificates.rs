//! `tls-certificates` v4 requirer (`certificates`): this unit asks a certificate authority
//! charm for a server certificate and reads back what it issued.
//!
//! The requirer makes a private key, and a certificate signing request (CSR) for it naming the
//! application (common name), a random `x500UniqueIdentifier` and the unit's DNS names. Each
//! unit writes its requests in its own databag, key `certificate_signing_requests`: a JSON list
//! of `{"certificate_signing_request": <PEM>, "ca": false}`, serialised as the Python library
//! serialises it. The provider's leader answers in its application databag, key
//! `certificates`: a JSON list of `{"ca", "certificate_signing_request", "certificate",
//! "chain"}` (PEM strings, `chain` a list of PEMs; an entry may also carry `"revoked": true`),
//! one entry per request of every unit it serves. An entry for another CSR is another unit's
//! and is ignored; no entry for this unit's CSR means the certificate is not issued yet.
//!
//! Everything the provider sends is checked before it is used: PEM that parses as X.509, a
//! certificate for this unit's key, within its validity, not revoked, and a CA that is a
//! certificate. Each failure is a [`TlsError`] naming what is wrong; nothing here panics on
//! outside data.

use serde::Deserialize;
use x509_parser::prelude::{FromDer, X509Certificate, X509CertificationRequest};

use crate::ordered::{OMap, OVal};
use crate::Databag;

/// Requirer unit databag key holding the CSR list.
pub const CSRS_KEY: &str = "certificate_signing_requests";
/// Provider application databag key holding the issued certificates.
pub const CERTIFICATES_KEY: &str = "certificates";
/// OID of `x500UniqueIdentifier` (2.5.4.45), the subject attribute the library sets to a
/// random UUID so that every request is distinct.
const X500_UNIQUE_IDENTIFIER: [u64; 4] = [2, 5, 4, 45];

/// Why a key, a request or the provider's answer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// The key or the request could not be made (a DNS name rcgen refuses, an unusable key).
    #[error("cannot make the certificate request: {0}")]
    Generate(String),
    /// The stored private key is not a PEM key.
    #[error("the private key cannot be read: {0}")]
    PrivateKey(String),
    /// `certificates` is not a JSON list of objects.
    #[error("`certificates` is not a JSON list of certificates: {0}")]
    NotAList(String),
    /// The entry for this unit's CSR lacks a field or has one of the wrong type.
    #[error("the certificate for this unit's request is malformed: {0}")]
    Malformed(String),
    /// A field does not hold what it should (PEM that does not parse, a key in place of a
    /// certificate...).
    #[error("`{field}` is not a PEM certificate: {reason}")]
    BadPem {
        /// The field (`certificate`, `ca`, `chain[1]`...).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The certificate is for another key than the one of this unit's request.
    #[error(
        "the certificate is not for this unit's key (its public key differs from the request's)"
    )]
    WrongKey,
    /// The certificate's validity is over.
    #[error("the certificate expired at {not_after} (Unix time)")]
    Expired {
        /// End of validity, seconds since the epoch.
        not_after: i64,
    },
    /// The certificate's validity has not begun.
    #[error("the certificate is not valid before {not_before} (Unix time)")]
    NotYetValid {
        /// Start of validity, seconds since the epoch.
        not_before: i64,
    },
    /// The provider marked the certificate revoked.
    #[error("the provider revoked the certificate")]
    Revoked,
}

/// A private key and the CSR made for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAndRequest {
    /// PKCS#8 PEM of the private key (ECDSA P-256).
    pub private_key: String,
    /// PEM of the CSR.
    pub csr: String,
}

/// Makes a new ECDSA P-256 private key.
pub fn generate_private_key() -> Result<String, TlsError> {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map(|k| k.serialize_pem())
        .map_err(|e| TlsError::Generate(e.to_string()))
}

/// A CSR for `private_key` (PEM) with subject `CN=<common_name>` plus a random
/// `x500UniqueIdentifier`, and `dns_names` as DNS subject alternative names, as the library
/// makes them.
pub fn certificate_request(
    private_key: &str,
    common_name: &str,
    dns_names: &[String],
) -> Result<String, TlsError> {
    let key =
        rcgen::KeyPair::from_pem(private_key).map_err(|e| TlsError::PrivateKey(e.to_string()))?;
    let mut params = rcgen::CertificateParams::new(dns_names.to_vec())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    let mut subject = rcgen::DistinguishedName::new();
    subject.push(rcgen::DnType::CommonName, common_name);
    subject.push(
        rcgen::DnType::CustomDnType(X500_UNIQUE_IDENTIFIER.to_vec()),
        random_uuid(),
    );
    params.distinguished_name = subject;
    params
        .serialize_request(&key)
        .and_then(|csr| csr.pem())
        .map_err(|e| TlsError::Generate(e.to_string()))
}

/// A new key and a CSR for it (see [`certificate_request`]).
pub fn generate(common_name: &str, dns_names: &[String]) -> Result<KeyAndRequest, TlsError> {
    let private_key = generate_private_key()?;
    let csr = certificate_request(&private_key, common_name, dns_names)?;
    Ok(KeyAndRequest { private_key, csr })
}

/// A random (version 4) UUID in its text form.
fn random_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The unit databag the requirer writes for one server certificate request, byte for byte as
/// the Python library writes it.
pub fn requirer_unit_data(csr: &str) -> Databag {
    let mut entry = OMap::new();
    entry.insert("certificate_signing_request", OVal::str(csr));
    entry.insert("ca", OVal::Bool(false));
    let list = OVal::Arr(vec![OVal::Obj(entry)]);
    Databag::from([(CSRS_KEY.to_owned(), list.py_dumps())])
}

/// The subject public key info (DER) of a PEM CSR.
fn request_public_key(csr: &str) -> Result<Vec<u8>, TlsError> {
    let der = der_of(csr)?;
    let (_, req) = X509CertificationRequest::from_der(&der).map_err(|e| bad("csr", e))?;
    Ok(req.certification_request_info.subject_pki.raw.to_vec())
}

/// The DNS subject alternative names of a PEM CSR (to tell whether a stored request still
/// names this unit).
pub fn request_dns_names(csr: &str) -> Result<Vec<String>, TlsError> {
    let der = pem_blocks(csr, "csr")?
        .into_iter()
        .next()
        .ok_or_else(|| bad("csr", "no PEM block"))?;
    let (_, req) = X509CertificationRequest::from_der(&der.1).map_err(|e| bad("csr", e))?;
    let mut names = Vec::new();
    if let Some(exts) = req.requested_extensions() {
        for ext in exts {
            if let x509_parser::extensions::ParsedExtension::SubjectAlternativeName(san) = ext {
                for name in &san.general_names {
                    if let x509_parser::extensions::GeneralName::DNSName(dns) = name {
                        names.push((*dns).to_owned());
                    }
                }
            }
        }
    }
    Ok(names)
}

/// One entry of the provider's `certificates` list.
#[derive(Debug, Deserialize)]
struct ProviderEntry {
    ca: String,
    certificate: String,
    #[serde(default)]
    chain: Option<Vec<String>>,
    #[serde(default)]
    revoked: Option<bool>,
}

/// A certificate the provider issued for this unit's request, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The leaf certificate (PEM, as the provider wrote it).
    pub certificate: String,
    /// The CA that signed it (PEM).
    pub ca: String,
    /// The chain the provider sent (leaf first), possibly empty.
    pub chain: Vec<String>,
    /// Start of validity, seconds since the epoch.
    pub not_before: i64,
    /// End of validity, seconds since the epoch.
    pub not_after: i64,
}

impl Issued {
    /// Whether the certificate is in the last tenth of its validity at `now`: time to ask for
    /// a new one (the library renews at the same point).
    pub fn renewal_due(&self, now: i64) -> bool {
        let span = self.not_after.saturating_sub(self.not_before).max(0);
        now >= self.not_after.saturating_sub(span / 10)
    }
}

/// The certificate the provider issued for `csr`, checked against the request's public key
/// (so, against the private key the request was made with) and the time `now` (seconds since
/// the epoch).
///
/// `Ok(None)`: no answer for this request yet (no `certificates` key, an empty list, or no
/// entry for this CSR). `Err`: the answer cannot be used.
pub fn issued_for(app_data: &Databag, csr: &str, now: i64) -> Result<Option<Issued>, TlsError> {
    let raw = match app_data.get(CERTIFICATES_KEY) {
        Some(raw) if !raw.trim().is_empty() => raw,
        _ => return Ok(None),
    };
    let list: Vec<serde_json::Value> =
        serde_json::from_str(raw).map_err(|e| TlsError::NotAList(e.to_string()))?;
    let ours = der_of(csr).ok();
    let entry = list.into_iter().find(|entry| {
        let Some(theirs) = entry
            .get("certificate_signing_request")
            .and_then(|v| v.as_str())
        else {
            return false;
        };
        match (&ours, der_of(theirs)) {
            (Some(a), Ok(b)) => *a == b,
            _ => theirs.trim() == csr.trim(),
        }
    });
    let Some(entry) = entry else {
        return Ok(None);
    };
    let entry: ProviderEntry =
        serde_json::from_value(entry).map_err(|e| TlsError::Malformed(e.to_string()))?;
    if entry.revoked == Some(true) {
        return Err(TlsError::Revoked);
    }
    let leaf = certificate_der(&entry.certificate, "certificate")?;
    let (_, cert) = X509Certificate::from_der(&leaf).map_err(|e| bad("certificate", e))?;
    let ca = certificate_der(&entry.ca, "ca")?;
    X509Certificate::from_der(&ca).map_err(|e| bad("ca", e))?;
    let chain = entry.chain.unwrap_or_default();
    for (i, pem) in chain.iter().enumerate() {
        let field = format!("chain[{i}]");
        let der = certificate_der(pem, &field)?;
        X509Certificate::from_der(&der).map_err(|e| bad(&field, e))?;
    }
    if cert.public_key().raw != request_public_key(csr)?.as_slice() {
        return Err(TlsError::WrongKey);
    }
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    if now > not_after {
        return Err(TlsError::Expired { not_after });
    }
    if now < not_before {
        return Err(TlsError::NotYetValid { not_before });
    }
    Ok(Some(Issued {
        certificate: entry.certificate,
        ca: entry.ca,
        chain,
        not_before,
        not_after,
    }))
}

fn bad(field: &str, reason: impl std::fmt::Display) -> TlsError {
    TlsError::BadPem {
        field: field.to_owned(),
        reason: reason.to_string(),
    }
}

/// The PEM blocks of `text` as (label, DER).
fn pem_blocks(text: &str, field: &str) -> Result<Vec<(String, Vec<u8>)>, TlsError> {
    let mut out = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(text.as_bytes()) {
        let block = block.map_err(|e| bad(field, e))?;
        out.push((block.label, block.contents));
    }
    if out.is_empty() {
        return Err(bad(field, "no PEM block"));
    }
    Ok(out)
}

/// The DER of the first PEM block of `text`, whatever its label.
fn der_of(text: &str) -> Result<Vec<u8>, TlsError> {
    Ok(pem_blocks(text, "csr")?.swap_remove(0).1)
}

/// The DER of a PEM holding exactly one certificate.
fn certificate_der(text: &str, field: &str) -> Result<Vec<u8>, TlsError> {
    let mut blocks = pem_blocks(text, field)?;
    if blocks.len() != 1 {
        return Err(bad(
            field,
            format!("{} PEM blocks, one wanted", blocks.len()),
        ));
    }
    let (label, der) = blocks.swap_remove(0);
    if label != "CERTIFICATE" {
        return Err(bad(field, format!("a PEM block of type {label:?}")));
    }
    Ok(der)
}

/// Every certificate in a PEM text (a CA bundle), each checked to parse as X.509: the DER of
/// each, in order. `field` names the text in errors.
pub fn certificates_in(text: &str, field: &str) -> Result<Vec<Vec<u8>>, TlsError> {
    let mut out = Vec::new();
    for (label, der) in pem_blocks(text, field)? {
        if label != "CERTIFICATE" {
            return Err(bad(field, format!("a PEM block of type {label:?}")));
        }
        X509Certificate::from_der(&der).map_err(|e| bad(field, e))?;
        out.push(der);
    }
    Ok(out)
}

//! `certificate_transfer` requirer (`receive-ca-cert`): CA certificates another charm asks
//! this one to trust.
//!
//! Version 1 of the interface: the requirer's leader writes `version` = `"1"` in its
//! application databag; a v1 provider answers in its application databag with `certificates`,
//! a JSON list of PEM certificates (and `version` = `"1"`). A provider that predates v1 writes
//! in each unit's databag `ca` (PEM), optionally `certificate` and `chain` (a JSON list of PEM),
//! and those units' `ca` and `chain` are trusted. No key (or an empty list) means nothing to
//! trust yet.
//!
//! Each certificate is checked to be PEM X.509; one that is not is reported and left out, the
//! others are kept.

use std::collections::BTreeSet;

use crate::tls_certificates::certificates_in;
use crate::Databag;

/// Application databag key carrying the interface version.
pub const VERSION_KEY: &str = "version";
/// Provider application databag key (v1) with the CA list.
pub const CERTIFICATES_KEY: &str = "certificates";

/// The requirer application databag (leader), as the library writes it.
pub fn requirer_app_data() -> Databag {
    Databag::from([(VERSION_KEY.to_owned(), "1".to_owned())])
}

/// The CAs of one relation: PEMs trimmed, deduplicated and sorted, with a problem for each
/// entry that could not be used (the rest is still returned).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cas {
    /// The usable CA certificates (PEM, trimmed).
    pub certificates: BTreeSet<String>,
    /// What could not be used, one message each.
    pub problems: Vec<String>,
}

/// The CAs a provider sent: the v1 application list when present, else the v0 unit keys.
pub fn cas(app_data: &Databag, units: &[(&str, &Databag)]) -> Cas {
    let mut out = Cas::default();
    if let Some(raw) = app_data
        .get(CERTIFICATES_KEY)
        .filter(|r| !r.trim().is_empty())
    {
        match serde_json::from_str::<Vec<serde_json::Value>>(raw) {
            Ok(list) => {
                for (i, entry) in list.iter().enumerate() {
                    match entry.as_str() {
                        Some(pem) => add(&mut out, pem, &format!("certificates[{i}]")),
                        None => out.problems.push(format!(
                            "`certificates[{i}]` is not a string (a PEM certificate)"
                        )),
                    }
                }
            }
            Err(e) => out.problems.push(format!(
                "`certificates` is not a JSON list of PEM certificates: {e}"
            )),
        }
        return out;
    }
    for (unit, data) in units {
        if let Some(ca) = data.get("ca").filter(|c| !c.trim().is_empty()) {
            add(&mut out, ca, &format!("{unit}: ca"));
        }
        if let Some(raw) = data.get("chain").filter(|c| !c.trim().is_empty()) {
            match serde_json::from_str::<Vec<String>>(raw) {
                Ok(chain) => {
                    for (i, pem) in chain.iter().enumerate() {
                        add(&mut out, pem, &format!("{unit}: chain[{i}]"));
                    }
                }
                Err(e) => out.problems.push(format!(
                    "{unit}: `chain` is not a JSON list of PEM certificates: {e}"
                )),
            }
        }
    }
    out
}

fn add(out: &mut Cas, pem: &str, field: &str) {
    match certificates_in(pem, field) {
        Ok(_) => {
            out.certificates.insert(pem.trim().to_owned());
        }
        Err(e) => out.problems.push(e.to_string()),
    }
}

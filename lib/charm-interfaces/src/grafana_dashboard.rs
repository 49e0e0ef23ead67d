//! `grafana_dashboard` provider (`grafana-dashboard`): the charm's own dashboards, sent to
//! Grafana as Grafana's library (`GrafanaDashboardProvider`) encodes them.
//!
//! The leader writes one application key, `dashboards`: JSON (as Python's `json.dumps` writes
//! it) `{"templates": {"file:<file name>": {"charm", "content", "juju_topology": {"model",
//! "model_uuid", "application", "unit"}, "inject_dropdowns": true, "dashboard_alt_uid"}},
//! "uuid": <uuid>}`. `content` is the dashboard with its `uid` set and the tag
//! `charm: <charm name>` added, serialised by `json.dumps`, compressed as an xz stream (LZMA2)
//! and base64-encoded. The dashboard `uid` is the SHAKE-256 of
//! `<charm>-src/grafana_dashboards/<file name>`, 20 bytes in hex; `dashboard_alt_uid` the
//! SHAKE-256 of `<charm>-file:<file name>`, 8 bytes in hex. The library puts a random uuid4
//! in `uuid` so that every write changes the bag; here it is derived from the templates, so
//! the bag changes exactly when a dashboard does. Grafana answers nothing while the
//! dashboards are valid.

use std::io::Read as _;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use sha3::digest::{ExtendableOutput, Update, XofReader};

use crate::ordered::{OMap, OVal};
use crate::Databag;

/// Application databag key.
pub const DASHBOARDS_KEY: &str = "dashboards";

/// Who sends the dashboards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardSource<'a> {
    /// The charm's name.
    pub charm_name: &'a str,
    /// Model name.
    pub model: &'a str,
    /// Full model UUID.
    pub model_uuid: &'a str,
    /// This application's name.
    pub application: &'a str,
    /// The leader's unit name.
    pub unit: &'a str,
}

/// `len` bytes of SHAKE-256 of `text`, in hex.
fn shake256_hex(text: &str, len: usize) -> String {
    let mut hasher = sha3::Shake256::default();
    hasher.update(text.as_bytes());
    let mut out = vec![0u8; len];
    XofReader::read(&mut hasher.finalize_xof(), &mut out);
    hex::encode(out)
}

/// The dashboard `uid` the library gives a file of the charm's `src/grafana_dashboards/`.
pub fn dashboard_uid(charm_name: &str, file_name: &str) -> String {
    shake256_hex(
        &format!("{charm_name}-src/grafana_dashboards/{file_name}"),
        20,
    )
}

/// The `dashboard_alt_uid` of a template key `file:<file name>`.
pub fn alt_uid(charm_name: &str, template_key: &str) -> String {
    shake256_hex(&format!("{charm_name}-{template_key}"), 8)
}

/// xz-compressed, base64-encoded text (the library's `LZMABase64.compress`).
pub fn compress(text: &str) -> String {
    let mut xz = Vec::new();
    // Compressing from a byte slice into a Vec cannot fail.
    lzma_rs::xz_compress(&mut text.as_bytes(), &mut xz).expect("in-memory xz compression");
    base64::engine::general_purpose::STANDARD.encode(xz)
}

/// The text of a `content` value (base64, then xz), for tests and diagnostics.
pub fn decompress(content: &str) -> Result<String, String> {
    let xz = base64::engine::general_purpose::STANDARD
        .decode(content.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    let mut out = Vec::new();
    lzma_rs::xz_decompress(&mut xz.as_slice(), &mut out).map_err(|e| format!("not xz: {e}"))?;
    let mut text = String::new();
    out.as_slice()
        .read_to_string(&mut text)
        .map_err(|e| format!("not UTF-8: {e}"))?;
    Ok(text)
}

/// The dashboard as sent: `uid` set (in place, or appended) and the `charm: <name>` tag added.
fn prepared(charm_name: &str, file_name: &str, json: &str) -> Result<String, String> {
    let OVal::Obj(mut dashboard) =
        OVal::parse(json).map_err(|e| format!("dashboard {file_name} is not JSON: {e}"))?
    else {
        return Err(format!("dashboard {file_name} is not a JSON object"));
    };
    dashboard.insert("uid", OVal::str(dashboard_uid(charm_name, file_name)));
    let tag = OVal::str(format!("charm: {charm_name}"));
    match dashboard.get_mut("tags") {
        Some(OVal::Arr(tags)) => {
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        _ => dashboard.insert("tags", OVal::Arr(vec![tag])),
    }
    Ok(OVal::Obj(dashboard).py_dumps())
}

/// The leader's application databag for `dashboards`: (file name in the charm's
/// `src/grafana_dashboards/`, dashboard JSON) pairs.
pub fn app_data(
    source: &DashboardSource<'_>,
    dashboards: &[(&str, &str)],
) -> Result<Databag, String> {
    let mut templates = OMap::new();
    for (file_name, json) in dashboards {
        // The library names a `.tmpl` file's template after the file without that suffix.
        let key = format!(
            "file:{}",
            file_name.strip_suffix(".tmpl").unwrap_or(file_name)
        );
        let content = compress(&prepared(source.charm_name, file_name, json)?);
        let mut topology = OMap::new();
        topology.insert("model", OVal::str(source.model));
        topology.insert("model_uuid", OVal::str(source.model_uuid));
        topology.insert("application", OVal::str(source.application));
        topology.insert("unit", OVal::str(source.unit));
        let mut template = OMap::new();
        template.insert("charm", OVal::str(source.charm_name));
        template.insert("content", OVal::str(content));
        template.insert("juju_topology", OVal::Obj(topology));
        template.insert("inject_dropdowns", OVal::Bool(true));
        template.insert(
            "dashboard_alt_uid",
            OVal::str(alt_uid(source.charm_name, &key)),
        );
        templates.insert(key, OVal::Obj(template));
    }
    let templates = OVal::Obj(templates);
    let uuid = uuid_of(&templates.py_dumps());
    let mut out = OMap::new();
    out.insert("templates", templates);
    out.insert("uuid", OVal::str(uuid));
    Ok(Databag::from([(
        DASHBOARDS_KEY.to_owned(),
        OVal::Obj(out).py_dumps(),
    )]))
}

/// A UUID-shaped (version 4 layout) digest of `text`: stable for equal templates.
fn uuid_of(text: &str) -> String {
    let mut b: [u8; 16] = Sha256::digest(text.as_bytes())[..16]
        .try_into()
        .expect("16 bytes of a 32-byte digest");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_round_trips() {
        let text = "{\"title\": \"é ✓\"}".repeat(50);
        assert_eq!(decompress(&compress(&text)).unwrap(), text);
        assert!(decompress("%%%").is_err());
        assert!(decompress("aGVsbG8=").is_err());
    }

    #[test]
    fn uid_and_tag_are_added_in_the_librarys_order() {
        let out = prepared(
            "c",
            "d.json",
            r#"{"title": "t", "tags": ["x"], "uid": "old"}"#,
        )
        .unwrap();
        let uid = dashboard_uid("c", "d.json");
        assert_eq!(
            out,
            format!(r#"{{"title": "t", "tags": ["x", "charm: c"], "uid": "{uid}"}}"#)
        );
        let out = prepared("c", "d.json", r#"{"title": "t"}"#).unwrap();
        assert_eq!(
            out,
            format!(r#"{{"title": "t", "uid": "{uid}", "tags": ["charm: c"]}}"#)
        );
        assert!(prepared("c", "d.json", "[]").is_err());
    }

    #[test]
    fn the_uuid_is_stable_and_uuid_shaped() {
        let a = uuid_of("x");
        assert_eq!(a, uuid_of("x"));
        assert_ne!(a, uuid_of("y"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}

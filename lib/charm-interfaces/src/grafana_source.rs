//! `grafana_datasource` provider (`grafana-source`): Prometheus offered to Grafana as a
//! datasource, one per unit.
//!
//! The leader writes `grafana_source_data` (JSON) and `grafana_source_app_host` = `""` (no
//! application-level datasource) in the application databag; every unit writes
//! `grafana_source_host` = its own URL. JSON values are serialised the way the Python library
//! serialises them (fixed key order, `", "`/`": "` separators), so the bytes are the same hook
//! after hook and the same as a Python-charmed Prometheus wrote before a migration.

use crate::ordered::{OMap, OVal};
use crate::Databag;

pub use crate::databag::diff;

/// What the datasource description is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrafanaSource<'a> {
    /// Model name.
    pub model: &'a str,
    /// Full model UUID.
    pub model_uuid: &'a str,
    /// This application's name.
    pub application: &'a str,
    /// This unit's FQDN.
    pub fqdn: &'a str,
    /// Port Prometheus serves on (9090).
    pub port: u16,
    /// Whether Prometheus serves TLS.
    pub https: bool,
    /// Global scrape interval (Grafana's `timeInterval`, so panels never ask for finer steps).
    pub scrape_interval: &'a str,
}

/// Application databag key holding the datasource description.
pub const SOURCE_DATA_KEY: &str = "grafana_source_data";
/// Application databag key for an application-level datasource URL (`""`: none).
pub const APP_HOST_KEY: &str = "grafana_source_app_host";
/// Unit databag key holding the unit's datasource URL.
pub const UNIT_HOST_KEY: &str = "grafana_source_host";

/// The (application, unit) databag contents Prometheus should publish. The application map is
/// for the leader only.
pub fn desired(src: &GrafanaSource<'_>) -> (Databag, Databag) {
    let mut extra = OMap::new();
    extra.insert("timeInterval", OVal::str(src.scrape_interval));
    let mut data = OMap::new();
    data.insert("model", OVal::str(src.model));
    data.insert("model_uuid", OVal::str(src.model_uuid));
    data.insert("application", OVal::str(src.application));
    data.insert("type", OVal::str("prometheus"));
    data.insert("extra_fields", OVal::Obj(extra));
    data.insert("secure_extra_fields", OVal::Null);
    let app = Databag::from([
        (SOURCE_DATA_KEY.to_owned(), OVal::Obj(data).py_dumps()),
        (APP_HOST_KEY.to_owned(), String::new()),
    ]);
    let scheme = if src.https { "https" } else { "http" };
    let unit = Databag::from([(
        UNIT_HOST_KEY.to_owned(),
        format!("{scheme}://{}:{}", src.fqdn, src.port),
    )]);
    (app, unit)
}

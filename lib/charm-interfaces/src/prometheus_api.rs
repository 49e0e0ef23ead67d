//! `prometheus_api` provider (`prometheus-api`): where charms that query Prometheus find it.
//!
//! The leader writes in the application databag `direct_url`, the unit's own URL with a
//! trailing `/` (the pydantic `AnyHttpUrl` the Python library serialises adds it), and, when
//! Prometheus has an external URL (ingress), `ingress_url`, as given (no trailing `/`).
//! Without one, `ingress_url` is absent (written as `""`, which deletes it). The requirer
//! writes nothing.

use crate::Databag;

/// Application databag key of the cluster-internal URL.
pub const DIRECT_URL_KEY: &str = "direct_url";
/// Application databag key of the external URL.
pub const INGRESS_URL_KEY: &str = "ingress_url";

/// The application databag: `direct_url` from `internal_url` (a `/` added when it has no
/// path), `ingress_url` from `external_url` (`""`: remove it).
pub fn app_data(internal_url: &str, external_url: Option<&str>) -> Databag {
    let direct = if internal_url.ends_with('/') {
        internal_url.to_owned()
    } else {
        format!("{internal_url}/")
    };
    Databag::from([
        (DIRECT_URL_KEY.to_owned(), direct),
        (
            INGRESS_URL_KEY.to_owned(),
            external_url.unwrap_or_default().to_owned(),
        ),
    ])
}

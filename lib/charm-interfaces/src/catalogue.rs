//! `catalogue` requirer (`catalogue`): this Prometheus as an entry of the COS catalogue.
//!
//! The leader writes the entry in the application databag, the keys the catalogue's library
//! reads: `name`, `description`, `url` (where users open Prometheus), `icon` (a Material Design
//! icon name), `api_docs` and `api_endpoints` (a JSON object of link title → URL, serialised
//! the way the Python library serialises it: insertion order, `", "`/`": "` separators). The
//! catalogue writes nothing back.

use crate::ordered::{OMap, OVal};
use crate::Databag;

/// The entry's title.
pub const NAME: &str = "Prometheus";
/// The entry's description (the text prometheus-k8s publishes).
pub const DESCRIPTION: &str = "Prometheus collects, stores and serves metrics as time series data, alongside optional key-value pairs called labels.";
/// The entry's icon.
pub const ICON: &str = "chart-line-variant";
/// Where the HTTP API is documented.
pub const API_DOCS: &str = "https://prometheus.io/docs/prometheus/latest/querying/api/";

/// Link titles and API paths, in the order they are shown.
const API_ENDPOINTS: [(&str, &str); 7] = [
    ("Instant queries", "/api/v1/query"),
    ("Range queries", "/api/v1/query_range"),
    ("Finding Series", "/api/v1/series"),
    ("Labels", "/api/v1/labels"),
    ("Targets", "/api/v1/targets"),
    ("Rules", "/api/v1/rules"),
    ("Alerts", "/api/v1/alerts"),
];

/// The application databag of the entry; `url` is where users reach Prometheus (without a
/// trailing `/`), also the base of every API link.
pub fn app_data(url: &str) -> Databag {
    let endpoints: OMap = API_ENDPOINTS
        .iter()
        .map(|(title, path)| ((*title).to_owned(), OVal::str(format!("{url}{path}"))))
        .collect();
    [
        ("name", NAME.to_owned()),
        ("description", DESCRIPTION.to_owned()),
        ("url", url.to_owned()),
        ("icon", ICON.to_owned()),
        ("api_docs", API_DOCS.to_owned()),
        ("api_endpoints", OVal::Obj(endpoints).py_dumps()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

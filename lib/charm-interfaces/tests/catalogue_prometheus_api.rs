//! `catalogue` and `prometheus_api`: what the leader writes, compared byte for byte with what
//! prometheus-k8s wrote next to the real remote libraries (`tests/fixtures/catalogue/`,
//! `tests/fixtures/prometheus_api/`, and `combined_ingress_tls/` for the values with an
//! ingress URL). Neither remote writes anything, so there is nothing to parse.

mod common;

use charm_interfaces::{catalogue, prometheus_api, Databag};
use common::{json_bag, repo_fixture};
use serde_json::Value;

const UNIT: &str = "prometheus-k8s/0";
const INTERNAL: &str =
    "http://prometheus-k8s-0.prometheus-k8s-endpoints.cos.svc.cluster.local:9090";
const INGRESS: &str = "http://10.0.0.100/cos-prometheus-k8s-0";

/// What prometheus-k8s had written on `endpoint` at the combined capture's checkpoint `n`
/// (index 1: ingress ready, no TLS).
fn checkpoint(n: usize, endpoint: &str) -> Value {
    repo_fixture("combined_ingress_tls/checkpoints.json")["checkpoints"][n]["writes"][endpoint]
        .clone()
}

#[test]
fn the_catalogue_entry_with_ingress_is_byte_for_byte_prometheus_k8s() {
    let expected = checkpoint(1, "catalogue");
    assert_eq!(catalogue::app_data(INGRESS), json_bag(&expected["app"]));
    assert!(expected["unit"][UNIT].as_object().unwrap().is_empty());
}

/// Without ingress prometheus-k8s builds the API links from a missing URL (`None/api/v1/...`);
/// this charm uses the URL users reach it at. Every other byte is the same, links included
/// once the base is swapped.
#[test]
fn the_catalogue_entry_without_ingress_differs_only_by_the_links_base() {
    let theirs = json_bag(&repo_fixture("catalogue/prometheus-writes.json")["final"]["app"]);
    let ours = catalogue::app_data(INTERNAL);
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    for (key, value) in &theirs {
        let value = value.replace("\"None/", &format!("\"{INTERNAL}/"));
        assert_eq!(ours[key], value, "{key}");
    }
    assert!(theirs["api_endpoints"].contains("\"None/api/v1/query\""));
    // What the catalogue's library read back: the same item, links parsed as an object.
    let read = &repo_fixture("catalogue/remote-reads.json")["CatalogueProvider.items"][0];
    for key in ["name", "url", "icon", "description", "api_docs"] {
        assert_eq!(read[key].as_str(), Some(ours[key].as_str()), "{key}");
    }
    let links: Value = serde_json::from_str(&ours["api_endpoints"]).unwrap();
    assert_eq!(
        links.as_object().unwrap().keys().collect::<Vec<_>>(),
        read["api_endpoints"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>()
    );
}

#[test]
fn prometheus_api_urls_are_byte_for_byte_prometheus_k8s() {
    // No ingress: only `direct_url`, with the trailing `/` (`ingress_url` "" is a deletion).
    let expected = json_bag(&repo_fixture("prometheus_api/prometheus-writes.json")["final"]["app"]);
    let ours = prometheus_api::app_data(INTERNAL, None);
    assert_eq!(ours[prometheus_api::INGRESS_URL_KEY], "");
    let ours: Databag = ours.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    assert_eq!(ours, expected);
    let read =
        &repo_fixture("prometheus_api/remote-reads.json")["PrometheusApiRequirer.get_data()"];
    assert_eq!(
        read["direct_url"].as_str(),
        Some(ours["direct_url"].as_str())
    );
    assert!(read["ingress_url"].is_null());

    // With ingress.
    let expected = json_bag(&checkpoint(1, "prometheus-api")["app"]);
    assert_eq!(prometheus_api::app_data(INTERNAL, Some(INGRESS)), expected);
}

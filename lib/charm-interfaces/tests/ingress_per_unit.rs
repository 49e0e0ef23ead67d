//! `ingress_per_unit` (`ingress`): the request every unit writes, compared byte for byte with
//! what prometheus-k8s wrote, and the URL read from what Traefik's real provider library wrote
//! (both captured in `tests/fixtures/ingress_per_unit/`); a property test for the parser.

mod common;

use charm_interfaces::ingress_per_unit::{
    request_unit_data, unit_url, IngressRequest, INGRESS_KEY,
};
use charm_interfaces::Databag;
use common::{json_bag, repo_fixture};
use proptest::prelude::*;
use serde_json::Value;

/// A fixture of this interface.
fn fixture(name: &str) -> Value {
    repo_fixture(&format!("ingress_per_unit/{name}"))
}

const UNIT: &str = "prometheus-k8s/0";
const FQDN: &str = "prometheus-k8s-0.prometheus-k8s-endpoints.cos.svc.cluster.local";

#[test]
fn the_request_is_byte_for_byte_what_prometheus_k8s_writes() {
    let writes = fixture("prometheus-writes.json");
    let expected = json_bag(&writes["final"]["unit"][UNIT]);
    let ours = request_unit_data(&IngressRequest {
        model: "cos",
        unit: UNIT,
        host: FQDN,
        port: 9090,
        https: false,
    });
    assert_eq!(ours, expected);
    // Written from relation-created on, the same in every hook.
    assert_eq!(json_bag(&writes["per_hook"][0]["unit"][UNIT]), expected);
    assert!(writes["final"]["app"].as_object().unwrap().is_empty());
    // With TLS only the scheme changes.
    let tls = request_unit_data(&IngressRequest {
        model: "cos",
        unit: UNIT,
        host: FQDN,
        port: 9090,
        https: true,
    });
    let changed: Vec<_> = tls
        .iter()
        .filter(|(k, v)| expected.get(*k) != Some(*v))
        .collect();
    assert_eq!(changed, [(&"scheme".to_owned(), &"https".to_owned())]);
}

#[test]
fn the_url_traefik_published_is_read_for_this_unit() {
    let app = json_bag(&fixture("remote-app.json"));
    assert_eq!(
        unit_url(&app, UNIT).unwrap().as_deref(),
        Some("http://10.0.0.100/cos-prometheus-k8s-0")
    );
    // The URL prometheus-k8s then ran with.
    let workload = fixture("workload.json");
    let command = workload["final"]["command"].as_str().unwrap();
    assert!(command.contains(
        "--web.external-url=http://10.0.0.100/cos-prometheus-k8s-0 --web.route-prefix=/"
    ));
    // Another unit's entry is not ours.
    assert_eq!(unit_url(&app, "prometheus-k8s/1").unwrap(), None);
}

proptest! {
    /// Whatever the provider writes, the parser returns (no panic); a URL it accepts is an
    /// http(s) URL without blanks, quotes or a trailing `/`.
    #[test]
    fn any_provider_data_is_parsed_without_panic(raw in ".{0,200}") {
        let app = Databag::from([(INGRESS_KEY.to_owned(), raw)]);
        if let Ok(Some(url)) = unit_url(&app, UNIT) {
            prop_assert!(url.starts_with("http://") || url.starts_with("https://"));
            prop_assert!(!url.ends_with('/'));
            prop_assert!(!url.chars().any(|c| c.is_whitespace() || c == '"' || c == '\''));
        }
    }

    /// A well-formed mapping gives back each unit's URL (minus a trailing `/`).
    #[test]
    fn well_formed_mappings_round_trip(
        host in "[a-z][a-z0-9.-]{0,20}",
        path in "(/[a-z0-9_-]{1,10}){0,3}/?",
        n in 0u32..5,
        https in any::<bool>(),
    ) {
        let scheme = if https { "https" } else { "http" };
        let url = format!("{scheme}://{host}{path}");
        let yaml = format!("p/{n}:\n  url: {url}\nq/0:\n  url: 'x'\n");
        let app = Databag::from([(INGRESS_KEY.to_owned(), yaml)]);
        let got = unit_url(&app, &format!("p/{n}"));
        prop_assert_eq!(got, Ok(Some(url.trim_end_matches('/').to_owned())));
    }
}

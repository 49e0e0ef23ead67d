//! `tracing` (`workload-tracing`, `charm-tracing`): the request compared byte for byte with
//! what prometheus-k8s's requirers wrote, and the receivers read from what Tempo's real
//! provider library wrote (`tests/fixtures/tracing/`); a property test for the parser.

mod common;

use charm_interfaces::tracing_endpoint::{
    otlp_http_receiver, request_app_data, HttpReceiver, OTLP_HTTP, RECEIVERS_KEY,
};
use charm_interfaces::Databag;
use common::{json_bag, repo_fixture};
use proptest::prelude::*;

#[test]
fn the_request_is_byte_for_byte_what_the_library_writes() {
    for (endpoint, protocol) in [
        ("charm-tracing", "otlp_http"),
        ("workload-tracing", "otlp_grpc"),
    ] {
        let writes = repo_fixture(&format!("tracing/{endpoint}/prometheus-writes.json"));
        assert_eq!(
            request_app_data(&[protocol]),
            json_bag(&writes["final"]["app"]),
            "{endpoint}"
        );
        // Already written at relation-created.
        assert_eq!(
            json_bag(&writes["per_hook"][0]["app"]),
            json_bag(&writes["final"]["app"])
        );
    }
}

#[test]
fn the_http_receiver_tempo_published_is_read() {
    let tempo = json_bag(&repo_fixture("tracing/charm-tracing/remote-app.json"));
    assert_eq!(
        otlp_http_receiver(&tempo).unwrap(),
        Some(HttpReceiver {
            url: "http://tempo.cos.svc.cluster.local:4318".into(),
            endpoint: "tempo.cos.svc.cluster.local:4318".into(),
            tls: false,
        })
    );
    // A provider that runs only the grpc receiver has not answered the http request yet.
    let grpc_only = json_bag(&repo_fixture("tracing/workload-tracing/remote-app.json"));
    assert_eq!(otlp_http_receiver(&grpc_only).unwrap(), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever the provider writes, the parser answers, and an accepted receiver's endpoint
    /// is a `host:port` without scheme or path.
    #[test]
    fn any_receivers_value_is_answered(raw in ".{0,200}", url in "\\PC{0,60}") {
        for text in [
            raw.clone(),
            serde_json::json!([{"protocol": {"name": OTLP_HTTP, "type": "http"}, "url": url}])
                .to_string(),
        ] {
            let bag = Databag::from([(RECEIVERS_KEY.to_owned(), text)]);
            if let Ok(Some(r)) = otlp_http_receiver(&bag) {
                prop_assert!(!r.endpoint.contains('/'), "{:?}", r);
                prop_assert!(r.endpoint.contains(':'), "{:?}", r);
            }
        }
    }
}

//! `loki_push_api` (`logging`): the push URL read from what Loki's real provider library
//! wrote, the log target labels and the leader's databag compared with what prometheus-k8s
//! (the library's `LogForwarder`) wrote (`tests/fixtures/loki_push_api/`); a property test
//! for the parser.

mod common;

use std::collections::BTreeMap;

use charm_interfaces::loki_push_api::{app_data, labels, push_url, LogTopology, ENDPOINT_KEY};
use charm_interfaces::Databag;
use common::{json_bag, repo_fixture};
use proptest::prelude::*;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    repo_fixture(&format!("loki_push_api/{name}"))
}

const TOPOLOGY: LogTopology<'static> = LogTopology {
    model: "cos",
    model_uuid: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    application: "prometheus-k8s",
    unit: "prometheus-k8s/0",
    charm_name: "prometheus-k8s",
};

/// The log target prometheus-k8s added for `loki/0`.
fn their_target() -> Value {
    fixture("workload.json")["final"]["layers"]["prometheus-log-forwarding"]["log-targets"]
        ["loki/0"]
        .clone()
}

#[test]
fn the_push_url_is_the_one_the_log_target_points_at() {
    let units = fixture("remote-units.json");
    let url = push_url(&json_bag(&units["loki/0"])).unwrap();
    assert_eq!(url.as_deref(), their_target()["location"].as_str());
}

#[test]
fn the_labels_are_those_of_the_library() {
    let theirs: BTreeMap<String, String> = json_bag(&their_target()["labels"]).into();
    let ours: BTreeMap<String, String> = labels(&TOPOLOGY).into_iter().collect();
    assert_eq!(ours, theirs);
    // The target itself: one per Loki unit, named after it, every service, replacing.
    let target = their_target();
    assert_eq!(target["type"], "loki");
    assert_eq!(target["override"], "replace");
    assert_eq!(target["services"], serde_json::json!(["all"]));
}

#[test]
fn the_leaders_databag_is_byte_for_byte_prometheus_k8s() {
    let writes = fixture("prometheus-writes.json");
    assert_eq!(app_data(&TOPOLOGY), json_bag(&writes["final"]["app"]));
    assert!(writes["final"]["unit"]["prometheus-k8s/0"]
        .as_object()
        .unwrap()
        .is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever a Loki unit writes, the parser answers (never panics), and a URL it accepts is
    /// an http(s) URL of printable ASCII.
    #[test]
    fn any_endpoint_value_is_answered(raw in ".{0,200}") {
        let bag = Databag::from([(ENDPOINT_KEY.to_owned(), raw)]);
        if let Ok(Some(url)) = push_url(&bag) {
            prop_assert!(url.starts_with("http://") || url.starts_with("https://"));
            prop_assert!(url.chars().all(|c| c.is_ascii_graphic()));
        }
    }

    /// A well-formed endpoint gives back its URL exactly.
    #[test]
    fn a_well_formed_endpoint_round_trips(
        host in "[a-z][a-z0-9-]{0,20}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
        port in 1u16..,
        path in "(/[a-z0-9._-]{1,10}){0,4}",
    ) {
        let url = format!("http://{host}:{port}{path}");
        let bag = Databag::from([(
            ENDPOINT_KEY.to_owned(),
            serde_json::json!({ "url": url }).to_string(),
        )]);
        prop_assert_eq!(push_url(&bag).unwrap(), Some(url));
    }
}

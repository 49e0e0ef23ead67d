//! `grafana_datasource_exchange` (`send-datasource`): the `datasources` key built from what
//! Grafana's real library wrote on `grafana-source` (`tests/fixtures/grafana_datasource/`),
//! compared byte for byte with what prometheus-k8s wrote
//! (`tests/fixtures/grafana_datasource_exchange/`); a property test for the parser.

mod common;

use std::collections::BTreeMap;

use charm_interfaces::datasource_exchange::{app_data, grafana_uids, GrafanaUids};
use charm_interfaces::Databag;
use common::{json_bag, repo_fixture};
use proptest::prelude::*;
use serde_json::Value;

#[test]
fn datasources_are_byte_for_byte_prometheus_k8s() {
    let grafana = json_bag(&repo_fixture("grafana_datasource/remote-app.json"));
    let uids = grafana_uids(&grafana).unwrap().expect("Grafana answered");
    let ours = app_data(&[uids]);
    let theirs = json_bag(
        &repo_fixture("grafana_datasource_exchange/prometheus-writes.json")["final"]["app"],
    );
    assert_eq!(ours, theirs);
    // What the remote library read back.
    let read = &repo_fixture("grafana_datasource_exchange/remote-reads.json")
        ["DatasourceExchange.received_datasources"];
    let ours: Value = serde_json::from_str(&ours["datasources"]).unwrap();
    assert_eq!(&ours, read);
}

#[test]
fn no_grafana_answer_yet_and_bad_answers() {
    assert_eq!(grafana_uids(&Databag::new()), Ok(None));
    let only_uid = Databag::from([("grafana_uid".to_owned(), "g".to_owned())]);
    assert_eq!(grafana_uids(&only_uid), Ok(None));
    assert_eq!(app_data(&[])["datasources"], "[]");
    for bad in ["{", "[1]", r#"{"p/0": 3}"#] {
        let mut data = only_uid.clone();
        data.insert("datasource_uids".to_owned(), bad.to_owned());
        let err = grafana_uids(&data).unwrap_err();
        assert!(err.contains("datasource_uids"), "{bad}: {err}");
    }
}

#[test]
fn several_grafanas_and_units_are_sorted_by_uid() {
    let g = |grafana: &str, uids: &[(&str, &str)]| GrafanaUids {
        grafana_uid: grafana.to_owned(),
        datasource_uids: uids
            .iter()
            .map(|(u, d)| ((*u).to_owned(), (*d).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    };
    let data = app_data(&[
        g("g2", &[("p/0", "b"), ("p/1", "a")]),
        g("g1", &[("p/0", "c")]),
    ]);
    assert_eq!(
        data["datasources"],
        r#"[{"type":"prometheus","uid":"a","grafana_uid":"g2"},{"type":"prometheus","uid":"b","grafana_uid":"g2"},{"type":"prometheus","uid":"c","grafana_uid":"g1"}]"#
    );
}

proptest! {
    /// Whatever Grafana writes, the parser answers without panicking, and what it accepts
    /// serialises to a JSON list.
    #[test]
    fn any_grafana_data_is_parsed_without_panic(uid in ".{0,20}", raw in ".{0,120}") {
        let data = Databag::from([
            ("grafana_uid".to_owned(), uid),
            ("datasource_uids".to_owned(), raw),
        ]);
        if let Ok(Some(g)) = grafana_uids(&data) {
            let out = app_data(&[g]);
            let list: Value = serde_json::from_str(&out["datasources"]).unwrap();
            prop_assert!(list.is_array());
        }
    }

    /// Well-formed answers round-trip: one entry per unit.
    #[test]
    fn well_formed_answers_give_one_entry_per_unit(
        uids in proptest::collection::btree_map("p/[0-9]{1,2}", "[a-z0-9_-]{1,30}", 0..5)
    ) {
        let data = Databag::from([
            ("grafana_uid".to_owned(), "g".to_owned()),
            ("datasource_uids".to_owned(), serde_json::to_string(&uids).unwrap()),
        ]);
        let g = grafana_uids(&data).unwrap().unwrap();
        prop_assert_eq!(&g.datasource_uids, &uids);
        let list: Vec<Value> = serde_json::from_str(&app_data(&[g])["datasources"]).unwrap();
        let mut distinct: Vec<&String> = uids.values().collect();
        distinct.sort();
        distinct.dedup();
        prop_assert_eq!(list.len(), distinct.len());
    }
}

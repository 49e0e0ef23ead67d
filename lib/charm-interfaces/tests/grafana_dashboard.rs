//! `grafana_dashboard` (`grafana-dashboard`): the encoding checked against what prometheus-k8s's
//! `GrafanaDashboardProvider` wrote (`tests/fixtures/grafana_dashboard/`): its compressed
//! content decodes to the captured dashboard, and the same source dashboard encoded here gives
//! the same bag (template key, uid, alt uid, tag, topology, the dashboard text byte for byte),
//! the random `uuid` and the compressed bytes aside.

mod common;

use charm_interfaces::grafana_dashboard::{
    alt_uid, app_data, compress, dashboard_uid, decompress, DashboardSource, DASHBOARDS_KEY,
};
use common::repo_fixture;
use proptest::prelude::*;
use serde_json::Value;

const FILE: &str = "prometheus-k8s_rev1.json.tmpl";
const KEY: &str = "file:prometheus-k8s_rev1.json";

const SOURCE: DashboardSource<'static> = DashboardSource {
    charm_name: "prometheus-k8s",
    model: "cos",
    model_uuid: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    application: "prometheus-k8s",
    unit: "prometheus-k8s/0",
};

/// The `dashboards` value prometheus-k8s wrote.
fn theirs() -> String {
    repo_fixture("grafana_dashboard/prometheus-writes.json")["final"]["app"][DASHBOARDS_KEY]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The dashboard text Grafana's library decoded (its `json.dumps`).
fn their_dashboard() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/grafana_dashboard/dashboard-content.json");
    std::fs::read_to_string(path)
        .unwrap()
        .trim_end_matches('\n')
        .to_owned()
}

#[test]
fn the_librarys_content_decodes_to_the_captured_dashboard() {
    let bag: Value = serde_json::from_str(&theirs()).unwrap();
    let content = bag["templates"][KEY]["content"].as_str().unwrap();
    assert_eq!(decompress(content).unwrap(), their_dashboard());
}

#[test]
fn the_same_source_gives_the_same_bag_as_the_library() {
    // The source template: the captured dashboard without what the library added.
    let mut source: serde_json::Map<String, Value> =
        serde_json::from_str(&their_dashboard()).unwrap();
    let decoded = repo_fixture("grafana_dashboard/dashboards-decoded.json");
    let meta = &decoded["templates"][KEY];
    assert_eq!(source["uid"], meta["content_decoded"]["uid"]);
    assert_eq!(
        source["uid"].as_str(),
        Some(dashboard_uid("prometheus-k8s", FILE).as_str())
    );
    assert_eq!(
        meta["dashboard_alt_uid"].as_str(),
        Some(alt_uid("prometheus-k8s", KEY).as_str())
    );
    assert_eq!(source["tags"], serde_json::json!(["charm: prometheus-k8s"]));
    // serde_json's map is sorted, so rebuild the source text from the captured text itself.
    let text = their_dashboard();
    let uid = format!(", \"uid\": \"{}\"}}", source["uid"].as_str().unwrap());
    assert!(text.ends_with(&uid), "uid is the last key");
    let src = text[..text.len() - uid.len()].to_owned() + "}";
    let src = src.replace("\"tags\": [\"charm: prometheus-k8s\"]", "\"tags\": []");
    source.remove("uid");

    let ours = app_data(&SOURCE, &[(FILE, &src)]).unwrap();
    let ours: Value = serde_json::from_str(&ours[DASHBOARDS_KEY]).unwrap();
    let their_raw = theirs();
    let theirs: Value = serde_json::from_str(&their_raw).unwrap();
    // The dashboard itself, byte for byte after decompression.
    let our_content = ours["templates"][KEY]["content"].as_str().unwrap();
    assert_eq!(decompress(our_content).unwrap(), their_dashboard());
    // Everything else but the (random there, derived here) uuid and the compressed bytes.
    let strip = |mut v: Value| {
        v["templates"][KEY]["content"] = Value::Null;
        v["uuid"] = Value::Null;
        v
    };
    assert_eq!(strip(ours.clone()), strip(theirs.clone()));
    // And the text around them, as json.dumps writes it.
    let text = |v: &Value, raw: &str| {
        let content = v["templates"][KEY]["content"].as_str().unwrap().to_owned();
        let uuid = v["uuid"].as_str().unwrap().to_owned();
        raw.replace(&content, "<content>").replace(&uuid, "<uuid>")
    };
    let our_raw = app_data(&SOURCE, &[(FILE, &src)]).unwrap()[DASHBOARDS_KEY].clone();
    assert_eq!(text(&ours, &our_raw), text(&theirs, &their_raw));
}

#[test]
fn the_bag_changes_only_with_the_dashboards() {
    let a = app_data(&SOURCE, &[("d.json", r#"{"title": "a"}"#)]).unwrap();
    assert_eq!(
        a,
        app_data(&SOURCE, &[("d.json", r#"{"title": "a"}"#)]).unwrap()
    );
    let b = app_data(&SOURCE, &[("d.json", r#"{"title": "b"}"#)]).unwrap();
    let uuid = |bag: &charm_interfaces::Databag| {
        serde_json::from_str::<Value>(&bag[DASHBOARDS_KEY]).unwrap()["uuid"].clone()
    };
    assert_ne!(uuid(&a), uuid(&b));
    assert!(app_data(&SOURCE, &[("d.json", "not json")]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any text survives compression and decoding.
    #[test]
    fn compression_round_trips(text in "\\PC{0,2000}") {
        prop_assert_eq!(decompress(&compress(&text)).unwrap(), text);
    }

    /// Whatever Grafana might be handed back, decoding answers without panicking.
    #[test]
    fn decoding_anything_answers(raw in ".{0,300}") {
        let _ = decompress(&raw);
    }
}

/// Grafana's charm decodes `content` with Python's `lzma.decompress(base64.b64decode(...))`
/// (cosl's `LZMABase64`): run exactly that on what this crate compresses, when python3 is on
/// the machine (skipped otherwise, failing on CI).
#[test]
fn pythons_lzma_decodes_the_content() {
    let text = r#"{"title": "Prometheus", "panels": [], "note": "\u00e9"}"#.repeat(20);
    let script = "import base64, lzma, sys\n\
                  sys.stdout.write(lzma.decompress(base64.b64decode(sys.stdin.read())).decode())";
    let child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 is missing"
        );
        eprintln!("SKIPPED: no python3");
        return;
    };
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(compress(&text).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), text);
}

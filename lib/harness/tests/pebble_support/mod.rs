//! Helpers shared by the fake Pebble tests: a started fake and raw HTTP over its socket.

#![allow(dead_code)]

use std::time::Duration;

use charm_harness::FakePebble;
use serde_json::Value;

/// A fake Pebble in a fresh temporary directory (kept alive by the returned guard).
pub fn fake() -> (tempfile::TempDir, FakePebble) {
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = FakePebble::start(dir.path());
    (dir, fake)
}

/// The real client on the fake's socket.
pub fn client(fake: &FakePebble) -> pebble::Client {
    pebble::Client::new(fake.socket_path())
}

fn http(fake: &FakePebble) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .unix_socket(fake.socket_path().to_path_buf())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

/// Sends a raw request (JSON body if given) and returns status and the raw body text.
pub fn raw(
    fake: &FakePebble,
    method: &str,
    path_and_query: &str,
    body: Option<Value>,
) -> (u16, String) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = http(fake)
        .request(method, format!("http://localhost{path_and_query}"))
        .header("Accept", "application/json");
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().expect("request");
    let status = response.status().as_u16();
    (status, response.text().expect("body"))
}

/// Like [`raw`], parsing the body as JSON.
pub fn raw_json(
    fake: &FakePebble,
    method: &str,
    path_and_query: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let (status, text) = raw(fake, method, path_and_query, body);
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, value)
}

/// The layer the recording used: two enabled services and an exec check.
pub const DEMO_LAYER: &str = "summary: demo layer\nservices:\n  sleeper:\n    override: replace\n    summary: sleeps\n    command: sleep 1000\n    startup: enabled\n  ticker:\n    override: replace\n    summary: prints a line every second\n    command: sh -c \"while true; do echo tick; sleep 1; done\"\n    startup: enabled\nchecks:\n  sleeper-alive:\n    override: replace\n    period: 2s\n    exec:\n      command: pgrep -f \"sleep 1000\"\n";

/// Adds [`DEMO_LAYER`] under label `demo` through the raw API.
pub fn add_demo_layer(fake: &FakePebble) {
    let body = serde_json::json!({"action": "add", "combine": true, "label": "demo", "format": "yaml", "layer": DEMO_LAYER});
    let (status, _) = raw(fake, "POST", "/v1/layers", Some(body));
    assert_eq!(status, 200);
}

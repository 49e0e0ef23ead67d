//! The fake Pebble answers with the bodies and status codes recorded from a real Pebble v1.32.1.

mod pebble_support;

use pebble_support::{add_demo_layer, client, fake, raw, raw_json};
use serde_json::json;

#[test]
fn system_info_has_the_recorded_shape() {
    let (_dir, fake) = fake();
    let (status, body) = raw_json(&fake, "GET", "/v1/system-info", None);
    assert_eq!(status, 200);
    assert_eq!(body["type"], "sync");
    assert_eq!(body["status-code"], 200);
    assert_eq!(body["status"], "OK");
    assert_eq!(body["result"]["version"], "v1.32.1");
    let boot_id = body["result"]["boot-id"].as_str().unwrap();
    assert_eq!(boot_id.len(), 36, "uuid-shaped boot id: {boot_id}");
    assert_eq!(boot_id, fake.boot_id());

    let info = client(&fake).system_info().unwrap();
    assert_eq!(info.version, "v1.32.1");
}

#[test]
fn add_layer_answers_true_and_plan_prints_like_pebble() {
    let (_dir, fake) = fake();
    let (status, text) = raw(&fake, "GET", "/v1/plan?format=yaml", None);
    assert_eq!(status, 200);
    assert_eq!(
        text,
        r#"{"type":"sync","status-code":200,"status":"OK","result":"{}\n"}"#
    );

    let layer = json!({"action": "add", "combine": true, "label": "demo", "format": "yaml",
                       "layer": pebble_support::DEMO_LAYER});
    let (status, body) = raw_json(&fake, "POST", "/v1/layers", Some(layer));
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"type": "sync", "status-code": 200, "status": "OK", "result": true})
    );

    let (_, body) = raw_json(&fake, "GET", "/v1/plan?format=yaml", None);
    let recorded = "services:\n    sleeper:\n        summary: sleeps\n        startup: enabled\n        override: replace\n        command: sleep 1000\n    ticker:\n        summary: prints a line every second\n        startup: enabled\n        override: replace\n        command: sh -c \"while true; do echo tick; sleep 1; done\"\nchecks:\n    sleeper-alive:\n        override: replace\n        period: 2s\n        threshold: 3\n        exec:\n            command: pgrep -f \"sleep 1000\"\n";
    assert_eq!(body["result"], recorded);
    assert_eq!(fake.plan_yaml(), recorded);
    assert_eq!(fake.layers().len(), 1);
    assert_eq!(fake.layers()[0].0, "demo");
    let (status, body) = raw_json(&fake, "GET", "/v1/plan", None);
    assert_eq!(status, 400);
    assert_eq!(body["result"]["message"], "invalid format \"\"");

    // The real client parses it back to the same plan the fake holds.
    assert_eq!(client(&fake).get_plan().unwrap(), fake.plan());
}

#[test]
fn layer_errors_are_pebbles_400s() {
    let (_dir, fake) = fake();
    let add = |label: &str, combine: bool, layer: &str| {
        raw_json(
            &fake,
            "POST",
            "/v1/layers",
            Some(
                json!({"action": "add", "combine": combine, "label": label, "format": "yaml", "layer": layer}),
            ),
        )
    };
    let (status, body) = add("", true, "{}");
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"type": "error", "status-code": 400, "status": "Bad Request", "result": {"message": "label must be set"}})
    );
    let (status, body) = add("x", true, "services:\n  a:\n    command: sleep 1\n");
    assert_eq!(status, 400);
    assert_eq!(
        body["result"]["message"],
        "layer \"x\" must define \"override\" for service \"a\""
    );
    let (status, body) = add("x", true, "bogus: 1\n");
    assert_eq!(status, 400);
    assert!(body["result"]["message"]
        .as_str()
        .unwrap()
        .starts_with("cannot parse layer YAML"));

    let ok = "services:\n  a:\n    override: replace\n    command: sleep 1\n";
    assert_eq!(add("x", false, ok).0, 200);
    let (status, body) = add("x", false, ok);
    assert_eq!(status, 400);
    assert_eq!(body["result"]["message"], "layer \"x\" already exists");
    // Nothing half-applied: still one layer.
    assert_eq!(fake.layers().len(), 1);
}

#[test]
fn services_and_changes_match_the_recording() {
    let (_dir, fake) = fake();
    add_demo_layer(&fake);
    let (status, body) = raw_json(&fake, "GET", "/v1/services", None);
    assert_eq!(status, 200);
    assert_eq!(body["result"][0]["name"], "sleeper");
    assert_eq!(body["result"][0]["current"], "inactive");
    assert_eq!(body["result"][0]["startup"], "enabled");

    let (status, body) = raw_json(
        &fake,
        "POST",
        "/v1/services",
        Some(json!({"action": "replan"})),
    );
    assert_eq!(status, 202);
    // As recorded: the layer's check runs as change 1, so the replan is change 2.
    assert_eq!(
        body,
        json!({"type": "async", "status-code": 202, "status": "Accepted", "change": "2", "result": null})
    );
    let (status, body) = raw_json(&fake, "GET", "/v1/changes/2/wait?timeout=10s", None);
    assert_eq!(status, 200);
    let change = &body["result"];
    assert_eq!(change["id"], "2");
    assert_eq!(change["kind"], "replan");
    assert_eq!(change["summary"], "Replan service \"sleeper\" and 1 more");
    assert_eq!(change["status"], "Done");
    assert_eq!(change["ready"], true);
    assert!(change.get("err").is_none());
    assert!(change["ready-time"].as_str().unwrap().ends_with('Z'));
    let tasks = change["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0]["kind"], "start");
    assert_eq!(tasks[0]["summary"], "Start service \"sleeper\"");
    assert_eq!(tasks[1]["summary"], "Start service \"ticker\"");
    assert_eq!(
        tasks[0]["progress"],
        json!({"label": "", "done": 1, "total": 1})
    );

    let (_, body) = raw_json(&fake, "GET", "/v1/services?names=sleeper", None);
    let list = body["result"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["current"], "active");
    assert!(list[0]["current-since"].as_str().is_some());

    let (_, body) = raw_json(&fake, "GET", "/v1/changes/2", None);
    assert_eq!(body["result"]["status"], "Done");
    let (_, body) = raw_json(&fake, "GET", "/v1/changes?select=all", None);
    let all = body["result"].as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["kind"], "perform-check");
    assert_eq!(all[0]["summary"], "Perform exec check \"sleeper-alive\"");
    assert_eq!(all[0]["status"], "Doing");
    assert_eq!(all[0]["tasks"][0]["kind"], "perform-check");

    let (status, text) = raw(&fake, "GET", "/v1/changes/999", None);
    assert_eq!(status, 404);
    assert_eq!(
        text,
        r#"{"type":"error","status-code":404,"status":"Not Found","result":{"message":"cannot find change with id \"999\""}}"#
    );
}

#[test]
fn restart_and_stop_changes_have_the_recorded_tasks() {
    let (_dir, fake) = fake();
    add_demo_layer(&fake);
    raw(
        &fake,
        "POST",
        "/v1/services",
        Some(json!({"action": "replan"})),
    );
    let (_, body) = raw_json(
        &fake,
        "POST",
        "/v1/services",
        Some(json!({"action": "restart", "services": ["sleeper"]})),
    );
    let id = body["change"].as_str().unwrap().to_string();
    let (_, body) = raw_json(
        &fake,
        "GET",
        &format!("/v1/changes/{id}/wait?timeout=10s"),
        None,
    );
    assert_eq!(body["result"]["summary"], "Restart service \"sleeper\"");
    let kinds: Vec<&str> = body["result"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["stop", "start"]);

    let (_, body) = raw_json(
        &fake,
        "POST",
        "/v1/services",
        Some(json!({"action": "stop", "services": ["sleeper", "ticker"]})),
    );
    let id = body["change"].as_str().unwrap().to_string();
    let (_, body) = raw_json(
        &fake,
        "GET",
        &format!("/v1/changes/{id}/wait?timeout=10s"),
        None,
    );
    assert_eq!(
        body["result"]["summary"],
        "Stop service \"sleeper\" and 1 more"
    );
    let (_, body) = raw_json(&fake, "GET", "/v1/services", None);
    for service in body["result"].as_array().unwrap() {
        assert_eq!(service["current"], "inactive");
    }
}

#[test]
fn service_action_errors_are_pebbles_400s() {
    let (_dir, fake) = fake();
    add_demo_layer(&fake);
    let post = |body| raw_json(&fake, "POST", "/v1/services", Some(body));
    let (status, body) = post(json!({"action": "start", "services": []}));
    assert_eq!(status, 400);
    assert_eq!(
        body["result"]["message"],
        "must specify services for start action"
    );
    let (_, body) = post(json!({"action": "start", "services": ["nope"]}));
    assert_eq!(
        body["result"]["message"],
        "cannot start services: service \"nope\" does not exist"
    );
    let (_, body) = post(json!({"action": "replan", "services": ["sleeper"]}));
    assert_eq!(body["result"]["message"], "replan accepts no service names");
    let (_, body) = post(json!({"action": "dance"}));
    assert_eq!(body["result"]["message"], "invalid action \"dance\"");
}

#[test]
fn unknown_endpoints_and_methods() {
    let (_dir, fake) = fake();
    let (status, body) = raw_json(&fake, "GET", "/v1/warnings", None);
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"type": "error", "status-code": 404, "status": "Not Found",
               "result": {"message": "invalid API endpoint requested"}})
    );
    let (status, body) = raw_json(&fake, "DELETE", "/v1/services", None);
    assert_eq!(status, 405);
    assert_eq!(body["result"]["message"], "method \"DELETE\" not allowed");
}

#[test]
fn checks_and_health_follow_the_plan() {
    let (_dir, fake) = fake();
    add_demo_layer(&fake);
    // The recorded entry, before the first probe (a period after the layer was added).
    let (_, body) = raw_json(&fake, "GET", "/v1/checks", None);
    assert_eq!(
        body["result"],
        json!([{"name": "sleeper-alive", "startup": "enabled", "status": "up", "successes": 0,
                "threshold": 3, "change-id": "1"}])
    );
    let (status, body) = raw_json(&fake, "GET", "/v1/health", None);
    assert_eq!(
        (status, body["result"]["healthy"].clone()),
        (200, json!(true))
    );

    // A pinned status wins over the probes; 502 comes as a sync envelope, as recorded.
    fake.set_check_status("sleeper-alive", charm_harness::pebble::CheckStatus::Down);
    let (status, text) = raw(&fake, "GET", "/v1/health", None);
    assert_eq!(status, 502);
    assert_eq!(
        text,
        r#"{"type":"sync","status-code":502,"status":"Bad Gateway","result":{"healthy":false}}"#
    );
    let checks = client(&fake).checks(None, &[]).unwrap();
    assert_eq!(checks[0].status, pebble::CheckStatus::Down);
    assert!(!client(&fake).health(None).unwrap());
    fake.clear_check_status("sleeper-alive");
    assert!(client(&fake).health(None).unwrap());
}

#[test]
fn signals_reach_running_services_only() {
    let (_dir, fake) = fake();
    add_demo_layer(&fake);
    let c = client(&fake);
    let err = c.send_signal("SIGHUP", &["sleeper"]).unwrap_err();
    assert!(err.to_string().contains("service is not running"), "{err}");
    c.replan(std::time::Duration::from_secs(5)).unwrap();
    c.send_signal("SIGHUP", &["sleeper"]).unwrap();
    assert_eq!(
        fake.signals(),
        [("sleeper".to_string(), "SIGHUP".to_string())]
    );
}

#[test]
fn requests_are_recorded_with_their_json_bodies() {
    let (_dir, fake) = fake();
    raw(&fake, "GET", "/v1/services?names=a,b", None);
    raw(
        &fake,
        "POST",
        "/v1/services",
        Some(json!({"action": "replan"})),
    );
    let requests = fake.requests();
    assert_eq!(fake.request_count(), 2);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/v1/services");
    assert_eq!(requests[0].query, "names=a,b");
    assert_eq!(requests[0].body_json, None);
    assert_eq!(requests[1].body_json, Some(json!({"action": "replan"})));
    fake.clear_requests();
    assert_eq!(fake.request_count(), 0);
}

#[test]
fn a_mapped_check_address_reaches_the_fake_prometheus_web_api() {
    let (_dir, fake) = fake();
    let web = charm_harness::FakePrometheusWeb::start();
    fake.map_check_address("localhost:9090", &format!("127.0.0.1:{}", web.port()));
    let layer = "checks:\n  prometheus-ready:\n    override: replace\n    level: ready\n    period: 300ms\n    timeout: 250ms\n    threshold: 2\n    http:\n      url: http://localhost:9090/-/ready\n";
    let body =
        json!({"action": "add", "combine": true, "label": "l", "format": "yaml", "layer": layer});
    assert_eq!(raw(&fake, "POST", "/v1/layers", Some(body)).0, 200);
    let c = client(&fake);
    let check = || c.checks(None, &[]).unwrap().remove(0);
    let wait = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "timed out: {what}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    wait("a success", &|| check().successes > 0);
    assert!(c.health(Some(pebble::CheckLevel::Ready)).unwrap());

    web.set_ready(false);
    wait("down at the threshold", &|| {
        check().status == pebble::CheckStatus::Down
    });
    assert!(check().failures >= 2);
    assert_eq!(
        fake.check("prometheus-ready").unwrap().change_id,
        check().change_id.map(|id| id.parse().unwrap())
    );
    assert!(!c.health(Some(pebble::CheckLevel::Ready)).unwrap());
    // The failing change ended in Error with Pebble's message; a recover-check runs now.
    let changes = fake.changes();
    let failed = changes
        .iter()
        .find(|c| c["kind"] == "perform-check")
        .unwrap();
    assert_eq!(failed["status"], "Error");
    assert!(
        failed["err"]
            .as_str()
            .unwrap()
            .contains("non-2xx status code 503"),
        "{failed}"
    );
    assert!(changes
        .iter()
        .any(|c| c["kind"] == "recover-check" && c["status"] == "Doing"));

    web.set_ready(true);
    wait("up again", &|| check().status == pebble::CheckStatus::Up);
    assert!(check().prev_change_id.is_some());
    assert!(c.health(Some(pebble::CheckLevel::Ready)).unwrap());
}

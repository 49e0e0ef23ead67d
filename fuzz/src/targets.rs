//! One function per fuzz target (see `lib.rs`).

use std::collections::BTreeMap;

use charm_interfaces::{alert_rules, remote_write, Databag, RelationView};
use prometheus_rs_k8s::core::layer::{
    build_layer, inventory_args, prometheus_args, InventoryService,
};
use prometheus_rs_k8s::CharmConfig;

/// Longest message a refusal may carry (it reaches `juju status` and the provider's databag).
const MAX_MESSAGE: usize = 2048;

const METADATA: &str = r#"{"model":"m","model_uuid":"12345678-0000-4000-8000-000000000000","application":"fz","unit":"fz/0","charm_name":"fz-k8s"}"#;

/// First byte: flags; the rest: text.
fn split(data: &[u8]) -> (u8, String) {
    match data.split_first() {
        Some((flags, rest)) => (*flags, String::from_utf8_lossy(rest).into_owned()),
        None => (0, String::new()),
    }
}

fn unit_bag() -> Databag {
    [
        ("prometheus_scrape_unit_address", "10.0.0.7"),
        ("prometheus_scrape_unit_name", "fz/0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn check_errors(errors: &[charm_interfaces::scrape::AppError], id: u32) {
    for e in errors {
        assert_eq!((e.relation_id, e.app.as_str()), (id, "fz"), "{e:?}");
        assert!(e.message.len() <= MAX_MESSAGE, "{} bytes", e.message.len());
    }
}

/// `scrape_jobs` of a metrics-endpoint databag, with or without `scrape_metadata` (flag bit 0).
pub fn scrape_jobs(data: &[u8]) {
    let (flags, text) = split(data);
    let mut app = Databag::new();
    app.insert("scrape_jobs".into(), text);
    if flags & 1 == 1 {
        app.insert("scrape_metadata".into(), METADATA.into());
    }
    let unit = unit_bag();
    let view = RelationView {
        endpoint: "metrics-endpoint",
        id: 3,
        app: "fz",
        app_data: &app,
        units: vec![("fz/0", &unit)],
    };
    let out = charm_interfaces::scrape::scrape_jobs(std::slice::from_ref(&view));
    check_errors(&out.per_app_errors, 3);
    for job in &out.job_maps() {
        assert!(!job.keys().any(|k| k.ends_with("_sd_configs")), "{job:?}");
        assert!(job
            .get("job_name")
            .and_then(|n| n.as_str())
            .is_some_and(|n| !n.is_empty()));
    }
}

/// `alert_rules` of a metrics-endpoint databag (flag bit 0: with metadata) and of a
/// remote-write sender.
pub fn alert_rules(data: &[u8]) {
    let (flags, text) = split(data);
    let mut app = Databag::new();
    app.insert("alert_rules".into(), text.clone());
    app.insert("scrape_jobs".into(), "[]".into());
    if flags & 1 == 1 {
        app.insert("scrape_metadata".into(), METADATA.into());
        app.insert("metadata".into(), METADATA.into());
    }
    let unit = unit_bag();
    let view = RelationView {
        endpoint: "metrics-endpoint",
        id: 4,
        app: "fz",
        app_data: &app,
        units: vec![("fz/0", &unit)],
    };
    let out = alert_rules::scrape_rule_files(std::slice::from_ref(&view));
    check_errors(&out.per_app_errors, 4);
    for (name, content) in &out.files {
        assert!(!name.contains('/'), "{name:?}");
        assert!(!content.is_empty());
    }
    let view = RelationView {
        endpoint: "receive-remote-write",
        ..view
    };
    let out = remote_write::sender_rule_files(std::slice::from_ref(&view));
    check_errors(&out.per_app_errors, 4);
}

/// Config options as `config-get --format=json` hands them over (any JSON; non-objects are
/// ignored), then the layer: each command splits back into exactly the charm's arguments.
pub fn config_options(data: &[u8]) {
    let Ok(serde_json::Value::Object(options)) = serde_json::from_slice(data) else {
        return;
    };
    let config = match CharmConfig::from_options(&options) {
        Ok(c) => c,
        Err(errors) => {
            // Each error names an option that was given, or the default whose relation to a
            // given option fails (timeouts must stay below their intervals).
            let partner = |o: &str| match o {
                "inventory_timeout" => Some("inventory_poll_interval"),
                "scrape_timeout" => Some("scrape_interval"),
                _ => None,
            };
            for e in errors.errors() {
                let given = options.contains_key(&e.option)
                    || partner(&e.option).is_some_and(|p| options.contains_key(p));
                assert!(given, "{e}");
            }
            let status = errors.status_message();
            assert!(!status.contains('\n'), "{status:?}");
            assert!(status.len() <= 4 * MAX_MESSAGE, "{} bytes", status.len());
            return;
        }
    };
    let layer = build_layer(&config, InventoryService::from_config(&config, false))
        .expect("a validated config always builds a layer");
    let mut expected = BTreeMap::new();
    expected.insert("prometheus", prometheus_args(&config));
    if let Some(inv) = &config.inventory {
        expected.insert("inventory-sd", inventory_args(inv));
        assert!(!inv.url.contains(['\n', '\r']), "{:?}", inv.url);
    }
    for (service, args) in expected {
        let command = layer.services[service]
            .command
            .as_deref()
            .unwrap_or_default();
        assert_eq!(shlex::split(command).as_ref(), Some(&args), "{command}");
    }
}

/// An inventory body as the poller receives it (first two bytes: the target port).
pub fn inventory_body(data: &[u8]) {
    let (port, body) = match data {
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]).max(1), rest),
        _ => (9100, data),
    };
    let labels = BTreeMap::new();
    let opts = inventory_sd::parse::ParseOptions {
        target_port: port,
        max_targets: 10_000,
        labels: &labels,
    };
    if let Ok(inventory) = inventory_sd::parse::parse_inventory(body, opts) {
        assert!(inventory.target_count() <= 10_000);
        // What is written reads back as the same groups.
        let rendered = inventory.render();
        let groups = inventory_sd::parse::parse_file_sd(&rendered).expect("own output parses");
        assert_eq!(groups, inventory.groups);
        // Nothing valid is a failed poll, and no group label overrides the scrape job's own.
        assert!(inventory.target_count() > 0 || inventory.skipped == 0);
        for g in &inventory.groups {
            assert!(g.labels.len() <= inventory_sd::labels::MAX_LABELS);
            for (k, v) in &g.labels {
                inventory_sd::labels::check_label(k, v).expect("group labels obey the rules");
            }
        }
    }
}

/// Pebble's answers: first two bytes the HTTP status, the rest the body, through every decoder;
/// the body also as plan YAML and as a multipart answer.
pub fn pebble_answers(data: &[u8]) {
    let (status, body) = match data {
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
        _ => (200, data),
    };
    let typed =
        |e: &pebble::Error| matches!(e, pebble::Error::Protocol(_) | pebble::Error::Api { .. });
    if let Err(e) = pebble::parse::envelope(status, body) {
        assert!(typed(&e), "{e:?}");
    }
    for e in [
        pebble::parse::plan_response(status, body).err(),
        pebble::parse::change_response(status, body).err(),
        pebble::parse::file_list_response(status, body).err(),
        pebble::parse::services_response(status, body).err(),
        pebble::parse::plan_yaml(&String::from_utf8_lossy(body)).err(),
        pebble::parse::multipart("multipart/form-data; boundary=fuzzboundary", body).err(),
    ]
    .into_iter()
    .flatten()
    {
        assert!(typed(&e), "{e:?}");
    }
}

/// A `render --model` snapshot: parsed and checked, and when accepted, the whole desired state
/// computed from it. Never a panic; an accepted snapshot has no problems left.
pub fn model_snapshot(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(snapshot) = prometheus_rs_k8s::cli::render::parse_snapshot(&text) else {
        return;
    };
    assert!(snapshot.problems().is_empty(), "{snapshot:?}");
    if let Ok(desired) = prometheus_rs_k8s::core::desired::desired_for(&snapshot) {
        for p in &desired.problems {
            assert!(
                p.message.len() <= 8 * MAX_MESSAGE,
                "{} bytes",
                p.message.len()
            );
        }
    }
}

/// What remote units publish in their own databags, under every key a relation parser reads:
/// the text (split at the first NUL into two values) as a unit's scrape address, name, path and
/// FQDN, as a remote-write receiver's `remote_write`, and as an Alertmanager's `url` or
/// `public_address`. A bad unit costs only itself: the good unit's target is always there, and
/// every target host is one Prometheus takes.
pub fn relation_units(data: &[u8]) {
    let (flags, text) = split(data);
    let (a, b) = text.split_once('\0').unwrap_or((&text, ""));
    let mut bag = Databag::new();
    let keys: &[&str] = if flags & 1 == 1 {
        &["prometheus_scrape_host", "prometheus_scrape_unit_path"]
    } else {
        &[
            "prometheus_scrape_unit_address",
            "prometheus_scrape_unit_fqdn",
        ]
    };
    bag.insert(keys[0].into(), a.to_owned());
    bag.insert(keys[1].into(), b.to_owned());
    if flags & 2 == 2 {
        bag.insert("prometheus_scrape_unit_name".into(), b.to_owned());
    }
    bag.insert("remote_write".into(), a.to_owned());
    bag.insert(
        if flags & 4 == 4 {
            "url"
        } else {
            "public_address"
        }
        .into(),
        a.to_owned(),
    );
    bag.insert("scheme".into(), b.to_owned());
    let good = unit_bag();
    let mut app = Databag::new();
    app.insert(
        "scrape_jobs".into(),
        r#"[{"job_name": "j", "static_configs": [{"targets": ["*:9100"]}]}]"#.into(),
    );
    app.insert("scrape_metadata".into(), METADATA.into());
    let view = RelationView {
        endpoint: "metrics-endpoint",
        id: 5,
        app: "fz",
        app_data: &app,
        units: vec![("fz/0", &good), ("fz/1", &bag)],
    };
    let views = std::slice::from_ref(&view);
    let out = charm_interfaces::scrape::scrape_jobs(views);
    check_errors(&out.per_app_errors, 5);
    let targets: Vec<String> = out
        .job_maps()
        .iter()
        .flat_map(|j| j["static_configs"].as_array().cloned().unwrap_or_default())
        .flat_map(|sc| sc["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect();
    // (A unit that names itself as the good one may take its place: same application.)
    if flags & 2 == 0 {
        assert!(targets.iter().any(|t| t == "10.0.0.7:9100"), "{targets:?}");
    }
    for t in &targets {
        assert!(
            !t.contains(|c: char| c == '/' || c.is_whitespace() || c.is_control()),
            "{t:?}"
        );
    }
    check_errors(&remote_write::endpoints(views).per_app_errors, 5);
    check_errors(
        &charm_interfaces::alertmanager::alertmanagers(views).per_app_errors,
        5,
    );
}

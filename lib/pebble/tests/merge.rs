//! Pebble's layer-combining rules and the plan YAML, checked against recorded real Pebble output.

use pebble::merge::{combine_into, combine_layers, parse_layer, service_changed, validate_layer};
use pebble::{plan_to_yaml, Layer, Override, PlanError};

/// The layer sent to a real Pebble v1.32.1 (`POST /v1/layers`, label "demo").
const RECORDED_LAYER: &str = "summary: demo layer\nservices:\n  sleeper:\n    override: replace\n    summary: sleeps\n    command: sleep 1000\n    startup: enabled\n  ticker:\n    override: replace\n    summary: prints a line every second\n    command: sh -c \"while true; do echo tick; sleep 1; done\"\n    startup: enabled\nchecks:\n  sleeper-alive:\n    override: replace\n    period: 2s\n    exec:\n      command: pgrep -f \"sleep 1000\"\n";

/// What that Pebble answered to `GET /v1/plan?format=yaml` (the `result` string).
const RECORDED_PLAN: &str = "services:\n    sleeper:\n        summary: sleeps\n        startup: enabled\n        override: replace\n        command: sleep 1000\n    ticker:\n        summary: prints a line every second\n        startup: enabled\n        override: replace\n        command: sh -c \"while true; do echo tick; sleep 1; done\"\nchecks:\n    sleeper-alive:\n        override: replace\n        period: 2s\n        threshold: 3\n        exec:\n            command: pgrep -f \"sleep 1000\"\n";

fn layer(yaml: &str) -> Layer {
    Layer::from_yaml(yaml).expect("valid layer YAML")
}

fn combine(layers: &[&str]) -> Result<Layer, PlanError> {
    let labeled: Vec<(String, Layer)> = layers
        .iter()
        .enumerate()
        .map(|(i, y)| (format!("l{i}"), layer(y)))
        .collect();
    combine_layers(&labeled)
}

fn err_text(result: Result<Layer, PlanError>) -> String {
    result.expect_err("should be rejected").to_string()
}

#[test]
fn plan_yaml_reproduces_recorded_pebble_byte_for_byte() {
    let demo = parse_layer("demo", RECORDED_LAYER).unwrap();
    let plan = combine_layers(&[("demo".into(), demo)]).unwrap();
    assert_eq!(plan_to_yaml(&plan), RECORDED_PLAN);
}

#[test]
fn recorded_plan_parses_back_to_the_same_plan() {
    let demo = layer(RECORDED_LAYER);
    let plan = combine_layers(&[("demo".into(), demo)]).unwrap();
    assert_eq!(layer(RECORDED_PLAN), plan);
}

#[test]
fn empty_plan_prints_empty_mapping() {
    assert_eq!(plan_to_yaml(&combine(&[]).unwrap()), "{}\n");
    assert_eq!(layer("").services.len(), 0);
}

#[test]
fn layer_yaml_round_trips() {
    let l = layer(RECORDED_LAYER);
    assert_eq!(layer(&l.to_yaml()), l);
    assert!(l
        .to_yaml()
        .starts_with("summary: demo layer\nservices:\n  sleeper:\n"));
}

#[test]
fn unknown_fields_are_rejected() {
    let err = Layer::from_yaml("services:\n  a:\n    override: replace\n    comand: x\n");
    assert!(matches!(err, Err(PlanError::Parse(m)) if m.contains("comand")));
    assert!(Layer::from_yaml("servces: {}\n").is_err());
}

const BASE: &str = "services:
  web:
    override: replace
    summary: base
    command: /bin/web --a
    startup: enabled
    after: [db]
    environment: {A: '1', B: '2'}
    on-check-failure: {up: restart}
    kill-delay: 5s
  db:
    override: replace
    command: /bin/db
checks:
  up:
    override: replace
    level: alive
    threshold: 5
    http:
      url: http://localhost:1/
      headers: {X: a, Y: b}
log-targets:
  loki:
    override: replace
    type: loki
    location: http://loki/push
    services: [web]
    labels: {a: '1'}
";

#[test]
fn merge_overwrites_scalars_merges_maps_and_appends_lists() {
    let over = "services:
  web:
    override: merge
    command: /bin/web --b
    after: [cache]
    requires: [db]
    environment: {B: '3', C: '4'}
    on-check-failure: {down: shutdown}
  cache:
    override: replace
    command: /bin/cache
checks:
  up:
    override: merge
    level: ready
    http:
      headers: {Y: c}
log-targets:
  loki:
    override: merge
    services: [-db]
    labels: {b: '2'}
";
    let plan = combine(&[BASE, over]).unwrap();
    let web = &plan.services["web"];
    assert_eq!(web.command.as_deref(), Some("/bin/web --b"));
    assert_eq!(
        web.summary.as_deref(),
        Some("base"),
        "unset scalars keep earlier value"
    );
    // Pebble keeps the earlier definition's override (checked against a real v1.32.1).
    assert_eq!(web.r#override, Some(Override::Replace));
    assert_eq!(plan.checks["up"].r#override, Some(Override::Replace));
    assert_eq!(plan.log_targets["loki"].r#override, Some(Override::Replace));
    assert_eq!(web.after, ["db", "cache"]);
    assert_eq!(web.requires, ["db"]);
    assert_eq!(web.kill_delay.as_deref(), Some("5s"));
    let env: Vec<_> = web
        .environment
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    assert_eq!(env, ["A=1", "B=3", "C=4"]);
    assert_eq!(web.on_check_failure.len(), 2);

    let up = &plan.checks["up"];
    assert_eq!(up.threshold, Some(5));
    assert_eq!(up.level, Some(pebble::CheckLevel::Ready));
    let http = up.http.as_ref().unwrap();
    assert_eq!(http.url, "http://localhost:1/");
    assert_eq!(http.headers["X"], "a");
    assert_eq!(http.headers["Y"], "c");

    let loki = &plan.log_targets["loki"];
    assert_eq!(loki.services, ["web", "-db"]);
    assert_eq!(loki.labels.len(), 2);
    insta::assert_snapshot!("merged_plan", plan_to_yaml(&plan));
}

#[test]
fn replace_discards_the_earlier_definition() {
    let over = "services:
  web:
    override: replace
    command: /bin/other
";
    let plan = combine(&[BASE, over]).unwrap();
    let web = &plan.services["web"];
    assert_eq!(web.command.as_deref(), Some("/bin/other"));
    assert!(web.summary.is_none());
    assert!(web.environment.is_empty());
    assert!(web.after.is_empty());
}

#[test]
fn merge_without_earlier_definition_acts_as_replace() {
    let plan = combine(&["services:\n  x:\n    override: merge\n    command: run\n"]).unwrap();
    assert_eq!(plan.services["x"].command.as_deref(), Some("run"));
}

#[test]
fn validation_messages_match_pebble() {
    assert_eq!(
        err_text(combine(&["services:\n  x:\n    command: run\n"])),
        "layer \"l0\" must define \"override\" for service \"x\""
    );
    assert_eq!(
        err_text(combine(&[
            "services:\n  x:\n    override: replace\n    startup: enabled\n"
        ])),
        "plan must define \"command\" for service \"x\""
    );
    // A merge layer may omit the command when an earlier layer has one...
    assert!(combine(&[
        BASE,
        "services:\n  db:\n    override: merge\n    startup: enabled\n"
    ])
    .is_ok());
    // ...but a replace drops it.
    assert_eq!(
        err_text(combine(&[
            BASE,
            "services:\n  db:\n    override: replace\n    startup: enabled\n"
        ])),
        "plan must define \"command\" for service \"db\""
    );
    let two_probes =
        "checks:\n  c:\n    override: replace\n    tcp: {port: 1}\n    exec: {command: x}\n";
    let no_probe = "checks:\n  c:\n    override: replace\n    period: 5s\n";
    for yaml in [two_probes, no_probe] {
        assert_eq!(
            err_text(combine(&[yaml])),
            "plan must specify one of \"http\", \"tcp\", or \"exec\" for check \"c\""
        );
    }
    assert_eq!(
        err_text(combine(&["checks:\n  c:\n    override: replace\n    period: 2s\n    timeout: 3s\n    tcp: {port: 1}\n"])),
        "plan check \"c\" timeout must be less than period"
    );
    assert_eq!(
        err_text(combine(&[
            "services:\n  pebble:\n    override: replace\n    command: x\n"
        ])),
        "cannot use reserved service name \"pebble\""
    );
    assert_eq!(
        err_text(combine(&[
            "services:\n  -x:\n    override: replace\n    command: x\n"
        ])),
        "cannot use service name \"-x\": starting with \"-\" not allowed"
    );
    assert_eq!(
        err_text(combine(&[
            "services:\n  a:\n    override: replace\n    command: x\n    after: [b]\n  b:\n    override: replace\n    command: x\n    after: [a]\n"
        ])),
        "services in before/after loop: a, b"
    );
    let labels = "log-targets:\n  t:\n    override: replace\n    type: loki\n    location: http://l\n    labels: {pebble_x: y}\n";
    assert_eq!(
        validate_layer("ok", &layer(labels))
            .unwrap_err()
            .to_string(),
        "log target \"t\": label \"pebble_x\" uses reserved prefix \"pebble_\""
    );
}

#[test]
fn labels_are_checked() {
    let l = layer(RECORDED_LAYER);
    assert_eq!(
        validate_layer("pebble-x", &l).unwrap_err().to_string(),
        "cannot use reserved label prefix \"pebble-\""
    );
    assert_eq!(
        validate_layer("", &l).unwrap_err().to_string(),
        "label must be set"
    );
    assert!(validate_layer("prometheus-rs-k8s", &l).is_ok());
    assert_eq!(
        parse_layer("mine", "checks:\n  c:\n    tcp: {port: 1}\n")
            .unwrap_err()
            .to_string(),
        "layer \"mine\" must define \"override\" for check \"c\""
    );
}

#[test]
fn combine_into_existing_label_uses_override_rules() {
    let mut existing = layer(BASE);
    let new = layer(
        "summary: second\nservices:\n  web:\n    override: merge\n    environment: {Z: '9'}\n",
    );
    combine_into(&mut existing, &new).unwrap();
    assert_eq!(existing.summary.as_deref(), Some("second"));
    assert_eq!(existing.services["web"].environment.len(), 3);
    assert_eq!(
        existing.services["web"].command.as_deref(),
        Some("/bin/web --a")
    );
    assert!(existing.services.contains_key("db"));

    // Re-adding the same all-replace layer is idempotent.
    let mut again = layer(BASE);
    combine_into(&mut again, &layer(BASE)).unwrap();
    assert_eq!(again, layer(BASE));

    let before = existing.clone();
    let bad = layer("services:\n  web:\n    command: x\n");
    assert!(combine_into(&mut existing, &bad).is_err());
    assert_eq!(
        existing, before,
        "a failed combine leaves the layer untouched"
    );
}

#[test]
fn service_changed_compares_the_whole_definition() {
    let plan = combine(&[BASE]).unwrap();
    let web = plan.services["web"].clone();
    assert!(!service_changed(&web, &web.clone()));
    let mut env = web.clone();
    env.environment.insert("HASH".into(), "abc".into());
    assert!(service_changed(&web, &env));
    let mut summary = web.clone();
    summary.summary = Some("other".into());
    assert!(service_changed(&web, &summary));
}

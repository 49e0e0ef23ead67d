//! The charm accepts exactly what its poller accepts: whatever inventory options pass the
//! charm's validation, the poller's own parser takes the command line the charm renders, with
//! the same durations (to the nanosecond) and labels.

use clap::Parser;
use prometheus_rs_k8s::core::layer::inventory_args;
use prometheus_rs_k8s::CharmConfig;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

#[derive(Parser)]
struct Poll {
    #[command(flatten)]
    args: inventory_sd::Args,
}

/// The poller's view of the charm's command line for these options, or `None` when the charm
/// refuses them.
fn poller_of(options: Value) -> Option<Result<inventory_sd::PollerConfig, String>> {
    let Value::Object(mut options) = options else {
        unreachable!()
    };
    options.insert(
        "inventory_url".into(),
        json!("http://inventory.test:8080/hosts"),
    );
    let config = CharmConfig::from_options(&options).ok()?;
    let inv = config.inventory.clone().expect("inventory on");
    let mut argv: Vec<String> = inventory_args(&inv)
        .into_iter()
        .skip(1)
        // The URL file lives in the workload; give the URL directly.
        .map(|a| {
            if a.starts_with("--inventory-url-file=") {
                format!("--inventory-url={}", inv.url)
            } else {
                a
            }
        })
        .collect();
    argv[0] = "poll".into();
    let parsed = Poll::try_parse_from(&argv)
        .map_err(|e| e.to_string())
        .and_then(|p| inventory_sd::PollerConfig::from_args(&p.args).map_err(|e| e.to_string()));
    if let Ok(p) = &parsed {
        assert_eq!(p.interval, inv.poll_interval, "{argv:?}");
        assert_eq!(p.timeout, inv.timeout, "{argv:?}");
        assert_eq!(p.labels, inv.labels, "{argv:?}");
    }
    Some(parsed)
}

#[test]
fn reported_timings_are_refused_by_the_charm_or_taken_by_the_poller() {
    for (interval, timeout) in [
        ("30s", "1ns"),
        ("30s", "500us"),
        ("1s 1ns", "1s"),
        ("2s", "1s 999ms 999us 999ns"),
    ] {
        let r =
            poller_of(json!({"inventory_poll_interval": interval, "inventory_timeout": timeout}));
        assert!(matches!(r, Some(Ok(_))), "{interval}/{timeout}: {r:?}");
    }
    for (interval, timeout) in [
        ("7000000000000000000s", "10s"),
        ("30s", "7000000000000000000s"),
        ("1s", "1s"),
    ] {
        let r =
            poller_of(json!({"inventory_poll_interval": interval, "inventory_timeout": timeout}));
        assert!(r.is_none(), "{interval}/{timeout} accepted: {r:?}");
    }
}

#[test]
fn labels_the_poller_would_refuse_or_that_overflow_the_command_line_are_refused() {
    for labels in [
        format!("big={}", "v".repeat(200 * 1024)),
        "job=prometheus".to_owned(),
        "instance=x".to_owned(),
        (0..5000)
            .map(|i| format!("l{i}=v"))
            .collect::<Vec<_>>()
            .join(","),
    ] {
        let mut options = Map::new();
        options.insert("inventory_url".into(), json!("http://i.test/"));
        options.insert("inventory_labels".into(), json!(labels));
        let e = CharmConfig::from_options(&options).unwrap_err();
        assert!(e.to_string().contains("inventory_labels"), "{e}");
    }
}

fn duration_text() -> impl Strategy<Value = String> {
    let unit = prop::sample::select(vec![
        "ns", "us", "ms", "s", "m", "h", "d", "w", "y", "min", "sec", "",
    ]);
    let part = (prop_oneof![0u64..2000, any::<u64>(), Just(u64::MAX)], unit)
        .prop_map(|(n, u)| format!("{n}{u}"));
    prop_oneof![
        prop::collection::vec(part, 1..4).prop_map(|p| p.join("")),
        prop::collection::vec(
            (
                0u64..3000,
                prop::sample::select(vec!["ns", "us", "ms", "s"])
            ),
            1..4
        )
        .prop_map(|p| p
            .into_iter()
            .map(|(n, u)| format!("{n}{u}"))
            .collect::<Vec<_>>()
            .join(" ")),
        ".{0,12}",
    ]
}

fn labels_text() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("job".to_owned()),
        Just("instance".to_owned()),
        Just("__scheme__".to_owned()),
        "[a-z_][a-z0-9_]{0,6}",
    ];
    let value = prop_oneof![
        "[a-z0-9 =.:/-]{0,12}",
        (1000usize..1100).prop_map(|n| "v".repeat(n))
    ];
    prop::collection::vec((name, value), 0..5).prop_map(|l| {
        l.into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn whatever_the_charm_accepts_the_poller_accepts(
        interval in duration_text(), timeout in duration_text(), labels in labels_text(),
    ) {
        let r = poller_of(json!({
            "inventory_poll_interval": interval,
            "inventory_timeout": timeout,
            "inventory_labels": labels,
        }));
        if let Some(parsed) = r {
            prop_assert!(parsed.is_ok(), "{}/{}/{}: {:?}", interval, timeout, labels, parsed.err());
        }
    }
}

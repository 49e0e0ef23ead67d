//! Hostile answers from Pebble (a broken, old or impostor server on the socket): arbitrary
//! bytes, arbitrary JSON shapes inside and around the envelope, odd YAML plans, huge and deeply
//! nested bodies, multipart bodies with boundary look-alikes. The client's decoders give a
//! value or a typed `pebble::Error`, never a panic or a stack overflow.

use pebble::parse::{self, Decoded};
use pebble::{Error, Layer, Service};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("type".to_string()),
                    Just("status-code".to_string()),
                    Just("result".to_string()),
                    Just("change".to_string()),
                    Just("id".to_string()),
                    Just("kind".to_string()),
                    Just("status".to_string()),
                    Just("path".to_string()),
                    Just("message".to_string()),
                    "[a-z-]{1,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An envelope-looking object with arbitrary fields.
fn any_envelope() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            Just(json!("sync")),
            Just(json!("async")),
            Just(json!("error")),
            any_json()
        ],
        prop_oneof![any::<u16>().prop_map(|n| json!(n)), any_json()],
        any_json(),
        prop::option::of(any_json()),
    )
        .prop_map(|(kind, code, result, change)| {
            let mut e = json!({"type": kind, "status-code": code, "result": result});
            if let Some(change) = change {
                e["change"] = change;
            }
            e
        })
}

fn typed(e: &Error) -> bool {
    matches!(
        e,
        Error::Protocol(_) | Error::Api { .. } | Error::ChangeFailed { .. }
    )
}

/// Every decoder on the same bytes: each answers Ok or a typed error.
fn decode_all(status: u16, body: &[u8]) -> Result<(), TestCaseError> {
    let results = [
        parse::envelope(status, body).map(|_| ()),
        parse::plan_response(status, body).map(|_| ()),
        parse::change_response(status, body).map(|_| ()),
        parse::file_list_response(status, body).map(|_| ()),
        parse::services_response(status, body).map(|_| ()),
    ];
    for r in results {
        if let Err(e) = r {
            prop_assert!(typed(&e), "{e:?}");
            prop_assert!(!e.to_string().is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_give_typed_errors(status in any::<u16>(), body in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_all(status, &body)?;
    }

    #[test]
    fn arbitrary_envelope_shapes_give_values_or_typed_errors(status in any::<u16>(), e in any_envelope()) {
        let body = serde_json::to_vec(&e).unwrap();
        decode_all(status, &body)?;
        // An error envelope is always an API error carrying its own status code.
        if e["type"] == "error" && (e["change"].is_null() || e["change"].is_string()) {
            if let Some(code) = e["status-code"].as_u64().filter(|c| *c <= u64::from(u16::MAX)) {
                match parse::envelope(status, &body) {
                    Err(Error::Api { status_code, .. }) => prop_assert_eq!(u64::from(status_code), code),
                    other => prop_assert!(false, "{other:?}"),
                }
            }
        }
    }

    #[test]
    fn arbitrary_plan_text_gives_a_plan_or_a_typed_error(yaml in "(?s).{0,300}") {
        if let Err(e) = parse::plan_yaml(&yaml) {
            prop_assert!(matches!(e, Error::Protocol(ref m) if m.starts_with("plan: ")), "{e:?}");
        }
    }

    #[test]
    fn yaml_of_arbitrary_json_as_a_plan_never_panics(v in any_json()) {
        let yaml = serde_yaml_ng::to_string(&v).unwrap();
        let body = serde_json::to_vec(&json!({"type": "sync", "status-code": 200, "result": yaml})).unwrap();
        if let Err(e) = parse::plan_response(200, &body) {
            prop_assert!(typed(&e), "{e:?}");
        }
    }

    /// What Pebble prints for a plan reads back as that plan, whatever the commands and
    /// environment hold (quotes, colons, YAML keywords, unicode, newlines).
    #[test]
    fn printed_plans_read_back(
        services in prop::collection::btree_map(
            "[a-z][a-z0-9-]{0,10}",
            ("(?s).{0,40}", prop::collection::btree_map("[A-Z_]{1,8}", "(?s).{0,20}", 0..3)),
            1..4,
        )
    ) {
        let mut plan = Layer::default();
        for (name, (command, environment)) in services {
            plan.services.insert(name, Service {
                command: Some(command),
                environment,
                ..Service::default()
            });
        }
        let printed = pebble::plan_to_yaml(&plan);
        let read = parse::plan_yaml(&printed).map_err(|e| TestCaseError::fail(format!("{e}: {printed}")))?;
        prop_assert_eq!(read.services, plan.services, "{}", printed);
    }

    /// Multipart reads give the exact bytes back, even when the content looks like a boundary.
    #[test]
    fn multipart_file_bytes_survive(data in prop::collection::vec(any::<u8>(), 0..2048), lookalike in any::<bool>()) {
        let boundary = "b0a1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7";
        let mut data = data;
        if lookalike {
            data.extend_from_slice(b"\r\n--b0a1c2d3e4f5-not-the-boundary\r\n");
        }
        let mut body = Vec::new();
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"/etc/x\"\r\n\r\n").as_bytes());
        body.extend_from_slice(&data);
        body.extend_from_slice(format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"response\"\r\n\r\n{{}}\r\n--{boundary}--\r\n").as_bytes());
        let parts = parse::multipart(&format!("multipart/form-data; boundary={boundary}"), &body)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parts.len(), 2);
        prop_assert_eq!(parts[0].filename.as_deref(), Some("/etc/x"));
        prop_assert_eq!(&parts[0].data, &data);
    }

    #[test]
    fn arbitrary_multipart_bodies_give_typed_errors(
        content_type in prop_oneof![
            Just("multipart/form-data; boundary=abc".to_string()),
            Just("multipart/form-data".to_string()),
            ".{0,40}",
        ],
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        if let Err(e) = parse::multipart(&content_type, &body) {
            prop_assert!(matches!(e, Error::Protocol(_)), "{e:?}");
        }
    }
}

#[test]
fn deeply_nested_bodies_are_errors_not_stack_overflows() {
    let depth = 100_000;
    let json = "[".repeat(depth) + &"]".repeat(depth);
    assert!(matches!(
        parse::envelope(200, json.as_bytes()),
        Err(Error::Protocol(_))
    ));
    let inner = format!(r#"{{"type":"sync","status-code":200,"result":{json}}}"#);
    assert!(parse::change_response(200, inner.as_bytes()).is_err());
    let yaml = "[".repeat(depth) + &"]".repeat(depth);
    assert!(parse::plan_yaml(&yaml).is_err());
    let yaml_maps = "a:\n".to_string()
        + &(1..2000)
            .map(|i| format!("{}b:\n", " ".repeat(i)))
            .collect::<String>();
    assert!(parse::plan_yaml(&yaml_maps).is_err());
}

#[test]
fn huge_answers_are_decoded_or_refused_without_trouble() {
    // A 8 MiB command in a plan: read as it is.
    let command = "x".repeat(8 << 20);
    let yaml =
        format!("services:\n    big:\n        override: replace\n        command: {command}\n");
    let body =
        serde_json::to_vec(&json!({"type": "sync", "status-code": 200, "result": yaml})).unwrap();
    let plan = parse::plan_response(200, &body).unwrap();
    assert_eq!(
        plan.services["big"].command.as_deref().map(str::len),
        Some(8 << 20)
    );
    // 200 000 services in a list answer.
    let many: Vec<Value> = (0..200_000)
        .map(|i| json!({"name": format!("s{i}"), "startup": "enabled", "current": "active"}))
        .collect();
    let body =
        serde_json::to_vec(&json!({"type": "sync", "status-code": 200, "result": many})).unwrap();
    assert_eq!(parse::services_response(200, &body).unwrap().len(), 200_000);
    // A garbage body is quoted only in part in the error.
    let garbage = vec![b'z'; 1 << 20];
    let e = parse::envelope(502, &garbage).unwrap_err().to_string();
    assert!(e.len() < 1024, "{}", e.len());
    assert!(e.contains("HTTP 502"), "{e}");
}

#[test]
fn wrong_types_in_known_answers_name_what_was_decoded() {
    let body =
        br#"{"type":"sync","status-code":200,"result":{"id":7,"kind":"replan","status":"Done"}}"#;
    let e = parse::change_response(200, body).unwrap_err();
    assert!(
        matches!(&e, Error::Protocol(m) if m.starts_with("change: ")),
        "{e:?}"
    );
    let body = br#"{"type":"sync","status-code":200,"result":[{"path":"/a","name":"a","type":"file","permissions":644,"last-modified":""}]}"#;
    let e = parse::file_list_response(200, body).unwrap_err();
    assert!(
        matches!(&e, Error::Protocol(m) if m.starts_with("file list: ")),
        "{e:?}"
    );
    let body = br#"{"type":"async","status-code":202,"change":"9","result":null}"#;
    assert_eq!(
        parse::envelope(202, body).unwrap(),
        Decoded::Async {
            change: "9".into(),
            result: Value::Null
        }
    );
    let e = parse::plan_response(202, body).unwrap_err();
    assert!(e.to_string().contains("started change 9"), "{e}");
    let body =
        br#"{"type":"sync","status-code":200,"result":"services:\n  x:\n    bogus-field: 1\n"}"#;
    assert!(
        parse::plan_response(200, body).is_err(),
        "unknown fields refused like Pebble"
    );
}

//! `/v1/files` on the fake's real directory: push, pull, list, make-dirs, remove, errors.

mod pebble_support;

use std::os::unix::fs::PermissionsExt;

use pebble::{Bytes, FileType, PushOptions};
use pebble_support::{client, fake, raw, raw_json};
use serde_json::json;

#[test]
fn push_lands_in_the_fs_root_and_pulls_back() {
    let (_dir, fake) = fake();
    let c = client(&fake);
    c.push(
        "/etc/prometheus/prometheus.yml",
        b"global: {}\n",
        &PushOptions::default(),
    )
    .unwrap();
    let host = fake.fs_root().join("etc/prometheus/prometheus.yml");
    assert_eq!(std::fs::read(&host).unwrap(), b"global: {}\n");
    assert_eq!(
        std::fs::metadata(&host).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert_eq!(
        fake.read_file("/etc/prometheus/prometheus.yml").unwrap(),
        b"global: {}\n"
    );
    assert_eq!(
        c.pull("/etc/prometheus/prometheus.yml").unwrap(),
        b"global: {}\n"
    );
    // The request part of the multipart write is recorded as the body.
    let push = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == "/v1/files")
        .unwrap();
    let meta = push.body_json.unwrap();
    assert_eq!(meta["action"], "write");
    assert_eq!(meta["files"][0]["path"], "/etc/prometheus/prometheus.yml");
}

#[test]
fn push_many_writes_all_files_with_their_permissions() {
    let (_dir, fake) = fake();
    let c = client(&fake);
    let files = [
        (
            "/etc/prometheus/rules/a.rules".to_string(),
            Bytes::from_static(b"groups: []\n"),
        ),
        (
            "/etc/prometheus/rules/b.rules".to_string(),
            Bytes::from_static(b"groups: []\n"),
        ),
    ];
    let opts = PushOptions {
        permissions: Some(0o600),
        user_id: Some(65534),
        user: Some("nobody".into()),
        ..PushOptions::default()
    };
    c.push_many(&files, &opts).unwrap();
    let listed = c
        .list_files("/etc/prometheus/rules", Some("*.rules"))
        .unwrap();
    let names: Vec<&str> = listed.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["a.rules", "b.rules"]);
    assert_eq!(listed[0].path, "/etc/prometheus/rules/a.rules");
    assert_eq!(listed[0].file_type, FileType::File);
    assert_eq!(listed[0].size, Some(11));
    assert_eq!(listed[0].permissions, "600");
    assert_eq!(listed[0].user_id, Some(65534));
    assert_eq!(listed[0].user.as_deref(), Some("nobody"));
}

#[test]
fn pull_of_a_missing_file_is_not_found_inside_a_200_multipart() {
    let (_dir, fake) = fake();
    let c = client(&fake);
    let err = c.pull("/etc/nothing").unwrap_err();
    assert!(err.is_not_found(), "{err:?}");

    // Raw: the answer is a 200 multipart whose response part carries the per-file error.
    let http = reqwest::blocking::Client::builder()
        .unix_socket(fake.socket_path().to_path_buf())
        .build()
        .unwrap();
    let response = http
        .get("http://localhost/v1/files?action=read&path=/etc/nothing")
        .header("Accept", "multipart/form-data")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("multipart/form-data; boundary="));
    let body = response.text().unwrap();
    assert!(!body.contains("name=\"files\""));
    assert!(
        body.contains(
            r#"{"type":"sync","status-code":200,"status":"OK","result":[{"path":"/etc/nothing","error":{"message":"stat /etc/nothing: no such file or directory","kind":"not-found"}}]}"#
        ),
        "{body}"
    );
}

#[test]
fn read_requires_accepting_multipart() {
    let (_dir, fake) = fake();
    fake.write_file("/etc/x", "x");
    let (status, body) = raw_json(&fake, "GET", "/v1/files?action=read&path=/etc/x", None);
    assert_eq!(status, 400);
    assert_eq!(body["result"]["message"], "must accept multipart/form-data");
}

#[test]
fn list_of_a_missing_path_is_a_404_envelope() {
    let (_dir, fake) = fake();
    let (status, body) = raw_json(&fake, "GET", "/v1/files?action=list&path=/etc/nope", None);
    assert_eq!(status, 404);
    assert_eq!(body["type"], "error");
    assert_eq!(body["result"]["kind"], "not-found");
    assert_eq!(
        body["result"]["message"],
        "stat /etc/nope: no such file or directory"
    );
    assert!(client(&fake)
        .list_files("/etc/nope", None)
        .unwrap_err()
        .is_not_found());
}

#[test]
fn push_under_a_regular_file_is_a_per_file_error_in_a_200() {
    let (_dir, fake) = fake();
    fake.write_file("/etc/prometheus", "I am a file");
    let c = client(&fake);
    let err = c
        .push(
            "/etc/prometheus/prometheus.yml",
            b"x",
            &PushOptions::default(),
        )
        .unwrap_err();
    match &err {
        pebble::Error::File {
            path,
            kind,
            message,
        } => {
            assert_eq!(path, "/etc/prometheus/prometheus.yml");
            assert_eq!(kind, "generic-file-error");
            assert_eq!(
                message,
                "cannot create directory: mkdir /etc/prometheus: not a directory"
            );
        }
        other => panic!("expected a per-file error, got {other:?}"),
    }
    // The whole request still answered 200.
    let (status, body) = raw_json(
        &fake,
        "POST",
        "/v1/files",
        Some(json!({"action": "make-dirs", "dirs": [{"path": "/etc/prometheus/rules"}]})),
    );
    assert_eq!(status, 200);
    assert_eq!(body["result"][0]["error"]["kind"], "generic-file-error");
    assert_eq!(fake.read_file("/etc/prometheus").unwrap(), b"I am a file");
}

#[test]
fn make_dirs_and_remove_like_the_recording() {
    let (_dir, fake) = fake();
    let (status, body) = raw_json(
        &fake,
        "POST",
        "/v1/files",
        Some(
            json!({"action": "make-dirs", "dirs": [{"path": "/tmp/pebble-demo/sub/dir", "make-parents": true, "permissions": "755"}]}),
        ),
    );
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"type": "sync", "status-code": 200, "status": "OK", "result": [{"path": "/tmp/pebble-demo/sub/dir"}]})
    );
    assert!(fake.fs_root().join("tmp/pebble-demo/sub/dir").is_dir());

    let c = client(&fake);
    let listed = c.list_files("/tmp/pebble-demo", None).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].file_type, FileType::Directory);
    assert_eq!(listed[0].permissions, "755");

    // Non-recursive remove of a missing path is not-found; recursive is fine.
    let err = c.remove_path("/tmp/missing", false).unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    c.remove_path("/tmp/missing", true).unwrap();
    let (status, body) = raw_json(
        &fake,
        "POST",
        "/v1/files",
        Some(
            json!({"action": "remove", "paths": [{"path": "/tmp/pebble-demo/sub", "recursive": true}]}),
        ),
    );
    assert_eq!(status, 200);
    assert_eq!(body["result"], json!([{"path": "/tmp/pebble-demo/sub"}]));
    assert!(!fake.fs_root().join("tmp/pebble-demo/sub").exists());

    c.make_dir("/var/lib/prometheus", true, Some(0o700))
        .unwrap();
    assert!(fake.fs_root().join("var/lib/prometheus").is_dir());
    let err = c.make_dir("/var/lib/prometheus", false, None).unwrap_err();
    assert!(
        err.to_string()
            .contains("mkdir /var/lib/prometheus: file exists"),
        "{err}"
    );
}

#[test]
fn write_without_multipart_and_short_boundaries_are_rejected() {
    let (_dir, fake) = fake();
    let (status, body) = raw_json(
        &fake,
        "POST",
        "/v1/files",
        Some(json!({"action": "write", "files": []})),
    );
    assert_eq!(status, 400);
    assert_eq!(
        body["result"]["message"],
        "must use multipart with \"write\" action"
    );

    let http = reqwest::blocking::Client::builder()
        .unix_socket(fake.socket_path().to_path_buf())
        .build()
        .unwrap();
    let response = http
        .post("http://localhost/v1/files")
        .header("Content-Type", "multipart/form-data; boundary=short")
        .body("--short--\r\n")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(body["result"]["message"], "invalid boundary \"short\"");
    let (status, _) = raw(&fake, "GET", "/v1/files?action=bogus", None);
    assert_eq!(status, 400);
}

#[test]
fn large_files_round_trip() {
    let (_dir, fake) = fake();
    let c = client(&fake);
    let content: Vec<u8> = (0..6 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    c.push("/opt/big.bin", &content, &PushOptions::default())
        .unwrap();
    assert_eq!(fake.read_file("/opt/big.bin").unwrap(), content);
    assert_eq!(c.pull("/opt/big.bin").unwrap(), content);
}

//! Helpers shared by the integration tests: owned relation data and views over it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use charm_interfaces::{Databag, RelationView};
use serde_json::Value;

/// Owned relation data (what the charm's model snapshot holds).
#[derive(Debug, Clone)]
pub struct Rel {
    pub endpoint: String,
    pub id: u32,
    pub app: String,
    pub app_data: Databag,
    pub units: Vec<(String, Databag)>,
}

impl Rel {
    pub fn new(endpoint: &str, id: u32, app: &str) -> Rel {
        Rel {
            endpoint: endpoint.into(),
            id,
            app: app.into(),
            app_data: Databag::new(),
            units: Vec::new(),
        }
    }

    pub fn app_key(mut self, k: &str, v: &str) -> Rel {
        self.app_data.insert(k.into(), v.into());
        self
    }

    pub fn unit(mut self, name: &str, pairs: &[(&str, &str)]) -> Rel {
        self.units.push((name.into(), bag(pairs)));
        self
    }

    pub fn unit_bag(mut self, name: &str, data: Databag) -> Rel {
        self.units.push((name.into(), data));
        self
    }

    pub fn view(&self) -> RelationView<'_> {
        RelationView {
            endpoint: &self.endpoint,
            id: self.id,
            app: &self.app,
            app_data: &self.app_data,
            units: self.units.iter().map(|(n, d)| (n.as_str(), d)).collect(),
        }
    }
}

pub fn bag(pairs: &[(&str, &str)]) -> Databag {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A unit databag as the provider library writes it.
pub fn scrape_unit(name: &str, address: &str, path: &str, fqdn: &str) -> Databag {
    bag(&[
        ("prometheus_scrape_unit_address", address),
        ("prometheus_scrape_unit_name", name),
        ("prometheus_scrape_unit_path", path),
        ("prometheus_scrape_unit_fqdn", fqdn),
    ])
}

pub fn views(rels: &[Rel]) -> Vec<RelationView<'_>> {
    rels.iter().map(Rel::view).collect()
}

/// The shared fixture written by the real Canonical library.
pub fn fixture_relations() -> Vec<Rel> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/prometheus_scrape/two-apps.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["relations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let strmap = |v: &Value| -> Databag {
                v.as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            Rel {
                endpoint: r["endpoint"].as_str().unwrap().into(),
                id: r["id"].as_u64().unwrap() as u32,
                app: r["app"].as_str().unwrap().into(),
                app_data: strmap(&r["app_data"]),
                units: r["units"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| (u["name"].as_str().unwrap().to_owned(), strmap(&u["data"])))
                    .collect(),
            }
        })
        .collect()
}

/// Jobs keyed by name.
pub fn by_name(jobs: &[serde_json::Map<String, Value>]) -> BTreeMap<String, Value> {
    jobs.iter()
        .map(|j| {
            (
                j["job_name"].as_str().unwrap().to_owned(),
                Value::Object(j.clone()),
            )
        })
        .collect()
}

/// Debian's promtool 2.42.
pub fn promtool2() -> PathBuf {
    let path = PathBuf::from("/usr/bin/promtool");
    assert!(
        path.exists(),
        "no /usr/bin/promtool (Prometheus 2.42): apt-get install prometheus (./run_tests does)"
    );
    path
}

/// promtool 3.14: `PROMTOOL3_BIN`, else where `scripts/real-systems` caches it.
pub fn promtool3() -> PathBuf {
    charm_harness::real_systems::require(charm_harness::real_systems::promtool3())
}

/// Write each rule file into a fresh temp dir and run the real `promtool check rules` of both
/// majors (2.42 and 3.14) on it: rule files are the same for both.
pub fn promtool_check_rules(files: &[(String, String)]) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        for promtool in [promtool2(), promtool3()] {
            let out = std::process::Command::new(&promtool)
                .arg("check")
                .arg("rules")
                .arg(&path)
                .output()
                .expect("promtool runs");
            assert!(
                out.status.success(),
                "{} rejected {name}:\n{text}\nstdout: {}\nstderr: {}",
                promtool.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// A JSON file under the repository's `tests/fixtures/` (relation data the real libraries wrote).
pub fn repo_fixture(path: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(path);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// A fixture's JSON object of strings as a databag.
pub fn json_bag(v: &Value) -> Databag {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

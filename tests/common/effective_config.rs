//! prometheus.yml as Prometheus sees it: every relation job's `http_sd_configs` entry replaced by
//! the `static_configs` its target file holds, rendered with the charm's canonical YAML writer.
//! Tests that assert what is scraped read this form; tests of what is pushed read the file.

use prometheus_rs_k8s::core::prometheus_config::to_canonical_yaml;
use serde_json::Value;

/// `yaml` with each relation job's targets inlined; `target_file(id)` gives the bytes of
/// `<id>.json`. Panics on a job whose file is missing: the charm must push it with the config.
pub fn inline_targets(yaml: &str, target_file: impl Fn(&str) -> Option<Vec<u8>>) -> String {
    let mut tree: Value = serde_yaml_ng::from_str(yaml).expect("prometheus.yml is YAML");
    let jobs = tree
        .get_mut("scrape_configs")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten();
    for job in jobs {
        let Some(job) = job.as_object_mut() else {
            continue;
        };
        let Some(id) = served_id(job.get("http_sd_configs")) else {
            continue;
        };
        let bytes = target_file(&id).unwrap_or_else(|| {
            panic!(
                "job {} names target file {id}.json, which is missing",
                job["job_name"]
            )
        });
        let groups: Value = serde_json::from_slice(&bytes).expect("a target file is JSON");
        assert!(
            groups.is_array(),
            "a target file is a list of target groups"
        );
        job.remove("http_sd_configs");
        job.insert("static_configs".to_owned(), groups);
    }
    to_canonical_yaml(&tree).expect("renders")
}

/// The target file id of a job served by the relation-targets server (any base URL: the demo's
/// deployments each have their own port).
fn served_id(http_sd: Option<&Value>) -> Option<String> {
    let [entry] = http_sd?.as_array()?.as_slice() else {
        return None;
    };
    let url = entry.get("url")?.as_str()?;
    let (base, id) = url.rsplit_once("/targets/")?;
    assert!(base.starts_with("http://127.0.0.1:"), "{url}");
    Some(id.to_owned())
}

/// The live prometheus.yml of a fake Pebble's container, targets inlined.
pub fn of_container(pebble: &charm_harness::pebble::FakePebble) -> String {
    let yaml = pebble
        .read_file(prometheus_rs_k8s::core::workload::CONFIG_FILE)
        .expect("prometheus.yml is present");
    inline_targets(&String::from_utf8(yaml).expect("UTF-8"), |id| {
        pebble.read_file(&format!(
            "{}/{id}.json",
            prometheus_rs_k8s::core::workload::TARGETS_DIR
        ))
    })
}

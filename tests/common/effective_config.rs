//! prometheus.yml as Prometheus sees it: the jobs of the files it lists in
//! `scrape_config_files` merged into `scrape_configs` (the relation jobs ordered by name after
//! the charm's own, as one file has them), and every relation job's `http_sd_configs` entry
//! replaced by the `static_configs` its target file holds, rendered with the charm's canonical
//! YAML writer. Tests that assert what is scraped read this form; tests of what is pushed read
//! the files.

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

/// `yaml` with the jobs of its `scrape_config_files` in `scrape_configs`, and the key gone;
/// `read(path)` gives a listed file (path relative to the config directory). Relation jobs
/// (the ones with `honor_labels: true`, which the charm's own jobs do not set) are ordered by
/// name after the charm's own jobs. Panics on a listed file that is missing or not a file of
/// jobs: the charm must push every file it lists.
pub fn inline_relation_files(yaml: &str, read: impl Fn(&str) -> Option<Vec<u8>>) -> String {
    let mut tree: Value = serde_yaml_ng::from_str(yaml).expect("prometheus.yml is YAML");
    let Some(listed) = tree
        .as_object_mut()
        .and_then(|top| top.remove("scrape_config_files"))
    else {
        return yaml.to_owned();
    };
    let mut jobs: Vec<Value> = tree
        .get("scrape_configs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for path in listed.as_array().expect("a list of files") {
        let path = path.as_str().expect("a path");
        let bytes = read(path).unwrap_or_else(|| panic!("listed file {path} is missing"));
        let file: Value = serde_yaml_ng::from_slice(&bytes).expect("a job file is YAML");
        let listed_jobs = file["scrape_configs"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} has no scrape_configs list"));
        jobs.extend(listed_jobs.iter().cloned());
    }
    let is_relation_job = |job: &Value| job["honor_labels"] == Value::Bool(true);
    let (mut relation, own): (Vec<Value>, Vec<Value>) = jobs.into_iter().partition(is_relation_job);
    relation.sort_by(|a, b| a["job_name"].as_str().cmp(&b["job_name"].as_str()));
    tree["scrape_configs"] = Value::Array(own.into_iter().chain(relation).collect());
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
    let yaml = inline_relation_files(&String::from_utf8(yaml).expect("UTF-8"), |path| {
        pebble.read_file(&format!(
            "{}/{path}",
            prometheus_rs_k8s::core::workload::CONFIG_DIR
        ))
    });
    inline_targets(&yaml, |id| {
        pebble.read_file(&format!(
            "{}/{id}.json",
            prometheus_rs_k8s::core::workload::TARGETS_DIR
        ))
    })
}

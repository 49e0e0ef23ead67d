//! Relation jobs' targets served over HTTP instead of written into prometheus.yml.
//!
//! A relation job's `static_configs` become a file of target groups (`http_sd`'s format, which
//! is the `static_configs` list in JSON) and the job gets one `http_sd_configs` entry naming
//! it. Prometheus scrapes the same targets with the same labels (an `http_sd` group adds only
//! the `__meta_url` label, dropped after relabelling like every `__meta_` label); what changes
//! is the cost of a moved unit: Juju moves a unit's address on every pod restart, and that now
//! rewrites one small file, which Prometheus fetches on its next refresh, instead of pushing,
//! checking and reloading the whole configuration.
//!
//! Only groups of the exact shape `{"targets": [string], "labels": {string: string}}` move out:
//! anything else stays inline, where promtool judges it as before.

use charm_interfaces::ScrapeJob;
use sha2::{Digest, Sha256};

use crate::core::workload::TARGETS_LISTEN;

/// How often Prometheus asks for a job's targets: how long a moved unit can wait to be
/// scraped at its new address. Each relation job costs one loopback request per interval.
pub const TARGETS_REFRESH_INTERVAL: &str = "10s";

/// One relation job's target groups, as the targets server hands them to Prometheus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetFile {
    /// Lowercase hex naming the file (`<id>.json`) and the URL (`/targets/<id>`).
    pub id: String,
    /// A JSON list of target groups, on one line.
    pub json: Vec<u8>,
}

/// The file id of a job: a digest of its final name, so it is stable while the job exists
/// and needs no escaping in a path or URL.
pub fn file_id(job_name: &str) -> String {
    hex::encode(&Sha256::digest(job_name.as_bytes())[..16])
}

/// Where Prometheus reaches the relation-targets server in a pod.
pub fn default_base_url() -> String {
    format!("http://{TARGETS_LISTEN}")
}

/// The URL a job's `http_sd_configs` entry names, on the server at `base_url`.
pub fn targets_url(base_url: &str, id: &str) -> String {
    // `concat`, not `format!`: this runs for every relation job of a full render.
    [base_url, "/targets/", id].concat()
}

/// The name of a job's target file in the targets directory.
pub fn file_name(job_name: &str) -> String {
    name_of_id(&file_id(job_name))
}

fn name_of_id(id: &str) -> String {
    [id, ".json"].concat()
}

impl TargetFile {
    /// Its name in the targets directory.
    pub fn file_name(&self) -> String {
        name_of_id(&self.id)
    }
}

/// Whether [`serve_over_http`] moves `job`'s targets to a file: it has a name and plain
/// `static_configs` ([`ScrapeJob::has_plain_static_configs`]: string targets and string labels,
/// which YAML and `http_sd`'s JSON read the same way).
pub fn scrape_job_moves_to_a_file(job: &ScrapeJob) -> bool {
    job.name().is_some() && job.has_plain_static_configs()
}

/// Moves the `static_configs` of the job named `name` into a [`TargetFile`] and points the job
/// at it on the server at `base_url`; `None` (the job unchanged) unless they are plain.
pub fn serve_over_http(job: &mut ScrapeJob, name: &str, base_url: &str) -> Option<TargetFile> {
    let file = take_targets(job, name)?;
    job.insert(HTTP_SD_CONFIGS_KEY, http_sd_configs(base_url, &file.id));
    Some(file)
}

/// The key of a job's `http_sd` entries.
pub const HTTP_SD_CONFIGS_KEY: &str = "http_sd_configs";

/// [`serve_over_http`] in two halves: the target file, taken out of the job...
pub fn take_targets(job: &mut ScrapeJob, name: &str) -> Option<TargetFile> {
    let mut json = job.take_plain_static_configs()?;
    json.push(b'\n');
    Some(TargetFile {
        id: file_id(name),
        json,
    })
}

/// ...and the job's `http_sd_configs` naming it on the server at `base_url`.
pub fn http_sd_configs(base_url: &str, id: &str) -> serde_json::Value {
    serde_json::json!([{"url": targets_url(base_url, id), "refresh_interval": TARGETS_REFRESH_INTERVAL}])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const BASE: &str = "http://127.0.0.1:9098";

    fn job(v: Value) -> ScrapeJob {
        ScrapeJob::from(v.as_object().unwrap().clone())
    }

    #[test]
    fn static_configs_move_to_a_file_named_by_the_job() {
        let groups = json!([{"targets": ["10.0.0.1:9100"], "labels": {"juju_unit": "a/0"}}]);
        let mut j = job(json!({"job_name": "a-0", "static_configs": groups.clone()}));
        assert!(scrape_job_moves_to_a_file(&j));
        let file = serve_over_http(&mut j, "a-0", BASE).expect("plain groups move out");
        assert_eq!(file.id, file_id("a-0"));
        assert_eq!(file.id.len(), 32);
        assert_eq!(file.json, format!("{groups}\n").into_bytes());
        let j = j.into_map();
        assert!(!j.contains_key("static_configs"));
        assert_eq!(
            j["http_sd_configs"],
            json!([{"url": format!("http://127.0.0.1:9098/targets/{}", file.id),
                    "refresh_interval": "10s"}])
        );
        assert_ne!(file_id("a-0"), file_id("a-1"));
    }

    #[test]
    fn anything_but_plain_strings_stays_inline() {
        for groups in [
            json!([{"targets": [1]}]),
            json!([{"targets": ["a:1"], "labels": {"x": 1}}]),
            json!([{"targets": ["a:1"], "extra": true}]),
            json!(["a:1"]),
            json!({"targets": ["a:1"]}),
        ] {
            let original = job(json!({"job_name": "j", "static_configs": groups}));
            let mut j = original.clone();
            assert!(!scrape_job_moves_to_a_file(&j));
            assert_eq!(serve_over_http(&mut j, "j", BASE), None, "{original:?}");
            assert_eq!(j, original);
        }
        let nameless = job(json!({"static_configs": []}));
        assert!(!scrape_job_moves_to_a_file(&nameless));
        let without_targets = job(json!({"job_name": "j"}));
        assert!(!scrape_job_moves_to_a_file(&without_targets));
    }

    #[test]
    fn a_job_without_targets_serves_an_empty_list() {
        let mut j = job(json!({"job_name": "j", "static_configs": []}));
        assert_eq!(serve_over_http(&mut j, "j", BASE).unwrap().json, b"[]\n");
    }
}

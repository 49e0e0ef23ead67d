//! Scrape jobs from relations, made safe to place beside the charm's own jobs.

use std::collections::BTreeSet;

use charm_interfaces::ScrapeJob;
use serde_json::Value;

use super::yaml::to_canonical_yaml;
use super::RelationJobsFile;

/// Relation jobs ready for `scrape_configs`, and what was changed on the way.
#[derive(Debug, Default)]
pub struct PreparedJobs {
    /// Jobs sorted by (final) job name.
    pub jobs: Vec<PreparedJob>,
    /// One human-readable line per dropped or renamed job.
    pub notes: Vec<String>,
}

/// A relation job with its final name, still compact (see [`ScrapeJob`]).
#[derive(Debug)]
pub struct PreparedJob {
    /// The name it goes by in prometheus.yml.
    pub name: String,
    /// The job as the relation gave it.
    pub job: ScrapeJob,
}

/// Prepares relation jobs.
///
/// - A job without a non-empty string `job_name` is dropped (Prometheus would reject the file).
/// - Jobs are ordered by name (stable for equal names), so relation order does not matter.
/// - `honor_labels: true` is forced ([`PreparedJob::into_map`]): targets' own topology labels
///   win over Prometheus' defaults.
/// - Duplicate names are **renamed, not dropped**, so no target stops being scraped: names in
///   `reserved` (the charm's own jobs) always win, and a new name takes none of the jobs in
///   relation files (`in_files`; no job here has one of theirs, as their relations are
///   isolated); among relation jobs the first in order keeps
///   its name (equal names are ordered by content). Every other holder of a taken name becomes
///   `<name>_<k>` with the smallest `k ≥ 2` that is still free. The result depends only on
///   the set of jobs.
pub fn prepare(
    jobs: Vec<ScrapeJob>,
    reserved: &BTreeSet<String>,
    in_files: &[RelationJobsFile],
) -> PreparedJobs {
    let mut notes = Vec::new();
    let mut named: Vec<(String, String, ScrapeJob)> = Vec::with_capacity(jobs.len());
    for job in jobs {
        match job.name() {
            Some(name) if !name.is_empty() => {
                named.push((name.to_owned(), String::new(), job));
            }
            _ => notes.push(format!(
                "dropped a relation scrape job without a job_name: {}",
                Value::Object(job.into_map())
            )),
        }
    }
    // Tie-break equal names by content, so input order never decides. Rendering a job's
    // content is costly and needed only where a name is shared: sort by name, then render
    // and sort the runs of equal names.
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let mut start = 0;
    while start < named.len() {
        let end = start
            + named[start..]
                .iter()
                .take_while(|n| n.0 == named[start].0)
                .count();
        if end - start > 1 {
            for entry in &mut named[start..end] {
                entry.1 = to_canonical_yaml(&entry.2.to_map()).unwrap_or_default();
            }
            named[start..end].sort_by(|a, b| a.1.cmp(&b.1));
        }
        start = end;
    }

    // Who keeps their name: the first of each run of equal names (they are sorted), unless
    // one of the charm's own jobs holds it.
    let keeps: Vec<bool> = (0..named.len())
        .map(|i| (i == 0 || named[i].0 != named[i - 1].0) && !reserved.contains(&named[i].0))
        .collect();
    // The others get the first free name: every name held so far is taken (a set built only
    // when someone is renamed).
    let mut taken: BTreeSet<String> = if keeps.iter().all(|keep| *keep) {
        BTreeSet::new()
    } else {
        reserved
            .iter()
            .cloned()
            .chain(named.iter().map(|n| n.0.clone()))
            .chain(
                in_files
                    .iter()
                    .flat_map(|f| f.jobs.iter().filter_map(ScrapeJob::name))
                    .map(str::to_owned),
            )
            .collect()
    };
    let mut jobs = Vec::with_capacity(named.len());
    for ((name, _, job), keep) in named.into_iter().zip(keeps) {
        let final_name = if keep {
            name
        } else {
            let new_name = (2u32..)
                .map(|k| format!("{name}_{k}"))
                .find(|candidate| !taken.contains(candidate))
                .expect("an unbounded range always has a free name");
            taken.insert(new_name.clone());
            notes.push(format!(
                "renamed relation scrape job {name:?} to {new_name:?}: the name is already used"
            ));
            new_name
        };
        jobs.push(PreparedJob {
            name: final_name,
            job,
        });
    }
    jobs.sort_by(|a, b| a.name.cmp(&b.name));
    PreparedJobs { jobs, notes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(v: Value) -> ScrapeJob {
        ScrapeJob::from(v.as_object().unwrap().clone())
    }

    fn names(p: &PreparedJobs) -> Vec<&str> {
        p.jobs.iter().map(|j| j.name.as_str()).collect()
    }

    fn maps(p: PreparedJobs) -> Vec<serde_json::Map<String, Value>> {
        p.jobs
            .into_iter()
            .map(|j| {
                let mut job = j.job.into_map();
                job.insert("job_name".into(), Value::String(j.name));
                job.insert("honor_labels".into(), Value::Bool(true));
                job
            })
            .collect()
    }

    #[test]
    fn renames_collisions_with_reserved_and_each_other() {
        let reserved = BTreeSet::from(["prometheus".to_owned()]);
        let jobs = [
            job(json!({"job_name": "prometheus", "static_configs": []})),
            job(json!({"job_name": "a", "metrics_path": "/one"})),
            job(json!({"job_name": "a_2"})),
            job(json!({"job_name": "a", "metrics_path": "/two"})),
        ];
        let p = prepare(jobs.to_vec(), &reserved, &[]);
        assert_eq!(names(&p), ["a", "a_2", "a_3", "prometheus_2"]);
        assert_eq!(p.notes.len(), 2);
        let jobs = maps(p);
        assert_eq!(jobs[0]["metrics_path"], "/one");
        assert_eq!(jobs[2]["metrics_path"], "/two");
        assert_eq!(jobs[3]["job_name"], "prometheus_2");
        assert!(jobs.iter().all(|j| j["honor_labels"] == json!(true)));
    }

    #[test]
    fn drops_nameless_jobs_and_overrides_honor_labels() {
        let jobs = [
            job(json!({"static_configs": []})),
            job(json!({"job_name": ""})),
            job(json!({"job_name": "x", "honor_labels": false})),
        ];
        let p = prepare(jobs.to_vec(), &BTreeSet::new(), &[]);
        assert_eq!(names(&p), ["x"]);
        assert_eq!(p.notes.len(), 2);
        assert_eq!(maps(p)[0]["honor_labels"], json!(true));
    }

    #[test]
    fn order_of_input_does_not_matter() {
        let a = job(json!({"job_name": "b"}));
        let b = job(json!({"job_name": "a"}));
        let p1 = maps(prepare(vec![a.clone(), b.clone()], &BTreeSet::new(), &[]));
        let p2 = maps(prepare(vec![b, a], &BTreeSet::new(), &[]));
        assert_eq!(p1, p2);
        let c = job(json!({"job_name": "a", "metrics_path": "/z"}));
        let d = job(json!({"job_name": "a", "metrics_path": "/y"}));
        let p1 = maps(prepare(vec![c.clone(), d.clone()], &BTreeSet::new(), &[]));
        let p2 = maps(prepare(vec![d, c], &BTreeSet::new(), &[]));
        assert_eq!(p1, p2);
        assert_eq!(p1[0]["metrics_path"], "/y");
    }
}

//! Job-name collisions: every job sharing a name gets `_<sha256 of its JSON>` appended (the JSON
//! as Python's `json.dumps` writes it, so names equal the Python library's), jobs are grouped by
//! their original name in first-seen order, then byte-identical jobs are collapsed.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use sha2::{Digest, Sha256};

use super::Draft;
use crate::ordered::OVal;

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A draft's job name (`""` when it has none).
pub(crate) fn name_of(d: &Draft) -> &str {
    d.job.get("job_name").and_then(OVal::as_str).unwrap_or("")
}

fn job_name(d: &Draft) -> String {
    name_of(d).to_owned()
}

/// Whether no two of `drafts` share a name: then [`dedupe`] changes nothing.
pub(crate) fn names_unique(drafts: &[Draft]) -> bool {
    let mut seen: HashSet<&str> = HashSet::with_capacity(drafts.len());
    drafts.iter().all(|d| seen.insert(name_of(d)))
}

/// Dedupe `drafts` (all live). Returns the kept drafts and the collapsed ones (marked dropped).
pub(crate) fn dedupe(drafts: Vec<Draft>) -> (Vec<Draft>, Vec<Draft>) {
    // Usually every name is unique: then nothing is renamed, and no two jobs can be
    // identical (identical jobs have equal names).
    if names_unique(&drafts) {
        return (drafts, Vec::new());
    }
    dedupe_colliding(drafts)
}

/// [`dedupe`] of drafts known to share names.
pub(crate) fn dedupe_colliding(drafts: Vec<Draft>) -> (Vec<Draft>, Vec<Draft>) {
    collapse_identical(rename_collisions(drafts))
}

/// Groups the drafts by name (first-seen order) and appends the sha256 suffix to every name
/// that several drafts share.
fn rename_collisions(drafts: Vec<Draft>) -> Vec<Draft> {
    // Groups in first-seen order, found by name through a map: this runs over every job of
    // every relation (10,000 at 2,000 applications of 5 units), where a scan of the groups
    // per job was quadratic.
    let mut groups: Vec<(String, Vec<Draft>)> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for d in drafts {
        let name = job_name(&d);
        match group_of.get(&name) {
            Some(&i) => groups[i].1.push(d),
            None => {
                group_of.insert(name.clone(), groups.len());
                groups.push((name, vec![d]));
            }
        }
    }
    let mut ordered = Vec::new();
    for (name, group) in groups {
        let collide = group.len() > 1;
        for mut d in group {
            if collide {
                let hash = sha256_hex(&d.job.py_dumps());
                d.job
                    .insert("job_name", OVal::str(format!("{name}_{hash}")));
                d.reasons.note(|| {
                    format!("job name {name} used by several jobs: sha256 of the job appended")
                });
            }
            ordered.push(d);
        }
    }
    ordered
}

/// Collapses each draft whose job is byte-identical to an earlier one into that one.
fn collapse_identical(ordered: Vec<Draft>) -> (Vec<Draft>, Vec<Draft>) {
    // Byte-identical jobs have equal names: only jobs whose (final) name is shared can be
    // identical to another, so only those are serialised and compared.
    let shared: Vec<bool> = {
        let mut count: HashMap<&str, usize> = HashMap::new();
        for d in &ordered {
            *count.entry(name_of(d)).or_default() += 1;
        }
        ordered.iter().map(|d| count[name_of(d)] > 1).collect()
    };
    let mut kept: Vec<Draft> = Vec::new();
    // The first kept job of each JSON text, by text (same reason: no scan per job).
    let mut first_of: HashMap<String, usize> = HashMap::new();
    let mut collapsed = Vec::new();
    for (mut d, shared) in ordered.into_iter().zip(shared) {
        if !shared {
            kept.push(d);
            continue;
        }
        let text = d.job.py_dumps();
        if let Some(&first) = first_of.get(&text) {
            d.dropped = true;
            d.reasons
                .note(|| format!("identical to job {}: collapsed", job_name(&kept[first])));
            collapsed.push(d);
        } else {
            first_of.insert(text, kept.len());
            kept.push(d);
        }
    }
    (kept, collapsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ordered::{OMap, OVal};
    use crate::scrape::Reasons;
    use proptest::prelude::*;

    fn draft(json: &str) -> Draft {
        let OVal::Obj(job) = OVal::parse(json).unwrap() else {
            panic!("not an object")
        };
        Draft::new(1, "app", job, Reasons::new(true))
    }

    /// The Python library's own unit-test vector for its dedupe function.
    #[test]
    fn matches_python_library_vector() {
        let jobs = [
            r#"{"job_name": "job0", "static_configs": [{"targets": ["localhost:9090"]}], "scrape_interval": "5s"}"#,
            r#"{"job_name": "job0", "static_configs": [{"targets": ["localhost:9090"]}], "scrape_interval": "5s"}"#,
            r#"{"job_name": "job1", "static_configs": [{"targets": ["localhost:9090"]}], "scrape_interval": "5s"}"#,
            r#"{"job_name": "job0", "static_configs": [{"targets": ["localhost:9090"]}], "scrape_interval": "10s"}"#,
            r#"{"job_name": "job0", "static_configs": [{"targets": ["localhost:9091"]}], "scrape_interval": "5s"}"#,
        ];
        let (kept, collapsed) = dedupe(jobs.iter().map(|j| draft(j)).collect());
        let names: Vec<String> = kept.iter().map(job_name).collect();
        assert_eq!(
            names,
            [
                "job0_6f9f1c305506707b952aef3885fa099fe36158f6359b8a06634068270645aefd",
                "job0_c651cf3a8cd1b85abc0cf7620e058b87ef43e2296d1520328ce5a796e9b20993",
                "job0_546b5bbb56e719d894b0a557975e0926ed093ea547c87051595d953122d2a7d6",
                "job1",
            ]
        );
        assert_eq!(collapsed.len(), 1);
        assert!(collapsed[0].dropped);
    }

    /// What the collapse step is defined as: every job serialised, a job whose text was seen
    /// before is collapsed into the first kept job with that text.
    fn collapse_by_text(ordered: Vec<Draft>) -> (Vec<Draft>, Vec<Draft>) {
        let (mut kept, mut collapsed): (Vec<Draft>, Vec<Draft>) = (Vec::new(), Vec::new());
        for mut d in ordered {
            let text = d.job.py_dumps();
            match kept.iter().find(|k| k.job.py_dumps() == text) {
                Some(first) => {
                    d.dropped = true;
                    d.reasons
                        .note(|| format!("identical to job {}: collapsed", job_name(first)));
                    collapsed.push(d);
                }
                None => kept.push(d),
            }
        }
        (kept, collapsed)
    }

    fn summary(drafts: &[Draft]) -> Vec<(String, bool, Reasons)> {
        drafts
            .iter()
            .map(|d| (d.job.py_dumps(), d.dropped, d.reasons.clone()))
            .collect()
    }

    proptest! {
        /// Serialising only the jobs that share a name collapses exactly what comparing every
        /// job's text does, including names that a renamed job's suffix happens to produce
        /// and jobs without a (string) name.
        #[test]
        fn collapsing_by_name_equals_collapsing_by_text(
            jobs in prop::collection::vec(
                (
                    prop::sample::select(vec![
                        None,
                        Some(OVal::str("a")),
                        Some(OVal::str("b")),
                        Some(OVal::Num(1.into())),
                        // "a" renamed for the content {"job_name": "a", "x": 1}.
                        Some(OVal::str(format!(
                            "a_{}",
                            sha256_hex(r#"{"job_name": "a", "x": 1}"#)
                        ))),
                    ]),
                    prop::option::of(0..2u8),
                ),
                0..12,
            )
        ) {
            let drafts: Vec<Draft> = jobs
                .into_iter()
                .map(|(name, x)| {
                    let mut job = OMap::new();
                    if let Some(name) = name {
                        job.insert("job_name", name);
                    }
                    if let Some(x) = x {
                        job.insert("x", OVal::Num(x.into()));
                    }
                    Draft::new(1, "app", job, Reasons::new(true))
                })
                .collect();
            let (fast_kept, fast_collapsed) = dedupe(drafts.clone());
            let (slow_kept, slow_collapsed) = collapse_identical(rename_collisions(drafts.clone()));
            prop_assert_eq!(summary(&fast_kept), summary(&slow_kept));
            prop_assert_eq!(summary(&fast_collapsed), summary(&slow_collapsed));
            let ordered = rename_collisions(drafts);
            let (kept, collapsed) = collapse_identical(ordered.clone());
            let (want_kept, want_collapsed) = collapse_by_text(ordered);
            prop_assert_eq!(summary(&kept), summary(&want_kept));
            prop_assert_eq!(summary(&collapsed), summary(&want_collapsed));
        }
    }
}

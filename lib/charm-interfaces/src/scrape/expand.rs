//! Turning one provider job into the jobs Prometheus runs: per-unit jobs for wildcard (and
//! unit-matching) targets, one job for external targets, Juju topology labels, instance relabel.

use compact_str::format_compact;

use super::hosts::{target_host, UnitHost};
use super::Draft;
use crate::ordered::{OMap, OVal};
use crate::topology::Topology;

fn instance_relabel(with_unit: bool) -> OVal {
    let mut sources = vec![
        OVal::str("juju_model"),
        OVal::str("juju_model_uuid"),
        OVal::str("juju_application"),
    ];
    if with_unit {
        sources.push(OVal::str("juju_unit"));
    }
    let mut m = OMap::new();
    m.insert("source_labels", OVal::Arr(sources));
    m.insert("separator", OVal::str("_"));
    m.insert("target_label", OVal::str("instance"));
    m.insert("regex", OVal::str("(.*)"));
    OVal::Obj(m)
}

/// The job's relabel rules with `rule` appended.
fn with_relabel(job: &OMap, rule: OVal) -> OVal {
    let mut rules = job
        .get("relabel_configs")
        .and_then(OVal::as_arr)
        .cloned()
        .unwrap_or_default();
    rules.push(rule);
    OVal::Arr(rules)
}

/// Labels: topology first, then `juju_unit`, then the provider's own labels (which win).
fn merged_labels(topology: &Topology, unit: Option<&str>, user: Option<&OVal>) -> OVal {
    let mut labels = topology.target_labels();
    if let Some(u) = unit {
        labels.insert("juju_unit", OVal::str(u));
    }
    if let Some(OVal::Obj(user)) = user {
        for (k, v) in user.iter() {
            labels.insert(k.clone(), v.clone());
        }
    }
    OVal::Obj(labels)
}

/// [`merged_labels`] for every unit of one static config, merged once: each unit's labels are
/// a copy with its `juju_unit` set, unless the provider's labels name `juju_unit` themselves.
struct UnitLabels {
    /// The merged labels with an empty `juju_unit` where the unit's goes.
    merged: OMap,
    /// Whether the provider's labels set `juju_unit` (theirs wins).
    user_unit: bool,
}

impl UnitLabels {
    fn new(topology: &Topology, user: Option<&OVal>) -> Self {
        let user_unit = matches!(user, Some(OVal::Obj(user)) if user.contains_key("juju_unit"));
        let OVal::Obj(merged) = merged_labels(topology, Some(""), user) else {
            unreachable!("merged labels are a mapping")
        };
        Self { merged, user_unit }
    }

    fn of(&self, unit: &str) -> OVal {
        let mut labels = self.merged.clone();
        if !self.user_unit {
            labels.insert("juju_unit", OVal::str(unit));
        }
        OVal::Obj(labels)
    }
}

/// Expand the sanitized, prefixed job of `base`, which carries its origin and the reasons
/// gathered so far.
pub(crate) fn expand_job(base: &Draft, hosts: &[UnitHost], topology: &Topology) -> Vec<Draft> {
    let job = &base.job;
    let mut out = Vec::new();
    let name = job
        .get("job_name")
        .and_then(OVal::as_str)
        .unwrap_or("unnamed-job")
        .to_owned();
    let metrics_path = job
        .get("metrics_path")
        .and_then(OVal::as_str)
        .filter(|p| !p.is_empty())
        .unwrap_or("/metrics")
        .to_owned();
    let static_configs = job
        .get("static_configs")
        .and_then(OVal::as_arr)
        .map_or(&[][..], Vec::as_slice);
    let mut external_configs = Vec::new();
    // The same for every unit's job.
    let unit_relabel = with_relabel(job, instance_relabel(true));

    for sc in static_configs {
        let Some(sc) = sc.as_obj() else { continue };
        let targets: Vec<&str> = sc
            .get("targets")
            .and_then(OVal::as_arr)
            .map(|t| t.iter().filter_map(OVal::as_str).collect())
            .unwrap_or_default();
        if targets.is_empty() {
            continue;
        }
        let (wildcards, others): (Vec<&str>, Vec<&str>) =
            targets.iter().partition(|t| t.starts_with('*'));
        let mut external = Vec::new();
        let unit_labels = UnitLabels::new(topology, sc.get("labels"));
        let mut matched: Vec<Vec<&str>> = vec![Vec::new(); hosts.len()];
        for t in others {
            let host = target_host(t);
            match hosts.iter().position(|h| h.matches(host)) {
                Some(i) => matched[i].push(t),
                None => external.push(t),
            }
        }
        if !external.is_empty() {
            let mut ext = sc.clone();
            ext.insert(
                "targets",
                OVal::Arr(external.iter().map(|t| OVal::str(*t)).collect()),
            );
            ext.insert("labels", merged_labels(topology, None, sc.get("labels")));
            external_configs.push(OVal::Obj(ext));
        }
        for (host, matched) in hosts.iter().zip(&matched) {
            // As the library does: the wildcard targets of a static_config make one job per
            // unit, and every explicit target naming the unit makes a job of its own. They
            // share the name `<job>-<unit number>`, so dedupe gives each a sha256 suffix (and
            // collapses identical ones, e.g. `*:80` next to the unit's own `addr:80`).
            // Each group's targets, and the explicit target it is (`None`: the wildcards).
            let mut groups: Vec<(Vec<OVal>, Option<&str>)> = Vec::new();
            if !wildcards.is_empty() {
                groups.push((
                    wildcards
                        .iter()
                        .map(|t| OVal::str(t.replace('*', &host.target_host())))
                        .collect(),
                    None,
                ));
            }
            for t in matched {
                groups.push((vec![OVal::str(*t)], Some(*t)));
            }
            for (unit_targets, explicit) in groups {
                let unit_sc = sc.clone_replacing([
                    ("targets", OVal::Arr(unit_targets)),
                    ("labels", unit_labels.of(&host.name)),
                ]);
                let unit_job = job.clone_replacing([
                    ("static_configs", OVal::Arr(vec![OVal::Obj(unit_sc)])),
                    (
                        "job_name",
                        OVal::Str(format_compact!("{name}-{}", host.number())),
                    ),
                    (
                        "metrics_path",
                        OVal::Str(format_compact!("{}{metrics_path}", host.path)),
                    ),
                    ("relabel_configs", unit_relabel.clone()),
                ]);
                let mut draft = base.derive(unit_job, Some(host.name.as_str().into()));
                draft.reasons.note(|| match explicit {
                    None => format!(
                        "wildcard target(s) {} expanded for unit {} at {}",
                        wildcards.join(", "),
                        host.name,
                        host.address
                    ),
                    Some(t) => format!(
                        "target {t} matches the address or fqdn of unit {}",
                        host.name
                    ),
                });
                if !host.path.is_empty() {
                    draft
                        .reasons
                        .note(|| format!("unit path {} prefixed to metrics_path", host.path));
                }
                out.push(draft);
            }
        }
        if !wildcards.is_empty() && hosts.is_empty() {
            let mut d = base.derive(job.clone(), None);
            d.dropped = true;
            d.reasons.note(|| {
                format!(
                    "wildcard target(s) {} not expanded: no unit advertises an address yet",
                    wildcards.join(", ")
                )
            });
            out.push(d);
        }
    }

    if !external_configs.is_empty() {
        let ext_job = job.clone_replacing([
            ("static_configs", OVal::Arr(external_configs)),
            ("metrics_path", OVal::str(metrics_path.clone())),
            (
                "relabel_configs",
                with_relabel(job, instance_relabel(false)),
            ),
        ]);
        let mut draft = base.derive(ext_job, None);
        draft.reasons.note(|| {
            "external target(s): not a unit of the application, no juju_unit label".into()
        });
        out.push(draft);
    }
    if out.is_empty() {
        let mut d = base.derive(job.clone(), None);
        d.dropped = true;
        d.reasons.note(|| "job has no targets".into());
        out.push(d);
    }
    out
}

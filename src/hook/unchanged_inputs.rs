//! Recognising a hook whose inputs are those of the last successful apply, so that it does
//! not compute the desired state again.
//!
//! Computing the desired state is the costly part of a hook (about 28 ms for 1,000 scrape
//! jobs: every databag parsed, every rule checked, prometheus.yml rendered and hashed). It is a
//! pure function of its inputs, so when they are the same as when the workload was last
//! applied, its result is known: the files and layer are in place and the relation data is
//! written. What must be true to skip it:
//!
//! * **Same inputs.** The fingerprint covers the whole model snapshot (config, leadership, every
//!   relation's remote data and this unit's own databags, each relation through its
//!   [`relation_digest`]), the Prometheus version, the
//!   identity of the charm's binary, what Kubernetes refused and the charm's version. The
//!   remaining input, whether the poller is in Pebble's plan, is covered by the plan digest
//!   below (it is the same before and after an apply). The recorded fingerprint is taken with this unit's databags as they
//!   are *after* that hook's relation writes; if that hook failed after applying, Juju dropped
//!   its writes, the databags read now differ, and the next hook computes and writes again.
//! * **The workload is as that apply left it.** The manifest (pulled from the container, so a
//!   new container has none) carries the fingerprint; Pebble's plan must have the digest it had
//!   after the apply; every enabled service must run and every disabled one must not.
//! * **Relations not read again.** The digest of each relation is kept with the databag cache
//!   as the relation's memo ([`juju_hook::HookTools::set_relation_memo`]) once a hook applied
//!   it; the cache drops the memo as soon as anything it answers about that relation changes or
//!   is forgotten (a relation event naming it, a re-read of the rotation, a write, a new
//!   leader). A hook whose other relations all have a memo takes their digests from it and
//!   reads their databags only when the fingerprint differs, so an unchanged hook costs what
//!   its own relation and config cost, not what the model weighs.
//! * **Not an event that re-checks everything.** install, upgrade-charm, leader-elected and
//!   pebble-ready always take the full path, as they do for the databag cache.
//! * **On update-status, nothing out of place.** update-status re-reads a rotating slice of the
//!   databags (a re-read that differs from its memo changes the fingerprint), pulls the managed
//!   configuration files and lists the target files. It skips the computation only when no
//!   configuration file drifted and the listing is exactly the charm's record of what it
//!   pushed, each file at its recorded length, and the last apply was not the targets
//!   shortcut's (so a targets-only apply is checked by the full computation at the next
//!   update-status, as before); anything else takes the full path, which restores the files.
//!   So the re-verification bound of the rotation and the restoring of files edited in the
//!   container hold as before, and an update-status in a quiet model costs the reads, not a
//!   computation of everything.

use std::borrow::Cow;
use std::path::Path;

use juju_hook::{merge_relation_set, Event, Status};
use pebble::Startup;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::core::desired::RelationWrite;
use crate::core::manifest::plan_digest;
use crate::core::model::{ModelSnapshot, RelationSnapshot};
use crate::effects::current::CurrentWorkload;
use crate::hook::event_policy::EventPolicy;

/// Bumped whenever what the fingerprint covers changes, or how.
const FORMAT: u32 = 3;

/// Everything the desired state is computed from.
#[derive(Debug)]
pub struct HookInputs<'a> {
    /// The model as read in this hook.
    pub snapshot: &'a ModelSnapshot,
    /// The [`relation_digest`] of each of the snapshot's relations, in the same order (taken
    /// from the relation's memo when its databags were not read).
    pub relation_digests: &'a [String],
    /// The Prometheus version rendered for.
    pub prometheus_version: String,
    /// Identity (size and modification time) of the charm binary pushed for the poller.
    pub charm_binary: Option<String>,
    /// What Kubernetes refused in this hook, if anything.
    pub kubernetes_problem: Option<&'a str>,
}

/// A digest of one relation as the model reader read it: remote application, units and their
/// databags, and this unit's own databags.
pub fn relation_digest(relation: &RelationSnapshot) -> String {
    let mut hasher = Sha256::new();
    serde_json::to_writer(buffered(&mut hasher), relation).expect("a relation serialises");
    hex::encode(hasher.finalize())
}

/// A hasher fed through a buffer (flushed when dropped): serde_json writes a token at a time
/// (a quote, a key, a comma), and each write to the hasher costs a call into its block
/// buffering; at 2,000 relations the fingerprint's small writes were most of its cost.
fn buffered(hasher: &mut Sha256) -> std::io::BufWriter<&mut Sha256> {
    std::io::BufWriter::with_capacity(16 * 1024, hasher)
}

/// The digests of every relation of `snapshot`, in order.
pub fn relation_digests(snapshot: &ModelSnapshot) -> Vec<String> {
    snapshot.relations.iter().map(relation_digest).collect()
}

/// A digest of the inputs and of the charm build that interprets them.
pub fn fingerprint(inputs: &HookInputs<'_>) -> String {
    // Every field but the relations, which stand as (endpoint, id, digest): listed by
    // destructuring, so a new field of the snapshot cannot be left out.
    let ModelSnapshot {
        description,
        config,
        leader,
        model,
        app_name,
        unit_id,
        fqdn,
        relations,
        prometheus_version,
        planned_units,
        planned_unit_numbers,
        pvc_capacity,
        tls,
    } = inputs.snapshot;
    #[derive(Serialize)]
    struct Fingerprinted<'a> {
        format: u32,
        charm_version: &'static str,
        description: &'a Option<String>,
        config: &'a serde_json::Map<String, serde_json::Value>,
        leader: bool,
        model: &'a crate::core::model::ModelInfo,
        app_name: &'a str,
        unit_id: u32,
        fqdn: &'a str,
        relations: String,
        snapshot_version: &'a Option<String>,
        planned_units: &'a Option<u32>,
        planned_unit_numbers: &'a Option<Vec<u32>>,
        pvc_capacity: &'a Option<String>,
        tls: &'a Option<crate::core::tls::UnitTls>,
        prometheus_version: &'a str,
        charm_binary: &'a Option<String>,
        kubernetes_problem: Option<&'a str>,
    }
    debug_assert_eq!(relations.len(), inputs.relation_digests.len());
    let mut hasher = Sha256::new();
    serde_json::to_writer(
        buffered(&mut hasher),
        &Fingerprinted {
            format: FORMAT,
            charm_version: env!("CARGO_PKG_VERSION"),
            description,
            config,
            leader: *leader,
            model,
            app_name,
            unit_id: *unit_id,
            fqdn,
            relations: relations_digest(relations, inputs.relation_digests),
            snapshot_version: prometheus_version,
            planned_units,
            planned_unit_numbers,
            pvc_capacity,
            tls,
            prometheus_version: &inputs.prometheus_version,
            charm_binary: &inputs.charm_binary,
            kubernetes_problem: inputs.kubernetes_problem,
        },
    )
    .expect("hook inputs serialise");
    hex::encode(hasher.finalize())
}

/// A digest of the relations as the fingerprint covers them, each as its endpoint, id and
/// [`relation_digest`], written out plainly (the endpoint and digest each ended by a zero
/// byte, the id in 4 bytes) and hashed at once: at 2,000 relations, serialising them as JSON
/// strings (escaping each) was most of a relation hook's fingerprint, which it computes twice.
fn relations_digest(relations: &[RelationSnapshot], digests: &[String]) -> String {
    let mut plain = Vec::with_capacity(relations.len() * 96);
    for (relation, digest) in relations.iter().zip(digests) {
        plain.extend_from_slice(relation.endpoint.as_bytes());
        plain.push(0);
        plain.extend_from_slice(&relation.id.to_le_bytes());
        plain.extend_from_slice(digest.as_bytes());
        plain.push(0);
    }
    hex::encode(Sha256::digest(&plain))
}

/// The snapshot as the next hook will read it once `writes` are committed.
pub fn after_writes<'a>(
    snapshot: &'a ModelSnapshot,
    writes: &[RelationWrite],
) -> Cow<'a, ModelSnapshot> {
    if writes.is_empty() {
        return Cow::Borrowed(snapshot);
    }
    let mut after = snapshot.clone();
    for write in writes {
        let Some(rel) = after
            .relations
            .iter_mut()
            .find(|r| r.endpoint == write.relation.endpoint && r.id == write.relation.id)
        else {
            continue;
        };
        let bag = if write.app {
            &mut rel.local_app_data
        } else {
            &mut rel.local_unit_data
        };
        merge_relation_set(bag, &write.data);
    }
    Cow::Owned(after)
}

/// The status the last apply ended with, when this hook's inputs are the same and the workload
/// is as that apply left it (plan, services as [`CurrentWorkload::read`] found them, and the
/// files this hook checked: see [`CurrentWorkload::files_as_applied`], against the target
/// files' record at `record`); `None` when the desired state must be computed.
pub fn last_status_if_unchanged(
    event: &Event,
    current: &CurrentWorkload,
    fingerprint: &str,
    record: &Path,
) -> Option<Status> {
    if EventPolicy::is_full_path(event) {
        return None;
    }
    let applied_for = current.manifest.applied_for.as_ref()?;
    if applied_for.targets_only && EventPolicy::checks_workload(event) {
        return None;
    }
    if applied_for.inputs != fingerprint
        || applied_for.plan != plan_digest(&current.plan)
        || !current.files_as_applied(record)
    {
        return None;
    }
    // A service stopped or crashed since is restarted by the full path.
    current
        .services
        .as_ref()?
        .iter()
        .all(|s| s.is_running() == (s.startup == Startup::Enabled))
        .then(|| applied_for.status.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{Databag, ModelInfo, RelationSnapshot};
    use juju_hook::RelationId;

    fn snapshot() -> ModelSnapshot {
        ModelSnapshot {
            description: None,
            config: serde_json::Map::new(),
            leader: true,
            model: ModelInfo {
                name: "m".into(),
                uuid: "u".into(),
            },
            app_name: "prometheus".into(),
            unit_id: 0,
            fqdn: "prometheus-0".into(),
            relations: vec![RelationSnapshot {
                endpoint: "grafana-source".into(),
                id: 4,
                app: "grafana".into(),
                app_data: Databag::new(),
                units: Vec::new(),
                local_app_data: Databag::from([("old".into(), "1".into())]),
                local_unit_data: Databag::new(),
            }],
            prometheus_version: None,
            planned_units: None,
            planned_unit_numbers: None,
            pvc_capacity: None,
            tls: None,
        }
    }

    fn inputs<'a>(snapshot: &'a ModelSnapshot, digests: &'a [String]) -> HookInputs<'a> {
        HookInputs {
            snapshot,
            relation_digests: digests,
            prometheus_version: "2.42.0".into(),
            charm_binary: None,
            kubernetes_problem: None,
        }
    }

    #[test]
    fn writes_are_merged_as_juju_commits_them() {
        let before = snapshot();
        let writes = [RelationWrite {
            relation: RelationId::new("grafana-source", 4),
            app: true,
            data: Databag::from([("old".into(), String::new()), ("new".into(), "2".into())]),
        }];
        let after = after_writes(&before, &writes);
        assert_eq!(
            after.relations[0].local_app_data,
            Databag::from([("new".into(), "2".into())])
        );
        assert_ne!(
            fingerprint(&inputs(&before, &relation_digests(&before))),
            fingerprint(&inputs(&after, &relation_digests(&after)))
        );
        assert!(matches!(after_writes(&before, &[]), Cow::Borrowed(_)));
    }

    /// The fingerprint of a snapshot, its relations digested as read.
    fn of(snapshot: &ModelSnapshot) -> String {
        fingerprint(&inputs(snapshot, &relation_digests(snapshot)))
    }

    #[test]
    fn every_input_changes_the_fingerprint() {
        let base = snapshot();
        let digests = relation_digests(&base);
        let reference = of(&base);
        assert_eq!(reference, of(&snapshot()), "deterministic");

        let mut config = snapshot();
        config
            .config
            .insert("evaluation_interval".into(), "2m".into());
        let mut remote = snapshot();
        remote.relations[0]
            .app_data
            .insert("grafana_source_data".into(), "{}".into());
        let mut own = snapshot();
        own.relations[0]
            .local_unit_data
            .insert("url".into(), "http://x".into());
        let mut leader = snapshot();
        leader.leader = false;
        let mut capacity = snapshot();
        capacity.pvc_capacity = Some("10Gi".into());
        let mut fqdn = snapshot();
        fqdn.fqdn = "elsewhere".into();
        // The same data under another relation id or endpoint.
        let mut id = snapshot();
        id.relations[0].id += 1;
        let mut endpoint = snapshot();
        endpoint.relations[0].endpoint.push('x');
        for changed in [&config, &remote, &own, &leader, &capacity, &fqdn] {
            assert_ne!(reference, of(changed), "{changed:?}");
        }
        let variants = [
            HookInputs {
                prometheus_version: "3.5.0".into(),
                ..inputs(&base, &digests)
            },
            HookInputs {
                charm_binary: Some("size=1 mtime=2".into()),
                ..inputs(&base, &digests)
            },
            HookInputs {
                kubernetes_problem: Some("forbidden"),
                ..inputs(&base, &digests)
            },
        ];
        for variant in &variants {
            assert_ne!(reference, fingerprint(variant), "{variant:?}");
        }
        for moved in [&id, &endpoint] {
            assert_ne!(
                reference,
                fingerprint(&inputs(moved, &digests)),
                "{moved:?}"
            );
        }
    }

    /// A relation whose databags were not read stands for itself through its digest: the same
    /// digest gives the same fingerprint, another one another.
    #[test]
    fn a_relation_counts_through_its_digest() {
        let base = snapshot();
        let mut unread = snapshot();
        unread.relations[0].local_app_data.clear();
        let remembered = relation_digests(&base);
        assert_eq!(of(&base), fingerprint(&inputs(&unread, &remembered)));
        let other = vec!["0".repeat(64)];
        assert_ne!(of(&base), fingerprint(&inputs(&unread, &other)));
    }
}

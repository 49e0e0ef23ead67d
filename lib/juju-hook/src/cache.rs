//! A cache of what hook tools answered, kept in the charm container between successful hooks,
//! so a hook that is not about a relation does not ask Juju again, one process per question,
//! for what cannot have changed.
//!
//! [`CachedHookTools`] wraps the real hook tools and keeps what they answered in files of the
//! charm directory (`$JUJU_CHARM_DIR/<CacheSettings::file_name>` and the databags beside it,
//! see below); the charm names the file,
//! the environment variable that turns the cache off, its own version and which events read
//! everything afresh ([`CacheSettings`]):
//!
//! * **Relation databags and membership**: `relation-list`, `relation-list --app` and
//!   `relation-get` of a cached relation are answered from the file.
//! * **Relation ids per endpoint**: `relation-ids <endpoint>` is answered from the file, except
//!   in a `-relation-created` or `-relation-broken` hook for its endpoint, which asks Juju.
//! * **This unit's workload status**: a `status-set` of the unit status Juju already shows (as
//!   the last successful hook left it, or as this hook set it) is not sent again. Application
//!   status, which another leader may have set meanwhile, is always sent.
//! * **Opened ports**: `opened-ports` is answered from the file, which holds what Juju will
//!   have committed: what it listed, plus this hook's `open-port`, minus its `close-port`.
//! * **Unit state**: `state-get` is answered from the file, which holds what Juju will have
//!   committed: what it answered, plus this hook's `state-set` calls.
//! * **Config**: `config-get` is answered from the file, except in `config-changed` and in
//!   events that re-read ([`Refresh::Rotate`], [`Refresh::Full`]), which ask Juju.
//!
//! * **Memos**: the charm may attach a memo to a relation
//!   ([`HookTools::set_relation_memo`], say the digest of what it read); the cache returns it
//!   ([`HookTools::relation_memo`]) only while nothing it answers about that relation has
//!   changed: a relation event naming the relation, a re-read of the rotation, a write to it,
//!   a change of leader, a full refresh or an unusable bags file drops it.
//!
//! The cache is an index (everything above but the databags, a few hundred bytes per
//! relation) and one file of databags per relation in the directory `<file>.bags`. A hook
//! reads a relation's databags only when it asks for one of them, and writes back only those
//! it changed: a hook that can tell from the memos that nothing changed reads none, and a
//! relation event costs what its own relation weighs. Within the index, each relation is a line
//! of its own with its memo apart: a relation's entry is parsed only when the hook uses more
//! than its memo, and written back as it was read otherwise (`cache/relations.rs`). An
//! unchanged index is put back as it was, without being serialised again: every change a hook
//! makes to what the index holds marks it changed (a debug build checks that an index put back
//! holds what would have been written). While a hook runs, its index waits as
//! `<file>.in-flight`.
//!
//! Leadership always goes to Juju, as do writes (`relation-set`, ports, `state-set`, status
//! when it differs). A config-changed of an unchanged model makes two hook-tool calls
//! (`config-get`, `is-leader`) whatever the number of relations, and a relation event that
//! moves one unit two (`is-leader`, and `relation-get` of that unit's databag; a unit that
//! joins costs the same, one that departs only `is-leader`); without the
//! cache, 200 related applications of 5 units cost about 1,610.
//!
//! # Why the cache is never wrong for long
//!
//! * **Remote changes always come with a hook naming them.** Juju runs `-relation-changed`
//!   whenever a remote unit's databag changes (naming the unit in `JUJU_REMOTE_UNIT`) or the
//!   remote application's does (naming no unit), `-relation-joined`/`-departed` when
//!   membership changes, and `-relation-created` and `-broken` around the relation's life.
//!   Before the charm reads anything, a relation hook forgets what its event says may have
//!   changed: the named unit's databag (or the remote application's), the whole relation on
//!   created/broken; that is read afresh. On joined/departed the cached membership gains or
//!   loses the named unit, as Juju's own does for the hook (Juju's membership in a hook is
//!   what its committed hooks left, plus or minus the event's unit; this cache keeps what the
//!   same successful hooks left). Everything else cannot have changed without a hook of its
//!   own still queued.
//! * **Relation ids change only in a hook on that endpoint.** A relation appears in
//!   `relation-ids <endpoint>` with that endpoint's `-relation-created` and leaves it with its
//!   `-relation-broken`, and its other hooks come between the two. Those two hooks drop the
//!   cached list of their endpoint, so they ask Juju; so does any relation hook whose
//!   relation the list lacks. Every other list stays what Juju last said (a relation whose
//!   `-relation-created` is still queued joins it with that hook). In `-relation-broken` the
//!   broken relation is never saved in the list, even if Juju still lists it (older Juju
//!   did). Ids do not depend on leadership: a change of leader keeps them.
//! * **This unit's own databags change only by this unit's writes** (and the application
//!   databag only by the leader's). Successful `relation-set` calls are merged into the cached
//!   copy, which is saved only when the hook succeeds, i.e. exactly when Juju commits them. A
//!   change of leadership (seen in `is-leader`) drops every cached databag: another leader may
//!   have written the application databag meanwhile.
//! * **Only the charm and a failed hook set the unit's workload status.** Juju itself changes
//!   it only to `error` when a hook fails, and a failed hook leaves no cache, so the next hook
//!   sends its status again. `status-set` takes effect at once, even in a hook that later
//!   fails; that is harmless, as such a hook saves nothing. Every status sent in a hook
//!   replaces the remembered one, so the last one sent is what the next hook compares with.
//! * **The config changes only with a `config-changed` hook.** Juju runs `config-changed`
//!   after every change of the application's config, and also after `upgrade-charm`, a change
//!   of trust and an agent restart; that hook asks Juju, and so do the re-reading events
//!   (update-status, every 5 minutes by default, and the full refreshes). A hook that runs
//!   between `juju config` and its `config-changed` sees the config before the change (a real
//!   Juju hook would see the new one); the queued `config-changed` applies it next.
//! * **Ports change only by this unit's `open-port`/`close-port`**, which Juju commits exactly
//!   when the hook exits 0, i.e. when the file is saved. Within a hook, `opened-ports` answers
//!   like Juju does: what was committed before the hook, without its own pending changes.
//!   Ports are per unit, so a change of leader keeps them.
//! * **The unit state changes only by this unit's `state-set`**, which Juju commits exactly
//!   when the hook exits 0, i.e. when the file is saved (no other unit, not even the leader,
//!   can write it). Within a hook, `state-get` answers like Juju does: with this hook's own
//!   `state-set` values already merged in. After a failed `state-set` the cached state is
//!   forgotten and asked for again. It is per unit, so a change of leader keeps it.
//! * **A failed or killed hook leaves no cache.** The index is moved aside when a hook starts
//!   and put back (or written anew) only after it succeeded, so after an error (retried, or
//!   skipped with `juju resolve --no-retry`), a crash or a timeout, the next hook asks Juju
//!   everything. Databags are written before the index, and without an index none is used.
//! * **Re-reads bound any staleness**: the events the charm maps to [`Refresh::Full`] in
//!   [`CacheSettings::refresh`] (typically install, upgrade-charm and leader-elected) ignore
//!   the cache: they read every relation, list every endpoint, ask for the opened ports and
//!   the unit state and always set the status. Those it maps to [`Refresh::Rotate`]
//!   (typically update-status, every 5 minutes by default) re-read a slice of the remote data
//!   within a budget of hook-tool calls, in a rotation that covers every relation within a
//!   bounded number of such events ([`Rotation`] gives the bound). So even a change made
//!   without a hook (which Juju does not do) or behind the charm's back (a hook tool run with
//!   `juju exec`) lasts at most one rotation. Relations that `relation-ids` no longer lists
//!   are dropped, and relations it lists that are not cached are read in full.
//! * **Pod churn**: Kubernetes may recreate the pod at any time; the new pod's charm directory
//!   is fresh, so there is no cache and the first hooks (config-changed, start, pebble-ready)
//!   ask everything. A cache written by another unit, model or version of the charm (a copied
//!   directory, a refresh), or in another layout ([`CacheOwner::format`]), is ignored.
//!
//! Setting the charm's [`CacheSettings::disable_env`] to `off` disables the cache (and removes
//! the file).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{
    merge_relation_set, Event, GoalState, HookContext, HookToolError, HookTools, LogLevel,
    NetworkInfo, Port, RelationData, RelationEvent, RelationEventKind, RelationId, Status,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tracing::{debug, warn};

mod relations;
use relations::{Relations, Slot};

/// `f` applied to `relation`'s key in the index (its id as Juju prints it, `endpoint:id`),
/// put together on the stack: every hook looks up every relation's memo, and formatting each
/// id into a new string was a fifth of that.
fn with_key<R>(relation: &RelationId, f: impl FnOnce(&str) -> R) -> R {
    let mut id = itoa::Buffer::new();
    let id = id.format(relation.id);
    let mut key = [0u8; 64];
    let len = relation.endpoint.len() + 1 + id.len();
    match key.get_mut(..len) {
        Some(buf) => {
            let (endpoint, rest) = buf.split_at_mut(relation.endpoint.len());
            endpoint.copy_from_slice(relation.endpoint.as_bytes());
            rest[0] = b':';
            rest[1..].copy_from_slice(id.as_bytes());
            f(std::str::from_utf8(buf).expect("an endpoint, a colon and digits"))
        }
        None => f(&relation.to_string()),
    }
}

/// Bumped whenever the file's layout or meaning changes.
const FORMAT: u32 = 7;

/// How much of the cache an event trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// Answer from the cache (a relation event still forgets what it names).
    Cached,
    /// Answer from the cache, but re-read the next slice of it in a rotation that covers
    /// everything remote within a bounded number of such events (see [`Rotation`]).
    Rotate {
        /// Hook-tool calls to spend on re-reading remote relation data; at least one
        /// relation is re-read whatever its size.
        budget: usize,
    },
    /// Ignore the cache: read everything afresh.
    Full,
}

/// Where the rotation of [`Refresh::Rotate`] stands, saved with the cache.
///
/// Each rotating event re-reads, in the order of their ids as Juju prints them, the next
/// relations after `after` whose cost (one `relation-list` plus one `relation-get` per remote
/// unit and one for the remote application) fits in the budget, and always at least one;
/// it also lists one endpoint again (`relation-ids`), in turn. When the walk passes the last
/// relation it starts over, and that event also asks again for the opened ports, the unit
/// state and sends the unit status. So every relation cached when a rotation starts is
/// re-read within `ceil(relations / max(1, floor(budget / cost)))` rotating events, and every
/// endpoint within as many events as there are endpoints. What only this unit writes (its own
/// unit and application databags, the remote application's name) is not re-read: nothing
/// else can change it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    /// The last relation re-read, `None` at the start of a round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// The last endpoint listed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Completed rounds (every relation re-read), for the logs and tests.
    #[serde(default)]
    pub rounds: u64,
}

/// How a charm uses the cache.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// The cache file's name in the charm directory.
    pub file_name: &'static str,
    /// Environment variable that disables the cache when set to `off`.
    pub disable_env: &'static str,
    /// The version of the charm writing the file: a file of another version is ignored.
    pub charm_version: String,
    /// How much of the cache each event trusts.
    pub refresh: fn(&Event) -> Refresh,
}

impl CacheSettings {
    /// Where the cache of a hook context lives.
    pub fn path(&self, ctx: &HookContext) -> PathBuf {
        ctx.charm_dir.join(self.file_name)
    }

    /// Whether the environment leaves the cache on (it is unless
    /// [`disable_env`](Self::disable_env) is `off`).
    pub fn enabled_by_env(&self) -> bool {
        std::env::var(self.disable_env).map_or(true, |v| v != "off")
    }
}

/// Whose cache a file is: a file with another owner is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheOwner {
    /// Layout version of the file.
    pub format: u32,
    /// The charm's version that wrote it.
    pub charm_version: String,
    /// `JUJU_MODEL_UUID`.
    pub model_uuid: String,
    /// `JUJU_UNIT_NAME`.
    pub unit: String,
}

impl CacheOwner {
    /// The owner for this hook: this unit, model and build of the charm.
    pub fn for_context(ctx: &HookContext, settings: &CacheSettings) -> Self {
        Self {
            format: FORMAT,
            charm_version: settings.charm_version.clone(),
            model_uuid: ctx.model_uuid.clone(),
            unit: ctx.unit_name.clone(),
        }
    }
}

/// What is known of one relation. Every part is optional: only what was read is cached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedRelation {
    /// `relation-list`: remote unit names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<Vec<String>>,
    /// `relation-list --app`: the remote application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_app: Option<String>,
    /// Unit databags by unit name (remote units and this unit).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unit_data: BTreeMap<String, RelationData>,
    /// Application databags by application name (the remote one and this one).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub app_data: BTreeMap<String, RelationData>,
    /// The charm's memo ([`HookTools::set_relation_memo`]), dropped whenever anything above
    /// changes or is forgotten.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
}

/// The databags of one relation, kept in its own file beside the index, so that a hook reads
/// and writes the databags of the relations it touches only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Bags {
    #[serde(default)]
    unit_data: BTreeMap<String, RelationData>,
    #[serde(default)]
    app_data: BTreeMap<String, RelationData>,
}

/// Where each relation's databags are in this hook.
#[derive(Debug, Default)]
struct BagsMemory {
    /// No index was loaded (or the cached databags were dropped): every databag is in memory
    /// and the bags directory is written anew.
    fresh: bool,
    /// Relations whose bags file this hook read.
    loaded: BTreeSet<String>,
    /// Relations whose databags this hook changed (or that are gone): written again.
    dirty: BTreeSet<String>,
}

/// The cache index's content. Its first line is this as JSON without the relations, which
/// follow one per line (`cache/relations.rs` has the layout).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheFile {
    /// Whose cache this is.
    pub owner: CacheOwner,
    /// Whether this unit was the leader when the cache was written.
    pub leader: bool,
    /// Relations by id as Juju prints it (`metrics-endpoint:3`), each on a line of its own.
    #[serde(skip)]
    pub relations: BTreeMap<String, CachedRelation>,
    /// `relation-ids` by endpoint, for the endpoints that were listed; in the file, each
    /// endpoint's relation numbers.
    #[serde(default, with = "ids_by_number")]
    pub relation_ids: BTreeMap<String, Vec<RelationId>>,
    /// The unit's workload status as the last hook left it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_status: Option<Status>,
    /// The ports Juju has opened for this unit, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_ports: Option<BTreeSet<Port>>,
    /// The unit's key/value store (`state-get`) as Juju holds it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_state: Option<BTreeMap<String, String>>,
    /// Where the re-reading rotation of [`Refresh::Rotate`] events stands.
    #[serde(default)]
    pub rotation: Rotation,
    /// The application's config (`config-get`) as Juju last answered it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Map<String, Value>>,
}

struct State {
    leader: Option<bool>,
    relations: Relations,
    /// Endpoint → relation ids, loaded from the cache or answered by Juju in this hook.
    relation_ids: BTreeMap<String, Vec<RelationId>>,
    /// The unit status Juju holds (cached, or sent in this hook), when known.
    unit_status: Option<Status>,
    ports: PortMemory,
    /// The unit state with this hook's `state-set` merged in, when known.
    unit_state: Option<BTreeMap<String, String>>,
    rotation: Rotation,
    /// The config as Juju last answered it (cached, or asked in this hook), when known.
    config: Option<Map<String, Value>>,
    /// Whether `config` may answer `config-get` (see [`config_trusted`]); true once Juju
    /// answered in this hook.
    config_trusted: bool,
    bags: BagsMemory,
    /// Whether anything the index holds may differ from the index loaded (set by every change,
    /// and by answers Juju gave in this hook); while false, [`CachedHookTools::finish`] puts
    /// the loaded index back without serialising it again.
    index_changed: bool,
}

/// What is known of this unit's opened ports.
#[derive(Default)]
struct PortMemory {
    /// What Juju had committed when the hook started (cached or asked); `None` = unknown.
    committed: Option<BTreeSet<Port>>,
    /// `open-port` (true) and `close-port` (false) calls Juju accepted in this hook, in order.
    changes: Vec<(Port, bool)>,
    /// A call failed: what Juju will commit is unknown.
    lost: bool,
}

impl PortMemory {
    /// The ports Juju will hold once this hook commits, when known.
    fn after_commit(self) -> Option<BTreeSet<Port>> {
        if self.lost {
            return None;
        }
        let mut ports = self.committed?;
        for (port, open) in self.changes {
            if open {
                ports.insert(port);
            } else {
                ports.remove(&port);
            }
        }
        Some(ports)
    }
}

/// Hook tools that answer relation reads from the databag cache (see the module docs).
///
/// Create it when the hook starts with [`CachedHookTools::open`], hand it to the charm as its
/// [`HookTools`], and call [`CachedHookTools::finish`] with the hook's outcome.
pub struct CachedHookTools<'a> {
    inner: &'a dyn HookTools,
    path: Option<PathBuf>,
    owner: CacheOwner,
    unit_name: String,
    app_name: String,
    /// In `-relation-departed`: the relation and the unit leaving it, never cached as a member.
    departing: Option<(String, String)>,
    /// In `-relation-broken`: the relation, never saved as listed.
    broken: Option<RelationId>,
    /// The index's bytes as loaded, to leave it in place when it serialises the same (kept
    /// as bytes: a clone of the parsed index cost more than serialising it again; shared with
    /// the relations left as loaded, which are lines of it).
    loaded: Option<Arc<Vec<u8>>>,
    state: RefCell<State>,
}

impl<'a> CachedHookTools<'a> {
    /// Loads the cache for this hook (unless disabled by the environment) and removes the
    /// file, so that only a successful [`finish`](Self::finish) leaves one behind.
    pub fn open(ctx: &HookContext, inner: &'a dyn HookTools, settings: &CacheSettings) -> Self {
        let path = settings.enabled_by_env().then(|| settings.path(ctx));
        Self::open_at(ctx, inner, settings, path)
    }

    /// Like [`open`](Self::open) with the cache file at `path`, or no cache file at all
    /// (`None`: nothing is loaded or saved; answers are only reused within this hook, where
    /// Juju's own answers do not change either).
    pub fn open_at(
        ctx: &HookContext,
        inner: &'a dyn HookTools,
        settings: &CacheSettings,
        path: Option<PathBuf>,
    ) -> Self {
        let owner = CacheOwner::for_context(ctx, settings);
        let loaded = match &path {
            Some(path) => take(path, &owner),
            None => {
                // Disabled: a file left from when it was on would be stale when it is back on.
                let index = settings.path(ctx);
                let _ = std::fs::remove_dir_all(bags_dir(&index));
                for file in [in_flight_path(&index), index] {
                    let _ = std::fs::remove_file(file);
                }
                None
            }
        };
        let mut state = State {
            leader: None,
            relations: Relations::default(),
            relation_ids: BTreeMap::new(),
            unit_status: None,
            ports: PortMemory::default(),
            unit_state: None,
            rotation: Rotation::default(),
            config: None,
            config_trusted: false,
            bags: BagsMemory {
                fresh: true,
                ..BagsMemory::default()
            },
            index_changed: true,
        };
        let refresh = (settings.refresh)(&ctx.event);
        state.config_trusted = config_trusted(&ctx.event, refresh);
        let (file, loaded) = match loaded.filter(|_| refresh != Refresh::Full) {
            Some((file, relations, bytes)) => (Some((file, relations)), Some(bytes)),
            None => (None, None),
        };
        if let (Some((file, relations)), Some(index)) = (file, &path) {
            state.leader = Some(file.leader);
            state.relations = relations;
            state.relation_ids = file.relation_ids;
            state.unit_status = file.unit_status;
            state.ports.committed = file.opened_ports;
            state.unit_state = file.unit_state;
            state.rotation = file.rotation;
            state.config = file.config;
            state.bags = BagsMemory::default();
            state.index_changed = false;
            let dir = bags_dir(index);
            if let Refresh::Rotate { budget } = refresh {
                rotate(&mut state, &dir, budget, &ctx.app_name, &ctx.unit_name);
            }
            if let Event::Relation(r) = &ctx.event {
                forget_what_changed(&mut state, &dir, r);
                // An endpoint's ids change only around -created and -broken: then ask Juju.
                // A list without the event's relation is stale some other way: ask too.
                let listed = (state.relation_ids.get(&r.relation.endpoint))
                    .is_some_and(|ids| ids.contains(&r.relation));
                let around = matches!(
                    r.kind,
                    RelationEventKind::Created | RelationEventKind::Broken
                );
                if around || !listed {
                    state.relation_ids.remove(&r.relation.endpoint);
                }
            }
        }
        let relation_event = match &ctx.event {
            Event::Relation(r) => Some(r),
            _ => None,
        };
        let departing = relation_event.and_then(|r| {
            r.departing_unit
                .clone()
                .map(|unit| (r.relation.to_string(), unit))
        });
        let broken = relation_event
            .filter(|r| r.kind == RelationEventKind::Broken)
            .map(|r| r.relation.clone());
        Self {
            inner,
            path,
            owner,
            unit_name: ctx.unit_name.clone(),
            app_name: ctx.app_name.clone(),
            departing,
            broken,
            loaded,
            state: RefCell::new(state),
        }
    }

    /// Ends the hook: when it succeeded, saves what is known now for the next hook (dropping
    /// relations that `relation-ids` no longer lists); when it failed, saves nothing.
    pub fn finish(self, success: bool) {
        let Some(path) = self.path else { return };
        let in_flight = in_flight_path(&path);
        let mut state = self.state.into_inner();
        let unreadable = state.relations.take_unreadable();
        if !unreadable.is_empty() {
            state.index_changed = true;
            state.bags.dirty.extend(unreadable);
        }
        let Some(leader) = state.leader.filter(|_| success) else {
            // A failed hook saves nothing; nor does one that did not check leadership (the
            // cache cannot vouch for the application databag).
            let _ = std::fs::remove_file(&in_flight);
            return;
        };
        // Nothing changed: the index read at the start goes back in place, neither scanned nor
        // serialised again (at thousands of relations that was a third of an unchanged hook's
        // work). Only a change adds a relation or a listing, so none can be gone.
        if let Some(loaded) = self
            .loaded
            .as_ref()
            .filter(|_| !state.index_changed && !state.bags.fresh && state.bags.dirty.is_empty())
        {
            debug_assert!(
                parse_index(loaded.clone())
                    .ok()
                    .map(|(file, relations)| CacheFile {
                        relations: relations.into_parsed(),
                        ..file
                    })
                    == Some(unchanged_index(self.owner, leader, state)),
                "a change to the databag cache was not marked"
            );
            if let Err(e) = std::fs::rename(&in_flight, &path) {
                warn!("cannot save the databag cache {}: {e}", path.display());
            }
            return;
        }
        // Relations of a listed endpoint that the list no longer has are gone. Each relation's
        // number is looked up in a set of its endpoint's: thousands of relations made a scan
        // of the list per relation quadratic (over half of a hook at 2,000 relations), and a
        // set of formatted ids cost an id string per relation.
        let listed: BTreeMap<&str, HashSet<u32>> = state
            .relation_ids
            .iter()
            .map(|(endpoint, ids)| (endpoint.as_str(), ids.iter().map(|id| id.id).collect()))
            .collect();
        let gone = |key: &String| match key.rsplit_once(':') {
            Some((endpoint, number)) => listed
                .get(endpoint)
                .is_some_and(|ids| !number.parse::<u32>().is_ok_and(|n| ids.contains(&n))),
            None => listed.contains_key(key.as_str()),
        };
        let gone: Vec<String> = state
            .relations
            .keys()
            .filter(|key| gone(key))
            .cloned()
            .collect();
        for id in gone {
            state.relations.remove(&id);
            state.bags.dirty.insert(id);
        }
        let mut relations = std::mem::take(&mut state.relations);
        if let Err(e) = store_bags(&bags_dir(&path), &mut relations, &state.bags) {
            warn!("cannot save the databag cache {}: {e}", path.display());
            let _ = std::fs::remove_file(&in_flight);
            return;
        }
        let header = index_file(self.owner, leader, BTreeMap::new(), state);
        // About the size of the index loaded: grown once rather than doubling its way there.
        let capacity = self.loaded.as_ref().map_or(0, |l| l.len()) + 4096;
        let bytes = index_bytes(&header, relations, capacity);
        // Answers asked again may be what was cached: then the index is unchanged too.
        // Otherwise the new index is written over the one moved aside, then put in place: a
        // hook stopped halfway leaves only the in-flight file, so no cache.
        let result = if self.loaded.as_deref() == Some(&bytes) {
            std::fs::rename(&in_flight, &path)
        } else {
            create_anew(&in_flight)
                .and_then(|mut file| file.write_all(&bytes))
                .and_then(|()| std::fs::rename(&in_flight, &path))
        };
        if let Err(e) = result {
            warn!("cannot save the databag cache {}: {e}", path.display());
            let _ = std::fs::remove_file(&in_flight);
        }
    }

    fn cached<T>(
        &self,
        relation: &RelationId,
        get: impl FnOnce(&CachedRelation) -> Option<T>,
    ) -> Option<T> {
        let mut state = self.state.borrow_mut();
        state
            .relations
            .get_mut(&relation.to_string())
            .and_then(|rel| get(rel))
    }

    fn remember(&self, relation: &RelationId, put: impl FnOnce(&mut CachedRelation)) {
        let key = relation.to_string();
        let mut state = self.state.borrow_mut();
        self.bags_in_memory(&mut state, &key);
        state.bags.dirty.insert(key.clone());
        state.index_changed = true;
        let rel = state.relations.get_or_default(key);
        rel.memo = None;
        put(rel);
    }

    /// Reads the relation's bags file if this hook has not yet.
    fn bags_in_memory(&self, state: &mut State, relation: &str) {
        if let Some(path) = &self.path {
            load_bags(state, &bags_dir(path), relation);
        }
    }

    /// `open-port` (`open`) or `close-port`, remembered once Juju accepted it.
    fn change_port(&self, port: Port, open: bool) -> Result<(), HookToolError> {
        let result = if open {
            self.inner.open_port(port)
        } else {
            self.inner.close_port(port)
        };
        let mut state = self.state.borrow_mut();
        state.index_changed = true;
        let ports = &mut state.ports;
        match result {
            Ok(()) => ports.changes.push((port, open)),
            Err(_) => ports.lost = true,
        }
        result
    }
}

/// The index `finish` would write for `state`, whose databags are all in their files (for
/// the check that an index left in place holds what would have been written).
fn unchanged_index(owner: CacheOwner, leader: bool, mut state: State) -> CacheFile {
    let mut relations = std::mem::take(&mut state.relations).into_parsed();
    for rel in relations.values_mut() {
        rel.unit_data.clear();
        rel.app_data.clear();
    }
    index_file(owner, leader, relations, state)
}

/// The index of `state` with `relations` (their databags taken out) in place of its own.
fn index_file(
    owner: CacheOwner,
    leader: bool,
    relations: BTreeMap<String, CachedRelation>,
    state: State,
) -> CacheFile {
    CacheFile {
        owner,
        leader,
        relations,
        relation_ids: state.relation_ids,
        unit_status: state.unit_status,
        opened_ports: state.ports.after_commit(),
        unit_state: state.unit_state,
        rotation: state.rotation,
        config: state.config,
    }
}

/// Whether the cached config may answer `config-get` in a hook of `event`: Juju runs
/// `config-changed` after every change of the config (and after `upgrade-charm`, a change
/// of trust and an agent restart), so it changes only with a hook that asks Juju. Events that
/// re-read (a [`Refresh::Rotate`] or [`Refresh::Full`] one) ask too, which bounds how long a
/// config changed without that hook would go unseen.
fn config_trusted(event: &Event, refresh: Refresh) -> bool {
    refresh == Refresh::Cached && *event != Event::ConfigChanged
}

/// Forgets what a relation event says may have changed, and only that: in
/// `-relation-changed` the databag of the unit that changed (`JUJU_REMOTE_UNIT`), or the
/// remote application's when no unit is named (Juju names none for an application databag
/// change); in `-joined` and `-departed` that unit's databag, the unit joining or leaving
/// the cached membership; in `-created` and `-broken` the whole relation.
///
/// The membership needs no `relation-list`: Juju's for a relation hook is the membership it
/// committed with the relation's earlier hooks (each of which ran through this cache, which
/// keeps what a successful hook leaves) plus the joining unit or minus the departing one,
/// listed in byte order (the uniter's `RelationCache`: `InvalidateMember` for a joined unit,
/// `RemoveMember` for a departed one, `MemberNames` sorted).
fn forget_what_changed(state: &mut State, dir: &Path, event: &RelationEvent) {
    let key = event.relation.to_string();
    load_bags(state, dir, &key);
    state.bags.dirty.insert(key.clone());
    state.index_changed = true;
    let Some(rel) = state.relations.get_mut(&key) else {
        return;
    };
    rel.memo = None;
    match (&event.kind, &event.remote_unit) {
        (RelationEventKind::Changed, Some(unit)) => {
            rel.unit_data.remove(unit);
        }
        (RelationEventKind::Changed, None) => {
            rel.app_data.remove(&event.remote_app);
        }
        (RelationEventKind::Joined, Some(unit)) => {
            rel.unit_data.remove(unit);
            if let Some(units) = &mut rel.units {
                units.push(unit.clone());
                units.sort();
                units.dedup();
            }
        }
        (RelationEventKind::Departed, Some(unit)) => {
            let departing = event.departing_unit.as_ref();
            for gone in std::iter::once(unit).chain(departing) {
                rel.unit_data.remove(gone);
            }
            if let Some(units) = &mut rel.units {
                units.retain(|u| u != unit && Some(u) != departing);
            }
        }
        (RelationEventKind::Joined | RelationEventKind::Departed, None) => {
            // Juju always names the unit: without one, ask Juju who is there.
            rel.units = None;
            if let Some(gone) = &event.departing_unit {
                rel.unit_data.remove(gone);
            }
        }
        _ => {
            state.relations.remove(&key);
        }
    }
}

/// Forgets the next slice of remote data in the rotation (see [`Rotation`]), so this hook
/// reads it from Juju again.
fn rotate(state: &mut State, dir: &Path, budget: usize, app_name: &str, unit_name: &str) {
    state.index_changed = true;
    // One endpoint's relation ids, in turn.
    let next_endpoint = {
        let mut names = state.relation_ids.keys();
        match &state.rotation.endpoint {
            Some(last) => state
                .relation_ids
                .range::<String, _>((std::ops::Bound::Excluded(last), std::ops::Bound::Unbounded))
                .next()
                .map(|(k, _)| k)
                .or_else(|| names.next()),
            None => names.next(),
        }
        .cloned()
    };
    if let Some(endpoint) = &next_endpoint {
        state.relation_ids.remove(endpoint);
    }
    state.rotation.endpoint = next_endpoint;

    // The next relations after the cursor that fit in the budget, at least one.
    let mut start: Vec<String> = match &state.rotation.after {
        Some(after) => state.relations.keys_after(after).cloned().collect(),
        None => Vec::new(),
    };
    if start.is_empty() {
        // A new round (or the relations after the cursor are gone): from the first one.
        start = state.relations.keys().cloned().collect();
    }
    let mut spent = 0;
    let mut last = None;
    for key in start {
        let Some(rel) = state.relations.get_mut(&key) else {
            continue;
        };
        let remote_units = rel.units.as_ref().map_or(rel.unit_data.len(), Vec::len);
        let cost = 2 + remote_units;
        if last.is_some() && spent + cost > budget {
            break;
        }
        spent += cost;
        load_bags(state, dir, &key);
        state.bags.dirty.insert(key.clone());
        if let Some(rel) = state.relations.get_mut(&key) {
            rel.memo = None;
            rel.units = None;
            rel.unit_data.retain(|unit, _| unit == unit_name);
            rel.app_data.retain(|app, _| app == app_name);
        }
        last = Some(key);
    }
    let wrapped = match &last {
        // The round ends with the last relation: the next event starts a new one.
        Some(key) => state.relations.keys().next_back() == Some(key),
        None => true,
    };
    if wrapped {
        state.rotation.after = None;
        state.rotation.rounds += 1;
        // Once a round: what only this unit changes, in case it was changed behind its back.
        state.unit_status = None;
        state.ports.committed = None;
        state.unit_state = None;
    } else {
        state.rotation.after = last;
    }
}

/// The cache at `index` as a whole (its databags put back from their files), without using
/// or moving it: for inspection and tests. `None` when it is absent or unreadable.
pub fn read_whole(index: &Path) -> Option<CacheFile> {
    let (header, relations) = parse_index(Arc::new(std::fs::read(index).ok()?)).ok()?;
    let mut file = CacheFile {
        relations: relations.into_parsed(),
        ..header
    };
    let dir = bags_dir(index);
    for (id, rel) in &mut file.relations {
        let bags = std::fs::read(dir.join(bags_file_name(id)))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Bags>(&bytes).ok())
            .unwrap_or_default();
        rel.unit_data = bags.unit_data;
        rel.app_data = bags.app_data;
    }
    Some(file)
}

/// Writes `file` as the cache at `index`: the index and each relation's bags file (the
/// inverse of [`read_whole`], for tests that plant a cache).
pub fn write_whole(index: &Path, file: &CacheFile) -> std::io::Result<()> {
    let dir = bags_dir(index);
    std::fs::create_dir_all(&dir)?;
    let mut relations = BTreeMap::new();
    for (id, rel) in &file.relations {
        let bags = Bags {
            unit_data: rel.unit_data.clone(),
            app_data: rel.app_data.clone(),
        };
        store(&dir.join(bags_file_name(id)), &bags)?;
        let mut rel = rel.clone();
        rel.unit_data.clear();
        rel.app_data.clear();
        relations.insert(id.clone(), rel);
    }
    let header = CacheFile {
        relations: BTreeMap::new(),
        ..file.clone()
    };
    std::fs::write(
        index,
        index_bytes(&header, Relations::from_parsed(relations), 0),
    )
}

/// Parses an index: its JSON line, then its relations' lines (see `cache/relations.rs`).
fn parse_index(bytes: Arc<Vec<u8>>) -> Result<(CacheFile, Relations), String> {
    let end = bytes
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(bytes.len());
    let header: CacheFile = serde_json::from_slice(&bytes[..end]).map_err(|e| e.to_string())?;
    let relations = Relations::loaded(bytes, end + 1)?;
    Ok((header, relations))
}

/// The index of `header` (whose relations are left out) and `relations`, in a buffer of
/// `capacity` to start with.
fn index_bytes(header: &CacheFile, relations: Relations, capacity: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut bytes, header).expect("the cache index serialises");
    bytes.push(b'\n');
    relations.write_lines(&mut bytes);
    bytes
}

/// `relation-ids` by endpoint as the index keeps them: each endpoint's relation numbers
/// (`{"metrics-endpoint": [3, 7]}`), where ids as Juju prints them repeated the endpoint
/// and were each parsed back from text.
mod ids_by_number {
    use std::collections::BTreeMap;

    use serde::ser::SerializeMap;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::RelationId;

    pub(super) fn serialize<S: Serializer>(
        ids: &BTreeMap<String, Vec<RelationId>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(ids.len()))?;
        for (endpoint, ids) in ids {
            // Only an endpoint's own relations are listed under it.
            let numbers: Vec<u32> = ids
                .iter()
                .filter(|id| &id.endpoint == endpoint)
                .map(|id| id.id)
                .collect();
            map.serialize_entry(endpoint, &numbers)?;
        }
        map.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, Vec<RelationId>>, D::Error> {
        let numbers = BTreeMap::<String, Vec<u32>>::deserialize(deserializer)?;
        Ok(numbers
            .into_iter()
            .map(|(endpoint, ids)| {
                let ids = ids
                    .into_iter()
                    .map(|n| RelationId::new(endpoint.clone(), n))
                    .collect();
                (endpoint, ids)
            })
            .collect())
    }
}

/// The file holding the databags of `relation` (as Juju prints its id) in the cache at `index`.
pub fn bags_file(index: &Path, relation: &str) -> PathBuf {
    bags_dir(index).join(bags_file_name(relation))
}

/// The directory of bags files beside the index at `index`.
fn bags_dir(index: &Path) -> PathBuf {
    let mut name = index.as_os_str().to_owned();
    name.push(".bags");
    PathBuf::from(name)
}

fn bags_file_name(relation: &str) -> String {
    format!("{relation}.json")
}

/// Where the index waits while a hook runs.
fn in_flight_path(index: &Path) -> PathBuf {
    let mut name = index.as_os_str().to_owned();
    name.push(".in-flight");
    PathBuf::from(name)
}

/// Puts the databags of `relation` from its file into `state`, once per hook. A file that is
/// missing or unreadable leaves them unknown (asked from Juju) and drops the relation's memo,
/// which vouched for them.
fn load_bags(state: &mut State, dir: &Path, relation: &str) {
    if state.bags.fresh || !state.bags.loaded.insert(relation.to_owned()) {
        return;
    }
    let Some(rel) = state.relations.get_mut(relation) else {
        return;
    };
    let path = dir.join(bags_file_name(relation));
    let bags = std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice::<Bags>(&bytes).map_err(|e| e.to_string()));
    match bags {
        Ok(bags) => {
            rel.unit_data = bags.unit_data;
            rel.app_data = bags.app_data;
        }
        Err(e) => {
            warn!("ignoring the cached databags {}: {e}", path.display());
            rel.memo = None;
            state.bags.dirty.insert(relation.to_owned());
            state.index_changed = true;
        }
    }
}

/// Writes the bags files this hook changed (all of them, in a new directory, when fresh) and
/// removes those of relations that are gone; the databags are taken out of `relations`, which
/// become the index.
fn store_bags(dir: &Path, relations: &mut Relations, bags: &BagsMemory) -> std::io::Result<()> {
    if bags.fresh {
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    std::fs::create_dir_all(dir)?;
    for (id, slot) in relations.slots_mut() {
        // A relation left as loaded holds no databags, and its bags file is as loaded.
        let Slot::Parsed(rel) = slot else { continue };
        let taken = Bags {
            unit_data: std::mem::take(&mut rel.unit_data),
            app_data: std::mem::take(&mut rel.app_data),
        };
        if bags.fresh || bags.dirty.contains(id) {
            store(&dir.join(bags_file_name(id)), &taken)?;
        }
    }
    for id in bags.dirty.iter().filter(|id| !relations.contains_key(id)) {
        match std::fs::remove_file(dir.join(bags_file_name(id))) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Reads the index and moves it aside; `None` when absent, unreadable or someone else's.
/// Returns the bytes read with it.
fn take(path: &Path, owner: &CacheOwner) -> Option<(CacheFile, Relations, Arc<Vec<u8>>)> {
    let in_flight = in_flight_path(path);
    // Moved aside for the hook: only a successful finish puts an index back.
    if let Err(e) = std::fs::rename(path, &in_flight) {
        if e.kind() != std::io::ErrorKind::NotFound {
            // A cache that cannot be moved could outlive a failed hook: do not use it.
            warn!(
                "cannot move the databag cache {} aside: {e}",
                path.display()
            );
        }
        return None;
    }
    let bytes = Arc::new(std::fs::read(&in_flight).ok()?);
    match parse_index(bytes.clone()) {
        Ok((file, relations)) if &file.owner == owner => Some((file, relations, bytes)),
        Ok((file, _)) => {
            debug!(?file.owner, "ignoring a databag cache written by another unit or charm");
            None
        }
        Err(e) => {
            warn!("ignoring an unreadable databag cache: {e}");
            None
        }
    }
}

/// Creates `path` as a new file, the old one unlinked rather than truncated: ext4
/// (`auto_da_alloc`) starts writing a file truncated and written again back as it is closed,
/// which for the 441 KB index of a 2000x5 model cost 0.39–0.42 ms here against 0.28–0.29 ms
/// anew (the old file's blocks on disk; 0.06 ms while they are not yet). Not for small files:
/// unlinking one whose blocks are on disk costs more than the flush (0.09 against 0.07 ms).
/// A hook stopped in between leaves its index in flight, hence no cache, as before.
fn create_anew(path: &Path) -> std::io::Result<std::fs::File> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    std::fs::File::create(path)
}

/// Writes a bags file in place. Bags files count only under an index saved after them
/// (a hook moves the index aside first and puts it back only once every bags file it
/// changed is written), so one written halfway is never read. In place, not through a new
/// file renamed over it: creating a file (a new inode) cost about a millisecond each on
/// ext4 here, the most expensive step of a relation hook's save. No fsync: after a node
/// crash a torn file does not parse and is ignored, so that relation is asked from Juju.
fn store(path: &Path, file: &impl Serialize) -> std::io::Result<()> {
    // Streamed through a buffer: the file is megabytes at thousands of units, and building it
    // in one growing Vec first cost reallocations and copies.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(path)?);
    serde_json::to_writer(&mut out, file).map_err(std::io::Error::other)?;
    out.flush()
}

impl HookTools for CachedHookTools<'_> {
    fn config_get(&self) -> Result<Map<String, Value>, HookToolError> {
        {
            let state = self.state.borrow();
            if let Some(config) = state.config.as_ref().filter(|_| state.config_trusted) {
                return Ok(config.clone());
            }
        }
        let config = self.inner.config_get()?;
        let mut state = self.state.borrow_mut();
        if state.config.as_ref() != Some(&config) {
            state.config = Some(config.clone());
            state.index_changed = true;
        }
        // Juju answers the same for the rest of the hook.
        state.config_trusted = true;
        Ok(config)
    }

    fn is_leader(&self) -> Result<bool, HookToolError> {
        let leader = self.inner.is_leader()?;
        let mut state = self.state.borrow_mut();
        if state.leader != Some(leader) {
            state.index_changed = true;
        }
        if state.leader.is_some_and(|cached| cached != leader) {
            // Relation ids, this unit's status, ports and state do not depend on leadership.
            debug!("leadership changed: not using the cached databags");
            state.relations.clear();
            state.bags = BagsMemory {
                fresh: true,
                ..BagsMemory::default()
            };
        }
        state.leader = Some(leader);
        Ok(leader)
    }

    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationId>, HookToolError> {
        if let Some(ids) = self.state.borrow().relation_ids.get(endpoint) {
            return Ok(ids.clone());
        }
        let ids = self.inner.relation_ids(endpoint)?;
        let mut listed = ids.clone();
        // A relation being broken is gone once this hook ends, even if Juju still lists it.
        listed.retain(|id| Some(id) != self.broken.as_ref());
        let mut state = self.state.borrow_mut();
        state.index_changed = true;
        state.relation_ids.insert(endpoint.to_string(), listed);
        Ok(ids)
    }

    fn relation_list(&self, relation: &RelationId) -> Result<Vec<String>, HookToolError> {
        if let Some(units) = self.cached(relation, |r| r.units.clone()) {
            return Ok(units);
        }
        let mut units = self.inner.relation_list(relation)?;
        // Juju no longer lists a departing unit; make sure a cached list never does either.
        if let Some((id, unit)) = &self.departing {
            if *id == relation.to_string() {
                units.retain(|u| u != unit);
            }
        }
        self.remember(relation, |r| r.units = Some(units.clone()));
        Ok(units)
    }

    fn relation_remote_app(&self, relation: &RelationId) -> Result<String, HookToolError> {
        if let Some(app) = self.cached(relation, |r| r.remote_app.clone()) {
            return Ok(app);
        }
        let app = self.inner.relation_remote_app(relation)?;
        self.remember(relation, |r| r.remote_app = Some(app.clone()));
        Ok(app)
    }

    fn relation_get(
        &self,
        relation: &RelationId,
        member: &str,
        app: bool,
    ) -> Result<RelationData, HookToolError> {
        self.bags_in_memory(&mut self.state.borrow_mut(), &relation.to_string());
        let hit = self.cached(relation, |r| {
            let bags = if app { &r.app_data } else { &r.unit_data };
            bags.get(member).cloned()
        });
        if let Some(data) = hit {
            return Ok(data);
        }
        let data = self.inner.relation_get(relation, member, app)?;
        self.remember(relation, |r| {
            let bags = if app {
                &mut r.app_data
            } else {
                &mut r.unit_data
            };
            bags.insert(member.to_string(), data.clone());
        });
        Ok(data)
    }

    fn relation_set(
        &self,
        relation: &RelationId,
        app: bool,
        data: &RelationData,
    ) -> Result<(), HookToolError> {
        self.inner.relation_set(relation, app, data)?;
        // Keep the cached copy of our own databag what Juju will hold once the hook commits.
        // A databag never read stays uncached: the rest of it is unknown.
        let member = if app { &self.app_name } else { &self.unit_name };
        let key = relation.to_string();
        let mut state = self.state.borrow_mut();
        self.bags_in_memory(&mut state, &key);
        state.bags.dirty.insert(key.clone());
        state.index_changed = true;
        if let Some(r) = state.relations.get_mut(&key) {
            r.memo = None;
            let bags = if app {
                &mut r.app_data
            } else {
                &mut r.unit_data
            };
            if let Some(bag) = bags.get_mut(member) {
                merge_relation_set(bag, data);
            }
        }
        Ok(())
    }

    fn status_set(&self, status: &Status, application: bool) -> Result<(), HookToolError> {
        if application {
            return self.inner.status_set(status, true);
        }
        let mut state = self.state.borrow_mut();
        if state.unit_status.as_ref() == Some(status) {
            debug!("unit status unchanged ({status}): not set again");
            return Ok(());
        }
        let result = self.inner.status_set(status, false);
        state.index_changed = true;
        // After a failed call, whether Juju took the status is unknown: forget it.
        state.unit_status = result.is_ok().then(|| status.clone());
        result
    }

    fn application_version_set(&self, version: &str) -> Result<(), HookToolError> {
        self.inner.application_version_set(version)
    }

    fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), HookToolError> {
        self.inner.juju_log(level, message)
    }

    fn open_port(&self, port: Port) -> Result<(), HookToolError> {
        self.change_port(port, true)
    }

    fn close_port(&self, port: Port) -> Result<(), HookToolError> {
        self.change_port(port, false)
    }

    fn opened_ports(&self) -> Result<Vec<Port>, HookToolError> {
        {
            let state = self.state.borrow();
            if let Some(ports) = &state.ports.committed {
                // Like Juju: what was committed before this hook, not its pending changes.
                return Ok(ports.iter().copied().collect());
            }
        }
        let ports = self.inner.opened_ports()?;
        let mut state = self.state.borrow_mut();
        state.index_changed = true;
        state.ports.committed = Some(ports.iter().copied().collect());
        Ok(ports)
    }

    fn network_get(&self, binding: &str) -> Result<NetworkInfo, HookToolError> {
        self.inner.network_get(binding)
    }

    fn goal_state(&self) -> Result<GoalState, HookToolError> {
        self.inner.goal_state()
    }

    fn action_get(&self) -> Result<Map<String, Value>, HookToolError> {
        self.inner.action_get()
    }

    fn action_set(&self, results: &BTreeMap<String, String>) -> Result<(), HookToolError> {
        self.inner.action_set(results)
    }

    fn action_fail(&self, message: &str) -> Result<(), HookToolError> {
        self.inner.action_fail(message)
    }

    fn action_log(&self, message: &str) -> Result<(), HookToolError> {
        self.inner.action_log(message)
    }

    fn state_get(&self) -> Result<BTreeMap<String, String>, HookToolError> {
        if let Some(unit_state) = &self.state.borrow().unit_state {
            return Ok(unit_state.clone());
        }
        let unit_state = self.inner.state_get()?;
        let mut state = self.state.borrow_mut();
        state.index_changed = true;
        state.unit_state = Some(unit_state.clone());
        Ok(unit_state)
    }

    fn relation_memo(&self, relation: &RelationId) -> Option<String> {
        with_key(relation, |key| self.state.borrow().relations.memo(key))
    }

    fn set_relation_memo(&self, relation: &RelationId, memo: String) {
        let mut state = self.state.borrow_mut();
        if let Some(rel) = state.relations.get_mut(&relation.to_string()) {
            if rel.memo.as_ref() != Some(&memo) {
                rel.memo = Some(memo);
                state.index_changed = true;
            }
        }
    }

    fn release_databags(&self) {
        let mut state = self.state.borrow_mut();
        let State {
            relations, bags, ..
        } = &mut *state;
        if bags.fresh {
            // Every databag is in memory only, to be written at the end of the hook.
            return;
        }
        let BagsMemory { loaded, dirty, .. } = bags;
        // A relation whose bags file is as loaded can be read from it again (`load_bags`
        // runs on every access, and before every change); the changed ones wait for `finish`.
        loaded.retain(|key| {
            if dirty.contains(key) {
                return true;
            }
            if let Some(rel) = relations.get_mut(key) {
                rel.unit_data = BTreeMap::new();
                rel.app_data = BTreeMap::new();
            }
            false
        });
    }

    fn state_set(&self, data: &BTreeMap<String, String>) -> Result<(), HookToolError> {
        let result = self.inner.state_set(data);
        let mut state = self.state.borrow_mut();
        state.index_changed = true;
        if result.is_err() {
            // Whether Juju took any of it is unknown: ask again.
            state.unit_state = None;
        } else if let Some(unit_state) = &mut state.unit_state {
            // Merged like Juju does; an empty value is stored as such.
            unit_state.extend(data.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relation_key_on_the_stack_is_the_id_as_juju_prints_it() {
        let long = "e".repeat(70);
        for (endpoint, id) in [
            ("metrics-endpoint", 0),
            ("ep", u32::MAX),
            (long.as_str(), 7),
        ] {
            let relation = RelationId {
                endpoint: endpoint.to_owned(),
                id,
            };
            assert_eq!(with_key(&relation, str::to_owned), relation.to_string());
        }
    }

    #[test]
    fn ports_after_commit_apply_the_hooks_changes_in_order() {
        let memory = PortMemory {
            committed: Some(BTreeSet::from([Port::tcp(9090)])),
            changes: vec![
                (Port::tcp(8080), true),
                (Port::tcp(9090), false),
                (Port::tcp(8080), false),
                (Port::tcp(9090), true),
                (Port::tcp(7070), true),
            ],
            lost: false,
        };
        assert_eq!(
            memory.after_commit(),
            Some(BTreeSet::from([Port::tcp(7070), Port::tcp(9090)]))
        );
    }

    #[test]
    fn ports_are_unknown_after_a_failed_change_or_without_a_starting_point() {
        let failed = PortMemory {
            committed: Some(BTreeSet::new()),
            changes: vec![(Port::tcp(9090), true)],
            lost: true,
        };
        assert_eq!(failed.after_commit(), None);
        let unasked = PortMemory {
            committed: None,
            changes: vec![(Port::tcp(9090), true)],
            lost: false,
        };
        assert_eq!(unasked.after_commit(), None);
    }
}

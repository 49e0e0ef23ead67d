//! A cache of relation databags in the charm container, so a hook that is not about a
//! relation does not re-read every databag through one hook-tool process each.
//!
//! [`CachedHookTools`] wraps the real hook tools. Reads of relation membership
//! (`relation-list`), remote application names and databags (`relation-get`) are answered
//! from `$JUJU_CHARM_DIR/.databag-cache.json` when the relation is cached, and go to Juju
//! otherwise; everything else (config, leadership, `relation-ids`, writes, status) always
//! goes to Juju. With 200 related applications of 5 units, config-changed costs about ten
//! hook-tool calls instead of 1,610.
//!
//! # Why the cache is never wrong for long
//!
//! * **Remote changes always come with a hook on that relation.** Juju runs
//!   `-relation-changed` whenever a remote unit's or the remote application's databag
//!   changes, `-relation-joined`/`-departed` when membership changes, and `-relation-created`
//!   and `-broken` around the relation's life. A relation hook drops the cached copy of *its*
//!   relation (`JUJU_RELATION_ID`) before the charm reads anything, so that relation is read
//!   afresh; the others cannot have changed without a hook of their own still queued.
//! * **This unit's own databags change only by this unit's writes** (and the application
//!   databag only by the leader's). Successful `relation-set` calls are merged into the cached
//!   copy, which is saved only when the hook succeeds, i.e. exactly when Juju commits them. A
//!   change of leadership (seen in `is-leader`) drops the whole cache: another leader may
//!   have written the application databag meanwhile.
//! * **A failed or killed hook leaves no cache.** The file is removed when a hook starts and
//!   written again only after it succeeded, so after an error (retried, or skipped with
//!   `juju resolve --no-retry`), a crash or a timeout, the next hook reads everything.
//! * **Full re-reads bound any staleness**: install, upgrade-charm, leader-elected,
//!   update-status (every 5 minutes by default) and `<container>-pebble-ready` ignore the
//!   cache. Relations that `relation-ids` no longer lists are dropped, and relations it lists
//!   that are not cached are read in full.
//! * **Pod churn**: Kubernetes may recreate the pod at any time; the new pod's charm directory
//!   is fresh, so there is no cache and the first hooks (config-changed, start, pebble-ready)
//!   read everything. A cache written by another unit, model or version of the charm (a
//!   copied directory, a refresh) is ignored.
//!
//! Setting `PROMETHEUS_RS_K8S_DATABAG_CACHE=off` disables the cache (and removes the file).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use juju_hook::{
    Event, GoalState, HookContext, HookToolError, HookTools, LogLevel, NetworkInfo, Port,
    RelationData, RelationId, Status, WorkloadEventKind,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tracing::{debug, warn};

/// The cache file's name in the charm directory.
pub const CACHE_FILE: &str = ".databag-cache.json";
/// Environment variable that disables the cache when set to `off`.
pub const DISABLE_ENV: &str = "PROMETHEUS_RS_K8S_DATABAG_CACHE";
/// Bumped whenever the file's layout or meaning changes.
const FORMAT: u32 = 1;

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
    pub fn for_context(ctx: &HookContext) -> Self {
        Self {
            format: FORMAT,
            charm_version: env!("CARGO_PKG_VERSION").to_string(),
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
    #[serde(default)]
    pub unit_data: BTreeMap<String, RelationData>,
    /// Application databags by application name (the remote one and this one).
    #[serde(default)]
    pub app_data: BTreeMap<String, RelationData>,
}

/// The cache file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheFile {
    /// Whose cache this is.
    pub owner: CacheOwner,
    /// Whether this unit was the leader when the cache was written.
    pub leader: bool,
    /// Relations by id as Juju prints it (`metrics-endpoint:3`).
    pub relations: BTreeMap<String, CachedRelation>,
}

/// Whether an event re-reads every relation instead of trusting the cache.
pub fn is_full_refresh(event: &Event) -> bool {
    matches!(
        event,
        Event::Install
            | Event::UpgradeCharm
            | Event::LeaderElected
            | Event::UpdateStatus
            | Event::Workload {
                kind: WorkloadEventKind::PebbleReady,
                ..
            }
    )
}

/// Where the cache of a hook context lives.
pub fn cache_path(ctx: &HookContext) -> PathBuf {
    ctx.charm_dir.join(CACHE_FILE)
}

/// Whether the environment leaves the cache on (it is unless [`DISABLE_ENV`] is `off`).
pub fn enabled_by_env() -> bool {
    std::env::var(DISABLE_ENV).map_or(true, |v| v != "off")
}

struct State {
    leader: Option<bool>,
    relations: BTreeMap<String, CachedRelation>,
    /// Endpoint → relation ids `relation-ids` listed in this hook.
    listed: BTreeMap<String, Vec<String>>,
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
    state: RefCell<State>,
}

impl<'a> CachedHookTools<'a> {
    /// Loads the cache for this hook (unless disabled by the environment) and removes the
    /// file, so that only a successful [`finish`](Self::finish) leaves one behind.
    pub fn open(ctx: &HookContext, inner: &'a dyn HookTools) -> Self {
        Self::open_at(ctx, inner, enabled_by_env().then(|| cache_path(ctx)))
    }

    /// Like [`open`](Self::open) with the cache file at `path`, or no cache at all (`None`:
    /// every call goes to `inner`, and nothing is saved).
    pub fn open_at(ctx: &HookContext, inner: &'a dyn HookTools, path: Option<PathBuf>) -> Self {
        let owner = CacheOwner::for_context(ctx);
        let loaded = match &path {
            Some(path) => take(path, &owner),
            None => {
                // Disabled: a file left from when it was on would be stale when it is back on.
                let _ = std::fs::remove_file(cache_path(ctx));
                None
            }
        };
        let mut state = State {
            leader: None,
            relations: BTreeMap::new(),
            listed: BTreeMap::new(),
        };
        if let Some(file) = loaded.filter(|_| !is_full_refresh(&ctx.event)) {
            state.leader = Some(file.leader);
            state.relations = file.relations;
            if let Event::Relation(r) = &ctx.event {
                state.relations.remove(&r.relation.to_string());
            }
        }
        let departing = match &ctx.event {
            Event::Relation(r) => r
                .departing_unit
                .clone()
                .map(|unit| (r.relation.to_string(), unit)),
            _ => None,
        };
        Self {
            inner,
            path,
            owner,
            unit_name: ctx.unit_name.clone(),
            app_name: ctx.app_name.clone(),
            departing,
            state: RefCell::new(state),
        }
    }

    /// Ends the hook: when it succeeded, saves what is known now for the next hook (dropping
    /// relations that `relation-ids` no longer listed); when it failed, saves nothing.
    pub fn finish(self, success: bool) {
        let Some(path) = self.path else { return };
        if !success {
            return;
        }
        let state = self.state.into_inner();
        let Some(leader) = state.leader else {
            // Leadership was not checked in this hook, so the cache cannot vouch for the
            // application databag: leave none.
            return;
        };
        let mut relations = state.relations;
        relations.retain(|id, _| {
            let endpoint = id.rsplit_once(':').map_or(id.as_str(), |(e, _)| e);
            state
                .listed
                .get(endpoint)
                .is_none_or(|ids| ids.iter().any(|listed| listed == id))
        });
        let file = CacheFile {
            owner: self.owner,
            leader,
            relations,
        };
        if let Err(e) = store(&path, &file) {
            warn!("cannot save the databag cache {}: {e}", path.display());
        }
    }

    fn cached<T>(
        &self,
        relation: &RelationId,
        get: impl FnOnce(&CachedRelation) -> Option<T>,
    ) -> Option<T> {
        let state = self.state.borrow();
        state.relations.get(&relation.to_string()).and_then(get)
    }

    fn remember(&self, relation: &RelationId, put: impl FnOnce(&mut CachedRelation)) {
        let mut state = self.state.borrow_mut();
        put(state.relations.entry(relation.to_string()).or_default());
    }
}

/// Reads and removes the cache file; `None` when absent, unreadable or someone else's.
fn take(path: &Path, owner: &CacheOwner) -> Option<CacheFile> {
    let bytes = std::fs::read(path).ok()?;
    if let Err(e) = std::fs::remove_file(path) {
        // A cache that cannot be removed could outlive a failed hook: do not use it.
        warn!("cannot remove the databag cache {}: {e}", path.display());
        return None;
    }
    match serde_json::from_slice::<CacheFile>(&bytes) {
        Ok(file) if &file.owner == owner => Some(file),
        Ok(file) => {
            debug!(?file.owner, "ignoring a databag cache written by another unit or charm");
            None
        }
        Err(e) => {
            warn!("ignoring an unreadable databag cache: {e}");
            None
        }
    }
}

/// Writes the file next to its final path, then renames it into place, so a reader sees a
/// whole file or none. No fsync: after a node crash a torn file does not parse (ignored), and
/// the container restart that follows brings a `pebble-ready`, which re-reads everything.
fn store(path: &Path, file: &CacheFile) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut out = std::fs::File::create(&tmp)?;
    out.write_all(&serde_json::to_vec(file).map_err(std::io::Error::other)?)?;
    drop(out);
    std::fs::rename(&tmp, path)
}

/// Merges a `relation-set` into a databag: an empty value deletes the key.
fn merge(bag: &mut RelationData, data: &RelationData) {
    for (key, value) in data {
        if value.is_empty() {
            bag.remove(key);
        } else {
            bag.insert(key.clone(), value.clone());
        }
    }
}

impl HookTools for CachedHookTools<'_> {
    fn config_get(&self) -> Result<Map<String, Value>, HookToolError> {
        self.inner.config_get()
    }

    fn is_leader(&self) -> Result<bool, HookToolError> {
        let leader = self.inner.is_leader()?;
        let mut state = self.state.borrow_mut();
        if state.leader.is_some_and(|cached| cached != leader) {
            debug!("leadership changed: not using the databag cache");
            state.relations.clear();
        }
        state.leader = Some(leader);
        Ok(leader)
    }

    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationId>, HookToolError> {
        let ids = self.inner.relation_ids(endpoint)?;
        self.state.borrow_mut().listed.insert(
            endpoint.to_string(),
            ids.iter().map(ToString::to_string).collect(),
        );
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
        let mut state = self.state.borrow_mut();
        if let Some(r) = state.relations.get_mut(&relation.to_string()) {
            let bags = if app {
                &mut r.app_data
            } else {
                &mut r.unit_data
            };
            if let Some(bag) = bags.get_mut(member) {
                merge(bag, data);
            }
        }
        Ok(())
    }

    fn status_set(&self, status: &Status, application: bool) -> Result<(), HookToolError> {
        self.inner.status_set(status, application)
    }

    fn application_version_set(&self, version: &str) -> Result<(), HookToolError> {
        self.inner.application_version_set(version)
    }

    fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), HookToolError> {
        self.inner.juju_log(level, message)
    }

    fn open_port(&self, port: Port) -> Result<(), HookToolError> {
        self.inner.open_port(port)
    }

    fn close_port(&self, port: Port) -> Result<(), HookToolError> {
        self.inner.close_port(port)
    }

    fn opened_ports(&self) -> Result<Vec<Port>, HookToolError> {
        self.inner.opened_ports()
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
        self.inner.state_get()
    }

    fn state_set(&self, data: &BTreeMap<String, String>) -> Result<(), HookToolError> {
        self.inner.state_set(data)
    }
}

//! The charm's use of the hook-tools cache ([`juju_hook::cache`]): where it lives, how it is
//! turned off, and which events ignore it.

use std::path::Path;

use juju_hook::CacheSettings;

use crate::hook::event_policy::EventPolicy;

/// The cache file's name in the charm directory.
pub const CACHE_FILE: &str = ".databag-cache";
/// The cache's files as versions before session 29 named them (a JSON index): the charm
/// directory's other files survive an upgrade, so upgrade-charm removes them
/// ([`remove_legacy`]).
const LEGACY_FILES: [&str; 2] = [".databag-cache.json", ".databag-cache.json.in-flight"];
/// Their databags' directory.
const LEGACY_BAGS_DIR: &str = ".databag-cache.json.bags";
/// Environment variable that disables the cache when set to `off`.
pub const DISABLE_ENV: &str = "PROMETHEUS_RS_K8S_DATABAG_CACHE";

/// This build of the charm's cache settings: [`EventPolicy::cache_refresh`] says how much of
/// the cache each event trusts.
pub fn settings() -> CacheSettings {
    CacheSettings {
        file_name: CACHE_FILE,
        disable_env: DISABLE_ENV,
        charm_version: env!("CARGO_PKG_VERSION").to_string(),
        refresh: EventPolicy::cache_refresh,
    }
}

/// Removes the cache files an earlier version of the charm left in `charm_dir` (megabytes of
/// databags at thousands of units). Best effort: what cannot be removed is only disk space.
pub fn remove_legacy(charm_dir: &Path) {
    for name in LEGACY_FILES {
        let _ = std::fs::remove_file(charm_dir.join(name));
    }
    let _ = std::fs::remove_dir_all(charm_dir.join(LEGACY_BAGS_DIR));
}

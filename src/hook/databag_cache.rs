//! The charm's use of the hook-tools cache ([`juju_hook::cache`]): where it lives, how it is
//! turned off, and which events ignore it.

use juju_hook::CacheSettings;

use crate::hook::event_policy::EventPolicy;

/// The cache file's name in the charm directory.
pub const CACHE_FILE: &str = ".databag-cache";
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

//! Where the real systems the tests run against are: the binaries `scripts/real-systems`
//! builds (Pebble v1.32.1, Prometheus and promtool 3.14.0, and with `--with-cortex` Cortex
//! v1.21.1), from the variables `run_tests` exports, else from that script's cache.

use std::path::PathBuf;

/// The real Pebble daemon (`PEBBLE_BIN`).
pub fn pebble() -> PathBuf {
    locate("PEBBLE_BIN", "pebble-v1.32.1/pebble")
}

/// Prometheus 3.14.0 (`PROMETHEUS3_BIN`).
pub fn prometheus3() -> PathBuf {
    locate("PROMETHEUS3_BIN", "prometheus-3.14.0/prometheus")
}

/// promtool 3.14.0 (`PROMTOOL3_BIN`).
pub fn promtool3() -> PathBuf {
    locate("PROMTOOL3_BIN", "prometheus-3.14.0/promtool")
}

/// Cortex v1.21.1 (`CORTEX_BIN`), built only by `scripts/real-systems --with-cortex`.
pub fn cortex() -> PathBuf {
    locate("CORTEX_BIN", "cortex-v1.21.1/cortex")
}

/// `$var`, else `cached` under the script's cache (`PROMETHEUS_RS_K8S_TOOLS`, else
/// `~/.cache/prometheus-rs-k8s/tools`); the path may not exist.
pub fn locate(var: &str, cached: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var) {
        return path.into();
    }
    std::env::var_os("PROMETHEUS_RS_K8S_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/prometheus-rs-k8s/tools")
        })
        .join(cached)
}

/// Like [`locate`] for a binary a test cannot do without.
///
/// # Panics
/// When it is missing, naming the script that builds it.
pub fn require(path: PathBuf) -> PathBuf {
    assert!(
        path.is_file(),
        "no {}: run scripts/real-systems (./run_tests does)",
        path.display()
    );
    path
}

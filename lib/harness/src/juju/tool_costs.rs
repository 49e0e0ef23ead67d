//! What `fake-hook-tool` records of its own cost, beside the state file, for benchmarks to tell
//! the charm's share of a hook from its hook tools': one line per call in `<state><suffix>`.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Wall time from the start of the tool's `main` to its end, nanoseconds.
pub const WALL_SUFFIX: &str = ".times";
/// User and system CPU from the tool's `exec` (loading included), nanoseconds.
pub const CPU_SUFFIX: &str = ".cpu";
/// The tool's own peak resident set (`VmHWM`, which starts anew at `exec`), KiB.
pub const RSS_SUFFIX: &str = ".rss";

/// `<state><suffix>`.
pub fn cost_file(state: &Path, suffix: &str) -> PathBuf {
    let mut path = state.as_os_str().to_owned();
    path.push(suffix);
    PathBuf::from(path)
}

/// User plus system CPU of a resource usage (`getrusage`, `wait4`).
pub fn cpu_time(usage: &libc::rusage) -> Duration {
    let micros = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.unsigned_abs())
            + Duration::from_micros(t.tv_usec.unsigned_abs())
    };
    micros(usage.ru_utime) + micros(usage.ru_stime)
}

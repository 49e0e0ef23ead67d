//! What `fake-hook-tool` records of its own cost, beside the state file, for benchmarks to tell
//! the charm's share of a hook from its hook tools': one line per call in `<state><suffix>`.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Wall time of the tool's process from its creation to the end of `main`, nanoseconds
/// ([`time_before_main`] plus `main`'s own).
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

/// How long this process existed before the call: the time its thread spent running or
/// waiting to run since it was created (`/proc/self/schedstat`, nanoseconds), i.e. the
/// spawn, `exec`, loading and the runtime's start when called first thing in `main`. A
/// hook tool's process start is part of what the tool costs (a real Juju hook tool is a
/// process too), not part of the charm's time. Zero where the kernel keeps no schedstat.
pub fn time_before_main() -> Duration {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|text| parse_schedstat(&text))
        .unwrap_or_default()
}

/// Running plus runnable time from a `schedstat` line (`<run ns> <wait ns> <slices>`).
fn parse_schedstat(text: &str) -> Option<Duration> {
    let mut fields = text.split_whitespace().map(str::parse::<u64>);
    let run = fields.next()?.ok()?;
    let wait = fields.next()?.ok()?;
    Some(Duration::from_nanos(run.saturating_add(wait)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_counts_running_and_waiting() {
        assert_eq!(
            parse_schedstat("77255 56795 2\n"),
            Some(Duration::from_nanos(134_050))
        );
        assert_eq!(parse_schedstat("77255\n"), None);
        assert_eq!(parse_schedstat("x 1 2"), None);
    }

    #[test]
    fn this_process_has_existed_for_a_while() {
        // Absent only on kernels without schedstat; there it reads as zero.
        if Path::new("/proc/self/schedstat").exists() {
            assert!(time_before_main() > Duration::ZERO);
        }
    }
}

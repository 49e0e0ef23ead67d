//! The compiled charm handling hooks end to end, process start to exit, as Juju runs it:
//! `fake-hook-tool` executables on `PATH` over a state file, a fake Pebble on a Unix socket
//! (with the host's real promtool) and a fake Prometheus web API.
//!
//! For each size (`apps`x`units` related on `metrics-endpoint`) it deploys a leader unit
//! (install, leader-elected, config-changed, pebble-ready, start), then times hooks in which
//! nothing changed: config-changed and metrics-endpoint-relation-changed, with the databag
//! cache and without it (`PROMETHEUS_RS_K8S_DATABAG_CACHE=off`); then update-status and
//! pebble-ready after a container restart that wiped the container's files. Prints one JSON
//! object per measurement on stdout (`scripts/bench-table` turns them into a table).
//!
//! Each row has the wall time of the charm process and its **charm time**: wall minus the
//! time spent inside hook-tool processes, as `fake-hook-tool` records it itself (from the
//! start to the end of its `main`, in `<state>.times`; process creation and loading are not
//! included, so charm time slightly overstates the charm's own part). Also the reloads of
//! Prometheus and the peak RSS of the charm process (`ru_maxrss` from `wait4`), an upper
//! bound: Linux carries the spawning process's high-water mark across `exec`, so it includes
//! this bench process's own resident set.
//!
//! Environment: `BENCH_SIZES` (default `0x0,2x2,200x5,2000x5`), `BENCH_RUNS` (default 7),
//! `BENCH_UNCACHED_MAX_UNITS` (skip uncached runs above this many units, default 1000),
//! `CHARM_BIN` and `FAKE_TOOL` (default: the release builds in `target/release`).

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use charm_harness::juju::{hook_command, HookRunner};
use charm_harness::{FakeHookTools, FakePebble, FakePrometheusWeb};
use juju_hook::CachedHookTools;
use juju_hook::{Event, HookContext, RelationEventKind, WorkloadEventKind};
use prometheus_rs_k8s::effects::access::WorkloadAccess;
use prometheus_rs_k8s::hook::databag_cache;
use prometheus_rs_k8s::hook::dispatch::handle_event;
use serde_json::json;

/// What one hook run cost.
struct Sample {
    wall: Duration,
    /// Time spent inside hook-tool processes, as they recorded it.
    tools: Duration,
    /// Peak resident set of the charm process, KiB.
    max_rss_kib: u64,
    reloads: usize,
    tool_calls: u64,
    relation_sets: u64,
    pebble_requests: usize,
    bytes_pushed: u64,
}

struct Unit {
    runner: HookRunner,
    pebble: FakePebble,
    _web: FakePrometheusWeb,
    _dir: tempfile::TempDir,
}

/// `env` if set, else `name` next to this bench's own directory (`target/release/deps/..`).
fn target_bin(env: &str, name: &str) -> PathBuf {
    std::env::var_os(env).map(PathBuf::from).unwrap_or_else(|| {
        let exe = std::env::current_exe().expect("own path");
        let release = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/release/deps");
        release.join(name)
    })
}

fn deploy(apps: usize, units: usize) -> (Unit, Vec<juju_hook::RelationId>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut state, ids) = support::model_state(apps, units);
    state.charm_dir = dir.path().join("charm");
    std::fs::create_dir_all(&state.charm_dir).expect("charm dir");
    let pebble = FakePebble::start(&dir.path().join("container"))
        .with_prometheus_version("2.42.0")
        .with_real_promtool();
    let web = FakePrometheusWeb::start();
    let runner = HookRunner::new(
        dir.path(),
        &target_bin("FAKE_TOOL", "fake-hook-tool"),
        &target_bin("CHARM_BIN", "prometheus-rs-k8s"),
        &state,
    )
    .expect("runner")
    .with_env(
        "CHARM_PEBBLE_SOCKET",
        pebble.socket_path().display().to_string(),
    )
    .with_env("CHARM_PROMETHEUS_URL", web.url())
    .with_env("CHARM_POLLER_URL", "http://127.0.0.1:9")
    .with_env("CHARM_DATABASE_CAPACITY", "1Gi");
    let unit = Unit {
        runner,
        pebble,
        _web: web,
        _dir: dir,
    };
    let events = [
        Event::Install,
        Event::LeaderElected,
        Event::ConfigChanged,
        Event::Workload {
            container: "prometheus".into(),
            kind: WorkloadEventKind::PebbleReady,
        },
        Event::Start,
    ];
    let max: usize = std::env::var("BENCH_PROCESS_DEPLOY_MAX_UNITS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1000);
    if apps * units > max {
        // Each full read at this size spawns ~12,000 hook tools that each parse the whole
        // state file (minutes per hook): deploy in-process, the measured hooks run as processes.
        deploy_in_process(&unit, &events);
        return (unit, ids);
    }
    for event in events {
        let s = run(&unit, &event, &[]);
        if matches!(
            event,
            Event::Install | Event::Workload { .. } | Event::ConfigChanged
        ) {
            emit(
                apps,
                units,
                &format!("{} (deploy)", event.name()),
                "on",
                &[s],
            );
        }
    }
    (unit, ids)
}

/// The deploy hooks run by the charm's own code in this process, over in-memory hook tools
/// on the same model, the same fake Pebble and the same cache file; the model is saved back.
fn deploy_in_process(unit: &Unit, events: &[Event]) {
    let file = unit.runner.state_file();
    let tools = FakeHookTools::new(file.load().expect("state"));
    let access = WorkloadAccess {
        pebble_socket: unit.pebble.socket_path().to_path_buf(),
        prometheus_url: unit._web.url(),
        poller_url: "http://127.0.0.1:9".into(),
        charm_binary: Some(target_bin("CHARM_BIN", "prometheus-rs-k8s")),
        unit_fqdn: None,
        fqdn_source: prometheus_rs_k8s::effects::fqdn::FqdnSource::default(),
        database_capacity: Some("1Gi".into()),
    };
    for event in events {
        let env = tools.state().env_for(event);
        let ctx =
            HookContext::from_vars(|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
                .expect("hook context");
        let cached = CachedHookTools::open(&ctx, &tools, &databag_cache::settings());
        let result = handle_event(&ctx, &cached, &access);
        cached.finish(result.is_ok());
        result.expect("deploy hook succeeds");
        tools.commit();
    }
    let state = tools.state().clone();
    file.store(&state).expect("state saved");
}

/// Runs one hook as `HookRunner::run` does, timing only the charm process.
fn run(unit: &Unit, event: &Event, extra_env: &[(&str, &str)]) -> Sample {
    let file = unit.runner.state_file();
    file.update(|s| s.calls.clear()).expect("reset calls");
    unit.pebble.clear_requests();
    let mut env = file.load().expect("state").env_for(event);
    for (k, v) in [
        (
            "CHARM_PEBBLE_SOCKET",
            unit.pebble.socket_path().display().to_string(),
        ),
        ("CHARM_PROMETHEUS_URL", unit._web.url()),
        ("CHARM_POLLER_URL", "http://127.0.0.1:9".into()),
        ("CHARM_DATABASE_CAPACITY", "1Gi".into()),
    ] {
        env.push((k.into(), v));
    }
    env.extend(
        extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let charm = target_bin("CHARM_BIN", "prometheus-rs-k8s");
    // `BENCH_WRAP="perf record -g -o /tmp/perf.data --"` runs the charm under a profiler.
    let wrap: Vec<String> = std::env::var("BENCH_WRAP")
        .map(|w| w.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let mut cmd = match wrap.split_first() {
        None => hook_command(&charm, &env, unit.runner.tools_dir(), file.path()),
        Some((program, args)) => {
            let mut cmd = hook_command(
                Path::new(program),
                &env,
                unit.runner.tools_dir(),
                file.path(),
            );
            cmd.args(args).arg(&charm);
            cmd
        }
    };
    let times = tool_times_path(file.path());
    let _ = std::fs::remove_file(&times);
    let reloads_before = unit._web.reload_count();
    let start = Instant::now();
    let (output, max_rss_kib) = output_with_rusage(&mut cmd);
    let wall = start.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{} failed: {stdout}\n{}",
        event.name(),
        String::from_utf8_lossy(&output.stderr)
    );
    let tools = std::fs::read_to_string(&times)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .map(Duration::from_nanos)
        .sum();
    file.commit_pending().expect("commit");
    let state = file.load().expect("state");
    Sample {
        wall,
        tools,
        max_rss_kib,
        reloads: unit._web.reload_count() - reloads_before,
        tool_calls: state.total_calls(),
        relation_sets: state.call_count("relation-set"),
        pebble_requests: unit.pebble.request_count(),
        bytes_pushed: bytes_pushed(&stdout),
    }
}

/// Where `fake-hook-tool` appends its durations.
fn tool_times_path(state: &Path) -> PathBuf {
    let mut path = state.as_os_str().to_owned();
    path.push(".times");
    PathBuf::from(path)
}

/// Runs `cmd` to completion like `Command::output`, and returns the peak RSS (KiB) of the
/// process from `wait4`'s rusage.
// The child is reaped by `wait4` below, which std's `Child` does not know about.
#[allow(clippy::zombie_processes)]
fn output_with_rusage(cmd: &mut std::process::Command) -> (std::process::Output, u64) {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("charm runs");
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let mut stdout = Vec::new();
    let _ = out_pipe.read_to_end(&mut stdout);
    let stderr = err_reader.join().unwrap_or_default();
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: rusage is plain data, fully written by wait4 on success; the child is ours and
    // not yet reaped (std's Child is not waited on afterwards).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4: {}", std::io::Error::last_os_error());
    let max_rss_kib = u64::try_from(usage.ru_maxrss).unwrap_or(0);
    let output = std::process::Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout,
        stderr,
    };
    (output, max_rss_kib)
}

/// The charm logs `bytes=N` when it pushed files.
fn bytes_pushed(stdout: &str) -> u64 {
    stdout
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("bytes="))
        .filter_map(|n| n.parse::<u64>().ok())
        .sum()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn emit(apps: usize, units: usize, hook: &str, cache: &str, samples: &[Sample]) {
    let ms: Vec<f64> = samples.iter().map(|s| s.wall.as_secs_f64() * 1e3).collect();
    let charm_ms: Vec<f64> = samples
        .iter()
        .map(|s| s.wall.saturating_sub(s.tools).as_secs_f64() * 1e3)
        .collect();
    let last = samples.last().expect("a sample");
    let row = json!({
        "kind": "hook",
        "size": format!("{apps}x{units}"),
        "hook": hook,
        "cache": cache,
        "runs": samples.len(),
        "median_ms": median(ms.clone()),
        "charm_median_ms": median(charm_ms),
        "min_ms": ms.iter().copied().fold(f64::INFINITY, f64::min),
        "max_ms": ms.iter().copied().fold(0.0, f64::max),
        "tool_calls": last.tool_calls,
        "relation_sets": last.relation_sets,
        "pebble_requests": last.pebble_requests,
        "bytes_pushed": last.bytes_pushed,
        "reloads": last.reloads,
        "max_rss_kib": samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0),
    });
    println!("{row}");
}

fn measure(
    unit: &Unit,
    apps: usize,
    units: usize,
    runs: usize,
    cache: bool,
    event: &Event,
    label: &str,
) {
    let env: &[(&str, &str)] = if cache {
        &[]
    } else {
        &[("PROMETHEUS_RS_K8S_DATABAG_CACHE", "off")]
    };
    // One warm-up run (fills the page cache, and the databag cache when it is on).
    run(unit, event, env);
    let samples: Vec<Sample> = (0..runs).map(|_| run(unit, event, env)).collect();
    emit(
        apps,
        units,
        label,
        if cache { "on" } else { "off" },
        &samples,
    );
}

/// One `is-leader` through the fake hook tool, as the charm runs it: what every hook-tool
/// call costs on top of the charm's own work (it loads the whole model state file).
fn tool_cost(unit: &Unit, apps: usize, units: usize, runs: usize) {
    let file = unit.runner.state_file();
    let size = std::fs::metadata(file.path()).map(|m| m.len()).unwrap_or(0);
    let ms: Vec<f64> = (0..runs.max(3))
        .map(|_| {
            let start = Instant::now();
            let out = std::process::Command::new(unit.runner.tools_dir().join("is-leader"))
                .arg("--format=json")
                .env(charm_harness::juju::STATE_ENV, file.path())
                .output()
                .expect("is-leader runs");
            assert!(out.status.success());
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let row = json!({
        "kind": "tool",
        "size": format!("{apps}x{units}"),
        "runs": ms.len(),
        "median_ms": median(ms),
        "state_bytes": size,
    });
    println!("{row}");
}

/// update-status (a rotating slice of the databags re-read), and pebble-ready after the
/// workload container restarted with its files wiped (every file pushed again).
fn measure_routine(unit: &Unit, apps: usize, units: usize, runs: usize) {
    measure(
        unit,
        apps,
        units,
        runs,
        true,
        &Event::UpdateStatus,
        "update-status",
    );
    let event = Event::Workload {
        container: "prometheus".into(),
        kind: WorkloadEventKind::PebbleReady,
    };
    let samples: Vec<Sample> = (0..runs.min(5))
        .map(|_| {
            unit.pebble.restart_container(true);
            run(unit, &event, &[])
        })
        .collect();
    emit(
        apps,
        units,
        "prometheus-pebble-ready (container restarted, files wiped)",
        "on",
        &samples,
    );
}

/// relation-changed after a remote unit's address really changed: prometheus.yml is
/// validated (the host's promtool through Pebble exec), pushed and Prometheus reloaded.
fn measure_change(unit: &Unit, apps: usize, units: usize, runs: usize, id: &juju_hook::RelationId) {
    let app = support::app_name(0);
    let name = format!("{app}/0");
    let samples: Vec<Sample> = (0..=runs)
        .map(|i| {
            let event = unit
                .runner
                .update(|s| {
                    let mut data = support::unit_data(&app, 0, 0);
                    data.insert(
                        "prometheus_scrape_unit_address".into(),
                        format!("10.200.{}.{}", i / 250, i % 250),
                    );
                    s.set_remote_unit_data(id, &name, &data);
                    s.relation_event(id, RelationEventKind::Changed, Some(&name))
                })
                .expect("model updated");
            run(unit, &event, &[])
        })
        .skip(1)
        .collect();
    emit(
        apps,
        units,
        "metrics-endpoint-relation-changed (address changed)",
        "on",
        &samples,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects sizes by name.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let sizes = std::env::var("BENCH_SIZES").unwrap_or_else(|_| "0x0,2x2,200x5,2000x5".into());
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let uncached_max: usize = std::env::var("BENCH_UNCACHED_MAX_UNITS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1000);
    for size in sizes.split(',') {
        if !filter.is_empty() && !filter.iter().any(|f| f == size) {
            continue;
        }
        let (apps, units) = size
            .split_once('x')
            .and_then(|(a, u)| Some((a.parse().ok()?, u.parse().ok()?)))
            .expect("sizes look like 200x5");
        let (unit, ids) = deploy(apps, units);
        let relation_changed = ids.first().map(|id| {
            let state = unit.runner.state().expect("state");
            state.relation_event(
                id,
                RelationEventKind::Changed,
                Some(&format!("{}/0", support::app_name(0))),
            )
        });
        tool_cost(&unit, apps, units, runs);
        if let Some(id) = ids.first() {
            measure_change(&unit, apps, units, runs, id);
        }
        measure_routine(&unit, apps, units, runs);
        let total = apps * units;
        for cache in [true, false] {
            if !cache && total > uncached_max {
                continue;
            }
            let runs = if cache { runs } else { runs.min(3) };
            measure(
                &unit,
                apps,
                units,
                runs,
                cache,
                &Event::ConfigChanged,
                "config-changed",
            );
            if let Some(event) = &relation_changed {
                measure(
                    &unit,
                    apps,
                    units,
                    runs,
                    cache,
                    event,
                    "metrics-endpoint-relation-changed",
                );
            }
        }
    }
}

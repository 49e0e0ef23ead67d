//! The compiled charm handling hooks end to end, process start to exit, as Juju runs it:
//! `fake-hook-tool` executables on `PATH` over a state file, a fake Pebble on a Unix socket
//! (with a real promtool: 3.14's from `scripts/real-systems --env`, else the host's 2.42) and a
//! fake Prometheus web API.
//!
//! For each size (`apps`x`units` related on `metrics-endpoint`) it deploys a leader unit
//! (install, leader-elected, config-changed, pebble-ready, start), then times groups of rows
//! (`BENCH_ROWS` selects them by name): `tool` (one `is-leader`), `moved` (relation-changed
//! after one unit's address changed: one target moved), `membership` (one new unit's
//! relation-joined and relation-changed, and its relation-departed), `routine` (update-status
//! in a quiet model and after a moved target, and pebble-ready after a container restart that
//! wiped the container's files) and `steady` (config-changed and relation-changed in which
//! nothing changed, with the databag cache and without it,
//! `PROMETHEUS_RS_K8S_DATABAG_CACHE=off`). Prints one JSON object per row on stdout
//! (`scripts/bench-table` turns them into a table).
//!
//! Each row has the wall time of the charm process and its **charm time**: wall minus the
//! time spent inside hook-tool processes, as `fake-hook-tool` records it itself (from the
//! start to the end of its `main`, in `<state>.times`; process creation and loading are not
//! included, so charm time slightly overstates the charm's own part), and its **charm CPU**:
//! user and system CPU of the charm process and of the processes it waited for (`wait4`),
//! minus the hook tools' own CPU as `fake-hook-tool` records it (from its `exec`: loading
//! included). CPU is what a hook costs the node, and, unlike wall time, barely moves with
//! other load on the machine; it does not count the time spent waiting for Pebble, Prometheus
//! or promtool (other processes), and includes GNU time's own (about 0.7 ms). Also the reloads of
//! Prometheus and the charm's own peak RSS: the charm runs under GNU time
//! (`/usr/bin/time -f %M`), whose child's `ru_maxrss` is the charm's. (`ru_maxrss` from
//! `wait4` of a child of this bench would include the bench's own resident set: Linux carries
//! the parent's high-water mark across `exec`. GNU time's own ~1 MB is the floor.) Wall time
//! includes starting GNU time; `BENCH_RSS=off` runs without it (and without RSS).
//!
//! Environment: `BENCH_SIZES` (default `0x0,2x2,20x5,200x5,2000x5,5000x5`), `BENCH_RUNS`
//! (default 7), `BENCH_ROWS` (default: every group), `BENCH_UNCACHED_MAX_UNITS` (skip uncached
//! runs above this many units, default 1000), `BENCH_FULL_MAX_UNITS` (above this many units
//! only `tool` and `moved`, default 10,000), `BENCH_PROCESS_DEPLOY_MAX_UNITS` (deploy
//! in-process above this many units, default 1000), `BENCH_WRAP` (a command the charm runs
//! under, e.g. a profiler), `BENCH_RSS`, `CHARM_BIN` and `FAKE_TOOL` (default: the release
//! builds in `target/release`), `PROMTOOL3_BIN` and `BENCH_PROMETHEUS` (see
//! [`workload_prometheus`]).

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use charm_harness::juju::tool_costs::{cost_file, cpu_time, CPU_SUFFIX, RSS_SUFFIX, WALL_SUFFIX};
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
    /// User and system CPU of the process the bench started (the charm, or GNU time and the
    /// charm) and of every process it waited for (its hook tools).
    cpu: Duration,
    /// The hook tools' own CPU, as they recorded it (from their `exec`, loading included).
    tools_cpu: Duration,
    /// Peak resident set of the charm process, KiB, as GNU time saw it: the larger of the
    /// charm's own and its hook tools' (a process's `ru_maxrss` counts its waited children).
    max_rss_kib: u64,
    /// The largest own peak resident set of the hook tools the charm ran (their `VmHWM`), KiB.
    tools_max_rss_kib: u64,
    reloads: usize,
    tool_calls: u64,
    relation_sets: u64,
    pebble_requests: usize,
    bytes_pushed: u64,
}

impl Sample {
    /// Two hooks run one after the other, as one cost (peak RSS: the larger).
    fn plus(&self, other: &Sample) -> Sample {
        Sample {
            wall: self.wall + other.wall,
            tools: self.tools + other.tools,
            cpu: self.cpu + other.cpu,
            tools_cpu: self.tools_cpu + other.tools_cpu,
            max_rss_kib: self.max_rss_kib.max(other.max_rss_kib),
            tools_max_rss_kib: self.tools_max_rss_kib.max(other.tools_max_rss_kib),
            reloads: self.reloads + other.reloads,
            tool_calls: self.tool_calls + other.tool_calls,
            relation_sets: self.relation_sets + other.relation_sets,
            pebble_requests: self.pebble_requests + other.pebble_requests,
            bytes_pushed: self.bytes_pushed + other.bytes_pushed,
        }
    }
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

/// The Prometheus the fake workload runs: 3.14 with its own promtool when
/// `scripts/real-systems --env` gave one (`PROMTOOL3_BIN`; production runs Prometheus 3, whose
/// isolated relations have job files of their own), else Debian's 2.42 (`BENCH_PROMETHEUS=2`
/// asks for it).
fn workload_prometheus() -> (String, PathBuf) {
    let promtool3 = std::env::var_os("PROMTOOL3_BIN").map(PathBuf::from);
    match promtool3 {
        Some(promtool) if std::env::var("BENCH_PROMETHEUS").as_deref() != Ok("2") => {
            ("3.14.0".to_owned(), promtool)
        }
        _ => ("2.42.0".to_owned(), PathBuf::from("/usr/bin/promtool")),
    }
}

fn deploy(apps: usize, units: usize) -> (Unit, Vec<juju_hook::RelationId>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut state, ids) = support::model_state(apps, units);
    state.charm_dir = dir.path().join("charm");
    std::fs::create_dir_all(&state.charm_dir).expect("charm dir");
    let (version, promtool) = workload_prometheus();
    let pebble = FakePebble::start(&dir.path().join("container"))
        .with_prometheus_version(&version)
        .with_real_promtool_at(promtool);
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
        targets_url: prometheus_rs_k8s::core::prometheus_config::relation_targets::default_base_url(
        ),
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
    let rss_file = file.path().with_extension("maxrss");
    let _ = std::fs::remove_file(&rss_file);
    // The charm's own peak RSS: GNU time (a ~1 MB process) starts it and writes its child's
    // `ru_maxrss`. Taken from `wait4` here it would be this bench's high-water mark, which
    // Linux carries into the child across `exec`.
    let mut program: Vec<String> = Vec::new();
    if wrap.is_empty() && rss_measured() {
        program.extend(["/usr/bin/time", "-f", "%M", "-o"].map(str::to_string));
        program.push(rss_file.display().to_string());
    }
    program.extend(wrap);
    let cmd = match program.split_first() {
        None => hook_command(&charm, &env, unit.runner.tools_dir(), file.path()),
        Some((first, args)) => {
            let mut cmd =
                hook_command(Path::new(first), &env, unit.runner.tools_dir(), file.path());
            cmd.args(args).arg(&charm);
            cmd
        }
    };
    let times = cost_file(file.path(), WALL_SUFFIX);
    let _ = std::fs::remove_file(&times);
    let tools_rss = cost_file(file.path(), RSS_SUFFIX);
    let _ = std::fs::remove_file(&tools_rss);
    let tools_cpu = cost_file(file.path(), CPU_SUFFIX);
    let _ = std::fs::remove_file(&tools_cpu);
    let reloads_before = unit._web.reload_count();
    let start = Instant::now();
    let (status, stdout, stderr, cpu) = run_with_cpu(cmd);
    let wall = start.elapsed();
    let stdout = String::from_utf8_lossy(&stdout);
    assert!(
        status.success(),
        "{} failed: {stdout}\n{}",
        event.name(),
        String::from_utf8_lossy(&stderr)
    );
    let tools = sum_nanos(&times);
    file.commit_pending().expect("commit");
    let state = file.load().expect("state");
    Sample {
        wall,
        tools,
        cpu,
        tools_cpu: sum_nanos(&tools_cpu),
        max_rss_kib: charm_max_rss(&rss_file),
        tools_max_rss_kib: std::fs::read_to_string(&tools_rss)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .max()
            .unwrap_or(0),
        reloads: unit._web.reload_count() - reloads_before,
        tool_calls: state.total_calls(),
        relation_sets: state.call_count("relation-set"),
        pebble_requests: unit.pebble.request_count(),
        bytes_pushed: bytes_pushed(&stdout),
    }
}

/// Runs `cmd` to its end: exit status, stdout, stderr, and the CPU time (user and system) of
/// the process and of the children it waited for, from `wait4` (`Command::output` discards
/// the resource usage).
fn run_with_cpu(
    mut cmd: std::process::Command,
) -> (std::process::ExitStatus, Vec<u8>, Vec<u8>, Duration) {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    // Reaped below by `wait4`, which `Child::wait` would not give the resource usage of.
    #[allow(clippy::zombie_processes)]
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("charm runs");
    let mut err_pipe = child.stderr.take().expect("stderr piped");
    let stderr = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let mut stdout = Vec::new();
    let _ = child
        .stdout
        .take()
        .expect("stdout piped")
        .read_to_end(&mut stdout);
    let pid = i32::try_from(child.id()).expect("a pid fits an i32");
    let mut status = 0;
    // SAFETY: `wait4` writes the child's status and resource usage into the zeroed values it
    // is given; the child is ours and `Child` does not wait for it again.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    let cpu = cpu_time(&usage);
    let stderr = stderr.join().expect("stderr reader");
    (
        std::process::ExitStatus::from_raw(status),
        stdout,
        stderr,
        cpu,
    )
}

/// The sum of the nanosecond figures, one per line, in `path` (zero when there is none).
fn sum_nanos(path: &Path) -> Duration {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .map(Duration::from_nanos)
        .sum()
}

/// Whether hooks run under GNU time for their peak RSS (`BENCH_RSS=off`: not, e.g. to see
/// what the wrapper costs; a `BENCH_WRAP` also turns it off, its RSS would be the wrapper's).
fn rss_measured() -> bool {
    std::env::var("BENCH_RSS").map_or(true, |v| v != "off")
}

/// The peak RSS (KiB) GNU time wrote for the charm: the last line of its output file (a
/// failed command adds a line before it). 0 when not measured.
fn charm_max_rss(file: &Path) -> u64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(0)
}

/// This bench process's own peak RSS (KiB, `VmHWM`), shown beside the charm's so that a
/// charm figure carrying the bench's size would stand out.
fn bench_max_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
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
    let charm_cpu_ms: Vec<f64> = samples
        .iter()
        .map(|s| s.cpu.saturating_sub(s.tools_cpu).as_secs_f64() * 1e3)
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
        "charm_cpu_median_ms": median(charm_cpu_ms),
        "min_ms": ms.iter().copied().fold(f64::INFINITY, f64::min),
        "max_ms": ms.iter().copied().fold(0.0, f64::max),
        "tool_calls": last.tool_calls,
        "relation_sets": last.relation_sets,
        "pebble_requests": last.pebble_requests,
        "bytes_pushed": last.bytes_pushed,
        "reloads": last.reloads,
        "max_rss_kib": samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0),
        "tools_max_rss_kib": samples.iter().map(|s| s.tools_max_rss_kib).max().unwrap_or(0),
        "bench_rss_kib": bench_max_rss(),
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

/// update-status (a rotating slice of the databags re-read, the container's files checked) in
/// a quiet model, and the one after a moved target, which computes everything (the targets
/// shortcut's apply is checked by the full computation); pebble-ready after the workload
/// container restarted with its files wiped (every file pushed again).
fn measure_routine(
    unit: &Unit,
    apps: usize,
    units: usize,
    runs: usize,
    id: Option<&juju_hook::RelationId>,
) {
    measure(
        unit,
        apps,
        units,
        runs,
        true,
        &Event::UpdateStatus,
        "update-status",
    );
    if let Some(id) = id {
        let samples: Vec<Sample> = (0..runs)
            .map(|i| {
                run(unit, &move_target(unit, id, 1000 + i), &[]);
                run(unit, &Event::UpdateStatus, &[])
            })
            .collect();
        emit(
            apps,
            units,
            "update-status (after a moved target: computes everything)",
            "on",
            &samples,
        );
    }
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
    let samples: Vec<Sample> = (0..=runs)
        .map(|i| run(unit, &move_target(unit, id, i), &[]))
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

/// Gives the first unit of the first application address number `i` (`10.200.x.y`) and returns
/// the relation-changed event Juju would run for it.
fn move_target(unit: &Unit, id: &juju_hook::RelationId, i: usize) -> Event {
    let app = support::app_name(0);
    let name = format!("{app}/0");
    unit.runner
        .update(|s| {
            let mut data = support::unit_data(&app, 0, 0);
            data.insert(
                "prometheus_scrape_unit_address".into(),
                format!("10.200.{}.{}", i / 250, i % 250),
            );
            s.set_remote_unit_data(id, &name, &data);
            s.relation_event(id, RelationEventKind::Changed, Some(&name))
        })
        .expect("model updated")
}

/// One remote unit joins the first relation and then departs, as Juju runs it: the unit is
/// added with its databag, `-relation-joined` then `-relation-changed` for it; then it
/// leaves `relation-list` and `-relation-departed` runs with `JUJU_REMOTE_UNIT` and
/// `JUJU_DEPARTING_UNIT` naming it. Each run uses a new unit number (Juju never reuses one),
/// and the departed unit's data is dropped after its hook, as Juju does. Rows: each hook, and
/// joined + changed together (the cost of one new unit).
fn measure_membership(
    unit: &Unit,
    apps: usize,
    units: usize,
    runs: usize,
    id: &juju_hook::RelationId,
) {
    let app = support::app_name(0);
    let (mut joined, mut changed, mut both, mut departed) = (vec![], vec![], vec![], vec![]);
    // Run 0 warms up.
    for i in 0..=runs {
        let name = format!("{app}/{}", units + i);
        let [join_event, change_event] = unit
            .runner
            .update(|s| {
                s.add_remote_unit(id, &name);
                s.set_remote_unit_data(id, &name, &support::unit_data(&app, units + i, 0));
                [RelationEventKind::Joined, RelationEventKind::Changed]
                    .map(|kind| s.relation_event(id, kind, Some(&name)))
            })
            .expect("unit joins");
        let j = run(unit, &join_event, &[]);
        let c = run(unit, &change_event, &[]);
        let depart_event = unit
            .runner
            .update(|s| {
                s.remove_remote_unit(id, &name);
                s.relation_event(id, RelationEventKind::Departed, Some(&name))
            })
            .expect("unit departs");
        let d = run(unit, &depart_event, &[]);
        unit.runner
            .update(|s| {
                let rel = s.relation_mut(id);
                rel.remote_units.remove(&name);
                rel.departed_units.remove(&name);
            })
            .expect("departed unit forgotten");
        if i > 0 {
            both.push(j.plus(&c));
            joined.push(j);
            changed.push(c);
            departed.push(d);
        }
    }
    let hook = "metrics-endpoint-relation";
    for (label, samples) in [
        (format!("{hook}-joined + -changed (one unit joined)"), both),
        (format!("{hook}-joined (one unit joined)"), joined),
        (format!("{hook}-changed (after the unit joined)"), changed),
        (format!("{hook}-departed (one unit departed)"), departed),
    ] {
        emit(apps, units, &label, "on", &samples);
    }
}

/// A number from the environment, or `default`.
fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects sizes by name.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let sizes =
        std::env::var("BENCH_SIZES").unwrap_or_else(|_| "0x0,2x2,20x5,200x5,2000x5,5000x5".into());
    let runs = env_usize("BENCH_RUNS", 7);
    let uncached_max = env_usize("BENCH_UNCACHED_MAX_UNITS", 1000);
    let full_max = env_usize("BENCH_FULL_MAX_UNITS", 10_000);
    // `BENCH_ROWS=moved,membership` runs only those groups of rows.
    let groups = std::env::var("BENCH_ROWS").ok();
    let wants = |group: &str| {
        groups
            .as_deref()
            .is_none_or(|g| g.split(',').any(|x| x.trim() == group))
    };
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
        let total = apps * units;
        if wants("tool") {
            tool_cost(&unit, apps, units, runs);
        }
        if let Some(id) = ids.first() {
            if wants("moved") {
                measure_change(&unit, apps, units, runs, id);
            }
            if wants("membership") && total <= full_max {
                measure_membership(&unit, apps, units, runs, id);
            }
        }
        // Above this size only the rows above: each of the others costs seconds per run.
        if total > full_max {
            continue;
        }
        if wants("routine") {
            measure_routine(&unit, apps, units, runs, ids.first());
        }
        for cache in [true, false] {
            if !wants("steady") || (!cache && total > uncached_max) {
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

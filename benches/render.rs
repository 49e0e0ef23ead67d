//! Rendering cost for 10,000 scrape jobs: `desired::compute` for 2,000 related applications of
//! 5 units with a wildcard job each (one job per unit), on Prometheus 2.42 (every job in
//! prometheus.yml) and 3.14 (each relation's jobs in a file of their own), and
//! `prometheus_config::render` of the 10,000 jobs it produced. Short measurement times:
//! `cargo bench --bench render`.
//!
//! `RENDER_COMPUTE_RUNS=n` runs `desired::compute` 2000x5 n times after the first and exits,
//! without criterion: a fixed amount of work for an instruction count, which on this project's
//! VMs (no hardware counters, wall times that move by half within an hour) is the measure that
//! repeats. Per compute: `valgrind --tool=callgrind` of n=2 minus n=0, halved (BENCHMARKS.md,
//! "Session 19"). `RENDER_PROMETHEUS=3` measures the Prometheus 3 model's computes.

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use charm_interfaces::ScrapeJob;
use charm_sim::Simulation;
use criterion::{criterion_group, criterion_main, Criterion};
use juju_hook::Event;
use prometheus_rs_k8s::core::desired::desired_for;
use prometheus_rs_k8s::{render, CharmConfig, ConfigInput, PrometheusVersion};
use serde_json::{Map, Value};

fn jobs(n: usize) -> Vec<ScrapeJob> {
    (0..n)
        .map(|i| {
            let job = serde_json::json!({
                "job_name": format!("juju_workloads_f4b3a2c1_exporter-{}_{}_prometheus_scrape", i / 5, i),
                "metrics_path": "/metrics",
                "static_configs": [{
                    "targets": [format!("10.{}.{}.{}:9100", 1 + i / 62500, (i / 250) % 250, i % 250)],
                    "labels": {
                        "juju_model": "workloads",
                        "juju_model_uuid": "f4b3a2c1-0d9e-4f8a-b7c6-5d4e3f2a1b0c",
                        "juju_application": format!("exporter-{}", i / 5),
                        "juju_unit": format!("exporter-{}/{}", i / 5, i % 5),
                        "juju_charm": "node-exporter-k8s",
                    },
                }],
            });
            match job {
                Value::Object(map) => ScrapeJob::from(map),
                _ => unreachable!("a JSON object"),
            }
        })
        .collect()
}

/// User and system time of the whole process, every thread.
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `rusage` into the pointer it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn benches(c: &mut Criterion) {
    // As the charm's `main` sets it.
    prometheus_rs_k8s::allocator::configure();
    let snapshot = support::snapshot(2000, 5);
    // Production runs Prometheus 3: each isolated relation's jobs in a file of their own.
    let snapshot3 = prometheus_rs_k8s::core::model::ModelSnapshot {
        prometheus_version: Some("3.14.0".into()),
        ..snapshot.clone()
    };
    let desired = desired_for(&snapshot).expect("the snapshot renders");
    let yml = desired
        .workload
        .files
        .iter()
        .find(|f| f.path == prometheus_rs_k8s::core::workload::CONFIG_FILE)
        .map(|f| match &f.content {
            prometheus_rs_k8s::core::desired_workload::FileContent::Bytes(b) => b.len(),
            prometheus_rs_k8s::core::desired_workload::FileContent::Local { .. } => 0,
        })
        .unwrap_or(0);
    eprintln!("desired::compute 2000x5: prometheus.yml of {yml} bytes");
    if let Some(runs) = std::env::var("RENDER_COMPUTE_RUNS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
    {
        // `RENDER_PROMETHEUS=3`: the computes of the Prometheus 3 model.
        let measured = match std::env::var("RENDER_PROMETHEUS").as_deref() {
            Ok("3") => &snapshot3,
            _ => &snapshot,
        };
        let (started, cpu_started) = (std::time::Instant::now(), cpu_time());
        for _ in 0..runs {
            std::hint::black_box(desired_for(measured).expect("renders"));
        }
        // CPU time of every thread: a large model's compute runs on several.
        let each = |d: Duration| d.as_secs_f64() * 1000.0 / f64::from(runs.max(1));
        eprintln!(
            "{runs} more computes: {:.1} ms each, {:.1} ms of CPU",
            each(started.elapsed()),
            each(cpu_time() - cpu_started)
        );
        std::process::exit(0);
    }

    let mut group = c.benchmark_group("render");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("desired_compute_2000x5", |b| {
        b.iter(|| desired_for(&snapshot).expect("renders"))
    });
    group.bench_function("desired_compute_2000x5_prometheus_3", |b| {
        b.iter(|| desired_for(&snapshot3).expect("renders"))
    });

    let small = support::snapshot(200, 5);
    group.bench_function("desired_compute_200x5", |b| {
        b.iter(|| desired_for(&small).expect("renders"))
    });
    // The whole config-changed hook in-process (in-memory hook tools, fake Pebble on its
    // socket): the charm's own cost per hook, without process spawns.
    let sim = Simulation::from_snapshot(&small).expect("simulation");
    sim.pebble.on_exec_host("promtool", "/usr/bin/promtool");
    for event in [Event::Install, Event::ConfigChanged] {
        sim.run(&event).expect("deploys");
    }
    group.bench_function("config_changed_in_process_200x5", |b| {
        b.iter(|| sim.run(&Event::ConfigChanged).expect("runs"))
    });

    let config = CharmConfig::from_options(&Map::new()).expect("defaults are valid");
    let topology = snapshot.topology();
    let mut input = ConfigInput::new(
        &config,
        topology,
        PrometheusVersion::detected_or_assumed(Some("prometheus, version 2.42.0")),
    );
    input.relation_jobs = jobs(10_000);
    group.bench_function("prometheus_config_render_10000_jobs", |b| {
        b.iter(|| render(&input).expect("renders"))
    });
    group.finish();
}

criterion_group!(render_benches, benches);
criterion_main!(render_benches);

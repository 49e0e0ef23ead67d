//! What a request costs: the smallest one (`GET /v1/system-info`, the floor under every
//! request a hook makes), and pushes: one small target file, and a batch of
//! [`PUSH_BATCH_FILES`] of them in one request, against the harness's fake Pebble and, when
//! `PEBBLE_BIN` names one (`eval "$(scripts/real-systems --env)"`), a real Pebble daemon.
//! Pebble syncs every file it writes (and its directory) to disk; the fake does not, so the
//! hook bench, which runs against the fake, understates what pushes cost in a real container.
//! `cargo bench --bench pebble_push`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use charm_harness::FakePebble;
use criterion::{criterion_group, criterion_main, Criterion};
use pebble::{Client, PushOptions};
use prometheus_rs_k8s::effects::apply::PUSH_BATCH_FILES;

/// A relation job's target file as the charm writes it (one unit, its labels).
const TARGET_FILE: &[u8] = br#"[{"targets":["10.1.2.3:9100"],"labels":{"juju_model":"workloads","juju_model_uuid":"f4b3a2c1-0d9e-4f8a-b7c6-5d4e3f2a1b0c","juju_application":"exporter-7","juju_unit":"exporter-7/3","juju_charm":"node-exporter-k8s"}}]"#;

/// A real Pebble daemon with its state in `dir`, stopped when dropped.
struct RealPebble(Child);

impl RealPebble {
    fn start(binary: &str, dir: &Path) -> (RealPebble, Client) {
        let child = Command::new(binary)
            .arg("run")
            .env("PEBBLE", dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble starts");
        let client = Client::new(dir.join(".pebble.socket"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while client.system_info().is_err() {
            assert!(Instant::now() < deadline, "pebble did not answer");
            std::thread::sleep(Duration::from_millis(50));
        }
        (RealPebble(child), client)
    }
}

impl Drop for RealPebble {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn files(dir: &Path, n: usize) -> Vec<(String, Bytes)> {
    (0..n)
        .map(|i| {
            let path = dir.join(format!("job-{i}.json"));
            (path.display().to_string(), Bytes::from_static(TARGET_FILE))
        })
        .collect()
}

fn measure(c: &mut Criterion, name: &str, client: &Client, dir: &Path) {
    let opts = PushOptions {
        make_dirs: true,
        ..PushOptions::default()
    };
    let one = files(dir, 1);
    let batch = files(dir, PUSH_BATCH_FILES);
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    // The floor under every request a hook makes.
    group.bench_function("GET /v1/system-info", |b| {
        b.iter(|| client.system_info().expect("answered"))
    });
    group.bench_function("push one target file", |b| {
        b.iter(|| client.push_many(&one, &opts).expect("pushed"))
    });
    group.bench_function(format!("push {PUSH_BATCH_FILES} target files"), |b| {
        b.iter(|| client.push_many(&batch, &opts).expect("pushed"))
    });
    group.finish();
}

fn pushes(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let fake = FakePebble::start(&dir.path().join("fake"));
    let client = Client::new(fake.socket_path());
    measure(c, "fake Pebble", &client, &dir.path().join("fake-targets"));
    drop(fake);

    match std::env::var("PEBBLE_BIN") {
        Ok(binary) => {
            let state = dir.path().join("pebble");
            std::fs::create_dir_all(&state).expect("a state directory");
            let (_pebble, client) = RealPebble::start(&binary, &state);
            measure(c, "real Pebble", &client, &dir.path().join("targets"));
        }
        Err(_) => eprintln!("PEBBLE_BIN not set: the real Pebble rows are skipped"),
    }
}

criterion_group!(benches, pushes);
criterion_main!(benches);

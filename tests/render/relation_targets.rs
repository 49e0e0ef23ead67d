//! The relation jobs' targets over `http_sd`, on the real systems: the real Prometheus of each
//! major (Debian's 2.42, 3.14) and the charm's own `serve-targets` (the compiled binary), on
//! loopback. Prometheus running the config as pushed (each relation job naming its target file)
//! scrapes exactly the targets, with exactly the labels, of a Prometheus running the same config
//! with the targets inline; a rewritten target file moves the target without a reload; the
//! server going away leaves the last targets in place; the server holds a connection per job
//! even when started with a low limit of open files.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use prometheus_rs_k8s::core::prometheus_config::render;
use prometheus_rs_k8s::PrometheusVersion;
use serde_json::{json, Value};

use crate::render_common::*;

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    charm_harness::ports::unused_port().unwrap()
}

fn serve_targets(dir: &Path, port: u16) -> Process {
    serve_targets_from(
        Command::new(env!("CARGO_BIN_EXE_prometheus-rs-k8s")),
        dir,
        port,
    )
}

/// `serve-targets` started with a soft limit of `soft_limit` open files, as Pebble starts it
/// with the container's.
fn serve_targets_with_soft_limit(dir: &Path, port: u16, soft_limit: u64) -> Process {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!("ulimit -Sn {soft_limit} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_prometheus-rs-k8s"));
    serve_targets_from(sh, dir, port)
}

/// `command` (the charm binary, or what runs it) with `serve-targets`' arguments, spawned.
fn serve_targets_from(mut command: Command, dir: &Path, port: u16) -> Process {
    let child = command
        .arg("serve-targets")
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg(format!("--dir={}", dir.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the charm binary runs serve-targets");
    Process(child)
}

/// A real Prometheus of `version`'s major on `yaml`; its URL.
fn prometheus(version: PrometheusVersion, yaml: &str, dir: &Path) -> (Process, String) {
    std::fs::write(dir.join("prometheus.yml"), yaml).unwrap();
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new(prometheus_for(version))
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("Prometheus starts");
    (Process(child), format!("http://127.0.0.1:{port}"))
}

fn get(url: &str) -> Option<Value> {
    let body: Value = reqwest::blocking::get(url).ok()?.json().ok()?;
    Some(body["data"].clone())
}

/// Active targets as (job, final labels, scrape URL), and whether each came from `http_sd`.
fn targets(url: &str) -> Option<Vec<(String, Value, String, bool)>> {
    let data = get(&format!("{url}/api/v1/targets?state=active"))?;
    Some(
        data["activeTargets"]
            .as_array()?
            .iter()
            .map(|t| {
                (
                    t["scrapePool"].as_str().unwrap_or_default().to_owned(),
                    t["labels"].clone(),
                    t["scrapeUrl"].as_str().unwrap_or_default().to_owned(),
                    t["discoveredLabels"].get("__meta_url").is_some(),
                )
            })
            .collect(),
    )
}

fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The relation jobs' targets, as `(job, labels, scrape URL)` sorted.
type Scraped = BTreeSet<(String, String, String)>;

fn relation_targets(all: &[(String, Value, String, bool)]) -> Scraped {
    all.iter()
        .filter(|(job, ..)| job != "prometheus")
        .map(|(job, labels, url, _)| (job.clone(), labels.to_string(), url.clone()))
        .collect()
}

fn check_major(version: PrometheusVersion) {
    let dir = tempfile::tempdir().unwrap();
    let targets_dir = dir.path().join("targets");
    std::fs::create_dir(&targets_dir).unwrap();
    let port = free_port();
    let mut i = input(
        &config(json!({"scrape_interval": "1s", "scrape_timeout": "1s"})),
        version,
    );
    i.relation_jobs = relation_jobs();
    i.targets_url = format!("http://127.0.0.1:{port}");
    let rendered = render(&i).unwrap();
    assert_eq!(rendered.target_files.len(), 4);
    for file in &rendered.target_files {
        std::fs::write(targets_dir.join(format!("{}.json", file.id)), &file.json).unwrap();
    }
    let server = serve_targets(&targets_dir, port);

    let served_dir = dir.path().join("served");
    let inline_dir = dir.path().join("inline");
    std::fs::create_dir(&served_dir).unwrap();
    std::fs::create_dir(&inline_dir).unwrap();
    let (_served, served_url) = prometheus(version, &rendered.yaml, &served_dir);
    let (_inline, inline_url) = prometheus(version, &effective(&rendered), &inline_dir);

    // Every relation job's targets, the same on both, and those of the served one from http_sd.
    let expected_targets = 4;
    let inline = wait_for("the inline targets", Duration::from_secs(60), || {
        let t = relation_targets(&targets(&inline_url)?);
        (t.len() == expected_targets).then_some(t)
    });
    let served_all = wait_for("the served targets", Duration::from_secs(60), || {
        let all = targets(&served_url)?;
        (relation_targets(&all).len() == expected_targets).then_some(all)
    });
    assert_eq!(relation_targets(&served_all), inline, "{version}");
    assert!(
        served_all
            .iter()
            .all(|(job, _, _, from_http)| (job == "prometheus") != *from_http),
        "relation jobs come from http_sd, the self job does not: {served_all:?}"
    );

    // A moved unit: its target file rewritten (atomically, as Pebble writes), nothing else.
    let config_time = |url: &str| {
        get(&format!("{url}/api/v1/status/runtimeinfo")).map(|d| d["lastConfigTime"].clone())
    };
    let before = config_time(&served_url).expect("runtime info");
    let job = "juju_cos_f2c4a6d8_node-exp_prometheus_scrape-1";
    let file = rendered
        .target_files
        .iter()
        .find(|f| {
            f.id == prometheus_rs_k8s::core::prometheus_config::relation_targets::file_id(job)
        })
        .expect("the unit's target file");
    let moved = String::from_utf8(file.json.clone())
        .unwrap()
        .replace("10.1.0.12:9100", "10.1.9.99:9100");
    let tmp = targets_dir.join(".moved.tmp");
    std::fs::write(&tmp, moved).unwrap();
    std::fs::rename(&tmp, targets_dir.join(format!("{}.json", file.id))).unwrap();
    wait_for("the moved target", Duration::from_secs(30), || {
        let all = targets(&served_url)?;
        all.iter()
            .any(|(j, _, url, _)| j == job && url.contains("10.1.9.99:9100"))
            .then_some(())
    });
    assert_eq!(
        config_time(&served_url),
        Some(before),
        "no reload for a moved target"
    );

    // The server gone: after more than a refresh interval the targets are still there.
    let scraped = relation_targets(&targets(&served_url).unwrap());
    drop(server);
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(
        relation_targets(&targets(&served_url).unwrap()),
        scraped,
        "the last targets stay while the server is away"
    );
}

#[test]
fn served_targets_are_scraped_as_inline_ones_and_move_without_a_reload() {
    std::thread::scope(|s| {
        for version in MAJORS {
            s.spawn(move || check_major(version));
        }
    });
}

/// Prometheus keeps a connection open to the server per relation job, and Pebble starts the
/// server with the container's original soft limit of open files (often 1,024): the compiled
/// `serve-targets`, started with a soft limit far below the connections it is then asked to
/// hold, answers on all of them at once.
#[test]
fn serve_targets_holds_more_connections_than_the_soft_limit_it_starts_with() {
    use std::io::{Read, Write};
    const SOFT_LIMIT: u64 = 64;
    const CONNECTIONS: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ab12.json"), "[]\n").unwrap();
    let port = free_port();
    let server = serve_targets_with_soft_limit(dir.path(), port, SOFT_LIMIT);
    wait_for("serve-targets", Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let mut open = Vec::with_capacity(CONNECTIONS);
    for i in 0..CONNECTIONS {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream
            .write_all(b"GET /targets/ab12 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut status = [0u8; 12];
        stream
            .read_exact(&mut status)
            .unwrap_or_else(|e| panic!("connection {i} of {CONNECTIONS} unanswered: {e}"));
        // Out of file descriptors, the server answers 500: it cannot open the target file.
        assert_eq!(
            String::from_utf8_lossy(&status),
            "HTTP/1.1 200",
            "connection {i}"
        );
        open.push(stream);
    }
    let (soft, _) = crate::common::pod::open_files_limits(server.0.id());
    assert!(
        soft.parse::<u64>().map_or(true, |n| n > SOFT_LIMIT),
        "the server runs with a soft limit of {soft}"
    );
}

//! A Kubernetes pod of the charm on this machine, with the real systems: the workload
//! container is a real Pebble daemon in mount, PID and network namespaces of its own, whose
//! services are the real Prometheus 3 and the charm's real poller; the charm runs as Juju runs
//! it (one process per event, `JUJU_*` environment, the fake hook tools over a model file) in
//! the same network namespace, as the charm container of a sidecar pod shares the pod's
//! network.
//!
//! The pod's network namespace is held by a small process (Kubernetes' pause container) and
//! outlives the workload container. The container sees the host's filesystem except for the
//! paths the charm uses, each mounted from a per-test directory: `/etc` is an overlay (writes go
//! to the container's own layer), `/etc/prometheus`, `/opt` and `/var/lib` are fresh per
//! container, `/var/lib/prometheus` is the pod's data volume, and `/bin/prometheus` and
//! `/usr/bin/promtool` are the real Prometheus 3 binaries (an overlay on `/usr/bin`). Nothing
//! is mounted on the host: the mounts live in the container's private mount namespace. A
//! container restart kills every process of the container (Pebble is PID 1 of its PID
//! namespace, as in Kubernetes) and starts a new daemon with an empty plan and a fresh
//! filesystem, keeping the data volume and the charm's directory.
//!
//! Needs root (namespaces and mounts), `unshare`, `nsenter` and `ip` from util-linux and
//! iproute2, and the real systems of `scripts/real-systems`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::path::Path;

use charm_harness::juju::{HookOutcome, HookRunner};
use charm_harness::real_systems;
use charm_harness::ModelState;
use juju_hook::Event;

use super::process::{fake_hook_tool, CHARM_BINARY};
use tempfile::TempDir;

/// The binaries built by `scripts/real-systems`.
#[derive(Debug, Clone)]
pub struct RealSystems {
    /// Pebble v1.32.1.
    pub pebble: PathBuf,
    /// Prometheus 3.14.0.
    pub prometheus: PathBuf,
    /// promtool 3.14.0.
    pub promtool: PathBuf,
}

impl RealSystems {
    /// From `PEBBLE_BIN`, `PROMETHEUS3_BIN` and `PROMTOOL3_BIN` (as `run_tests` exports them),
    /// else the cache of `scripts/real-systems`. Missing: the test fails on CI (`CI=true`) and
    /// is skipped elsewhere (`None`).
    pub fn find() -> Option<RealSystems> {
        let systems = RealSystems {
            pebble: real_systems::pebble(),
            prometheus: real_systems::prometheus3(),
            promtool: real_systems::promtool3(),
        };
        let missing: Vec<String> = [&systems.pebble, &systems.prometheus, &systems.promtool]
            .into_iter()
            .filter(|p| !p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        let root = unsafe { libc::geteuid() } == 0;
        let problem = if !missing.is_empty() {
            Some(format!(
                "missing {} (run scripts/real-systems; ./run_tests does)",
                missing.join(", ")
            ))
        } else if !root {
            Some("the real-Pebble pod needs root (namespaces and mounts)".to_string())
        } else {
            None
        };
        match problem {
            None => Some(systems),
            Some(message) => {
                assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
                eprintln!("SKIPPED: {message}");
                None
            }
        }
    }
}

/// The commands the container runs as PID 1: its mounts, then Pebble.
const CONTAINER_INIT: &str = r#"set -e
mount -t overlay overlay -o "lowerdir=$IMAGE/usr-bin:/usr/bin" /usr/bin
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$CONTAINER/etc-upper,workdir=$CONTAINER/etc-work" /etc
mkdir -p /etc/prometheus
mount --bind "$CONTAINER/etc-prometheus" /etc/prometheus
mount -t tmpfs tmpfs /opt
mount -t tmpfs tmpfs /var/lib
mkdir /var/lib/prometheus
mount --bind "$DATA" /var/lib/prometheus
# The soft limit of open files containerd 2 gives a container (its unit no longer raises it).
ulimit -Sn 1024
exec "$PEBBLE_BIN" run
"#;

/// One workload container: the `unshare` process whose child is Pebble.
struct Container {
    /// `unshare`, parent of Pebble; its death kills Pebble (`--kill-child`).
    unshare: Child,
    /// Pebble's PID as the host sees it.
    pebble_pid: u32,
    /// The container's own directory (its filesystem layer and Pebble's state).
    dir: PathBuf,
}

/// A pod: network namespace, data volume, charm directory and one workload container at a
/// time.
pub struct Pod {
    dir: TempDir,
    systems: RealSystems,
    /// Holds the pod's network namespace (the pause container).
    pause: Child,
    container: Option<Container>,
    generation: u32,
}

impl Pod {
    /// Creates the pod and starts its workload container.
    pub fn start(systems: RealSystems) -> Pod {
        let dir = tempfile::tempdir().expect("temp dir");
        let image = dir.path().join("image/usr-bin");
        std::fs::create_dir_all(&image).expect("image dir");
        std::os::unix::fs::symlink(&systems.prometheus, image.join("prometheus")).unwrap();
        std::os::unix::fs::symlink(&systems.promtool, image.join("promtool")).unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let mut pause = Command::new("/usr/bin/unshare")
            .args([
                "--net",
                "/bin/sh",
                "-ec",
                "ip link set lo up; echo up; exec sleep infinity",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("unshare runs");
        let mut line = String::new();
        BufReader::new(pause.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the pause process reports");
        assert_eq!(line.trim(), "up", "the pod network did not come up");
        let mut pod = Pod {
            dir,
            systems,
            pause,
            container: None,
            generation: 0,
        };
        pod.start_container();
        pod
    }

    /// The pod's network namespace, for `nsenter --net=`.
    pub fn netns(&self) -> String {
        format!("/proc/{}/ns/net", self.pause.id())
    }

    /// Pebble's socket, at the same path for every container (Juju mounts it into the charm
    /// container at a fixed path).
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("pebble.socket")
    }

    /// A client of the current Pebble.
    pub fn client(&self) -> pebble::Client {
        pebble::Client::new(self.socket())
    }

    /// A directory of the pod's that outlives containers (the charm's, Juju's).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The data volume's host directory.
    pub fn data_dir(&self) -> PathBuf {
        self.path("data")
    }

    /// Starts a new workload container: fresh filesystem, a new Pebble with an empty plan.
    pub fn start_container(&mut self) {
        assert!(self.container.is_none(), "a container is running");
        self.generation += 1;
        let dir = self.path(&format!("container-{}", self.generation));
        for sub in ["etc-upper", "etc-work", "etc-prometheus", "pebble"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let _ = std::fs::remove_file(self.socket());
        let log = std::fs::File::create(dir.join("pebble.log")).unwrap();
        let netns = self.netns();
        let mut unshare = Command::new("/usr/bin/nsenter")
            .arg(format!("--net={netns}"))
            .args([
                "--",
                "/usr/bin/unshare",
                "--mount",
                "--propagation",
                "private",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount-proc",
                "/bin/sh",
                "-ec",
                CONTAINER_INIT,
            ])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("IMAGE", self.path("image"))
            .env("CONTAINER", &dir)
            .env("DATA", self.data_dir())
            .env("PEBBLE_BIN", &self.systems.pebble)
            .env("PEBBLE", dir.join("pebble"))
            .env("PEBBLE_SOCKET", self.socket())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("nsenter runs");
        let client = self.client();
        let deadline = Instant::now() + Duration::from_secs(20);
        while client.system_info().is_err() {
            if let Ok(Some(status)) = unshare.try_wait() {
                panic!(
                    "the container exited ({status}):\n{}",
                    std::fs::read_to_string(dir.join("pebble.log")).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "Pebble did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        let pebble_pid = children(unshare.id())
            .first()
            .copied()
            .expect("Pebble is the child of unshare");
        self.container = Some(Container {
            unshare,
            pebble_pid,
            dir,
        });
    }

    /// Pebble's PID (host view), `None` when no container runs.
    pub fn pebble_pid(&self) -> Option<u32> {
        self.container.as_ref().map(|c| c.pebble_pid)
    }

    /// Kills Pebble with `signal` and waits until every process of the container is gone.
    fn end_container(&mut self, signal: libc::c_int, grace: Duration) {
        let Some(mut container) = self.container.take() else {
            return;
        };
        unsafe { libc::kill(container.pebble_pid as libc::pid_t, signal) };
        let deadline = Instant::now() + grace;
        while container.unshare.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = container.unshare.kill();
        let _ = container.unshare.wait();
        // The PID namespace ends when its PID 1 has waited for every other process in it.
        let deadline = Instant::now() + Duration::from_secs(20);
        while is_alive(container.pebble_pid) {
            if Instant::now() > deadline {
                // Not a panic: this also runs while a failed test unwinds.
                eprintln!("the container's processes linger");
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_file(self.socket());
    }

    /// Kubernetes restarts the workload container: SIGTERM to Pebble (its services stop), then
    /// SIGKILL after a grace period; then a new container.
    pub fn restart_container(&mut self) {
        self.end_container(libc::SIGTERM, Duration::from_secs(15));
        self.start_container();
    }

    /// Pebble dies abruptly (SIGKILL): the whole container with it. No new container yet.
    pub fn kill_pebble(&mut self) {
        self.end_container(libc::SIGKILL, Duration::from_secs(5));
    }

    /// Runs `f` on a thread in the pod's network namespace and returns its result. Sockets
    /// and threads created there (a `reqwest` client's, a Tokio runtime's) stay in it.
    pub fn in_net<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let netns = self.netns();
        std::thread::spawn(move || {
            let file = std::fs::File::open(&netns).expect("the pod's netns");
            let rc =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("the closure in the pod network did not panic")
    }

    /// Pebble's log of the current container.
    pub fn pebble_log(&self) -> String {
        self.container
            .as_ref()
            .and_then(|c| std::fs::read_to_string(c.dir.join("pebble.log")).ok())
            .unwrap_or_default()
    }

    /// The current container's filesystem layer directory holding `/etc/prometheus`.
    pub fn container_etc_prometheus(&self) -> Option<PathBuf> {
        self.container
            .as_ref()
            .map(|c| c.dir.join("etc-prometheus"))
    }

    /// The launcher that runs a command in the pod's network namespace.
    pub fn launcher(&self) -> Vec<String> {
        vec![
            "/usr/bin/nsenter".into(),
            format!("--net={}", self.netns()),
            "--".into(),
        ]
    }
}

impl Pod {
    /// The hook runner for this pod's unit, as Juju runs the charm there: a charm directory of
    /// its own (the databag cache lives there; it outlives workload-container restarts), every
    /// hook in the pod's network namespace, the pod's Pebble socket, and a trusted pod's 1Gi
    /// volume (no Kubernetes API here: the percentage retention default has a size to apply).
    pub fn hook_runner(&self, state: &mut ModelState) -> HookRunner {
        state.charm_dir = self.path("charm");
        std::fs::create_dir_all(&state.charm_dir).unwrap();
        let launcher = self.launcher();
        let launcher: Vec<&str> = launcher.iter().map(String::as_str).collect();
        HookRunner::new(
            &self.path("juju"),
            fake_hook_tool(),
            Path::new(CHARM_BINARY),
            state,
        )
        .expect("hook runner set up")
        .with_launcher(&launcher)
        .with_env("CHARM_PEBBLE_SOCKET", self.socket().display().to_string())
        .with_env("CHARM_DATABASE_CAPACITY", "1Gi")
    }

    /// An HTTP client that connects from inside the pod's network namespace.
    pub fn http_client(&self) -> reqwest::blocking::Client {
        self.in_net(|| {
            reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap()
        })
    }

    /// Runs `event` with `runner`; it must exit 0 (the hook's output and Pebble's log if not).
    #[track_caller]
    pub fn hook_ok(&self, runner: &HookRunner, event: &Event) -> HookOutcome {
        let out = runner.run(event).expect("the charm process runs");
        assert!(
            out.success(),
            "{} exited {:?}\nstdout:\n{}\nstderr:\n{}\npebble log:\n{}",
            event.name(),
            out.code,
            out.stdout,
            out.stderr,
            self.pebble_log()
        );
        out
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        self.end_container(libc::SIGKILL, Duration::from_secs(5));
        let _ = self.pause.kill();
        let _ = self.pause.wait();
    }
}

/// Direct children of a process.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// The soft and hard limits of open files of process `pid` as `/proc` prints them (a number or
/// `unlimited`).
pub fn open_files_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a line for open files");
    let fields: Vec<&str> = line.split_whitespace().collect();
    (fields[3].to_owned(), fields[4].to_owned())
}

/// Whether a process exists and is not a zombie.
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Waits until `f` returns `Some`, polling every 200 ms.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

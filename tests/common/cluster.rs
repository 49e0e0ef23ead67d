//! A cluster network for several pods: a network namespace of its own (held by a pause
//! process, like a pod's) with a bridge, to which each pod's network namespace is joined by a
//! veth pair, as pods on one Kubernetes node reach each other and the cluster's services.
//! Services of the "cluster" (Cortex, scrape targets, an inventory) run in this namespace on the
//! bridge's addresses; every pod reaches them and they reach every pod. Nothing is added to the
//! host's network namespace, so nothing here is reachable from outside the machine.
//!
//! Needs root, `unshare`, `nsenter` and `ip` (iproute2), as the pods do. Declared by the test
//! files that use it (`#[path]`), not by `common/mod.rs`, so other test binaries do not build it.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};

use crate::common::pod::Pod;

/// The cluster's first address (the bridge's): services listen on it.
pub const SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 250, 0, 1);

/// The network namespace and its bridge, removed with the pause process.
pub struct Cluster {
    pause: Child,
    pods: u8,
}

impl Cluster {
    /// Creates the namespace with `br0` at `10.250.0.1/24` plus `extra` more addresses
    /// (`10.250.0.2`, ...) for services that need an address of their own.
    pub fn start(extra: u8) -> Cluster {
        let mut script = String::from(
            "ip link set lo up; ip link add br0 type bridge; \
             ip addr add 10.250.0.1/24 dev br0; ip link set br0 up; ",
        );
        for i in 0..extra {
            script.push_str(&format!("ip addr add 10.250.0.{}/24 dev br0; ", i + 2));
        }
        script.push_str("echo up; exec sleep infinity");
        let mut pause = Command::new("/usr/bin/unshare")
            .args(["--net", "/bin/sh", "-ec", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("unshare runs");
        let mut line = String::new();
        BufReader::new(pause.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the cluster network reports");
        assert_eq!(line.trim(), "up", "the cluster network did not come up");
        Cluster { pause, pods: 0 }
    }

    /// The namespace, for `nsenter --net=`.
    pub fn netns(&self) -> String {
        format!("/proc/{}/ns/net", self.pause.id())
    }

    /// Address `10.250.0.<n>`.
    pub fn ip(n: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 250, 0, n)
    }

    /// Joins `pod` to the bridge; returns the pod's address (`10.250.0.11`, `.12`, ...), which
    /// the pod's `eth0` gets.
    pub fn attach(&mut self, pod: &Pod) -> Ipv4Addr {
        self.pods += 1;
        let ip = Self::ip(10 + self.pods);
        let pod_ns = pod.netns();
        let pod_pid = pod_ns
            .trim_start_matches("/proc/")
            .trim_end_matches("/ns/net")
            .to_string();
        let host_end = format!("vp{}", self.pods);
        self.ip_in(
            &self.netns(),
            &format!("link add {host_end} type veth peer name eth0 netns {pod_pid}"),
        );
        self.ip_in(&self.netns(), &format!("link set {host_end} master br0 up"));
        self.ip_in(&pod_ns, &format!("addr add {ip}/24 dev eth0"));
        self.ip_in(&pod_ns, "link set eth0 up");
        ip
    }

    fn ip_in(&self, netns: &str, args: &str) {
        let out = Command::new("/usr/bin/nsenter")
            .arg(format!("--net={netns}"))
            .args(["--", "ip"])
            .args(args.split_whitespace())
            .output()
            .expect("nsenter runs");
        assert!(
            out.status.success(),
            "ip {args}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs `f` on a thread in the cluster's network namespace (see `Pod::in_net`).
    pub fn in_net<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let netns = self.netns();
        std::thread::spawn(move || {
            let file = std::fs::File::open(&netns).expect("the cluster's netns");
            let rc =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("the closure in the cluster network did not panic")
    }

    /// An HTTP client whose connections start in the cluster's network.
    pub fn http(&self) -> reqwest::blocking::Client {
        self.in_net(|| {
            reqwest::blocking::Client::builder()
                .timeout(std::time::Duration::from_secs(20))
                .build()
                .unwrap()
        })
    }

    /// Serves `count` metrics endpoints (`/metrics`, one series of gauge `sample_value`) on ephemeral
    /// ports of `ip`, and an inventory listing them (`/inventory`, a JSON list of `ip:port`)
    /// on `SERVICE_IP`; all in the cluster's network, until the returned value is dropped.
    pub fn targets(&self, ip: Ipv4Addr, count: usize) -> Targets {
        self.targets_with(ip, count, 1)
    }

    /// Like [`Cluster::targets`], each endpoint serving `series` series of `sample_value`
    /// (label `n`).
    pub fn targets_with(&self, ip: Ipv4Addr, count: usize, series: usize) -> Targets {
        self.in_net(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let (addrs, inventory) = runtime.block_on(async move {
                let mut addrs = Vec::new();
                for i in 0..count {
                    let listener = tokio::net::TcpListener::bind(SocketAddr::from((ip, 0)))
                        .await
                        .unwrap();
                    addrs.push(listener.local_addr().unwrap());
                    let mut body = String::from("# TYPE sample_value gauge\n");
                    for n in 0..series {
                        body.push_str(&format!("sample_value{{n=\"{n}\"}} {i}\n"));
                    }
                    let app = axum::Router::new()
                        .route("/metrics", axum::routing::get(move || async move { body }));
                    tokio::spawn(async move { axum::serve(listener, app).await });
                }
                let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                let listener = tokio::net::TcpListener::bind(SocketAddr::from((SERVICE_IP, 0)))
                    .await
                    .unwrap();
                let inventory = listener.local_addr().unwrap();
                let body = serde_json::to_string(&list).unwrap();
                let app = axum::Router::new().route(
                    "/inventory",
                    axum::routing::get(move || async move { body }),
                );
                tokio::spawn(async move { axum::serve(listener, app).await });
                (addrs, inventory)
            });
            Targets {
                _runtime: runtime,
                addrs,
                inventory,
            }
        })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pause.kill();
        let _ = self.pause.wait();
    }
}

/// Metrics endpoints served in the cluster network (see [`Cluster::targets`]).
pub struct Targets {
    _runtime: tokio::runtime::Runtime,
    /// The endpoints' addresses.
    pub addrs: Vec<SocketAddr>,
    /// The inventory's address.
    pub inventory: SocketAddr,
}

impl Targets {
    /// `http://<addr>/inventory`.
    pub fn inventory_url(&self) -> String {
        format!("http://{}/inventory", self.inventory)
    }

    /// The ports of the endpoints.
    pub fn ports(&self) -> Vec<u16> {
        self.addrs.iter().map(SocketAddr::port).collect()
    }
}

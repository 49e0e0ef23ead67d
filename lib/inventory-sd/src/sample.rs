//! A sample inventory server for tests and demos, with fault injection.
//!
//! - `GET /inventory` answers the current body (default `["sensor_0", ..., "sensor_99"]`).
//! - `PUT /admin/inventory` (any JSON: a host list or http_sd groups) sets the answer;
//!   `PUT /admin/raw` sets raw bytes (e.g. broken JSON).
//! - `PUT /admin/fault` with a [`Fault`] as JSON, `DELETE /admin/fault` clears it.
//! - `GET /admin/stats` answers `{"requests": N}`.
//!
//! With [`MetricsPorts`] it also runs one small `/metrics` endpoint per host on loopback and
//! answers `["127.0.0.1:<port>", ...]`, so an end-to-end test gets real scrapeable targets.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::StreamExt;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A misbehaviour of `GET /inventory`. Fields combine (delay first, then status or body shape).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fault {
    /// Answer this status (with a short text body) instead of the inventory.
    pub status: Option<u16>,
    /// Apply the fault to this many requests only, then behave again (`None`: until cleared).
    pub times: Option<u32>,
    /// Wait this long before answering.
    pub delay_ms: u64,
    /// Send the body chunked (no `Content-Length`) in pieces of this many bytes...
    pub drip_bytes: Option<usize>,
    /// ...waiting this long before each chunk.
    pub drip_interval_ms: u64,
    /// Serve only the first half of the body (complete HTTP response, broken JSON).
    pub truncate: bool,
    /// Announce the full length, send half of the body, then cut the connection.
    pub abort: bool,
    /// Serve a valid JSON array of host names padded to at least this many bytes.
    pub oversize_bytes: Option<usize>,
}

/// Whether and where to run per-host `/metrics` endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsPorts {
    /// Host names `sensor_<i>` with no endpoints.
    None,
    /// One endpoint per host on `127.0.0.1:<start + i>`.
    Range(u16),
    /// One endpoint per host on an ephemeral loopback port.
    Ephemeral,
}

/// How to start the sample server.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    /// Address of the inventory server (port 0: ephemeral).
    pub listen: SocketAddr,
    /// Number of hosts in the default answer.
    pub hosts: usize,
    /// Per-host metrics endpoints.
    pub metrics: MetricsPorts,
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            hosts: 100,
            metrics: MetricsPorts::None,
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    body: Vec<u8>,
    fault: Option<Fault>,
    requests: u64,
    in_flight: u64,
    max_in_flight: u64,
    last_authorization: Option<String>,
}

/// Counts a request as in flight until dropped.
struct InFlight(SharedState);

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut s) = self.0.lock() {
            s.in_flight -= 1;
        }
    }
}

type SharedState = Arc<Mutex<Shared>>;

/// A running sample inventory (stopped when dropped).
#[derive(Debug)]
pub struct SampleInventory {
    addr: SocketAddr,
    shared: SharedState,
    metrics_addrs: Vec<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl SampleInventory {
    /// Starts on an ephemeral loopback port answering `sensor_0..sensor_99`.
    pub async fn start() -> io::Result<Self> {
        Self::start_with(SampleOptions::default()).await
    }

    /// Starts with options.
    pub async fn start_with(opts: SampleOptions) -> io::Result<Self> {
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let mut metrics_addrs = Vec::new();
        let hosts: Vec<String> = match opts.metrics {
            MetricsPorts::None => (0..opts.hosts).map(|i| format!("sensor_{i}")).collect(),
            MetricsPorts::Range(_) | MetricsPorts::Ephemeral => {
                for i in 0..opts.hosts {
                    let port = match opts.metrics {
                        MetricsPorts::Range(start) => u16::try_from(usize::from(start) + i)
                            .map_err(|_| io::Error::other("metrics port range overflows"))?,
                        _ => 0,
                    };
                    let listener =
                        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
                            .await?;
                    metrics_addrs.push(listener.local_addr()?);
                    tasks.push(serve(listener, sensor_router(i), stop_rx.clone()));
                }
                metrics_addrs.iter().map(ToString::to_string).collect()
            }
        };
        let shared = Arc::new(Mutex::new(Shared {
            body: serde_json::to_vec(&hosts).expect("strings serialize"),
            ..Shared::default()
        }));
        let listener = tokio::net::TcpListener::bind(opts.listen).await?;
        let addr = listener.local_addr()?;
        tasks.push(serve(listener, inventory_router(shared.clone()), stop_rx));
        Ok(Self {
            addr,
            shared,
            metrics_addrs,
            stop,
            tasks,
        })
    }

    /// `http://<addr>/inventory`.
    pub fn url(&self) -> String {
        format!("http://{}/inventory", self.addr)
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Addresses of the per-host metrics endpoints (empty without [`MetricsPorts`]).
    pub fn metrics_addrs(&self) -> &[SocketAddr] {
        &self.metrics_addrs
    }

    /// Answers this list of host names from now on.
    pub fn set_hosts<S: AsRef<str>>(&self, hosts: impl IntoIterator<Item = S>) {
        let list: Vec<String> = hosts.into_iter().map(|h| h.as_ref().to_owned()).collect();
        self.set_raw(hosts_json(list));
    }

    /// Answers this JSON value from now on.
    pub fn set_json(&self, value: &serde_json::Value) {
        self.set_raw(serde_json::to_vec(value).expect("values serialize"));
    }

    /// Answers these raw bytes from now on.
    pub fn set_raw(&self, body: impl Into<Vec<u8>>) {
        self.shared.lock().expect("lock").body = body.into();
    }

    /// Misbehaves from now on (see [`Fault`]).
    pub fn set_fault(&self, fault: Fault) {
        self.shared.lock().expect("lock").fault = Some(fault);
    }

    /// Behaves again.
    pub fn clear_fault(&self) {
        self.shared.lock().expect("lock").fault = None;
    }

    /// `GET /inventory` requests served so far.
    pub fn requests(&self) -> u64 {
        self.shared.lock().expect("lock").requests
    }

    /// Most `GET /inventory` requests ever handled at the same time.
    pub fn max_in_flight(&self) -> u64 {
        self.shared.lock().expect("lock").max_in_flight
    }

    /// The `Authorization` header of the last inventory request.
    pub fn last_authorization(&self) -> Option<String> {
        self.shared.lock().expect("lock").last_authorization.clone()
    }

    /// Stops every server.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for SampleInventory {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
    })
}

fn inventory_router(shared: SharedState) -> Router {
    Router::new()
        .route("/inventory", get(inventory))
        .route(
            "/admin/inventory",
            axum::routing::put(|State(s): State<SharedState>, body: Bytes| async move {
                if serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
                    return (
                        StatusCode::BAD_REQUEST,
                        "body is not JSON (use /admin/raw)\n",
                    )
                        .into_response();
                }
                s.lock().expect("lock").body = body.to_vec();
                StatusCode::NO_CONTENT.into_response()
            }),
        )
        .route(
            "/admin/raw",
            axum::routing::put(|State(s): State<SharedState>, body: Bytes| async move {
                s.lock().expect("lock").body = body.to_vec();
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/admin/fault",
            axum::routing::put(
                |State(s): State<SharedState>, Json(fault): Json<Fault>| async move {
                    s.lock().expect("lock").fault = Some(fault);
                    StatusCode::NO_CONTENT
                },
            )
            .delete(|State(s): State<SharedState>| async move {
                s.lock().expect("lock").fault = None;
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/admin/stats",
            get(|State(s): State<SharedState>| async move {
                Json(serde_json::json!({"requests": s.lock().expect("lock").requests}))
            }),
        )
        .with_state(shared)
}

async fn inventory(State(shared): State<SharedState>, headers: HeaderMap) -> Response {
    let (body, fault) = {
        let mut s = shared.lock().expect("lock");
        s.requests += 1;
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        s.last_authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let fault = s.fault.clone();
        if let Some(f) = &mut s.fault {
            match f.times {
                Some(0) | Some(1) => s.fault = None,
                Some(n) => f.times = Some(n - 1),
                None => {}
            }
        }
        (s.body.clone(), fault.filter(|f| f.times != Some(0)))
    };
    let _in_flight = InFlight(shared.clone());
    let Some(fault) = fault else {
        return json_response(Body::from(body), None);
    };
    if fault.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
    }
    if let Some(status) = fault.status {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, "injected fault\n").into_response();
    }
    let mut body = match fault.oversize_bytes {
        Some(size) => oversized(size),
        None => body,
    };
    if fault.truncate {
        body.truncate(body.len() / 2);
    }
    if fault.abort {
        let full = body.len();
        let half = body[..full / 2].to_vec();
        let stream = futures_util::stream::iter([
            Ok::<_, io::Error>(half),
            Err(io::Error::other("injected abort")),
        ]);
        return json_response(Body::from_stream(stream), Some(full));
    }
    if let Some(chunk) = fault.drip_bytes.filter(|c| *c > 0) {
        let interval = Duration::from_millis(fault.drip_interval_ms);
        let chunks: Vec<Vec<u8>> = body.chunks(chunk).map(<[u8]>::to_vec).collect();
        let stream = futures_util::stream::iter(chunks).then(move |c| async move {
            tokio::time::sleep(interval).await;
            Ok::<_, io::Error>(c)
        });
        // No Content-Length: chunked encoding, so only the streaming size check can stop it.
        return json_response(Body::from_stream(stream), None);
    }
    json_response(Body::from(body), None)
}

fn json_response(body: Body, content_length: Option<usize>) -> Response {
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    if let Some(len) = content_length {
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, len.into());
    }
    resp
}

/// A valid JSON array of host names of at least `size` bytes.
fn oversized(size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 32);
    out.push(b'[');
    let mut i = 0u64;
    while out.len() < size {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(format!("\"padding_host_{i}\"").as_bytes());
        i += 1;
    }
    out.push(b']');
    out
}

fn hosts_json(hosts: Vec<String>) -> Vec<u8> {
    serde_json::to_vec(&hosts).expect("strings serialize")
}

/// `/metrics` of one fake sensor, exposed through `prometheus-client`.
fn sensor_router(index: usize) -> Router {
    let mut registry = Registry::default();
    let temperature: Gauge<f64, std::sync::atomic::AtomicU64> = Gauge::default();
    temperature.set(20.0 + (index % 10) as f64);
    registry.register(
        "sensor_temperature_celsius",
        "Temperature measured by the sample sensor",
        temperature,
    );
    let registry = Arc::new(registry);
    Router::new().route(
        "/metrics",
        get(move || {
            let registry = registry.clone();
            async move {
                let mut text = String::new();
                let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
                ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text)
            }
        }),
    )
}

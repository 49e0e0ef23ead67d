//! A blocking client for Pebble's HTTP API over its Unix socket: transport, envelopes, layers,
//! services, changes, checks and signals. Files live in [`crate::files`], exec in
//! [`crate::exec`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use tokio::runtime::Runtime;

use crate::error::Error;
use crate::layer::{CheckLevel, Layer, Plan};
use crate::types::{from_result, Answer, Change, CheckInfo, Envelope, ServiceInfo, SystemInfo};

/// Any host works over the Unix socket.
const BASE_URL: &str = "http://localhost";
/// Per-request timeout unless [`Client::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A blocking Pebble client bound to one socket (one workload container).
///
/// Its requests run on a single-threaded runtime of its own that the calling thread drives
/// for the length of each call: no thread is started and no request is handed to another
/// one (a hook makes a dozen requests and exits: the thread of reqwest's blocking client held
/// a fifth of a join's samples, BENCHMARKS.md "Session 28"). Like any blocking client it must
/// not be called from within an async runtime.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
    timeout: Duration,
    http: reqwest::Client,
    runtime: Arc<Runtime>,
}

/// A whole answer: status, content type and body.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) body: Bytes,
}

impl Client {
    /// A client for the socket at `socket_path`, with a 5 s request timeout. Nothing is
    /// connected until the first call.
    pub fn new(socket_path: impl Into<PathBuf>) -> Client {
        let socket = socket_path.into();
        let http = build_http(&socket, DEFAULT_TIMEOUT);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            // An epoll instance and an eventfd: only a process out of file descriptors fails.
            .expect("building the Pebble client's runtime");
        Client {
            socket,
            timeout: DEFAULT_TIMEOUT,
            http,
            runtime: Arc::new(runtime),
        }
    }

    /// The same client with another per-request timeout (change waits are cut into slices a
    /// second shorter than this).
    pub fn with_timeout(self, timeout: Duration) -> Client {
        Client {
            http: build_http(&self.socket, timeout),
            timeout,
            socket: self.socket,
            runtime: self.runtime,
        }
    }

    /// The socket this client talks to.
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `GET /v1/system-info`; succeeding means the container is reachable.
    pub fn system_info(&self) -> Result<SystemInfo, Error> {
        let result = self.sync(Method::GET, "/v1/system-info", &[], None)?;
        from_result("system-info", result)
    }

    /// The combined plan (`GET /v1/plan?format=yaml`, parsed).
    pub fn get_plan(&self) -> Result<Plan, Error> {
        let result = self.sync(Method::GET, "/v1/plan", &[("format", "yaml")], None)?;
        let yaml: String = from_result("plan", result)?;
        Layer::from_yaml(&yaml).map_err(|e| Error::Protocol(format!("plan: {e}")))
    }

    /// Adds a layer (`POST /v1/layers`). With `combine`, a layer with the same label is
    /// combined into in place; without, the label must be new. Services are not restarted.
    pub fn add_layer(&self, label: &str, layer: &Layer, combine: bool) -> Result<(), Error> {
        let body = json!({
            "action": "add",
            "combine": combine,
            "label": label,
            "format": "yaml",
            "layer": layer.to_yaml(),
        });
        self.sync(Method::POST, "/v1/layers", &[], Some(&body))?;
        Ok(())
    }

    /// Replan: restart running services whose definition changed and start enabled services
    /// that are not running; waits up to `timeout` for the change.
    pub fn replan(&self, timeout: Duration) -> Result<Change, Error> {
        self.services_action("replan", &[], timeout)
    }

    /// Starts services (and what they require) and waits for the change.
    pub fn start_services(&self, names: &[&str], timeout: Duration) -> Result<Change, Error> {
        self.services_action("start", names, timeout)
    }

    /// Stops services (and their dependents) and waits for the change.
    pub fn stop_services(&self, names: &[&str], timeout: Duration) -> Result<Change, Error> {
        self.services_action("stop", names, timeout)
    }

    /// Stops (if running) and starts services and waits for the change.
    pub fn restart_services(&self, names: &[&str], timeout: Duration) -> Result<Change, Error> {
        self.services_action("restart", names, timeout)
    }

    fn services_action(
        &self,
        action: &str,
        names: &[&str],
        timeout: Duration,
    ) -> Result<Change, Error> {
        let body = if action == "replan" {
            json!({ "action": action })
        } else {
            json!({ "action": action, "services": names })
        };
        let change = self
            .start_change(Method::POST, "/v1/services", Some(&body))?
            .0;
        self.wait_change(&change, timeout)
    }

    /// Service states sorted by name; an empty `names` means all services.
    pub fn services(&self, names: &[&str]) -> Result<Vec<ServiceInfo>, Error> {
        let joined = names.join(",");
        let query: &[(&str, &str)] = if names.is_empty() {
            &[]
        } else {
            &[("names", &joined)]
        };
        let result = self.sync(Method::GET, "/v1/services", query, None)?;
        from_result("services", result)
    }

    /// One change, without waiting.
    pub fn get_change(&self, id: &str) -> Result<Change, Error> {
        let result = self.sync(Method::GET, &format!("/v1/changes/{id}"), &[], None)?;
        from_result("change", result)
    }

    /// Waits for a change to finish, re-asking in slices of (request timeout − 1 s) while
    /// Pebble answers 504, up to `timeout` in all. A change that finished with an error gives
    /// [`Error::ChangeFailed`].
    pub fn wait_change(&self, id: &str, timeout: Duration) -> Result<Change, Error> {
        let deadline = Instant::now() + timeout;
        let max_slice = self
            .timeout
            .saturating_sub(Duration::from_secs(1))
            .max(Duration::from_secs(1));
        let path = format!("/v1/changes/{id}/wait");
        let mut remaining = timeout;
        loop {
            if remaining < Duration::from_millis(1) {
                return Err(Error::Timeout {
                    what: format!("change {id} after {}", go_duration(timeout)),
                });
            }
            let slice = remaining.min(max_slice);
            let request = self
                .request(
                    Method::GET,
                    &path,
                    &[("timeout", &go_duration(slice))],
                    None,
                )
                .timeout(slice + self.timeout);
            match self
                .execute(request)
                .and_then(|(s, b)| Envelope::decode(s, &b))
            {
                Ok(Answer::Sync(result)) => {
                    let change: Change = from_result("change", result)?;
                    return match change.err.as_deref() {
                        Some(err) if !err.is_empty() => Err(Error::ChangeFailed {
                            id: change.id,
                            kind: change.kind,
                            err: err.to_string(),
                        }),
                        _ => Ok(change),
                    };
                }
                Ok(Answer::Async { .. }) => {
                    return Err(Error::Protocol("async answer to a change wait".into()))
                }
                Err(Error::Api {
                    status_code: 504, ..
                }) => remaining = deadline.saturating_duration_since(Instant::now()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Check states, optionally filtered by level and names. The level filter is exact: `ready`
    /// lists only ready-level checks (unlike [`Client::health`], where `ready` includes alive).
    pub fn checks(
        &self,
        level: Option<CheckLevel>,
        names: &[&str],
    ) -> Result<Vec<CheckInfo>, Error> {
        let joined = names.join(",");
        let mut query = Vec::new();
        if let Some(level) = level {
            query.push((
                "level",
                match level {
                    CheckLevel::Alive => "alive",
                    CheckLevel::Ready => "ready",
                },
            ));
        }
        if !names.is_empty() {
            query.push(("names", joined.as_str()));
        }
        let result = self.sync(Method::GET, "/v1/checks", &query, None)?;
        // Older Pebbles answer null instead of [].
        if result.is_null() {
            return Ok(Vec::new());
        }
        from_result("checks", result)
    }

    /// Starts checks (`POST /v1/checks`, action `start`); returns the names that were not
    /// running before. A name missing from the plan is an API error (400) and starts nothing.
    pub fn start_checks(&self, names: &[&str]) -> Result<Vec<String>, Error> {
        self.check_action("start", names)
    }

    /// Stops checks (`POST /v1/checks`, action `stop`); returns the names that were running.
    /// Pebble never stops a running check by itself when a layer marks it `startup: disabled`
    /// (replan only starts checks): stopping it is the caller's job. A stopped check is
    /// `inactive` and no longer counts towards health.
    pub fn stop_checks(&self, names: &[&str]) -> Result<Vec<String>, Error> {
        self.check_action("stop", names)
    }

    fn check_action(&self, action: &str, names: &[&str]) -> Result<Vec<String>, Error> {
        #[derive(serde::Deserialize)]
        struct Changed {
            #[serde(default)]
            changed: Vec<String>,
        }
        let body = json!({ "action": action, "checks": names });
        let result = self.sync(Method::POST, "/v1/checks", &[], Some(&body))?;
        Ok(from_result::<Changed>("checks", result)?.changed)
    }

    /// Whether every check of `level` and below is up (`GET /v1/health?level=`, all checks
    /// when `None`). Pebble answers 502 with `healthy: false` when one is down; with `ready`
    /// this is what the pod's Kubernetes readiness probe sees.
    pub fn health(&self, level: Option<CheckLevel>) -> Result<bool, Error> {
        #[derive(serde::Deserialize)]
        struct Health {
            healthy: bool,
        }
        let query: &[(&str, &str)] = match level {
            None => &[],
            Some(CheckLevel::Alive) => &[("level", "alive")],
            Some(CheckLevel::Ready) => &[("level", "ready")],
        };
        let result = self.sync(Method::GET, "/v1/health", query, None)?;
        Ok(from_result::<Health>("health", result)?.healthy)
    }

    /// Sends a signal (e.g. `SIGHUP`) to the processes of running services.
    pub fn send_signal(&self, signal: &str, services: &[&str]) -> Result<(), Error> {
        let body = json!({ "signal": signal, "services": services });
        self.sync(Method::POST, "/v1/signals", &[], Some(&body))?;
        Ok(())
    }

    // ---- transport -------------------------------------------------------------------------

    /// A request accepting JSON (with a JSON body when given).
    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> RequestBuilder {
        self.request_accepting(method, path, query, body, "application/json")
    }

    /// A request with one `Accept` header (Pebble reads only the first).
    pub(crate) fn request_accepting(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        accept: &str,
    ) -> RequestBuilder {
        let url = format!("{BASE_URL}{path}");
        // `parse_with_params` with no pairs would leave a bare `?`.
        let url = if query.is_empty() {
            reqwest::Url::parse(&url)
        } else {
            reqwest::Url::parse_with_params(&url, query)
        }
        .expect("API paths and query pairs always form a valid URL");
        let mut request = self
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT, accept);
        if let Some(body) = body {
            request = request.json(body);
        }
        request
    }

    /// Sends a request and reads the whole body.
    pub(crate) fn execute(&self, request: RequestBuilder) -> Result<(u16, Bytes), Error> {
        let reply = self.fetch(request)?;
        Ok((reply.status, reply.body))
    }

    /// Sends a request and reads the whole answer, mapping transport failures to [`Error`].
    pub(crate) fn fetch(&self, request: RequestBuilder) -> Result<Reply, Error> {
        self.block_on(async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let body = response.bytes().await?;
            Ok(Reply {
                status,
                content_type,
                body,
            })
        })
        .map_err(|e| self.transport_error(e))
    }

    /// Runs `future` to completion on the client's runtime, on the calling thread.
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    fn transport_error(&self, e: reqwest::Error) -> Error {
        // A request with a streamed body (a multipart push) can fail while sending rather than
        // while connecting when the socket is gone: probe the socket to tell the two apart.
        let socket_down = || std::os::unix::net::UnixStream::connect(&self.socket).is_err();
        if e.is_connect() || (!e.is_timeout() && socket_down()) {
            Error::Connect {
                socket: self.socket.clone(),
                reason: error_chain(&e),
            }
        } else if e.is_timeout() {
            Error::Timeout {
                what: format!("request to {}", e.url().map_or("Pebble", |u| u.path())),
            }
        } else {
            Error::Protocol(error_chain(&e))
        }
    }

    /// A call that must answer `sync`; returns its result.
    pub(crate) fn sync(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, Error> {
        let (status, bytes) = self.execute(self.request(method, path, query, body))?;
        match Envelope::decode(status, &bytes)? {
            Answer::Sync(result) => Ok(result),
            Answer::Async { change, .. } => Err(Error::Protocol(format!(
                "{path} started change {change} where a direct answer was expected"
            ))),
        }
    }

    /// A call that must answer `async`; returns the change id and the result.
    pub(crate) fn start_change(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(String, Value), Error> {
        let (status, bytes) = self.execute(self.request(method, path, &[], body))?;
        match Envelope::decode(status, &bytes)? {
            Answer::Async { change, result } => Ok((change, result)),
            Answer::Sync(_) => Err(Error::Protocol(format!(
                "{path} answered directly where a change was expected"
            ))),
        }
    }
}

fn build_http(socket: &Path, timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .unix_socket(socket.to_path_buf())
        .timeout(timeout)
        // A new connection per request: a connection Pebble closed after its last answer (an
        // error answered before the body was read, a daemon restarting) is never reused, so a
        // non-idempotent request (exec, a push) is never lost to a stale connection. Over a
        // Unix socket a connection costs microseconds.
        .pool_max_idle_per_host(0)
        .build()
        // Without TLS there is nothing in building a client that can fail at run time.
        .expect("building an HTTP client for a Unix socket")
}

/// The error and its causes on one line (reqwest's own message hides the socket error).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A duration as Go's `time.ParseDuration` reads it: `10s`, `4.5s`, `0.25s`.
pub(crate) fn go_duration(d: Duration) -> String {
    let millis = d.as_millis() as f64 / 1000.0;
    format!("{millis}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_go_durations() {
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_millis(4500)), "4.5s");
        assert_eq!(go_duration(Duration::from_millis(250)), "0.25s");
    }
}

//! A loopback HTTP server standing in for the parts of Prometheus' web API a charm uses:
//! `POST /-/reload`, `GET /-/ready`, `GET /-/healthy`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::runtime::Runtime;

/// How the fake answers `POST /-/reload`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadResponse {
    /// 200 with an empty body, as Prometheus answers a successful reload.
    Ok,
    /// This status and body (Prometheus answers 500 `failed to reload config: …`).
    Status(u16, String),
    /// Wait this long, then answer 200 (for client timeouts).
    Delay(Duration),
}

struct WebState {
    reload_count: usize,
    reload: ReloadResponse,
    ready: bool,
    healthy: bool,
}

type Shared = Arc<Mutex<WebState>>;

fn lock(shared: &Shared) -> MutexGuard<'_, WebState> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// The fake Prometheus web server; stops when dropped.
pub struct FakePrometheusWeb {
    shared: Shared,
    addr: SocketAddr,
    runtime: Option<Runtime>,
}

impl FakePrometheusWeb {
    /// Starts on an ephemeral loopback port: ready, healthy, reloads succeed.
    ///
    /// # Panics
    /// If the runtime or the listening socket cannot be set up.
    pub fn start() -> FakePrometheusWeb {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fake-prometheus-web")
            .enable_all()
            .build()
            .expect("start the fake Prometheus runtime");
        let shared: Shared = Arc::new(Mutex::new(WebState {
            reload_count: 0,
            reload: ReloadResponse::Ok,
            ready: true,
            healthy: true,
        }));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let app = Router::new()
            .route("/-/reload", post(reload).put(reload))
            .route("/-/ready", get(ready))
            .route("/-/healthy", get(healthy))
            .with_state(shared.clone());
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakePrometheusWeb {
            shared,
            addr,
            runtime: Some(runtime),
        }
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The port listened on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// How many `POST /-/reload` requests arrived.
    pub fn reload_count(&self) -> usize {
        lock(&self.shared).reload_count
    }

    /// Sets how later reloads are answered.
    pub fn set_reload_response(&self, response: ReloadResponse) {
        lock(&self.shared).reload = response;
    }

    /// `false` makes `/-/ready` answer 503.
    pub fn set_ready(&self, ready: bool) {
        lock(&self.shared).ready = ready;
    }

    /// `false` makes `/-/healthy` answer 503.
    pub fn set_healthy(&self, healthy: bool) {
        lock(&self.shared).healthy = healthy;
    }
}

impl Drop for FakePrometheusWeb {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn reload(State(shared): State<Shared>) -> Response {
    let response = {
        let mut state = lock(&shared);
        state.reload_count += 1;
        state.reload.clone()
    };
    match response {
        ReloadResponse::Ok => StatusCode::OK.into_response(),
        ReloadResponse::Status(code, body) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        )
            .into_response(),
        ReloadResponse::Delay(delay) => {
            tokio::time::sleep(delay).await;
            StatusCode::OK.into_response()
        }
    }
}

async fn ready(State(shared): State<Shared>) -> Response {
    if lock(&shared).ready {
        (StatusCode::OK, "Prometheus Server is Ready.\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response()
    }
}

async fn healthy(State(shared): State<Shared>) -> Response {
    if lock(&shared).healthy {
        (StatusCode::OK, "Prometheus Server is Healthy.\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http() -> reqwest::blocking::Client {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap()
    }

    #[test]
    fn reload_counts_and_answers_as_scripted() {
        let web = FakePrometheusWeb::start();
        let url = format!("{}/-/reload", web.url());
        assert_eq!(http().post(&url).send().unwrap().status().as_u16(), 200);
        assert_eq!(web.reload_count(), 1);

        web.set_reload_response(ReloadResponse::Status(
            500,
            "failed to reload config: bad".into(),
        ));
        let response = http().post(&url).send().unwrap();
        assert_eq!(response.status().as_u16(), 500);
        assert_eq!(response.text().unwrap(), "failed to reload config: bad");
        assert_eq!(web.reload_count(), 2);

        web.set_reload_response(ReloadResponse::Delay(Duration::from_secs(2)));
        let err = http().post(&url).send().unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert_eq!(web.reload_count(), 3);
    }

    #[test]
    fn ready_and_healthy_follow_their_switches() {
        let web = FakePrometheusWeb::start();
        let get = |path: &str| {
            http()
                .get(format!("{}{path}", web.url()))
                .send()
                .unwrap()
                .status()
                .as_u16()
        };
        assert_eq!(get("/-/ready"), 200);
        assert_eq!(get("/-/healthy"), 200);
        web.set_ready(false);
        web.set_healthy(false);
        assert_eq!(get("/-/ready"), 503);
        assert_eq!(get("/-/healthy"), 503);
        assert_eq!(web.reload_count(), 0);
        assert!(web.url().ends_with(&web.port().to_string()));
    }
}

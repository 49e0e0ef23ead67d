//! The long-running service: poll loop plus HTTP server, stopped gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::config::PollerConfig;
use crate::poller::{PollError, PollSummary, Poller};
use crate::write::WriteError;

/// Errors that stop the service.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The output directory cannot be prepared.
    #[error(transparent)]
    Output(#[from] WriteError),
    /// `--listen` cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// A running poller with its server.
#[derive(Debug)]
pub struct RunningService {
    poller: Arc<Poller>,
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    poll_loop: JoinHandle<()>,
}

impl RunningService {
    /// Where the HTTP server listens (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The shared poller (metrics, health, manual polls).
    pub fn poller(&self) -> &Arc<Poller> {
        &self.poller
    }

    /// Stops the loop (cancelling a cycle in flight; a write already started completes) and
    /// the server, and waits for both.
    pub async fn stop(self) -> Result<(), ServiceError> {
        let _ = self.stop.send(true);
        let _ = self.poll_loop.await;
        match self.server.await {
            Ok(r) => r.map_err(ServiceError::Serve),
            Err(_) => Ok(()),
        }
    }
}

/// Binds `--listen`, loads the last good file and starts polling at once, then every interval.
pub async fn start(config: PollerConfig) -> Result<RunningService, ServiceError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServiceError::Bind {
            addr: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(ServiceError::Serve)?;
    let interval = config.interval;
    tracing::info!(
        url = %config.inventory_url,
        output = %config.output.display(),
        interval = %humantime::format_duration(interval),
        listen = %local_addr,
        "inventory poller starting"
    );
    let poller = Arc::new(Poller::new(config)?);
    let (stop, stop_rx) = watch::channel(false);
    let server = {
        let mut rx = stop_rx.clone();
        let app = crate::server::router(Arc::clone(&poller));
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stopped(&mut rx).await })
                .await
        })
    };
    let poll_loop = tokio::spawn(poll_loop(Arc::clone(&poller), interval, stop_rx));
    Ok(RunningService {
        poller,
        local_addr,
        stop,
        server,
        poll_loop,
    })
}

/// Runs until `shutdown` completes (e.g. [`shutdown_signal`]).
pub async fn run(
    config: PollerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServiceError> {
    let service = start(config).await?;
    shutdown.await;
    tracing::info!("inventory poller stopping");
    service.stop().await
}

/// One poll without server or loop (the `--once` mode).
pub async fn poll_once(config: PollerConfig) -> Result<PollSummary, OnceError> {
    let poller = Arc::new(Poller::new(config)?);
    Ok(poller.poll().await?)
}

/// Errors of [`poll_once`].
#[derive(Debug, thiserror::Error)]
pub enum OnceError {
    /// The output directory cannot be prepared.
    #[error(transparent)]
    Output(#[from] WriteError),
    /// The poll failed (the output is untouched).
    #[error(transparent)]
    Poll(#[from] PollError),
}

/// Completes on SIGTERM (what Pebble sends) or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

async fn stopped(rx: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: stop as well.
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn poll_loop(
    poller: Arc<Poller>,
    interval: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(interval);
    // A cycle longer than the interval delays the next one instead of bunching them up.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => return,
            _ = ticker.tick() => {}
        }
        tokio::select! {
            _ = stopped(&mut stop) => return,
            _ = poller.poll() => {}
        }
    }
}

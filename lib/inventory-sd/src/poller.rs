//! One poll cycle (fetch -> parse -> write if changed), its bookkeeping and the health verdict.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::PollerConfig;
use crate::fetch::{FetchError, Fetcher};
use crate::metrics::{Metrics, PollResult};
use crate::parse::{parse_file_sd, parse_inventory, Inventory, ParseError, ParseOptions};
use crate::write::{FileWriter, WriteError, WriteOutcome};

/// What a successful poll did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PollSummary {
    /// Distinct targets now in the output.
    pub targets: usize,
    /// Entries skipped as invalid addresses.
    pub skipped: u64,
    /// Whether the file was replaced (false: content unchanged).
    pub written: bool,
}

/// A failed poll. The output file is left untouched.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// The HTTP request failed.
    #[error("fetch failed: {0}")]
    Fetch(#[from] FetchError),
    /// The body was refused.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The file could not be written.
    #[error("write failed: {0}")]
    Write(#[from] WriteError),
}

impl PollError {
    /// The `result` label this failure is counted under.
    pub fn result(&self) -> PollResult {
        match self {
            Self::Fetch(e) => e.result(),
            // An inventory of which nothing is valid counts as a malformed one.
            Self::Parse(ParseError::Malformed(_) | ParseError::NothingValid { .. }) => {
                PollResult::malformed
            }
            Self::Parse(ParseError::TooManyTargets { .. }) => PollResult::too_many_targets,
            Self::Write(_) => PollResult::write_error,
        }
    }
}

/// The `/health` verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// 200 when true, 503 when false.
    pub healthy: bool,
    /// One line for humans.
    pub reason: String,
}

#[derive(Debug)]
struct State {
    started: Instant,
    last_success: Option<Instant>,
    failed_since_start: bool,
    consecutive_failures: u64,
    last_error: Option<String>,
    last_skipped: u64,
}

/// Polls the inventory and maintains the output file. Cycles never overlap.
#[derive(Debug)]
pub struct Poller {
    config: PollerConfig,
    fetcher: Fetcher,
    writer: FileWriter,
    metrics: Metrics,
    state: Mutex<State>,
    cycle: tokio::sync::Mutex<()>,
}

impl Poller {
    /// Creates the output directory and loads the existing output as the last good targets.
    pub fn new(config: PollerConfig) -> Result<Self, WriteError> {
        let writer = FileWriter::new(&config.output);
        writer.ensure_dir()?;
        let metrics = Metrics::new();
        match writer.read_current() {
            Ok(Some(content)) => match parse_file_sd(&content) {
                Ok(groups) => {
                    let n: usize = groups.iter().map(|g| g.targets.len()).sum();
                    metrics.targets.set(n as i64);
                    tracing::info!(path = %config.output.display(), targets = n, "loaded the existing file as last good");
                }
                Err(e) => tracing::warn!(path = %config.output.display(), error = %e,
                    "existing file is not valid file_sd JSON; it stays until the next successful poll"),
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the existing output"),
        }
        Ok(Self {
            fetcher: Fetcher::new(&config),
            writer,
            metrics,
            state: Mutex::new(State {
                started: Instant::now(),
                last_success: None,
                failed_since_start: false,
                consecutive_failures: 0,
                last_error: None,
                last_skipped: 0,
            }),
            cycle: tokio::sync::Mutex::new(()),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &PollerConfig {
        &self.config
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Runs one cycle now (waiting for a running one to finish first).
    pub async fn poll(self: &Arc<Self>) -> Result<PollSummary, PollError> {
        let _one_at_a_time = self.cycle.lock().await;
        let start = Instant::now();
        let result = self.cycle_inner().await;
        self.metrics
            .poll_duration
            .observe(start.elapsed().as_secs_f64());
        self.record(&result);
        result
    }

    async fn cycle_inner(self: &Arc<Self>) -> Result<PollSummary, PollError> {
        let body = self.fetcher.fetch().await?;
        // Parsing up to --max-body-bytes and writing are CPU/disk work: keep them off the
        // async workers.
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || this.parse_and_write(&body))
            .await
            .expect("parse/write task does not panic")
    }

    fn parse_and_write(&self, body: &[u8]) -> Result<PollSummary, PollError> {
        let inventory: Inventory = parse_inventory(
            body,
            ParseOptions {
                target_port: self.config.target_port,
                max_targets: self.config.max_targets,
                labels: &self.config.labels,
            },
        )?;
        let outcome = self.writer.write_if_changed(&inventory.render())?;
        self.report_skipped(&inventory);
        Ok(PollSummary {
            targets: inventory.target_count(),
            skipped: inventory.skipped,
            written: outcome == WriteOutcome::Written,
        })
    }

    fn report_skipped(&self, inventory: &Inventory) {
        self.metrics.skipped_entries.inc_by(inventory.skipped);
        let mut state = self.state.lock().expect("state lock");
        if inventory.skipped > 0 && inventory.skipped != state.last_skipped {
            let examples: Vec<String> = inventory
                .skipped_examples
                .iter()
                .map(|s| format!("{:?} ({})", s.entry, s.reason))
                .collect();
            tracing::warn!(
                skipped = inventory.skipped,
                examples = %examples.join(", "),
                "inventory entries skipped: not valid host[:port] addresses"
            );
        }
        state.last_skipped = inventory.skipped;
    }

    fn record(&self, result: &Result<PollSummary, PollError>) {
        let mut state = self.state.lock().expect("state lock");
        match result {
            Ok(summary) => {
                self.metrics.count_poll(PollResult::success);
                self.metrics.targets.set(summary.targets as i64);
                self.metrics.consecutive_failures.set(0);
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                self.metrics.last_success.set(now.as_secs_f64());
                if summary.written {
                    self.metrics.file_writes.inc();
                    tracing::info!(targets = summary.targets, path = %self.config.output.display(), "targets written");
                } else {
                    tracing::debug!(targets = summary.targets, "targets unchanged");
                }
                if state.consecutive_failures > 0 {
                    tracing::info!(
                        failures = state.consecutive_failures,
                        "inventory poll succeeded again"
                    );
                }
                state.last_success = Some(Instant::now());
                state.consecutive_failures = 0;
                state.last_error = None;
            }
            Err(e) => {
                let kind = e.result();
                self.metrics.count_poll(kind);
                state.failed_since_start = true;
                state.consecutive_failures += 1;
                state.last_error = Some(e.to_string());
                self.metrics
                    .consecutive_failures
                    .set(state.consecutive_failures as i64);
                tracing::warn!(
                    url = %self.config.inventory_url,
                    result = ?kind,
                    consecutive_failures = state.consecutive_failures,
                    error = %e,
                    "inventory poll failed; keeping the last good targets"
                );
            }
        }
    }

    /// Healthy while no poll has failed since start, or the last success (or the start, if
    /// none) is younger than `stale_after`.
    pub fn health(&self) -> Health {
        let state = self.state.lock().expect("state lock");
        let since = |t: Instant| humantime::format_duration(round(t.elapsed())).to_string();
        let last = state.last_success.map_or_else(
            || "never since start".to_string(),
            |t| format!("{} ago", since(t)),
        );
        if !state.failed_since_start {
            return Health {
                healthy: true,
                reason: format!("ok: no failed poll since start; last success {last}"),
            };
        }
        let reference = state.last_success.unwrap_or(state.started);
        let healthy = reference.elapsed() < self.config.stale_after;
        let reason = format!(
            "{}: last success {last} (limit {}), {} consecutive failures, last error: {}",
            if healthy { "ok" } else { "stale" },
            humantime::format_duration(self.config.stale_after),
            state.consecutive_failures,
            state.last_error.as_deref().unwrap_or("none"),
        );
        Health { healthy, reason }
    }
}

fn round(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

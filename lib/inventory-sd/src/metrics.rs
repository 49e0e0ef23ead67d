//! The poller's own metrics (OpenMetrics text through `prometheus-client`).
//!
//! No metric carries the inventory URL, so no credential can leak through `/metrics`.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// Content type of the exposition served on `/metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Result of one poll cycle, the `result` label of `inventory_sd_polls_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum PollResult {
    /// Targets parsed (and written if they changed).
    success,
    /// The inventory answered a non-2xx status.
    http_error,
    /// The request or the body took longer than `--timeout`.
    timeout,
    /// Connection refused/reset or the body was cut.
    transport_error,
    /// The body is not a valid inventory.
    malformed,
    /// The body is larger than `--max-body-bytes`.
    too_large,
    /// More targets than `--max-targets`.
    too_many_targets,
    /// The output file could not be written.
    write_error,
}

impl PollResult {
    /// Every value, to expose each counter from the start (at 0).
    pub const ALL: [PollResult; 8] = [
        Self::success,
        Self::http_error,
        Self::timeout,
        Self::transport_error,
        Self::malformed,
        Self::too_large,
        Self::too_many_targets,
        Self::write_error,
    ];
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabels {
    result: PollResult,
}

/// Handles to every metric, plus the registry that encodes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    polls: Family<ResultLabels, Counter>,
    /// Unix time of the last successful poll (0 before the first).
    pub last_success: Gauge<f64, AtomicU64>,
    /// Failed polls since the last success.
    pub consecutive_failures: Gauge,
    /// Targets in the output file (last good).
    pub targets: Gauge,
    /// Inventory entries skipped because they are not valid addresses.
    pub skipped_entries: Counter,
    /// Duration of whole poll cycles (retries included).
    pub poll_duration: Histogram,
    /// Times the output file was replaced.
    pub file_writes: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `inventory_sd_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("inventory_sd");
        let polls = Family::<ResultLabels, Counter>::default();
        for result in PollResult::ALL {
            let _ = polls.get_or_create(&ResultLabels { result });
        }
        let m = Self {
            polls,
            last_success: Gauge::default(),
            consecutive_failures: Gauge::default(),
            targets: Gauge::default(),
            skipped_entries: Counter::default(),
            poll_duration: Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            file_writes: Counter::default(),
            registry: Registry::default(),
        };
        registry.register("polls", "Inventory poll cycles by result", m.polls.clone());
        registry.register(
            "last_success_timestamp_seconds",
            "Unix time of the last successful inventory poll, 0 if none since start",
            m.last_success.clone(),
        );
        registry.register(
            "consecutive_failures",
            "Failed inventory polls since the last success",
            m.consecutive_failures.clone(),
        );
        registry.register(
            "targets",
            "Targets in the file_sd output (the last good inventory)",
            m.targets.clone(),
        );
        registry.register(
            "skipped_entries",
            "Inventory entries skipped because they are not valid host[:port] addresses",
            m.skipped_entries.clone(),
        );
        registry.register(
            "poll_duration_seconds",
            "Duration of inventory poll cycles, retries included",
            m.poll_duration.clone(),
        );
        registry.register(
            "file_writes",
            "Times the file_sd output was replaced",
            m.file_writes.clone(),
        );
        registry.register(
            "build",
            "Build of the inventory poller",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        Self { registry, ..m }
    }

    /// Counts one poll with its result.
    pub fn count_poll(&self, result: PollResult) {
        self.polls.get_or_create(&ResultLabels { result }).inc();
    }

    /// Current value of `inventory_sd_polls_total{result}`.
    pub fn polls(&self, result: PollResult) -> u64 {
        self.polls.get_or_create(&ResultLabels { result }).get()
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_every_name() {
        let m = Metrics::new();
        m.count_poll(PollResult::timeout);
        m.poll_duration.observe(0.2);
        let text = m.encode();
        for name in [
            "inventory_sd_polls_total{result=\"success\"} 0",
            "inventory_sd_polls_total{result=\"timeout\"} 1",
            "inventory_sd_polls_total{result=\"too_large\"} 0",
            "inventory_sd_last_success_timestamp_seconds 0",
            "inventory_sd_consecutive_failures 0",
            "inventory_sd_targets 0",
            "inventory_sd_skipped_entries_total 0",
            "inventory_sd_poll_duration_seconds_bucket{le=\"0.25\"} 1",
            "inventory_sd_file_writes_total 0",
            "inventory_sd_build_info{version=\"",
            "# EOF",
        ] {
            assert!(text.contains(name), "missing {name} in\n{text}");
        }
    }
}

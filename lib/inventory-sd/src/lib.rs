//! The embedded inventory poller: HTTP inventory in, Prometheus file_sd targets out.
//!
//! The charm's `poll` subcommand flattens [`Args`] and calls [`run_cli`]. Under Pebble it runs
//! as service `inventory-sd`: it polls `--inventory-url` every `--interval`, writes
//! `--output` atomically and only on change, keeps the last good file on any failure, and
//! serves `/metrics`, `/health` and `POST /refresh` on `--listen`.
//!
//! The same crate holds [`targets`], the `http_sd` server of the charm's relation jobs
//! (`serve-targets`, Pebble service `relation-targets`).

#![warn(missing_docs)]

pub mod config;
pub mod fetch;
pub mod labels;
pub mod metrics;
pub mod parse;
pub mod poller;
pub mod redact;
#[cfg(feature = "sample")]
pub mod sample;
pub mod server;
pub mod service;
pub mod targets;
pub mod write;

use std::process::ExitCode;

pub use config::{Args, ConfigError, PollerConfig};
pub use poller::{Health, PollError, PollSummary, Poller};
pub use service::{poll_once, run, shutdown_signal, start, RunningService, ServiceError};

/// Runs the `poll` subcommand: the service until SIGTERM, or one poll with `--once` (prints the
/// number of targets on stdout; exit 1 if the poll failed). Exit 2 on a bad configuration.
/// Logging must be set up by the caller (see [`init_tracing`]).
pub fn run_cli(args: &Args) -> ExitCode {
    let config = match PollerConfig::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("inventory-sd: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("inventory-sd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if config.once {
        return match runtime.block_on(poll_once(config)) {
            Ok(summary) => {
                println!("{}", summary.targets);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("inventory-sd: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match runtime.block_on(run(config, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("inventory-sd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr with `RUST_LOG`-style filtering (default `info`); does nothing if a global
/// subscriber is already set.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Pebble keeps service output as plain text: no colour codes unless on a terminal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

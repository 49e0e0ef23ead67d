//! The workload services the charm's binary runs under Pebble, as subcommands: `poll` (the
//! inventory poller) and `serve-targets` (the relation jobs' `http_sd` server). One list, so
//! every binary that stands in for the charm's (the demo's) runs them all.

use std::process::ExitCode;

/// A workload service run by the charm's binary.
#[derive(Debug, clap::Subcommand)]
pub enum ServiceCommand {
    /// Run the inventory poller (Pebble service `inventory-sd` in the workload container).
    Poll(inventory_sd::Args),
    /// Serve the relation jobs' targets to Prometheus' `http_sd` (Pebble service
    /// `relation-targets` in the workload container).
    ServeTargets(inventory_sd::targets::TargetsArgs),
}

impl ServiceCommand {
    /// Runs the service until it is stopped; its exit code.
    pub fn run(&self) -> ExitCode {
        inventory_sd::init_tracing();
        match self {
            ServiceCommand::Poll(args) => inventory_sd::run_cli(args),
            ServiceCommand::ServeTargets(args) => inventory_sd::targets::run_cli(args),
        }
    }
}

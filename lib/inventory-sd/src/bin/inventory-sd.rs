//! Standalone poller, the same code as the charm's `poll` subcommand (for demos and tests).

use clap::Parser;

/// Polls an HTTP inventory and writes a Prometheus file_sd JSON file atomically.
#[derive(Debug, Parser)]
#[command(name = "inventory-sd", version)]
struct Cli {
    #[command(flatten)]
    args: inventory_sd::Args,
}

fn main() -> std::process::ExitCode {
    inventory_sd::init_tracing();
    inventory_sd::run_cli(&Cli::parse().args)
}

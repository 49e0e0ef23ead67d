//! The charm driven through a deployment on this machine, without Juju or Kubernetes:
//! `cargo run --release --example demo`. The harness plays Juju and Pebble; the real Prometheus
//! and the real inventory poller run on loopback (see `charm_sim::demo`). Test support, so an
//! example rather than a subcommand of the shipped binary.

use std::process::ExitCode;

use charm_sim::demo::DemoArgs;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "demo",
    about = "Drive the charm through a deployment on this machine"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    demo: DemoArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The inventory poller, as the charm binary's `poll` (the demo's Pebble service runs it).
    #[command(hide = true)]
    Poll(inventory_sd::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Poll(args)) => {
            inventory_sd::init_tracing();
            inventory_sd::run_cli(&args)
        }
        None => charm_sim::demo::run(&cli.demo),
    }
}

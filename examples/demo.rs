//! The charm driven through a deployment on this machine, without Juju or Kubernetes:
//! `cargo run --release --example demo`. The harness plays Juju and Pebble; the real Prometheus
//! and the real inventory poller run on loopback (see `charm_sim::demo`). Test support, so an
//! example rather than a subcommand of the shipped binary.

use std::process::ExitCode;

use charm_sim::demo::DemoArgs;
use clap::Parser;
use prometheus_rs_k8s::cli::services::ServiceCommand;

#[derive(Debug, Parser)]
#[command(
    name = "demo",
    about = "Drive the charm through a deployment on this machine"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    /// The charm binary's workload services: the demo's Pebble runs this binary in its place.
    #[command(subcommand)]
    command: Option<ServiceCommand>,
    #[command(flatten)]
    demo: DemoArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(service) => service.run(),
        None => charm_sim::demo::run(&cli.demo),
    }
}

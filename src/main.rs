//! prometheus-rs-k8s: a Juju Kubernetes sidecar charm for Prometheus.
//!
//! One binary, several roles: without arguments it handles the Juju event described by the
//! environment (Juju runs it through `dispatch`); `poll` is the inventory poller that runs as a
//! Pebble service in the workload container, and `serve-targets` the `http_sd` server of the
//! relation jobs beside it; `render` shows what the charm would apply for a
//! model snapshot.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use juju_hook::{CachedHookTools, HookContext, HookTools, LogLevel, ProcessHookTools};
use prometheus_rs_k8s::cli::render::{self, RenderArgs};
use prometheus_rs_k8s::cli::services::ServiceCommand;
use prometheus_rs_k8s::effects::access::WorkloadAccess;
use prometheus_rs_k8s::effects::charm_tracing;
use prometheus_rs_k8s::hook::databag_cache;
use prometheus_rs_k8s::hook::dispatch::handle_event;

#[derive(Debug, Parser)]
#[command(name = "prometheus-rs-k8s", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Handle the Juju event described by the JUJU_* environment (the default).
    Hook,
    #[command(flatten)]
    Service(ServiceCommand),
    /// Print what the charm would apply for a model snapshot, without a cluster.
    Render(RenderArgs),
}

// The static musl build takes its memcpy, memmove, memcmp and bcmp from lib/fast-mem rather
// than from musl (a hook spent a fifth of its time in musl's memcpy; BENCHMARKS.md, "Session
// 25"). The crate only has to be linked.
#[cfg(all(target_arch = "x86_64", target_env = "musl"))]
use fast_mem as _;

fn main() -> ExitCode {
    #[cfg(feature = "mimalloc")]
    prometheus_rs_k8s::allocator::configure();
    // `dispatch` runs the binary without arguments for every event: that path does not build
    // the parser of every subcommand's options (3 % of a join's CPU at 2000x5, BENCHMARKS.md
    // "Sessions 26–27"); with none, clap would choose `Hook` too.
    let command = if std::env::args_os().len() > 1 {
        Cli::parse().command
    } else {
        None
    };
    let code = match command.unwrap_or(Command::Hook) {
        Command::Hook => run_hook(),
        Command::Service(service) => service.run(),
        Command::Render(args) => render::run(&args),
    };
    #[cfg(feature = "mimalloc")]
    prometheus_rs_k8s::allocator::before_exit();
    code
}

fn run_hook() -> ExitCode {
    let ctx = match HookContext::from_env() {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("prometheus-rs-k8s: {e}");
            return ExitCode::from(2);
        }
    };
    // Juju logs a hook's stdout at DEBUG: cheap, and nothing is lost when the hook succeeds.
    // With a charm-tracing receiver remembered, the hook's spans go there too.
    let telemetry = charm_tracing::init_hook_telemetry(&ctx);
    let process_tools = ProcessHookTools::new();
    // Relation databags come from the cache when nothing says they changed (saved only if
    // the hook succeeds); see `databag_cache`.
    let tools = CachedHookTools::open(&ctx, &process_tools, &databag_cache::settings());
    let result = handle_event(&ctx, &tools, &WorkloadAccess::from_env());
    tools.finish(result.is_ok());
    telemetry.finish();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let message = format!("{} failed: {e:#}", ctx.event.name());
            eprintln!("{message}");
            let _ = process_tools.juju_log(LogLevel::Error, &message);
            ExitCode::FAILURE
        }
    }
}

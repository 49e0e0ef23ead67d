//! Sample inventory server for demos and end-to-end tests (see `inventory_sd::sample`).

use std::net::SocketAddr;

use clap::Parser;
use inventory_sd::sample::{MetricsPorts, SampleInventory, SampleOptions};

/// Serves `GET /inventory` (default `["sensor_0", ..., "sensor_99"]`) plus an admin API to
/// change the answer and inject faults.
#[derive(Debug, Parser)]
#[command(name = "sample-inventory", version)]
struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:1337")]
    listen: SocketAddr,
    /// Number of hosts answered.
    #[arg(long, default_value_t = 100)]
    hosts: usize,
    /// Also serve `/metrics` per host on loopback and answer `127.0.0.1:<port>` entries:
    /// `START..END` (inclusive; its length sets the number of hosts) or `auto` (ephemeral ports).
    #[arg(long)]
    metrics_ports: Option<String>,
}

fn parse_ports(spec: &str, hosts: usize) -> Result<(MetricsPorts, usize), String> {
    if spec == "auto" {
        return Ok((MetricsPorts::Ephemeral, hosts));
    }
    let (a, b) = spec
        .split_once("..")
        .ok_or_else(|| format!("`{spec}` is not START..END or auto"))?;
    let a: u16 = a.parse().map_err(|e| format!("bad start port: {e}"))?;
    let b: u16 = b
        .trim_start_matches('=')
        .parse()
        .map_err(|e| format!("bad end port: {e}"))?;
    if b < a || a == 0 {
        return Err(format!("bad port range {a}..{b}"));
    }
    Ok((MetricsPorts::Range(a), usize::from(b - a) + 1))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    inventory_sd::init_tracing();
    let cli = Cli::parse();
    let (metrics, hosts) = match cli.metrics_ports.as_deref() {
        None => (MetricsPorts::None, cli.hosts),
        Some(spec) => match parse_ports(spec, cli.hosts) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("sample-inventory: {e}");
                return std::process::ExitCode::from(2);
            }
        },
    };
    let server = match SampleInventory::start_with(SampleOptions {
        listen: cli.listen,
        hosts,
        metrics,
    })
    .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sample-inventory: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("{}", server.url());
    inventory_sd::shutdown_signal().await;
    server.stop().await;
    std::process::ExitCode::SUCCESS
}

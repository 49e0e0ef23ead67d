//! `cargo run -p xtask -- <task>`: developer tasks of the prometheus-rs-k8s charm.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::{build_release_binary, pack, workspace_dir, ElfKind, PackOptions};

#[derive(Parser)]
#[command(
    name = "xtask",
    about = "Developer tasks of the prometheus-rs-k8s charm"
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build the .charm archive (what `charmcraft pack` builds, without charmcraft).
    Pack {
        /// Ship this binary instead of building the static release binary.
        #[arg(long)]
        binary: Option<PathBuf>,
        /// Write the archive here (default: <repository>/prometheus-rs-k8s_amd64.charm).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The repository to pack (default: the one this xtask belongs to).
        #[arg(long)]
        project_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.task {
        Task::Pack {
            binary,
            out,
            project_dir,
        } => {
            let project_dir = project_dir.unwrap_or_else(workspace_dir);
            let binary = match binary {
                Some(path) => path,
                None => match build_release_binary(&project_dir) {
                    Ok(path) => path,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                },
            };
            let mut options = PackOptions::new(project_dir, binary);
            options.out = out;
            match pack(&options) {
                Ok(report) => {
                    for (name, mode) in &report.entries {
                        println!("  {mode:04o}  {name}");
                    }
                    println!("packed {} ({} bytes)", report.path.display(), report.size);
                    if report.binary == ElfKind::Dynamic {
                        eprintln!(
                            "warning: {} is dynamically linked; the charm and workload containers \
                             must provide its libc (build without --binary for a static one)",
                            options.binary.display()
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

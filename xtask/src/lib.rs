//! Developer tasks for the prometheus-rs-k8s charm.
//!
//! The one task so far is `pack`: build the `.charm` archive Juju deploys, the same files
//! `charmcraft pack` produces from `charmcraft.yaml`, without charmcraft or a build container.
//! A `.charm` is a zip whose root holds `dispatch` (run by Juju for every event), the charm's
//! binary, metadata.yaml, config.yaml, actions.yaml and manifest.yaml.

mod archive;
mod build;
mod elf;
mod manifest;
mod recipe;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use archive::{unpack, Entry, EntrySource, ZipSettings};
pub use build::{build_release_binary, musl_compiler_available, MUSL_TARGET};
pub use elf::{inspect_elf, ElfKind};
pub use manifest::{render_manifest, PACKER_VERSION};
pub use recipe::{Recipe, RunBase};

/// Name of the charm's binary, at the root of the charm and in the workspace.
pub const BINARY_NAME: &str = "prometheus-rs-k8s";
/// Where the dispatch script lives in the repository.
pub const DISPATCH_SOURCE: &str = "charm/dispatch";

/// Why packing failed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        source: std::io::Error,
    },
    /// charmcraft.yaml or metadata.yaml is missing something the archive needs.
    #[error("{path}: {reason}")]
    Recipe {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The binary to ship is not a Linux executable.
    #[error("{path} is not an ELF executable")]
    NotElf {
        /// The file.
        path: PathBuf,
    },
    /// The zip library failed.
    #[error("cannot write {path}: {source}")]
    Zip {
        /// The archive.
        path: PathBuf,
        /// What happened.
        source: zip::result::ZipError,
    },
    /// manifest.yaml could not be rendered.
    #[error("cannot render manifest.yaml: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    /// `cargo build` failed or did not report the binary.
    #[error("cargo build failed: {0}")]
    Build(String),
}

impl PackError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What to pack.
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// The repository root: charmcraft.yaml, metadata.yaml, config.yaml, actions.yaml,
    /// README.md, LICENSE (optional) and `charm/dispatch`.
    pub project_dir: PathBuf,
    /// The charm binary to ship (normally a static musl build, see [`build_release_binary`]).
    pub binary: PathBuf,
    /// The archive to write; `None` = `<project_dir>/<name>_<platform>.charm`.
    pub out: Option<PathBuf>,
    /// Recorded as `charmcraft-started-at` in manifest.yaml and as every entry's time.
    pub started_at: SystemTime,
    /// Deflate the entries (default). Tests of large debug binaries turn it off for speed.
    pub compress: bool,
}

impl PackOptions {
    /// Packs `binary` from the project at `project_dir`, into the default path, stamped now.
    pub fn new(project_dir: impl Into<PathBuf>, binary: impl Into<PathBuf>) -> Self {
        Self {
            project_dir: project_dir.into(),
            binary: binary.into(),
            out: None,
            started_at: SystemTime::now(),
            compress: true,
        }
    }
}

/// What [`pack`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackReport {
    /// The archive.
    pub path: PathBuf,
    /// Entry names in archive order, with their Unix modes.
    pub entries: Vec<(String, u32)>,
    /// Whether the shipped binary needs a dynamic loader (it then depends on the libc of the
    /// charm and workload containers).
    pub binary: ElfKind,
    /// Archive size in bytes.
    pub size: u64,
}

/// The workspace this crate belongs to (the repository root).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in a subdirectory of the workspace")
        .to_path_buf()
}

/// The entries of the charm, in archive order.
pub fn charm_entries(options: &PackOptions, recipe: &Recipe) -> Result<Vec<Entry>, PackError> {
    let dir = &options.project_dir;
    let mut entries = vec![
        Entry::file("dispatch", dir.join(DISPATCH_SOURCE), 0o755),
        Entry::file(BINARY_NAME, options.binary.clone(), 0o755),
    ];
    for name in ["metadata.yaml", "config.yaml", "actions.yaml"] {
        entries.push(Entry::file(name, dir.join(name), 0o644));
    }
    entries.push(Entry::bytes(
        "manifest.yaml",
        render_manifest(recipe, options.started_at)?.into_bytes(),
        0o644,
    ));
    entries.push(Entry::file("README.md", dir.join("README.md"), 0o644));
    let license = dir.join("LICENSE");
    if license.is_file() {
        entries.push(Entry::file("LICENSE", license, 0o644));
    }
    Ok(entries)
}

/// Builds the `.charm` archive. The archive appears only once complete (written beside the
/// target, then renamed).
pub fn pack(options: &PackOptions) -> Result<PackReport, PackError> {
    let recipe = Recipe::load(&options.project_dir)?;
    let binary = inspect_elf(&options.binary)?;
    let entries = charm_entries(options, &recipe)?;
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| options.project_dir.join(recipe.charm_file_name()));
    let settings = ZipSettings {
        compress: options.compress,
        modified: options.started_at,
    };
    let size = archive::write_zip(&out, &entries, settings)?;
    Ok(PackReport {
        path: out,
        entries: entries.iter().map(|e| (e.name.clone(), e.mode)).collect(),
        binary,
        size,
    })
}

//! Juju's flags for each hook tool, declared for clap.

use clap::{ArgAction, Parser, ValueEnum};

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(super) enum Format {
    #[default]
    Smart,
    Yaml,
    Json,
}

/// Go's `strconv.ParseBool`, which Juju's boolean flags use (`--application=False`).
pub(super) fn go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("invalid boolean value {s:?}")),
    }
}

#[derive(Parser)]
#[command(no_binary_name = true)]
pub(super) struct ConfigGetArgs {
    #[arg(long, value_enum, default_value = "smart")]
    pub(super) format: Format,
    #[arg(short = 'a', long)]
    pub(super) all: bool,
    pub(super) key: Option<String>,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
pub(super) struct FormatOnlyArgs {
    #[arg(long, value_enum, default_value = "smart")]
    pub(super) format: Format,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
pub(super) struct RelationIdsArgs {
    #[arg(long, value_enum, default_value = "smart")]
    pub(super) format: Format,
    pub(super) endpoint: Option<String>,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
pub(super) struct RelationListArgs {
    #[arg(long, value_enum, default_value = "smart")]
    pub(super) format: Format,
    #[arg(short = 'r', long = "relation")]
    pub(super) relation: Option<String>,
    /// Go-style boolean flag: `--app` or `--app=<bool>`.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = go_bool)]
    pub(super) app: bool,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
pub(super) struct RelationGetArgs {
    #[arg(long, value_enum, default_value = "smart")]
    pub(super) format: Format,
    #[arg(short = 'r', long = "relation")]
    pub(super) relation: Option<String>,
    /// Go-style boolean flag: `--app` or `--app=<bool>`.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = go_bool)]
    pub(super) app: bool,
    pub(super) args: Vec<String>,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
pub(super) struct RelationSetArgs {
    #[arg(long, value_enum)]
    pub(super) format: Option<Format>,
    #[arg(short = 'r', long = "relation")]
    pub(super) relation: Option<String>,
    /// Go-style boolean flag: `--app` or `--app=<bool>`.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = go_bool)]
    pub(super) app: bool,
    #[arg(long)]
    pub(super) file: Option<String>,
    pub(super) pairs: Vec<String>,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
pub(super) struct StatusSetArgs {
    /// Go-style boolean flag: `--application` or `--application=<bool>`.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = go_bool)]
    pub(super) application: bool,
    pub(super) args: Vec<String>,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
pub(super) struct StatusGetArgs {
    #[arg(long, value_enum, default_value = "smart")]
    pub(super) format: Format,
    /// Go-style boolean flag: `--application` or `--application=<bool>`.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = go_bool)]
    pub(super) application: bool,
    #[arg(long)]
    pub(super) include_data: bool,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
pub(super) struct MessageArgs {
    pub(super) args: Vec<String>,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
pub(super) struct JujuLogArgs {
    #[arg(short = 'l', long = "log-level", default_value = "INFO")]
    pub(super) level: String,
    #[arg(long)]
    pub(super) debug: bool,
    pub(super) args: Vec<String>,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
pub(super) struct PortArgs {
    #[arg(long)]
    pub(super) endpoints: Option<String>,
    pub(super) port: Option<String>,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
pub(super) struct OpenedPortsArgs {
    #[arg(long, value_enum, default_value = "smart")]
    pub(super) format: Format,
    #[arg(long)]
    pub(super) endpoints: bool,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
pub(super) struct NetworkGetArgs {
    #[arg(long, value_enum, default_value = "smart")]
    pub(super) format: Format,
    #[arg(short = 'r', long = "relation")]
    pub(super) relation: Option<String>,
    #[arg(long, alias = "primary-address")]
    pub(super) bind_address: bool,
    #[arg(long)]
    pub(super) ingress_address: bool,
    #[arg(long)]
    pub(super) egress_subnets: bool,
    pub(super) binding: Option<String>,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
pub(super) struct KeyArgs {
    #[arg(long, value_enum, default_value = "smart")]
    pub(super) format: Format,
    pub(super) key: Option<String>,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
pub(super) struct StateGetArgs {
    #[arg(long, value_enum, default_value = "smart")]
    pub(super) format: Format,
    #[arg(long)]
    pub(super) strict: bool,
    pub(super) key: Option<String>,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
pub(super) struct FileArgs {
    #[arg(long)]
    pub(super) file: Option<String>,
    pub(super) pairs: Vec<String>,
}

//! Turns a hook tool's argv (and stdin, and the hook's environment) into a [`Call`].

use std::collections::BTreeMap;
use std::io::Read;

use clap::Parser;
use juju_hook::Port;
use serde_json::Value;

use super::args::*;
use crate::juju::call::{Call, RelRef, ToolFailure};

/// A parsed command line: the call, how to print its result, and a post-processing step.
pub(super) struct Parsed {
    pub(super) call: Call,
    pub(super) format: Format,
    pub(super) warning: Option<String>,
    pub(super) select: Option<fn(Value) -> Value>,
}

impl Parsed {
    fn new(call: Call, format: Format) -> Self {
        Self {
            call,
            format,
            warning: None,
            select: None,
        }
    }
}

/// Where the hook's defaults (`-r`, the remote unit) come from.
pub(super) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn clap_parse<T: Parser>(args: &[String]) -> Result<T, ToolFailure> {
    T::try_parse_from(args).map_err(|e| {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default();
        ToolFailure::usage(first.strip_prefix("error: ").unwrap_or(first))
    })
}

fn relation_arg(given: Option<String>, env: Env) -> Result<RelRef, ToolFailure> {
    let text = given
        .or_else(|| env("JUJU_RELATION_ID").filter(|s| !s.is_empty()))
        .ok_or_else(|| ToolFailure::usage("no relation id specified"))?;
    RelRef::parse(&text)
}

fn no_extra(args: &[String]) -> Result<(), ToolFailure> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(ToolFailure::usage(format!(
            "unrecognized args: [\"{}\"]",
            args.join("\" \"")
        )))
    }
}

/// `key=value` arguments; a value may itself contain `=`.
fn key_values(pairs: &[String]) -> Result<Vec<(String, String)>, ToolFailure> {
    pairs
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| ToolFailure::usage(format!("expected \"key=value\", got {p:?}")))
        })
        .collect()
}

/// A `--file` of settings: YAML (so also JSON) mapping; scalars become strings.
fn settings_file(
    file: Option<&str>,
    stdin: &mut dyn Read,
) -> Result<BTreeMap<String, String>, ToolFailure> {
    let Some(file) = file else {
        return Ok(BTreeMap::new());
    };
    let text = if file == "-" {
        let mut s = String::new();
        stdin
            .read_to_string(&mut s)
            .map_err(|e| ToolFailure::runtime(format!("cannot read settings from stdin: {e}")))?;
        s
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| ToolFailure::runtime(format!("cannot read {file:?}: {e}")))?
    };
    let value: Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| ToolFailure::runtime(format!("cannot parse settings: {e}")))?;
    let map = match value {
        Value::Null => return Ok(BTreeMap::new()),
        Value::Object(m) => m,
        other => {
            return Err(ToolFailure::runtime(format!(
                "expected a mapping of settings, got {other}"
            )))
        }
    };
    map.into_iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s,
                Value::Null => String::new(),
                Value::Bool(_) | Value::Number(_) => v.to_string(),
                _ => {
                    return Err(ToolFailure::runtime(format!(
                        "cannot parse settings: value of key {k:?} is not a scalar"
                    )))
                }
            };
            Ok((k, s))
        })
        .collect()
}

fn is_app_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !s.ends_with('-')
}

fn is_unit_name(s: &str) -> bool {
    s.rsplit_once('/').is_some_and(|(app, n)| {
        is_app_name(app) && !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit())
    })
}

/// Whose databag `relation-get` reads, as Juju decides it: a given unit (or, with `--app`,
/// an application or a unit standing for its application); else the hook's remote unit;
/// else the hook's remote application, switching to `--app`.
fn relation_get_member(
    given: Option<&String>,
    app: bool,
    env: Env,
) -> Result<(String, bool), ToolFailure> {
    let var = |name: &str| env(name).filter(|s| !s.is_empty());
    if let Some(name) = given {
        if app {
            let app_name = match name.rsplit_once('/') {
                Some((a, _)) if is_unit_name(name) => a.to_string(),
                _ => name.clone(),
            };
            return Ok((app_name, true));
        }
        if !is_unit_name(name) {
            return Err(ToolFailure::usage(if is_app_name(name) {
                format!("expected unit name, got application name {name:?}")
            } else {
                format!("invalid unit name {name:?}")
            }));
        }
        return Ok((name.clone(), false));
    }
    if !app {
        if let Some(unit) = var("JUJU_REMOTE_UNIT") {
            return Ok((unit, false));
        }
    }
    var("JUJU_REMOTE_APP")
        .map(|a| (a, true))
        .ok_or_else(|| ToolFailure::usage("no unit or application specified"))
}

fn parse_port(text: Option<String>) -> Result<Port, ToolFailure> {
    let text = text.ok_or_else(|| ToolFailure::usage("no port or range specified"))?;
    let number_part = text.split('/').next().unwrap_or_default();
    if text == "icmp" || number_part.contains('-') {
        return Err(ToolFailure::usage(format!(
            "{text:?}: the fake hook tools support single ports only"
        )));
    }
    let port: Port = text
        .parse()
        .map_err(|e: String| ToolFailure::usage(format!("invalid port {text:?}: {e}")))?;
    if port.number == 0 {
        return Err(ToolFailure::usage(format!(
            "invalid port {text:?}: port must be in the range [1, 65535]"
        )));
    }
    Ok(port)
}

pub(super) fn parse(
    tool: &str,
    args: &[String],
    stdin: &mut dyn Read,
    env: Env,
) -> Result<Parsed, ToolFailure> {
    let parsed = match tool {
        "config-get" => {
            let a: ConfigGetArgs = clap_parse(args)?;
            Parsed::new(
                Call::ConfigGet {
                    key: a.key,
                    all: a.all,
                },
                a.format,
            )
        }
        "is-leader" => {
            let a: FormatOnlyArgs = clap_parse(args)?;
            Parsed::new(Call::IsLeader, a.format)
        }
        "goal-state" => {
            let a: FormatOnlyArgs = clap_parse(args)?;
            Parsed::new(Call::GoalState, a.format)
        }
        "relation-ids" => {
            let a: RelationIdsArgs = clap_parse(args)?;
            let endpoint = a
                .endpoint
                .or_else(|| env("JUJU_RELATION").filter(|s| !s.is_empty()))
                .ok_or_else(|| ToolFailure::usage("no endpoint name specified"))?;
            Parsed::new(Call::RelationIds { endpoint }, a.format)
        }
        "relation-list" => {
            let a: RelationListArgs = clap_parse(args)?;
            let relation = relation_arg(a.relation, env)?;
            Parsed::new(
                Call::RelationList {
                    relation,
                    app: a.app,
                },
                a.format,
            )
        }
        "relation-get" => {
            let a: RelationGetArgs = clap_parse(args)?;
            let relation = relation_arg(a.relation, env)?;
            if a.args.len() > 2 {
                no_extra(&a.args[2..])?;
            }
            let key = match a.args.first().map(String::as_str) {
                None | Some("-") => None,
                Some(k) => Some(k.to_string()),
            };
            let (member, app) = relation_get_member(a.args.get(1), a.app, env)?;
            Parsed::new(
                Call::RelationGet {
                    relation,
                    key,
                    member,
                    app,
                },
                a.format,
            )
        }
        "relation-set" => {
            let a: RelationSetArgs = clap_parse(args)?;
            let relation = relation_arg(a.relation, env)?;
            let pairs = key_values(&a.pairs)?;
            let mut data = settings_file(a.file.as_deref(), stdin)?;
            data.extend(pairs);
            let mut p = Parsed::new(
                Call::RelationSet {
                    relation,
                    app: a.app,
                    data: data.into(),
                },
                Format::Smart,
            );
            if a.format.is_some() {
                p.warning = Some("--format flag deprecated for command \"relation-set\"".into());
            }
            p
        }
        "status-set" => {
            let a: StatusSetArgs = clap_parse(args)?;
            let (status, message) = match a.args.as_slice() {
                [] => {
                    return Err(ToolFailure::usage(
                        "invalid args, require <status> [message]",
                    ))
                }
                [s] => (s.clone(), String::new()),
                [s, m, rest @ ..] => {
                    no_extra(rest)?;
                    (s.clone(), m.clone())
                }
            };
            Parsed::new(
                Call::StatusSet {
                    application: a.application,
                    status,
                    message,
                },
                Format::Smart,
            )
        }
        "status-get" => {
            let a: StatusGetArgs = clap_parse(args)?;
            let mut p = Parsed::new(
                Call::StatusGet {
                    application: a.application,
                },
                a.format,
            );
            if !a.include_data {
                // Without --include-data Juju prints the status word only.
                p.select = Some(|v| {
                    v.get("status")
                        .or_else(|| v.pointer("/application-status/status"))
                        .cloned()
                        .unwrap_or(Value::Null)
                });
            }
            p
        }
        "application-version-set" => {
            let a: MessageArgs = clap_parse(args)?;
            let version = match a.args.as_slice() {
                [v] => v.clone(),
                [] => return Err(ToolFailure::usage("no version specified")),
                [_, rest @ ..] => {
                    no_extra(rest)?;
                    unreachable!("rest is not empty")
                }
            };
            Parsed::new(Call::ApplicationVersionSet { version }, Format::Smart)
        }
        "juju-log" => {
            let a: JujuLogArgs = clap_parse(args)?;
            if a.args.is_empty() {
                return Err(ToolFailure::usage("no message specified"));
            }
            let level = if a.debug { "DEBUG".into() } else { a.level };
            Parsed::new(
                Call::JujuLog {
                    level,
                    message: a.args.join(" "),
                },
                Format::Smart,
            )
        }
        "open-port" | "close-port" => {
            let a: PortArgs = clap_parse(args)?;
            let port = parse_port(a.port)?;
            let call = if tool == "open-port" {
                Call::OpenPort { port }
            } else {
                Call::ClosePort { port }
            };
            Parsed::new(call, Format::Smart)
        }
        "opened-ports" => {
            let a: OpenedPortsArgs = clap_parse(args)?;
            let mut p = Parsed::new(Call::OpenedPorts, a.format);
            if a.endpoints {
                p.select = Some(|v| match v {
                    Value::Array(items) => Value::Array(
                        items
                            .into_iter()
                            .map(|i| Value::String(format!("{} (*)", i.as_str().unwrap_or(""))))
                            .collect(),
                    ),
                    other => other,
                });
            }
            p
        }
        "network-get" => {
            let a: NetworkGetArgs = clap_parse(args)?;
            let binding = a
                .binding
                .ok_or_else(|| ToolFailure::usage("no arguments specified"))?;
            let relation = a.relation.map(|r| RelRef::parse(&r)).transpose()?;
            let mut p = Parsed::new(Call::NetworkGet { binding, relation }, a.format);
            p.select = if a.bind_address {
                Some(|v| v["bind-addresses"][0]["addresses"][0]["value"].clone())
            } else if a.ingress_address {
                Some(|v| v["ingress-addresses"][0].clone())
            } else if a.egress_subnets {
                Some(|v| v["egress-subnets"].clone())
            } else {
                None
            };
            p
        }
        "action-get" => {
            let a: KeyArgs = clap_parse(args)?;
            Parsed::new(Call::ActionGet { key: a.key }, a.format)
        }
        "action-set" => {
            let a: MessageArgs = clap_parse(args)?;
            let pairs = a
                .args
                .iter()
                .map(|p| {
                    p.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .ok_or_else(|| {
                            ToolFailure::usage(format!(
                                "argument {p:?} must be of the form key...=value"
                            ))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Parsed::new(Call::ActionSet { pairs }, Format::Smart)
        }
        "action-fail" => {
            let a: MessageArgs = clap_parse(args)?;
            if a.args.len() > 1 {
                no_extra(&a.args[1..])?;
            }
            Parsed::new(
                Call::ActionFail {
                    message: a.args.first().cloned(),
                },
                Format::Smart,
            )
        }
        "action-log" => {
            let a: MessageArgs = clap_parse(args)?;
            if a.args.is_empty() {
                return Err(ToolFailure::usage("no message specified"));
            }
            Parsed::new(
                Call::ActionLog {
                    message: a.args.join(" "),
                },
                Format::Smart,
            )
        }
        "state-get" => {
            let a: StateGetArgs = clap_parse(args)?;
            Parsed::new(
                Call::StateGet {
                    key: a.key.filter(|k| k != "-"),
                    strict: a.strict,
                },
                a.format,
            )
        }
        "state-set" => {
            let a: FileArgs = clap_parse(args)?;
            let pairs = key_values(&a.pairs)?;
            let mut data = settings_file(a.file.as_deref(), stdin)?;
            data.extend(pairs);
            Parsed::new(Call::StateSet { data }, Format::Smart)
        }
        "state-delete" => {
            let a: MessageArgs = clap_parse(args)?;
            // Without a key Juju does nothing.
            let key = match a.args.as_slice() {
                [] => String::new(),
                [k, rest @ ..] => {
                    no_extra(rest)?;
                    k.clone()
                }
            };
            Parsed::new(Call::StateDelete { key }, Format::Smart)
        }
        other => return Err(ToolFailure::runtime(format!("unknown hook tool {other:?}"))),
    };
    Ok(parsed)
}

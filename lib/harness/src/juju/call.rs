//! One hook-tool call with its arguments resolved, and how a call fails.

use juju_hook::{Port, RelationData, RelationId};
use std::collections::BTreeMap;

/// A relation named on a command line: `-r <endpoint>:<n>` or `-r <n>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelRef {
    /// The text as given (for error messages).
    pub text: String,
    /// The number after the last `:`.
    pub id: u32,
    /// The endpoint before the last `:`, if given.
    pub endpoint: Option<String>,
}

impl RelRef {
    /// Parses `-r`'s value as Juju does: the integer after the last `:`.
    pub fn parse(text: &str) -> Result<Self, ToolFailure> {
        let (endpoint, num) = match text.rsplit_once(':') {
            Some((ep, n)) => (Some(ep.to_string()), n),
            None => (None, text),
        };
        let id = num.parse().map_err(|_| {
            ToolFailure::usage(format!(
                "invalid value {text:?} for option -r: invalid relation id"
            ))
        })?;
        Ok(Self {
            text: text.to_string(),
            id,
            endpoint,
        })
    }
}

impl From<&RelationId> for RelRef {
    fn from(r: &RelationId) -> Self {
        Self {
            text: r.to_string(),
            id: r.id,
            endpoint: Some(r.endpoint.clone()),
        }
    }
}

/// One hook-tool call, with its arguments already resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// `config-get [key] [--all]`
    ConfigGet {
        /// One option, or all.
        key: Option<String>,
        /// Include options without a value (as `null`).
        all: bool,
    },
    /// `is-leader`
    IsLeader,
    /// `relation-ids <endpoint>`
    RelationIds {
        /// The endpoint.
        endpoint: String,
    },
    /// `relation-list -r <id> [--app]`
    RelationList {
        /// The relation.
        relation: RelRef,
        /// Print the remote application instead of its units.
        app: bool,
    },
    /// `relation-get -r <id> [--app] <key|-> <member>`
    RelationGet {
        /// The relation.
        relation: RelRef,
        /// One key (`None` = `-`, all keys).
        key: Option<String>,
        /// Unit or application name.
        member: String,
        /// Application databag.
        app: bool,
    },
    /// `relation-set -r <id> [--app] ...`
    RelationSet {
        /// The relation.
        relation: RelRef,
        /// Application databag.
        app: bool,
        /// Keys to merge (`""` deletes).
        data: RelationData,
    },
    /// `status-set [--application] <status> [message]`
    StatusSet {
        /// Application status.
        application: bool,
        /// The status word as given.
        status: String,
        /// The message.
        message: String,
    },
    /// `status-get [--application]`
    StatusGet {
        /// Application status.
        application: bool,
    },
    /// `application-version-set <version>`
    ApplicationVersionSet {
        /// The version.
        version: String,
    },
    /// `juju-log --log-level <level> <message>`
    JujuLog {
        /// The level as given.
        level: String,
        /// The message.
        message: String,
    },
    /// `open-port <port>`
    OpenPort {
        /// The port.
        port: Port,
    },
    /// `close-port <port>`
    ClosePort {
        /// The port.
        port: Port,
    },
    /// `opened-ports`
    OpenedPorts,
    /// `network-get <binding> [-r <id>]`
    NetworkGet {
        /// Endpoint or extra-binding name.
        binding: String,
        /// Optional relation.
        relation: Option<RelRef>,
    },
    /// `goal-state`
    GoalState,
    /// `action-get [key]`
    ActionGet {
        /// Dotted key, or all.
        key: Option<String>,
    },
    /// `action-set k=v ...`
    ActionSet {
        /// Dotted keys and values.
        pairs: Vec<(String, String)>,
    },
    /// `action-fail [message]`
    ActionFail {
        /// The message, if given.
        message: Option<String>,
    },
    /// `action-log <message>`
    ActionLog {
        /// The message.
        message: String,
    },
    /// `state-get [key] [--strict]`
    StateGet {
        /// One key, or all.
        key: Option<String>,
        /// Missing key is an error.
        strict: bool,
    },
    /// `state-set ...`
    StateSet {
        /// Keys to set (`""` deletes).
        data: BTreeMap<String, String>,
    },
    /// `state-delete <key>`
    StateDelete {
        /// The key.
        key: String,
    },
}

/// A failed call: Juju's `ERROR <message>` and exit code (2 usage, 1 runtime).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolFailure {
    /// Exit code.
    pub code: i32,
    /// The text after `ERROR `.
    pub message: String,
}

impl ToolFailure {
    /// An argument error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
    /// A runtime error (exit 1).
    pub fn runtime(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
    /// What the tool prints on stderr.
    pub fn stderr(&self) -> String {
        format!("ERROR {}\n", self.message)
    }
}

impl Call {
    /// The hook tool this call runs.
    pub fn tool(&self) -> &'static str {
        match self {
            Call::ConfigGet { .. } => "config-get",
            Call::IsLeader => "is-leader",
            Call::RelationIds { .. } => "relation-ids",
            Call::RelationList { .. } => "relation-list",
            Call::RelationGet { .. } => "relation-get",
            Call::RelationSet { .. } => "relation-set",
            Call::StatusSet { .. } => "status-set",
            Call::StatusGet { .. } => "status-get",
            Call::ApplicationVersionSet { .. } => "application-version-set",
            Call::JujuLog { .. } => "juju-log",
            Call::OpenPort { .. } => "open-port",
            Call::ClosePort { .. } => "close-port",
            Call::OpenedPorts => "opened-ports",
            Call::NetworkGet { .. } => "network-get",
            Call::GoalState => "goal-state",
            Call::ActionGet { .. } => "action-get",
            Call::ActionSet { .. } => "action-set",
            Call::ActionFail { .. } => "action-fail",
            Call::ActionLog { .. } => "action-log",
            Call::StateGet { .. } => "state-get",
            Call::StateSet { .. } => "state-set",
            Call::StateDelete { .. } => "state-delete",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relref_parsing() {
        let r = RelRef::parse("metrics-endpoint:7").unwrap();
        assert_eq!((r.id, r.endpoint.as_deref()), (7, Some("metrics-endpoint")));
        assert_eq!(RelRef::parse("7").unwrap().endpoint, None);
        let err = RelRef::parse("one").unwrap_err();
        assert_eq!(err.code, 2);
        assert_eq!(
            err.message,
            "invalid value \"one\" for option -r: invalid relation id"
        );
    }
}

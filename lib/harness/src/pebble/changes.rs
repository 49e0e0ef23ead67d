//! Pebble changes and tasks: ids, statuses, the JSON shape of `GET /v1/changes/{id}`, and Go
//! duration strings as used by `/wait?timeout=`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::{Map, Value};

/// Status of a change or task, spelled as Pebble spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeStatus {
    /// Running.
    Doing,
    /// Finished successfully.
    Done,
    /// Finished with an error.
    Error,
    /// Not run because an earlier task failed.
    Hold,
}

impl ChangeStatus {
    /// Pebble's capitalised spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::Doing => "Doing",
            ChangeStatus::Done => "Done",
            ChangeStatus::Error => "Error",
            ChangeStatus::Hold => "Hold",
        }
    }
}

/// One task of a change.
#[derive(Debug, Clone)]
pub struct Task {
    /// Task id (global counter, as in Pebble).
    pub id: u64,
    /// `start`, `stop`, `exec`...
    pub kind: String,
    /// Human summary, e.g. `Start service "prometheus"`.
    pub summary: String,
    /// Current status.
    pub status: ChangeStatus,
    /// Log lines.
    pub log: Vec<String>,
    /// Task data, e.g. `{"exit-code": 0}` for exec.
    pub data: Map<String, Value>,
    /// When it was created.
    pub spawn_time: SystemTime,
    /// When it finished.
    pub ready_time: Option<SystemTime>,
}

/// One change (a set of tasks run for one request).
#[derive(Debug, Clone)]
pub struct Change {
    /// Change id.
    pub id: u64,
    /// `replan`, `start`, `stop`, `restart`, `autostart`, `exec`.
    pub kind: String,
    /// Human summary.
    pub summary: String,
    /// Current status.
    pub status: ChangeStatus,
    /// Tasks in order.
    pub tasks: Vec<Task>,
    /// Error text when `status` is `Error`.
    pub err: Option<String>,
    /// When it was created.
    pub spawn_time: SystemTime,
    /// When it finished.
    pub ready_time: Option<SystemTime>,
}

impl Change {
    /// Whether the change has finished (successfully or not).
    pub fn ready(&self) -> bool {
        self.status != ChangeStatus::Doing
    }

    /// Marks the change and all its unfinished tasks finished with `status`.
    pub fn finish(&mut self, status: ChangeStatus, err: Option<String>) {
        let now = SystemTime::now();
        for task in &mut self.tasks {
            if task.status == ChangeStatus::Doing {
                task.status = status;
                task.ready_time = Some(now);
            }
        }
        self.status = status;
        self.err = err;
        self.ready_time = Some(now);
    }

    /// The JSON object Pebble returns for this change, in Pebble's field order.
    pub fn view(&self) -> ChangeView<'_> {
        ChangeView {
            id: self.id.to_string(),
            kind: &self.kind,
            summary: &self.summary,
            status: self.status.as_str(),
            tasks: self.tasks.iter().map(Task::view).collect(),
            ready: self.ready(),
            err: self.err.as_deref(),
            spawn_time: timestamp(self.spawn_time),
            ready_time: self.ready_time.map(timestamp),
        }
    }

    /// [`Change::view`] as a JSON value.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.view()).unwrap_or(Value::Null)
    }
}

impl Task {
    fn view(&self) -> TaskView<'_> {
        let done = u32::from(matches!(
            self.status,
            ChangeStatus::Done | ChangeStatus::Error
        ));
        TaskView {
            id: self.id.to_string(),
            kind: &self.kind,
            summary: &self.summary,
            status: self.status.as_str(),
            log: &self.log,
            progress: Progress {
                label: "",
                done,
                total: 1,
            },
            spawn_time: timestamp(self.spawn_time),
            ready_time: self.ready_time.map(timestamp),
            data: &self.data,
        }
    }
}

/// A change as Pebble serialises it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ChangeView<'a> {
    id: String,
    kind: &'a str,
    summary: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tasks: Vec<TaskView<'a>>,
    ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    err: Option<&'a str>,
    spawn_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ready_time: Option<String>,
}

/// A task as Pebble serialises it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct TaskView<'a> {
    id: String,
    kind: &'a str,
    summary: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    log: &'a [String],
    progress: Progress,
    spawn_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ready_time: Option<String>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    data: &'a Map<String, Value>,
}

#[derive(Debug, Serialize)]
struct Progress {
    label: &'static str,
    done: u32,
    total: u32,
}

/// All changes of one Pebble boot, with Pebble's id counters.
#[derive(Debug, Default)]
pub struct ChangeStore {
    changes: BTreeMap<u64, Change>,
    last_change_id: u64,
    last_task_id: u64,
}

impl ChangeStore {
    /// Creates a change in `Doing` with one task per `(kind, summary)`; returns its id.
    pub fn create(&mut self, kind: &str, summary: String, tasks: &[(String, String)]) -> u64 {
        let now = SystemTime::now();
        self.last_change_id += 1;
        let tasks = tasks
            .iter()
            .map(|(kind, summary)| {
                self.last_task_id += 1;
                Task {
                    id: self.last_task_id,
                    kind: kind.clone(),
                    summary: summary.clone(),
                    status: ChangeStatus::Doing,
                    log: Vec::new(),
                    data: Map::new(),
                    spawn_time: now,
                    ready_time: None,
                }
            })
            .collect();
        let id = self.last_change_id;
        self.changes.insert(
            id,
            Change {
                id,
                kind: kind.to_string(),
                summary,
                status: ChangeStatus::Doing,
                tasks,
                err: None,
                spawn_time: now,
                ready_time: None,
            },
        );
        id
    }

    /// Looks a change up.
    pub fn get(&self, id: u64) -> Option<&Change> {
        self.changes.get(&id)
    }

    /// Looks a change up for modification.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut Change> {
        self.changes.get_mut(&id)
    }

    /// All changes in id order.
    pub fn all(&self) -> impl Iterator<Item = &Change> {
        self.changes.values()
    }
}

/// RFC 3339 with nanoseconds, like Go's `time.Time` JSON encoding in UTC.
pub fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_nanos(t).to_string()
}

/// RFC 3339 in whole seconds, as Pebble stamps task log lines.
pub fn humantime_seconds(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Summary of a change over several services, e.g. `Start service "a" and 1 more`.
pub fn services_summary(verb: &str, names: &[String]) -> String {
    match names {
        [] => format!("{verb} - no services"),
        [one] => format!("{verb} service \"{one}\""),
        [first, rest @ ..] => format!("{verb} service \"{first}\" and {} more", rest.len()),
    }
}

/// Parses a Go duration string (`10s`, `4.000s`, `1m30s`, `500ms`): Pebble's own rules.
pub use pebble::merge::parse_go_duration;

/// Formats a duration as Go's `Duration.String` does for the values a client sends
/// (`4s`, `1.5s`, `500ms`, `1m30s`).
pub fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        let (value, unit) = if nanos < 1_000 {
            return format!("{nanos}ns");
        } else if nanos < 1_000_000 {
            (nanos as f64 / 1e3, "µs")
        } else {
            (nanos as f64 / 1e6, "ms")
        };
        return format!("{}{unit}", trim_float(value));
    }
    let secs_total = d.as_secs_f64();
    let hours = (secs_total / 3600.0).floor();
    let minutes = ((secs_total - hours * 3600.0) / 60.0).floor();
    let seconds = secs_total - hours * 3600.0 - minutes * 60.0;
    let mut out = String::new();
    if hours > 0.0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0.0 || minutes > 0.0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!("{}s", trim_float(seconds)));
    out
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_round_trip() {
        assert_eq!(parse_go_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_go_duration("4.000s"), Some(Duration::from_secs(4)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("abc"), None);
        assert_eq!(format_go_duration(Duration::from_secs(4)), "4s");
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_go_duration(Duration::from_secs(3600)), "1h0m0s");
    }

    #[test]
    fn summaries_name_first_service_and_count_the_rest() {
        assert_eq!(
            services_summary("Replan", &["a".into(), "b".into()]),
            "Replan service \"a\" and 1 more"
        );
        assert_eq!(services_summary("Replan", &[]), "Replan - no services");
    }
}

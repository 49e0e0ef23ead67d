//! Health checks, run the way Pebble v1.32.1 runs them.
//!
//! A running check is a change: `perform-check` while it passes, `recover-check` once it has
//! failed `threshold` times in a row (the `perform-check` change then ends in `Error`), and a
//! new `perform-check` after the first success of the recovery (the `recover-check` change
//! ends `Done`). Each change has one task whose log keeps the last failures. Probes run every
//! `period` (the first one a period after the change starts), each limited to `timeout`:
//! `http` wants a 2xx answer, `tcp` an accepted connection, `exec` exit status 0.
//!
//! What starts and stops checks, as in the real daemon:
//! - every plan change (a layer added, the image's layers at boot) starts the enabled checks
//!   that are not running and restarts running checks whose definition changed — except a
//!   running check that the new plan marks `startup: disabled`: it keeps running, with its old
//!   definition, until it is stopped through the API;
//! - replan starts enabled checks that are not running (it never stops one);
//! - `POST /v1/checks` starts or stops named checks; a stopped check is `inactive`, keeps its
//!   counters and no longer counts towards health.
//!
//! Probes go where the check says, except that addresses can be redirected
//! ([`crate::FakePebble::map_check_address`], or the runner's own mapping, see
//! [`ServiceRunner::check_address`](super::ServiceRunner::check_address)), so a check of
//! `localhost:9090` reaches a service a test runs on another port. Exec checks are answered by
//! the exec handler registered for their executable when there is one, and otherwise run as
//! host commands (container paths under `/etc/` and `/opt/` mapped into the fake's file system).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use pebble::{Check, CheckLevel, Plan, Startup};
use tokio::task::AbortHandle;

use super::changes::{format_go_duration, humantime_seconds, ChangeStatus};
use super::exec::{executable_key, ExecRequest};
use super::files::map_arg;
use super::state::{CheckStatus, Shared, State};

/// Pebble's defaults for unset durations.
const DEFAULT_PERIOD: Duration = Duration::from_secs(10);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Pebble keeps this many log lines per task.
const MAX_TASK_LOG: usize = 10;
const PERFORM: &str = "perform-check";
const RECOVER: &str = "recover-check";
const EXEC_MAPPED_PREFIXES: [&str; 2] = ["/etc/", "/opt/"];

/// What the daemon knows about one check (`GET /v1/checks` shows it).
#[derive(Debug, Clone)]
pub struct CheckData {
    /// Level of the definition it runs (or last ran) with.
    pub level: Option<CheckLevel>,
    /// Startup of that definition (`enabled` when unset).
    pub startup: Startup,
    /// `up`, `down` or `inactive`.
    pub status: CheckStatus,
    /// Successes of the current run.
    pub successes: u64,
    /// Failures in a row.
    pub failures: u64,
    /// Failures in a row before the check is down.
    pub threshold: u32,
    /// The change running the check (none when stopped).
    pub change_id: Option<u64>,
    /// The change that ran it before (set across a perform/recover switch).
    pub prev_change_id: Option<u64>,
    /// The definition the running change uses.
    pub running: Option<Check>,
    task: Option<AbortHandle>,
}

impl CheckData {
    fn inactive(config: &Check) -> CheckData {
        CheckData {
            level: config.level,
            startup: config.startup.unwrap_or(Startup::Enabled),
            status: CheckStatus::Inactive,
            successes: 0,
            failures: 0,
            threshold: threshold(config),
            change_id: None,
            prev_change_id: None,
            running: None,
            task: None,
        }
    }
}

fn threshold(config: &Check) -> u32 {
    config.threshold.unwrap_or(3)
}

fn period(config: &Check) -> Duration {
    config
        .period
        .as_deref()
        .and_then(super::changes::parse_go_duration)
        .unwrap_or(DEFAULT_PERIOD)
}

fn timeout(config: &Check) -> Duration {
    match config
        .timeout
        .as_deref()
        .and_then(super::changes::parse_go_duration)
    {
        Some(t) => t,
        // An unset timeout is 3 s, capped at the period.
        None => DEFAULT_TIMEOUT.min(period(config)),
    }
}

fn kind_label(config: &Check) -> &'static str {
    if config.http.is_some() {
        "HTTP"
    } else if config.tcp.is_some() {
        "TCP"
    } else if config.exec.is_some() {
        "exec"
    } else {
        "<unknown>"
    }
}

fn is_running(state: &State, name: &str) -> bool {
    state
        .checks
        .get(name)
        .is_some_and(|data| data.change_id.is_some())
}

/// Ends the running change of `name` (as Pebble's abort does: the change is `Done`) and stops
/// its probe loop. Counters are left alone.
fn abort_run(state: &mut State, name: &str) -> bool {
    let Some(data) = state.checks.get_mut(name) else {
        return false;
    };
    let Some(change_id) = data.change_id.take() else {
        return false;
    };
    if let Some(task) = data.task.take() {
        task.abort();
    }
    data.running = None;
    if let Some(change) = state.changes.get_mut(change_id) {
        change.finish(ChangeStatus::Done, None);
    }
    true
}

/// Starts `name` with `config` as a new `perform-check` change; counters start from zero.
fn start_run(shared: &Arc<Shared>, state: &mut State, name: &str, config: &Check) {
    let change_id = new_check_change(state, PERFORM, name, config);
    let mut data = CheckData::inactive(config);
    data.status = CheckStatus::Up;
    data.change_id = Some(change_id);
    data.running = Some(config.clone());
    let run = Run {
        shared: shared.clone(),
        name: name.to_string(),
        config: config.clone(),
    };
    data.task = Some(
        shared
            .runtime()
            .spawn(run.perform(change_id))
            .abort_handle(),
    );
    state.checks.insert(name.to_string(), data);
}

fn new_check_change(state: &mut State, kind: &str, name: &str, config: &Check) -> u64 {
    let verb = if kind == PERFORM {
        "Perform"
    } else {
        "Recover"
    };
    let summary = format!("{verb} {} check \"{name}\"", kind_label(config));
    state
        .changes
        .create(kind, summary.clone(), &[(kind.to_string(), summary)])
}

/// Pebble's reaction to a new plan (see the module docs).
pub fn plan_changed(shared: &Arc<Shared>, state: &mut State, plan: &Plan) {
    let mut existing = BTreeSet::new();
    let mut to_start = BTreeSet::new();
    let running: Vec<(String, Check)> = state
        .checks
        .iter()
        .filter_map(|(name, data)| Some((name.clone(), data.running.clone()?)))
        .collect();
    for (name, old) in running {
        existing.insert(name.clone());
        if let Some(new) = plan.checks.get(&name) {
            if *new == old {
                continue;
            }
            let now_disabled = new.startup == Some(Startup::Disabled);
            let was_enabled = old.startup != Some(Startup::Disabled);
            if now_disabled && was_enabled {
                // Keeps running with its old definition until stopped.
                continue;
            }
            to_start.insert(name.clone());
        }
        abort_run(state, &name);
        state.checks.remove(&name);
    }
    for (name, config) in &plan.checks {
        if existing.contains(name) {
            continue;
        }
        if config.startup == Some(Startup::Disabled) {
            state
                .checks
                .insert(name.clone(), CheckData::inactive(config));
        } else {
            to_start.insert(name.clone());
        }
    }
    for name in to_start {
        if let Some(config) = plan.checks.get(&name) {
            start_run(shared, state, &name, config);
        }
    }
}

/// Replan: starts enabled checks that are not running.
pub fn replan(shared: &Arc<Shared>, state: &mut State, plan: &Plan) {
    for (name, config) in &plan.checks {
        if !state.checks.contains_key(name)
            || config.startup == Some(Startup::Disabled)
            || is_running(state, name)
        {
            continue;
        }
        start_run(shared, state, name, config);
    }
}

/// `POST /v1/checks` with `start`: starts the named checks that are not running, in the
/// order given; returns them.
pub fn start(
    shared: &Arc<Shared>,
    state: &mut State,
    plan: &Plan,
    names: &[String],
) -> Vec<String> {
    let mut started = Vec::new();
    for name in names {
        let Some(config) = plan.checks.get(name) else {
            continue;
        };
        if !state.checks.contains_key(name) || is_running(state, name) {
            continue;
        }
        start_run(shared, state, name, config);
        started.push(name.clone());
    }
    started
}

/// `POST /v1/checks` with `stop`: stops the named running checks; returns them. A stopped
/// check keeps its counters and previous change, and takes level and startup from the plan.
pub fn stop(state: &mut State, plan: &Plan, names: &[String]) -> Vec<String> {
    let mut stopped = Vec::new();
    for name in names {
        let Some(config) = plan.checks.get(name) else {
            continue;
        };
        if !is_running(state, name) {
            continue;
        }
        abort_run(state, name);
        if let Some(data) = state.checks.get_mut(name) {
            data.level = config.level;
            data.startup = config.startup.unwrap_or(Startup::Enabled);
            data.threshold = threshold(config);
            data.status = CheckStatus::Inactive;
        }
        stopped.push(name.clone());
    }
    stopped
}

/// Stops every probe loop (the daemon going away).
pub fn abort_all(state: &mut State) {
    for data in state.checks.values_mut() {
        if let Some(task) = data.task.take() {
            task.abort();
        }
    }
}

/// One check's probe loop.
struct Run {
    shared: Arc<Shared>,
    name: String,
    config: Check,
}

enum Mode {
    Perform,
    Recover,
}

impl Run {
    async fn perform(self, first_change: u64) {
        let mut change_id = first_change;
        let mut mode = Mode::Perform;
        let (mut successes, mut failures) = (0u64, 0u64);
        let period = period(&self.config);
        let threshold = u64::from(threshold(&self.config));
        loop {
            // A new change starts a new ticker, as each Pebble task does.
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                ticker.tick().await;
                let outcome = probe(&self.shared, &self.config).await;
                let mut state = self.shared.lock();
                let current = state.checks.get(&self.name).and_then(|d| d.change_id);
                if current != Some(change_id) {
                    return;
                }
                let switch = match (&mode, outcome) {
                    (Mode::Perform, Ok(())) => {
                        successes += 1;
                        if failures > 0 {
                            let plural = if failures == 1 { "failure" } else { "failures" };
                            log(
                                &mut state,
                                change_id,
                                "INFO",
                                &format!("succeeded after {failures} {plural}"),
                            );
                            failures = 0;
                        }
                        false
                    }
                    (Mode::Perform, Err(message)) => {
                        failures += 1;
                        log(&mut state, change_id, "ERROR", &message);
                        failures >= threshold
                    }
                    (Mode::Recover, Ok(())) => {
                        successes = 1;
                        failures = 0;
                        true
                    }
                    (Mode::Recover, Err(message)) => {
                        failures += 1;
                        log(&mut state, change_id, "ERROR", &message);
                        false
                    }
                };
                if switch {
                    let (status, next_kind, next_mode) = match mode {
                        Mode::Perform => (ChangeStatus::Error, RECOVER, Mode::Recover),
                        Mode::Recover => (ChangeStatus::Done, PERFORM, Mode::Perform),
                    };
                    finish_change(&mut state, change_id, status);
                    let next = new_check_change(&mut state, next_kind, &self.name, &self.config);
                    if let Some(data) = state.checks.get_mut(&self.name) {
                        data.prev_change_id = Some(change_id);
                        data.change_id = Some(next);
                    }
                    change_id = next;
                    mode = next_mode;
                }
                if let Some(data) = state.checks.get_mut(&self.name) {
                    data.successes = successes;
                    data.failures = failures;
                    data.status = if failures >= threshold {
                        CheckStatus::Down
                    } else {
                        CheckStatus::Up
                    };
                }
                drop(state);
                if switch {
                    self.shared.notify_changes();
                    break;
                }
            }
        }
    }
}

/// Appends a line to the task of a check change, keeping Pebble's last ten.
fn log(state: &mut State, change_id: u64, level: &str, message: &str) {
    if let Some(task) = state
        .changes
        .get_mut(change_id)
        .and_then(|c| c.tasks.first_mut())
    {
        task.log.push(format!(
            "{} {level} {message}",
            humantime_seconds(SystemTime::now())
        ));
        let extra = task.log.len().saturating_sub(MAX_TASK_LOG);
        task.log.drain(..extra);
    }
}

/// Ends a check change; an `Error` carries one line per error logged, as Pebble's does.
fn finish_change(state: &mut State, change_id: u64, status: ChangeStatus) {
    let Some(change) = state.changes.get_mut(change_id) else {
        return;
    };
    let err = (status == ChangeStatus::Error).then(|| {
        let lines: Vec<String> = change
            .tasks
            .iter()
            .flat_map(|t| {
                t.log.iter().filter_map(move |line| {
                    let (_, msg) = line.split_once(" ERROR ")?;
                    Some(format!("- {} ({msg})", t.summary))
                })
            })
            .collect();
        format!("cannot perform the following tasks:\n{}", lines.join("\n"))
    });
    change.finish(status, err);
}

/// `host:port` after the test's and the runner's redirections.
fn redirect(shared: &Shared, host: &str, port: u16) -> String {
    let key = format!("{host}:{port}");
    if let Some(to) = shared.lock().check_addresses.get(&key) {
        return to.clone();
    }
    shared.runner().check_address(host, port).unwrap_or(key)
}

/// Runs one probe within the check's timeout; `Err` is Pebble's error text.
async fn probe(shared: &Arc<Shared>, config: &Check) -> Result<(), String> {
    let limit = timeout(config);
    let work = async {
        if let Some(http) = &config.http {
            probe_http(shared, &http.url, &http.headers).await
        } else if let Some(tcp) = &config.tcp {
            let host = tcp.host.as_deref().unwrap_or("localhost");
            let addr = redirect(shared, host, tcp.port);
            tokio::net::TcpStream::connect(&addr)
                .await
                .map(drop)
                .map_err(|e| format!("dial tcp {addr}: {}", connect_error(&e)))
        } else if let Some(exec) = &config.exec {
            probe_exec(shared, exec, limit).await
        } else {
            Err("invalid check".into())
        }
    };
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "check timed out after {}",
            format_go_duration(limit)
        )),
    }
}

fn connect_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".into(),
        _ => e.to_string(),
    }
}

async fn probe_http(
    shared: &Arc<Shared>,
    url: &str,
    headers: &std::collections::BTreeMap<String, String>,
) -> Result<(), String> {
    let mut parsed = reqwest::Url::parse(url).map_err(|e| format!("cannot build request: {e}"))?;
    if let (Some(host), Some(port)) = (parsed.host_str(), parsed.port_or_known_default()) {
        let to = redirect(shared, host, port);
        if to != format!("{host}:{port}") {
            if let Some((h, p)) = to.rsplit_once(':') {
                let _ = parsed.set_host(Some(h));
                let _ = parsed.set_port(p.parse().ok());
            }
        }
    }
    let client = reqwest::Client::new();
    let mut request = client.get(parsed.clone());
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let response = request.send().await.map_err(|e| {
        let cause = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<std::io::Error>().map(connect_error))
            .unwrap_or_else(|| e.to_string());
        format!("Get \"{url}\": {cause}")
    })?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    let details: Vec<&str> = body.trim().lines().take(5).collect();
    let mut message = format!("non-2xx status code {status}");
    if !details.is_empty() {
        message.push_str("; ");
        message.push_str(&details.join("\n"));
    }
    Err(message)
}

async fn probe_exec(
    shared: &Arc<Shared>,
    exec: &pebble::ExecCheck,
    limit: Duration,
) -> Result<(), String> {
    let words = shlex::split(&exec.command)
        .filter(|w| !w.is_empty())
        .ok_or_else(|| "cannot parse command".to_string())?;
    let handler = shared
        .lock()
        .exec_handlers
        .get(executable_key(&words[0]))
        .cloned();
    let fs_root = shared.fs_root.clone();
    let environment = exec.environment.clone();
    let working_dir = exec.working_dir.clone();
    let outcome = tokio::task::spawn_blocking(move || match handler {
        Some(handler) => {
            let result = handler(&ExecRequest {
                command: words,
                environment,
                working_dir: working_dir.unwrap_or_else(|| "/".into()),
                timeout: Some(limit),
                user: None,
                stdin: Vec::new(),
                fs_root,
            });
            let mut output = result.stdout;
            output.extend(result.stderr);
            (result.exit_code, output)
        }
        None => run_host(
            &words,
            &environment,
            working_dir.as_deref(),
            &fs_root,
            limit,
        ),
    })
    .await
    .map_err(|e| e.to_string())?;
    match outcome {
        (0, _) => Ok(()),
        (code, output) => {
            let text = String::from_utf8_lossy(&output);
            let lines: Vec<&str> = text.trim_end().lines().collect();
            let tail = lines[lines.len().saturating_sub(5)..].join("\n");
            let mut message = format!("exit status {code}");
            if !tail.is_empty() {
                message.push_str("; ");
                message.push_str(&tail);
            }
            Err(message)
        }
    }
}

/// Runs an exec check's command on the host, killed when it outlives `limit`.
fn run_host(
    words: &[String],
    environment: &std::collections::BTreeMap<String, String>,
    working_dir: Option<&str>,
    fs_root: &std::path::Path,
    limit: Duration,
) -> (i32, Vec<u8>) {
    let args: Vec<String> = words[1..]
        .iter()
        .map(|a| map_arg(fs_root, a, &EXEC_MAPPED_PREFIXES))
        .collect();
    let dir: PathBuf = working_dir
        .map(|d| super::files::host_path(fs_root, d))
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| PathBuf::from("/"));
    let output = tempfile::tempfile();
    let Ok(output) = output else {
        return (1, b"cannot capture output".to_vec());
    };
    let (Ok(out), Ok(err)) = (output.try_clone(), output.try_clone()) else {
        return (1, b"cannot capture output".to_vec());
    };
    let child = Command::new(&words[0])
        .args(&args)
        .envs(environment)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return (127, format!("{e}").into_bytes()),
    };
    let deadline = Instant::now() + limit;
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code().unwrap_or(-1),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break -1;
            }
        }
    };
    let mut text = Vec::new();
    let mut output = output;
    use std::io::{Read, Seek};
    let _ = output.rewind();
    let _ = output.read_to_end(&mut text);
    (code, text)
}

//! Applies a desired workload state through Pebble: push only what changed, validate with
//! promtool before anything goes live, then restart (layer changed), reload (only files
//! changed) or do nothing. What was applied is recorded only after it succeeded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use juju_hook::Status;
use pebble::{Client, ExecOptions, Layer, Plan, PushOptions};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::workload::{
    CANDIDATE_DIR, CONFIG_DIR, LAYER_LABEL, LEGACY_CANDIDATE_DIR, MANIFEST_FILE,
    PROMETHEUS_SERVICE, PROMTOOL_BINARY, RULES_DIR,
};

/// How long Pebble may take to start or restart services.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(60);

/// What a desired file is for, which decides what its change triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// prometheus.yml or a rule file: validated with promtool, applied by reload.
    PrometheusConfig,
    /// The poller's executable: a change restarts the poller service.
    PollerBinary,
    /// A file the poller reads once at start (its URL file). Triggers nothing itself: the
    /// layer carries its hash, so a change restarts the poller through replan.
    PollerInput,
    /// Certificate, key, CA or web configuration: Prometheus reads them on every TLS handshake,
    /// so a change triggers nothing (the `--web.config.file` flag restarts it once, through
    /// the layer).
    Tls,
}

/// Where a desired file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileContent {
    /// Rendered in memory.
    Bytes(Vec<u8>),
    /// A file of the charm container (the charm's own binary), identified without reading it.
    Local {
        /// Path in the charm container.
        path: PathBuf,
        /// Identity that changes when the file does (size and modification time).
        identity: String,
    },
}

/// One file the workload should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredFile {
    /// Absolute path in the workload container.
    pub path: String,
    /// Its content.
    pub content: FileContent,
    /// Unix permissions.
    pub permissions: u32,
    /// What a change of it triggers.
    pub role: FileRole,
}

impl DesiredFile {
    /// A rendered Prometheus configuration or rule file.
    pub fn config(path: impl Into<String>, content: impl Into<Vec<u8>>) -> Self {
        Self {
            path: path.into(),
            content: FileContent::Bytes(content.into()),
            permissions: 0o644,
            role: FileRole::PrometheusConfig,
        }
    }

    fn identity(&self) -> String {
        match &self.content {
            FileContent::Bytes(bytes) => hex::encode(Sha256::digest(bytes)),
            FileContent::Local { identity, .. } => identity.clone(),
        }
    }

    fn bytes(&self) -> Result<Vec<u8>, ApplyError> {
        match &self.content {
            FileContent::Bytes(bytes) => Ok(bytes.clone()),
            FileContent::Local { path, .. } => std::fs::read(path)
                .map_err(|e| ApplyError::LocalFile(format!("cannot read {}: {e}", path.display()))),
        }
    }
}

/// Everything the workload should look like.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredWorkload {
    /// Files to have, by absolute path.
    pub files: Vec<DesiredFile>,
    /// The charm's Pebble layer.
    pub layer: Layer,
    /// Services the layer keeps only as disabled definitions: stop them if running.
    pub stopped_services: Vec<String>,
    /// Checks the layer keeps only as disabled definitions: stop them if running (Pebble
    /// keeps running a check whose `startup` becomes `disabled` until it is stopped).
    pub stopped_checks: Vec<String>,
    /// The Prometheus version the files were rendered for.
    pub prometheus_version: Option<String>,
    /// How to reach Prometheus' web API when it serves HTTPS.
    pub web_tls: Option<WebTls>,
}

/// Prometheus serves HTTPS: the CA its certificate comes from and the name it certifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebTls {
    /// The CA (PEM) to trust.
    pub ca: String,
    /// The name the certificate is for (the unit's FQDN).
    pub server_name: String,
}

/// What the charm applied successfully last time, kept in the workload container: a container
/// restart loses it together with the Pebble plan, and then everything is applied again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Path → identity of each managed file.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// The detected Prometheus version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_version: Option<String>,
    /// What the apply was for: lets a later hook with the same inputs skip the work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_for: Option<AppliedFor>,
}

/// The hook an apply belonged to, as far as a later hook needs to recognise the same
/// situation: same inputs and an untouched plan mean the same result (see
/// [`crate::unchanged_inputs`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedFor {
    /// Fingerprint of the hook's inputs, with this unit's databags as they are once the hook's
    /// relation writes are committed.
    pub inputs: String,
    /// The status the hook ends with when the apply succeeds.
    pub status: Status,
    /// Digest of Pebble's plan right after the apply (filled in by [`apply`]).
    #[serde(default)]
    pub plan: String,
}

/// A digest of a Pebble plan, to notice that it changed.
pub fn plan_digest(plan: &Plan) -> String {
    let mut hasher = Sha256::new();
    serde_json::to_writer(&mut hasher, plan).expect("a plan serialises");
    hex::encode(hasher.finalize())
}

impl Manifest {
    /// Reads the manifest; a missing or unreadable one is empty (everything will be pushed).
    pub fn load(client: &Client) -> Result<Manifest, pebble::Error> {
        match client.pull(MANIFEST_FILE) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_default()),
            Err(e) if e.is_not_found() => Ok(Manifest::default()),
            Err(e) => Err(e),
        }
    }
}

/// What the workload has now: read once at the start of a hook.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CurrentWorkload {
    /// What the charm applied last.
    pub manifest: Manifest,
    /// Pebble's current plan.
    pub plan: Plan,
}

impl CurrentWorkload {
    /// Reads the manifest and the plan. A connection error means the container is not up.
    pub fn read(client: &Client) -> Result<CurrentWorkload, pebble::Error> {
        let manifest = Manifest::load(client)?;
        let plan = client.get_plan()?;
        Ok(CurrentWorkload { manifest, plan })
    }

    /// Checks the managed configuration files in the container against the manifest and
    /// forgets those that were changed or removed behind the charm's back, so this apply
    /// restores them. Costs one pull per file: the charm does it on update-status only.
    pub fn forget_drifted_files(&mut self, client: &Client) -> Result<Vec<String>, pebble::Error> {
        let mut drifted = Vec::new();
        for (path, identity) in &self.manifest.files {
            if !path.starts_with(CONFIG_DIR) {
                continue;
            }
            let actual = match client.pull(path) {
                Ok(bytes) => Some(hex::encode(Sha256::digest(&bytes))),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e),
            };
            if actual.as_ref() != Some(identity) {
                drifted.push(path.clone());
            }
        }
        for path in &drifted {
            self.manifest.files.remove(path);
        }
        Ok(drifted)
    }
}

/// What one apply did, for statuses, logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Files pushed live.
    pub pushed: Vec<String>,
    /// Stale files removed.
    pub removed: Vec<String>,
    /// Bytes pushed (live and candidate).
    pub bytes_pushed: usize,
    /// The layer was (re)added.
    pub layer_changed: bool,
    /// Services (re)started by replan or an explicit restart.
    pub restarted: Vec<String>,
    /// Services stopped.
    pub stopped: Vec<String>,
    /// Prometheus reloaded its configuration.
    pub reloaded: bool,
}

impl ApplyReport {
    /// True when nothing at all was changed.
    pub fn is_noop(&self) -> bool {
        self.pushed.is_empty()
            && self.removed.is_empty()
            && !self.layer_changed
            && self.restarted.is_empty()
            && self.stopped.is_empty()
            && !self.reloaded
    }
}

/// Why an apply stopped. Nothing is recorded as applied, so the next event retries.
#[derive(Debug, Error)]
pub enum ApplyError {
    /// Pebble failed (unreachable, API error, failed change).
    #[error("{0}")]
    Pebble(#[from] pebble::Error),
    /// promtool rejected the rendered configuration; Prometheus keeps the old one.
    #[error("generated configuration rejected by promtool: {0}")]
    InvalidConfig(String),
    /// `promtool check rules` rejected these rule files (live path, promtool's reason).
    #[error("rule files rejected by promtool: {}", .0.iter().map(|(p, m)| format!("{p}: {m}")).collect::<Vec<_>>().join("; "))]
    InvalidRules(Vec<(String, String)>),
    /// promtool could not be run.
    #[error("cannot validate configuration: {0}")]
    Validation(String),
    /// Prometheus did not accept `POST /-/reload`.
    #[error("Prometheus reload failed: {0}")]
    ReloadFailed(String),
    /// Prometheus did not answer the reload (still starting, e.g. replaying its WAL).
    #[error("Prometheus not ready for reload: {0}")]
    NotReady(String),
    /// A local file to push could not be read.
    #[error("{0}")]
    LocalFile(String),
}

/// Applies `desired` against the workload reached through `client`, with Prometheus' web API at
/// `prometheus_url`. `current` is what [`CurrentWorkload::read`] returned at the start of the
/// hook; `applied_for` is recorded in the manifest once everything succeeded.
pub fn apply(
    client: &Client,
    prometheus_url: &str,
    desired: &DesiredWorkload,
    current: &CurrentWorkload,
    applied_for: AppliedFor,
) -> Result<ApplyReport, ApplyError> {
    let manifest = &current.manifest;
    let mut report = ApplyReport::default();
    // Each file's identity once: hashing a large prometheus.yml is the costly part of a check.
    let identities: Vec<(&DesiredFile, String)> =
        desired.files.iter().map(|f| (f, f.identity())).collect();
    let mut applied = Manifest {
        files: identities
            .iter()
            .map(|(f, id)| (f.path.clone(), id.clone()))
            .collect(),
        prometheus_version: desired.prometheus_version.clone(),
        applied_for: None,
    };

    let changed: Vec<&DesiredFile> = identities
        .iter()
        .filter(|(f, id)| manifest.files.get(&f.path) != Some(id))
        .map(|(f, _)| *f)
        .collect();
    let mut stale: Vec<String> = manifest
        .files
        .keys()
        .filter(|p| !applied.files.contains_key(*p))
        .cloned()
        .collect();
    if manifest.files.is_empty() {
        stale.extend(unknown_rule_files(client, &applied)?);
    }
    let config_changed = changed.iter().any(|f| f.role == FileRole::PrometheusConfig)
        || stale
            .iter()
            .any(|p| p.starts_with(&format!("{CONFIG_DIR}/")));
    let binary_changed = changed.iter().any(|f| f.role == FileRole::PollerBinary);

    if config_changed {
        validate_candidate(client, desired, &mut report)?;
    }
    push_changed(client, &changed, &mut report)?;
    for path in &stale {
        client.remove_path(path, false).or_else(ignore_not_found)?;
        report.removed.push(path.clone());
    }

    let prometheus_restarted = apply_layer(client, desired, &current.plan, &mut report)?;

    if binary_changed
        && !report
            .restarted
            .iter()
            .any(|s| s == crate::workload::INVENTORY_SERVICE)
    {
        let poller_enabled = desired
            .layer
            .services
            .get(crate::workload::INVENTORY_SERVICE)
            .is_some_and(|s| s.startup == Some(pebble::Startup::Enabled));
        if poller_enabled {
            client.restart_services(&[crate::workload::INVENTORY_SERVICE], CHANGE_TIMEOUT)?;
            report
                .restarted
                .push(crate::workload::INVENTORY_SERVICE.to_string());
        }
    }

    if config_changed && !prometheus_restarted {
        let config_bytes: usize = desired
            .files
            .iter()
            .filter(|f| f.role == FileRole::PrometheusConfig)
            .map(|f| match &f.content {
                FileContent::Bytes(b) => b.len(),
                FileContent::Local { .. } => 0,
            })
            .sum();
        match &desired.web_tls {
            Some(tls) => crate::tls_client::reload_prometheus_tls(
                prometheus_url,
                tls,
                reload_timeout(config_bytes),
            )?,
            None => reload_prometheus(prometheus_url, reload_timeout(config_bytes))?,
        }
        report.reloaded = true;
    }

    // The plan changes only when the layer was added: then read what Pebble made of it.
    let plan = if report.layer_changed {
        plan_digest(&client.get_plan()?)
    } else {
        plan_digest(&current.plan)
    };
    applied.applied_for = Some(AppliedFor {
        plan,
        ..applied_for
    });
    if &applied != manifest {
        let bytes = serde_json::to_vec_pretty(&applied).expect("manifest serialises");
        client.push(MANIFEST_FILE, &bytes, &push_options(0o600))?;
    }
    Ok(report)
}

/// Pushes the changed files: one multipart request per permission set (config files share
/// 0644, the poller's binary is 0755, its URL file 0600).
fn push_changed(
    client: &Client,
    changed: &[&DesiredFile],
    report: &mut ApplyReport,
) -> Result<(), ApplyError> {
    for perms in changed
        .iter()
        .map(|f| f.permissions)
        .collect::<BTreeSet<_>>()
    {
        let mut files = Vec::new();
        for file in changed.iter().filter(|f| f.permissions == perms) {
            files.push((file.path.clone(), file.bytes()?));
        }
        report.bytes_pushed += files.iter().map(|(_, b)| b.len()).sum::<usize>();
        client.push_many(&files, &push_options(perms))?;
    }
    report.pushed = changed.iter().map(|f| f.path.clone()).collect();
    Ok(())
}

/// Reload timeout that grows with the configuration: Prometheus re-reads every file and
/// rebuilds every scrape pool, which takes seconds for configurations of thousands of jobs.
pub fn reload_timeout(config_bytes: usize) -> Duration {
    Duration::from_secs(5) + Duration::from_millis((config_bytes / 1024) as u64 * 10)
}

fn push_options(permissions: u32) -> PushOptions {
    PushOptions {
        make_dirs: true,
        permissions: Some(permissions),
        ..PushOptions::default()
    }
}

/// Rule files in the rules directory that this apply does not want, found when the charm has
/// applied nothing in this container yet: left by another charm (prometheus-k8s writes
/// `juju_*.rules` there, and `juju refresh --switch` keeps the container), they would be
/// loaded by the `rules/*.rules` glob.
fn unknown_rule_files(client: &Client, applied: &Manifest) -> Result<Vec<String>, pebble::Error> {
    let listed = match client.list_files(RULES_DIR, Some("*.rules")) {
        Ok(listed) => listed,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(listed
        .into_iter()
        .filter(|f| f.file_type == pebble::FileType::File)
        .map(|f| format!("{RULES_DIR}/{}", f.name))
        .filter(|p| !applied.files.contains_key(p))
        .collect())
}

fn ignore_not_found(e: pebble::Error) -> Result<(), pebble::Error> {
    if e.is_not_found() {
        Ok(())
    } else {
        Err(e)
    }
}

/// Stages every Prometheus configuration file under the candidate directory and runs
/// `promtool check config` on it, so a bad file never reaches the live paths.
fn validate_candidate(
    client: &Client,
    desired: &DesiredWorkload,
    report: &mut ApplyReport,
) -> Result<(), ApplyError> {
    for dir in [CANDIDATE_DIR, LEGACY_CANDIDATE_DIR] {
        client.remove_path(dir, true).or_else(ignore_not_found)?;
    }
    let mut staged = Vec::new();
    for file in desired
        .files
        .iter()
        .filter(|f| f.role == FileRole::PrometheusConfig)
    {
        let relative = file
            .path
            .strip_prefix(CONFIG_DIR)
            .unwrap_or(&file.path)
            .trim_start_matches('/');
        staged.push((format!("{CANDIDATE_DIR}/{relative}"), file.bytes()?));
    }
    report.bytes_pushed += staged.iter().map(|(_, b)| b.len()).sum::<usize>();
    client.push_many(&staged, &push_options(0o644))?;

    let candidate_config = format!("{CANDIDATE_DIR}/prometheus.yml");
    let output = client
        .exec(
            &[PROMTOOL_BINARY, "check", "config", &candidate_config],
            &ExecOptions {
                timeout: Some(Duration::from_secs(60)),
                ..ExecOptions::default()
            },
        )
        .map_err(|e| exec_error(client, e))?;
    if output.exit_code != 0 {
        let text = String::from_utf8_lossy(if output.stderr.is_empty() {
            &output.stdout
        } else {
            &output.stderr
        });
        let rule_files: Vec<&str> = staged
            .iter()
            .map(|(p, _)| p.as_str())
            .filter(|p| p.ends_with(".rules"))
            .collect();
        let bad_rules = find_bad_rule_files(client, &rule_files)?;
        if !bad_rules.is_empty() {
            return Err(ApplyError::InvalidRules(bad_rules));
        }
        return Err(ApplyError::InvalidConfig(summarise_promtool(&text)));
    }
    Ok(())
}

/// A promtool run that failed to complete. If Pebble is gone now (the container went away
/// while the command ran, which breaks the exec websocket), it is Pebble being unreachable,
/// not a validation problem: the charm waits for pebble-ready instead of blocking.
fn exec_error(client: &Client, e: pebble::Error) -> ApplyError {
    let gone = e.is_connect() || client.system_info().is_err_and(|probe| probe.is_connect());
    if gone {
        ApplyError::Pebble(pebble::Error::Connect {
            socket: client.socket_path().to_path_buf(),
            reason: e.to_string(),
        })
    } else {
        ApplyError::Validation(e.to_string())
    }
}

/// Which staged rule files `promtool check rules` rejects, as live paths with the reason:
/// lets the charm leave out one application's rules instead of refusing the whole update.
fn find_bad_rule_files(
    client: &Client,
    staged: &[&str],
) -> Result<Vec<(String, String)>, ApplyError> {
    if staged.is_empty() {
        return Ok(Vec::new());
    }
    let mut command = vec![PROMTOOL_BINARY, "check", "rules"];
    command.extend_from_slice(staged);
    let output = client
        .exec(
            &command,
            &ExecOptions {
                timeout: Some(Duration::from_secs(60)),
                ..ExecOptions::default()
            },
        )
        .map_err(|e| exec_error(client, e))?;
    if output.exit_code == 0 {
        return Ok(Vec::new());
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    Ok(parse_check_rules(&text, staged)
        .into_iter()
        .map(|(path, reason)| {
            (
                path.replace(CANDIDATE_DIR, CONFIG_DIR),
                reason.replace(CANDIDATE_DIR, CONFIG_DIR),
            )
        })
        .collect())
}

/// Parses `promtool check rules` output for the given files: promtool prints each failure as a
/// line starting with the file's path (on stderr, so the `Checking` lines on stdout cannot be
/// used to attribute it).
pub fn parse_check_rules(output: &str, files: &[&str]) -> Vec<(String, String)> {
    files
        .iter()
        .filter_map(|file| {
            let prefix = format!("{file}:");
            let reasons: Vec<&str> = output
                .lines()
                .filter_map(|l| l.trim().strip_prefix(prefix.as_str()))
                .map(str::trim)
                .collect();
            (!reasons.is_empty()).then(|| (file.to_string(), reasons.join("; ")))
        })
        .collect()
}

/// The most telling line of promtool's output, with the candidate path made live.
pub fn summarise_promtool(output: &str) -> String {
    let line = output
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("promtool failed without output");
    line.replace(CANDIDATE_DIR, CONFIG_DIR)
}

/// Adds the layer and replans when the plan or the services' state differ from what is
/// desired. Returns whether Prometheus was (re)started, which makes a reload unnecessary.
fn apply_layer(
    client: &Client,
    desired: &DesiredWorkload,
    plan: &Plan,
    report: &mut ApplyReport,
) -> Result<bool, ApplyError> {
    let names: Vec<&str> = desired.layer.services.keys().map(String::as_str).collect();
    let running: BTreeSet<String> = client
        .services(&names)?
        .into_iter()
        .filter(|s| s.is_running())
        .map(|s| s.name)
        .collect();

    let mut will_start = Vec::new();
    let mut layer_changed = false;
    for (name, wanted) in &desired.layer.services {
        let current = plan.services.get(name);
        let definition_changed = current.is_none_or(|c| pebble::merge::service_changed(c, wanted));
        layer_changed |= definition_changed;
        let enabled = wanted.startup == Some(pebble::Startup::Enabled);
        if enabled && (definition_changed || !running.contains(name)) {
            will_start.push(name.clone());
        }
    }
    layer_changed |= desired
        .layer
        .checks
        .iter()
        .any(|(name, check)| plan.checks.get(name) != Some(check));

    if layer_changed {
        client.add_layer(LAYER_LABEL, &desired.layer, true)?;
        report.layer_changed = true;
    }
    for name in &desired.stopped_services {
        if running.contains(name) {
            client.stop_services(&[name.as_str()], CHANGE_TIMEOUT)?;
            report.stopped.push(name.clone());
        }
    }
    if !desired.stopped_checks.is_empty() {
        let names: Vec<&str> = desired.stopped_checks.iter().map(String::as_str).collect();
        let active: Vec<String> = client
            .checks(None, &names)?
            .into_iter()
            .filter(|c| c.status != pebble::CheckStatus::Inactive)
            .map(|c| c.name)
            .collect();
        if !active.is_empty() {
            let active: Vec<&str> = active.iter().map(String::as_str).collect();
            client.stop_checks(&active)?;
        }
    }
    if !will_start.is_empty() {
        client.replan(CHANGE_TIMEOUT)?;
        report.restarted.extend(will_start);
    }
    Ok(report.restarted.iter().any(|s| s == PROMETHEUS_SERVICE))
}

/// `POST /-/reload`. Prometheus answers 200 on success and 500 with the reason otherwise.
pub fn reload_prometheus(base_url: &str, timeout: Duration) -> Result<(), ApplyError> {
    let client = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| ApplyError::ReloadFailed(e.to_string()))?;
    let url = format!("{}/-/reload", base_url.trim_end_matches('/'));
    reload_with(&client, &url)
}

/// `POST <url>` with `client`, Prometheus' answer as a result.
pub fn reload_with(client: &reqwest::blocking::Client, url: &str) -> Result<(), ApplyError> {
    match client.post(url).send() {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => {
            let status = resp.status();
            let body = resp.text().unwrap_or_default();
            Err(ApplyError::ReloadFailed(format!(
                "HTTP {}: {}",
                status.as_u16(),
                body.trim()
            )))
        }
        Err(e) if e.is_connect() || e.is_timeout() => Err(ApplyError::NotReady(e.to_string())),
        Err(e) => Err(ApplyError::ReloadFailed(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_rules_failures_are_attributed_by_path() {
        // What promtool 2.42 prints (stdout then stderr) for one good and one bad file.
        let output = "Checking /c/rules/good.rules\n  SUCCESS: 1 rules found\n\n\
                      Checking /c/rules/bad.rules\n\n  FAILED:\n\
                      /c/rules/bad.rules: 5:11: group \"b\", rule 1, \"Y\": could not parse expression\n";
        let failed = parse_check_rules(output, &["/c/rules/good.rules", "/c/rules/bad.rules"]);
        assert_eq!(
            failed,
            vec![(
                "/c/rules/bad.rules".to_string(),
                "5:11: group \"b\", rule 1, \"Y\": could not parse expression".to_string()
            )]
        );
    }

    #[test]
    fn reload_timeout_grows_with_the_configuration() {
        assert_eq!(reload_timeout(0), Duration::from_secs(5));
        assert!(reload_timeout(10 * 1024 * 1024) > Duration::from_secs(100));
    }
}

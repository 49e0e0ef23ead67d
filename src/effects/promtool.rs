//! promtool runs in the workload container (through Pebble exec), and what their output says:
//! the staged candidate configuration before it goes live, the rule files it rejects, and the
//! live configuration for the `validate-configuration` action.

use std::time::Duration;

use pebble::ExecOutput;

use std::collections::BTreeSet;

use crate::core::desired_workload::{DesiredFile, DesiredWorkload};
use crate::core::workload::{
    promtool_environment, CANDIDATE_DIR, CONFIG_DIR, CONFIG_FILE, LEGACY_CANDIDATE_DIR,
    PROMTOOL_BINARY,
};
use crate::effects::access::file_bytes;
use crate::effects::apply::PUSH_BATCH_FILES;
use crate::effects::gateway::WorkloadGateway;
use crate::effects::report::{ApplyError, ApplyReport};

/// Longest a promtool run may take.
const PROMTOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs promtool with `args` for the workload's Prometheus `version` (`X.Y.Z`, when known).
fn run(
    workload: &WorkloadGateway,
    args: &[&str],
    version: Option<&str>,
) -> Result<ExecOutput, pebble::Error> {
    let command: Vec<&str> = std::iter::once(PROMTOOL_BINARY)
        .chain(args.iter().copied())
        .collect();
    workload.exec_with(&command, promtool_environment(version), PROMTOOL_TIMEOUT)
}

/// `promtool check config` on a configuration file of the workload (the live one for the
/// `validate-configuration` action), of Prometheus `version` when known.
pub fn check_config(
    workload: &WorkloadGateway,
    config_file: &str,
    version: Option<&str>,
) -> Result<ExecOutput, pebble::Error> {
    run(workload, &["check", "config", config_file], version)
}

/// Stages every Prometheus configuration file under the candidate directory and runs
/// `promtool check config` on it, so a bad file never reaches the live paths. The relations'
/// job files named in `live_jobs` are as they are live: the staged prometheus.yml names them
/// at their live paths instead of staging them (thousands in a large model, each a synced
/// write for Pebble; a relative path in a job resolves against its file's directory, the
/// live one either way).
pub fn validate_candidate(
    workload: &WorkloadGateway,
    desired: &DesiredWorkload,
    live_jobs: &BTreeSet<&str>,
    report: &mut ApplyReport,
) -> Result<(), ApplyError> {
    let files: Vec<&DesiredFile> = desired
        .files
        .iter()
        .filter(|f| f.is_configuration())
        .filter(|f| !live_jobs.contains(f.file_name()))
        .collect();
    for dir in [CANDIDATE_DIR, LEGACY_CANDIDATE_DIR] {
        workload.remove(dir, true)?;
    }
    let version = desired.prometheus_version.as_deref();
    validate_files(workload, CANDIDATE_DIR, &files, live_jobs, version, report)
}

/// Stages `files` (live paths; prometheus.yml among them) under `dir` (emptied before by the
/// caller) and runs `promtool check config` (of Prometheus `version`, when known) on the
/// staged prometheus.yml, in which the job files named in `live_jobs` are named at their live
/// paths.
pub fn validate_files(
    workload: &WorkloadGateway,
    dir: &str,
    files: &[&DesiredFile],
    live_jobs: &BTreeSet<&str>,
    version: Option<&str>,
    report: &mut ApplyReport,
) -> Result<(), ApplyError> {
    let mut staged = Vec::new();
    for file in files {
        let relative = file
            .path
            .strip_prefix(CONFIG_DIR)
            .unwrap_or(&file.path)
            .trim_start_matches('/');
        let bytes = file_bytes(file)?;
        let bytes = if file.path == CONFIG_FILE && !live_jobs.is_empty() {
            naming_live_jobs(&bytes, live_jobs).into()
        } else {
            bytes
        };
        staged.push((format!("{dir}/{relative}"), bytes));
    }
    report.bytes_pushed += staged.iter().map(|(_, b)| b.len()).sum::<usize>();
    for batch in staged.chunks(PUSH_BATCH_FILES) {
        workload.push_many(batch, 0o644)?;
    }

    let candidate_config = format!("{dir}/prometheus.yml");
    let output =
        check_config(workload, &candidate_config, version).map_err(|e| exec_error(workload, e))?;
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
        let bad_rules = find_bad_rule_files(workload, dir, &rule_files, version)?;
        if !bad_rules.is_empty() {
            return Err(ApplyError::InvalidRules(bad_rules));
        }
        return Err(ApplyError::InvalidConfig(summarise_promtool(dir, &text)));
    }
    Ok(())
}

/// prometheus.yml with the entries of `scrape_config_files` that name a job file of
/// `live_jobs` made absolute (the live configuration directory). Its top-level sequence items
/// are lines at column 0; a job file's entry is `- <name>`.
fn naming_live_jobs(config: &[u8], live_jobs: &BTreeSet<&str>) -> Vec<u8> {
    let mut out = Vec::with_capacity(config.len() + live_jobs.len() * (CONFIG_DIR.len() + 1));
    for line in config.split_inclusive(|b| *b == b'\n') {
        let name = line
            .strip_prefix(b"- ")
            .map(|rest| rest.strip_suffix(b"\n").unwrap_or(rest))
            .and_then(|name| std::str::from_utf8(name).ok());
        match name {
            Some(name) if live_jobs.contains(name) => {
                out.extend_from_slice(b"- ");
                out.extend_from_slice(CONFIG_DIR.as_bytes());
                out.push(b'/');
                out.extend_from_slice(&line[2..]);
            }
            _ => out.extend_from_slice(line),
        }
    }
    out
}

/// A promtool run that failed to complete. If Pebble is gone now (the container went away
/// while the command ran, which breaks the exec websocket), it is Pebble being unreachable,
/// not a validation problem: the charm waits for pebble-ready instead of blocking.
fn exec_error(workload: &WorkloadGateway, e: pebble::Error) -> ApplyError {
    if e.is_connect() || workload.is_gone() {
        ApplyError::Pebble(workload.connect_error(e.to_string()))
    } else {
        ApplyError::Validation(e.to_string())
    }
}

/// Which staged rule files `promtool check rules` rejects, as live paths with the reason:
/// lets the charm leave out one application's rules instead of refusing the whole update.
fn find_bad_rule_files(
    workload: &WorkloadGateway,
    dir: &str,
    staged: &[&str],
    version: Option<&str>,
) -> Result<Vec<(String, String)>, ApplyError> {
    if staged.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec!["check", "rules"];
    args.extend_from_slice(staged);
    let output = run(workload, &args, version).map_err(|e| exec_error(workload, e))?;
    if output.exit_code == 0 {
        return Ok(Vec::new());
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    Ok(parse_check_rules(&text, staged)
        .into_iter()
        .map(|(path, reason)| {
            (
                path.replace(dir, CONFIG_DIR),
                reason.replace(dir, CONFIG_DIR),
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

/// The most telling line of promtool's output, with the candidate directory `dir` made live.
pub fn summarise_promtool(dir: &str, output: &str) -> String {
    let line = output
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("promtool failed without output");
    line.replace(dir, CONFIG_DIR)
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
}

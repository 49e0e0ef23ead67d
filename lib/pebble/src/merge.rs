//! Pebble's rules for combining layers into a plan, with Pebble's validation messages.
//!
//! * Per service, check and log target, `override: replace` swaps the whole definition and
//!   `override: merge` merges field-wise into the earlier one.
//! * In a merge, scalars set in the later layer overwrite; `environment`, `on-check-failure`,
//!   http `headers`, exec `environment` and log-target `labels` merge key-wise; `after`,
//!   `before`, `requires` and log-target `services` append; unset fields keep the earlier value.
//! * The combined plan must give every service a `command` and every check exactly one of
//!   `http`, `tcp` or `exec`; checks that leave `threshold` unset get 3.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::layer::{
    Check, ExecCheck, HttpCheck, Layer, LogTarget, Override, Plan, Service, TcpCheck,
};

/// Failures to threshold when a check leaves `threshold` unset.
pub const DEFAULT_CHECK_THRESHOLD: u32 = 3;
const DEFAULT_CHECK_PERIOD: Duration = Duration::from_secs(10);
/// Layer labels starting with this are reserved for Pebble itself.
pub const RESERVED_LABEL_PREFIX: &str = "pebble-";

/// A layer or plan that Pebble would reject. The message is Pebble's own text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The YAML does not match the layer schema.
    #[error("cannot parse layer YAML: {0}")]
    Parse(String),
    /// A layer or the combined plan breaks one of Pebble's rules.
    #[error("{0}")]
    Invalid(String),
}

fn invalid(message: String) -> PlanError {
    PlanError::Invalid(message)
}

/// Parses a layer and applies the per-layer rules Pebble checks when a layer is added.
pub fn parse_layer(label: &str, yaml: &str) -> Result<Layer, PlanError> {
    let layer = Layer::from_yaml(yaml)?;
    validate_layer(label, &layer)?;
    Ok(layer)
}

/// Checks one layer on its own: label, names, `override` on every entry, reserved log labels,
/// before/after cycles.
pub fn validate_layer(label: &str, layer: &Layer) -> Result<(), PlanError> {
    validate_label(label)?;
    for (name, service) in &layer.services {
        validate_service_name(name)?;
        if service.r#override.is_none() {
            return Err(invalid(format!(
                "layer {label:?} must define \"override\" for service {name:?}"
            )));
        }
    }
    for (name, check) in &layer.checks {
        if name.is_empty() {
            return Err(invalid("cannot use empty string as check name".into()));
        }
        if check.r#override.is_none() {
            return Err(invalid(format!(
                "layer {label:?} must define \"override\" for check {name:?}"
            )));
        }
    }
    for (name, target) in &layer.log_targets {
        if name.is_empty() {
            return Err(invalid("cannot use empty string as log target name".into()));
        }
        if target.r#override.is_none() {
            return Err(invalid(format!(
                "layer {label:?} must define \"override\" for log target {name:?}"
            )));
        }
        validate_log_labels(name, target)?;
    }
    check_cycles(&layer.services)
}

/// A layer label must be non-empty and must not use the reserved `pebble-` prefix.
pub fn validate_label(label: &str) -> Result<(), PlanError> {
    if label.is_empty() {
        return Err(invalid("label must be set".into()));
    }
    if label.starts_with(RESERVED_LABEL_PREFIX) {
        return Err(invalid(format!(
            "cannot use reserved label prefix {RESERVED_LABEL_PREFIX:?}"
        )));
    }
    Ok(())
}

/// A service name must not be empty, `pebble`, or start with `-`.
pub fn validate_service_name(name: &str) -> Result<(), PlanError> {
    if name.is_empty() {
        return Err(invalid("cannot use empty string as service name".into()));
    }
    if name == "pebble" {
        return Err(invalid(format!(
            "cannot use reserved service name {name:?}"
        )));
    }
    if name.starts_with('-') {
        return Err(invalid(format!(
            "cannot use service name {name:?}: starting with \"-\" not allowed"
        )));
    }
    Ok(())
}

fn validate_log_labels(name: &str, target: &LogTarget) -> Result<(), PlanError> {
    match target.labels.keys().find(|k| k.starts_with("pebble_")) {
        Some(label) => Err(invalid(format!(
            "log target {name:?}: label {label:?} uses reserved prefix \"pebble_\""
        ))),
        None => Ok(()),
    }
}

/// Combines layers, in order, into a validated plan (what `GET /v1/plan` shows).
///
/// Each element is `(label, layer)`; the label only appears in error messages. Checks that
/// leave `threshold` unset get [`DEFAULT_CHECK_THRESHOLD`], as Pebble prints them. The plan has
/// no summary or description.
pub fn combine_layers(layers: &[(String, Layer)]) -> Result<Plan, PlanError> {
    let mut plan = Plan::default();
    for (label, layer) in layers {
        for name in layer.services.keys() {
            validate_service_name(name)?;
        }
        combine_entries(label, &mut plan, layer)?;
    }
    validate_plan(&mut plan)?;
    Ok(plan)
}

/// Combines `new` into an existing layer with the same label (`POST /v1/layers` with
/// `combine: true` when the label exists), using the same override rules.
///
/// As in Pebble, the result takes the new layer's summary and description. Fails only when an
/// entry of `new` has no `override`; `existing` is left untouched then. The combined plan
/// still has to be validated with [`combine_layers`].
pub fn combine_into(existing: &mut Layer, new: &Layer) -> Result<(), PlanError> {
    let mut combined = existing.clone();
    combine_entries("", &mut combined, new)?;
    combined.summary = new.summary.clone();
    combined.description = new.description.clone();
    *existing = combined;
    Ok(())
}

/// Applies one layer's services, checks and log targets onto `acc`.
fn combine_entries(label: &str, acc: &mut Layer, layer: &Layer) -> Result<(), PlanError> {
    let missing = |kind: &str, name: &str| {
        invalid(format!(
            "layer {label:?} must define \"override\" for {kind} {name:?}"
        ))
    };
    for (name, new) in &layer.services {
        let mode = new.r#override.ok_or_else(|| missing("service", name))?;
        combine_one(&mut acc.services, name, new, mode, merge_service);
    }
    for (name, new) in &layer.checks {
        let mode = new.r#override.ok_or_else(|| missing("check", name))?;
        combine_one(&mut acc.checks, name, new, mode, merge_check);
    }
    for (name, new) in &layer.log_targets {
        let mode = new.r#override.ok_or_else(|| missing("log target", name))?;
        combine_one(&mut acc.log_targets, name, new, mode, merge_log_target);
    }
    Ok(())
}

fn combine_one<T: Clone>(
    acc: &mut BTreeMap<String, T>,
    name: &str,
    new: &T,
    mode: Override,
    merge: fn(&mut T, &T),
) {
    match (mode, acc.get_mut(name)) {
        (Override::Merge, Some(old)) => merge(old, new),
        _ => {
            acc.insert(name.to_string(), new.clone());
        }
    }
}

/// Overwrites `dst` when `src` is set.
fn set<T: Clone>(dst: &mut Option<T>, src: &Option<T>) {
    if src.is_some() {
        dst.clone_from(src);
    }
}

fn merge_map<V: Clone>(dst: &mut BTreeMap<String, V>, src: &BTreeMap<String, V>) {
    dst.extend(src.iter().map(|(k, v)| (k.clone(), v.clone())));
}

/// Field-wise merge of a service (`override: merge`). As in Pebble, the earlier definition's
/// `override` stays: the plan never shows `merge` where an earlier layer defined the entry.
pub fn merge_service(old: &mut Service, new: &Service) {
    set(&mut old.summary, &new.summary);
    set(&mut old.description, &new.description);
    set(&mut old.startup, &new.startup);
    set(&mut old.command, &new.command);
    old.after.extend(new.after.iter().cloned());
    old.before.extend(new.before.iter().cloned());
    old.requires.extend(new.requires.iter().cloned());
    set(&mut old.workload, &new.workload);
    merge_map(&mut old.environment, &new.environment);
    set(&mut old.user_id, &new.user_id);
    set(&mut old.user, &new.user);
    set(&mut old.group_id, &new.group_id);
    set(&mut old.group, &new.group);
    set(&mut old.working_dir, &new.working_dir);
    set(&mut old.on_success, &new.on_success);
    set(&mut old.on_failure, &new.on_failure);
    merge_map(&mut old.on_check_failure, &new.on_check_failure);
    set(&mut old.backoff_delay, &new.backoff_delay);
    set(&mut old.backoff_factor, &new.backoff_factor);
    set(&mut old.backoff_limit, &new.backoff_limit);
    set(&mut old.kill_delay, &new.kill_delay);
}

/// Field-wise merge of a check (`override: merge`); probe sections merge field-wise too. The
/// earlier `override` stays, as for services.
pub fn merge_check(old: &mut Check, new: &Check) {
    set(&mut old.level, &new.level);
    set(&mut old.startup, &new.startup);
    set(&mut old.period, &new.period);
    set(&mut old.timeout, &new.timeout);
    set(&mut old.threshold, &new.threshold);
    if let Some(http) = &new.http {
        let dst = old.http.get_or_insert_with(HttpCheck::default);
        if !http.url.is_empty() {
            dst.url.clone_from(&http.url);
        }
        merge_map(&mut dst.headers, &http.headers);
    }
    if let Some(tcp) = &new.tcp {
        let dst = old.tcp.get_or_insert_with(TcpCheck::default);
        if tcp.port != 0 {
            dst.port = tcp.port;
        }
        set(&mut dst.host, &tcp.host);
    }
    if let Some(exec) = &new.exec {
        let dst = old.exec.get_or_insert_with(ExecCheck::default);
        if !exec.command.is_empty() {
            dst.command.clone_from(&exec.command);
        }
        set(&mut dst.service_context, &exec.service_context);
        merge_map(&mut dst.environment, &exec.environment);
        set(&mut dst.user_id, &exec.user_id);
        set(&mut dst.user, &exec.user);
        set(&mut dst.group_id, &exec.group_id);
        set(&mut dst.group, &exec.group);
        set(&mut dst.working_dir, &exec.working_dir);
    }
}

/// Field-wise merge of a log target (`override: merge`); the earlier `override` stays.
pub fn merge_log_target(old: &mut LogTarget, new: &LogTarget) {
    set(&mut old.r#type, &new.r#type);
    set(&mut old.location, &new.location);
    old.services.extend(new.services.iter().cloned());
    merge_map(&mut old.labels, &new.labels);
}

/// Whether `replan` restarts a running service: its effective definition differs in any field
/// (Pebble compares the whole service entry, summary and environment included).
pub fn service_changed(old: &Service, new: &Service) -> bool {
    old != new
}

/// Validates a combined plan and fills the defaults Pebble prints (`threshold`).
fn validate_plan(plan: &mut Plan) -> Result<(), PlanError> {
    for (name, service) in &plan.services {
        match &service.command {
            Some(c) if !c.trim().is_empty() => {}
            _ => {
                return Err(invalid(format!(
                    "plan must define \"command\" for service {name:?}"
                )))
            }
        }
        if let Some(f) = service.backoff_factor {
            if f < 1.0 {
                return Err(invalid(format!(
                    "plan service {name:?} backoff-factor must be 1.0 or greater, not {f}"
                )));
            }
        }
        for (field, value) in [
            ("backoff-delay", &service.backoff_delay),
            ("backoff-limit", &service.backoff_limit),
            ("kill-delay", &service.kill_delay),
        ] {
            if let Some(v) = value {
                parse_go_duration(v).ok_or_else(|| {
                    invalid(format!(
                        "plan service {name:?} {field} has invalid duration {v:?}"
                    ))
                })?;
            }
        }
    }
    for (name, check) in plan.checks.iter_mut() {
        validate_check(name, check, &plan.services)?;
        check.threshold.get_or_insert(DEFAULT_CHECK_THRESHOLD);
    }
    for (name, target) in &plan.log_targets {
        validate_log_target(name, target, &plan.services)?;
    }
    check_cycles(&plan.services)
}

fn check_duration(
    name: &str,
    field: &str,
    value: &Option<String>,
) -> Result<Option<Duration>, PlanError> {
    let Some(text) = value else { return Ok(None) };
    let d = parse_go_duration(text).ok_or_else(|| {
        invalid(format!(
            "plan check {name:?} {field} has invalid duration {text:?}"
        ))
    })?;
    if d.is_zero() {
        return Err(invalid(format!(
            "plan check {name:?} {field} must not be zero"
        )));
    }
    Ok(Some(d))
}

fn validate_check(
    name: &str,
    check: &Check,
    services: &BTreeMap<String, Service>,
) -> Result<(), PlanError> {
    let period = check_duration(name, "period", &check.period)?.unwrap_or(DEFAULT_CHECK_PERIOD);
    let timeout = check_duration(name, "timeout", &check.timeout)?;
    // An unset timeout defaults to 3s capped at the period (real Pebble accepts `period: 2s`
    // alone); only an explicit timeout must be shorter than the period.
    if timeout.is_some_and(|t| t >= period) {
        return Err(invalid(format!(
            "plan check {name:?} timeout must be less than period"
        )));
    }
    let mut kinds = 0;
    if let Some(http) = &check.http {
        if http.url.is_empty() {
            return Err(invalid(format!(
                "plan must set \"url\" for http check {name:?}"
            )));
        }
        kinds += 1;
    }
    if let Some(tcp) = &check.tcp {
        if tcp.port == 0 {
            return Err(invalid(format!(
                "plan must set \"port\" for tcp check {name:?}"
            )));
        }
        kinds += 1;
    }
    if let Some(exec) = &check.exec {
        if exec.command.trim().is_empty() {
            return Err(invalid(format!(
                "plan must set \"command\" for exec check {name:?}"
            )));
        }
        if let Some(ctx) = &exec.service_context {
            if !services.contains_key(ctx) {
                return Err(invalid(format!(
                    "plan check {name:?} service context specifies non-existent service {ctx:?}"
                )));
            }
        }
        kinds += 1;
    }
    if kinds != 1 {
        return Err(invalid(format!(
            "plan must specify one of \"http\", \"tcp\", or \"exec\" for check {name:?}"
        )));
    }
    Ok(())
}

fn validate_log_target(
    name: &str,
    target: &LogTarget,
    services: &BTreeMap<String, Service>,
) -> Result<(), PlanError> {
    match target.r#type.as_deref() {
        Some("loki" | "opentelemetry") => {}
        None | Some("") => {
            return Err(invalid(format!(
                "plan must define \"type\" (\"loki\" or \"opentelemetry\") for log target {name:?}"
            )))
        }
        Some(other) => {
            return Err(invalid(format!(
                "log target {name:?} has unsupported type {other:?}, must be \"loki\" or \"opentelemetry\""
            )))
        }
    }
    for service in &target.services {
        let service = service.strip_prefix('-').unwrap_or(service);
        if service != "all" && !services.contains_key(service) {
            return Err(invalid(format!(
                "log target {name:?} specifies unknown service {service:?}"
            )));
        }
    }
    if target.location.as_deref().unwrap_or("").is_empty() {
        return Err(invalid(format!(
            "plan must define \"location\" for log target {name:?}"
        )));
    }
    validate_log_labels(name, target)
}

/// Rejects before/after loops between services (names in the message are sorted).
fn check_cycles(services: &BTreeMap<String, Service>) -> Result<(), PlanError> {
    // Edge a -> b means "a starts before b".
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, s) in services {
        edges.entry(name).or_default();
        for b in &s.before {
            edges.entry(name).or_default().insert(b);
        }
        for a in &s.after {
            edges.entry(a).or_default().insert(name);
        }
    }
    // Kahn's algorithm: whatever cannot be ordered is in (or behind) a loop.
    let mut indegree: BTreeMap<&str, usize> = edges.keys().map(|k| (*k, 0)).collect();
    for targets in edges.values() {
        for t in targets {
            *indegree.entry(t).or_default() += 1;
        }
    }
    let mut ready: Vec<&str> = indegree
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(k, _)| *k)
        .collect();
    while let Some(n) = ready.pop() {
        indegree.remove(n);
        for t in edges.get(n).into_iter().flatten() {
            if let Some(d) = indegree.get_mut(t) {
                *d -= 1;
                if *d == 0 {
                    ready.push(t);
                }
            }
        }
    }
    if indegree.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = indegree.keys().copied().collect();
    Err(invalid(format!(
        "services in before/after loop: {}",
        names.join(", ")
    )))
}

/// Parses a Go duration string (`500ms`, `1m30s`, `1.5h`); `None` when malformed.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() || rest.starts_with('-') {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * seconds;
    }
    Some(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("5 s"), None);
        assert_eq!(parse_go_duration(""), None);
    }
}

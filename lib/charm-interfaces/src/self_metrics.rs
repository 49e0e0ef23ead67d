//! `prometheus_scrape` provider (`self-metrics-endpoint`): another Prometheus (or an agent)
//! scrapes this one and evaluates our self-monitoring alert rules.
//!
//! Application databag (leader): `scrape_metadata`, `scrape_jobs` (every unit, wildcard target on
//! our port), `alert_rules`. Unit databag (every unit): address, name, path (`""`), fqdn. JSON
//! values are serialised with a fixed key order so they are byte-stable across hooks.

use crate::ordered::{OMap, OVal};
use crate::promql;
use crate::topology::Topology;
use crate::Databag;

/// Who we are and where we can be scraped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfMetrics<'a> {
    /// Model name.
    pub model: &'a str,
    /// Full model UUID.
    pub model_uuid: &'a str,
    /// This application's name.
    pub application: &'a str,
    /// This unit's name (the leader's, for the application databag).
    pub unit: &'a str,
    /// Charm name (`prometheus-k8s`).
    pub charm_name: &'a str,
    /// Address to scrape: the bind address when it is an IP, else the FQDN.
    pub address: &'a str,
    /// This unit's FQDN.
    pub fqdn: &'a str,
    /// Port to scrape (9090, or that of the external URL).
    pub port: u16,
    /// Path prefix before `/metrics` (an external URL's path), `""` when none.
    pub path: &'a str,
    /// Scrape over https (an `https://` external URL, or Prometheus serving TLS itself).
    pub https: bool,
    /// The CA (PEM) the scraper must trust, when Prometheus serves TLS itself: sent inline in
    /// `tls_config.ca_file`, as prometheus-k8s does (the scrape library writes it to a file).
    pub ca: Option<&'a str>,
}

/// (group, alert, expression, for, severity, summary, description)
type Rule = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// Our self-monitoring rules.
const RULES: &[Rule] = &[
    ("prometheus_self", "PrometheusConfigReloadFailed",
     "prometheus_config_last_reload_successful == 0", "10m", "warning",
     "Prometheus {{ $labels.juju_unit }} runs an old configuration",
     "The last configuration reload failed, so relation and config changes are not in effect. The charm's validate-configuration action shows the reason."),
    ("prometheus_self", "PrometheusScrapesLagging",
     "prometheus_target_interval_length_seconds{quantile=\"0.9\"} / on (instance, interval, job) prometheus_target_interval_length_seconds{quantile=\"0.5\"} > 1.25", "15m", "warning",
     "Prometheus scrapes run late",
     "The 90th percentile of the time between scrapes is more than 25% above the median for interval {{ $labels.interval }}: the server is short of CPU or has too many targets."),
    ("prometheus_self", "PrometheusNotificationsPilingUp",
     "min_over_time(prometheus_notifications_queue_length[10m]) > 0", "5m", "warning",
     "Alert notifications are queuing up",
     "The queue of notifications for Alertmanager has not been empty for 10 minutes: Alertmanager is slow or unreachable."),
    ("prometheus_self", "PrometheusRuleGroupsTooSlow",
     "prometheus_rule_group_last_duration_seconds > prometheus_rule_group_interval_seconds", "15m", "warning",
     "Rule group {{ $labels.rule_group }} takes longer than its interval",
     "Evaluations are being skipped, so alerts and recording rules of this group are late or missing."),
    ("prometheus_tsdb", "PrometheusTsdbReloadsFailing",
     "increase(prometheus_tsdb_reloads_failures_total[3h]) > 0", "0m", "warning",
     "Prometheus cannot reload blocks from disk",
     "{{ $value }} block reloads failed in the last 3 hours; the storage volume may be full or damaged."),
    ("prometheus_tsdb", "PrometheusTsdbCompactionsFailing",
     "increase(prometheus_tsdb_compactions_failed_total[3h]) > 0", "0m", "warning",
     "Prometheus cannot compact its storage",
     "{{ $value }} compactions failed in the last 3 hours; disk usage will grow until this is fixed."),
    ("prometheus_tsdb", "PrometheusTsdbWalCorrupted",
     "increase(prometheus_tsdb_wal_corruptions_total[3h]) > 0", "0m", "critical",
     "The Prometheus write-ahead log is corrupted",
     "{{ $value }} WAL corruptions in the last 3 hours; recent samples may be lost."),
    ("inventory_sd", "InventoryDiscoveryFailing",
     "inventory_sd_consecutive_failures > 3", "0m", "warning",
     "Inventory service discovery keeps failing",
     "The last {{ $value }} polls of the inventory failed; targets from the inventory are frozen at the last good answer."),
    ("inventory_sd", "InventoryDiscoveryStale",
     "time() - inventory_sd_last_success_timestamp_seconds > 600", "0m", "warning",
     "Inventory service discovery has not succeeded for 10 minutes",
     "Targets from the inventory may be out of date: hosts added or removed since then are not reflected."),
];

pub(crate) fn topology(s: &SelfMetrics<'_>) -> Topology {
    Topology {
        model: s.model.to_owned(),
        model_uuid: s.model_uuid.to_owned(),
        application: s.application.to_owned(),
        unit: s.unit.to_owned(),
        charm_name: s.charm_name.to_owned(),
    }
}

fn metadata(s: &SelfMetrics<'_>) -> OVal {
    let mut m = OMap::new();
    m.insert("model", OVal::str(s.model));
    m.insert("model_uuid", OVal::str(s.model_uuid));
    m.insert("application", OVal::str(s.application));
    m.insert("unit", OVal::str(s.unit));
    m.insert("charm_name", OVal::str(s.charm_name));
    OVal::Obj(m)
}

fn jobs(s: &SelfMetrics<'_>) -> OVal {
    let mut sc = OMap::new();
    sc.insert(
        "targets",
        OVal::Arr(vec![OVal::str(format!("*:{}", s.port))]),
    );
    let mut job = OMap::new();
    job.insert("metrics_path", OVal::str("/metrics"));
    job.insert("static_configs", OVal::Arr(vec![OVal::Obj(sc)]));
    if s.https {
        job.insert("scheme", OVal::str("https"));
        if let Some(ca) = s.ca {
            let mut tls = OMap::new();
            tls.insert("ca_file", OVal::str(ca));
            job.insert("tls_config", OVal::Obj(tls));
        }
    }
    OVal::Arr(vec![OVal::Obj(job)])
}

pub(crate) fn group_name(t: &Topology, group: &str) -> String {
    format!("{}_{group}_rules", t.identifier())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The `alert_rules` document: `{"groups": [...]}`, topology labels on every rule and topology
/// matchers in every expression.
fn rules(s: &SelfMetrics<'_>) -> OVal {
    let mut doc = OMap::new();
    doc.insert("groups", OVal::Arr(rule_groups(s)));
    OVal::Obj(doc)
}

/// The self-monitoring rule groups (what `alert_rules` holds), each rule with topology labels
/// and its expression with topology matchers.
pub(crate) fn rule_groups(s: &SelfMetrics<'_>) -> Vec<OVal> {
    let t = topology(s);
    let mut groups: Vec<(String, Vec<OVal>)> = Vec::new();
    for (group, alert, expr, for_, severity, summary, description) in RULES {
        let mut labels = t.target_labels();
        labels.insert("severity", OVal::str(*severity));
        let mut annotations = OMap::new();
        annotations.insert("summary", OVal::str(*summary));
        annotations.insert("description", OVal::str(*description));
        let expr = promql::inject_matchers(expr, &t.alert_matchers())
            .unwrap_or_else(|_| (*expr).to_owned());
        let mut rule = OMap::new();
        rule.insert("alert", OVal::str(*alert));
        rule.insert("expr", OVal::str(expr));
        rule.insert("for", OVal::str(*for_));
        rule.insert("labels", OVal::Obj(labels));
        rule.insert("annotations", OVal::Obj(annotations));
        let name = group_name(&t, group);
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, rules)) => rules.push(OVal::Obj(rule)),
            None => groups.push((name, vec![OVal::Obj(rule)])),
        }
    }
    groups
        .into_iter()
        .map(|(name, rules)| {
            let mut g = OMap::new();
            g.insert("name", OVal::str(name));
            g.insert("rules", OVal::Arr(rules));
            OVal::Obj(g)
        })
        .collect()
}

/// The leader's application databag.
pub fn app_data(s: &SelfMetrics<'_>) -> Databag {
    Databag::from([
        ("scrape_metadata".to_owned(), metadata(s).py_dumps()),
        ("scrape_jobs".to_owned(), jobs(s).py_dumps()),
        ("alert_rules".to_owned(), rules(s).py_dumps()),
    ])
}

/// Every unit's databag.
pub fn unit_data(s: &SelfMetrics<'_>) -> Databag {
    Databag::from([
        (
            "prometheus_scrape_unit_address".to_owned(),
            s.address.to_owned(),
        ),
        ("prometheus_scrape_unit_name".to_owned(), s.unit.to_owned()),
        ("prometheus_scrape_unit_path".to_owned(), s.path.to_owned()),
        ("prometheus_scrape_unit_fqdn".to_owned(), s.fqdn.to_owned()),
    ])
}

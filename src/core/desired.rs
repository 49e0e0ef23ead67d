//! From a model snapshot to everything the charm wants: the workload's files and layer, the
//! relation data to write, and the problems to show. Pure: no Juju or Pebble calls, so hooks
//! and `render` share it.

use std::collections::BTreeMap;

use charm_interfaces::scrape::{self, AppError, Explanation, ScrapeOutcome};
use charm_interfaces::{
    alert_rules, alertmanager, catalogue, datasource_exchange, grafana_source, ingress_per_unit,
    prometheus_api, remote_write, self_metrics, Databag, RelationView,
};
use foldhash::HashMap;
use juju_hook::{RelationId, Status};

use crate::core::config::{CharmConfig, RetentionSize};
use crate::core::desired_workload::{
    DesiredFile, DesiredWorkload, FileContent, FileRole, LocalFile,
};
use crate::core::endpoints::{
    ALERTMANAGER, CATALOGUE, CHARM_TRACING, GRAFANA_DASHBOARD, GRAFANA_SOURCE, INGRESS, LOGGING,
    METRICS_ENDPOINT, PROMETHEUS_API, RECEIVE_CA_CERT, RECEIVE_REMOTE_WRITE, SELF_METRICS_ENDPOINT,
    SEND_DATASOURCE, SEND_REMOTE_WRITE, WORKLOAD_TRACING,
};
use crate::core::layer::{
    add_targets_service, build_layer, InventoryService, TargetsService, INVENTORY_READY_CHECK,
    INVENTORY_URL_FILE,
};
use crate::core::model::{ModelSnapshot, RelationSnapshot};
use crate::core::prometheus_config::relation_targets::TargetFile;
use crate::core::prometheus_config::{
    self, relation_jobs_path, render_owned, ConfigInput, RelationJobsFile,
};
use crate::core::relation_shape::{JobNames, JobsBasis, RelationShape};
use crate::core::sharding;
use crate::core::version::PrometheusVersion;
use crate::core::workload::{
    CHARM_NAME, CONFIG_DIR, CONFIG_FILE, INVENTORY_SERVICE, POLLER_BINARY, PROMETHEUS_PORT,
    RULES_DIR, TARGETS_DIR, TARGETS_SERVICE,
};

/// What [`compute`] needs besides the snapshot.
pub struct DesiredInputs<'a> {
    /// The model as read in this hook.
    pub snapshot: &'a ModelSnapshot,
    /// The validated config.
    pub config: &'a CharmConfig,
    /// The Prometheus version to render for.
    pub version: PrometheusVersion,
    /// Whether Pebble's plan already has the poller service (layers cannot remove it).
    pub inventory_in_plan: bool,
    /// Whether Pebble's plan already has the relation-targets service.
    pub targets_in_plan: bool,
    /// This binary in the charm container, pushed for the poller when the inventory is on.
    pub charm_binary: Option<&'a LocalFile>,
    /// Rule files promtool rejected in this hook (live path → reason): left out and reported.
    pub rejected_rules: &'a BTreeMap<String, String>,
    /// The `--web.external-url` Prometheus runs with (from Pebble's plan), kept while the
    /// ingress relation's data is unusable.
    pub external_url_in_plan: Option<&'a str>,
    /// The log targets of Pebble's current plan (`None`: unknown), so that targets no Loki
    /// unit wants any more are turned off.
    pub log_targets_in_plan: Option<&'a BTreeMap<String, pebble::LogTarget>>,
    /// Where Prometheus reaches the relation-targets server.
    pub targets_url: &'a str,
    /// Whether to say why each relation job exists ([`Desired::explanations`]): `render`
    /// shows it, a hook never reads it.
    pub explain: bool,
}

/// Keys to write into one databag (only those that differ from what is there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationWrite {
    /// The relation.
    pub relation: RelationId,
    /// The application databag (leader only) rather than this unit's.
    pub app: bool,
    /// Keys and values; an empty value deletes the key.
    pub data: Databag,
}

/// A problem with one related application's data: it is left out, the rest keeps working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationProblem {
    /// The relation.
    pub relation: RelationId,
    /// The remote application.
    pub app: String,
    /// What is wrong.
    pub message: String,
}

/// Everything the charm wants for one snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// Files, layer and services of the workload.
    pub workload: DesiredWorkload,
    /// Relation data to write.
    pub writes: Vec<RelationWrite>,
    /// Related applications whose data was (partly) refused.
    pub problems: Vec<RelationProblem>,
    /// Why each scrape job exists or was dropped; empty unless [`DesiredInputs::explain`].
    pub explanations: Vec<Explanation>,
    /// The shapes of the isolated `metrics-endpoint` relations, for a later hook in which only
    /// one of them changed (see [`crate::core::relation_shape`]).
    pub relation_shapes: Vec<crate::core::relation_shape::RelationShape>,
    /// When isolated relations have job files of their own: what a later hook changing one
    /// of them alone needs (see [`crate::core::relation_shape`]).
    pub jobs_basis: Option<crate::core::relation_shape::JobsBasis>,
    /// Notes from rendering (renamed jobs and similar).
    pub notes: Vec<String>,
    /// What an Active unit says: a setting not in effect that needs no fix to run (a
    /// percentage retention size while the volume's capacity is unknown).
    pub notice: Option<String>,
}

impl Desired {
    /// The unit status once the workload runs this state: Active, or Blocked naming the
    /// related application whose data was refused.
    pub fn status(&self) -> Status {
        match self.problems.as_slice() {
            [] => Status::active(self.notice.clone().unwrap_or_default()),
            [first, rest @ ..] => {
                let more = if rest.is_empty() {
                    String::new()
                } else {
                    format!(" (and {} more)", rest.len())
                };
                Status::blocked(format!(
                    "{} ({}): {}{more}",
                    first.relation, first.app, first.message
                ))
            }
        }
    }
}

/// Why no desired state could be computed.
#[derive(Debug, thiserror::Error)]
pub enum DesiredError {
    /// prometheus.yml could not be serialised.
    #[error(transparent)]
    Render(#[from] crate::core::prometheus_config::RenderError),
    /// The layer could not be built.
    #[error(transparent)]
    Layer(#[from] crate::core::layer::LayerError),
}

fn views<'a>(snapshot: &'a ModelSnapshot, endpoint: &'a str) -> Vec<RelationView<'a>> {
    snapshot.relations_on(endpoint).map(view).collect()
}

/// The charm-interfaces view of one relation.
pub(crate) fn view(rel: &RelationSnapshot) -> RelationView<'_> {
    RelationView {
        endpoint: &rel.endpoint,
        id: rel.id,
        app: &rel.app,
        app_data: &rel.app_data,
        units: rel
            .units
            .iter()
            .map(|u| (u.name.as_str(), &u.data))
            .collect(),
    }
}

fn problems_from(endpoint: &str, errors: &[AppError], into: &mut Vec<RelationProblem>) {
    into.extend(errors.iter().map(|e| RelationProblem {
        relation: RelationId::new(endpoint, e.relation_id),
        app: e.app.clone(),
        message: e.message.clone(),
    }));
}

/// Computes the desired state.
pub fn compute(inputs: &DesiredInputs<'_>) -> Result<Desired, DesiredError> {
    let snapshot = inputs.snapshot;
    let mut problems = Vec::new();

    let metrics = views(snapshot, METRICS_ENDPOINT.name);
    let mut scrape = scrape::scrape_jobs_with(&metrics, inputs.explain);
    let RulesPerRelation {
        all: scrape_rules,
        digests: scrape_rule_digests,
    } = rules_per_relation(
        &metrics,
        inputs.rejected_rules,
        alert_rules::scrape_rule_files,
    );
    problems_from(METRICS_ENDPOINT.name, &scrape.per_app_errors, &mut problems);
    problems_from(
        METRICS_ENDPOINT.name,
        &scrape_rules.per_app_errors,
        &mut problems,
    );

    let senders = views(snapshot, RECEIVE_REMOTE_WRITE.name);
    let sender_rules = rules_per_relation(
        &senders,
        inputs.rejected_rules,
        remote_write::sender_rule_files,
    )
    .all;
    problems_from(
        RECEIVE_REMOTE_WRITE.name,
        &sender_rules.per_app_errors,
        &mut problems,
    );

    let alerting = alertmanager::alertmanagers(&views(snapshot, ALERTMANAGER.name));
    problems_from(ALERTMANAGER.name, &alerting.per_app_errors, &mut problems);

    let receivers = remote_write::endpoints(&views(snapshot, SEND_REMOTE_WRITE.name));
    problems_from(
        SEND_REMOTE_WRITE.name,
        &receivers.per_app_errors,
        &mut problems,
    );

    let ingress = ingress_url(snapshot, inputs.external_url_in_plan, &mut problems);
    let tls = crate::core::tls::desired(snapshot);
    problems.extend(tls.problems.iter().cloned());
    let mut notes = tls.notes.clone();
    let datasources = datasources(snapshot, &mut problems);
    // The URL Prometheus is reached at from outside: `web_external_url` when the operator set
    // it (as prometheus-k8s while the option had an effect), else the ingress URL, else none
    // (Prometheus' own address). Everything below (flags, published URLs) follows it.
    let mut config = inputs.config.clone();
    match (&config.web_external_url, &ingress) {
        (Some(url), Some((rel, _))) => notes.push(format!(
            "external URL {url} from web_external_url (it takes precedence over the URL of {rel})"
        )),
        (None, Some((rel, url))) => {
            notes.push(format!("external URL {url} from {rel}"));
            config.web_external_url = Some(url.clone());
        }
        _ => {}
    }
    let config = &config;

    let topology = snapshot.topology();
    let mut input = ConfigInput::new(config, topology, inputs.version);
    input.self_target = format!("{}:{PROMETHEUS_PORT}", snapshot.fqdn);
    let mut relation_shapes = crate::core::relation_shape::isolated_shapes(
        METRICS_ENDPOINT.name,
        &metrics.iter().map(|v| v.id).collect::<Vec<_>>(),
        &scrape,
        &scrape_rule_digests,
        &input.own_job_names(),
    );
    let job_names = inputs
        .version
        .supports_scrape_config_files()
        .then(|| JobNames::of(&scrape));
    if job_names.is_some() {
        input.relation_files = relation_files(&mut relation_shapes, &mut scrape);
    }
    input.relation_jobs = std::mem::take(&mut scrape.jobs);
    input.alertmanagers = alerting.alertmanagers;
    input.remote_write = receivers.endpoints;
    input.tracing = crate::core::workload_tracing::tracing_config(snapshot, &mut problems);
    if tls.server_ca.is_some() {
        input.self_ca_file = Some(crate::core::tls::SERVER_CA_FILE.to_owned());
    }
    input.trusted_cas_file = tls.trusted_cas.map(str::to_owned);
    input.targets_url = inputs.targets_url.to_owned();
    // The charm-tracing receiver is used by the next hook's exporter; here only its problems.
    crate::core::charm_tracing::receiver(snapshot, &mut problems);
    if inputs.config.scrape_sharding {
        let planned = snapshot.planned_numbers().unwrap_or_default();
        input.shard = sharding::shard_for(snapshot.unit_id, &planned);
    }
    // Series leave this Prometheus (remote write) or are split across units: label them.
    if inputs.config.scrape_sharding || !input.remote_write.is_empty() {
        input.global.external_labels =
            sharding::external_labels(&input.topology, inputs.config.scrape_sharding);
    }
    let context = input.jobs_context();
    let rendered = render_owned(input)?;
    let jobs = rendered.jobs;

    let mut files = vec![DesiredFile::config(CONFIG_FILE, rendered.yaml)];
    for (path, content) in rendered.relation_files {
        files.push(DesiredFile::relation_jobs(
            format!("{CONFIG_DIR}/{path}"),
            content,
        ));
    }
    for (name, content) in scrape_rules.files.iter().chain(&sender_rules.files) {
        files.push(DesiredFile::config(
            format!("{RULES_DIR}/{name}"),
            content.clone(),
        ));
    }
    let targets = TargetsService::new(!rendered.target_files.is_empty(), inputs.targets_in_plan);
    files.extend(rendered.target_files.into_iter().map(target_file));
    let inventory = InventoryService::from_config(inputs.config, inputs.inventory_in_plan);
    // The binary runs the relation-targets server and the poller.
    if targets == TargetsService::On || matches!(inventory, InventoryService::On(_)) {
        if let Some(binary) = inputs.charm_binary {
            files.push(poller_binary(binary));
        }
    }
    if let InventoryService::On(inv) = &inventory {
        files.push(inventory_url_file(&inv.url));
    }
    let (mut stopped_services, stopped_checks) = match inventory {
        InventoryService::OffButPresent => (
            vec![INVENTORY_SERVICE.to_string()],
            vec![INVENTORY_READY_CHECK.to_string()],
        ),
        _ => (Vec::new(), Vec::new()),
    };
    if targets == TargetsService::OffButPresent {
        stopped_services.push(TARGETS_SERVICE.to_string());
    }
    files.extend(tls.files.iter().cloned());
    let mut layer = build_layer(&with_computed_retention(inputs, config), inventory)?;
    add_targets_service(&mut layer, targets)?;
    layer.log_targets = crate::core::log_forwarding::log_targets(
        snapshot,
        inputs.log_targets_in_plan,
        &mut problems,
    );
    let web_tls = tls
        .server_ca
        .as_ref()
        .map(|ca| crate::core::desired_workload::WebTls {
            ca: ca.clone(),
            server_name: snapshot.fqdn.clone(),
        });
    if web_tls.is_some() {
        files.extend(crate::core::tls::secure_layer(
            &mut layer,
            inputs.version,
            &snapshot.fqdn,
        ));
    }
    let inline_renames = !rendered.notes.is_empty();
    notes.extend(rendered.notes);

    let reload_timeout = prometheus_config::reload_timeout(jobs, config_bytes(&files));
    let jobs_basis = job_names.map(|names| JobsBasis {
        context,
        inline_renames,
        web_tls: web_tls.clone(),
        reload_timeout,
        names,
    });
    Ok(Desired {
        workload: DesiredWorkload {
            files,
            layer,
            stopped_services,
            stopped_checks,
            prometheus_version: Some(inputs.version.to_string()),
            web_tls,
            reload_timeout,
        },
        writes: relation_writes(
            inputs,
            config,
            datasources,
            &scrape,
            &scrape_rules,
            &sender_rules,
            &tls,
        ),
        problems,
        explanations: scrape.explanations,
        relation_shapes,
        jobs_basis,
        notes,
        notice: match (retention_notice(inputs), tls.notice) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        },
    })
}

/// Moves the jobs of each isolated relation (`shapes`) out of `scrape` into a job file of its
/// own, recorded in its shape.
fn relation_files(
    shapes: &mut [RelationShape],
    scrape: &mut ScrapeOutcome,
) -> Vec<RelationJobsFile> {
    let mut files: Vec<RelationJobsFile> = shapes
        .iter_mut()
        .map(|shape| {
            let path = relation_jobs_path(&shape.relation);
            shape.jobs_file = Some(path.clone());
            RelationJobsFile {
                path,
                jobs: Vec::new(),
            }
        })
        .collect();
    let file_of: HashMap<u32, usize> = shapes
        .iter()
        .enumerate()
        .map(|(i, shape)| (shape.relation.id, i))
        .collect();
    let mut inline = Vec::with_capacity(scrape.jobs.len());
    let mut inline_relations = Vec::with_capacity(scrape.jobs.len());
    for (job, relation) in std::mem::take(&mut scrape.jobs)
        .into_iter()
        .zip(std::mem::take(&mut scrape.job_relations))
    {
        match file_of.get(&relation) {
            Some(&i) => files[i].jobs.push(job),
            None => {
                inline.push(job);
                inline_relations.push(relation);
            }
        }
    }
    scrape.jobs = inline;
    scrape.job_relations = inline_relations;
    files
}

/// The config with a percentage `maximum_retention_size` turned into a size of the database
/// volume, once its capacity is known (without it: no size limit).
fn with_computed_retention(inputs: &DesiredInputs<'_>, config: &CharmConfig) -> CharmConfig {
    let mut config = config.clone();
    if let (Some(percent), Some(capacity)) = (
        config.maximum_retention_percent,
        &inputs.snapshot.pvc_capacity,
    ) {
        config.maximum_retention_size = RetentionSize::percent_of(capacity, percent);
    }
    config
}

/// A percentage retention without the volume's capacity (the application is not trusted, or
/// the API did not answer): Prometheus runs with no size limit, which the unit says.
fn retention_notice(inputs: &DesiredInputs<'_>) -> Option<String> {
    let percent = inputs.config.maximum_retention_percent?;
    if inputs.snapshot.pvc_capacity.is_some() {
        return None;
    }
    Some(format!(
        "no TSDB size limit: maximum_retention_size={percent}% needs \"juju trust {} --scope=cluster\"",
        inputs.snapshot.app_name
    ))
}

/// Rule files relation by relation, so a file promtool rejected is traced to its application:
/// that file is left out and the application gets an error; every other file is kept.
fn rules_per_relation(
    views: &[RelationView<'_>],
    rejected: &BTreeMap<String, String>,
    rule_files: fn(&[RelationView<'_>]) -> alert_rules::RulesOutcome,
) -> RulesPerRelation {
    let mut out = RulesPerRelation::default();
    for view in views {
        let mut one = rule_files(std::slice::from_ref(view));
        let files = std::mem::take(&mut one.files);
        for (name, content) in files {
            match rejected.get(&format!("{RULES_DIR}/{name}")) {
                Some(reason) => one.per_app_errors.push(AppError {
                    relation_id: view.id,
                    app: view.app.to_string(),
                    message: format!("alert rules rejected by promtool: {reason}"),
                }),
                None => one.files.push((name, content)),
            }
        }
        out.digests
            .insert(view.id, crate::core::relation_shape::rules_digest(&one));
        out.all.per_app_errors.append(&mut one.per_app_errors);
        out.all.files.append(&mut one.files);
    }
    out
}

/// Rule files of every relation of an endpoint, and each relation's
/// [`crate::core::relation_shape::rules_digest`].
#[derive(Default)]
struct RulesPerRelation {
    all: alert_rules::RulesOutcome,
    digests: BTreeMap<u32, String>,
}

/// The relation data this unit (and, as leader, this application) publishes.
fn relation_writes(
    inputs: &DesiredInputs<'_>,
    config: &CharmConfig,
    datasources: Databag,
    scrape: &scrape::ScrapeOutcome,
    scrape_rules: &alert_rules::RulesOutcome,
    sender_rules: &alert_rules::RulesOutcome,
    tls: &crate::core::tls::TlsDesired,
) -> Vec<RelationWrite> {
    let snapshot = inputs.snapshot;
    let leader = snapshot.leader;
    // Prometheus serves HTTPS once a certificate is in use: every URL of the unit itself says so.
    let https = tls.server_ca.is_some();
    let own_scheme = if https { "https" } else { "http" };
    let internal_url = format!("{own_scheme}://{}:{PROMETHEUS_PORT}", snapshot.fqdn);
    // Published URLs follow the external URL (`web_external_url` or the ingress URL) when
    // there is one (a proxy in front, which strips the path: Prometheus serves at `/`).
    let base_url = config
        .web_external_url
        .clone()
        .unwrap_or_else(|| internal_url.clone());
    let external = config
        .web_external_url
        .as_deref()
        .and_then(|u| reqwest::Url::parse(u).ok());
    let (scrape_address, scrape_port, scrape_path, scrape_https) = match &external {
        Some(url) => (
            url.host_str().unwrap_or_default().to_owned(),
            url.port_or_known_default().unwrap_or(PROMETHEUS_PORT),
            url.path().trim_end_matches('/').to_owned(),
            url.scheme() == "https",
        ),
        None => (snapshot.fqdn.clone(), PROMETHEUS_PORT, String::new(), https),
    };
    // The scraper must trust the served certificate's CA (not when a proxy is in front).
    let scrape_ca = match &external {
        None => tls.server_ca.as_deref(),
        Some(_) => None,
    };
    let unit_name = snapshot.unit_name();
    let mut writes = Vec::new();

    // Feedback to providers whose jobs or rules were refused (read by their charm library).
    if leader {
        for (endpoint, scrape_errors, rules) in [
            (
                METRICS_ENDPOINT.name,
                scrape.per_app_errors.as_slice(),
                scrape_rules,
            ),
            (RECEIVE_REMOTE_WRITE.name, &[][..], sender_rules),
        ] {
            let ids: Vec<u32> = snapshot.relations_on(endpoint).map(|r| r.id).collect();
            let feedback =
                scrape::feedback::event_feedback(&ids, scrape_errors, &rules.per_app_errors);
            for rel in snapshot.relations_on(endpoint) {
                if let Some(wanted) = feedback.get(&rel.id) {
                    push_write(&mut writes, rel, true, wanted);
                }
            }
        }
    }

    let (grafana_app, mut grafana_unit) = grafana_source::desired(&grafana_source::GrafanaSource {
        model: &snapshot.model.name,
        model_uuid: &snapshot.model.uuid,
        application: &snapshot.app_name,
        fqdn: &snapshot.fqdn,
        port: PROMETHEUS_PORT,
        https,
        scrape_interval: config.scrape_interval.as_str(),
    });
    grafana_unit.insert(grafana_source::UNIT_HOST_KEY.to_owned(), base_url.clone());
    let me = self_metrics::SelfMetrics {
        model: &snapshot.model.name,
        model_uuid: &snapshot.model.uuid,
        application: &snapshot.app_name,
        unit: &unit_name,
        charm_name: CHARM_NAME,
        address: &scrape_address,
        fqdn: &snapshot.fqdn,
        port: scrape_port,
        path: &scrape_path,
        https: scrape_https,
        ca: scrape_ca,
    };
    let remote_write_unit = remote_write::provider_unit_data(&base_url);
    let ingress_request = ingress_per_unit::request_unit_data(&ingress_per_unit::IngressRequest {
        model: &snapshot.model.name,
        unit: &unit_name,
        host: &snapshot.fqdn,
        port: PROMETHEUS_PORT,
        https,
    });
    // The units the receiver's ruler watches: the planned ones when goal-state was read
    // (`scrape_sharding`), else this one.
    let units: Vec<String> = match snapshot.planned_numbers() {
        Some(numbers) if !numbers.is_empty() => numbers
            .iter()
            .map(|n| format!("{}/{n}", snapshot.app_name))
            .collect(),
        _ => vec![unit_name.clone()],
    };
    let per_endpoint: [(&str, Option<Databag>, Databag); 12] = [
        (GRAFANA_SOURCE.name, Some(grafana_app), grafana_unit),
        (
            SELF_METRICS_ENDPOINT.name,
            Some(self_metrics::app_data(&me)),
            self_metrics::unit_data(&me),
        ),
        (RECEIVE_REMOTE_WRITE.name, None, remote_write_unit),
        (INGRESS.name, None, ingress_request),
        (
            CATALOGUE.name,
            Some(catalogue::app_data(&base_url)),
            Databag::new(),
        ),
        (
            PROMETHEUS_API.name,
            Some(prometheus_api::app_data(
                &internal_url,
                config.web_external_url.as_deref(),
            )),
            Databag::new(),
        ),
        (SEND_DATASOURCE.name, Some(datasources), Databag::new()),
        (
            SEND_REMOTE_WRITE.name,
            Some(remote_write::consumer_app_data(&me, &units)),
            Databag::new(),
        ),
        (
            LOGGING.name,
            Some(crate::core::log_forwarding::app_data(snapshot)),
            Databag::new(),
        ),
        (
            WORKLOAD_TRACING.name,
            Some(crate::core::workload_tracing::request_app_data()),
            Databag::new(),
        ),
        (
            CHARM_TRACING.name,
            Some(crate::core::workload_tracing::request_app_data()),
            Databag::new(),
        ),
        (
            GRAFANA_DASHBOARD.name,
            leader
                .then(|| crate::core::grafana_dashboard::app_data(snapshot))
                .flatten(),
            Databag::new(),
        ),
    ];
    for (endpoint, app_data, unit_data) in &per_endpoint {
        for rel in snapshot.relations_on(endpoint) {
            if let (true, Some(app_data)) = (leader, app_data) {
                push_write(&mut writes, rel, true, app_data);
            }
            push_write(&mut writes, rel, false, unit_data);
        }
    }
    // The certificate request (every unit, its own) and the certificate_transfer version.
    if let Some((relation, request)) = &tls.request {
        if let Some(rel) = snapshot
            .relations
            .iter()
            .find(|r| &r.relation_id() == relation)
        {
            push_write(&mut writes, rel, false, request);
        }
    }
    if leader {
        let version = crate::core::tls::receive_ca_cert_app_data();
        for rel in snapshot.relations_on(RECEIVE_CA_CERT.name) {
            push_write(&mut writes, rel, true, &version);
        }
    }
    writes
}

/// This unit's URL from the ingress relation, with the relation it came from (`None`: no
/// relation or no route yet). Unusable data is a problem of that relation only: Prometheus
/// keeps the external URL it runs with (`in_plan`), so nothing restarts and the published
/// URLs stay as they are until the provider's data is fixed.
fn ingress_url(
    snapshot: &ModelSnapshot,
    in_plan: Option<&str>,
    problems: &mut Vec<RelationProblem>,
) -> Option<(RelationId, String)> {
    let unit = snapshot.unit_name();
    for rel in snapshot.relations_on(INGRESS.name) {
        match ingress_per_unit::unit_url(&rel.app_data, &unit) {
            Ok(Some(url)) => return Some((rel.relation_id(), url)),
            Ok(None) => {}
            Err(message) => {
                problems.push(RelationProblem {
                    relation: rel.relation_id(),
                    app: rel.app.clone(),
                    message,
                });
                return in_plan.map(|url| (rel.relation_id(), url.to_owned()));
            }
        }
    }
    None
}

/// The `send-datasource` application databag: the datasource UIDs every related Grafana gave
/// this application's units. A Grafana whose answer cannot be used is a problem of its
/// `grafana-source` relation and is left out; the datasource itself keeps working.
fn datasources(snapshot: &ModelSnapshot, problems: &mut Vec<RelationProblem>) -> Databag {
    let mut grafanas = Vec::new();
    for rel in snapshot.relations_on(GRAFANA_SOURCE.name) {
        match datasource_exchange::grafana_uids(&rel.app_data) {
            Ok(Some(g)) => grafanas.push(g),
            Ok(None) => {}
            Err(message) => problems.push(RelationProblem {
                relation: rel.relation_id(),
                app: rel.app.clone(),
                message,
            }),
        }
    }
    datasource_exchange::app_data(&grafanas)
}

/// The `--web.external-url` of a Prometheus command line, if it has one.
pub fn external_url_of(command: &str) -> Option<&str> {
    command
        .split_whitespace()
        .find_map(|arg| arg.strip_prefix("--web.external-url="))
}

/// Adds a write of the keys of `wanted` that differ from what the databag holds.
/// Adds to `writes` the keys of `wanted` that `rel`'s own databag (the application's when
/// `app`) does not hold yet.
pub(crate) fn push_write(
    writes: &mut Vec<RelationWrite>,
    rel: &RelationSnapshot,
    app: bool,
    wanted: &Databag,
) {
    let current = if app {
        &rel.local_app_data
    } else {
        &rel.local_unit_data
    };
    // Only keys the charm manages: Juju's own keys (ingress-address...) stay untouched, and
    // "" (delete) for an absent key is no change.
    let data: Databag = wanted
        .iter()
        .filter(|(k, v)| current.get(*k).map_or("", String::as_str) != v.as_str())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !data.is_empty() {
        writes.push(RelationWrite {
            relation: rel.relation_id(),
            app,
            data,
        });
    }
}

/// The inventory URL for the poller, readable only by it (it may carry credentials).
fn inventory_url_file(url: &str) -> DesiredFile {
    DesiredFile {
        path: INVENTORY_URL_FILE.to_string(),
        content: FileContent::Bytes(format!("{url}\n").into()),
        permissions: 0o600,
        role: FileRole::PollerInput,
    }
}

/// A relation job's target file as a file of the workload, served to Prometheus by the
/// relation-targets service.
pub fn target_file(file: TargetFile) -> DesiredFile {
    DesiredFile {
        path: [TARGETS_DIR, "/", &file.file_name()].concat(),
        content: FileContent::Bytes(file.json.into()),
        permissions: 0o644,
        role: FileRole::ScrapeTargets,
    }
}

/// The charm's own binary as a file for the workload.
fn poller_binary(binary: &LocalFile) -> DesiredFile {
    DesiredFile {
        path: POLLER_BINARY.to_string(),
        content: FileContent::Local {
            path: binary.path.clone(),
            identity: binary.identity.clone(),
        },
        permissions: 0o755,
        role: FileRole::PollerBinary,
    }
}

/// Computes the desired state for a snapshot, without touching anything, as a hook does (a
/// fresh container: no plan, no charm binary to push; no explanations).
pub fn desired_for(snapshot: &ModelSnapshot) -> anyhow::Result<Desired> {
    desired_for_with(snapshot, false)
}

/// [`desired_for`] with [`Desired::explanations`]: the path `render` takes.
pub fn desired_explained(snapshot: &ModelSnapshot) -> anyhow::Result<Desired> {
    desired_for_with(snapshot, true)
}

fn desired_for_with(snapshot: &ModelSnapshot, explain: bool) -> anyhow::Result<Desired> {
    let config = CharmConfig::from_options(&snapshot.config)
        .map_err(|e| anyhow::anyhow!(e.status_message()))?;
    Ok(compute(&DesiredInputs {
        snapshot,
        config: &config,
        version: PrometheusVersion::detected_or_assumed(snapshot.prometheus_version.as_deref()),
        inventory_in_plan: false,
        targets_in_plan: false,
        charm_binary: None,
        rejected_rules: &BTreeMap::new(),
        external_url_in_plan: None,
        log_targets_in_plan: None,
        targets_url: &crate::core::prometheus_config::relation_targets::default_base_url(),
        explain,
    })?)
}

/// The bytes of the files Prometheus reads its configuration from (prometheus.yml, job files,
/// rules).
fn config_bytes(files: &[DesiredFile]) -> usize {
    files
        .iter()
        .filter(|f| f.is_configuration())
        .map(|f| match &f.content {
            FileContent::Bytes(bytes) => bytes.len(),
            FileContent::Local { .. } => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::endpoints::{by_name, ENDPOINTS};
    use crate::core::model::{ModelInfo, UnitSnapshot};

    /// A leader with one related application on every endpoint it reads.
    fn related_everywhere() -> ModelSnapshot {
        let relations = ENDPOINTS
            .iter()
            .zip(1..)
            .map(|(endpoint, id)| {
                let app = format!("remote{id}");
                RelationSnapshot {
                    endpoint: endpoint.name.to_owned(),
                    id,
                    app: app.clone(),
                    app_data: Databag::new(),
                    units: vec![UnitSnapshot {
                        name: format!("{app}/0"),
                        data: Databag::new(),
                    }],
                    local_app_data: Databag::new(),
                    local_unit_data: Databag::new(),
                }
            })
            .collect();
        ModelSnapshot {
            description: None,
            config: serde_json::Map::new(),
            leader: true,
            model: ModelInfo {
                name: "cos".into(),
                uuid: "f2c4a6d8-1234-4abc-8def-0123456789ab".into(),
            },
            app_name: "prometheus".into(),
            unit_id: 0,
            fqdn: "prometheus-0.prometheus-endpoints.cos.svc.cluster.local".into(),
            relations,
            prometheus_version: None,
            planned_units: None,
            planned_unit_numbers: None,
            pvc_capacity: None,
            tls: None,
        }
    }

    /// The charm writes only the databags the endpoint table says it writes: those are the
    /// ones a hook reads back to write only what changed.
    #[test]
    fn relation_writes_follow_the_endpoint_table() {
        let desired = desired_for(&related_everywhere()).expect("renders");
        assert!(!desired.writes.is_empty());
        for write in &desired.writes {
            let endpoint = by_name(&write.relation.endpoint).expect("a declared endpoint");
            let declared = if write.app {
                endpoint.writes_app
            } else {
                endpoint.writes_unit
            };
            assert!(
                declared,
                "{} writes the {} databag, which its table row does not declare",
                endpoint.name,
                if write.app { "application" } else { "unit" }
            );
        }
    }
}

//! The `charm-tracing` relation (`tracing`): traces of the charm's own hooks, sent to the
//! OTLP/HTTP receiver the provider (Tempo) publishes.
//!
//! The leader asks for `otlp_http` (the same request as `workload-tracing`). Every unit reads
//! the provider's answer with the rest of the model and remembers the receiver's URL in a small
//! file in the charm directory ([`RECEIVER_FILE`]), so the next hook knows where to send its
//! spans before it reads anything from Juju. A hook that finds the file exports its spans (the
//! dispatch and the reconcile phases) over OTLP/HTTP protobuf once, as the process exits,
//! bounded by [`EXPORT_TIMEOUT`]; a receiver that is down costs that time and nothing else.
//! A unit without the relation finds no file: no exporter, no extra hook-tool call.

use std::path::{Path, PathBuf};
use std::time::Duration;

use juju_hook::HookContext;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::core::charm_tracing::receiver;
use crate::core::model::ModelSnapshot;

/// The remembered receiver URL, in the charm directory (absent: no tracing).
pub const RECEIVER_FILE: &str = ".charm-tracing-receiver";
/// The longest a hook waits for the receiver when it exports its spans (connect, send and
/// answer together, retries included).
pub const EXPORT_TIMEOUT: Duration = Duration::from_millis(1000);
/// The OTLP/HTTP path of traces, appended to the receiver's URL.
pub const TRACES_PATH: &str = "/v1/traces";

fn receiver_file(charm_dir: &Path) -> PathBuf {
    charm_dir.join(RECEIVER_FILE)
}

/// The receiver URL a previous hook remembered, if any.
pub fn remembered(charm_dir: &Path) -> Option<String> {
    let url = std::fs::read_to_string(receiver_file(charm_dir)).ok()?;
    let url = url.trim();
    (!url.is_empty()).then(|| url.to_owned())
}

/// Remembers the receiver of `snapshot` for the next hooks (or forgets it when there is none).
/// Writes only when it changed; a failure to write costs only the traces. An `https://`
/// receiver is not used: the charm's HTTP client has no TLS (see CONTRIBUTING.md).
pub fn remember(charm_dir: &Path, snapshot: &ModelSnapshot) {
    let url = match receiver(snapshot, &mut Vec::new()) {
        Some(r) if r.tls => {
            tracing::warn!(
                "charm-tracing: {} is https, which this charm cannot send to",
                r.url
            );
            None
        }
        other => other.map(|r| r.url),
    };
    if url == remembered(charm_dir) {
        return;
    }
    let path = receiver_file(charm_dir);
    let result = match &url {
        Some(url) => std::fs::write(&path, url),
        None => std::fs::remove_file(&path).or_else(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Ok(()),
            _ => Err(e),
        }),
    };
    if let Err(e) = result {
        tracing::warn!("cannot remember the charm-tracing receiver in {path:?}: {e}");
    }
}

/// The Juju topology of the unit as resource attributes, named as the Python charms' tracing
/// names them, plus the event this process handles.
fn resource(ctx: &HookContext) -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", ctx.app_name.clone()),
            KeyValue::new("service.namespace", ctx.model_uuid.clone()),
            KeyValue::new("service.namespace.name", ctx.model_name.clone()),
            KeyValue::new("service.instance.id", ctx.unit_number.to_string()),
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            KeyValue::new("charm", env!("CARGO_PKG_NAME")),
            KeyValue::new("charm_type", env!("CARGO_PKG_NAME")),
            KeyValue::new("juju_model", ctx.model_name.clone()),
            KeyValue::new("juju_model_uuid", ctx.model_uuid.clone()),
            KeyValue::new("juju_application", ctx.app_name.clone()),
            KeyValue::new("juju_unit", ctx.unit_name.clone()),
            KeyValue::new("juju_event", ctx.event.name()),
        ])
        .build()
}

/// A tracer provider exporting to `url` in one batch when it is shut down.
fn provider(ctx: &HookContext, url: &str) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{}{TRACES_PATH}", url.trim_end_matches('/')))
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(SdkTracerProvider::builder()
        .with_resource(resource(ctx))
        .with_batch_exporter(exporter)
        .build())
}

/// The hook's logging, and its tracing when a receiver is remembered; [`HookTelemetry::finish`]
/// sends the spans.
#[derive(Debug)]
pub struct HookTelemetry {
    provider: Option<SdkTracerProvider>,
}

impl HookTelemetry {
    /// Whether this hook's spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports the hook's spans (at most [`EXPORT_TIMEOUT`] plus a little for the batch
    /// thread); failures are logged, never returned.
    pub fn finish(self) {
        let Some(provider) = self.provider else {
            return;
        };
        // The exporter's own time limit bounds the export; the margin covers the hand-over.
        if let Err(e) = provider.shutdown_with_timeout(EXPORT_TIMEOUT + Duration::from_millis(500))
        {
            tracing::warn!("charm traces not exported: {e}");
        }
    }
}

/// Installs the hook's subscriber: logs to stdout (Juju keeps them at DEBUG) and, when a
/// previous hook remembered a receiver, spans to that receiver.
pub fn init_hook_telemetry(ctx: &HookContext) -> HookTelemetry {
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stdout)
        .with_ansi(false)
        .without_time()
        .with_target(false);
    let (provider, problem) = match remembered(&ctx.charm_dir) {
        None => (None, None),
        Some(url) => match provider(ctx, &url) {
            Ok(p) => (Some(p), None),
            Err(e) => (
                None,
                Some(format!("charm traces not exported to {url}: {e}")),
            ),
        },
    };
    let otel = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer(env!("CARGO_PKG_NAME")))
            .with_filter(LevelFilter::INFO)
    });
    tracing_subscriber::registry()
        .with(fmt.with_filter(LevelFilter::INFO))
        .with(otel)
        .init();
    if let Some(problem) = problem {
        tracing::warn!("{problem}");
    }
    HookTelemetry { provider }
}

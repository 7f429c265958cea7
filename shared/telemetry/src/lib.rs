//! `cavra-telemetry`: how every CAVRA Approvals binary logs and traces (issue G §6).
//!
//! - Logs go through `tracing`, filtered by `RUST_LOG` (each binary names its default level):
//!   text to stderr for `cavra serve` and the CLI, JSON lines for the Lambda functions
//!   (CloudWatch reads them as structured records).
//! - When `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, the
//!   same spans — one per request and per service operation, with the route, approval id,
//!   transition and store latency the code records — are also exported over OTLP/HTTP
//!   (protobuf) to that collector, batched on the exporter's own thread. `OTEL_SERVICE_NAME`
//!   names the service (default: the binary's name). Unset, nothing is exported and no
//!   OpenTelemetry code runs.
//!
//! [`init`] installs the subscriber once per process and returns a [`Telemetry`] handle;
//! [`Telemetry::flush`] exports what is buffered (a Lambda function calls it after each
//! invocation, before the sandbox may freeze), and dropping the handle shuts the exporter
//! down.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// The variables that turn OTLP export on (the OpenTelemetry SDK's standard names).
pub const OTLP_ENDPOINT_VARIABLES: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
];

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines on stderr (`cavra serve`, the CLI).
    Text,
    /// One JSON object per line on stdout, no timestamp (Lambda adds its own).
    Json,
}

/// What [`init`] needs to know about the binary.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// The service name spans carry when `OTEL_SERVICE_NAME` is not set.
    pub service: &'a str,
    /// The log line format.
    pub format: LogFormat,
    /// The filter when `RUST_LOG` is not set (e.g. `info`).
    pub default_level: &'a str,
}

/// The installed telemetry: holds the span exporter, when there is one.
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported over OTLP.
    pub fn exports(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports every finished span still buffered; a no-op without an exporter. Errors are
    /// logged, never returned: telemetry never fails a request.
    pub fn flush(&self) {
        if let Some(provider) = &self.provider
            && let Err(error) = provider.force_flush()
        {
            tracing::warn!(%error, "OpenTelemetry spans could not be exported");
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            // The blocking HTTP client must not be dropped on an async runtime's thread.
            let _ = std::thread::spawn(move || provider.shutdown()).join();
        }
    }
}

/// Installs logging (and OTLP export when configured) for this process. A second call in the
/// same process installs nothing and returns an empty handle.
///
/// # Errors
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set but the exporter cannot be built (e.g. a malformed
/// URL): the caller decides whether that stops the binary.
pub fn init(settings: Settings<'_>) -> Result<Telemetry, String> {
    let provider = if otlp_configured() {
        Some(otlp_provider(settings.service)?)
    } else {
        None
    };
    let telemetry = install(settings, provider);
    Ok(telemetry)
}

/// Whether an OTLP endpoint is configured in the environment.
pub fn otlp_configured() -> bool {
    OTLP_ENDPOINT_VARIABLES
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()))
}

/// A tracer provider exporting over OTLP/HTTP (protobuf) to the configured endpoint.
fn otlp_provider(service: &str) -> Result<SdkTracerProvider, String> {
    // reqwest's blocking client starts its own runtime: build it off any async runtime.
    let exporter = std::thread::spawn(|| {
        opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
            .map_err(|e| format!("the OpenTelemetry OTLP exporter cannot be built: {e}"))
    })
    .join()
    .map_err(|_| "the OpenTelemetry OTLP exporter could not be built".to_owned())??;
    Ok(provider_with(exporter, service, true))
}

/// A tracer provider over `exporter` with this service's resource: batched (production) or
/// each span exported as it ends (tests).
pub fn provider_with<E>(exporter: E, service: &str, batched: bool) -> SdkTracerProvider
where
    E: SpanExporter + 'static,
{
    let named = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.trim().is_empty());
    let resource = if named {
        Resource::builder().build()
    } else {
        Resource::builder()
            .with_service_name(service.to_owned())
            .build()
    };
    let builder = SdkTracerProvider::builder().with_resource(resource);
    if batched {
        builder.with_batch_exporter(exporter).build()
    } else {
        builder.with_simple_exporter(exporter).build()
    }
}

/// The layer that turns `tracing` spans into OpenTelemetry spans of `provider`.
pub fn otel_layer<S>(provider: &SdkTracerProvider, service: &str) -> impl Layer<S> + use<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer(service.to_owned()))
}

/// Installs logging only (no export): for a binary whose OTLP setting was refused by
/// [`init`], after which it logs why.
pub fn install_logs_only(settings: Settings<'_>) -> Telemetry {
    install(settings, None)
}

fn install(settings: Settings<'_>, provider: Option<SdkTracerProvider>) -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(settings.default_level));
    let logs: Box<dyn Layer<Registry> + Send + Sync> = match settings.format {
        LogFormat::Text => Box::new(tracing_subscriber::fmt::layer().with_writer(std::io::stderr)),
        LogFormat::Json => Box::new(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(false)
                .without_time(),
        ),
    };
    let otel = provider.as_ref().map(|p| otel_layer(p, settings.service));
    // Fails only when a subscriber is already installed (a test calling twice): then the
    // first one stays and this call exports nothing.
    let installed = tracing_subscriber::registry()
        .with(logs)
        .with(otel)
        .with(filter)
        .try_init()
        .is_ok();
    Telemetry {
        provider: provider.filter(|_| installed),
    }
}

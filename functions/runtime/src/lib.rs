//! `cavra-lambda`: the few lines every function's `main` calls.
//!
//! [`serve`] initialises JSON logging, builds the [`AppState`] once per cold start from the
//! environment (a bad configuration fails the cold start with its message), and hands each
//! API Gateway event to one route's handler. The store is chosen by configuration:
//! `CAVRA_APPROVAL_TABLE` (DynamoDB; endpoint from the standard AWS settings, so the same binary
//! runs against AWS, LocalStack or moto); a file store is refused at cold start.
//! Provider `*_secret` settings resolve in Secrets Manager through `cavra-secrets`.

use std::sync::Arc;

use cavra_api::config::{Config, StoreConfig};
use cavra_api::{AppState, Route};
use cavra_core::ids::RandomIds;
use cavra_core::store::ApprovalStore;
use cavra_core::time::SystemClock;
use lambda_http::{Body, Error, Request, Response, service_fn};

/// Logs as JSON lines (CloudWatch-friendly), level from `RUST_LOG` (default `info`), and
/// exports spans over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (issue G §6). A bad OTLP
/// setting is logged and export stays off: telemetry never stops a function.
pub fn init_logging() -> Arc<cavra_telemetry::Telemetry> {
    let service = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "cavra".into());
    let settings = cavra_telemetry::Settings {
        service: &service,
        format: cavra_telemetry::LogFormat::Json,
        default_level: "info",
    };
    match cavra_telemetry::init(settings) {
        Ok(telemetry) => Arc::new(telemetry),
        Err(error) => {
            let telemetry = cavra_telemetry::install_logs_only(settings);
            tracing::error!(%error, "OpenTelemetry export is off");
            Arc::new(telemetry)
        }
    }
}

/// Opens the configured store: DynamoDB only. A file store inside a Lambda function would be
/// private to one sandbox (each instance its own file, lost on recycle), so a configuration
/// naming one fails the cold start (issue G §4); the function binaries link no file store.
///
/// # Errors
/// A file store is configured, or the AWS configuration fails.
pub async fn open_store(config: &StoreConfig) -> anyhow::Result<Arc<dyn ApprovalStore>> {
    match config {
        StoreConfig::DynamoDb { table } => Ok(Arc::new(
            cavra_store_dynamodb::DynamoStore::from_env(table.clone()).await?,
        )),
        StoreConfig::Sqlite { .. } | StoreConfig::Json { .. } => Err(anyhow::anyhow!(
            "{FILE_STORE_REFUSED}: set CAVRA_APPROVAL_TABLE to the approvals table"
        )),
    }
}

/// Why a file store is refused at cold start.
pub const FILE_STORE_REFUSED: &str = "a Lambda function keeps approvals in DynamoDB only (a SQLite or JSON file would be private to one sandbox)";

/// Builds the application state from the environment.
///
/// # Errors
/// Any configuration file or the store fails to load.
pub async fn state_from_env() -> anyhow::Result<AppState> {
    let mut config = Config::from_env();
    if config.chain_key.is_none()
        && let Some(secret) = config.chain_key_secret.clone()
    {
        // The chain key lives in Secrets Manager, out of reach of whoever asks for approval.
        use cavra_secrets::FetchSecret as _;
        let text = cavra_secrets::SecretsManager::from_env()
            .fetch(&secret)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the chain key secret {secret} does not exist"))?;
        config.chain_key = Some(text);
    }
    let store = open_store(&config.store).await?;
    // Provider `*_secret` keys resolve in Secrets Manager (client made on first use).
    Ok(
        AppState::build(config, store, Arc::new(SystemClock), Arc::new(RandomIds))?
            .with_secret_store(Arc::new(cavra_secrets::SecretsManagerResolver::from_env())),
    )
}

/// Runs `route` as a Lambda function until the runtime stops it.
///
/// # Errors
/// The cold start failed (bad configuration) or the runtime loop ended with an error.
pub async fn serve(route: Route) -> Result<(), Error> {
    let telemetry = init_logging();
    let state = match state_from_env().await {
        Ok(state) => Arc::new(state),
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "cold start failed");
            return Err(error.into());
        }
    };
    lambda_http::run(service_fn(move |request: Request| {
        let state = Arc::clone(&state);
        let telemetry = Arc::clone(&telemetry);
        async move {
            let response = cavra_api::handle(route, &state, request).await;
            flush(telemetry).await;
            Ok::<Response<Body>, Error>(response)
        }
    }))
    .await
}

/// Exports the invocation's spans before answering: the sandbox may be frozen as soon as the
/// answer is sent, with the batch still in memory. Nothing to do without an exporter.
async fn flush(telemetry: Arc<cavra_telemetry::Telemetry>) {
    if telemetry.exports() {
        let _ = tokio::task::spawn_blocking(move || telemetry.flush()).await;
    }
}

/// Runs the scheduled sweeper: each invocation expires every overdue request as `system`,
/// reminds and escalates the unanswered ones their routing rule asks for (issue G §3), and
/// returns the ids of each.
///
/// # Errors
/// The cold start failed or the runtime loop ended with an error.
pub async fn serve_sweeper() -> Result<(), Error> {
    let telemetry = init_logging();
    let state = Arc::new(state_from_env().await.map_err(|e| -> Error { e.into() })?);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |_event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let state = Arc::clone(&state);
            let telemetry = Arc::clone(&telemetry);
            async move {
                let swept = state.service.sweep().await;
                flush(telemetry).await;
                let swept = swept.map_err(|e| -> Error { e.to_string().into() })?;
                Ok::<serde_json::Value, Error>(swept.ids())
            }
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_store_fails_the_cold_start_with_a_clear_message() {
        for config in [
            StoreConfig::Sqlite {
                path: "/tmp/approvals.db".into(),
            },
            StoreConfig::Json {
                path: ".cavra/api/approvals.json".into(),
            },
        ] {
            let error = open_store(&config).await.err().map(|e| e.to_string());
            assert_eq!(
                error.as_deref(),
                Some(
                    "a Lambda function keeps approvals in DynamoDB only (a SQLite or JSON file \
                     would be private to one sandbox): set CAVRA_APPROVAL_TABLE to the \
                     approvals table"
                ),
                "{config:?}"
            );
        }
    }
}

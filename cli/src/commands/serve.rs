//! `cavra serve`: the nine `/approvals` handlers behind a local HTTP server, on SQLite by
//! default — the same code the Lambda functions run, with requests shaped as API Gateway
//! shapes them (path and query parameters).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::{Body as AxumBody, to_bytes};
use axum::extract::{Request as AxumRequest, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response as AxumResponse};
use axum::routing::any;
use cavra_api::config::{Config, StoreConfig};
use cavra_api::{ApiError, AppState, MAX_BODY_BYTES};
use cavra_core::ids::RandomIds;
use cavra_core::time::SystemClock;
use clap::Args;
use lambda_http::RequestExt as _;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Arguments of `cavra serve`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  cavra serve\n  cavra serve --sqlite .cavra/approvals.db --port 8080\n  CAVRA_APPROVAL_OIDC_CONFIG=.cavra/approval-oidc.json cavra serve --rbac-file .cavra/approval-rbac.yaml"
)]
pub struct ServeArgs {
    /// SQLite approval database.
    #[arg(
        long,
        value_name = "PATH",
        env = "CAVRA_APPROVAL_DB",
        default_value = ".cavra/approvals.db"
    )]
    sqlite: PathBuf,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Routing rules replacing the default table (or CAVRA_APPROVAL_ROUTING_FILE).
    #[arg(long, value_name = "PATH")]
    routing_file: Option<PathBuf>,
    /// OIDC config; makes a verified token mandatory (or CAVRA_APPROVAL_OIDC_CONFIG).
    #[arg(long, value_name = "PATH")]
    oidc_config: Option<PathBuf>,
    /// RBAC policy (or CAVRA_APPROVAL_RBAC_FILE).
    #[arg(long, value_name = "PATH")]
    rbac_file: Option<PathBuf>,
}

async fn to_lambda(request: AxumRequest) -> Result<lambda_http::Request, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_BODY_BYTES + 1)
        .await
        .map_err(|_| ApiError::too_large(MAX_BODY_BYTES))?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    let query: std::collections::HashMap<String, Vec<String>> =
        form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .fold(std::collections::HashMap::new(), |mut map, (k, v)| {
                map.entry(k).or_default().push(v);
                map
            });
    let body = if bytes.is_empty() {
        lambda_http::Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => lambda_http::Body::Text(text),
            Err(e) => lambda_http::Body::Binary(e.into_bytes()),
        }
    };
    Ok(lambda_http::Request::from_parts(parts, body).with_query_string_parameters(query))
}

fn from_lambda(response: lambda_http::Response<lambda_http::Body>) -> AxumResponse {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Text(text) => text.into_bytes(),
        lambda_http::Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    AxumResponse::from_parts(parts, AxumBody::from(bytes))
}

fn error_response(error: ApiError) -> AxumResponse {
    from_lambda(error.into_response())
}

async fn approvals(State(state): State<Arc<AppState>>, request: AxumRequest) -> AxumResponse {
    match to_lambda(request).await {
        Ok(request) => from_lambda(cavra_api::dispatch(&state, request).await),
        Err(error) => error_response(error),
    }
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({"detail": "not found"})),
    )
}

/// The HTTP application: the API under `/approvals`, the console's config and session views
/// under `/console`.
pub fn router(state: Arc<AppState>) -> axum::Router {
    let origins: Vec<HeaderValue> = state
        .config
        .cors_origins
        .iter()
        .filter_map(|o| o.parse().ok())
        .collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(tower_http::cors::Any);
    axum::Router::new()
        .route("/approvals", any(approvals))
        .route("/approvals/{*rest}", any(approvals))
        .route("/console/config", any(approvals))
        .route("/console/session", any(approvals))
        .fallback(not_found)
        .with_state(state)
        .layer(cors)
}

/// Builds the state for `args` (environment first, flags win).
pub fn state(args: &ServeArgs) -> anyhow::Result<AppState> {
    let mut config = Config::from_env();
    config.store = StoreConfig::Sqlite {
        path: args.sqlite.clone(),
    };
    if let Some(path) = &args.routing_file {
        config.routing_file = Some(path.clone());
    }
    if let Some(path) = &args.oidc_config {
        config.oidc_config = Some(path.clone());
    }
    if let Some(path) = &args.rbac_file {
        config.rbac_file = Some(path.clone());
    }
    let store = Arc::new(cavra_store_sqlite::SqliteStore::open(&args.sqlite)?);
    Ok(
        AppState::build(config, store, Arc::new(SystemClock), Arc::new(RandomIds))?
            .with_secret_store(Arc::new(cavra_secrets::SecretsManagerResolver::from_env())),
    )
}

/// Runs `cavra serve` until interrupted.
pub async fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let app = router(Arc::new(state(args)?));
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port))
        .await
        .with_context(|| format!("binding {}:{}", args.host, args.port))?;
    let address = listener.local_addr()?;
    println!(
        "cavra serve: http://{address} (API under /approvals, SQLite {})",
        args.sqlite.display()
    );
    use std::io::Write as _;
    std::io::stdout().flush()?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

//! `cavra serve`: the nine `/approvals` handlers behind a local HTTP server, on SQLite by
//! default — the same code the Lambda functions run, with requests shaped as API Gateway
//! shapes them (path and query parameters) — and the approvers' console (`frontend/`, built
//! with trunk and embedded in this binary from the checked-in `frontend/bundle/`) at `/`, with
//! a generated `config.json` that points the console at this server.
//!
//! The console's own addresses (`/`, `/approvals/{id}`, `/break-glass`, `/session`) are
//! single-page routes: a browser navigation (`Accept: text/html`) to any path that is not a
//! file gets `index.html` (and so does `/` itself, whatever it accepts); the console's API
//! calls ask for JSON and reach the handlers.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::{Body as AxumBody, Bytes, to_bytes};
use axum::extract::{Request as AxumRequest, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
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
    /// A host name (as browsers send it in `Host`, without the port) this server may be reached
    /// by in local mode, besides `localhost` and IP addresses. Repeatable.
    #[arg(long = "allow-host", value_name = "NAME")]
    allow_hosts: Vec<String>,
    /// A built console folder (trunk's dist) to serve at `/` instead of the one embedded in this
    /// binary, e.g. `frontend/dist` while working on the console.
    #[arg(long, value_name = "PATH", env = "CAVRA_CONSOLE_DIR")]
    console_dir: Option<PathBuf>,
}

/// The console this binary was built with: `frontend/bundle/`, which `frontend/build.sh`
/// regenerates and which is checked in (the test suite fails when it is older than the
/// console's sources), so `cavra serve` serves the console with no build step (issue I §2).
static EMBEDDED: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/../frontend/bundle");

/// Files in the bundle folder that are not the console's.
const NOT_SERVED: &[&str] = &["SOURCES"];

/// Where the console's built files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleFiles {
    /// The bundle embedded in this binary (the default).
    Embedded,
    /// A folder with `index.html` (`--console-dir`: e.g. `frontend/dist` while working on the
    /// console with `trunk watch`).
    Dir(PathBuf),
}

impl ConsoleFiles {
    /// The folder named by `--console-dir`, which must hold a build, else the embedded bundle.
    ///
    /// # Errors
    /// `--console-dir` names a folder without `index.html`.
    pub fn locate(explicit: Option<&Path>) -> anyhow::Result<Self> {
        let Some(dir) = explicit else {
            return Ok(Self::Embedded);
        };
        anyhow::ensure!(
            dir.join("index.html").is_file(),
            "console folder {} has no index.html (build the console with `bash frontend/build.sh`)",
            dir.display()
        );
        Ok(Self::Dir(dir.to_path_buf()))
    }

    fn describe(&self) -> String {
        match self {
            Self::Embedded => "console at / (embedded)".to_owned(),
            Self::Dir(dir) => format!("console at / from {}", dir.display()),
        }
    }

    /// The bytes of the console file `uri_path` names (the embedded ones without a copy);
    /// `None` when there is none, or for a path that could leave the console's folder.
    async fn read(&self, uri_path: &str) -> Option<Bytes> {
        let relative = plain_relative(uri_path)?;
        match self {
            Self::Embedded => EMBEDDED
                .get_file(relative)
                .filter(|_| !NOT_SERVED.iter().any(|name| relative == Path::new(name)))
                .map(|file| Bytes::from_static(file.contents())),
            Self::Dir(dir) => {
                let path = dir.join(relative);
                if !path.is_file() {
                    return None;
                }
                tokio::fs::read(path).await.ok().map(Bytes::from)
            }
        }
    }
}

/// What the router serves: the API state and the console.
#[derive(Clone)]
struct Served {
    api: Arc<AppState>,
    console: Arc<ConsoleFiles>,
    guard: Arc<LocalGuard>,
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

async fn approvals(State(served): State<Served>, request: AxumRequest) -> AxumResponse {
    if is_navigation(request.method(), request.headers()) {
        // `/approvals/{id}` is also the console's audit page (notifications link there).
        return index(&served.console).await;
    }
    match to_lambda(request).await {
        Ok(request) => from_lambda(cavra_api::dispatch(&served.api, request).await),
        Err(error) => error_response(error),
    }
}

fn json_not_found() -> AxumResponse {
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({"detail": "not found"})),
    )
        .into_response()
}

/// A browser loading a page (not a script asking for JSON).
fn is_navigation(method: &Method, headers: &HeaderMap) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

fn file_response(uri_path: &str, bytes: Bytes) -> AxumResponse {
    (
        [
            (header::CONTENT_TYPE, content_type(Path::new(uri_path))),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        bytes,
    )
        .into_response()
}

async fn index(console: &ConsoleFiles) -> AxumResponse {
    match console.read("/index.html").await {
        Some(bytes) => file_response("/index.html", bytes),
        None => error_response(ApiError::internal(&format!(
            "the console's index.html is unreadable ({})",
            console.describe()
        ))),
    }
}

/// The relative path `uri_path` names inside the console's folder; `None` for the folder
/// itself and for anything that could leave it (`..`, `.`, backslashes, absolute parts).
fn plain_relative(uri_path: &str) -> Option<&Path> {
    let relative = Path::new(uri_path.trim_start_matches('/'));
    let plain = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    (plain && !uri_path.contains('\\') && !relative.as_os_str().is_empty()).then_some(relative)
}

/// `GET /config.json`: the console served here talks to this server (same origin).
async fn console_config() -> AxumResponse {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        axum::Json(serde_json::json!({"api_base_url": ""})),
    )
        .into_response()
}

/// Whether a request that names no console file gets the console's page: browser navigations
/// to any path (the single-page routes), and `/` itself whatever it accepts (`curl` included).
fn wants_index(uri_path: &str, navigation: bool) -> bool {
    navigation || uri_path == "/"
}

/// Everything outside the API: the console's files, its single-page routes, or a 404.
async fn console(State(served): State<Served>, request: AxumRequest) -> AxumResponse {
    let wants_index = wants_index(
        request.uri().path(),
        is_navigation(request.method(), request.headers()),
    );
    let readable = request.method() == Method::GET || request.method() == Method::HEAD;
    if !readable {
        return json_not_found();
    }
    let path = request.uri().path();
    if let Some(bytes) = served.console.read(path).await {
        return file_response(path, bytes);
    }
    if wants_index {
        return index(&served.console).await;
    }
    json_not_found()
}

/// Who may reach a local-mode server from a browser (issue E §6). Without OIDC no token proves
/// who is calling, so the server itself must refuse what a web page could make a browser send:
/// a `Host` that is a DNS name pointing at loopback by rebinding, and state changes from a
/// foreign `Origin`.
#[derive(Debug, Clone, Default)]
pub struct LocalGuard {
    /// Extra host names (`--allow-host`), lowercased.
    pub allowed_hosts: Vec<String>,
}

impl LocalGuard {
    /// The host part of a `Host` header value (`name`, `name:port`, `[v6]:port`), lowercased.
    fn host_name(value: &str) -> String {
        let value = value.trim();
        let name = if let Some(rest) = value.strip_prefix('[') {
            rest.split(']').next().unwrap_or_default()
        } else {
            value.rsplit_once(':').map_or(value, |(name, _)| name)
        };
        name.trim_end_matches('.').to_ascii_lowercase()
    }

    /// Whether a `Host` value names this server: `localhost`, an IP address (a rebinding attack
    /// needs a DNS name), or an allowed name.
    pub fn host_allowed(&self, host: &str) -> bool {
        let name = Self::host_name(host);
        name == "localhost"
            || name.parse::<std::net::IpAddr>().is_ok()
            || self.allowed_hosts.contains(&name)
    }

    /// Whether an `Origin` value is this server as reached by `host`, or a configured CORS
    /// origin.
    pub fn origin_allowed(origin: &str, host: &str, cors_origins: &[String]) -> bool {
        let origin = origin.trim().trim_end_matches('/');
        let same = ["http://", "https://"]
            .iter()
            .any(|scheme| origin.eq_ignore_ascii_case(&format!("{scheme}{}", host.trim())));
        same || cors_origins
            .iter()
            .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }
}

fn forbidden(detail: &str) -> AxumResponse {
    (
        StatusCode::FORBIDDEN,
        axum::Json(serde_json::json!({ "detail": detail })),
    )
        .into_response()
}

/// Local mode only: refuses a foreign `Host` (403) and state changes whose `Origin` is not
/// this server or a configured CORS origin (403).
async fn local_guard(
    State(served): State<Served>,
    request: AxumRequest,
    next: axum::middleware::Next,
) -> AxumResponse {
    if served.api.identity.required() {
        return next.run(request).await;
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !served.guard.host_allowed(&host) {
        tracing::warn!(%host, "refused a request for a foreign host");
        return forbidden(
            "host is not this server: a local-mode server answers only to localhost, IP addresses and --allow-host names",
        );
    }
    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changes_state && let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        if !LocalGuard::origin_allowed(origin, &host, &served.api.config.cors_origins) {
            tracing::warn!(%origin, %host, "refused a cross-origin state change");
            return forbidden("cross-origin request refused: this origin may not change approvals");
        }
    }
    next.run(request).await
}

/// Logs every 5xx answer with the request that got it (the handlers log the cause).
async fn log_server_errors(request: AxumRequest, next: axum::middleware::Next) -> AxumResponse {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if response.status().is_server_error() {
        tracing::error!(%method, %path, status = response.status().as_u16(), "request answered with a server error");
    }
    response
}

/// A panic in a handler becomes a 500 with the API's opaque JSON body; its message is logged.
fn panic_response(payload: Box<dyn std::any::Any + Send + 'static>) -> AxumResponse {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = %message, "a request handler panicked");
    error_response(ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        detail: "internal error".into(),
    })
}

/// The HTTP application: the API under `/approvals`, the console's config and session views
/// under `/console`, and the console itself everywhere else; `guard` names the extra host
/// names local mode answers to.
pub fn router(
    state: Arc<AppState>,
    console_files: ConsoleFiles,
    guard: LocalGuard,
) -> axum::Router {
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
    let served = Served {
        api: state,
        console: Arc::new(console_files),
        guard: Arc::new(guard),
    };
    let app = axum::Router::new()
        .route("/approvals", any(approvals))
        .route("/approvals/", any(approvals))
        .route("/approvals/{*rest}", any(approvals))
        .route("/console/config", any(approvals))
        .route("/console/session", any(approvals))
        .route("/console/security-boundary", any(approvals))
        .route("/config.json", axum::routing::get(console_config))
        .fallback(console)
        .layer(axum::middleware::from_fn_with_state(
            served.clone(),
            local_guard,
        ))
        .with_state(served)
        .layer(cors);
    outer_layers(app)
}

/// What wraps every route: 5xx answers are logged, and a panic becomes a 500 JSON answer.
fn outer_layers(app: axum::Router) -> axum::Router {
    app.layer(axum::middleware::from_fn(log_server_errors))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
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
            .with_secret_store(Arc::new(cavra_secrets::SecretsManagerResolver::from_env()))
            .with_change_feed(),
    )
}

/// Installs the log subscriber — `RUST_LOG` (default `info`), to stderr — and, when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set, OTLP span export (issue G §6). The handle exports
/// what is buffered when it is dropped, as the server stops.
fn install_logging() -> anyhow::Result<cavra_telemetry::Telemetry> {
    cavra_telemetry::init(cavra_telemetry::Settings {
        service: "cavra-serve",
        format: cavra_telemetry::LogFormat::Text,
        default_level: "info",
    })
    .map_err(anyhow::Error::msg)
}

/// Runs `cavra serve` until interrupted.
pub async fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let _telemetry = install_logging()?;
    let console_files = ConsoleFiles::locate(args.console_dir.as_deref())?;
    let described = console_files.describe();
    let guard = LocalGuard {
        allowed_hosts: args
            .allow_hosts
            .iter()
            .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
            .collect(),
    };
    let app = router(Arc::new(state(args)?), console_files, guard);
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port))
        .await
        .with_context(|| format!("binding {}:{}", args.host, args.port))?;
    let address = listener.local_addr()?;
    println!(
        "cavra serve: http://{address} (API under /approvals, SQLite {}, {described})",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_plain_relative_paths_of_existing_files_are_served() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<html></html>").unwrap();
        std::fs::write(dir.path().join("app.wasm"), [0, 97, 115, 109]).unwrap();
        let folder = ConsoleFiles::Dir(dir.path().to_path_buf());
        assert_eq!(
            folder.read("/app.wasm").await,
            Some(Bytes::from_static(&[0, 97, 115, 109]))
        );
        for refused in [
            "/",
            "/missing.js",
            "/../etc/passwd",
            "/./index.html",
            "/..\\index.html",
            "//etc/passwd",
        ] {
            assert_eq!(folder.read(refused).await, None, "{refused}");
            assert_eq!(
                ConsoleFiles::Embedded.read(refused).await,
                None,
                "{refused}"
            );
        }
        assert_eq!(content_type(Path::new("x.wasm")), "application/wasm");
    }

    #[tokio::test]
    async fn the_embedded_console_is_the_checked_in_bundle() {
        let bundle = Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend/bundle");
        let index = std::fs::read(bundle.join("index.html")).unwrap();
        assert_eq!(
            ConsoleFiles::Embedded.read("/index.html").await,
            Some(Bytes::from(index.clone()))
        );
        // Every script, stylesheet and module the page loads is in the bundle.
        let page = String::from_utf8(index).unwrap();
        let assets: Vec<&str> = page
            .split(['"', '\''])
            .filter(|part| {
                part.starts_with('/')
                    && [".js", ".wasm", ".css"]
                        .iter()
                        .any(|ext| part.ends_with(ext))
            })
            .collect();
        assert!(assets.len() >= 3, "{assets:?} in {page}");
        for asset in assets {
            assert!(
                ConsoleFiles::Embedded.read(asset).await.is_some(),
                "{asset} is missing from the bundle"
            );
        }
        assert_eq!(
            ConsoleFiles::Embedded.read("/SOURCES").await,
            None,
            "the source list is not part of the console"
        );
        assert_eq!(ConsoleFiles::locate(None).unwrap(), ConsoleFiles::Embedded);
    }

    #[test]
    fn browser_navigations_are_told_apart_from_api_calls() {
        let mut headers = HeaderMap::new();
        assert!(
            !is_navigation(&Method::GET, &headers),
            "no Accept: an API client"
        );
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!is_navigation(&Method::GET, &headers));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"),
        );
        assert!(is_navigation(&Method::GET, &headers));
        assert!(!is_navigation(&Method::POST, &headers));
    }

    #[test]
    fn the_root_and_navigations_get_the_page_other_unknown_paths_do_not() {
        assert!(
            wants_index("/", false),
            "`/` is the console, whatever it accepts"
        );
        assert!(
            wants_index("/approvals/apr_1", true),
            "a navigation to a console route"
        );
        assert!(
            !wants_index("/approvals/apr_1", false),
            "a script asking for JSON"
        );
        assert!(!wants_index("/missing.js", false));
    }

    #[test]
    fn local_mode_answers_only_to_its_own_hosts_and_origins() {
        let guard = LocalGuard {
            allowed_hosts: vec!["cavra.internal".into()],
        };
        for host in [
            "localhost",
            "localhost:8787",
            "LOCALHOST:1",
            "127.0.0.1:8787",
            "[::1]:8787",
            "10.0.0.7:8787",
            "cavra.internal:8787",
            "cavra.internal.",
        ] {
            assert!(guard.host_allowed(host), "{host}");
        }
        for host in [
            "",
            "evil.example",
            "evil.example:8787",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8787",
            "cavra.internal.evil.example",
        ] {
            assert!(!guard.host_allowed(host), "{host}");
        }
        let cors = vec!["https://console.example".to_owned()];
        assert!(LocalGuard::origin_allowed(
            "http://127.0.0.1:8787",
            "127.0.0.1:8787",
            &cors
        ));
        assert!(LocalGuard::origin_allowed(
            "https://console.example/",
            "127.0.0.1:8787",
            &cors
        ));
        for origin in [
            "http://evil.example",
            "http://127.0.0.1:9999",
            "null",
            "http://127.0.0.1:8787.evil.example",
        ] {
            assert!(
                !LocalGuard::origin_allowed(origin, "127.0.0.1:8787", &cors),
                "{origin}"
            );
        }
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_json_and_the_server_goes_on() {
        use tower::ServiceExt as _;
        let app = outer_layers(
            axum::Router::new()
                .route(
                    "/boom",
                    axum::routing::get(|| async {
                        assert!(!std::hint::black_box(true), "boom");
                        "never"
                    }),
                )
                .route("/fine", axum::routing::get(|| async { "fine" })),
        );
        let request = |path: &str| {
            axum::http::Request::builder()
                .uri(path)
                .body(AxumBody::empty())
                .unwrap()
        };
        let response = app.clone().oneshot(request("/boom")).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        let body = to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], br#"{"detail":"internal error"}"#);
        let response = app.oneshot(request("/fine")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[test]
    fn an_explicit_console_folder_must_hold_a_build() {
        let dir = tempfile::tempdir().unwrap();
        let error = ConsoleFiles::locate(Some(dir.path())).unwrap_err();
        assert!(
            error.to_string().contains("bash frontend/build.sh"),
            "{error}"
        );
        std::fs::write(dir.path().join("index.html"), "<html></html>").unwrap();
        assert_eq!(
            ConsoleFiles::locate(Some(dir.path())).unwrap(),
            ConsoleFiles::Dir(dir.path().to_path_buf())
        );
    }
}

//! `cavra-test-receiver`: a small HTTP server on 127.0.0.1 that answers as a test scripts it
//! and records every request, standing in for Slack, Teams, Jira, ServiceNow or a webhook
//! endpoint. It runs on a runtime of its own, so synchronous tests (CLI transcripts) and async
//! tests use it alike.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// What the receiver answers to one request.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// A `Retry-After` header value.
    pub retry_after: Option<String>,
    /// How long to wait before answering.
    pub delay: Duration,
    /// The JSON body; `{"ok":true}` when `None`.
    pub body: Option<String>,
}

impl Reply {
    /// Answers `status` at once.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            retry_after: None,
            delay: Duration::ZERO,
            body: None,
        }
    }

    /// Answers with `body` (served as `application/json`), e.g. a JWKS document.
    #[must_use]
    pub fn json_body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Adds a `Retry-After` header.
    #[must_use]
    pub fn retry_after(mut self, value: &str) -> Self {
        self.retry_after = Some(value.to_owned());
        self
    }

    /// Answers only after `delay`.
    #[must_use]
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A request the receiver saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Path and query.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// The raw body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

impl Seen {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// One header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

type Script = Arc<dyn Fn(usize) -> Reply + Send + Sync>;

struct Inner {
    script: Script,
    seen: Mutex<Vec<Seen>>,
}

/// The server. Dropping it stops it.
pub struct Receiver {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    inner: Arc<Inner>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Never blocks, so a receiver may be dropped inside an async test.
            runtime.shutdown_background();
        }
    }
}

impl Receiver {
    /// Starts a receiver that answers its n-th request (0-based) with `script(n)`.
    ///
    /// # Panics
    /// No runtime or loopback port is available.
    pub fn start(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("test-receiver")
            .enable_all()
            .build()
            .expect("a runtime for the receiver");
        let inner = Arc::new(Inner {
            script: Arc::new(script),
            seen: Mutex::new(Vec::new()),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let base = format!("http://{}", listener.local_addr().expect("bound address"));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base,
            inner,
            runtime: Some(runtime),
        }
    }

    /// Answers `statuses[n]` to the n-th request, and the last one after that (201 when the
    /// list is empty).
    pub fn statuses(statuses: &[u16]) -> Self {
        let statuses = statuses.to_vec();
        Self::start(move |n| {
            Reply::status(statuses.get(n).or(statuses.last()).copied().unwrap_or(201))
        })
    }

    /// Always answers `status`.
    pub fn always(status: u16) -> Self {
        Self::start(move |_| Reply::status(status))
    }

    /// `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.inner
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let index = {
        let mut seen = inner.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.push(Seen {
            path: uri.to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
            body: body.to_vec(),
            at: Instant::now(),
        });
        seen.len() - 1
    };
    let reply = (inner.script)(index);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = reply.body.unwrap_or_else(|| "{\"ok\":true}".to_owned());
    let mut response = (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    if let Some(value) = reply.retry_after.and_then(|v| v.parse().ok()) {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

/// A loopback URL nothing listens on (connection refused).
///
/// # Panics
/// No loopback port is available.
pub fn refused_url(path: &str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let address = listener.local_addr().expect("bound address");
    drop(listener);
    format!("http://{address}{path}")
}

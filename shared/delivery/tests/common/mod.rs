//! Loopback receivers, fixtures and fakes shared by the delivery suites.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use cavra_core::approval::Approval;
use cavra_core::decision::Decision;
use cavra_core::ids::ApprovalId;
use cavra_core::routing::RoutingTable;
use cavra_core::time::{SystemClock, Timestamp};
use cavra_core::workflow::{NewRequest, create_request};
use cavra_delivery::deliver::Sleeper;
use cavra_delivery::transport::OutgoingRequest;
use cavra_delivery::{
    Deliverer, ReqwestTransport, SecretError, SecretResolver, Secrets, Transport, TransportError,
    TransportResponse,
};
use serde_json::json;

/// What a receiver answers to its n-th request (0-based).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            retry_after: None,
            delay: Duration::ZERO,
        }
    }

    pub fn retry_after(mut self, value: &str) -> Self {
        self.retry_after = Some(value.to_owned());
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A request a receiver saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

type Script = Arc<dyn Fn(usize) -> Reply + Send + Sync>;

struct Inner {
    script: Script,
    seen: Mutex<Vec<Seen>>,
}

/// A small HTTP server on 127.0.0.1 that answers as scripted and records every request.
#[derive(Clone)]
pub struct Receiver {
    pub base: String,
    inner: Arc<Inner>,
}

impl Receiver {
    pub async fn start(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Self {
        let inner = Arc::new(Inner {
            script: Arc::new(script),
            seen: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { base, inner }
    }

    /// Always answers `status`.
    pub async fn always(status: u16) -> Self {
        Self::start(move |_| Reply::status(status)).await
    }

    /// `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.inner.seen.lock().unwrap().clone()
    }
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let index = {
        let mut seen = inner.seen.lock().unwrap();
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
    let status = StatusCode::from_u16(reply.status).unwrap();
    let mut response = (status, "{\"ok\":true}").into_response();
    if let Some(value) = reply.retry_after {
        response
            .headers_mut()
            .insert("retry-after", value.parse().unwrap());
    }
    response
}

/// A loopback URL nothing listens on.
pub async fn refused_url(path: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}{path}")
}

pub fn iam_decision(id: &str) -> Decision {
    Decision::from_value(json!({
        "decision_id": id, "session_id": "local", "action_type": "write_file", "target": "iam/admin-role.tf",
        "rule_id": "filesystem.write.require_approval", "decision": "require_approval", "severity": "high",
        "reason": "Matched approval-required path policy: iam/**", "evidence_refs": [format!("evidence://local/{id}")],
        "approver_group": "Platform Security", "correlation_id": "corr_8b2d0e6a1f47"
    }))
    .unwrap()
}

pub fn approval() -> Approval {
    let request = NewRequest {
        requested_by: Some("developer".into()),
        ..NewRequest::new(iam_decision("dec_3f9a1c2b7d4e"))
    };
    let now: Timestamp = "2026-05-18T12:35:00+00:00".parse().unwrap();
    create_request(
        request,
        &RoutingTable::default(),
        &ApprovalId::from_hex12("5c0e1d9b2a77").unwrap(),
        now,
    )
    .unwrap()
}

/// Waits nothing, remembers every wait it was asked for.
#[derive(Debug, Default)]
pub struct RecordingSleeper(pub Mutex<Vec<Duration>>);

#[async_trait]
impl Sleeper for RecordingSleeper {
    async fn sleep(&self, duration: Duration) {
        self.0.lock().unwrap().push(duration);
    }
}

/// A deliverer over real HTTP with the given secrets, real waits and no jitter (waits are the
/// nominal backoff, so tests can assert them exactly).
pub fn http_deliverer(secrets: Secrets) -> Deliverer {
    Deliverer::new(
        Arc::new(ReqwestTransport::new().unwrap()),
        secrets,
        Arc::new(SystemClock),
    )
    .with_jitter(Arc::new(|d| d))
}

/// An in-memory secret store standing in for Secrets Manager.
#[derive(Debug, Default)]
pub struct MapStore(pub HashMap<String, String>);

#[async_trait]
impl SecretResolver for MapStore {
    async fn resolve(&self, name: &str) -> Result<Option<String>, SecretError> {
        Ok(self.0.get(name).cloned())
    }
}

/// A fake sender (the original's tests stub the sender the same way).
#[derive(Debug)]
pub struct FakeTransport {
    pub answer: Result<TransportResponse, TransportError>,
    pub calls: Mutex<Vec<(OutgoingRequest, Duration)>>,
}

impl FakeTransport {
    pub fn answering(status: u16, error: Option<&str>) -> Arc<Self> {
        Arc::new(Self {
            answer: Ok(TransportResponse {
                status,
                error: error.map(str::to_owned),
                retry_after: None,
            }),
            calls: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait]
impl Transport for FakeTransport {
    async fn post(
        &self,
        request: &OutgoingRequest,
        timeout: Duration,
    ) -> Result<TransportResponse, TransportError> {
        self.calls.lock().unwrap().push((request.clone(), timeout));
        self.answer.clone()
    }
}

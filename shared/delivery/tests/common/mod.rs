//! Loopback receivers, fixtures and fakes shared by the delivery suites.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
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

pub use cavra_test_receiver::{Receiver, Reply, refused_url};

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
        rationale: None,
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

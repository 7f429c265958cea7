//! The delivery result, schema `cavra.approval.delivery.v1` (original §8.3), with the
//! contract's additions: every attempt is listed, and an automatic notification names its
//! event. Everything in it is redacted; the body is never recorded.

use std::collections::BTreeMap;

use cavra_core::approval::sort_value;
use cavra_core::notify::NotifyEvent;
use cavra_core::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::redact::Redactor;

/// The result's schema tag.
pub const DELIVERY_SCHEMA: &str = "cavra.approval.delivery.v1";

/// The request as evidence shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEvidence {
    /// Always `POST`.
    pub method: String,
    /// The redacted URL; null when the provider had none configured.
    pub url: Option<String>,
    /// Redacted headers.
    pub headers: BTreeMap<String, String>,
}

/// One attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptEvidence {
    /// 1-based.
    pub attempt: u32,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ended.
    pub completed_at: Timestamp,
    /// How long it took.
    pub duration_ms: u64,
    /// HTTP status; 0 for network errors and timeouts; null when nothing was sent.
    pub status_code: Option<u16>,
    /// What went wrong (redacted).
    pub error: Option<String>,
    /// The server's `Retry-After`, when it sent one, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// How long the next attempt waited, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
}

/// One provider's delivery; the top-level fields describe the last attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryEntry {
    /// `jira`, `servicenow`, `slack`, `teams` or `webhook`.
    pub provider: String,
    /// Whether the last attempt got a 2xx.
    pub success: bool,
    /// The last attempt's status (see [`AttemptEvidence::status_code`]).
    pub status_code: Option<u16>,
    /// Attempts made (0 when the provider is misconfigured).
    pub attempt_count: u32,
    /// The last attempt's start.
    pub started_at: Timestamp,
    /// The last attempt's end.
    pub completed_at: Timestamp,
    /// Why it failed (redacted).
    pub error: Option<String>,
    /// The request, redacted.
    pub request: RequestEvidence,
    /// Every attempt.
    pub attempts: Vec<AttemptEvidence>,
}

impl DeliveryEntry {
    /// Applies `redactor` to every text a secret could hide in.
    pub fn redact_with(&mut self, redactor: &Redactor) {
        if let Some(url) = &self.request.url {
            self.request.url = Some(redactor.text(url));
        }
        self.request.headers = redactor.headers(&self.request.headers);
        self.error = self.error.as_deref().map(|e| redactor.text(e));
        for attempt in &mut self.attempts {
            attempt.error = attempt.error.as_deref().map(|e| redactor.text(e));
        }
    }
}

/// The whole result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryResult {
    /// `cavra.approval.delivery.v1`.
    pub schema_version: String,
    /// `CAVRA`.
    pub product: String,
    /// The request delivered.
    pub approval_id: String,
    /// Its decision.
    pub decision_id: String,
    /// When the delivery finished.
    pub generated_at: Timestamp,
    /// The state change an automatic notification announced (absent for `deliver`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<NotifyEvent>,
    /// Every delivery succeeded (true when there were none).
    pub success: bool,
    /// One entry per provider, sorted by provider.
    pub deliveries: Vec<DeliveryEntry>,
}

impl DeliveryResult {
    /// The providers whose delivery failed.
    pub fn failed_providers(&self) -> Vec<&str> {
        self.deliveries
            .iter()
            .filter(|d| !d.success)
            .map(|d| d.provider.as_str())
            .collect()
    }

    /// The result as JSON with sorted keys (files, history, responses).
    pub fn to_value(&self) -> Value {
        sort_value(serde_json::to_value(self).expect("results serialise"))
    }
}

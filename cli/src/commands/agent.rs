//! What `cavra approval wait`, `cavra gate` and `cavra hook` share (issue F §3–§5): finding or
//! creating the one request for an action, waiting for its decision, and spending its grant.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cavra_core::approval::{Approval, ApprovalState};
use cavra_core::digest::sha256_hex;
use cavra_core::error::ApprovalError;
use cavra_core::ids::ApprovalId;
use cavra_core::service::ApprovalService;
use cavra_core::workflow::{CheckOptions, ConsumeInput, NewRequest};

use crate::Exit;
use crate::remote::{Remote, approval_path};
use crate::stores::{StoreArgs, routing_table};

/// Exit code of `wait`, `gate` and `hook` when the time to wait ran out.
pub const EXIT_TIMEOUT: u8 = 4;
/// Exit code of `gate` when the policy blocks the action.
pub const EXIT_BLOCKED: u8 = 5;
/// How often a waiting CLI re-reads the store (another process decides).
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// How many successive requests one action may have (each consumed or expired one moves on).
const MAX_GENERATIONS: u32 = 256;

/// Parses a duration such as `90s`, `30m`, `4h` or `1h 30m` (or whole seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("invalid duration {text:?} (write e.g. 90s, 30m, 4h): {e}"))
}

/// The idempotency key of the `generation`-th request for an action: the session, the action
/// digest and the action as given, so a retry of the same call finds the same request and a
/// different spelling of the same action gets its own.
fn key(approval_decision: &cavra_core::decision::Decision, generation: u32) -> String {
    let digest = approval_decision.text_field("action_digest");
    let given = sha256_hex(approval_decision.text_field("target_as_given"));
    let session = approval_decision.text_field("session_id");
    format!("cavra-agent:{session}:{digest}:{given}:{generation}")
}

/// Whether a stored request can still become (or is) a usable grant.
fn live(record: &Approval, now: cavra_core::time::Timestamp) -> bool {
    match record.state {
        ApprovalState::Pending => !record.is_overdue(now),
        ApprovalState::Approved | ApprovalState::BreakGlass => !record.grant().has_ended(now),
        // A denial stands: asking again with the same action gets the same answer.
        ApprovalState::Denied => true,
        ApprovalState::Expired | ApprovalState::Consumed => false,
    }
}

/// The request for `request.decision`'s action: the live one a previous call made, else a new
/// one. Returns it and whether it was created now.
///
/// # Errors
/// Creation errors, or more than [`MAX_GENERATIONS`] spent requests for one action.
pub async fn open_request(
    service: &ApprovalService,
    request: NewRequest,
) -> Result<(Approval, bool), ApprovalError> {
    for generation in 0..MAX_GENERATIONS {
        let key = key(&request.decision, generation);
        let id = ApprovalId::from_key(&key);
        if let Some(existing) = service.store().get(id.as_str()).await? {
            if live(&existing, service.now()) {
                return Ok((existing, false));
            }
            continue;
        }
        match service.create_idempotent(request.clone(), Some(&key)).await {
            Ok(created) => return Ok((created.approval, created.created)),
            // Another caller created it between our read and our write: use theirs.
            Err(ApprovalError::IdempotencyKeyReused) => {
                return Ok((service.get(id.as_str()).await?, false));
            }
            Err(other) => return Err(other),
        }
    }
    Err(ApprovalError::Contention(
        request.decision.text_field("decision_id"),
    ))
}

/// Waits until `approval_id` is no longer pending, re-reading every [`POLL_INTERVAL`]; `None`
/// when `timeout` passed first.
///
/// # Errors
/// Store errors, or an unknown id.
pub async fn wait_for_decision(
    service: &ApprovalService,
    approval_id: &str,
    timeout: Duration,
) -> Result<Option<Approval>, ApprovalError> {
    let start = Instant::now();
    loop {
        let record = service.get(approval_id).await?;
        if record.state != ApprovalState::Pending {
            return Ok(Some(record));
        }
        if record.is_overdue(service.now()) {
            // Nobody decided in time: expire it now, as the sweeper would.
            let _ = service.sweep().await;
            continue;
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Ok(None);
        }
        tokio::time::sleep(POLL_INTERVAL.min(timeout.saturating_sub(waited))).await;
    }
}

/// The exit for a request that is not (or no longer) usable.
pub fn refused(record: &Approval) -> Exit {
    let by = record
        .decided_by
        .as_deref()
        .map(|who| format!(" by {who}"))
        .unwrap_or_default();
    let why = record
        .decision_reason
        .as_deref()
        .map(|why| format!(": {why}"))
        .unwrap_or_default();
    Exit {
        message: format!(
            "approval {} is {}{by}{why}",
            record.approval_id, record.state
        ),
        code: 1,
    }
}

/// Where `gate`, `hook` and `mcp` keep approvals: a store (through the service, telling the
/// providers itself), or a deployed API with `--api` (the server routes, tells the providers
/// and applies its identity rules; the agent needs no database access).
pub enum Approvals {
    /// A local store (SQLite, JSON file) or a DynamoDB table.
    Local(ApprovalService),
    /// A deployed approvals API.
    Remote(Remote),
}

impl Approvals {
    /// The API when `--api` / `CAVRA_API_URL` is given, else the store with `routing_file`.
    ///
    /// # Errors
    /// A bad `--api` or token, `--routing-file` with `--api`, or the store cannot be opened.
    pub async fn open(store: &StoreArgs, routing_file: Option<&PathBuf>) -> anyhow::Result<Self> {
        if let Some(remote) = store.remote.client()? {
            if routing_file.is_some() {
                return Err(Exit::usage(
                    "--routing-file is for stores: through --api the server's routing applies",
                )
                .into());
            }
            return Ok(Self::Remote(remote));
        }
        Ok(Self::Local(
            store
                .service()
                .await?
                .with_routing(routing_table(routing_file)?),
        ))
    }

    /// The record.
    ///
    /// # Errors
    /// Unknown id, or the store or the API failed.
    pub async fn get(&self, approval_id: &str) -> anyhow::Result<Approval> {
        match self {
            Self::Local(service) => Ok(service.get(approval_id).await?),
            Self::Remote(remote) => remote.record(approval_id).await,
        }
    }

    /// The live request for `request.decision`'s action, else a new one (see
    /// [`open_request`]); a new one is announced to the providers. Returns it and whether it
    /// was created now.
    ///
    /// # Errors
    /// Creation errors, or too many spent requests for one action.
    pub async fn open_request(&self, request: NewRequest) -> anyhow::Result<(Approval, bool)> {
        let remote = match self {
            Self::Local(service) => {
                let (record, created) = open_request(service, request).await?;
                return Ok((record, created));
            }
            Self::Remote(remote) => remote,
        };
        let now = cavra_core::time::Clock::now(&cavra_core::time::SystemClock);
        for generation in 0..MAX_GENERATIONS {
            let key = key(&request.decision, generation);
            let id = ApprovalId::from_key(&key);
            if let Some(existing) = remote.find(id.as_str()).await? {
                if live(&existing, now) {
                    return Ok((existing, false));
                }
                continue;
            }
            let body = serde_json::json!({
                "decision": request.decision.as_map(),
                "requested_by": request.requested_by,
            });
            return match remote.create_keyed(&body, &key).await? {
                Some(created) => Ok(created),
                // Another caller created it between our read and our write: use theirs.
                None => Ok((remote.record(id.as_str()).await?, false)),
            };
        }
        Err(ApprovalError::Contention(request.decision.text_field("decision_id")).into())
    }

    /// Waits until the request is no longer pending (see [`wait_for_decision`]); `None` when
    /// `timeout` passed first.
    ///
    /// # Errors
    /// The store or the API failed, or the id is unknown.
    pub async fn wait(
        &self,
        approval_id: &str,
        timeout: Duration,
    ) -> anyhow::Result<Option<Approval>> {
        match self {
            Self::Local(service) => Ok(wait_for_decision(service, approval_id, timeout).await?),
            Self::Remote(remote) => {
                let record = remote.wait(approval_id, timeout).await?;
                let now = cavra_core::time::Clock::now(&cavra_core::time::SystemClock);
                Ok(
                    (record.state != ApprovalState::Pending || record.is_overdue(now))
                        .then_some(record),
                )
            }
        }
    }

    /// Spends one use of the grant for exactly `input` (announced to the providers when it
    /// was the last).
    ///
    /// # Errors
    /// The refusal (`approval already used`, a mismatch, an ended grant…), or a failure.
    pub async fn consume(
        &self,
        approval_id: &str,
        input: &ConsumeInput,
    ) -> anyhow::Result<Approval> {
        match self {
            Self::Local(service) => Ok(service
                .consume(approval_id, input, CheckOptions::default())
                .await?),
            Self::Remote(remote) => {
                let body = serde_json::json!({
                    "decision": input.decision.as_map(),
                    "content_sha256": input.presented.content_sha256,
                    "tool_args_sha256": input.presented.tool_args_sha256,
                    "plan_sha256": input.presented.plan_sha256,
                    "actor": input.actor,
                    "reason": input.reason,
                });
                let path = approval_path(approval_id, "/consume")?;
                let value = remote
                    .call(cavra_api::Route::Consume, &path, Some(&body))
                    .await?;
                serde_json::from_value(value).map_err(|e| {
                    anyhow::anyhow!("the approvals API answered a record this CLI cannot read: {e}")
                })
            }
        }
    }
}

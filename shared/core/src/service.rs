//! The approval service: runs [`crate::workflow`] against the ports, with compare-and-set
//! retries, idempotent creation and expiry enforcement. The CLI, the HTTP handlers and the
//! tests all go through it.

use std::sync::Arc;

use crate::approval::Approval;
use crate::chain_key::ChainKeyRing;
use crate::decision::Decision;
use crate::error::ApprovalError;
use crate::identity::ActorContext;
use crate::ids::{ApprovalId, IdGenerator};
use crate::integrity::{self, RecordVerification};
use crate::rbac::RbacPolicy;
use crate::routing::RoutingTable;
use crate::store::{ApprovalPage, ApprovalStore, ListQuery, StoreError};
use crate::time::{Clock, Timestamp};
use crate::workflow::{
    self, BreakGlassInput, CheckOptions, CheckReport, ConsumeInput, CreatePolicy, DecideInput,
    DecideOutcome, Limits, NewRequest,
};

/// Told about every stored change, with the record as stored (after create, decide, expire,
/// break-glass, review, delivery evidence, consume and sweep). `cavra serve` uses one to wake
/// `GET /approvals/{id}?wait=` without polling the store.
pub trait ChangeListener: Send + Sync {
    /// `record` was just stored.
    fn changed(&self, record: &Approval);
}

/// How many times a compare-and-set is retried before giving up.
const MAX_CAS_ATTEMPTS: usize = 256;
/// How many overdue records one sweep batch reads.
const SWEEP_BATCH: u32 = 200;

/// The result of [`ApprovalService::create`].
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    /// The stored request.
    pub approval: Approval,
    /// `false` when an open request for the same decision was returned instead.
    pub created: bool,
}

/// The approval workflow over a store, a clock, an id source, routing and RBAC.
#[derive(Clone)]
pub struct ApprovalService {
    store: Arc<dyn ApprovalStore>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    routing: RoutingTable,
    rbac: Option<RbacPolicy>,
    limits: Limits,
    chain_keys: Option<Arc<ChainKeyRing>>,
    listeners: Vec<Arc<dyn ChangeListener>>,
}

impl std::fmt::Debug for ApprovalService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalService")
            .field("routing", &self.routing)
            .field("rbac", &self.rbac)
            .finish_non_exhaustive()
    }
}

impl ApprovalService {
    /// A service with the default routing table and no RBAC policy.
    pub fn new(
        store: Arc<dyn ApprovalStore>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            store,
            clock,
            ids,
            routing: RoutingTable::default(),
            rbac: None,
            limits: Limits::default(),
            chain_keys: None,
            listeners: Vec::new(),
        }
    }

    /// Adds a listener told about every stored change.
    #[must_use]
    pub fn with_listener(mut self, listener: Arc<dyn ChangeListener>) -> Self {
        self.listeners.push(listener);
        self
    }

    fn announce(&self, record: &Approval) {
        for listener in &self.listeners {
            listener.changed(record);
        }
    }

    /// Seals every write with the ring's current key and verifies with any of its keys
    /// (issue E §5). Without a ring, records are written `unkeyed`.
    #[must_use]
    pub fn with_chain_keys(mut self, keys: Option<ChainKeyRing>) -> Self {
        self.chain_keys = keys.map(Arc::new);
        self
    }

    /// The chain keys, when configured.
    pub fn chain_keys(&self) -> Option<&ChainKeyRing> {
        self.chain_keys.as_deref()
    }

    /// `record` sealed for writing; the history entries from `first_new` on are its new ones.
    fn sealed(&self, mut record: Approval, first_new: usize) -> Approval {
        integrity::seal(&mut record, first_new, self.chain_keys.as_deref());
        record
    }

    /// Inserts a new record, sealed.
    async fn insert_sealed(&self, record: Approval) -> Result<Approval, StoreError> {
        let record = self.sealed(record, 0);
        self.store.insert(&record).await?;
        self.announce(&record);
        Ok(record)
    }

    /// Replaces the routing table (a routing file replaces the defaults entirely).
    #[must_use]
    pub fn with_routing(mut self, routing: RoutingTable) -> Self {
        self.routing = routing;
        self
    }

    /// Sets the RBAC policy used for authorisation and group mappings.
    #[must_use]
    pub fn with_rbac(mut self, rbac: Option<RbacPolicy>) -> Self {
        self.rbac = rbac;
        self
    }

    /// Sets the lifetime limits (issue E §6).
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The lifetime limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Every group the deployment knows: the routing table's, the RBAC policy's and the
    /// built-in ones. A verified caller may name only these.
    pub fn known_groups(&self) -> Vec<String> {
        let mut known = self.routing.group_names();
        known.extend(workflow::builtin_groups());
        known.extend(
            self.rbac
                .as_ref()
                .map(RbacPolicy::group_names)
                .unwrap_or_default(),
        );
        known.sort();
        known.dedup();
        known
    }

    /// The routing table in force.
    pub fn routing(&self) -> &RoutingTable {
        &self.routing
    }

    /// The RBAC policy in force.
    pub fn rbac(&self) -> Option<&RbacPolicy> {
        self.rbac.as_ref()
    }

    /// The current time from the clock port.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The store behind the service.
    pub fn store(&self) -> &Arc<dyn ApprovalStore> {
        &self.store
    }

    /// Creates a request, or returns the open one for the same decision (CONTRACT §1).
    pub async fn create(&self, req: NewRequest) -> Result<Created, ApprovalError> {
        self.create_idempotent(req, None).await
    }

    /// [`ApprovalService::create`] with an optional idempotency key: the key fixes the
    /// approval id (`apr_` + the first 12 hex of its SHA-256), so a retried call finds the
    /// request the first call made. Reusing a key for another decision is a conflict.
    pub async fn create_idempotent(
        &self,
        req: NewRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Created, ApprovalError> {
        let now = self.clock.now();
        let id = match idempotency_key {
            Some(key) => ApprovalId::from_key(key),
            None => self.ids.approval_id(),
        };
        if idempotency_key.is_some()
            && let Some(existing) = self.store.get(id.as_str()).await?
        {
            let digest = req.decision.digest();
            if existing.decision_digest.as_deref() != Some(digest.as_str()) {
                return Err(ApprovalError::IdempotencyKeyReused);
            }
            return Ok(Created {
                approval: existing,
                created: false,
            });
        }
        let known = self.known_groups();
        let policy = CreatePolicy {
            routing: &self.routing,
            known_groups: &known,
            limits: self.limits,
        };
        let record = workflow::create_request_with(req, &policy, &id, now)?;
        for _ in 0..MAX_CAS_ATTEMPTS {
            if let Some(existing) = self
                .store
                .find_open_by_decision(&record.decision_id)
                .await?
            {
                if existing.is_overdue(now) {
                    // Best effort: if someone else decides it first, the next loop sees that.
                    let _ = self
                        .persist(workflow::expire_as_system(&existing, now), &existing)
                        .await;
                    continue;
                }
                if existing.decision_digest != record.decision_digest {
                    return Err(ApprovalError::ConflictingOpenRequest(
                        record.decision_id.clone(),
                    ));
                }
                return Ok(Created {
                    approval: existing,
                    created: false,
                });
            }
            match self.insert_sealed(record.clone()).await {
                Ok(stored) => {
                    return Ok(Created {
                        approval: stored,
                        created: true,
                    });
                }
                Err(StoreError::DuplicateOpenDecision(_)) => {}
                Err(StoreError::DuplicateId(_)) if idempotency_key.is_some() => {
                    return Box::pin(self.create_idempotent(
                        NewRequest::new(record.decision.clone()),
                        idempotency_key,
                    ))
                    .await;
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(ApprovalError::Contention(record.decision_id))
    }

    /// Reads one request.
    pub async fn get(&self, approval_id: &str) -> Result<Approval, ApprovalError> {
        self.store
            .get(approval_id)
            .await?
            .ok_or_else(|| ApprovalError::NotFound(approval_id.to_owned()))
    }

    /// Lists requests.
    pub async fn list(&self, query: &ListQuery) -> Result<ApprovalPage, ApprovalError> {
        Ok(self.store.list(query).await?)
    }

    /// Seals `next` and compare-and-sets it over `read`; returns what was stored.
    async fn persist(&self, next: Approval, read: &Approval) -> Result<Approval, StoreError> {
        let next = self.sealed(next, read.history.len());
        self.store.replace(&next, read.version, read.state).await?;
        self.announce(&next);
        Ok(next)
    }

    /// Reads, applies `change`, and compare-and-sets, retrying when someone else wrote first.
    async fn update<F>(&self, approval_id: &str, change: F) -> Result<Approval, ApprovalError>
    where
        F: Fn(&Approval, Timestamp) -> Result<Approval, ApprovalError>,
    {
        for _ in 0..MAX_CAS_ATTEMPTS {
            let current = self.get(approval_id).await?;
            let next = change(&current, self.clock.now())?;
            match self.persist(next, &current).await {
                Ok(stored) => return Ok(stored),
                Err(StoreError::VersionConflict(_)) => {}
                Err(other) => return Err(other.into()),
            }
        }
        Err(ApprovalError::Contention(approval_id.to_owned()))
    }

    /// Approves, denies or expires a pending request. A request past `expires_at` becomes
    /// `expired` (by `system`) and the call fails with [`ApprovalError::Expired`].
    pub async fn decide(
        &self,
        approval_id: &str,
        input: &DecideInput,
    ) -> Result<Approval, ApprovalError> {
        for _ in 0..MAX_CAS_ATTEMPTS {
            let current = self.get(approval_id).await?;
            let (next, expired) =
                match workflow::decide(&current, input, self.rbac.as_ref(), self.clock.now())? {
                    DecideOutcome::Changed(next) => (next, false),
                    DecideOutcome::ExpiredInstead(next) => (next, true),
                };
            match self.persist(next, &current).await {
                Ok(_) if expired => return Err(ApprovalError::Expired),
                Ok(stored) => return Ok(stored),
                Err(StoreError::VersionConflict(_)) => {}
                Err(other) => return Err(other.into()),
            }
        }
        Err(ApprovalError::Contention(approval_id.to_owned()))
    }

    /// Records a break-glass override.
    pub async fn break_glass(&self, input: BreakGlassInput) -> Result<Approval, ApprovalError> {
        let record = workflow::break_glass(
            input,
            &self.routing,
            self.rbac.as_ref(),
            self.limits,
            &self.ids.approval_id(),
            self.clock.now(),
        )?;
        Ok(self.insert_sealed(record).await?)
    }

    /// Records the post-incident review of a break-glass override.
    pub async fn review_break_glass(
        &self,
        approval_id: &str,
        actor: &str,
        reason: &str,
        context: Option<&ActorContext>,
    ) -> Result<Approval, ApprovalError> {
        self.update(approval_id, |current, now| {
            workflow::review_break_glass(current, actor, reason, context, now)
        })
        .await
    }

    /// Reads one request for delivery by `ctx`: 404 before 403, authorisation before anything
    /// about the provider config is revealed (see [`workflow::authorize_delivery`]).
    pub async fn get_for_delivery(
        &self,
        approval_id: &str,
        ctx: &ActorContext,
    ) -> Result<Approval, ApprovalError> {
        let record = self.get(approval_id).await?;
        workflow::authorize_delivery(&record, ctx, self.rbac.as_ref())?;
        Ok(record)
    }

    /// Appends redacted delivery evidence to a request's history.
    pub async fn record_delivery(
        &self,
        approval_id: &str,
        actor: &str,
        evidence: &serde_json::Value,
    ) -> Result<Approval, ApprovalError> {
        self.update(approval_id, |current, now| {
            Ok(workflow::record_delivery(
                current,
                actor,
                evidence.clone(),
                now,
            ))
        })
        .await
    }

    /// Expires every pending request past `expires_at`, as `system` (CONTRACT §4).
    pub async fn sweep(&self) -> Result<Vec<Approval>, ApprovalError> {
        let mut expired = Vec::new();
        loop {
            let now = self.clock.now();
            let due = self.store.overdue(now, SWEEP_BATCH).await?;
            if due.is_empty() {
                return Ok(expired);
            }
            for record in due {
                let next = workflow::expire_as_system(&record, now);
                match self.persist(next, &record).await {
                    Ok(stored) => expired.push(stored),
                    // Someone decided it meanwhile; it is no longer overdue-and-pending.
                    Err(StoreError::VersionConflict(_)) => {}
                    Err(other) => return Err(other.into()),
                }
            }
        }
    }

    /// Whether an agent may act on `decision` under the request (CONTRACT §5).
    pub async fn check(
        &self,
        approval_id: &str,
        decision: &Decision,
    ) -> Result<CheckReport, ApprovalError> {
        self.check_with(approval_id, decision, CheckOptions::default())
            .await
    }

    /// [`ApprovalService::check`] with the integrity and identity options (issue E §4–§5);
    /// whether a chain key is configured is this service's to say.
    pub async fn check_with(
        &self,
        approval_id: &str,
        decision: &Decision,
        options: CheckOptions,
    ) -> Result<CheckReport, ApprovalError> {
        let approval = self.get(approval_id).await?;
        let verification = integrity::verify_record(&approval, self.chain_keys.as_deref());
        let options = CheckOptions {
            keyed: self.chain_keys.is_some(),
            ..options
        };
        Ok(workflow::check(
            &approval,
            decision,
            self.clock.now(),
            &verification,
            &options,
        ))
    }

    /// Spends one use of the request's grant for exactly `input`'s decision and payload
    /// (issue F §2), atomically: the check and the `consumed` entry are one compare-and-set, so
    /// of any number of concurrent consumers of a one-use grant exactly one succeeds and the
    /// others get [`ApprovalError::AlreadyUsed`]. `check` stays read-only.
    pub async fn consume(
        &self,
        approval_id: &str,
        input: &ConsumeInput,
        options: CheckOptions,
    ) -> Result<Approval, ApprovalError> {
        let options = CheckOptions {
            keyed: self.chain_keys.is_some(),
            ..options
        };
        self.update(approval_id, |current, now| {
            let verification = integrity::verify_record(current, self.chain_keys.as_deref());
            workflow::consume(current, input, &verification, &options, now)
        })
        .await
    }

    /// Recomputes the request's history chain, replays it against the stored fields and
    /// checks the seal (CONTRACT §6, issue E §5).
    pub async fn verify_history(
        &self,
        approval_id: &str,
    ) -> Result<RecordVerification, ApprovalError> {
        let approval = self.get(approval_id).await?;
        Ok(integrity::verify_record(
            &approval,
            self.chain_keys.as_deref(),
        ))
    }

    /// The decision with the request's summary attached (original §7.1), refusing a decision
    /// that is not the one the request was made for.
    pub async fn attach_decision(
        &self,
        approval_id: &str,
        decision: &Decision,
    ) -> Result<Decision, ApprovalError> {
        let approval = self.get(approval_id).await?;
        let mismatch = |detail: &str| ApprovalError::DecisionMismatch {
            approval_id: approval.approval_id.clone(),
            detail: detail.to_owned(),
        };
        if decision.decision_id() != Some(approval.decision_id.as_str()) {
            return Err(mismatch("decision_id differs"));
        }
        if approval
            .decision_digest
            .as_ref()
            .is_some_and(|d| *d != decision.digest())
        {
            return Err(mismatch("decision digest differs"));
        }
        Ok(crate::evidence::attach_decision(decision, &approval))
    }
}

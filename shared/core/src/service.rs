//! The approval service: runs [`crate::workflow`] against the ports, with compare-and-set
//! retries, idempotent creation and expiry enforcement. The CLI, the HTTP handlers and the
//! tests all go through it.

use std::sync::{Arc, Mutex, PoisonError};

use crate::approval::{Approval, SYSTEM_ACTOR};
use crate::chain_key::ChainKeyRing;
use crate::decision::Decision;
use crate::error::ApprovalError;
use crate::identity::ActorContext;
use crate::ids::{ApprovalId, IdGenerator};
use crate::integrity::{self, RecordVerification};
use crate::notify::{Notifier, NotifyEvent};
use crate::rbac::RbacPolicy;
use crate::routing::RoutingTable;
use crate::store::{
    ApprovalPage, ApprovalStore, Cursor, JsonPage, ListQuery, MAX_CAS_ATTEMPTS, RecordJson,
    StoreError,
};
use crate::time::{Clock, Timestamp};
use crate::workflow::{
    self, BreakGlassInput, CheckOptions, CheckReport, ConsumeInput, CreatePolicy, DecideInput,
    DecideOutcome, FollowUpStep, Limits, NewRequest, OverrideOf,
};

/// Told about every stored change, with the record as stored (after create, decide, expire,
/// break-glass, review, delivery evidence, consume and sweep). `cavra serve` uses one to wake
/// `GET /approvals/{id}?wait=` without polling the store.
pub trait ChangeListener: Send + Sync {
    /// `record` was just stored.
    fn changed(&self, record: &Approval);
}

/// How many overdue records one sweep batch reads.
const SWEEP_BATCH: u32 = 200;

/// What one [`ApprovalService::sweep`] did, each record as stored (with its notification
/// evidence).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Swept {
    /// Overdue pending requests expired as `system`.
    pub expired: Vec<Approval>,
    /// Pending requests whose approver group was reminded.
    pub reminded: Vec<Approval>,
    /// Pending requests escalated to their fallback group.
    pub escalated: Vec<Approval>,
}

impl Swept {
    /// Whether the sweep changed nothing.
    pub fn is_empty(&self) -> bool {
        self.expired.is_empty() && self.reminded.is_empty() && self.escalated.is_empty()
    }

    /// The report `cavra approval sweep` prints and the sweeper function returns: the ids
    /// under `expired`, `reminded` and `escalated`.
    pub fn ids(&self) -> serde_json::Value {
        let ids = |records: &[Approval]| -> Vec<String> {
            records.iter().map(|a| a.approval_id.clone()).collect()
        };
        serde_json::json!({
            "expired": ids(&self.expired),
            "reminded": ids(&self.reminded),
            "escalated": ids(&self.escalated),
        })
    }
}

/// The result of [`ApprovalService::break_glass_from`]: both records as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkedOverride {
    /// The break-glass override (`overrides` names the blocked request).
    pub override_record: Approval,
    /// The blocked request, closed by it (`overridden_by` names the override).
    pub blocked: Approval,
}

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
    rbac: Option<Arc<RbacPolicy>>,
    limits: Limits,
    chain_keys: Option<Arc<ChainKeyRing>>,
    listeners: Vec<Arc<dyn ChangeListener>>,
    notifier: Option<Arc<dyn Notifier>>,
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
            notifier: None,
        }
    }

    /// Sets (or, with `None`, removes) the notifier told after every stored change.
    #[must_use]
    pub fn with_notifier(mut self, notifier: Option<Arc<dyn Notifier>>) -> Self {
        self.notifier = notifier;
        self
    }

    /// The notifier, when one is configured.
    pub fn notifier(&self) -> Option<&Arc<dyn Notifier>> {
        self.notifier.as_ref()
    }

    /// After a stored change: tells the notifier about `event` and keeps its evidence as a
    /// `delivered` entry by `system`. Never fails the change, which is already stored: a
    /// failed delivery is in the evidence, a failed append is logged and the record returned
    /// as it was.
    async fn notified(&self, record: Approval, event: NotifyEvent) -> Approval {
        let Some(notifier) = &self.notifier else {
            return record;
        };
        let Some(evidence) = notifier.notify(&record, event).await else {
            return record;
        };
        match self
            .record_delivery(&record.approval_id, SYSTEM_ACTOR, &evidence)
            .await
        {
            Ok(updated) => updated,
            Err(error) => {
                tracing::error!(
                    approval_id = %record.approval_id,
                    event = %event,
                    error = %error,
                    "notification evidence was not stored"
                );
                record
            }
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
        self.rbac = rbac.map(Arc::new);
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
                .as_deref()
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
        self.rbac.as_deref()
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
    #[tracing::instrument(name = "approval.create", skip_all)]
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
        let known = self.known_groups();
        let policy = CreatePolicy {
            routing: &self.routing,
            known_groups: &known,
            limits: self.limits,
        };
        let record = workflow::create_request_with(req, &policy, &id, now)?;
        // Optimistic (issue G §5): the insert is the store's one conditional write; only a
        // conflict — an open request for the same decision, or the key's id taken — reads.
        for _ in 0..MAX_CAS_ATTEMPTS {
            match self.insert_sealed(record.clone()).await {
                Ok(stored) => {
                    tracing::info!(approval_id = %stored.approval_id, group = %stored.approver_group, "approval requested");
                    return Ok(Created {
                        approval: self.notified(stored, NotifyEvent::Requested).await,
                        created: true,
                    });
                }
                Err(StoreError::DuplicateOpenDecision(_)) => {
                    let Some(existing) = self
                        .store
                        .find_open_by_decision(&record.decision_id)
                        .await?
                    else {
                        // Decided meanwhile: the decision is free again.
                        continue;
                    };
                    if existing.is_overdue(now) {
                        // Best effort: if someone else decides it first, the next loop sees that.
                        if let Ok(stored) = self
                            .persist(workflow::expire_as_system(&existing, now), &existing)
                            .await
                        {
                            self.notified(stored, NotifyEvent::Expired).await;
                        }
                        continue;
                    }
                    if existing.decision_digest != record.decision_digest {
                        return Err(ApprovalError::ConflictingOpenRequest(
                            record.decision_id.clone(),
                        ));
                    }
                    // A store may report the open decision before the taken id: a key used
                    // for another decision is still a reused key.
                    if idempotency_key.is_some() && existing.approval_id != id.as_str() {
                        self.keyed_request(&id, &record).await?;
                    }
                    return Ok(Created {
                        approval: existing,
                        created: false,
                    });
                }
                Err(StoreError::DuplicateId(_)) if idempotency_key.is_some() => {
                    // The key was used before: the same decision gets its request back.
                    let Some(existing) = self.keyed_request(&id, &record).await? else {
                        continue;
                    };
                    return Ok(Created {
                        approval: existing,
                        created: false,
                    });
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(ApprovalError::Contention(record.decision_id))
    }

    /// The request an idempotency key's id already names, if any; a key used for another
    /// decision than `record`'s is [`ApprovalError::IdempotencyKeyReused`].
    async fn keyed_request(
        &self,
        id: &ApprovalId,
        record: &Approval,
    ) -> Result<Option<Approval>, ApprovalError> {
        match self.store.get(id.as_str()).await? {
            Some(existing) if existing.decision_digest != record.decision_digest => {
                Err(ApprovalError::IdempotencyKeyReused)
            }
            found => Ok(found),
        }
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

    /// [`ApprovalService::get`] as the API's JSON text, answered as stored where the store can
    /// (issue H §3).
    pub async fn get_json(&self, approval_id: &str) -> Result<RecordJson, ApprovalError> {
        self.store
            .get_json(approval_id)
            .await?
            .ok_or_else(|| ApprovalError::NotFound(approval_id.to_owned()))
    }

    /// [`ApprovalService::list`] as the API's JSON page, answered as stored where the store can.
    pub async fn list_json(&self, query: &ListQuery) -> Result<JsonPage, ApprovalError> {
        Ok(self.store.list_json(query).await?)
    }

    /// Seals `next` and compare-and-sets it over `read`; returns what was stored.
    async fn persist(&self, next: Approval, read: &Approval) -> Result<Approval, StoreError> {
        let next = self.sealed(next, read.history.len());
        self.store.replace(&next, read.version, read.state).await?;
        self.announce(&next);
        Ok(next)
    }

    /// Applies `change` to the stored record and stores its result, sealed, in one store step
    /// ([`ApprovalStore::update`]: on SQLite's writer thread, elsewhere read and compare-and-set
    /// with retries).
    async fn update<F>(&self, approval_id: &str, mut change: F) -> Result<Approval, ApprovalError>
    where
        F: FnMut(&Approval, Timestamp) -> Result<Approval, ApprovalError> + Send + 'static,
    {
        self.update_if(approval_id, move |current, now| {
            change(current, now).map(|next| Some((next, ())))
        })
        .await?
        .map(|(stored, ())| stored)
        // `change` always has something to store, so only contention ends without a record.
        .ok_or_else(|| ApprovalError::Contention(approval_id.to_owned()))
    }

    /// [`ApprovalService::update`] for a change that may have nothing to do: `change` answers
    /// the next record with a tag, or `None`, which stores nothing and returns `None`. The
    /// clock is read where the change runs, next to the read it judges.
    async fn update_if<F, T>(
        &self,
        approval_id: &str,
        mut change: F,
    ) -> Result<Option<(Approval, T)>, ApprovalError>
    where
        F: FnMut(&Approval, Timestamp) -> Result<Option<(Approval, T)>, ApprovalError>
            + Send
            + 'static,
        T: Send + 'static,
    {
        // The store may run the change on another thread and more than once: the tag of the
        // attempt that was stored is the last one written here.
        let tag = Arc::new(Mutex::new(None));
        let slot = Arc::clone(&tag);
        let clock = Arc::clone(&self.clock);
        let keys = self.chain_keys.clone();
        let stored = self
            .store
            .update(
                approval_id,
                Box::new(move |current: &Approval| {
                    let Some((mut next, t)) = change(current, clock.now())? else {
                        return Ok(None);
                    };
                    integrity::seal(&mut next, current.history.len(), keys.as_deref());
                    *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(t);
                    Ok(Some(next))
                }),
            )
            .await?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        self.announce(&stored);
        let t = tag
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| {
                StoreError::Unexpected(anyhow::anyhow!(
                    "the store answered approval {approval_id} with a change it did not make"
                ))
            })?;
        Ok(Some((stored, t)))
    }

    /// Approves, denies or expires a pending request. A request past `expires_at` becomes
    /// `expired` (by `system`) and the call fails with [`ApprovalError::Expired`].
    pub async fn decide(
        &self,
        approval_id: &str,
        input: &DecideInput,
    ) -> Result<Approval, ApprovalError> {
        match self.decide_outcome(approval_id, input).await? {
            DecideOutcome::Changed(record) => Ok(record),
            DecideOutcome::ExpiredInstead(_) => Err(ApprovalError::Expired),
        }
    }

    /// [`ApprovalService::decide`] keeping the stored record either way: `Changed` (a vote,
    /// or the deciding one) or `ExpiredInstead` (the request was overdue and is now expired
    /// by `system`). A terminal state is announced through the notifier; a vote that leaves
    /// the request pending is not.
    #[tracing::instrument(
        name = "approval.decide",
        skip_all,
        fields(approval_id = %approval_id, transition = %input.target)
    )]
    pub async fn decide_outcome(
        &self,
        approval_id: &str,
        input: &DecideInput,
    ) -> Result<DecideOutcome, ApprovalError> {
        let input = input.clone();
        let rbac = self.rbac.clone();
        let (stored, expired) = self
            .update_if(approval_id, move |current, now| {
                Ok(Some(
                    match workflow::decide(current, &input, rbac.as_deref(), now)? {
                        DecideOutcome::Changed(next) => (next, false),
                        DecideOutcome::ExpiredInstead(next) => (next, true),
                    },
                ))
            })
            .await?
            // The change always has something to store.
            .ok_or_else(|| ApprovalError::Contention(approval_id.to_owned()))?;
        if expired {
            let stored = self.notified(stored, NotifyEvent::Expired).await;
            return Ok(DecideOutcome::ExpiredInstead(stored));
        }
        if stored.state == crate::approval::ApprovalState::Pending {
            return Ok(DecideOutcome::Changed(stored));
        }
        tracing::info!(state = %stored.state, "approval decided");
        let event = NotifyEvent::for_state(stored.state);
        Ok(DecideOutcome::Changed(self.notified(stored, event).await))
    }

    /// Records a break-glass override and broadcasts it (CONTRACT §3).
    #[tracing::instrument(name = "approval.break_glass", skip_all)]
    pub async fn break_glass(&self, input: BreakGlassInput) -> Result<Approval, ApprovalError> {
        let record = workflow::break_glass(
            input,
            &self.routing,
            self.rbac.as_deref(),
            self.limits,
            &self.ids.approval_id(),
            self.clock.now(),
        )?;
        let stored = self.insert_sealed(record).await?;
        tracing::warn!(approval_id = %stored.approval_id, "break-glass override recorded");
        Ok(self.notified(stored, NotifyEvent::BreakGlass).await)
    }

    /// Records a break-glass override started from the pending request `of` names (issue
    /// I §5): the override takes the request's decision (a rule or target the caller gives must
    /// be the request's), and the request is closed by it, linked both ways.
    ///
    /// The request's compare-and-set from `pending` is the one step that can race: of any
    /// number of concurrent overrides (or a decision) exactly one wins; the losers get
    /// [`ApprovalError::BlockedRequestClosed`] and store nothing. The override is inserted
    /// after, under an id fixed by the request's, so a call that stopped between the two
    /// writes is completed by the next call for the same request.
    #[tracing::instrument(name = "approval.break_glass_from", skip_all, fields(blocked = %of.approval_id))]
    pub async fn break_glass_from(
        &self,
        of: &OverrideOf,
        input: BreakGlassInput,
    ) -> Result<LinkedOverride, ApprovalError> {
        let override_id = of.override_id();
        for _ in 0..MAX_CAS_ATTEMPTS {
            let blocked = self
                .store
                .get(&of.approval_id)
                .await?
                .ok_or_else(|| ApprovalError::BlockedRequestNotFound(of.approval_id.clone()))?;
            let unfinished = blocked.overridden_by.as_deref() == Some(override_id.as_str())
                && self.store.get(override_id.as_str()).await?.is_none();
            if unfinished {
                of.check_fields(&blocked)?;
            } else {
                of.check(&blocked)?;
            }
            let now = self.clock.now();
            let record = workflow::break_glass(
                BreakGlassInput {
                    decision: blocked.decision.clone(),
                    ..input.clone()
                },
                &self.routing,
                self.rbac.as_deref(),
                self.limits,
                &override_id,
                now,
            )?;
            let mut record = workflow::link_override(record, &blocked.approval_id);
            // The agent's words about the action it was refused stay with the override.
            record.rationale.clone_from(&blocked.rationale);
            let closed = if unfinished {
                blocked
            } else {
                match self
                    .persist(
                        workflow::close_by_override(&blocked, &record, now),
                        &blocked,
                    )
                    .await
                {
                    Ok(closed) => closed,
                    Err(StoreError::VersionConflict(_)) => continue,
                    Err(other) => return Err(other.into()),
                }
            };
            let stored = self.insert_sealed(record).await?;
            tracing::warn!(
                approval_id = %stored.approval_id,
                blocked = %closed.approval_id,
                "break-glass override recorded; the blocked request is closed"
            );
            return Ok(LinkedOverride {
                override_record: self.notified(stored, NotifyEvent::BreakGlass).await,
                blocked: closed,
            });
        }
        Err(ApprovalError::Contention(of.approval_id.clone()))
    }

    /// Records the post-incident review of a break-glass override.
    pub async fn review_break_glass(
        &self,
        approval_id: &str,
        actor: &str,
        reason: &str,
        context: Option<&ActorContext>,
    ) -> Result<Approval, ApprovalError> {
        let (actor, reason, context) = (actor.to_owned(), reason.to_owned(), context.cloned());
        self.update(approval_id, move |current, now| {
            workflow::review_break_glass(current, &actor, &reason, context.as_ref(), now)
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
        workflow::authorize_delivery(&record, ctx, self.rbac.as_deref())?;
        Ok(record)
    }

    /// Appends redacted delivery evidence to a request's history.
    pub async fn record_delivery(
        &self,
        approval_id: &str,
        actor: &str,
        evidence: &serde_json::Value,
    ) -> Result<Approval, ApprovalError> {
        let (actor, evidence) = (actor.to_owned(), evidence.clone());
        self.update(approval_id, move |current, now| {
            Ok(workflow::record_delivery(
                current,
                &actor,
                evidence.clone(),
                now,
            ))
        })
        .await
    }

    /// Expires every pending request past `expires_at`, as `system` (CONTRACT §4), then
    /// reminds and escalates the pending ones whose routing rule asks for it (issue G §3).
    /// Each change is a compare-and-set, so overlapping sweeps make it once: one reminder per
    /// interval, one escalation, one expiry, each announced once.
    #[tracing::instrument(name = "approval.sweep", skip_all)]
    pub async fn sweep(&self) -> Result<Swept, ApprovalError> {
        let mut swept = Swept::default();
        loop {
            let now = self.clock.now();
            let due = self.store.overdue(now, SWEEP_BATCH).await?;
            if due.is_empty() {
                break;
            }
            for record in due {
                let next = workflow::expire_as_system(&record, now);
                match self.persist(next, &record).await {
                    Ok(stored) => {
                        let stored = self.notified(stored, NotifyEvent::Expired).await;
                        swept.expired.push(stored);
                    }
                    // Someone decided it meanwhile; it is no longer overdue-and-pending.
                    Err(StoreError::VersionConflict(_)) => {}
                    Err(other) => return Err(other.into()),
                }
            }
        }
        self.follow_up_pending(&mut swept).await?;
        tracing::info!(
            expired = swept.expired.len(),
            reminded = swept.reminded.len(),
            escalated = swept.escalated.len(),
            "sweep done"
        );
        Ok(swept)
    }

    /// Pages through the pending requests and applies what [`workflow::follow_up_due`] says.
    async fn follow_up_pending(&self, swept: &mut Swept) -> Result<(), ApprovalError> {
        let mut query = ListQuery::new(
            Some(crate::approval::ApprovalState::Pending),
            None,
            Some(i64::from(SWEEP_BATCH)),
            None,
        );
        loop {
            let page = self.store.list(&query).await?;
            for record in &page.items {
                if workflow::follow_up_due(record, self.clock.now()).is_some() {
                    self.follow_up_one(&record.approval_id, swept).await?;
                }
            }
            match page.next_cursor.as_deref() {
                Some(next) => query.cursor = Some(Cursor::decode(next)?),
                None => return Ok(()),
            }
        }
    }

    /// Applies every follow-up due on one request (an escalation and a reminder may both be),
    /// each under compare-and-set: after a lost race the re-read shows the step done.
    async fn follow_up_one(
        &self,
        approval_id: &str,
        swept: &mut Swept,
    ) -> Result<(), ApprovalError> {
        while let Some((stored, step)) = self
            .update_if(approval_id, |current, now| {
                Ok(workflow::follow_up(current, now))
            })
            .await?
        {
            match step {
                FollowUpStep::Remind => {
                    let stored = self.notified(stored, NotifyEvent::Reminded).await;
                    swept.reminded.push(stored);
                }
                FollowUpStep::Escalate => {
                    let stored = self.notified(stored, NotifyEvent::Escalated).await;
                    swept.escalated.push(stored);
                }
            }
        }
        Ok(())
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
    #[tracing::instrument(name = "approval.consume", skip_all, fields(approval_id = %approval_id))]
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
        let (input, keys) = (input.clone(), self.chain_keys.clone());
        let spent = self
            .update(approval_id, move |current, now| {
                let verification = integrity::verify_record(current, keys.as_deref());
                workflow::consume(current, &input, &verification, &options, now)
            })
            .await?;
        if spent.state == crate::approval::ApprovalState::Consumed {
            return Ok(self.notified(spent, NotifyEvent::Consumed).await);
        }
        Ok(spent)
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

//! The approval state machine as pure functions: each takes the current record (or a decision)
//! and the caller's input, checks it in the original's order, and returns the next record.
//! [`crate::service`] persists the results with compare-and-set.

use serde::Serialize;
use serde_json::Value;

use crate::action::{self, Presented};
use crate::approval::{
    Approval, ApprovalState, CHANGE_ADVISORY_BOARD, DEFAULT_GRANT_TTL_SECONDS, DEFAULT_MAX_USES,
    Grant, HistoryEntry, IdentityKind, PRODUCT, RequesterIdentity, Review, SCHEMA_VERSION,
    SYSTEM_ACTOR,
};
use crate::decision::{Decision, Outcome};
use crate::error::ApprovalError;
use crate::groups::{self, same_group};
use crate::history;
use crate::identity::{ActorContext, PersonKeys, normalize_name};
use crate::ids::ApprovalId;
use crate::integrity::{self, Integrity, RecordVerification};
use crate::rbac::{AuthzSubject, RbacAction, RbacPolicy};
use crate::routing::{RoutingRule, RoutingTable};
use crate::time::Timestamp;

/// Default request lifetime in hours.
pub const DEFAULT_TTL_HOURS: i64 = 24;
/// Default break-glass lifetime in hours.
pub const DEFAULT_BREAK_GLASS_TTL_HOURS: i64 = 4;
/// Default `requested_by`.
pub const DEFAULT_REQUESTER: &str = "ai-agent";
/// The reason automated expiry records.
pub const EXPIRY_REASON: &str = "approval expired";
/// Default maximum request lifetime in hours (30 days).
pub const DEFAULT_MAX_TTL_HOURS: i64 = 720;
/// Default maximum break-glass lifetime in hours.
pub const DEFAULT_MAX_BREAK_GLASS_TTL_HOURS: i64 = 24;

/// Bounds on what a caller may ask for (issue E §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest request lifetime, in hours.
    pub max_ttl_hours: i64,
    /// Longest break-glass lifetime, in hours.
    pub max_break_glass_ttl_hours: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_ttl_hours: DEFAULT_MAX_TTL_HOURS,
            max_break_glass_ttl_hours: DEFAULT_MAX_BREAK_GLASS_TTL_HOURS,
        }
    }
}

/// What creation checks a request against: the routing table, the groups the deployment
/// knows (for caller-supplied groups) and the lifetime limits.
#[derive(Debug, Clone, Copy)]
pub struct CreatePolicy<'a> {
    /// The routing table in force.
    pub routing: &'a RoutingTable,
    /// Every group a routing rule, RBAC mapping or built-in role names.
    pub known_groups: &'a [String],
    /// Lifetime limits.
    pub limits: Limits,
}

/// The groups every deployment knows besides its configuration: the default routing table's
/// and the Change Advisory Board.
pub fn builtin_groups() -> Vec<String> {
    let mut names = RoutingTable::default().group_names();
    names.push(CHANGE_ADVISORY_BOARD.to_owned());
    names
}

/// A request to create an approval.
#[derive(Debug, Clone)]
pub struct NewRequest {
    /// The decision to approve.
    pub decision: Decision,
    /// Caller-supplied approver group. Routing is authoritative: this only adds a required
    /// group, unless the matching rule sets `allow_requester_group` or no rule matches.
    pub approver_group: Option<String>,
    /// Declared requester (a verified requester wins).
    pub requested_by: Option<String>,
    /// Lifetime in hours (at least 1; default 24).
    pub ttl_hours: Option<i64>,
    /// The requester's identity, when known.
    pub requester: Option<ActorContext>,
    /// The agent's rationale (untrusted text; see [`clean_rationale`]).
    pub rationale: Option<String>,
}

impl NewRequest {
    /// A request for `decision` with every default.
    pub fn new(decision: Decision) -> Self {
        Self {
            decision,
            approver_group: None,
            requested_by: None,
            ttl_hours: None,
            requester: None,
            rationale: None,
        }
    }
}

/// Longest rationale an agent may give, in characters.
pub const MAX_RATIONALE_CHARS: usize = 2_000;

/// Whether `c` may stay in a rationale: printable text, line breaks and tabs; not other
/// control characters, nor the bidirectional and zero-width format characters that make
/// text read differently from what it is (CVE-2021-42574, "Trojan Source").
fn rationale_char(c: char) -> bool {
    matches!(c, '\n' | '\t') || !(c.is_control() || crate::text::is_invisible(c))
}

/// The agent's rationale as stored: at most [`MAX_RATIONALE_CHARS`] characters as given,
/// line breaks normalised to `\n`, other control and bidi/zero-width format characters
/// stripped, trimmed; `None` when nothing is left.
///
/// # Errors
/// [`ApprovalError::RationaleTooLong`].
pub fn clean_rationale(text: Option<&str>) -> Result<Option<String>, ApprovalError> {
    let Some(text) = text else {
        return Ok(None);
    };
    let given = text.chars().count();
    if given > MAX_RATIONALE_CHARS {
        return Err(ApprovalError::RationaleTooLong {
            max: MAX_RATIONALE_CHARS,
            given,
        });
    }
    let cleaned: String = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| rationale_char(*c))
        .collect();
    Ok(non_empty(Some(&cleaned)))
}

/// A decision on a pending request: approve, deny or expire.
#[derive(Debug, Clone)]
pub struct DecideInput {
    /// `approved`, `denied` or `expired`.
    pub target: ApprovalState,
    /// The declared actor (a verified one wins).
    pub actor: String,
    /// Why.
    pub reason: String,
    /// Ticket or change number.
    pub external_ref: Option<String>,
    /// The actor's identity; when present, RBAC is enforced.
    pub context: Option<ActorContext>,
}

/// What [`decide`] produced.
#[derive(Debug, Clone, PartialEq)]
pub enum DecideOutcome {
    /// The record after the decision.
    Changed(Approval),
    /// The request was past `expires_at`: this is the record expired by `system`; the caller
    /// stores it and reports [`ApprovalError::Expired`].
    ExpiredInstead(Approval),
}

/// A break-glass override.
#[derive(Debug, Clone)]
pub struct BreakGlassInput {
    /// The blocked (or approval-required) decision.
    pub decision: Decision,
    /// The declared actor (a verified one wins).
    pub actor: String,
    /// Mandatory evidence: why.
    pub reason: String,
    /// Group; `None` means Change Advisory Board, `Some("")` routes as a normal request.
    pub approver_group: Option<String>,
    /// Incident or change number.
    pub external_ref: Option<String>,
    /// Lifetime in hours (at least 1; default 4).
    pub ttl_hours: Option<i64>,
    /// The actor's identity; when present, RBAC is enforced.
    pub context: Option<ActorContext>,
}

/// The result of checking whether an agent may act (CONTRACT §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// The approval checked.
    pub approval_id: String,
    /// Whether the agent may act.
    pub allowed: bool,
    /// The request's state.
    pub state: ApprovalState,
    /// When it stops being valid.
    pub expires_at: Timestamp,
    /// Whether the decision's digest is the approved one.
    pub digest_matches: bool,
    /// Why not, when not allowed.
    pub reason: Option<String>,
    /// How the record is sealed: `keyed`, `unkeyed` or `broken` (issue E §5).
    pub integrity: Integrity,
    /// The chain key that sealed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Every vote, with how its voter was identified (issue E §4).
    pub reviews: Vec<CheckedReview>,
    /// The votes (or the override) that made the state.
    pub deciding: Vec<CheckedReview>,
}

/// One vote as `check` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckedReview {
    /// Who.
    pub actor: String,
    /// `approved`, `denied` or `break_glass`.
    pub decision: ApprovalState,
    /// `oidc` or `unverified`.
    pub identity: IdentityKind,
}

fn non_empty(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// The lifetime asked for (at least 1 hour, as the original clamps), refused above `max`.
fn ttl(hours: Option<i64>, default: i64, max: i64) -> Result<i64, i64> {
    let hours = hours.unwrap_or(default).max(1);
    if hours > max { Err(hours) } else { Ok(hours) }
}

fn expiry(now: Timestamp, hours: i64, max: i64) -> Result<Timestamp, ApprovalError> {
    now.checked_plus_hours(hours)
        .ok_or(ApprovalError::TtlTooLong { max, given: hours })
}

/// Whether `name` spells the sweeper's reserved actor (`system`, in any case, width or
/// look-alike script).
fn is_reserved_actor(name: &str) -> bool {
    let canonical = normalize_name(&groups::canonical(name));
    canonical == SYSTEM_ACTOR
        || unicode_security::skeleton(&canonical).collect::<String>()
            == unicode_security::skeleton(SYSTEM_ACTOR).collect::<String>()
}

fn not_reserved(name: String) -> Result<String, ApprovalError> {
    if is_reserved_actor(&name) {
        Err(ApprovalError::ReservedActor(name))
    } else {
        Ok(name)
    }
}

fn identify(entry: &mut HistoryEntry, context: Option<&ActorContext>) {
    match context {
        Some(ctx) if ctx.identity == IdentityKind::Oidc => {
            entry.identity = Some(IdentityKind::Oidc);
            entry.issuer.clone_from(&ctx.issuer);
            entry.subject.clone_from(&ctx.subject);
        }
        _ => entry.identity = Some(IdentityKind::Unverified),
    }
}

/// The acting name: a verified identity's actor, else the declared one (required). Nobody
/// acts as `system`.
fn acting_name(declared: &str, context: Option<&ActorContext>) -> Result<String, ApprovalError> {
    let name = match context {
        Some(ctx) if ctx.identity == IdentityKind::Oidc => non_empty(Some(&ctx.actor))
            .or_else(|| ctx.subject.clone())
            .ok_or(ApprovalError::ActorRequired)?,
        _ => non_empty(Some(declared)).ok_or(ApprovalError::ActorRequired)?,
    };
    not_reserved(name)
}

/// Who an actor is, for separation of duties: the person keys of their context plus their
/// acting name.
struct Person<'a> {
    name: &'a str,
    keys: PersonKeys,
}

impl Person<'_> {
    fn is(&self, other_name: &str, other_keys: &PersonKeys) -> bool {
        normalize_name(self.name) == normalize_name(other_name) || self.keys.same_person(other_keys)
    }
}

fn requester_keys(record: &Approval) -> PersonKeys {
    record
        .requested_by_identity
        .as_ref()
        .map(|r| r.person.clone())
        .unwrap_or_default()
}

fn check_outcome(decision: &Decision) -> Result<(), ApprovalError> {
    // A `decision` that is there but not text (`["allow"]`, `{}`, `1`) is no outcome the engine
    // emits: refused, never read as "no outcome given".
    if decision
        .as_map()
        .get("decision")
        .is_some_and(|v| !v.is_null() && !v.is_string())
    {
        return Err(ApprovalError::UnknownOutcome);
    }
    match decision.outcome_text() {
        None => Ok(()),
        Some(text) => match Outcome::parse(text) {
            None => Err(ApprovalError::UnknownOutcome),
            Some(outcome) if !outcome.needs_approval() => {
                Err(ApprovalError::DoesNotRequireApproval(text.to_owned()))
            }
            Some(_) => Ok(()),
        },
    }
}

fn blank_record(
    decision: Decision,
    id: &ApprovalId,
    group: String,
    requested_by: String,
    now: Timestamp,
    expires_at: Timestamp,
) -> Approval {
    let decision_id = decision.decision_id().unwrap_or_default().to_owned();
    let mut evidence_refs = vec![format!("approval://{id}")];
    evidence_refs.extend(decision.evidence_refs());
    Approval {
        schema_version: SCHEMA_VERSION.to_owned(),
        product: PRODUCT.to_owned(),
        approval_id: id.to_string(),
        session_id: decision
            .str_field("session_id")
            .unwrap_or("local")
            .to_owned(),
        correlation_id: decision.str_field("correlation_id").map(str::to_owned),
        decision_id,
        state: ApprovalState::Pending,
        approver_group: group,
        requested_by,
        requested_by_identity: None,
        requested_at: now,
        expires_at,
        decision_digest: Some(decision.digest()),
        repository: decision.repository().map(str::to_owned),
        decision,
        history: Vec::new(),
        evidence_refs,
        decided_by: None,
        decided_at: None,
        decision_reason: None,
        external_ref: None,
        break_glass: None,
        break_glass_reason: None,
        version: 1,
        rationale: None,
        overrides: None,
        overridden_by: None,
        required_approvals: 1,
        required_groups: Vec::new(),
        allow_self_approval: false,
        reviews: Vec::new(),
        review_required: None,
        grant: Some(Grant::default()),
        chain_mac: None,
        extra: serde_json::Map::new(),
    }
}

/// Creates a pending request with the default limits, knowing only the routing table's and
/// the built-in groups (see [`create_request_with`]).
pub fn create_request(
    req: NewRequest,
    routing: &RoutingTable,
    id: &ApprovalId,
    now: Timestamp,
) -> Result<Approval, ApprovalError> {
    let mut known = routing.group_names();
    known.extend(builtin_groups());
    let policy = CreatePolicy {
        routing,
        known_groups: &known,
        limits: Limits::default(),
    };
    create_request_with(req, &policy, id, now)
}

/// The approver group and extra required group of a new request (issue E §2): the routed
/// group stands; a caller's group is added as a required group, replaces the routed one only
/// where the rule allows it, and is the group only when nothing routes the decision.
fn route_groups(
    decision: &Decision,
    requested: Option<&str>,
    policy: &CreatePolicy<'_>,
    verified: bool,
) -> Result<(String, Option<String>), ApprovalError> {
    let rule = policy.routing.route(decision);
    let routed = rule
        .map(|r| r.approver_group.clone())
        .or_else(|| decision.approver_group().map(str::to_owned));
    let requested = match requested.filter(|g| !g.trim().is_empty()) {
        None => None,
        Some(name) => Some(groups::check_requested(
            name,
            policy.known_groups,
            verified,
        )?),
    };
    Ok(match (routed, requested) {
        (None, None) => return Err(ApprovalError::MissingApproverGroup),
        (None, Some(group)) | (Some(group), None) => (group, None),
        (Some(_), Some(group)) if rule.is_some_and(|r| r.allow_requester_group) => (group, None),
        (Some(routed), Some(group)) if same_group(&routed, &group) => (routed, None),
        (Some(routed), Some(group)) => (routed, Some(group)),
    })
}

/// Creates a pending request (original §2.1 and §3.4; CONTRACT §3–§5; issue E §2–§3, §6).
pub fn create_request_with(
    req: NewRequest,
    policy: &CreatePolicy<'_>,
    id: &ApprovalId,
    now: Timestamp,
) -> Result<Approval, ApprovalError> {
    if req.decision.decision_id().is_none() {
        return Err(ApprovalError::MissingDecisionId);
    }
    check_outcome(&req.decision)?;
    let rationale = clean_rationale(req.rationale.as_deref())?;
    if let Some(problem) = action::inconsistency(&req.decision) {
        return Err(ApprovalError::InconsistentAction(problem));
    }
    let verified = req
        .requester
        .as_ref()
        .is_some_and(|ctx| ctx.identity == IdentityKind::Oidc);
    let (group, added_group) = route_groups(
        &req.decision,
        req.approver_group.as_deref(),
        policy,
        verified,
    )?;
    let max = policy.limits.max_ttl_hours;
    let hours = ttl(req.ttl_hours, DEFAULT_TTL_HOURS, max)
        .map_err(|given| ApprovalError::TtlTooLong { max, given })?;
    let expires_at = expiry(now, hours, max)?;
    let requested_by = match &req.requester {
        Some(ctx) if verified => acting_name("", Some(ctx))?,
        _ => not_reserved(
            non_empty(req.requested_by.as_deref()).unwrap_or_else(|| DEFAULT_REQUESTER.to_owned()),
        )?,
    };
    let rule = policy.routing.route(&req.decision).cloned();
    let reason = req.decision.str_field("reason").map(str::to_owned);
    let mut record = blank_record(
        req.decision,
        id,
        group,
        requested_by.clone(),
        now,
        expires_at,
    );
    record.grant = Some(grant_for(rule.as_ref()));
    record.rationale = rationale;
    if let Some(rule) = &rule {
        record.required_approvals = rule.required_approvals.unwrap_or(1);
        record.required_groups.clone_from(&rule.required_groups);
        record.allow_self_approval = rule.allow_self_approval;
    }
    if let Some(added) = added_group
        && !record.required_groups.iter().any(|g| same_group(g, &added))
    {
        record.required_groups.push(added);
    }
    record.requested_by_identity = req.requester.as_ref().map(|ctx| RequesterIdentity {
        identity: ctx.identity,
        person: ctx.person_keys(),
    });
    let mut entry = HistoryEntry::new("requested", &requested_by, now, reason);
    entry.expires_at = Some(expires_at);
    record_grant_terms(&mut entry, record.grant.as_ref());
    if let Some(rule) = &rule {
        entry.remind_after_seconds = rule.remind_after;
        entry.escalate_after_seconds = rule.escalate_after;
        entry.escalate_to.clone_from(&rule.escalate_to);
    }
    identify(&mut entry, req.requester.as_ref());
    history::append(&mut record.history, entry);
    Ok(record)
}

/// What the sweeper does next to a pending request nobody has answered (issue G §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUpStep {
    /// Remind the approver group (every `remind_after`).
    Remind,
    /// Add the fallback group to who may approve (once, after `escalate_after`).
    Escalate,
}

fn schedule_text(seconds: u64) -> String {
    humantime::format_duration(std::time::Duration::from_secs(seconds)).to_string()
}

/// The follow-up due on `current` at `now`, if any: escalation first (once), then a reminder
/// when `remind_after` has passed since the request or the last reminder. Nothing is due on
/// a request that is decided or overdue (the sweeper expires those), so a step applied under
/// compare-and-set happens once per interval however many sweepers run.
pub fn follow_up_due(current: &Approval, now: Timestamp) -> Option<FollowUpStep> {
    if current.state != ApprovalState::Pending || current.is_overdue(now) {
        return None;
    }
    let plan = current.follow_up();
    let passed = |since: Timestamp, seconds: Option<u64>| {
        seconds
            .and_then(|s| since.checked_plus_seconds(s))
            .is_some_and(|due| now >= due)
    };
    if plan.escalate_to.is_some()
        && current.escalated_groups().is_empty()
        && passed(current.requested_at, plan.escalate_after_seconds)
    {
        return Some(FollowUpStep::Escalate);
    }
    passed(current.last_reminded_at(), plan.remind_after_seconds).then_some(FollowUpStep::Remind)
}

/// Applies the follow-up due on `current` at `now` (see [`follow_up_due`]) as `system`: a
/// `reminded` entry, or an `escalated` entry naming the group added to who may approve.
/// `None` when nothing is due.
pub fn follow_up(current: &Approval, now: Timestamp) -> Option<(Approval, FollowUpStep)> {
    let step = follow_up_due(current, now)?;
    let plan = current.follow_up();
    let mut next = current.clone();
    let entry = match step {
        FollowUpStep::Remind => {
            let every = schedule_text(plan.remind_after_seconds.unwrap_or_default());
            let reason = format!(
                "no decision yet: reminding {} (every {every})",
                current.approver_group
            );
            HistoryEntry::new("reminded", SYSTEM_ACTOR, now, Some(reason))
        }
        FollowUpStep::Escalate => {
            let group = plan.escalate_to.unwrap_or_default();
            let after = schedule_text(plan.escalate_after_seconds.unwrap_or_default());
            let reason = format!(
                "no decision from {} after {after}: escalated to {group}",
                current.approver_group
            );
            let mut entry = HistoryEntry::new("escalated", SYSTEM_ACTOR, now, Some(reason));
            entry.escalate_to = Some(group);
            entry
        }
    };
    history::append(&mut next.history, entry);
    next.version = next.version.saturating_add(1);
    Some((next, step))
}

/// The grant terms a routing rule sets (issue F §2), the defaults without one.
fn grant_for(rule: Option<&RoutingRule>) -> Grant {
    Grant {
        ttl_seconds: rule
            .and_then(|r| r.grant_ttl)
            .unwrap_or(DEFAULT_GRANT_TTL_SECONDS),
        max_uses: rule.and_then(|r| r.max_uses).unwrap_or(DEFAULT_MAX_USES),
        uses: 0,
        expires_at: None,
    }
}

/// Writes a grant's terms into the `requested` entry, so the history fixes them.
fn record_grant_terms(entry: &mut HistoryEntry, grant: Option<&Grant>) {
    if let Some(grant) = grant {
        entry.grant_ttl_seconds = Some(grant.ttl_seconds);
        entry.max_uses = Some(grant.max_uses);
    }
}

fn authorize(
    current: &Approval,
    ctx: &ActorContext,
    rbac: Option<&RbacPolicy>,
    action: RbacAction,
) -> bool {
    // An escalated request may also be decided by the group it escalated to (issue G §3).
    let mut voters = current.required_groups.clone();
    voters.extend(current.escalated_groups().into_iter().map(str::to_owned));
    let subject = AuthzSubject {
        approver_group: &current.approver_group,
        required_groups: &voters,
        repository: current.rbac_repository(),
        break_glass: current.break_glass.unwrap_or(false),
    };
    RbacPolicy::authorize(rbac, ctx, &subject, action)
}

/// Whether the record's rule is a quorum rule (more than one approval, or required groups),
/// which only verified identities may decide (issue E §4).
pub fn is_quorum_rule(record: &Approval) -> bool {
    record.required_approvals > 1 || !record.required_groups.is_empty()
}

fn quorum_met(record: &Approval) -> bool {
    let approvals: Vec<&Review> = record
        .reviews
        .iter()
        .filter(|r| r.decision == ApprovalState::Approved)
        .collect();
    approvals.len() >= record.required_approvals as usize
        && record.required_groups.iter().all(|group| {
            approvals
                .iter()
                .any(|r| r.groups.iter().any(|g| same_group(g, group)))
        })
}

/// Expires `current` as `system` (used for overdue requests and the sweeper).
pub fn expire_as_system(current: &Approval, now: Timestamp) -> Approval {
    let mut next = current.clone();
    finish(
        &mut next,
        Finish {
            state: ApprovalState::Expired,
            actor: SYSTEM_ACTOR,
            reason: EXPIRY_REASON,
            external_ref: None,
            context: None,
            vote_groups: None,
        },
        now,
    );
    next
}

/// What a state change records: who, why, and (for a vote) the voter's groups.
struct Finish<'a> {
    state: ApprovalState,
    actor: &'a str,
    reason: &'a str,
    external_ref: Option<String>,
    context: Option<&'a ActorContext>,
    vote_groups: Option<Vec<String>>,
}

fn finish(next: &mut Approval, change: Finish<'_>, now: Timestamp) {
    let Finish {
        state,
        actor,
        reason,
        external_ref,
        context,
        vote_groups,
    } = change;
    next.state = state;
    next.decided_by = Some(actor.to_owned());
    next.decided_at = Some(now);
    next.decision_reason = Some(reason.to_owned());
    if external_ref.is_some() {
        next.external_ref.clone_from(&external_ref);
    }
    let mut entry = HistoryEntry::new(state.as_str(), actor, now, Some(reason.to_owned()));
    entry.external_ref = Some(external_ref);
    entry.groups = vote_groups;
    if state == ApprovalState::Approved {
        // The grant starts now (issue F §2); its end is part of the chained history.
        let grant = next.grant.get_or_insert_with(Grant::default);
        let end = now
            .checked_plus_seconds(grant.ttl_seconds)
            .unwrap_or_else(Timestamp::latest);
        grant.expires_at = Some(end);
        entry.grant_expires_at = Some(end);
    }
    identify(&mut entry, context);
    history::append(&mut next.history, entry);
    next.version = next.version.saturating_add(1);
}

/// Approves, denies or expires a pending request (original §6.1–§6.2, CONTRACT §2–§4).
///
/// Check order: target state → pending → not overdue → actor → reason → authorised →
/// separation of duties → one vote per actor.
pub fn decide(
    current: &Approval,
    input: &DecideInput,
    rbac: Option<&RbacPolicy>,
    now: Timestamp,
) -> Result<DecideOutcome, ApprovalError> {
    let action = match input.target {
        ApprovalState::Approved => RbacAction::Approved,
        ApprovalState::Denied => RbacAction::Denied,
        ApprovalState::Expired => RbacAction::Expired,
        _ => return Err(ApprovalError::InvalidTargetState),
    };
    if current.state != ApprovalState::Pending {
        return Err(ApprovalError::NotPending);
    }
    if action != RbacAction::Expired && current.is_overdue(now) {
        return Ok(DecideOutcome::ExpiredInstead(expire_as_system(
            current, now,
        )));
    }
    let context = input.context.as_ref();
    let actor = acting_name(&input.actor, context)?;
    let reason = non_empty(Some(&input.reason)).ok_or(ApprovalError::ReasonRequired)?;
    if let Some(ctx) = context
        && !authorize(current, ctx, rbac, action)
    {
        return Err(ApprovalError::NotAuthorized {
            deciding_groups: current.deciding_groups(),
        });
    }
    let verified = context.is_some_and(|c| c.identity == IdentityKind::Oidc);
    if action != RbacAction::Expired && is_quorum_rule(current) && !verified {
        return Err(ApprovalError::QuorumNeedsVerified);
    }
    let person = Person {
        name: &actor,
        keys: context.map(ActorContext::person_keys).unwrap_or_default(),
    };
    if action == RbacAction::Approved
        && !current.allow_self_approval
        && person.is(&current.requested_by, &requester_keys(current))
    {
        return Err(ApprovalError::SelfApproval);
    }
    let external_ref = non_empty(input.external_ref.as_deref());
    let mut next = current.clone();
    if action == RbacAction::Expired {
        finish(
            &mut next,
            Finish {
                state: ApprovalState::Expired,
                actor: &actor,
                reason: &reason,
                external_ref,
                context,
                vote_groups: None,
            },
            now,
        );
        return Ok(DecideOutcome::Changed(next));
    }
    if current
        .reviews
        .iter()
        .any(|r| person.is(&r.actor, &r.person))
    {
        return Err(ApprovalError::AlreadyReviewed);
    }
    let groups = context.map(|c| c.groups.clone()).unwrap_or_default();
    next.reviews.push(Review {
        actor: actor.clone(),
        groups: groups.clone(),
        decision: input.target,
        reason: reason.clone(),
        external_ref: external_ref.clone(),
        timestamp: now,
        identity: context.map_or(IdentityKind::Unverified, |c| c.identity),
        person: person.keys.clone(),
    });
    if action == RbacAction::Denied || quorum_met(&next) {
        finish(
            &mut next,
            Finish {
                state: input.target,
                actor: &actor,
                reason: &reason,
                external_ref,
                context,
                vote_groups: Some(groups),
            },
            now,
        );
    } else {
        let mut entry = HistoryEntry::new("approval_recorded", &actor, now, Some(reason));
        entry.external_ref = Some(external_ref);
        entry.groups = Some(groups);
        identify(&mut entry, context);
        history::append(&mut next.history, entry);
        next.version = next.version.saturating_add(1);
    }
    Ok(DecideOutcome::Changed(next))
}

/// Records a break-glass override in one step (original §6.4, CONTRACT §3).
pub fn break_glass(
    input: BreakGlassInput,
    routing: &RoutingTable,
    rbac: Option<&RbacPolicy>,
    limits: Limits,
    id: &ApprovalId,
    now: Timestamp,
) -> Result<Approval, ApprovalError> {
    let context = input.context.as_ref();
    let actor = acting_name(&input.actor, context)?;
    let reason = non_empty(Some(&input.reason)).ok_or(ApprovalError::BreakGlassReasonRequired)?;
    if input.decision.decision_id().is_none() {
        return Err(ApprovalError::MissingDecisionId);
    }
    match input.decision.outcome() {
        Some(outcome) if outcome.needs_approval() => {}
        _ => {
            let shown = input
                .decision
                .outcome_text()
                .unwrap_or("no outcome")
                .to_owned();
            return Err(ApprovalError::BreakGlassNotAllowed(shown));
        }
    }
    let verified = context.is_some_and(|c| c.identity == IdentityKind::Oidc);
    let explicit = match input
        .approver_group
        .as_deref()
        .and_then(|g| non_empty(Some(g)))
    {
        None => None,
        Some(name) => {
            let mut known = routing.group_names();
            known.extend(builtin_groups());
            known.extend(rbac.map(RbacPolicy::group_names).unwrap_or_default());
            Some(groups::check_requested(&name, &known, verified)?)
        }
    };
    let group = match input.approver_group.as_deref() {
        None => CHANGE_ADVISORY_BOARD.to_owned(),
        Some(_) => explicit
            .or_else(|| {
                routing
                    .route(&input.decision)
                    .map(|r| r.approver_group.clone())
            })
            .or_else(|| input.decision.approver_group().map(str::to_owned))
            .ok_or(ApprovalError::MissingApproverGroup)?,
    };
    if let Some(ctx) = context {
        let subject = AuthzSubject {
            approver_group: &group,
            required_groups: &[],
            repository: input.decision.repository(),
            break_glass: true,
        };
        if !RbacPolicy::authorize(rbac, ctx, &subject, RbacAction::Approved) {
            return Err(ApprovalError::NotAuthorizedBreakGlass);
        }
    }
    let external_ref = non_empty(input.external_ref.as_deref());
    let decision_reason = input.decision.str_field("reason").map(str::to_owned);
    let max = limits.max_break_glass_ttl_hours;
    let ttl_hours = ttl(input.ttl_hours, DEFAULT_BREAK_GLASS_TTL_HOURS, max)
        .map_err(|given| ApprovalError::BreakGlassTtlTooLong { max, given })?;
    let expires_at =
        now.checked_plus_hours(ttl_hours)
            .ok_or(ApprovalError::BreakGlassTtlTooLong {
                max,
                given: ttl_hours,
            })?;
    let mut record = blank_record(input.decision, id, group, actor.clone(), now, expires_at);
    record.requested_by_identity = context.map(|ctx| RequesterIdentity {
        identity: ctx.identity,
        person: ctx.person_keys(),
    });
    // A break-glass grant lasts as long as the override (its `ttl_hours`), with the routed
    // rule's uses.
    let ttl_seconds = u64::try_from(ttl_hours).unwrap_or(0).saturating_mul(3_600);
    record.grant = Some(Grant {
        ttl_seconds,
        ..grant_for(routing.route(&record.decision))
    });
    let mut requested = HistoryEntry::new("requested", &actor, now, decision_reason);
    requested.expires_at = Some(expires_at);
    record_grant_terms(&mut requested, record.grant.as_ref());
    identify(&mut requested, context);
    history::append(&mut record.history, requested);
    finish(
        &mut record,
        Finish {
            state: ApprovalState::Approved,
            actor: &actor,
            reason: &reason,
            external_ref: external_ref.clone(),
            context,
            vote_groups: None,
        },
        now,
    );
    record.state = ApprovalState::BreakGlass;
    record.break_glass = Some(true);
    record.break_glass_reason = Some(reason.clone());
    record.review_required = Some(true);
    record.expires_at = expires_at;
    let mut entry = HistoryEntry::new("break_glass", &actor, now, Some(reason));
    entry.external_ref = Some(external_ref);
    entry.expires_at = Some(expires_at);
    identify(&mut entry, context);
    history::append(&mut record.history, entry);
    record.version = 1;
    Ok(record)
}

/// A break-glass started from a blocked request (issue I §5): the request, and the rule and
/// target the caller saw. The override's decision is the request's own; a rule or target the
/// caller gives must be the request's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverrideOf {
    /// The blocked (pending) request.
    pub approval_id: String,
    /// The rule the caller saw, if given.
    pub rule_id: Option<String>,
    /// The target the caller saw, if given.
    pub target: Option<String>,
}

impl OverrideOf {
    /// Checks the rule and target given against `blocked`'s decision.
    ///
    /// # Errors
    /// [`ApprovalError::OverrideMismatch`].
    pub fn check_fields(&self, blocked: &Approval) -> Result<(), ApprovalError> {
        for (field, given) in [("rule_id", &self.rule_id), ("target", &self.target)] {
            let Some(given) = given.as_deref().map(str::trim) else {
                continue;
            };
            let stored = blocked.decision.str_field(field).unwrap_or_default();
            if given != stored {
                return Err(ApprovalError::OverrideMismatch {
                    field,
                    approval_id: blocked.approval_id.clone(),
                    stored: stored.to_owned(),
                    given: given.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Checks that `blocked` can be overridden now: pending, and the fields match.
    ///
    /// # Errors
    /// [`ApprovalError::BlockedRequestClosed`], [`ApprovalError::OverrideMismatch`].
    pub fn check(&self, blocked: &Approval) -> Result<(), ApprovalError> {
        if blocked.state != ApprovalState::Pending {
            return Err(ApprovalError::BlockedRequestClosed {
                approval_id: blocked.approval_id.clone(),
                state: blocked.state,
            });
        }
        self.check_fields(blocked)
    }

    /// The override's id: one per blocked request, so a retried call finds the same one.
    pub fn override_id(&self) -> ApprovalId {
        ApprovalId::from_key(&format!("break-glass-of:{}", self.approval_id))
    }
}

/// A new break-glass `record` (from [`break_glass`]) marked as the override of `blocked_id`:
/// `overrides` is set and its `break_glass` entry names the request.
pub fn link_override(mut record: Approval, blocked_id: &str) -> Approval {
    record.overrides = Some(blocked_id.to_owned());
    if let Some(mut last) = record.history.pop() {
        last.linked_approval_id = Some(blocked_id.to_owned());
        history::append(&mut record.history, last);
    }
    record
}

/// `blocked` closed by the break-glass `override_record`: `expired`, decided by the override's
/// actor (with the override's identity), with an `overridden` entry naming the override, and
/// `overridden_by` set.
pub fn close_by_override(
    blocked: &Approval,
    override_record: &Approval,
    now: Timestamp,
) -> Approval {
    let mut next = blocked.clone();
    let actor = override_record.requested_by.clone();
    let id = override_record.approval_id.clone();
    let reason = format!("closed by break-glass override {id}");
    next.state = ApprovalState::Expired;
    next.decided_by = Some(actor.clone());
    next.decided_at = Some(now);
    next.decision_reason = Some(reason.clone());
    next.overridden_by = Some(id.clone());
    let mut entry = HistoryEntry::new("overridden", &actor, now, Some(reason));
    entry.linked_approval_id = Some(id);
    if let Some(by) = override_record.history.last() {
        entry.identity = by.identity;
        entry.issuer.clone_from(&by.issuer);
        entry.subject.clone_from(&by.subject);
    }
    history::append(&mut next.history, entry);
    next.version = next.version.saturating_add(1);
    next
}

/// Records the post-incident review of a break-glass override (CONTRACT §3).
pub fn review_break_glass(
    current: &Approval,
    actor: &str,
    reason: &str,
    context: Option<&ActorContext>,
    now: Timestamp,
) -> Result<Approval, ApprovalError> {
    let overrode = current.state == ApprovalState::BreakGlass
        || (current.state == ApprovalState::Consumed && current.break_glass == Some(true));
    if !overrode || current.review_required != Some(true) {
        return Err(ApprovalError::NoReviewPending(current.approval_id.clone()));
    }
    let actor = acting_name(actor, context)?;
    let reason = non_empty(Some(reason)).ok_or(ApprovalError::ReasonRequired)?;
    if context.is_some_and(|ctx| !ctx.in_group(CHANGE_ADVISORY_BOARD)) {
        return Err(ApprovalError::NotAuthorizedReview);
    }
    let person = Person {
        name: &actor,
        keys: context.map(ActorContext::person_keys).unwrap_or_default(),
    };
    if person.is(&current.requested_by, &requester_keys(current)) {
        return Err(ApprovalError::SelfReview);
    }
    let mut next = current.clone();
    next.review_required = Some(false);
    next.extra
        .insert("reviewed_by".into(), Value::String(actor.clone()));
    next.extra
        .insert("reviewed_at".into(), Value::String(now.to_string()));
    let mut entry = HistoryEntry::new("post_incident_review", &actor, now, Some(reason));
    identify(&mut entry, context);
    history::append(&mut next.history, entry);
    next.version = next.version.saturating_add(1);
    Ok(next)
}

/// Whether `ctx` may send `current` to the providers again (issue E §6): a member of its
/// approver group (or a required group), or an RBAC grant with the `delivered` action. A
/// break-glass record follows break-glass authorisation (Change Advisory Board).
///
/// # Errors
/// [`ApprovalError::NotAuthorizedDeliver`].
pub fn authorize_delivery(
    current: &Approval,
    ctx: &ActorContext,
    rbac: Option<&RbacPolicy>,
) -> Result<(), ApprovalError> {
    if authorize(current, ctx, rbac, RbacAction::Delivered) {
        Ok(())
    } else {
        Err(ApprovalError::NotAuthorizedDeliver)
    }
}

/// Appends a `delivered` history entry carrying redacted delivery evidence (CONTRACT §8).
pub fn record_delivery(
    current: &Approval,
    actor: &str,
    evidence: Value,
    now: Timestamp,
) -> Approval {
    let mut next = current.clone();
    let mut entry = HistoryEntry::new("delivered", actor, now, None);
    entry.evidence = Some(evidence);
    history::append(&mut next.history, entry);
    next.version = next.version.saturating_add(1);
    next
}

/// How [`check`] judges a record's seal and its deciders' identities (issue E §4–§5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Refuse unless every deciding review is a verified (OIDC) identity.
    pub require_verified: bool,
    /// Whether a chain key is configured: an unkeyed record is then refused unless allowed.
    pub keyed: bool,
    /// Accept an unkeyed record although a chain key is configured.
    pub allow_unkeyed: bool,
}

/// Whether an agent may act on `decision` under `approval` now (CONTRACT §5), given what
/// verifying the stored record found (issue E §5).
pub fn check(
    approval: &Approval,
    decision: &Decision,
    now: Timestamp,
    verification: &RecordVerification,
    options: &CheckOptions,
) -> CheckReport {
    let digest_matches = approval.decision_digest.as_deref() == Some(decision.digest().as_str())
        && decision.decision_id() == Some(approval.decision_id.as_str());
    let replayed = integrity::replay(&approval.history).unwrap_or_default();
    let shown = |review: &integrity::ReplayedReview| CheckedReview {
        actor: review.actor.clone(),
        decision: review.decision,
        identity: review.identity.unwrap_or(IdentityKind::Unverified),
    };
    let reviews: Vec<CheckedReview> = replayed.reviews.iter().map(shown).collect();
    let deciding: Vec<CheckedReview> = replayed.deciding.iter().map(shown).collect();
    let unverified = deciding
        .iter()
        .find(|r| r.identity != IdentityKind::Oidc)
        .map(|r| r.actor.clone());
    let reason = if !verification.ok() {
        Some(format!(
            "approval record fails verification: {}",
            verification
                .problem()
                .unwrap_or_else(|| "its seal does not hold".to_owned())
        ))
    } else if options.keyed
        && !options.allow_unkeyed
        && verification.integrity == Integrity::Unkeyed
    {
        Some(
            "approval record is unkeyed (written without a chain key); --allow-unkeyed accepts it"
                .to_owned(),
        )
    } else if !approval.state.permits_action() {
        Some(format!("approval is {}, not approved", approval.state))
    } else if approval.grant().has_ended(now) {
        Some("approval grant has expired".to_owned())
    } else if !digest_matches {
        Some("decision digest does not match the approval".to_owned())
    } else if options.require_verified && (deciding.is_empty() || unverified.is_some()) {
        Some(format!(
            "a deciding review is not verified: {} (unverified); --require-verified needs OIDC identities",
            unverified.unwrap_or_else(|| "no deciding review".to_owned())
        ))
    } else {
        None
    };
    CheckReport {
        approval_id: approval.approval_id.clone(),
        allowed: reason.is_none(),
        state: approval.state,
        expires_at: approval.expires_at,
        digest_matches,
        reason,
        integrity: verification.integrity,
        key_id: verification.key_id.clone(),
        reviews,
        deciding,
    }
}

/// Spending a grant (issue F §2): the decision the consumer is about to act on, the digests of
/// the payload it is about to run, and who it is.
#[derive(Debug, Clone)]
pub struct ConsumeInput {
    /// The decision, as the consumer holds it.
    pub decision: Decision,
    /// Digests of the content, tool arguments or plan about to be used.
    pub presented: Presented,
    /// The declared consumer (a verified one wins).
    pub actor: String,
    /// Why, when given.
    pub reason: Option<String>,
    /// The consumer's identity.
    pub context: Option<ActorContext>,
}

/// Spends one use of an approved (or break-glass) request's grant: the record must verify, be
/// granted and unspent, within `grant_ttl`, for exactly this decision and payload, and (when a
/// verified identity asked) consumed by the requester. The last use makes it `consumed`.
///
/// Check order: integrity → state → uses → grant expiry → decision → payload → verified
/// deciders → consumer.
///
/// # Errors
/// [`ApprovalError::RecordUnverified`], [`ApprovalError::AlreadyUsed`],
/// [`ApprovalError::NotApproved`], [`ApprovalError::GrantExpired`],
/// [`ApprovalError::DecisionMismatch`], [`ApprovalError::ActionMismatch`],
/// [`ApprovalError::NotRequester`], or an actor error.
pub fn consume(
    current: &Approval,
    input: &ConsumeInput,
    verification: &RecordVerification,
    options: &CheckOptions,
    now: Timestamp,
) -> Result<Approval, ApprovalError> {
    if !verification.ok() {
        return Err(ApprovalError::RecordUnverified(
            verification
                .problem()
                .unwrap_or_else(|| "its seal does not hold".to_owned()),
        ));
    }
    if options.keyed && !options.allow_unkeyed && verification.integrity == Integrity::Unkeyed {
        return Err(ApprovalError::RecordUnverified(
            "it is unkeyed (written without a chain key)".to_owned(),
        ));
    }
    if current.state == ApprovalState::Consumed {
        return Err(ApprovalError::AlreadyUsed);
    }
    if !current.state.permits_action() {
        return Err(ApprovalError::NotApproved(current.state));
    }
    let mut grant = current.grant();
    if grant.remaining() == 0 {
        return Err(ApprovalError::AlreadyUsed);
    }
    if grant.has_ended(now) {
        return Err(ApprovalError::GrantExpired);
    }
    if input.decision.decision_id() != Some(current.decision_id.as_str()) {
        return Err(ApprovalError::DecisionMismatch {
            approval_id: current.approval_id.clone(),
            detail: "decision_id differs".to_owned(),
        });
    }
    if current.decision_digest.as_deref() != Some(input.decision.digest().as_str()) {
        let keys = action::differing_keys(&current.decision, &input.decision);
        return Err(ApprovalError::ActionMismatch(format!(
            "the decision differs from the approved one in {}",
            if keys.is_empty() {
                "its digest".to_owned()
            } else {
                keys.join(", ")
            }
        )));
    }
    if let Some(detail) = action::mismatch(&current.decision, &input.presented) {
        return Err(ApprovalError::ActionMismatch(detail));
    }
    if options.require_verified {
        let replayed = integrity::replay(&current.history).unwrap_or_default();
        if replayed.deciding.is_empty()
            || replayed
                .deciding
                .iter()
                .any(|r| r.identity != Some(IdentityKind::Oidc))
        {
            return Err(ApprovalError::RecordUnverified(
                "a deciding review is not a verified (OIDC) identity".to_owned(),
            ));
        }
    }
    let context = input.context.as_ref();
    let actor = acting_name(&input.actor, context)?;
    let requester_verified = current
        .requested_by_identity
        .as_ref()
        .is_some_and(|r| r.identity == IdentityKind::Oidc);
    if requester_verified {
        // The same verified person (subject, or normalised email, or `act.sub`); a display name
        // alone is not enough here.
        let same = context.is_some_and(|c| {
            c.identity == IdentityKind::Oidc
                && c.person_keys().same_person(&requester_keys(current))
        });
        if !same {
            return Err(ApprovalError::NotRequester);
        }
    }
    let mut next = current.clone();
    grant.uses = grant.uses.saturating_add(1);
    if grant.remaining() == 0 {
        next.state = ApprovalState::Consumed;
    }
    next.grant = Some(grant);
    let mut entry = HistoryEntry::new("consumed", &actor, now, non_empty(input.reason.as_deref()));
    identify(&mut entry, context);
    history::append(&mut next.history, entry);
    next.version = next.version.saturating_add(1);
    Ok(next)
}

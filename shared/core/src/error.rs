//! Workflow errors, with the original's exact messages (§2.4) and the contract's (§2–§5), and
//! the kind each maps to at an edge (HTTP status, CLI exit code).

use crate::store::StoreError;

/// What kind of failure an error is; edges map it to a status or exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input (HTTP 400).
    Invalid,
    /// Well-formed input the gate will not accept: an unknown or look-alike approver group, a
    /// lifetime beyond the configured maximum (HTTP 422).
    Unprocessable,
    /// No or bad identity (HTTP 401).
    Unauthenticated,
    /// Identity known, not allowed (HTTP 403).
    Forbidden,
    /// No such record (HTTP 404).
    NotFound,
    /// The record's state forbids it, or someone else won a race (HTTP 409).
    Conflict,
    /// Our fault (HTTP 500, opaque body).
    Unexpected,
}

/// A workflow operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// Original §2.4.
    #[error("decision must include decision_id")]
    MissingDecisionId,
    /// Original §2.4; issue E: only when no routing rule matches, and then it says how to name
    /// one.
    #[error(
        "approval request must include approver_group: no routing rule matches this decision; name a group with --approver-group (approver_group in the request body)"
    )]
    MissingApproverGroup,
    /// Issue E §2: a caller-supplied group that is empty, mixes scripts, imitates a known
    /// group, or (verified callers) is unknown.
    #[error(transparent)]
    ApproverGroup(#[from] crate::groups::GroupNameError),
    /// Issue E §6: a request lifetime beyond the configured maximum.
    #[error("ttl_hours must be at most {max} (got {given})")]
    TtlTooLong {
        /// The limit.
        max: i64,
        /// What was asked.
        given: i64,
    },
    /// Issue E §6: a break-glass lifetime beyond the configured maximum.
    #[error("break-glass ttl_hours must be at most {max} (got {given})")]
    BreakGlassTtlTooLong {
        /// The limit.
        max: i64,
        /// What was asked.
        given: i64,
    },
    /// Issue E §3: `system` is the expiry sweeper's name; no caller may act as it.
    #[error("actor name {0:?} is reserved for automated expiry")]
    ReservedActor(String),
    /// Issue E §4: rules with `required_approvals > 1` or `required_groups` count only
    /// verified identities.
    #[error("quorum rules need verified identities")]
    QuorumNeedsVerified,
    /// CONTRACT §4: outcomes that need no human are refused.
    #[error("decision does not require approval: {0}")]
    DoesNotRequireApproval(String),
    /// The decision's outcome is not one the engine emits.
    #[error(
        "decision must be one of: allow, allow_with_attestation, audit_only, block, require_approval, warn"
    )]
    UnknownOutcome,
    /// CONTRACT §3: break-glass only overrides `block` or `require_approval`.
    #[error("break-glass requires a block or require_approval decision, not {0}")]
    BreakGlassNotAllowed(String),
    /// Original §2.4.
    #[error("state must be approved, denied, or expired")]
    InvalidTargetState,
    /// Original §2.4; CONTRACT §1 makes it the loser's answer in a race.
    #[error("only pending approvals can be changed")]
    NotPending,
    /// Original §2.4.
    #[error("actor is required")]
    ActorRequired,
    /// Original §2.4.
    #[error("reason is required")]
    ReasonRequired,
    /// Original §2.4.
    #[error("break-glass reason is required")]
    BreakGlassReasonRequired,
    /// Original §2.4; CONTRACT §2 makes it a 403. It carries the groups whose members may
    /// decide the request as the refusal read it (a 403 names them as `required_groups`), so
    /// the answer needs no second read that could see another version.
    #[error("actor is not authorized for approval group")]
    NotAuthorized {
        /// [`crate::approval::Approval::deciding_groups`] of the refused request.
        deciding_groups: Vec<String>,
    },
    /// Issue E §6: only the approver group (or an RBAC `delivered` grant) may re-send a request.
    #[error("actor is not authorized to deliver this request")]
    NotAuthorizedDeliver,
    /// Original §6.4.
    #[error("actor is not authorized for break-glass")]
    NotAuthorizedBreakGlass,
    /// CONTRACT §3.
    #[error("requester cannot approve their own request")]
    SelfApproval,
    /// CONTRACT §4.
    #[error("approval has expired")]
    Expired,
    /// CONTRACT §3: one actor counts once.
    #[error("actor has already reviewed this request")]
    AlreadyReviewed,
    /// Original §2.4 (the CLI's wording; the API says `approval not found`).
    #[error("approval not found: {0}")]
    NotFound(String),
    /// Idempotent creation met an open request whose decision differs.
    #[error(
        "an open approval request for decision {0} already exists with a different decision digest"
    )]
    ConflictingOpenRequest(String),
    /// attach-decision / check with a decision that is not the approved one.
    #[error("decision does not match approval {approval_id}: {detail}")]
    DecisionMismatch {
        /// The approval.
        approval_id: String,
        /// What differs.
        detail: String,
    },
    /// Post-incident review of a record that is not awaiting one.
    #[error("approval {0} is not a break-glass record awaiting review")]
    NoReviewPending(String),
    /// Post-incident review by someone outside the Change Advisory Board.
    #[error("actor is not authorized to review break-glass")]
    NotAuthorizedReview,
    /// The break-glass actor reviewing their own override.
    #[error("break-glass actor cannot review their own override")]
    SelfReview,
    /// An `Idempotency-Key` reused for a different decision.
    #[error("Idempotency-Key was already used for a different decision")]
    IdempotencyKeyReused,
    /// Issue F §2: a grant whose uses are spent.
    #[error("approval already used")]
    AlreadyUsed,
    /// Issue F §2: consuming a request that was never approved (pending, denied, expired).
    #[error("approval is {0}, not approved")]
    NotApproved(crate::approval::ApprovalState),
    /// Issue F §2: the grant's validity (`grant_ttl`) has passed.
    #[error("approval grant has expired")]
    GrantExpired,
    /// Issue F §1: the presented payload is not the approved one.
    #[error("approval does not match the action: {0}")]
    ActionMismatch(String),
    /// Issue F §1: a decision whose `action_digest` is not what its own keys give.
    #[error("{0}")]
    InconsistentAction(String),
    /// Issue F §2: a stored record that fails verification is never spent.
    #[error("approval record fails verification: {0}")]
    RecordUnverified(String),
    /// Issue F §2: a verified requester's grant is theirs to use.
    #[error("only the requester can use this approval")]
    NotRequester,
    /// Issue I §5: the agent's rationale is bounded.
    #[error("rationale is too long: {given} characters (at most {max})")]
    RationaleTooLong {
        /// The bound.
        max: usize,
        /// What was given.
        given: usize,
    },
    /// Issue I §5: a linked break-glass names a request that does not exist.
    #[error("blocked request not found: {0}")]
    BlockedRequestNotFound(String),
    /// Issue I §5: only a pending request can be overridden (and closed) by a break-glass.
    #[error(
        "blocked request {approval_id} is {state}, not pending: only a pending request can be overridden"
    )]
    BlockedRequestClosed {
        /// The request.
        approval_id: String,
        /// Its state now.
        state: crate::approval::ApprovalState,
    },
    /// Issue I §5: a linked break-glass takes its rule and target from the blocked request.
    #[error(
        "{field} does not match blocked request {approval_id}: it has {stored:?}, the override gave {given:?}"
    )]
    OverrideMismatch {
        /// `rule_id` or `target`.
        field: &'static str,
        /// The blocked request.
        approval_id: String,
        /// What the request has.
        stored: String,
        /// What the caller gave.
        given: String,
    },
    /// Compare-and-set kept losing.
    #[error("approval {0} is changing too fast; try again")]
    Contention(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApprovalError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::MissingDecisionId
            | Self::MissingApproverGroup
            | Self::DoesNotRequireApproval(_)
            | Self::UnknownOutcome
            | Self::BreakGlassNotAllowed(_)
            | Self::InvalidTargetState
            | Self::ActorRequired
            | Self::ReasonRequired
            | Self::BreakGlassReasonRequired
            | Self::DecisionMismatch { .. }
            | Self::RationaleTooLong { .. }
            | Self::OverrideMismatch { .. }
            | Self::InconsistentAction(_) => ErrorKind::Invalid,
            Self::ApproverGroup(_)
            | Self::TtlTooLong { .. }
            | Self::BreakGlassTtlTooLong { .. }
            | Self::ReservedActor(_) => ErrorKind::Unprocessable,
            Self::QuorumNeedsVerified
            | Self::NotAuthorized { .. }
            | Self::NotAuthorizedDeliver
            | Self::NotAuthorizedBreakGlass
            | Self::SelfApproval
            | Self::NotAuthorizedReview
            | Self::SelfReview
            | Self::NotRequester => ErrorKind::Forbidden,
            Self::NotFound(_) | Self::BlockedRequestNotFound(_) => ErrorKind::NotFound,
            Self::NotPending
            | Self::BlockedRequestClosed { .. }
            | Self::Expired
            | Self::AlreadyReviewed
            | Self::ConflictingOpenRequest(_)
            | Self::IdempotencyKeyReused
            | Self::NoReviewPending(_)
            | Self::AlreadyUsed
            | Self::NotApproved(_)
            | Self::GrantExpired
            | Self::ActionMismatch(_)
            | Self::RecordUnverified(_)
            | Self::Contention(_) => ErrorKind::Conflict,
            Self::Store(store) => match store {
                StoreError::InvalidCursor => ErrorKind::Invalid,
                StoreError::NotFound(_) => ErrorKind::NotFound,
                StoreError::DuplicateId(_)
                | StoreError::DuplicateOpenDecision(_)
                | StoreError::VersionConflict(_) => ErrorKind::Conflict,
                StoreError::Corrupt { .. } | StoreError::Unexpected(_) => ErrorKind::Unexpected,
            },
        }
    }
}

//! The approval request record (`cavra.approval.v1`, original §2), with the contract's additions:
//! a version for compare-and-set, the decision digest, quorum settings, reviews, and a
//! hash-chained history.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::decision::Decision;
use crate::identity::PersonKeys;
use crate::time::Timestamp;

/// The record's schema tag.
pub const SCHEMA_VERSION: &str = "cavra.approval.v1";
/// The product tag every record carries.
pub const PRODUCT: &str = "CAVRA";
/// The group break-glass defaults to, and whose members review overrides.
pub const CHANGE_ADVISORY_BOARD: &str = "Change Advisory Board";
/// The actor automated expiry (the sweeper, and a decision that finds its request overdue)
/// runs as. Nobody else acts as it (issue E §3).
pub const SYSTEM_ACTOR: &str = "system";
/// The actor recorded for a manual expiry that names nobody (`cavra approval expire` without
/// `--actor`, an empty `POST …/expire` in local mode). The original wrote `system` here; that
/// name is now the sweeper's alone, so the record shows the expiry was not automated.
pub const UNNAMED_EXPIRY_ACTOR: &str = "anonymous";

/// The states a store accepts: the original's five (§2.2) and `consumed` (issue F §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    /// Waiting for a decision.
    Pending,
    /// Approved (terminal).
    Approved,
    /// Denied (terminal).
    Denied,
    /// Expired (terminal).
    Expired,
    /// Emergency override (terminal for decisions; a grant until its uses are spent).
    BreakGlass,
    /// The grant's uses are spent (terminal, issue F §2).
    Consumed,
}

impl ApprovalState {
    /// All states, in lifecycle order.
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Approved,
        Self::Denied,
        Self::Expired,
        Self::BreakGlass,
        Self::Consumed,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::BreakGlass => "break_glass",
            Self::Consumed => "consumed",
        }
    }

    /// Whether an agent may act on a request in this state (while its grant lasts).
    pub fn permits_action(self) -> bool {
        matches!(self, Self::Approved | Self::BreakGlass)
    }

    /// Whether nothing but evidence and reviews can follow.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Denied | Self::Expired | Self::Consumed)
    }
}

impl fmt::Display for ApprovalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name no store accepts.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unsupported approval state: {0}")]
pub struct UnsupportedState(pub String);

impl FromStr for ApprovalState {
    type Err = UnsupportedState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnsupportedState(s.to_owned()))
    }
}

/// How an actor's identity was established (CONTRACT §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    /// Self-declared (`--actor`, claims files, local mode).
    Unverified,
    /// A signed OIDC token checked against the JWKS.
    Oidc,
}

/// One entry of a record's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// `requested`, `approval_recorded`, `approved`, `denied`, `expired`, `break_glass`,
    /// `post_incident_review`, `delivered`, `consumed`, `reminded` or `escalated`.
    pub event: String,
    /// Who acted.
    pub actor: String,
    /// When.
    pub timestamp: Timestamp,
    /// Why (null when none).
    pub reason: Option<String>,
    /// The external reference; the key is absent on `requested` entries, null when not given.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_with::rust::double_option"
    )]
    pub external_ref: Option<Option<String>>,
    /// How the actor was identified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityKind>,
    /// The token issuer, for `oidc` identities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The token subject, for `oidc` identities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Redacted delivery evidence, on `delivered` entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Value>,
    /// When the request stops being decidable, on `requested` and `break_glass` entries
    /// (issue E §5: the stored `expires_at` is checked against it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// The reviewer's groups, on entries that record a vote (`approval_recorded`, and the
    /// `approved` or `denied` that decides); the stored reviews are checked against them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// The grant's validity in seconds and its uses, on `requested` entries (issue F §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_ttl_seconds: Option<u64>,
    /// See `grant_ttl_seconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
    /// When the grant ends, on the entry that approves (`approved`, `break_glass`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_expires_at: Option<Timestamp>,
    /// The reminder interval in seconds, on `requested` entries whose rule sets
    /// `remind_after` (issue G §3): the history fixes the schedule the sweeper follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_after_seconds: Option<u64>,
    /// The escalation delay in seconds, on `requested` entries whose rule sets
    /// `escalate_after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_after_seconds: Option<u64>,
    /// The fallback group: on `requested` entries, where the request will escalate to; on
    /// `escalated` entries, the group that was added to who may approve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_to: Option<String>,
    /// The id of the chain key the entry was written under (absent when none was configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The other record of a linked break-glass: the override on the blocked request's
    /// `overridden` entry, the blocked request on the override's `break_glass` entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_approval_id: Option<String>,
    /// The previous entry's hash (64 zeros for the first entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_hash: Option<String>,
    /// SHA-256 over `prev_hash` and this entry's canonical JSON without `hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Keys written by other versions, preserved.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl HistoryEntry {
    /// A bare entry; `external_ref` absent, no identity, not yet chained.
    pub fn new(event: &str, actor: &str, timestamp: Timestamp, reason: Option<String>) -> Self {
        Self {
            event: event.to_owned(),
            actor: actor.to_owned(),
            timestamp,
            reason,
            external_ref: None,
            identity: None,
            issuer: None,
            subject: None,
            evidence: None,
            expires_at: None,
            groups: None,
            grant_ttl_seconds: None,
            max_uses: None,
            grant_expires_at: None,
            remind_after_seconds: None,
            escalate_after_seconds: None,
            escalate_to: None,
            key_id: None,
            linked_approval_id: None,
            prev_hash: None,
            hash: None,
            extra: Map::new(),
        }
    }
}

/// A record's seal: which key, and the MAC (see [`crate::integrity`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainMac {
    /// The chain key's id.
    pub key_id: String,
    /// Lowercase hex HMAC-SHA256.
    pub mac: String,
}

/// The requester as established at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequesterIdentity {
    /// `oidc` when a verified token created the request, else `unverified`.
    pub identity: IdentityKind,
    /// Subject, normalised email, `act.sub`.
    #[serde(flatten)]
    pub person: PersonKeys,
}

/// One approver's vote on a quorum request (CONTRACT §3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    /// Who.
    pub actor: String,
    /// Their groups at the time (empty when unverified without claims).
    pub groups: Vec<String>,
    /// `approved` or `denied`.
    pub decision: ApprovalState,
    /// Why.
    pub reason: String,
    /// External reference, if any.
    pub external_ref: Option<String>,
    /// When.
    pub timestamp: Timestamp,
    /// How the actor was identified.
    pub identity: IdentityKind,
    /// Who the reviewer is across tokens (issue E §3): subject, normalised email, `act.sub`.
    #[serde(default, flatten)]
    pub person: PersonKeys,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_false(value: &bool) -> bool {
    !*value
}

fn default_required_approvals() -> u32 {
    1
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_one(value: &u32) -> bool {
    *value == 1
}

/// An approval request record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// Always `cavra.approval.v1`.
    pub schema_version: String,
    /// Always `CAVRA`.
    pub product: String,
    /// `apr_` + 12 hex.
    pub approval_id: String,
    /// The decision's id.
    pub decision_id: String,
    /// The decision's session (`local` when absent).
    pub session_id: String,
    /// The decision's correlation id.
    pub correlation_id: Option<String>,
    /// Lifecycle state.
    pub state: ApprovalState,
    /// The group that decides.
    pub approver_group: String,
    /// Who asked.
    pub requested_by: String,
    /// Who asked, as established when the request was made (issue E §3): the identity level
    /// and the person keys separation of duties compares. Absent on records written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by_identity: Option<RequesterIdentity>,
    /// When it was asked.
    pub requested_at: Timestamp,
    /// When it stops being decidable.
    pub expires_at: Timestamp,
    /// The full decision, verbatim.
    pub decision: Decision,
    /// Everything that happened, hash-chained.
    pub history: Vec<HistoryEntry>,
    /// `approval://{id}` then the decision's refs.
    pub evidence_refs: Vec<String>,
    /// Who decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// When it was decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<Timestamp>,
    /// The deciding reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_reason: Option<String>,
    /// External reference of the decision (absent unless given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
    /// Set on break-glass records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<bool>,
    /// The break-glass reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass_reason: Option<String>,
    /// Compare-and-set version; every stored change increments it.
    #[serde(default)]
    pub version: u64,
    /// The agent's own words on why it wants to act (issue I §5): untrusted text, bounded and
    /// stripped of control characters at creation, shown as text, never as markup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
    /// On a break-glass override started from a blocked request: that request's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<String>,
    /// On a request closed by a break-glass override: the override's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overridden_by: Option<String>,
    /// SHA-256 of the canonical decision (CONTRACT §5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_digest: Option<String>,
    /// The repository RBAC scopes by, fixed at creation (CONTRACT §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Distinct approvals needed (CONTRACT §3).
    #[serde(default = "default_required_approvals", skip_serializing_if = "is_one")]
    pub required_approvals: u32,
    /// Groups that must each contribute an approval.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_groups: Vec<String>,
    /// Whether the requester may approve.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_self_approval: bool,
    /// Votes so far.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviews: Vec<Review>,
    /// Break-glass records stay flagged until a Change Advisory Board review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_required: Option<bool>,
    /// What an approval allows once given: how long and how many times (issue F §2). Absent
    /// on records written before grants existed (they read as [`Grant::legacy`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<Grant>,
    /// The HMAC-SHA256 seal over the whole record under a chain key (issue E §5); absent on
    /// records written without a key (reported as `unkeyed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_mac: Option<ChainMac>,
    /// Keys written by other versions, preserved.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Default grant validity: one hour after the approval.
pub const DEFAULT_GRANT_TTL_SECONDS: u64 = 3_600;
/// Longest grant validity a routing rule may set: 30 days.
pub const MAX_GRANT_TTL_SECONDS: u64 = 30 * 24 * 3_600;
/// Default uses of a grant.
pub const DEFAULT_MAX_USES: u32 = 1;
/// Most uses a routing rule may give a grant.
pub const MAX_MAX_USES: u32 = 1_000;

/// An approval as permission to act (issue F §2, after Vault control groups: a request that is
/// executed once on unwrap): valid for `ttl_seconds` after it is given, `max_uses` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Validity after the approval, in seconds (fixed at creation from the routing rule).
    pub ttl_seconds: u64,
    /// How many consumes it allows (fixed at creation).
    pub max_uses: u32,
    /// Consumes so far.
    #[serde(default)]
    pub uses: u32,
    /// When it ends; set by the approval (or break-glass) that gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

impl Default for Grant {
    fn default() -> Self {
        Self {
            ttl_seconds: DEFAULT_GRANT_TTL_SECONDS,
            max_uses: DEFAULT_MAX_USES,
            uses: 0,
            expires_at: None,
        }
    }
}

impl Grant {
    /// The grant of a record written before grants existed: the defaults, starting when it
    /// was decided.
    pub fn legacy(decided_at: Option<Timestamp>) -> Self {
        let mut grant = Self::default();
        grant.expires_at = decided_at.and_then(|at| at.checked_plus_seconds(grant.ttl_seconds));
        grant
    }

    /// Uses left.
    pub fn remaining(&self) -> u32 {
        self.max_uses.saturating_sub(self.uses)
    }

    /// Whether the grant has ended at `now` (a grant never given has).
    pub fn has_ended(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|end| now >= end)
    }
}

/// The 13-key summary attached to decisions, evidence and notifications (original §2.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalSummary {
    /// See [`Approval`].
    pub approval_id: String,
    /// See [`Approval`].
    pub decision_id: String,
    /// See [`Approval`].
    pub session_id: String,
    /// See [`Approval`].
    pub state: ApprovalState,
    /// See [`Approval`].
    pub approver_group: String,
    /// See [`Approval`].
    pub requested_by: String,
    /// See [`Approval`].
    pub requested_at: Timestamp,
    /// See [`Approval`].
    pub expires_at: Timestamp,
    /// See [`Approval`].
    pub decided_by: Option<String>,
    /// See [`Approval`].
    pub decided_at: Option<Timestamp>,
    /// See [`Approval`].
    pub external_ref: Option<String>,
    /// `false` unless set.
    pub break_glass: bool,
    /// See [`Approval`].
    pub evidence_refs: Vec<String>,
}

/// A pending request's reminder and escalation schedule (issue G §3), from its routing rule,
/// as the `requested` entry fixed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowUp {
    /// Remind every this many seconds.
    pub remind_after_seconds: Option<u64>,
    /// Escalate after this many seconds.
    pub escalate_after_seconds: Option<u64>,
    /// To this group.
    pub escalate_to: Option<String>,
}

impl Approval {
    /// The groups whose members decide this request: the approver group, then every required
    /// group and the group it escalated to, each not already named (for messages such as a
    /// 403's `required_groups`).
    pub fn deciding_groups(&self) -> Vec<String> {
        let mut groups = vec![self.approver_group.clone()];
        let others = self
            .required_groups
            .iter()
            .map(String::as_str)
            .chain(self.escalated_groups());
        for group in others {
            if !groups.iter().any(|g| crate::groups::same_group(g, group)) {
                groups.push(group.to_owned());
            }
        }
        groups
    }

    /// The 13-key summary.
    pub fn summary(&self) -> ApprovalSummary {
        ApprovalSummary {
            approval_id: self.approval_id.clone(),
            decision_id: self.decision_id.clone(),
            session_id: self.session_id.clone(),
            state: self.state,
            approver_group: self.approver_group.clone(),
            requested_by: self.requested_by.clone(),
            requested_at: self.requested_at,
            expires_at: self.expires_at,
            decided_by: self.decided_by.clone(),
            decided_at: self.decided_at,
            external_ref: self.external_ref.clone(),
            break_glass: self.break_glass.unwrap_or(false),
            evidence_refs: self.evidence_refs.clone(),
        }
    }

    /// Whether `now` is past `expires_at`.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        now > self.expires_at
    }

    /// The record's grant ([`Grant::legacy`] for records written before grants).
    pub fn grant(&self) -> Grant {
        self.grant.unwrap_or_else(|| Grant::legacy(self.decided_at))
    }

    /// The repository RBAC uses: the record's own, else the decision's (original §5).
    pub fn rbac_repository(&self) -> Option<&str> {
        self.repository
            .as_deref()
            .or_else(|| self.decision.repository())
    }

    /// The groups an unanswered request escalated to (issue G §3): one per `escalated` entry,
    /// added to who may approve.
    /// Only the group the `requested` entry planned counts, whatever else a row claims.
    pub fn escalated_groups(&self) -> Vec<&str> {
        let planned = self
            .requested_entry()
            .and_then(|e| e.escalate_to.as_deref());
        self.history
            .iter()
            .filter(|e| e.event == "escalated" && e.actor == SYSTEM_ACTOR)
            .filter_map(|e| e.escalate_to.as_deref())
            .filter(|group| Some(*group) == planned)
            .take(1)
            .collect()
    }

    /// The reminder and escalation schedule the `requested` entry fixed.
    pub fn follow_up(&self) -> FollowUp {
        let first = self.requested_entry();
        FollowUp {
            remind_after_seconds: first.and_then(|e| e.remind_after_seconds),
            escalate_after_seconds: first.and_then(|e| e.escalate_after_seconds),
            escalate_to: first.and_then(|e| e.escalate_to.clone()),
        }
    }

    /// The history's first entry, when it is the `requested` one that fixes the request's terms.
    fn requested_entry(&self) -> Option<&HistoryEntry> {
        self.history.first().filter(|e| e.event == "requested")
    }

    /// When the approver group was last reminded (or asked, before any reminder).
    pub fn last_reminded_at(&self) -> Timestamp {
        self.history
            .iter()
            .rev()
            .find(|e| e.event == "reminded")
            .map_or(self.requested_at, |e| e.timestamp)
    }

    /// The reason to show: decision reason, else break-glass reason, else the decision's.
    pub fn display_reason(&self) -> Option<&str> {
        self.decision_reason
            .as_deref()
            .or(self.break_glass_reason.as_deref())
            .or_else(|| self.decision.str_field("reason"))
    }

    /// The record as a JSON value with keys sorted (how files and `payload` columns hold it).
    #[allow(clippy::expect_used)] // string-keyed maps and no floats: serialising cannot fail
    pub fn to_sorted_value(&self) -> Value {
        sort_value(serde_json::to_value(self).expect("records always serialise"))
    }
}

/// Whether `serde_json::Map` keeps its keys sorted. It does — it is a `BTreeMap` — unless
/// serde_json's `preserve_order` feature is switched on somewhere in the build; then every
/// `Value` is already in sorted order at every depth, and [`sort_value`] returns it as it is
/// instead of rebuilding it (issue H §3: a response is no longer rebuilt to be sorted).
fn maps_keep_keys_sorted() -> bool {
    static SORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SORTED.get_or_init(|| {
        let mut map = serde_json::Map::new();
        map.insert("b".to_owned(), Value::Null);
        map.insert("a".to_owned(), Value::Null);
        map.keys().next().map(String::as_str) == Some("a")
    })
}

/// `value` with every object's keys in sorted order.
pub fn sort_value(value: Value) -> Value {
    if maps_keep_keys_sorted() {
        return value;
    }
    rebuild_sorted(value)
}

/// Rebuilds every object in `value` with its keys in sorted order.
fn rebuild_sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, rebuild_sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(rebuild_sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip_and_unknown_names_are_refused_with_the_original_message() {
        for state in ApprovalState::ALL {
            assert_eq!(state.as_str().parse::<ApprovalState>().unwrap(), state);
        }
        assert_eq!(
            "cancelled"
                .parse::<ApprovalState>()
                .unwrap_err()
                .to_string(),
            "unsupported approval state: cancelled"
        );
    }

    #[test]
    fn an_original_record_without_contract_keys_still_reads() {
        let text = r#"{"schema_version":"cavra.approval.v1","product":"CAVRA","approval_id":"apr_5c0e1d9b2a77",
          "decision_id":"dec_3f9a1c2b7d4e","session_id":"local","correlation_id":null,"state":"pending",
          "approver_group":"IAM","requested_by":"developer","requested_at":"2026-05-18T12:35:00.000001+00:00",
          "expires_at":"2026-05-19T12:35:00.000002+00:00","decision":{"decision_id":"dec_3f9a1c2b7d4e"},
          "history":[{"event":"requested","actor":"developer","timestamp":"2026-05-18T12:35:00.000001+00:00","reason":null}],
          "evidence_refs":["approval://apr_5c0e1d9b2a77"],"custom_key":{"kept":true}}"#;
        let record: Approval = serde_json::from_str(text).unwrap();
        assert_eq!(record.required_approvals, 1);
        assert_eq!(record.version, 0);
        assert_eq!(record.extra["custom_key"]["kept"], true);
        let back = record.to_sorted_value();
        assert!(back["history"][0].get("external_ref").is_none());
        assert_eq!(back["custom_key"]["kept"], true);
    }

    #[test]
    fn history_entries_distinguish_absent_and_null_external_refs() {
        let at: Timestamp = "2026-05-18T12:35:00+00:00".parse().unwrap();
        let mut entry = HistoryEntry::new("approved", "a", at, Some("r".into()));
        assert!(
            serde_json::to_value(&entry)
                .unwrap()
                .get("external_ref")
                .is_none()
        );
        entry.external_ref = Some(None);
        assert_eq!(
            serde_json::to_value(&entry).unwrap()["external_ref"],
            Value::Null
        );
        entry.external_ref = Some(Some("CHG-1".into()));
        assert_eq!(
            serde_json::to_value(&entry).unwrap()["external_ref"],
            "CHG-1"
        );
    }

    #[test]
    fn sorted_values_have_sorted_keys_at_every_depth() {
        let sorted = r#"{"a":[{"x":2,"y":1}],"b":{"a":2,"z":1}}"#;
        let given = || serde_json::json!({"b": {"z": 1, "a": 2}, "a": [{"y": 1, "x": 2}]});
        assert_eq!(serde_json::to_string(&sort_value(given())).unwrap(), sorted);
        // Both ways give the same, whichever map type the build has.
        assert_eq!(
            serde_json::to_string(&rebuild_sorted(given())).unwrap(),
            sorted
        );
        // A record's own fields come out sorted too (its struct order is not).
        let keys: Vec<String> = serde_json::to_string(&sort_value(serde_json::json!({
            "state": 1, "approval_id": 2, "decision": {"severity": 3, "action": 4}
        })))
        .unwrap()
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
        assert_eq!(
            keys,
            ["approval_id", "decision", "action", "severity", "state"]
        );
    }
}

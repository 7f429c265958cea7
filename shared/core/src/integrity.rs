//! Tamper evidence for stored records (issue E §5).
//!
//! Two checks, both run by `check` and `verify-history`:
//! - **Replay.** The state, requester, deciding actor, time and reason, expiry, break-glass
//!   fields and reviews are recomputed from the history chain; a stored field that disagrees is
//!   refused, and the message names it. This catches an edit of the row that leaves the history
//!   alone (`UPDATE … SET state = 'approved'`).
//! - **Seal.** Before every write the service seals the record: each new history entry records
//!   the current chain key's id, and `chain_mac` is HMAC-SHA256, under that key, over the
//!   approval id, the version, the chain head and the SHA-256 of the whole record's canonical
//!   JSON. Whoever can write the database but does not hold the key cannot produce a record
//!   that verifies, even by rewriting the history and recomputing its hashes. Records written
//!   without a key (by the original program, or before keys existed) verify as `unkeyed`:
//!   reported, and refused by `check` when a key is configured unless explicitly allowed. A
//!   record whose entries name a key but whose seal is gone is refused, not `unkeyed`.

use hmac::{Hmac, Mac as _};
use serde::Serialize;
use sha2::Sha256;

use crate::approval::{Approval, ApprovalState, ChainMac, HistoryEntry, SYSTEM_ACTOR};
use crate::chain_key::{ChainKey, ChainKeyRing};
use crate::digest::{canonical_json, sha256_hex};
use crate::history::{self, ChainReport};
use crate::time::Timestamp;

/// The domain separator of the record MAC.
const MAC_CONTEXT: &str = "cavra.approval.chain-mac.v1";

/// How a record is sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Integrity {
    /// Sealed by a configured chain key, and the seal holds.
    Keyed,
    /// Written without a chain key.
    Unkeyed,
    /// The seal is missing, broken, or made with a key that is not configured.
    Broken,
    /// Carries a seal that this side holds no key to check: a record read through the API,
    /// whose server holds the chain key and checks the seal itself (issue F §7).
    Sealed,
}

impl Integrity {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keyed => "keyed",
            Self::Unkeyed => "unkeyed",
            Self::Broken => "broken",
            Self::Sealed => "sealed",
        }
    }
}

/// What verifying a stored record found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordVerification {
    /// The history chain's own report.
    #[serde(flatten)]
    pub chain: ChainReport,
    /// `keyed`, `unkeyed` or `broken`.
    pub integrity: Integrity,
    /// The key that sealed the record, when sealed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Stored fields that disagree with the history, each naming the field.
    pub disagreements: Vec<String>,
}

impl RecordVerification {
    /// Whether the chain holds, no stored field disagrees, and the seal (if any) holds.
    pub fn ok(&self) -> bool {
        self.chain.valid && self.disagreements.is_empty() && self.integrity != Integrity::Broken
    }

    /// The first problem, for a one-line refusal.
    pub fn problem(&self) -> Option<String> {
        if !self.chain.valid {
            return self.chain.error.clone();
        }
        self.disagreements.first().cloned()
    }
}

fn mac_input(record: &Approval) -> String {
    let mut unsealed = record.clone();
    unsealed.chain_mac = None;
    // Records always serialise; an impossible failure seals nothing that could verify.
    let body = canonical_json(&unsealed).unwrap_or_default();
    let head = record
        .history
        .last()
        .and_then(|e| e.hash.as_deref())
        .unwrap_or_default();
    format!(
        "{MAC_CONTEXT}\n{}\n{}\n{head}\n{}",
        record.approval_id,
        record.version,
        sha256_hex(body)
    )
}

/// The record's HMAC under `key`, ready to finalise or verify. (HMAC accepts keys of every
/// length, so this is `None` only in theory.)
fn keyed_mac(record: &Approval, key: &ChainKey) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256>>::new_from_slice(key.secret()).ok()?;
    mac.update(mac_input(record).as_bytes());
    Some(mac)
}

fn mac_hex(record: &Approval, key: &ChainKey) -> Option<String> {
    keyed_mac(record, key).map(|mac| hex::encode(mac.finalize().into_bytes()))
}

fn mac_matches(record: &Approval, key: &ChainKey, given: &str) -> bool {
    let Ok(given) = hex::decode(given) else {
        return false;
    };
    // Constant-time comparison.
    keyed_mac(record, key).is_some_and(|mac| mac.verify_slice(&given).is_ok())
}

/// Seals `record` before a write: the entries from `first_new` on are re-linked carrying the
/// current key's id, then `chain_mac` is computed. Without a key the record is written
/// unkeyed (any stale seal is dropped, so it cannot pass for sealed).
pub fn seal(record: &mut Approval, first_new: usize, keys: Option<&ChainKeyRing>) {
    record.chain_mac = None;
    let Some(keys) = keys else {
        return;
    };
    let key = keys.current();
    if first_new < record.history.len() {
        let fresh: Vec<HistoryEntry> = record.history.drain(first_new..).collect();
        for mut entry in fresh {
            entry.key_id = Some(key.id().to_owned());
            history::append(&mut record.history, entry);
        }
    }
    record.chain_mac = mac_hex(record, key).map(|mac| ChainMac {
        key_id: key.id().to_owned(),
        mac,
    });
}

/// Verifies a stored record: chain, replay and seal.
pub fn verify_record(record: &Approval, keys: Option<&ChainKeyRing>) -> RecordVerification {
    verify_with(record, |seal, disagreements| {
        match keys.and_then(|ring| ring.get(&seal.key_id)) {
            None => {
                disagreements.push(format!(
                    "chain_mac was made with chain key {}, which is not configured here",
                    seal.key_id
                ));
                Integrity::Broken
            }
            Some(key) if mac_matches(record, key, &seal.mac) => Integrity::Keyed,
            Some(_) => {
                disagreements.push(
                    "chain_mac does not match the record: it was changed without the chain key"
                        .to_owned(),
                );
                Integrity::Broken
            }
        }
    })
}

/// Verifies a record read from elsewhere (the remote CLI reads it through the API) without
/// the chain key: the chain and the replay are checked here; a seal is reported
/// [`Integrity::Sealed`], for the key's holder (the server) to check. A history written under
/// a key whose record lost its seal is still [`Integrity::Broken`].
pub fn verify_without_key(record: &Approval) -> RecordVerification {
    verify_with(record, |_, _| Integrity::Sealed)
}

/// Chain and replay, then `judge_seal` for a sealed record (it may add disagreements).
fn verify_with(
    record: &Approval,
    judge_seal: impl FnOnce(&ChainMac, &mut Vec<String>) -> Integrity,
) -> RecordVerification {
    let chain = history::verify(&record.history);
    let mut disagreements = if chain.valid {
        replay_disagreements(record)
    } else {
        Vec::new()
    };
    let sealed_with = record.history.iter().find_map(|e| e.key_id.clone());
    let (integrity, key_id) = match (&record.chain_mac, sealed_with) {
        (None, None) => (Integrity::Unkeyed, None),
        (None, Some(id)) => {
            disagreements.push(format!(
                "chain_mac is missing, but the history was written under chain key {id}"
            ));
            (Integrity::Broken, Some(id))
        }
        (Some(seal), _) => (
            judge_seal(seal, &mut disagreements),
            Some(seal.key_id.clone()),
        ),
    };
    RecordVerification {
        chain,
        integrity,
        key_id,
        disagreements,
    }
}

/// One vote as the history records it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayedReview {
    /// Who voted.
    pub actor: String,
    /// `approved` or `denied`.
    pub decision: ApprovalState,
    /// When.
    pub timestamp: Timestamp,
    /// Their groups, when the entry records them.
    pub groups: Option<Vec<String>>,
    /// How they were identified, when the entry records it.
    pub identity: Option<crate::approval::IdentityKind>,
}

/// A record's fields as its history says they must be.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Replayed {
    /// The state after the last entry.
    pub state: Option<ApprovalState>,
    /// The `requested` entry's actor.
    pub requested_by: String,
    /// The `requested` entry's time.
    pub requested_at: Option<Timestamp>,
    /// The expiry recorded by `requested` (or `break_glass`), if recorded.
    pub expires_at: Option<Timestamp>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<Timestamp>,
    /// Why.
    pub decision_reason: Option<String>,
    /// Whether a `break_glass` entry exists.
    pub break_glass: bool,
    /// Its reason.
    pub break_glass_reason: Option<String>,
    /// Whether the post-incident review is still due (break-glass records only).
    pub review_required: Option<bool>,
    /// Every vote.
    pub reviews: Vec<ReplayedReview>,
    /// The entry that made an approved or break-glass state, for the identity it carries.
    pub deciding: Vec<ReplayedReview>,
    /// The grant's validity, from the `requested` entry (issue F §2; absent on older records).
    pub grant_ttl_seconds: Option<u64>,
    /// The grant's uses, from the `requested` entry.
    pub max_uses: Option<u32>,
    /// When the grant ends, from the approving entry.
    pub grant_expires_at: Option<Timestamp>,
    /// `consumed` entries so far.
    pub uses: u32,
}

fn vote(entry: &HistoryEntry, decision: ApprovalState) -> ReplayedReview {
    ReplayedReview {
        actor: entry.actor.clone(),
        decision,
        timestamp: entry.timestamp,
        groups: entry.groups.clone(),
        identity: entry.identity,
    }
}

/// Recomputes a record's fields from its history.
///
/// # Errors
/// A history that no sequence of operations writes, with the entry it breaks at.
pub fn replay(history: &[HistoryEntry]) -> Result<Replayed, String> {
    let Some(first) = history.first() else {
        return Err("history is empty".to_owned());
    };
    if first.event != "requested" {
        return Err(format!("history entry 1 is {}, not requested", first.event));
    }
    let mut out = Replayed {
        state: Some(ApprovalState::Pending),
        requested_by: first.actor.clone(),
        requested_at: Some(first.timestamp),
        expires_at: first.expires_at,
        grant_ttl_seconds: first.grant_ttl_seconds,
        max_uses: first.max_uses,
        ..Replayed::default()
    };
    let mut escalated = false;
    for (index, entry) in history.iter().enumerate().skip(1) {
        let position = index.saturating_add(1);
        let state_now = out.state;
        let pending = state_now == Some(ApprovalState::Pending);
        let out_of_order = || {
            format!(
                "history entry {position} ({}) cannot follow a {} request",
                entry.event,
                state_now.map_or("", ApprovalState::as_str)
            )
        };
        let next_is_break_glass = history
            .get(index.saturating_add(1))
            .is_some_and(|e| e.event == "break_glass");
        let decide = |out: &mut Replayed, state: ApprovalState| {
            if entry.grant_expires_at.is_some() {
                out.grant_expires_at = entry.grant_expires_at;
            }
            out.state = Some(state);
            out.decided_by = Some(entry.actor.clone());
            out.decided_at = Some(entry.timestamp);
            out.decision_reason.clone_from(&entry.reason);
        };
        match entry.event.as_str() {
            "approval_recorded" if pending => {
                out.reviews.push(vote(entry, ApprovalState::Approved));
            }
            // A break-glass record's `approved` entry is the override, not a vote.
            "approved" if pending && next_is_break_glass => {
                decide(&mut out, ApprovalState::Approved);
            }
            "approved" if pending => {
                out.reviews.push(vote(entry, ApprovalState::Approved));
                decide(&mut out, ApprovalState::Approved);
            }
            "denied" if pending => {
                out.reviews.push(vote(entry, ApprovalState::Denied));
                decide(&mut out, ApprovalState::Denied);
            }
            // `overridden`: closed by a linked break-glass override (issue I §5).
            "expired" | "overridden" if pending => decide(&mut out, ApprovalState::Expired),
            "break_glass" if out.state == Some(ApprovalState::Approved) && index == 2 => {
                out.state = Some(ApprovalState::BreakGlass);
                out.break_glass = true;
                out.break_glass_reason.clone_from(&entry.reason);
                out.review_required = Some(true);
                if entry.expires_at.is_some() {
                    out.expires_at = entry.expires_at;
                }
                out.deciding = vec![vote(entry, ApprovalState::BreakGlass)];
            }
            "post_incident_review" if out.review_required == Some(true) => {
                out.review_required = Some(false);
            }
            "consumed" if state_now.is_some_and(ApprovalState::permits_action) => {
                out.uses = out.uses.saturating_add(1);
                if out.uses >= out.max_uses.unwrap_or(crate::approval::DEFAULT_MAX_USES) {
                    out.state = Some(ApprovalState::Consumed);
                }
            }
            "delivered" => {}
            // Follow-ups (issue G §3) are the sweeper's, on pending requests, and an
            // escalation goes only to the group the `requested` entry fixed, once.
            "reminded" if pending && entry.actor == SYSTEM_ACTOR => {}
            "escalated"
                if pending
                    && entry.actor == SYSTEM_ACTOR
                    && !escalated
                    && entry.escalate_to.is_some()
                    && entry.escalate_to == first.escalate_to =>
            {
                escalated = true;
            }
            "reminded" | "escalated" if pending => {
                return Err(format!(
                    "history entry {position} ({}) is not a follow-up the routing rule set",
                    entry.event
                ));
            }
            "reminded"
            | "escalated"
            | "consumed"
            | "approval_recorded"
            | "approved"
            | "denied"
            | "expired"
            | "overridden"
            | "break_glass"
            | "post_incident_review" => return Err(out_of_order()),
            other => {
                return Err(format!(
                    "history entry {position} has an unknown event {other:?}"
                ));
            }
        }
    }
    if out.state == Some(ApprovalState::Approved) {
        out.deciding = out
            .reviews
            .iter()
            .filter(|r| r.decision == ApprovalState::Approved)
            .cloned()
            .collect();
    }
    Ok(out)
}

fn shown<T: ToString>(value: Option<&T>) -> String {
    value.map_or_else(|| "none".to_owned(), ToString::to_string)
}

/// The stored fields of `record` that disagree with its history.
pub fn replay_disagreements(record: &Approval) -> Vec<String> {
    let replayed = match replay(&record.history) {
        Ok(replayed) => replayed,
        Err(error) => return vec![error],
    };
    let mut out = Vec::new();
    let mut differ = |field: &str, stored: String, history: String| {
        if stored != history {
            out.push(format!(
                "{field} disagrees with the history: stored {stored}, history {history}"
            ));
        }
    };
    differ(
        "state",
        record.state.to_string(),
        shown(replayed.state.as_ref()),
    );
    differ(
        "requested_by",
        record.requested_by.clone(),
        replayed.requested_by.clone(),
    );
    differ(
        "requested_at",
        record.requested_at.to_string(),
        shown(replayed.requested_at.as_ref()),
    );
    if let Some(expires_at) = replayed.expires_at {
        differ(
            "expires_at",
            record.expires_at.to_string(),
            expires_at.to_string(),
        );
    }
    differ(
        "decided_by",
        shown(record.decided_by.as_ref()),
        shown(replayed.decided_by.as_ref()),
    );
    differ(
        "decided_at",
        shown(record.decided_at.as_ref()),
        shown(replayed.decided_at.as_ref()),
    );
    differ(
        "decision_reason",
        shown(record.decision_reason.as_ref()),
        shown(replayed.decision_reason.as_ref()),
    );
    differ(
        "break_glass",
        record.break_glass.unwrap_or(false).to_string(),
        replayed.break_glass.to_string(),
    );
    if replayed.break_glass {
        differ(
            "break_glass_reason",
            shown(record.break_glass_reason.as_ref()),
            shown(replayed.break_glass_reason.as_ref()),
        );
        differ(
            "review_required",
            shown(record.review_required.as_ref()),
            shown(replayed.review_required.as_ref()),
        );
    }
    // Issue F §2: the grant's terms, end and uses are the history's.
    let grant = record.grant();
    if let Some(ttl) = replayed.grant_ttl_seconds {
        differ(
            "grant.ttl_seconds",
            grant.ttl_seconds.to_string(),
            ttl.to_string(),
        );
    }
    if let Some(max_uses) = replayed.max_uses {
        differ(
            "grant.max_uses",
            grant.max_uses.to_string(),
            max_uses.to_string(),
        );
    }
    if replayed.grant_expires_at.is_some() {
        differ(
            "grant.expires_at",
            shown(grant.expires_at.as_ref()),
            shown(replayed.grant_expires_at.as_ref()),
        );
    }
    differ(
        "grant.uses",
        grant.uses.to_string(),
        replayed.uses.to_string(),
    );
    // The original program kept no reviews; only records that have them (or whose entries
    // record the reviewer's groups) are compared vote by vote.
    let recorded_groups = replayed.reviews.iter().any(|r| r.groups.is_some());
    if !record.reviews.is_empty() || recorded_groups {
        if record.reviews.len() == replayed.reviews.len() {
            for (position, (stored, replayed)) in
                record.reviews.iter().zip(&replayed.reviews).enumerate()
            {
                let field = format!("reviews[{position}]");
                differ(
                    &format!("{field}.actor"),
                    stored.actor.clone(),
                    replayed.actor.clone(),
                );
                differ(
                    &format!("{field}.decision"),
                    stored.decision.to_string(),
                    replayed.decision.to_string(),
                );
                differ(
                    &format!("{field}.timestamp"),
                    stored.timestamp.to_string(),
                    replayed.timestamp.to_string(),
                );
                if let Some(groups) = &replayed.groups {
                    differ(
                        &format!("{field}.groups"),
                        format!("{:?}", stored.groups),
                        format!("{groups:?}"),
                    );
                }
                if let Some(identity) = replayed.identity {
                    differ(
                        &format!("{field}.identity"),
                        format!("{:?}", stored.identity),
                        format!("{identity:?}"),
                    );
                }
            }
        } else {
            differ(
                "reviews",
                format!("{} reviews", record.reviews.len()),
                format!("{} reviews", replayed.reviews.len()),
            );
        }
    }
    out
}

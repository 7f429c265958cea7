//! Issue E §5 through the service over the memory store: a record edited behind the service's
//! back is refused by `check` and `verify-history`, and the message names what disagrees.
//! The "attacker" here writes the store directly, as someone with the database file would.
//! The same edits on SQLite, the JSON file and DynamoDB run in `cli/tests/tamper.rs`.

use std::sync::Arc;

use cavra_core::approval::{Approval, ApprovalState, IdentityKind, Review};
use cavra_core::chain_key::ChainKeyRing;
use cavra_core::decision::Decision;
use cavra_core::history;
use cavra_core::identity::ActorContext;
use cavra_core::ids::SequentialIds;
use cavra_core::integrity::Integrity;
use cavra_core::memory::MemoryStore;
use cavra_core::routing::RoutingTable;
use cavra_core::service::ApprovalService;
use cavra_core::store::ApprovalStore;
use cavra_core::time::{ManualClock, Timestamp};
use cavra_core::workflow::{BreakGlassInput, CheckOptions, DecideInput, NewRequest};
use serde_json::json;

const KEY_A: &str = "key-a:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const KEY_B: &str = "key-b:ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

struct Setup {
    store: Arc<MemoryStore>,
    service: ApprovalService,
}

fn setup(keys: Option<&str>) -> Setup {
    let store = Arc::new(MemoryStore::new());
    let service = service_over(&store, keys);
    Setup { store, service }
}

fn service_over(store: &Arc<MemoryStore>, keys: Option<&str>) -> ApprovalService {
    let clock = Arc::new(ManualClock::new(
        "2026-05-18T12:00:00+00:00".parse::<Timestamp>().unwrap(),
    ));
    ApprovalService::new(store.clone(), clock, Arc::new(SequentialIds::default()))
        .with_chain_keys(keys.map(|k| ChainKeyRing::parse(k).unwrap()))
}

fn iam() -> Decision {
    Decision::from_value(json!({
        "decision_id": "dec_tamper", "action_type": "write_file", "target": "iam/admin-role.tf",
        "rule_id": "filesystem.write.require_approval", "decision": "require_approval",
        "severity": "high", "reason": "IAM change",
    }))
    .unwrap()
}

fn by(target: ApprovalState, actor: &str, context: Option<ActorContext>) -> DecideInput {
    DecideInput {
        target,
        actor: actor.to_owned(),
        reason: "reviewed".to_owned(),
        external_ref: None,
        context,
    }
}

fn verified(subject: &str, groups: &[&str]) -> ActorContext {
    let claims = json!({"iss": "https://login.example", "sub": subject, "groups": groups});
    ActorContext::from_claims(claims.as_object().unwrap(), None, IdentityKind::Oidc)
}

async fn pending(setup: &Setup) -> Approval {
    setup
        .service
        .create(NewRequest::new(iam()))
        .await
        .unwrap()
        .approval
}

async fn approved(setup: &Setup) -> Approval {
    let record = pending(setup).await;
    setup
        .service
        .decide(
            &record.approval_id,
            &by(ApprovalState::Approved, "alice", None),
        )
        .await
        .unwrap()
}

/// Writes `edited` over the stored record, as a database edit would.
async fn tamper(setup: &Setup, edited: &Approval) {
    let stored = setup.store.get(&edited.approval_id).await.unwrap().unwrap();
    setup
        .store
        .replace(edited, stored.version, stored.state)
        .await
        .unwrap();
}

async fn refusal(setup: &Setup, id: &str) -> String {
    let report = setup
        .service
        .check_with(id, &iam(), CheckOptions::default())
        .await
        .unwrap();
    assert!(!report.allowed, "{report:?}");
    let verification = setup.service.verify_history(id).await.unwrap();
    assert!(!verification.ok(), "{verification:?}");
    report.reason.unwrap()
}

#[tokio::test]
async fn a_sealed_record_verifies_keyed_and_check_allows_it() {
    let setup = setup(Some(KEY_A));
    let record = approved(&setup).await;
    assert_eq!(record.chain_mac.as_ref().unwrap().key_id, "key-a");
    assert!(
        record
            .history
            .iter()
            .all(|e| e.key_id.as_deref() == Some("key-a"))
    );
    let verification = setup
        .service
        .verify_history(&record.approval_id)
        .await
        .unwrap();
    assert!(verification.ok(), "{verification:?}");
    assert_eq!(verification.integrity, Integrity::Keyed);
    let report = setup
        .service
        .check(&record.approval_id, &iam())
        .await
        .unwrap();
    assert!(report.allowed, "{report:?}");
    assert_eq!(report.integrity, Integrity::Keyed);
    assert_eq!(report.deciding.len(), 1);
    assert_eq!(report.deciding[0].identity, IdentityKind::Unverified);
}

#[tokio::test]
async fn regression_a_pending_row_edited_to_approved_is_refused_naming_the_state() {
    for keys in [None, Some(KEY_A)] {
        let setup = setup(keys);
        let mut record = pending(&setup).await;
        record.state = ApprovalState::Approved;
        record.decided_by = Some("alice".into());
        tamper(&setup, &record).await;
        let reason = refusal(&setup, &record.approval_id).await;
        assert!(
            reason.contains("state disagrees with the history: stored approved, history pending")
                || reason.contains("chain_mac does not match"),
            "{reason}"
        );
        let verification = setup
            .service
            .verify_history(&record.approval_id)
            .await
            .unwrap();
        assert!(
            verification
                .disagreements
                .iter()
                .any(|d| d.starts_with("state disagrees")),
            "{verification:?}"
        );
    }
}

#[tokio::test]
async fn a_rewritten_and_rehashed_history_does_not_verify_without_the_key() {
    let setup = setup(Some(KEY_A));
    let record = pending(&setup).await;
    // The attacker forges a consistent approval: a new entry, rehashed chain, matching fields.
    let mut forged = record.clone();
    let at = forged.requested_at;
    let mut entry =
        cavra_core::approval::HistoryEntry::new("approved", "mallory", at, Some("ok".into()));
    entry.external_ref = Some(None);
    entry.key_id = Some("key-a".into());
    history::append(&mut forged.history, entry);
    forged.state = ApprovalState::Approved;
    forged.decided_by = Some("mallory".into());
    forged.decided_at = Some(at);
    forged.decision_reason = Some("ok".into());
    forged.version += 1;
    assert!(history::verify(&forged.history).valid);
    tamper(&setup, &forged).await;
    let reason = refusal(&setup, &record.approval_id).await;
    assert!(
        reason.contains("chain_mac does not match the record"),
        "{reason}"
    );
}

#[tokio::test]
async fn stripping_the_seal_is_refused_and_stripping_everything_is_unkeyed_and_refused() {
    let setup = setup(Some(KEY_A));
    let record = approved(&setup).await;
    let mut stripped = record.clone();
    stripped.chain_mac = None;
    tamper(&setup, &stripped).await;
    let reason = refusal(&setup, &record.approval_id).await;
    assert!(
        reason.contains("chain_mac is missing, but the history was written under chain key key-a"),
        "{reason}"
    );

    // Key ids removed and the chain recomputed: the record now looks unkeyed.
    let mut bare = record.clone();
    bare.chain_mac = None;
    let entries: Vec<_> = bare.history.drain(..).collect();
    for mut entry in entries {
        entry.key_id = None;
        history::append(&mut bare.history, entry);
    }
    tamper(&setup, &bare).await;
    let verification = setup
        .service
        .verify_history(&record.approval_id)
        .await
        .unwrap();
    assert_eq!(verification.integrity, Integrity::Unkeyed);
    let report = setup
        .service
        .check(&record.approval_id, &iam())
        .await
        .unwrap();
    assert!(!report.allowed);
    assert!(
        report.reason.as_deref().unwrap().contains("unkeyed"),
        "{report:?}"
    );
    let allowed = setup
        .service
        .check_with(
            &record.approval_id,
            &iam(),
            CheckOptions {
                allow_unkeyed: true,
                ..CheckOptions::default()
            },
        )
        .await
        .unwrap();
    assert!(allowed.allowed, "{allowed:?}");
}

#[tokio::test]
async fn without_a_key_records_are_unkeyed_and_reported_so() {
    let setup = setup(None);
    let record = approved(&setup).await;
    assert!(record.chain_mac.is_none());
    let report = setup
        .service
        .check(&record.approval_id, &iam())
        .await
        .unwrap();
    assert!(report.allowed);
    assert_eq!(report.integrity, Integrity::Unkeyed);
    assert_eq!(
        serde_json::to_value(&report).unwrap()["integrity"],
        "unkeyed"
    );
}

#[tokio::test]
async fn rotation_keeps_old_records_verifiable_and_seals_new_writes_with_the_new_key() {
    let setup = setup(Some(KEY_A));
    let old = pending(&setup).await;
    let rotated = service_over(&setup.store, Some(&format!("{KEY_B},{KEY_A}")));
    let verification = rotated.verify_history(&old.approval_id).await.unwrap();
    assert!(verification.ok(), "{verification:?}");
    assert_eq!(verification.key_id.as_deref(), Some("key-a"));
    let decided = rotated
        .decide(
            &old.approval_id,
            &by(ApprovalState::Approved, "alice", None),
        )
        .await
        .unwrap();
    assert_eq!(decided.chain_mac.as_ref().unwrap().key_id, "key-b");
    assert_eq!(decided.history[0].key_id.as_deref(), Some("key-a"));
    assert_eq!(decided.history[1].key_id.as_deref(), Some("key-b"));
    assert!(
        rotated
            .check(&old.approval_id, &iam())
            .await
            .unwrap()
            .allowed
    );
    // A deployment that dropped key-b cannot vouch for the new seal.
    let only_a = service_over(&setup.store, Some(KEY_A));
    let verification = only_a.verify_history(&old.approval_id).await.unwrap();
    assert_eq!(verification.integrity, Integrity::Broken);
    assert!(
        verification.disagreements[0].contains("chain key key-b, which is not configured"),
        "{verification:?}"
    );
}

#[tokio::test]
async fn regression_each_stored_field_edit_is_named() {
    let setup = setup(None);
    let record = approved(&setup).await;
    let later: Timestamp = "2027-05-18T12:00:00+00:00".parse().unwrap();
    type Edit = fn(&mut Approval, Timestamp);
    let edits: [(&str, Edit); 6] = [
        ("expires_at", |r, t| r.expires_at = t),
        ("decided_by", |r, _| r.decided_by = Some("root".into())),
        ("requested_by", |r, _| {
            r.requested_by = "someone-else".into();
        }),
        ("decision_reason", |r, _| r.decision_reason = None),
        ("break_glass", |r, _| r.break_glass = Some(true)),
        ("reviews[0].actor", |r, _| r.reviews[0].actor = "bob".into()),
    ];
    for (field, edit) in edits {
        let mut edited = record.clone();
        edit(&mut edited, later);
        tamper(&setup, &edited).await;
        let reason = refusal(&setup, &record.approval_id).await;
        assert!(
            reason.contains(&format!("{field} disagrees with the history")),
            "{field}: {reason}"
        );
        tamper(&setup, &record).await;
    }
}

#[tokio::test]
async fn regression_an_invented_review_does_not_meet_a_quorum() {
    let routing = RoutingTable::from_value(&json!([
        {"rule_id_prefix": "filesystem.write", "approver_group": "IAM", "required_approvals": 2}
    ]))
    .unwrap();
    let store = Arc::new(MemoryStore::new());
    let service = service_over(&store, None).with_routing(routing);
    let setup = Setup { store, service };
    let record = pending(&setup).await;
    let one = setup
        .service
        .decide(
            &record.approval_id,
            &by(ApprovalState::Approved, "", Some(verified("u1", &["IAM"]))),
        )
        .await
        .unwrap();
    assert_eq!(one.state, ApprovalState::Pending);
    let mut forged = one.clone();
    let mut second: Review = forged.reviews[0].clone();
    second.actor = "invented".into();
    forged.reviews.push(second);
    forged.state = ApprovalState::Approved;
    tamper(&setup, &forged).await;
    let reason = refusal(&setup, &record.approval_id).await;
    assert!(reason.contains("disagrees with the history"), "{reason}");
}

#[tokio::test]
async fn require_verified_refuses_an_unverified_decider_and_accepts_a_verified_one() {
    let setup = setup(Some(KEY_A));
    let record = approved(&setup).await;
    let options = CheckOptions {
        require_verified: true,
        ..CheckOptions::default()
    };
    let report = setup
        .service
        .check_with(&record.approval_id, &iam(), options)
        .await
        .unwrap();
    assert!(!report.allowed);
    assert!(
        report
            .reason
            .as_deref()
            .unwrap()
            .contains("a deciding review is not verified: alice (unverified)"),
        "{report:?}"
    );

    let other = self::setup(Some(KEY_A));
    let record = pending(&other).await;
    other
        .service
        .decide(
            &record.approval_id,
            &by(ApprovalState::Approved, "", Some(verified("u1", &["IAM"]))),
        )
        .await
        .unwrap();
    let report = other
        .service
        .check_with(&record.approval_id, &iam(), options)
        .await
        .unwrap();
    assert!(report.allowed, "{report:?}");
    assert_eq!(report.deciding[0].identity, IdentityKind::Oidc);
}

#[tokio::test]
async fn a_break_glass_record_verifies_and_its_review_flag_cannot_be_cleared_by_hand() {
    let setup = setup(Some(KEY_A));
    let record = setup
        .service
        .break_glass(BreakGlassInput {
            decision: iam(),
            actor: "oncall".into(),
            reason: "incident 42".into(),
            approver_group: None,
            external_ref: None,
            ttl_hours: None,
            context: None,
        })
        .await
        .unwrap();
    let verification = setup
        .service
        .verify_history(&record.approval_id)
        .await
        .unwrap();
    assert!(verification.ok(), "{verification:?}");
    let without_key = service_over(&setup.store, None);
    let mut edited = record.clone();
    edited.review_required = Some(false);
    edited.chain_mac = None;
    tamper(&setup, &edited).await;
    let verification = without_key
        .verify_history(&record.approval_id)
        .await
        .unwrap();
    assert!(
        verification
            .disagreements
            .iter()
            .any(|d| d.starts_with("review_required disagrees")),
        "{verification:?}"
    );
}

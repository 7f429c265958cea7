//! Issue E §2–§4 and §6 through the service: routing is authoritative, one human counts once
//! whatever claims a token carries, quorum rules count only verified identities, nobody acts
//! as `system`, and lifetimes are bounded. Each `regression_*` test pins one finding of the
//! issue; they failed on the code before it.

use std::sync::Arc;

use cavra_core::approval::{ApprovalState, IdentityKind};
use cavra_core::decision::Decision;
use cavra_core::error::{ApprovalError, ErrorKind};
use cavra_core::identity::ActorContext;
use cavra_core::ids::SequentialIds;
use cavra_core::memory::MemoryStore;
use cavra_core::routing::RoutingTable;
use cavra_core::service::ApprovalService;
use cavra_core::store::ListQuery;
use cavra_core::time::{ManualClock, Timestamp};
use cavra_core::workflow::{BreakGlassInput, DecideInput, Limits, NewRequest};
use proptest::prelude::*;
use serde_json::{Value, json};

const ISSUER: &str = "https://login.example";

fn service() -> ApprovalService {
    let clock = Arc::new(ManualClock::new(
        "2026-05-18T12:00:00+00:00".parse::<Timestamp>().unwrap(),
    ));
    ApprovalService::new(
        Arc::new(MemoryStore::new()),
        clock,
        Arc::new(SequentialIds::default()),
    )
}

fn decision(id: &str, rule_id: &str, target: &str, outcome: &str) -> Decision {
    Decision::from_value(json!({
        "decision_id": id, "action_type": "write_file", "target": target,
        "rule_id": rule_id, "decision": outcome, "severity": "high",
        "reason": "r", "approver_group": "Platform Security",
    }))
    .unwrap()
}

fn iam(id: &str) -> Decision {
    decision(
        id,
        "filesystem.write.require_approval",
        "iam/admin-role.tf",
        "require_approval",
    )
}

/// A verified token's context built from its claims, as the API builds it.
fn token(claims: Value) -> ActorContext {
    let mut claims = claims.as_object().unwrap().clone();
    claims.entry("iss").or_insert(json!(ISSUER));
    ActorContext::from_claims(&claims, None, IdentityKind::Oidc)
}

fn by(target: ApprovalState, ctx: Option<ActorContext>, actor: &str) -> DecideInput {
    DecideInput {
        target,
        actor: actor.to_owned(),
        reason: "looked at it".to_owned(),
        external_ref: None,
        context: ctx,
    }
}

async fn create_as(
    service: &ApprovalService,
    decision: Decision,
    requester: ActorContext,
) -> String {
    service
        .create(NewRequest {
            rationale: None,
            requester: Some(requester),
            ..NewRequest::new(decision)
        })
        .await
        .unwrap()
        .approval
        .approval_id
}

fn quorum_service(rule: Value) -> ApprovalService {
    service().with_routing(RoutingTable::from_value(&json!([rule])).unwrap())
}

#[tokio::test]
async fn regression_the_requester_cannot_choose_its_approvers() {
    let service = service();
    for (i, group) in ["Developers", "Platform Security", "IAM "]
        .iter()
        .enumerate()
    {
        let record = service
            .create(NewRequest {
                rationale: None,
                approver_group: Some((*group).to_owned()),
                requested_by: Some("agent".into()),
                ..NewRequest::new(iam(&format!("dec_{i}")))
            })
            .await
            .unwrap()
            .approval;
        assert_eq!(record.approver_group, "IAM", "{group}");
        if group.trim() == "IAM" {
            assert!(
                record.required_groups.is_empty(),
                "the same group adds nothing"
            );
        } else {
            assert_eq!(record.required_groups, vec![(*group).to_owned()]);
        }
    }
}

#[tokio::test]
async fn a_developer_outside_iam_cannot_approve_an_iam_change_routed_with_their_group() {
    let service = service();
    let id = service
        .create(NewRequest {
            rationale: None,
            approver_group: Some("Developers".into()),
            requester: Some(token(
                json!({"sub": "agent-1", "email": "agent@example.com"}),
            )),
            ..NewRequest::new(iam("dec_1"))
        })
        .await;
    // Verified callers may only name groups the configuration knows.
    let err = id.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unprocessable);
    assert_eq!(err.to_string(), "unknown approver group: Developers");
    let id = create_as(&service, iam("dec_2"), token(json!({"sub": "agent-1"}))).await;
    let dev = token(json!({"sub": "dev-7", "email": "dev@example.com", "groups": ["Developers"]}));
    assert!(matches!(
        service
            .decide(&id, &by(ApprovalState::Approved, Some(dev), ""))
            .await
            .unwrap_err(),
        ApprovalError::NotAuthorized { .. }
    ));
}

#[tokio::test]
async fn regression_a_cyrillic_look_alike_group_is_refused() {
    let service = service();
    for (i, group) in ["ІАМ", "IАM", "I\u{200B}AM"].iter().enumerate() {
        let err = service
            .create(NewRequest {
                rationale: None,
                approver_group: Some((*group).to_owned()),
                ..NewRequest::new(iam(&format!("dec_{i}")))
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unprocessable, "{group:?}: {err}");
    }
    assert!(
        service
            .list(&ListQuery::new(None, None, None, None))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn a_rule_may_let_the_requester_choose_and_full_width_names_are_the_same_group() {
    let service = quorum_service(
        json!({"rule_id_prefix": "filesystem.write", "approver_group": "IAM", "allow_requester_group": true}),
    );
    let record = service
        .create(NewRequest {
            rationale: None,
            approver_group: Some("Platform Security".into()),
            ..NewRequest::new(iam("dec_1"))
        })
        .await
        .unwrap()
        .approval;
    assert_eq!(record.approver_group, "Platform Security");
    let plain = self::service();
    let id = create_as(&plain, iam("dec_3"), token(json!({"sub": "agent"}))).await;
    let wide = token(json!({"sub": "iam-1", "groups": ["ＩＡＭ"]}));
    assert_eq!(
        plain
            .decide(&id, &by(ApprovalState::Approved, Some(wide), ""))
            .await
            .unwrap()
            .state,
        ApprovalState::Approved
    );
}

#[tokio::test]
async fn regression_a_blocked_decision_gets_its_routed_group() {
    let service = service();
    for (i, (rule, target, group)) in [
        ("commands.block", "kubectl delete ns prod", "Cloud Security"),
        (
            "commands.block",
            "git push origin main",
            "Repository Owners",
        ),
        (
            "filesystem.write.block",
            ".github/workflows/ci.yml",
            "Platform Security",
        ),
        ("filesystem.read.block", ".env", "Platform Security"),
    ]
    .iter()
    .enumerate()
    {
        let mut d = decision(&format!("dec_{i}"), rule, target, "block");
        d.as_map_mut().insert("approver_group".into(), Value::Null);
        let record = service.create(NewRequest::new(d)).await.unwrap().approval;
        assert_eq!(record.approver_group, *group, "{rule} {target}");
    }
}

#[tokio::test]
async fn regression_a_second_token_without_email_cannot_approve_its_own_request() {
    let service = service();
    let id = create_as(
        &service,
        iam("dec_1"),
        token(json!({"sub": "u-42", "email": "dev@example.com", "groups": ["IAM"]})),
    )
    .await;
    let record = service.get(&id).await.unwrap();
    let who = record.requested_by_identity.expect("recorded");
    assert_eq!(who.identity, IdentityKind::Oidc);
    assert_eq!(who.person.subject.as_deref(), Some("u-42"));
    assert_eq!(who.person.email.as_deref(), Some("dev@example.com"));
    for claims in [
        json!({"sub": "u-42", "preferred_username": "other-name", "groups": ["IAM"]}),
        json!({"sub": "u-42", "groups": ["IAM"]}),
        json!({"sub": "another-sub", "email": "dev@example.com ", "groups": ["IAM"]}),
        json!({"sub": "another-sub", "email": " DEV@Example.COM", "groups": ["IAM"]}),
        json!({"sub": "agent-bot", "act": {"sub": "u-42"}, "groups": ["IAM"]}),
    ] {
        let err = service
            .decide(
                &id,
                &by(ApprovalState::Approved, Some(token(claims.clone())), ""),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, ApprovalError::SelfApproval),
            "{claims}: {err}"
        );
    }
    assert_eq!(
        service.get(&id).await.unwrap().state,
        ApprovalState::Pending
    );
}

#[tokio::test]
async fn a_delegated_request_cannot_be_approved_by_the_human_behind_it() {
    let service = service();
    // The agent's token says it acts for u-42 (RFC 8693 act).
    let id = create_as(
        &service,
        iam("dec_1"),
        token(json!({"sub": "agent-bot", "act": {"sub": "u-42"}})),
    )
    .await;
    let human = token(json!({"sub": "u-42", "email": "h@example.com", "groups": ["IAM"]}));
    assert!(matches!(
        service
            .decide(&id, &by(ApprovalState::Approved, Some(human), ""))
            .await
            .unwrap_err(),
        ApprovalError::SelfApproval
    ));
}

#[tokio::test]
async fn regression_one_subject_with_two_tokens_counts_once_toward_a_quorum() {
    let service = quorum_service(
        json!({"rule_id_prefix": "filesystem.write", "approver_group": "IAM", "required_approvals": 2}),
    );
    let id = create_as(&service, iam("dec_q"), token(json!({"sub": "agent"}))).await;
    let first = token(json!({"sub": "u-1", "email": "a@example.com", "groups": ["IAM"]}));
    service
        .decide(&id, &by(ApprovalState::Approved, Some(first), ""))
        .await
        .unwrap();
    for claims in [
        json!({"sub": "u-1", "groups": ["IAM"]}),
        json!({"sub": "u-1", "preferred_username": "alias", "groups": ["IAM"]}),
        json!({"sub": "u-9", "email": "A@example.com ", "groups": ["IAM"]}),
    ] {
        let err = service
            .decide(
                &id,
                &by(ApprovalState::Approved, Some(token(claims.clone())), ""),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, ApprovalError::AlreadyReviewed),
            "{claims}: {err}"
        );
    }
    let other = token(json!({"sub": "u-2", "email": "b@example.com", "groups": ["IAM"]}));
    let done = service
        .decide(&id, &by(ApprovalState::Approved, Some(other), ""))
        .await
        .unwrap();
    assert_eq!(done.state, ApprovalState::Approved);
    assert_eq!(done.reviews[1].person.subject.as_deref(), Some("u-2"));
}

#[tokio::test]
async fn regression_invented_names_do_not_meet_a_quorum() {
    let service = quorum_service(
        json!({"rule_id_prefix": "filesystem.write", "approver_group": "IAM", "required_approvals": 2}),
    );
    let id = service
        .create(NewRequest {
            rationale: None,
            requested_by: Some("agent".into()),
            ..NewRequest::new(iam("dec_q"))
        })
        .await
        .unwrap()
        .approval
        .approval_id;
    for name in ["alice", "bob"] {
        let err = service
            .decide(&id, &by(ApprovalState::Approved, None, name))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "quorum rules need verified identities");
        assert_eq!(err.kind(), ErrorKind::Forbidden);
    }
    // Unverified claims count no more than a bare name.
    let claims = ActorContext::from_claims(
        json!({"email": "c@example.com", "groups": ["IAM"]})
            .as_object()
            .unwrap(),
        None,
        IdentityKind::Unverified,
    );
    assert!(matches!(
        service
            .decide(&id, &by(ApprovalState::Approved, Some(claims), "c"))
            .await
            .unwrap_err(),
        ApprovalError::QuorumNeedsVerified
    ));
    let record = service.get(&id).await.unwrap();
    assert_eq!(record.state, ApprovalState::Pending);
    assert!(record.reviews.is_empty());
}

#[tokio::test]
async fn required_groups_also_need_verified_identities() {
    let service = quorum_service(
        json!({"rule_id_prefix": "filesystem.write", "approver_group": "IAM", "required_groups": ["IAM"]}),
    );
    let id = service
        .create(NewRequest::new(iam("dec_q")))
        .await
        .unwrap()
        .approval
        .approval_id;
    assert!(matches!(
        service
            .decide(&id, &by(ApprovalState::Approved, None, "alice"))
            .await
            .unwrap_err(),
        ApprovalError::QuorumNeedsVerified
    ));
}

#[tokio::test]
async fn regression_nobody_acts_or_requests_as_system() {
    let service = service();
    for (i, name) in ["system", "SYSTEM", "System ", "ｓｙｓｔｅｍ", "ѕуѕtem"]
        .iter()
        .enumerate()
    {
        let err = service
            .create(NewRequest {
                rationale: None,
                requested_by: Some((*name).to_owned()),
                ..NewRequest::new(iam(&format!("dec_{i}")))
            })
            .await
            .unwrap_err();
        assert!(
            matches!(err, ApprovalError::ReservedActor(_)),
            "{name:?}: {err}"
        );
        let err = service
            .break_glass(BreakGlassInput {
                decision: iam(&format!("dec_bg_{i}")),
                actor: (*name).to_owned(),
                reason: "outage".into(),
                approver_group: None,
                external_ref: None,
                ttl_hours: None,
                context: None,
            })
            .await
            .unwrap_err();
        assert!(
            matches!(err, ApprovalError::ReservedActor(_)),
            "{name:?}: {err}"
        );
    }
    let verified_as_system = token(json!({"sub": "s", "email": "system", "groups": ["IAM"]}));
    let id = create_as(&service, iam("dec_x"), token(json!({"sub": "agent"}))).await;
    assert!(matches!(
        service
            .decide(
                &id,
                &by(ApprovalState::Expired, Some(verified_as_system), "")
            )
            .await
            .unwrap_err(),
        ApprovalError::ReservedActor(_)
    ));
}

#[tokio::test]
async fn regression_huge_ttls_are_refused_with_a_clear_error_and_nothing_stored() {
    let service = service();
    for (i, hours) in [721, 70_000_000, 2_400_000_000, i64::MAX]
        .iter()
        .enumerate()
    {
        let err = service
            .create(NewRequest {
                rationale: None,
                ttl_hours: Some(*hours),
                ..NewRequest::new(iam(&format!("dec_{i}")))
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unprocessable);
        assert_eq!(
            err.to_string(),
            format!("ttl_hours must be at most 720 (got {hours})")
        );
    }
    let ok = service
        .create(NewRequest {
            rationale: None,
            ttl_hours: Some(720),
            ..NewRequest::new(iam("dec_ok"))
        })
        .await
        .unwrap()
        .approval;
    assert_eq!(ok.expires_at, ok.requested_at.plus_hours(720));
    assert_eq!(
        service
            .list(&ListQuery::new(None, None, None, None))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

#[tokio::test]
async fn regression_break_glass_lifetimes_are_bounded() {
    let service = service();
    let bg = |hours| BreakGlassInput {
        decision: iam("dec_bg"),
        actor: "incident-commander".into(),
        reason: "Production recovery".into(),
        approver_group: None,
        external_ref: None,
        ttl_hours: Some(hours),
        context: None,
    };
    let err = service.break_glass(bg(24 * 365 * 100)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "break-glass ttl_hours must be at most 24 (got 876000)"
    );
    assert!(service.break_glass(bg(i64::MAX)).await.is_err());
    let record = service.break_glass(bg(24)).await.unwrap();
    assert_eq!(record.expires_at, record.requested_at.plus_hours(24));
    let strict = service.clone().with_limits(Limits {
        max_ttl_hours: 2,
        max_break_glass_ttl_hours: 1,
    });
    assert!(strict.break_glass(bg(2)).await.is_err());
    assert!(
        strict
            .create(NewRequest {
                rationale: None,
                ttl_hours: Some(3),
                ..NewRequest::new(iam("dec_s"))
            })
            .await
            .is_err()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever spelling of the requester's email a second token carries, or however its
    /// other claims differ, the same person never approves their own request.
    #[test]
    fn one_person_never_approves_their_own_request(
        pad_left in "[ \t]{0,2}", pad_right in "[ \t]{0,2}",
        upper in proptest::collection::vec(any::<bool>(), 15),
        username in proptest::option::of("[a-z]{1,8}"),
        same_sub in any::<bool>(),
    ) {
        let email: String = "dev@example.com".chars().zip(upper.iter().cycle())
            .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c })
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let service = service();
            let id = create_as(&service, iam("dec_p"),
                token(json!({"sub": "u-1", "email": "dev@example.com"}))).await;
            let mut claims = json!({
                "sub": if same_sub { "u-1" } else { "u-2" },
                "email": format!("{pad_left}{email}{pad_right}"),
                "groups": ["IAM"],
            });
            if let Some(name) = &username {
                claims["preferred_username"] = json!(name);
            }
            let err = service
                .decide(&id, &by(ApprovalState::Approved, Some(token(claims)), ""))
                .await
                .unwrap_err();
            assert!(matches!(err, ApprovalError::SelfApproval), "{err}");
        });
    }
}

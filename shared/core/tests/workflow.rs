//! The approval workflow through the service on the in-memory store: the original's behaviours
//! (§13 cases 1–4, 9, 15, 16) and the contract's (§1–§6).

use std::sync::Arc;

use cavra_core::approval::{ApprovalState, IdentityKind};
use cavra_core::decision::Decision;
use cavra_core::error::ErrorKind;
use cavra_core::history;
use cavra_core::identity::ActorContext;
use cavra_core::ids::SequentialIds;
use cavra_core::memory::MemoryStore;
use cavra_core::rbac::RbacPolicy;
use cavra_core::routing::RoutingTable;
use cavra_core::service::ApprovalService;
use cavra_core::store::ListQuery;
use cavra_core::time::{ManualClock, Timestamp};
use cavra_core::workflow::{BreakGlassInput, DecideInput, NewRequest};
use serde_json::json;

struct World {
    service: ApprovalService,
    clock: Arc<ManualClock>,
}

fn world() -> World {
    let clock = Arc::new(ManualClock::new(
        "2026-05-18T12:00:00+00:00".parse::<Timestamp>().unwrap(),
    ));
    let service = ApprovalService::new(
        Arc::new(MemoryStore::new()),
        clock.clone(),
        Arc::new(SequentialIds::default()),
    );
    World { service, clock }
}

fn iam_decision(id: &str) -> Decision {
    Decision::from_value(json!({
        "decision_id": id, "session_id": "local", "agent_id": "unknown-agent", "actor": "ai-agent",
        "action_type": "write_file", "target": "iam/admin-role.tf", "requested_operation": "write",
        "policy_pack": "cavra-ai-agent-baseline", "policy_id": "cavra-ai-agent-baseline",
        "rule_id": "filesystem.write.require_approval", "decision": "require_approval", "severity": "high",
        "reason": "Matched approval-required path policy: iam/**", "evidence_refs": [format!("evidence://local/{id}")],
        "approver_group": "Platform Security", "timestamp": "2026-05-18T12:00:00.000000+00:00", "correlation_id": "corr_8b2d0e6a1f47"
    }))
    .unwrap()
}

fn terraform_block(id: &str) -> Decision {
    Decision::from_value(json!({
        "decision_id": id, "action_type": "execute_command", "target": "terraform apply -auto-approve",
        "rule_id": "commands.block", "decision": "block", "severity": "critical", "reason": "blocked"
    }))
    .unwrap()
}

fn request_by(decision: Decision, who: &str) -> NewRequest {
    NewRequest {
        rationale: None,
        requested_by: Some(who.to_owned()),
        ..NewRequest::new(decision)
    }
}

fn decide(target: ApprovalState, actor: &str, reason: &str) -> DecideInput {
    DecideInput {
        target,
        actor: actor.to_owned(),
        reason: reason.to_owned(),
        external_ref: None,
        context: None,
    }
}

fn claims(groups: &[&str], email: &str) -> ActorContext {
    let claims = json!({"email": email, "groups": groups});
    ActorContext::from_claims(claims.as_object().unwrap(), None, IdentityKind::Unverified)
}

fn verified(groups: &[&str], email: &str) -> ActorContext {
    let mut ctx = claims(groups, email);
    ctx.identity = IdentityKind::Oidc;
    ctx.issuer = Some("https://login.example".into());
    ctx.subject = Some(format!("sub-{email}"));
    ctx
}

#[tokio::test]
async fn case_1_create_then_approve_with_external_ref_lists_one_approved() {
    let w = world();
    let created = w
        .service
        .create(request_by(iam_decision("dec_1"), "developer"))
        .await
        .unwrap();
    assert!(created.created);
    let record = created.approval;
    assert_eq!(record.state, ApprovalState::Pending);
    assert_eq!(record.approver_group, "IAM");
    assert_eq!(record.history.len(), 1);
    assert_eq!(
        record.evidence_refs,
        vec![
            format!("approval://{}", record.approval_id),
            "evidence://local/dec_1".to_owned()
        ]
    );
    assert_eq!(record.expires_at, record.requested_at.plus_hours(24));

    let mut input = decide(
        ApprovalState::Approved,
        "platform-security",
        "Scoped IAM change reviewed",
    );
    input.external_ref = Some("CHG-100".into());
    let approved = w.service.decide(&record.approval_id, &input).await.unwrap();
    assert_eq!(approved.state, ApprovalState::Approved);
    assert_eq!(approved.decided_by.as_deref(), Some("platform-security"));
    assert_eq!(approved.external_ref.as_deref(), Some("CHG-100"));
    assert_eq!(approved.history[1].event, "approved");
    assert_eq!(approved.history[1].identity, Some(IdentityKind::Unverified));

    let page = w
        .service
        .list(&ListQuery::new(
            Some(ApprovalState::Approved),
            None,
            None,
            None,
        ))
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert!(history::verify(&approved.history).valid);
}

#[tokio::test]
async fn case_2_an_empty_reason_is_refused() {
    let w = world();
    let id = w
        .service
        .create(request_by(iam_decision("dec_1"), "developer"))
        .await
        .unwrap()
        .approval
        .approval_id;
    let err = w
        .service
        .decide(&id, &decide(ApprovalState::Approved, "iam", "  "))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "reason is required");
}

#[tokio::test]
async fn case_3_a_denied_request_cannot_be_approved() {
    let w = world();
    let id = w
        .service
        .create(request_by(iam_decision("dec_1"), "developer"))
        .await
        .unwrap()
        .approval
        .approval_id;
    w.service
        .decide(&id, &decide(ApprovalState::Denied, "cab", "too broad"))
        .await
        .unwrap();
    let err = w
        .service
        .decide(&id, &decide(ApprovalState::Approved, "iam", "ok"))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "only pending approvals can be changed");
    assert_eq!(err.kind(), ErrorKind::Conflict);
}

#[tokio::test]
async fn case_4_break_glass_is_one_step_with_three_history_entries() {
    let w = world();
    let record = w
        .service
        .break_glass(BreakGlassInput {
            decision: terraform_block("dec_bg"),
            actor: "incident-commander".into(),
            reason: "Production recovery".into(),
            approver_group: None,
            external_ref: Some("INC-777".into()),
            ttl_hours: None,
            context: None,
        })
        .await
        .unwrap();
    assert_eq!(record.state, ApprovalState::BreakGlass);
    assert_eq!(record.break_glass, Some(true));
    assert_eq!(
        record.break_glass_reason.as_deref(),
        Some("Production recovery")
    );
    assert_eq!(record.external_ref.as_deref(), Some("INC-777"));
    assert_eq!(record.approver_group, "Change Advisory Board");
    assert_eq!(record.review_required, Some(true));
    let events: Vec<&str> = record.history.iter().map(|h| h.event.as_str()).collect();
    assert_eq!(events, ["requested", "approved", "break_glass"]);
    assert_eq!(record.expires_at, record.requested_at.plus_hours(4));
    assert!(history::verify(&record.history).valid);
}

#[tokio::test]
async fn break_glass_checks_actor_then_reason_then_decision_then_outcome() {
    let w = world();
    let input = |actor: &str, reason: &str, decision: Decision| BreakGlassInput {
        decision,
        actor: actor.into(),
        reason: reason.into(),
        approver_group: None,
        external_ref: None,
        ttl_hours: None,
        context: None,
    };
    let no_id = Decision::from_value(json!({"decision": "block"})).unwrap();
    let allow = Decision::from_value(json!({"decision_id": "d", "decision": "allow"})).unwrap();
    assert_eq!(
        w.service
            .break_glass(input("", "", no_id.clone()))
            .await
            .unwrap_err()
            .to_string(),
        "actor is required"
    );
    assert_eq!(
        w.service
            .break_glass(input("ic", "", no_id.clone()))
            .await
            .unwrap_err()
            .to_string(),
        "break-glass reason is required"
    );
    assert_eq!(
        w.service
            .break_glass(input("ic", "r", no_id))
            .await
            .unwrap_err()
            .to_string(),
        "decision must include decision_id"
    );
    assert_eq!(
        w.service
            .break_glass(input("ic", "r", allow))
            .await
            .unwrap_err()
            .to_string(),
        "break-glass requires a block or require_approval decision, not allow"
    );
}

#[tokio::test]
async fn verified_break_glass_needs_the_change_advisory_board_and_the_group() {
    let w = world();
    let input = |ctx: ActorContext| BreakGlassInput {
        decision: terraform_block("dec_bg"),
        actor: String::new(),
        reason: "outage".into(),
        approver_group: None,
        external_ref: None,
        ttl_hours: None,
        context: Some(ctx),
    };
    let err = w
        .service
        .break_glass(input(verified(&["IAM"], "iam@example.com")))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "actor is not authorized for break-glass");
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    let record = w
        .service
        .break_glass(input(verified(
            &["Change Advisory Board"],
            "cab@example.com",
        )))
        .await
        .unwrap();
    assert_eq!(record.requested_by, "cab@example.com");
    assert_eq!(record.history[2].identity, Some(IdentityKind::Oidc));
    assert_eq!(
        record.history[2].issuer.as_deref(),
        Some("https://login.example")
    );
}

#[tokio::test]
async fn post_incident_review_clears_the_flag_only_for_another_cab_member() {
    let w = world();
    let record = w
        .service
        .break_glass(BreakGlassInput {
            decision: terraform_block("dec_bg"),
            actor: "ic".into(),
            reason: "outage".into(),
            approver_group: None,
            external_ref: None,
            ttl_hours: None,
            context: None,
        })
        .await
        .unwrap();
    let id = record.approval_id;
    let err = w
        .service
        .review_break_glass(
            &id,
            "",
            "looked",
            Some(&verified(&["IAM"], "x@example.com")),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "actor is not authorized to review break-glass"
    );
    let err = w
        .service
        .review_break_glass(&id, "ic", "self", None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "break-glass actor cannot review their own override"
    );
    let reviewed = w
        .service
        .review_break_glass(
            &id,
            "",
            "root cause fixed",
            Some(&verified(&["Change Advisory Board"], "cab@example.com")),
        )
        .await
        .unwrap();
    assert_eq!(reviewed.review_required, Some(false));
    assert_eq!(
        reviewed.history.last().unwrap().event,
        "post_incident_review"
    );
    assert!(history::verify(&reviewed.history).valid);
    let err = w
        .service
        .review_break_glass(
            &id,
            "",
            "again",
            Some(&verified(&["Change Advisory Board"], "cab2@example.com")),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
}

#[tokio::test]
async fn case_9_and_15_claims_authorise_by_group() {
    let w = world();
    let id = w
        .service
        .create(request_by(iam_decision("dec_1"), "developer"))
        .await
        .unwrap()
        .approval
        .approval_id;
    let mut input = decide(ApprovalState::Approved, "dev@example.com", "lgtm");
    input.context = Some(claims(&["Developers"], "dev@example.com"));
    let err = w.service.decide(&id, &input).await.unwrap_err();
    assert!(err.to_string().contains("not authorized"));
    assert_eq!(err.kind(), ErrorKind::Forbidden);

    let mut input = decide(
        ApprovalState::Approved,
        "iam@example.com",
        "Scoped IAM change reviewed",
    );
    input.context = Some(claims(&["IAM"], "iam@example.com"));
    let approved = w.service.decide(&id, &input).await.unwrap();
    assert_eq!(approved.state, ApprovalState::Approved);
    assert_eq!(approved.history[1].identity, Some(IdentityKind::Unverified));
}

#[tokio::test]
async fn claims_without_an_actor_flag_are_refused_but_a_verified_actor_is_recorded() {
    let w = world();
    let id = w
        .service
        .create(request_by(iam_decision("dec_1"), "developer"))
        .await
        .unwrap()
        .approval
        .approval_id;
    let mut input = decide(ApprovalState::Approved, "", "ok");
    input.context = Some(claims(&["IAM"], "iam@example.com"));
    assert_eq!(
        w.service.decide(&id, &input).await.unwrap_err().to_string(),
        "actor is required"
    );
    input.context = Some(verified(&["IAM"], "iam@example.com"));
    input.actor = "someone-else".into();
    let approved = w.service.decide(&id, &input).await.unwrap();
    assert_eq!(approved.decided_by.as_deref(), Some("iam@example.com"));
    assert_eq!(
        approved.history[1].subject.as_deref(),
        Some("sub-iam@example.com")
    );
}

#[tokio::test]
async fn rbac_repository_comes_from_the_stored_request() {
    let w = world();
    let rbac = RbacPolicy::from_value(&json!({"approval_rbac": {
        "group_mappings": {"github-team:payments-owners": "Payments Owners"},
        "repository_permissions": [{"repository": "payments/api", "approver_group": "IAM", "groups": ["Payments Owners"], "actions": ["approved", "denied"]}]
    }})).unwrap();
    let service = w.service.clone().with_rbac(Some(rbac.clone()));
    let mut decision = iam_decision("dec_pay");
    decision
        .as_map_mut()
        .insert("repository".into(), json!("payments/api"));
    let id = service
        .create(request_by(decision, "developer"))
        .await
        .unwrap()
        .approval
        .approval_id;
    let other = service
        .create(request_by(iam_decision("dec_other"), "developer"))
        .await
        .unwrap()
        .approval
        .approval_id;
    let claims = json!({"email": "owner@example.com", "groups": ["github-team:payments-owners"]});
    let mut ctx =
        ActorContext::from_claims(claims.as_object().unwrap(), Some(&rbac), IdentityKind::Oidc);
    ctx.repository = Some("payments/api".into());
    let input = DecideInput {
        context: Some(ctx),
        ..decide(ApprovalState::Approved, "", "ok")
    };
    assert_eq!(
        service.decide(&id, &input).await.unwrap().state,
        ApprovalState::Approved
    );
    // The actor's own repository claim does not widen the grant to another request.
    assert_eq!(
        service
            .decide(&other, &input)
            .await
            .unwrap_err()
            .to_string(),
        "actor is not authorized for approval group"
    );
}

#[tokio::test]
async fn the_requester_cannot_approve_unless_the_rule_allows_it() {
    let w = world();
    let id = w
        .service
        .create(request_by(iam_decision("dec_1"), "developer"))
        .await
        .unwrap()
        .approval
        .approval_id;
    let err = w
        .service
        .decide(&id, &decide(ApprovalState::Approved, "Developer", "mine"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "requester cannot approve their own request"
    );
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    // Denying your own request is allowed (a withdrawal).
    assert_eq!(
        w.service
            .decide(
                &id,
                &decide(ApprovalState::Denied, "developer", "not needed")
            )
            .await
            .unwrap()
            .state,
        ApprovalState::Denied
    );

    let routing = RoutingTable::from_value(&json!([{"rule_id_prefix": "filesystem.write", "approver_group": "IAM", "allow_self_approval": true}])).unwrap();
    let service = w.service.clone().with_routing(routing);
    let id = service
        .create(request_by(iam_decision("dec_2"), "developer"))
        .await
        .unwrap()
        .approval
        .approval_id;
    assert_eq!(
        service
            .decide(&id, &decide(ApprovalState::Approved, "developer", "mine"))
            .await
            .unwrap()
            .state,
        ApprovalState::Approved
    );
}

#[tokio::test]
async fn quorum_needs_n_distinct_approvers_and_every_required_group() {
    let w = world();
    let routing = RoutingTable::from_value(
        &json!([{"rule_id_prefix": "filesystem.write", "approver_group": "IAM",
        "required_approvals": 2, "required_groups": ["IAM", "Platform Security"]}]),
    )
    .unwrap();
    let service = w.service.clone().with_routing(routing);
    let record = service
        .create(request_by(iam_decision("dec_q"), "developer"))
        .await
        .unwrap()
        .approval;
    assert_eq!(record.required_approvals, 2);
    let id = record.approval_id;
    let vote = |groups: &[&str], email: &str| DecideInput {
        context: Some(verified(groups, email)),
        ..decide(ApprovalState::Approved, "", "ok")
    };

    let first = service
        .decide(&id, &vote(&["IAM"], "a@example.com"))
        .await
        .unwrap();
    assert_eq!(first.state, ApprovalState::Pending);
    assert_eq!(first.history.last().unwrap().event, "approval_recorded");
    assert_eq!(
        service
            .decide(&id, &vote(&["IAM"], "A@example.com"))
            .await
            .unwrap_err()
            .to_string(),
        "actor has already reviewed this request"
    );
    let second = service
        .decide(&id, &vote(&["IAM"], "b@example.com"))
        .await
        .unwrap();
    assert_eq!(
        second.state,
        ApprovalState::Pending,
        "two IAM votes leave Platform Security missing"
    );
    let third = service
        .decide(&id, &vote(&["Platform Security"], "c@example.com"))
        .await
        .unwrap();
    assert_eq!(third.state, ApprovalState::Approved);
    assert_eq!(third.reviews.len(), 3);
    assert_eq!(third.decided_by.as_deref(), Some("c@example.com"));
    assert!(history::verify(&third.history).valid);
}

#[tokio::test]
async fn one_deny_denies_a_quorum_request() {
    let w = world();
    let routing =
        RoutingTable::from_value(&json!([{"approver_group": "IAM", "required_approvals": 3}]))
            .unwrap();
    let service = w.service.clone().with_routing(routing);
    let id = service
        .create(request_by(iam_decision("dec_q"), "developer"))
        .await
        .unwrap()
        .approval
        .approval_id;
    let by = |target, email: &str, reason: &str| DecideInput {
        context: Some(verified(&["IAM"], email)),
        ..decide(target, "", reason)
    };
    service
        .decide(&id, &by(ApprovalState::Approved, "a@example.com", "ok"))
        .await
        .unwrap();
    let denied = service
        .decide(&id, &by(ApprovalState::Denied, "b@example.com", "no"))
        .await
        .unwrap();
    assert_eq!(denied.state, ApprovalState::Denied);
}

#[tokio::test]
async fn a_decision_after_expiry_fails_and_expires_the_request_as_system() {
    let w = world();
    let id = w
        .service
        .create(NewRequest {
            rationale: None,
            ttl_hours: Some(1),
            ..request_by(iam_decision("dec_1"), "developer")
        })
        .await
        .unwrap()
        .approval
        .approval_id;
    w.clock.advance_hours(2);
    let err = w
        .service
        .decide(&id, &decide(ApprovalState::Approved, "iam", "late"))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "approval has expired");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    let record = w.service.get(&id).await.unwrap();
    assert_eq!(record.state, ApprovalState::Expired);
    assert_eq!(record.decided_by.as_deref(), Some("system"));
    assert!(history::verify(&record.history).valid);
}

#[tokio::test]
async fn zero_and_negative_ttls_become_one_hour() {
    let w = world();
    let record = w
        .service
        .create(NewRequest {
            rationale: None,
            ttl_hours: Some(-5),
            ..request_by(iam_decision("dec_1"), "developer")
        })
        .await
        .unwrap()
        .approval;
    assert_eq!(record.expires_at, record.requested_at.plus_hours(1));
}

#[tokio::test]
async fn sweep_expires_every_overdue_request_and_nothing_else() {
    let w = world();
    for i in 0..5 {
        w.service
            .create(NewRequest {
                rationale: None,
                ttl_hours: Some(1),
                ..request_by(iam_decision(&format!("dec_short_{i}")), "developer")
            })
            .await
            .unwrap();
    }
    let long = w
        .service
        .create(NewRequest {
            rationale: None,
            ttl_hours: Some(48),
            ..request_by(iam_decision("dec_long"), "developer")
        })
        .await
        .unwrap()
        .approval
        .approval_id;
    w.clock.advance_hours(2);
    let expired = w.service.sweep().await.unwrap().expired;
    assert_eq!(expired.len(), 5);
    assert!(expired.iter().all(|r| r.state == ApprovalState::Expired && r.decided_by.as_deref() == Some("system")));
    assert_eq!(
        w.service.get(&long).await.unwrap().state,
        ApprovalState::Pending
    );
    assert!(w.service.sweep().await.unwrap().is_empty());
}

#[tokio::test]
async fn regression_a_token_group_named_system_cannot_expire_and_nobody_acts_as_system() {
    let w = world();
    let id = w
        .service
        .create(request_by(iam_decision("dec_1"), "developer"))
        .await
        .unwrap()
        .approval
        .approval_id;
    let input = DecideInput {
        context: Some(verified(&["system"], "sweeper@example.com")),
        ..decide(ApprovalState::Expired, "system", "approval expired")
    };
    assert_eq!(
        w.service.decide(&id, &input).await.unwrap_err().to_string(),
        "actor is not authorized for approval group"
    );
    for spelling in ["system", "System", " SYSTEM ", "ｓｙｓｔｅｍ", "ѕуѕtem"] {
        let err = w
            .service
            .decide(
                &id,
                &decide(ApprovalState::Expired, spelling, "approval expired"),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unprocessable, "{spelling:?}");
        assert!(err.to_string().contains("reserved"), "{err}");
    }
    assert_eq!(
        w.service.get(&id).await.unwrap().state,
        ApprovalState::Pending
    );
}

#[tokio::test]
async fn creation_is_idempotent_per_open_decision() {
    let w = world();
    let first = w
        .service
        .create(request_by(iam_decision("dec_1"), "developer"))
        .await
        .unwrap();
    let again = w
        .service
        .create(request_by(iam_decision("dec_1"), "developer"))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.approval.approval_id, first.approval.approval_id);
    let mut changed = iam_decision("dec_1");
    changed
        .as_map_mut()
        .insert("target".into(), json!("iam/other.tf"));
    let err = w
        .service
        .create(request_by(changed, "developer"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    // Once decided, the same decision may be asked again.
    w.service
        .decide(
            &first.approval.approval_id,
            &decide(ApprovalState::Denied, "iam", "no"),
        )
        .await
        .unwrap();
    assert!(
        w.service
            .create(request_by(iam_decision("dec_1"), "developer"))
            .await
            .unwrap()
            .created
    );
}

#[tokio::test]
async fn outcomes_that_need_no_human_are_refused_and_unknown_ones_too() {
    let w = world();
    for outcome in ["allow", "allow_with_attestation", "warn", "audit_only"] {
        let d = Decision::from_value(
            json!({"decision_id": "d", "decision": outcome, "approver_group": "IAM"}),
        )
        .unwrap();
        let err = w.service.create(NewRequest::new(d)).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("decision does not require approval: {outcome}")
        );
        assert_eq!(err.kind(), ErrorKind::Invalid);
    }
    let d = Decision::from_value(
        json!({"decision_id": "d", "decision": "maybe", "approver_group": "IAM"}),
    )
    .unwrap();
    assert_eq!(
        w.service
            .create(NewRequest::new(d))
            .await
            .unwrap_err()
            .to_string(),
        "decision must be one of: allow, allow_with_attestation, audit_only, block, require_approval, warn"
    );
}

#[tokio::test]
async fn group_resolution_routing_first_a_caller_group_only_adds_then_decision_then_error() {
    let w = world();
    let explicit = NewRequest {
        rationale: None,
        approver_group: Some("AppSec".into()),
        ..NewRequest::new(iam_decision("d1"))
    };
    let record = w.service.create(explicit).await.unwrap().approval;
    assert_eq!(record.approver_group, "IAM", "routing is authoritative");
    assert_eq!(
        record.required_groups,
        vec!["AppSec"],
        "the caller's group is added"
    );
    let own = Decision::from_value(json!({"decision_id": "d2", "rule_id": "filesystem.write.require_approval", "target": "security/x", "approver_group": "Platform Security"})).unwrap();
    assert_eq!(
        w.service
            .create(NewRequest::new(own))
            .await
            .unwrap()
            .approval
            .approver_group,
        "Platform Security"
    );
    let none = Decision::from_value(json!({"decision_id": "d3", "target": "security/x"})).unwrap();
    let err = w
        .service
        .create(NewRequest::new(none.clone()))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("approval request must include approver_group")
            && err.contains("--approver-group"),
        "{err}"
    );
    let named = NewRequest {
        rationale: None,
        approver_group: Some("AppSec".into()),
        ..NewRequest::new(none)
    };
    assert_eq!(
        w.service
            .create(named)
            .await
            .unwrap()
            .approval
            .approver_group,
        "AppSec",
        "with no rule matching, the caller's group is the group"
    );
    let no_id = Decision::from_value(json!({"target": "x"})).unwrap();
    assert_eq!(
        w.service
            .create(NewRequest::new(no_id))
            .await
            .unwrap_err()
            .to_string(),
        "decision must include decision_id"
    );
}

#[tokio::test]
async fn check_allows_only_approved_unexpired_matching_decisions() {
    let w = world();
    let decision = iam_decision("dec_1");
    let id = w
        .service
        .create(request_by(decision.clone(), "developer"))
        .await
        .unwrap()
        .approval
        .approval_id;
    let pending = w.service.check(&id, &decision).await.unwrap();
    assert!(!pending.allowed);
    assert_eq!(
        pending.reason.as_deref(),
        Some("approval is pending, not approved")
    );
    w.service
        .decide(&id, &decide(ApprovalState::Approved, "iam", "ok"))
        .await
        .unwrap();
    assert!(w.service.check(&id, &decision).await.unwrap().allowed);
    let mut tampered = decision.clone();
    tampered
        .as_map_mut()
        .insert("target".into(), json!("iam/everything.tf"));
    let report = w.service.check(&id, &tampered).await.unwrap();
    assert!(!report.allowed && !report.digest_matches);
    // Issue F §2: an approval is usable for its grant's validity (one hour by default).
    w.clock.advance_hours(1);
    assert_eq!(
        w.service
            .check(&id, &decision)
            .await
            .unwrap()
            .reason
            .as_deref(),
        Some("approval grant has expired")
    );
}

#[tokio::test]
async fn attach_decision_adds_the_summary_and_refuses_another_decision() {
    let w = world();
    let decision = iam_decision("dec_1");
    let record = w
        .service
        .create(request_by(decision.clone(), "developer"))
        .await
        .unwrap()
        .approval;
    let attached = w
        .service
        .attach_decision(&record.approval_id, &decision)
        .await
        .unwrap();
    assert_eq!(
        attached.as_map()["approval"]["approval_id"],
        json!(record.approval_id)
    );
    assert_eq!(attached.as_map()["approval"]["break_glass"], json!(false));
    assert_eq!(
        attached.evidence_refs(),
        vec![
            "evidence://local/dec_1".to_owned(),
            format!("approval://{}", record.approval_id)
        ]
    );
    let err = w
        .service
        .attach_decision(&record.approval_id, &iam_decision("dec_2"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "decision does not match approval {}: decision_id differs",
            record.approval_id
        )
    );
}

#[tokio::test]
async fn unknown_ids_are_not_found_with_the_cli_message() {
    let w = world();
    let err = w
        .service
        .decide("apr_123", &decide(ApprovalState::Approved, "a", "b"))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "approval not found: apr_123");
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn every_mutation_keeps_the_history_chain_valid() {
    let w = world();
    let id = w
        .service
        .create(request_by(iam_decision("dec_1"), "developer"))
        .await
        .unwrap()
        .approval
        .approval_id;
    let record = w
        .service
        .record_delivery(&id, "system", &json!({"success": true}))
        .await
        .unwrap();
    assert_eq!(record.history.last().unwrap().event, "delivered");
    w.service
        .decide(
            &id,
            &decide(ApprovalState::Expired, "iam-admin", "approval expired"),
        )
        .await
        .unwrap();
    let report = w.service.verify_history(&id).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.chain.entries, 3);
}

/// The optimistic create (issue G §5) keeps the idempotency contract: a key returns its own
/// request, and a key reused for another decision is refused even when that decision already
/// has an open request (a store may report the open decision before the taken id).
#[tokio::test]
async fn an_idempotency_key_reused_for_another_decision_is_refused_even_when_that_one_is_open() {
    let w = world();
    let first = w
        .service
        .create_idempotent(NewRequest::new(iam_decision("dec_k1")), Some("key-1"))
        .await
        .unwrap();
    assert!(first.created);
    let again = w
        .service
        .create_idempotent(NewRequest::new(iam_decision("dec_k1")), Some("key-1"))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.approval.approval_id, first.approval.approval_id);

    let other = w
        .service
        .create(NewRequest::new(iam_decision("dec_k2")))
        .await
        .unwrap();
    assert!(other.created);
    for decision in ["dec_k2", "dec_k3"] {
        let reused = w
            .service
            .create_idempotent(NewRequest::new(iam_decision(decision)), Some("key-1"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                reused,
                cavra_core::error::ApprovalError::IdempotencyKeyReused
            ),
            "{decision}: {reused:?}"
        );
    }
}

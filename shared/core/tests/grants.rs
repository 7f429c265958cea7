//! Issue F §1–§2 through the service on the in-memory store: an approval binds the exact payload
//! and is a grant spent once, within its validity, by its requester; the stored grant is part of
//! the verified history.

use std::sync::Arc;

use cavra_core::action::{self, Payload, Presented};
use cavra_core::approval::{ApprovalState, IdentityKind};
use cavra_core::decision::Decision;
use cavra_core::error::{ApprovalError, ErrorKind};
use cavra_core::identity::ActorContext;
use cavra_core::ids::SequentialIds;
use cavra_core::memory::MemoryStore;
use cavra_core::policy::{ActionType, EvaluationContext, PolicyPack, evaluate};
use cavra_core::routing::RoutingTable;
use cavra_core::service::ApprovalService;
use cavra_core::store::ApprovalStore as _;
use cavra_core::time::{ManualClock, Timestamp};
use cavra_core::workflow::{BreakGlassInput, CheckOptions, ConsumeInput, DecideInput, NewRequest};
use serde_json::{Value, json};

struct World {
    service: ApprovalService,
    clock: Arc<ManualClock>,
    store: Arc<MemoryStore>,
}

fn world_with(routing: RoutingTable) -> World {
    let clock = Arc::new(ManualClock::new(
        "2026-05-18T12:00:00+00:00".parse::<Timestamp>().unwrap(),
    ));
    let store = Arc::new(MemoryStore::new());
    let service = ApprovalService::new(
        store.clone(),
        clock.clone(),
        Arc::new(SequentialIds::default()),
    )
    .with_routing(routing);
    World {
        service,
        clock,
        store,
    }
}

fn world() -> World {
    world_with(RoutingTable::default())
}

fn evaluated(action: ActionType, target: &str, payload: &Payload, id: &str) -> Decision {
    let ctx = EvaluationContext::new(
        id.to_owned(),
        "corr_000000000001".into(),
        "2026-05-18T12:00:00+00:00".parse().unwrap(),
    );
    action::bind(
        evaluate(&PolicyPack::baseline(), action, target, &ctx),
        payload,
    )
}

fn write_of(content: &str) -> Decision {
    evaluated(
        ActionType::WriteFile,
        "iam/admin-role.tf",
        &Payload {
            content: Some(content.as_bytes().to_vec()),
            ..Payload::default()
        },
        "dec_write00000001",
    )
}

fn approve(actor: &str) -> DecideInput {
    DecideInput {
        target: ApprovalState::Approved,
        actor: actor.to_owned(),
        reason: "reviewed".to_owned(),
        external_ref: None,
        context: None,
    }
}

fn consume_input(decision: &Decision, presented: Presented) -> ConsumeInput {
    ConsumeInput {
        decision: decision.clone(),
        presented,
        actor: "ai-agent".to_owned(),
        reason: None,
        context: None,
    }
}

async fn approved(w: &World, decision: &Decision) -> String {
    let id = w
        .service
        .create(NewRequest {
            rationale: None,
            requested_by: Some("developer".into()),
            ..NewRequest::new(decision.clone())
        })
        .await
        .unwrap()
        .approval
        .approval_id;
    w.service.decide(&id, &approve("iam-lead")).await.unwrap();
    id
}

async fn consume(w: &World, id: &str, input: &ConsumeInput) -> Result<Value, ApprovalError> {
    w.service
        .consume(id, input, CheckOptions::default())
        .await
        .map(|r| r.to_sorted_value())
}

#[tokio::test]
async fn content_a_is_used_once_and_content_b_never() {
    let w = world();
    let decision = write_of("resource \"aws_iam_role\" \"admin\" {}\n");
    assert_eq!(
        decision.as_map()["action"]["content_sha256"]
            .as_str()
            .map(str::len),
        Some(64)
    );
    let id = approved(&w, &decision).await;

    // GIVEN content B THEN refused, naming the content, and nothing is spent
    let b = Presented::of(
        Some(b"resource \"aws_iam_role\" \"admin\" { evil }\n"),
        None,
        None,
    );
    let err = consume(&w, &id, &consume_input(&decision, b))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(
        err.to_string().starts_with(
            "approval does not match the action: content differs from the approved content"
        ),
        "{err}"
    );
    // GIVEN no content at all THEN refused: a bound content must be presented
    let err = consume(&w, &id, &consume_input(&decision, Presented::default()))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("present it (--content FILE)"),
        "{err}"
    );
    assert_eq!(
        w.service.get(&id).await.unwrap().state,
        ApprovalState::Approved
    );

    // GIVEN content A THEN allowed once, recorded with the consumer
    let a = Presented::of(
        Some(b"resource \"aws_iam_role\" \"admin\" {}\n"),
        None,
        None,
    );
    let record = consume(&w, &id, &consume_input(&decision, a.clone()))
        .await
        .unwrap();
    assert_eq!(record["state"], "consumed");
    assert_eq!(record["grant"]["uses"], 1);
    let last = record["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["event"], "consumed");
    assert_eq!(last["actor"], "ai-agent");

    // AND again THEN `approval already used`
    let err = consume(&w, &id, &consume_input(&decision, a))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "approval already used");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    // AND check (read-only) reports it is no longer usable
    let report = w.service.check(&id, &decision).await.unwrap();
    assert!(!report.allowed);
    assert_eq!(
        report.reason.as_deref(),
        Some("approval is consumed, not approved")
    );
    assert!(w.service.verify_history(&id).await.unwrap().ok());
}

#[tokio::test]
async fn a_changed_argv_or_tool_arguments_is_refused_naming_what_differs() {
    let w = world();
    let command = |line: &str| {
        evaluated(
            ActionType::ExecuteCommand,
            line,
            &Payload::default(),
            "dec_cmd000000001",
        )
    };
    let approved_cmd = command("kubectl rollout restart deploy/api");
    let id = approved(&w, &approved_cmd).await;
    let changed = command("kubectl rollout restart deploy/payments");
    let err = consume(&w, &id, &consume_input(&changed, Presented::default()))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(
            "approval does not match the action: the decision differs from the approved one in"
        ),
        "{text}"
    );
    for key in ["action", "action_digest", "commands", "target"] {
        assert!(text.contains(key), "{text} names {key}");
    }
    consume(&w, &id, &consume_input(&approved_cmd, Presented::default()))
        .await
        .unwrap();

    let tool = |args: Value| {
        evaluated(
            ActionType::McpToolCall,
            "github",
            &Payload {
                tool: Some("create_issue".into()),
                tool_args: Some(args),
                ..Payload::default()
            },
            "dec_mcp000000001",
        )
    };
    let args = json!({"repo": "payments/api", "title": "rotate keys"});
    let mcp = tool(args.clone());
    let id = approved(&w, &mcp).await;
    let other = json!({"repo": "payments/api", "title": "delete everything"});
    let err = consume(
        &w,
        &id,
        &consume_input(&mcp, Presented::of(None, Some(&other), None)),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("tool arguments differs from the approved tool arguments"),
        "{err}"
    );
    // The same arguments in another key order are the same call (RFC 8785).
    let reordered: Value =
        serde_json::from_str(r#"{"title":"rotate keys","repo":"payments/api"}"#).unwrap();
    consume(
        &w,
        &id,
        &consume_input(&mcp, Presented::of(None, Some(&reordered), None)),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_grant_ends_after_grant_ttl_and_is_refused_then() {
    let routing = RoutingTable::from_value(&json!([{
        "rule_id_prefix": "filesystem.write", "approver_group": "IAM",
        "grant_ttl": "90s", "max_uses": 2
    }]))
    .unwrap();
    let w = world_with(routing);
    let decision = write_of("x");
    let id = approved(&w, &decision).await;
    let grant = w.service.get(&id).await.unwrap().grant.unwrap();
    assert_eq!((grant.ttl_seconds, grant.max_uses), (90, 2));
    let a = Presented::of(Some(b"x"), None, None);
    // Two uses: the first leaves it approved with one left.
    let first = consume(&w, &id, &consume_input(&decision, a.clone()))
        .await
        .unwrap();
    assert_eq!(first["state"], "approved");
    assert_eq!(first["grant"]["uses"], 1);
    w.clock.advance_millis(90_000);
    let err = consume(&w, &id, &consume_input(&decision, a))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "approval grant has expired");
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
async fn only_granted_requests_can_be_consumed() {
    let w = world();
    let decision = write_of("x");
    let id = w
        .service
        .create(NewRequest::new(decision.clone()))
        .await
        .unwrap()
        .approval
        .approval_id;
    let input = consume_input(&decision, Presented::of(Some(b"x"), None, None));
    let err = consume(&w, &id, &input).await.unwrap_err();
    assert_eq!(err.to_string(), "approval is pending, not approved");
    w.service
        .decide(
            &id,
            &DecideInput {
                target: ApprovalState::Denied,
                ..approve("iam-lead")
            },
        )
        .await
        .unwrap();
    let err = consume(&w, &id, &input).await.unwrap_err();
    assert_eq!(err.to_string(), "approval is denied, not approved");
    let err = consume(&w, "apr_ffffffffffff", &input).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn a_break_glass_grant_is_spent_once_and_still_needs_its_review() {
    let w = world();
    let decision = evaluated(
        ActionType::ExecuteCommand,
        "terraform apply -auto-approve",
        &Payload::default(),
        "dec_bg0000000001",
    );
    let record = w
        .service
        .break_glass(BreakGlassInput {
            decision: decision.clone(),
            actor: "oncall".into(),
            reason: "INC-1: prod down".into(),
            approver_group: None,
            external_ref: Some("INC-1".into()),
            ttl_hours: Some(2),
            context: None,
        })
        .await
        .unwrap();
    let grant = record.grant.unwrap();
    assert_eq!(
        grant.ttl_seconds, 7_200,
        "a break-glass grant lasts as long as the override"
    );
    let input = consume_input(&decision, Presented::default());
    let spent = w
        .service
        .consume(&record.approval_id, &input, CheckOptions::default())
        .await
        .unwrap();
    assert_eq!(spent.state, ApprovalState::Consumed);
    assert_eq!(
        consume(&w, &record.approval_id, &input)
            .await
            .unwrap_err()
            .to_string(),
        "approval already used"
    );
    let reviewed = w
        .service
        .review_break_glass(&record.approval_id, "cab-chair", "reviewed INC-1", None)
        .await
        .unwrap();
    assert_eq!(reviewed.review_required, Some(false));
    assert!(
        w.service
            .verify_history(&record.approval_id)
            .await
            .unwrap()
            .ok()
    );
}

fn verified(email: &str, subject: &str) -> ActorContext {
    let claims =
        json!({"email": email, "sub": subject, "iss": "https://idp.example", "groups": ["IAM"]});
    ActorContext::from_claims(claims.as_object().unwrap(), None, IdentityKind::Oidc)
}

#[tokio::test]
async fn a_verified_requesters_grant_is_theirs_alone() {
    let w = world();
    let decision = write_of("x");
    let id = w
        .service
        .create(NewRequest {
            rationale: None,
            requester: Some(verified("agent@example.com", "agent-1")),
            ..NewRequest::new(decision.clone())
        })
        .await
        .unwrap()
        .approval
        .approval_id;
    w.service
        .decide(
            &id,
            &DecideInput {
                context: Some(verified("lead@example.com", "lead-1")),
                ..approve("lead")
            },
        )
        .await
        .unwrap();
    let presented = Presented::of(Some(b"x"), None, None);
    for stranger in [
        None,
        Some(verified("other@example.com", "other-1")),
        // The same display name declared without a token is not the requester.
        Some(ActorContext::from_claims(
            json!({"email": "agent@example.com"}).as_object().unwrap(),
            None,
            IdentityKind::Unverified,
        )),
    ] {
        let input = ConsumeInput {
            context: stranger,
            actor: "agent@example.com".into(),
            ..consume_input(&decision, presented.clone())
        };
        let err = consume(&w, &id, &input).await.unwrap_err();
        assert_eq!(err.to_string(), "only the requester can use this approval");
        assert_eq!(err.kind(), ErrorKind::Forbidden);
    }
    let input = ConsumeInput {
        context: Some(verified("agent@example.com", "agent-1")),
        ..consume_input(&decision, presented)
    };
    let record = consume(&w, &id, &input).await.unwrap();
    let last = record["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["identity"], "oidc");
    assert_eq!(last["subject"], "agent-1");
}

#[tokio::test]
async fn an_edited_grant_in_the_stored_row_is_caught_and_never_spent() {
    let w = world();
    let decision = write_of("x");
    let id = approved(&w, &decision).await;
    let presented = Presented::of(Some(b"x"), None, None);
    // Row edits an attacker with store access might try, each on a fresh copy.
    type Edit = Box<dyn Fn(&mut cavra_core::approval::Approval)>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "grant.expires_at",
            Box::new(|r| {
                if let Some(g) = r.grant.as_mut() {
                    g.expires_at = Some(Timestamp::latest());
                }
            }),
        ),
        (
            "grant.max_uses",
            Box::new(|r| {
                if let Some(g) = r.grant.as_mut() {
                    g.max_uses = 1_000;
                }
            }),
        ),
        (
            "grant.uses",
            Box::new(|r| {
                if let Some(g) = r.grant.as_mut() {
                    g.uses = 0;
                    g.max_uses = 2;
                }
            }),
        ),
        ("state", Box::new(|r| r.state = ApprovalState::BreakGlass)),
    ];
    let original = w.store.get(&id).await.unwrap().unwrap();
    for (field, edit) in edits {
        let mut row = original.clone();
        edit(&mut row);
        row.version = original.version + 1;
        w.store
            .replace(
                &row,
                w.store.get(&id).await.unwrap().unwrap().version,
                w.store.get(&id).await.unwrap().unwrap().state,
            )
            .await
            .unwrap();
        let verification = w.service.verify_history(&id).await.unwrap();
        assert!(!verification.ok(), "{field}: edit detected");
        assert!(
            verification
                .problem()
                .unwrap_or_default()
                .contains(field.split('.').next().unwrap()),
            "{field}: {:?}",
            verification.problem()
        );
        let err = consume(&w, &id, &consume_input(&decision, presented.clone()))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("approval record fails verification"),
            "{field}: {err}"
        );
    }
}

#[tokio::test]
async fn an_action_digest_edited_after_evaluation_is_refused_at_creation() {
    let w = world();
    let mut decision = write_of("x");
    decision
        .as_map_mut()
        .insert("target".into(), json!("docs/readme.md"));
    let err = w
        .service
        .create(NewRequest::new(decision))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(
        err.to_string(),
        "action_digest does not match the decision's action"
    );
}

#[test]
fn routing_refuses_bad_grant_terms() {
    for (rule, message) in [
        (json!({"grant_ttl": "forever"}), "grant_ttl"),
        (json!({"grant_ttl": "0s"}), "grant_ttl"),
        (json!({"grant_ttl": "31d"}), "grant_ttl"),
        (json!({"grant_ttl": -5}), "grant_ttl"),
        (json!({"max_uses": 0}), "max_uses"),
        (json!({"max_uses": 1001}), "max_uses"),
        (json!({"max_uses": u64::MAX}), "max_uses"),
        (json!({"max_uses": "2"}), "max_uses"),
    ] {
        let mut rule = rule.as_object().unwrap().clone();
        rule.insert("approver_group".into(), json!("IAM"));
        let err = RoutingTable::from_value(&json!([rule])).unwrap_err();
        assert!(err.to_string().contains(message), "{err}");
    }
    let ok = RoutingTable::from_value(&json!([
        {"approver_group": "IAM", "grant_ttl": "4h", "max_uses": 3},
        {"approver_group": "IAM", "grant_ttl": 600},
        {"approver_group": "IAM", "grant_ttl": "1h 30m"}
    ]))
    .unwrap();
    let ttls: Vec<Option<u64>> = ok.rules().iter().map(|r| r.grant_ttl).collect();
    assert_eq!(ttls, vec![Some(14_400), Some(600), Some(5_400)]);
}

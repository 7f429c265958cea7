//! Issue I §5: a break-glass started from a blocked request takes that request's rule and
//! target, closes it under its compare-and-set and links both records; and the agent's
//! rationale on create is bounded and cleaned. On the in-memory store, keyed, so every record
//! written is sealed and verified.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use cavra_core::approval::{Approval, ApprovalState};
use cavra_core::chain_key::ChainKeyRing;
use cavra_core::decision::Decision;
use cavra_core::error::{ApprovalError, ErrorKind};
use cavra_core::ids::SequentialIds;
use cavra_core::memory::MemoryStore;
use cavra_core::service::ApprovalService;
use cavra_core::store::{ApprovalPage, ApprovalStore, ListQuery, StoreError};
use cavra_core::time::{ManualClock, Timestamp};
use cavra_core::workflow::{BreakGlassInput, MAX_RATIONALE_CHARS, NewRequest, OverrideOf};
use serde_json::json;

const KEY: &str = "key-a:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn service_over(store: Arc<dyn ApprovalStore>) -> ApprovalService {
    let clock = Arc::new(ManualClock::new(
        "2026-05-18T12:00:00+00:00".parse::<Timestamp>().unwrap(),
    ));
    ApprovalService::new(store, clock, Arc::new(SequentialIds::default()))
        .with_chain_keys(Some(ChainKeyRing::parse(KEY).unwrap()))
}

fn blocked_decision(id: &str) -> Decision {
    Decision::from_value(json!({
        "decision_id": id, "action_type": "execute_command",
        "target": "terraform apply -auto-approve", "rule_id": "commands.block",
        "decision": "block", "severity": "critical", "reason": "Blocked command",
        "approver_group": "Platform Security",
    }))
    .unwrap()
}

async fn blocked(service: &ApprovalService, id: &str) -> Approval {
    service
        .create(NewRequest {
            requested_by: Some("ai-agent".into()),
            rationale: Some("Deploys are down".into()),
            ..NewRequest::new(blocked_decision(id))
        })
        .await
        .unwrap()
        .approval
}

fn of(record: &Approval, rule: Option<&str>, target: Option<&str>) -> OverrideOf {
    OverrideOf {
        approval_id: record.approval_id.clone(),
        rule_id: rule.map(str::to_owned),
        target: target.map(str::to_owned),
    }
}

async fn overrides_stored(service: &ApprovalService) -> u64 {
    let query = ListQuery::new(Some(ApprovalState::BreakGlass), None, None, None);
    service.list(&query).await.unwrap().total
}

fn input(actor: &str) -> BreakGlassInput {
    BreakGlassInput {
        // Replaced by the blocked request's decision: a caller's decision text is never used.
        decision: Decision::from_value(
            json!({"decision_id": "dec_ignored", "decision": "block", "rule_id": "anything"}),
        )
        .unwrap(),
        actor: actor.to_owned(),
        reason: "Production recovery".to_owned(),
        approver_group: None,
        external_ref: Some("INC-777".into()),
        ttl_hours: Some(2),
        context: None,
    }
}

#[tokio::test]
async fn given_a_pending_blocked_request_when_overridden_from_it_then_both_are_linked_and_it_is_closed()
 {
    let store = Arc::new(MemoryStore::new());
    let service = service_over(store.clone());
    let request = blocked(&service, "dec_linked_1").await;

    let linked = service
        .break_glass_from(
            &of(
                &request,
                Some("commands.block"),
                Some("terraform apply -auto-approve"),
            ),
            input("incident-commander"),
        )
        .await
        .unwrap();

    let override_record = service
        .get(&linked.override_record.approval_id)
        .await
        .unwrap();
    let closed = service.get(&request.approval_id).await.unwrap();
    assert_eq!(override_record.state, ApprovalState::BreakGlass);
    assert_eq!(
        override_record.overrides.as_deref(),
        Some(request.approval_id.as_str())
    );
    assert_eq!(override_record.decision, request.decision);
    assert_eq!(override_record.decision_digest, request.decision_digest);
    assert_eq!(
        override_record.rationale.as_deref(),
        Some("Deploys are down")
    );
    let last = override_record.history.last().unwrap();
    assert_eq!(last.event, "break_glass");
    assert_eq!(
        last.linked_approval_id.as_deref(),
        Some(request.approval_id.as_str())
    );

    assert_ne!(closed.state, ApprovalState::Pending);
    assert_eq!(closed.state, ApprovalState::Expired);
    assert_eq!(
        closed.overridden_by.as_deref(),
        Some(override_record.approval_id.as_str())
    );
    assert_eq!(closed.decided_by.as_deref(), Some("incident-commander"));
    let entry = closed.history.last().unwrap();
    assert_eq!(entry.event, "overridden");
    assert_eq!(
        entry.linked_approval_id.as_deref(),
        Some(override_record.approval_id.as_str())
    );
    for record in [&override_record, &closed] {
        let verification = service.verify_history(&record.approval_id).await.unwrap();
        assert!(verification.ok(), "{record:?}: {verification:?}");
    }
    assert_eq!(linked.blocked, closed);
}

#[tokio::test]
async fn a_rule_or_target_other_than_the_requests_is_refused_and_nothing_is_stored() {
    let service = service_over(Arc::new(MemoryStore::new()));
    let request = blocked(&service, "dec_linked_2").await;
    for (rule, target, field) in [
        (Some("commands.allow_anything"), None, "rule_id"),
        (None, Some("rm -rf /"), "target"),
    ] {
        let error = service
            .break_glass_from(&of(&request, rule, target), input("ic"))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Invalid);
        assert!(
            matches!(&error, ApprovalError::OverrideMismatch { field: f, .. } if *f == field),
            "{error}"
        );
    }
    assert_eq!(
        service.get(&request.approval_id).await.unwrap().state,
        ApprovalState::Pending
    );
    assert_eq!(overrides_stored(&service).await, 0);
}

#[tokio::test]
async fn a_missing_or_closed_request_cannot_be_overridden() {
    let service = service_over(Arc::new(MemoryStore::new()));
    let missing = service
        .break_glass_from(
            &OverrideOf {
                approval_id: "apr_000000000999".into(),
                ..OverrideOf::default()
            },
            input("ic"),
        )
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    assert!(
        missing.to_string().contains("apr_000000000999"),
        "{missing}"
    );

    let request = blocked(&service, "dec_linked_3").await;
    service
        .break_glass_from(&of(&request, None, None), input("ic"))
        .await
        .unwrap();
    // A second override of the same request: it is closed now.
    let again = service
        .break_glass_from(&of(&request, None, None), input("ic-2"))
        .await
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Conflict);
    assert!(again.to_string().contains("not pending"), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_sixteen_racing_overrides_of_one_request_exactly_one_wins_and_one_override_exists() {
    let service = service_over(Arc::new(MemoryStore::new()));
    let request = blocked(&service, "dec_linked_race").await;
    let tasks: Vec<_> = (0..16)
        .map(|n| {
            let (service, of) = (service.clone(), of(&request, None, None));
            tokio::spawn(async move {
                service
                    .break_glass_from(&of, input(&format!("ic-{n}")))
                    .await
            })
        })
        .collect();
    let mut wins = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(linked) => wins.push(linked),
            Err(error) => assert_eq!(error.kind(), ErrorKind::Conflict, "{error}"),
        }
    }
    assert_eq!(wins.len(), 1);
    let closed = service.get(&request.approval_id).await.unwrap();
    assert_eq!(
        closed.overridden_by.as_deref(),
        Some(wins[0].override_record.approval_id.as_str())
    );
    assert_eq!(
        closed
            .history
            .iter()
            .filter(|e| e.event == "overridden")
            .count(),
        1
    );
    assert_eq!(overrides_stored(&service).await, 1);
}

/// The memory store, except that the first insert of a break-glass record fails (as a crash
/// between the two writes would leave it).
struct FailFirstOverrideInsert {
    inner: MemoryStore,
    failed: AtomicBool,
}

#[async_trait]
impl ApprovalStore for FailFirstOverrideInsert {
    async fn insert(&self, approval: &Approval) -> Result<(), StoreError> {
        if approval.state == ApprovalState::BreakGlass && !self.failed.swap(true, Ordering::SeqCst)
        {
            return Err(StoreError::Unexpected(anyhow::anyhow!("connection lost")));
        }
        self.inner.insert(approval).await
    }
    async fn get(&self, approval_id: &str) -> Result<Option<Approval>, StoreError> {
        self.inner.get(approval_id).await
    }
    async fn replace(
        &self,
        approval: &Approval,
        expected_version: u64,
        expected_state: ApprovalState,
    ) -> Result<(), StoreError> {
        self.inner
            .replace(approval, expected_version, expected_state)
            .await
    }
    async fn find_open_by_decision(
        &self,
        decision_id: &str,
    ) -> Result<Option<Approval>, StoreError> {
        self.inner.find_open_by_decision(decision_id).await
    }
    async fn list(&self, query: &ListQuery) -> Result<ApprovalPage, StoreError> {
        self.inner.list(query).await
    }
    async fn overdue(&self, now: Timestamp, limit: u32) -> Result<Vec<Approval>, StoreError> {
        self.inner.overdue(now, limit).await
    }
}

#[tokio::test]
async fn an_override_cut_off_between_its_two_writes_is_completed_by_the_next_call() {
    let service = service_over(Arc::new(FailFirstOverrideInsert {
        inner: MemoryStore::new(),
        failed: AtomicBool::new(false),
    }));
    let request = blocked(&service, "dec_linked_cut").await;
    let first = service
        .break_glass_from(&of(&request, None, None), input("ic"))
        .await;
    assert!(first.is_err(), "the injected failure is reported");
    let closed = service.get(&request.approval_id).await.unwrap();
    let named = closed
        .overridden_by
        .clone()
        .expect("closed, naming the override");
    assert!(matches!(
        service.get(&named).await,
        Err(ApprovalError::NotFound(_))
    ));

    // The retry finishes the override the request already names (and still checks fields).
    let wrong = service
        .break_glass_from(&of(&request, Some("other.rule"), None), input("ic"))
        .await
        .unwrap_err();
    assert_eq!(wrong.kind(), ErrorKind::Invalid);
    let linked = service
        .break_glass_from(&of(&request, None, None), input("ic"))
        .await
        .unwrap();
    assert_eq!(linked.override_record.approval_id, named);
    assert_eq!(
        linked.override_record.overrides.as_deref(),
        Some(request.approval_id.as_str())
    );
    assert!(service.verify_history(&named).await.unwrap().ok());
}

#[tokio::test]
async fn the_rationale_is_stored_cleaned_and_bounded() {
    let service = service_over(Arc::new(MemoryStore::new()));
    let created = service
        .create(NewRequest {
            rationale: Some(
                "  Rotate the key\r\nbefore \u{202E}gpj.exe\u{202C} the audit\u{0007}\u{200B}.  "
                    .into(),
            ),
            ..NewRequest::new(blocked_decision("dec_rationale_1"))
        })
        .await
        .unwrap()
        .approval;
    assert_eq!(
        created.rationale.as_deref(),
        Some("Rotate the key\nbefore gpj.exe the audit.")
    );
    let json = created.to_sorted_value();
    assert_eq!(
        json["rationale"],
        "Rotate the key\nbefore gpj.exe the audit."
    );

    let blank = service
        .create(NewRequest {
            rationale: Some(" \u{0000}\u{202E} ".into()),
            ..NewRequest::new(blocked_decision("dec_rationale_2"))
        })
        .await
        .unwrap()
        .approval;
    assert_eq!(blank.rationale, None);
    assert!(blank.to_sorted_value().get("rationale").is_none());

    let at_limit = "é".repeat(MAX_RATIONALE_CHARS);
    let kept = service
        .create(NewRequest {
            rationale: Some(at_limit.clone()),
            ..NewRequest::new(blocked_decision("dec_rationale_3"))
        })
        .await
        .unwrap()
        .approval;
    assert_eq!(kept.rationale.as_deref(), Some(at_limit.as_str()));

    let error = service
        .create(NewRequest {
            rationale: Some("x".repeat(MAX_RATIONALE_CHARS + 1)),
            ..NewRequest::new(blocked_decision("dec_rationale_4"))
        })
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    assert_eq!(
        error.to_string(),
        "rationale is too long: 2001 characters (at most 2000)"
    );
}

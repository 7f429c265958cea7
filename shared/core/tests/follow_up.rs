//! Issue G §1 and §3 through the service: every stored change is announced once through the
//! `Notifier` port with its evidence kept in the history, and the sweeper reminds and
//! escalates unanswered requests exactly once per interval, however many sweepers overlap.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cavra_core::approval::{Approval, ApprovalState, IdentityKind, SYSTEM_ACTOR};
use cavra_core::decision::Decision;
use cavra_core::error::{ApprovalError, ErrorKind};
use cavra_core::history;
use cavra_core::identity::ActorContext;
use cavra_core::ids::SequentialIds;
use cavra_core::integrity;
use cavra_core::memory::MemoryStore;
use cavra_core::notify::{Notifier, NotifyEvent};
use cavra_core::routing::{RoutingRule, RoutingTable};
use cavra_core::service::ApprovalService;
use cavra_core::store::ApprovalStore as _;
use cavra_core::time::{ManualClock, Timestamp};
use cavra_core::workflow::{BreakGlassInput, DecideInput, DecideOutcome, NewRequest};
use serde_json::{Value, json};

/// Records every announcement; answers with evidence naming the event.
#[derive(Debug, Default)]
struct Recorder {
    seen: Mutex<Vec<(String, NotifyEvent)>>,
}

impl Recorder {
    fn events(&self) -> Vec<(String, NotifyEvent)> {
        self.seen.lock().unwrap().clone()
    }

    fn count(&self, id: &str, event: NotifyEvent) -> usize {
        self.events()
            .iter()
            .filter(|(i, e)| i == id && *e == event)
            .count()
    }
}

#[async_trait]
impl Notifier for Recorder {
    async fn notify(&self, record: &Approval, event: NotifyEvent) -> Option<Value> {
        self.seen
            .lock()
            .unwrap()
            .push((record.approval_id.clone(), event));
        Some(json!({"event": event.as_str(), "success": true, "deliveries": []}))
    }
}

struct World {
    service: ApprovalService,
    clock: Arc<ManualClock>,
    store: Arc<MemoryStore>,
    notes: Arc<Recorder>,
}

fn routing() -> RoutingTable {
    RoutingTable::from_value(&json!([{
        "rule_id_prefix": "filesystem.write",
        "target_contains": "iam/",
        "approver_group": "IAM",
        "remind_after": "30m",
        "escalate_after": "2h",
        "escalate_to": "Cloud Security",
    }]))
    .unwrap()
}

fn world() -> World {
    let clock = Arc::new(ManualClock::new(
        "2026-05-18T12:00:00+00:00".parse::<Timestamp>().unwrap(),
    ));
    let store = Arc::new(MemoryStore::new());
    let notes = Arc::new(Recorder::default());
    let service = ApprovalService::new(
        store.clone(),
        clock.clone(),
        Arc::new(SequentialIds::default()),
    )
    .with_routing(routing())
    .with_notifier(Some(notes.clone()));
    World {
        service,
        clock,
        store,
        notes,
    }
}

fn iam(id: &str) -> Decision {
    Decision::from_value(json!({
        "decision_id": id, "action_type": "write_file", "target": "iam/admin-role.tf",
        "rule_id": "filesystem.write.require_approval", "decision": "require_approval",
        "severity": "high", "reason": "iam change",
    }))
    .unwrap()
}

fn member(email: &str, groups: &[&str]) -> ActorContext {
    let claims =
        json!({"iss": "https://login.example", "sub": email, "email": email, "groups": groups});
    ActorContext::from_claims(claims.as_object().unwrap(), None, IdentityKind::Oidc)
}

fn approve_as(ctx: ActorContext) -> DecideInput {
    DecideInput {
        target: ApprovalState::Approved,
        actor: String::new(),
        reason: "reviewed".to_owned(),
        external_ref: None,
        context: Some(ctx),
    }
}

async fn create(w: &World, id: &str) -> Approval {
    w.service
        .create(NewRequest::new(iam(id)))
        .await
        .unwrap()
        .approval
}

fn events(record: &Approval) -> Vec<&str> {
    record.history.iter().map(|e| e.event.as_str()).collect()
}

#[test]
fn schedules_are_durations_within_bounds_and_escalation_names_its_group() {
    let rule = |extra: Value| {
        let mut value = json!({"approver_group": "IAM"});
        value
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        RoutingRule::from_value(&value)
    };
    for (text, seconds) in [
        (json!("90s"), 90),
        (json!("30m"), 1800),
        (json!("4h"), 14_400),
        (json!("1h 30m"), 5400),
        (json!(45), 45),
    ] {
        assert_eq!(
            rule(json!({"remind_after": text})).unwrap().remind_after,
            Some(seconds),
            "{text}"
        );
    }
    for bad in [
        json!("0s"),
        json!(0),
        json!(-5),
        json!("31days"),
        json!(1e30),
        json!("soon"),
        json!(true),
        json!(["30m"]),
    ] {
        let error = rule(json!({"remind_after": bad})).unwrap_err().to_string();
        assert!(
            error.contains("remind_after must be a duration"),
            "{bad}: {error}"
        );
    }
    let lonely = rule(json!({"escalate_after": "1h"}))
        .unwrap_err()
        .to_string();
    assert!(
        lonely.contains("escalate_after needs escalate_to"),
        "{lonely}"
    );
    let aimless = rule(json!({"escalate_to": "Cloud Security"}))
        .unwrap_err()
        .to_string();
    assert!(
        aimless.contains("escalate_to needs escalate_after"),
        "{aimless}"
    );
    for blank in [json!(""), json!("   "), json!(7)] {
        assert!(rule(json!({"escalate_after": "1h", "escalate_to": blank})).is_err());
    }
    // The fallback group is a known group, so a verified caller may name it.
    assert!(
        routing()
            .group_names()
            .contains(&"Cloud Security".to_owned())
    );
}

#[tokio::test]
async fn every_stored_change_is_announced_once_with_its_evidence_in_the_history() {
    let w = world();
    let created = create(&w, "dec_a").await;
    assert_eq!(events(&created), ["requested", "delivered"]);
    let again = w
        .service
        .create(NewRequest::new(iam("dec_a")))
        .await
        .unwrap();
    assert!(!again.created);

    let approved = w
        .service
        .decide(&created.approval_id, &approve_as(member("iam@x", &["IAM"])))
        .await
        .unwrap();
    assert_eq!(approved.state, ApprovalState::Approved);
    assert_eq!(events(&approved).last(), Some(&"delivered"));

    let glass = w
        .service
        .break_glass(BreakGlassInput {
            decision: iam("dec_b"),
            actor: "oncall".to_owned(),
            reason: "prod down".to_owned(),
            approver_group: Some("Change Advisory Board".to_owned()),
            external_ref: Some("INC-1".to_owned()),
            ttl_hours: Some(1),
            context: None,
        })
        .await
        .unwrap();
    assert_eq!(events(&glass).last(), Some(&"delivered"));

    assert_eq!(
        w.notes.events(),
        [
            (created.approval_id.clone(), NotifyEvent::Requested),
            (created.approval_id.clone(), NotifyEvent::Approved),
            (glass.approval_id.clone(), NotifyEvent::BreakGlass),
        ]
    );
    // Evidence entries are the service's own, chained and replayable.
    let stored = w.service.get(&created.approval_id).await.unwrap();
    assert!(integrity::verify_record(&stored, None).ok());
}

#[tokio::test]
async fn an_overdue_decision_keeps_its_expired_record_and_announces_the_expiry() {
    let w = world();
    let id = create(&w, "dec_late").await.approval_id;
    w.clock.advance_hours(25);
    let outcome = w
        .service
        .decide_outcome(&id, &approve_as(member("iam@x", &["IAM"])))
        .await
        .unwrap();
    let DecideOutcome::ExpiredInstead(record) = outcome else {
        panic!("expected ExpiredInstead, got {outcome:?}");
    };
    assert_eq!(record.state, ApprovalState::Expired);
    assert_eq!(record.decided_by.as_deref(), Some(SYSTEM_ACTOR));
    assert_eq!(w.notes.count(&id, NotifyEvent::Expired), 1);
    // The plain call still answers with the expired error.
    let again = w
        .service
        .decide(&id, &approve_as(member("iam@x", &["IAM"])))
        .await
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Conflict);
}

#[tokio::test]
async fn reminders_repeat_once_per_interval_and_stop_when_decided() {
    let w = world();
    let id = create(&w, "dec_r").await.approval_id;
    assert!(
        w.service.sweep().await.unwrap().is_empty(),
        "nothing due yet"
    );
    w.clock.advance_millis(29 * 60 * 1000);
    assert!(w.service.sweep().await.unwrap().is_empty(), "29 minutes");
    w.clock.advance_millis(60 * 1000);
    let swept = w.service.sweep().await.unwrap();
    assert_eq!(swept.reminded.len(), 1);
    assert!(swept.expired.is_empty() && swept.escalated.is_empty());
    // A second sweep in the same interval does nothing.
    assert!(w.service.sweep().await.unwrap().is_empty());
    w.clock.advance_millis(30 * 60 * 1000);
    assert_eq!(w.service.sweep().await.unwrap().reminded.len(), 1);
    assert_eq!(w.notes.count(&id, NotifyEvent::Reminded), 2);

    let record = w.service.get(&id).await.unwrap();
    let reminded: Vec<_> = record
        .history
        .iter()
        .filter(|e| e.event == "reminded")
        .collect();
    assert_eq!(reminded.len(), 2);
    assert!(reminded.iter().all(|e| e.actor == SYSTEM_ACTOR));
    assert!(
        reminded[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("reminding IAM") && r.contains("30m"))
    );
    assert!(integrity::verify_record(&record, None).ok());

    w.service
        .decide(&id, &approve_as(member("iam@x", &["IAM"])))
        .await
        .unwrap();
    w.clock.advance_hours(3);
    assert!(
        w.service.sweep().await.unwrap().is_empty(),
        "decided: no follow-up"
    );
}

#[tokio::test]
async fn a_request_nobody_answers_escalates_once_and_the_fallback_group_may_then_decide() {
    let w = world();
    let id = create(&w, "dec_e").await.approval_id;
    let fallback = || approve_as(member("cloud@x", &["Cloud Security"]));
    let refused = w.service.decide(&id, &fallback()).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Forbidden, "before escalation");
    assert!(
        matches!(&refused, ApprovalError::NotAuthorized { deciding_groups } if deciding_groups == &["IAM"]),
        "before escalation only IAM decides: {refused:?}"
    );

    w.clock.advance_hours(2);
    let swept = w.service.sweep().await.unwrap();
    assert_eq!(swept.escalated.len(), 1);
    // Two hours also makes the reminder due: both happen, escalation first.
    assert_eq!(swept.reminded.len(), 1);
    let record = w.service.get(&id).await.unwrap();
    assert_eq!(record.escalated_groups(), ["Cloud Security"]);
    let entry = record
        .history
        .iter()
        .find(|e| e.event == "escalated")
        .unwrap();
    assert_eq!(entry.escalate_to.as_deref(), Some("Cloud Security"));
    assert!(
        entry
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("no decision from IAM after 2h"))
    );
    w.clock.advance_hours(3);
    assert!(
        w.service.sweep().await.unwrap().escalated.is_empty(),
        "once"
    );
    assert_eq!(w.notes.count(&id, NotifyEvent::Escalated), 1);

    let approved = w.service.decide(&id, &fallback()).await.unwrap();
    assert_eq!(approved.state, ApprovalState::Approved);
    // Someone in neither group still may not.
    let other = create(&w, "dec_e2").await.approval_id;
    w.clock.advance_hours(2);
    w.service.sweep().await.unwrap();
    let stranger = approve_as(member("dev@x", &["Developers"]));
    // The refusal names who may decide now: the routed group and the one it escalated to.
    assert!(matches!(
        w.service.decide(&other, &stranger).await,
        Err(ApprovalError::NotAuthorized { deciding_groups })
            if deciding_groups == ["IAM", "Cloud Security"]
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_sweeps_remind_and_escalate_exactly_once() {
    let w = world();
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(create(&w, &format!("dec_{n}")).await.approval_id);
    }
    w.clock.advance_hours(2);
    let runs: Vec<_> = (0..8)
        .map(|_| {
            let service = w.service.clone();
            tokio::spawn(async move { service.sweep().await.unwrap() })
        })
        .collect();
    let mut reminded = 0;
    let mut escalated = 0;
    for run in runs {
        let swept = run.await.unwrap();
        reminded += swept.reminded.len();
        escalated += swept.escalated.len();
    }
    assert_eq!((reminded, escalated), (20, 20));
    for id in &ids {
        assert_eq!(w.notes.count(id, NotifyEvent::Reminded), 1, "{id}");
        assert_eq!(w.notes.count(id, NotifyEvent::Escalated), 1, "{id}");
        let record = w.service.get(id).await.unwrap();
        let count = |event: &str| record.history.iter().filter(|e| e.event == event).count();
        assert_eq!((count("reminded"), count("escalated")), (1, 1), "{id}");
    }
}

#[tokio::test]
async fn the_sweeper_expires_first_and_never_follows_up_an_overdue_request() {
    let w = world();
    let id = create(&w, "dec_x").await.approval_id;
    w.clock.advance_hours(30);
    let swept = w.service.sweep().await.unwrap();
    assert_eq!(swept.expired.len(), 1);
    assert!(swept.reminded.is_empty() && swept.escalated.is_empty());
    assert_eq!(w.notes.count(&id, NotifyEvent::Expired), 1);
}

/// A row edited to escalate to a group the rule never named gains that group nothing and
/// fails verification; so does a reminder written by someone other than the sweeper.
#[tokio::test]
async fn a_forged_escalation_or_reminder_grants_nothing_and_fails_verification() {
    let w = world();
    let record = create(&w, "dec_f").await;
    for (event, actor, group) in [
        ("escalated", SYSTEM_ACTOR, Some("Developers")),
        ("escalated", "mallory", Some("Cloud Security")),
        ("reminded", "mallory", None),
    ] {
        let mut forged = record.clone();
        let mut entry = cavra_core::approval::HistoryEntry::new(
            event,
            actor,
            w.service.now(),
            Some("forged".to_owned()),
        );
        entry.escalate_to = group.map(str::to_owned);
        history::append(&mut forged.history, entry);
        let verification = integrity::verify_record(&forged, None);
        assert!(!verification.ok(), "{event} by {actor}: {verification:?}");
        if event == "escalated" && actor != SYSTEM_ACTOR {
            assert!(forged.escalated_groups().is_empty());
        }
        if group == Some("Developers") {
            assert!(forged.escalated_groups().is_empty());
            // Stored as is, the Developers member is still refused.
            w.store
                .replace(&forged, record.version, record.state)
                .await
                .unwrap();
            let dev = approve_as(member("dev@x", &["Developers"]));
            let refused = w.service.decide(&record.approval_id, &dev).await;
            assert!(refused.is_err(), "{refused:?}");
        }
    }
}

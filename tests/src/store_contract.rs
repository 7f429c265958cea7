//! The store contract: what every adapter must do, written once and run against memory, the JSON
//! file, SQLite and DynamoDB (CONTRACT §1, §6, §7).
//!
//! Each check takes a fresh, empty store. Failures panic with a message naming the check.

use std::collections::HashSet;
use std::sync::Arc;

use cavra_core::action::Presented;
use cavra_core::approval::{Approval, ApprovalState};
use cavra_core::error::ApprovalError;
use cavra_core::history;
use cavra_core::ids::SequentialIds;
use cavra_core::service::ApprovalService;
use cavra_core::store::{ApprovalStore, Cursor, ListQuery, StoreError};
use cavra_core::time::{Clock, Timestamp};
use cavra_core::workflow::{CheckOptions, ConsumeInput, DecideInput, NewRequest};

use crate::fixtures::{at, iam_decision, pending_record};

/// A clock that never moves (records get distinct ids, identical times are fine).
#[derive(Debug)]
struct FixedClock(Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// An approval by `actor` with a fixed reason.
pub fn approve(actor: &str) -> DecideInput {
    DecideInput {
        target: ApprovalState::Approved,
        actor: actor.to_owned(),
        reason: "reviewed".to_owned(),
        external_ref: None,
        context: None,
    }
}

/// Insert, get, duplicate ids, one open request per decision.
pub async fn insert_and_get(store: Arc<dyn ApprovalStore>) {
    let record = pending_record(1, "dec_a", None, at(0));
    store.insert(&record).await.expect("insert");
    let read = store
        .get(&record.approval_id)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(read, record, "a stored record reads back unchanged");
    assert!(
        store.get("apr_ffffffffffff").await.expect("get").is_none(),
        "unknown id is None"
    );
    assert!(
        matches!(store.insert(&record).await, Err(StoreError::DuplicateId(_))),
        "duplicate id refused"
    );
    let twin = pending_record(2, "dec_a", None, at(1));
    assert!(
        matches!(
            store.insert(&twin).await,
            Err(StoreError::DuplicateOpenDecision(_))
        ),
        "a second open request for one decision is refused"
    );
    let open = store
        .find_open_by_decision("dec_a")
        .await
        .expect("find")
        .expect("open");
    assert_eq!(open.approval_id, record.approval_id);
    assert!(
        store
            .find_open_by_decision("dec_none")
            .await
            .expect("find")
            .is_none()
    );
}

/// Compare-and-set: a stale version or state loses, an unknown id is not found.
pub async fn replace_is_compare_and_set(store: Arc<dyn ApprovalStore>) {
    let record = pending_record(1, "dec_a", None, at(0));
    store.insert(&record).await.expect("insert");
    let mut next = record.clone();
    next.state = ApprovalState::Approved;
    next.version = record.version + 1;
    store
        .replace(&next, record.version, ApprovalState::Pending)
        .await
        .expect("first replace wins");
    assert!(
        matches!(
            store
                .replace(&next, record.version, ApprovalState::Pending)
                .await,
            Err(StoreError::VersionConflict(_))
        ),
        "stale version loses"
    );
    let mut ghost = record.clone();
    "apr_0000000000ff".clone_into(&mut ghost.approval_id);
    assert!(matches!(
        store.replace(&ghost, 1, ApprovalState::Pending).await,
        Err(StoreError::NotFound(_))
    ));
    // A decided request no longer blocks a new open one for the same decision.
    store
        .insert(&pending_record(2, "dec_a", None, at(1)))
        .await
        .expect("new open request after decision");
}

/// `update`: one read-change-write. A missing record never reaches the change; a refusal or
/// `None` stores nothing; what is stored and answered is the change's record at the version
/// after the one read, whatever version the change set (so every adapter stores the same).
pub async fn update_is_read_change_write(store: Arc<dyn ApprovalStore>) {
    let record = pending_record(1, "dec_a", None, at(0));
    store.insert(&record).await.expect("insert");
    let never: cavra_core::store::Change =
        Box::new(|_: &Approval| panic!("a change ran for a missing record"));
    assert!(
        matches!(
            store.update("apr_0000000000ff", never).await,
            Err(ApprovalError::NotFound(_))
        ),
        "an unknown id is not found"
    );
    let refused: cavra_core::store::Change =
        Box::new(|_: &Approval| Err(ApprovalError::NotPending));
    assert!(matches!(
        store.update(&record.approval_id, refused).await,
        Err(ApprovalError::NotPending)
    ));
    let nothing: cavra_core::store::Change = Box::new(|_: &Approval| Ok(None));
    assert_eq!(
        store
            .update(&record.approval_id, nothing)
            .await
            .expect("no change"),
        None
    );
    let unchanged = store.get(&record.approval_id).await.expect("get");
    assert_eq!(
        unchanged.as_ref(),
        Some(&record),
        "a refusal or no change stores nothing"
    );
    // Versions a buggy or hostile change might set: kept, rewound, far ahead, the largest.
    for (round, wrong) in [0_u64, record.version, 0, 99, u64::MAX]
        .into_iter()
        .enumerate()
    {
        let read = store
            .get(&record.approval_id)
            .await
            .expect("get")
            .expect("stored");
        let change: cavra_core::store::Change = Box::new(move |current: &Approval| {
            let mut next = current.clone();
            next.approver_group = format!("Group {round}");
            next.version = wrong;
            Ok(Some(next))
        });
        let answered = store
            .update(&record.approval_id, change)
            .await
            .expect("update")
            .expect("changed");
        assert_eq!(
            answered.version,
            read.version + 1,
            "version {wrong} set by the change"
        );
        assert_eq!(answered.approver_group, format!("Group {round}"));
        let stored = store
            .get(&record.approval_id)
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(stored, answered, "what is answered is what is stored");
    }
}

/// Filters, order, totals, offset and cursor pages.
pub async fn list_filters_orders_and_pages(store: Arc<dyn ApprovalStore>) {
    let mut all: Vec<Approval> = Vec::new();
    for n in 0..23_u64 {
        let group = if n % 3 == 0 { "Cloud Security" } else { "IAM" };
        // Some share a timestamp so the id tie-breaker matters.
        let record = pending_record(n + 1, &format!("dec_{n}"), Some(group), at((n / 2) as i64));
        store.insert(&record).await.expect("insert");
        all.push(record);
    }
    let decided = [
        (0, ApprovalState::Denied),
        (4, ApprovalState::Denied),
        (8, ApprovalState::Denied),
        (1, ApprovalState::Approved),
        (5, ApprovalState::Approved),
        (7, ApprovalState::Approved),
    ];
    for (n, state) in decided {
        let record = store.get(&all[n].approval_id).await.unwrap().unwrap();
        let mut next = record.clone();
        next.state = state;
        next.version += 1;
        store
            .replace(&next, record.version, ApprovalState::Pending)
            .await
            .unwrap();
    }
    let everything = store
        .list(&ListQuery::new(None, None, Some(500), None))
        .await
        .unwrap();
    assert_eq!(everything.total, 23);
    assert_eq!(everything.items.len(), 23);
    assert!(
        everything.next_cursor.is_none(),
        "a full page has no next cursor"
    );
    for pair in everything.items.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(
            a.requested_at > b.requested_at
                || (a.requested_at == b.requested_at && a.approval_id < b.approval_id),
            "list order is requested_at desc, approval_id asc"
        );
    }
    let denied = store
        .list(&ListQuery::new(
            Some(ApprovalState::Denied),
            None,
            None,
            None,
        ))
        .await
        .unwrap();
    assert_eq!(denied.total, 3);
    let cloud = store
        .list(&ListQuery::new(
            None,
            Some("Cloud Security".into()),
            None,
            None,
        ))
        .await
        .unwrap();
    assert_eq!(cloud.total, 8);
    let both = store
        .list(&ListQuery::new(
            Some(ApprovalState::Pending),
            Some("Cloud Security".into()),
            None,
            None,
        ))
        .await
        .unwrap();
    assert_eq!(both.total, 7, "0, 3, 6 … 21 minus the denied 0");
    assert!(
        both.items
            .iter()
            .all(|r| r.state == ApprovalState::Pending && r.approver_group == "Cloud Security")
    );

    // Every filter (each state, each group, both, neither) answers exactly the matching
    // records in list order, whole and walked by cursor three at a time, whichever index an
    // adapter keeps for it.
    let states = [None].into_iter().chain(ApprovalState::ALL.map(Some));
    for state in states {
        for group in [None, Some("Cloud Security"), Some("IAM"), Some("Nobody")] {
            let expected: Vec<&str> = everything
                .items
                .iter()
                .filter(|r| state.is_none_or(|s| r.state == s))
                .filter(|r| group.is_none_or(|g| r.approver_group == g))
                .map(|r| r.approval_id.as_str())
                .collect();
            let query = ListQuery::new(state, group.map(str::to_owned), Some(500), None);
            let whole = store.list(&query).await.unwrap();
            let ids: Vec<&str> = whole.items.iter().map(|r| r.approval_id.as_str()).collect();
            assert_eq!(ids, expected, "list of {state:?} in {group:?}");
            assert_eq!(
                whole.total,
                expected.len() as u64,
                "total of {state:?} in {group:?}"
            );
            let mut walked = Vec::new();
            let mut query = ListQuery::new(state, group.map(str::to_owned), Some(3), None);
            loop {
                let page = store.list(&query).await.unwrap();
                walked.extend(page.items.iter().map(|r| r.approval_id.clone()));
                match page.next_cursor {
                    Some(text) => query.cursor = Some(Cursor::decode(&text).unwrap()),
                    None => break,
                }
            }
            assert_eq!(walked, expected, "cursor walk of {state:?} in {group:?}");
        }
    }

    let offset = store
        .list(&ListQuery::new(None, None, Some(5), Some(5)))
        .await
        .unwrap();
    assert_eq!(
        offset.items,
        everything.items[5..10].to_vec(),
        "offset pages slice the ordered list"
    );

    let mut seen = Vec::new();
    let mut query = ListQuery::new(None, None, Some(4), None);
    loop {
        let page = store.list(&query).await.unwrap();
        assert_eq!(page.total, 23, "total ignores the cursor");
        seen.extend(page.items.iter().map(|r| r.approval_id.clone()));
        match page.next_cursor {
            Some(text) => query.cursor = Some(Cursor::decode(&text).unwrap()),
            None => break,
        }
    }
    let expected: Vec<String> = everything
        .items
        .iter()
        .map(|r| r.approval_id.clone())
        .collect();
    assert_eq!(
        seen, expected,
        "cursor pages walk every record exactly once, in order"
    );
    let clamp = store
        .list(&ListQuery::new(None, None, Some(0), Some(-3)))
        .await
        .unwrap();
    assert_eq!(
        (clamp.limit, clamp.offset, clamp.items.len()),
        (1, 0, 1),
        "limit and offset are clamped"
    );
}

/// Overdue lookup for the sweeper.
/// Overdue lookup for the sweeper: pending records past their expiry, the longest overdue
/// first (by expiry, not by request time), at most `limit` of them.
pub async fn overdue_finds_only_pending_past_expiry(store: Arc<dyn ApprovalStore>) {
    let hours = |h: i64| at(h * 3600);
    // (n, requested, expires): request order and expiry order differ.
    let mut records = Vec::new();
    for (n, requested, expires) in [
        (1, -48, -24), // overdue by 25 h
        (2, 0, 24),    // not yet due
        (4, -10, -9),  // overdue by 10 h, requested last of the overdue
        (5, -40, -5),  // overdue by 6 h
        (6, -30, -2),  // overdue by 3 h
        (7, -2, 1),    // due exactly now: not overdue
    ] {
        let mut record = pending_record(n, &format!("dec_{n}"), None, hours(requested));
        record.expires_at = hours(expires);
        records.push(record);
    }
    let mut decided = pending_record(3, "dec_done", None, hours(-48));
    decided.expires_at = hours(-47);
    decided.state = ApprovalState::Denied;
    records.push(decided);
    for r in &records {
        store.insert(r).await.unwrap();
    }
    let now = hours(1);
    let ids =
        |due: Vec<Approval>| -> Vec<String> { due.into_iter().map(|r| r.approval_id).collect() };
    let id = |n: usize| records[n].approval_id.clone();
    assert_eq!(
        ids(store.overdue(now, 10).await.unwrap()),
        vec![id(0), id(2), id(3), id(4)],
        "every overdue pending record, longest overdue first"
    );
    assert_eq!(
        ids(store.overdue(now, 2).await.unwrap()),
        vec![id(0), id(2)],
        "the limit keeps the longest overdue"
    );
}

/// The race of CONTRACT §1: `deciders` concurrent approvals of one request, over `rounds`
/// requests; exactly one wins each round, every loser is told `only pending approvals can be
/// changed`, and every history chain verifies.
pub async fn racing_deciders_have_exactly_one_winner(
    store: Arc<dyn ApprovalStore>,
    deciders: usize,
    rounds: usize,
) {
    let service = ApprovalService::new(
        store,
        Arc::new(FixedClock(at(0))),
        Arc::new(SequentialIds::default()),
    );
    for round in 0..rounds {
        let request = NewRequest {
            rationale: None,
            requested_by: Some("developer".into()),
            ..NewRequest::new(iam_decision(&format!("dec_race_{round}")))
        };
        let id = service
            .create(request)
            .await
            .expect("create")
            .approval
            .approval_id;
        let mut tasks = tokio::task::JoinSet::new();
        for d in 0..deciders {
            let service = service.clone();
            let id = id.clone();
            tasks.spawn(async move {
                service
                    .decide(&id, &approve(&format!("approver-{d}")))
                    .await
            });
        }
        let mut winners = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined.expect("task") {
                Ok(record) => winners.push(record),
                Err(ApprovalError::NotPending) => {}
                Err(other) => panic!(
                    "round {round}: a loser got {other:?}, not `only pending approvals can be changed`"
                ),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one decider wins");
        let stored = service.get(&id).await.unwrap();
        assert_eq!(stored.state, ApprovalState::Approved);
        assert_eq!(
            stored.decided_by, winners[0].decided_by,
            "the stored record is the winner's"
        );
        assert_eq!(
            stored.history.len(),
            2,
            "one requested and one approved entry, none lost"
        );
        assert!(
            history::verify(&stored.history).valid,
            "round {round}: history chain verifies"
        );
    }
    let page = service
        .list(&ListQuery::new(
            Some(ApprovalState::Approved),
            None,
            Some(500),
            None,
        ))
        .await
        .unwrap();
    assert_eq!(page.total as usize, rounds);
}

/// Concurrent creation of the same decision yields one open request.
pub async fn concurrent_creates_of_one_decision_yield_one_request(store: Arc<dyn ApprovalStore>) {
    let service = ApprovalService::new(
        store,
        Arc::new(FixedClock(at(0))),
        Arc::new(cavra_core::ids::RandomIds),
    );
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let service = service.clone();
        tasks.spawn(async move {
            service
                .create(NewRequest::new(iam_decision("dec_once")))
                .await
        });
    }
    let mut ids = HashSet::new();
    let mut created = 0;
    while let Some(joined) = tasks.join_next().await {
        let result = joined.expect("task").expect("create");
        created += usize::from(result.created);
        ids.insert(result.approval.approval_id);
    }
    assert_eq!(ids.len(), 1, "every caller got the same request");
    assert_eq!(created, 1, "exactly one caller created it");
}

/// Issue F §2: `consumers` concurrent consumers of a one-use grant, over `rounds` requests;
/// exactly one succeeds each round, every other is told `approval already used`, the record is
/// `consumed` with exactly one `consumed` entry, and it still verifies.
pub async fn racing_consumers_spend_a_grant_once(
    store: Arc<dyn ApprovalStore>,
    consumers: usize,
    rounds: usize,
) {
    let service = ApprovalService::new(
        store,
        Arc::new(FixedClock(at(0))),
        Arc::new(SequentialIds::default()),
    );
    for round in 0..rounds {
        let decision = iam_decision(&format!("dec_spend_{round}"));
        let request = NewRequest {
            rationale: None,
            requested_by: Some("developer".into()),
            ..NewRequest::new(decision.clone())
        };
        let id = service
            .create(request)
            .await
            .expect("create")
            .approval
            .approval_id;
        service
            .decide(&id, &approve("iam-lead"))
            .await
            .expect("approve");
        let mut tasks = tokio::task::JoinSet::new();
        for c in 0..consumers {
            let service = service.clone();
            let id = id.clone();
            let input = ConsumeInput {
                decision: decision.clone(),
                presented: Presented::default(),
                actor: format!("agent-{c}"),
                reason: None,
                context: None,
            };
            tasks.spawn(async move { service.consume(&id, &input, CheckOptions::default()).await });
        }
        let mut winners = 0;
        while let Some(joined) = tasks.join_next().await {
            match joined.expect("task") {
                Ok(_) => winners += 1,
                Err(ApprovalError::AlreadyUsed) => {}
                Err(other) => panic!(
                    "round {round}: a losing consumer got {other:?}, not `approval already used`"
                ),
            }
        }
        assert_eq!(winners, 1, "round {round}: exactly one consumer succeeds");
        let stored = service.get(&id).await.unwrap();
        assert_eq!(stored.state, ApprovalState::Consumed);
        assert_eq!(stored.grant.map(|g| g.uses), Some(1));
        assert_eq!(
            stored
                .history
                .iter()
                .filter(|e| e.event == "consumed")
                .count(),
            1,
            "round {round}: one consumed entry"
        );
        assert!(
            service.verify_history(&id).await.unwrap().ok(),
            "round {round}: the consumed record verifies"
        );
    }
}

/// How many fresh stores [`run_all`] asks for (one per check).
pub const CHECKS: usize = 8;

/// Runs every check, each on a fresh store from `fresh`, printing each check's time under
/// `store`'s name (seen with `--nocapture`; the emulator's share of the test command's time is
/// spent here).
pub async fn run_all<F>(store: &str, fresh: F, deciders: usize, rounds: usize)
where
    F: Fn() -> Arc<dyn ApprovalStore>,
{
    timed(store, "insert, get, replace, update", async {
        insert_and_get(fresh()).await;
        replace_is_compare_and_set(fresh()).await;
        update_is_read_change_write(fresh()).await;
    })
    .await;
    timed(store, "list", list_filters_orders_and_pages(fresh())).await;
    timed(store, "overdue, concurrent creates", async {
        overdue_finds_only_pending_past_expiry(fresh()).await;
        concurrent_creates_of_one_decision_yield_one_request(fresh()).await;
    })
    .await;
    timed(
        store,
        "racing deciders",
        racing_deciders_have_exactly_one_winner(fresh(), deciders, rounds),
    )
    .await;
    // The grant race: as many consumers as deciders, over a tenth of the rounds (each round
    // also creates and approves).
    timed(
        store,
        "racing consumers",
        racing_consumers_spend_a_grant_once(fresh(), deciders, rounds.div_ceil(10)),
    )
    .await;
}

/// Runs `check` and prints how long it took.
async fn timed(store: &str, check: &str, run: impl std::future::Future<Output = ()>) {
    let started = std::time::Instant::now();
    run.await;
    println!(
        "store contract ({store}): {check} took {:?}",
        started.elapsed()
    );
}

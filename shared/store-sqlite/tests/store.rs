//! The SQLite store against the port's contract: migrations, compare-and-set, the open-request
//! rule, lists, counts and corrupt rows.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use cavra_core::approval::{Approval, ApprovalState};
use cavra_core::store::{ApprovalStore, Cursor, ListQuery, StoreError};
use cavra_core::time::Timestamp;
use cavra_store_sqlite::{SqliteStore, embedded_migrations, migrate};
use rusqlite::Connection;
use serde_json::json;

/// 2026-05-18T12:35:00Z in microseconds.
const T0: i64 = 1_779_107_700_000_000;

fn at(micros: i64) -> Timestamp {
    Timestamp::from_unix_micros(micros).unwrap()
}

/// A record as the workflow would build it.
fn record(
    id: &str,
    decision: &str,
    state: ApprovalState,
    group: &str,
    requested_at_us: i64,
) -> Approval {
    let requested = at(requested_at_us);
    serde_json::from_value(json!({
        "schema_version": "cavra.approval.v1",
        "product": "CAVRA",
        "approval_id": id,
        "decision_id": decision,
        "session_id": "local",
        "correlation_id": null,
        "state": state,
        "approver_group": group,
        "requested_by": "developer",
        "requested_at": requested.to_string(),
        "expires_at": requested.plus_hours(24).to_string(),
        "decision": {"decision_id": decision, "reason": "Matched approval-required path policy: iam/**"},
        "history": [{"event": "requested", "actor": "developer", "timestamp": requested.to_string(), "reason": null}],
        "evidence_refs": [format!("approval://{id}")],
    }))
    .unwrap()
}

fn pending(id: &str, decision: &str, group: &str, requested_at_us: i64) -> Approval {
    record(id, decision, ApprovalState::Pending, group, requested_at_us)
}

/// `approval` decided: state changed and version bumped, as the workflow hands it to `replace`.
fn decided(approval: &Approval, state: ApprovalState) -> Approval {
    let mut next = approval.clone();
    next.state = state;
    next.decided_by = Some("platform-security".into());
    next.decided_at = Some(approval.requested_at.plus_hours(1));
    next.decision_reason = Some("reviewed".into());
    next.version = approval.version + 1;
    next
}

fn open_store(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("approvals.db")).unwrap()
}

fn query(state: Option<ApprovalState>, group: Option<&str>, limit: i64, offset: i64) -> ListQuery {
    ListQuery::new(state, group.map(str::to_owned), Some(limit), Some(offset))
}

#[test]
fn migrating_twice_applies_everything_once_and_then_skips_everything() {
    // GIVEN no database file in a folder that does not exist yet
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".cavra/approvals.db");
    // WHEN migrate runs twice
    let first = migrate(&path).unwrap();
    let second = migrate(&path).unwrap();
    // THEN the first run applies every embedded migration, the second skips them all
    assert_eq!(first.applied, embedded_migrations());
    assert!(first.skipped.is_empty());
    assert!(second.applied.is_empty());
    assert_eq!(second.skipped, embedded_migrations());
    // AND the report has the original's keys
    let report = serde_json::to_value(&second).unwrap();
    assert_eq!(report["database"], path.display().to_string());
    assert_eq!(report["migrations"], "embedded");
    assert!(report["applied"].as_array().unwrap().is_empty());
    assert!(path.exists());
}

#[tokio::test]
async fn opening_a_migrated_database_again_keeps_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    store
        .insert(&pending("apr_000000000001", "dec_1", "IAM", T0))
        .await
        .unwrap();
    drop(store);
    let again = open_store(dir.path());
    assert_eq!(
        again
            .get("apr_000000000001")
            .await
            .unwrap()
            .unwrap()
            .decision_id,
        "dec_1"
    );
    assert_eq!(again.path(), dir.path().join("approvals.db"));
}

/// Creates a database exactly as the original program leaves it: the §9.2 table and indexes,
/// its own migration records, and rows written with only those columns.
fn original_database(path: &Path, rows: &[(&str, &str, &str, &str)]) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS approvals (approval_id TEXT PRIMARY KEY, decision_id TEXT NOT NULL, session_id TEXT,
            state TEXT NOT NULL, approver_group TEXT NOT NULL, requested_by TEXT, requested_at TEXT NOT NULL,
            expires_at TEXT NOT NULL, decided_by TEXT, decided_at TEXT, external_ref TEXT,
            break_glass INTEGER NOT NULL DEFAULT 0, payload TEXT NOT NULL);
         CREATE INDEX IF NOT EXISTS idx_approvals_state ON approvals (state);
         CREATE INDEX IF NOT EXISTS idx_approvals_group ON approvals (approver_group);
         CREATE INDEX IF NOT EXISTS idx_approvals_requested_at ON approvals (requested_at);
         CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL);
         INSERT INTO schema_migrations VALUES ('001_evidence_metadata.sql', '2026-05-01T00:00:00+00:00');
         INSERT INTO schema_migrations VALUES ('002_approval_router.sql', '2026-05-01T00:00:00+00:00');",
    )
    .unwrap();
    for (id, decision, state, requested_at) in rows {
        original_insert(&conn, id, decision, state, requested_at);
    }
}

/// The original program's upsert of a record it built (no contract keys).
fn original_insert(conn: &Connection, id: &str, decision: &str, state: &str, requested_at: &str) {
    let payload = json!({
        "approval_id": id, "approver_group": "IAM", "correlation_id": null,
        "decision": {"decision_id": decision}, "decision_id": decision,
        "evidence_refs": [format!("approval://{id}")], "expires_at": "2026-05-19T12:35:00.000002+00:00",
        "history": [{"actor": "developer", "event": "requested", "reason": null, "timestamp": requested_at}],
        "product": "CAVRA", "requested_at": requested_at, "requested_by": "developer",
        "schema_version": "cavra.approval.v1", "session_id": "local", "state": state,
    });
    conn.execute(
        "INSERT INTO approvals (approval_id, decision_id, session_id, state, approver_group, requested_by, requested_at,
            expires_at, decided_by, decided_at, external_ref, break_glass, payload)
         VALUES (?1, ?2, 'local', ?3, 'IAM', 'developer', ?4, '2026-05-19T12:35:00.000002+00:00', NULL, NULL, NULL, 0, ?5)
         ON CONFLICT(approval_id) DO UPDATE SET state = excluded.state, payload = excluded.payload",
        (id, decision, state, requested_at, payload.to_string()),
    )
    .unwrap();
}

#[tokio::test]
async fn a_database_created_by_the_original_is_upgraded_on_open_and_its_rows_listed() {
    // GIVEN a database the original program created, with one pending row
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("approvals.db");
    original_database(
        &path,
        &[(
            "apr_5c0e1d9b2a77",
            "dec_3f9a1c2b7d4e",
            "pending",
            "2026-05-18T12:35:00.000001+00:00",
        )],
    );
    // WHEN this store opens it
    let store = SqliteStore::open(&path).unwrap();
    // THEN the row is listed, counted and readable, at version 0
    let page = store
        .list(&query(Some(ApprovalState::Pending), Some("IAM"), 50, 0))
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.items.len(), 1);
    let row = &page.items[0];
    assert_eq!(row.approval_id, "apr_5c0e1d9b2a77");
    assert_eq!(row.version, 0);
    assert_eq!(
        store
            .list(&ListQuery::new(None, None, None, None))
            .await
            .unwrap()
            .total,
        1
    );
    // AND its sort key is exact to the microsecond (a cursor after it excludes it)
    let cursor = Cursor::after(row);
    let mut next = query(None, None, 50, 0);
    next.cursor = Some(cursor);
    assert!(store.list(&next).await.unwrap().items.is_empty());
    // AND it can be found open and decided by compare-and-set
    assert!(
        store
            .find_open_by_decision("dec_3f9a1c2b7d4e")
            .await
            .unwrap()
            .is_some()
    );
    store
        .replace(
            &decided(row, ApprovalState::Approved),
            0,
            ApprovalState::Pending,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .get("apr_5c0e1d9b2a77")
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
    // AND the original's migration records are kept, ours added
    let report = migrate(&path).unwrap();
    assert_eq!(report.skipped, embedded_migrations());
}

#[tokio::test]
async fn an_original_database_with_two_open_requests_for_one_decision_still_opens() {
    // GIVEN the original allowed a second pending request for the same decision
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("approvals.db");
    original_database(
        &path,
        &[
            (
                "apr_00000000000a",
                "dec_dup",
                "pending",
                "2026-05-18T12:35:00.000001+00:00",
            ),
            (
                "apr_00000000000b",
                "dec_dup",
                "pending",
                "2026-05-18T13:35:00.000001+00:00",
            ),
        ],
    );
    // WHEN this store opens it
    let store = SqliteStore::open(&path).unwrap();
    // THEN both stay listed, the newest is the open one, and no third can be added
    assert_eq!(
        store
            .list(&query(Some(ApprovalState::Pending), None, 50, 0))
            .await
            .unwrap()
            .total,
        2
    );
    let open = store
        .find_open_by_decision("dec_dup")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(open.approval_id, "apr_00000000000b");
    let third = store
        .insert(&pending("apr_00000000000c", "dec_dup", "IAM", T0))
        .await
        .unwrap_err();
    assert!(matches!(third, StoreError::DuplicateOpenDecision(ref d) if d == "dec_dup"));
}

#[tokio::test]
async fn rows_the_original_program_writes_after_the_upgrade_get_sort_keys_counts_and_versions() {
    // GIVEN an upgraded database
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("approvals.db");
    original_database(&path, &[]);
    let store = SqliteStore::open(&path).unwrap();
    // WHEN the original program inserts a row and later decides it, knowing only its columns
    let conn = Connection::open(&path).unwrap();
    original_insert(
        &conn,
        "apr_0000000000f1",
        "dec_f",
        "pending",
        "2026-05-18T12:35:00.123456+00:00",
    );
    // THEN it is listed in place, counted, and its exact time is its sort key
    let page = store.list(&query(None, None, 50, 0)).await.unwrap();
    assert_eq!(page.total, 1);
    let row = store.get("apr_0000000000f1").await.unwrap().unwrap();
    let key: i64 = conn
        .query_row(
            "SELECT requested_at_us FROM approvals WHERE approval_id = 'apr_0000000000f1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(key, row.requested_at.unix_micros());
    // AND its decision moves the version, so a stale compare-and-set fails
    original_insert(
        &conn,
        "apr_0000000000f1",
        "dec_f",
        "approved",
        "2026-05-18T12:35:00.123456+00:00",
    );
    let after = store.get("apr_0000000000f1").await.unwrap().unwrap();
    assert_eq!(after.version, 1);
    assert_eq!(
        store
            .list(&query(Some(ApprovalState::Approved), None, 50, 0))
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        store
            .list(&query(Some(ApprovalState::Pending), None, 50, 0))
            .await
            .unwrap()
            .total,
        0
    );
    let stale = store
        .replace(
            &decided(&row, ApprovalState::Denied),
            0,
            ApprovalState::Pending,
        )
        .await
        .unwrap_err();
    assert!(matches!(stale, StoreError::VersionConflict(_)));
}

#[tokio::test]
async fn insert_then_get_returns_the_same_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let mut original = pending("apr_000000000001", "dec_1", "IAM", T0 + 7);
    original.decision_digest = Some("ab".repeat(32));
    original.break_glass = Some(true);
    store.insert(&original).await.unwrap();
    assert_eq!(store.get("apr_000000000001").await.unwrap(), Some(original));
    assert_eq!(store.get("apr_00000000000f").await.unwrap(), None);
}

#[tokio::test]
async fn inserting_an_existing_id_fails_with_duplicate_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    store
        .insert(&pending("apr_000000000001", "dec_1", "IAM", T0))
        .await
        .unwrap();
    let again = store
        .insert(&record(
            "apr_000000000001",
            "dec_2",
            ApprovalState::Approved,
            "IAM",
            T0,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(again, StoreError::DuplicateId(ref id) if id == "apr_000000000001"),
        "{again:?}"
    );
}

#[tokio::test]
async fn compare_and_set_refuses_stale_versions_wrong_states_and_unknown_ids() {
    // GIVEN a pending record at version 0
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let first = pending("apr_000000000001", "dec_1", "IAM", T0);
    store.insert(&first).await.unwrap();
    // WHEN it is approved once (version 0 → 1)
    store
        .replace(
            &decided(&first, ApprovalState::Approved),
            0,
            ApprovalState::Pending,
        )
        .await
        .unwrap();
    // THEN a second writer that read version 0 loses
    let stale = store
        .replace(
            &decided(&first, ApprovalState::Denied),
            0,
            ApprovalState::Pending,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(stale, StoreError::VersionConflict(ref id) if id == "apr_000000000001"),
        "{stale:?}"
    );
    // AND the right version with the wrong expected state loses too
    let stored = store.get("apr_000000000001").await.unwrap().unwrap();
    assert_eq!((stored.state, stored.version), (ApprovalState::Approved, 1));
    let wrong_state = store
        .replace(
            &decided(&stored, ApprovalState::Denied),
            1,
            ApprovalState::Pending,
        )
        .await
        .unwrap_err();
    assert!(matches!(wrong_state, StoreError::VersionConflict(_)));
    // AND an unknown id is not found
    let missing = pending("apr_0000000000ff", "dec_9", "IAM", T0);
    let unknown = store
        .replace(
            &decided(&missing, ApprovalState::Approved),
            0,
            ApprovalState::Pending,
        )
        .await
        .unwrap_err();
    assert!(matches!(unknown, StoreError::NotFound(ref id) if id == "apr_0000000000ff"));
    // AND the winner's record is what is stored
    assert_eq!(stored.decision_reason.as_deref(), Some("reviewed"));
}

async fn race(stores: Vec<SqliteStore>, tasks: usize) -> usize {
    let first = pending("apr_000000000001", "dec_1", "IAM", T0);
    stores[0].insert(&first).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(tasks));
    let mut handles = Vec::new();
    for n in 0..tasks {
        let store = stores[n % stores.len()].clone();
        let barrier = Arc::clone(&barrier);
        let mut next = decided(
            &first,
            if n % 2 == 0 {
                ApprovalState::Approved
            } else {
                ApprovalState::Denied
            },
        );
        next.decided_by = Some(format!("approver-{n}"));
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            store.replace(&next, 0, ApprovalState::Pending).await
        }));
    }
    let mut winners = 0;
    for handle in handles {
        match handle.await.unwrap() {
            Ok(()) => winners += 1,
            Err(StoreError::VersionConflict(_)) => {}
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    let stored = stores[0].get("apr_000000000001").await.unwrap().unwrap();
    assert_eq!(stored.version, 1);
    assert_ne!(stored.state, ApprovalState::Pending);
    winners
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_racing_decisions_on_one_request_have_exactly_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(race(vec![open_store(dir.path())], 64).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_decisions_through_separate_connections_have_exactly_one_winner() {
    // Four stores on one file stand in for four processes: SQLite's locks decide.
    let dir = tempfile::tempdir().unwrap();
    let stores = (0..4).map(|_| open_store(dir.path())).collect();
    assert_eq!(race(stores, 64).await, 1);
}

#[tokio::test]
async fn one_open_request_per_decision_but_decided_ones_do_not_block_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let first = pending("apr_000000000001", "dec_1", "IAM", T0);
    store.insert(&first).await.unwrap();
    // a second pending request for the same decision is refused
    let second = store
        .insert(&pending("apr_000000000002", "dec_1", "IAM", T0 + 1))
        .await
        .unwrap_err();
    assert!(
        matches!(second, StoreError::DuplicateOpenDecision(ref d) if d == "dec_1"),
        "{second:?}"
    );
    assert_eq!(
        store
            .find_open_by_decision("dec_1")
            .await
            .unwrap()
            .unwrap()
            .approval_id,
        "apr_000000000001"
    );
    // a terminal record (break-glass) for the same decision is fine
    store
        .insert(&record(
            "apr_000000000003",
            "dec_1",
            ApprovalState::BreakGlass,
            "CAB",
            T0 + 2,
        ))
        .await
        .unwrap();
    // once the first is decided, a new pending request is accepted and is the open one
    store
        .replace(
            &decided(&first, ApprovalState::Denied),
            0,
            ApprovalState::Pending,
        )
        .await
        .unwrap();
    assert_eq!(store.find_open_by_decision("dec_1").await.unwrap(), None);
    store
        .insert(&pending("apr_000000000004", "dec_1", "IAM", T0 + 3))
        .await
        .unwrap();
    assert_eq!(
        store
            .find_open_by_decision("dec_1")
            .await
            .unwrap()
            .unwrap()
            .approval_id,
        "apr_000000000004"
    );
    assert_eq!(store.find_open_by_decision("dec_2").await.unwrap(), None);
}

/// 30 records over three groups; some share a timestamp to exercise the id tie-break.
async fn seeded() -> (tempfile::TempDir, SqliteStore, Vec<Approval>) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let groups = ["IAM", "Security", "Platform"];
    let mut all = Vec::new();
    for n in 0..30_i64 {
        let id = format!("apr_{:012x}", 1000 - n);
        let approval = pending(
            &id,
            &format!("dec_{n}"),
            groups[(n % 3) as usize],
            T0 + (n / 2) * 1_000_000,
        );
        store.insert(&approval).await.unwrap();
        all.push(approval);
    }
    (dir, store, all)
}

fn ids(items: &[Approval]) -> Vec<&str> {
    items.iter().map(|a| a.approval_id.as_str()).collect()
}

#[tokio::test]
async fn lists_filter_and_order_newest_first_then_by_id() {
    let (_dir, store, mut all) = seeded().await;
    cavra_core::store::sort_for_listing(&mut all);
    let page = store.list(&query(None, None, 500, 0)).await.unwrap();
    assert_eq!(ids(&page.items), ids(&all));
    assert_eq!(page.total, 30);
    assert_eq!(page.next_cursor, None);
    // ties on requested_at are broken by approval_id ascending
    assert!(
        page.items[0].requested_at == page.items[1].requested_at
            && page.items[0].approval_id < page.items[1].approval_id
    );

    let iam = store.list(&query(None, Some("IAM"), 500, 0)).await.unwrap();
    let expected: Vec<&str> = all
        .iter()
        .filter(|a| a.approver_group == "IAM")
        .map(|a| a.approval_id.as_str())
        .collect();
    assert_eq!(ids(&iam.items), expected);
    assert_eq!(iam.total, 10);
    assert_eq!(
        store
            .list(&query(Some(ApprovalState::Approved), None, 50, 0))
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        store
            .list(&query(Some(ApprovalState::Pending), Some("Nobody"), 50, 0))
            .await
            .unwrap()
            .total,
        0
    );

    // offset slices the same order
    let sliced = store.list(&query(None, None, 5, 10)).await.unwrap();
    assert_eq!(ids(&sliced.items), ids(&all[10..15]));
    assert_eq!((sliced.limit, sliced.offset, sliced.total), (5, 10, 30));
}

#[tokio::test]
async fn cursor_pagination_walks_every_record_exactly_once() {
    let (_dir, store, all) = seeded().await;
    for (state, group, expected) in [
        (None, None, 30),
        (Some(ApprovalState::Pending), None, 30),
        (None, Some("Security"), 10),
        (Some(ApprovalState::Pending), Some("Platform"), 10),
    ] {
        let mut seen = Vec::new();
        let mut q = query(state, group, 4, 0);
        loop {
            let page = store.list(&q).await.unwrap();
            assert_eq!(page.total, expected);
            seen.extend(page.items.iter().map(|a| a.approval_id.clone()));
            match page.next_cursor {
                Some(next) => q.cursor = Some(Cursor::decode(&next).unwrap()),
                None => break,
            }
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(seen.len(), expected as usize, "{state:?} {group:?}");
        assert_eq!(unique.len(), seen.len());
        let mut sorted: Vec<Approval> = all
            .iter()
            .filter(|a| group.is_none_or(|g| a.approver_group == g))
            .cloned()
            .collect();
        cavra_core::store::sort_for_listing(&mut sorted);
        assert_eq!(
            seen,
            sorted
                .iter()
                .map(|a| a.approval_id.clone())
                .collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn counts_follow_state_changes() {
    let (_dir, store, all) = seeded().await;
    let iam: Vec<&Approval> = all.iter().filter(|a| a.approver_group == "IAM").collect();
    store
        .replace(
            &decided(iam[0], ApprovalState::Approved),
            0,
            ApprovalState::Pending,
        )
        .await
        .unwrap();
    store
        .replace(
            &decided(iam[1], ApprovalState::Denied),
            0,
            ApprovalState::Pending,
        )
        .await
        .unwrap();
    // a lost race changes nothing
    let _ = store
        .replace(
            &decided(iam[1], ApprovalState::Approved),
            0,
            ApprovalState::Pending,
        )
        .await
        .unwrap_err();
    let total = |state, group: Option<&'static str>| {
        let store = store.clone();
        async move { store.list(&query(state, group, 1, 0)).await.unwrap().total }
    };
    assert_eq!(total(None, None).await, 30);
    assert_eq!(total(Some(ApprovalState::Pending), None).await, 28);
    assert_eq!(total(Some(ApprovalState::Approved), None).await, 1);
    assert_eq!(total(Some(ApprovalState::Denied), Some("IAM")).await, 1);
    assert_eq!(total(Some(ApprovalState::Pending), Some("IAM")).await, 8);
    assert_eq!(total(None, Some("IAM")).await, 10);
    assert_eq!(total(Some(ApprovalState::Expired), None).await, 0);
    let approved = store
        .list(&query(Some(ApprovalState::Approved), Some("IAM"), 50, 0))
        .await
        .unwrap();
    assert_eq!(ids(&approved.items), [iam[0].approval_id.as_str()]);
}

#[tokio::test]
async fn overdue_returns_pending_records_past_expiry_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    // expiries: T0+24h+0s, +1s, +2s, +3s (pending) and one approved
    for n in 0..4_i64 {
        store
            .insert(&pending(
                &format!("apr_00000000000{n}"),
                &format!("dec_{n}"),
                "IAM",
                T0 + (3 - n) * 1_000_000,
            ))
            .await
            .unwrap();
    }
    store
        .insert(&record(
            "apr_00000000000a",
            "dec_a",
            ApprovalState::Approved,
            "IAM",
            T0 - 1_000_000,
        ))
        .await
        .unwrap();
    let now = at(T0).plus_hours(24).plus_millis(2500);
    let due = store.overdue(now, 10).await.unwrap();
    assert_eq!(
        ids(&due),
        ["apr_000000000003", "apr_000000000002", "apr_000000000001"]
    );
    assert_eq!(
        ids(&store.overdue(now, 1).await.unwrap()),
        ["apr_000000000003"]
    );
    assert!(store.overdue(at(T0), 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_payload_that_does_not_parse_is_reported_as_corrupt_not_a_panic() {
    // GIVEN a stored record whose payload was damaged outside the store
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    store
        .insert(&pending("apr_000000000001", "dec_1", "IAM", T0))
        .await
        .unwrap();
    let conn = Connection::open(store.path()).unwrap();
    conn.execute("UPDATE approvals SET payload = '{\"approval_id\": 7' WHERE approval_id = 'apr_000000000001'", []).unwrap();
    // WHEN it is listed THEN the page leaves it out and reports it by id (issue E §6)
    let page = store.list(&query(None, None, 50, 0)).await.unwrap();
    assert!(page.items.is_empty());
    assert_eq!(page.unreadable, ["apr_000000000001"]);
    assert_eq!(page.total, 1);
    // WHEN it is read or found
    let errors = [
        store.get("apr_000000000001").await.unwrap_err(),
        store.find_open_by_decision("dec_1").await.unwrap_err(),
    ];
    // THEN each read says where the damage is
    for error in errors {
        match error {
            StoreError::Corrupt { location, detail } => {
                assert_eq!(
                    location,
                    format!("{} approvals/apr_000000000001", store.path().display())
                );
                assert!(!detail.is_empty());
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_an_unexpected_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("approvals.db");
    std::fs::write(
        &path,
        b"this is not a SQLite database, just some text that is long enough to be read",
    )
    .unwrap();
    let error = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(error, StoreError::Unexpected(_)));
    assert!(
        format!("{error:#}").contains(&path.display().to_string()),
        "{error:#}"
    );
}

//! The DynamoDB adapter beyond the store contract, on the emulator: what is specific to
//! DynamoDB. Corrupt items name their key; cursor pages cross DynamoDB's 1 MB Query pages;
//! lists and the sweep only Query (never Scan) and each port call costs the requests the crate
//! docs promise; a cancelled transaction writes nothing; a `TransactionConflict` is retried, not
//! reported as a lost race.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use cavra_core::approval::{Approval, ApprovalState};
use cavra_core::store::{ApprovalStore, Cursor, ListQuery, StoreError};
use cavra_e2e::emulator::{self, RequestCounter};
use cavra_e2e::fixtures::{at, pending_record};
use cavra_store_dynamodb::DynamoStore;
use serde_json::json;

/// A store on a fresh table whose client counts its requests.
async fn counted_store() -> (DynamoStore, RequestCounter) {
    let counter = RequestCounter::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        emulator::dynamodb_config()
            .interceptor(counter.clone())
            .build(),
    );
    let table = emulator::fresh_table(&client, "adapter").await;
    (DynamoStore::new(client, table), counter)
}

fn decided(record: &Approval, state: ApprovalState) -> Approval {
    let mut next = record.clone();
    next.state = state;
    next.version = record.version + 1;
    next
}

#[tokio::test]
async fn a_corrupt_item_is_a_clear_error_that_names_its_key() {
    // GIVEN a record item whose JSON is damaged, with its index keys intact
    let (store, _) = counted_store().await;
    let record = pending_record(1, "dec_corrupt", None, at(0));
    store.insert(&record).await.unwrap();
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key(
            "pk",
            AttributeValue::S(format!("approval#{}", record.approval_id)),
        )
        .update_expression("SET #r = :bad")
        .expression_attribute_names("#r", "record")
        .expression_attribute_values(":bad", AttributeValue::S("{\"approval_id\": tru".into()))
        .send()
        .await
        .unwrap();
    // WHEN it is read, found open, or listed
    let get = store.get(&record.approval_id).await.unwrap_err();
    let open = store
        .find_open_by_decision("dec_corrupt")
        .await
        .unwrap_err();
    let page = store
        .list(&ListQuery::new(None, None, None, None))
        .await
        .unwrap();
    // THEN a list leaves it out and reports it by id (issue E §6: one bad item never fails
    // a whole list), and each single read is StoreError::Corrupt naming the table and key
    assert!(page.items.is_empty());
    assert_eq!(page.unreadable, std::slice::from_ref(&record.approval_id));
    for error in [get, open] {
        match &error {
            StoreError::Corrupt { location, detail } => {
                assert_eq!(
                    location,
                    &format!(
                        "DynamoDB table {} item pk=approval#{}",
                        store.table(),
                        record.approval_id
                    )
                );
                assert!(
                    detail.starts_with("record is not an approval record"),
                    "{detail}"
                );
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert!(error.to_string().contains("approval#apr_000000000001"));
    }
}

#[tokio::test]
async fn a_cancelled_transaction_writes_nothing() {
    let (store, _) = counted_store().await;
    let first = pending_record(1, "dec_once", None, at(0));
    store.insert(&first).await.unwrap();
    // a second open request for the decision: the record Put passes, the guard Put fails
    let twin = pending_record(2, "dec_once", None, at(1));
    assert!(matches!(
        store.insert(&twin).await,
        Err(StoreError::DuplicateOpenDecision(d)) if d == "dec_once"
    ));
    assert_eq!(store.get(&twin.approval_id).await.unwrap(), None);
    let page = store
        .list(&ListQuery::new(None, None, None, None))
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(
        store
            .find_open_by_decision("dec_once")
            .await
            .unwrap()
            .unwrap()
            .approval_id,
        first.approval_id
    );
}

#[tokio::test]
async fn each_port_call_costs_the_documented_requests_and_nothing_scans() {
    // GIVEN a few records in two groups, one decided, one overdue
    let (store, counter) = counted_store().await;
    let mut records = Vec::new();
    for n in 0..6_u64 {
        let group = if n % 2 == 0 { "IAM" } else { "Cloud Security" };
        let record = pending_record(n + 1, &format!("dec_{n}"), Some(group), at(n as i64 * 60));
        store.insert(&record).await.unwrap();
        records.push(record);
    }
    let mut glass = pending_record(9, "dec_glass", Some("IAM"), at(0));
    glass.state = ApprovalState::BreakGlass;
    assert_eq!(
        counter.take().get("TransactWriteItems"),
        Some(&6),
        "pending inserts are transactions"
    );
    store.insert(&glass).await.unwrap();
    assert_eq!(
        counter.take(),
        [("TransactWriteItems".to_owned(), 1)].into(),
        "a break-glass insert is one transaction: the record and its list counters"
    );

    // WHEN each call is made THEN it costs what the crate docs say
    store.get(&records[0].approval_id).await.unwrap().unwrap();
    assert_eq!(counter.take(), [("GetItem".to_owned(), 1)].into());
    store.find_open_by_decision("dec_1").await.unwrap().unwrap();
    assert_eq!(counter.take(), [("GetItem".to_owned(), 2)].into());
    store
        .replace(
            &decided(&records[0], ApprovalState::Approved),
            records[0].version,
            ApprovalState::Pending,
        )
        .await
        .unwrap();
    assert_eq!(
        counter.take(),
        [("TransactWriteItems".to_owned(), 1)].into()
    );
    let mut review = glass.clone();
    review.version += 1;
    review.review_required = Some(false);
    store
        .replace(&review, glass.version, ApprovalState::BreakGlass)
        .await
        .unwrap();
    assert_eq!(
        counter.take(),
        [("PutItem".to_owned(), 1)].into(),
        "a change that stays out of pending is one PutItem"
    );
    let stale = store
        .replace(
            &decided(&records[0], ApprovalState::Denied),
            records[0].version,
            ApprovalState::Pending,
        )
        .await;
    assert!(matches!(stale, Err(StoreError::VersionConflict(_))));
    assert_eq!(
        counter.take(),
        [("TransactWriteItems".to_owned(), 1)].into(),
        "a lost race needs no extra read (the old item comes back with the failure)"
    );

    for state in [None, Some(ApprovalState::Pending)] {
        for group in [None, Some("IAM".to_owned())] {
            for offset in [0, 2] {
                let mut query = ListQuery::new(state, group.clone(), Some(2), Some(offset));
                for _ in 0..2 {
                    let page = store.list(&query).await.unwrap();
                    // one Query for the page and one GetItem of the counter for the total
                    // (issue G §5); an offset without a cursor first reads the skipped
                    // positions with one more Query
                    let skip = u64::from(query.cursor.is_none() && offset > 0);
                    assert_eq!(
                        counter.take(),
                        [("Query".to_owned(), 1 + skip), ("GetItem".to_owned(), 1)].into(),
                        "{query:?}"
                    );
                    query.cursor = page
                        .next_cursor
                        .as_deref()
                        .map(|c| Cursor::decode(c).unwrap());
                }
            }
        }
    }
    let overdue = store.overdue(at(48 * 3600), 10).await.unwrap();
    assert_eq!(overdue.len(), 5, "five pending requests are past expiry");
    assert_eq!(counter.take(), [("Query".to_owned(), 1)].into());
    assert!(!counter.counts().contains_key("Scan"));
}

#[tokio::test]
async fn cursor_pages_cross_dynamodb_one_megabyte_query_pages() {
    // GIVEN 30 records of about 100 KB each: 3 MB in one index partition, so a Query page
    // (at most 1 MB) holds about nine of them
    let (store, counter) = counted_store().await;
    let mut ids = Vec::new();
    for n in 0..30_u64 {
        let mut record = pending_record(n + 1, &format!("dec_big_{n}"), None, at(n as i64 / 3));
        record
            .extra
            .insert("padding".into(), json!("x".repeat(100_000)));
        store.insert(&record).await.unwrap();
        ids.push(record);
    }
    cavra_core::store::sort_for_listing(&mut ids);
    let expected: Vec<String> = ids.iter().map(|r| r.approval_id.clone()).collect();
    counter.take();

    // WHEN one page asks for more records than a Query page holds
    let page = store
        .list(&ListQuery::new(None, None, Some(25), None))
        .await
        .unwrap();
    // THEN the adapter followed LastEvaluatedKey: 25 records in list order, and the total
    // counted across pages too
    assert_eq!(page.items.len(), 25);
    assert_eq!(page.total, 30);
    let got: Vec<&str> = page.items.iter().map(|r| r.approval_id.as_str()).collect();
    assert_eq!(
        got,
        expected[..25]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    let queries = counter.take()["Query"];
    assert!(
        queries >= 3,
        "the page needed several Query pages: {queries}"
    );

    // AND a cursor walk with pages of 11 visits every record once, in order
    let mut seen = Vec::new();
    let mut query = ListQuery::new(None, None, Some(11), None);
    loop {
        let page = store.list(&query).await.unwrap();
        seen.extend(page.items.into_iter().map(|r| r.approval_id));
        match page.next_cursor {
            Some(text) => query.cursor = Some(Cursor::decode(&text).unwrap()),
            None => break,
        }
    }
    assert_eq!(seen, expected);
    // AND an offset deep into the list skips across Query pages
    let deep = store
        .list(&ListQuery::new(None, None, Some(3), Some(26)))
        .await
        .unwrap();
    let got: Vec<String> = deep.items.into_iter().map(|r| r.approval_id).collect();
    assert_eq!(got, expected[26..29].to_vec());
    // AND an offset past the end is an empty last page
    let past = store
        .list(&ListQuery::new(None, None, Some(3), Some(40)))
        .await
        .unwrap();
    assert!(past.items.is_empty() && past.next_cursor.is_none());
    assert_eq!(past.total, 30);
    emulator::delete_table(store.client(), store.table()).await;
}

// ---- transaction conflicts ------------------------------------------------------------

/// Marks an attempt whose response is replaced.
#[derive(Debug, Clone)]
struct Injected;

impl Storable for Injected {
    type Storer = StoreReplace<Self>;
}

/// Turns the next `remaining` TransactWriteItems attempts into the service's
/// `TransactionCanceledException` with a `TransactionConflict` reason (what DynamoDB answers
/// when another transaction holds an item). The real request is replaced by an empty
/// transaction first, so nothing is written by an injected attempt.
#[derive(Debug, Clone, Default)]
struct InjectConflicts {
    remaining: Arc<AtomicU32>,
    injected: Arc<AtomicU32>,
}

const CONFLICT: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]","CancellationReasons":[{"Code":"None"},{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]}"#;

impl Intercept for InjectConflicts {
    fn name(&self) -> &'static str {
        "inject-transaction-conflicts"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let transaction = cfg
            .load::<Metadata>()
            .is_some_and(|m| m.name() == "TransactWriteItems");
        if !transaction
            || self
                .remaining
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_err()
        {
            return Ok(());
        }
        self.injected.fetch_add(1, Ordering::SeqCst);
        let empty = r#"{"TransactItems":[]}"#;
        let request = context.request_mut();
        *request.body_mut() = SdkBody::from(empty);
        request
            .headers_mut()
            .insert("content-length", empty.len().to_string());
        cfg.interceptor_state().store_put(Injected);
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Injected>().is_none() {
            return Ok(());
        }
        cfg.interceptor_state().unset::<Injected>();
        let response = context.response_mut();
        *response.status_mut() = StatusCode::try_from(400)?;
        *response.body_mut() = SdkBody::from(CONFLICT);
        response
            .headers_mut()
            .insert("content-length", CONFLICT.len().to_string());
        response
            .headers_mut()
            .insert("x-amzn-errortype", "TransactionCanceledException");
        Ok(())
    }
}

#[tokio::test]
async fn a_transaction_conflict_is_retried_and_never_reported_as_a_lost_race() {
    // GIVEN a store whose next transactions meet conflicts
    let inject = InjectConflicts::default();
    let counter = RequestCounter::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        emulator::dynamodb_config()
            .interceptor(inject.clone())
            .interceptor(counter.clone())
            .build(),
    );
    let store = DynamoStore::new(
        client.clone(),
        emulator::fresh_table(&client, "conflict").await,
    );
    let record = pending_record(1, "dec_conflict", None, at(0));
    inject.remaining.store(2, Ordering::SeqCst);
    store
        .insert(&record)
        .await
        .expect("an insert outlasts two conflicts");
    assert_eq!(inject.injected.load(Ordering::SeqCst), 2);

    // WHEN a decision meets three conflicts
    inject.remaining.store(3, Ordering::SeqCst);
    counter.take();
    let approved = decided(&record, ApprovalState::Approved);
    store
        .replace(&approved, record.version, ApprovalState::Pending)
        .await
        .expect("a conflict is not a lost race");
    // THEN it was tried four times and won
    assert_eq!(counter.take()["TransactWriteItems"], 4);
    let stored = store.get(&record.approval_id).await.unwrap().unwrap();
    assert_eq!(
        (stored.state, stored.version),
        (ApprovalState::Approved, record.version + 1)
    );
    assert_eq!(
        store.find_open_by_decision("dec_conflict").await.unwrap(),
        None
    );

    // AND a conflict that never clears is an unexpected error, not a version conflict
    let second = pending_record(2, "dec_stuck", None, at(0));
    store.insert(&second).await.unwrap();
    inject.remaining.store(u32::MAX, Ordering::SeqCst);
    let error = store
        .replace(
            &decided(&second, ApprovalState::Denied),
            second.version,
            ApprovalState::Pending,
        )
        .await
        .unwrap_err();
    inject.remaining.store(0, Ordering::SeqCst);
    assert!(
        matches!(&error, StoreError::Unexpected(e) if e.to_string().contains("transaction conflict")),
        "{error:?}"
    );
    assert_eq!(
        store.get(&second.approval_id).await.unwrap().unwrap().state,
        ApprovalState::Pending,
        "nothing was written"
    );
}

/// Issue G §5: the service creates optimistically. A new request is one TransactWriteItems
/// (record + open-decision guard); only a conflict reads (the guard, then the open record),
/// and an idempotent retry reads the key's record once.
#[tokio::test]
async fn a_service_create_is_one_transaction_and_only_a_conflict_reads() {
    use cavra_core::decision::Decision;
    use cavra_core::ids::RandomIds;
    use cavra_core::service::ApprovalService;
    use cavra_core::time::SystemClock;
    use cavra_core::workflow::NewRequest;

    let (store, counter) = counted_store().await;
    let service = ApprovalService::new(Arc::new(store), Arc::new(SystemClock), Arc::new(RandomIds));
    let decision = |id: &str| {
        Decision::from_value(json!({
            "decision_id": id, "action_type": "write_file", "target": "iam/admin-role.tf",
            "rule_id": "filesystem.write.require_approval", "decision": "require_approval",
            "severity": "high", "reason": "r",
        }))
        .unwrap()
    };
    counter.take();

    let first = service
        .create(NewRequest::new(decision("dec_one")))
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(
        counter.take(),
        [("TransactWriteItems".to_owned(), 1)].into(),
        "a new request is one write and no read"
    );

    let again = service
        .create(NewRequest::new(decision("dec_one")))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.approval.approval_id, first.approval.approval_id);
    assert_eq!(
        counter.take(),
        [
            ("TransactWriteItems".to_owned(), 1),
            ("GetItem".to_owned(), 2)
        ]
        .into(),
        "the open request is read only after the write is refused"
    );

    let keyed = service
        .create_idempotent(NewRequest::new(decision("dec_two")), Some("retry-key"))
        .await
        .unwrap();
    assert!(keyed.created);
    assert_eq!(
        counter.take(),
        [("TransactWriteItems".to_owned(), 1)].into()
    );
    let retried = service
        .create_idempotent(NewRequest::new(decision("dec_two")), Some("retry-key"))
        .await
        .unwrap();
    assert!(!retried.created);
    assert_eq!(retried.approval.approval_id, keyed.approval.approval_id);
    let reads = counter.take();
    assert_eq!(reads.get("TransactWriteItems"), Some(&1), "{reads:?}");
    assert!(reads.get("GetItem").is_some_and(|n| *n <= 2), "{reads:?}");
    assert!(
        !reads.contains_key("Query") && !reads.contains_key("Scan"),
        "{reads:?}"
    );
}

// ---- list totals from counters (issue G §5) -------------------------------------------

/// Every list's total as the counters say, and as counting the records says.
async fn totals(store: &DynamoStore, groups: &[&str]) -> Vec<(String, u64, usize)> {
    let mut out = Vec::new();
    let states = [None]
        .into_iter()
        .chain(ApprovalState::ALL.into_iter().map(Some));
    for state in states {
        for group in [None].into_iter().chain(groups.iter().map(|g| Some(*g))) {
            let query = ListQuery::new(state, group.map(str::to_owned), Some(1000), None);
            let page = store.list(&query).await.unwrap();
            assert!(page.next_cursor.is_none(), "one page holds every record");
            out.push((format!("{state:?}/{group:?}"), page.total, page.items.len()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_totals_come_from_counters_kept_exact_by_every_write_and_recount_restores_them() {
    // GIVEN records created, decided concurrently (with lost races), broken glass and
    // re-reviewed, in two groups
    let (store, _counter) = counted_store().await;
    let groups = ["IAM", "Cloud Security"];
    let mut records = Vec::new();
    for n in 0..12_u64 {
        let group = groups[(n % 2) as usize];
        let record = pending_record(n + 1, &format!("dec_{n}"), Some(group), at(n as i64));
        store.insert(&record).await.unwrap();
        records.push(record);
    }
    let mut glass = pending_record(99, "dec_glass", Some("IAM"), at(0));
    glass.state = ApprovalState::BreakGlass;
    store.insert(&glass).await.unwrap();
    // a duplicate insert is refused and counts nothing
    assert!(store.insert(&records[0]).await.is_err());
    let mut racers = Vec::new();
    for record in records.iter().take(8) {
        for target in [ApprovalState::Approved, ApprovalState::Denied] {
            let store = store.clone();
            let record = record.clone();
            racers.push(tokio::spawn(async move {
                store
                    .replace(
                        &decided(&record, target),
                        record.version,
                        ApprovalState::Pending,
                    )
                    .await
                    .is_ok()
            }));
        }
    }
    let mut won = 0;
    for racer in racers {
        won += usize::from(racer.await.unwrap());
    }
    assert_eq!(won, 8, "exactly one decider wins each request");

    // WHEN the lists are read THEN each total (one counter read) equals the records listed
    let before = totals(&store, &groups).await;
    for (list, total, seen) in &before {
        assert_eq!(*total as usize, *seen, "{list}");
    }
    let all = before.iter().find(|(l, _, _)| l == "None/None").unwrap();
    assert_eq!(all.1, 13);

    // AND a table whose counters were lost (written before they existed) is recounted
    let client = store.client();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(store.table())
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in out.items() {
            let pk = item["pk"].as_s().unwrap();
            if pk.starts_with("count#") {
                client
                    .delete_item()
                    .table_name(store.table())
                    .key("pk", item["pk"].clone())
                    .send()
                    .await
                    .unwrap();
            }
        }
        start = out.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    assert_eq!(
        totals(&store, &groups).await[0].1,
        0,
        "no counter reads as zero"
    );
    let counters = store.recount().await.unwrap();
    assert_eq!(counters["count#all_pk#approval"], 13);
    assert_eq!(totals(&store, &groups).await, before);
    emulator::delete_table(store.client(), store.table()).await;
}

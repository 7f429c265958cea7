//! `cavra-store-dynamodb`: the DynamoDB adapter of the approval store port
//! ([`cavra_core::store::ApprovalStore`]), on `aws-sdk-dynamodb`.
//!
//! # Table design (`localstack/table.json`, `infra/template.yaml`)
//!
//! One table, hash key `pk` (string), two kinds of item:
//!
//! * **Record** `pk = "approval#<approval_id>"`: the full record as JSON with sorted keys in
//!   `record`, the compare-and-set counter `version` (authoritative), and the keys of five
//!   sparse global secondary indexes (all projecting `ALL`):
//!
//!   | index | hash key | range key | answers |
//!   | --- | --- | --- | --- |
//!   | `gsi_all` | `all_pk` (always `approval`) | `sort` | lists without a filter |
//!   | `gsi_state` | `state` | `sort` | lists by state |
//!   | `gsi_group` | `approver_group` | `sort` | lists by group |
//!   | `gsi_state_group` | `state_group` (`"<state>#<group>"`) | `sort` | lists by both |
//!   | `gsi_expiry` | `state` | `expires_at_us` (number) | the overdue sweep |
//!
//!   `sort` is the list order as one string, ascending (see [`item::sort_key`]):
//!   `requested_at` descending, then `approval_id` ascending.
//! * **List counter** `pk = "count#<index hash attribute>#<hash value>"` (e.g.
//!   `count#state#pending`, `count#state_group#pending#IAM`), number `n`: how many records
//!   that list holds. Every write that adds a record or changes its state moves the counters
//!   of the four lists it is in (all, state, group, state+group) with `ADD` in the same
//!   `TransactWriteItems`, so a list's `total` is one GetItem, never a count of the index
//!   (issue G §5). A counter never written reads as 0. A table written before the counters
//!   existed is recounted once with `cavra approval migrate --dynamodb-table NAME`
//!   ([`DynamoStore::recount`]).
//! * **Open-decision guard** `pk = "open#<decision_id>"`, holding the `approval_id` of the
//!   decision's one open (`pending`) request. It has no index keys, so no list sees it. It
//!   exists exactly while that request is pending: a record enters or leaves `pending` in one
//!   `TransactWriteItems` together with the guard's conditional Put or Delete. This is how
//!   "one open request per decision" (CONTRACT §1) holds without a unique index.
//!
//! # Requests per operation
//!
//! | port call | DynamoDB requests |
//! | --- | --- |
//! | `get` | one strongly consistent GetItem |
//! | `find_open_by_decision` | GetItem of the guard, then GetItem of the record it names |
//! | `insert` (pending) | one TransactWriteItems: Put record + Put guard, both `attribute_not_exists(pk)`, + 4 counter Updates |
//! | `insert` (not pending, e.g. break-glass) | one TransactWriteItems: Put record `attribute_not_exists(pk)` + 4 counter Updates |
//! | `replace` keeping the state | one PutItem, `#state = :expected AND #version = :v` |
//! | `replace` changing the state | one TransactWriteItems: that Put + the counter Updates (4), + Delete (Put) of the guard when leaving (entering) `pending` |
//! | `list` | one Query on one GSI for the page (limit + 1 items; more only across 1 MB pages), in parallel with one GetItem of the list's counter for `total`; an offset first reads the skipped positions (keys only) |
//! | `overdue` | Query pages on `gsi_expiry`: `state = pending AND expires_at_us < now` |
//!
//! Nothing ever Scans (CONTRACT §7). Failed conditions translate to the port's errors exactly
//! as the other adapters report them: [`StoreError::DuplicateId`],
//! [`StoreError::DuplicateOpenDecision`], [`StoreError::VersionConflict`],
//! [`StoreError::NotFound`]. A `TransactionConflict` (another transaction held one of the
//! items) is not a lost race: the write is retried with exponential backoff and jitter, and
//! its condition then decides.
//!
//! # Costs and limits
//!
//! * `total` is one read of a counter item (0.5–1 read unit) whatever the list's size. The
//!   counters are hot items: concurrent transactions on one counter conflict, and the
//!   conflict is retried with backoff (below), which is ample at approval traffic (well under
//!   a hundred writes a second).
//! * Index reads are eventually consistent in AWS (GSIs cannot be read strongly), so a list
//!   may lag a write by a moment; `get` and every compare-and-set read are strongly
//!   consistent.
//! * `gsi_all` has one hash key value, so all records share one index partition: fine for
//!   approval traffic (well under a thousand writes a second).
//! * A record item, history included, must stay under DynamoDB's 400 KB item limit; a write
//!   over it fails with the service's validation error.
//!
//! The endpoint, region and credentials come from the standard AWS settings
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, …), so the same code runs against AWS, LocalStack and
//! moto.

// Issue E §6: outside input never panics here. Tests may unwrap.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

pub mod item;

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata as _, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use cavra_core::approval::{Approval, ApprovalState};
use cavra_core::store::{ApprovalPage, ApprovalStore, ListQuery, StoreError};
use cavra_core::time::Timestamp;

use crate::item::{Item, ListIndex, Reason};

/// How many times a write that met a `TransactionConflict` is tried in all.
const CONFLICT_ATTEMPTS: u32 = 12;
/// The first backoff after a conflict; it doubles per attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
/// The longest backoff between two attempts.
const MAX_BACKOFF: Duration = Duration::from_millis(400);

/// The approval store in one DynamoDB table (see the crate docs for the design).
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl DynamoStore {
    /// A store on `table` with a client configured from the standard AWS settings (environment,
    /// profile, instance or Lambda role; `AWS_ENDPOINT_URL` for an emulator). Makes no request.
    ///
    /// # Errors
    /// No AWS region is configured.
    pub async fn from_env(table: String) -> anyhow::Result<Self> {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        if config.region().is_none() {
            anyhow::bail!(
                "no AWS region is configured for the DynamoDB approval table {table} (set AWS_REGION)"
            );
        }
        Ok(Self::new(Client::new(&config), table))
    }

    /// A store on `table` through an existing client.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn unexpected<E, R>(&self, operation: &str, error: &SdkError<E, R>) -> StoreError
    where
        E: std::error::Error + 'static,
        R: fmt::Debug,
    {
        StoreError::Unexpected(anyhow::anyhow!(
            "DynamoDB {operation} on table {} failed: {}",
            self.table,
            DisplayErrorContext(error)
        ))
    }

    /// One strongly consistent GetItem.
    async fn get_item(&self, pk: String) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item::key(pk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.unexpected("GetItem", &e))?;
        Ok(output.item)
    }

    /// Runs `write` until it is not a transaction conflict, backing off between attempts.
    async fn with_conflict_retry<F, Fut>(&self, what: &str, mut write: F) -> Result<(), StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), Attempt>>,
    {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=CONFLICT_ATTEMPTS {
            match write().await {
                Ok(()) => return Ok(()),
                Err(Attempt::Failed(error)) => return Err(error),
                Err(Attempt::Conflict) if attempt < CONFLICT_ATTEMPTS => {
                    tracing::debug!(what, attempt, "DynamoDB transaction conflict; retrying");
                    // Full jitter: racing writers spread out instead of colliding again.
                    let wait = backoff.mul_f64(fastrand::f64());
                    tokio::time::sleep(wait).await;
                    backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
                }
                Err(Attempt::Conflict) => break,
            }
        }
        Err(StoreError::Unexpected(anyhow::anyhow!(
            "DynamoDB table {}: {what} met a transaction conflict {CONFLICT_ATTEMPTS} times",
            self.table
        )))
    }

    /// Sends `writes` as one PutItem/DeleteItem (one write) or one TransactWriteItems.
    async fn send(&self, writes: &[Write]) -> Result<(), WriteFailure> {
        if let [single] = writes {
            return self.send_put(single).await;
        }
        let items = writes
            .iter()
            .map(|w| w.transact_item(&self.table))
            .collect::<Result<Vec<_>, _>>()
            .map_err(WriteFailure::Failed)?;
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => Err(match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    WriteFailure::Cancelled(item::reasons(cancelled.cancellation_reasons()))
                }
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
                    WriteFailure::Cancelled(vec![Reason::Conflict])
                }
                _ if error.code() == Some("TransactionConflictException") => {
                    WriteFailure::Cancelled(vec![Reason::Conflict])
                }
                _ => WriteFailure::Failed(self.unexpected("TransactWriteItems", &error)),
            }),
        }
    }

    async fn send_put(&self, write: &Write) -> Result<(), WriteFailure> {
        let WriteKind::Put(item) = &write.kind else {
            return Err(WriteFailure::Failed(StoreError::Unexpected(
                anyhow::anyhow!("a lone delete is never sent"),
            )));
        };
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.clone()))
            .condition_expression(&write.condition)
            .set_expression_attribute_names(Some(write.names.clone()));
        if !write.values.is_empty() {
            request = request.set_expression_attribute_values(Some(write.values.clone()));
        }
        if write.return_old {
            request = request.return_values_on_condition_check_failure(
                ReturnValuesOnConditionCheckFailure::AllOld,
            );
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(error) => Err(match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    WriteFailure::Cancelled(vec![Reason::ConditionFailed(failed.item().cloned())])
                }
                Some(PutItemError::TransactionConflictException(_)) => {
                    WriteFailure::Cancelled(vec![Reason::Conflict])
                }
                _ => WriteFailure::Failed(self.unexpected("PutItem", &error)),
            }),
        }
    }

    /// Decides a failed compare-and-set: a stored record that moved on (conflict), or no
    /// record at all (not found). `old` is the item DynamoDB returned with the failure.
    async fn classify_cas_failure(
        &self,
        approval_id: &str,
        old: Option<Item>,
    ) -> Result<(), StoreError> {
        let exists = match old {
            Some(_) => true,
            // Asked for but not returned: the item does not exist (or an emulator does not
            // return it); one read settles which.
            None => self.get_item(item::record_pk(approval_id)).await?.is_some(),
        };
        Err(if exists {
            StoreError::VersionConflict(approval_id.to_owned())
        } else {
            StoreError::NotFound(approval_id.to_owned())
        })
    }

    /// Builds a Query on `index` for its hash value, after `after` (exclusive) when given.
    fn list_query(&self, index: &ListIndex, after: Option<&str>) -> QueryFluentBuilder {
        let mut condition = "#h = :h".to_owned();
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.index)
            .expression_attribute_names("#h", index.hash_attribute)
            .expression_attribute_values(":h", AttributeValue::S(index.hash_value.clone()))
            .scan_index_forward(true);
        if let Some(after) = after {
            condition.push_str(" AND #sort > :after");
            request = request
                .expression_attribute_names("#sort", item::SORT)
                .expression_attribute_values(":after", AttributeValue::S(after.to_owned()));
        }
        request.key_condition_expression(condition)
    }

    async fn run_query(&self, request: QueryFluentBuilder) -> Result<QueryOutput, StoreError> {
        request
            .send()
            .await
            .map_err(|e| self.unexpected("Query", &e))
    }

    /// Up to `wanted` items of `index` after `after`, following `LastEvaluatedKey` across
    /// DynamoDB's 1 MB pages. With `keys_only`, only the sort key is read back.
    async fn collect(
        &self,
        index: &ListIndex,
        after: Option<&str>,
        wanted: usize,
        keys_only: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        while items.len() < wanted {
            let remaining = i32::try_from(wanted.saturating_sub(items.len())).unwrap_or(i32::MAX);
            let mut request = self
                .list_query(index, after)
                .limit(remaining)
                .set_exclusive_start_key(start.take());
            if keys_only {
                request = request
                    .projection_expression("#sort")
                    .expression_attribute_names("#sort", item::SORT);
            }
            let output = self.run_query(request).await?;
            start = output.last_evaluated_key().cloned();
            items.extend(output.items.unwrap_or_default());
            if start.is_none() {
                break;
            }
        }
        items.truncate(wanted);
        Ok(items)
    }

    /// How many records `index` lists: its counter item, one strongly consistent GetItem
    /// (issue G §5; the counters move in the same transactions as the records).
    async fn total(&self, index: &ListIndex) -> Result<u64, StoreError> {
        let pk = item::counter_pk(index);
        let counter = self.get_item(pk.clone()).await?;
        item::count_of(counter.as_ref()).ok_or_else(|| StoreError::Corrupt {
            location: format!("DynamoDB table {} item {}={pk}", self.table, item::PK),
            detail: format!("counter has no number attribute {}", item::COUNT),
        })
    }

    /// Sets every list counter from the records (issue G §5), for a table written before the
    /// counters existed: one paged Query over `gsi_all` reading each record's state and group
    /// (never a Scan), then one PutItem per counter. Run it before traffic resumes: writes
    /// made while it counts are not in its figures. Returns the counters written.
    ///
    /// # Errors
    /// A request fails, or an index entry has no state or group.
    pub async fn recount(&self) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        let mut counts = std::collections::BTreeMap::<String, u64>::new();
        let all = ListIndex::for_query(&ListQuery::new(None, None, None, None));
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .run_query(
                    self.list_query(&all, None)
                        .projection_expression("#state, #group")
                        .expression_attribute_names("#state", item::STATE)
                        .expression_attribute_names("#group", item::GROUP)
                        .set_exclusive_start_key(start.take()),
                )
                .await?;
            for entry in output.items() {
                let state = item::string(entry, item::STATE).and_then(|s| s.parse().ok());
                let (Some(state), Some(group)) = (state, item::string(entry, item::GROUP)) else {
                    return Err(StoreError::Corrupt {
                        location: item::location(&self.table, entry),
                        detail: "index entry has no state or approver_group".to_owned(),
                    });
                };
                for (pk, _) in item::counter_deltas(None, (state, group)) {
                    let n = counts.entry(pk).or_default();
                    *n = n.saturating_add(1);
                }
            }
            match output.last_evaluated_key() {
                Some(key) => start = Some(key.clone()),
                None => break,
            }
        }
        for (pk, n) in &counts {
            let mut counter = item::key(pk.clone());
            counter.insert(
                item::KIND.to_owned(),
                AttributeValue::S(item::KIND_COUNTER.to_owned()),
            );
            counter.insert(item::COUNT.to_owned(), AttributeValue::N(n.to_string()));
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(counter))
                .send()
                .await
                .map_err(|e| self.unexpected("PutItem", &e))?;
        }
        Ok(counts)
    }

    /// The sort key of the `offset`-th record (the page starts after it), or `None` when the
    /// list has no more than `offset` records.
    async fn skip(&self, index: &ListIndex, offset: u32) -> Result<Option<String>, StoreError> {
        let skipped = self.collect(index, None, offset as usize, true).await?;
        if skipped.len() < offset as usize {
            return Ok(None);
        }
        let last = skipped.last().ok_or_else(|| {
            StoreError::Unexpected(anyhow::anyhow!("skipping {offset} records read none"))
        })?;
        item::string(last, item::SORT)
            .map(|s| Some(s.to_owned()))
            .ok_or_else(|| StoreError::Corrupt {
                location: item::location(&self.table, last),
                detail: format!("index entry has no string {}", item::SORT),
            })
    }

    /// The items that decode, and the keys of those that do not (issue E §6: one bad item
    /// never fails a whole list; it is logged and reported by id).
    fn readable_records(&self, items: &[Item]) -> (Vec<Approval>, Vec<String>) {
        let mut records = Vec::with_capacity(items.len());
        let mut unreadable = Vec::new();
        for item in items {
            match item::from_item(&self.table, item) {
                Ok(record) => records.push(record),
                Err(error) => {
                    tracing::warn!(%error, "skipping an unreadable approval item");
                    unreadable.push(
                        item::string(item, item::APPROVAL_ID)
                            .map_or_else(|| item::location(&self.table, item), str::to_owned),
                    );
                }
            }
        }
        (records, unreadable)
    }

    fn records(&self, items: &[Item]) -> Result<Vec<Approval>, StoreError> {
        items
            .iter()
            .map(|i| item::from_item(&self.table, i))
            .collect()
    }
}

/// One conditional write of a transaction (or a lone PutItem).
struct Write {
    kind: WriteKind,
    condition: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    /// Ask for the item as it was when the condition fails.
    return_old: bool,
}

enum WriteKind {
    Put(Item),
    Delete(Item),
    /// `ADD` to a counter item (created at the delta when absent); never conditional.
    Count(Item),
}

impl Write {
    /// Put `item` only if no item has its key.
    fn put_new(item: Item) -> Self {
        Self {
            kind: WriteKind::Put(item),
            condition: "attribute_not_exists(#pk)".to_owned(),
            names: HashMap::from([("#pk".to_owned(), item::PK.to_owned())]),
            values: HashMap::new(),
            return_old: false,
        }
    }

    /// Put `item` only if the stored one still has `state` and `version`.
    fn put_if(item: Item, state: ApprovalState, version: u64) -> Self {
        Self {
            kind: WriteKind::Put(item),
            condition: "#state = :expected_state AND #version = :expected_version".to_owned(),
            names: HashMap::from([
                ("#state".to_owned(), item::STATE.to_owned()),
                ("#version".to_owned(), item::VERSION.to_owned()),
            ]),
            values: HashMap::from([
                (
                    ":expected_state".to_owned(),
                    AttributeValue::S(state.as_str().to_owned()),
                ),
                (
                    ":expected_version".to_owned(),
                    AttributeValue::N(version.to_string()),
                ),
            ]),
            return_old: true,
        }
    }

    /// Add `delta` to the counter item `pk` (issue G §5).
    fn count(pk: String, delta: i64) -> Self {
        Self {
            kind: WriteKind::Count(item::key(pk)),
            condition: String::new(),
            names: HashMap::from([
                ("#n".to_owned(), item::COUNT.to_owned()),
                ("#kind".to_owned(), item::KIND.to_owned()),
            ]),
            values: HashMap::from([
                (":delta".to_owned(), AttributeValue::N(delta.to_string())),
                (
                    ":kind".to_owned(),
                    AttributeValue::S(item::KIND_COUNTER.to_owned()),
                ),
            ]),
            return_old: false,
        }
    }

    /// The counter writes for `deltas` (see [`item::counter_deltas`]).
    fn counts(deltas: Vec<(String, i64)>) -> impl Iterator<Item = Self> {
        deltas.into_iter().map(|(pk, delta)| Self::count(pk, delta))
    }

    /// Delete the guard of `decision_id` unless it names another request than `approval_id`.
    fn release_guard(decision_id: &str, approval_id: &str) -> Self {
        Self {
            kind: WriteKind::Delete(item::key(item::guard_pk(decision_id))),
            condition: "attribute_not_exists(#pk) OR #approval_id = :approval_id".to_owned(),
            names: HashMap::from([
                ("#pk".to_owned(), item::PK.to_owned()),
                ("#approval_id".to_owned(), item::APPROVAL_ID.to_owned()),
            ]),
            values: HashMap::from([(
                ":approval_id".to_owned(),
                AttributeValue::S(approval_id.to_owned()),
            )]),
            return_old: true,
        }
    }

    fn transact_item(&self, table: &str) -> Result<TransactWriteItem, StoreError> {
        let built = |e: aws_sdk_dynamodb::error::BuildError| {
            StoreError::Unexpected(anyhow::Error::new(e).context("building a DynamoDB transaction"))
        };
        let values = (!self.values.is_empty()).then(|| self.values.clone());
        let old = self
            .return_old
            .then_some(ReturnValuesOnConditionCheckFailure::AllOld);
        Ok(match &self.kind {
            WriteKind::Put(item) => TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(table)
                        .set_item(Some(item.clone()))
                        .condition_expression(&self.condition)
                        .set_expression_attribute_names(Some(self.names.clone()))
                        .set_expression_attribute_values(values)
                        .set_return_values_on_condition_check_failure(old)
                        .build()
                        .map_err(built)?,
                )
                .build(),
            WriteKind::Delete(key) => TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(table)
                        .set_key(Some(key.clone()))
                        .condition_expression(&self.condition)
                        .set_expression_attribute_names(Some(self.names.clone()))
                        .set_expression_attribute_values(values)
                        .set_return_values_on_condition_check_failure(old)
                        .build()
                        .map_err(built)?,
                )
                .build(),
            WriteKind::Count(key) => TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(table)
                        .set_key(Some(key.clone()))
                        .update_expression("ADD #n :delta SET #kind = :kind")
                        .set_expression_attribute_names(Some(self.names.clone()))
                        .set_expression_attribute_values(values)
                        .build()
                        .map_err(built)?,
                )
                .build(),
        })
    }
}

/// Why a write did not happen.
enum WriteFailure {
    /// The service refused it: one reason per write, in order.
    Cancelled(Vec<Reason>),
    /// Anything else.
    Failed(StoreError),
}

/// The outcome of one attempt inside [`DynamoStore::with_conflict_retry`].
enum Attempt {
    Conflict,
    Failed(StoreError),
}

impl From<StoreError> for Attempt {
    fn from(error: StoreError) -> Self {
        Self::Failed(error)
    }
}

/// Whether `reasons` say only that another transaction was in the way.
fn only_conflicts(reasons: &[Reason]) -> bool {
    reasons.contains(&Reason::Conflict)
        && reasons
            .iter()
            .all(|r| matches!(r, Reason::Conflict | Reason::Passed))
}

fn other_reason(table: &str, what: &str, reasons: &[Reason]) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!(
        "DynamoDB table {table}: {what} was cancelled: {reasons:?}"
    ))
}

#[async_trait]
impl ApprovalStore for DynamoStore {
    async fn insert(&self, approval: &Approval) -> Result<(), StoreError> {
        let record = item::to_item(approval)?;
        let mut writes = vec![Write::put_new(record)];
        if approval.state == ApprovalState::Pending {
            writes.push(Write::put_new(item::guard_item(approval)));
        }
        // The list totals move in the same transaction (issue G §5).
        writes.extend(Write::counts(item::counter_deltas(
            None,
            (approval.state, &approval.approver_group),
        )));
        self.with_conflict_retry("insert", || async {
            match self.send(&writes).await {
                Ok(()) => Ok(()),
                Err(WriteFailure::Failed(error)) => Err(Attempt::Failed(error)),
                Err(WriteFailure::Cancelled(reasons)) => {
                    if matches!(reasons.first(), Some(Reason::ConditionFailed(_))) {
                        Err(StoreError::DuplicateId(approval.approval_id.clone()).into())
                    } else if matches!(reasons.get(1), Some(Reason::ConditionFailed(_))) {
                        Err(StoreError::DuplicateOpenDecision(approval.decision_id.clone()).into())
                    } else if only_conflicts(&reasons) {
                        Err(Attempt::Conflict)
                    } else {
                        Err(other_reason(&self.table, "insert", &reasons).into())
                    }
                }
            }
        })
        .await
    }

    async fn get(&self, approval_id: &str) -> Result<Option<Approval>, StoreError> {
        self.get_item(item::record_pk(approval_id))
            .await?
            .map(|i| item::from_item(&self.table, &i))
            .transpose()
    }

    async fn replace(
        &self,
        approval: &Approval,
        expected_version: u64,
        expected_state: ApprovalState,
    ) -> Result<(), StoreError> {
        let mut next = approval.clone();
        next.version = expected_version.saturating_add(1);
        let record = item::to_item(&next)?;
        let was_pending = expected_state == ApprovalState::Pending;
        let is_pending = next.state == ApprovalState::Pending;
        let mut writes = vec![Write::put_if(record, expected_state, expected_version)];
        if was_pending && !is_pending {
            writes.push(Write::release_guard(&next.decision_id, &next.approval_id));
        } else if is_pending && !was_pending {
            writes.push(Write::put_new(item::guard_item(&next)));
        }
        // A record's group never changes; a state change moves it between list totals.
        writes.extend(Write::counts(item::counter_deltas(
            Some((expected_state, &next.approver_group)),
            (next.state, &next.approver_group),
        )));
        self.with_conflict_retry("replace", || async {
            match self.send(&writes).await {
                Ok(()) => Ok(()),
                Err(WriteFailure::Failed(error)) => Err(Attempt::Failed(error)),
                Err(WriteFailure::Cancelled(mut reasons)) => {
                    if let Some(Reason::ConditionFailed(old)) = reasons.first_mut() {
                        return self
                            .classify_cas_failure(&next.approval_id, old.take())
                            .await
                            .map_err(Attempt::Failed);
                    }
                    match reasons.get(1) {
                        Some(Reason::ConditionFailed(_)) if is_pending => {
                            Err(StoreError::DuplicateOpenDecision(next.decision_id.clone()).into())
                        }
                        Some(Reason::ConditionFailed(guard)) => Err(StoreError::Corrupt {
                            location: format!(
                                "DynamoDB table {} item {}={}",
                                self.table,
                                item::PK,
                                item::guard_pk(&next.decision_id)
                            ),
                            detail: format!(
                                "the open-decision guard names {} while {} is pending",
                                guard
                                    .as_ref()
                                    .and_then(|g| item::string(g, item::APPROVAL_ID))
                                    .unwrap_or("another request"),
                                next.approval_id
                            ),
                        }
                        .into()),
                        _ if only_conflicts(&reasons) => Err(Attempt::Conflict),
                        _ => Err(other_reason(&self.table, "replace", &reasons).into()),
                    }
                }
            }
        })
        .await
    }

    async fn find_open_by_decision(
        &self,
        decision_id: &str,
    ) -> Result<Option<Approval>, StoreError> {
        let guard_pk = item::guard_pk(decision_id);
        let mut guard = self.get_item(guard_pk.clone()).await?;
        // A request may leave `pending` between the two reads; its guard is then gone too
        // (same transaction), which a second read of the guard shows.
        for _ in 0..3 {
            let Some(found) = guard else {
                return Ok(None);
            };
            let Some(approval_id) = item::string(&found, item::APPROVAL_ID) else {
                return Err(StoreError::Corrupt {
                    location: item::location(&self.table, &found),
                    detail: format!("guard has no string {}", item::APPROVAL_ID),
                });
            };
            let record = self.get(approval_id).await?;
            if let Some(record) = record
                && record.state == ApprovalState::Pending
                && record.decision_id == decision_id
            {
                return Ok(Some(record));
            }
            let again = self.get_item(guard_pk.clone()).await?;
            if again
                .as_ref()
                .and_then(|g| item::string(g, item::APPROVAL_ID))
                == Some(approval_id)
            {
                return Err(StoreError::Corrupt {
                    location: item::location(&self.table, &found),
                    detail: format!(
                        "the open-decision guard names {approval_id}, which is not a pending request for {decision_id}"
                    ),
                });
            }
            guard = again;
        }
        Err(StoreError::Unexpected(anyhow::anyhow!(
            "DynamoDB table {}: the open request of {decision_id} kept changing while read",
            self.table
        )))
    }

    async fn list(&self, query: &ListQuery) -> Result<ApprovalPage, StoreError> {
        let index = ListIndex::for_query(query);
        let after = match &query.cursor {
            Some(cursor) => Some(item::sort_key(cursor.requested_at_us, &cursor.approval_id)),
            None if query.offset > 0 => {
                let Some(after) = self.skip(&index, query.offset).await? else {
                    // The offset is past the end: an empty page.
                    let total = self.total(&index).await?;
                    return Ok(ApprovalPage::from_fetched(Vec::new(), total, query));
                };
                Some(after)
            }
            None => None,
        };
        let wanted = (query.limit as usize).saturating_add(1);
        let (items, total) = tokio::try_join!(
            self.collect(&index, after.as_deref(), wanted, false),
            self.total(&index)
        )?;
        let (records, unreadable) = self.readable_records(&items);
        Ok(ApprovalPage::from_fetched_rows(
            records,
            items.len(),
            unreadable,
            total,
            query,
        ))
    }

    async fn overdue(&self, now: Timestamp, limit: u32) -> Result<Vec<Approval>, StoreError> {
        let mut items: Vec<Item> = Vec::new();
        let mut start: Option<Item> = None;
        let wanted = limit as usize;
        while items.len() < wanted {
            let remaining = i32::try_from(wanted.saturating_sub(items.len())).unwrap_or(i32::MAX);
            let output = self
                .run_query(
                    self.client
                        .query()
                        .table_name(&self.table)
                        .index_name(item::GSI_EXPIRY)
                        .key_condition_expression("#state = :pending AND #expires < :now")
                        .expression_attribute_names("#state", item::STATE)
                        .expression_attribute_names("#expires", item::EXPIRES_AT_US)
                        .expression_attribute_values(
                            ":pending",
                            AttributeValue::S(ApprovalState::Pending.as_str().to_owned()),
                        )
                        .expression_attribute_values(
                            ":now",
                            AttributeValue::N(now.unix_micros().to_string()),
                        )
                        .scan_index_forward(true)
                        .limit(remaining)
                        .set_exclusive_start_key(start.take()),
                )
                .await?;
            start = output.last_evaluated_key().cloned();
            items.extend(output.items.unwrap_or_default());
            if start.is_none() {
                break;
            }
        }
        items.truncate(wanted);
        self.records(&items)
    }
}

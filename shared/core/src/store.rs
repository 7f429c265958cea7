//! The storage port every adapter implements (memory, JSON file, SQLite, DynamoDB), and the
//! list/cursor types they share.
//!
//! Transitions are compare-and-set (CONTRACT §1): [`ApprovalStore::replace`] writes only when the
//! stored record still has the version and state the caller read.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::approval::{Approval, ApprovalState};
use crate::error::ApprovalError;
use crate::time::Timestamp;

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size.
pub const MAX_LIMIT: u32 = 500;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `insert` of an id that exists.
    #[error("approval already exists: {0}")]
    DuplicateId(String),
    /// `insert` of a pending request for a decision that already has one open.
    #[error("an open approval request already exists for decision {0}")]
    DuplicateOpenDecision(String),
    /// `replace` lost the race: the stored version or state moved on.
    #[error("approval {0} was changed by someone else")]
    VersionConflict(String),
    /// `replace` of a record that is not stored.
    #[error("approval not found: {0}")]
    NotFound(String),
    /// The stored data cannot be read back (corrupt file, bad row).
    #[error("approval store {location} is corrupt: {detail}")]
    Corrupt {
        /// File, table or item.
        location: String,
        /// What is wrong.
        detail: String,
    },
    /// A list cursor that this store did not issue.
    #[error("invalid cursor")]
    InvalidCursor,
    /// Anything else (I/O, database, network), with context.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Position after the last item of a page: the sort key of that item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// `requested_at` in microseconds.
    #[serde(rename = "t")]
    pub requested_at_us: i64,
    /// Tie-breaker.
    #[serde(rename = "i")]
    pub approval_id: String,
}

impl Cursor {
    /// The cursor after `approval`.
    pub fn after(approval: &Approval) -> Self {
        Self {
            requested_at_us: approval.requested_at.unix_micros(),
            approval_id: approval.approval_id.clone(),
        }
    }

    /// The opaque text handed to clients.
    #[allow(clippy::expect_used)] // a string and an integer always serialise
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("cursor serialises"))
    }

    /// Parses text from [`Cursor::encode`].
    pub fn decode(text: &str) -> Result<Self, StoreError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(|_| StoreError::InvalidCursor)?;
        serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)
    }

    /// Whether `approval` sorts after this cursor in list order
    /// (`requested_at` descending, then `approval_id` ascending).
    pub fn precedes(&self, approval: &Approval) -> bool {
        let t = approval.requested_at.unix_micros();
        t < self.requested_at_us
            || (t == self.requested_at_us
                && approval.approval_id.as_str() > self.approval_id.as_str())
    }
}

/// A list request (original §9.1, CONTRACT §7).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListQuery {
    /// Exact state.
    pub state: Option<ApprovalState>,
    /// Exact approver group.
    pub approver_group: Option<String>,
    /// Page size, clamped to `1..=500`.
    pub limit: u32,
    /// Items to skip (ignored when `cursor` is set).
    pub offset: u32,
    /// Continue after this position.
    pub cursor: Option<Cursor>,
}

impl ListQuery {
    /// A query with the documented defaults and clamping.
    pub fn new(
        state: Option<ApprovalState>,
        approver_group: Option<String>,
        limit: Option<i64>,
        offset: Option<i64>,
    ) -> Self {
        Self {
            state,
            approver_group: approver_group.filter(|g| !g.is_empty()),
            limit: limit
                .unwrap_or(i64::from(DEFAULT_LIMIT))
                .clamp(1, i64::from(MAX_LIMIT)) as u32,
            offset: offset.unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32,
            cursor: None,
        }
    }

    /// Whether `approval` passes the filters.
    pub fn matches(&self, approval: &Approval) -> bool {
        self.state.is_none_or(|s| approval.state == s)
            && self
                .approver_group
                .as_deref()
                .is_none_or(|g| approval.approver_group == g)
    }

    /// Items to skip before the page: the offset, unless a cursor positions the page.
    pub fn effective_offset(&self) -> u32 {
        if self.cursor.is_some() {
            0
        } else {
            self.offset
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalPage {
    /// Records, newest request first.
    pub items: Vec<Approval>,
    /// How many records match the filters in all.
    pub total: u64,
    /// The page size used.
    pub limit: u32,
    /// The offset used.
    pub offset: u32,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
    /// Ids of stored records on this page that could not be read (issue E §6): left out of
    /// `items` and reported, so one bad row never fails a whole list.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

impl ApprovalPage {
    /// Builds a page from up to `limit + 1` fetched items (the extra one proves a next page).
    pub fn from_fetched(fetched: Vec<Approval>, total: u64, query: &ListQuery) -> Self {
        let rows = fetched.len();
        Self::from_fetched_rows(fetched, rows, Vec::new(), total, query)
    }

    /// A page from rows of which some could not be read: `fetched` holds the readable ones of
    /// `rows` fetched rows (up to `limit + 1`), `unreadable` the ids of the others.
    pub fn from_fetched_rows(
        fetched: Vec<Approval>,
        rows: usize,
        unreadable: Vec<String>,
        total: u64,
        query: &ListQuery,
    ) -> Self {
        let positioned = fetched
            .into_iter()
            .map(|a| (Cursor::after(&a), a))
            .collect();
        let (items, next) = page_of(positioned, rows, query);
        Self {
            items: items.into_iter().map(|(_, a)| a).collect(),
            total,
            limit: query.limit,
            offset: query.offset,
            next_cursor: next.map(|cursor| cursor.encode()),
            unreadable,
        }
    }
}

/// A record as the API answers it: [`Approval::to_sorted_value`] written out compactly, which is
/// also how the SQLite and JSON stores hold it. A store that can prove its stored text is that
/// form answers it as stored, without parsing and writing the record again (issue H §3).
pub type RecordJson = Box<RawValue>;

/// `approval` as [`RecordJson`].
pub fn record_json(approval: &Approval) -> Result<RecordJson, StoreError> {
    serde_json::value::to_raw_value(&approval.to_sorted_value()).map_err(|e| {
        StoreError::Unexpected(anyhow::Error::new(e).context(format!(
            "could not serialise approval {}",
            approval.approval_id
        )))
    })
}

/// One page of records as JSON: the body of `GET /approvals` (fields in sorted order, as every
/// answer of the API).
#[derive(Debug, Serialize)]
pub struct JsonPage {
    /// Records, newest request first.
    pub items: Vec<RecordJson>,
    /// The page size used.
    pub limit: u32,
    /// Where the next page starts; `null` on the last page.
    pub next_cursor: Option<String>,
    /// The offset used.
    pub offset: u32,
    /// How many records match the filters in all.
    pub total: u64,
    /// Ids of stored records on this page that could not be read (left out of `items`).
    #[serde(skip)]
    pub unreadable: Vec<String>,
}

impl JsonPage {
    /// The page of `page`'s records, each written out.
    pub fn from_page(page: ApprovalPage) -> Result<Self, StoreError> {
        Ok(Self {
            items: page
                .items
                .iter()
                .map(record_json)
                .collect::<Result<_, _>>()?,
            limit: page.limit,
            next_cursor: page.next_cursor,
            offset: page.offset,
            total: page.total,
            unreadable: page.unreadable,
        })
    }

    /// A page from `fetched` readable rows (each with its list position) of `rows` fetched
    /// (up to `limit + 1`); the same paging as [`ApprovalPage::from_fetched_rows`].
    pub fn from_fetched_rows(
        fetched: Vec<(Cursor, RecordJson)>,
        rows: usize,
        unreadable: Vec<String>,
        total: u64,
        query: &ListQuery,
    ) -> Self {
        let (items, next) = page_of(fetched, rows, query);
        Self {
            items: items.into_iter().map(|(_, json)| json).collect(),
            limit: query.limit,
            next_cursor: next.map(|cursor| cursor.encode()),
            offset: query.offset,
            total,
            unreadable,
        }
    }
}

/// The items of a page out of up to `limit + 1` readable fetched items (of `rows` rows
/// fetched, some perhaps unreadable), and the cursor after the last one when there is more.
fn page_of<T>(
    mut fetched: Vec<(Cursor, T)>,
    rows: usize,
    query: &ListQuery,
) -> (Vec<(Cursor, T)>, Option<Cursor>) {
    let limit = query.limit as usize;
    let more = fetched.len() > limit || rows > limit;
    fetched.truncate(limit);
    let next = if more {
        fetched.last().map(|(cursor, _)| cursor.clone())
    } else {
        None
    };
    (fetched, next)
}

/// Sorts records in list order: `requested_at` descending, then `approval_id` ascending.
pub fn sort_for_listing(records: &mut [Approval]) {
    records.sort_by(|a, b| {
        b.requested_at
            .cmp(&a.requested_at)
            .then_with(|| a.approval_id.cmp(&b.approval_id))
    });
}

/// How many times [`ApprovalStore::update`]'s default read-change-write is retried after a lost
/// compare-and-set before it gives up with [`ApprovalError::Contention`].
pub const MAX_CAS_ATTEMPTS: usize = 256;

/// A transition computed from the stored record: the record to store (its version already
/// moved on, sealed), or `None` to store nothing; an error stores nothing and is the caller's.
/// A store may call it more than once (once per attempt) and on another thread.
pub type Change = Box<dyn FnMut(&Approval) -> Result<Option<Approval>, ApprovalError> + Send>;

/// The storage port.
#[async_trait]
pub trait ApprovalStore: Send + Sync {
    /// Stores a new record. Fails with [`StoreError::DuplicateId`], or with
    /// [`StoreError::DuplicateOpenDecision`] when the record is pending and another pending
    /// record has the same `decision_id`.
    async fn insert(&self, approval: &Approval) -> Result<(), StoreError>;

    /// Reads one record.
    async fn get(&self, approval_id: &str) -> Result<Option<Approval>, StoreError>;

    /// Overwrites a record only if the stored one still has `expected_version` and
    /// `expected_state` (compare-and-set); [`StoreError::VersionConflict`] otherwise.
    /// The caller has already set `approval.version` to `expected_version + 1`.
    async fn replace(
        &self,
        approval: &Approval,
        expected_version: u64,
        expected_state: ApprovalState,
    ) -> Result<(), StoreError>;

    /// Reads `approval_id`, applies `change` to it and compare-and-sets the result over what
    /// was read: the stored record, or `None` when `change` had nothing to store. A record
    /// that is not stored is [`ApprovalError::NotFound`].
    ///
    /// This default reads, changes and [`replace`](ApprovalStore::replace)s, and starts again
    /// from a fresh read when someone else wrote first. A store with a single writer runs the
    /// whole step there instead (SQLite: read, check and write in one transaction on its
    /// writer thread, issue H §2), where no compare-and-set can be lost.
    async fn update(
        &self,
        approval_id: &str,
        mut change: Change,
    ) -> Result<Option<Approval>, ApprovalError> {
        for _ in 0..MAX_CAS_ATTEMPTS {
            let current = self
                .get(approval_id)
                .await?
                .ok_or_else(|| ApprovalError::NotFound(approval_id.to_owned()))?;
            let Some(mut next) = change(&current)? else {
                return Ok(None);
            };
            // What `replace` stores: the version after the one read, whatever the change set.
            next.version = current.version.saturating_add(1);
            match self.replace(&next, current.version, current.state).await {
                Ok(()) => return Ok(Some(next)),
                Err(StoreError::VersionConflict(_)) => {}
                Err(other) => return Err(other.into()),
            }
        }
        Err(ApprovalError::Contention(approval_id.to_owned()))
    }

    /// The pending record for `decision_id`, if any.
    async fn find_open_by_decision(
        &self,
        decision_id: &str,
    ) -> Result<Option<Approval>, StoreError>;

    /// A page of records matching `query`, in list order, answered from an index.
    async fn list(&self, query: &ListQuery) -> Result<ApprovalPage, StoreError>;

    /// [`get`](ApprovalStore::get) as the API's JSON text. This default writes the record
    /// out; SQLite answers the stored text when it is in that form.
    async fn get_json(&self, approval_id: &str) -> Result<Option<RecordJson>, StoreError> {
        self.get(approval_id)
            .await?
            .map(|approval| record_json(&approval))
            .transpose()
    }

    /// [`list`](ApprovalStore::list) as the API's JSON page. This default writes each record
    /// out; SQLite answers the stored texts when they are in that form.
    async fn list_json(&self, query: &ListQuery) -> Result<JsonPage, StoreError> {
        JsonPage::from_page(self.list(query).await?)
    }

    /// Up to `limit` pending records whose `expires_at` is before `now`.
    async fn overdue(&self, now: Timestamp, limit: u32) -> Result<Vec<Approval>, StoreError>;
}

//! `cavra-store-sqlite`: the SQLite adapter of the approval store port
//! ([`cavra_core::store::ApprovalStore`]).
//!
//! * One file, WAL journal, `synchronous = FULL`, a 10 s busy timeout: several processes may
//!   share it; SQLite's locks order their writes.
//! * Every state change is one statement or one `BEGIN IMMEDIATE` transaction; transitions are a
//!   compare-and-set on `(approval_id, version, state)` (CONTRACT §1).
//! * At most one open (`pending`) request per decision, enforced by a partial unique index.
//! * Lists are a range of one index in list order (`requested_at_us DESC, approval_id ASC`),
//!   paged by offset or keyset cursor; totals come from a trigger-maintained count table, so
//!   neither pages nor totals scan the table (CONTRACT §7).
//! * The schema is embedded ([`migrate`]); a database created by the original program is
//!   upgraded in place when opened.
//!
//! * Writes go to one writer thread that owns the write connection and commits them in groups
//!   (see `writer`): concurrent transitions share one transaction and one fsync, each keeps
//!   its own compare-and-set result, and none is acknowledged before its commit is durable.
//!   A transition ([`ApprovalStore::update`]) is one read-change-write job on that thread,
//!   inside its transaction: the service's decision (workflow check and seal) runs on the
//!   record as read there, so no compare-and-set can be lost and none is retried; it updates
//!   only the columns that change (so only the indexes over those columns).
//! * Reads for the API (`get_json`, `list_json`) answer the stored payload text as it is when
//!   this store wrote it at the row's version (`payload_version`, migration 005) and it names
//!   the row's record and version; other rows (the original program's, older ones, hand
//!   edits, which the table's trigger moves to a new version) are parsed and written out.
//! * Reads use read-only connections, kept for reuse up to the largest number ever needed at
//!   once (the runtime's read concurrency). A read runs on the calling task when an idle
//!   connection is at hand, with no busy timeout: in WAL mode a read never waits for a writer,
//!   and one of cached pages takes microseconds, less than the two thread switches of a hop
//!   to the blocking pool. Only when SQLite answers busy (another process holds the database
//!   exclusively, or a WAL reset is under way) or a connection must be opened does the read
//!   go to tokio's blocking pool, where it waits up to the busy timeout: no runtime thread
//!   ever sleeps on a lock.
//! * No connection checkpoints when it closes (`SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE`): the WAL is
//!   folded back by SQLite's automatic checkpoints as it grows, so a short-lived process (the
//!   CLI) pays one fsync per commit and none on exit.

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

mod rows;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, mpsc};

use async_trait::async_trait;
use cavra_core::approval::{Approval, ApprovalState};
use cavra_core::error::ApprovalError;
use cavra_core::store::{
    ApprovalPage, ApprovalStore, Change, JsonPage, ListQuery, RecordJson, StoreError,
};
use cavra_core::time::Timestamp;
use rusqlite::{Connection, OptionalExtension as _};
use serde::Serialize;
use tokio::sync::oneshot;

use crate::rows::{
    Cas, ListSql, NewRow, Stored, read_approvals, read_approvals_lenient, read_json,
    read_json_lenient,
};
use crate::writer::{Job, Pending};

/// The approval store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

/// Most idle read connections kept: the pool keeps every reader it had to open (the most
/// reads ever in flight at once), up to this bound.
const MAX_IDLE_READERS: usize = 64;

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    /// The writer thread's queue: every write of this process goes through it, so writes of
    /// this process queue there (and commit in groups); only other processes contend for
    /// SQLite's lock. `None` only while dropping.
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// Read-only connections: in WAL mode reads run beside a write instead of waiting for its
    /// fsync.
    readers: Mutex<Vec<Connection>>,
    /// Reads go to the writer thread too: one connection in all (the CLI).
    single_connection: bool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the writer loop; waiting for it closes the connection before
        // the process may exit.
        drop(self.jobs.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl Inner {
    /// An idle read connection, if the pool has one.
    fn idle_reader(&self) -> Option<Connection> {
        self.readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    /// Returns a read connection to the pool (up to [`MAX_IDLE_READERS`]).
    fn keep_reader(&self, conn: Connection) {
        let mut idle = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
    }

    /// A new read-only connection, with no busy timeout (see [`SqliteStore::read`]).
    fn open_reader(&self) -> Result<Connection, StoreError> {
        let conn = schema::connect(&self.path)?;
        conn.execute_batch("PRAGMA query_only = ON")
            .map_err(|e| sql_error(&self.path, "configuring a reader of", e))?;
        conn.busy_timeout(std::time::Duration::ZERO)
            .map_err(|e| sql_error(&self.path, "configuring a reader of", e))?;
        Ok(conn)
    }
}

/// Whether a read failed only because SQLite was busy (a lock held elsewhere): worth running
/// again where it may wait.
fn is_busy<T>(result: &Result<T, StoreError>) -> bool {
    let Err(StoreError::Unexpected(error)) = result else {
        return false;
    };
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<rusqlite::Error>())
        .any(|e| {
            matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            )
        })
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Job::Write(_) => "Job::Write",
            Job::Read(_) => "Job::Read",
        })
    }
}

impl SqliteStore {
    /// Opens the database at `path` (creating parent folders and the file), sets the WAL
    /// journal, `synchronous = FULL`, a busy timeout and foreign keys, and applies the embedded
    /// migrations.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when the folder or file cannot be created or opened, or a
    /// migration fails.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, false)
    }

    /// Like [`SqliteStore::open`], with one connection in all: reads run on the writer thread
    /// too. For short-lived processes (the CLI), where opening a second connection costs more
    /// than reads running beside writes gain.
    ///
    /// # Errors
    /// As [`SqliteStore::open`].
    pub fn open_single(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, true)
    }

    fn open_with(path: &Path, single_connection: bool) -> Result<Self, StoreError> {
        let mut conn = schema::connect(path)?;
        schema::apply(&mut conn, path)?;
        conn.set_prepared_statement_cache_capacity(64);
        let (jobs, queue) = mpsc::channel();
        let owned = path.to_path_buf();
        let writer = std::thread::Builder::new()
            .name("cavra-sqlite-writer".into())
            .spawn(move || writer::run(conn, owned, queue))
            .map_err(|e| {
                StoreError::Unexpected(anyhow::Error::new(e).context(format!(
                    "could not start the writer thread for SQLite database {}",
                    path.display()
                )))
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                jobs: Some(jobs),
                writer: Some(writer),
                readers: Mutex::new(Vec::new()),
                single_connection,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Inserts many records in one transaction (bulk import, benchmarks). All or nothing: a
    /// duplicate id or a second open request for a decision rolls the whole batch back.
    ///
    /// # Errors
    /// [`StoreError::DuplicateId`], [`StoreError::DuplicateOpenDecision`], or
    /// [`StoreError::Unexpected`] for database failures.
    pub async fn insert_many(&self, approvals: &[Approval]) -> Result<(), StoreError> {
        let rows = approvals
            .iter()
            .map(NewRow::from_approval)
            .collect::<Result<Vec<_>, _>>()?;
        // The writer runs it under its own savepoint: a failure undoes every row of it.
        self.write(move |conn, path| {
            for row in rows {
                match row.insert(conn) {
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e) => {
                        let duplicate_id = conn
                            .query_row(
                                "SELECT 1 FROM approvals WHERE approval_id = ?1",
                                [&row.approval_id],
                                |_| Ok(()),
                            )
                            .optional()
                            .map_err(|e| sql_error(path, "reading", e))?
                            .is_some();
                        return Err(if duplicate_id {
                            StoreError::DuplicateId(row.approval_id)
                        } else {
                            StoreError::DuplicateOpenDecision(row.decision_id)
                        });
                    }
                    Err(e) => return Err(sql_error(path, "bulk inserting into", e)),
                }
            }
            Ok(())
        })
        .await
    }

    /// Queues `work` for the writer thread and waits until it ran and its transaction is
    /// committed (durable), or rolled back when `work` failed. `work` runs inside the writer's
    /// transaction: it must not begin or end one.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &Path) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Write(Box::new(Pending::new(work, reply))))?;
        answer
            .await
            .map_err(|_| writer::writer_gone(&self.inner.path))?
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        self.inner
            .jobs
            .as_ref()
            .ok_or_else(|| writer::writer_gone(&self.inner.path))?
            .send(job)
            .map_err(|_| writer::writer_gone(&self.inner.path))
    }

    /// Runs `work` with a read-only connection: on the calling task when an idle reader is at
    /// hand and SQLite answers without waiting for a lock, else on the blocking pool (see the
    /// crate documentation). `work` only reads, so running it again after a busy answer is
    /// safe.
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Connection, &Path) -> Result<T, StoreError> + Send + 'static,
    {
        if self.inner.single_connection {
            let (reply, answer) = oneshot::channel();
            self.send(Job::Read(Box::new(
                move |conn: &Connection, path: &Path| {
                    let _ = reply.send(work(conn, path));
                },
            )))?;
            return answer
                .await
                .map_err(|_| writer::writer_gone(&self.inner.path))?;
        }
        if let Some(conn) = self.inner.idle_reader() {
            // Idle readers have no busy timeout: a lock answers busy at once.
            let result = work(&conn, &self.inner.path);
            self.inner.keep_reader(conn);
            if !is_busy(&result) {
                return result;
            }
        }
        let inner = Arc::clone(&self.inner);
        self.blocking(move || {
            let conn = match inner.idle_reader() {
                Some(conn) => conn,
                None => inner.open_reader()?,
            };
            // Here a read may wait for a lock, as any SQLite client does.
            let result = conn
                .busy_timeout(schema::BUSY_TIMEOUT)
                .map_err(|e| sql_error(&inner.path, "setting the busy timeout of", e))
                .and_then(|()| work(&conn, &inner.path));
            // Back to answering busy at once; a reader that cannot be reset is not kept.
            if conn.busy_timeout(std::time::Duration::ZERO).is_ok() {
                inner.keep_reader(conn);
            }
            result
        })
        .await
    }

    async fn blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    {
        tokio::task::spawn_blocking(work).await.map_err(|e| {
            StoreError::Unexpected(anyhow::Error::new(e).context(format!(
                "SQLite task for {} did not finish",
                self.inner.path.display()
            )))
        })?
    }
}

/// What `cavra approval migrate` did (original §9.3 output, plus where the migrations came from).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationReport {
    /// The database path as given.
    pub database: String,
    /// Always `embedded`: the scripts are compiled in, no folder is read.
    pub migrations: String,
    /// Migration file names applied by this run.
    pub applied: Vec<String>,
    /// Migration file names already recorded.
    pub skipped: Vec<String>,
}

/// `cavra approval migrate`: opens (creating) the database and applies every embedded migration
/// not yet recorded in `schema_migrations`. Idempotent; a second run skips everything.
///
/// # Errors
/// [`StoreError::Unexpected`] when the database cannot be opened or a migration fails.
pub fn migrate(path: &Path) -> Result<MigrationReport, StoreError> {
    let mut conn = schema::connect(path)?;
    let done = schema::apply(&mut conn, path)?;
    Ok(MigrationReport {
        database: path.display().to_string(),
        migrations: "embedded".to_owned(),
        applied: done.applied,
        skipped: done.skipped,
    })
}

/// The file names of the embedded migrations, in the order they apply.
pub fn embedded_migrations() -> Vec<&'static str> {
    schema::MIGRATIONS.iter().map(|m| m.id).collect()
}

/// Wraps a SQLite error with what was being done and the database path.
pub(crate) fn sql_error(path: &Path, doing: &str, error: rusqlite::Error) -> StoreError {
    StoreError::Unexpected(
        anyhow::Error::new(error).context(format!("{doing} SQLite database {}", path.display())),
    )
}

/// Whether `error` is a UNIQUE constraint violation.
fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if e.code == rusqlite::ErrorCode::ConstraintViolation
                && (e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    )
}

const SELECT_RECORD: &str = "SELECT approval_id, version, payload FROM approvals";

/// `get` (the primary key).
const GET: &str = "SELECT approval_id, version, payload FROM approvals WHERE approval_id = ?1";

/// `get_json` (primary key).
const GET_JSON: &str = "SELECT approval_id, version, payload, payload_version, requested_at_us \
     FROM approvals WHERE approval_id = ?1";

/// Reads one list page's rows (with `select` and `read`) and the total for its filters, in
/// one read transaction so both come from the same snapshot.
fn read_page<T>(
    conn: &Connection,
    path: &Path,
    query: &ListQuery,
    select: &str,
    read: impl FnOnce(
        &Connection,
        &Path,
        &str,
        rusqlite::ParamsFromIter<Vec<rusqlite::types::Value>>,
    ) -> Result<(Vec<T>, Vec<String>), StoreError>,
) -> Result<(Vec<T>, Vec<String>, u64), StoreError> {
    let page = ListSql::page(query, select);
    let total = ListSql::total(query);
    let tx = conn
        .unchecked_transaction()
        .map_err(|e| sql_error(path, "reading", e))?;
    let (items, unreadable) = read(
        &tx,
        path,
        &page.sql,
        rusqlite::params_from_iter(page.params),
    )?;
    let total: i64 = tx
        .query_row(
            &total.sql,
            rusqlite::params_from_iter(total.params),
            |row| row.get(0),
        )
        .map_err(|e| sql_error(path, "counting in", e))?;
    tx.commit().map_err(|e| sql_error(path, "reading", e))?;
    Ok((items, unreadable, u64::try_from(total).unwrap_or(0)))
}

/// Writes `row` over the stored row (`stored`, as read in this transaction) if it still has
/// `expected_version` and `expected_state`.
fn write_over(
    conn: &Connection,
    path: &Path,
    row: &NewRow,
    stored: Option<Stored>,
    expected_version: i64,
    expected_state: ApprovalState,
) -> Result<(), StoreError> {
    match row.update_changed(conn, stored, expected_version, expected_state) {
        Ok(Cas::Written) => Ok(()),
        Ok(Cas::Conflict) => Err(StoreError::VersionConflict(row.approval_id.clone())),
        Ok(Cas::Missing) => Err(StoreError::NotFound(row.approval_id.clone())),
        Err(e) if is_unique_violation(&e) => {
            Err(StoreError::DuplicateOpenDecision(row.decision_id.clone()))
        }
        Err(e) => Err(sql_error(path, "updating", e)),
    }
}

/// `find_open_by_decision`, the usual case (index `idx_approvals_open_decision`).
const OPEN_BY_DECISION: &str = "SELECT approval_id, version, payload FROM approvals \
     WHERE decision_id = ?1 AND state = 'pending' AND open_duplicate = 0";

/// `find_open_by_decision` on legacy duplicates (index `idx_approvals_open_duplicates`).
const OPEN_DUPLICATE_BY_DECISION: &str = "SELECT approval_id, version, payload FROM approvals \
     INDEXED BY idx_approvals_open_duplicates WHERE decision_id = ?1 AND state = 'pending' AND open_duplicate = 1 \
     ORDER BY requested_at_us DESC, approval_id ASC LIMIT 1";

/// `overdue`: the pending index's entries carry `expires_at_us`, so the sweep reads the pending
/// entries (not the records), fetches the overdue ones and sorts only those
/// (`idx_approvals_pending`: an approve then leaves one index over pending rows, not two).
const OVERDUE: &str = "SELECT approval_id, version, payload FROM approvals \
     INDEXED BY idx_approvals_pending WHERE state = 'pending' AND expires_at_us < ?1 \
     ORDER BY expires_at_us ASC, approval_id ASC LIMIT ?2";

#[async_trait]
impl ApprovalStore for SqliteStore {
    async fn insert(&self, approval: &Approval) -> Result<(), StoreError> {
        let row = NewRow::from_approval(approval)?;
        self.write(move |conn, path| {
            let exists = conn
                .prepare_cached("SELECT 1 FROM approvals WHERE approval_id = ?1")
                .and_then(|mut s| s.query_row([&row.approval_id], |_| Ok(())).optional())
                .map_err(|e| sql_error(path, "reading", e))?
                .is_some();
            if exists {
                return Err(StoreError::DuplicateId(row.approval_id));
            }
            match row.insert(conn) {
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => {
                    Err(StoreError::DuplicateOpenDecision(row.decision_id))
                }
                Err(e) => Err(sql_error(path, "inserting into", e)),
            }
        })
        .await
    }

    async fn get(&self, approval_id: &str) -> Result<Option<Approval>, StoreError> {
        let id = approval_id.to_owned();
        self.read(move |conn, path| {
            let mut found = read_approvals(conn, path, GET, rusqlite::params_from_iter([&id]))?;
            Ok(found.pop())
        })
        .await
    }

    async fn replace(
        &self,
        approval: &Approval,
        expected_version: u64,
        expected_state: ApprovalState,
    ) -> Result<(), StoreError> {
        let mut next = approval.clone();
        next.version = expected_version.saturating_add(1);
        let row = NewRow::from_approval(&next)?;
        let expected_version = rows::to_i64(expected_version, "version")?;
        // On the writer thread, inside its transaction: the compare and the set are one
        // atomic step, and the read tells a conflict from a miss.
        self.write(move |conn, path| {
            let stored =
                Stored::read(conn, &row.approval_id).map_err(|e| sql_error(path, "reading", e))?;
            write_over(conn, path, &row, stored, expected_version, expected_state)
        })
        .await
    }

    async fn update(
        &self,
        approval_id: &str,
        mut change: Change,
    ) -> Result<Option<Approval>, ApprovalError> {
        let id = approval_id.to_owned();
        // Read, change and write as one job on the writer thread (issue H §2): its transaction
        // holds SQLite's write lock from before the read, so nothing can come between the
        // record `change` judged and the write, and there is no lost race to retry. The
        // caller waits for one queue round trip and one commit, shared with the batch.
        self.write(move |conn, path| {
            // One read serves the change (the record) and the write (the columns to diff).
            let Some((current, stored)) = rows::read_for_update(conn, path, &id)? else {
                return Ok(Err(ApprovalError::NotFound(id)));
            };
            // A refused change stores nothing; the (empty) job commits with its batch.
            let mut next = match change(&current) {
                Ok(Some(next)) => next,
                Ok(None) => return Ok(Ok(None)),
                Err(refused) => return Ok(Err(refused)),
            };
            // The version after the one read, whatever the change set (as `replace` stores).
            next.version = current.version.saturating_add(1);
            let row = NewRow::from_approval(&next)?;
            let version = rows::to_i64(current.version, "version")?;
            write_over(conn, path, &row, Some(stored), version, current.state)?;
            Ok(Ok(Some(next)))
        })
        .await?
    }

    async fn find_open_by_decision(
        &self,
        decision_id: &str,
    ) -> Result<Option<Approval>, StoreError> {
        let id = decision_id.to_owned();
        self.read(move |conn, path| {
            // The open request: one probe of the unique index.
            let mut found = read_approvals(
                conn,
                path,
                OPEN_BY_DECISION,
                rusqlite::params_from_iter([&id]),
            )?;
            if found.is_empty() {
                // Databases from the original program may hold extra open requests from before
                // the one-open-request rule (`open_duplicate = 1`): the newest of them.
                found = read_approvals(
                    conn,
                    path,
                    OPEN_DUPLICATE_BY_DECISION,
                    rusqlite::params_from_iter([&id]),
                )?;
            }
            Ok(found.pop())
        })
        .await
    }

    async fn list(&self, query: &ListQuery) -> Result<ApprovalPage, StoreError> {
        let query = query.clone();
        self.read(move |conn, path| {
            let (items, unreadable, total) =
                read_page(conn, path, &query, SELECT_RECORD, read_approvals_lenient)?;
            let rows = items.len().saturating_add(unreadable.len());
            Ok(ApprovalPage::from_fetched_rows(
                items, rows, unreadable, total, &query,
            ))
        })
        .await
    }

    async fn get_json(&self, approval_id: &str) -> Result<Option<RecordJson>, StoreError> {
        let id = approval_id.to_owned();
        self.read(move |conn, path| {
            read_json(conn, path, GET_JSON, rusqlite::params_from_iter([&id]))
        })
        .await
    }

    async fn list_json(&self, query: &ListQuery) -> Result<JsonPage, StoreError> {
        let query = query.clone();
        self.read(move |conn, path| {
            let (items, unreadable, total) =
                read_page(conn, path, &query, rows::SELECT_JSON, read_json_lenient)?;
            let rows = items.len().saturating_add(unreadable.len());
            Ok(JsonPage::from_fetched_rows(
                items, rows, unreadable, total, &query,
            ))
        })
        .await
    }

    async fn overdue(&self, now: Timestamp, limit: u32) -> Result<Vec<Approval>, StoreError> {
        self.read(move |conn, path| {
            // An unreadable row is skipped (and logged), not allowed to stop the sweeper.
            read_approvals_lenient(
                conn,
                path,
                OVERDUE,
                rusqlite::params![now.unix_micros(), i64::from(limit)],
            )
            .map(|(due, _)| due)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cavra_core::store::Cursor;
    use rusqlite::types::Value;

    /// The plan lines SQLite reports for `sql`.
    fn plan(conn: &Connection, sql: &str, params: &[Value]) -> Vec<String> {
        let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        statement
            .query_map(rusqlite::params_from_iter(params), |row| {
                row.get::<_, String>(3)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// Fails unless every table access is an index search or an index-ordered walk, with no
    /// sorting step.
    fn assert_indexed(conn: &Connection, sql: &str, params: &[Value]) {
        let lines = plan(conn, sql, params);
        for line in &lines {
            let full_scan = line.starts_with("SCAN approvals") && !line.contains("INDEX");
            assert!(!full_scan, "full scan in {lines:?} for {sql}");
            assert!(
                !line.contains("TEMP B-TREE"),
                "sort step in {lines:?} for {sql}"
            );
        }
        assert!(
            lines.iter().any(|l| l.contains("INDEX")),
            "no index in {lines:?} for {sql}"
        );
    }

    fn migrated() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("approvals.db");
        let mut conn = schema::connect(&path).unwrap();
        schema::apply(&mut conn, &path).unwrap();
        (dir, conn)
    }

    #[test]
    fn every_list_shape_is_answered_from_an_index_in_list_order() {
        // GIVEN a migrated database
        let (_dir, conn) = migrated();
        let states = [None]
            .into_iter()
            .chain(ApprovalState::ALL.into_iter().map(Some));
        let groups = [None, Some("IAM".to_owned())];
        let cursors = [
            None,
            Some(Cursor {
                requested_at_us: 1_779_107_700_000_000,
                approval_id: "apr_000000000001".into(),
            }),
        ];
        // WHEN each combination of filters and positioning is planned
        for state in states {
            let index = match state {
                None => "idx_approvals_list_",
                Some(ApprovalState::Pending) => "idx_approvals_pending",
                Some(_) => "idx_approvals_decided",
            };
            for group in &groups {
                for cursor in &cursors {
                    for offset in [0, 20] {
                        let mut query =
                            ListQuery::new(state, group.clone(), Some(50), Some(offset));
                        query.cursor.clone_from(cursor);
                        let page = ListSql::page(&query, SELECT_RECORD);
                        // THEN the page walks an index range in order, with no sort
                        assert_indexed(&conn, &page.sql, &page.params);
                        // AND the index is the one kept for that filter
                        let lines = plan(&conn, &page.sql, &page.params);
                        assert!(lines.iter().any(|l| l.contains(index)), "{lines:?}");
                        // AND the total reads the count table, never the records
                        let total = ListSql::total(&query);
                        let lines = plan(&conn, &total.sql, &total.params);
                        assert!(lines.iter().all(|l| !l.contains("approvals ")), "{lines:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn lookups_by_decision_and_expiry_use_indexes() {
        let (_dir, conn) = migrated();
        for (sql, params, index) in [
            (
                OPEN_BY_DECISION,
                vec![Value::Text("dec_1".into())],
                "idx_approvals_open_decision",
            ),
            (
                OPEN_DUPLICATE_BY_DECISION,
                vec![Value::Text("dec_1".into())],
                "idx_approvals_open_duplicates",
            ),
        ] {
            assert_indexed(&conn, sql, &params);
            let lines = plan(&conn, sql, &params);
            assert!(
                lines.iter().any(|l| l.contains(index)),
                "{lines:?} for {sql}"
            );
        }
        // The sweep walks the pending index (never the table) and sorts only what is overdue.
        let lines = plan(&conn, OVERDUE, &[Value::Integer(0), Value::Integer(10)]);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("SCAN approvals USING INDEX idx_approvals_pending")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .all(|l| !l.starts_with("SCAN approvals") || l.contains("INDEX")),
            "{lines:?}"
        );
    }

    fn pending(n: u64) -> Approval {
        let at = |us: i64| Timestamp::from_unix_micros(us).unwrap();
        let t0 = 1_779_107_700_000_000 + i64::try_from(n).unwrap() * 1_000;
        serde_json::from_value(serde_json::json!({
            "schema_version": "cavra.approval.v1", "product": "CAVRA",
            "approval_id": format!("apr_{n:012x}"), "decision_id": format!("dec_{n}"),
            "session_id": "local", "correlation_id": null, "state": "pending",
            "approver_group": "IAM", "requested_by": "developer", "requested_at": at(t0).to_string(),
            "expires_at": at(t0).plus_hours(24).to_string(),
            "decision": {"decision_id": format!("dec_{n}"), "outcome": "require_approval",
                         "action": {"kind": "write_file", "target": "iam/admin-role.tf"},
                         "reason": "r", "evidence_refs": []},
            "history": [], "evidence_refs": [],
        }))
        .unwrap()
    }

    fn approved(record: &Approval) -> Approval {
        let mut next = record.clone();
        next.state = ApprovalState::Approved;
        next.decided_by = Some("iam".into());
        next.decided_at = Some(record.requested_at);
        next.version = record.version + 1;
        next
    }

    /// WAL frames appended so far (the WAL is never reset while autocheckpoint is off).
    fn wal_frames(path: &Path) -> u64 {
        let wal = std::fs::metadata(path.with_extension("db-wal")).map_or(0, |m| m.len());
        wal.saturating_sub(32) / (4096 + 24)
    }

    /// A store in a temporary folder whose WAL is never checkpointed (so it only grows, and
    /// [`wal_frames`] counts every page a commit appended).
    async fn store_without_checkpoints() -> (tempfile::TempDir, PathBuf, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("approvals.db");
        let store = SqliteStore::open(&path).unwrap();
        store
            .write(|conn, _| {
                conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
                Ok(())
            })
            .await
            .unwrap();
        (dir, path, store)
    }

    #[tokio::test]
    async fn an_approve_through_the_service_is_written_in_place() {
        use cavra_core::decision::Decision;
        use cavra_core::ids::RandomIds;
        use cavra_core::service::ApprovalService;
        use cavra_core::time::SystemClock;
        use cavra_core::workflow::{DecideInput, NewRequest};
        // GIVEN 200 requests created through the service, each record with its sealed history,
        // and no automatic checkpoint (so the WAL only grows)
        let (_dir, path, store) = store_without_checkpoints().await;
        let store = Arc::new(store);
        let service =
            ApprovalService::new(store.clone(), Arc::new(SystemClock), Arc::new(RandomIds));
        let mut ids = Vec::new();
        for n in 0..200 {
            let decision = Decision::from_value(serde_json::json!({
                "decision_id": format!("dec_{n}"), "session_id": "local", "agent_id": "agent",
                "actor": "ai-agent", "action_type": "write_file", "target": "iam/admin-role.tf",
                "requested_operation": "write", "policy_pack": "cavra-ai-agent-baseline",
                "policy_id": "cavra-ai-agent-baseline",
                "rule_id": "filesystem.write.require_approval", "decision": "require_approval",
                "severity": "high", "reason": "Matched approval-required path policy: iam/**",
                "evidence_refs": [format!("evidence://local/dec_{n}")],
                "approver_group": "IAM", "timestamp": "2026-05-18T12:34:56.789012+00:00",
            }))
            .unwrap();
            let created = service.create(NewRequest::new(decision)).await.unwrap();
            ids.push(created.approval.approval_id);
        }
        let pending_len = store.get_json(&ids[0]).await.unwrap().unwrap().get().len();
        // WHEN each is approved through the service, one transaction each: the record grows by
        // its decided entry, the review and the grant
        let before = wal_frames(&path);
        for id in &ids {
            let input = DecideInput {
                target: ApprovalState::Approved,
                actor: "iam".into(),
                reason: "reviewed".into(),
                external_ref: None,
                context: None,
            };
            service.decide(id, &input).await.unwrap();
        }
        let per_approve = (wal_frames(&path) - before) as f64 / ids.len() as f64;
        let approved_len = store.get_json(&ids[0]).await.unwrap().unwrap().get().len();
        println!(
            "record {pending_len} → {approved_len} bytes; WAL frames per approve: {per_approve:.1}"
        );
        assert!(approved_len > pending_len + 400, "the record grew");
        // THEN the grown record is rewritten in its own leaf (no rebalance with neighbours):
        // ~5 pages (~14 before migrations 006 and 007)
        assert!(per_approve <= 6.5, "{per_approve} frames per approve");
        // AND every record reads back approved and verifies
        for id in &ids {
            let record = store.get(id).await.unwrap().unwrap();
            assert_eq!(record.state, ApprovalState::Approved);
            assert!(service.verify_history(id).await.unwrap().ok());
        }
    }

    #[tokio::test]
    async fn an_approve_writes_the_changed_columns_and_few_pages() {
        // GIVEN 300 pending requests and no automatic checkpoint (so the WAL only grows)
        let (_dir, path, store) = store_without_checkpoints().await;
        let records: Vec<_> = (0..300).map(pending).collect();
        store.insert_many(&records).await.unwrap();
        // WHEN each is approved on its own (no group commit: one transaction each)
        let before = wal_frames(&path);
        for record in &records {
            store
                .replace(&approved(record), 0, ApprovalState::Pending)
                .await
                .unwrap();
        }
        let per_approve = (wal_frames(&path) - before) as f64 / records.len() as f64;
        println!("WAL frames per approve: {per_approve:.1}");
        // THEN each commit appends only the pages of the row, the two partial indexes over
        // `state` (an entry out of the pending one, one into the decided one), the open-decision
        // index and the count row: ~5.7 (10.3 with the state-keyed list indexes of 004; ~14.7
        // rewriting every column on the 003 schema)
        assert!(per_approve <= 6.5, "{per_approve} frames per approve");
        // AND the records read back approved, with the lists and counts following
        let page = store
            .list(&ListQuery::new(
                Some(ApprovalState::Approved),
                None,
                Some(500),
                None,
            ))
            .await
            .unwrap();
        assert_eq!(page.total, 300);
        assert_eq!(page.items.len(), 300);
        assert_eq!(
            store
                .get(&records[7].approval_id)
                .await
                .unwrap()
                .unwrap()
                .decided_by
                .as_deref(),
            Some("iam")
        );
        assert!(
            store
                .find_open_by_decision("dec_7")
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_transitions_commit_together_and_keep_their_own_results() {
        // GIVEN 64 pending requests
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("approvals.db")).unwrap();
        let records: Vec<_> = (0..64).map(pending).collect();
        store.insert_many(&records).await.unwrap();
        // WHEN each is approved twice at once from the same version, next to a replace of a
        // missing record and an insert of a duplicate id, all queued together
        let mut tasks = Vec::new();
        for record in &records {
            for _ in 0..2 {
                let (store, next) = (store.clone(), approved(record));
                tasks.push(tokio::spawn(async move {
                    store.replace(&next, 0, ApprovalState::Pending).await
                }));
            }
        }
        let missing = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .replace(&approved(&pending(999)), 0, ApprovalState::Pending)
                    .await
            })
        };
        let duplicate = {
            let (store, again) = (store.clone(), records[0].clone());
            tokio::spawn(async move { store.insert(&again).await })
        };
        let mut won = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => won += 1,
                Err(StoreError::VersionConflict(_)) => {}
                Err(other) => panic!("{other}"),
            }
        }
        // THEN exactly one of each pair won, and the failures failed alone
        assert_eq!(won, 64);
        assert!(matches!(
            missing.await.unwrap(),
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            duplicate.await.unwrap(),
            Err(StoreError::DuplicateId(_))
        ));
        for record in &records {
            let stored = store.get(&record.approval_id).await.unwrap().unwrap();
            assert_eq!(stored.state, ApprovalState::Approved);
            assert_eq!(stored.version, 1);
        }
    }

    /// A change that appends one `delivered` entry (a write that always has something to do).
    fn append_entry(calls: Arc<std::sync::atomic::AtomicUsize>) -> cavra_core::store::Change {
        Box::new(move |current: &Approval| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let at = current.requested_at;
            Ok(Some(cavra_core::workflow::record_delivery(
                current,
                "system",
                serde_json::json!({"n": current.history.len()}),
                at,
            )))
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn updates_of_one_record_at_once_lose_nothing_and_never_retry() {
        // GIVEN one pending request, in both connection modes
        for single in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("approvals.db");
            let store = if single {
                SqliteStore::open_single(&path).unwrap()
            } else {
                SqliteStore::open(&path).unwrap()
            };
            let record = pending(1);
            store.insert(&record).await.unwrap();
            // WHEN 32 callers each append an entry to it at the same time
            let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let tasks: Vec<_> = (0..32)
                .map(|_| {
                    let (store, id) = (store.clone(), record.approval_id.clone());
                    let change = append_entry(Arc::clone(&calls));
                    tokio::spawn(async move { store.update(&id, change).await })
                })
                .collect();
            let mut versions = Vec::new();
            for task in tasks {
                versions.push(task.await.unwrap().unwrap().unwrap().version);
            }
            // THEN every change was applied once, to the record as the one before left it:
            // 32 entries, versions 1..=32 each answered once, and no change ran twice
            versions.sort_unstable();
            assert_eq!(versions, (1..=32).collect::<Vec<u64>>());
            assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 32);
            let stored = store.get(&record.approval_id).await.unwrap().unwrap();
            assert_eq!((stored.version, stored.history.len()), (32, 32));
            let counted: Vec<u64> = stored
                .history
                .iter()
                .filter_map(|e| e.evidence.as_ref()?.get("n")?.as_u64())
                .collect();
            assert_eq!(counted, (0..32).collect::<Vec<u64>>(), "single={single}");
        }
    }

    #[tokio::test]
    async fn an_update_that_refuses_or_finds_nothing_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("approvals.db")).unwrap();
        let record = pending(2);
        store.insert(&record).await.unwrap();
        // A missing record: not found, and the change never runs
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let missing = store
            .update("apr_000000000999", append_entry(Arc::clone(&calls)))
            .await;
        assert!(matches!(missing, Err(ApprovalError::NotFound(id)) if id == "apr_000000000999"));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
        // A refusal is the caller's error; nothing to do is `None`; a panic is a store error
        let refused = store
            .update(
                &record.approval_id,
                Box::new(|_: &Approval| Err(ApprovalError::Contention("refused".into()))),
            )
            .await;
        assert!(matches!(refused, Err(ApprovalError::Contention(why)) if why == "refused"));
        let idle = store
            .update(&record.approval_id, Box::new(|_: &Approval| Ok(None)))
            .await;
        assert!(matches!(idle, Ok(None)));
        let panicked = store
            .update(
                &record.approval_id,
                Box::new(|_: &Approval| -> Result<Option<Approval>, ApprovalError> {
                    panic!("a change that panics")
                }),
            )
            .await;
        assert!(
            matches!(panicked, Err(ApprovalError::Store(_))),
            "{panicked:?}"
        );
        // A change that breaks the one-open-request rule is refused by the index, alone
        let other = pending(3);
        store.insert(&other).await.unwrap();
        let clash = {
            let decision_id = other.decision_id.clone();
            store
                .update(
                    &record.approval_id,
                    Box::new(move |current: &Approval| {
                        let mut next = current.clone();
                        next.decision_id.clone_from(&decision_id);
                        next.version += 1;
                        Ok(Some(next))
                    }),
                )
                .await
        };
        assert!(
            matches!(
                clash,
                Err(ApprovalError::Store(StoreError::DuplicateOpenDecision(_)))
            ),
            "{clash:?}"
        );
        // THEN the record is as inserted, and the writer still works
        assert_eq!(
            store.get(&record.approval_id).await.unwrap().unwrap(),
            record
        );
        let appended = store
            .update(&record.approval_id, append_entry(calls))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(appended.version, 1);
    }

    /// The API's text for `record` written out from the parsed record (the slow path).
    fn written_out(record: &Approval) -> String {
        cavra_core::store::record_json(record)
            .unwrap()
            .get()
            .to_owned()
    }

    #[tokio::test]
    async fn reads_as_json_answer_the_stored_text_only_when_it_is_the_answer() {
        // GIVEN records of this store: inserted, decided, with entries and hostile text
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("approvals.db");
        let store = SqliteStore::open(&path).unwrap();
        let mut records: Vec<_> = (10..16).map(pending).collect();
        records[1].rationale = Some("quote \" backslash \\ </script> \u{2028} é 😀".into());
        for record in &records {
            store.insert(record).await.unwrap();
        }
        store
            .replace(&approved(&records[2]), 0, ApprovalState::Pending)
            .await
            .unwrap();
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        store
            .update(&records[3].approval_id, append_entry(calls))
            .await
            .unwrap();
        // AND rows written by someone else: a legacy row (no payload_version), a payload that
        // names another record, a version moved without the payload, and broken JSON
        let conn = Connection::open(&path).unwrap();
        let edit = |sql: &str, id: &str| {
            assert_eq!(conn.execute(sql, [id]).unwrap(), 1, "{sql}");
        };
        edit(
            "UPDATE approvals SET payload_version = NULL WHERE approval_id = ?1",
            &records[0].approval_id,
        );
        edit(
            "UPDATE approvals SET payload = replace(payload, 'apr_00000000000e', 'apr_00000000000f') WHERE approval_id = ?1",
            &records[4].approval_id,
        );
        edit(
            "UPDATE approvals SET version = version + 1 WHERE approval_id = ?1",
            &records[5].approval_id,
        );
        // WHEN each is read as JSON and as a record
        // THEN the JSON is always the record written out, byte for byte
        for record in [
            &records[0],
            &records[1],
            &records[2],
            &records[3],
            &records[5],
        ] {
            let parsed = store.get(&record.approval_id).await.unwrap().unwrap();
            let json = store.get_json(&record.approval_id).await.unwrap().unwrap();
            assert_eq!(json.get(), written_out(&parsed), "{}", record.approval_id);
        }
        // AND the version moved by hand is the column's, as a parsed read says
        let moved = store
            .get_json(&records[5].approval_id)
            .await
            .unwrap()
            .unwrap();
        assert!(moved.get().contains("\"version\":1"), "{}", moved.get());
        // AND a payload changed by hand is never answered as stored: the table's trigger moves
        // the version of a payload written without it, so the stamp falls behind and the
        // record is parsed and written out again (the stored space is dropped)
        edit(
            "UPDATE approvals SET payload = '{ ' || substr(payload, 2) WHERE approval_id = ?1",
            &records[1].approval_id,
        );
        let edited = store
            .get_json(&records[1].approval_id)
            .await
            .unwrap()
            .unwrap();
        assert!(
            edited.get().starts_with("{\"approval_id\""),
            "{}",
            edited.get()
        );
        assert!(edited.get().contains("\"version\":1"), "{}", edited.get());
        // AND a payload that names another record is an error, as for a parsed read
        let foreign = store.get_json(&records[4].approval_id).await;
        assert!(
            matches!(foreign, Err(StoreError::Corrupt { .. })),
            "{foreign:?}"
        );
        assert!(store.get_json("apr_000000000999").await.unwrap().is_none());
        // AND a list page as JSON has the same items, cursor, total and unreadable ids as
        // the parsed page, in every paging shape
        for (limit, offset) in [(50, 0), (2, 0), (2, 2), (1, 5)] {
            let mut query = ListQuery::new(None, None, Some(limit), Some(offset));
            loop {
                let parsed = store.list(&query).await.unwrap();
                let json = store.list_json(&query).await.unwrap();
                let items: Vec<String> = json.items.iter().map(|j| j.get().to_owned()).collect();
                let expected: Vec<String> = parsed.items.iter().map(written_out).collect();
                assert_eq!(items, expected, "limit {limit} offset {offset}");
                assert_eq!(
                    (
                        &json.next_cursor,
                        json.total,
                        json.limit,
                        json.offset,
                        &json.unreadable
                    ),
                    (
                        &parsed.next_cursor,
                        parsed.total,
                        parsed.limit,
                        parsed.offset,
                        &parsed.unreadable
                    )
                );
                match parsed.next_cursor {
                    Some(next) => {
                        query.cursor = Some(cavra_core::store::Cursor::decode(&next).unwrap());
                    }
                    None => break,
                }
            }
        }
        let whole = store
            .list_json(&ListQuery::new(None, None, Some(50), None))
            .await
            .unwrap();
        assert_eq!(whole.unreadable, [records[4].approval_id.clone()]);
        assert_eq!(whole.items.len(), 5);
        // AND a page is one JSON document with the fields in sorted order
        let body: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&whole).unwrap()).unwrap();
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["items", "limit", "next_cursor", "offset", "total"]);
        // AND a row this store wrote at its version is answered as stored (here the same write
        // made by hand, with a space a rewrite would drop)
        edit(
            "UPDATE approvals SET payload = replace(replace(payload, '\"version\":1', '\"version\":2'), \
             '\"history\":', '\"history\": '), version = 2, payload_version = 2 WHERE approval_id = ?1",
            &records[2].approval_id,
        );
        let stored = store
            .get_json(&records[2].approval_id)
            .await
            .unwrap()
            .unwrap();
        assert!(stored.get().contains("\"history\": []"), "{}", stored.get());
        // AND the row written by someone else is this store's form again after a transition
        store
            .replace(
                &approved(&store.get(&records[0].approval_id).await.unwrap().unwrap()),
                0,
                ApprovalState::Pending,
            )
            .await
            .unwrap();
        let stamped: Option<i64> = conn
            .query_row(
                "SELECT payload_version FROM approvals WHERE approval_id = ?1",
                [&records[0].approval_id],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(stamped, Some(1));
        // AND a payload stamped right but not JSON is unreadable, never answered
        let broken_id = records[3].approval_id.clone();
        conn.execute(
            "UPDATE approvals SET payload = ?2, version = 2, payload_version = 2 WHERE approval_id = ?1",
            [broken_id.as_str(), &format!("{{\"approval_id\":\"{broken_id}\",oops,\"version\":2}}")],
        )
        .unwrap();
        let broken = store.get_json(&broken_id).await;
        assert!(
            matches!(broken, Err(StoreError::Corrupt { .. })),
            "{broken:?}"
        );
        let page = store
            .list_json(&ListQuery::new(None, None, Some(50), None))
            .await
            .unwrap();
        assert!(
            page.unreadable.contains(&broken_id),
            "{:?}",
            page.unreadable
        );
    }

    /// A read runs on the calling thread when a reader is idle; one that SQLite answers busy
    /// (a lock held by another process: in WAL mode a read never waits for a writer, so the
    /// busy answer is simulated here) runs again on the blocking pool, where it may wait;
    /// other failures are answered as they are.
    #[tokio::test]
    async fn reads_run_inline_and_only_a_busy_read_moves_to_the_blocking_pool() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        // GIVEN a store with a record and an idle reader (from a first read)
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("approvals.db")).unwrap();
        store.insert(&pending(1)).await.unwrap();
        assert!(store.get("apr_000000000001").await.unwrap().is_some());
        assert_eq!(store.inner.readers.lock().unwrap().len(), 1);
        let here = std::thread::current().id();
        let busy = || {
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                Some("database is locked".into()),
            )
        };
        let count = |conn: &Connection, path: &Path| {
            conn.query_row("SELECT count(*) FROM approvals", [], |r| r.get::<_, i64>(0))
                .map_err(|e| sql_error(path, "reading", e))
        };
        // WHEN a read succeeds THEN it ran once, on this thread (no hop)
        let threads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&threads);
        let n = store
            .read(move |conn, path| {
                seen.lock().unwrap().push(std::thread::current().id());
                count(conn, path)
            })
            .await
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(*threads.lock().unwrap(), vec![here]);
        // WHEN the first attempt is answered busy
        let threads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&threads);
        let n = store
            .read(move |conn, path| {
                let mut seen = seen.lock().unwrap();
                seen.push(std::thread::current().id());
                if seen.len() == 1 {
                    return Err(sql_error(path, "reading", busy()));
                }
                count(conn, path)
            })
            .await
            .unwrap();
        // THEN it ran again once, off this thread, and answered
        assert_eq!(n, 1);
        let threads = threads.lock().unwrap().clone();
        assert_eq!(threads.len(), 2);
        assert_eq!(threads[0], here);
        assert_ne!(threads[1], here);
        // WHEN a read fails otherwise THEN the failure is the answer, with no second attempt
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let failed = store
            .read(move |_conn, path| -> Result<(), StoreError> {
                counted.fetch_add(1, Ordering::Relaxed);
                Err(sql_error(
                    path,
                    "reading",
                    rusqlite::Error::InvalidColumnName("nope".into()),
                ))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        // AND the readers went back to the pool with no busy timeout: still inline
        assert_eq!(store.inner.readers.lock().unwrap().len(), 1);
        let threads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&threads);
        store
            .read(move |conn, path| {
                seen.lock().unwrap().push(std::thread::current().id());
                count(conn, path)
            })
            .await
            .unwrap();
        assert_eq!(*threads.lock().unwrap(), vec![here]);
    }

    #[test]
    fn only_busy_and_locked_failures_count_as_busy() {
        let path = Path::new("approvals.db");
        let code = |code| -> Result<(), StoreError> {
            Err(sql_error(
                path,
                "reading",
                rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None),
            ))
        };
        assert!(is_busy(&code(rusqlite::ffi::SQLITE_BUSY)));
        assert!(is_busy(&code(rusqlite::ffi::SQLITE_LOCKED)));
        for other in [
            rusqlite::ffi::SQLITE_CORRUPT,
            rusqlite::ffi::SQLITE_IOERR,
            rusqlite::ffi::SQLITE_READONLY,
            rusqlite::ffi::SQLITE_CANTOPEN,
        ] {
            assert!(!is_busy(&code(other)), "{other}");
        }
        assert!(!is_busy(&Ok(())));
        assert!(!is_busy::<()>(&Err(StoreError::NotFound("x".into()))));
    }

    #[tokio::test]
    async fn a_single_connection_store_reads_its_own_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_single(&dir.path().join("approvals.db")).unwrap();
        let record = pending(1);
        store.insert(&record).await.unwrap();
        assert!(
            store
                .find_open_by_decision("dec_1")
                .await
                .unwrap()
                .is_some()
        );
        store
            .replace(&approved(&record), 0, ApprovalState::Pending)
            .await
            .unwrap();
        let page = store
            .list(&ListQuery::new(None, None, Some(10), None))
            .await
            .unwrap();
        assert_eq!(page.items[0].state, ApprovalState::Approved);
        assert!(
            store.inner.readers.lock().unwrap().is_empty(),
            "no second connection"
        );
    }

    /// Median wall time of `runs` calls of `work`, in microseconds.
    async fn median_us<F, Fut>(runs: usize, mut work: F) -> u128
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = std::time::Instant::now();
            work().await;
            times.push(start.elapsed().as_micros());
        }
        times.sort_unstable();
        times[runs / 2]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "measurement: loads 1,000,000 rows; run with --ignored --nocapture"]
    async fn a_million_records_are_listed_and_counted_without_scanning() {
        const ROWS: i64 = 1_000_000;
        const T0: i64 = 1_779_107_700_000_000;
        let groups = [
            "IAM",
            "Security",
            "Platform",
            "Data",
            "Finance",
            "Networking",
            "Release",
            "Change Advisory Board",
        ];
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("approvals.db")).unwrap();
        let at = |us| Timestamp::from_unix_micros(us).unwrap();
        let template: Approval = serde_json::from_value(serde_json::json!({
            "schema_version": "cavra.approval.v1", "product": "CAVRA", "approval_id": "apr_000000000000",
            "decision_id": "dec_0", "session_id": "local", "correlation_id": null, "state": "pending",
            "approver_group": "IAM", "requested_by": "developer", "requested_at": at(T0).to_string(),
            "expires_at": at(T0).plus_hours(24).to_string(),
            "decision": {"decision_id": "dec_0", "outcome": "require_approval", "action": {"kind": "write_file", "target": "iam/admin-role.tf"},
                         "reason": "Matched approval-required path policy: iam/**", "evidence_refs": ["evidence://local/dec_0"]},
            "history": [{"event": "requested", "actor": "developer", "timestamp": at(T0).to_string(), "reason": "Matched approval-required path policy: iam/**"}],
            "evidence_refs": ["approval://apr_000000000000", "evidence://local/dec_0"],
        }))
        .unwrap();

        let start = std::time::Instant::now();
        let loader = template.clone();
        store
            .write(move |conn, _| {
                for i in 0..ROWS {
                    let mut a = loader.clone();
                    a.approval_id = format!("apr_{i:012x}");
                    a.decision_id = format!("dec_{i}");
                    // 1 in 5 pending, the rest spread over the terminal states
                    a.state = ApprovalState::ALL[(i % 5) as usize];
                    a.approver_group = groups[(i % 8) as usize].to_owned();
                    // two records per microsecond tick exercise the id tie-break
                    a.requested_at = at(T0 + (i / 2) * 1_000);
                    a.expires_at = a.requested_at.plus_hours(24);
                    NewRow::from_approval(&a).unwrap().insert(conn).unwrap();
                }
                Ok(())
            })
            .await
            .unwrap();
        let load = start.elapsed();
        let size = std::fs::metadata(store.path()).unwrap().len()
            + std::fs::metadata(dir.path().join("approvals.db-wal")).map_or(0, |m| m.len());
        println!(
            "loaded {ROWS} rows in one transaction: {load:?}, file + WAL {} MB",
            size / 1_000_000
        );

        let shapes: [(&str, Option<ApprovalState>, Option<&str>); 4] = [
            ("no filter", None, None),
            ("state", Some(ApprovalState::Pending), None),
            ("group", None, Some("Security")),
            (
                "state+group",
                Some(ApprovalState::Approved),
                Some("Security"),
            ),
        ];
        for (name, state, group) in shapes {
            let first = ListQuery::new(state, group.map(str::to_owned), Some(50), Some(0));
            let page = store.list(&first).await.unwrap();
            let expected = (0..ROWS)
                .filter(|i| {
                    state.is_none_or(|s| ApprovalState::ALL[(i % 5) as usize] == s)
                        && group.is_none_or(|g| groups[(i % 8) as usize] == g)
                })
                .count() as u64;
            assert_eq!(page.total, expected, "{name}");
            let t_first = median_us(21, || async {
                store.list(&first).await.unwrap();
            })
            .await;
            let mut deep = first.clone();
            deep.offset = 10_000;
            let t_offset = median_us(11, || async {
                store.list(&deep).await.unwrap();
            })
            .await;
            // a cursor half-way down the list
            let mut by_cursor = first.clone();
            let mid = store
                .list(&ListQuery::new(
                    state,
                    group.map(str::to_owned),
                    Some(1),
                    Some((expected / 2) as i64),
                ))
                .await
                .unwrap();
            by_cursor.cursor = Some(Cursor::after(&mid.items[0]));
            let page = store.list(&by_cursor).await.unwrap();
            assert_eq!(page.items.len(), 50);
            let t_cursor = median_us(21, || async {
                store.list(&by_cursor).await.unwrap();
            })
            .await;
            println!(
                "list {name:<12} total {expected:>7}: first page {t_first} µs, offset 10000 {t_offset} µs, cursor mid-list {t_cursor} µs"
            );
        }
        let now = at(T0 + ROWS * 1_000).plus_hours(24);
        let t_overdue = median_us(21, || async {
            assert_eq!(store.overdue(now, 100).await.unwrap().len(), 100);
        })
        .await;
        let t_get = median_us(101, || async {
            store.get("apr_00000007a120").await.unwrap().unwrap();
        })
        .await;
        let t_open = median_us(101, || async {
            store
                .find_open_by_decision("dec_500000")
                .await
                .unwrap()
                .unwrap();
        })
        .await;
        println!(
            "overdue(limit 100) {t_overdue} µs, get {t_get} µs, find_open_by_decision {t_open} µs"
        );

        let mut n = ROWS;
        let t_insert = median_us(51, || {
            n += 1;
            let mut a = template.clone();
            a.approval_id = format!("apr_{n:012x}");
            a.decision_id = format!("dec_{n}");
            let store = store.clone();
            async move { store.insert(&a).await.unwrap() }
        })
        .await;
        let target = store.get("apr_00000007a120").await.unwrap().unwrap();
        let mut version = target.version;
        let t_replace = median_us(51, || {
            let mut next = target.clone();
            next.version = version + 1;
            let expected = version;
            version += 1;
            let store = store.clone();
            async move {
                store
                    .replace(&next, expected, ApprovalState::Pending)
                    .await
                    .unwrap();
            }
        })
        .await;
        println!(
            "durable insert {t_insert} µs, durable compare-and-set replace {t_replace} µs (synchronous=FULL)"
        );
    }
}

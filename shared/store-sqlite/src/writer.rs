//! The writer thread and its group commit (issue H §2).
//!
//! One thread owns the write connection. Callers queue jobs on a channel and await a oneshot
//! answer. The thread takes every job queued at that moment (up to [`MAX_BATCH`]), runs them in
//! one `BEGIN IMMEDIATE` transaction, each under its own savepoint when the batch has more than
//! one (a job that fails is rolled back alone: its batch-mates keep their writes), and commits
//! once: one WAL append and one fsync for the whole batch. Only then is each job answered with
//! its own result, so no caller hears "done" before its change is durable. While a batch is
//! being committed the next one queues up, so the batch size follows the load: 1 when calls
//! come one at a time, up to the number of callers in flight under concurrency.
//!
//! Read jobs (single-connection mode, see [`crate::SqliteStore::open_single`]) run on the same
//! thread outside any transaction, after the writes queued before them are committed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use cavra_core::store::StoreError;
use rusqlite::Connection;
use tokio::sync::oneshot;

/// Most jobs in one transaction: bounds the time a batch holds SQLite's write lock.
const MAX_BATCH: usize = 256;

/// A write queued for the writer thread.
pub(crate) trait WriteJob: Send {
    /// Runs the work inside the batch transaction; `true` keeps its writes.
    fn run(&mut self, conn: &Connection, path: &Path) -> bool;
    /// Answers the caller once the batch's fate is known: `outcome` is the commit's (or, when
    /// the job never ran, why not). A job whose work failed answers with its own error.
    fn answer(self: Box<Self>, outcome: Result<(), String>);
}

/// A read for the writer thread (single-connection mode).
pub(crate) type ReadJob = Box<dyn FnOnce(&Connection, &Path) + Send>;

/// A unit of work for the writer thread.
pub(crate) enum Job {
    /// Runs inside a batch transaction.
    Write(Box<dyn WriteJob>),
    /// Runs outside any transaction (single-connection mode).
    Read(ReadJob),
}

/// A write whose caller awaits `reply`.
pub(crate) struct Pending<T, F> {
    work: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Pending<T, F> {
    pub(crate) fn new(work: F, reply: oneshot::Sender<Result<T, StoreError>>) -> Self {
        Self {
            work: Some(work),
            result: None,
            reply,
        }
    }
}

impl<T, F> WriteJob for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection, &Path) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection, path: &Path) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let result = work(conn, path);
        let keep = result.is_ok();
        self.result = Some(result);
        keep
    }

    fn answer(self: Box<Self>, outcome: Result<(), String>) {
        let answer = match (self.result, outcome) {
            (Some(Err(own)), _) => Err(own),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(failure)) => Err(StoreError::Unexpected(anyhow::Error::msg(failure))),
            (None, Ok(())) => Err(StoreError::Unexpected(anyhow::anyhow!(
                "a SQLite write was answered without running"
            ))),
        };
        // The caller may have gone away (a dropped future): nothing to tell.
        let _ = self.reply.send(answer);
    }
}

/// Runs the writer loop until every sender is gone, then closes the connection.
pub(crate) fn run(conn: Connection, path: PathBuf, jobs: mpsc::Receiver<Job>) {
    let mut pending: Option<Job> = None;
    loop {
        let first = match pending.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(mpsc::RecvError) => break,
            },
        };
        let first = match first {
            Job::Read(read) => {
                // A panic drops the read's answer channel: its caller hears the writer failed.
                let _ = catch_unwind(AssertUnwindSafe(|| read(&conn, &path)));
                continue;
            }
            Job::Write(write) => write,
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(Job::Write(write)) => batch.push(write),
                Ok(read @ Job::Read(_)) => {
                    // Reads see what was queued before them: commit this batch first.
                    pending = Some(read);
                    break;
                }
                Err(_) => break,
            }
        }
        commit_batch(&conn, &path, batch);
    }
    drop(conn);
}

fn run_statement(conn: &Connection, sql: &str) -> Result<(), String> {
    conn.prepare_cached(sql)
        .and_then(|mut statement| statement.execute([]))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Runs a job, treating a panic as a failure that keeps nothing.
fn run_job(job: &mut Box<dyn WriteJob>, conn: &Connection, path: &Path) -> bool {
    catch_unwind(AssertUnwindSafe(|| job.run(conn, path))).unwrap_or(false)
}

/// One transaction for `batch`, one commit, then every answer.
fn commit_batch(conn: &Connection, path: &Path, mut batch: Vec<Box<dyn WriteJob>>) {
    let fail_all = |batch: Vec<Box<dyn WriteJob>>, failure: String| {
        for job in batch {
            job.answer(Err(failure.clone()));
        }
    };
    if let Err(e) = run_statement(conn, "BEGIN IMMEDIATE") {
        fail_all(
            batch,
            format!(
                "locking SQLite database {} for writing: {e}",
                path.display()
            ),
        );
        return;
    }
    let mut kept = 0_usize;
    if let [job] = batch.as_mut_slice() {
        // Alone in its transaction: a failure rolls the whole transaction back.
        if run_job(job, conn, path) {
            kept = 1;
        }
    } else {
        let mut broken = None;
        for job in &mut batch {
            let step = run_statement(conn, "SAVEPOINT item").and_then(|()| {
                if run_job(job, conn, path) {
                    kept = kept.saturating_add(1);
                    run_statement(conn, "RELEASE item")
                } else {
                    // Undo this job alone; its batch-mates keep their writes.
                    run_statement(conn, "ROLLBACK TO item")
                        .and_then(|()| run_statement(conn, "RELEASE item"))
                }
            });
            if let Err(e) = step {
                broken = Some(e);
                break;
            }
        }
        if let Some(e) = broken {
            // The transaction is in an unknown state: give all of it up.
            let _ = run_statement(conn, "ROLLBACK");
            fail_all(
                batch,
                format!("SQLite database {}: savepoint failed: {e}", path.display()),
            );
            return;
        }
    }
    // Nothing to keep: no commit, no fsync.
    let end = if kept == 0 {
        run_statement(conn, "ROLLBACK")
    } else {
        run_statement(conn, "COMMIT")
    };
    let end = end.map_err(|e| {
        let _ = run_statement(conn, "ROLLBACK");
        format!("committing to SQLite database {}: {e}", path.display())
    });
    for job in batch {
        job.answer(end.clone());
    }
}

/// Maps a lost answer channel (the writer thread stopped or the job panicked).
pub(crate) fn writer_gone(path: &Path) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!(
        "the writer of SQLite database {} stopped",
        path.display()
    ))
}

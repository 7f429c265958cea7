//! Opening a database file and applying the embedded migrations.
//!
//! Migrations are recorded by file name in `schema_migrations (id, applied_at)`, exactly as the
//! original `cavra approval migrate` does, so a database the original created or migrated opens
//! here: `002_approval_router.sql` is the original table (a no-op when it exists) and
//! `003_approval_contract.sql` adds what the contract needs.

use std::path::Path;
use std::time::Duration;

use cavra_core::store::StoreError;
use cavra_core::time::{Clock as _, SystemClock};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior};

use crate::sql_error;

/// One embedded migration: its file name (the id recorded) and its script.
pub(crate) struct Migration {
    pub(crate) id: &'static str,
    pub(crate) sql: &'static str,
}

/// Every migration, in the order they apply (file-name order, as the original).
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        id: "002_approval_router.sql",
        sql: include_str!("../migrations/002_approval_router.sql"),
    },
    Migration {
        id: "003_approval_contract.sql",
        sql: include_str!("../migrations/003_approval_contract.sql"),
    },
    Migration {
        id: "004_write_path.sql",
        sql: include_str!("../migrations/004_write_path.sql"),
    },
    Migration {
        id: "005_payload_version.sql",
        sql: include_str!("../migrations/005_payload_version.sql"),
    },
    Migration {
        id: "006_state_indexes.sql",
        sql: include_str!("../migrations/006_state_indexes.sql"),
    },
    Migration {
        id: "007_row_reserve.sql",
        sql: include_str!("../migrations/007_row_reserve.sql"),
    },
];

/// Largest WAL file kept after a checkpoint resets it.
const JOURNAL_SIZE_LIMIT: i64 = 8 * 1024 * 1024;

/// How long a connection waits for another connection's (or process's) lock.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens (creating parent folders and the file) and configures a connection: WAL journal,
/// `synchronous = FULL`, a busy timeout, foreign keys, no checkpoint when it closes (SQLite's
/// automatic checkpoints fold the WAL back as it grows; a short-lived process then pays no
/// checkpoint fsyncs on exit) and a bound on the WAL file kept after a checkpoint.
pub(crate) fn connect(path: &Path) -> Result<Connection, StoreError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            StoreError::Unexpected(anyhow::Error::new(e).context(format!(
                "could not create the folder {} for the SQLite database",
                parent.display()
            )))
        })?;
    }
    let conn = Connection::open(path).map_err(|e| sql_error(path, "opening", e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| sql_error(path, "setting the busy timeout of", e))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(|e| sql_error(path, "switching to WAL", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unexpected(anyhow::anyhow!(
            "SQLite database {} refused the WAL journal (journal_mode is {mode})",
            path.display()
        )));
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(|e| sql_error(path, "configuring", e))?;
    conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)
        .map_err(|e| sql_error(path, "configuring", e))?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
        .map_err(|e| sql_error(path, "configuring", e))?;
    Ok(conn)
}

/// What [`apply`] did: migration ids applied now, and those already recorded.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub(crate) applied: Vec<String>,
    pub(crate) skipped: Vec<String>,
}

/// Applies every embedded migration not yet recorded. Each one runs in its own `BEGIN
/// IMMEDIATE` transaction together with its record, so concurrent openers never apply one twice
/// and a failed script leaves nothing behind.
pub(crate) fn apply(conn: &mut Connection, path: &Path) -> Result<Applied, StoreError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        .map_err(|e| sql_error(path, "creating schema_migrations in", e))?;
    let mut report = Applied::default();
    for migration in MIGRATIONS {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_error(path, "locking for migration", e))?;
        let recorded = tx
            .query_row(
                "SELECT 1 FROM schema_migrations WHERE id = ?1",
                [migration.id],
                |_| Ok(()),
            )
            .optional()
            .map_err(|e| sql_error(path, "reading schema_migrations of", e))?
            .is_some();
        if recorded {
            report.skipped.push(migration.id.to_owned());
            continue;
        }
        tx.execute_batch(migration.sql)
            .map_err(|e| sql_error(path, &format!("applying migration {} to", migration.id), e))?;
        tx.execute(
            "INSERT INTO schema_migrations (id, applied_at) VALUES (?1, ?2)",
            (migration.id, SystemClock.now().to_string()),
        )
        .map_err(|e| sql_error(path, "recording a migration in", e))?;
        tx.commit()
            .map_err(|e| sql_error(path, "committing a migration to", e))?;
        report.applied.push(migration.id.to_owned());
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cavra_core::time::Timestamp;

    /// The conversion the migration and triggers use, for one string.
    fn sql_micros(conn: &Connection, text: &str) -> Option<i64> {
        let expr = "CASE
            WHEN ?1 GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][T ][0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]*'
                 AND substr(?1, 27, 1) NOT GLOB '[0-9]'
                THEN CAST(strftime('%s', substr(?1, 1, 19) || substr(?1, 27)) AS INTEGER) * 1000000
                     + CAST(substr(?1, 21, 6) AS INTEGER)
            ELSE CAST(strftime('%s', ?1) AS INTEGER) * 1000000
                 + (CAST(round(CAST(strftime('%f', ?1) AS REAL) * 1000) AS INTEGER) % 1000) * 1000
        END";
        conn.query_row(&format!("SELECT {expr}"), [text], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn the_sql_timestamp_conversion_agrees_with_the_rust_one_to_the_microsecond() {
        // GIVEN the conversion text exactly as the migration file holds it
        let migration = MIGRATIONS[1].sql;
        assert!(migration.contains("substr(requested_at, 21, 6)"));
        let conn = Connection::open_in_memory().unwrap();
        // WHEN timestamps in the shapes the original and this port write are converted
        for text in [
            "2026-05-18T12:35:00.000001+00:00",
            "2026-05-18T12:35:00.999999+00:00",
            "2026-05-18T12:35:00.999500+00:00",
            "2026-05-18T12:35:00+00:00",
            "2026-05-18T12:35:00.123456+02:00",
            "2026-05-18T12:35:00.123456Z",
            "2026-05-18T12:35:00.125+00:00",
            "1999-12-31T23:59:59.000000+00:00",
        ] {
            // THEN SQLite and Rust agree
            let rust = text.parse::<Timestamp>().unwrap().unix_micros();
            assert_eq!(sql_micros(&conn, text), Some(rust), "{text}");
        }
    }

    #[test]
    fn applying_twice_applies_each_migration_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/approvals.db");
        let mut conn = connect(&path).unwrap();
        let first = apply(&mut conn, &path).unwrap();
        assert_eq!(
            first.applied,
            [
                "002_approval_router.sql",
                "003_approval_contract.sql",
                "004_write_path.sql",
                "005_payload_version.sql",
                "006_state_indexes.sql",
                "007_row_reserve.sql"
            ]
        );
        assert!(first.skipped.is_empty());
        let second = apply(&mut conn, &path).unwrap();
        assert!(second.applied.is_empty());
        assert_eq!(
            second.skipped,
            [
                "002_approval_router.sql",
                "003_approval_contract.sql",
                "004_write_path.sql",
                "005_payload_version.sql",
                "006_state_indexes.sql",
                "007_row_reserve.sql"
            ]
        );
    }

    #[test]
    fn the_write_path_migration_upgrades_a_contract_database_and_runs_twice_harmlessly() {
        // GIVEN a database migrated by 002 and 003 only, with a row
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("approvals.db");
        let mut conn = connect(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)",
        )
        .unwrap();
        for migration in &MIGRATIONS[..2] {
            conn.execute_batch(migration.sql).unwrap();
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?1, 'before')",
                [migration.id],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO approvals (approval_id, decision_id, state, approver_group, requested_at, \
             expires_at, payload, requested_at_us, expires_at_us) \
             VALUES ('apr_1', 'dec_1', 'pending', 'IAM', 't', 't', '{}', 1, 2)",
            [],
        )
        .unwrap();
        // WHEN it is opened by this version
        let report = apply(&mut conn, &path).unwrap();
        // THEN only the write-path migrations apply
        assert_eq!(
            report.applied,
            [
                "004_write_path.sql",
                "005_payload_version.sql",
                "006_state_indexes.sql",
                "007_row_reserve.sql"
            ]
        );
        // AND running the index scripts again changes nothing
        conn.execute_batch(MIGRATIONS[2].sql).unwrap();
        conn.execute_batch(MIGRATIONS[4].sql).unwrap();
        let indexes: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'approvals' \
                 AND sql IS NOT NULL ORDER BY name",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        // AND exactly the documented indexes remain
        assert_eq!(
            indexes,
            [
                "idx_approvals_decided",
                "idx_approvals_list_all",
                "idx_approvals_list_group",
                "idx_approvals_open_decision",
                "idx_approvals_open_duplicates",
                "idx_approvals_pending",
            ]
        );
        // AND the last index migration names each one with the query it answers
        for index in &indexes {
            assert!(
                MIGRATIONS[4].sql.contains(&format!("--   {index}")),
                "{index} undocumented"
            );
        }
        // AND the old row is found through the new partial index
        let due: String = conn
            .query_row(
                "SELECT approval_id FROM approvals INDEXED BY idx_approvals_pending \
                 WHERE state = 'pending' AND expires_at_us < 3",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(due, "apr_1");
    }

    #[test]
    fn a_connection_does_not_checkpoint_when_it_closes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("approvals.db");
        let conn = connect(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        drop(conn);
        // The WAL is left for the next opener (or an automatic checkpoint), not folded back
        // and deleted with the fsyncs that takes.
        let wal = std::fs::metadata(dir.path().join("approvals.db-wal")).unwrap();
        assert!(wal.len() > 0);
        let conn = connect(&path).unwrap();
        let x: i64 = conn.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(x, 1);
    }

    #[test]
    fn a_new_connection_is_durable_and_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("approvals.db");
        let conn = connect(&path).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        let synchronous: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        let foreign_keys: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(synchronous, 2, "FULL");
        assert_eq!(foreign_keys, 1);
    }
}

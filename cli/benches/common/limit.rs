//! The physical limit the benchmarks compare against (issue H): a durable single-row UPDATE
//! loop on one connection with the store's pragmas (WAL, synchronous=FULL, 10 s busy timeout,
//! foreign keys), in a fresh file of the same folder, measured in the same run.

use std::path::Path;
use std::time::{Duration, Instant};

/// Durable single-row UPDATEs per second, `n` of them, in a new database at `path`.
pub fn raw_update_rate(path: &Path, n: usize) -> f64 {
    let raw = rusqlite::Connection::open(path).expect("open raw");
    raw.busy_timeout(Duration::from_secs(10)).expect("busy");
    raw.pragma_update(None, "journal_mode", "WAL").expect("wal");
    raw.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .expect("pragmas");
    raw.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL); INSERT INTO t VALUES (1, 0);",
    )
    .expect("schema");
    let started = Instant::now();
    for _ in 0..n {
        raw.execute("UPDATE t SET v = v + 1 WHERE id = 1", [])
            .expect("update");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

//! The store contract suite against memory, the JSON file store and SQLite.
//! The race: 64 concurrent deciders per request, over 500 requests.

use std::sync::Arc;

use cavra_core::memory::MemoryStore;
use cavra_core::store::ApprovalStore;
use cavra_e2e::store_contract::run_all;
use cavra_store_json::JsonFileStore;
use cavra_store_sqlite::SqliteStore;

const DECIDERS: usize = 64;
const ROUNDS: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn the_memory_store_meets_the_contract() {
    run_all(
        || Arc::new(MemoryStore::new()) as Arc<dyn ApprovalStore>,
        DECIDERS,
        ROUNDS,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn the_json_file_store_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let counter = std::sync::atomic::AtomicU32::new(0);
    run_all(
        || {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Arc::new(
                JsonFileStore::open(&dir.path().join(format!("store-{n}/approvals.json"))).unwrap(),
            ) as Arc<dyn ApprovalStore>
        },
        DECIDERS,
        ROUNDS,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn the_sqlite_store_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let counter = std::sync::atomic::AtomicU32::new(0);
    run_all(
        || {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Arc::new(
                SqliteStore::open(&dir.path().join(format!("store-{n}/approvals.db"))).unwrap(),
            ) as Arc<dyn ApprovalStore>
        },
        DECIDERS,
        ROUNDS,
    )
    .await;
}

//! The store contract suite against memory, the JSON file store, SQLite and DynamoDB (on the
//! emulator, see `cavra_e2e::emulator`).
//! The race: 64 concurrent deciders per request, over 500 requests (100 on DynamoDB: the
//! emulator answers one request at a time, ~80 a second under this race, so each round there
//! exercises the same conditional-write path one request after another; 500 rounds took 20 of
//! the test command's minutes and showed nothing 100 do not).

use std::sync::Arc;

use cavra_core::memory::MemoryStore;
use cavra_core::store::ApprovalStore;
use cavra_e2e::store_contract::run_all;
use cavra_store_dynamodb::DynamoStore;
use cavra_store_json::JsonFileStore;
use cavra_store_sqlite::SqliteStore;

const DECIDERS: usize = 64;
const ROUNDS: usize = 500;
/// The race's rounds on the emulator (see above).
const DYNAMODB_ROUNDS: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn the_memory_store_meets_the_contract() {
    run_all(
        "memory",
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
        "JSON file",
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
        "SQLite",
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

/// The same suite against DynamoDB on the emulator, each check on a fresh table.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn the_dynamodb_store_meets_the_contract() {
    let client = cavra_e2e::emulator::dynamodb_client();
    let mut tables = Vec::new();
    for _ in 0..cavra_e2e::store_contract::CHECKS {
        tables.push(cavra_e2e::emulator::fresh_table(&client, "contract").await);
    }
    let names = tables.clone();
    let tables = std::sync::Mutex::new(tables);
    let started = std::time::Instant::now();
    run_all(
        "DynamoDB",
        || {
            let table = tables.lock().unwrap().pop().expect("one table per check");
            Arc::new(DynamoStore::new(client.clone(), table)) as Arc<dyn ApprovalStore>
        },
        DECIDERS,
        DYNAMODB_ROUNDS,
    )
    .await;
    println!(
        "DynamoDB (emulator) contract suite with {DECIDERS} deciders x {DYNAMODB_ROUNDS} rounds: {:?}",
        started.elapsed()
    );
    for name in names {
        cavra_e2e::emulator::delete_table(&client, &name).await;
    }
}

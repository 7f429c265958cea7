//! Approval benchmarks. Figures are printed, never asserted.
//!
//! `cargo bench -p cavra-cli --bench approvals` (set `BENCH_ROWS` to change the 1,000,000
//! stored requests of the list benchmark; `BENCH_APPROVES` for the approve loop).
//!
//! 1. SQLite durable approve throughput (through the service: read, check, compare-and-set
//!    write with synchronous=FULL) at concurrency 1 and 16 (tasks), next to a raw SQLite
//!    durable single-row UPDATE loop with the store's pragmas in the same run (issue H: the
//!    physical limit), and their ratios.
//! 2. List-page latency p50/p99 over many query shapes with `BENCH_ROWS` stored requests.
//! 3. `cavra approval create` wall time, process start to exit.
//! 4. Consume latency (issue F): each approved grant spent once through the service, p50/p99,
//!    next to the raw durable UPDATE of the same run.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cavra_core::action::Presented;
use cavra_core::approval::ApprovalState;
use cavra_core::ids::{ApprovalId, RandomIds};
use cavra_core::routing::RoutingTable;
use cavra_core::service::ApprovalService;
use cavra_core::store::{ApprovalStore, Cursor, ListQuery};
use cavra_core::time::SystemClock;
use cavra_core::workflow::{CheckOptions, ConsumeInput, DecideInput, NewRequest, create_request};
use cavra_e2e::fixtures::{at, iam_decision};
use cavra_store_sqlite::SqliteStore;

#[path = "common/limit.rs"]
mod limit;
use limit::raw_update_rate;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Creates `n` pending requests through the service; their ids.
async fn seed_pending(service: &ApprovalService, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let request = NewRequest {
            rationale: None,
            requested_by: Some("developer".into()),
            ..NewRequest::new(iam_decision(&format!("dec_{prefix}_{i}")))
        };
        ids.push(
            service
                .create(request)
                .await
                .expect("create")
                .approval
                .approval_id,
        );
    }
    ids
}

fn approve_input() -> DecideInput {
    DecideInput {
        target: ApprovalState::Approved,
        actor: "iam".into(),
        reason: "bench".into(),
        external_ref: None,
        context: None,
    }
}

/// Approves every id with `tasks` concurrent tasks (each takes the next id from a shared
/// counter); approvals per second.
async fn approve_rate(service: &Arc<ApprovalService>, ids: &Arc<Vec<String>>, tasks: usize) -> f64 {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut handles = Vec::with_capacity(tasks);
    for _ in 0..tasks {
        let (service, ids, next) = (Arc::clone(service), Arc::clone(ids), Arc::clone(&next));
        handles.push(tokio::spawn(async move {
            let input = approve_input();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(id) = ids.get(i) else { break };
                service.decide(id, &input).await.expect("approve");
            }
        }));
    }
    for handle in handles {
        handle.await.expect("approver task");
    }
    ids.len() as f64 / started.elapsed().as_secs_f64()
}

async fn approve_throughput(dir: &Path, n: usize) {
    let store = Arc::new(SqliteStore::open(&dir.join("approve.db")).expect("open"));
    let service = Arc::new(ApprovalService::new(
        store,
        Arc::new(SystemClock),
        Arc::new(RandomIds),
    ));
    let serial = Arc::new(seed_pending(&service, "c1", n).await);
    let concurrent = Arc::new(seed_pending(&service, "c16", n).await);

    // Interleaved so that the limit and the store see the same disk in the same minute.
    let raw_before = raw_update_rate(&dir.join("raw-1.db"), n);
    let c1 = approve_rate(&service, &serial, 1).await;
    let c16 = approve_rate(&service, &concurrent, 16).await;
    let raw_after = raw_update_rate(&dir.join("raw-2.db"), n);
    let raw = raw_before.max(raw_after);
    println!(
        "raw SQLite durable single-row UPDATE (store pragmas): {raw_before:.0}/s before, {raw_after:.0}/s after the approves; limit {raw:.0}/s ({:.3} ms each)",
        1000.0 / raw
    );
    println!(
        "approve (SQLite, durable, via service) c=1:  {n} approvals, {c1:.0}/s ({:.3} ms each), ratio to the raw loop {:.2}x",
        1000.0 / c1,
        c1 / raw
    );
    println!(
        "approve (SQLite, durable, via service) c=16: {n} approvals, {c16:.0}/s, ratio to the raw loop {:.2}x",
        c16 / raw
    );

    // Spending each grant once: verify the record, check state, grant, digest, then one
    // compare-and-set write of the `consumed` entry.
    let mut consume_samples = Vec::with_capacity(n);
    for (i, id) in serial.iter().enumerate() {
        let input = ConsumeInput {
            decision: iam_decision(&format!("dec_c1_{i}")),
            presented: Presented::default(),
            actor: "developer".into(),
            reason: None,
            context: None,
        };
        let started = Instant::now();
        let record = service
            .consume(id, &input, CheckOptions::default())
            .await
            .expect("consume");
        consume_samples.push(started.elapsed());
        assert_eq!(record.state, ApprovalState::Consumed);
    }
    consume_samples.sort();
    let consume_mean = consume_samples.iter().sum::<Duration>() / n.max(1) as u32;
    println!(
        "consume (SQLite, durable, via service): p50 {:.3} ms, p99 {:.3} ms, mean {:.3} ms; ratio raw-update/consume {:.2}",
        ms(percentile(&consume_samples, 0.50)),
        ms(percentile(&consume_samples, 0.99)),
        ms(consume_mean),
        (1.0 / raw) / consume_mean.as_secs_f64()
    );
}

async fn list_latency(dir: &Path, rows: usize) {
    let path = dir.join("list.db");
    let store = SqliteStore::open(&path).expect("open");
    let routing = RoutingTable::default();
    let groups = [
        "IAM",
        "Platform Security",
        "Cloud Security",
        "Repository Owners",
        "AI Governance",
    ];
    let states = [
        ApprovalState::Pending,
        ApprovalState::Approved,
        ApprovalState::Denied,
        ApprovalState::Expired,
    ];
    let started = Instant::now();
    let batch = 20_000;
    let mut n = 0;
    while n < rows {
        let records: Vec<_> = (n..(n + batch).min(rows))
            .map(|i| {
                let id = ApprovalId::from_hex12(&format!("{i:012x}")).expect("id");
                let request = NewRequest {
                    rationale: None,
                    approver_group: Some(groups[i % groups.len()].to_owned()),
                    ..NewRequest::new(iam_decision(&format!("dec_{i}")))
                };
                let mut record =
                    create_request(request, &routing, &id, at(i as i64)).expect("record");
                record.state = states[i % states.len()];
                record
            })
            .collect();
        store.insert_many(&records).await.expect("bulk insert");
        n += records.len();
    }
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    println!(
        "seeded {rows} requests in {:.1} s ({:.0} MiB database)",
        started.elapsed().as_secs_f64(),
        size as f64 / 1_048_576.0
    );

    let mut samples = Vec::new();
    let shapes: Vec<ListQuery> = vec![
        ListQuery::new(None, None, Some(50), None),
        ListQuery::new(Some(ApprovalState::Pending), None, Some(50), None),
        ListQuery::new(None, Some("IAM".into()), Some(50), None),
        ListQuery::new(
            Some(ApprovalState::Approved),
            Some("Cloud Security".into()),
            Some(50),
            None,
        ),
        ListQuery::new(Some(ApprovalState::Pending), None, Some(50), Some(500)),
    ];
    for round in 0..60 {
        for shape in &shapes {
            let t = Instant::now();
            let page = store.list(shape).await.expect("list");
            samples.push(t.elapsed());
            // Follow the cursor a few pages deep, as a console scrolling would.
            if round % 10 == 0 {
                let mut query = shape.clone();
                let mut next = page.next_cursor;
                for _ in 0..5 {
                    let Some(text) = next else { break };
                    query.cursor = Some(Cursor::decode(&text).expect("cursor"));
                    let t = Instant::now();
                    next = store.list(&query).await.expect("list").next_cursor;
                    samples.push(t.elapsed());
                }
            }
        }
    }
    samples.sort();
    println!(
        "list page (50 items) with {rows} stored: {} samples, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        samples.len(),
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.99)),
        ms(*samples.last().expect("samples"))
    );
}

fn create_wall_time(dir: &Path) {
    let db = dir.join("cli.db");
    let decision_file = dir.join("decision.json");
    let mut samples = Vec::new();
    for i in 0..30 {
        std::fs::write(
            &decision_file,
            serde_json::to_vec(&iam_decision(&format!("dec_cli_{i}"))).expect("json"),
        )
        .expect("write");
        let t = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cavra"))
            .args([
                "approval",
                "create",
                decision_file.to_str().expect("utf-8"),
                "--sqlite",
                db.to_str().expect("utf-8"),
                "--requested-by",
                "developer",
            ])
            .output()
            .expect("run cavra");
        samples.push(t.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    samples.sort();
    println!(
        "`cavra approval create` (SQLite) wall time over {} runs: p50 {:.1} ms, p99 {:.1} ms",
        samples.len(),
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.99))
    );
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    approve_throughput(dir.path(), env_usize("BENCH_APPROVES", 2000)).await;
    create_wall_time(dir.path());
    list_latency(dir.path(), env_usize("BENCH_ROWS", 1_000_000)).await;
}

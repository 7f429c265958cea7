//! DynamoDB requests and latency per port operation, against the emulator (moto on
//! 127.0.0.1:4566, started by `localstack/start.sh` if needed). Prints figures, asserts
//! nothing. Run: `cargo bench -p cavra-e2e --bench dynamodb_requests`.
//!
//! Requests are counted with an SDK interceptor (per attempt, so SDK retries would show).
//! Latency is wall time per call through the whole stack (SDK, HTTP, moto), so it measures the
//! emulator as much as the adapter: read the request counts as the portable figure.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cavra_core::action::Presented;
use cavra_core::approval::ApprovalState;
use cavra_core::ids::RandomIds;
use cavra_core::service::ApprovalService;
use cavra_core::store::{ApprovalStore, Cursor, ListQuery};
use cavra_core::time::SystemClock;
use cavra_core::workflow::{CheckOptions, ConsumeInput, NewRequest};
use cavra_e2e::emulator::{self, RequestCounter};
use cavra_e2e::fixtures::iam_decision;
use cavra_e2e::store_contract::approve;
use cavra_store_dynamodb::DynamoStore;

/// Records in the table before listing.
const RECORDS: usize = 300;
/// Calls timed per operation.
const SAMPLES: usize = 50;

struct Figures {
    name: &'static str,
    requests: BTreeMap<String, u64>,
    calls: u64,
    times: Vec<Duration>,
}

impl Figures {
    fn print(&mut self) {
        self.times.sort_unstable();
        let pick = |q: f64| self.times[((self.times.len() - 1) as f64 * q).round() as usize];
        let per_call: Vec<String> = self
            .requests
            .iter()
            .map(|(op, n)| format!("{op} {:.2}", *n as f64 / self.calls as f64))
            .collect();
        println!(
            "{:<22} requests/call: {:<40} p50 {:>8.2?}  p90 {:>8.2?}  max {:>8.2?}",
            self.name,
            per_call.join(", "),
            pick(0.5),
            pick(0.9),
            pick(1.0)
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let counter = RequestCounter::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        emulator::dynamodb_config()
            .interceptor(counter.clone())
            .build(),
    );
    let table = emulator::fresh_table(&client, "bench").await;
    let store: Arc<dyn ApprovalStore> = Arc::new(DynamoStore::new(client.clone(), &table));
    let service = ApprovalService::new(store, Arc::new(SystemClock), Arc::new(RandomIds));
    counter.take();

    async fn measure<F, Fut>(
        name: &'static str,
        counter: &RequestCounter,
        calls: usize,
        mut work: F,
    ) -> Figures
    where
        F: FnMut(usize) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        counter.take();
        let mut times = Vec::with_capacity(calls);
        for n in 0..calls {
            let start = Instant::now();
            work(n).await;
            times.push(start.elapsed());
        }
        Figures {
            name,
            requests: counter.take(),
            calls: calls as u64,
            times,
        }
    }

    // create (pending: one open-decision lookup, then the record + guard transaction)
    let created_ids = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut create = measure("create", &counter, RECORDS, |n| {
        let service = service.clone();
        let id_slot = Arc::clone(&created_ids);
        async move {
            let created = service
                .create(NewRequest {
                    rationale: None,
                    requested_by: Some("developer".into()),
                    ..NewRequest::new(iam_decision(&format!("dec_bench_{n}")))
                })
                .await
                .expect("create");
            id_slot.lock().unwrap().push(created.approval.approval_id);
        }
    })
    .await;
    let ids = created_ids.lock().unwrap().clone();
    let mut get = measure("get", &counter, SAMPLES, |n| {
        let service = service.clone();
        let id = ids[n * 3].clone();
        async move {
            service.get(&id).await.expect("get");
        }
    })
    .await;
    let mut first_page = measure("list page of 50", &counter, SAMPLES, |_| {
        let service = service.clone();
        async move {
            let page = service
                .list(&ListQuery::new(None, None, Some(50), None))
                .await
                .expect("list");
            assert_eq!(page.items.len(), 50);
        }
    })
    .await;
    let middle = service
        .list(&ListQuery::new(None, None, Some(1), Some(150)))
        .await
        .expect("list");
    let cursor = Cursor::after(&middle.items[0]);
    let mut cursor_page = measure("list page 50 (cursor)", &counter, SAMPLES, |_| {
        let service = service.clone();
        let cursor = cursor.clone();
        async move {
            let mut query = ListQuery::new(Some(ApprovalState::Pending), None, Some(50), None);
            query.cursor = Some(cursor);
            service.list(&query).await.expect("list");
        }
    })
    .await;
    let mut approve_figures = measure("approve", &counter, SAMPLES, |n| {
        let service = service.clone();
        let id = ids[n].clone();
        async move {
            service
                .decide(&id, &approve("platform-security"))
                .await
                .expect("approve");
        }
    })
    .await;

    // consume (issue F): each approved grant spent once, the `consumed` entry one
    // conditional write.
    let mut consume_figures = measure("consume", &counter, SAMPLES, |n| {
        let service = service.clone();
        let id = ids[n].clone();
        async move {
            let input = ConsumeInput {
                decision: iam_decision(&format!("dec_bench_{n}")),
                presented: Presented::default(),
                actor: "developer".into(),
                reason: None,
                context: None,
            };
            let record = service
                .consume(&id, &input, CheckOptions::default())
                .await
                .expect("consume");
            assert_eq!(record.state, ApprovalState::Consumed);
        }
    })
    .await;

    println!(
        "cavra-store-dynamodb on the emulator ({}), table of {RECORDS} records; {SAMPLES} timed calls per operation ({RECORDS} for create)",
        emulator::ENDPOINT
    );
    for figures in [
        &mut create,
        &mut approve_figures,
        &mut consume_figures,
        &mut get,
        &mut first_page,
        &mut cursor_page,
    ] {
        figures.print();
    }
    emulator::delete_table(&client, &table).await;
}

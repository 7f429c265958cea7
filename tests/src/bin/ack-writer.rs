//! Test helper for the acknowledgement-durability test (issue H): creates `COUNT` pending
//! requests in a SQLite store, prints `ready`, then approves them from `TASKS` concurrent tasks
//! (so the store's writer commits them in groups) and prints `approved <id>` after each approve
//! returns, flushed. A parent that SIGKILLs this process right after reading an
//! acknowledgement must find that approval in the database.
//!
//! Usage: `ack-writer PATH PREFIX COUNT TASKS`

use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use cavra_core::approval::ApprovalState;
use cavra_core::ids::RandomIds;
use cavra_core::service::ApprovalService;
use cavra_core::time::SystemClock;
use cavra_core::workflow::{DecideInput, NewRequest};
use cavra_e2e::fixtures::iam_decision;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, prefix, count, tasks] = args.as_slice() else {
        anyhow::bail!("usage: ack-writer PATH PREFIX COUNT TASKS");
    };
    let count: usize = count.parse()?;
    let tasks: usize = tasks.parse()?;
    let store = Arc::new(cavra_store_sqlite::SqliteStore::open(
        std::path::Path::new(path),
    )?);
    let service = Arc::new(ApprovalService::new(
        store,
        Arc::new(SystemClock),
        Arc::new(RandomIds),
    ));
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        let request = NewRequest {
            rationale: None,
            requested_by: Some("developer".into()),
            ..NewRequest::new(iam_decision(&format!("dec_{prefix}_{n}")))
        };
        ids.push(service.create(request).await?.approval.approval_id);
    }
    let out = Arc::new(Mutex::new(std::io::stdout()));
    {
        let mut out = out.lock().map_err(|_| anyhow::anyhow!("stdout lock"))?;
        writeln!(out, "ready")?;
        out.flush()?;
    }
    let ids = Arc::new(ids);
    let next = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (service, ids, next, out) = (
            Arc::clone(&service),
            Arc::clone(&ids),
            Arc::clone(&next),
            Arc::clone(&out),
        );
        handles.push(tokio::spawn(async move {
            let input = DecideInput {
                target: ApprovalState::Approved,
                actor: "iam".into(),
                reason: "reviewed".into(),
                external_ref: None,
                context: None,
            };
            while let Some(id) = ids.get(next.fetch_add(1, Ordering::Relaxed)) {
                service.decide(id, &input).await?;
                // The acknowledgement: only after the approve returned.
                let mut out = out.lock().map_err(|_| anyhow::anyhow!("stdout lock"))?;
                writeln!(out, "approved {id}")?;
                out.flush()?;
            }
            anyhow::Ok(())
        }));
    }
    for handle in handles {
        handle.await??;
    }
    Ok(())
}

//! Test helper for the crash-safety suite: writes approvals to a store as fast as it can and
//! prints one acknowledgement line per completed write (`created <id>`, `approved <id>`),
//! flushed, so a parent that kills this process with SIGKILL knows what must have survived.
//!
//! Usage: `crash-writer json|sqlite PATH PREFIX`

use std::io::Write as _;
use std::sync::Arc;

use cavra_core::approval::ApprovalState;
use cavra_core::ids::RandomIds;
use cavra_core::service::ApprovalService;
use cavra_core::store::ApprovalStore;
use cavra_core::time::SystemClock;
use cavra_core::workflow::{DecideInput, NewRequest};
use cavra_e2e::fixtures::iam_decision;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, kind, path, prefix] = args.as_slice() else {
        anyhow::bail!("usage: crash-writer json|sqlite PATH PREFIX");
    };
    let path = std::path::Path::new(path);
    let store: Arc<dyn ApprovalStore> = match kind.as_str() {
        "json" => Arc::new(cavra_store_json::JsonFileStore::open(path)?),
        "sqlite" => Arc::new(cavra_store_sqlite::SqliteStore::open(path)?),
        other => anyhow::bail!("unknown store kind {other}"),
    };
    let service = ApprovalService::new(store, Arc::new(SystemClock), Arc::new(RandomIds));
    let mut out = std::io::stdout().lock();
    for n in 0_u64.. {
        let request = NewRequest {
            rationale: None,
            requested_by: Some("developer".into()),
            ..NewRequest::new(iam_decision(&format!("dec_{prefix}_{n}")))
        };
        let id = service.create(request).await?.approval.approval_id;
        writeln!(out, "created {id}")?;
        out.flush()?;
        if n % 2 == 0 {
            let input = DecideInput {
                target: ApprovalState::Approved,
                actor: "iam".into(),
                reason: "reviewed".into(),
                external_ref: None,
                context: None,
            };
            service.decide(&id, &input).await?;
            writeln!(out, "approved {id}")?;
            out.flush()?;
        }
    }
    Ok(())
}

//! Choosing the store from the command line: `--sqlite PATH` (or `CAVRA_APPROVAL_DB`) wins over
//! `--store PATH` (the JSON file, default `.cavra/approvals.json`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use cavra_core::ids::RandomIds;
use cavra_core::routing::RoutingTable;
use cavra_core::service::ApprovalService;
use cavra_core::store::ApprovalStore;
use cavra_core::time::SystemClock;
use cavra_store_json::JsonFileStore;
use cavra_store_sqlite::SqliteStore;
use clap::Args;

/// Where approvals are kept.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// JSON approval store file.
    #[arg(long, value_name = "PATH", default_value = cavra_store_json::DEFAULT_PATH)]
    pub store: PathBuf,
    /// SQLite approval database; takes precedence over --store.
    #[arg(long, value_name = "PATH", env = "CAVRA_APPROVAL_DB")]
    pub sqlite: Option<PathBuf>,
}

impl StoreArgs {
    /// Opens the chosen store.
    pub fn open(&self) -> anyhow::Result<Arc<dyn ApprovalStore>> {
        Ok(match &self.sqlite {
            Some(path) => Arc::new(SqliteStore::open(path)?),
            None => Arc::new(JsonFileStore::open(&self.store)?),
        })
    }

    /// A service over the chosen store with the default routing table.
    pub fn service(&self) -> anyhow::Result<ApprovalService> {
        Ok(ApprovalService::new(
            self.open()?,
            Arc::new(SystemClock),
            Arc::new(RandomIds),
        ))
    }
}

/// Loads `--routing-file`, or the default table.
pub fn routing_table(path: Option<&PathBuf>) -> anyhow::Result<RoutingTable> {
    match path {
        Some(path) => Ok(RoutingTable::load(path)?),
        None => Ok(RoutingTable::default()),
    }
}

/// Reads a decision file.
pub fn read_decision(path: &std::path::Path) -> anyhow::Result<cavra_core::decision::Decision> {
    cavra_core::decision::Decision::read_file(path)
        .context("reading the decision")
        .map_err(|e| anyhow::anyhow!("{}", e.root_cause()))
}

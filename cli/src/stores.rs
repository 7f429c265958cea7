//! Choosing the store from the command line: `--dynamodb-table NAME` (or
//! `CAVRA_APPROVAL_TABLE`) wins over `--sqlite PATH` (or `CAVRA_APPROVAL_DB`), which wins over
//! `--store PATH` (the JSON file, default `.cavra/approvals.json`). DynamoDB is reached through
//! the standard AWS settings (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL` for an emulator).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use cavra_core::ids::RandomIds;
use cavra_core::routing::RoutingTable;
use cavra_core::service::ApprovalService;
use cavra_core::store::ApprovalStore;
use cavra_core::time::SystemClock;
use cavra_store_dynamodb::DynamoStore;
use cavra_store_json::JsonFileStore;
use cavra_store_sqlite::SqliteStore;
use clap::Args;

/// Where approvals are kept.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// JSON approval store file (used when neither --dynamodb-table nor --sqlite is given).
    #[arg(long, value_name = "PATH", default_value = cavra_store_json::DEFAULT_PATH)]
    pub store: PathBuf,
    /// SQLite approval database; takes precedence over --store.
    #[arg(long, value_name = "PATH", env = "CAVRA_APPROVAL_DB")]
    pub sqlite: Option<PathBuf>,
    /// DynamoDB approval table (region, credentials and endpoint from the standard AWS
    /// settings, e.g. AWS_REGION and AWS_ENDPOINT_URL); takes precedence over --sqlite and
    /// --store.
    #[arg(long, value_name = "NAME", env = "CAVRA_APPROVAL_TABLE")]
    pub dynamodb_table: Option<String>,
}

impl StoreArgs {
    /// Opens the chosen store: DynamoDB table, else SQLite, else the JSON file.
    pub async fn open(&self) -> anyhow::Result<Arc<dyn ApprovalStore>> {
        Ok(
            match (
                self.dynamodb_table.as_deref().filter(|t| !t.is_empty()),
                &self.sqlite,
            ) {
                (Some(table), _) => Arc::new(DynamoStore::from_env(table.to_owned()).await?),
                (None, Some(path)) => Arc::new(SqliteStore::open(path)?),
                (None, None) => Arc::new(JsonFileStore::open(&self.store)?),
            },
        )
    }

    /// A service over the chosen store with the default routing table and the lifetime
    /// limits of `CAVRA_APPROVAL_MAX_TTL_HOURS` / `CAVRA_APPROVAL_MAX_BREAK_GLASS_TTL_HOURS`.
    pub async fn service(&self) -> anyhow::Result<ApprovalService> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let limits = cavra_api::config::parse_limits(
            var("CAVRA_APPROVAL_MAX_TTL_HOURS").as_deref(),
            var("CAVRA_APPROVAL_MAX_BREAK_GLASS_TTL_HOURS").as_deref(),
        )
        .map_err(anyhow::Error::msg)?;
        Ok(ApprovalService::new(
            self.open().await?,
            Arc::new(SystemClock),
            Arc::new(RandomIds),
        )
        .with_limits(limits))
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

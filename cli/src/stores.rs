//! Choosing the store from the command line: `--dynamodb-table NAME` (or
//! `CAVRA_APPROVAL_TABLE`) wins over `--sqlite PATH` (or `CAVRA_APPROVAL_DB`), which wins over
//! `--store PATH` (the JSON file, default `.cavra/approvals.json`). DynamoDB is reached through
//! the standard AWS settings (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL` for an emulator).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use cavra_core::chain_key::{self, ChainKeyRing};
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
    /// A deployed approvals API to work through instead (`cavra approval …` only).
    #[command(flatten)]
    pub remote: crate::remote::RemoteArgs,
}

impl StoreArgs {
    /// Refuses `--api` / `CAVRA_API_URL` for a command that works on a store only, rather
    /// than quietly using a local store the caller did not mean.
    ///
    /// # Errors
    /// `--api` is set.
    pub fn refuse_remote(&self) -> anyhow::Result<()> {
        if self
            .remote
            .api
            .as_deref()
            .is_some_and(|a| !a.trim().is_empty())
        {
            return Err(crate::Exit::usage(
                "this command works on a store, not through --api / CAVRA_API_URL",
            )
            .into());
        }
        Ok(())
    }

    /// Opens the chosen store: DynamoDB table, else SQLite, else the JSON file.
    pub async fn open(&self) -> anyhow::Result<Arc<dyn ApprovalStore>> {
        // Commands that can work through the API dispatch before opening a store.
        self.refuse_remote()?;
        Ok(
            match (
                self.dynamodb_table.as_deref().filter(|t| !t.is_empty()),
                &self.sqlite,
            ) {
                (Some(table), _) => Arc::new(DynamoStore::from_env(table.to_owned()).await?),
                // One connection, reads and writes on it: a CLI run is short (issue H §5).
                (None, Some(path)) => Arc::new(SqliteStore::open_single(path)?),
                (None, None) => Arc::new(JsonFileStore::open(&self.store)?),
            },
        )
    }

    /// A service over the chosen store with the default routing table, the lifetime limits
    /// of `CAVRA_APPROVAL_MAX_TTL_HOURS` / `CAVRA_APPROVAL_MAX_BREAK_GLASS_TTL_HOURS`, and the
    /// notifier of `CAVRA_APPROVAL_PROVIDER_CONFIG`: the CLI's one composition root.
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
        .with_limits(limits)
        .with_chain_keys(self.chain_keys().await?)
        .with_notifier(crate::commands::notify::notifier_from_env()))
    }

    /// The local file the chosen store lives in (none for DynamoDB).
    fn local_path(&self) -> Option<&Path> {
        match (
            self.dynamodb_table.as_deref().filter(|t| !t.is_empty()),
            &self.sqlite,
        ) {
            (Some(_), _) => None,
            (None, Some(path)) => Some(path),
            (None, None) => Some(&self.store),
        }
    }

    /// The chain keys (issue E §5): `CAVRA_APPROVAL_CHAIN_KEY`, else for DynamoDB the Secrets
    /// Manager secret `CAVRA_APPROVAL_CHAIN_KEY_SECRET`, else the key file beside a local store
    /// (`migrate` creates one for SQLite). `None` writes unkeyed records.
    pub async fn chain_keys(&self) -> anyhow::Result<Option<ChainKeyRing>> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut text = var("CAVRA_APPROVAL_CHAIN_KEY");
        if text.is_none()
            && self.local_path().is_none()
            && let Some(secret) = var("CAVRA_APPROVAL_CHAIN_KEY_SECRET")
        {
            use cavra_secrets::FetchSecret as _;
            text = Some(
                cavra_secrets::SecretsManager::from_env()
                    .fetch(&secret)
                    .await?
                    .ok_or_else(|| {
                        anyhow::anyhow!("the chain key secret {secret} does not exist")
                    })?,
            );
        }
        chain_key::local_ring(text.as_deref(), self.local_path()).map_err(anyhow::Error::msg)
    }
}

/// Creates the `0600` chain key file beside a local database, unless a key is configured
/// (`CAVRA_APPROVAL_CHAIN_KEY`) or the file exists. Returns the file when it made one.
///
/// # Errors
/// The OS random source or the file system failed.
pub fn create_key_file(store: &Path) -> anyhow::Result<Option<PathBuf>> {
    if std::env::var("CAVRA_APPROVAL_CHAIN_KEY").is_ok_and(|v| !v.trim().is_empty()) {
        return Ok(None);
    }
    let path = chain_key::key_file_beside(store);
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let id = format!("local-{}", &cavra_core::digest::sha256_hex(secret)[..8]);
    match options.open(&path) {
        Ok(mut file) => {
            use std::io::Write as _;
            file.write_all(ChainKeyRing::file_text(&id, &secret).as_bytes())
                .with_context(|| format!("writing the chain key file {}", path.display()))?;
            file.sync_all()?;
            Ok(Some(path))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(anyhow::Error::new(e)
            .context(format!("creating the chain key file {}", path.display()))),
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

//! The local AWS emulator for the suites: [`ensure_running`] calls `localstack/start.sh` once
//! per process (it installs and starts moto on 127.0.0.1:4566 when nothing answers there, and
//! bootstraps the table and the provider secret), so a plain `cargo test --workspace` needs
//! only python3 and PyPI. Each test then makes its own table ([`fresh_table`]) from
//! `localstack/table.json`, so tests never share state.
//!
//! Clients are configured explicitly for the emulator (no process environment is changed);
//! child processes get the same settings from [`child_env`], through the standard AWS
//! variables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::Value;

/// Where the emulator listens.
pub const ENDPOINT: &str = "http://127.0.0.1:4566";
/// The region every client uses.
pub const REGION: &str = "us-east-1";
/// The provider secret `localstack/bootstrap` creates from `localstack/secrets.json`.
pub const PROVIDER_SECRET_ID: &str = "cavra-approvals/providers";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Starts the emulator if needed (once per process) and bootstraps it.
///
/// # Panics
/// When `localstack/start.sh` fails; the message carries its output.
pub fn ensure_running() {
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    let started = STARTED.get_or_init(|| {
        // The lease first, so a server about to exit for want of leaseholders stays.
        let leases = repo_root().join("target/cavra-emulator-leases");
        std::fs::create_dir_all(&leases)
            .and_then(|()| std::fs::write(leases.join(std::process::id().to_string()), b""))
            .map_err(|e| {
                format!(
                    "could not write the emulator lease in {}: {e}",
                    leases.display()
                )
            })?;
        let script = repo_root().join("localstack/start.sh");
        let output = Command::new("bash")
            .arg(&script)
            .env("AWS_ENDPOINT_URL", ENDPOINT)
            .env("AWS_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            // Started detached so it serves every test process; it exits a few seconds after
            // the last test process holding a lease has ended (so the test command stops it),
            // and once idle for 15 minutes whatever happens.
            .env("CAVRA_EMULATOR_IDLE_EXIT", "900")
            .env("CAVRA_EMULATOR_LEASES", &leases)
            .output()
            .map_err(|e| format!("could not run {}: {e}", script.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} failed ({}):\n{}\n{}",
                script.display(),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    });
    if let Err(message) = started {
        panic!("the AWS emulator is not available: {message}");
    }
}

/// The standard AWS settings that point a child process at the emulator.
pub fn child_env() -> [(&'static str, &'static str); 4] {
    [
        ("AWS_ENDPOINT_URL", ENDPOINT),
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ]
}

/// What a child process (a function binary, the CLI) needs to keep approvals in `table` on
/// the emulator: [`child_env`] plus `CAVRA_APPROVAL_TABLE`.
#[must_use]
pub fn table_env(table: &str) -> Vec<(String, String)> {
    child_env()
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .chain(std::iter::once((
            "CAVRA_APPROVAL_TABLE".to_owned(),
            table.to_owned(),
        )))
        .collect()
}

fn credentials() -> Credentials {
    Credentials::new("test", "test", None, None, "cavra-emulator")
}

/// A DynamoDB client configuration for the emulator (add interceptors before building).
pub fn dynamodb_config() -> aws_sdk_dynamodb::config::Builder {
    ensure_running();
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(ENDPOINT)
        .region(Region::new(REGION))
        .credentials_provider(credentials())
}

/// A DynamoDB client for the emulator.
pub fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(dynamodb_config().build())
}

/// A Secrets Manager client for the emulator.
pub fn secretsmanager_client() -> aws_sdk_secretsmanager::Client {
    ensure_running();
    aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .endpoint_url(ENDPOINT)
            .region(aws_sdk_secretsmanager::config::Region::new(REGION))
            .credentials_provider(credentials())
            .build(),
    )
}

/// A name no other test (in this or another process) uses: `prefix-<pid>-<time>-<n>`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("localstack/table.json: {key} is not a string in {value}"))
}

fn key_schema(elements: &Value) -> Vec<KeySchemaElement> {
    elements
        .as_array()
        .expect("localstack/table.json: KeySchema is a list")
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(text(k, "AttributeName"))
                .key_type(KeyType::from(text(k, "KeyType")))
                .build()
                .expect("a key schema element")
        })
        .collect()
}

/// Creates a table named `name` with the keys, indexes and billing of
/// `localstack/table.json` (the emulator makes it active at once).
///
/// # Panics
/// When the file cannot be read or the emulator refuses the table.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    let path = repo_root().join("localstack/table.json");
    let definition: Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let mut request = client
        .create_table()
        .table_name(name)
        .set_key_schema(Some(key_schema(&definition["KeySchema"])))
        .billing_mode(BillingMode::from(text(&definition, "BillingMode")));
    for attribute in definition["AttributeDefinitions"]
        .as_array()
        .expect("AttributeDefinitions is a list")
    {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(text(attribute, "AttributeName"))
                .attribute_type(ScalarAttributeType::from(text(attribute, "AttributeType")))
                .build()
                .expect("an attribute definition"),
        );
    }
    for index in definition["GlobalSecondaryIndexes"]
        .as_array()
        .expect("GlobalSecondaryIndexes is a list")
    {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(text(index, "IndexName"))
                .set_key_schema(Some(key_schema(&index["KeySchema"])))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(text(
                            &index["Projection"],
                            "ProjectionType",
                        )))
                        .build(),
                )
                .build()
                .expect("an index"),
        );
    }
    request.send().await.unwrap_or_else(|e| {
        panic!(
            "creating table {name}: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(e)
        )
    });
}

/// A new, empty table with a unique name (see [`create_table`]).
pub async fn fresh_table(client: &aws_sdk_dynamodb::Client, prefix: &str) -> String {
    let name = unique_name(prefix);
    create_table(client, &name).await;
    name
}

/// Deletes a test's table (keeps the emulator's memory bounded across suites).
///
/// # Panics
/// When the emulator refuses.
pub async fn delete_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    client
        .delete_table()
        .table_name(name)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "deleting table {name}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
        });
}

/// Counts the requests an SDK client sends, by operation name (`GetItem`, `Query`, …), per
/// attempt (so SDK retries count).
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<Mutex<BTreeMap<String, u64>>>);

impl RequestCounter {
    /// The counts so far.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The counts so far, then starts again from zero.
    pub fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// All requests counted so far.
    pub fn total(&self) -> u64 {
        self.counts().values().sum()
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "cavra-request-counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map_or_else(|| "unknown".to_owned(), |m| m.name().to_owned());
        *self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(operation)
            .or_default() += 1;
        Ok(())
    }
}

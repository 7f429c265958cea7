//! `cavra approval export-notifications`, `provider-requests` and `deliver` (original §8,
//! CONTRACT §8), and the notifier the service uses to announce every state change when
//! `CAVRA_APPROVAL_PROVIDER_CONFIG` names a provider config with `notify_on`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use cavra_core::approval::{Approval, sort_value};
use cavra_core::notify::{self, Notifier, NotifyEvent, NotifyOptions, Provider};
use cavra_core::time::{Clock as _, SystemClock};
use cavra_delivery::{
    Deliverer, DeliveryOptions, Notifications, ProviderConfig, ReqwestTransport, Secrets,
};
use cavra_secrets::SecretsManagerResolver;
use clap::Args;
use serde_json::Value;

use crate::Exit;
use crate::output::print_json;
use crate::remote::Remote;
use crate::stores::StoreArgs;

/// The environment variable naming the provider config.
pub const PROVIDER_CONFIG_ENV: &str = "CAVRA_APPROVAL_PROVIDER_CONFIG";
/// Exit code when any delivery failed (CONTRACT §8).
pub const EXIT_DELIVERY_FAILED: u8 = 3;

/// Options shared by the two export commands.
#[derive(Debug, Args)]
pub struct ExportOptions {
    /// all, jira, servicenow, slack, teams or webhook.
    #[arg(long, default_value = "all")]
    provider: String,
    /// Provider config: Jira `project_key`/`issue_type` and the ServiceNow `table` are taken
    /// from it.
    #[arg(long, value_name = "PATH", env = PROVIDER_CONFIG_ENV)]
    config: Option<PathBuf>,
    /// Console base URL the payloads link to.
    #[arg(long, value_name = "URL", env = "CAVRA_PUBLIC_CONSOLE_URL")]
    console_url: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

/// `export-notifications` arguments.
#[derive(Debug, Args)]
pub struct ExportNotificationsArgs {
    /// The approval id (apr_…).
    approval_id: String,
    /// Folder for `{provider}-approval-payload.json` (created if missing).
    #[arg(
        long,
        value_name = "DIR",
        default_value = ".cavra/approvals/notifications"
    )]
    output: PathBuf,
    #[command(flatten)]
    options: ExportOptions,
}

/// `provider-requests` arguments.
#[derive(Debug, Args)]
pub struct ProviderRequestsArgs {
    /// The approval id (apr_…).
    approval_id: String,
    /// Folder for `{provider}-approval-request.json` (created if missing).
    #[arg(
        long,
        value_name = "DIR",
        default_value = ".cavra/approvals/provider-requests"
    )]
    output: PathBuf,
    #[command(flatten)]
    options: ExportOptions,
}

/// `deliver` arguments.
#[derive(Debug, Args)]
pub struct DeliverArgs {
    /// The approval id (apr_…).
    approval_id: String,
    /// Provider config (JSON, or YAML by suffix).
    #[arg(long, value_name = "PATH", env = PROVIDER_CONFIG_ENV)]
    config: Option<PathBuf>,
    /// Folder for the evidence file `{approval_id}-provider-delivery.json`.
    #[arg(
        long,
        value_name = "DIR",
        default_value = ".cavra/approvals/deliveries"
    )]
    output: PathBuf,
    /// all, or one configured provider.
    #[arg(long, default_value = "all")]
    provider: String,
    /// Retries after the first attempt (network errors, 429 and 5xx only; at most 10).
    #[arg(long, default_value_t = 2, allow_negative_numbers = true)]
    retries: i64,
    /// Per-attempt timeout (0.1–120).
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    timeout_seconds: f64,
    /// Who the `delivered` history entry names.
    #[arg(long, default_value = cavra_core::approval::SYSTEM_ACTOR)]
    actor: String,
    /// Console base URL the payloads link to.
    #[arg(long, value_name = "URL", env = "CAVRA_PUBLIC_CONSOLE_URL")]
    console_url: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

impl ExportNotificationsArgs {
    /// Where the record is read from.
    pub fn store(&self) -> &StoreArgs {
        &self.options.store
    }
}

impl ProviderRequestsArgs {
    /// Where the record is read from.
    pub fn store(&self) -> &StoreArgs {
        &self.options.store
    }
}

impl DeliverArgs {
    /// Where the record is read from.
    pub fn store(&self) -> &StoreArgs {
        &self.store
    }
}

fn write_json(path: &Path, value: &Value) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(&sort_value(value.clone()))?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn load_config(path: &Path) -> anyhow::Result<ProviderConfig> {
    Ok(ProviderConfig::load(path)?)
}

fn deliverer(console_url: Option<String>) -> anyhow::Result<Deliverer> {
    let transport = ReqwestTransport::new().context("starting the HTTP client")?;
    // `*_env` keys read the environment; `*_secret` keys read Secrets Manager (configured
    // from the standard AWS settings, only when such a key is used).
    let secrets =
        Secrets::from_process_env().with_store(Arc::new(SecretsManagerResolver::from_env()));
    Ok(
        Deliverer::new(Arc::new(transport), secrets, Arc::new(SystemClock))
            .with_console_url(console_url),
    )
}

/// The record's id becomes part of the evidence file's name under `--output`: only a well-formed id
/// (`apr_` + 12 hex) may, so a stored `../` id cannot write outside it (issue E §6).
fn path_safe_id(approval: &Approval) -> anyhow::Result<()> {
    cavra_core::ids::ApprovalId::parse(&approval.approval_id)
        .map(drop)
        .map_err(|e| anyhow::anyhow!("refusing to write files for this record: {e}"))
}

async fn export(
    approval_id: &str,
    output: &Path,
    options: &ExportOptions,
    unknown: &str,
    done: &str,
    remote: Option<&Remote>,
    file: impl Fn(Provider, &Approval, &NotifyOptions) -> (String, Value),
) -> anyhow::Result<()> {
    let providers = notify::select_providers(&options.provider)
        .ok_or_else(|| anyhow::anyhow!("{unknown}: {}", options.provider))?;
    let approval = match remote {
        Some(remote) => remote.record(approval_id).await?,
        None => options.store.service().await?.get(approval_id).await?,
    };
    path_safe_id(&approval)?;
    let mut payload_options =
        NotifyOptions::new(SystemClock.now()).with_console_url(options.console_url.as_deref());
    if let Some(path) = &options.config {
        payload_options = load_config(path)?.payload_options(payload_options);
    }
    std::fs::create_dir_all(output).with_context(|| format!("creating {}", output.display()))?;
    let mut written = Vec::new();
    for provider in providers {
        let (name, value) = file(provider, &approval, &payload_options);
        let path = output.join(name);
        write_json(&path, &value)?;
        written.push(path);
    }
    crate::output::print_line(format_args!("{done} {}", output.display()))?;
    for path in written {
        crate::output::print_line(path.display())?;
    }
    Ok(())
}

/// `cavra approval export-notifications`.
pub async fn export_notifications(
    args: ExportNotificationsArgs,
    remote: Option<&Remote>,
) -> anyhow::Result<()> {
    export(
        &args.approval_id,
        &args.output,
        &args.options,
        "unknown approval notification provider",
        "approval notification payloads exported",
        remote,
        |provider, approval, options| {
            (
                provider.payload_file_name(),
                notify::payload(provider, approval, options),
            )
        },
    )
    .await
}

/// `cavra approval provider-requests`.
pub async fn provider_requests(
    args: ProviderRequestsArgs,
    remote: Option<&Remote>,
) -> anyhow::Result<()> {
    export(
        &args.approval_id,
        &args.output,
        &args.options,
        "unknown approval provider",
        "approval provider request specs exported",
        remote,
        |provider, approval, options| {
            let spec = notify::request_spec(provider, approval, options);
            (
                provider.request_file_name(),
                serde_json::to_value(spec).expect("specs serialise"),
            )
        },
    )
    .await
}

/// `cavra approval deliver`: prints the result and writes the evidence file even when a
/// delivery failed, appends it to the request's history, then exits 3 if any failed.
pub async fn deliver(args: DeliverArgs) -> anyhow::Result<()> {
    let service = args.store.service().await?;
    let approval = service.get(&args.approval_id).await?;
    path_safe_id(&approval)?;
    let config_path = args.config.as_deref().ok_or_else(|| {
        anyhow::anyhow!("--config is required for live approval provider delivery")
    })?;
    let config = load_config(config_path)?;
    let options = DeliveryOptions::new(args.retries, args.timeout_seconds);
    let result = deliverer(args.console_url)?
        .deliver(&config, &approval, &args.provider, options)
        .await?;
    let value = result.to_value();
    keep_delivery_evidence(&args.output, &approval.approval_id, &value)?;
    service
        .record_delivery(&approval.approval_id, &args.actor, &value)
        .await?;
    delivery_exit(&result.failed_providers())
}

/// Writes the delivery evidence file under `output`, prints the result and where it went.
fn keep_delivery_evidence(output: &Path, approval_id: &str, value: &Value) -> anyhow::Result<()> {
    std::fs::create_dir_all(output).with_context(|| format!("creating {}", output.display()))?;
    let path = output.join(format!("{approval_id}-provider-delivery.json"));
    write_json(&path, value)?;
    print_json(value)?;
    crate::output::print_line(format_args!(
        "approval provider delivery evidence exported {}",
        path.display()
    ))?;
    Ok(())
}

/// Exit 3 naming the providers that failed, if any.
fn delivery_exit(failed: &[&str]) -> anyhow::Result<()> {
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Exit {
            message: format!("approval provider delivery failed: {}", failed.join(", ")),
            code: EXIT_DELIVERY_FAILED,
        }
        .into())
    }
}

/// `cavra approval deliver --api URL`: the server delivers with its own provider config and
/// secrets and records the `delivered` entry; the result is printed and kept as the evidence
/// file, and the exit is 3 if any provider failed.
pub async fn deliver_remote(args: DeliverArgs, remote: &Remote) -> anyhow::Result<()> {
    if args.config.is_some() {
        return Err(Exit::usage(
            "--config is for stores: through --api the server's provider config applies",
        )
        .into());
    }
    let path = crate::remote::approval_path(&args.approval_id, "/deliver")?;
    let request = serde_json::json!({
        "provider": args.provider,
        "retries": args.retries,
        "timeout_seconds": args.timeout_seconds,
        "actor": args.actor,
    });
    let value = remote
        .call(cavra_api::Route::Deliver, &path, Some(&request))
        .await?;
    keep_delivery_evidence(&args.output, &args.approval_id, &value)?;
    delivery_exit(&failed_providers(&value))
}

/// The names of the providers a delivery result (`cavra.approval.delivery.v1`) says failed.
fn failed_providers(value: &Value) -> Vec<&str> {
    value
        .get("deliveries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|d| d.get("success").and_then(Value::as_bool) != Some(true))
        .map(|d| d.get("provider").and_then(Value::as_str).unwrap_or("?"))
        .collect()
}

/// The CLI's notifier: the providers of `CAVRA_APPROVAL_PROVIDER_CONFIG`, with a warning on
/// stderr when a delivery fails (the evidence is in the request's history either way).
#[derive(Debug)]
struct WarningNotifier(Notifications);

#[async_trait::async_trait]
impl Notifier for WarningNotifier {
    async fn notify(&self, record: &Approval, event: NotifyEvent) -> Option<Value> {
        let evidence = self.0.notify(record, event).await?;
        let failed = failed_providers(&evidence);
        if !failed.is_empty() {
            eprintln!(
                "warning: approval notification failed for: {} (evidence in the request's history)",
                failed.join(", ")
            );
        }
        Some(evidence)
    }
}

/// The notifier every store-backed command's service gets (the CLI's composition root, see
/// [`crate::stores::StoreArgs::service`]): when `CAVRA_APPROVAL_PROVIDER_CONFIG` is set, the
/// service tells the providers that asked for each change (break-glass: all). A config that
/// cannot be loaded is a warning, not a failed command: the change itself still happens.
pub fn notifier_from_env() -> Option<Arc<dyn Notifier>> {
    let path = std::env::var_os(PROVIDER_CONFIG_ENV).filter(|p| !p.is_empty())?;
    let loaded = load_config(Path::new(&path)).and_then(|config| {
        let console = std::env::var("CAVRA_PUBLIC_CONSOLE_URL").ok();
        Ok(Notifications::new(config, deliverer(console)?))
    });
    match loaded {
        Ok(notifications) => Some(Arc::new(WarningNotifier(notifications))),
        Err(error) => {
            eprintln!("warning: approval notifications skipped: {error:#}");
            None
        }
    }
}

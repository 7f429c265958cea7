//! `cavra approval …`: the approval workflow on the local store.

use std::path::PathBuf;

use anyhow::Context as _;
use cavra_core::action::Presented;
use cavra_core::approval::ApprovalState;
use cavra_core::integrity::Integrity;
use cavra_core::store::{Cursor, ListQuery};
use cavra_core::time::{Clock as _, SystemClock};
use cavra_core::workflow::{
    BreakGlassInput, CheckOptions, ConsumeInput, DEFAULT_BREAK_GLASS_TTL_HOURS, DEFAULT_REQUESTER,
    DEFAULT_TTL_HOURS, DecideInput, EXPIRY_REASON, NewRequest, OverrideOf,
};
use clap::{Args, Subcommand};
use serde_json::json;

mod remote;

use super::{agent, evaluate, notify};
use crate::Exit;
use crate::identity::IdentityArgs;
use crate::output::{print_json, print_line};
use crate::stores::{StoreArgs, read_decision, routing_table};

/// Approval subcommands.
#[derive(Debug, Subcommand)]
pub enum ApprovalCommand {
    /// Create (or upgrade) the SQLite approval database; safe to run again.
    #[command(after_help = "Example:\n  cavra approval migrate --sqlite .cavra/approvals.db")]
    Migrate(MigrateArgs),
    /// Create a pending approval request from a decision file.
    #[command(
        after_help = "Examples:\n  cavra approval create /tmp/cavra-decision.json --requested-by developer\n  cavra approval create /tmp/cavra-decision.json --sqlite .cavra/approvals.db --routing-file .cavra/approval-routing.json --requested-by developer"
    )]
    Create(CreateArgs),
    /// Show which approver group a decision routes to, and the rules in force.
    #[command(
        after_help = "Examples:\n  cavra approval route /tmp/cavra-decision.json\n  cavra approval route /tmp/cavra-decision.json --routing-file .cavra/approval-routing.json"
    )]
    Route(RouteArgs),
    /// List approval requests, newest first.
    #[command(
        after_help = "Examples:\n  cavra approval list --state pending\n  cavra approval list --approver-group IAM --limit 20 --cursor <next_cursor>"
    )]
    List(ListArgs),
    /// Print one approval request.
    Get(IdArgs),
    /// Approve a pending request.
    #[command(
        after_help = "Examples:\n  cavra approval approve apr_123 --actor platform-security --reason \"Scoped IAM change reviewed\" --external-ref CHG-123\n  cavra approval approve apr_123 --actor iam@example.com --actor-claims /tmp/oidc-claims.json --reason \"Scoped IAM change reviewed\"\n  cavra approval approve apr_123 --actor iam@example.com --actor-token /tmp/oidc.jwt --oidc-config .cavra/approval-oidc.json --rbac-file .cavra/approval-rbac.yaml --reason \"Signed identity verified\""
    )]
    Approve(DecideArgs),
    /// Deny a pending request.
    #[command(
        after_help = "Example:\n  cavra approval deny apr_123 --actor change-manager --reason \"Too broad: scope it to one role\""
    )]
    Deny(DecideArgs),
    /// Expire a pending request.
    #[command(after_help = "Example:\n  cavra approval expire apr_123")]
    Expire(ExpireArgs),
    /// Expire every pending request past its expiry time (runs as `system`).
    Sweep(StoreOnly),
    /// Record an emergency break-glass override with mandatory evidence.
    #[command(
        name = "break-glass",
        after_help = "Example:\n  cavra approval break-glass /tmp/cavra-decision.json --actor incident-commander --reason \"Production recovery\" --external-ref INC-777"
    )]
    BreakGlass(BreakGlassArgs),
    /// Record the Change Advisory Board's post-incident review of a break-glass override.
    Review(ReviewArgs),
    /// Exit 0 only if the request is approved (or break-glass), unexpired, and for this decision.
    #[command(
        after_help = "Example (what an agent runs before it acts):\n  cavra approval check apr_123 --decision /tmp/cavra-decision.json && terraform apply"
    )]
    Check(CheckArgs),
    /// Spend one use of an approved request's grant for exactly this decision and content;
    /// exits 1 (`approval already used`, a mismatch, an ended grant) without spending.
    #[command(
        after_help = "Examples (what an agent runs right before it acts):\n  cavra approval consume apr_123 --decision /tmp/cavra-decision.json --content new-role.tf && cp new-role.tf iam/admin-role.tf\n  cavra approval consume apr_123 --decision /tmp/cavra-decision.json && terraform apply"
    )]
    Consume(ConsumeArgs),
    /// Wait for a request's decision: exit 0 approved (or break-glass), 1 denied, expired or
    /// consumed, 4 when --timeout passes first.
    #[command(after_help = "Example:\n  cavra approval wait apr_123 --timeout 15m")]
    Wait(WaitArgs),
    /// Recompute a request's hash-chained history.
    #[command(name = "verify-history")]
    VerifyHistory(IdArgs),
    /// Print the decision with the request's outcome attached, for evidence bundles.
    #[command(
        name = "attach-decision",
        after_help = "Example:\n  cavra approval attach-decision apr_123 /tmp/cavra-decision.json > /tmp/approved-decision.json"
    )]
    AttachDecision(AttachArgs),
    /// Write each provider's notification payload for a request (Slack, Teams, Jira, ServiceNow, webhook).
    #[command(
        name = "export-notifications",
        after_help = "Example:\n  cavra approval export-notifications apr_123 --output .cavra/approvals/notifications"
    )]
    ExportNotifications(notify::ExportNotificationsArgs),
    /// Write credential-free HTTP request specs for each provider.
    #[command(
        name = "provider-requests",
        after_help = "Example:\n  cavra approval provider-requests apr_123 --output .cavra/approvals/provider-requests"
    )]
    ProviderRequests(notify::ProviderRequestsArgs),
    /// Send a request to the configured providers; exits 3 if any delivery failed.
    #[command(
        after_help = "Example:\n  cavra approval deliver apr_123 --config .cavra/approval-providers.yaml --provider jira --output .cavra/approvals/deliveries"
    )]
    Deliver(notify::DeliverArgs),
}

/// `migrate` arguments.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// SQLite approval database.
    #[arg(
        long,
        value_name = "PATH",
        env = "CAVRA_APPROVAL_DB",
        default_value = ".cavra/approvals.db"
    )]
    sqlite: PathBuf,
    /// Accepted for the original's command line; ignored: the migrations are compiled in and
    /// always win (the output says so).
    #[arg(long, value_name = "PATH")]
    migrations_dir: Option<PathBuf>,
    /// Recount the list totals of this DynamoDB approval table instead (after upgrading a
    /// table written before the counters existed; run it before traffic resumes).
    #[arg(long, value_name = "NAME")]
    dynamodb_table: Option<String>,
}

/// The original's default `--migrations-dir`.
const ORIGINAL_MIGRATIONS_DIR: &str = "migrations/sqlite";

/// A path as the original prints it (compat appendix A1, POSIX pure-path rules): empty and `.`
/// components dropped, `..` kept, no trailing `/`, one leading `/` kept (exactly two kept as
/// `//`), `.` when nothing remains.
fn original_path_text(path: &str) -> String {
    let leading = path
        .len()
        .saturating_sub(path.trim_start_matches('/').len());
    let root = match leading {
        0 => "",
        2 => "//",
        _ => "/",
    };
    let parts: Vec<&str> = path
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    if parts.is_empty() {
        return if root.is_empty() {
            ".".to_owned()
        } else {
            root.to_owned()
        };
    }
    format!("{root}{}", parts.join("/"))
}

/// Only the store options.
#[derive(Debug, Args)]
pub struct StoreOnly {
    #[command(flatten)]
    store: StoreArgs,
}

/// An approval id and the store.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// The approval id (apr_…).
    approval_id: String,
    #[command(flatten)]
    store: StoreArgs,
}

/// `create` arguments.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Decision JSON (from `cavra evaluate … --json`).
    decision_file: PathBuf,
    /// An approver group to add as a required group. Routing stays authoritative: this
    /// replaces the routed group only where the matching rule sets `allow_requester_group`,
    /// and is the group only when no rule routes the decision.
    #[arg(long)]
    approver_group: Option<String>,
    /// Routing rules (JSON or YAML) replacing the default table.
    #[arg(long, value_name = "PATH")]
    routing_file: Option<PathBuf>,
    /// Who asks.
    #[arg(long, default_value = DEFAULT_REQUESTER)]
    requested_by: String,
    /// Hours until the request expires (at least 1).
    #[arg(long, default_value_t = DEFAULT_TTL_HOURS, allow_negative_numbers = true)]
    ttl_hours: i64,
    /// Print only the request's id instead of the record (for scripts:
    /// `ID=$(cavra approval create decision.json --print-id)`).
    #[arg(long)]
    print_id: bool,
    /// The agent's own words on why it wants to act, shown to approvers (at most 2,000
    /// characters; control characters are stripped).
    #[arg(long)]
    rationale: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

/// Prints a created request: its id alone (`--print-id`), else the whole record.
fn print_created(record: &serde_json::Value, print_id: bool) -> anyhow::Result<()> {
    if !print_id {
        return print_json(record);
    }
    let id = record["approval_id"]
        .as_str()
        .context("the created record has no approval_id")?;
    print_line(id)
}

/// `route` arguments.
#[derive(Debug, Args)]
pub struct RouteArgs {
    /// Decision JSON.
    decision_file: PathBuf,
    /// Routing rules (JSON or YAML) replacing the default table.
    #[arg(long, value_name = "PATH")]
    routing_file: Option<PathBuf>,
}

/// `list` arguments.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// pending, approved, denied, expired, break_glass or consumed.
    #[arg(long)]
    state: Option<String>,
    /// Exact approver group.
    #[arg(long)]
    approver_group: Option<String>,
    /// Page size (1–500).
    #[arg(long, default_value_t = 50, allow_negative_numbers = true)]
    limit: i64,
    /// Records to skip (ignored with --cursor).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    offset: i64,
    /// `next_cursor` from the previous page.
    #[arg(long)]
    cursor: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

/// `approve` / `deny` arguments.
#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The approval id (apr_…).
    approval_id: String,
    /// Who decides (a verified token's identity wins).
    #[arg(long, default_value = "")]
    actor: String,
    /// Why (required).
    #[arg(long, default_value = "")]
    reason: String,
    /// Change or ticket number.
    #[arg(long)]
    external_ref: Option<String>,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    store: StoreArgs,
}

/// `expire` arguments.
#[derive(Debug, Args)]
pub struct ExpireArgs {
    /// The approval id (apr_…).
    approval_id: String,
    /// Who expires it (`system` is reserved for the sweeper).
    #[arg(long, default_value = cavra_core::approval::UNNAMED_EXPIRY_ACTOR)]
    actor: String,
    /// Why.
    #[arg(long, default_value = EXPIRY_REASON)]
    reason: String,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    store: StoreArgs,
}

/// `break-glass` arguments.
#[derive(Debug, Args)]
pub struct BreakGlassArgs {
    /// The blocked decision JSON.
    decision_file: PathBuf,
    /// Who overrides (required).
    #[arg(long, default_value = "")]
    actor: String,
    /// Why (required).
    #[arg(long, default_value = "")]
    reason: String,
    /// Approver group recorded on the override.
    #[arg(long, default_value = cavra_core::approval::CHANGE_ADVISORY_BOARD)]
    approver_group: String,
    /// Incident number.
    #[arg(long)]
    external_ref: Option<String>,
    /// Hours the override stays valid (at least 1).
    #[arg(long, default_value_t = DEFAULT_BREAK_GLASS_TTL_HOURS, allow_negative_numbers = true)]
    ttl_hours: i64,
    /// Override this pending request: the decision file's rule_id and target must be the
    /// request's, the override takes the request's decision, and the request is closed by it
    /// (linked both ways).
    #[arg(long, value_name = "APPROVAL_ID")]
    blocked: Option<String>,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    store: StoreArgs,
}

/// `review` arguments.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The break-glass approval id.
    approval_id: String,
    /// The reviewer (a verified token's identity wins).
    #[arg(long, default_value = "")]
    actor: String,
    /// Review findings (required).
    #[arg(long, default_value = "")]
    reason: String,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    store: StoreArgs,
}

/// `check` arguments.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The approval id.
    approval_id: String,
    /// The decision the agent is about to act on.
    #[arg(long, value_name = "FILE")]
    decision: PathBuf,
    /// Exit 1 unless every deciding review is a verified (OIDC) identity.
    #[arg(long)]
    require_verified: bool,
    /// Accept a record written without a chain key although one is configured.
    #[arg(long)]
    allow_unkeyed: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// `consume` arguments.
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// The approval id.
    approval_id: String,
    /// The decision the agent is about to act on.
    #[arg(long, value_name = "FILE")]
    decision: PathBuf,
    /// The content about to be written (`-` for stdin); required when the approval binds one.
    #[arg(long, value_name = "FILE|-")]
    content: Option<PathBuf>,
    /// The MCP tool arguments about to be sent (JSON).
    #[arg(long, value_name = "JSON")]
    tool_args: Option<String>,
    /// The plan about to be applied.
    #[arg(long, value_name = "FILE")]
    plan: Option<PathBuf>,
    /// Who consumes (a verified token's identity wins).
    #[arg(long, default_value = DEFAULT_REQUESTER)]
    actor: String,
    /// Why, recorded on the `consumed` entry.
    #[arg(long)]
    reason: Option<String>,
    /// Refuse unless every deciding review is a verified (OIDC) identity.
    #[arg(long)]
    require_verified: bool,
    /// Accept a record written without a chain key although one is configured.
    #[arg(long)]
    allow_unkeyed: bool,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    store: StoreArgs,
}

/// `wait` arguments.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The approval id.
    approval_id: String,
    /// How long to wait (`90s`, `30m`, `4h`; whole seconds); default: until decided.
    #[arg(long, value_name = "DURATION", value_parser = agent::parse_duration)]
    timeout: Option<std::time::Duration>,
    #[command(flatten)]
    store: StoreArgs,
}

/// `attach-decision` arguments.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The approval id.
    approval_id: String,
    /// The decision JSON the request was made for.
    decision_file: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

/// Prints a check report; exit 1 with its reason unless the agent may act.
fn print_check(report: &cavra_core::workflow::CheckReport) -> anyhow::Result<()> {
    print_json(report)?;
    match &report.reason {
        None => Ok(()),
        Some(reason) => Err(Exit {
            message: reason.clone(),
            code: 1,
        }
        .into()),
    }
}

/// Prints what verifying a record found; exit 1 with the first problem.
fn print_verification(
    approval_id: &str,
    report: &cavra_core::integrity::RecordVerification,
) -> anyhow::Result<()> {
    let mut value = serde_json::to_value(report)?;
    value["approval_id"] = json!(approval_id);
    value["valid"] = json!(report.ok());
    print_json(&value)?;
    match report.integrity {
        Integrity::Unkeyed => eprintln!(
            "note: approval record {approval_id} is unkeyed: it was written without a chain key"
        ),
        Integrity::Sealed => eprintln!(
            "note: approval record {approval_id} is sealed with chain key {}: the server holds \
             the key and checks the seal; the chain and its replay were checked here",
            report.key_id.as_deref().unwrap_or("?")
        ),
        Integrity::Keyed | Integrity::Broken => {}
    }
    match report.problem() {
        None => Ok(()),
        Some(error) => Err(Exit {
            message: error,
            code: 1,
        }
        .into()),
    }
}

pub(crate) fn now_unix() -> i64 {
    SystemClock.now().unix_seconds()
}

async fn decide(args: DecideArgs, target: ApprovalState) -> anyhow::Result<()> {
    let resolved = args.identity.resolve(now_unix())?;
    let service = args.store.service().await?.with_rbac(resolved.rbac);
    let input = DecideInput {
        target,
        actor: args.actor,
        reason: args.reason,
        external_ref: args.external_ref,
        context: resolved.context,
    };
    let record = service.decide(&args.approval_id, &input).await?;
    print_json(&record.to_sorted_value())
}

/// Runs an approval subcommand: through the API with `--api` / `CAVRA_API_URL`, else on the
/// chosen store.
pub async fn run(command: ApprovalCommand) -> anyhow::Result<()> {
    if let Some(client) = remote::store_of(&command)
        .map(|store| store.remote.client())
        .transpose()?
        .flatten()
    {
        return Box::pin(remote::run(command, client)).await;
    }
    match command {
        ApprovalCommand::Migrate(args) => {
            if let Some(table) = args.dynamodb_table.filter(|t| !t.trim().is_empty()) {
                let store = cavra_store_dynamodb::DynamoStore::from_env(table.clone()).await?;
                let counters = store.recount().await?;
                return print_json(&json!({"table": table, "counters": counters}));
            }
            let report = cavra_store_sqlite::migrate(&args.sqlite)?;
            let mut value = serde_json::to_value(&report)?;
            // The original's keys beside ours: `database` and `migrations_dir` as it prints them.
            value["database"] = json!(original_path_text(&report.database));
            let dir = args
                .migrations_dir
                .as_ref()
                .map(|d| d.display().to_string());
            value["migrations_dir"] = json!(original_path_text(
                dir.as_deref().unwrap_or(ORIGINAL_MIGRATIONS_DIR)
            ));
            if let Some(dir) = dir {
                value["note"] = json!(format!(
                    "--migrations-dir {dir} was not read: the embedded migrations were applied"
                ));
            }
            // Seal records from the start: a key the agent's database edits cannot forge.
            let key_file = crate::stores::create_key_file(&args.sqlite)?;
            if let Some(path) = key_file {
                value["chain_key_file"] = json!(path.display().to_string());
            }
            print_json(&value)
        }
        ApprovalCommand::Create(args) => {
            let decision = read_decision(&args.decision_file)?;
            let service = args
                .store
                .service()
                .await?
                .with_routing(routing_table(args.routing_file.as_ref())?);
            let request = NewRequest {
                rationale: args.rationale,
                decision,
                approver_group: args.approver_group,
                requested_by: Some(args.requested_by),
                ttl_hours: Some(args.ttl_hours),
                requester: None,
            };
            let created = service.create(request).await?;
            if !created.created {
                eprintln!(
                    "note: approval request {} is already open for decision {}; returning it",
                    created.approval.approval_id, created.approval.decision_id
                );
            }
            print_created(&created.approval.to_sorted_value(), args.print_id)
        }
        ApprovalCommand::Route(args) => {
            let decision = read_decision(&args.decision_file)?;
            let table = routing_table(args.routing_file.as_ref())?;
            let rule = table.route(&decision);
            // Exactly the original's three keys (compat appendix A7).
            print_json(&json!({
                "decision_id": decision.as_map().get("decision_id"),
                "approver_group": rule.map(|r| r.approver_group.clone()),
                "routing_rules": table.rules(),
            }))
        }
        ApprovalCommand::List(args) => {
            let state = args
                .state
                .as_deref()
                .map(str::parse::<ApprovalState>)
                .transpose()?;
            let mut query = ListQuery::new(
                state,
                args.approver_group,
                Some(args.limit),
                Some(args.offset),
            );
            query.cursor = args.cursor.as_deref().map(Cursor::decode).transpose()?;
            let page = args.store.service().await?.list(&query).await?;
            let items: Vec<_> = page
                .items
                .iter()
                .map(cavra_core::approval::Approval::to_sorted_value)
                .collect();
            print_json(&json!({
                "items": items, "total": page.total, "limit": page.limit, "offset": page.offset, "next_cursor": page.next_cursor,
            }))
        }
        ApprovalCommand::Get(args) => print_json(
            &args
                .store
                .service()
                .await?
                .get(&args.approval_id)
                .await?
                .to_sorted_value(),
        ),
        ApprovalCommand::Approve(args) => decide(args, ApprovalState::Approved).await,
        ApprovalCommand::Deny(args) => decide(args, ApprovalState::Denied).await,
        ApprovalCommand::Expire(args) => {
            let resolved = args.identity.resolve(now_unix())?;
            let service = args.store.service().await?.with_rbac(resolved.rbac);
            let input = DecideInput {
                target: ApprovalState::Expired,
                actor: args.actor,
                reason: args.reason,
                external_ref: None,
                context: resolved.context,
            };
            let record = service.decide(&args.approval_id, &input).await?;
            print_json(&record.to_sorted_value())
        }
        ApprovalCommand::Sweep(args) => {
            let service = args.store.service().await?;
            let swept = service.sweep().await?;
            let mut report = swept.ids();
            report["count"] = json!(swept.expired.len());
            print_json(&report)
        }
        ApprovalCommand::BreakGlass(args) => {
            let resolved = args.identity.resolve(now_unix())?;
            let decision = read_decision(&args.decision_file)?;
            let service = args.store.service().await?.with_rbac(resolved.rbac);
            let input = BreakGlassInput {
                decision,
                actor: args.actor,
                reason: args.reason,
                approver_group: Some(args.approver_group),
                external_ref: args.external_ref,
                ttl_hours: Some(args.ttl_hours),
                context: resolved.context,
            };
            let record = match args.blocked {
                Some(approval_id) => {
                    let of = OverrideOf {
                        rule_id: input.decision.str_field("rule_id").map(str::to_owned),
                        target: input.decision.str_field("target").map(str::to_owned),
                        approval_id,
                    };
                    service.break_glass_from(&of, input).await?.override_record
                }
                None => service.break_glass(input).await?,
            };
            print_json(&record.to_sorted_value())
        }
        ApprovalCommand::Review(args) => {
            let resolved = args.identity.resolve(now_unix())?;
            let service = args.store.service().await?.with_rbac(resolved.rbac);
            let record = service
                .review_break_glass(
                    &args.approval_id,
                    &args.actor,
                    &args.reason,
                    resolved.context.as_ref(),
                )
                .await?;
            print_json(&record.to_sorted_value())
        }
        ApprovalCommand::Check(args) => {
            let decision = read_decision(&args.decision)?;
            let report = args
                .store
                .service()
                .await?
                .check_with(
                    &args.approval_id,
                    &decision,
                    CheckOptions {
                        require_verified: args.require_verified,
                        allow_unkeyed: args.allow_unkeyed,
                        keyed: false,
                    },
                )
                .await?;
            print_check(&report)
        }
        ApprovalCommand::Consume(args) => {
            let decision = read_decision(&args.decision)?;
            let content = args
                .content
                .as_deref()
                .map(evaluate::read_input)
                .transpose()?;
            let tool_args = args
                .tool_args
                .as_deref()
                .map(evaluate::parse_tool_args)
                .transpose()?;
            let plan = args.plan.as_deref().map(evaluate::read_input).transpose()?;
            let resolved = args.identity.resolve(now_unix())?;
            let service = args.store.service().await?.with_rbac(resolved.rbac);
            let input = ConsumeInput {
                decision,
                presented: Presented::of(content.as_deref(), tool_args.as_ref(), plan.as_deref()),
                actor: args.actor,
                reason: args.reason,
                context: resolved.context,
            };
            let options = CheckOptions {
                require_verified: args.require_verified,
                allow_unkeyed: args.allow_unkeyed,
                keyed: false,
            };
            let record = service.consume(&args.approval_id, &input, options).await?;
            print_json(&record.to_sorted_value())
        }
        ApprovalCommand::Wait(args) => {
            let service = args.store.service().await?;
            let timeout = args.timeout.unwrap_or(std::time::Duration::MAX);
            let Some(record) =
                agent::wait_for_decision(&service, &args.approval_id, timeout).await?
            else {
                print_json(&service.get(&args.approval_id).await?.to_sorted_value())?;
                return Err(Exit {
                    message: format!(
                        "approval {} is still pending after the timeout",
                        args.approval_id
                    ),
                    code: agent::EXIT_TIMEOUT,
                }
                .into());
            };
            print_json(&record.to_sorted_value())?;
            if record.state.permits_action() {
                Ok(())
            } else {
                Err(agent::refused(&record).into())
            }
        }
        ApprovalCommand::VerifyHistory(args) => {
            let report = args
                .store
                .service()
                .await?
                .verify_history(&args.approval_id)
                .await?;
            print_verification(&args.approval_id, &report)
        }
        ApprovalCommand::ExportNotifications(args) => {
            notify::export_notifications(args, None).await
        }
        ApprovalCommand::ProviderRequests(args) => notify::provider_requests(args, None).await,
        ApprovalCommand::Deliver(args) => notify::deliver(args).await,
        ApprovalCommand::AttachDecision(args) => {
            let decision = read_decision(&args.decision_file)?;
            print_json(
                &args
                    .store
                    .service()
                    .await?
                    .attach_decision(&args.approval_id, &decision)
                    .await?,
            )
        }
    }
}

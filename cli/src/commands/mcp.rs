//! `cavra mcp` (issue F §6): the approval loop as MCP tools, served over stdio with the official
//! Rust SDK (`rmcp`). An MCP client (Claude Desktop, Claude Code, an IDE, an agent framework)
//! starts `cavra mcp` and calls:
//!
//! - `evaluate_action`: the policy decision for an action (with `action` and `action_digest`);
//! - `request_approval`: evaluates, and for `require_approval` finds or creates the one request
//!   for exactly that action (a retry finds the same request) and tells the approvers;
//! - `get_approval`, `wait_for_approval`: the record, and waiting for a human decision;
//! - `consume_approval`: spends the grant for exactly the content / tool arguments about to be
//!   used (a different payload, or a second use, is refused).
//!
//! Results are JSON text; refusals (blocked by policy, unknown ids, a consume that does not
//! match, …) are tool errors (`isError: true`) carrying the message. stdout is the protocol:
//! logs and notification warnings go to stderr.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cavra_core::action::{Payload, Presented};
use cavra_core::approval::{Approval, sort_value};
use cavra_core::decision::Decision;
use cavra_core::policy::{ActionType, BASELINE_PACK, PolicyError, PolicyPack};
use cavra_core::workflow::{ConsumeInput, DEFAULT_REQUESTER, NewRequest};
use clap::Args;
use rmcp::handler::server::{router::tool::ToolRouter, wrapper::Parameters};
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, ServiceExt as _, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::agent::Approvals;
use super::evaluate;
use crate::stores::StoreArgs;

/// Default and longest wait of `wait_for_approval`, in seconds.
const DEFAULT_WAIT_SECONDS: f64 = 30.0;
const MAX_WAIT_SECONDS: f64 = 600.0;
/// The session of a call that names none (the CLI's default too).
const DEFAULT_SESSION: &str = "local";

const INSTRUCTIONS: &str = "CAVRA decides before the agent acts. Before writing a file, running a \
command, touching git or calling another MCP tool, call request_approval with the exact action \
(for write_file pass the full new content; for mcp_tool_call the tool and its arguments). \
approval_needed false: go ahead. An error result: the policy blocks the action; do not do it. \
Otherwise a human must decide: call wait_for_approval with the approval_id (again while \
timed_out is true). Once approved, call consume_approval with exactly the same content or \
tool_args, then act; a different payload, or a second use, is refused. Denied or expired: do \
not act. Calling request_approval again for the same action finds the same request.";

/// Arguments of `cavra mcp`.
#[derive(Debug, Args)]
#[command(
    after_help = "An MCP client starts it, e.g. in its config:\n  {\"mcpServers\": {\"cavra\": {\"command\": \"cavra\", \"args\": [\"mcp\", \"--sqlite\", \".cavra/approvals.db\"]}}}\n\nTools: evaluate_action, request_approval, get_approval, wait_for_approval, consume_approval.\nstdout carries the protocol; logs (RUST_LOG, default warn) go to stderr."
)]
pub struct McpArgs {
    /// Built-in pack name or a policy pack YAML file.
    #[arg(long, value_name = "NAME|FILE", default_value = BASELINE_PACK)]
    policy_pack: String,
    /// Repository root file targets are relative to (default: the git top level of the
    /// working directory, else the working directory).
    #[arg(long, value_name = "DIR")]
    repo_root: Option<PathBuf>,
    /// Routing rules (JSON or YAML) replacing the default table.
    #[arg(long, value_name = "PATH")]
    routing_file: Option<PathBuf>,
    /// Who asks (and consumes).
    #[arg(long, default_value = DEFAULT_REQUESTER)]
    requested_by: String,
    #[command(flatten)]
    store: StoreArgs,
}

/// `evaluate_action`'s input: one action as the agent is about to take it.
#[derive(Debug, Deserialize, JsonSchema)]
struct ActionInput {
    /// read_file, write_file, execute_command, git_operation or mcp_tool_call.
    action_type: String,
    /// The path, command line, branch or MCP server the agent wants to act on.
    target: String,
    /// For write_file: the complete new content of the file (its SHA-256 is bound).
    #[serde(default)]
    content: Option<String>,
    /// For mcp_tool_call: the tool called on the target server.
    #[serde(default)]
    tool: Option<String>,
    /// For mcp_tool_call: the tool's arguments (bound as RFC 8785 canonical JSON).
    #[serde(default)]
    tool_args: Option<Map<String, Value>>,
    /// The agent session the decision belongs to (default `local`); part of what makes a
    /// retry find its request.
    #[serde(default)]
    session_id: Option<String>,
}

/// `request_approval`'s input: the action, and who asks.
#[derive(Debug, Deserialize, JsonSchema)]
struct RequestInput {
    /// read_file, write_file, execute_command, git_operation or mcp_tool_call.
    action_type: String,
    /// The path, command line, branch or MCP server the agent wants to act on.
    target: String,
    /// For write_file: the complete new content of the file (its SHA-256 is bound).
    #[serde(default)]
    content: Option<String>,
    /// For mcp_tool_call: the tool called on the target server.
    #[serde(default)]
    tool: Option<String>,
    /// For mcp_tool_call: the tool's arguments (bound as RFC 8785 canonical JSON).
    #[serde(default)]
    tool_args: Option<Map<String, Value>>,
    /// The agent session the decision belongs to (default `local`); part of what makes a
    /// retry find its request.
    #[serde(default)]
    session_id: Option<String>,
    /// Who asks (default: the server's --requested-by).
    #[serde(default)]
    requested_by: Option<String>,
}

impl RequestInput {
    fn split(self) -> (ActionInput, Option<String>) {
        (
            ActionInput {
                action_type: self.action_type,
                target: self.target,
                content: self.content,
                tool: self.tool,
                tool_args: self.tool_args,
                session_id: self.session_id,
            },
            self.requested_by,
        )
    }
}

/// `get_approval`'s input.
#[derive(Debug, Deserialize, JsonSchema)]
struct IdInput {
    /// The approval id (apr_…).
    approval_id: String,
}

/// `wait_for_approval`'s input.
#[derive(Debug, Deserialize, JsonSchema)]
struct WaitInput {
    /// The approval id (apr_…).
    approval_id: String,
    /// How long to wait for a decision, in seconds (default 30, at most 600).
    #[serde(default)]
    timeout_seconds: Option<f64>,
}

/// `consume_approval`'s input: exactly what is about to be used.
#[derive(Debug, Deserialize, JsonSchema)]
struct ConsumeArgs {
    /// The approval id (apr_…).
    approval_id: String,
    /// For write_file: the content about to be written (must be the approved content).
    #[serde(default)]
    content: Option<String>,
    /// For mcp_tool_call: the arguments about to be sent (must be the approved ones).
    #[serde(default)]
    tool_args: Option<Map<String, Value>>,
}

/// What every call shares.
struct Context {
    pack: PolicyPack,
    repo_root: String,
    requested_by: String,
    approvals: Approvals,
}

/// The MCP server: the tools over one store and policy pack.
#[derive(Clone)]
pub struct CavraMcp {
    context: Arc<Context>,
    tool_router: ToolRouter<Self>,
}

/// A value as sorted, indented JSON text.
fn text_of(value: Value) -> String {
    let sorted = sort_value(value);
    serde_json::to_string_pretty(&sorted).unwrap_or_else(|_| sorted.to_string())
}

fn decision_value(decision: &Decision) -> Value {
    serde_json::to_value(decision).unwrap_or(Value::Null)
}

impl CavraMcp {
    fn new(context: Context) -> Self {
        Self {
            context: Arc::new(context),
            tool_router: Self::tool_router(),
        }
    }

    /// The decision for `input`, bound to its payload.
    fn decide(&self, input: ActionInput) -> Result<Decision, String> {
        let action: ActionType = input
            .action_type
            .parse()
            .map_err(|e: PolicyError| e.to_string())?;
        let session = input
            .session_id
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(DEFAULT_SESSION);
        let payload = Payload {
            content: input.content.map(String::into_bytes),
            previous_content: None,
            tool: input.tool,
            tool_args: input.tool_args.map(Value::Object),
            plan: None,
        };
        Ok(evaluate::evaluate_action(
            &self.context.pack,
            action,
            &input.target,
            session,
            &self.context.repo_root,
            payload,
        ))
    }

    async fn record(&self, approval_id: &str) -> Result<Approval, String> {
        self.context
            .approvals
            .get(approval_id)
            .await
            .map_err(|e| format!("approval {approval_id}: {e}"))
    }
}

#[tool_router]
impl CavraMcp {
    #[tool(
        description = "Evaluate an action against the policy pack without asking anyone: returns the decision (outcome allow, warn, block or require_approval, the rule, the reason, the action and its digest)."
    )]
    async fn evaluate_action(
        &self,
        Parameters(input): Parameters<ActionInput>,
    ) -> Result<String, String> {
        Ok(text_of(decision_value(&self.decide(input)?)))
    }

    #[tool(
        description = "Ask to take an action. Allowed: {decision, approval_needed: false}. Needs a human: finds or creates the one request for exactly this action and tells the approvers: {approval_id, state, approver_group, created, decision}. Blocked by policy: an error naming the rule and reason."
    )]
    async fn request_approval(
        &self,
        Parameters(input): Parameters<RequestInput>,
    ) -> Result<String, String> {
        let (action, requested_by) = input.split();
        let decision = self.decide(action)?;
        let rule = decision.text_field("rule_id");
        let reason = decision.text_field("reason");
        match decision.outcome_text().unwrap_or("no outcome") {
            "block" => Err(format!("blocked by {rule}: {reason}")),
            "require_approval" => {
                let request = NewRequest {
                    rationale: None,
                    requested_by: Some(
                        requested_by
                            .filter(|who| !who.trim().is_empty())
                            .unwrap_or_else(|| self.context.requested_by.clone()),
                    ),
                    ..NewRequest::new(decision)
                };
                let (record, created) = self
                    .context
                    .approvals
                    .open_request(request)
                    .await
                    .map_err(|e| format!("cannot open the approval request: {e}"))?;
                Ok(text_of(json!({
                    "approval_id": record.approval_id,
                    "state": record.state.to_string(),
                    "approver_group": record.approver_group,
                    "created": created,
                    "decision": decision_value(&record.decision),
                })))
            }
            _ => Ok(text_of(json!({
                "decision": decision_value(&decision),
                "approval_needed": false,
            }))),
        }
    }

    #[tool(description = "The approval record: state, approvers, votes, grant and history.")]
    async fn get_approval(&self, Parameters(input): Parameters<IdInput>) -> Result<String, String> {
        Ok(text_of(
            self.record(&input.approval_id).await?.to_sorted_value(),
        ))
    }

    #[tool(
        description = "Wait for a human decision on a request (timeout_seconds: default 30, at most 600): {state, approval_id, decided_by, decision_reason, timed_out}. While timed_out is true, call it again."
    )]
    async fn wait_for_approval(
        &self,
        Parameters(input): Parameters<WaitInput>,
    ) -> Result<String, String> {
        let seconds = input.timeout_seconds.unwrap_or(DEFAULT_WAIT_SECONDS);
        if !(0.0..=MAX_WAIT_SECONDS).contains(&seconds) {
            return Err(format!(
                "timeout_seconds must be between 0 and {MAX_WAIT_SECONDS}, not {seconds}"
            ));
        }
        let timeout = Duration::try_from_secs_f64(seconds)
            .map_err(|e| format!("timeout_seconds {seconds}: {e}"))?;
        let id = input.approval_id;
        let decided = self
            .context
            .approvals
            .wait(&id, timeout)
            .await
            .map_err(|e| format!("approval {id}: {e}"))?;
        let timed_out = decided.is_none();
        let record = match decided {
            Some(record) => record,
            None => self.record(&id).await?,
        };
        Ok(text_of(json!({
            "state": record.state.to_string(),
            "approval_id": record.approval_id,
            "decided_by": record.decided_by,
            "decision_reason": record.decision_reason,
            "timed_out": timed_out,
        })))
    }

    #[tool(
        description = "Spend the approved grant right before acting, with exactly the content (write_file) or tool_args (mcp_tool_call) about to be used: returns the record. A different payload, a second use, or a request that is not approved is an error: do not act."
    )]
    async fn consume_approval(
        &self,
        Parameters(input): Parameters<ConsumeArgs>,
    ) -> Result<String, String> {
        let id = input.approval_id;
        let record = self.record(&id).await?;
        let tool_args = input.tool_args.map(Value::Object);
        let consume = ConsumeInput {
            decision: record.decision,
            presented: Presented::of(
                input.content.as_deref().map(str::as_bytes),
                tool_args.as_ref(),
                None,
            ),
            actor: self.context.requested_by.clone(),
            reason: Some("cavra mcp".to_owned()),
            context: None,
        };
        let spent = self
            .context
            .approvals
            .consume(&id, &consume)
            .await
            .map_err(|e| format!("approval {id}: {e}"))?;
        Ok(text_of(spent.to_sorted_value()))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for CavraMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("cavra", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}

/// Logs (`RUST_LOG`, default `warn`) to stderr: stdout carries the protocol.
fn install_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// Runs `cavra mcp` until the client closes the session.
pub async fn run(args: McpArgs) -> anyhow::Result<()> {
    install_logging();
    let context = Context {
        pack: PolicyPack::resolve(&args.policy_pack)?,
        repo_root: evaluate::repo_root(args.repo_root.as_deref())?,
        requested_by: args.requested_by.clone(),
        approvals: Approvals::open(&args.store, args.routing_file.as_ref()).await?,
    };
    let session = CavraMcp::new(context)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| anyhow::anyhow!("the MCP session did not start: {e}"))?;
    let reason = session.waiting().await?;
    tracing::debug!(?reason, "MCP session ended");
    Ok(())
}

//! `cavra hook claude-code` (issue F §5): a Claude Code `PreToolUse` hook. It reads the hook
//! event on stdin, maps the tool call to an action (`Bash` → execute_command; `Write`, `Edit`,
//! `MultiEdit` → write_file with the resulting content; `Read` → read_file;
//! `mcp__server__tool` → mcp_tool_call with the tool's input as its arguments), evaluates it,
//! and prints the hook's JSON decision:
//!
//! - allow (also allow_with_attestation, audit_only) → `allow`;
//! - warn → `ask` (the person at the terminal confirms);
//! - block → `deny` with the rule and reason;
//! - require_approval → the action's request (the same one on a retry of the same call), the
//!   approvers are told, the hook waits up to `--wait`; approved → the grant is spent for
//!   exactly this input and the call is allowed; denied → `deny` with who and why; still
//!   pending → `deny` (or `ask` with `--on-pending ask`) naming the request, so a retry after
//!   the decision finds it.
//!
//! Any error is a `deny` carrying the message: a broken gate never lets a call through. Other
//! tools get no output (Claude Code's own permission rules apply).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cavra_core::action::{Payload, Presented};
use cavra_core::decision::Decision;
use cavra_core::policy::{ActionType, BASELINE_PACK, PolicyPack};
use cavra_core::workflow::{ConsumeInput, DEFAULT_REQUESTER, NewRequest};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use super::agent::{self, Approvals};
use super::evaluate;
use crate::stores::StoreArgs;

/// Hook integrations.
#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// A Claude Code PreToolUse hook: reads the event on stdin, prints the decision JSON.
    #[command(
        name = "claude-code",
        after_help = "In .claude/settings.json:\n  {\"hooks\": {\"PreToolUse\": [{\"matcher\": \"Bash|Write|Edit|MultiEdit|Read|mcp__.*\",\n    \"hooks\": [{\"type\": \"command\", \"command\": \"cavra hook claude-code --wait 50s\", \"timeout\": 60}]}]}}"
    )]
    ClaudeCode(ClaudeCodeArgs),
}

/// What to answer while a request is still pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnPending {
    /// Deny, naming the request (the agent retries after the decision).
    Deny,
    /// Ask the person at the terminal.
    Ask,
}

/// `cavra hook claude-code` arguments.
#[derive(Debug, Args)]
pub struct ClaudeCodeArgs {
    /// How long to wait for a decision before answering (keep it under the hook's timeout).
    #[arg(long, value_name = "DURATION", default_value = "50s", value_parser = agent::parse_duration)]
    wait: Duration,
    /// What to answer when the request is still pending after --wait.
    #[arg(long, value_enum, default_value = "deny")]
    on_pending: OnPending,
    /// Built-in pack name or a policy pack YAML file.
    #[arg(long, value_name = "NAME|FILE", default_value = BASELINE_PACK)]
    policy_pack: String,
    /// Repository root (default: the event's `cwd`).
    #[arg(long, value_name = "DIR")]
    repo_root: Option<PathBuf>,
    /// Who asks.
    #[arg(long, default_value = DEFAULT_REQUESTER)]
    requested_by: String,
    /// Routing rules (JSON or YAML) replacing the default table.
    #[arg(long, value_name = "PATH")]
    routing_file: Option<PathBuf>,
    /// The approvers' console, for the link in a pending answer.
    #[arg(long, value_name = "URL", env = "CAVRA_PUBLIC_CONSOLE_URL")]
    console_url: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

/// The hook's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    decision: &'static str,
    reason: String,
}

impl Answer {
    fn new(decision: &'static str, reason: impl Into<String>) -> Self {
        Self {
            decision,
            reason: reason.into(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": self.decision,
                "permissionDecisionReason": self.reason,
            }
        })
    }
}

/// The action a tool call is, with what will run.
struct Mapped {
    action: ActionType,
    target: String,
    payload: Payload,
}

fn text<'a>(input: &'a Value, key: &str) -> Result<&'a str, String> {
    input
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("tool_input.{key} must be a string"))
}

/// Applies one Edit (`old_string` → `new_string`, once or everywhere) as the Edit tool does.
fn apply_edit(content: &str, edit: &Value) -> Result<String, String> {
    let old = text(edit, "old_string")?;
    let new = text(edit, "new_string")?;
    let all = edit
        .get("replace_all")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if old.is_empty() {
        // An empty old_string creates the file with new_string.
        return Ok(new.to_owned());
    }
    if !content.contains(old) {
        return Err(format!("old_string not found in the file: {old:?}"));
    }
    Ok(if all {
        content.replace(old, new)
    } else {
        content.replacen(old, new, 1)
    })
}

fn current_text(path: &str) -> Result<String, String> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| format!("{path} is not UTF-8 text")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(format!("cannot read {path}: {e}")),
    }
}

/// Maps a PreToolUse event's tool call to an action; `None` for tools the gate has no
/// opinion on.
fn map_tool(tool: &str, input: &Value) -> Result<Option<Mapped>, String> {
    let write = |path: &str, content: String| Mapped {
        action: ActionType::WriteFile,
        target: path.to_owned(),
        payload: Payload {
            content: Some(content.into_bytes()),
            ..Payload::default()
        },
    };
    Ok(Some(match tool {
        "Bash" => Mapped {
            action: ActionType::ExecuteCommand,
            target: text(input, "command")?.to_owned(),
            payload: Payload::default(),
        },
        "Write" => write(
            text(input, "file_path")?,
            text(input, "content")?.to_owned(),
        ),
        "Edit" => {
            let path = text(input, "file_path")?;
            write(path, apply_edit(&current_text(path)?, input)?)
        }
        "MultiEdit" => {
            let path = text(input, "file_path")?;
            let edits = input
                .get("edits")
                .and_then(Value::as_array)
                .ok_or("tool_input.edits must be a list")?;
            let mut content = current_text(path)?;
            for edit in edits {
                content = apply_edit(&content, edit)?;
            }
            write(path, content)
        }
        "Read" => Mapped {
            action: ActionType::ReadFile,
            target: text(input, "file_path")?.to_owned(),
            payload: Payload::default(),
        },
        other => match other.strip_prefix("mcp__").and_then(|r| r.split_once("__")) {
            Some((server, tool)) if !server.is_empty() && !tool.is_empty() => Mapped {
                action: ActionType::McpToolCall,
                target: server.to_owned(),
                payload: Payload {
                    tool: Some(tool.to_owned()),
                    tool_args: Some(input.clone()),
                    ..Payload::default()
                },
            },
            _ => return Ok(None),
        },
    }))
}

/// Runs `cavra hook …`: always prints a decision (or nothing for unmapped tools) and exits 0.
pub async fn run(command: HookCommand) -> anyhow::Result<()> {
    let HookCommand::ClaudeCode(args) = command;
    let mut stdin = String::new();
    let answer = match std::io::stdin().read_to_string(&mut stdin) {
        Ok(_) => decide(&args, &stdin).await,
        Err(e) => Ok(Some(Answer::new(
            "deny",
            format!("cavra: cannot read the hook event: {e}"),
        ))),
    };
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) => Some(Answer::new("deny", format!("cavra: {error:#}"))),
    };
    if let Some(answer) = answer {
        crate::output::print_line(answer.to_json())?;
    }
    Ok(())
}

async fn decide(args: &ClaudeCodeArgs, stdin: &str) -> anyhow::Result<Option<Answer>> {
    let event = cavra_core::decision::parse_json_strict(stdin)
        .map_err(|e| anyhow::anyhow!("the hook event is not valid JSON: {e}"))?;
    let tool = event
        .get("tool_name")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow::anyhow!("the hook event has no tool_name"))?;
    let input = event.get("tool_input").cloned().unwrap_or(Value::Null);
    let Some(mapped) = map_tool(tool, &input).map_err(|e| anyhow::anyhow!("{tool}: {e}"))? else {
        return Ok(None);
    };
    let root = match (&args.repo_root, event.get("cwd").and_then(Value::as_str)) {
        (Some(dir), _) => evaluate::repo_root(Some(dir))?,
        (None, Some(cwd)) => evaluate::repo_root(Some(Path::new(cwd)))?,
        (None, None) => evaluate::repo_root(None)?,
    };
    let session = event
        .get("session_id")
        .and_then(Value::as_str)
        .unwrap_or("claude-code");
    let pack = PolicyPack::resolve(&args.policy_pack)?;
    let presented = Presented::of(
        mapped.payload.content.as_deref(),
        mapped.payload.tool_args.as_ref(),
        None,
    );
    let decision = evaluate::evaluate_action(
        &pack,
        mapped.action,
        &mapped.target,
        session,
        &root,
        mapped.payload,
    );
    let rule = decision.text_field("rule_id");
    let reason = decision.text_field("reason");
    Ok(Some(match decision.outcome_text().unwrap_or_default() {
        "allow" | "allow_with_attestation" | "audit_only" => {
            Answer::new("allow", format!("cavra: {rule}: {reason}"))
        }
        "warn" => Answer::new("ask", format!("cavra: {rule}: {reason}")),
        "require_approval" => approval_path(args, decision, presented, &rule, &reason).await?,
        _ => Answer::new("deny", format!("cavra: blocked by {rule}: {reason}")),
    }))
}

async fn approval_path(
    args: &ClaudeCodeArgs,
    decision: Decision,
    presented: Presented,
    rule: &str,
    reason: &str,
) -> anyhow::Result<Answer> {
    let approvals = Approvals::open(&args.store, args.routing_file.as_ref()).await?;
    let request = NewRequest {
        rationale: None,
        requested_by: Some(args.requested_by.clone()),
        ..NewRequest::new(decision)
    };
    let (record, _) = approvals.open_request(request).await?;
    let id = record.approval_id.clone();
    let decided = approvals.wait(&id, args.wait).await?;
    let Some(decided) = decided else {
        let link = args
            .console_url
            .as_deref()
            .map(|url| format!(" at {}/#/approvals/{id}", url.trim_end_matches('/')))
            .unwrap_or_default();
        let text = format!(
            "cavra: approval required by {rule}: {reason} Request {id} is pending for {}{link}; retry this call once it is decided.",
            record.approver_group
        );
        return Ok(match args.on_pending {
            OnPending::Deny => Answer::new("deny", text),
            OnPending::Ask => Answer::new("ask", text),
        });
    };
    if !decided.state.permits_action() {
        return Ok(Answer::new(
            "deny",
            format!("cavra: {}", agent::refused(&decided)),
        ));
    }
    let input = ConsumeInput {
        decision: decided.decision.clone(),
        presented,
        actor: args.requested_by.clone(),
        reason: Some("cavra hook claude-code".to_owned()),
        context: None,
    };
    match approvals.consume(&id, &input).await {
        Ok(spent) => Ok(Answer::new(
            "allow",
            format!(
                "cavra: approved by {} ({id})",
                spent.decided_by.as_deref().unwrap_or("an approver")
            ),
        )),
        Err(error) => Ok(Answer::new(
            "deny",
            format!("cavra: approval {id}: {error}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_apply_as_the_edit_tool_applies_them() {
        let edit = json!({"old_string": "a", "new_string": "b"});
        assert_eq!(apply_edit("a a", &edit).unwrap(), "b a");
        let all = json!({"old_string": "a", "new_string": "b", "replace_all": true});
        assert_eq!(apply_edit("a a", &all).unwrap(), "b b");
        assert!(apply_edit("x", &edit).unwrap_err().contains("not found"));
        assert!(apply_edit("x", &json!({"old_string": 1})).is_err());
    }

    #[test]
    fn tools_map_to_actions_and_others_get_no_opinion() {
        let bash = map_tool("Bash", &json!({"command": "ls"}))
            .unwrap()
            .unwrap();
        assert_eq!(bash.action, ActionType::ExecuteCommand);
        let mcp = map_tool("mcp__github__create_issue", &json!({"title": "x"}))
            .unwrap()
            .unwrap();
        assert_eq!(mcp.action, ActionType::McpToolCall);
        assert_eq!(mcp.target, "github");
        assert_eq!(mcp.payload.tool.as_deref(), Some("create_issue"));
        for tool in ["Glob", "TodoWrite", "mcp__", "mcp__x", "mcp____y"] {
            assert!(map_tool(tool, &json!({})).unwrap().is_none(), "{tool}");
        }
        assert!(map_tool("Bash", &json!({"command": 7})).is_err());
        assert!(map_tool("Write", &json!({"file_path": "/x"})).is_err());
    }
}

//! `cavra gate -- CMD ARGS…` and `cavra gate --write PATH --content FILE` (issue F §4): the gate
//! in the agent's path. It evaluates the exact action; an allowed one runs; a blocked one is
//! refused with its rule and reason; one that needs approval gets its request (the same one on a
//! retry), the approvers are told, the gate waits, spends the grant, and then runs exactly the
//! approved argv or writes exactly the approved content.
//!
//! Exit codes: the command's own when it ran (0 for a completed write); 1 denied, expired,
//! refused at consume, or the command could not start; 2 usage; 4 still pending when
//! `--timeout` passed (run the same gate again to keep waiting on the same request); 5 blocked
//! by policy.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cavra_core::action::{Payload, Presented};
use cavra_core::approval::{Approval, ApprovalState};
use cavra_core::decision::Decision;
use cavra_core::policy::{ActionType, BASELINE_PACK, PolicyPack};
use cavra_core::workflow::{ConsumeInput, DEFAULT_REQUESTER, NewRequest};
use clap::Args;

use super::agent::{self, Approvals};
use super::evaluate;
use crate::Exit;
use crate::stores::StoreArgs;

/// Arguments of `cavra gate`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  cavra gate -- terraform apply -auto-approve\n  cavra gate --timeout 30m -- kubectl rollout restart deploy/api\n  cavra gate --write iam/admin-role.tf --content /tmp/new-role.tf\n\nExit codes: the command's own when it ran; 1 denied, expired or refused; 2 usage;\n4 still pending after --timeout (run it again to keep waiting); 5 blocked by policy."
)]
pub struct GateArgs {
    /// Write this file instead of running a command (with --content).
    #[arg(
        long,
        value_name = "PATH",
        requires = "content",
        conflicts_with = "command"
    )]
    write: Option<PathBuf>,
    /// The content to write (`-` for stdin).
    #[arg(long, value_name = "FILE|-", requires = "write")]
    content: Option<PathBuf>,
    /// The command and its arguments, after `--`; run exactly as given, without a shell.
    #[arg(last = true, value_name = "CMD ARGS")]
    command: Vec<String>,
    /// Built-in pack name or a policy pack YAML file.
    #[arg(long, value_name = "NAME|FILE", default_value = BASELINE_PACK)]
    policy_pack: String,
    /// Repository root (default: the git top level of the working directory).
    #[arg(long, value_name = "DIR")]
    repo_root: Option<PathBuf>,
    /// Session the decision belongs to (part of what makes a retry find its request).
    #[arg(long, default_value = "local")]
    session_id: String,
    /// Who asks.
    #[arg(long, default_value = DEFAULT_REQUESTER)]
    requested_by: String,
    /// Routing rules (JSON or YAML) replacing the default table.
    #[arg(long, value_name = "PATH")]
    routing_file: Option<PathBuf>,
    /// How long to wait for a decision (`90s`, `30m`, `4h`).
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = agent::parse_duration)]
    timeout: Duration,
    /// The approvers' console, for the link printed while waiting.
    #[arg(long, value_name = "URL", env = "CAVRA_PUBLIC_CONSOLE_URL")]
    console_url: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

/// What the gate will do once allowed.
enum Act {
    Run(Vec<String>),
    Write { path: PathBuf, content: Vec<u8> },
}

fn say(line: &str) {
    eprintln!("cavra gate: {line}");
}

/// Runs `cavra gate`.
pub async fn run(args: GateArgs) -> anyhow::Result<()> {
    let pack = PolicyPack::resolve(&args.policy_pack)?;
    let root = evaluate::repo_root(args.repo_root.as_deref())?;
    let (act, decision) = match (&args.write, &args.content) {
        (Some(path), Some(content_file)) => {
            let content = evaluate::read_input(content_file)?;
            let payload = Payload {
                content: Some(content.clone()),
                ..Payload::default()
            };
            let target = path.to_string_lossy().into_owned();
            let decision = evaluate::evaluate_action(
                &pack,
                ActionType::WriteFile,
                &target,
                &args.session_id,
                &root,
                payload,
            );
            (
                Act::Write {
                    path: path.clone(),
                    content,
                },
                decision,
            )
        }
        _ if args.command.is_empty() => {
            return Err(
                Exit::usage("give a command after `--`, or --write PATH --content FILE").into(),
            );
        }
        _ => {
            let line = shell_words::join(&args.command);
            let decision = evaluate::evaluate_action(
                &pack,
                ActionType::ExecuteCommand,
                &line,
                &args.session_id,
                &root,
                Payload::default(),
            );
            (Act::Run(args.command.clone()), decision)
        }
    };
    let outcome = decision.outcome_text().unwrap_or("no outcome").to_owned();
    let rule = decision.text_field("rule_id");
    let reason = decision.text_field("reason");
    match outcome.as_str() {
        "block" => {
            return Err(Exit {
                message: format!("blocked by {rule}: {reason}"),
                code: agent::EXIT_BLOCKED,
            }
            .into());
        }
        "require_approval" => {}
        _ => return act_now(act),
    }
    let approvals = Approvals::open(&args.store, args.routing_file.as_ref()).await?;
    let wanted = (
        decision.text_field("action_digest"),
        decision.text_field("target_as_given"),
    );
    let approved = obtain(&approvals, &args, decision, &rule, &reason).await?;
    // The request found for a retry must be for exactly this action.
    let stored = (
        approved.decision.text_field("action_digest"),
        approved.decision.text_field("target_as_given"),
    );
    if stored != wanted {
        return Err(Exit {
            message: format!(
                "approval {} is for another action; refusing to run",
                approved.approval_id
            ),
            code: 1,
        }
        .into());
    }
    let presented = match &act {
        Act::Write { content, .. } => Presented::of(Some(content), None, None),
        Act::Run(_) => Presented::default(),
    };
    let input = ConsumeInput {
        decision: approved.decision.clone(),
        presented,
        actor: args.requested_by.clone(),
        reason: Some("cavra gate".to_owned()),
        context: None,
    };
    let spent = approvals
        .consume(&approved.approval_id, &input)
        .await
        .map_err(|e| Exit {
            message: format!("approval {}: {e}", approved.approval_id),
            code: 1,
        })?;
    say(&format!(
        "approval {} used ({} of {})",
        spent.approval_id,
        spent.grant().uses,
        spent.grant().max_uses
    ));
    act_now(act)
}

/// The approved request for `decision`: found or created, announced, and waited for.
async fn obtain(
    approvals: &Approvals,
    args: &GateArgs,
    decision: Decision,
    rule: &str,
    reason: &str,
) -> anyhow::Result<Approval> {
    let request = NewRequest {
        rationale: None,
        requested_by: Some(args.requested_by.clone()),
        ..NewRequest::new(decision)
    };
    let (record, created) = approvals.open_request(request).await?;
    if record.state == ApprovalState::Pending {
        say(&format!("approval required by {rule}: {reason}"));
        say(&format!(
            "{} request {} for {}; waiting up to {}",
            if created { "created" } else { "waiting on" },
            record.approval_id,
            record.approver_group,
            humantime::format_duration(args.timeout)
        ));
        match &args.console_url {
            Some(url) => say(&format!(
                "decide at {}/#/approvals/{}",
                url.trim_end_matches('/'),
                record.approval_id
            )),
            None => say(&format!(
                "decide with: cavra approval approve {} --actor NAME --reason WHY",
                record.approval_id
            )),
        }
    }
    match approvals.wait(&record.approval_id, args.timeout).await? {
        Some(decided) if decided.state.permits_action() => Ok(decided),
        Some(decided) => Err(agent::refused(&decided).into()),
        None => Err(Exit {
            message: format!(
                "approval {} is still pending after {}; run the same gate again to keep waiting",
                record.approval_id,
                humantime::format_duration(args.timeout)
            ),
            code: agent::EXIT_TIMEOUT,
        }
        .into()),
    }
}

/// Runs the command (exiting with its status) or writes the content (atomically: a temporary
/// file beside the target, renamed over it).
fn act_now(act: Act) -> anyhow::Result<()> {
    match act {
        Act::Run(argv) => {
            let Some((program, rest)) = argv.split_first() else {
                return Err(Exit::usage("no command given").into());
            };
            let status = std::process::Command::new(program)
                .args(rest)
                .status()
                .map_err(|e| Exit {
                    message: format!("cannot run {program}: {e}"),
                    code: 1,
                })?;
            match status.code() {
                Some(0) => Ok(()),
                Some(code) => Err(Exit {
                    message: String::new(),
                    code: u8::try_from(code).unwrap_or(1),
                }
                .into()),
                None => Err(Exit {
                    message: format!("{program} was stopped by a signal"),
                    code: 1,
                }
                .into()),
            }
        }
        Act::Write { path, content } => write_atomically(&path, &content),
    }
}

fn write_atomically(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let mut file = tempfile::NamedTempFile::new_in(&dir)?;
    file.write_all(content)?;
    file.as_file().sync_all()?;
    file.persist(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error))?;
    say(&format!(
        "wrote {} ({} bytes)",
        path.display(),
        content.len()
    ));
    Ok(())
}

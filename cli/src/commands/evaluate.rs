//! `cavra evaluate ACTION_TYPE TARGET [--policy-pack NAME|FILE] [--repo-root DIR] [--json]`.
//!
//! File targets are read relative to the repository root: `--repo-root DIR`, else the git top
//! level of the working directory (the nearest ancestor holding `.git`), else the working
//! directory. The root is resolved here; the policy engine itself never touches the filesystem.

use cavra_core::action::{self, Payload};
use cavra_core::decision::Decision;
use cavra_core::ids::random_hex12;
use cavra_core::policy::{
    ActionType, BASELINE_PACK, EvaluationContext, PolicyPack, evaluate, summary_line,
};
use cavra_core::time::{Clock as _, SystemClock};
use std::path::{Path, PathBuf};

use clap::Args;

use crate::Exit;
use crate::output::print_json;

/// Arguments of `cavra evaluate`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  cavra evaluate write_file iam/admin-role.tf --json > /tmp/cavra-decision.json\n  cavra evaluate execute_command 'terraform apply -auto-approve'\n  cavra evaluate write_file iam/x.tf --policy-pack ./my-pack.yaml --json\n  cavra evaluate write_file /abs/repo/iam/x.tf --repo-root /abs/repo"
)]
pub struct EvaluateArgs {
    /// read_file, write_file, execute_command, git_operation or mcp_tool_call.
    action_type: String,
    /// The path, command, branch or MCP server the agent wants to act on.
    target: String,
    /// Built-in pack name or a policy pack YAML file.
    #[arg(long, value_name = "NAME|FILE", default_value = BASELINE_PACK)]
    policy_pack: String,
    /// Print the decision as JSON (for `cavra approval create`).
    #[arg(long)]
    json: bool,
    /// Session the decision belongs to.
    #[arg(long, default_value = "local")]
    session_id: String,
    /// Repository root file targets are relative to (default: the git top level of the
    /// working directory, else the working directory).
    #[arg(long, value_name = "DIR")]
    repo_root: Option<PathBuf>,
    /// The new content of a write_file target (`-` for stdin): the decision binds its SHA-256
    /// and shows a short diff against the current file (issue F §1).
    #[arg(long, value_name = "FILE|-")]
    content: Option<PathBuf>,
    /// The MCP tool an mcp_tool_call calls.
    #[arg(long, value_name = "NAME")]
    tool: Option<String>,
    /// The MCP tool's arguments (JSON; bound as RFC 8785 canonical JSON).
    #[arg(long, value_name = "JSON")]
    tool_args: Option<String>,
    /// A Terraform plan (saved plan, or `terraform show -json` output) the command applies.
    #[arg(long, value_name = "FILE")]
    plan: Option<PathBuf>,
}

/// Reads `path` (`-` is stdin), with a clear error.
pub fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read as _;
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Exit::usage(format!("cannot read stdin: {e}")))?;
        return Ok(bytes);
    }
    std::fs::read(path)
        .map_err(|e| Exit::usage(format!("cannot read {}: {e}", path.display())).into())
}

/// Parses `--tool-args`: strict JSON (duplicate keys refused).
pub fn parse_tool_args(text: &str) -> anyhow::Result<serde_json::Value> {
    cavra_core::decision::parse_json_strict(text)
        .map_err(|e| Exit::usage(format!("--tool-args is not valid JSON: {e}")).into())
}

/// Evaluates one action with its payload (issue F §1): the decision with `action` and
/// `action_digest`. `cavra evaluate`, `cavra gate` and `cavra hook` all come here.
pub fn evaluate_action(
    pack: &PolicyPack,
    action: ActionType,
    target: &str,
    session_id: &str,
    repo_root: &str,
    mut payload: Payload,
) -> Decision {
    let mut context = EvaluationContext::new(
        format!("dec_{}", random_hex12()),
        format!("corr_{}", random_hex12()),
        SystemClock.now(),
    );
    session_id.clone_into(&mut context.session_id);
    context.repo_root = Some(repo_root.to_owned());
    let decision = evaluate(pack, action, target, &context);
    if action == ActionType::WriteFile
        && payload.content.is_some()
        && payload.previous_content.is_none()
    {
        // The current file, for the diff approvers see (absent for a new file).
        let path = Path::new(target);
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            Path::new(repo_root).join(decision.text_field("target"))
        };
        payload.previous_content = std::fs::read(path).ok();
    }
    action::bind(decision, &payload)
}

/// The nearest ancestor of `start` (itself included) holding `.git` (a directory, or the file
/// of a worktree or submodule).
fn git_top_level(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf)
}

/// `--repo-root` made absolute (lexically: symlinks are kept as given), else the git top level,
/// else the working directory.
pub fn repo_root(given: Option<&Path>) -> anyhow::Result<String> {
    let cwd = std::env::current_dir()
        .map_err(|e| Exit::usage(format!("cannot read the working directory: {e}")))?;
    let root = match given {
        Some(dir) => {
            let abs = if dir.is_absolute() {
                dir.to_path_buf()
            } else {
                cwd.join(dir)
            };
            if !abs.is_dir() {
                return Err(Exit::usage(format!(
                    "--repo-root {} is not a directory",
                    dir.display()
                ))
                .into());
            }
            abs
        }
        None => git_top_level(&cwd).unwrap_or(cwd),
    };
    Ok(root.to_string_lossy().into_owned())
}

/// Runs `cavra evaluate`.
pub fn run(args: &EvaluateArgs) -> anyhow::Result<()> {
    let action: ActionType = args
        .action_type
        .parse()
        .map_err(|e: cavra_core::policy::PolicyError| Exit::usage(e.to_string()))?;
    let pack = PolicyPack::resolve(&args.policy_pack)?;
    let payload = Payload {
        content: args.content.as_deref().map(read_input).transpose()?,
        previous_content: None,
        tool: args.tool.clone(),
        tool_args: args.tool_args.as_deref().map(parse_tool_args).transpose()?,
        plan: args.plan.as_deref().map(read_input).transpose()?,
    };
    let root = repo_root(args.repo_root.as_deref())?;
    let decision = evaluate_action(
        &pack,
        action,
        &args.target,
        &args.session_id,
        &root,
        payload,
    );
    if args.json {
        print_json(&decision)
    } else {
        crate::output::print_line(summary_line(&decision))
    }
}

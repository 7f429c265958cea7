//! `cavra evaluate ACTION_TYPE TARGET [--policy-pack NAME|FILE] [--json]`.

use cavra_core::ids::random_hex12;
use cavra_core::policy::{
    ActionType, BASELINE_PACK, EvaluationContext, PolicyPack, evaluate, summary_line,
};
use cavra_core::time::{Clock as _, SystemClock};
use clap::Args;

use crate::Exit;
use crate::output::print_json;

/// Arguments of `cavra evaluate`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  cavra evaluate write_file iam/admin-role.tf --json > /tmp/cavra-decision.json\n  cavra evaluate execute_command 'terraform apply -auto-approve'\n  cavra evaluate write_file iam/x.tf --policy-pack ./my-pack.yaml --json"
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
}

/// Runs `cavra evaluate`.
pub fn run(args: &EvaluateArgs) -> anyhow::Result<()> {
    let action: ActionType = args
        .action_type
        .parse()
        .map_err(|e: cavra_core::policy::PolicyError| Exit::usage(e.to_string()))?;
    let pack = PolicyPack::resolve(&args.policy_pack)?;
    let mut context = EvaluationContext::new(
        format!("dec_{}", random_hex12()),
        format!("corr_{}", random_hex12()),
        SystemClock.now(),
    );
    context.session_id.clone_from(&args.session_id);
    let decision = evaluate(&pack, action, &args.target, &context);
    if args.json {
        print_json(&decision)
    } else {
        println!("{}", summary_line(&decision));
        Ok(())
    }
}

//! The command tree. Each verb lives in its own module.

mod agent;
mod approval;
mod dev;
mod evaluate;
mod evidence;
mod gate;
mod hook;
mod mcp;
pub(crate) mod notify;
mod serve;

use clap::{Parser, Subcommand};

/// CAVRA: before the agent acts, CAVRA decides.
#[derive(Debug, Parser)]
#[command(
    name = "cavra",
    version,
    about,
    long_about = None,
    propagate_version = true,
    // Examples are whole command lines: never wrap them, so they can be copied.
    term_width = 0
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Evaluate an agent action against a policy pack and print the decision.
    Evaluate(evaluate::EvaluateArgs),
    /// Human approval requests: create, route, list, decide, break glass, check.
    #[command(subcommand)]
    Approval(approval::ApprovalCommand),
    /// Evidence bundles and PR attestations.
    #[command(subcommand)]
    Evidence(evidence::EvidenceCommand),
    /// Serve the approvals API (and console) locally on SQLite.
    Serve(serve::ServeArgs),
    /// Run a command (or write a file) only as the policy and its approvers allow.
    Gate(gate::GateArgs),
    /// Agent hooks: `cavra hook claude-code` is a Claude Code PreToolUse hook.
    #[command(subcommand)]
    Hook(hook::HookCommand),
    /// Serve the approval tools to an MCP client over stdio.
    Mcp(mcp::McpArgs),
    /// Write a working `.cavra/` folder: routing, RBAC and claims examples, an OIDC config
    /// with a local signing key, and the SQLite store `cavra serve` reads.
    Init(dev::InitArgs),
    /// Mint a short-lived OIDC token with the local key `cavra init` wrote (for trying OIDC
    /// mode on a laptop; no production config accepts it).
    DevToken(dev::DevTokenArgs),
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Evaluate(args) => evaluate::run(&args),
        Command::Approval(command) => Box::pin(approval::run(command)).await,
        Command::Evidence(command) => evidence::run(&command),
        Command::Serve(args) => serve::run(&args).await,
        Command::Gate(args) => Box::pin(gate::run(args)).await,
        Command::Hook(command) => Box::pin(hook::run(command)).await,
        Command::Mcp(args) => Box::pin(mcp::run(args)).await,
        Command::Init(args) => dev::init(&args),
        Command::DevToken(args) => dev::dev_token(&args, approval::now_unix()),
    }
}

//! `cavra evidence bundle DECISION_FILE… --output DIR [--session-id ID]`.

use std::path::PathBuf;

use anyhow::Context as _;
use cavra_core::evidence::{build_bundle, evidence_metadata};
use cavra_core::time::{Clock as _, SystemClock};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::output::print_json;
use crate::stores::read_decision;

/// Evidence commands.
#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Write evidence.json, pr-attestation.md and manifest.json for decisions.
    Bundle(BundleArgs),
}

/// Arguments of `cavra evidence bundle`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  cavra approval attach-decision apr_123 /tmp/cavra-decision.json > /tmp/approved-decision.json\n  cavra evidence bundle /tmp/approved-decision.json --output .cavra/evidence/run-1 --session-id run-1"
)]
pub struct BundleArgs {
    /// Decision files (attach-decision output carries the approval outcome).
    #[arg(required = true)]
    decisions: Vec<PathBuf>,
    /// Folder to write the bundle into (created if missing).
    #[arg(long, value_name = "DIR")]
    output: PathBuf,
    /// Session id; default: the first decision's session_id, else `local`.
    #[arg(long)]
    session_id: Option<String>,
}

/// Runs an evidence command.
pub fn run(command: &EvidenceCommand) -> anyhow::Result<()> {
    let EvidenceCommand::Bundle(args) = command;
    let decisions = args
        .decisions
        .iter()
        .map(|p| read_decision(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let session_id = args
        .session_id
        .clone()
        .or_else(|| {
            decisions
                .first()
                .and_then(|d| d.str_field("session_id"))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "local".to_owned());
    let files = build_bundle(&decisions, &session_id, SystemClock.now());
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let mut written = Vec::new();
    for file in &files {
        let path = args.output.join(&file.name);
        std::fs::write(&path, &file.bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(path.display().to_string());
    }
    print_json(&json!({
        "output": args.output.display().to_string(),
        "files": written,
        "metadata": evidence_metadata(&decisions, &session_id),
    }))
}

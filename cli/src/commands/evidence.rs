//! `cavra evidence bundle DECISION_FILE… --output DIR [--session-id ID]` and
//! `cavra evidence index DIR`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use cavra_core::evidence::{
    BundleOptions, DEFAULT_RETENTION_DAYS, build_bundle, evidence_metadata,
};
use cavra_core::time::{Clock as _, SystemClock};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::output::print_json;
use crate::stores::read_decision;

/// Evidence commands.
#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Write the evidence bundle for decisions: evidence.json, pr-attestation.md,
    /// compliance-mapping.md, siem-event.json, sandbox-run-summary.json, retention-policy.json
    /// and manifest.json (sizes and SHA-256 of the six others, signed).
    Bundle(BundleArgs),
    /// Print the evidence metadata of a bundle folder (counts and approval outcomes).
    Index(IndexArgs),
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
    /// Days to retain the bundle (`retention-policy.json`).
    #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_RETENTION_DAYS,
          value_parser = clap::value_parser!(u16).range(1..))]
    retention_days: u16,
    /// Put the bundle under legal hold (disposition `retain`).
    #[arg(long)]
    legal_hold: bool,
    /// Who signs the manifest (its `signer`).
    #[arg(long, default_value = "local")]
    signer: String,
    /// Environment variable holding an HMAC key: the manifest is signed HS256 with it
    /// (without one, the signature is the manifest's bare SHA-256).
    #[arg(long, value_name = "NAME")]
    signing_key_env: Option<String>,
}

/// Arguments of `cavra evidence index`.
#[derive(Debug, Args)]
pub struct IndexArgs {
    /// A folder `cavra evidence bundle` wrote.
    bundle_dir: PathBuf,
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// The metadata of the bundle in `dir` (`retention-policy.json` optional).
fn index(dir: &Path) -> anyhow::Result<Value> {
    let evidence = read_json(&dir.join("evidence.json"))?;
    let manifest = read_json(&dir.join("manifest.json"))?;
    let retention_path = dir.join("retention-policy.json");
    let retention = if retention_path.is_file() {
        Some(read_json(&retention_path)?)
    } else {
        None
    };
    Ok(evidence_metadata(
        &dir.display().to_string(),
        &evidence,
        &manifest,
        retention.as_ref(),
    ))
}

/// Runs an evidence command.
pub fn run(command: &EvidenceCommand) -> anyhow::Result<()> {
    let args = match command {
        EvidenceCommand::Bundle(args) => args,
        EvidenceCommand::Index(args) => return print_json(&index(&args.bundle_dir)?),
    };
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
    let signing_key = match &args.signing_key_env {
        Some(name) => Some(
            std::env::var(name)
                .ok()
                .filter(|key| !key.is_empty())
                .with_context(|| format!("the signing key variable {name} is not set"))?
                .into_bytes(),
        ),
        None => None,
    };
    let mut options = BundleOptions::new(&session_id, SystemClock.now());
    options.siem_timestamp = SystemClock.now();
    options.retention_days = args.retention_days;
    options.legal_hold = args.legal_hold;
    options.signer.clone_from(&args.signer);
    options.signing_key = signing_key;
    let files = build_bundle(&decisions, &options);
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
        "metadata": index(&args.output)?,
    }))
}

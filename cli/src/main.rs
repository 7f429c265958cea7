//! `cavra`: evaluate an agent's action against a policy pack, and run the human-approval
//! workflow on a local SQLite database, a JSON file or a DynamoDB table.
//!
//! Records print as JSON on stdout; errors print as `error: <message>` on stderr with exit
//! code 1 (2 for usage errors, 3 when a delivery failed).

mod commands;
mod identity;
mod output;
mod remote;
mod stores;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's malloc: `cavra serve` allocates per request (JSON, records,
/// hashes) on several threads, and glibc's allocator took ~20% of its CPU under load
/// (issue H: measured with perf on the approve route at c=16).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for usage errors (clap uses it too).
const EXIT_USAGE: u8 = 2;

/// An error that exits with a specific code instead of 1.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    /// What to print after `error: `.
    pub message: String,
    /// The process exit code.
    pub code: u8,
}

impl Exit {
    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: EXIT_USAGE,
        }
    }
}

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if let Some(exit) = error.downcast_ref::<Exit>() {
                if !exit.message.is_empty() {
                    eprintln!("error: {}", exit.message);
                }
                return ExitCode::from(exit.code);
            }
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

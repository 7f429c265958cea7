//! The workspace's own binaries (`cavra`, the function binaries) for suites that start them as
//! processes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::emulator::repo_root;

/// Variables cargo sets for a running test that would make a nested `cargo build` see another
/// environment than the workspace test run: build scripts track some of them (ring's tracks
/// `CARGO_MANIFEST_DIR`), and a changed value rebuilds the dependency tree.
fn is_test_process_variable(name: &str) -> bool {
    name == "OUT_DIR"
        || [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// Runs `cargo build <args> --message-format=json-render-diagnostics` in the workspace, with
/// the test process's own cargo variables removed, and returns each built binary's path by
/// name.
///
/// # Panics
/// The build fails.
pub fn build_binaries(args: &[&str]) -> HashMap<String, PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command
        .current_dir(repo_root())
        .arg("build")
        .args(args)
        .arg("--message-format=json-render-diagnostics");
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_test_process_variable) {
            command.env_remove(&name);
        }
    }
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "cargo build {args:?} failed");
    let mut binaries = HashMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let is_binary = message["profile"]["test"] == false
            && message["target"]["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "bin"));
        if let (true, Some(name), Some(exe)) = (
            is_binary,
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) {
            binaries.insert(name.to_owned(), PathBuf::from(exe));
        }
    }
    binaries
}

/// Builds every binary of the workspace once per test process (debug profile, the
/// workspace's `target/`) and returns each one's path by name.
///
/// `--workspace --bins --tests` resolves features as `cargo test --workspace` does, and the
/// test process's own cargo variables are removed, so inside a workspace test run every
/// dependency is already fresh and only the binaries that run had not built are linked.
///
/// # Panics
/// The build fails.
pub fn workspace_binaries() -> &'static HashMap<String, PathBuf> {
    static BINARIES: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    BINARIES.get_or_init(|| build_binaries(&["--locked", "--workspace", "--bins", "--tests"]))
}

/// The `cavra` binary.
///
/// # Panics
/// The build fails.
pub fn cavra_binary() -> &'static PathBuf {
    workspace_binaries()
        .get("cavra")
        .expect("the workspace builds the cavra binary")
}

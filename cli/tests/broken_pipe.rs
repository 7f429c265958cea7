//! Issue H §5: a reader that goes away (`cavra approval create … | head -c1`) ends the command
//! quietly with its usual exit status: no panic, nothing on stderr, and the request is stored.

use std::process::{Command, Stdio};

#[test]
fn a_closed_stdout_ends_approval_create_quietly_with_its_usual_status() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("approvals.db");
    for n in 0..3 {
        let decision = dir.path().join(format!("decision-{n}.json"));
        std::fs::write(
            &decision,
            serde_json::to_vec(&cavra_e2e::fixtures::iam_decision(&format!("dec_pipe_{n}")))
                .unwrap(),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_cavra"))
            .args([
                "approval",
                "create",
                decision.to_str().unwrap(),
                "--sqlite",
                db.to_str().unwrap(),
                "--requested-by",
                "developer",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader is gone before the command prints: its write fails with EPIPE.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "status {:?}, stderr {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "quiet: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The requests were stored all the same.
    let out = Command::new(env!("CARGO_BIN_EXE_cavra"))
        .args(["approval", "list", "--sqlite", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["total"], 3, "{page}");
}

#[test]
fn a_closed_stdout_keeps_a_failing_commands_status() {
    // `approval get` of an unknown id fails (exit 1 or the CLI's not-found code) whether or
    // not anyone reads stdout.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("approvals.db");
    let args = [
        "approval",
        "get",
        "apr_000000000000",
        "--sqlite",
        db.to_str().unwrap(),
    ];
    let read = Command::new(env!("CARGO_BIN_EXE_cavra"))
        .args(args)
        .output()
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cavra"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let closed = child.wait().unwrap();
    assert!(!read.status.success());
    assert_eq!(closed.code(), read.status.code());
}

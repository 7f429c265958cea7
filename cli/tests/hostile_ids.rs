//! Issue E §6: a stored id never becomes a path outside `--output`. A record whose id is
//! `../…` (written into the store by hand, or by another tool) is refused by `deliver`
//! before anything is written or sent.

use std::process::Command;

use serde_json::json;

#[test]
fn regression_a_stored_dot_dot_id_never_becomes_an_evidence_path_outside_output() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("approvals.json");
    let hostile = "../../escaped";
    let record = json!({
        "schema_version": "cavra.approval.v1", "product": "CAVRA",
        "approval_id": hostile, "decision_id": "dec_1", "session_id": "local",
        "correlation_id": null, "state": "pending", "approver_group": "IAM",
        "requested_by": "dev", "requested_at": "2026-05-18T12:00:00+00:00",
        "expires_at": "2026-05-19T12:00:00+00:00", "decision": {"decision_id": "dec_1"},
        "history": [], "evidence_refs": []
    });
    std::fs::write(&store, json!({"items": [record]}).to_string()).unwrap();
    let config = dir.path().join("providers.json");
    std::fs::write(&config, r#"{"providers": {}}"#).unwrap();
    let output = dir.path().join("out/deeper");
    let out = Command::new(env!("CARGO_BIN_EXE_cavra"))
        .args(["approval", "deliver", hostile, "--config"])
        .arg(&config)
        .arg("--output")
        .arg(&output)
        .arg("--store")
        .arg(&store)
        .current_dir(dir.path())
        .env_remove("CAVRA_APPROVAL_DB")
        .env_remove("CAVRA_APPROVAL_TABLE")
        .env_remove("CAVRA_APPROVAL_CHAIN_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to write files for this record: approval id must be apr_"),
        "{stderr}"
    );
    assert!(!output.exists(), "nothing was written under --output");
    assert!(
        !dir.path().join("escaped-provider-delivery.json").exists()
            && !dir
                .path()
                .parent()
                .unwrap()
                .join("escaped-provider-delivery.json")
                .exists(),
        "nothing was written outside it"
    );
}

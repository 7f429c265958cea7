//! Issue I §3: `cavra init` writes a working `.cavra/` and `cavra dev-token` mints tokens
//! against its local key, so OIDC mode runs on a laptop exactly as in production: `cavra
//! serve` with the folder's config verifies them, routes by the folder's table, and refuses
//! tokens of another folder's key.

use std::path::Path;
use std::process::Command;

use cavra_e2e::deployment::{ServeProcess, Setup};
use serde_json::{Value, json};

fn cavra(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cavra"))
        .args(args)
        .output()
        .expect("cavra runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn token(dir: &Path, email: &str, group: &str) -> String {
    let dir = dir.display().to_string();
    let (code, out, err) = cavra(&[
        "dev-token",
        "--dir",
        &dir,
        "--email",
        email,
        "--groups",
        group,
    ]);
    assert_eq!(code, 0, "{err}");
    out.trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_and_dev_tokens_give_a_working_oidc_deployment_on_a_laptop() {
    // GIVEN a folder written by `cavra init`
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".cavra");
    let (code, out, err) = cavra(&["init", "--dir", &dir.display().to_string()]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        report["written"].as_array().map(Vec::len),
        Some(4),
        "{report}"
    );
    assert!(dir.join("approvals.db").exists());
    // AND cavra serve on its OIDC config, RBAC and routing files
    let file = |name: &str| dir.join(name).display().to_string();
    let setup = Setup {
        extra: vec![
            ("CAVRA_APPROVAL_OIDC_CONFIG".into(), file("oidc.json")),
            ("CAVRA_APPROVAL_RBAC_FILE".into(), file("rbac.json")),
            ("CAVRA_APPROVAL_ROUTING_FILE".into(), file("routing.json")),
        ],
        ..Setup::local()
    };
    let serve = ServeProcess::start(Path::new(env!("CARGO_BIN_EXE_cavra")), &setup);
    let http = reqwest::Client::new();
    let developer = token(&dir, "dev@example.com", "Developers");
    let iam = token(&dir, "iam@example.com", "IAM");

    // WHEN a developer's token asks for an IAM change
    let decision = json!({
        "decision_id": "dec_laptop", "action_type": "write_file", "target": "iam/admin-role.tf",
        "rule_id": "filesystem.write.require_approval", "decision": "require_approval",
        "severity": "high", "reason": "iam change",
    });
    let created = http
        .post(format!("{}/approvals", serve.base))
        .bearer_auth(&developer)
        .json(&json!({"decision": decision}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    // THEN it is routed to IAM and recorded as the verified developer
    assert_eq!(created["approver_group"], "IAM");
    assert_eq!(created["requested_by"], "dev@example.com");
    let id = created["approval_id"].as_str().unwrap();
    let approve = |bearer: Option<String>| {
        let mut request = http
            .post(format!("{}/approvals/{id}/approve", serve.base))
            .json(&json!({"reason": "reviewed on a laptop"}));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };
    // AND no token is 401, the developer is 403, a foreign key's token is 401
    assert_eq!(approve(None).await.unwrap().status(), 401);
    assert_eq!(
        approve(Some(developer.clone())).await.unwrap().status(),
        403
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let other = elsewhere.path().join(".cavra");
    let (code, _, err) = cavra(&["init", "--dir", &other.display().to_string()]);
    assert_eq!(code, 0, "{err}");
    let foreign = token(&other, "iam@example.com", "IAM");
    assert_eq!(approve(Some(foreign)).await.unwrap().status(), 401);
    // AND the IAM member's token approves it
    let approved = approve(Some(iam)).await.unwrap();
    assert_eq!(approved.status(), 200);
    let approved: Value = approved.json().await.unwrap();
    assert_eq!(approved["state"], "approved");
    assert_eq!(approved["decided_by"], "iam@example.com");

    // AND a second init keeps every file and the key, so issued tokens stay valid
    let (code, out, err) = cavra(&["init", "--dir", &dir.display().to_string()]);
    assert_eq!(code, 0, "{err}");
    let again: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(again["kept"].as_array().map(Vec::len), Some(3), "{again}");
    // AND dev-token without an init folder says what to do
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = cavra(&[
        "dev-token",
        "--dir",
        &empty.path().display().to_string(),
        "--email",
        "x@example.com",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("run `cavra init` first"), "{err}");
    drop(serve);
}

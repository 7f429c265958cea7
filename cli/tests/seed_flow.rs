//! CLI transcripts: the product page's seed flow, run as written, on SQLite, on the JSON store
//! and on a DynamoDB table (`--dynamodb-table`, on the emulator), plus the CLI's error
//! conventions.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/oidc");

/// Which store a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Json,
    DynamoDb,
}

struct Run {
    dir: tempfile::TempDir,
    /// `--sqlite PATH`, `--store PATH` or `--dynamodb-table NAME`.
    store: Vec<String>,
}

/// A fresh table on the emulator (started if needed).
fn fresh_table() -> String {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let client = cavra_e2e::emulator::dynamodb_client();
            cavra_e2e::emulator::fresh_table(&client, "cli-seed").await
        })
}

impl Run {
    fn new(sqlite: bool) -> Self {
        Self::of(if sqlite { Kind::Sqlite } else { Kind::Json })
    }

    fn of(kind: Kind) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = if kind == Kind::DynamoDb {
            vec!["--dynamodb-table".to_owned(), fresh_table()]
        } else if kind == Kind::Sqlite {
            vec![
                "--sqlite".to_owned(),
                dir.path().join(".cavra/approvals.db").display().to_string(),
            ]
        } else {
            vec![
                "--store".to_owned(),
                dir.path()
                    .join(".cavra/approvals.json")
                    .display()
                    .to_string(),
            ]
        };
        Self { dir, store }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn raw(&self, args: &[&str]) -> Output {
        // The AWS settings reach the emulator (they matter only to --dynamodb-table runs).
        Command::new(env!("CARGO_BIN_EXE_cavra"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("CAVRA_APPROVAL_DB")
            .env_remove("CAVRA_APPROVAL_TABLE")
            .envs(cavra_e2e::emulator::child_env())
            .output()
            .expect("run cavra")
    }

    /// Runs a command that must succeed and print one JSON document.
    fn json(&self, args: &[&str]) -> Value {
        let out = self.raw(args);
        assert!(
            out.status.success(),
            "cavra {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "cavra {args:?} printed non-JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Runs an approval command against this run's store.
    fn approval(&self, args: &[&str]) -> Value {
        let mut all: Vec<&str> = vec!["approval"];
        all.extend_from_slice(args);
        all.extend(self.store.iter().map(String::as_str));
        self.json(&all)
    }

    fn approval_fails(&self, args: &[&str]) -> (i32, String) {
        let mut all: Vec<&str> = vec!["approval"];
        all.extend_from_slice(args);
        all.extend(self.store.iter().map(String::as_str));
        let out = self.raw(&all);
        assert!(!out.status.success(), "cavra {all:?} should fail");
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        )
    }

    fn evaluate(&self, action: &str, target: &str, file: &str) -> PathBuf {
        let decision = self.json(&["evaluate", action, target, "--json"]);
        let path = self.path(file);
        std::fs::write(&path, serde_json::to_vec_pretty(&decision).unwrap()).unwrap();
        path
    }

    fn write(&self, name: &str, content: &str) -> String {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    }
}

fn signed_token(claims: &Value) -> String {
    let pem = std::fs::read(Path::new(FIXTURES).join("rsa-private.pem")).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-key".into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

fn seed_flow(kind: Kind) {
    let run = Run::of(kind);
    // cavra evaluate write_file iam/admin-role.tf --json > /tmp/cavra-decision.json
    let decision_file = run.evaluate("write_file", "iam/admin-role.tf", "cavra-decision.json");
    let decision: Value = serde_json::from_slice(&std::fs::read(&decision_file).unwrap()).unwrap();
    assert_eq!(decision["decision"], "require_approval");
    assert_eq!(decision["rule_id"], "filesystem.write.require_approval");
    let decision_arg = decision_file.to_str().unwrap();

    if kind == Kind::Sqlite {
        // cavra approval migrate --sqlite .cavra/approvals.db (twice: idempotent)
        let first = run.json(&["approval", "migrate", "--sqlite", &run.store[1]]);
        assert!(!first["applied"].as_array().unwrap().is_empty());
        let again = run.json(&["approval", "migrate", "--sqlite", &run.store[1]]);
        assert!(again["applied"].as_array().unwrap().is_empty());
        assert_eq!(again["skipped"], first["applied"]);
    }

    // cavra approval create /tmp/cavra-decision.json --requested-by developer
    let created = run.approval(&["create", decision_arg, "--requested-by", "developer"]);
    assert_eq!(created["schema_version"], "cavra.approval.v1");
    assert_eq!(created["state"], "pending");
    assert_eq!(created["approver_group"], "IAM");
    assert_eq!(created["requested_by"], "developer");
    assert_eq!(created["history"][0]["event"], "requested");
    assert_eq!(created["decision_digest"].as_str().unwrap().len(), 64);
    let apr = s(&created["approval_id"]).to_owned();
    assert!(apr.starts_with("apr_") && apr.len() == 16);
    // Creating again for the same open decision returns the same request.
    assert_eq!(
        run.approval(&["create", decision_arg, "--requested-by", "developer"])["approval_id"],
        apr.as_str()
    );

    // … --routing-file .cavra/approval-routing.json
    let routing = run.write(
        ".cavra/approval-routing.json",
        r#"{"approval_routing": [{"rule_id_prefix": "filesystem.write", "target_contains": "iam/", "approver_group": "Cloud IAM Owners"}]}"#,
    );
    let second_file = run.evaluate("write_file", "iam/payments-role.tf", "second-decision.json");
    let routed = run.approval(&[
        "create",
        second_file.to_str().unwrap(),
        "--routing-file",
        &routing,
        "--requested-by",
        "developer",
    ]);
    assert_eq!(routed["approver_group"], "Cloud IAM Owners");

    // cavra approval route … [--routing-file …]
    let route = run.json(&["approval", "route", decision_arg]);
    assert_eq!(route["approver_group"], "IAM");
    // The original's five default rules, then issue E's five fallbacks.
    assert_eq!(route["routing_rules"].as_array().unwrap().len(), 10);
    let route = run.json(&[
        "approval",
        "route",
        decision_arg,
        "--routing-file",
        &routing,
    ]);
    assert_eq!(route["approver_group"], "Cloud IAM Owners");

    // cavra approval list --state pending
    let list = run.approval(&["list", "--state", "pending"]);
    assert_eq!(list["total"], 2);
    assert_eq!(list["limit"], 50);
    assert_eq!(list["offset"], 0);

    // cavra approval approve apr_123 --actor platform-security --reason … --external-ref CHG-123
    let approved = run.approval(&[
        "approve",
        &apr,
        "--actor",
        "platform-security",
        "--reason",
        "Scoped IAM change reviewed",
        "--external-ref",
        "CHG-123",
    ]);
    assert_eq!(approved["state"], "approved");
    assert_eq!(approved["decided_by"], "platform-security");
    assert_eq!(approved["external_ref"], "CHG-123");
    assert_eq!(approved["history"][1]["identity"], "unverified");

    // … --actor iam@example.com --actor-claims /tmp/oidc-claims.json
    let claims = run.write(
        "oidc-claims.json",
        r#"{"email": "iam@example.com", "groups": ["Cloud IAM Owners"]}"#,
    );
    let by_claims = run.approval(&[
        "approve",
        s(&routed["approval_id"]),
        "--actor",
        "iam@example.com",
        "--actor-claims",
        &claims,
        "--reason",
        "Scoped IAM change reviewed",
    ]);
    assert_eq!(by_claims["state"], "approved");
    assert_eq!(by_claims["decided_by"], "iam@example.com");

    // … --actor-token /tmp/oidc.jwt --oidc-config … --rbac-file …
    let mut payments: Value = serde_json::from_slice(
        &std::fs::read(run.evaluate("write_file", "iam/owners.tf", "payments.json")).unwrap(),
    )
    .unwrap();
    payments["repository"] = json!("payments/api");
    let payments_file = run.write("payments-decision.json", &payments.to_string());
    let payments_request = run.approval(&["create", &payments_file, "--requested-by", "developer"]);
    let token = signed_token(&json!({
        "iss": "https://login.example", "aud": "cavra-approvals", "sub": "user-42", "exp": now() + 300,
        "email": "owner@example.com", "groups": ["github-team:payments-owners"]
    }));
    let token_file = run.write("oidc.jwt", &format!("{token}\n"));
    let oidc = format!("{FIXTURES}/oidc-config.json");
    let rbac = run.write(
        ".cavra/approval-rbac.yaml",
        "approval_rbac:\n  group_mappings:\n    github-team:payments-owners: Payments Owners\n  repository_permissions:\n    - repository: payments/api\n      approver_group: IAM\n      groups:\n        - Payments Owners\n      actions:\n        - approved\n        - denied\n",
    );
    let by_token = run.approval(&[
        "approve",
        s(&payments_request["approval_id"]),
        "--actor",
        "iam@example.com",
        "--actor-token",
        &token_file,
        "--oidc-config",
        &oidc,
        "--rbac-file",
        &rbac,
        "--reason",
        "Signed identity verified",
    ]);
    assert_eq!(by_token["state"], "approved");
    assert_eq!(
        by_token["decided_by"], "owner@example.com",
        "the verified identity is recorded, not --actor"
    );
    assert_eq!(by_token["history"][1]["identity"], "oidc");
    assert_eq!(by_token["history"][1]["issuer"], "https://login.example");
    assert_eq!(by_token["history"][1]["subject"], "user-42");

    // cavra approval break-glass /tmp/cavra-decision.json --actor incident-commander …
    let glass = run.approval(&[
        "break-glass",
        decision_arg,
        "--actor",
        "incident-commander",
        "--reason",
        "Production recovery",
        "--external-ref",
        "INC-777",
    ]);
    assert_eq!(glass["state"], "break_glass");
    assert_eq!(glass["break_glass"], true);
    assert_eq!(glass["approver_group"], "Change Advisory Board");
    assert_eq!(glass["external_ref"], "INC-777");
    assert_eq!(glass["review_required"], true);
    let events: Vec<&str> = glass["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| s(&h["event"]))
        .collect();
    assert_eq!(events, ["requested", "approved", "break_glass"]);

    // The agent's gate, the chain, and the evidence.
    let check = run.approval(&["check", &apr, "--decision", decision_arg]);
    assert_eq!(check["allowed"], true);
    let verify = run.approval(&["verify-history", &apr]);
    assert_eq!(verify["valid"], true);
    assert_eq!(verify["entries"], 2);

    let attached = run.approval(&["attach-decision", &apr, decision_arg]);
    assert_eq!(attached["approval"]["state"], "approved");
    assert_eq!(attached["approval"]["approval_id"], apr.as_str());
    let refs: Vec<&str> = attached["evidence_refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert_eq!(
        refs.last().copied(),
        Some(format!("approval://{apr}").as_str())
    );
    let attached_file = run.write("approved-decision.json", &attached.to_string());
    let out_dir = run.path("bundle");
    let bundle = run.json(&[
        "evidence",
        "bundle",
        &attached_file,
        "--output",
        out_dir.to_str().unwrap(),
        "--session-id",
        "approval-session",
    ]);
    assert_eq!(
        bundle["metadata"]["approval_outcomes"][0]["approval_id"],
        apr.as_str()
    );
    let attestation = std::fs::read_to_string(out_dir.join("pr-attestation.md")).unwrap();
    assert!(attestation.contains("## Approval Outcomes"));
    assert!(
        attestation.contains(&format!(
            "- `{apr}` `iam/admin-role.tf` -> **approved** by `platform-security`"
        )),
        "{attestation}"
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("manifest.json")).unwrap()).unwrap();
    for file in manifest["files"].as_array().unwrap() {
        let bytes = std::fs::read(out_dir.join(s(&file["path"]))).unwrap();
        assert_eq!(
            file["sha256"],
            cavra_core::digest::sha256_hex(&bytes).as_str()
        );
    }

    let all = run.approval(&["list"]);
    assert_eq!(all["total"], 4);
}

#[test]
fn the_seed_flow_runs_as_written_on_sqlite() {
    seed_flow(Kind::Sqlite);
}

#[test]
fn the_seed_flow_runs_as_written_on_the_json_store() {
    seed_flow(Kind::Json);
}

#[test]
fn the_seed_flow_runs_as_written_on_a_dynamodb_table() {
    seed_flow(Kind::DynamoDb);
}

#[test]
fn the_dynamodb_table_comes_from_the_environment_and_wins_over_sqlite() {
    // GIVEN CAVRA_APPROVAL_TABLE and --sqlite both set
    let run = Run::new(true);
    let table = fresh_table();
    let decision = run.evaluate("write_file", "iam/admin-role.tf", "d.json");
    let out = Command::new(env!("CARGO_BIN_EXE_cavra"))
        .args(["approval", "create", decision.to_str().unwrap()])
        .args(&run.store)
        .current_dir(run.dir.path())
        .envs(cavra_e2e::emulator::child_env())
        .env("CAVRA_APPROVAL_TABLE", &table)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    // THEN the record went to the table, not the SQLite file
    let id = s(&created["approval_id"]).to_owned();
    let from_table = Run {
        dir: tempfile::tempdir().unwrap(),
        store: vec!["--dynamodb-table".to_owned(), table],
    };
    assert_eq!(from_table.approval(&["get", &id])["state"], "pending");
    assert_eq!(run.approval(&["list"])["total"], 0);
}

#[test]
fn the_default_store_is_the_json_file_in_the_working_directory() {
    let run = Run::new(false);
    let decision = run.evaluate("write_file", "iam/admin-role.tf", "d.json");
    let created = run.json(&[
        "approval",
        "create",
        decision.to_str().unwrap(),
        "--requested-by",
        "developer",
    ]);
    assert!(run.path(".cavra/approvals.json").exists());
    let listed = run.json(&["approval", "list", "--state", "pending"]);
    assert_eq!(listed["items"][0]["approval_id"], created["approval_id"]);
}

#[test]
fn errors_go_to_stderr_with_exit_1_and_usage_errors_exit_2() {
    let run = Run::new(true);
    let (code, stderr) =
        run.approval_fails(&["approve", "apr_123", "--actor", "a", "--reason", "r"]);
    assert_eq!(
        (code, stderr.as_str()),
        (1, "error: approval not found: apr_123")
    );

    let out = run.raw(&["evaluate", "delete_everything", "/"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: Unknown action type: delete_everything"
    );

    let out = run.raw(&["approval", "list", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));

    let (code, stderr) = run.approval_fails(&["create", "/nonexistent/decision.json"]);
    assert_eq!(
        (code, stderr.as_str()),
        (
            1,
            "error: decision file not found: /nonexistent/decision.json"
        )
    );

    let (code, stderr) = run.approval_fails(&["list", "--state", "cancelled"]);
    assert_eq!(
        (code, stderr.as_str()),
        (1, "error: unsupported approval state: cancelled")
    );

    let decision = run.evaluate("write_file", "iam/admin-role.tf", "d.json");
    let id = run.approval(&[
        "create",
        decision.to_str().unwrap(),
        "--requested-by",
        "developer",
    ])["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, stderr) = run.approval_fails(&["approve", &id, "--actor", "iam", "--reason", ""]);
    assert_eq!((code, stderr.as_str()), (1, "error: reason is required"));
    let (_, stderr) =
        run.approval_fails(&["approve", &id, "--actor", "developer", "--reason", "mine"]);
    assert_eq!(stderr, "error: requester cannot approve their own request");
    let (_, stderr) = run.approval_fails(&[
        "approve",
        &id,
        "--actor",
        "x",
        "--reason",
        "r",
        "--actor-claims",
        "a.json",
        "--actor-token",
        "b.jwt",
    ]);
    assert_eq!(
        stderr,
        "error: use either --actor-claims or --actor-token, not both"
    );
    let (_, stderr) = run.approval_fails(&[
        "approve",
        &id,
        "--actor",
        "x",
        "--reason",
        "r",
        "--actor-token",
        "b.jwt",
    ]);
    assert_eq!(
        stderr,
        "error: --oidc-config is required with --actor-token"
    );
    let (code, stderr) =
        run.approval_fails(&["check", &id, "--decision", decision.to_str().unwrap()]);
    assert_eq!(
        (code, stderr.as_str()),
        (1, "error: approval is pending, not approved")
    );

    let allow = run.evaluate("write_file", "README.md", "allow.json");
    let (_, stderr) = run.approval_fails(&["create", allow.to_str().unwrap()]);
    assert_eq!(stderr, "error: decision does not require approval: allow");
}

#[test]
fn a_forged_or_expired_token_changes_nothing() {
    let run = Run::new(true);
    let decision = run.evaluate("write_file", "iam/admin-role.tf", "d.json");
    let id = run.approval(&[
        "create",
        decision.to_str().unwrap(),
        "--requested-by",
        "developer",
    ])["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let oidc = format!("{FIXTURES}/oidc-config.json");
    let expired = signed_token(
        &json!({"iss": "https://login.example", "aud": "cavra-approvals", "exp": now() - 3600, "sub": "iam-1", "email": "iam@example.com", "groups": ["IAM"]}),
    );
    let token_file = run.write("expired.jwt", &expired);
    let (code, stderr) = run.approval_fails(&[
        "approve",
        &id,
        "--reason",
        "r",
        "--actor-token",
        &token_file,
        "--oidc-config",
        &oidc,
    ]);
    assert_eq!((code, stderr.as_str()), (1, "error: OIDC token is expired"));
    let wrong_group = signed_token(
        &json!({"iss": "https://login.example", "aud": "cavra-approvals", "exp": now() + 300, "sub": "dev-1", "email": "dev@example.com", "groups": ["Developers"]}),
    );
    let token_file = run.write("dev.jwt", &wrong_group);
    let (_, stderr) = run.approval_fails(&[
        "approve",
        &id,
        "--reason",
        "r",
        "--actor-token",
        &token_file,
        "--oidc-config",
        &oidc,
    ]);
    assert_eq!(stderr, "error: actor is not authorized for approval group");
    // Issue E §3: a signed token that names no subject names nobody.
    let no_subject = signed_token(
        &json!({"iss": "https://login.example", "aud": "cavra-approvals", "exp": now() + 300, "email": "iam@example.com", "groups": ["IAM"]}),
    );
    let token_file = run.write("no-sub.jwt", &no_subject);
    let (code, stderr) = run.approval_fails(&[
        "approve",
        &id,
        "--reason",
        "r",
        "--actor-token",
        &token_file,
        "--oidc-config",
        &oidc,
    ]);
    assert_eq!(
        (code, stderr.as_str()),
        (1, "error: OIDC token is missing sub")
    );
    let record = run.approval(&["get", &id]);
    assert_eq!(record["state"], "pending");
    assert_eq!(record["history"].as_array().unwrap().len(), 1);
}

#[test]
fn a_corrupt_json_store_is_a_clear_error_and_is_left_untouched() {
    let run = Run::new(false);
    let store = run.write(".cavra/approvals.json", "{\"items\": [");
    let (code, stderr) = run.approval_fails(&["list"]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with(&format!(
            "error: approval store {store} is corrupt: invalid JSON"
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&store).unwrap(), "{\"items\": [");
}

#[test]
fn help_shows_the_seed_examples() {
    let run = Run::new(true);
    let out = run.raw(&["approval", "approve", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--actor-token /tmp/oidc.jwt --oidc-config .cavra/approval-oidc.json"),
        "{help}"
    );
    assert!(help.contains("--reason"));
}

#[test]
fn expire_sweep_and_quorum_from_the_cli() {
    let run = Run::new(true);
    let decision = run.evaluate("write_file", "iam/admin-role.tf", "d.json");
    let short = run.approval(&["create", decision.to_str().unwrap(), "--ttl-hours", "0"]);
    assert_eq!(run.approval(&["sweep"])["count"], 0, "not yet overdue");
    let expired = run.approval(&["expire", s(&short["approval_id"])]);
    assert_eq!(expired["state"], "expired");
    assert_eq!(
        expired["decided_by"], "anonymous",
        "system is the sweeper's alone"
    );
    assert_eq!(expired["decision_reason"], "approval expired");

    let routing = run.write(
        "quorum.yaml",
        "- rule_id_prefix: filesystem.write\n  approver_group: IAM\n  required_approvals: 2\n",
    );
    let q = run.approval(&[
        "create",
        decision.to_str().unwrap(),
        "--routing-file",
        &routing,
    ]);
    let id = s(&q["approval_id"]).to_owned();
    assert_eq!(q["required_approvals"], 2);
    // Issue E: two invented names no longer meet a quorum; only verified identities count.
    for name in ["a", "b"] {
        assert_eq!(
            run.approval_fails(&["approve", &id, "--actor", name, "--reason", "ok"]),
            (1, "error: quorum rules need verified identities".to_owned())
        );
    }
    let oidc = format!("{FIXTURES}/oidc-config.json");
    let vote = |sub: &str, email: &str| {
        let token = signed_token(&json!({
            "iss": "https://login.example", "aud": "cavra-approvals", "sub": sub,
            "exp": now() + 300, "email": email, "groups": ["IAM"]
        }));
        let file = run.write(&format!("{sub}-{email}.jwt"), &token);
        let mut all = vec![
            "approval",
            "approve",
            &id,
            "--actor-token",
            &file,
            "--oidc-config",
            &oidc,
            "--reason",
            "ok",
        ];
        all.extend(run.store.iter().map(String::as_str));
        let out = run.raw(&all);
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        )
    };
    assert_eq!(vote("u-1", "a@example.com"), (0, String::new()));
    assert_eq!(
        vote("u-1", "alias@example.com"),
        (
            1,
            "error: actor has already reviewed this request".to_owned()
        ),
        "a second token for the same subject counts once"
    );
    assert_eq!(vote("u-2", "b@example.com"), (0, String::new()));
    assert_eq!(run.approval(&["get", &id])["state"], "approved");
}

#[test]
fn issue_i_an_agent_gives_a_rationale_and_a_blocked_request_is_overridden_from_the_cli() {
    let run = Run::new(true);
    let blocked = json!({"decision_id": "dec_cli_block", "action_type": "execute_command",
        "target": "terraform apply -auto-approve", "rule_id": "commands.block", "decision": "block",
        "severity": "critical", "reason": "blocked"});
    let file = run.write("blocked.json", &blocked.to_string());
    let created = run.approval(&[
        "create",
        &file,
        "--requested-by",
        "agent",
        "--approver-group",
        "Platform Security",
        "--rationale",
        "Deploys are down.\u{7}",
    ]);
    assert_eq!(created["rationale"], "Deploys are down.");
    let id = s(&created["approval_id"]).to_owned();
    let (code, error) = run.approval_fails(&["create", &file, "--rationale", &"x".repeat(2001)]);
    assert_eq!(
        (code, error.as_str()),
        (
            1,
            "error: rationale is too long: 2001 characters (at most 2000)"
        )
    );

    // A decision file whose rule is not the request's is refused; nothing changes.
    let other = run.write(
        "other.json",
        &json!({"decision_id": "dec_x", "rule_id": "commands.other", "decision": "block",
                "target": "terraform apply -auto-approve"})
        .to_string(),
    );
    let override_of = |decision: &str| {
        [
            "break-glass",
            decision,
            "--blocked",
            &id,
            "--actor",
            "incident-commander",
            "--reason",
            "outage",
        ]
        .map(str::to_owned)
    };
    let args = override_of(&other);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, error) = run.approval_fails(&args);
    assert_eq!(code, 1);
    assert!(
        error.starts_with(&format!(
            "error: rule_id does not match blocked request {id}"
        )),
        "{error}"
    );
    assert_eq!(run.approval(&["get", &id])["state"], "pending");

    let args = override_of(&file);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let overridden = run.approval(&args);
    assert_eq!(overridden["state"], "break_glass");
    assert_eq!(overridden["overrides"], id.as_str());
    let closed = run.approval(&["get", &id]);
    assert_eq!(closed["state"], "expired");
    assert_eq!(closed["overridden_by"], overridden["approval_id"]);
    let verified = run.approval(&["verify-history", &id]);
    assert_eq!(verified["valid"], true, "{verified}");
}

//! Issue I §1 "Parity with the original", as CLI transcripts: the reason texts `cavra evaluate`
//! prints (compat appendix A2), the seven-file evidence bundle and its index (A3), and
//! `cavra approval migrate --migrations-dir` (A5), and `cavra approval route`'s keys (A7).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn raw(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cavra"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("CAVRA_APPROVAL_DB")
            .env_remove("CAVRA_APPROVAL_TABLE")
            .env_remove("CAVRA_API_URL")
            .envs(env.iter().copied())
            .output()
            .expect("run cavra")
    }

    fn text(&self, args: &[&str]) -> String {
        let out = self.raw(args, &[]);
        assert!(
            out.status.success(),
            "cavra {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json_with(&self, args: &[&str], env: &[(&str, &str)]) -> Value {
        let out = self.raw(args, env);
        assert!(
            out.status.success(),
            "cavra {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        self.json_with(args, &[])
    }

    fn write(&self, name: &str, value: &Value) -> String {
        let path = self.path(name);
        std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
        path.display().to_string()
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn evaluate_prints_the_original_reason_texts() {
    let run = Run::new();
    assert_eq!(
        run.text(&["evaluate", "execute_command", "make deploy"]),
        "require_approval: No allow rule matched; review required.\n"
    );
    assert_eq!(
        run.text(&["evaluate", "write_file", "infra/main.tf"]),
        "block: Matched sensitive path policy: **/main.tf\n"
    );
    let cases = [
        ("read_file", ".env", "Matched sensitive path policy: .env"),
        (
            "read_file",
            "README.md",
            "No sensitive path policy matched.",
        ),
        (
            "git_operation",
            "origin/main",
            "Direct push to protected branch is prohibited.",
        ),
        (
            "git_operation",
            "origin/feature-x",
            "Git operation is allowed by policy.",
        ),
        (
            "mcp_tool_call",
            "github",
            "Untrusted MCP server with filesystem/tool capability is not approved.",
        ),
    ];
    for (action, target, reason) in cases {
        let decision = run.json(&["evaluate", action, target, "--json"]);
        assert_eq!(decision["reason"], reason, "{action} {target}");
    }
}

#[test]
fn the_approval_record_copies_the_original_reason_into_its_first_history_entry() {
    let run = Run::new();
    let decision = run.json(&["evaluate", "execute_command", "make deploy", "--json"]);
    let file = run.write("decision.json", &decision);
    let store = run.path("approvals.json").display().to_string();
    let created = run.json(&[
        "approval",
        "create",
        &file,
        "--requested-by",
        "developer",
        "--store",
        &store,
    ]);
    assert_eq!(
        created["history"][0]["reason"],
        "No allow rule matched; review required."
    );
}

#[test]
fn the_evidence_bundle_writes_the_original_seven_files_with_the_approval_outcome() {
    let run = Run::new();
    let store = run.path("approvals.json").display().to_string();
    let decision = run.json(&["evaluate", "write_file", "iam/admin-role.tf", "--json"]);
    let decision_file = run.write("decision.json", &decision);
    let created = run.json(&[
        "approval",
        "create",
        &decision_file,
        "--requested-by",
        "developer",
        "--store",
        &store,
    ]);
    let apr = created["approval_id"].as_str().unwrap().to_owned();
    run.json(&[
        "approval",
        "approve",
        &apr,
        "--actor",
        "platform-security",
        "--reason",
        "Scoped IAM change reviewed",
        "--external-ref",
        "CHG-22",
        "--store",
        &store,
    ]);
    let attached = run.json(&[
        "approval",
        "attach-decision",
        &apr,
        &decision_file,
        "--store",
        &store,
    ]);
    let attached_file = run.write("approved-decision.json", &attached);
    let out = run.path("bundle");
    let printed = run.json(&[
        "evidence",
        "bundle",
        &attached_file,
        "--output",
        out.to_str().unwrap(),
        "--session-id",
        "approval-session",
    ]);
    let names = [
        "evidence.json",
        "pr-attestation.md",
        "compliance-mapping.md",
        "siem-event.json",
        "sandbox-run-summary.json",
        "retention-policy.json",
        "manifest.json",
    ];
    let mut on_disk: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut expected: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    expected.sort();
    assert_eq!(on_disk, expected);
    assert_eq!(printed["files"].as_array().unwrap().len(), 7);

    let evidence = read_json(&out.join("evidence.json"));
    assert_eq!(evidence["decisions"][0]["approval"]["state"], "approved");
    assert_eq!(
        evidence["decisions"][0]["approval"]["external_ref"],
        "CHG-22"
    );
    let siem = read_json(&out.join("siem-event.json"));
    assert_eq!(siem["decisions"], evidence["decisions"]);
    assert_eq!(siem["approval_required_count"], 1);
    let attestation = std::fs::read_to_string(out.join("pr-attestation.md")).unwrap();
    assert!(
        attestation.contains(&format!(
            "## Approval Outcomes\n\n- `{apr}` `iam/admin-role.tf` -> **approved** by `platform-security`\n"
        )),
        "{attestation}"
    );
    assert!(attestation.contains("- `write_file` `iam/admin-role.tf` -> **require_approval** via `filesystem.write.require_approval`"));

    let manifest = read_json(&out.join("manifest.json"));
    assert_eq!(manifest["schema_version"], "cavra.evidence.bundle.v1");
    assert_eq!(manifest["signature"]["algorithm"], "SHA256");
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(listed.len(), 6);
    for (entry, name) in listed.iter().zip(names) {
        let bytes = std::fs::read(out.join(name)).unwrap();
        assert_eq!(entry["path"], name);
        assert_eq!(entry["bytes"], bytes.len());
        assert_eq!(
            entry["sha256"],
            cavra_core::digest::sha256_hex(&bytes).as_str()
        );
    }

    let index = run.json(&["evidence", "index", out.to_str().unwrap()]);
    assert_eq!(index, printed["metadata"]);
    assert_eq!(index["schema_version"], "cavra.evidence.metadata.v1");
    assert_eq!(index["approval_outcomes"][0]["approval_id"], apr.as_str());
    assert_eq!(index["approved_count"], 1);
    assert_eq!(index["retention"]["retention_days"], 2555);

    // Signed with an HMAC key from the environment, under legal hold.
    let signed = run.path("signed");
    run.json_with(
        &[
            "evidence",
            "bundle",
            &attached_file,
            "--output",
            signed.to_str().unwrap(),
            "--signing-key-env",
            "BUNDLE_KEY",
            "--signer",
            "ci",
            "--legal-hold",
            "--retention-days",
            "30",
        ],
        &[("BUNDLE_KEY", "k3y")],
    );
    let manifest = read_json(&signed.join("manifest.json"));
    assert_eq!(manifest["signature"]["algorithm"], "HS256");
    assert_eq!(manifest["signer"], "ci");
    assert!(cavra_core::evidence::manifest_signature_matches(
        &manifest,
        Some(b"k3y")
    ));
    let retention = read_json(&signed.join("retention-policy.json"));
    assert_eq!(
        (&retention["disposition"], &retention["retention_days"]),
        (&json!("retain"), &json!(30))
    );
    let missing = run.raw(
        &[
            "evidence",
            "bundle",
            &attached_file,
            "--output",
            signed.to_str().unwrap(),
            "--signing-key-env",
            "NO_SUCH_BUNDLE_KEY",
        ],
        &[],
    );
    assert!(!missing.status.success());
}

#[test]
fn migrate_accepts_migrations_dir_and_prints_the_original_keys_beside_ours() {
    let run = Run::new();
    std::fs::create_dir_all(run.path("custom")).unwrap();
    std::fs::write(run.path("custom/099_mine.sql"), "CREATE TABLE mine (x);").unwrap();
    let first = run.json(&[
        "approval",
        "migrate",
        "--sqlite",
        "./q.db",
        "--migrations-dir",
        "./custom/",
    ]);
    assert_eq!(first["database"], "q.db");
    assert_eq!(first["migrations_dir"], "custom");
    assert_eq!(first["migrations"], "embedded");
    assert_eq!(
        first["note"],
        "--migrations-dir ./custom/ was not read: the embedded migrations were applied"
    );
    let applied = first["applied"].as_array().unwrap();
    assert!(!applied.is_empty());
    assert!(!applied.contains(&json!("099_mine.sql")));
    assert_eq!(first["skipped"], json!([]));

    // The default directory need not exist; the original's default is printed.
    let again = run.json(&["approval", "migrate", "--sqlite", "q.db"]);
    assert_eq!(again["migrations_dir"], "migrations/sqlite");
    assert!(again.get("note").is_none());
    assert_eq!(again["applied"], json!([]));
    assert_eq!(again["skipped"], first["applied"]);
}

#[test]
fn route_prints_exactly_the_original_three_keys() {
    let run = Run::new();
    let decision = run.json(&["evaluate", "write_file", "iam/admin-role.tf", "--json"]);
    let file = run.write("decision.json", &decision);
    let routed = run.json(&["approval", "route", &file]);
    let keys: Vec<&str> = routed
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["approver_group", "decision_id", "routing_rules"]);
    assert_eq!(routed["approver_group"], "IAM");
    assert_eq!(routed["decision_id"], decision["decision_id"]);
}

//! Issue E §5 on the real stores: an approval row edited behind the CLI's back — with sqlite3
//! SQL on the SQLite file, by rewriting the JSON store file, with UpdateItem on the DynamoDB
//! table (emulator) — is refused by `cavra approval check` and `verify-history`, which name
//! what disagrees. The key comes from the file `migrate` creates (SQLite) or from
//! `CAVRA_APPROVAL_CHAIN_KEY` (JSON, DynamoDB).

use std::path::PathBuf;
use std::process::{Command, Output};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

const KEY: &str = "e2e-key:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Json,
    DynamoDb,
}

struct Run {
    kind: Kind,
    dir: tempfile::TempDir,
    store: Vec<String>,
    key: Option<&'static str>,
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

impl Run {
    fn new(kind: Kind, key: Option<&'static str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = match kind {
            Kind::Sqlite => vec![
                "--sqlite".into(),
                dir.path().join("a.db").display().to_string(),
            ],
            Kind::Json => vec![
                "--store".into(),
                dir.path().join("a.json").display().to_string(),
            ],
            Kind::DynamoDb => vec![
                "--dynamodb-table".into(),
                block_on(async {
                    let client = cavra_e2e::emulator::dynamodb_client();
                    cavra_e2e::emulator::fresh_table(&client, "cli-tamper").await
                }),
            ],
        };
        Self {
            kind,
            dir,
            store,
            key,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cavra"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("CAVRA_APPROVAL_DB")
            .env_remove("CAVRA_APPROVAL_TABLE")
            .env_remove("CAVRA_APPROVAL_CHAIN_KEY")
            .env_remove("CAVRA_APPROVAL_CHAIN_KEY_SECRET")
            .envs(cavra_e2e::emulator::child_env());
        if let Some(key) = self.key {
            command.env("CAVRA_APPROVAL_CHAIN_KEY", key);
        }
        command.output().expect("run cavra")
    }

    fn approval(&self, args: &[&str]) -> Output {
        let mut all = vec!["approval"];
        all.extend_from_slice(args);
        all.extend(self.store.iter().map(String::as_str));
        self.run(&all)
    }

    fn ok(&self, args: &[&str]) -> Value {
        let out = self.approval(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Runs `args`, expects exit 1, returns stdout JSON and stderr.
    fn refused(&self, args: &[&str]) -> (Value, String) {
        let out = self.approval(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?} should exit 1: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        (
            serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn decision(&self) -> PathBuf {
        let out = self.run(&["evaluate", "write_file", "iam/admin-role.tf", "--json"]);
        assert!(out.status.success());
        let path = self.dir.path().join("decision.json");
        std::fs::write(&path, &out.stdout).unwrap();
        path
    }

    /// The stored record, read back through the CLI.
    fn get(&self, id: &str) -> Value {
        self.ok(&["get", id])
    }

    /// Overwrites the stored row with `record` (state column/attribute included), as someone
    /// with write access to the database would.
    fn tamper(&self, record: &Value) {
        let id = record["approval_id"].as_str().unwrap().to_owned();
        let state = record["state"].as_str().unwrap().to_owned();
        let text = serde_json::to_string(record).unwrap();
        match self.kind {
            Kind::Sqlite => {
                let conn = rusqlite::Connection::open(self.dir.path().join("a.db")).unwrap();
                let changed = conn
                    .execute(
                        "UPDATE approvals SET state = ?1, payload = ?2 WHERE approval_id = ?3",
                        rusqlite::params![state, text, id],
                    )
                    .unwrap();
                assert_eq!(changed, 1);
            }
            Kind::Json => {
                let path = self.dir.path().join("a.json");
                let mut file: Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                let records = match &mut file {
                    Value::Array(items) => items,
                    Value::Object(map) => map
                        .values_mut()
                        .find_map(Value::as_array_mut)
                        .expect("the store file holds an array of records"),
                    _ => panic!("unexpected store file shape"),
                };
                let slot = records
                    .iter_mut()
                    .find(|r| r["approval_id"] == id.as_str())
                    .unwrap();
                *slot = record.clone();
                std::fs::write(&path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
            }
            Kind::DynamoDb => block_on(async {
                let client = cavra_e2e::emulator::dynamodb_client();
                client
                    .update_item()
                    .table_name(&self.store[1])
                    .key("pk", AttributeValue::S(format!("approval#{id}")))
                    .update_expression("SET #s = :s, #r = :r")
                    .expression_attribute_names("#s", "state")
                    .expression_attribute_names("#r", "record")
                    .expression_attribute_values(":s", AttributeValue::S(state))
                    .expression_attribute_values(":r", AttributeValue::S(text))
                    .send()
                    .await
                    .unwrap();
            }),
        }
    }
}

fn tamper_flow(kind: Kind, key: Option<&'static str>) {
    let run = Run::new(kind, key);
    if kind == Kind::Sqlite {
        let migrated = run.ok(&["migrate"]);
        let key_file = PathBuf::from(migrated["chain_key_file"].as_str().unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the key file is private");
        }
        // A second migrate keeps the key.
        assert!(run.ok(&["migrate"]).get("chain_key_file").is_none());
    }
    let decision = run.decision();
    let decision = decision.to_str().unwrap();
    let created = run.ok(&["create", decision]);
    let id = created["approval_id"].as_str().unwrap().to_owned();
    let keyed = kind == Kind::Sqlite || key.is_some();
    assert_eq!(created.get("chain_mac").is_some(), keyed, "{created}");

    // 1. The pending row edited to approved.
    let mut forged = run.get(&id);
    forged["state"] = json!("approved");
    forged["decided_by"] = json!("mallory");
    run.tamper(&forged);
    let (report, stderr) = run.refused(&["check", &id, "--decision", decision]);
    assert!(
        stderr.contains("state disagrees with the history: stored approved, history pending"),
        "{kind:?}: {stderr}"
    );
    assert_eq!(report["allowed"], false);
    let (verification, stderr) = run.refused(&["verify-history", &id]);
    assert!(stderr.contains("state disagrees"), "{kind:?}: {stderr}");
    assert_eq!(verification["valid"], false);

    // 2. Restored and properly approved, then the expiry pushed out by a year.
    let mut restored = forged.clone();
    restored["state"] = json!("pending");
    restored.as_object_mut().unwrap().remove("decided_by");
    run.tamper(&restored);
    run.ok(&[
        "approve",
        &id,
        "--actor",
        "security-lead",
        "--reason",
        "reviewed",
    ]);
    let checked = run.ok(&["check", &id, "--decision", decision]);
    assert_eq!(checked["allowed"], true);
    assert_eq!(
        checked["integrity"],
        if keyed { "keyed" } else { "unkeyed" },
        "{checked}"
    );
    assert_eq!(checked["deciding"][0]["identity"], "unverified");
    let (_, stderr) = run.refused(&["check", &id, "--decision", decision, "--require-verified"]);
    assert!(
        stderr.contains("a deciding review is not verified: security-lead"),
        "{stderr}"
    );
    let mut extended = run.get(&id);
    extended["expires_at"] = json!("2099-01-01T00:00:00.000000+00:00");
    run.tamper(&extended);
    let (_, stderr) = run.refused(&["check", &id, "--decision", decision]);
    assert!(
        stderr.contains("expires_at disagrees with the history"),
        "{kind:?}: {stderr}"
    );

    // 3. With a key: a consistent forgery (fields restored, chain intact) still fails the seal
    //    once anything else changes, e.g. the approver group.
    if keyed {
        let mut regrouped = run.get(&id);
        regrouped["expires_at"] = checked["expires_at"].clone();
        regrouped["approver_group"] = json!("Developers");
        run.tamper(&regrouped);
        let (_, stderr) = run.refused(&["verify-history", &id]);
        assert!(
            stderr.contains("chain_mac does not match the record"),
            "{kind:?}: {stderr}"
        );
        let mut unsealed = regrouped.clone();
        unsealed.as_object_mut().unwrap().remove("chain_mac");
        run.tamper(&unsealed);
        let (_, stderr) = run.refused(&["check", &id, "--decision", decision]);
        assert!(
            stderr.contains("chain_mac is missing"),
            "{kind:?}: {stderr}"
        );
    }
}

#[test]
fn a_tampered_sqlite_row_is_refused_by_check_and_verify_history() {
    tamper_flow(Kind::Sqlite, None);
}

#[test]
fn a_tampered_json_store_record_is_refused_by_check_and_verify_history() {
    tamper_flow(Kind::Json, Some(KEY));
}

#[test]
fn an_unkeyed_json_store_record_edited_by_hand_is_still_refused_by_the_replay() {
    tamper_flow(Kind::Json, None);
}

#[test]
fn a_dynamodb_item_changed_with_update_item_is_refused_by_check_and_verify_history() {
    tamper_flow(Kind::DynamoDb, Some(KEY));
}

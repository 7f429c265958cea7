//! Issue F §7 end to end: the real `cavra` binary runs the seed flow through a deployed API
//! (`--api` / `CAVRA_API_URL`, `--token` / `CAVRA_TOKEN`) with no store of its own — against
//! `cavra serve` in OIDC mode on SQLite, and against the ten Lambda function binaries under
//! `cargo lambda watch` on a DynamoDB table of the AWS emulator (reached as function URLs
//! through `{function}` in the API URL). The server's identity rules apply: the token is the
//! identity, the requester cannot approve, only the requester spends the grant.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cavra_e2e::deployment::{ServeProcess, Setup};
use cavra_e2e::emulator;
use cavra_e2e::http_suite::{approver, developer, incident_commander};
use cavra_e2e::lambda::LambdaFunctions;
use serde_json::Value;

/// A `cavra` client of one deployment: a folder with decision files and token files, and an
/// approval database variable that points where nothing may appear.
struct Client {
    dir: tempfile::TempDir,
    api: String,
}

impl Client {
    fn new(api: String) -> Self {
        let client = Self {
            dir: tempfile::tempdir().unwrap(),
            api,
        };
        std::fs::create_dir_all(client.path("repo/.git")).unwrap();
        for (name, token) in [
            ("developer.jwt", developer()),
            ("approver.jwt", approver("approver@example.com")),
            ("cab.jwt", incident_commander()),
        ] {
            std::fs::write(client.path(name), token).unwrap();
        }
        client
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// `cavra args…` with `CAVRA_API_URL` set and the token of `who` (a token file name) in
    /// `CAVRA_TOKEN`, or none.
    fn command(&self, args: &[&str], who: Option<&str>) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cavra"));
        command
            .args(args)
            .current_dir(self.path("repo"))
            .env("CAVRA_API_URL", &self.api)
            // Were a verb to open a store, it would be this file: the flow asserts it never
            // appears.
            .env("CAVRA_APPROVAL_DB", self.path("must-not-exist.db"))
            .env_remove("CAVRA_APPROVAL_TABLE")
            .env_remove("CAVRA_APPROVAL_PROVIDER_CONFIG")
            .env_remove("CAVRA_PUBLIC_CONSOLE_URL")
            .env_remove("CAVRA_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(who) = who {
            command.env("CAVRA_TOKEN", self.path(who));
        }
        command
    }

    fn run(&self, args: &[&str], who: Option<&str>) -> Output {
        self.command(args, who).output().unwrap()
    }

    /// Runs and expects exit 0, returning the JSON printed.
    fn ok(&self, args: &[&str], who: Option<&str>) -> Value {
        let out = self.run(args, who);
        assert_eq!(code(&out), 0, "cavra {args:?}: {}", stderr(&out));
        json_of(&out)
    }

    /// Runs and expects `exit`, with `needle` in the error.
    fn refused(&self, args: &[&str], who: Option<&str>, exit: i32, needle: &str) {
        let out = self.run(args, who);
        assert_eq!(code(&out), exit, "cavra {args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(needle),
            "cavra {args:?}: expected {needle:?} in {}",
            stderr(&out)
        );
    }

    /// `cavra evaluate … --json` into `name`; returns the decision.
    fn evaluate(&self, name: &str, args: &[&str]) -> Value {
        let mut full = vec!["evaluate"];
        full.extend_from_slice(args);
        full.push("--json");
        let out = self.run(&full, None);
        assert!(matches!(code(&out), 0 | 1), "{}", stderr(&out));
        std::fs::write(self.path(name), &out.stdout).unwrap();
        json_of(&out)
    }

    fn create(&self, decision: &str) -> String {
        let created = self.ok(
            &["approval", "create", &self.file(decision)],
            Some("developer.jwt"),
        );
        assert_eq!(created["state"], "pending", "{created}");
        created["approval_id"].as_str().unwrap().to_owned()
    }
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// Kills the child on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The id of the one pending request for `target` (waiting for it to appear).
fn pending_for(client: &Client, target: &str) -> String {
    let start = Instant::now();
    loop {
        let page = client.ok(
            &["approval", "list", "--state", "pending", "--limit", "500"],
            Some("developer.jwt"),
        );
        if let Some(record) = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["decision"]["target"] == target)
        {
            return record["approval_id"].as_str().unwrap().to_owned();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no pending request for {target} appeared"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `cavra gate` and `cavra hook claude-code` with `CAVRA_API_URL`: the agent's requests,
/// waits and consumes go through the API with its token.
fn gate_and_hook_through_the_api(client: &Client, a: &str, b: &str) {
    // gate: waits for another process's approval, then writes exactly the approved content.
    let gate = Reaped(
        client
            .command(
                &[
                    "gate",
                    "--timeout",
                    "60s",
                    "--write",
                    "security/gated.rego",
                    "--content",
                    a,
                ],
                Some("developer.jwt"),
            )
            .spawn()
            .unwrap(),
    );
    let id = pending_for(client, "security/gated.rego");
    assert!(!client.path("repo/security/gated.rego").exists());
    client.ok(
        &["approval", "approve", &id, "--reason", "gate reviewed"],
        Some("approver.jwt"),
    );
    let mut gate = gate;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = gate.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the gate did not finish"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        std::fs::read(client.path("repo/security/gated.rego")).unwrap(),
        std::fs::read(a).unwrap()
    );
    let spent = client.ok(&["approval", "get", &id], Some("developer.jwt"));
    assert_eq!(spent["state"], "consumed", "{spent}");

    // hook: pending → deny naming the request; approved → allow once; the next identical
    // call is a new request.
    let event = serde_json::json!({
        "session_id": "claude-remote",
        "transcript_path": client.file("transcript.jsonl"),
        "cwd": client.file("repo"),
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": "Write",
        "tool_input": {
            "file_path": client.file("repo/security/hooked.rego"),
            "content": std::fs::read_to_string(b).unwrap(),
        },
        "tool_use_id": "toolu_remote",
    })
    .to_string();
    let hook = || {
        use std::io::Write as _;
        let mut child = client
            .command(
                &["hook", "claude-code", "--wait", "0s"],
                Some("developer.jwt"),
            )
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(event.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        json_of(&out)["hookSpecificOutput"].clone()
    };
    let pending = hook();
    assert_eq!(pending["permissionDecision"], "deny", "{pending}");
    let id = pending_for(client, "security/hooked.rego");
    assert!(
        pending["permissionDecisionReason"]
            .as_str()
            .unwrap()
            .contains(&id),
        "{pending}"
    );
    assert_eq!(
        hook()["permissionDecisionReason"],
        pending["permissionDecisionReason"],
        "a retry finds the same request"
    );
    client.ok(
        &["approval", "approve", &id, "--reason", "hook reviewed"],
        Some("approver.jwt"),
    );
    let allowed = hook();
    assert_eq!(allowed["permissionDecision"], "allow", "{allowed}");
    assert_eq!(
        client.ok(&["approval", "get", &id], Some("developer.jwt"))["state"],
        "consumed"
    );
    let next = hook();
    assert_eq!(next["permissionDecision"], "deny", "{next}");
    assert!(
        !next["permissionDecisionReason"]
            .as_str()
            .unwrap()
            .contains(&id),
        "a spent grant is not reused: {next}"
    );
}

/// The seed flow, with the agent's binding and the server's identity rules, through `api`.
fn remote_seed_flow(api: String, label: &str) {
    let client = Client::new(api);
    std::fs::write(client.path("a.rego"), "package admin\nallow := false\n").unwrap();
    std::fs::write(client.path("b.rego"), "package admin\nallow := true\n").unwrap();
    let (a, b) = (client.file("a.rego"), client.file("b.rego"));
    let decision = client.evaluate(
        "decision.json",
        &["write_file", "security/admin-policy.rego", "--content", &a],
    );
    assert_eq!(decision["decision"], "require_approval");
    let file = client.file("decision.json");

    // Without a token the OIDC server refuses, and says what is missing.
    client.refused(&["approval", "create", &file], None, 1, "pass --token");

    // create → list → get, as the developer.
    let created = client.ok(&["approval", "create", &file], Some("developer.jwt"));
    assert_eq!(created["state"], "pending");
    assert_eq!(created["approver_group"], "Platform Security");
    assert_eq!(created["requested_by"], "developer@example.com");
    let id = created["approval_id"].as_str().unwrap().to_owned();
    let again = client.ok(&["approval", "create", &file], Some("developer.jwt"));
    assert_eq!(again["approval_id"], id.as_str(), "create is idempotent");
    let page = client.ok(
        &[
            "approval",
            "list",
            "--state",
            "pending",
            "--approver-group",
            "Platform Security",
        ],
        Some("developer.jwt"),
    );
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["approval_id"] == id.as_str()),
        "{page}"
    );
    assert_eq!(
        client.ok(&["approval", "get", &id], Some("developer.jwt"))["state"],
        "pending"
    );

    // The requester cannot approve its own request; a claimed --actor changes nothing.
    client.refused(
        &[
            "approval",
            "approve",
            &id,
            "--actor",
            "approver@example.com",
            "--reason",
            "mine",
        ],
        Some("developer.jwt"),
        1,
        "HTTP 403",
    );
    // Local identity files are refused: the token is the identity.
    client.refused(
        &[
            "approval",
            "approve",
            &id,
            "--reason",
            "x",
            "--actor-claims",
            &client.file("developer.jwt"),
        ],
        Some("approver.jwt"),
        2,
        "the identity is the --token",
    );
    client.refused(
        &["approval", "check", &id, "--decision", &file],
        Some("developer.jwt"),
        1,
        "approval is pending",
    );
    client.refused(
        &["approval", "wait", &id, "--timeout", "1s"],
        Some("developer.jwt"),
        4,
        "still pending",
    );

    // wait (held on the server) wakes when another process approves.
    let waiter = Reaped(
        client
            .command(
                &["approval", "wait", &id, "--timeout", "60s"],
                Some("developer.jwt"),
            )
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(500));
    let approved = client.ok(
        &[
            "approval",
            "approve",
            &id,
            "--reason",
            "Scoped policy change reviewed",
            "--external-ref",
            "CHG-123",
        ],
        Some("approver.jwt"),
    );
    let decided_at = Instant::now();
    assert_eq!(approved["state"], "approved", "{approved}");
    assert_eq!(approved["decided_by"], "approver@example.com");
    let mut waiter = waiter;
    let status = loop {
        if let Some(status) = waiter.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            decided_at.elapsed() < Duration::from_secs(30),
            "remote wait did not wake"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    println!(
        "{label}: remote approval wait woke {} ms after the approve command returned",
        decided_at.elapsed().as_millis()
    );
    assert_eq!(status.code(), Some(0));

    // check (read-only) passes, with verified deciders; the record replays.
    let report = client.ok(
        &[
            "approval",
            "check",
            &id,
            "--decision",
            &file,
            "--require-verified",
        ],
        Some("developer.jwt"),
    );
    assert_eq!(report["allowed"], true, "{report}");
    let history = client.ok(&["approval", "verify-history", &id], Some("developer.jwt"));
    assert_eq!(history["valid"], true, "{history}");

    // consume: other content refused, another person refused, the requester spends it once.
    let consume = |content: &str, who: &str| {
        client.run(
            &[
                "approval",
                "consume",
                &id,
                "--decision",
                &file,
                "--content",
                content,
            ],
            Some(who),
        )
    };
    let wrong = consume(&b, "developer.jwt");
    assert_eq!(code(&wrong), 1);
    assert!(
        stderr(&wrong).contains("content differs"),
        "{}",
        stderr(&wrong)
    );
    let stranger = consume(&a, "approver.jwt");
    assert_eq!(code(&stranger), 1);
    assert!(
        stderr(&stranger).contains("only the requester can use this approval"),
        "{}",
        stderr(&stranger)
    );
    let spent = consume(&a, "developer.jwt");
    assert_eq!(code(&spent), 0, "{}", stderr(&spent));
    assert_eq!(json_of(&spent)["state"], "consumed");
    let twice = consume(&a, "developer.jwt");
    assert_eq!(code(&twice), 1);
    assert!(
        stderr(&twice).contains("approval already used"),
        "{}",
        stderr(&twice)
    );
    client.refused(
        &["approval", "check", &id, "--decision", &file],
        Some("developer.jwt"),
        1,
        "consumed",
    );

    // attach-decision carries the outcome.
    let attached = client.ok(
        &["approval", "attach-decision", &id, &file],
        Some("developer.jwt"),
    );
    assert_eq!(
        attached["approval"]["approval_id"],
        id.as_str(),
        "{attached}"
    );

    // deny: wait exits 1.
    client.evaluate(
        "deny.json",
        &["write_file", "security/other.rego", "--content", &b],
    );
    let denied_id = client.create("deny.json");
    let denied = client.ok(
        &["approval", "deny", &denied_id, "--reason", "Too broad"],
        Some("approver.jwt"),
    );
    assert_eq!(denied["state"], "denied");
    client.refused(
        &["approval", "wait", &denied_id, "--timeout", "5s"],
        Some("developer.jwt"),
        1,
        "denied",
    );

    // expire by an approver.
    client.evaluate(
        "expire.json",
        &["write_file", "security/third.rego", "--content", &a],
    );
    let expire_id = client.create("expire.json");
    let expired = client.ok(&["approval", "expire", &expire_id], Some("approver.jwt"));
    assert_eq!(expired["state"], "expired");

    // break-glass on a blocked action, by the Change Advisory Board.
    let blocked = client.evaluate(
        "blocked.json",
        &[
            "write_file",
            ".github/workflows/deploy.yml",
            "--content",
            &a,
        ],
    );
    assert_eq!(blocked["decision"], "block", "{blocked}");
    let glass = client.ok(
        &[
            "approval",
            "break-glass",
            &client.file("blocked.json"),
            "--reason",
            "Production recovery",
            "--external-ref",
            "INC-777",
        ],
        Some("cab.jwt"),
    );
    assert_eq!(glass["state"], "break_glass", "{glass}");
    assert_eq!(glass["decided_by"], "cab@example.com");

    // Verbs with no route say so; a store-only command refuses --api.
    client.refused(
        &["approval", "sweep"],
        Some("approver.jwt"),
        2,
        "does not work through --api",
    );
    gate_and_hook_through_the_api(&client, &a, &b);
    // A malformed id never reaches the server.
    client.refused(
        &["approval", "get", "../break-glass"],
        Some("developer.jwt"),
        2,
        "",
    );

    assert!(
        !client.path("must-not-exist.db").exists(),
        "the remote CLI opened a store"
    );
    assert!(
        !client.path("repo/.cavra").exists(),
        "the remote CLI wrote a store"
    );
}

#[test]
fn the_seed_flow_through_cavra_serve_in_oidc_mode() {
    let server = ServeProcess::start(Path::new(env!("CARGO_BIN_EXE_cavra")), &Setup::suite());
    remote_seed_flow(server.base.clone(), "cavra serve (SQLite)");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_flow_through_the_lambda_functions_on_dynamodb() {
    let client = emulator::dynamodb_client();
    let table = emulator::fresh_table(&client, "remote").await;
    let functions = LambdaFunctions::start(&Setup::suite(), &emulator::table_env(&table), 1);
    let api = format!("{}/lambda-url/{{function}}", functions.base);
    tokio::task::spawn_blocking(move || remote_seed_flow(api, "Lambda functions (DynamoDB)"))
        .await
        .unwrap();
    drop(functions);
}

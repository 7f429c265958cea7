//! Issue F end to end with the real `cavra` binary on a real SQLite file: approvals bound to the
//! exact payload and spent once (`approval consume`), `approval wait`, `cavra gate` (with a
//! second process deciding, over the CLI and over `cavra serve`'s HTTP API), and the Claude
//! Code hook on fixtures written from the documented PreToolUse schema.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let env = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(env.path("bin")).unwrap();
        std::fs::create_dir_all(env.path("repo/.git")).unwrap();
        // Stand-ins for real tools: each run appends its argv to runs.log.
        for tool in ["deploy-tool", "terraform"] {
            let script = env.path(&format!("bin/{tool}"));
            std::fs::write(
                &script,
                format!(
                    "#!/bin/sh\necho \"{tool} $*\" >> \"{}\"\n",
                    env.path("runs.log").display()
                ),
            )
            .unwrap();
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        env
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn db(&self) -> String {
        self.path("approvals.db").display().to_string()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cavra"));
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        command
            .args(args)
            .current_dir(self.path("repo"))
            .env("PATH", path)
            .env("CAVRA_APPROVAL_DB", self.db())
            .env_remove("CAVRA_APPROVAL_TABLE")
            .env_remove("CAVRA_APPROVAL_PROVIDER_CONFIG")
            .env_remove("CAVRA_PUBLIC_CONSOLE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self.command(args).stdin(Stdio::piped()).spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn runs(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("runs.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Waits until a pending request exists and returns its id.
    fn pending_id(&self) -> String {
        let start = Instant::now();
        loop {
            let out = self.run(&["approval", "list", "--state", "pending"]);
            let page: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            if let Some(id) = page["items"][0]["approval_id"].as_str() {
                return id.to_owned();
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no pending request appeared"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
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

/// Kills the child on drop (a failing test never leaves a process behind).
struct Reaped(Option<Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Reaped {
    fn new(child: Child) -> Self {
        Self(Some(child))
    }

    fn finish(mut self, within: Duration) -> Output {
        let start = Instant::now();
        let child = self.0.as_mut().unwrap();
        while child.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < within, "the process did not finish");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.0.take().unwrap().wait_with_output().unwrap()
    }
}

fn approve(env: &Env, id: &str) {
    let out = env.run(&[
        "approval", "approve", id, "--actor", "iam-lead", "--reason", "reviewed",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn content_a_is_consumed_once_and_content_b_is_refused_naming_the_mismatch() {
    let env = Env::new();
    std::fs::write(env.path("a.tf"), "resource \"aws_iam_role\" \"admin\" {}\n").unwrap();
    std::fs::write(
        env.path("b.tf"),
        "resource \"aws_iam_role\" \"admin\" { evil }\n",
    )
    .unwrap();
    let a = env.path("a.tf").display().to_string();
    let b = env.path("b.tf").display().to_string();
    let out = env.run(&[
        "evaluate",
        "write_file",
        "iam/admin-role.tf",
        "--content",
        &a,
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let decision = json_of(&out);
    assert_eq!(decision["decision"], "require_approval");
    assert_eq!(decision["action"]["content_bytes"], 35);
    assert!(
        decision["action"]["preview"]
            .as_str()
            .unwrap()
            .contains("aws_iam_role")
    );
    let file = env.path("decision.json").display().to_string();
    std::fs::write(&file, out.stdout).unwrap();
    let created = json_of(&env.run(&["approval", "create", &file]));
    let id = created["approval_id"].as_str().unwrap().to_owned();

    let early = env.run(&[
        "approval",
        "consume",
        &id,
        "--decision",
        &file,
        "--content",
        &a,
    ]);
    assert_eq!(code(&early), 1);
    assert!(
        stderr(&early).contains("approval is pending, not approved"),
        "{}",
        stderr(&early)
    );

    approve(&env, &id);
    let wrong = env.run(&[
        "approval",
        "consume",
        &id,
        "--decision",
        &file,
        "--content",
        &b,
    ]);
    assert_eq!(code(&wrong), 1);
    assert!(
        stderr(&wrong).contains("content differs from the approved content"),
        "{}",
        stderr(&wrong)
    );
    let right = env.run(&[
        "approval",
        "consume",
        &id,
        "--decision",
        &file,
        "--content",
        &a,
    ]);
    assert_eq!(code(&right), 0, "{}", stderr(&right));
    assert_eq!(json_of(&right)["state"], "consumed");
    let again = env.run(&[
        "approval",
        "consume",
        &id,
        "--decision",
        &file,
        "--content",
        &a,
    ]);
    assert_eq!(code(&again), 1);
    assert!(
        stderr(&again).contains("approval already used"),
        "{}",
        stderr(&again)
    );
    // check stays read-only and now says no
    let check = env.run(&["approval", "check", &id, "--decision", &file]);
    assert_eq!(code(&check), 1);
    let history = env.run(&["approval", "verify-history", &id]);
    assert_eq!(code(&history), 0, "{}", stderr(&history));
}

#[test]
fn mcp_tool_arguments_bind_through_evaluate_and_consume() {
    let env = Env::new();
    let args = r#"{"repo":"payments/api","title":"rotate keys"}"#;
    let pack = env.path("agent-pack.yaml").display().to_string();
    std::fs::write(
        &pack,
        "name: agent-pack\nmcp:\n  approval_servers: [github]\n",
    )
    .unwrap();
    let out = env.run(&[
        "evaluate",
        "mcp_tool_call",
        "github",
        "--tool",
        "create_issue",
        "--tool-args",
        args,
        "--policy-pack",
        &pack,
        "--json",
    ]);
    let decision = json_of(&out);
    assert_eq!(decision["action"]["tool"], "create_issue");
    assert_eq!(decision["decision"], "require_approval");
    let file = env.path("decision.json").display().to_string();
    std::fs::write(&file, &out.stdout).unwrap();
    let id = json_of(&env.run(&["approval", "create", &file]))["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    approve(&env, &id);
    let other = r#"{"repo":"payments/api","title":"delete everything"}"#;
    let wrong = env.run(&[
        "approval",
        "consume",
        &id,
        "--decision",
        &file,
        "--tool-args",
        other,
    ]);
    assert_eq!(code(&wrong), 1);
    assert!(
        stderr(&wrong).contains("tool arguments differs"),
        "{}",
        stderr(&wrong)
    );
    let reordered = r#"{ "title": "rotate keys", "repo": "payments/api" }"#;
    let right = env.run(&[
        "approval",
        "consume",
        &id,
        "--decision",
        &file,
        "--tool-args",
        reordered,
    ]);
    assert_eq!(code(&right), 0, "{}", stderr(&right));
    let dup = env.run(&[
        "evaluate",
        "mcp_tool_call",
        "github",
        "--tool-args",
        r#"{"a":1,"a":2}"#,
        "--json",
    ]);
    assert_eq!(code(&dup), 2, "duplicate keys are refused");
}

#[test]
fn wait_exits_0_when_approved_1_when_denied_and_4_on_timeout() {
    let env = Env::new();
    let out = env.run(&["evaluate", "write_file", "iam/x.tf", "--json"]);
    let file = env.path("d.json").display().to_string();
    std::fs::write(&file, out.stdout).unwrap();
    let id = json_of(&env.run(&["approval", "create", &file]))["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let timeout = env.run(&["approval", "wait", &id, "--timeout", "300ms"]);
    assert_eq!(code(&timeout), 4, "{}", stderr(&timeout));
    let waiter = Reaped::new(
        env.command(&["approval", "wait", &id, "--timeout", "60s"])
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(300));
    let decided = Instant::now();
    approve(&env, &id);
    let out = waiter.finish(Duration::from_secs(30));
    println!(
        "approval wait woke {:?} after the approve command returned",
        decided.elapsed()
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json_of(&out)["state"], "approved");

    let out = env.run(&["evaluate", "write_file", "iam/y.tf", "--json"]);
    std::fs::write(&file, out.stdout).unwrap();
    let id = json_of(&env.run(&["approval", "create", &file]))["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = env.run(&[
        "approval",
        "deny",
        &id,
        "--actor",
        "iam-lead",
        "--reason",
        "too broad",
    ]);
    assert_eq!(code(&out), 0);
    let out = env.run(&["approval", "wait", &id, "--timeout", "5s"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("is denied by iam-lead: too broad"),
        "{}",
        stderr(&out)
    );
    let bad = env.run(&["approval", "wait", &id, "--timeout", "soon"]);
    assert_eq!(code(&bad), 2);
}

#[test]
fn the_gate_runs_allowed_refuses_blocked_and_runs_approved_commands_exactly_once() {
    let env = Env::new();
    // allow: a read-only command runs at once
    let out = env.run(&["gate", "--", "ls"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // block: never runs, names the rule
    let out = env.run(&["gate", "--", "terraform", "apply", "-auto-approve"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("blocked by commands.block"),
        "{}",
        stderr(&out)
    );
    assert!(env.runs().is_empty(), "a blocked command does not run");

    // require approval: waits, another process approves, runs exactly once
    let gate = Reaped::new(
        env.command(&[
            "gate",
            "--timeout",
            "60s",
            "--",
            "deploy-tool",
            "--env",
            "prod",
        ])
        .spawn()
        .unwrap(),
    );
    let id = env.pending_id();
    assert!(env.runs().is_empty(), "nothing runs before the approval");
    approve(&env, &id);
    let out = gate.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("request {id}")),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.runs(), vec!["deploy-tool --env prod"]);
    let record = json_of(&env.run(&["approval", "get", &id]));
    assert_eq!(record["state"], "consumed");

    // denial: exits 1 without running
    let gate = Reaped::new(
        env.command(&[
            "gate",
            "--timeout",
            "60s",
            "--",
            "deploy-tool",
            "--env",
            "staging",
        ])
        .spawn()
        .unwrap(),
    );
    let id = env.pending_id();
    let out = env.run(&[
        "approval",
        "deny",
        &id,
        "--actor",
        "owner",
        "--reason",
        "not today",
    ]);
    assert_eq!(code(&out), 0);
    let out = gate.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("not today"), "{}", stderr(&out));
    assert_eq!(env.runs().len(), 1, "a denied command does not run");
    // a retry of a denied action gets the same denial, and no new request
    let out = env.run(&[
        "gate",
        "--timeout",
        "1s",
        "--",
        "deploy-tool",
        "--env",
        "staging",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));

    // timeout: exits 4, and running it again waits on the same request
    let out = env.run(&[
        "gate",
        "--timeout",
        "300ms",
        "--",
        "deploy-tool",
        "rollback",
    ]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let first = env.pending_id();
    let out = env.run(&[
        "gate",
        "--timeout",
        "300ms",
        "--",
        "deploy-tool",
        "rollback",
    ]);
    assert_eq!(code(&out), 4);
    assert!(
        stderr(&out).contains(&format!("waiting on request {first}")),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.runs().len(), 1);
}

#[test]
fn the_gate_writes_exactly_the_approved_content_and_refuses_an_ended_grant() {
    let env = Env::new();
    std::fs::write(
        env.path("routing.json"),
        json!([{"rule_id_prefix": "filesystem.write", "approver_group": "IAM", "grant_ttl": "1s"}])
            .to_string(),
    )
    .unwrap();
    std::fs::write(env.path("new.tf"), "role = \"admin\"\n").unwrap();
    let content = env.path("new.tf").display().to_string();
    let routing = env.path("routing.json").display().to_string();
    let gate = Reaped::new(
        env.command(&[
            "gate",
            "--routing-file",
            &routing,
            "--timeout",
            "60s",
            "--write",
            "iam/admin.tf",
            "--content",
            &content,
        ])
        .spawn()
        .unwrap(),
    );
    let id = env.pending_id();
    assert!(!env.path("repo/iam/admin.tf").exists());
    approve(&env, &id);
    let out = gate.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(env.path("repo/iam/admin.tf")).unwrap(),
        "role = \"admin\"\n"
    );

    // A grant past grant_ttl: approved, left unused past 1 s, then the gate refuses to use it
    // (it asks again instead, and times out here).
    let args = [
        "gate",
        "--routing-file",
        &routing,
        "--timeout",
        "300ms",
        "--write",
        "iam/other.tf",
        "--content",
        &content,
    ];
    let out = env.run(&args);
    assert_eq!(code(&out), 4);
    let id = env.pending_id();
    approve(&env, &id);
    std::thread::sleep(Duration::from_millis(1_200));
    let out = env.run(&args);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        !env.path("repo/iam/other.tf").exists(),
        "an ended grant writes nothing"
    );
    let again = env.pending_id();
    assert_ne!(again, id, "a new request is made for the ended grant");
}

/// `cavra serve` on the same SQLite file, for deciding over HTTP.
fn serve(env: &Env) -> (Reaped, String) {
    let mut child = env
        .command(&["serve", "--port", "0", "--sqlite", &env.db()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .trim_end_matches('/')
        .to_owned();
    (Reaped::new(child), base)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gate_runs_once_after_an_approval_over_http_and_wait_wakes_at_once() {
    let env = Env::new();
    let (_server, base) = serve(&env);
    let client = reqwest::Client::new();
    let gate = Reaped::new(
        env.command(&["gate", "--timeout", "60s", "--", "deploy-tool", "migrate"])
            .spawn()
            .unwrap(),
    );
    let id = env.pending_id();
    // A long-poll started before the decision answers as soon as it is stored.
    let waiting = {
        let client = client.clone();
        let url = format!("{base}/approvals/{id}?wait=20");
        tokio::spawn(async move {
            let response = client.get(url).send().await.unwrap();
            (Instant::now(), response.json::<Value>().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let decided = Instant::now();
    let response = client
        .post(format!("{base}/approvals/{id}/approve"))
        .header("content-type", "application/json")
        .json(&json!({"actor": "owner", "reason": "ok"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (woke, record) = waiting.await.unwrap();
    println!(
        "GET ?wait woke {:?} after the approve was sent",
        woke.duration_since(decided)
    );
    assert_eq!(record["state"], "approved");
    assert!(woke.duration_since(decided) < Duration::from_secs(5));
    let out = tokio::task::spawn_blocking(move || gate.finish(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(env.runs(), vec!["deploy-tool migrate"]);
    // Over HTTP a consume of the spent grant is 409 `approval already used`.
    let record: Value = client
        .get(format!("{base}/approvals/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let response = client
        .post(format!("{base}/approvals/{id}/consume"))
        .header("content-type", "application/json")
        .json(&json!({"decision": record["decision"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["detail"], "approval already used");
    // ?wait is bounded
    let response = client
        .get(format!("{base}/approvals/{id}?wait=26"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
}

// ------------------------------------------------------------------ the Claude Code hook

fn pre_tool_use(env: &Env, tool: &str, input: Value) -> String {
    json!({
        "session_id": "claude-session-1",
        "transcript_path": env.path("transcript.jsonl").display().to_string(),
        "cwd": env.path("repo").display().to_string(),
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": tool,
        "tool_input": input,
        "tool_use_id": "toolu_01ABC",
    })
    .to_string()
}

fn hook(env: &Env, event: &str, extra: &[&str]) -> Value {
    let mut args = vec!["hook", "claude-code", "--wait", "0s"];
    args.extend_from_slice(extra);
    let out = env.run_with_stdin(&args, event);
    assert_eq!(code(&out), 0, "the hook always answers: {}", stderr(&out));
    let answer = json_of(&out);
    assert_eq!(answer["hookSpecificOutput"]["hookEventName"], "PreToolUse");
    answer["hookSpecificOutput"].clone()
}

fn decision_of(answer: &Value) -> (&str, &str) {
    (
        answer["permissionDecision"].as_str().unwrap(),
        answer["permissionDecisionReason"].as_str().unwrap(),
    )
}

#[test]
fn the_hook_allows_denies_asks_and_follows_the_approval_path() {
    let env = Env::new();
    let repo = env.path("repo");
    let abs = |p: &str| repo.join(p).display().to_string();
    std::fs::create_dir_all(repo.join("iam")).unwrap();
    std::fs::write(repo.join("iam/role.tf"), "name = \"reader\"\nlevel = 1\n").unwrap();

    // Bash: read-only allow; blocked deny
    let allow = hook(
        &env,
        &pre_tool_use(
            &env,
            "Bash",
            json!({"command": "git status", "description": "status"}),
        ),
        &[],
    );
    assert_eq!(decision_of(&allow).0, "allow");
    let deny = hook(
        &env,
        &pre_tool_use(
            &env,
            "Bash",
            json!({"command": "terraform apply -auto-approve"}),
        ),
        &[],
    );
    let (decision, reason) = decision_of(&deny);
    assert_eq!(decision, "deny");
    assert!(reason.contains("blocked by commands.block"), "{reason}");
    let hidden = hook(
        &env,
        &pre_tool_use(&env, "Bash", json!({"command": "ls; terraform apply"})),
        &[],
    );
    assert_eq!(decision_of(&hidden).0, "deny");

    // Write to iam/: pending → deny naming the request; with --on-pending ask → ask
    let write = pre_tool_use(
        &env,
        "Write",
        json!({"file_path": abs("iam/new.tf"), "content": "x = 1\n"}),
    );
    let first = hook(&env, &write, &[]);
    let (decision, reason) = decision_of(&first);
    assert_eq!(decision, "deny");
    assert!(reason.contains("is pending for IAM"), "{reason}");
    let id = reason
        .split_whitespace()
        .find(|w| w.starts_with("apr_"))
        .unwrap()
        .to_owned();
    let ask = hook(&env, &write, &["--on-pending", "ask"]);
    assert_eq!(decision_of(&ask).0, "ask");
    assert!(
        decision_of(&ask).1.contains(&id),
        "a retry finds the same request"
    );
    approve(&env, &id);
    let allowed = hook(&env, &write, &[]);
    let (decision, reason) = decision_of(&allowed);
    assert_eq!(decision, "allow", "{reason}");
    assert!(
        reason.contains(&format!("approved by iam-lead ({id})")),
        "{reason}"
    );
    assert_eq!(
        json_of(&env.run(&["approval", "get", &id]))["state"],
        "consumed"
    );
    // The same call again needs a new approval (the grant was spent once).
    let again = hook(&env, &write, &[]);
    assert_eq!(decision_of(&again).0, "deny");
    assert!(!decision_of(&again).1.contains(&id));
    // A different content is a different action: its own request.
    let other = hook(
        &env,
        &pre_tool_use(
            &env,
            "Write",
            json!({"file_path": abs("iam/new.tf"), "content": "x = 2\n"}),
        ),
        &[],
    );
    assert!(!decision_of(&other).1.contains(&id));

    // Edit and MultiEdit: the resulting content is what is bound and shown
    let edit = pre_tool_use(
        &env,
        "Edit",
        json!({"file_path": abs("iam/role.tf"), "old_string": "reader", "new_string": "admin"}),
    );
    let answer = hook(&env, &edit, &[]);
    let (decision, reason) = decision_of(&answer);
    assert_eq!(decision, "deny");
    let edit_id = reason
        .split_whitespace()
        .find(|w| w.starts_with("apr_"))
        .unwrap()
        .to_owned();
    let record = json_of(&env.run(&["approval", "get", &edit_id]));
    let diff = record["decision"]["action"]["diff"].as_str().unwrap();
    assert!(
        diff.contains("-name = \"reader\"") && diff.contains("+name = \"admin\""),
        "{diff}"
    );
    let multi = pre_tool_use(
        &env,
        "MultiEdit",
        json!({"file_path": abs("iam/role.tf"), "edits": [
            {"old_string": "reader", "new_string": "admin"},
            {"old_string": "level = 1", "new_string": "level = 9"}
        ]}),
    );
    let answer = hook(&env, &multi, &[]);
    let multi_id = decision_of(&answer)
        .1
        .split_whitespace()
        .find(|w| w.starts_with("apr_"))
        .unwrap()
        .to_owned();
    assert_ne!(multi_id, edit_id);
    let record = json_of(&env.run(&["approval", "get", &multi_id]));
    assert!(
        record["decision"]["action"]["diff"]
            .as_str()
            .unwrap()
            .contains("+level = 9")
    );
    let missing = hook(
        &env,
        &pre_tool_use(
            &env,
            "Edit",
            json!({"file_path": abs("iam/role.tf"), "old_string": "nowhere", "new_string": "x"}),
        ),
        &[],
    );
    assert_eq!(
        decision_of(&missing).0,
        "deny",
        "an edit the tool cannot apply is not allowed"
    );

    // MCP: an untrusted server's tool needs approval; the approval binds the arguments
    let mcp = pre_tool_use(
        &env,
        "mcp__github__create_issue",
        json!({"repo": "payments/api", "title": "rotate"}),
    );
    let blocked = hook(&env, &mcp, &[]);
    assert!(
        decision_of(&blocked)
            .1
            .contains("mcp.server.trust.block_unknown"),
        "the baseline blocks unknown servers"
    );
    let pack = env.path("agent-pack.yaml").display().to_string();
    std::fs::write(
        &pack,
        "name: agent-pack\nmcp:\n  approval_servers: [github]\n",
    )
    .unwrap();
    let with_pack = ["--policy-pack", pack.as_str()];
    let answer = hook(&env, &mcp, &with_pack);
    let (decision, reason) = decision_of(&answer);
    assert_eq!(decision, "deny", "{reason}");
    assert!(reason.contains("pending for AI Governance"), "{reason}");
    let mcp_id = reason
        .split_whitespace()
        .find(|w| w.starts_with("apr_"))
        .unwrap()
        .to_owned();
    let record = json_of(&env.run(&["approval", "get", &mcp_id]));
    assert_eq!(record["decision"]["action"]["tool"], "create_issue");
    assert_eq!(record["decision"]["action"]["tool_args"]["title"], "rotate");
    approve(&env, &mcp_id);
    let changed = pre_tool_use(
        &env,
        "mcp__github__create_issue",
        json!({"repo": "payments/api", "title": "delete all"}),
    );
    let answer = hook(&env, &changed, &with_pack);
    assert!(
        !decision_of(&answer).1.contains(&mcp_id),
        "other arguments: another request"
    );
    let answer = hook(&env, &mcp, &with_pack);
    assert_eq!(decision_of(&answer).0, "allow", "{answer}");

    // Tools the gate has no opinion on get no output; broken input is a deny, never a pass
    let out = env.run_with_stdin(
        &["hook", "claude-code"],
        &pre_tool_use(&env, "TodoWrite", json!({})),
    );
    assert_eq!(code(&out), 0);
    assert!(out.stdout.is_empty());
    for broken in [
        "not json",
        r#"{"tool_name":"Bash","tool_input":{"command":1}}"#,
        r#"{"tool_name":"Bash","tool_name":"Read"}"#,
    ] {
        let out = env.run_with_stdin(&["hook", "claude-code"], broken);
        assert_eq!(code(&out), 0);
        assert_eq!(
            json_of(&out)["hookSpecificOutput"]["permissionDecision"],
            "deny",
            "{broken}"
        );
    }
}

#[test]
fn the_hook_waits_for_a_decision_made_meanwhile() {
    let env = Env::new();
    let repo = env.path("repo");
    let event = pre_tool_use(
        &env,
        "Write",
        json!({"file_path": repo.join("iam/ci-role.tf").display().to_string(), "content": "role = 1\n"}),
    );
    let mut child = env
        .command(&["hook", "claude-code", "--wait", "60s"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event.as_bytes())
        .unwrap();
    let hook = Reaped::new(child);
    let id = env.pending_id();
    let out = env.run(&[
        "approval",
        "approve",
        &id,
        "--actor",
        "platform-sec",
        "--reason",
        "ok",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = hook.finish(Duration::from_secs(30));
    let answer = json_of(&out);
    assert_eq!(
        answer["hookSpecificOutput"]["permissionDecision"], "allow",
        "{answer}"
    );
}

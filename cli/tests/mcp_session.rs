//! Issue F §6: `cavra mcp` driven by a real MCP client (rmcp over the child's stdio) on a real
//! SQLite file, with a second `cavra` process approving while `wait_for_approval` waits.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt as _};
use serde_json::{Value, json};

type Client = RunningService<RoleClient, ()>;

fn cavra(dir: &Path, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cavra"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("CAVRA_APPROVAL_DB")
        .env_remove("CAVRA_APPROVAL_TABLE")
        .env_remove("CAVRA_APPROVAL_PROVIDER_CONFIG")
        .env_remove("CAVRA_PUBLIC_CONSOLE_URL")
        .stdin(Stdio::null());
    command
}

/// The tool's text content, and whether it is an error result.
fn text(result: &CallToolResult) -> (String, bool) {
    let text = result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    (text, result.is_error == Some(true))
}

async fn call(client: &Client, tool: &'static str, args: Value) -> (String, bool) {
    let Value::Object(arguments) = args else {
        panic!("arguments must be an object");
    };
    let result = client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(arguments))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    text(&result)
}

/// A successful call's JSON result.
async fn ok(client: &Client, tool: &'static str, args: Value) -> Value {
    let (text, is_error) = call(client, tool, args).await;
    assert!(!is_error, "{tool} failed: {text}");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{tool} result is not JSON ({e}): {text}"))
}

/// A failed call's message.
async fn refused(client: &Client, tool: &'static str, args: Value) -> String {
    let (text, is_error) = call(client, tool, args).await;
    assert!(is_error, "{tool} should have failed: {text}");
    text
}

/// Whether the process `pid` has exited (gone, or a zombie waiting to be reaped).
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_client_requests_waits_and_consumes_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let repo: PathBuf = dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    let db = dir.path().join("approvals.db").display().to_string();

    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_cavra"));
    command
        .args(["mcp", "--sqlite", &db])
        .current_dir(&repo)
        .env_remove("CAVRA_APPROVAL_DB")
        .env_remove("CAVRA_APPROVAL_TABLE")
        .env_remove("CAVRA_APPROVAL_PROVIDER_CONFIG")
        .env_remove("CAVRA_PUBLIC_CONSOLE_URL");
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = transport.id().unwrap();
    let client: Client = ().serve(transport).await.unwrap();

    let info = client.peer_info().unwrap();
    let server = info.server_info.as_ref().unwrap();
    assert_eq!(server.name, "cavra");
    assert_eq!(server.version, env!("CARGO_PKG_VERSION"));
    assert!(
        info.instructions
            .as_deref()
            .is_some_and(|i| i.contains("consume_approval")),
        "{info:?}"
    );

    let mut tools: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|tool| tool.name.into_owned())
        .collect();
    tools.sort();
    assert_eq!(
        tools,
        [
            "consume_approval",
            "evaluate_action",
            "get_approval",
            "request_approval",
            "wait_for_approval"
        ]
    );

    // evaluate only: the decision, bound to the content
    let decision = ok(
        &client,
        "evaluate_action",
        json!({"action_type": "write_file", "target": "iam/admin-role.tf", "content": "A"}),
    )
    .await;
    assert_eq!(decision["decision"], "require_approval", "{decision}");
    assert!(decision["action_digest"].is_string(), "{decision}");
    assert!(decision["action"].is_object(), "{decision}");

    // request: a pending request, the same one on a retry
    let write_a =
        json!({"action_type": "write_file", "target": "iam/admin-role.tf", "content": "A"});
    let requested = ok(&client, "request_approval", write_a.clone()).await;
    assert_eq!(requested["state"], "pending", "{requested}");
    assert_eq!(requested["created"], true, "{requested}");
    let id = requested["approval_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("apr_"), "{id}");
    assert_eq!(requested["decision"]["decision"], "require_approval");
    let again = ok(&client, "request_approval", write_a).await;
    assert_eq!(again["approval_id"], id.as_str(), "{again}");
    assert_eq!(again["created"], false, "{again}");

    let record = ok(&client, "get_approval", json!({"approval_id": id})).await;
    assert_eq!(record["state"], "pending", "{record}");

    // nobody decided yet: the wait times out, still pending
    let waited = ok(
        &client,
        "wait_for_approval",
        json!({"approval_id": id, "timeout_seconds": 0.2}),
    )
    .await;
    assert_eq!(waited["timed_out"], true, "{waited}");
    assert_eq!(waited["state"], "pending", "{waited}");

    // another process approves while the wait is in flight
    let approver = {
        let repo = repo.clone();
        let (id, db) = (id.clone(), db.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            cavra(
                &repo,
                &[
                    "approval", "approve", &id, "--actor", "iam-lead", "--reason", "ok",
                    "--sqlite", &db,
                ],
            )
            .output()
            .unwrap()
        })
    };
    let started = Instant::now();
    let waited = ok(
        &client,
        "wait_for_approval",
        json!({"approval_id": id, "timeout_seconds": 60}),
    )
    .await;
    let approved = approver.join().unwrap();
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stderr)
    );
    assert_eq!(waited["state"], "approved", "{waited}");
    assert_eq!(waited["timed_out"], false, "{waited}");
    assert_eq!(waited["decided_by"], "iam-lead", "{waited}");
    assert_eq!(waited["decision_reason"], "ok", "{waited}");
    // It woke on the other process's approval, not before and not at its timeout.
    let woke = started.elapsed();
    assert!(
        woke >= Duration::from_millis(250) && woke < Duration::from_secs(30),
        "{woke:?}"
    );

    // consume: other content is refused, the approved content is spent once
    let wrong = refused(
        &client,
        "consume_approval",
        json!({"approval_id": id, "content": "B"}),
    )
    .await;
    assert!(
        wrong.contains("approval does not match the action")
            && wrong.contains("content differs from the approved content"),
        "{wrong}"
    );
    let spent = ok(
        &client,
        "consume_approval",
        json!({"approval_id": id, "content": "A"}),
    )
    .await;
    assert_eq!(spent["state"], "consumed", "{spent}");
    let twice = refused(
        &client,
        "consume_approval",
        json!({"approval_id": id, "content": "A"}),
    )
    .await;
    assert!(twice.contains("approval already used"), "{twice}");

    // allowed: no approval needed; blocked: an error naming the rule
    let allowed = ok(
        &client,
        "request_approval",
        json!({"action_type": "execute_command", "target": "ls -la"}),
    )
    .await;
    assert_eq!(allowed["approval_needed"], false, "{allowed}");
    assert_eq!(allowed["decision"]["decision"], "allow", "{allowed}");
    let blocked = refused(
        &client,
        "request_approval",
        json!({"action_type": "execute_command", "target": "terraform apply"}),
    )
    .await;
    assert!(blocked.contains("commands.block"), "{blocked}");

    // bad input is a tool error too, and the session goes on
    let unknown = refused(
        &client,
        "get_approval",
        json!({"approval_id": "apr_000000000000"}),
    )
    .await;
    assert!(unknown.contains("apr_000000000000"), "{unknown}");
    let bad = refused(
        &client,
        "evaluate_action",
        json!({"action_type": "launch_rocket", "target": "x"}),
    )
    .await;
    assert!(bad.contains("launch_rocket"), "{bad}");
    let too_long = refused(
        &client,
        "wait_for_approval",
        json!({"approval_id": id, "timeout_seconds": 601}),
    )
    .await;
    assert!(too_long.contains("timeout_seconds"), "{too_long}");

    // closing the session ends the server process
    client.cancel().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !exited(pid) {
        assert!(Instant::now() < deadline, "cavra mcp ({pid}) still runs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

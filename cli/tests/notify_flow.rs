//! CLI transcripts for notifications: `export-notifications` and `provider-requests` (original
//! §13 cases 17–18), `deliver` against loopback receivers (evidence file, history, exit 3),
//! automatic notifications from `CAVRA_APPROVAL_PROVIDER_CONFIG`, and the secret-leak check on
//! everything the CLI prints or writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cavra_test_receiver::Receiver;
use serde_json::{Value, json};

// ---- running the CLI ----------------------------------------------------------------------

struct Run {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Run {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            env: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, value: &Value) -> String {
        let path = self.path(name);
        std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
        path.display().to_string()
    }

    fn raw(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cavra"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("CAVRA_APPROVAL_DB")
            .env_remove("CAVRA_APPROVAL_PROVIDER_CONFIG")
            .env_remove("CAVRA_PUBLIC_CONSOLE_URL")
            .env("RUST_LOG", "trace");
        for (k, v) in &self.env {
            command.env(k, v);
        }
        command.output().expect("run cavra")
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.raw(args);
        assert!(
            out.status.success(),
            "cavra {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        out
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_slice(&self.ok(args).stdout).unwrap()
    }

    fn create(&self) -> Value {
        let decision = self.write(
            "decision.json",
            &json!({
                "decision_id": "dec_3f9a1c2b7d4e", "session_id": "local", "action_type": "write_file",
                "target": "iam/admin-role.tf", "rule_id": "filesystem.write.require_approval",
                "decision": "require_approval", "severity": "high",
                "reason": "Matched approval-required path policy: iam/**", "approver_group": "Platform Security"
            }),
        );
        self.json(&[
            "approval",
            "create",
            &decision,
            "--requested-by",
            "developer",
        ])
    }

    fn get(&self, id: &str) -> Value {
        self.json(&["approval", "get", id])
    }
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// `deliver` prints the result JSON, then one message line.
fn split_deliver(stdout: &[u8]) -> (Value, String) {
    let all = text(stdout);
    let (json_part, last) = all.trim_end().rsplit_once('\n').unwrap();
    (serde_json::from_str(json_part).unwrap(), last.to_owned())
}

fn events(record: &Value) -> Vec<&str> {
    record["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect()
}

// ---- cases 17 and 18 ----------------------------------------------------------------------

#[test]
fn case_17_exporting_all_providers_writes_five_payload_files() {
    let run = Run::new();
    let id = run.create()["approval_id"].as_str().unwrap().to_owned();
    let out = run.ok(&["approval", "export-notifications", &id]);
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "approval notification payloads exported .cavra/approvals/notifications"
    );
    assert_eq!(lines.len(), 6, "{stdout}");
    for (line, provider) in
        lines[1..]
            .iter()
            .zip(["jira", "servicenow", "slack", "teams", "webhook"])
    {
        let expected = format!(".cavra/approvals/notifications/{provider}-approval-payload.json");
        assert_eq!(*line, expected);
        let content = std::fs::read_to_string(run.path(&expected)).unwrap();
        assert!(content.ends_with("}\n"));
        assert!(content.starts_with("{\n  \""), "indented two spaces");
    }
    let slack: Value = serde_json::from_str(
        &std::fs::read_to_string(
            run.path(".cavra/approvals/notifications/slack-approval-payload.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(slack["text"], "CAVRA approval pending for dec_3f9a1c2b7d4e");
}

#[test]
fn case_18_request_specs_carry_placeholders_and_the_payload() {
    let run = Run::new();
    let id = run.create()["approval_id"].as_str().unwrap().to_owned();
    let out = run.ok(&[
        "approval",
        "provider-requests",
        &id,
        "--output",
        "specs",
        "--console-url",
        "https://console.example",
    ]);
    assert!(text(&out.stdout).starts_with("approval provider request specs exported specs\n"));
    let read = |p: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(run.path(&format!("specs/{p}-approval-request.json")))
                .unwrap(),
        )
        .unwrap()
    };
    let jira = read("jira");
    assert_eq!(jira["method"], "POST");
    assert!(
        jira["headers"]["authorization"]
            .as_str()
            .unwrap()
            .contains("${JIRA_TOKEN}")
    );
    let slack = read("slack");
    assert!(
        slack["body"]["text"]
            .as_str()
            .unwrap()
            .starts_with("CAVRA approval")
    );
    assert_eq!(
        slack["body"]["blocks"][4]["elements"][0]["url"],
        format!("https://console.example/approvals/{id}")
    );
}

#[test]
fn one_provider_can_be_exported_and_jira_settings_come_from_the_config() {
    let run = Run::new();
    let id = run.create()["approval_id"].as_str().unwrap().to_owned();
    let config = run.write(
        "providers.json",
        &json!({"approval_providers": {"jira": {"url": "https://x.example", "project_key": "OPS", "issue_type": "Bug"}}}),
    );
    let out = run.ok(&[
        "approval",
        "export-notifications",
        &id,
        "--provider",
        "jira",
        "--config",
        &config,
    ]);
    assert_eq!(text(&out.stdout).lines().count(), 2);
    let jira: Value = serde_json::from_str(
        &std::fs::read_to_string(
            run.path(".cavra/approvals/notifications/jira-approval-payload.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(jira["fields"]["project"]["key"], "OPS");
    assert_eq!(jira["fields"]["issuetype"]["name"], "Bug");
}

#[test]
fn unknown_providers_and_requests_get_the_original_messages() {
    let run = Run::new();
    let id = run.create()["approval_id"].as_str().unwrap().to_owned();
    for (command, message) in [
        (
            "export-notifications",
            "error: unknown approval notification provider: email",
        ),
        (
            "provider-requests",
            "error: unknown approval provider: email",
        ),
    ] {
        let out = run.raw(&["approval", command, &id, "--provider", "email"]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(text(&out.stderr).trim(), message);
    }
    let out = run.raw(&["approval", "export-notifications", "apr_00000000ffff"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: approval not found: apr_00000000ffff"
    );
}

// ---- deliver ------------------------------------------------------------------------------

#[test]
fn deliver_prints_the_result_writes_evidence_and_keeps_it_in_history() {
    let receiver = Receiver::statuses(&[201]);
    let run = Run::new();
    let id = run.create()["approval_id"].as_str().unwrap().to_owned();
    let config = run.path("providers.yaml");
    std::fs::write(
        &config,
        format!(
            "approval_providers:\n  jira: {{enabled: true, url: {}, token_env: JIRA_TOKEN}}\n",
            receiver.url("/rest/api/3/issue")
        ),
    )
    .unwrap();
    let mut run = run;
    run.env.push(("JIRA_TOKEN".into(), "secret-token".into()));
    let out = run.ok(&[
        "approval",
        "deliver",
        &id,
        "--config",
        config.to_str().unwrap(),
        "--provider",
        "jira",
        "--output",
        ".cavra/approvals/deliveries",
    ]);
    let (result, message) = split_deliver(&out.stdout);
    let evidence_path = format!(".cavra/approvals/deliveries/{id}-provider-delivery.json");
    assert_eq!(
        message,
        format!("approval provider delivery evidence exported {evidence_path}")
    );
    assert_eq!(result["success"], true);
    assert_eq!(result["deliveries"][0]["status_code"], 201);
    assert_eq!(
        result["deliveries"][0]["request"]["headers"]["authorization"],
        "REDACTED"
    );
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(run.path(&evidence_path)).unwrap()).unwrap();
    assert_eq!(file, result);
    assert_eq!(
        receiver.seen()[0].headers["authorization"],
        "Bearer secret-token"
    );
    let record = run.get(&id);
    assert_eq!(events(&record), vec!["requested", "delivered"]);
    assert_eq!(record["history"][1]["evidence"], result);
    let chain = run.json(&["approval", "verify-history", &id]);
    assert_eq!(chain["valid"], true);
}

#[test]
fn a_failed_delivery_still_writes_evidence_and_exits_3() {
    let receiver = Receiver::statuses(&[500]);
    let run = Run::new();
    let id = run.create()["approval_id"].as_str().unwrap().to_owned();
    let config = run.write(
        "providers.json",
        &json!({"approval_providers": {
            "webhook": {"url": receiver.url("/hook")},
            "jira": {"url": receiver.url("/jira")},
        }}),
    );
    let out = run.raw(&[
        "approval",
        "deliver",
        &id,
        "--config",
        &config,
        "--retries",
        "1",
        "--timeout-seconds",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: approval provider delivery failed: jira, webhook"
    );
    let (result, _) = split_deliver(&out.stdout);
    assert_eq!(result["success"], false);
    assert_eq!(result["deliveries"][1]["attempt_count"], 2);
    assert!(
        run.path(&format!(
            ".cavra/approvals/deliveries/{id}-provider-delivery.json"
        ))
        .exists()
    );
    assert_eq!(
        receiver.seen().len(),
        2,
        "jira is misconfigured and never sent"
    );
}

#[test]
fn deliver_needs_a_config_and_a_configured_provider() {
    let run = Run::new();
    let id = run.create()["approval_id"].as_str().unwrap().to_owned();
    let out = run.raw(&["approval", "deliver", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: --config is required for live approval provider delivery"
    );
    let config = run.write(
        "providers.json",
        &json!({"webhook": {"url": "http://127.0.0.1:9/x"}}),
    );
    let out = run.raw(&[
        "approval",
        "deliver",
        &id,
        "--config",
        &config,
        "--provider",
        "slack",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: approval provider is not configured: slack"
    );
    let out = run.raw(&["approval", "deliver", &id, "--config", "missing.yaml"]);
    assert_eq!(
        text(&out.stderr).trim(),
        "error: approval provider config not found: missing.yaml"
    );
}

// ---- automatic notifications --------------------------------------------------------------

#[test]
fn state_changes_notify_when_the_provider_config_asks_and_break_glass_always() {
    let receiver = Receiver::statuses(&[200]);
    let mut run = Run::new();
    let config = run.write(
        "providers.json",
        &json!({"notify_on": ["requested", "denied"], "approval_providers": {
            "slack": {"url": receiver.url("/slack")},
            "webhook": {"url": receiver.url("/hook"), "notify_on": []},
        }}),
    );
    run.env
        .push(("CAVRA_APPROVAL_PROVIDER_CONFIG".into(), config));
    let created = run.create();
    assert_eq!(events(&created), vec!["requested", "delivered"]);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/slack");

    let id = created["approval_id"].as_str().unwrap();
    let denied = run.json(&[
        "approval",
        "deny",
        id,
        "--actor",
        "iam-lead",
        "--reason",
        "Too broad",
    ]);
    assert_eq!(
        events(&denied),
        vec!["requested", "delivered", "denied", "delivered"]
    );
    assert_eq!(receiver.seen().len(), 2);

    let blocked = run.write(
        "blocked.json",
        &json!({"decision_id": "dec_bg", "target": "terraform apply", "rule_id": "commands.block", "decision": "block"}),
    );
    let glass = run.json(&[
        "approval",
        "break-glass",
        &blocked,
        "--actor",
        "incident-commander",
        "--reason",
        "Production recovery",
    ]);
    assert_eq!(events(&glass).last().copied(), Some("delivered"));
    let paths: Vec<String> = receiver.seen()[2..]
        .iter()
        .map(|s| s.path.clone())
        .collect();
    assert_eq!(paths.len(), 2);
    assert!(paths.contains(&"/hook".to_owned()) && paths.contains(&"/slack".to_owned()));
    let hook = receiver
        .seen()
        .into_iter()
        .find(|s| s.path == "/hook")
        .unwrap();
    assert_eq!(hook.json()["event_type"], "cavra.approval.break_glass");
}

#[test]
fn a_failing_notification_warns_but_the_state_change_stands() {
    let receiver = Receiver::statuses(&[503]);
    let mut run = Run::new();
    let config = run.write(
        "providers.json",
        &json!({"notify_on": ["requested"], "webhook": {"url": receiver.url("/hook")}}),
    );
    run.env
        .push(("CAVRA_APPROVAL_PROVIDER_CONFIG".into(), config));
    let decision = run.write(
        "decision.json",
        &json!({"decision_id": "dec_w", "target": "iam/x.tf", "rule_id": "filesystem.write.require_approval", "decision": "require_approval"}),
    );
    let out = run.ok(&["approval", "create", &decision]);
    let record: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["state"], "pending");
    assert_eq!(
        text(&out.stderr).trim(),
        "warning: approval notification failed for: webhook (evidence in the request's history)"
    );
    assert_eq!(record["history"][1]["evidence"]["success"], false);
}

// ---- secrets never leak -------------------------------------------------------------------

/// Creates a request for `decision_id` (an automatic notification, when configured), then
/// delivers it again to all providers with one retry. Returns both outputs and the id.
fn create_and_deliver(run: &Run, decision_id: &str) -> (Output, Output, String) {
    let decision = run.write(
        &format!("{decision_id}.json"),
        &json!({"decision_id": decision_id, "target": "iam/x.tf", "decision": "require_approval", "approver_group": "IAM"}),
    );
    let created = run.raw(&[
        "approval",
        "create",
        &decision,
        "--requested-by",
        "developer",
    ]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let id = serde_json::from_slice::<Value>(&created.stdout).unwrap()["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let delivered = run.raw(&[
        "approval",
        "deliver",
        &id,
        "--retries",
        "1",
        "--timeout-seconds",
        "1",
    ]);
    (created, delivered, id)
}

/// Fails if any of `needles` is in what `create` and `deliver` printed, in the evidence file,
/// in the store file or in `get`'s output for `id`.
fn assert_nothing_leaked(
    run: &Run,
    id: &str,
    created: &Output,
    delivered: &Output,
    needles: &[&str],
) {
    let store = std::fs::read_to_string(run.path(".cavra/approvals.json")).unwrap();
    let evidence = std::fs::read_to_string(run.path(&format!(
        ".cavra/approvals/deliveries/{id}-provider-delivery.json"
    )))
    .unwrap();
    let shown = run.get(id).to_string();
    assert!(
        shown.contains("\"delivered\""),
        "history has the delivery entries"
    );
    let haystacks = [
        ("create stdout", text(&created.stdout)),
        ("create stderr", text(&created.stderr)),
        ("deliver stdout", text(&delivered.stdout)),
        ("deliver stderr", text(&delivered.stderr)),
        ("evidence file", evidence),
        ("store file", store),
        ("get output", shown),
    ];
    for needle in needles {
        for (what, haystack) in &haystacks {
            assert!(!haystack.contains(needle), "{needle} leaked into {what}");
        }
    }
}

#[test]
fn secrets_from_env_never_appear_in_stdout_stderr_evidence_or_history() {
    let ok = Receiver::statuses(&[201]);
    let failing = Receiver::statuses(&[500]);
    let mut run = Run::new();
    let secrets = [
        (
            "CAVRA_SLACK_WEBHOOK_URL",
            ok.url("/services/T0/B0/slackpathsecret123"),
        ),
        (
            "CAVRA_TEAMS_WEBHOOK_URL",
            failing.url("/workflows/teamspathsecret456/run?sig=teamsquerysecret789"),
        ),
        ("JIRA_TOKEN", "jira-token-secret-abc".to_owned()),
        ("SERVICENOW_TOKEN", "servicenow-token-secret-def".to_owned()),
        (
            "CAVRA_APPROVAL_WEBHOOK_URL",
            "http://127.0.0.1:9/hook/webhookpathsecret000".to_owned(),
        ),
        (
            "CAVRA_WEBHOOK_SIGNING_SECRET",
            "whsec_c2lnbmluZy1rZXktYnl0ZXMtMDEyMw==".to_owned(),
        ),
    ];
    for (k, v) in &secrets {
        run.env.push(((*k).to_owned(), v.clone()));
    }
    let config = run.write(
        "providers.json",
        &json!({"notify_on": ["requested"], "approval_providers": {
            "slack": {"url_env": "CAVRA_SLACK_WEBHOOK_URL"},
            "teams": {"url_env": "CAVRA_TEAMS_WEBHOOK_URL"},
            "jira": {"url": ok.url("/rest/api/3/issue"), "token_env": "JIRA_TOKEN"},
            "servicenow": {"url": failing.base.clone(), "token_env": "SERVICENOW_TOKEN", "authorization_scheme": "Basic"},
            "webhook": {"url_env": "CAVRA_APPROVAL_WEBHOOK_URL", "signing_secret_env": "CAVRA_WEBHOOK_SIGNING_SECRET"},
        }}),
    );
    run.env
        .push(("CAVRA_APPROVAL_PROVIDER_CONFIG".into(), config.clone()));
    // An automatic notification on create, then an explicit deliver that partly fails.
    let (created, delivered, id) = create_and_deliver(&run, "dec_s");
    assert_eq!(delivered.status.code(), Some(3));
    let (result, _) = split_deliver(&delivered.stdout);
    let ok_count = result["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["success"] == true)
        .count();
    assert_eq!(ok_count, 2, "jira and slack succeed: {result}");
    assert!(
        ok.seen()
            .iter()
            .any(|s| s.path.contains("slackpathsecret123"))
    );
    assert!(
        failing
            .seen()
            .iter()
            .any(|s| s.headers.get("authorization").map(String::as_str)
                == Some("Basic servicenow-token-secret-def"))
    );

    assert_nothing_leaked(
        &run,
        &id,
        &created,
        &delivered,
        &[
            "slackpathsecret123",
            "teamspathsecret456",
            "teamsquerysecret789",
            "jira-token-secret-abc",
            "servicenow-token-secret-def",
            "webhookpathsecret000",
            "c2lnbmluZy1rZXktYnl0ZXMtMDEyMw==",
        ],
    );
    let _ = Path::new(&config);
}

/// Creates a secret on the emulator (started if needed) and returns its id.
fn emulator_secret(prefix: &str, value: &str) -> String {
    let id = cavra_e2e::emulator::unique_name(prefix);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(
            cavra_e2e::emulator::secretsmanager_client()
                .create_secret()
                .name(&id)
                .secret_string(value)
                .send(),
        )
        .expect("create the secret on the emulator");
    id
}

#[test]
fn secrets_from_secrets_manager_never_appear_in_stdout_stderr_evidence_or_history() {
    // GIVEN provider credentials in Secrets Manager (the emulator): one JSON secret with a
    // field per credential, and one plain secret
    let ok = Receiver::statuses(&[201]);
    let failing = Receiver::statuses(&[500]);
    let signing = "whsec_c2VjcmV0cy1tYW5hZ2VyLXNpZ25pbmcta2V5";
    let providers = json!({
        "slack_webhook_url": ok.url("/services/T1/B1/smslackpathsecret123"),
        "teams_webhook_url": failing.url("/workflows/smteamspathsecret456/run?sig=smteamsquerysecret789"),
        "servicenow_token": "sm-servicenow-token-secret-def",
        "webhook_url": "http://127.0.0.1:9/hook/smwebhookpathsecret000",
        "webhook_signing_secret": signing,
    });
    let bundle = emulator_secret("cavra-cli-providers", &providers.to_string());
    let jira = emulator_secret("cavra-cli-jira", "sm-jira-token-secret-abc");
    let mut run = Run::new();
    run.env.extend(
        cavra_e2e::emulator::child_env()
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let field = |name: &str| format!("{bundle}#{name}");
    let config = run.write(
        "providers.json",
        &json!({"notify_on": ["requested"], "approval_providers": {
            "slack": {"url_secret": field("slack_webhook_url")},
            "teams": {"url_secret": field("teams_webhook_url")},
            "jira": {"url": ok.url("/rest/api/3/issue"), "token_secret": jira},
            "servicenow": {"url": failing.base.clone(), "token_secret": field("servicenow_token"), "authorization_scheme": "Basic"},
            "webhook": {"url_secret": field("webhook_url"), "signing_secret_secret": field("webhook_signing_secret")},
        }}),
    );
    run.env
        .push(("CAVRA_APPROVAL_PROVIDER_CONFIG".into(), config.clone()));

    // WHEN a request is created (automatic notification) and delivered again explicitly
    let (created, delivered, id) = create_and_deliver(&run, "dec_sm");

    // THEN the secrets were resolved and used…
    assert_eq!(
        delivered.status.code(),
        Some(3),
        "{}",
        text(&delivered.stderr)
    );
    let (result, _) = split_deliver(&delivered.stdout);
    let outcome: Vec<(String, bool)> = result["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["provider"].as_str().unwrap().to_owned(),
                d["success"] == true,
            )
        })
        .collect();
    assert_eq!(
        outcome,
        vec![
            ("jira".to_owned(), true),
            ("servicenow".to_owned(), false),
            ("slack".to_owned(), true),
            ("teams".to_owned(), false),
            ("webhook".to_owned(), false),
        ]
    );
    let seen = ok.seen();
    assert!(seen.iter().any(|s| s.path.contains("smslackpathsecret123")));
    assert!(
        seen.iter()
            .any(|s| s.headers.get("authorization").map(String::as_str)
                == Some("Bearer sm-jira-token-secret-abc"))
    );
    assert!(
        failing
            .seen()
            .iter()
            .any(|s| s.headers.get("authorization").map(String::as_str)
                == Some("Basic sm-servicenow-token-secret-def"))
    );
    assert!(
        failing
            .seen()
            .iter()
            .any(|s| s.path.contains("smteamsquerysecret789"))
    );

    // …and appear nowhere the CLI prints or keeps
    assert_nothing_leaked(
        &run,
        &id,
        &created,
        &delivered,
        &[
            "smslackpathsecret123",
            "smteamspathsecret456",
            "smteamsquerysecret789",
            "sm-jira-token-secret-abc",
            "sm-servicenow-token-secret-def",
            "smwebhookpathsecret000",
            signing,
            "c2VjcmV0cy1tYW5hZ2VyLXNpZ25pbmcta2V5",
        ],
    );
}

//! Issue G: the serverless deployment notifies exactly as the laptop does. One scenario runs
//! against the function binaries under `cargo lambda watch` on DynamoDB (emulator), with the
//! scheduled sweeper invoked through the Lambda Invoke API, and against `cavra serve` on
//! SQLite with `cavra approval sweep` from the CLI. Providers are loopback receivers. Each
//! deployment must produce the same notifications, each counted at the receiver exactly once:
//! create → the routed group; approve; break-glass → every enabled provider; sweep → expiry,
//! escalation and reminder; a second sweep → nothing; the escalated group then decides.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use cavra_api::Route;
use cavra_core::ids::RandomIds;
use cavra_core::service::ApprovalService;
use cavra_core::store::ApprovalStore;
use cavra_core::time::{ManualClock, Timestamp};
use cavra_core::workflow::NewRequest;
use cavra_e2e::deployment::{ServeProcess, Setup};
use cavra_e2e::emulator;
use cavra_e2e::http_suite::{self, Api, FunctionUrls, SingleServer};
use cavra_e2e::lambda::{LambdaFunctions, function_binaries, spawn_function};
use cavra_test_receiver::Receiver;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Escalation and the first reminder fall due together, two seconds after a request.
const FOLLOW_UP: &str = "2s";

fn setup(receiver: &Receiver) -> Setup {
    Setup {
        routing: Some(json!([{
            "rule_id_prefix": "filesystem.write",
            "target_contains": "security/",
            "approver_group": http_suite::GROUP,
            "remind_after": FOLLOW_UP,
            "escalate_after": FOLLOW_UP,
            "escalate_to": "Cloud Security",
        }])),
        providers: Some(json!({
            "notify_on": ["requested", "approved", "denied", "expired", "reminded", "escalated"],
            "webhook": {"url": receiver.url("/webhook")},
            // Slack only hears of new requests; break-glass reaches it all the same.
            "slack": {"url": receiver.url("/slack"), "notify_on": ["requested"]},
        })),
        ..Setup::suite()
    }
}

/// What the receiver heard: (provider, request label, event) → how many times.
type Heard = BTreeMap<(String, String, String), usize>;

fn heard(receiver: &Receiver, labels: &BTreeMap<String, &'static str>) -> Heard {
    let mut out = Heard::new();
    for seen in receiver.seen() {
        let body = String::from_utf8_lossy(&seen.body).into_owned();
        let label = labels
            .iter()
            .find(|(decision_id, _)| body.contains(decision_id.as_str()))
            .map_or("?", |(_, label)| *label);
        let event = if seen.path == "/webhook" {
            seen.json()["event_type"]
                .as_str()
                .unwrap_or("?")
                .trim_start_matches("cavra.approval.")
                .to_owned()
        } else {
            let text = seen.json()["text"].as_str().unwrap_or_default().to_owned();
            text.split_whitespace().nth(2).unwrap_or("?").to_owned()
        };
        let provider = seen.path.trim_start_matches('/').to_owned();
        *out.entry((provider, label.to_owned(), event)).or_default() += 1;
    }
    out
}

fn expected() -> Heard {
    [
        ("webhook", "A", "pending"),
        ("slack", "A", "pending"),
        ("webhook", "B", "pending"),
        ("slack", "B", "pending"),
        ("webhook", "B", "approved"),
        ("webhook", "C", "break_glass"),
        ("slack", "C", "break_glass"),
        ("webhook", "D", "expired"),
        ("webhook", "A", "escalated"),
        ("webhook", "A", "reminded"),
        ("webhook", "A", "approved"),
    ]
    .into_iter()
    .map(|(p, l, e)| ((p.to_owned(), l.to_owned(), e.to_owned()), 1))
    .collect()
}

/// Writes request `D` two days in the past through the core service on `store`, so the
/// deployment's sweeper finds it overdue (no notifier: its creation is not part of the count).
async fn overdue_request(store: Arc<dyn ApprovalStore>, decision_id: &str) {
    let past =
        Timestamp::from_unix_micros((http_suite::now_unix() - 2 * 24 * 3600) * 1_000_000).unwrap();
    let service =
        ApprovalService::new(store, Arc::new(ManualClock::new(past)), Arc::new(RandomIds));
    let decision =
        cavra_core::decision::Decision::from_value(http_suite::decision(decision_id)).unwrap();
    assert!(
        service
            .create(NewRequest::new(decision))
            .await
            .unwrap()
            .created
    );
}

/// Runs the scenario; `sweep` runs the deployment's sweeper once and returns its report.
async fn scenario<S, F>(
    api: &Api,
    receiver: &Receiver,
    seed_overdue: impl AsyncFnOnce(&str),
    sweep: S,
) -> Heard
where
    S: Fn() -> F,
    F: std::future::Future<Output = Value>,
{
    let prefix = http_suite::run_prefix();
    let labels: BTreeMap<String, &'static str> = ["A", "B", "C", "D"]
        .into_iter()
        .map(|l| (format!("{prefix}-{}", l.to_lowercase()), l))
        .collect();
    let id_of = |label: &str| format!("{prefix}-{}", label.to_lowercase());
    let create = async |label: &str| api.create(&id_of(label)).await;

    let a = create("A").await;
    let b = create("B").await;
    let b_id = b["approval_id"].as_str().unwrap().to_owned();
    let approved = api
        .call(
            Route::Approve,
            &format!("/approvals/{b_id}/approve"),
            Some(json!({"reason": "reviewed"})),
            Some(&http_suite::approver("lead@example.com")),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);

    let mut glass = http_suite::decision(&id_of("C"));
    glass["decision"] = json!("block");
    let broke = api
        .call(
            Route::BreakGlass,
            "/approvals/break-glass",
            Some(json!({"decision": glass, "reason": "prod is down", "external_ref": "INC-7"})),
            Some(&http_suite::incident_commander()),
        )
        .await;
    assert_eq!(broke.status, StatusCode::OK, "{}", broke.body);
    seed_overdue(&id_of("D")).await;

    // Nobody answers A: the escalation and the first reminder fall due.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let first = sweep().await;
    let a_id = a["approval_id"].as_str().unwrap().to_owned();
    assert_eq!(first["escalated"], json!([a_id]), "{first}");
    assert_eq!(first["reminded"], json!([a_id]), "{first}");
    assert_eq!(
        first["expired"].as_array().map(Vec::len),
        Some(1),
        "{first}"
    );
    let second = sweep().await;
    for key in ["expired", "reminded", "escalated"] {
        assert_eq!(
            second[key],
            json!([]),
            "a second sweep repeats nothing: {second}"
        );
    }

    // The fallback group may now decide A; before the escalation it could not.
    let fallback = http_suite::token("cloud@example.com", &["Cloud Security"]);
    let decided = api
        .call(
            Route::Approve,
            &format!("/approvals/{a_id}/approve"),
            Some(json!({"reason": "covering for Platform Security"})),
            Some(&fallback),
        )
        .await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
    let history: Vec<&str> = decided.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    for event in [
        "requested",
        "escalated",
        "reminded",
        "approved",
        "delivered",
    ] {
        assert!(history.contains(&event), "{event} missing from {history:?}");
    }

    // Deliveries are awaited before each answer, so everything has arrived.
    heard(receiver, &labels)
}

/// Kills the sweeper instance when the test ends.
struct Instance(Child);

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn on_the_functions() -> Heard {
    let receiver = Receiver::always(200);
    let setup = setup(&receiver);
    let client = emulator::dynamodb_client();
    let table = emulator::fresh_table(&client, "notify").await;
    let store_env = emulator::table_env(&table);
    let functions = LambdaFunctions::start(&setup, &store_env, 1);
    let _sweeper = Instance(spawn_function(
        &function_binaries()["sweep-approvals"],
        "sweep-approvals",
        functions.port,
        &functions.config,
        &store_env,
    ));
    let api = Api::new(FunctionUrls(functions.base.clone()));
    let http = reqwest::Client::new();
    let invoke = format!(
        "{}/2015-03-31/functions/sweep-approvals/invocations",
        functions.base
    );
    let store: Arc<dyn ApprovalStore> = Arc::new(cavra_store_dynamodb::DynamoStore::new(
        client.clone(),
        table.clone(),
    ));
    scenario(
        &api,
        &receiver,
        async move |decision_id: &str| overdue_request(store, decision_id).await,
        || async {
            let answer = http
                .post(&invoke)
                .json(&json!({"source": "aws.events", "detail-type": "Scheduled Event"}))
                .send()
                .await
                .expect("the sweeper answers");
            assert!(answer.status().is_success(), "{}", answer.status());
            answer.json::<Value>().await.expect("the sweeper's report")
        },
    )
    .await
}

fn cavra() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_cavra"))
}

async fn on_serve_and_the_cli() -> Heard {
    let receiver = Receiver::always(200);
    let setup = setup(&receiver);
    let server = ServeProcess::start(cavra(), &setup);
    let api = Api::new(SingleServer(server.base.clone()));
    let config = tempfile::tempdir().unwrap();
    let env = setup.environment(config.path());
    let db = server.db.clone();
    let ring = cavra_core::chain_key::local_ring(None, Some(&db)).unwrap();
    let store: Arc<dyn ApprovalStore> =
        Arc::new(cavra_store_sqlite::SqliteStore::open(&db).unwrap());
    scenario(
        &api,
        &receiver,
        async move |decision_id: &str| {
            assert!(ring.is_none(), "serve's test store is unkeyed");
            overdue_request(store, decision_id).await;
        },
        || {
            let output = Command::new(cavra())
                .args(["approval", "sweep", "--sqlite"])
                .arg(&db)
                .envs(env.iter().cloned())
                .stdin(Stdio::null())
                .output()
                .expect("cavra approval sweep runs");
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
            async move { report }
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_and_the_laptop_notify_alike_each_notification_once() {
    let cloud = on_the_functions().await;
    assert_eq!(cloud, expected(), "the function binaries on DynamoDB");
    let laptop = on_serve_and_the_cli().await;
    assert_eq!(laptop, expected(), "cavra serve and the CLI on SQLite");
}

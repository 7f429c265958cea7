//! `POST /approvals/{id}/deliver` and automatic notifications through the handlers, with the
//! provider config loaded from `CAVRA_APPROVAL_PROVIDER_CONFIG` as in production and a real
//! HTTP receiver on loopback. Original §13 case 31 (case 32 is in `handlers.rs`).

use std::sync::Arc;

use cavra_api::config::{Config, StoreConfig};
use cavra_api::{AppState, dispatch};
use cavra_core::ids::SequentialIds;
use cavra_core::memory::MemoryStore;
use cavra_core::time::SystemClock;
use cavra_test_receiver::Receiver;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request};
use serde_json::{Value, json};

struct Api {
    state: AppState,
    _dir: tempfile::TempDir,
}

fn api(providers: Option<Value>) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::from_lookup(|_| None);
    config.store = StoreConfig::Json {
        path: dir.path().join("unused.json"),
    };
    config.public_console_url = Some("https://console.cavra.example".into());
    if let Some(providers) = providers {
        let path = dir.path().join("providers.json");
        std::fs::write(&path, providers.to_string()).unwrap();
        config.provider_config = Some(path);
    }
    let state = AppState::build(
        config,
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
        Arc::new(SequentialIds::default()),
    )
    .unwrap();
    Api { state, _dir: dir }
}

impl Api {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let request: Request = lambda_http::http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(body.map_or(Body::Empty, |b| Body::Text(b.to_string())))
            .unwrap();
        let response = dispatch(&self.state, request).await;
        let status = response.status();
        let value = match response.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            _ => Value::Null,
        };
        (status, value)
    }

    async fn create(&self, decision_id: &str) -> Value {
        let (status, record) = self
            .call(
                "POST",
                "/approvals",
                Some(json!({"decision": decision(decision_id), "requested_by": "developer"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{record}");
        record
    }
}

fn decision(id: &str) -> Value {
    json!({
        "decision_id": id, "session_id": "local", "action_type": "write_file", "target": "iam/admin-role.tf",
        "rule_id": "filesystem.write.require_approval", "decision": "require_approval", "severity": "high",
        "reason": "Matched approval-required path policy: iam/**", "approver_group": "Platform Security"
    })
}

fn events(history: &Value) -> Vec<String> {
    history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn case_31_deliver_with_a_provider_config_sends_and_keeps_the_evidence_in_history() {
    // 503 first: with retries 1 the second attempt gets the 201.
    let hook = Receiver::statuses(&[503, 201]);
    let api = api(Some(json!({"approval_providers": {
        "webhook": {"url": format!("{}/cavra", hook.base)}
    }})));
    let id = api.create("dec_31").await["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, result) = api
        .call(
            "POST",
            &format!("/approvals/{id}/deliver"),
            Some(json!({"provider": "webhook", "retries": 1, "timeout_seconds": 3})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["success"], true);
    assert_eq!(result["schema_version"], "cavra.approval.delivery.v1");
    let entry = &result["deliveries"][0];
    assert_eq!(entry["provider"], "webhook");
    assert_eq!(entry["attempt_count"], 2);
    assert_eq!(entry["status_code"], 201);
    let seen = hook.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].json()["event_type"], "cavra.approval.pending");
    assert_eq!(
        seen[1].json()["console_url"],
        format!("https://console.cavra.example/approvals/{id}")
    );

    let (_, record) = api.call("GET", &format!("/approvals/{id}"), None).await;
    assert_eq!(events(&record["history"]), vec!["requested", "delivered"]);
    let delivered = &record["history"][1];
    assert_eq!(delivered["actor"], "system");
    assert_eq!(delivered["evidence"], result);

    let (_, config) = api.call("GET", "/console/config", None).await;
    assert_eq!(config["approval_provider_delivery"], "configured");
}

#[tokio::test]
async fn deliver_refuses_unconfigured_providers_and_bad_options_with_400() {
    let hook = Receiver::statuses(&[201]);
    let api = api(Some(json!({"webhook": {"url": hook.base.clone()}})));
    let id = api.create("dec_400").await["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/approvals/{id}/deliver");
    for (body, detail) in [
        (
            json!({"provider": "email"}),
            "approval provider is not configured: email",
        ),
        (
            json!({"provider": "slack"}),
            "approval provider is not configured: slack",
        ),
        (json!({"retries": "many"}), "retries must be an integer"),
        (
            json!({"timeout_seconds": [1]}),
            "timeout_seconds must be a number",
        ),
    ] {
        let (status, error) = api.call("POST", &path, Some(body)).await;
        assert_eq!(
            (status, error["detail"].as_str().unwrap()),
            (StatusCode::BAD_REQUEST, detail)
        );
    }
    assert!(hook.seen().is_empty());
    let (status, _) = api
        .call("POST", "/approvals/apr_00000000ffff/deliver", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_failed_delivery_is_still_200_with_success_false_and_recorded() {
    let api = api(Some(json!({"approval_providers": {
        "jira": {"url": "http://127.0.0.1:9/rest/api/3/issue"}
    }})));
    let id = api.create("dec_fail").await["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, result) = api
        .call("POST", &format!("/approvals/{id}/deliver"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(result["success"], false);
    assert!(
        result["deliveries"][0]["error"]
            .as_str()
            .unwrap()
            .contains("must configure token_env")
    );
    let (_, record) = api.call("GET", &format!("/approvals/{id}"), None).await;
    assert_eq!(record["history"][1]["evidence"]["success"], false);
}

#[tokio::test]
async fn state_changes_notify_the_providers_that_asked_and_break_glass_goes_to_all() {
    let slack = Receiver::statuses(&[200]);
    let hook = Receiver::statuses(&[204]);
    let api = api(Some(json!({
        "notify_on": ["approved", "denied"],
        "approval_providers": {
            "slack": {"url": format!("{}/slack", slack.base), "notify_on": ["requested", "approved"]},
            "webhook": {"url": format!("{}/hook", hook.base)},
            "teams": {"enabled": false, "url": "http://127.0.0.1:9/never"},
        }
    })));
    // requested → slack only.
    let created = api.create("dec_auto");
    let created = created.await;
    let id = created["approval_id"].as_str().unwrap().to_owned();
    assert_eq!(events(&created["history"]), vec!["requested", "delivered"]);
    assert_eq!(created["history"][1]["evidence"]["event"], "requested");
    assert_eq!(slack.seen().len(), 1);
    assert!(hook.seen().is_empty());
    assert_eq!(
        slack.seen()[0].json()["blocks"][0]["text"]["text"],
        "CAVRA approval pending for dec_auto"
    );

    // approved → both.
    let (status, approved) = api
        .call(
            "POST",
            &format!("/approvals/{id}/approve"),
            Some(json!({"actor": "platform-security", "reason": "Scoped change", "external_ref": "CHG-1"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(
        events(&approved["history"]),
        vec!["requested", "delivered", "approved", "delivered"]
    );
    assert_eq!(slack.seen().len(), 2);
    assert_eq!(hook.seen().len(), 1);
    assert_eq!(
        hook.seen()[0].json()["event_type"],
        "cavra.approval.approved"
    );
    assert!(
        cavra_core::history::verify(
            &serde_json::from_value::<Vec<cavra_core::approval::HistoryEntry>>(
                approved["history"].clone()
            )
            .unwrap()
        )
        .valid
    );

    // break-glass → every enabled provider, though nobody listed it.
    let mut blocked = decision("dec_bg");
    blocked["decision"] = json!("block");
    let (status, glass) = api
        .call(
            "POST",
            "/approvals/break-glass",
            Some(json!({"decision": blocked, "actor": "incident-commander", "reason": "Production recovery", "external_ref": "INC-777"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{glass}");
    let last = glass["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"], "delivered");
    assert_eq!(last["evidence"]["event"], "break_glass");
    let providers: Vec<&str> = last["evidence"]["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, vec!["slack", "webhook"]);
    assert_eq!(
        hook.seen().last().unwrap().json()["event_type"],
        "cavra.approval.break_glass"
    );
}

#[tokio::test]
async fn without_notify_on_state_changes_send_nothing() {
    let hook = Receiver::statuses(&[201]);
    let api = api(Some(json!({"webhook": {"url": hook.base.clone()}})));
    let created = api.create("dec_quiet").await;
    assert_eq!(events(&created["history"]), vec!["requested"]);
    assert!(hook.seen().is_empty());
}

#[test]
fn a_malformed_provider_config_fails_the_cold_start_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("providers.json");
    std::fs::write(&path, r#"{"approval_providers": {"slack": "https://x"}}"#).unwrap();
    let mut config = Config::from_lookup(|_| None);
    config.provider_config = Some(path);
    let error = AppState::build(
        config,
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
        Arc::new(SequentialIds::default()),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid configuration: approval provider slack config must be an object"
    );
}

#[tokio::test]
async fn the_provider_config_variable_may_hold_the_json_document_itself() {
    let hook = Receiver::statuses(&[201]);
    let mut config = Config::from_lookup(|_| None);
    config.provider_config = Some(
        json!({"approval_providers": {"webhook": {"url": format!("{}/inline", hook.base)}}})
            .to_string()
            .into(),
    );
    let api = Api {
        state: AppState::build(
            config,
            Arc::new(MemoryStore::new()),
            Arc::new(SystemClock),
            Arc::new(SequentialIds::default()),
        )
        .unwrap(),
        _dir: tempfile::tempdir().unwrap(),
    };
    let id = api.create("dec_inline").await["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, result) = api
        .call("POST", &format!("/approvals/{id}/deliver"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["success"], true);
    assert_eq!(hook.seen()[0].path, "/inline");
}

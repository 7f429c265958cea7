//! Original §13 cases 23–34 over real HTTP (case 31 with a webhook receiver on loopback), with the contract's results where CONTRACT.md
//! changes them (201 on creation, 403 for authorisation failures, claims refused under OIDC).
//!
//! Each case starts its own deployment through `launch`, so totals are exact and one case's
//! configuration never leaks into another. The same function runs against `cavra serve` and
//! against the Lambda function binaries.

use std::future::Future;

use cavra_api::Route;
use cavra_test_receiver::Receiver;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::deployment::{Deployment, Setup};
use crate::http_suite::{OIDC_FIXTURES, token};

/// The engine's decision for `write_file iam/admin-role.tf` (its own group is Platform
/// Security; the default routing sends a wrapped request to IAM).
fn iam_decision(id: &str) -> Value {
    json!({
        "decision_id": id, "session_id": "local", "action_type": "write_file",
        "target": "iam/admin-role.tf", "requested_operation": "write",
        "rule_id": "filesystem.write.require_approval", "decision": "require_approval",
        "severity": "high", "reason": "Matched approval-required path policy: iam/**",
        "evidence_refs": [format!("evidence://local/{id}")], "approver_group": "Platform Security",
        "policy_pack": "cavra-ai-agent-baseline", "policy_id": "cavra-ai-agent-baseline",
    })
}

fn terraform_block(id: &str) -> Value {
    json!({
        "decision_id": id, "action_type": "execute_command", "target": "terraform apply",
        "rule_id": "commands.block", "decision": "block", "severity": "critical",
        "reason": "Matched blocked command policy: terraform apply*",
    })
}

const PAYMENTS_RBAC: &str = r#"{"approval_rbac": {
    "group_mappings": {"github-team:payments-owners": "Payments Owners"},
    "repository_permissions": [{"repository": "payments/api", "approver_group": "IAM",
                                "groups": ["Payments Owners"], "actions": ["approved"]}]}}"#;

fn id_of(record: &Value) -> String {
    record["approval_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no approval_id in {record}"))
        .to_owned()
}

async fn console_get(deployment: &Deployment, path: &str, bearer: Option<&str>) -> Option<Value> {
    let base = deployment.console_base.as_deref()?;
    let mut request = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the console endpoint answers");
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    Some(response.json().await.expect("JSON"))
}

async fn create(deployment: &Deployment, body: Value, bearer: Option<&str>) -> Value {
    let answer = deployment
        .api
        .call(Route::Create, "/approvals", Some(body), bearer)
        .await;
    assert_eq!(
        answer.status,
        StatusCode::CREATED,
        "create: {}",
        answer.body
    );
    assert!(
        answer
            .location
            .as_deref()
            .is_some_and(|l| l.ends_with(&format!("/approvals/{}", id_of(&answer.body)))),
        "a new request has a Location header: {:?}",
        answer.location
    );
    answer.body
}

/// Runs cases 23–34; `launch` starts a fresh deployment configured by a [`Setup`].
///
/// # Panics
/// A case answers differently from the contract.
pub async fn run<F, Fut>(launch: F)
where
    F: Fn(Setup) -> Fut,
    Fut: Future<Output = Deployment>,
{
    case_23(&launch(Setup::local()).await).await;
    case_24(&launch(Setup::local()).await).await;
    case_25(
        &launch(Setup {
            routing: Some(
                json!({"approval_routing": [{"rule_id_prefix": "filesystem.write",
                "target_contains": "iam/", "approver_group": "Cloud IAM Owners"}]}),
            ),
            ..Setup::local()
        })
        .await,
    )
    .await;
    case_26(&launch(Setup::local()).await).await;
    let payments = Setup {
        oidc: true,
        rbac: Some(serde_json::from_str(PAYMENTS_RBAC).expect("RBAC JSON")),
        ..Setup::local()
    };
    case_27(&launch(payments.clone()).await).await;
    case_28(&launch(payments).await).await;
    case_29(
        &launch(Setup {
            oidc: true,
            rbac: Some(json!({"approval_rbac": {"group_mappings": {}}})),
            ..Setup::local()
        })
        .await,
    )
    .await;
    case_30(&launch(Setup::local()).await).await;
    let hook = Receiver::statuses(&[201]);
    case_31(
        &launch(Setup {
            providers: Some(json!({"approval_providers": {"webhook": {"url": hook.url("/hook")}}})),
            ..Setup::local()
        })
        .await,
        &hook,
    )
    .await;
    case_32(&launch(Setup::local()).await).await;
    case_33(&launch(Setup::local()).await).await;
    case_34(&launch(Setup::local()).await).await;
}

/// Create as `developer`, approve with `CHG-22`, list `state=approved` → total 1.
async fn case_23(d: &Deployment) {
    let created = create(
        d,
        json!({"decision": iam_decision("dec_23"), "requested_by": "developer"}),
        None,
    )
    .await;
    assert_eq!(created["state"], "pending");
    assert_eq!(created["requested_by"], "developer");
    let id = id_of(&created);
    let approved = d
        .api
        .call(
            Route::Approve,
            &format!("/approvals/{id}/approve"),
            Some(json!({"actor": "iam", "reason": "Scoped change", "external_ref": "CHG-22"})),
            None,
        )
        .await;
    assert_eq!(
        approved.status,
        StatusCode::OK,
        "case 23: {}",
        approved.body
    );
    assert_eq!(approved.body["state"], "approved");
    assert_eq!(approved.body["decided_by"], "iam");
    assert_eq!(approved.body["external_ref"], "CHG-22");
    let page = d
        .api
        .call(Route::List, "/approvals?state=approved", None, None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body["total"], 1, "case 23: {}", page.body);
    assert_eq!(page.body["items"][0]["approval_id"], id.as_str());
}

/// A new request is pending and listed; the console config names the store.
async fn case_24(d: &Deployment) {
    let created = create(d, json!({"decision": iam_decision("dec_24")}), None).await;
    assert_eq!(created["state"], "pending");
    let page = d
        .api
        .call(Route::List, "/approvals?state=pending", None, None)
        .await;
    assert_eq!(page.body["total"], 1, "case 24: {}", page.body);
    if let Some(config) = console_get(d, "/console/config", None).await {
        assert_eq!(config["approval_mode"], d.store_mode);
        assert_eq!(config["endpoints"]["approvals"], "/approvals");
    }
}

/// The routing file decides a wrapped request's group.
async fn case_25(d: &Deployment) {
    let created = create(d, json!({"decision": iam_decision("dec_25")}), None).await;
    assert_eq!(created["approver_group"], "Cloud IAM Owners");
}

/// Without OIDC, claims authorise by group: `Developers` get 403 (the original said 400),
/// `IAM` approves, recorded as unverified.
async fn case_26(d: &Deployment) {
    let id = id_of(&create(d, json!({"decision": iam_decision("dec_26")}), None).await);
    let path = format!("/approvals/{id}/approve");
    let refused = d
        .api
        .call(
            Route::Approve,
            &path,
            Some(json!({"actor": "dev", "reason": "ok",
                        "actor_claims": {"email": "dev@example.com", "groups": ["Developers"]}})),
            None,
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "case 26: {}",
        refused.body
    );
    assert_eq!(
        refused.detail(),
        "actor is not authorized for approval group"
    );
    let approved = d
        .api
        .call(
            Route::Approve,
            &path,
            Some(json!({"actor": "iam@example.com", "reason": "ok",
                        "actor_claims": {"email": "iam@example.com", "groups": ["IAM"]}})),
            None,
        )
        .await;
    assert_eq!(
        approved.status,
        StatusCode::OK,
        "case 26: {}",
        approved.body
    );
    assert_eq!(approved.body["state"], "approved");
    assert_eq!(approved.body["history"][1]["identity"], "unverified");
}

fn payments_request() -> Value {
    let mut decision = iam_decision("dec_payments");
    decision["repository"] = json!("payments/api");
    json!({"decision": decision})
}

fn owner_token() -> String {
    token("owner@example.com", &["github-team:payments-owners"])
}

/// A signed token in the body (`actor_token`) with a repository grant approves; the console
/// config reports OIDC and RBAC as configured.
async fn case_27(d: &Deployment) {
    let requester = token("developer@example.com", &["Developers"]);
    let created = create(d, payments_request(), Some(&requester)).await;
    assert_eq!(created["requested_by"], "developer@example.com");
    let approved = d
        .api
        .call(
            Route::Approve,
            &format!("/approvals/{}/approve", id_of(&created)),
            Some(json!({"reason": "Payments owner reviewed", "actor_token": owner_token()})),
            Some(&requester),
        )
        .await;
    assert_eq!(
        approved.status,
        StatusCode::OK,
        "case 27: {}",
        approved.body
    );
    assert_eq!(approved.body["state"], "approved");
    assert_eq!(approved.body["decided_by"], "owner@example.com");
    if let Some(config) = console_get(d, "/console/config", None).await {
        assert_eq!(config["approval_oidc"], "configured");
        assert_eq!(config["approval_rbac"], "configured");
    }
}

/// No identity → 401; the Bearer header → 200 with the verified actor recorded; the session
/// view follows the header.
async fn case_28(d: &Deployment) {
    if let Some(session) = console_get(d, "/console/session", None).await {
        assert_eq!(session["mode"], "auth_required");
    }
    if let Some(session) = console_get(d, "/console/session", Some(&owner_token())).await {
        assert_eq!(session["authenticated"], true);
        assert_eq!(session["actor"]["actor"], "owner@example.com");
        assert_eq!(
            session["repository_permissions"][0]["repository"],
            "payments/api"
        );
    }
    let requester = token("developer@example.com", &["Developers"]);
    let id = id_of(&create(d, payments_request(), Some(&requester)).await);
    let path = format!("/approvals/{id}/approve");
    let anonymous = d
        .api
        .call(Route::Approve, &path, Some(json!({"reason": "ok"})), None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.detail(),
        "console action requires verified actor context"
    );
    let approved = d
        .api
        .call(
            Route::Approve,
            &path,
            Some(json!({"actor": "someone-else", "reason": "ok"})),
            Some(&owner_token()),
        )
        .await;
    assert_eq!(
        approved.status,
        StatusCode::OK,
        "case 28: {}",
        approved.body
    );
    assert_eq!(approved.body["decided_by"], "owner@example.com");
    assert_eq!(approved.body["history"][1]["identity"], "oidc");
}

/// Break-glass under OIDC: no identity 401, a key outside the JWKS 401, a verified Change
/// Advisory Board member 200.
async fn case_29(d: &Deployment) {
    let body = json!({"decision": terraform_block("dec_29"), "reason": "Production recovery"});
    let anonymous = d
        .api
        .call(
            Route::BreakGlass,
            "/approvals/break-glass",
            Some(body.clone()),
            None,
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let attacker =
        std::fs::read(format!("{OIDC_FIXTURES}/attacker-rsa-private.pem")).expect("attacker key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-key".into());
    let forged = jsonwebtoken::encode(
        &header,
        &json!({"iss": "https://login.example", "aud": "cavra-approvals",
                "exp": crate::http_suite::now_unix() + 300, "email": "cab@example.com",
                "groups": ["Change Advisory Board"]}),
        &EncodingKey::from_rsa_pem(&attacker).expect("RSA key"),
    )
    .expect("sign");
    let refused = d
        .api
        .call(
            Route::BreakGlass,
            "/approvals/break-glass",
            Some(body.clone()),
            Some(&forged),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.detail(), "OIDC token signature is invalid");
    let cab = token("cab@example.com", &["Change Advisory Board"]);
    let glass = d
        .api
        .call(
            Route::BreakGlass,
            "/approvals/break-glass",
            Some(body),
            Some(&cab),
        )
        .await;
    assert_eq!(glass.status, StatusCode::OK, "case 29: {}", glass.body);
    assert_eq!(glass.body["state"], "break_glass");
    assert_eq!(glass.body["requested_by"], "cab@example.com");
    assert_eq!(glass.body["review_required"], true);
}

/// A body `actor_token` without OIDC configured is 400.
async fn case_30(d: &Deployment) {
    let id = id_of(&create(d, json!({"decision": iam_decision("dec_30")}), None).await);
    let answer = d
        .api
        .call(
            Route::Approve,
            &format!("/approvals/{id}/approve"),
            Some(json!({"reason": "ok", "actor_token": "x.y.z"})),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.detail(), "approval OIDC config is not configured");
}

/// Deliver with a provider config: 200 with the redacted result, the webhook received the
/// envelope once, and the evidence is kept in the request's history.
async fn case_31(d: &Deployment, hook: &Receiver) {
    let id = id_of(&create(d, json!({"decision": iam_decision("dec_31")}), None).await);
    let answer = d
        .api
        .call(
            Route::Deliver,
            &format!("/approvals/{id}/deliver"),
            Some(json!({"provider": "webhook", "retries": 1, "timeout_seconds": 3})),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "case 31: {}", answer.body);
    assert_eq!(answer.body["schema_version"], "cavra.approval.delivery.v1");
    assert_eq!(answer.body["success"], true);
    let delivery = &answer.body["deliveries"][0];
    assert_eq!(delivery["provider"], "webhook");
    assert_eq!(delivery["status_code"], 201);
    assert_eq!(delivery["attempt_count"], 1);
    let seen = hook.seen();
    assert_eq!(seen.len(), 1, "one POST reached the webhook");
    assert_eq!(seen[0].path, "/hook");
    assert_eq!(seen[0].json()["event_type"], "cavra.approval.pending");
    assert_eq!(seen[0].json()["payload"]["approval_id"], id.as_str());
    let record = d
        .api
        .call(Route::Get, &format!("/approvals/{id}"), None, None)
        .await;
    let history = record.body["history"].as_array().expect("history");
    assert_eq!(
        history.last().map(|e| &e["event"]),
        Some(&json!("delivered")),
        "{}",
        record.body
    );
    if let Some(config) = console_get(d, "/console/config", None).await {
        assert_eq!(config["approval_provider_delivery"], "configured");
    }
}

/// Deliver: unknown id 404 first; without a provider config 400.
async fn case_32(d: &Deployment) {
    let missing = d
        .api
        .call(
            Route::Deliver,
            "/approvals/apr_000000000009/deliver",
            None,
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let id = id_of(&create(d, json!({"decision": iam_decision("dec_32")}), None).await);
    let answer = d
        .api
        .call(
            Route::Deliver,
            &format!("/approvals/{id}/deliver"),
            Some(json!({"provider": "all"})),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.detail(),
        "approval provider config is not configured"
    );
}

/// A raw decision body creates a request. The original gave it the decision's own group
/// (bypassing routing); issue E makes routing authoritative, so an IAM write goes to IAM.
async fn case_33(d: &Deployment) {
    let created = create(d, iam_decision("dec_33"), None).await;
    assert_eq!(created["decision_id"], "dec_33");
    assert_eq!(created["approver_group"], "IAM");
}

/// Break-glass without a reason is 400; with actor, reason and `INC-9` it records the
/// override.
async fn case_34(d: &Deployment) {
    let decision = terraform_block("dec_34");
    let refused = d
        .api
        .call(
            Route::BreakGlass,
            "/approvals/break-glass",
            Some(json!({"decision": decision, "actor": "incident-commander"})),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.detail(), "break-glass reason is required");
    let glass = d
        .api
        .call(
            Route::BreakGlass,
            "/approvals/break-glass",
            Some(json!({"decision": decision, "actor": "incident-commander",
                        "reason": "Production recovery", "external_ref": "INC-9"})),
            None,
        )
        .await;
    assert_eq!(glass.status, StatusCode::OK, "case 34: {}", glass.body);
    assert_eq!(glass.body["state"], "break_glass");
    assert_eq!(glass.body["external_ref"], "INC-9");
    assert_eq!(glass.body["history"].as_array().map(Vec::len), Some(3));
}

//! Handler tests: `lambda_http` requests built in-process, run through `dispatch`, on the
//! in-memory store. Original §13 cases 23–34 (contract results where CONTRACT differs) and the
//! negative statuses of CONTRACT §9.

use std::sync::Arc;

use cavra_api::config::{Config, StoreConfig};
use cavra_api::{AppState, dispatch};
use cavra_core::ids::SequentialIds;
use cavra_core::memory::MemoryStore;
use cavra_core::time::{ManualClock, Timestamp};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request};
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/oidc");
const NOW: &str = "2026-05-18T12:00:00+00:00";

struct Api {
    state: AppState,
    _dir: tempfile::TempDir,
}

#[derive(Default)]
struct Setup {
    oidc: bool,
    rbac: Option<&'static str>,
    routing: Option<&'static str>,
}

fn api(setup: Setup) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::from_lookup(|_| None);
    config.store = StoreConfig::Json {
        path: dir.path().join("unused.json"),
    };
    if setup.oidc {
        config.oidc_config = Some(format!("{FIXTURES}/oidc-config.json").into());
    }
    if let Some(rbac) = setup.rbac {
        let path = dir.path().join("rbac.json");
        std::fs::write(&path, rbac).unwrap();
        config.rbac_file = Some(path);
    }
    if let Some(routing) = setup.routing {
        let path = dir.path().join("routing.json");
        std::fs::write(&path, routing).unwrap();
        config.routing_file = Some(path);
    }
    let clock = Arc::new(ManualClock::new(NOW.parse::<Timestamp>().unwrap()));
    let state = AppState::build(
        config,
        Arc::new(MemoryStore::new()),
        clock,
        Arc::new(SequentialIds::default()),
    )
    .unwrap();
    Api { state, _dir: dir }
}

fn now_unix() -> i64 {
    NOW.parse::<Timestamp>().unwrap().unix_seconds()
}

fn token(claims: Value) -> String {
    let pem = std::fs::read(format!("{FIXTURES}/rsa-private.pem")).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-key".into());
    let mut claims = claims;
    let object = claims.as_object_mut().unwrap();
    object
        .entry("iss")
        .or_insert(json!("https://login.example"));
    object.entry("aud").or_insert(json!("cavra-approvals"));
    object.entry("exp").or_insert(json!(now_unix() + 300));
    // A token names its subject; tests that are about the other claims default it.
    if object.get("sub").is_some_and(Value::is_null) {
        // `"sub": null` asks for a token without one.
        object.remove("sub");
    } else if !object.contains_key("sub") {
        let subject = object
            .get("email")
            .or_else(|| object.get("preferred_username"))
            .cloned()
            .unwrap_or_else(|| json!("user"));
        object.insert("sub".into(), subject);
    }
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
}

fn iam_decision(id: &str) -> Value {
    json!({
        "decision_id": id, "session_id": "local", "action_type": "write_file", "target": "iam/admin-role.tf",
        "rule_id": "filesystem.write.require_approval", "decision": "require_approval", "severity": "high",
        "reason": "Matched approval-required path policy: iam/**", "evidence_refs": [format!("evidence://local/{id}")],
        "approver_group": "Platform Security", "policy_pack": "cavra-ai-agent-baseline"
    })
}

impl Api {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> (StatusCode, Value) {
        self.call_raw(method, path, body.map(|b| b.to_string()), bearer, &[])
            .await
    }

    async fn call_raw(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        bearer: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
        let mut builder = lambda_http::http::Request::builder()
            .method(method)
            .uri(path);
        if let Some(token) = bearer {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        // A JSON API client declares its body (local mode refuses state changes that do not).
        if method != "GET"
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            builder = builder.header("content-type", "application/json");
        }
        let request: Request = builder.body(body.map_or(Body::Empty, Body::Text)).unwrap();
        let pairs: std::collections::HashMap<String, Vec<String>> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, "")))
            .fold(std::collections::HashMap::new(), |mut m, (k, v)| {
                m.entry(k.to_owned())
                    .or_default()
                    .push(v.replace("%20", " "));
                m
            });
        let request = lambda_http::RequestExt::with_query_string_parameters(request, pairs);
        let _ = path_only;
        let response = dispatch(&self.state, request).await;
        let status = response.status();
        let body = match response.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            Body::Binary(b) => serde_json::from_slice(b).unwrap(),
            _ => Value::Null,
        };
        (status, body)
    }

    async fn create(&self, body: Value, bearer: Option<&str>) -> Value {
        let (status, record) = self.call("POST", "/approvals", Some(body), bearer).await;
        assert_eq!(status, StatusCode::CREATED, "{record}");
        record
    }
}

#[tokio::test]
async fn case_23_create_then_approve_then_list_approved() {
    let api = api(Setup::default());
    let created = api
        .create(
            json!({"decision": iam_decision("dec_23"), "requested_by": "developer"}),
            None,
        )
        .await;
    assert_eq!(created["state"], "pending");
    let id = created["approval_id"].as_str().unwrap();
    let (status, approved) = api
        .call(
            "POST",
            &format!("/approvals/{id}/approve"),
            Some(json!({"actor": "iam", "reason": "ok", "external_ref": "CHG-22"})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(approved["state"], "approved");
    assert_eq!(approved["external_ref"], "CHG-22");
    let (status, page) = api
        .call("GET", "/approvals?state=approved", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 1);
}

#[tokio::test]
async fn creation_answers_201_with_location_then_200_for_the_same_open_decision() {
    let api = api(Setup::default());
    let body = json!({"decision": iam_decision("dec_x"), "requested_by": "developer"});
    let first = api.create(body.clone(), None).await;
    let (status, again) = api.call("POST", "/approvals", Some(body), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["approval_id"], first["approval_id"]);
    let (status, keyed) = api
        .call_raw(
            "POST",
            "/approvals",
            Some(json!({"decision": iam_decision("dec_k")}).to_string()),
            None,
            &[("idempotency-key", "retry-1")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, replay) = api
        .call_raw(
            "POST",
            "/approvals",
            Some(json!({"decision": iam_decision("dec_k")}).to_string()),
            None,
            &[("idempotency-key", "retry-1")],
        )
        .await;
    assert_eq!(
        (status, &replay["approval_id"]),
        (StatusCode::OK, &keyed["approval_id"])
    );
    let (status, err) = api
        .call_raw(
            "POST",
            "/approvals",
            Some(json!({"decision": iam_decision("dec_other")}).to_string()),
            None,
            &[("idempotency-key", "retry-1")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        err["detail"],
        "Idempotency-Key was already used for a different decision"
    );
}

#[tokio::test]
async fn case_25_the_routing_file_applies_to_wrapped_requests() {
    let api = api(Setup {
        routing: Some(
            r#"{"approval_routing": [{"rule_id_prefix": "filesystem.write", "target_contains": "iam/", "approver_group": "Cloud IAM Owners"}]}"#,
        ),
        ..Setup::default()
    });
    let created = api
        .create(json!({"decision": iam_decision("dec_25")}), None)
        .await;
    assert_eq!(created["approver_group"], "Cloud IAM Owners");
}

#[tokio::test]
async fn case_26_claims_without_oidc_authorise_by_group_with_403_for_others() {
    let api = api(Setup::default());
    let id = api
        .create(
            json!({"decision": iam_decision("dec_26"), "requested_by": "developer"}),
            None,
        )
        .await["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/approvals/{id}/approve");
    let (status, err) = api.call("POST", &path, Some(json!({"actor": "dev", "reason": "ok", "actor_claims": {"email": "dev@example.com", "groups": ["Developers"]}})), None).await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (
            StatusCode::FORBIDDEN,
            "actor is not authorized for approval group"
        )
    );
    let (status, ok) = api.call("POST", &path, Some(json!({"actor": "iam@example.com", "reason": "ok", "actor_claims": {"email": "iam@example.com", "groups": ["IAM"]}})), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ok["state"], "approved");
    assert_eq!(ok["history"][1]["identity"], "unverified");
}

const PAYMENTS_RBAC: &str = r#"{"approval_rbac": {"group_mappings": {"github-team:payments-owners": "Payments Owners"},
    "repository_permissions": [{"repository": "payments/api", "approver_group": "IAM", "groups": ["Payments Owners"], "actions": ["approved"]}]}}"#;

#[tokio::test]
async fn case_27_and_28_a_signed_token_with_rbac_approves_and_is_recorded() {
    let api = api(Setup {
        oidc: true,
        rbac: Some(PAYMENTS_RBAC),
        ..Setup::default()
    });
    let requester = token(json!({"email": "developer@example.com", "groups": ["Developers"]}));
    let mut decision = iam_decision("dec_27");
    decision["repository"] = json!("payments/api");
    let created = api
        .create(json!({"decision": decision}), Some(&requester))
        .await;
    assert_eq!(
        created["requested_by"], "developer@example.com",
        "the verified requester is recorded"
    );
    let id = created["approval_id"].as_str().unwrap();
    let path = format!("/approvals/{id}/approve");
    let (status, err) = api
        .call("POST", &path, Some(json!({"reason": "ok"})), None)
        .await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (
            StatusCode::UNAUTHORIZED,
            "console action requires verified actor context"
        )
    );
    let owner = token(
        json!({"email": "owner@example.com", "sub": "u-1", "groups": ["github-team:payments-owners"]}),
    );
    let (status, approved) = api
        .call(
            "POST",
            &path,
            Some(json!({"actor": "someone-else", "reason": "ok"})),
            Some(&owner),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["decided_by"], "owner@example.com");
    assert_eq!(approved["history"][1]["identity"], "oidc");
    assert_eq!(approved["history"][1]["subject"], "u-1");
}

#[tokio::test]
async fn with_oidc_every_route_needs_a_token_and_claims_are_refused() {
    let api = api(Setup {
        oidc: true,
        ..Setup::default()
    });
    let (status, err) = api.call("GET", "/approvals", None, None).await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (
            StatusCode::UNAUTHORIZED,
            "console action requires verified actor context"
        )
    );
    let (status, _) = api
        .call("GET", "/approvals/apr_000000000001", None, None)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "identity is resolved before the lookup"
    );
    let (status, err) = api
        .call(
            "POST",
            "/approvals",
            Some(json!({"decision": iam_decision("d"), "actor_claims": {"groups": ["IAM"]}})),
            None,
        )
        .await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (
            StatusCode::UNAUTHORIZED,
            "actor claims require a verified token"
        )
    );
    let (status, err) = api
        .call_raw(
            "GET",
            "/approvals",
            None,
            None,
            &[("authorization", "Basic abc")],
        )
        .await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (
            StatusCode::UNAUTHORIZED,
            "authorization header must use Bearer token"
        )
    );
    let expired = token(json!({"email": "a@example.com", "exp": now_unix() - 3600}));
    let (status, err) = api.call("GET", "/approvals", None, Some(&expired)).await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (StatusCode::UNAUTHORIZED, "OIDC token is expired")
    );
    let reader = token(json!({"email": "a@example.com"}));
    assert_eq!(
        api.call("GET", "/approvals", None, Some(&reader)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        api.call("GET", "/approvals/apr_000000000001", None, Some(&reader))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn case_29_break_glass_needs_a_verified_cab_member() {
    let api = api(Setup {
        oidc: true,
        rbac: Some(r#"{"approval_rbac": {"group_mappings": {}}}"#),
        ..Setup::default()
    });
    let decision = json!({"decision_id": "dec_29", "action_type": "execute_command", "target": "terraform apply", "rule_id": "commands.block", "decision": "block", "reason": "blocked"});
    let body = json!({"decision": decision, "reason": "outage"});
    assert_eq!(
        api.call("POST", "/approvals/break-glass", Some(body.clone()), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let attacker_pem = std::fs::read(format!("{FIXTURES}/attacker-rsa-private.pem")).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-key".into());
    let forged = jsonwebtoken::encode(&header, &json!({"iss": "https://login.example", "aud": "cavra-approvals", "exp": now_unix() + 300, "email": "cab@example.com", "groups": ["Change Advisory Board"]}), &EncodingKey::from_rsa_pem(&attacker_pem).unwrap()).unwrap();
    let (status, err) = api
        .call(
            "POST",
            "/approvals/break-glass",
            Some(body.clone()),
            Some(&forged),
        )
        .await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (StatusCode::UNAUTHORIZED, "OIDC token signature is invalid")
    );
    let iam = token(json!({"email": "iam@example.com", "groups": ["IAM"]}));
    let (status, err) = api
        .call(
            "POST",
            "/approvals/break-glass",
            Some(body.clone()),
            Some(&iam),
        )
        .await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (
            StatusCode::FORBIDDEN,
            "actor is not authorized for break-glass"
        )
    );
    let cab = token(json!({"email": "cab@example.com", "groups": ["Change Advisory Board"]}));
    let (status, record) = api
        .call("POST", "/approvals/break-glass", Some(body), Some(&cab))
        .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["requested_by"], "cab@example.com");
    assert_eq!(record["state"], "break_glass");
}

#[tokio::test]
async fn case_30_an_actor_token_without_oidc_is_400() {
    let api = api(Setup::default());
    let id = api
        .create(json!({"decision": iam_decision("dec_30")}), None)
        .await["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, err) = api
        .call(
            "POST",
            &format!("/approvals/{id}/approve"),
            Some(json!({"reason": "ok", "actor_token": "x.y.z"})),
            None,
        )
        .await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (
            StatusCode::BAD_REQUEST,
            "approval OIDC config is not configured"
        )
    );
}

#[tokio::test]
async fn case_32_deliver_without_provider_config_is_400_after_the_lookup() {
    let api = api(Setup::default());
    assert_eq!(
        api.call("POST", "/approvals/apr_000000000009/deliver", None, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let id = api
        .create(json!({"decision": iam_decision("dec_32")}), None)
        .await["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, err) = api
        .call(
            "POST",
            &format!("/approvals/{id}/deliver"),
            Some(json!({"provider": "all"})),
            None,
        )
        .await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (
            StatusCode::BAD_REQUEST,
            "approval provider config is not configured"
        )
    );
}

#[tokio::test]
async fn case_33_a_raw_decision_body_is_routed_like_a_wrapped_one() {
    // The original let a raw decision's own approver_group bypass routing; issue E makes
    // routing authoritative, so the decision's suggestion is neither the group nor an added one.
    let api = api(Setup::default());
    let created = api.create(iam_decision("dec_33"), None).await;
    assert_eq!(created["decision_id"], "dec_33");
    assert_eq!(created["approver_group"], "IAM");
    assert!(created.get("required_groups").is_none(), "{created}");
}

#[tokio::test]
async fn case_34_break_glass_needs_a_reason_then_records_the_override() {
    let api = api(Setup::default());
    let decision = json!({"decision_id": "dec_34", "target": "terraform apply", "rule_id": "commands.block", "decision": "block"});
    let (status, err) = api
        .call(
            "POST",
            "/approvals/break-glass",
            Some(json!({"decision": decision, "actor": "ic"})),
            None,
        )
        .await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "break-glass reason is required")
    );
    let (status, record) = api.call("POST", "/approvals/break-glass", Some(json!({"decision": decision, "actor": "ic", "reason": "outage", "external_ref": "INC-9"})), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(record["state"], "break_glass");
    assert_eq!(record["external_ref"], "INC-9");
}

#[tokio::test]
async fn expire_with_no_body_is_unnamed_and_a_partial_body_needs_a_reason() {
    let api = api(Setup::default());
    let id = api
        .create(json!({"decision": iam_decision("dec_e")}), None)
        .await["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, err) = api
        .call(
            "POST",
            &format!("/approvals/{id}/expire"),
            Some(json!({"actor": "ops"})),
            None,
        )
        .await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "reason is required")
    );
    let (status, record) = api
        .call("POST", &format!("/approvals/{id}/expire"), None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        record["decided_by"], "anonymous",
        "system is the sweeper's name alone"
    );
    assert_eq!(record["decision_reason"], "approval expired");
}

#[tokio::test]
async fn negative_statuses_404_409_413_422() {
    let api = api(Setup::default());
    let (status, err) = api
        .call("GET", "/approvals/apr_00000000ffff", None, None)
        .await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (StatusCode::NOT_FOUND, "approval not found")
    );
    let id = api
        .create(
            json!({"decision": iam_decision("dec_n"), "requested_by": "developer"}),
            None,
        )
        .await["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.call(
        "POST",
        &format!("/approvals/{id}/deny"),
        Some(json!({"actor": "a", "reason": "no"})),
        None,
    )
    .await;
    let (status, err) = api
        .call(
            "POST",
            &format!("/approvals/{id}/approve"),
            Some(json!({"actor": "b", "reason": "yes"})),
            None,
        )
        .await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (
            StatusCode::CONFLICT,
            "only pending approvals can be changed"
        )
    );
    let big = format!(
        "{{\"decision\": {{\"decision_id\": \"d\", \"pad\": \"{}\"}}}}",
        "x".repeat(300 * 1024)
    );
    assert_eq!(
        api.call_raw("POST", "/approvals", Some(big), None, &[])
            .await
            .0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let (status, err) = api
        .call_raw("POST", "/approvals", Some("{not json".into()), None, &[])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        err["detail"]
            .as_str()
            .unwrap()
            .starts_with("request body is not valid JSON")
    );
    assert_eq!(
        api.call_raw("POST", "/approvals", Some("[1, 2]".into()), None, &[])
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        api.call("GET", "/approvals?limit=abc", None, None).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (status, err) = api
        .call(
            "POST",
            "/approvals",
            Some(json!({"decision": {"decision_id": "d", "decision": "allow"}})),
            None,
        )
        .await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (
            StatusCode::BAD_REQUEST,
            "decision does not require approval: allow"
        )
    );
    assert_eq!(
        api.call("DELETE", "/approvals", None, None).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        api.call("GET", "/nowhere", None, None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn racing_approvals_over_http_give_one_200_and_409s() {
    let api = Arc::new(api(Setup::default()));
    let id = api
        .create(
            json!({"decision": iam_decision("dec_r"), "requested_by": "developer"}),
            None,
        )
        .await["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..32 {
        let api = api.clone();
        let path = format!("/approvals/{id}/approve");
        tasks.spawn(async move {
            api.call(
                "POST",
                &path,
                Some(json!({"actor": format!("a{n}"), "reason": "ok"})),
                None,
            )
            .await
            .0
        });
    }
    let mut statuses = Vec::new();
    while let Some(s) = tasks.join_next().await {
        statuses.push(s.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1);
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        31
    );
}

#[tokio::test]
async fn attach_decision_returns_the_summary_and_list_pages_with_a_cursor() {
    let api = api(Setup::default());
    let decision = iam_decision("dec_a");
    let id = api.create(json!({"decision": decision}), None).await["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, attached) = api
        .call(
            "POST",
            &format!("/approvals/{id}/attach-decision"),
            Some(decision),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(attached["approval"]["approval_id"], id.as_str());
    for n in 0..4 {
        api.create(
            json!({"decision": iam_decision(&format!("dec_p{n}"))}),
            None,
        )
        .await;
    }
    let (_, first) = api.call("GET", "/approvals?limit=2", None, None).await;
    assert_eq!(first["total"], 5);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = api
        .call(
            "GET",
            &format!("/approvals?limit=2&cursor={cursor}"),
            None,
            None,
        )
        .await;
    assert_ne!(
        first["items"][0]["approval_id"],
        second["items"][0]["approval_id"]
    );
    let (status, _) = api
        .call("GET", "/approvals?cursor=garbage", None, None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn regression_a_body_with_a_duplicate_key_is_refused_and_nothing_is_stored() {
    let api = api(Setup::default());
    let decision = iam_decision("dec_dup").to_string();
    let body =
        format!(r#"{{"decision": {decision}, "requested_by": "dev", "requested_by": "system"}}"#);
    let (status, error) = api
        .call_raw(
            "POST",
            "/approvals",
            Some(body),
            None,
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error
            .to_string()
            .contains("request body is refused: duplicate key"),
        "{error}"
    );
    let (_, page) = api.call("GET", "/approvals", None, None).await;
    assert_eq!(page["total"], 0);
}

#[tokio::test]
async fn a_created_record_has_the_documented_shape() {
    let api = api(Setup::default());
    let created = api
        .create(
            json!({"decision": iam_decision("dec_snap"), "requested_by": "developer"}),
            None,
        )
        .await;
    // Hashes and digests change with any byte of the record; the shape is what is pinned.
    // (The snapshot takes pretty text: with serde_json's `arbitrary_precision`, insta's own
    // serializer would show numbers as private structs.)
    let mut shape = created.clone();
    for entry in shape["history"].as_array_mut().unwrap() {
        entry["hash"] = json!("[hash]");
        entry["prev_hash"] = json!("[hash]");
    }
    shape["decision_digest"] = json!("[digest]");
    insta::assert_snapshot!(
        "a_created_record_has_the_documented_shape",
        serde_json::to_string_pretty(&shape).unwrap()
    );
}

#[tokio::test]
async fn case_24_a_sqlite_deployment_says_so_in_console_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("approvals.db");
    let mut config = Config::from_lookup(|_| None);
    config.store = StoreConfig::Sqlite { path: path.clone() };
    let state = AppState::build(
        config,
        Arc::new(cavra_store_sqlite::SqliteStore::open(&path).unwrap()),
        Arc::new(ManualClock::new(NOW.parse::<Timestamp>().unwrap())),
        Arc::new(SequentialIds::default()),
    )
    .unwrap();
    let api = Api { state, _dir: dir };
    let created = api
        .create(json!({"decision": iam_decision("dec_24")}), None)
        .await;
    assert_eq!(created["state"], "pending");
    let (_, page) = api
        .call("GET", "/approvals?state=pending", None, None)
        .await;
    assert_eq!(page["total"], 1);
    let (status, config) = api.call("GET", "/console/config", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config["approval_mode"], "sqlite");
    assert_eq!(config["approval_oidc"], "disabled");
    assert_eq!(config["endpoints"]["approvals"], "/approvals");
}

#[tokio::test]
async fn case_27_console_config_reports_oidc_and_rbac_configured() {
    let api = api(Setup {
        oidc: true,
        rbac: Some(PAYMENTS_RBAC),
        ..Setup::default()
    });
    let (_, config) = api.call("GET", "/console/config", None, None).await;
    assert_eq!(config["approval_oidc"], "configured");
    assert_eq!(config["approval_rbac"], "configured");
    assert_eq!(config["approval_provider_delivery"], "disabled");
}

#[tokio::test]
async fn case_28_the_session_view_follows_the_bearer_token() {
    let api = api(Setup {
        oidc: true,
        rbac: Some(PAYMENTS_RBAC),
        ..Setup::default()
    });
    let (status, anonymous) = api.call("GET", "/console/session", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(anonymous["mode"], "auth_required");
    assert_eq!(anonymous["authenticated"], false);
    assert_eq!(anonymous["actor"], Value::Null);
    let owner = token(
        json!({"email": "owner@example.com", "sub": "u-1", "groups": ["github-team:payments-owners"]}),
    );
    let (status, session) = api
        .call("GET", "/console/session", None, Some(&owner))
        .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["schema_version"], "cavra.console.session.v1");
    assert_eq!(session["authenticated"], true);
    assert_eq!(session["actor"]["actor"], "owner@example.com");
    assert_eq!(session["actor"]["issuer"], "https://login.example");
    assert_eq!(
        session["repository_permissions"][0]["repository"],
        "payments/api"
    );
    assert_eq!(session["permissions"]["decide_approvals"], true);
    assert_eq!(session["permissions"]["create_break_glass"], false);
    let (status, err) = api
        .call_raw(
            "GET",
            "/console/session",
            None,
            None,
            &[("authorization", "Token x")],
        )
        .await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (
            StatusCode::UNAUTHORIZED,
            "authorization header must use Bearer token"
        )
    );
    let no_oidc = self::api(Setup::default());
    let (status, err) = no_oidc
        .call("GET", "/console/session", None, Some(&owner))
        .await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (
            StatusCode::BAD_REQUEST,
            "console OIDC config is not configured"
        )
    );
    let (_, local) = no_oidc.call("GET", "/console/session", None, None).await;
    assert_eq!(local["mode"], "local_or_demo");
}

#[tokio::test]
async fn configuration_variables_may_hold_the_json_document_itself() {
    let jwks = std::fs::read_to_string(format!("{FIXTURES}/jwks.json")).unwrap();
    let vars: std::collections::HashMap<&str, String> = [
        (
            "CAVRA_APPROVAL_OIDC_CONFIG",
            format!(
                r#"{{"issuer": "https://login.example", "audience": "cavra-approvals", "jwks": {jwks}}}"#
            ),
        ),
        ("CAVRA_APPROVAL_RBAC_FILE", PAYMENTS_RBAC.to_owned()),
        (
            "CAVRA_APPROVAL_ROUTING_FILE",
            r#"[{"target_contains": "iam/", "approver_group": "Cloud IAM Owners"}]"#.to_owned(),
        ),
    ]
    .into_iter()
    .collect();
    let mut config = Config::from_lookup(|name| vars.get(name).cloned());
    config.store = StoreConfig::Json {
        path: "unused.json".into(),
    };
    let clock = Arc::new(ManualClock::new(NOW.parse::<Timestamp>().unwrap()));
    let state = AppState::build(
        config.clone(),
        Arc::new(MemoryStore::new()),
        clock.clone(),
        Arc::new(SequentialIds::default()),
    )
    .unwrap();
    let api = Api {
        state,
        _dir: tempfile::tempdir().unwrap(),
    };
    let requester = token(json!({"email": "developer@example.com", "groups": ["Developers"]}));
    let created = api
        .create(
            json!({"decision": iam_decision("dec_inline")}),
            Some(&requester),
        )
        .await;
    assert_eq!(created["approver_group"], "Cloud IAM Owners");

    config.rbac_file = Some("{\"approval_rbac\": ".into());
    let error = AppState::build(
        config,
        Arc::new(MemoryStore::new()),
        clock,
        Arc::new(SequentialIds::default()),
    )
    .unwrap_err();
    assert!(
        error.to_string().starts_with(
            "invalid configuration: CAVRA_APPROVAL_RBAC_FILE holds invalid inline JSON"
        ),
        "{error}"
    );
}

// Issue E §3 and §6: identity at the edge, content types, 405, deliver authorisation.

async fn dispatch_raw(
    api: &Api,
    request: Request,
) -> (StatusCode, lambda_http::http::HeaderMap, Value) {
    let response = dispatch(&api.state, request).await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = match response.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap(),
        _ => Value::Null,
    };
    (status, headers, body)
}

#[tokio::test]
async fn regression_e_two_authorization_headers_are_400() {
    let api = api(Setup {
        oidc: true,
        ..Setup::default()
    });
    let iam = token(json!({"email": "iam@example.com", "groups": ["IAM"]}));
    let developer = token(json!({"email": "dev@example.com", "groups": ["Developers"]}));
    for (first, second) in [(&iam, &developer), (&developer, &iam), (&iam, &iam)] {
        let request: Request = lambda_http::http::Request::builder()
            .method("GET")
            .uri("/approvals")
            .header("authorization", format!("Bearer {first}"))
            .header("authorization", format!("Bearer {second}"))
            .body(Body::Empty)
            .unwrap();
        let (status, _, body) = dispatch_raw(&api, request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["detail"], "authorization header must appear once");
    }
}

#[tokio::test]
async fn regression_e_tokens_without_sub_or_issued_in_the_future_are_401() {
    let api = api(Setup {
        oidc: true,
        ..Setup::default()
    });
    let cases = [
        (
            json!({"email": "iam@example.com", "groups": ["IAM"], "sub": null}),
            "OIDC token is missing sub",
        ),
        (
            json!({"sub": "", "email": "iam@example.com", "groups": ["IAM"]}),
            "OIDC token is missing sub",
        ),
        (
            json!({"sub": "u-1", "groups": ["IAM"], "iat": now_unix() + 10 * 365 * 86_400, "exp": now_unix() + 10 * 365 * 86_400 + 300}),
            "OIDC token is issued in the future",
        ),
    ];
    for (claims, message) in cases {
        let (status, body) = api
            .call("GET", "/approvals", None, Some(&token(claims.clone())))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{claims}: {body}");
        assert_eq!(body["detail"], message, "{claims}");
    }
}

#[tokio::test]
async fn regression_e_state_changes_must_declare_json() {
    let local = api(Setup::default());
    let body = json!({"decision": iam_decision("dec_plain")}).to_string();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "",
    ] {
        let (status, error) = local
            .call_raw(
                "POST",
                "/approvals",
                Some(body.clone()),
                None,
                &[("content-type", content_type)],
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}: {error}"
        );
        assert_eq!(
            error["detail"],
            "request body must be JSON: send content-type: application/json"
        );
    }
    let (_, page) = local.call("GET", "/approvals", None, None).await;
    assert_eq!(page["total"], 0, "nothing was stored: {page}");

    // Parameters and +json types are JSON.
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
    ] {
        let (status, error) = local
            .call_raw(
                "POST",
                "/approvals",
                Some(
                    json!({"decision": iam_decision(&format!("dec_{}", content_type.len()))})
                        .to_string(),
                ),
                None,
                &[("content-type", content_type)],
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{content_type:?}: {error}");
    }

    // Local mode: a body-less state change (a cross-site form or `fetch` without a preflight)
    // is refused too.
    let id = local
        .create(json!({"decision": iam_decision("dec_empty")}), None)
        .await["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let request: Request = lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("/approvals/{id}/expire"))
        .header("content-type", "text/plain")
        .body(Body::Empty)
        .unwrap();
    let (status, _, _) = dispatch_raw(&local, request).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (_, record) = local
        .call("GET", &format!("/approvals/{id}"), None, None)
        .await;
    assert_eq!(record["state"], "pending");

    // With OIDC a token proves the caller; a body-less state change needs no content type.
    let oidc = api(Setup {
        oidc: true,
        ..Setup::default()
    });
    let iam = token(json!({"email": "iam@example.com", "groups": ["IAM"]}));
    let developer = token(json!({"email": "dev@example.com", "groups": ["Developers"]}));
    let id = oidc
        .create(
            json!({"decision": iam_decision("dec_oidc_empty")}),
            Some(&developer),
        )
        .await["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let request: Request = lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("/approvals/{id}/expire"))
        .header("authorization", format!("Bearer {iam}"))
        .body(Body::Empty)
        .unwrap();
    let (status, _, body) = dispatch_raw(&oidc, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "expired");
}

#[tokio::test]
async fn regression_e_405_names_the_allowed_methods() {
    let api = api(Setup::default());
    for (method, path, allow) in [
        ("DELETE", "/approvals", "GET, HEAD, POST"),
        ("PUT", "/approvals/apr_000000000001", "GET, HEAD"),
        ("GET", "/approvals/apr_000000000001/approve", "POST"),
        ("PATCH", "/approvals/break-glass", "POST"),
    ] {
        let request: Request = lambda_http::http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::Empty)
            .unwrap();
        let (status, headers, body) = dispatch_raw(&api, request).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(body["detail"], "method not allowed");
        assert_eq!(
            headers.get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn regression_e_deliver_authorises_before_the_provider_config_is_looked_at() {
    let api = api(Setup {
        oidc: true,
        rbac: Some(
            r#"{"repository_permissions": [{"groups": ["release-bots"], "actions": ["delivered"]}]}"#,
        ),
        ..Setup::default()
    });
    let developer = token(json!({"email": "dev@example.com", "groups": ["Developers"]}));
    let id = api
        .create(
            json!({"decision": iam_decision("dec_deliver_authz")}),
            Some(&developer),
        )
        .await["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deliver = format!("/approvals/{id}/deliver");
    // A login alone is not enough: the developer (not in IAM) is refused before anything
    // about the provider config is revealed.
    let (status, body) = api.call("POST", &deliver, None, Some(&developer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        body["detail"],
        "actor is not authorized to deliver this request"
    );
    // The routed group, or an RBAC grant with the delivered action, gets as far as the config.
    for who in [
        token(json!({"email": "iam@example.com", "groups": ["IAM"]})),
        token(json!({"email": "bot@example.com", "groups": ["release-bots"]})),
    ] {
        let (status, body) = api.call("POST", &deliver, None, Some(&who)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["detail"], "approval provider config is not configured");
    }
    // 404 before 403: an unknown id says so to anyone logged in.
    let (status, _) = api
        .call(
            "POST",
            "/approvals/apr_0000000000ff/deliver",
            None,
            Some(&developer),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn regression_e_an_outcome_that_is_not_text_is_refused_and_nothing_is_stored() {
    let api = api(Setup::default());
    for outcome in [
        json!(["allow"]),
        json!({}),
        json!(1),
        json!(true),
        json!(["require_approval"]),
    ] {
        let mut decision = iam_decision("dec_not_text");
        decision["decision"] = outcome.clone();
        let (status, body) = api
            .call(
                "POST",
                "/approvals",
                Some(json!({"decision": decision})),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{outcome}: {body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .starts_with("decision must be one of:"),
            "{body}"
        );
    }
    let (_, page) = api.call("GET", "/approvals", None, None).await;
    assert_eq!(page["total"], 0, "{page}");
}

#[tokio::test]
async fn regression_e_claims_beside_a_token_or_a_token_that_is_not_text_are_400() {
    let api = api(Setup::default());
    for (extra, message) in [
        (
            json!({"actor_claims": {}, "actor_token": 7}),
            "actor_token must be a string",
        ),
        (
            json!({"actor_claims": {"email": "iam@example.com", "groups": ["IAM"]}, "actor_token": "x.y.z"}),
            "give one identity: actor_claims or actor_token, not both",
        ),
        (
            json!({"actor_token": {"sub": "me"}}),
            "actor_token must be a string",
        ),
    ] {
        let mut body = json!({"decision": iam_decision("dec_two_sources")});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, error) = api.call("POST", "/approvals", Some(body), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra}: {error}");
        assert_eq!(error["detail"], message, "{extra}");
    }
    let (_, page) = api.call("GET", "/approvals", None, None).await;
    assert_eq!(page["total"], 0, "{page}");
}

#[tokio::test]
async fn issue_i_the_rationale_is_kept_and_an_over_long_one_is_400() {
    let api = api(Setup::default());
    let record = api
        .create(
            json!({"decision": iam_decision("dec_rationale"), "requested_by": "developer",
                   "rationale": "Rotate the key before the audit.\u{202E}<script>alert(1)</script>"}),
            None,
        )
        .await;
    // Stored as text: the bidi override is gone, the markup is kept verbatim (the console
    // renders it as text).
    assert_eq!(
        record["rationale"],
        "Rotate the key before the audit.<script>alert(1)</script>"
    );
    let (status, err) = api
        .call(
            "POST",
            "/approvals",
            Some(json!({"decision": iam_decision("dec_rationale_long"), "rationale": "x".repeat(2001)})),
            None,
        )
        .await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (
            StatusCode::BAD_REQUEST,
            "rationale is too long: 2001 characters (at most 2000)"
        )
    );
    let (status, err) = api
        .call(
            "POST",
            "/approvals",
            Some(json!({"decision": iam_decision("dec_rationale_type"), "rationale": ["x"]})),
            None,
        )
        .await;
    assert_eq!(
        (status, err["detail"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "rationale must be a string")
    );
}

#[tokio::test]
async fn issue_i_a_403_on_a_decision_names_the_groups_that_decide() {
    let api = api(Setup::default());
    let id = api
        .create(
            json!({"decision": iam_decision("dec_403_groups"), "requested_by": "developer"}),
            None,
        )
        .await["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, err) = api.call("POST", &format!("/approvals/{id}/approve"), Some(json!({"actor": "dev", "reason": "ok", "actor_claims": {"email": "dev@example.com", "groups": ["Developers"]}})), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(err["detail"], "actor is not authorized for approval group");
    assert_eq!(err["required_groups"], json!(["IAM"]));
}

#[tokio::test]
async fn issue_i_break_glass_from_a_blocked_request_is_validated_and_closes_it() {
    let api = api(Setup::default());
    let decision = json!({"decision_id": "dec_linked", "action_type": "execute_command",
        "target": "terraform apply -auto-approve", "rule_id": "commands.block", "decision": "block",
        "severity": "critical", "reason": "blocked", "approver_group": "Platform Security"});
    let id = api
        .create(json!({"decision": decision, "requested_by": "agent"}), None)
        .await["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = "/approvals/break-glass";
    let body = |rule: &str, blocked: &str| {
        json!({"decision": {"rule_id": rule, "target": "terraform apply -auto-approve"},
               "blocked_approval_id": blocked, "actor": "ic", "reason": "outage", "external_ref": "INC-1"})
    };
    // A rule text other than the request's is refused, and nothing changes.
    let (status, err) = api
        .call("POST", path, Some(body("anything.goes", &id)), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert!(
        err["detail"]
            .as_str()
            .unwrap()
            .starts_with(&format!("rule_id does not match blocked request {id}")),
        "{err}"
    );
    let (_, still) = api
        .call("GET", &format!("/approvals/{id}"), None, None)
        .await;
    assert_eq!(still["state"], "pending");
    // An unknown request is 404.
    let (status, err) = api
        .call(
            "POST",
            path,
            Some(body("commands.block", "apr_0000000009ff")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    assert_eq!(err["detail"], "blocked request not found: apr_0000000009ff");
    // The request's own rule: the override is recorded, linked, and closes the request.
    let (status, record) = api
        .call("POST", path, Some(body("commands.block", &id)), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["state"], "break_glass");
    assert_eq!(record["overrides"], id.as_str());
    assert_eq!(record["decision"]["decision_id"], "dec_linked");
    let override_id = record["approval_id"].as_str().unwrap().to_owned();
    let (_, closed) = api
        .call("GET", &format!("/approvals/{id}"), None, None)
        .await;
    assert_eq!(closed["state"], "expired");
    assert_eq!(closed["overridden_by"], override_id.as_str());
    assert_eq!(
        closed["history"].as_array().unwrap().last().unwrap()["event"],
        "overridden"
    );
    // Once closed it cannot be overridden again.
    let (status, err) = api
        .call("POST", path, Some(body("commands.block", &id)), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
}

//! The HTTP suites against `cavra serve` on a temporary SQLite file: the real binary, started
//! as a user starts it, on a free loopback port, configured through the original's
//! environment variables.

use cavra_e2e::deployment::{Deployment, ServeProcess, Setup};
use cavra_e2e::http_suite::{self, Api, SingleServer};
use cavra_e2e::original_cases;

/// Starts `cavra serve --port 0` configured by `setup`.
async fn serve(setup: Setup) -> Deployment {
    let server = ServeProcess::start(std::path::Path::new(env!("CARGO_BIN_EXE_cavra")), &setup);
    let base = server.base.clone();
    Deployment {
        api: Api::new(SingleServer(base.clone())),
        console_base: Some(base),
        store_mode: "sqlite",
        guard: Box::new(server),
    }
}

fn base_of(deployment: &Deployment) -> String {
    deployment
        .console_base
        .clone()
        .expect("cavra serve serves /console")
}

#[tokio::test]
async fn the_seed_flow_over_http() {
    let server = serve(Setup::suite()).await;
    http_suite::seed_flow(&server.api).await;
}

#[tokio::test]
async fn the_negative_cases_over_http() {
    let server = serve(Setup::suite()).await;
    http_suite::negative_cases(&server.api).await;
}

#[tokio::test]
async fn original_cases_23_to_34_over_http() {
    original_cases::run(serve).await;
}

#[tokio::test]
async fn unknown_paths_and_methods_are_json_errors() {
    let server = serve(Setup::suite()).await;
    let base = base_of(&server);
    let http = reqwest::Client::new();
    let missing = http.get(format!("{base}/nowhere")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let wrong_method = http
        .delete(format!("{base}/approvals"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    let body: serde_json::Value = wrong_method.json().await.unwrap();
    assert!(body["detail"].is_string());
}

/// Issue I §1.3 (compat appendix A4): `cavra serve` answers `GET /console/security-boundary`
/// without authentication (a malformed `Authorization` header is ignored); `POST` is 405.
#[tokio::test]
async fn the_security_boundary_is_served_without_authentication() {
    let http = reqwest::Client::new();
    let server = serve(Setup::suite()).await;
    let url = format!("{}/console/security-boundary", base_of(&server));
    let response = http
        .get(&url)
        .header("authorization", "Bearer not-a-jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["schema_version"], "cavra.console.security_boundary.v1");
    assert_eq!(body["mode"], "oidc_rbac_ready");
    assert_eq!(body["oidc"]["configured"], true);
    assert_eq!(body["rbac"]["configured"], true);
    assert_eq!(body["console_permissions"].as_array().unwrap().len(), 9);
    let post = http.post(&url).send().await.unwrap();
    assert_eq!(post.status(), 405);

    let local = serve(Setup::local()).await;
    let body: serde_json::Value = http
        .get(format!("{}/console/security-boundary", base_of(&local)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["mode"], "local_or_demo");
    assert_eq!(
        body["cors"],
        serde_json::json!({"configured": false, "origins": []})
    );
}

/// Issue E §6: in local mode no token proves the caller, so the server refuses what a web page
/// could make a browser send: DNS-rebound hosts, cross-origin state changes, non-JSON bodies.
#[tokio::test]
async fn local_mode_refuses_foreign_hosts_origins_and_non_json_state_changes() {
    let server = serve(Setup::local()).await;
    let base = base_of(&server);
    let port = base.rsplit(':').next().unwrap().to_owned();
    let http = reqwest::Client::new();
    let decision = |id: &str| {
        serde_json::json!({"decision": {
            "decision_id": id, "session_id": "local", "action_type": "write_file",
            "target": "iam/admin-role.tf", "rule_id": "filesystem.write.require_approval",
            "decision": "require_approval", "severity": "high",
            "reason": "Matched approval-required path policy: iam/**",
            "evidence_refs": [format!("evidence://local/{id}")],
            "policy_pack": "cavra-ai-agent-baseline"
        }})
        .to_string()
    };
    let post = |host: Option<String>, origin: Option<&str>, content_type: &str, body: String| {
        let mut request = http
            .post(format!("{base}/approvals"))
            .header("content-type", content_type.to_owned())
            .body(body);
        if let Some(host) = host {
            request = request.header("host", host);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin.to_owned());
        }
        request.send()
    };
    let detail = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap();
        (
            status,
            body["detail"].as_str().unwrap_or_default().to_owned(),
        )
    };

    let (status, message) = detail(
        post(
            Some(format!("rebound.evil.example:{port}")),
            None,
            "application/json",
            decision("dec_host"),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 403, "{message}");
    assert!(message.starts_with("host is not this server"), "{message}");

    let (status, message) = detail(
        post(
            None,
            Some("http://evil.example"),
            "application/json",
            decision("dec_origin"),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 403, "{message}");
    assert!(
        message.starts_with("cross-origin request refused"),
        "{message}"
    );

    let (status, message) = detail(
        post(None, None, "text/plain", decision("dec_plain"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 415, "{message}");

    let page: serde_json::Value = http
        .get(format!("{base}/approvals"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["items"].as_array().map(Vec::len),
        Some(0),
        "nothing stored: {page}"
    );

    // The console's own origin, and no origin at all (curl, the CLI's scripts), are fine.
    let same_origin = post(None, Some(&base), "application/json", decision("dec_same"))
        .await
        .unwrap();
    assert_eq!(same_origin.status(), 201);
    let no_origin = post(
        Some(format!("localhost:{port}")),
        None,
        "application/json; charset=utf-8",
        decision("dec_curl"),
    )
    .await
    .unwrap();
    assert_eq!(no_origin.status(), 201);
}

#[tokio::test]
async fn a_405_names_the_allowed_methods_over_http() {
    let server = serve(Setup::suite()).await;
    let base = base_of(&server);
    let response = reqwest::Client::new()
        .put(format!("{base}/approvals/apr_000000000001/approve"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok()),
        Some("POST")
    );
}

//! Issue I §1.3: `GET /console/security-boundary` answers as the original's (compat appendix
//! A4): no authentication, every configuration row of the appendix, `POST` → 405.

use std::sync::Arc;

use cavra_api::config::{Config, StoreConfig};
use cavra_api::{AppState, dispatch};
use cavra_core::ids::SequentialIds;
use cavra_core::memory::MemoryStore;
use cavra_core::time::{ManualClock, Timestamp};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request};
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/oidc");
const RBAC: &str = r#"{"approval_rbac": {"group_mappings": {}}}"#;

struct Setup {
    oidc: bool,
    rbac: Option<&'static str>,
    cors: Option<&'static str>,
}

fn state(setup: &Setup) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cors = setup.cors;
    let mut config = Config::from_lookup(|name| {
        (name == "CAVRA_CORS_ORIGINS")
            .then_some(cors)
            .flatten()
            .map(str::to_owned)
    });
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
    let state = AppState::build(
        config,
        Arc::new(MemoryStore::new()),
        Arc::new(ManualClock::new(
            "2026-05-18T12:00:00+00:00".parse::<Timestamp>().unwrap(),
        )),
        Arc::new(SequentialIds::default()),
    )
    .unwrap();
    (state, dir)
}

async fn call(state: &AppState, method: &str, authorization: Option<&str>) -> (StatusCode, Value) {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri("/console/security-boundary");
    if let Some(value) = authorization {
        builder = builder.header("authorization", value);
    }
    let request: Request = builder.body(Body::Empty).unwrap();
    let response = dispatch(state, request).await;
    let status = response.status();
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        _ => Value::Null,
    };
    (status, body)
}

#[tokio::test]
async fn the_boundary_reports_the_original_fixed_fields_without_authentication() {
    let (state, _dir) = state(&Setup {
        oidc: false,
        rbac: None,
        cors: None,
    });
    let (status, body) = call(&state, "GET", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "schema_version": "cavra.console.security_boundary.v1",
            "product": "CAVRA",
            "mode": "local_or_demo",
            "oidc": {
                "configured": false,
                "config_env": "CAVRA_APPROVAL_OIDC_CONFIG",
                "supported_algorithms": ["RS256"],
                "validated_claims": ["iss", "aud", "exp", "nbf", "groups", "roles", "email", "sub"],
            },
            "rbac": {
                "configured": false,
                "config_env": "CAVRA_APPROVAL_RBAC_FILE",
                "boundaries": ["approval_group", "repository_permissions", "group_mappings"],
            },
            "cors": {"configured": false, "origins": []},
            "console_permissions": [
                "read_activity",
                "read_inventory",
                "read_integrations",
                "read_evidence_metadata",
                "read_console_session",
                "acknowledge_drill_notifications_requires_oidc_context_when_configured",
                "policy_publish_requires_digest_bound_approval",
                "approval_decision_requires_oidc_context_when_configured",
                "break_glass_requires_oidc_context_when_configured",
            ],
            "operator_notes": [
                "Host the console behind enterprise identity before production use.",
                "Keep backup and restore operations in the CLI or platform runbook, not browser actions.",
                "Use repository RBAC for approval decisions that affect scoped repositories.",
            ],
        })
    );
}

#[tokio::test]
async fn every_configuration_row_of_the_appendix_gives_its_mode() {
    let rows: [(Setup, &str, bool, bool, Value); 5] = [
        (
            Setup {
                oidc: false,
                rbac: None,
                cors: None,
            },
            "local_or_demo",
            false,
            false,
            json!({"configured": false, "origins": []}),
        ),
        (
            Setup {
                oidc: true,
                rbac: None,
                cors: None,
            },
            "local_or_demo",
            true,
            false,
            json!({"configured": false, "origins": []}),
        ),
        (
            Setup {
                oidc: false,
                rbac: Some(RBAC),
                cors: None,
            },
            "local_or_demo",
            false,
            true,
            json!({"configured": false, "origins": []}),
        ),
        (
            Setup {
                oidc: true,
                rbac: Some("{}"),
                cors: None,
            },
            "local_or_demo",
            true,
            false,
            json!({"configured": false, "origins": []}),
        ),
        (
            Setup {
                oidc: true,
                rbac: Some(RBAC),
                cors: Some(" https://a.example ,https://b.example,,"),
            },
            "oidc_rbac_ready",
            true,
            true,
            json!({"configured": true, "origins": ["https://a.example", "https://b.example"]}),
        ),
    ];
    for (setup, mode, oidc, rbac, cors) in rows {
        let (state, _dir) = state(&setup);
        let (status, body) = call(&state, "GET", None).await;
        let row = format!(
            "oidc {} rbac {:?} cors {:?}",
            setup.oidc, setup.rbac, setup.cors
        );
        assert_eq!(status, StatusCode::OK, "{row}");
        assert_eq!(body["mode"], mode, "{row}");
        assert_eq!(body["oidc"]["configured"], oidc, "{row}");
        assert_eq!(body["rbac"]["configured"], rbac, "{row}");
        assert_eq!(body["cors"], cors, "{row}");
    }
}

#[tokio::test]
async fn any_authorization_header_is_ignored_even_a_malformed_one() {
    let (state, _dir) = state(&Setup {
        oidc: true,
        rbac: Some(RBAC),
        cors: None,
    });
    let (_, anonymous) = call(&state, "GET", None).await;
    for header in ["Bearer not-a-jwt", "Basic Zm9vOmJhcg==", "garbage"] {
        let (status, body) = call(&state, "GET", Some(header)).await;
        assert_eq!(status, StatusCode::OK, "{header}");
        assert_eq!(body, anonymous, "{header}");
    }
}

#[tokio::test]
async fn post_is_405_and_head_is_answered() {
    let (state, _dir) = state(&Setup {
        oidc: false,
        rbac: None,
        cors: None,
    });
    let (status, body) = call(&state, "POST", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body, json!({"detail": "method not allowed"}));
    let (status, _) = call(&state, "HEAD", None).await;
    assert_eq!(status, StatusCode::OK);
}

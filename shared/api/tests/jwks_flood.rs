//! Issue E §6: tokens naming unknown `kid`s cannot make the server hammer the identity
//! provider. The JWKS is served by a real loopback HTTP server that counts its requests; the
//! API fetches it over HTTP (`HttpJwksFetch`), exactly as in a deployment with `jwks_uri`.

use std::sync::Arc;

use cavra_api::config::{Config, StoreConfig};
use cavra_api::{AppState, dispatch};
use cavra_core::ids::SequentialIds;
use cavra_core::memory::MemoryStore;
use cavra_core::time::SystemClock;
use cavra_test_receiver::{Receiver, Reply};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request};
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/oidc");

struct Deployment {
    state: Arc<AppState>,
    keys: Receiver,
    _dir: tempfile::TempDir,
}

/// An API whose OIDC keys come from `jwks_uri` on a counting loopback server.
fn deployment(min_refresh_seconds: u64) -> Deployment {
    let jwks = std::fs::read_to_string(format!("{FIXTURES}/jwks.json")).unwrap();
    let keys = Receiver::start(move |_| Reply::status(200).json_body(jwks.clone()));
    deployment_on(keys, min_refresh_seconds)
}

/// An API whose `jwks_uri` is on `keys`.
fn deployment_on(keys: Receiver, min_refresh_seconds: u64) -> Deployment {
    let dir = tempfile::tempdir().unwrap();
    let oidc = dir.path().join("oidc.json");
    std::fs::write(
        &oidc,
        json!({
            "issuer": "https://login.example",
            "audience": "cavra-approvals",
            "jwks_uri": keys.url("/.well-known/jwks.json"),
            "jwks_min_refresh_seconds": min_refresh_seconds,
        })
        .to_string(),
    )
    .unwrap();
    let mut config = Config::from_lookup(|_| None);
    config.store = StoreConfig::Json {
        path: dir.path().join("unused.json"),
    };
    config.oidc_config = Some(oidc);
    let state = AppState::build(
        config,
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
        Arc::new(SequentialIds::default()),
    )
    .unwrap();
    Deployment {
        state: Arc::new(state),
        keys,
        _dir: dir,
    }
}

fn now_unix() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// A token signed with the fixture key, its header naming `kid`.
fn token(kid: &str) -> String {
    let pem = std::fs::read(format!("{FIXTURES}/rsa-private.pem")).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let claims = json!({
        "iss": "https://login.example", "aud": "cavra-approvals", "sub": "user-1",
        "email": "iam@example.com", "groups": ["IAM"], "iat": now_unix(), "exp": now_unix() + 300,
    });
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
}

async fn list_with(state: &AppState, token: &str) -> (StatusCode, Value) {
    let request: Request = lambda_http::http::Request::builder()
        .method("GET")
        .uri("/approvals")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::Empty)
        .unwrap();
    let response = dispatch(state, request).await;
    let status = response.status();
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        _ => Value::Null,
    };
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_forged_kids_cost_at_most_two_key_fetches() {
    let deployment = deployment(60);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..1_000 {
        let state = deployment.state.clone();
        tasks.spawn(async move { list_with(&state, &token(&format!("forged-{n}"))).await });
    }
    let mut refused = 0;
    while let Some(answer) = tasks.join_next().await {
        let (status, body) = answer.unwrap();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(
            body["detail"], "OIDC token signing key was not found in JWKS",
            "{body}"
        );
        refused += 1;
    }
    assert_eq!(refused, 1_000);
    let fetches = deployment.keys.seen().len();
    println!("JWKS fetches for 1,000 forged kids: {fetches}");
    assert!(
        (1..=2).contains(&fetches),
        "{fetches} fetches for 1,000 forged kids"
    );

    // A genuine token still verifies against the keys already fetched, without a fetch.
    let (status, body) = list_with(&deployment.state, &token("test-key")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(deployment.keys.seen().len(), fetches);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kid_refetches_once_the_interval_has_passed() {
    let deployment = deployment(1);
    let (status, _) = list_with(&deployment.state, &token("test-key")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deployment.keys.seen().len(), 1, "the first request fetches");

    // Within the interval an unknown kid does not fetch again.
    let (status, _) = list_with(&deployment.state, &token("rotated-1")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(deployment.keys.seen().len(), 1);

    // After it, one unknown kid may look for a rotated key: one fetch, however many ask.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..50 {
        let state = deployment.state.clone();
        tasks.spawn(async move { list_with(&state, &token(&format!("rotated-{n}"))).await });
    }
    while let Some(answer) = tasks.join_next().await {
        assert_eq!(answer.unwrap().0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(deployment.keys.seen().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_keys_are_503_and_are_not_retried_on_every_request() {
    let deployment = deployment_on(Receiver::always(500), 60);
    for _ in 0..20 {
        let (status, body) = list_with(&deployment.state, &token("test-key")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["detail"], "OIDC signing keys could not be fetched");
    }
    assert_eq!(deployment.keys.seen().len(), 1);
}

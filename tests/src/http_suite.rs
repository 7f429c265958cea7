//! The HTTP suite: the seed flow and the negative cases of issue B, driven over real HTTP
//! against any deployment of the nine routes — `cavra serve`, or the Lambda function binaries
//! behind a Lambda runtime emulator. The deployment must be configured with the files of
//! [`IdentityFiles`] (OIDC with the test key, RBAC) so tokens from [`token`] are accepted.

use std::path::PathBuf;

use cavra_api::Route;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::deployment::Setup;

/// The OIDC fixtures (test key `test-key`, JWKS) in `tests/fixtures/oidc`.
pub const OIDC_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/oidc");

/// The approver group every suite request is routed to (an explicit `approver_group`).
pub const GROUP: &str = "Platform Security";

/// Where each route is reached.
pub trait Endpoint: Send + Sync {
    /// The URL of `path_and_query` (starting with `/approvals`) served by `route`.
    fn url(&self, route: Route, path_and_query: &str) -> String;
}

/// One server for every route (`cavra serve`, API Gateway).
pub struct SingleServer(pub String);

impl Endpoint for SingleServer {
    fn url(&self, _route: Route, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.0)
    }
}

/// One Lambda function per route behind `cargo lambda watch`, reached as function URLs:
/// `<base>/lambda-url/<function>/<path>`.
pub struct FunctionUrls(pub String);

impl Endpoint for FunctionUrls {
    fn url(&self, route: Route, path_and_query: &str) -> String {
        format!(
            "{}/lambda-url/{}{path_and_query}",
            self.0,
            route.function_name()
        )
    }
}

/// OIDC config and RBAC files for the deployment under test.
pub struct IdentityFiles {
    _dir: tempfile::TempDir,
    /// `CAVRA_APPROVAL_OIDC_CONFIG`.
    pub oidc_config: PathBuf,
    /// `CAVRA_APPROVAL_RBAC_FILE`.
    pub rbac_file: PathBuf,
}

impl IdentityFiles {
    /// Writes the files: OIDC against the test JWKS; RBAC mapping the `platform-security` team
    /// to the suite's group.
    ///
    /// # Panics
    /// The temporary folder cannot be written.
    #[must_use]
    pub fn write() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let env = Setup::suite().environment(dir.path());
        let path_of = |variable: &str| {
            env.iter()
                .find(|(name, _)| name == variable)
                .map(|(_, path)| PathBuf::from(path))
                .expect("the suite setup names the file")
        };
        Self {
            oidc_config: path_of("CAVRA_APPROVAL_OIDC_CONFIG"),
            rbac_file: path_of("CAVRA_APPROVAL_RBAC_FILE"),
            _dir: dir,
        }
    }
}

/// Seconds since the epoch, now.
///
/// # Panics
/// The clock is before 1970.
#[must_use]
pub fn now_unix() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs(),
    )
    .expect("fits")
}

/// A token signed by the test key for `email` in `groups`, valid for ten minutes.
///
/// # Panics
/// The fixture key is missing.
#[must_use]
pub fn token(email: &str, groups: &[&str]) -> String {
    let pem = std::fs::read(format!("{OIDC_FIXTURES}/rsa-private.pem")).expect("test key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-key".into());
    let claims = json!({
        "iss": "https://login.example",
        "aud": "cavra-approvals",
        "exp": now_unix() + 600,
        "sub": format!("sub-{email}"),
        "email": email,
        "groups": groups,
    });
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(&pem).expect("RSA key"),
    )
    .expect("sign")
}

/// The requester's token (not an approver).
#[must_use]
pub fn developer() -> String {
    token("developer@example.com", &["Developers"])
}

/// An approver in [`GROUP`] through the RBAC group mapping.
#[must_use]
pub fn approver(email: &str) -> String {
    token(email, &["github-team:platform-security"])
}

/// A Change Advisory Board member.
#[must_use]
pub fn incident_commander() -> String {
    token("cab@example.com", &["Change Advisory Board"])
}

/// A decision that needs approval.
#[must_use]
pub fn decision(decision_id: &str) -> Value {
    json!({
        "decision_id": decision_id, "session_id": "e2e", "action_type": "write_file",
        "target": "security/admin-policy.rego", "rule_id": "filesystem.write.require_approval",
        "decision": "require_approval", "severity": "high",
        "reason": "Matched approval-required path policy: security/**",
        "evidence_refs": [format!("evidence://e2e/{decision_id}")],
        "policy_pack": "cavra-ai-agent-baseline",
    })
}

/// An answer: status, JSON body (`Null` when empty), `Location` header.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The body.
    pub body: Value,
    /// The `Location` header, if any.
    pub location: Option<String>,
}

impl Answer {
    /// `detail` of an error body.
    #[must_use]
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }
}

/// Talks to one deployment.
pub struct Api {
    http: reqwest::Client,
    endpoint: Box<dyn Endpoint>,
}

impl Api {
    /// A client for `endpoint`.
    ///
    /// # Panics
    /// The HTTP client cannot be built.
    #[must_use]
    pub fn new(endpoint: impl Endpoint + 'static) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .expect("HTTP client"),
            endpoint: Box::new(endpoint),
        }
    }

    /// Sends raw bytes.
    ///
    /// # Panics
    /// The server does not answer, or answers with a body that is not JSON.
    pub async fn send(
        &self,
        route: Route,
        path: &str,
        body: Option<Vec<u8>>,
        bearer: Option<&str>,
    ) -> Answer {
        let (method, _) = route.method_and_path();
        let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).expect("method");
        let changes_state = method != reqwest::Method::GET;
        let mut request = self.http.request(method, self.endpoint.url(route, path));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        // A JSON client declares JSON on every state change, body or not (local mode refuses
        // state changes that do not, issue E §6).
        if changes_state {
            request = request.header("content-type", "application/json");
        }
        if let Some(bytes) = body {
            request = request.body(bytes);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{status} body is not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        Answer {
            status,
            body,
            location,
        }
    }

    /// Sends a JSON body.
    pub async fn call(
        &self,
        route: Route,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> Answer {
        self.send(
            route,
            path,
            body.map(|b| b.to_string().into_bytes()),
            bearer,
        )
        .await
    }

    /// Creates a request for a fresh decision as the developer; returns the record.
    ///
    /// # Panics
    /// Creation does not answer 201.
    pub async fn create(&self, decision_id: &str) -> Value {
        let answer = self
            .call(
                Route::Create,
                "/approvals",
                Some(json!({"decision": decision(decision_id), "approver_group": GROUP})),
                Some(&developer()),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body
    }
}

fn id_of(record: &Value) -> String {
    record["approval_id"]
        .as_str()
        .expect("approval_id")
        .to_owned()
}

/// A unique decision id prefix per run, so suites can share a store.
#[must_use]
pub fn run_prefix() -> String {
    format!("dec_{}", cavra_core::ids::random_hex12())
}

/// create → list → get → approve / deny / expire → break-glass → attach-decision.
///
/// # Panics
/// Any step answers differently from the contract.
pub async fn seed_flow(api: &Api) {
    let prefix = run_prefix();
    let created = api.create(&format!("{prefix}_a")).await;
    assert_eq!(created["schema_version"], "cavra.approval.v1");
    assert_eq!(created["state"], "pending");
    assert_eq!(created["approver_group"], GROUP);
    assert_eq!(created["requested_by"], "developer@example.com");
    let id = id_of(&created);
    let approvals_path = format!("/approvals/{id}");
    assert!(
        created["approval_id"]
            .as_str()
            .is_some_and(|i| i.starts_with("apr_") && i.len() == 16)
    );

    let developer = developer();
    let list = api
        .call(
            Route::List,
            &format!(
                "/approvals?state=pending&approver_group={}",
                GROUP.replace(' ', "%20")
            ),
            None,
            Some(&developer),
        )
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(
        list.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|r| r["approval_id"] == id.as_str()),
        "the new request is listed: {}",
        list.body
    );
    assert!(list.body["total"].as_u64().expect("total") >= 1);

    let got = api
        .call(Route::Get, &approvals_path, None, Some(&developer))
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, created);

    let approver = approver("iam@example.com");
    let approved = api
        .call(
            Route::Approve,
            &format!("{approvals_path}/approve"),
            Some(json!({"reason": "Scoped IAM change reviewed", "external_ref": "CHG-123"})),
            Some(&approver),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(approved.body["state"], "approved");
    assert_eq!(approved.body["decided_by"], "iam@example.com");
    assert_eq!(approved.body["external_ref"], "CHG-123");
    assert_eq!(approved.body["history"][1]["identity"], "oidc");
    assert_eq!(
        approved.body["history"][1]["issuer"],
        "https://login.example"
    );

    let to_deny = id_of(&api.create(&format!("{prefix}_b")).await);
    let denied = api
        .call(
            Route::Deny,
            &format!("/approvals/{to_deny}/deny"),
            Some(json!({"reason": "Too broad"})),
            Some(&approver),
        )
        .await;
    assert_eq!(denied.status, StatusCode::OK, "{}", denied.body);
    assert_eq!(denied.body["state"], "denied");

    let to_expire = id_of(&api.create(&format!("{prefix}_c")).await);
    let expired = api
        .call(
            Route::Expire,
            &format!("/approvals/{to_expire}/expire"),
            Some(json!({})),
            Some(&approver),
        )
        .await;
    assert_eq!(expired.status, StatusCode::OK, "{}", expired.body);
    assert_eq!(expired.body["state"], "expired");
    assert_eq!(expired.body["decision_reason"], "approval expired");

    let blocked = json!({
        "decision_id": format!("{prefix}_d"), "action_type": "execute_command",
        "target": "terraform apply", "rule_id": "commands.block", "decision": "block",
        "severity": "critical", "reason": "Blocked command"
    });
    let glass = api
        .call(
            Route::BreakGlass,
            "/approvals/break-glass",
            Some(json!({"decision": blocked, "reason": "Production recovery", "external_ref": "INC-777"})),
            Some(&incident_commander()),
        )
        .await;
    assert!(glass.status.is_success(), "{} {}", glass.status, glass.body);
    assert_eq!(glass.body["state"], "break_glass");
    assert_eq!(glass.body["requested_by"], "cab@example.com");
    assert_eq!(glass.body["external_ref"], "INC-777");

    let attached = api
        .call(
            Route::AttachDecision,
            &format!("{approvals_path}/attach-decision"),
            Some(decision(&format!("{prefix}_a"))),
            Some(&developer),
        )
        .await;
    assert_eq!(attached.status, StatusCode::OK, "{}", attached.body);
    assert_eq!(attached.body["approval"]["approval_id"], id.as_str());
    assert_eq!(attached.body["approval"]["state"], "approved");
    let refs = attached.body["evidence_refs"].as_array().expect("refs");
    assert!(
        refs.iter()
            .any(|r| r == &json!(format!("evidence://e2e/{prefix}_a")))
    );
    assert!(
        refs.iter().any(|r| r == &json!(format!("approval://{id}"))),
        "{refs:?}"
    );
}

/// No token 401, wrong group 403 (and nothing changes), self-approval refused, racing decisions
/// (one 200, the rest 409), body over 256 KiB 413, malformed JSON 422, unknown id 404.
///
/// # Panics
/// Any answer differs from the contract.
pub async fn negative_cases(api: &Api) {
    let prefix = run_prefix();
    let anonymous = api.call(Route::List, "/approvals", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.detail(),
        "console action requires verified actor context"
    );
    let garbage = api
        .call(Route::List, "/approvals", None, Some("not.a.token"))
        .await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED, "{}", garbage.body);

    let record = api.create(&format!("{prefix}_n")).await;
    let id = id_of(&record);
    let approve_path = format!("/approvals/{id}/approve");
    let outsider = token("dev2@example.com", &["Developers"]);
    let forbidden = api
        .call(
            Route::Approve,
            &approve_path,
            Some(json!({"reason": "ok"})),
            Some(&outsider),
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(
        forbidden.detail(),
        "actor is not authorized for approval group"
    );
    let still = api
        .call(
            Route::Get,
            &format!("/approvals/{id}"),
            None,
            Some(&outsider),
        )
        .await;
    assert_eq!(still.body["state"], "pending");
    assert_eq!(still.body["history"].as_array().map(Vec::len), Some(1));

    // The requester, even when in the group, cannot approve their own request.
    let requester_in_group = token("developer@example.com", &["github-team:platform-security"]);
    let own = api
        .call(
            Route::Approve,
            &approve_path,
            Some(json!({"reason": "mine"})),
            Some(&requester_in_group),
        )
        .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.body);
    assert_eq!(own.detail(), "requester cannot approve their own request");

    let racers = 12;
    let answers = futures::future::join_all((0..racers).map(|n| {
        let token = approver(&format!("approver{n}@example.com"));
        let path = approve_path.clone();
        async move {
            api.call(
                Route::Approve,
                &path,
                Some(json!({"reason": format!("racer {n}")})),
                Some(&token),
            )
            .await
        }
    }))
    .await;
    let winners = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    let losers: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == StatusCode::CONFLICT)
        .collect();
    assert_eq!(winners, 1, "exactly one decision wins: {answers:?}");
    assert_eq!(losers.len(), racers - 1, "{answers:?}");
    assert!(
        losers
            .iter()
            .all(|a| a.detail() == "only pending approvals can be changed")
    );
    let decided = api
        .call(
            Route::Get,
            &format!("/approvals/{id}"),
            None,
            Some(&outsider),
        )
        .await;
    assert_eq!(decided.body["state"], "approved");
    assert_eq!(decided.body["history"].as_array().map(Vec::len), Some(2));

    let huge = vec![b' '; 256 * 1024 + 1];
    let too_large = api
        .send(Route::Create, "/approvals", Some(huge), Some(&developer()))
        .await;
    assert_eq!(
        too_large.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        too_large.body
    );
    let malformed = api
        .send(
            Route::Create,
            "/approvals",
            Some(b"{\"decision\": ".to_vec()),
            Some(&developer()),
        )
        .await;
    assert_eq!(
        malformed.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        malformed.body
    );
    assert!(
        malformed
            .detail()
            .starts_with("request body is not valid JSON")
    );
    let missing = api
        .call(
            Route::Get,
            "/approvals/apr_000000000000",
            None,
            Some(&outsider),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.detail(), "approval not found");
    let missing_approve = api
        .call(
            Route::Approve,
            "/approvals/apr_000000000000/approve",
            Some(json!({"reason": "x"})),
            Some(&approver("iam@example.com")),
        )
        .await;
    assert_eq!(missing_approve.status, StatusCode::NOT_FOUND);
}

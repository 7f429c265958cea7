//! `infra/openapi.yaml` checked against the handlers: its paths and methods are exactly
//! `cavra_api::Route::ALL`; for every route, the statuses it documents are exactly the ones the
//! handlers are driven to here, in-process (the same `lambda_http` requests the Lambda functions
//! get), one request per documented status; every response body validates against the
//! documented schema (OpenAPI 3.1 schemas are JSON Schema 2020-12), and every successful
//! request's body against the documented request schema.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use cavra_api::auth::JwksFetch;
use cavra_api::config::{Config, StoreConfig};
use cavra_api::{AppState, Route, dispatch};
use cavra_core::approval::{Approval, ApprovalState};
use cavra_core::ids::SequentialIds;
use cavra_core::memory::MemoryStore;
use cavra_core::store::{ApprovalPage, ApprovalStore, ListQuery, StoreError};
use cavra_core::time::{ManualClock, Timestamp};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::{Body, Request, RequestExt as _};
use serde_json::{Value, json};

const NOW: &str = "2026-05-18T12:00:00+00:00";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/oidc")
}

fn document() -> Value {
    let path = root().join("infra/openapi.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

/// Follows a local `$ref` (`#/components/...`) until a non-reference object.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local references are used: {reference}"));
        value = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling reference {reference}"));
    }
    value
}

fn operation(doc: &Value, route: Route) -> &Value {
    let (method, path) = route.method_and_path();
    let op = &doc["paths"][path][method.as_str().to_lowercase()];
    assert!(
        op.is_object(),
        "openapi.yaml does not document {method} {path}"
    );
    op
}

/// A validator for `schema`, resolved against the document's components.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "allOf": [schema],
    });
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema does not compile: {e}\n{schema}"))
}

fn schema_errors(doc: &Value, schema: &Value, instance: &Value) -> Vec<String> {
    validator(doc, schema)
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

#[test]
fn the_document_has_exactly_the_nine_routes() {
    let doc = document();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "an OpenAPI 3.1 document"
    );
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            if [
                "get", "put", "post", "delete", "patch", "head", "options", "trace",
            ]
            .contains(&method.as_str())
            {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let routes: BTreeSet<(String, String)> = Route::ALL
        .iter()
        .map(|r| {
            let (method, path) = r.method_and_path();
            (method.to_string(), path.to_owned())
        })
        .collect();
    assert_eq!(
        documented, routes,
        "openapi.yaml paths vs cavra_api::Route::ALL"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
}

#[test]
fn every_error_response_is_the_detail_shape_and_the_examples_are_valid() {
    let doc = document();
    for route in Route::ALL {
        let op = operation(&doc, route);
        for (status, response) in op["responses"].as_object().expect("responses") {
            let response = resolve(&doc, response);
            let media = &response["content"]["application/json"];
            if !status.starts_with('2') {
                assert_eq!(
                    media["schema"]["$ref"], "#/components/schemas/Error",
                    "{route:?} {status}: errors are {{\"detail\": ...}}"
                );
            }
            if let Some(example) = media.get("example") {
                let errors = schema_errors(&doc, &media["schema"], example);
                assert!(errors.is_empty(), "{route:?} {status} example: {errors:?}");
            }
        }
    }
    for (name, schema) in doc["components"]["schemas"].as_object().expect("schemas") {
        for example in schema
            .get("examples")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let errors = schema_errors(&doc, schema, example);
            assert!(errors.is_empty(), "example of {name}: {errors:?}");
        }
    }
}

// ------------------------------------------------------------------ the handlers, in-process

/// A store whose every call fails, for the opaque 500.
struct BrokenStore;

fn broken() -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!("the disk is on fire"))
}

#[async_trait]
impl ApprovalStore for BrokenStore {
    async fn insert(&self, _: &Approval) -> Result<(), StoreError> {
        Err(broken())
    }
    async fn get(&self, _: &str) -> Result<Option<Approval>, StoreError> {
        Err(broken())
    }
    async fn replace(&self, _: &Approval, _: u64, _: ApprovalState) -> Result<(), StoreError> {
        Err(broken())
    }
    async fn find_open_by_decision(&self, _: &str) -> Result<Option<Approval>, StoreError> {
        Err(broken())
    }
    async fn list(&self, _: &ListQuery) -> Result<ApprovalPage, StoreError> {
        Err(broken())
    }
    async fn overdue(&self, _: Timestamp, _: u32) -> Result<Vec<Approval>, StoreError> {
        Err(broken())
    }
}

/// An identity provider whose JWKS endpoint is down, for the 503.
struct UnreachableKeys;

#[async_trait]
impl JwksFetch for UnreachableKeys {
    async fn fetch(&self, uri: &str) -> anyhow::Result<JwkSet> {
        anyhow::bail!("connection refused: {uri}")
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No OIDC, no RBAC: self-declared claims.
    Local,
    /// OIDC with the test key (tests/fixtures/oidc).
    Oidc,
    /// OIDC whose `jwks_uri` cannot be reached.
    KeysDown,
    /// A store that always fails.
    Broken,
    /// A provider config for deliver.
    Providers,
}

struct Api {
    state: AppState,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

fn api(mode: Mode) -> Api {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut config = Config::from_lookup(|_| None);
    config.store = StoreConfig::Json {
        path: dir.path().join("unused.json"),
    };
    match mode {
        Mode::Oidc => config.oidc_config = Some(fixtures().join("oidc-config.json")),
        Mode::KeysDown => {
            let path = dir.path().join("oidc.json");
            std::fs::write(
                &path,
                r#"{"issuer": "https://login.example", "audience": "cavra-approvals", "jwks_uri": "https://keys.invalid/jwks.json"}"#,
            )
            .expect("write the OIDC config");
            config.oidc_config = Some(path);
        }
        Mode::Providers => {
            let path = dir.path().join("providers.json");
            std::fs::write(
                &path,
                r#"{"approval_providers": {"webhook": {"url": "http://127.0.0.1:9/cavra"}}}"#,
            )
            .expect("write the provider config");
            config.provider_config = Some(path);
        }
        Mode::Local | Mode::Broken => {}
    }
    let store: Arc<dyn ApprovalStore> = if mode == Mode::Broken {
        Arc::new(BrokenStore)
    } else {
        Arc::new(MemoryStore::new())
    };
    let clock = Arc::new(ManualClock::new(NOW.parse().expect("NOW parses")));
    let state = AppState::build_with_fetcher(
        config,
        store,
        clock.clone(),
        Arc::new(SequentialIds::default()),
        Arc::new(UnreachableKeys),
    )
    .expect("the state builds");
    Api {
        state,
        clock,
        _dir: dir,
    }
}

fn token(claims: &Value) -> String {
    let pem = std::fs::read(fixtures().join("rsa-private.pem")).expect("the test key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-key".into());
    let now = NOW.parse::<Timestamp>().expect("NOW").unix_seconds();
    let mut claims = claims.clone();
    let object = claims.as_object_mut().expect("claims are an object");
    object.insert("iss".into(), json!("https://login.example"));
    object.insert("aud".into(), json!("cavra-approvals"));
    object.insert("exp".into(), json!(now + 300));
    // A token names its subject (the document's 401 for one that does not).
    if !object.contains_key("sub") {
        let subject = format!(
            "sub-{}",
            object
                .get("email")
                .and_then(Value::as_str)
                .unwrap_or("anyone")
        );
        object.insert("sub".into(), json!(subject));
    }
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(&pem).expect("a PEM key"),
    )
    .expect("signs")
}

fn iam_decision(id: &str) -> Value {
    json!({
        "decision_id": id, "session_id": "local", "action_type": "write_file", "target": "iam/admin-role.tf",
        "rule_id": "filesystem.write.require_approval", "decision": "require_approval", "severity": "high",
        "reason": "Matched approval-required path policy: iam/**", "evidence_refs": [format!("evidence://local/{id}")],
        "approver_group": "Platform Security", "policy_pack": "cavra-ai-agent-baseline",
        "correlation_id": "corr_8b2d0e6a1f47"
    })
}

fn blocked_decision(id: &str) -> Value {
    json!({"decision_id": id, "action_type": "execute_command", "target": "terraform apply",
           "rule_id": "commands.block", "decision": "block", "reason": "blocked"})
}

/// What one request got.
struct Outcome {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    /// The JSON body that was sent, if it was JSON.
    sent: Option<Value>,
}

/// A request to one route.
struct Call {
    route: Route,
    id: String,
    query: Vec<(&'static str, String)>,
    body: Option<String>,
    headers: Vec<(&'static str, String)>,
}

impl Call {
    fn new(route: Route) -> Self {
        Self {
            route,
            id: "apr_00000000ffff".into(),
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
        }
    }
    fn id(mut self, id: &str) -> Self {
        id.clone_into(&mut self.id);
        self
    }
    fn json(mut self, body: &Value) -> Self {
        self.body = Some(body.to_string());
        self
    }
    fn raw(mut self, body: String) -> Self {
        self.body = Some(body);
        self
    }
    fn query(mut self, key: &'static str, value: &str) -> Self {
        self.query.push((key, value.to_owned()));
        self
    }
    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
    fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    async fn send(self, api: &Api) -> Outcome {
        let (method, template) = self.route.method_and_path();
        let path = template.replace("{approval_id}", &self.id);
        let mut builder = lambda_http::http::Request::builder()
            .method(method.clone())
            .uri(&path);
        // A state change declares JSON, as the document asks (in local mode even without a
        // body); a request that sets its own content type (the 415 below) keeps it.
        if method != lambda_http::http::Method::GET
            && !self.headers.iter().any(|(name, _)| *name == "content-type")
        {
            builder = builder.header("content-type", "application/json");
        }
        for (name, value) in &self.headers {
            builder = builder.header(*name, value);
        }
        let sent = self
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok());
        let request: Request = builder
            .body(self.body.map_or(Body::Empty, Body::Text))
            .expect("a request");
        let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in self.query {
            query.entry(k.to_owned()).or_default().push(v);
        }
        let request = request.with_query_string_parameters(
            query
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        );
        let (resolved, _) = Route::resolve(&method, &path).expect("the path resolves");
        assert_eq!(resolved, self.route, "{method} {path} reaches its route");
        // Boxed: the handlers' future is large, and `exercise` holds one per request it sends.
        let response = Box::pin(dispatch(&api.state, request)).await;
        let status = response.status();
        let headers = response.headers().clone();
        let body = match response.body() {
            Body::Text(t) => serde_json::from_str(t).expect("a JSON body"),
            Body::Binary(b) => serde_json::from_slice(b).expect("a JSON body"),
            _ => Value::Null,
        };
        Outcome {
            status,
            headers,
            body,
            sent,
        }
    }
}

/// Creates a pending request for `decision_id` (requested by `developer`) and returns its id.
async fn seed(api: &Api, decision_id: &str) -> String {
    let outcome = Call::new(Route::Create)
        .json(&json!({"decision": iam_decision(decision_id), "requested_by": "developer"}))
        .send(api)
        .await;
    assert_eq!(outcome.status, StatusCode::CREATED, "{}", outcome.body);
    outcome.body["approval_id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

fn oversized() -> String {
    format!(
        "{{\"decision\": {{\"decision_id\": \"d\", \"pad\": \"{}\"}}}}",
        "x".repeat(300 * 1024)
    )
}

/// A body each route accepts as JSON object, for failures that come after body parsing.
fn some_body(route: Route) -> Value {
    match route {
        Route::Create | Route::Consume => json!({"decision": iam_decision("dec_any")}),
        Route::AttachDecision => iam_decision("dec_any"),
        Route::BreakGlass => {
            json!({"decision": blocked_decision("dec_bg"), "actor": "ic", "reason": "outage"})
        }
        Route::Approve | Route::Deny | Route::Expire => json!({"actor": "a", "reason": "ok"}),
        Route::Deliver => json!({"provider": "all"}),
        Route::List | Route::Get => Value::Null,
    }
}

fn with_some_body(call: Call) -> Call {
    let body = some_body(call.route);
    if body.is_null() {
        call
    } else {
        call.json(&body)
    }
}

fn decide_body() -> Value {
    json!({"actor": "iam@example.com", "reason": "Scoped IAM change reviewed", "external_ref": "CHG-123",
           "actor_claims": {"email": "iam@example.com", "groups": ["IAM"]}})
}

/// The statuses each route's handler can answer (what the document must list), with the
/// request that produces each below in [`exercise`].
fn demonstrable(route: Route) -> &'static [u16] {
    match route {
        Route::List => &[200, 400, 401, 422, 500, 503],
        Route::Create => &[200, 201, 400, 401, 409, 413, 415, 422, 500, 503],
        Route::Get => &[200, 400, 401, 404, 422, 500, 503],
        Route::Approve | Route::Deny | Route::Expire | Route::BreakGlass | Route::Consume => {
            &[200, 400, 401, 403, 404, 409, 413, 415, 422, 500, 503]
        }
        Route::Deliver => &[200, 400, 401, 403, 404, 413, 415, 422, 500, 503],
        Route::AttachDecision => &[200, 400, 401, 404, 413, 415, 422, 500, 503],
    }
}

/// Drives `route` to `status`; `None` when this build cannot (reported, not hidden).
#[allow(clippy::match_same_arms)]
async fn exercise(route: Route, status: u16) -> Option<Outcome> {
    let local = api(Mode::Local);
    let call = Call::new(route);
    let outcome = match (status, route) {
        // -------------------------------------------------------------- success
        (200, Route::List) => {
            seed(&local, "dec_l1").await;
            seed(&local, "dec_l2").await;
            call.query("state", "pending").query("limit", "1").send(&local).await
        }
        (201, Route::Create) => {
            call.json(&json!({"decision": iam_decision("dec_new"), "requested_by": "developer", "ttl_hours": 8}))
                .send(&local)
                .await
        }
        (200, Route::Create) => {
            seed(&local, "dec_again").await;
            call.json(&json!({"decision": iam_decision("dec_again"), "requested_by": "developer"}))
                .send(&local)
                .await
        }
        (200, Route::Get) => {
            let id = seed(&local, "dec_get").await;
            call.id(&id).send(&local).await
        }
        (200, Route::Approve | Route::Deny) => {
            let id = seed(&local, "dec_decide").await;
            call.id(&id).json(&decide_body()).send(&local).await
        }
        (200, Route::Expire) => {
            let id = seed(&local, "dec_expire").await;
            call.id(&id).send(&local).await
        }
        (200, Route::AttachDecision) => {
            let id = seed(&local, "dec_attach").await;
            call.id(&id).json(&iam_decision("dec_attach")).send(&local).await
        }
        (200, Route::BreakGlass) => {
            call.json(&json!({"decision": blocked_decision("dec_bg"), "actor": "incident-commander",
                              "reason": "Production recovery", "external_ref": "INC-777"}))
                .send(&local)
                .await
        }
        (200, Route::Deliver) => {
            let api = api(Mode::Providers);
            let id = seed(&api, "dec_deliver").await;
            let outcome = call
                .id(&id)
                .json(&json!({"provider": "webhook", "retries": 0, "timeout_seconds": 0.5}))
                .send(&api)
                .await;
            if outcome.status == StatusCode::BAD_REQUEST
                && outcome.body["detail"] == "approval provider delivery is not available in this build"
            {
                return None;
            }
            outcome
        }
        (200, Route::Consume) => {
            let id = seed(&local, "dec_consume").await;
            let approved = Call::new(Route::Approve).id(&id).json(&decide_body()).send(&local).await;
            assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
            call.id(&id)
                .json(&json!({"decision": iam_decision("dec_consume"), "actor": "ai-agent"}))
                .send(&local)
                .await
        }
        // -------------------------------------------------------------- 400
        (400, Route::Consume) => {
            let id = seed(&local, "dec_400").await;
            call.id(&id).json(&json!({"reason": "no decision"})).send(&local).await
        }
        (400, Route::List) => call.query("state", "waiting").send(&local).await,
        (400, Route::Create) => {
            call.json(&json!({"decision": {"decision": "require_approval"}})).send(&local).await
        }
        (400, Route::Get) => call.bearer("a.b.c").send(&local).await,
        (400, Route::Approve | Route::Deny) => {
            let id = seed(&local, "dec_400").await;
            call.id(&id).json(&json!({"actor": "iam"})).send(&local).await
        }
        (400, Route::Expire) => {
            let id = seed(&local, "dec_400").await;
            call.id(&id).json(&json!({"actor": "ops"})).send(&local).await
        }
        (400, Route::Deliver) => {
            let id = seed(&local, "dec_400").await;
            call.id(&id).send(&local).await
        }
        (400, Route::AttachDecision) => {
            let id = seed(&local, "dec_400").await;
            call.id(&id).json(&iam_decision("dec_other")).send(&local).await
        }
        (400, Route::BreakGlass) => {
            call.json(&json!({"decision": blocked_decision("dec_bg"), "actor": "ic"})).send(&local).await
        }
        // -------------------------------------------------------------- 401: OIDC, no token
        (401, _) => with_some_body(call).send(&api(Mode::Oidc)).await,
        // -------------------------------------------------------------- 403
        (403, Route::Approve | Route::Deny | Route::Expire) => {
            let id = seed(&local, "dec_403").await;
            call.id(&id)
                .json(&json!({"actor": "dev", "reason": "ok",
                              "actor_claims": {"email": "dev@example.com", "groups": ["Developers"]}}))
                .send(&local)
                .await
        }
        (403, Route::Deliver) => {
            // Issue E §6: only the request's approver group may have it sent again.
            let id = seed(&local, "dec_403").await;
            call.id(&id)
                .json(&json!({"actor_claims": {"email": "dev@example.com", "groups": ["Developers"]}}))
                .send(&local)
                .await
        }
        (403, Route::BreakGlass) => {
            let oidc = api(Mode::Oidc);
            let iam = token(&json!({"email": "iam@example.com", "groups": ["IAM"]}));
            call.json(&json!({"decision": blocked_decision("dec_bg"), "reason": "outage"}))
                .bearer(&iam)
                .send(&oidc)
                .await
        }
        (403, Route::Consume) => {
            // Issue F §2: a verified requester's grant is theirs alone.
            let oidc = api(Mode::Oidc);
            let agent = token(&json!({"email": "agent@example.com", "groups": ["Developers"]}));
            let created = Call::new(Route::Create)
                .json(&json!({"decision": iam_decision("dec_mine")}))
                .bearer(&agent)
                .send(&oidc)
                .await;
            assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
            let id = created.body["approval_id"].as_str().expect("an id").to_owned();
            let iam = token(&json!({"email": "iam@example.com", "groups": ["IAM"]}));
            let approved = Call::new(Route::Approve)
                .id(&id)
                .json(&json!({"reason": "reviewed"}))
                .bearer(&iam)
                .send(&oidc)
                .await;
            assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
            let other = token(&json!({"email": "other@example.com", "groups": ["Developers"]}));
            call.id(&id)
                .json(&json!({"decision": iam_decision("dec_mine")}))
                .bearer(&other)
                .send(&oidc)
                .await
        }
        // -------------------------------------------------------------- 404
        (404, Route::BreakGlass) => {
            // Issue I §5: an override of a request that does not exist.
            call.json(&json!({"decision": blocked_decision("dec_bg"), "actor": "ic", "reason": "outage",
                              "blocked_approval_id": "apr_0123456789ab"}))
                .send(&local)
                .await
        }
        (404, _) => with_some_body(call).send(&local).await,
        // -------------------------------------------------------------- 409
        (409, Route::Create) => {
            let first = call
                .header("idempotency-key", "retry-1")
                .json(&json!({"decision": iam_decision("dec_k1")}))
                .send(&local)
                .await;
            assert_eq!(first.status, StatusCode::CREATED);
            Call::new(Route::Create)
                .header("idempotency-key", "retry-1")
                .json(&json!({"decision": iam_decision("dec_k2")}))
                .send(&local)
                .await
        }
        (409, Route::Approve) => {
            // CONTRACT §4: past expires_at the request becomes expired and the call is refused.
            let id = seed(&local, "dec_late").await;
            local.clock.advance_hours(25);
            call.id(&id).json(&decide_body()).send(&local).await
        }
        (409, Route::Deny | Route::Expire) => {
            let id = seed(&local, "dec_twice").await;
            let first = Call::new(Route::Approve).id(&id).json(&decide_body()).send(&local).await;
            assert_eq!(first.status, StatusCode::OK, "{}", first.body);
            call.id(&id).json(&decide_body()).send(&local).await
        }
        (409, Route::BreakGlass) => {
            // Issue I §5: an override of a request that is no longer pending.
            let id = seed(&local, "dec_closed").await;
            let denied = Call::new(Route::Deny).id(&id).json(&decide_body()).send(&local).await;
            assert_eq!(denied.status, StatusCode::OK, "{}", denied.body);
            call.json(&json!({"decision": {"rule_id": "filesystem.write.require_approval"}, "actor": "ic",
                              "reason": "outage", "blocked_approval_id": id}))
                .send(&local)
                .await
        }
        (409, Route::Consume) => {
            let id = seed(&local, "dec_unused").await;
            call.id(&id)
                .json(&json!({"decision": iam_decision("dec_unused")}))
                .send(&local)
                .await
        }
        // -------------------------------------------------------------- 415
        (415, _) => {
            let id = seed(&local, "dec_415").await;
            with_some_body(call.id(&id))
                .header("content-type", "text/plain")
                .send(&local)
                .await
        }
        // -------------------------------------------------------------- 413, 422
        (413, _) => {
            let id = seed(&local, "dec_big").await;
            call.id(&id).raw(oversized()).send(&local).await
        }
        (422, Route::List) => call.query("limit", "many").send(&local).await,
        (422, Route::Get) => {
            let id = seed(&local, "dec_wait").await;
            call.id(&id).query("wait", "26").send(&local).await
        }
        (422, _) => {
            let id = seed(&local, "dec_bad").await;
            call.id(&id).raw("{not json".into()).send(&local).await
        }
        // -------------------------------------------------------------- 500, 503
        (500, _) => with_some_body(call).send(&api(Mode::Broken)).await,
        (503, _) => with_some_body(call).bearer("a.b.c").send(&api(Mode::KeysDown)).await,
        (other, route) => panic!("no request drives {route:?} to {other}"),
    };
    Some(outcome)
}

#[tokio::test]
async fn every_documented_status_is_returned_by_the_handlers_with_the_documented_body() {
    let doc = document();
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    for route in Route::ALL {
        let op = operation(&doc, route);
        let documented: BTreeSet<u16> = op["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .map(|s| {
                s.parse()
                    .unwrap_or_else(|_| panic!("{route:?}: status {s} is a number"))
            })
            .collect();
        let handled: BTreeSet<u16> = demonstrable(route).iter().copied().collect();
        if documented != handled {
            failures.push(format!(
                "{route:?}: documented {documented:?}, the handlers answer {handled:?}"
            ));
        }
        for status in documented.intersection(&handled).copied() {
            let Some(outcome) = Box::pin(exercise(route, status)).await else {
                skipped.push(format!("{route:?} {status}"));
                continue;
            };
            let label = format!("{route:?} {status}");
            if outcome.status.as_u16() != status {
                failures.push(format!(
                    "{label}: the handler answered {} {}",
                    outcome.status, outcome.body
                ));
                continue;
            }
            let response = resolve(&doc, &op["responses"][status.to_string()]);
            let schema = &response["content"]["application/json"]["schema"];
            for error in schema_errors(&doc, schema, &outcome.body) {
                failures.push(format!(
                    "{label}: response body: {error}\n  {}",
                    outcome.body
                ));
            }
            for header in response
                .get("headers")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|h| h.keys())
            {
                if !outcome.headers.contains_key(header.as_str()) {
                    failures.push(format!("{label}: documented header {header} is missing"));
                }
            }
            if (200..300).contains(&status)
                && let Some(sent) = &outcome.sent
            {
                let request = resolve(&doc, &op["requestBody"]);
                let schema = &request["content"]["application/json"]["schema"];
                for error in schema_errors(&doc, schema, sent) {
                    failures.push(format!("{label}: request body: {error}\n  {sent}"));
                }
            }
        }
    }
    for skip in &skipped {
        println!(
            "NOT CHECKED: {skip}: this build's deliver answers 400 \"approval provider delivery is \
             not available in this build\" (live delivery is issue C); the documented body is \
             checked once it delivers"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! The nine `/approvals` routes. [`handle`] runs one route (what each Lambda function calls);
//! [`dispatch`] matches method and path first (what `cavra serve` and the tests call).

use cavra_core::action::Presented;
use cavra_core::approval::{
    Approval, ApprovalState, CHANGE_ADVISORY_BOARD, SYSTEM_ACTOR, UNNAMED_EXPIRY_ACTOR,
};
use cavra_core::decision::Decision;
use cavra_core::error::ApprovalError;
use cavra_core::store::{Cursor, ListQuery};
use cavra_core::workflow::{
    BreakGlassInput, CheckOptions, ConsumeInput, DEFAULT_REQUESTER, DecideInput, EXPIRY_REASON,
    NewRequest, OverrideOf,
};
use cavra_delivery::DeliverError;
use cavra_delivery::deliver::{DEFAULT_RETRIES, DEFAULT_TIMEOUT, DeliveryOptions};
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt as _, Response};
use serde_json::{Map, Value};

use crate::{ApiError, AppState, approval_id, body_object, json_response, value_response};

/// One route = one Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /approvals`
    List,
    /// `POST /approvals`
    Create,
    /// `GET /approvals/{approval_id}`
    Get,
    /// `POST /approvals/{approval_id}/approve`
    Approve,
    /// `POST /approvals/{approval_id}/deny`
    Deny,
    /// `POST /approvals/{approval_id}/expire`
    Expire,
    /// `POST /approvals/{approval_id}/deliver`
    Deliver,
    /// `POST /approvals/{approval_id}/attach-decision`
    AttachDecision,
    /// `POST /approvals/break-glass`
    BreakGlass,
    /// `POST /approvals/{approval_id}/consume` (issue F §2)
    Consume,
}

impl Route {
    /// Every route.
    pub const ALL: [Self; 10] = [
        Self::List,
        Self::Create,
        Self::Get,
        Self::Approve,
        Self::Deny,
        Self::Expire,
        Self::Deliver,
        Self::AttachDecision,
        Self::BreakGlass,
        Self::Consume,
    ];

    /// The method and API Gateway path template.
    pub fn method_and_path(self) -> (Method, &'static str) {
        match self {
            Self::List => (Method::GET, "/approvals"),
            Self::Create => (Method::POST, "/approvals"),
            Self::Get => (Method::GET, "/approvals/{approval_id}"),
            Self::Approve => (Method::POST, "/approvals/{approval_id}/approve"),
            Self::Deny => (Method::POST, "/approvals/{approval_id}/deny"),
            Self::Expire => (Method::POST, "/approvals/{approval_id}/expire"),
            Self::Deliver => (Method::POST, "/approvals/{approval_id}/deliver"),
            Self::AttachDecision => (Method::POST, "/approvals/{approval_id}/attach-decision"),
            Self::BreakGlass => (Method::POST, "/approvals/break-glass"),
            Self::Consume => (Method::POST, "/approvals/{approval_id}/consume"),
        }
    }

    /// The Lambda function (and its binary) that serves this route.
    pub fn function_name(self) -> &'static str {
        match self {
            Self::List => "list-approvals",
            Self::Create => "create-approval",
            Self::Get => "get-approval",
            Self::Approve => "approve-approval",
            Self::Deny => "deny-approval",
            Self::Expire => "expire-approval",
            Self::Deliver => "deliver-approval",
            Self::AttachDecision => "attach-decision",
            Self::BreakGlass => "break-glass",
            Self::Consume => "consume-approval",
        }
    }

    /// The routes served at a concrete path (whatever the method), and its `approval_id`.
    fn at_path(path: &str) -> Option<(&'static [Self], Option<String>)> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        let id = |id: &&str| Some((*id).to_owned());
        Some(match segments.as_slice() {
            ["approvals"] => (&[Self::List, Self::Create], None),
            ["approvals", "break-glass"] => (&[Self::BreakGlass], None),
            ["approvals", i] => (&[Self::Get], id(i)),
            ["approvals", i, "approve"] => (&[Self::Approve], id(i)),
            ["approvals", i, "deny"] => (&[Self::Deny], id(i)),
            ["approvals", i, "expire"] => (&[Self::Expire], id(i)),
            ["approvals", i, "deliver"] => (&[Self::Deliver], id(i)),
            ["approvals", i, "attach-decision"] => (&[Self::AttachDecision], id(i)),
            ["approvals", i, "consume"] => (&[Self::Consume], id(i)),
            _ => return None,
        })
    }

    /// The methods a path answers, for the `Allow` header of a 405 (e.g. `GET, HEAD, POST`).
    pub fn allowed_methods(path: &str) -> Option<String> {
        let (routes, _) = Self::at_path(path)?;
        let mut methods: Vec<String> = Vec::new();
        for route in routes {
            let method = route.method_and_path().0;
            methods.push(method.to_string());
            if method == Method::GET {
                methods.push(Method::HEAD.to_string());
            }
        }
        Some(methods.join(", "))
    }

    /// Matches a concrete method and path; returns the route and its `approval_id`.
    ///
    /// # Errors
    /// 404 for unknown paths, 405 for a known path with another method.
    pub fn resolve(method: &Method, path: &str) -> Result<(Self, Option<String>), ApiError> {
        let (candidates, id) = Self::at_path(path).ok_or_else(ApiError::no_route)?;
        candidates
            .iter()
            .find(|route| {
                let served = route.method_and_path().0;
                // HEAD is GET without the body (RFC 9110 §9.3.2); the server drops the body.
                served == method || (method == Method::HEAD && served == Method::GET)
            })
            .map(|route| (*route, id))
            .ok_or_else(ApiError::method_not_allowed)
    }
}

/// Matches the request's method and path, sets the path parameter as API Gateway would, and
/// runs the route.
pub async fn dispatch(state: &AppState, request: Request) -> Response<Body> {
    let console_path = request.uri().path().trim_end_matches('/');
    let reading = request.method() == Method::GET || request.method() == Method::HEAD;
    match (reading, console_path) {
        (true, "/console/config") => return crate::console::config(state),
        (true, "/console/session") => {
            return crate::console::session(state, request.headers()).await;
        }
        (true, "/console/security-boundary") => return crate::console::security_boundary(state),
        (false, "/console/config" | "/console/session" | "/console/security-boundary") => {
            let mut response = ApiError::method_not_allowed().into_response();
            response
                .headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        _ => {}
    }
    match Route::resolve(request.method(), request.uri().path()) {
        Ok((route, id)) => {
            let request = match id {
                Some(id) => request.with_path_parameters(std::collections::HashMap::from([(
                    "approval_id".to_owned(),
                    id,
                )])),
                None => request,
            };
            handle(route, state, request).await
        }
        Err(error) => {
            let allow = (error.status == StatusCode::METHOD_NOT_ALLOWED)
                .then(|| Route::allowed_methods(request.uri().path()))
                .flatten()
                .and_then(|methods| header::HeaderValue::from_str(&methods).ok());
            let mut response = error.into_response();
            if let Some(allow) = allow {
                response.headers_mut().insert(header::ALLOW, allow);
            }
            response
        }
    }
}

/// Whether the request says its body is JSON: `application/json` (parameters such as
/// `charset` allowed) or an `application/…+json` type.
fn declares_json(request: &Request) -> bool {
    let Some(value) = request.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let media_type = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media_type == "application/json"
        || media_type
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"))
}

/// State changes carry JSON (issue E §6). A body in any other type is refused with 415 in every
/// mode. In local mode, where no token proves who is calling, every state change must declare
/// JSON even without a body: a browser sends such a request cross-site only after a CORS
/// preflight, which `cavra serve` never grants, so a web page cannot act through the local API.
fn check_content_type(state: &AppState, request: &Request) -> Result<(), ApiError> {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return Ok(());
    }
    let has_body = match request.body() {
        Body::Empty => false,
        Body::Text(text) => !text.trim().is_empty(),
        Body::Binary(bytes) => !bytes.iter().all(u8::is_ascii_whitespace),
        _ => true,
    };
    if (has_body || !state.identity.required()) && !declares_json(request) {
        return Err(ApiError::unsupported_media_type());
    }
    Ok(())
}

/// Runs one route, in a `request` span naming the route, the approval id of the path (when
/// it has one) and the answer's status (issue G §6).
#[tracing::instrument(
    name = "request",
    skip_all,
    fields(
        route = ?route,
        approval_id = crate::approval_id(&request).ok(),
        status = tracing::field::Empty,
    )
)]
pub async fn handle(route: Route, state: &AppState, request: Request) -> Response<Body> {
    let response = run(route, state, request).await;
    tracing::Span::current().record("status", response.status().as_u16());
    response
}

async fn run(route: Route, state: &AppState, request: Request) -> Response<Body> {
    if let Err(error) = check_content_type(state, &request) {
        return error.into_response();
    }
    let result = match route {
        Route::List => list(state, &request).await,
        Route::Create => create(state, &request).await,
        Route::Get => get(state, &request).await,
        Route::Approve => decide(state, &request, ApprovalState::Approved).await,
        Route::Deny => decide(state, &request, ApprovalState::Denied).await,
        Route::Expire => decide(state, &request, ApprovalState::Expired).await,
        Route::Deliver => deliver(state, &request).await,
        Route::AttachDecision => attach_decision(state, &request).await,
        Route::BreakGlass => break_glass(state, &request).await,
        Route::Consume => consume(state, &request).await,
    };
    result.unwrap_or_else(ApiError::into_response)
}

type Answer = Result<Response<Body>, ApiError>;

#[allow(clippy::unnecessary_wraps)] // every handler ends in `ok(..)`, an `Answer`
fn ok<T: serde::Serialize>(value: &T) -> Answer {
    Ok(json_response(StatusCode::OK, value))
}

/// 200 with `value` (a record's `to_sorted_value()`, or `json!`), written out once.
#[allow(clippy::unnecessary_wraps)] // as `ok`
fn ok_value(value: Value) -> Answer {
    Ok(value_response(
        StatusCode::OK,
        &cavra_core::approval::sort_value(value),
    ))
}

fn text(body: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(format!("{key} must be a string"))),
    }
}

fn integer(body: &Map<String, Value>, key: &str) -> Result<Option<i64>, ApiError> {
    let bad = || ApiError::bad_request(format!("{key} must be an integer"));
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(bad),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

/// `{"decision": {...}, …}` or the raw decision itself (original §10).
fn decision_and_options(body: Map<String, Value>) -> (Decision, Map<String, Value>) {
    if let Some(Value::Object(inner)) = body.get("decision") {
        (Decision::from_map(inner.clone()), body)
    } else {
        // The raw decision is also where the options are read from (original quirk), except
        // its own `approver_group`: that is the policy engine's suggestion, not a caller's
        // request, and routing decides (issue E §2; the original let it bypass routing).
        let mut options = body.clone();
        options.remove("approver_group");
        (Decision::from_map(body), options)
    }
}

fn query_integer(request: &Request, key: &str) -> Result<Option<i64>, ApiError> {
    match request
        .query_string_parameters_ref()
        .and_then(|q| q.first(key))
    {
        None | Some("") => Ok(None),
        Some(value) => value.parse().map(Some).map_err(|_| {
            ApiError::unprocessable(format!("query parameter {key} must be an integer"))
        }),
    }
}

async fn list(state: &AppState, request: &Request) -> Answer {
    state
        .identity
        .resolve(request.headers(), None, state.now_unix())
        .await?;
    let query_text = |key: &str| {
        request
            .query_string_parameters_ref()
            .and_then(|q| q.first(key))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let approval_state = query_text("state")
        .map(|s| s.parse::<ApprovalState>())
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let mut query = ListQuery::new(
        approval_state,
        query_text("approver_group"),
        query_integer(request, "limit")?,
        query_integer(request, "offset")?,
    );
    query.cursor = query_text("cursor")
        .map(|c| Cursor::decode(&c))
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    // Each record as stored where the store can prove its text is the answer's form: no
    // record is parsed and written out again (issue H §3).
    let page = state.service.list_json(&query).await?;
    Ok(crate::text_response(
        StatusCode::OK,
        serde_json::to_string(&page).map_err(|e| ApiError::internal(&e))?,
    ))
}

/// Longest `?wait=` a caller may ask for (under API Gateway's 29 s integration timeout).
pub const MAX_WAIT_SECONDS: u64 = 25;
/// How often a Lambda (which sees no other function's writes) re-reads while waiting.
const WAIT_REREAD: std::time::Duration = std::time::Duration::from_millis(500);

fn wait_seconds(request: &Request) -> Result<Option<u64>, ApiError> {
    let bad = || {
        ApiError::unprocessable(format!(
            "query parameter wait must be a whole number of seconds from 0 to {MAX_WAIT_SECONDS}"
        ))
    };
    match request
        .query_string_parameters_ref()
        .and_then(|q| q.first("wait"))
    {
        None | Some("") => Ok(None),
        Some(value) => value
            .parse::<u64>()
            .ok()
            .filter(|s| *s <= MAX_WAIT_SECONDS)
            .map(Some)
            .ok_or_else(bad),
    }
}

async fn get(state: &AppState, request: &Request) -> Answer {
    state
        .identity
        .resolve(request.headers(), None, state.now_unix())
        .await?;
    let id = approval_id(request)?;
    match wait_seconds(request)? {
        Some(seconds) if seconds > 0 => ok_value(
            wait_for_change(state, &id, seconds)
                .await?
                .to_sorted_value(),
        ),
        // The record as stored where the store can prove its text is the answer's form.
        _ => {
            let json: Box<str> = state.service.get_json(&id).await?.into();
            Ok(crate::text_response(StatusCode::OK, json.into_string()))
        }
    }
}

/// The record once it is no longer pending, or as it is after `seconds` (issue F §3). In
/// `cavra serve` the change feed wakes the wait when a decision is stored; a Lambda sees no
/// other function's writes and re-reads every [`WAIT_REREAD`] instead.
async fn wait_for_change(
    state: &AppState,
    id: &str,
    seconds: u64,
) -> Result<Approval, ApprovalError> {
    let now = tokio::time::Instant::now();
    // `seconds` is at most MAX_WAIT_SECONDS, so the sums cannot overflow; checked anyway.
    let deadline = now
        .checked_add(std::time::Duration::from_secs(seconds))
        .unwrap_or(now);
    // Subscribe before the first read, so a change between the read and the wait is seen.
    let mut changes = state.changes.as_ref().map(|feed| feed.subscribe());
    loop {
        let record = state.service.get(id).await?;
        if record.state != ApprovalState::Pending {
            return Ok(record);
        }
        let in_time = if let Some(feed) = changes.as_mut() {
            tokio::time::timeout_at(deadline, crate::state::ChangeFeed::next_for(feed, id))
                .await
                .is_ok()
        } else {
            let now = tokio::time::Instant::now();
            let next = now.checked_add(WAIT_REREAD).unwrap_or(now).min(deadline);
            tokio::time::sleep_until(next).await;
            next < deadline
        };
        if !in_time {
            return state.service.get(id).await;
        }
    }
}

async fn consume(state: &AppState, request: &Request) -> Answer {
    let body = body_object(request)?
        .ok_or_else(|| ApiError::unprocessable("request body must be a JSON object"))?;
    let context = state
        .identity
        .resolve(request.headers(), Some(&body), state.now_unix())
        .await?;
    let id = approval_id(request)?;
    let Some(Value::Object(decision)) = body.get("decision") else {
        return Err(ApiError::bad_request(
            "decision must be the approved decision object",
        ));
    };
    let digest = |key: &str| -> Result<Option<String>, ApiError> {
        let value = text(&body, key)?;
        match value {
            Some(hex) if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) => Err(
                ApiError::bad_request(format!("{key} must be 64 hexadecimal digits")),
            ),
            other => Ok(other.map(|h| h.to_ascii_lowercase())),
        }
    };
    let mut presented = Presented {
        content_sha256: digest("content_sha256")?,
        tool_args_sha256: digest("tool_args_sha256")?,
        plan_sha256: digest("plan_sha256")?,
    };
    if let Some(args) = body.get("tool_args") {
        presented.tool_args_sha256 = Some(cavra_core::action::tool_args_sha256(args));
    }
    let input = ConsumeInput {
        decision: Decision::from_map(decision.clone()),
        presented,
        actor: text(&body, "actor")?.unwrap_or_else(|| DEFAULT_REQUESTER.to_owned()),
        reason: text(&body, "reason")?,
        context,
    };
    let options = CheckOptions {
        require_verified: body
            .get("require_verified")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        ..CheckOptions::default()
    };
    let record = state.service.consume(&id, &input, options).await?;
    ok_value(record.to_sorted_value())
}

async fn create(state: &AppState, request: &Request) -> Answer {
    let body = body_object(request)?
        .ok_or_else(|| ApiError::unprocessable("request body must be a JSON object"))?;
    let requester = state
        .identity
        .resolve(request.headers(), Some(&body), state.now_unix())
        .await?;
    let (decision, options) = decision_and_options(body);
    let idempotency_key = request
        .headers()
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| ApiError::bad_request("Idempotency-Key must be visible ASCII"))
        })
        .transpose()?;
    let new = NewRequest {
        decision,
        approver_group: text(&options, "approver_group")?,
        requested_by: text(&options, "requested_by")?,
        ttl_hours: integer(&options, "ttl_hours")?,
        requester,
        rationale: text(&options, "rationale")?,
    };
    let created = state
        .service
        .create_idempotent(new, idempotency_key.as_deref())
        .await?;
    let approval = created.approval;
    let record = approval.to_sorted_value();
    if created.created {
        let mut response = value_response(StatusCode::CREATED, &record);
        let location = format!("/approvals/{}", approval.approval_id);
        // New ids are `apr_` + hex; a header value that would not parse is left out.
        if let Ok(value) = location.parse() {
            response.headers_mut().insert(header::LOCATION, value);
        }
        Ok(response)
    } else {
        ok_value(record)
    }
}

async fn decide(state: &AppState, request: &Request, target: ApprovalState) -> Answer {
    let body = body_object(request)?;
    let context = state
        .identity
        .resolve(request.headers(), body.as_ref(), state.now_unix())
        .await?;
    let id = approval_id(request)?;
    let declared =
        |body: &Map<String, Value>| -> Result<(String, String, Option<String>), ApiError> {
            Ok((
                text(body, "actor")?.unwrap_or_default(),
                text(body, "reason")?.unwrap_or_default(),
                text(body, "external_ref")?,
            ))
        };
    let (actor, reason, external_ref) = match (&body, target) {
        // An absent or empty body expires unnamed (the original said `system`, §6.2; that
        // name is the sweeper's alone now, issue E §3). With OIDC the token names the actor.
        (None, ApprovalState::Expired) => (
            UNNAMED_EXPIRY_ACTOR.to_owned(),
            EXPIRY_REASON.to_owned(),
            None,
        ),
        (Some(b), ApprovalState::Expired) if b.is_empty() => (
            UNNAMED_EXPIRY_ACTOR.to_owned(),
            EXPIRY_REASON.to_owned(),
            None,
        ),
        (Some(b), _) => declared(b)?,
        (None, _) => (String::new(), String::new(), None),
    };
    let input = DecideInput {
        target,
        actor,
        reason,
        external_ref,
        context,
    };
    // The service announces the change (and an overdue request expired on the way).
    match state.service.decide(&id, &input).await {
        Ok(record) => ok_value(record.to_sorted_value()),
        Err(error) => match &error {
            ApprovalError::NotAuthorized { deciding_groups } => {
                Ok(ApiError::forbidden_naming(&error, deciding_groups))
            }
            _ => Err(error.into()),
        },
    }
}

fn number(body: &Map<String, Value>, key: &str) -> Result<Option<f64>, ApiError> {
    let bad = || ApiError::bad_request(format!("{key} must be a number"));
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or_else(bad),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

async fn deliver(state: &AppState, request: &Request) -> Answer {
    let body = body_object(request)?;
    let context = state
        .identity
        .resolve(request.headers(), body.as_ref(), state.now_unix())
        .await?;
    let id = approval_id(request)?;
    match &context {
        Some(ctx) => state.service.get_for_delivery(&id, ctx).await?,
        None => state.service.get(&id).await?,
    };
    let Some(notifications) = &state.notifications else {
        return Err(ApiError::bad_request(
            "approval provider config is not configured",
        ));
    };
    let body = body.unwrap_or_default();
    let provider = text(&body, "provider")?.unwrap_or_else(|| "all".to_owned());
    let options = DeliveryOptions::new(
        integer(&body, "retries")?.unwrap_or(i64::from(DEFAULT_RETRIES)),
        number(&body, "timeout_seconds")?.unwrap_or(DEFAULT_TIMEOUT.as_secs_f64()),
    );
    let actor = match context {
        Some(ctx) => ctx.actor,
        None => text(&body, "actor")?
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(|| SYSTEM_ACTOR.to_owned()),
    };
    match notifications
        .deliver_and_record(&state.service, &id, &provider, options, &actor)
        .await
    {
        Ok((result, _)) => ok_value(result.to_value()),
        Err(DeliverError::NotConfigured(e)) => Err(ApiError::bad_request(e.to_string())),
        Err(DeliverError::Approval(e)) => Err(e.into()),
    }
}

async fn attach_decision(state: &AppState, request: &Request) -> Answer {
    let body = body_object(request)?
        .ok_or_else(|| ApiError::unprocessable("request body must be a JSON object"))?;
    state
        .identity
        .resolve(request.headers(), None, state.now_unix())
        .await?;
    let id = approval_id(request)?;
    ok(&state
        .service
        .attach_decision(&id, &Decision::from_map(body))
        .await?)
}

async fn break_glass(state: &AppState, request: &Request) -> Answer {
    let body = body_object(request)?
        .ok_or_else(|| ApiError::unprocessable("request body must be a JSON object"))?;
    let context = state
        .identity
        .resolve(request.headers(), Some(&body), state.now_unix())
        .await?;
    let (decision, options) = decision_and_options(body);
    let blocked = text(&options, "blocked_approval_id")?;
    let group =
        text(&options, "approver_group")?.unwrap_or_else(|| CHANGE_ADVISORY_BOARD.to_owned());
    // Started from a blocked request (issue I §5): the rule and target the caller saw, which
    // must be the request's; its decision is the override's.
    let of = blocked.map(|approval_id| {
        let field = |key: &str| decision.str_field(key).map(str::to_owned);
        OverrideOf {
            rule_id: field("rule_id"),
            target: field("target"),
            approval_id,
        }
    });
    let input = BreakGlassInput {
        decision,
        actor: text(&options, "actor")?.unwrap_or_default(),
        reason: text(&options, "reason")?.unwrap_or_default(),
        approver_group: Some(group.clone()),
        external_ref: text(&options, "external_ref")?,
        ttl_hours: integer(&options, "ttl_hours")?,
        context,
    };
    // Boxed: the two service futures are large, and a handler's future lives on the caller's
    // stack.
    let result = match &of {
        Some(of) => Box::pin(state.service.break_glass_from(of, input))
            .await
            .map(|linked| linked.override_record),
        None => Box::pin(state.service.break_glass(input)).await,
    };
    match result {
        Ok(record) => ok_value(record.to_sorted_value()),
        Err(error @ ApprovalError::NotAuthorizedBreakGlass) => {
            Ok(ApiError::forbidden_naming(&error, &[group]))
        }
        Err(error) => Err(error.into()),
    }
}

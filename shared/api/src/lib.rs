//! `cavra-api`: the nine `/approvals` routes of original §10, hardened per CONTRACT §1–§9, as
//! plain async functions `fn(&AppState, lambda_http::Request) -> Response`.
//!
//! The same handlers run as nine Lambda functions (`functions/`), behind `cavra serve`, and in
//! the tests. [`AppState`] is built once per cold start from [`config::Config`].

// Issue E §6: outside input never panics here. Tests may unwrap.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

pub mod auth;
pub mod config;
pub mod console;
pub mod error;
pub mod routes;
pub mod state;

use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, RequestExt as _, Response};
use serde::Serialize;
use serde_json::{Map, Value};

pub use error::ApiError;
pub use routes::{Route, dispatch, handle};
pub use state::AppState;

/// Largest accepted request body (CONTRACT §9: 413 above it).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A JSON response with `status`, its objects' keys sorted.
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    value_response(
        status,
        &cavra_core::approval::sort_value(serde_json::to_value(value).unwrap_or(Value::Null)),
    )
}

/// A JSON response with `status` for a value whose keys are already sorted (a record's
/// `to_sorted_value`): written out once, not copied and sorted again (issue H §3).
pub fn value_response(status: StatusCode, value: &Value) -> Response<Body> {
    text_response(
        status,
        serde_json::to_string(value).unwrap_or_else(|_| "null".into()),
    )
}

/// A JSON response with `status` whose body is already written out.
pub fn text_response(status: StatusCode, json: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(json));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// The request body as a JSON object; `None` when the body is empty.
///
/// # Errors
/// 413 over [`MAX_BODY_BYTES`]; 422 for malformed JSON or a body that is not an object.
pub fn body_object(request: &Request) -> Result<Option<Map<String, Value>>, ApiError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => return Ok(None),
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => return Err(ApiError::unprocessable("request body is not supported")),
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(ApiError::unprocessable(
            "request body is not valid JSON: it is not UTF-8",
        ));
    };
    match cavra_core::decision::parse_json_strict(text) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(ApiError::unprocessable(
            "request body must be a JSON object",
        )),
        Err(e) if e.is_data() => Err(ApiError::unprocessable(format!(
            "request body is refused: {e}"
        ))),
        Err(e) => Err(ApiError::unprocessable(format!(
            "request body is not valid JSON: {e}"
        ))),
    }
}

/// The `{approval_id}` path parameter. API Gateway sets it; Lambda function URLs (and the
/// local Lambda emulator) send only the raw path, so then it is the segment after the last
/// `approvals` (which also tolerates a stage or emulator prefix).
///
/// # Errors
/// 404 when the request names no approval.
pub fn approval_id(request: &Request) -> Result<String, ApiError> {
    let from_parameters = request
        .path_parameters_ref()
        .and_then(|p| p.first("approval_id"))
        .map(str::to_owned);
    from_parameters
        .or_else(|| id_from_path(request.uri().path()))
        .ok_or_else(|| ApiError {
            status: StatusCode::NOT_FOUND,
            detail: "approval not found".into(),
        })
}

fn id_from_path(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let at = segments.iter().rposition(|s| *s == "approvals")?;
    segments
        .get(at.checked_add(1)?)
        .filter(|id| **id != "break-glass")
        .map(|id| (*id).to_owned())
}

#[cfg(test)]
mod path_tests {
    use super::id_from_path;

    #[test]
    fn the_id_is_the_segment_after_the_last_approvals() {
        assert_eq!(
            id_from_path("/approvals/apr_1/approve").as_deref(),
            Some("apr_1")
        );
        assert_eq!(
            id_from_path("/prod/approvals/apr_2").as_deref(),
            Some("apr_2")
        );
        assert_eq!(
            id_from_path("/lambda-url/get-approval/approvals/apr_3/").as_deref(),
            Some("apr_3")
        );
        assert_eq!(id_from_path("/approvals"), None);
        assert_eq!(id_from_path("/approvals/break-glass"), None);
        assert_eq!(id_from_path("/elsewhere/apr_4"), None);
    }
}

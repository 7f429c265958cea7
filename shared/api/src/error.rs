//! The HTTP edge of errors: every failure becomes `{"detail": "<message>"}` with the status of
//! CONTRACT §9. 5xx bodies are opaque; the cause chain is logged.

use cavra_core::error::{ApprovalError, ErrorKind};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

/// An error answered to an HTTP client.
#[derive(Debug)]
pub struct ApiError {
    /// The status.
    pub status: StatusCode,
    /// The `detail` text (for 5xx, a fixed opaque text).
    pub detail: String,
}

impl ApiError {
    /// 400.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            detail: detail.into(),
        }
    }

    /// 401.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            detail: detail.into(),
        }
    }

    /// 404 for routes that do not exist.
    pub fn no_route() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            detail: "not found".into(),
        }
    }

    /// 405.
    pub fn method_not_allowed() -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            detail: "method not allowed".into(),
        }
    }

    /// 415: a state change whose body is not declared as JSON.
    pub fn unsupported_media_type() -> Self {
        Self {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            detail: "request body must be JSON: send content-type: application/json".into(),
        }
    }

    /// 413.
    pub fn too_large(limit: usize) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            detail: format!("request body is larger than {} KiB", limit / 1024),
        }
    }

    /// 422.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: detail.into(),
        }
    }

    /// 500 with an opaque body; the cause is logged here.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            detail: "internal error".into(),
        }
    }

    /// A 403 for `error` that also names the groups whose members may do what was refused
    /// (`required_groups`), so a client can say whom to ask (issue I §5). The `detail` stays
    /// the spec's text.
    pub fn forbidden_naming(error: &ApprovalError, groups: &[String]) -> Response<Body> {
        crate::json_response(
            StatusCode::FORBIDDEN,
            &serde_json::json!({ "detail": error.to_string(), "required_groups": groups }),
        )
    }

    /// The response.
    pub fn into_response(self) -> Response<Body> {
        crate::json_response(self.status, &serde_json::json!({ "detail": self.detail }))
    }
}

impl From<ApprovalError> for ApiError {
    fn from(error: ApprovalError) -> Self {
        let status = match error.kind() {
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unexpected => {
                return Self::internal(&format!("{:#}", anyhow::Error::new(error)));
            }
        };
        let detail = match &error {
            // The API's wording (original §10); the CLI adds the id.
            ApprovalError::NotFound(_) => "approval not found".to_owned(),
            other => other.to_string(),
        };
        Self { status, detail }
    }
}

//! The console's two read-only endpoints (original §10 "related endpoints"), served by
//! `cavra serve` beside the nine routes: `GET /console/config` (what this deployment is
//! configured with) and `GET /console/session` (who the bearer token says the caller is).
//! In the cloud the console reads a static `config.json` instead and decodes its session from
//! the token; these stay local conveniences and never grant anything by themselves.

use cavra_core::approval::CHANGE_ADVISORY_BOARD;
use cavra_core::identity::ActorContext;
use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::{Body, Response};
use serde_json::{Value, json};

use crate::{ApiError, AppState, json_response};

fn configured(flag: bool) -> &'static str {
    if flag { "configured" } else { "disabled" }
}

/// `GET /console/config`.
pub fn config(state: &AppState) -> Response<Body> {
    let config = &state.config;
    json_response(
        StatusCode::OK,
        &json!({
            "product": "CAVRA",
            "approval_mode": config.store.mode(),
            "approval_provider_delivery": configured(config.provider_config.is_some()),
            "approval_oidc": configured(state.identity.oidc.is_some()),
            "approval_rbac": configured(state.identity.rbac.is_some()),
            "api_base_url": config.public_api_base_url,
            "endpoints": {"approvals": "/approvals"},
        }),
    )
}

/// `GET /console/session`: only the `Authorization` header counts (original §4.3).
///
/// # Errors
/// 401 for a malformed header or an invalid token; 400 for a token without OIDC configured.
pub async fn session(state: &AppState, headers: &HeaderMap) -> Response<Body> {
    match session_body(state, headers, state.now_unix()).await {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(error) => error.into_response(),
    }
}

async fn session_body(
    state: &AppState,
    headers: &HeaderMap,
    now_unix: i64,
) -> Result<Value, ApiError> {
    let identity = &state.identity;
    let auth_required = identity.oidc.is_some();
    let context = identity.from_header(headers, now_unix).await?;
    let mode = match (&context, auth_required) {
        (Some(_), _) => "authenticated",
        (None, true) => "auth_required",
        (None, false) => "local_or_demo",
    };
    let repository_permissions = match (&context, &identity.rbac) {
        (Some(ctx), Some(rbac)) => {
            serde_json::to_value(rbac.permissions_for(ctx)).map_err(|e| ApiError::internal(&e))?
        }
        _ => json!([]),
    };
    let may_decide = context.as_ref().is_some_and(|ctx| {
        !ctx.groups.is_empty()
            || repository_permissions
                .as_array()
                .is_some_and(|p| !p.is_empty())
    });
    Ok(json!({
        "schema_version": "cavra.console.session.v1",
        "product": "CAVRA",
        "mode": mode,
        "authenticated": context.is_some(),
        "auth_required": auth_required,
        "actor": context.as_ref().map(actor_view),
        "repository_permissions": repository_permissions,
        "permissions": {
            "read_activity": true,
            "read_inventory": true,
            "read_integrations": true,
            "read_evidence_metadata": true,
            "decide_approvals": may_decide,
            "publish_policy_packs": may_decide,
            "acknowledge_drill_notifications": context.is_some(),
            "create_break_glass": context.as_ref().is_some_and(|c| c.in_group(CHANGE_ADVISORY_BOARD)),
        },
        "operator_notes": [
            "Every approval action is checked again by the API; this view grants nothing.",
        ],
    }))
}

fn actor_view(ctx: &ActorContext) -> Value {
    json!({
        "actor": ctx.actor,
        "subject": ctx.subject,
        "issuer": ctx.issuer,
        "groups": ctx.groups,
        "repository": ctx.repository,
    })
}

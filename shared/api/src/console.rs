//! The console's three read-only endpoints (original §10 "related endpoints"), served by
//! `cavra serve` beside the approval routes: `GET /console/config` (what this deployment is
//! configured with), `GET /console/session` (who the bearer token says the caller is) and
//! `GET /console/security-boundary` (what protects it; compat appendix A4).
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

/// `GET /console/security-boundary` (appendix A4): no authentication, any `Authorization`
/// header ignored; always 200. `mode` is `oidc_rbac_ready` only when OIDC and a non-empty RBAC
/// document are both configured.
pub fn security_boundary(state: &AppState) -> Response<Body> {
    let oidc = state.identity.oidc.is_some();
    let rbac = state.identity.rbac.is_some() && state.rbac_configured;
    let origins = &state.config.cors_origins;
    json_response(
        StatusCode::OK,
        &json!({
            "schema_version": "cavra.console.security_boundary.v1",
            "product": "CAVRA",
            "mode": if oidc && rbac { "oidc_rbac_ready" } else { "local_or_demo" },
            "oidc": {
                "configured": oidc,
                "config_env": "CAVRA_APPROVAL_OIDC_CONFIG",
                // The original's list; ours also verifies RS384/RS512/PS256/ES256/ES384/EdDSA
                // (CONTRACT §2), and never `none` or HMAC.
                "supported_algorithms": ["RS256"],
                "validated_claims": ["iss", "aud", "exp", "nbf", "groups", "roles", "email", "sub"],
            },
            "rbac": {
                "configured": rbac,
                "config_env": "CAVRA_APPROVAL_RBAC_FILE",
                "boundaries": ["approval_group", "repository_permissions", "group_mappings"],
            },
            "cors": {"configured": !origins.is_empty(), "origins": origins},
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

//! What a pasted OIDC token says about its holder, for display only.
//!
//! The console never verifies a token and never trusts these claims: it shows them so an
//! approver can see which identity they are about to act as, and sends the token unchanged in
//! `Authorization: Bearer …`. The server verifies the signature, issuer, audience and expiry,
//! maps groups through RBAC and decides.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cavra_core::approval::IdentityKind;
use cavra_core::identity::ActorContext;
use cavra_core::time::Timestamp;
use serde_json::{Map, Value};

use crate::format;

/// The claims of a token as the console shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenView {
    /// `email`, else `preferred_username`, else `sub` (as the server picks the actor).
    pub actor: String,
    /// `iss`.
    pub issuer: Option<String>,
    /// `groups` (else `roles`) as written in the token, before the server's RBAC mappings.
    pub groups: Vec<String>,
    /// `exp`, when present.
    pub expires_at: Option<Timestamp>,
}

impl TokenView {
    /// "expires in 9 min", "expired 3 min ago" or "no expiry claim".
    pub fn expiry_text(&self, now: Timestamp) -> String {
        match self.expires_at {
            None => "no expiry claim".to_owned(),
            Some(exp) if exp > now => {
                format!("{} (in {})", format::instant(exp), format::age(now, exp))
            }
            Some(exp) => format!(
                "{} (expired {} ago)",
                format::instant(exp),
                format::age(exp, now)
            ),
        }
    }

    /// Whether `exp` has passed.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|exp| exp <= now)
    }
}

/// Why a text is not a readable token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAToken(pub String);

/// Reads the payload of a compact JWT (`header.payload.signature`).
///
/// # Errors
/// The text does not have three parts, or its payload is not base64url JSON object.
pub fn decode(token: &str) -> Result<TokenView, NotAToken> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    let [_, payload, _] = parts.as_slice() else {
        return Err(NotAToken(
            "a token has three parts separated by dots (header.payload.signature)".to_owned(),
        ));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| NotAToken("the token's payload is not base64url".to_owned()))?;
    let claims: Map<String, Value> = serde_json::from_slice(&bytes)
        .map_err(|_| NotAToken("the token's payload is not a JSON object".to_owned()))?;
    let context = ActorContext::from_claims(&claims, None, IdentityKind::Unverified);
    let expires_at = claims
        .get("exp")
        .and_then(Value::as_i64)
        .and_then(format::from_unix_seconds);
    Ok(TokenView {
        actor: context.actor,
        issuer: context.issuer,
        groups: context.groups,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn unsigned(claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"test-key"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("{header}.{payload}.c2lnbmF0dXJl")
    }

    #[test]
    fn given_a_token_when_decoded_then_actor_issuer_groups_and_expiry_show() {
        let token = unsigned(&json!({
            "iss": "https://login.example", "sub": "sub-1", "email": "iam@example.com",
            "groups": ["Platform Security", "IAM"], "exp": 1_779_107_700,
        }));
        let view = decode(&format!("  {token}\n")).unwrap();
        assert_eq!(view.actor, "iam@example.com");
        assert_eq!(view.issuer.as_deref(), Some("https://login.example"));
        assert_eq!(view.groups, ["IAM", "Platform Security"]);
        let before: Timestamp = "2026-05-18T12:26:00+00:00".parse().unwrap();
        assert_eq!(
            view.expiry_text(before),
            "2026-05-18 12:35:00 UTC (in 9 min)"
        );
        assert!(!view.is_expired(before));
        let after: Timestamp = "2026-05-18T12:38:00+00:00".parse().unwrap();
        assert_eq!(
            view.expiry_text(after),
            "2026-05-18 12:35:00 UTC (expired 3 min ago)"
        );
        assert!(view.is_expired(after));
    }

    #[test]
    fn roles_stand_in_for_missing_groups_and_sub_for_missing_email() {
        let view = decode(&unsigned(&json!({"sub": "svc-42", "roles": "CAB"}))).unwrap();
        assert_eq!(view.actor, "svc-42");
        assert_eq!(view.groups, ["CAB"]);
        assert_eq!(view.expires_at, None);
    }

    #[test]
    fn text_that_is_not_a_jwt_is_refused_with_a_reason() {
        assert!(decode("not a token").unwrap_err().0.contains("three parts"));
        assert!(decode("a.%%%.c").unwrap_err().0.contains("base64url"));
        let not_object = format!("a.{}.c", URL_SAFE_NO_PAD.encode("[1,2]"));
        assert!(decode(&not_object).unwrap_err().0.contains("JSON object"));
    }
}

//! Who is calling (original §4.3 with CONTRACT §2): a Bearer JWT or body `actor_token`
//! verified against the OIDC config, or — only without OIDC — self-declared `actor_claims`.

use std::sync::Arc;

use async_trait::async_trait;
use cavra_core::approval::IdentityKind;
use cavra_core::identity::ActorContext;
use cavra_core::oidc::{OidcConfig, TokenError, jwks_from_value, verify_token};
use cavra_core::rbac::RbacPolicy;
use jsonwebtoken::jwk::JwkSet;
use lambda_http::http::{HeaderMap, StatusCode};
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use crate::error::ApiError;

/// Fetches a JWKS document from a `jwks_uri`.
#[async_trait]
pub trait JwksFetch: Send + Sync {
    /// GETs and parses the key set.
    async fn fetch(&self, uri: &str) -> anyhow::Result<JwkSet>;
}

/// [`JwksFetch`] over reqwest, with a timeout.
#[derive(Debug, Clone)]
pub struct HttpJwksFetch {
    client: reqwest::Client,
}

impl HttpJwksFetch {
    /// A fetcher with a 5-second timeout.
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()?,
        })
    }
}

#[async_trait]
impl JwksFetch for HttpJwksFetch {
    async fn fetch(&self, uri: &str) -> anyhow::Result<JwkSet> {
        let response = self.client.get(uri).send().await?.error_for_status()?;
        let document: Value = response.json().await?;
        Ok(jwks_from_value(&document)?)
    }
}

/// Verifies tokens; keys from the config, or fetched from `jwks_uri`, cached, and refetched
/// once when a token names an unknown `kid`.
pub struct OidcVerifier {
    config: RwLock<OidcConfig>,
    fetched: RwLock<bool>,
    fetcher: Option<Arc<dyn JwksFetch>>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier").finish_non_exhaustive()
    }
}

impl OidcVerifier {
    /// A verifier for `config`; `fetcher` is used when it has a `jwks_uri`.
    pub fn new(config: OidcConfig, fetcher: Option<Arc<dyn JwksFetch>>) -> Self {
        Self {
            config: RwLock::new(config),
            fetched: RwLock::new(false),
            fetcher,
        }
    }

    async fn refresh(&self) -> Result<(), ApiError> {
        let uri = self.config.read().await.jwks_uri.clone();
        let (Some(uri), Some(fetcher)) = (uri, &self.fetcher) else {
            return Ok(());
        };
        let keys = fetcher.fetch(&uri).await.map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), %uri, "JWKS fetch failed");
            ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                detail: "OIDC signing keys could not be fetched".into(),
            }
        })?;
        self.config.write().await.jwks = keys;
        *self.fetched.write().await = true;
        Ok(())
    }

    /// Verifies `token` and builds the actor context.
    pub async fn verify(
        &self,
        token: &str,
        now_unix: i64,
        rbac: Option<&RbacPolicy>,
    ) -> Result<ActorContext, ApiError> {
        let has_uri = self.config.read().await.jwks_uri.is_some();
        if has_uri && !*self.fetched.read().await {
            self.refresh().await?;
        }
        let first = verify_token(&*self.config.read().await, token, now_unix);
        let claims = match first {
            Err(error) if error.is_unknown_kid() && has_uri => {
                self.refresh().await?;
                verify_token(&*self.config.read().await, token, now_unix)
            }
            other => other,
        }
        .map_err(|e: TokenError| ApiError::unauthorized(e.to_string()))?;
        Ok(ActorContext::from_claims(&claims, rbac, IdentityKind::Oidc))
    }
}

/// The identity settings of a deployment.
#[derive(Debug, Default)]
pub struct IdentitySettings {
    /// OIDC verification, when configured.
    pub oidc: Option<OidcVerifier>,
    /// RBAC policy, when configured.
    pub rbac: Option<RbacPolicy>,
}

fn bearer(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(lambda_http::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    let (scheme, token) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized(
            "authorization header must use Bearer token",
        ));
    }
    Ok(Some(token.trim().to_owned()))
}

impl IdentitySettings {
    /// Whether any identity is demanded (OIDC or RBAC configured).
    pub fn required(&self) -> bool {
        self.oidc.is_some() || self.rbac.is_some()
    }

    /// The identity the `Authorization: Bearer` header proves, if any.
    ///
    /// # Errors
    /// 401 for a malformed header or an invalid token; 400 when no OIDC config is set.
    pub async fn from_header(
        &self,
        headers: &HeaderMap,
        now_unix: i64,
    ) -> Result<Option<ActorContext>, ApiError> {
        let Some(token) = bearer(headers)? else {
            return Ok(None);
        };
        let Some(oidc) = &self.oidc else {
            return Err(ApiError::bad_request(
                "console OIDC config is not configured",
            ));
        };
        Ok(Some(
            oidc.verify(&token, now_unix, self.rbac.as_ref()).await?,
        ))
    }

    /// Resolves the caller: body `actor_claims` (only without OIDC), body `actor_token`, then the
    /// `Authorization` header. With OIDC or RBAC configured an identity is mandatory.
    pub async fn resolve(
        &self,
        headers: &HeaderMap,
        body: Option<&Map<String, Value>>,
        now_unix: i64,
    ) -> Result<Option<ActorContext>, ApiError> {
        let rbac = self.rbac.as_ref();
        let context = if let Some(claims) = body
            .and_then(|b| b.get("actor_claims"))
            .filter(|v| !v.is_null())
        {
            if self.oidc.is_some() {
                return Err(ApiError::unauthorized(
                    "actor claims require a verified token",
                ));
            }
            let Value::Object(claims) = claims else {
                return Err(ApiError::bad_request("actor_claims must be an object"));
            };
            Some(ActorContext::from_claims(
                claims,
                rbac,
                IdentityKind::Unverified,
            ))
        } else if let Some(token) = body
            .and_then(|b| b.get("actor_token"))
            .filter(|v| !v.is_null())
        {
            let Some(token) = token.as_str() else {
                return Err(ApiError::bad_request("actor_token must be a string"));
            };
            let Some(oidc) = &self.oidc else {
                return Err(ApiError::bad_request(
                    "approval OIDC config is not configured",
                ));
            };
            Some(oidc.verify(token, now_unix, rbac).await?)
        } else {
            self.from_header(headers, now_unix).await?
        };
        if context.is_none() && self.required() {
            return Err(ApiError::unauthorized(
                "console action requires verified actor context",
            ));
        }
        Ok(context)
    }
}

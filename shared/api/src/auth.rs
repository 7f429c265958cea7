//! Who is calling (original §4.3 with CONTRACT §2): a Bearer JWT or body `actor_token`
//! verified against the OIDC config, or — only without OIDC — self-declared `actor_claims`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cavra_core::approval::IdentityKind;
use cavra_core::identity::ActorContext;
use cavra_core::oidc::{OidcConfig, TokenError, jwks_from_value, valid_through, verify_token};
use cavra_core::rbac::RbacPolicy;
use jsonwebtoken::jwk::JwkSet;
use lambda_http::http::{HeaderMap, StatusCode};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use tokio::sync::{Mutex, RwLock};

use crate::error::ApiError;

pub use cavra_core::ports::JwksFetch;

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

/// When the JWKS was last fetched (or a fetch was attempted) and how many fetches succeeded.
#[derive(Debug, Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
    generation: u64,
}

/// Verifies tokens; keys from the config, or fetched from `jwks_uri` and cached.
///
/// A token naming an unknown `kid` may mean the provider rotated its keys, so the key set is
/// fetched again, but never more than once per `jwks_min_refresh_seconds` (default 60): forged
/// `kid`s cannot make the server hammer the provider. Concurrent refreshes are coalesced: one
/// request fetches while the others wait for its result and then verify against it.
pub struct OidcVerifier {
    config: RwLock<OidcConfig>,
    /// Tokens that passed every check, by SHA-256 of the token (issue H §4).
    verified: quick_cache::sync::Cache<[u8; 32], Verified>,
    refresh: Mutex<RefreshState>,
    /// Successful fetches so far; a verifier reads it before trying its token, so after waiting
    /// for the refresh lock it knows whether the keys changed in the meantime.
    generation: AtomicU64,
    min_refresh: Duration,
    fetcher: Option<Arc<dyn JwksFetch>>,
}

/// How many verified tokens a verifier remembers. The key is the token's SHA-256 (a token is
/// up to 16 KiB of the caller's choosing) and the value only its claims, so the cache stays
/// within a few MiB whatever callers send; only tokens that verified are ever inserted.
const VERIFIED_TOKENS: usize = 4096;

/// A token that passed every check, remembered until its claims would stop passing.
#[derive(Clone)]
struct Verified {
    claims: Arc<Map<String, Value>>,
    /// When it was verified (unix seconds): a clock reading before it verifies again.
    at: i64,
    /// The last second its claims still pass ([`valid_through`]).
    through: i64,
    /// The key generation it was verified against: keys fetched since mean verifying again.
    generation: u64,
}

impl Verified {
    fn holds(&self, now_unix: i64, generation: u64) -> bool {
        self.generation == generation && self.at <= now_unix && now_unix <= self.through
    }
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier").finish_non_exhaustive()
    }
}

fn keys_unreachable() -> ApiError {
    ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        detail: "OIDC signing keys could not be fetched".into(),
    }
}

impl OidcVerifier {
    /// A verifier for `config`; `fetcher` is used when it has a `jwks_uri`.
    pub fn new(config: OidcConfig, fetcher: Option<Arc<dyn JwksFetch>>) -> Self {
        Self {
            min_refresh: Duration::from_secs(config.jwks_min_refresh_seconds),
            config: RwLock::new(config),
            verified: quick_cache::sync::Cache::new(VERIFIED_TOKENS),
            refresh: Mutex::new(RefreshState::default()),
            generation: AtomicU64::new(0),
            fetcher,
        }
    }

    /// Makes sure keys newer than `seen` (a generation read before the caller's last attempt)
    /// are loaded, fetching them if no one else did and the interval allows. Returns whether
    /// the keys changed since `seen`.
    async fn refresh_after(&self, seen: u64) -> Result<bool, ApiError> {
        let uri = self.config.read().await.jwks_uri.clone();
        let (Some(uri), Some(fetcher)) = (uri, &self.fetcher) else {
            return Ok(false);
        };
        let mut state = self.refresh.lock().await;
        if state.generation != seen {
            return Ok(true);
        }
        if let Some(last) = state.last_attempt
            && last.elapsed() < self.min_refresh
        {
            return if state.generation == 0 {
                Err(keys_unreachable())
            } else {
                Ok(false)
            };
        }
        state.last_attempt = Some(Instant::now());
        tracing::info!(%uri, "fetching the OIDC signing keys");
        let keys = fetcher.fetch(&uri).await.map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), %uri, "JWKS fetch failed");
            keys_unreachable()
        })?;
        self.config.write().await.jwks = keys.into();
        state.generation = state.generation.saturating_add(1);
        self.generation.store(state.generation, Ordering::Release);
        Ok(true)
    }

    /// Verifies `token` and builds the actor context.
    pub async fn verify(
        &self,
        token: &str,
        now_unix: i64,
        rbac: Option<&RbacPolicy>,
    ) -> Result<ActorContext, ApiError> {
        let has_uri = self.config.read().await.jwks_uri.is_some() && self.fetcher.is_some();
        let mut seen = self.generation.load(Ordering::Acquire);
        if has_uri && seen == 0 {
            self.refresh_after(0).await?;
            seen = self.generation.load(Ordering::Acquire);
        }
        // A token seen before is not verified again while its claims still pass and the keys
        // are the ones it was verified with (issue H §4).
        let digest: Option<[u8; 32]> = (token.len() <= cavra_core::oidc::MAX_TOKEN_BYTES)
            .then(|| Sha256::digest(token.trim().as_bytes()).into());
        if let Some(digest) = &digest
            && let Some(hit) = self.verified.get(digest)
            && hit.holds(now_unix, seen)
        {
            return Ok(ActorContext::from_claims(
                &hit.claims,
                rbac,
                IdentityKind::Oidc,
            ));
        }
        let first = verify_token(&*self.config.read().await, token, now_unix);
        let claims = match first {
            Err(error) if error.is_unknown_kid() && has_uri => {
                if self.refresh_after(seen).await? {
                    seen = self.generation.load(Ordering::Acquire);
                    verify_token(&*self.config.read().await, token, now_unix)
                } else {
                    Err(error)
                }
            }
            other => other,
        }
        .map_err(|e: TokenError| ApiError::unauthorized(e.to_string()))?;
        let context = ActorContext::from_claims(&claims, rbac, IdentityKind::Oidc);
        let through = valid_through(&*self.config.read().await, &claims);
        if let (Some(digest), Some(through)) = (digest, through) {
            let entry = Verified {
                claims: Arc::new(claims),
                at: now_unix,
                through,
                generation: seen,
            };
            self.verified.insert(digest, entry);
        }
        Ok(context)
    }

    /// How many verified tokens are remembered now.
    pub fn cached_tokens(&self) -> usize {
        self.verified.len()
    }
}

#[derive(Debug, Default)]
pub struct IdentitySettings {
    /// OIDC verification, when configured.
    pub oidc: Option<OidcVerifier>,
    /// RBAC policy, when configured.
    pub rbac: Option<RbacPolicy>,
}

/// The Bearer token of the `Authorization` header. A second `Authorization` header is refused:
/// proxies and servers disagree on which one counts, so accepting either would let a caller
/// show one identity to a proxy and another to us.
fn bearer(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers
        .get_all(lambda_http::http::header::AUTHORIZATION)
        .iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::bad_request(
            "authorization header must appear once",
        ));
    }
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
        let given = |key: &str| body.and_then(|b| b.get(key)).filter(|v| !v.is_null());
        if given("actor_token").is_some_and(|token| !token.is_string()) {
            return Err(ApiError::bad_request("actor_token must be a string"));
        }
        if given("actor_claims").is_some() && given("actor_token").is_some() {
            return Err(ApiError::bad_request(
                "give one identity: actor_claims or actor_token, not both",
            ));
        }
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

#[cfg(test)]
mod tests {
    //! The cache of verified tokens (issue H §4) never accepts what verifying again would
    //! refuse: past its expiry or maximum age, for an earlier clock reading, or after the keys
    //! changed.

    use super::*;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::json;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/oidc");
    const NOW: i64 = 1_900_000_000;

    fn jwks() -> JwkSet {
        let text = std::fs::read_to_string(format!("{FIXTURES}/jwks.json")).unwrap();
        jwks_from_value(&serde_json::from_str(&text).unwrap()).unwrap()
    }

    fn config(extra: &Value) -> OidcConfig {
        let mut value = json!({"issuer": "https://login.example", "audience": "cavra-approvals"});
        for (key, item) in extra.as_object().unwrap() {
            value[key] = item.clone();
        }
        if value.get("jwks_uri").is_none() {
            value["jwks"] = serde_json::to_value(jwks()).unwrap();
        }
        OidcConfig::from_value(&value, std::path::Path::new(".")).unwrap()
    }

    fn token(kid: &str, claims: &Value) -> String {
        let pem = std::fs::read(format!("{FIXTURES}/rsa-private.pem")).unwrap();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        let mut all = json!({
            "iss": "https://login.example", "aud": "cavra-approvals", "sub": "user-1",
            "email": "iam@example.com", "iat": NOW, "exp": NOW + 300,
        });
        for (key, item) in claims.as_object().unwrap() {
            all[key] = item.clone();
        }
        jsonwebtoken::encode(&header, &all, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
    }

    async fn check(verifier: &OidcVerifier, token: &str, now: i64) -> Result<String, String> {
        verifier
            .verify(token, now, None)
            .await
            .map(|actor| actor.actor)
            .map_err(|e| e.detail)
    }

    #[tokio::test]
    async fn a_verified_token_is_remembered_and_a_tampered_one_never_is() {
        let verifier = OidcVerifier::new(config(&json!({})), None);
        let good = token("test-key", &json!({}));
        assert_eq!(
            check(&verifier, &good, NOW).await,
            Ok("iam@example.com".into())
        );
        assert_eq!(verifier.cached_tokens(), 1);
        assert_eq!(
            check(&verifier, &good, NOW + 1).await,
            Ok("iam@example.com".into())
        );
        assert_eq!(
            check(&verifier, &format!("  {good}\n"), NOW).await,
            Ok("iam@example.com".into())
        );
        assert_eq!(verifier.cached_tokens(), 1, "same token, one entry");
        // The same header and payload with another signature is another token, and refused.
        let (signed, _) = good.rsplit_once('.').unwrap();
        let forged = format!("{signed}.AAAA");
        assert!(check(&verifier, &forged, NOW).await.is_err());
        assert_eq!(verifier.cached_tokens(), 1, "failures are not remembered");
    }

    #[tokio::test]
    async fn a_remembered_token_expires_exactly_when_verifying_again_would_refuse_it() {
        // leeway 60 s (the default): exp + 60 is the last second it passes.
        let verifier = OidcVerifier::new(config(&json!({})), None);
        let good = token("test-key", &json!({}));
        assert!(check(&verifier, &good, NOW).await.is_ok());
        assert!(check(&verifier, &good, NOW + 300 + 60).await.is_ok());
        assert_eq!(
            check(&verifier, &good, NOW + 300 + 61).await,
            Err("OIDC token is expired".into())
        );
    }

    #[tokio::test]
    async fn a_remembered_token_stops_at_its_maximum_age() {
        let verifier = OidcVerifier::new(
            config(&json!({"max_token_age_seconds": 120, "leeway_seconds": 0})),
            None,
        );
        let good = token("test-key", &json!({"exp": NOW + 3600}));
        assert!(check(&verifier, &good, NOW).await.is_ok());
        assert!(check(&verifier, &good, NOW + 120).await.is_ok());
        assert_eq!(
            check(&verifier, &good, NOW + 121).await,
            Err("OIDC token is older than max_token_age_seconds".into())
        );
    }

    #[tokio::test]
    async fn an_earlier_clock_reading_verifies_again() {
        let verifier = OidcVerifier::new(config(&json!({"leeway_seconds": 0})), None);
        let good = token("test-key", &json!({"nbf": NOW, "iat": NOW}));
        assert!(check(&verifier, &good, NOW).await.is_ok());
        assert_eq!(
            check(&verifier, &good, NOW - 10).await,
            Err("OIDC token is not yet valid".into())
        );
    }

    /// A JWKS endpoint whose answers are set by the test.
    struct Keys(std::sync::Mutex<JwkSet>);

    #[async_trait]
    impl JwksFetch for Keys {
        async fn fetch(&self, _uri: &str) -> anyhow::Result<JwkSet> {
            Ok(self.0.lock().unwrap().clone())
        }
    }

    #[tokio::test]
    async fn a_key_rotation_ends_every_remembered_token() {
        let keys = Arc::new(Keys(std::sync::Mutex::new(jwks())));
        let verifier = OidcVerifier::new(
            config(&json!({
                "jwks_uri": "https://login.example/jwks.json",
                "jwks_min_refresh_seconds": 0,
            })),
            Some(keys.clone()),
        );
        let good = token("test-key", &json!({}));
        assert!(check(&verifier, &good, NOW).await.is_ok());
        assert!(check(&verifier, &good, NOW).await.is_ok(), "remembered");
        // The provider drops the key; a token naming a new kid makes the server refetch.
        let mut rotated = jwks();
        rotated
            .keys
            .retain(|k| k.common.key_id.as_deref() != Some("test-key"));
        *keys.0.lock().unwrap() = rotated;
        assert!(
            check(&verifier, &token("new-key", &json!({})), NOW)
                .await
                .is_err()
        );
        assert!(
            check(&verifier, &good, NOW).await.is_err(),
            "a token of a dropped key is refused at once, remembered or not"
        );
    }
}

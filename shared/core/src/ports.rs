//! The ports the application layer talks to the outside through, beside [`crate::store`]
//! (approval state), [`crate::time`] (clock) and [`crate::ids`] (id source):
//!
//! - [`Transport`]: one HTTP POST to a provider (reqwest adapter in `cavra-delivery`).
//! - [`SecretResolver`]: named secret values (environment in `cavra-delivery`, Secrets Manager
//!   in `cavra-secrets`).
//! - [`JwksFetch`]: an OIDC issuer's key set (reqwest adapter in `cavra-api`).
//! - [`crate::notify::Notifier`]: told after every stored change (`cavra-delivery`).
//!
//! Adapters live in their own crates; tests plug in in-memory ones.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

/// How much of a response body is read (and then dropped), as in the original.
pub const MAX_BODY_READ: usize = 4096;

/// One POST, ready to send.
#[derive(Clone)]
pub struct OutgoingRequest {
    /// The provider name (for the adapter's logs and test receivers).
    pub provider: String,
    /// The resolved URL (may hold a secret).
    pub url: String,
    /// Lower-case header names and values (may hold secrets).
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl fmt::Debug for OutgoingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // URL and headers may carry credentials: never print them.
        f.debug_struct("OutgoingRequest")
            .field("provider", &self.provider)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportResponse {
    /// The HTTP status.
    pub status: u16,
    /// Error text for a non-2xx answer (`HTTP Error {code}: {reason}`); `None` for 2xx.
    pub error: Option<String>,
    /// The raw `Retry-After` header, if any.
    pub retry_after: Option<String>,
}

/// The request did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No answer within the per-attempt timeout (retried).
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// Connecting or talking to the server failed (retried).
    #[error("{0}")]
    Network(String),
    /// Anything else, such as a request that cannot be built (not retried).
    #[error("{0}")]
    Other(String),
}

/// Sends one attempt.
#[async_trait]
pub trait Transport: Send + Sync + fmt::Debug {
    /// POSTs `request`, giving up after `timeout`.
    ///
    /// # Errors
    /// See [`TransportError`].
    async fn post(
        &self,
        request: &OutgoingRequest,
        timeout: Duration,
    ) -> Result<TransportResponse, TransportError>;
}

/// A secret source failed (the text never contains a secret value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SecretError(pub String);

/// A source of named secret values.
#[async_trait]
pub trait SecretResolver: Send + Sync + fmt::Debug {
    /// The value named `name`; `Ok(None)` when it is not set (or empty).
    ///
    /// # Errors
    /// The source could not be asked (network, permissions, malformed secret).
    async fn resolve(&self, name: &str) -> Result<Option<String>, SecretError>;
}

/// Fetches a JWKS document from a `jwks_uri`.
#[cfg(feature = "oidc")]
#[async_trait]
pub trait JwksFetch: Send + Sync {
    /// GETs and parses the key set.
    ///
    /// # Errors
    /// The issuer could not be reached or sent something that is not a key set.
    async fn fetch(&self, uri: &str) -> anyhow::Result<jsonwebtoken::jwk::JwkSet>;
}

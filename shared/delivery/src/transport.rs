//! The HTTP port one attempt goes through, and its reqwest adapter.

use std::error::Error as _;

use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

pub use cavra_core::ports::{
    MAX_BODY_READ, OutgoingRequest, Transport, TransportError, TransportResponse,
};

/// The reqwest adapter: one client (connection pool) for every delivery; redirects are not
/// followed, so credentials never travel to another host.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// Builds the client.
    ///
    /// # Errors
    /// The TLS backend could not be initialised.
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cavra-approvals/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client })
    }
}

/// The error chain of a reqwest error, without the URL reqwest prints.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut parts: Vec<String> = vec![error.to_string()];
    let mut source = error.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = inner.source();
    }
    parts.join(": ")
}

fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, TransportError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| TransportError::Other(format!("invalid header name: {name}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| TransportError::Other(format!("invalid value for header {name}")))?;
        map.insert(name, value);
    }
    Ok(map)
}

#[async_trait]
impl Transport for ReqwestTransport {
    async fn post(
        &self,
        request: &OutgoingRequest,
        timeout: Duration,
    ) -> Result<TransportResponse, TransportError> {
        let headers = header_map(&request.headers)?;
        let send = async {
            let mut response = self
                .client
                .post(&request.url)
                .headers(headers)
                .body(request.body.clone())
                .timeout(timeout)
                .send()
                .await?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let mut read = 0;
            // The body is read (up to a limit) so the connection can be reused, then dropped.
            while read < MAX_BODY_READ {
                match response.chunk().await {
                    Ok(Some(chunk)) => read += chunk.len(),
                    Ok(None) | Err(_) => break,
                }
            }
            let error = (!status.is_success()).then(|| match status.canonical_reason() {
                Some(reason) => format!("HTTP Error {}: {reason}", status.as_u16()),
                None => format!("HTTP {}", status.as_u16()),
            });
            Ok::<_, reqwest::Error>(TransportResponse {
                status: status.as_u16(),
                error,
                retry_after,
            })
        };
        match tokio::time::timeout(timeout, send).await {
            Err(_) => Err(TransportError::Timeout(timeout)),
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) if error.is_timeout() => Err(TransportError::Timeout(timeout)),
            Ok(Err(error)) if error.is_builder() => Err(TransportError::Other(describe(error))),
            Ok(Err(error)) => Err(TransportError::Network(describe(error))),
        }
    }
}

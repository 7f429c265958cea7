//! Sending: providers concurrently, each with its own retries (CONTRACT §8).
//!
//! An attempt succeeds on 2xx. Network errors, timeouts, 429 and 5xx are retried; other 4xx
//! and requests that cannot be built are not. Before retry `n` (1-based) the delivery waits
//! the server's `Retry-After` when it sent one (seconds or an HTTP date; a wait longer than
//! [`Backoff::max_retry_after`] ends the retries instead), else an exponential backoff with
//! equal jitter: `d = min(max, base × 2^(n-1))`, waited as a value in `[d/2, d]`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use cavra_core::approval::{Approval, PRODUCT};
use cavra_core::notify::{NotifyEvent, NotifyOptions, Provider};
use cavra_core::time::{Clock, Timestamp};

use crate::config::{NotConfigured, ProviderConfig};
use crate::redact::Redactor;
use crate::request::{self, LiveRequest};
use crate::result::{
    AttemptEvidence, DELIVERY_SCHEMA, DeliveryEntry, DeliveryResult, RequestEvidence,
};
use crate::secrets::Secrets;
use crate::sign::{WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
use crate::transport::{OutgoingRequest, Transport, TransportError};

/// Default retries after the first attempt (3 attempts in all).
pub const DEFAULT_RETRIES: u32 = 2;
/// Default per-attempt timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest per-attempt timeout (original: `max(0.1, timeout_seconds)`).
pub const MIN_TIMEOUT: Duration = Duration::from_millis(100);
/// The longest per-attempt timeout a caller may ask for.
pub const MAX_TIMEOUT: Duration = Duration::from_mins(2);
/// The most retries a caller may ask for.
pub const MAX_RETRIES: u32 = 10;

/// Retries and timeout of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryOptions {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Per-attempt timeout.
    pub timeout: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            retries: DEFAULT_RETRIES,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl DeliveryOptions {
    /// From the CLI's and API's numbers: retries below 0 count as 0 and above
    /// [`MAX_RETRIES`] as that; the timeout is held within [`MIN_TIMEOUT`]..=[`MAX_TIMEOUT`]
    /// (a non-finite timeout means the default).
    pub fn new(retries: i64, timeout_seconds: f64) -> Self {
        let retries = u32::try_from(retries.clamp(0, i64::from(MAX_RETRIES))).unwrap_or(0);
        let timeout = if timeout_seconds.is_finite() {
            Duration::from_secs_f64(
                timeout_seconds.clamp(MIN_TIMEOUT.as_secs_f64(), MAX_TIMEOUT.as_secs_f64()),
            )
        } else {
            DEFAULT_TIMEOUT
        };
        Self { retries, timeout }
    }
}

/// Waiting between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first backoff (before jitter).
    pub base: Duration,
    /// The largest backoff (before jitter).
    pub max: Duration,
    /// The longest `Retry-After` honoured; a longer one ends the retries.
    pub max_retry_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(250),
            max: Duration::from_secs(8),
            max_retry_after: Duration::from_mins(1),
        }
    }
}

impl Backoff {
    /// The un-jittered backoff before retry `n` (1-based).
    pub fn nominal(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1));
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// The sleeping port, so tests can record waits instead of waiting.
#[async_trait]
pub trait Sleeper: Send + Sync + fmt::Debug {
    /// Waits `duration`.
    async fn sleep(&self, duration: Duration);
}

/// Really waits, on the tokio timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Picks the actual wait for a nominal backoff `d`.
pub type Jitter = Arc<dyn Fn(Duration) -> Duration + Send + Sync>;

/// Equal jitter: a uniformly random wait in `[d/2, d]`.
pub fn equal_jitter() -> Jitter {
    Arc::new(|d: Duration| {
        let half = d / 2;
        let spread = u64::try_from(half.as_micros()).unwrap_or(u64::MAX);
        half + Duration::from_micros(fastrand::u64(0..=spread))
    })
}

/// Sends deliveries and builds their evidence.
#[derive(Clone)]
pub struct Deliverer {
    transport: Arc<dyn Transport>,
    secrets: Secrets,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    jitter: Jitter,
    backoff: Backoff,
    console_url: Option<String>,
}

impl fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deliverer")
            .field("transport", &self.transport)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

/// What one attempt came to.
enum Outcome {
    Delivered,
    /// Worth another try; `retry_after` is the server's wish.
    Retryable {
        retry_after: Option<Duration>,
    },
    Final,
}

impl Deliverer {
    /// A deliverer with real waits, equal jitter and the default backoff.
    pub fn new(transport: Arc<dyn Transport>, secrets: Secrets, clock: Arc<dyn Clock>) -> Self {
        Self {
            transport,
            secrets,
            clock,
            sleeper: Arc::new(TokioSleeper),
            jitter: equal_jitter(),
            backoff: Backoff::default(),
            console_url: None,
        }
    }

    /// Replaces the sleeper.
    #[must_use]
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// Replaces the jitter.
    #[must_use]
    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Replaces the backoff.
    #[must_use]
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Links payloads to the console (`CAVRA_PUBLIC_CONSOLE_URL`).
    #[must_use]
    pub fn with_console_url(mut self, url: Option<String>) -> Self {
        self.console_url = url.filter(|u| !u.trim().is_empty());
        self
    }

    /// Replaces the secret sources (to add a Secrets Manager store).
    #[must_use]
    pub fn with_secrets(mut self, secrets: Secrets) -> Self {
        self.secrets = secrets;
        self
    }

    /// The secret sources in use.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Delivers `approval` to `provider` (`all` = every enabled provider).
    ///
    /// # Errors
    /// The provider is not enabled in `config` (original: checked before sending anything).
    pub async fn deliver(
        &self,
        config: &ProviderConfig,
        approval: &Approval,
        provider: &str,
        options: DeliveryOptions,
    ) -> Result<DeliveryResult, NotConfigured> {
        let providers = config.select(provider)?;
        Ok(self
            .deliver_to(config, approval, &providers, options, None)
            .await)
    }

    /// Delivers `approval` to `providers` concurrently; one entry each, in sorted order.
    pub async fn deliver_to(
        &self,
        config: &ProviderConfig,
        approval: &Approval,
        providers: &[Provider],
        options: DeliveryOptions,
        event: Option<NotifyEvent>,
    ) -> DeliveryResult {
        let mut sorted = providers.to_vec();
        sorted.sort();
        sorted.dedup();
        let base = NotifyOptions::new(self.clock.now())
            .with_console_url(self.console_url.as_deref())
            .with_event(event);
        let runs = sorted
            .iter()
            .map(|p| self.deliver_one(config, approval, *p, &base, options));
        let outcomes = futures::future::join_all(runs).await;
        let mut all = Redactor::new();
        for (_, redactor) in &outcomes {
            all.merge(redactor);
        }
        let deliveries: Vec<DeliveryEntry> = outcomes
            .into_iter()
            .map(|(mut entry, _)| {
                entry.redact_with(&all);
                entry
            })
            .collect();
        DeliveryResult {
            schema_version: DELIVERY_SCHEMA.to_owned(),
            product: PRODUCT.to_owned(),
            approval_id: approval.approval_id.clone(),
            decision_id: approval.decision_id.clone(),
            generated_at: self.clock.now(),
            event,
            success: deliveries.iter().all(|d| d.success),
            deliveries,
        }
    }

    async fn deliver_one(
        &self,
        config: &ProviderConfig,
        approval: &Approval,
        provider: Provider,
        base: &NotifyOptions,
        options: DeliveryOptions,
    ) -> (DeliveryEntry, Redactor) {
        let mut redactor = Redactor::new();
        let started = self.clock.now();
        let Some(entry) = config.enabled(provider) else {
            let error = format!("approval provider is not configured: {provider}");
            return (failed(provider, started, &error, None, &redactor), redactor);
        };
        let built = request::build(
            provider,
            entry,
            approval,
            base,
            &self.secrets,
            &mut redactor,
        )
        .await;
        let live = match built {
            Ok(live) => live,
            Err(error) => {
                let message = redactor.text(&error.message);
                tracing::warn!(provider = %provider, error = %message, "approval provider is misconfigured");
                let evidence = RequestEvidence {
                    method: "POST".into(),
                    url: error.url.map(|(u, s)| redactor.url(&u, s)),
                    headers: redactor.headers(&error.headers),
                };
                return (
                    failed(provider, started, &message, Some(evidence), &redactor),
                    redactor,
                );
            }
        };
        let entry = self.send(&live, options, &redactor).await;
        (entry, redactor)
    }

    async fn send(
        &self,
        live: &LiveRequest,
        options: DeliveryOptions,
        redactor: &Redactor,
    ) -> DeliveryEntry {
        let provider = live.provider;
        let total = options.retries + 1;
        let message_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let mut attempts: Vec<AttemptEvidence> = Vec::new();
        let mut delivered = false;
        let mut signing_headers: Vec<(String, String)> = Vec::new();
        for attempt in 1..=total {
            let mut headers: Vec<(String, String)> = live
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let started_at = self.clock.now();
            if let Some(key) = &live.signing_key {
                // The id stays the same on retries (receivers deduplicate by it); the
                // timestamp and signature are fresh for each attempt.
                let timestamp = started_at.unix_seconds();
                signing_headers = vec![
                    (WEBHOOK_ID.into(), message_id.clone()),
                    (WEBHOOK_TIMESTAMP.into(), timestamp.to_string()),
                    (
                        WEBHOOK_SIGNATURE.into(),
                        key.sign(&message_id, timestamp, &live.body),
                    ),
                ];
                headers.extend(signing_headers.iter().cloned());
            }
            let outgoing = OutgoingRequest {
                provider: provider.as_str().to_owned(),
                url: live.url.clone(),
                headers,
                body: live.body.clone(),
            };
            let clock = Instant::now();
            let result = self.transport.post(&outgoing, options.timeout).await;
            let duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
            let (status_code, error, outcome) = match result {
                Ok(response) if (200..300).contains(&response.status) => {
                    (Some(response.status), None, Outcome::Delivered)
                }
                Ok(response) => {
                    let error = response
                        .error
                        .clone()
                        .unwrap_or_else(|| format!("HTTP {}", response.status));
                    let outcome = if response.status == 429 || response.status >= 500 {
                        Outcome::Retryable {
                            retry_after: response
                                .retry_after
                                .as_deref()
                                .and_then(|h| parse_retry_after(h, self.clock.now())),
                        }
                    } else {
                        Outcome::Final
                    };
                    (Some(response.status), Some(error), outcome)
                }
                Err(e @ (TransportError::Timeout(_) | TransportError::Network(_))) => (
                    Some(0),
                    Some(e.to_string()),
                    Outcome::Retryable { retry_after: None },
                ),
                Err(e @ TransportError::Other(_)) => (None, Some(e.to_string()), Outcome::Final),
            };
            let error = error.map(|e| redactor.text(&e));
            tracing::info!(
                provider = %provider,
                attempt,
                status = ?status_code,
                error = error.as_deref().unwrap_or(""),
                "approval delivery attempt"
            );
            let mut evidence = AttemptEvidence {
                attempt,
                started_at,
                completed_at: self.clock.now(),
                duration_ms,
                status_code,
                error,
                retry_after_ms: None,
                wait_ms: None,
            };
            match outcome {
                Outcome::Delivered => {
                    attempts.push(evidence);
                    delivered = true;
                    break;
                }
                Outcome::Final => {
                    attempts.push(evidence);
                    break;
                }
                Outcome::Retryable { retry_after } => {
                    evidence.retry_after_ms = retry_after.map(millis);
                    if attempt == total {
                        attempts.push(evidence);
                        break;
                    }
                    let wait = match retry_after {
                        Some(wish) if wish > self.backoff.max_retry_after => {
                            let note = format!(
                                " (server asked to retry after {} s, longer than the {} s a delivery waits)",
                                wish.as_secs(),
                                self.backoff.max_retry_after.as_secs()
                            );
                            evidence.error = evidence.error.map(|e| format!("{e}{note}"));
                            attempts.push(evidence);
                            break;
                        }
                        Some(wish) => wish,
                        None => (self.jitter)(self.backoff.nominal(attempt)),
                    };
                    evidence.wait_ms = Some(millis(wait));
                    attempts.push(evidence);
                    self.sleeper.sleep(wait).await;
                }
            }
        }
        let last = attempts.last().expect("at least one attempt runs");
        let mut shown_headers = live.headers.clone();
        shown_headers.extend(signing_headers);
        DeliveryEntry {
            provider: provider.as_str().to_owned(),
            success: delivered,
            status_code: last.status_code,
            attempt_count: u32::try_from(attempts.len()).unwrap_or(u32::MAX),
            started_at: last.started_at,
            completed_at: last.completed_at,
            error: last.error.clone(),
            request: RequestEvidence {
                method: "POST".into(),
                url: Some(redactor.url(&live.url, live.url_from_secret)),
                headers: redactor.headers(&shown_headers),
            },
            attempts,
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn failed(
    provider: Provider,
    at: Timestamp,
    error: &str,
    request: Option<RequestEvidence>,
    redactor: &Redactor,
) -> DeliveryEntry {
    DeliveryEntry {
        provider: provider.as_str().to_owned(),
        success: false,
        status_code: None,
        attempt_count: 0,
        started_at: at,
        completed_at: at,
        error: Some(redactor.text(error)),
        request: request.unwrap_or(RequestEvidence {
            method: "POST".into(),
            url: None,
            headers: std::collections::BTreeMap::new(),
        }),
        attempts: Vec::new(),
    }
}

/// `Retry-After` as a wait from `now`: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let now = SystemTime::from(now.as_datetime());
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_held_within_bounds() {
        assert_eq!(
            DeliveryOptions::new(-3, 0.0),
            DeliveryOptions {
                retries: 0,
                timeout: MIN_TIMEOUT
            }
        );
        assert_eq!(DeliveryOptions::new(99, 1e9).retries, MAX_RETRIES);
        assert_eq!(DeliveryOptions::new(99, 1e9).timeout, MAX_TIMEOUT);
        assert_eq!(DeliveryOptions::new(1, f64::NAN).timeout, DEFAULT_TIMEOUT);
        assert_eq!(
            DeliveryOptions::new(1, 2.5).timeout,
            Duration::from_millis(2500)
        );
    }

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let b = Backoff::default();
        let waits: Vec<u128> = (1..=7).map(|n| b.nominal(n).as_millis()).collect();
        assert_eq!(waits, vec![250, 500, 1000, 2000, 4000, 8000, 8000]);
        assert_eq!(b.nominal(100), b.max);
    }

    #[test]
    fn equal_jitter_stays_between_half_and_all_of_the_backoff() {
        let jitter = equal_jitter();
        for _ in 0..1000 {
            let d = jitter(Duration::from_millis(800));
            assert!(d >= Duration::from_millis(400) && d <= Duration::from_millis(800));
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now: Timestamp = "2026-05-18T12:00:00+00:00".parse().unwrap();
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Mon, 18 May 2026 12:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Mon, 18 May 2026 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}

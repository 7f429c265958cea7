//! `cavra-delivery`: live delivery of approval notifications (original §8.3, CONTRACT §8).
//!
//! A [`ProviderConfig`] names the providers and how to reach them; each provider's settings
//! resolve through [`Secrets`] (environment variables, and a secret store such as Secrets
//! Manager plugged in behind [`SecretResolver`]). The [`Deliverer`] builds each provider's
//! request from the core's payloads, signs webhooks per Standard Webhooks ([`sign`]), sends
//! providers concurrently through a [`Transport`] (reqwest in production), retries network
//! errors, 429 and 5xx with exponential backoff, jitter and `Retry-After`, and returns a
//! [`DeliveryResult`] (`cavra.approval.delivery.v1`) in which every secret is redacted
//! ([`redact`]). [`Notifications`] runs it around the approval service: `deliver` with the
//! evidence kept in the request's history, and automatic notification of state changes.

pub mod config;
pub mod deliver;
pub mod notify;
pub mod redact;
pub mod request;
pub mod result;
pub mod secrets;
pub mod sign;
pub mod transport;

pub use config::{ConfigError, NotConfigured, ProviderConfig};
pub use deliver::{Backoff, Deliverer, DeliveryOptions, Sleeper, TokioSleeper};
pub use notify::{DeliverError, Notifications};
pub use result::{DELIVERY_SCHEMA, DeliveryEntry, DeliveryResult};
pub use secrets::{EnvSecrets, SecretError, SecretResolver, Secrets};
pub use transport::{ReqwestTransport, Transport, TransportError, TransportResponse};

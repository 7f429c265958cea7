//! `cavra-secrets`: provider credentials from AWS Secrets Manager, behind the core's
//! [`SecretResolver`] port (CONTRACT §8).
//!
//! A provider config's `*_secret` key names a secret: `secret-id` (its whole string value) or
//! `secret-id#field` (one field of a JSON object secret; Secrets Manager names cannot contain
//! `#`). [`SecretsManagerResolver`] answers those names with GetSecretValue and keeps each
//! secret for a while per process ([`DEFAULT_TTL`]), so a batch of deliveries, or every
//! invocation of a warm Lambda, asks once; concurrent asks for one secret share one request.
//!
//! * A secret that does not exist, a field that is absent or `null`, and an empty value are
//!   `Ok(None)` ("not set"), like an unset environment variable.
//! * Anything else that goes wrong is a [`SecretError`] naming the secret and what is wrong,
//!   never its value (nor a parser message that could quote it).
//!
//! The endpoint, region and credentials come from the standard AWS settings
//! (`AWS_ENDPOINT_URL` for an emulator).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
pub use cavra_core::ports::{SecretError, SecretResolver};
use serde_json::Value;

/// How long a fetched secret is reused before it is asked for again (rotation is picked up
/// within this time).
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// A parsed `*_secret` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretName<'a> {
    /// The secret id (name or ARN).
    pub secret_id: &'a str,
    /// The JSON field, after `#`.
    pub field: Option<&'a str>,
}

impl<'a> SecretName<'a> {
    /// Splits `secret-id#field`.
    ///
    /// # Errors
    /// An empty secret id, or an empty field after `#`.
    pub fn parse(name: &'a str) -> Result<Self, SecretError> {
        let (secret_id, field) = match name.split_once('#') {
            Some((id, field)) => (id.trim(), Some(field.trim())),
            None => (name.trim(), None),
        };
        if secret_id.is_empty() {
            return Err(SecretError(format!(
                "secret name {name:?} has no secret id"
            )));
        }
        if field == Some("") {
            return Err(SecretError(format!(
                "secret name {name:?} has an empty field after #"
            )));
        }
        Ok(Self { secret_id, field })
    }
}

/// Reads one secret's string value: the call behind [`SecretsManagerResolver`]
/// (Secrets Manager's GetSecretValue, or a fake in tests).
#[async_trait]
pub trait FetchSecret: Send + Sync + fmt::Debug {
    /// The secret's string value; `Ok(None)` when the secret does not exist.
    ///
    /// # Errors
    /// The source could not be asked, or the secret has no string value.
    async fn fetch(&self, secret_id: &str) -> Result<Option<String>, SecretError>;
}

/// GetSecretValue through the AWS SDK.
#[derive(Debug)]
pub struct SecretsManager {
    client: tokio::sync::OnceCell<Client>,
}

impl SecretsManager {
    /// Fetches through `client`.
    pub fn new(client: Client) -> Self {
        Self {
            client: tokio::sync::OnceCell::new_with(Some(client)),
        }
    }

    /// Fetches through a client configured from the standard AWS settings when first needed,
    /// so a process that never reads a secret never loads the AWS configuration.
    pub fn from_env() -> Self {
        Self {
            client: tokio::sync::OnceCell::new(),
        }
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                Client::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
            })
            .await
    }
}

#[async_trait]
impl FetchSecret for SecretsManager {
    async fn fetch(&self, secret_id: &str) -> Result<Option<String>, SecretError> {
        match self
            .client()
            .await
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
        {
            Ok(output) => match output.secret_string {
                Some(value) => Ok(Some(value)),
                None if output.secret_binary.is_some() => Err(SecretError(format!(
                    "secret {secret_id} holds binary data, not a string"
                ))),
                None => Ok(None),
            },
            Err(error) => match error.as_service_error() {
                Some(GetSecretValueError::ResourceNotFoundException(_)) => Ok(None),
                // The service's error texts name the secret, never its value.
                _ => Err(SecretError(format!(
                    "could not read secret {secret_id} from Secrets Manager: {}",
                    DisplayErrorContext(&error)
                ))),
            },
        }
    }
}

/// One cached secret.
#[derive(Default)]
struct Slot {
    fetched: Option<(Instant, Option<String>)>,
}

/// `*_secret` names resolved in Secrets Manager, cached per process.
pub struct SecretsManagerResolver {
    fetcher: Arc<dyn FetchSecret>,
    ttl: Duration,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

impl fmt::Debug for SecretsManagerResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The cache holds secret values: never print it.
        f.debug_struct("SecretsManagerResolver")
            .field("fetcher", &self.fetcher)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl SecretsManagerResolver {
    /// A resolver whose Secrets Manager client is configured from the standard AWS settings
    /// on first use ([`SecretsManager::from_env`]). Makes no request and reads no
    /// configuration until a `*_secret` name is resolved.
    pub fn from_env() -> Self {
        Self::with_fetcher(Arc::new(SecretsManager::from_env()))
    }

    /// A resolver through an existing client.
    pub fn new(client: Client) -> Self {
        Self::with_fetcher(Arc::new(SecretsManager::new(client)))
    }

    /// A resolver over any [`FetchSecret`].
    pub fn with_fetcher(fetcher: Arc<dyn FetchSecret>) -> Self {
        Self {
            fetcher,
            ttl: DEFAULT_TTL,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps fetched secrets for `ttl` instead of [`DEFAULT_TTL`].
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The string value of `secret_id`, from the cache while fresh.
    async fn secret(&self, secret_id: &str) -> Result<Option<String>, SecretError> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(slots.entry(secret_id.to_owned()).or_default())
        };
        // Callers of one secret queue here, so only the first of them fetches.
        let mut slot = slot.lock().await;
        if let Some((at, value)) = &slot.fetched
            && at.elapsed() < self.ttl
        {
            return Ok(value.clone());
        }
        let value = self.fetcher.fetch(secret_id).await?;
        slot.fetched = Some((Instant::now(), value.clone()));
        Ok(value)
    }
}

/// The value of `field` in the JSON object `text` of secret `secret_id`.
fn field_of(secret_id: &str, field: &str, text: &str) -> Result<Option<String>, SecretError> {
    // The parser's message could quote the secret: report only what is wrong.
    let not_object = || SecretError(format!("secret {secret_id} is not a JSON object"));
    let Value::Object(map) = serde_json::from_str::<Value>(text).map_err(|_| not_object())? else {
        return Err(not_object());
    };
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(Value::Number(value)) => Ok(Some(value.to_string())),
        Some(Value::Bool(value)) => Ok(Some(value.to_string())),
        Some(_) => Err(SecretError(format!(
            "field {field} of secret {secret_id} is not a string"
        ))),
    }
}

#[async_trait]
impl SecretResolver for SecretsManagerResolver {
    async fn resolve(&self, name: &str) -> Result<Option<String>, SecretError> {
        let name = SecretName::parse(name)?;
        let Some(text) = self.secret(name.secret_id).await? else {
            return Ok(None);
        };
        let value = match name.field {
            Some(field) => field_of(name.secret_id, field, &text)?,
            None => Some(text),
        };
        Ok(value.filter(|v| !v.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Secrets in a map; counts the fetches.
    #[derive(Debug, Default)]
    struct Fake {
        secrets: HashMap<String, Result<String, String>>,
        fetches: AtomicUsize,
    }

    impl Fake {
        fn with(pairs: &[(&str, &str)]) -> Arc<Self> {
            Arc::new(Self {
                secrets: pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), Ok((*v).to_owned())))
                    .collect(),
                fetches: AtomicUsize::new(0),
            })
        }

        fn fetches(&self) -> usize {
            self.fetches.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl FetchSecret for Fake {
        async fn fetch(&self, secret_id: &str) -> Result<Option<String>, SecretError> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            match self.secrets.get(secret_id) {
                None => Ok(None),
                Some(Ok(value)) => Ok(Some(value.clone())),
                Some(Err(message)) => Err(SecretError(message.clone())),
            }
        }
    }

    const PROVIDERS: &str = r#"{"jira_token": "jira-secret-value", "port": 8443, "tls": true,
        "empty": "", "nothing": null, "nested": {"a": "b"}}"#;

    #[test]
    fn names_split_into_secret_id_and_field() {
        assert_eq!(
            SecretName::parse("cavra/providers#jira_token").unwrap(),
            SecretName {
                secret_id: "cavra/providers",
                field: Some("jira_token")
            }
        );
        assert_eq!(
            SecretName::parse("arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf")
                .unwrap()
                .field,
            None
        );
        // only the first # splits: the rest belongs to the field name
        assert_eq!(SecretName::parse("s#a#b").unwrap().field, Some("a#b"));
        for bad in ["", "#field", "  #x", "secret#", "secret# "] {
            assert!(SecretName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_field_of_a_json_secret_is_resolved_and_scalars_become_text() {
        // GIVEN a JSON object secret
        let resolver = SecretsManagerResolver::with_fetcher(Fake::with(&[("p", PROVIDERS)]));
        // WHEN fields are resolved THEN strings come back as they are, scalars as text
        assert_eq!(
            resolver.resolve("p#jira_token").await.unwrap().as_deref(),
            Some("jira-secret-value")
        );
        assert_eq!(
            resolver.resolve("p#port").await.unwrap().as_deref(),
            Some("8443")
        );
        assert_eq!(
            resolver.resolve("p#tls").await.unwrap().as_deref(),
            Some("true")
        );
        // AND absent, null and empty fields are "not set"
        for unset in ["p#missing", "p#nothing", "p#empty"] {
            assert_eq!(resolver.resolve(unset).await.unwrap(), None, "{unset}");
        }
        // AND a nested value is an error that names the field, not the value
        let error = resolver.resolve("p#nested").await.unwrap_err();
        assert_eq!(error.0, "field nested of secret p is not a string");
    }

    #[tokio::test]
    async fn a_whole_secret_and_a_missing_secret() {
        let resolver = SecretsManagerResolver::with_fetcher(Fake::with(&[
            ("plain", "xoxb-plain-value"),
            ("blank", ""),
        ]));
        assert_eq!(
            resolver.resolve("plain").await.unwrap().as_deref(),
            Some("xoxb-plain-value")
        );
        assert_eq!(resolver.resolve("blank").await.unwrap(), None);
        assert_eq!(resolver.resolve("absent").await.unwrap(), None);
        assert_eq!(resolver.resolve("absent#field").await.unwrap(), None);
    }

    #[tokio::test]
    async fn errors_never_carry_the_secret_value() {
        // GIVEN a secret that is not JSON but is read with a #field
        let value = "not-json-but-very-secret-123";
        let resolver = SecretsManagerResolver::with_fetcher(Fake::with(&[("plain", value)]));
        // WHEN the field is resolved
        let error = resolver.resolve("plain#token").await.unwrap_err();
        // THEN the error names the secret and the problem, not the value
        assert_eq!(error.0, "secret plain is not a JSON object");
        assert!(!error.0.contains(value));
        // AND a JSON array is refused the same way
        let resolver =
            SecretsManagerResolver::with_fetcher(Fake::with(&[("list", "[\"secret-in-array\"]")]));
        let error = resolver.resolve("list#0").await.unwrap_err();
        assert!(!error.0.contains("secret-in-array"), "{}", error.0);
    }

    #[tokio::test]
    async fn each_secret_is_fetched_once_for_all_its_fields_and_callers() {
        // GIVEN one JSON secret and a resolver over a counting fake
        let fake = Fake::with(&[("p", PROVIDERS), ("other", "x")]);
        let resolver = Arc::new(SecretsManagerResolver::with_fetcher(fake.clone()));
        // WHEN many callers resolve fields of it at once, and again later
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..20 {
            let resolver = Arc::clone(&resolver);
            tasks.spawn(async move {
                let name = if n % 2 == 0 { "p#jira_token" } else { "p#port" };
                resolver.resolve(name).await
            });
        }
        while let Some(result) = tasks.join_next().await {
            assert!(result.unwrap().unwrap().is_some());
        }
        resolver.resolve("p#tls").await.unwrap();
        // THEN Secrets Manager was asked once for it
        assert_eq!(fake.fetches(), 1);
        // AND another secret is its own fetch
        resolver.resolve("other").await.unwrap();
        assert_eq!(fake.fetches(), 2);
    }

    #[tokio::test]
    async fn a_stale_entry_is_fetched_again_and_failures_are_not_cached() {
        let fake = Arc::new(Fake {
            secrets: HashMap::from([
                ("p".to_owned(), Ok(PROVIDERS.to_owned())),
                (
                    "broken".to_owned(),
                    Err("access denied for broken".to_owned()),
                ),
            ]),
            fetches: AtomicUsize::new(0),
        });
        let resolver = SecretsManagerResolver::with_fetcher(fake.clone()).with_ttl(Duration::ZERO);
        resolver.resolve("p#jira_token").await.unwrap();
        resolver.resolve("p#jira_token").await.unwrap();
        assert_eq!(fake.fetches(), 2, "a zero TTL asks every time");

        let resolver = SecretsManagerResolver::with_fetcher(fake.clone());
        for _ in 0..2 {
            assert_eq!(
                resolver.resolve("broken#x").await.unwrap_err().0,
                "access denied for broken"
            );
        }
        assert_eq!(fake.fetches(), 4, "an error is asked again next time");
    }

    #[test]
    fn debug_output_shows_no_cached_value() {
        let resolver = SecretsManagerResolver::with_fetcher(Fake::with(&[]));
        resolver
            .slots
            .lock()
            .unwrap()
            .entry("p".into())
            .or_default();
        let text = format!("{resolver:?}");
        assert!(text.starts_with("SecretsManagerResolver"), "{text}");
        assert!(!text.contains("slots"));
    }
}

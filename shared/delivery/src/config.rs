//! The provider config file (original §8.3), JSON or YAML by suffix:
//!
//! ```yaml
//! notify_on: [requested, approved, denied, expired]   # optional, every provider
//! notify_retries: 1                                   # automatic notifications (default 1)
//! notify_timeout_seconds: 5                           # per attempt (default 5)
//! approval_providers:
//!   slack:   {enabled: true, url_env: CAVRA_SLACK_WEBHOOK_URL, notify_on: [requested]}
//!   jira:    {url: https://acme.atlassian.net/rest/api/3/issue, token_secret: cavra/jira#token,
//!             authorization_scheme: Basic, project_key: OPS, issue_type: Task}
//!   webhook: {url_env: CAVRA_APPROVAL_WEBHOOK_URL, signing_secret_env: CAVRA_WEBHOOK_SECRET}
//! ```
//!
//! Providers sit under `approval_providers`, else `providers`, else the whole object. Loading
//! checks only the file's shape; each provider's settings (URL, credentials, signing secret)
//! are resolved when it is delivered to, so one misconfigured provider fails only its own
//! delivery (CONTRACT §8).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cavra_core::files::{FileError, read_structured};
use cavra_core::notify::{NotifyEvent, NotifyOptions, Provider};
use serde_json::{Map, Value};

use crate::deliver::DeliveryOptions;

/// The reserved top-level key listing the events every provider is notified of.
pub const NOTIFY_ON: &str = "notify_on";
/// Top-level retries of automatic notifications (default [`DEFAULT_NOTIFY_RETRIES`]).
pub const NOTIFY_RETRIES: &str = "notify_retries";
/// Top-level per-attempt timeout of automatic notifications, in seconds (default
/// [`DEFAULT_NOTIFY_TIMEOUT_SECONDS`]).
pub const NOTIFY_TIMEOUT_SECONDS: &str = "notify_timeout_seconds";
/// Automatic notifications run inside the state-changing request, so they retry less and
/// give up sooner than `deliver`: at worst 2 × 5 s plus one backoff.
pub const DEFAULT_NOTIFY_RETRIES: i64 = 1;
/// See [`DEFAULT_NOTIFY_RETRIES`].
pub const DEFAULT_NOTIFY_TIMEOUT_SECONDS: f64 = 5.0;
const RESERVED: [&str; 3] = [NOTIFY_ON, NOTIFY_RETRIES, NOTIFY_TIMEOUT_SECONDS];

/// Why a provider config could not be loaded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// No such file.
    #[error("approval provider config not found: {0}")]
    NotFound(String),
    /// The file could not be read or parsed.
    #[error("approval provider config {path} is not readable: {detail}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The document is not an object.
    #[error("approval provider config must be an object")]
    NotAnObject,
    /// The providers key holds something other than an object.
    #[error("approval provider config must contain provider objects")]
    NoProviderObjects,
    /// One provider's entry is not an object.
    #[error("approval provider {0} config must be an object")]
    ProviderNotAnObject(String),
    /// `notify_retries` or `notify_timeout_seconds` is not a number.
    #[error("approval provider config {0} must be a number")]
    NotANumber(&'static str),
    /// A `notify_on` list is malformed.
    #[error("approval provider {scope} notify_on {detail}")]
    NotifyOn {
        /// `config` for the top-level list, else the provider's name.
        scope: String,
        /// What is wrong.
        detail: String,
    },
}

/// One provider's entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderEntry {
    /// The name it is configured under.
    pub name: String,
    /// `enabled` (default true; disabled entries are ignored everywhere).
    pub enabled: bool,
    /// Every key of the entry, as written.
    pub settings: Map<String, Value>,
    /// The provider's own `notify_on`, when set (it replaces the top-level list).
    pub notify_on: Option<BTreeSet<NotifyEvent>>,
}

/// A loaded provider config.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    entries: BTreeMap<String, ProviderEntry>,
    notify_on: BTreeSet<NotifyEvent>,
    notify_options: DeliveryOptions,
}

/// Python-style truthiness, as the original reads `enabled`.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn parse_events(value: &Value, scope: &str) -> Result<BTreeSet<NotifyEvent>, ConfigError> {
    let fail = |detail: String| ConfigError::NotifyOn {
        scope: scope.to_owned(),
        detail,
    };
    let names: Vec<&Value> = match value {
        Value::Null => return Ok(BTreeSet::new()),
        Value::String(_) => vec![value],
        Value::Array(items) => items.iter().collect(),
        _ => return Err(fail("must be a list of events".into())),
    };
    names
        .into_iter()
        .map(|name| {
            name.as_str()
                .ok_or_else(|| fail("must be a list of events".into()))?
                .trim()
                .parse::<NotifyEvent>()
                .map_err(|e| fail(format!("has an {e}")))
        })
        .collect()
}

impl ProviderConfig {
    /// Reads a config file (YAML when the suffix is `.yaml`/`.yml`, else JSON).
    ///
    /// # Errors
    /// The original's messages for a missing file or a malformed document.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let value = read_structured(path).map_err(|e| match e {
            FileError::NotFound => ConfigError::NotFound(shown.clone()),
            other => ConfigError::Unreadable {
                path: shown.clone(),
                detail: other.to_string(),
            },
        })?;
        Self::from_value(&value)
    }

    /// Interprets a parsed config document.
    ///
    /// # Errors
    /// See [`ConfigError`].
    pub fn from_value(value: &Value) -> Result<Self, ConfigError> {
        let Value::Object(document) = value else {
            return Err(ConfigError::NotAnObject);
        };
        let wrapped = ["approval_providers", "providers"]
            .into_iter()
            .find_map(|key| document.get(key).filter(|v| truthy(v)));
        let providers = match wrapped {
            Some(Value::Object(map)) => map,
            Some(_) => return Err(ConfigError::NoProviderObjects),
            None => document,
        };
        let notify_on = document
            .get(NOTIFY_ON)
            .map(|v| parse_events(v, "config"))
            .transpose()?
            .unwrap_or_default();
        let number = |key: &'static str| match document.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(_) => Err(ConfigError::NotANumber(key)),
        };
        let notify_options = DeliveryOptions::new(
            number(NOTIFY_RETRIES)?.map_or(DEFAULT_NOTIFY_RETRIES, |r| r as i64),
            number(NOTIFY_TIMEOUT_SECONDS)?.unwrap_or(DEFAULT_NOTIFY_TIMEOUT_SECONDS),
        );
        let mut entries = BTreeMap::new();
        for (name, entry) in providers {
            if wrapped.is_none() && RESERVED.contains(&name.as_str()) {
                continue;
            }
            let Value::Object(settings) = entry else {
                return Err(ConfigError::ProviderNotAnObject(name.clone()));
            };
            let own = settings
                .get(NOTIFY_ON)
                .map(|v| parse_events(v, name))
                .transpose()?;
            entries.insert(
                name.clone(),
                ProviderEntry {
                    name: name.clone(),
                    enabled: settings.get("enabled").is_none_or(truthy),
                    settings: settings.clone(),
                    notify_on: own,
                },
            );
        }
        Ok(Self {
            entries,
            notify_on,
            notify_options,
        })
    }

    /// Retries and timeout of automatic notifications.
    pub fn notify_options(&self) -> DeliveryOptions {
        self.notify_options
    }

    /// Every entry, enabled or not, known or not, by name.
    pub fn entries(&self) -> impl Iterator<Item = &ProviderEntry> {
        self.entries.values()
    }

    /// The enabled entry of a known provider.
    pub fn enabled(&self, provider: Provider) -> Option<&ProviderEntry> {
        self.entries.get(provider.as_str()).filter(|e| e.enabled)
    }

    /// The known providers that are enabled, in sorted order.
    pub fn enabled_providers(&self) -> Vec<Provider> {
        Provider::ALL
            .into_iter()
            .filter(|p| self.enabled(*p).is_some())
            .collect()
    }

    /// The providers a delivery for `name` goes to: `all` = every enabled known provider.
    ///
    /// # Errors
    /// The name is not an enabled known provider: `approval provider is not configured: {name}`.
    pub fn select(&self, name: &str) -> Result<Vec<Provider>, NotConfigured> {
        if name == "all" {
            return Ok(self.enabled_providers());
        }
        name.parse::<Provider>()
            .ok()
            .filter(|p| self.enabled(*p).is_some())
            .map(|p| vec![p])
            .ok_or_else(|| NotConfigured(name.to_owned()))
    }

    /// `base` with the Jira project key and issue type and the ServiceNow table the config
    /// writes inline (exports use this; live delivery also resolves `*_env`/`*_secret`).
    pub fn payload_options(&self, base: NotifyOptions) -> NotifyOptions {
        let inline = |provider: Provider, key: &str| {
            self.entries
                .get(provider.as_str())
                .and_then(|e| e.settings.get(key))
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let mut options = base;
        if let Some(key) = inline(Provider::Jira, "project_key") {
            options.jira_project_key = key;
        }
        if let Some(kind) = inline(Provider::Jira, "issue_type") {
            options.jira_issue_type = kind;
        }
        if let Some(table) = inline(Provider::Servicenow, "table") {
            options.servicenow_table = table;
        }
        options
    }

    /// The providers to notify of `event`: break-glass goes to every enabled provider; other
    /// events to those whose `notify_on` (their own, else the top-level list) names it.
    pub fn notify_targets(&self, event: NotifyEvent) -> Vec<Provider> {
        self.enabled_providers()
            .into_iter()
            .filter(|p| {
                event == NotifyEvent::BreakGlass
                    || self
                        .enabled(*p)
                        .and_then(|e| e.notify_on.as_ref())
                        .unwrap_or(&self.notify_on)
                        .contains(&event)
            })
            .collect()
    }
}

/// A delivery named a provider the config does not enable.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("approval provider is not configured: {0}")]
pub struct NotConfigured(pub String);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            "[a-z_]{0,12}".prop_map(Value::String),
            prop::sample::select(vec!["requested", "break_glass", "slack", "url", "all"])
                .prop_map(|s| json!(s)),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop::sample::select(vec![
                        "approval_providers",
                        "providers",
                        "notify_on",
                        "notify_retries",
                        "notify_timeout_seconds",
                        "slack",
                        "teams",
                        "jira",
                        "webhook",
                        "enabled",
                        "url",
                        "url_env",
                        "headers",
                        "x",
                    ])
                    .prop_map(str::to_owned),
                    inner,
                    0..5,
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_documents_load_or_fail_with_a_message_never_panic(doc in arbitrary_json()) {
            match ProviderConfig::from_value(&doc) {
                Ok(config) => {
                    for event in NotifyEvent::ALL {
                        let _ = config.notify_targets(event);
                    }
                    let _ = config.select("all");
                }
                Err(error) => prop_assert!(!error.to_string().is_empty()),
            }
        }
    }

    #[test]
    fn providers_are_read_from_approval_providers_then_providers_then_the_whole_object() {
        for doc in [
            json!({"approval_providers": {"jira": {"url": "u"}}}),
            json!({"providers": {"jira": {"url": "u"}}}),
            json!({"jira": {"url": "u"}}),
        ] {
            let config = ProviderConfig::from_value(&doc).unwrap();
            assert_eq!(config.enabled_providers(), vec![Provider::Jira]);
        }
    }

    #[test]
    fn malformed_documents_get_the_original_messages() {
        assert_eq!(
            ProviderConfig::from_value(&json!([1]))
                .unwrap_err()
                .to_string(),
            "approval provider config must be an object"
        );
        assert_eq!(
            ProviderConfig::from_value(&json!({"approval_providers": [1]}))
                .unwrap_err()
                .to_string(),
            "approval provider config must contain provider objects"
        );
        assert_eq!(
            ProviderConfig::from_value(&json!({"slack": "https://x"}))
                .unwrap_err()
                .to_string(),
            "approval provider slack config must be an object"
        );
        assert_eq!(
            ProviderConfig::load(Path::new("/nonexistent/providers.yaml"))
                .unwrap_err()
                .to_string(),
            "approval provider config not found: /nonexistent/providers.yaml"
        );
    }

    #[test]
    fn disabled_and_unknown_providers_are_never_selected() {
        let config = ProviderConfig::from_value(&json!({"approval_providers": {
            "slack": {"enabled": false, "url": "u"}, "email": {"url": "u"}, "webhook": {"url": "u"}
        }}))
        .unwrap();
        assert_eq!(config.select("all").unwrap(), vec![Provider::Webhook]);
        assert_eq!(
            config.select("slack").unwrap_err().to_string(),
            "approval provider is not configured: slack"
        );
        assert_eq!(
            config.select("email").unwrap_err().to_string(),
            "approval provider is not configured: email"
        );
    }

    #[test]
    fn notify_on_per_provider_replaces_the_top_level_list_and_break_glass_goes_everywhere() {
        let config = ProviderConfig::from_value(&json!({
            "notify_on": ["approved", "denied"],
            "approval_providers": {
                "slack": {"url": "u", "notify_on": ["requested"]},
                "teams": {"url": "u"},
                "webhook": {"url": "u", "notify_on": []},
            }
        }))
        .unwrap();
        assert_eq!(
            config.notify_targets(NotifyEvent::Requested),
            vec![Provider::Slack]
        );
        assert_eq!(
            config.notify_targets(NotifyEvent::Approved),
            vec![Provider::Teams]
        );
        assert_eq!(config.notify_targets(NotifyEvent::Expired), vec![]);
        assert_eq!(
            config.notify_targets(NotifyEvent::BreakGlass),
            vec![Provider::Slack, Provider::Teams, Provider::Webhook]
        );
    }

    #[test]
    fn a_whole_object_config_may_carry_notify_on_beside_the_providers() {
        let config =
            ProviderConfig::from_value(&json!({"notify_on": "requested", "webhook": {"url": "u"}}))
                .unwrap();
        assert_eq!(
            config.notify_targets(NotifyEvent::Requested),
            vec![Provider::Webhook]
        );
    }

    #[test]
    fn unknown_notify_on_events_are_refused_at_load() {
        let error = ProviderConfig::from_value(&json!({"slack": {"notify_on": ["created"]}}))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(
                "approval provider slack notify_on has an unknown approval notification event: created"
            ),
            "{error}"
        );
    }

    #[test]
    fn automatic_notifications_default_to_one_retry_and_five_seconds() {
        use std::time::Duration;
        let config = ProviderConfig::from_value(&json!({"webhook": {"url": "u"}})).unwrap();
        assert_eq!(
            config.notify_options(),
            DeliveryOptions {
                retries: 1,
                timeout: Duration::from_secs(5)
            }
        );
        let config = ProviderConfig::from_value(
            &json!({"notify_retries": 0, "notify_timeout_seconds": 1.5, "webhook": {"url": "u"}}),
        )
        .unwrap();
        assert_eq!(config.enabled_providers(), vec![Provider::Webhook]);
        assert_eq!(config.notify_options().retries, 0);
        assert_eq!(config.notify_options().timeout, Duration::from_millis(1500));
        assert_eq!(
            ProviderConfig::from_value(&json!({"notify_retries": "x"}))
                .unwrap_err()
                .to_string(),
            "approval provider config notify_retries must be a number"
        );
    }

    #[test]
    fn enabled_follows_the_originals_truthiness() {
        let config = ProviderConfig::from_value(&json!({
            "a": {"enabled": 0}, "b": {"enabled": ""}, "c": {"enabled": "no"}, "d": {}
        }))
        .unwrap();
        let enabled: Vec<bool> = config.entries().map(|e| e.enabled).collect();
        assert_eq!(enabled, vec![false, false, true, true]);
    }
}

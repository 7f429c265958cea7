//! Building one provider's live request from its config entry (original §8.3): start from the
//! request spec, drop the placeholder authorization, set the URL, merge configured headers,
//! set `authorization` from `authorization…` or `token…`, require it for Jira and ServiceNow,
//! and prepare Standard Webhooks signing when a signing secret is set. Every secret value
//! resolved on the way is registered with the [`Redactor`].

use std::collections::BTreeMap;

use cavra_core::approval::Approval;
use cavra_core::notify::{self, NotifyOptions, Provider};
use reqwest::Url;
use serde_json::Value;

use crate::config::ProviderEntry;
use crate::redact::Redactor;
use crate::secrets::{Secrets, Setting, Source};
use crate::sign::SigningKey;

/// A provider's request, resolved and ready for its attempts.
#[derive(Clone)]
pub struct LiveRequest {
    /// The provider.
    pub provider: Provider,
    /// The URL (may hold a secret).
    pub url: String,
    /// Whether the URL came from an environment variable or a secret store.
    pub url_from_secret: bool,
    /// Lower-case header names (values may hold secrets).
    pub headers: BTreeMap<String, String>,
    /// The JSON body.
    pub body: Vec<u8>,
    /// The Standard Webhooks key, when signing.
    pub signing_key: Option<SigningKey>,
}

impl std::fmt::Debug for LiveRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveRequest")
            .field("provider", &self.provider)
            .field("signed", &self.signing_key.is_some())
            .finish_non_exhaustive()
    }
}

/// Why a provider's request could not be built; `url` is what was resolved before the failure.
#[derive(Debug, Clone)]
pub struct BuildError {
    /// The message (never a secret value).
    pub message: String,
    /// The URL, when it was resolved.
    pub url: Option<(String, bool)>,
    /// Headers resolved so far.
    pub headers: BTreeMap<String, String>,
}

/// Settings whose values are credentials wherever they come from.
const SECRET_KEYS: [&str; 3] = ["token", "authorization", "signing_secret"];

/// Resolves setting `key`: `key_secret`, else `key_env`, else `key` (original: `K_env` wins
/// over `K`; CONTRACT §8 adds `K_secret`).
async fn setting(
    entry: &ProviderEntry,
    key: &str,
    secrets: &Secrets,
) -> Result<Option<Setting>, String> {
    let named = |suffix: &str| {
        entry
            .settings
            .get(&format!("{key}_{suffix}"))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
    };
    if let Some(id) = named("secret") {
        let Some(store) = &secrets.store else {
            return Err(format!(
                "approval provider {} sets {key}_secret but no secret store is configured",
                entry.name
            ));
        };
        return match store.resolve(&id).await {
            Ok(Some(value)) => Ok(Some(Setting {
                value,
                source: Source::Store,
            })),
            Ok(None) => Err(format!(
                "secret {id} is required for approval provider {key}"
            )),
            Err(e) => Err(format!(
                "secret {id} could not be read for approval provider {key}: {e}"
            )),
        };
    }
    if let Some(name) = named("env") {
        return match secrets.env.resolve(&name).await {
            Ok(Some(value)) => Ok(Some(Setting {
                value,
                source: Source::Env,
            })),
            Ok(None) | Err(_) => Err(format!(
                "environment variable {name} is required for approval provider {key}"
            )),
        };
    }
    Ok(match entry.settings.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(Setting {
            value: s.trim().to_owned(),
            source: Source::Inline,
        }),
        Some(other) => Some(Setting {
            value: other.to_string(),
            source: Source::Inline,
        }),
    })
}

/// Resolves `key` and registers its value as a secret when it is a credential.
async fn resolve(
    entry: &ProviderEntry,
    key: &str,
    secrets: &Secrets,
    redactor: &mut Redactor,
) -> Result<Option<Setting>, String> {
    let resolved = setting(entry, key, secrets).await?;
    // A URL is a secret when it was kept as one (Slack and Teams carry theirs in the path).
    if let Some(s) = &resolved
        && (SECRET_KEYS.contains(&key) || (key == "url" && s.source != Source::Inline))
    {
        redactor.add(&s.value);
    }
    Ok(resolved)
}

/// The URL to post to: the configured one, with the API path added when only an instance
/// base URL (`https://acme.atlassian.net`) is given for Jira or ServiceNow.
fn endpoint(provider: Provider, url: &str, table: &str) -> Option<String> {
    let mut parsed = Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return None;
    }
    if matches!(parsed.path(), "" | "/") {
        match provider {
            Provider::Jira => parsed.set_path("/rest/api/3/issue"),
            Provider::Servicenow => parsed.set_path(&format!("/api/now/table/{table}")),
            _ => return Some(url.to_owned()),
        }
        return Some(parsed.to_string());
    }
    Some(url.to_owned())
}

/// Builds `provider`'s request for `approval`.
///
/// # Errors
/// A [`BuildError`] with the original's messages (`approval provider {name} must configure
/// url or url_env`, `… must configure token_env, authorization_env, or authorization header`,
/// `environment variable {NAME} is required for approval provider {K}`), plus the contract's
/// (`secret …`, `signing secret …`, `url must be an http or https URL`, `headers must be an
/// object`).
pub async fn build(
    provider: Provider,
    entry: &ProviderEntry,
    approval: &Approval,
    base: &NotifyOptions,
    secrets: &Secrets,
    redactor: &mut Redactor,
) -> Result<LiveRequest, BuildError> {
    let name = provider.as_str();
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let fail =
        |message: String, url: Option<(String, bool)>, headers: &BTreeMap<_, _>| BuildError {
            message,
            url,
            headers: headers.clone(),
        };
    let text = async |key: &str, redactor: &mut Redactor| {
        resolve(entry, key, secrets, redactor)
            .await
            .map_err(|message| BuildError {
                message,
                url: None,
                headers: BTreeMap::new(),
            })
    };
    let mut options = base.clone();
    if let Some(key) = text("project_key", redactor).await? {
        options.jira_project_key = key.value;
    }
    if let Some(kind) = text("issue_type", redactor).await? {
        options.jira_issue_type = kind.value;
    }
    if let Some(table) = text("table", redactor).await? {
        options.servicenow_table = table.value;
    }
    let mut spec = notify::request_spec(provider, approval, &options);
    if provider == Provider::Webhook {
        match text("format", redactor).await?.map(|f| f.value).as_deref() {
            None | Some("notification") => {}
            // CloudEvents 1.0, structured mode (issue G §6), under the same signature.
            Some("cloudevents") => {
                spec.body = notify::cloud_event(approval, &options);
                spec.headers.insert(
                    "content-type".into(),
                    notify::CLOUDEVENT_CONTENT_TYPE.into(),
                );
            }
            Some(_) => {
                return Err(fail(
                    format!("approval provider {name} format must be notification or cloudevents"),
                    None,
                    &headers,
                ));
            }
        }
    }
    headers.extend(spec.headers);
    headers.remove("authorization");

    let url_setting = text("url", redactor).await?.ok_or_else(|| {
        fail(
            format!("approval provider {name} must configure url or url_env"),
            None,
            &headers,
        )
    })?;
    let from_secret = url_setting.source != Source::Inline;
    let url =
        endpoint(provider, &url_setting.value, &options.servicenow_table).ok_or_else(|| {
            fail(
                format!("approval provider {name} url must be an http or https URL"),
                Some((url_setting.value.clone(), from_secret)),
                &headers,
            )
        })?;
    let resolved_url = Some((url.clone(), from_secret));
    match entry.settings.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(extra)) => {
            for (key, value) in extra {
                let value = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                headers.insert(key.to_ascii_lowercase(), value);
            }
        }
        Some(_) => {
            return Err(fail(
                format!("approval provider {name} headers must be an object"),
                resolved_url,
                &headers,
            ));
        }
    }
    let authorization = match text("authorization", redactor).await {
        Ok(v) => v,
        Err(mut e) => {
            e.url = resolved_url;
            e.headers = headers;
            return Err(e);
        }
    };
    let token = match text("token", redactor).await {
        Ok(v) => v,
        Err(mut e) => {
            e.url = resolved_url;
            e.headers = headers;
            return Err(e);
        }
    };
    if let Some(full) = authorization {
        headers.insert("authorization".into(), full.value);
    } else if let Some(token) = token {
        let scheme = match text("authorization_scheme", redactor).await {
            Ok(scheme) => scheme.map_or_else(|| "Bearer".to_owned(), |s| s.value),
            Err(mut e) => {
                e.url = resolved_url;
                e.headers = headers;
                return Err(e);
            }
        };
        let value = format!("{scheme} {}", token.value);
        redactor.add(&value);
        headers.insert("authorization".into(), value);
    }
    if provider.requires_authorization() && !headers.contains_key("authorization") {
        return Err(fail(
            format!(
                "approval provider {name} must configure token_env, authorization_env, or authorization header"
            ),
            resolved_url,
            &headers,
        ));
    }
    let signing_key = match text("signing_secret", redactor).await {
        Ok(None) => None,
        Ok(Some(secret)) => {
            if let Some(encoded) = secret.value.trim().strip_prefix(crate::sign::SECRET_PREFIX) {
                redactor.add(encoded);
            }
            Some(SigningKey::parse(&secret.value).map_err(|e| {
                fail(
                    format!("approval provider {name} {e}"),
                    resolved_url.clone(),
                    &headers,
                )
            })?)
        }
        Err(mut e) => {
            e.url = resolved_url;
            e.headers = headers;
            return Err(e);
        }
    };
    let body = serde_json::to_vec(&spec.body).expect("payloads serialise");
    Ok(LiveRequest {
        provider,
        url,
        url_from_secret: from_secret,
        headers,
        body,
        signing_key,
    })
}

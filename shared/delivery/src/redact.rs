//! Redaction of delivery evidence (original §8.3, extended per CONTRACT §8).
//!
//! The original's rules stay: header names lower-cased; `authorization`, `x-api-key` and
//! `api-key` values become `REDACTED`; a Slack webhook URL becomes
//! `https://hooks.slack.com/services/REDACTED`; any query string becomes `?REDACTED`. On top:
//! every header whose name suggests a credential is redacted; a URL that itself came from an
//! environment variable or a secret keeps only its scheme and host (Teams and other webhook
//! URLs carry their secret in the path); user-info in URLs is dropped; and every secret value
//! the config resolved is replaced wherever it appears, error texts included.

use std::collections::BTreeMap;

use reqwest::Url;

/// What redacted values read as.
pub const REDACTED: &str = "REDACTED";
/// Secret values shorter than this are not searched for inside free text (they would redact
/// ordinary words); headers carrying them are still redacted by name.
pub const MIN_SECRET_CHARS: usize = 4;

const SLACK_HOOKS: &str = "hooks.slack.com/services/";

/// Whether a header of this (lower-case) name carries a credential.
pub fn is_sensitive_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "x-api-key" | "api-key" | "cookie"
    ) || [
        "auth", "token", "secret", "password", "key", "cookie", "session",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// The secret values one delivery resolved, and the redaction that hides them.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// An empty redactor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Remembers `secret` (and, for URLs, the forms an HTTP client prints them in).
    pub fn add(&mut self, secret: &str) {
        let mut forms = vec![secret.to_owned()];
        if let Ok(url) = Url::parse(secret) {
            forms.push(url.to_string());
            forms.push(url.path().to_owned());
            if let Some(query) = url.query() {
                forms.push(query.to_owned());
            }
        }
        for form in forms {
            if form.chars().count() >= MIN_SECRET_CHARS && !self.secrets.contains(&form) {
                self.secrets.push(form);
            }
        }
        // Longest first, so a secret containing another is replaced whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Adds every secret another redactor knows.
    pub fn merge(&mut self, other: &Self) {
        for secret in &other.secrets {
            self.add(secret);
        }
    }

    /// `text` with every known secret replaced by `REDACTED`.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }

    /// The URL as evidence shows it. `from_secret` marks a URL that came from an environment
    /// variable or a secret store: only its scheme, host and port remain.
    pub fn url(&self, url: &str, from_secret: bool) -> String {
        let shown = if url.contains(SLACK_HOOKS) {
            format!("https://{SLACK_HOOKS}{REDACTED}")
        } else {
            match Url::parse(url) {
                Ok(mut parsed) => {
                    let had_userinfo = !parsed.username().is_empty() || parsed.password().is_some();
                    if had_userinfo {
                        let _ = parsed.set_username("");
                        let _ = parsed.set_password(None);
                    }
                    if from_secret {
                        let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
                        format!(
                            "{}://{}{port}/{REDACTED}",
                            parsed.scheme(),
                            parsed.host_str().unwrap_or_default()
                        )
                    } else {
                        if parsed.query().is_some() {
                            parsed.set_query(Some(REDACTED));
                        }
                        parsed.to_string()
                    }
                }
                Err(_) if from_secret => REDACTED.to_owned(),
                Err(_) => match url.split_once('?') {
                    Some((base, _)) => format!("{base}?{REDACTED}"),
                    None => url.to_owned(),
                },
            }
        };
        self.text(&shown)
    }

    /// Headers as evidence shows them: names lower-cased, credentials redacted.
    pub fn headers(&self, headers: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        headers
            .iter()
            .map(|(name, value)| {
                let name = name.to_ascii_lowercase();
                let shown = if is_sensitive_header(&name) {
                    REDACTED.to_owned()
                } else {
                    self.text(value)
                };
                (name, shown)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_originals_url_rules_hold() {
        let r = Redactor::new();
        assert_eq!(
            r.url("https://hooks.slack.com/services/T0/B0/XYZ", false),
            "https://hooks.slack.com/services/REDACTED"
        );
        assert_eq!(
            r.url("https://example.com/hook?sig=abc&x=1", false),
            "https://example.com/hook?REDACTED"
        );
        assert_eq!(
            r.url("https://jira.example/rest/api/3/issue", false),
            "https://jira.example/rest/api/3/issue"
        );
    }

    #[test]
    fn a_url_from_a_secret_keeps_only_scheme_host_and_port() {
        let r = Redactor::new();
        assert_eq!(
            r.url(
                "https://acme.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456",
                true
            ),
            "https://acme.webhook.office.com/REDACTED"
        );
        assert_eq!(
            r.url("http://127.0.0.1:8080/hook/s3cr3t", true),
            "http://127.0.0.1:8080/REDACTED"
        );
        assert_eq!(r.url("not a url s3cr3t", true), "REDACTED");
    }

    #[test]
    fn user_info_in_urls_is_dropped() {
        assert_eq!(
            Redactor::new().url("https://bob:hunter22@example.com/x", false),
            "https://example.com/x"
        );
    }

    #[test]
    fn credential_headers_are_redacted_by_name_and_secret_values_anywhere() {
        let mut r = Redactor::new();
        r.add("tok-123456");
        let headers = BTreeMap::from([
            ("Authorization".to_owned(), "Bearer tok-123456".to_owned()),
            ("X-Custom-Token".to_owned(), "abc".to_owned()),
            ("x-cavra-source".to_owned(), "pilot".to_owned()),
            ("x-echo".to_owned(), "has tok-123456 inside".to_owned()),
        ]);
        let shown = r.headers(&headers);
        assert_eq!(shown["authorization"], REDACTED);
        assert_eq!(shown["x-custom-token"], REDACTED);
        assert_eq!(shown["x-cavra-source"], "pilot");
        assert_eq!(shown["x-echo"], "has REDACTED inside");
        assert_eq!(
            r.text("error: tok-123456 refused"),
            "error: REDACTED refused"
        );
    }

    #[test]
    fn a_secret_url_is_also_hidden_in_the_forms_clients_print() {
        let mut r = Redactor::new();
        r.add("https://Example.com/path/s3cr3t-path?sig=topsecret");
        let text =
            "error sending request for url (https://example.com/path/s3cr3t-path?sig=topsecret)";
        assert!(!r.text(text).contains("s3cr3t"));
        assert!(!r.text("sig=topsecret").contains("topsecret"));
    }

    #[test]
    fn very_short_values_are_not_searched_for_in_text() {
        let mut r = Redactor::new();
        r.add("ab");
        assert_eq!(r.text("abc"), "abc");
    }
}

//! The remote CLI (issue F §7): `cavra approval …` through a deployed approvals API instead of
//! a store, so an agent needs no database access and the server's identity rules apply.
//!
//! `--api URL` (or `CAVRA_API_URL`) is the API's base URL: `cavra serve`'s address or an API
//! Gateway stage, under which the routes live at `/approvals…`. Where each route is its own
//! Lambda function URL, the base may name the function: `https://…/{function}` is filled with
//! the route's function name (`create-approval`, `approve-approval`, …).
//!
//! `--token FILE` (or `CAVRA_TOKEN`, the token itself or a file holding it) is sent as
//! `Authorization: Bearer …`. A token is never sent over plain `http://` to anything but a
//! loopback address, and redirects are not followed (a redirect must not carry it elsewhere).

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use cavra_api::Route;
use cavra_core::ids::ApprovalId;
use clap::Args;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use crate::Exit;

/// How long one API call may take (a `?wait=` call holds up to 25 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest `?wait=` the API accepts.
const MAX_WAIT_SECONDS: u64 = 25;
/// The pause before the last look when under a second is left.
const SHORT_PAUSE: Duration = Duration::from_millis(200);
/// Longest answer read from the API.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// Where the deployed API is and who calls it.
#[derive(Debug, Clone, Default, Args)]
pub struct RemoteArgs {
    /// Work through a deployed approvals API (e.g. `https://approvals.example/prod`) instead of
    /// a store; `{function}` in it is replaced by the route's Lambda function name.
    #[arg(long = "api", value_name = "URL", env = "CAVRA_API_URL")]
    pub api: Option<String>,
    /// File holding the OIDC bearer token sent to --api (`CAVRA_TOKEN` holds the token, or a
    /// file holding it).
    #[arg(long = "token", value_name = "FILE", env = "CAVRA_TOKEN")]
    pub token: Option<String>,
}

/// A client of one deployed API.
#[derive(Debug, Clone)]
pub struct Remote {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

/// Whether `text` has the shape of a compact JWS (three base64url parts).
fn looks_like_jwt(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && parts.iter().take(2).all(|p| !p.is_empty())
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The token from `--token` / `CAVRA_TOKEN`: a file's content, or the token itself.
fn read_token(value: &str) -> anyhow::Result<String> {
    let value = value.trim();
    let path = Path::new(value);
    let text = if path.is_file() {
        std::fs::read_to_string(path)
            .with_context(|| format!("could not read the token file {}", path.display()))?
    } else if looks_like_jwt(value) {
        value.to_owned()
    } else {
        anyhow::bail!("token file not found: {value}");
    };
    let token = text.trim().to_owned();
    if token.is_empty() {
        anyhow::bail!("the token file {value} is empty");
    }
    if !looks_like_jwt(&token) {
        anyhow::bail!("the token in {value} is not a JWT (header.payload.signature)");
    }
    Ok(token)
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks an `--api` value: an absolute `http(s)` URL without query, fragment or credentials,
/// and `https` unless it is a loopback address.
fn checked_base(api: &str) -> anyhow::Result<String> {
    let probe = api.trim().replace("{function}", "function");
    let url = Url::parse(&probe).map_err(|e| anyhow::anyhow!("--api {api} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        anyhow::bail!("--api {api} must be an http or https URL");
    }
    if url.query().is_some() || url.fragment().is_some() {
        anyhow::bail!("--api {api} must not have a query or fragment");
    }
    if !url.username().is_empty() || url.password().is_some() {
        anyhow::bail!("--api {api} must not carry credentials: use --token");
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        anyhow::bail!(
            "--api {api}: plain http is only for loopback addresses; the token needs https"
        );
    }
    Ok(api.trim().trim_end_matches('/').to_owned())
}

impl RemoteArgs {
    /// The client, when `--api` is given.
    ///
    /// # Errors
    /// A malformed URL, plain http to another host, or an unreadable token.
    pub fn client(&self) -> anyhow::Result<Option<Remote>> {
        let Some(api) = self.api.as_deref().filter(|a| !a.trim().is_empty()) else {
            return Ok(None);
        };
        let base = checked_base(api)?;
        let token = self
            .token
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .map(read_token)
            .transpose()?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .build()
            .context("starting the HTTP client")?;
        Ok(Some(Remote { base, token, http }))
    }
}

/// `/approvals/{id}` plus `suffix`, refusing an id that is not `apr_` + 12 hex digits (so it
/// cannot reach another path).
pub fn approval_path(approval_id: &str, suffix: &str) -> anyhow::Result<String> {
    let id = ApprovalId::parse(approval_id).map_err(|e| Exit::usage(e.to_string()))?;
    Ok(format!("/approvals/{}{suffix}", id.as_str()))
}

impl Remote {
    /// The record `GET /approvals/{id}` answers, holding up to `wait` seconds for a change.
    ///
    /// # Errors
    /// A malformed id, the API's refusal, or a record this CLI cannot read.
    pub async fn record_after(
        &self,
        approval_id: &str,
        wait: Option<u64>,
    ) -> anyhow::Result<cavra_core::approval::Approval> {
        let mut path = approval_path(approval_id, "")?;
        if let Some(seconds) = wait {
            path = format!("{path}?wait={seconds}");
        }
        parse_record(self.call(Route::Get, &path, None).await?)
    }

    /// The record `GET /approvals/{id}` answers now.
    ///
    /// # Errors
    /// As [`Self::record_after`].
    pub async fn record(
        &self,
        approval_id: &str,
    ) -> anyhow::Result<cavra_core::approval::Approval> {
        self.record_after(approval_id, None).await
    }

    /// The URL of `path_and_query` served by `route`.
    fn url(&self, route: Route, path_and_query: &str) -> String {
        format!(
            "{}{path_and_query}",
            self.base.replace("{function}", route.function_name())
        )
    }

    /// Sends one request to `route` and returns the status and the JSON answer (`None` when
    /// the answer is not JSON).
    async fn send(
        &self,
        route: Route,
        path_and_query: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<(StatusCode, Option<Value>, String)> {
        let (method, _) = route.method_and_path();
        let url = self.url(route, path_and_query);
        let mut request = self.http.request(method.clone(), &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        } else if method == Method::POST {
            request = request.json(&serde_json::json!({}));
        }
        let response = request
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("could not reach the approvals API at {url}: {e}"))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| anyhow::anyhow!("reading the answer of {url}: {e}"))?;
        if bytes.len() > MAX_ANSWER_BYTES {
            anyhow::bail!("the approvals API answered more than {MAX_ANSWER_BYTES} bytes");
        }
        Ok((status, serde_json::from_slice(&bytes).ok(), url))
    }

    /// The error for a non-2xx answer: the server's `detail` and the status (exit 1).
    fn refusal(&self, status: StatusCode, value: Option<&Value>, url: &str) -> anyhow::Error {
        let detail = value
            .and_then(|v| v.get("detail"))
            .and_then(Value::as_str)
            .map_or_else(|| format!("HTTP {status} from {url}"), str::to_owned);
        Exit {
            message: if status == StatusCode::UNAUTHORIZED && self.token.is_none() {
                format!("{detail} (HTTP {}; pass --token)", status.as_u16())
            } else {
                format!("{detail} (HTTP {})", status.as_u16())
            },
            code: 1,
        }
        .into()
    }

    /// A 2xx answer's JSON, else [`Self::refusal`].
    fn json_of(
        &self,
        (status, value, url): (StatusCode, Option<Value>, String),
    ) -> anyhow::Result<Value> {
        if !status.is_success() {
            return Err(self.refusal(status, value.as_ref(), &url));
        }
        value.ok_or_else(|| {
            anyhow::anyhow!("the approvals API answered HTTP {status} without JSON ({url})")
        })
    }

    /// Calls `route` and returns its JSON answer; a non-2xx answer becomes an error naming the
    /// server's `detail` and the status (exit 1).
    ///
    /// # Errors
    /// The API cannot be reached, answers an error, or answers something that is not JSON.
    pub async fn call(
        &self,
        route: Route,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let answer = self.send(route, path_and_query, body, None).await?;
        self.json_of(answer)
    }

    /// The record, or `None` when the API answers 404.
    ///
    /// # Errors
    /// A malformed id, another refusal, or a record this CLI cannot read.
    pub async fn find(
        &self,
        approval_id: &str,
    ) -> anyhow::Result<Option<cavra_core::approval::Approval>> {
        let path = approval_path(approval_id, "")?;
        let answer = self.send(Route::Get, &path, None, None).await?;
        if answer.0 == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        parse_record(self.json_of(answer)?).map(Some)
    }

    /// `POST /approvals` with an `Idempotency-Key`: the record and whether it was created now
    /// (201) rather than found (200); `None` on 409, when the key is already taken.
    ///
    /// # Errors
    /// The server's other refusals.
    pub async fn create_keyed(
        &self,
        body: &Value,
        key: &str,
    ) -> anyhow::Result<Option<(cavra_core::approval::Approval, bool)>> {
        let answer = self
            .send(Route::Create, "/approvals", Some(body), Some(key))
            .await?;
        if answer.0 == StatusCode::CONFLICT {
            return Ok(None);
        }
        let created = answer.0 == StatusCode::CREATED;
        Ok(Some((parse_record(self.json_of(answer)?)?, created)))
    }

    /// The record once it is no longer pending (an overdue pending request counts as decided:
    /// it can only expire), or still pending when `timeout` passes. Each call holds on the
    /// server for up to 25 s, answering as soon as the state changes.
    ///
    /// # Errors
    /// As [`Self::record_after`].
    pub async fn wait(
        &self,
        approval_id: &str,
        timeout: Duration,
    ) -> anyhow::Result<cavra_core::approval::Approval> {
        use cavra_core::time::Clock as _;
        let start = std::time::Instant::now();
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            let seconds = left.as_secs().min(MAX_WAIT_SECONDS);
            let record = self
                .record_after(approval_id, (seconds > 0).then_some(seconds))
                .await?;
            let now = cavra_core::time::SystemClock.now();
            if record.state != cavra_core::approval::ApprovalState::Pending
                || record.is_overdue(now)
                || start.elapsed() >= timeout
            {
                return Ok(record);
            }
            if seconds == 0 {
                // Under a second left: one short pause, then the last look.
                tokio::time::sleep(left.min(SHORT_PAUSE)).await;
            }
        }
    }
}

fn parse_record(value: Value) -> anyhow::Result<cavra_core::approval::Approval> {
    serde_json::from_value(value).map_err(|e| {
        anyhow::anyhow!("the approvals API answered a record this CLI cannot read: {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_may_use_plain_http() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:9000/",
            "http://[::1]:1/x",
            "https://approvals.example/prod",
            "https://lambda.example/{function}",
        ] {
            assert!(checked_base(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://approvals.example",
            "http://127.0.0.1.evil.example",
            "http://10.0.0.1:80",
            "ftp://127.0.0.1",
            "https://user:pw@approvals.example",
            "https://approvals.example/?x=1",
            "https://approvals.example/#frag",
            "approvals.example",
            "",
        ] {
            assert!(checked_base(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_that_leave_the_path_are_refused() {
        assert_eq!(
            approval_path("apr_0123456789ab", "/approve").unwrap(),
            "/approvals/apr_0123456789ab/approve"
        );
        for bad in [
            "../break-glass",
            "apr_0123456789ab/../../x",
            "apr_0123456789ab?wait=1",
            "apr_0123456789ab%2f",
            "apr_0123456789ab#",
            "",
        ] {
            assert!(approval_path(bad, "").is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_are_files_or_jwts() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "aaa.bbb.ccc\n").unwrap();
        assert_eq!(read_token(file.to_str().unwrap()).unwrap(), "aaa.bbb.ccc");
        assert_eq!(read_token("aaa.bbb.ccc").unwrap(), "aaa.bbb.ccc");
        std::fs::write(&file, "not a token").unwrap();
        assert!(read_token(file.to_str().unwrap()).is_err());
        assert!(read_token("/no/such/file").is_err());
        std::fs::write(&file, "").unwrap();
        assert!(read_token(file.to_str().unwrap()).is_err());
    }

    #[test]
    fn function_urls_are_filled_per_route() {
        let remote = RemoteArgs {
            api: Some("http://127.0.0.1:9/lambda-url/{function}".into()),
            token: None,
        }
        .client()
        .unwrap()
        .unwrap();
        assert_eq!(
            remote.url(Route::Approve, "/approvals/apr_0123456789ab/approve"),
            "http://127.0.0.1:9/lambda-url/approve-approval/approvals/apr_0123456789ab/approve"
        );
    }
}

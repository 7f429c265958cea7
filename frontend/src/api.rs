//! The typed client of the `/approvals` API. Every call, reads included, carries the session's
//! token as `Authorization: Bearer …`. Failures come back as [`ApiError`] with the server's
//! `detail`; nothing here ever invents a result.

use cavra_core::approval::Approval;
use gloo_net::http::{Request, RequestBuilder};
use serde::Deserialize;
use serde_json::Value;

use crate::queue_query::QueueFilter;
use crate::states::Verdict;

/// `config.json`, served beside `index.html`: where the API is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ConsoleConfig {
    /// The API's base URL; empty means the console's own origin.
    #[serde(default)]
    pub api_base_url: String,
}

/// One page of `GET /approvals`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Page {
    /// Newest request first.
    pub items: Vec<Approval>,
    /// Matching records in all.
    pub total: u64,
    /// Page size used.
    pub limit: u32,
    /// Where the next page starts.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// A failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status; `None` when no answer arrived.
    pub status: Option<u16>,
    /// The server's `detail`, or what went wrong on the way.
    pub detail: String,
    /// On a 403, the groups whose members may do what was refused (the API's
    /// `required_groups`).
    pub required_groups: Vec<String>,
}

/// "IAM", "IAM or Security", "IAM, Security or CAB".
fn either(groups: &[String]) -> String {
    match groups {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

impl ApiError {
    /// Builds the error for an answer with `status` and `body` (`{"detail": …}` when the
    /// server wrote it; any other body is shown as the status alone).
    pub fn from_answer(status: u16, body: &str) -> Self {
        let json = serde_json::from_str::<Value>(body).ok();
        let detail = json
            .as_ref()
            .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| format!("the server answered HTTP {status}"));
        let required_groups = json
            .as_ref()
            .and_then(|v| v.get("required_groups").and_then(Value::as_array))
            .map(|groups| {
                groups
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|g| !g.trim().is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Self {
            status: Some(status),
            detail,
            required_groups,
        }
    }

    fn network(error: &impl std::fmt::Display) -> Self {
        Self {
            status: None,
            detail: format!("could not reach the API: {error}"),
            required_groups: Vec::new(),
        }
    }

    /// 401: the console must ask for a (new) token.
    pub fn needs_token(&self) -> bool {
        self.status == Some(401)
    }

    /// 409: the request is no longer pending (someone decided first, or it expired).
    pub fn is_conflict(&self) -> bool {
        self.status == Some(409)
    }

    /// The sentence shown to the user.
    pub fn message(&self) -> String {
        self.message_for(None)
    }

    /// The sentence shown to the user, saying on a 403 what only the named groups can do
    /// (`what`: "decide this request"; "do this" when not given).
    pub fn message_for(&self, what: Option<&str>) -> String {
        match self.status {
            None => self.detail.clone(),
            Some(401) => format!(
                "Sign in to continue: your session is missing or has expired. (HTTP 401: {})",
                self.detail
            ),
            Some(403) if !self.required_groups.is_empty() => format!(
                "Only members of {} can {}. (HTTP 403: {})",
                either(&self.required_groups),
                what.unwrap_or("do this"),
                self.detail
            ),
            Some(403) => format!("Forbidden (HTTP 403): {}", self.detail),
            Some(404) => format!("Not found (HTTP 404): {}", self.detail),
            Some(409) => format!("Conflict (HTTP 409): {}", self.detail),
            Some(status) => format!("Error (HTTP {status}): {}", self.detail),
        }
    }
}

/// The API client for one deployment and one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    base: String,
    token: Option<String>,
}

/// Reads `config.json` next to the console.
///
/// # Errors
/// The file cannot be fetched or is not the expected JSON.
pub async fn load_config() -> Result<ConsoleConfig, String> {
    let response = Request::get("/config.json")
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("could not load /config.json: {e}"))?;
    if !response.ok() {
        return Err(format!(
            "could not load /config.json: HTTP {}",
            response.status()
        ));
    }
    response
        .json::<ConsoleConfig>()
        .await
        .map_err(|e| format!("/config.json is not valid: {e}"))
}

impl Client {
    /// A client for the API at `base` (empty: same origin) acting with `token`.
    pub fn new(config: &ConsoleConfig, token: Option<String>) -> Self {
        Self {
            base: config.api_base_url.trim().trim_end_matches('/').to_owned(),
            token: token.filter(|t| !t.trim().is_empty()),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authorised(&self, request: RequestBuilder) -> RequestBuilder {
        let request = request.header("Accept", "application/json");
        match &self.token {
            Some(token) => request.header("Authorization", &format!("Bearer {}", token.trim())),
            None => request,
        }
    }

    async fn send<T: for<'de> Deserialize<'de>>(
        request: Result<Request, gloo_net::Error>,
    ) -> Result<T, ApiError> {
        let request = request.map_err(|e| ApiError::network(&e))?;
        let response = request.send().await.map_err(|e| ApiError::network(&e))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| ApiError::network(&e))?;
        if !(200..300).contains(&status) {
            return Err(ApiError::from_answer(status, &body));
        }
        serde_json::from_str(&body).map_err(|e| ApiError {
            status: Some(status),
            detail: format!("the answer is not what the console expects: {e}"),
            required_groups: Vec::new(),
        })
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, ApiError> {
        Self::send(self.authorised(Request::get(&self.url(path))).build()).await
    }

    async fn post_json<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<T, ApiError> {
        Self::send(self.authorised(Request::post(&self.url(path))).json(body)).await
    }

    /// `GET /approvals?…`: one page of the queue.
    ///
    /// # Errors
    /// The server's answer, or the network failure.
    pub async fn list(&self, filter: &QueueFilter, cursor: Option<&str>) -> Result<Page, ApiError> {
        self.get_json(&filter.api_path(cursor)).await
    }

    /// `GET /approvals/{id}`.
    ///
    /// # Errors
    /// The server's answer, or the network failure.
    pub async fn get(&self, id: &str) -> Result<Approval, ApiError> {
        self.get_json(&format!("/approvals/{}", encode_segment(id)))
            .await
    }

    /// `POST /approvals/{id}/{approve|deny|expire}` with `body`.
    ///
    /// # Errors
    /// The server's answer, or the network failure.
    pub async fn decide(
        &self,
        id: &str,
        verdict: Verdict,
        body: &Value,
    ) -> Result<Approval, ApiError> {
        self.post_json(
            &format!("/approvals/{}/{}", encode_segment(id), verdict.path()),
            body,
        )
        .await
    }

    /// `POST /approvals/break-glass` with `body`.
    ///
    /// # Errors
    /// The server's answer, or the network failure.
    pub async fn break_glass(&self, body: &Value) -> Result<Approval, ApiError> {
        self.post_json("/approvals/break-glass", body).await
    }
}

/// Percent-encodes one path segment (ids are `apr_…`, but a pasted address may hold anything).
pub fn encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_an_error_answer_then_the_servers_detail_is_what_the_user_reads() {
        let forbidden = ApiError::from_answer(
            403,
            r#"{"detail":"actor is not authorized for approval group"}"#,
        );
        assert_eq!(
            forbidden.message(),
            "Forbidden (HTTP 403): actor is not authorized for approval group"
        );
        assert!(!forbidden.needs_token());
        let conflict =
            ApiError::from_answer(409, r#"{"detail":"only pending approvals can be changed"}"#);
        assert!(conflict.is_conflict());
        let unauthenticated = ApiError::from_answer(
            401,
            r#"{"detail":"console action requires verified actor context"}"#,
        );
        assert!(unauthenticated.needs_token());
        assert_eq!(
            unauthenticated.message(),
            "Sign in to continue: your session is missing or has expired. (HTTP 401: console action requires verified actor context)"
        );
    }

    #[test]
    fn a_403_naming_groups_says_whose_members_can_act() {
        let forbidden = ApiError::from_answer(
            403,
            r#"{"detail":"actor is not authorized for approval group","required_groups":["Platform Security","IAM"]}"#,
        );
        assert_eq!(forbidden.required_groups, ["Platform Security", "IAM"]);
        assert_eq!(
            forbidden.message_for(Some("decide this request")),
            "Only members of Platform Security or IAM can decide this request. (HTTP 403: actor is not authorized for approval group)"
        );
        let three = ["A", "B", "C"].map(str::to_owned);
        assert_eq!(either(&three), "A, B or C");
    }

    #[test]
    fn a_body_without_detail_still_names_the_status() {
        let gateway = ApiError::from_answer(502, "<html>Bad Gateway</html>");
        assert_eq!(
            gateway.message(),
            "Error (HTTP 502): the server answered HTTP 502"
        );
        let api_gateway = ApiError::from_answer(404, r#"{"message":"Not Found"}"#);
        assert_eq!(api_gateway.detail, "the server answered HTTP 404");
    }

    #[test]
    fn the_base_url_loses_its_trailing_slash_and_blank_tokens_are_no_tokens() {
        let config = ConsoleConfig {
            api_base_url: "https://abc.execute-api.eu-west-1.amazonaws.com/ ".into(),
        };
        let client = Client::new(&config, Some("  ".into()));
        assert_eq!(
            client.url("/approvals"),
            "https://abc.execute-api.eu-west-1.amazonaws.com/approvals"
        );
        assert_eq!(client.token, None);
        let same_origin = Client::new(
            &ConsoleConfig {
                api_base_url: String::new(),
            },
            None,
        );
        assert_eq!(same_origin.url("/approvals/apr_1"), "/approvals/apr_1");
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode_segment("apr_0123456789ab"), "apr_0123456789ab");
        assert_eq!(encode_segment("a/b c"), "a%2Fb%20c");
    }
}

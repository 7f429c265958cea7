//! Notification payloads and credential-free request specs (original §8.1–§8.2, CONTRACT §8),
//! as pure functions of an approval record.
//!
//! Each provider gets the payload its current API expects: a Slack Block Kit message, a Teams
//! Adaptive Card message for Workflows webhooks, a Jira Cloud v3 issue with an ADF description,
//! a ServiceNow Table API record and the `cavra.approval.notification.v1` webhook envelope.
//! Every text that reaches a provider is cut to that provider's documented limit with an
//! ellipsis ([`truncate`]), so a long target or reason never gets the message rejected.
//! Values an agent controls are escaped where the provider parses markup (Slack `mrkdwn`).
//!
//! Nothing here reads the environment: the console URL and the provider settings come in
//! through [`NotifyOptions`].

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::approval::{Approval, ApprovalState, PRODUCT, sort_value};
use crate::time::Timestamp;

/// The webhook envelope's schema tag.
pub const NOTIFICATION_SCHEMA: &str = "cavra.approval.notification.v1";
/// The Jira issue type used when the provider config names none.
pub const DEFAULT_JIRA_ISSUE_TYPE: &str = "Task";
/// The Jira project key used when the provider config names none.
pub const DEFAULT_JIRA_PROJECT_KEY: &str = "CAVRA";
/// The ServiceNow table used when the provider config names none.
pub const DEFAULT_SERVICENOW_TABLE: &str = "change_request";
/// The ellipsis long values end with.
pub const ELLIPSIS: char = '…';
/// What missing values render as.
const NOT_AVAILABLE: &str = "n/a";
/// The console button's label.
const CONSOLE_LABEL: &str = "Open in CAVRA console";

/// Documented provider limits the payloads respect (characters unless named otherwise).
pub mod limits {
    /// Slack header block text.
    pub const SLACK_HEADER: usize = 150;
    /// Slack section block text.
    pub const SLACK_SECTION: usize = 3000;
    /// Slack section field text (each).
    pub const SLACK_FIELD: usize = 2000;
    /// Slack section fields per block.
    pub const SLACK_FIELDS: usize = 10;
    /// Slack context block elements.
    pub const SLACK_CONTEXT_ELEMENTS: usize = 10;
    /// Slack blocks per message.
    pub const SLACK_BLOCKS: usize = 50;
    /// Slack button text.
    pub const SLACK_BUTTON_TEXT: usize = 75;
    /// Slack button URL.
    pub const SLACK_BUTTON_URL: usize = 3000;
    /// Slack top-level `text` (Slack truncates at 40,000; we stay far below).
    pub const SLACK_TEXT: usize = 3000;
    /// Teams: a whole webhook message, in bytes (28 KB).
    pub const TEAMS_MESSAGE_BYTES: usize = 28 * 1024;
    /// Teams: the long texts we put on a card (reason), so the card stays under the limit.
    pub const TEAMS_TEXT: usize = 4000;
    /// Teams: one fact value.
    pub const TEAMS_FACT: usize = 500;
    /// Jira summary.
    pub const JIRA_SUMMARY: usize = 255;
    /// Jira label.
    pub const JIRA_LABEL: usize = 255;
    /// Jira rich-text field (the ADF description's text).
    pub const JIRA_DESCRIPTION: usize = 32_767;
    /// Jira: one value in the description's list.
    pub const JIRA_VALUE: usize = 1000;
    /// Jira: the reason paragraph.
    pub const JIRA_REASON: usize = 8000;
    /// ServiceNow `short_description`.
    pub const SERVICENOW_SHORT_DESCRIPTION: usize = 160;
    /// ServiceNow `description`.
    pub const SERVICENOW_DESCRIPTION: usize = 4000;
    /// ServiceNow `correlation_id` and `correlation_display`.
    pub const SERVICENOW_CORRELATION: usize = 100;
    /// ServiceNow `assignment_group` (a group name).
    pub const SERVICENOW_GROUP: usize = 80;
}

/// The five providers, in the sorted order files and deliveries use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Jira Cloud (REST API v3).
    Jira,
    /// ServiceNow (Table API).
    Servicenow,
    /// Slack (incoming webhook, Block Kit).
    Slack,
    /// Microsoft Teams (Workflows webhook, Adaptive Card).
    Teams,
    /// A generic HTTPS webhook (signed per Standard Webhooks when configured).
    Webhook,
}

impl Provider {
    /// Every provider, sorted by name.
    pub const ALL: [Self; 5] = [
        Self::Jira,
        Self::Servicenow,
        Self::Slack,
        Self::Teams,
        Self::Webhook,
    ];

    /// The provider's name in files and configs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jira => "jira",
            Self::Servicenow => "servicenow",
            Self::Slack => "slack",
            Self::Teams => "teams",
            Self::Webhook => "webhook",
        }
    }

    /// `{provider}-approval-payload.json` (original §8.1).
    pub fn payload_file_name(self) -> String {
        format!("{}-approval-payload.json", self.as_str())
    }

    /// `{provider}-approval-request.json` (original §8.2).
    pub fn request_file_name(self) -> String {
        format!("{}-approval-request.json", self.as_str())
    }

    /// Whether the provider's API refuses requests without an `authorization` header.
    pub fn requires_authorization(self) -> bool {
        matches!(self, Self::Jira | Self::Servicenow)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider name that is not one of the five.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider: {0}")]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

/// `all` → every provider; a provider's name → that one; anything else → `None`.
pub fn select_providers(name: &str) -> Option<Vec<Provider>> {
    if name == "all" {
        return Some(Provider::ALL.to_vec());
    }
    name.parse().ok().map(|p| vec![p])
}

/// A state change a provider config may ask to be notified of (`notify_on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    /// A request was created.
    Requested,
    /// A request was approved (quorum met).
    Approved,
    /// A request was denied.
    Denied,
    /// A request expired.
    Expired,
    /// A break-glass override was recorded (always broadcast).
    BreakGlass,
    /// A grant's last use was spent (issue F §2).
    Consumed,
    /// A pending request's approver group was reminded (issue G §3).
    Reminded,
    /// An unanswered request escalated to its fallback group (issue G §3).
    Escalated,
}

impl NotifyEvent {
    /// Every event.
    pub const ALL: [Self; 8] = [
        Self::Requested,
        Self::Approved,
        Self::Denied,
        Self::Expired,
        Self::BreakGlass,
        Self::Consumed,
        Self::Reminded,
        Self::Escalated,
    ];

    /// The name used in `notify_on`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::BreakGlass => "break_glass",
            Self::Consumed => "consumed",
            Self::Reminded => "reminded",
            Self::Escalated => "escalated",
        }
    }

    /// The event a record in `state` announces.
    pub fn for_state(state: ApprovalState) -> Self {
        match state {
            ApprovalState::Pending => Self::Requested,
            ApprovalState::Approved => Self::Approved,
            ApprovalState::Denied => Self::Denied,
            ApprovalState::Expired => Self::Expired,
            ApprovalState::BreakGlass => Self::BreakGlass,
            ApprovalState::Consumed => Self::Consumed,
        }
    }
}

impl fmt::Display for NotifyEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event name `notify_on` does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown approval notification event: {0} (expected requested, approved, denied, expired, break_glass, consumed, reminded or escalated)"
)]
pub struct UnknownEvent(pub String);

impl FromStr for NotifyEvent {
    type Err = UnknownEvent;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| UnknownEvent(s.to_owned()))
    }
}

/// The notification port (issue G §1): [`crate::service::ApprovalService`] calls it after
/// every stored change, with the record as stored, and keeps what it returns as a `delivered`
/// history entry. The CLI, `cavra serve`, every Lambda function and the sweeper therefore
/// notify alike; `cavra-delivery` is the adapter.
#[async_trait::async_trait]
pub trait Notifier: Send + Sync + fmt::Debug {
    /// Tells whoever asked for `event` about `record`. Returns the redacted delivery evidence
    /// to keep, or `None` when nobody asked for this event. A failed delivery is evidence too,
    /// never an error: the change is already stored.
    async fn notify(&self, record: &Approval, event: NotifyEvent) -> Option<Value>;
}

/// What the payload builders need besides the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyOptions {
    /// `CAVRA_PUBLIC_CONSOLE_URL`: when set, payloads link to the request in the console.
    pub console_url: Option<String>,
    /// Jira `project.key`.
    pub jira_project_key: String,
    /// Jira `issuetype.name`.
    pub jira_issue_type: String,
    /// ServiceNow table (the request spec's URL).
    pub servicenow_table: String,
    /// The webhook envelope's `timestamp`.
    pub generated_at: Timestamp,
    /// What happened, for an automatic notification (`None` for an explicit `deliver`).
    pub event: Option<NotifyEvent>,
}

impl NotifyOptions {
    /// Defaults for everything but the generation time.
    pub fn new(generated_at: Timestamp) -> Self {
        Self {
            console_url: None,
            jira_project_key: DEFAULT_JIRA_PROJECT_KEY.to_owned(),
            jira_issue_type: DEFAULT_JIRA_ISSUE_TYPE.to_owned(),
            servicenow_table: DEFAULT_SERVICENOW_TABLE.to_owned(),
            generated_at,
            event: None,
        }
    }

    /// Names the event an automatic notification announces.
    #[must_use]
    pub fn with_event(mut self, event: Option<NotifyEvent>) -> Self {
        self.event = event;
        self
    }

    /// Sets the console base URL (blank means unset).
    #[must_use]
    pub fn with_console_url(mut self, url: Option<&str>) -> Self {
        self.console_url = url
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned);
        self
    }
}

/// Cuts `text` to at most `max` characters, ending with `…` when anything was cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push(ELLIPSIS);
    out
}

/// Replaces line breaks, tabs and other control characters with spaces (for one-line fields).
pub fn single_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Escapes the three characters Slack's `mrkdwn` treats as markup (`&`, `<`, `>`), so an
/// agent-controlled value cannot form links or mentions.
pub fn slack_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            other => out.push(other),
        }
    }
    out
}

/// Escapes what Teams' Adaptive Card markdown (a CommonMark subset) treats as markup, with
/// backslashes, so agent text cannot form links, images, emphasis or headings.
pub fn teams_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '[' | ']' | '(' | ')' | '<' | '>' | '*' | '_' | '`' | '#' | '~' | '|' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Defuses ServiceNow's `[code]…[/code]` tags (which render HTML in journal fields): the
/// bracket becomes a parenthesis, whatever the case.
pub fn servicenow_escape(text: &str) -> String {
    let opens_tag = |after: &[u8]| {
        let after = after.strip_prefix(b"/").unwrap_or(after);
        after.len() >= 4 && after[..4].eq_ignore_ascii_case(b"code")
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    for (at, c) in text.char_indices() {
        if c == '[' && opens_tag(bytes[at..].get(1..).unwrap_or_default()) {
            out.push('(');
        } else {
            out.push(c);
        }
    }
    out
}

/// `CAVRA approval {state} for {decision_id}` (original §8.1).
pub fn title(approval: &Approval) -> String {
    format!(
        "CAVRA approval {} for {}",
        approval.state, approval.decision_id
    )
}

/// The title for `options.event`: a reminder and an escalation say so; every other event
/// keeps the original's [`title`].
pub fn headline(approval: &Approval, options: &NotifyOptions) -> String {
    match options.event {
        Some(NotifyEvent::Reminded) => format!(
            "Reminder: CAVRA approval pending for {}",
            approval.decision_id
        ),
        Some(NotifyEvent::Escalated) => format!(
            "Escalated: CAVRA approval pending for {}",
            approval.decision_id
        ),
        _ => title(approval),
    }
}

/// The approver group, with the groups the request escalated to.
fn approver_groups(approval: &Approval) -> String {
    let escalated = approval.escalated_groups();
    if escalated.is_empty() {
        approval.approver_group.clone()
    } else {
        format!(
            "{} (escalated to {})",
            approval.approver_group,
            escalated.join(", ")
        )
    }
}

/// The console page of the request: `{console_url}/approvals/{approval_id}`.
pub fn console_link(console_url: &str, approval_id: &str) -> String {
    format!(
        "{}/approvals/{approval_id}",
        console_url.trim_end_matches('/')
    )
}

/// The labelled values every payload shows, in display order.
struct Facts {
    approver_group: String,
    state: String,
    requested_by: String,
    target: String,
    rule: String,
    severity: String,
    expires_at: String,
    external_ref: String,
    reason: String,
    approval_id: String,
    decision_id: String,
    will_run: String,
    link: Option<String>,
}

/// What will run, for approvers (issue F §1): the exact command, the file written with its
/// content digest and size, the MCP tool with its arguments' digest, the plan summary.
pub fn will_run(decision: &crate::decision::Decision) -> String {
    let action = decision.as_map().get("action").and_then(Value::as_object);
    let field = |key: &str| action.and_then(|a| a.get(key));
    let short = |hex: &str| hex.chars().take(12).collect::<String>();
    let mut parts = Vec::new();
    match decision.text_field("action_type").as_str() {
        "execute_command" => parts.push(format!("run {}", decision.text_field("target"))),
        "write_file" => {
            let mut text = format!("write {}", decision.text_field("target"));
            if let Some(sha) = field("content_sha256").and_then(Value::as_str) {
                let bytes = field("content_bytes").and_then(Value::as_u64).unwrap_or(0);
                text = format!("{text} ({bytes} bytes, sha256 {}…)", short(sha));
            }
            parts.push(text);
        }
        "mcp_tool_call" => {
            let tool = field("tool").and_then(Value::as_str).unwrap_or("a tool");
            let mut text = format!("call {tool} on {}", decision.text_field("target_as_given"));
            if let Some(sha) = field("tool_args_sha256").and_then(Value::as_str) {
                text = format!("{text} (arguments sha256 {}…)", short(sha));
            }
            parts.push(text);
        }
        _ => parts.push(decision.text_field("target")),
    }
    if let Some(plan) = field("plan_summary").and_then(Value::as_str) {
        parts.push(format!("plan: {plan}"));
    }
    parts.join("; ")
}

fn or_na(text: String) -> String {
    if text.trim().is_empty() {
        NOT_AVAILABLE.to_owned()
    } else {
        text
    }
}

impl Facts {
    fn of(approval: &Approval, options: &NotifyOptions) -> Self {
        let decision = &approval.decision;
        Self {
            approver_group: or_na(approver_groups(approval)),
            state: approval.state.to_string(),
            requested_by: or_na(approval.requested_by.clone()),
            target: or_na(decision.text_field("target")),
            rule: or_na(decision.text_field("rule_id")),
            severity: or_na(decision.text_field("severity")),
            expires_at: approval.expires_at.to_string(),
            external_ref: or_na(approval.external_ref.clone().unwrap_or_default()),
            reason: or_na(approval.display_reason().unwrap_or_default().to_owned()),
            approval_id: approval.approval_id.clone(),
            decision_id: approval.decision_id.clone(),
            will_run: or_na(will_run(decision)),
            link: options
                .console_url
                .as_deref()
                .map(|base| console_link(base, &approval.approval_id)),
        }
    }

    /// Label/value pairs for the field lists (reason is shown on its own).
    fn pairs(&self) -> [(&'static str, &str); 9] {
        [
            ("Will run", &self.will_run),
            ("Approver group", &self.approver_group),
            ("State", &self.state),
            ("Requested by", &self.requested_by),
            ("External ref", &self.external_ref),
            ("Target", &self.target),
            ("Rule", &self.rule),
            ("Severity", &self.severity),
            ("Expires", &self.expires_at),
        ]
    }
}

fn slack_field(label: &str, value: &str) -> Value {
    let prefix = format!("*{label}:* ");
    let budget = limits::SLACK_FIELD.saturating_sub(prefix.chars().count());
    let escaped = slack_escape(&truncate(value, budget));
    json!({"type": "mrkdwn", "text": truncate(&format!("{prefix}{escaped}"), limits::SLACK_FIELD)})
}

/// Slack Block Kit message: header, fields, reason, context and (with a console URL) a button.
pub fn slack_message(approval: &Approval, options: &NotifyOptions) -> Value {
    let facts = Facts::of(approval, options);
    let title = single_line(&headline(approval, options));
    let fields: Vec<Value> = facts
        .pairs()
        .iter()
        .take(limits::SLACK_FIELDS)
        .map(|(label, value)| slack_field(label, &single_line(value)))
        .collect();
    let reason_prefix = "*Reason:*\n";
    let reason = slack_escape(&truncate(
        &facts.reason,
        limits::SLACK_SECTION
            .saturating_sub(reason_prefix.len())
            .saturating_sub(200),
    ));
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&title, limits::SLACK_HEADER), "emoji": false}}),
        json!({"type": "section", "fields": fields}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&format!("{reason_prefix}{reason}"), limits::SLACK_SECTION)}}),
        json!({"type": "context", "elements": [
            {"type": "mrkdwn", "text": truncate(&format!("CAVRA approval `{}` · decision `{}`", slack_escape(&facts.approval_id), slack_escape(&single_line(&facts.decision_id))), limits::SLACK_FIELD)}
        ]}),
    ];
    if let Some(link) = facts
        .link
        .as_ref()
        .filter(|l| l.chars().count() <= limits::SLACK_BUTTON_URL)
    {
        blocks.push(json!({"type": "actions", "elements": [
            {"type": "button", "action_id": "cavra_open_console", "text": {"type": "plain_text", "text": CONSOLE_LABEL}, "url": link}
        ]}));
    }
    // The top-level `text` (the notification line) is mrkdwn too.
    json!({"text": truncate(&slack_escape(&title), limits::SLACK_TEXT), "blocks": blocks})
}

/// Teams Workflows webhook message carrying an Adaptive Card (1.4): title, facts, reason and
/// (with a console URL) an `Action.OpenUrl`.
pub fn teams_message(approval: &Approval, options: &NotifyOptions) -> Value {
    let facts = Facts::of(approval, options);
    let color = match approval.state {
        ApprovalState::Pending => "Warning",
        ApprovalState::Approved | ApprovalState::Consumed => "Good",
        ApprovalState::Denied | ApprovalState::Expired | ApprovalState::BreakGlass => "Attention",
    };
    let fact_set: Vec<Value> = facts
        .pairs()
        .iter()
        .map(|(label, value)| json!({"title": label, "value": truncate(&teams_escape(value), limits::TEAMS_FACT)}))
        .collect();
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": [
            {"type": "TextBlock", "text": truncate(&teams_escape(&headline(approval, options)), limits::TEAMS_FACT), "weight": "Bolder", "size": "Medium", "color": color, "wrap": true},
            {"type": "FactSet", "facts": fact_set},
            {"type": "TextBlock", "text": "Reason", "weight": "Bolder", "wrap": true},
            {"type": "TextBlock", "text": truncate(&teams_escape(&facts.reason), limits::TEAMS_TEXT), "wrap": true},
            {"type": "TextBlock", "text": format!("Approval {} · decision {}", teams_escape(&facts.approval_id), truncate(&teams_escape(&facts.decision_id), limits::TEAMS_FACT)), "isSubtle": true, "size": "Small", "wrap": true}
        ]
    });
    if let Some(link) = &facts.link {
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": CONSOLE_LABEL, "url": link}]);
    }
    json!({
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card}]
    })
}

fn adf_text(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

fn adf_strong(text: &str) -> Value {
    json!({"type": "text", "text": text, "marks": [{"type": "strong"}]})
}

/// Jira Cloud v3 create-issue body: project and issue type from the config, one-line summary,
/// labels, and the description in Atlassian Document Format.
pub fn jira_issue(approval: &Approval, options: &NotifyOptions) -> Value {
    let facts = Facts::of(approval, options);
    let items: Vec<Value> = facts
        .pairs()
        .iter()
        .map(|(label, value)| {
            json!({"type": "listItem", "content": [{"type": "paragraph", "content": [
                adf_strong(&format!("{label}: ")),
                adf_text(&truncate(value, limits::JIRA_VALUE)),
            ]}]})
        })
        .collect();
    let mut content = vec![
        json!({"type": "paragraph", "content": [adf_text(&truncate(&headline(approval, options), limits::JIRA_VALUE))]}),
        json!({"type": "bulletList", "content": items}),
        json!({"type": "paragraph", "content": [adf_strong("Reason: "), adf_text(&truncate(&facts.reason, limits::JIRA_REASON))]}),
        json!({"type": "paragraph", "content": [
            adf_text(&format!("Approval {} · decision {}", facts.approval_id, truncate(&facts.decision_id, limits::JIRA_VALUE)))
        ]}),
    ];
    if let Some(link) = &facts.link {
        content.push(json!({"type": "paragraph", "content": [
            {"type": "text", "text": CONSOLE_LABEL, "marks": [{"type": "link", "attrs": {"href": link}}]}
        ]}));
    }
    let label = |text: &str| truncate(&text.replace(char::is_whitespace, "_"), limits::JIRA_LABEL);
    json!({"fields": {
        "project": {"key": options.jira_project_key},
        "issuetype": {"name": options.jira_issue_type},
        "summary": truncate(&single_line(&headline(approval, options)), limits::JIRA_SUMMARY),
        "description": {"type": "doc", "version": 1, "content": content},
        "labels": ["cavra", "ai-agent-approval", label(approval.state.as_str())],
    }})
}

/// ServiceNow Table API record: short and long description, assignment group, correlation.
pub fn servicenow_record(approval: &Approval, options: &NotifyOptions) -> Value {
    let facts = Facts::of(approval, options);
    let mut description = format!(
        "{}\nApproval: {}\nDecision: {}\n",
        headline(approval, options),
        facts.approval_id,
        facts.decision_id
    );
    for (label, value) in facts.pairs() {
        let _ = writeln!(description, "{label}: {}", truncate(value, 500));
    }
    if let Some(link) = &facts.link {
        let _ = writeln!(description, "Console: {link}");
    }
    let _ = write!(description, "Reason: {}", facts.reason);
    let correlation = approval
        .correlation_id
        .clone()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| approval.approval_id.clone());
    json!({
        "short_description": truncate(&servicenow_escape(&single_line(&headline(approval, options))), limits::SERVICENOW_SHORT_DESCRIPTION),
        "description": truncate(&servicenow_escape(&description), limits::SERVICENOW_DESCRIPTION),
        // An escalation assigns the ticket to the group it escalated to.
        "assignment_group": truncate(
            match options.event {
                Some(NotifyEvent::Escalated) => approval
                    .escalated_groups()
                    .first()
                    .copied()
                    .unwrap_or(&approval.approver_group),
                _ => &approval.approver_group,
            },
            limits::SERVICENOW_GROUP,
        ),
        "correlation_id": truncate(&correlation, limits::SERVICENOW_CORRELATION),
        "correlation_display": PRODUCT,
    })
}

/// The `cavra.approval.notification.v1` envelope with the full record (original §8.1), plus
/// `console_url` when a console is configured.
pub fn webhook_envelope(approval: &Approval, options: &NotifyOptions) -> Value {
    let mut envelope = json!({
        "schema_version": NOTIFICATION_SCHEMA,
        "product": PRODUCT,
        "event_type": match options.event {
            Some(event @ (NotifyEvent::Reminded | NotifyEvent::Escalated)) => {
                format!("cavra.approval.{event}")
            }
            _ => format!("cavra.approval.{}", approval.state),
        },
        "timestamp": options.generated_at.to_string(),
        "payload": approval.to_sorted_value(),
    });
    if let Some(base) = &options.console_url {
        envelope["console_url"] = json!(console_link(base, &approval.approval_id));
    }
    envelope
}

/// The CloudEvents `type` prefix of webhook events in CloudEvents mode.
pub const CLOUDEVENT_TYPE_PREFIX: &str = "dev.cavra.approval.";
/// The CloudEvents `source` of every event.
pub const CLOUDEVENT_SOURCE: &str = "/cavra/approvals";
/// The media type of a structured-mode CloudEvent.
pub const CLOUDEVENT_CONTENT_TYPE: &str = "application/cloudevents+json";

/// The webhook payload as a CloudEvents 1.0 event in structured mode (issue G §6): `type`
/// `dev.cavra.approval.<event>` (the automatic notification's event, else the one the
/// record's state announces), `subject` the approval id, `data` the full record. `id` is the
/// approval id with its history head and the event, so a retried delivery of the same change
/// keeps its id (receivers deduplicate on `source` + `id`) and every change gets a new one.
pub fn cloud_event(approval: &Approval, options: &NotifyOptions) -> Value {
    let event = options
        .event
        .unwrap_or_else(|| NotifyEvent::for_state(approval.state));
    let head: String = approval
        .history
        .last()
        .and_then(|e| e.hash.as_deref())
        .unwrap_or_default()
        .chars()
        .take(16)
        .collect();
    let mut envelope = json!({
        "specversion": "1.0",
        "id": format!("{}.{head}.{event}", approval.approval_id),
        "source": CLOUDEVENT_SOURCE,
        "type": format!("{CLOUDEVENT_TYPE_PREFIX}{event}"),
        "subject": approval.approval_id,
        "time": options.generated_at.to_string(),
        "datacontenttype": "application/json",
        "data": approval.to_sorted_value(),
    });
    if let Some(base) = &options.console_url {
        envelope["cavraconsoleurl"] = json!(console_link(base, &approval.approval_id));
    }
    sort_value(envelope)
}

/// The payload for `provider`, with keys sorted.
pub fn payload(provider: Provider, approval: &Approval, options: &NotifyOptions) -> Value {
    sort_value(match provider {
        Provider::Jira => jira_issue(approval, options),
        Provider::Servicenow => servicenow_record(approval, options),
        Provider::Slack => slack_message(approval, options),
        Provider::Teams => teams_message(approval, options),
        Provider::Webhook => webhook_envelope(approval, options),
    })
}

/// A credential-free HTTP request description (original §8.2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestSpec {
    /// Always `POST`.
    pub method: String,
    /// A placeholder URL.
    pub url: String,
    /// Lower-case header names; `${…}` values are literal placeholders.
    pub headers: BTreeMap<String, String>,
    /// The payload.
    pub body: Value,
}

/// The placeholder URL of `provider`'s request spec.
pub fn placeholder_url(provider: Provider, options: &NotifyOptions) -> String {
    match provider {
        Provider::Slack => "https://hooks.slack.com/services/REPLACE_ME".to_owned(),
        Provider::Teams => {
            "https://prod-00.westus.logic.azure.com/workflows/REPLACE_ME/triggers/manual/paths/invoke"
                .to_owned()
        }
        Provider::Jira => "https://jira.example/rest/api/3/issue".to_owned(),
        Provider::Servicenow => format!(
            "https://instance.service-now.com/api/now/table/{}",
            options.servicenow_table
        ),
        Provider::Webhook => "https://approval-webhook.example/cavra".to_owned(),
    }
}

/// The request spec for `provider` (original §8.2; Teams points at a Workflows URL now).
pub fn request_spec(
    provider: Provider,
    approval: &Approval,
    options: &NotifyOptions,
) -> RequestSpec {
    let mut headers = BTreeMap::from([("content-type".to_owned(), "application/json".to_owned())]);
    match provider {
        Provider::Jira => {
            headers.insert("authorization".into(), "Bearer ${JIRA_TOKEN}".into());
        }
        Provider::Servicenow => {
            headers.insert("authorization".into(), "Bearer ${SERVICENOW_TOKEN}".into());
        }
        Provider::Slack | Provider::Teams | Provider::Webhook => {}
    }
    RequestSpec {
        method: "POST".to_owned(),
        url: placeholder_url(provider, options),
        headers,
        body: payload(provider, approval, options),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_short_text_and_cuts_long_text_with_an_ellipsis_within_the_limit() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("ééééé", 4).chars().count(), 4);
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn teams_markdown_in_agent_text_is_escaped() {
        assert_eq!(
            teams_escape("[click](https://evil.example) **now** _x_ ![i](u) # h"),
            "\\[click\\]\\(https://evil.example\\) \\*\\*now\\*\\* \\_x\\_ \\!\\[i\\]\\(u\\) \\# h"
        );
        assert_eq!(teams_escape("plain text, 1.2"), "plain text, 1.2");
    }

    #[test]
    fn servicenow_code_tags_are_defused_in_any_case() {
        assert_eq!(
            servicenow_escape("a [code]<img src=x>[/code] [CoDe] [link]"),
            "a (code]<img src=x>(/code] (CoDe] [link]"
        );
        assert_eq!(servicenow_escape("İ [code]"), "İ (code]");
    }

    #[test]
    fn slack_markup_in_values_is_escaped() {
        assert_eq!(
            slack_escape("<https://evil|click> & <!channel>"),
            "&lt;https://evil|click&gt; &amp; &lt;!channel&gt;"
        );
    }

    #[test]
    fn provider_and_event_names_round_trip_and_all_selects_every_provider_sorted() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>().unwrap(), p);
        }
        for e in NotifyEvent::ALL {
            assert_eq!(e.as_str().parse::<NotifyEvent>().unwrap(), e);
        }
        let all = select_providers("all").unwrap();
        let mut sorted = all.clone();
        sorted.sort_by_key(|p| p.as_str());
        assert_eq!(all, sorted);
        assert_eq!(select_providers("email"), None);
        assert_eq!(select_providers("jira"), Some(vec![Provider::Jira]));
    }

    #[test]
    fn the_console_link_ignores_a_trailing_slash() {
        assert_eq!(
            console_link("https://console.example/", "apr_0123456789ab"),
            "https://console.example/approvals/apr_0123456789ab"
        );
    }
}

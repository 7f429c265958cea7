//! Notification payloads: snapshots of each provider's payload, the providers' documented
//! limits and required fields (for ordinary and for hostile, oversized records), and the
//! request specs of original §13 case 18.

use cavra_core::approval::{Approval, ApprovalState};
use cavra_core::decision::Decision;
use cavra_core::ids::ApprovalId;
use cavra_core::notify::{
    self, NOTIFICATION_SCHEMA, NotifyOptions, Provider, limits, payload, request_spec,
};
use cavra_core::routing::RoutingTable;
use cavra_core::time::Timestamp;
use cavra_core::workflow::{DecideInput, DecideOutcome, NewRequest, create_request, decide};
use proptest::prelude::*;
use serde_json::{Value, json};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn decision(target: &str, reason: &str, decision_id: &str) -> Decision {
    Decision::from_value(json!({
        "decision_id": decision_id, "session_id": "local", "agent_id": "unknown-agent", "actor": "ai-agent",
        "action_type": "write_file", "target": target, "requested_operation": "write",
        "policy_pack": "cavra-ai-agent-baseline", "policy_id": "cavra-ai-agent-baseline",
        "rule_id": "filesystem.write.require_approval", "decision": "require_approval", "severity": "high",
        "reason": reason, "evidence_refs": [format!("evidence://local/{decision_id}")],
        "approver_group": "Platform Security", "timestamp": "2026-05-18T12:34:56.789012+00:00",
        "correlation_id": "corr_8b2d0e6a1f47"
    }))
    .unwrap()
}

fn pending(decision: Decision, group: Option<&str>) -> Approval {
    let request = NewRequest {
        rationale: None,
        requested_by: Some("developer".into()),
        ..NewRequest::new(decision)
    };
    let id = ApprovalId::from_hex12("5c0e1d9b2a77").unwrap();
    // The group comes from a routing rule (routing is authoritative; a caller-supplied group
    // is checked and only added), so any text a routing file may hold reaches the payloads.
    let routing = match group {
        Some(group) => RoutingTable::new(vec![cavra_core::routing::RoutingRule {
            approver_group: group.to_owned(),
            ..Default::default()
        }]),
        None => RoutingTable::default(),
    };
    create_request(request, &routing, &id, at("2026-05-18T12:35:00+00:00")).unwrap()
}

fn iam_pending() -> Approval {
    pending(
        decision(
            "iam/admin-role.tf",
            "Matched approval-required path policy: iam/**",
            "dec_3f9a1c2b7d4e",
        ),
        None,
    )
}

fn approved(record: &Approval) -> Approval {
    let input = DecideInput {
        target: ApprovalState::Approved,
        actor: "platform-security".into(),
        reason: "Scoped IAM change reviewed".into(),
        external_ref: Some("CHG-100".into()),
        context: None,
    };
    match decide(record, &input, None, at("2026-05-18T13:00:00+00:00")).unwrap() {
        DecideOutcome::Changed(next) => next,
        DecideOutcome::ExpiredInstead(_) => panic!("not overdue"),
    }
}

fn options(console: bool) -> NotifyOptions {
    NotifyOptions::new(at("2026-05-18T13:00:01+00:00")).with_console_url(if console {
        Some("https://console.cavra.example/")
    } else {
        None
    })
}

/// The payload as pretty JSON text. (Snapshots take the text: with serde_json's
/// `arbitrary_precision`, insta's own serializer would show numbers as private structs.)
fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap()
}

#[test]
fn each_provider_payload_for_a_pending_request_with_a_console_link() {
    let record = iam_pending();
    for provider in Provider::ALL {
        insta::assert_snapshot!(
            format!("pending_{provider}"),
            pretty(&payload(provider, &record, &options(true)))
        );
    }
}

#[test]
fn each_provider_payload_for_an_approved_request_without_a_console() {
    let record = approved(&iam_pending());
    for provider in [
        Provider::Jira,
        Provider::Servicenow,
        Provider::Slack,
        Provider::Teams,
    ] {
        insta::assert_snapshot!(
            format!("approved_{provider}"),
            pretty(&payload(provider, &record, &options(false)))
        );
    }
}

#[test]
fn given_a_pending_request_the_titles_carry_state_and_decision_and_the_webhook_carries_the_record()
{
    let record = iam_pending();
    let opts = options(false);
    let slack = payload(Provider::Slack, &record, &opts);
    assert_eq!(slack["text"], "CAVRA approval pending for dec_3f9a1c2b7d4e");
    let webhook = payload(Provider::Webhook, &record, &opts);
    assert_eq!(webhook["schema_version"], NOTIFICATION_SCHEMA);
    assert_eq!(webhook["product"], "CAVRA");
    assert_eq!(webhook["event_type"], "cavra.approval.pending");
    assert_eq!(webhook["timestamp"], "2026-05-18T13:00:01.000000+00:00");
    assert_eq!(webhook["payload"], record.to_sorted_value());
    assert!(webhook.get("console_url").is_none());
}

#[test]
fn case_18_request_specs_have_placeholders_and_the_payload_as_body() {
    let record = iam_pending();
    let opts = options(false);
    let jira = request_spec(Provider::Jira, &record, &opts);
    assert_eq!(jira.method, "POST");
    assert!(jira.headers["authorization"].contains("${JIRA_TOKEN}"));
    let slack = request_spec(Provider::Slack, &record, &opts);
    assert!(
        slack.body["text"]
            .as_str()
            .unwrap()
            .starts_with("CAVRA approval")
    );
    assert_eq!(slack.url, "https://hooks.slack.com/services/REPLACE_ME");
    let now = request_spec(Provider::Servicenow, &record, &opts);
    assert_eq!(
        now.url,
        "https://instance.service-now.com/api/now/table/change_request"
    );
    assert!(now.headers["authorization"].contains("${SERVICENOW_TOKEN}"));
    for provider in Provider::ALL {
        let spec = request_spec(provider, &record, &opts);
        assert_eq!(spec.headers["content-type"], "application/json");
        assert_eq!(spec.body, payload(provider, &record, &opts));
    }
}

// ---- documented limits and required fields -------------------------------------------------

fn chars(value: &Value) -> usize {
    value.as_str().expect("a string").chars().count()
}

fn non_empty_within(value: &Value, max: usize, what: &str) {
    let n = chars(value);
    assert!(n >= 1, "{what} is empty");
    assert!(n <= max, "{what} has {n} characters, limit {max}");
}

fn check_slack(message: &Value) {
    non_empty_within(&message["text"], limits::SLACK_TEXT, "slack text");
    let blocks = message["blocks"].as_array().expect("blocks");
    assert!(!blocks.is_empty() && blocks.len() <= limits::SLACK_BLOCKS);
    for block in blocks {
        match block["type"].as_str().unwrap() {
            "header" => {
                assert_eq!(block["text"]["type"], "plain_text");
                non_empty_within(&block["text"]["text"], limits::SLACK_HEADER, "header");
            }
            "section" => {
                if let Some(fields) = block.get("fields") {
                    let fields = fields.as_array().unwrap();
                    assert!(!fields.is_empty() && fields.len() <= limits::SLACK_FIELDS);
                    for field in fields {
                        assert_eq!(field["type"], "mrkdwn");
                        non_empty_within(&field["text"], limits::SLACK_FIELD, "field");
                    }
                } else {
                    non_empty_within(&block["text"]["text"], limits::SLACK_SECTION, "section");
                }
            }
            "context" => {
                let elements = block["elements"].as_array().unwrap();
                assert!(!elements.is_empty() && elements.len() <= limits::SLACK_CONTEXT_ELEMENTS);
                for e in elements {
                    non_empty_within(&e["text"], limits::SLACK_FIELD, "context");
                }
            }
            "actions" => {
                for button in block["elements"].as_array().unwrap() {
                    assert_eq!(button["type"], "button");
                    non_empty_within(
                        &button["text"]["text"],
                        limits::SLACK_BUTTON_TEXT,
                        "button text",
                    );
                    non_empty_within(&button["url"], limits::SLACK_BUTTON_URL, "button url");
                }
            }
            other => panic!("unexpected block {other}"),
        }
    }
}

fn check_teams(message: &Value) {
    assert_eq!(message["type"], "message");
    let attachments = message["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(
        attachments[0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &attachments[0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    let body = card["body"].as_array().unwrap();
    assert!(!body.is_empty());
    for element in body {
        match element["type"].as_str().unwrap() {
            "TextBlock" => assert!(chars(&element["text"]) >= 1),
            "FactSet" => {
                for fact in element["facts"].as_array().unwrap() {
                    assert!(chars(&fact["title"]) >= 1 && chars(&fact["value"]) >= 1);
                }
            }
            other => panic!("unexpected element {other}"),
        }
    }
    let size = serde_json::to_vec(message).unwrap().len();
    assert!(
        size <= limits::TEAMS_MESSAGE_BYTES,
        "teams message is {size} bytes"
    );
}

fn adf_text_len(node: &Value) -> usize {
    let own = match node.get("text") {
        Some(text) => {
            assert!(chars(text) >= 1, "ADF text nodes must not be empty");
            chars(text)
        }
        None => 0,
    };
    own + node
        .get("content")
        .and_then(Value::as_array)
        .map_or(0, |c| c.iter().map(adf_text_len).sum())
}

fn check_jira(issue: &Value, project: &str, issue_type: &str) {
    let fields = &issue["fields"];
    assert_eq!(fields["project"]["key"], project);
    assert_eq!(fields["issuetype"]["name"], issue_type);
    non_empty_within(&fields["summary"], limits::JIRA_SUMMARY, "summary");
    assert!(!fields["summary"].as_str().unwrap().contains(['\n', '\r']));
    let description = &fields["description"];
    assert_eq!(description["type"], "doc");
    assert_eq!(description["version"], 1);
    assert!(!description["content"].as_array().unwrap().is_empty());
    assert!(adf_text_len(description) <= limits::JIRA_DESCRIPTION);
    for label in fields["labels"].as_array().unwrap() {
        non_empty_within(label, limits::JIRA_LABEL, "label");
        assert!(!label.as_str().unwrap().contains(char::is_whitespace));
    }
}

fn check_servicenow(record: &Value) {
    non_empty_within(
        &record["short_description"],
        limits::SERVICENOW_SHORT_DESCRIPTION,
        "short_description",
    );
    non_empty_within(
        &record["description"],
        limits::SERVICENOW_DESCRIPTION,
        "description",
    );
    non_empty_within(
        &record["assignment_group"],
        limits::SERVICENOW_GROUP,
        "assignment_group",
    );
    non_empty_within(
        &record["correlation_id"],
        limits::SERVICENOW_CORRELATION,
        "correlation_id",
    );
}

fn check_webhook(envelope: &Value, record: &Approval) {
    assert_eq!(envelope["schema_version"], NOTIFICATION_SCHEMA);
    assert_eq!(
        envelope["event_type"],
        format!("cavra.approval.{}", record.state)
    );
    assert_eq!(envelope["payload"]["approval_id"], record.approval_id);
}

fn check_all(record: &Approval, opts: &NotifyOptions) {
    check_slack(&payload(Provider::Slack, record, opts));
    check_teams(&payload(Provider::Teams, record, opts));
    check_jira(
        &payload(Provider::Jira, record, opts),
        &opts.jira_project_key,
        &opts.jira_issue_type,
    );
    check_servicenow(&payload(Provider::Servicenow, record, opts));
    check_webhook(&payload(Provider::Webhook, record, opts), record);
}

#[test]
fn ordinary_payloads_satisfy_every_providers_limits_and_required_fields() {
    check_all(&iam_pending(), &options(true));
    check_all(&approved(&iam_pending()), &options(false));
}

#[test]
fn oversized_and_hostile_values_are_cut_with_an_ellipsis_never_rejected() {
    let huge_target = format!("iam/{}", "<a|b>&".repeat(5000));
    let huge_reason = "Line one\nline two & <!channel> ".repeat(10_000);
    let long_id = format!("dec_{}", "x".repeat(400));
    let group = format!("Cloud IAM Owners {}", "g".repeat(300));
    let record = pending(decision(&huge_target, &huge_reason, &long_id), Some(&group));
    let mut opts = options(true);
    opts.jira_project_key = "OPS".into();
    opts.jira_issue_type = "Change Request".into();
    check_all(&record, &opts);

    let slack = payload(Provider::Slack, &record, &opts);
    let header = slack["blocks"][0]["text"]["text"].as_str().unwrap();
    assert_eq!(header.chars().count(), limits::SLACK_HEADER);
    assert!(header.ends_with('…'));
    let fields = slack["blocks"][1]["fields"].as_array().unwrap();
    let target = fields
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .find(|t| t.starts_with("*Target:*"))
        .unwrap();
    assert!(
        !target.contains('<'),
        "agent markup must be escaped: {target}"
    );
    let jira = payload(Provider::Jira, &record, &opts);
    assert!(jira["fields"]["summary"].as_str().unwrap().ends_with('…'));
    let now = payload(Provider::Servicenow, &record, &opts);
    assert!(now["description"].as_str().unwrap().ends_with('…'));
}

#[test]
fn an_over_long_console_url_drops_the_slack_button_instead_of_breaking_the_message() {
    let record = iam_pending();
    let long = format!("https://console.example/{}", "p".repeat(4000));
    let opts = NotifyOptions::new(at("2026-05-18T13:00:01+00:00")).with_console_url(Some(&long));
    let slack = payload(Provider::Slack, &record, &opts);
    check_slack(&slack);
    assert!(
        slack["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["type"] != "actions")
    );
}

#[test]
fn a_missing_external_ref_and_reason_render_as_na() {
    let record = pending(decision("iam/x.tf", "", "dec_1"), None);
    let slack = payload(Provider::Slack, &record, &options(false));
    let texts: Vec<&str> = slack["blocks"][1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"*External ref:* n/a"));
    assert_eq!(slack["blocks"][2]["text"]["text"], "*Reason:*\nn/a");
    check_all(&record, &options(false));
}

#[test]
fn break_glass_titles_and_labels_use_the_state_name() {
    let mut record = approved(&iam_pending());
    record.state = ApprovalState::BreakGlass;
    let jira = payload(Provider::Jira, &record, &options(false));
    assert_eq!(
        jira["fields"]["labels"],
        json!(["cavra", "ai-agent-approval", "break_glass"])
    );
    assert_eq!(
        notify::title(&record),
        "CAVRA approval break_glass for dec_3f9a1c2b7d4e"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn arbitrary_values_always_fit_every_provider(
        target in "\\PC{0,400}",
        reason in "\\PC{0,5000}",
        id in "[a-z0-9_<>&]{1,300}",
        group in "\\PC{1,200}",
    ) {
        let record = pending(decision(&target, &reason, &id), Some(&group));
        check_all(&record, &options(true));
    }
}

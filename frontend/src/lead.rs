//! The one sentence a request leads with (issue I §5): who wants to do what, where, and what
//! the policy said — blocked, or needs approval — with the severity, the rule's reason, the
//! agent's own rationale and, when the decision carries it, what will run.

use cavra_core::approval::Approval;
use cavra_core::decision::Outcome;

/// What the policy said about the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyVerdict {
    /// `block`: stopped; only a break-glass override lets it through.
    Blocked,
    /// `require_approval`: a human must approve it.
    NeedsApproval,
    /// Anything else, as written.
    Other(String),
}

impl PolicyVerdict {
    /// The words on the badge.
    pub fn label(&self) -> String {
        match self {
            Self::Blocked => "Blocked by policy".to_owned(),
            Self::NeedsApproval => "Needs approval".to_owned(),
            Self::Other(text) => format!("Policy outcome: {text}"),
        }
    }

    /// The badge's CSS class and `data-verdict`.
    pub fn key(&self) -> &'static str {
        match self {
            Self::Blocked => "blocked",
            Self::NeedsApproval => "needs-approval",
            Self::Other(_) => "other",
        }
    }
}

/// A request's lead, in parts (the page sets some of them in code or badges).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lead {
    /// Who asked (for a break-glass record: who declared it).
    pub who: String,
    /// Whether the record is a break-glass override (the sentence says who declared it).
    pub break_glass: bool,
    /// What they want to do ("run", "write", "call an MCP tool on").
    pub verb: String,
    /// On what.
    pub target: String,
    /// Where ("in payments/api", "in session s-42"), when known.
    pub place: Option<String>,
    /// What the policy said.
    pub verdict: PolicyVerdict,
    /// `critical`, `high`, `medium`, `low` (or whatever the decision says).
    pub severity: Option<String>,
    /// The rule that matched.
    pub rule: Option<String>,
    /// The policy's reason text.
    pub policy_reason: Option<String>,
    /// The agent's rationale (untrusted text, shown as text).
    pub rationale: Option<String>,
    /// What will run, when the decision carries the action (issue F).
    pub will_run: Option<String>,
}

fn verb(action_type: Option<&str>) -> String {
    match action_type {
        Some("execute_command") => "run".to_owned(),
        Some("write_file") => "write".to_owned(),
        Some("edit_file") => "edit".to_owned(),
        Some("delete_file") => "delete".to_owned(),
        Some("read_file") => "read".to_owned(),
        Some("mcp_tool_call") => "call an MCP tool on".to_owned(),
        Some("network_request" | "http_request") => "reach".to_owned(),
        Some(other) if !other.trim().is_empty() => format!("{} on", other.replace('_', " ")),
        _ => "act on".to_owned(),
    }
}

/// Which CSS class a severity gets (only known words become classes).
pub fn severity_class(severity: &str) -> &'static str {
    match severity {
        "critical" => "severity severity-critical",
        "high" => "severity severity-high",
        "medium" => "severity severity-medium",
        "low" => "severity severity-low",
        _ => "severity",
    }
}

/// The lead of `record`.
pub fn lead(record: &Approval) -> Lead {
    let decision = &record.decision;
    let text = |key: &str| {
        decision
            .str_field(key)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let verdict = match decision.outcome() {
        Some(Outcome::Block) => PolicyVerdict::Blocked,
        Some(Outcome::RequireApproval) => PolicyVerdict::NeedsApproval,
        _ => PolicyVerdict::Other(text("decision").unwrap_or_else(|| "not stated".to_owned())),
    };
    let place = record
        .rbac_repository()
        .map(|repo| format!("in {repo}"))
        .or_else(|| {
            (record.session_id != "local").then(|| format!("in session {}", record.session_id))
        });
    let will_run = decision
        .as_map()
        .get("action")
        .is_some()
        .then(|| cavra_core::notify::will_run(decision));
    Lead {
        who: record.requested_by.clone(),
        break_glass: record.break_glass == Some(true),
        verb: verb(decision.str_field("action_type")),
        target: text("target").unwrap_or_else(|| record.decision_id.clone()),
        place,
        verdict,
        severity: text("severity"),
        rule: text("rule_id"),
        policy_reason: text("reason"),
        rationale: record.rationale.clone(),
        will_run,
    }
}

impl Lead {
    /// "wants to", or for an override "declared break-glass to".
    pub fn intent(&self) -> &'static str {
        if self.break_glass {
            "declared break-glass to"
        } else {
            "wants to"
        }
    }

    /// "developer wants to run terraform apply in payments/api."
    pub fn sentence(&self) -> String {
        let place = self
            .place
            .as_ref()
            .map_or_else(String::new, |p| format!(" {p}"));
        format!(
            "{} {} {} {}{place}.",
            self.who,
            self.intent(),
            self.verb,
            self.target
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::record;
    use cavra_core::approval::ApprovalState;
    use serde_json::{Value, json};

    /// A pending test record whose decision has `fields` set.
    fn with_decision(id: &str, fields: &Value) -> Approval {
        let mut r = record(id, ApprovalState::Pending);
        let mut decision = r.decision.as_map().clone();
        for (key, value) in fields.as_object().into_iter().flatten() {
            decision.insert(key.clone(), value.clone());
        }
        r.decision = cavra_core::decision::Decision::from_map(decision);
        r
    }

    #[test]
    fn given_a_blocked_command_then_the_lead_says_who_runs_what_where_and_that_it_is_blocked() {
        let mut r = with_decision(
            "apr_000000000001",
            &json!({"action_type": "execute_command", "target": "terraform apply -auto-approve",
                    "decision": "block", "severity": "critical", "repository": "payments/api"}),
        );
        r.rationale = Some("Hotfix for INC-7".into());
        let lead = lead(&r);
        assert_eq!(
            lead.sentence(),
            "developer wants to run terraform apply -auto-approve in payments/api."
        );
        assert_eq!(lead.verdict, PolicyVerdict::Blocked);
        assert_eq!(lead.verdict.label(), "Blocked by policy");
        assert_eq!(lead.severity.as_deref(), Some("critical"));
        assert_eq!(lead.rationale.as_deref(), Some("Hotfix for INC-7"));
        assert_eq!(
            lead.will_run, None,
            "no action object: nothing more to show"
        );
        r.break_glass = Some(true);
        r.requested_by = "cab@example.com".into();
        assert_eq!(
            super::lead(&r).sentence(),
            "cab@example.com declared break-glass to run terraform apply -auto-approve in payments/api."
        );
    }

    #[test]
    fn given_a_decision_carrying_its_action_then_the_lead_says_what_will_run() {
        let r = with_decision(
            "apr_000000000003",
            &json!({"action_type": "execute_command", "target": "terraform apply plan.out",
                    "action": {"command": "terraform apply plan.out", "plan_summary": "2 to add, 0 to destroy"}}),
        );
        assert_eq!(
            lead(&r).will_run.as_deref(),
            Some("run terraform apply plan.out; plan: 2 to add, 0 to destroy")
        );
    }

    #[test]
    fn given_an_approval_required_write_then_it_needs_approval_and_unknown_severities_get_no_class()
    {
        let r = record("apr_000000000002", ApprovalState::Pending);
        let lead = lead(&r);
        assert_eq!(
            lead.sentence(),
            "developer wants to write iam/admin-role.tf."
        );
        assert_eq!(lead.verdict, PolicyVerdict::NeedsApproval);
        assert_eq!(severity_class("high"), "severity severity-high");
        assert_eq!(severity_class("x\" onclick=\"y"), "severity");
    }
}

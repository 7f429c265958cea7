//! The two forms that change something, checked before anything is sent (the server checks
//! again and its answer is what counts), and the JSON bodies they send.

use cavra_core::approval::CHANGE_ADVISORY_BOARD;
use cavra_core::workflow::DEFAULT_BREAK_GLASS_TTL_HOURS;
use serde_json::{Map, Value, json};

/// A field the user must correct, with the message shown next to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's `id` (and form key).
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

fn required(field: &'static str, value: &str, message: &str, errors: &mut Vec<FieldError>) {
    if value.trim().is_empty() {
        errors.push(FieldError {
            field,
            message: message.to_owned(),
        });
    }
}

fn optional(value: &str) -> Option<String> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Adds `actor` to a body when the session declared a name and has no token: without OIDC the
/// server records it as an unverified actor; with a token the server uses the token's identity.
fn declare_actor(body: &mut Map<String, Value>, declared_actor: Option<&str>) {
    if let Some(actor) = declared_actor.and_then(optional) {
        body.insert("actor".into(), Value::String(actor));
    }
}

/// The approve / deny / expire dialog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecisionForm {
    /// Why (required).
    pub reason: String,
    /// Ticket or change number (optional).
    pub external_ref: String,
}

impl DecisionForm {
    /// The body for `POST /approvals/{id}/{verdict}`.
    ///
    /// # Errors
    /// The reason is empty.
    pub fn body(&self, declared_actor: Option<&str>) -> Result<Value, Vec<FieldError>> {
        let mut errors = Vec::new();
        required(
            "decision-reason",
            &self.reason,
            "A reason is required: say why you decide this way.",
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut body = Map::new();
        body.insert(
            "reason".into(),
            Value::String(self.reason.trim().to_owned()),
        );
        if let Some(reference) = optional(&self.external_ref) {
            body.insert("external_ref".into(), Value::String(reference));
        }
        declare_actor(&mut body, declared_actor);
        Ok(Value::Object(body))
    }
}

/// The break-glass form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlassForm {
    /// What the override is for (a command or path).
    pub target: String,
    /// The rule that blocked it.
    pub rule_id: String,
    /// The group the override is recorded for.
    pub approver_group: String,
    /// Why the override is needed (the evidence the server demands).
    pub reason: String,
    /// Incident number.
    pub external_ref: String,
    /// Lifetime in hours, as typed.
    pub ttl_hours: String,
    /// The blocked request the override starts from (its rule and target are the form's,
    /// read-only; the server checks they are the request's and closes it).
    pub blocked: Option<String>,
}

impl Default for BreakGlassForm {
    fn default() -> Self {
        Self {
            target: String::new(),
            rule_id: "commands.block".to_owned(),
            approver_group: CHANGE_ADVISORY_BOARD.to_owned(),
            reason: String::new(),
            external_ref: String::new(),
            ttl_hours: DEFAULT_BREAK_GLASS_TTL_HOURS.to_string(),
            blocked: None,
        }
    }
}

/// Longest break-glass lifetime the console offers (a week); the server has no upper bound.
pub const MAX_BREAK_GLASS_TTL_HOURS: i64 = 168;

impl BreakGlassForm {
    /// Every problem with the form, in field order; empty when it can be sent.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        required(
            "bg-target",
            &self.target,
            "Target is required.",
            &mut errors,
        );
        required("bg-rule", &self.rule_id, "Rule is required.", &mut errors);
        required(
            "bg-group",
            &self.approver_group,
            "Approver group is required.",
            &mut errors,
        );
        required(
            "bg-reason",
            &self.reason,
            "A reason is required: break-glass must say why.",
            &mut errors,
        );
        match self.ttl_hours.trim().parse::<i64>() {
            Ok(hours) if (1..=MAX_BREAK_GLASS_TTL_HOURS).contains(&hours) => {}
            _ => errors.push(FieldError {
                field: "bg-ttl",
                message: format!(
                    "TTL must be a whole number of hours from 1 to {MAX_BREAK_GLASS_TTL_HOURS}."
                ),
            }),
        }
        errors
    }

    /// The body for `POST /approvals/break-glass`: a blocked decision for the target, as the
    /// console declares it, with the override's reason, group, reference and lifetime.
    /// `now_ms` makes the decision id and evidence ref unique.
    ///
    /// # Errors
    /// [`Self::validate`] found problems.
    pub fn body(
        &self,
        now_ms: i64,
        declared_actor: Option<&str>,
    ) -> Result<Value, Vec<FieldError>> {
        let errors = self.validate();
        if !errors.is_empty() {
            return Err(errors);
        }
        let ttl: i64 = self.ttl_hours.trim().parse().unwrap_or(1);
        let decision = if self.blocked.is_some() {
            // The server takes the request's own decision; these two are what the user saw,
            // and it refuses them unless they are the request's.
            json!({"rule_id": self.rule_id.trim(), "target": self.target.trim()})
        } else {
            json!({
            "decision_id": format!("dec_console_{now_ms}"),
            "session_id": "console-break-glass",
            "action_type": "execute_command",
            "target": self.target.trim(),
            "requested_operation": self.target.trim(),
            "rule_id": self.rule_id.trim(),
            "decision": "block",
            "severity": "critical",
            "reason": "Emergency override requested from console.",
            "evidence_refs": [format!("console://break-glass/{now_ms}")],
            })
        };
        let mut body = Map::new();
        body.insert("decision".into(), decision);
        if let Some(blocked) = &self.blocked {
            body.insert("blocked_approval_id".into(), Value::String(blocked.clone()));
        }
        body.insert(
            "reason".into(),
            Value::String(self.reason.trim().to_owned()),
        );
        body.insert(
            "approver_group".into(),
            Value::String(self.approver_group.trim().to_owned()),
        );
        if let Some(reference) = optional(&self.external_ref) {
            body.insert("external_ref".into(), Value::String(reference));
        }
        body.insert("ttl_hours".into(), Value::from(ttl));
        declare_actor(&mut body, declared_actor);
        Ok(Value::Object(body))
    }
}

/// The message for `field`, if it has one.
pub fn error_for<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| e.message.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_no_reason_when_deciding_then_nothing_is_sent_and_the_reason_field_says_why() {
        let form = DecisionForm {
            reason: "   ".into(),
            external_ref: "CHG-1".into(),
        };
        let errors = form.body(None).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(
            error_for(&errors, "decision-reason")
                .unwrap()
                .contains("reason is required")
        );
    }

    #[test]
    fn decision_bodies_carry_the_trimmed_reason_and_only_a_given_reference() {
        let form = DecisionForm {
            reason: " Scoped IAM change reviewed ".into(),
            external_ref: String::new(),
        };
        assert_eq!(
            form.body(None).unwrap(),
            json!({"reason": "Scoped IAM change reviewed"})
        );
        let with_ref = DecisionForm {
            external_ref: "CHG-123".into(),
            ..form
        };
        assert_eq!(
            with_ref.body(Some("platform-security")).unwrap(),
            json!({"reason": "Scoped IAM change reviewed", "external_ref": "CHG-123", "actor": "platform-security"})
        );
    }

    #[test]
    fn the_break_glass_form_starts_with_the_original_defaults() {
        let form = BreakGlassForm::default();
        assert_eq!(form.rule_id, "commands.block");
        assert_eq!(form.approver_group, "Change Advisory Board");
        assert_eq!(form.ttl_hours, "4");
    }

    #[test]
    fn given_an_empty_break_glass_form_then_every_mandatory_field_is_reported() {
        let form = BreakGlassForm {
            rule_id: String::new(),
            approver_group: " ".into(),
            ttl_hours: "0".into(),
            ..BreakGlassForm::default()
        };
        let fields: Vec<&str> = form.validate().iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["bg-target", "bg-rule", "bg-group", "bg-reason", "bg-ttl"]
        );
        assert!(form.body(1, None).is_err());
        for bad in ["", "four", "2.5", "169", "-1"] {
            let form = BreakGlassForm {
                ttl_hours: bad.into(),
                ..filled()
            };
            assert_eq!(form.validate().len(), 1, "{bad:?} should be refused");
        }
    }

    #[test]
    fn an_override_of_a_blocked_request_names_it_and_sends_only_the_rule_and_target_seen() {
        let form = BreakGlassForm {
            blocked: Some("apr_0123456789ab".into()),
            rule_id: "commands.block".into(),
            ..filled()
        };
        let body = form.body(1, None).unwrap();
        assert_eq!(body["blocked_approval_id"], "apr_0123456789ab");
        assert_eq!(
            body["decision"],
            json!({"rule_id": "commands.block", "target": "terraform apply -auto-approve"})
        );
    }

    fn filled() -> BreakGlassForm {
        BreakGlassForm {
            target: "terraform apply -auto-approve".into(),
            reason: "Production recovery".into(),
            external_ref: "INC-777".into(),
            ..BreakGlassForm::default()
        }
    }

    #[test]
    fn a_complete_break_glass_form_sends_a_blocked_decision_the_server_accepts() {
        let body = filled().body(1_700_000_000_123, None).unwrap();
        assert_eq!(body["decision"]["decision"], "block");
        assert_eq!(body["decision"]["decision_id"], "dec_console_1700000000123");
        assert_eq!(body["decision"]["target"], "terraform apply -auto-approve");
        assert_eq!(body["decision"]["rule_id"], "commands.block");
        assert_eq!(body["reason"], "Production recovery");
        assert_eq!(body["approver_group"], "Change Advisory Board");
        assert_eq!(body["external_ref"], "INC-777");
        assert_eq!(body["ttl_hours"], 4);
        assert!(
            body.get("actor").is_none(),
            "the actor comes from the session's token"
        );
        let decision =
            cavra_core::decision::Decision::from_value(body["decision"].clone()).unwrap();
        assert!(
            decision
                .outcome()
                .is_some_and(cavra_core::decision::Outcome::needs_approval)
        );
    }
}

//! What the audit view works out from a record: quorum progress, whether the decision digest
//! still matches the embedded decision, the history chain's verification (recomputed here with
//! the same `cavra-core` code the server uses), and readable lines for delivery evidence.

use cavra_core::approval::{Approval, ApprovalState, HistoryEntry, IdentityKind};
use cavra_core::decision::Decision;
use serde_json::Value;

/// How far a request is from its quorum (CONTRACT §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumProgress {
    /// Distinct approvals recorded.
    pub approvals: usize,
    /// Approvals needed.
    pub required: u32,
    /// Required groups no approval has come from yet.
    pub missing_groups: Vec<String>,
}

impl QuorumProgress {
    /// Reads the record's reviews.
    pub fn of(record: &Approval) -> Self {
        let approvals: Vec<_> = record
            .reviews
            .iter()
            .filter(|r| r.decision == ApprovalState::Approved)
            .collect();
        let missing_groups = record
            .required_groups
            .iter()
            .filter(|group| !approvals.iter().any(|r| r.groups.contains(group)))
            .cloned()
            .collect();
        Self {
            approvals: approvals.len(),
            required: record.required_approvals,
            missing_groups,
        }
    }

    /// `1 of 2 approvals; still needed from: IAM`.
    pub fn text(&self) -> String {
        let noun = if self.required == 1 {
            "approval"
        } else {
            "approvals"
        };
        let mut text = format!("{} of {} {noun}", self.approvals, self.required);
        if !self.missing_groups.is_empty() {
            text.push_str("; still needed from: ");
            text.push_str(&self.missing_groups.join(", "));
        }
        text
    }
}

/// What the agent wants to do: `write_file (write)`, or the action type alone.
pub fn action_text(decision: &Decision) -> String {
    let kind = decision.str_field("action_type").unwrap_or("—");
    match decision.str_field("requested_operation") {
        Some(operation) if !operation.is_empty() => format!("{kind} ({operation})"),
        _ => kind.to_owned(),
    }
}

/// Whether the stored digest is the SHA-256 of the embedded decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestCheck {
    /// It is.
    Matches,
    /// It is not: the decision was changed after the request was made.
    Differs {
        /// The digest of the decision as stored now.
        computed: String,
    },
    /// The record has no digest (written by the original tool).
    Missing,
}

/// Recomputes the decision digest (CONTRACT §5).
pub fn check_digest(record: &Approval) -> DigestCheck {
    let computed = record.decision.digest();
    match &record.decision_digest {
        None => DigestCheck::Missing,
        Some(stored) if *stored == computed => DigestCheck::Matches,
        Some(_) => DigestCheck::Differs { computed },
    }
}

/// The history chain's verification result, in words.
pub fn chain_text(record: &Approval) -> (bool, String) {
    let report = cavra_core::history::verify(&record.history);
    if report.valid {
        let head = report.head.unwrap_or_default();
        (
            true,
            format!(
                "Verified: {} entries, each linked to the previous one; head {}",
                report.entries,
                crate::format::short_hash(&head, 16)
            ),
        )
    } else {
        (
            false,
            format!(
                "Not verified: {}",
                report.error.unwrap_or_else(|| "unknown error".into())
            ),
        )
    }
}

/// How an entry's actor was identified: `OIDC (issuer, subject)` or `unverified`.
pub fn identity_text(entry: &HistoryEntry) -> String {
    match entry.identity {
        Some(IdentityKind::Oidc) => {
            let details: Vec<&str> = [entry.issuer.as_deref(), entry.subject.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            if details.is_empty() {
                "OIDC".to_owned()
            } else {
                format!("OIDC ({})", details.join(", "))
            }
        }
        Some(IdentityKind::Unverified) => "unverified".to_owned(),
        None => "not recorded".to_owned(),
    }
}

/// One line per provider in a `delivered` entry's evidence (`cavra.approval.delivery.v1`).
pub fn delivery_lines(evidence: &Value) -> Vec<String> {
    let Some(deliveries) = evidence.get("deliveries").and_then(Value::as_array) else {
        return vec!["evidence without deliveries".to_owned()];
    };
    if deliveries.is_empty() {
        return vec!["no provider was enabled".to_owned()];
    }
    deliveries
        .iter()
        .map(|d| {
            let provider = d.get("provider").and_then(Value::as_str).unwrap_or("?");
            let attempts = d.get("attempt_count").and_then(Value::as_u64).unwrap_or(0);
            let plural = if attempts == 1 { "attempt" } else { "attempts" };
            let status = d
                .get("status_code")
                .and_then(Value::as_u64)
                .filter(|s| *s > 0)
                .map_or_else(|| "no HTTP answer".to_owned(), |s| format!("HTTP {s}"));
            if d.get("success").and_then(Value::as_bool) == Some(true) {
                format!("{provider}: delivered ({status}, {attempts} {plural})")
            } else {
                let error = d.get("error").and_then(Value::as_str).unwrap_or("failed");
                format!("{provider}: failed after {attempts} {plural} ({status}): {error}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::record;
    use cavra_core::approval::Review;
    use serde_json::json;

    fn review(actor: &str, groups: &[&str], decision: ApprovalState) -> Review {
        Review {
            actor: actor.into(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            decision,
            reason: "ok".into(),
            external_ref: None,
            timestamp: "2026-05-18T12:40:00+00:00".parse().unwrap(),
            identity: IdentityKind::Oidc,
            person: cavra_core::identity::PersonKeys::default(),
        }
    }

    #[test]
    fn given_two_of_three_approvals_and_a_missing_group_then_progress_says_so() {
        let mut r = record("apr_000000000001", ApprovalState::Pending);
        r.required_approvals = 3;
        r.required_groups = vec!["IAM".into(), "Security".into()];
        r.reviews = vec![
            review("a@x", &["IAM"], ApprovalState::Approved),
            review("b@x", &["Dev"], ApprovalState::Approved),
        ];
        let progress = QuorumProgress::of(&r);
        assert_eq!(progress.approvals, 2);
        assert_eq!(progress.missing_groups, ["Security"]);
        assert_eq!(
            progress.text(),
            "2 of 3 approvals; still needed from: Security"
        );
        let single = QuorumProgress::of(&record("apr_000000000002", ApprovalState::Pending));
        assert_eq!(single.text(), "0 of 1 approval");
    }

    #[test]
    fn the_action_names_the_operation_when_the_decision_has_one() {
        let mut r = record("apr_000000000001", ApprovalState::Pending);
        assert_eq!(action_text(&r.decision), "write_file (write)");
        r.decision.as_map_mut().remove("requested_operation");
        assert_eq!(action_text(&r.decision), "write_file");
    }

    #[test]
    fn the_digest_check_notices_a_changed_decision() {
        let mut r = record("apr_000000000001", ApprovalState::Pending);
        assert_eq!(check_digest(&r), DigestCheck::Missing);
        r.decision_digest = Some(r.decision.digest());
        assert_eq!(check_digest(&r), DigestCheck::Matches);
        r.decision
            .as_map_mut()
            .insert("target".into(), json!("iam/other.tf"));
        assert!(matches!(check_digest(&r), DigestCheck::Differs { .. }));
    }

    #[test]
    fn a_chained_history_verifies_and_a_tampered_one_does_not() {
        let mut r = record("apr_000000000001", ApprovalState::Pending);
        let (ok, text) = chain_text(&r);
        assert!(!ok);
        assert!(text.contains("not hash-chained"), "{text}");
        let entries = std::mem::take(&mut r.history);
        for entry in entries {
            cavra_core::history::append(&mut r.history, entry);
        }
        let (ok, text) = chain_text(&r);
        assert!(ok, "{text}");
        assert!(text.starts_with("Verified: 1 entries"));
        // Through JSON and back, as the console receives records.
        let received: Approval = serde_json::from_value(r.to_sorted_value()).unwrap();
        assert!(chain_text(&received).0);
        let mut tampered = received;
        tampered.history[0].reason = Some("rewritten".into());
        assert!(
            chain_text(&tampered)
                .1
                .contains("does not match its content")
        );
    }

    #[test]
    fn identities_and_delivery_evidence_read_as_sentences() {
        let at = "2026-05-18T12:40:00+00:00".parse().unwrap();
        let mut entry = HistoryEntry::new("approved", "iam@example.com", at, None);
        assert_eq!(identity_text(&entry), "not recorded");
        entry.identity = Some(IdentityKind::Oidc);
        entry.issuer = Some("https://login.example".into());
        entry.subject = Some("sub-1".into());
        assert_eq!(identity_text(&entry), "OIDC (https://login.example, sub-1)");
        let evidence = json!({"deliveries": [
            {"provider": "jira", "success": true, "status_code": 201, "attempt_count": 1},
            {"provider": "webhook", "success": false, "status_code": 503, "attempt_count": 2, "error": "service unavailable"},
            {"provider": "slack", "success": false, "status_code": 0, "attempt_count": 1, "error": "connection refused"},
        ]});
        assert_eq!(
            delivery_lines(&evidence),
            [
                "jira: delivered (HTTP 201, 1 attempt)",
                "webhook: failed after 2 attempts (HTTP 503): service unavailable",
                "slack: failed after 1 attempt (no HTTP answer): connection refused"
            ]
        );
        assert_eq!(
            delivery_lines(&json!({"deliveries": []})),
            ["no provider was enabled"]
        );
    }
}

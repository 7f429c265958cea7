//! Evidence bundles and PR attestations (original §7): approval outcomes attached to decisions
//! show up in `evidence.json`, the "Approval Outcomes" section of `pr-attestation.md`, and the
//! metadata counts. Pure: callers write the files.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::approval::{Approval, sort_value};
use crate::decision::Decision;
use crate::digest::sha256_hex;
use crate::time::Timestamp;

/// The product's tagline, as the original writes it into `evidence.json`.
pub const TAGLINE: &str = "Before the agent acts, CAVRA decides.";

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    /// File name inside the bundle folder.
    pub name: String,
    /// Exact content.
    pub bytes: Vec<u8>,
}

/// Original §7.1: a copy of `decision` with `approval` = the 13-key summary and
/// `evidence_refs` = the decision's refs, then each approval ref not already present.
#[allow(clippy::expect_used)] // summaries and JSON values always serialise
pub fn attach_decision(decision: &Decision, approval: &Approval) -> Decision {
    let mut out = decision.clone();
    let mut refs = decision.evidence_refs();
    for reference in &approval.evidence_refs {
        if !refs.contains(reference) {
            refs.push(reference.clone());
        }
    }
    let map = out.as_map_mut();
    map.insert(
        "approval".into(),
        serde_json::to_value(approval.summary()).expect("summaries serialise"),
    );
    map.insert("evidence_refs".into(), json!(refs));
    out
}

#[allow(clippy::expect_used)] // a JSON value always serialises
fn pretty(value: &Value) -> Vec<u8> {
    let mut text =
        serde_json::to_string_pretty(&sort_value(value.clone())).expect("JSON values serialise");
    text.push('\n');
    text.into_bytes()
}

fn approvals(decisions: &[Decision]) -> impl Iterator<Item = (&Decision, &Value)> {
    decisions.iter().filter_map(|d| {
        d.as_map()
            .get("approval")
            .filter(|a| a.is_object())
            .map(|a| (d, a))
    })
}

fn count_outcome(decisions: &[Decision], outcome: &str) -> usize {
    decisions
        .iter()
        .filter(|d| d.outcome_text() == Some(outcome))
        .count()
}

/// Evidence metadata (`cavra.evidence.metadata.v1`) with the approval counts of original §7.2.
pub fn evidence_metadata(decisions: &[Decision], session_id: &str) -> Value {
    let outcomes: Vec<Value> = approvals(decisions).map(|(_, a)| a.clone()).collect();
    let state = |a: &Value| {
        a.get("state")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    json!({
        "schema_version": "cavra.evidence.metadata.v1",
        "session_id": session_id,
        "decision_count": decisions.len(),
        "approval_required_count": count_outcome(decisions, "require_approval"),
        "approval_outcomes": outcomes,
        "approved_count": outcomes.iter().filter(|a| matches!(state(a).as_str(), "approved" | "break_glass")).count(),
        "denied_count": outcomes.iter().filter(|a| state(a) == "denied").count(),
        "break_glass_count": outcomes.iter().filter(|a| a.get("break_glass").and_then(Value::as_bool).unwrap_or(false)).count(),
    })
}

fn pr_attestation(decisions: &[Decision], session_id: &str, created_at: Timestamp) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# CAVRA PR Attestation\n");
    let _ = writeln!(md, "{TAGLINE}\n");
    let _ = writeln!(md, "- Session: `{session_id}`");
    let _ = writeln!(md, "- Created: `{created_at}`");
    let _ = writeln!(md, "- Decisions: {}", decisions.len());
    let _ = writeln!(
        md,
        "- Approval-required actions: {}",
        count_outcome(decisions, "require_approval")
    );
    let _ = writeln!(
        md,
        "- Blocked actions: {}",
        count_outcome(decisions, "block")
    );
    let _ = writeln!(md, "\n## Decisions\n");
    if decisions.is_empty() {
        let _ = writeln!(md, "- none");
    }
    for d in decisions {
        let _ = writeln!(
            md,
            "- **{}** `{}` `{}` (rule `{}`, severity {})",
            d.text_field("decision"),
            d.text_field("action_type"),
            d.text_field("target"),
            d.text_field("rule_id"),
            d.text_field("severity"),
        );
    }
    let outcomes: Vec<_> = approvals(decisions).collect();
    if !outcomes.is_empty() {
        let _ = writeln!(md, "\n## Approval Outcomes\n");
        for (d, a) in outcomes {
            let field = |k: &str| a.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
            let by = field("decided_by")
                .or_else(|| field("approver_group"))
                .unwrap_or("unknown");
            let _ = writeln!(
                md,
                "- `{}` `{}` -> **{}** by `{by}`",
                field("approval_id").unwrap_or("unknown"),
                d.text_field("target"),
                field("state").unwrap_or("unknown"),
            );
        }
    }
    md
}

/// The bundle: `evidence.json`, `pr-attestation.md`, and `manifest.json` listing the SHA-256
/// of each of the other two.
pub fn build_bundle(
    decisions: &[Decision],
    session_id: &str,
    created_at: Timestamp,
) -> Vec<BundleFile> {
    let evidence = pretty(&json!({
        "product": "CAVRA",
        "tagline": TAGLINE,
        "session_id": session_id,
        "created_at": created_at.to_string(),
        "decisions": decisions,
    }));
    let attestation = pr_attestation(decisions, session_id, created_at).into_bytes();
    let files = vec![
        BundleFile {
            name: "evidence.json".into(),
            bytes: evidence,
        },
        BundleFile {
            name: "pr-attestation.md".into(),
            bytes: attestation,
        },
    ];
    let listed: Vec<Value> = files
        .iter()
        .map(|f| json!({"name": f.name, "sha256": sha256_hex(&f.bytes), "bytes": f.bytes.len()}))
        .collect();
    let manifest = pretty(&json!({
        "schema_version": "cavra.evidence.manifest.v1",
        "session_id": session_id,
        "created_at": created_at.to_string(),
        "files": listed,
    }));
    let mut all = files;
    all.push(BundleFile {
        name: "manifest.json".into(),
        bytes: manifest,
    });
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Timestamp {
        "2026-05-18T12:00:00+00:00".parse().unwrap()
    }

    fn decision(id: &str, target: &str, outcome: &str) -> Decision {
        Decision::from_value(json!({
            "decision_id": id, "session_id": "approval-session", "action_type": "write_file", "target": target,
            "rule_id": "filesystem.write.require_approval", "decision": outcome, "severity": "high",
            "evidence_refs": [format!("evidence://approval-session/{id}")]
        }))
        .unwrap()
    }

    fn approval(
        id: &str,
        decision_id: &str,
        state: &str,
        decided_by: Option<&str>,
        break_glass: bool,
    ) -> Approval {
        let mut record = json!({
            "schema_version": "cavra.approval.v1", "product": "CAVRA", "approval_id": id, "decision_id": decision_id,
            "session_id": "approval-session", "correlation_id": null, "state": state, "approver_group": "IAM",
            "requested_by": "developer", "requested_at": "2026-05-18T12:00:00+00:00", "expires_at": "2026-05-19T12:00:00+00:00",
            "decision": {"decision_id": decision_id}, "history": [],
            "evidence_refs": [format!("approval://{id}"), format!("evidence://approval-session/{decision_id}")]
        });
        if let Some(by) = decided_by {
            record["decided_by"] = json!(by);
        }
        if break_glass {
            record["break_glass"] = json!(true);
        }
        serde_json::from_value(record).unwrap()
    }

    #[test]
    fn attach_merges_refs_in_order_without_duplicates() {
        let d = decision("dec_1", "iam/admin-role.tf", "require_approval");
        let attached = attach_decision(
            &d,
            &approval("apr_000000000001", "dec_1", "approved", Some("iam"), false),
        );
        assert_eq!(
            attached.evidence_refs(),
            vec![
                "evidence://approval-session/dec_1",
                "approval://apr_000000000001"
            ]
        );
        let summary = &attached.as_map()["approval"];
        assert_eq!(summary.as_object().unwrap().len(), 13);
        assert_eq!(summary["break_glass"], false);
        assert_eq!(summary["decided_at"], Value::Null);
    }

    #[test]
    fn case_5_the_bundle_shows_the_approval_outcome() {
        let d = decision("dec_1", "iam/admin-role.tf", "require_approval");
        let attached = attach_decision(
            &d,
            &approval("apr_000000000001", "dec_1", "pending", None, false),
        );
        let files = build_bundle(std::slice::from_ref(&attached), "approval-session", at());
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["evidence.json", "pr-attestation.md", "manifest.json"]
        );
        let md = String::from_utf8(files[1].bytes.clone()).unwrap();
        assert!(md.contains("## Approval Outcomes"));
        assert!(
            md.contains("- `apr_000000000001` `iam/admin-role.tf` -> **pending** by `IAM`"),
            "{md}"
        );
        let meta = evidence_metadata(&[attached], "approval-session");
        assert_eq!(
            meta["approval_outcomes"][0]["approval_id"],
            "apr_000000000001"
        );
    }

    #[test]
    fn no_outcome_section_without_attached_approvals() {
        let files = build_bundle(&[decision("dec_1", "a", "block")], "s", at());
        let md = String::from_utf8(files[1].bytes.clone()).unwrap();
        assert!(!md.contains("Approval Outcomes"));
        assert!(md.contains("- Blocked actions: 1"));
    }

    #[test]
    fn the_manifest_hashes_the_exact_bytes() {
        let files = build_bundle(&[decision("dec_1", "a", "require_approval")], "s", at());
        let manifest: Value = serde_json::from_slice(&files[2].bytes).unwrap();
        for (entry, file) in manifest["files"].as_array().unwrap().iter().zip(&files) {
            assert_eq!(entry["name"], file.name.as_str());
            assert_eq!(entry["sha256"], sha256_hex(&file.bytes).as_str());
            assert_eq!(entry["bytes"], file.bytes.len());
        }
    }

    #[test]
    fn metadata_counts_approved_denied_and_break_glass() {
        let decisions = vec![
            attach_decision(
                &decision("d1", "a", "require_approval"),
                &approval("apr_000000000001", "d1", "approved", Some("x"), false),
            ),
            attach_decision(
                &decision("d2", "b", "block"),
                &approval("apr_000000000002", "d2", "break_glass", Some("ic"), true),
            ),
            attach_decision(
                &decision("d3", "c", "require_approval"),
                &approval("apr_000000000003", "d3", "denied", Some("y"), false),
            ),
            decision("d4", "d", "require_approval"),
        ];
        let meta = evidence_metadata(&decisions, "s");
        assert_eq!(meta["approved_count"], 2);
        assert_eq!(meta["denied_count"], 1);
        assert_eq!(meta["break_glass_count"], 1);
        assert_eq!(meta["approval_required_count"], 3);
        assert_eq!(meta["decision_count"], 4);
    }

    #[test]
    fn the_attestation_reads_as_documented() {
        let decisions = vec![attach_decision(
            &decision("dec_1", "iam/admin-role.tf", "require_approval"),
            &approval(
                "apr_000000000001",
                "dec_1",
                "approved",
                Some("platform-security"),
                false,
            ),
        )];
        let files = build_bundle(&decisions, "approval-session", at());
        insta::assert_snapshot!(String::from_utf8(files[1].bytes.clone()).unwrap());
    }
}

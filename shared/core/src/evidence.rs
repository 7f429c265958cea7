//! Evidence bundles and PR attestations (original §7, compat appendix A3): the original's seven
//! files and shapes. Approval outcomes attached to decisions show up in `evidence.json` and
//! `siem-event.json` (inside the decisions), the "Approval Outcomes" section of
//! `pr-attestation.md`, and the metadata counts; `manifest.json` hashes the six others and is
//! signed. Pure: callers write the files.

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

/// The bundle's file names, in manifest order (`manifest.json` last; it does not list itself).
pub const BUNDLE_FILES: [&str; 7] = [
    "evidence.json",
    "pr-attestation.md",
    "compliance-mapping.md",
    "siem-event.json",
    "sandbox-run-summary.json",
    "retention-policy.json",
    "manifest.json",
];

/// The default retention of a bundle, in days (seven years, as the original).
pub const DEFAULT_RETENTION_DAYS: u16 = 2555;

/// How a bundle is written (appendix A3); [`BundleOptions::new`] gives the original's defaults.
#[derive(Debug, Clone)]
pub struct BundleOptions {
    /// The session the decisions belong to.
    pub session_id: String,
    /// `created_at` of `evidence.json`, the run summary, the retention policy and the manifest.
    pub created_at: Timestamp,
    /// `siem-event.json`'s `timestamp` (the original takes it separately).
    pub siem_timestamp: Timestamp,
    /// `retention_days` (default 2555); `retain_until` is `created_at` plus as many days.
    pub retention_days: u16,
    /// Legal hold: disposition `retain` instead of review after `retain_until`.
    pub legal_hold: bool,
    /// The manifest's `signer` (default `local`).
    pub signer: String,
    /// An HMAC key: the manifest is signed HS256 instead of carrying a bare SHA-256.
    pub signing_key: Option<Vec<u8>>,
}

impl BundleOptions {
    /// The original's defaults for `session_id` at `created_at`.
    pub fn new(session_id: &str, created_at: Timestamp) -> Self {
        Self {
            session_id: session_id.to_owned(),
            created_at,
            siem_timestamp: created_at,
            retention_days: DEFAULT_RETENTION_DAYS,
            legal_hold: false,
            signer: "local".to_owned(),
            signing_key: None,
        }
    }
}

/// Escapes every character outside printable ASCII as `\uXXXX` (UTF-16, lowercase hex), as
/// Python's `ensure_ascii` does. Such characters only occur inside JSON strings.
fn ascii_escaped(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() && c != '\u{7f}' {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

/// A bundle JSON file: 2-space indent, keys sorted, non-ASCII escaped, one trailing newline.
#[allow(clippy::expect_used)] // a JSON value always serialises
fn pretty(value: &Value) -> Vec<u8> {
    let text =
        serde_json::to_string_pretty(&sort_value(value.clone())).expect("JSON values serialise");
    let mut text = ascii_escaped(&text);
    text.push('\n');
    text.into_bytes()
}

/// Python's `json.dumps(value, sort_keys=True)`: separators `", "` and `": "`, ASCII only.
fn python_dumps(out: &mut String, value: &Value) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                python_dumps(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                python_dumps(out, &Value::String((*key).clone()));
                out.push_str(": ");
                python_dumps(out, map.get(*key).unwrap_or(&Value::Null));
            }
            out.push('}');
        }
        scalar => out.push_str(&ascii_escaped(&scalar.to_string())),
    }
}

/// The manifest's signature over its canonical form (the manifest without `signature`).
#[allow(clippy::expect_used)] // HMAC-SHA256 accepts keys of any length
fn manifest_signature(unsigned: &Value, key: Option<&[u8]>) -> Value {
    let mut canonical = String::new();
    python_dumps(&mut canonical, unsigned);
    match key {
        None => json!({"algorithm": "SHA256", "value": sha256_hex(canonical.as_bytes())}),
        Some(key) => {
            use base64::Engine as _;
            use hmac::Mac as _;
            let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(key)
                .expect("HMAC accepts keys of any length");
            mac.update(canonical.as_bytes());
            let value =
                base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
            json!({"algorithm": "HS256", "value": value})
        }
    }
}

/// Checks a manifest's `signature` against its other keys (`key` for HS256 manifests).
pub fn manifest_signature_matches(manifest: &Value, key: Option<&[u8]>) -> bool {
    let Some(map) = manifest.as_object() else {
        return false;
    };
    let mut unsigned = map.clone();
    let Some(signature) = unsigned.remove("signature") else {
        return false;
    };
    let algorithm = signature.get("algorithm").and_then(Value::as_str);
    let expected = match (algorithm, key) {
        (Some("SHA256"), _) => manifest_signature(&Value::Object(unsigned), None),
        (Some("HS256"), Some(key)) => manifest_signature(&Value::Object(unsigned), Some(key)),
        _ => return false,
    };
    expected == signature
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

fn count_allowed(decisions: &[Decision]) -> usize {
    decisions
        .iter()
        .filter(|d| matches!(d.outcome_text(), Some("allow" | "allow_with_attestation")))
        .count()
}

/// Rank of a severity for `max_severity` (unknown texts rank lowest).
fn severity_rank(severity: &str) -> u8 {
    match severity {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

/// The most severe `severity` of the decisions (missing → `low`; no decisions → `low`).
///
/// Deliberately not the original's alphabetical maximum (its §14.32: `medium` beat `critical`,
/// so SIEM rollups under-reported): here `critical` > `high` > `medium` > `low`.
fn max_severity(decisions: &[Decision]) -> String {
    decisions
        .iter()
        .map(|d| d.str_field("severity").unwrap_or("low").to_owned())
        .max_by_key(|s| severity_rank(s))
        .unwrap_or_else(|| "low".to_owned())
}

/// A value as the original's f-strings print it: missing or null → `None`.
fn shown(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "None".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(true)) => "True".to_owned(),
        Some(Value::Bool(false)) => "False".to_owned(),
        Some(other) => other.to_string(),
    }
}

/// The PR attestation's reviewer guidance (last line).
const REVIEWER_GUIDANCE: &str = "Review blocked and approval-required actions before merge. Attach this attestation to AI-assisted pull requests in regulated repositories.";

/// `pr-attestation.md` (appendix A3 layout).
pub fn pr_attestation(decisions: &[Decision], session_id: &str) -> String {
    let mut lines: Vec<String> = vec![
        "# CAVRA PR Attestation".into(),
        String::new(),
        TAGLINE.into(),
        String::new(),
        format!("Session: `{session_id}`"),
        String::new(),
        "## Summary".into(),
        String::new(),
        format!("- Allowed actions: {}", count_allowed(decisions)),
        format!("- Blocked actions: {}", count_outcome(decisions, "block")),
        format!(
            "- Approval-required actions: {}",
            count_outcome(decisions, "require_approval")
        ),
        String::new(),
        "## Decisions".into(),
        String::new(),
    ];
    for d in decisions {
        let field = |k: &str| shown(d.as_map().get(k));
        lines.push(format!(
            "- `{}` `{}` -> **{}** via `{}`",
            field("action_type"),
            field("target"),
            field("decision"),
            field("rule_id"),
        ));
    }
    lines.push(String::new());
    let outcomes: Vec<_> = approvals(decisions).collect();
    if !outcomes.is_empty() {
        lines.push("## Approval Outcomes".into());
        lines.push(String::new());
        for (d, a) in outcomes {
            let by = match a.get("decided_by") {
                None | Some(Value::Null) => a.get("approver_group"),
                decided => decided,
            };
            lines.push(format!(
                "- `{}` `{}` -> **{}** by `{}`",
                shown(a.get("approval_id")),
                shown(d.as_map().get("target")),
                shown(a.get("state")),
                shown(by),
            ));
        }
        lines.push(String::new());
    }
    lines.push("## Reviewer Guidance".into());
    lines.push(String::new());
    lines.push(REVIEWER_GUIDANCE.into());
    let mut md = lines.join("\n");
    md.push('\n');
    md
}

/// `compliance-mapping.md`: five fixed control objectives.
pub fn compliance_mapping(session_id: &str) -> String {
    let rows = [
        (
            "Secret exposure prevention",
            "File read decisions and blocked sensitive path rules",
        ),
        (
            "Change control",
            "Approval-required decisions and approver groups",
        ),
        (
            "Least privilege",
            "IAM, cloud, Kubernetes, and MCP control decisions",
        ),
        (
            "Audit logging",
            "Manifest, checksums, timestamps, rule IDs, and correlation IDs",
        ),
        (
            "Human oversight",
            "`require_approval` decisions and PR attestation",
        ),
    ];
    let mut md = format!(
        "# CAVRA Compliance Mapping\n\nSession: `{session_id}`\n\n| Control objective | CAVRA evidence |\n| --- | --- |\n"
    );
    for (objective, evidence) in rows {
        let _ = writeln!(md, "| {objective} | {evidence} |");
    }
    md
}

/// `retention-policy.json`'s object.
fn retention_policy(options: &BundleOptions) -> Value {
    let created_at = options.created_at;
    let retain_until = created_at
        .checked_plus_hours(i64::from(options.retention_days).saturating_mul(24))
        .unwrap_or_else(Timestamp::latest);
    json!({
        "classification": "regulated-sdlc",
        "created_at": created_at.to_string(),
        "delete_protection": true,
        "disposition": if options.legal_hold { "retain" } else { "eligible_for_review_after_retain_until" },
        "legal_hold": options.legal_hold,
        "product": "CAVRA",
        "retain_until": retain_until.to_string(),
        "retention_days": options.retention_days,
        "schema_version": "cavra.evidence.retention.v1",
        "session_id": options.session_id,
    })
}

/// The bundle of appendix A3, in manifest order: `evidence.json`, `pr-attestation.md`,
/// `compliance-mapping.md`, `siem-event.json`, `sandbox-run-summary.json`,
/// `retention-policy.json`, and last `manifest.json` listing the size and SHA-256 of each of the
/// six others, signed.
pub fn build_bundle(decisions: &[Decision], options: &BundleOptions) -> Vec<BundleFile> {
    let session_id = options.session_id.as_str();
    let created_at = options.created_at.to_string();
    let blocked = count_outcome(decisions, "block");
    let approval_required = count_outcome(decisions, "require_approval");
    let file = |name: &str, bytes: Vec<u8>| BundleFile {
        name: name.to_owned(),
        bytes,
    };
    let mut files = vec![
        file(
            "evidence.json",
            pretty(&json!({
                "product": "CAVRA",
                "tagline": TAGLINE,
                "session_id": session_id,
                "created_at": created_at,
                "decisions": decisions,
            })),
        ),
        file(
            "pr-attestation.md",
            pr_attestation(decisions, session_id).into_bytes(),
        ),
        file(
            "compliance-mapping.md",
            compliance_mapping(session_id).into_bytes(),
        ),
        file(
            "siem-event.json",
            pretty(&json!({
                "approval_required_count": approval_required,
                "blocked_count": blocked,
                "decision_count": decisions.len(),
                "decisions": decisions,
                "event_type": "cavra.evidence_bundle",
                "max_severity": max_severity(decisions),
                "product": "CAVRA",
                "session_id": session_id,
                "timestamp": options.siem_timestamp.to_string(),
            })),
        ),
        file(
            "sandbox-run-summary.json",
            pretty(&json!({
                "approval_required": approval_required,
                "blocked": blocked,
                "created_at": created_at,
                "events": decisions.len(),
                "session_id": session_id,
            })),
        ),
        file("retention-policy.json", pretty(&retention_policy(options))),
    ];
    let listed: Vec<Value> = files
        .iter()
        .map(|f| json!({"bytes": f.bytes.len(), "path": f.name, "sha256": sha256_hex(&f.bytes)}))
        .collect();
    let mut manifest = json!({
        "created_at": created_at,
        "files": listed,
        "product": "CAVRA",
        "schema_version": "cavra.evidence.bundle.v1",
        "signer": options.signer,
    });
    let signature = manifest_signature(&manifest, options.signing_key.as_deref());
    if let Some(map) = manifest.as_object_mut() {
        map.insert("signature".into(), signature);
    }
    files.push(file("manifest.json", pretty(&manifest)));
    files
}

/// Evidence metadata (`cavra evidence index`, `cavra.evidence.metadata.v1`, appendix A3) of a
/// bundle folder from its parsed `evidence.json`, `manifest.json` and `retention-policy.json`
/// (`None` when absent): counts by decision outcome and the approval outcomes attached.
pub fn evidence_metadata(
    bundle_dir: &str,
    evidence: &Value,
    manifest: &Value,
    retention: Option<&Value>,
) -> Value {
    let decisions: Vec<Decision> = evidence
        .get("decisions")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|d| Decision::from_value(d.clone()).ok())
                .collect()
        })
        .unwrap_or_default();
    let outcomes: Vec<Value> = approvals(&decisions).map(|(_, a)| a.clone()).collect();
    let state = |a: &Value| {
        a.get("state")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let field = |value: &Value, key: &str| value.get(key).cloned().unwrap_or(Value::Null);
    json!({
        "schema_version": "cavra.evidence.metadata.v1",
        "product": "CAVRA",
        "session_id": field(evidence, "session_id"),
        "bundle_dir": bundle_dir,
        "created_at": field(evidence, "created_at"),
        "decision_count": decisions.len(),
        "blocked_count": count_outcome(&decisions, "block"),
        "approval_required_count": count_outcome(&decisions, "require_approval"),
        "manifest_signature": field(manifest, "signature"),
        "signer": field(manifest, "signer"),
        "retention": retention.cloned().unwrap_or_else(|| json!({})),
        "approval_outcomes": outcomes,
        "approved_count": outcomes.iter().filter(|a| matches!(state(a).as_str(), "approved" | "break_glass")).count(),
        "denied_count": outcomes.iter().filter(|a| state(a) == "denied").count(),
        "break_glass_count": outcomes.iter().filter(|a| a.get("break_glass").and_then(Value::as_bool).unwrap_or(false)).count(),
    })
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
        let files = build_bundle(
            std::slice::from_ref(&attached),
            &BundleOptions::new("approval-session", at()),
        );
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, BUNDLE_FILES);
        let md = String::from_utf8(files[1].bytes.clone()).unwrap();
        assert!(md.contains("## Approval Outcomes"));
        assert!(
            md.contains("- `apr_000000000001` `iam/admin-role.tf` -> **pending** by `IAM`"),
            "{md}"
        );
        let evidence: Value = serde_json::from_slice(&files[0].bytes).unwrap();
        let manifest: Value = serde_json::from_slice(&files[6].bytes).unwrap();
        let meta = evidence_metadata("b", &evidence, &manifest, None);
        assert_eq!(
            meta["approval_outcomes"][0]["approval_id"],
            "apr_000000000001"
        );
    }

    #[test]
    fn no_outcome_section_without_attached_approvals() {
        let files = build_bundle(
            &[decision("dec_1", "a", "block")],
            &BundleOptions::new("s", at()),
        );
        let md = String::from_utf8(files[1].bytes.clone()).unwrap();
        assert!(!md.contains("Approval Outcomes"));
        assert!(md.contains("- Blocked actions: 1"));
    }

    #[test]
    fn the_manifest_hashes_the_exact_bytes() {
        let files = build_bundle(
            &[decision("dec_1", "a", "require_approval")],
            &BundleOptions::new("s", at()),
        );
        let manifest: Value = serde_json::from_slice(&files[6].bytes).unwrap();
        assert_eq!(manifest["files"].as_array().unwrap().len(), 6);
        for (entry, file) in manifest["files"].as_array().unwrap().iter().zip(&files) {
            assert_eq!(entry["path"], file.name.as_str());
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
        let files = build_bundle(&decisions, &BundleOptions::new("s", at()));
        let evidence: Value = serde_json::from_slice(&files[0].bytes).unwrap();
        let manifest: Value = serde_json::from_slice(&files[6].bytes).unwrap();
        let meta = evidence_metadata("b", &evidence, &manifest, None);
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
        let files = build_bundle(&decisions, &BundleOptions::new("approval-session", at()));
        insta::assert_snapshot!(String::from_utf8(files[1].bytes.clone()).unwrap());
    }
}

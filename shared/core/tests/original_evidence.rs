//! Issue I §1.2: the evidence bundle has the original's seven files and shapes (compat appendix
//! A3), approval outcomes where the original shows them, and a manifest hashing and signing the
//! six others.

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;
use cavra_core::approval::Approval;
use cavra_core::decision::Decision;
use cavra_core::digest::sha256_hex;
use cavra_core::evidence::{
    BUNDLE_FILES, BundleFile, BundleOptions, attach_decision, build_bundle, evidence_metadata,
    manifest_signature_matches,
};
use cavra_core::time::Timestamp;
use hmac::Mac as _;
use serde_json::{Value, json};

const SESSION: &str = "approval-session";

fn at() -> Timestamp {
    "2026-05-18T12:00:00+00:00".parse().unwrap()
}

fn decision(id: &str, target: &str, outcome: &str, severity: &str) -> Decision {
    Decision::from_value(json!({
        "decision_id": id, "session_id": SESSION, "action_type": "write_file", "target": target,
        "rule_id": "filesystem.write.require_approval", "decision": outcome, "severity": severity,
        "reason": "Matched approval-required path policy: iam/**",
        "evidence_refs": [format!("evidence://{SESSION}/{id}")]
    }))
    .unwrap()
}

fn approval(
    id: &str,
    decision_id: &str,
    state: &str,
    group: &str,
    decided_by: Option<&str>,
    external_ref: Option<&str>,
) -> Approval {
    let mut record = json!({
        "schema_version": "cavra.approval.v1", "product": "CAVRA", "approval_id": id,
        "decision_id": decision_id, "session_id": SESSION, "correlation_id": null,
        "state": state, "approver_group": group, "requested_by": "developer",
        "requested_at": "2026-05-18T12:00:00+00:00", "expires_at": "2026-05-19T12:00:00+00:00",
        "decision": {"decision_id": decision_id}, "history": [],
        "evidence_refs": [format!("evidence://{SESSION}/{decision_id}"), format!("approval://{id}")]
    });
    if let Some(by) = decided_by {
        record["decided_by"] = json!(by);
        record["decided_at"] = json!("2026-05-18T12:30:00+00:00");
    }
    if let Some(reference) = external_ref {
        record["external_ref"] = json!(reference);
    }
    if state == "break_glass" {
        record["break_glass"] = json!(true);
    }
    serde_json::from_value(record).unwrap()
}

/// The five-decision bundle of appendix A3: approved, pending, denied, break-glass, none.
fn five() -> Vec<Decision> {
    vec![
        attach_decision(
            &decision("dec_1", "iam/admin-role.tf", "require_approval", "high"),
            &approval(
                "apr_000000000001",
                "dec_1",
                "approved",
                "Platform Security",
                Some("platform-security"),
                Some("CHG-22"),
            ),
        ),
        attach_decision(
            &decision("dec_2", "kubectl get pods", "require_approval", "medium"),
            &approval(
                "apr_000000000002",
                "dec_2",
                "pending",
                "Repository Owners",
                None,
                None,
            ),
        ),
        attach_decision(
            &decision("dec_3", "security/x.tf", "require_approval", "critical"),
            &approval(
                "apr_000000000003",
                "dec_3",
                "denied",
                "Platform Security",
                Some("security-lead"),
                None,
            ),
        ),
        attach_decision(
            &decision("dec_4", "terraform apply", "block", "critical"),
            &approval(
                "apr_000000000004",
                "dec_4",
                "break_glass",
                "Change Advisory Board",
                Some("incident-commander"),
                Some("INC-777"),
            ),
        ),
        decision("dec_5", "README.md", "allow", "low"),
    ]
}

fn file<'a>(files: &'a [BundleFile], name: &str) -> &'a BundleFile {
    files.iter().find(|f| f.name == name).unwrap()
}

fn json_of(files: &[BundleFile], name: &str) -> Value {
    serde_json::from_slice(&file(files, name).bytes).unwrap()
}

fn text_of(files: &[BundleFile], name: &str) -> String {
    String::from_utf8(file(files, name).bytes.clone()).unwrap()
}

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn the_bundle_holds_the_original_seven_files_in_manifest_order() {
    let files = build_bundle(&five(), &BundleOptions::new(SESSION, at()));
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "evidence.json",
            "pr-attestation.md",
            "compliance-mapping.md",
            "siem-event.json",
            "sandbox-run-summary.json",
            "retention-policy.json",
            "manifest.json",
        ]
    );
    assert_eq!(names, BUNDLE_FILES);
}

#[test]
fn every_json_file_is_indented_sorted_ascii_and_ends_with_one_newline() {
    let mut decisions = five();
    decisions[0]
        .as_map_mut()
        .insert("note".into(), json!("café ☕ 𝄞"));
    let files = build_bundle(&decisions, &BundleOptions::new("séance", at()));
    for f in files
        .iter()
        .filter(|f| Path::new(&f.name).extension() == Some("json".as_ref()))
    {
        let text = String::from_utf8(f.bytes.clone()).unwrap();
        assert!(text.is_ascii(), "{}", f.name);
        assert!(
            text.ends_with("}\n") && !text.ends_with("\n\n"),
            "{}",
            f.name
        );
        assert!(text.starts_with("{\n  \""), "{}", f.name);
        assert!(keys_sorted_in_text(&text), "{} keys sorted", f.name);
        let value: Value = serde_json::from_str(&text).unwrap();
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        assert_eq!(
            text.trim_end(),
            escape(&pretty),
            "{} 2-space indent",
            f.name
        );
    }
    let evidence = text_of(&files, "evidence.json");
    assert!(evidence.contains(r#""note": "caf\u00e9 \u2615 \ud834\udd1e""#));
    assert!(evidence.contains(r#""session_id": "s\u00e9ance""#));
    for f in files
        .iter()
        .filter(|f| Path::new(&f.name).extension() == Some("md".as_ref()))
    {
        let text = String::from_utf8(f.bytes.clone()).unwrap();
        assert!(
            text.ends_with('\n') && !text.ends_with("\n\n"),
            "{}",
            f.name
        );
    }
}

/// Every object's keys, as written (one per line at each indentation), are in sorted order.
fn keys_sorted_in_text(text: &str) -> bool {
    let mut stack: Vec<Option<String>> = vec![None];
    for line in text.lines() {
        let trimmed = line.trim_start();
        let depth = (line.len() - trimmed.len()) / 2;
        stack.truncate(depth + 1);
        while stack.len() <= depth {
            stack.push(None);
        }
        if let Some(rest) = trimmed.strip_prefix('"')
            && let Some((key, _)) = rest.split_once("\": ")
        {
            if stack[depth].as_deref().is_some_and(|prev| prev > key) {
                return false;
            }
            stack[depth] = Some(key.to_owned());
        }
        if trimmed.starts_with('{') || trimmed.ends_with('{') || trimmed.ends_with('[') {
            stack.truncate(depth + 1);
            stack.push(None);
        }
    }
    true
}

fn escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii() {
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

#[test]
fn evidence_json_carries_the_decisions_with_their_13_key_approval_summaries() {
    let files = build_bundle(&five(), &BundleOptions::new(SESSION, at()));
    let evidence = json_of(&files, "evidence.json");
    assert_eq!(
        keys(&evidence),
        [
            "created_at",
            "decisions",
            "product",
            "session_id",
            "tagline"
        ]
    );
    assert_eq!(evidence["product"], "CAVRA");
    assert_eq!(evidence["tagline"], "Before the agent acts, CAVRA decides.");
    assert_eq!(evidence["session_id"], SESSION);
    assert_eq!(evidence["created_at"], "2026-05-18T12:00:00.000000+00:00");
    let first = &evidence["decisions"][0];
    assert_eq!(
        keys(&first["approval"]),
        [
            "approval_id",
            "approver_group",
            "break_glass",
            "decided_at",
            "decided_by",
            "decision_id",
            "evidence_refs",
            "expires_at",
            "external_ref",
            "requested_at",
            "requested_by",
            "session_id",
            "state"
        ]
    );
    assert_eq!(first["approval"]["external_ref"], "CHG-22");
    assert_eq!(
        first["evidence_refs"].as_array().unwrap().last().unwrap(),
        "approval://apr_000000000001"
    );
    assert!(evidence["decisions"][4].get("approval").is_none());
}

#[test]
fn the_attestation_has_the_original_layout_and_one_outcome_per_approval() {
    let files = build_bundle(&five(), &BundleOptions::new(SESSION, at()));
    let md = text_of(&files, "pr-attestation.md");
    let expected = "# CAVRA PR Attestation

Before the agent acts, CAVRA decides.

Session: `approval-session`

## Summary

- Allowed actions: 1
- Blocked actions: 1
- Approval-required actions: 3

## Decisions

- `write_file` `iam/admin-role.tf` -> **require_approval** via `filesystem.write.require_approval`
- `write_file` `kubectl get pods` -> **require_approval** via `filesystem.write.require_approval`
- `write_file` `security/x.tf` -> **require_approval** via `filesystem.write.require_approval`
- `write_file` `terraform apply` -> **block** via `filesystem.write.require_approval`
- `write_file` `README.md` -> **allow** via `filesystem.write.require_approval`

## Approval Outcomes

- `apr_000000000001` `iam/admin-role.tf` -> **approved** by `platform-security`
- `apr_000000000002` `kubectl get pods` -> **pending** by `Repository Owners`
- `apr_000000000003` `security/x.tf` -> **denied** by `security-lead`
- `apr_000000000004` `terraform apply` -> **break_glass** by `incident-commander`

## Reviewer Guidance

Review blocked and approval-required actions before merge. Attach this attestation to AI-assisted pull requests in regulated repositories.
";
    assert_eq!(md, expected);
}

#[test]
fn an_empty_bundle_has_two_blank_lines_under_decisions_and_missing_values_print_none() {
    let files = build_bundle(&[], &BundleOptions::new("s", at()));
    let md = text_of(&files, "pr-attestation.md");
    assert!(
        md.contains("## Decisions\n\n\n## Reviewer Guidance"),
        "{md}"
    );
    assert!(!md.contains("Approval Outcomes"));
    let bare = Decision::from_value(json!({"decision": "allow"})).unwrap();
    let files = build_bundle(&[bare], &BundleOptions::new("s", at()));
    assert!(
        text_of(&files, "pr-attestation.md").contains("- `None` `None` -> **allow** via `None`")
    );
    let siem = json_of(&files, "siem-event.json");
    assert_eq!(siem["max_severity"], "low");
}

#[test]
fn the_compliance_mapping_is_the_original_fixed_table() {
    let files = build_bundle(&five(), &BundleOptions::new(SESSION, at()));
    assert_eq!(
        text_of(&files, "compliance-mapping.md"),
        "# CAVRA Compliance Mapping

Session: `approval-session`

| Control objective | CAVRA evidence |
| --- | --- |
| Secret exposure prevention | File read decisions and blocked sensitive path rules |
| Change control | Approval-required decisions and approver groups |
| Least privilege | IAM, cloud, Kubernetes, and MCP control decisions |
| Audit logging | Manifest, checksums, timestamps, rule IDs, and correlation IDs |
| Human oversight | `require_approval` decisions and PR attestation |
"
    );
}

#[test]
fn the_siem_event_and_run_summary_count_by_decision_outcome() {
    let mut options = BundleOptions::new(SESSION, at());
    options.siem_timestamp = "2026-05-18T12:00:00.000004+00:00".parse().unwrap();
    let files = build_bundle(&five(), &options);
    let siem = json_of(&files, "siem-event.json");
    assert_eq!(
        keys(&siem),
        [
            "approval_required_count",
            "blocked_count",
            "decision_count",
            "decisions",
            "event_type",
            "max_severity",
            "product",
            "session_id",
            "timestamp"
        ]
    );
    assert_eq!(siem["event_type"], "cavra.evidence_bundle");
    assert_eq!(siem["decision_count"], 5);
    // The break-glass decision's outcome is `block`: blocked, not approval-required.
    assert_eq!(siem["blocked_count"], 1);
    assert_eq!(siem["approval_required_count"], 3);
    assert_eq!(siem["timestamp"], "2026-05-18T12:00:00.000004+00:00");
    assert_eq!(
        siem["decisions"],
        json_of(&files, "evidence.json")["decisions"]
    );
    // Deliberately the most severe, not the original's alphabetical maximum (`medium`).
    assert_eq!(siem["max_severity"], "critical");
    let summary = json_of(&files, "sandbox-run-summary.json");
    assert_eq!(
        summary,
        json!({"approval_required": 3, "blocked": 1, "created_at": "2026-05-18T12:00:00.000000+00:00",
               "events": 5, "session_id": SESSION})
    );
}

#[test]
fn the_retention_policy_keeps_seven_years_unless_told_and_legal_hold_retains() {
    let files = build_bundle(&five(), &BundleOptions::new(SESSION, at()));
    assert_eq!(
        json_of(&files, "retention-policy.json"),
        json!({
            "classification": "regulated-sdlc",
            "created_at": "2026-05-18T12:00:00.000000+00:00",
            "delete_protection": true,
            "disposition": "eligible_for_review_after_retain_until",
            "legal_hold": false,
            "product": "CAVRA",
            "retain_until": "2033-05-16T12:00:00.000000+00:00",
            "retention_days": 2555,
            "schema_version": "cavra.evidence.retention.v1",
            "session_id": SESSION,
        })
    );
    let mut options = BundleOptions::new(SESSION, at());
    options.retention_days = 30;
    options.legal_hold = true;
    let retention = json_of(&build_bundle(&five(), &options), "retention-policy.json");
    assert_eq!(retention["disposition"], "retain");
    assert_eq!(retention["legal_hold"], true);
    assert_eq!(
        retention["retain_until"],
        "2026-06-17T12:00:00.000000+00:00"
    );
}

/// Python's `json.dumps(manifest_without_signature, sort_keys=True)` for this manifest shape.
fn canonical(manifest: &Value) -> String {
    let files: Vec<String> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                r#"{{"bytes": {}, "path": "{}", "sha256": "{}"}}"#,
                f["bytes"],
                f["path"].as_str().unwrap(),
                f["sha256"].as_str().unwrap()
            )
        })
        .collect();
    format!(
        r#"{{"created_at": "{}", "files": [{}], "product": "CAVRA", "schema_version": "cavra.evidence.bundle.v1", "signer": "{}"}}"#,
        manifest["created_at"].as_str().unwrap(),
        files.join(", "),
        manifest["signer"].as_str().unwrap()
    )
}

#[test]
fn the_manifest_hashes_the_six_files_and_signs_its_canonical_form() {
    let files = build_bundle(&five(), &BundleOptions::new(SESSION, at()));
    let manifest = json_of(&files, "manifest.json");
    assert_eq!(
        keys(&manifest),
        [
            "created_at",
            "files",
            "product",
            "schema_version",
            "signature",
            "signer"
        ]
    );
    assert_eq!(manifest["schema_version"], "cavra.evidence.bundle.v1");
    assert_eq!(manifest["signer"], "local");
    assert_eq!(manifest["created_at"], "2026-05-18T12:00:00.000000+00:00");
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(listed.len(), 6, "manifest.json does not list itself");
    for (entry, f) in listed.iter().zip(&files) {
        assert_eq!(keys(entry), ["bytes", "path", "sha256"]);
        assert_eq!(entry["path"], f.name.as_str());
        assert_eq!(entry["bytes"], f.bytes.len());
        assert_eq!(entry["sha256"], sha256_hex(&f.bytes).as_str());
    }
    assert_eq!(
        manifest["signature"],
        json!({"algorithm": "SHA256", "value": sha256_hex(canonical(&manifest).as_bytes())})
    );
    assert!(manifest_signature_matches(&manifest, None));

    let mut options = BundleOptions::new(SESSION, at());
    options.signing_key = Some(b"bundle-key".to_vec());
    options.signer = "ci".into();
    let manifest = json_of(&build_bundle(&five(), &options), "manifest.json");
    let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(b"bundle-key").unwrap();
    mac.update(canonical(&manifest).as_bytes());
    let value = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(
        manifest["signature"],
        json!({"algorithm": "HS256", "value": value})
    );
    assert_eq!(manifest["signer"], "ci");
    assert!(manifest_signature_matches(&manifest, Some(b"bundle-key")));
    assert!(!manifest_signature_matches(&manifest, Some(b"other-key")));
    let mut tampered = manifest.clone();
    tampered["signer"] = json!("someone-else");
    assert!(!manifest_signature_matches(&tampered, Some(b"bundle-key")));
}

#[test]
fn the_index_of_the_five_decision_bundle_counts_outcomes_like_the_original() {
    let files = build_bundle(&five(), &BundleOptions::new(SESSION, at()));
    let evidence = json_of(&files, "evidence.json");
    let manifest = json_of(&files, "manifest.json");
    let retention = json_of(&files, "retention-policy.json");
    let meta = evidence_metadata("bundle", &evidence, &manifest, Some(&retention));
    assert_eq!(meta["schema_version"], "cavra.evidence.metadata.v1");
    assert_eq!(meta["product"], "CAVRA");
    assert_eq!(meta["bundle_dir"], "bundle");
    assert_eq!(meta["session_id"], SESSION);
    assert_eq!(meta["created_at"], evidence["created_at"]);
    assert_eq!(
        (
            &meta["decision_count"],
            &meta["blocked_count"],
            &meta["approval_required_count"]
        ),
        (&json!(5), &json!(1), &json!(3))
    );
    assert_eq!(
        (
            &meta["approved_count"],
            &meta["denied_count"],
            &meta["break_glass_count"]
        ),
        (&json!(2), &json!(1), &json!(1))
    );
    assert_eq!(meta["approval_outcomes"].as_array().unwrap().len(), 4);
    assert_eq!(
        meta["approval_outcomes"][0]["approval_id"],
        "apr_000000000001"
    );
    assert_eq!(meta["manifest_signature"], manifest["signature"]);
    assert_eq!(meta["signer"], "local");
    assert_eq!(meta["retention"], retention);
    let without = evidence_metadata("bundle", &evidence, &manifest, None);
    assert_eq!(without["retention"], json!({}));
}

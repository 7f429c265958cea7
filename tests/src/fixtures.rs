//! Decisions and records for the suites.

use cavra_core::approval::Approval;
use cavra_core::decision::Decision;
use cavra_core::ids::ApprovalId;
use cavra_core::routing::RoutingTable;
use cavra_core::time::Timestamp;
use cavra_core::workflow::{NewRequest, create_request};
use serde_json::json;

/// The engine's decision for `write_file iam/admin-role.tf` with the baseline pack.
pub fn iam_decision(decision_id: &str) -> Decision {
    Decision::from_value(json!({
        "decision_id": decision_id, "session_id": "local", "agent_id": "unknown-agent", "actor": "ai-agent",
        "action_type": "write_file", "target": "iam/admin-role.tf", "requested_operation": "write",
        "policy_pack": "cavra-ai-agent-baseline", "policy_id": "cavra-ai-agent-baseline",
        "rule_id": "filesystem.write.require_approval", "decision": "require_approval", "severity": "high",
        "reason": "Matched approval-required path policy: iam/**",
        "evidence_refs": [format!("evidence://local/{decision_id}")],
        "approver_group": "Platform Security", "timestamp": "2026-05-18T12:34:56.789012+00:00",
        "correlation_id": "corr_8b2d0e6a1f47"
    }))
    .expect("a JSON object")
}

/// A pending record for `decision_id`, requested at `requested_at`, routed by the defaults
/// (or to `group` when given).
pub fn pending_record(
    n: u64,
    decision_id: &str,
    group: Option<&str>,
    requested_at: Timestamp,
) -> Approval {
    let id = ApprovalId::from_hex12(&format!("{n:012x}")).expect("12 hex digits");
    let request = NewRequest {
        rationale: None,
        requested_by: Some("developer".to_owned()),
        ..NewRequest::new(iam_decision(decision_id))
    };
    let mut record = create_request(request, &RoutingTable::default(), &id, requested_at)
        .expect("a valid request");
    // Store fixtures: the group is set on the record itself (routing is authoritative, so a
    // requested group would only be added as a required one).
    if let Some(group) = group {
        group.clone_into(&mut record.approver_group);
    }
    record
}

/// A fixed instant plus `seconds`.
pub fn at(seconds: i64) -> Timestamp {
    let base: Timestamp = "2026-05-18T12:00:00+00:00".parse().expect("timestamp");
    base.plus_millis(seconds * 1000)
}

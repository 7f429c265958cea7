//! Records for the unit tests, built the way the API sends them (JSON).

use cavra_core::approval::{Approval, ApprovalState};
use serde_json::json;

/// A record in `state`, requested by `developer` for the IAM group, with one history entry.
pub fn record(id: &str, state: ApprovalState) -> Approval {
    serde_json::from_value(json!({
        "schema_version": "cavra.approval.v1", "product": "CAVRA",
        "approval_id": id, "decision_id": "dec_000000000001", "session_id": "local",
        "correlation_id": null, "state": state.as_str(), "approver_group": "IAM",
        "requested_by": "developer",
        "requested_at": "2026-05-18T12:35:00.000000+00:00",
        "expires_at": "2026-05-19T12:35:00.000000+00:00",
        "decision": {
            "decision_id": "dec_000000000001", "action_type": "write_file",
            "target": "iam/admin-role.tf", "requested_operation": "write",
            "rule_id": "filesystem.write.require_approval", "decision": "require_approval",
            "severity": "high", "reason": "Matched approval-required path policy: iam/**"
        },
        "history": [{"event": "requested", "actor": "developer",
                     "timestamp": "2026-05-18T12:35:00.000000+00:00", "reason": null}],
        "evidence_refs": [format!("approval://{id}")],
        "version": 1
    }))
    .expect("the test record is well formed")
}

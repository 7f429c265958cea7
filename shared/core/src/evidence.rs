//! placeholder: being written (helper-policy). Temporary attach_decision for the service.
use crate::approval::Approval;
use crate::decision::Decision;

/// Original §7.1.
pub fn attach_decision(decision: &Decision, approval: &Approval) -> Decision {
    let mut out = decision.clone();
    let mut refs = decision.evidence_refs();
    for r in &approval.evidence_refs {
        if !refs.contains(r) {
            refs.push(r.clone());
        }
    }
    out.as_map_mut().insert(
        "approval".into(),
        serde_json::to_value(approval.summary()).expect("summary"),
    );
    out.as_map_mut().insert(
        "evidence_refs".into(),
        serde_json::to_value(refs).expect("refs"),
    );
    out
}

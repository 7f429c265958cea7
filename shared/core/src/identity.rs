//! Actor contexts: who is acting, with which groups (original §4.1, CONTRACT §2).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::approval::IdentityKind;
use crate::rbac::RbacPolicy;

/// The acting identity, reduced from claims or a verified token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorContext {
    /// `email`, else `preferred_username`, else `sub`, else `unknown`.
    pub actor: String,
    /// The `sub` claim.
    pub subject: Option<String>,
    /// The `iss` claim.
    pub issuer: Option<String>,
    /// Groups after mapping: de-duplicated and sorted.
    pub groups: Vec<String>,
    /// The `repository` (else `repo`) claim.
    pub repository: Option<String>,
    /// How it was established.
    pub identity: IdentityKind,
}

fn claim_text(claims: &Map<String, Value>, key: &str) -> Option<String> {
    match claims.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn claim_list(claims: &Map<String, Value>, key: &str) -> Vec<String> {
    match claims.get(key) {
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect(),
        _ => Vec::new(),
    }
}

impl ActorContext {
    /// Builds a context from claims; `rbac` group mappings add their targets.
    pub fn from_claims(
        claims: &Map<String, Value>,
        rbac: Option<&RbacPolicy>,
        identity: IdentityKind,
    ) -> Self {
        let mut groups = claim_list(claims, "groups");
        if groups.is_empty() {
            groups = claim_list(claims, "roles");
        }
        if let Some(policy) = rbac {
            let mapped: Vec<String> = groups
                .iter()
                .filter_map(|g| policy.group_mappings.get(g).cloned())
                .collect();
            groups.extend(mapped);
        }
        groups.sort();
        groups.dedup();
        let actor = claim_text(claims, "email")
            .or_else(|| claim_text(claims, "preferred_username"))
            .or_else(|| claim_text(claims, "sub"))
            .unwrap_or_else(|| "unknown".to_owned());
        Self {
            actor,
            subject: claim_text(claims, "sub"),
            issuer: claim_text(claims, "iss"),
            groups,
            repository: claim_text(claims, "repository").or_else(|| claim_text(claims, "repo")),
            identity,
        }
    }

    /// Whether the actor is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn actor_falls_back_from_email_to_username_to_subject_to_unknown() {
        let c = |v| ActorContext::from_claims(&claims(v), None, IdentityKind::Unverified).actor;
        assert_eq!(
            c(json!({"email": "a@x", "preferred_username": "b", "sub": "c"})),
            "a@x"
        );
        assert_eq!(c(json!({"preferred_username": "b", "sub": "c"})), "b");
        assert_eq!(c(json!({"sub": "c"})), "c");
        assert_eq!(c(json!({})), "unknown");
    }

    #[test]
    fn groups_fall_back_to_roles_accept_a_string_and_come_out_sorted_and_unique() {
        let ctx = ActorContext::from_claims(
            &claims(json!({"roles": ["b", "a", "b"]})),
            None,
            IdentityKind::Unverified,
        );
        assert_eq!(ctx.groups, vec!["a", "b"]);
        let ctx = ActorContext::from_claims(
            &claims(json!({"groups": "IAM", "roles": ["x"]})),
            None,
            IdentityKind::Unverified,
        );
        assert_eq!(ctx.groups, vec!["IAM"]);
    }

    #[test]
    fn case_10_group_mappings_add_the_mapped_group_and_keep_the_source() {
        let rbac =
            RbacPolicy::from_value(&json!({"group_mappings": {"github-team:iam-admins": "IAM"}}))
                .unwrap();
        let ctx = ActorContext::from_claims(
            &claims(json!({"groups": ["github-team:iam-admins"]})),
            Some(&rbac),
            IdentityKind::Unverified,
        );
        assert_eq!(ctx.groups, vec!["IAM", "github-team:iam-admins"]);
    }
}

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
    /// The `email` claim, trimmed and lowercased ([`normalize_email`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// RFC 8693 `act.sub`: the party acting on behalf of `subject` (a delegated token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act_subject: Option<String>,
}

/// An email address as compared for separation of duties: trimmed and lowercased, so
/// `Dev@Example.com␠` and `dev@example.com` are one person.
pub fn normalize_email(email: &str) -> Option<String> {
    let trimmed = email.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_lowercase())
}

/// A declared actor name as compared for separation of duties: trimmed and lowercased.
pub fn normalize_name(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The keys that identify one human across tokens: `(issuer, subject)`, the normalised email,
/// the delegated actor `act.sub`, and for unverified actors the normalised declared name. Two
/// identities are the same person when their key sets meet.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PersonKeys {
    /// `issuer` + `subject` of a verified token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The token subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Normalised email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// RFC 8693 `act.sub` of the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act_subject: Option<String>,
}

impl PersonKeys {
    /// Whether `self` and `other` name the same person by any key.
    pub fn same_person(&self, other: &Self) -> bool {
        let subject = |keys: &Self| {
            keys.subject
                .as_ref()
                .map(|s| (keys.issuer.clone().unwrap_or_default(), s.clone()))
        };
        let acting = |keys: &Self| {
            keys.act_subject
                .as_ref()
                .map(|s| (keys.issuer.clone().unwrap_or_default(), s.clone()))
        };
        let ids = |keys: &Self| [subject(keys), acting(keys)];
        let shared_id = ids(self)
            .iter()
            .flatten()
            .any(|mine| ids(other).iter().flatten().any(|theirs| mine == theirs));
        let shared_email = self.email.is_some() && self.email == other.email;
        shared_id || shared_email
    }

    /// Whether no key is known.
    pub fn is_empty(&self) -> bool {
        self.subject.is_none() && self.email.is_none() && self.act_subject.is_none()
    }
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
        let act_subject = match claims.get("act") {
            Some(Value::Object(act)) => claim_text(act, "sub"),
            _ => None,
        };
        Self {
            actor: actor.trim().to_owned(),
            subject: claim_text(claims, "sub"),
            issuer: claim_text(claims, "iss"),
            groups,
            repository: claim_text(claims, "repository").or_else(|| claim_text(claims, "repo")),
            identity,
            email: claim_text(claims, "email").and_then(|e| normalize_email(&e)),
            act_subject,
        }
    }

    /// Whether the actor is in `group` (names compared after Unicode NFKC, see
    /// [`crate::groups::same_group`]).
    pub fn in_group(&self, group: &str) -> bool {
        self.groups
            .iter()
            .any(|g| crate::groups::same_group(g, group))
    }

    /// The keys that identify this person (see [`PersonKeys`]). Only a verified identity
    /// contributes its subject; claims files are self-declared and only give their email.
    pub fn person_keys(&self) -> PersonKeys {
        let verified = self.identity == IdentityKind::Oidc;
        PersonKeys {
            issuer: self.issuer.clone().filter(|_| verified),
            subject: self.subject.clone().filter(|_| verified),
            email: self.email.clone(),
            act_subject: self.act_subject.clone().filter(|_| verified),
        }
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

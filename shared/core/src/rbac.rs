//! Repository RBAC (original §5, with CONTRACT §2's fixes): group mappings, repository-scoped
//! grants, and the authorisation order.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::approval::CHANGE_ADVISORY_BOARD;
use crate::files::{FileError, read_structured};
use crate::identity::ActorContext;

/// An RBAC file could not be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RbacError {
    /// The file does not exist.
    #[error("approval RBAC policy file not found: {0}")]
    NotFound(String),
    /// The file is not JSON/YAML.
    #[error("approval RBAC policy file {path} is unreadable: {detail}")]
    Unreadable {
        /// The file.
        path: String,
        /// Parser or I/O message.
        detail: String,
    },
    /// The top level is not an object.
    #[error("approval RBAC policy file must contain an object")]
    NotAnObject,
    /// A key has the wrong shape.
    #[error("approval RBAC {0}")]
    BadKey(&'static str),
}

/// What an actor wants to do to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RbacAction {
    /// Approve.
    Approved,
    /// Deny.
    Denied,
    /// Expire.
    Expired,
    /// Send the request to the notification providers again (`deliver`).
    Delivered,
}

impl RbacAction {
    /// Parses a rule's action, accepting the aliases `approve`, `deny`, `expire`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "approved" | "approve" => Some(Self::Approved),
            "denied" | "deny" => Some(Self::Denied),
            "expired" | "expire" => Some(Self::Expired),
            "delivered" | "deliver" => Some(Self::Delivered),
            _ => None,
        }
    }
}

/// One repository-scoped grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepositoryPermission {
    /// Exact repository; `None` = any.
    pub repository: Option<String>,
    /// Exact approver group; `None` = any.
    pub approver_group: Option<String>,
    /// The actor needs one of these groups.
    pub groups: Vec<String>,
    /// What the grant allows (default approve and deny).
    pub actions: Vec<RbacAction>,
}

/// What `GET /console/session` shows for one grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PermissionView {
    /// Repository or `*`.
    pub repository: String,
    /// Group or `*`.
    pub approver_group: String,
    /// Sorted actions.
    pub actions: Vec<RbacAction>,
    /// Sorted groups.
    pub groups: Vec<String>,
}

/// A loaded RBAC policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RbacPolicy {
    /// External group → internal group.
    pub group_mappings: BTreeMap<String, String>,
    /// Repository grants.
    pub repository_permissions: Vec<RepositoryPermission>,
}

/// The request facts authorisation looks at.
#[derive(Debug, Clone, Copy)]
pub struct AuthzSubject<'a> {
    /// The request's approver group.
    pub approver_group: &'a str,
    /// Further groups whose members may vote (quorum `required_groups`).
    pub required_groups: &'a [String],
    /// The stored request's repository.
    pub repository: Option<&'a str>,
    /// Whether the request is a break-glass record.
    pub break_glass: bool,
}

fn string_list(value: &Value, what: &'static str) -> Result<Vec<String>, RbacError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned).ok_or(RbacError::BadKey(what)))
            .collect(),
        _ => Err(RbacError::BadKey(what)),
    }
}

fn optional_text(value: Option<&Value>, what: &'static str) -> Result<Option<String>, RbacError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(RbacError::BadKey(what)),
    }
}

impl RepositoryPermission {
    fn from_value(value: &Value) -> Result<Self, RbacError> {
        let Value::Object(map) = value else {
            return Err(RbacError::BadKey("repository permissions must be objects"));
        };
        let actions = match map.get("actions") {
            None | Some(Value::Null) => vec![RbacAction::Approved, RbacAction::Denied],
            Some(v) => {
                let mut actions = string_list(
                    v,
                    "actions must be a list of approved, denied, expired or delivered",
                )?
                .iter()
                .map(|a| {
                    RbacAction::parse(a).ok_or(RbacError::BadKey(
                        "actions must be a list of approved, denied, expired or delivered",
                    ))
                })
                .collect::<Result<Vec<_>, _>>()?;
                actions.sort();
                actions.dedup();
                actions
            }
        };
        let mut groups = string_list(
            map.get("groups").unwrap_or(&Value::Null),
            "permission groups must be a list of group names",
        )?;
        groups.sort();
        Ok(Self {
            repository: optional_text(
                map.get("repository"),
                "permission repository must be a string",
            )?,
            approver_group: optional_text(
                map.get("approver_group"),
                "permission approver_group must be a string",
            )?,
            groups,
            actions,
        })
    }

    fn grants(&self, ctx: &ActorContext, subject: &AuthzSubject<'_>, action: RbacAction) -> bool {
        self.repository
            .as_deref()
            .is_none_or(|r| subject.repository == Some(r))
            && self
                .approver_group
                .as_deref()
                .is_none_or(|g| crate::groups::same_group(g, subject.approver_group))
            && self.actions.contains(&action)
            && self.groups.iter().any(|g| ctx.in_group(g))
    }
}

impl RbacPolicy {
    /// Parses a policy object (`approval_rbac` wrapper optional).
    pub fn from_value(value: &Value) -> Result<Self, RbacError> {
        let Value::Object(outer) = value else {
            return Err(RbacError::NotAnObject);
        };
        let policy = match outer.get("approval_rbac") {
            Some(Value::Object(inner)) => inner,
            Some(_) => return Err(RbacError::NotAnObject),
            None => outer,
        };
        let group_mappings = match policy.get("group_mappings") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| {
                    v.as_str()
                        .map(|t| (k.clone(), t.to_owned()))
                        .ok_or(RbacError::BadKey(
                            "group_mappings must map group names to group names",
                        ))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(RbacError::BadKey(
                    "group_mappings must map group names to group names",
                ));
            }
        };
        let permissions = policy
            .get("repository_permissions")
            .or_else(|| policy.get("repositories"));
        let repository_permissions = match permissions {
            Some(Value::Array(items)) => items
                .iter()
                .map(RepositoryPermission::from_value)
                .collect::<Result<_, _>>()?,
            // The original: a non-array disables repository grants.
            _ => Vec::new(),
        };
        Ok(Self {
            group_mappings,
            repository_permissions,
        })
    }

    /// Loads an RBAC file (JSON, or YAML by suffix).
    pub fn load(path: &Path) -> Result<Self, RbacError> {
        let shown = path.display().to_string();
        let value = read_structured(path).map_err(|e| match e {
            FileError::NotFound => RbacError::NotFound(shown.clone()),
            other => RbacError::Unreadable {
                path: shown.clone(),
                detail: other.to_string(),
            },
        })?;
        Self::from_value(&value)
    }

    /// Whether `ctx` may take `action` on the request (original §5 order, `system` fixed).
    pub fn authorize(
        policy: Option<&Self>,
        ctx: &ActorContext,
        subject: &AuthzSubject<'_>,
        action: RbacAction,
    ) -> bool {
        if subject.break_glass && !ctx.in_group(CHANGE_ADVISORY_BOARD) {
            return false;
        }
        if policy.is_some_and(|p| {
            p.repository_permissions
                .iter()
                .any(|rule| rule.grants(ctx, subject, action))
        }) {
            return true;
        }
        ctx.in_group(subject.approver_group)
            || subject.required_groups.iter().any(|g| ctx.in_group(g))
    }

    /// Every group the policy names: mapping targets, grant groups and grant approver groups.
    pub fn group_names(&self) -> Vec<String> {
        self.group_mappings
            .values()
            .cloned()
            .chain(self.repository_permissions.iter().flat_map(|rule| {
                rule.groups
                    .iter()
                    .cloned()
                    .chain(rule.approver_group.clone())
            }))
            .collect()
    }

    /// The grants that share a group with `ctx` (for the console session view).
    pub fn permissions_for(&self, ctx: &ActorContext) -> Vec<PermissionView> {
        self.repository_permissions
            .iter()
            .filter(|rule| rule.groups.iter().any(|g| ctx.in_group(g)))
            .map(|rule| PermissionView {
                repository: rule.repository.clone().unwrap_or_else(|| "*".to_owned()),
                approver_group: rule
                    .approver_group
                    .clone()
                    .unwrap_or_else(|| "*".to_owned()),
                actions: rule.actions.clone(),
                groups: rule.groups.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::IdentityKind;
    use proptest::prelude::*;
    use serde_json::json;

    fn ctx(groups: &[&str]) -> ActorContext {
        ActorContext {
            actor: "someone@example.com".into(),
            subject: None,
            issuer: None,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            repository: None,
            identity: IdentityKind::Oidc,
            email: None,
            act_subject: None,
        }
    }

    fn subject<'a>(group: &'a str, repository: Option<&'a str>) -> AuthzSubject<'a> {
        AuthzSubject {
            approver_group: group,
            required_groups: &[],
            repository,
            break_glass: false,
        }
    }

    fn payments_policy() -> RbacPolicy {
        RbacPolicy::from_value(&json!({"approval_rbac": {
            "group_mappings": {"github-team:payments-owners": "Payments Owners"},
            "repository_permissions": [{"repository": "payments/api", "approver_group": "IAM",
                                        "groups": ["Payments Owners"], "actions": ["approved"]}]
        }}))
        .unwrap()
    }

    #[test]
    fn members_of_the_approver_group_may_act_everywhere() {
        assert!(RbacPolicy::authorize(
            None,
            &ctx(&["IAM"]),
            &subject("IAM", Some("any/repo")),
            RbacAction::Approved
        ));
        assert!(!RbacPolicy::authorize(
            None,
            &ctx(&["Developers"]),
            &subject("IAM", None),
            RbacAction::Approved
        ));
    }

    #[test]
    fn repository_grants_are_scoped_to_their_repository_group_and_actions() {
        let p = payments_policy();
        let owner = ctx(&["Payments Owners"]);
        assert!(RbacPolicy::authorize(
            Some(&p),
            &owner,
            &subject("IAM", Some("payments/api")),
            RbacAction::Approved
        ));
        assert!(!RbacPolicy::authorize(
            Some(&p),
            &owner,
            &subject("IAM", Some("payments/web")),
            RbacAction::Approved
        ));
        assert!(!RbacPolicy::authorize(
            Some(&p),
            &owner,
            &subject("IAM", Some("payments/api")),
            RbacAction::Denied
        ));
        assert!(!RbacPolicy::authorize(
            Some(&p),
            &owner,
            &subject("Cloud Security", Some("payments/api")),
            RbacAction::Approved
        ));
        assert!(!RbacPolicy::authorize(
            Some(&p),
            &owner,
            &subject("IAM", None),
            RbacAction::Approved
        ));
    }

    #[test]
    fn regression_an_idp_group_named_system_cannot_expire_any_request() {
        // Issue E §3: the `system` actor is the sweeper's alone; a token or claims file that
        // carries a group called `system` gets no rights from it.
        for action in [
            RbacAction::Expired,
            RbacAction::Approved,
            RbacAction::Denied,
        ] {
            assert!(!RbacPolicy::authorize(
                None,
                &ctx(&["system"]),
                &subject("IAM", None),
                action
            ));
        }
        assert!(RbacPolicy::authorize(
            None,
            &ctx(&["IAM"]),
            &subject("IAM", None),
            RbacAction::Expired
        ));
    }

    #[test]
    fn break_glass_records_need_the_change_advisory_board() {
        let mut s = subject("IAM", None);
        s.break_glass = true;
        assert!(!RbacPolicy::authorize(
            None,
            &ctx(&["IAM"]),
            &s,
            RbacAction::Approved
        ));
        assert!(RbacPolicy::authorize(
            None,
            &ctx(&["IAM", "Change Advisory Board"]),
            &s,
            RbacAction::Approved
        ));
    }

    #[test]
    fn required_groups_members_may_vote() {
        let groups = vec!["SRE".to_owned()];
        let s = AuthzSubject {
            approver_group: "IAM",
            required_groups: &groups,
            repository: None,
            break_glass: false,
        };
        assert!(RbacPolicy::authorize(
            None,
            &ctx(&["SRE"]),
            &s,
            RbacAction::Approved
        ));
    }

    #[test]
    fn defaults_aliases_and_the_repositories_key() {
        let p = RbacPolicy::from_value(
            &json!({"repositories": [{"groups": "G", "actions": ["approve", "expire"]}]}),
        )
        .unwrap();
        assert_eq!(
            p.repository_permissions[0].actions,
            vec![RbacAction::Approved, RbacAction::Expired]
        );
        let p = RbacPolicy::from_value(&json!({"repository_permissions": [{"groups": ["G"]}]}))
            .unwrap();
        assert_eq!(
            p.repository_permissions[0].actions,
            vec![RbacAction::Approved, RbacAction::Denied]
        );
        let views = p.permissions_for(&ctx(&["G"]));
        assert_eq!(views[0].repository, "*");
        assert_eq!(views[0].approver_group, "*");
    }

    #[test]
    fn malformed_policies_give_clear_messages() {
        assert_eq!(
            RbacPolicy::from_value(&json!([])).unwrap_err().to_string(),
            "approval RBAC policy file must contain an object"
        );
        assert!(RbacPolicy::from_value(&json!({"group_mappings": ["x"]})).is_err());
        assert!(
            RbacPolicy::from_value(&json!({"repository_permissions": [{"actions": ["launch"]}]}))
                .is_err()
        );
        assert_eq!(
            RbacPolicy::load(Path::new("/nonexistent/rbac.yaml"))
                .unwrap_err()
                .to_string(),
            "approval RBAC policy file not found: /nonexistent/rbac.yaml"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_rbac_text_never_panics(text in ".{0,160}", yaml in any::<bool>()) {
            if let Ok(value) = crate::files::parse_structured(&text, yaml) {
                let _ = RbacPolicy::from_value(&value);
            }
        }

        #[test]
        fn arbitrary_rbac_objects_parse_or_fail_cleanly(
            mappings in proptest::collection::btree_map("[a-z:]{1,8}", "[A-Z][a-z]{0,6}", 0..4),
            groups in proptest::collection::vec("[A-Za-z ]{0,8}", 0..4),
            actions in proptest::collection::vec(prop_oneof![Just("approved"), Just("deny"), Just("bogus")], 0..3),
        ) {
            let v = json!({"group_mappings": mappings, "repository_permissions": [{"groups": groups, "actions": actions}]});
            match RbacPolicy::from_value(&v) {
                Ok(p) => prop_assert!(!actions.contains(&"bogus") && p.repository_permissions.len() == 1),
                Err(e) => prop_assert!(actions.contains(&"bogus") && e.to_string().starts_with("approval RBAC")),
            }
        }
    }
}

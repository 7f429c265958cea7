//! Routing decisions to approver groups (original §3), with the contract's quorum keys (§3).

use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::decision::Decision;
use crate::files::{FileError, read_structured, scalar_text};

/// A routing file or rule could not be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RoutingError {
    /// The file does not exist.
    #[error("approval routing file not found: {0}")]
    NotFound(String),
    /// The file is not JSON/YAML.
    #[error("approval routing file {path} is unreadable: {detail}")]
    Unreadable {
        /// The file.
        path: String,
        /// Parser or I/O message.
        detail: String,
    },
    /// The top level is not a list of rules.
    #[error("approval routing file must contain a list of rules")]
    NotAList,
    /// A rule lacks its group.
    #[error("each approval routing rule must include approver_group")]
    MissingGroup,
    /// A quorum key has the wrong type.
    #[error("approval routing rule {key} {expected}")]
    BadKey {
        /// The key.
        key: &'static str,
        /// What it must be.
        expected: &'static str,
    },
}

/// One routing rule: criteria (all present ones must hold) and where the decision goes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct RoutingRule {
    /// Exact `rule_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// Prefix of `rule_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id_prefix: Option<String>,
    /// Exact `action_type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_type: Option<String>,
    /// Exact `severity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Exact `policy_pack`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_pack: Option<String>,
    /// Substring of `target`, compared case-insensitively.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_contains: Option<String>,
    /// The group the decision goes to.
    pub approver_group: String,
    /// Distinct approvals needed (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_approvals: Option<u32>,
    /// Groups that must each contribute an approval.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required_groups: Vec<String>,
    /// Whether the requester may approve their own request.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_self_approval: bool,
    /// Whether a requester-supplied `approver_group` may replace this rule's group (issue E:
    /// routing is authoritative; by default a supplied group is only added as a required one).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_requester_group: bool,
    /// How long an approval under this rule may be used, in seconds (issue F §2; default
    /// one hour). Written in files as a duration (`90s`, `30m`, `4h`) or whole seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_ttl: Option<u64>,
    /// How many times an approval under this rule may be used (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
    /// Remind the approver group every this many seconds while the request is pending
    /// (issue G §3). Written as a duration (`90s`, `30m`, `4h`) or whole seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remind_after: Option<u64>,
    /// After this many seconds pending, add [`RoutingRule::escalate_to`] to who may approve
    /// (issue G §3); set together with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalate_after: Option<u64>,
    /// The fallback group an unanswered request escalates to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalate_to: Option<String>,
}

impl RoutingRule {
    fn simple(prefix: &str, contains: Option<&str>, severity: Option<&str>, group: &str) -> Self {
        Self {
            rule_id_prefix: Some(prefix.to_owned()),
            target_contains: contains.map(str::to_owned),
            severity: severity.map(str::to_owned),
            approver_group: group.to_owned(),
            ..Self::default()
        }
    }

    /// Parses one rule object.
    pub fn from_value(value: &Value) -> Result<Self, RoutingError> {
        let Value::Object(map) = value else {
            return Err(RoutingError::MissingGroup);
        };
        let approver_group = map
            .get("approver_group")
            .and_then(scalar_text)
            .ok_or(RoutingError::MissingGroup)?;
        let text = |key: &str| map.get(key).and_then(scalar_text);
        Ok(Self {
            rule_id: text("rule_id"),
            rule_id_prefix: text("rule_id_prefix"),
            action_type: text("action_type"),
            severity: text("severity"),
            policy_pack: text("policy_pack"),
            target_contains: text("target_contains"),
            approver_group,
            required_approvals: required_approvals(map)?,
            required_groups: required_groups(map)?,
            allow_self_approval: flag(map, "allow_self_approval")?,
            allow_requester_group: flag(map, "allow_requester_group")?,
            grant_ttl: grant_ttl(map)?,
            max_uses: max_uses(map)?,
            remind_after: schedule_duration(map, "remind_after")?,
            escalate_after: schedule_duration(map, "escalate_after")?,
            escalate_to: escalate_to(map)?,
        })
        .and_then(Self::checked_escalation)
    }

    /// `escalate_after` and `escalate_to` come together or not at all.
    fn checked_escalation(self) -> Result<Self, RoutingError> {
        match (self.escalate_after, &self.escalate_to) {
            (Some(_), Some(_)) | (None, None) => Ok(self),
            (Some(_), None) => Err(RoutingError::BadKey {
                key: "escalate_after",
                expected: "needs escalate_to (the group to escalate to)",
            }),
            (None, Some(_)) => Err(RoutingError::BadKey {
                key: "escalate_to",
                expected: "needs escalate_after (how long to wait first)",
            }),
        }
    }

    /// Whether every present criterion holds for `decision`.
    pub fn matches(&self, decision: &Decision) -> bool {
        let exact = |criterion: &Option<String>, key: &str| {
            criterion
                .as_ref()
                .is_none_or(|want| decision.text_field(key) == *want)
        };
        exact(&self.rule_id, "rule_id")
            && exact(&self.action_type, "action_type")
            && exact(&self.severity, "severity")
            && exact(&self.policy_pack, "policy_pack")
            && self
                .rule_id_prefix
                .as_ref()
                .is_none_or(|prefix| decision.text_field("rule_id").starts_with(prefix.as_str()))
            && self.target_contains.as_ref().is_none_or(|needle| {
                // Case-insensitive (issue E §1: `IAM/x.tf` is `iam/x.tf`), so a respelling
                // never escapes a rule.
                decision
                    .text_field("target")
                    .to_lowercase()
                    .contains(&needle.to_lowercase())
            })
    }
}

fn flag(map: &Map<String, Value>, key: &'static str) -> Result<bool, RoutingError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(RoutingError::BadKey {
            key,
            expected: "must be true or false",
        }),
    }
}

fn required_approvals(map: &Map<String, Value>) -> Result<Option<u32>, RoutingError> {
    match map.get("required_approvals") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .filter(|n| (1..=100).contains(n))
            .map(|n| Some(n as u32))
            .ok_or(RoutingError::BadKey {
                key: "required_approvals",
                expected: "must be a whole number from 1 to 100",
            }),
    }
}

/// A duration written as text (`90s`, `30m`, `4h`, `1h 30m`) or whole seconds, from 1 second
/// to `max_seconds`.
pub fn duration_seconds(value: &Value, max_seconds: u64) -> Option<u64> {
    let seconds = match value {
        Value::Number(n) => n.as_u64()?,
        Value::String(text) => humantime::parse_duration(text.trim()).ok()?.as_secs(),
        _ => return None,
    };
    (1..=max_seconds).contains(&seconds).then_some(seconds)
}

fn grant_ttl(map: &Map<String, Value>) -> Result<Option<u64>, RoutingError> {
    match map.get("grant_ttl") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => duration_seconds(value, crate::approval::MAX_GRANT_TTL_SECONDS)
            .map(Some)
            .ok_or(RoutingError::BadKey {
                key: "grant_ttl",
                expected: "must be a duration such as 90s, 30m or 4h, from 1 second to 30 days",
            }),
    }
}

/// The longest reminder interval or escalation delay: 30 days.
pub const MAX_SCHEDULE_SECONDS: u64 = 30 * 24 * 3600;

fn schedule_duration(
    map: &Map<String, Value>,
    key: &'static str,
) -> Result<Option<u64>, RoutingError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => duration_seconds(value, MAX_SCHEDULE_SECONDS)
            .map(Some)
            .ok_or(RoutingError::BadKey {
                key,
                expected: "must be a duration such as 90s, 30m or 4h, from 1 second to 30 days",
            }),
    }
}

fn escalate_to(map: &Map<String, Value>) -> Result<Option<String>, RoutingError> {
    match map.get("escalate_to") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(group)) if !group.trim().is_empty() => Ok(Some(group.trim().to_owned())),
        Some(_) => Err(RoutingError::BadKey {
            key: "escalate_to",
            expected: "must be a group name",
        }),
    }
}

fn max_uses(map: &Map<String, Value>) -> Result<Option<u32>, RoutingError> {
    match map.get("max_uses") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=crate::approval::MAX_MAX_USES).contains(n))
            .map(Some)
            .ok_or(RoutingError::BadKey {
                key: "max_uses",
                expected: "must be a whole number from 1 to 1000",
            }),
    }
}

fn required_groups(map: &Map<String, Value>) -> Result<Vec<String>, RoutingError> {
    let bad = RoutingError::BadKey {
        key: "required_groups",
        expected: "must be a list of group names",
    };
    match map.get("required_groups") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .ok_or(bad.clone())
            })
            .collect(),
        Some(_) => Err(bad),
    }
}

/// An ordered rule list; the first match wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RoutingTable {
    rules: Vec<RoutingRule>,
}

impl Default for RoutingTable {
    /// The original's default table (§3.1).
    fn default() -> Self {
        Self {
            rules: vec![
                RoutingRule::simple("filesystem.write", Some("iam/"), None, "IAM"),
                RoutingRule::simple(
                    "filesystem.write",
                    Some(".github/workflows"),
                    None,
                    "Platform Security",
                ),
                RoutingRule::simple(
                    "commands.default",
                    None,
                    Some("medium"),
                    "Repository Owners",
                ),
                RoutingRule::simple("commands.block", Some("terraform"), None, "Cloud Security"),
                RoutingRule::simple("mcp.", None, None, "AI Governance"),
                // Issue E §2: every decision the baseline pack can produce has a routed group,
                // blocked ones included (the original routed these nowhere, so a requester had
                // to name a group and could name any).
                RoutingRule::simple("commands.block", Some("git"), None, "Repository Owners"),
                RoutingRule::simple("commands.block", None, None, "Cloud Security"),
                RoutingRule::simple("commands.", None, None, "Repository Owners"),
                RoutingRule::simple("filesystem.", None, None, "Platform Security"),
                RoutingRule::simple("git.", None, None, "Repository Owners"),
            ],
        }
    }
}

impl RoutingTable {
    /// A table of these rules.
    pub fn new(rules: Vec<RoutingRule>) -> Self {
        Self { rules }
    }

    /// The rules in order.
    pub fn rules(&self) -> &[RoutingRule] {
        &self.rules
    }

    /// Parses the three accepted shapes: a bare list, `{approval_routing: [...]}`, or
    /// `{routing_rules: [...]}` (the latter only when the former key is absent).
    pub fn from_value(value: &Value) -> Result<Self, RoutingError> {
        let list = match value {
            Value::Array(items) => items,
            Value::Object(map) => match map
                .get("approval_routing")
                .or_else(|| map.get("routing_rules"))
            {
                Some(Value::Array(items)) => items,
                _ => return Err(RoutingError::NotAList),
            },
            _ => return Err(RoutingError::NotAList),
        };
        let rules = list
            .iter()
            .map(RoutingRule::from_value)
            .collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }

    /// Loads a routing file (JSON, or YAML by suffix). It replaces the default table.
    pub fn load(path: &Path) -> Result<Self, RoutingError> {
        let shown = path.display().to_string();
        let value = read_structured(path).map_err(|e| match e {
            FileError::NotFound => RoutingError::NotFound(shown.clone()),
            other => RoutingError::Unreadable {
                path: shown.clone(),
                detail: other.to_string(),
            },
        })?;
        Self::from_value(&value)
    }

    /// Every group a rule routes to or requires.
    pub fn group_names(&self) -> Vec<String> {
        self.rules
            .iter()
            .flat_map(|r| {
                std::iter::once(&r.approver_group)
                    .chain(&r.required_groups)
                    .chain(&r.escalate_to)
            })
            .cloned()
            .collect()
    }

    /// The first rule matching `decision`.
    pub fn route(&self, decision: &Decision) -> Option<&RoutingRule> {
        self.rules.iter().find(|rule| rule.matches(decision))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn iam_decision() -> Decision {
        Decision::from_value(json!({
            "decision_id": "dec_1", "rule_id": "filesystem.write.require_approval",
            "target": "iam/admin-role.tf", "severity": "high", "approver_group": "Platform Security"
        }))
        .unwrap()
    }

    fn group(table: &RoutingTable, decision: serde_json::Value) -> Option<String> {
        table
            .route(&Decision::from_value(decision).unwrap())
            .map(|r| r.approver_group.clone())
    }

    #[test]
    fn the_default_table_routes_every_documented_case() {
        let t = RoutingTable::default();
        assert_eq!(group(&t, json!({"rule_id": "filesystem.write.require_approval", "target": "iam/admin-role.tf"})).as_deref(), Some("IAM"));
        assert_eq!(
            group(
                &t,
                json!({"rule_id": "filesystem.write.block", "target": ".github/workflows/ci.yml"})
            )
            .as_deref(),
            Some("Platform Security")
        );
        assert_eq!(group(&t, json!({"rule_id": "commands.default.require_approval", "severity": "medium", "target": "make deploy"})).as_deref(), Some("Repository Owners"));
        assert_eq!(
            group(
                &t,
                json!({"rule_id": "commands.block", "target": "terraform apply -auto-approve"})
            )
            .as_deref(),
            Some("Cloud Security")
        );
        assert_eq!(
            group(
                &t,
                json!({"rule_id": "mcp.registry.requires_approval", "target": "x:y"})
            )
            .as_deref(),
            Some("AI Governance")
        );
    }

    #[test]
    fn every_baseline_decision_has_a_routed_group_blocked_ones_included() {
        // The original routed these nowhere (§3.1); issue E §2 gives each a group so a
        // requester never has to (and never gets to) choose one.
        let t = RoutingTable::default();
        let table: &[(&str, &str, &str)] = &[
            (
                "filesystem.write.require_approval",
                "security/x.tf",
                "Platform Security",
            ),
            (
                "filesystem.write.require_approval",
                "policies/p.yaml",
                "Platform Security",
            ),
            (
                "filesystem.write.block",
                "infra/main.tf",
                "Platform Security",
            ),
            ("filesystem.read.block", ".env", "Platform Security"),
            ("commands.block", "kubectl delete ns", "Cloud Security"),
            (
                "commands.block",
                "aws iam create-access-key",
                "Cloud Security",
            ),
            (
                "commands.block",
                "git push origin main",
                "Repository Owners",
            ),
            ("commands.block", "terraform apply", "Cloud Security"),
            (
                "commands.default.require_approval",
                "make deploy",
                "Repository Owners",
            ),
            (
                "git.protected_branch.block_direct_push",
                "origin/main",
                "Repository Owners",
            ),
        ];
        for (rule_id, target, want) in table {
            assert_eq!(
                group(&t, json!({"rule_id": rule_id, "target": target})).as_deref(),
                Some(*want),
                "{rule_id} {target}"
            );
        }
    }

    #[test]
    fn regression_a_respelled_iam_target_still_routes_to_iam() {
        let t = RoutingTable::default();
        for target in ["IAM/admin-role.tf", "Iam/x.tf", "src/IAM/x.tf"] {
            assert_eq!(
                group(
                    &t,
                    json!({"rule_id": "filesystem.write.require_approval", "target": target})
                )
                .as_deref(),
                Some("IAM"),
                "{target}"
            );
        }
    }

    #[test]
    fn case_6_an_iam_decision_without_its_own_group_routes_to_iam() {
        let mut d = iam_decision();
        d.as_map_mut().remove("approver_group");
        assert_eq!(
            RoutingTable::default().route(&d).unwrap().approver_group,
            "IAM"
        );
    }

    #[test]
    fn case_7_and_8_all_three_file_shapes_load() {
        let rule = json!({"rule_id_prefix": "filesystem.write", "target_contains": "iam/", "approver_group": "Cloud IAM Owners"});
        for shape in [
            json!({"approval_routing": [rule]}),
            json!([rule]),
            json!({"routing_rules": [rule]}),
        ] {
            let table = RoutingTable::from_value(&shape).unwrap();
            assert_eq!(table.rules()[0].approver_group, "Cloud IAM Owners");
            assert_eq!(
                table.route(&iam_decision()).unwrap().approver_group,
                "Cloud IAM Owners"
            );
        }
    }

    #[test]
    fn approval_routing_wins_over_routing_rules() {
        let v = json!({"approval_routing": [{"approver_group": "A"}], "routing_rules": [{"approver_group": "B"}]});
        assert_eq!(
            RoutingTable::from_value(&v).unwrap().rules()[0].approver_group,
            "A"
        );
    }

    #[test]
    fn malformed_files_give_the_original_messages() {
        assert_eq!(
            RoutingTable::from_value(&json!({"rules": []}))
                .unwrap_err()
                .to_string(),
            "approval routing file must contain a list of rules"
        );
        assert_eq!(
            RoutingTable::from_value(&json!({"approval_routing": {}})).unwrap_err(),
            RoutingError::NotAList
        );
        assert_eq!(
            RoutingTable::from_value(&Value::Null).unwrap_err(),
            RoutingError::NotAList
        );
        assert_eq!(
            RoutingTable::from_value(&json!([{"target_contains": "x"}]))
                .unwrap_err()
                .to_string(),
            "each approval routing rule must include approver_group"
        );
        assert_eq!(
            RoutingTable::from_value(&json!([{"approver_group": ""}])).unwrap_err(),
            RoutingError::MissingGroup
        );
        assert_eq!(
            RoutingTable::from_value(&json!(["IAM"])).unwrap_err(),
            RoutingError::MissingGroup
        );
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let err = RoutingTable::load(Path::new("/nonexistent/routing.json")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "approval routing file not found: /nonexistent/routing.json"
        );
    }

    #[test]
    fn yaml_files_load_by_suffix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routing.yaml");
        std::fs::write(&path, "routing_rules:\n  - rule_id_prefix: commands.block\n    target_contains: terraform\n    approver_group: Cloud Platform CAB\n    required_approvals: 2\n    required_groups: [Cloud Security, SRE]\n").unwrap();
        let table = RoutingTable::load(&path).unwrap();
        let rule = &table.rules()[0];
        assert_eq!(rule.approver_group, "Cloud Platform CAB");
        assert_eq!(rule.required_approvals, Some(2));
        assert_eq!(rule.required_groups, vec!["Cloud Security", "SRE"]);
    }

    #[test]
    fn quorum_keys_are_validated() {
        let err =
            RoutingTable::from_value(&json!([{"approver_group": "A", "required_approvals": 0}]))
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "approval routing rule required_approvals must be a whole number from 1 to 100"
        );
        assert!(
            RoutingTable::from_value(&json!([{"approver_group": "A", "required_groups": "x"}]))
                .is_err()
        );
        assert!(
            RoutingTable::from_value(
                &json!([{"approver_group": "A", "allow_self_approval": "yes"}])
            )
            .is_err()
        );
    }

    #[test]
    fn target_contains_ignores_case_and_a_rule_without_criteria_matches_everything() {
        let t = RoutingTable::from_value(&json!([{"target_contains": "IAM/", "approver_group": "X"}, {"approver_group": "Catch-all"}])).unwrap();
        assert_eq!(t.route(&iam_decision()).unwrap().approver_group, "X");
        let other =
            Decision::from_value(json!({"decision_id": "d", "target": "src/lib.rs"})).unwrap();
        assert_eq!(t.route(&other).unwrap().approver_group, "Catch-all");
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[ -~]{0,10}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("approver_group".to_owned()),
                        Just("approval_routing".to_owned()),
                        Just("required_approvals".to_owned()),
                        Just("required_groups".to_owned()),
                        "[a-z_]{1,8}"
                    ],
                    inner,
                    0..5
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_routing_values_parse_or_fail_cleanly(value in arb_json()) {
            if let Ok(table) = RoutingTable::from_value(&value) {
                for rule in table.rules() {
                    prop_assert!(!rule.approver_group.is_empty());
                }
            }
        }

        #[test]
        fn arbitrary_routing_text_never_panics(text in ".{0,120}", yaml in any::<bool>()) {
            if let Ok(value) = crate::files::parse_structured(&text, yaml) {
                let _ = RoutingTable::from_value(&value);
            }
        }
    }
}

//! The decision object the policy engine emits (original §1), kept verbatim.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::digest::{canonical_json, sha256_hex};

/// A decision: a JSON object whose every key is preserved (the approval record embeds it whole).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Decision(Map<String, Value>);

/// Parses JSON text like `serde_json::from_str`, but refuses an object that names a key twice
/// (issue E §6): parsers disagree on which duplicate wins, so a gate must not guess. Numbers
/// keep every digit (`arbitrary_precision`).
///
/// # Errors
/// Invalid JSON, or `duplicate key "K"` with the position of the second occurrence.
pub fn parse_json_strict(text: &str) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    UniqueKeys::deserialize(&mut deserializer)?;
    deserializer.end()?;
    serde_json::from_str(text)
}

/// Walks a JSON document and fails on the first object with a repeated key.
struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_none<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    // With `arbitrary_precision` a number also arrives as a one-key map; one key never repeats.
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }
}

/// A decision could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// The file does not exist.
    #[error("decision file not found: {0}")]
    NotFound(String),
    /// The file could not be read.
    #[error("could not read decision file {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not JSON.
    #[error("decision file {path} is not valid JSON: {detail}")]
    NotJson {
        /// The file (or `<input>`).
        path: String,
        /// The parser's message.
        detail: String,
    },
    /// The JSON is not an object.
    #[error("decision must be a JSON object")]
    NotAnObject,
}

/// The engine's outcomes (original §1.2), plus the two the activity store accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Safe; continues.
    Allow,
    /// Continues with an attestation.
    AllowWithAttestation,
    /// Continues with a warning.
    Warn,
    /// Recorded only.
    AuditOnly,
    /// Stopped; break-glass may override.
    Block,
    /// Needs a human.
    RequireApproval,
}

impl Outcome {
    /// Every outcome's wire name, sorted, as the original lists them.
    pub const NAMES: &'static str =
        "allow, allow_with_attestation, audit_only, block, require_approval, warn";

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "allow" => Self::Allow,
            "allow_with_attestation" => Self::AllowWithAttestation,
            "warn" => Self::Warn,
            "audit_only" => Self::AuditOnly,
            "block" => Self::Block,
            "require_approval" => Self::RequireApproval,
            _ => return None,
        })
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::AllowWithAttestation => "allow_with_attestation",
            Self::Warn => "warn",
            Self::AuditOnly => "audit_only",
            Self::Block => "block",
            Self::RequireApproval => "require_approval",
        }
    }

    /// Whether a human approval request makes sense for this outcome (CONTRACT §4).
    pub fn needs_approval(self) -> bool {
        matches!(self, Self::Block | Self::RequireApproval)
    }
}

impl Decision {
    /// Wraps a JSON object.
    pub fn from_map(map: Map<String, Value>) -> Self {
        Self(map)
    }

    /// Takes a JSON value that must be an object.
    pub fn from_value(value: Value) -> Result<Self, DecisionError> {
        match value {
            Value::Object(map) => Ok(Self(map)),
            _ => Err(DecisionError::NotAnObject),
        }
    }

    /// Parses JSON text, refusing duplicate keys; `origin` names the source in errors.
    pub fn from_json_str(text: &str, origin: &str) -> Result<Self, DecisionError> {
        let value: Value = parse_json_strict(text).map_err(|e| DecisionError::NotJson {
            path: origin.to_owned(),
            detail: e.to_string(),
        })?;
        Self::from_value(value)
    }

    /// Reads a decision file.
    pub fn read_file(path: &Path) -> Result<Self, DecisionError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                DecisionError::NotFound(shown.clone())
            } else {
                DecisionError::Unreadable {
                    path: shown.clone(),
                    source,
                }
            }
        })?;
        Self::from_json_str(&text, &shown)
    }

    /// The raw object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The raw object, mutably.
    pub fn as_map_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.0
    }

    /// Unwraps into the raw object.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// A string-valued key, or `None` when absent, null or not a string.
    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// A key rendered as text the way the original stringifies it (missing → empty).
    pub fn text_field(&self, key: &str) -> String {
        match self.0.get(key) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }
    }

    /// `decision_id` when present and non-empty.
    pub fn decision_id(&self) -> Option<&str> {
        self.str_field("decision_id").filter(|id| !id.is_empty())
    }

    /// The outcome key (`decision`) as written.
    pub fn outcome_text(&self) -> Option<&str> {
        self.str_field("decision")
    }

    /// The parsed outcome, if the key holds a known one.
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome_text().and_then(Outcome::parse)
    }

    /// The repository the action is in: `repository`, else `repo` (original §5).
    pub fn repository(&self) -> Option<&str> {
        self.str_field("repository")
            .filter(|r| !r.is_empty())
            .or_else(|| self.str_field("repo").filter(|r| !r.is_empty()))
    }

    /// The engine's own approver-group suggestion, when non-empty.
    pub fn approver_group(&self) -> Option<&str> {
        self.str_field("approver_group").filter(|g| !g.is_empty())
    }

    /// `evidence_refs` strings (others ignored).
    pub fn evidence_refs(&self) -> Vec<String> {
        self.0
            .get("evidence_refs")
            .and_then(Value::as_array)
            .map(|refs| {
                refs.iter()
                    .filter_map(|r| r.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// SHA-256 of the canonical JSON of the decision (CONTRACT §5).
    pub fn digest(&self) -> String {
        #[allow(clippy::expect_used)] // a parsed JSON object always serialises
        let text = canonical_json(&self.0).expect("a parsed JSON object is always serialisable");
        sha256_hex(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn regression_duplicate_keys_are_refused_at_any_depth() {
        for text in [
            r#"{"decision":"allow","decision":"block"}"#,
            r#"{"decision_id":"d","meta":{"a":1,"a":2}}"#,
            r#"{"d":[{"x":1},{"y":1,"y":2}]}"#,
            r#"{"\u0061":1,"a":2}"#,
        ] {
            let error = Decision::from_json_str(text, "<input>").unwrap_err();
            assert!(
                error.to_string().contains("duplicate key"),
                "{text}: {error}"
            );
        }
        // Same key in sibling objects, and numbers of every size, are fine.
        let fine = r#"{"a":{"k":1},"b":{"k":9007199254740993},"c":[1e400,-0.0]}"#;
        let decision = Decision::from_json_str(fine, "<input>").unwrap();
        assert_eq!(
            decision.as_map()["b"]["k"].to_string(),
            "9007199254740993",
            "big integers are kept exactly"
        );
    }

    #[test]
    fn regression_decisions_differing_beyond_2_pow_53_have_different_digests() {
        let one =
            Decision::from_json_str(r#"{"decision_id":"d","n":9007199254740992}"#, "x").unwrap();
        let two =
            Decision::from_json_str(r#"{"decision_id":"d","n":9007199254740993}"#, "x").unwrap();
        assert_ne!(one.digest(), two.digest());
    }

    #[test]
    fn the_digest_ignores_key_order_and_whitespace() {
        let a =
            Decision::from_json_str(r#"{"decision_id": "dec_1", "target": "iam/x"}"#, "a").unwrap();
        let b = Decision::from_json_str("{\"target\":\"iam/x\",\n \"decision_id\":\"dec_1\"}", "b")
            .unwrap();
        assert_eq!(a.digest(), b.digest());
        assert_eq!(a.digest().len(), 64);
    }

    #[test]
    fn a_changed_value_changes_the_digest() {
        let a = Decision::from_value(json!({"decision_id": "dec_1", "target": "iam/x"})).unwrap();
        let b = Decision::from_value(json!({"decision_id": "dec_1", "target": "iam/y"})).unwrap();
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn non_objects_are_refused_with_a_clear_message() {
        let err = Decision::from_json_str("[1]", "x.json").unwrap_err();
        assert_eq!(err.to_string(), "decision must be a JSON object");
        let err = Decision::from_json_str("{", "x.json").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("decision file x.json is not valid JSON")
        );
    }

    #[test]
    fn an_empty_decision_id_counts_as_missing() {
        let d = Decision::from_value(json!({"decision_id": ""})).unwrap();
        assert_eq!(d.decision_id(), None);
    }

    #[test]
    fn repository_falls_back_to_repo() {
        let d = Decision::from_value(json!({"repo": "payments/api"})).unwrap();
        assert_eq!(d.repository(), Some("payments/api"));
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let _ = Decision::from_json_str(&text, "fuzz");
        }

        #[test]
        fn arbitrary_json_objects_parse_and_digest(keys in proptest::collection::btree_map("[a-z_]{1,8}", "[ -~]{0,12}", 0..8)) {
            let map: Map<String, Value> = keys.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            let text = serde_json::to_string(&map).unwrap();
            let d = Decision::from_json_str(&text, "fuzz").unwrap();
            prop_assert_eq!(d.digest().len(), 64);
        }
    }
}

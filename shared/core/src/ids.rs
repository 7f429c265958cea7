//! Identifiers: `apr_` + 12 lowercase hex characters, and the port that makes them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A well-formed approval id (`^apr_[0-9a-f]{12}$`), as new requests get.
///
/// Lookups take plain `&str`: records written by other tools may carry other ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApprovalId(String);

/// The text is not `apr_` followed by 12 lowercase hex characters.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("approval id must be apr_ followed by 12 lowercase hex characters: {0}")]
pub struct InvalidApprovalId(String);

impl ApprovalId {
    /// Validates `text`.
    pub fn parse(text: &str) -> Result<Self, InvalidApprovalId> {
        let hex = text
            .strip_prefix("apr_")
            .ok_or_else(|| InvalidApprovalId(text.to_owned()))?;
        let ok = hex.len() == 12 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidApprovalId(text.to_owned()))
        }
    }

    /// Builds the id from 12 random hex characters (the first 12 of a UUID4, as the original).
    pub fn from_hex12(hex: &str) -> Result<Self, InvalidApprovalId> {
        Self::parse(&format!("apr_{hex}"))
    }

    /// The id an idempotency key fixes: `apr_` + the first 12 hex digits of its SHA-256.
    pub fn from_key(key: &str) -> Self {
        let digest = crate::digest::sha256_hex(key);
        Self(format!("apr_{}", digest.get(..12).unwrap_or_default()))
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ApprovalId {
    type Error = InvalidApprovalId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ApprovalId> for String {
    fn from(id: ApprovalId) -> Self {
        id.0
    }
}

impl fmt::Display for ApprovalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id port: where new approval ids come from.
pub trait IdGenerator: Send + Sync {
    /// A fresh approval id.
    fn approval_id(&self) -> ApprovalId;
}

/// Random ids from UUID4, as the original makes them.
#[cfg(feature = "runtime")]
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

/// The first 12 lowercase hex characters of a random UUID4 (the original's id suffix for
/// approvals, decisions and correlation ids).
#[cfg(feature = "runtime")]
pub fn random_hex12() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

#[cfg(feature = "runtime")]
impl IdGenerator for RandomIds {
    fn approval_id(&self) -> ApprovalId {
        // A UUID's simple form is lowercase hex.
        ApprovalId(format!("apr_{}", random_hex12()))
    }
}

/// Sequential ids for tests: `apr_000000000001`, `apr_000000000002`, …
#[derive(Debug, Default)]
pub struct SequentialIds(std::sync::atomic::AtomicU64);

impl IdGenerator for SequentialIds {
    fn approval_id(&self) -> ApprovalId {
        let n = self
            .0
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            .wrapping_add(1)
            & 0xffff_ffff_ffff;
        ApprovalId(format!("apr_{n:012x}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn well_formed_ids_parse() {
        assert_eq!(
            ApprovalId::parse("apr_0123456789ab").unwrap().as_str(),
            "apr_0123456789ab"
        );
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "apr_123",
            "apr_0123456789AB",
            "dec_0123456789ab",
            "apr_0123456789abc",
            "",
        ] {
            assert!(ApprovalId::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[cfg(feature = "runtime")]
    #[test]
    fn random_ids_are_well_formed_and_distinct() {
        let a = RandomIds.approval_id();
        let b = RandomIds.approval_id();
        assert_ne!(a, b);
        assert!(ApprovalId::parse(a.as_str()).is_ok());
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_accepts_only_the_documented_form(text in ".{0,24}") {
            let accepted = ApprovalId::parse(&text).is_ok();
            let expected = text.len() == 16 && text.starts_with("apr_")
                && text[4..].bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            prop_assert_eq!(accepted, expected);
        }
    }
}

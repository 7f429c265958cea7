//! Canonical JSON (RFC 8785: keys sorted, no whitespace) and SHA-256 digests over it.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The canonical JSON text of `value` (RFC 8785 JSON Canonicalization Scheme).
///
/// # Errors
/// Fails only for values JSON cannot hold (non-finite floats).
pub fn canonical_json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    serde_json_canonicalizer::to_string(value)
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(bytes.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let value = json!({"b": 1, "a": {"d": [1, 2], "c": "x"}});
        assert_eq!(
            canonical_json(&value).unwrap(),
            r#"{"a":{"c":"x","d":[1,2]},"b":1}"#
        );
    }

    #[test]
    fn key_order_does_not_change_the_digest() {
        let one: serde_json::Value =
            serde_json::from_str(r#"{"x": 1, "y": [true, null]}"#).unwrap();
        let two: serde_json::Value =
            serde_json::from_str(r#"{"y": [true, null], "x": 1}"#).unwrap();
        assert_eq!(
            sha256_hex(canonical_json(&one).unwrap()),
            sha256_hex(canonical_json(&two).unwrap())
        );
    }

    #[test]
    fn sha256_of_empty_input_is_the_well_known_value() {
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}

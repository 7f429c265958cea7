//! Standard Webhooks signing (CONTRACT §8): the secret is `whsec_<base64 key>`; each request
//! carries `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The message id header.
pub const WEBHOOK_ID: &str = "webhook-id";
/// The timestamp header.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// The signature header.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
/// The secret's prefix.
pub const SECRET_PREFIX: &str = "whsec_";

/// A signing secret that is not `whsec_` followed by a non-empty base64 key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing secret must be whsec_ followed by a base64 key")]
pub struct InvalidSigningSecret;

/// A decoded signing key.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// Decodes `whsec_<base64>`.
    ///
    /// # Errors
    /// [`InvalidSigningSecret`] for any other shape.
    pub fn parse(secret: &str) -> Result<Self, InvalidSigningSecret> {
        let encoded = secret
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or(InvalidSigningSecret)?;
        let key = STANDARD.decode(encoded).map_err(|_| InvalidSigningSecret)?;
        if key.is_empty() {
            return Err(InvalidSigningSecret);
        }
        Ok(Self(key))
    }

    /// The `webhook-signature` value for one message.
    pub fn sign(&self, message_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(message_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whsec_base64_secrets_parse() {
        assert!(SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        assert_eq!(
            SigningKey::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err(),
            InvalidSigningSecret
        );
        assert!(SigningKey::parse("whsec_not base64!").is_err());
        assert!(SigningKey::parse("whsec_").is_err());
    }

    #[test]
    fn the_standard_webhooks_reference_vector_verifies() {
        // The example secret, id, timestamp and payload published with the Standard Webhooks
        // specification, and the signature it lists for them.
        let key = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = key.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}

//! The keys that seal approval records (issue E §5).
//!
//! A key ring is written as `KEY_ID:SECRET` entries separated by commas or newlines (blank lines
//! and `#` comments are ignored); the first entry is the current key, which seals every write;
//! the others stay only to verify records sealed before a rotation. A secret is hex (at least 64
//! hex digits) or standard base64, and must hold at least 32 bytes. An entry without `KEY_ID:`
//! gets the id `k-` + the first 8 hex digits of the SHA-256 of its secret.
//!
//! The ring comes from `CAVRA_APPROVAL_CHAIN_KEY`, a Secrets Manager secret in the cloud, or the
//! `0600` key file `migrate` creates beside a local database: somewhere the agent that asks for
//! approval does not write.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::digest::sha256_hex;

/// The fewest secret bytes a key may have.
pub const MIN_SECRET_BYTES: usize = 32;
/// The longest key id.
const MAX_KEY_ID_CHARS: usize = 64;

/// One sealing key. Its secret is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ChainKey {
    id: String,
    secret: Vec<u8>,
}

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainKey")
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

impl ChainKey {
    /// A key from its id and secret bytes.
    ///
    /// # Errors
    /// An id outside `[A-Za-z0-9._-]{1,64}`, or fewer than [`MIN_SECRET_BYTES`] bytes.
    pub fn new(id: &str, secret: Vec<u8>) -> Result<Self, ChainKeyError> {
        let id_ok = !id.is_empty()
            && id.chars().count() <= MAX_KEY_ID_CHARS
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !id_ok {
            return Err(ChainKeyError::BadId(id.to_owned()));
        }
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ChainKeyError::TooShort(id.to_owned()));
        }
        Ok(Self {
            id: id.to_owned(),
            secret,
        })
    }

    /// The key id recorded beside what it sealed.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The secret bytes (for the MAC only).
    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }
}

/// A key ring could not be read. Messages never contain a secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainKeyError {
    /// Nothing but blanks and comments.
    #[error("the chain key is empty")]
    Empty,
    /// A key id with characters outside `[A-Za-z0-9._-]` or longer than 64.
    #[error("chain key id {0:?} is not valid: use 1 to 64 of A-Z a-z 0-9 . _ -")]
    BadId(String),
    /// A secret that is neither hex nor base64.
    #[error("chain key {0} is neither hex nor base64")]
    NotEncoded(String),
    /// A secret with fewer than 32 bytes.
    #[error(
        "chain key {0} is too short: at least 32 bytes (64 hex digits, or 44 base64 characters) are needed"
    )]
    TooShort(String),
    /// Two keys with one id.
    #[error("chain key id {0} appears twice")]
    DuplicateId(String),
}

/// The current key and the keys kept for verifying older records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainKeyRing {
    current: ChainKey,
    older: Vec<ChainKey>,
}

fn decode_secret(id: &str, text: &str) -> Result<Vec<u8>, ChainKeyError> {
    let text = text.trim();
    if text.len() >= 2 * MIN_SECRET_BYTES
        && text.len().is_multiple_of(2)
        && text.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return hex::decode(text).map_err(|_| ChainKeyError::NotEncoded(id.to_owned()));
    }
    STANDARD
        .decode(text)
        .map_err(|_| ChainKeyError::NotEncoded(id.to_owned()))
}

impl ChainKeyRing {
    /// A ring of one key.
    pub fn single(key: ChainKey) -> Self {
        Self {
            current: key,
            older: Vec::new(),
        }
    }

    /// Reads a ring (see the module documentation for the format).
    ///
    /// # Errors
    /// See [`ChainKeyError`].
    pub fn parse(text: &str) -> Result<Self, ChainKeyError> {
        let mut keys: Vec<ChainKey> = Vec::new();
        for entry in text
            .split([',', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty() && !e.starts_with('#'))
        {
            let key = if let Some((id, secret)) = entry.split_once(':') {
                let id = id.trim();
                ChainKey::new(id, decode_secret(id, secret)?)?
            } else {
                let secret = decode_secret("(unnamed)", entry)?;
                let id = format!("k-{}", &sha256_hex(&secret)[..8]);
                ChainKey::new(&id, secret)?
            };
            if keys.iter().any(|k| k.id == key.id) {
                return Err(ChainKeyError::DuplicateId(key.id));
            }
            keys.push(key);
        }
        let mut keys = keys.into_iter();
        let current = keys.next().ok_or(ChainKeyError::Empty)?;
        Ok(Self {
            current,
            older: keys.collect(),
        })
    }

    /// The key that seals new writes.
    pub fn current(&self) -> &ChainKey {
        &self.current
    }

    /// The key with `id`, current or kept for verification.
    pub fn get(&self, id: &str) -> Option<&ChainKey> {
        std::iter::once(&self.current)
            .chain(&self.older)
            .find(|k| k.id == id)
    }

    /// The ids, current first.
    pub fn ids(&self) -> Vec<&str> {
        std::iter::once(&self.current)
            .chain(&self.older)
            .map(|k| k.id.as_str())
            .collect()
    }

    /// The text of a new ring around `secret` (what `migrate` writes into a key file).
    pub fn file_text(id: &str, secret: &[u8]) -> String {
        format!(
            "# CAVRA approval chain key (issue E §5). Keep this file away from agents.\n\
             # Rotate by adding a new first line; keep old lines to verify older records.\n\
             {id}:{}\n",
            hex::encode(secret)
        )
    }
}

/// The key file kept beside a local store: `approvals.db` → `approvals.db.chain-key`.
pub fn key_file_beside(store: &std::path::Path) -> std::path::PathBuf {
    let mut name = store
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(".chain-key");
    store.with_file_name(name)
}

/// Reads a key file; `Ok(None)` when there is none.
///
/// # Errors
/// The file exists but cannot be read, or does not hold a ring.
pub fn read_key_file(path: &std::path::Path) -> Result<Option<ChainKeyRing>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => ChainKeyRing::parse(&text)
            .map(Some)
            .map_err(|e| format!("chain key file {}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!(
            "cannot read chain key file {}: {e}",
            path.display()
        )),
    }
}

/// The ring a local deployment uses: `CAVRA_APPROVAL_CHAIN_KEY`'s text when given, else the
/// key file beside the store (when there is one).
///
/// # Errors
/// The text or the file does not hold a ring.
pub fn local_ring(
    env_text: Option<&str>,
    store: Option<&std::path::Path>,
) -> Result<Option<ChainKeyRing>, String> {
    match (env_text.filter(|t| !t.trim().is_empty()), store) {
        (Some(text), _) => ChainKeyRing::parse(text)
            .map(Some)
            .map_err(|e| format!("CAVRA_APPROVAL_CHAIN_KEY: {e}")),
        (None, Some(store)) => read_key_file(&key_file_beside(store)),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX64: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn a_ring_reads_ids_hex_and_base64_and_the_first_key_is_current() {
        let b64 = STANDARD.encode([7u8; 32]);
        let ring = ChainKeyRing::parse(&format!("# keys\nnew:{HEX64}\n\nold:{b64},\n")).unwrap();
        assert_eq!(ring.ids(), ["new", "old"]);
        assert_eq!(ring.current().id(), "new");
        assert_eq!(ring.get("old").unwrap().secret(), &[7u8; 32]);
        let unnamed = ChainKeyRing::parse(HEX64).unwrap();
        assert!(unnamed.current().id().starts_with("k-"));
        assert_eq!(unnamed.current().id().len(), 10);
    }

    #[test]
    fn bad_rings_are_refused_without_echoing_secrets() {
        let cases = [
            ("", ChainKeyError::Empty),
            ("# only a comment", ChainKeyError::Empty),
            ("k1:ab!cd", ChainKeyError::NotEncoded("k1".into())),
            ("k1:abcd", ChainKeyError::TooShort("k1".into())),
            (
                &*format!("k1:{}", STANDARD.encode([1u8; 31])),
                ChainKeyError::TooShort("k1".into()),
            ),
            (
                &*format!("bad id:{HEX64}"),
                ChainKeyError::BadId("bad id".into()),
            ),
            (
                &*format!("k1:{HEX64},k1:{HEX64}"),
                ChainKeyError::DuplicateId("k1".into()),
            ),
        ];
        for (text, expected) in cases {
            let error = ChainKeyRing::parse(text).unwrap_err();
            assert_eq!(error, expected, "{text}");
            assert!(!error.to_string().contains(HEX64));
        }
    }

    #[test]
    fn debug_output_redacts_the_secret() {
        let ring = ChainKeyRing::parse(&format!("k1:{HEX64}")).unwrap();
        let shown = format!("{ring:?}");
        assert!(
            shown.contains("k1") && !shown.contains("0011223344"),
            "{shown}"
        );
    }

    #[test]
    fn the_key_file_sits_beside_the_store_and_the_environment_wins() {
        let dir = std::env::temp_dir().join(format!("cavra-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("approvals.db");
        assert_eq!(key_file_beside(&db), dir.join("approvals.db.chain-key"));
        assert_eq!(local_ring(None, Some(&db)), Ok(None));
        std::fs::write(
            key_file_beside(&db),
            ChainKeyRing::file_text("f", &[3u8; 32]),
        )
        .unwrap();
        assert_eq!(
            local_ring(None, Some(&db)).unwrap().unwrap().current().id(),
            "f"
        );
        let env = format!("e:{HEX64}");
        assert_eq!(
            local_ring(Some(&env), Some(&db))
                .unwrap()
                .unwrap()
                .current()
                .id(),
            "e"
        );
        assert!(local_ring(Some("e:short"), None).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_file_text_reads_back_as_the_same_key() {
        let text = ChainKeyRing::file_text("local-1", &[9u8; 32]);
        let ring = ChainKeyRing::parse(&text).unwrap();
        assert_eq!(ring.current().id(), "local-1");
        assert_eq!(ring.current().secret(), &[9u8; 32]);
    }
}

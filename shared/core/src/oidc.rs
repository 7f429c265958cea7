//! Signed OIDC JWTs (original §4.2, with CONTRACT §2's fixes): the config file, its JWKS, and the
//! token checks.
//!
//! `jsonwebtoken` verifies the signature; nothing here does cryptography by hand. The claim checks
//! (`iss`, `aud`, `exp`, `nbf`) run afterwards, here, against the caller's clock: results are
//! deterministic and nothing reads the system time, so the crate still builds for wasm32.
//!
//! Order of checks in [`verify_token`]: size, compact form, header (`alg` allowed, `kid`), payload
//! shape, key lookup by `kid`, key/alg fit, signature, `iss`, `aud`, `exp`, `nbf`. Claims are
//! returned only when every check passed.

use std::path::Path;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::approval::IdentityKind;
use crate::files::{FileError, read_structured};
use crate::identity::ActorContext;
use crate::rbac::RbacPolicy;

/// Clock-skew allowance when the config does not set `leeway_seconds`.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 60;

/// Shortest interval between two JWKS fetches from `jwks_uri` when the config does not set
/// `jwks_min_refresh_seconds`: tokens naming unknown `kid`s cannot make the server hammer the
/// identity provider.
pub const DEFAULT_JWKS_MIN_REFRESH_SECONDS: u64 = 60;

/// Longest token accepted, in bytes (before trimming whitespace).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The signature algorithms a token may use. `none` and every HMAC algorithm are never accepted:
/// a JWKS holds public keys, and a public key must never double as a shared secret.
pub const ALLOWED_ALGORITHMS: [Algorithm; 7] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// A JWKS with each key's verification form parsed once (issue H §4: a request no longer
/// rebuilds the key it verifies with).
#[derive(Clone, Default)]
pub struct KeySet {
    set: JwkSet,
    /// Per key of `set`, in order: its parsed form, or why it cannot verify anything.
    parsed: Vec<Result<DecodingKey, String>>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("set", &self.set)
            .finish_non_exhaustive()
    }
}

impl From<JwkSet> for KeySet {
    fn from(set: JwkSet) -> Self {
        let parsed = set
            .keys
            .iter()
            .map(|jwk| DecodingKey::from_jwk(jwk).map_err(|e| e.to_string()))
            .collect();
        Self { set, parsed }
    }
}

impl KeySet {
    /// The keys as the JWKS document gave them.
    pub fn jwks(&self) -> &JwkSet {
        &self.set
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.set.keys.len()
    }

    /// Whether there are none (a `jwks_uri` config before its first fetch).
    pub fn is_empty(&self) -> bool {
        self.set.keys.is_empty()
    }
}

/// A loaded OIDC configuration.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The only trusted `iss`.
    pub issuer: String,
    /// Our audience; the token's `aud` must be it or contain it.
    pub audience: String,
    /// The verification keys: inline `jwks`, or read from `jwks_path`. Empty when the keys come
    /// from `jwks_uri` and have not been fetched yet.
    pub jwks: KeySet,
    /// Where the keys are fetched from, when the config names `jwks_uri` (and neither `jwks` nor
    /// `jwks_path`). Fetching and caching is the caller's job; on
    /// [`TokenError::is_unknown_kid`] it refetches once.
    pub jwks_uri: Option<String>,
    /// Clock-skew allowance for `exp`, `nbf` and `iat`, in seconds.
    pub leeway_seconds: u64,
    /// When set, a token must carry `iat` and be at most this old (plus the leeway).
    pub max_token_age_seconds: Option<u64>,
    /// Shortest interval between two fetches from `jwks_uri` (refetches on an unknown `kid` are
    /// coalesced and limited to one per interval).
    pub jwks_min_refresh_seconds: u64,
}

/// An OIDC config (or its JWKS) could not be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum OidcConfigError {
    /// The config file does not exist.
    #[error("approval OIDC config file not found: {0}")]
    NotFound(String),
    /// The config file could not be read or parsed.
    #[error("approval OIDC config file {path} is unreadable: {detail}")]
    Unreadable {
        /// The file.
        path: String,
        /// Parser or I/O message.
        detail: String,
    },
    /// The top level is not an object.
    #[error("approval OIDC config file must contain an object")]
    NotAnObject,
    /// The `jwks_path` file does not exist.
    #[error("approval OIDC JWKS file not found: {0}")]
    JwksNotFound(String),
    /// The `jwks_path` file could not be read or parsed.
    #[error("approval OIDC JWKS file {path} is unreadable: {detail}")]
    JwksUnreadable {
        /// The file.
        path: String,
        /// Parser or I/O message.
        detail: String,
    },
    /// The `jwks_path` file is not an object.
    #[error("approval OIDC JWKS file must contain an object")]
    JwksNotAnObject,
    /// A required key is missing.
    #[error("approval OIDC config must include issuer, audience, and jwks, jwks_path, or jwks_uri")]
    Incomplete,
    /// A key has the wrong shape.
    #[error("approval OIDC config {0}")]
    BadKey(&'static str),
    /// The JWKS has no `keys` array.
    #[error("approval OIDC JWKS must include keys")]
    JwksWithoutKeys,
    /// One JWK cannot be used.
    #[error("approval OIDC JWKS key {key} is invalid: {detail}")]
    InvalidJwk {
        /// Its `kid`, else `#` and its position.
        key: String,
        /// What is wrong.
        detail: String,
    },
}

/// Why a token was rejected. The messages are what the API returns with 401.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Longer than [`MAX_TOKEN_BYTES`].
    #[error("OIDC token is too large")]
    TooLarge,
    /// Not three dot-separated parts.
    #[error("OIDC token must be a compact JWT")]
    NotCompact,
    /// Header or payload is not base64url-encoded JSON of the right shape.
    #[error("OIDC token is malformed: {0}")]
    Malformed(String),
    /// `none`, an HMAC algorithm, or anything else outside [`ALLOWED_ALGORITHMS`].
    #[error("OIDC token algorithm {0} is not allowed")]
    AlgorithmNotAllowed(String),
    /// No JWK has the header's `kid` (or the JWKS is empty).
    #[error("OIDC token signing key was not found in JWKS")]
    KeyNotFound,
    /// The header has no `kid` and the JWKS holds several keys.
    #[error("OIDC token has no kid and the JWKS holds more than one key")]
    MissingKid,
    /// The JWK declares a different `alg`.
    #[error("OIDC token algorithm {alg} does not match the JWKS key algorithm {key_alg}")]
    KeyAlgorithmMismatch {
        /// The header's algorithm.
        alg: String,
        /// The JWK's `alg`.
        key_alg: String,
    },
    /// The JWK's key type or curve cannot verify this algorithm.
    #[error("OIDC token algorithm {alg} does not fit the JWKS key type {key_type}")]
    KeyTypeMismatch {
        /// The header's algorithm.
        alg: String,
        /// The JWK's `kty` (and `crv`).
        key_type: String,
    },
    /// The JWK is marked for another use than signatures.
    #[error("OIDC token signing key in JWKS is not for signatures")]
    KeyNotForSigning,
    /// The JWK's material is unusable.
    #[error("OIDC token signing key in JWKS is invalid: {0}")]
    InvalidKey(String),
    /// The signature does not verify with the chosen key.
    #[error("OIDC token signature is invalid")]
    InvalidSignature,
    /// `iss` is missing or not ours.
    #[error("OIDC token issuer is not trusted")]
    IssuerNotTrusted,
    /// `aud` is missing or neither is nor contains ours.
    #[error("OIDC token audience is not trusted")]
    AudienceNotTrusted,
    /// No `exp`.
    #[error("OIDC token is missing exp")]
    MissingExp,
    /// `exp` or `nbf` is not a number.
    #[error("OIDC token {0} claim must be a number")]
    NotNumeric(&'static str),
    /// `exp` is further in the past than the leeway.
    #[error("OIDC token is expired")]
    Expired,
    /// `nbf` is further in the future than the leeway.
    #[error("OIDC token is not yet valid")]
    NotYetValid,
    /// No `sub`: the subject is the identity, a token without one names nobody.
    #[error("OIDC token is missing sub")]
    MissingSub,
    /// `iat` is further in the future than the leeway.
    #[error("OIDC token is issued in the future")]
    IssuedInFuture,
    /// `max_token_age_seconds` is configured and the token has no `iat`.
    #[error("OIDC token is missing iat")]
    MissingIat,
    /// `iat` is older than `max_token_age_seconds` plus the leeway.
    #[error("OIDC token is older than max_token_age_seconds")]
    TooOld,
}

impl TokenError {
    /// Whether the token names a key the JWKS lacks: a caller with a `jwks_uri` refetches the
    /// JWKS once and verifies again.
    pub fn is_unknown_kid(&self) -> bool {
        matches!(self, Self::KeyNotFound)
    }
}

/// A value that counts as given: not null, not `""`, not `{}` (the original's truthiness).
fn given<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    match map.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::Object(o)) if o.is_empty() => None,
        Some(v) => Some(v),
    }
}

fn text_key(
    map: &Map<String, Value>,
    key: &str,
    wrong: &'static str,
) -> Result<Option<String>, OidcConfigError> {
    match given(map, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(OidcConfigError::BadKey(wrong)),
    }
}

/// A non-negative whole number of seconds; `None` when the key is absent or null. `wrong` is
/// the message for anything else.
fn seconds(value: Option<&Value>, wrong: &'static str) -> Result<Option<u64>, OidcConfigError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0 && *f <= 9.0e15)
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or(OidcConfigError::BadKey(wrong)),
        Some(_) => Err(OidcConfigError::BadKey(wrong)),
    }
}

/// Whether `uri` is an https URL (plain http only for loopback test servers).
fn acceptable_jwks_uri(uri: &str) -> bool {
    if uri.starts_with("https://") && uri.len() > "https://".len() {
        return true;
    }
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

fn jwk_name(jwk_value: &Value, index: usize) -> String {
    match jwk_value.get("kid") {
        Some(Value::String(kid)) if !kid.is_empty() => kid.clone(),
        _ => format!("#{index}"),
    }
}

/// Parses a JWKS document (`{"keys": [...]}`), checking that every RSA, EC and OKP key decodes.
/// Keys of other types are kept but never match a token. Used for inline `jwks`, `jwks_path`
/// files and documents fetched from `jwks_uri`.
pub fn jwks_from_value(value: &Value) -> Result<JwkSet, OidcConfigError> {
    let Some(Value::Array(items)) = value.get("keys") else {
        return Err(OidcConfigError::JwksWithoutKeys);
    };
    let mut keys = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let invalid = |detail: String| OidcConfigError::InvalidJwk {
            key: jwk_name(item, index),
            detail,
        };
        if !item.is_object() {
            return Err(invalid("a key must be an object".to_owned()));
        }
        let jwk: Jwk = serde_json::from_value(item.clone()).map_err(|e| invalid(e.to_string()))?;
        if matches!(
            jwk.algorithm,
            AlgorithmParameters::RSA(_)
                | AlgorithmParameters::EllipticCurve(_)
                | AlgorithmParameters::OctetKeyPair(_)
        ) {
            DecodingKey::from_jwk(&jwk).map_err(|e| invalid(e.to_string()))?;
        }
        keys.push(jwk);
    }
    Ok(JwkSet { keys })
}

fn load_jwks_file(path: &Path) -> Result<JwkSet, OidcConfigError> {
    let shown = path.display().to_string();
    let value = read_structured(path).map_err(|e| match e {
        FileError::NotFound => OidcConfigError::JwksNotFound(shown.clone()),
        other => OidcConfigError::JwksUnreadable {
            path: shown.clone(),
            detail: other.to_string(),
        },
    })?;
    if !value.is_object() {
        return Err(OidcConfigError::JwksNotAnObject);
    }
    jwks_from_value(&value)
}

impl OidcConfig {
    /// Builds a config from its parsed file; a relative `jwks_path` resolves against `base_dir`
    /// (the config file's directory). The key source is the first given of `jwks`, `jwks_path`,
    /// `jwks_uri`.
    pub fn from_value(value: &Value, base_dir: &Path) -> Result<Self, OidcConfigError> {
        let Value::Object(map) = value else {
            return Err(OidcConfigError::NotAnObject);
        };
        let issuer = text_key(map, "issuer", "issuer must be a string")?;
        let audience = text_key(map, "audience", "audience must be a string")?;
        let inline = given(map, "jwks");
        let jwks_path = text_key(map, "jwks_path", "jwks_path must be a string")?;
        let jwks_uri = text_key(map, "jwks_uri", "jwks_uri must be a string")?;
        let (Some(issuer), Some(audience)) = (issuer, audience) else {
            return Err(OidcConfigError::Incomplete);
        };
        let leeway_seconds = seconds(
            map.get("leeway_seconds"),
            "leeway_seconds must be a non-negative integer",
        )?
        .unwrap_or(DEFAULT_LEEWAY_SECONDS);
        let max_token_age_seconds = seconds(
            map.get("max_token_age_seconds"),
            "max_token_age_seconds must be a non-negative integer",
        )?;
        let jwks_min_refresh_seconds = seconds(
            map.get("jwks_min_refresh_seconds"),
            "jwks_min_refresh_seconds must be a non-negative integer",
        )?
        .unwrap_or(DEFAULT_JWKS_MIN_REFRESH_SECONDS);
        let (jwks, jwks_uri) = if let Some(inline) = inline {
            if !inline.is_object() {
                return Err(OidcConfigError::BadKey("jwks must be an object"));
            }
            (jwks_from_value(inline)?.into(), None)
        } else if let Some(path) = jwks_path {
            (load_jwks_file(&base_dir.join(path))?.into(), None)
        } else if let Some(uri) = jwks_uri {
            if !acceptable_jwks_uri(&uri) {
                return Err(OidcConfigError::BadKey("jwks_uri must be an https URL"));
            }
            (KeySet::default(), Some(uri))
        } else {
            return Err(OidcConfigError::Incomplete);
        };
        Ok(Self {
            issuer,
            audience,
            jwks,
            jwks_uri,
            leeway_seconds,
            max_token_age_seconds,
            jwks_min_refresh_seconds,
        })
    }

    /// Loads a config file (JSON, or YAML by suffix).
    pub fn load(path: &Path) -> Result<Self, OidcConfigError> {
        let shown = path.display().to_string();
        let value = read_structured(path).map_err(|e| match e {
            FileError::NotFound => OidcConfigError::NotFound(shown.clone()),
            other => OidcConfigError::Unreadable {
                path: shown.clone(),
                detail: other.to_string(),
            },
        })?;
        Self::from_value(&value, path.parent().unwrap_or_else(|| Path::new("")))
    }
}

/// Decodes one base64url JSON-object segment of a token.
fn decode_segment(segment: &str, what: &str) -> Result<Map<String, Value>, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| TokenError::Malformed(format!("{what} is not base64url")))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(TokenError::Malformed(format!(
            "{what} is not a JSON object"
        ))),
    }
}

fn allowed_algorithm(name: &str) -> Option<Algorithm> {
    Algorithm::from_str(name)
        .ok()
        .filter(|alg| ALLOWED_ALGORITHMS.contains(alg))
}

fn curve_name(curve: &EllipticCurve) -> &'static str {
    match curve {
        EllipticCurve::P256 => "P-256",
        EllipticCurve::P384 => "P-384",
        EllipticCurve::P521 => "P-521",
        EllipticCurve::Ed25519 => "Ed25519",
        _ => "unknown curve",
    }
}

fn key_type(jwk: &Jwk) -> String {
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => "RSA".to_owned(),
        AlgorithmParameters::EllipticCurve(p) => format!("EC {}", curve_name(&p.curve)),
        AlgorithmParameters::OctetKeyPair(p) => format!("OKP {}", curve_name(&p.curve)),
        AlgorithmParameters::OctetKey(_) => "oct".to_owned(),
        AlgorithmParameters::Other(p) => match p.fields.get("kty") {
            Some(Value::String(kty)) => format!("{kty} (unsupported or incomplete)"),
            _ => "unknown".to_owned(),
        },
        _ => "unknown".to_owned(),
    }
}

/// Whether `jwk` may verify a token signed with `alg`.
fn key_fits(jwk: &Jwk, alg: Algorithm, alg_name: &str) -> Result<(), TokenError> {
    if !matches!(
        jwk.common.public_key_use,
        None | Some(PublicKeyUse::Signature)
    ) {
        return Err(TokenError::KeyNotForSigning);
    }
    if let Some(key_alg) = &jwk.common.key_algorithm
        && Algorithm::from_str(&key_alg.to_string()).ok() != Some(alg)
    {
        let key_alg = match serde_json::to_value(key_alg) {
            Ok(Value::String(name)) => name,
            _ => key_alg.to_string(),
        };
        return Err(TokenError::KeyAlgorithmMismatch {
            alg: alg_name.to_owned(),
            key_alg,
        });
    }
    let fits = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => matches!(
            alg,
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 | Algorithm::PS256
        ),
        AlgorithmParameters::EllipticCurve(p) => matches!(
            (alg, &p.curve),
            (Algorithm::ES256, EllipticCurve::P256) | (Algorithm::ES384, EllipticCurve::P384)
        ),
        AlgorithmParameters::OctetKeyPair(p) => {
            alg == Algorithm::EdDSA && p.curve == EllipticCurve::Ed25519
        }
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(TokenError::KeyTypeMismatch {
            alg: alg_name.to_owned(),
            key_type: key_type(jwk),
        })
    }
}

/// Picks the verification key: by `kid`; without one, only when the JWKS holds exactly one key.
fn select_key<'a>(
    keys: &'a KeySet,
    kid: Option<&str>,
    alg: Algorithm,
    alg_name: &str,
) -> Result<&'a DecodingKey, TokenError> {
    let all = keys.set.keys.iter().zip(&keys.parsed);
    let candidates: Vec<_> = match kid {
        Some(kid) => all
            .filter(|(k, _)| k.common.key_id.as_deref() == Some(kid))
            .collect(),
        None if keys.len() > 1 => return Err(TokenError::MissingKid),
        None => all.collect(),
    };
    let mut first_error = None;
    for (jwk, parsed) in candidates {
        match key_fits(jwk, alg, alg_name) {
            Ok(()) => {
                return parsed
                    .as_ref()
                    .map_err(|detail| TokenError::InvalidKey(detail.clone()));
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(TokenError::KeyNotFound))
}

/// A NumericDate claim as whole seconds; fractions round towards the stricter side (`up` for
/// `nbf`, down for `exp`).
fn numeric_date(value: &Value, up: bool) -> Option<i128> {
    let Value::Number(n) = value else {
        return None;
    };
    if let Some(i) = n.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(i128::from(u));
    }
    let f = n.as_f64().filter(|f| f.is_finite())?;
    Some(if up { f.ceil() } else { f.floor() } as i128)
}

fn check_claims(
    config: &OidcConfig,
    claims: &Map<String, Value>,
    now_unix: i64,
) -> Result<(), TokenError> {
    if claims.get("iss").and_then(Value::as_str) != Some(config.issuer.as_str()) {
        return Err(TokenError::IssuerNotTrusted);
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => *aud == config.audience,
        Some(Value::Array(items)) => items
            .iter()
            .any(|item| item.as_str() == Some(config.audience.as_str())),
        _ => false,
    };
    if !audience_ok {
        return Err(TokenError::AudienceNotTrusted);
    }
    let now = i128::from(now_unix);
    let leeway = i128::from(config.leeway_seconds);
    let exp = match claims.get("exp") {
        None | Some(Value::Null) => return Err(TokenError::MissingExp),
        Some(v) => numeric_date(v, false).ok_or(TokenError::NotNumeric("exp"))?,
    };
    if exp < now.saturating_sub(leeway) {
        return Err(TokenError::Expired);
    }
    if let Some(v) = claims.get("nbf").filter(|v| !v.is_null()) {
        let nbf = numeric_date(v, true).ok_or(TokenError::NotNumeric("nbf"))?;
        if nbf > now.saturating_add(leeway) {
            return Err(TokenError::NotYetValid);
        }
    }
    let iat = match claims.get("iat").filter(|v| !v.is_null()) {
        None => None,
        Some(v) => Some(numeric_date(v, true).ok_or(TokenError::NotNumeric("iat"))?),
    };
    if let Some(iat) = iat
        && iat > now.saturating_add(leeway)
    {
        return Err(TokenError::IssuedInFuture);
    }
    if let Some(max_age) = config.max_token_age_seconds {
        let iat = iat.ok_or(TokenError::MissingIat)?;
        let oldest = now
            .saturating_sub(i128::from(max_age))
            .saturating_sub(leeway);
        if iat < oldest {
            return Err(TokenError::TooOld);
        }
    }
    match claims.get("sub") {
        Some(Value::String(sub)) if !sub.trim().is_empty() => Ok(()),
        _ => Err(TokenError::MissingSub),
    }
}

/// The last `now_unix` at which claims that passed [`verify_token`] still pass its claim checks:
/// `exp` plus the leeway, and with `max_token_age_seconds`, `iat` plus that age plus the
/// leeway (`nbf` and a future `iat` only get easier as time goes on). A cache of verified
/// tokens keeps an entry no longer than this. `None` for claims that did not pass.
pub fn valid_through(config: &OidcConfig, claims: &Map<String, Value>) -> Option<i64> {
    let leeway = i128::from(config.leeway_seconds);
    let exp = numeric_date(claims.get("exp")?, false)?;
    let mut through = exp.saturating_add(leeway);
    if let Some(max_age) = config.max_token_age_seconds {
        let iat = numeric_date(claims.get("iat")?, true)?;
        through = through.min(
            iat.saturating_add(i128::from(max_age))
                .saturating_add(leeway),
        );
    }
    i64::try_from(through).ok()
}

fn signature_error(error: &jsonwebtoken::errors::Error, alg_name: &str) -> TokenError {
    match error.kind() {
        ErrorKind::InvalidSignature | ErrorKind::Base64(_) => TokenError::InvalidSignature,
        ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidKeyFormat => TokenError::InvalidKey(error.to_string()),
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::MissingAlgorithm => TokenError::AlgorithmNotAllowed(alg_name.to_owned()),
        _ => TokenError::Malformed(error.to_string()),
    }
}

/// Verifies a compact JWT and returns its claims object. `now_unix` is the caller's clock
/// (seconds).
///
/// # Errors
/// The first failed check, as a [`TokenError`] whose message is the one to show.
pub fn verify_token(
    config: &OidcConfig,
    token: &str,
    now_unix: i64,
) -> Result<Map<String, Value>, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge);
    }
    let token = token.trim();
    let parts: Vec<&str> = token.split('.').collect();
    let [header_part, payload_part, _signature_part] = parts.as_slice() else {
        return Err(TokenError::NotCompact);
    };
    let header = decode_segment(header_part, "header")?;
    let alg_name = match header.get("alg") {
        Some(Value::String(name)) => name.as_str(),
        None | Some(Value::Null) => {
            return Err(TokenError::Malformed("header has no alg".to_owned()));
        }
        Some(_) => {
            return Err(TokenError::Malformed(
                "header alg must be a string".to_owned(),
            ));
        }
    };
    let alg = allowed_algorithm(alg_name)
        .ok_or_else(|| TokenError::AlgorithmNotAllowed(alg_name.to_owned()))?;
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.as_str()),
        Some(_) => {
            return Err(TokenError::Malformed(
                "header kid must be a string".to_owned(),
            ));
        }
    };
    if header.contains_key("crit") {
        // RFC 7515 §4.1.11: extensions we do not understand must be rejected; we support none.
        return Err(TokenError::Malformed(
            "header crit extensions are not supported".to_owned(),
        ));
    }
    decode_segment(payload_part, "payload")?;

    let key = select_key(&config.jwks, kid, alg, alg_name)?;
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    let verified = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
        .map_err(|e| signature_error(&e, alg_name))?;

    check_claims(config, &verified.claims, now_unix)?;
    Ok(verified.claims)
}

/// Verifies `token`, then builds the actor context from its claims (identity `oidc`), applying
/// `rbac` group mappings.
///
/// # Errors
/// As [`verify_token`].
pub fn verified_actor(
    config: &OidcConfig,
    token: &str,
    now_unix: i64,
    rbac: Option<&RbacPolicy>,
) -> Result<ActorContext, TokenError> {
    let claims = verify_token(config, token, now_unix)?;
    Ok(ActorContext::from_claims(&claims, rbac, IdentityKind::Oidc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use proptest::prelude::*;
    use serde_json::json;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/oidc");
    const ISSUER: &str = "https://login.example";
    const AUDIENCE: &str = "cavra-approvals";
    const NOW: i64 = 1_750_000_000;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
    }

    fn fixture_json(name: &str) -> Value {
        serde_json::from_slice(&fixture(name)).unwrap()
    }

    /// The committed config: `jwks_path` `jwks.json` next to it.
    fn config() -> OidcConfig {
        OidcConfig::load(Path::new(&format!("{FIXTURES}/oidc-config.json"))).unwrap()
    }

    /// A config with an inline JWKS, edited by `edit`.
    fn config_with_jwks(edit: impl FnOnce(&mut Value)) -> OidcConfig {
        let mut jwks = fixture_json("jwks.json");
        edit(&mut jwks);
        OidcConfig::from_value(
            &json!({"issuer": ISSUER, "audience": AUDIENCE, "jwks": jwks}),
            Path::new(FIXTURES),
        )
        .unwrap()
    }

    fn claims() -> Value {
        json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "email": "iam@example.com",
            "groups": ["IAM"], "iat": NOW, "exp": NOW + 300,
        })
    }

    /// `claims()` with `changes` merged in (a null value removes the claim).
    fn claims_with(changes: &Value) -> Value {
        let mut merged = claims();
        for (key, value) in changes.as_object().unwrap() {
            if value.is_null() {
                merged.as_object_mut().unwrap().remove(key);
            } else {
                merged[key] = value.clone();
            }
        }
        merged
    }

    fn encoding_key(alg: Algorithm, pem_file: &str) -> EncodingKey {
        let pem = fixture(pem_file);
        match alg {
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem).unwrap(),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem).unwrap(),
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                EncodingKey::from_secret(&pem)
            }
            _ => EncodingKey::from_rsa_pem(&pem).unwrap(),
        }
    }

    fn sign(alg: Algorithm, kid: Option<&str>, pem_file: &str, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &encoding_key(alg, pem_file)).unwrap()
    }

    fn rs256(claims: &Value) -> String {
        sign(
            Algorithm::RS256,
            Some("test-key"),
            "rsa-private.pem",
            claims,
        )
    }

    fn b64_json(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    fn parts(token: &str) -> Vec<String> {
        token.split('.').map(str::to_owned).collect()
    }

    fn message(config: &OidcConfig, token: &str) -> String {
        match verify_token(config, token, NOW) {
            Ok(claims) => format!("accepted: {}", Value::Object(claims)),
            Err(e) => e.to_string(),
        }
    }

    // --- happy paths -------------------------------------------------------------------------

    #[test]
    fn case_11_an_rs256_token_for_our_audience_returns_its_claims() {
        // GIVEN the fixture config WHEN an RS256 token signed by test-key is verified
        let claims = verify_token(&config(), &rs256(&claims()), NOW).unwrap();
        // THEN its claims come back, email readable
        assert_eq!(claims["email"], "iam@example.com");
        assert_eq!(claims["iss"], ISSUER);
    }

    #[test]
    fn case_12_a_token_for_another_audience_is_rejected_naming_the_audience() {
        let token = rs256(&claims_with(&json!({"aud": "other-audience"})));
        let error = verify_token(&config(), &token, NOW).unwrap_err();
        assert!(error.to_string().contains("audience"), "{error}");
        assert_eq!(error, TokenError::AudienceNotTrusted);
    }

    #[test]
    fn es256_and_eddsa_tokens_verify_with_their_own_keys() {
        let es = sign(
            Algorithm::ES256,
            Some("ec-key"),
            "ec-p256-private.pem",
            &claims(),
        );
        let ed = sign(
            Algorithm::EdDSA,
            Some("ed-key"),
            "ed25519-private.pem",
            &claims(),
        );
        assert_eq!(verify_token(&config(), &es, NOW).unwrap()["sub"], "user-1");
        assert_eq!(verify_token(&config(), &ed, NOW).unwrap()["sub"], "user-1");
    }

    #[test]
    fn rs384_rs512_and_ps256_verify_when_the_jwk_does_not_pin_an_algorithm() {
        let config = config_with_jwks(|jwks| {
            jwks["keys"][0].as_object_mut().unwrap().remove("alg");
        });
        for alg in [
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
        ] {
            let token = sign(alg, Some("test-key"), "rsa-private.pem", &claims());
            assert_eq!(
                message(&config, &token),
                format!("accepted: {}", claims()),
                "{alg:?}"
            );
        }
    }

    #[test]
    fn an_audience_array_containing_ours_is_accepted() {
        let token = rs256(&claims_with(&json!({"aud": ["someone-else", AUDIENCE]})));
        assert!(verify_token(&config(), &token, NOW).is_ok());
    }

    #[test]
    fn whitespace_around_the_token_is_ignored() {
        let token = format!("  {}\n", rs256(&claims()));
        assert!(verify_token(&config(), &token, NOW).is_ok());
    }

    #[test]
    fn a_token_without_kid_is_accepted_only_when_the_jwks_holds_one_key() {
        let token = sign(Algorithm::RS256, None, "rsa-private.pem", &claims());
        let single = config_with_jwks(|jwks| {
            jwks["keys"].as_array_mut().unwrap().truncate(1);
        });
        assert!(verify_token(&single, &token, NOW).is_ok());
        assert_eq!(
            verify_token(&config(), &token, NOW).unwrap_err(),
            TokenError::MissingKid
        );
    }

    #[test]
    fn expiry_and_not_before_within_the_leeway_are_accepted_and_just_beyond_are_not() {
        let config = config();
        let at = |changes: Value| verify_token(&config, &rs256(&claims_with(&changes)), NOW);
        assert!(at(json!({"exp": NOW - 30})).is_ok());
        assert!(at(json!({"exp": NOW - 60})).is_ok());
        assert_eq!(
            at(json!({"exp": NOW - 61})).unwrap_err(),
            TokenError::Expired
        );
        assert!(at(json!({"nbf": NOW + 60})).is_ok());
        assert_eq!(
            at(json!({"nbf": NOW + 61})).unwrap_err(),
            TokenError::NotYetValid
        );
        let strict = OidcConfig {
            leeway_seconds: 0,
            ..config.clone()
        };
        let token = rs256(&claims_with(&json!({"exp": NOW - 1})));
        assert_eq!(
            verify_token(&strict, &token, NOW).unwrap_err(),
            TokenError::Expired
        );
    }

    #[test]
    fn issued_at_is_bounded_by_the_leeway_and_the_optional_maximum_age() {
        let config = config();
        let at = |config: &OidcConfig, changes: Value| {
            verify_token(config, &rs256(&claims_with(&changes)), NOW)
        };
        assert!(at(&config, json!({"iat": NOW + 60})).is_ok());
        assert_eq!(
            at(&config, json!({"iat": NOW + 61})).unwrap_err(),
            TokenError::IssuedInFuture
        );
        // Without a maximum age, an old token that has not expired is fine, and iat is optional.
        assert!(at(&config, json!({"iat": NOW - 86_400})).is_ok());
        assert!(at(&config, json!({"iat": null})).is_ok());

        let bounded = OidcConfig {
            max_token_age_seconds: Some(3_600),
            ..config.clone()
        };
        assert!(at(&bounded, json!({"iat": NOW - 3_660})).is_ok());
        assert_eq!(
            at(&bounded, json!({"iat": NOW - 3_661})).unwrap_err(),
            TokenError::TooOld
        );
        assert_eq!(
            at(&bounded, json!({"iat": null})).unwrap_err(),
            TokenError::MissingIat
        );
        assert_eq!(
            at(&bounded, json!({"iat": -9.0e300})).unwrap_err(),
            TokenError::TooOld
        );
    }

    #[test]
    fn token_age_and_refresh_interval_are_read_from_the_config() {
        let base = json!({"issuer": "i", "audience": "a", "jwks": {"keys": []}});
        let load = |extra: Value| {
            let mut value = base.clone();
            for (k, v) in extra.as_object().unwrap() {
                value[k] = v.clone();
            }
            OidcConfig::from_value(&value, Path::new(FIXTURES))
        };
        let defaults = load(json!({})).unwrap();
        assert_eq!(defaults.max_token_age_seconds, None);
        assert_eq!(
            defaults.jwks_min_refresh_seconds,
            DEFAULT_JWKS_MIN_REFRESH_SECONDS
        );
        let set =
            load(json!({"max_token_age_seconds": 900, "jwks_min_refresh_seconds": 5})).unwrap();
        assert_eq!(set.max_token_age_seconds, Some(900));
        assert_eq!(set.jwks_min_refresh_seconds, 5);
        assert_eq!(
            load(json!({"max_token_age_seconds": -1}))
                .unwrap_err()
                .to_string(),
            "approval OIDC config max_token_age_seconds must be a non-negative integer"
        );
        assert_eq!(
            load(json!({"jwks_min_refresh_seconds": "soon"}))
                .unwrap_err()
                .to_string(),
            "approval OIDC config jwks_min_refresh_seconds must be a non-negative integer"
        );
    }

    #[test]
    fn verified_actor_builds_an_oidc_context_with_mapped_groups() {
        let rbac =
            RbacPolicy::from_value(&json!({"group_mappings": {"IAM": "Identity Admins"}})).unwrap();
        let ctx = verified_actor(&config(), &rs256(&claims()), NOW, Some(&rbac)).unwrap();
        assert_eq!(ctx.actor, "iam@example.com");
        assert_eq!(ctx.subject.as_deref(), Some("user-1"));
        assert_eq!(ctx.issuer.as_deref(), Some(ISSUER));
        assert_eq!(ctx.groups, vec!["IAM", "Identity Admins"]);
        assert_eq!(ctx.identity, IdentityKind::Oidc);
        let forged = sign(
            Algorithm::RS256,
            Some("test-key"),
            "attacker-rsa-private.pem",
            &claims(),
        );
        assert_eq!(
            verified_actor(&config(), &forged, NOW, None).unwrap_err(),
            TokenError::InvalidSignature
        );
    }

    #[test]
    fn only_an_unknown_kid_asks_the_caller_to_refetch_the_jwks() {
        assert!(TokenError::KeyNotFound.is_unknown_kid());
        assert!(!TokenError::InvalidSignature.is_unknown_kid());
        assert!(!TokenError::MissingKid.is_unknown_kid());
    }

    // --- the attack table --------------------------------------------------------------------

    #[test]
    fn every_known_jwt_attack_is_rejected_with_its_exact_message() {
        let good = rs256(&claims());
        let [header, payload, signature] = <[String; 3]>::try_from(parts(&good)).unwrap();
        let unsigned = |alg: &str| {
            format!(
                "{}.{}.",
                b64_json(&json!({"alg": alg, "typ": "JWT", "kid": "test-key"})),
                b64_json(&claims())
            )
        };
        let hs256_with_public_key = sign(
            Algorithm::HS256,
            Some("test-key"),
            "rsa-public.pem",
            &claims(),
        );
        let tampered_payload = format!(
            "{header}.{}.{signature}",
            b64_json(&claims_with(&json!({"groups": ["Admins"]})))
        );
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        let tampered_signature = format!("{header}.{payload}.{flipped}{}", &signature[1..]);
        let attacker = sign(
            Algorithm::RS256,
            Some("test-key"),
            "attacker-rsa-private.pem",
            &claims(),
        );
        let embedded_jwk = {
            let key = encoding_key(Algorithm::RS256, "attacker-rsa-private.pem");
            let mut h = Header::new(Algorithm::RS256);
            h.kid = Some("test-key".to_owned());
            h.jwk = Some(Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap());
            h.jku = Some("https://attacker.example/jwks.json".to_owned());
            jsonwebtoken::encode(&h, &claims(), &key).unwrap()
        };
        let es256_as_rsa_kid = sign(
            Algorithm::ES256,
            Some("test-key"),
            "ec-p256-private.pem",
            &claims(),
        );
        let empty = config_with_jwks(|jwks| jwks["keys"] = json!([]));
        let rsa_key_pinned_to_es256 =
            config_with_jwks(|jwks| jwks["keys"][0]["alg"] = json!("ES256"));
        let rsa_key_without_alg = config_with_jwks(|jwks| {
            jwks["keys"][0].as_object_mut().unwrap().remove("alg");
        });
        let encryption_key = config_with_jwks(|jwks| jwks["keys"][0]["use"] = json!("enc"));
        let huge = format!("{header}.{}.{signature}", "A".repeat(1024 * 1024));

        let ours = config();
        let rows: Vec<(&str, &OidcConfig, String, &str)> = vec![
            (
                "alg none, unsigned",
                &ours,
                unsigned("none"),
                "OIDC token algorithm none is not allowed",
            ),
            (
                "alg None, unsigned",
                &ours,
                unsigned("None"),
                "OIDC token algorithm None is not allowed",
            ),
            (
                "HS256 keyed with our RSA public key",
                &ours,
                hs256_with_public_key,
                "OIDC token algorithm HS256 is not allowed",
            ),
            (
                "HS512 header",
                &ours,
                unsigned("HS512"),
                "OIDC token algorithm HS512 is not allowed",
            ),
            (
                "unknown kid",
                &ours,
                sign(
                    Algorithm::RS256,
                    Some("rotated-away"),
                    "rsa-private.pem",
                    &claims(),
                ),
                "OIDC token signing key was not found in JWKS",
            ),
            (
                "tampered payload",
                &ours,
                tampered_payload,
                "OIDC token signature is invalid",
            ),
            (
                "tampered signature",
                &ours,
                tampered_signature,
                "OIDC token signature is invalid",
            ),
            (
                "signature stripped",
                &ours,
                format!("{header}.{payload}."),
                "OIDC token signature is invalid",
            ),
            (
                "attacker key with our kid",
                &ours,
                attacker,
                "OIDC token signature is invalid",
            ),
            (
                "attacker key embedded as header jwk/jku",
                &ours,
                embedded_jwk,
                "OIDC token signature is invalid",
            ),
            (
                "expired beyond leeway",
                &ours,
                rs256(&claims_with(&json!({"exp": NOW - 61}))),
                "OIDC token is expired",
            ),
            (
                "not yet valid beyond leeway",
                &ours,
                rs256(&claims_with(&json!({"nbf": NOW + 61}))),
                "OIDC token is not yet valid",
            ),
            (
                "no subject (only an email)",
                &ours,
                rs256(&claims_with(&json!({"sub": null}))),
                "OIDC token is missing sub",
            ),
            (
                "blank subject",
                &ours,
                rs256(&claims_with(&json!({"sub": "  "}))),
                "OIDC token is missing sub",
            ),
            (
                "subject that is not a string",
                &ours,
                rs256(&claims_with(&json!({"sub": 42}))),
                "OIDC token is missing sub",
            ),
            (
                "issued ten years ahead",
                &ours,
                rs256(&claims_with(
                    &json!({"iat": NOW + 315_360_000, "exp": NOW + 315_360_300}),
                )),
                "OIDC token is issued in the future",
            ),
            (
                "iat that is not a number",
                &ours,
                rs256(&claims_with(&json!({"iat": "now"}))),
                "OIDC token iat claim must be a number",
            ),
            (
                "wrong issuer",
                &ours,
                rs256(&claims_with(&json!({"iss": "https://evil.example"}))),
                "OIDC token issuer is not trusted",
            ),
            (
                "missing issuer",
                &ours,
                rs256(&claims_with(&json!({"iss": null}))),
                "OIDC token issuer is not trusted",
            ),
            (
                "wrong audience",
                &ours,
                rs256(&claims_with(&json!({"aud": "other-audience"}))),
                "OIDC token audience is not trusted",
            ),
            (
                "audience array without ours",
                &ours,
                rs256(&claims_with(&json!({"aud": ["a", "b"]}))),
                "OIDC token audience is not trusted",
            ),
            (
                "missing audience",
                &ours,
                rs256(&claims_with(&json!({"aud": null}))),
                "OIDC token audience is not trusted",
            ),
            (
                "missing exp",
                &ours,
                rs256(&claims_with(&json!({"exp": null}))),
                "OIDC token is missing exp",
            ),
            (
                "exp as a string",
                &ours,
                rs256(&claims_with(&json!({"exp": "9999999999"}))),
                "OIDC token exp claim must be a number",
            ),
            (
                "truncated to two parts",
                &ours,
                format!("{header}.{payload}"),
                "OIDC token must be a compact JWT",
            ),
            (
                "four parts",
                &ours,
                format!("{good}.{signature}"),
                "OIDC token must be a compact JWT",
            ),
            (
                "empty token",
                &ours,
                String::new(),
                "OIDC token must be a compact JWT",
            ),
            (
                "payload not base64",
                &ours,
                format!("{header}.!!not*base64!!.{signature}"),
                "OIDC token is malformed: payload is not base64url",
            ),
            (
                "payload not an object",
                &ours,
                format!("{header}.{}.{signature}", b64_json(&json!([1, 2]))),
                "OIDC token is malformed: payload is not a JSON object",
            ),
            (
                "header not JSON",
                &ours,
                format!("{}.{payload}.{signature}", URL_SAFE_NO_PAD.encode("{alg")),
                "OIDC token is malformed: header is not a JSON object",
            ),
            (
                "header without alg",
                &ours,
                format!(
                    "{}.{payload}.{signature}",
                    b64_json(&json!({"kid": "test-key"}))
                ),
                "OIDC token is malformed: header has no alg",
            ),
            (
                "critical header extension (unencoded payload)",
                &ours,
                {
                    let h = b64_json(
                        &json!({"alg": "RS256", "kid": "test-key", "b64": false, "crit": ["b64"]}),
                    );
                    format!("{h}.{payload}.{signature}")
                },
                "OIDC token is malformed: header crit extensions are not supported",
            ),
            ("1 MiB token", &ours, huge, "OIDC token is too large"),
            (
                "empty JWKS",
                &empty,
                good.clone(),
                "OIDC token signing key was not found in JWKS",
            ),
            (
                "RS256 token, JWK pinned to ES256",
                &rsa_key_pinned_to_es256,
                good.clone(),
                "OIDC token algorithm RS256 does not match the JWKS key algorithm ES256",
            ),
            (
                "ES256 token naming the RSA kid",
                &rsa_key_without_alg,
                es256_as_rsa_kid,
                "OIDC token algorithm ES256 does not fit the JWKS key type RSA",
            ),
            (
                "JWK meant for encryption",
                &encryption_key,
                good.clone(),
                "OIDC token signing key in JWKS is not for signatures",
            ),
        ];
        assert!(rows.len() >= 15);
        for (name, config, token, expected) in rows {
            assert_eq!(message(config, &token), expected, "row: {name}");
        }
    }

    #[test]
    fn claim_checks_run_only_after_the_signature_verified() {
        // GIVEN a forged token that is also expired, for the wrong issuer and audience
        let forged = sign(
            Algorithm::RS256,
            Some("test-key"),
            "attacker-rsa-private.pem",
            &claims_with(&json!({"iss": "x", "aud": "y", "exp": 1})),
        );
        // THEN the signature is what is reported
        assert_eq!(
            verify_token(&config(), &forged, NOW).unwrap_err(),
            TokenError::InvalidSignature
        );
    }

    // --- config loading ----------------------------------------------------------------------

    #[test]
    fn case_14_a_bare_jwks_path_resolves_next_to_the_config_file() {
        let config = config();
        assert_eq!(
            config.jwks.jwks().keys[0].common.key_id.as_deref(),
            Some("test-key")
        );
        assert_eq!(config.jwks.len(), 3);
        assert_eq!(config.issuer, ISSUER);
        assert_eq!(config.audience, AUDIENCE);
        assert_eq!(config.leeway_seconds, DEFAULT_LEEWAY_SECONDS);
        assert_eq!(config.jwks_uri, None);
    }

    #[test]
    fn a_copied_config_in_another_directory_finds_its_own_jwks_and_yaml_works_by_suffix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keys.json"), fixture("jwks.json")).unwrap();
        let yaml = "issuer: https://login.example\naudience: cavra-approvals\njwks_path: keys.json\nleeway_seconds: 5\n";
        std::fs::write(dir.path().join("oidc.yaml"), yaml).unwrap();
        let config = OidcConfig::load(&dir.path().join("oidc.yaml")).unwrap();
        assert_eq!(config.leeway_seconds, 5);
        assert!(verify_token(&config, &rs256(&claims()), NOW).is_ok());
    }

    #[test]
    fn config_files_give_the_original_messages() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let load = |path: &Path| OidcConfig::load(path).unwrap_err().to_string();

        let missing = dir.path().join("absent.json");
        assert_eq!(
            load(&missing),
            format!("approval OIDC config file not found: {}", missing.display())
        );
        assert_eq!(
            load(&write("list.json", "[]")),
            "approval OIDC config file must contain an object"
        );
        let no_jwks = write(
            "no-jwks.json",
            r#"{"issuer": "i", "audience": "a", "jwks_path": "missing.json"}"#,
        );
        assert_eq!(
            load(&no_jwks),
            format!(
                "approval OIDC JWKS file not found: {}",
                dir.path().join("missing.json").display()
            )
        );
        write("list-jwks.json", "[]");
        let bad_jwks = write(
            "bad-jwks.json",
            r#"{"issuer": "i", "audience": "a", "jwks_path": "list-jwks.json"}"#,
        );
        assert_eq!(
            load(&bad_jwks),
            "approval OIDC JWKS file must contain an object"
        );
        let no_issuer = write(
            "no-issuer.json",
            r#"{"audience": "a", "jwks": {"keys": []}}"#,
        );
        assert_eq!(
            load(&no_issuer),
            "approval OIDC config must include issuer, audience, and jwks, jwks_path, or jwks_uri"
        );
        let no_source = write(
            "no-source.json",
            r#"{"issuer": "i", "audience": "a", "jwks": {}}"#,
        );
        assert_eq!(
            load(&no_source),
            "approval OIDC config must include issuer, audience, and jwks, jwks_path, or jwks_uri"
        );
        let broken = write("broken.json", "{");
        assert!(load(&broken).starts_with(&format!(
            "approval OIDC config file {} is unreadable: invalid JSON",
            broken.display()
        )));
    }

    #[test]
    fn inline_empty_keys_count_as_present_and_jwks_wins_over_jwks_path() {
        let value = json!({"issuer": "i", "audience": "a", "jwks": {"keys": []}, "jwks_path": "nowhere.json"});
        let config = OidcConfig::from_value(&value, Path::new("/nonexistent")).unwrap();
        assert!(config.jwks.is_empty());
        assert_eq!(config.jwks_uri, None);
    }

    #[test]
    fn a_jwks_uri_config_starts_with_no_keys_and_must_be_https_or_loopback() {
        let load = |uri: &str| {
            OidcConfig::from_value(
                &json!({"issuer": "i", "audience": "a", "jwks_uri": uri}),
                Path::new("."),
            )
        };
        let config = load("https://login.example/.well-known/jwks.json").unwrap();
        assert_eq!(
            config.jwks_uri.as_deref(),
            Some("https://login.example/.well-known/jwks.json")
        );
        assert!(config.jwks.is_empty());
        assert_eq!(
            verify_token(&config, &rs256(&claims()), NOW).unwrap_err(),
            TokenError::KeyNotFound
        );
        assert!(load("http://127.0.0.1:8080/jwks").is_ok());
        assert!(load("http://localhost/jwks").is_ok());
        assert_eq!(
            load("http://login.example/jwks").unwrap_err().to_string(),
            "approval OIDC config jwks_uri must be an https URL"
        );
        assert!(load("http://localhost.evil.example/jwks").is_err());
        assert!(load("http://127.0.0.1@evil.example/jwks").is_err());
    }

    #[test]
    fn malformed_keys_and_jwks_give_clear_messages() {
        let from = |v: Value| {
            OidcConfig::from_value(&v, Path::new("."))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            from(json!({"issuer": "i", "audience": ["a"], "jwks": {"keys": []}})),
            "approval OIDC config audience must be a string"
        );
        assert_eq!(
            from(
                json!({"issuer": "i", "audience": "a", "jwks": {"keys": []}, "leeway_seconds": -1})
            ),
            "approval OIDC config leeway_seconds must be a non-negative integer"
        );
        assert_eq!(
            from(json!({"issuer": "i", "audience": "a", "jwks": [1]})),
            "approval OIDC config jwks must be an object"
        );
        assert_eq!(
            from(json!({"issuer": "i", "audience": "a", "jwks": {"kid": "x"}})),
            "approval OIDC JWKS must include keys"
        );
        assert_eq!(
            from(json!({"issuer": "i", "audience": "a", "jwks": {"keys": ["x"]}})),
            "approval OIDC JWKS key #0 is invalid: a key must be an object"
        );
        let bad_rsa = json!({"kty": "RSA", "kid": "k1", "n": "!!!", "e": "AQAB"});
        assert!(
            from(json!({"issuer": "i", "audience": "a", "jwks": {"keys": [bad_rsa]}}))
                .starts_with("approval OIDC JWKS key k1 is invalid: ")
        );
        let ok = OidcConfig::from_value(
            &json!({"issuer": "i", "audience": "a", "jwks": {"keys": []}, "leeway_seconds": 30.0}),
            Path::new("."),
        );
        assert_eq!(ok.unwrap().leeway_seconds, 30);
    }

    // --- properties --------------------------------------------------------------------------

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            "[ -~]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("issuer".to_owned()),
                        Just("audience".to_owned()),
                        Just("jwks".to_owned()),
                        Just("jwks_path".to_owned()),
                        Just("jwks_uri".to_owned()),
                        Just("leeway_seconds".to_owned()),
                        Just("keys".to_owned()),
                        Just("kty".to_owned()),
                        "[a-z_]{1,8}"
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_text_is_never_accepted_as_a_token(token in ".{0,300}") {
            prop_assert!(verify_token(&config(), &token, NOW).is_err());
        }

        #[test]
        fn arbitrary_three_part_tokens_are_never_accepted(
            header in arb_json(), payload in arb_json(), signature in "[A-Za-z0-9_-]{0,90}",
        ) {
            let token = format!("{}.{}.{signature}", b64_json(&header), b64_json(&payload));
            prop_assert!(verify_token(&config(), &token, NOW).is_err());
        }

        #[test]
        fn changing_any_one_character_of_a_valid_token_breaks_it(index in any::<prop::sample::Index>(), replacement in "[A-Za-z0-9_.-]") {
            let token = rs256(&claims());
            let at = index.index(token.len());
            prop_assume!(token[at..=at] != replacement);
            let changed = format!("{}{replacement}{}", &token[..at], &token[at + 1..]);
            prop_assert!(verify_token(&config(), &changed, NOW).is_err());
        }

        #[test]
        fn arbitrary_config_values_parse_or_fail_cleanly(value in arb_json()) {
            if let Ok(config) = OidcConfig::from_value(&value, Path::new("/nonexistent")) {
                prop_assert!(!config.issuer.is_empty() && !config.audience.is_empty());
            }
        }

        #[test]
        fn arbitrary_jwks_values_parse_or_fail_cleanly(value in arb_json()) {
            let _ = jwks_from_value(&value);
        }
    }
}

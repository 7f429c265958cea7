//! `cavra init` and `cavra dev-token` (issue I §3): a working `.cavra/` folder for trying the
//! whole product on a laptop, OIDC mode included, exactly as it runs in production.
//!
//! `init` writes the routing table, an RBAC example, a claims example, and an OIDC config
//! whose key set is a freshly generated Ed25519 key (the private half in a `0600` file beside
//! it, never printed), then migrates the SQLite store `cavra serve` reads. `dev-token` signs
//! short-lived tokens with that key, so `cavra serve --oidc-config .cavra/oidc.json` verifies
//! them as it would verify an identity provider's. The issuer names the folder's own key, so
//! a production config (another issuer, another key set) never accepts these tokens.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::output::print_json;

/// The audience the local OIDC config expects.
pub const DEV_AUDIENCE: &str = "cavra-approvals";
/// The issuer of locally minted tokens (not a URL any identity provider could hold).
pub const DEV_ISSUER: &str = "urn:cavra:dev";
/// The private key file inside the folder.
const KEY_FILE: &str = "dev-signing-key.pem";
/// The longest lifetime `dev-token` mints: a day.
const MAX_TTL_MINUTES: u32 = 24 * 60;

/// `cavra init` arguments.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The folder to write.
    #[arg(long, value_name = "PATH", default_value = ".cavra")]
    dir: PathBuf,
    /// Replace files that exist (the signing key too: tokens minted before stop verifying).
    #[arg(long)]
    force: bool,
}

/// `cavra dev-token` arguments.
#[derive(Debug, Args)]
pub struct DevTokenArgs {
    /// The folder `cavra init` wrote.
    #[arg(long, value_name = "PATH", default_value = ".cavra")]
    dir: PathBuf,
    /// The person's email (also the subject unless --subject is given).
    #[arg(long)]
    email: String,
    /// Groups the token carries (repeatable, or comma separated).
    #[arg(long = "groups", value_name = "GROUP", value_delimiter = ',', num_args = 1..)]
    groups: Vec<String>,
    /// The subject (default: the email).
    #[arg(long)]
    subject: Option<String>,
    /// Minutes until the token expires (1 to 1440).
    #[arg(long, default_value_t = 60)]
    ttl_minutes: u32,
}

/// What `init` writes, by file name.
fn documents(jwks: &JwkSet) -> anyhow::Result<Vec<(&'static str, Value)>> {
    let routing = serde_json::to_value(cavra_core::routing::RoutingTable::default().rules())
        .context("the default routing table")?;
    Ok(vec![
        ("routing.json", routing),
        (
            "rbac.json",
            json!({"approval_rbac": {
                "group_mappings": {"github-team:platform-security": "Platform Security"},
                "repository_permissions": [],
            }}),
        ),
        (
            "oidc.json",
            json!({
                "issuer": DEV_ISSUER,
                "audience": DEV_AUDIENCE,
                "jwks": jwks,
                "leeway_seconds": 60,
            }),
        ),
        (
            "claims.example.json",
            json!({"email": "iam@example.com", "groups": ["IAM"]}),
        ),
    ])
}

/// Runs `cavra init`.
pub fn init(args: &InitArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("could not create {}", args.dir.display()))?;
    let key_path = args.dir.join(KEY_FILE);
    let key = if key_path.exists() && !args.force {
        read_key(&key_path)?
    } else {
        let key = new_key()?;
        write_private(&key_path, &key)?;
        key
    };
    let jwks = key_set(&key);
    let mut written = Vec::new();
    let mut kept = Vec::new();
    for (name, document) in documents(&jwks)? {
        let path = args.dir.join(name);
        // The OIDC config always follows the key, so the two never disagree.
        if path.exists() && !args.force && name != "oidc.json" {
            kept.push(path.display().to_string());
            continue;
        }
        let text = serde_json::to_string_pretty(&document)?;
        std::fs::write(&path, text + "\n")
            .with_context(|| format!("could not write {}", path.display()))?;
        written.push(path.display().to_string());
    }
    let db = args.dir.join("approvals.db");
    cavra_store_sqlite::migrate(&db)?;
    let chain_key = crate::stores::create_key_file(&db)?;
    let dir = args.dir.display();
    print_json(&json!({
        "written": written,
        "kept": kept,
        "database": db.display().to_string(),
        "chain_key_file": chain_key.map(|p| p.display().to_string()),
        "serve": format!(
            "cavra serve --sqlite {dir}/approvals.db --oidc-config {dir}/oidc.json \
             --rbac-file {dir}/rbac.json --routing-file {dir}/routing.json"
        ),
        "token": format!("cavra dev-token --dir {dir} --email iam@example.com --groups IAM"),
    }))
}

/// Runs `cavra dev-token`: prints the signed token alone on a line.
pub fn dev_token(args: &DevTokenArgs, now: i64) -> anyhow::Result<()> {
    let token = mint(args, now)?;
    println!("{token}");
    Ok(())
}

fn mint(args: &DevTokenArgs, now: i64) -> anyhow::Result<String> {
    let email = args.email.trim();
    if email.is_empty() || !email.contains('@') {
        anyhow::bail!("--email must be an email address");
    }
    if !(1..=MAX_TTL_MINUTES).contains(&args.ttl_minutes) {
        anyhow::bail!("--ttl-minutes must be from 1 to {MAX_TTL_MINUTES}");
    }
    let groups: Vec<&str> = args
        .groups
        .iter()
        .map(|g| g.trim())
        .filter(|g| !g.is_empty())
        .collect();
    let key_path = args.dir.join(KEY_FILE);
    if !key_path.exists() {
        anyhow::bail!(
            "no local signing key at {}: run `cavra init` first",
            key_path.display()
        );
    }
    let key = read_key(&key_path)?;
    let subject = args.subject.as_deref().unwrap_or(email);
    let expires = now.saturating_add(i64::from(args.ttl_minutes).saturating_mul(60));
    let claims = json!({
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "sub": subject,
        "email": email,
        "groups": groups,
        "iat": now,
        "exp": expires,
    });
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key_id(&key));
    let der = key.to_pkcs8_der().context("encoding the signing key")?;
    let encoding = EncodingKey::from_ed_der(der.as_bytes());
    jsonwebtoken::encode(&header, &claims, &encoding).context("signing the token")
}

fn new_key() -> anyhow::Result<SigningKey> {
    let mut seed = [0_u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    Ok(SigningKey::from_bytes(&seed))
}

fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    use ed25519_dalek::pkcs8::DecodePrivateKey as _;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read {}", path.display()))?;
    SigningKey::from_pkcs8_pem(&text)
        .map_err(|e| anyhow::anyhow!("{} is not an Ed25519 private key: {e}", path.display()))
}

/// Writes the private key readable by its owner only.
fn write_private(path: &Path, key: &SigningKey) -> anyhow::Result<()> {
    use std::io::Write as _;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .context("encoding the signing key")?;
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("could not create {}", path.display()))?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("could not write {}", path.display()))
}

/// The key's id: the first 16 hex digits of its public key's SHA-256.
fn key_id(key: &SigningKey) -> String {
    let digest = cavra_core::digest::sha256_hex(key.verifying_key().as_bytes());
    format!("dev-{}", digest.get(..16).unwrap_or(&digest))
}

fn key_set(key: &SigningKey) -> JwkSet {
    use base64::Engine as _;
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
    let jwk = Jwk {
        common: CommonParameters {
            key_id: Some(key_id(key)),
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(KeyAlgorithm::EdDSA),
            ..CommonParameters::default()
        },
        algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x,
        }),
    };
    JwkSet { keys: vec![jwk] }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oidc_config(text: &str) -> cavra_core::oidc::OidcConfig {
        cavra_core::oidc::OidcConfig::from_value(
            &serde_json::from_str(text).unwrap(),
            Path::new("."),
        )
        .unwrap()
    }

    fn args(dir: &Path) -> DevTokenArgs {
        DevTokenArgs {
            dir: dir.to_owned(),
            email: "iam@example.com".into(),
            groups: vec!["IAM".into()],
            subject: None,
            ttl_minutes: 60,
        }
    }

    #[test]
    fn a_minted_token_verifies_against_the_config_init_wrote_and_no_other() {
        // GIVEN a folder written by init
        let dir = tempfile::tempdir().unwrap();
        init(&InitArgs {
            dir: dir.path().to_owned(),
            force: false,
        })
        .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        // WHEN a token is minted
        let token = mint(&args(dir.path()), now).unwrap();
        // THEN the folder's OIDC config verifies it, with the email, groups and subject
        let text = std::fs::read_to_string(dir.path().join("oidc.json")).unwrap();
        let config = oidc_config(&text);
        let claims = cavra_core::oidc::verify_token(&config, &token, now).unwrap();
        assert_eq!(claims["email"], "iam@example.com");
        assert_eq!(claims["sub"], "iam@example.com");
        assert_eq!(claims["groups"], json!(["IAM"]));
        // AND a second init keeps the key (old tokens keep verifying)
        init(&InitArgs {
            dir: dir.path().to_owned(),
            force: false,
        })
        .unwrap();
        let text = std::fs::read_to_string(dir.path().join("oidc.json")).unwrap();
        assert!(cavra_core::oidc::verify_token(&oidc_config(&text), &token, now).is_ok());
        // AND another folder's key does not verify it
        let other = tempfile::tempdir().unwrap();
        init(&InitArgs {
            dir: other.path().to_owned(),
            force: false,
        })
        .unwrap();
        let text = std::fs::read_to_string(other.path().join("oidc.json")).unwrap();
        assert!(cavra_core::oidc::verify_token(&oidc_config(&text), &token, now).is_err());
    }

    #[test]
    fn the_private_key_is_owner_only_and_bad_arguments_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        init(&InitArgs {
            dir: dir.path().to_owned(),
            force: false,
        })
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let now = 1_800_000_000;
        for (change, message) in [
            (
                Box::new(|a: &mut DevTokenArgs| a.email = "nobody".into())
                    as Box<dyn Fn(&mut DevTokenArgs)>,
                "--email must be an email address",
            ),
            (
                Box::new(|a: &mut DevTokenArgs| a.ttl_minutes = 0),
                "--ttl-minutes must be from 1 to 1440",
            ),
            (
                Box::new(|a: &mut DevTokenArgs| a.ttl_minutes = u32::MAX),
                "--ttl-minutes must be from 1 to 1440",
            ),
        ] {
            let mut a = args(dir.path());
            change(&mut a);
            assert_eq!(mint(&a, now).unwrap_err().to_string(), message);
        }
        let missing = tempfile::tempdir().unwrap();
        let error = mint(&args(missing.path()), now).unwrap_err().to_string();
        assert!(error.contains("run `cavra init` first"), "{error}");
    }
}

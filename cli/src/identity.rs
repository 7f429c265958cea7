//! Identity options for commands that decide: `--actor-claims FILE` (self-declared, recorded
//! as unverified) or `--actor-token FILE` with `--oidc-config FILE` (a signed OIDC JWT), plus
//! `--rbac-file FILE` for group mappings and repository grants.

use std::path::{Path, PathBuf};

use cavra_core::approval::IdentityKind;
use cavra_core::identity::ActorContext;
use cavra_core::oidc::{OidcConfig, verified_actor};
use cavra_core::rbac::RbacPolicy;
use clap::Args;
use serde_json::Value;

/// How the acting person proves who they are.
#[derive(Debug, Clone, Args, Default)]
pub struct IdentityArgs {
    /// JSON file of OIDC-style claims (`email`, `groups`…); not verified.
    #[arg(long, value_name = "PATH")]
    pub actor_claims: Option<PathBuf>,
    /// File holding a signed OIDC JWT; verified against --oidc-config.
    #[arg(long, value_name = "PATH")]
    pub actor_token: Option<PathBuf>,
    /// OIDC config (issuer, audience, jwks or jwks_path); JSON or YAML.
    #[arg(long, value_name = "PATH")]
    pub oidc_config: Option<PathBuf>,
    /// Repository RBAC policy (group mappings, repository permissions); JSON or YAML.
    #[arg(long, value_name = "PATH")]
    pub rbac_file: Option<PathBuf>,
}

/// The resolved identity and policy.
#[derive(Debug, Default)]
pub struct Resolved {
    /// The actor's context, when an identity was given.
    pub context: Option<ActorContext>,
    /// The RBAC policy, when given.
    pub rbac: Option<RbacPolicy>,
}

fn read_claims(path: &Path) -> anyhow::Result<serde_json::Map<String, Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!("actor claims file not found: {}", path.display())
        } else {
            anyhow::anyhow!("could not read actor claims file {}: {e}", path.display())
        }
    })?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => anyhow::bail!(
            "actor claims file must contain a JSON object: {}",
            path.display()
        ),
        Err(e) => anyhow::bail!(
            "actor claims file {} is not valid JSON: {e}",
            path.display()
        ),
    }
}

fn read_token(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!("actor token file not found: {}", path.display())
        } else {
            anyhow::anyhow!("could not read actor token file {}: {e}", path.display())
        }
    })?;
    Ok(text.trim().to_owned())
}

impl IdentityArgs {
    /// Resolves the options in the original's order of checks (§4.3), now unix seconds.
    pub fn resolve(&self, now_unix: i64) -> anyhow::Result<Resolved> {
        if self.actor_claims.is_some() && self.actor_token.is_some() {
            anyhow::bail!("use either --actor-claims or --actor-token, not both");
        }
        if self.actor_token.is_some() && self.oidc_config.is_none() {
            anyhow::bail!("--oidc-config is required with --actor-token");
        }
        if self.oidc_config.is_some() && self.actor_token.is_none() {
            anyhow::bail!("--oidc-config is only used with --actor-token");
        }
        if self.rbac_file.is_some() && self.actor_claims.is_none() && self.actor_token.is_none() {
            anyhow::bail!("--rbac-file requires --actor-claims or --actor-token");
        }
        let rbac = self
            .rbac_file
            .as_deref()
            .map(RbacPolicy::load)
            .transpose()?;
        let context = if let Some(path) = &self.actor_claims {
            Some(ActorContext::from_claims(
                &read_claims(path)?,
                rbac.as_ref(),
                IdentityKind::Unverified,
            ))
        } else if let (Some(token_path), Some(config_path)) = (&self.actor_token, &self.oidc_config)
        {
            let config = OidcConfig::load(config_path)?;
            if config.jwks.is_empty() && config.jwks_uri.is_some() {
                anyhow::bail!(
                    "the CLI verifies tokens against jwks or jwks_path; jwks_uri is fetched by the API only"
                );
            }
            let token = read_token(token_path)?;
            Some(verified_actor(&config, &token, now_unix, rbac.as_ref())?)
        } else {
            None
        };
        Ok(Resolved { context, rbac })
    }
}

//! Where provider credentials come from.
//!
//! Every setting `K` of a provider entry may be written three ways (CONTRACT §8):
//! `K_secret` names a secret in a secret store (Secrets Manager in AWS; a JSON secret may add
//! `#field`), `K_env` names an environment variable, and `K` holds the value itself. The first
//! one present wins, in that order. [`SecretResolver`] is the port both sources implement: the
//! environment ([`EnvSecrets`]) is built in; a Secrets Manager source plugs in through
//! [`Secrets::with_store`].

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

pub use cavra_core::ports::{SecretError, SecretResolver};

type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Environment variables: the process's, or a fixed map (tests).
#[derive(Clone)]
pub struct EnvSecrets {
    lookup: Lookup,
}

impl fmt::Debug for EnvSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnvSecrets")
    }
}

impl EnvSecrets {
    /// The process environment.
    pub fn process() -> Self {
        Self {
            lookup: Arc::new(|name| std::env::var(name).ok()),
        }
    }

    /// A fixed set of variables.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let map: HashMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self {
            lookup: Arc::new(move |name| map.get(name).cloned()),
        }
    }
}

#[async_trait]
impl SecretResolver for EnvSecrets {
    async fn resolve(&self, name: &str) -> Result<Option<String>, SecretError> {
        Ok((self.lookup)(name).filter(|v| !v.is_empty()))
    }
}

/// The two sources settings resolve through.
#[derive(Debug, Clone)]
pub struct Secrets {
    /// `K_env` names.
    pub env: Arc<dyn SecretResolver>,
    /// `K_secret` names; `None` until a store is plugged in.
    pub store: Option<Arc<dyn SecretResolver>>,
}

impl Secrets {
    /// The process environment, no secret store.
    pub fn from_process_env() -> Self {
        Self {
            env: Arc::new(EnvSecrets::process()),
            store: None,
        }
    }

    /// A given environment, no secret store.
    pub fn from_env(env: impl SecretResolver + 'static) -> Self {
        Self {
            env: Arc::new(env),
            store: None,
        }
    }

    /// Adds the store `K_secret` names resolve in.
    #[must_use]
    pub fn with_store(mut self, store: Arc<dyn SecretResolver>) -> Self {
        self.store = Some(store);
        self
    }
}

/// Where a resolved setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Written in the config file.
    Inline,
    /// An environment variable (`K_env`).
    Env,
    /// A secret store (`K_secret`).
    Store,
}

/// A resolved setting.
#[derive(Clone, PartialEq, Eq)]
pub struct Setting {
    /// The value.
    pub value: String,
    /// Where it came from.
    pub source: Source,
}

impl fmt::Debug for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Settings hold credentials: never print the value.
        f.debug_struct("Setting")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

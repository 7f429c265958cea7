//! Application state, built once per cold start: the service over the store, identity
//! settings, and what `/console/config` reports.

use std::path::Path;
use std::sync::Arc;

use cavra_core::ids::IdGenerator;
use cavra_core::oidc::OidcConfig;
use cavra_core::rbac::RbacPolicy;
use cavra_core::routing::RoutingTable;
use cavra_core::service::ApprovalService;
use cavra_core::store::ApprovalStore;
use cavra_core::time::Clock;

use cavra_delivery::{
    Deliverer, Notifications, ProviderConfig, ReqwestTransport, SecretResolver, Secrets,
};

use crate::auth::{HttpJwksFetch, IdentitySettings, JwksFetch, OidcVerifier};
use crate::config::{Config, StoreConfig};

/// Everything a handler needs.
#[derive(Debug)]
pub struct AppState {
    /// The workflow over the store.
    pub service: ApprovalService,
    /// OIDC and RBAC.
    pub identity: IdentitySettings,
    /// The configuration it was built from.
    pub config: Config,
    /// Provider delivery and automatic notifications, when `CAVRA_APPROVAL_PROVIDER_CONFIG`
    /// is set.
    pub notifications: Option<Notifications>,
    /// Stored changes made through this process, for `GET /approvals/{id}?wait=` (issue F
    /// §3). `cavra serve` has one; a Lambda function does not (it re-reads instead).
    pub changes: Option<Arc<ChangeFeed>>,
    /// Whether the RBAC document holds anything: the original reports an RBAC file holding
    /// `{}` as not configured in `GET /console/security-boundary` (appendix A4).
    pub rbac_configured: bool,
}

/// Announces the id of every record this process stores, to whoever waits for it.
#[derive(Debug)]
pub struct ChangeFeed {
    sender: tokio::sync::broadcast::Sender<String>,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        Self {
            sender: tokio::sync::broadcast::channel(1024).0,
        }
    }
}

impl ChangeFeed {
    /// A receiver of ids changed from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.sender.subscribe()
    }

    /// Resolves when `id` changes (or when changes were missed, so the caller re-reads).
    pub async fn next_for(receiver: &mut tokio::sync::broadcast::Receiver<String>, id: &str) {
        loop {
            match receiver.recv().await {
                Ok(changed) if changed == id => return,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                // The feed lives as long as the state; if it is gone, never wake early.
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

impl cavra_core::service::ChangeListener for ChangeFeed {
    fn changed(&self, record: &cavra_core::approval::Approval) {
        // No receiver is not an error: nobody is waiting.
        let _ = self.sender.send(record.approval_id.clone());
    }
}

/// A configuration file could not be loaded at cold start.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl AppState {
    /// Loads the routing, RBAC and OIDC files named by `config` and wires the service over
    /// `store`. Bad files fail here, with their message, so a misconfigured function never
    /// serves.
    pub fn build(
        config: Config,
        store: Arc<dyn ApprovalStore>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Result<Self, ConfigError> {
        let fetcher: Arc<dyn JwksFetch> =
            Arc::new(HttpJwksFetch::new().map_err(|e| ConfigError(e.to_string()))?);
        Self::build_with_fetcher(config, store, clock, ids, fetcher)
    }

    /// [`AppState::build`] with a chosen JWKS fetcher.
    pub fn build_with_fetcher(
        config: Config,
        store: Arc<dyn ApprovalStore>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        fetcher: Arc<dyn JwksFetch>,
    ) -> Result<Self, ConfigError> {
        let fail = |e: &dyn std::fmt::Display| ConfigError(e.to_string());
        let routing = match config.routing_file.as_deref() {
            Some(source) => match inline(source, "CAVRA_APPROVAL_ROUTING_FILE")? {
                Some(value) => RoutingTable::from_value(&value).map_err(|e| fail(&e))?,
                None => RoutingTable::load(source).map_err(|e| fail(&e))?,
            },
            None => RoutingTable::default(),
        };
        let non_empty =
            |value: &serde_json::Value| value.as_object().is_some_and(|m| !m.is_empty());
        let (rbac, rbac_configured) = match config.rbac_file.as_deref() {
            Some(source) => {
                let (policy, value) =
                    if let Some(value) = inline(source, "CAVRA_APPROVAL_RBAC_FILE")? {
                        (
                            RbacPolicy::from_value(&value).map_err(|e| fail(&e))?,
                            Some(value),
                        )
                    } else {
                        let policy = RbacPolicy::load(source).map_err(|e| fail(&e))?;
                        (policy, cavra_core::files::read_structured(source).ok())
                    };
                (Some(policy), value.as_ref().is_none_or(non_empty))
            }
            None => (None, false),
        };
        let oidc = match config.oidc_config.as_deref() {
            Some(source) => Some(match inline(source, "CAVRA_APPROVAL_OIDC_CONFIG")? {
                // An inline config's `jwks_path` is relative to the working directory.
                Some(value) => {
                    OidcConfig::from_value(&value, Path::new(".")).map_err(|e| fail(&e))?
                }
                None => OidcConfig::load(source).map_err(|e| fail(&e))?,
            }),
            None => None,
        }
        .map(|oidc| OidcVerifier::new(oidc, Some(fetcher)));
        let notifications = match config.provider_config.as_deref() {
            Some(source) => {
                let providers = match inline(source, "CAVRA_APPROVAL_PROVIDER_CONFIG")? {
                    Some(value) => ProviderConfig::from_value(&value),
                    None => ProviderConfig::load(source),
                }
                .map_err(|e| fail(&e))?;
                let transport = ReqwestTransport::new().map_err(|e| fail(&e))?;
                let deliverer = Deliverer::new(
                    Arc::new(transport),
                    Secrets::from_process_env(),
                    clock.clone(),
                )
                .with_console_url(config.public_console_url.clone());
                Some(Notifications::new(providers, deliverer))
            }
            None => None,
        };
        let limits = crate::config::parse_limits(
            config.max_ttl_hours.as_deref(),
            config.max_break_glass_ttl_hours.as_deref(),
        )
        .map_err(|e| fail(&e))?;
        let local_store = match &config.store {
            StoreConfig::Sqlite { path } | StoreConfig::Json { path } => Some(path.as_path()),
            StoreConfig::DynamoDb { .. } => None,
        };
        let chain_keys =
            cavra_core::chain_key::local_ring(config.chain_key.as_deref(), local_store)
                .map_err(|e| fail(&e))?;
        let service = ApprovalService::new(store, clock, ids)
            .with_routing(routing)
            .with_rbac(rbac.clone())
            .with_limits(limits)
            .with_chain_keys(chain_keys)
            .with_notifier(notifier(notifications.as_ref()));
        Ok(Self {
            service,
            identity: IdentitySettings { oidc, rbac },
            config,
            notifications,
            changes: None,
            rbac_configured,
        })
    }

    /// Wakes `?wait=` requests from this process's own writes instead of re-reading
    /// (`cavra serve`, where one process serves every route).
    #[must_use]
    pub fn with_change_feed(mut self) -> Self {
        let feed = Arc::new(ChangeFeed::default());
        self.service = self.service.clone().with_listener(feed.clone());
        self.changes = Some(feed);
        self
    }

    /// Resolves provider `*_secret` settings in `store` (Secrets Manager in AWS).
    #[must_use]
    pub fn with_secret_store(mut self, store: Arc<dyn SecretResolver>) -> Self {
        let notifications = self.notifications.take().map(|mut n| {
            let secrets = n.deliverer.secrets().clone().with_store(store);
            n.deliverer = n.deliverer.clone().with_secrets(secrets);
            n
        });
        self.with_notifications(notifications)
    }

    /// Replaces how providers are reached (tests use a deliverer with recorded waits); the
    /// service notifies through the same.
    #[must_use]
    pub fn with_notifications(mut self, notifications: Option<Notifications>) -> Self {
        self.service = self
            .service
            .clone()
            .with_notifier(notifier(notifications.as_ref()));
        self.notifications = notifications;
        self
    }

    /// Seconds since the epoch from the service's clock.
    pub fn now_unix(&self) -> i64 {
        self.service.now().unix_seconds()
    }
}

/// The service's notifier over the provider config, when there is one.
fn notifier(
    notifications: Option<&Notifications>,
) -> Option<Arc<dyn cavra_core::notify::Notifier>> {
    notifications.map(|n| Arc::new(n.clone()) as Arc<dyn cavra_core::notify::Notifier>)
}

/// A configuration variable holds a file path, or — when it starts with `{` or `[` — the JSON
/// document itself, so a Lambda function can be configured from template parameters alone.
fn inline(source: &Path, variable: &str) -> Result<Option<serde_json::Value>, ConfigError> {
    let text = source.to_string_lossy();
    let text = text.trim_start();
    if !(text.starts_with('{') || text.starts_with('[')) {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| ConfigError(format!("{variable} holds invalid inline JSON: {e}")))
}

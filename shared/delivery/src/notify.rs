//! Delivery around the approval service: `deliver` with its evidence appended to the
//! request's history, and the core's [`Notifier`] port: the automatic notification of the
//! state changes the provider config asks for (`notify_on`; break-glass always goes to every
//! enabled provider). The service calls it, so the CLI, the API and the sweeper behave alike.

use std::sync::Arc;

use cavra_core::approval::Approval;
use cavra_core::error::ApprovalError;
use cavra_core::notify::{Notifier, NotifyEvent};
use cavra_core::service::ApprovalService;

use crate::config::{NotConfigured, ProviderConfig};
use crate::deliver::{Deliverer, DeliveryOptions};
use crate::result::DeliveryResult;

/// `deliver` failed before or after sending.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// The named provider is not enabled.
    #[error(transparent)]
    NotConfigured(#[from] NotConfigured),
    /// Reading the request or appending the evidence failed.
    #[error(transparent)]
    Approval(#[from] ApprovalError),
}

/// A loaded provider config and the deliverer that sends to it.
#[derive(Debug, Clone)]
pub struct Notifications {
    /// The provider config.
    pub config: Arc<ProviderConfig>,
    /// The sender.
    pub deliverer: Deliverer,
    /// Retries and timeout of automatic notifications (from the config's
    /// `notify_retries` / `notify_timeout_seconds`).
    pub options: DeliveryOptions,
}

impl Notifications {
    /// Notifications over `config`; automatic ones use the config's retries and timeout.
    pub fn new(config: ProviderConfig, deliverer: Deliverer) -> Self {
        Self {
            options: config.notify_options(),
            config: Arc::new(config),
            deliverer,
        }
    }

    /// Delivers request `approval_id` to `provider` (`all` for every enabled provider) and
    /// appends the redacted result to its history as a `delivered` entry by `actor`.
    ///
    /// # Errors
    /// The request does not exist (checked first), the provider is not configured, or the
    /// evidence could not be stored.
    pub async fn deliver_and_record(
        &self,
        service: &ApprovalService,
        approval_id: &str,
        provider: &str,
        options: DeliveryOptions,
        actor: &str,
    ) -> Result<(DeliveryResult, Approval), DeliverError> {
        let approval = service.get(approval_id).await?;
        let result = self
            .deliverer
            .deliver(&self.config, &approval, provider, options)
            .await?;
        let record = service
            .record_delivery(approval_id, actor, &result.to_value())
            .await?;
        Ok((result, record))
    }
}

/// The core's notification port over the provider config: the providers that asked for
/// `event` (`notify_on`; break-glass goes to every enabled provider), sent concurrently with
/// the config's retries and timeout. The service keeps the redacted result in the history.
#[async_trait::async_trait]
impl Notifier for Notifications {
    async fn notify(&self, record: &Approval, event: NotifyEvent) -> Option<serde_json::Value> {
        let targets = self.config.notify_targets(event);
        if targets.is_empty() {
            return None;
        }
        let result = self
            .deliverer
            .deliver_to(&self.config, record, &targets, self.options, Some(event))
            .await;
        if result.success {
            tracing::info!(approval_id = %record.approval_id, event = %event, providers = targets.len(), "approvers notified");
        } else {
            tracing::warn!(
                approval_id = %record.approval_id,
                event = %event,
                failed = ?result.failed_providers(),
                "approval notification failed"
            );
        }
        Some(result.to_value())
    }
}

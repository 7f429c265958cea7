//! Delivery around the approval service: `deliver` with its evidence appended to the
//! request's history, and the automatic notification of state changes the provider config
//! asks for (`notify_on`; break-glass always goes to every enabled provider). The CLI and the
//! API both run this, so they behave alike.

use std::sync::Arc;

use cavra_core::approval::{Approval, SYSTEM_ACTOR};
use cavra_core::error::ApprovalError;
use cavra_core::notify::NotifyEvent;
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

/// What an automatic notification did.
#[derive(Debug, Clone)]
pub struct Notified {
    /// The record with the `delivered` history entry appended (or unchanged when nothing was
    /// sent or the evidence could not be stored).
    pub record: Approval,
    /// The delivery, when any provider asked for the event.
    pub result: Option<DeliveryResult>,
    /// Why the evidence could not be stored, if it could not.
    pub error: Option<String>,
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

    /// Tells the providers that asked for `event` about `record` (break-glass: every enabled
    /// provider), as `system`, and appends the evidence. Never fails the state change: a
    /// failed delivery is in the evidence, a failed append in [`Notified::error`].
    pub async fn after_change(
        &self,
        service: &ApprovalService,
        record: Approval,
        event: NotifyEvent,
    ) -> Notified {
        let targets = self.config.notify_targets(event);
        if targets.is_empty() {
            return Notified {
                record,
                result: None,
                error: None,
            };
        }
        let result = self
            .deliverer
            .deliver_to(&self.config, &record, &targets, self.options, Some(event))
            .await;
        if !result.success {
            tracing::warn!(
                approval_id = %record.approval_id,
                event = %event,
                failed = ?result.failed_providers(),
                "approval notification failed"
            );
        }
        match service
            .record_delivery(&record.approval_id, SYSTEM_ACTOR, &result.to_value())
            .await
        {
            Ok(updated) => Notified {
                record: updated,
                result: Some(result),
                error: None,
            },
            Err(error) => {
                tracing::error!(approval_id = %record.approval_id, error = %error, "notification evidence was not stored");
                Notified {
                    record,
                    result: Some(result),
                    error: Some(error.to_string()),
                }
            }
        }
    }
}

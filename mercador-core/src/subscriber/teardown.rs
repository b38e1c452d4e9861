//! Cancel (from A), the cleanup after a revocation, and the rollback of a
//! failed provisioning: one resumable sequence.
//!
//! Steps: `cancel_remote` (cancel at the publisher first, unless it revoked
//! the subscription; "not found" or an already finished subscription is
//! fine), `remove_endpoints` (the binding's endpoints in its region),
//! `remove_services` (a `mercador-<type>` service left without any endpoint),
//! `remove_region`, `remove_service_provider`. Only objects Mercador
//! recognises as its own (by name and description) are deleted.

use super::{BindingView, Subscriber, SubscriberError, SubscriberResult, gone_is_fine, is_ours, sp_id};
use crate::keystone::types::Filter;
use crate::model::{Name, ObjectKind, SubscriptionState};
use crate::store::BindingRecord;

impl Subscriber {
    /// Cancels a binding: the subscription at the publisher first, then A's
    /// endpoints, region and service provider. Idempotent.
    pub async fn cancel(&self, alias: &Name) -> SubscriberResult<BindingView> {
        let mut b = self.binding_by_alias(alias).await?;
        if b.state.is_final() {
            return Ok(b.into());
        }
        if !matches!(b.state, SubscriptionState::Cancelling | SubscriptionState::Revoking) {
            b.state = SubscriptionState::Cancelling;
            b.error = None;
            b = self.save(b).await?;
            tracing::info!(binding = %b.alias, publisher = %b.publisher, vregion = %b.vregion, "cancelling");
        }
        Ok(self.teardown(&b.id).await?.into())
    }

    /// Rolls a failed provisioning back: `cancelling` with the error, then
    /// teardown to `failed`.
    pub(crate) async fn roll_back(&self, id: &str, cause: &SubscriberError) -> SubscriberResult<()> {
        let mut b = self.binding_record(id).await?;
        if !b.state.is_final() && b.state != SubscriptionState::Revoking {
            b.state = SubscriptionState::Cancelling;
            b.error = Some(cause.to_string());
            self.save(b).await?;
        }
        self.teardown(id).await.map(|_| ())
    }

    /// Marks a binding revoked by its publisher and removes A's side.
    pub(crate) async fn revoked_by_publisher(&self, id: &str, why: String) -> SubscriberResult<BindingRecord> {
        let mut b = self.binding_record(id).await?;
        if !b.state.is_final() && b.state != SubscriptionState::Revoking {
            b.state = SubscriptionState::Revoking;
            b.error = Some(why);
            b = self.save(b).await?;
            tracing::warn!(binding = %b.alias, publisher = %b.publisher, "the publisher ended the subscription; cleaning up A");
        }
        self.teardown(id).await
    }

    /// Runs (or resumes) the teardown of a binding in `cancelling` or
    /// `revoking` under its lease, up to its final state.
    pub(crate) async fn teardown(&self, id: &str) -> SubscriberResult<BindingRecord> {
        self.with_binding_lease(id, |lease| async move {
            let mut b = self.binding_record(id).await?;
            let final_state = match b.state {
                SubscriptionState::Cancelling if b.error.is_some() => SubscriptionState::Failed,
                SubscriptionState::Cancelling => SubscriptionState::Cancelled,
                SubscriptionState::Revoking => SubscriptionState::Revoked,
                _ => return Ok(b),
            };
            let keystone = self.keystone().as_ref();
            let region = b.alias.to_string();

            if b.state == SubscriptionState::Cancelling {
                b = self.step(b, "cancel_remote", &lease).await?;
                self.cancel_remote(&b).await?;
                b = self.pause_after(b, "cancel_remote").await?;
            }

            b = self.step(b, "remove_endpoints", &lease).await?;
            let services = self.our_services().await?;
            for service in &services {
                let filter = Filter::new().service_id(&service.id).region_id(&region);
                for e in keystone.list_endpoints(&filter).await? {
                    if e.region_id.as_deref() == Some(region.as_str()) {
                        gone_is_fine(keystone.delete_endpoint(&e.id).await)?;
                    }
                }
            }
            for o in b.objects.iter().filter(|o| o.kind == ObjectKind::Endpoint) {
                gone_is_fine(keystone.delete_endpoint(&o.id).await)?;
            }
            b.objects.retain(|o| o.kind != ObjectKind::Endpoint);
            b = self.pause_after(b, "remove_endpoints").await?;

            b = self.step(b, "remove_services", &lease).await?;
            for service in &services {
                if keystone.list_endpoints(&Filter::new().service_id(&service.id)).await?.is_empty() {
                    gone_is_fine(keystone.delete_service(&service.id).await)?;
                    tracing::info!(service = %service.service_type, "removed an unused mercador service from A's catalog");
                }
            }
            b.objects.retain(|o| o.kind != ObjectKind::Service);
            b = self.pause_after(b, "remove_services").await?;

            b = self.step(b, "remove_region", &lease).await?;
            match keystone.get_region(&region).await {
                Ok(r) if is_ours(r.description.as_deref()) => gone_is_fine(keystone.delete_region(&region).await)?,
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
            b.objects.retain(|o| o.kind != ObjectKind::Region);
            b = self.pause_after(b, "remove_region").await?;

            b = self.step(b, "remove_service_provider", &lease).await?;
            let sp = sp_id(&b.alias);
            match keystone.get_service_provider(&sp).await {
                Ok(s) if is_ours(s.description.as_deref()) => gone_is_fine(keystone.delete_service_provider(&sp).await)?,
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
            b.objects.retain(|o| o.kind != ObjectKind::ServiceProvider);

            b.state = final_state;
            b.step = None;
            let b = self.save(b).await?;
            tracing::info!(binding = %b.alias, state = %b.state, "teardown finished");
            Ok(b)
        })
        .await
    }

    /// Cancels at the publisher; a subscription it no longer knows or that
    /// is already finished is fine.
    async fn cancel_remote(&self, b: &BindingRecord) -> SubscriberResult<()> {
        let Some(remote) = &b.remote_subscription_id else {
            return Ok(());
        };
        let publisher = self.publisher_by_id(&b.publisher_id).await?;
        let client = self.exchange_client(&publisher)?;
        match client.cancel(remote).await {
            Ok(s) => {
                tracing::info!(binding = %b.alias, subscription = %s.id, state = %s.state, "cancelled at the publisher");
                Ok(())
            }
            Err(e) if matches!(e.publisher_status(), Some(404 | 409)) => {
                tracing::info!(binding = %b.alias, error = %e, "the publisher has nothing left to cancel");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

//! Cancel (from A), the cleanup after a revocation, and the rollback of a
//! failed provisioning: one resumable sequence.
//!
//! Steps: `cancel_remote` (cancel at the publisher first, unless it revoked
//! the subscription; "not found" or an already finished subscription is
//! fine), `remove_endpoints` (the binding's endpoints in its region),
//! `remove_services` (a `mercador-<type>` service left without any endpoint),
//! `remove_region`, `remove_service_provider`. Only objects Mercador
//! recognises as its own (by name and description) are deleted.
//!
//! A forced cancel ([`Subscriber::cancel_forced`]) is for a publisher gone
//! for good: its step is `cancel_remote_forced`, and when the publisher
//! cannot be reached or refuses, the binding records
//! [`CANCELLED_WITHOUT_PUBLISHER`] in its error, the step becomes
//! `cancel_remote_abandoned`, and A's teardown goes on to `cancelled`. The
//! step names are the durable record of that decision: a teardown resumed
//! at `cancel_remote_forced` is forced again, and one resumed at
//! `cancel_remote_abandoned` or any later step does not call the publisher
//! again.

use super::{BindingView, Subscriber, SubscriberError, SubscriberResult, gone_is_fine, is_ours, sp_id};
use crate::keystone::types::Filter;
use crate::model::{Name, ObjectKind, SubscriptionState};
use crate::store::{BindingRecord, StoreError};

/// Start of the error recorded on a binding cancelled without its
/// publisher (its subscription there is abandoned, not cancelled). A
/// `cancelling` binding whose error starts otherwise is a rollback and ends
/// `failed`.
pub const CANCELLED_WITHOUT_PUBLISHER: &str = "cancelled without the publisher: ";

/// Step of a cancel at the publisher.
const CANCEL_REMOTE: &str = "cancel_remote";
/// Step of a forced cancel at the publisher (its failure does not stop
/// the teardown).
const CANCEL_REMOTE_FORCED: &str = "cancel_remote_forced";
/// Recorded when a forced cancel gave the publisher up.
const CANCEL_REMOTE_ABANDONED: &str = "cancel_remote_abandoned";
/// Steps recorded once the publisher's side is settled (cancelled there or
/// abandoned): a resumed teardown does not call the publisher again.
const AFTER_REMOTE: &[&str] =
    &[CANCEL_REMOTE_ABANDONED, "remove_endpoints", "remove_services", "remove_region", "remove_service_provider"];

/// How a teardown treats the publisher's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Remote {
    /// Cancel there first; a failure stops the teardown (retried later).
    Cancel,
    /// Cancel there if it answers; otherwise abandon it and go on.
    CancelOrAbandon,
    /// Nothing to do there: revoked by the publisher, or already settled.
    Settled,
}

impl Subscriber {
    /// Cancels a binding: the subscription at the publisher first, then A's
    /// endpoints, region and service provider. Idempotent. While the
    /// publisher cannot be reached or refuses, the binding stays
    /// `cancelling` (reconcile retries) and the error says so, pointing to
    /// [`Subscriber::cancel_forced`].
    pub async fn cancel(&self, alias: &Name) -> SubscriberResult<BindingView> {
        self.cancel_as(alias, false).await
    }

    /// Cancels a binding whose publisher is gone for good (decommissioned,
    /// credential revoked): like [`Subscriber::cancel`], but when the
    /// publisher cannot be reached or refuses (anything but success, "not
    /// found" or "already finished"), its side is abandoned — the binding's
    /// error records [`CANCELLED_WITHOUT_PUBLISHER`] and the reason — and
    /// A's objects are removed all the same, ending `cancelled` (`failed`
    /// for a rollback). Also upgrades a cancel stuck in `cancelling`. The
    /// subscription at the publisher is left as it is: its admin revokes it.
    pub async fn cancel_forced(&self, alias: &Name) -> SubscriberResult<BindingView> {
        self.cancel_as(alias, true).await
    }

    /// A binding that changes meanwhile (a refresh on another replica
    /// noticing a revocation) is looked at again: a revocation under way
    /// is finished instead.
    async fn cancel_as(&self, alias: &Name, forced: bool) -> SubscriberResult<BindingView> {
        let id = loop {
            let mut b = self.binding_by_alias(alias).await?;
            if b.state.is_final() {
                return Ok(b.into());
            }
            if matches!(b.state, SubscriptionState::Cancelling | SubscriptionState::Revoking) {
                break b.id;
            }
            b.state = SubscriptionState::Cancelling;
            b.error = None;
            match self.save(b).await {
                Ok(b) => {
                    tracing::info!(binding = %b.alias, publisher = %b.publisher, vregion = %b.vregion, forced, "cancelling");
                    break b.id;
                }
                Err(SubscriberError::Store(StoreError::Stale { .. })) => continue,
                Err(e) => return Err(e),
            }
        };
        match self.teardown_as(&id, forced).await {
            Ok(b) => Ok(b.into()),
            Err(e) => Err(self.interrupted("cancel", &id, e).await),
        }
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

    /// Marks a binding revoked by its publisher and removes A's side. A
    /// binding already `cancelling` (an admin's cancel under way, or a
    /// rollback) or finished is left alone: its own teardown ends it (and
    /// takes the publisher's "not found"/"already finished" in its stride).
    /// A binding that changes meanwhile (a cancel starting on another
    /// replica) is looked at again rather than overwritten.
    pub(crate) async fn revoked_by_publisher(&self, id: &str, why: String) -> SubscriberResult<BindingRecord> {
        loop {
            let mut b = self.binding_record(id).await?;
            match b.state {
                SubscriptionState::Revoking => break,
                SubscriptionState::Cancelling => {
                    tracing::info!(
                        binding = %b.alias,
                        publisher = %b.publisher,
                        "the publisher ended the subscription; the binding's cancel under way finishes it"
                    );
                    return Ok(b);
                }
                s if s.is_final() => return Ok(b),
                _ => {}
            }
            b.state = SubscriptionState::Revoking;
            b.error = Some(why.clone());
            match self.save(b).await {
                Ok(b) => {
                    tracing::warn!(binding = %b.alias, publisher = %b.publisher, "the publisher ended the subscription; cleaning up A");
                    break;
                }
                Err(SubscriberError::Store(StoreError::Stale { .. })) => continue,
                Err(e) => return Err(e),
            }
        }
        self.teardown(id).await
    }

    /// Runs (or resumes) the teardown of a binding in `cancelling` or
    /// `revoking` under its lease, up to its final state; a forced cancel
    /// recorded on the binding stays forced.
    pub(crate) async fn teardown(&self, id: &str) -> SubscriberResult<BindingRecord> {
        self.teardown_as(id, false).await
    }

    /// [`Subscriber::teardown`]; `force` turns a cancel at the publisher
    /// not yet done into a forced one.
    async fn teardown_as(&self, id: &str, force: bool) -> SubscriberResult<BindingRecord> {
        self.with_binding_lease(id, |lease| async move {
            let mut b = self.binding_record(id).await?;
            let final_state = match b.state {
                SubscriptionState::Cancelling if b.error.as_deref().is_some_and(|e| !abandoned(e)) => {
                    SubscriptionState::Failed
                }
                SubscriptionState::Cancelling => SubscriptionState::Cancelled,
                SubscriptionState::Revoking => SubscriptionState::Revoked,
                _ => return Ok(b),
            };
            let keystone = self.keystone().as_ref();
            let region = b.alias.to_string();

            match remote_phase(&b, force) {
                Remote::Settled => {}
                Remote::Cancel => {
                    b = self.step(b, CANCEL_REMOTE, &lease).await?;
                    if let Err(e) = self.cancel_remote(&b).await {
                        return Err(if publisher_side(&e) {
                            SubscriberError::CancelBlocked { binding: b.alias.to_string(), source: Box::new(e) }
                        } else {
                            e
                        });
                    }
                    b = self.pause_after(b, CANCEL_REMOTE).await?;
                }
                Remote::CancelOrAbandon => {
                    b = self.step(b, CANCEL_REMOTE_FORCED, &lease).await?;
                    match self.cancel_remote(&b).await {
                        Ok(()) => {}
                        Err(e) if publisher_side(&e) => {
                            tracing::warn!(
                                binding = %b.alias,
                                publisher = %b.publisher,
                                subscription = b.remote_subscription_id.as_deref().unwrap_or("-"),
                                error = %e,
                                "forced cancel: the publisher cannot cancel; its side is abandoned (its admin \
                                 should revoke the subscription), A's side is removed"
                            );
                            let note = format!("{CANCELLED_WITHOUT_PUBLISHER}{} ({e})", e.code());
                            b.error = Some(match b.error.take() {
                                Some(cause) => format!("{cause}; {note}"),
                                None => note,
                            });
                            b.step = Some(CANCEL_REMOTE_ABANDONED.into());
                        }
                        Err(e) => return Err(e),
                    }
                    b = self.pause_after(b, CANCEL_REMOTE).await?;
                }
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
            self.with_catalog_lease(|_catalog| async {
                for service in self.our_services().await? {
                    if keystone.list_endpoints(&Filter::new().service_id(&service.id)).await?.is_empty() {
                        gone_is_fine(keystone.delete_service(&service.id).await)?;
                        tracing::info!(service = %service.service_type, "removed an unused mercador service from A's catalog");
                    }
                }
                Ok(())
            })
            .await?;
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

/// How the teardown of `b` treats the publisher: settled once a step past
/// the cancel there is recorded, or when the publisher revoked; forced when
/// asked now or recorded by an interrupted forced cancel.
fn remote_phase(b: &BindingRecord, force: bool) -> Remote {
    let step = b.step.as_deref().unwrap_or_default();
    if b.state != SubscriptionState::Cancelling || AFTER_REMOTE.contains(&step) {
        Remote::Settled
    } else if force || step == CANCEL_REMOTE_FORCED {
        Remote::CancelOrAbandon
    } else {
        Remote::Cancel
    }
}

/// True for the publisher's failures (unreachable, refusing, unusable
/// credential or address): what a forced cancel gives up on. Failures of
/// A's own database are not.
fn publisher_side(e: &SubscriberError) -> bool {
    matches!(
        e,
        SubscriberError::Publisher { .. }
            | SubscriberError::Unreachable { .. }
            | SubscriberError::Secrets(_)
            | SubscriberError::Invalid(_)
            | SubscriberError::NotFound { .. }
    )
}

/// True for an error recorded by a forced cancel alone.
fn abandoned(error: &str) -> bool {
    error.starts_with(CANCELLED_WITHOUT_PUBLISHER)
}

//! Resuming what a crash interrupted.
//!
//! At start and periodically, the service calls [`Publisher::reconcile`]:
//! subscriptions left `requested` or `provisioning` are provisioned to
//! `active` (their admin password is then handed over by the partner's next
//! subscribe call, since the first answer was lost); those left
//! `cancelling` or `revoking` are torn down to their final state; partners
//! left `onboarding` (their credential never reached anyone) are removed,
//! and those left `removing` finish. Work in progress elsewhere is never
//! disturbed: each subscription is handled under its partner's lease, and a
//! partner still onboarding is left alone while its record is younger than
//! the lease.

use super::{Publisher, PublisherResult, ReconcileReport};
use crate::model::SubscriptionState;
use crate::store::{PartnerState, SubscriptionFilter};

impl Publisher {
    /// Resumes every unfinished operation: onboarding and removal of
    /// partners, provisioning, cancellation, revocation and rollback of
    /// subscriptions. Run at start and periodically.
    pub async fn reconcile(&self) -> PublisherResult<ReconcileReport> {
        let mut report = ReconcileReport::default();
        let unfinished = SubscriptionFilter { states: SubscriptionState::UNFINISHED.to_vec(), ..Default::default() };
        for s in self.store().list_subscriptions(&unfinished).await? {
            let id = s.id.clone();
            let result = match s.state {
                SubscriptionState::Requested | SubscriptionState::Provisioning => {
                    self.provision(s).await.map(|done| (done.state == SubscriptionState::Active, true))
                }
                _ => self.teardown(&id).await.map(|done| (done.state.is_final(), false)),
            };
            match result {
                Ok((true, true)) => report.resumed.push(id),
                Ok((true, false)) => report.finished.push(id),
                Ok((false, _)) => {}
                Err(e) => {
                    tracing::warn!(subscription = %id, error = %e, "reconcile: not finished");
                    report.failed.push(format!("{id}: {e}"));
                }
            }
        }
        let grace = chrono::Duration::from_std(self.config().lease_ttl).unwrap_or_else(|_| chrono::Duration::zero());
        for p in self.store().list_partners().await? {
            let result = match p.state {
                PartnerState::Active => continue,
                PartnerState::Onboarding if Self::now() - p.updated_at < grace => continue,
                PartnerState::Onboarding => {
                    async {
                        self.remove_partner_objects(&p.name).await?;
                        self.store().delete_partner(&p.id).await?;
                        Ok(())
                    }
                    .await
                }
                PartnerState::Removing => self.remove_partner(&p.name).await,
            };
            match result {
                Ok(()) => report.partners.push(p.name.to_string()),
                Err(e) => {
                    tracing::warn!(partner = %p.name, error = %e, "reconcile: partner not finished");
                    report.failed.push(format!("partner {}: {e}", p.name));
                }
            }
        }
        if report != ReconcileReport::default() {
            tracing::info!(?report, "reconciled");
        }
        Ok(report)
    }
}

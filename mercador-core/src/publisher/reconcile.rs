//! Resuming what a crash interrupted.
//!
//! At start and periodically, the service calls [`Publisher::reconcile`]:
//! subscriptions left `requested` or `provisioning` are provisioned to
//! `active` (their admin password is then handed over by the partner's next
//! subscribe call, since the first answer was lost); those left
//! `cancelling` or `revoking` are torn down to their final state; partners
//! left `onboarding` (their credential never reached anyone) are removed,
//! and those left `removing` finish. The admin users of active
//! subscriptions lose any cloud-wide role they hold (earlier versions
//! granted `admin` on the vregion domain; see [`super::confinement`]).
//! Vregion projects lose memberships of shared images their vregion does
//! not list ([`Publisher::sweep_memberships`]).
//! Work in progress elsewhere is never disturbed: each subscription is handled under its partner's lease, and a
//! partner still onboarding is left alone while its record is younger than
//! the lease.

use super::subscribe::vregion_domain;
use super::{Publisher, PublisherResult, ReconcileReport};
use crate::keystone::types::RoleAssignmentFilter;
use crate::model::{ObjectKind, SubscriptionState};
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
        if let Err(e) = self.confine_admin_users(&mut report).await {
            tracing::warn!(error = %e, "reconcile: admin users not checked");
            report.failed.push(format!("admin users: {e}"));
        }
        if let Err(e) = self.sweep_memberships(&mut report).await {
            tracing::warn!(error = %e, "reconcile: image memberships not swept");
            report.failed.push(format!("image memberships: {e}"));
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
        if !report.is_empty() {
            tracing::info!(?report, "reconciled");
        }
        Ok(report)
    }

    /// Takes every cloud-wide role from the admin users of active
    /// subscriptions (earlier versions granted `admin` on the vregion
    /// domain); one listing per subscription when there is nothing to do.
    async fn confine_admin_users(&self, report: &mut ReconcileReport) -> PublisherResult<()> {
        let keystone = self.keystone().as_ref();
        let graph = self.role_graph().await?;
        let active = SubscriptionFilter { states: vec![SubscriptionState::Active], ..Default::default() };
        for s in self.store().list_subscriptions(&active).await? {
            let result: PublisherResult<Vec<String>> = async {
                let Some(user_id) = s.objects.iter().find(|o| o.kind == ObjectKind::User).map(|o| o.id.clone()) else {
                    return Ok(Vec::new());
                };
                let filter =
                    RoleAssignmentFilter { user_id: Some(user_id.clone()), include_names: true, ..Default::default() };
                let assignments = match keystone.list_role_assignments(&filter).await {
                    Ok(a) => a,
                    Err(e) if e.is_not_found() => return Ok(Vec::new()),
                    Err(e) => return Err(e.into()),
                };
                let wide = assignments
                    .iter()
                    .any(|a| graph.why_cloud_wide(a.role.name.as_deref().unwrap_or(&a.role.id)).is_some());
                if !wide {
                    return Ok(Vec::new());
                }
                let domain_id = vregion_domain(&self.vregion_by_id(&s.vregion_id).await?)?;
                let (_, removed) = self
                    .with_partner_lease(&s.partner_id, |_lease| async {
                        self.converge_admin_grants(&user_id, &domain_id).await
                    })
                    .await?;
                Ok(removed)
            }
            .await;
            match result {
                Ok(removed) => report.confined.extend(removed.into_iter().map(|r| format!("{}: {r}", s.id))),
                Err(e) => {
                    tracing::warn!(subscription = %s.id, error = %e, "reconcile: admin user not confined");
                    report.failed.push(format!("{}: {e}", s.id));
                }
            }
        }
        Ok(())
    }
}

//! Resuming what a crash interrupted: at start and periodically, bindings
//! left `requested`/`provisioning` go on to `active`, those left
//! `cancelling`/`revoking` to their final state, each under its lease.

use super::{ReconcileReport, Subscriber, SubscriberResult};
use crate::model::SubscriptionState;
use crate::store::BindingFilter;

impl Subscriber {
    /// Resumes every unfinished binding.
    pub async fn reconcile(&self) -> SubscriberResult<ReconcileReport> {
        let mut report = ReconcileReport::default();
        let unfinished = BindingFilter { states: SubscriptionState::UNFINISHED.to_vec(), ..Default::default() };
        for b in self.store().list_bindings(&unfinished).await? {
            let (id, alias) = (b.id.clone(), b.alias.to_string());
            let result = match b.state {
                SubscriptionState::Requested | SubscriptionState::Provisioning => {
                    self.provision(b).await.map(|done| (done.state == SubscriptionState::Active, true))
                }
                _ => self.teardown(&id).await.map(|done| (done.state.is_final(), false)),
            };
            match result {
                Ok((true, true)) => report.resumed.push(alias),
                Ok((true, false)) => report.finished.push(alias),
                Ok((false, _)) => {}
                Err(e) => {
                    tracing::warn!(binding = %alias, error = %e, "reconcile: not finished");
                    report.failed.push(format!("{alias}: {e}"));
                }
            }
        }
        if report != ReconcileReport::default() {
            tracing::info!(?report, "reconciled");
        }
        Ok(report)
    }
}

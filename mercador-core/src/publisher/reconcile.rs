//! Resuming what a crash interrupted.

use super::{Publisher, PublisherResult, ReconcileReport};

impl Publisher {
    /// Resumes every unfinished operation: onboarding and removal of
    /// partners, provisioning, cancellation, revocation and rollback of
    /// subscriptions. Run at start and periodically.
    pub async fn reconcile(&self) -> PublisherResult<ReconcileReport> {
        todo!()
    }
}

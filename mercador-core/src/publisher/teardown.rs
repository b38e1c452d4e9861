//! Cancel (by the partner), revoke (by the publisher's admin), and rollback.

use super::{Publisher, PublisherResult, SubscriptionView};
use crate::model::Name;

impl Publisher {
    /// Cancels one of the partner's subscriptions: removes the trust (when
    /// it was the partner's last), identity provider, mapping, protocol and
    /// admin user; the federated users' projects are disabled, not deleted.
    pub async fn cancel(&self, partner: &Name, id: &str) -> PublisherResult<SubscriptionView> {
        todo!("{partner}{id}")
    }

    /// Revokes a subscription (admin); with `purge`, the federated users'
    /// projects are deleted instead of disabled.
    pub async fn revoke(&self, id: &str, purge: bool) -> PublisherResult<SubscriptionView> {
        todo!("{id}{purge}")
    }
}

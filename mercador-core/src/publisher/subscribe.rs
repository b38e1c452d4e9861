//! Subscribing: the persisted, resumable sequence of idempotent steps.

use super::{Access, OfferedVRegion, Publisher, PublisherResult, SubscribeRequest, SubscriptionView};
use crate::model::Name;

impl Publisher {
    /// The vregions offered to a partner: published and listing it.
    pub async fn offered_vregions(&self, partner: &Name) -> PublisherResult<Vec<OfferedVRegion>> {
        todo!("{partner}")
    }

    /// Subscribes `partner` to a vregion. Idempotent: asking again while the
    /// subscription is being provisioned resumes it; once active, returns
    /// [`super::PublisherError::Conflict`] unless its credentials never
    /// reached the partner (then they are returned).
    pub async fn subscribe(&self, partner: &Name, request: SubscribeRequest) -> PublisherResult<Access> {
        todo!("{partner}{request:?}")
    }

    /// A partner's subscriptions (every state).
    pub async fn partner_subscriptions(&self, partner: &Name) -> PublisherResult<Vec<SubscriptionView>> {
        todo!("{partner}")
    }

    /// One of a partner's subscriptions; another partner's is reported as
    /// not found.
    pub async fn partner_subscription(&self, partner: &Name, id: &str) -> PublisherResult<SubscriptionView> {
        todo!("{partner}{id}")
    }

    /// Every subscription, optionally of one partner (admin).
    pub async fn list_subscriptions(&self, partner: Option<&Name>) -> PublisherResult<Vec<SubscriptionView>> {
        todo!("{partner:?}")
    }

    /// One subscription (admin).
    pub async fn get_subscription(&self, id: &str) -> PublisherResult<SubscriptionView> {
        todo!("{id}")
    }
}

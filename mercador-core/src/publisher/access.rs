//! The admin user's token and the vregion's services: what subscribe and
//! refresh return.

use super::{Access, Publisher, PublisherResult};
use crate::model::Name;

impl Publisher {
    /// Refreshes one of the partner's active subscriptions: checks every
    /// recorded Keystone object and the SAML trust, repairs drift, and
    /// returns a new admin token and the current services.
    pub async fn refresh(&self, partner: &Name, id: &str) -> PublisherResult<Access> {
        todo!("{partner}{id}")
    }
}

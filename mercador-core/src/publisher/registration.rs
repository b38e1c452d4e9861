//! The publisher service's own entries in Keystone B's catalog.

use url::Url;

use super::{Publisher, PublisherResult};

/// Service type of the admin API in Keystone's catalog.
pub const ADMIN_SERVICE_TYPE: &str = "mercador-publisher";
/// Service type of the partner-facing exchange API in Keystone's catalog.
pub const EXCHANGE_SERVICE_TYPE: &str = "mercador-exchange";

impl Publisher {
    /// Registers both APIs in Keystone B's catalog (idempotently): services
    /// of types [`ADMIN_SERVICE_TYPE`] and [`EXCHANGE_SERVICE_TYPE`], each
    /// with a public endpoint in `region`: `<public_url>/v1/admin` and
    /// `<public_url>/v1/exchange`.
    pub async fn register_in_catalog(&self, public_url: &Url, region: &str) -> PublisherResult<()> {
        todo!("{public_url}{region}")
    }
}

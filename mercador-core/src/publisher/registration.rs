//! The publisher service's own entries in Keystone B's catalog.

use url::Url;

use super::{Publisher, PublisherError, PublisherResult};
use crate::keystone::ensure::ensure_sole_catalog_entry;

/// Service type of the admin API in Keystone's catalog.
pub const ADMIN_SERVICE_TYPE: &str = "mercador-publisher";
/// Service type of the partner-facing exchange API in Keystone's catalog.
pub const EXCHANGE_SERVICE_TYPE: &str = "mercador-exchange";

impl Publisher {
    /// Registers both APIs in Keystone B's catalog (idempotently): services
    /// of types [`ADMIN_SERVICE_TYPE`] and [`EXCHANGE_SERVICE_TYPE`], each
    /// with a public endpoint in `region`: `<public_url>/v1/admin` and
    /// `<public_url>/v1/exchange`. A moved service converges to the new URL;
    /// replicas starting together converge to one entry
    /// ([`ensure_sole_catalog_entry`]).
    pub async fn register_in_catalog(&self, public_url: &Url, region: &str) -> PublisherResult<()> {
        let keystone = self.keystone().as_ref();
        let base = public_url.as_str().trim_end_matches('/');
        let faces = [
            (ADMIN_SERVICE_TYPE, "Mercador publisher: vregions, partners and subscriptions (admin)", "admin"),
            (EXCHANGE_SERVICE_TYPE, "Mercador exchange: vregions offered to partners, subscriptions", "exchange"),
        ];
        if keystone.get_region(region).await.is_err_and(|e| e.is_not_found()) {
            return Err(PublisherError::Conflict(format!(
                "cannot register the service in region {region:?}: Keystone has no such region; set \
                 [server] region to one of `openstack region list`"
            )));
        }
        for (service_type, description, face) in faces {
            let url = format!("{base}/v1/{face}");
            let endpoint = ensure_sole_catalog_entry(keystone, service_type, service_type, description, &url, region)
                .await
                .map_err(|e| match e {
                    crate::Error::Contended(what) => PublisherError::Busy(what),
                    e => e.into(),
                })?;
            tracing::info!(service_type, url = %endpoint.url, region, "registered in Keystone's catalog");
        }
        Ok(())
    }
}

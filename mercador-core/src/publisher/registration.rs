//! The publisher service's own entries in Keystone B's catalog.

use url::Url;

use super::{Publisher, PublisherError, PublisherResult, gone_is_fine};
use crate::keystone::Interface;
use crate::keystone::types::{Endpoint, EndpointUpdate, Filter, NewEndpoint, NewService, Service, ServiceUpdate};

/// Service type of the admin API in Keystone's catalog.
pub const ADMIN_SERVICE_TYPE: &str = "mercador-publisher";
/// Service type of the partner-facing exchange API in Keystone's catalog.
pub const EXCHANGE_SERVICE_TYPE: &str = "mercador-exchange";

impl Publisher {
    /// Registers both APIs in Keystone B's catalog (idempotently): services
    /// of types [`ADMIN_SERVICE_TYPE`] and [`EXCHANGE_SERVICE_TYPE`], each
    /// with a public endpoint in `region`: `<public_url>/v1/admin` and
    /// `<public_url>/v1/exchange`. A moved service converges to the new URL.
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
            let endpoint = self.converge_registration(service_type, description, &url, region).await?;
            tracing::info!(service_type, url = %endpoint.url, region, "registered in Keystone's catalog");
        }
        Ok(())
    }

    /// One service of `service_type` named after it, with one public
    /// endpoint in `region` at `url`. Keystone has no uniqueness on
    /// services or endpoints, so replicas starting together can each create
    /// one: every replica keeps the one with the smallest id and deletes the
    /// others (with their endpoints), then checks again until one remains.
    async fn converge_registration(
        &self,
        service_type: &str,
        description: &str,
        url: &str,
        region: &str,
    ) -> PublisherResult<Endpoint> {
        let keystone = self.keystone().as_ref();
        for _ in 0..5 {
            let ours = |s: &Service| s.name.as_deref() == Some(service_type);
            let mut services: Vec<Service> = keystone
                .list_services(&Filter::new().service_type(service_type))
                .await?
                .into_iter()
                .filter(ours)
                .collect();
            if services.is_empty() {
                services.push(
                    keystone
                        .create_service(&NewService {
                            service_type: service_type.into(),
                            name: Some(service_type.into()),
                            description: Some(description.into()),
                            enabled: true,
                        })
                        .await?,
                );
            }
            services.sort_by(|a, b| a.id.cmp(&b.id));
            let service = services.remove(0);
            for duplicate in services {
                gone_is_fine(keystone.delete_service(&duplicate.id).await)?;
            }
            if !service.enabled || service.description.as_deref() != Some(description) {
                let update =
                    ServiceUpdate { enabled: Some(true), description: Some(description.into()), ..Default::default() };
                gone_is_fine(keystone.update_service(&service.id, &update).await.map(|_| ()))?;
            }
            let filter = Filter::new().service_id(&service.id).interface(Interface::Public).region_id(region);
            let mut endpoints = keystone.list_endpoints(&filter).await?;
            endpoints.retain(|e| e.region_id.as_deref() == Some(region));
            if endpoints.is_empty() {
                let created = keystone
                    .create_endpoint(&NewEndpoint {
                        service_id: service.id.clone(),
                        interface: Interface::Public,
                        url: url.into(),
                        region_id: Some(region.into()),
                        enabled: true,
                    })
                    .await;
                match created {
                    Ok(e) => endpoints.push(e),
                    // Another replica deleted this service meanwhile: again.
                    Err(e) if e.is_not_found() || e.kind() == crate::ErrorKind::InvalidInput => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            endpoints.sort_by(|a, b| a.id.cmp(&b.id));
            let mut endpoint = endpoints.remove(0);
            for duplicate in endpoints {
                gone_is_fine(keystone.delete_endpoint(&duplicate.id).await)?;
            }
            if endpoint.url != url || !endpoint.enabled {
                let update = EndpointUpdate { url: Some(url.into()), enabled: Some(true), ..Default::default() };
                match keystone.update_endpoint(&endpoint.id, &update).await {
                    Ok(e) => endpoint = e,
                    Err(e) if e.is_not_found() => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            // Stable when this service is still the only one of its kind.
            let now: Vec<Service> = keystone
                .list_services(&Filter::new().service_type(service_type))
                .await?
                .into_iter()
                .filter(ours)
                .collect();
            if now.len() == 1 && now[0].id == service.id {
                return Ok(endpoint);
            }
        }
        Err(PublisherError::Busy(format!("the catalog entry of {service_type}")))
    }
}

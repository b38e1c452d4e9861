//! Subscribing: bind a publisher's vregion under a local alias, as
//! resumable steps, each recorded before the next:
//!
//! 1. `reserve`: the binding's record (the alias and the vregion are each
//!    held by one live binding);
//! 2. `remote_subscribe`: the publisher's subscribe (idempotent there; when
//!    it answers 409 because the access was already delivered, its refresh
//!    gives the access again, without the admin password); the remote id,
//!    the K2K coordinates, the services and the sealed admin password are
//!    stored;
//! 3. `service_provider`: `mercador-<alias>` on Keystone A, enabled;
//! 4. `region`: `<alias>` on Keystone A;
//! 5. `endpoints`: one `mercador-<type>` service per offered type (shared by
//!    all bindings) and one endpoint per offered interface in the region;
//! 6. `active`.
//!
//! A transient failure (a Keystone or the publisher unreachable) leaves the
//! binding `provisioning` for the next subscribe, refresh or reconcile to
//! resume; any other rolls back (publisher first, then A) to `failed`.

use super::exchange::{ExchangeClient, RemoteAccess};
use super::{
    BindingView, Lease, SERVICE_DESCRIPTION, SubscribeRequest, Subscriber, SubscriberError, SubscriberResult,
    description, is_ours, record, service_name, sp_id,
};
use crate::keystone::Interface;
use crate::keystone::ensure;
use crate::keystone::types::{Filter, NewEndpoint, NewRegion, NewService, NewServiceProvider, Service, ServiceUpdate};
use crate::model::{Name, ObjectKind, SubscriptionState, ValidationError};
use crate::store::{BindingFilter, BindingRecord, StoreError};

/// Longest alias: `mercador-<alias>` must fit in Keystone's 64-character ids.
pub const MAX_ALIAS: usize = 55;

/// Service types never put in A's catalog: A keeps one identity service
/// (clients choosing an identity endpoint without a region would otherwise
/// pick the publisher's Keystone); users reach the vregion's identity
/// through the service provider (K2K).
pub const NOT_CATALOGUED: &[&str] = &["identity"];

impl Subscriber {
    /// Subscribes to `vregion` of `publisher` and shows it on Keystone A as
    /// region `alias`. Idempotent: asking again resumes an unfinished
    /// binding and returns an active one unchanged.
    pub async fn subscribe(&self, request: SubscribeRequest) -> SubscriberResult<BindingView> {
        if request.alias.as_str().len() > MAX_ALIAS {
            return Err(SubscriberError::Invalid(vec![ValidationError::new(
                "alias",
                format!("at most {MAX_ALIAS} characters (the service provider mercador-<alias> is a Keystone id)"),
            )]));
        }
        let publisher = self.publisher_record(&request.publisher).await?;
        let now = Self::now();
        let record = BindingRecord {
            id: Self::new_id(),
            alias: request.alias.clone(),
            publisher_id: publisher.id.clone(),
            publisher: publisher.name.clone(),
            vregion: request.vregion.clone(),
            state: SubscriptionState::Requested,
            remote_subscription_id: None,
            remote_region: None,
            sp_auth_url: None,
            sp_url: None,
            services: Vec::new(),
            admin_password_sealed: None,
            step: Some("reserve".into()),
            error: None,
            objects: Vec::new(),
            created_at: now,
            updated_at: now,
            version: 0,
        };
        let binding = match self.store().insert_binding(&record).await {
            Ok(()) => {
                if let Err(e) = self.check_names_free(&request.alias).await {
                    self.store().delete_binding(&record.id).await?;
                    return Err(e);
                }
                tracing::info!(binding = %record.alias, publisher = %record.publisher, vregion = %record.vregion, "binding reserved");
                record
            }
            Err(StoreError::Duplicate { .. }) => {
                let live = self.live_conflicting(&request, &publisher.id).await?;
                let same =
                    live.alias == request.alias && live.publisher_id == publisher.id && live.vregion == request.vregion;
                match live.state {
                    SubscriptionState::Requested | SubscriptionState::Provisioning if same => live,
                    SubscriptionState::Active if same => return Ok(live.into()),
                    state => {
                        return Err(SubscriberError::Conflict(format!(
                            "binding {} ({} of {}) is {state}; choose another alias, or wait for it to finish",
                            live.alias, live.vregion, live.publisher
                        )));
                    }
                }
            }
            Err(e) => return Err(e.into()),
        };
        Ok(self.provision(binding).await?.into())
    }

    /// The live binding holding the alias or the vregion.
    async fn live_conflicting(
        &self,
        request: &SubscribeRequest,
        publisher_id: &str,
    ) -> SubscriberResult<BindingRecord> {
        let all = self.store().list_bindings(&BindingFilter::default()).await?;
        all.into_iter()
            .filter(|b| !b.state.is_final())
            .find(|b| b.alias == request.alias || (b.publisher_id == publisher_id && b.vregion == request.vregion))
            .ok_or_else(|| SubscriberError::Conflict("a binding with that alias or vregion was just created".into()))
    }

    /// A's region and service provider of that alias must be free or Mercador's.
    async fn check_names_free(&self, alias: &Name) -> SubscriberResult<()> {
        let keystone = self.keystone().as_ref();
        match keystone.get_region(alias.as_str()).await {
            Ok(r) if !is_ours(r.description.as_deref()) => {
                return Err(SubscriberError::Conflict(format!(
                    "Keystone A already has a region {alias} that Mercador did not create; choose another alias"
                )));
            }
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        match keystone.get_service_provider(&sp_id(alias)).await {
            Ok(sp) if !is_ours(sp.description.as_deref()) => Err(SubscriberError::Conflict(format!(
                "Keystone A already has a service provider {} that Mercador did not create; choose another alias",
                sp_id(alias)
            ))),
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Brings a binding in `requested`/`provisioning` to `active` under its
    /// lease; rolls back on a non-transient failure.
    pub(crate) async fn provision(&self, binding: BindingRecord) -> SubscriberResult<BindingRecord> {
        let id = binding.id.clone();
        let result = self
            .with_binding_lease(&binding.id, |lease| async move {
                let current = self.binding_record(&id).await?;
                match current.state {
                    SubscriptionState::Requested | SubscriptionState::Provisioning => {}
                    _ => return Ok(current),
                }
                let result = self.provision_steps(current, &lease).await;
                if let Err(e) = &result
                    && e.is_transient()
                {
                    // Recorded under the lease: a save after giving it up
                    // would race the next holder (a reconcile waiting for
                    // it), whose next save would then find the record stale.
                    if let Ok(mut b) = self.binding_record(&id).await {
                        b.error = Some(e.to_string());
                        let _ = self.save(b).await;
                    }
                }
                result
            })
            .await;
        match result {
            Ok(b) => Ok(b),
            Err(e) if e.is_transient() => {
                tracing::warn!(binding = %binding.alias, error = %e, "provisioning interrupted; will resume");
                Err(self.interrupted("subscribe", &binding.id, e).await)
            }
            Err(e) => {
                tracing::warn!(binding = %binding.alias, error = %e, "provisioning failed; rolling back");
                if let Err(undo) = self.roll_back(&binding.id, &e).await {
                    tracing::error!(binding = %binding.alias, error = %undo, "rollback interrupted; reconcile will finish it");
                }
                Err(e)
            }
        }
    }

    async fn provision_steps(&self, mut b: BindingRecord, lease: &Lease) -> SubscriberResult<BindingRecord> {
        b.state = SubscriptionState::Provisioning;
        b.error = None;

        b = self.step(b, "remote_subscribe", lease).await?;
        if b.sp_auth_url.is_none() {
            let publisher = self.publisher_by_id(&b.publisher_id).await?;
            let client = self.exchange_client(&publisher)?;
            let access = self.remote_access(&client, &b).await?;
            self.take_access(&mut b, access)?;
        }
        b = self.pause_after(b, "remote_subscribe").await?;

        b = self.step(b, "service_provider", lease).await?;
        self.ensure_sp(&mut b).await?;
        b = self.pause_after(b, "service_provider").await?;

        b = self.step(b, "region", lease).await?;
        self.ensure_binding_region(&mut b).await?;
        b = self.pause_after(b, "region").await?;

        b = self.step(b, "endpoints", lease).await?;
        self.converge_endpoints(&mut b).await?;
        b = self.pause_after(b, "endpoints").await?;

        b.state = SubscriptionState::Active;
        b.step = None;
        let b = self.save(b).await?;
        tracing::info!(binding = %b.alias, publisher = %b.publisher, vregion = %b.vregion, "binding active");
        Ok(b)
    }

    /// The publisher's subscribe; when the access was already delivered (409),
    /// its refresh.
    async fn remote_access(&self, client: &ExchangeClient, b: &BindingRecord) -> SubscriberResult<RemoteAccess> {
        let c = self.config();
        match client.subscribe(&b.vregion, &c.entity_id, &c.metadata_url, &c.keystone_url).await {
            Ok(access) => Ok(access),
            Err(e) if e.publisher_status() == Some(409) => {
                let id = match &b.remote_subscription_id {
                    Some(id) => Some(id.clone()),
                    None => client
                        .vregions()
                        .await?
                        .into_iter()
                        .find(|v| v.name == b.vregion)
                        .and_then(|v| v.subscription_id),
                };
                match id {
                    Some(id) => {
                        tracing::info!(binding = %b.alias, subscription = %id, "already subscribed; refreshing for the access");
                        client.refresh(&id).await
                    }
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Stores what the publisher returned (the admin password sealed).
    pub(crate) fn take_access(&self, b: &mut BindingRecord, access: RemoteAccess) -> SubscriberResult<()> {
        b.remote_subscription_id = Some(access.subscription.id);
        b.remote_region = Some(access.region);
        b.sp_auth_url = Some(access.k2k.auth_url.to_string());
        b.sp_url = Some(access.k2k.sp_url.to_string());
        b.services = access.services;
        if let Some(password) = &access.admin.password {
            b.admin_password_sealed = Some(self.inner.secrets.seal(password)?);
        }
        Ok(())
    }

    /// The service provider `mercador-<alias>`; returns true when it changed.
    pub(crate) async fn ensure_sp(&self, b: &mut BindingRecord) -> SubscriberResult<bool> {
        let (Some(auth_url), Some(sp_url)) = (b.sp_auth_url.clone(), b.sp_url.clone()) else {
            return Err(SubscriberError::Conflict(format!("binding {} has no K2K coordinates yet", b.alias)));
        };
        let id = sp_id(&b.alias);
        let sp = ensure::ensure_service_provider(
            self.keystone().as_ref(),
            &id,
            &NewServiceProvider {
                auth_url,
                sp_url,
                enabled: true,
                description: Some(description(&b.vregion, &b.publisher)),
                relay_state_prefix: None,
            },
        )
        .await?;
        record(b, ObjectKind::ServiceProvider, &id, None, false);
        Ok(sp.outcome != ensure::Outcome::Adopted)
    }

    /// The region `<alias>`; returns true when it changed.
    pub(crate) async fn ensure_binding_region(&self, b: &mut BindingRecord) -> SubscriberResult<bool> {
        let region = ensure::ensure_region(
            self.keystone().as_ref(),
            &NewRegion {
                id: Some(b.alias.to_string()),
                description: Some(description(&b.vregion, &b.publisher)),
                parent_region_id: None,
            },
        )
        .await?;
        record(b, ObjectKind::Region, b.alias.clone().as_str(), None, false);
        Ok(region.outcome != ensure::Outcome::Adopted)
    }

    /// Catalog services `mercador-<type>` and the binding's endpoints in
    /// its region converge to the stored services; endpoints no longer
    /// offered are removed. Returns what changed. Runs under the catalog
    /// lease ([`Subscriber::with_catalog_lease`]).
    pub(crate) async fn converge_endpoints(&self, b: &mut BindingRecord) -> SubscriberResult<Vec<String>> {
        self.with_catalog_lease(move |_lease| async move { self.converge_endpoints_held(b).await }).await
    }

    async fn converge_endpoints_held(&self, b: &mut BindingRecord) -> SubscriberResult<Vec<String>> {
        let keystone = self.keystone().as_ref();
        let region = b.alias.to_string();
        let mut changed = Vec::new();
        let mut wanted = Vec::new();
        for s in b.services.clone() {
            if NOT_CATALOGUED.contains(&s.service_type.as_str()) {
                continue;
            }
            let mut service = self.shared_service(&s.service_type).await?;
            let endpoints = match self.ensure_endpoints_of(&service.object.id, &s, &region).await {
                // The service went between its lookup and its endpoints:
                // another subscriber service of this Keystone A (with a
                // database, hence a catalog lease, of its own) removed it as
                // unused. Created again, once.
                Err(e) if self.service_gone(&service.object.id).await => {
                    tracing::warn!(service = %s.service_type, error = %e, "the catalog service was removed meanwhile; creating it again");
                    service = self.shared_service(&s.service_type).await?;
                    self.ensure_endpoints_of(&service.object.id, &s, &region).await?
                }
                other => other?,
            };
            record(b, ObjectKind::Service, &service.object.id, None, !service.outcome.created());
            for (interface, endpoint) in endpoints {
                if endpoint.outcome != ensure::Outcome::Adopted {
                    changed.push(format!("{} {} endpoint {}", s.service_type, interface, endpoint.outcome));
                }
                record(b, ObjectKind::Endpoint, &endpoint.object.id, Some(&service.object.id), false);
                wanted.push(endpoint.object.id);
            }
        }
        for service in self.our_services().await? {
            let filter = Filter::new().service_id(&service.id).region_id(&region);
            for e in keystone.list_endpoints(&filter).await? {
                if e.region_id.as_deref() == Some(region.as_str()) && !wanted.contains(&e.id) {
                    super::gone_is_fine(keystone.delete_endpoint(&e.id).await)?;
                    changed.push(format!("{} {} endpoint removed", service.service_type, e.interface));
                    b.objects.retain(|o| !(o.kind == ObjectKind::Endpoint && o.id == e.id));
                }
            }
        }
        Ok(changed)
    }

    /// The binding's endpoints of offered service `s` on catalog service
    /// `service_id`, in `region`.
    async fn ensure_endpoints_of(
        &self,
        service_id: &str,
        s: &crate::publisher::OfferedService,
        region: &str,
    ) -> SubscriberResult<Vec<(Interface, ensure::Ensured<crate::keystone::types::Endpoint>)>> {
        let mut done = Vec::new();
        for e in &s.endpoints {
            let interface: Interface = e.interface.parse()?;
            let endpoint = ensure::ensure_endpoint(
                self.keystone().as_ref(),
                &NewEndpoint {
                    service_id: service_id.to_owned(),
                    interface,
                    url: e.url.clone(),
                    region_id: Some(region.to_owned()),
                    enabled: true,
                },
            )
            .await?;
            done.push((interface, endpoint));
        }
        Ok(done)
    }

    /// True when Keystone A says catalog service `id` does not exist.
    async fn service_gone(&self, id: &str) -> bool {
        matches!(self.keystone().get_service(id).await, Err(e) if e.is_not_found())
    }

    /// The service `mercador-<type>` of A's catalog, created when absent,
    /// enabled. Should earlier versions have left two (created at the same
    /// time), the one with the smallest id is used; the other loses its
    /// endpoints as the bindings converge, and goes with the last of them.
    async fn shared_service(&self, service_type: &str) -> SubscriberResult<ensure::Ensured<Service>> {
        let keystone = self.keystone().as_ref();
        let mut ours: Vec<Service> =
            self.our_services().await?.into_iter().filter(|s| s.service_type == service_type).collect();
        ours.sort_by(|a, b| a.id.cmp(&b.id));
        let Some(service) = ours.into_iter().next() else {
            let new = NewService {
                service_type: service_type.to_string(),
                name: Some(service_name(service_type)),
                description: Some(SERVICE_DESCRIPTION.into()),
                enabled: true,
            };
            return Ok(ensure::Ensured::new(keystone.create_service(&new).await?, ensure::Outcome::Created));
        };
        if !service.enabled {
            let update = ServiceUpdate { enabled: Some(true), ..Default::default() };
            let updated = keystone.update_service(&service.id, &update).await?;
            return Ok(ensure::Ensured::new(updated, ensure::Outcome::Updated));
        }
        Ok(ensure::Ensured::new(service, ensure::Outcome::Adopted))
    }

    /// The catalog services Mercador created on A (`mercador-<type>`).
    pub(crate) async fn our_services(&self) -> SubscriberResult<Vec<Service>> {
        let all = self.keystone().list_services(&Filter::new()).await?;
        Ok(all
            .into_iter()
            .filter(|s| {
                s.description.as_deref() == Some(SERVICE_DESCRIPTION)
                    && s.name.as_deref() == Some(service_name(&s.service_type).as_str())
            })
            .collect())
    }

    /// Every binding (every state), optionally of one publisher.
    pub async fn list_bindings(&self, publisher: Option<&Name>) -> SubscriberResult<Vec<BindingView>> {
        let publisher_id = match publisher {
            Some(name) => Some(self.publisher_record(name).await?.id),
            None => None,
        };
        let filter = BindingFilter { publisher_id, ..Default::default() };
        Ok(self.store().list_bindings(&filter).await?.into_iter().map(Into::into).collect())
    }

    /// The live binding with this alias (else its latest finished one).
    pub async fn get_binding(&self, alias: &Name) -> SubscriberResult<BindingView> {
        Ok(self.binding_by_alias(alias).await?.into())
    }

    /// The vregion admin user's password at the publisher, when it was
    /// handed over (once, at the first subscribe).
    pub async fn admin_password(&self, alias: &Name) -> SubscriberResult<Option<secrecy::SecretString>> {
        let b = self.binding_by_alias(alias).await?;
        b.admin_password_sealed.as_deref().map(|s| self.inner.secrets.open(s)).transpose().map_err(Into::into)
    }
}

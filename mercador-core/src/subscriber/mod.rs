//! The subscriber engine: publishers registered with their partner
//! credential, discovery of the vregions they offer, and bindings — a
//! vregion subscribed at its publisher and shown on Keystone A as a region.
//!
//! Where a request goes:
//! - [`publishers`]: register, list, remove publishers; discover;
//! - [`exchange`]: the HTTP client of a publisher's exchange API;
//! - [`bind`]: subscribe as resumable steps (publisher, then Keystone A's
//!   service provider, region and endpoints);
//! - [`teardown`]: cancel (publisher first, then A), and the cleanup after a
//!   revocation or a failed provisioning;
//! - [`refresh`]: refresh one binding or all (revocation noticed, drift on A
//!   repaired);
//! - [`reconcile`]: resuming whatever a crash interrupted.
//!
//! Everything created on Keystone A is recognisable as Mercador's: the
//! service provider `mercador-<alias>` and the region `<alias>` carry the
//! description `Mercador vregion <vregion> of <publisher>`, the catalog
//! services are named `mercador-<type>` with [`SERVICE_DESCRIPTION`].

pub mod bind;
pub mod error;
pub mod exchange;
pub mod publishers;
pub mod reconcile;
pub mod refresh;
pub mod teardown;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::keystone::IdentityApi;
use crate::keystone::http::HttpClient;
use crate::model::{CreatedObject, Name, ObjectKind};
use crate::secrets::SecretsKey;
use crate::store::{BindingRecord, SubscriberStore};

pub use error::{PublisherFailure, SubscriberError, SubscriberResult};
pub use exchange::ExchangeClient;
pub use views::{
    BindingView, BoundEndpoint, DiscoveryResult, NewBinding, NewPublisher, OfferedVRegion, PublisherView,
    ReconcileReport, RefreshOutcome, RefreshReport, SubscribeRequest,
};

/// Description of the catalog services the subscriber creates on A
/// (`mercador-<type>`, shared by every binding).
pub const SERVICE_DESCRIPTION: &str = "Mercador: endpoints of subscribed vregions";
/// Prefix of every description Mercador writes on Keystone A.
pub const DESCRIPTION_PREFIX: &str = "Mercador vregion ";

/// What the subscriber engine needs to know about its deployment.
#[derive(Debug, Clone)]
pub struct SubscriberConfig {
    /// Keystone A's identity URL (sent to publishers, informational).
    pub keystone_url: Url,
    /// Keystone A's SAML entity id (`[saml] idp_entity_id`).
    pub entity_id: String,
    /// Where publishers fetch A's SAML metadata
    /// (`<keystone>/v3/OS-FEDERATION/saml2/metadata`).
    pub metadata_url: Url,
    /// How often the service refreshes every binding (revocations are
    /// noticed within this time).
    pub refresh_interval: Duration,
    /// This replica's id, for leases.
    pub replica_id: String,
    /// How long a lease on a binding lasts.
    pub lease_ttl: Duration,
    /// Testing hook: stop for this long after the named step.
    pub pause_after_step: Option<(String, Duration)>,
}

impl SubscriberConfig {
    /// Defaults for everything but A's identity.
    pub fn new(keystone_url: Url, entity_id: impl Into<String>, metadata_url: Url) -> Self {
        Self {
            keystone_url,
            entity_id: entity_id.into(),
            metadata_url,
            refresh_interval: Duration::from_secs(300),
            replica_id: uuid::Uuid::new_v4().simple().to_string(),
            lease_ttl: Duration::from_secs(120),
            pause_after_step: None,
        }
    }
}

/// The subscriber engine. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Subscriber {
    inner: Arc<Inner>,
}

struct Inner {
    config: SubscriberConfig,
    store: Arc<dyn SubscriberStore>,
    keystone: Arc<dyn IdentityApi>,
    secrets: SecretsKey,
    http: HttpClient,
}

impl Subscriber {
    /// An engine over Keystone A (an admin session), a store, the key
    /// sealing stored secrets, and the HTTP client for publishers.
    pub fn new(
        config: SubscriberConfig,
        store: Arc<dyn SubscriberStore>,
        keystone: Arc<dyn IdentityApi>,
        secrets: SecretsKey,
        http: HttpClient,
    ) -> Self {
        Self { inner: Arc::new(Inner { config, store, keystone, secrets, http }) }
    }

    /// The configuration.
    pub fn config(&self) -> &SubscriberConfig {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn SubscriberStore> {
        &self.inner.store
    }

    /// Keystone A.
    pub fn keystone(&self) -> &Arc<dyn IdentityApi> {
        &self.inner.keystone
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }

    fn new_id() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    /// Saves a binding (its version moves on).
    pub(crate) async fn save(&self, mut b: BindingRecord) -> SubscriberResult<BindingRecord> {
        b.updated_at = Self::now();
        Ok(self.store().update_binding(&b).await?)
    }

    /// Records the step about to run and renews the lease.
    pub(crate) async fn step(
        &self,
        mut b: BindingRecord,
        step: &str,
        lease: &Lease,
    ) -> SubscriberResult<BindingRecord> {
        lease.renew(self.store().as_ref()).await?;
        b.step = Some(step.to_string());
        tracing::debug!(binding = %b.alias, step, "step");
        self.save(b).await
    }

    /// Saves the step's records; then the test hook may pause.
    pub(crate) async fn pause_after(&self, b: BindingRecord, step: &str) -> SubscriberResult<BindingRecord> {
        let b = self.save(b).await?;
        if let Some((name, pause)) = &self.config().pause_after_step
            && name == step
        {
            tracing::warn!(binding = %b.alias, step, seconds = pause.as_secs(), "pausing after step (test hook)");
            tokio::time::sleep(*pause).await;
        }
        Ok(b)
    }

    pub(crate) async fn binding_record(&self, id: &str) -> SubscriberResult<BindingRecord> {
        self.store().get_binding(id).await?.ok_or_else(|| SubscriberError::not_found("binding", id))
    }

    /// The live binding with this alias, else the latest finished one.
    pub(crate) async fn binding_by_alias(&self, alias: &Name) -> SubscriberResult<BindingRecord> {
        let filter = crate::store::BindingFilter { alias: Some(alias.to_string()), ..Default::default() };
        let all = self.store().list_bindings(&filter).await?;
        let live = all.iter().rev().find(|b| !b.state.is_final()).cloned();
        live.or_else(|| all.last().cloned()).ok_or_else(|| SubscriberError::not_found("binding", alias.as_str()))
    }

    /// `cause`, as [`SubscriberError::Interrupted`] with the binding's state
    /// and step when it is an outage of a dependency (the binding stays
    /// unfinished and the service's reconciliation finishes it once the
    /// dependency is back); any other error as it is.
    pub(crate) async fn interrupted(
        &self,
        operation: &'static str,
        binding_id: &str,
        cause: SubscriberError,
    ) -> SubscriberError {
        if cause.outage().is_none() || cause.interrupted().is_some() {
            return cause;
        }
        match self.binding_record(binding_id).await {
            Ok(b) if !b.state.is_final() => SubscriberError::Interrupted {
                operation,
                binding: b.alias.to_string(),
                state: b.state.to_string(),
                step: b.step.unwrap_or_else(|| "-".into()),
                cause: Box::new(cause),
            },
            _ => cause,
        }
    }

    /// Runs `work` holding the lease on one binding; waits for it up to 30 s.
    pub(crate) async fn with_binding_lease<T, F, Fut>(&self, binding_id: &str, work: F) -> SubscriberResult<T>
    where
        F: FnOnce(Lease) -> Fut,
        Fut: std::future::Future<Output = SubscriberResult<T>>,
    {
        let config = self.config();
        let lease = Lease::new(format!("binding:{binding_id}"), &config.replica_id, config.lease_ttl);
        lease.hold(self.store().as_ref(), &format!("binding {binding_id}"), work).await
    }

    /// Runs `work` holding the lease on the `mercador-<type>` services of
    /// Keystone A's catalog, which all bindings share: Keystone has no
    /// unique services, so two bindings creating one at once would make two,
    /// and a teardown removing an unused one could race a binding adding
    /// its endpoint to it. Held for a few Keystone calls at a time, inside a
    /// binding's own lease (never the other way round).
    pub(crate) async fn with_catalog_lease<T, F, Fut>(&self, work: F) -> SubscriberResult<T>
    where
        F: FnOnce(Lease) -> Fut,
        Fut: std::future::Future<Output = SubscriberResult<T>>,
    {
        let config = self.config();
        let lease = Lease::new("catalog:services".into(), &config.replica_id, config.lease_ttl);
        lease.hold(self.store().as_ref(), "Keystone A's mercador services", work).await
    }
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

/// A lease held on a binding.
pub(crate) type Lease = crate::engine::Lease<SubscriberError>;

/// The service provider of a binding on Keystone A.
pub fn sp_id(alias: &Name) -> String {
    format!("mercador-{alias}")
}

/// The catalog service of a type on Keystone A (shared by all bindings).
pub fn service_name(service_type: &str) -> String {
    format!("mercador-{service_type}")
}

/// The description of a binding's service provider and region.
pub fn description(vregion: &Name, publisher: &Name) -> String {
    format!("{DESCRIPTION_PREFIX}{vregion} of {publisher}")
}

/// True for a description Mercador wrote.
pub(crate) fn is_ours(description: Option<&str>) -> bool {
    description.is_some_and(|d| d.starts_with(DESCRIPTION_PREFIX))
}

/// `Ok(())` for "already gone".
pub(crate) fn gone_is_fine(result: crate::Result<()>) -> crate::Result<()> {
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

pub(crate) fn record(b: &mut BindingRecord, kind: ObjectKind, id: &str, parent: Option<&str>, adopted: bool) {
    if !b.objects.iter().any(|o| o.kind == kind && o.id == id && o.parent.as_deref() == parent) {
        b.objects.push(CreatedObject { kind, id: id.to_string(), parent: parent.map(str::to_string), adopted });
    }
}

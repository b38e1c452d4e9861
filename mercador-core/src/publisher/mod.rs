//! The publisher engine: virtual regions, partners, and the Keystone B and
//! Shibboleth configuration of each subscription.
//!
//! Where a request goes:
//! - [`vregions`]: define, publish (domain + quotas on Keystone B), withdraw;
//! - [`partners`]: onboard a partner (project, user, application credential
//!   handed over once) and remove it;
//! - [`subscribe`]: reserve a place, trust the subscriber's SAML metadata,
//!   the partner's users' domain, identity provider + mapping + protocol,
//!   the vregion admin user, then
//!   [`Access`]; every step idempotent and recorded, so a crash resumes;
//! - [`teardown`]: cancel (partner), revoke (admin), and the rollback of a
//!   failed provisioning;
//! - [`access`]: the admin user's token and the vregion's services (refresh);
//! - [`mapping`]: the mapping rules the publisher writes;
//! - [`trust`]: SAML metadata validation and the Shibboleth metadata directory;
//! - [`registration`]: the service's own entries in Keystone B's catalog;
//! - [`reconcile`]: resuming whatever a crash interrupted;
//! - [`enforcement`]: a published vregion's quotas as per-project limits
//!   and its image visibility as Glance memberships, converged on every
//!   project of its domain (a short pass the service runs every few
//!   seconds), and removed when a project retires or the vregion goes.
//!
//! One identity provider per subscriber entity: Keystone refuses the same
//! remote id on two identity providers, so all of a partner's subscriptions
//! at this publisher share its identity provider, protocol and mapping (the
//! mapping covers all of them), which live as long as one of them does. Its
//! federated users live in a domain of their own, `mercador-k2k-<partner>`
//! (the identity provider's domain), with the same lifetime; only their
//! projects live in the vregion domains.

pub mod access;
pub mod confinement;
pub mod enforcement;
pub mod error;
pub mod mapping;
pub mod partners;
pub mod reconcile;
pub mod registration;
pub mod subscribe;
pub mod teardown;
pub mod trust;
pub mod views;
pub mod vregions;

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::glance::ImageApi;
use crate::keystone::IdentityApi;
use crate::keystone::http::HttpClient;
use crate::secrets::SecretsKey;
use crate::store::PublisherStore;

pub use confinement::{ConfinementReport, KEYSTONE_CLOUD_WIDE_ROLES};
pub use enforcement::EnforcementReport;
pub use error::{PublisherError, PublisherResult};
pub use trust::{SamlTrust, ShibbolethMetadataDir};
pub use views::{
    Access, AdminAccess, K2kCoordinates, NewPartner, OfferedEndpoint, OfferedService, OfferedVRegion, PartnerOnboarded,
    PartnerView, ReconcileReport, RevealedSecret, SubscribeRequest, SubscriptionView, VRegionView,
};
pub use vregions::PublishOptions;

/// The protocol id of every identity provider the publisher creates.
pub const PROTOCOL: &str = "saml2";

/// What the publisher engine needs to know about its deployment.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// Keystone B's identity URL as partners and subscribers reach it.
    pub keystone_url: Url,
    /// B's SAML ECP endpoint (Shibboleth's `.../Shibboleth.sso/SAML2/ECP`),
    /// the `sp_url` subscribers configure.
    pub sp_url: Url,
    /// The domain holding partners' projects and users.
    pub partners_domain: String,
    /// The role a partner's user gets on its project.
    pub partner_role: String,
    /// The role the vregion admin user gets on the vregion domain
    /// (`manager`: Keystone's domain-manager persona). Never a cloud-wide
    /// role ([`confinement`]).
    pub admin_role: String,
    /// Roles an operator's own policy file honours in every scope, beyond
    /// Keystone's own ([`KEYSTONE_CLOUD_WIDE_ROLES`]): the publisher hands
    /// none of them out, nor a role implying one.
    pub cloud_wide_roles: Vec<String>,
    /// `remote_id_attribute` of the protocols created (`None`: Keystone's
    /// `[saml2] remote_id_attribute`).
    pub remote_id_attribute: Option<String>,
    /// This replica's id, for leases (several replicas may share a database).
    pub replica_id: String,
    /// How long a lease on a partner's federation lasts before another
    /// replica may take it over.
    pub lease_ttl: Duration,
    /// Testing hook: stop for this long after the named subscribe step (the
    /// crash tests kill the service there).
    pub pause_after_step: Option<(String, Duration)>,
}

impl PublisherConfig {
    /// A configuration with the defaults for everything but the two URLs.
    pub fn new(keystone_url: Url, sp_url: Url) -> Self {
        Self {
            keystone_url,
            sp_url,
            partners_domain: "mercador-partners".into(),
            partner_role: "member".into(),
            admin_role: "manager".into(),
            cloud_wide_roles: Vec::new(),
            remote_id_attribute: None,
            replica_id: uuid::Uuid::new_v4().simple().to_string(),
            lease_ttl: Duration::from_secs(120),
            pause_after_step: None,
        }
    }
}

/// The publisher engine. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
}

struct Inner {
    config: PublisherConfig,
    store: Arc<dyn PublisherStore>,
    keystone: Arc<dyn IdentityApi>,
    trust: Arc<dyn SamlTrust>,
    secrets: SecretsKey,
    http: HttpClient,
    images: std::sync::OnceLock<Arc<dyn ImageApi>>,
    /// Held while a vregion's quotas or visibility are applied or its spec
    /// changes ([`enforcement`]): a pass never applies a stale spec.
    enforcing: tokio::sync::Mutex<()>,
}

impl Publisher {
    /// An engine over Keystone B (an admin session), a store, the SAML trust
    /// store and the key sealing stored secrets. `http` fetches subscribers'
    /// metadata and authenticates vregion admin users.
    pub fn new(
        config: PublisherConfig,
        store: Arc<dyn PublisherStore>,
        keystone: Arc<dyn IdentityApi>,
        trust: Arc<dyn SamlTrust>,
        secrets: SecretsKey,
        http: HttpClient,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                store,
                keystone,
                trust,
                secrets,
                http,
                images: std::sync::OnceLock::new(),
                enforcing: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The engine with B's Glance (image visibility is applied through it;
    /// without it, a vregion whose images rule is `listed` is reported as
    /// failing by [`Self::enforce`]). Set once: a second call is ignored
    /// (and logged).
    pub fn with_images(self, images: Arc<dyn ImageApi>) -> Self {
        if self.inner.images.set(images).is_err() {
            tracing::warn!("the publisher engine already has a Glance client; the new one is ignored");
        }
        self
    }

    /// B's Glance, when the engine has one.
    pub fn images(&self) -> Option<&Arc<dyn ImageApi>> {
        self.inner.images.get()
    }

    /// The configuration.
    pub fn config(&self) -> &PublisherConfig {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn PublisherStore> {
        &self.inner.store
    }

    /// Keystone B.
    pub fn keystone(&self) -> &Arc<dyn IdentityApi> {
        &self.inner.keystone
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }

    fn new_id() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

/// A fresh random password (32 bytes, base64url): for vregion admin users
/// and partner users.
pub(crate) fn generate_password() -> PublisherResult<secrecy::SecretString> {
    use base64::Engine as _;
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut bytes).map_err(|_| crate::secrets::SecretsError::Random)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes).into())
}

/// `Ok(())` for "already gone": deletions are idempotent.
pub(crate) fn gone_is_fine(result: crate::Result<()>) -> crate::Result<()> {
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// Keystone revokes a user's tokens when its password changes, by a
/// revocation event whose time has a one-second resolution: a token issued
/// in the same second is revoked too. After setting a password, wait for the
/// next second before logging in with it.
pub(crate) async fn settle_after_password_change() {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
}

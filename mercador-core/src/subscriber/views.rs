//! What the subscriber engine takes and returns.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

use super::error::PublisherFailure;
use crate::model::{CreatedObject, Name, Quota, SubscriptionState, Visibility};
use crate::store::{BindingRecord, PublisherRecord};

/// Body of a publisher registration: its Keystone and the partner
/// credential its admin handed over out of band. Never serialized.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPublisher {
    /// Local name of the publisher.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub name: Name,
    /// The publisher's Keystone URL (`.../v3`), http or https.
    #[cfg_attr(feature = "openapi", schema(pattern = "^https?://"))]
    pub keystone_url: Url,
    /// The exchange API's URL (`.../v1/exchange`), when the publisher's
    /// catalog should not be used; by default it is found there.
    #[serde(default)]
    pub exchange_url: Option<Url>,
    /// The partner application credential's id (1 to 64 characters, not
    /// blank).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64, pattern = "\\S"))]
    pub application_credential_id: String,
    /// Its secret (stored sealed; `Debug` redacts it), not empty.
    #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1))]
    pub application_credential_secret: SecretString,
}

/// A registered publisher (never its secret).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublisherView {
    /// Stable id.
    pub id: String,
    /// Name.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub name: Name,
    /// Its Keystone URL.
    pub keystone_url: String,
    /// The exchange API's URL when given (else found in the catalog).
    pub exchange_url: Option<String>,
    /// The partner application credential's id.
    pub application_credential_id: String,
    /// Registration time.
    pub created_at: DateTime<Utc>,
}

impl From<PublisherRecord> for PublisherView {
    fn from(r: PublisherRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            keystone_url: r.keystone_url,
            exchange_url: r.exchange_url,
            application_credential_id: r.credential_id,
            created_at: r.created_at,
        }
    }
}

/// A vregion one publisher offers to this subscriber.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfferedVRegion {
    /// The publisher (local name).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub publisher: Name,
    /// The vregion's name.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub name: Name,
    /// Description.
    pub description: String,
    /// The publisher's region it lives in.
    pub region: String,
    /// Service types exposed.
    pub service_types: Vec<String>,
    /// Roles federated users may receive.
    pub roles: Vec<String>,
    /// Quotas.
    pub quotas: Vec<Quota>,
    /// Visibility of images, networks and volumes.
    pub visibility: Visibility,
    /// Free metadata.
    pub metadata: BTreeMap<String, String>,
    /// Places still free.
    pub places_left: u32,
    /// This subscriber's subscription to it at the publisher, if any.
    pub subscription_id: Option<String>,
    /// The local binding of it, if any (its alias).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub bound_as: Option<Name>,
}

/// What a discovery found: the offers of every reachable publisher and one
/// failure per publisher that could not be listed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DiscoveryResult {
    /// Offers, by publisher then vregion name.
    pub offers: Vec<OfferedVRegion>,
    /// Publishers that failed.
    pub errors: Vec<PublisherFailure>,
}

/// Body of a subscription: bind a publisher's vregion under a local alias.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeRequest {
    /// The publisher (local name).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub publisher: Name,
    /// The vregion at the publisher.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub vregion: Name,
    /// The region id on Keystone A (service provider `mercador-<alias>`).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub alias: Name,
}

/// Alias of [`SubscribeRequest`].
pub type NewBinding = SubscribeRequest;

/// One endpoint a binding put in Keystone A's catalog.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoundEndpoint {
    /// Service type.
    pub service_type: String,
    /// `public`, `internal`, `admin`.
    pub interface: String,
    /// The publisher's URL.
    pub url: String,
}

/// A binding as A's admin sees it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindingView {
    /// Stable id.
    pub id: String,
    /// Local alias (the region on Keystone A).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub alias: Name,
    /// The publisher.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub publisher: Name,
    /// The vregion at the publisher.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub vregion: Name,
    /// Lifecycle state.
    pub state: SubscriptionState,
    /// The subscription's id at the publisher.
    pub remote_subscription_id: Option<String>,
    /// The region on Keystone A (= alias).
    pub region: String,
    /// The publisher's region.
    pub remote_region: Option<String>,
    /// The service provider on Keystone A.
    pub service_provider: String,
    /// Its `auth_url`.
    pub sp_auth_url: Option<String>,
    /// Its `sp_url`.
    pub sp_url: Option<String>,
    /// Endpoints in the region.
    pub endpoints: Vec<BoundEndpoint>,
    /// Whether the vregion admin password is held (sealed).
    pub has_admin_password: bool,
    /// Step running or run last.
    pub step: Option<String>,
    /// Last error.
    pub error: Option<String>,
    /// Keystone A objects created or adopted.
    pub objects: Vec<CreatedObject>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<BindingRecord> for BindingView {
    fn from(r: BindingRecord) -> Self {
        let endpoints = r
            .services
            .iter()
            .flat_map(|s| {
                s.endpoints.iter().map(|e| BoundEndpoint {
                    service_type: s.service_type.clone(),
                    interface: e.interface.clone(),
                    url: e.url.clone(),
                })
            })
            .collect();
        Self {
            id: r.id,
            region: r.alias.to_string(),
            service_provider: super::sp_id(&r.alias),
            alias: r.alias,
            publisher: r.publisher,
            vregion: r.vregion,
            state: r.state,
            remote_subscription_id: r.remote_subscription_id,
            remote_region: r.remote_region,
            sp_auth_url: r.sp_auth_url,
            sp_url: r.sp_url,
            endpoints,
            has_admin_password: r.admin_password_sealed.is_some(),
            step: r.step,
            error: r.error,
            objects: r.objects,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// What a refresh did to one binding.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefreshOutcome {
    /// The binding after the refresh.
    pub binding: BindingView,
    /// What drifted on Keystone A and was repaired (empty when healthy).
    pub repaired: Vec<String>,
    /// What the publisher repaired on its side.
    pub repaired_by_publisher: Vec<String>,
    /// True when the publisher no longer honours the subscription and A's
    /// objects were removed.
    pub revoked: bool,
}

/// What [`super::Subscriber::refresh_all`] did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RefreshReport {
    /// Bindings refreshed, healthy.
    pub healthy: Vec<String>,
    /// Bindings whose drift was repaired (alias: what).
    pub repaired: Vec<String>,
    /// Bindings found revoked and cleaned up.
    pub revoked: Vec<String>,
    /// Bindings that failed (alias: error).
    pub failed: Vec<String>,
}

/// What one [`super::Subscriber::reconcile`] pass did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// Bindings whose provisioning was resumed to `active`.
    pub resumed: Vec<String>,
    /// Bindings whose cancellation, cleanup or rollback finished.
    pub finished: Vec<String>,
    /// Bindings that failed again (alias: error).
    pub failed: Vec<String>,
}

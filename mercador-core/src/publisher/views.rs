//! What the publisher engine takes and returns: the bodies of its REST API.

use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};
use url::Url;

use crate::model::{CreatedObject, Enforcement, Name, Quota, SubscriptionState, VRegionSpec, VRegionState, Visibility};
use crate::store::{PartnerRecord, PartnerState, SubscriptionRecord, VRegionRecord};

/// A secret handed over once (a generated password, an application
/// credential secret, a token). It serializes in clear, because it is meant
/// for the response body; `Debug` and `Display` redact it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
#[derive(Clone)]
pub struct RevealedSecret(pub SecretString);

impl RevealedSecret {
    /// The secret.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for RevealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RevealedSecret([REDACTED])")
    }
}

impl Serialize for RevealedSecret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.expose_secret())
    }
}

/// A vregion as the publisher's admin sees it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VRegionView {
    /// Stable id.
    pub id: String,
    /// Lifecycle state.
    pub state: VRegionState,
    /// Keystone id of its domain, once published.
    pub domain_id: Option<String>,
    /// Subscriptions holding a place.
    pub places_taken: u32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// What of its quotas and visibility rules holds on B.
    pub enforcement: Enforcement,
    /// The definition.
    #[serde(flatten)]
    pub spec: VRegionSpec,
}

impl VRegionView {
    pub(crate) fn new(record: VRegionRecord, places_taken: u32) -> Self {
        Self {
            id: record.id,
            state: record.state,
            domain_id: record.domain_id,
            places_taken,
            created_at: record.created_at,
            updated_at: record.updated_at,
            enforcement: record.spec.enforcement(),
            spec: record.spec,
        }
    }
}

/// A vregion as a partner sees it: no partner list, no other partner's data.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfferedVRegion {
    /// Name.
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
    pub metadata: std::collections::BTreeMap<String, String>,
    /// Places still free.
    pub places_left: u32,
    /// The partner's own subscription to it, when one holds a place.
    pub subscription_id: Option<String>,
}

/// Longest partner name: `mercador-<partner>-mapping` must fit in Keystone's
/// 64-character ids.
pub const MAX_PARTNER_NAME: usize = 40;

/// Body of a partner onboarding.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPartner {
    /// Unique name (a DNS label of at most [`MAX_PARTNER_NAME`] characters:
    /// Keystone ids derived from it must fit in 64).
    #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 40, pattern = "^[a-z]([a-z0-9-]*[a-z0-9])?$"))]
    pub name: Name,
    /// Free description.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 1024))]
    pub description: String,
}

/// A partner as the publisher's admin sees it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartnerView {
    /// Stable id.
    pub id: String,
    /// Name.
    pub name: Name,
    /// Description.
    pub description: String,
    /// Lifecycle state.
    pub state: PartnerState,
    /// Keystone project its credential is scoped to.
    pub project_id: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<PartnerRecord> for PartnerView {
    fn from(r: PartnerRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            description: r.description,
            state: r.state,
            project_id: r.project_id,
            created_at: r.created_at,
        }
    }
}

/// What onboarding returns, once: the credential to hand to the partner out
/// of band.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct PartnerOnboarded {
    /// The partner.
    pub partner: PartnerView,
    /// Keystone B's identity URL (`.../v3`) to authenticate against.
    pub auth_url: Url,
    /// Application credential id.
    pub application_credential_id: String,
    /// Application credential secret; shown this once, never stored.
    pub application_credential_secret: RevealedSecret,
}

/// Body of a subscription request.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeRequest {
    /// The vregion.
    pub vregion: Name,
    /// The subscriber Keystone's SAML entity id (`[saml] idp_entity_id`).
    pub entity_id: String,
    /// Its SAML metadata (XML), inline...
    #[serde(default)]
    pub metadata: Option<String>,
    /// ...or where to fetch it (the subscriber Keystone's
    /// `/v3/OS-FEDERATION/saml2/metadata`).
    #[serde(default)]
    pub metadata_url: Option<Url>,
    /// The subscriber's Keystone URL (informational).
    #[serde(default)]
    pub keystone_url: Option<Url>,
}

/// A subscription, as its partner or the publisher's admin sees it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionView {
    /// Stable id.
    pub id: String,
    /// The vregion.
    pub vregion: Name,
    /// The partner.
    pub partner: Name,
    /// Lifecycle state.
    pub state: SubscriptionState,
    /// The subscriber's SAML entity id.
    pub entity_id: String,
    /// The step running or run last.
    pub step: Option<String>,
    /// The last error.
    pub error: Option<String>,
    /// Keystone objects created or adopted for it.
    pub objects: Vec<CreatedObject>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<SubscriptionRecord> for SubscriptionView {
    fn from(r: SubscriptionRecord) -> Self {
        Self {
            id: r.id,
            vregion: r.vregion,
            partner: r.partner,
            state: r.state,
            entity_id: r.entity_id,
            step: r.step,
            error: r.error,
            objects: r.objects,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// One endpoint of an offered service.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferedEndpoint {
    /// `public`, `internal` or `admin`.
    pub interface: String,
    /// URL.
    pub url: String,
    /// The publisher's region id.
    pub region: String,
}

/// One service of the vregion: the catalog filtered to its types and region.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferedService {
    /// Service type.
    #[serde(rename = "type")]
    pub service_type: String,
    /// Service name.
    pub name: Option<String>,
    /// Endpoints in the vregion's region.
    pub endpoints: Vec<OfferedEndpoint>,
}

/// The K2K coordinates the subscriber configures as a service provider.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct K2kCoordinates {
    /// `auth_url` of the service provider: Keystone B's federated
    /// authentication URL for the subscriber's identity provider.
    pub auth_url: Url,
    /// `sp_url` of the service provider: B's SAML ECP endpoint.
    pub sp_url: Url,
    /// The identity provider's id on Keystone B.
    pub identity_provider: String,
    /// The protocol (`saml2`).
    pub protocol: String,
}

/// The vregion's local admin user.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct AdminAccess {
    /// User id.
    pub user_id: String,
    /// User name.
    pub user_name: String,
    /// The vregion domain (the user's domain, where it has admin).
    pub domain_id: String,
    /// Its password: in the first answer only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<RevealedSecret>,
    /// A domain-scoped token for it.
    pub token: RevealedSecret,
    /// When the token expires.
    pub token_expires_at: DateTime<Utc>,
}

/// What subscribe and refresh return: everything the subscriber needs to
/// configure its side.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct Access {
    /// The subscription.
    pub subscription: SubscriptionView,
    /// Keystone B's identity URL (`.../v3`).
    pub keystone_url: Url,
    /// The publisher's region the vregion lives in.
    pub region: String,
    /// The vregion's domain name.
    pub domain_name: String,
    /// K2K coordinates.
    pub k2k: K2kCoordinates,
    /// The local admin user.
    pub admin: AdminAccess,
    /// The vregion's services.
    pub services: Vec<OfferedService>,
    /// What a refresh found drifted and repaired (empty on subscribe).
    pub repaired: Vec<String>,
    /// Why the answer lacks something it could carry (the admin password,
    /// handed to a concurrent request of the same partner).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What one [`super::Publisher::reconcile`] pass did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// Subscriptions whose provisioning was resumed to `active`.
    pub resumed: Vec<String>,
    /// Subscriptions whose cancellation, revocation or rollback finished.
    pub finished: Vec<String>,
    /// Partners whose onboarding or removal was resumed.
    pub partners: Vec<String>,
    /// Active subscriptions whose vregion admin held a cloud-wide role
    /// (the `admin` earlier versions granted), taken away:
    /// `"<id>: <role> on <scope>"`.
    pub confined: Vec<String>,
    /// Memberships of vregion projects in shared images of B their vregion
    /// does not list, removed (`"<vregion>: image <id> ... project <id>"`;
    /// [`super::enforcement`]).
    pub unshared: Vec<String>,
    /// Subscriptions or partners that failed again (id: error).
    pub failed: Vec<String>,
}

impl ReconcileReport {
    /// Nothing was done.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

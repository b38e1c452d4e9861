//! Storage of the publisher's state behind [`PublisherStore`], and of the
//! subscriber's behind [`SubscriberStore`] ([`subscriber`]); both take their
//! leases through [`LeaseStore`].
//!
//! - [`sql`]: [`SqlStore`], the SQL implementation: SQLite (the embedded
//!   default, one file) or PostgreSQL (several publisher replicas sharing one
//!   database), with the same migrations (`mercador-core/migrations/`).
//!
//! Records are plain data; the engine ([`crate::publisher`]) owns the rules.
//! Secrets inside records (the vregion admin password) are stored sealed
//! ([`crate::secrets`]), never in clear.

pub mod sql;
mod sql_subscriber;
pub mod subscriber;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{CreatedObject, Name, SubscriptionState, VRegionSpec, VRegionState};

pub use sql::SqlStore;
pub use subscriber::{BindingFilter, BindingRecord, PublisherRecord, SubscriberStore};

/// Why the store failed. Never contains a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A record with the same unique key exists (a vregion or partner name).
    #[error("{what} {key:?} already exists")]
    Duplicate {
        /// `vregion`, `partner`, `subscription`.
        what: &'static str,
        /// The key.
        key: String,
    },
    /// The record to update does not exist (any more).
    #[error("{what} {key:?} does not exist")]
    Missing {
        /// `vregion`, `partner`, `subscription`.
        what: &'static str,
        /// The key.
        key: String,
    },
    /// The record was changed by someone else since it was read (its
    /// `version` moved on); read it again and retry.
    #[error("{what} {key:?} was changed concurrently; retry")]
    Stale {
        /// `vregion`, `partner`, `subscription`.
        what: &'static str,
        /// The key.
        key: String,
    },
    /// The database could not be opened, migrated or queried.
    #[error("database error: {0}")]
    Database(String),
    /// The database cannot be reached, refuses connections (shutting down,
    /// starting up) or handed out no connection within the pool's acquire
    /// timeout: an outage, not a failure of the request; retry later.
    #[error("the database is unavailable ({kind}): {message}")]
    Unavailable {
        /// How it fails.
        kind: crate::outage::OutageKind,
        /// What the driver said (never the URL's password).
        message: String,
    },
    /// A stored value could not be decoded (a column holds something this
    /// version does not understand).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// Result of the store.
pub type StoreResult<T> = std::result::Result<T, StoreError>;

/// A vregion as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VRegionRecord {
    /// Stable id (UUID, hex without dashes).
    pub id: String,
    /// The definition (its `name` is the unique key).
    pub spec: VRegionSpec,
    /// Lifecycle state.
    pub state: VRegionState,
    /// Keystone id of the vregion's domain once publishing created or adopted it.
    pub domain_id: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic concurrency: incremented by every update; an update carrying
    /// an older version fails with [`StoreError::Stale`].
    pub version: i64,
}

/// Lifecycle of a partner.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartnerState {
    /// Its Keystone objects are being created (resumable).
    Onboarding,
    /// It may call the exchange API.
    Active,
    /// Its Keystone objects are being removed (resumable).
    Removing,
}

impl PartnerState {
    /// `onboarding`, `active`, `removing`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Onboarding => "onboarding",
            Self::Active => "active",
            Self::Removing => "removing",
        }
    }
}

/// A partner (a subscriber provider) as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerRecord {
    /// Stable id (UUID, hex without dashes).
    pub id: String,
    /// Unique name.
    pub name: Name,
    /// Free description.
    pub description: String,
    /// Lifecycle state.
    pub state: PartnerState,
    /// Keystone B project the partner's credential is scoped to; tokens
    /// scoped to it identify the partner.
    pub project_id: Option<String>,
    /// Keystone B user owning the partner's application credential.
    pub user_id: Option<String>,
    /// Keystone objects created for the partner (project, user, role
    /// assignment, application credential), for undo.
    pub objects: Vec<CreatedObject>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic concurrency, as for vregions.
    pub version: i64,
}

/// A subscription as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    /// Stable id (UUID, hex without dashes).
    pub id: String,
    /// The vregion's id.
    pub vregion_id: String,
    /// The vregion's name (denormalised for listings).
    pub vregion: Name,
    /// The partner's id.
    pub partner_id: String,
    /// The partner's name (denormalised for listings).
    pub partner: Name,
    /// Lifecycle state.
    pub state: SubscriptionState,
    /// The subscriber's SAML entity id (its Keystone's `idp_entity_id`).
    pub entity_id: String,
    /// The subscriber's SAML metadata (XML), as validated.
    pub metadata: String,
    /// The subscriber's Keystone URL (informational).
    pub subscriber_keystone_url: Option<String>,
    /// The step that runs or ran last (`trust`, `identity_provider`, ...).
    pub step: Option<String>,
    /// The last error, for operators (never a secret).
    pub error: Option<String>,
    /// Keystone objects created or adopted, recorded before the next step.
    pub objects: Vec<CreatedObject>,
    /// The vregion admin user's password, sealed ([`crate::secrets`]).
    pub admin_password_sealed: Option<String>,
    /// Whether the admin password reached the partner (it is returned once).
    pub credentials_delivered: bool,
    /// On revoke: delete the federated users' projects instead of disabling them.
    pub purge: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic concurrency, as for vregions.
    pub version: i64,
}

/// What [`PublisherStore::reserve_place`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The subscription was inserted: it holds a place.
    Reserved(SubscriptionRecord),
    /// The partner already has a subscription to this vregion that holds a
    /// place; nothing was inserted.
    Existing(SubscriptionRecord),
    /// Every place is taken (`taken` subscriptions hold one); nothing was inserted.
    Full {
        /// Subscriptions holding a place.
        taken: u32,
    },
}

/// Which subscriptions to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionFilter {
    /// Only this partner's (by partner id).
    pub partner_id: Option<String>,
    /// Only this vregion's (by vregion id).
    pub vregion_id: Option<String>,
    /// Only those in one of these states (all when empty).
    pub states: Vec<SubscriptionState>,
}

/// The publisher's persistent state, with its leases ([`LeaseStore`]).
///
/// Every method is atomic. Updates are optimistic: the record carries the
/// `version` it was read with; the store increments it, or fails with
/// [`StoreError::Stale`] when someone else updated the record meanwhile.
#[async_trait]
pub trait PublisherStore: LeaseStore {
    /// Inserts a vregion ([`StoreError::Duplicate`] when the name is taken).
    async fn insert_vregion(&self, record: &VRegionRecord) -> StoreResult<()>;
    /// The vregion with this name.
    async fn get_vregion(&self, name: &Name) -> StoreResult<Option<VRegionRecord>>;
    /// The vregion with this id.
    async fn get_vregion_by_id(&self, id: &str) -> StoreResult<Option<VRegionRecord>>;
    /// Every vregion, by name.
    async fn list_vregions(&self) -> StoreResult<Vec<VRegionRecord>>;
    /// Replaces a vregion (same id); returns it with its new version.
    async fn update_vregion(&self, record: &VRegionRecord) -> StoreResult<VRegionRecord>;
    /// Deletes a vregion and the records of its subscriptions (the engine
    /// first checks that none of them holds a place); false when it did not exist.
    async fn delete_vregion(&self, id: &str) -> StoreResult<bool>;

    /// Inserts a partner ([`StoreError::Duplicate`] when the name is taken).
    async fn insert_partner(&self, record: &PartnerRecord) -> StoreResult<()>;
    /// The partner with this name.
    async fn get_partner(&self, name: &Name) -> StoreResult<Option<PartnerRecord>>;
    /// The partner whose credential is scoped to this Keystone project.
    async fn get_partner_by_project(&self, project_id: &str) -> StoreResult<Option<PartnerRecord>>;
    /// Every partner, by name.
    async fn list_partners(&self) -> StoreResult<Vec<PartnerRecord>>;
    /// Replaces a partner (same id); returns it with its new version.
    async fn update_partner(&self, record: &PartnerRecord) -> StoreResult<PartnerRecord>;
    /// Deletes a partner and the records of its subscriptions (the engine
    /// first checks that none of them holds a place); false when it did not exist.
    async fn delete_partner(&self, id: &str) -> StoreResult<bool>;

    /// Atomically: when the partner already has a subscription to the
    /// vregion in a state that holds a place, returns it; else when `max`
    /// subscriptions of the vregion hold a place, returns `Full`; else
    /// inserts `record`. Two callers racing for the last place: exactly one
    /// gets `Reserved`, on SQLite and on PostgreSQL.
    async fn reserve_place(&self, record: &SubscriptionRecord, max: u32) -> StoreResult<Reservation>;
    /// The subscription with this id.
    async fn get_subscription(&self, id: &str) -> StoreResult<Option<SubscriptionRecord>>;
    /// Subscriptions matching the filter, oldest first.
    async fn list_subscriptions(&self, filter: &SubscriptionFilter) -> StoreResult<Vec<SubscriptionRecord>>;
    /// Replaces a subscription (same id); returns it with its new version.
    async fn update_subscription(&self, record: &SubscriptionRecord) -> StoreResult<SubscriptionRecord>;
}

/// Leases: named locks with an expiry, shared by every store over one
/// database (one table for the publisher's and the subscriber's), that
/// serialise work on one thing across replicas: a partner's federation
/// objects (`partner:<id>`), a binding (`binding:<id>`).
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes or renews the lease `key` for `holder` until `ttl` from now;
    /// false when another holder has it and it has not expired.
    async fn acquire_lease(&self, key: &str, holder: &str, ttl: std::time::Duration) -> StoreResult<bool>;
    /// Extends the lease `key` to `ttl` from now if `holder` still has it
    /// (expired or not, as long as nobody else took it meanwhile); false
    /// when it is gone or another holder's. Never takes a free lease: a
    /// renewal racing the release cannot bring the lease back.
    async fn renew_lease(&self, key: &str, holder: &str, ttl: std::time::Duration) -> StoreResult<bool>;
    /// Gives the lease up if `holder` has it.
    async fn release_lease(&self, key: &str, holder: &str) -> StoreResult<()>;
}

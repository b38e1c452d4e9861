//! Storage of the subscriber's state behind [`SubscriberStore`]: the
//! publishers it knows (with their partner credential, sealed) and its
//! bindings (a vregion of a publisher shown as a region of Keystone A).
//!
//! [`super::SqlStore`] implements it (`store/sql_subscriber.rs`, migration
//! `0002_subscriber.sql`); a subscriber and a publisher may share one
//! database.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{LeaseStore, StoreResult};
use crate::model::{CreatedObject, Name, SubscriptionState};
use crate::publisher::OfferedService;

/// A publisher as the subscriber stores it. `Debug` never shows the
/// credential secret (it is sealed anyway).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublisherRecord {
    /// Stable id (UUID, hex without dashes).
    pub id: String,
    /// Unique local name.
    pub name: Name,
    /// The publisher's Keystone URL (where its exchange API is in the catalog).
    pub keystone_url: String,
    /// The exchange API's URL when given at registration (otherwise it is
    /// found in the publisher's catalog).
    pub exchange_url: Option<String>,
    /// The partner application credential's id.
    pub credential_id: String,
    /// Its secret, sealed ([`crate::secrets`]).
    pub credential_secret_sealed: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic concurrency, as for the publisher's records.
    pub version: i64,
}

impl std::fmt::Debug for PublisherRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublisherRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("keystone_url", &self.keystone_url)
            .field("exchange_url", &self.exchange_url)
            .field("credential_id", &self.credential_id)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// A binding: one vregion of a publisher, subscribed and shown on Keystone A
/// as the region `alias`. Its lifecycle reuses [`SubscriptionState`]
/// (`revoking`: the publisher revoked it and A's objects are being removed).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingRecord {
    /// Stable id (UUID, hex without dashes).
    pub id: String,
    /// Local alias: the region id on Keystone A; the service provider is
    /// `mercador-<alias>`.
    pub alias: Name,
    /// The publisher's id.
    pub publisher_id: String,
    /// The publisher's name (denormalised).
    pub publisher: Name,
    /// The vregion's name at the publisher.
    pub vregion: Name,
    /// Lifecycle state.
    pub state: SubscriptionState,
    /// The subscription's id at the publisher, once it answered.
    pub remote_subscription_id: Option<String>,
    /// The publisher's region the vregion lives in.
    pub remote_region: Option<String>,
    /// K2K `auth_url` the publisher returned.
    pub sp_auth_url: Option<String>,
    /// K2K `sp_url` (ECP endpoint) the publisher returned.
    pub sp_url: Option<String>,
    /// The vregion's services as the publisher last returned them.
    pub services: Vec<OfferedService>,
    /// The vregion admin user's password, sealed, when the publisher handed
    /// it over.
    pub admin_password_sealed: Option<String>,
    /// The step that runs or ran last.
    pub step: Option<String>,
    /// The last error (never a secret).
    pub error: Option<String>,
    /// Keystone A objects created or adopted, recorded before the next step.
    pub objects: Vec<CreatedObject>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic concurrency.
    pub version: i64,
}

impl std::fmt::Debug for BindingRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BindingRecord")
            .field("id", &self.id)
            .field("alias", &self.alias)
            .field("publisher", &self.publisher)
            .field("vregion", &self.vregion)
            .field("state", &self.state)
            .field("remote_subscription_id", &self.remote_subscription_id)
            .field("step", &self.step)
            .field("error", &self.error)
            .field("objects", &self.objects)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Which bindings to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindingFilter {
    /// Only this publisher's (by id).
    pub publisher_id: Option<String>,
    /// Only this alias.
    pub alias: Option<String>,
    /// Only those in one of these states (all when empty).
    pub states: Vec<SubscriptionState>,
}

/// The subscriber's persistent state, with its leases ([`LeaseStore`], the
/// publisher's table). Every method is atomic; updates are optimistic (see
/// [`super::PublisherStore`]).
#[async_trait]
pub trait SubscriberStore: LeaseStore {
    /// Inserts a publisher ([`super::StoreError::Duplicate`] when the name is taken).
    async fn insert_publisher(&self, record: &PublisherRecord) -> StoreResult<()>;
    /// The publisher with this name.
    async fn get_publisher(&self, name: &Name) -> StoreResult<Option<PublisherRecord>>;
    /// The publisher with this id.
    async fn get_publisher_by_id(&self, id: &str) -> StoreResult<Option<PublisherRecord>>;
    /// Every publisher, by name.
    async fn list_publishers(&self) -> StoreResult<Vec<PublisherRecord>>;
    /// Replaces a publisher (same id); returns it with its new version.
    async fn update_publisher(&self, record: &PublisherRecord) -> StoreResult<PublisherRecord>;
    /// Deletes a publisher and its finished bindings' records (the engine
    /// first checks that none is live); false when it did not exist.
    async fn delete_publisher(&self, id: &str) -> StoreResult<bool>;

    /// Inserts a binding ([`super::StoreError::Duplicate`] when a live
    /// binding has the alias, or the same vregion of the same publisher).
    async fn insert_binding(&self, record: &BindingRecord) -> StoreResult<()>;
    /// The binding with this id.
    async fn get_binding(&self, id: &str) -> StoreResult<Option<BindingRecord>>;
    /// Bindings matching the filter, oldest first.
    async fn list_bindings(&self, filter: &BindingFilter) -> StoreResult<Vec<BindingRecord>>;
    /// Replaces a binding (same id); returns it with its new version.
    async fn update_binding(&self, record: &BindingRecord) -> StoreResult<BindingRecord>;
    /// Deletes a binding's record; false when it did not exist.
    async fn delete_binding(&self, id: &str) -> StoreResult<bool>;
}

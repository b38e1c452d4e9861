//! SAML metadata validation and the trust store of B's Shibboleth SP.

use std::path::PathBuf;

use async_trait::async_trait;

use super::PublisherResult;

/// Where B's SAML service provider learns which identity providers it trusts.
#[async_trait]
pub trait SamlTrust: Send + Sync {
    /// Trusts `entity_id` with this (validated) metadata; idempotent.
    async fn trust(&self, entity_id: &str, metadata: &str) -> PublisherResult<()>;
    /// Stops trusting it; idempotent.
    async fn distrust(&self, entity_id: &str) -> PublisherResult<()>;
    /// The metadata it is trusted with, if any.
    async fn trusted(&self, entity_id: &str) -> PublisherResult<Option<String>>;
}

/// Shibboleth's `LocalDynamic` metadata provider: one file per entity,
/// `<sha1(entityID)>.xml`, in a directory shibd reads by itself (no restart,
/// no dropped sessions).
#[derive(Debug, Clone)]
pub struct ShibbolethMetadataDir {
    dir: PathBuf,
}

//! The Glance (image API v2) client the publisher needs to apply a
//! vregion's image visibility: an image's visibility and owner, and the
//! members of a shared image.
//!
//! - [`ImageApi`]: the operations, behind an async trait (as
//!   [`crate::keystone::IdentityApi`] is), so the engine can be tested with
//!   another implementation;
//! - [`GlanceClient`]: the HTTP implementation over a Keystone
//!   [`crate::keystone::Session`]: Glance is found in the session token's
//!   catalog (service type `image`, interface `public`, the region asked
//!   for), and every call carries the session's token.
//!
//! Glance's errors are [`crate::Error`]s, with the status mapped as
//! Keystone's are (404 → not found, 409 → conflict, 413 → over quota is
//! reported as an API error naming the status).

mod client;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use client::GlanceClient;

/// One image, as far as the publisher cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Image id.
    pub id: String,
    /// Name (may be absent).
    #[serde(default)]
    pub name: Option<String>,
    /// `public`, `community`, `shared` or `private`.
    pub visibility: String,
    /// The owning project's id.
    #[serde(default)]
    pub owner: Option<String>,
}

/// One member of a shared image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageMember {
    /// The image.
    pub image_id: String,
    /// The member project's id.
    pub member_id: String,
    /// `pending`, `accepted` or `rejected`.
    pub status: String,
}

/// Glance operations, each against the Glance of one region of the
/// publisher's cloud.
#[async_trait]
pub trait ImageApi: Send + Sync {
    /// `GET /v2/images/<id>`.
    async fn get_image(&self, region: &str, image_id: &str) -> crate::Result<Image>;
    /// `GET /v2/images?visibility=shared` (every page): the shared images
    /// the token sees (all of them for B's admin).
    async fn list_shared_images(&self, region: &str) -> crate::Result<Vec<Image>>;
    /// `GET /v2/images/<id>/members`.
    async fn list_members(&self, region: &str, image_id: &str) -> crate::Result<Vec<ImageMember>>;
    /// `POST /v2/images/<id>/members`: adds a project (status `pending`).
    async fn add_member(&self, region: &str, image_id: &str, project_id: &str) -> crate::Result<ImageMember>;
    /// `PUT /v2/images/<id>/members/<project>`: sets the member's status
    /// (an admin may do it on the member's behalf).
    async fn set_member_status(
        &self,
        region: &str,
        image_id: &str,
        project_id: &str,
        status: &str,
    ) -> crate::Result<ImageMember>;
    /// `DELETE /v2/images/<id>/members/<project>`.
    async fn remove_member(&self, region: &str, image_id: &str, project_id: &str) -> crate::Result<()>;
}

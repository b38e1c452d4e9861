//! The Keystone v3 client.
//!
//! - [`auth`]: credentials, scopes, and the [`AuthMethod`] trait (one
//!   implementation per way of obtaining a token).
//! - [`session`]: a [`Session`] caches the token of one method and scope, re-uses
//!   it until near expiry and re-authenticates once when a call sees 401.
//! - [`api`]: the [`IdentityApi`] trait of admin operations; [`client`]:
//!   [`KeystoneClient`], its HTTP implementation; [`ensure`]: idempotent
//!   create-or-adopt helpers over any [`IdentityApi`].
//! - [`catalog`], [`token`], [`types`]: the data Keystone returns.
//! - [`config`]: `clouds.yaml` and `OS_*` loading.
//!
//! ```no_run
//! # async fn demo() -> mercador_core::Result<()> {
//! use std::sync::Arc;
//! use mercador_core::keystone::{CloudConfig, IdentityApi, KeystoneClient, types::Filter};
//!
//! let session = Arc::new(CloudConfig::load(Some("mycloud"))?.session()?);
//! let keystone = KeystoneClient::new(session.clone());
//! for region in keystone.list_regions(&Filter::new()).await? {
//!     println!("{}", region.id);
//! }
//! # Ok(()) }
//! ```

pub mod api;
pub mod auth;
pub mod catalog;
pub mod client;
pub mod config;
pub mod ensure;
pub mod error;
pub mod http;
pub mod session;
pub mod token;
pub mod types;

pub use api::IdentityApi;
pub use auth::{AuthMethod, Credentials, DirectAuth, DomainRef, NameOrId, Scope};
pub use catalog::{Catalog, EndpointFilter, Interface};
pub use client::KeystoneClient;
pub use config::CloudConfig;
pub use ensure::{Ensured, Outcome};
pub use error::{Error, ErrorKind, Result};
pub use http::{HttpClient, HttpConfig};
pub use session::Session;
pub use token::{Token, TokenInfo};

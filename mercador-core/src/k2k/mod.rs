//! Keystone-to-Keystone federation on the client side.
//!
//! - [`auth`]: [`Keystone2Keystone`], the K2K [`crate::keystone::AuthMethod`]:
//!   a token on a service provider's Keystone from a login on the identity
//!   provider's Keystone, through the SP's SAML ECP endpoint.
//! - [`multicloud`]: [`MultiCloud`], one home login and lazily opened, cached
//!   sessions on every service provider, with aggregated catalogs and project
//!   lists.
//!
//! ```no_run
//! # async fn demo() -> mercador_core::Result<()> {
//! use std::sync::Arc;
//! use mercador_core::k2k::MultiCloud;
//! use mercador_core::keystone::{CloudConfig, Scope};
//!
//! let home = Arc::new(CloudConfig::load(Some("mycloud"))?.session()?); // project-scoped
//! let clouds = MultiCloud::new(home);
//! let on_b = clouds.session("keystone-b", Scope::project("vr1-demo", "vr1")).await?;
//! println!("token on B expires at {}", on_b.token().await?.expires_at());
//! for cloud in clouds.catalogs().await? {
//!     println!("{}: {:?}", cloud.cloud, cloud.result.map(|c| c.regions().len()));
//! }
//! # Ok(()) }
//! ```

pub mod auth;
pub mod multicloud;

pub use auth::Keystone2Keystone;
pub use multicloud::{CloudId, CloudResult, MultiCloud};

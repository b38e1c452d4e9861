//! Mercador core.
//!
//! Mercador federates independent OpenStack clouds: a publisher offers a
//! *virtual region* (a Keystone domain plus the services, quotas and roles it
//! allows) and a subscriber binds it so that its users reach it through
//! Keystone-to-Keystone (K2K) federation.
//!
//! This crate holds the logic shared by the services, the CLI and the Python
//! and C bindings:
//! - [`client`]: the HTTP clients of the Mercador services' faces (publisher
//!   admin, exchange, subscriber), shared by the CLI and the bindings;
//! - [`glance`]: the Glance image client the publisher applies image
//!   visibility with, behind [`glance::ImageApi`];
//! - [`keystone`]: the Keystone v3 client: authentication, token caching,
//!   catalog lookup, `clouds.yaml` loading, and the admin operations the
//!   publisher and subscriber engines need, behind [`keystone::IdentityApi`];
//! - [`k2k`]: Keystone-to-Keystone federation: the K2K auth method and the
//!   multi-cloud session;
//! - [`model`]: virtual regions and subscriptions, their validation and
//!   lifecycles;
//! - [`outage`]: outages of what Mercador depends on (which dependency,
//!   how), classified once for the services and the CLI;
//! - [`secrets`]: sealing of stored secrets under a configured key;
//! - [`store`]: the publisher's persistent state (SQLite or PostgreSQL);
//! - [`publisher`]: the publisher engine.

pub mod client;
mod engine;
pub mod glance;
pub mod k2k;
pub mod keystone;
pub mod model;
pub mod outage;
pub mod publisher;
pub mod secrets;
pub mod store;
pub mod subscriber;

pub use keystone::{Error, ErrorKind, Result};

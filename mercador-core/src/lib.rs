//! Mercador core.
//!
//! Mercador federates independent OpenStack clouds: a publisher offers a
//! *virtual region* (a Keystone domain plus the services, quotas and roles it
//! allows) and a subscriber binds it so that its users reach it through
//! Keystone-to-Keystone (K2K) federation.
//!
//! This crate holds the logic shared by the services, the CLI and the Python
//! and C bindings. Today it contains the Keystone v3 client ([`keystone`]):
//! authentication, token caching, catalog lookup, `clouds.yaml` loading, and
//! the admin operations the publisher and subscriber engines need, behind the
//! [`keystone::IdentityApi`] trait.

pub mod keystone;

pub use keystone::{Error, ErrorKind, Result};

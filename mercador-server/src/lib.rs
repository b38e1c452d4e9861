//! Mercador services over `mercador-core`.
//!
//! The publisher service (`mercador-server publisher --config FILE`, or
//! [`publisher::serve`] from another binary) serves the publisher engine as
//! REST/JSON with two faces, both registered in Keystone B's catalog:
//!
//! - the admin API, `/v1/admin` (service type `mercador-publisher`):
//!   vregions, partners, subscriptions, revocation; for Keystone B admins;
//! - the exchange API, `/v1/exchange` (service type `mercador-exchange`):
//!   offered vregions, subscribe, show, refresh, cancel; for partners.
//!
//! Where things are:
//! - [`config`]: the TOML file and its `MERCADOR_*` environment overrides;
//! - [`auth`]: token validation with Keystone B, the token cache, admins and partners;
//! - [`error`]: JSON errors (`{"error": {"code", "title", "message", "status"}}`);
//! - [`extract`]: body, query and path extractors whose rejections are JSON errors;
//! - [`openapi`]: the OpenAPI document (`GET /openapi.json`);
//! - [`publisher`]: the router, the handlers of each face, start-up and shutdown;
//! - [`logging`]: structured logs;
//! - [`subscriber`]: the subscriber service (`mercador-server subscriber --config FILE`):
//!   publishers, discovery and bindings for Keystone A's admins, under `/v1`.

pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
mod http;
pub mod logging;
pub mod openapi;
pub mod publisher;
mod shutdown;
pub mod subscriber;

pub use config::PublisherServiceConfig;
pub use publisher::{AppState, RouterOptions, router, serve};

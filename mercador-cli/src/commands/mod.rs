//! The commands, one module per area:
//!
//! - [`serve`]: `mercador serve publisher|subscriber` runs a service;
//! - [`publisher`]: the publisher's admin face (vregions, partners,
//!   subscriptions, reconcile), for the publisher cloud's admins;
//! - [`exchange`]: the publisher's partner face (offers, subscribe, the
//!   partner's subscriptions), for subscribers holding a partner credential;
//! - [`subscriber`]: the subscriber service (publishers, discover,
//!   subscribe, bindings), for the subscriber cloud's admins;
//! - [`k2k`]: `token issue` and `catalog list` across the home cloud and its
//!   Keystone-to-Keystone service providers.
//!
//! Each command returns an [`Output`](crate::output::Output), which
//! `main` prints in the chosen format.

use std::sync::Arc;
use std::time::Instant;

use mercador_core::keystone::Session;
use url::Url;

use crate::auth::AuthArgs;
use crate::error::CliResult;
use mercador_core::client::{ExchangeClient, PublisherAdminClient, SubscriberClient};

pub(crate) mod clouds;
pub(crate) mod exchange;
pub(crate) mod k2k;
pub(crate) mod publisher;
pub(crate) mod serve;
pub(crate) mod subscriber;

/// What every command may need: authentication and the service URL.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    /// The `--os-*` options.
    pub(crate) auth: AuthArgs,
    /// `--url`: the service's root URL instead of the catalog's.
    pub(crate) url: Option<Url>,
}

impl Context {
    /// A session on the home Keystone.
    pub(crate) fn session(&self) -> CliResult<Arc<Session>> {
        self.auth.session()
    }

    /// A client of the publisher's admin face.
    pub(crate) async fn admin(&self) -> CliResult<PublisherAdminClient> {
        Ok(PublisherAdminClient::connect(self.session()?, self.url.as_ref()).await?)
    }

    /// A client of the publisher's partner face.
    pub(crate) async fn exchange(&self) -> CliResult<ExchangeClient> {
        Ok(ExchangeClient::connect(self.session()?, self.url.as_ref()).await?)
    }

    /// A client of the subscriber service.
    pub(crate) async fn subscriber(&self) -> CliResult<SubscriberClient> {
        Ok(SubscriberClient::connect(self.session()?, self.url.as_ref()).await?)
    }
}

/// Times a long operation and reports `<what> done in N ms` on standard error.
#[derive(Debug)]
pub(crate) struct Progress {
    what: String,
    started: Instant,
}

impl Progress {
    /// Announces the operation on standard error.
    pub(crate) fn start(what: impl Into<String>) -> Self {
        let what = what.into();
        eprintln!("{what}...");
        Self { what, started: Instant::now() }
    }

    /// Reports the end.
    pub(crate) fn done(self) {
        eprintln!("{} done in {} ms", self.what, self.started.elapsed().as_millis());
    }
}

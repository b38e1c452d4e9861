//! What the two engines ([`crate::publisher`], [`crate::subscriber`]) share
//! to run their resumable steps one operation at a time across replicas:
//! [`Lease`], held on a key of the store's leases ([`LeaseStore`]) while the
//! steps run (a partner's federation objects, a binding).

use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use crate::publisher::PublisherError;
use crate::store::{LeaseStore, StoreError};
use crate::subscriber::SubscriberError;

/// How long [`Lease::hold`] waits for a lease another holder has.
const WAIT: Duration = Duration::from_secs(30);
/// How often it asks again meanwhile.
const RETRY: Duration = Duration::from_millis(200);

/// An engine's error: made from the store's, and saying "busy" when another
/// holder has a lease.
pub(crate) trait LeaseError: From<StoreError> {
    /// Another operation on `what` holds the lease; retry in a few seconds.
    fn busy(what: String) -> Self;
}

impl LeaseError for PublisherError {
    fn busy(what: String) -> Self {
        Self::Busy(what)
    }
}

impl LeaseError for SubscriberError {
    fn busy(what: String) -> Self {
        Self::Busy(what)
    }
}

/// A lease held on one key (`partner:<id>`, `binding:<id>`) by one
/// operation of this replica (holder `<replica id>/<random>`), for a TTL at a
/// time: each step renews it ([`Lease::renew`]). A replica that dies holding
/// it loses it when the TTL runs out. `E` is the engine's error, busy when
/// the lease is not to be had.
#[derive(Debug)]
pub(crate) struct Lease<E> {
    key: String,
    holder: String,
    ttl: Duration,
    error: PhantomData<fn() -> E>,
}

impl<E: LeaseError> Lease<E> {
    /// A lease on `key` for a new operation of replica `replica_id`, lasting
    /// `ttl` from each renewal; not taken yet.
    pub(crate) fn new(key: String, replica_id: &str, ttl: Duration) -> Self {
        let holder = format!("{replica_id}/{}", uuid::Uuid::new_v4().simple());
        Self { key, holder, ttl, error: PhantomData }
    }

    /// Runs `work` holding the lease: takes it, waiting up to 30 s while
    /// another holder has it (then fails with busy `what`), and gives it up
    /// when `work` is done (should that fail, it expires by itself).
    pub(crate) async fn hold<S, T, F, Fut>(self, store: &S, what: &str, work: F) -> Result<T, E>
    where
        S: LeaseStore + ?Sized,
        F: FnOnce(Self) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !store.acquire_lease(&self.key, &self.holder, self.ttl).await? {
            if tokio::time::Instant::now() > deadline {
                return Err(E::busy(what.to_string()));
            }
            tokio::time::sleep(RETRY).await;
        }
        let key = self.key.clone();
        let holder = self.holder.clone();
        let result = work(self).await;
        if let Err(e) = store.release_lease(&key, &holder).await {
            tracing::warn!(lease = %key, error = %e, "could not release the lease; it expires by itself");
        }
        result
    }

    /// Renews it for another TTL; fails with busy (its key) when it was lost
    /// (expired and taken).
    pub(crate) async fn renew<S: LeaseStore + ?Sized>(&self, store: &S) -> Result<(), E> {
        if store.acquire_lease(&self.key, &self.holder, self.ttl).await? {
            Ok(())
        } else {
            Err(E::busy(self.key.clone()))
        }
    }
}

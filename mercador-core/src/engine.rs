//! What the two engines ([`crate::publisher`], [`crate::subscriber`]) share
//! to run their resumable steps one operation at a time across replicas:
//! [`Lease`], held on a key of the store's leases ([`LeaseStore`]) while the
//! steps run (a partner's federation objects, a binding).
//!
//! A lease is renewed twice over while held: by each recorded step
//! ([`Lease::renew`], which also tells the step whether the lease is still
//! its own), and every third of its TTL in the background, so that a step
//! slower than the TTL (a Keystone call on a loaded machine) does not let
//! another replica's reconcile take the record over in the middle of it.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
/// time, renewed every third of the TTL while [`Lease::hold`] runs and by each
/// step ([`Lease::renew`]). A replica that dies holding it, or drops the
/// operation, loses it when the TTL runs out. Once lost (taken by another
/// holder, or gone), it stays lost: every later [`Lease::renew`] fails. `E` is
/// the engine's error, busy when the lease is not to be had.
#[derive(Debug)]
pub(crate) struct Lease<E> {
    key: String,
    holder: String,
    ttl: Duration,
    /// Set by the first renewal that found the lease no longer this holder's.
    lost: Arc<AtomicBool>,
    error: PhantomData<fn() -> E>,
}

impl<E: LeaseError> Lease<E> {
    /// A lease on `key` for a new operation of replica `replica_id`, lasting
    /// `ttl` from each renewal; not taken yet.
    pub(crate) fn new(key: String, replica_id: &str, ttl: Duration) -> Self {
        let holder = format!("{replica_id}/{}", uuid::Uuid::new_v4().simple());
        Self { key, holder, ttl, lost: Arc::new(AtomicBool::new(false)), error: PhantomData }
    }

    /// Runs `work` holding the lease: takes it, waiting up to 30 s while
    /// another holder has it (then fails with busy `what`), renews it every
    /// third of its TTL while `work` runs, and gives it up when `work` is
    /// done (should that fail, it expires by itself). The renewal runs in
    /// this future, beside `work`: it stops when `work` ends, or when the
    /// whole is dropped (a cancelled request, an aborted task), never
    /// outliving the operation.
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
        let (key, holder, ttl, lost) = (self.key.clone(), self.holder.clone(), self.ttl, self.lost.clone());
        let result = tokio::select! {
            result = work(self) => result,
            never = keep_renewed(store, &key, &holder, ttl, &lost) => match never {},
        };
        if let Err(e) = store.release_lease(&key, &holder).await {
            tracing::warn!(lease = %key, error = %e, "could not release the lease; it expires by itself");
        }
        result
    }

    /// Renews it for another TTL; fails with busy (its key) when it was lost
    /// (taken by another holder, or gone), now or by an earlier renewal.
    pub(crate) async fn renew<S: LeaseStore + ?Sized>(&self, store: &S) -> Result<(), E> {
        if !self.lost.load(Ordering::SeqCst) && store.renew_lease(&self.key, &self.holder, self.ttl).await? {
            Ok(())
        } else {
            self.lost.store(true, Ordering::SeqCst);
            Err(E::busy(self.key.clone()))
        }
    }
}

/// Renews the lease `key` of `holder` every third of `ttl`, until the
/// future is dropped. A renewal that finds the lease lost sets `lost` (the
/// holder's next step fails) and the renewals stop; a failing store is
/// retried at the next turn (the lease may still be saved in time).
async fn keep_renewed<S: LeaseStore + ?Sized>(
    store: &S,
    key: &str,
    holder: &str,
    ttl: Duration,
    lost: &AtomicBool,
) -> Infallible {
    let every = (ttl / 3).max(Duration::from_millis(10));
    loop {
        tokio::time::sleep(every).await;
        if lost.load(Ordering::SeqCst) {
            break;
        }
        match store.renew_lease(key, holder, ttl).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(lease = %key, "lease lost while held (taken by another holder); the next step stops");
                lost.store(true, Ordering::SeqCst);
                break;
            }
            Err(e) => tracing::warn!(lease = %key, error = %e, "could not renew the lease; trying again"),
        }
    }
    std::future::pending().await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::SqlStore;

    type TestLease = Lease<SubscriberError>;
    const TTL: Duration = Duration::from_millis(300);

    /// Held for more than three TTLs, with no step renewing it: nobody
    /// else gets it meanwhile; free as soon as the work is done.
    #[tokio::test]
    async fn renewed_in_the_background_while_held() {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        let lease = TestLease::new("binding:slow".into(), "replica-a", TTL);
        let store = &store;
        lease
            .hold(store, "binding slow", |_lease| async move {
                for _ in 0..20 {
                    assert!(!store.acquire_lease("binding:slow", "replica-b", TTL).await.unwrap());
                    tokio::time::sleep(TTL / 6).await;
                }
                Ok(())
            })
            .await
            .unwrap();
        assert!(store.acquire_lease("binding:slow", "replica-b", TTL).await.unwrap(), "released");
    }

    /// Taken over by another holder (as after an expiry): the background
    /// renewal notices, and the holder's next step fails busy, even once the
    /// other holder has given the lease up again.
    #[tokio::test]
    async fn a_lost_lease_fails_the_next_step() {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        let lease = TestLease::new("binding:lost".into(), "replica-a", TTL);
        let store = &store;
        let err = lease
            .hold(store, "binding lost", |lease| async move {
                lease.renew(store).await?;
                store.release_lease(&lease.key, &lease.holder).await.unwrap();
                assert!(store.acquire_lease("binding:lost", "replica-b", TTL).await.unwrap());
                tokio::time::sleep(TTL / 2).await;
                assert!(lease.lost.load(Ordering::SeqCst), "noticed in the background");
                store.release_lease("binding:lost", "replica-b").await.unwrap();
                lease.renew(store).await
            })
            .await
            .unwrap_err();
        assert!(matches!(&err, SubscriberError::Busy(what) if what == "binding:lost"), "{err:?}");
        assert!(store.acquire_lease("binding:lost", "replica-c", TTL).await.unwrap(), "not taken back");
    }

    /// An operation dropped while it holds the lease (an aborted task)
    /// stops renewing it: another holder gets it once the TTL runs out.
    #[tokio::test]
    async fn dropped_holder_stops_renewing() {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        let lease = TestLease::new("binding:dropped".into(), "replica-a", TTL);
        let forever = lease.hold(&store, "binding dropped", |_lease| std::future::pending::<Result<(), _>>());
        assert!(tokio::time::timeout(TTL * 3, forever).await.is_err(), "still running, then dropped");
        assert!(!store.acquire_lease("binding:dropped", "replica-b", TTL).await.unwrap(), "renewed until dropped");
        tokio::time::sleep(TTL + TTL / 2).await;
        assert!(store.acquire_lease("binding:dropped", "replica-b", TTL).await.unwrap(), "expired");
    }
}

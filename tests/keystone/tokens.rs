//! Token re-use, single flight, and re-authentication after revocation, on
//! the real Keystone A, counted with a wrapper around `DirectAuth`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use futures::future::join_all;
use mercador_core::keystone::types::Filter;
use mercador_core::keystone::{AuthMethod, DirectAuth, HttpClient, IdentityApi, KeystoneClient, Scope, Session, Token};
use mercador_core::{ErrorKind, Result};
use mercador_tests::{Cloud, Testbed};
use secrecy::ExposeSecret;
use url::Url;

use crate::common::{self, expect_err};

/// `DirectAuth` that counts its authentications.
#[derive(Debug)]
struct CountingAuth {
    inner: DirectAuth,
    count: Arc<AtomicUsize>,
}

#[async_trait]
impl AuthMethod for CountingAuth {
    fn auth_url(&self) -> &Url {
        self.inner.auth_url()
    }

    async fn authenticate(&self, http: &HttpClient, scope: &Scope) -> Result<Token> {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.inner.authenticate(http, scope).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn single_flight_and_reauthentication_after_revocation() {
    let tb = Testbed::get();
    let count = Arc::new(AtomicUsize::new(0));
    let auth = CountingAuth {
        inner: DirectAuth::new(&tb.url(Cloud::A), tb.admin_credentials(Cloud::A)).unwrap(),
        count: count.clone(),
    };
    let session = Arc::new(Session::new(Arc::new(auth), Scope::project("admin", "Default")).unwrap());

    // 20 concurrent callers, one authentication, one token.
    let tokens: Vec<Arc<Token>> = join_all((0..20).map(|_| {
        let session = session.clone();
        tokio::spawn(async move { session.token().await })
    }))
    .await
    .into_iter()
    .map(|r| r.unwrap().unwrap())
    .collect();
    assert_eq!(count.load(Ordering::SeqCst), 1, "20 concurrent token() calls must authenticate once");
    let first = tokens[0].clone();
    assert!(tokens.iter().all(|t| t.secret().expose_secret() == first.secret().expose_secret()));
    // Cached: API calls re-use it.
    let client = KeystoneClient::new(session.clone());
    client.list_regions(&Filter::new()).await.unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 1);

    // Another admin revokes the cached token.
    let other = common::admin(Cloud::A);
    assert_eq!(other.validate_token(first.secret()).await.unwrap().audit_ids, first.audit_ids);
    {
        // A revocation writes a revocation event.
        let _writes = common::writing_to(Cloud::A).await;
        other.revoke_token(first.secret()).await.unwrap();
    }
    let e = expect_err(other.validate_token(first.secret()).await, ErrorKind::NotFound);
    assert_eq!(e.status(), Some(404));
    assert!(!e.to_string().contains(first.secret().expose_secret()), "the error shows the token: {e}");

    // 10 concurrent calls all see 401 with the revoked token; together they
    // re-authenticate once and all succeed.
    let results = join_all((0..10).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.list_regions(&Filter::new()).await })
    }))
    .await;
    for r in results {
        let regions = r.unwrap().unwrap();
        assert!(regions.iter().any(|r| r.id == tb.region(Cloud::A)));
    }
    assert_eq!(count.load(Ordering::SeqCst), 2, "exactly one re-authentication");
    let second = session.token().await.unwrap();
    assert_ne!(second.secret().expose_secret(), first.secret().expose_secret());
    assert_ne!(second.audit_ids, first.audit_ids);
    assert_eq!(other.validate_token(second.secret()).await.unwrap().user.id, first.user.id);
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn cleared_cache_reauthenticates_and_revoke_of_revoked_token_is_not_found() {
    let tb = Testbed::get();
    let count = Arc::new(AtomicUsize::new(0));
    let auth = CountingAuth {
        inner: DirectAuth::new(&tb.url(Cloud::A), tb.admin_credentials(Cloud::A)).unwrap(),
        count: count.clone(),
    };
    // System scope this time: the session keeps the scope it was given.
    let session = Arc::new(Session::new(Arc::new(auth), Scope::System).unwrap());
    let client = KeystoneClient::new(session.clone());
    let first = session.token().await.unwrap();
    assert!(first.is_system_scoped());
    // The session's own token may revoke itself; afterwards the session
    // notices on its next call (401) and re-authenticates.
    let writes = common::writing_to(Cloud::A).await; // a revocation writes a revocation event
    client.revoke_token(first.secret()).await.unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    let e = expect_err(client.revoke_token(first.secret()).await, ErrorKind::NotFound);
    drop(writes);
    assert_eq!(count.load(Ordering::SeqCst), 2, "the 401 of the revoked session token led to one re-auth: {e}");
    let second = session.token().await.unwrap();
    assert!(second.is_system_scoped());
    session.clear();
    let third = session.token().await.unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert_ne!(third.secret().expose_secret(), second.secret().expose_secret());
}

//! Helpers shared by the Keystone tests: deferred cleanup that also runs when
//! a test fails, fixtures, and error assertions.

use std::fmt::Debug;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt as _;
use mercador_core::keystone::types::{Domain, Project, Region, Service};
use mercador_core::keystone::types::{NewDomain, NewProject, NewRegion, NewService};
use mercador_core::keystone::{
    AuthMethod, DirectAuth, HttpClient, HttpConfig, IdentityApi, KeystoneClient, Scope, Session, Token,
};
use mercador_core::{Error, ErrorKind, Result};
use mercador_tests::{Cloud, Testbed, unique};
use tokio::sync::OnceCell;
use url::Url;

type Job = Pin<Box<dyn Future<Output = Result<()>> + Send>>;

/// Deletions to run when a test ends, newest first, whether the test passed
/// or panicked. A deletion that finds nothing (NotFound) is fine: the test
/// usually deletes its objects itself and checks they are gone.
#[derive(Clone, Default)]
pub(crate) struct Cleanup {
    jobs: Arc<Mutex<Vec<(String, Job)>>>,
}

impl Cleanup {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Registers `job(client)` to run at the end of the test.
    pub(crate) fn defer<F, Fut>(&self, what: impl Into<String>, client: &KeystoneClient, job: F)
    where
        F: FnOnce(KeystoneClient) -> Fut,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        let fut: Job = Box::pin(job(client.clone()));
        self.jobs.lock().unwrap().push((what.into(), fut));
    }

    /// Runs `body`, then every deferred deletion (also when `body` panics),
    /// then re-raises the panic, or fails if a deletion failed.
    pub(crate) async fn run(self, body: impl Future<Output = ()>) {
        let outcome = AssertUnwindSafe(body).catch_unwind().await;
        let jobs: Vec<(String, Job)> = std::mem::take(&mut *self.jobs.lock().unwrap());
        let mut failures = Vec::new();
        for (what, job) in jobs.into_iter().rev() {
            match job.await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => failures.push(format!("cleanup of {what} failed: {e}")),
            }
        }
        match outcome {
            Err(panic) => {
                for f in &failures {
                    eprintln!("{f}");
                }
                std::panic::resume_unwind(panic)
            }
            Ok(()) => assert!(failures.is_empty(), "{}", failures.join("\n")),
        }
    }
}

/// One writing test at a time per Keystone. The testbed's Keystones keep their
/// data in SQLite behind two uwsgi workers: oslo.db opens every transaction
/// with a deferred `BEGIN` and reads before it writes, so two overlapping
/// write transactions make SQLite fail one of them at once ("database is
/// locked", whatever the journal mode or busy timeout); Keystone then answers
/// nothing and the request hangs. Tests that only read or authenticate (which
/// writes nothing in this configuration) run alongside. Drop this once the
/// testbed serializes writes itself.
static WRITERS: [tokio::sync::Mutex<()>; 2] = [tokio::sync::Mutex::const_new(()), tokio::sync::Mutex::const_new(())];

/// Waits for the right to write to `cloud`'s Keystone; hold it for the whole test.
pub(crate) async fn writing_to(cloud: Cloud) -> tokio::sync::MutexGuard<'static, ()> {
    WRITERS[usize::from(cloud == Cloud::B)].lock().await
}

/// The admin token of each cloud, obtained once per test binary.
static ADMIN_TOKENS: [OnceCell<Token>; 2] = [OnceCell::const_new(), OnceCell::const_new()];

/// Password authentication of the cloud's admin whose first token is shared by
/// every session of the test binary: each password authentication costs
/// Keystone a bcrypt round (~0.3 s of CPU), and the tests that are about
/// authentication make their own. A session that needs another token (401,
/// expiry) authenticates for real.
#[derive(Debug)]
struct SharedAdminAuth {
    inner: DirectAuth,
    cloud: Cloud,
    shared_used: AtomicBool,
}

#[async_trait]
impl AuthMethod for SharedAdminAuth {
    fn auth_url(&self) -> &Url {
        self.inner.auth_url()
    }

    async fn authenticate(&self, http: &HttpClient, scope: &Scope) -> Result<Token> {
        if !self.shared_used.swap(true, Ordering::SeqCst) {
            let cell = &ADMIN_TOKENS[usize::from(self.cloud == Cloud::B)];
            let token = cell.get_or_try_init(|| self.inner.authenticate(http, scope)).await?;
            if token.valid_for(Duration::from_secs(300)) {
                return Ok(token.clone());
            }
        }
        self.inner.authenticate(http, scope).await
    }
}

/// A Keystone client of the cloud's admin (project admin), on the token shared
/// by the test binary.
pub(crate) fn admin(cloud: Cloud) -> KeystoneClient {
    let tb = Testbed::get();
    let inner = DirectAuth::new(&tb.url(cloud), tb.admin_credentials(cloud)).unwrap();
    let auth = SharedAdminAuth { inner, cloud, shared_used: AtomicBool::new(false) };
    // No request of these tests takes seconds; fail fast rather than after the default minute.
    let http = HttpClient::new(&HttpConfig { timeout: Duration::from_secs(20), ..HttpConfig::default() }).unwrap();
    KeystoneClient::new(Arc::new(Session::with_http(http, Arc::new(auth), Scope::project("admin", "Default"))))
}

/// Asserts that `result` failed with `kind` and returns the error.
#[track_caller]
pub(crate) fn expect_err<T: Debug>(result: Result<T>, kind: ErrorKind) -> Error {
    match result {
        Ok(v) => panic!("expected a {kind} error, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "expected {kind}, got: {e}");
            e
        }
    }
}

/// Asserts that `result` is a NotFound answered by Keystone (HTTP 404).
#[track_caller]
pub(crate) fn expect_gone<T: Debug>(result: Result<T>) -> Error {
    let e = expect_err(result, ErrorKind::NotFound);
    assert_eq!(e.status(), Some(404), "{e}");
    e
}

/// A new enabled domain, deleted at the end of the test (with all it holds).
pub(crate) async fn domain(k: &KeystoneClient, cleanup: &Cleanup, prefix: &str) -> Domain {
    let d = k
        .create_domain(&NewDomain { name: unique(prefix), description: Some("mercador test".into()), enabled: true })
        .await
        .unwrap();
    let id = d.id.clone();
    cleanup.defer(format!("domain {}", d.name), k, move |k| async move { k.delete_domain(&id).await });
    d
}

/// A new project in `domain_id`, deleted at the end of the test.
pub(crate) async fn project(k: &KeystoneClient, cleanup: &Cleanup, domain_id: &str, prefix: &str) -> Project {
    let p = k.create_project(&new_project(unique(prefix), domain_id)).await.unwrap();
    let id = p.id.clone();
    cleanup.defer(format!("project {}", p.name), k, move |k| async move { k.delete_project(&id).await });
    p
}

pub(crate) fn new_project(name: String, domain_id: &str) -> NewProject {
    NewProject {
        name,
        domain_id: domain_id.to_owned(),
        description: None,
        enabled: true,
        parent_id: None,
        tags: Vec::new(),
    }
}

/// A new region (unique id), deleted at the end of the test.
pub(crate) async fn region(k: &KeystoneClient, cleanup: &Cleanup, prefix: &str) -> Region {
    let r = k
        .create_region(&NewRegion { id: Some(unique(prefix)), description: None, parent_region_id: None })
        .await
        .unwrap();
    let id = r.id.clone();
    cleanup.defer(format!("region {id}"), k, move |k| async move { k.delete_region(&id).await });
    r
}

/// A new service of a unique type, deleted (with its endpoints) at the end of the test.
pub(crate) async fn service(k: &KeystoneClient, cleanup: &Cleanup, prefix: &str) -> Service {
    let s = k
        .create_service(&NewService {
            service_type: unique(prefix),
            name: Some(unique(prefix)),
            description: None,
            enabled: true,
        })
        .await
        .unwrap();
    let id = s.id.clone();
    cleanup.defer(format!("service {}", s.service_type), k, move |k| async move { k.delete_service(&id).await });
    s
}

//! [`MultiCloud`]: one login on a home Keystone, sessions on every service
//! provider it federates with (the MOC "mix and match" client).
//!
//! Sessions on foreign Keystones are opened lazily with K2K, cached per
//! Keystone endpoint and scope, and renewed when their tokens expire or are
//! refused (the [`Session`] rules). Catalogs and project lists of all clouds
//! are fetched concurrently; a cloud that fails reports its error while the
//! others still answer.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use url::Url;

use super::auth::Keystone2Keystone;
use crate::keystone::auth::{NameOrId, Scope};
use crate::keystone::catalog::Catalog;
use crate::keystone::token::TokenServiceProvider;
use crate::keystone::types::Project;
use crate::keystone::{Error, ErrorKind, IdentityApi, KeystoneClient, Result, Session};

/// Which cloud an answer is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CloudId {
    /// The home Keystone (the identity provider).
    Home,
    /// A service provider of the home Keystone, by its id there.
    ServiceProvider(String),
}

impl fmt::Display for CloudId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Home => f.write_str("home"),
            Self::ServiceProvider(id) => f.write_str(id),
        }
    }
}

/// One cloud's answer in an aggregate.
#[derive(Debug)]
pub struct CloudResult<T> {
    /// Which cloud.
    pub cloud: CloudId,
    /// Its Keystone, when known.
    pub keystone: Option<Url>,
    /// The answer, or why this cloud could not give it.
    pub result: Result<T>,
    /// How long this cloud took.
    pub elapsed: Duration,
}

/// A home session plus lazily opened K2K sessions on its service providers.
#[derive(Debug)]
pub struct MultiCloud {
    home: Arc<Session>,
    k2k: tokio::sync::Mutex<HashMap<String, Arc<Keystone2Keystone>>>,
    sessions: tokio::sync::Mutex<HashMap<(Url, Scope), Arc<Session>>>,
}

impl MultiCloud {
    /// Starts from a session on the home Keystone. It must be project-scoped
    /// for K2K (Keystone issues assertions for project-scoped tokens only).
    pub fn new(home: Arc<Session>) -> Self {
        Self { home, k2k: Default::default(), sessions: Default::default() }
    }

    /// The home session.
    pub fn home(&self) -> &Arc<Session> {
        &self.home
    }

    /// The service providers listed in the home token (the enabled ones).
    pub async fn service_providers(&self) -> Result<Vec<TokenServiceProvider>> {
        Ok(self.home.token().await?.service_providers.clone())
    }

    /// The K2K method for a service provider (created once, then shared).
    pub async fn k2k(&self, sp_id: &str) -> Result<Arc<Keystone2Keystone>> {
        let mut map = self.k2k.lock().await;
        if let Some(k) = map.get(sp_id) {
            return Ok(k.clone());
        }
        let k = Arc::new(Keystone2Keystone::new(self.home.clone(), sp_id).await?);
        map.insert(sp_id.to_owned(), k.clone());
        Ok(k)
    }

    /// A session on a service provider with `scope` (cached per Keystone
    /// endpoint and scope).
    pub async fn session(&self, sp_id: &str, scope: Scope) -> Result<Arc<Session>> {
        let k2k = self.k2k(sp_id).await?;
        let key = (crate::keystone::AuthMethod::auth_url(k2k.as_ref()).clone(), scope.clone());
        let mut map = self.sessions.lock().await;
        if let Some(s) = map.get(&key) {
            return Ok(s.clone());
        }
        let session = Arc::new(Session::with_http(self.home.http().clone(), k2k, scope));
        map.insert(key, session.clone());
        Ok(session)
    }

    /// The scope used on a service provider when none is given: the project
    /// with the same name as the home project if the user can reach one, else
    /// the first project it can reach.
    pub async fn default_scope(&self, sp_id: &str) -> Result<Scope> {
        let k2k = self.k2k(sp_id).await?;
        let projects = k2k.projects().await?;
        let home_project = self.home.token().await?.project.as_ref().and_then(|p| p.name.clone());
        let chosen =
            projects.iter().find(|p| Some(&p.name) == home_project.as_ref()).or_else(|| projects.first()).ok_or_else(
                || Error::Federation {
                    kind: ErrorKind::NotFound,
                    message: format!(
                        "the federated user has no project to scope to on service provider {sp_id} \
                     ({}): its mapping grants no project role",
                        crate::keystone::AuthMethod::auth_url(k2k.as_ref())
                    ),
                },
            )?;
        Ok(Scope::Project(NameOrId::Id(chosen.id.clone())))
    }

    /// A session on a service provider with its default scope.
    pub async fn default_session(&self, sp_id: &str) -> Result<Arc<Session>> {
        let scope = self.default_scope(sp_id).await?;
        self.session(sp_id, scope).await
    }

    /// The catalogs of home and of every service provider (default scope),
    /// fetched concurrently.
    pub async fn catalogs(&self) -> Result<Vec<CloudResult<Catalog>>> {
        let sps = self.service_providers().await?;
        self.catalogs_of(&sps).await
    }

    /// The catalogs of home and of the given service providers (default
    /// scope), fetched concurrently.
    pub async fn catalogs_of(&self, sps: &[TokenServiceProvider]) -> Result<Vec<CloudResult<Catalog>>> {
        Ok(self
            .gather(sps, async { Ok(self.home.token().await?.catalog().clone()) }, |sp| async move {
                Ok(self.default_session(&sp.id).await?.token().await?.catalog().clone())
            })
            .await)
    }

    /// The projects the user can reach on home and on every service provider,
    /// fetched concurrently.
    pub async fn projects(&self) -> Result<Vec<CloudResult<Vec<Project>>>> {
        let sps = self.service_providers().await?;
        Ok(self
            .gather(&sps, KeystoneClient::new(self.home.clone()).list_auth_projects(), |sp| async move {
                self.k2k(&sp.id).await?.projects().await
            })
            .await)
    }

    /// Runs `home` and `foreign(sp)` for every service provider concurrently;
    /// one result per cloud, home first, each timed.
    async fn gather<'a, T, H, F, Fut>(
        &'a self,
        sps: &'a [TokenServiceProvider],
        home: H,
        foreign: F,
    ) -> Vec<CloudResult<T>>
    where
        H: Future<Output = Result<T>>,
        F: Fn(&'a TokenServiceProvider) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        async fn timed<T>(
            cloud: CloudId,
            keystone: Option<Url>,
            work: impl Future<Output = Result<T>>,
        ) -> CloudResult<T> {
            let started = Instant::now();
            let result = work.await;
            CloudResult { cloud, keystone, result, elapsed: started.elapsed() }
        }
        let home = timed(CloudId::Home, Some(self.home.auth_url().clone()), home);
        let others = sps.iter().map(|sp| {
            let keystone = crate::k2k::auth::remote_keystone_url(&sp.auth_url).ok();
            timed(CloudId::ServiceProvider(sp.id.clone()), keystone, foreign(sp))
        });
        let (home, mut others) = futures::join!(home, join_all(others));
        others.insert(0, home);
        others
    }
}

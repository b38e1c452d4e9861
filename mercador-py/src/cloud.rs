//! Clouds, tokens, K2K sessions and the multi-cloud session.

use std::sync::{Arc, Mutex};

use mercador_core::ErrorKind;
use mercador_core::k2k::{CloudId, CloudResult};
use mercador_core::keystone::config::CloudSettings;
use mercador_core::keystone::{
    Catalog, CloudConfig, DomainRef, EndpointFilter, Interface, NameOrId, Scope, Session, Token as CoreToken,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use url::Url;

use crate::clients::{ExchangeClient, PublisherAdminClient, SubscriberClient};
use crate::convert::to_py;
use crate::errors::{CoreError, new_error, to_pyerr};
use crate::runtime::{block_on, pid};

/// A home cloud's configuration and, per process, its sessions.
#[derive(Debug)]
pub(crate) struct Home {
    config: CloudConfig,
    state: Mutex<Option<(u32, Arc<mercador_core::k2k::MultiCloud>)>>,
}

impl Home {
    fn new(config: CloudConfig) -> Self {
        Self { config, state: Mutex::new(None) }
    }

    /// The multi-cloud session of this process (made again after a fork).
    pub(crate) fn multi(&self, py: Python<'_>) -> PyResult<Arc<mercador_core::k2k::MultiCloud>> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((owner, multi)) = guard.as_ref() {
            if *owner == pid() {
                return Ok(multi.clone());
            }
        }
        let session = self.config.session().map_err(|e| to_pyerr(py, e.into()))?;
        let multi = Arc::new(mercador_core::k2k::MultiCloud::new(Arc::new(session)));
        *guard = Some((pid(), multi.clone()));
        Ok(multi)
    }

    /// The home session of this process.
    pub(crate) fn session(&self, py: Python<'_>) -> PyResult<Arc<Session>> {
        Ok(self.multi(py)?.home().clone())
    }
}

/// Settings from a Python dict: the `auth` sub-dict's keys and the top-level
/// ones alike (clouds.yaml's shape, or a flat dict); values as strings.
fn settings_from_dict(py: Python<'_>, dict: &Bound<'_, PyDict>, into: &mut CloudSettings) -> PyResult<()> {
    for (key, value) in dict.iter() {
        let key: String = key.extract()?;
        if key == "auth" {
            let inner = value.cast::<PyDict>().map_err(|_| crate::errors::invalid(py, "auth: expected a dict"))?;
            settings_from_dict(py, inner, into)?;
            continue;
        }
        if value.is_none() {
            continue;
        }
        let text: String = if let Ok(b) = value.extract::<bool>() { b.to_string() } else { value.str()?.extract()? };
        if !mercador_core::keystone::config::KEYS.contains(&key.as_str()) {
            return Err(new_error(
                py,
                ErrorKind::Configuration,
                format!("unknown setting {key:?} (known: {})", mercador_core::keystone::config::KEYS.join(", ")),
                None,
                None,
                Vec::new(),
            ));
        }
        into.set(&key, text);
    }
    Ok(())
}

/// A cloud: a Keystone and credentials, from `clouds.yaml`, `OS_*` or a dict.
#[pyclass(frozen, module = "mercador._native")]
pub(crate) struct Cloud {
    pub(crate) home: Arc<Home>,
}

#[pymethods]
impl Cloud {
    /// A cloud of `clouds.yaml` (`OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`,
    /// `~/.config/openstack/`, `/etc/openstack/`; `secure.yaml` merged), or
    /// the `OS_*` variables when `cloud` is `None` and `OS_CLOUD` unset.
    #[staticmethod]
    #[pyo3(signature = (cloud=None, *, clouds_yaml=None, region_name=None, interface=None))]
    fn from_config(
        py: Python<'_>,
        cloud: Option<String>,
        clouds_yaml: Option<std::path::PathBuf>,
        region_name: Option<String>,
        interface: Option<String>,
    ) -> PyResult<Self> {
        let name = cloud.or_else(|| std::env::var("OS_CLOUD").ok()).filter(|c| !c.trim().is_empty());
        let mut settings = match &name {
            Some(name) => CloudSettings::from_clouds_yaml(name, clouds_yaml.as_deref()),
            None => Ok(CloudSettings::from_vars(|key| std::env::var(key).ok())),
        }
        .map_err(|e| to_pyerr(py, e.into()))?;
        let mut overrides = CloudSettings::new();
        if let Some(region) = region_name {
            overrides.set("region_name", region);
        }
        if let Some(interface) = interface {
            overrides.set("interface", interface);
        }
        settings.override_with(&overrides);
        let origin = if name.is_some() { "clouds.yaml" } else { "the OS_* environment" };
        let config = settings.into_config(origin).map_err(|e| to_pyerr(py, e.into()))?;
        Ok(Self { home: Arc::new(Home::new(config)) })
    }

    /// A cloud from a dict in `clouds.yaml`'s shape (`{"auth": {...},
    /// "region_name": ...}`) or flat (`auth_url`, `username`, `password`,
    /// `project_name`, `user_domain_name`, ..., `application_credential_id`,
    /// `token`, `region_name`, `interface`, `cacert`, `insecure`).
    #[staticmethod]
    fn from_auth(py: Python<'_>, auth: &Bound<'_, PyDict>) -> PyResult<Self> {
        let mut settings = CloudSettings::new();
        settings_from_dict(py, auth, &mut settings)?;
        let config = settings.into_config("the auth dict").map_err(|e| to_pyerr(py, e.into()))?;
        Ok(Self { home: Arc::new(Home::new(config)) })
    }

    /// The cloud's name in `clouds.yaml`, if it came from there.
    #[getter]
    fn name(&self) -> Option<String> {
        self.home.config.name.clone()
    }

    /// The Keystone (identity v3) URL.
    #[getter]
    fn auth_url(&self) -> String {
        self.home.config.auth_url.to_string()
    }

    /// The region preferred for catalog lookups.
    #[getter]
    fn region_name(&self) -> Option<String> {
        self.home.config.region_name.clone()
    }

    /// The interface preferred for catalog lookups.
    #[getter]
    fn interface(&self) -> &'static str {
        self.home.config.interface.as_str()
    }

    /// A valid token (cached until 60 s before it expires).
    fn token(&self, py: Python<'_>) -> PyResult<Token> {
        token_of(py, &self.home.session(py)?)
    }

    /// Drops the cached token: the next call logs in again.
    fn invalidate(&self, py: Python<'_>) -> PyResult<()> {
        self.home.session(py)?.clear();
        Ok(())
    }

    /// The URL of `service_type`'s endpoint in the token's catalog.
    #[pyo3(signature = (service_type, *, interface=None, region_name=None))]
    fn endpoint(
        &self,
        py: Python<'_>,
        service_type: &str,
        interface: Option<&str>,
        region_name: Option<String>,
    ) -> PyResult<String> {
        let token = self.token(py)?;
        let interface = interface.map(str::to_owned).unwrap_or_else(|| self.home.config.interface.as_str().into());
        let region = region_name.or_else(|| self.home.config.region_name.clone());
        endpoint_of(py, token.inner.catalog(), service_type, &interface, region)
    }

    /// The service providers in the token (`[{"id", "auth_url", "sp_url"}]`).
    fn service_providers(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let token = self.token(py)?;
        let value = serde_json::to_value(&token.inner.service_providers).unwrap_or(Value::Null);
        to_py(py, &value)
    }

    /// A K2K session on a service provider of this cloud, scoped to a
    /// project (by id, or by name in a domain given by name or id), a
    /// domain, or, when none is given, the project the federated user can
    /// reach (the one named as the home project, else the first).
    /// Sessions are cached per service provider and scope.
    #[pyo3(signature = (service_provider, *, project_id=None, project_name=None, project_domain_name=None,
                        project_domain_id=None, domain_id=None, domain_name=None))]
    #[allow(clippy::too_many_arguments)]
    fn k2k(
        &self,
        py: Python<'_>,
        service_provider: String,
        project_id: Option<String>,
        project_name: Option<String>,
        project_domain_name: Option<String>,
        project_domain_id: Option<String>,
        domain_id: Option<String>,
        domain_name: Option<String>,
    ) -> PyResult<ServiceProviderSession> {
        let scope =
            scope_of(py, project_id, project_name, project_domain_name, project_domain_id, domain_id, domain_name)?;
        let session =
            ServiceProviderSession { home: self.home.clone(), service_provider, scope, state: Mutex::new(None) };
        session.session(py)?; // the service provider is known, the scope found
        Ok(session)
    }

    /// The multi-cloud session: this cloud and every service provider in its token.
    fn multicloud(&self) -> MultiCloud {
        MultiCloud { home: self.home.clone() }
    }

    /// A client of a publisher's admin face (`url`: the service's root; else the catalog's).
    #[pyo3(signature = (url=None))]
    fn publisher_admin(&self, py: Python<'_>, url: Option<String>) -> PyResult<PublisherAdminClient> {
        PublisherAdminClient::connect(py, self.home.clone(), url)
    }

    /// A client of a publisher's partner face (with a partner's application credential).
    #[pyo3(signature = (url=None))]
    fn exchange(&self, py: Python<'_>, url: Option<String>) -> PyResult<ExchangeClient> {
        ExchangeClient::connect(py, self.home.clone(), url)
    }

    /// A client of the subscriber service.
    #[pyo3(signature = (url=None))]
    fn subscriber(&self, py: Python<'_>, url: Option<String>) -> PyResult<SubscriberClient> {
        SubscriberClient::connect(py, self.home.clone(), url)
    }

    fn __repr__(&self) -> String {
        let c = &self.home.config;
        format!(
            "Cloud(name={:?}, auth_url={:?}, scope={:?}, region_name={:?})",
            c.name.as_deref().unwrap_or(""),
            c.auth_url.as_str(),
            c.scope.to_string(),
            c.region_name.as_deref().unwrap_or("")
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn scope_of(
    py: Python<'_>,
    project_id: Option<String>,
    project_name: Option<String>,
    project_domain_name: Option<String>,
    project_domain_id: Option<String>,
    domain_id: Option<String>,
    domain_name: Option<String>,
) -> PyResult<Option<Scope>> {
    Ok(Some(match (project_id, project_name, domain_id, domain_name) {
        (Some(id), None, None, None) => Scope::project_id(id),
        (None, Some(name), None, None) => {
            let domain = match (project_domain_id, project_domain_name) {
                (Some(id), None) => DomainRef::Id(id),
                (None, Some(name)) => DomainRef::Name(name),
                _ => {
                    return Err(crate::errors::invalid(
                        py,
                        "project_name needs project_domain_name or project_domain_id (one of them)",
                    ));
                }
            };
            Scope::Project(NameOrId::Name { name, domain })
        }
        (None, None, Some(id), None) => Scope::Domain(DomainRef::Id(id)),
        (None, None, None, Some(name)) => Scope::Domain(DomainRef::Name(name)),
        (None, None, None, None) => return Ok(None),
        _ => {
            return Err(crate::errors::invalid(
                py,
                "give one scope: project_id, project_name (with its domain), domain_id or domain_name",
            ));
        }
    }))
}

fn endpoint_of(
    py: Python<'_>,
    catalog: &Catalog,
    service_type: &str,
    interface: &str,
    region: Option<String>,
) -> PyResult<String> {
    let interface: Interface = interface.parse().map_err(|e: mercador_core::Error| to_pyerr(py, e.into()))?;
    let mut filter = EndpointFilter::new(service_type).interfaces([interface]);
    filter.region = region;
    catalog.url(&filter).map(Url::to_string).map_err(|e| to_pyerr(py, e.into()))
}

/// A token of `session`: the cached one without leaving Python's thread
/// when valid, else a login with the GIL released.
fn token_of(py: Python<'_>, session: &Arc<Session>) -> PyResult<Token> {
    if let Some(token) = session.cached_token() {
        return Ok(Token { inner: token });
    }
    let session = session.clone();
    let token = block_on(py, async move { session.token().await })?;
    Ok(Token { inner: token })
}

/// A Keystone token. `repr` never shows its id; `id` does, for the
/// `X-Auth-Token` header.
#[pyclass(frozen, module = "mercador._native")]
pub(crate) struct Token {
    pub(crate) inner: Arc<CoreToken>,
}

#[pymethods]
impl Token {
    /// The token itself (a secret: send it, never log it).
    #[getter]
    fn id(&self) -> String {
        self.inner.secret().expose_secret().to_owned()
    }

    /// When it expires (ISO 8601, UTC).
    #[getter]
    fn expires_at(&self) -> String {
        self.inner.expires_at().to_rfc3339()
    }

    /// The user's id.
    #[getter]
    fn user_id(&self) -> String {
        self.inner.user.id.clone()
    }

    /// The user's name.
    #[getter]
    fn user_name(&self) -> Option<String> {
        self.inner.user.name.clone()
    }

    /// The project's id, when project-scoped.
    #[getter]
    fn project_id(&self) -> Option<String> {
        self.inner.project.as_ref().map(|p| p.id.clone())
    }

    /// The project's name, when project-scoped.
    #[getter]
    fn project_name(&self) -> Option<String> {
        self.inner.project.as_ref().and_then(|p| p.name.clone())
    }

    /// The project's domain id, when project-scoped.
    #[getter]
    fn project_domain_id(&self) -> Option<String> {
        self.inner.project.as_ref().and_then(|p| p.domain.as_ref()).map(|d| d.id.clone())
    }

    /// The domain's id, when domain-scoped.
    #[getter]
    fn domain_id(&self) -> Option<String> {
        self.inner.domain.as_ref().map(|d| d.id.clone())
    }

    /// The role names.
    #[getter]
    fn roles(&self) -> Vec<String> {
        self.inner.role_names().into_iter().map(str::to_owned).collect()
    }

    /// True for a federated (K2K) user.
    #[getter]
    fn is_federated(&self) -> bool {
        self.inner.is_federated()
    }

    /// The catalog: `[{"id", "type", "name", "endpoints": [{"id", "interface", "region_id", "url"}]}]`.
    #[getter]
    fn catalog(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_py(py, &serde_json::to_value(&self.inner.catalog().services).unwrap_or(Value::Null))
    }

    /// The token's body as Keystone sent it (`{"token": {...}}`, without the id), e.g.
    /// for keystoneauth1's `AccessInfoV3`.
    fn body(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let mut info = serde_json::to_value(self.inner.info()).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut info {
            map.retain(|_, v| !v.is_null()); // Keystone leaves absent keys out (keystoneauth1 expects so)
        }
        to_py(py, &json!({ "token": info }))
    }

    /// The URL of `service_type`'s endpoint in this token's catalog.
    #[pyo3(signature = (service_type, *, interface="public", region_name=None))]
    fn endpoint(
        &self,
        py: Python<'_>,
        service_type: &str,
        interface: &str,
        region_name: Option<String>,
    ) -> PyResult<String> {
        endpoint_of(py, self.inner.catalog(), service_type, interface, region_name)
    }

    fn __repr__(&self) -> String {
        let scope = match (&self.inner.project, &self.inner.domain) {
            (Some(p), _) => format!("project={:?}", p.name.as_deref().unwrap_or(&p.id)),
            (None, Some(d)) => format!("domain={:?}", d.name.as_deref().unwrap_or(&d.id)),
            _ => "unscoped".to_owned(),
        };
        format!(
            "Token(user={:?}, {scope}, roles={:?}, expires_at={:?})",
            self.inner.user.name.as_deref().unwrap_or(&self.inner.user.id),
            self.inner.role_names(),
            self.inner.expires_at().to_rfc3339()
        )
    }
}

/// A K2K session on one service provider of a home cloud.
#[pyclass(frozen, module = "mercador._native")]
pub(crate) struct ServiceProviderSession {
    home: Arc<Home>,
    service_provider: String,
    scope: Option<Scope>,
    state: Mutex<Option<(u32, Arc<Session>)>>,
}

impl ServiceProviderSession {
    fn session(&self, py: Python<'_>) -> PyResult<Arc<Session>> {
        {
            let guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((owner, session)) = guard.as_ref() {
                if *owner == pid() {
                    return Ok(session.clone());
                }
            }
        }
        let multi = self.home.multi(py)?;
        let sp = self.service_provider.clone();
        let scope = self.scope.clone();
        let session = block_on(py, async move {
            let scope = match scope {
                Some(scope) => scope,
                None => multi.default_scope(&sp).await?,
            };
            multi.session(&sp, scope).await
        })?;
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some((pid(), session.clone()));
        Ok(session)
    }
}

#[pymethods]
impl ServiceProviderSession {
    /// The service provider's id on the home cloud.
    #[getter]
    fn service_provider(&self) -> String {
        self.service_provider.clone()
    }

    /// The service provider's Keystone (identity v3) URL.
    #[getter]
    fn auth_url(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.session(py)?.auth_url().to_string())
    }

    /// A token of the service provider's Keystone in this session's scope
    /// (cached; a new one by K2K when needed).
    fn token(&self, py: Python<'_>) -> PyResult<Token> {
        token_of(py, &self.session(py)?)
    }

    /// Drops the cached scoped token (the federated login stays cached).
    fn invalidate(&self, py: Python<'_>) -> PyResult<()> {
        self.session(py)?.clear();
        Ok(())
    }

    /// The URL of `service_type`'s endpoint in the token's catalog.
    #[pyo3(signature = (service_type, *, interface="public", region_name=None))]
    fn endpoint(
        &self,
        py: Python<'_>,
        service_type: &str,
        interface: &str,
        region_name: Option<String>,
    ) -> PyResult<String> {
        let token = self.token(py)?;
        endpoint_of(py, token.inner.catalog(), service_type, interface, region_name)
    }

    /// The projects the federated user can reach there (`[{"id", "name", "domain_id", ...}]`).
    fn projects(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let multi = self.home.multi(py)?;
        let sp = self.service_provider.clone();
        let projects = block_on(py, async move { multi.k2k(&sp).await?.projects().await })?;
        to_py(py, &serde_json::to_value(&projects).unwrap_or(Value::Null))
    }

    fn __repr__(&self) -> String {
        let scope = self.scope.as_ref().map_or_else(|| "default".to_owned(), ToString::to_string);
        format!("ServiceProviderSession(service_provider={:?}, scope={scope:?})", self.service_provider)
    }
}

fn cloud_results<T>(py: Python<'_>, results: Vec<CloudResult<T>>, value: impl Fn(&T) -> Value) -> PyResult<Py<PyAny>> {
    let list = PyList::empty(py);
    for result in results {
        let dict = PyDict::new(py);
        let cloud = match &result.cloud {
            CloudId::Home => "home".to_owned(),
            CloudId::ServiceProvider(id) => id.clone(),
        };
        dict.set_item("cloud", cloud)?;
        dict.set_item("keystone", result.keystone.as_ref().map(Url::to_string))?;
        dict.set_item("elapsed", result.elapsed.as_secs_f64())?;
        match &result.result {
            Ok(v) => {
                dict.set_item("result", to_py(py, &value(v))?)?;
                dict.set_item("error", py.None())?;
            }
            Err(e) => {
                dict.set_item("result", py.None())?;
                let err = to_pyerr(py, CoreError::Keystone(clone_error(e)));
                dict.set_item("error", err.value(py))?;
            }
        }
        list.append(dict)?;
    }
    Ok(list.into_any().unbind())
}

/// Core errors are not `Clone`: the same kind and message.
fn clone_error(e: &mercador_core::Error) -> mercador_core::Error {
    mercador_core::Error::Federation { kind: e.kind(), message: e.to_string() }
}

/// The home cloud and every service provider in its token, asked at once.
#[pyclass(frozen, module = "mercador._native")]
pub(crate) struct MultiCloud {
    home: Arc<Home>,
}

#[pymethods]
impl MultiCloud {
    /// The catalogs of every cloud: `[{"cloud", "keystone", "elapsed", "result", "error"}]`,
    /// `result` a catalog or `error` a `MercadorError` instance.
    fn catalogs(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let multi = self.home.multi(py)?;
        let results = block_on(py, async move { multi.catalogs().await })?;
        cloud_results(py, results, |c: &Catalog| serde_json::to_value(&c.services).unwrap_or(Value::Null))
    }

    /// The projects the user reaches on every cloud, in the same shape.
    fn projects(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let multi = self.home.multi(py)?;
        let results = block_on(py, async move { multi.projects().await })?;
        cloud_results(py, results, |p| serde_json::to_value(p).unwrap_or(Value::Null))
    }

    /// The service providers of the home token.
    fn service_providers(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let multi = self.home.multi(py)?;
        let sps = block_on(py, async move { multi.service_providers().await })?;
        to_py(py, &serde_json::to_value(&sps).unwrap_or(Value::Null))
    }

    fn __repr__(&self) -> String {
        format!("MultiCloud(home={:?})", self.home.config.auth_url.as_str())
    }
}

/// Benchmark support: `n` fresh K2K tokens made entirely in Rust (for each,
/// a new home session from `auth`, its login, then K2K to `service_provider`
/// scoped to `project_id`), with the GIL released; the seconds each took.
/// What the Python API adds is the difference with the same done from Python.
#[pyfunction]
pub(crate) fn _bench_fresh_k2k(
    py: Python<'_>,
    auth: &Bound<'_, PyDict>,
    service_provider: String,
    project_id: String,
    n: usize,
) -> PyResult<Vec<f64>> {
    let mut settings = CloudSettings::new();
    settings_from_dict(py, auth, &mut settings)?;
    let config = settings.into_config("the auth dict").map_err(|e| to_pyerr(py, e.into()))?;
    block_on(py, async move {
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let started = std::time::Instant::now();
            let multi = mercador_core::k2k::MultiCloud::new(Arc::new(config.session()?));
            let session = multi.session(&service_provider, Scope::project_id(project_id.clone())).await?;
            session.token().await?;
            times.push(started.elapsed().as_secs_f64());
        }
        Ok::<_, mercador_core::Error>(times)
    })
}

/// Benchmark support: `n` reads of a cached token in Rust (what
/// `Token`-returning calls cost before Python's share); seconds in all.
#[pyfunction]
pub(crate) fn _bench_cached_token(py: Python<'_>, session: &ServiceProviderSession, n: usize) -> PyResult<f64> {
    let session = session.session(py)?;
    session.cached_token().ok_or_else(|| crate::errors::invalid(py, "no cached token: call token() first"))?;
    let started = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(session.cached_token());
    }
    Ok(started.elapsed().as_secs_f64())
}

//! A session: one [`AuthMethod`], one scope, and the cached token.
//!
//! The token is re-used until it nears expiry (a margin, 60 s by default).
//! Concurrent callers that find no valid token wait for one authentication
//! (single flight); when a request is refused with 401, the token that was
//! refused is dropped (only if it is still the cached one, so concurrent 401s
//! lead to one re-authentication) and the request is retried once.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::auth::{AuthMethod, Scope, join};
use super::catalog::{EndpointFilter, Interface};
use super::error::{ErrorKind, Result};
use super::http::{HttpClient, HttpConfig, Request, Response};
use super::token::Token;

/// Default validity margin: a cached token is re-used while it stays valid for
/// at least this long.
pub const DEFAULT_EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// An authenticated session on one Keystone.
#[derive(Debug)]
pub struct Session {
    http: HttpClient,
    auth: Arc<dyn AuthMethod>,
    scope: Scope,
    margin: Duration,
    interface: Interface,
    region: Option<String>,
    cached: RwLock<Option<Arc<Token>>>,
    refresh: tokio::sync::Mutex<()>,
}

impl Session {
    /// A session with default transport settings.
    pub fn new(auth: Arc<dyn AuthMethod>, scope: Scope) -> Result<Self> {
        Ok(Self::with_http(HttpClient::new(&HttpConfig::default())?, auth, scope))
    }

    /// A session on a given HTTP client (clients can be shared between sessions).
    pub fn with_http(http: HttpClient, auth: Arc<dyn AuthMethod>, scope: Scope) -> Self {
        Self {
            http,
            auth,
            scope,
            margin: DEFAULT_EXPIRY_MARGIN,
            interface: Interface::Public,
            region: None,
            cached: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// Sets the validity margin.
    pub fn expiry_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// Sets the interface and region used for catalog lookups ([`Session::endpoint`]).
    pub fn endpoint_preference(mut self, interface: Interface, region: Option<String>) -> Self {
        self.interface = interface;
        self.region = region;
        self
    }

    /// The HTTP client.
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The identity v3 endpoint of this session.
    pub fn auth_url(&self) -> &Url {
        self.auth.auth_url()
    }

    /// The scope requested.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The authentication method.
    pub fn auth_method(&self) -> &Arc<dyn AuthMethod> {
        &self.auth
    }

    fn cached_valid(&self) -> Option<Arc<Token>> {
        let guard = self.cached.read().unwrap_or_else(|e| e.into_inner());
        guard.as_ref().filter(|t| t.valid_for(self.margin)).cloned()
    }

    /// The cached token if it is still valid (with the margin), without
    /// waiting or sending anything: what a synchronous caller (the Python
    /// bindings) tries before entering the runtime.
    pub fn cached_token(&self) -> Option<Arc<Token>> {
        self.cached_valid()
    }

    /// A valid token: the cached one, or a new one (one authentication at a
    /// time, however many callers wait).
    pub async fn token(&self) -> Result<Arc<Token>> {
        if let Some(token) = self.cached_valid() {
            return Ok(token);
        }
        let _flight = self.refresh.lock().await;
        if let Some(token) = self.cached_valid() {
            return Ok(token);
        }
        tracing::debug!(auth_url = %self.auth.auth_url(), scope = %self.scope, "authenticating");
        let token = Arc::new(self.auth.authenticate(&self.http, &self.scope).await?);
        *self.cached.write().unwrap_or_else(|e| e.into_inner()) = Some(token.clone());
        Ok(token)
    }

    /// Drops `token` from the cache if it is still the cached one.
    pub fn invalidate(&self, token: &Token) {
        let mut guard = self.cached.write().unwrap_or_else(|e| e.into_inner());
        if guard.as_ref().is_some_and(|t| t.same_secret(token.secret())) {
            *guard = None;
        }
    }

    /// Drops the cached token whatever it is.
    pub fn clear(&self) {
        *self.cached.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The URL of the endpoint of `service_type` in the token's catalog, with
    /// the session's interface and region preference.
    pub async fn endpoint(&self, service_type: &str) -> Result<Url> {
        let token = self.token().await?;
        let mut filter = EndpointFilter::new(service_type).interfaces([self.interface]);
        filter.region = self.region.clone();
        token.catalog().url(&filter).cloned()
    }

    /// Sends a request built with the session's token (in a header or in the
    /// body); on 401 re-authenticates once and retries. Errors never show the
    /// token, even where Keystone's message repeats it.
    pub(crate) async fn send(&self, make: impl Fn(&SecretString) -> Request<'_>) -> Result<Response> {
        let token = self.token().await?;
        match self.http.send(make(token.secret())).await {
            Err(e) if e.kind() == ErrorKind::AuthenticationFailed => {
                tracing::debug!("token refused (401); re-authenticating once");
                self.invalidate(&token);
                let token = self.token().await?;
                self.http.send(make(token.secret())).await.map_err(|e| e.redact(&[token.secret().expose_secret()]))
            }
            other => other.map_err(|e| e.redact(&[token.secret().expose_secret()])),
        }
    }

    /// Sends `method` to `path` under the session's identity endpoint.
    pub(crate) async fn identity(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<serde_json::Value>,
    ) -> Result<Response> {
        let mut url = join(self.auth_url(), path)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        self.send(|token| {
            let mut req = Request::new(method.clone(), url.clone()).token(token);
            if let Some(body) = &body {
                req = req.json(body.clone());
            }
            req
        })
        .await
    }
}

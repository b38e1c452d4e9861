//! The HTTP transport: one `reqwest` client (rustls, no OpenSSL) with
//! tracing per request and Keystone error mapping.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::error::{Error, Result};

/// Transport settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Extra CA certificate (PEM) to trust, as `cacert` in `clouds.yaml`.
    pub ca_certificate: Option<PathBuf>,
    /// Skip certificate verification (`verify: false`). For test clouds only.
    pub insecure: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            ca_certificate: None,
            insecure: false,
        }
    }
}

/// A cheap-to-clone HTTP client shared by sessions.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
}

pub(crate) const SUBJECT_TOKEN: &str = "x-subject-token";
const AUTH_TOKEN: &str = "x-auth-token";

/// Idle pooled connections are dropped after this (below Apache's default
/// `KeepAliveTimeout` of 5 s).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(3);

impl HttpClient {
    /// Builds a client. Fails with [`crate::ErrorKind::Configuration`] when the CA
    /// certificate cannot be read.
    pub fn new(config: &HttpConfig) -> Result<Self> {
        // reqwest is built with `rustls-no-provider`: pick ring once per process.
        // An error only means another part of the process installed a provider first.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("mercador/", env!("CARGO_PKG_VERSION")))
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            // Keystone usually sits behind Apache, which closes idle
            // keep-alive connections after 5 s (KeepAliveTimeout). A request
            // sent on a pooled connection at that moment fails with
            // "connection closed before message completed"; never reuse a
            // connection that has been idle that long.
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .tls_danger_accept_invalid_certs(config.insecure);
        if let Some(path) = &config.ca_certificate {
            let pem = std::fs::read(path)
                .map_err(|e| Error::Configuration(format!("cannot read the CA certificate {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                Error::Configuration(format!("{} is not a PEM certificate bundle: {e}", path.display()))
            })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let inner = builder.build().map_err(|e| Error::Configuration(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { inner })
    }

    /// The underlying `reqwest` client.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner
    }

    /// Sends a request (redirects are never followed) and returns the response
    /// if its status is 2xx, or whatever it is with `accept_errors`; else the
    /// mapped [`Error`].
    pub(crate) async fn send(&self, request: Request<'_>) -> Result<Response> {
        use tracing::Instrument as _;
        let span = tracing::debug_span!("http", method = %request.method, url = %redacted_url(&request.url));
        self.send_inner(request).instrument(span).await
    }

    async fn send_inner(&self, request: Request<'_>) -> Result<Response> {
        let Request { method, url, token, subject_token, body, headers, accept_errors } = request;
        let mut builder = self.inner.request(method.clone(), url.clone());
        if let Some(token) = token {
            builder = builder.header(AUTH_TOKEN, sensitive(token)?);
        }
        if let Some(subject) = subject_token {
            builder = builder.header(SUBJECT_TOKEN, subject);
        }
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        match body {
            Body::None => {}
            Body::Json(value) => builder = builder.json(&value),
            Body::Raw { content_type, bytes } => {
                builder = builder.header(reqwest::header::CONTENT_TYPE, content_type).body(bytes);
            }
        }
        let started = Instant::now();
        let response = builder.send().await.map_err(|e| Error::transport(method.clone(), url.clone(), e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| Error::transport(method.clone(), url.clone(), e))?;
        tracing::debug!(status = status.as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "response");
        if accept_errors || status.is_success() {
            Ok(Response { method, url, status, headers, body: body.to_vec() })
        } else {
            Err(Error::from_response(method, url, status, &body))
        }
    }
}

pub(crate) fn sensitive(secret: &SecretString) -> Result<HeaderValue> {
    let mut value = HeaderValue::from_str(secret.expose_secret())
        .map_err(|_| Error::InvalidInput("the token contains characters not allowed in an HTTP header".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// The URL without its query string, for logs.
fn redacted_url(url: &Url) -> String {
    let mut u = url.clone();
    if u.query().is_some() {
        u.set_query(Some("..."));
    }
    u.set_password(None).ok();
    u.to_string()
}

/// A request body.
#[derive(Debug, Default)]
pub(crate) enum Body {
    #[default]
    None,
    Json(serde_json::Value),
    Raw {
        content_type: &'static str,
        bytes: Vec<u8>,
    },
}

/// One request.
pub(crate) struct Request<'a> {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) token: Option<&'a SecretString>,
    pub(crate) subject_token: Option<HeaderValue>,
    pub(crate) body: Body,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) accept_errors: bool,
}

impl<'a> Request<'a> {
    pub(crate) fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            token: None,
            subject_token: None,
            body: Body::None,
            headers: Vec::new(),
            accept_errors: false,
        }
    }

    pub(crate) fn token(mut self, token: &'a SecretString) -> Self {
        self.token = Some(token);
        self
    }

    /// `X-Subject-Token`, built with [`sensitive`].
    pub(crate) fn subject_token(mut self, token: HeaderValue) -> Self {
        self.subject_token = Some(token);
        self
    }

    pub(crate) fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    pub(crate) fn raw(mut self, content_type: &'static str, bytes: Vec<u8>) -> Self {
        self.body = Body::Raw { content_type, bytes };
        self
    }

    pub(crate) fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Returns every response, whatever its status, for the caller to interpret.
    pub(crate) fn accept_errors(mut self) -> Self {
        self.accept_errors = true;
        self
    }
}

/// A received response (2xx).
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// Decodes the JSON body.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::invalid_response(self.method.clone(), self.url.clone(), format!("cannot decode the JSON body: {e}"))
        })
    }

    /// Decodes `{"<key>": T}`.
    pub(crate) fn json_field<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T> {
        let mut value: serde_json::Value = self.json()?;
        let inner = value.get_mut(key).map(serde_json::Value::take).ok_or_else(|| {
            Error::invalid_response(self.method.clone(), self.url.clone(), format!("the body has no {key:?} field"))
        })?;
        serde_json::from_value(inner).map_err(|e| {
            Error::invalid_response(self.method.clone(), self.url.clone(), format!("cannot decode {key:?}: {e}"))
        })
    }

    /// The value of a header as a string.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

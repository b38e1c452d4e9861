//! HTTP clients of the Mercador services' faces: the publisher's admin API
//! (`/v1/admin`, catalog type `mercador-publisher`), its partner API
//! (`/v1/exchange`, `mercador-exchange`) and the subscriber service's API
//! (`/v1`, `mercador-subscriber`).
//!
//! One implementation for the `mercador` CLI, the Python bindings and the C
//! ABI. The base URL is given (the service's root or the face's URL) or
//! looked up in the session's catalog with its region and interface. Every
//! request sends the session's token in `X-Auth-Token` (a sensitive header);
//! on a 401 the token is dropped and the request sent once more with a new
//! one. Answers are the services' JSON documents (their OpenAPI documents
//! describe them), as [`serde_json::Value`]; errors of the services' shape
//! `{"error": {code, title, message, status, errors?, request_id?}}` become
//! [`ClientError::Service`] with the core's [`ErrorKind`] of the status and
//! the field errors.
//!
//! ```no_run
//! # async fn f(session: std::sync::Arc<mercador_core::keystone::Session>) -> Result<(), mercador_core::client::ClientError> {
//! use mercador_core::client::PublisherAdminClient;
//! let admin = PublisherAdminClient::connect(session, None).await?;
//! for vregion in admin.list_vregions().await? {
//!     println!("{}", vregion["name"]);
//! }
//! # Ok(()) }
//! ```

mod faces;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

pub use faces::{ExchangeClient, NewPublisher, PublisherAdminClient, SubscribeRequest, SubscriberClient};

use crate::keystone::{Error as KeystoneError, ErrorKind, HttpClient, HttpConfig, Session};
use crate::publisher::registration::{ADMIN_SERVICE_TYPE, EXCHANGE_SERVICE_TYPE};

/// The catalog service type of the subscriber service (on Keystone A).
pub const SUBSCRIBER_SERVICE_TYPE: &str = "mercador-subscriber";

/// A face of a Mercador service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Face {
    /// The publisher's admin API (`/v1/admin`, `mercador-publisher`).
    PublisherAdmin,
    /// The publisher's partner API (`/v1/exchange`, `mercador-exchange`).
    Exchange,
    /// The subscriber service's API for Keystone A's admins (`/v1`,
    /// `mercador-subscriber`).
    Subscriber,
}

impl Face {
    /// The catalog service type.
    pub fn service_type(self) -> &'static str {
        match self {
            Self::PublisherAdmin => ADMIN_SERVICE_TYPE,
            Self::Exchange => EXCHANGE_SERVICE_TYPE,
            Self::Subscriber => SUBSCRIBER_SERVICE_TYPE,
        }
    }

    /// The path under the service's root.
    pub fn path(self) -> &'static str {
        match self {
            Self::PublisherAdmin => "v1/admin",
            Self::Exchange => "v1/exchange",
            Self::Subscriber => "v1",
        }
    }
}

/// One field a service refused, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field's path, e.g. `quotas[0].resource`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// An error of a service client. Never carries a token, password or secret:
/// requests' bodies are never quoted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The service answered an error status.
    #[error("{0}")]
    Service(Box<ServiceError>),
    /// The service could not be reached, or its answer not read.
    #[error("{method} {url}: {reason} ({})", if *.kind == ErrorKind::Timeout { "timed out" } else { "is the service running and the URL right?" })]
    Transport {
        /// [`ErrorKind::Unavailable`], [`ErrorKind::Timeout`] or [`ErrorKind::Tls`].
        kind: ErrorKind,
        /// Request method.
        method: Method,
        /// Request URL.
        url: String,
        /// What failed, from the HTTP library's error chain.
        reason: String,
    },
    /// A 2xx answer that is not JSON.
    #[error("{method} {url}: HTTP {status}: the answer is not JSON ({detail})")]
    InvalidResponse {
        /// Request method.
        method: Method,
        /// Request URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The parser's complaint.
        detail: String,
    },
    /// An argument was refused before anything was sent (a URL, a path).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Keystone (authentication, catalog lookup) failed.
    #[error(transparent)]
    Keystone(#[from] KeystoneError),
    /// The face was not found in the catalog.
    #[error(
        "cannot find the Mercador service (type {service_type}) in the catalog; is it running and registered, \
         and are the region and interface right? Or give its URL: {source}"
    )]
    NotInCatalog {
        /// The face's service type.
        service_type: &'static str,
        /// The catalog lookup's error.
        #[source]
        source: KeystoneError,
    },
}

/// An error answer of a service.
#[derive(Debug, Clone)]
pub struct ServiceError {
    /// The category of the status.
    pub kind: ErrorKind,
    /// Request method.
    pub method: Method,
    /// Request URL.
    pub url: String,
    /// HTTP status.
    pub status: u16,
    /// The service's error code (`error.code`), empty when the body was not the services' shape.
    pub code: String,
    /// Its title.
    pub title: String,
    /// Its message (or the body's start).
    pub message: String,
    /// The fields it refused.
    pub errors: Vec<FieldError>,
    /// Its request id, for its logs.
    pub request_id: Option<String>,
    /// For an outage (503): the dependency that fails (`keystone_a`,
    /// `keystone_b`, `shibboleth_sp`, `publisher`, `database`; see
    /// [`crate::outage::Dependency`]).
    pub dependency: Option<String>,
    /// For an outage: how it fails (`unreachable`, `refusing`, `too_slow`).
    pub outage: Option<String>,
    /// The `Retry-After` header's seconds.
    pub retry_after: Option<u32>,
    /// An operation the outage interrupted, which continues in the background.
    pub operation: Option<InterruptedOperation>,
}

/// An operation an outage interrupted (the services' `error.operation`):
/// it continues in the background; asking again is harmless.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterruptedOperation {
    /// `subscribe`, `cancel`.
    pub name: String,
    /// The binding's alias (the subscriber's answers; empty in the publisher's).
    #[serde(default)]
    pub binding: String,
    /// The subscription's id (the publisher's answers).
    #[serde(default)]
    pub subscription: Option<String>,
    /// Its state (`provisioning`, `cancelling`).
    pub state: String,
    /// The step it stopped at.
    pub step: String,
    /// How to follow it.
    pub follow: String,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { method, url, status, code, title, message, errors, request_id, .. } = self;
        f.write_str(&service_message(method, url, *status, code, title, message, errors, request_id))
    }
}

#[allow(clippy::too_many_arguments)]
fn service_message(
    method: &Method,
    url: &str,
    status: u16,
    code: &str,
    title: &str,
    message: &str,
    errors: &[FieldError],
    request_id: &Option<String>,
) -> String {
    let mut out = format!("{method} {url}: HTTP {status}");
    if !code.is_empty() {
        out.push(' ');
        out.push_str(code);
        if !title.is_empty() {
            out.push_str(&format!(" ({title})"));
        }
    }
    out.push_str(": ");
    out.push_str(message);
    for field in errors {
        out.push_str(&format!("\n  - {}: {}", field.field, field.message));
    }
    if let Some(id) = request_id {
        out.push_str(&format!("\n  (request id {id})"));
    }
    out
}

impl ClientError {
    /// The stable category (the Python exception class, the C error code).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Service(e) => e.kind,
            Self::Transport { kind, .. } => *kind,
            Self::InvalidResponse { .. } => ErrorKind::InvalidResponse,
            Self::InvalidInput(_) => ErrorKind::InvalidInput,
            Self::Keystone(e) => e.kind(),
            Self::NotInCatalog { .. } => ErrorKind::NotFound,
        }
    }

    /// The HTTP status answered, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Service(e) => Some(e.status),
            Self::InvalidResponse { status, .. } => Some(*status),
            Self::Keystone(e) => e.status(),
            _ => None,
        }
    }

    /// The service's error code (`error.code`), when it answered one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Service(e) if !e.code.is_empty() => Some(&e.code),
            _ => None,
        }
    }

    /// The operation an outage interrupted, when the service said one
    /// continues in the background.
    pub fn interrupted(&self) -> Option<&InterruptedOperation> {
        match self {
            Self::Service(e) => e.operation.as_ref(),
            _ => None,
        }
    }

    /// The dependency whose outage the service reported (`database`...).
    pub fn dependency(&self) -> Option<&str> {
        match self {
            Self::Service(e) => e.dependency.as_deref(),
            _ => None,
        }
    }

    /// The fields the service refused.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Service(e) => &e.errors,
            _ => &[],
        }
    }
}

/// `Result` of the service clients.
pub type ClientResult<T> = Result<T, ClientError>;

/// The error body of the Mercador services.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    code: String,
    #[serde(default)]
    title: String,
    message: String,
    #[serde(default)]
    errors: Vec<FieldError>,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    dependency: Option<String>,
    #[serde(default)]
    outage: Option<String>,
    #[serde(default)]
    operation: Option<InterruptedOperation>,
}

/// A client of one face: the transport every typed client uses.
#[derive(Clone)]
pub struct ApiClient {
    session: Arc<Session>,
    face: Face,
    base: Url,
    http: reqwest::Client,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient").field("face", &self.face).field("base", &self.base.as_str()).finish()
    }
}

impl ApiClient {
    /// Finds the face (`url`: the service's root or the face's own URL; else
    /// the session's catalog) and builds the client. Only a catalog lookup
    /// sends a request (a token).
    pub async fn connect(session: Arc<Session>, face: Face, url: Option<&Url>) -> ClientResult<Self> {
        let base = match url {
            Some(url) => face_url(face, url)?,
            None => {
                let mut found = session.endpoint(face.service_type()).await.map_err(|e| {
                    if e.kind() == ErrorKind::NotFound {
                        ClientError::NotInCatalog { service_type: face.service_type(), source: e }
                    } else {
                        ClientError::Keystone(e)
                    }
                })?;
                if !found.path().ends_with('/') {
                    found.set_path(&format!("{}/", found.path()));
                }
                found
            }
        };
        // Through mercador-core's client: it installs the TLS provider reqwest needs.
        let config = HttpConfig { timeout: Duration::from_secs(300), ..HttpConfig::default() };
        let http = HttpClient::new(&config)?.reqwest().clone();
        Ok(Self { session, face, base, http })
    }

    /// The face.
    pub fn face(&self) -> Face {
        self.face
    }

    /// The face's base URL (ends with `/`).
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The session whose token is sent.
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// `GET path?query`.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> ClientResult<Value> {
        self.send(Method::GET, path, query, None).await
    }

    /// `POST path?query` with an optional JSON body.
    pub async fn post(&self, path: &str, query: &[(&str, String)], body: Option<&Value>) -> ClientResult<Value> {
        self.send(Method::POST, path, query, body).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> ClientResult<Value> {
        self.send(Method::PUT, path, &[], Some(body)).await
    }

    /// `DELETE path?query`.
    pub async fn delete(&self, path: &str, query: &[(&str, String)]) -> ClientResult<Value> {
        self.send(Method::DELETE, path, query, None).await
    }

    fn url(&self, path: &str) -> ClientResult<Url> {
        self.base.join(path.trim_start_matches('/')).map_err(|e| ClientError::InvalidInput(format!("{path}: {e}")))
    }

    /// Sends one request; on 401 re-authenticates once (the token may have
    /// been revoked) and retries.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> ClientResult<Value> {
        let url = self.url(path)?;
        let mut retried = false;
        loop {
            let token = self.session.token().await?;
            let mut request = self.http.request(method.clone(), url.clone()).query(query);
            let mut header = reqwest::header::HeaderValue::from_str(token.secret().expose_secret())
                .map_err(|_| ClientError::InvalidInput("the token is not a valid HTTP header value".into()))?;
            header.set_sensitive(true);
            request = request.header("X-Auth-Token", header);
            if let Some(body) = body {
                request = request.json(body);
            }
            let started = std::time::Instant::now();
            let response = request.send().await.map_err(|e| transport_error(&method, &url, e))?;
            let status = response.status().as_u16();
            tracing::debug!(%method, url = %url, status, elapsed_ms = started.elapsed().as_millis() as u64, face = ?self.face, "mercador service request");
            if status == 401 && !retried {
                retried = true;
                self.session.invalidate(&token);
                continue;
            }
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u32>().ok());
            let text = response.text().await.map_err(|e| transport_error(&method, &url, e))?;
            if (200..300).contains(&status) {
                if text.trim().is_empty() {
                    return Ok(Value::Null);
                }
                return serde_json::from_str(&text).map_err(|e| ClientError::InvalidResponse {
                    method: method.clone(),
                    url: url.to_string(),
                    status,
                    detail: e.to_string(),
                });
            }
            let mut e = service_error(&method, &url, status, &text);
            if let ClientError::Service(answer) = &mut e {
                answer.retry_after = retry_after;
            }
            return Err(e);
        }
    }
}

/// The face's URL from a service's root or the face's own URL.
fn face_url(face: Face, url: &Url) -> ClientResult<Url> {
    let root = url.as_str().trim_end_matches('/');
    let root = root.strip_suffix(&format!("/{}", face.path())).unwrap_or(root);
    Url::parse(&format!("{root}/{}/", face.path())).map_err(|e| ClientError::InvalidInput(format!("{url}: {e}")))
}

fn transport_error(method: &Method, url: &Url, e: reqwest::Error) -> ClientError {
    let timeout = e.is_timeout();
    let e = e.without_url(); // the error names it already
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    let lower = reason.to_ascii_lowercase();
    let kind = if timeout {
        ErrorKind::Timeout
    } else if lower.contains("certificate") || lower.contains("handshake") || lower.contains("invalid peer") {
        ErrorKind::Tls
    } else {
        ErrorKind::Unavailable
    };
    ClientError::Transport { kind, method: method.clone(), url: url.to_string(), reason }
}

/// The error of an error answer.
fn service_error(method: &Method, url: &Url, status: u16, text: &str) -> ClientError {
    let kind = reqwest::StatusCode::from_u16(status).map_or(ErrorKind::Unavailable, ErrorKind::from_status);
    let error = serde_json::from_str::<ErrorBody>(text).map(|b| b.error).unwrap_or_else(|_| ErrorDetail {
        code: String::new(),
        title: String::new(),
        message: text.chars().take(300).collect::<String>().trim().to_owned(),
        errors: Vec::new(),
        request_id: None,
        dependency: None,
        outage: None,
        operation: None,
    });
    let ErrorDetail { code, title, message, errors, request_id, dependency, outage, operation } = error;
    ClientError::Service(Box::new(ServiceError {
        kind,
        method: method.clone(),
        url: url.to_string(),
        status,
        code,
        title,
        message,
        errors,
        request_id,
        dependency,
        outage,
        retry_after: None,
        operation,
    }))
}

/// Percent-encodes one path segment (names and ids are plain, but never trust it).
pub fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn service_errors_name_fields_and_kinds() {
        let body = r#"{"error":{"code":"invalid_request","title":"Invalid request","status":400,
            "message":"invalid request","errors":[{"field":"region","message":"is empty"}],"request_id":"r1"}}"#;
        let url = Url::parse("http://x/v1/admin/vregions").unwrap();
        let e = service_error(&Method::POST, &url, 400, body);
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.status(), Some(400));
        assert_eq!(e.code(), Some("invalid_request"));
        let text = e.to_string();
        assert!(text.contains("HTTP 400 invalid_request (Invalid request): invalid request"), "{text}");
        assert!(text.contains("\n  - region: is empty"), "{text}");
        assert!(text.contains("(request id r1)"), "{text}");
        assert_eq!(e.field_errors(), &[FieldError { field: "region".into(), message: "is empty".into() }]);
        let e = service_error(&Method::GET, &url, 404, "not json");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().ends_with("HTTP 404: not json"), "{e}");
        assert_eq!(service_error(&Method::GET, &url, 409, "").kind(), ErrorKind::Conflict);
        assert_eq!(service_error(&Method::GET, &url, 503, "").kind(), ErrorKind::Unavailable);
        assert_eq!(service_error(&Method::GET, &url, 403, "").kind(), ErrorKind::Forbidden);
        assert_eq!(service_error(&Method::GET, &url, 401, "").kind(), ErrorKind::AuthenticationFailed);
    }

    #[test]
    fn outages_and_interrupted_operations() {
        let body = r#"{"error":{"code":"keystone_unavailable","title":"Keystone unavailable","status":503,
            "message":"Keystone B is too slow","dependency":"keystone_b","outage":"too_slow",
            "operation":{"name":"subscribe","binding":"lisbon-b","state":"provisioning","step":"remote_subscribe",
                         "continues_in_background":true,"follow":"mercador binding show lisbon-b"}}}"#;
        let url = Url::parse("http://x/v1/bindings").unwrap();
        let e = service_error(&Method::POST, &url, 503, body);
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(e.dependency(), Some("keystone_b"));
        let op = e.interrupted().unwrap();
        assert_eq!(
            (op.binding.as_str(), op.state.as_str(), op.step.as_str()),
            ("lisbon-b", "provisioning", "remote_subscribe")
        );
        assert!(service_error(&Method::GET, &url, 503, "").interrupted().is_none());
    }

    #[test]
    fn face_urls_from_roots_or_face_urls() {
        let root = Url::parse("http://b:8780").unwrap();
        assert_eq!(face_url(Face::PublisherAdmin, &root).unwrap().as_str(), "http://b:8780/v1/admin/");
        let own = Url::parse("http://b:8780/v1/exchange/").unwrap();
        assert_eq!(face_url(Face::Exchange, &own).unwrap().as_str(), "http://b:8780/v1/exchange/");
        assert_eq!(face_url(Face::Subscriber, &root).unwrap().as_str(), "http://b:8780/v1/");
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
    }
}

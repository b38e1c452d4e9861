//! HTTP client of a Mercador service face (the publisher's admin or exchange
//! API, the subscriber service's API).
//!
//! The base URL is `--url` (the service's root, e.g. `http://b:8780`; the
//! face's path, `/v1/admin`, `/v1/exchange` or `/v1`, is appended) or the
//! face's endpoint in the token's catalog (service types
//! `mercador-publisher`, `mercador-exchange` and `mercador-subscriber`, with
//! the cloud's region and interface). Every request sends the session's
//! token in `X-Auth-Token`. Errors of the service's JSON shape
//! `{"error": {code, title, message, status, errors?, request_id?}}` become
//! a [`CliError`] with the exit code of the status.

use std::sync::Arc;
use std::time::Duration;

use mercador_core::keystone::{HttpClient, HttpConfig, Session};
use mercador_core::publisher::registration::{ADMIN_SERVICE_TYPE, EXCHANGE_SERVICE_TYPE};
use mercador_server::subscriber::SERVICE_TYPE as SUBSCRIBER_SERVICE_TYPE;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::error::{CliError, CliResult, Kind};

/// A face of a Mercador service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Face {
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
    pub(crate) fn service_type(self) -> &'static str {
        match self {
            Self::PublisherAdmin => ADMIN_SERVICE_TYPE,
            Self::Exchange => EXCHANGE_SERVICE_TYPE,
            Self::Subscriber => SUBSCRIBER_SERVICE_TYPE,
        }
    }

    /// The path under the service's root.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Self::PublisherAdmin => "v1/admin",
            Self::Exchange => "v1/exchange",
            Self::Subscriber => "v1",
        }
    }
}

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
}

#[derive(Debug, Deserialize)]
struct FieldError {
    field: String,
    message: String,
}

/// A client of one face.
#[derive(Debug, Clone)]
pub(crate) struct ApiClient {
    session: Arc<Session>,
    base: Url,
    http: reqwest::Client,
}

impl ApiClient {
    /// Finds the face (`url` or the catalog) and builds the client.
    pub(crate) async fn connect(session: Arc<Session>, face: Face, url: Option<&Url>) -> CliResult<Self> {
        let base = match url {
            Some(url) => {
                let root = url.as_str().trim_end_matches('/');
                let root = root.strip_suffix(&format!("/{}", face.path())).unwrap_or(root);
                Url::parse(&format!("{root}/{}/", face.path()))
                    .map_err(|e| CliError::usage(format!("--url {url}: {e}")))?
            }
            None => {
                let mut found = session.endpoint(face.service_type()).await.map_err(|e| {
                    let mut e = CliError::from(e);
                    if e.kind == Kind::NotFound {
                        e = e.context(format!(
                            "cannot find the Mercador service (type {}) in the catalog; is it running and \
                             registered, and are --os-region-name/--os-interface right? Or pass --url",
                            face.service_type()
                        ));
                    }
                    e
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
        Ok(Self { session, base, http })
    }

    /// `GET path`.
    pub(crate) async fn get(&self, path: &str) -> CliResult<Value> {
        self.send(Method::GET, path, &[], None).await
    }

    /// `GET path?query`.
    pub(crate) async fn get_query(&self, path: &str, query: &[(&str, String)]) -> CliResult<Value> {
        self.send(Method::GET, path, query, None).await
    }

    /// `POST path` with an optional JSON body.
    pub(crate) async fn post(&self, path: &str, body: Option<&Value>) -> CliResult<Value> {
        self.send(Method::POST, path, &[], body).await
    }

    /// `POST path?query` without a body.
    pub(crate) async fn post_query(&self, path: &str, query: &[(&str, String)]) -> CliResult<Value> {
        self.send(Method::POST, path, query, None).await
    }

    /// `PUT path` with a JSON body.
    pub(crate) async fn put(&self, path: &str, body: &Value) -> CliResult<Value> {
        self.send(Method::PUT, path, &[], Some(body)).await
    }

    /// `DELETE path?query`.
    pub(crate) async fn delete(&self, path: &str, query: &[(&str, String)]) -> CliResult<Value> {
        self.send(Method::DELETE, path, query, None).await
    }

    fn url(&self, path: &str) -> CliResult<Url> {
        self.base.join(path.trim_start_matches('/')).map_err(|e| CliError::usage(format!("{path}: {e}")))
    }

    /// Sends one request; on 401 re-authenticates once (the token may have
    /// been revoked) and retries.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> CliResult<Value> {
        let url = self.url(path)?;
        let mut retried = false;
        loop {
            let token = self.session.token().await?;
            let mut request = self.http.request(method.clone(), url.clone()).query(query);
            let mut header = reqwest::header::HeaderValue::from_str(token.secret().expose_secret())
                .map_err(|_| CliError::new(Kind::Auth, "the token is not a valid HTTP header value"))?;
            header.set_sensitive(true);
            request = request.header("X-Auth-Token", header);
            if let Some(body) = body {
                request = request.json(body);
            }
            let what = format!("{method} {url}");
            let response = request.send().await.map_err(|e| transport_error(&what, e))?;
            let status = response.status().as_u16();
            if status == 401 && !retried {
                retried = true;
                self.session.invalidate(&token);
                continue;
            }
            let text = response.text().await.map_err(|e| transport_error(&what, e))?;
            if (200..300).contains(&status) {
                if text.trim().is_empty() {
                    return Ok(Value::Null);
                }
                return serde_json::from_str(&text)
                    .map_err(|e| CliError::generic(format!("{what}: HTTP {status}: the answer is not JSON ({e})")));
            }
            return Err(service_error(&what, status, &text));
        }
    }
}

fn transport_error(what: &str, e: reqwest::Error) -> CliError {
    let timeout = e.is_timeout();
    let e = e.without_url(); // `what` names it already
    let mut message = format!("{what}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    let hint = if timeout { " (timed out)" } else { " (is the service running and the URL right?)" };
    CliError::new(Kind::Unavailable, format!("{message}{hint}"))
}

/// The message and exit code of an error answer.
fn service_error(what: &str, status: u16, text: &str) -> CliError {
    let kind = Kind::from_status(status);
    match serde_json::from_str::<ErrorBody>(text) {
        Ok(ErrorBody { error }) => {
            let mut message = format!("{what}: HTTP {status} {}", error.code);
            if !error.title.is_empty() {
                message.push_str(&format!(" ({})", error.title));
            }
            message.push_str(&format!(": {}", error.message));
            for field in &error.errors {
                message.push_str(&format!("\n  - {}: {}", field.field, field.message));
            }
            if let Some(id) = error.request_id {
                message.push_str(&format!("\n  (request id {id})"));
            }
            CliError::new(kind, message)
        }
        Err(_) => {
            let excerpt: String = text.chars().take(300).collect();
            CliError::new(kind, format!("{what}: HTTP {status}: {}", excerpt.trim()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_name_fields_and_map_to_exit_codes() {
        let body = r#"{"error":{"code":"invalid_request","title":"Invalid request","status":400,
            "message":"invalid request","errors":[{"field":"region","message":"is empty"}],"request_id":"r1"}}"#;
        let e = service_error("POST http://x/v1/admin/vregions", 400, body);
        assert_eq!(e.kind, Kind::Usage);
        assert!(e.message.contains("HTTP 400 invalid_request (Invalid request): invalid request"), "{e}");
        assert!(e.message.contains("\n  - region: is empty"), "{e}");
        assert_eq!(service_error("GET x", 404, "not json").kind, Kind::NotFound);
        assert_eq!(service_error("GET x", 409, "").kind.code(), 4);
        assert_eq!(service_error("GET x", 503, "").kind.code(), 6);
        assert_eq!(service_error("GET x", 403, "").kind.code(), 5);
    }
}

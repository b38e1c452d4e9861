//! Errors of the Keystone client.
//!
//! Every error has a stable [`ErrorKind`] (what a caller branches on, what the
//! Python exception class and the C error code are derived from) and a message
//! that names the request, the endpoint, Keystone's own message and what to do.
//! No error ever carries a password, token or other secret.

use std::fmt;

use reqwest::{Method, StatusCode};
use url::Url;

use crate::outage::{Dependency, Outage, OutageKind};

/// Result alias of the Keystone client.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The stable category of an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Keystone refused the credentials or the token (HTTP 401).
    AuthenticationFailed,
    /// Authenticated, but not allowed to do this (HTTP 403).
    Forbidden,
    /// The object or endpoint does not exist (HTTP 404, or absent from the catalog).
    NotFound,
    /// The object already exists or is in a state that forbids the change (HTTP 409).
    Conflict,
    /// The request was refused as malformed (HTTP 400) or was refused before
    /// being sent because an argument is invalid.
    InvalidInput,
    /// Keystone could not be reached or answered 5xx/503.
    Unavailable,
    /// The request did not complete in time.
    Timeout,
    /// The TLS handshake failed (certificate not trusted, wrong host name...).
    Tls,
    /// Keystone answered something this client does not understand.
    InvalidResponse,
    /// The local configuration (clouds.yaml, `OS_*` variables) is incomplete or wrong.
    Configuration,
}

impl ErrorKind {
    /// A short stable identifier, e.g. `"not_found"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthenticationFailed => "authentication_failed",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::InvalidInput => "invalid_input",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Tls => "tls",
            Self::InvalidResponse => "invalid_response",
            Self::Configuration => "configuration",
        }
    }

    /// The kind an HTTP error status maps to.
    pub fn from_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => Self::AuthenticationFailed,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            409 => Self::Conflict,
            400 | 405 | 413 | 415 | 422 => Self::InvalidInput,
            408 | 504 => Self::Timeout,
            _ => Self::Unavailable,
        }
    }

    fn hint(self) -> &'static str {
        match self {
            Self::AuthenticationFailed => {
                "check the user name, password or application credential, their domain, \
                 and that the token has not expired"
            }
            Self::Forbidden => {
                "either the authenticated user lacks a role that allows this (use an admin or \
                 system-scoped credential), or the object's state forbids it (see Keystone's message)"
            }
            Self::NotFound => "check the id or name, and that it lives in the expected domain",
            Self::Conflict => "an object with this name or id already exists, or it is still in use",
            Self::InvalidInput => "fix the request fields Keystone names above",
            Self::Unavailable => "check that Keystone is running and reachable at this URL",
            Self::Timeout => "Keystone is too slow or unreachable; retry or raise the timeout",
            Self::Tls => "check the CA certificate (cacert) and the host name in the URL",
            Self::InvalidResponse => "this URL may not be a Keystone v3 endpoint",
            Self::Configuration => "fix the cloud configuration",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// An error of the Keystone client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Keystone answered with an error status.
    #[error("{method} {url}: HTTP {status}: {message} ({})", kind.hint())]
    Api {
        /// Stable category derived from the status.
        kind: ErrorKind,
        /// Request method.
        method: Method,
        /// Request URL (never carries secrets: the client sends them only in bodies and headers).
        url: String,
        /// HTTP status.
        status: u16,
        /// Keystone's own message (`error.message`), or the body's start.
        message: String,
    },
    /// The request could not be sent or its answer not received.
    #[error("{method} {url}: {reason} ({})", kind.hint())]
    Transport {
        /// [`ErrorKind::Unavailable`], [`ErrorKind::Timeout`] or [`ErrorKind::Tls`].
        kind: ErrorKind,
        /// Request method.
        method: Method,
        /// Request URL.
        url: String,
        /// What failed, from the HTTP library's error chain.
        reason: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// Keystone answered 2xx with a body this client cannot use.
    #[error("{method} {url}: unexpected response: {detail} ({})", ErrorKind::InvalidResponse.hint())]
    InvalidResponse {
        /// Request method.
        method: Method,
        /// Request URL.
        url: String,
        /// What is wrong with the response.
        detail: String,
    },
    /// A step of Keystone-to-Keystone federation failed (message says which
    /// and what to do).
    #[error("{message}")]
    Federation {
        /// Category.
        kind: ErrorKind,
        /// What failed, where, and what to do.
        message: String,
    },
    /// B's SAML service provider (Shibboleth: Apache with mod_shib, and
    /// shibd) is down during a K2K login: unreachable, failing (Apache
    /// answers that it cannot reach shibd) or too slow. Not a refusal of
    /// the assertion: retrying once the SP is back succeeds.
    /// [`Error::outage`] names it ([`Dependency::ShibbolethSp`]).
    #[error("{message}")]
    SamlServiceProvider {
        /// Category: [`ErrorKind::Unavailable`], [`ErrorKind::Timeout`] or [`ErrorKind::Tls`].
        kind: ErrorKind,
        /// How the SP fails.
        outage: OutageKind,
        /// What failed, where, and what to do.
        message: String,
    },
    /// An argument was refused before anything was sent.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Something was looked up locally (catalog entry, cloud name) and is absent.
    #[error("not found: {0}")]
    NotFound(String),
    /// The configuration is incomplete or wrong.
    #[error("configuration error: {0}")]
    Configuration(String),
    /// A convergent change kept being undone by concurrent writers (other
    /// replicas starting together); retrying later may succeed.
    #[error("{0} keeps changing (other replicas starting?); retry")]
    Contended(String),
}

impl Error {
    /// The stable category of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Api { kind, .. }
            | Self::Transport { kind, .. }
            | Self::Federation { kind, .. }
            | Self::SamlServiceProvider { kind, .. } => *kind,
            Self::InvalidResponse { .. } => ErrorKind::InvalidResponse,
            Self::InvalidInput(_) => ErrorKind::InvalidInput,
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::Configuration(_) => ErrorKind::Configuration,
            Self::Contended(_) => ErrorKind::Conflict,
        }
    }

    /// The HTTP status Keystone answered, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Replaces every occurrence of the given secrets in the message by
    /// `[REDACTED]`: Keystone echoes invalid values ("Value: ...") and unknown
    /// tokens ("Could not find token: ...") in its messages.
    pub(crate) fn redact(mut self, secrets: &[&str]) -> Self {
        let scrub = |text: &mut String| {
            for secret in secrets.iter().filter(|s| s.len() >= 4) {
                if text.contains(*secret) {
                    *text = text.replace(*secret, "[REDACTED]");
                }
            }
        };
        match &mut self {
            Self::Api { message, .. }
            | Self::Federation { message, .. }
            | Self::SamlServiceProvider { message, .. } => scrub(message),
            Self::Transport { reason, .. } => scrub(reason),
            Self::InvalidResponse { detail, .. } => scrub(detail),
            Self::InvalidInput(m) | Self::NotFound(m) | Self::Configuration(m) | Self::Contended(m) => scrub(m),
        }
        self
    }

    /// The outage this error names by itself: B's SAML service provider
    /// down during a K2K login ([`Error::SamlServiceProvider`]), else
    /// `None`. Which Keystone an unreachable, failing or slow Keystone is
    /// depends on whom the caller asked: [`Outage::of_keystone`] classifies
    /// those (and returns this outage first).
    pub fn outage(&self) -> Option<Outage> {
        match self {
            Self::SamlServiceProvider { outage, .. } => Some(Outage::new(Dependency::ShibbolethSp, *outage)),
            _ => None,
        }
    }

    /// True for [`ErrorKind::NotFound`].
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }

    /// True for [`ErrorKind::Conflict`].
    pub fn is_conflict(&self) -> bool {
        self.kind() == ErrorKind::Conflict
    }

    pub(crate) fn transport(method: Method, url: Url, source: reqwest::Error) -> Self {
        let reason = error_chain(&source);
        let lower = reason.to_ascii_lowercase();
        let kind = if source.is_timeout() {
            ErrorKind::Timeout
        } else if is_tls_error(&source)
            || lower.contains("certificate")
            || lower.contains("handshake")
            || lower.contains("invalid peer")
        {
            ErrorKind::Tls
        } else {
            ErrorKind::Unavailable
        };
        Self::Transport { kind, method, url: url.to_string(), reason, source }
    }

    pub(crate) fn invalid_response(method: Method, url: Url, detail: impl Into<String>) -> Self {
        Self::InvalidResponse { method, url: url.to_string(), detail: detail.into() }
    }

    /// Builds an [`Error::Api`] from an error response body. Keystone answers
    /// `{"error": {"code": 404, "title": "Not Found", "message": "..."}}`.
    pub(crate) fn from_response(method: Method, url: Url, status: StatusCode, body: &[u8]) -> Self {
        #[derive(serde::Deserialize)]
        struct Envelope {
            error: Inner,
        }
        #[derive(serde::Deserialize)]
        struct Inner {
            #[serde(default)]
            message: Option<String>,
            #[serde(default)]
            title: Option<String>,
        }
        let message = match serde_json::from_slice::<Envelope>(body) {
            Ok(Envelope { error: Inner { message: Some(m), .. } }) if !m.is_empty() => m,
            Ok(Envelope { error: Inner { title: Some(t), .. } }) => t,
            _ => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                if text.is_empty() {
                    status.canonical_reason().unwrap_or("no message").to_owned()
                } else if text.starts_with('<') {
                    html_message(text)
                } else {
                    truncate(text, 300)
                }
            }
        };
        Self::Api {
            kind: ErrorKind::from_status(status),
            method,
            url: url.to_string(),
            status: status.as_u16(),
            message,
        }
    }
}

/// The useful part of an HTML error page (Apache's, or a SAML SP's:
/// Shibboleth's templates print the exception type and its message), as text.
pub(crate) fn html_message(body: &str) -> String {
    let mut text = String::with_capacity(body.len());
    let mut in_tag = false;
    let mut skip_block = false;
    let lower = body.to_ascii_lowercase();
    let mut i = 0;
    let bytes = body.as_bytes();
    while i < bytes.len() {
        if !in_tag && bytes[i] == b'<' {
            in_tag = true;
            let rest = &lower[i..];
            if rest.starts_with("<style") || rest.starts_with("<script") || rest.starts_with("<head") {
                skip_block = true;
            } else if rest.starts_with("</style") || rest.starts_with("</script") || rest.starts_with("</head") {
                skip_block = false;
            }
            text.push('\n');
        } else if in_tag && bytes[i] == b'>' {
            in_tag = false;
        } else if !in_tag && !skip_block {
            let ch_len = body[i..].chars().next().map_or(1, char::len_utf8);
            text.push_str(&body[i..i + ch_len]);
            i += ch_len;
            continue;
        }
        i += 1;
    }
    let lines: Vec<String> = text
        .lines()
        .map(|l| decode_entities(&l.split_whitespace().collect::<Vec<_>>().join(" ")))
        .filter(|l| !l.is_empty())
        .collect();
    // The last such line: Shibboleth's pages title the exception's type,
    // then give it again with where it happened, followed by its message.
    let picked: Vec<&str> = match lines.iter().rposition(|l| l.contains("Exception") || l.contains("Error:")) {
        Some(i) => lines[i..].iter().take(2).map(String::as_str).collect(),
        None => lines.iter().take(3).map(String::as_str).collect(),
    };
    let joined = picked.join(": ");
    if joined.len() > 400 {
        let mut end = 400;
        while !joined.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &joined[..end])
    } else if joined.is_empty() {
        "no message".to_owned()
    } else {
        joined
    }
}

/// Decodes the character references of HTML text (`&#58;`, `&#x3A;`,
/// `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`); anything else is kept.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let decoded = tail.find(';').filter(|end| *end <= 10).and_then(|end| {
            let name = &tail[1..end];
            let ch = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok().and_then(char::from_u32),
                    None => name.strip_prefix('#').and_then(|d| d.parse().ok()).and_then(char::from_u32),
                },
            };
            ch.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// The string values under `password`, `secret` and `token.id` keys of a
/// request body, to redact from errors about that request.
pub(crate) fn secrets_in(body: &serde_json::Value) -> Vec<&str> {
    fn walk<'a>(v: &'a serde_json::Value, parent: Option<&str>, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let secret_key =
                        matches!(k.as_str(), "password" | "secret") || (parent == Some("token") && k == "id");
                    match v {
                        serde_json::Value::String(s) if secret_key => out.push(s),
                        other => walk(other, Some(k), out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, parent, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(body, None, &mut out);
    out
}

/// True when a `rustls` error is somewhere in the chain (possibly wrapped in
/// an `io::Error`, as hyper reports it).
fn is_tls_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        // io::Errors nest (hyper wraps tokio-rustls' io::Error in another
        // one) and hide their payload from `source()`: unwrap them by hand.
        let mut inner: &(dyn std::error::Error + 'static) = e;
        loop {
            if inner.downcast_ref::<rustls::Error>().is_some() {
                return true;
            }
            match inner.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
                Some(payload) => inner = payload,
                None => break,
            }
        }
        cur = e.source();
    }
    false
}

/// Joins an error and its sources: reqwest's own `Display` hides the cause
/// ("error sending request") that tells a user what to fix.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("http://127.0.0.1:5000/v3/projects/p1").unwrap()
    }

    #[test]
    fn keystone_message_and_hint_in_display() {
        let body = br#"{"error": {"code": 404, "title": "Not Found", "message": "Could not find project: p1."}}"#;
        let e = Error::from_response(Method::GET, url(), StatusCode::NOT_FOUND, body);
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.status(), Some(404));
        let s = e.to_string();
        assert!(
            s.starts_with("GET http://127.0.0.1:5000/v3/projects/p1: HTTP 404: Could not find project: p1."),
            "{s}"
        );
        assert!(s.contains("check the id or name"), "{s}");
    }

    #[test]
    fn status_kinds() {
        for (code, kind) in [
            (401, ErrorKind::AuthenticationFailed),
            (403, ErrorKind::Forbidden),
            (404, ErrorKind::NotFound),
            (409, ErrorKind::Conflict),
            (400, ErrorKind::InvalidInput),
            (500, ErrorKind::Unavailable),
            (503, ErrorKind::Unavailable),
            (504, ErrorKind::Timeout),
        ] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(ErrorKind::from_status(status), kind, "{code}");
        }
    }

    #[test]
    fn secrets_are_redacted_from_keystone_messages() {
        let body = serde_json::json!({"auth": {"identity": {"methods": ["password", "token"],
            "password": {"user": {"name": "u", "password": "hunter22"}}, "token": {"id": "gAAAAtoken"}}},
            "user": {"name": "x", "password": "p4ssw0rd"}});
        let secrets = secrets_in(&body);
        assert_eq!(secrets, vec!["hunter22", "gAAAAtoken", "p4ssw0rd"]);
        let e = Error::from_response(
            Method::POST,
            url(),
            StatusCode::BAD_REQUEST,
            br#"{"error": {"message": "Invalid input for field password. Value: p4ssw0rd; token gAAAAtoken"}}"#,
        )
        .redact(&secrets);
        let s = e.to_string();
        assert!(!s.contains("p4ssw0rd") && !s.contains("gAAAAtoken"), "{s}");
        assert!(s.contains("Value: [REDACTED]"), "{s}");
    }

    #[test]
    fn html_error_pages_become_text() {
        let page = "<!DOCTYPE HTML><html><head><title>500 Internal Server Error</title></head><body>\n\
            <h1>Internal Server Error</h1>\n<p>The server encountered an internal error.</p></body></html>";
        let e = Error::from_response(Method::GET, url(), StatusCode::INTERNAL_SERVER_ERROR, page.as_bytes());
        assert!(
            e.to_string().contains("HTTP 500: Internal Server Error: The server encountered an internal error."),
            "{e}"
        );
    }

    #[test]
    fn non_json_body_is_truncated() {
        let body = "x".repeat(1000);
        let e = Error::from_response(Method::POST, url(), StatusCode::BAD_GATEWAY, body.as_bytes());
        let s = e.to_string();
        assert!(s.len() < 500, "{s}");
        assert!(s.contains("..."));
    }
}

//! JSON errors: every error the service answers, its own or axum's, is
//!
//! ```json
//! {"error": {"code": "invalid_request", "title": "Invalid request", "status": 400,
//!            "message": "what is wrong and what to do",
//!            "errors": [{"field": "quotas[0].resource", "message": "..."}],
//!            "request_id": "..."}}
//! ```
//!
//! [`ApiError`] is what handlers and extractors return; the
//! [`json_errors`] middleware renders it with the request id and turns the
//! bare error responses of the layers below (405, timeouts, body limits)
//! into the same shape. Internal failures (500) say nothing of their cause:
//! the details go to the log only, under the request id.
//!
//! An outage of a dependency ([`mercador_core::outage`]: a Keystone, the
//! database, the publisher as the subscriber sees it) is never a 500: it is
//! a 503 with the dependency's code (`database_unavailable`,
//! `keystone_unavailable`, `saml_sp_unavailable`, `publisher_unavailable`),
//! `Retry-After`, and the fields `dependency` (`keystone_a`, `keystone_b`,
//! `shibboleth_sp`, `publisher`, `database`) and `outage` (`unreachable`,
//! `refusing`, `too_slow`). A subscriber operation (or a publisher's
//! subscribe) it interrupted also carries `operation`: what goes on in the
//! background and how to follow it.

use std::borrow::Cow;

use axum::Json;
use axum::extract::Request;
use axum::http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mercador_core::ErrorKind;
use mercador_core::outage::{Dependency, Outage};
use mercador_core::publisher::PublisherError;
use mercador_core::store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// Result of handlers and extractors.
pub type ApiResult<T> = Result<T, ApiError>;

/// The header carrying the request id (set on every response).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    title: Cow<'static, str>,
    message: String,
    errors: Vec<FieldError>,
    retry_after: Option<u32>,
    outage: Option<Outage>,
    operation: Option<Box<InterruptedOperation>>,
}

/// A long operation an outage interrupted: it goes on in the background.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InterruptedOperation {
    /// `subscribe`, `cancel`.
    #[schema(example = "subscribe")]
    pub name: String,
    /// The binding's alias (the subscriber's answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
    /// The subscription's id (the publisher's answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription: Option<String>,
    /// Its state now (`provisioning`, `cancelling`).
    pub state: String,
    /// The step it stopped at (`-` when none).
    pub step: String,
    /// Always true: the service finishes it once the dependency is back.
    pub continues_in_background: bool,
    /// How to follow it.
    #[schema(example = "mercador binding show lisbon-b (GET /v1/bindings/lisbon-b)")]
    pub follow: String,
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, e.g. `quotas[0].resource`, or the path parameter.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_request`, `not_found`, `vregion_full`.
    #[schema(example = "invalid_request")]
    pub code: String,
    /// Short human title of the code.
    pub title: String,
    /// What is wrong and what to do.
    pub message: String,
    /// The HTTP status.
    pub status: u16,
    /// The invalid fields, for `invalid_request`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request id (also in the `x-request-id` header); the service log
    /// has the details of internal errors under it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// For an outage (503): the dependency that fails: `keystone_a`,
    /// `keystone_b`, `shibboleth_sp`, `publisher`, `database`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "database")]
    pub dependency: Option<String>,
    /// For an outage (503): how it fails: `unreachable`, `refusing`, `too_slow`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "unreachable")]
    pub outage: Option<String>,
    /// For an operation the outage interrupted: it continues in the background.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<InterruptedOperation>,
}

impl ApiError {
    /// An error with a status, code, title and message.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        title: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            title: title.into(),
            message: message.into(),
            errors: Vec::new(),
            retry_after: None,
            outage: None,
            operation: None,
        }
    }

    /// 503 for an outage of a dependency: its code, `Retry-After`, the
    /// `dependency` and `outage` fields; `message` says what is known (the
    /// sentence of the outage and that retrying is harmless are added).
    pub fn outage(outage: Outage, message: impl Into<String>) -> Self {
        let retry_after = outage.retry_after();
        let title = match outage.dependency {
            Dependency::Database => "Database unavailable",
            Dependency::KeystoneA | Dependency::KeystoneB => "Keystone unavailable",
            Dependency::ShibbolethSp => "SAML service provider unavailable",
            _ => "Publisher unavailable",
        };
        let message = message.into();
        let retry = if message.contains("harmless") { "" } else { ": retrying is harmless" };
        let message =
            format!("{} ({}): {message}; retry in {retry_after} s{retry}", outage.describe(), outage.dependency);
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, outage.code(), title, message);
        e.retry_after = Some(retry_after);
        e.outage = Some(outage);
        e
    }

    /// With the operation an outage interrupted (it continues in the background).
    pub fn with_operation(mut self, operation: InterruptedOperation) -> Self {
        self.operation = Some(Box::new(operation));
        self
    }

    /// The `Retry-After` seconds, when set.
    pub fn retry_after(&self) -> Option<u32> {
        self.retry_after
    }

    /// The outage, when this is one.
    pub fn outage_of(&self) -> Option<&Outage> {
        self.outage.as_ref()
    }

    /// 400 with the invalid fields.
    pub fn invalid(message: impl Into<String>, errors: Vec<FieldError>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid_request", "Invalid request", message);
        e.errors = errors;
        e
    }

    /// 400 for one invalid field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let (field, message) = (field.into(), message.into());
        Self::invalid(format!("invalid request: {field}: {message}"), vec![FieldError { field, message }])
    }

    /// 401: no usable token.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, "Authentication required", message)
    }

    /// 403: authenticated, not allowed here.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, "Forbidden", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found", message)
    }

    /// 503 with `Retry-After`.
    pub fn unavailable(code: &'static str, message: impl Into<String>, retry_after: u32) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, code, "Service unavailable", message);
        e.retry_after = Some(retry_after);
        e
    }

    /// 500. The message is generic; log the cause before returning this.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal error",
            "the publisher failed internally; nothing about the request needs changing: retry later, and if it \
             persists give the request id to the publisher's operators (the service log has the details)",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The body, with the request id when known.
    pub fn body(&self, request_id: Option<String>) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                title: self.title.to_string(),
                message: self.message.clone(),
                status: self.status.as_u16(),
                errors: self.errors.clone(),
                request_id,
                dependency: self.outage.as_ref().map(|o| o.dependency.as_str().to_owned()),
                outage: self.outage.as_ref().map(|o| o.kind.as_str().to_owned()),
                operation: self.operation.as_deref().cloned(),
            },
        }
    }

    fn render(&self, request_id: Option<String>) -> Response {
        let mut response = (self.status, Json(self.body(request_id))).into_response();
        let headers = response.headers_mut();
        if let Some(secs) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("X-Auth-Token"));
        }
        response
    }

    /// The error a bare response of this status stands for (a layer's 405,
    /// 408, 413... without a body we can show).
    fn from_status(status: StatusCode, method: &Method) -> Self {
        match status {
            StatusCode::METHOD_NOT_ALLOWED => Self::new(
                status,
                "method_not_allowed",
                "Method not allowed",
                format!(
                    "this path does not accept {method}; the Allow header lists what it accepts (see /openapi.json)"
                ),
            ),
            StatusCode::PAYLOAD_TOO_LARGE => Self::payload_too_large(None),
            StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => {
                Self::timeout()
            }
            StatusCode::NOT_FOUND => Self::not_found("no such resource; see /openapi.json for the routes"),
            s if s.is_server_error() => Self::internal(),
            s => Self::new(
                s,
                s.canonical_reason().unwrap_or("error").to_lowercase().replace(' ', "_"),
                s.canonical_reason().unwrap_or("Error"),
                "the request was refused; see /openapi.json for what each route accepts",
            ),
        }
    }

    /// 413.
    pub fn payload_too_large(limit: Option<usize>) -> Self {
        let limit = limit.map(|l| format!(" of {l} bytes")).unwrap_or_default();
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Payload too large",
            format!("the request body exceeds the limit{limit}; send a smaller body (SAML metadata: at most 256 KiB)"),
        )
    }

    /// 503 for a request that took too long.
    pub fn timeout() -> Self {
        Self::unavailable(
            "timeout",
            "the request did not finish in time; an interrupted operation is resumed by the publisher: retry the \
             same request, or read the object's state",
            5,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.render(None);
        // json_errors adds the request id and renders it again.
        response.extensions_mut().insert(self);
        response
    }
}

impl From<PublisherError> for ApiError {
    fn from(e: PublisherError) -> Self {
        if let Some(outage) = e.outage() {
            tracing::warn!(error = %e, dependency = %outage.dependency, outage = %outage.kind, "a dependency is down");
            let api = Self::outage(outage, e.to_string());
            return match e.interrupted() {
                Some((name, subscription, state, step)) => api.with_operation(InterruptedOperation {
                    name: name.to_owned(),
                    binding: None,
                    subscription: Some(subscription.to_owned()),
                    state: state.to_owned(),
                    step: step.to_owned(),
                    continues_in_background: true,
                    follow: format!(
                        "GET /v1/exchange/subscriptions/{subscription} (the partner), \
                         GET /v1/admin/subscriptions/{subscription} (B's admin)"
                    ),
                }),
                None => api,
            };
        }
        let status = match &e {
            PublisherError::Invalid(errors) => {
                let fields =
                    errors.iter().map(|v| FieldError { field: v.field.clone(), message: v.message.clone() }).collect();
                return Self::invalid(e.to_string(), fields);
            }
            PublisherError::NotFound { .. } => StatusCode::NOT_FOUND,
            PublisherError::Conflict(_) | PublisherError::Full { .. } => StatusCode::CONFLICT,
            PublisherError::Saml(_) => StatusCode::UNPROCESSABLE_ENTITY,
            PublisherError::Busy(_) => {
                let mut api = Self::new(StatusCode::SERVICE_UNAVAILABLE, e.code(), e.title(), e.to_string());
                api.retry_after = Some(5);
                return api;
            }
            PublisherError::Keystone(k) => {
                tracing::warn!(error = %e, kind = %k.kind(), "Keystone B failed");
                if e.is_transient() || k.kind() == ErrorKind::Tls {
                    let mut api = Self::new(StatusCode::SERVICE_UNAVAILABLE, e.code(), e.title(), e.to_string());
                    api.retry_after = Some(10);
                    return api;
                }
                StatusCode::BAD_GATEWAY
            }
            PublisherError::Store(StoreError::Duplicate { .. }) => StatusCode::CONFLICT,
            PublisherError::Store(StoreError::Missing { .. }) => StatusCode::NOT_FOUND,
            PublisherError::Store(StoreError::Stale { .. }) => {
                let mut api = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    "Busy",
                    format!("{e} (another request changed it at the same moment; retrying is harmless)"),
                );
                api.retry_after = Some(1);
                return api;
            }
            _ => {
                tracing::error!(error = %e, code = e.code(), "request failed");
                let mut api = Self::internal();
                api.code = e.code().into();
                return api;
            }
        };
        Self::new(status, e.code(), e.title(), e.to_string())
    }
}

/// Middleware (outermost but for the request id and trace layers): renders
/// every [`ApiError`] with the request id, and turns bare error answers of
/// inner layers (405, 408, 413, panics) into JSON errors.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let request_id = request.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let error = match response.extensions().get::<ApiError>() {
        Some(e) => e.clone(),
        None if is_json(&response) => return response,
        None => ApiError::from_status(status, &method),
    };
    let allow = response.headers().get(ALLOW).cloned();
    if error.status.is_server_error() && error.retry_after.is_none() {
        tracing::error!(status = status.as_u16(), code = %error.code, "answered with an internal error");
    }
    let mut rendered = error.render(request_id);
    if let Some(allow) = allow {
        rendered.headers_mut().insert(ALLOW, allow);
    }
    rendered
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"))
}

/// The answer to a panic inside a handler (caught by `CatchPanicLayer`).
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::internal().into_response()
}

#[cfg(test)]
mod tests {
    use mercador_core::model::Name;

    use super::*;

    #[test]
    fn invalid_lists_the_fields() {
        let field = Name::parse("vregion.name", "Bad").unwrap_err();
        let e = ApiError::from(PublisherError::Invalid(vec![field]));
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        let body = serde_json::to_value(e.body(None)).unwrap();
        assert_eq!(body["error"]["errors"][0]["field"], "vregion.name");
        assert_eq!(body["error"]["code"], "invalid_request");
        assert_eq!(body["error"]["status"], 400);
    }

    #[test]
    fn statuses() {
        let full = PublisherError::Full { vregion: "v".into(), max: 1 };
        assert_eq!(ApiError::from(full).status(), StatusCode::CONFLICT);
        assert_eq!(ApiError::from(PublisherError::Saml("x".into())).status(), StatusCode::UNPROCESSABLE_ENTITY);
        let busy = ApiError::from(PublisherError::Busy("p".into()));
        assert_eq!((busy.status(), busy.retry_after), (StatusCode::SERVICE_UNAVAILABLE, Some(5)));
        let store = ApiError::from(PublisherError::Store(StoreError::Database("disk /secret/path full".into())));
        assert_eq!(store.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!store.body(None).error.message.contains("/secret/path"));
        let down =
            mercador_core::Error::Federation { kind: ErrorKind::Unavailable, message: "connection refused".into() };
        let down = ApiError::from(PublisherError::Keystone(down));
        assert_eq!((down.status(), down.code()), (StatusCode::SERVICE_UNAVAILABLE, "keystone_unavailable"));
        assert_eq!(down.body(None).error.dependency.as_deref(), Some("keystone_b"));
    }

    #[test]
    fn an_interrupted_subscribe_on_the_publisher_says_it_continues() {
        use mercador_core::outage::OutageKind;
        let cause = PublisherError::SamlSpUnavailable {
            kind: OutageKind::Refusing,
            message: "GET http://b/Shibboleth.sso/Status (its Status handler): HTTP 500: Cannot connect to shibd"
                .into(),
        };
        let e = PublisherError::Interrupted {
            operation: "subscribe",
            subscription: "s1".into(),
            state: "provisioning".into(),
            step: "trust".into(),
            cause: Box::new(cause),
        };
        let api = ApiError::from(e);
        assert_eq!(
            (api.status(), api.code(), api.retry_after),
            (StatusCode::SERVICE_UNAVAILABLE, "saml_sp_unavailable", Some(5))
        );
        let body = serde_json::to_value(api.body(None)).unwrap();
        let error = &body["error"];
        assert_eq!((error["dependency"].as_str(), error["outage"].as_str()), (Some("shibboleth_sp"), Some("refusing")));
        let op = &error["operation"];
        assert_eq!((op["subscription"].as_str(), op["step"].as_str()), (Some("s1"), Some("trust")), "{body}");
        assert!(op.get("binding").is_none(), "no binding on the publisher: {body}");
        assert!(error["message"].as_str().unwrap().contains("continues in the background"), "{body}");
    }

    #[test]
    fn a_database_outage_is_a_503_naming_the_database() {
        use mercador_core::outage::OutageKind;
        let e = PublisherError::Store(StoreError::Unavailable {
            kind: OutageKind::TooSlow,
            message: "listing vregions: pool timed out while waiting for an open connection".into(),
        });
        let api = ApiError::from(e);
        assert_eq!(
            (api.status(), api.code(), api.retry_after),
            (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", Some(5))
        );
        let body = api.body(None).error;
        assert_eq!((body.dependency.as_deref(), body.outage.as_deref()), (Some("database"), Some("too_slow")));
        assert!(body.message.contains("retrying is harmless"), "{}", body.message);
        let rendered = api.render(None);
        assert_eq!(rendered.headers().get(RETRY_AFTER).unwrap(), "5");
    }
}

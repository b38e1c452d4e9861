//! The HTTP layer both services ([`crate::publisher`], [`crate::subscriber`])
//! put around their routes, and how their handlers run engine operations.

use std::future::Future;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::PropagateRequestIdLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::{Instrument as _, Level};

use crate::RouterOptions;
use crate::auth::TOKEN_HEADER;
use crate::error::{ApiError, ApiResult, REQUEST_ID_HEADER, json_errors, panic_response};
use crate::publisher::discovery::OpenApiDocument;

/// A service's whole router: its `routes` (each face already behind its
/// auth layer) with their `state`, a JSON 404 for any other path, and the
/// service's OpenAPI `document` as an extension. Around every route,
/// outermost first: sensitive headers marked, request id (`x-request-id`,
/// kept from the client when sane, else generated), trace span (method,
/// path, request id, caller; never headers or bodies),
/// [`crate::error::json_errors`], panic catcher, request timeout
/// (`options.request_timeout`, then 503), body limit (`options.body_limit`).
pub(crate) fn service_router<S>(
    routes: Router<S>,
    state: S,
    document: OpenApiDocument,
    options: &RouterOptions,
) -> Router
where
    S: Clone + Send + Sync + 'static,
{
    routes
        .fallback(no_route)
        .with_state(state)
        .layer(axum::Extension(document))
        .layer(DefaultBodyLimit::max(options.body_limit))
        .layer(RequestBodyLimitLayer::new(options.body_limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, options.request_timeout))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(json_errors))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(HeaderName::from_static(REQUEST_ID_HEADER)))
        .layer(middleware::from_fn(request_id))
        .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION, COOKIE, HeaderName::from_static(TOKEN_HEADER)]))
}

async fn no_route(request: Request) -> ApiError {
    let shown: String = request.uri().path().chars().take(100).collect();
    ApiError::not_found(format!("no route {} {shown}; the routes are listed in /openapi.json", request.method()))
}

/// The request's span: method, path, request id and (set by the auth
/// middleware) the caller. Never headers, query strings or bodies.
fn request_span(request: &Request) -> tracing::Span {
    let id = request.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let path: String = request.uri().path().chars().take(200).collect();
    tracing::info_span!("request", id = %id, method = %request.method(), path = %path, caller = tracing::field::Empty)
}

/// Keeps a client's `x-request-id` when it is short and plain, else sets a
/// new one.
async fn request_id(mut request: Request, next: Next) -> Response {
    let sane = request.headers().get(REQUEST_ID_HEADER).is_some_and(|v| {
        let b = v.as_bytes();
        !b.is_empty() && b.len() <= 64 && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
    });
    if !sane && let Ok(value) = HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string()) {
        request.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    next.run(request).await
}

/// Runs an engine operation in its own task, so that a client hanging up or
/// a request timeout does not cut it between two steps (it runs to the end;
/// the answer is dropped), and a panic in it becomes a 500. Its error
/// becomes the JSON error `to_api` makes of it.
pub(crate) async fn run_engine<T, E, F>(operation: F, to_api: impl FnOnce(E) -> ApiError) -> ApiResult<T>
where
    F: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    match tokio::spawn(operation.instrument(tracing::Span::current())).await {
        Ok(result) => result.map_err(to_api),
        Err(e) => {
            tracing::error!(error = %e, "an engine operation panicked or was cancelled");
            Err(ApiError::internal())
        }
    }
}

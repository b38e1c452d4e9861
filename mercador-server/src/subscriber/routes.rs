//! The subscriber's REST API, `/v1/...`, for Keystone A's admins
//! ([`super::auth::require_admin`] runs before every handler here), and the
//! unauthenticated service routes (`/`, `/v1`, `/healthz`).
//!
//! No answer carries a partner credential's secret or a vregion admin
//! password: the engine's views hold neither (`has_admin_password` only).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mercador_core::model::Name;
use mercador_core::subscriber::{
    BindingView, DiscoveryResult, NewPublisher, PublisherView, ReconcileReport, RefreshOutcome, RefreshReport,
    SubscribeRequest,
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{SubscriberState, engine};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, PathName};
use crate::publisher::discovery::{Health, Link, Version, VersionDocument, Versions};

/// Tag of the subscriber's admin routes.
pub const SUBSCRIBER_TAG: &str = "subscriber";
/// Tag of the unauthenticated service routes.
pub const SERVICE_TAG: &str = crate::openapi::SERVICE_TAG;

/// `GET /bindings` filter.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BindingsQuery {
    /// Only the bindings of this publisher.
    #[param(value_type = Option<Name>)]
    pub publisher: Option<Name>,
}

/// `DELETE /bindings/{name}` options.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CancelQuery {
    /// For a publisher gone for good (decommissioned, credential revoked):
    /// when it cannot be reached or refuses, give its side up (the binding's
    /// error says so; its admin revokes the subscription there) and remove
    /// A's region, endpoints and service provider all the same. Without it,
    /// the binding then stays `cancelling` and is retried.
    #[serde(default)]
    pub force: bool,
}

/// Every registered publisher (never a secret).
#[utoipa::path(
    get, path = "/publishers", tag = SUBSCRIBER_TAG, security(("X-Auth-Token" = [])),
    responses((status = 200, body = [PublisherView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn list_publishers(State(s): State<SubscriberState>) -> ApiResult<Json<Vec<PublisherView>>> {
    let sub = s.subscriber;
    engine(async move { sub.list_publishers().await }).await.map(Json)
}

/// Registers a publisher with the partner credential its admin handed over
/// (the secret is stored sealed and never shown again).
#[utoipa::path(
    post, path = "/publishers", tag = SUBSCRIBER_TAG, security(("X-Auth-Token" = [])), request_body = NewPublisher,
    responses(
        (status = 201, body = PublisherView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody), (status = 415, body = ErrorBody)
    )
)]
pub async fn register_publisher(
    State(s): State<SubscriberState>,
    ApiJson(new): ApiJson<NewPublisher>,
) -> ApiResult<(StatusCode, Json<PublisherView>)> {
    let sub = s.subscriber;
    let view = engine(async move { sub.register_publisher(new).await }).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One publisher.
#[utoipa::path(
    get, path = "/publishers/{name}", tag = SUBSCRIBER_TAG, security(("X-Auth-Token" = [])),
    params(("name" = Name, Path, description = "The publisher")),
    responses(
        (status = 200, body = PublisherView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)
    )
)]
pub async fn get_publisher(
    State(s): State<SubscriberState>,
    PathName(name): PathName,
) -> ApiResult<Json<PublisherView>> {
    let sub = s.subscriber;
    engine(async move { sub.get_publisher(&name).await }).await.map(Json)
}

/// Removes a publisher (refused while it has live bindings: cancel them first).
#[utoipa::path(
    delete, path = "/publishers/{name}", tag = SUBSCRIBER_TAG, security(("X-Auth-Token" = [])),
    params(("name" = Name, Path, description = "The publisher")),
    responses(
        (status = 204, description = "Removed"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)
    )
)]
pub async fn remove_publisher(State(s): State<SubscriberState>, PathName(name): PathName) -> ApiResult<StatusCode> {
    let sub = s.subscriber;
    engine(async move { sub.remove_publisher(&name).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The vregions every registered publisher offers, and one error per
/// publisher that could not be asked.
#[utoipa::path(
    get, path = "/discovery", tag = SUBSCRIBER_TAG, security(("X-Auth-Token" = [])),
    responses((status = 200, body = DiscoveryResult), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn discover(State(s): State<SubscriberState>) -> ApiResult<Json<DiscoveryResult>> {
    let sub = s.subscriber;
    engine(async move { sub.discover().await }).await.map(Json)
}

/// Every binding (optionally of one publisher).
#[utoipa::path(
    get, path = "/bindings", tag = SUBSCRIBER_TAG, security(("X-Auth-Token" = [])), params(BindingsQuery),
    responses(
        (status = 200, body = [BindingView]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, description = "No such publisher", body = ErrorBody)
    )
)]
pub async fn list_bindings(
    State(s): State<SubscriberState>,
    ApiQuery(q): ApiQuery<BindingsQuery>,
) -> ApiResult<Json<Vec<BindingView>>> {
    let sub = s.subscriber;
    engine(async move { sub.list_bindings(q.publisher.as_ref()).await }).await.map(Json)
}

/// Subscribes to a publisher's vregion and shows it on Keystone A as the
/// region `<alias>` (service provider `mercador-<alias>`, endpoints).
#[utoipa::path(
    post, path = "/bindings", tag = SUBSCRIBER_TAG, security(("X-Auth-Token" = [])), request_body = SubscribeRequest,
    responses(
        (status = 201, body = BindingView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)
    )
)]
pub async fn subscribe(
    State(s): State<SubscriberState>,
    ApiJson(request): ApiJson<SubscribeRequest>,
) -> ApiResult<(StatusCode, Json<BindingView>)> {
    let sub = s.subscriber;
    let view = engine(async move { sub.subscribe(request).await }).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One binding (the live one with this alias, else the latest).
#[utoipa::path(
    get, path = "/bindings/{name}", tag = SUBSCRIBER_TAG, security(("X-Auth-Token" = [])),
    params(("name" = Name, Path, description = "The binding's alias")),
    responses(
        (status = 200, body = BindingView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)
    )
)]
pub async fn get_binding(State(s): State<SubscriberState>, PathName(alias): PathName) -> ApiResult<Json<BindingView>> {
    let sub = s.subscriber;
    engine(async move { sub.get_binding(&alias).await }).await.map(Json)
}

/// Cancels a binding: at the publisher, then A's region, endpoints and
/// service provider. Answers the binding. While the publisher cannot be
/// reached or refuses, answers its error (503 or 502, the message pointing
/// to `force=true`) and the binding stays `cancelling`; with `force=true`
/// its side is given up and A's is removed (`cancelled`).
#[utoipa::path(
    delete, path = "/bindings/{name}", tag = SUBSCRIBER_TAG, security(("X-Auth-Token" = [])),
    params(("name" = Name, Path, description = "The binding's alias"), CancelQuery),
    responses(
        (status = 200, body = BindingView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 502, description = "The publisher refused (retry with force=true to go on without it)", body = ErrorBody),
        (status = 503, description = "The publisher or Keystone A is unreachable (the binding stays cancelling)", body = ErrorBody)
    )
)]
pub async fn cancel(
    State(s): State<SubscriberState>,
    PathName(alias): PathName,
    ApiQuery(q): ApiQuery<CancelQuery>,
) -> ApiResult<Json<BindingView>> {
    let sub = s.subscriber;
    engine(async move { if q.force { sub.cancel_forced(&alias).await } else { sub.cancel(&alias).await } })
        .await
        .map(Json)
}

/// Refreshes one binding now (revocation noticed, drift on A repaired).
#[utoipa::path(
    post, path = "/bindings/{name}/refresh", tag = SUBSCRIBER_TAG, security(("X-Auth-Token" = [])),
    params(("name" = Name, Path, description = "The binding's alias")),
    responses(
        (status = 200, body = RefreshOutcome), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody),
        (status = 503, body = ErrorBody)
    )
)]
pub async fn refresh(State(s): State<SubscriberState>, PathName(alias): PathName) -> ApiResult<Json<RefreshOutcome>> {
    let sub = s.subscriber;
    engine(async move { sub.refresh(&alias).await }).await.map(Json)
}

/// Refreshes every binding now (what the service does every `refresh_interval_secs`).
#[utoipa::path(
    post, path = "/refresh", tag = SUBSCRIBER_TAG, security(("X-Auth-Token" = [])),
    responses((status = 200, body = RefreshReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn refresh_all(State(s): State<SubscriberState>) -> ApiResult<Json<RefreshReport>> {
    let sub = s.subscriber;
    engine(async move { sub.refresh_all().await }).await.map(Json)
}

/// Resumes whatever a crash interrupted (what the service does at start
/// and every `reconcile_interval_secs`).
#[utoipa::path(
    post, path = "/reconcile", tag = SUBSCRIBER_TAG, security(("X-Auth-Token" = [])),
    responses((status = 200, body = ReconcileReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn reconcile(State(s): State<SubscriberState>) -> ApiResult<Json<ReconcileReport>> {
    let sub = s.subscriber;
    engine(async move { sub.reconcile().await }).await.map(Json)
}

fn v1(state: &SubscriberState) -> Version {
    let base = state.public_url.as_str().trim_end_matches('/');
    let link = |rel: &str, path: &str| Link { rel: rel.into(), href: format!("{base}{path}") };
    Version {
        id: "v1".into(),
        status: "CURRENT".into(),
        links: vec![link("self", "/v1"), link("describedby", "/openapi.json")],
    }
}

/// The versions of the API.
#[utoipa::path(get, path = "/", tag = SERVICE_TAG, responses((status = 200, body = Versions)))]
pub async fn versions(State(s): State<SubscriberState>) -> Json<Versions> {
    Json(Versions { versions: vec![v1(&s)] })
}

/// Version 1.
#[utoipa::path(get, path = "/v1", tag = SERVICE_TAG, responses((status = 200, body = VersionDocument)))]
pub async fn version_v1(State(s): State<SubscriberState>) -> Json<VersionDocument> {
    Json(VersionDocument { version: v1(&s) })
}

/// Health: 200 when the database and Keystone A answer, 503 otherwise
/// (`keystone` is Keystone A here).
#[utoipa::path(
    get, path = "/healthz", tag = SERVICE_TAG,
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 503, description = "A dependency fails", body = Health)
    )
)]
pub async fn health(State(s): State<SubscriberState>) -> (StatusCode, Json<Health>) {
    let health = s.health.check().await;
    let status = if health.status == "ok" { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(health))
}

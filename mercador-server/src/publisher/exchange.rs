//! The partner-facing exchange face, `/v1/exchange/...`: what a subscriber
//! calls with the application credential it got at onboarding.
//! [`crate::auth::require_partner`] runs before every handler here and puts
//! the caller's partner in [`PartnerCaller`]; every handler takes the
//! partner from there, never from the request, so a partner only ever
//! reaches its own data (the engine reports another partner's subscription
//! as not found).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use mercador_core::publisher::{Access, OfferedVRegion, SubscribeRequest, SubscriptionView};

use super::{AppState, engine};
use crate::auth::PartnerCaller;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, PathId};
use crate::openapi::EXCHANGE_TAG;

/// The vregions offered to the caller.
#[utoipa::path(
    get, path = "/vregions", tag = EXCHANGE_TAG, security(("X-Auth-Token" = [])),
    responses(
        (status = 200, body = [OfferedVRegion]),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)
    )
)]
pub async fn offered_vregions(
    State(s): State<AppState>,
    Extension(caller): Extension<PartnerCaller>,
) -> ApiResult<Json<Vec<OfferedVRegion>>> {
    let p = s.publisher;
    engine(async move { p.offered_vregions(&caller.partner).await }).await.map(Json)
}

/// The caller's subscriptions (every state).
#[utoipa::path(
    get, path = "/subscriptions", tag = EXCHANGE_TAG, security(("X-Auth-Token" = [])),
    responses(
        (status = 200, body = [SubscriptionView]),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)
    )
)]
pub async fn list_subscriptions(
    State(s): State<AppState>,
    Extension(caller): Extension<PartnerCaller>,
) -> ApiResult<Json<Vec<SubscriptionView>>> {
    let p = s.publisher;
    engine(async move { p.partner_subscriptions(&caller.partner).await }).await.map(Json)
}

/// Subscribes to an offered vregion: Keystone B and its SAML service
/// provider are configured for the caller's identity provider, and the
/// answer holds everything the subscriber configures on its side (the
/// vregion admin's password only in the first answer). Asking again while
/// provisioning resumes it.
#[utoipa::path(
    post, path = "/subscriptions", tag = EXCHANGE_TAG, security(("X-Auth-Token" = [])),
    request_body = SubscribeRequest,
    responses(
        (status = 201, body = Access),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No such vregion offered to the caller", body = ErrorBody),
        (status = 409, description = "Already subscribed, or no place left", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "The SAML identity is unusable", body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)
    )
)]
pub async fn subscribe(
    State(s): State<AppState>,
    Extension(caller): Extension<PartnerCaller>,
    ApiJson(request): ApiJson<SubscribeRequest>,
) -> ApiResult<(StatusCode, Json<Access>)> {
    let p = s.publisher;
    let access = engine(async move { p.subscribe(&caller.partner, request).await }).await?;
    Ok((StatusCode::CREATED, Json(access)))
}

/// One of the caller's subscriptions.
#[utoipa::path(
    get, path = "/subscriptions/{id}", tag = EXCHANGE_TAG, security(("X-Auth-Token" = [])),
    params(("id" = String, Path, description = "The subscription id")),
    responses(
        (status = 200, body = SubscriptionView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)
    )
)]
pub async fn get_subscription(
    State(s): State<AppState>,
    Extension(caller): Extension<PartnerCaller>,
    PathId(id): PathId,
) -> ApiResult<Json<SubscriptionView>> {
    let p = s.publisher;
    engine(async move { p.partner_subscription(&caller.partner, &id).await }).await.map(Json)
}

/// Refreshes one of the caller's active subscriptions: repairs drift and
/// returns a new admin token and the current services.
#[utoipa::path(
    post, path = "/subscriptions/{id}/refresh", tag = EXCHANGE_TAG, security(("X-Auth-Token" = [])),
    params(("id" = String, Path, description = "The subscription id")),
    responses(
        (status = 200, body = Access),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Not active", body = ErrorBody), (status = 502, body = ErrorBody),
        (status = 503, body = ErrorBody)
    )
)]
pub async fn refresh_subscription(
    State(s): State<AppState>,
    Extension(caller): Extension<PartnerCaller>,
    PathId(id): PathId,
) -> ApiResult<Json<Access>> {
    let p = s.publisher;
    engine(async move { p.refresh(&caller.partner, &id).await }).await.map(Json)
}

/// Cancels one of the caller's subscriptions. The answer is the
/// subscription: `cancelled`, or `cancelling` when part of the removal is
/// left to the publisher's reconciliation.
#[utoipa::path(
    delete, path = "/subscriptions/{id}", tag = EXCHANGE_TAG, security(("X-Auth-Token" = [])),
    params(("id" = String, Path, description = "The subscription id")),
    responses(
        (status = 200, body = SubscriptionView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)
    )
)]
pub async fn cancel_subscription(
    State(s): State<AppState>,
    Extension(caller): Extension<PartnerCaller>,
    PathId(id): PathId,
) -> ApiResult<Json<SubscriptionView>> {
    let p = s.publisher;
    engine(async move { p.cancel(&caller.partner, &id).await }).await.map(Json)
}

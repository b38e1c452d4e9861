//! The admin face, `/v1/admin/...`: Keystone B admins manage vregions,
//! partners and subscriptions. [`crate::auth::require_admin`] runs before
//! every handler here.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mercador_core::model::{Name, VRegionSpec};
use mercador_core::publisher::{
    NewPartner, PartnerOnboarded, PartnerView, PublishOptions, ReconcileReport, SubscriptionView, VRegionView,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{AppState, engine};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, OptionalJson, PathId, PathName};
use crate::openapi::ADMIN_TAG;

/// `DELETE /vregions/{name}` options.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteVRegionQuery {
    /// Delete the vregion's Keystone domain too (default: disable it; it may
    /// hold resources).
    #[serde(default)]
    pub purge: bool,
}

/// `POST /vregions/{name}/publish` options.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PublishVRegionQuery {
    /// Adopt an existing, empty domain of the spec's name that Mercador did
    /// not create (deleting the vregion then disables or deletes it).
    /// Without it such a domain is refused (409).
    #[serde(default)]
    pub adopt_domain: bool,
}

/// `GET /subscriptions` filter.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SubscriptionsQuery {
    /// Only this partner's subscriptions.
    #[param(value_type = Option<Name>)]
    pub partner: Option<Name>,
}

/// Body of a revocation (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Delete the federated users' projects instead of disabling them.
    #[serde(default)]
    pub purge: bool,
}

/// Every vregion.
#[utoipa::path(
    get, path = "/vregions", tag = ADMIN_TAG, security(("X-Auth-Token" = [])),
    responses(
        (status = 200, body = [VRegionView]),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)
    )
)]
pub async fn list_vregions(State(s): State<AppState>) -> ApiResult<Json<Vec<VRegionView>>> {
    let p = s.publisher;
    engine(async move { p.list_vregions().await }).await.map(Json)
}

/// Defines a vregion (stored as a draft after checking it against Keystone B).
#[utoipa::path(
    post, path = "/vregions", tag = ADMIN_TAG, security(("X-Auth-Token" = [])), request_body = VRegionSpec,
    responses(
        (status = 201, body = VRegionView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 502, body = ErrorBody),
        (status = 503, body = ErrorBody)
    )
)]
pub async fn create_vregion(
    State(s): State<AppState>,
    ApiJson(spec): ApiJson<VRegionSpec>,
) -> ApiResult<(StatusCode, Json<VRegionView>)> {
    let p = s.publisher;
    let view = engine(async move { p.create_vregion(spec).await }).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One vregion.
#[utoipa::path(
    get, path = "/vregions/{name}", tag = ADMIN_TAG, security(("X-Auth-Token" = [])),
    params(("name" = Name, Path, description = "The vregion")),
    responses(
        (status = 200, body = VRegionView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
pub async fn get_vregion(State(s): State<AppState>, PathName(name): PathName) -> ApiResult<Json<VRegionView>> {
    let p = s.publisher;
    engine(async move { p.get_vregion(&name).await }).await.map(Json)
}

/// Replaces a vregion's definition (the body's name must be the path's).
#[utoipa::path(
    put, path = "/vregions/{name}", tag = ADMIN_TAG, security(("X-Auth-Token" = [])), request_body = VRegionSpec,
    params(("name" = Name, Path, description = "The vregion")),
    responses(
        (status = 200, body = VRegionView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)
    )
)]
pub async fn replace_vregion(
    State(s): State<AppState>,
    PathName(name): PathName,
    ApiJson(spec): ApiJson<VRegionSpec>,
) -> ApiResult<Json<VRegionView>> {
    if spec.name != name {
        return Err(ApiError::invalid_field(
            "name",
            format!("is {:?} but the path names {:?}; a vregion cannot be renamed", spec.name.as_str(), name.as_str()),
        ));
    }
    let p = s.publisher;
    engine(async move { p.replace_vregion(&name, spec).await }).await.map(Json)
}

/// Deletes a vregion no subscription holds a place in.
#[utoipa::path(
    delete, path = "/vregions/{name}", tag = ADMIN_TAG, security(("X-Auth-Token" = [])),
    params(("name" = Name, Path, description = "The vregion"), DeleteVRegionQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Subscriptions hold places", body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)
    )
)]
pub async fn delete_vregion(
    State(s): State<AppState>,
    PathName(name): PathName,
    ApiQuery(query): ApiQuery<DeleteVRegionQuery>,
) -> ApiResult<StatusCode> {
    let p = s.publisher;
    engine(async move { p.delete_vregion(&name, query.purge).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Publishes: creates its domain (or adopts an empty one when asked), sets its quotas, offers it to its partners.
#[utoipa::path(
    post, path = "/vregions/{name}/publish", tag = ADMIN_TAG, security(("X-Auth-Token" = [])),
    params(("name" = Name, Path, description = "The vregion"), PublishVRegionQuery),
    responses(
        (status = 200, body = VRegionView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody),
        (status = 503, body = ErrorBody)
    )
)]
pub async fn publish_vregion(
    State(s): State<AppState>,
    PathName(name): PathName,
    ApiQuery(query): ApiQuery<PublishVRegionQuery>,
) -> ApiResult<Json<VRegionView>> {
    let p = s.publisher;
    let options = PublishOptions { adopt_domain: query.adopt_domain };
    engine(async move { p.publish_vregion_with(&name, &options).await }).await.map(Json)
}

/// Withdraws: no new subscriptions; existing ones go on.
#[utoipa::path(
    post, path = "/vregions/{name}/withdraw", tag = ADMIN_TAG, security(("X-Auth-Token" = [])),
    params(("name" = Name, Path, description = "The vregion")),
    responses(
        (status = 200, body = VRegionView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)
    )
)]
pub async fn withdraw_vregion(State(s): State<AppState>, PathName(name): PathName) -> ApiResult<Json<VRegionView>> {
    let p = s.publisher;
    engine(async move { p.withdraw_vregion(&name).await }).await.map(Json)
}

/// Every partner.
#[utoipa::path(
    get, path = "/partners", tag = ADMIN_TAG, security(("X-Auth-Token" = [])),
    responses(
        (status = 200, body = [PartnerView]),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)
    )
)]
pub async fn list_partners(State(s): State<AppState>) -> ApiResult<Json<Vec<PartnerView>>> {
    let p = s.publisher;
    engine(async move { p.list_partners().await }).await.map(Json)
}

/// Onboards a partner; the answer holds its application credential secret, shown this once.
#[utoipa::path(
    post, path = "/partners", tag = ADMIN_TAG, security(("X-Auth-Token" = [])), request_body = NewPartner,
    responses(
        (status = 201, body = PartnerOnboarded),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 502, body = ErrorBody),
        (status = 503, body = ErrorBody)
    )
)]
pub async fn onboard_partner(
    State(s): State<AppState>,
    ApiJson(request): ApiJson<NewPartner>,
) -> ApiResult<(StatusCode, Json<PartnerOnboarded>)> {
    let p = s.publisher;
    let onboarded = engine(async move { p.onboard_partner(request).await }).await?;
    Ok((StatusCode::CREATED, Json(onboarded)))
}

/// One partner.
#[utoipa::path(
    get, path = "/partners/{name}", tag = ADMIN_TAG, security(("X-Auth-Token" = [])),
    params(("name" = Name, Path, description = "The partner")),
    responses(
        (status = 200, body = PartnerView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
pub async fn get_partner(State(s): State<AppState>, PathName(name): PathName) -> ApiResult<Json<PartnerView>> {
    let p = s.publisher;
    engine(async move { p.get_partner(&name).await }).await.map(Json)
}

/// Removes a partner with no subscription holding a place: its credential, user and project.
#[utoipa::path(
    delete, path = "/partners/{name}", tag = ADMIN_TAG, security(("X-Auth-Token" = [])),
    params(("name" = Name, Path, description = "The partner")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Subscriptions hold places", body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)
    )
)]
pub async fn remove_partner(State(s): State<AppState>, PathName(name): PathName) -> ApiResult<StatusCode> {
    let p = s.publisher;
    engine(async move { p.remove_partner(&name).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every subscription, optionally of one partner.
#[utoipa::path(
    get, path = "/subscriptions", tag = ADMIN_TAG, security(("X-Auth-Token" = [])),
    params(SubscriptionsQuery),
    responses(
        (status = 200, body = [SubscriptionView]),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No such partner", body = ErrorBody)
    )
)]
pub async fn list_subscriptions(
    State(s): State<AppState>,
    ApiQuery(query): ApiQuery<SubscriptionsQuery>,
) -> ApiResult<Json<Vec<SubscriptionView>>> {
    let p = s.publisher;
    engine(async move { p.list_subscriptions(query.partner.as_ref()).await }).await.map(Json)
}

/// One subscription.
#[utoipa::path(
    get, path = "/subscriptions/{id}", tag = ADMIN_TAG, security(("X-Auth-Token" = [])),
    params(("id" = String, Path, description = "The subscription id")),
    responses(
        (status = 200, body = SubscriptionView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)
    )
)]
pub async fn get_subscription(State(s): State<AppState>, PathId(id): PathId) -> ApiResult<Json<SubscriptionView>> {
    let p = s.publisher;
    engine(async move { p.get_subscription(&id).await }).await.map(Json)
}

/// Revokes a subscription: its federation objects are removed; with
/// `purge`, the federated users' projects are deleted instead of disabled.
#[utoipa::path(
    post, path = "/subscriptions/{id}/revoke", tag = ADMIN_TAG, security(("X-Auth-Token" = [])),
    params(("id" = String, Path, description = "The subscription id")),
    request_body(content = Option<RevokeRequest>, description = "Optional; `{\"purge\": false}` when absent"),
    responses(
        (status = 200, body = SubscriptionView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody),
        (status = 503, body = ErrorBody)
    )
)]
pub async fn revoke_subscription(
    State(s): State<AppState>,
    PathId(id): PathId,
    OptionalJson(request): OptionalJson<RevokeRequest>,
) -> ApiResult<Json<SubscriptionView>> {
    let p = s.publisher;
    engine(async move { p.revoke(&id, request.purge).await }).await.map(Json)
}

/// Resumes every interrupted operation now (it also runs at start and periodically).
#[utoipa::path(
    post, path = "/reconcile", tag = ADMIN_TAG, security(("X-Auth-Token" = [])),
    responses(
        (status = 200, body = ReconcileReport),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)
    )
)]
pub async fn reconcile(State(s): State<AppState>) -> ApiResult<Json<ReconcileReport>> {
    let p = s.publisher;
    engine(async move { p.reconcile().await }).await.map(Json)
}

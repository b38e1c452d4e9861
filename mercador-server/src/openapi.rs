//! The OpenAPI document, served at `GET /openapi.json`.
//!
//! Paths come from the `#[utoipa::path]` attributes of the handlers,
//! collected while the router is built (`utoipa_axum`), so a route cannot be
//! served without being documented. The schemas of the engine's bodies are
//! `mercador-core`'s types (its `openapi` feature).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Tag of the admin face.
pub const ADMIN_TAG: &str = "admin";
/// Tag of the partner-facing exchange face.
pub const EXCHANGE_TAG: &str = "exchange";
/// Tag of the unauthenticated service routes.
pub const SERVICE_TAG: &str = "service";
/// Name of the security scheme (a Keystone B token in `X-Auth-Token`).
pub const SECURITY_SCHEME: &str = "X-Auth-Token";

/// The document's fixed part; paths are added by the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Mercador publisher",
        description = "The publisher's REST API. Admin face (`/v1/admin`): virtual regions, partners, \
                       subscriptions, revocation, for Keystone B admins. Exchange face (`/v1/exchange`): what \
                       partners (subscribers) call with the application credential handed over at onboarding: \
                       offered vregions, subscribe, show, refresh, cancel. Every request of both faces carries a \
                       Keystone B token in `X-Auth-Token` (or `Authorization: Bearer`). Errors are \
                       `{\"error\": {\"code\", \"title\", \"message\", \"status\"}}`.",
        license(name = "Apache-2.0")
    ),
    modifiers(&TokenSecurity),
    tags(
        (name = "admin", description = "Publisher administration (Keystone B admins)"),
        (name = "exchange", description = "Partner-facing exchange (partners' application credentials)"),
        (name = "service", description = "Version discovery, health, this document (no token)")
    ),
    components(schemas(crate::error::ErrorBody))
)]
pub struct ApiDoc;

/// Adds the `X-Auth-Token` API key scheme.
struct TokenSecurity;

impl Modify for TokenSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SECURITY_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Auth-Token",
                "A Keystone B token: an admin's (admin face) or a partner's (exchange face)",
            ))),
        );
    }
}

//! The OpenAPI documents, served at `GET /openapi.json`.
//!
//! Paths come from the `#[utoipa::path]` attributes of the handlers,
//! collected while the router is built (`utoipa_axum`), so a route cannot be
//! served without being documented. The schemas of the engine's bodies are
//! `mercador-core`'s types (its `openapi` feature). [`finish`] then completes
//! what the derives leave out: the [`Name`] component every name refers to,
//! and the name rule on the name fields `mercador-core` declares as plain
//! strings ([`NameField`]), so that a request the document allows is not
//! refused for its names.

use mercador_core::model::Name;
use utoipa::openapi::schema::{AllOf, ObjectBuilder, OneOf, Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi, PartialSchema as _};

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

/// The component of [`Name`] (1 to [`Name::MAX_LEN`] characters, the
/// DNS-label pattern), which path parameters and schemas refer to.
pub const NAME_COMPONENT: &str = "Name";

/// A property the engine parses as a [`Name`] but that `mercador-core`'s
/// schema declares as a plain string: [`finish`] gives it the rule.
#[derive(Debug, Clone, Copy)]
pub struct NameField {
    /// The component schema.
    pub schema: &'static str,
    /// Its property.
    pub property: &'static str,
    /// The longest name the engine takes there ([`Name::MAX_LEN`], or less
    /// where the name becomes part of a longer Keystone id).
    pub max_len: usize,
}

/// Completes a document built from the routes: adds the [`Name`]
/// component and puts the name rule (length and pattern) on `name_fields`.
/// Returns what it could not find (a schema or property renamed in
/// `mercador-core`): the tests fail on it, the services log it.
pub fn finish(doc: &mut utoipa::openapi::OpenApi, name_fields: &[NameField]) -> Vec<String> {
    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.insert(NAME_COMPONENT.to_owned(), Name::schema());
    let mut problems = Vec::new();
    for field in name_fields {
        let property = match components.schemas.get_mut(field.schema) {
            Some(RefOr::T(Schema::Object(object))) => object.properties.get_mut(field.property),
            _ => None,
        };
        match property {
            Some(property) => *property = name_property(property, field.max_len),
            None => problems.push(format!("no property {}.{} to give the name rule", field.schema, field.property)),
        }
    }
    problems
}

/// A reference to the [`Name`] component, limited to `max_len` when shorter.
pub fn name_schema(max_len: usize, description: Option<String>) -> RefOr<Schema> {
    let mut reference = Ref::new(format!("#/components/schemas/{NAME_COMPONENT}"));
    if max_len >= Name::MAX_LEN {
        reference.description = description.unwrap_or_default();
        return RefOr::Ref(reference);
    }
    let mut all = AllOf::new();
    all.items =
        vec![RefOr::Ref(reference), ObjectBuilder::new().schema_type(Type::String).max_length(Some(max_len)).into()];
    all.description = description;
    RefOr::T(Schema::AllOf(all))
}

/// `current` (a string, perhaps nullable) as a name, keeping its description.
fn name_property(current: &RefOr<Schema>, max_len: usize) -> RefOr<Schema> {
    let (description, nullable) = match current {
        RefOr::T(Schema::Object(o)) => {
            (o.description.clone(), matches!(&o.schema_type, SchemaType::Array(types) if types.contains(&Type::Null)))
        }
        RefOr::Ref(r) => (Some(r.description.clone()).filter(|d| !d.is_empty()), false),
        RefOr::T(_) => (None, false),
    };
    let name = name_schema(max_len, description);
    if !nullable {
        return name;
    }
    let mut one = OneOf::new();
    one.items = vec![ObjectBuilder::new().schema_type(Type::Null).into(), name];
    RefOr::T(Schema::OneOf(one))
}

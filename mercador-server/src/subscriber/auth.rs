//! Who is calling the subscriber service: a Keystone A token
//! (`X-Auth-Token`, or `Authorization: Bearer`) validated with Keystone A
//! through the engine's admin session, cached under its SHA-256 and
//! admitted by an [`AdminPolicy`](crate::auth::AdminPolicy): the
//! publisher's [`TokenValidator`] with this service's [`WORDING`]. Every
//! `/v1/...` route is admin only ([`require_admin`]).

use crate::auth::{TokenValidator, Wording};

pub use crate::auth::require_admin;

/// Validates Keystone A tokens and admits admins.
pub type SubscriberAuth = TokenValidator;

/// What the subscriber service tells callers (Keystone A).
pub const WORDING: Wording = Wording {
    keystone: "Keystone A",
    dependency: mercador_core::outage::Dependency::KeystoneA,
    no_token: "no token: send a Keystone A admin token in the X-Auth-Token header",
    not_bearer: "the Authorization header is not \"Bearer <token>\"; send a Keystone A token in X-Auth-Token",
    invalid_token: "the token is invalid, expired or revoked; get a new one from Keystone A and send it in \
                    X-Auth-Token",
    unavailable: "the token cannot be validated",
    keystone_error: "the subscriber cannot validate tokens with Keystone A at the moment (the service log says why); \
                     retry later",
    admin_required: |policy| {
        format!(
            "the subscriber API needs a Keystone A token with role {:?} scoped to the system or to one of the \
             projects {}",
            policy.role,
            policy.projects.join(", ")
        )
    },
};

#[cfg(test)]
mod tests {
    use axum::http::header::AUTHORIZATION;
    use axum::http::{HeaderMap, HeaderValue};
    use secrecy::ExposeSecret;

    use super::*;
    use crate::auth::{TOKEN_HEADER, token_of};

    #[test]
    fn tokens_from_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(token_of(&h, &WORDING).unwrap_err().code(), "missing_token");
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(token_of(&h, &WORDING).unwrap().expose_secret(), "abc");
        h.insert(TOKEN_HEADER, HeaderValue::from_static("a b"));
        assert_eq!(token_of(&h, &WORDING).unwrap_err().code(), "invalid_token");
    }
}

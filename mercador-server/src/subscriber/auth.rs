//! Who is calling the subscriber service: a Keystone A token
//! (`X-Auth-Token`, or `Authorization: Bearer`) validated with Keystone A
//! through the engine's admin session, cached under its SHA-256 like the
//! publisher's ([`crate::auth`]), and admitted by the same [`AdminPolicy`].
//! Every `/v1/...` route is admin only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use mercador_core::ErrorKind;
use mercador_core::keystone::IdentityApi;
use moka::Expiry;
use moka::future::Cache;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::auth::{AdminCaller, AdminPolicy, INVALID_TTL, Identity, TOKEN_HEADER};
use crate::error::{ApiError, ApiResult};

const MAX_TOKEN_LEN: usize = 8192;

#[derive(Clone)]
enum Validation {
    Valid { identity: Arc<Identity>, ttl: Duration },
    Invalid,
}

struct ValidationExpiry;

impl Expiry<[u8; 32], Validation> for ValidationExpiry {
    fn expire_after_create(&self, _key: &[u8; 32], value: &Validation, _created_at: Instant) -> Option<Duration> {
        Some(match value {
            Validation::Valid { ttl, .. } => *ttl,
            Validation::Invalid => INVALID_TTL,
        })
    }
}

/// Validates Keystone A tokens and admits admins.
pub struct SubscriberAuth {
    keystone: Arc<dyn IdentityApi>,
    policy: AdminPolicy,
    max_ttl: Duration,
    cache: Cache<[u8; 32], Validation>,
}

impl std::fmt::Debug for SubscriberAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriberAuth").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl SubscriberAuth {
    /// Validates with `keystone` (A's admin), caching up to `capacity` tokens for at most `max_ttl`.
    pub fn new(keystone: Arc<dyn IdentityApi>, policy: AdminPolicy, max_ttl: Duration, capacity: u64) -> Self {
        let cache = Cache::builder().max_capacity(capacity).expire_after(ValidationExpiry).build();
        Self { keystone, policy, max_ttl, cache }
    }

    /// The bearer of the request's token; 401 without a valid one, 503 when Keystone A cannot say.
    pub async fn identify(&self, headers: &HeaderMap) -> ApiResult<Arc<Identity>> {
        let token = token_of(headers)?;
        let key: [u8; 32] = Sha256::digest(token.expose_secret().as_bytes()).into();
        let validation =
            self.cache.try_get_with(key, self.validate(token)).await.map_err(|e: Arc<ApiError>| ApiError::clone(&e))?;
        match validation {
            Validation::Valid { identity, .. } if identity.expires_at > Utc::now() => Ok(identity),
            Validation::Valid { .. } => {
                self.cache.invalidate(&key).await;
                Err(invalid_token())
            }
            Validation::Invalid => Err(invalid_token()),
        }
    }

    async fn validate(&self, token: SecretString) -> ApiResult<Validation> {
        match self.keystone.validate_token(&token).await {
            Ok(info) => {
                let identity = Arc::new(Identity::from(&info));
                let left = (identity.expires_at - Utc::now()).to_std().unwrap_or_default();
                tracing::debug!(user = %identity.user_id, "token validated");
                Ok(Validation::Valid { identity, ttl: left.min(self.max_ttl) })
            }
            Err(e) => match e.kind() {
                ErrorKind::NotFound | ErrorKind::InvalidInput => {
                    tracing::info!("Keystone A refused the token");
                    Ok(Validation::Invalid)
                }
                ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Tls => {
                    tracing::warn!(error = %e, "cannot validate a token: Keystone A unreachable");
                    Err(ApiError::unavailable(
                        "keystone_unavailable",
                        "Keystone A cannot be reached to validate the token; retry in a few seconds",
                        10,
                    ))
                }
                _ => {
                    tracing::error!(error = %e, "cannot validate a token with Keystone A");
                    Err(ApiError::unavailable(
                        "keystone_error",
                        "the subscriber cannot validate tokens with Keystone A at the moment (the service log says \
                         why); retry later",
                        30,
                    ))
                }
            },
        }
    }

    /// The caller as an admin; 403 otherwise.
    pub fn admin(&self, identity: &Identity) -> ApiResult<AdminCaller> {
        if self.policy.admits(identity) {
            return Ok(AdminCaller { user_id: identity.user_id.clone() });
        }
        Err(ApiError::forbidden(
            "admin_required",
            format!(
                "the subscriber API needs a Keystone A token with role {:?} scoped to the system or to one of the \
                 projects {}",
                self.policy.role,
                self.policy.projects.join(", ")
            ),
        ))
    }
}

fn invalid_token() -> ApiError {
    ApiError::unauthorized(
        "invalid_token",
        "the token is invalid, expired or revoked; get a new one from Keystone A and send it in X-Auth-Token",
    )
}

fn token_of(headers: &HeaderMap) -> ApiResult<SecretString> {
    let missing = |message: &'static str| ApiError::unauthorized("missing_token", message);
    let value = match (headers.get(TOKEN_HEADER), headers.get(AUTHORIZATION)) {
        (Some(v), _) => v.as_bytes(),
        (None, Some(v)) => {
            let v = v.as_bytes();
            match v.get(..7) {
                Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => v.get(7..).unwrap_or_default(),
                _ => {
                    return Err(missing(
                        "the Authorization header is not \"Bearer <token>\"; send a Keystone A token in X-Auth-Token",
                    ));
                }
            }
        }
        (None, None) => return Err(missing("no token: send a Keystone A admin token in the X-Auth-Token header")),
    };
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > MAX_TOKEN_LEN || !value.iter().all(|b| b.is_ascii_graphic()) {
        return Err(invalid_token());
    }
    Ok(SecretString::from(String::from_utf8_lossy(value).into_owned()))
}

/// Middleware of every `/v1` route: 401/403 unless the caller is an admin of Keystone A.
pub async fn require_admin(State(auth): State<Arc<SubscriberAuth>>, mut request: Request, next: Next) -> Response {
    let caller = match auth.identify(request.headers()).await.and_then(|id| auth.admin(&id)) {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    tracing::Span::current().record("caller", format!("admin:{}", caller.user_id));
    request.extensions_mut().insert(caller);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn tokens_from_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(token_of(&h).unwrap_err().code(), "missing_token");
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(token_of(&h).unwrap().expose_secret(), "abc");
        h.insert(TOKEN_HEADER, HeaderValue::from_static("a b"));
        assert_eq!(token_of(&h).unwrap_err().code(), "invalid_token");
    }
}

//! Who is calling: every request of the two faces carries a Keystone B token
//! (`X-Auth-Token`, or `Authorization: Bearer`), validated with Keystone B
//! through the engine's admin session.
//!
//! - Valid tokens are cached under the SHA-256 of the token (never the token
//!   itself) until they expire, and at most `[keystone] token_cache_ttl_secs`;
//!   tokens Keystone refuses are remembered for [`INVALID_TTL`] only.
//!   Concurrent requests with the same new token cause one validation.
//! - The admin face ([`require_admin`]) wants the configured admin role on a
//!   system-scoped token or on one of the configured admin projects. A
//!   domain-scoped token is never an admin: vregion admin users (handed to
//!   partners) hold the admin role on their vregion's domain.
//! - The exchange face ([`require_partner`]) wants a token scoped to the
//!   project of an active partner (what its application credential gives).
//!   The partner's name then comes from the token only, never from the request.
//!
//! Keystone unreachable while validating: 503, nothing cached.
//!
//! [`TokenValidator`] (token extraction, validation cache, admin policy) is
//! shared with the subscriber service ([`crate::subscriber::auth`]), which
//! validates Keystone A tokens with its own [`Wording`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use mercador_core::ErrorKind;
use mercador_core::keystone::{IdentityApi, TokenInfo};
use mercador_core::model::Name;
use mercador_core::publisher::Publisher;
use mercador_core::store::PartnerState;
use moka::Expiry;
use moka::future::Cache;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};

/// The token header.
pub const TOKEN_HEADER: &str = "x-auth-token";

/// How long a token Keystone refused is refused without asking again.
pub const INVALID_TTL: Duration = Duration::from_secs(5);

/// Longest token accepted (Fernet tokens are ~200 bytes, JWS ~800).
const MAX_TOKEN_LEN: usize = 8192;

/// What a validated token says about its bearer (no catalog, no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Keystone user id.
    pub user_id: String,
    /// User name.
    pub user_name: Option<String>,
    /// Scoped project id.
    pub project_id: Option<String>,
    /// Scoped project name and its domain name.
    pub project: Option<(String, String)>,
    /// Domain-scoped.
    pub domain_scoped: bool,
    /// System-scoped.
    pub system_scoped: bool,
    /// Role names on the scope.
    pub roles: Vec<String>,
    /// Expiry of the token.
    pub expires_at: DateTime<Utc>,
}

impl From<&TokenInfo> for Identity {
    fn from(t: &TokenInfo) -> Self {
        Self {
            user_id: t.user.id.clone(),
            user_name: t.user.name.clone(),
            project_id: t.project.as_ref().map(|p| p.id.clone()),
            project: t.project.as_ref().map(|p| {
                let domain = p.domain.as_ref().and_then(|d| d.name.clone()).unwrap_or_default();
                (domain, p.name.clone().unwrap_or_default())
            }),
            domain_scoped: t.is_domain_scoped(),
            system_scoped: t.is_system_scoped(),
            roles: t.role_names().into_iter().map(str::to_owned).collect(),
            expires_at: t.expires_at,
        }
    }
}

/// An admin of the publisher (admin face).
#[derive(Debug, Clone)]
pub struct AdminCaller {
    /// Keystone user id.
    pub user_id: String,
}

/// A partner (exchange face). Handlers take the partner from here, never
/// from the request.
#[derive(Debug, Clone)]
pub struct PartnerCaller {
    /// The partner.
    pub partner: Name,
    /// Keystone user id (the partner's user).
    pub user_id: String,
}

/// Who is an admin of the API.
#[derive(Debug, Clone)]
pub struct AdminPolicy {
    /// The role.
    pub role: String,
    /// Projects (`"<domain name>/<project name>"`) where the role counts.
    pub projects: Vec<String>,
}

impl AdminPolicy {
    /// Whether this identity is an admin of the API.
    pub fn admits(&self, id: &Identity) -> bool {
        let has_role = id.roles.iter().any(|r| r.eq_ignore_ascii_case(&self.role));
        let scope_ok = id.system_scoped
            || id.project.as_ref().is_some_and(|(domain, project)| {
                self.projects
                    .iter()
                    .any(|p| p.split_once('/').is_some_and(|(d, n)| d.eq_ignore_ascii_case(domain) && n == project))
            });
        has_role && scope_ok && !id.domain_scoped
    }
}

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

/// What a [`TokenValidator`] tells its callers: each service names its own
/// Keystone and API.
#[derive(Debug)]
pub struct Wording {
    /// The Keystone validating tokens ("Keystone B"), in log messages.
    pub keystone: &'static str,
    /// The same, as the dependency an outage names.
    pub dependency: mercador_core::outage::Dependency,
    /// 401 `missing_token` without any token header.
    pub no_token: &'static str,
    /// 401 `missing_token` when `Authorization` is not `Bearer <token>`.
    pub not_bearer: &'static str,
    /// 401 `invalid_token`.
    pub invalid_token: &'static str,
    /// 503 `keystone_unavailable`: Keystone unreachable.
    pub unavailable: &'static str,
    /// 503 `keystone_error`: any other failure to validate.
    pub keystone_error: &'static str,
    /// 403 `admin_required`, from the policy.
    pub admin_required: fn(&AdminPolicy) -> String,
}

/// The publisher's wording (Keystone B).
pub const PUBLISHER_WORDING: Wording = Wording {
    keystone: "Keystone B",
    dependency: mercador_core::outage::Dependency::KeystoneB,
    no_token: "no token: send a Keystone B token in the X-Auth-Token header",
    not_bearer: "the Authorization header is not \"Bearer <token>\"; send a Keystone B token in X-Auth-Token",
    invalid_token: "the token is invalid, expired or revoked; get a new one from Keystone B and send it in \
                    X-Auth-Token",
    unavailable: "the token cannot be validated",
    keystone_error: "the publisher cannot validate tokens with Keystone B at the moment (its operators find why in \
                     the service log); retry later",
    admin_required: |policy| {
        format!(
            "the admin API needs a token with role {:?} scoped to the system or to one of the projects {} of \
             Keystone B; partners use /v1/exchange",
            policy.role,
            policy.projects.join(", ")
        )
    },
};

/// Validates tokens with one Keystone (through an admin session), caches
/// the answers under the tokens' SHA-256, and admits admins by an
/// [`AdminPolicy`]. Shared by the publisher ([`Authenticator`]) and the
/// subscriber service.
pub struct TokenValidator {
    keystone: Arc<dyn IdentityApi>,
    policy: AdminPolicy,
    max_ttl: Duration,
    cache: Cache<[u8; 32], Validation>,
    wording: &'static Wording,
}

impl fmt::Debug for TokenValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenValidator")
            .field("policy", &self.policy)
            .field("max_ttl", &self.max_ttl)
            .field("cached", &self.cache.entry_count())
            .finish_non_exhaustive()
    }
}

impl AsRef<TokenValidator> for TokenValidator {
    fn as_ref(&self) -> &TokenValidator {
        self
    }
}

impl TokenValidator {
    /// A validator asking `keystone` (an admin session), caching up to
    /// `capacity` tokens for at most `max_ttl` each.
    pub fn new(
        keystone: Arc<dyn IdentityApi>,
        policy: AdminPolicy,
        max_ttl: Duration,
        capacity: u64,
        wording: &'static Wording,
    ) -> Self {
        let cache = Cache::builder().max_capacity(capacity).expire_after(ValidationExpiry).build();
        Self { keystone, policy, max_ttl, cache, wording }
    }

    /// The bearer of the request's token; 401 without a valid one, 503 when
    /// Keystone cannot say.
    pub async fn identify(&self, headers: &HeaderMap) -> ApiResult<Arc<Identity>> {
        let token = token_of(headers, self.wording)?;
        let key: [u8; 32] = Sha256::digest(token.expose_secret().as_bytes()).into();
        let validation =
            self.cache.try_get_with(key, self.validate(token)).await.map_err(|e: Arc<ApiError>| ApiError::clone(&e))?;
        match validation {
            Validation::Valid { identity, .. } if identity.expires_at > Utc::now() => Ok(identity),
            Validation::Valid { .. } => {
                self.cache.invalidate(&key).await;
                Err(invalid_token(self.wording))
            }
            Validation::Invalid => Err(invalid_token(self.wording)),
        }
    }

    async fn validate(&self, token: SecretString) -> ApiResult<Validation> {
        let keystone = self.wording.keystone;
        match self.keystone.validate_token(&token).await {
            Ok(info) => {
                let identity = Arc::new(Identity::from(&info));
                let left = (identity.expires_at - Utc::now()).to_std().unwrap_or_default();
                tracing::debug!(user = %identity.user_id, "token validated");
                Ok(Validation::Valid { identity, ttl: left.min(self.max_ttl) })
            }
            Err(e) => match e.kind() {
                ErrorKind::NotFound | ErrorKind::InvalidInput => {
                    tracing::info!("{keystone} refused the token");
                    Ok(Validation::Invalid)
                }
                ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Tls => {
                    tracing::warn!(error = %e, "cannot validate a token: {keystone} unreachable");
                    match mercador_core::outage::Outage::of_keystone(self.wording.dependency, &e) {
                        Some(outage) => Err(ApiError::outage(outage, self.wording.unavailable)),
                        None => Err(ApiError::unavailable("keystone_unavailable", self.wording.unavailable, 10)),
                    }
                }
                _ => {
                    tracing::error!(error = %e, "cannot validate a token with {keystone}");
                    Err(ApiError::unavailable("keystone_error", self.wording.keystone_error, 30))
                }
            },
        }
    }

    /// The caller as an admin; 403 otherwise.
    pub fn admin(&self, identity: &Identity) -> ApiResult<AdminCaller> {
        if self.policy.admits(identity) {
            return Ok(AdminCaller { user_id: identity.user_id.clone() });
        }
        Err(ApiError::forbidden("admin_required", (self.wording.admin_required)(&self.policy)))
    }
}

/// Validates tokens with Keystone B ([`TokenValidator`]) and tells admins
/// and partners apart.
pub struct Authenticator {
    validator: TokenValidator,
    publisher: Publisher,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator").field("validator", &self.validator).finish_non_exhaustive()
    }
}

impl AsRef<TokenValidator> for Authenticator {
    fn as_ref(&self) -> &TokenValidator {
        &self.validator
    }
}

impl Authenticator {
    /// An authenticator validating with the engine's Keystone B session,
    /// caching up to `capacity` tokens for at most `max_ttl` each.
    pub fn new(publisher: Publisher, policy: AdminPolicy, max_ttl: Duration, capacity: u64) -> Self {
        let validator =
            TokenValidator::new(publisher.keystone().clone(), policy, max_ttl, capacity, &PUBLISHER_WORDING);
        Self { validator, publisher }
    }

    /// The bearer of the request's token; 401 without a valid one, 503 when
    /// Keystone B cannot say.
    pub async fn identify(&self, headers: &HeaderMap) -> ApiResult<Arc<Identity>> {
        self.validator.identify(headers).await
    }

    /// The caller as an admin; 403 otherwise.
    pub fn admin(&self, identity: &Identity) -> ApiResult<AdminCaller> {
        self.validator.admin(identity)
    }

    /// The caller as a partner; 403 otherwise.
    pub async fn partner(&self, identity: &Identity) -> ApiResult<PartnerCaller> {
        let not_partner = || {
            ApiError::forbidden(
                "partner_required",
                "the exchange API needs a token scoped to a partner's project: authenticate with the application \
                 credential the publisher handed over when onboarding you; admins use /v1/admin",
            )
        };
        let Some(project_id) = identity.project_id.as_deref() else {
            return Err(not_partner());
        };
        let publisher = self.publisher.clone();
        let project_id = project_id.to_owned();
        let partner = crate::publisher::engine(async move { publisher.partner_for_project(&project_id).await })
            .await?
            .filter(|p| p.state == PartnerState::Active)
            .ok_or_else(not_partner)?;
        Ok(PartnerCaller { partner: partner.name, user_id: identity.user_id.clone() })
    }
}

fn invalid_token(wording: &Wording) -> ApiError {
    ApiError::unauthorized("invalid_token", wording.invalid_token)
}

/// The token of the request: `X-Auth-Token`, else `Authorization: Bearer`.
pub(crate) fn token_of(headers: &HeaderMap, wording: &Wording) -> ApiResult<SecretString> {
    let missing = |message: &'static str| ApiError::unauthorized("missing_token", message);
    let value = match (headers.get(TOKEN_HEADER), headers.get(AUTHORIZATION)) {
        (Some(v), _) => v.as_bytes(),
        (None, Some(v)) => {
            let v = v.as_bytes();
            match v.get(..7) {
                Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => v.get(7..).unwrap_or_default(),
                _ => return Err(missing(wording.not_bearer)),
            }
        }
        (None, None) => return Err(missing(wording.no_token)),
    };
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > MAX_TOKEN_LEN || !value.iter().all(|b| b.is_ascii_graphic()) {
        return Err(invalid_token(wording));
    }
    Ok(SecretString::from(String::from_utf8_lossy(value).into_owned()))
}

/// Middleware of the admin face (and of every subscriber route): 401/403
/// unless the caller is an admin; puts an [`AdminCaller`] in the request's
/// extensions.
pub async fn require_admin<A: AsRef<TokenValidator>>(
    State(auth): State<Arc<A>>,
    mut request: Request,
    next: Next,
) -> Response {
    let auth = (*auth).as_ref();
    let caller = match auth.identify(request.headers()).await.and_then(|id| auth.admin(&id)) {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    tracing::Span::current().record("caller", format!("admin:{}", caller.user_id));
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// Middleware of the exchange face: 401/403 unless the caller is an active
/// partner; puts a [`PartnerCaller`] in the request's extensions.
pub async fn require_partner(State(auth): State<Arc<Authenticator>>, mut request: Request, next: Next) -> Response {
    let caller = match auth.identify(request.headers()).await {
        Ok(identity) => auth.partner(&identity).await,
        Err(e) => Err(e),
    };
    let caller = match caller {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    tracing::Span::current().record("caller", format!("partner:{}", caller.partner));
    request.extensions_mut().insert(caller);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn identity(roles: &[&str], project: Option<(&str, &str)>, domain_scoped: bool, system: bool) -> Identity {
        Identity {
            user_id: "u".into(),
            user_name: None,
            project_id: project.map(|_| "p".into()),
            project: project.map(|(d, p)| (d.into(), p.into())),
            domain_scoped,
            system_scoped: system,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            expires_at: Utc::now(),
        }
    }

    #[test]
    fn admin_policy() {
        let policy = AdminPolicy { role: "admin".into(), projects: vec!["Default/admin".into()] };
        assert!(policy.admits(&identity(&["admin"], Some(("Default", "admin")), false, false)));
        assert!(policy.admits(&identity(&["reader", "Admin"], None, false, true)));
        assert!(!policy.admits(&identity(&["member"], Some(("Default", "admin")), false, false)));
        assert!(!policy.admits(&identity(&["admin"], Some(("Default", "demo")), false, false)));
        // A vregion admin user: admin on its vregion's domain.
        assert!(!policy.admits(&identity(&["admin"], None, true, false)));
    }

    #[test]
    fn tokens_from_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(token_of(&h, &PUBLISHER_WORDING).unwrap_err().code(), "missing_token");
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(token_of(&h, &PUBLISHER_WORDING).unwrap_err().code(), "missing_token");
        h.insert(AUTHORIZATION, HeaderValue::from_static("bearer  gAAAA123 "));
        assert_eq!(token_of(&h, &PUBLISHER_WORDING).unwrap().expose_secret(), "gAAAA123");
        h.insert(TOKEN_HEADER, HeaderValue::from_static("xyz"));
        assert_eq!(token_of(&h, &PUBLISHER_WORDING).unwrap().expose_secret(), "xyz");
        h.insert(TOKEN_HEADER, HeaderValue::from_static("a b"));
        assert_eq!(token_of(&h, &PUBLISHER_WORDING).unwrap_err().code(), "invalid_token");
        h.insert(TOKEN_HEADER, HeaderValue::from_str(&"a".repeat(MAX_TOKEN_LEN + 1)).unwrap());
        assert_eq!(token_of(&h, &PUBLISHER_WORDING).unwrap_err().code(), "invalid_token");
    }
}

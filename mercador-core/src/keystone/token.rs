//! Keystone tokens: the secret and what Keystone says about it.

use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use super::catalog::Catalog;

/// A reference to a named object (`{"id": ..., "name": ...}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedRef {
    /// Id.
    pub id: String,
    /// Name, when Keystone sends it.
    #[serde(default)]
    pub name: Option<String>,
}

/// A user, project or domain reference inside a token, with its domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopedRef {
    /// Id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Owning domain.
    #[serde(default)]
    pub domain: Option<NamedRef>,
}

/// Federation facts of a federated user (`user["OS-FEDERATION"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederationInfo {
    /// The identity provider the user came from.
    pub identity_provider: IdRef,
    /// The protocol used (`saml2`, `mapped`...).
    pub protocol: IdRef,
    /// The groups the mapping placed the user in.
    #[serde(default)]
    pub groups: Vec<IdRef>,
}

/// `{"id": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRef {
    /// Id.
    pub id: String,
}

/// The user of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUser {
    /// User id.
    pub id: String,
    /// User name.
    #[serde(default)]
    pub name: Option<String>,
    /// The user's domain.
    #[serde(default)]
    pub domain: Option<NamedRef>,
    /// Present when the user is federated.
    #[serde(default, rename = "OS-FEDERATION")]
    pub federation: Option<FederationInfo>,
}

/// A Keystone-to-Keystone service provider listed in a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenServiceProvider {
    /// Service provider id (in the identity provider's Keystone).
    pub id: String,
    /// The service provider's federated auth URL.
    pub auth_url: Url,
    /// Where the ECP envelope is posted (the SAML SP's ECP endpoint).
    pub sp_url: Url,
}

/// What Keystone says about a token (the body of `POST`/`GET /v3/auth/tokens`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Authentication methods used (`password`, `token`, `saml2`...).
    #[serde(default)]
    pub methods: Vec<String>,
    /// The user.
    pub user: TokenUser,
    /// Expiry time.
    pub expires_at: DateTime<Utc>,
    /// Issue time.
    #[serde(default)]
    pub issued_at: Option<DateTime<Utc>>,
    /// Audit ids (the first identifies this token, the second its parent chain).
    #[serde(default)]
    pub audit_ids: Vec<String>,
    /// Scoped project.
    #[serde(default)]
    pub project: Option<ScopedRef>,
    /// Scoped domain.
    #[serde(default)]
    pub domain: Option<NamedRef>,
    /// System scope (`{"all": true}`).
    #[serde(default)]
    pub system: Option<serde_json::Value>,
    /// Roles on the scope.
    #[serde(default)]
    pub roles: Vec<NamedRef>,
    /// Service catalog (empty for unscoped tokens).
    #[serde(default)]
    pub catalog: Catalog,
    /// Enabled K2K service providers of the identity provider.
    #[serde(default)]
    pub service_providers: Vec<TokenServiceProvider>,
    /// Set on application-credential tokens.
    #[serde(default)]
    pub application_credential: Option<serde_json::Value>,
}

impl TokenInfo {
    /// True when the token belongs to a federated user.
    pub fn is_federated(&self) -> bool {
        self.user.federation.is_some()
    }

    /// True when the token carries a project scope.
    pub fn is_project_scoped(&self) -> bool {
        self.project.is_some()
    }

    /// True when the token carries a domain scope.
    pub fn is_domain_scoped(&self) -> bool {
        self.domain.is_some()
    }

    /// True when the token carries the system scope.
    pub fn is_system_scoped(&self) -> bool {
        self.system.is_some()
    }

    /// True when the token has no scope.
    pub fn is_unscoped(&self) -> bool {
        !self.is_project_scoped() && !self.is_domain_scoped() && !self.is_system_scoped()
    }

    /// Role names on the scope.
    pub fn role_names(&self) -> Vec<&str> {
        self.roles.iter().filter_map(|r| r.name.as_deref()).collect()
    }

    /// True when the token has a role of this name.
    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r.name.as_deref() == Some(name))
    }

    /// The service provider of this id listed in the token.
    pub fn service_provider(&self, id: &str) -> Option<&TokenServiceProvider> {
        self.service_providers.iter().find(|sp| sp.id == id)
    }
}

/// A token: the secret (`X-Subject-Token`) and its [`TokenInfo`].
///
/// `Debug` never prints the secret.
#[derive(Clone)]
pub struct Token {
    secret: SecretString,
    info: TokenInfo,
}

impl Token {
    /// Builds a token from its secret and body.
    pub fn new(secret: SecretString, info: TokenInfo) -> Self {
        Self { secret, info }
    }

    /// The secret, to put in `X-Auth-Token`. Never log it.
    pub fn secret(&self) -> &SecretString {
        &self.secret
    }

    /// What Keystone says about the token.
    pub fn info(&self) -> &TokenInfo {
        &self.info
    }

    /// Expiry time.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.info.expires_at
    }

    /// True when the token stays valid for at least `margin` from now.
    pub fn valid_for(&self, margin: std::time::Duration) -> bool {
        let margin = chrono::Duration::from_std(margin).unwrap_or(chrono::Duration::MAX);
        Utc::now().checked_add_signed(margin).is_some_and(|deadline| deadline < self.info.expires_at)
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.info.catalog
    }

    /// True when this is the same secret as `other`, compared in constant time
    /// with respect to the content of the secrets.
    pub(crate) fn same_secret(&self, other: &SecretString) -> bool {
        let a = self.secret.expose_secret().as_bytes();
        let b = other.expose_secret().as_bytes();
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl std::ops::Deref for Token {
    type Target = TokenInfo;

    fn deref(&self) -> &TokenInfo {
        &self.info
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("secret", &"[REDACTED]")
            .field("user", &self.info.user.id)
            .field("project", &self.info.project.as_ref().map(|p| &p.id))
            .field("domain", &self.info.domain.as_ref().map(|d| &d.id))
            .field("system", &self.info.system.is_some())
            .field("methods", &self.info.methods)
            .field("expires_at", &self.info.expires_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample_info(expires_in_secs: i64) -> TokenInfo {
        serde_json::from_value(serde_json::json!({
            "methods": ["password"],
            "user": {"id": "u1", "name": "alice", "domain": {"id": "default", "name": "Default"}},
            "expires_at": (Utc::now() + chrono::Duration::seconds(expires_in_secs)).to_rfc3339(),
            "issued_at": "2026-11-22T08:00:00.000000Z",
            "audit_ids": ["abc"],
            "project": {"id": "p1", "name": "demo", "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": "r1", "name": "member"}],
            "catalog": [],
            "service_providers": [{"id": "sp1", "auth_url": "http://b/v3/auth", "sp_url": "http://b/ecp"}]
        }))
        .unwrap()
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let t = Token::new(SecretString::from("gAAAAAsupersecret"), sample_info(3600));
        let s = format!("{t:?}");
        assert!(!s.contains("supersecret"), "{s}");
        assert!(s.contains("REDACTED"));
    }

    #[test]
    fn validity_margin_and_scope() {
        let t = Token::new(SecretString::from("x"), sample_info(120));
        assert!(t.valid_for(std::time::Duration::from_secs(60)));
        assert!(!t.valid_for(std::time::Duration::from_secs(180)));
        assert!(t.is_project_scoped() && !t.is_unscoped() && !t.is_federated());
        assert!(t.has_role("member"));
        assert_eq!(t.service_provider("sp1").unwrap().sp_url.as_str(), "http://b/ecp");
        assert!(t.same_secret(&SecretString::from("x")));
        assert!(!t.same_secret(&SecretString::from("y")));
    }
}

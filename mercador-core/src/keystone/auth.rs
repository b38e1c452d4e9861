//! Authentication: credentials, scopes, and the [`AuthMethod`] trait.
//!
//! Each way of obtaining a token is one implementation of [`AuthMethod`]:
//! [`DirectAuth`] covers the methods a Keystone handles itself (password,
//! token, application credential); Keystone-to-Keystone federation plugs in
//! the same way.

use std::fmt;

use async_trait::async_trait;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

use super::error::{Error, ErrorKind, Result, secrets_in};
use super::http::{HttpClient, Request, SUBJECT_TOKEN};
use super::token::{Token, TokenInfo};

/// A domain, by id or by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DomainRef {
    /// By id.
    Id(String),
    /// By name.
    Name(String),
}

impl DomainRef {
    fn to_json(&self) -> Value {
        match self {
            Self::Id(id) => json!({"id": id}),
            Self::Name(name) => json!({"name": name}),
        }
    }
}

impl fmt::Display for DomainRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "domain id {id}"),
            Self::Name(name) => write!(f, "domain {name}"),
        }
    }
}

/// A user or project named inside a domain, or given by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NameOrId {
    /// By id.
    Id(String),
    /// By name inside a domain.
    Name {
        /// Name.
        name: String,
        /// Owning domain.
        domain: DomainRef,
    },
}

impl NameOrId {
    /// By name inside a domain given by name.
    pub fn name_in(name: impl Into<String>, domain_name: impl Into<String>) -> Self {
        Self::Name { name: name.into(), domain: DomainRef::Name(domain_name.into()) }
    }

    /// By id.
    pub fn id(id: impl Into<String>) -> Self {
        Self::Id(id.into())
    }

    fn to_json(&self) -> Value {
        match self {
            Self::Id(id) => json!({"id": id}),
            Self::Name { name, domain } => json!({"name": name, "domain": domain.to_json()}),
        }
    }
}

impl fmt::Display for NameOrId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "id {id}"),
            Self::Name { name, domain } => write!(f, "{name} in {domain}"),
        }
    }
}

/// What a token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Scope {
    /// No scope (explicitly: the user's default project is not applied).
    #[default]
    Unscoped,
    /// A project.
    Project(NameOrId),
    /// A domain.
    Domain(DomainRef),
    /// The whole deployment (`{"system": {"all": true}}`).
    System,
}

impl Scope {
    /// Project scope by name inside a domain given by name.
    pub fn project(name: impl Into<String>, domain_name: impl Into<String>) -> Self {
        Self::Project(NameOrId::name_in(name, domain_name))
    }

    /// Project scope by id.
    pub fn project_id(id: impl Into<String>) -> Self {
        Self::Project(NameOrId::id(id))
    }

    /// Domain scope by name.
    pub fn domain(name: impl Into<String>) -> Self {
        Self::Domain(DomainRef::Name(name.into()))
    }

    /// Domain scope by id.
    pub fn domain_id(id: impl Into<String>) -> Self {
        Self::Domain(DomainRef::Id(id.into()))
    }

    /// The `scope` member of an auth request.
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Self::Unscoped => json!("unscoped"),
            Self::Project(p) => json!({"project": p.to_json()}),
            Self::Domain(d) => json!({"domain": d.to_json()}),
            Self::System => json!({"system": {"all": true}}),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unscoped => f.write_str("unscoped"),
            Self::Project(p) => write!(f, "project {p}"),
            Self::Domain(d) => write!(f, "{d}"),
            Self::System => f.write_str("system"),
        }
    }
}

/// An application credential, by id or by name of one of a user's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppCredentialRef {
    /// By id.
    Id(String),
    /// By name, with its owner.
    Name {
        /// Credential name.
        name: String,
        /// Owner.
        user: NameOrId,
    },
}

/// Credentials a Keystone verifies itself. `Debug` redacts every secret.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// User and password.
    Password {
        /// The user.
        user: NameOrId,
        /// The password.
        password: SecretString,
    },
    /// An existing token (re-scoping, or a token handed over by a caller).
    Token {
        /// The token.
        token: SecretString,
    },
    /// An application credential (bound to its project: the scope is implied).
    ApplicationCredential {
        /// Which credential.
        credential: AppCredentialRef,
        /// Its secret.
        secret: SecretString,
    },
}

impl Credentials {
    /// Password credentials for a user named in a domain given by name.
    pub fn password(user: impl Into<String>, user_domain: impl Into<String>, password: SecretString) -> Self {
        Self::Password { user: NameOrId::name_in(user, user_domain), password }
    }

    /// Application credential by id.
    pub fn application_credential(id: impl Into<String>, secret: SecretString) -> Self {
        Self::ApplicationCredential { credential: AppCredentialRef::Id(id.into()), secret }
    }

    fn method(&self) -> &'static str {
        match self {
            Self::Password { .. } => "password",
            Self::Token { .. } => "token",
            Self::ApplicationCredential { .. } => "application_credential",
        }
    }

    /// The `identity` member of an auth request. Holds the secret: never log it.
    fn identity_json(&self) -> Value {
        let method = self.method();
        let body = match self {
            Self::Password { user, password } => {
                let mut u = user.to_json();
                u["password"] = json!(password.expose_secret());
                json!({"user": u})
            }
            Self::Token { token } => json!({"id": token.expose_secret()}),
            Self::ApplicationCredential { credential, secret } => match credential {
                AppCredentialRef::Id(id) => json!({"id": id, "secret": secret.expose_secret()}),
                AppCredentialRef::Name { name, user } => {
                    json!({"name": name, "user": user.to_json(), "secret": secret.expose_secret()})
                }
            },
        };
        json!({"methods": [method], method: body})
    }
}

/// One way of obtaining a token from a Keystone.
///
/// Implementations hold their credentials; a [`super::Session`] caches the
/// tokens they produce and asks again when a token nears expiry or is refused.
#[async_trait]
pub trait AuthMethod: Send + Sync + fmt::Debug {
    /// The identity v3 endpoint (ending in `/v3`) the tokens are valid on.
    fn auth_url(&self) -> &Url;

    /// Obtains a new token with this scope.
    async fn authenticate(&self, http: &HttpClient, scope: &Scope) -> Result<Token>;
}

/// Authentication a Keystone performs itself: password, token or application
/// credential, against `auth_url`.
#[derive(Debug, Clone)]
pub struct DirectAuth {
    auth_url: Url,
    credentials: Credentials,
}

impl DirectAuth {
    /// `auth_url` is the identity endpoint; `/v3` is appended when missing.
    pub fn new(auth_url: &Url, credentials: Credentials) -> Result<Self> {
        Ok(Self { auth_url: identity_v3_url(auth_url)?, credentials })
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }
}

#[async_trait]
impl AuthMethod for DirectAuth {
    fn auth_url(&self) -> &Url {
        &self.auth_url
    }

    async fn authenticate(&self, http: &HttpClient, scope: &Scope) -> Result<Token> {
        let mut auth = json!({"identity": self.credentials.identity_json()});
        match (&self.credentials, scope) {
            // An application credential carries its own project scope; Keystone
            // refuses any other.
            (Credentials::ApplicationCredential { .. }, Scope::Unscoped) => {}
            (Credentials::ApplicationCredential { .. }, other) => {
                return Err(Error::InvalidInput(format!(
                    "an application credential is bound to its project and cannot be scoped to {other}; \
                     remove the scope (project/domain/system) from the configuration"
                )));
            }
            (_, scope) => auth["scope"] = scope.to_json(),
        }
        issue_token(http, &self.auth_url, json!({"auth": auth})).await
    }
}

/// `POST {auth_url}/auth/tokens` with `body`; returns the token.
pub(crate) async fn issue_token(http: &HttpClient, auth_url: &Url, body: Value) -> Result<Token> {
    let url = join(auth_url, "auth/tokens")?;
    let response = match http.send(Request::new(Method::POST, url).json(body.clone())).await {
        Ok(response) => response,
        Err(e) => return Err(refused(e).redact(&secrets_in(&body))),
    };
    let secret = response.header(SUBJECT_TOKEN).map(|s| SecretString::from(s.to_owned())).ok_or_else(|| {
        Error::invalid_response(response.method.clone(), response.url.clone(), "no X-Subject-Token header")
    })?;
    let info: TokenInfo = response.json_field("token")?;
    tracing::debug!(user = %info.user.id, expires_at = %info.expires_at, "token issued");
    Ok(Token::new(secret, info))
}

/// Keystone answers an authentication with 404 rather than 401 when the
/// credential itself is unknown ("Could not find Application Credential: ...",
/// "Could not recognize Fernet token"): for the caller, the credentials were
/// refused.
fn refused(e: Error) -> Error {
    match e {
        Error::Api { kind: ErrorKind::NotFound, method, url, status, message } => {
            Error::Api { kind: ErrorKind::AuthenticationFailed, method, url, status, message }
        }
        other => other,
    }
}

/// Normalises an identity endpoint to end with `/v3` (no trailing slash).
pub fn identity_v3_url(url: &Url) -> Result<Url> {
    if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
        return Err(Error::InvalidInput(format!("{url} is not an http(s) URL of a Keystone endpoint")));
    }
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/').to_owned();
    if path.ends_with("/v3") {
        url.set_path(&path);
    } else {
        url.set_path(&format!("{path}/v3"));
    }
    Ok(url)
}

/// `base` + `/` + `path` (base without trailing slash).
pub fn join(base: &Url, path: &str) -> Result<Url> {
    let joined = format!("{}/{}", base.as_str().trim_end_matches('/'), path.trim_start_matches('/'));
    Url::parse(&joined).map_err(|e| Error::InvalidInput(format!("cannot build a URL from {joined:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_normalisation() {
        for (input, want) in [
            ("http://k:5000", "http://k:5000/v3"),
            ("http://k:5000/", "http://k:5000/v3"),
            ("http://k:5000/v3", "http://k:5000/v3"),
            ("http://k:5000/v3/", "http://k:5000/v3"),
            ("https://k/identity/v3?x=1", "https://k/identity/v3"),
        ] {
            assert_eq!(identity_v3_url(&Url::parse(input).unwrap()).unwrap().as_str(), want, "{input}");
        }
        assert!(identity_v3_url(&Url::parse("ftp://k/").unwrap()).is_err());
    }

    #[test]
    fn request_bodies() {
        let c = Credentials::password("admin", "Default", SecretString::from("pw"));
        assert_eq!(
            c.identity_json(),
            json!({"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": "pw"}}})
        );
        let c = Credentials::application_credential("ac1", SecretString::from("s"));
        assert_eq!(
            c.identity_json(),
            json!({"methods": ["application_credential"], "application_credential": {"id": "ac1", "secret": "s"}})
        );
        assert_eq!(Scope::System.to_json(), json!({"system": {"all": true}}));
        assert_eq!(Scope::Unscoped.to_json(), json!("unscoped"));
        assert_eq!(Scope::project_id("p").to_json(), json!({"project": {"id": "p"}}));
        assert_eq!(Scope::domain("D").to_json(), json!({"domain": {"name": "D"}}));
    }

    #[test]
    fn credentials_debug_redacts() {
        let c = Credentials::password("admin", "Default", SecretString::from("hunter2"));
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2"), "{s}");
    }
}

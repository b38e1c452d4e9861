//! [`Keystone2Keystone`]: a token on a service provider's Keystone obtained
//! with a SAML assertion from the identity provider's Keystone.
//!
//! The flow, as keystoneauth1's `Keystone2Keystone` does it:
//! 1. a project-scoped token on the identity provider (the IdP session);
//! 2. `POST {idp}/v3/auth/OS-FEDERATION/saml2/ecp` with that token and the
//!    service provider id: Keystone returns a signed SAML assertion wrapped in
//!    an ECP SOAP envelope;
//! 3. `POST` of the envelope to the service provider's `sp_url` (its SAML SP,
//!    e.g. Shibboleth, `application/vnd.paos+xml`, redirects not followed):
//!    the SP validates the assertion and answers 302/303 with a session cookie;
//! 4. `GET` of the service provider's `auth_url` with that cookie: Keystone
//!    maps the assertion's attributes and returns an unscoped federated token;
//! 5. re-scoping that token (method `token`) to a project or domain of the
//!    service provider.
//!
//! The unscoped federated token is cached by an ordinary [`Session`] (same
//! validity margin, single flight), so tokens for further scopes cost one re-scoping each. The SAML
//! assertion and the SP's session cookie are secrets: never logged, each flow
//! keeps its own cookie (no shared cookie jar between users).

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::header::{COOKIE, HeaderValue, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use url::Url;

use crate::keystone::auth::{AuthMethod, Credentials, DirectAuth, Scope, join};
use crate::keystone::error::html_message;
use crate::keystone::http::{HttpClient, Request, Response, SUBJECT_TOKEN};
use crate::keystone::token::{TokenInfo, TokenServiceProvider};
use crate::keystone::{Error, ErrorKind, Result, Session, Token};
use crate::outage::OutageKind;

const PAOS: &str = "application/vnd.paos+xml";

/// Keystone-to-Keystone authentication on one service provider of an
/// identity provider session.
#[derive(Debug)]
pub struct Keystone2Keystone {
    login: Arc<FederatedLogin>,
    /// Caches the unscoped federated token (an ordinary session over
    /// [`FederatedLogin`]: expiry margin, single flight).
    unscoped: Session,
}

/// Steps 1-4 of the flow as an [`AuthMethod`] whose tokens are the unscoped
/// federated tokens of the service provider.
#[derive(Debug)]
struct FederatedLogin {
    idp: Arc<Session>,
    sp_id: String,
    sp_auth_url: Url,
    sp_url: Url,
    remote: Url,
}

impl Keystone2Keystone {
    /// K2K to the service provider `sp_id` of the identity provider session
    /// `idp`, whose URLs are read from the IdP token's `service_providers`.
    ///
    /// Fails when the IdP token is not project-scoped (Keystone issues SAML
    /// assertions for project-scoped tokens only), or when the service provider
    /// is unknown or disabled on the identity provider (Keystone's verdict).
    pub async fn new(idp: Arc<Session>, sp_id: &str) -> Result<Self> {
        let token = idp.token().await?;
        require_project_scope(&idp, token.info())?;
        match token.service_provider(sp_id) {
            Some(sp) => Self::from_service_provider(idp.clone(), sp),
            None => Err(explain_missing_sp(&idp, &token, sp_id).await),
        }
    }

    /// K2K with service provider URLs given explicitly.
    pub fn from_service_provider(idp: Arc<Session>, sp: &TokenServiceProvider) -> Result<Self> {
        let http = idp.http().clone();
        let login = Arc::new(FederatedLogin {
            remote: remote_keystone_url(&sp.auth_url)?,
            idp,
            sp_id: sp.id.clone(),
            sp_auth_url: sp.auth_url.clone(),
            sp_url: sp.sp_url.clone(),
        });
        Ok(Self { unscoped: Session::with_http(http, login.clone(), Scope::Unscoped), login })
    }

    /// The service provider id.
    pub fn service_provider_id(&self) -> &str {
        &self.login.sp_id
    }

    /// The identity provider session.
    pub fn identity_provider(&self) -> &Arc<Session> {
        &self.login.idp
    }

    /// The HTTP client of the identity provider session (share it with the
    /// sessions opened on the service provider).
    pub fn http(&self) -> HttpClient {
        self.login.idp.http().clone()
    }

    /// The service provider's federated auth URL.
    pub fn sp_auth_url(&self) -> &Url {
        &self.login.sp_auth_url
    }

    /// The service provider's SAML ECP endpoint.
    pub fn sp_url(&self) -> &Url {
        &self.login.sp_url
    }

    /// Drops the cached federated token (e.g. after the SP refused it).
    pub fn clear(&self) {
        self.unscoped.clear();
    }

    /// The unscoped federated token on the service provider: cached, or a new
    /// K2K login (one at a time however many callers wait).
    pub async fn unscoped_token(&self) -> Result<Arc<Token>> {
        self.unscoped.token().await
    }

    /// Lists the projects the federated user can scope to on the SP.
    pub async fn projects(&self) -> Result<Vec<crate::keystone::types::Project>> {
        let token = self.unscoped_token().await?;
        list_auth_projects(self.unscoped.http(), &self.login.remote, token.secret()).await
    }
}

#[async_trait]
impl AuthMethod for FederatedLogin {
    fn auth_url(&self) -> &Url {
        &self.remote
    }

    /// Always an unscoped token: [`Keystone2Keystone`] rescopes it.
    async fn authenticate(&self, http: &HttpClient, _scope: &Scope) -> Result<Token> {
        self.federated_login(http).await
    }
}

impl FederatedLogin {
    /// Steps 1-4: a fresh unscoped federated token.
    async fn federated_login(&self, http: &HttpClient) -> Result<Token> {
        let assertion = self.saml_assertion().await?;
        let ecp = http
            .send(
                Request::new(Method::POST, self.sp_url.clone())
                    .raw(PAOS, assertion.expose_secret().as_bytes().to_vec())
                    .accept_errors(),
            )
            .await
            .map_err(|e| self.unreachable_sp(e))?;
        let response = match ecp.status {
            StatusCode::FOUND | StatusCode::SEE_OTHER => {
                let cookie = session_cookie(&ecp).ok_or_else(|| Error::Federation {
                    kind: ErrorKind::InvalidResponse,
                    message: format!(
                        "the SAML service provider at {} accepted the assertion of service provider {} but set \
                         no session cookie; check its cookie settings (e.g. Shibboleth cookieProps \"https\" \
                         on a plain-http endpoint)",
                        self.sp_url, self.sp_id
                    ),
                })?;
                tracing::debug!(sp = %self.sp_id, location = ?ecp.header(LOCATION.as_str()), "SAML SP accepted the assertion");
                http.send(Request::new(Method::GET, self.sp_auth_url.clone()).header(COOKIE, cookie).accept_errors())
                    .await?
            }
            status if status.is_success() => ecp,
            _ => return Err(self.refused_by_sp(&ecp)),
        };
        if !response.status.is_success() {
            let keystone =
                Error::from_response(response.method.clone(), response.url.clone(), response.status, &response.body);
            let detail = match &keystone {
                Error::Api { message, .. } => message.clone(),
                other => other.to_string(),
            };
            return Err(Error::Federation {
                kind: keystone.kind(),
                message: format!(
                    "the Keystone of service provider {} ({}) refused the federated login: HTTP {}: {detail} \
                     (its identity provider, protocol and mapping for this IdP must exist and the mapping must \
                     match this user's attributes)",
                    self.sp_id,
                    self.sp_auth_url,
                    response.status.as_u16()
                ),
            });
        }
        let secret = response.header(SUBJECT_TOKEN).map(|s| SecretString::from(s.to_owned())).ok_or_else(|| {
            Error::Federation {
                kind: ErrorKind::InvalidResponse,
                message: format!(
                    "{} answered {} without a token (X-Subject-Token): is it a Keystone federated auth URL?",
                    self.sp_auth_url, response.status
                ),
            }
        })?;
        let info: TokenInfo = response.json_field("token")?;
        tracing::debug!(sp = %self.sp_id, user = %info.user.id, "federated token issued");
        Ok(Token::new(secret, info))
    }

    /// Step 2: the ECP envelope from the identity provider. The IdP token
    /// goes in the body; the IdP session re-authenticates once on 401.
    async fn saml_assertion(&self) -> Result<SecretString> {
        require_project_scope(&self.idp, self.idp.token().await?.info())?;
        let url = join(self.idp.auth_url(), "auth/OS-FEDERATION/saml2/ecp")?;
        let response = self
            .idp
            .send(|token| Request::new(Method::POST, url.clone()).json(ecp_request(token, &self.sp_id)))
            .await
            .map_err(|e| sp_verdict(e, &self.sp_id, self.idp.auth_url()))?;
        let text = String::from_utf8(response.body).map_err(|_| Error::Federation {
            kind: ErrorKind::InvalidResponse,
            message: format!("the ECP assertion from {} is not UTF-8 text", self.idp.auth_url()),
        })?;
        if !text.contains("Envelope") {
            return Err(Error::Federation {
                kind: ErrorKind::InvalidResponse,
                message: format!(
                    "{} did not return a SAML ECP envelope; is [saml] configured on the identity provider's Keystone?",
                    self.idp.auth_url()
                ),
            });
        }
        Ok(SecretString::from(text))
    }

    /// The POST to the SAML SP failed without an answer: refused, reset,
    /// timed out (an outage of the SP: [`Error::SamlServiceProvider`]).
    fn unreachable_sp(&self, e: Error) -> Error {
        let message = format!("cannot reach the SAML service provider of {} at {}: {e}", self.sp_id, self.sp_url);
        match OutageKind::of(e.kind(), None).filter(|_| e.kind() != ErrorKind::Tls) {
            Some(outage) => Error::SamlServiceProvider {
                kind: e.kind(),
                outage,
                message: format!(
                    "{message}; the service provider's SAML SP (Apache with mod_shib) is down or too slow: \
                     retry once its operator has it running again"
                ),
            },
            None => Error::Federation { kind: e.kind(), message },
        }
    }

    /// The SAML SP refused the assertion: status and the SP's own message.
    fn refused_by_sp(&self, response: &Response) -> Error {
        let message = html_message(&String::from_utf8_lossy(&response.body));
        let lower = message.to_ascii_lowercase();
        let (kind, hint) = if ["expired", "notbefore", "notonorafter", "too long ago", "clock", "in the future"]
            .iter()
            .any(|w| lower.contains(w))
        {
            (
                ErrorKind::AuthenticationFailed,
                "the clocks of the identity provider and the service provider differ too much: \
                 synchronise them (NTP) or raise the SP's allowed clock skew",
            )
        } else if lower.contains("shibd") || lower.contains("listener") || lower.contains("socket") {
            return self.sp_down(
                response,
                &message,
                "the SAML SP daemon (shibd) of the service provider is not running: its operator must start it",
            );
        } else if ["metadata", "untrusted", "signature", "security of incoming", "trust"]
            .iter()
            .any(|w| lower.contains(w))
        {
            (
                ErrorKind::AuthenticationFailed,
                "the service provider does not trust this identity provider: its SAML metadata \
                 (entity id and signing certificate) must be registered in the SP",
            )
        } else if response.status.is_server_error() {
            return self.sp_down(response, &message, "see the SAML SP's log on the service provider");
        } else {
            (ErrorKind::AuthenticationFailed, "see the SAML SP's log on the service provider")
        };
        Error::Federation {
            kind,
            message: format!(
                "the SAML service provider of {} ({}) refused the assertion: HTTP {}: {message} ({hint})",
                self.sp_id,
                self.sp_url,
                response.status.as_u16()
            ),
        }
    }

    /// The SAML SP answered a server error that is not about this assertion
    /// (its daemon down, a proxy error): an outage of the SP, not a refusal.
    fn sp_down(&self, response: &Response, message: &str, hint: &str) -> Error {
        let (kind, outage) = match response.status {
            StatusCode::GATEWAY_TIMEOUT => (ErrorKind::Timeout, OutageKind::TooSlow),
            _ => (ErrorKind::Unavailable, OutageKind::Refusing),
        };
        Error::SamlServiceProvider {
            kind,
            outage,
            message: format!(
                "the SAML service provider of {} ({}) could not process the assertion: HTTP {}: {message} \
                 ({hint}; nothing is wrong with the login: retry once the SP is back)",
                self.sp_id,
                self.sp_url,
                response.status.as_u16()
            ),
        }
    }
}

#[async_trait]
impl AuthMethod for Keystone2Keystone {
    /// The service provider's Keystone (its `auth_url` up to `/v3`).
    fn auth_url(&self) -> &Url {
        &self.login.remote
    }

    async fn authenticate(&self, http: &HttpClient, scope: &Scope) -> Result<Token> {
        let unscoped = self.unscoped_token().await?;
        if *scope == Scope::Unscoped {
            return Ok(Token::clone(&unscoped));
        }
        let rescope = DirectAuth::new(&self.login.remote, Credentials::Token { token: unscoped.secret().clone() })?;
        match rescope.authenticate(http, scope).await {
            Ok(token) => Ok(token),
            Err(e) if e.kind() == ErrorKind::AuthenticationFailed => {
                // 401 on re-scoping: either the federated token is no longer
                // valid, or the user has no role on that scope. Tell which.
                let projects = list_auth_projects(http, &self.login.remote, unscoped.secret()).await;
                match projects {
                    Err(_) => {
                        self.clear();
                        Err(e)
                    }
                    Ok(projects) => {
                        let names: Vec<String> = projects.iter().map(|p| format!("{} ({})", p.name, p.id)).collect();
                        Err(Error::Federation {
                            kind: ErrorKind::NotFound,
                            message: format!(
                                "the federated user has no role on {scope} at service provider {} ({}); \
                                 projects it can scope to: {}",
                                self.login.sp_id,
                                self.login.remote,
                                if names.is_empty() {
                                    "none (the mapping grants no project: check its rules)".to_owned()
                                } else {
                                    names.join(", ")
                                }
                            ),
                        })
                    }
                }
            }
            Err(e) => Err(e),
        }
    }
}

fn ecp_request(idp_token: &SecretString, sp_id: &str) -> serde_json::Value {
    json!({"auth": {
        "identity": {"methods": ["token"], "token": {"id": idp_token.expose_secret()}},
        "scope": {"service_provider": {"id": sp_id}}
    }})
}

async fn list_auth_projects(
    http: &HttpClient,
    keystone: &Url,
    token: &SecretString,
) -> Result<Vec<crate::keystone::types::Project>> {
    let url = join(keystone, "auth/projects")?;
    http.send(Request::new(Method::GET, url).token(token)).await?.json_field("projects")
}

fn require_project_scope(idp: &Session, info: &TokenInfo) -> Result<()> {
    if info.is_project_scoped() {
        return Ok(());
    }
    Err(Error::Federation {
        kind: ErrorKind::InvalidInput,
        message: format!(
            "Keystone issues SAML assertions only for project-scoped tokens, and the identity provider \
             session on {} is {}; scope it to a project (e.g. --os-project-name)",
            idp.auth_url(),
            idp.scope()
        ),
    })
}

/// The service provider is not in the token: ask Keystone why (unknown: 404,
/// disabled: 403) and say so.
async fn explain_missing_sp(idp: &Session, token: &Token, sp_id: &str) -> Error {
    let listed: Vec<&str> = token.service_providers.iter().map(|sp| sp.id.as_str()).collect();
    let listed = if listed.is_empty() { "none".to_owned() } else { listed.join(", ") };
    let verdict = match join(idp.auth_url(), "auth/OS-FEDERATION/saml2/ecp") {
        Ok(url) => idp.send(|token| Request::new(Method::POST, url.clone()).json(ecp_request(token, sp_id))).await,
        Err(e) => Err(e),
    };
    match verdict {
        Err(e) => sp_verdict(e, sp_id, idp.auth_url()),
        Ok(_) => Error::Federation {
            kind: ErrorKind::NotFound,
            message: format!(
                "service provider {sp_id} is not listed in the identity provider token of {} \
                 (enabled service providers: {listed})",
                idp.auth_url()
            ),
        },
    }
}

fn sp_verdict(e: Error, sp_id: &str, idp_url: &Url) -> Error {
    match e.kind() {
        ErrorKind::NotFound => Error::Federation {
            kind: ErrorKind::NotFound,
            message: format!(
                "service provider {sp_id} is not registered on the identity provider {idp_url}; \
                 create it (OS-FEDERATION service provider) or fix the id ({e})"
            ),
        },
        ErrorKind::Forbidden => Error::Federation {
            kind: ErrorKind::Forbidden,
            message: format!(
                "the identity provider {idp_url} refuses to issue an assertion for service provider {sp_id}: \
                 it is disabled (enable it) or the token is not project-scoped ({e})"
            ),
        },
        _ => e,
    }
}

/// `http://b/v3/OS-FEDERATION/identity_providers/x/protocols/saml2/auth` -> `http://b/v3`.
pub fn remote_keystone_url(sp_auth_url: &Url) -> Result<Url> {
    let text = sp_auth_url.as_str();
    let base = match text.find("/OS-FEDERATION") {
        Some(i) => &text[..i],
        None => {
            return Err(Error::InvalidInput(format!(
                "the service provider auth_url {sp_auth_url} is not a Keystone federated auth URL \
                 (.../v3/OS-FEDERATION/identity_providers/<idp>/protocols/<protocol>/auth)"
            )));
        }
    };
    let url = Url::parse(base).map_err(|e| Error::InvalidInput(format!("bad service provider auth_url: {e}")))?;
    crate::keystone::auth::identity_v3_url(&url)
}

/// `name=value; ...` of every `Set-Cookie` of a response.
fn session_cookie(response: &Response) -> Option<HeaderValue> {
    let pairs: Vec<&str> = response
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::trim)
        .filter(|v| v.contains('='))
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let mut value = HeaderValue::from_str(&pairs.join("; ")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_url_from_sp_auth_url() {
        let u = Url::parse("http://127.0.0.1:5002/v3/OS-FEDERATION/identity_providers/a/protocols/saml2/auth").unwrap();
        assert_eq!(remote_keystone_url(&u).unwrap().as_str(), "http://127.0.0.1:5002/v3");
        assert!(remote_keystone_url(&Url::parse("http://x/v3/auth").unwrap()).is_err());
    }

    #[test]
    fn shibboleth_error_page() {
        let page = r#"<html><head><title>Shibboleth Error</title><style>body{}</style></head><body>
            <h1>Unknown Error</h1>
            <p>The system encountered an error at Sun Nov 22 08:00:00 2026</p>
            <p>Please include the following message in any email:</p>
            <p class="error">opensaml::SecurityPolicyException at (http://127.0.0.1:5002/Shibboleth.sso/SAML2/ECP)</p>
            <p>Message was signed, but signature could not be verified.</p></body></html>"#;
        assert_eq!(
            html_message(page),
            "opensaml::SecurityPolicyException at (http://127.0.0.1:5002/Shibboleth.sso/SAML2/ECP): \
             Message was signed, but signature could not be verified."
        );
        assert_eq!(html_message("plain failure"), "plain failure");
        // Apache's mod_shib when shibd is not running (Shibboleth SP 3.4).
        let down = "<html><head><title>shibsp&#58;&#58;ListenerException</title></head><body>\
            <h1>shibsp&#58;&#58;ListenerException</h1>\
            <p>The system encountered an error at Mon Dec  7 21&#58;01&#58;31 2026</p>\
            <p>Please include the following message in any email:</p>\
            <p class=\"error\">shibsp&#58;&#58;ListenerException at (http&#58;//127.0.0.1&#58;7002/Shibboleth.sso/SAML2/ECP)</p>\
            <p>Cannot connect to shibd process, a site administrator should be notified &amp; so on.</p></body></html>";
        assert_eq!(
            html_message(down),
            "shibsp::ListenerException at (http://127.0.0.1:7002/Shibboleth.sso/SAML2/ECP): \
             Cannot connect to shibd process, a site administrator should be notified & so on."
        );
    }
}

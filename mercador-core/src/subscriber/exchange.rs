//! The HTTP client of a publisher's exchange API (the partner-facing face
//! of `mercador-server publisher`).
//!
//! It authenticates at the publisher's Keystone with the partner's
//! application credential, finds the endpoint of service type
//! `mercador-exchange` in the token's catalog, and calls it with
//! `X-Auth-Token`. Error bodies `{"error": {code, title, message, status}}`
//! become [`SubscriberError::Publisher`]; Keystone or transport failures
//! [`SubscriberError::Unreachable`]. Secrets in answers (admin password and
//! token) are kept in [`SecretString`].

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use reqwest::Method;
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use super::{SubscriberError, SubscriberResult};
use crate::keystone::http::{HttpClient, Request, Response};
use crate::keystone::{Credentials, DirectAuth, Scope, Session};
use crate::model::{Name, Quota, SubscriptionState, Visibility};
use crate::publisher::registration::EXCHANGE_SERVICE_TYPE;
use crate::publisher::{K2kCoordinates, OfferedService};

/// A vregion as the publisher's `GET /vregions` shows it.
#[derive(Debug, Clone, Deserialize)]
pub struct RemoteVRegion {
    /// Name.
    pub name: Name,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// The publisher's region.
    pub region: String,
    /// Service types.
    #[serde(default)]
    pub service_types: Vec<String>,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Quotas.
    #[serde(default)]
    pub quotas: Vec<Quota>,
    /// Visibility.
    #[serde(default)]
    pub visibility: Visibility,
    /// Metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Places left.
    #[serde(default)]
    pub places_left: u32,
    /// Our subscription to it, when one holds a place.
    #[serde(default)]
    pub subscription_id: Option<String>,
}

/// A subscription as the publisher shows it.
#[derive(Debug, Clone, Deserialize)]
pub struct RemoteSubscription {
    /// Id.
    pub id: String,
    /// The vregion.
    pub vregion: String,
    /// State.
    pub state: SubscriptionState,
    /// Step.
    #[serde(default)]
    pub step: Option<String>,
    /// Error.
    #[serde(default)]
    pub error: Option<String>,
}

/// The vregion admin user in an access.
#[derive(Debug, Clone, Deserialize)]
pub struct RemoteAdmin {
    /// User id.
    pub user_id: String,
    /// User name.
    pub user_name: String,
    /// Its domain (the vregion domain).
    pub domain_id: String,
    /// Its password (first answer only).
    #[serde(default)]
    pub password: Option<SecretString>,
    /// A domain-scoped token.
    pub token: SecretString,
    /// Its expiry.
    pub token_expires_at: DateTime<Utc>,
}

/// What subscribe and refresh return.
#[derive(Debug, Clone, Deserialize)]
pub struct RemoteAccess {
    /// The subscription.
    pub subscription: RemoteSubscription,
    /// The publisher's Keystone (`.../v3`).
    pub keystone_url: Url,
    /// The publisher's region.
    pub region: String,
    /// The vregion domain's name.
    pub domain_name: String,
    /// K2K coordinates.
    pub k2k: K2kCoordinates,
    /// The admin user.
    pub admin: RemoteAdmin,
    /// The vregion's services.
    #[serde(default)]
    pub services: Vec<OfferedService>,
    /// What the publisher repaired (refresh).
    #[serde(default)]
    pub repaired: Vec<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    outage: Option<crate::outage::OutageKind>,
}

/// A client of one publisher's exchange API.
#[derive(Debug, Clone)]
pub struct ExchangeClient {
    publisher: String,
    exchange_url: Option<Url>,
    session: Arc<Session>,
    http: HttpClient,
}

impl ExchangeClient {
    /// A client authenticating at `keystone_url` with the partner credential.
    pub fn new(
        http: HttpClient,
        publisher: &str,
        keystone_url: &Url,
        credential_id: &str,
        secret: SecretString,
    ) -> SubscriberResult<Self> {
        let unreachable =
            |source| SubscriberError::Unreachable { publisher: publisher.to_string(), source, at_keystone: true };
        let auth = DirectAuth::new(keystone_url, Credentials::application_credential(credential_id, secret))
            .map_err(unreachable)?;
        let session = Arc::new(Session::with_http(http.clone(), Arc::new(auth), Scope::Unscoped));
        Ok(Self { publisher: publisher.to_string(), exchange_url: None, session, http })
    }

    /// Uses this exchange URL instead of the one in the publisher's catalog.
    pub fn with_exchange_url(mut self, url: Option<Url>) -> Self {
        self.exchange_url = url;
        self
    }

    /// The publisher's endpoint failed.
    fn unreachable(&self, source: crate::Error) -> SubscriberError {
        SubscriberError::Unreachable { publisher: self.publisher.clone(), source, at_keystone: false }
    }

    /// Keystone B failed (the partner credential's token, the catalog).
    fn keystone_failed(&self, source: crate::Error) -> SubscriberError {
        SubscriberError::Unreachable { publisher: self.publisher.clone(), source, at_keystone: true }
    }

    /// The exchange API's base URL: the one given, else the endpoint of
    /// type `mercador-exchange` in the publisher's catalog.
    pub async fn base_url(&self) -> SubscriberResult<Url> {
        if let Some(url) = &self.exchange_url {
            return Ok(url.clone());
        }
        self.session.endpoint(EXCHANGE_SERVICE_TYPE).await.map_err(|e| self.keystone_failed(e))
    }

    async fn call(&self, method: Method, path: &str, body: Option<serde_json::Value>) -> SubscriberResult<Response> {
        let base = self.base_url().await?;
        let url = Url::parse(&format!("{}/{}", base.as_str().trim_end_matches('/'), path.trim_start_matches('/')))
            .map_err(|e| self.unreachable(crate::Error::InvalidInput(format!("exchange URL: {e}"))))?;
        let mut retried = false;
        loop {
            let token = self.session.token().await.map_err(|e| self.keystone_failed(e))?;
            let mut request = Request::new(method.clone(), url.clone()).token(token.secret()).accept_errors();
            if let Some(body) = &body {
                request = request.json(body.clone());
            }
            let response = self.http.send(request).await.map_err(|e| self.unreachable(e))?;
            if response.status.as_u16() == 401 && !retried {
                self.session.invalidate(&token);
                retried = true;
                continue;
            }
            if response.status.is_success() {
                return Ok(response);
            }
            let status = response.status.as_u16();
            let (code, message, outage) = match serde_json::from_slice::<ErrorBody>(&response.body) {
                Ok(b) => (b.error.code, b.error.message, b.error.outage),
                Err(_) => (
                    "http_error".to_string(),
                    String::from_utf8_lossy(&response.body).chars().take(300).collect::<String>(),
                    None,
                ),
            };
            return Err(SubscriberError::Publisher {
                publisher: self.publisher.clone(),
                status,
                code,
                message,
                outage,
            });
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(&self, response: &Response) -> SubscriberResult<T> {
        response.json().map_err(|e| self.unreachable(e))
    }

    /// `GET /vregions`: the vregions offered to us.
    pub async fn vregions(&self) -> SubscriberResult<Vec<RemoteVRegion>> {
        let r = self.call(Method::GET, "vregions", None).await?;
        self.decode(&r)
    }

    /// `POST /subscriptions`: subscribe (idempotent while provisioning).
    pub async fn subscribe(
        &self,
        vregion: &Name,
        entity_id: &str,
        metadata_url: &Url,
        keystone_url: &Url,
    ) -> SubscriberResult<RemoteAccess> {
        let body = serde_json::json!({
            "vregion": vregion,
            "entity_id": entity_id,
            "metadata_url": metadata_url,
            "keystone_url": keystone_url,
        });
        let r = self.call(Method::POST, "subscriptions", Some(body)).await?;
        self.decode(&r)
    }

    /// `GET /subscriptions/{id}`.
    pub async fn subscription(&self, id: &str) -> SubscriberResult<RemoteSubscription> {
        let r = self.call(Method::GET, &format!("subscriptions/{id}"), None).await?;
        self.decode(&r)
    }

    /// `POST /subscriptions/{id}/refresh`: repair and a new access.
    pub async fn refresh(&self, id: &str) -> SubscriberResult<RemoteAccess> {
        let r = self.call(Method::POST, &format!("subscriptions/{id}/refresh"), None).await?;
        self.decode(&r)
    }

    /// `DELETE /subscriptions/{id}`: cancel.
    pub async fn cancel(&self, id: &str) -> SubscriberResult<RemoteSubscription> {
        let r = self.call(Method::DELETE, &format!("subscriptions/{id}"), None).await?;
        self.decode(&r)
    }
}

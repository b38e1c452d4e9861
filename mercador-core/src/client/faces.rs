//! The typed clients: one method per operation of each face. Answers are
//! the services' JSON documents (see their OpenAPI documents: `VRegion`,
//! `Partner`, `Subscription`, `Access`, `Offer`, `Publisher`, `Binding`...).

use std::sync::Arc;

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use url::Url;

use super::{ApiClient, ClientResult, Face, segment};
use crate::keystone::Session;

fn rows(value: Value) -> Vec<Value> {
    match value {
        Value::Array(rows) => rows,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn flag(name: &'static str, on: bool) -> Vec<(&'static str, String)> {
    if on { vec![(name, "true".to_owned())] } else { Vec::new() }
}

/// The publisher's admin face (`/v1/admin`): vregions, partners,
/// subscriptions of every partner, reconcile. For the publisher cloud's admins.
#[derive(Debug, Clone)]
pub struct PublisherAdminClient {
    api: ApiClient,
}

impl PublisherAdminClient {
    /// Connects to the face at `url` (the service's root) or the catalog's.
    pub async fn connect(session: Arc<Session>, url: Option<&Url>) -> ClientResult<Self> {
        Ok(Self { api: ApiClient::connect(session, Face::PublisherAdmin, url).await? })
    }

    /// The transport.
    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    /// Every vregion.
    pub async fn list_vregions(&self) -> ClientResult<Vec<Value>> {
        Ok(rows(self.api.get("vregions", &[]).await?))
    }

    /// One vregion.
    pub async fn get_vregion(&self, name: &str) -> ClientResult<Value> {
        self.api.get(&format!("vregions/{}", segment(name)), &[]).await
    }

    /// Defines a vregion (state draft) from a spec (`VRegionSpec`'s JSON).
    pub async fn create_vregion(&self, spec: &Value) -> ClientResult<Value> {
        self.api.post("vregions", &[], Some(spec)).await
    }

    /// Replaces a vregion's spec.
    pub async fn replace_vregion(&self, name: &str, spec: &Value) -> ClientResult<Value> {
        self.api.put(&format!("vregions/{}", segment(name)), spec).await
    }

    /// Deletes a vregion without subscriptions (its domain disabled, or deleted with `purge`).
    pub async fn delete_vregion(&self, name: &str, purge: bool) -> ClientResult<()> {
        self.api.delete(&format!("vregions/{}", segment(name)), &flag("purge", purge)).await.map(drop)
    }

    /// Publishes a vregion (domain, quotas, offered to its partners).
    pub async fn publish_vregion(&self, name: &str, adopt_domain: bool) -> ClientResult<Value> {
        self.api.post(&format!("vregions/{}/publish", segment(name)), &flag("adopt_domain", adopt_domain), None).await
    }

    /// Withdraws a vregion (no new subscriptions).
    pub async fn withdraw_vregion(&self, name: &str) -> ClientResult<Value> {
        self.api.post(&format!("vregions/{}/withdraw", segment(name)), &[], None).await
    }

    /// Every partner.
    pub async fn list_partners(&self) -> ClientResult<Vec<Value>> {
        Ok(rows(self.api.get("partners", &[]).await?))
    }

    /// One partner.
    pub async fn get_partner(&self, name: &str) -> ClientResult<Value> {
        self.api.get(&format!("partners/{}", segment(name)), &[]).await
    }

    /// Onboards a partner; the answer holds the application credential's
    /// secret, this once.
    pub async fn onboard_partner(&self, name: &str, description: &str) -> ClientResult<Value> {
        self.api.post("partners", &[], Some(&json!({"name": name, "description": description}))).await
    }

    /// Removes a partner without subscriptions.
    pub async fn remove_partner(&self, name: &str) -> ClientResult<()> {
        self.api.delete(&format!("partners/{}", segment(name)), &[]).await.map(drop)
    }

    /// Subscriptions, of every partner or of one.
    pub async fn list_subscriptions(&self, partner: Option<&str>) -> ClientResult<Vec<Value>> {
        let query: Vec<(&str, String)> = partner.map(|p| ("partner", p.to_owned())).into_iter().collect();
        Ok(rows(self.api.get("subscriptions", &query).await?))
    }

    /// One subscription.
    pub async fn get_subscription(&self, id: &str) -> ClientResult<Value> {
        self.api.get(&format!("subscriptions/{}", segment(id)), &[]).await
    }

    /// Revokes a subscription (the federated users' projects disabled, or deleted with `purge`).
    pub async fn revoke_subscription(&self, id: &str, purge: bool) -> ClientResult<Value> {
        let body = purge.then(|| json!({"purge": true}));
        self.api.post(&format!("subscriptions/{}/revoke", segment(id)), &[], body.as_ref()).await
    }

    /// Resumes interrupted operations now.
    pub async fn reconcile(&self) -> ClientResult<Value> {
        self.api.post("reconcile", &[], None).await
    }
}

/// What a partner sends to subscribe to an offered vregion.
#[derive(Debug, Clone, Default)]
pub struct SubscribeRequest {
    /// The offered vregion.
    pub vregion: String,
    /// The subscriber Keystone's SAML entity id.
    pub entity_id: String,
    /// Its SAML metadata (XML), or
    pub metadata: Option<String>,
    /// the URL the publisher fetches it from.
    pub metadata_url: Option<String>,
    /// The subscriber's Keystone URL.
    pub keystone_url: Option<String>,
}

/// The publisher's partner face (`/v1/exchange`), with a partner's
/// application credential.
#[derive(Debug, Clone)]
pub struct ExchangeClient {
    api: ApiClient,
}

impl ExchangeClient {
    /// Connects to the face at `url` (the service's root) or the catalog's.
    pub async fn connect(session: Arc<Session>, url: Option<&Url>) -> ClientResult<Self> {
        Ok(Self { api: ApiClient::connect(session, Face::Exchange, url).await? })
    }

    /// The transport.
    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    /// The vregions offered to the caller.
    pub async fn list_offers(&self) -> ClientResult<Vec<Value>> {
        Ok(rows(self.api.get("vregions", &[]).await?))
    }

    /// Subscribes; the answer (an access) holds the vregion admin's password this once.
    pub async fn subscribe(&self, request: &SubscribeRequest) -> ClientResult<Value> {
        let mut body = json!({"vregion": request.vregion, "entity_id": request.entity_id});
        if let Some(metadata) = &request.metadata {
            body["metadata"] = Value::String(metadata.clone());
        }
        if let Some(url) = &request.metadata_url {
            body["metadata_url"] = Value::String(url.clone());
        }
        if let Some(url) = &request.keystone_url {
            body["keystone_url"] = Value::String(url.clone());
        }
        self.api.post("subscriptions", &[], Some(&body)).await
    }

    /// The caller's subscriptions.
    pub async fn list_subscriptions(&self) -> ClientResult<Vec<Value>> {
        Ok(rows(self.api.get("subscriptions", &[]).await?))
    }

    /// One of the caller's subscriptions.
    pub async fn get_subscription(&self, id: &str) -> ClientResult<Value> {
        self.api.get(&format!("subscriptions/{}", segment(id)), &[]).await
    }

    /// Repairs drift and gives a new admin token (an access).
    pub async fn refresh_subscription(&self, id: &str) -> ClientResult<Value> {
        self.api.post(&format!("subscriptions/{}/refresh", segment(id)), &[], None).await
    }

    /// Cancels one of the caller's subscriptions.
    pub async fn cancel_subscription(&self, id: &str) -> ClientResult<Value> {
        self.api.delete(&format!("subscriptions/{}", segment(id)), &[]).await
    }
}

/// A publisher to register at the subscriber service.
#[derive(Debug, Clone)]
pub struct NewPublisher {
    /// Local name.
    pub name: String,
    /// The publisher's Keystone URL.
    pub keystone_url: String,
    /// The partner application credential's id.
    pub application_credential_id: String,
    /// Its secret (sent, never shown).
    pub application_credential_secret: SecretString,
    /// The exchange API's URL, when not from the publisher's catalog.
    pub exchange_url: Option<String>,
}

/// The subscriber service's API (`/v1`), for the subscriber cloud's admins.
#[derive(Debug, Clone)]
pub struct SubscriberClient {
    api: ApiClient,
}

impl SubscriberClient {
    /// Connects to the service at `url` (its root) or the catalog's.
    pub async fn connect(session: Arc<Session>, url: Option<&Url>) -> ClientResult<Self> {
        Ok(Self { api: ApiClient::connect(session, Face::Subscriber, url).await? })
    }

    /// The transport.
    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    /// Registers a publisher with a partner credential.
    pub async fn register_publisher(&self, publisher: &NewPublisher) -> ClientResult<Value> {
        let mut body = json!({
            "name": publisher.name,
            "keystone_url": publisher.keystone_url,
            "application_credential_id": publisher.application_credential_id,
            "application_credential_secret": publisher.application_credential_secret.expose_secret(),
        });
        if let Some(url) = &publisher.exchange_url {
            body["exchange_url"] = Value::String(url.clone());
        }
        self.api.post("publishers", &[], Some(&body)).await
    }

    /// The registered publishers (never their secrets).
    pub async fn list_publishers(&self) -> ClientResult<Vec<Value>> {
        Ok(rows(self.api.get("publishers", &[]).await?))
    }

    /// One registered publisher.
    pub async fn get_publisher(&self, name: &str) -> ClientResult<Value> {
        self.api.get(&format!("publishers/{}", segment(name)), &[]).await
    }

    /// Forgets a publisher without live bindings.
    pub async fn remove_publisher(&self, name: &str) -> ClientResult<()> {
        self.api.delete(&format!("publishers/{}", segment(name)), &[]).await.map(drop)
    }

    /// Discovery across publishers: `{"offers": [...], "errors": [...]}`.
    pub async fn discover(&self) -> ClientResult<Value> {
        self.api.get("discovery", &[]).await
    }

    /// Binds a vregion of a publisher as region `alias` of this cloud.
    pub async fn bind(&self, publisher: &str, vregion: &str, alias: &str) -> ClientResult<Value> {
        let body = json!({"publisher": publisher, "vregion": vregion, "alias": alias});
        self.api.post("bindings", &[], Some(&body)).await
    }

    /// The bindings, of every publisher or of one (finished ones included).
    pub async fn list_bindings(&self, publisher: Option<&str>) -> ClientResult<Vec<Value>> {
        let query: Vec<(&str, String)> = publisher.map(|p| ("publisher", p.to_owned())).into_iter().collect();
        Ok(rows(self.api.get("bindings", &query).await?))
    }

    /// One binding.
    pub async fn get_binding(&self, alias: &str) -> ClientResult<Value> {
        self.api.get(&format!("bindings/{}", segment(alias)), &[]).await
    }

    /// Refreshes one binding: `{"binding", "repaired", "repaired_by_publisher", "revoked"}`.
    pub async fn refresh_binding(&self, alias: &str) -> ClientResult<Value> {
        self.api.post(&format!("bindings/{}/refresh", segment(alias)), &[], None).await
    }

    /// Refreshes every binding.
    pub async fn refresh_all(&self) -> ClientResult<Value> {
        self.api.post("refresh", &[], None).await
    }

    /// Cancels a binding (publisher first; `force` when it is gone for good).
    pub async fn cancel_binding(&self, alias: &str, force: bool) -> ClientResult<Value> {
        self.api.delete(&format!("bindings/{}", segment(alias)), &flag("force", force)).await
    }

    /// Resumes what an interruption left half done.
    pub async fn reconcile(&self) -> ClientResult<Value> {
        self.api.post("reconcile", &[], None).await
    }
}

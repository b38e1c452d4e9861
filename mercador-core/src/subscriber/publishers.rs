//! Publishers: registration with the partner credential (sealed), and
//! discovery of the vregions they offer.

use url::Url;

use super::{
    DiscoveryResult, ExchangeClient, NewPublisher, OfferedVRegion, PublisherFailure, PublisherView, Subscriber,
    SubscriberError, SubscriberResult,
};
use crate::model::{Name, ValidationError};
use crate::store::{BindingFilter, PublisherRecord, StoreError};

impl Subscriber {
    /// Registers a publisher: its Keystone URL and the partner credential
    /// its admin handed over (the secret is stored sealed). The publisher is
    /// not contacted: [`Subscriber::discover`] reports whether it answers.
    pub async fn register_publisher(&self, new: NewPublisher) -> SubscriberResult<PublisherView> {
        let mut errors = Vec::new();
        if !matches!(new.keystone_url.scheme(), "http" | "https") {
            errors.push(ValidationError::new(
                "keystone_url",
                "use an http or https URL, e.g. https://keystone.example/v3",
            ));
        }
        if new.application_credential_id.trim().is_empty() || new.application_credential_id.len() > 64 {
            errors.push(ValidationError::new(
                "application_credential_id",
                "give the credential's id (1 to 64 characters)",
            ));
        }
        if secrecy::ExposeSecret::expose_secret(&new.application_credential_secret).is_empty() {
            errors.push(ValidationError::new("application_credential_secret", "must not be empty"));
        }
        if !errors.is_empty() {
            return Err(SubscriberError::Invalid(errors));
        }
        let now = Self::now();
        let record = PublisherRecord {
            id: Self::new_id(),
            name: new.name.clone(),
            keystone_url: new.keystone_url.to_string(),
            exchange_url: new.exchange_url.as_ref().map(ToString::to_string),
            credential_id: new.application_credential_id,
            credential_secret_sealed: self.inner.secrets.seal(&new.application_credential_secret)?,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        match self.store().insert_publisher(&record).await {
            Ok(()) => {}
            Err(StoreError::Duplicate { .. }) => {
                return Err(SubscriberError::Conflict(format!("publisher {} is already registered", new.name)));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(publisher = %record.name, keystone = %record.keystone_url, "publisher registered");
        Ok(record.into())
    }

    /// Every registered publisher.
    pub async fn list_publishers(&self) -> SubscriberResult<Vec<PublisherView>> {
        Ok(self.store().list_publishers().await?.into_iter().map(Into::into).collect())
    }

    /// One publisher.
    pub async fn get_publisher(&self, name: &Name) -> SubscriberResult<PublisherView> {
        Ok(self.publisher_record(name).await?.into())
    }

    /// Forgets a publisher; refused while one of its bindings is live
    /// (cancel them first).
    pub async fn remove_publisher(&self, name: &Name) -> SubscriberResult<()> {
        let p = self.publisher_record(name).await?;
        let filter = BindingFilter { publisher_id: Some(p.id.clone()), ..Default::default() };
        let live: Vec<String> = self
            .store()
            .list_bindings(&filter)
            .await?
            .into_iter()
            .filter(|b| !b.state.is_final())
            .map(|b| b.alias.to_string())
            .collect();
        if !live.is_empty() {
            return Err(SubscriberError::Conflict(format!(
                "publisher {name} still has bindings ({}); cancel them first",
                live.join(", ")
            )));
        }
        self.store().delete_publisher(&p.id).await?;
        tracing::info!(publisher = %name, "publisher removed");
        Ok(())
    }

    /// The vregions every publisher offers, with one error per publisher
    /// that could not be listed (the others are listed all the same).
    pub async fn discover(&self) -> SubscriberResult<DiscoveryResult> {
        let publishers = self.store().list_publishers().await?;
        let live = self.store().list_bindings(&BindingFilter::default()).await?;
        let answers = futures::future::join_all(publishers.iter().map(|p| async move {
            let client = self.exchange_client(p)?;
            client.vregions().await
        }))
        .await;
        let mut result = DiscoveryResult::default();
        for (p, answer) in publishers.iter().zip(answers) {
            match answer {
                Ok(mut vregions) => {
                    vregions.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
                    for v in vregions {
                        let bound_as = live
                            .iter()
                            .find(|b| b.publisher_id == p.id && b.vregion == v.name && !b.state.is_final())
                            .map(|b| b.alias.clone());
                        result.offers.push(OfferedVRegion {
                            publisher: p.name.clone(),
                            name: v.name,
                            description: v.description,
                            region: v.region,
                            service_types: v.service_types,
                            roles: v.roles,
                            quotas: v.quotas,
                            visibility: v.visibility,
                            metadata: v.metadata,
                            places_left: v.places_left,
                            subscription_id: v.subscription_id,
                            bound_as,
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(publisher = %p.name, error = %e, "discovery: publisher failed");
                    result.errors.push(PublisherFailure::new(p.name.as_str(), &e));
                }
            }
        }
        Ok(result)
    }

    pub(crate) async fn publisher_record(&self, name: &Name) -> SubscriberResult<PublisherRecord> {
        self.store().get_publisher(name).await?.ok_or_else(|| SubscriberError::not_found("publisher", name.as_str()))
    }

    pub(crate) async fn publisher_by_id(&self, id: &str) -> SubscriberResult<PublisherRecord> {
        self.store().get_publisher_by_id(id).await?.ok_or_else(|| SubscriberError::not_found("publisher", id))
    }

    /// The exchange client of a publisher (its secret opened here only).
    pub(crate) fn exchange_client(&self, p: &PublisherRecord) -> SubscriberResult<ExchangeClient> {
        let url = Url::parse(&p.keystone_url).map_err(|e| {
            SubscriberError::Invalid(vec![ValidationError::new("keystone_url", format!("stored URL unusable: {e}"))])
        })?;
        let exchange_url = match &p.exchange_url {
            Some(u) => Some(Url::parse(u).map_err(|e| {
                SubscriberError::Invalid(vec![ValidationError::new(
                    "exchange_url",
                    format!("stored URL unusable: {e}"),
                )])
            })?),
            None => None,
        };
        let secret = self.inner.secrets.open(&p.credential_secret_sealed)?;
        let client = ExchangeClient::new(self.inner.http.clone(), p.name.as_str(), &url, &p.credential_id, secret)?;
        Ok(client.with_exchange_url(exchange_url))
    }
}

//! Refresh: ask the publisher for a fresh access (it repairs its side),
//! notice a revocation (the publisher answers "not found", or the
//! subscription is no longer active) and clean A up, otherwise converge A's
//! objects (service provider URLs, region, endpoints added or removed).

use super::{RefreshOutcome, RefreshReport, Subscriber, SubscriberError, SubscriberResult};
use crate::model::{Name, SubscriptionState};
use crate::store::{BindingFilter, BindingRecord};

impl Subscriber {
    /// Refreshes one binding (see the [module](self) documentation).
    pub async fn refresh(&self, alias: &Name) -> SubscriberResult<RefreshOutcome> {
        let b = self.binding_by_alias(alias).await?;
        self.refresh_binding(b).await
    }

    /// Refreshes every binding that is not finished; run on a schedule
    /// ([`super::SubscriberConfig::refresh_interval`]).
    pub async fn refresh_all(&self) -> SubscriberResult<RefreshReport> {
        let mut report = RefreshReport::default();
        let filter = BindingFilter {
            states: SubscriptionState::ALL.into_iter().filter(|s| !s.is_final()).collect(),
            ..Default::default()
        };
        for b in self.store().list_bindings(&filter).await? {
            let alias = b.alias.to_string();
            match self.refresh_binding(b).await {
                Ok(o) if o.revoked => report.revoked.push(alias),
                Ok(o) if !o.repaired.is_empty() => report.repaired.push(format!("{alias}: {}", o.repaired.join(", "))),
                Ok(_) => report.healthy.push(alias),
                Err(e) => {
                    tracing::warn!(binding = %alias, error = %e, "refresh failed");
                    report.failed.push(format!("{alias}: {e}"));
                }
            }
        }
        Ok(report)
    }

    async fn refresh_binding(&self, b: BindingRecord) -> SubscriberResult<RefreshOutcome> {
        let outcome = |b: BindingRecord, revoked| RefreshOutcome {
            binding: b.into(),
            repaired: Vec::new(),
            repaired_by_publisher: Vec::new(),
            revoked,
        };
        match b.state {
            SubscriptionState::Active => {}
            SubscriptionState::Requested | SubscriptionState::Provisioning => {
                return Ok(outcome(self.provision(b).await?, false));
            }
            SubscriptionState::Cancelling | SubscriptionState::Revoking => {
                let done = self.teardown(&b.id).await?;
                let revoked = done.state == SubscriptionState::Revoked;
                return Ok(outcome(done, revoked));
            }
            _ => return Ok(outcome(b, false)),
        }
        let remote = b.remote_subscription_id.clone().ok_or_else(|| {
            SubscriberError::Conflict(format!("binding {} is active without a remote subscription", b.alias))
        })?;
        let publisher = self.publisher_by_id(&b.publisher_id).await?;
        let client = self.exchange_client(&publisher)?;
        let ended = match client.refresh(&remote).await {
            Ok(access) => {
                let by_publisher = access.repaired.clone();
                let id = b.id.clone();
                let (b, repaired) = self
                    .with_binding_lease(&b.id, |_lease| async move {
                        let mut b = self.binding_record(&id).await?;
                        if b.state != SubscriptionState::Active {
                            return Ok((b, Vec::new()));
                        }
                        self.take_access(&mut b, access)?;
                        let mut repaired = Vec::new();
                        if self.ensure_sp(&mut b).await? {
                            repaired.push(format!("service provider {}", super::sp_id(&b.alias)));
                        }
                        if self.ensure_binding_region(&mut b).await? {
                            repaired.push(format!("region {}", b.alias));
                        }
                        repaired.extend(self.converge_endpoints(&mut b).await?);
                        b.error = None;
                        let b = self.save(b).await?;
                        Ok((b, repaired))
                    })
                    .await?;
                if !repaired.is_empty() {
                    tracing::warn!(binding = %b.alias, ?repaired, "repaired drift on Keystone A");
                }
                return Ok(RefreshOutcome {
                    binding: b.into(),
                    repaired,
                    repaired_by_publisher: by_publisher,
                    revoked: false,
                });
            }
            Err(e) if e.publisher_status() == Some(404) => {
                format!("the publisher no longer knows subscription {remote}")
            }
            Err(e) if e.publisher_status() == Some(409) => match client.subscription(&remote).await {
                Err(e) if e.publisher_status() == Some(404) => {
                    format!("the publisher no longer knows subscription {remote}")
                }
                Ok(s) if s.state != SubscriptionState::Active && s.state != SubscriptionState::Provisioning => {
                    format!("the publisher's subscription {remote} is {}", s.state)
                }
                _ => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let done = self.revoked_by_publisher(&b.id, ended).await?;
        // A binding a cancel was already tearing down is left to it: not
        // reported as revoked.
        let revoked = matches!(done.state, SubscriptionState::Revoking | SubscriptionState::Revoked);
        Ok(outcome(done, revoked))
    }
}

//! What subscribe and refresh return: the admin user's token, the
//! vregion's services and the K2K coordinates; and the drift repair of
//! refresh.

use std::sync::Arc;

use super::subscribe::{admin_user_name, idp_id, mapping_id, vregion_domain};
use super::{
    Access, AdminAccess, K2kCoordinates, OfferedEndpoint, OfferedService, PROTOCOL, Publisher, PublisherError,
    PublisherResult, RevealedSecret,
};
use crate::keystone::auth::{AuthMethod, Credentials, DirectAuth, Scope, identity_v3_url, join};
use crate::keystone::ensure;
use crate::keystone::types::{Actor, Filter, NewProtocol, Target};
use crate::model::{Name, SubscriptionState};
use crate::store::SubscriptionRecord;

impl Publisher {
    /// Refreshes one of the partner's active subscriptions: checks that B's
    /// SAML service provider is up, every Keystone object and the SAML
    /// trust it relies on, repairs drift
    /// (someone deleted the mapping by hand, disabled the identity provider,
    /// removed the admin user...), and returns a new admin token and the
    /// current services. What was repaired is logged and listed in
    /// `repaired`.
    pub async fn refresh(&self, partner: &Name, id: &str) -> PublisherResult<Access> {
        let s = self.partner_subscription_record(partner, id).await?;
        if s.state != SubscriptionState::Active {
            return Err(PublisherError::Conflict(format!(
                "subscription {id} is {}; only an active subscription can be refreshed",
                s.state
            )));
        }
        let partner_id = s.partner_id.clone();
        let repaired = self.with_partner_lease(&partner_id, |_lease| async move { self.repair(&s).await }).await?;
        let s = self.subscription_record(id).await?;
        let mut access = self.build_access(&s, false).await?;
        access.repaired = repaired;
        Ok(access)
    }

    /// Converges every object of an active subscription; returns what had
    /// drifted. The partner's users' domain is created or enabled again; an
    /// identity provider in another domain (Keystone cannot move it) is
    /// recreated in it, then its mapping and protocol written again.
    async fn repair(&self, s: &SubscriptionRecord) -> PublisherResult<Vec<String>> {
        let keystone = self.keystone().as_ref();
        let vregion = self.vregion_by_id(&s.vregion_id).await?;
        let domain_id = vregion_domain(&vregion)?;
        let mut repaired = Vec::new();
        let mut note = |what: String| {
            tracing::warn!(subscription = %s.id, drift = %what, "repaired drift");
            repaired.push(what);
        };

        // A trust B's SAML SP cannot read (it is down) lets nobody in: say so.
        self.inner.trust.check_service_provider().await?;
        if self.inner.trust.trusted(&s.entity_id).await?.as_deref() != Some(s.metadata.as_str()) {
            self.inner.trust.trust(&s.entity_id, &s.metadata).await?;
            note(format!("SAML trust of {}", s.entity_id));
        }
        let users_domain = self.ensure_users_domain(&s.partner).await?;
        if users_domain.outcome != ensure::Outcome::Adopted {
            let what = if users_domain.outcome.created() { "created" } else { "enabled" };
            note(format!("users' domain {} ({what})", users_domain.object.name));
        }
        let idp = idp_id(&s.partner);
        let ensured = self.ensure_partner_idp(s, &users_domain.object.id).await?;
        if let Some(from) = &ensured.moved_from {
            note(format!(
                "identity provider {idp} (recreated in domain {}, it was in domain {from})",
                users_domain.object.name
            ));
        } else if ensured.ensured.outcome != ensure::Outcome::Adopted {
            note(format!("identity provider {idp} ({})", ensured.ensured.outcome));
        }
        let before = keystone.get_mapping(&mapping_id(&s.partner)).await.ok();
        let mapping = self.write_mapping(&s.partner_id, &s.partner, None).await?;
        let after = keystone.get_mapping(&mapping).await.ok();
        if before.map(|m| m.rules) != after.map(|m| m.rules) {
            note(format!("mapping {mapping}"));
        }
        let protocol = ensure::ensure_protocol(
            keystone,
            &idp,
            PROTOCOL,
            &NewProtocol { mapping_id: mapping, remote_id_attribute: self.config().remote_id_attribute.clone() },
        )
        .await?;
        if protocol.outcome != ensure::Outcome::Adopted {
            note(format!("protocol {PROTOCOL} ({})", protocol.outcome));
        }
        let name = admin_user_name(&s.partner);
        let present = keystone.list_users(&Filter::new().name(&name).domain_id(&domain_id)).await?;
        let user_id = self.ensure_admin_user(s, &domain_id).await?;
        if !present.iter().any(|u| u.id == user_id && u.enabled) {
            note(format!("admin user {name}"));
        }
        let role = self.role_id(&self.config().admin_role).await?;
        let had_role =
            keystone.check_role(&role, &Actor::User(user_id.clone()), &Target::Domain(domain_id.clone())).await?;
        let (_, removed) = self.converge_admin_grants(&user_id, &domain_id).await?;
        if !had_role {
            note(format!("{} role of {name} on the vregion domain", self.config().admin_role));
        }
        for grant in removed {
            note(format!("cloud-wide role {grant} of {name} removed"));
        }
        if !s.objects.iter().any(|o| o.id == user_id) {
            let mut current = self.subscription_record(&s.id).await?;
            current.objects.retain(|o| o.kind != crate::model::ObjectKind::User);
            current.objects.push(crate::model::CreatedObject {
                kind: crate::model::ObjectKind::User,
                id: user_id,
                parent: None,
                adopted: false,
            });
            self.save(current).await?;
        }
        Ok(repaired)
    }

    /// The access of an active subscription; the admin password only when
    /// `reveal_password`.
    pub(crate) async fn build_access(&self, s: &SubscriptionRecord, reveal_password: bool) -> PublisherResult<Access> {
        let keystone = self.keystone().as_ref();
        let vregion = self.vregion_by_id(&s.vregion_id).await?;
        let domain_id = vregion_domain(&vregion)?;
        let config = self.config();
        let v3 = identity_v3_url(&config.keystone_url)?;
        let idp = idp_id(&s.partner);

        let password = self.admin_password(s)?;
        let user_name = admin_user_name(&s.partner);
        let auth =
            DirectAuth::new(&v3, Credentials::password(&user_name, vregion.spec.domain_name(), password.clone()))?;
        let token = Arc::new(auth).authenticate(&self.inner.http, &Scope::domain_id(domain_id.clone())).await?;

        let mut services = Vec::new();
        for service_type in &vregion.spec.service_types {
            for service in keystone.list_services(&Filter::new().service_type(service_type)).await? {
                if !service.enabled {
                    continue;
                }
                let filter = Filter::new().service_id(&service.id).region_id(&vregion.spec.region);
                let endpoints: Vec<OfferedEndpoint> = keystone
                    .list_endpoints(&filter)
                    .await?
                    .into_iter()
                    .filter(|e| e.enabled)
                    .map(|e| OfferedEndpoint {
                        interface: e.interface.to_string(),
                        url: e.url,
                        region: vregion.spec.region.clone(),
                    })
                    .collect();
                if !endpoints.is_empty() {
                    services.push(OfferedService {
                        service_type: service.service_type.clone(),
                        name: service.name.clone(),
                        endpoints,
                    });
                }
            }
        }

        Ok(Access {
            subscription: s.clone().into(),
            keystone_url: v3.clone(),
            region: vregion.spec.region.clone(),
            domain_name: vregion.spec.domain_name(),
            k2k: K2kCoordinates {
                auth_url: join(&v3, &format!("OS-FEDERATION/identity_providers/{idp}/protocols/{PROTOCOL}/auth"))?,
                sp_url: config.sp_url.clone(),
                identity_provider: idp,
                protocol: PROTOCOL.into(),
            },
            admin: AdminAccess {
                user_id: token.info().user.id.clone(),
                user_name,
                domain_id,
                password: reveal_password.then(|| RevealedSecret(password)),
                token_expires_at: token.expires_at(),
                token: RevealedSecret(token.secret().clone()),
            },
            services,
            repaired: Vec::new(),
            note: None,
        })
    }
}

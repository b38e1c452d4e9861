//! Subscribing: the persisted, resumable sequence of idempotent steps.
//!
//! 1. checks: the partner is active, the vregion is published and offered to
//!    it, the SAML identity is valid and not another partner's;
//! 2. `reserve`: a place, atomically ([`crate::store::PublisherStore::reserve_place`]);
//! 3. under the partner's lease, each step recorded before the next:
//!    `trust` (Shibboleth metadata, once B's SAML SP answers:
//!    [`super::SamlTrust::check_service_provider`]), `users_domain` (the domain of the
//!    partner's federated users, `mercador-k2k-<partner>`),
//!    `identity_provider` (its users in that domain), `mapping`,
//!    `protocol`, `admin_user` (its password sealed in the record *before*
//!    the user exists), `admin_role`, `projects` (re-enables the partner's
//!    projects a former cancellation disabled);
//! 4. `active`, then the [`Access`] with the admin password, once.
//!
//! The federated users live in their partner's own domain, not in a
//! vregion domain: retiring a vregion (its domain disabled or deleted) must
//! not lock them out of the partner's other vregions. Only projects live in
//! the vregion domains.
//!
//! A transient failure (Keystone, the database or B's SAML SP unreachable)
//! leaves the subscription `provisioning`: the answer is
//! [`PublisherError::Interrupted`] (its state and step) when an outage
//! caused it; asking again, or the reconciler, resumes it. Any other
//! failure rolls back ([`super::teardown`]) and ends `failed`.

use secrecy::SecretString;

use super::mapping::{self, MappedVRegion};
use super::{
    Access, OfferedVRegion, PROTOCOL, Publisher, PublisherError, PublisherResult, SubscribeRequest, SubscriptionView,
    trust,
};
use crate::keystone::ensure;
use crate::keystone::types::{
    Actor, Domain, DomainUpdate, Filter, IdentityProvider, NewDomain, NewIdentityProvider, NewMapping, NewProtocol,
    NewUser, ProjectUpdate, RoleAssignmentFilter, Target, UserUpdate,
};
use crate::model::{CreatedObject, Name, ObjectKind, SubscriptionState, VRegionState};
use crate::store::{PartnerRecord, PartnerState, Reservation, SubscriptionFilter, SubscriptionRecord, VRegionRecord};

/// Tag put on a federated project a cancellation disabled:
/// `mercador-partner=<name>`; re-subscribing re-enables them.
pub(crate) fn owner_tag(partner: &Name) -> String {
    format!("mercador-partner={partner}")
}

impl Publisher {
    /// The vregions offered to a partner: published and listing it.
    pub async fn offered_vregions(&self, partner: &Name) -> PublisherResult<Vec<OfferedVRegion>> {
        let partner = self.active_partner(partner).await?;
        let mine = self.partner_holding(&partner.id).await?;
        let mut offered = Vec::new();
        for v in self.store().list_vregions().await? {
            if v.state != VRegionState::Published || !v.spec.partners.contains(&partner.name) {
                continue;
            }
            let taken = self.places_taken(&v.id).await?;
            offered.push(OfferedVRegion {
                places_left: v.spec.max_subscriptions.saturating_sub(taken),
                subscription_id: mine.iter().find(|s| s.vregion_id == v.id).map(|s| s.id.clone()),
                name: v.spec.name,
                description: v.spec.description,
                region: v.spec.region,
                service_types: v.spec.service_types,
                roles: v.spec.roles,
                quotas: v.spec.quotas,
                visibility: v.spec.visibility,
                metadata: v.spec.metadata,
            });
        }
        Ok(offered)
    }

    /// Subscribes `partner` to a vregion. Idempotent: asking again while the
    /// subscription is being provisioned resumes it; once active, returns
    /// [`PublisherError::Conflict`] unless its credentials never reached the
    /// partner (then they are returned).
    pub async fn subscribe(&self, partner: &Name, request: SubscribeRequest) -> PublisherResult<Access> {
        let partner = self.active_partner(partner).await?;
        let vregion = self.offered_vregion(&partner, &request.vregion).await?;
        self.check_subscription_roles(&vregion.spec.name, &vregion.spec.roles).await?;
        trust::validate_entity_id(&request.entity_id)?;
        let metadata = match (&request.metadata, &request.metadata_url) {
            (Some(xml), None) => xml.clone(),
            (None, Some(url)) => trust::fetch_metadata(&self.inner.http, url).await?,
            _ => {
                return Err(PublisherError::Invalid(vec![crate::model::ValidationError::new(
                    "metadata",
                    "give exactly one of metadata (the XML) and metadata_url (e.g. \
                     https://keystone.example/v3/OS-FEDERATION/saml2/metadata)",
                )]));
            }
        };
        trust::validate_metadata(&request.entity_id, &metadata)?;
        self.check_entity_belongs_to(&partner, &request.entity_id).await?;

        let now = Self::now();
        let record = SubscriptionRecord {
            id: Self::new_id(),
            vregion_id: vregion.id.clone(),
            vregion: vregion.spec.name.clone(),
            partner_id: partner.id.clone(),
            partner: partner.name.clone(),
            state: SubscriptionState::Requested,
            entity_id: request.entity_id.clone(),
            metadata,
            subscriber_keystone_url: request.keystone_url.as_ref().map(ToString::to_string),
            step: Some("reserve".into()),
            error: None,
            objects: Vec::new(),
            admin_password_sealed: None,
            credentials_delivered: false,
            purge: false,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        let subscription = match self.store().reserve_place(&record, vregion.spec.max_subscriptions).await? {
            Reservation::Reserved(s) => {
                tracing::info!(subscription = %s.id, partner = %s.partner, vregion = %s.vregion, "place reserved");
                s
            }
            Reservation::Full { .. } => {
                return Err(PublisherError::Full {
                    vregion: vregion.spec.name.to_string(),
                    max: vregion.spec.max_subscriptions,
                });
            }
            Reservation::Existing(s) => match s.state {
                SubscriptionState::Requested | SubscriptionState::Provisioning => s,
                SubscriptionState::Active if !s.credentials_delivered => s,
                SubscriptionState::Active => {
                    return Err(PublisherError::Conflict(format!(
                        "partner {} is already subscribed to {} (subscription {}); refresh it with POST \
                         /v1/exchange/subscriptions/{}/refresh",
                        s.partner, s.vregion, s.id, s.id
                    )));
                }
                state => {
                    return Err(PublisherError::Conflict(format!(
                        "subscription {} to {} is {state}; subscribe again once it is finished",
                        s.id, s.vregion
                    )));
                }
            },
        };
        let id = subscription.id.clone();
        let subscription = match self.provision(subscription).await {
            Ok(s) => s,
            Err(e) if e.outage().is_some() && e.interrupted().is_none() => return Err(self.interrupted(&id, e).await),
            Err(e) => return Err(e),
        };
        self.deliver(subscription).await
    }

    /// An outage `cause` stopped the provisioning of subscription `id`:
    /// when it is still unfinished (the reconciler resumes it), says so
    /// with its state and step; otherwise `cause` as it is.
    async fn interrupted(&self, id: &str, cause: PublisherError) -> PublisherError {
        match self.store().get_subscription(id).await {
            Ok(Some(s)) if matches!(s.state, SubscriptionState::Requested | SubscriptionState::Provisioning) => {
                PublisherError::Interrupted {
                    operation: "subscribe",
                    subscription: s.id,
                    state: s.state.to_string(),
                    step: s.step.unwrap_or_else(|| "-".into()),
                    cause: Box::new(cause),
                }
            }
            _ => cause,
        }
    }

    /// Checks that B's SAML service provider is up (the `/healthz` check):
    /// [`PublisherError::SamlSpUnavailable`] when it is not.
    pub async fn check_saml_sp(&self) -> PublisherResult<()> {
        self.inner.trust.check_service_provider().await
    }

    /// Brings a subscription in `requested` or `provisioning` to `active`
    /// under the partner's lease; rolls back on a non-transient failure.
    pub(crate) async fn provision(&self, subscription: SubscriptionRecord) -> PublisherResult<SubscriptionRecord> {
        // A subscription already provisioning is being resumed (a subscribe
        // asked again, either service's reconciliation): B's SAML SP is
        // checked first, outside the partner's lease. While the SP is down
        // every attempt fails at the trust step after the SP's own delay
        // (about 6 s), and holding the lease meanwhile kept the other callers
        // waiting for it until they gave up busy. Nothing is written here:
        // the attempt that first failed under the lease recorded the error.
        if subscription.state == SubscriptionState::Provisioning {
            self.inner.trust.check_service_provider().await?;
        }
        let partner_id = subscription.partner_id.clone();
        let id = subscription.id.clone();
        let result = self
            .with_partner_lease(&partner_id, |lease| async move {
                // Another replica or the reconciler may have moved it on.
                let current = self.subscription_record(&id).await?;
                match current.state {
                    SubscriptionState::Requested | SubscriptionState::Provisioning => {}
                    _ => return Ok(current),
                }
                match self.provision_steps(current, &lease).await {
                    // Recorded while the lease is held: written after it is
                    // given up, it raced the next holder's steps (a subscribe
                    // asked again during an outage answered "changed
                    // concurrently" instead of the outage).
                    Err(e) if e.is_transient() => {
                        let _ = self.record_error(&id, &e).await;
                        Err(e)
                    }
                    other => other,
                }
            })
            .await;
        match result {
            Ok(s) => Ok(s),
            Err(e) if e.is_transient() => {
                tracing::warn!(subscription = %subscription.id, error = %e, "provisioning interrupted; will resume");
                Err(e)
            }
            Err(e) => {
                tracing::warn!(subscription = %subscription.id, error = %e, "provisioning failed; rolling back");
                match self.roll_back(&subscription.id, &e).await {
                    Ok(()) => Err(e),
                    Err(undo) => {
                        tracing::error!(subscription = %subscription.id, error = %undo, "rollback interrupted; the reconciler will finish it");
                        Err(e)
                    }
                }
            }
        }
    }

    async fn provision_steps(&self, mut s: SubscriptionRecord, lease: &Lease) -> PublisherResult<SubscriptionRecord> {
        let keystone = self.keystone().as_ref();
        let vregion = self.vregion_by_id(&s.vregion_id).await?;
        let domain_id = vregion_domain(&vregion)?;
        s.state = SubscriptionState::Provisioning;
        s.error = None;

        // trust: the subscriber's metadata in Shibboleth's directory.
        // B's SAML SP must be up: a trust it cannot read lets nobody in.
        s = self.step(s, "trust", lease).await?;
        self.inner.trust.check_service_provider().await?;
        self.inner.trust.trust(&s.entity_id, &s.metadata).await?;
        let entity_id = s.entity_id.clone();
        record(&mut s, ObjectKind::SamlTrust, &entity_id, None, false);
        s = self.pause_after(s, "trust").await?;

        // users_domain: the partner's federated users get a domain of their
        // own, shared by its subscriptions (a vregion domain may go first).
        s = self.step(s, "users_domain", lease).await?;
        let users_domain = self.ensure_users_domain(&s.partner).await?;
        let users_domain_id = users_domain.object.id.clone();
        record(&mut s, ObjectKind::Domain, &users_domain_id, None, false);
        s = self.pause_after(s, "users_domain").await?;

        // identity_provider: one per partner, its users in the users' domain
        // (one in another domain, made by an older version, is recreated).
        s = self.step(s, "identity_provider", lease).await?;
        let idp = self.ensure_partner_idp(&s, &users_domain_id).await?;
        let idp_id = idp.ensured.object.id.clone();
        record(&mut s, ObjectKind::IdentityProvider, &idp_id, None, false);
        s = self.pause_after(s, "identity_provider").await?;

        // mapping: rules for every vregion of the partner.
        s = self.step(s, "mapping", lease).await?;
        let mapping_id = self.write_mapping(&s.partner_id, &s.partner, None).await?;
        record(&mut s, ObjectKind::Mapping, &mapping_id, None, false);
        s = self.pause_after(s, "mapping").await?;

        // protocol saml2 → mapping.
        s = self.step(s, "protocol", lease).await?;
        ensure::ensure_protocol(
            keystone,
            &idp_id,
            PROTOCOL,
            &NewProtocol {
                mapping_id: mapping_id.clone(),
                remote_id_attribute: self.config().remote_id_attribute.clone(),
            },
        )
        .await?;
        record(&mut s, ObjectKind::Protocol, PROTOCOL, Some(&idp_id), false);
        s = self.pause_after(s, "protocol").await?;

        // admin_user: the password is sealed in the record before the user exists.
        s = self.step(s, "admin_user", lease).await?;
        if s.admin_password_sealed.is_none() {
            let password = super::generate_password()?;
            s.admin_password_sealed = Some(self.inner.secrets.seal(&password)?);
            s = self.save(s).await?;
        }
        let user_id = self.ensure_admin_user(&s, &domain_id).await?;
        record(&mut s, ObjectKind::User, &user_id, None, false);
        s = self.pause_after(s, "admin_user").await?;

        s = self.step(s, "admin_role", lease).await?;
        let (role, _) = self.converge_admin_grants(&user_id, &domain_id).await?;
        record(&mut s, ObjectKind::RoleAssignment, &format!("{role}:{user_id}:{domain_id}"), None, false);
        s = self.pause_after(s, "admin_role").await?;

        // projects a former cancellation disabled come back.
        s = self.step(s, "projects", lease).await?;
        let tag = owner_tag(&s.partner);
        let filter = Filter::new().domain_id(&domain_id).with("tags", tag.clone());
        for project in keystone.list_projects(&filter).await? {
            if !project.enabled {
                let update = ProjectUpdate { enabled: Some(true), ..Default::default() };
                super::gone_is_fine(keystone.update_project(&project.id, &update).await.map(|_| ()))?;
                tracing::info!(project = %project.name, "re-enabled a project of the partner");
            }
        }

        s.state = SubscriptionState::Active;
        s.step = None;
        let s = self.save(s).await?;
        tracing::info!(subscription = %s.id, partner = %s.partner, vregion = %s.vregion, "subscription active");
        Ok(s)
    }

    /// Creates, adopts or re-enables the domain of the partner's federated
    /// users (`mercador-k2k-<partner>`). A domain of that name Mercador did
    /// not create (another description) is never adopted: teardown deletes
    /// this domain.
    pub(crate) async fn ensure_users_domain(&self, partner: &Name) -> PublisherResult<ensure::Ensured<Domain>> {
        let keystone = self.keystone().as_ref();
        let name = users_domain_name(partner);
        let description = users_domain_description(partner);
        for domain in keystone.list_domains(&Filter::new().name(&name)).await? {
            if domain.description.as_deref() != Some(description.as_str()) {
                return Err(PublisherError::Conflict(format!(
                    "Keystone B already has a domain {name} that Mercador did not create (its description is \
                     not {description:?}); its admin must delete or rename it before partner {partner} can \
                     subscribe"
                )));
            }
        }
        let domain = NewDomain { name, description: Some(description), enabled: true };
        let ensured = ensure::ensure_domain(keystone, &domain).await?;
        if ensured.outcome != ensure::Outcome::Adopted {
            tracing::info!(partner = %partner, domain = %ensured.object.id, outcome = %ensured.outcome, "users' domain");
        }
        Ok(ensured)
    }

    /// The domain of the partner's federated users, when Keystone B has it
    /// (and it is Mercador's).
    pub(crate) async fn users_domain(&self, partner: &Name) -> PublisherResult<Option<Domain>> {
        let description = users_domain_description(partner);
        let found = self.keystone().list_domains(&Filter::new().name(users_domain_name(partner))).await?;
        Ok(found.into_iter().find(|d| d.description.as_deref() == Some(description.as_str())))
    }

    /// Disables and deletes the domain of the partner's federated users
    /// (Keystone deletes the shadow users in it). A domain of that name that
    /// is not Mercador's is left alone.
    pub(crate) async fn remove_users_domain(&self, partner: &Name) -> PublisherResult<()> {
        let keystone = self.keystone().as_ref();
        let Some(domain) = self.users_domain(partner).await? else { return Ok(()) };
        if domain.enabled {
            let update = DomainUpdate { enabled: Some(false), ..Default::default() };
            super::gone_is_fine(keystone.update_domain(&domain.id, &update).await.map(|_| ()))?;
        }
        super::gone_is_fine(keystone.delete_domain(&domain.id).await)?;
        tracing::info!(partner = %partner, domain = %domain.id, "deleted the partner's users' domain");
        Ok(())
    }

    /// Creates or repairs the partner's identity provider: remote id = its
    /// entity id, enabled, its users in `users_domain_id`. Keystone cannot
    /// change an identity provider's domain: one in another domain (made by
    /// an older version, which used the first vregion's domain, or by hand)
    /// is deleted with its protocol and created again; the caller then
    /// writes the mapping and the protocol.
    pub(crate) async fn ensure_partner_idp(
        &self,
        s: &SubscriptionRecord,
        users_domain_id: &str,
    ) -> PublisherResult<PartnerIdp> {
        let keystone = self.keystone().as_ref();
        let id = idp_id(&s.partner);
        let existing = match keystone.get_identity_provider(&id).await {
            Ok(idp) => Some(idp),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        let mut moved_from = None;
        if let Some(existing) = existing
            && existing.domain_id.as_deref() != Some(users_domain_id)
        {
            let old = existing.domain_id.unwrap_or_default();
            tracing::warn!(
                partner = %s.partner,
                identity_provider = %id,
                from = %old,
                to = %users_domain_id,
                "identity provider in another domain; recreating it in the partner's users' domain"
            );
            super::gone_is_fine(keystone.delete_protocol(&id, PROTOCOL).await)?;
            super::gone_is_fine(keystone.delete_identity_provider(&id).await)?;
            moved_from = Some(old);
        }
        let idp = NewIdentityProvider {
            remote_ids: vec![s.entity_id.clone()],
            enabled: true,
            description: Some(format!("Mercador partner {} (K2K identity provider)", s.partner)),
            domain_id: Some(users_domain_id.to_string()),
        };
        let ensured = ensure::ensure_identity_provider(keystone, &id, &idp)
            .await
            .map_err(|e| self.explain_idp_conflict(e, &s.entity_id))?;
        Ok(PartnerIdp { ensured, moved_from })
    }

    /// Creates or repairs the vregion admin user with the sealed password;
    /// returns its id.
    pub(crate) async fn ensure_admin_user(&self, s: &SubscriptionRecord, domain_id: &str) -> PublisherResult<String> {
        let keystone = self.keystone().as_ref();
        let password = self.admin_password(s)?;
        let user = ensure::ensure_user(
            keystone,
            &NewUser {
                name: admin_user_name(&s.partner),
                domain_id: domain_id.to_string(),
                password: Some(password.clone()),
                description: Some(format!("Mercador: admin of vregion {} for partner {}", s.vregion, s.partner)),
                default_project_id: None,
                enabled: true,
            },
        )
        .await?;
        // An adopted user may have another password (someone reset it, or a
        // crash came between two attempts). Set ours only when it does not
        // work: changing a password revokes the user's tokens, including one
        // issued in the same second.
        if !user.outcome.created() && !self.password_works(&user.object.id, &password).await? {
            let update = UserUpdate { password: Some(password), ..Default::default() };
            keystone.update_user(&user.object.id, &update).await?;
            super::settle_after_password_change().await;
        }
        Ok(user.object.id)
    }

    /// Gives the vregion admin user the configured role on the vregion
    /// domain and takes away every cloud-wide role it holds anywhere (the
    /// `admin` on the domain that earlier versions granted, or one granted
    /// by hand). Returns the role's id and what was taken away, as
    /// `"<role> on <domain|project> <id>"`.
    pub(crate) async fn converge_admin_grants(
        &self,
        user_id: &str,
        domain_id: &str,
    ) -> PublisherResult<(String, Vec<String>)> {
        let keystone = self.keystone().as_ref();
        let graph = self.role_graph().await?;
        let admin_role = &self.config().admin_role;
        if let Some(why) = graph.why_cloud_wide(admin_role) {
            return Err(PublisherError::Conflict(format!(
                "[federation] vregion_admin_role: {why}; the vregion admin would act outside the vregion"
            )));
        }
        let role = self.role_id(admin_role).await?;
        let actor = Actor::User(user_id.to_string());
        ensure::ensure_role_grant(keystone, &role, &actor, &Target::Domain(domain_id.to_string())).await?;
        let filter =
            RoleAssignmentFilter { user_id: Some(user_id.to_string()), include_names: true, ..Default::default() };
        let mut removed = Vec::new();
        for assignment in keystone.list_role_assignments(&filter).await? {
            let name = assignment.role.name.clone().unwrap_or_else(|| assignment.role.id.clone());
            if graph.why_cloud_wide(&name).is_none() {
                continue;
            }
            let (target, shown) = match (&assignment.scope.domain, &assignment.scope.project) {
                (Some(d), _) => (Target::Domain(d.id.clone()), format!("{name} on domain {}", d.id)),
                (None, Some(p)) => (Target::Project(p.id.clone()), format!("{name} on project {}", p.id)),
                (None, None) => (Target::System, format!("{name} on the system")),
            };
            super::gone_is_fine(keystone.revoke_role(&assignment.role.id, &actor, &target).await)?;
            tracing::warn!(user = %user_id, removed = %shown, "took a cloud-wide role from the vregion admin");
            removed.push(shown);
        }
        Ok((role, removed))
    }

    async fn password_works(&self, user_id: &str, password: &SecretString) -> PublisherResult<bool> {
        use crate::keystone::AuthMethod as _;
        let v3 = crate::keystone::auth::identity_v3_url(&self.config().keystone_url)?;
        let credentials = crate::keystone::Credentials::Password {
            user: crate::keystone::NameOrId::Id(user_id.to_string()),
            password: password.clone(),
        };
        let auth = crate::keystone::DirectAuth::new(&v3, credentials)?;
        match auth.authenticate(&self.inner.http, &crate::keystone::Scope::Unscoped).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == crate::keystone::ErrorKind::AuthenticationFailed => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn admin_password(&self, s: &SubscriptionRecord) -> PublisherResult<SecretString> {
        let sealed = s.admin_password_sealed.as_deref().ok_or_else(|| {
            PublisherError::Conflict(format!("subscription {} has no admin password yet; it is not provisioned", s.id))
        })?;
        Ok(self.inner.secrets.open(sealed)?)
    }

    /// Writes the partner's mapping from its subscriptions that are
    /// requested, being provisioned or active (minus `excluding`, being torn
    /// down), its users in the partner's users' domain; returns its id.
    pub(crate) async fn write_mapping(
        &self,
        partner_id: &str,
        partner: &Name,
        excluding: Option<&str>,
    ) -> PublisherResult<String> {
        let subscriptions = self.mapped_subscriptions(partner_id, excluding).await?;
        let graph = self.role_graph().await?;
        let mut vregions = Vec::new();
        for s in &subscriptions {
            let v = self.vregion_by_id(&s.vregion_id).await?;
            vregions.push(MappedVRegion {
                domain_id: vregion_domain(&v)?,
                roles: Self::confined_roles(&graph, &v.spec.name, &v.spec.roles),
                project_prefix: if v.spec.max_subscriptions > 1 { format!("{partner}-") } else { String::new() },
            });
        }
        if vregions.is_empty() {
            return Err(PublisherError::Conflict(format!("partner {partner} has no subscription to map")));
        }
        let user_domain = self.ensure_users_domain(partner).await?.object.id;
        let rules = mapping::rules(&user_domain, &vregions).map_err(PublisherError::Conflict)?;
        let id = mapping_id(partner);
        ensure::ensure_mapping(
            self.keystone().as_ref(),
            &id,
            &NewMapping { rules, schema_version: Some(mapping::SCHEMA_VERSION.into()) },
        )
        .await?;
        Ok(id)
    }

    /// The partner's subscriptions the mapping serves.
    pub(crate) async fn mapped_subscriptions(
        &self,
        partner_id: &str,
        excluding: Option<&str>,
    ) -> PublisherResult<Vec<SubscriptionRecord>> {
        let filter = SubscriptionFilter {
            partner_id: Some(partner_id.to_string()),
            states: vec![SubscriptionState::Requested, SubscriptionState::Provisioning, SubscriptionState::Active],
            ..Default::default()
        };
        let all = self.store().list_subscriptions(&filter).await?;
        Ok(all.into_iter().filter(|s| excluding != Some(s.id.as_str())).collect())
    }

    /// Returns the access once, with the admin password when it never reached
    /// the partner.
    async fn deliver(&self, subscription: SubscriptionRecord) -> PublisherResult<Access> {
        if subscription.state != SubscriptionState::Active {
            return Err(PublisherError::Conflict(format!(
                "subscription {} is {}; it did not become active",
                subscription.id, subscription.state
            )));
        }
        // The password goes into one answer only, whatever the concurrency:
        // the answer that turns `credentials_delivered` on (a versioned
        // write, which exactly one concurrent caller wins) carries it.
        let reveal = self.set_credentials_delivered(&subscription.id, true).await?;
        match self.build_access(&subscription, reveal).await {
            Ok(mut access) => {
                if !reveal {
                    access.note = Some(
                        "the vregion admin's password was returned once, in the answer to another subscribe \
                         request of yours for this vregion (made at the same time); it is not shown again"
                            .into(),
                    );
                }
                Ok(access)
            }
            Err(e) => {
                // Nobody got the password: the next subscribe gets it.
                if reveal && let Err(undo) = self.set_credentials_delivered(&subscription.id, false).await {
                    tracing::error!(subscription = %subscription.id, error = %undo, "cannot mark the password undelivered");
                }
                Err(e)
            }
        }
    }

    /// Sets `credentials_delivered`; true when this call changed it.
    /// Concurrent writes of the record (stale versions) are retried.
    async fn set_credentials_delivered(&self, id: &str, delivered: bool) -> PublisherResult<bool> {
        for _ in 0..20 {
            let mut s = self.subscription_record(id).await?;
            if s.credentials_delivered == delivered {
                return Ok(false);
            }
            s.credentials_delivered = delivered;
            match self.save(s).await {
                Ok(_) => return Ok(true),
                Err(PublisherError::Store(crate::store::StoreError::Stale { .. })) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(PublisherError::Busy(format!("subscription {id}")))
    }

    /// A partner's subscriptions (every state).
    pub async fn partner_subscriptions(&self, partner: &Name) -> PublisherResult<Vec<SubscriptionView>> {
        let partner = self.active_partner(partner).await?;
        let filter = SubscriptionFilter { partner_id: Some(partner.id), ..Default::default() };
        Ok(self.store().list_subscriptions(&filter).await?.into_iter().map(Into::into).collect())
    }

    /// One of a partner's subscriptions; another partner's is reported as
    /// not found.
    pub async fn partner_subscription(&self, partner: &Name, id: &str) -> PublisherResult<SubscriptionView> {
        Ok(self.partner_subscription_record(partner, id).await?.into())
    }

    /// Every subscription, optionally of one partner (admin).
    pub async fn list_subscriptions(&self, partner: Option<&Name>) -> PublisherResult<Vec<SubscriptionView>> {
        let partner_id = match partner {
            Some(name) => Some(self.partner_record(name).await?.id),
            None => None,
        };
        let filter = SubscriptionFilter { partner_id, ..Default::default() };
        Ok(self.store().list_subscriptions(&filter).await?.into_iter().map(Into::into).collect())
    }

    /// One subscription (admin).
    pub async fn get_subscription(&self, id: &str) -> PublisherResult<SubscriptionView> {
        Ok(self.subscription_record(id).await?.into())
    }

    // ---- helpers shared by the other operations

    pub(crate) async fn active_partner(&self, name: &Name) -> PublisherResult<PartnerRecord> {
        let partner = self.partner_record(name).await?;
        if partner.state != PartnerState::Active {
            return Err(PublisherError::Conflict(format!("partner {name} is {}", partner.state.as_str())));
        }
        Ok(partner)
    }

    async fn offered_vregion(&self, partner: &PartnerRecord, name: &Name) -> PublisherResult<VRegionRecord> {
        let not_offered = || PublisherError::NotFound {
            what: "vregion",
            name: name.to_string(),
            hint: Some("list the vregions offered to you with GET /v1/exchange/vregions".into()),
        };
        let vregion = self.store().get_vregion(name).await?.ok_or_else(not_offered)?;
        if !vregion.spec.partners.contains(&partner.name) {
            return Err(not_offered());
        }
        if vregion.state != VRegionState::Published {
            return Err(PublisherError::Conflict(format!(
                "vregion {name} is {}; it takes no new subscriptions",
                vregion.state
            )));
        }
        Ok(vregion)
    }

    /// A partner has one SAML identity, and no other partner has it.
    async fn check_entity_belongs_to(&self, partner: &PartnerRecord, entity_id: &str) -> PublisherResult<()> {
        let holding = SubscriptionFilter {
            states: SubscriptionState::ALL.into_iter().filter(|s| s.holds_a_place()).collect(),
            ..Default::default()
        };
        for s in self.store().list_subscriptions(&holding).await? {
            if s.partner_id != partner.id && s.entity_id == entity_id {
                return Err(PublisherError::Saml(format!(
                    "entity {entity_id} is the identity provider of another partner; each partner subscribes \
                     with its own Keystone's entity id"
                )));
            }
            if s.partner_id == partner.id && s.entity_id != entity_id {
                return Err(PublisherError::Saml(format!(
                    "partner {} subscribes with entity {} (subscription {}); all of a partner's subscriptions \
                     use its one identity provider",
                    partner.name, s.entity_id, s.id
                )));
            }
        }
        Ok(())
    }

    pub(crate) async fn partner_holding(&self, partner_id: &str) -> PublisherResult<Vec<SubscriptionRecord>> {
        let filter = SubscriptionFilter {
            partner_id: Some(partner_id.to_string()),
            states: SubscriptionState::ALL.into_iter().filter(|s| s.holds_a_place()).collect(),
            ..Default::default()
        };
        Ok(self.store().list_subscriptions(&filter).await?)
    }

    pub(crate) async fn partner_subscription_record(
        &self,
        partner: &Name,
        id: &str,
    ) -> PublisherResult<SubscriptionRecord> {
        let partner = self.active_partner(partner).await?;
        match self.store().get_subscription(id).await? {
            Some(s) if s.partner_id == partner.id => Ok(s),
            _ => Err(PublisherError::NotFound {
                what: "subscription",
                name: id.to_string(),
                hint: Some("list yours with GET /v1/exchange/subscriptions".into()),
            }),
        }
    }

    pub(crate) async fn subscription_record(&self, id: &str) -> PublisherResult<SubscriptionRecord> {
        self.store().get_subscription(id).await?.ok_or_else(|| PublisherError::not_found("subscription", id))
    }

    pub(crate) async fn vregion_by_id(&self, id: &str) -> PublisherResult<VRegionRecord> {
        self.store().get_vregion_by_id(id).await?.ok_or_else(|| PublisherError::not_found("vregion", id))
    }

    /// Saves a subscription (its version moves on).
    pub(crate) async fn save(&self, mut s: SubscriptionRecord) -> PublisherResult<SubscriptionRecord> {
        s.updated_at = Self::now();
        Ok(self.store().update_subscription(&s).await?)
    }

    /// Records the step about to run, and renews the lease.
    pub(crate) async fn step(
        &self,
        mut s: SubscriptionRecord,
        step: &str,
        lease: &Lease,
    ) -> PublisherResult<SubscriptionRecord> {
        lease.renew(self.store().as_ref()).await?;
        s.step = Some(step.to_string());
        tracing::debug!(subscription = %s.id, step, "step");
        self.save(s).await
    }

    /// Saves the step's records, then the test hook may pause.
    pub(crate) async fn pause_after(&self, s: SubscriptionRecord, step: &str) -> PublisherResult<SubscriptionRecord> {
        let s = self.save(s).await?;
        if let Some((name, pause)) = &self.config().pause_after_step
            && name == step
        {
            tracing::warn!(subscription = %s.id, step, seconds = pause.as_secs(), "pausing after step (test hook)");
            tokio::time::sleep(*pause).await;
        }
        Ok(s)
    }

    async fn record_error(&self, id: &str, e: &PublisherError) -> PublisherResult<()> {
        let mut s = self.subscription_record(id).await?;
        s.error = Some(e.to_string());
        self.save(s).await.map(|_| ())
    }

    fn explain_idp_conflict(&self, e: crate::Error, entity_id: &str) -> PublisherError {
        if e.is_conflict() {
            PublisherError::Conflict(format!(
                "Keystone B already has an identity provider with remote id {entity_id} that Mercador did not \
                 create (Keystone allows one per remote id); its admin must delete it before this partner \
                 can subscribe"
            ))
        } else {
            e.into()
        }
    }

    /// Runs `work` holding the lease on the partner's federation objects
    /// (identity provider, mapping, protocol, trust), shared by all its
    /// subscriptions; waits for it up to 30 s.
    pub(crate) async fn with_partner_lease<T, F, Fut>(&self, partner_id: &str, work: F) -> PublisherResult<T>
    where
        F: FnOnce(Lease) -> Fut,
        Fut: std::future::Future<Output = PublisherResult<T>>,
    {
        let config = self.config();
        let lease = Lease::new(format!("partner:{partner_id}"), &config.replica_id, config.lease_ttl);
        lease.hold(self.store().as_ref(), partner_id, work).await
    }
}

/// A lease held on a partner's federation objects.
pub(crate) type Lease = crate::engine::Lease<PublisherError>;

/// The identity provider of a partner on Keystone B.
pub fn idp_id(partner: &Name) -> String {
    format!("mercador-{partner}")
}

/// The domain of a partner's federated (shadow) users on Keystone B
/// (partner names have at most 40 characters: it fits Keystone's 64).
pub fn users_domain_name(partner: &Name) -> String {
    format!("{}{partner}", super::vregions::USERS_DOMAIN_PREFIX)
}

/// The description of a partner's users' domain: how Mercador recognises
/// it as its own.
pub(crate) fn users_domain_description(partner: &Name) -> String {
    format!("Mercador: federated (K2K) users of partner {partner}")
}

/// The partner's identity provider as [`Publisher::ensure_partner_idp`]
/// left it.
pub(crate) struct PartnerIdp {
    /// The identity provider and what was done to it.
    pub(crate) ensured: ensure::Ensured<IdentityProvider>,
    /// The domain it was in when it had to be recreated in the users' domain.
    pub(crate) moved_from: Option<String>,
}

/// The mapping of a partner on Keystone B.
pub fn mapping_id(partner: &Name) -> String {
    format!("mercador-{partner}-mapping")
}

/// The vregion admin user of a partner, in the vregion domain.
pub fn admin_user_name(partner: &Name) -> String {
    format!("mercador-admin-{partner}")
}

pub(crate) fn vregion_domain(v: &VRegionRecord) -> PublisherResult<String> {
    v.domain_id.clone().ok_or_else(|| {
        PublisherError::Conflict(format!("vregion {} has no domain: it was never published", v.spec.name))
    })
}

fn record(s: &mut SubscriptionRecord, kind: ObjectKind, id: &str, parent: Option<&str>, adopted: bool) {
    if !s.objects.iter().any(|o| o.kind == kind && o.id == id && o.parent.as_deref() == parent) {
        s.objects.push(CreatedObject { kind, id: id.to_string(), parent: parent.map(str::to_string), adopted });
    }
}

//! Defining, publishing and withdrawing vregions.

use std::collections::BTreeMap;

use super::{Publisher, PublisherError, PublisherResult, VRegionView};
use crate::keystone::ensure;
use crate::keystone::types::{Domain, DomainUpdate, Filter, NewDomain, NewLimit};
use crate::model::{Name, SubscriptionState, VRegionSpec, VRegionState, ValidationError};
use crate::store::{SubscriptionFilter, VRegionRecord};

/// How the domains of partners' federated users begin
/// ([`super::subscribe::users_domain_name`]); no vregion domain may.
pub(crate) const USERS_DOMAIN_PREFIX: &str = "mercador-k2k-";

/// How a vregion is published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishOptions {
    /// Take an existing, empty domain of the spec's name that Mercador did
    /// not create (its description becomes Mercador's: deleting the
    /// vregion then disables or deletes it).
    pub adopt_domain: bool,
}

/// The description of a vregion's domain and of its limits: how Mercador
/// recognises what it created for that vregion.
pub(crate) fn domain_description(vregion: &Name) -> String {
    format!("Mercador vregion {vregion}")
}

/// What Keystone B says about a spec's references: the service id of each
/// exposed type.
pub(crate) struct KeystoneFacts {
    pub(crate) service_ids: BTreeMap<String, String>,
}

impl Publisher {
    /// Stores a new vregion as a draft after checking it: model rules, and on
    /// Keystone B that its region exists, that each service type has an
    /// endpoint there, that its roles exist and none reaches beyond the
    /// vregion ([`super::confinement`]), and that each quota's resource
    /// has a registered limit in that region.
    pub async fn create_vregion(&self, spec: VRegionSpec) -> PublisherResult<VRegionView> {
        spec.validate().map_err(PublisherError::Invalid)?;
        self.check_against_keystone(&spec).await?;
        let now = Self::now();
        let record = VRegionRecord {
            id: Self::new_id(),
            spec,
            state: VRegionState::Draft,
            domain_id: None,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        self.store().insert_vregion(&record).await.map_err(|e| match e {
            crate::store::StoreError::Duplicate { key, .. } => PublisherError::Conflict(format!(
                "vregion {key} already exists; change it with PUT /v1/admin/vregions/{key} or pick another name"
            )),
            e => e.into(),
        })?;
        tracing::info!(vregion = %record.spec.name, "vregion defined");
        let stored = self.vregion_record(&record.spec.name).await?;
        Ok(VRegionView::new(stored, 0))
    }

    /// Replaces a vregion's definition (same name). A published vregion's
    /// quotas and image visibility are applied to Keystone B and Glance at
    /// once, on every project of its domain (images no longer listed are
    /// unshared from them); its roles and service types
    /// reach existing subscriptions at their next refresh.
    pub async fn replace_vregion(&self, name: &Name, spec: VRegionSpec) -> PublisherResult<VRegionView> {
        if &spec.name != name {
            return Err(PublisherError::Invalid(vec![ValidationError::new(
                "name",
                format!("is {}, but the path names {name}; a vregion cannot be renamed", spec.name),
            )]));
        }
        spec.validate().map_err(PublisherError::Invalid)?;
        let facts = self.check_against_keystone(&spec).await?;
        let _enforcing = self.enforcing().await;
        let mut record = self.vregion_record(name).await?;
        if record.domain_id.is_some() && spec.domain_name() != record.spec.domain_name() {
            return Err(PublisherError::Invalid(vec![ValidationError::new(
                "domain",
                format!(
                    "the vregion lives in domain {} since it was published; its domain cannot change",
                    record.spec.domain_name()
                ),
            )]));
        }
        let taken = self.places_taken(&record.id).await?;
        if (spec.max_subscriptions as usize) < taken as usize {
            return Err(PublisherError::Invalid(vec![ValidationError::new(
                "max_subscriptions",
                format!("{taken} subscriptions hold a place; cancel or revoke some before lowering it"),
            )]));
        }
        if let Some(domain_id) = &record.domain_id {
            self.apply_quotas(&spec, domain_id, &facts, Some(&record.spec)).await?;
            let dropped = match &record.spec.visibility.images {
                crate::model::VisibilityRule::Listed { ids } => ids.clone(),
                _ => Vec::new(),
            };
            let mut report = super::EnforcementReport::default();
            self.enforce_vregion(&spec, domain_id, &dropped, &mut report).await?;
            tracing::info!(vregion = %name, changed = ?report.changed, failed = ?report.failed, "vregion enforced");
        }
        record.spec = spec;
        record.updated_at = Self::now();
        let record = self.store().update_vregion(&record).await?;
        tracing::info!(vregion = %name, "vregion changed");
        Ok(VRegionView::new(record, taken))
    }

    /// One vregion.
    pub async fn get_vregion(&self, name: &Name) -> PublisherResult<VRegionView> {
        let record = self.vregion_record(name).await?;
        let taken = self.places_taken(&record.id).await?;
        Ok(VRegionView::new(record, taken))
    }

    /// Every vregion.
    pub async fn list_vregions(&self) -> PublisherResult<Vec<VRegionView>> {
        let mut views = Vec::new();
        for record in self.store().list_vregions().await? {
            let taken = self.places_taken(&record.id).await?;
            views.push(VRegionView::new(record, taken));
        }
        Ok(views)
    }

    /// Publishes: creates the vregion's domain (or takes back the one it
    /// created before), sets its quotas as domain limits and as limits of
    /// each project already in the domain, shares its listed images with
    /// them ([`super::enforcement`]), and offers it to
    /// its partners. Idempotent. A domain Mercador did not create for this
    /// vregion is refused; see [`Self::publish_vregion_with`] to adopt an
    /// empty one.
    pub async fn publish_vregion(&self, name: &Name) -> PublisherResult<VRegionView> {
        self.publish_vregion_with(name, &PublishOptions::default()).await
    }

    /// [`Self::publish_vregion`], with options.
    pub async fn publish_vregion_with(&self, name: &Name, options: &PublishOptions) -> PublisherResult<VRegionView> {
        let mut record = self.vregion_record(name).await?;
        if !record.state.can_become(VRegionState::Published) {
            return Err(PublisherError::Conflict(format!(
                "vregion {name} is {}; it cannot be published",
                record.state
            )));
        }
        let facts = self.check_against_keystone(&record.spec).await?;
        let _enforcing = self.enforcing().await;
        let domain_id = self.own_domain(&record, options.adopt_domain).await?;
        self.apply_quotas(&record.spec, &domain_id, &facts, None).await?;
        let mut report = super::EnforcementReport::default();
        self.enforce_vregion(&record.spec, &domain_id, &[], &mut report).await?;
        tracing::info!(vregion = %name, changed = ?report.changed, failed = ?report.failed, "vregion enforced");
        record.domain_id = Some(domain_id);
        record.state = VRegionState::Published;
        record.updated_at = Self::now();
        let record = self.store().update_vregion(&record).await?;
        tracing::info!(vregion = %name, "vregion published");
        let taken = self.places_taken(&record.id).await?;
        Ok(VRegionView::new(record, taken))
    }

    /// Withdraws: no new subscriptions; existing ones go on.
    pub async fn withdraw_vregion(&self, name: &Name) -> PublisherResult<VRegionView> {
        let mut record = self.vregion_record(name).await?;
        if !record.state.can_become(VRegionState::Withdrawn) {
            return Err(PublisherError::Conflict(format!(
                "vregion {name} is {}; only a published vregion can be withdrawn",
                record.state
            )));
        }
        record.state = VRegionState::Withdrawn;
        record.updated_at = Self::now();
        let record = self.store().update_vregion(&record).await?;
        tracing::info!(vregion = %name, "vregion withdrawn");
        let taken = self.places_taken(&record.id).await?;
        Ok(VRegionView::new(record, taken))
    }

    /// Deletes a vregion no subscription holds a place in, with its quotas
    /// (its domain limits and its projects' limits) and the memberships of
    /// its projects in its listed images. Its Keystone domain is disabled, not deleted (it
    /// may hold resources), unless `purge`. It holds projects only:
    /// federated users live in their partner's own domain, so the partners'
    /// other vregions keep working. A domain that is not the vregion's own
    /// (its description changed by hand, or another vregion's) is left
    /// alone, and said so in the log.
    pub async fn delete_vregion(&self, name: &Name, purge: bool) -> PublisherResult<()> {
        let record = self.vregion_record(name).await?;
        let taken = self.places_taken(&record.id).await?;
        if taken > 0 {
            return Err(PublisherError::Conflict(format!(
                "vregion {name} has {taken} subscription(s) holding a place; withdraw it, then revoke them first"
            )));
        }
        let _enforcing = self.enforcing().await;
        if let Some(domain_id) = &record.domain_id {
            let keystone = self.keystone().as_ref();
            // Its projects' limits and image memberships.
            self.release_vregion(&record.spec, domain_id).await?;
            // The limits Mercador set (their description names the vregion).
            let ours = domain_description(name);
            for limit in keystone.list_limits(&Filter::new().domain_id(domain_id)).await? {
                if limit.domain_id.as_deref() == Some(domain_id.as_str())
                    && limit.description.as_deref() == Some(ours.as_str())
                {
                    super::gone_is_fine(keystone.delete_limit(&limit.id).await)?;
                }
            }
            let domain = match keystone.get_domain(domain_id).await {
                Ok(d) => Some(d),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e.into()),
            };
            let shared = self
                .store()
                .list_vregions()
                .await?
                .into_iter()
                .any(|v| v.id != record.id && v.domain_id.as_deref() == Some(domain_id.as_str()));
            match domain {
                None => {}
                Some(d) if shared || d.description.as_deref() != Some(domain_description(name).as_str()) => {
                    tracing::warn!(
                        vregion = %name,
                        domain = %d.id,
                        "the vregion's domain is not its own any more (another vregion's, or its description \
                         changed); left alone"
                    );
                }
                Some(d) => {
                    let result = if purge {
                        keystone.delete_domain(&d.id).await
                    } else {
                        let update = DomainUpdate { enabled: Some(false), ..Default::default() };
                        keystone.update_domain(&d.id, &update).await.map(|_| ())
                    };
                    super::gone_is_fine(result)?;
                }
            }
        }
        self.store().delete_vregion(&record.id).await?;
        tracing::info!(vregion = %name, purge, "vregion deleted");
        Ok(())
    }

    /// The vregion's domain: the one it recorded, or one Mercador created
    /// for it (recognised by its description), or a new one; with
    /// `adopt`, an existing empty domain of that name. Never the domain of
    /// another vregion, nor one holding anything the vregion did not put
    /// there. Enabled on return.
    async fn own_domain(&self, record: &VRegionRecord, adopt: bool) -> PublisherResult<String> {
        let keystone = self.keystone().as_ref();
        let name = &record.spec.name;
        let domain_name = record.spec.domain_name();
        let ours = domain_description(name);
        let enable = |d: Domain| async move {
            if !d.enabled {
                let update = DomainUpdate { enabled: Some(true), ..Default::default() };
                keystone.update_domain(&d.id, &update).await?;
            }
            PublisherResult::Ok(d.id)
        };
        if let Some(id) = &record.domain_id {
            match keystone.get_domain(id).await {
                Ok(d) => return enable(d).await,
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        let found = keystone.list_domains(&Filter::new().name(&domain_name)).await?;
        let Some(existing) = found.into_iter().find(|d| d.name == domain_name) else {
            let created = ensure::ensure_domain(
                keystone,
                &NewDomain { name: domain_name.clone(), description: Some(ours), enabled: true },
            )
            .await?;
            tracing::info!(vregion = %name, domain = %created.object.id, outcome = %created.outcome, "vregion domain");
            return Ok(created.object.id);
        };
        for other in self.store().list_vregions().await? {
            if other.id != record.id
                && (other.domain_id.as_deref() == Some(existing.id.as_str()) || other.spec.domain_name() == domain_name)
            {
                return Err(PublisherError::Conflict(format!(
                    "domain {domain_name} is the domain of vregion {}; give vregion {name} a domain of its own \
                     (`domain:` in its spec)",
                    other.spec.name
                )));
            }
        }
        if existing.description.as_deref() == Some(ours.as_str()) {
            tracing::info!(vregion = %name, domain = %existing.id, "vregion domain (created earlier by Mercador)");
            return enable(existing).await;
        }
        if !adopt {
            return Err(PublisherError::Conflict(format!(
                "Keystone B already has a domain {domain_name} ({}) that Mercador did not create for vregion \
                 {name}; deleting the vregion would disable or delete it. Name another domain (`domain:` in the \
                 spec), or, if {domain_name} is empty and meant for this vregion, adopt it: publish with \
                 adopt_domain=true (`mercador vregion publish {name} --adopt-domain`)",
                existing.id
            )));
        }
        let projects = keystone.list_projects(&Filter::new().domain_id(&existing.id)).await?.len();
        let users = keystone.list_users(&Filter::new().domain_id(&existing.id)).await?.len();
        let groups = keystone.list_groups(&Filter::new().domain_id(&existing.id)).await?.len();
        if projects + users + groups > 0 {
            return Err(PublisherError::Conflict(format!(
                "domain {domain_name} holds {projects} project(s), {users} user(s) and {groups} group(s); \
                 Mercador adopts only an empty domain (deleting the vregion disables or deletes its domain). \
                 Name another domain in the spec"
            )));
        }
        let update = DomainUpdate { description: Some(ours), enabled: Some(true), ..Default::default() };
        keystone.update_domain(&existing.id, &update).await?;
        tracing::warn!(vregion = %name, domain = %existing.id, "adopted an empty domain, as asked");
        Ok(existing.id)
    }

    pub(crate) async fn vregion_record(&self, name: &Name) -> PublisherResult<VRegionRecord> {
        self.store().get_vregion(name).await?.ok_or_else(|| PublisherError::NotFound {
            what: "vregion",
            name: name.to_string(),
            hint: Some("list them with GET /v1/admin/vregions".into()),
        })
    }

    /// Subscriptions of a vregion holding a place.
    pub(crate) async fn places_taken(&self, vregion_id: &str) -> PublisherResult<u32> {
        let filter = SubscriptionFilter {
            vregion_id: Some(vregion_id.to_string()),
            states: SubscriptionState::ALL.into_iter().filter(|s| s.holds_a_place()).collect(),
            ..Default::default()
        };
        Ok(u32::try_from(self.store().list_subscriptions(&filter).await?.len()).unwrap_or(u32::MAX))
    }

    /// Checks the spec's references against Keystone B; every problem is
    /// reported with its field.
    pub(crate) async fn check_against_keystone(&self, spec: &VRegionSpec) -> PublisherResult<KeystoneFacts> {
        let keystone = self.keystone();
        let mut errors = Vec::new();
        let domain = spec.domain_name();
        for other in self.store().list_vregions().await? {
            if other.spec.name != spec.name && other.spec.domain_name() == domain {
                errors.push(ValidationError::new(
                    "domain",
                    format!(
                        "{domain} is the domain of vregion {}; each vregion has a domain of its own",
                        other.spec.name
                    ),
                ));
            }
        }
        if domain.starts_with(USERS_DOMAIN_PREFIX) {
            errors.push(ValidationError::new(
                "domain",
                format!(
                    "{domain}: names starting with {USERS_DOMAIN_PREFIX} are the domains of partners' federated \
                     users; set another domain (or name the vregion otherwise)"
                ),
            ));
        }
        let region_exists = match keystone.get_region(&spec.region).await {
            Ok(_) => true,
            Err(e) if e.is_not_found() => {
                errors.push(ValidationError::new(
                    "region",
                    format!("Keystone has no region {:?}; see `openstack region list`", spec.region),
                ));
                false
            }
            Err(e) => return Err(e.into()),
        };
        let mut service_ids = BTreeMap::new();
        for (i, service_type) in spec.service_types.iter().enumerate() {
            let field = format!("service_types[{i}]");
            let services = keystone.list_services(&Filter::new().service_type(service_type)).await?;
            let services: Vec<_> = services.into_iter().filter(|s| s.enabled).collect();
            let mut with_endpoint = Vec::new();
            for service in &services {
                let filter = Filter::new().service_id(&service.id).region_id(&spec.region);
                if !keystone.list_endpoints(&filter).await?.is_empty() {
                    with_endpoint.push(service.id.clone());
                }
            }
            match with_endpoint.as_slice() {
                [id] => {
                    service_ids.insert(service_type.clone(), id.clone());
                }
                [] if region_exists => errors.push(ValidationError::new(
                    &field,
                    format!(
                        "no enabled {service_type} service has an endpoint in region {}; register one or drop \
                         the type",
                        spec.region
                    ),
                )),
                [] => {}
                _ => errors.push(ValidationError::new(
                    &field,
                    format!(
                        "{} {service_type} services have endpoints in region {}; keep one",
                        with_endpoint.len(),
                        spec.region
                    ),
                )),
            }
        }
        for (i, role) in spec.roles.iter().enumerate() {
            let found = keystone.list_roles(&Filter::new().name(role)).await?;
            if !found.iter().any(|r| &r.name == role && r.domain_id.is_none()) {
                errors.push(ValidationError::new(
                    format!("roles[{i}]"),
                    format!("Keystone has no global role {role:?}; create it or pick one of `openstack role list`"),
                ));
            }
        }
        errors.extend(Self::vregion_role_errors(&self.role_graph().await?, &spec.roles));
        if spec.service_types.iter().any(|t| t == "image") {
            errors.extend(self.listed_image_errors(spec).await?);
        }
        for (i, quota) in spec.quotas.iter().enumerate() {
            let Some(service_type) = crate::model::vregion::resource_service_type(&quota.resource) else { continue };
            let Some(service_id) = service_ids.get(service_type) else { continue };
            let filter = Filter::new().service_id(service_id).resource_name(&quota.resource).region_id(&spec.region);
            let registered = keystone.list_registered_limits(&filter).await?;
            if !registered.iter().any(|r| r.region_id.as_deref() == Some(spec.region.as_str())) {
                errors.push(ValidationError::new(
                    format!("quotas[{i}]"),
                    format!(
                        "Keystone has no registered limit for {} of {service_type} in region {}; register a \
                         default first (`openstack registered limit create --service {service_type} --region {} \
                         --default-limit N {}`)",
                        quota.resource, spec.region, spec.region, quota.resource
                    ),
                ));
            }
        }
        if errors.is_empty() { Ok(KeystoneFacts { service_ids }) } else { Err(PublisherError::Invalid(errors)) }
    }

    /// Sets the spec's quotas as limits on the domain; limits of resources a
    /// previous spec had and this one drops are deleted.
    async fn apply_quotas(
        &self,
        spec: &VRegionSpec,
        domain_id: &str,
        facts: &KeystoneFacts,
        previous: Option<&VRegionSpec>,
    ) -> PublisherResult<()> {
        let keystone = self.keystone().as_ref();
        for quota in &spec.quotas {
            let Some(service_id) =
                crate::model::vregion::resource_service_type(&quota.resource).and_then(|t| facts.service_ids.get(t))
            else {
                continue;
            };
            ensure::ensure_limit(
                keystone,
                &NewLimit {
                    service_id: service_id.clone(),
                    region_id: Some(spec.region.clone()),
                    resource_name: quota.resource.clone(),
                    resource_limit: quota.limit,
                    project_id: None,
                    domain_id: Some(domain_id.to_string()),
                    description: Some(domain_description(&spec.name)),
                },
            )
            .await?;
        }
        let dropped: Vec<_> = previous
            .map(|p| p.quotas.iter().filter(|q| !spec.quotas.iter().any(|n| n.resource == q.resource)).collect())
            .unwrap_or_default();
        for quota in dropped {
            let filter = Filter::new().domain_id(domain_id).resource_name(&quota.resource).region_id(&spec.region);
            for limit in keystone.list_limits(&filter).await? {
                if limit.domain_id.as_deref() == Some(domain_id) {
                    match keystone.delete_limit(&limit.id).await {
                        Ok(()) => {}
                        Err(e) if e.is_not_found() => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Ok(())
    }
}

//! Idempotent creation: each `ensure_*` creates an object or adopts the one
//! that already exists with the same natural key (name in its domain, id, or
//! service/region/interface), converging the mutable fields it was given, and
//! reports which happened. A creation that loses a race (409) adopts the
//! winner's object. Re-running any of them is safe.

use std::fmt;

use super::Interface;
use super::api::IdentityApi;
use super::error::{Error, ErrorKind, Result};
use super::types::*;

/// What an `ensure_*` call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The object did not exist and was created.
    Created,
    /// An identical object existed and was adopted unchanged.
    Adopted,
    /// An object with the same key existed and was updated to the wanted state.
    Updated,
}

impl Outcome {
    /// `created`, `adopted` or `updated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Adopted => "adopted",
            Self::Updated => "updated",
        }
    }

    /// True when this call created the object (so undoing it means deleting it).
    pub fn created(self) -> bool {
        self == Self::Created
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// An object and what `ensure_*` did to get it.
#[derive(Debug, Clone)]
pub struct Ensured<T> {
    /// The object as Keystone holds it now.
    pub object: T,
    /// What was done.
    pub outcome: Outcome,
}

impl<T> Ensured<T> {
    pub(crate) fn new(object: T, outcome: Outcome) -> Self {
        Self { object, outcome }
    }
}

/// Returns `Ok(None)` for not-found.
async fn found<T>(fut: impl Future<Output = Result<T>>) -> Result<Option<T>> {
    match fut.await {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn one<T>(mut items: Vec<T>, what: impl FnOnce() -> String) -> Result<Option<T>> {
    match items.len() {
        0 => Ok(None),
        1 => Ok(items.pop()),
        n => Err(Error::InvalidInput(format!(
            "{n} objects match {}: cannot tell which to adopt; remove the duplicates",
            what()
        ))),
    }
}

/// Creates, then on a lost race (409) finds the winner.
macro_rules! create_or_adopt {
    ($create:expr, $find:expr) => {
        match $create.await {
            Ok(obj) => Ok(Ensured::new(obj, Outcome::Created)),
            Err(e) if e.is_conflict() => match $find.await? {
                Some(obj) => Ok(Ensured::new(obj, Outcome::Adopted)),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    };
}

/// A region by id (`region.id` is required).
pub async fn ensure_region(api: &dyn IdentityApi, region: &NewRegion) -> Result<Ensured<Region>> {
    let id = region
        .id
        .as_deref()
        .ok_or_else(|| Error::InvalidInput("ensure_region needs the region id (regions have no name)".into()))?;
    if let Some(existing) = found(api.get_region(id)).await? {
        if region.description.is_some() && existing.description != region.description {
            let update = RegionUpdate { description: region.description.clone(), parent_region_id: None };
            return Ok(Ensured::new(api.update_region(id, &update).await?, Outcome::Updated));
        }
        return Ok(Ensured::new(existing, Outcome::Adopted));
    }
    create_or_adopt!(api.create_region(region), found(api.get_region(id)))
}

/// A service by type and name.
pub async fn ensure_service(api: &dyn IdentityApi, service: &NewService) -> Result<Ensured<Service>> {
    let find = || async {
        let all = api.list_services(&Filter::new().service_type(&service.service_type)).await?;
        let matching = all.into_iter().filter(|s| s.name == service.name).collect();
        one(matching, || format!("service type {} named {:?}", service.service_type, service.name))
    };
    if let Some(existing) = find().await? {
        if existing.enabled != service.enabled
            || (service.description.is_some() && existing.description != service.description)
        {
            let update = ServiceUpdate {
                enabled: Some(service.enabled),
                description: service.description.clone(),
                ..Default::default()
            };
            return Ok(Ensured::new(api.update_service(&existing.id, &update).await?, Outcome::Updated));
        }
        return Ok(Ensured::new(existing, Outcome::Adopted));
    }
    create_or_adopt!(api.create_service(service), find())
}

/// An endpoint by service, interface and region; its URL and `enabled` converge.
pub async fn ensure_endpoint(api: &dyn IdentityApi, endpoint: &NewEndpoint) -> Result<Ensured<Endpoint>> {
    let find = || async {
        let mut filter = Filter::new().service_id(&endpoint.service_id).interface(endpoint.interface);
        if let Some(region) = &endpoint.region_id {
            filter = filter.region_id(region);
        }
        let all = api.list_endpoints(&filter).await?;
        let matching = all.into_iter().filter(|e| e.region_id == endpoint.region_id).collect();
        one(matching, || {
            format!(
                "service {} {} endpoint in region {:?}",
                endpoint.service_id, endpoint.interface, endpoint.region_id
            )
        })
    };
    if let Some(existing) = find().await? {
        if existing.url != endpoint.url || existing.enabled != endpoint.enabled {
            let update = EndpointUpdate {
                url: Some(endpoint.url.clone()),
                enabled: Some(endpoint.enabled),
                ..Default::default()
            };
            return Ok(Ensured::new(api.update_endpoint(&existing.id, &update).await?, Outcome::Updated));
        }
        return Ok(Ensured::new(existing, Outcome::Adopted));
    }
    create_or_adopt!(api.create_endpoint(endpoint), find())
}

/// A domain by name.
pub async fn ensure_domain(api: &dyn IdentityApi, domain: &NewDomain) -> Result<Ensured<Domain>> {
    let find = || async {
        one(api.list_domains(&Filter::new().name(&domain.name)).await?, || format!("domain {}", domain.name))
    };
    if let Some(existing) = find().await? {
        if existing.enabled != domain.enabled {
            let update = DomainUpdate { enabled: Some(domain.enabled), ..Default::default() };
            return Ok(Ensured::new(api.update_domain(&existing.id, &update).await?, Outcome::Updated));
        }
        return Ok(Ensured::new(existing, Outcome::Adopted));
    }
    create_or_adopt!(api.create_domain(domain), find())
}

/// A project by name in its domain.
pub async fn ensure_project(api: &dyn IdentityApi, project: &NewProject) -> Result<Ensured<Project>> {
    let find = || async {
        let filter = Filter::new().name(&project.name).domain_id(&project.domain_id);
        one(api.list_projects(&filter).await?, || format!("project {} in domain {}", project.name, project.domain_id))
    };
    if let Some(existing) = find().await? {
        if existing.enabled != project.enabled {
            let update = ProjectUpdate { enabled: Some(project.enabled), ..Default::default() };
            return Ok(Ensured::new(api.update_project(&existing.id, &update).await?, Outcome::Updated));
        }
        return Ok(Ensured::new(existing, Outcome::Adopted));
    }
    create_or_adopt!(api.create_project(project), find())
}

/// A user by name in its domain. An adopted user keeps its password: set it
/// with [`IdentityApi::update_user`] when the caller must know it.
pub async fn ensure_user(api: &dyn IdentityApi, user: &NewUser) -> Result<Ensured<User>> {
    let find = || async {
        let filter = Filter::new().name(&user.name).domain_id(&user.domain_id);
        one(api.list_users(&filter).await?, || format!("user {} in domain {}", user.name, user.domain_id))
    };
    if let Some(existing) = find().await? {
        if existing.enabled != user.enabled {
            let update = UserUpdate { enabled: Some(user.enabled), ..Default::default() };
            return Ok(Ensured::new(api.update_user(&existing.id, &update).await?, Outcome::Updated));
        }
        return Ok(Ensured::new(existing, Outcome::Adopted));
    }
    create_or_adopt!(api.create_user(user), find())
}

/// A group by name in its domain.
pub async fn ensure_group(api: &dyn IdentityApi, group: &NewGroup) -> Result<Ensured<Group>> {
    let find = || async {
        let filter = Filter::new().name(&group.name).domain_id(&group.domain_id);
        one(api.list_groups(&filter).await?, || format!("group {} in domain {}", group.name, group.domain_id))
    };
    if let Some(existing) = find().await? {
        return Ok(Ensured::new(existing, Outcome::Adopted));
    }
    create_or_adopt!(api.create_group(group), find())
}

/// A role by name (global, or in `role.domain_id`).
pub async fn ensure_role(api: &dyn IdentityApi, role: &NewRole) -> Result<Ensured<Role>> {
    let find = || async {
        let mut filter = Filter::new().name(&role.name);
        if let Some(d) = &role.domain_id {
            filter = filter.domain_id(d);
        }
        let all = api.list_roles(&filter).await?;
        let matching = all.into_iter().filter(|r| r.domain_id == role.domain_id).collect();
        one(matching, || format!("role {}", role.name))
    };
    if let Some(existing) = find().await? {
        return Ok(Ensured::new(existing, Outcome::Adopted));
    }
    create_or_adopt!(api.create_role(role), find())
}

/// A role assignment. The object is `()`: an assignment has no id.
pub async fn ensure_role_grant(
    api: &dyn IdentityApi,
    role_id: &str,
    actor: &Actor,
    target: &Target,
) -> Result<Ensured<()>> {
    if api.check_role(role_id, actor, target).await? {
        return Ok(Ensured::new((), Outcome::Adopted));
    }
    api.grant_role(role_id, actor, target).await?;
    Ok(Ensured::new((), Outcome::Created))
}

/// A group membership.
pub async fn ensure_group_member(api: &dyn IdentityApi, group_id: &str, user_id: &str) -> Result<Ensured<()>> {
    if api.is_user_in_group(group_id, user_id).await? {
        return Ok(Ensured::new((), Outcome::Adopted));
    }
    api.add_user_to_group(group_id, user_id).await?;
    Ok(Ensured::new((), Outcome::Created))
}

/// An identity provider by id; remote ids, `enabled` and description converge.
/// A different `domain_id` cannot be changed in place and is reported as a
/// conflict.
pub async fn ensure_identity_provider(
    api: &dyn IdentityApi,
    id: &str,
    idp: &NewIdentityProvider,
) -> Result<Ensured<IdentityProvider>> {
    if let Some(existing) = found(api.get_identity_provider(id)).await? {
        if idp.domain_id.is_some() && existing.domain_id != idp.domain_id {
            return Err(Error::InvalidInput(format!(
                "identity provider {id} exists with domain {:?}, not {:?}; Keystone cannot move it: \
                 delete it first or use another id",
                existing.domain_id, idp.domain_id
            )));
        }
        let mut want = idp.remote_ids.clone();
        let mut have = existing.remote_ids.clone();
        want.sort();
        have.sort();
        let description_differs = idp.description.is_some() && existing.description != idp.description;
        if want != have || existing.enabled != idp.enabled || description_differs {
            let update = IdentityProviderUpdate {
                remote_ids: Some(idp.remote_ids.clone()),
                enabled: Some(idp.enabled),
                description: idp.description.clone(),
            };
            return Ok(Ensured::new(api.update_identity_provider(id, &update).await?, Outcome::Updated));
        }
        return Ok(Ensured::new(existing, Outcome::Adopted));
    }
    create_or_adopt!(api.create_identity_provider(id, idp), found(api.get_identity_provider(id)))
}

/// A mapping by id; its rules (and schema version, when given) converge.
pub async fn ensure_mapping(api: &dyn IdentityApi, id: &str, mapping: &NewMapping) -> Result<Ensured<Mapping>> {
    if let Some(existing) = found(api.get_mapping(id)).await? {
        let schema_differs = mapping.schema_version.is_some() && existing.schema_version != mapping.schema_version;
        if existing.rules != mapping.rules || schema_differs {
            return Ok(Ensured::new(api.update_mapping(id, mapping).await?, Outcome::Updated));
        }
        return Ok(Ensured::new(existing, Outcome::Adopted));
    }
    create_or_adopt!(api.create_mapping(id, mapping), found(api.get_mapping(id)))
}

/// A protocol of an identity provider; its mapping converges.
pub async fn ensure_protocol(
    api: &dyn IdentityApi,
    idp_id: &str,
    id: &str,
    protocol: &NewProtocol,
) -> Result<Ensured<Protocol>> {
    if let Some(existing) = found(api.get_protocol(idp_id, id)).await? {
        let attr_differs =
            protocol.remote_id_attribute.is_some() && existing.remote_id_attribute != protocol.remote_id_attribute;
        if existing.mapping_id != protocol.mapping_id || attr_differs {
            return Ok(Ensured::new(api.update_protocol(idp_id, id, protocol).await?, Outcome::Updated));
        }
        return Ok(Ensured::new(existing, Outcome::Adopted));
    }
    create_or_adopt!(api.create_protocol(idp_id, id, protocol), found(api.get_protocol(idp_id, id)))
}

/// A service provider by id; URLs, `enabled` and description converge.
pub async fn ensure_service_provider(
    api: &dyn IdentityApi,
    id: &str,
    sp: &NewServiceProvider,
) -> Result<Ensured<ServiceProvider>> {
    if let Some(existing) = found(api.get_service_provider(id)).await? {
        let description_differs = sp.description.is_some() && existing.description != sp.description;
        if existing.auth_url != sp.auth_url
            || existing.sp_url != sp.sp_url
            || existing.enabled != sp.enabled
            || description_differs
        {
            let update = ServiceProviderUpdate {
                auth_url: Some(sp.auth_url.clone()),
                sp_url: Some(sp.sp_url.clone()),
                enabled: Some(sp.enabled),
                description: sp.description.clone(),
            };
            return Ok(Ensured::new(api.update_service_provider(id, &update).await?, Outcome::Updated));
        }
        return Ok(Ensured::new(existing, Outcome::Adopted));
    }
    create_or_adopt!(api.create_service_provider(id, sp), found(api.get_service_provider(id)))
}

/// A registered limit by service, region and resource; the default converges.
pub async fn ensure_registered_limit(
    api: &dyn IdentityApi,
    limit: &NewRegisteredLimit,
) -> Result<Ensured<RegisteredLimit>> {
    let find = || async {
        let mut filter = Filter::new().service_id(&limit.service_id).resource_name(&limit.resource_name);
        if let Some(r) = &limit.region_id {
            filter = filter.region_id(r);
        }
        let all = api.list_registered_limits(&filter).await?;
        let matching = all.into_iter().filter(|l| l.region_id == limit.region_id).collect();
        one(matching, || format!("registered limit {} of service {}", limit.resource_name, limit.service_id))
    };
    if let Some(existing) = find().await? {
        if existing.default_limit != limit.default_limit {
            let update = RegisteredLimitUpdate { default_limit: Some(limit.default_limit), description: None };
            return Ok(Ensured::new(api.update_registered_limit(&existing.id, &update).await?, Outcome::Updated));
        }
        return Ok(Ensured::new(existing, Outcome::Adopted));
    }
    let create = || async {
        let mut created = api.create_registered_limits(std::slice::from_ref(limit)).await?;
        created.pop().ok_or_else(|| Error::InvalidInput("Keystone created no registered limit".into()))
    };
    create_or_adopt!(create(), find())
}

/// A limit by service, region, resource and project or domain; the value converges.
pub async fn ensure_limit(api: &dyn IdentityApi, limit: &NewLimit) -> Result<Ensured<Limit>> {
    if limit.project_id.is_some() == limit.domain_id.is_some() {
        return Err(Error::InvalidInput(format!(
            "limit {} needs exactly one of project_id and domain_id",
            limit.resource_name
        )));
    }
    let find = || async {
        let mut filter = Filter::new().service_id(&limit.service_id).resource_name(&limit.resource_name);
        if let Some(r) = &limit.region_id {
            filter = filter.region_id(r);
        }
        if let Some(p) = &limit.project_id {
            filter = filter.project_id(p);
        }
        if let Some(d) = &limit.domain_id {
            filter = filter.domain_id(d);
        }
        let all = api.list_limits(&filter).await?;
        let matching = all
            .into_iter()
            .filter(|l| {
                l.region_id == limit.region_id && l.project_id == limit.project_id && l.domain_id == limit.domain_id
            })
            .collect();
        one(matching, || format!("limit {} of service {}", limit.resource_name, limit.service_id))
    };
    if let Some(existing) = find().await? {
        if existing.resource_limit != limit.resource_limit {
            let update = LimitUpdate { resource_limit: Some(limit.resource_limit), description: None };
            return Ok(Ensured::new(api.update_limit(&existing.id, &update).await?, Outcome::Updated));
        }
        return Ok(Ensured::new(existing, Outcome::Adopted));
    }
    let create = || async {
        let mut created = api.create_limits(std::slice::from_ref(limit)).await?;
        created.pop().ok_or_else(|| Error::InvalidInput("Keystone created no limit".into()))
    };
    create_or_adopt!(create(), find())
}

/// An application credential of a user by name. An adopted credential comes
/// without its secret (Keystone shows it only once): the caller must already
/// hold it, or delete and recreate the credential.
pub async fn ensure_application_credential(
    api: &dyn IdentityApi,
    user_id: &str,
    credential: &NewApplicationCredential,
) -> Result<Ensured<ApplicationCredential>> {
    let find = || async {
        let all = api.list_application_credentials(user_id, &Filter::new().name(&credential.name)).await?;
        one(all, || format!("application credential {} of user {user_id}", credential.name))
    };
    if let Some(existing) = find().await? {
        return Ok(Ensured::new(existing, Outcome::Adopted));
    }
    create_or_adopt!(api.create_application_credential(user_id, credential), find())
}

/// How many times [`ensure_sole_catalog_entry`] re-checks before giving up.
const SOLE_ENTRY_ATTEMPTS: usize = 5;

/// One service of `service_type` named `name`, with one public endpoint in
/// `region` at `url`; returns that endpoint. The service's description and
/// `enabled` converge, as do the endpoint's URL and `enabled` (a moved
/// service converges to the new URL).
///
/// Why not [`ensure_service`] and [`ensure_endpoint`]: Keystone has no
/// uniqueness on services or endpoints, so replicas of a service starting
/// together can each create one. Here every replica keeps the one with the
/// smallest id and deletes the others (a service with its endpoints), then
/// checks again until exactly one service remains; a deletion racing
/// another replica's is fine. After [`SOLE_ENTRY_ATTEMPTS`] rounds without
/// a stable catalog it fails with [`Error::Contended`].
///
/// The region must exist (check it first for a helpful message).
pub async fn ensure_sole_catalog_entry(
    api: &dyn IdentityApi,
    service_type: &str,
    name: &str,
    description: &str,
    url: &str,
    region: &str,
) -> Result<Endpoint> {
    let ours = |s: &Service| s.name.as_deref() == Some(name);
    let list = || async {
        Ok::<_, Error>(
            api.list_services(&Filter::new().service_type(service_type))
                .await?
                .into_iter()
                .filter(ours)
                .collect::<Vec<Service>>(),
        )
    };
    for _ in 0..SOLE_ENTRY_ATTEMPTS {
        let mut services = list().await?;
        if services.is_empty() {
            services.push(
                api.create_service(&NewService {
                    service_type: service_type.into(),
                    name: Some(name.into()),
                    description: Some(description.into()),
                    enabled: true,
                })
                .await?,
            );
        }
        services.sort_by(|a, b| a.id.cmp(&b.id));
        let service = services.remove(0);
        for duplicate in services {
            gone_is_fine(api.delete_service(&duplicate.id).await)?;
        }
        if !service.enabled || service.description.as_deref() != Some(description) {
            let update =
                ServiceUpdate { enabled: Some(true), description: Some(description.into()), ..Default::default() };
            gone_is_fine(api.update_service(&service.id, &update).await.map(|_| ()))?;
        }
        let filter = Filter::new().service_id(&service.id).interface(Interface::Public).region_id(region);
        let mut endpoints = api.list_endpoints(&filter).await?;
        endpoints.retain(|e| e.region_id.as_deref() == Some(region));
        if endpoints.is_empty() {
            let created = api
                .create_endpoint(&NewEndpoint {
                    service_id: service.id.clone(),
                    interface: Interface::Public,
                    url: url.into(),
                    region_id: Some(region.into()),
                    enabled: true,
                })
                .await;
            match created {
                Ok(e) => endpoints.push(e),
                // Another replica deleted this service meanwhile: again.
                Err(e) if e.is_not_found() || e.kind() == ErrorKind::InvalidInput => continue,
                Err(e) => return Err(e),
            }
        }
        endpoints.sort_by(|a, b| a.id.cmp(&b.id));
        let mut endpoint = endpoints.remove(0);
        for duplicate in endpoints {
            gone_is_fine(api.delete_endpoint(&duplicate.id).await)?;
        }
        if endpoint.url != url || !endpoint.enabled {
            let update = EndpointUpdate { url: Some(url.into()), enabled: Some(true), ..Default::default() };
            match api.update_endpoint(&endpoint.id, &update).await {
                Ok(e) => endpoint = e,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            }
        }
        // Stable when this service is still the only one of its kind.
        let now = list().await?;
        if now.len() == 1 && now[0].id == service.id {
            return Ok(endpoint);
        }
    }
    Err(Error::Contended(format!("the catalog entry of {service_type}")))
}

/// A deletion or update of something another replica already deleted.
fn gone_is_fine(result: Result<()>) -> Result<()> {
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

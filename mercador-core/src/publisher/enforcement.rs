//! A published vregion's quotas and image visibility, applied on B to
//! every project of its domain.
//!
//! **Quotas, per project.** oslo.limit (Glance's, Nova's) reads one
//! project's limit at each check, or else the registered default; it never
//! reads a domain limit. So each quota of a vregion becomes a Keystone
//! limit of its own on **each enabled project** of the vregion's domain
//! (service: the one of the resource's type with an endpoint in the
//! vregion's region; region: the vregion's), described
//! `Mercador vregion <name>`: that description marks what Mercador owns.
//! A project limit someone else set (another description) is left alone.
//! A vregion whose users bring N projects may hold N times a quota.
//!
//! **Image visibility on Glance.** `listed`: every listed image (which must
//! be `shared` on B; a `public` one needs nothing) gets every enabled
//! project of the domain as a member, `accepted` on its behalf, so the
//! image is in the project's default listing. `public` is Glance's
//! default; `own` cannot hide B's public images (see
//! [`crate::model::Enforcement`]).
//!
//! **When.** [`Publisher::enforce`] converges every published or withdrawn
//! vregion: the service runs it every `[server] enforce_interval_secs` (5 s
//! by default), so a project created by a federated user's first login
//! gets its limits and memberships within that interval (until then the
//! registered defaults apply). Publishing and changing a vregion converge
//! it at once. A retired project (disabled by a cancel or revoke) loses
//! Mercador's limits and memberships in the teardown itself
//! ([`Publisher::release_project`]) and, as a safety net, at the next
//! pass; deleting the vregion releases every project of its domain.
//! Every step is idempotent: a pass that fails part-way is finished by
//! the next one.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::vregions::domain_description;
use super::{Publisher, PublisherError, PublisherResult, gone_is_fine};
use crate::keystone::types::{Filter, Limit, LimitUpdate, NewLimit};
use crate::model::{VRegionSpec, VRegionState, VisibilityRule};

/// The member status Mercador sets for a vregion's projects.
const ACCEPTED: &str = "accepted";

/// What one [`Publisher::enforce`] pass did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EnforcementReport {
    /// Vregions converged (published or withdrawn, with a domain).
    pub vregions: u32,
    /// Enabled projects of their domains.
    pub projects: u32,
    /// What changed on Keystone B or Glance (`"<vregion>: ..."`).
    pub changed: Vec<String>,
    /// What could not be applied, and why (the next pass retries).
    pub failed: Vec<String>,
}

/// The enabled and the retired (disabled) projects of a vregion's domain.
struct DomainProjects {
    enabled: BTreeSet<String>,
    retired: BTreeSet<String>,
}

impl DomainProjects {
    fn all(&self) -> impl Iterator<Item = &String> {
        self.enabled.iter().chain(&self.retired)
    }
}

/// The ids a rule lists.
fn listed_ids(spec: &VRegionSpec) -> &[String] {
    match &spec.visibility.images {
        VisibilityRule::Listed { ids } => ids,
        _ => &[],
    }
}

impl Publisher {
    /// The lock every change of what Mercador sets on B for a vregion's
    /// projects takes: passes, spec changes, teardowns, deletion.
    pub(crate) async fn enforcing(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.inner.enforcing.lock().await
    }

    /// Converges every published or withdrawn vregion: its quotas as
    /// limits of each enabled project of its domain, its `listed` images
    /// shared with them; retired projects lose what Mercador set. A
    /// vregion that fails is reported and the others go on.
    pub async fn enforce(&self) -> PublisherResult<EnforcementReport> {
        let mut report = EnforcementReport::default();
        for listed in self.store().list_vregions().await? {
            // Under the lock, the spec as stored now: a change or a teardown
            // running in this process is never undone by a stale pass.
            let _guard = self.enforcing().await;
            let Some(record) = self.store().get_vregion(&listed.spec.name).await? else { continue };
            let Some(domain_id) = record.domain_id.as_deref() else { continue };
            if record.state == VRegionState::Draft || record.id != listed.id {
                continue;
            }
            report.vregions += 1;
            if let Err(e) = self.enforce_vregion(&record.spec, domain_id, &[], &mut report).await {
                tracing::warn!(vregion = %record.spec.name, error = %e, "enforcement: not converged");
                report.failed.push(format!("{}: {e}", record.spec.name));
            }
        }
        if !report.changed.is_empty() || !report.failed.is_empty() {
            tracing::info!(changed = ?report.changed, failed = ?report.failed, "enforced quotas and image visibility");
        }
        Ok(report)
    }

    /// Converges one vregion (`spec`, in domain `domain_id`);
    /// `dropped_images` are ids a previous spec listed and this one does
    /// not: their memberships for the domain's projects are removed.
    pub(crate) async fn enforce_vregion(
        &self,
        spec: &VRegionSpec,
        domain_id: &str,
        dropped_images: &[String],
        report: &mut EnforcementReport,
    ) -> PublisherResult<()> {
        let projects = self.domain_projects(domain_id).await?;
        report.projects += u32::try_from(projects.enabled.len()).unwrap_or(u32::MAX);
        self.converge_limits(spec, &projects, report).await?;
        self.converge_members(spec, &projects, dropped_images, report).await
    }

    async fn domain_projects(&self, domain_id: &str) -> PublisherResult<DomainProjects> {
        let mut out = DomainProjects { enabled: BTreeSet::new(), retired: BTreeSet::new() };
        for p in self.keystone().list_projects(&Filter::new().domain_id(domain_id)).await? {
            if p.domain_id != domain_id {
                continue;
            }
            if p.enabled {
                out.enabled.insert(p.id);
            } else {
                out.retired.insert(p.id);
            }
        }
        Ok(out)
    }

    /// The service id enforcing each quota of `spec`: the one service of
    /// the resource's type with an endpoint in the vregion's region.
    async fn quota_services(&self, spec: &VRegionSpec) -> PublisherResult<BTreeMap<String, String>> {
        let keystone = self.keystone().as_ref();
        let mut by_type: BTreeMap<&str, String> = BTreeMap::new();
        let mut out = BTreeMap::new();
        for quota in &spec.quotas {
            let Some(service_type) = crate::model::vregion::resource_service_type(&quota.resource) else { continue };
            if !by_type.contains_key(service_type) {
                let mut found = Vec::new();
                for service in keystone.list_services(&Filter::new().service_type(service_type)).await? {
                    let filter = Filter::new().service_id(&service.id).region_id(&spec.region);
                    if service.enabled && !keystone.list_endpoints(&filter).await?.is_empty() {
                        found.push(service.id);
                    }
                }
                let [id] = <[String; 1]>::try_from(found).map_err(|found| {
                    PublisherError::Conflict(format!(
                        "vregion {}: {} enabled {service_type} services have an endpoint in region {}; the quota \
                         {} needs exactly one (the one whose limits the service reads)",
                        spec.name,
                        found.len(),
                        spec.region,
                        quota.resource
                    ))
                })?;
                by_type.insert(service_type, id);
            }
            out.insert(quota.resource.clone(), by_type[service_type].clone());
        }
        Ok(out)
    }

    async fn converge_limits(
        &self,
        spec: &VRegionSpec,
        projects: &DomainProjects,
        report: &mut EnforcementReport,
    ) -> PublisherResult<()> {
        let keystone = self.keystone().as_ref();
        let ours = domain_description(&spec.name);
        let services = self.quota_services(spec).await?;
        let existing = keystone.list_limits(&Filter::new().region_id(&spec.region)).await?;
        let mut by_key: BTreeMap<(&str, &str, &str), &Limit> = BTreeMap::new();
        for limit in &existing {
            if let Some(project) = limit.project_id.as_deref() {
                by_key.insert((project, limit.service_id.as_str(), limit.resource_name.as_str()), limit);
            }
        }
        for project in &projects.enabled {
            for quota in &spec.quotas {
                let Some(service_id) = services.get(&quota.resource) else { continue };
                match by_key.get(&(project.as_str(), service_id.as_str(), quota.resource.as_str())) {
                    None => {
                        let new = NewLimit {
                            service_id: service_id.clone(),
                            region_id: Some(spec.region.clone()),
                            resource_name: quota.resource.clone(),
                            resource_limit: quota.limit,
                            project_id: Some(project.clone()),
                            domain_id: None,
                            description: Some(ours.clone()),
                        };
                        match keystone.create_limits(std::slice::from_ref(&new)).await {
                            Ok(_) => {}
                            // Created meanwhile (another pass, another replica): the next pass checks its value.
                            Err(e) if e.is_conflict() => continue,
                            Err(e) => return Err(e.into()),
                        }
                        report.changed.push(format!(
                            "{}: limit {}={} set on project {project}",
                            spec.name, quota.resource, quota.limit
                        ));
                    }
                    Some(limit) if limit.description.as_deref() != Some(ours.as_str()) => {
                        tracing::debug!(
                            vregion = %spec.name, project = %project, resource = %quota.resource,
                            "a project limit Mercador did not set: left alone"
                        );
                    }
                    Some(limit) if limit.resource_limit != quota.limit => {
                        let update = LimitUpdate { resource_limit: Some(quota.limit), description: None };
                        gone_is_fine(keystone.update_limit(&limit.id, &update).await.map(drop))?;
                        report.changed.push(format!(
                            "{}: limit {} of project {project} {} -> {}",
                            spec.name, quota.resource, limit.resource_limit, quota.limit
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        // Mercador's limits that must go: on retired projects, or for a
        // resource (or service) the spec no longer has.
        for limit in &existing {
            let Some(project) = limit.project_id.as_deref() else { continue };
            if limit.description.as_deref() != Some(ours.as_str()) {
                continue;
            }
            let wanted = projects.enabled.contains(project)
                && services.get(&limit.resource_name) == Some(&limit.service_id)
                && spec.quotas.iter().any(|q| q.resource == limit.resource_name);
            let in_domain = projects.enabled.contains(project) || projects.retired.contains(project);
            if in_domain && !wanted {
                gone_is_fine(keystone.delete_limit(&limit.id).await)?;
                report
                    .changed
                    .push(format!("{}: limit {} of project {project} removed", spec.name, limit.resource_name));
            }
        }
        Ok(())
    }

    async fn converge_members(
        &self,
        spec: &VRegionSpec,
        projects: &DomainProjects,
        dropped_images: &[String],
        report: &mut EnforcementReport,
    ) -> PublisherResult<()> {
        let listed = listed_ids(spec);
        if listed.is_empty() && dropped_images.is_empty() {
            return Ok(());
        }
        let glance = self.images().ok_or_else(|| {
            PublisherError::Conflict(format!(
                "vregion {} lists images, but the publisher has no Glance client to share them with",
                spec.name
            ))
        })?;
        let region = spec.region.as_str();
        for id in listed {
            let image = match glance.get_image(region, id).await {
                Ok(image) => image,
                Err(e) if e.is_not_found() => {
                    report.failed.push(format!(
                        "{}: listed image {id} is not in B's Glance (region {region}); drop it from \
                         visibility.images.ids",
                        spec.name
                    ));
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            match image.visibility.as_str() {
                "public" => continue,
                "shared" => {}
                other => {
                    report.failed.push(format!(
                        "{}: listed image {id} is {other} on B; only a shared image has members: make it shared \
                         (`openstack image set --shared {id}`) or drop it from visibility.images.ids",
                        spec.name
                    ));
                    continue;
                }
            }
            let members: BTreeMap<String, String> =
                glance.list_members(region, id).await?.into_iter().map(|m| (m.member_id, m.status)).collect();
            for project in &projects.enabled {
                let status = match members.get(project) {
                    Some(status) => status.clone(),
                    None => match glance.add_member(region, id, project).await {
                        Ok(member) => member.status,
                        Err(e) if e.is_conflict() => String::new(),
                        Err(e) => return Err(e.into()),
                    },
                };
                if status != ACCEPTED {
                    glance.set_member_status(region, id, project, ACCEPTED).await?;
                    report.changed.push(format!("{}: image {id} shared with project {project}", spec.name));
                }
            }
            for project in &projects.retired {
                if members.contains_key(project) {
                    gone_is_fine(glance.remove_member(region, id, project).await)?;
                    report.changed.push(format!("{}: image {id} no longer shared with project {project}", spec.name));
                }
            }
        }
        for id in dropped_images.iter().filter(|id| !listed.contains(id)) {
            let members = match glance.list_members(region, id).await {
                Ok(members) => members,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            };
            let ours: BTreeSet<&String> = projects.all().collect();
            for m in members.iter().filter(|m| ours.contains(&m.member_id)) {
                gone_is_fine(glance.remove_member(region, id, &m.member_id).await)?;
                report.changed.push(format!("{}: image {id} no longer shared with project {}", spec.name, m.member_id));
            }
        }
        Ok(())
    }

    /// Removes every membership of a vregion's project in a shared image
    /// of B that its vregion does not list: what another replica's pass
    /// re-shared with a stale spec, or what someone shared by hand against
    /// the rule. One listing of B's shared images per region and one member
    /// listing per shared image: run by [`Publisher::reconcile`], not by
    /// the short passes.
    pub async fn sweep_memberships(&self, report: &mut super::ReconcileReport) -> PublisherResult<()> {
        let Some(glance) = self.images() else { return Ok(()) };
        let mut shared_by_region: BTreeMap<String, Vec<crate::glance::Image>> = BTreeMap::new();
        for listed in self.store().list_vregions().await? {
            if !listed.spec.service_types.iter().any(|t| t == "image") {
                continue;
            }
            let _guard = self.enforcing().await;
            let Some(record) = self.store().get_vregion(&listed.spec.name).await? else { continue };
            let Some(domain_id) = record.domain_id.as_deref() else { continue };
            if record.id != listed.id {
                continue;
            }
            let projects = self.domain_projects(domain_id).await?;
            if projects.enabled.is_empty() && projects.retired.is_empty() {
                continue;
            }
            let region = record.spec.region.clone();
            if !shared_by_region.contains_key(&region) {
                let shared = glance.list_shared_images(&region).await?;
                shared_by_region.insert(region.clone(), shared);
            }
            let keep = listed_ids(&record.spec);
            for image in &shared_by_region[&region] {
                if keep.contains(&image.id) {
                    continue;
                }
                let members = match glance.list_members(&region, &image.id).await {
                    Ok(members) => members,
                    Err(e) if e.is_not_found() => continue,
                    Err(e) => return Err(e.into()),
                };
                for m in members {
                    if projects.enabled.contains(&m.member_id) || projects.retired.contains(&m.member_id) {
                        gone_is_fine(glance.remove_member(&region, &image.id, &m.member_id).await)?;
                        report.unshared.push(format!(
                            "{}: image {} no longer shared with project {}",
                            record.spec.name, image.id, m.member_id
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Removes what Mercador set for one project of the vregion `spec`:
    /// its limits marked as Mercador's and its memberships of the listed
    /// images. Idempotent. The teardown calls it for each project it
    /// retires, before disabling it.
    pub async fn release_project(&self, spec: &VRegionSpec, project_id: &str) -> PublisherResult<()> {
        let keystone = self.keystone().as_ref();
        let ours = domain_description(&spec.name);
        for limit in keystone.list_limits(&Filter::new().project_id(project_id)).await? {
            if limit.project_id.as_deref() == Some(project_id) && limit.description.as_deref() == Some(ours.as_str()) {
                gone_is_fine(keystone.delete_limit(&limit.id).await)?;
            }
        }
        let listed = listed_ids(spec);
        if listed.is_empty() {
            return Ok(());
        }
        let Some(glance) = self.images() else {
            return Err(PublisherError::Conflict(format!(
                "vregion {} lists images, but the publisher has no Glance client to unshare them",
                spec.name
            )));
        };
        for id in listed {
            match glance.remove_member(&spec.region, id, project_id).await {
                Ok(()) => {}
                // Not a member, or the image is gone; a public image has no members (Glance: 403 or 404).
                Err(e) if e.is_not_found() || e.kind() == crate::ErrorKind::Forbidden => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// [`Self::release_project`] for every project of the vregion's domain
    /// (the vregion is being deleted).
    pub(crate) async fn release_vregion(&self, spec: &VRegionSpec, domain_id: &str) -> PublisherResult<()> {
        let projects = self.domain_projects(domain_id).await?;
        for project in projects.all() {
            self.release_project(spec, project).await?;
        }
        Ok(())
    }

    /// Checks that each image a spec lists is in B's Glance and can be
    /// shared (`shared` or `public`); each problem names its field.
    pub(crate) async fn listed_image_errors(
        &self,
        spec: &VRegionSpec,
    ) -> PublisherResult<Vec<crate::model::ValidationError>> {
        let listed = listed_ids(spec);
        let field = "visibility.images";
        if listed.is_empty() {
            return Ok(Vec::new());
        }
        let Some(glance) = self.images() else {
            return Ok(vec![crate::model::ValidationError::new(
                field,
                "the publisher service has no Glance client (it finds Glance in Keystone B's catalog); listed \
                 images cannot be shared",
            )]);
        };
        let mut errors = Vec::new();
        for id in listed {
            match glance.get_image(&spec.region, id).await {
                Ok(image) if image.visibility == "shared" || image.visibility == "public" => {}
                Ok(image) => errors.push(crate::model::ValidationError::new(
                    field,
                    format!(
                        "image {id} is {} on B; only a shared (or public) image can be listed: `openstack image \
                         set --shared {id}`",
                        image.visibility
                    ),
                )),
                Err(e) if e.is_not_found() => errors.push(crate::model::ValidationError::new(
                    field,
                    format!("B's Glance in region {} has no image {id}", spec.region),
                )),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(errors)
    }
}

//! Cancel (by the partner), revoke (by the publisher's admin), and the
//! rollback of a failed provisioning: one resumable sequence.
//!
//! Steps, each idempotent (objects are found by their deterministic names
//! as well as by the records, so one created just before a crash is found):
//! `remove_admin_user`, `retire_projects` (the federated users' projects in
//! the vregion domain lose the limits and image memberships Mercador set,
//! then are disabled and tagged with the partner, or deleted when the
//! admin purges), `remove_federation` (when it was the partner's last
//! subscription: protocol, identity provider, mapping, the partner's users'
//! domain — with its federated users — and the SAML trust are removed;
//! otherwise the mapping is rewritten without this vregion and the users'
//! domain stays).

use std::collections::BTreeMap;

use super::subscribe::{admin_user_name, idp_id, mapping_id, owner_tag, vregion_domain};
use super::{PROTOCOL, Publisher, PublisherError, PublisherResult, SubscriptionView, gone_is_fine};
use crate::keystone::types::{Actor, Filter, ProjectUpdate, RoleAssignmentFilter, Target};
use crate::model::{Name, SubscriptionState};
use crate::store::SubscriptionRecord;

impl Publisher {
    /// Cancels one of the partner's subscriptions: removes the admin user,
    /// and (when it was the partner's last) the trust, identity provider,
    /// mapping, protocol and users' domain; the federated users' projects are disabled, not
    /// deleted. Idempotent: cancelling a cancelled subscription returns it.
    pub async fn cancel(&self, partner: &Name, id: &str) -> PublisherResult<SubscriptionView> {
        let s = self.partner_subscription_record(partner, id).await?;
        self.begin_teardown(s, SubscriptionState::Cancelling, false).await
    }

    /// Revokes a subscription (admin); with `purge`, the federated users'
    /// projects are deleted instead of disabled. Idempotent.
    pub async fn revoke(&self, id: &str, purge: bool) -> PublisherResult<SubscriptionView> {
        let s = self.subscription_record(id).await?;
        self.begin_teardown(s, SubscriptionState::Revoking, purge).await
    }

    async fn begin_teardown(
        &self,
        mut s: SubscriptionRecord,
        to: SubscriptionState,
        purge: bool,
    ) -> PublisherResult<SubscriptionView> {
        if s.state.is_final() {
            return Ok(s.into());
        }
        let resuming = matches!(s.state, SubscriptionState::Cancelling | SubscriptionState::Revoking);
        if !resuming || (s.state == SubscriptionState::Cancelling && to == SubscriptionState::Revoking) {
            if !s.state.can_become(to) {
                return Err(PublisherError::Conflict(format!(
                    "subscription {} is {}; it cannot become {to}",
                    s.id, s.state
                )));
            }
            s.state = to;
            s.error = None;
            s.purge = purge;
            s = self.save(s).await?;
            tracing::info!(subscription = %s.id, partner = %s.partner, vregion = %s.vregion, state = %to, purge, "teardown");
        }
        Ok(self.teardown(&s.id).await?.into())
    }

    /// Rolls a failed provisioning back: `cancelling` with the error, then
    /// teardown to `failed`.
    pub(crate) async fn roll_back(&self, id: &str, cause: &PublisherError) -> PublisherResult<()> {
        let mut s = self.subscription_record(id).await?;
        if !s.state.is_final() && s.state != SubscriptionState::Revoking {
            s.state = SubscriptionState::Cancelling;
            s.error = Some(cause.to_string());
            self.save(s).await?;
        }
        self.teardown(id).await.map(|_| ())
    }

    /// Runs (or resumes) the teardown of a subscription in `cancelling` or
    /// `revoking` under its partner's lease, up to its final state.
    pub(crate) async fn teardown(&self, id: &str) -> PublisherResult<SubscriptionRecord> {
        let partner_id = self.subscription_record(id).await?.partner_id;
        self.with_partner_lease(&partner_id, |lease| async move {
            let mut s = self.subscription_record(id).await?;
            let final_state = match s.state {
                SubscriptionState::Cancelling if s.error.is_some() => SubscriptionState::Failed,
                SubscriptionState::Cancelling => SubscriptionState::Cancelled,
                SubscriptionState::Revoking => SubscriptionState::Revoked,
                _ => return Ok(s),
            };
            let keystone = self.keystone().as_ref();
            let vregion = self.vregion_by_id(&s.vregion_id).await?;
            let domain_id = vregion_domain(&vregion)?;
            let idp = idp_id(&s.partner);

            s = self.step(s, "remove_admin_user", &lease).await?;
            let filter = Filter::new().name(admin_user_name(&s.partner)).domain_id(&domain_id);
            for user in keystone.list_users(&filter).await? {
                gone_is_fine(keystone.delete_user(&user.id).await)?;
            }
            s = self.pause_after(s, "remove_admin_user").await?;

            s = self.step(s, "retire_projects", &lease).await?;
            self.retire_projects(&vregion.spec, &s.partner, &idp, &domain_id, s.purge).await?;
            s = self.pause_after(s, "retire_projects").await?;

            s = self.step(s, "remove_federation", &lease).await?;
            let remaining = self.mapped_subscriptions(&s.partner_id, Some(&s.id)).await?;
            if remaining.is_empty() {
                gone_is_fine(keystone.delete_protocol(&idp, PROTOCOL).await)?;
                // Deleting the identity provider deletes its federated users.
                gone_is_fine(keystone.delete_identity_provider(&idp).await)?;
                gone_is_fine(keystone.delete_mapping(&mapping_id(&s.partner)).await)?;
                // Deleting the users' domain deletes the shadow users left in it.
                self.remove_users_domain(&s.partner).await?;
                self.inner.trust.distrust(&s.entity_id).await?;
            } else {
                self.write_mapping(&s.partner_id, &s.partner, Some(&s.id)).await?;
            }

            s.state = final_state;
            s.step = None;
            let s = self.save(s).await?;
            tracing::info!(subscription = %s.id, partner = %s.partner, vregion = %s.vregion, state = %s.state, "teardown finished");
            Ok(s)
        })
        .await
    }

    /// Disables (tagging them with the partner) or, with `purge`, deletes
    /// the projects the partner's federated users hold roles on in the
    /// vregion domain, and with `purge` also those a former cancellation
    /// disabled. The federated users' role assignments on them are revoked
    /// first: Keystone deletes an identity provider's users without their
    /// assignments, which would otherwise stay behind pointing at users
    /// that no longer exist, and a partner with other vregions keeps its
    /// users, who must hold nothing here any more.
    async fn retire_projects(
        &self,
        vregion: &crate::model::VRegionSpec,
        partner: &Name,
        idp: &str,
        domain_id: &str,
        purge: bool,
    ) -> PublisherResult<()> {
        let keystone = self.keystone().as_ref();
        let tag = owner_tag(partner);
        let mut projects: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let users = match keystone.list_users(&Filter::new().with("idp_id", idp)).await {
            Ok(users) => users,
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        for user in users {
            let filter = RoleAssignmentFilter { user_id: Some(user.id.clone()), ..Default::default() };
            for assignment in keystone.list_role_assignments(&filter).await? {
                if let Some(project) = assignment.scope.project {
                    projects.entry(project.id).or_default().push((user.id.clone(), assignment.role.id));
                }
            }
        }
        if purge {
            let tagged = Filter::new().domain_id(domain_id).with("tags", tag.clone());
            for p in keystone.list_projects(&tagged).await? {
                projects.entry(p.id).or_default();
            }
        }
        for (project_id, grants) in projects {
            let project = match keystone.get_project(&project_id).await {
                Ok(p) => p,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            };
            if project.domain_id != domain_id {
                continue;
            }
            // What Mercador set for it (limits, image memberships) goes
            // first: a crash after this step finds the project again.
            {
                let _enforcing = self.enforcing().await;
                self.release_project(vregion, &project.id).await?;
                // Disabled under the lock: a pass sees it retired, never
                // enabled, so nothing of Mercador's comes back to it.
                let mut tags = project.tags.clone();
                if !tags.contains(&tag) {
                    tags.push(tag.clone());
                }
                let update = ProjectUpdate { enabled: Some(false), tags: Some(tags), ..Default::default() };
                gone_is_fine(keystone.update_project(&project.id, &update).await.map(|_| ()))?;
            }
            for (user_id, role_id) in grants {
                let (actor, target) = (Actor::User(user_id), Target::Project(project.id.clone()));
                gone_is_fine(keystone.revoke_role(&role_id, &actor, &target).await)?;
            }
            if purge {
                gone_is_fine(keystone.delete_project(&project.id).await)?;
                tracing::info!(project = %project.name, "purged a federated project");
            } else {
                tracing::info!(project = %project.name, "disabled a federated project (resources kept)");
            }
        }
        Ok(())
    }
}

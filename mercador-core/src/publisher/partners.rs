//! Onboarding and removing partners.
//!
//! A partner is a subscriber provider. Onboarding creates, in the partners'
//! domain of Keystone B, a project and a user named `partner-<name>` with the
//! partner role on that project, and an application credential of that user
//! restricted to that role: its secret is returned once and never stored.
//! Tokens scoped to the partner's project identify the partner on the
//! exchange API. Every step is idempotent; a failure part-way removes what
//! was created (found by name, so even an object created just before a crash
//! is not left behind).

use std::sync::Arc;

use secrecy::SecretString;

use super::{NewPartner, PartnerOnboarded, PartnerView, Publisher, PublisherError, PublisherResult, RevealedSecret};
use crate::keystone::auth::{Credentials, DirectAuth, Scope};
use crate::keystone::ensure;
use crate::keystone::types::{
    Actor, Filter, NewApplicationCredential, NewDomain, NewProject, NewUser, Target, UserUpdate,
};
use crate::keystone::{IdentityApi, KeystoneClient, Session};
use crate::model::{CreatedObject, Name, ObjectKind, SubscriptionState};
use crate::store::{PartnerRecord, PartnerState, StoreError, SubscriptionFilter};

impl Publisher {
    /// Onboards a partner: a project in the partners' domain, a user with the
    /// partner role on it, and an application credential of that user,
    /// returned once. A failure part-way removes what was created.
    pub async fn onboard_partner(&self, request: NewPartner) -> PublisherResult<PartnerOnboarded> {
        if request.name.as_str().len() > super::views::MAX_PARTNER_NAME {
            return Err(PublisherError::Invalid(vec![crate::model::ValidationError::new(
                "name",
                format!(
                    "is {} characters; at most {} (Keystone ids derived from it, such as mercador-<name>-mapping, \
                     must fit in 64)",
                    request.name.as_str().len(),
                    super::views::MAX_PARTNER_NAME
                ),
            )]));
        }
        if request.description.len() > 1024 {
            return Err(PublisherError::Invalid(vec![crate::model::ValidationError::new(
                "description",
                "is longer than 1024 characters",
            )]));
        }
        self.check_partner_role().await?;
        let now = Self::now();
        let record = PartnerRecord {
            id: Self::new_id(),
            name: request.name.clone(),
            description: request.description,
            state: PartnerState::Onboarding,
            project_id: None,
            user_id: None,
            objects: Vec::new(),
            created_at: now,
            updated_at: now,
            version: 0,
        };
        self.store().insert_partner(&record).await.map_err(|e| match e {
            StoreError::Duplicate { key, .. } => PublisherError::Conflict(format!(
                "partner {key} already exists; remove it first to issue a new credential"
            )),
            e => e.into(),
        })?;
        let record = self.partner_record(&request.name).await?;
        match self.provision_partner(record).await {
            Ok(onboarded) => Ok(onboarded),
            Err(e) => {
                tracing::warn!(partner = %request.name, error = %e, "onboarding failed; removing what it created");
                if let Err(undo) = self.remove_partner_objects(&request.name).await {
                    tracing::error!(partner = %request.name, error = %undo, "undo failed; reconcile will retry");
                    return Err(e);
                }
                if let Some(r) = self.store().get_partner(&request.name).await? {
                    self.store().delete_partner(&r.id).await?;
                }
                Err(e)
            }
        }
    }

    async fn provision_partner(&self, mut record: PartnerRecord) -> PublisherResult<PartnerOnboarded> {
        let keystone = self.keystone().as_ref();
        let config = self.config();
        let key_name = partner_key(&record.name);
        let domain = ensure::ensure_domain(
            keystone,
            &NewDomain {
                name: config.partners_domain.clone(),
                description: Some("Mercador partners: one project and user per subscriber provider".into()),
                enabled: true,
            },
        )
        .await?
        .object;
        let project = ensure::ensure_project(
            keystone,
            &NewProject {
                name: key_name.clone(),
                domain_id: domain.id.clone(),
                description: Some(format!("Mercador partner {}", record.name)),
                enabled: true,
                parent_id: None,
                tags: vec!["mercador".into()],
            },
        )
        .await?;
        record.objects.push(owned(ObjectKind::Project, &project.object.id, None));
        record.project_id = Some(project.object.id.clone());
        record = self.save_partner(record).await?;

        let password = super::generate_password()?;
        let user = ensure::ensure_user(
            keystone,
            &NewUser {
                name: key_name.clone(),
                domain_id: domain.id.clone(),
                password: Some(password.clone()),
                default_project_id: Some(project.object.id.clone()),
                description: Some(format!("Mercador partner {}", record.name)),
                enabled: true,
            },
        )
        .await?;
        if !user.outcome.created() {
            // An adopted user keeps its old password: set the one we hold.
            let update = UserUpdate { password: Some(password.clone()), ..Default::default() };
            keystone.update_user(&user.object.id, &update).await?;
            super::settle_after_password_change().await;
        }
        record.objects.push(owned(ObjectKind::User, &user.object.id, None));
        record.user_id = Some(user.object.id.clone());
        record = self.save_partner(record).await?;

        let role = self.role_id(&config.partner_role).await?;
        let actor = Actor::User(user.object.id.clone());
        let target = Target::Project(project.object.id.clone());
        ensure::ensure_role_grant(keystone, &role, &actor, &target).await?;
        record.objects.push(owned(
            ObjectKind::RoleAssignment,
            &format!("{role}:{}:{}", user.object.id, project.object.id),
            None,
        ));
        record = self.save_partner(record).await?;

        // The credential is created as the partner's user (Keystone lets
        // only a user create its own application credentials).
        let auth =
            DirectAuth::new(&config.keystone_url, Credentials::password(&key_name, &config.partners_domain, password))?;
        let session =
            Session::with_http(self.inner.http.clone(), Arc::new(auth), Scope::project_id(project.object.id.clone()));
        let as_partner = KeystoneClient::new(Arc::new(session));
        let credential_name = format!("mercador-{}", record.name);
        for stale in
            as_partner.list_application_credentials(&user.object.id, &Filter::new().name(&credential_name)).await?
        {
            super::gone_is_fine(as_partner.delete_application_credential(&user.object.id, &stale.id).await)?;
        }
        let credential = as_partner
            .create_application_credential(
                &user.object.id,
                &NewApplicationCredential {
                    name: credential_name,
                    description: Some(format!("Mercador exchange API access of partner {}", record.name)),
                    // The roles of the token: the partner role on its project
                    // (and the roles it implies), nothing else.
                    roles: Vec::new(),
                    unrestricted: false,
                    ..Default::default()
                },
            )
            .await?;
        let secret: SecretString = credential.secret.clone().ok_or_else(|| {
            PublisherError::Keystone(crate::Error::InvalidInput(
                "Keystone created the application credential without returning its secret".into(),
            ))
        })?;
        record.objects.push(owned(ObjectKind::ApplicationCredential, &credential.id, Some(&user.object.id)));
        record.state = PartnerState::Active;
        let record = self.save_partner(record).await?;
        tracing::info!(partner = %record.name, project = ?record.project_id, "partner onboarded");
        Ok(PartnerOnboarded {
            partner: record.into(),
            auth_url: config.keystone_url.clone(),
            application_credential_id: credential.id,
            application_credential_secret: RevealedSecret(secret),
        })
    }

    /// Every partner.
    pub async fn list_partners(&self) -> PublisherResult<Vec<PartnerView>> {
        Ok(self.store().list_partners().await?.into_iter().map(Into::into).collect())
    }

    /// One partner.
    pub async fn get_partner(&self, name: &Name) -> PublisherResult<PartnerView> {
        Ok(self.partner_record(name).await?.into())
    }

    /// The active partner whose credential is scoped to this Keystone B
    /// project (how the exchange API recognises its caller).
    pub async fn partner_for_project(&self, project_id: &str) -> PublisherResult<Option<PartnerView>> {
        let partner = self.store().get_partner_by_project(project_id).await?;
        Ok(partner.filter(|p| p.state == PartnerState::Active).map(Into::into))
    }

    /// Removes a partner with no subscription holding a place: its
    /// credential, user and project. Resumable.
    pub async fn remove_partner(&self, name: &Name) -> PublisherResult<()> {
        let mut record = self.partner_record(name).await?;
        let filter = SubscriptionFilter {
            partner_id: Some(record.id.clone()),
            states: SubscriptionState::ALL.into_iter().filter(|s| s.holds_a_place()).collect(),
            ..Default::default()
        };
        let live = self.store().list_subscriptions(&filter).await?.len();
        if live > 0 {
            return Err(PublisherError::Conflict(format!(
                "partner {name} has {live} subscription(s) holding a place; revoke them first"
            )));
        }
        if record.state != PartnerState::Removing {
            record.state = PartnerState::Removing;
            record = self.save_partner(record).await?;
        }
        self.remove_partner_objects(name).await?;
        self.store().delete_partner(&record.id).await?;
        tracing::info!(partner = %name, "partner removed");
        Ok(())
    }

    /// Deletes the partner's user (with its credentials and role
    /// assignments) and project, found by name.
    pub(crate) async fn remove_partner_objects(&self, name: &Name) -> PublisherResult<()> {
        let keystone = self.keystone().as_ref();
        let key_name = partner_key(name);
        let domains = keystone.list_domains(&Filter::new().name(&self.config().partners_domain)).await?;
        for domain in domains {
            let filter = Filter::new().name(&key_name).domain_id(&domain.id);
            for user in keystone.list_users(&filter).await? {
                super::gone_is_fine(keystone.delete_user(&user.id).await)?;
            }
            for project in keystone.list_projects(&filter).await? {
                super::gone_is_fine(keystone.delete_project(&project.id).await)?;
            }
        }
        Ok(())
    }

    pub(crate) async fn partner_record(&self, name: &Name) -> PublisherResult<PartnerRecord> {
        self.store().get_partner(name).await?.ok_or_else(|| PublisherError::NotFound {
            what: "partner",
            name: name.to_string(),
            hint: Some("list them with GET /v1/admin/partners".into()),
        })
    }

    async fn save_partner(&self, mut record: PartnerRecord) -> PublisherResult<PartnerRecord> {
        record.updated_at = Self::now();
        Ok(self.store().update_partner(&record).await?)
    }

    /// The id of a global role by name.
    pub(crate) async fn role_id(&self, name: &str) -> PublisherResult<String> {
        let roles = self.keystone().list_roles(&Filter::new().name(name)).await?;
        roles.into_iter().find(|r| r.name == name && r.domain_id.is_none()).map(|r| r.id).ok_or_else(|| {
            PublisherError::Conflict(format!(
                "Keystone B has no global role {name:?}; create it or change the configured role"
            ))
        })
    }
}

/// Name of the partner's project and user in the partners' domain.
fn partner_key(name: &Name) -> String {
    format!("partner-{name}")
}

fn owned(kind: ObjectKind, id: &str, parent: Option<&str>) -> CreatedObject {
    CreatedObject { kind, id: id.to_string(), parent: parent.map(str::to_string), adopted: false }
}

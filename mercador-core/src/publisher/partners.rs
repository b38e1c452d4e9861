//! Onboarding and removing partners.

use super::{NewPartner, PartnerOnboarded, PartnerView, Publisher, PublisherResult};
use crate::model::Name;

impl Publisher {
    /// Onboards a partner: a project in the partners' domain, a user with the
    /// partner role on it, and an application credential of that user,
    /// returned once. Resumable: a failure part-way removes what was created.
    pub async fn onboard_partner(&self, request: NewPartner) -> PublisherResult<PartnerOnboarded> {
        todo!("{request:?}")
    }

    /// Every partner.
    pub async fn list_partners(&self) -> PublisherResult<Vec<PartnerView>> {
        todo!()
    }

    /// One partner.
    pub async fn get_partner(&self, name: &Name) -> PublisherResult<PartnerView> {
        todo!("{name}")
    }

    /// The active partner whose credential is scoped to this Keystone B
    /// project (how the exchange API recognises its caller).
    pub async fn partner_for_project(&self, project_id: &str) -> PublisherResult<Option<PartnerView>> {
        todo!("{project_id}")
    }

    /// Removes a partner with no subscription holding a place: its
    /// credential, user and project.
    pub async fn remove_partner(&self, name: &Name) -> PublisherResult<()> {
        todo!("{name}")
    }
}

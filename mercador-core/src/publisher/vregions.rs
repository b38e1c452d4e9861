//! Defining, publishing and withdrawing vregions.

use super::{Publisher, PublisherResult, VRegionView};
use crate::model::{Name, VRegionSpec};

impl Publisher {
    /// Stores a new vregion as a draft after checking it: model rules, and on
    /// Keystone B that its region exists, that each service type has an
    /// endpoint there, that its roles exist and that each quota's service
    /// has a registered limit.
    pub async fn create_vregion(&self, spec: VRegionSpec) -> PublisherResult<VRegionView> {
        todo!("{spec:?}")
    }

    /// Replaces a vregion's definition (same name). A published vregion's
    /// quotas are applied to Keystone B at once; its roles and service types
    /// reach existing subscriptions at their next refresh.
    pub async fn replace_vregion(&self, name: &Name, spec: VRegionSpec) -> PublisherResult<VRegionView> {
        todo!("{name}{spec:?}")
    }

    /// One vregion.
    pub async fn get_vregion(&self, name: &Name) -> PublisherResult<VRegionView> {
        todo!("{name}")
    }

    /// Every vregion.
    pub async fn list_vregions(&self) -> PublisherResult<Vec<VRegionView>> {
        todo!()
    }

    /// Publishes: creates (or adopts) the vregion's domain, sets its quotas
    /// as domain limits, and offers it to its partners.
    pub async fn publish_vregion(&self, name: &Name) -> PublisherResult<VRegionView> {
        todo!("{name}")
    }

    /// Withdraws: no new subscriptions; existing ones go on.
    pub async fn withdraw_vregion(&self, name: &Name) -> PublisherResult<VRegionView> {
        todo!("{name}")
    }

    /// Deletes a vregion no subscription holds a place in. Its Keystone
    /// domain is disabled, not deleted (it may hold resources), unless `purge`.
    pub async fn delete_vregion(&self, name: &Name, purge: bool) -> PublisherResult<()> {
        todo!("{name}{purge}")
    }
}

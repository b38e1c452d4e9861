//! The Mercador model: virtual regions, partners and subscriptions, with the
//! validation every entry point (REST, CLI, bindings) shares.
//!
//! - [`names`]: [`Name`], the validated identifier of vregions, partners and
//!   aliases.
//! - [`vregion`]: [`VRegionSpec`] (what a publisher offers), its quotas
//!   (Keystone unified limits, known resource names only), visibility rules and
//!   lifecycle ([`VRegionState`]).
//! - [`subscription`]: [`SubscriptionState`] and the record of every Keystone
//!   object a subscription created ([`CreatedObject`]), so a crash at any step
//!   can be resumed or undone without orphans.

pub mod names;
pub mod subscription;
pub mod vregion;

pub use names::Name;
pub use subscription::{CreatedObject, ObjectKind, SubscriptionState};
pub use vregion::{
    Enforcement, EnforcementLevel, EnforcementStatus, Quota, VRegionSpec, VRegionState, Visibility, VisibilityRule,
};

/// A model rule was broken; the message names the field and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// The field at fault, e.g. `quotas.cores`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ValidationError {
    /// A violation of `field`, with what to do about it.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

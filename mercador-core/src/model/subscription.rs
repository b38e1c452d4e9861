//! Subscription lifecycle and the record of the Keystone objects it owns.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Lifecycle of a subscription.
///
/// ```text
/// requested -> provisioning -> active -> cancelling -> cancelled
///     |             |             \----> revoking   -> revoked
///     \-------------+--> cancelling (with an error) -> failed
/// ```
///
/// A provisioning step that fails for a reason retrying cannot fix (Keystone
/// refused a request, say) rolls back: the subscription goes to `cancelling`
/// with the error recorded, and ends `failed` once nothing of it remains.
/// Transient failures (Keystone unreachable) leave it `provisioning`, to be
/// resumed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionState {
    /// The place is reserved; nothing configured yet.
    Requested,
    /// Keystone and Shibboleth are being configured (resumable).
    Provisioning,
    /// Federation works.
    Active,
    /// The partner cancelled; objects are being removed (resumable).
    Cancelling,
    /// Cancelled; nothing of it remains in Keystone.
    Cancelled,
    /// The publisher revoked it; objects are being removed (resumable).
    Revoking,
    /// Revoked; nothing of it remains in Keystone.
    Revoked,
    /// Provisioning failed in a way retrying does not fix, and was rolled
    /// back: nothing of it remains in Keystone.
    Failed,
}

impl SubscriptionState {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Provisioning => "provisioning",
            Self::Active => "active",
            Self::Cancelling => "cancelling",
            Self::Cancelled => "cancelled",
            Self::Revoking => "revoking",
            Self::Revoked => "revoked",
            Self::Failed => "failed",
        }
    }

    /// True when nothing more will happen to it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Cancelled | Self::Revoked | Self::Failed)
    }

    /// The states of an operation under way, which reconciliation resumes
    /// after a crash (to `active`, or to a final state).
    pub const UNFINISHED: [Self; 4] = [Self::Requested, Self::Provisioning, Self::Cancelling, Self::Revoking];

    /// Every state, in lifecycle order.
    pub const ALL: [Self; 8] = [
        Self::Requested,
        Self::Provisioning,
        Self::Active,
        Self::Cancelling,
        Self::Cancelled,
        Self::Revoking,
        Self::Revoked,
        Self::Failed,
    ];

    /// The state named `s` (as [`Self::as_str`] spells it).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// True while it holds one of the vregion's places.
    pub fn holds_a_place(self) -> bool {
        !self.is_final()
    }

    /// Whether the lifecycle allows going from `self` to `to`.
    pub fn can_become(self, to: Self) -> bool {
        use SubscriptionState::*;
        self == to
            || matches!(
                (self, to),
                (Requested, Provisioning)
                    | (Provisioning, Active)
                    | (Requested | Provisioning | Active, Cancelling | Revoking)
                    | (Cancelling, Cancelled | Failed | Revoking)
                    | (Revoking, Revoked)
            )
    }
}

impl fmt::Display for SubscriptionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The kind of an object a subscription created.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// Keystone domain.
    Domain,
    /// Keystone project.
    Project,
    /// Keystone group.
    Group,
    /// Keystone user.
    User,
    /// Keystone role assignment (`id` is `role:actor:target`).
    RoleAssignment,
    /// OS-FEDERATION identity provider.
    IdentityProvider,
    /// OS-FEDERATION mapping.
    Mapping,
    /// OS-FEDERATION protocol (`parent` is the identity provider).
    Protocol,
    /// OS-FEDERATION service provider.
    ServiceProvider,
    /// Keystone region.
    Region,
    /// Keystone catalog service.
    Service,
    /// Keystone catalog endpoint.
    Endpoint,
    /// Keystone unified limit.
    Limit,
    /// A SAML metadata file trusted by the Shibboleth SP (`id` is the entity id).
    SamlTrust,
    /// Keystone application credential (`parent` is its user).
    ApplicationCredential,
}

/// One object a subscription created or adopted, recorded before the next
/// step runs, so that a resumed or undone operation knows exactly what it owns.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedObject {
    /// Kind.
    pub kind: ObjectKind,
    /// Keystone id (or the natural key for kinds without one).
    pub id: String,
    /// The parent object's id, for nested objects (protocols).
    #[serde(default)]
    pub parent: Option<String>,
    /// True when the object existed before and was adopted: undoing the
    /// subscription must then leave it in place.
    #[serde(default)]
    pub adopted: bool,
}

#[cfg(test)]
mod tests {
    use super::SubscriptionState::*;
    use super::*;

    #[test]
    fn lifecycle() {
        assert!(Requested.can_become(Provisioning));
        assert!(Provisioning.can_become(Active));
        assert!(Active.can_become(Cancelling) && Cancelling.can_become(Cancelled));
        assert!(Active.can_become(Revoking) && Revoking.can_become(Revoked));
        assert!(Provisioning.can_become(Cancelling) && Cancelling.can_become(Failed));
        assert!(!Failed.can_become(Cancelling) && !Provisioning.can_become(Failed));
        assert!(!Cancelled.can_become(Active));
        assert!(!Revoked.can_become(Cancelling));
        assert!(!Active.can_become(Requested));
        assert!(Cancelled.is_final() && !Active.is_final() && !Failed.holds_a_place());
        assert!(SubscriptionState::ALL.iter().all(|s| SubscriptionState::parse(s.as_str()) == Some(*s)));
    }

    #[test]
    fn records_round_trip() {
        let o = CreatedObject {
            kind: ObjectKind::Protocol,
            id: "saml2".into(),
            parent: Some("idp".into()),
            adopted: false,
        };
        let json = serde_json::to_value(&o).unwrap();
        assert_eq!(json["kind"], "protocol");
        assert_eq!(serde_json::from_value::<CreatedObject>(json).unwrap(), o);
        assert_eq!(serde_json::to_value(Provisioning).unwrap(), "provisioning");
    }
}

//! [`PublisherError`]: what the publisher engine refuses or fails with.

use crate::keystone::ErrorKind;
use crate::model::ValidationError;
use crate::outage::{Dependency, Outage, OutageKind};
use crate::secrets::SecretsError;
use crate::store::StoreError;

/// An error of the publisher engine. Every variant carries a message that
/// says what is wrong and what to do; none carries a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublisherError {
    /// The request breaks model rules; every violation names its field.
    #[error("invalid request: {}", join(.0))]
    Invalid(Vec<ValidationError>),
    /// The named object does not exist (or belongs to another partner, which
    /// is reported the same way).
    #[error("{what} {name:?} does not exist{}", hint_suffix(.hint))]
    NotFound {
        /// `vregion`, `partner`, `subscription`.
        what: &'static str,
        /// Its name or id.
        name: String,
        /// What to do, when there is something to say.
        hint: Option<String>,
    },
    /// The object exists already or its state forbids the operation.
    #[error("{0}")]
    Conflict(String),
    /// Every place of the vregion is taken.
    #[error("vregion {vregion} has no place left ({max} of {max} taken); ask its publisher to raise max_subscriptions")]
    Full {
        /// The vregion.
        vregion: String,
        /// Its maximum number of subscriptions.
        max: u32,
    },
    /// The subscriber's SAML identity is unusable.
    #[error("SAML identity refused: {0}")]
    Saml(String),
    /// Keystone B refused or failed a request.
    #[error("Keystone: {0}")]
    Keystone(#[from] crate::Error),
    /// The SAML trust store (Shibboleth's metadata directory) failed.
    #[error("SAML trust store: {0}")]
    Trust(String),
    /// B's SAML service provider (Shibboleth) is down: unreachable, failing
    /// (shibd stopped) or too slow. A trust written now would not let
    /// anyone sign in; the operation resumes once it is back.
    #[error("SAML service provider: {message}")]
    SamlSpUnavailable {
        /// How it fails.
        kind: OutageKind,
        /// What was asked, where, and what it answered.
        message: String,
    },
    /// An outage interrupted a subscribe: the subscription keeps its state
    /// and step, and the publisher's reconciliation finishes it once the
    /// dependency is back.
    #[error(
        "{cause}; subscription {subscription} was interrupted at step {step} and continues in the background (state {state}); asking again is harmless"
    )]
    Interrupted {
        /// `subscribe`.
        operation: &'static str,
        /// The subscription's id.
        subscription: String,
        /// Its state (`provisioning`).
        state: String,
        /// The step it stopped at.
        step: String,
        /// The outage.
        #[source]
        cause: Box<PublisherError>,
    },
    /// The database failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// A stored secret could not be sealed or opened.
    #[error("secrets: {0}")]
    Secrets(#[from] SecretsError),
    /// Another operation on the same partner's federation holds the lease;
    /// it will be done soon.
    #[error("another operation on {0}'s federation is running; retry in a few seconds")]
    Busy(String),
}

fn join(errors: &[ValidationError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default()
}

impl PublisherError {
    /// A stable machine-readable code, e.g. `vregion_full`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid_request",
            Self::NotFound { .. } => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Full { .. } => "vregion_full",
            Self::Saml(_) => "saml_identity_refused",
            Self::Keystone(e) => match e.kind() {
                ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Tls => "keystone_unavailable",
                _ => "keystone_error",
            },
            Self::Trust(_) => "trust_store_error",
            Self::SamlSpUnavailable { .. } => "saml_sp_unavailable",
            Self::Interrupted { cause, .. } => cause.code(),
            Self::Store(StoreError::Unavailable { .. }) => "database_unavailable",
            Self::Store(StoreError::Stale { .. }) => "busy",
            Self::Store(_) => "storage_error",
            Self::Secrets(_) => "secrets_error",
            Self::Busy(_) => "busy",
        }
    }

    /// A short human title for the code.
    pub fn title(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "Invalid request",
            Self::NotFound { .. } => "Not found",
            Self::Conflict(_) => "Conflict",
            Self::Full { .. } => "No place left",
            Self::Saml(_) => "SAML identity refused",
            Self::Keystone(_) if self.outage().is_some() => "Keystone unavailable",
            Self::Keystone(_) => "Keystone failed",
            Self::Trust(_) => "SAML trust store failed",
            Self::SamlSpUnavailable { .. } => "SAML service provider unavailable",
            Self::Interrupted { cause, .. } => cause.title(),
            Self::Store(StoreError::Unavailable { .. }) => "Database unavailable",
            Self::Store(StoreError::Stale { .. }) => "Busy",
            Self::Store(_) => "Storage failed",
            Self::Secrets(_) => "Secrets failed",
            Self::Busy(_) => "Busy",
        }
    }

    /// True when retrying later may succeed without changing the request
    /// (Keystone or the database unreachable, a lease held).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Keystone(e) => matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Timeout),
            Self::Store(StoreError::Database(_) | StoreError::Stale { .. } | StoreError::Unavailable { .. })
            | Self::Busy(_)
            | Self::SamlSpUnavailable { .. } => true,
            Self::Interrupted { cause, .. } => cause.is_transient(),
            _ => false,
        }
    }

    /// The outage of a dependency this error stands for, if any: Keystone B
    /// unreachable, refusing (5xx) or too slow; the database unreachable,
    /// refusing or without a free connection in time; B's SAML service
    /// provider down.
    pub fn outage(&self) -> Option<Outage> {
        match self {
            Self::Keystone(e) => Outage::of_keystone(Dependency::KeystoneB, e),
            Self::Store(StoreError::Unavailable { kind, .. }) => Some(Outage::new(Dependency::Database, *kind)),
            Self::SamlSpUnavailable { kind, .. } => Some(Outage::new(Dependency::ShibbolethSp, *kind)),
            Self::Interrupted { cause, .. } => cause.outage(),
            _ => None,
        }
    }

    /// The operation an outage interrupted, when this is
    /// [`Self::Interrupted`]: `(operation, subscription, state, step)`.
    pub fn interrupted(&self) -> Option<(&'static str, &str, &str, &str)> {
        match self {
            Self::Interrupted { operation, subscription, state, step, .. } => {
                Some((operation, subscription.as_str(), state.as_str(), step.as_str()))
            }
            _ => None,
        }
    }

    pub(crate) fn not_found(what: &'static str, name: impl Into<String>) -> Self {
        Self::NotFound { what, name: name.into(), hint: None }
    }
}

/// Result of the publisher engine.
pub type PublisherResult<T> = std::result::Result<T, PublisherError>;

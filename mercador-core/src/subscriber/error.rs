//! [`SubscriberError`]: what the subscriber engine refuses or fails with;
//! [`PublisherFailure`]: one publisher's failure in a discovery.

use serde::Serialize;

use crate::keystone::ErrorKind;
use crate::model::ValidationError;
use crate::outage::{Dependency, Outage, OutageKind};
use crate::secrets::SecretsError;
use crate::store::StoreError;

/// An error of the subscriber engine. Every variant carries a message that
/// says what is wrong and what to do; none carries a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubscriberError {
    /// The request breaks model rules; every violation names its field.
    #[error("invalid request: {}", join(.0))]
    Invalid(Vec<ValidationError>),
    /// The named object does not exist.
    #[error("{what} {name:?} does not exist")]
    NotFound {
        /// `publisher`, `binding`, `vregion`.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// The object exists already or its state forbids the operation.
    #[error("{0}")]
    Conflict(String),
    /// A publisher answered with an error (its exchange API's
    /// `{"error": {code, title, message, status}}`).
    #[error("publisher {publisher} answered {status} {code}: {message}")]
    Publisher {
        /// The publisher.
        publisher: String,
        /// HTTP status.
        status: u16,
        /// Its error code (`not_found`, `conflict`, `vregion_full`...).
        code: String,
        /// Its message.
        message: String,
        /// For its outage answers (503): how its dependency fails, as it said.
        outage: Option<OutageKind>,
    },
    /// A publisher could not be reached, or refused the partner credential,
    /// or its Keystone catalog has no exchange API.
    #[error("publisher {publisher} unreachable: {source}")]
    Unreachable {
        /// The publisher.
        publisher: String,
        /// Why (Keystone B or the transport).
        source: crate::Error,
        /// True when Keystone B failed (the partner credential's
        /// authentication, the catalog lookup), false when the publisher's
        /// own endpoint did.
        at_keystone: bool,
    },
    /// Keystone A refused or failed a request.
    #[error("Keystone A: {0}")]
    Keystone(#[from] crate::Error),
    /// The database failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// A stored secret could not be sealed or opened.
    #[error("secrets: {0}")]
    Secrets(#[from] SecretsError),
    /// Another operation on the same binding holds the lease.
    #[error("another operation on {0} is running; retry in a few seconds")]
    Busy(String),
    /// A subscribe, refresh or cancel was interrupted by an outage (`cause`):
    /// the binding keeps its state and step, and the service finishes the
    /// operation in the background once the dependency is back (its
    /// reconciliation); asking again is harmless. Its code, title and
    /// transience are the cause's.
    #[error(
        "{cause}; {operation} of binding {binding} was interrupted at step {step} and continues in the background \
         (state {state}): follow it with `mercador binding show {binding}`; asking again is harmless"
    )]
    Interrupted {
        /// `subscribe`, `refresh`, `cancel`.
        operation: &'static str,
        /// The binding's alias.
        binding: String,
        /// Its state (`provisioning`, `cancelling`...).
        state: String,
        /// The step it stopped at (`-` when none is recorded).
        step: String,
        /// The outage.
        cause: Box<SubscriberError>,
    },
    /// A cancel could not be done at the publisher (`source`: unreachable
    /// or refusing); the binding stays `cancelling` and is retried. Its
    /// code, title and transience are the source's.
    #[error(
        "{source}; binding {binding} stays cancelling and is retried; to remove A's side without the publisher, \
         cancel with force=true"
    )]
    CancelBlocked {
        /// The binding's alias.
        binding: String,
        /// The publisher's failure.
        source: Box<SubscriberError>,
    },
}

fn join(errors: &[ValidationError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

fn transient_kind(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::Unavailable | ErrorKind::Timeout)
}

impl SubscriberError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid_request",
            Self::NotFound { .. } => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Publisher { .. } => "publisher_error",
            Self::Unreachable { .. } => self.outage().map_or("publisher_unavailable", |o| o.code()),
            Self::Keystone(e) => match e.kind() {
                ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Tls => "keystone_unavailable",
                _ => "keystone_error",
            },
            Self::Store(StoreError::Unavailable { .. }) => "database_unavailable",
            Self::Store(StoreError::Stale { .. }) => "busy",
            Self::Store(_) => "storage_error",
            Self::Secrets(_) => "secrets_error",
            Self::Busy(_) => "busy",
            Self::CancelBlocked { source, .. } => source.code(),
            Self::Interrupted { cause, .. } => cause.code(),
        }
    }

    /// A short human title for the code.
    pub fn title(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "Invalid request",
            Self::NotFound { .. } => "Not found",
            Self::Conflict(_) => "Conflict",
            Self::Publisher { .. } => "The publisher refused",
            Self::Unreachable { .. } => "Publisher unreachable",
            Self::Keystone(_) if self.outage().is_some() => "Keystone unavailable",
            Self::Keystone(_) => "Keystone failed",
            Self::Store(StoreError::Unavailable { .. }) => "Database unavailable",
            Self::Store(StoreError::Stale { .. }) => "Busy",
            Self::Store(_) => "Storage failed",
            Self::Secrets(_) => "Secrets failed",
            Self::Busy(_) => "Busy",
            Self::CancelBlocked { source, .. } => source.title(),
            Self::Interrupted { cause, .. } => cause.title(),
        }
    }

    /// True when retrying later may succeed without changing the request.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Keystone(e) => transient_kind(e.kind()),
            Self::Unreachable { source, .. } => transient_kind(source.kind()),
            Self::Publisher { status, .. } => *status >= 500,
            Self::Store(StoreError::Database(_) | StoreError::Stale { .. } | StoreError::Unavailable { .. })
            | Self::Busy(_) => true,
            Self::CancelBlocked { source, .. } => source.is_transient(),
            Self::Interrupted { cause, .. } => cause.is_transient(),
            _ => false,
        }
    }

    /// The outage of a dependency this error stands for, if any: Keystone A
    /// or the database unreachable, refusing or too slow; the publisher
    /// unreachable, too slow or answering 5xx (its own outage codes, e.g.
    /// `keystone_unavailable` when Keystone B does not answer it, name
    /// Keystone B, `saml_sp_unavailable` B's SAML service provider, and
    /// `database_unavailable` stays the publisher's).
    pub fn outage(&self) -> Option<Outage> {
        match self {
            Self::Keystone(e) => Outage::of_keystone(Dependency::KeystoneA, e),
            Self::Store(StoreError::Unavailable { kind, .. }) => Some(Outage::new(Dependency::Database, *kind)),
            Self::Unreachable { source, at_keystone, .. } => {
                let dependency = if *at_keystone { Dependency::KeystoneB } else { Dependency::Publisher };
                Outage::of_keystone(dependency, source)
            }
            Self::Publisher { status, code, outage, .. } if *status >= 500 => {
                // The publisher's own Keystone; its database stays its own
                // business (the publisher is failing, as seen from A).
                let dependency = match code.as_str() {
                    "keystone_unavailable" => Dependency::KeystoneB,
                    "saml_sp_unavailable" => Dependency::ShibbolethSp,
                    _ => Dependency::Publisher,
                };
                let kind = match (outage, code.as_str()) {
                    (Some(kind), _) => *kind,
                    (None, "timeout") => OutageKind::TooSlow,
                    _ => OutageKind::Refusing,
                };
                Some(Outage::new(dependency, kind))
            }
            Self::CancelBlocked { source, .. } => source.outage(),
            Self::Interrupted { cause, .. } => cause.outage(),
            _ => None,
        }
    }

    /// The interrupted operation, when this is [`Self::Interrupted`]:
    /// `(operation, binding, state, step)`.
    pub fn interrupted(&self) -> Option<(&'static str, &str, &str, &str)> {
        match self {
            Self::Interrupted { operation, binding, state, step, .. } => {
                Some((operation, binding.as_str(), state.as_str(), step.as_str()))
            }
            _ => None,
        }
    }

    /// The publisher's HTTP status, when it answered with an error.
    pub fn publisher_status(&self) -> Option<u16> {
        match self {
            Self::Publisher { status, .. } => Some(*status),
            Self::CancelBlocked { source, .. } => source.publisher_status(),
            Self::Interrupted { cause, .. } => cause.publisher_status(),
            _ => None,
        }
    }

    pub(crate) fn not_found(what: &'static str, name: impl Into<String>) -> Self {
        Self::NotFound { what, name: name.into() }
    }
}

/// Result of the subscriber engine.
pub type SubscriberResult<T> = std::result::Result<T, SubscriberError>;

/// One publisher that a discovery could not list.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublisherFailure {
    /// The publisher.
    pub publisher: String,
    /// [`SubscriberError::code`].
    pub code: String,
    /// What went wrong.
    pub message: String,
}

impl PublisherFailure {
    pub(crate) fn new(publisher: &str, e: &SubscriberError) -> Self {
        Self { publisher: publisher.to_string(), code: e.code().to_string(), message: e.to_string() }
    }
}

//! [`SubscriberError`]: what the subscriber engine refuses or fails with;
//! [`PublisherFailure`]: one publisher's failure in a discovery.

use serde::Serialize;

use crate::keystone::ErrorKind;
use crate::model::ValidationError;
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
    },
    /// A publisher could not be reached, or refused the partner credential,
    /// or its Keystone catalog has no exchange API.
    #[error("publisher {publisher} unreachable: {source}")]
    Unreachable {
        /// The publisher.
        publisher: String,
        /// Why (Keystone B or the transport).
        source: crate::Error,
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
            Self::Unreachable { .. } => "publisher_unavailable",
            Self::Keystone(e) => match e.kind() {
                ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Tls => "keystone_unavailable",
                _ => "keystone_error",
            },
            Self::Store(_) => "storage_error",
            Self::Secrets(_) => "secrets_error",
            Self::Busy(_) => "busy",
            Self::CancelBlocked { source, .. } => source.code(),
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
            Self::Keystone(_) => "Keystone failed",
            Self::Store(_) => "Storage failed",
            Self::Secrets(_) => "Secrets failed",
            Self::Busy(_) => "Busy",
            Self::CancelBlocked { source, .. } => source.title(),
        }
    }

    /// True when retrying later may succeed without changing the request.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Keystone(e) => transient_kind(e.kind()),
            Self::Unreachable { source, .. } => transient_kind(source.kind()),
            Self::Publisher { status, .. } => *status >= 500,
            Self::Store(StoreError::Database(_) | StoreError::Stale { .. }) | Self::Busy(_) => true,
            Self::CancelBlocked { source, .. } => source.is_transient(),
            _ => false,
        }
    }

    /// The publisher's HTTP status, when it answered with an error.
    pub fn publisher_status(&self) -> Option<u16> {
        match self {
            Self::Publisher { status, .. } => Some(*status),
            Self::CancelBlocked { source, .. } => source.publisher_status(),
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

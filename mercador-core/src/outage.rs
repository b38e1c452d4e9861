//! Outages of what Mercador depends on, classified once for the services
//! and the CLI.
//!
//! An [`Outage`] says which [`Dependency`] failed (Keystone A, Keystone B,
//! the Shibboleth SP, the peer Mercador service, the database) and how
//! ([`OutageKind`]: unreachable, refusing, too slow), with what is known
//! (the underlying error's message, never a secret). The engines' errors
//! ([`crate::publisher::PublisherError::outage`],
//! [`crate::subscriber::SubscriberError::outage`]) and the services'
//! clients' errors ([`crate::client::ClientError::outage`]) map to it; the
//! services answer every outage with `503`, the code
//! [`Outage::code`] (`database_unavailable`, `keystone_unavailable`...), a
//! `Retry-After` of [`Outage::retry_after`] seconds and the `dependency`
//! field; the CLI exits with its "unavailable" code.
//!
//! An outage is never a failure of the request itself: retrying the same
//! request once the dependency is back is harmless (every operation is
//! idempotent and resumable).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::keystone::ErrorKind;

/// Something Mercador depends on.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Dependency {
    /// The subscriber's Keystone (A).
    KeystoneA,
    /// The publisher's Keystone (B), as the publisher reaches it, or as a
    /// partner authenticates on it.
    KeystoneB,
    /// B's SAML service provider (Shibboleth: its metadata directory, its
    /// ECP endpoint).
    ShibbolethSp,
    /// The peer Mercador service: the publisher, as the subscriber sees it.
    Publisher,
    /// The service's own database.
    Database,
}

impl Dependency {
    /// `keystone_a`, `keystone_b`, `shibboleth_sp`, `publisher`, `database`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeystoneA => "keystone_a",
            Self::KeystoneB => "keystone_b",
            Self::ShibbolethSp => "shibboleth_sp",
            Self::Publisher => "publisher",
            Self::Database => "database",
        }
    }

    /// A human name: `Keystone A`, `the database`...
    pub fn describe(self) -> &'static str {
        match self {
            Self::KeystoneA => "Keystone A",
            Self::KeystoneB => "Keystone B",
            Self::ShibbolethSp => "B's SAML service provider (Shibboleth)",
            Self::Publisher => "the publisher service",
            Self::Database => "the database",
        }
    }

    /// The error code of an outage of this dependency. Both Keystones share
    /// `keystone_unavailable` (each service talks to one Keystone of its
    /// own; the `dependency` field tells them apart).
    pub fn code(self) -> &'static str {
        match self {
            Self::KeystoneA | Self::KeystoneB => "keystone_unavailable",
            Self::ShibbolethSp => "saml_sp_unavailable",
            Self::Publisher => "publisher_unavailable",
            Self::Database => "database_unavailable",
        }
    }
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// How a dependency fails.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OutageKind {
    /// It cannot be reached: connection refused or reset, no route, a TLS
    /// failure, a closed pool.
    Unreachable,
    /// It answers, but with 5xx (a server error, 502/503): it is there and
    /// not working.
    Refusing,
    /// It did not answer within the configured time (a hung or overloaded
    /// process, a pool with no free connection).
    TooSlow,
}

impl OutageKind {
    /// `unreachable`, `refusing`, `too_slow`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::Refusing => "refusing",
            Self::TooSlow => "too_slow",
        }
    }

    /// The kind of a Keystone client's (or HTTP) error, when it is an outage
    /// at all: timeouts are too slow; transport failures and TLS are
    /// unreachable; 5xx answers are refusing. `status` is the HTTP status
    /// when there was an answer.
    pub fn of(kind: ErrorKind, status: Option<u16>) -> Option<Self> {
        match (kind, status) {
            (ErrorKind::Timeout, _) => Some(Self::TooSlow),
            (ErrorKind::Unavailable, Some(_)) => Some(Self::Refusing),
            (ErrorKind::Unavailable | ErrorKind::Tls, None) => Some(Self::Unreachable),
            _ => None,
        }
    }
}

impl fmt::Display for OutageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One dependency's outage: which, how, and what is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    /// Which dependency.
    pub dependency: Dependency,
    /// How it fails.
    pub kind: OutageKind,
}

impl Outage {
    /// An outage of `dependency` of `kind`.
    pub fn new(dependency: Dependency, kind: OutageKind) -> Self {
        Self { dependency, kind }
    }

    /// The outage a Keystone client's error stands for on `dependency`, if
    /// any; an error that names its own dependency ([`crate::Error::outage`]:
    /// B's SAML service provider during a K2K login) keeps it.
    pub fn of_keystone(dependency: Dependency, e: &crate::Error) -> Option<Self> {
        e.outage().or_else(|| OutageKind::of(e.kind(), e.status()).map(|kind| Self::new(dependency, kind)))
    }

    /// The error code (`database_unavailable`, `keystone_unavailable`,
    /// `saml_sp_unavailable`, `publisher_unavailable`).
    pub fn code(&self) -> &'static str {
        self.dependency.code()
    }

    /// Seconds a caller should wait before retrying: the database and the
    /// Shibboleth SP usually come back within seconds (a restart), a
    /// Keystone or a peer service may take longer.
    pub fn retry_after(&self) -> u32 {
        match (self.dependency, self.kind) {
            (Dependency::Database, _) => 5,
            (Dependency::ShibbolethSp, _) => 5,
            (_, OutageKind::TooSlow) => 15,
            _ => 10,
        }
    }

    /// A sentence for the message: `Keystone B is too slow (it did not
    /// answer in time)`.
    pub fn describe(&self) -> String {
        let how = match self.kind {
            OutageKind::Unreachable => "cannot be reached",
            OutageKind::Refusing => "is failing (it answers with server errors)",
            OutageKind::TooSlow => "is too slow (it did not answer in time)",
        };
        format!("{} {how}", self.dependency.describe())
    }
}

impl fmt::Display for Outage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_keystone_errors() {
        assert_eq!(OutageKind::of(ErrorKind::Timeout, None), Some(OutageKind::TooSlow));
        assert_eq!(OutageKind::of(ErrorKind::Unavailable, None), Some(OutageKind::Unreachable));
        assert_eq!(OutageKind::of(ErrorKind::Unavailable, Some(503)), Some(OutageKind::Refusing));
        assert_eq!(OutageKind::of(ErrorKind::Tls, None), Some(OutageKind::Unreachable));
        assert_eq!(OutageKind::of(ErrorKind::NotFound, Some(404)), None);
        assert_eq!(OutageKind::of(ErrorKind::AuthenticationFailed, Some(401)), None);
    }

    #[test]
    fn codes_and_words() {
        let o = Outage::new(Dependency::Database, OutageKind::TooSlow);
        assert_eq!(o.code(), "database_unavailable");
        assert_eq!(o.to_string(), "the database is too slow (it did not answer in time)");
        assert_eq!(Outage::new(Dependency::KeystoneB, OutageKind::Unreachable).code(), "keystone_unavailable");
        assert_eq!(Dependency::ShibbolethSp.code(), "saml_sp_unavailable");
        assert_eq!(Dependency::Publisher.code(), "publisher_unavailable");
        assert_eq!(serde_json::to_value(Dependency::KeystoneA).unwrap(), "keystone_a");
    }
}

//! The CLI's error: a message for standard error and an exit code.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | any other failure |
//! | 2 | usage: a wrong command line (clap), an unreadable or invalid input file, a request the service refused as invalid (HTTP 400/413/415/422) |
//! | 3 | not found (HTTP 404, no such cloud object or catalog entry) |
//! | 4 | conflict (HTTP 409: the name is taken, the vregion is full, the state forbids it) |
//! | 5 | authentication or permission: no/wrong cloud configuration, credentials refused (401), not allowed (403) |
//! | 6 | unavailable: the service or Keystone cannot be reached, timed out, or answered 502/503/504 (an outage of what the service depends on: the message names it and when to retry) |
//! | 7 | interrupted, continuing: an outage interrupted a subscribe or cancel, which goes on in the background by itself (the message says its state and step and how to follow it; running the command again is harmless) |

use std::fmt;
use std::process::ExitCode;

use mercador_core::keystone::{Error as KeystoneError, ErrorKind};

/// Why a command failed, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Exit 1.
    Generic,
    /// Exit 2.
    Usage,
    /// Exit 3.
    NotFound,
    /// Exit 4.
    Conflict,
    /// Exit 5.
    Auth,
    /// Exit 6.
    Unavailable,
    /// Exit 7: an outage interrupted the operation; it continues in the background.
    Continuing,
}

impl Kind {
    /// The process exit code.
    pub(crate) fn code(self) -> u8 {
        match self {
            Self::Generic => 1,
            Self::Usage => 2,
            Self::NotFound => 3,
            Self::Conflict => 4,
            Self::Auth => 5,
            Self::Unavailable => 6,
            Self::Continuing => 7,
        }
    }

    /// The kind of an HTTP error status.
    pub(crate) fn from_status(status: u16) -> Self {
        match status {
            400 | 405 | 413 | 415 | 422 => Self::Usage,
            401 | 403 => Self::Auth,
            404 => Self::NotFound,
            409 => Self::Conflict,
            502..=504 => Self::Unavailable,
            _ => Self::Generic,
        }
    }
}

/// A failed command: what to print (never a secret) and how to exit.
#[derive(Debug, Clone)]
pub(crate) struct CliError {
    /// The exit code's reason.
    pub(crate) kind: Kind,
    /// The message, possibly several lines.
    pub(crate) message: String,
}

impl CliError {
    /// An error of `kind`.
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// Exit 1.
    pub(crate) fn generic(message: impl Into<String>) -> Self {
        Self::new(Kind::Generic, message)
    }

    /// Exit 2.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    /// The exit code.
    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.kind.code())
    }

    /// Prefixes the message with some context.
    pub(crate) fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<KeystoneError> for CliError {
    fn from(e: KeystoneError) -> Self {
        let kind = match e.kind() {
            ErrorKind::AuthenticationFailed | ErrorKind::Forbidden | ErrorKind::Configuration => Kind::Auth,
            ErrorKind::NotFound => Kind::NotFound,
            ErrorKind::Conflict => Kind::Conflict,
            ErrorKind::InvalidInput => Kind::Usage,
            ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Tls => Kind::Unavailable,
            _ => Kind::Generic,
        };
        let mut message = e.to_string();
        // A dependency the error names (B's SAML SP during a K2K login):
        // the same hint as the services' outage answers.
        if let Some(outage) = e.outage() {
            message.push_str(&format!(
                "\n  ({} is down: {}; retry after {} s)",
                outage.dependency,
                outage.describe(),
                outage.retry_after()
            ));
        }
        Self::new(kind, message)
    }
}

/// `Result` with [`CliError`].
pub(crate) type CliResult<T> = Result<T, CliError>;

/// The exit-code table shown at the end of `mercador --help`.
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  any other failure
  2  usage: wrong command line or input file; request refused as invalid (HTTP 400, 413, 415, 422)
  3  not found (HTTP 404: vregion, partner, subscription, service provider, catalog entry)
  4  conflict (HTTP 409: name taken, vregion full, state forbids it)
  5  authentication: cloud configuration missing or wrong, credentials refused (401), forbidden (403)
  6  unavailable: service or Keystone unreachable or timed out, HTTP 502/503/504 (an outage: the message
     names what is down and when to retry)
  7  interrupted by an outage, continuing in the background (subscribe, cancel): the message says the
     binding's state and step and how to follow it; running the command again is harmless";

#[cfg(test)]
mod tests {
    use mercador_core::outage::OutageKind;

    use super::*;

    #[test]
    fn a_k2k_login_through_a_saml_sp_that_is_down_exits_6_naming_it() {
        let e = KeystoneError::SamlServiceProvider {
            kind: ErrorKind::Unavailable,
            outage: OutageKind::Refusing,
            message: "the SAML service provider of mercador-lisbon-b (http://b/Shibboleth.sso/SAML2/ECP) could not \
                      process the assertion: HTTP 500: Cannot connect to shibd process"
                .into(),
        };
        let e = CliError::from(e);
        assert_eq!(e.kind.code(), 6);
        assert!(e.message.contains("shibboleth_sp is down"), "{e}");
        assert!(e.message.contains("retry after 5 s"), "{e}");
        assert!(e.message.contains("http://b/Shibboleth.sso/SAML2/ECP"), "{e}");
    }
}

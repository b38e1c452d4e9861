//! The exception hierarchy: `MercadorError` and one subclass per core
//! [`ErrorKind`], each instance carrying `message`, `status` (the HTTP
//! status, or `None`), `kind` (core's stable identifier), `code` (a Mercador
//! service's error code, or `None`), `field_errors` (`[(field, message)]`)
//! and what is known of an outage (issue 19): `dependency`, `outage`,
//! `retry_after` and `operation` (an [`InterruptedOperation`]).

use mercador_core::ErrorKind;
use mercador_core::client::ClientError;
use mercador_core::outage::{Dependency, Outage, OutageKind};
use mercador_core::store::StoreError;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(mercador._native, MercadorError, PyException, "Base class of every Mercador error.");
create_exception!(mercador._native, AuthenticationFailed, MercadorError, "Credentials or token refused (HTTP 401).");
create_exception!(mercador._native, Forbidden, MercadorError, "Not allowed (HTTP 403).");
create_exception!(mercador._native, NotFound, MercadorError, "No such object, endpoint or cloud (HTTP 404).");
create_exception!(mercador._native, Conflict, MercadorError, "Exists already, or the state forbids it (HTTP 409).");
create_exception!(
    mercador._native,
    InvalidInput,
    MercadorError,
    "A request or argument refused as invalid (HTTP 400, 422)."
);
create_exception!(mercador._native, Unavailable, MercadorError, "Unreachable, or answered 5xx.");
create_exception!(mercador._native, Timeout, MercadorError, "Did not answer in time.");
create_exception!(mercador._native, TlsError, MercadorError, "The TLS handshake failed.");
create_exception!(mercador._native, InvalidResponse, MercadorError, "An answer this client does not understand.");
create_exception!(
    mercador._native,
    ConfigurationError,
    MercadorError,
    "clouds.yaml, OS_* or the auth dict is incomplete or wrong."
);

/// Registers the classes in the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("MercadorError", py.get_type::<MercadorError>())?;
    m.add("AuthenticationFailed", py.get_type::<AuthenticationFailed>())?;
    m.add("Forbidden", py.get_type::<Forbidden>())?;
    m.add("NotFound", py.get_type::<NotFound>())?;
    m.add("Conflict", py.get_type::<Conflict>())?;
    m.add("InvalidInput", py.get_type::<InvalidInput>())?;
    m.add("Unavailable", py.get_type::<Unavailable>())?;
    m.add("Timeout", py.get_type::<Timeout>())?;
    m.add("TlsError", py.get_type::<TlsError>())?;
    m.add("InvalidResponse", py.get_type::<InvalidResponse>())?;
    m.add("ConfigurationError", py.get_type::<ConfigurationError>())?;
    m.add_class::<InterruptedOperation>()?;
    Ok(())
}

/// An operation an outage interrupted, which continues in the background
/// (the services' `error.operation`): `name` (`subscribe`, `cancel`), the
/// `binding`'s alias (the subscriber's answers; empty in the publisher's),
/// the `subscription`'s id (the publisher's answers, else `None`), its
/// `state` (`provisioning`, `cancelling`), the `step` it stopped at and how
/// to `follow` it. Asking again is harmless.
#[pyclass(frozen, eq, hash, get_all, module = "mercador._native")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct InterruptedOperation {
    name: String,
    binding: String,
    subscription: Option<String>,
    state: String,
    step: String,
    follow: String,
}

#[pymethods]
impl InterruptedOperation {
    fn __repr__(&self) -> String {
        let Self { name, binding, subscription, state, step, follow } = self;
        let subscription = subscription.as_ref().map_or_else(|| "None".to_owned(), |s| format!("{s:?}"));
        format!(
            "InterruptedOperation(name={name:?}, binding={binding:?}, subscription={subscription}, state={state:?}, \
             step={step:?}, follow={follow:?})"
        )
    }

    /// The operation as a dict (`name`, `binding`, `subscription`, `state`,
    /// `step`, `follow`; `subscription` is `None` in the subscriber's answers).
    fn to_dict(&self) -> std::collections::BTreeMap<&'static str, Option<String>> {
        let Self { name, binding, subscription, state, step, follow } = self.clone();
        [
            ("name", Some(name)),
            ("binding", Some(binding)),
            ("subscription", subscription),
            ("state", Some(state)),
            ("step", Some(step)),
            ("follow", Some(follow)),
        ]
        .into()
    }
}

impl From<&mercador_core::client::InterruptedOperation> for InterruptedOperation {
    fn from(op: &mercador_core::client::InterruptedOperation) -> Self {
        Self {
            name: op.name.clone(),
            binding: op.binding.clone(),
            subscription: op.subscription.clone(),
            state: op.state.clone(),
            step: op.step.clone(),
            follow: op.follow.clone(),
        }
    }
}

/// What an error says of an outage: which dependency (`keystone_b`,
/// `database`...), how it fails (`unreachable`, `refusing`, `too_slow`),
/// the seconds to wait before retrying, and the operation it interrupted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct OutageInfo {
    pub(crate) dependency: Option<String>,
    pub(crate) outage: Option<String>,
    pub(crate) retry_after: Option<u32>,
    pub(crate) operation: Option<InterruptedOperation>,
}

impl OutageInfo {
    /// A classified outage: its dependency, kind and `Retry-After` (what a
    /// service would have answered for it).
    fn of_outage(outage: &Outage) -> Self {
        Self {
            dependency: Some(outage.dependency.as_str().to_owned()),
            outage: Some(outage.kind.as_str().to_owned()),
            retry_after: Some(outage.retry_after()),
            operation: None,
        }
    }

    /// A failure of the server a call talks to directly, when it is an
    /// outage (unreachable, timed out; a Keystone's 5xx): how it fails; which of
    /// Mercador's dependencies it is, is not known here.
    fn of_kind(kind: Option<OutageKind>) -> Self {
        Self { outage: kind.map(|k| k.as_str().to_owned()), ..Self::default() }
    }

    /// A core error (Keystone, K2K, configuration).
    pub(crate) fn of_core(e: &mercador_core::Error) -> Self {
        match e.outage() {
            Some(outage) => Self::of_outage(&outage),
            None => Self::of_kind(OutageKind::of(e.kind(), e.status())),
        }
    }

    /// An error of a Mercador service's client: what the service answered
    /// (its `dependency`, `outage`, `Retry-After` and `operation`), or the
    /// outage of the service (or Keystone) itself.
    pub(crate) fn of_client(e: &ClientError) -> Self {
        match e {
            ClientError::Service(answer) => Self {
                dependency: answer.dependency.clone(),
                outage: answer.outage.clone(),
                retry_after: answer.retry_after,
                operation: answer.operation.as_ref().map(InterruptedOperation::from),
            },
            ClientError::Keystone(e) | ClientError::NotInCatalog { source: e, .. } => Self::of_core(e),
            _ => Self::of_kind(OutageKind::of(e.kind(), e.status())),
        }
    }

    /// A store's error: the database unavailable is an outage of `database`.
    pub(crate) fn of_store(e: &StoreError) -> Self {
        match e {
            StoreError::Unavailable { kind, .. } => Self::of_outage(&Outage::new(Dependency::Database, *kind)),
            _ => Self::default(),
        }
    }
}

/// Any error of the core this module raises.
#[derive(Debug)]
pub(crate) enum CoreError {
    /// Keystone, K2K, configuration.
    Keystone(mercador_core::Error),
    /// A Mercador service.
    Client(ClientError),
}

impl From<mercador_core::Error> for CoreError {
    fn from(e: mercador_core::Error) -> Self {
        Self::Keystone(e)
    }
}

impl From<ClientError> for CoreError {
    fn from(e: ClientError) -> Self {
        Self::Client(e)
    }
}

impl From<std::convert::Infallible> for CoreError {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}

/// The exception of `kind` with `message`, and no outage.
pub(crate) fn new_error(
    py: Python<'_>,
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    code: Option<String>,
    fields: Vec<(String, String)>,
) -> PyErr {
    new_error_with(py, kind, message, status, code, fields, OutageInfo::default())
}

/// The exception of `kind` with `message` and what is known of an outage.
pub(crate) fn new_error_with(
    py: Python<'_>,
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    code: Option<String>,
    fields: Vec<(String, String)>,
    outage: OutageInfo,
) -> PyErr {
    let err = match kind {
        ErrorKind::AuthenticationFailed => AuthenticationFailed::new_err(message.clone()),
        ErrorKind::Forbidden => Forbidden::new_err(message.clone()),
        ErrorKind::NotFound => NotFound::new_err(message.clone()),
        ErrorKind::Conflict => Conflict::new_err(message.clone()),
        ErrorKind::InvalidInput => InvalidInput::new_err(message.clone()),
        ErrorKind::Unavailable => Unavailable::new_err(message.clone()),
        ErrorKind::Timeout => Timeout::new_err(message.clone()),
        ErrorKind::Tls => TlsError::new_err(message.clone()),
        ErrorKind::InvalidResponse => InvalidResponse::new_err(message.clone()),
        ErrorKind::Configuration => ConfigurationError::new_err(message.clone()),
        _ => MercadorError::new_err(message.clone()),
    };
    let value = err.value(py);
    // Attributes of the instance; setting them cannot fail on an exception object.
    let _ = value.setattr("message", message);
    let _ = value.setattr("status", status);
    let _ = value.setattr("kind", kind.as_str());
    let _ = value.setattr("code", code);
    let _ = value.setattr("field_errors", fields);
    let OutageInfo { dependency, outage, retry_after, operation } = outage;
    let _ = value.setattr("dependency", dependency);
    let _ = value.setattr("outage", outage);
    let _ = value.setattr("retry_after", retry_after);
    let operation = operation.and_then(|op| Py::new(py, op).ok());
    let _ = value.setattr("operation", operation);
    err
}

/// The Python exception of a core error.
pub(crate) fn to_pyerr(py: Python<'_>, e: CoreError) -> PyErr {
    match e {
        CoreError::Keystone(e) => {
            new_error_with(py, e.kind(), e.to_string(), e.status(), None, Vec::new(), OutageInfo::of_core(&e))
        }
        CoreError::Client(e) => {
            let fields = e.field_errors().iter().map(|f| (f.field.clone(), f.message.clone())).collect();
            let outage = OutageInfo::of_client(&e);
            new_error_with(py, e.kind(), e.to_string(), e.status(), e.code().map(str::to_owned), fields, outage)
        }
    }
}

/// An invalid argument.
pub(crate) fn invalid(py: Python<'_>, message: impl Into<String>) -> PyErr {
    new_error(py, ErrorKind::InvalidInput, message.into(), None, None, Vec::new())
}

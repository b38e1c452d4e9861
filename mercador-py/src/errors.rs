//! The exception hierarchy: `MercadorError` and one subclass per core
//! [`ErrorKind`], each instance carrying `message`, `status` (the HTTP
//! status, or `None`), `kind` (core's stable identifier), `code` (a Mercador
//! service's error code, or `None`) and `field_errors` (`[(field, message)]`).

use mercador_core::ErrorKind;
use mercador_core::client::ClientError;
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
    Ok(())
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

/// The exception of `kind` with `message`.
pub(crate) fn new_error(
    py: Python<'_>,
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    code: Option<String>,
    fields: Vec<(String, String)>,
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
    err
}

/// The Python exception of a core error.
pub(crate) fn to_pyerr(py: Python<'_>, e: CoreError) -> PyErr {
    match e {
        CoreError::Keystone(e) => new_error(py, e.kind(), e.to_string(), e.status(), None, Vec::new()),
        CoreError::Client(e) => {
            let fields = e.field_errors().iter().map(|f| (f.field.clone(), f.message.clone())).collect();
            new_error(py, e.kind(), e.to_string(), e.status(), e.code().map(str::to_owned), fields)
        }
    }
}

/// An invalid argument.
pub(crate) fn invalid(py: Python<'_>, message: impl Into<String>) -> PyErr {
    new_error(py, ErrorKind::InvalidInput, message.into(), None, None, Vec::new())
}

//! Result codes, the thread's last error (its message, HTTP status and
//! what is known of an outage: the dependency, how it fails, when to retry,
//! the operation it interrupted), and the guard every entry point runs its
//! body in.

use std::cell::RefCell;
use std::ffi::{CString, c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};

use mercador_core::ErrorKind;
use mercador_core::client::{ClientError, InterruptedOperation};
use mercador_core::outage::OutageKind;

/// What a call of the C ABI returns: `MERCADOR_RESULT_OK`, or why it
/// failed. Codes 1 to 10 are the core's error kinds (the HTTP status of
/// the failure, when there was one, is [`mercador_last_error_status`]);
/// codes from 100 are misuse of the ABI. The values are stable.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mercador_result {
    /// Success: the out-parameters are written.
    Ok = 0,
    /// Credentials or token refused (HTTP 401).
    AuthenticationFailed = 1,
    /// Authenticated, but not allowed (HTTP 403).
    Forbidden = 2,
    /// No such object, endpoint or service provider (HTTP 404).
    NotFound = 3,
    /// Already exists, or in a state that forbids the change (HTTP 409).
    Conflict = 4,
    /// A request refused as invalid (HTTP 400, 422), or an argument refused
    /// before anything was sent.
    InvalidInput = 5,
    /// A server could not be reached, or answered 5xx.
    Unavailable = 6,
    /// The call did not complete within the handle's timeout.
    Timeout = 7,
    /// The TLS handshake failed.
    Tls = 8,
    /// A server answered something that could not be understood.
    InvalidResponse = 9,
    /// The cloud configuration (clouds.yaml, auth JSON) is incomplete or wrong.
    Configuration = 10,
    /// A pointer argument that must not be NULL was NULL.
    NullParameter = 100,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 101,
    /// A JSON argument is not well-formed JSON, or not of the expected shape.
    InvalidJson = 102,
    /// A bug in the library: a panic was caught at the boundary. The handle
    /// stays usable, but please report the message.
    Panic = 103,
    /// An error kind this version of the ABI has no code for.
    Other = 199,
}

impl mercador_result {
    fn name(self) -> &'static std::ffi::CStr {
        match self {
            Self::Ok => c"ok",
            Self::AuthenticationFailed => c"authentication_failed",
            Self::Forbidden => c"forbidden",
            Self::NotFound => c"not_found",
            Self::Conflict => c"conflict",
            Self::InvalidInput => c"invalid_input",
            Self::Unavailable => c"unavailable",
            Self::Timeout => c"timeout",
            Self::Tls => c"tls",
            Self::InvalidResponse => c"invalid_response",
            Self::Configuration => c"configuration",
            Self::NullParameter => c"null_parameter",
            Self::InvalidUtf8 => c"invalid_utf8",
            Self::InvalidJson => c"invalid_json",
            Self::Panic => c"panic",
            Self::Other => c"other",
        }
    }
}

impl From<ErrorKind> for mercador_result {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::AuthenticationFailed => Self::AuthenticationFailed,
            ErrorKind::Forbidden => Self::Forbidden,
            ErrorKind::NotFound => Self::NotFound,
            ErrorKind::Conflict => Self::Conflict,
            ErrorKind::InvalidInput => Self::InvalidInput,
            ErrorKind::Unavailable => Self::Unavailable,
            ErrorKind::Timeout => Self::Timeout,
            ErrorKind::Tls => Self::Tls,
            ErrorKind::InvalidResponse => Self::InvalidResponse,
            ErrorKind::Configuration => Self::Configuration,
            _ => Self::Other,
        }
    }
}

/// A failed call: its code, message, HTTP status (0 when none) and what is
/// known of an outage.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: mercador_result,
    pub(crate) message: String,
    pub(crate) status: u16,
    /// Boxed: a `Result`'s error stays small.
    pub(crate) outage: Box<OutageInfo>,
}

/// What a failure says of an outage (docs/outages.md): which of Mercador's
/// dependencies (`keystone_b`, `database`...), how it fails
/// (`unreachable`, `refusing`, `too_slow`), the seconds to wait before
/// retrying, and the operation it interrupted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct OutageInfo {
    pub(crate) dependency: Option<String>,
    pub(crate) outage: Option<String>,
    pub(crate) retry_after: Option<u32>,
    pub(crate) operation: Option<InterruptedOperation>,
}

impl OutageInfo {
    /// A failure of the server a call talks to directly, when it is an
    /// outage (unreachable, timed out; a Keystone's 5xx): how it fails; which of
    /// Mercador's dependencies it is, is not known here.
    pub(crate) fn of_kind(kind: Option<OutageKind>) -> Self {
        Self { outage: kind.map(|k| k.as_str().to_owned()), ..Self::default() }
    }

    /// A core error (Keystone, K2K, configuration).
    fn of_core(e: &mercador_core::Error) -> Self {
        match e.outage() {
            Some(outage) => Self {
                dependency: Some(outage.dependency.as_str().to_owned()),
                outage: Some(outage.kind.as_str().to_owned()),
                retry_after: Some(outage.retry_after()),
                operation: None,
            },
            None => Self::of_kind(OutageKind::of(e.kind(), e.status())),
        }
    }

    /// An error of a Mercador service's client: what the service answered
    /// (its `dependency`, `outage`, `Retry-After` and `operation`), or the
    /// outage of the service (or Keystone) itself.
    fn of_client(e: &ClientError) -> Self {
        match e {
            ClientError::Service(answer) => Self {
                dependency: answer.dependency.clone(),
                outage: answer.outage.clone(),
                retry_after: answer.retry_after,
                operation: answer.operation.clone(),
            },
            ClientError::Keystone(e) | ClientError::NotInCatalog { source: e, .. } => Self::of_core(e),
            _ => Self::of_kind(OutageKind::of(e.kind(), e.status())),
        }
    }
}

impl Failure {
    pub(crate) fn new(code: mercador_result, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), status: 0, outage: Box::default() }
    }

    pub(crate) fn null(name: &str) -> Self {
        Self::new(mercador_result::NullParameter, format!("{name} is NULL"))
    }
}

impl From<mercador_core::Error> for Failure {
    fn from(e: mercador_core::Error) -> Self {
        let outage = Box::new(OutageInfo::of_core(&e));
        Self { code: e.kind().into(), status: e.status().unwrap_or(0), message: e.to_string(), outage }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        let outage = Box::new(OutageInfo::of_client(&e));
        Self { code: e.kind().into(), status: e.status().unwrap_or(0), message: e.to_string(), outage }
    }
}

pub(crate) type Outcome = Result<(), Failure>;

struct LastError {
    message: CString,
    status: u16,
    dependency: Option<CString>,
    outage: Option<CString>,
    retry_after: u32,
    /// name, binding, state, step, follow; and the subscription, if any.
    operation: Option<([CString; 5], Option<CString>)>,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

/// A C string of `s`. Messages and the services' fields never hold a NUL,
/// but never trust it.
fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

fn set_last_error(failure: &Failure) {
    let OutageInfo { dependency, outage, retry_after, operation } = &*failure.outage;
    let last = LastError {
        message: c_string(&failure.message),
        status: failure.status,
        dependency: dependency.as_deref().map(c_string),
        outage: outage.as_deref().map(c_string),
        retry_after: retry_after.unwrap_or(0),
        operation: operation.as_ref().map(|op| {
            let fields = [&op.name, &op.binding, &op.state, &op.step, &op.follow].map(|s| c_string(s));
            (fields, op.subscription.as_deref().map(c_string))
        }),
    };
    LAST_ERROR.with(|cell| *cell.borrow_mut() = Some(last));
}

/// A string of the thread's last error (`NULL` when none).
fn last_error_str(field: impl Fn(&LastError) -> Option<&CString>) -> *const c_char {
    LAST_ERROR.with(|last| match last.try_borrow() {
        Ok(last) => last.as_ref().and_then(field).map_or(std::ptr::null(), |s| s.as_ptr()),
        Err(_) => std::ptr::null(),
    })
}

/// Runs an entry point's body: clears the thread's last error, catches
/// panics, records the failure's message and returns its code.
pub(crate) fn guard(body: impl FnOnce() -> Outcome) -> mercador_result {
    LAST_ERROR.with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            *last = None;
        }
    });
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return mercador_result::Ok,
        Ok(Err(failure)) => failure,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Failure::new(mercador_result::Panic, format!("internal error (a bug, please report it): {what}"))
        }
    };
    set_last_error(&failure);
    failure.code
}

/// The stable name of a result code (`"ok"`, `"not_found"`...): a static
/// string, never freed. Takes an `int` (any value a C caller may hold);
/// unknown codes give `"unknown"`.
#[unsafe(no_mangle)]
pub extern "C" fn mercador_result_name(result: c_int) -> *const c_char {
    const ALL: [mercador_result; 16] = [
        mercador_result::Ok,
        mercador_result::AuthenticationFailed,
        mercador_result::Forbidden,
        mercador_result::NotFound,
        mercador_result::Conflict,
        mercador_result::InvalidInput,
        mercador_result::Unavailable,
        mercador_result::Timeout,
        mercador_result::Tls,
        mercador_result::InvalidResponse,
        mercador_result::Configuration,
        mercador_result::NullParameter,
        mercador_result::InvalidUtf8,
        mercador_result::InvalidJson,
        mercador_result::Panic,
        mercador_result::Other,
    ];
    ALL.iter().find(|r| **r as c_int == result).map_or(c"unknown".as_ptr(), |r| r.name().as_ptr())
}

/// The message of the last failed call on this thread (what failed, against
/// which endpoint, and what to do), or NULL when the last call succeeded.
/// The string belongs to the library: valid until the next call on this
/// thread of a function that returns a `mercador_result` (the `_free`
/// functions, [`mercador_result_name`] and the `mercador_last_error_*`
/// functions leave it); do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn mercador_last_error_message() -> *const c_char {
    last_error_str(|l| Some(&l.message))
}

/// The HTTP status of the last failed call on this thread (401, 404...),
/// or 0 when it had none (an unreachable server, misuse) or succeeded.
#[unsafe(no_mangle)]
pub extern "C" fn mercador_last_error_status() -> u16 {
    LAST_ERROR.with(|last| last.try_borrow().ok().and_then(|l| l.as_ref().map(|l| l.status)).unwrap_or(0))
}

/// Which of Mercador's dependencies the last failed call on this thread
/// found down, when known: `"keystone_a"`, `"keystone_b"`,
/// `"shibboleth_sp"`, `"publisher"` or `"database"` (a service's 503 names
/// it, `docs/outages.md`); NULL otherwise: no outage, a success, or an
/// outage of the server the call talks to directly (then
/// [`mercador_last_error_outage`] says how it fails and the message names
/// its URL). Owned by the library, valid as long as
/// [`mercador_last_error_message`]'s string; do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn mercador_last_error_dependency() -> *const c_char {
    last_error_str(|l| l.dependency.as_ref())
}

/// How the outage behind the last failed call on this thread fails:
/// `"unreachable"` (connection refused or reset, TLS), `"refusing"` (it
/// answers 5xx) or `"too_slow"` (no answer in time, including the handle's
/// timeout); NULL when the failure is not an outage, or after a success.
/// Owned by the library, valid as long as
/// [`mercador_last_error_message`]'s string; do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn mercador_last_error_outage() -> *const c_char {
    last_error_str(|l| l.outage.as_ref())
}

/// The seconds to wait before retrying the last failed call on this
/// thread: the service's `Retry-After` (a 503 for an outage); 0 when it
/// gave none, or after a success. Retrying is harmless: every operation
/// of the services is idempotent and resumable.
#[unsafe(no_mangle)]
pub extern "C" fn mercador_last_error_retry_after() -> u32 {
    LAST_ERROR.with(|last| last.try_borrow().ok().and_then(|l| l.as_ref().map(|l| l.retry_after)).unwrap_or(0))
}

/// An operation an outage interrupted, which continues in the background
/// (see [`mercador_last_error_operation`]). The strings belong to the
/// library and live as long as [`mercador_last_error_message`]'s: copy
/// them to keep them; never free them.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mercador_interrupted_operation {
    /// `"subscribe"` or `"cancel"`.
    pub name: *const c_char,
    /// The binding's alias (the subscriber's answers; `""` in the publisher's).
    pub binding: *const c_char,
    /// The subscription's id (the publisher's answers); NULL in the subscriber's.
    pub subscription: *const c_char,
    /// Its state: `"provisioning"`, `"cancelling"`.
    pub state: *const c_char,
    /// The step it stopped at (`"remote_subscribe"`...).
    pub step: *const c_char,
    /// How to follow it: `mercador binding show <alias> (GET /v1/bindings/<alias>)`.
    pub follow: *const c_char,
}

/// When the last failed call on this thread was a subscribe or cancel that
/// an outage interrupted and that continues in the background (the
/// subscriber service's `error.operation`): writes it to `*out` and
/// returns true; asking again later is harmless. Otherwise (no such
/// operation, a success, `out` NULL) returns false and leaves `*out`
/// unchanged.
///
/// # Safety
/// `out` is NULL or valid for writing one `mercador_interrupted_operation`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_last_error_operation(out: *mut mercador_interrupted_operation) -> bool {
    LAST_ERROR.with(|last| {
        let Ok(last) = last.try_borrow() else { return false };
        let Some(([name, binding, state, step, follow], subscription)) =
            last.as_ref().and_then(|l| l.operation.as_ref())
        else {
            return false;
        };
        // SAFETY: NULL or valid for writes, by the caller's contract.
        let Some(out) = (unsafe { out.as_mut() }) else { return false };
        *out = mercador_interrupted_operation {
            name: name.as_ptr(),
            binding: binding.as_ptr(),
            subscription: subscription.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            state: state.as_ptr(),
            step: step.as_ptr(),
            follow: follow.as_ptr(),
        };
        true
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::ffi::CStr;

    use mercador_core::client::ServiceError;

    use super::*;

    fn text(p: *const c_char) -> Option<String> {
        // SAFETY: NULL or a string of the thread's last error, alive until the next guarded call.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned())
    }

    fn answer(operation: Option<InterruptedOperation>) -> ClientError {
        ClientError::Service(Box::new(ServiceError {
            kind: ErrorKind::Unavailable,
            method: reqwest::Method::DELETE,
            url: "http://a:8781/v1/bindings/lisbon-b".into(),
            status: 503,
            code: "keystone_unavailable".into(),
            title: "Keystone unavailable".into(),
            message: "Keystone B is too slow".into(),
            errors: Vec::new(),
            request_id: None,
            dependency: Some("keystone_b".into()),
            outage: Some("too_slow".into()),
            retry_after: Some(15),
            operation,
        }))
    }

    /// An interrupted cancel, as the subscriber answers it
    /// (mercador-server/tests/outages.rs provokes it on the services; the
    /// C tests provoke an interrupted subscribe through this ABI).
    #[test]
    fn an_interrupted_operation_reaches_the_last_error() {
        let op = InterruptedOperation {
            name: "cancel".into(),
            binding: "lisbon-b".into(),
            subscription: None,
            state: "cancelling".into(),
            step: "cancel_remote".into(),
            follow: "mercador binding show lisbon-b (GET /v1/bindings/lisbon-b)".into(),
        };
        let result = guard(|| Err(answer(Some(op)).into()));
        assert_eq!(result, mercador_result::Unavailable);
        assert_eq!(mercador_last_error_status(), 503);
        assert_eq!(text(mercador_last_error_dependency()).as_deref(), Some("keystone_b"));
        assert_eq!(text(mercador_last_error_outage()).as_deref(), Some("too_slow"));
        assert_eq!(mercador_last_error_retry_after(), 15);
        let null = std::ptr::null();
        let mut out = mercador_interrupted_operation {
            name: null,
            binding: null,
            subscription: null,
            state: null,
            step: null,
            follow: null,
        };
        // SAFETY: a valid out-parameter.
        assert!(unsafe { mercador_last_error_operation(&mut out) });
        let fields = [out.name, out.binding, out.state, out.step].map(|p| text(p).unwrap());
        assert_eq!(fields, ["cancel", "lisbon-b", "cancelling", "cancel_remote"]);
        assert!(text(out.follow).unwrap().starts_with("mercador binding show lisbon-b"));
        assert!(out.subscription.is_null(), "the subscriber's answer has no subscription id");
        // SAFETY: NULL is allowed.
        assert!(!unsafe { mercador_last_error_operation(std::ptr::null_mut()) });

        // Without an operation; then a success clears it all.
        assert_eq!(guard(|| Err(answer(None).into())), mercador_result::Unavailable);
        // SAFETY: a valid out-parameter.
        assert!(!unsafe { mercador_last_error_operation(&mut out) });
        assert_eq!(text(mercador_last_error_dependency()).as_deref(), Some("keystone_b"));
        assert_eq!(guard(|| Ok(())), mercador_result::Ok);
        assert!(mercador_last_error_dependency().is_null() && mercador_last_error_outage().is_null());
        assert_eq!(mercador_last_error_retry_after(), 0);
        // SAFETY: a valid out-parameter.
        assert!(!unsafe { mercador_last_error_operation(&mut out) });
    }

    /// A K2K login that B's SAML SP refused to serve (shibd down):
    /// `mercador_core::Error::outage()` names the SP (the real one is
    /// provoked in mercador-server/tests/outages_saml_sp.rs).
    #[test]
    fn a_k2k_login_through_a_downed_saml_sp_names_it() {
        let e = mercador_core::Error::SamlServiceProvider {
            kind: ErrorKind::Unavailable,
            outage: mercador_core::outage::OutageKind::Refusing,
            message: "the SAML service provider cannot reach shibd".into(),
        };
        assert_eq!(guard(|| Err(e.into())), mercador_result::Unavailable);
        assert_eq!(text(mercador_last_error_dependency()).as_deref(), Some("shibboleth_sp"));
        assert_eq!(text(mercador_last_error_outage()).as_deref(), Some("refusing"));
        assert_eq!(mercador_last_error_retry_after(), 5);
    }

    #[test]
    fn failures_that_are_not_outages_have_none() {
        let e = mercador_core::Error::InvalidInput("no".into());
        assert_eq!(guard(|| Err(e.into())), mercador_result::InvalidInput);
        assert!(mercador_last_error_outage().is_null() && mercador_last_error_dependency().is_null());
        let transport = ClientError::Transport {
            kind: ErrorKind::Timeout,
            method: reqwest::Method::GET,
            url: "http://b:8780/v1/admin/vregions".into(),
            reason: "operation timed out".into(),
        };
        assert_eq!(guard(|| Err(transport.into())), mercador_result::Timeout);
        assert_eq!(text(mercador_last_error_outage()).as_deref(), Some("too_slow"));
        assert!(mercador_last_error_dependency().is_null());
    }
}

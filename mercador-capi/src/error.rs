//! Result codes, the thread's last error, and the guard every entry point
//! runs its body in.

use std::cell::RefCell;
use std::ffi::{CString, c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};

use mercador_core::ErrorKind;
use mercador_core::client::ClientError;

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

/// A failed call: its code, message and HTTP status (0 when none).
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: mercador_result,
    pub(crate) message: String,
    pub(crate) status: u16,
}

impl Failure {
    pub(crate) fn new(code: mercador_result, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), status: 0 }
    }

    pub(crate) fn null(name: &str) -> Self {
        Self::new(mercador_result::NullParameter, format!("{name} is NULL"))
    }
}

impl From<mercador_core::Error> for Failure {
    fn from(e: mercador_core::Error) -> Self {
        Self { code: e.kind().into(), status: e.status().unwrap_or(0), message: e.to_string() }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Self { code: e.kind().into(), status: e.status().unwrap_or(0), message: e.to_string() }
    }
}

pub(crate) type Outcome = Result<(), Failure>;

struct LastError {
    message: CString,
    status: u16,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

fn set_last_error(failure: &Failure) {
    // A message never holds a NUL (they come from Display), but never trust it.
    let message = CString::new(failure.message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|last| *last.borrow_mut() = Some(LastError { message, status: failure.status }));
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
/// functions, [`mercador_result_name`] and this one leave it); do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn mercador_last_error_message() -> *const c_char {
    LAST_ERROR.with(|last| match last.try_borrow() {
        Ok(last) => last.as_ref().map_or(std::ptr::null(), |l| l.message.as_ptr()),
        Err(_) => std::ptr::null(),
    })
}

/// The HTTP status of the last failed call on this thread (401, 404...),
/// or 0 when it had none (an unreachable server, misuse) or succeeded.
#[unsafe(no_mangle)]
pub extern "C" fn mercador_last_error_status() -> u16 {
    LAST_ERROR.with(|last| last.try_borrow().ok().and_then(|l| l.as_ref().map(|l| l.status)).unwrap_or(0))
}

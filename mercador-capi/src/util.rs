//! Pointer checks, strings handed out, the shared runtime, and the small
//! helpers of the ABI (`mercador_string_free`, `mercador_json_get`,
//! `mercador_version`).

use std::ffi::{CStr, CString, c_char};
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use zeroize::Zeroize as _;

use mercador_core::outage::OutageKind;

use crate::error::{Failure, OutageInfo, Outcome, guard, mercador_result};

/// A `&str` from a C string argument; NULL and invalid UTF-8 are errors.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: non-NULL, and NUL-terminated by the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|e| {
        Failure::new(
            mercador_result::InvalidUtf8,
            format!("{name} is not valid UTF-8 (invalid byte at offset {})", e.valid_up_to()),
        )
    })
}

/// Like [`str_arg`], NULL meaning "not given".
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>, Failure> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: as the caller's.
    unsafe { str_arg(p, name) }.map(Some)
}

/// A JSON argument: a C string holding JSON.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn json_arg(p: *const c_char, name: &str) -> Result<Value, Failure> {
    // SAFETY: as the caller's.
    let text = unsafe { str_arg(p, name) }?;
    // The parser's message names a line and column, never the content (secrets may be in it).
    serde_json::from_str(text).map_err(|e| {
        Failure::new(
            mercador_result::InvalidJson,
            format!("{name} is not well-formed JSON (line {}, column {}: {:?})", e.line(), e.column(), e.classify()),
        )
    })
}

/// A shared reference to a handle; NULL is an error.
///
/// # Safety
/// `p` is NULL or a live handle made by this library, not freed before `'a`.
pub(crate) unsafe fn handle<'a, T>(p: *const T, name: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller's contract.
    unsafe { p.as_ref() }.ok_or_else(|| Failure::null(name))
}

/// An out-parameter; NULL is an error. Checked before any work is done.
///
/// # Safety
/// `p` is NULL or valid for writes until `'a`.
pub(crate) unsafe fn out_arg<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: the caller's contract.
    unsafe { p.as_mut() }.ok_or_else(|| Failure::null(name))
}

/// A string for C, released by [`mercador_string_free`]: one allocation,
/// the only copy (a token copied here is zeroed when C frees it; no
/// intermediate buffer is left behind).
pub(crate) fn c_string(s: &str) -> Result<*mut c_char, Failure> {
    let mut bytes = Vec::with_capacity(s.len() + 1);
    bytes.extend_from_slice(s.as_bytes());
    CString::new(bytes)
        .map(CString::into_raw)
        .map_err(|_| Failure::new(mercador_result::InvalidResponse, "a string to return holds a NUL byte"))
}

/// Writes `value` as JSON text to an out-parameter.
pub(crate) fn write_json(out: &mut *mut c_char, value: &impl Serialize) -> Outcome {
    let text = serde_json::to_string(value)
        .map_err(|e| Failure::new(mercador_result::InvalidResponse, format!("cannot write JSON: {e}")))?;
    *out = c_string(&text)?;
    Ok(())
}

/// The runtime every blocking call runs on (created on first use; two
/// worker threads: the calls wait on the network, not the CPU).
fn runtime() -> Result<&'static tokio::runtime::Runtime, Failure> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("mercador")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Failure::new(mercador_result::Unavailable, format!("cannot start the I/O runtime: {e}")))
}

/// Runs `work` on the shared runtime, blocking the calling thread at most
/// `timeout`.
pub(crate) fn block_on<T, E>(timeout: Duration, work: impl Future<Output = Result<T, E>>) -> Result<T, Failure>
where
    Failure: From<E>,
{
    let runtime = runtime()?;
    match runtime.block_on(async { tokio::time::timeout(timeout, work).await }) {
        Ok(result) => result.map_err(Failure::from),
        Err(_) => {
            let mut failure = Failure::new(
                mercador_result::Timeout,
                format!(
                    "the call did not complete within {} ms (the handle's timeout: mercador_cloud_set_timeout_ms)",
                    timeout.as_millis()
                ),
            );
            failure.outage = Box::new(OutageInfo::of_kind(Some(OutageKind::TooSlow)));
            Err(failure)
        }
    }
}

/// Releases a string this library handed out (tokens, JSON documents,
/// URLs), after overwriting it with zeros: tokens and secrets do not linger
/// in freed memory. `NULL` does nothing. Never pass a string of another
/// allocator, nor the same string twice.
///
/// # Safety
/// `s` is NULL or a string returned by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: made by CString::into_raw in c_string, not freed yet (the caller's contract).
        let owned = unsafe { CString::from_raw(s) };
        owned.into_bytes_with_nul().zeroize();
    }));
}

/// The library's version (`"0.1.0"`): a static string, never freed.
#[unsafe(no_mangle)]
pub extern "C" fn mercador_version() -> *const c_char {
    static VERSION: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => c"unknown",
    };
    VERSION.as_ptr()
}

/// Reads one value of a JSON document, for C programs without a JSON
/// parser: `pointer` is a JSON pointer (RFC 6901, e.g. `"/expires_at"`,
/// `"/0/name"`, `""` for the whole document). A string value is written
/// without quotes; any other value as JSON text (`42`, `true`, `null`,
/// `{"a":1}`). `MERCADOR_RESULT_NOT_FOUND` when the pointer leads nowhere,
/// `MERCADOR_RESULT_INVALID_JSON` when `json` is not JSON.
///
/// # Safety
/// `json` and `pointer` are NULL or NUL-terminated strings; `out` is NULL
/// or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_json_get(
    json: *const c_char,
    pointer: *const c_char,
    out: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (document, pointer, out) =
            unsafe { (json_arg(json, "json")?, str_arg(pointer, "pointer")?, out_arg(out, "out")?) };
        let value = document.pointer(pointer).ok_or_else(|| {
            Failure::new(mercador_result::NotFound, format!("the JSON document has no value at {pointer:?}"))
        })?;
        *out = match value {
            Value::String(s) => c_string(s)?,
            other => c_string(&other.to_string())?,
        };
        Ok(())
    })
}

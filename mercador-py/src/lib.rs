//! `mercador._native`: the Python bindings of `mercador-core`, behind the
//! pure-Python package `mercador` (pydantic-core's layout: this private
//! module, a facade, `py.typed` and a `.pyi` stub checked by
//! `mypy.stubtest`).
//!
//! - Every network call runs on one tokio runtime per process
//!   ([`runtime`]), created lazily and again in a forked child (uWSGI and
//!   mod_wsgi fork their workers after import), with the GIL released
//!   (`Python::detach`), so other Python threads run meanwhile.
//! - Objects hold `Arc`s to core's thread-safe sessions: any thread may use
//!   them at once. A session made before a `fork` is made again in the
//!   child from the same configuration (its connections belong to the
//!   parent).
//! - Errors become `mercador.MercadorError` subclasses, one per
//!   [`ErrorKind`](mercador_core::ErrorKind) ([`errors`]), with the message
//!   and the HTTP status.
//! - No `repr` shows a secret.
//!
//! The crate writes no `unsafe` code (the workspace forbids it): pyo3's
//! macros expand to safe code, and its own `unsafe` lives in pyo3.

mod clients;
mod cloud;
mod convert;
mod errors;
mod runtime;
mod store;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<cloud::Cloud>()?;
    m.add_class::<cloud::Token>()?;
    m.add_class::<cloud::ServiceProviderSession>()?;
    m.add_class::<cloud::MultiCloud>()?;
    m.add_class::<clients::PublisherAdminClient>()?;
    m.add_class::<clients::ExchangeClient>()?;
    m.add_class::<clients::SubscriberClient>()?;
    m.add_class::<store::Store>()?;
    m.add_function(wrap_pyfunction!(clients::validate_vregion_spec, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::runtime_pid, m)?)?;
    m.add_function(wrap_pyfunction!(cloud::_bench_fresh_k2k, m)?)?;
    m.add_function(wrap_pyfunction!(cloud::_bench_cached_token, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

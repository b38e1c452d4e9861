//! One tokio runtime per process, created at first use and again after a
//! `fork` (the child has none of the parent's worker threads: the parent's
//! runtime is leaked in the child, never dropped, since dropping it would
//! wait for threads that do not exist there).

use std::future::Future;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors::to_pyerr;

static RUNTIME: Mutex<Option<(u32, Arc<Runtime>)>> = Mutex::new(None);

/// The runtime of this process.
pub(crate) fn runtime() -> PyResult<Arc<Runtime>> {
    let pid = std::process::id();
    let mut guard = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((owner, rt)) = guard.as_ref() {
        if *owner == pid {
            return Ok(rt.clone());
        }
    }
    if let Some((_, inherited)) = guard.take() {
        std::mem::forget(inherited); // the parent's: its threads are not in this process
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("mercador-rt")
        .enable_all()
        .build()
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("cannot start the tokio runtime: {e}")))?;
    let rt = Arc::new(rt);
    *guard = Some((pid, rt.clone()));
    Ok(rt)
}

/// Runs `work` on the runtime with the GIL released; core's errors become
/// Python exceptions.
pub(crate) fn block_on<F, T, E>(py: Python<'_>, work: F) -> PyResult<T>
where
    F: Future<Output = Result<T, E>> + Send,
    T: Send,
    E: Into<crate::errors::CoreError> + Send,
{
    let rt = runtime()?;
    let result = py.detach(move || rt.block_on(work));
    result.map_err(|e| to_pyerr(py, e.into()))
}

/// The pid that owns the current runtime (for tests of fork safety), or
/// `None` before first use.
#[pyfunction]
pub(crate) fn runtime_pid() -> Option<u32> {
    RUNTIME.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|(pid, _)| *pid)
}

/// The current process id, to compare with what an object was made in.
pub(crate) fn pid() -> u32 {
    std::process::id()
}

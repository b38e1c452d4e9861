//! Read-only views of the services' stores, for what runs in-process next
//! to them (the Keystone catalog driver on B reads the vregions, the
//! Horizon panel on A the bindings): the same database the service uses
//! (SQLite file or PostgreSQL), never written through here.

use std::sync::Arc;

use mercador_core::ErrorKind;
use mercador_core::model::Name;
use mercador_core::store::{BindingFilter, PublisherStore, SqlStore, StoreError, SubscriberStore};
use pyo3::prelude::*;
use serde_json::{Value, json};

use crate::convert::to_py;
use crate::errors::{OutageInfo, new_error_with};

fn store_error(py: Python<'_>, e: StoreError) -> PyErr {
    let kind = match &e {
        StoreError::Duplicate { .. } | StoreError::Stale { .. } => ErrorKind::Conflict,
        StoreError::Missing { .. } => ErrorKind::NotFound,
        StoreError::Database(_) | StoreError::Unavailable { .. } => ErrorKind::Unavailable,
        _ => ErrorKind::InvalidResponse,
    };
    let outage = OutageInfo::of_store(&e);
    new_error_with(py, kind, e.to_string(), None, None, Vec::new(), outage)
}

/// A service's store, read-only: `Store.connect("sqlite:///var/lib/mercador/publisher.db")`.
#[pyclass(frozen, module = "mercador._native")]
pub(crate) struct Store {
    inner: Arc<SqlStore>,
    backend: &'static str,
}

fn vregion_json(record: &mercador_core::store::VRegionRecord) -> Value {
    let mut value = serde_json::to_value(&record.spec).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("id".into(), json!(record.id));
        map.insert("state".into(), json!(record.state));
        map.insert("domain_id".into(), json!(record.domain_id));
        map.insert("created_at".into(), json!(record.created_at));
        map.insert("updated_at".into(), json!(record.updated_at));
    }
    value
}

fn binding_json(record: &mercador_core::store::BindingRecord) -> Value {
    json!({
        "id": record.id,
        "alias": record.alias,
        "publisher": record.publisher,
        "vregion": record.vregion,
        "state": record.state,
        "remote_region": record.remote_region,
        "sp_auth_url": record.sp_auth_url,
        "sp_url": record.sp_url,
        "service_provider": format!("mercador-{}", record.alias.as_str()),
        "services": record.services,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    })
}

#[pymethods]
impl Store {
    /// Opens the database at `url` (`sqlite:///path.db`, `postgres://...`).
    #[staticmethod]
    fn connect(py: Python<'_>, url: String) -> PyResult<Self> {
        let rt = crate::runtime::runtime()?;
        let store = py.detach(move || rt.block_on(SqlStore::connect(&url))).map_err(|e| store_error(py, e))?;
        let backend = store.backend();
        Ok(Self { inner: Arc::new(store), backend })
    }

    /// The vregions a publisher's store holds (spec fields, `id`, `state`, `domain_id`, times).
    fn vregions(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let store = self.inner.clone();
        let rt = crate::runtime::runtime()?;
        let records = py.detach(move || rt.block_on(async move { store.list_vregions().await }));
        let records = records.map_err(|e| store_error(py, e))?;
        to_py(py, &Value::Array(records.iter().map(vregion_json).collect()))
    }

    /// One vregion by name, or `None`.
    fn vregion(&self, py: Python<'_>, name: String) -> PyResult<Option<Py<PyAny>>> {
        let name = Name::parse("name", &name).map_err(|e| crate::errors::invalid(py, e.to_string()))?;
        let store = self.inner.clone();
        let rt = crate::runtime::runtime()?;
        let record = py.detach(move || rt.block_on(async move { store.get_vregion(&name).await }));
        record.map_err(|e| store_error(py, e))?.map(|r| to_py(py, &vregion_json(&r))).transpose()
    }

    /// The bindings a subscriber's store holds (never the sealed admin password).
    fn bindings(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let store = self.inner.clone();
        let rt = crate::runtime::runtime()?;
        let records =
            py.detach(move || rt.block_on(async move { store.list_bindings(&BindingFilter::default()).await }));
        let records = records.map_err(|e| store_error(py, e))?;
        to_py(py, &Value::Array(records.iter().map(binding_json).collect()))
    }

    /// Closes the database's connections (the object is unusable afterwards).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let store = self.inner.clone();
        let rt = crate::runtime::runtime()?;
        py.detach(move || rt.block_on(async move { store.close().await }));
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!("Store(backend={:?})", self.backend)
    }
}

//! The Mercador services' clients (`mercador_core::client`) and the vregion
//! spec validator. Answers are the services' JSON documents as Python
//! dicts; the facade (`mercador/__init__.py`) wraps them in typed classes.

use std::sync::{Arc, Mutex};

use mercador_core::ErrorKind;
use mercador_core::client::{self as core_client, NewPublisher, SubscribeRequest};
use mercador_core::model::VRegionSpec;
use pyo3::prelude::*;
use secrecy::SecretString;
use serde_json::Value;
use url::Url;

use crate::cloud::Home;
use crate::convert::{from_py, list_to_py, to_py};
use crate::errors::new_error;
use crate::runtime::{block_on, pid};

fn parse_url(py: Python<'_>, url: Option<String>) -> PyResult<Option<Url>> {
    url.map(|u| Url::parse(&u).map_err(|e| crate::errors::invalid(py, format!("url {u:?}: {e}")))).transpose()
}

/// A face client made per process (a fork's child makes its own).
struct PerProcess<C> {
    home: Arc<Home>,
    url: Option<Url>,
    state: Mutex<Option<(u32, C)>>,
}

impl<C: Clone + Send + 'static> PerProcess<C> {
    fn get<F, Fut>(&self, py: Python<'_>, connect: F) -> PyResult<C>
    where
        F: FnOnce(Arc<mercador_core::keystone::Session>, Option<Url>) -> Fut + Send,
        Fut: Future<Output = core_client::ClientResult<C>> + Send,
    {
        {
            let guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((owner, client)) = guard.as_ref() {
                if *owner == pid() {
                    return Ok(client.clone());
                }
            }
        }
        let session = self.home.session(py)?;
        let url = self.url.clone();
        let client = block_on(py, async move { connect(session, url).await })?;
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some((pid(), client.clone()));
        Ok(client)
    }

    fn base_url(&self) -> String {
        self.url.as_ref().map_or_else(|| "<catalog>".to_owned(), Url::to_string)
    }
}

macro_rules! call {
    ($self:ident, $py:ident, |$c:ident| $body:expr) => {{
        let $c = $self.client($py)?;
        block_on($py, async move { $body.await })
    }};
}

/// The publisher's admin face (`/v1/admin`).
#[pyclass(frozen, module = "mercador._native")]
pub(crate) struct PublisherAdminClient {
    inner: PerProcess<core_client::PublisherAdminClient>,
}

impl PublisherAdminClient {
    pub(crate) fn connect(py: Python<'_>, home: Arc<Home>, url: Option<String>) -> PyResult<Self> {
        let this = Self { inner: PerProcess { home, url: parse_url(py, url)?, state: Mutex::new(None) } };
        this.client(py)?;
        Ok(this)
    }

    fn client(&self, py: Python<'_>) -> PyResult<core_client::PublisherAdminClient> {
        self.inner.get(py, |s, u| async move { core_client::PublisherAdminClient::connect(s, u.as_ref()).await })
    }
}

#[pymethods]
impl PublisherAdminClient {
    /// The face's base URL.
    #[getter]
    fn base_url(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.client(py)?.api().base_url().to_string())
    }

    fn list_vregions(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        list_to_py(py, &call!(self, py, |c| c.list_vregions())?)
    }

    fn get_vregion(&self, py: Python<'_>, name: String) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.get_vregion(&name))?)
    }

    fn create_vregion(&self, py: Python<'_>, spec: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let spec = from_py(spec)?;
        to_py(py, &call!(self, py, |c| c.create_vregion(&spec))?)
    }

    fn replace_vregion(&self, py: Python<'_>, name: String, spec: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let spec = from_py(spec)?;
        to_py(py, &call!(self, py, |c| c.replace_vregion(&name, &spec))?)
    }

    #[pyo3(signature = (name, *, purge=false))]
    fn delete_vregion(&self, py: Python<'_>, name: String, purge: bool) -> PyResult<()> {
        call!(self, py, |c| c.delete_vregion(&name, purge))
    }

    #[pyo3(signature = (name, *, adopt_domain=false))]
    fn publish_vregion(&self, py: Python<'_>, name: String, adopt_domain: bool) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.publish_vregion(&name, adopt_domain))?)
    }

    fn withdraw_vregion(&self, py: Python<'_>, name: String) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.withdraw_vregion(&name))?)
    }

    fn list_partners(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        list_to_py(py, &call!(self, py, |c| c.list_partners())?)
    }

    fn get_partner(&self, py: Python<'_>, name: String) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.get_partner(&name))?)
    }

    #[pyo3(signature = (name, *, description=String::new()))]
    fn onboard_partner(&self, py: Python<'_>, name: String, description: String) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.onboard_partner(&name, &description))?)
    }

    fn remove_partner(&self, py: Python<'_>, name: String) -> PyResult<()> {
        call!(self, py, |c| c.remove_partner(&name))
    }

    #[pyo3(signature = (*, partner=None))]
    fn list_subscriptions(&self, py: Python<'_>, partner: Option<String>) -> PyResult<Py<PyAny>> {
        list_to_py(py, &call!(self, py, |c| c.list_subscriptions(partner.as_deref()))?)
    }

    fn get_subscription(&self, py: Python<'_>, id: String) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.get_subscription(&id))?)
    }

    #[pyo3(signature = (id, *, purge=false))]
    fn revoke_subscription(&self, py: Python<'_>, id: String, purge: bool) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.revoke_subscription(&id, purge))?)
    }

    fn reconcile(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.reconcile())?)
    }

    fn __repr__(&self) -> String {
        format!("PublisherAdminClient(url={:?})", self.inner.base_url())
    }
}

/// The publisher's partner face (`/v1/exchange`).
#[pyclass(frozen, module = "mercador._native")]
pub(crate) struct ExchangeClient {
    inner: PerProcess<core_client::ExchangeClient>,
}

impl ExchangeClient {
    pub(crate) fn connect(py: Python<'_>, home: Arc<Home>, url: Option<String>) -> PyResult<Self> {
        let this = Self { inner: PerProcess { home, url: parse_url(py, url)?, state: Mutex::new(None) } };
        this.client(py)?;
        Ok(this)
    }

    fn client(&self, py: Python<'_>) -> PyResult<core_client::ExchangeClient> {
        self.inner.get(py, |s, u| async move { core_client::ExchangeClient::connect(s, u.as_ref()).await })
    }
}

#[pymethods]
impl ExchangeClient {
    /// The face's base URL.
    #[getter]
    fn base_url(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.client(py)?.api().base_url().to_string())
    }

    fn list_offers(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        list_to_py(py, &call!(self, py, |c| c.list_offers())?)
    }

    #[pyo3(signature = (vregion, *, entity_id, metadata=None, metadata_url=None, keystone_url=None))]
    fn subscribe(
        &self,
        py: Python<'_>,
        vregion: String,
        entity_id: String,
        metadata: Option<String>,
        metadata_url: Option<String>,
        keystone_url: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let request = SubscribeRequest { vregion, entity_id, metadata, metadata_url, keystone_url };
        to_py(py, &call!(self, py, |c| c.subscribe(&request))?)
    }

    fn list_subscriptions(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        list_to_py(py, &call!(self, py, |c| c.list_subscriptions())?)
    }

    fn get_subscription(&self, py: Python<'_>, id: String) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.get_subscription(&id))?)
    }

    fn refresh_subscription(&self, py: Python<'_>, id: String) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.refresh_subscription(&id))?)
    }

    fn cancel_subscription(&self, py: Python<'_>, id: String) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.cancel_subscription(&id))?)
    }

    fn __repr__(&self) -> String {
        format!("ExchangeClient(url={:?})", self.inner.base_url())
    }
}

/// The subscriber service (`/v1`).
#[pyclass(frozen, module = "mercador._native")]
pub(crate) struct SubscriberClient {
    inner: PerProcess<core_client::SubscriberClient>,
}

impl SubscriberClient {
    pub(crate) fn connect(py: Python<'_>, home: Arc<Home>, url: Option<String>) -> PyResult<Self> {
        let this = Self { inner: PerProcess { home, url: parse_url(py, url)?, state: Mutex::new(None) } };
        this.client(py)?;
        Ok(this)
    }

    fn client(&self, py: Python<'_>) -> PyResult<core_client::SubscriberClient> {
        self.inner.get(py, |s, u| async move { core_client::SubscriberClient::connect(s, u.as_ref()).await })
    }
}

#[pymethods]
impl SubscriberClient {
    /// The service's base URL.
    #[getter]
    fn base_url(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.client(py)?.api().base_url().to_string())
    }

    #[pyo3(signature = (name, *, keystone_url, application_credential_id, application_credential_secret, exchange_url=None))]
    fn register_publisher(
        &self,
        py: Python<'_>,
        name: String,
        keystone_url: String,
        application_credential_id: String,
        application_credential_secret: String,
        exchange_url: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let publisher = NewPublisher {
            name,
            keystone_url,
            application_credential_id,
            application_credential_secret: SecretString::from(application_credential_secret),
            exchange_url,
        };
        to_py(py, &call!(self, py, |c| c.register_publisher(&publisher))?)
    }

    fn list_publishers(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        list_to_py(py, &call!(self, py, |c| c.list_publishers())?)
    }

    fn get_publisher(&self, py: Python<'_>, name: String) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.get_publisher(&name))?)
    }

    fn remove_publisher(&self, py: Python<'_>, name: String) -> PyResult<()> {
        call!(self, py, |c| c.remove_publisher(&name))
    }

    fn discover(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.discover())?)
    }

    fn bind(&self, py: Python<'_>, publisher: String, vregion: String, alias: String) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.bind(&publisher, &vregion, &alias))?)
    }

    #[pyo3(signature = (*, publisher=None))]
    fn list_bindings(&self, py: Python<'_>, publisher: Option<String>) -> PyResult<Py<PyAny>> {
        list_to_py(py, &call!(self, py, |c| c.list_bindings(publisher.as_deref()))?)
    }

    fn get_binding(&self, py: Python<'_>, alias: String) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.get_binding(&alias))?)
    }

    fn refresh_binding(&self, py: Python<'_>, alias: String) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.refresh_binding(&alias))?)
    }

    fn refresh_all(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.refresh_all())?)
    }

    #[pyo3(signature = (alias, *, force=false))]
    fn cancel_binding(&self, py: Python<'_>, alias: String, force: bool) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.cancel_binding(&alias, force))?)
    }

    fn reconcile(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_py(py, &call!(self, py, |c| c.reconcile())?)
    }

    fn __repr__(&self) -> String {
        format!("SubscriberClient(url={:?})", self.inner.base_url())
    }
}

/// Checks a vregion spec as the publisher service does (the body's shape,
/// then the model's rules, without asking Keystone): returns the spec as
/// the service reads it (defaults filled in), or raises `InvalidInput` with
/// `field_errors`.
#[pyfunction]
pub(crate) fn validate_vregion_spec(py: Python<'_>, spec: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let value = from_py(spec)?;
    let text = value.to_string();
    let mut de = serde_json::Deserializer::from_str(&text);
    let parsed: Result<VRegionSpec, _> = serde_path_to_error::deserialize(&mut de);
    let spec = match parsed {
        Ok(spec) => spec,
        Err(e) => {
            let path = e.path().to_string();
            let field = if path == "." { "body".to_owned() } else { path };
            let inner = e.into_inner().to_string();
            let message = strip_position(&inner);
            let message = message.strip_prefix("name: ").unwrap_or(&message).to_owned();
            return Err(new_error(
                py,
                ErrorKind::InvalidInput,
                format!("invalid vregion spec: {field}: {message}"),
                None,
                Some("invalid_request".into()),
                vec![(field, message)],
            ));
        }
    };
    if let Err(errors) = spec.validate() {
        let fields: Vec<(String, String)> = errors.iter().map(|e| (e.field.clone(), e.message.clone())).collect();
        let text = fields.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; ");
        return Err(new_error(
            py,
            ErrorKind::InvalidInput,
            format!("invalid vregion spec: {text}"),
            None,
            Some("invalid_request".into()),
            fields,
        ));
    }
    to_py(py, &serde_json::to_value(&spec).unwrap_or(Value::Null))
}

/// serde_json's " at line 1 column 42" is of no use to a caller.
fn strip_position(text: &str) -> String {
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text.to_owned(),
    }
}

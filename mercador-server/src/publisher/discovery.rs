//! Unauthenticated routes: version discovery (`GET /`, `GET /v1`), health
//! (`GET /healthz`) and the OpenAPI document (`GET /openapi.json`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use mercador_core::keystone::{HttpClient, HttpConfig, Session};
use mercador_core::model::Name;
use mercador_core::publisher::Publisher;
use serde::Serialize;
use tokio::sync::Mutex;
use url::Url;
use utoipa::ToSchema;

use super::AppState;
use crate::openapi::SERVICE_TAG;

/// The API versions (`GET /`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Versions {
    /// Every version served.
    pub versions: Vec<Version>,
}

/// One API version (`GET /v1`).
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionDocument {
    /// The version.
    pub version: Version,
}

/// One API version and where its faces are.
#[derive(Debug, Serialize, ToSchema)]
pub struct Version {
    /// `v1`.
    #[schema(example = "v1")]
    pub id: String,
    /// `CURRENT`.
    #[schema(example = "CURRENT")]
    pub status: String,
    /// `self` (the version), `admin` and `exchange` (its faces), `describedby` (the OpenAPI document).
    pub links: Vec<Link>,
}

/// A link.
#[derive(Debug, Serialize, ToSchema)]
pub struct Link {
    /// Relation.
    pub rel: String,
    /// URL.
    pub href: String,
}

fn v1(public_url: &Url) -> Version {
    let base = public_url.as_str().trim_end_matches('/');
    let link = |rel: &str, path: &str| Link { rel: rel.into(), href: format!("{base}{path}") };
    Version {
        id: "v1".into(),
        status: "CURRENT".into(),
        links: vec![
            link("self", "/v1"),
            link("admin", "/v1/admin"),
            link("exchange", "/v1/exchange"),
            link("describedby", "/openapi.json"),
        ],
    }
}

/// The versions of the API.
#[utoipa::path(get, path = "/", tag = SERVICE_TAG, responses((status = 200, body = Versions)))]
pub async fn versions(State(state): State<AppState>) -> Json<Versions> {
    Json(Versions { versions: vec![v1(&state.public_url)] })
}

/// Version 1 and its two faces.
#[utoipa::path(get, path = "/v1", tag = SERVICE_TAG, responses((status = 200, body = VersionDocument)))]
pub async fn version_v1(State(state): State<AppState>) -> Json<VersionDocument> {
    Json(VersionDocument { version: v1(&state.public_url) })
}

/// The OpenAPI document, serialized once when the router is built.
#[derive(Debug, Clone)]
pub struct OpenApiDocument(Arc<str>);

impl OpenApiDocument {
    /// Serializes the document.
    pub fn new(doc: &utoipa::openapi::OpenApi) -> Self {
        let json = serde_json::to_string(doc).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot serialize the OpenAPI document");
            "{}".into()
        });
        Self(json.into())
    }
}

/// This document (OpenAPI 3.1).
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = SERVICE_TAG,
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
pub async fn openapi_document(Extension(doc): Extension<OpenApiDocument>) -> Response {
    let mut response = doc.0.to_string().into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The state of the service and of what it depends on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when every check is, else `unavailable`.
    #[schema(example = "ok")]
    pub status: String,
    /// The database answers.
    pub database: Check,
    /// Keystone B answers and accepts the service's admin credentials.
    pub keystone: Check,
    /// The publisher's only: B's SAML service provider answers its `Status`
    /// handler (Apache with mod_shib, and shibd).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saml_sp: Option<Check>,
}

/// One check.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Check {
    /// `ok` or `error`.
    pub status: String,
    /// What failed (short; the service log has the details).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How long the check took, in milliseconds.
    pub latency_ms: u64,
}

/// How long one check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an answer is reused (health endpoints get polled).
const REUSE: Duration = Duration::from_secs(1);

/// Runs the health checks; answers are reused for a second.
pub struct HealthProbe {
    publisher: Publisher,
    session: Arc<Session>,
    http: HttpClient,
    last: Mutex<Option<(Instant, Health)>>,
}

impl std::fmt::Debug for HealthProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthProbe").finish_non_exhaustive()
    }
}

impl HealthProbe {
    /// Checks the engine's store, and Keystone B through the admin `session`.
    pub fn new(publisher: Publisher, session: Arc<Session>) -> anyhow::Result<Self> {
        Ok(Self { publisher, session, http: health_http()?, last: Mutex::new(None) })
    }

    /// The current health (reused for a second).
    pub async fn check(&self) -> Health {
        let mut last = self.last.lock().await;
        if let Some((at, health)) = last.as_ref()
            && at.elapsed() < REUSE
        {
            return health.clone();
        }
        let (database, keystone, saml_sp) = tokio::join!(self.database(), self.keystone(), self.saml_sp());
        let ok = database.status == "ok" && keystone.status == "ok" && saml_sp.status == "ok";
        let status = if ok { "ok" } else { "unavailable" }.into();
        let health = Health { status, database, keystone, saml_sp: Some(saml_sp) };
        *last = Some((Instant::now(), health.clone()));
        health
    }

    async fn database(&self) -> Check {
        let store = self.publisher.store().clone();
        timed(async move {
            let probe = Name::parse("name", "healthz").map_err(|e| e.to_string())?;
            store.get_vregion(&probe).await.map(drop).map_err(|e| {
                tracing::warn!(error = %e, "health: the database fails");
                "the database does not answer".to_owned()
            })
        })
        .await
    }

    async fn keystone(&self) -> Check {
        keystone_check(&self.http, &self.session, "Keystone B").await
    }

    /// The SP's Status handler, within `[federation] sp_check_timeout_secs`
    /// (and [`CHECK_TIMEOUT`]).
    async fn saml_sp(&self) -> Check {
        let publisher = self.publisher.clone();
        // Within CHECK_TIMEOUT, saying what a timeout means: Apache's
        // mod_shib takes about 6 s to report a shibd that is not running.
        let bound = CHECK_TIMEOUT - Duration::from_millis(200);
        timed(async move {
            let checked = tokio::time::timeout(bound, publisher.check_saml_sp()).await;
            match checked {
                Ok(Ok(())) => Ok(()),
                Err(_) => {
                    tracing::warn!("health: B's SAML service provider's Status handler did not answer in time");
                    Err(format!(
                        "B's SAML service provider (Shibboleth) is too slow: its Status handler did not answer \
                         within {} s (is shibd running?)",
                        bound.as_secs_f32().round()
                    ))
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "health: B's SAML service provider fails");
                    Err(match e.outage() {
                        Some(outage) => outage.describe(),
                        None => "B's SAML service provider's status cannot be checked (see the log)".to_owned(),
                    })
                }
            }
        })
        .await
    }
}

/// The health client: [`CHECK_TIMEOUT`] per request, 2 s to connect.
pub(crate) fn health_http() -> anyhow::Result<HttpClient> {
    Ok(HttpClient::new(&HttpConfig {
        timeout: CHECK_TIMEOUT,
        connect_timeout: Duration::from_secs(2),
        ..HttpConfig::default()
    })?)
}

/// The Keystone check both services' health runs: a `GET` of the admin
/// session's `auth_url` (Keystone answers, even when a token is cached),
/// then a token of the session (cached, or a new one), within
/// [`CHECK_TIMEOUT`]. `name` is the Keystone's ("Keystone A").
pub(crate) async fn keystone_check(http: &HttpClient, session: &Arc<Session>, name: &'static str) -> Check {
    let endpoint = session.auth_url().clone();
    let http = http.clone();
    let session = session.clone();
    timed(async move {
        let answer = http.reqwest().get(endpoint.clone()).send().await.map_err(|e| {
            tracing::warn!(error = %e, "health: {name} unreachable");
            format!("{name} does not answer")
        })?;
        if !answer.status().is_success() {
            tracing::warn!(status = answer.status().as_u16(), %endpoint, "health: {name} answers an error");
            return Err(format!("{name} answers HTTP {}", answer.status().as_u16()));
        }
        session.token().await.map(drop).map_err(|e| {
            tracing::warn!(error = %e, "health: cannot authenticate to {name}");
            format!("cannot authenticate to {name} ({})", e.kind())
        })
    })
    .await
}

/// Runs one health check within [`CHECK_TIMEOUT`], timing it.
pub(crate) async fn timed(check: impl Future<Output = Result<(), String>>) -> Check {
    let start = Instant::now();
    let result = tokio::time::timeout(CHECK_TIMEOUT, check).await.unwrap_or_else(|_| Err("timed out".into()));
    let latency_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(()) => Check { status: "ok".into(), message: None, latency_ms },
        Err(message) => Check { status: "error".into(), message: Some(message), latency_ms },
    }
}

/// Health: 200 when the database, Keystone B and B's SAML service provider
/// answer, 503 otherwise.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = SERVICE_TAG,
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 503, description = "A dependency fails", body = Health)
    )
)]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let health = state.health.check().await;
    let status = if health.status == "ok" { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(health))
}

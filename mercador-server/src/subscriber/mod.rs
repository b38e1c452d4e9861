//! The subscriber service (`mercador-server subscriber --config FILE`):
//! the subscriber engine as REST/JSON for Keystone A's admins, with the
//! publisher service's conventions: Keystone A tokens, admin only, JSON
//! errors, OpenAPI at `/openapi.json`, `/healthz`, registration in A's
//! catalog (service type [`SERVICE_TYPE`], `<public_url>/v1`), SQLite by
//! default or PostgreSQL, graceful stop.
//!
//! In the background: [`Subscriber::reconcile`] at start and every
//! `reconcile_interval_secs`; [`Subscriber::refresh_all`] every
//! `refresh_interval_secs` (a publisher's revocation is cleaned up on A
//! within one interval).
//!
//! - [`config`]: the TOML file;
//! - [`auth`]: Keystone A token validation, admins only;
//! - [`routes`]: the handlers.

pub mod auth;
pub mod config;
pub mod routes;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::http::StatusCode;
use axum::middleware;
use mercador_core::keystone::ensure::ensure_sole_catalog_entry;
use mercador_core::keystone::{HttpClient, HttpConfig, IdentityApi, KeystoneClient, Session};
use mercador_core::model::Name;
use mercador_core::store::SqlStore;
use mercador_core::subscriber::bind::MAX_ALIAS;
use mercador_core::subscriber::{Subscriber, SubscriberError, SubscriberResult};
use secrecy::ExposeSecret;
use tokio::sync::{Mutex, watch};
use tracing::Instrument as _;
use url::Url;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::auth::{SubscriberAuth, require_admin};
use self::config::SubscriberServiceConfig;
use crate::auth::AdminPolicy;
use crate::error::{ApiError, ApiResult};
use crate::openapi::NameField;
use crate::publisher::discovery::{Health, OpenApiDocument};

/// Service type of the subscriber's API in Keystone A's catalog.
pub const SERVICE_TYPE: &str = mercador_core::client::SUBSCRIBER_SERVICE_TYPE;
const SERVICE_DESCRIPTION: &str = "Mercador subscriber: publishers, discovery and bindings of vregions (admin)";

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct SubscriberState {
    /// The engine.
    pub subscriber: Subscriber,
    /// Token validation.
    pub auth: Arc<SubscriberAuth>,
    /// The service's public URL.
    pub public_url: Url,
    /// The health checks.
    pub health: Arc<HealthProbe>,
}

/// The OpenAPI document's fixed part; paths are added by the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Mercador subscriber",
        description = "The subscriber's REST API, for Keystone A's admins: publishers (registered with the partner \
                       credential their admin handed over), discovery of the vregions they offer, bindings (a \
                       vregion subscribed and shown on Keystone A as a region), refresh and reconciliation. Every \
                       `/v1` request carries a Keystone A admin token in `X-Auth-Token` (or `Authorization: \
                       Bearer`). Errors are `{\"error\": {\"code\", \"title\", \"message\", \"status\"}}`.",
        license(name = "Apache-2.0")
    ),
    modifiers(&TokenSecurity),
    tags(
        (name = "subscriber", description = "Publishers, discovery, bindings (Keystone A admins)"),
        (name = "service", description = "Version discovery, health, this document (no token)")
    ),
    components(schemas(crate::error::ErrorBody))
)]
pub struct SubscriberApiDoc;

/// The name fields `mercador-core` declares as plain strings in the
/// subscriber's schemas: [`crate::openapi::finish`] gives them the rule
/// [`Name::parse`] enforces (and the alias the shorter limit
/// [`MAX_ALIAS`] of [`Subscriber::subscribe`]).
pub const NAME_FIELDS: &[NameField] = &[
    NameField { schema: "NewPublisher", property: "name", max_len: Name::MAX_LEN },
    NameField { schema: "SubscribeRequest", property: "publisher", max_len: Name::MAX_LEN },
    NameField { schema: "SubscribeRequest", property: "vregion", max_len: Name::MAX_LEN },
    NameField { schema: "SubscribeRequest", property: "alias", max_len: MAX_ALIAS },
    NameField { schema: "PublisherView", property: "name", max_len: Name::MAX_LEN },
    NameField { schema: "OfferedVRegion", property: "publisher", max_len: Name::MAX_LEN },
    NameField { schema: "OfferedVRegion", property: "name", max_len: Name::MAX_LEN },
    NameField { schema: "OfferedVRegion", property: "bound_as", max_len: Name::MAX_LEN },
    NameField { schema: "BindingView", property: "alias", max_len: Name::MAX_LEN },
    NameField { schema: "BindingView", property: "publisher", max_len: Name::MAX_LEN },
    NameField { schema: "BindingView", property: "vregion", max_len: Name::MAX_LEN },
];

struct TokenSecurity;

impl utoipa::Modify for TokenSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            crate::openapi::SECURITY_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Auth-Token",
                "A Keystone A token with the admin role",
            ))),
        );
    }
}

/// The whole HTTP service.
pub fn router(state: SubscriberState, options: &crate::RouterOptions) -> Router {
    let auth = state.auth.clone();
    let (routes, mut doc) =
        api(|admin| admin.route_layer(middleware::from_fn_with_state(auth, require_admin::<SubscriberAuth>)))
            .split_for_parts();
    for problem in crate::openapi::finish(&mut doc, NAME_FIELDS) {
        tracing::error!(problem, "the OpenAPI document is incomplete");
    }
    doc.servers = Some(vec![utoipa::openapi::Server::new(state.public_url.as_str().trim_end_matches('/'))]);
    let document = OpenApiDocument::new(&doc);

    crate::http::service_router(routes, state, document, options)
}

/// The OpenAPI document `GET /openapi.json` serves (without its `servers`),
/// built from the same routes as [`router`], without a running service;
/// `Err` names what [`crate::openapi::finish`] could not complete.
pub fn openapi() -> Result<utoipa::openapi::OpenApi, Vec<String>> {
    let (_, mut doc) = api(|admin| admin).split_for_parts();
    let problems = crate::openapi::finish(&mut doc, NAME_FIELDS);
    if problems.is_empty() { Ok(doc) } else { Err(problems) }
}

/// Every route with its documentation; `guard` puts the admin check
/// around the `/v1` routes.
fn api(
    guard: impl FnOnce(OpenApiRouter<SubscriberState>) -> OpenApiRouter<SubscriberState>,
) -> OpenApiRouter<SubscriberState> {
    let admin = OpenApiRouter::new()
        .routes(routes!(routes::list_publishers, routes::register_publisher))
        .routes(routes!(routes::get_publisher, routes::remove_publisher))
        .routes(routes!(routes::discover))
        .routes(routes!(routes::list_bindings, routes::subscribe))
        .routes(routes!(routes::get_binding, routes::cancel))
        .routes(routes!(routes::refresh))
        .routes(routes!(routes::refresh_all))
        .routes(routes!(routes::reconcile));
    OpenApiRouter::with_openapi(SubscriberApiDoc::openapi())
        .routes(routes!(routes::versions))
        .routes(routes!(routes::version_v1))
        .routes(routes!(routes::health))
        .routes(routes!(crate::publisher::discovery::openapi_document))
        .nest("/v1", guard(admin))
}

/// The JSON error of an engine error (never a secret: the engine's messages carry none).
pub fn api_error(e: SubscriberError) -> ApiError {
    if let Some(outage) = e.outage() {
        tracing::warn!(error = %e, dependency = %outage.dependency, outage = %outage.kind, "a dependency is down");
        let api = ApiError::outage(outage, e.to_string());
        return match e.interrupted() {
            Some((name, binding, state, step)) => api.with_operation(crate::error::InterruptedOperation {
                name: name.to_owned(),
                binding: Some(binding.to_owned()),
                subscription: None,
                state: state.to_owned(),
                step: step.to_owned(),
                continues_in_background: true,
                follow: format!("mercador binding show {binding} (GET /v1/bindings/{binding})"),
            }),
            None => api,
        };
    }
    let status = match &e {
        SubscriberError::Invalid(errors) => {
            let fields = errors
                .iter()
                .map(|v| crate::error::FieldError { field: v.field.clone(), message: v.message.clone() })
                .collect();
            return ApiError::invalid(e.to_string(), fields);
        }
        SubscriberError::NotFound { .. } => StatusCode::NOT_FOUND,
        SubscriberError::Conflict(_) => StatusCode::CONFLICT,
        SubscriberError::Publisher { status, .. } if *status < 500 => match *status {
            404 => StatusCode::NOT_FOUND,
            409 => StatusCode::CONFLICT,
            _ => StatusCode::BAD_GATEWAY,
        },
        _ if e.is_transient() => {
            tracing::warn!(error = %e, code = e.code(), "transient failure");
            return ApiError::unavailable(e.code(), e.to_string(), 10);
        }
        SubscriberError::Publisher { .. }
        | SubscriberError::Unreachable { .. }
        | SubscriberError::CancelBlocked { .. }
        | SubscriberError::Keystone(_) => {
            tracing::warn!(error = %e, code = e.code(), "a Keystone or a publisher failed");
            StatusCode::BAD_GATEWAY
        }
        _ => {
            tracing::error!(error = %e, code = e.code(), "request failed");
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                e.code(),
                "Internal error",
                "the subscriber failed internally; retry later, and if it persists give the request id to its \
                 operators (the service log has the details)",
            );
        }
    };
    ApiError::new(status, e.code(), e.title(), e.to_string())
}

/// Runs an engine operation in its own task (a client hanging up does not
/// cut it between two steps); a panic becomes a 500.
pub async fn engine<T, F>(operation: F) -> ApiResult<T>
where
    F: Future<Output = SubscriberResult<T>> + Send + 'static,
    T: Send + 'static,
{
    crate::http::run_engine(operation, api_error).await
}

/// Health checks of the database and Keystone A, reused for a second.
pub struct HealthProbe {
    subscriber: Subscriber,
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
    /// Checks the engine's store, and Keystone A through the admin `session`.
    pub fn new(subscriber: Subscriber, session: Arc<Session>) -> anyhow::Result<Self> {
        Ok(Self { subscriber, session, http: crate::publisher::discovery::health_http()?, last: Mutex::new(None) })
    }

    /// The current health.
    pub async fn check(&self) -> Health {
        let mut last = self.last.lock().await;
        if let Some((at, health)) = last.as_ref()
            && at.elapsed() < Duration::from_secs(1)
        {
            return health.clone();
        }
        let store = self.subscriber.store().clone();
        let (database, keystone) = tokio::join!(
            crate::publisher::discovery::timed(async move {
                let probe = Name::parse("name", "healthz").map_err(|e| e.to_string())?;
                store.get_publisher(&probe).await.map(drop).map_err(|e| {
                    tracing::warn!(error = %e, "health: the database fails");
                    "the database does not answer".to_owned()
                })
            }),
            crate::publisher::discovery::keystone_check(&self.http, &self.session, "Keystone A")
        );
        let ok = database.status == "ok" && keystone.status == "ok";
        let health = Health { status: if ok { "ok" } else { "unavailable" }.into(), database, keystone, saml_sp: None };
        *last = Some((Instant::now(), health.clone()));
        health
    }
}

/// The engine and the handlers' state, built from the configuration
/// (nothing is contacted but the database).
pub async fn build(config: &SubscriberServiceConfig) -> anyhow::Result<(SubscriberState, String)> {
    let k = &config.keystone;
    let (cloud, region) = k.admin_cloud(
        &config.base_dir,
        config.server.region.as_ref(),
        "the Keystone A region to register the endpoint in",
    )?;
    let keystone_url = k.public_url.clone().unwrap_or_else(|| cloud.auth_url.clone());
    let session = Arc::new(cloud.session().context("[keystone] cloud: cannot build a session")?);
    let keystone: Arc<dyn IdentityApi> = Arc::new(KeystoneClient::new(session.clone()));
    let secrets = config.secrets_key()?;
    // Calls to publishers (and to their Keystones) wait 15 s longer than
    // calls to Keystone A: a publisher whose own Keystone hangs answers
    // `keystone_unavailable` after its own timeout (30 s by default), and
    // that answer, naming the publisher's Keystone, should arrive first.
    let http = HttpClient::new(&HttpConfig { timeout: k.timeout() + Duration::from_secs(15), ..HttpConfig::default() })
        .context("cannot build the HTTP client")?;
    let store = SqlStore::connect_with(config.database_url().expose_secret(), config.database.acquire_timeout())
        .await
        .context("[database] url: cannot open or migrate the database")?;
    let subscriber =
        Subscriber::new(config.subscriber_config(keystone_url), Arc::new(store), keystone.clone(), secrets, http);
    let auth = Arc::new(SubscriberAuth::new(
        keystone,
        AdminPolicy { role: k.admin_role.clone(), projects: k.admin_projects.clone() },
        Duration::from_secs(k.token_cache_ttl_secs),
        k.token_cache_capacity,
        &auth::WORDING,
    ));
    let health = Arc::new(HealthProbe::new(subscriber.clone(), session)?);
    Ok((SubscriberState { subscriber, auth, public_url: config.server.public_url.clone(), health }, region))
}

/// Registers the API in Keystone A's catalog, convergently (as the
/// publisher does, [`ensure_sole_catalog_entry`]): one service of type
/// [`SERVICE_TYPE`] named after it (duplicates from replicas starting
/// together: the smallest id wins, the others are deleted), with one public
/// endpoint in `region` at `<public_url>/v1` (a moved service converges to
/// the new URL).
pub async fn register_in_catalog(keystone: &dyn IdentityApi, public_url: &Url, region: &str) -> anyhow::Result<()> {
    let url = format!("{}/v1", public_url.as_str().trim_end_matches('/'));
    if keystone.get_region(region).await.is_err_and(|e| e.is_not_found()) {
        anyhow::bail!("Keystone A has no region {region:?}; set [server] region to one of `openstack region list`");
    }
    ensure_sole_catalog_entry(keystone, SERVICE_TYPE, SERVICE_TYPE, SERVICE_DESCRIPTION, &url, region).await?;
    tracing::info!(service_type = SERVICE_TYPE, %url, region, "registered in Keystone A's catalog");
    Ok(())
}

/// Runs the subscriber service until SIGTERM or SIGINT.
pub async fn serve(config: SubscriberServiceConfig) -> anyhow::Result<()> {
    let (state, region) = build(&config).await?;
    let subscriber = state.subscriber.clone();
    let public_url = config.server.public_url.clone();
    let options = crate::RouterOptions {
        body_limit: config.server.body_limit,
        request_timeout: Duration::from_secs(config.server.request_timeout_secs),
    };
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("[server] listen: cannot listen on {}", config.server.listen))?;
    register_in_catalog(subscriber.keystone().as_ref(), &public_url, &region).await.with_context(|| {
        format!(
            "cannot register the service in Keystone A's catalog (region {region:?}, [server] public_url \
             {public_url}); check that Keystone A answers and that [keystone] cloud is an admin"
        )
    })?;

    let (stop, stopped) = watch::channel(false);
    let every = |secs: u64| Some(secs).filter(|s| *s > 0).map(Duration::from_secs);
    let reconciler = tokio::spawn(background(
        subscriber.clone(),
        Job::Reconcile,
        every(config.server.reconcile_interval_secs),
        stopped.clone(),
    ));
    let refresher =
        tokio::spawn(background(subscriber, Job::Refresh, every(config.server.refresh_interval_secs), stopped.clone()));

    let app = router(state, &options);
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let result =
        crate::shutdown::serve_until_signal(listener, app, config.server.listen, &stop, grace, "subscriber").await;
    reconciler.abort();
    refresher.abort();
    tracing::info!("subscriber service stopped");
    result
}

#[derive(Debug, Clone, Copy)]
enum Job {
    /// At once, then every interval.
    Reconcile,
    /// Every interval (not at start: the reconciliation runs then).
    Refresh,
}

/// One background job; each pass in its own task, a failing or panicking
/// pass is logged and the next one runs.
async fn background(subscriber: Subscriber, job: Job, interval: Option<Duration>, mut stopped: watch::Receiver<bool>) {
    let mut first = true;
    loop {
        if !(first && matches!(job, Job::Refresh)) {
            let s = subscriber.clone();
            let pass = tokio::spawn(
                async move {
                    match job {
                        Job::Reconcile => s.reconcile().await.map(|r| {
                            let quiet = r.resumed.is_empty() && r.finished.is_empty() && r.failed.is_empty();
                            if !quiet {
                                tracing::info!(resumed = ?r.resumed, finished = ?r.finished, failed = ?r.failed, "reconciled");
                            }
                        }),
                        Job::Refresh => s.refresh_all().await.map(|r| {
                            tracing::info!(
                                healthy = r.healthy.len(),
                                repaired = ?r.repaired,
                                revoked = ?r.revoked,
                                failed = ?r.failed,
                                "refreshed every binding"
                            );
                        }),
                    }
                }
                .instrument(tracing::info_span!("background", job = ?job)),
            );
            match pass.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, job = ?job, "background pass failed; the next one retries"),
                Err(e) => tracing::error!(error = %e, job = ?job, "background pass panicked; the next one retries"),
            }
        }
        first = false;
        let Some(interval) = interval else { return };
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

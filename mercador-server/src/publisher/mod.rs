//! The publisher service: the engine behind two REST faces.
//!
//! Where a request goes ([`router`]):
//!
//! | path | where | who |
//! |---|---|---|
//! | `GET /`, `GET /v1`, `GET /healthz`, `GET /openapi.json` | [`discovery`] | anyone |
//! | `/v1/admin/...` | [`admin`] | Keystone B admins ([`crate::auth::require_admin`]) |
//! | `/v1/exchange/...` | [`exchange`] | partners ([`crate::auth::require_partner`]) |
//!
//! Around every route, the layers both services share
//! (`http::service_router`), outermost first: sensitive headers
//! marked, request id (`x-request-id`, kept from the client when sane, else
//! generated), trace span (method, path, request id, caller; never headers
//! or bodies), [`crate::error::json_errors`], panic catcher, request
//! timeout, body limit.
//!
//! [`serve`] builds the engine from the configuration (store, Keystone B
//! admin session, Shibboleth metadata directory, secrets key), listens,
//! registers both faces in Keystone B's catalog, reconciles at start and
//! every `reconcile_interval_secs`, enforces the vregions' quotas and image
//! visibility at start and every `enforce_interval_secs` (5 s by default;
//! [`mercador_core::publisher::enforcement`]), and stops gracefully on
//! SIGTERM/SIGINT.

pub mod admin;
pub mod discovery;
pub mod exchange;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::middleware;
use mercador_core::glance::GlanceClient;
use mercador_core::keystone::{HttpClient, HttpConfig, KeystoneClient};
use mercador_core::model::{Name, VRegionSpec};
use mercador_core::publisher::{Publisher, PublisherResult, ShibbolethMetadataDir};
use mercador_core::store::SqlStore;
use secrecy::ExposeSecret;
use tokio::sync::watch;
use tracing::Instrument as _;
use url::Url;
use utoipa::OpenApi as _;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AllOf, AnyOf, Object, ObjectBuilder, Schema, Type};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AdminPolicy, Authenticator, require_admin, require_partner};
use crate::config::PublisherServiceConfig;
use crate::error::{ApiError, ApiResult};
use crate::openapi::ApiDoc;

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The engine.
    pub publisher: Publisher,
    /// Token validation and caller identity.
    pub auth: Arc<Authenticator>,
    /// The service's public URL (links in version discovery).
    pub public_url: Url,
    /// The health checks.
    pub health: Arc<discovery::HealthProbe>,
}

/// Limits of the HTTP layer.
#[derive(Debug, Clone)]
pub struct RouterOptions {
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
}

impl Default for RouterOptions {
    fn default() -> Self {
        Self { body_limit: 1024 * 1024, request_timeout: Duration::from_secs(120) }
    }
}

/// The whole HTTP service: both faces, discovery, health, the OpenAPI
/// document, JSON errors, limits and tracing.
pub fn router(state: AppState, options: &RouterOptions) -> Router {
    let auth = state.auth.clone();
    let (routes, mut doc) = api(
        |admin| admin.route_layer(middleware::from_fn_with_state(auth.clone(), require_admin::<Authenticator>)),
        |exchange| exchange.route_layer(middleware::from_fn_with_state(auth.clone(), require_partner)),
    )
    .split_for_parts();
    for problem in finish_document(&mut doc) {
        tracing::error!(problem, "the OpenAPI document is incomplete");
    }
    doc.servers = Some(vec![utoipa::openapi::Server::new(state.public_url.as_str().trim_end_matches('/'))]);
    let document = discovery::OpenApiDocument::new(&doc);

    crate::http::service_router(routes, state, document, options)
}

/// The OpenAPI document `GET /openapi.json` serves (without its `servers`),
/// built from the same routes as [`router`], without a running service;
/// `Err` names what could not be completed.
pub fn openapi() -> Result<utoipa::openapi::OpenApi, Vec<String>> {
    let (_, mut doc) = api(|admin| admin, |exchange| exchange).split_for_parts();
    let problems = finish_document(&mut doc);
    if problems.is_empty() { Ok(doc) } else { Err(problems) }
}

/// [`crate::openapi::finish`] (every name field of the publisher's schemas
/// already refers to [`Name`], or carries its rule, as `NewPartner.name`),
/// then the vregion's rules the derives leave out:
///
/// - `VRegionView` shows the fields of `VRegionSpec` inline: the derive
///   makes it `allOf` the spec, whose `additionalProperties: false` (unknown
///   fields are refused in a request) would then refuse every view;
/// - without `domain`, the vregion's domain is `mercador-<name>`, which
///   must be a valid Keystone domain name: the name is then shorter than a
///   [`Name`] may be ([`longest_name_without_domain`]).
fn finish_document(doc: &mut utoipa::openapi::OpenApi) -> Vec<String> {
    let mut problems = crate::openapi::finish(doc, &[]);
    let schemas = &mut doc.components.get_or_insert_with(Default::default).schemas;
    let Some(RefOr::T(Schema::Object(spec))) = schemas.get("VRegionSpec").cloned() else {
        problems.push("no object schema VRegionSpec".into());
        return problems;
    };
    match schemas.get_mut("VRegionView") {
        Some(RefOr::T(view)) => match inline_spec(view, &spec) {
            Ok(inlined) => *view = inlined,
            Err(problem) => problems.push(problem),
        },
        _ => problems.push("no schema VRegionView".into()),
    }
    if let Some(longest) = longest_name_without_domain() {
        let named_domain =
            ObjectBuilder::new().property("domain", ObjectBuilder::new().schema_type(Type::String)).required("domain");
        let short_name = ObjectBuilder::new()
            .property("name", ObjectBuilder::new().schema_type(Type::String).max_length(Some(longest)));
        let mut either = AnyOf::new();
        either.items = vec![named_domain.into(), short_name.into()];
        either.description = Some(format!(
            "Without `domain`, the domain is `mercador-<name>`: the name is then at most {longest} characters"
        ));
        let mut rules = AllOf::new();
        rules.description = spec.description.clone();
        rules.items = vec![RefOr::T(Schema::Object(spec)), RefOr::T(Schema::AnyOf(either))];
        schemas.insert("VRegionSpec".into(), RefOr::T(Schema::AllOf(rules)));
    }
    problems
}

/// `view` (`allOf` a reference to the spec and its own fields) as one
/// object with the spec's fields and its own, open to additions.
fn inline_spec(view: &Schema, spec: &Object) -> Result<Schema, String> {
    let Schema::AllOf(all) = view else {
        return Err("VRegionView is no longer allOf VRegionSpec".into());
    };
    let mut inlined = spec.clone();
    inlined.additional_properties = None;
    inlined.description = all.description.clone();
    for item in &all.items {
        match item {
            RefOr::Ref(r) if r.ref_location.ends_with("/VRegionSpec") => {}
            RefOr::T(Schema::Object(own)) => {
                inlined.properties.extend(own.properties.clone());
                inlined.required.extend(own.required.iter().cloned());
            }
            _ => return Err("VRegionView has a part that is neither VRegionSpec nor its own fields".into()),
        }
    }
    Ok(Schema::Object(inlined))
}

/// The longest vregion name the engine takes without a `domain` (its
/// default domain `mercador-<name>` must be a valid Keystone domain name),
/// asked of [`VRegionSpec::validate`] itself; `None` when every [`Name`]
/// is short enough.
fn longest_name_without_domain() -> Option<usize> {
    let domain_refused = |len: usize| {
        let spec = serde_json::from_value::<VRegionSpec>(serde_json::json!({
            "name": "a".repeat(len), "region": "r", "service_types": ["compute"], "roles": ["member"],
            "max_subscriptions": 1,
        }));
        spec.is_ok_and(|spec| spec.validate().is_err_and(|errors| errors.iter().any(|e| e.field == "domain")))
    };
    if !domain_refused(Name::MAX_LEN) {
        return None;
    }
    (1..Name::MAX_LEN).rev().find(|len| !domain_refused(*len))
}

type Face = OpenApiRouter<AppState>;

/// Every route with its documentation; `admin_guard` and `partner_guard`
/// put the authentication of each face around its routes.
fn api(admin_guard: impl FnOnce(Face) -> Face, partner_guard: impl FnOnce(Face) -> Face) -> Face {
    let admin = OpenApiRouter::new()
        .routes(routes!(admin::list_vregions, admin::create_vregion))
        .routes(routes!(admin::get_vregion, admin::replace_vregion, admin::delete_vregion))
        .routes(routes!(admin::publish_vregion))
        .routes(routes!(admin::withdraw_vregion))
        .routes(routes!(admin::list_partners, admin::onboard_partner))
        .routes(routes!(admin::get_partner, admin::remove_partner))
        .routes(routes!(admin::list_subscriptions))
        .routes(routes!(admin::get_subscription))
        .routes(routes!(admin::revoke_subscription))
        .routes(routes!(admin::reconcile));
    let exchange = OpenApiRouter::new()
        .routes(routes!(exchange::offered_vregions))
        .routes(routes!(exchange::list_subscriptions, exchange::subscribe))
        .routes(routes!(exchange::get_subscription, exchange::cancel_subscription))
        .routes(routes!(exchange::refresh_subscription));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(discovery::versions))
        .routes(routes!(discovery::version_v1))
        .routes(routes!(discovery::health))
        .routes(routes!(discovery::openapi_document))
        .nest("/v1/admin", admin_guard(admin))
        .nest("/v1/exchange", partner_guard(exchange))
}

/// Runs an engine operation in its own task, so that a client hanging up or
/// a request timeout does not cut it between two steps (it runs to the end;
/// the answer is dropped), and a panic in it becomes a 500.
pub async fn engine<T, F>(operation: F) -> ApiResult<T>
where
    F: Future<Output = PublisherResult<T>> + Send + 'static,
    T: Send + 'static,
{
    crate::http::run_engine(operation, ApiError::from).await
}

/// The engine and the state of the HTTP service, built from the configuration.
#[derive(Debug)]
pub struct PublisherService {
    /// The shared state of the handlers.
    pub state: AppState,
    /// The Keystone region the endpoints are registered in.
    pub region: String,
}

impl PublisherService {
    /// Opens the database, loads the Keystone B admin cloud, and builds the
    /// engine. Nothing is contacted but the database.
    pub async fn build(config: &PublisherServiceConfig) -> anyhow::Result<Self> {
        let k = &config.keystone;
        let (cloud, region) = k.admin_cloud(
            &config.base_dir,
            config.server.region.as_ref(),
            "the Keystone B region to register the endpoints in",
        )?;
        let keystone_url = k.public_url.clone().unwrap_or_else(|| cloud.auth_url.clone());
        let session = Arc::new(cloud.session().context("[keystone] cloud: cannot build a session")?);
        let keystone = Arc::new(KeystoneClient::new(session.clone()));

        let metadata_dir = config.resolve(&config.federation.metadata_dir);
        anyhow::ensure!(
            metadata_dir.is_dir(),
            "[federation] metadata_dir {} is not a directory: give Shibboleth's LocalDynamic metadata directory \
             (sourceDirectory in shibboleth2.xml)",
            metadata_dir.display()
        );
        let f = &config.federation;
        let status_url = f.status_url().context("[federation] sp_status_url is missing")?;
        let timeout = f.sp_check_timeout();
        let sp_http = HttpClient::new(&HttpConfig {
            timeout,
            connect_timeout: timeout.min(Duration::from_secs(2)),
            ..HttpConfig::default()
        })
        .context("cannot build the HTTP client of the SAML SP's status")?;
        let trust = Arc::new(ShibbolethMetadataDir::new(metadata_dir).with_status_check(sp_http, status_url, timeout));
        let secrets = config.secrets_key()?;
        let http = HttpClient::new(&HttpConfig { timeout: k.timeout(), ..HttpConfig::default() })
            .context("cannot build the HTTP client")?;
        let store = SqlStore::connect_with(config.database_url().expose_secret(), config.database.acquire_timeout())
            .await
            .context("[database] url: cannot open or migrate the database")?;

        // B's Glance, found in the admin token's catalog when a vregion needs it.
        let images = Arc::new(GlanceClient::new(session.clone()));
        let publisher =
            Publisher::new(config.publisher_config(keystone_url), Arc::new(store), keystone, trust, secrets, http)
                .with_images(images);
        let auth = Arc::new(Authenticator::new(
            publisher.clone(),
            AdminPolicy { role: k.admin_role.clone(), projects: k.admin_projects.clone() },
            Duration::from_secs(k.token_cache_ttl_secs),
            k.token_cache_capacity,
        ));
        let health = Arc::new(discovery::HealthProbe::new(publisher.clone(), session)?);
        let state = AppState { publisher, auth, public_url: config.server.public_url.clone(), health };
        Ok(Self { state, region })
    }
}

/// Runs the publisher service until SIGTERM or SIGINT: builds the engine,
/// listens, registers both faces in Keystone B's catalog (failing fast when
/// Keystone B refuses), reconciles at start and periodically, and stops
/// gracefully (running requests get `shutdown_grace_secs`).
pub async fn serve(config: PublisherServiceConfig) -> anyhow::Result<()> {
    let service = PublisherService::build(&config).await?;
    let publisher = service.state.publisher.clone();
    let public_url = config.server.public_url.clone();
    let options = RouterOptions {
        body_limit: config.server.body_limit,
        request_timeout: Duration::from_secs(config.server.request_timeout_secs),
    };
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("[server] listen: cannot listen on {}", config.server.listen))?;

    publisher.register_in_catalog(&public_url, &service.region).await.with_context(|| {
        format!(
            "cannot register the service in Keystone B's catalog (region {:?}, [server] public_url {public_url}); \
             check that Keystone B answers, that [keystone] cloud is an admin and that the region exists",
            service.region
        )
    })?;
    tracing::info!(%public_url, region = %service.region, "registered in Keystone B's catalog");
    let confinement = publisher.check_confinement().await.context(
        "cannot check the roles the publisher hands out against Keystone B's implied roles (GET /v3/role_inferences)",
    )?;
    anyhow::ensure!(
        confinement.configuration.is_empty(),
        "the publisher would hand out a role that acts outside the vregion: {}",
        confinement.configuration.join("; ")
    );

    let (stop, stopped) = watch::channel(false);
    let interval = Some(config.server.reconcile_interval_secs).filter(|s| *s > 0).map(Duration::from_secs);
    let reconciler = tokio::spawn(reconcile_loop(publisher.clone(), interval, stopped.clone()));
    let enforce_every = Some(config.server.enforce_interval_secs).filter(|s| *s > 0).map(Duration::from_secs);
    let enforcer = tokio::spawn(enforce_loop(publisher, enforce_every, stopped.clone()));

    let app = router(service.state, &options);
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let result =
        crate::shutdown::serve_until_signal(listener, app, config.server.listen, &stop, grace, "publisher").await;
    reconciler.abort();
    enforcer.abort();
    tracing::info!("publisher service stopped");
    result
}

/// Reconciles at once, then every `interval` (never again when `None`),
/// each pass in its own task: a failing or panicking pass is logged and the
/// next one runs.
async fn reconcile_loop(publisher: Publisher, interval: Option<Duration>, mut stopped: watch::Receiver<bool>) {
    loop {
        let p = publisher.clone();
        let pass = tokio::spawn(async move { p.reconcile().await }.instrument(tracing::info_span!("reconcile")));
        match pass.await {
            Ok(Ok(report)) => {
                if report.is_empty() {
                    tracing::debug!("reconciled: nothing to resume");
                } else {
                    tracing::info!(
                        resumed = ?report.resumed,
                        finished = ?report.finished,
                        partners = ?report.partners,
                        confined = ?report.confined,
                        unshared = ?report.unshared,
                        failed = ?report.failed,
                        "reconciled"
                    );
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "reconciliation failed; the next pass retries"),
            Err(e) => tracing::error!(error = %e, "reconciliation panicked; the next pass retries"),
        }
        let Some(interval) = interval else { return };
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

/// Enforces the published vregions' quotas and image visibility on every
/// project of their domains at once, then every `interval` (never again
/// when `None`), each pass in its own task: a failing or panicking pass is
/// logged and the next one runs. Separate from [`reconcile_loop`] so that
/// a new project gets its limits within seconds whatever a reconciliation
/// pass costs.
async fn enforce_loop(publisher: Publisher, interval: Option<Duration>, mut stopped: watch::Receiver<bool>) {
    loop {
        let p = publisher.clone();
        let pass = tokio::spawn(async move { p.enforce().await }.instrument(tracing::info_span!("enforce")));
        match pass.await {
            Ok(Ok(report)) => {
                tracing::debug!(vregions = report.vregions, projects = report.projects, "enforcement pass");
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "enforcement pass failed; the next pass retries"),
            Err(e) => tracing::error!(error = %e, "enforcement pass panicked; the next pass retries"),
        }
        let Some(interval) = interval else { return };
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

//! Support for the publisher engine tests: an engine over the real
//! Keystone B, Shibboleth's metadata directory and a real database; the
//! catalog entries a vregion needs; SAML identities (A's real one, or
//! synthetic ones for tests that need no login).

use std::sync::Arc;

use mercador_core::glance::GlanceClient;
use mercador_core::keystone::ensure;
use mercador_core::keystone::types::{Filter, NewEndpoint, NewRegisteredLimit, NewService};
use mercador_core::keystone::{
    AuthMethod, Credentials, HttpClient, HttpConfig, IdentityApi, Interface, Scope, Session,
};
use mercador_core::model::Name;
use mercador_core::publisher::subscribe::users_domain_name;
use mercador_core::publisher::{Publisher, PublisherConfig, ShibbolethMetadataDir};
use mercador_core::secrets::SecretsKey;
use mercador_core::store::SqlStore;
use secrecy::SecretString;

use crate::{Cloud, Identity, Testbed, unique};

/// A fresh secrets key (random, for one test run).
pub fn secrets_key() -> SecretsKey {
    use base64::Engine as _;
    let bytes: [u8; 32] =
        std::array::from_fn(|i| (std::process::id() as u8).wrapping_mul(31).wrapping_add(i as u8 * 7));
    let key = SecretString::from(base64::engine::general_purpose::STANDARD.encode(bytes));
    SecretsKey::from_base64("test", &key).expect("secrets key")
}

/// An engine over Keystone B (and B's real Glance, found in B's admin
/// catalog) with its own store at `database_url`.
pub async fn engine(database_url: &str) -> Publisher {
    let tb = Testbed::get();
    let config = PublisherConfig::new(tb.url(Cloud::B), tb.var("KEYSTONE_B_ECP_URL").parse().expect("ECP URL"));
    engine_with(database_url, config).await
}

/// [`engine`] with a configuration of the test's (its lease lasts 20 s).
pub async fn engine_with(database_url: &str, mut config: PublisherConfig) -> Publisher {
    let tb = Testbed::get();
    let store = SqlStore::connect(database_url).await.expect("open the store");
    config.lease_ttl = std::time::Duration::from_secs(20);
    Publisher::new(
        config,
        Arc::new(store),
        Arc::new(tb.admin(Cloud::B)),
        Arc::new(ShibbolethMetadataDir::new(tb.var("KEYSTONE_B_SHIB_METADATA_DIR"))),
        secrets_key(),
        HttpClient::new(&HttpConfig::default()).expect("HTTP client"),
    )
    .with_images(Arc::new(GlanceClient::new(tb.admin_session(Cloud::B))))
}

/// A SQLite database URL in a fresh temporary directory (kept for the
/// process's life).
pub fn sqlite_url() -> String {
    let dir = std::env::temp_dir().join(unique("mercador-publisher-test"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    format!("sqlite://{}", dir.join("publisher.db").display())
}

/// A validated name.
pub fn name(prefix: &str) -> Name {
    Name::parse("name", &unique(prefix)).expect("valid name")
}

/// A SAML identity of Keystone A for a test that subscribes with a real
/// one (B accepts one identity provider per remote id): whichever of the
/// testbed's identities is free first ([`Testbed::identities`]), held
/// until the turn is dropped. Turns are file locks in the testbed's state
/// dir (`a-entity.lock` for identity 0, `a-entity-<i>.lock` for the
/// others), so tests, test binaries and the demo never share one.
pub async fn a_entity_turn() -> EntityTurn {
    let identities = Testbed::get().identities();
    loop {
        for identity in &identities {
            if let Some(turn) = try_lock(identity.clone(), nix::fcntl::FlockArg::LockExclusiveNonblock).await {
                return turn;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The turn of one given identity (identity 0 is the one the testbed's
/// Horizon and the demo use); waits for it.
pub async fn a_entity_turn_of(index: usize) -> EntityTurn {
    let identity = Testbed::get().identity(index);
    try_lock(identity, nix::fcntl::FlockArg::LockExclusive).await.expect("lock an identity of A")
}

async fn try_lock(identity: Identity, how: nix::fcntl::FlockArg) -> Option<EntityTurn> {
    let file =
        if identity.index == 0 { "a-entity.lock".to_string() } else { format!("a-entity-{}.lock", identity.index) };
    state_lock(&file, how).await.map(|file| EntityTurn { identity, _file: file })
}

/// A file lock in the testbed's state dir, shared by every test binary (the
/// binaries of a run go side by side): `None` if `how` is non-blocking and
/// another holds it.
pub async fn state_lock(file: &str, how: nix::fcntl::FlockArg) -> Option<nix::fcntl::Flock<std::fs::File>> {
    let path = std::path::PathBuf::from(Testbed::get().var("MERCADOR_TESTBED_STATE")).join(file);
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        match nix::fcntl::Flock::lock(file, how) {
            Ok(lock) => Ok(Some(lock)),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(std::io::Error::from(e)),
        }
    })
    .await
    .expect("lock task")
    .expect("lock a file of the testbed's state dir")
}

/// A test's SAML identity of Keystone A; released when dropped.
#[derive(Debug)]
pub struct EntityTurn {
    identity: Identity,
    _file: nix::fcntl::Flock<std::fs::File>,
}

impl EntityTurn {
    /// The identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Its entity id.
    pub fn entity_id(&self) -> &str {
        &self.identity.entity_id
    }

    /// Its SAML metadata URL.
    pub fn metadata_url(&self) -> url::Url {
        self.identity.metadata_url.clone()
    }

    /// Its Keystone A (identity v3 URL): K2K logins through it carry its
    /// entity id.
    pub fn keystone_url(&self) -> url::Url {
        self.identity.keystone_url.clone()
    }

    /// A session on this identity's Keystone A.
    pub fn session(&self, credentials: Credentials, scope: Scope) -> Arc<Session> {
        let auth =
            mercador_core::keystone::DirectAuth::new(&self.identity.keystone_url, credentials).expect("auth url");
        Arc::new(Session::new(Arc::new(auth), scope).expect("session"))
    }

    /// alice's project-scoped session on this identity's Keystone A.
    pub fn alice(&self) -> Arc<Session> {
        let (user, password, project) = Testbed::get().demo_user();
        self.session(Credentials::password(user, "Default", password), Scope::project(project, "Default"))
    }
}

impl EntityTurn {
    /// The request subscribing to `vregion` with this identity, its
    /// metadata fetched from its Keystone A.
    pub fn subscribe_request(&self, vregion: &Name) -> mercador_core::publisher::SubscribeRequest {
        mercador_core::publisher::SubscribeRequest {
            vregion: vregion.clone(),
            entity_id: self.entity_id().to_string(),
            metadata: None,
            metadata_url: Some(self.metadata_url()),
            keystone_url: Some(self.keystone_url()),
        }
    }

    /// The subscriber's side by hand: an enabled service provider on
    /// Keystone A (named `<prefix>-<unique>`) for what subscribe returned;
    /// returns its id.
    pub async fn service_provider_on_a(&self, access: &mercador_core::publisher::Access, prefix: &str) -> String {
        let id = unique(prefix);
        let sp = mercador_core::keystone::types::NewServiceProvider {
            auth_url: access.k2k.auth_url.to_string(),
            sp_url: access.k2k.sp_url.to_string(),
            enabled: true,
            description: None,
            relay_state_prefix: None,
        };
        Testbed::get().admin(Cloud::A).create_service_provider(&id, &sp).await.expect("service provider on A");
        id
    }
}

/// Deletes identity providers of Keystone B holding `entity_id`, and the
/// entity's metadata file in Shibboleth's directory: what the K2K tests'
/// fixture leaves (it writes both again when it runs; test binaries that
/// use it, `k2k`, `keystone` and `glance`, end with them in place) or what
/// an interrupted run left. A test that holds the entity's turn then starts
/// from a B that does not trust it.
pub async fn free_entity_on_b(entity_id: &str) {
    let tb = Testbed::get();
    let b = tb.admin(Cloud::B);
    for idp in b.list_identity_providers().await.expect("list identity providers") {
        if idp.remote_ids.iter().any(|r| r == entity_id) {
            b.delete_identity_provider(&idp.id).await.expect("delete the identity provider");
        }
    }
    let file = crate::federation::metadata_file(tb.var("KEYSTONE_B_SHIB_METADATA_DIR"), entity_id);
    match std::fs::remove_file(&file) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("remove {}: {e}", file.display()),
    }
}

/// Synthetic SAML 2.0 IdP metadata for `entity_id` (for tests that need no
/// real login).
pub fn fake_metadata(entity_id: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>MIIBszCCARwCCQDx</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="{entity_id}/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#
    )
}

/// Catalog entries of Keystone B the vregion tests use, created once:
/// a `compute` service with an endpoint in B's region and a registered
/// limit for `class:VCPU` there (a stand-in: the testbed runs no Nova).
/// The `image` service is the testbed's real Glance (`GLANCE_URL`,
/// registered with its limits by `testbed.sh start`); the tests' vregions
/// that do not list `image` must never offer it. Test binaries that run
/// at the same time take turns (a file lock), so they never create the
/// entries twice.
pub async fn test_catalog() {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    DONE.get_or_init(|| async {
        let _turn = state_lock("test-catalog.lock", nix::fcntl::FlockArg::LockExclusive).await;
        let tb = Testbed::get();
        let b = tb.admin(Cloud::B);
        let region = tb.region(Cloud::B).to_string();
        let service = ensure::ensure_service(
            &b,
            &NewService {
                service_type: "compute".into(),
                name: Some("mercador-tests-compute".into()),
                description: Some("catalog entry for Mercador's publisher tests (no server behind it)".into()),
                enabled: true,
            },
        )
        .await
        .expect("service");
        ensure::ensure_endpoint(
            &b,
            &NewEndpoint {
                service_id: service.object.id.clone(),
                interface: Interface::Public,
                url: "http://127.0.0.1:8774/compute".into(),
                region_id: Some(region.clone()),
                enabled: true,
            },
        )
        .await
        .expect("endpoint");
        ensure::ensure_registered_limit(
            &b,
            &NewRegisteredLimit {
                service_id: service.object.id,
                region_id: Some(region),
                resource_name: "class:VCPU".into(),
                default_limit: 8,
                description: None,
            },
        )
        .await
        .expect("registered limit");
    })
    .await;
}

/// The testbed's Glance: its URL as B's catalog has it (`GLANCE_URL`).
pub fn glance_url() -> String {
    Testbed::get().var("GLANCE_URL").to_owned()
}

/// Everything Keystone B holds of a partner's federation: identity
/// provider, mapping, protocol, its users' domain, and its admin user in
/// the vregion domain `domain_id`.
pub async fn federation_objects_of(partner: &Name, domain_id: &str) -> Vec<String> {
    let b = Testbed::get().admin(Cloud::B);
    let mut found = Vec::new();
    let users_domain = users_domain_name(partner);
    let domains = b.list_domains(&Filter::new().name(&users_domain)).await.expect("list domains");
    found.extend(domains.into_iter().map(|d| format!("users' domain {} ({})", d.name, d.id)));
    let idp = format!("mercador-{partner}");
    if b.get_identity_provider(&idp).await.is_ok() {
        found.push(format!("identity provider {idp}"));
        if !b.list_protocols(&idp).await.unwrap_or_default().is_empty() {
            found.push(format!("protocols of {idp}"));
        }
    }
    let mapping = format!("mercador-{partner}-mapping");
    if b.get_mapping(&mapping).await.is_ok() {
        found.push(format!("mapping {mapping}"));
    }
    let users = b
        .list_users(&Filter::new().name(format!("mercador-admin-{partner}")).domain_id(domain_id))
        .await
        .unwrap_or_default();
    found.extend(users.into_iter().map(|u| format!("admin user {}", u.id)));
    found
}

/// The id of the domain of `partner`'s federated users on Keystone B
/// (`mercador-k2k-<partner>`); panics when B has none.
pub async fn users_domain_of(partner: &Name) -> String {
    let b = Testbed::get().admin(Cloud::B);
    let name = users_domain_name(partner);
    let mut found = b.list_domains(&Filter::new().name(&name)).await.expect("list domains");
    assert_eq!(found.len(), 1, "Keystone B has one domain {name}: {found:?}");
    let domain = found.remove(0);
    assert!(domain.enabled, "{domain:?}");
    domain.id
}

/// alice's project-scoped session on Keystone A (where K2K starts).
pub fn alice() -> Arc<Session> {
    let tb = Testbed::get();
    let (user, password, project) = tb.demo_user();
    tb.session(Cloud::A, Credentials::password(user, "Default", password), Scope::project(project, "Default"))
}

/// A session over any auth method (a K2K one, say).
pub fn session_with(auth: Arc<dyn AuthMethod>, scope: Scope) -> Arc<Session> {
    Arc::new(Session::new(auth, scope).expect("session"))
}

/// A new, empty database on the testbed's PostgreSQL; returns its URL.
pub async fn fresh_postgres_database() -> String {
    use sqlx::Connection as _;
    let base = Testbed::get().postgres_url().to_string();
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the testbed's PostgreSQL ({e}); run `testbed/testbed.sh start`"));
    let db = unique("mercador_pub").replace('-', "_");
    sqlx::query(&format!("CREATE DATABASE {db}")).execute(&mut conn).await.expect("create database");
    let mut url = url::Url::parse(&base).expect("PostgreSQL URL");
    url.set_path(&format!("/{db}"));
    url.to_string()
}

//! A K2K federation between the testbed's Keystones, created through
//! mercador-core's own client (the testbed leaves federation to Mercador):
//!
//! - on B (service provider): a domain with a project named like alice's home
//!   project, a group with role `member` on it, an empty group, the identity
//!   provider for A (remote id = A's entity id, users in that domain), a
//!   mapping, protocol `saml2`, and A's SAML metadata in Shibboleth's
//!   dynamic metadata directory;
//! - on A (identity provider): an enabled service provider for B, a disabled
//!   one, and two users whose attributes the mapping does not grant anything.
//!
//! Ids are fixed and every step is an `ensure_*`, so the fixture is shared by
//! the tests of a binary, and re-running against the same testbed adopts it.
//! Keystone allows one identity provider per remote id: this is the only
//! identity provider for A on B the tests create directly, and the fixture
//! holds A's entity turn ([`crate::publisher::a_entity_turn`]) for the life of
//! its test binary, so that other binaries subscribing with A's entity id
//! (and the demo) wait instead of finding this one, or removing it.

use std::path::PathBuf;
use std::sync::Arc;

use mercador_core::keystone::ensure::{self, Ensured};
use mercador_core::keystone::types::*;
use mercador_core::keystone::{Credentials, IdentityApi, Scope, Session};
use secrecy::SecretString;
use serde_json::json;
use tokio::sync::OnceCell;

use crate::{Cloud, Testbed};

/// Ids and names of the fixture.
#[derive(Debug)]
pub struct K2k {
    /// Service provider id of B on A (enabled).
    pub sp_id: String,
    /// A second service provider on A, disabled.
    pub disabled_sp_id: String,
    /// Identity provider id of A on B.
    pub idp_id: String,
    /// The domain on B where federated users land.
    pub domain_id: String,
    /// Its name.
    pub domain_name: String,
    /// The project on B (same name as alice's project on A).
    pub project_id: String,
    /// Its name.
    pub project_name: String,
    /// A user of A in a project the mapping does not know: no rule matches.
    pub unmapped_user: TestUser,
    /// A user of A the mapping places in a group without any role.
    pub roleless_user: TestUser,
    /// B's federated auth URL for A.
    pub sp_auth_url: String,
    /// B's ECP URL.
    pub sp_url: String,
    /// A's entity turn, held as long as the fixture lives (its binary runs).
    _turn: crate::publisher::EntityTurn,
}

/// A user of A with a password and a project.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// Name (domain Default).
    pub name: String,
    /// Password.
    pub password: SecretString,
    /// Project (domain Default).
    pub project: String,
}

impl TestUser {
    /// A session of this user on A scoped to its project.
    pub fn session(&self) -> Arc<Session> {
        let tb = Testbed::get();
        tb.session(
            Cloud::A,
            Credentials::password(&self.name, "Default", self.password.clone()),
            Scope::project(&self.project, "Default"),
        )
    }
}

/// Path of the file holding an entity's metadata in Shibboleth's
/// LocalDynamic directory: `<sha1 hex of the entity id>.xml`.
pub fn metadata_file(dir: &str, entity_id: &str) -> PathBuf {
    let digest = sha1_smol::Sha1::from(entity_id.as_bytes()).digest().to_string();
    PathBuf::from(dir).join(format!("{digest}.xml"))
}

impl K2k {
    /// The fixture, created on first use.
    pub async fn get() -> &'static K2k {
        static FIXTURE: OnceCell<K2k> = OnceCell::const_new();
        FIXTURE.get_or_init(setup).await
    }

    /// A session of alice on A (project-scoped, the K2K starting point).
    pub fn alice(&self) -> Arc<Session> {
        let tb = Testbed::get();
        let (user, password, project) = tb.demo_user();
        tb.session(Cloud::A, Credentials::password(user, "Default", password), Scope::project(project, "Default"))
    }
}

async fn setup() -> K2k {
    // Identity 0: the tests of this fixture also log in with the openstack
    // CLI's testbed-a-alice cloud, which is on KEYSTONE_A_URL.
    let turn = crate::publisher::a_entity_turn_of(0).await;
    let tb = Testbed::get();
    let a = tb.admin(Cloud::A);
    let b = tb.admin(Cloud::B);
    let (_, _, home_project) = tb.demo_user();
    let entity_id = tb.var("KEYSTONE_A_IDP_ENTITY_ID").to_owned();
    let b_url = tb.url(Cloud::B);

    // ---- B: where federated users land
    let domain_name = "mercador-tests-k2k".to_owned();
    let domain = ensure::ensure_domain(
        &b,
        &NewDomain { name: domain_name.clone(), description: Some("K2K test fixture".into()), enabled: true },
    )
    .await
    .expect("domain on B")
    .object;
    let project = ensure::ensure_project(
        &b,
        &NewProject {
            name: home_project.clone(),
            domain_id: domain.id.clone(),
            description: None,
            enabled: true,
            parent_id: None,
            tags: vec![],
        },
    )
    .await
    .expect("project on B")
    .object;
    let group = |name: &str| NewGroup { name: name.into(), domain_id: domain.id.clone(), description: None };
    let members = ensure::ensure_group(&b, &group("k2k-members")).await.expect("group").object;
    ensure::ensure_group(&b, &group("k2k-empty")).await.expect("group");
    let member_role = b.list_roles(&Filter::new().name("member")).await.expect("roles").remove(0);
    ensure::ensure_role_grant(
        &b,
        &member_role.id,
        &Actor::Group(members.id.clone()),
        &Target::Project(project.id.clone()),
    )
    .await
    .expect("grant");

    // ---- A: users whose attributes grant nothing on B
    let default_project = |name: &str| NewProject {
        name: name.into(),
        domain_id: "default".into(),
        description: None,
        enabled: true,
        parent_id: None,
        tags: vec![],
    };
    let a_member = a.list_roles(&Filter::new().name("member")).await.expect("roles").remove(0);
    let mut users = Vec::new();
    for (user, project) in [("k2k-unmapped", "k2k-other"), ("k2k-roleless", "k2k-noroles")] {
        let p = ensure::ensure_project(&a, &default_project(project)).await.expect("project on A").object;
        let password = SecretString::from(format!("pw-{}", crate::unique(user)));
        let u: Ensured<User> = ensure::ensure_user(
            &a,
            &NewUser {
                name: user.into(),
                domain_id: "default".into(),
                password: Some(password.clone()),
                description: None,
                default_project_id: None,
                enabled: true,
            },
        )
        .await
        .expect("user on A");
        if !u.outcome.created() {
            let update = UserUpdate { password: Some(password.clone()), ..Default::default() };
            a.update_user(&u.object.id, &update).await.expect("reset password");
            // Changing a password revokes the user's tokens, including one issued in the same
            // second (Keystone's revocation events have one-second resolution): with Keystone's
            // cache on, the first test's login can come that soon. Wait as the publisher does.
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        }
        ensure::ensure_role_grant(&a, &a_member.id, &Actor::User(u.object.id.clone()), &Target::Project(p.id))
            .await
            .expect("grant on A");
        users.push(TestUser { name: user.into(), password, project: project.into() });
    }
    let roleless_user = users.pop().expect("two users");
    let unmapped_user = users.pop().expect("two users");

    // ---- B: identity provider, mapping, protocol (any other identity
    // provider holding A's entity id is what an interrupted run left)
    let idp_id = "mercador-tests-a".to_owned();
    for other in b.list_identity_providers().await.expect("list identity providers") {
        if other.id != idp_id && other.remote_ids.contains(&entity_id) {
            b.delete_identity_provider(&other.id).await.expect("free A's entity id on B");
        }
    }
    ensure::ensure_identity_provider(
        &b,
        &idp_id,
        &NewIdentityProvider {
            remote_ids: vec![entity_id.clone()],
            enabled: true,
            description: Some("Keystone A (K2K test fixture)".into()),
            domain_id: Some(domain.id.clone()),
        },
    )
    .await
    .expect("identity provider");
    let rule = |project: &str, group: &str| {
        json!({
            "local": [
                {"user": {"name": "{0}"}},
                {"group": {"name": group, "domain": {"id": domain.id}}}
            ],
            "remote": [
                {"type": "openstack_user"},
                {"type": "openstack_project", "any_one_of": [project]}
            ]
        })
    };
    let mapping_id = "mercador-tests-a-mapping";
    let rules = vec![rule(&home_project, "k2k-members"), rule(&roleless_user.project, "k2k-empty")];
    ensure::ensure_mapping(&b, mapping_id, &NewMapping { schema_version: None, rules }).await.expect("mapping");
    ensure::ensure_protocol(
        &b,
        &idp_id,
        "saml2",
        &NewProtocol { mapping_id: mapping_id.into(), remote_id_attribute: None },
    )
    .await
    .expect("protocol");

    // ---- B's Shibboleth trusts A (dynamic metadata, no restart)
    let metadata = curl_get(tb.var("KEYSTONE_A_IDP_METADATA_URL"));
    let file = metadata_file(tb.var("KEYSTONE_B_SHIB_METADATA_DIR"), &entity_id);
    std::fs::write(&file, metadata).expect("write A's metadata for Shibboleth");

    // ---- A: service providers
    let sp_auth_url = format!("{b_url}/OS-FEDERATION/identity_providers/{idp_id}/protocols/saml2/auth");
    let sp_url = tb.var("KEYSTONE_B_ECP_URL").to_owned();
    let sp = |enabled: bool| NewServiceProvider {
        auth_url: sp_auth_url.clone(),
        sp_url: sp_url.clone(),
        enabled,
        description: Some("Keystone B (K2K test fixture)".into()),
        relay_state_prefix: None,
    };
    let sp_id = "mercador-tests-b".to_owned();
    let disabled_sp_id = "mercador-tests-b-disabled".to_owned();
    ensure::ensure_service_provider(&a, &sp_id, &sp(true)).await.expect("service provider");
    ensure::ensure_service_provider(&a, &disabled_sp_id, &sp(false)).await.expect("service provider");

    K2k {
        sp_id,
        disabled_sp_id,
        idp_id,
        domain_id: domain.id,
        domain_name,
        project_id: project.id,
        project_name: project.name,
        unmapped_user,
        roleless_user,
        sp_auth_url,
        sp_url,
        _turn: turn,
    }
}

fn curl_get(url: &str) -> String {
    let out = std::process::Command::new("curl").args(["-sf", url]).output().expect("run curl");
    assert!(out.status.success(), "GET {url} failed");
    String::from_utf8(out.stdout).expect("metadata is UTF-8")
}

//! Keystone-to-Keystone against the real testbed: alice of Keystone A obtains
//! tokens on Keystone B through B's Shibboleth SP, with mercador-core's K2K
//! client, cross-checked against keystoneauth1; and the failures a user can
//! meet, each with an actionable error.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::sync::Arc;

use mercador_core::k2k::{CloudId, Keystone2Keystone, MultiCloud};
use mercador_core::keystone::types::NewServiceProvider;
use mercador_core::keystone::{Credentials, ErrorKind, IdentityApi, KeystoneClient, Scope};
use mercador_tests::federation::K2k;
use mercador_tests::{Cloud, Testbed};
use secrecy::ExposeSecret;

#[tokio::test]
async fn alice_gets_a_project_token_on_b_that_b_validates() {
    let fx = K2k::get().await;
    let tb = Testbed::get();
    let clouds = MultiCloud::new(fx.alice());
    let on_b = clouds.session(&fx.sp_id, Scope::project(&fx.project_name, &fx.domain_name)).await.unwrap();
    let token = on_b.token().await.unwrap();

    assert!(token.is_federated(), "{token:?}");
    assert_eq!(token.project.as_ref().unwrap().id, fx.project_id);
    // member (and reader, which Keystone's bootstrap makes member imply), nothing more.
    let mut roles = token.role_names();
    roles.sort_unstable();
    assert_eq!(roles, vec!["member", "reader"]);
    let federation = token.user.federation.as_ref().unwrap();
    assert_eq!(federation.identity_provider.id, fx.idp_id);
    assert_eq!(federation.protocol.id, "saml2");
    // The catalog is B's.
    assert_eq!(on_b.auth_url(), &tb.url(Cloud::B));
    assert_eq!(on_b.endpoint("identity").await.unwrap(), tb.url(Cloud::B));
    // (Tests that run meanwhile may add throwaway regions to B's catalog.)
    let regions = token.catalog().regions();
    assert!(regions.contains(&tb.region(Cloud::B)), "B's region is missing from {regions:?}");
    assert!(!regions.contains(&tb.region(Cloud::A)), "A's region in B's catalog: {regions:?}");

    // B itself validates the token.
    let info = tb.admin(Cloud::B).validate_token(token.secret()).await.unwrap();
    assert_eq!(info.user.id, token.user.id);
    assert_eq!(info.project.unwrap().id, fx.project_id);
    assert!(info.user.federation.is_some());

    // The token works for API calls on B: alice lists her projects there.
    let projects = KeystoneClient::new(on_b.clone()).list_auth_projects().await.unwrap();
    assert_eq!(projects.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), vec![fx.project_id.as_str()]);
    // She cannot reach B's admin project, nor act as an admin.
    let e = clouds.session(&fx.sp_id, Scope::project("admin", "Default")).await.unwrap().token().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains(&fx.project_id), "lists the projects she can reach: {e}");
    let e = KeystoneClient::new(on_b).create_region(&Default::default()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Forbidden, "{e}");
}

#[tokio::test]
async fn same_user_project_and_roles_as_keystoneauth1() {
    let fx = K2k::get().await;
    let tb = Testbed::get();
    let clouds = MultiCloud::new(fx.alice());
    let ours = clouds.session(&fx.sp_id, Scope::project(&fx.project_name, &fx.domain_name)).await.unwrap();
    let ours = ours.token().await.unwrap();

    let (user, password, project) = tb.demo_user();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/k2k/keystoneauth_k2k.py");
    let out = std::process::Command::new(tb.var("TESTBED_PYTHON"))
        .arg(script)
        .args(["--idp-url", tb.url(Cloud::A).as_str(), "--user", &user, "--project", &project])
        .args(["--sp", &fx.sp_id, "--sp-project", &fx.project_name, "--sp-project-domain", &fx.domain_name])
        .env("K2K_PASSWORD", password.expose_secret())
        .output()
        .unwrap();
    assert!(out.status.success(), "keystoneauth1 K2K failed: {}", String::from_utf8_lossy(&out.stderr));
    let theirs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    assert_eq!(theirs["user_id"], ours.user.id.as_str());
    assert_eq!(theirs["user_name"], ours.user.name.as_deref().unwrap());
    assert_eq!(theirs["project_id"], ours.project.as_ref().unwrap().id.as_str());
    let mut roles = ours.role_names();
    roles.sort_unstable();
    assert_eq!(theirs["roles"], serde_json::json!(roles));
    assert_eq!(theirs["is_federated"], true);
}

#[tokio::test]
async fn federated_token_is_cached_and_rescoped() {
    let fx = K2k::get().await;
    let alice = fx.alice();
    let k2k = Arc::new(Keystone2Keystone::new(alice.clone(), &fx.sp_id).await.unwrap());
    let http = alice.http().clone();
    let first = k2k.unscoped_token().await.unwrap();
    assert!(first.is_unscoped() && first.is_federated());
    let again = k2k.unscoped_token().await.unwrap();
    assert!(Arc::ptr_eq(&first, &again), "the federated token is re-used");

    // Two scopes, one K2K login: each scope is a re-scoping of the cached token.
    let by_name = mercador_core::keystone::Session::with_http(
        http.clone(),
        k2k.clone(),
        Scope::project(&fx.project_name, &fx.domain_name),
    );
    let by_id =
        mercador_core::keystone::Session::with_http(http.clone(), k2k.clone(), Scope::project_id(&fx.project_id));
    let (t1, t2) = (by_name.token().await.unwrap(), by_id.token().await.unwrap());
    assert_eq!(t1.project.as_ref().unwrap().id, t2.project.as_ref().unwrap().id);
    assert!(Arc::ptr_eq(&first, &k2k.unscoped_token().await.unwrap()));
    // And the session re-uses its scoped token.
    assert!(Arc::ptr_eq(&t1, &by_name.token().await.unwrap()));

    // Concurrent callers on a new K2K method share one login.
    let fresh = Arc::new(Keystone2Keystone::new(alice.clone(), &fx.sp_id).await.unwrap());
    let tokens = futures::future::join_all((0..8).map(|_| {
        let fresh = fresh.clone();
        async move { fresh.unscoped_token().await.unwrap() }
    }))
    .await;
    assert!(tokens.windows(2).all(|w| Arc::ptr_eq(&w[0], &w[1])));
}

#[tokio::test]
async fn unknown_service_provider() {
    let fx = K2k::get().await;
    let e = Keystone2Keystone::new(fx.alice(), "no-such-sp").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let text = e.to_string();
    assert!(text.contains("no-such-sp") && text.contains("not registered"), "{text}");
}

#[tokio::test]
async fn disabled_service_provider() {
    let fx = K2k::get().await;
    let e = Keystone2Keystone::new(fx.alice(), &fx.disabled_sp_id).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Forbidden, "{e}");
    assert!(e.to_string().contains("disabled"), "{e}");
}

#[tokio::test]
async fn unscoped_identity_provider_token() {
    let fx = K2k::get().await;
    let tb = Testbed::get();
    let (user, password, _) = tb.demo_user();
    let unscoped = tb.session(Cloud::A, Credentials::password(user, "Default", password), Scope::Unscoped);
    let e = Keystone2Keystone::new(unscoped, &fx.sp_id).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("project-scoped"), "{e}");
}

#[tokio::test]
async fn mapping_that_matches_nothing_refuses_the_login() {
    let fx = K2k::get().await;
    let user = fx.unmapped_user.session();
    let k2k = Keystone2Keystone::new(user.clone(), &fx.sp_id).await.unwrap();
    let e = k2k.unscoped_token().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthenticationFailed, "{e}");
    let text = e.to_string();
    assert!(text.contains("refused the federated login") && text.contains("mapping"), "{text}");
    assert!(!text.contains(fx.unmapped_user.password.expose_secret()));
}

#[tokio::test]
async fn mapping_that_grants_no_role_leaves_no_project() {
    let fx = K2k::get().await;
    let clouds = MultiCloud::new(fx.roleless_user.session());
    // The login itself works (the mapping matches) ...
    let k2k = clouds.k2k(&fx.sp_id).await.unwrap();
    assert!(k2k.projects().await.unwrap().is_empty());
    // ... but there is nothing to scope to.
    let e = clouds.default_scope(&fx.sp_id).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("no project to scope to"), "{e}");
    let e = clouds.session(&fx.sp_id, Scope::project_id(&fx.project_id)).await.unwrap().token().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("projects it can scope to: none"), "{e}");
}

#[tokio::test]
async fn aggregated_catalogs_and_projects_survive_a_dead_cloud() {
    let fx = K2k::get().await;
    let tb = Testbed::get();
    // A second, enabled service provider whose SAML endpoint is dead.
    let a = tb.admin(Cloud::A);
    let dead = mercador_tests::unique("mercador-tests-dead");
    a.create_service_provider(
        &dead,
        &NewServiceProvider {
            auth_url: "http://127.0.0.1:9/v3/OS-FEDERATION/identity_providers/x/protocols/saml2/auth".into(),
            sp_url: "http://127.0.0.1:9/Shibboleth.sso/SAML2/ECP".into(),
            enabled: true,
            description: None,
            relay_state_prefix: None,
        },
    )
    .await
    .unwrap();

    let clouds = MultiCloud::new(fx.alice());
    let catalogs = clouds.catalogs().await;
    let projects = clouds.projects().await;
    a.delete_service_provider(&dead).await.unwrap();
    let catalogs = catalogs.unwrap();
    let projects = projects.unwrap();

    let find = |id: CloudId| catalogs.iter().find(|c| c.cloud == id).unwrap();
    let home = find(CloudId::Home);
    // Each catalog is its own cloud's (tests that run meanwhile may add
    // regions, e.g. bound vregions to A's, throwaway ones to B's).
    let (region_a, region_b) = (tb.region(Cloud::A), tb.region(Cloud::B));
    let home_regions = home.result.as_ref().unwrap().regions();
    assert!(home_regions.contains(&region_a) && !home_regions.contains(&region_b), "A's catalog: {home_regions:?}");
    let b = find(CloudId::ServiceProvider(fx.sp_id.clone()));
    let b_regions = b.result.as_ref().unwrap().regions();
    assert!(b_regions.contains(&region_b) && !b_regions.contains(&region_a), "B's catalog: {b_regions:?}");
    assert_eq!(b.keystone.as_ref(), Some(&tb.url(Cloud::B)));
    let down = find(CloudId::ServiceProvider(dead.clone()));
    let e = down.result.as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.to_string().contains("127.0.0.1:9"), "{e}");
    assert!(catalogs.iter().all(|c| c.cloud != CloudId::ServiceProvider(fx.disabled_sp_id.clone())));

    let b_projects = projects.iter().find(|p| p.cloud == CloudId::ServiceProvider(fx.sp_id.clone())).unwrap();
    assert_eq!(b_projects.result.as_ref().unwrap()[0].id, fx.project_id);
    let home_projects = projects.iter().find(|p| p.cloud == CloudId::Home).unwrap();
    assert!(home_projects.result.as_ref().unwrap().iter().any(|p| p.name == tb.demo_user().2));
}

#[tokio::test]
async fn the_openstack_cli_sees_the_same_service_provider() {
    let fx = K2k::get().await;
    let tb = Testbed::get();
    let listed = tb.openstack(Cloud::A, &["service", "provider", "list", "-f", "value", "-c", "ID", "-c", "Enabled"]);
    assert!(listed.lines().any(|l| l == format!("{} True", fx.sp_id)), "{listed}");
    // And alice's K2K token through the openstack CLI lands in the same project.
    let project_id = tb.openstack_as(
        "testbed-a-alice",
        &mercador_tests::k2k_token_project_id_args(&fx.sp_id, &fx.project_name, &fx.domain_name),
    );
    assert_eq!(project_id.trim(), fx.project_id);
    let sps = tb.admin(Cloud::A).list_service_providers().await.unwrap();
    assert!(sps.iter().any(|sp| sp.id == fx.sp_id && sp.auth_url == fx.sp_auth_url && sp.sp_url == fx.sp_url));
}

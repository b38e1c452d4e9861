//! Authentication against the real Keystone A: password with every scope,
//! token re-scoping, application credentials, clouds.yaml and `OS_*` loading.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use mercador_core::ErrorKind;
use mercador_core::keystone::ensure::ensure_application_credential;
use mercador_core::keystone::types::{Actor, Filter, NewApplicationCredential, Target};
use mercador_core::keystone::{
    CloudConfig, Credentials, EndpointFilter, IdentityApi, KeystoneClient, Outcome, Scope, Session, Token,
};
use mercador_tests::{Cloud, Testbed, unique};
use secrecy::{ExposeSecret, SecretString};

use crate::common::{self, Cleanup, expect_err};

/// What every freshly issued token must satisfy.
#[track_caller]
fn assert_fresh(token: &Token) {
    let now = Utc::now();
    assert!(
        token.expires_at > now + chrono::Duration::minutes(5),
        "token expires at {}, now is {now}",
        token.expires_at
    );
    let issued = token.issued_at.expect("issued_at");
    assert!(issued <= now + chrono::Duration::seconds(30), "issued_at {issued} is in the future (now {now})");
    assert!(issued < token.expires_at);
    assert!(token.valid_for(Duration::from_secs(60)));
    assert!(!token.audit_ids.is_empty());
    assert_eq!(token.user.name.as_deref(), Some("admin"));
    assert_eq!(token.user.domain.as_ref().map(|d| d.id.as_str()), Some("default"));
    assert!(!token.is_federated());
}

#[tokio::test]
async fn password_with_every_scope() {
    // Writes only to set up and clean up; the authentications read.
    let mut writes = Some(common::writing_to(Cloud::A).await);
    let tb = Testbed::get();
    let admin = tb.admin(Cloud::A);
    let c = Cleanup::new();
    c.clone()
        .run(async {
            // Project scope (what Testbed::admin uses).
            let project = admin.session().token().await.unwrap();
            assert_fresh(&project);
            assert_eq!(project.methods, ["password"]);
            assert!(project.is_project_scoped());
            assert!(!project.is_domain_scoped() && !project.is_system_scoped() && !project.is_unscoped());
            let p = project.project.as_ref().unwrap();
            assert_eq!(p.name.as_deref(), Some("admin"));
            assert_eq!(p.domain.as_ref().map(|d| d.id.as_str()), Some("default"));
            assert!(project.has_role("admin"), "roles: {:?}", project.role_names());
            assert!(!project.catalog().services.is_empty());
            let admin_role = project.roles.iter().find(|r| r.name.as_deref() == Some("admin")).unwrap().id.clone();

            // Domain scope: the bootstrap admin has no role on a domain; give it
            // one on a test domain (deleted at the end, with the assignment).
            let d = common::domain(&admin, &c, "auth-dom").await;
            admin
                .grant_role(&admin_role, &Actor::User(project.user.id.clone()), &Target::Domain(d.id.clone()))
                .await
                .unwrap();
            writes = None;

            let by_scope = |scope: Scope| async move {
                tb.session(Cloud::A, tb.admin_credentials(Cloud::A), scope).token().await.unwrap()
            };
            let (domain, system, unscoped) = tokio::join!(
                by_scope(Scope::domain(d.name.clone())),
                by_scope(Scope::System),
                by_scope(Scope::Unscoped)
            );

            assert_fresh(&domain);
            assert!(domain.is_domain_scoped() && !domain.is_project_scoped() && !domain.is_system_scoped());
            assert_eq!(domain.domain.as_ref().map(|x| x.id.as_str()), Some(d.id.as_str()));
            assert_eq!(domain.domain.as_ref().and_then(|x| x.name.as_deref()), Some(d.name.as_str()));
            // admin implies manager, member and reader (bootstrap's implied roles).
            for role in ["admin", "manager", "member", "reader"] {
                assert!(domain.has_role(role), "{role} missing from {:?}", domain.role_names());
            }

            assert_fresh(&system);
            assert!(system.is_system_scoped() && !system.is_project_scoped() && !system.is_domain_scoped());
            assert_eq!(system.system, Some(serde_json::json!({"all": true})));
            assert!(system.has_role("admin"), "roles: {:?}", system.role_names());

            assert_fresh(&unscoped);
            assert!(unscoped.is_unscoped());
            assert!(unscoped.roles.is_empty(), "{:?}", unscoped.roles);
            assert!(unscoped.catalog().services.is_empty());
            assert_eq!(unscoped.user.id, project.user.id);

            // Token method: re-scope the unscoped token to the admin project.
            let rescoped = tb
                .session(
                    Cloud::A,
                    Credentials::Token { token: unscoped.secret().clone() },
                    Scope::project("admin", "Default"),
                )
                .token()
                .await
                .unwrap();
            assert_fresh(&rescoped);
            assert!(rescoped.methods.iter().any(|m| m == "token"), "methods {:?}", rescoped.methods);
            assert!(rescoped.methods.iter().any(|m| m == "password"), "methods {:?}", rescoped.methods);
            assert_eq!(rescoped.project.as_ref().map(|p| &p.id), Some(&p.id));
            assert!(rescoped.has_role("admin"));
            // A re-scoped token never outlives the token it came from, and
            // belongs to its audit chain.
            assert!(rescoped.expires_at <= unscoped.expires_at);
            assert_eq!(rescoped.audit_ids.get(1), unscoped.audit_ids.first(), "audit chain");
            assert_ne!(rescoped.secret().expose_secret(), unscoped.secret().expose_secret());
            writes = Some(common::writing_to(Cloud::A).await); // for the cleanup
        })
        .await;
}

#[tokio::test]
async fn application_credential_lifecycle() {
    let _writes = common::writing_to(Cloud::A).await;
    let tb = Testbed::get();
    let admin = common::admin(Cloud::A);
    let c = Cleanup::new();
    c.clone()
        .run(async {
            let token = admin.session().token().await.unwrap();
            let user_id = token.user.id.clone();
            let project_id = token.project.as_ref().unwrap().id.clone();
            let name = unique("appcred");
            let created = admin
                .create_application_credential(
                    &user_id,
                    &NewApplicationCredential {
                        name: name.clone(),
                        description: Some("mercador test".into()),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            let ac_id = created.id.clone();
            {
                let (user_id, ac_id) = (user_id.clone(), ac_id.clone());
                c.defer(format!("application credential {name}"), &admin, move |k| async move {
                    k.delete_application_credential(&user_id, &ac_id).await
                });
            }
            assert_eq!(created.name, name);
            assert_eq!(created.project_id, project_id);
            assert!(!created.unrestricted);
            assert!(created.roles.iter().any(|r| r.name.as_deref() == Some("admin")), "{:?}", created.roles);
            let secret = created.secret.clone().expect("the creation answer holds the secret");
            assert!(!secret.expose_secret().is_empty());
            assert!(!format!("{created:?}").contains(secret.expose_secret()), "Debug must redact the secret");

            // get and list (by name) show it, never the secret again.
            let got = admin.get_application_credential(&user_id, &ac_id).await.unwrap();
            assert_eq!(got.name, name);
            assert_eq!(got.description.as_deref(), Some("mercador test"));
            assert!(got.secret.is_none());
            let listed = admin.list_application_credentials(&user_id, &Filter::new().name(&name)).await.unwrap();
            assert_eq!(listed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), [ac_id.as_str()]);
            assert!(listed[0].secret.is_none());

            // Authenticate with it: the token is bound to its project.
            let ac_session =
                tb.session(Cloud::A, Credentials::application_credential(&ac_id, secret.clone()), Scope::Unscoped);
            let ac_token = ac_session.token().await.unwrap();
            assert_eq!(ac_token.methods, ["application_credential"]);
            assert_eq!(ac_token.user.id, user_id);
            assert_eq!(ac_token.project.as_ref().map(|p| p.id.as_str()), Some(project_id.as_str()));
            let info = ac_token.application_credential.as_ref().expect("application_credential in the token");
            assert_eq!(info["id"], serde_json::json!(ac_id));
            assert_eq!(info["name"], serde_json::json!(name));
            assert!(ac_token.has_role("admin"));
            // The token works for API calls.
            let ac_client = KeystoneClient::new(ac_session.clone());
            let regions = ac_client.list_regions(&Filter::new()).await.unwrap();
            assert!(regions.iter().any(|r| r.id == tb.region(Cloud::A)));
            // A scope cannot be forced on an application credential.
            let forced = tb.session(
                Cloud::A,
                Credentials::application_credential(&ac_id, secret.clone()),
                Scope::project("admin", "Default"),
            );
            expect_err(forced.token().await, ErrorKind::InvalidInput);

            // ensure_application_credential adopts it by name (without the secret).
            let want = NewApplicationCredential { name: name.clone(), ..Default::default() };
            let adopted = ensure_application_credential(&admin, &user_id, &want).await.unwrap();
            assert_eq!(adopted.outcome, Outcome::Adopted);
            assert_eq!(adopted.object.id, ac_id);
            assert!(adopted.object.secret.is_none());

            // Delete it: it is gone, and it no longer authenticates.
            admin.delete_application_credential(&user_id, &ac_id).await.unwrap();
            common::expect_gone(admin.get_application_credential(&user_id, &ac_id).await);
            assert!(admin.list_application_credentials(&user_id, &Filter::new().name(&name)).await.unwrap().is_empty());
            let again =
                tb.session(Cloud::A, Credentials::application_credential(&ac_id, secret.clone()), Scope::Unscoped);
            let e = expect_err(again.token().await, ErrorKind::AuthenticationFailed);
            // Keystone answers 404 for an unknown application credential.
            assert_eq!(e.status(), Some(404), "{e}");
            assert!(e.to_string().contains(&format!("Could not find Application Credential: {ac_id}")), "{e}");
            assert!(!e.to_string().contains(secret.expose_secret()), "{e}");
            // Tokens it issued die with it.
            let e = expect_err(admin.validate_token(ac_token.secret()).await, ErrorKind::NotFound);
            assert!(!e.to_string().contains(ac_token.secret().expose_secret()), "the error shows the token: {e}");

            // Now ensure_application_credential creates a new one, with a new secret.
            let created = ensure_application_credential(&admin, &user_id, &want).await.unwrap();
            let new_id = created.object.id.clone();
            {
                let user_id = user_id.clone();
                let new_id = new_id.clone();
                c.defer(format!("application credential {name} (2)"), &admin, move |k| async move {
                    k.delete_application_credential(&user_id, &new_id).await
                });
            }
            assert_eq!(created.outcome, Outcome::Created);
            assert_ne!(new_id, ac_id);
            assert_eq!(created.object.project_id, project_id);
            let new_secret = created.object.secret.clone().expect("a created credential comes with its secret");
            assert_ne!(new_secret.expose_secret(), secret.expose_secret());
            let again = ensure_application_credential(&admin, &user_id, &want).await.unwrap();
            assert_eq!((again.outcome, again.object.id.as_str()), (Outcome::Adopted, new_id.as_str()));
            admin.delete_application_credential(&user_id, &new_id).await.unwrap();
            common::expect_gone(admin.get_application_credential(&user_id, &new_id).await);
        })
        .await;
}

#[tokio::test]
async fn validate_a_member_token() {
    let tb = Testbed::get();
    let admin = common::admin(Cloud::A);
    let (user, password, project) = tb.demo_user();
    let alice =
        tb.session(Cloud::A, Credentials::password(&user, "Default", password), Scope::project(&project, "Default"));
    let (alice_token, admin_token) = tokio::join!(alice.token(), admin.session().token());
    let (alice_token, admin_token) = (alice_token.unwrap(), admin_token.unwrap());

    let info = admin.validate_token(alice_token.secret()).await.unwrap();
    assert_eq!(info.user.name.as_deref(), Some(user.as_str()));
    assert_eq!(info.user.id, alice_token.user.id);
    assert_eq!(info.project.as_ref().and_then(|p| p.name.as_deref()), Some(project.as_str()));
    assert!(info.has_role("member"), "roles: {:?}", info.role_names());
    assert!(!info.has_role("admin"), "roles: {:?}", info.role_names());
    assert_eq!(info.methods, ["password"]);
    assert_eq!(info.expires_at, alice_token.expires_at);
    assert_eq!(info.audit_ids, alice_token.audit_ids);
    assert_ne!(info.user.id, admin_token.user.id);

    // A token may validate itself; alice may not validate the admin's token.
    let alice_client = KeystoneClient::new(alice.clone());
    let own = alice_client.validate_token(alice_token.secret()).await.unwrap();
    assert_eq!(own.user.id, alice_token.user.id);
    let e = expect_err(alice_client.validate_token(admin_token.secret()).await, ErrorKind::Forbidden);
    assert!(!e.to_string().contains(admin_token.secret().expose_secret()), "{e}");

    // Garbage is NotFound, and the error does not echo it.
    let garbage = SecretString::from(format!("gAAAAAB{}", unique("not-a-token").replace('-', "")));
    let e = expect_err(admin.validate_token(&garbage).await, ErrorKind::NotFound);
    assert!(!e.to_string().contains(garbage.expose_secret()), "the error shows the token: {e}");
}

#[tokio::test]
async fn catalog_lookup() {
    let tb = Testbed::get();
    let session = tb.admin_session(Cloud::A);
    let a_url = tb.url(Cloud::A);

    let identity = session.endpoint("identity").await.unwrap();
    assert_eq!(identity, a_url);
    let token = session.token().await.unwrap();
    let filter = EndpointFilter::new("identity").region(tb.region(Cloud::A));
    assert_eq!(token.catalog().url(&filter).unwrap(), &a_url);
    assert!(token.catalog().regions().contains(&tb.region(Cloud::A)));

    // A region the catalog does not have.
    let e = expect_err(
        token.catalog().url(&EndpointFilter::new("identity").region("NoSuchRegion")).map(|u| u.to_string()),
        ErrorKind::NotFound,
    );
    let msg = e.to_string();
    assert!(msg.contains("NoSuchRegion") && msg.contains(&format!("public in {}", tb.region(Cloud::A))), "{msg}");

    // A service type the catalog does not have.
    let e = expect_err(session.endpoint("no-such-service-type").await, ErrorKind::NotFound);
    let msg = e.to_string();
    assert!(msg.contains("\"no-such-service-type\""), "{msg}");
    assert!(msg.contains("it has: ") && msg.contains("identity"), "{msg}");
    assert_eq!(e.status(), None, "a catalog miss is local: {msg}");
}

#[tokio::test]
async fn clouds_yaml_sessions() {
    let tb = Testbed::get();
    let path = tb.clouds_yaml();

    let a = CloudConfig::from_clouds_yaml("testbed-a", Some(&path)).unwrap();
    assert_eq!(a.name.as_deref(), Some("testbed-a"));
    assert_eq!(a.region_name.as_deref(), Some(tb.region(Cloud::A)));
    assert_eq!(a.scope, Scope::project("admin", "Default"));
    let alice = CloudConfig::from_clouds_yaml("testbed-a-alice", Some(&path)).unwrap();
    let (a_session, alice_session) = (a.session().unwrap(), alice.session().unwrap());
    let (a_token, alice_token) = tokio::join!(a_session.token(), alice_session.token());
    let (a_token, alice_token) = (a_token.unwrap(), alice_token.unwrap());

    assert_eq!(a_token.user.name.as_deref(), Some("admin"));
    assert!(a_token.has_role("admin"));
    assert_eq!(a_session.endpoint("identity").await.unwrap(), tb.url(Cloud::A));
    let regions = KeystoneClient::new(std::sync::Arc::new(a_session)).list_regions(&Filter::new()).await.unwrap();
    assert!(regions.iter().any(|r| r.id == tb.region(Cloud::A)));

    let (demo_user, _, demo_project) = tb.demo_user();
    assert_eq!(alice_token.user.name.as_deref(), Some(demo_user.as_str()));
    assert_eq!(alice_token.project.as_ref().and_then(|p| p.name.as_deref()), Some(demo_project.as_str()));
    assert!(alice_token.has_role("member") && !alice_token.has_role("admin"));

    let e = expect_err(CloudConfig::from_clouds_yaml("no-such-cloud", Some(&path)), ErrorKind::Configuration);
    assert!(e.to_string().contains("testbed-a-alice"), "{e}");
    assert!(!e.to_string().contains(tb.admin_password(Cloud::A).expose_secret()), "{e}");
}

#[tokio::test]
async fn os_environment_variables() {
    let tb = Testbed::get();
    let password = tb.admin_password(Cloud::A);
    let vars: BTreeMap<&str, String> = [
        ("OS_AUTH_URL", tb.url(Cloud::A).to_string()),
        ("OS_USERNAME", "admin".to_owned()),
        ("OS_PASSWORD", password.expose_secret().to_owned()),
        ("OS_USER_DOMAIN_NAME", "Default".to_owned()),
        ("OS_SYSTEM_SCOPE", "all".to_owned()),
        ("OS_REGION_NAME", tb.region(Cloud::A).to_owned()),
        ("OS_INTERFACE", "public".to_owned()),
        ("OS_IDENTITY_API_VERSION", "3".to_owned()),
    ]
    .into_iter()
    .collect();
    let config = CloudConfig::from_vars(|k| vars.get(k).cloned()).unwrap();
    assert_eq!(config.scope, Scope::System);
    assert!(!format!("{config:?}").contains(password.expose_secret()));
    let session: Session = config.session().unwrap();
    let token = session.token().await.unwrap();
    assert!(token.is_system_scoped());
    assert!(token.has_role("admin"));
    assert_eq!(session.endpoint("identity").await.unwrap(), tb.url(Cloud::A));
}

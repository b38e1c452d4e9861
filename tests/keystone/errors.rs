//! Error kinds from real Keystone answers, with Keystone's own messages, and
//! no secret in any error message.

use std::sync::Arc;

use mercador_core::keystone::types::{NewDomain, NewRegion, NewUser};
use mercador_core::keystone::{Credentials, DirectAuth, IdentityApi, KeystoneClient, Scope, Session};
use mercador_core::{Error, ErrorKind};
use mercador_tests::{Cloud, Testbed, unique};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::common::{self, Cleanup, expect_err};

/// Asserts that the error's message shows none of `secrets`.
#[track_caller]
fn assert_no_secret(e: &Error, secrets: &[&SecretString]) {
    let shown = format!("{e} {e:?}");
    for s in secrets {
        assert!(!shown.contains(s.expose_secret()), "the error shows a secret: {shown}");
    }
}

#[tokio::test]
async fn unauthorized_wrong_password_or_bad_token() {
    // A failed password authentication writes (Keystone counts the failures on
    // the user, and the next successful one resets the count): use a user of
    // this test's own, not one other tests authenticate as.
    let _writes = common::writing_to(Cloud::A).await;
    let tb = Testbed::get();
    let k = common::admin(Cloud::A);
    let c = Cleanup::new();
    c.clone()
        .run(async {
            let name = unique("wrong-pw-user");
            let right = SecretString::from(unique("right-password"));
            let user = k
                .create_user(&NewUser {
                    name: name.clone(),
                    domain_id: "default".into(),
                    password: Some(right.clone()),
                    description: None,
                    default_project_id: None,
                    enabled: true,
                })
                .await
                .unwrap();
            c.defer(format!("user {name}"), &k, move |k| async move { k.delete_user(&user.id).await });

            let wrong = SecretString::from(unique("wrong-password"));
            let bad_token = SecretString::from(format!("gAAAAAB{}", unique("bogus").replace('-', "")));
            let by_password =
                tb.session(Cloud::A, Credentials::password(&name, "Default", wrong.clone()), Scope::Unscoped);
            let by_token = tb.session(
                Cloud::A,
                Credentials::Token { token: bad_token.clone() },
                Scope::project("admin", "Default"),
            );
            let (by_password, by_token) = tokio::join!(by_password.token(), by_token.token());
            let auth_tokens = format!("{}/auth/tokens", tb.url(Cloud::A));
            // A wrong password: 401. An unknown token: Keystone answers 404,
            // which is still a refused authentication for the caller.
            for (result, secret, status, keystone_says) in [
                (by_password, &wrong, 401, "The request you have made requires authentication."),
                (by_token, &bad_token, 404, "Could not recognize Fernet token"),
            ] {
                let e = expect_err(result, ErrorKind::AuthenticationFailed);
                assert_eq!(e.status(), Some(status), "{e}");
                let msg = e.to_string();
                assert!(msg.starts_with(&format!("POST {auth_tokens}: HTTP {status}: {keystone_says}")), "{msg}");
                assert!(msg.contains("check the user name, password"), "the hint is missing: {msg}");
                assert_no_secret(&e, &[secret, &right]);
            }
        })
        .await;
}

#[tokio::test]
async fn forbidden_for_a_member() {
    let tb = Testbed::get();
    let (user, password, project) = tb.demo_user();
    let alice = KeystoneClient::new(tb.session(
        Cloud::A,
        Credentials::password(&user, "Default", password.clone()),
        Scope::project(&project, "Default"),
    ));
    let region = unique("forbidden-region");
    let e = expect_err(
        alice.create_region(&NewRegion { id: Some(region.clone()), description: None, parent_region_id: None }).await,
        ErrorKind::Forbidden,
    );
    assert_eq!(e.status(), Some(403));
    let msg = e.to_string();
    assert!(msg.contains(&format!("PUT {}/regions/{region}: HTTP 403: ", tb.url(Cloud::A))), "{msg}");
    assert!(msg.contains("identity:create_region"), "Keystone names the policy: {msg}");
    assert!(msg.contains("lacks a role"), "the hint is missing: {msg}");
    let token = alice.session().token().await.unwrap();
    assert_no_secret(&e, &[&password, token.secret()]);
    // Nothing was created.
    common::expect_gone(common::admin(Cloud::A).get_region(&region).await);
}

#[tokio::test]
async fn not_found_conflict_and_invalid_input() {
    let _writes = common::writing_to(Cloud::A).await;
    let tb = Testbed::get();
    let k = common::admin(Cloud::A);
    let c = Cleanup::new();
    c.clone()
        .run(async {
            // 404 with Keystone's message.
            let missing = unique("missing");
            let e = common::expect_gone(k.get_project(&missing).await);
            let msg = e.to_string();
            assert!(msg.contains(&format!("GET {}/projects/{missing}: HTTP 404: ", tb.url(Cloud::A))), "{msg}");
            assert!(msg.contains(&format!("Could not find project: {missing}.")), "{msg}");
            assert!(e.is_not_found() && !e.is_conflict());

            // 409: a domain name is unique.
            let d = common::domain(&k, &c, "conflict-dom").await;
            let e = expect_err(
                k.create_domain(&NewDomain { name: d.name.clone(), description: None, enabled: true }).await,
                ErrorKind::Conflict,
            );
            assert_eq!(e.status(), Some(409));
            assert!(e.is_conflict());
            let msg = e.to_string();
            // Keystone stores a domain as a project acting as a domain, and says so.
            assert!(msg.contains("Conflict occurred attempting to store"), "{msg}");
            assert!(msg.contains(&format!("two projects acting as domains with the same name: {}", d.name)), "{msg}");

            // 400: Keystone's schema refuses an empty name.
            let e =
                expect_err(k.create_project(&common::new_project(String::new(), &d.id)).await, ErrorKind::InvalidInput);
            assert_eq!(e.status(), Some(400));
            let msg = e.to_string();
            assert!(msg.contains("Invalid input for field/attribute name."), "{msg}");
            assert!(
                k.list_projects(&mercador_core::keystone::types::Filter::new().domain_id(&d.id))
                    .await
                    .unwrap()
                    .is_empty()
            );
            // ... also when the body holds a password, which the message must not show.
            let password = SecretString::from(unique("pw-not-shown"));
            let e = expect_err(
                k.create_user(&NewUser {
                    name: String::new(),
                    domain_id: d.id.clone(),
                    password: Some(password.clone()),
                    description: None,
                    default_project_id: None,
                    enabled: true,
                })
                .await,
                ErrorKind::InvalidInput,
            );
            assert_eq!(e.status(), Some(400));
            assert_no_secret(&e, &[&password]);
            // A project in an unknown domain is refused too (not found or invalid).
            let e = k.create_project(&common::new_project(unique("orphan"), &unique("nodomain"))).await.unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::NotFound | ErrorKind::InvalidInput), "{e}");
            // An empty id is refused before anything is sent.
            let e = expect_err(k.get_project("").await, ErrorKind::InvalidInput);
            assert_eq!(e.status(), None);
            let token = k.session().token().await.unwrap();
            assert_no_secret(&e, &[token.secret(), &tb.admin_password(Cloud::A)]);
        })
        .await;
}

#[tokio::test]
async fn unreachable_keystone() {
    let tb = Testbed::get();
    let password = tb.admin_password(Cloud::A);
    let url = Url::parse("http://127.0.0.1:1/v3").unwrap();
    let auth = DirectAuth::new(&url, Credentials::password("admin", "Default", password.clone())).unwrap();
    let session = Arc::new(Session::new(Arc::new(auth), Scope::project("admin", "Default")).unwrap());
    let e = expect_err(session.token().await, ErrorKind::Unavailable);
    assert_eq!(e.status(), None);
    let msg = e.to_string();
    assert!(msg.starts_with("POST http://127.0.0.1:1/v3/auth/tokens: "), "{msg}");
    assert!(msg.to_ascii_lowercase().contains("connect"), "the cause is shown: {msg}");
    assert!(msg.contains("check that Keystone is running"), "the hint is missing: {msg}");
    assert_no_secret(&e, &[&password]);
    // API calls through the session fail the same way.
    let e = expect_err(KeystoneClient::new(session).get_project("x").await, ErrorKind::Unavailable);
    assert_no_secret(&e, &[&password]);
}

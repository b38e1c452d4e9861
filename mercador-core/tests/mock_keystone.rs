//! Request and response shapes of the Keystone client against a mock HTTP
//! server (wiremock on 127.0.0.1). The real Keystones are exercised by the
//! integration tests in the workspace's top-level `tests/`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mercador_core::keystone::ensure::{self, Outcome};
use mercador_core::keystone::types::{Filter, NewDomain, NewMapping};
use mercador_core::keystone::{Credentials, DirectAuth, ErrorKind, IdentityApi, KeystoneClient, Scope, Session};
use secrecy::SecretString;
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn token_body(expires_in: i64) -> Value {
    json!({"token": {
        "methods": ["password"],
        "user": {"id": "u1", "name": "admin", "domain": {"id": "default", "name": "Default"}},
        "expires_at": (chrono::Utc::now() + chrono::Duration::seconds(expires_in)).to_rfc3339(),
        "project": {"id": "p1", "name": "admin", "domain": {"id": "default", "name": "Default"}},
        "roles": [{"id": "r1", "name": "admin"}],
        "catalog": [{"id": "s1", "type": "identity", "endpoints": [
            {"id": "e1", "interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": "http://127.0.0.1:1/v3"}
        ]}]
    }})
}

/// Answers each auth with a new token `tok-<n>`, after an optional delay.
struct Issuing {
    n: AtomicU32,
    expires_in: i64,
    delay: Duration,
}

fn issuing(expires_in: i64) -> Issuing {
    Issuing { n: AtomicU32::new(0), expires_in, delay: Duration::ZERO }
}

impl Respond for Issuing {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let i = self.n.fetch_add(1, Ordering::SeqCst);
        ResponseTemplate::new(201)
            .insert_header("X-Subject-Token", format!("tok-{i}").as_str())
            .set_body_json(token_body(self.expires_in))
            .set_delay(self.delay)
    }
}

fn session(server: &MockServer) -> Arc<Session> {
    let url = Url::parse(&server.uri()).unwrap();
    let auth = DirectAuth::new(&url, Credentials::password("admin", "Default", SecretString::from("pw-123"))).unwrap();
    Arc::new(Session::new(Arc::new(auth), Scope::project("admin", "Default")).unwrap())
}

async fn auth_requests(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v3/auth/tokens" && r.method.as_str() == "POST")
        .count()
}

#[tokio::test]
async fn password_auth_request_shape_and_token_reuse() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .and(body_json(json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"name": "Default"}, "password": "pw-123"}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}
        }})))
        .respond_with(issuing(3600))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/regions"))
        .and(header("X-Auth-Token", "tok-0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"regions": [{"id": "RegionOne"}]})))
        .mount(&server)
        .await;

    let keystone = KeystoneClient::new(session(&server));
    for _ in 0..5 {
        let regions = keystone.list_regions(&Filter::new()).await.unwrap();
        assert_eq!(regions[0].id, "RegionOne");
    }
    assert_eq!(auth_requests(&server).await, 1, "the token is re-used");
    let token = keystone.session().token().await.unwrap();
    assert!(token.is_project_scoped());
    assert_eq!(keystone.session().endpoint("identity").await.unwrap().as_str(), "http://127.0.0.1:1/v3");
}

#[tokio::test]
async fn concurrent_callers_share_one_authentication() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .respond_with(Issuing { delay: Duration::from_millis(200), ..issuing(3600) })
        .mount(&server)
        .await;
    let s = session(&server);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.token().await.map(|t| t.expires_at()) })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(auth_requests(&server).await, 1);
}

#[tokio::test]
async fn near_expiry_token_is_renewed() {
    let server = MockServer::start().await;
    // Expires in 30 s: inside the 60 s margin, so every call re-authenticates.
    Mock::given(method("POST")).and(path("/v3/auth/tokens")).respond_with(issuing(30)).mount(&server).await;
    let s = session(&server);
    s.token().await.unwrap();
    s.token().await.unwrap();
    assert_eq!(auth_requests(&server).await, 2);
}

#[tokio::test]
async fn a_401_triggers_one_reauthentication_and_a_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v3/auth/tokens")).respond_with(issuing(3600)).mount(&server).await;
    // The first token is refused (revoked behind our back); the second works.
    Mock::given(method("GET"))
        .and(path("/v3/domains"))
        .and(header("X-Auth-Token", "tok-0"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {
            "code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/domains"))
        .and(header("X-Auth-Token", "tok-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"domains": []})))
        .mount(&server)
        .await;
    let keystone = KeystoneClient::new(session(&server));
    keystone.session().token().await.unwrap();
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let k = keystone.clone();
            tokio::spawn(async move { k.list_domains(&Filter::new()).await })
        })
        .collect();
    for c in calls {
        assert!(c.await.unwrap().unwrap().is_empty());
    }
    assert_eq!(auth_requests(&server).await, 2, "concurrent 401s lead to a single re-authentication");
}

#[tokio::test]
async fn error_kinds_messages_and_no_secrets() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {
            "code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}})))
        .mount(&server)
        .await;
    let err = session(&server).token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AuthenticationFailed);
    let text = err.to_string();
    assert!(text.contains(&format!("POST {}/v3/auth/tokens: HTTP 401", server.uri())), "{text}");
    assert!(text.contains("requires authentication"), "{text}");
    assert!(text.contains("check the user name, password"), "{text}");
    assert!(!text.contains("pw-123") && !format!("{err:?}").contains("pw-123"));

    // 403, 404, 409 on admin calls.
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v3/auth/tokens")).respond_with(issuing(3600)).mount(&server).await;
    for (p, code) in [("/v3/regions/forbidden", 403u16), ("/v3/regions/missing", 404), ("/v3/regions/busy", 409)] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(
                ResponseTemplate::new(code)
                    .set_body_json(json!({"error": {"code": code, "message": format!("keystone says {code}")}})),
            )
            .mount(&server)
            .await;
    }
    let keystone = KeystoneClient::new(session(&server));
    for (id, kind) in
        [("forbidden", ErrorKind::Forbidden), ("missing", ErrorKind::NotFound), ("busy", ErrorKind::Conflict)]
    {
        let e = keystone.get_region(id).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{e}");
        assert!(e.to_string().contains("keystone says"), "{e}");
        assert!(!e.to_string().contains("tok-0"), "{e}");
    }
}

#[tokio::test]
async fn unreachable_keystone_is_unavailable() {
    let url = Url::parse("http://127.0.0.1:1/v3").unwrap();
    let auth = DirectAuth::new(&url, Credentials::Token { token: SecretString::from("t") }).unwrap();
    let err = Session::new(Arc::new(auth), Scope::Unscoped).unwrap().token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
}

#[tokio::test]
async fn federation_objects_are_put_on_their_id_and_ensure_adopts() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v3/auth/tokens")).respond_with(issuing(3600)).mount(&server).await;
    let rules = vec![json!({"local": [{"user": {"name": "{0}"}}], "remote": [{"type": "openstack_user"}]})];
    // First get: 404, then PUT creates; the next get finds it.
    Mock::given(method("GET"))
        .and(path("/v3/OS-FEDERATION/mappings/m%20one"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"error": {"code": 404, "message": "Could not find mapping"}})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v3/OS-FEDERATION/mappings/m%20one"))
        .and(body_json(json!({"mapping": {"rules": rules.clone()}})))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"mapping": {"id": "m one", "rules": rules.clone()}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/OS-FEDERATION/mappings/m%20one"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"mapping": {"id": "m one", "rules": rules.clone()}})),
        )
        .mount(&server)
        .await;
    let keystone = KeystoneClient::new(session(&server));
    let mapping = NewMapping { schema_version: None, rules };
    let first = ensure::ensure_mapping(&keystone, "m one", &mapping).await.unwrap();
    assert_eq!(first.outcome, Outcome::Created);
    let second = ensure::ensure_mapping(&keystone, "m one", &mapping).await.unwrap();
    assert_eq!(second.outcome, Outcome::Adopted);
}

#[tokio::test]
async fn ensure_adopts_the_winner_of_a_creation_race() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v3/auth/tokens")).respond_with(issuing(3600)).mount(&server).await;
    // The lookup finds nothing, the creation conflicts (another process won),
    // the second lookup finds the winner's domain.
    Mock::given(method("GET"))
        .and(path("/v3/domains"))
        .and(query_param("name", "vr1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"domains": []})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/domains"))
        .respond_with(
            ResponseTemplate::new(409).set_body_json(
                json!({"error": {"code": 409, "message": "Conflict occurred attempting to store domain"}}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/domains"))
        .and(query_param("name", "vr1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"domains": [{"id": "d1", "name": "vr1", "enabled": true}]})),
        )
        .mount(&server)
        .await;
    let keystone = KeystoneClient::new(session(&server));
    let d = ensure::ensure_domain(&keystone, &NewDomain { name: "vr1".into(), description: None, enabled: true })
        .await
        .unwrap();
    assert_eq!((d.object.id.as_str(), d.outcome), ("d1", Outcome::Adopted));
}

#[tokio::test]
async fn token_validation_sends_the_subject_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v3/auth/tokens")).respond_with(issuing(3600)).mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/v3/auth/tokens"))
        .and(header("X-Auth-Token", "tok-0"))
        .and(header("X-Subject-Token", "their-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body(100)))
        .mount(&server)
        .await;
    let keystone = KeystoneClient::new(session(&server));
    let info = keystone.validate_token(&SecretString::from("their-token")).await.unwrap();
    assert_eq!(info.user.id, "u1");
}

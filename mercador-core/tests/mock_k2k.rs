//! The K2K flow's request shapes against a mock server playing both
//! Keystones and the SAML SP, and the errors for failures the real testbed
//! cannot easily produce (clock skew, TLS, a SAML SP without cookies).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::sync::Arc;

use mercador_core::k2k::Keystone2Keystone;
use mercador_core::keystone::token::TokenServiceProvider;
use mercador_core::keystone::{Credentials, DirectAuth, ErrorKind, Scope, Session};
use secrecy::SecretString;
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{body_partial_json, body_string, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ENVELOPE: &str = "<soap11:Envelope xmlns:soap11=\"http://schemas.xmlsoap.org/soap/envelope/\">\
    <soap11:Body><samlp:Response>signed assertion</samlp:Response></soap11:Body></soap11:Envelope>";
const AUTH_PATH: &str = "/v3/OS-FEDERATION/identity_providers/idp-a/protocols/saml2/auth";

fn token(extra: Value) -> Value {
    let mut t = json!({
        "methods": ["password"],
        "user": {"id": "u1", "name": "alice", "domain": {"id": "default", "name": "Default"}},
        "expires_at": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
    });
    t.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    json!({"token": t})
}

/// IdP: password login and the ECP assertion, on `idp`.
async fn mount_idp(idp: &MockServer, sp: &MockServer) {
    let sps = json!([{
        "id": "sp-b",
        "auth_url": format!("{}{AUTH_PATH}", sp.uri()),
        "sp_url": format!("{}/Shibboleth.sso/SAML2/ECP", sp.uri()),
    }]);
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .and(body_partial_json(json!({"auth": {"identity": {"methods": ["password"]}}})))
        .respond_with(ResponseTemplate::new(201).insert_header("X-Subject-Token", "idp-token").set_body_json(token(
            json!({"project": {"id": "p-a", "name": "demo", "domain": {"id": "default"}}, "service_providers": sps}),
        )))
        .mount(idp)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/auth/OS-FEDERATION/saml2/ecp"))
        .and(body_partial_json(json!({"auth": {
            "identity": {"methods": ["token"], "token": {"id": "idp-token"}},
            "scope": {"service_provider": {"id": "sp-b"}}}})))
        .respond_with(ResponseTemplate::new(200).insert_header("Content-Type", "text/xml").set_body_string(ENVELOPE))
        .mount(idp)
        .await;
}

fn idp_session(idp: &MockServer) -> Arc<Session> {
    let url = Url::parse(&idp.uri()).unwrap();
    let auth = DirectAuth::new(&url, Credentials::password("alice", "Default", SecretString::from("pw"))).unwrap();
    Arc::new(Session::new(Arc::new(auth), Scope::project("demo", "Default")).unwrap())
}

#[tokio::test]
async fn full_flow_request_shapes() {
    let (idp, sp) = (MockServer::start().await, MockServer::start().await);
    mount_idp(&idp, &sp).await;
    // SAML SP: takes the envelope as PAOS, answers 303 with a session cookie.
    Mock::given(method("POST"))
        .and(path("/Shibboleth.sso/SAML2/ECP"))
        .and(header("Content-Type", "application/vnd.paos+xml"))
        .and(body_string(ENVELOPE))
        .respond_with(
            ResponseTemplate::new(303)
                .insert_header("Location", format!("{}{AUTH_PATH}", sp.uri()).as_str())
                .append_header("Set-Cookie", "_shibsession_64656661756c74=_abc123; path=/; HttpOnly")
                .append_header("Set-Cookie", "_opensaml_req=x; path=/"),
        )
        .expect(1)
        .mount(&sp)
        .await;
    // SP Keystone: the federated auth URL needs the cookie ...
    Mock::given(method("GET"))
        .and(path(AUTH_PATH))
        .and(header("Cookie", "_shibsession_64656661756c74=_abc123; _opensaml_req=x"))
        .respond_with(ResponseTemplate::new(201).insert_header("X-Subject-Token", "fed-token").set_body_json(token(
            json!({"methods": ["saml2"], "user": {"id": "fu1", "name": "alice", "OS-FEDERATION": {
                "identity_provider": {"id": "idp-a"}, "protocol": {"id": "saml2"}, "groups": [{"id": "g1"}]}}}),
        )))
        .expect(1)
        .mount(&sp)
        .await;
    // ... then re-scoping with the federated token.
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .and(body_partial_json(json!({"auth": {
            "identity": {"methods": ["token"], "token": {"id": "fed-token"}},
            "scope": {"project": {"name": "vr-demo", "domain": {"name": "vr1"}}}}})))
        .respond_with(ResponseTemplate::new(201).insert_header("X-Subject-Token", "sp-token").set_body_json(token(
            json!({"methods": ["token", "saml2"], "project": {"id": "p-b", "name": "vr-demo", "domain": {"id": "d-vr1"}},
                   "user": {"id": "fu1", "name": "alice", "OS-FEDERATION": {
                "identity_provider": {"id": "idp-a"}, "protocol": {"id": "saml2"}, "groups": []}}}),
        )))
        .expect(2)
        .mount(&sp)
        .await;

    let k2k = Arc::new(Keystone2Keystone::new(idp_session(&idp), "sp-b").await.unwrap());
    assert_eq!(mercador_core::keystone::AuthMethod::auth_url(k2k.as_ref()).as_str(), format!("{}/v3", sp.uri()));
    let on_b = Session::with_http(k2k.http(), k2k.clone(), Scope::project("vr-demo", "vr1"));
    let t = on_b.token().await.unwrap();
    assert_eq!(t.project.as_ref().unwrap().id, "p-b");
    assert!(t.is_federated());
    // A second scope re-uses the federated token: no new ECP exchange (expect(1) above).
    let again = Session::with_http(k2k.http(), k2k.clone(), Scope::project("vr-demo", "vr1"));
    again.token().await.unwrap();
}

async fn refused_with(body: &str, status: u16) -> mercador_core::Error {
    let (idp, sp) = (MockServer::start().await, MockServer::start().await);
    mount_idp(&idp, &sp).await;
    Mock::given(method("POST"))
        .and(path("/Shibboleth.sso/SAML2/ECP"))
        .respond_with(ResponseTemplate::new(status).set_body_string(body))
        .mount(&sp)
        .await;
    let k2k = Keystone2Keystone::new(idp_session(&idp), "sp-b").await.unwrap();
    k2k.unscoped_token().await.unwrap_err()
}

#[tokio::test]
async fn clock_skew_is_named() {
    let page = "<html><body><p>Please include the following message in any email:</p>\
        <p class=\"error\">opensaml::SecurityPolicyException at (http://sp/Shibboleth.sso/SAML2/ECP)</p>\
        <p>Message expired, was issued too long ago.</p></body></html>";
    let e = refused_with(page, 500).await;
    assert_eq!(e.kind(), ErrorKind::AuthenticationFailed, "{e}");
    let text = e.to_string();
    assert!(text.contains("HTTP 500: opensaml::SecurityPolicyException"), "{text}");
    assert!(text.contains("Message expired, was issued too long ago."), "{text}");
    assert!(text.contains("clocks"), "{text}");
    assert!(!text.contains("signed assertion"), "never the assertion: {text}");
}

#[tokio::test]
async fn untrusted_identity_provider_is_named() {
    let page = "<html><body><p class=\"error\">opensaml::FatalProfileException at (http://sp/Shibboleth.sso/SAML2/ECP)</p>\
        <p>Unable to establish security of incoming assertion.</p></body></html>";
    let e = refused_with(page, 500).await;
    assert_eq!(e.kind(), ErrorKind::AuthenticationFailed, "{e}");
    assert!(e.to_string().contains("does not trust this identity provider"), "{e}");
}

#[tokio::test]
async fn a_sp_that_sets_no_cookie() {
    let (idp, sp) = (MockServer::start().await, MockServer::start().await);
    mount_idp(&idp, &sp).await;
    Mock::given(method("POST"))
        .and(path("/Shibboleth.sso/SAML2/ECP"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "/somewhere"))
        .mount(&sp)
        .await;
    let k2k = Keystone2Keystone::new(idp_session(&idp), "sp-b").await.unwrap();
    let e = k2k.unscoped_token().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert!(e.to_string().contains("no session cookie"), "{e}");
}

#[tokio::test]
async fn tls_failure_on_the_sp_is_a_tls_error() {
    let (idp, sp) = (MockServer::start().await, MockServer::start().await);
    mount_idp(&idp, &sp).await;
    // The SP's URLs say https, but the server speaks plain HTTP.
    let https = sp.uri().replace("http://", "https://");
    let provider = TokenServiceProvider {
        id: "sp-b".into(),
        auth_url: Url::parse(&format!("{https}{AUTH_PATH}")).unwrap(),
        sp_url: Url::parse(&format!("{https}/Shibboleth.sso/SAML2/ECP")).unwrap(),
    };
    let k2k = Keystone2Keystone::from_service_provider(idp_session(&idp), &provider).unwrap();
    let e = k2k.unscoped_token().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("CA certificate"), "says what to check: {e}");
}

/// What Apache with mod_shib answers when shibd is not running (the page of
/// the testbed's Shibboleth SP 3.4 with its daemon stopped).
const SHIBD_DOWN_PAGE: &str = "<html><head><title>shibsp&#58;&#58;ListenerException</title></head><body>\
    <h1>shibsp&#58;&#58;ListenerException</h1>\
    <p>The system encountered an error at Mon Dec  7 21&#58;01&#58;31 2026</p>\
    <p>Please include the following message in any email:</p>\
    <p class=\"error\">shibsp&#58;&#58;ListenerException at (http&#58;//sp/Shibboleth.sso/SAML2/ECP)</p>\
    <p>Cannot connect to shibd process, a site administrator should be notified that this web server has \
    malfunctioned.</p></body></html>";

#[tokio::test]
async fn shibd_down_is_an_outage_of_the_saml_sp() {
    use mercador_core::outage::{Dependency, Outage, OutageKind};
    let e = refused_with(SHIBD_DOWN_PAGE, 500).await;
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    let outage = e.outage().expect("an outage");
    assert_eq!((outage.dependency, outage.kind), (Dependency::ShibbolethSp, OutageKind::Refusing));
    assert_eq!(outage.code(), "saml_sp_unavailable");
    // Whatever Keystone the caller thought it asked, the SP's outage wins.
    assert_eq!(Outage::of_keystone(Dependency::KeystoneB, &e), Some(outage));
    let text = e.to_string();
    assert!(text.contains("shibd") && text.contains("Cannot connect to shibd"), "{text}");
    assert!(text.contains("/Shibboleth.sso/SAML2/ECP"), "names the SAML endpoint: {text}");
    assert!(!text.contains("signed assertion"), "never the assertion: {text}");
    // Refusals of the assertion are not outages.
    let untrusted = refused_with("<p>Unable to establish security of incoming assertion.</p>", 500).await;
    assert_eq!(untrusted.outage(), None, "{untrusted}");
}

#[tokio::test]
async fn a_saml_sp_refusing_connections_is_unreachable() {
    use mercador_core::outage::{Dependency, OutageKind};
    let (idp, sp) = (MockServer::start().await, MockServer::start().await);
    mount_idp(&idp, &sp).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let provider = TokenServiceProvider {
        id: "sp-b".into(),
        auth_url: Url::parse(&format!("{}{AUTH_PATH}", sp.uri())).unwrap(),
        sp_url: Url::parse(&format!("http://127.0.0.1:{closed}/Shibboleth.sso/SAML2/ECP")).unwrap(),
    };
    let k2k = Keystone2Keystone::from_service_provider(idp_session(&idp), &provider).unwrap();
    let e = k2k.unscoped_token().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    let outage = e.outage().expect("an outage");
    assert_eq!((outage.dependency, outage.kind), (Dependency::ShibbolethSp, OutageKind::Unreachable));
    assert!(e.to_string().contains(&format!("127.0.0.1:{closed}")), "{e}");
}

#[tokio::test]
async fn a_saml_sp_that_hangs_is_too_slow() {
    use mercador_core::keystone::{HttpClient, HttpConfig};
    use mercador_core::outage::{Dependency, OutageKind};
    let (idp, sp) = (MockServer::start().await, MockServer::start().await);
    mount_idp(&idp, &sp).await;
    Mock::given(method("POST"))
        .and(path("/Shibboleth.sso/SAML2/ECP"))
        .respond_with(ResponseTemplate::new(303).set_delay(std::time::Duration::from_secs(30)))
        .mount(&sp)
        .await;
    let http =
        HttpClient::new(&HttpConfig { timeout: std::time::Duration::from_secs(1), ..HttpConfig::default() }).unwrap();
    let url = Url::parse(&idp.uri()).unwrap();
    let auth = DirectAuth::new(&url, Credentials::password("alice", "Default", SecretString::from("pw"))).unwrap();
    let session = Arc::new(Session::with_http(http, Arc::new(auth), Scope::project("demo", "Default")));
    let k2k = Keystone2Keystone::new(session, "sp-b").await.unwrap();
    let started = std::time::Instant::now();
    let e = k2k.unscoped_token().await.unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "bounded by the client's timeout");
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    let outage = e.outage().expect("an outage");
    assert_eq!((outage.dependency, outage.kind), (Dependency::ShibbolethSp, OutageKind::TooSlow));
}

//! The publisher service over HTTP: the real `mercador-server` binary
//! against the testbed's Keystone B (`testbed/testbed.sh start`).
//!
//! Health, discovery and the OpenAPI document; authentication (no token,
//! garbage, revoked, non-admin, admin on the partners' face); hostile
//! requests (huge and streamed bodies, unknown fields, invalid names,
//! malformed JSON, wrong content types, unknown routes and methods);
//! catalog registration; vregions and partners through the API; logs free
//! of tokens; graceful stop; a configuration without secrets key refused.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns too: failing loudly is the point

mod support;

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::time::Duration;

use mercador_core::keystone::types::{Filter, NewRegion};
use mercador_core::keystone::{IdentityApi, Interface, Scope};
use mercador_tests::{Cloud, Testbed, unique};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use support::{ApiClient, PublisherOptions, PublisherProcess, ThrowawayUser, admin_token, keystone_b, partner_token};

/// Every route of the service: (method, path).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/"),
    ("get", "/v1"),
    ("get", "/healthz"),
    ("get", "/openapi.json"),
    ("get", "/v1/admin/vregions"),
    ("post", "/v1/admin/vregions"),
    ("get", "/v1/admin/vregions/{name}"),
    ("put", "/v1/admin/vregions/{name}"),
    ("delete", "/v1/admin/vregions/{name}"),
    ("post", "/v1/admin/vregions/{name}/publish"),
    ("post", "/v1/admin/vregions/{name}/withdraw"),
    ("get", "/v1/admin/partners"),
    ("post", "/v1/admin/partners"),
    ("get", "/v1/admin/partners/{name}"),
    ("delete", "/v1/admin/partners/{name}"),
    ("get", "/v1/admin/subscriptions"),
    ("get", "/v1/admin/subscriptions/{id}"),
    ("post", "/v1/admin/subscriptions/{id}/revoke"),
    ("post", "/v1/admin/reconcile"),
    ("get", "/v1/exchange/vregions"),
    ("get", "/v1/exchange/subscriptions"),
    ("post", "/v1/exchange/subscriptions"),
    ("get", "/v1/exchange/subscriptions/{id}"),
    ("delete", "/v1/exchange/subscriptions/{id}"),
    ("post", "/v1/exchange/subscriptions/{id}/refresh"),
];

const NAME_RULE: &str = "lowercase letters, digits and '-'";

#[tokio::test]
async fn health_discovery_and_the_openapi_document() {
    let publisher = PublisherProcess::start(PublisherOptions::default()).await;
    let anonymous = ApiClient::new(publisher.url());

    let health = anonymous.get("/healthz").await.expect(200);
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["database"]["status"], "ok", "{health}");
    assert_eq!(health["keystone"]["status"], "ok", "{health}");
    assert_eq!(health["saml_sp"]["status"], "ok", "B's SAML SP's Status handler: {health}");

    let base = publisher.url().as_str().trim_end_matches('/').to_owned();
    let versions = anonymous.get("/").await.expect(200);
    assert_eq!(versions["versions"][0]["id"], "v1");
    let v1 = anonymous.get("/v1").await.expect(200);
    let links: Vec<(String, String)> = v1["version"]["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["rel"].as_str().unwrap().to_owned(), l["href"].as_str().unwrap().to_owned()))
        .collect();
    assert!(links.contains(&("admin".into(), format!("{base}/v1/admin"))), "{links:?}");
    assert!(links.contains(&("exchange".into(), format!("{base}/v1/exchange"))), "{links:?}");

    let answer = anonymous.get("/openapi.json").await;
    let doc = answer.expect(200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
    let scheme = &doc["components"]["securitySchemes"]["X-Auth-Token"];
    assert_eq!((scheme["type"].as_str(), scheme["in"].as_str()), (Some("apiKey"), Some("header")), "{scheme}");
    assert_eq!(scheme["name"], "X-Auth-Token");

    // The document lists exactly the routes, each authenticated one with the security scheme.
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            documented.insert((method.clone(), path.clone()));
            if path.starts_with("/v1/admin") || path.starts_with("/v1/exchange") {
                assert!(operation["security"][0].get("X-Auth-Token").is_some(), "{method} {path}: no security");
                assert!(operation["responses"].get("401").is_some(), "{method} {path}: no 401");
            }
        }
    }
    let expected: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, expected, "documented routes differ from the service's routes");

    // Schemas of the engine's types, names with their rule.
    let schemas = &doc["components"]["schemas"];
    for schema in ["VRegionSpec", "VRegionView", "PartnerOnboarded", "SubscribeRequest", "Access", "ErrorBody"] {
        assert!(schemas.get(schema).is_some(), "no schema {schema}");
    }
    assert_eq!(schemas["Name"]["pattern"], "^[a-z]([a-z0-9-]*[a-z0-9])?$");

    // Every documented route is served (no 404/405): 401 without a token on the faces.
    for (method, path) in ROUTES {
        let concrete = path.replace("{name}", "some-name").replace("{id}", "some-id");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let answer = anonymous.request(method.clone(), &concrete, None).await;
        if path.starts_with("/v1/") && path.len() > 3 {
            answer.expect(401);
        } else {
            answer.expect(200);
        }
    }
}

#[tokio::test]
async fn requests_without_a_valid_token_are_refused() {
    let publisher = PublisherProcess::start(PublisherOptions::default()).await;
    let anonymous = ApiClient::new(publisher.url());

    for path in ["/v1/admin/vregions", "/v1/exchange/vregions", "/v1/admin/subscriptions/abc"] {
        let answer = anonymous.get(path).await;
        answer.expect(401);
        assert_eq!(answer.error_code(), "missing_token", "{answer}");
        assert_eq!(answer.headers["www-authenticate"], "X-Auth-Token");
    }
    // A body is not even read without a token.
    let answer = anonymous.post("/v1/admin/partners", &json!({"name": "p"})).await;
    assert_eq!((answer.status, answer.error_code()), (401, "missing_token".into()), "{answer}");

    let garbage = anonymous.with_token(SecretString::from("gAAAAABnot-a-real-token-at-all"));
    for path in ["/v1/admin/vregions", "/v1/exchange/vregions"] {
        let answer = garbage.get(path).await;
        answer.expect(401);
        assert_eq!(answer.error_code(), "invalid_token", "{answer}");
    }
    // Asked again: refused again (briefly cached or not).
    assert_eq!(garbage.get("/v1/admin/vregions").await.status, 401);

    let bearer = anonymous.builder(Method::GET, "/v1/admin/vregions").header("Authorization", "Bearer nonsense");
    let answer = anonymous.send(bearer).await;
    assert_eq!((answer.status, answer.error_code()), (401, "invalid_token".into()), "{answer}");
    let basic = anonymous.builder(Method::GET, "/v1/admin/vregions").header("Authorization", "Basic YTpi");
    let answer = anonymous.send(basic).await;
    assert_eq!((answer.status, answer.error_code()), (401, "missing_token".into()), "{answer}");
    let huge = anonymous.with_token(SecretString::from("a".repeat(9000)));
    let answer = huge.get("/v1/admin/vregions").await;
    assert_eq!((answer.status, answer.error_code()), (401, "invalid_token".into()), "{answer}");

    // A real admin token, revoked before the service ever saw it.
    let session = Testbed::get().session(
        Cloud::B,
        Testbed::get().admin_credentials(Cloud::B),
        Scope::project("admin", "Default"),
    );
    let revoked = session.token().await.unwrap().secret().clone();
    keystone_b().revoke_token(&revoked).await.unwrap();
    let answer = anonymous.with_token(revoked).get("/v1/admin/vregions").await;
    assert_eq!((answer.status, answer.error_code()), (401, "invalid_token".into()), "{answer}");

    // The admin token works.
    anonymous.with_token(admin_token().await).get("/v1/admin/vregions").await.expect(200);
}

#[tokio::test]
async fn admins_and_others_stay_on_their_face() {
    let publisher = PublisherProcess::start(PublisherOptions::default()).await;
    let anonymous = ApiClient::new(publisher.url());
    let admin = anonymous.with_token(admin_token().await);

    // The admin is not a partner.
    let answer = admin.get("/v1/exchange/vregions").await;
    answer.expect(403);
    assert_eq!(answer.error_code(), "partner_required", "{answer}");
    let answer = admin.post("/v1/exchange/subscriptions", &json!({"vregion": "x", "entity_id": "e"})).await;
    assert_eq!((answer.status, answer.error_code()), (403, "partner_required".into()), "{answer}");

    // A member of some project is neither admin nor partner.
    let user = ThrowawayUser::create().await;
    let member = anonymous.with_token(user.token.clone());
    let on_admin = member.get("/v1/admin/vregions").await;
    let on_exchange = member.get("/v1/exchange/subscriptions").await;
    let on_reconcile = member.post_empty("/v1/admin/reconcile").await;
    user.delete().await;
    on_admin.expect(403);
    assert_eq!(on_admin.error_code(), "admin_required", "{on_admin}");
    assert!(on_admin.error_message().contains("\"admin\""), "{on_admin}");
    on_exchange.expect(403);
    assert_eq!(on_exchange.error_code(), "partner_required", "{on_exchange}");
    assert_eq!(on_reconcile.status, 403, "{on_reconcile}");
}

#[tokio::test]
async fn hostile_requests_get_json_errors_that_say_what_to_fix() {
    let publisher = PublisherProcess::start(PublisherOptions::default()).await;
    let admin = ApiClient::new(publisher.url()).with_token(admin_token().await);

    // Over the body limit (1 MiB): announced length, then a streamed body.
    // The service answers as soon as it reads the length and closes the
    // connection: a client still writing the body may see a broken pipe
    // instead of the answer (HTTP/1.1 without `Expect: 100-continue`), so
    // a send that breaks off is tried again, a few times at most.
    let big = format!("{{\"name\": \"big\", \"description\": \"{}\"}}", "x".repeat(1024 * 1024 + 1024));
    let mut attempts = 0;
    let answer = loop {
        attempts += 1;
        let builder = admin.builder(Method::POST, "/v1/admin/partners");
        match admin.try_request(builder, Some(("application/json", big.clone().into_bytes()))).await {
            Ok(answer) => break answer,
            Err(e) if attempts < 5 && e.contains("BodyWrite") => continue,
            Err(e) => panic!("a body over the limit: {e}"),
        }
    };
    answer.expect(413);
    assert_eq!(answer.error_code(), "payload_too_large");
    let status = chunked_post(&publisher, "/v1/admin/partners", 3 * 1024 * 1024).await;
    assert_eq!(status, 413);

    // Unknown field, named.
    let answer = admin.post("/v1/admin/partners", &json!({"name": "ok-name", "colour": "red"})).await;
    let body = answer.expect(400);
    assert_eq!(body["error"]["code"], "invalid_request");
    assert_eq!(body["error"]["errors"][0]["field"], "colour", "{answer}");
    assert!(answer.error_message().contains("unknown field `colour`"), "{answer}");

    // Invalid names: in the path, in the body, nested in the body, in the query.
    let answer = admin.get("/v1/admin/vregions/Bad_Name").await;
    let body = answer.expect(400);
    assert_eq!(body["error"]["errors"][0]["field"], "name", "{answer}");
    assert!(answer.error_message().contains(NAME_RULE), "{answer}");
    let answer = admin.get("/v1/admin/partners/%FF%FE").await;
    answer.expect(400);
    let answer = admin.post("/v1/admin/partners", &json!({"name": "Not OK"})).await;
    let body = answer.expect(400);
    assert_eq!(body["error"]["errors"][0]["field"], "name", "{answer}");
    assert!(body["error"]["errors"][0]["message"].as_str().unwrap().contains(NAME_RULE), "{answer}");
    let spec = json!({
        "name": "nested-check", "region": "RegionTwo", "service_types": ["identity"], "roles": ["member"],
        "max_subscriptions": 1, "partners": ["fine", "NOT FINE"]
    });
    let answer = admin.post("/v1/admin/vregions", &spec).await;
    let body = answer.expect(400);
    assert_eq!(body["error"]["errors"][0]["field"], "partners[1]", "{answer}");
    let answer = admin.get("/v1/admin/subscriptions?partner=NoNo").await;
    answer.expect(400);
    assert!(answer.error_message().contains(NAME_RULE), "{answer}");
    let answer = admin.get("/v1/admin/subscriptions?bogus=1").await;
    answer.expect(400);
    assert!(answer.error_message().contains("bogus"), "{answer}");
    // PUT with a body naming another vregion.
    let answer = admin
        .put(
            "/v1/admin/vregions/one-name",
            &json!({
                "name": "other-name", "region": "RegionTwo", "service_types": ["identity"], "roles": ["member"],
                "max_subscriptions": 1
            }),
        )
        .await;
    let body = answer.expect(400);
    assert_eq!(body["error"]["errors"][0]["field"], "name", "{answer}");

    // Wrong types and missing fields.
    let answer = admin.post("/v1/admin/subscriptions/abc/revoke", &json!({"purge": "yes"})).await;
    let body = answer.expect(400);
    assert_eq!(body["error"]["errors"][0]["field"], "purge", "{answer}");
    let answer = admin.post("/v1/admin/partners", &json!({})).await;
    answer.expect(400);
    assert!(answer.error_message().contains("missing field `name`"), "{answer}");

    // Malformed JSON, trailing garbage, absurdly deep JSON.
    let post_raw = |body: String| {
        let admin = admin.clone();
        async move { admin.request(Method::POST, "/v1/admin/partners", Some(("application/json", body.into_bytes()))).await }
    };
    for bad in ["{\"name\": ", "{\"name\": \"a\",", "{\"name\": \"a\"} {}", "nul"] {
        let answer = post_raw(bad.to_owned()).await;
        answer.expect(400);
        assert_eq!(answer.error_code(), "malformed_json", "{answer}");
    }
    let deep = format!("{{\"name\": \"a\", \"description\": {}}}", "[".repeat(100_000));
    post_raw(deep).await.expect(400);

    // Wrong or missing content type.
    let answer =
        admin.request(Method::POST, "/v1/admin/partners", Some(("text/plain", b"{\"name\": \"a\"}".to_vec()))).await;
    answer.expect(415);
    assert!(answer.error_message().contains("application/json"), "{answer}");
    let answer = admin.send(admin.builder(Method::POST, "/v1/admin/partners").body("{\"name\": \"a\"}")).await;
    answer.expect(415);

    // Unknown routes, wrong methods, impossible ids.
    admin.get("/v1/admin/nothing-here").await.expect(404);
    ApiClient::new(publisher.url()).get("/no/such/route").await.expect(404);
    let answer = admin.request(Method::PATCH, "/v1/admin/vregions", None).await;
    answer.expect(405);
    assert!(answer.headers.contains_key("allow"), "{answer:?}");
    let answer = admin.get(&format!("/v1/admin/subscriptions/{}", "a".repeat(100))).await;
    answer.expect(404);
    admin.get("/v1/admin/subscriptions/..%2F..%2Fetc").await.expect(404);
    admin.get("/v1/admin/subscriptions/0123456789abcdef").await.expect(404);
    admin.get("/v1/admin/vregions/does-not-exist").await.expect(404);
    admin.get("/v1/admin/partners/does-not-exist").await.expect(404);

    // The service still answers.
    ApiClient::new(publisher.url()).get("/healthz").await.expect(200);
}

/// A `Transfer-Encoding: chunked` POST of `size` bytes with no length
/// announced; returns the answer's status.
async fn chunked_post(publisher: &PublisherProcess, path: &str, size: usize) -> u16 {
    let address = format!("127.0.0.1:{}", publisher.url().port().unwrap());
    let token = admin_token().await;
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Auth-Token: {}\r\n\
             Transfer-Encoding: chunked\r\n\r\n",
            token.expose_secret()
        );
        stream.write_all(head.as_bytes()).unwrap();
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < size {
            // The service may answer and close before everything is sent.
            if stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).is_err()
                || stream.write_all(&chunk).is_err()
                || stream.write_all(b"\r\n").is_err()
            {
                break;
            }
            sent += chunk.len();
        }
        let _ = stream.write_all(b"0\r\n\r\n");
        let mut answer = Vec::new();
        let mut buffer = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buffer) {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        let text = String::from_utf8_lossy(&answer);
        text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {text:?}"))
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn registers_both_faces_in_the_catalog_once() {
    let k = keystone_b();
    let region = unique("mercador-srv-region");
    k.create_region(&NewRegion { id: Some(region.clone()), description: None, parent_region_id: None }).await.unwrap();
    let mut publisher =
        PublisherProcess::start(PublisherOptions { region: Some(region.clone()), ..Default::default() }).await;
    let base = publisher.url().as_str().trim_end_matches('/').to_owned();

    let check = |when: &'static str| {
        let k = keystone_b();
        let region = region.clone();
        let base = base.clone();
        async move {
            for (service_type, face) in [("mercador-publisher", "admin"), ("mercador-exchange", "exchange")] {
                let services = k.list_services(&Filter::new().service_type(service_type)).await.unwrap();
                assert_eq!(services.len(), 1, "{when}: services of type {service_type}: {services:?}");
                let endpoints =
                    k.list_endpoints(&Filter::new().service_id(&services[0].id).region_id(&region)).await.unwrap();
                assert_eq!(endpoints.len(), 1, "{when}: endpoints of {service_type} in {region}: {endpoints:?}");
                assert_eq!(endpoints[0].interface, Interface::Public);
                assert_eq!(endpoints[0].url, format!("{base}/v1/{face}"), "{when}");
            }
        }
    };
    check("after the first start").await;
    publisher.restart().await;
    check("after a restart").await;
    publisher.terminate().await;

    // Clean up: the endpoints in the throwaway region, then the region.
    for endpoint in k.list_endpoints(&Filter::new().region_id(&region)).await.unwrap() {
        k.delete_endpoint(&endpoint.id).await.unwrap();
    }
    k.delete_region(&region).await.unwrap();
}

#[tokio::test]
async fn vregions_and_partners_through_the_api() {
    let publisher = PublisherProcess::start(PublisherOptions::default()).await;
    let anonymous = ApiClient::new(publisher.url());
    let admin = anonymous.with_token(admin_token().await);
    let tb = Testbed::get();
    let region = tb.region(Cloud::B).to_owned();

    // A vregion: define, read, replace, publish, withdraw, delete.
    let name = unique("vr");
    let spec = json!({
        "name": name, "description": "made by the service tests", "region": region,
        "service_types": ["identity"], "roles": ["member"], "max_subscriptions": 2,
        "metadata": {"country": "PT"}
    });
    let created = admin.post("/v1/admin/vregions", &spec).await.expect(201);
    assert_eq!((created["name"].as_str(), created["state"].as_str()), (Some(name.as_str()), Some("draft")));
    let again = admin.post("/v1/admin/vregions", &spec).await;
    again.expect(409);
    let listed = admin.get("/v1/admin/vregions").await.expect(200);
    assert!(listed.as_array().unwrap().iter().any(|v| v["name"] == name.as_str()), "{listed}");
    let mut changed = spec.clone();
    changed["max_subscriptions"] = json!(3);
    let replaced = admin.put(&format!("/v1/admin/vregions/{name}"), &changed).await.expect(200);
    assert_eq!(replaced["max_subscriptions"], 3);
    let published = admin.post_empty(&format!("/v1/admin/vregions/{name}/publish")).await.expect(200);
    assert_eq!(published["state"], "published", "{published}");
    assert!(published["domain_id"].is_string(), "{published}");
    let withdrawn = admin.post_empty(&format!("/v1/admin/vregions/{name}/withdraw")).await.expect(200);
    assert_eq!(withdrawn["state"], "withdrawn");
    let answer = admin.request(Method::DELETE, &format!("/v1/admin/vregions/{name}?purge=true"), None).await;
    assert_eq!(answer.status, 204, "{answer}");
    assert!(answer.text.is_empty());
    admin.get(&format!("/v1/admin/vregions/{name}")).await.expect(404);

    // A partner: onboard, call the exchange face with its credential, remove.
    let partner = unique("partner");
    let onboarded = admin.post("/v1/admin/partners", &json!({"name": partner})).await.expect(201);
    assert!(onboarded["application_credential_secret"].as_str().is_some_and(|s| !s.is_empty()), "{onboarded}");
    assert_eq!(onboarded["partner"]["state"], "active", "{onboarded}");
    let shown = admin.get(&format!("/v1/admin/partners/{partner}")).await.expect(200);
    assert!(shown.get("application_credential_secret").is_none(), "the secret is shown once: {shown}");
    admin.post("/v1/admin/partners", &json!({"name": partner})).await.expect(409);

    let token = partner_token(&onboarded).await;
    let as_partner = anonymous.with_token(token);
    assert_eq!(as_partner.get("/v1/exchange/vregions").await.expect(200), json!([]));
    assert_eq!(as_partner.get("/v1/exchange/subscriptions").await.expect(200), json!([]));
    as_partner.get("/v1/exchange/subscriptions/0123456789abcdef0123456789abcdef").await.expect(404);
    let answer = as_partner.get("/v1/admin/partners").await;
    assert_eq!((answer.status, answer.error_code()), (403, "admin_required".into()), "{answer}");
    let answer = as_partner.post("/v1/exchange/subscriptions", &json!({"vregion": "Bad Name", "entity_id": "e"})).await;
    answer.expect(400);
    let answer = as_partner
        .post("/v1/exchange/subscriptions", &json!({"vregion": "no-such-vregion", "entity_id": "http://a/idp"}))
        .await;
    answer.expect(404);
    // The partner's name comes from its token: a query naming another is ignored.
    as_partner.get("/v1/exchange/subscriptions?partner=someone-else").await.expect(200);

    let listed = admin.get(&format!("/v1/admin/subscriptions?partner={partner}")).await.expect(200);
    assert_eq!(listed, json!([]));
    let answer = admin.delete(&format!("/v1/admin/partners/{partner}")).await;
    assert_eq!(answer.status, 204, "{answer}");
    admin.get(&format!("/v1/admin/partners/{partner}")).await.expect(404);
    // Its (cached) token no longer makes it a partner.
    let answer = as_partner.get("/v1/exchange/vregions").await;
    assert!(answer.status == 401 || answer.status == 403, "{answer}");
}

#[tokio::test]
async fn logs_never_show_tokens_and_sigterm_stops_gracefully() {
    let mut publisher = PublisherProcess::start(PublisherOptions::default()).await;
    let anonymous = ApiClient::new(publisher.url());
    let token = admin_token().await;
    let admin = anonymous.with_token(token.clone());
    admin.get("/v1/admin/vregions").await.expect(200);
    admin.get("/v1/exchange/vregions").await.expect(403);
    admin.post("/v1/admin/partners", &json!({"name": "Bad Name"})).await.expect(400);
    let bearer = anonymous.builder(Method::GET, "/v1/admin/partners").bearer_auth(token.expose_secret());
    anonymous.send(bearer).await.expect(200);
    let garbage = "gAAAAABgarbage-token-that-must-not-be-logged";
    anonymous.with_token(SecretString::from(garbage)).get("/v1/admin/vregions").await.expect(401);

    let status = publisher.terminate().await.expect("it was running");
    assert!(status.success(), "exit status after SIGTERM: {status}");
    let log = publisher.log();
    assert!(log.contains("finished processing request"), "no request logged:\n{log}");
    assert!(log.contains("shutting down"), "{log}");
    assert!(!log.contains(token.expose_secret()), "the admin token is in the log");
    assert!(!log.contains(garbage), "a token is in the log");
    let key = std::fs::read_to_string(publisher.dir().join("secrets.key")).unwrap();
    assert!(!log.contains(key.trim()), "the secrets key is in the log");
}

#[test]
fn refuses_to_start_without_a_secrets_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("publisher.toml");
    std::fs::write(
        &config,
        r#"[server]
public_url = "http://127.0.0.1:1"
[keystone]
cloud = "testbed-b"
[federation]
sp_url = "http://127.0.0.1:5002/Shibboleth.sso/SAML2/ECP"
metadata_dir = "."
[secrets]
key_id = "k"
"#,
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_mercador-server"))
        .args(["publisher", "--config"])
        .arg(&config)
        .env_remove("MERCADOR_SECRETS__KEY")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("[secrets] key is missing"), "{stderr}");
    assert!(stderr.contains("head -c 32 /dev/urandom | base64"), "{stderr}");

    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_mercador-server"))
        .args(["publisher", "--config", "/nonexistent/publisher.toml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("examples/config/publisher.toml"));
}

/// Twenty subscribe requests of one partner at once, three rounds: one
/// subscription, never a 503, and the vregion admin's password in exactly
/// one answer (the others say why it is missing). Each partner uses its
/// credential within the second onboarding returned it.
#[tokio::test]
async fn concurrent_subscribes_make_one_subscription_and_show_the_password_once() {
    let publisher = PublisherProcess::start(PublisherOptions::default()).await;
    let admin = ApiClient::new(publisher.url()).with_token(admin_token().await);
    let tb = Testbed::get();

    // Credentials work at once: several partners, each calling right away.
    let partners: Vec<String> = (0..6).map(|_| unique("burst")).collect();
    for partner in &partners {
        let onboarded = admin.post("/v1/admin/partners", &json!({"name": partner})).await.expect(201);
        let as_partner = admin.with_token(partner_token(&onboarded).await);
        as_partner.get("/v1/exchange/vregions").await.expect(200);
    }
    let partner = partners[0].clone();
    let onboarded_again = admin.get(&format!("/v1/admin/partners/{partner}")).await.expect(200);
    assert_eq!(onboarded_again["state"], "active");

    let vregion = unique("burst");
    let spec = json!({
        "name": vregion, "region": tb.region(Cloud::B), "service_types": ["identity"], "roles": ["reader"],
        "max_subscriptions": 1, "partners": [partner],
    });
    admin.post("/v1/admin/vregions", &spec).await.expect(201);
    admin.post_empty(&format!("/v1/admin/vregions/{vregion}/publish")).await.expect(200);
    // A new credential for the partner's requests (its first one was used above).
    admin.delete(&format!("/v1/admin/partners/{partner}")).await.expect(204);
    let onboarded = admin.post("/v1/admin/partners", &json!({"name": partner})).await.expect(201);
    let as_partner = admin.with_token(partner_token(&onboarded).await);

    let entity = format!("https://{partner}.example/idp");
    let body =
        json!({"vregion": vregion, "entity_id": entity, "metadata": mercador_tests::publisher::fake_metadata(&entity)});
    for round in 0..3 {
        let answers =
            futures::future::join_all((0..20).map(|_| as_partner.post("/v1/exchange/subscriptions", &body))).await;
        let statuses: BTreeSet<u16> = answers.iter().map(|a| a.status).collect();
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 201),
            "round {round}: {statuses:?}: {:?}",
            answers.iter().filter(|a| a.status >= 300).map(ToString::to_string).collect::<Vec<_>>()
        );
        let ids: BTreeSet<String> =
            answers.iter().map(|a| a.json()["subscription"]["id"].as_str().unwrap().to_string()).collect();
        assert_eq!(ids.len(), 1, "round {round}: one subscription: {ids:?}");
        let with_password = answers.iter().filter(|a| a.json()["admin"]["password"].is_string()).count();
        assert_eq!(with_password, 1, "round {round}: the password reaches exactly one answer");
        for a in answers.iter().filter(|a| !a.json()["admin"]["password"].is_string()) {
            let json = a.json();
            let note = json["note"].as_str().unwrap_or_default();
            assert!(note.contains("returned once"), "round {round}: an answer without the password says why: {a}");
        }
        let id = ids.into_iter().next().unwrap();
        as_partner.delete(&format!("/v1/exchange/subscriptions/{id}")).await.expect(200);
    }

    admin.post_empty(&format!("/v1/admin/vregions/{vregion}/withdraw")).await.expect(200);
    admin.request(Method::DELETE, &format!("/v1/admin/vregions/{vregion}?purge=true"), None).await.expect(204);
    for partner in &partners {
        admin.delete(&format!("/v1/admin/partners/{partner}")).await.expect(204);
    }
}

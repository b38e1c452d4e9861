//! The subscriber service as a real process over Keystone A, against a real
//! publisher process over Keystone B, through its REST API only: register a
//! publisher, discover, subscribe (region and service provider on A), a
//! restart keeps the state, cancel removes A's objects; the scheduled
//! refresh cleans A up after a revocation. Also authentication (401, 403),
//! unknown fields (400) and no token or secret in the log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use mercador_core::model::Name;
use mercador_tests::publisher::{a_entity_turn, free_entity_on_b, name, test_catalog};
use mercador_tests::{Cloud, Testbed};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::json;
use support::{ApiClient, PublisherOptions, PublisherProcess, SubscriberProcess, admin_token};

/// Seconds between two scheduled refreshes of the subscriber under test.
const REFRESH_SECS: u64 = 5;

fn on_a(what: &str, column: &str, value: &str) -> bool {
    let out = Testbed::get().openstack(Cloud::A, &[what, "list", "-f", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    rows.iter().any(|r| r[column] == value)
}

fn region_on_a(alias: &Name) -> bool {
    on_a("region", "Region", alias.as_str())
}

fn sp_on_a(alias: &Name) -> bool {
    Testbed::get()
        .openstack(Cloud::A, &["service", "provider", "list", "-f", "json"])
        .contains(&format!("\"mercador-{alias}\""))
}

#[tokio::test]
async fn register_discover_subscribe_restart_cancel_and_scheduled_revocation() {
    let turn = a_entity_turn().await;
    let tb = Testbed::get();
    let entity_id = turn.entity_id().to_string();
    free_entity_on_b(&entity_id).await;

    // Publisher B: a partner for A and a vregion offered to it.
    let publisher = PublisherProcess::start(PublisherOptions::default()).await;
    let b_admin = ApiClient::new(publisher.url()).with_token(admin_token().await);
    test_catalog().await;
    let partner = name("api-sub");
    let onboarded = b_admin.post("/v1/admin/partners", &json!({"name": partner})).await.expect(201);
    let secret = onboarded["application_credential_secret"].as_str().unwrap().to_owned();
    let vregion = name("api-vr");
    b_admin
        .post(
            "/v1/admin/vregions",
            &json!({
                "name": vregion,
                "region": tb.region(Cloud::B),
                "service_types": ["identity", "compute"],
                "roles": ["reader"],
                "max_subscriptions": 1,
                "partners": [partner],
            }),
        )
        .await
        .expect(201);
    b_admin.post_empty(&format!("/v1/admin/vregions/{vregion}/publish")).await.expect(200);

    // Subscriber A.
    let mut service = SubscriberProcess::start(turn.identity(), REFRESH_SECS).await;
    let a_token = tb.admin_session(Cloud::A).token().await.unwrap().secret().clone();
    let api = ApiClient::new(service.url()).with_token(a_token.clone());

    // Unauthenticated routes; no token: 401; not an admin: 403.
    let anonymous = ApiClient::new(service.url());
    anonymous.get("/healthz").await.expect(200);
    assert!(anonymous.get("/openapi.json").await.expect(200)["paths"]["/v1/bindings/{name}/refresh"].is_object());
    anonymous.get("/v1").await.expect(200);
    assert_eq!(anonymous.get("/v1/publishers").await.expect(401)["error"]["code"], "missing_token");
    let alice_token = turn.alice().token().await.unwrap().secret().clone();
    let alice_api = ApiClient::new(service.url()).with_token(alice_token);
    assert_eq!(alice_api.get("/v1/bindings").await.expect(403)["error"]["code"], "admin_required");
    assert_eq!(alice_api.post("/v1/refresh", &json!({})).await.status, 403);

    // Register the publisher; an unknown field is refused.
    let b_name = name("api-pub");
    let registration = json!({
        "name": b_name,
        "keystone_url": tb.url(Cloud::B),
        // The catalog's mercador-exchange is the last publisher process started on the testbed.
        "exchange_url": publisher.url().join("v1/exchange").unwrap(),
        "application_credential_id": onboarded["application_credential_id"],
        "application_credential_secret": secret,
    });
    let mut unknown = registration.clone();
    unknown["colour"] = json!("blue");
    let refused = api.post("/v1/publishers", &unknown).await.expect(400);
    assert!(refused["error"]["message"].as_str().unwrap().contains("colour"), "{refused}");
    let view = api.post("/v1/publishers", &registration).await;
    assert!(!view.text.contains(&secret), "no secret in the answer");
    view.expect(201);
    assert!(!api.get("/v1/publishers").await.text.contains(&secret));
    api.get(&format!("/v1/publishers/{b_name}")).await.expect(200);
    api.post("/v1/publishers", &registration).await.expect(409);

    // Discovery lists the vregion.
    let found = api.get("/v1/discovery").await.expect(200);
    let offers = found["offers"].as_array().unwrap();
    assert!(offers.iter().any(|o| o["publisher"] == b_name.as_str() && o["name"] == vregion.as_str()), "{found}");

    // Subscribe: region and service provider on A.
    let alias = name("api-alias");
    let request = json!({"publisher": b_name, "vregion": vregion, "alias": alias});
    let bound = api.post("/v1/bindings", &request).await.expect(201);
    assert_eq!(bound["state"], "active", "{bound}");
    assert!(region_on_a(&alias), "region {alias} on A");
    assert!(sp_on_a(&alias), "service provider mercador-{alias} on A");
    assert_eq!(api.get("/v1/bindings").await.expect(200).as_array().unwrap().len(), 1);
    let outcome = api.post_empty(&format!("/v1/bindings/{alias}/refresh")).await.expect(200);
    assert_eq!(outcome["revoked"], false, "{outcome}");
    api.post_empty("/v1/reconcile").await.expect(200);

    // A restart keeps the state.
    service.restart().await;
    let after = api.get(&format!("/v1/bindings/{alias}")).await.expect(200);
    assert_eq!(after["state"], "active", "{after}");
    assert!(region_on_a(&alias));

    // Cancel: 200 with the binding; A's region and service provider are gone.
    let cancelled = api.delete(&format!("/v1/bindings/{alias}")).await.expect(200);
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    assert!(!region_on_a(&alias) && !sp_on_a(&alias), "A cleaned up");

    // Subscribe again; the publisher revokes; the scheduled refresh cleans A up.
    let alias2 = name("api-alias2");
    let bound =
        api.post("/v1/bindings", &json!({"publisher": b_name, "vregion": vregion, "alias": alias2})).await.expect(201);
    let remote = bound["remote_subscription_id"].as_str().unwrap().to_owned();
    assert!(region_on_a(&alias2));
    b_admin.post(&format!("/v1/admin/subscriptions/{remote}/revoke"), &json!({})).await.expect(200);
    let deadline = Instant::now() + Duration::from_secs(REFRESH_SECS * 3 + 30);
    while region_on_a(&alias2) {
        assert!(Instant::now() < deadline, "the scheduled refresh did not clean A up; log:\n{}", service.log_tail(40));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(!sp_on_a(&alias2));
    let gone = api.get(&format!("/v1/bindings/{alias2}")).await.expect(200);
    assert_ne!(gone["state"], "active", "{gone}");

    // Clean up: publisher removed here, vregion and partner at B.
    let answer = api.send(api.builder(Method::DELETE, &format!("/v1/publishers/{b_name}"))).await;
    assert_eq!(answer.status, 204, "{answer}");
    b_admin.post_empty(&format!("/v1/admin/vregions/{vregion}/withdraw")).await.expect(200);
    b_admin.delete(&format!("/v1/admin/vregions/{vregion}?purge=true")).await.expect(204);
    b_admin.delete(&format!("/v1/admin/partners/{partner}")).await.expect(204);

    // No token, credential secret or password in the log.
    let log = service.log();
    assert!(!log.contains(a_token.expose_secret()), "A's token in the log");
    assert!(!log.contains(&secret), "the partner secret in the log");
    assert!(!log.to_lowercase().contains("password\":"), "a password in the log");
    free_entity_on_b(&entity_id).await;
}

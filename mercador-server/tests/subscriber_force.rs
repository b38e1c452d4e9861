//! Forced cancel through the subscriber service's REST API, as a real
//! process over Keystone A, once the real publisher process it bound from
//! is gone for good (its Keystone B stays up): `DELETE /v1/bindings/{alias}`
//! answers the publisher's failure and tells about `force=true`, the binding
//! stays `cancelling` with A's region in place; `?force=true` removes A's
//! region, endpoints, unused `mercador-*` services and service provider and
//! answers the `cancelled` binding. The OpenAPI document lists the
//! parameter; the log warns naming the publisher, without secrets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mercador_core::keystone::IdentityApi;
use mercador_core::keystone::types::Filter;
use mercador_core::model::Name;
use mercador_tests::publisher::{a_entity_turn, free_entity_on_b, name, test_catalog};
use mercador_tests::{Cloud, Testbed};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::json;
use support::{ApiClient, PublisherOptions, PublisherProcess, SubscriberProcess, admin_token};

/// Whether `openstack --os-cloud testbed-a region list` shows `alias`.
fn region_on_a(alias: &Name) -> bool {
    let out = Testbed::get().openstack(Cloud::A, &["region", "list", "-f", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    rows.iter().any(|r| r["Region"] == alias.as_str())
}

/// What Keystone A's admin API holds of a binding: its service provider,
/// region, endpoints in that region, and a `mercador-compute` service left
/// without endpoints (the service is shared by every binding with compute
/// endpoints: another test's binding may hold it at the same time).
async fn objects_on_a(alias: &Name) -> Vec<String> {
    let a = Testbed::get().admin(Cloud::A);
    let mut found = Vec::new();
    if a.get_service_provider(&format!("mercador-{alias}")).await.is_ok() {
        found.push("service provider".to_owned());
    }
    if a.get_region(alias.as_str()).await.is_ok() {
        found.push("region".to_owned());
    }
    for e in a.list_endpoints(&Filter::new().region_id(alias.as_str())).await.unwrap() {
        if e.region_id.as_deref() == Some(alias.as_str()) {
            found.push(format!("endpoint {}", e.interface));
        }
    }
    let services = a.list_services(&Filter::new().service_type("compute")).await.unwrap();
    for service in services.iter().filter(|s| s.name.as_deref() == Some("mercador-compute")) {
        if a.list_endpoints(&Filter::new().service_id(&service.id)).await.unwrap().is_empty() {
            found.push("service mercador-compute without endpoints".to_owned());
        }
    }
    found
}

#[tokio::test]
async fn cancel_with_force_true_once_the_publisher_is_gone() {
    let turn = a_entity_turn().await;
    let tb = Testbed::get();
    let entity_id = turn.entity_id().to_string();
    free_entity_on_b(&entity_id).await;

    // Publisher B: a partner for A and a vregion offered to it.
    let mut publisher = PublisherProcess::start(PublisherOptions::default()).await;
    let b_admin = ApiClient::new(publisher.url()).with_token(admin_token().await);
    test_catalog().await;
    let partner = name("force-sub");
    let onboarded = b_admin.post("/v1/admin/partners", &json!({"name": partner})).await.expect(201);
    let secret = onboarded["application_credential_secret"].as_str().unwrap().to_owned();
    let vregion = name("force-vr");
    let spec = json!({
        "name": vregion, "region": tb.region(Cloud::B), "service_types": ["identity", "compute"],
        "roles": ["reader"], "max_subscriptions": 1, "partners": [partner],
    });
    b_admin.post("/v1/admin/vregions", &spec).await.expect(201);
    b_admin.post_empty(&format!("/v1/admin/vregions/{vregion}/publish")).await.expect(200);

    // Subscriber A binds it.
    let service = SubscriberProcess::start(turn.identity(), 300).await;
    let a_token = tb.admin_session(Cloud::A).token().await.unwrap().secret().clone();
    let api = ApiClient::new(service.url()).with_token(a_token.clone());
    let openapi = ApiClient::new(service.url()).get("/openapi.json").await.expect(200);
    let parameters = &openapi["paths"]["/v1/bindings/{name}"]["delete"]["parameters"];
    assert!(
        parameters.as_array().unwrap().iter().any(|p| p["name"] == "force" && p["in"] == "query"),
        "force in the OpenAPI document: {parameters}"
    );
    let b_name = name("force-pub");
    let registration = json!({
        "name": b_name,
        "keystone_url": tb.url(Cloud::B),
        // The catalog's mercador-exchange is the last publisher process started on the testbed.
        "exchange_url": publisher.url().join("v1/exchange").unwrap(),
        "application_credential_id": onboarded["application_credential_id"],
        "application_credential_secret": secret,
    });
    api.post("/v1/publishers", &registration).await.expect(201);
    let alias = name("force-alias");
    let bound =
        api.post("/v1/bindings", &json!({"publisher": b_name, "vregion": vregion, "alias": alias})).await.expect(201);
    assert_eq!(bound["state"], "active", "{bound}");
    let remote = bound["remote_subscription_id"].as_str().unwrap().to_owned();
    let on_a = objects_on_a(&alias).await;
    assert!(on_a.contains(&"endpoint public".to_owned()) && on_a.contains(&"region".to_owned()), "{on_a:?}");
    assert!(region_on_a(&alias));

    // The publisher's service is gone for good.
    publisher.terminate().await;

    // Without force: the publisher's failure, pointing to force=true; the
    // binding stays cancelling and A's side stays.
    let refused = api.delete(&format!("/v1/bindings/{alias}")).await;
    assert_eq!(refused.status, 503, "{refused}");
    assert_eq!(refused.error_code(), "publisher_unavailable", "{refused}");
    let message = refused.error_message();
    assert!(message.contains(b_name.as_str()) && message.contains("stays cancelling"), "{message}");
    assert!(message.contains("cancel with force=true"), "{message}");
    let stuck = api.get(&format!("/v1/bindings/{alias}")).await.expect(200);
    assert_eq!(stuck["state"], "cancelling", "{stuck}");
    assert_eq!(objects_on_a(&alias).await, on_a);
    assert!(region_on_a(&alias));
    // A malformed flag is refused before anything happens.
    assert_eq!(api.delete(&format!("/v1/bindings/{alias}?force=maybe")).await.status, 400);

    // With force=true: the publisher is given up, A's side removed.
    let cancelled = api.delete(&format!("/v1/bindings/{alias}?force=true")).await.expect(200);
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    let note = cancelled["error"].as_str().unwrap();
    assert!(note.starts_with("cancelled without the publisher: publisher_unavailable"), "{note}");
    assert_eq!(objects_on_a(&alias).await, Vec::<String>::new(), "region, endpoints, service, service provider gone");
    assert!(!region_on_a(&alias), "openstack region list on A no longer shows {alias}");
    let again = api.delete(&format!("/v1/bindings/{alias}?force=true")).await.expect(200);
    assert_eq!(again["state"], "cancelled", "idempotent: {again}");
    let log = service.log();
    assert!(
        log.lines().any(|l| l.contains("WARN") && l.contains("abandoned") && l.contains(b_name.as_str())),
        "a warning naming the publisher; log:\n{}",
        service.log_tail(30)
    );
    assert!(!log.contains(a_token.expose_secret()), "A's token in the log");
    assert!(!log.contains(&secret), "the partner secret in the log");

    // Clean up: B's subscription was left as it was; its admin revokes it
    // once the service is back.
    publisher.restart().await;
    let at_b = b_admin.get(&format!("/v1/admin/subscriptions/{remote}")).await.expect(200);
    assert_eq!(at_b["state"], "active", "{at_b}");
    b_admin.post(&format!("/v1/admin/subscriptions/{remote}/revoke"), &json!({})).await.expect(200);
    let answer = api.send(api.builder(Method::DELETE, &format!("/v1/publishers/{b_name}"))).await;
    assert_eq!(answer.status, 204, "{answer}");
    b_admin.post_empty(&format!("/v1/admin/vregions/{vregion}/withdraw")).await.expect(200);
    b_admin.delete(&format!("/v1/admin/vregions/{vregion}?purge=true")).await.expect(204);
    b_admin.delete(&format!("/v1/admin/partners/{partner}")).await.expect(204);
    free_entity_on_b(&entity_id).await;
}

//! The subscriber engine against a real publisher service (child process
//! over Keystone B) and the real Keystone A: register, discover, subscribe
//! (service provider, region, endpoints on A; alice's K2K through it),
//! refresh, revocation noticed by refresh, cancel from A.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use mercador_core::k2k::Keystone2Keystone;
use mercador_core::keystone::types::Filter;
use mercador_core::keystone::{HttpClient, HttpConfig, IdentityApi};
use mercador_core::model::{Name, SubscriptionState};
use mercador_core::store::SqlStore;
use mercador_core::subscriber::{ExchangeClient, NewPublisher, SubscribeRequest, Subscriber, SubscriberConfig};
use mercador_tests::publisher::{a_entity_turn, alice, free_entity_on_b, name, secrets_key, test_catalog};
use mercador_tests::{Cloud, Testbed};
use serde_json::json;
use support::{ApiClient, PublisherOptions, PublisherProcess, admin_token};

async fn subscriber(dir: &std::path::Path) -> Subscriber {
    subscriber_with(dir, None).await
}

/// A subscriber over the SQLite file in `dir`, pausing after `pause` when given.
async fn subscriber_with(dir: &std::path::Path, pause: Option<&str>) -> Subscriber {
    let tb = Testbed::get();
    let store = SqlStore::connect(&format!("sqlite://{}", dir.join("subscriber.db").display())).await.unwrap();
    let mut config = SubscriberConfig::new(
        tb.url(Cloud::A),
        tb.var("KEYSTONE_A_IDP_ENTITY_ID"),
        tb.var("KEYSTONE_A_IDP_METADATA_URL").parse().unwrap(),
    );
    config.lease_ttl = std::time::Duration::from_secs(3);
    config.pause_after_step = pause.map(|step| (step.to_owned(), std::time::Duration::from_secs(120)));
    Subscriber::new(
        config,
        Arc::new(store),
        Arc::new(tb.admin(Cloud::A)),
        secrets_key(),
        HttpClient::new(&HttpConfig::default()).unwrap(),
    )
}

/// What Keystone A holds of a binding: its service provider, region and
/// the endpoints in that region.
async fn objects_on_a(alias: &Name) -> Vec<String> {
    let a = Testbed::get().admin(Cloud::A);
    let mut found = Vec::new();
    if a.get_service_provider(&format!("mercador-{alias}")).await.is_ok() {
        found.push(format!("service provider mercador-{alias}"));
    }
    if a.get_region(alias.as_str()).await.is_ok() {
        found.push(format!("region {alias}"));
    }
    for e in a.list_endpoints(&Filter::new().region_id(alias.as_str())).await.unwrap() {
        if e.region_id.as_deref() == Some(alias.as_str()) {
            found.push(format!("endpoint {} {}", e.interface, e.url));
        }
    }
    found
}

fn region_listed(alias: &Name) -> bool {
    let out = Testbed::get().openstack(Cloud::A, &["region", "list", "-f", "json"]);
    let regions: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    regions.iter().any(|r| r["Region"] == alias.as_str())
}

#[tokio::test]
async fn register_discover_subscribe_k2k_refresh_revoke_cancel() {
    let _turn = a_entity_turn().await;
    let tb = Testbed::get();
    let entity_id = tb.var("KEYSTONE_A_IDP_ENTITY_ID").to_string();
    free_entity_on_b(&entity_id).await;

    // Publisher B: a partner for A and a vregion offered to it.
    let service = PublisherProcess::start(PublisherOptions::default()).await;
    let admin = ApiClient::new(service.url()).with_token(admin_token().await);
    test_catalog().await;
    let partner = name("sub");
    let onboarded = admin.post("/v1/admin/partners", &json!({"name": partner})).await.expect(201);
    let vregion = name("vr");
    admin
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
    admin.post_empty(&format!("/v1/admin/vregions/{vregion}/publish")).await.expect(200);

    // Subscriber A registers B with the partner credential, and a
    // publisher nobody answers for.
    let dir = tempfile::tempdir().unwrap();
    let sub = subscriber(dir.path()).await;
    let b_name = name("pub-b");
    let view = sub
        .register_publisher(NewPublisher {
            name: b_name.clone(),
            keystone_url: tb.url(Cloud::B),
            // The catalog's mercador-exchange endpoint is the last publisher
            // process started on the testbed (other tests start some too).
            exchange_url: Some(service.url().join("v1/exchange").unwrap()),
            application_credential_id: onboarded["application_credential_id"].as_str().unwrap().into(),
            application_credential_secret: onboarded["application_credential_secret"]
                .as_str()
                .unwrap()
                .to_owned()
                .into(),
        })
        .await
        .unwrap();
    assert!(!serde_json::to_string(&view).unwrap().contains("secret"), "no secret in the view");
    let dead = name("pub-dead");
    sub.register_publisher(NewPublisher {
        name: dead.clone(),
        keystone_url: "http://127.0.0.1:9/v3".parse().unwrap(),
        exchange_url: None,
        application_credential_id: "x".into(),
        application_credential_secret: "y".to_owned().into(),
    })
    .await
    .unwrap();
    let stored = format!("{:?}", sub.store().get_publisher(&b_name).await.unwrap().unwrap());
    assert!(!stored.contains(onboarded["application_credential_secret"].as_str().unwrap()));

    // The exchange API is in B's catalog, found with the partner credential.
    let from_catalog = ExchangeClient::new(
        HttpClient::new(&HttpConfig::default()).unwrap(),
        "b",
        &tb.url(Cloud::B),
        onboarded["application_credential_id"].as_str().unwrap(),
        onboarded["application_credential_secret"].as_str().unwrap().to_owned().into(),
    )
    .unwrap()
    .base_url()
    .await
    .unwrap();
    assert!(from_catalog.as_str().ends_with("/v1/exchange"), "{from_catalog}");

    // Discover: B's vregion listed; the dead publisher has its own error.
    let found = sub.discover().await.unwrap();
    assert!(found.offers.iter().any(|o| o.publisher == b_name && o.name == vregion), "{found:?}");
    assert_eq!(found.errors.len(), 1, "{found:?}");
    assert_eq!(
        (found.errors[0].publisher.as_str(), found.errors[0].code.as_str()),
        (dead.as_str(), "publisher_unavailable")
    );

    // Subscribe under an alias: SP, region and endpoints on A.
    let alias = name("vr-a");
    let request = SubscribeRequest { publisher: b_name.clone(), vregion: vregion.clone(), alias: alias.clone() };
    let binding = sub.subscribe(request.clone()).await.unwrap();
    assert_eq!(binding.state, SubscriptionState::Active, "{binding:?}");
    assert!(binding.has_admin_password);
    assert!(sub.admin_password(&alias).await.unwrap().is_some());
    let a = tb.admin(Cloud::A);
    let sp = a.get_service_provider(&format!("mercador-{alias}")).await.unwrap();
    assert!(sp.enabled);
    assert_eq!(sp.sp_url, tb.var("KEYSTONE_B_ECP_URL"));
    assert!(
        sp.auth_url.ends_with(&format!("/identity_providers/mercador-{partner}/protocols/saml2/auth")),
        "{}",
        sp.auth_url
    );
    assert!(region_listed(&alias), "openstack region list on A shows {alias}");
    let on_a = objects_on_a(&alias).await;
    assert!(on_a.iter().any(|o| o.starts_with("endpoint public http://127.0.0.1:8774/compute")), "{on_a:?}");
    assert!(binding.endpoints.iter().any(|e| e.service_type == "compute"));
    // Subscribing again is idempotent.
    assert_eq!(sub.subscribe(request.clone()).await.unwrap().id, binding.id);

    // alice of A reaches the vregion through the new service provider.
    let k2k = Keystone2Keystone::new(alice(), &format!("mercador-{alias}")).await.unwrap();
    let token = k2k.unscoped_token().await.expect("K2K through the binding's service provider");
    assert!(token.info().is_federated());

    // Refresh on a healthy binding changes nothing; drift on A is repaired.
    let healthy = sub.refresh(&alias).await.unwrap();
    assert!(!healthy.revoked && healthy.repaired.is_empty(), "{healthy:?}");
    for e in a.list_endpoints(&Filter::new().region_id(alias.as_str())).await.unwrap() {
        a.delete_endpoint(&e.id).await.unwrap();
    }
    a.delete_region(alias.as_str()).await.unwrap();
    let repaired = sub.refresh(&alias).await.unwrap();
    assert!(repaired.repaired.iter().any(|r| r.starts_with("region")), "{repaired:?}");
    assert!(region_listed(&alias));

    // The publisher revokes; the next refresh notices and cleans A up.
    let remote = binding.remote_subscription_id.clone().unwrap();
    admin.post(&format!("/v1/admin/subscriptions/{remote}/revoke"), &json!({})).await.expect(200);
    let report = sub.refresh_all().await.unwrap();
    assert_eq!(report.revoked, [alias.to_string()], "{report:?}");
    assert_eq!(sub.get_binding(&alias).await.unwrap().state, SubscriptionState::Revoked);
    assert_eq!(objects_on_a(&alias).await, Vec::<String>::new());
    assert!(!region_listed(&alias));

    // Subscribe again, then cancel from A: publisher first, then A.
    let binding = sub.subscribe(request.clone()).await.unwrap();
    assert_eq!(binding.state, SubscriptionState::Active);
    assert!(!objects_on_a(&alias).await.is_empty());
    let cancelled = sub.cancel(&alias).await.unwrap();
    assert_eq!(cancelled.state, SubscriptionState::Cancelled);
    let remote = binding.remote_subscription_id.unwrap();
    let at_b = admin.get(&format!("/v1/admin/subscriptions/{remote}")).await.expect(200);
    assert_eq!(at_b["state"], "cancelled");
    assert_eq!(objects_on_a(&alias).await, Vec::<String>::new());
    let services = a.list_services(&Filter::new().service_type("compute")).await.unwrap();
    assert!(
        !services.iter().any(|s| s.name.as_deref() == Some("mercador-compute")),
        "the shared service went with its last endpoint"
    );
    assert!(sub.cancel(&alias).await.unwrap().state == SubscriptionState::Cancelled, "cancel is idempotent");
    assert!(sub.reconcile().await.unwrap() == Default::default());

    // Clean up.
    sub.remove_publisher(&b_name).await.unwrap();
    sub.remove_publisher(&dead).await.unwrap();
    admin.post_empty(&format!("/v1/admin/vregions/{vregion}/withdraw")).await.expect(200);
    admin.delete(&format!("/v1/admin/vregions/{vregion}?purge=true")).await.expect(204);
    admin.delete(&format!("/v1/admin/partners/{partner}")).await.expect(204);
}

#[tokio::test]
async fn killed_after_the_region_step_then_reconciled() {
    let _turn = a_entity_turn().await;
    let tb = Testbed::get();
    free_entity_on_b(tb.var("KEYSTONE_A_IDP_ENTITY_ID")).await;
    let service = PublisherProcess::start(PublisherOptions::default()).await;
    let admin = ApiClient::new(service.url()).with_token(admin_token().await);
    test_catalog().await;
    let partner = name("subc");
    let onboarded = admin.post("/v1/admin/partners", &json!({"name": partner})).await.expect(201);
    let vregion = name("vr");
    let spec = json!({
        "name": vregion, "region": tb.region(Cloud::B), "service_types": ["compute"],
        "roles": ["reader"], "max_subscriptions": 1, "partners": [partner],
    });
    admin.post("/v1/admin/vregions", &spec).await.expect(201);
    admin.post_empty(&format!("/v1/admin/vregions/{vregion}/publish")).await.expect(200);

    let dir = tempfile::tempdir().unwrap();
    let first = subscriber_with(dir.path(), Some("region")).await;
    let b_name = name("pub-b");
    first
        .register_publisher(NewPublisher {
            name: b_name.clone(),
            keystone_url: tb.url(Cloud::B),
            // The catalog's mercador-exchange endpoint is the last publisher
            // process started on the testbed (other tests start some too).
            exchange_url: Some(service.url().join("v1/exchange").unwrap()),
            application_credential_id: onboarded["application_credential_id"].as_str().unwrap().into(),
            application_credential_secret: onboarded["application_credential_secret"]
                .as_str()
                .unwrap()
                .to_owned()
                .into(),
        })
        .await
        .unwrap();
    let alias = name("vr-c");
    let request = SubscribeRequest { publisher: b_name.clone(), vregion: vregion.clone(), alias: alias.clone() };
    let pending = {
        let (first, request) = (first.clone(), request.clone());
        tokio::spawn(async move { first.subscribe(request).await })
    };
    // Wait until the region step is done and recorded, then "crash".
    let mut paused = false;
    for _ in 0..600 {
        let bindings = first.list_bindings(None).await.unwrap();
        if bindings.iter().any(|b| b.alias == alias && b.step.as_deref() == Some("region") && b.objects.len() == 2) {
            paused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(paused, "the binding never reached the region step");
    pending.abort();
    assert!(pending.await.unwrap_err().is_cancelled());
    let half = objects_on_a(&alias).await;
    assert_eq!(half.len(), 2, "service provider and region, no endpoint yet: {half:?}");

    // A new engine over the same database resumes it (once the lease expires).
    let second = subscriber_with(dir.path(), None).await;
    let report = second.reconcile().await.unwrap();
    assert_eq!(report.resumed, [alias.to_string()], "{report:?}");
    let binding = second.get_binding(&alias).await.unwrap();
    assert_eq!(binding.state, SubscriptionState::Active);
    assert!(objects_on_a(&alias).await.iter().any(|o| o.starts_with("endpoint public")));
    let k2k = Keystone2Keystone::new(alice(), &format!("mercador-{alias}")).await.unwrap();
    k2k.unscoped_token().await.expect("K2K works after the resumed binding");

    assert_eq!(second.cancel(&alias).await.unwrap().state, SubscriptionState::Cancelled);
    assert_eq!(objects_on_a(&alias).await, Vec::<String>::new());
    second.remove_publisher(&b_name).await.unwrap();
    admin.post_empty(&format!("/v1/admin/vregions/{vregion}/withdraw")).await.expect(200);
    admin.delete(&format!("/v1/admin/vregions/{vregion}?purge=true")).await.expect(204);
    admin.delete(&format!("/v1/admin/partners/{partner}")).await.expect(204);
}

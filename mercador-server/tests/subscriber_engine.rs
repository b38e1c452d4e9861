//! The subscriber engine against a real publisher service (child process
//! over Keystone B) and the real Keystone A: register, discover, subscribe
//! (service provider, region and endpoints on A; alice's K2K through it),
//! refresh, revocation noticed by refresh, cancel from A; a crash after the
//! region step; a forced cancel once the publisher is gone for good. Every
//! test runs on SQLite and on the testbed's PostgreSQL (`..._sqlite`,
//! `..._postgres`, one body).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mercador_core::k2k::Keystone2Keystone;
use mercador_core::keystone::types::Filter;
use mercador_core::keystone::{HttpClient, HttpConfig, IdentityApi};
use mercador_core::model::{Name, SubscriptionState};
use mercador_core::store::{BindingRecord, SqlStore};
use mercador_core::subscriber::{
    ExchangeClient, NewPublisher, PublisherView, SubscribeRequest, Subscriber, SubscriberConfig,
};
use mercador_tests::publisher::{
    EntityTurn, a_entity_turn, free_entity_on_b, fresh_postgres_database, name, secrets_key, sqlite_url, test_catalog,
};
use mercador_tests::{Cloud, Testbed};
use serde_json::{Value, json};
use support::{ApiClient, PublisherOptions, PublisherProcess, admin_token};

/// A subscriber over the database at `database_url`, pausing for two
/// minutes after the step `pause` when given.
async fn subscriber_with(turn: &EntityTurn, database_url: &str, pause: Option<&str>) -> Subscriber {
    let pause = pause.map(|step| (step, Duration::from_secs(120)));
    subscriber_leasing(turn, database_url, Duration::from_secs(3), pause).await
}

/// A subscriber over the database at `database_url` whose leases last
/// `lease_ttl`, pausing after the step `pause.0` for `pause.1` when given.
/// A's SAML identity is the test's turn (`turn`).
async fn subscriber_leasing(
    turn: &EntityTurn,
    database_url: &str,
    lease_ttl: Duration,
    pause: Option<(&str, Duration)>,
) -> Subscriber {
    let tb = Testbed::get();
    let store = SqlStore::connect(database_url).await.unwrap();
    let mut config = SubscriberConfig::new(turn.keystone_url(), turn.entity_id(), turn.metadata_url());
    config.lease_ttl = lease_ttl;
    config.pause_after_step = pause.map(|(step, pause)| (step.to_owned(), pause));
    Subscriber::new(
        config,
        Arc::new(store),
        Arc::new(tb.admin(Cloud::A)),
        secrets_key(),
        HttpClient::new(&HttpConfig::default()).unwrap(),
    )
}

/// Publisher B's side through its admin API: a partner (`prefix`) for A
/// and a published vregion of `service_types` offered to it. Returns the
/// partner, its onboarding answer (with the credential) and the vregion.
async fn offer(admin: &ApiClient, prefix: &str, service_types: &[&str]) -> (Name, Value, Name) {
    test_catalog().await;
    let partner = name(prefix);
    let onboarded = admin.post("/v1/admin/partners", &json!({"name": partner})).await.expect(201);
    let vregion = name("vr");
    let spec = json!({
        "name": vregion, "region": Testbed::get().region(Cloud::B), "service_types": service_types,
        "roles": ["reader"], "max_subscriptions": 1, "partners": [partner],
    });
    admin.post("/v1/admin/vregions", &spec).await.expect(201);
    admin.post_empty(&format!("/v1/admin/vregions/{vregion}/publish")).await.expect(200);
    (partner, onboarded, vregion)
}

/// Registers the publisher `service` at `sub` with the partner credential
/// in `onboarded`; returns the registration's answer.
async fn register(sub: &Subscriber, service: &PublisherProcess, onboarded: &Value) -> PublisherView {
    sub.register_publisher(NewPublisher {
        name: name("pub-b"),
        keystone_url: Testbed::get().url(Cloud::B),
        // The catalog's mercador-exchange endpoint is the last publisher
        // process started on the testbed (other tests start some too).
        exchange_url: Some(service.url().join("v1/exchange").unwrap()),
        application_credential_id: onboarded["application_credential_id"].as_str().unwrap().into(),
        application_credential_secret: onboarded["application_credential_secret"].as_str().unwrap().to_owned().into(),
    })
    .await
    .unwrap()
}

/// Withdraws and purges the vregion and removes the partner at B.
async fn clean_b(admin: &ApiClient, partner: &Name, vregion: &Name) {
    admin.post_empty(&format!("/v1/admin/vregions/{vregion}/withdraw")).await.expect(200);
    admin.delete(&format!("/v1/admin/vregions/{vregion}?purge=true")).await.expect(204);
    admin.delete(&format!("/v1/admin/partners/{partner}")).await.expect(204);
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

/// The shared `mercador-compute` service of A goes with its last endpoint.
/// Other tests' bindings run at the same time and may hold endpoints on it
/// (or be between removing their last endpoint and the service): it is
/// gone, or still serves someone, within a few seconds.
async fn shared_service_goes_with_its_last_endpoint() {
    let a = Testbed::get().admin(Cloud::A);
    let mut unused = Vec::new();
    for _ in 0..50 {
        unused.clear();
        for s in a.list_services(&Filter::new().service_type("compute")).await.unwrap() {
            if s.name.as_deref() == Some("mercador-compute")
                && a.list_endpoints(&Filter::new().service_id(&s.id)).await.unwrap().is_empty()
            {
                unused.push(s.id);
            }
        }
        if unused.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the shared service did not go with its last endpoint: {unused:?} left unused");
}

fn region_listed(alias: &Name) -> bool {
    let out = Testbed::get().openstack(Cloud::A, &["region", "list", "-f", "json"]);
    let regions: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    regions.iter().any(|r| r["Region"] == alias.as_str())
}

#[tokio::test]
async fn register_discover_subscribe_k2k_refresh_revoke_cancel_sqlite() {
    register_discover_subscribe_k2k_refresh_revoke_cancel(&sqlite_url()).await;
}

#[tokio::test]
async fn register_discover_subscribe_k2k_refresh_revoke_cancel_postgres() {
    register_discover_subscribe_k2k_refresh_revoke_cancel(&fresh_postgres_database().await).await;
}

async fn register_discover_subscribe_k2k_refresh_revoke_cancel(database_url: &str) {
    let turn = a_entity_turn().await;
    let tb = Testbed::get();
    let entity_id = turn.entity_id().to_string();
    free_entity_on_b(&entity_id).await;

    // Publisher B: a partner for A and a vregion offered to it.
    let service = PublisherProcess::start(PublisherOptions::default()).await;
    let admin = ApiClient::new(service.url()).with_token(admin_token().await);
    let (partner, onboarded, vregion) = offer(&admin, "sub", &["identity", "compute"]).await;

    // Subscriber A registers B with the partner credential, and a
    // publisher nobody answers for.
    let sub = subscriber_with(&turn, database_url, None).await;
    let view = register(&sub, &service, &onboarded).await;
    let b_name = view.name.clone();
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

    // Discover: B's vregion listed; the dead publisher has its own error
    // (its Keystone does not answer: the code names Keystone).
    let found = sub.discover().await.unwrap();
    assert!(found.offers.iter().any(|o| o.publisher == b_name && o.name == vregion), "{found:?}");
    assert_eq!(found.errors.len(), 1, "{found:?}");
    assert_eq!(
        (found.errors[0].publisher.as_str(), found.errors[0].code.as_str()),
        (dead.as_str(), "keystone_unavailable")
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
    let k2k = Keystone2Keystone::new(turn.alice(), &format!("mercador-{alias}")).await.unwrap();
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
    shared_service_goes_with_its_last_endpoint().await;
    assert!(sub.cancel(&alias).await.unwrap().state == SubscriptionState::Cancelled, "cancel is idempotent");
    assert!(sub.reconcile().await.unwrap() == Default::default());

    // Clean up.
    sub.remove_publisher(&b_name).await.unwrap();
    sub.remove_publisher(&dead).await.unwrap();
    clean_b(&admin, &partner, &vregion).await;
}

#[tokio::test]
async fn killed_after_the_region_step_then_reconciled_sqlite() {
    killed_after_the_region_step_then_reconciled(&sqlite_url()).await;
}

#[tokio::test]
async fn killed_after_the_region_step_then_reconciled_postgres() {
    killed_after_the_region_step_then_reconciled(&fresh_postgres_database().await).await;
}

async fn killed_after_the_region_step_then_reconciled(database_url: &str) {
    let turn = a_entity_turn().await;
    free_entity_on_b(turn.entity_id()).await;
    let service = PublisherProcess::start(PublisherOptions::default()).await;
    let admin = ApiClient::new(service.url()).with_token(admin_token().await);
    let (partner, onboarded, vregion) = offer(&admin, "subc", &["compute"]).await;

    let first = subscriber_with(&turn, database_url, Some("region")).await;
    let b_name = register(&first, &service, &onboarded).await.name;
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
    let second = subscriber_with(&turn, database_url, None).await;
    let report = second.reconcile().await.unwrap();
    assert_eq!(report.resumed, [alias.to_string()], "{report:?}");
    let binding = second.get_binding(&alias).await.unwrap();
    assert_eq!(binding.state, SubscriptionState::Active);
    assert!(objects_on_a(&alias).await.iter().any(|o| o.starts_with("endpoint public")));
    let k2k = Keystone2Keystone::new(turn.alice(), &format!("mercador-{alias}")).await.unwrap();
    k2k.unscoped_token().await.expect("K2K works after the resumed binding");

    assert_eq!(second.cancel(&alias).await.unwrap().state, SubscriptionState::Cancelled);
    assert_eq!(objects_on_a(&alias).await, Vec::<String>::new());
    second.remove_publisher(&b_name).await.unwrap();
    clean_b(&admin, &partner, &vregion).await;
}

#[tokio::test]
async fn forced_cancel_once_the_publisher_is_gone_sqlite() {
    forced_cancel_once_the_publisher_is_gone(&sqlite_url()).await;
}

#[tokio::test]
async fn forced_cancel_once_the_publisher_is_gone_postgres() {
    forced_cancel_once_the_publisher_is_gone(&fresh_postgres_database().await).await;
}

/// The publisher's service stops for good (its Keystone B stays up): a
/// normal cancel waits for it (the binding stays `cancelling`, A's objects
/// stay); a forced cancel, interrupted once it gave the publisher up, is
/// finished by another engine's reconcile without the publisher.
async fn forced_cancel_once_the_publisher_is_gone(database_url: &str) {
    let turn = a_entity_turn().await;
    free_entity_on_b(turn.entity_id()).await;
    let mut service = PublisherProcess::start(PublisherOptions::default()).await;
    let admin = ApiClient::new(service.url()).with_token(admin_token().await);
    let (partner, onboarded, vregion) = offer(&admin, "subf", &["compute"]).await;

    let first = subscriber_with(&turn, database_url, Some("cancel_remote")).await;
    let b_name = register(&first, &service, &onboarded).await.name;
    let alias = name("vr-f");
    let request = SubscribeRequest { publisher: b_name.clone(), vregion: vregion.clone(), alias: alias.clone() };
    let binding = first.subscribe(request).await.unwrap();
    assert_eq!(binding.state, SubscriptionState::Active, "{binding:?}");
    let remote = binding.remote_subscription_id.clone().unwrap();
    let bound = objects_on_a(&alias).await;
    assert!(bound.iter().any(|o| o.starts_with("endpoint public")), "{bound:?}");

    // The publisher's service is gone.
    service.terminate().await;

    // A normal cancel waits for it, and says how not to.
    let refused = first.cancel(&alias).await.unwrap_err();
    let message = refused.to_string();
    assert_eq!(refused.code(), "publisher_unavailable", "{message}");
    assert!(refused.is_transient(), "{message}");
    assert!(message.contains(b_name.as_str()) && message.contains("stays cancelling"), "{message}");
    assert!(message.contains("force=true"), "{message}");
    let stuck = first.get_binding(&alias).await.unwrap();
    assert_eq!((stuck.state, stuck.step.as_deref()), (SubscriptionState::Cancelling, Some("cancel_remote")));
    assert_eq!(objects_on_a(&alias).await, bound, "A's side stays while the cancel waits");
    assert!(region_listed(&alias));
    let retried = first.reconcile().await.unwrap();
    assert!(retried.failed.len() == 1 && retried.failed[0].contains("force=true"), "{retried:?}");
    assert_eq!(first.get_binding(&alias).await.unwrap().state, SubscriptionState::Cancelling);

    // Forced: the stuck cancel is upgraded; the publisher is given up (the
    // engine pauses there, then "crashes").
    let pending = {
        let (first, alias) = (first.clone(), alias.clone());
        tokio::spawn(async move { first.cancel_forced(&alias).await })
    };
    let mut abandoned = None;
    for _ in 0..600 {
        let b = first.get_binding(&alias).await.unwrap();
        if b.step.as_deref() == Some("cancel_remote_abandoned") {
            abandoned = Some(b);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let abandoned = abandoned.expect("the forced cancel never gave the publisher up");
    assert_eq!(abandoned.state, SubscriptionState::Cancelling);
    let note = abandoned.error.clone().unwrap();
    assert!(note.starts_with("cancelled without the publisher: publisher_unavailable"), "{note}");
    pending.abort();
    assert!(pending.await.unwrap_err().is_cancelled());
    assert_eq!(objects_on_a(&alias).await, bound, "interrupted before A's teardown");

    // Another engine (the publisher still gone) finishes it without waiting
    // for the publisher.
    let second = subscriber_with(&turn, database_url, None).await;
    let report = second.reconcile().await.unwrap();
    assert_eq!(report.finished, [alias.to_string()], "{report:?}");
    let cancelled = second.get_binding(&alias).await.unwrap();
    assert_eq!(cancelled.state, SubscriptionState::Cancelled, "{cancelled:?}");
    assert_eq!(cancelled.error.as_deref(), Some(note.as_str()), "the abandonment stays recorded");
    assert_eq!(objects_on_a(&alias).await, Vec::<String>::new());
    assert!(!region_listed(&alias), "openstack region list on A no longer shows {alias}");
    shared_service_goes_with_its_last_endpoint().await;
    assert_eq!(second.cancel_forced(&alias).await.unwrap().state, SubscriptionState::Cancelled, "idempotent");
    assert_eq!(second.reconcile().await.unwrap(), Default::default());

    // B's side was left as it was; its admin revokes it once the service is back.
    service.restart().await;
    let at_b = admin.get(&format!("/v1/admin/subscriptions/{remote}")).await.expect(200);
    assert_eq!(at_b["state"], "active", "{at_b}");
    admin.post(&format!("/v1/admin/subscriptions/{remote}/revoke"), &json!({})).await.expect(200);
    second.remove_publisher(&b_name).await.unwrap();
    clean_b(&admin, &partner, &vregion).await;
    free_entity_on_b(turn.entity_id()).await;
}

/// A binding of `publisher` in `revoking` with nothing left at the
/// publisher, put in the store as a refresh that noticed a revocation
/// leaves it: its teardown is Keystone A's side only (nothing there for
/// `alias`, so it removes nothing but shared services without endpoints).
async fn revoking_binding(sub: &Subscriber, publisher: &Name, alias: &str) -> BindingRecord {
    let publisher = sub.store().get_publisher(publisher).await.unwrap().unwrap();
    let now = chrono::Utc::now();
    let b = BindingRecord {
        id: uuid_like(alias),
        alias: name(alias),
        publisher_id: publisher.id,
        publisher: publisher.name,
        vregion: name("vr-gone"),
        state: SubscriptionState::Revoking,
        remote_subscription_id: None,
        remote_region: None,
        sp_auth_url: None,
        sp_url: None,
        services: Vec::new(),
        admin_password_sealed: None,
        step: None,
        error: Some("the publisher no longer knows the subscription".into()),
        objects: Vec::new(),
        created_at: now - chrono::Duration::minutes(1),
        updated_at: now,
        version: 1,
    };
    sub.store().insert_binding(&b).await.unwrap();
    sub.store().get_binding(&b.id).await.unwrap().unwrap()
}

/// A fresh binding id (hex, as the engine makes them).
fn uuid_like(prefix: &str) -> String {
    name(prefix).as_str().chars().filter(char::is_ascii_alphanumeric).collect()
}

/// Waits (up to a minute) until the binding `id` records the step `step`.
async fn until_step(sub: &Subscriber, id: &str, step: &str) {
    for _ in 0..600 {
        if sub.store().get_binding(id).await.unwrap().unwrap().step.as_deref() == Some(step) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("binding {id} never reached the step {step}");
}

#[tokio::test]
async fn lease_renewed_while_a_step_runs_long_sqlite() {
    lease_renewed_while_a_step_runs_long(&sqlite_url()).await;
}

#[tokio::test]
async fn lease_renewed_while_a_step_runs_long_postgres() {
    lease_renewed_while_a_step_runs_long(&fresh_postgres_database().await).await;
}

/// A binding's lease of 2 s, held by a teardown that stops for 6 s after
/// a step (as a slow Keystone call would): no other holder gets it
/// meanwhile, and it is free as soon as the teardown is done. A teardown
/// dropped in the middle (its task aborted) stops renewing: the lease is
/// free once its TTL runs out. (With a TTL of 1 s, a renewal every third of
/// it lost the lease once when the machine's load average was 11.)
async fn lease_renewed_while_a_step_runs_long(database_url: &str) {
    // The teardowns remove mercador services left without endpoints on A:
    // not in the middle of another test's subscribe.
    let turn = a_entity_turn().await;
    let ttl = Duration::from_secs(2);
    let slow = subscriber_leasing(&turn, database_url, ttl, Some(("remove_endpoints", ttl * 3))).await;
    let publisher = name("pub-gone");
    slow.register_publisher(NewPublisher {
        name: publisher.clone(),
        keystone_url: "http://127.0.0.1:9/v3".parse().unwrap(),
        exchange_url: None,
        application_credential_id: "x".into(),
        application_credential_secret: "y".to_owned().into(),
    })
    .await
    .unwrap();

    // Held for 3 TTLs past its last step: never to be had by another.
    let b = revoking_binding(&slow, &publisher, "vr-slow").await;
    let key = format!("binding:{}", b.id);
    let store = slow.store().clone();
    let pending = {
        let slow = slow.clone();
        tokio::spawn(async move { slow.reconcile().await })
    };
    until_step(&slow, &b.id, "remove_endpoints").await;
    // Another holder gets it only once the teardown is done (released).
    let held_since = Instant::now();
    while !store.acquire_lease(&key, "another-replica", ttl).await.unwrap() {
        assert!(held_since.elapsed() < Duration::from_secs(60), "never released");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let taken_after = held_since.elapsed();
    let done = store.get_binding(&b.id).await.unwrap().unwrap();
    assert_eq!(done.state, SubscriptionState::Revoked, "taken by another holder {taken_after:?} into the pause");
    assert!(taken_after >= ttl * 2, "held {taken_after:?} only");
    store.release_lease(&key, "another-replica").await.unwrap();
    let report = pending.await.unwrap().unwrap();
    assert_eq!(report.finished, [b.alias.to_string()], "{report:?}");

    // Dropped in the middle: renewed until then, free a TTL later.
    let stuck =
        subscriber_leasing(&turn, database_url, ttl, Some(("remove_endpoints", Duration::from_secs(120)))).await;
    let b = revoking_binding(&stuck, &publisher, "vr-drop").await;
    let key = format!("binding:{}", b.id);
    let pending = {
        let stuck = stuck.clone();
        tokio::spawn(async move { stuck.reconcile().await })
    };
    until_step(&stuck, &b.id, "remove_endpoints").await;
    tokio::time::sleep(ttl * 2).await;
    assert!(!store.acquire_lease(&key, "another-replica", ttl).await.unwrap(), "renewed while paused");
    pending.abort();
    assert!(pending.await.unwrap_err().is_cancelled());
    let dropped_at = Instant::now();
    while !store.acquire_lease(&key, "another-replica", ttl).await.unwrap() {
        assert!(dropped_at.elapsed() < ttl * 2, "still renewed {:?} after the drop", dropped_at.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store.release_lease(&key, "another-replica").await.unwrap();
    let report = slow.reconcile().await.unwrap();
    assert_eq!(report.finished, [b.alias.to_string()], "another engine finishes it: {report:?}");
    slow.remove_publisher(&publisher).await.unwrap();
}

#[tokio::test]
async fn revocation_noticed_while_a_cancel_runs_sqlite() {
    revocation_noticed_while_a_cancel_runs(&sqlite_url()).await;
}

#[tokio::test]
async fn revocation_noticed_while_a_cancel_runs_postgres() {
    revocation_noticed_while_a_cancel_runs(&fresh_postgres_database().await).await;
}

/// The scheduled refresh read a binding as active; by the time the
/// publisher answers that the subscription is revoked, an admin's cancel
/// of it is under way (`cancelling`, its lease held). The refresh leaves it
/// alone: the binding stays `cancelling` and the cancel ends `cancelled`.
///
/// The refresh is held between its read and the binding's turn by another
/// binding listed first, whose teardown pauses after a step (test hook).
async fn revocation_noticed_while_a_cancel_runs(database_url: &str) {
    let turn = a_entity_turn().await;
    free_entity_on_b(turn.entity_id()).await;
    let service = PublisherProcess::start(PublisherOptions::default()).await;
    let admin = ApiClient::new(service.url()).with_token(admin_token().await);
    let (partner, onboarded, vregion) = offer(&admin, "subr", &["compute"]).await;

    let sub = subscriber_with(&turn, database_url, None).await;
    let b_name = register(&sub, &service, &onboarded).await.name;
    let alias = name("vr-r");
    let request = SubscribeRequest { publisher: b_name.clone(), vregion: vregion.clone(), alias: alias.clone() };
    let binding = sub.subscribe(request).await.unwrap();
    assert_eq!(binding.state, SubscriptionState::Active, "{binding:?}");
    let remote = binding.remote_subscription_id.clone().unwrap();
    admin.post(&format!("/v1/admin/subscriptions/{remote}/revoke"), &json!({})).await.expect(200);

    // The refresh lists both, then stops in the first one's teardown.
    let first = revoking_binding(&sub, &b_name, "vr-first").await;
    let refresher = subscriber_leasing(
        &turn,
        database_url,
        Duration::from_secs(3),
        Some(("remove_endpoints", Duration::from_secs(5))),
    )
    .await;
    let pending = {
        let refresher = refresher.clone();
        tokio::spawn(async move { refresher.refresh_all().await })
    };
    until_step(&sub, &first.id, "remove_endpoints").await;

    // Meanwhile an admin's cancel starts on another replica: `cancelling`,
    // and its teardown holds the lease.
    let store = sub.store().clone();
    let mut cancelling = store.get_binding(&binding.id).await.unwrap().unwrap();
    cancelling.state = SubscriptionState::Cancelling;
    let cancelling = store.update_binding(&cancelling).await.unwrap();
    let key = format!("binding:{}", binding.id);
    assert!(store.acquire_lease(&key, "cancelling-replica", Duration::from_secs(60)).await.unwrap());

    let report = pending.await.unwrap().unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(store.get_binding(&first.id).await.unwrap().unwrap().state, SubscriptionState::Revoked);
    let left = store.get_binding(&binding.id).await.unwrap().unwrap();
    assert_eq!(left, cancelling, "the refresh left the cancelling binding alone");
    assert!(!objects_on_a(&alias).await.is_empty(), "A's side is the cancel's to remove");

    // The cancel's teardown finishes (the publisher has nothing left to cancel).
    store.release_lease(&key, "cancelling-replica").await.unwrap();
    let cancelled = sub.cancel(&alias).await.unwrap();
    assert_eq!(cancelled.state, SubscriptionState::Cancelled, "{cancelled:?}");
    assert_eq!(objects_on_a(&alias).await, Vec::<String>::new());

    sub.remove_publisher(&b_name).await.unwrap();
    clean_b(&admin, &partner, &vregion).await;
}

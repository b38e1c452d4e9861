//! The publisher service killed with SIGKILL in the middle of subscribe and
//! of cancel, then restarted: the subscription ends consistent, with no
//! orphaned Keystone object; and partners reaching each other's data over
//! HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use mercador_core::keystone::IdentityApi;
use mercador_tests::publisher::{fake_metadata, federation_objects_of, name, test_catalog};
use mercador_tests::{Cloud, Testbed};
use serde_json::{Value, json};
use support::{ApiClient, PublisherOptions, PublisherProcess, admin_token, partner_token};

/// A service whose engine stops for two minutes after `step`, with short
/// leases so that the restarted service takes over quickly.
async fn service_pausing_after(step: &str) -> PublisherProcess {
    PublisherProcess::start(PublisherOptions {
        pause_after_step: Some(format!("{step}:120s")),
        reconcile_interval_secs: 2,
        env: vec![("MERCADOR_SERVER__LEASE_TTL_SECS".into(), "10".into())],
        ..Default::default()
    })
    .await
}

/// Drops the pause from the configuration (the restarted service must run
/// through).
fn without_pause(service: &PublisherProcess) {
    let config = std::fs::read_to_string(service.config_path()).unwrap();
    let kept: Vec<&str> = config.lines().filter(|l| !l.starts_with("pause_after_step")).collect();
    std::fs::write(service.config_path(), kept.join("\n")).unwrap();
}

/// Onboards a partner and publishes a vregion offered to it; returns the
/// partner's API client, its name and the vregion's name.
async fn partner_and_vregion(admin: &ApiClient) -> (ApiClient, String, String) {
    test_catalog().await;
    let partner = name("crash").to_string();
    let onboarded = admin.post("/v1/admin/partners", &json!({"name": partner})).await.expect(201);
    let vregion = name("vr").to_string();
    admin
        .post(
            "/v1/admin/vregions",
            &json!({
                "name": vregion,
                "region": Testbed::get().region(Cloud::B),
                "service_types": ["identity"],
                "roles": ["reader"],
                "max_subscriptions": 1,
                "partners": [partner],
            }),
        )
        .await
        .expect(201);
    admin.post_empty(&format!("/v1/admin/vregions/{vregion}/publish")).await.expect(200);
    let as_partner = admin.with_token(partner_token(&onboarded).await);
    (as_partner, partner, vregion)
}

fn subscribe_body(partner: &str, vregion: &str) -> Value {
    let entity = format!("https://{partner}.example/idp");
    json!({"vregion": vregion, "entity_id": entity, "metadata": fake_metadata(&entity)})
}

/// Waits until the service pauses after `step` (its work done and
/// recorded), as the admin API and the log show.
async fn wait_for_step(service: &PublisherProcess, admin: &ApiClient, partner: &str, step: &str) -> Value {
    for _ in 0..300 {
        let subs = admin.get(&format!("/v1/admin/subscriptions?partner={partner}")).await.expect(200);
        let paused = service.log().contains("pausing after step");
        if let Some(s) = subs.as_array().unwrap().iter().find(|s| s["step"] == step && paused) {
            return s.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the subscription never reached step {step}");
}

async fn wait_for_state(admin: &ApiClient, id: &str, state: &str) -> Value {
    for _ in 0..600 {
        let s = admin.get(&format!("/v1/admin/subscriptions/{id}")).await.expect(200);
        if s["state"] == state {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("subscription {id} never became {state}");
}

async fn domain_of(admin: &ApiClient, vregion: &str) -> String {
    admin.get(&format!("/v1/admin/vregions/{vregion}")).await.expect(200)["domain_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn killed_in_the_middle_of_subscribe_then_restarted() {
    let mut service = service_pausing_after("mapping").await;
    let admin = ApiClient::new(service.url()).with_token(admin_token().await);
    let (as_partner, partner, vregion) = partner_and_vregion(&admin).await;
    let domain_id = domain_of(&admin, &vregion).await;

    // The partner's subscribe hangs after the mapping step; kill -9 there.
    let body = subscribe_body(&partner, &vregion);
    let pending = {
        let (client, body) = (as_partner.clone(), body.clone());
        tokio::spawn(async move { client.try_post("/v1/exchange/subscriptions", &body).await })
    };
    let sub = wait_for_step(&service, &admin, &partner, "mapping").await;
    assert_eq!(sub["state"], "provisioning");
    service.kill9();
    assert!(pending.await.unwrap().is_err(), "the partner's request died with the service");
    let half_done = federation_objects_of(&partner.parse().unwrap(), &domain_id).await;
    assert!(half_done.iter().any(|o| o.starts_with("mapping")), "{half_done:?}");
    assert!(!half_done.iter().any(|o| o.starts_with("admin user")), "{half_done:?}");

    // Restarted, the service resumes the subscription by itself.
    without_pause(&service);
    service.restart().await;
    let id = sub["id"].as_str().unwrap();
    let active = wait_for_state(&admin, id, "active").await;
    assert_eq!(active["objects"].as_array().unwrap().len(), 7, "{active}");
    let objects = federation_objects_of(&partner.parse().unwrap(), &domain_id).await;
    assert_eq!(objects.iter().filter(|o| o.starts_with("admin user")).count(), 1, "{objects:?}");

    // The partner asks again: the same subscription, with the admin password
    // its first answer lost; then never again.
    let access = as_partner.post("/v1/exchange/subscriptions", &body).await.expect(201);
    assert_eq!(access["subscription"]["id"], id);
    let password = access["admin"]["password"].as_str().expect("the password, once");
    let info = Testbed::get()
        .session(
            Cloud::B,
            mercador_core::keystone::Credentials::password(
                access["admin"]["user_name"].as_str().unwrap(),
                access["domain_name"].as_str().unwrap(),
                password.to_owned().into(),
            ),
            mercador_core::keystone::Scope::domain_id(domain_id.clone()),
        )
        .token()
        .await
        .expect("the returned password is the admin user's");
    assert!(info.has_role("manager") && !info.has_role("admin"), "{:?}", info.role_names());
    let again = as_partner.post("/v1/exchange/subscriptions", &body).await;
    assert_eq!(again.status, 409, "{again}");

    // Clean up through the API.
    let cancelled = as_partner.delete(&format!("/v1/exchange/subscriptions/{id}")).await.expect(200);
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(federation_objects_of(&partner.parse().unwrap(), &domain_id).await, Vec::<String>::new());
    admin.post_empty(&format!("/v1/admin/vregions/{vregion}/withdraw")).await.expect(200);
    admin.delete(&format!("/v1/admin/vregions/{vregion}?purge=true")).await.expect(204);
    admin.delete(&format!("/v1/admin/partners/{partner}")).await.expect(204);
}

#[tokio::test]
async fn killed_in_the_middle_of_cancel_then_restarted() {
    let mut service = service_pausing_after("remove_admin_user").await;
    let admin = ApiClient::new(service.url()).with_token(admin_token().await);
    let (as_partner, partner, vregion) = partner_and_vregion(&admin).await;
    let domain_id = domain_of(&admin, &vregion).await;
    let access = as_partner.post("/v1/exchange/subscriptions", &subscribe_body(&partner, &vregion)).await.expect(201);
    let id = access["subscription"]["id"].as_str().unwrap().to_owned();

    let pending = {
        let (client, path) = (as_partner.clone(), format!("/v1/exchange/subscriptions/{id}"));
        tokio::spawn(async move { client.try_delete(&path).await })
    };
    let sub = wait_for_step(&service, &admin, &partner, "remove_admin_user").await;
    assert_eq!(sub["state"], "cancelling");
    service.kill9();
    assert!(pending.await.unwrap().is_err());
    let half_done = federation_objects_of(&partner.parse().unwrap(), &domain_id).await;
    assert!(half_done.iter().any(|o| o.starts_with("identity provider")), "{half_done:?}");

    without_pause(&service);
    service.restart().await;
    wait_for_state(&admin, &id, "cancelled").await;
    assert_eq!(federation_objects_of(&partner.parse().unwrap(), &domain_id).await, Vec::<String>::new());
    let dir = mercador_core::publisher::ShibbolethMetadataDir::new(Testbed::get().var("KEYSTONE_B_SHIB_METADATA_DIR"));
    assert!(!dir.file_of(&format!("https://{partner}.example/idp")).exists());

    admin.post_empty(&format!("/v1/admin/vregions/{vregion}/withdraw")).await.expect(200);
    admin.delete(&format!("/v1/admin/vregions/{vregion}?purge=true")).await.expect(204);
    admin.delete(&format!("/v1/admin/partners/{partner}")).await.expect(204);
}

#[tokio::test]
async fn a_partner_never_reaches_another_partners_subscription() {
    let service = PublisherProcess::start(PublisherOptions::default()).await;
    let admin = ApiClient::new(service.url()).with_token(admin_token().await);
    let (acme, acme_name, vregion) = partner_and_vregion(&admin).await;
    let (widget, _, widget_vregion) = partner_and_vregion(&admin).await;
    let access = acme.post("/v1/exchange/subscriptions", &subscribe_body(&acme_name, &vregion)).await.expect(201);
    let id = access["subscription"]["id"].as_str().unwrap();

    let offered: Vec<Value> = widget.get("/v1/exchange/vregions").await.expect(200).as_array().unwrap().clone();
    assert_eq!(offered.iter().map(|v| v["name"].clone()).collect::<Vec<_>>(), [json!(widget_vregion)]);
    assert!(widget.get("/v1/exchange/subscriptions").await.expect(200).as_array().unwrap().is_empty());
    for answer in [
        widget.get(&format!("/v1/exchange/subscriptions/{id}")).await,
        widget.post_empty(&format!("/v1/exchange/subscriptions/{id}/refresh")).await,
        widget.delete(&format!("/v1/exchange/subscriptions/{id}")).await,
        widget.post("/v1/exchange/subscriptions", &subscribe_body("widget-x", &vregion)).await,
    ] {
        assert_eq!(answer.status, 404, "{answer}");
        assert!(!answer.text.contains(&acme_name), "nothing of acme leaks: {answer}");
    }
    // acme's refresh works and gives a fresh admin token.
    let refreshed = acme.post_empty(&format!("/v1/exchange/subscriptions/{id}/refresh")).await.expect(200);
    assert!(refreshed["admin"].get("password").is_none());
    let info = Testbed::get()
        .admin(Cloud::B)
        .validate_token(&refreshed["admin"]["token"].as_str().unwrap().to_owned().into())
        .await
        .unwrap();
    assert_eq!(info.user.name.as_deref(), Some(format!("mercador-admin-{acme_name}").as_str()));

    acme.delete(&format!("/v1/exchange/subscriptions/{id}")).await.expect(200);
    for v in [&vregion, &widget_vregion] {
        admin.post_empty(&format!("/v1/admin/vregions/{v}/withdraw")).await.expect(200);
        admin.delete(&format!("/v1/admin/vregions/{v}?purge=true")).await.expect(204);
    }
    for p in admin.get("/v1/admin/partners").await.expect(200).as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        if name == acme_name || offered.is_empty() {
            admin.delete(&format!("/v1/admin/partners/{name}")).await.expect(204);
        }
    }
}

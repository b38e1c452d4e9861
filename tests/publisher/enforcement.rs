//! A vregion's quotas and image visibility, enforced by B's real Glance
//! (issue 15, deliverables 3 and 4), used as a CSU of A would: alice of A
//! logs into the vregion through K2K (Mercador's client, and keystoneauth1
//! as the judge) and works with Glance.
//!
//! - her project, created by her first federated login, gets the vregion's
//!   quotas as its own limits within the enforcement interval (the pass the
//!   publisher service runs every 5 s, run here by the test the same way);
//! - Glance refuses her (N+1)th image and the upload over the size limit
//!   with its own 413;
//! - a listed image of B is in her listing and readable, an unlisted
//!   private image of B is neither;
//! - an unlisted shared image of B shared with her project by hand is
//!   unshared by the reconciliation pass;
//! - a quota change converges her project; when the rule drops the image
//!   her project is no longer a member, when it lists it again it is;
//! - when the subscription ends, her project has neither Mercador's limits
//!   nor the membership; deleting the vregion leaves no Mercador limit in
//!   B's region.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../glance/client.rs"]
#[allow(dead_code)] // the Glance tests use more of it
mod client;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use mercador_core::k2k::Keystone2Keystone;
use mercador_core::keystone::types::Filter;
use mercador_core::keystone::{IdentityApi, Scope};
use mercador_core::model::{EnforcementLevel, SubscriptionState, VRegionSpec, VisibilityRule};
use mercador_core::publisher::{NewPartner, Publisher};
use mercador_tests::publisher::{a_entity_turn, engine, free_entity_on_b, name, session_with, sqlite_url};
use mercador_tests::{Cloud, Testbed, unique};
use secrecy::ExposeSecret;
use serde_json::json;

use client::{Glance, Reply, data};

const MIB: usize = 1024 * 1024;
/// The publisher service's default `[server] enforce_interval_secs`.
const ENFORCE_INTERVAL: Duration = Duration::from_secs(5);
/// How long the test waits for a pass to show (generous: the machine is shared).
const BOUND: Duration = Duration::from_secs(90);

#[track_caller]
fn assert_over_quota(reply: &Reply, resource: &str) {
    assert_eq!(reply.status, 413, "expected Glance's over-quota refusal, got HTTP {}: {}", reply.status, reply.body);
    assert!(reply.body.contains(&format!("Resource {resource} is over limit of")), "{}", reply.body);
}

fn spec(vregion: &mercador_core::model::Name, partner: &mercador_core::model::Name, listed: &str) -> VRegionSpec {
    serde_json::from_value(json!({
        "name": vregion,
        "region": Testbed::get().region(Cloud::B),
        "service_types": ["identity", "image"],
        "roles": ["member"],
        "quotas": [
            {"resource": "image_count_total", "limit": 2},
            {"resource": "image_size_total", "limit": 1}
        ],
        "visibility": {"images": {"mode": "listed", "ids": [listed]}},
        "max_subscriptions": 1,
        "partners": [partner],
    }))
    .unwrap()
}

/// The limits Mercador set on `project` (described `Mercador vregion <name>`).
async fn mercador_limits(project: &str, vregion: &mercador_core::model::Name) -> Vec<(String, i64)> {
    let b = Testbed::get().admin(Cloud::B);
    let ours = format!("Mercador vregion {vregion}");
    let mut found: Vec<(String, i64)> = b
        .list_limits(&Filter::new().project_id(project))
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.description.as_deref() == Some(ours.as_str()))
        .map(|l| (l.resource_name, l.resource_limit))
        .collect();
    found.sort();
    found
}

/// The members of image `id` on B's Glance.
async fn members(engine: &Publisher, id: &str) -> Vec<(String, String)> {
    let glance = engine.images().expect("the engine has B's Glance");
    let region = Testbed::get().region(Cloud::B).to_owned();
    glance.list_members(&region, id).await.unwrap().into_iter().map(|m| (m.member_id, m.status)).collect()
}

/// Runs [`Publisher::enforce`] every [`ENFORCE_INTERVAL`], as the service does.
fn enforcer(engine: &Publisher) -> tokio::task::JoinHandle<()> {
    let engine = engine.clone();
    tokio::spawn(async move {
        loop {
            let report = engine.enforce().await.expect("an enforcement pass");
            assert!(report.failed.is_empty(), "enforcement failed: {:?}", report.failed);
            tokio::time::sleep(ENFORCE_INTERVAL).await;
        }
    })
}

#[tokio::test]
async fn quotas_and_listed_images_hold_on_glance_for_a_federated_project() {
    let turn = a_entity_turn().await;
    let tb = Testbed::get();
    let b = tb.admin(Cloud::B);
    let a = tb.admin(Cloud::A);
    let engine = engine(&sqlite_url()).await;
    let entity_id = turn.entity_id().to_string();
    free_entity_on_b(&entity_id).await;
    let region = tb.region(Cloud::B).to_owned();

    // B's images: one shared (the vregion lists it), one private (it does not).
    let admin_glance = Arc::new(Glance::of(tb.admin_session(Cloud::B)).await);
    let listed = admin_glance.create_ok(&unique("mercador-tests-enforce-listed"), "shared").await;
    let private = admin_glance.create_ok(&unique("mercador-tests-enforce-private"), "private").await;
    let partner = name("enforce");
    let vregion = spec(&name("glance"), &partner, &listed);
    let mut sp_id = None;
    let mut her_project = None;
    let mut enforcing: Option<tokio::task::JoinHandle<()>> = None;
    let mut strays: Vec<String> = Vec::new();

    let outcome = AssertUnwindSafe(async {
        // A private image cannot be listed: refused with its field.
        let mut bad = vregion.clone();
        bad.visibility.images = VisibilityRule::Listed { ids: vec![private.clone()] };
        let e = engine.create_vregion(bad).await.unwrap_err().to_string();
        assert!(e.contains("visibility.images") && e.contains("--shared"), "{e}");

        engine.onboard_partner(NewPartner { name: partner.clone(), description: "Enforce".into() }).await.unwrap();
        let view = engine.create_vregion(vregion.clone()).await.unwrap();
        assert_eq!(view.enforcement.quotas.level, EnforcementLevel::Enforced, "{:?}", view.enforcement);
        assert_eq!(view.enforcement.images.level, EnforcementLevel::Partial, "B's public images stay visible");
        assert_eq!(view.enforcement.networks.level, EnforcementLevel::NotEnforced);
        assert_eq!(view.enforcement.volumes.level, EnforcementLevel::NotEnforced);
        let domain_id = engine.publish_vregion(&vregion.name).await.unwrap().domain_id.unwrap();
        assert!(b.list_projects(&Filter::new().domain_id(&domain_id)).await.unwrap().is_empty());

        let access = engine.subscribe(&partner, turn.subscribe_request(&vregion.name)).await.unwrap();
        assert_eq!(access.subscription.state, SubscriptionState::Active);
        let sp = turn.service_provider_on_a(&access, "enf-sp").await;
        sp_id = Some(sp.clone());
        enforcing = Some(enforcer(&engine));

        // alice's first login creates her project in the vregion domain.
        let alice = turn.alice();
        let k2k = Keystone2Keystone::new(alice.clone(), &sp).await.unwrap();
        let projects = k2k.projects().await.unwrap();
        assert_eq!(projects.len(), 1, "{projects:?}");
        let project = projects[0].id.clone();
        her_project = Some(project.clone());
        let created = Instant::now();
        let on_b = session_with(Arc::new(k2k), Scope::project_id(project.clone()));
        let token = on_b.token().await.unwrap();
        assert!(token.has_role("member") && !token.has_role("admin"), "{:?}", token.role_names());
        let glance = Glance::of(on_b.clone()).await;

        // Within the enforcement interval, Glance reads the vregion's quotas for it.
        loop {
            let usage = glance.usage().await;
            if usage["image_count_total"].1 == 2 && usage["image_size_total"].1 == 1 {
                break;
            }
            assert!(created.elapsed() < BOUND, "no limits after {:?}: {usage:?}", created.elapsed());
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        println!("a new federated project had the vregion's limits {:?} after its first login", created.elapsed());
        assert_eq!(
            mercador_limits(&project, &vregion.name).await,
            [("image_count_total".to_string(), 2), ("image_size_total".to_string(), 1)]
        );

        // The listed image is in her listing and readable; B's private one is neither.
        loop {
            if glance.list(&[]).await.iter().any(|i| i["id"] == listed.as_str()) {
                break;
            }
            assert!(created.elapsed() < BOUND, "the listed image never showed");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(members(&engine, &listed).await, [(project.clone(), "accepted".to_string())]);
        glance.get(&listed).await.expect(200);
        assert!(!glance.list(&[]).await.iter().any(|i| i["id"] == private.as_str()), "B's private image listed");
        glance.get(&private).await.expect(404);
        // An unlisted shared image of B, shared with her project by hand
        // against the rule: the reconciliation pass takes the share back.
        let stray = admin_glance.create_ok(&unique("mercador-tests-enforce-stray"), "shared").await;
        strays.push(stray.clone());
        let images = engine.images().unwrap();
        images.add_member(&region, &stray, &project).await.unwrap();
        images.set_member_status(&region, &stray, &project, "accepted").await.unwrap();
        glance.get(&stray).await.expect(200);
        let report = engine.reconcile().await.unwrap();
        assert!(report.unshared.iter().any(|u| u.contains(&stray) && u.contains(&project)), "{report:?}");
        assert!(members(&engine, &stray).await.is_empty());
        glance.get(&stray).await.expect(404);
        assert_eq!(members(&engine, &listed).await, [(project.clone(), "accepted".to_string())], "listed kept");

        // keystoneauth1, as the CLI would, sees the same.
        let (user, password, alice_project) = tb.demo_user();
        let out = std::process::Command::new(tb.var("TESTBED_PYTHON"))
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/k2k/keystoneauth_k2k.py"))
            .args(["--idp-url", turn.keystone_url().as_str(), "--user", &user, "--project", &alice_project])
            .args(["--sp", &sp, "--sp-project", &alice_project, "--sp-project-domain", &access.domain_name])
            .args(["--images-in", &region])
            .env("K2K_PASSWORD", password.expose_secret())
            .output()
            .unwrap();
        assert!(out.status.success(), "keystoneauth1: {}", String::from_utf8_lossy(&out.stderr));
        let theirs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let images: Vec<&str> = theirs["images"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
        assert!(images.contains(&listed.as_str()) && !images.contains(&private.as_str()), "{images:?}");

        // Quotas, as Glance enforces them: the third image, and 2 MiB, are refused with 413.
        let first = glance.create_ok(&unique("mercador-tests-enforce-alice"), "private").await;
        let second = glance.create_ok(&unique("mercador-tests-enforce-alice"), "private").await;
        assert_over_quota(
            &glance.create(&unique("mercador-tests-enforce-alice"), "private").await,
            "image_count_total",
        );
        assert_over_quota(&glance.upload(&first, data(2 * MIB, 1)).await, "image_size_total");
        glance.upload(&first, data(MIB, 1)).await.expect(204);
        assert_over_quota(&glance.upload(&second, data(MIB, 2)).await, "image_size_total");

        // A quota change converges her project at once.
        let mut changed = vregion.clone();
        changed.quotas[0].limit = 3;
        engine.replace_vregion(&vregion.name, changed.clone()).await.unwrap();
        assert_eq!(glance.usage().await["image_count_total"], (2, 3), "converged by the change itself");
        let third = glance.create_ok(&unique("mercador-tests-enforce-alice"), "private").await;
        assert_over_quota(
            &glance.create(&unique("mercador-tests-enforce-alice"), "private").await,
            "image_count_total",
        );

        // The rule drops the image: her project is no longer a member; listed again, it is.
        let mut public = changed.clone();
        public.visibility.images = VisibilityRule::Public;
        engine.replace_vregion(&vregion.name, public).await.unwrap();
        assert!(members(&engine, &listed).await.is_empty());
        assert!(!glance.list(&[]).await.iter().any(|i| i["id"] == listed.as_str()), "unshared image still listed");
        glance.get(&listed).await.expect(404);
        engine.replace_vregion(&vregion.name, changed.clone()).await.unwrap();
        assert_eq!(members(&engine, &listed).await, [(project.clone(), "accepted".to_string())]);
        glance.get(&listed).await.expect(200);

        // Her images go (cancelling never deletes a user's resources; the test tidies its own).
        for id in [&first, &second, &third] {
            glance.delete(id).await.expect(204);
        }

        // The subscription ends: neither the limits nor the share remain, and no pass brings them back.
        let cancelled = engine.cancel(&partner, &access.subscription.id).await.unwrap();
        assert_eq!(cancelled.state, SubscriptionState::Cancelled);
        assert!(mercador_limits(&project, &vregion.name).await.is_empty());
        assert!(members(&engine, &listed).await.is_empty());
        tokio::time::sleep(ENFORCE_INTERVAL * 2).await;
        assert!(mercador_limits(&project, &vregion.name).await.is_empty(), "a pass set limits on a retired project");
        assert!(members(&engine, &listed).await.is_empty(), "a pass shared the image with a retired project");
        if let Some(task) = enforcing.take() {
            task.abort();
        }
        assert!(!b.get_project(&project).await.unwrap().enabled);

        // Deleting the vregion leaves no limit of Mercador's for it in B's region.
        engine.withdraw_vregion(&vregion.name).await.unwrap();
        engine.delete_vregion(&vregion.name, true).await.unwrap();
        let ours = format!("Mercador vregion {}", vregion.name);
        let left: Vec<_> = b
            .list_limits(&Filter::new().region_id(&region))
            .await
            .unwrap()
            .into_iter()
            .filter(|l| l.description.as_deref() == Some(ours.as_str()))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    })
    .catch_unwind()
    .await;

    // Tidy up, also after a failure: B's images, A's service provider, the
    // vregion (with its project), the partner.
    if let Some(task) = enforcing {
        task.abort();
    }
    for id in [&listed, &private].into_iter().chain(&strays) {
        let reply = admin_glance.try_delete(id).await.unwrap();
        assert!([204, 404].contains(&reply.status), "delete image {id}: {reply:?}");
    }
    if let Some(project) = &her_project {
        for image in admin_glance.list(&[("owner", project.as_str())]).await {
            admin_glance.try_delete(image["id"].as_str().unwrap()).await.unwrap();
        }
    }
    if let Some(sp) = &sp_id {
        let _ = a.delete_service_provider(sp).await;
    }
    if engine.get_vregion(&vregion.name).await.is_ok() {
        for s in engine.list_subscriptions(Some(&partner)).await.unwrap_or_default() {
            let _ = engine.revoke(&s.id, true).await;
        }
        let _ = engine.withdraw_vregion(&vregion.name).await;
        let _ = engine.delete_vregion(&vregion.name, true).await;
    }
    let _ = engine.remove_partner(&partner).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

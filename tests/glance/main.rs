//! The testbed's real Glance on Keystone B (issue 15): registered in B's
//! catalog as the `image` service of B's region, used with B's admin token
//! and with a K2K token of alice (a user of A), and enforcing Keystone B's
//! unified limits per project: a project limit set with `POST /v3/limits`
//! makes Glance refuse the next image or the upload over the size limit
//! with its own over-quota error (HTTP 413), and once the limit is deleted
//! the registered default applies again.
//!
//! Every image and limit a test creates is deleted again, also when the
//! test fails.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns: failing loudly is the point

mod client;

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures::FutureExt as _;
use mercador_core::k2k::MultiCloud;
use mercador_core::keystone::types::*;
use mercador_core::keystone::{Credentials, IdentityApi, Scope};
use mercador_tests::federation::K2k;
use mercador_tests::{Cloud, Testbed, unique};
use secrecy::SecretString;

use client::{Glance, data};

const MIB: usize = 1024 * 1024;

/// What a test made and must remove: images (with the Glance that made
/// them), limits, users and projects of Keystone B.
#[derive(Default)]
struct Tidy {
    images: Mutex<Vec<(Arc<Glance>, String)>>,
    limits: Mutex<Vec<String>>,
    users: Mutex<Vec<String>>,
    projects: Mutex<Vec<String>>,
}

impl Tidy {
    fn image(&self, glance: &Arc<Glance>, id: &str) {
        self.images.lock().unwrap().push((glance.clone(), id.to_owned()));
    }

    /// Runs `body`, then removes what was recorded (also when `body`
    /// panicked), then re-raises the panic, or fails if a removal failed.
    async fn run(self: Arc<Self>, body: impl Future<Output = ()>) {
        let outcome = AssertUnwindSafe(body).catch_unwind().await;
        let b = Testbed::get().admin(Cloud::B);
        let mut failures = Vec::new();
        let images = std::mem::take(&mut *self.images.lock().unwrap());
        for (glance, id) in images.into_iter().rev() {
            match glance.try_delete(&id).await {
                Ok(reply) if [204, 404].contains(&reply.status) => {}
                Ok(reply) => failures.push(format!("delete image {id}: HTTP {}: {}", reply.status, reply.body)),
                Err(e) => failures.push(format!("delete image {id}: {e}")),
            }
        }
        let limits = std::mem::take(&mut *self.limits.lock().unwrap());
        for id in limits {
            match b.delete_limit(&id).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => failures.push(format!("delete limit {id}: {e}")),
            }
        }
        let users = std::mem::take(&mut *self.users.lock().unwrap());
        for id in users {
            match b.delete_user(&id).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => failures.push(format!("delete user {id}: {e}")),
            }
        }
        let projects = std::mem::take(&mut *self.projects.lock().unwrap());
        for id in projects {
            match b.delete_project(&id).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => failures.push(format!("delete project {id}: {e}")),
            }
        }
        match outcome {
            Err(panic) => {
                for f in &failures {
                    eprintln!("cleanup failed: {f}");
                }
                std::panic::resume_unwind(panic)
            }
            Ok(()) => assert!(failures.is_empty(), "cleanup failed: {}", failures.join("; ")),
        }
    }
}

/// Glance's service id in Keystone B (the testbed registered it).
fn glance_service_id() -> String {
    Testbed::get().var("GLANCE_SERVICE_ID").to_owned()
}

/// The registered limits the testbed set (every project's default).
fn registered_defaults() -> BTreeMap<String, i64> {
    Testbed::get()
        .var("GLANCE_REGISTERED_LIMITS")
        .split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("name=value");
            (k.to_owned(), v.parse().expect("a number"))
        })
        .collect()
}

/// Sets a project limit of Glance's on Keystone B (B's region), recorded
/// for removal; returns its id.
async fn set_limit(tidy: &Tidy, project_id: &str, resource: &str, limit: i64) -> String {
    let tb = Testbed::get();
    let created = tb
        .admin(Cloud::B)
        .create_limits(&[NewLimit {
            service_id: glance_service_id(),
            region_id: Some(tb.region(Cloud::B).to_owned()),
            resource_name: resource.to_owned(),
            resource_limit: limit,
            project_id: Some(project_id.to_owned()),
            domain_id: None,
            description: Some("mercador glance test".into()),
        }])
        .await
        .expect("create a project limit on Keystone B");
    let id = created[0].id.clone();
    tidy.limits.lock().unwrap().push(id.clone());
    id
}

/// Asserts Glance's own over-quota refusal of `resource`.
#[track_caller]
fn assert_over_quota(reply: &client::Reply, resource: &str) {
    assert_eq!(reply.status, 413, "expected Glance's over-quota refusal, got HTTP {}: {}", reply.status, reply.body);
    assert!(
        reply.body.contains(&format!("Resource {resource} is over limit of")),
        "Glance names the limit {resource}: {}",
        reply.body
    );
}

#[tokio::test]
async fn glance_is_the_image_service_of_b_region_with_registered_limits() {
    let tb = Testbed::get();
    let b = tb.admin(Cloud::B);
    let region = tb.region(Cloud::B);
    // B's admin token's catalog leads to the testbed's Glance.
    let glance = Glance::of(tb.admin_session(Cloud::B)).await;
    assert_eq!(glance.url().as_str().trim_end_matches('/'), tb.var("GLANCE_URL"));

    // One enabled image service with an endpoint in B's region (what the
    // publisher's vregion checks pick), and it is Glance's.
    let mut with_endpoint = Vec::new();
    for service in b.list_services(&Filter::new().service_type("image")).await.unwrap() {
        let endpoints = b.list_endpoints(&Filter::new().service_id(&service.id).region_id(region)).await.unwrap();
        if service.enabled && !endpoints.is_empty() {
            with_endpoint.push((service, endpoints));
        }
    }
    assert_eq!(with_endpoint.len(), 1, "image services with endpoints in {region}: {with_endpoint:?}");
    let (service, endpoints) = &with_endpoint[0];
    assert_eq!(service.id, glance_service_id());
    assert_eq!(service.name.as_deref(), Some("glance"));
    assert_eq!(endpoints.len(), 1, "{endpoints:?}");
    assert_eq!(endpoints[0].id, tb.var("GLANCE_ENDPOINT_ID"), "oslo.limit's endpoint_id");
    assert_eq!(endpoints[0].interface.to_string(), "public");

    // The registered limits Glance enforces, in B's region.
    let registered = b.list_registered_limits(&Filter::new().service_id(service.id.clone())).await.unwrap();
    let found: BTreeMap<String, i64> = registered
        .iter()
        .filter(|r| r.region_id.as_deref() == Some(region))
        .map(|r| (r.resource_name.clone(), r.default_limit))
        .collect();
    assert_eq!(found, registered_defaults());
    assert_eq!(
        found.keys().map(String::as_str).collect::<Vec<_>>(),
        ["image_count_total", "image_count_uploading", "image_size_total", "image_stage_total"]
    );
}

#[tokio::test]
async fn b_admin_creates_uploads_lists_downloads_and_deletes_an_image() {
    let tb = Testbed::get();
    let tidy = Arc::new(Tidy::default());
    tidy.clone()
        .run(async {
            let glance = Arc::new(Glance::of(tb.admin_session(Cloud::B)).await);
            let name = unique("mercador-tests-glance-admin");
            let id = glance.create_ok(&name, "private").await;
            tidy.image(&glance, &id);
            let image = glance.get(&id).await.expect(200).json();
            assert_eq!(image["status"], "queued", "{image}");
            let admin_project = tb.admin_session(Cloud::B).token().await.unwrap().project.clone().unwrap().id;
            assert_eq!(image["owner"], admin_project.as_str(), "{image}");

            let bytes = data(100_000, 1);
            glance.upload(&id, bytes.clone()).await.expect(204);
            let image = glance.get(&id).await.expect(200).json();
            assert_eq!(image["status"], "active", "{image}");
            assert_eq!(image["size"], 100_000, "{image}");
            assert_eq!(glance.download(&id).await, bytes, "the data comes back as uploaded");
            let listed = glance.list(&[("name", name.as_str())]).await;
            assert_eq!(listed.iter().map(|i| i["id"].as_str().unwrap()).collect::<Vec<_>>(), [id.as_str()]);

            glance.delete(&id).await.expect(204);
            glance.get(&id).await.expect(404);
            assert!(glance.list(&[("name", name.as_str())]).await.is_empty());
        })
        .await;
}

/// alice of A, through K2K into the fixture's project on B: her token's
/// catalog leads to Glance, which takes her images, lists them (not B's
/// private ones), and holds her project to the limits set in Keystone B.
#[tokio::test]
async fn alice_through_k2k_uses_glance_within_her_project_limits() {
    let fx = K2k::get().await;
    let tb = Testbed::get();
    let tidy = Arc::new(Tidy::default());
    tidy.clone()
        .run(async {
            let clouds = MultiCloud::new(fx.alice());
            let on_b = clouds.session(&fx.sp_id, Scope::project(&fx.project_name, &fx.domain_name)).await.unwrap();
            assert!(on_b.token().await.unwrap().is_federated());
            let alice = Arc::new(Glance::of(on_b).await);
            assert_eq!(alice.url().as_str().trim_end_matches('/'), tb.var("GLANCE_URL"));
            let admin = Arc::new(Glance::of(tb.admin_session(Cloud::B)).await);
            // What an interrupted run left in the fixture's project.
            for image in alice.list(&[("owner", fx.project_id.as_str())]).await {
                if image["name"].as_str().is_some_and(|n| n.starts_with("mercador-tests-glance-")) {
                    alice.delete(image["id"].as_str().unwrap()).await.expect(204);
                }
            }

            // Her image: created, uploaded, listed, read back; owned by her project on B.
            let name = unique("mercador-tests-glance-alice");
            let id = alice.create_ok(&name, "private").await;
            tidy.image(&alice, &id);
            let bytes = data(64 * 1024, 2);
            alice.upload(&id, bytes.clone()).await.expect(204);
            let image = alice.get(&id).await.expect(200).json();
            assert_eq!(
                (image["status"].as_str(), image["owner"].as_str()),
                (Some("active"), Some(fx.project_id.as_str()))
            );
            assert_eq!(alice.download(&id).await, bytes);
            let mine = alice.list(&[("name", name.as_str())]).await;
            assert_eq!(mine.len(), 1, "{mine:?}");
            // B's admin sees it as an image of that project.
            assert_eq!(admin.get(&id).await.expect(200).json()["owner"], fx.project_id.as_str());

            // A private image of B's admin project is neither listed for her nor readable.
            let private = admin.create_ok(&unique("mercador-tests-glance-b-private"), "private").await;
            tidy.image(&admin, &private);
            assert!(
                !alice.list(&[]).await.iter().any(|i| i["id"] == private.as_str()),
                "B's private image is listed for alice"
            );
            alice.get(&private).await.expect(404);

            // Limits of her project in Keystone B: one image more than she has,
            // and 1 MiB of data in all.
            let used = alice.usage().await["image_count_total"].0;
            assert!(used >= 1, "{used}");
            let second = alice.create_ok(&unique("mercador-tests-glance-alice"), "private").await;
            tidy.image(&alice, &second);
            let count_limit = set_limit(&tidy, &fx.project_id, "image_count_total", used + 1).await;
            let size_limit = set_limit(&tidy, &fx.project_id, "image_size_total", 1).await;
            let usage = alice.usage().await;
            assert_eq!(usage["image_count_total"], (used + 1, used + 1), "{usage:?}");
            assert_eq!(usage["image_size_total"].1, 1, "{usage:?}");

            // The next image is refused, and so is 2 MiB of data.
            assert_over_quota(
                &alice.create(&unique("mercador-tests-glance-alice"), "private").await,
                "image_count_total",
            );
            assert_over_quota(&alice.upload(&second, data(2 * MIB, 3)).await, "image_size_total");
            assert_eq!(alice.get(&second).await.expect(200).json()["status"], "queued");

            // Limits deleted: the registered defaults apply again.
            let b = tb.admin(Cloud::B);
            b.delete_limit(&count_limit).await.unwrap();
            b.delete_limit(&size_limit).await.unwrap();
            let defaults = registered_defaults();
            let usage = alice.usage().await;
            assert_eq!(usage["image_count_total"].1, defaults["image_count_total"], "{usage:?}");
            assert_eq!(usage["image_size_total"].1, defaults["image_size_total"], "{usage:?}");
            let third = alice.create_ok(&unique("mercador-tests-glance-alice"), "private").await;
            tidy.image(&alice, &third);
            alice.upload(&second, data(2 * MIB, 3)).await.expect(204);
            assert_eq!(alice.get(&second).await.expect(200).json()["size"], 2 * MIB);
        })
        .await;
}

/// The size limit in MiB, as Glance counts it: a project with 1 MiB may
/// store exactly 1 MiB; then any upload declaring a whole MiB more is
/// refused; with the limit deleted the registered default applies again.
#[tokio::test]
async fn a_project_size_limit_is_counted_in_mib_and_checked_before_each_upload() {
    let tb = Testbed::get();
    let b = tb.admin(Cloud::B);
    let tidy = Arc::new(Tidy::default());
    tidy.clone()
        .run(async {
            let project = b
                .create_project(&NewProject {
                    name: unique("mercador-tests-glance-quota"),
                    domain_id: "default".into(),
                    description: Some("mercador glance test".into()),
                    enabled: true,
                    parent_id: None,
                    tags: vec![],
                })
                .await
                .unwrap();
            tidy.projects.lock().unwrap().push(project.id.clone());
            let password = SecretString::from(unique("pw"));
            let user = b
                .create_user(&NewUser {
                    name: unique("mercador-tests-glance-user"),
                    domain_id: "default".into(),
                    password: Some(password.clone()),
                    description: None,
                    default_project_id: None,
                    enabled: true,
                })
                .await
                .unwrap();
            tidy.users.lock().unwrap().push(user.id.clone());
            let member = b.list_roles(&Filter::new().name("member")).await.unwrap().remove(0);
            b.grant_role(&member.id, &Actor::User(user.id.clone()), &Target::Project(project.id.clone()))
                .await
                .unwrap();
            let session = tb.session(
                Cloud::B,
                Credentials::password(&user.name, "Default", password),
                Scope::project_id(&project.id),
            );
            let glance = Arc::new(Glance::of(session).await);
            let limit = set_limit(&tidy, &project.id, "image_size_total", 1).await;
            set_limit(&tidy, &project.id, "image_count_total", 3).await;

            let first = glance.create_ok(&unique("mercador-tests-glance-q"), "private").await;
            tidy.image(&glance, &first);
            let second = glance.create_ok(&unique("mercador-tests-glance-q"), "private").await;
            tidy.image(&glance, &second);
            // 2 MiB are over 1 MiB: refused before any byte is stored.
            assert_over_quota(&glance.upload(&first, data(2 * MIB, 4)).await, "image_size_total");
            // Exactly 1 MiB fits.
            glance.upload(&first, data(MIB, 4)).await.expect(204);
            assert_eq!(glance.usage().await["image_size_total"], (1, 1));
            // Another whole MiB does not.
            assert_over_quota(&glance.upload(&second, data(MIB, 5)).await, "image_size_total");
            // The third image is the last the count limit allows.
            let third = glance.create_ok(&unique("mercador-tests-glance-q"), "private").await;
            tidy.image(&glance, &third);
            assert_over_quota(&glance.create(&unique("mercador-tests-glance-q"), "private").await, "image_count_total");

            // The size limit deleted: the registered default applies again.
            b.delete_limit(&limit).await.unwrap();
            assert_eq!(glance.usage().await["image_size_total"], (1, registered_defaults()["image_size_total"]));
            glance.upload(&second, data(MIB, 5)).await.expect(204);
            assert_eq!(glance.usage().await["image_size_total"].0, 2);
        })
        .await;
}

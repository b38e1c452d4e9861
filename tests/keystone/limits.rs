//! Unified limits on the real Keystone A: the enforcement model, registered
//! limits, project- and domain-level limits, and their `ensure_*` helpers.
//! Every limit hangs off a test service of a unique type in a test region.

use mercador_core::ErrorKind;
use mercador_core::keystone::ensure::{ensure_limit, ensure_registered_limit};
use mercador_core::keystone::types::*;
use mercador_core::keystone::{IdentityApi, Outcome};
use mercador_tests::Cloud;

use crate::common::{self, Cleanup, expect_err, expect_gone};

#[tokio::test]
async fn limit_model() {
    let k = common::admin(Cloud::A);
    let model = k.get_limit_model().await.unwrap();
    assert!(["flat", "strict_two_level"].contains(&model.name.as_str()), "{model:?}");
    assert!(model.description.as_deref().is_some_and(|d| !d.is_empty()), "{model:?}");
}

#[tokio::test]
async fn registered_limits_and_limits() {
    let _writes = common::writing_to(Cloud::A).await;
    let k = common::admin(Cloud::A);
    let c = Cleanup::new();
    c.clone()
        .run(async {
            let (service, region, domain) = tokio::join!(
                common::service(&k, &c, "limit-svc"),
                common::region(&k, &c, "limit-region"),
                common::domain(&k, &c, "limit-dom"),
            );
            let project = common::project(&k, &c, &domain.id, "limit-proj").await;
            let registered = |resource: &str, default_limit| NewRegisteredLimit {
                service_id: service.id.clone(),
                region_id: Some(region.id.clone()),
                resource_name: resource.to_owned(),
                default_limit,
                description: None,
            };

            // Registered limits (several in one all-or-nothing request).
            let created = k
                .create_registered_limits(&[
                    NewRegisteredLimit { description: Some("cores".into()), ..registered("cores", 10) },
                    registered("ram_mb", 2048),
                ])
                .await
                .unwrap();
            for rl in &created {
                let id = rl.id.clone();
                c.defer(format!("registered limit {}", rl.resource_name), &k, move |k| async move {
                    k.delete_registered_limit(&id).await
                });
            }
            assert_eq!(created.len(), 2);
            let cores = created.iter().find(|r| r.resource_name == "cores").unwrap().clone();
            let ram = created.iter().find(|r| r.resource_name == "ram_mb").unwrap().clone();
            assert_eq!((cores.default_limit, ram.default_limit), (10, 2048));
            assert_eq!(cores.service_id, service.id);
            assert_eq!(cores.region_id.as_deref(), Some(region.id.as_str()));
            assert_eq!(cores.description.as_deref(), Some("cores"));
            assert_eq!(k.get_registered_limit(&cores.id).await.unwrap(), cores);
            let of_service = k.list_registered_limits(&Filter::new().service_id(&service.id)).await.unwrap();
            assert_eq!(of_service.len(), 2, "{of_service:?}");
            let by_resource = Filter::new().service_id(&service.id).resource_name("cores");
            assert_eq!(k.list_registered_limits(&by_resource).await.unwrap(), std::slice::from_ref(&cores));
            assert_eq!(
                k.list_registered_limits(&Filter::new().region_id(&region.id).resource_name("ram_mb")).await.unwrap(),
                std::slice::from_ref(&ram)
            );
            // The same service/region/resource twice is a conflict, and nothing is created.
            expect_err(
                k.create_registered_limits(&[registered("disk_gb", 1), registered("cores", 1)]).await,
                ErrorKind::Conflict,
            );
            assert!(
                k.list_registered_limits(&Filter::new().service_id(&service.id).resource_name("disk_gb"))
                    .await
                    .unwrap()
                    .is_empty()
            );
            let updated = k
                .update_registered_limit(
                    &cores.id,
                    &RegisteredLimitUpdate { default_limit: Some(20), description: Some("more cores".into()) },
                )
                .await
                .unwrap();
            assert_eq!((updated.default_limit, updated.description.as_deref()), (20, Some("more cores")));
            assert_eq!(k.get_registered_limit(&cores.id).await.unwrap(), updated);

            // Project- and domain-level limits.
            let limit = |resource: &str, resource_limit, project: Option<&str>, domain: Option<&str>| NewLimit {
                service_id: service.id.clone(),
                region_id: Some(region.id.clone()),
                resource_name: resource.to_owned(),
                resource_limit,
                project_id: project.map(str::to_owned),
                domain_id: domain.map(str::to_owned),
                description: None,
            };
            let created = k
                .create_limits(&[
                    limit("cores", 100, None, Some(&domain.id)),
                    NewLimit { description: Some("p".into()), ..limit("cores", 5, Some(&project.id), None) },
                ])
                .await
                .unwrap();
            for l in &created {
                let id = l.id.clone();
                c.defer(format!("limit {}", l.resource_name), &k, move |k| async move { k.delete_limit(&id).await });
            }
            assert_eq!(created.len(), 2);
            let on_domain = created.iter().find(|l| l.domain_id.is_some()).unwrap().clone();
            let on_project = created.iter().find(|l| l.project_id.is_some()).unwrap().clone();
            assert_eq!(on_domain.domain_id.as_deref(), Some(domain.id.as_str()));
            assert_eq!(on_domain.project_id, None);
            assert_eq!(on_domain.resource_limit, 100);
            assert_eq!(on_project.project_id.as_deref(), Some(project.id.as_str()));
            assert_eq!(on_project.domain_id, None);
            assert_eq!((on_project.resource_limit, on_project.description.as_deref()), (5, Some("p")));
            assert_eq!(on_project.service_id, service.id);
            assert_eq!(on_project.region_id.as_deref(), Some(region.id.as_str()));
            assert_eq!(k.get_limit(&on_project.id).await.unwrap(), on_project);
            assert_eq!(k.get_limit(&on_domain.id).await.unwrap(), on_domain);
            assert_eq!(
                k.list_limits(&Filter::new().project_id(&project.id)).await.unwrap(),
                std::slice::from_ref(&on_project)
            );
            assert_eq!(
                k.list_limits(&Filter::new().domain_id(&domain.id)).await.unwrap(),
                std::slice::from_ref(&on_domain)
            );
            assert_eq!(k.list_limits(&Filter::new().service_id(&service.id)).await.unwrap().len(), 2);
            // A limit needs a registered limit for its resource.
            let e = expect_err(
                k.create_limits(&[limit("no_such_resource", 1, Some(&project.id), None)]).await,
                ErrorKind::Forbidden,
            );
            assert!(e.to_string().contains("no corresponding registered limit"), "{e}");
            // A registered limit referenced by limits cannot be deleted.
            expect_err(k.delete_registered_limit(&cores.id).await, ErrorKind::Forbidden);

            let updated = k
                .update_limit(&on_project.id, &LimitUpdate { resource_limit: Some(7), description: Some("q".into()) })
                .await
                .unwrap();
            assert_eq!((updated.resource_limit, updated.description.as_deref()), (7, Some("q")));
            assert_eq!(k.get_limit(&on_project.id).await.unwrap(), updated);

            k.delete_limit(&on_project.id).await.unwrap();
            expect_gone(k.get_limit(&on_project.id).await);
            k.delete_limit(&on_domain.id).await.unwrap();
            expect_gone(k.get_limit(&on_domain.id).await);
            assert!(k.list_limits(&Filter::new().service_id(&service.id)).await.unwrap().is_empty());

            // ensure_limit, project level and domain level.
            let want = limit("ram_mb", 512, Some(&project.id), None);
            let first = ensure_limit(&k, &want).await.unwrap();
            {
                let id = first.object.id.clone();
                c.defer("ensured project limit", &k, move |k| async move { k.delete_limit(&id).await });
            }
            assert_eq!(first.outcome, Outcome::Created);
            assert_eq!(
                (first.object.resource_limit, first.object.project_id.as_deref()),
                (512, Some(project.id.as_str()))
            );
            let second = ensure_limit(&k, &want).await.unwrap();
            assert_eq!(second.outcome, Outcome::Adopted);
            assert_eq!(second.object, first.object);
            let want = NewLimit { resource_limit: 1024, ..want };
            let third = ensure_limit(&k, &want).await.unwrap();
            assert_eq!(third.outcome, Outcome::Updated);
            assert_eq!((third.object.id.as_str(), third.object.resource_limit), (first.object.id.as_str(), 1024));
            assert_eq!(k.get_limit(&first.object.id).await.unwrap().resource_limit, 1024);
            assert_eq!(ensure_limit(&k, &want).await.unwrap().outcome, Outcome::Adopted);

            let want = limit("ram_mb", 4096, None, Some(&domain.id));
            let first = ensure_limit(&k, &want).await.unwrap();
            {
                let id = first.object.id.clone();
                c.defer("ensured domain limit", &k, move |k| async move { k.delete_limit(&id).await });
            }
            assert_eq!(first.outcome, Outcome::Created);
            assert_eq!(first.object.domain_id.as_deref(), Some(domain.id.as_str()));
            assert_eq!(ensure_limit(&k, &want).await.unwrap().outcome, Outcome::Adopted);
            let want = NewLimit { resource_limit: 8192, ..want };
            let third = ensure_limit(&k, &want).await.unwrap();
            assert_eq!(third.outcome, Outcome::Updated);
            assert_eq!(third.object.resource_limit, 8192);
            // The project-level limit was not touched.
            assert_eq!(k.list_limits(&Filter::new().project_id(&project.id)).await.unwrap()[0].resource_limit, 1024);
            // Exactly one of project and domain.
            let both = limit("ram_mb", 1, Some(&project.id), Some(&domain.id));
            expect_err(ensure_limit(&k, &both).await, ErrorKind::InvalidInput);
            let neither = limit("ram_mb", 1, None, None);
            expect_err(ensure_limit(&k, &neither).await, ErrorKind::InvalidInput);

            // ensure_registered_limit: the default converges.
            let want = registered("image_count_total", 5);
            let first = ensure_registered_limit(&k, &want).await.unwrap();
            {
                let id = first.object.id.clone();
                c.defer("ensured registered limit", &k, move |k| async move { k.delete_registered_limit(&id).await });
            }
            assert_eq!(first.outcome, Outcome::Created);
            assert_eq!(first.object.default_limit, 5);
            let second = ensure_registered_limit(&k, &want).await.unwrap();
            assert_eq!(second.outcome, Outcome::Adopted);
            assert_eq!(second.object, first.object);
            let want = NewRegisteredLimit { default_limit: 6, ..want };
            let third = ensure_registered_limit(&k, &want).await.unwrap();
            assert_eq!(third.outcome, Outcome::Updated);
            assert_eq!((third.object.id.as_str(), third.object.default_limit), (first.object.id.as_str(), 6));
            assert_eq!(k.get_registered_limit(&first.object.id).await.unwrap().default_limit, 6);
            assert_eq!(ensure_registered_limit(&k, &want).await.unwrap().outcome, Outcome::Adopted);
            // Without a region it is another registered limit.
            let global =
                ensure_registered_limit(&k, &NewRegisteredLimit { region_id: None, ..want.clone() }).await.unwrap();
            {
                let id = global.object.id.clone();
                c.defer(
                    "regionless registered limit",
                    &k,
                    move |k| async move { k.delete_registered_limit(&id).await },
                );
            }
            assert_eq!(global.outcome, Outcome::Created);
            assert_ne!(global.object.id, first.object.id);
            assert_eq!(global.object.region_id, None);

            k.delete_registered_limit(&first.object.id).await.unwrap();
            expect_gone(k.get_registered_limit(&first.object.id).await);
        })
        .await;
}

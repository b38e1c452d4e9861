//! Create, get, list, update and delete of every catalog, resource and
//! identity object, and the `ensure_*` helper of each. The tests are spread
//! over both Keystones (each takes one writing test at a time, see
//! `common::writing_to`), so that the two write in parallel.

use mercador_core::ErrorKind;
use mercador_core::keystone::ensure::{
    ensure_domain, ensure_endpoint, ensure_group, ensure_group_member, ensure_project, ensure_region, ensure_role,
    ensure_role_grant, ensure_service, ensure_user,
};
use mercador_core::keystone::types::*;
use mercador_core::keystone::{Credentials, IdentityApi, Interface, Outcome, Scope};
use mercador_tests::{Cloud, Testbed, unique};
use secrecy::{ExposeSecret, SecretString};

use crate::common::{self, Cleanup, expect_err, expect_gone};

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn regions() {
    let _writes = common::writing_to(Cloud::A).await;
    let k = common::admin(Cloud::A);
    let c = Cleanup::new();
    c.clone()
        .run(async {
            let id = unique("region");
            let new = NewRegion { id: Some(id.clone()), description: Some("first".into()), parent_region_id: None };
            let r = k.create_region(&new).await.unwrap();
            {
                let id = id.clone();
                c.defer(format!("region {id}"), &k, move |k| async move { k.delete_region(&id).await });
            }
            assert_eq!(r.id, id);
            assert_eq!(r.description.as_deref(), Some("first"));
            assert_eq!(r.parent_region_id, None);
            assert_eq!(k.get_region(&id).await.unwrap(), r);
            // Creating the same id again is a conflict.
            expect_err(k.create_region(&new).await, ErrorKind::Conflict);

            let child_id = unique("region-child");
            let child = k
                .create_region(&NewRegion {
                    id: Some(child_id.clone()),
                    description: None,
                    parent_region_id: Some(id.clone()),
                })
                .await
                .unwrap();
            {
                let child_id = child_id.clone();
                c.defer(format!("region {child_id}"), &k, move |k| async move { k.delete_region(&child_id).await });
            }
            assert_eq!(child.parent_region_id.as_deref(), Some(id.as_str()));

            // Keystone picks the id when none is given.
            let generated = k
                .create_region(&NewRegion { id: None, description: Some(unique("generated")), parent_region_id: None })
                .await
                .unwrap();
            {
                let gid = generated.id.clone();
                c.defer(format!("region {gid}"), &k, move |k| async move { k.delete_region(&gid).await });
            }
            assert!(!generated.id.is_empty());
            assert_eq!(k.get_region(&generated.id).await.unwrap(), generated);

            let all = k.list_regions(&Filter::new()).await.unwrap();
            assert!(all.contains(&r) && all.contains(&child) && all.contains(&generated));
            let children = k.list_regions(&Filter::new().with("parent_region_id", &id)).await.unwrap();
            assert_eq!(children, std::slice::from_ref(&child));

            let updated = k
                .update_region(&id, &RegionUpdate { description: Some("second".into()), ..Default::default() })
                .await
                .unwrap();
            assert_eq!(updated.description.as_deref(), Some("second"));
            assert_eq!(k.get_region(&id).await.unwrap(), updated);

            // Deleting a region deletes its child regions.
            k.delete_region(&id).await.unwrap();
            expect_gone(k.get_region(&id).await);
            expect_gone(k.get_region(&child_id).await);
            expect_gone(k.delete_region(&id).await);
            k.delete_region(&generated.id).await.unwrap();
            expect_gone(k.get_region(&generated.id).await);

            // ensure_region
            let id = unique("ens-region");
            {
                let id = id.clone();
                c.defer(format!("region {id}"), &k, move |k| async move { k.delete_region(&id).await });
            }
            let want = NewRegion { id: Some(id.clone()), description: Some("v1".into()), parent_region_id: None };
            let first = ensure_region(&k, &want).await.unwrap();
            assert_eq!(first.outcome, Outcome::Created);
            assert_eq!(first.object.description.as_deref(), Some("v1"));
            let second = ensure_region(&k, &want).await.unwrap();
            assert_eq!(second.outcome, Outcome::Adopted);
            assert_eq!(second.object, first.object);
            let want = NewRegion { description: Some("v2".into()), ..want };
            let third = ensure_region(&k, &want).await.unwrap();
            assert_eq!(third.outcome, Outcome::Updated);
            assert_eq!(third.object.description.as_deref(), Some("v2"));
            assert_eq!(k.get_region(&id).await.unwrap(), third.object);
            assert_eq!(ensure_region(&k, &want).await.unwrap().outcome, Outcome::Adopted);
            let no_id = NewRegion { id: None, ..want };
            expect_err(ensure_region(&k, &no_id).await, ErrorKind::InvalidInput);
        })
        .await;
}

#[tokio::test]
async fn services_and_endpoints() {
    let _writes = common::writing_to(Cloud::A).await;
    let k = common::admin(Cloud::A);
    let c = Cleanup::new();
    c.clone()
        .run(async {
            let service_type = unique("svc-type");
            let s = k
                .create_service(&NewService {
                    service_type: service_type.clone(),
                    name: Some(unique("svc")),
                    description: Some("d1".into()),
                    enabled: true,
                })
                .await
                .unwrap();
            {
                let id = s.id.clone();
                c.defer(format!("service {service_type}"), &k, move |k| async move { k.delete_service(&id).await });
            }
            assert_eq!(s.service_type, service_type);
            assert_eq!(s.description.as_deref(), Some("d1"));
            assert!(s.enabled);
            assert_eq!(k.get_service(&s.id).await.unwrap(), s);
            assert_eq!(
                k.list_services(&Filter::new().service_type(&service_type)).await.unwrap(),
                std::slice::from_ref(&s)
            );

            let new_name = unique("svc-renamed");
            let updated = k
                .update_service(
                    &s.id,
                    &ServiceUpdate {
                        name: Some(new_name.clone()),
                        description: Some("d2".into()),
                        enabled: Some(false),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            assert_eq!(updated.name.as_deref(), Some(new_name.as_str()));
            assert_eq!(updated.description.as_deref(), Some("d2"));
            assert!(!updated.enabled);
            assert_eq!(updated.service_type, service_type);
            assert_eq!(k.get_service(&s.id).await.unwrap(), updated);

            // Endpoints of the service, in a test region.
            let region = common::region(&k, &c, "ep-region").await;
            let ep = k
                .create_endpoint(&NewEndpoint {
                    service_id: s.id.clone(),
                    interface: Interface::Public,
                    url: "http://127.0.0.1:9/public".into(),
                    region_id: Some(region.id.clone()),
                    enabled: true,
                })
                .await
                .unwrap();
            assert_eq!(ep.service_id, s.id);
            assert_eq!(ep.interface, Interface::Public);
            assert_eq!(ep.url, "http://127.0.0.1:9/public");
            assert_eq!(ep.region_id.as_deref(), Some(region.id.as_str()));
            assert!(ep.enabled);
            assert_eq!(k.get_endpoint(&ep.id).await.unwrap(), ep);
            let by_service = Filter::new().service_id(&s.id);
            assert_eq!(
                k.list_endpoints(&by_service.clone().interface(Interface::Public)).await.unwrap(),
                std::slice::from_ref(&ep)
            );
            assert!(k.list_endpoints(&by_service.clone().interface(Interface::Admin)).await.unwrap().is_empty());
            assert_eq!(
                k.list_endpoints(&Filter::new().region_id(&region.id)).await.unwrap(),
                std::slice::from_ref(&ep)
            );

            let moved = k
                .update_endpoint(
                    &ep.id,
                    &EndpointUpdate {
                        url: Some("http://127.0.0.1:9/internal".into()),
                        interface: Some(Interface::Internal),
                        enabled: Some(false),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            assert_eq!(moved.url, "http://127.0.0.1:9/internal");
            assert_eq!(moved.interface, Interface::Internal);
            assert!(!moved.enabled);
            assert_eq!(k.get_endpoint(&ep.id).await.unwrap(), moved);
            // A region holding an endpoint cannot be deleted.
            let e = expect_err(k.delete_region(&region.id).await, ErrorKind::Forbidden);
            assert!(e.to_string().contains(&region.id), "{e}");
            k.delete_endpoint(&ep.id).await.unwrap();
            expect_gone(k.get_endpoint(&ep.id).await);
            assert!(k.list_endpoints(&by_service).await.unwrap().is_empty());

            // ensure_endpoint: keyed by service, interface and region.
            let want = NewEndpoint {
                service_id: s.id.clone(),
                interface: Interface::Admin,
                url: "http://127.0.0.1:9/v1".into(),
                region_id: Some(region.id.clone()),
                enabled: true,
            };
            let first = ensure_endpoint(&k, &want).await.unwrap();
            assert_eq!(first.outcome, Outcome::Created);
            let second = ensure_endpoint(&k, &want).await.unwrap();
            assert_eq!(second.outcome, Outcome::Adopted);
            assert_eq!(second.object, first.object);
            let want = NewEndpoint { url: "http://127.0.0.1:9/v2".into(), ..want };
            let third = ensure_endpoint(&k, &want).await.unwrap();
            assert_eq!(third.outcome, Outcome::Updated);
            assert_eq!(third.object.id, first.object.id);
            assert_eq!(third.object.url, "http://127.0.0.1:9/v2");
            let want = NewEndpoint { enabled: false, ..want };
            let fourth = ensure_endpoint(&k, &want).await.unwrap();
            assert_eq!(fourth.outcome, Outcome::Updated);
            assert!(!fourth.object.enabled);
            assert_eq!(k.get_endpoint(&first.object.id).await.unwrap(), fourth.object);
            assert_eq!(ensure_endpoint(&k, &want).await.unwrap().outcome, Outcome::Adopted);
            // Another interface is another endpoint.
            let public =
                ensure_endpoint(&k, &NewEndpoint { interface: Interface::Public, ..want.clone() }).await.unwrap();
            assert_eq!(public.outcome, Outcome::Created);
            assert_ne!(public.object.id, first.object.id);

            // Deleting the service deletes its endpoints.
            k.delete_service(&s.id).await.unwrap();
            expect_gone(k.get_service(&s.id).await);
            expect_gone(k.get_endpoint(&first.object.id).await);
            expect_gone(k.get_endpoint(&public.object.id).await);
            assert!(k.list_services(&Filter::new().service_type(&service_type)).await.unwrap().is_empty());

            // ensure_service: keyed by type and name.
            let service_type = unique("ens-svc-type");
            let want = NewService {
                service_type: service_type.clone(),
                name: Some("mercador".into()),
                description: Some("v1".into()),
                enabled: true,
            };
            let first = ensure_service(&k, &want).await.unwrap();
            {
                let id = first.object.id.clone();
                c.defer(format!("service {service_type}"), &k, move |k| async move { k.delete_service(&id).await });
            }
            assert_eq!(first.outcome, Outcome::Created);
            assert_eq!(first.object.name.as_deref(), Some("mercador"));
            let second = ensure_service(&k, &want).await.unwrap();
            assert_eq!(second.outcome, Outcome::Adopted);
            assert_eq!(second.object, first.object);
            let want = NewService { description: Some("v2".into()), ..want };
            let third = ensure_service(&k, &want).await.unwrap();
            assert_eq!(third.outcome, Outcome::Updated);
            assert_eq!(third.object.id, first.object.id);
            assert_eq!(third.object.description.as_deref(), Some("v2"));
            let want = NewService { enabled: false, ..want };
            let fourth = ensure_service(&k, &want).await.unwrap();
            assert_eq!(fourth.outcome, Outcome::Updated);
            assert!(!fourth.object.enabled);
            assert_eq!(k.get_service(&first.object.id).await.unwrap(), fourth.object);
            assert_eq!(ensure_service(&k, &want).await.unwrap().outcome, Outcome::Adopted);
            // Same type, other name: another service.
            let other = ensure_service(&k, &NewService { name: Some("other".into()), ..want.clone() }).await.unwrap();
            {
                let id = other.object.id.clone();
                c.defer("service other", &k, move |k| async move { k.delete_service(&id).await });
            }
            assert_eq!(other.outcome, Outcome::Created);
            assert_ne!(other.object.id, first.object.id);
            assert_eq!(k.list_services(&Filter::new().service_type(&service_type)).await.unwrap().len(), 2);
        })
        .await;
}

#[tokio::test]
async fn domains() {
    let _writes = common::writing_to(Cloud::B).await;
    let k = common::admin(Cloud::B);
    let c = Cleanup::new();
    c.clone()
        .run(async {
            let name = unique("dom");
            let d = k
                .create_domain(&NewDomain { name: name.clone(), description: Some("d1".into()), enabled: true })
                .await
                .unwrap();
            {
                let id = d.id.clone();
                c.defer(format!("domain {name}"), &k, move |k| async move { k.delete_domain(&id).await });
            }
            assert_eq!(d.name, name);
            assert_eq!(d.description.as_deref(), Some("d1"));
            assert!(d.enabled);
            assert_eq!(k.get_domain(&d.id).await.unwrap(), d);
            assert_eq!(k.list_domains(&Filter::new().name(&name)).await.unwrap(), std::slice::from_ref(&d));

            let renamed = unique("dom-renamed");
            let updated = k
                .update_domain(
                    &d.id,
                    &DomainUpdate { name: Some(renamed.clone()), description: Some("d2".into()), ..Default::default() },
                )
                .await
                .unwrap();
            assert_eq!((updated.name.as_str(), updated.description.as_deref()), (renamed.as_str(), Some("d2")));
            assert!(k.list_domains(&Filter::new().name(&name)).await.unwrap().is_empty());
            assert_eq!(k.list_domains(&Filter::new().name(&renamed)).await.unwrap(), std::slice::from_ref(&updated));
            let disabled =
                k.update_domain(&d.id, &DomainUpdate { enabled: Some(false), ..Default::default() }).await.unwrap();
            assert!(!disabled.enabled);
            assert_eq!(k.get_domain(&d.id).await.unwrap(), disabled);
            k.delete_domain(&d.id).await.unwrap();
            expect_gone(k.get_domain(&d.id).await);
            assert!(k.list_domains(&Filter::new().name(&renamed)).await.unwrap().is_empty());

            // delete_domain disables an enabled domain first.
            let enabled = common::domain(&k, &c, "dom-enabled").await;
            k.delete_domain(&enabled.id).await.unwrap();
            expect_gone(k.get_domain(&enabled.id).await);

            // ensure_domain: keyed by name, `enabled` converges.
            let want = NewDomain { name: unique("ens-dom"), description: None, enabled: true };
            let first = ensure_domain(&k, &want).await.unwrap();
            {
                let id = first.object.id.clone();
                c.defer(format!("domain {}", want.name), &k, move |k| async move { k.delete_domain(&id).await });
            }
            assert_eq!(first.outcome, Outcome::Created);
            assert_eq!(first.object.name, want.name);
            assert!(first.object.enabled);
            let second = ensure_domain(&k, &want).await.unwrap();
            assert_eq!(second.outcome, Outcome::Adopted);
            assert_eq!(second.object, first.object);
            let want = NewDomain { enabled: false, ..want };
            let third = ensure_domain(&k, &want).await.unwrap();
            assert_eq!(third.outcome, Outcome::Updated);
            assert_eq!(third.object.id, first.object.id);
            assert!(!third.object.enabled);
            assert_eq!(k.get_domain(&first.object.id).await.unwrap(), third.object);
            assert_eq!(ensure_domain(&k, &want).await.unwrap().outcome, Outcome::Adopted);
        })
        .await;
}

#[tokio::test]
async fn projects() {
    let _writes = common::writing_to(Cloud::B).await;
    let k = common::admin(Cloud::B);
    let c = Cleanup::new();
    c.clone()
        .run(async {
            let d = common::domain(&k, &c, "proj-dom").await;
            let name = unique("proj");
            let parent = k
                .create_project(&NewProject {
                    description: Some("p1".into()),
                    tags: vec!["mercador".into(), "t1".into()],
                    ..common::new_project(name.clone(), &d.id)
                })
                .await
                .unwrap();
            {
                let id = parent.id.clone();
                c.defer(format!("project {name}"), &k, move |k| async move { k.delete_project(&id).await });
            }
            assert_eq!(parent.name, name);
            assert_eq!(parent.domain_id, d.id);
            assert_eq!(parent.parent_id.as_deref(), Some(d.id.as_str()), "a top-level project's parent is its domain");
            assert_eq!(parent.description.as_deref(), Some("p1"));
            assert!(parent.enabled);
            assert_eq!(sorted(parent.tags.clone()), ["mercador", "t1"]);
            let got = k.get_project(&parent.id).await.unwrap();
            assert_eq!(
                Project { tags: sorted(got.tags.clone()), ..got },
                Project { tags: sorted(parent.tags.clone()), ..parent.clone() }
            );

            let child = k
                .create_project(&NewProject {
                    parent_id: Some(parent.id.clone()),
                    ..common::new_project(unique("child"), &d.id)
                })
                .await
                .unwrap();
            {
                let id = child.id.clone();
                c.defer("child project", &k, move |k| async move { k.delete_project(&id).await });
            }
            assert_eq!(child.parent_id.as_deref(), Some(parent.id.as_str()));
            assert_eq!(
                k.list_projects(&Filter::new().parent_id(&parent.id)).await.unwrap(),
                std::slice::from_ref(&child)
            );
            let by_name = k.list_projects(&Filter::new().name(&name).domain_id(&d.id)).await.unwrap();
            assert_eq!(by_name.iter().map(|p| &p.id).collect::<Vec<_>>(), [&parent.id]);
            let in_domain = k.list_projects(&Filter::new().domain_id(&d.id)).await.unwrap();
            assert_eq!(
                sorted(in_domain.into_iter().map(|p| p.id).collect()),
                sorted(vec![parent.id.clone(), child.id.clone()])
            );

            // A project whose subtree holds enabled projects cannot be disabled.
            let disable = ProjectUpdate { enabled: Some(false), ..Default::default() };
            let e = expect_err(k.update_project(&parent.id, &disable).await, ErrorKind::Forbidden);
            assert!(e.to_string().contains("subtree contains enabled projects"), "{e}");
            assert!(!k.update_project(&child.id, &disable).await.unwrap().enabled);
            let renamed = unique("proj-renamed");
            let updated = k
                .update_project(
                    &parent.id,
                    &ProjectUpdate {
                        name: Some(renamed.clone()),
                        description: Some("p2".into()),
                        enabled: Some(false),
                        tags: Some(vec!["t2".into()]),
                    },
                )
                .await
                .unwrap();
            assert_eq!(updated.name, renamed);
            assert_eq!(updated.description.as_deref(), Some("p2"));
            assert!(!updated.enabled);
            assert_eq!(updated.tags, ["t2"]);
            assert_eq!(k.get_project(&parent.id).await.unwrap(), updated);

            // A project with children cannot be deleted.
            let e = expect_err(k.delete_project(&parent.id).await, ErrorKind::Forbidden);
            assert_eq!(e.status(), Some(403), "{e}");
            k.delete_project(&child.id).await.unwrap();
            expect_gone(k.get_project(&child.id).await);
            k.delete_project(&parent.id).await.unwrap();
            expect_gone(k.get_project(&parent.id).await);
            assert!(k.list_projects(&Filter::new().domain_id(&d.id)).await.unwrap().is_empty());

            // ensure_project: keyed by name in its domain, `enabled` converges.
            let want = common::new_project(unique("ens-proj"), &d.id);
            let first = ensure_project(&k, &want).await.unwrap();
            assert_eq!(first.outcome, Outcome::Created);
            assert_eq!(
                (first.object.name.as_str(), first.object.domain_id.as_str()),
                (want.name.as_str(), d.id.as_str())
            );
            let second = ensure_project(&k, &want).await.unwrap();
            assert_eq!(second.outcome, Outcome::Adopted);
            assert_eq!(second.object.id, first.object.id);
            let want = NewProject { enabled: false, ..want };
            let third = ensure_project(&k, &want).await.unwrap();
            assert_eq!(third.outcome, Outcome::Updated);
            assert!(!third.object.enabled);
            assert!(!k.get_project(&first.object.id).await.unwrap().enabled);
            assert_eq!(ensure_project(&k, &want).await.unwrap().outcome, Outcome::Adopted);
            // The same name in another domain is another project.
            let other_domain = common::domain(&k, &c, "proj-dom2").await;
            let other =
                ensure_project(&k, &NewProject { domain_id: other_domain.id.clone(), ..want.clone() }).await.unwrap();
            assert_eq!(other.outcome, Outcome::Created);
            assert_ne!(other.object.id, first.object.id);
        })
        .await;
}

#[tokio::test]
async fn users() {
    let _writes = common::writing_to(Cloud::A).await;
    let tb = Testbed::get();
    let k = common::admin(Cloud::A);
    let c = Cleanup::new();
    c.clone()
        .run(async {
            let d = common::domain(&k, &c, "user-dom").await;
            let p = common::project(&k, &c, &d.id, "user-proj").await;
            let name = unique("user");
            let password = SecretString::from(unique("pw"));
            let u = k
                .create_user(&NewUser {
                    name: name.clone(),
                    domain_id: d.id.clone(),
                    password: Some(password.clone()),
                    description: Some("u1".into()),
                    default_project_id: Some(p.id.clone()),
                    enabled: true,
                })
                .await
                .unwrap();
            {
                let id = u.id.clone();
                c.defer(format!("user {name}"), &k, move |k| async move { k.delete_user(&id).await });
            }
            assert_eq!(u.name, name);
            assert_eq!(u.domain_id, d.id);
            assert_eq!(u.description.as_deref(), Some("u1"));
            assert_eq!(u.default_project_id.as_deref(), Some(p.id.as_str()));
            assert!(u.enabled);
            assert_eq!(k.get_user(&u.id).await.unwrap(), u);
            assert_eq!(
                k.list_users(&Filter::new().name(&name).domain_id(&d.id)).await.unwrap(),
                std::slice::from_ref(&u)
            );
            // The password was set: the user authenticates (unscoped, it has no role).
            let own = tb
                .session(Cloud::A, Credentials::password(&name, &d.name, password.clone()), Scope::Unscoped)
                .token()
                .await
                .unwrap();
            assert_eq!(own.user.id, u.id);

            let renamed = unique("user-renamed");
            let updated = k
                .update_user(
                    &u.id,
                    &UserUpdate {
                        name: Some(renamed.clone()),
                        description: Some("u2".into()),
                        enabled: Some(false),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            assert_eq!(updated.name, renamed);
            assert_eq!(updated.description.as_deref(), Some("u2"));
            assert!(!updated.enabled);
            assert_eq!(k.get_user(&u.id).await.unwrap(), updated);
            assert!(k.list_users(&Filter::new().name(&name).domain_id(&d.id)).await.unwrap().is_empty());
            // Disabling the user revoked its tokens, and the error does not show the token.
            let e = expect_gone(k.validate_token(own.secret()).await);
            assert!(!e.to_string().contains(own.secret().expose_secret()), "the error shows the token: {e}");

            k.delete_user(&u.id).await.unwrap();
            expect_gone(k.get_user(&u.id).await);
            assert!(k.list_users(&Filter::new().domain_id(&d.id)).await.unwrap().is_empty());

            // ensure_user: keyed by name in its domain, `enabled` converges.
            let want = NewUser {
                name: unique("ens-user"),
                domain_id: d.id.clone(),
                password: None,
                description: None,
                default_project_id: None,
                enabled: true,
            };
            let first = ensure_user(&k, &want).await.unwrap();
            assert_eq!(first.outcome, Outcome::Created);
            assert_eq!(
                (first.object.name.as_str(), first.object.domain_id.as_str()),
                (want.name.as_str(), d.id.as_str())
            );
            let second = ensure_user(&k, &want).await.unwrap();
            assert_eq!(second.outcome, Outcome::Adopted);
            assert_eq!(second.object.id, first.object.id);
            let want = NewUser { enabled: false, ..want };
            let third = ensure_user(&k, &want).await.unwrap();
            assert_eq!(third.outcome, Outcome::Updated);
            assert!(!third.object.enabled);
            assert!(!k.get_user(&first.object.id).await.unwrap().enabled);
            assert_eq!(ensure_user(&k, &want).await.unwrap().outcome, Outcome::Adopted);
        })
        .await;
}

#[tokio::test]
async fn groups_and_membership() {
    let _writes = common::writing_to(Cloud::B).await;
    let k = common::admin(Cloud::B);
    let c = Cleanup::new();
    c.clone()
        .run(async {
            let d = common::domain(&k, &c, "group-dom").await;
            let user = |name: String| NewUser {
                name,
                domain_id: d.id.clone(),
                password: None,
                description: None,
                default_project_id: None,
                enabled: true,
            };
            let (new1, new2) = (user(unique("member1")), user(unique("member2")));
            let (u1, u2) = tokio::join!(k.create_user(&new1), k.create_user(&new2));
            let (u1, u2) = (u1.unwrap(), u2.unwrap());

            let name = unique("group");
            let g = k
                .create_group(&NewGroup { name: name.clone(), domain_id: d.id.clone(), description: Some("g1".into()) })
                .await
                .unwrap();
            {
                let id = g.id.clone();
                c.defer(format!("group {name}"), &k, move |k| async move { k.delete_group(&id).await });
            }
            assert_eq!(
                (g.name.as_str(), g.domain_id.as_str(), g.description.as_deref()),
                (name.as_str(), d.id.as_str(), Some("g1"))
            );
            assert_eq!(k.get_group(&g.id).await.unwrap(), g);
            assert_eq!(
                k.list_groups(&Filter::new().name(&name).domain_id(&d.id)).await.unwrap(),
                std::slice::from_ref(&g)
            );
            let renamed = unique("group-renamed");
            let updated = k
                .update_group(&g.id, &GroupUpdate { name: Some(renamed.clone()), description: Some("g2".into()) })
                .await
                .unwrap();
            assert_eq!((updated.name.as_str(), updated.description.as_deref()), (renamed.as_str(), Some("g2")));
            assert_eq!(k.get_group(&g.id).await.unwrap(), updated);

            // Membership.
            assert!(!k.is_user_in_group(&g.id, &u1.id).await.unwrap());
            assert!(k.list_group_users(&g.id).await.unwrap().is_empty());
            k.add_user_to_group(&g.id, &u1.id).await.unwrap();
            assert!(k.is_user_in_group(&g.id, &u1.id).await.unwrap());
            assert!(!k.is_user_in_group(&g.id, &u2.id).await.unwrap());
            let members = k.list_group_users(&g.id).await.unwrap();
            assert_eq!(members.iter().map(|u| &u.id).collect::<Vec<_>>(), [&u1.id]);
            let of_user = k.list_groups(&Filter::new().domain_id(&d.id)).await.unwrap();
            assert_eq!(of_user.iter().map(|g| &g.id).collect::<Vec<_>>(), [&g.id]);
            let e1 = ensure_group_member(&k, &g.id, &u1.id).await.unwrap();
            assert_eq!(e1.outcome, Outcome::Adopted);
            let e2 = ensure_group_member(&k, &g.id, &u2.id).await.unwrap();
            assert_eq!(e2.outcome, Outcome::Created);
            assert!(k.is_user_in_group(&g.id, &u2.id).await.unwrap());
            assert_eq!(ensure_group_member(&k, &g.id, &u2.id).await.unwrap().outcome, Outcome::Adopted);
            assert_eq!(
                sorted(k.list_group_users(&g.id).await.unwrap().into_iter().map(|u| u.id).collect()),
                sorted(vec![u1.id.clone(), u2.id.clone()])
            );
            k.remove_user_from_group(&g.id, &u1.id).await.unwrap();
            assert!(!k.is_user_in_group(&g.id, &u1.id).await.unwrap());
            expect_gone(k.remove_user_from_group(&g.id, &u1.id).await);
            assert_eq!(k.list_group_users(&g.id).await.unwrap().iter().map(|u| &u.id).collect::<Vec<_>>(), [&u2.id]);
            // HEAD cannot tell an unknown group from a non-member: both are false.
            assert!(!k.is_user_in_group(&unique("nogroup"), &u1.id).await.unwrap());

            k.delete_group(&g.id).await.unwrap();
            expect_gone(k.get_group(&g.id).await);
            assert!(k.list_groups(&Filter::new().domain_id(&d.id)).await.unwrap().is_empty());

            // ensure_group: keyed by name in its domain.
            let want = NewGroup { name: unique("ens-group"), domain_id: d.id.clone(), description: None };
            let first = ensure_group(&k, &want).await.unwrap();
            assert_eq!(first.outcome, Outcome::Created);
            assert_eq!(
                (first.object.name.as_str(), first.object.domain_id.as_str()),
                (want.name.as_str(), d.id.as_str())
            );
            let second = ensure_group(&k, &want).await.unwrap();
            assert_eq!(second.outcome, Outcome::Adopted);
            assert_eq!(second.object, first.object);
            assert_eq!(k.get_group(&first.object.id).await.unwrap(), first.object);
        })
        .await;
}

#[tokio::test]
async fn roles() {
    let _writes = common::writing_to(Cloud::A).await;
    let k = common::admin(Cloud::A);
    let c = Cleanup::new();
    c.clone()
        .run(async {
            let name = unique("role");
            let r = k
                .create_role(&NewRole { name: name.clone(), domain_id: None, description: Some("r1".into()) })
                .await
                .unwrap();
            {
                let id = r.id.clone();
                c.defer(format!("role {name}"), &k, move |k| async move { k.delete_role(&id).await });
            }
            assert_eq!(
                (r.name.as_str(), r.domain_id.as_deref(), r.description.as_deref()),
                (name.as_str(), None, Some("r1"))
            );
            assert_eq!(k.get_role(&r.id).await.unwrap(), r);
            assert_eq!(k.list_roles(&Filter::new().name(&name)).await.unwrap(), std::slice::from_ref(&r));
            expect_err(
                k.create_role(&NewRole { name: name.clone(), domain_id: None, description: None }).await,
                ErrorKind::Conflict,
            );
            let renamed = unique("role-renamed");
            let updated = k
                .update_role(&r.id, &RoleUpdate { name: Some(renamed.clone()), description: Some("r2".into()) })
                .await
                .unwrap();
            assert_eq!((updated.name.as_str(), updated.description.as_deref()), (renamed.as_str(), Some("r2")));
            assert_eq!(k.get_role(&r.id).await.unwrap(), updated);
            assert!(k.list_roles(&Filter::new().name(&name)).await.unwrap().is_empty());
            k.delete_role(&r.id).await.unwrap();
            expect_gone(k.get_role(&r.id).await);
            assert!(k.list_roles(&Filter::new().name(&renamed)).await.unwrap().is_empty());

            // A domain-specific role.
            let d = common::domain(&k, &c, "role-dom").await;
            let dr = k
                .create_role(&NewRole { name: unique("domain-role"), domain_id: Some(d.id.clone()), description: None })
                .await
                .unwrap();
            assert_eq!(dr.domain_id.as_deref(), Some(d.id.as_str()));
            assert_eq!(k.list_roles(&Filter::new().domain_id(&d.id)).await.unwrap(), std::slice::from_ref(&dr));
            // Global listing leaves domain roles out.
            assert!(k.list_roles(&Filter::new().name(&dr.name)).await.unwrap().is_empty());
            k.delete_role(&dr.id).await.unwrap();
            expect_gone(k.get_role(&dr.id).await);

            // ensure_role: global, then the same name in the domain is another role.
            let want = NewRole { name: unique("ens-role"), domain_id: None, description: None };
            let first = ensure_role(&k, &want).await.unwrap();
            {
                let id = first.object.id.clone();
                c.defer(format!("role {}", want.name), &k, move |k| async move { k.delete_role(&id).await });
            }
            assert_eq!(first.outcome, Outcome::Created);
            assert_eq!((first.object.name.as_str(), first.object.domain_id.as_deref()), (want.name.as_str(), None));
            let second = ensure_role(&k, &want).await.unwrap();
            assert_eq!(second.outcome, Outcome::Adopted);
            assert_eq!(second.object, first.object);
            let in_domain = NewRole { domain_id: Some(d.id.clone()), ..want.clone() };
            let third = ensure_role(&k, &in_domain).await.unwrap();
            {
                let id = third.object.id.clone();
                c.defer("domain role", &k, move |k| async move { k.delete_role(&id).await });
            }
            assert_eq!(third.outcome, Outcome::Created);
            assert_ne!(third.object.id, first.object.id);
            assert_eq!(third.object.domain_id.as_deref(), Some(d.id.as_str()));
            let fourth = ensure_role(&k, &in_domain).await.unwrap();
            assert_eq!(fourth.outcome, Outcome::Adopted);
            assert_eq!(fourth.object, third.object);
            assert_eq!(ensure_role(&k, &want).await.unwrap().object, first.object);
        })
        .await;
}

fn has(list: &[RoleAssignment], role: &str, actor: &Actor, target: &Target) -> bool {
    list.iter().any(|a| {
        let actor_ok = match actor {
            Actor::User(id) => a.user.as_ref().map(|u| &u.id) == Some(id),
            Actor::Group(id) => a.group.as_ref().map(|g| &g.id) == Some(id),
        };
        let target_ok = match target {
            Target::Project(id) => a.scope.project.as_ref().map(|p| &p.id) == Some(id),
            Target::Domain(id) => a.scope.domain.as_ref().map(|d| &d.id) == Some(id),
            Target::System => a.scope.system.is_some(),
        };
        a.role.id == role && actor_ok && target_ok
    })
}

#[tokio::test]
async fn role_assignments() {
    let _writes = common::writing_to(Cloud::B).await;
    let k = common::admin(Cloud::B);
    let c = Cleanup::new();
    c.clone()
        .run(async {
            let d = common::domain(&k, &c, "ra-dom").await;
            let p = common::project(&k, &c, &d.id, "ra-proj").await;
            let u = k
                .create_user(&NewUser {
                    name: unique("ra-user"),
                    domain_id: d.id.clone(),
                    password: None,
                    description: None,
                    default_project_id: None,
                    enabled: true,
                })
                .await
                .unwrap();
            let u2 = k
                .create_user(&NewUser {
                    name: unique("ra-user2"),
                    domain_id: d.id.clone(),
                    password: None,
                    description: None,
                    default_project_id: None,
                    enabled: true,
                })
                .await
                .unwrap();
            let g = k
                .create_group(&NewGroup { name: unique("ra-group"), domain_id: d.id.clone(), description: None })
                .await
                .unwrap();
            k.add_user_to_group(&g.id, &u.id).await.unwrap();
            k.add_user_to_group(&g.id, &u2.id).await.unwrap();
            let r =
                k.create_role(&NewRole { name: unique("ra-role"), domain_id: None, description: None }).await.unwrap();
            {
                let id = r.id.clone();
                c.defer(format!("role {}", r.name), &k, move |k| async move { k.delete_role(&id).await });
            }
            let user = Actor::User(u.id.clone());
            let group = Actor::Group(g.id.clone());
            let on_project = Target::Project(p.id.clone());
            let on_domain = Target::Domain(d.id.clone());
            let grants = [
                (&user, &on_project),
                (&user, &on_domain),
                (&user, &Target::System),
                (&group, &on_project),
                (&group, &on_domain),
                (&group, &Target::System),
            ];
            // System assignments outlive the domain: revoke them at the end whatever happens.
            for actor in [&user, &group] {
                let (role, actor) = (r.id.clone(), actor.clone());
                c.defer("system assignment", &k, move |k| async move {
                    k.revoke_role(&role, &actor, &Target::System).await
                });
            }

            assert!(!k.check_role(&r.id, &group, &Target::System).await.unwrap());
            for (actor, target) in grants {
                k.grant_role(&r.id, actor, target).await.unwrap();
                // ensure_role_grant checks (HEAD) and finds it.
                assert_eq!(
                    ensure_role_grant(&k, &r.id, actor, target).await.unwrap().outcome,
                    Outcome::Adopted,
                    "{actor:?} {target:?} after grant"
                );
            }
            assert!(k.check_role(&r.id, &group, &Target::System).await.unwrap());
            // Granting again is idempotent.
            k.grant_role(&r.id, &user, &on_project).await.unwrap();

            // All assignments of the (test-only) role.
            let by_role = RoleAssignmentFilter { role_id: Some(r.id.clone()), ..Default::default() };
            let all = k.list_role_assignments(&by_role).await.unwrap();
            assert_eq!(all.len(), 6, "{all:#?}");
            for (actor, target) in grants {
                assert!(has(&all, &r.id, actor, target), "{actor:?} {target:?} missing from {all:#?}");
            }
            // Filters.
            let list = |f: RoleAssignmentFilter| {
                let k = k.clone();
                async move { k.list_role_assignments(&f).await.unwrap() }
            };
            let user_project = list(RoleAssignmentFilter {
                user_id: Some(u.id.clone()),
                project_id: Some(p.id.clone()),
                ..Default::default()
            })
            .await;
            assert_eq!(user_project.len(), 1, "{user_project:#?}");
            assert!(has(&user_project, &r.id, &user, &on_project));
            let group_domain = list(RoleAssignmentFilter {
                group_id: Some(g.id.clone()),
                domain_id: Some(d.id.clone()),
                ..Default::default()
            })
            .await;
            assert_eq!(group_domain.len(), 1, "{group_domain:#?}");
            assert!(has(&group_domain, &r.id, &group, &on_domain));
            let user_system =
                list(RoleAssignmentFilter { user_id: Some(u.id.clone()), system: true, ..Default::default() }).await;
            assert_eq!(user_system.len(), 1, "{user_system:#?}");
            assert!(has(&user_system, &r.id, &user, &Target::System));
            assert_eq!(user_system[0].scope.system, Some(serde_json::json!({"all": true})));
            let group_system =
                list(RoleAssignmentFilter { group_id: Some(g.id.clone()), system: true, ..Default::default() }).await;
            assert!(has(&group_system, &r.id, &group, &Target::System), "{group_system:#?}");

            // Names on request.
            let named = list(RoleAssignmentFilter {
                user_id: Some(u.id.clone()),
                project_id: Some(p.id.clone()),
                include_names: true,
                ..Default::default()
            })
            .await;
            assert_eq!(named.len(), 1);
            assert_eq!(named[0].role.name.as_deref(), Some(r.name.as_str()));
            assert_eq!(named[0].user.as_ref().and_then(|u| u.name.as_deref()), Some(u.name.as_str()));
            assert_eq!(named[0].scope.project.as_ref().and_then(|p| p.name.as_deref()), Some(p.name.as_str()));
            assert_eq!(user_project[0].role.name, None, "no names unless asked");

            // Effective: group assignments are expanded to the members. u2 is
            // only a member of the group and has no assignment of its own.
            let u2_filter =
                |effective| RoleAssignmentFilter { user_id: Some(u2.id.clone()), effective, ..Default::default() };
            assert!(list(u2_filter(false)).await.is_empty());
            let effective = list(u2_filter(true)).await;
            let u2_actor = Actor::User(u2.id.clone());
            assert!(
                effective.iter().all(|a| a.group.is_none() && a.user.as_ref().map(|x| &x.id) == Some(&u2.id)),
                "{effective:#?}"
            );
            assert!(has(&effective, &r.id, &u2_actor, &on_project), "{effective:#?}");
            assert!(has(&effective, &r.id, &u2_actor, &on_domain), "{effective:#?}");
            let direct_user = list(RoleAssignmentFilter { user_id: Some(u.id.clone()), ..Default::default() }).await;
            assert_eq!(direct_user.len(), 3, "without effective, only the user's own assignments: {direct_user:#?}");
            assert!(direct_user.iter().all(|a| a.user.as_ref().map(|x| &x.id) == Some(&u.id)));

            // Revoke everything.
            for (actor, target) in grants {
                k.revoke_role(&r.id, actor, target).await.unwrap();
                assert!(!k.check_role(&r.id, actor, target).await.unwrap(), "{actor:?} {target:?} after revoke");
            }
            expect_gone(k.revoke_role(&r.id, &user, &on_project).await);
            assert!(k.list_role_assignments(&by_role).await.unwrap().is_empty());

            // ensure_role_grant: Created, then Adopted.
            let first = ensure_role_grant(&k, &r.id, &user, &on_project).await.unwrap();
            assert_eq!(first.outcome, Outcome::Created);
            assert!(k.check_role(&r.id, &user, &on_project).await.unwrap());
            assert_eq!(ensure_role_grant(&k, &r.id, &user, &on_project).await.unwrap().outcome, Outcome::Adopted);
            let system = ensure_role_grant(&k, &r.id, &group, &Target::System).await.unwrap();
            assert_eq!(system.outcome, Outcome::Created);
            assert!(has(&k.list_role_assignments(&by_role).await.unwrap(), &r.id, &group, &Target::System));
            k.revoke_role(&r.id, &group, &Target::System).await.unwrap();
        })
        .await;
}

//! The publisher engine against the real testbed: Keystone B, its
//! Shibboleth SP (metadata directory), Keystone A as the subscriber's IdP,
//! and real databases (SQLite, and the testbed's PostgreSQL for replicas).
//!
//! The test plays the subscriber's side by hand (a service provider on A
//! from the access the publisher returns), then alice of A logs into the
//! vregion through K2K, with Mercador's client and with keystoneauth1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod confinement;

use std::sync::Arc;

use mercador_core::k2k::Keystone2Keystone;
use mercador_core::keystone::types::{
    DomainUpdate, Filter, NewDomain, NewIdentityProvider, NewMapping, NewProject, NewProtocol,
};
use mercador_core::keystone::{Credentials, ErrorKind, IdentityApi, KeystoneClient, Scope};
use mercador_core::model::{SubscriptionState, VRegionSpec, VRegionState};
use mercador_core::publisher::{NewPartner, PublishOptions, Publisher, PublisherError, SubscribeRequest};
use mercador_tests::publisher::{
    a_entity_turn, engine, fake_metadata, federation_objects_of, free_entity_on_b, name, session_with, sqlite_url,
    test_catalog, users_domain_of,
};
use mercador_tests::{Cloud, Testbed, unique};
use secrecy::ExposeSecret;
use serde_json::json;

fn spec(name: &mercador_core::model::Name, partners: &[&mercador_core::model::Name], max: u32) -> VRegionSpec {
    serde_json::from_value(json!({
        "name": name,
        "description": "Lisbon, Tier III",
        "region": Testbed::get().region(Cloud::B),
        "service_types": ["identity", "compute"],
        "roles": ["reader"],
        "quotas": [{"resource": "class:VCPU", "limit": 16}],
        "metadata": {"country": "PT", "sla": "99.9"},
        "max_subscriptions": max,
        "partners": partners,
    }))
    .unwrap()
}

async fn published(engine: &Publisher, partners: &[&mercador_core::model::Name], max: u32) -> VRegionSpec {
    test_catalog().await;
    let spec = spec(&name("vr"), partners, max);
    engine.create_vregion(spec.clone()).await.unwrap();
    engine.publish_vregion(&spec.name).await.unwrap();
    spec
}

fn fake_request(vregion: &VRegionSpec, entity: &str) -> SubscribeRequest {
    SubscribeRequest {
        vregion: vregion.name.clone(),
        entity_id: entity.into(),
        metadata: Some(fake_metadata(entity)),
        metadata_url: None,
        keystone_url: None,
    }
}

#[tokio::test]
async fn the_whole_story_subscribe_k2k_confined_refresh_cancel() {
    let turn = a_entity_turn().await;
    let tb = Testbed::get();
    let b = tb.admin(Cloud::B);
    let a = tb.admin(Cloud::A);
    let engine = engine(&sqlite_url()).await;
    let entity_id = turn.entity_id().to_string();
    free_entity_on_b(&entity_id).await;

    // B's admin onboards partner A; the credential identifies the partner.
    let partner = name("acme");
    let onboarded =
        engine.onboard_partner(NewPartner { name: partner.clone(), description: "Acme".into() }).await.unwrap();
    let credential = Credentials::application_credential(
        &onboarded.application_credential_id,
        onboarded.application_credential_secret.0.clone(),
    );
    let as_partner = tb.session(Cloud::B, credential, Scope::Unscoped).token().await.unwrap();
    let project_id = as_partner.project.as_ref().unwrap().id.clone();
    assert_eq!(engine.partner_for_project(&project_id).await.unwrap().unwrap().name, partner);
    let mut roles = as_partner.role_names();
    roles.sort_unstable();
    assert_eq!(roles, ["member", "reader"], "the partner role (and the reader it implies), nothing more");

    // B's admin defines and publishes a vregion offered to A.
    test_catalog().await;
    let vregion = spec(&name("lisbon"), &[&partner], 1);
    let draft = engine.create_vregion(vregion.clone()).await.unwrap();
    assert_eq!(draft.state, VRegionState::Draft);
    assert!(engine.offered_vregions(&partner).await.unwrap().is_empty(), "a draft is offered to no one");
    let published = engine.publish_vregion(&vregion.name).await.unwrap();
    let domain_id = published.domain_id.clone().unwrap();
    let limits = b.list_limits(&Filter::new().domain_id(&domain_id)).await.unwrap();
    assert_eq!(
        limits.iter().map(|l| (l.resource_name.as_str(), l.resource_limit)).collect::<Vec<_>>(),
        [("class:VCPU", 16)]
    );
    let offered = engine.offered_vregions(&partner).await.unwrap();
    assert_eq!(offered.len(), 1);
    assert_eq!((offered[0].places_left, offered[0].subscription_id.as_deref()), (1, None));

    // A subscribes with its real SAML identity, fetched from its Keystone.
    let access = engine.subscribe(&partner, turn.subscribe_request(&vregion.name)).await.unwrap();
    assert_eq!(access.subscription.state, SubscriptionState::Active);
    let password = access.admin.password.clone().expect("the admin password comes with the first answer");
    let mut types: Vec<&str> = access.services.iter().map(|s| s.service_type.as_str()).collect();
    types.sort_unstable();
    assert_eq!(types, ["compute", "identity"], "the catalog filtered to the vregion's types (no image)");
    assert!(access.services.iter().flat_map(|s| &s.endpoints).all(|e| e.region == tb.region(Cloud::B)));
    assert_eq!(access.k2k.sp_url.as_str(), tb.var("KEYSTONE_B_ECP_URL"));
    assert!(
        access.k2k.auth_url.as_str().ends_with(&format!("/identity_providers/mercador-{partner}/protocols/saml2/auth"))
    );
    let kinds: Vec<_> = access.subscription.objects.iter().map(|o| o.kind).collect();
    assert_eq!(kinds.len(), 7, "trust, users' domain, idp, mapping, protocol, user, role: {kinds:?}");
    let users_domain = users_domain_of(&partner).await;
    assert_eq!(
        b.get_identity_provider(&format!("mercador-{partner}")).await.unwrap().domain_id,
        Some(users_domain.clone())
    );

    // The admin token and password work: admin on the vregion domain.
    let info = b.validate_token(&access.admin.token.0).await.unwrap();
    assert_eq!(info.domain.as_ref().unwrap().id, domain_id);
    assert!(info.has_role("manager") && !info.has_role("admin"), "{:?}", info.role_names());
    let again = tb
        .session(
            Cloud::B,
            Credentials::password(&access.admin.user_name, &access.domain_name, password.0.clone()),
            Scope::domain_id(domain_id.clone()),
        )
        .token()
        .await
        .unwrap();
    assert_eq!(again.user.id, access.admin.user_id);
    // Only once: subscribing again is a conflict naming refresh.
    let e = engine.subscribe(&partner, fake_request(&vregion, &entity_id)).await.unwrap_err();
    assert!(matches!(e, PublisherError::Conflict(_)) && e.to_string().contains("refresh"), "{e}");

    // The subscriber's side, by hand: a service provider on A.
    let sp_id = turn.service_provider_on_a(&access, "vr-sp").await;

    // alice of A lands in the vregion domain, with only the vregion's roles.
    let alice = turn.alice();
    let k2k = Keystone2Keystone::new(alice.clone(), &sp_id).await.unwrap();
    let projects = k2k.projects().await.unwrap();
    let (_, _, alice_project) = tb.demo_user();
    assert_eq!(projects.len(), 1, "{projects:?}");
    assert_eq!(
        (projects[0].name.as_str(), projects[0].domain_id.as_str()),
        (alice_project.as_str(), domain_id.as_str())
    );
    let on_b = session_with(Arc::new(k2k), Scope::project_id(projects[0].id.clone()));
    let token = on_b.token().await.unwrap();
    assert_eq!(token.role_names(), vec!["reader"], "alice is member at A; the vregion grants reader only");
    let user_domain = token.user.domain.clone().unwrap();
    assert_eq!(user_domain.id, users_domain, "federated users live in their partner's domain, not the vregion's");
    assert_eq!(user_domain.name.as_deref(), Some(format!("mercador-k2k-{partner}").as_str()));
    let k2k = Keystone2Keystone::new(alice.clone(), &sp_id).await.unwrap();
    let e = session_with(Arc::new(k2k), Scope::project("admin", "Default")).token().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "no project outside the vregion: {e}");
    assert_eq!(KeystoneClient::new(on_b.clone()).list_auth_projects().await.unwrap().len(), 1);

    // keystoneauth1 sees the same user, project and roles.
    let (user, alice_password, _) = tb.demo_user();
    let out = std::process::Command::new(tb.var("TESTBED_PYTHON"))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/k2k/keystoneauth_k2k.py"))
        .args(["--idp-url", turn.keystone_url().as_str(), "--user", &user, "--project", &alice_project])
        .args(["--sp", &sp_id, "--sp-project", &alice_project, "--sp-project-domain", &access.domain_name])
        .env("K2K_PASSWORD", alice_password.expose_secret())
        .output()
        .unwrap();
    assert!(out.status.success(), "keystoneauth1: {}", String::from_utf8_lossy(&out.stderr));
    let theirs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(theirs["user_id"], token.user.id.as_str());
    assert_eq!(theirs["project_id"], token.project.as_ref().unwrap().id.as_str());
    assert_eq!(theirs["roles"], json!(["reader"]));

    // Drift: someone deletes the mapping by hand; K2K breaks; refresh repairs it.
    b.delete_mapping(&format!("mercador-{partner}-mapping")).await.unwrap();
    let k2k = Keystone2Keystone::new(alice.clone(), &sp_id).await.unwrap();
    assert!(k2k.unscoped_token().await.is_err(), "no mapping, no login");
    let refreshed = engine.refresh(&partner, &access.subscription.id).await.unwrap();
    assert!(refreshed.repaired.iter().any(|r| r.starts_with("mapping")), "{:?}", refreshed.repaired);
    assert!(refreshed.admin.password.is_none(), "the password is returned once");
    assert!(refreshed.admin.token.expose() != access.admin.token.expose(), "refresh returns a new token");
    let k2k = Keystone2Keystone::new(alice.clone(), &sp_id).await.unwrap();
    k2k.unscoped_token().await.expect("K2K works again after refresh");
    let clean = engine.refresh(&partner, &access.subscription.id).await.unwrap();
    assert!(clean.repaired.is_empty(), "nothing drifted: {:?}", clean.repaired);

    // Drift: the identity provider in the vregion domain, as an older
    // version made it (its mapping placing users there too); alice's user is
    // then shadowed in the vregion domain. Keystone cannot move an identity
    // provider: refresh recreates it in the partner's users' domain.
    let idp = format!("mercador-{partner}");
    let mapping_id = format!("mercador-{partner}-mapping");
    b.delete_identity_provider(&idp).await.unwrap();
    let legacy = NewIdentityProvider {
        remote_ids: vec![entity_id.clone()],
        enabled: true,
        description: Some(format!("Mercador partner {partner} (K2K identity provider)")),
        domain_id: Some(domain_id.clone()),
    };
    b.create_identity_provider(&idp, &legacy).await.unwrap();
    let mut old_mapping = b.get_mapping(&mapping_id).await.unwrap();
    let rules = serde_json::to_string(&old_mapping.rules).unwrap().replace(&users_domain, &domain_id);
    old_mapping.rules = serde_json::from_str(&rules).unwrap();
    let old_rules = NewMapping { rules: old_mapping.rules, schema_version: old_mapping.schema_version };
    b.update_mapping(&mapping_id, &old_rules).await.unwrap();
    let saml2 = NewProtocol { mapping_id: mapping_id.clone(), remote_id_attribute: None };
    b.create_protocol(&idp, "saml2", &saml2).await.unwrap();
    let k2k = Keystone2Keystone::new(alice.clone(), &sp_id).await.unwrap();
    let legacy_user = k2k.unscoped_token().await.expect("K2K through the old identity provider").user.clone();
    assert_eq!(legacy_user.domain.unwrap().id, domain_id, "the old state: alice in the vregion domain");
    let refreshed = engine.refresh(&partner, &access.subscription.id).await.unwrap();
    let recreated =
        format!("identity provider {idp} (recreated in domain mercador-k2k-{partner}, it was in domain {domain_id})");
    assert!(refreshed.repaired.contains(&recreated), "{:?}", refreshed.repaired);
    assert!(refreshed.repaired.iter().any(|r| r.starts_with("mapping")), "{:?}", refreshed.repaired);
    assert!(refreshed.repaired.iter().any(|r| r.starts_with("protocol")), "{:?}", refreshed.repaired);
    assert_eq!(b.get_identity_provider(&idp).await.unwrap().domain_id, Some(users_domain.clone()));
    let k2k = Keystone2Keystone::new(alice.clone(), &sp_id).await.unwrap();
    let token = session_with(Arc::new(k2k), Scope::project_id(projects[0].id.clone())).token().await.unwrap();
    assert_eq!(token.user.domain.as_ref().unwrap().id, users_domain, "alice back in the partner's users' domain");
    assert_eq!(token.role_names(), vec!["reader"]);
    let clean = engine.refresh(&partner, &access.subscription.id).await.unwrap();
    assert!(clean.repaired.is_empty(), "nothing drifted: {:?}", clean.repaired);

    // Drift: the users' domain disabled by hand; refresh enables it again.
    let disable = DomainUpdate { enabled: Some(false), ..Default::default() };
    b.update_domain(&users_domain, &disable).await.unwrap();
    let refreshed = engine.refresh(&partner, &access.subscription.id).await.unwrap();
    let enabled = format!("users' domain mercador-k2k-{partner} (enabled)");
    assert_eq!(refreshed.repaired, [enabled], "{:?}", refreshed.repaired);
    let k2k = Keystone2Keystone::new(alice.clone(), &sp_id).await.unwrap();
    k2k.unscoped_token().await.expect("K2K works again after refresh");

    // Cancel: K2K fails, and B holds nothing of the subscription.
    let cancelled = engine.cancel(&partner, &access.subscription.id).await.unwrap();
    assert_eq!(cancelled.state, SubscriptionState::Cancelled);
    let k2k = Keystone2Keystone::new(alice.clone(), &sp_id).await.unwrap();
    assert!(k2k.unscoped_token().await.is_err(), "K2K must fail after cancel");
    // Nothing is left, the users' domain mercador-k2k-<partner> included.
    assert_eq!(federation_objects_of(&partner, &domain_id).await, Vec::<String>::new());
    let metadata_dir = mercador_core::publisher::ShibbolethMetadataDir::new(tb.var("KEYSTONE_B_SHIB_METADATA_DIR"));
    assert!(!metadata_dir.file_of(&entity_id).exists(), "Shibboleth no longer trusts A");
    // alice's project is disabled and tagged, not deleted.
    let project = b.get_project(&projects[0].id).await.unwrap();
    assert!(!project.enabled && project.tags.contains(&format!("mercador-partner={partner}")), "{project:?}");
    // Cancelling again is a no-op; the place is free again.
    assert_eq!(engine.cancel(&partner, &access.subscription.id).await.unwrap().state, SubscriptionState::Cancelled);
    assert_eq!(engine.offered_vregions(&partner).await.unwrap()[0].places_left, 1);

    // Clean up: the subscriber's SP, the vregion (purged) and the partner.
    a.delete_service_provider(&sp_id).await.unwrap();
    engine.withdraw_vregion(&vregion.name).await.unwrap();
    engine.delete_vregion(&vregion.name, true).await.unwrap();
    engine.remove_partner(&partner).await.unwrap();
    let partner_users = b.list_users(&Filter::new().name(format!("partner-{partner}"))).await.unwrap();
    assert!(partner_users.is_empty(), "{partner_users:?}");
}

async fn race_for_the_last_place(database_url: &str) {
    // Two publisher replicas sharing one database; two partners racing.
    let (one, two) = (engine(database_url).await, engine(database_url).await);
    let (p1, p2) = (name("race"), name("race"));
    for p in [&p1, &p2] {
        one.onboard_partner(NewPartner { name: p.clone(), description: String::new() }).await.unwrap();
    }
    let vregion = published(&one, &[&p1, &p2], 1).await;
    let (e1, e2) = (format!("https://{p1}.example/idp"), format!("https://{p2}.example/idp"));
    let (r1, r2) =
        tokio::join!(one.subscribe(&p1, fake_request(&vregion, &e1)), two.subscribe(&p2, fake_request(&vregion, &e2)));
    let (winner, loser, loser_entity, access) = match (r1, r2) {
        (Ok(access), Err(e)) => {
            assert!(matches!(e, PublisherError::Full { .. }), "{e}");
            (&p1, &p2, &e2, access)
        }
        (Err(e), Ok(access)) => {
            assert!(matches!(e, PublisherError::Full { .. }), "{e}");
            (&p2, &p1, &e1, access)
        }
        (r1, r2) => panic!("exactly one must win: {:?} / {:?}", r1.map(|_| ()), r2.map(|_| ())),
    };
    assert_eq!(one.get_vregion(&vregion.name).await.unwrap().places_taken, 1);
    // The loser gets the place once the winner cancels.
    one.cancel(winner, &access.subscription.id).await.unwrap();
    let second = two.subscribe(loser, fake_request(&vregion, loser_entity)).await.unwrap();
    two.cancel(loser, &second.subscription.id).await.unwrap();
    one.withdraw_vregion(&vregion.name).await.unwrap();
    one.delete_vregion(&vregion.name, true).await.unwrap();
    for p in [&p1, &p2] {
        one.remove_partner(p).await.unwrap();
    }
}

#[tokio::test]
async fn two_partners_race_for_the_last_place_on_sqlite() {
    race_for_the_last_place(&sqlite_url()).await;
}

#[tokio::test]
async fn two_partners_race_for_the_last_place_on_postgresql() {
    let url = mercador_tests::publisher::fresh_postgres_database().await;
    race_for_the_last_place(&url).await;
}

#[tokio::test]
async fn revoke_purges_and_partners_never_see_each_other() {
    let engine = engine(&sqlite_url()).await;
    let (acme, widget) = (name("acme"), name("widget"));
    for p in [&acme, &widget] {
        engine.onboard_partner(NewPartner { name: p.clone(), description: String::new() }).await.unwrap();
    }
    let only_acme = published(&engine, &[&acme], 2).await;
    let entity = format!("https://{acme}.example/idp");
    let access = engine.subscribe(&acme, fake_request(&only_acme, &entity)).await.unwrap();
    let id = access.subscription.id.clone();

    // widget sees neither the vregion nor acme's subscription.
    assert!(engine.offered_vregions(&widget).await.unwrap().is_empty());
    let e = engine.subscribe(&widget, fake_request(&only_acme, "https://widget.example/idp")).await.unwrap_err();
    assert!(matches!(e, PublisherError::NotFound { .. }), "{e}");
    for e in [
        engine.partner_subscription(&widget, &id).await.unwrap_err(),
        engine.cancel(&widget, &id).await.unwrap_err(),
        engine.refresh(&widget, &id).await.map(|_| ()).unwrap_err(),
    ] {
        assert!(matches!(e, PublisherError::NotFound { .. }), "{e}");
    }
    assert!(engine.partner_subscriptions(&widget).await.unwrap().is_empty());
    // Another partner cannot use acme's entity id.
    let both = published(&engine, &[&acme, &widget], 2).await;
    let e = engine.subscribe(&widget, fake_request(&both, &entity)).await.unwrap_err();
    assert!(matches!(e, PublisherError::Saml(_)) && e.to_string().contains("another partner"), "{e}");

    // A shared vregion prefixes project names with the partner; the mapping
    // serves both of acme's vregions through one identity provider.
    let second = engine.subscribe(&acme, fake_request(&both, &entity)).await.unwrap();
    let b = Testbed::get().admin(Cloud::B);
    let mapping = b.get_mapping(&format!("mercador-{acme}-mapping")).await.unwrap();
    let text = serde_json::to_string(&mapping.rules).unwrap();
    assert!(text.contains(&format!("\"{acme}-{{2}}\"")), "prefixed names in the shared vregion");
    assert_eq!(mapping.schema_version.as_deref(), Some("3.0"));

    // The admin revokes the first with purge; the federation stays for the second.
    let revoked = engine.revoke(&id, true).await.unwrap();
    assert_eq!(revoked.state, SubscriptionState::Revoked);
    assert_eq!(engine.partner_subscription(&acme, &id).await.unwrap().state, SubscriptionState::Revoked);
    b.get_identity_provider(&format!("mercador-{acme}")).await.expect("still serves the second vregion");
    let domain_one = engine.get_vregion(&only_acme.name).await.unwrap().domain_id.unwrap();
    assert!(federation_objects_of(&acme, &domain_one).await.iter().all(|o| !o.starts_with("admin user")));
    // Revoking the last removes the federation.
    engine.revoke(&second.subscription.id, false).await.unwrap();
    let domain_two = engine.get_vregion(&both.name).await.unwrap().domain_id.unwrap();
    assert_eq!(federation_objects_of(&acme, &domain_two).await, Vec::<String>::new());

    for v in [&only_acme, &both] {
        engine.withdraw_vregion(&v.name).await.unwrap();
        engine.delete_vregion(&v.name, true).await.unwrap();
    }
    for p in [&acme, &widget] {
        engine.remove_partner(p).await.unwrap();
    }
}

#[tokio::test]
async fn a_failure_part_way_rolls_back_without_orphans() {
    let engine = engine(&sqlite_url()).await;
    let b = Testbed::get().admin(Cloud::B);
    let partner = name("doomed");
    engine.onboard_partner(NewPartner { name: partner.clone(), description: String::new() }).await.unwrap();
    let vregion = published(&engine, &[&partner], 1).await;
    // Someone else's identity provider already claims the entity id: Keystone
    // refuses ours after the trust step ran.
    let entity = format!("https://{partner}.example/idp");
    let squatter = unique("squatter");
    b.create_identity_provider(
        &squatter,
        &mercador_core::keystone::types::NewIdentityProvider {
            remote_ids: vec![entity.clone()],
            enabled: false,
            description: None,
            domain_id: Some(engine.get_vregion(&vregion.name).await.unwrap().domain_id.unwrap()),
        },
    )
    .await
    .unwrap();
    let e = engine.subscribe(&partner, fake_request(&vregion, &entity)).await.unwrap_err();
    assert!(e.to_string().contains("did not create"), "{e}");
    let subs = engine.list_subscriptions(Some(&partner)).await.unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].state, SubscriptionState::Failed);
    assert!(subs[0].error.as_deref().unwrap().contains("did not create"));
    let dir = mercador_core::publisher::ShibbolethMetadataDir::new(Testbed::get().var("KEYSTONE_B_SHIB_METADATA_DIR"));
    assert!(!dir.file_of(&entity).exists(), "the trust written by the first step was removed");
    let domain_id = engine.get_vregion(&vregion.name).await.unwrap().domain_id.unwrap();
    assert_eq!(federation_objects_of(&partner, &domain_id).await, Vec::<String>::new());
    assert_eq!(engine.get_vregion(&vregion.name).await.unwrap().places_taken, 0, "the place is free again");

    b.delete_identity_provider(&squatter).await.unwrap();
    engine.withdraw_vregion(&vregion.name).await.unwrap();
    engine.delete_vregion(&vregion.name, true).await.unwrap();
    engine.remove_partner(&partner).await.unwrap();
}

#[tokio::test]
async fn bad_definitions_and_identities_are_refused_with_their_field() {
    let engine = engine(&sqlite_url()).await;
    test_catalog().await;
    let partner = name("picky");
    let mut bad = spec(&name("bad"), &[&partner], 1);
    bad.region = "Atlantis".into();
    bad.roles = vec!["no-such-role".into()];
    let PublisherError::Invalid(errors) = engine.create_vregion(bad).await.unwrap_err() else { panic!() };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert!(fields.contains(&"region") && fields.contains(&"roles[0]"), "{errors:?}");

    let mut bad = spec(&name("bad"), &[&partner], 1);
    bad.service_types = vec!["identity".into(), "object-store".into()];
    bad.quotas.clear();
    let PublisherError::Invalid(errors) = engine.create_vregion(bad).await.unwrap_err() else { panic!() };
    assert_eq!(errors[0].field, "service_types[1]");
    assert!(errors[0].message.contains("no enabled object-store service"), "{errors:?}");

    // The domains of partners' federated users are not for vregions.
    let mut bad = spec(&name("bad"), &[&partner], 1);
    bad.domain = Some(format!("mercador-k2k-{partner}"));
    let PublisherError::Invalid(errors) = engine.create_vregion(bad).await.unwrap_err() else { panic!() };
    assert_eq!(errors[0].field, "domain");
    assert!(errors[0].message.contains("federated users"), "{errors:?}");

    let long = mercador_core::model::Name::parse("name", &format!("p{}", "x".repeat(40))).unwrap();
    let e = engine.onboard_partner(NewPartner { name: long, description: String::new() }).await.unwrap_err();
    assert!(e.to_string().contains("at most 40"), "Keystone ids derived from the name must fit: {e}");
    engine.onboard_partner(NewPartner { name: partner.clone(), description: String::new() }).await.unwrap();
    let e = engine.onboard_partner(NewPartner { name: partner.clone(), description: String::new() }).await.unwrap_err();
    assert!(matches!(e, PublisherError::Conflict(_)), "{e}");
    let vregion = published(&engine, &[&partner], 1).await;
    let mut request = fake_request(&vregion, "https://picky.example/idp");
    request.metadata = Some(fake_metadata("https://other.example/idp"));
    let e = engine.subscribe(&partner, request).await.unwrap_err();
    assert!(e.to_string().contains("describes entity \"https://other.example/idp\""), "{e}");
    let mut request = fake_request(&vregion, "https://picky.example/idp");
    request.metadata_url = Some("http://127.0.0.1:9/metadata".parse().unwrap());
    let e = engine.subscribe(&partner, request).await.unwrap_err();
    assert!(e.to_string().contains("exactly one of metadata"), "{e}");
    assert!(engine.list_subscriptions(Some(&partner)).await.unwrap().is_empty(), "nothing reserved");

    engine.withdraw_vregion(&vregion.name).await.unwrap();
    engine.delete_vregion(&vregion.name, true).await.unwrap();
    engine.remove_partner(&partner).await.unwrap();
}

#[tokio::test]
async fn replacing_a_published_vregion_converges_its_quotas() {
    let engine = engine(&sqlite_url()).await;
    let b = Testbed::get().admin(Cloud::B);
    let partner = name("quota");
    let vregion = published(&engine, &[&partner], 1).await;
    let domain_id = engine.get_vregion(&vregion.name).await.unwrap().domain_id.unwrap();
    let limits = || async { b.list_limits(&Filter::new().domain_id(&domain_id)).await.unwrap() };
    assert_eq!(limits().await[0].resource_limit, 16);

    let mut changed = vregion.clone();
    changed.quotas[0].limit = 32;
    changed.description = "Lisbon, Tier IV".into();
    let view = engine.replace_vregion(&vregion.name, changed.clone()).await.unwrap();
    assert_eq!(view.spec.description, "Lisbon, Tier IV");
    assert_eq!(limits().await[0].resource_limit, 32, "the limit follows the spec");

    changed.quotas.clear();
    engine.replace_vregion(&vregion.name, changed.clone()).await.unwrap();
    assert!(limits().await.is_empty(), "a dropped quota's limit is deleted");

    let mut renamed = changed.clone();
    renamed.name = name("other");
    let e = engine.replace_vregion(&vregion.name, renamed).await.unwrap_err();
    assert!(e.to_string().contains("cannot be renamed"), "{e}");
    let mut moved = changed.clone();
    moved.domain = Some("elsewhere".into());
    let e = engine.replace_vregion(&vregion.name, moved).await.unwrap_err();
    assert!(e.to_string().contains("its domain cannot change"), "{e}");

    engine.withdraw_vregion(&vregion.name).await.unwrap();
    engine.delete_vregion(&vregion.name, true).await.unwrap();
    assert!(b.get_domain(&domain_id).await.is_err(), "purge deletes the domain");
}

#[tokio::test]
async fn a_vregion_never_takes_over_a_domain_that_is_not_its_own() {
    test_catalog().await;
    let b = Testbed::get().admin(Cloud::B);
    let engine = engine(&sqlite_url()).await;
    let with_domain = |domain: &str| {
        let mut s = spec(&name("dom"), &[], 1);
        s.domain = Some(domain.to_string());
        s
    };

    // A domain of B's own, holding a project: refused, adopted neither way.
    let theirs = b
        .create_domain(&NewDomain { name: unique("theirs"), description: Some("B's own".into()), enabled: true })
        .await
        .unwrap();
    let project = NewProject {
        name: unique("p"),
        domain_id: theirs.id.clone(),
        description: None,
        enabled: true,
        parent_id: None,
        tags: Vec::new(),
    };
    let project = b.create_project(&project).await.unwrap();
    let v = with_domain(&theirs.name);
    engine.create_vregion(v.clone()).await.unwrap();
    let e = engine.publish_vregion(&v.name).await.unwrap_err();
    assert!(matches!(e, PublisherError::Conflict(_)), "{e}");
    assert!(e.to_string().contains("did not create") && e.to_string().contains("--adopt-domain"), "{e}");
    let adopt = PublishOptions { adopt_domain: true };
    let e = engine.publish_vregion_with(&v.name, &adopt).await.unwrap_err();
    assert!(e.to_string().contains("holds 1 project(s)") && e.to_string().contains("only an empty domain"), "{e}");
    engine.delete_vregion(&v.name, true).await.unwrap();
    let untouched = b.get_domain(&theirs.id).await.unwrap();
    assert!(untouched.enabled && untouched.description.as_deref() == Some("B's own"), "{untouched:?}");
    b.delete_project(&project.id).await.unwrap();

    // The same domain, empty: adopted only when asked; then it is the
    // vregion's (deleting the vregion disables it).
    let v = with_domain(&theirs.name);
    engine.create_vregion(v.clone()).await.unwrap();
    assert!(engine.publish_vregion(&v.name).await.is_err(), "not without adopt_domain");
    let published = engine.publish_vregion_with(&v.name, &adopt).await.unwrap();
    assert_eq!(published.domain_id.as_deref(), Some(theirs.id.as_str()));
    let adopted = b.get_domain(&theirs.id).await.unwrap();
    assert_eq!(adopted.description, Some(format!("Mercador vregion {}", v.name)));

    // Another vregion naming that domain is refused at definition.
    let e = engine.create_vregion(with_domain(&theirs.name)).await.unwrap_err();
    let PublisherError::Invalid(errors) = &e else { panic!("{e}") };
    assert!(errors.iter().any(|x| x.field == "domain" && x.message.contains(v.name.as_str())), "{e}");
    engine.withdraw_vregion(&v.name).await.unwrap();
    engine.delete_vregion(&v.name, false).await.unwrap();
    assert!(!b.get_domain(&theirs.id).await.unwrap().enabled, "the adopted domain was the vregion's own");

    // A vregion's domain whose description an operator changed is no longer
    // taken for the vregion's own: deleting the vregion leaves it alone.
    let v = spec(&name("dom"), &[], 1);
    engine.create_vregion(v.clone()).await.unwrap();
    let domain_id = engine.publish_vregion(&v.name).await.unwrap().domain_id.unwrap();
    let update = DomainUpdate { description: Some("now B's".into()), ..Default::default() };
    b.update_domain(&domain_id, &update).await.unwrap();
    engine.withdraw_vregion(&v.name).await.unwrap();
    engine.delete_vregion(&v.name, true).await.unwrap();
    assert!(b.get_domain(&domain_id).await.unwrap().enabled, "left alone");
    assert!(b.list_limits(&Filter::new().domain_id(&domain_id)).await.unwrap().is_empty(), "its quotas went");
    for id in [&domain_id, &theirs.id] {
        b.delete_domain(id).await.unwrap();
    }
}

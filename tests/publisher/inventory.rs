//! Nothing Mercador creates or causes on Keystone B outlives what it
//! belongs to: a full inventory of B (domains, projects, users, groups,
//! role assignments, roles and implied roles, limits, registered limits,
//! identity providers, mappings, protocols, service providers, services,
//! endpoints, regions, and Shibboleth's metadata directory) is compared
//! before and after a real story: a partner subscribes, alice of A logs in
//! through K2K (Keystone creates her shadow user, her project and its role
//! assignments), the partner cancels, the publisher deletes its vregions
//! (one purged, one only disabled) and removes the partner.
//!
//! After the cancel only the documented survivors remain: alice's project,
//! disabled and tagged with the partner. After the deletions only the
//! disabled domain of the vregion deleted without `purge` remains.
//!
//! This binary holds this one test: the inventory is of all of B, so no
//! other test may change B meanwhile (cargo runs test binaries one after
//! another; the tests of one binary run in parallel).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use mercador_core::k2k::Keystone2Keystone;
use mercador_core::keystone::ensure;
use mercador_core::keystone::types::{Filter, NewDomain, RoleAssignmentFilter};
use mercador_core::keystone::{IdentityApi, KeystoneClient, Scope};
use mercador_core::model::{SubscriptionState, VRegionSpec};
use mercador_core::publisher::NewPartner;
use mercador_tests::publisher::{
    a_entity_turn, engine, free_entity_on_b, name, session_with, sqlite_url, test_catalog,
};
use mercador_tests::{Cloud, Testbed};
use serde_json::json;

/// Everything Keystone B holds, one line per object.
async fn inventory(b: &KeystoneClient) -> BTreeSet<String> {
    let all = Filter::new();
    let mut out = BTreeSet::new();
    let mut add = |kind: &str, items: Vec<String>| out.extend(items.into_iter().map(|i| format!("{kind} {i}")));
    add("domain", b.list_domains(&all).await.unwrap().iter().map(|x| format!("{x:?}")).collect());
    add("project", b.list_projects(&all).await.unwrap().iter().map(|x| format!("{x:?}")).collect());
    add("user", b.list_users(&all).await.unwrap().iter().map(|x| format!("{x:?}")).collect());
    add("group", b.list_groups(&all).await.unwrap().iter().map(|x| format!("{x:?}")).collect());
    let assignments = b.list_role_assignments(&RoleAssignmentFilter::default()).await.unwrap();
    add("role assignment", assignments.iter().map(|x| format!("{x:?}")).collect());
    add("role", b.list_roles(&all).await.unwrap().iter().map(|x| format!("{x:?}")).collect());
    add("implied role", b.list_role_inferences().await.unwrap().iter().map(|x| format!("{x:?}")).collect());
    add("limit", b.list_limits(&all).await.unwrap().iter().map(|x| format!("{x:?}")).collect());
    add("registered limit", b.list_registered_limits(&all).await.unwrap().iter().map(|x| format!("{x:?}")).collect());
    let idps = b.list_identity_providers().await.unwrap();
    for idp in &idps {
        add("protocol", b.list_protocols(&idp.id).await.unwrap().iter().map(|x| format!("{} {x:?}", idp.id)).collect());
    }
    add("identity provider", idps.iter().map(|x| format!("{x:?}")).collect());
    add("mapping", b.list_mappings().await.unwrap().iter().map(|x| format!("{x:?}")).collect());
    add("service provider", b.list_service_providers().await.unwrap().iter().map(|x| format!("{x:?}")).collect());
    add("service", b.list_services(&all).await.unwrap().iter().map(|x| format!("{x:?}")).collect());
    add("endpoint", b.list_endpoints(&all).await.unwrap().iter().map(|x| format!("{x:?}")).collect());
    add("region", b.list_regions(&all).await.unwrap().iter().map(|x| format!("{x:?}")).collect());
    let dir = Testbed::get().var("KEYSTONE_B_SHIB_METADATA_DIR");
    let files = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned());
    add("shibboleth metadata", files.collect());
    out
}

/// (added, removed) from `before` to `after`.
fn diff(before: &BTreeSet<String>, after: &BTreeSet<String>) -> (Vec<String>, Vec<String>) {
    (after.difference(before).cloned().collect(), before.difference(after).cloned().collect())
}

fn spec(name: &mercador_core::model::Name, partners: &[&mercador_core::model::Name]) -> VRegionSpec {
    serde_json::from_value(json!({
        "name": name,
        "region": Testbed::get().region(Cloud::B),
        "service_types": ["identity", "compute"],
        "roles": ["member", "reader"],
        "quotas": [{"resource": "class:VCPU", "limit": 16}],
        "max_subscriptions": 1,
        "partners": partners,
    }))
    .unwrap()
}

#[tokio::test]
async fn nothing_outlives_a_subscription_or_a_purged_vregion() {
    let turn = a_entity_turn().await;
    let tb = Testbed::get();
    let (a, b) = (tb.admin(Cloud::A), tb.admin(Cloud::B));
    let engine = engine(&sqlite_url()).await;
    free_entity_on_b(turn.entity_id()).await;
    // What lives longer than any partner: the catalog the vregions expose
    // and the partners' domain (shared by all partners).
    test_catalog().await;
    ensure::ensure_domain(
        &b,
        &NewDomain {
            name: "mercador-partners".into(),
            description: Some("Mercador partners: one project and user per subscriber provider".into()),
            enabled: true,
        },
    )
    .await
    .unwrap();
    let before = inventory(&b).await;

    let partner = name("inv");
    engine.onboard_partner(NewPartner { name: partner.clone(), description: String::new() }).await.unwrap();
    let (purged, disabled) = (spec(&name("inv"), &[&partner]), spec(&name("inv"), &[]));
    for v in [&purged, &disabled] {
        engine.create_vregion(v.clone()).await.unwrap();
    }
    let domain_id = engine.publish_vregion(&purged.name).await.unwrap().domain_id.unwrap();
    let disabled_domain = engine.publish_vregion(&disabled.name).await.unwrap().domain_id.unwrap();
    let published = inventory(&b).await;

    let access = engine.subscribe(&partner, turn.subscribe_request(&purged.name)).await.unwrap();
    let sp_id = turn.service_provider_on_a(&access, "inv-sp").await;
    let k2k = Keystone2Keystone::new(turn.alice(), &sp_id).await.unwrap();
    let projects = k2k.projects().await.unwrap();
    assert_eq!(projects.len(), 1, "{projects:?}");
    let token = session_with(Arc::new(k2k), Scope::project_id(projects[0].id.clone())).token().await.unwrap();
    let mut roles = token.role_names();
    roles.sort_unstable();
    assert_eq!(roles, ["member", "reader"]);
    let subscribed = inventory(&b).await;
    let (added, _) = diff(&published, &subscribed);
    assert!(added.iter().any(|l| l.starts_with("role assignment") && l.contains(&token.user.id)), "{added:#?}");

    // Cancel: only alice's project survives, disabled and tagged; no role
    // assignment of her (deleted) shadow user stays behind.
    let cancelled = engine.cancel(&partner, &access.subscription.id).await.unwrap();
    assert_eq!(cancelled.state, SubscriptionState::Cancelled);
    a.delete_service_provider(&sp_id).await.unwrap();
    let after_cancel = inventory(&b).await;
    let (added, removed) = diff(&published, &after_cancel);
    assert!(removed.is_empty(), "the cancel removed what it did not create: {removed:#?}");
    assert_eq!(added.len(), 1, "only alice's project survives the cancel: {added:#?}");
    let project = b.get_project(&projects[0].id).await.unwrap();
    assert!(!project.enabled && project.tags == [format!("mercador-partner={partner}")], "{project:?}");
    assert_eq!(added[0], format!("project {project:?}"));

    // Deleting the vregions: the purged one leaves nothing (its domain, its
    // project and its limit go); the other leaves its domain, disabled, and
    // nothing else (its limit goes). Removing the partner leaves nothing.
    for v in [&purged, &disabled] {
        engine.withdraw_vregion(&v.name).await.unwrap();
    }
    engine.delete_vregion(&purged.name, true).await.unwrap();
    engine.delete_vregion(&disabled.name, false).await.unwrap();
    engine.remove_partner(&partner).await.unwrap();
    let after = inventory(&b).await;
    let (added, removed) = diff(&before, &after);
    assert!(removed.is_empty(), "removed what Mercador did not create: {removed:#?}");
    let survivor = b.get_domain(&disabled_domain).await.unwrap();
    assert!(!survivor.enabled, "{survivor:?}");
    assert_eq!(added, [format!("domain {survivor:?}")], "only the disabled domain survives");
    assert!(b.get_domain(&domain_id).await.unwrap_err().is_not_found());
    b.delete_domain(&disabled_domain).await.unwrap();
}

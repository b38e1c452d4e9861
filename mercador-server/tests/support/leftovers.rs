//! What the outage tests check after an outage: that a binding converged,
//! and that nothing of it is left on either Keystone.

use std::time::{Duration, Instant};

use mercador_core::keystone::IdentityApi;
use mercador_core::keystone::types::Filter;
use mercador_core::model::Name;
use mercador_tests::{Cloud, Testbed};
use serde_json::Value;

use super::ApiClient;

/// What Keystone A holds of a binding: service provider, region, endpoints.
pub async fn objects_on_a(alias: &Name) -> Vec<String> {
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
    found
}

/// What Keystone B holds for A's SAML identity: identity providers with its
/// entity id, and users of the vregion's domain.
pub async fn objects_on_b(entity_id: &str, vregion_domain: Option<&str>) -> Vec<String> {
    let b = Testbed::get().admin(Cloud::B);
    let mut found = Vec::new();
    for idp in b.list_identity_providers().await.unwrap() {
        if idp.remote_ids.iter().any(|r| r == entity_id) {
            found.push(format!("identity provider {}", idp.id));
        }
    }
    if let Some(domain) = vregion_domain {
        for u in b.list_users(&Filter::new().domain_id(domain)).await.unwrap() {
            found.push(format!("user {}", u.name));
        }
    }
    found
}

/// Polls `GET /v1/bindings/{alias}` until its state is `state`, for at most `bound`.
pub async fn wait_for_binding(api: &ApiClient, alias: &Name, state: &str, bound: Duration) -> Value {
    let deadline = Instant::now() + bound;
    loop {
        let answer = api.get(&format!("/v1/bindings/{alias}")).await;
        if answer.status == 200 && answer.json()["state"] == state {
            return answer.json();
        }
        assert!(Instant::now() < deadline, "binding {alias} not {state} within {bound:?}: {answer}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

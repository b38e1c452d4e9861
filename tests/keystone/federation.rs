//! OS-FEDERATION objects on the real Keystones: identity providers, mappings
//! and protocols (on B, the service provider side) and service providers (on
//! A, the identity provider side), with their `ensure_*` helpers.

use mercador_core::ErrorKind;
use mercador_core::keystone::ensure::{
    ensure_identity_provider, ensure_mapping, ensure_protocol, ensure_service_provider,
};
use mercador_core::keystone::types::*;
use mercador_core::keystone::{IdentityApi, Outcome};
use mercador_tests::{Cloud, Testbed, unique};
use serde_json::json;

use crate::common::{self, Cleanup, expect_err, expect_gone};

fn rules(group_id: &str) -> Vec<serde_json::Value> {
    vec![json!({
        "local": [
            {"user": {"name": "{0}"}},
            {"group": {"id": group_id}}
        ],
        "remote": [
            {"type": "openstack_user"},
            {"type": "openstack_roles", "any_one_of": ["member"]}
        ]
    })]
}

#[tokio::test]
async fn identity_providers() {
    let _writes = common::writing_to(Cloud::B).await;
    let k = common::admin(Cloud::B);
    let c = Cleanup::new();
    c.clone()
        .run(async {
            let d = common::domain(&k, &c, "idp-dom").await;
            let id = unique("idp");
            let remote = format!("http://{id}.example.invalid/idp");
            let idp = k
                .create_identity_provider(
                    &id,
                    &NewIdentityProvider {
                        remote_ids: vec![remote.clone()],
                        enabled: true,
                        description: Some("i1".into()),
                        domain_id: Some(d.id.clone()),
                    },
                )
                .await
                .unwrap();
            {
                let id = id.clone();
                c.defer(format!("identity provider {id}"), &k, move |k| async move {
                    k.delete_identity_provider(&id).await
                });
            }
            assert_eq!(idp.id, id);
            assert_eq!(idp.remote_ids, std::slice::from_ref(&remote));
            assert!(idp.enabled);
            assert_eq!(idp.description.as_deref(), Some("i1"));
            assert_eq!(idp.domain_id.as_deref(), Some(d.id.as_str()));
            assert_eq!(k.get_identity_provider(&id).await.unwrap(), idp);
            assert!(k.list_identity_providers().await.unwrap().contains(&idp));

            // Another IdP cannot claim the same remote id.
            let thief = unique("idp-thief");
            let e = expect_err(
                k.create_identity_provider(
                    &thief,
                    &NewIdentityProvider {
                        remote_ids: vec![remote.clone()],
                        enabled: false,
                        description: None,
                        domain_id: Some(d.id.clone()),
                    },
                )
                .await,
                ErrorKind::Conflict,
            );
            // (Keystone 30 names the duplicate "None".)
            assert!(e.to_string().contains("Duplicate remote ID"), "{e}");
            expect_gone(k.get_identity_provider(&thief).await);

            let remote2 = format!("http://{id}.example.invalid/idp2");
            let updated = k
                .update_identity_provider(
                    &id,
                    &IdentityProviderUpdate {
                        remote_ids: Some(vec![remote.clone(), remote2.clone()]),
                        enabled: Some(false),
                        description: Some("i2".into()),
                    },
                )
                .await
                .unwrap();
            let mut remotes = updated.remote_ids.clone();
            remotes.sort();
            assert_eq!(remotes, [remote.clone(), remote2.clone()]);
            assert!(!updated.enabled);
            assert_eq!(updated.description.as_deref(), Some("i2"));
            assert_eq!(updated.domain_id.as_deref(), Some(d.id.as_str()));
            assert_eq!(k.get_identity_provider(&id).await.unwrap().description.as_deref(), Some("i2"));

            k.delete_identity_provider(&id).await.unwrap();
            expect_gone(k.get_identity_provider(&id).await);
            assert!(!k.list_identity_providers().await.unwrap().iter().any(|i| i.id == id));
            expect_gone(k.delete_identity_provider(&id).await);

            // ensure_identity_provider: remote ids, enabled and description converge.
            let id = unique("ens-idp");
            {
                let id = id.clone();
                c.defer(format!("identity provider {id}"), &k, move |k| async move {
                    k.delete_identity_provider(&id).await
                });
            }
            let want = NewIdentityProvider {
                remote_ids: vec![format!("http://{id}.example.invalid/a")],
                enabled: true,
                description: None,
                domain_id: Some(d.id.clone()),
            };
            let first = ensure_identity_provider(&k, &id, &want).await.unwrap();
            assert_eq!(first.outcome, Outcome::Created);
            assert_eq!(first.object.remote_ids, want.remote_ids);
            let second = ensure_identity_provider(&k, &id, &want).await.unwrap();
            assert_eq!(second.outcome, Outcome::Adopted);
            assert_eq!(second.object, first.object);
            let want = NewIdentityProvider {
                remote_ids: vec![format!("http://{id}.example.invalid/b"), format!("http://{id}.example.invalid/c")],
                ..want
            };
            let third = ensure_identity_provider(&k, &id, &want).await.unwrap();
            assert_eq!(third.outcome, Outcome::Updated);
            let mut got = k.get_identity_provider(&id).await.unwrap().remote_ids;
            got.sort();
            assert_eq!(got, want.remote_ids);
            // The order of remote ids does not matter.
            let reversed =
                NewIdentityProvider { remote_ids: want.remote_ids.iter().rev().cloned().collect(), ..want.clone() };
            assert_eq!(ensure_identity_provider(&k, &id, &reversed).await.unwrap().outcome, Outcome::Adopted);
            let want = NewIdentityProvider { enabled: false, ..want };
            let fourth = ensure_identity_provider(&k, &id, &want).await.unwrap();
            assert_eq!(fourth.outcome, Outcome::Updated);
            assert!(!fourth.object.enabled);
            assert_eq!(ensure_identity_provider(&k, &id, &want).await.unwrap().outcome, Outcome::Adopted);
            // Its domain cannot move.
            let elsewhere = NewIdentityProvider { domain_id: Some("default".into()), ..want };
            let e = expect_err(ensure_identity_provider(&k, &id, &elsewhere).await, ErrorKind::InvalidInput);
            assert!(e.to_string().contains(&id), "{e}");
        })
        .await;
}

#[tokio::test]
async fn mappings_and_protocols() {
    let _writes = common::writing_to(Cloud::B).await;
    let k = common::admin(Cloud::B);
    let c = Cleanup::new();
    c.clone()
        .run(async {
            let d = common::domain(&k, &c, "map-dom").await;
            let g = k
                .create_group(&NewGroup { name: unique("fed-group"), domain_id: d.id.clone(), description: None })
                .await
                .unwrap();

            // Mappings.
            let m1 = unique("map");
            let mapping =
                k.create_mapping(&m1, &NewMapping { schema_version: None, rules: rules(&g.id) }).await.unwrap();
            {
                let m1 = m1.clone();
                c.defer(format!("mapping {m1}"), &k, move |k| async move { k.delete_mapping(&m1).await });
            }
            assert_eq!(mapping.id, m1);
            assert_eq!(mapping.rules, rules(&g.id));
            assert_eq!(k.get_mapping(&m1).await.unwrap(), mapping);
            assert!(k.list_mappings().await.unwrap().iter().any(|m| m.id == m1 && m.rules == rules(&g.id)));
            let mut changed = rules(&g.id);
            changed[0]["remote"][1]["any_one_of"] = json!(["member", "reader"]);
            let updated =
                k.update_mapping(&m1, &NewMapping { schema_version: None, rules: changed.clone() }).await.unwrap();
            assert_eq!(updated.rules, changed);
            assert_eq!(k.get_mapping(&m1).await.unwrap().rules, changed);
            // Keystone validates the rules.
            let e = expect_err(
                k.create_mapping(
                    &unique("bad-map"),
                    &NewMapping { schema_version: None, rules: vec![json!({"local": []})] },
                )
                .await,
                ErrorKind::InvalidInput,
            );
            assert!(e.to_string().contains("'remote' is a required property"), "{e}");

            // Protocols of an identity provider.
            let idp = unique("proto-idp");
            k.create_identity_provider(
                &idp,
                &NewIdentityProvider {
                    remote_ids: vec![format!("http://{idp}.example.invalid/idp")],
                    enabled: true,
                    description: None,
                    domain_id: Some(d.id.clone()),
                },
            )
            .await
            .unwrap();
            {
                let idp = idp.clone();
                c.defer(format!("identity provider {idp}"), &k, move |k| async move {
                    k.delete_identity_provider(&idp).await
                });
            }
            let m2 = unique("map2");
            k.create_mapping(&m2, &NewMapping { schema_version: None, rules: rules(&g.id) }).await.unwrap();
            {
                let m2 = m2.clone();
                c.defer(format!("mapping {m2}"), &k, move |k| async move { k.delete_mapping(&m2).await });
            }
            let p = k
                .create_protocol(&idp, "saml2", &NewProtocol { mapping_id: m1.clone(), remote_id_attribute: None })
                .await
                .unwrap();
            {
                let idp = idp.clone();
                c.defer("protocol saml2", &k, move |k| async move { k.delete_protocol(&idp, "saml2").await });
            }
            assert_eq!((p.id.as_str(), p.mapping_id.as_str()), ("saml2", m1.as_str()));
            assert_eq!(k.get_protocol(&idp, "saml2").await.unwrap(), p);
            let listed = k.list_protocols(&idp).await.unwrap();
            assert_eq!((listed.len(), listed[0].id.as_str(), listed[0].mapping_id.as_str()), (1, "saml2", m1.as_str()));
            let moved = k
                .update_protocol(
                    &idp,
                    "saml2",
                    &NewProtocol { mapping_id: m2.clone(), remote_id_attribute: Some("Shib-Identity-Provider".into()) },
                )
                .await
                .unwrap();
            assert_eq!(moved.mapping_id, m2);
            assert_eq!(k.get_protocol(&idp, "saml2").await.unwrap(), moved);
            // Keystone shows remote_id_attribute only when listing protocols;
            // the client reads it from there.
            assert_eq!(moved.remote_id_attribute.as_deref(), Some("Shib-Identity-Provider"));
            let listed = k.list_protocols(&idp).await.unwrap();
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0].remote_id_attribute.as_deref(), Some("Shib-Identity-Provider"));
            // A protocol needs an existing mapping.
            expect_err(
                k.create_protocol(
                    &idp,
                    "mapped",
                    &NewProtocol { mapping_id: unique("nomap"), remote_id_attribute: None },
                )
                .await,
                ErrorKind::InvalidInput,
            );
            k.delete_protocol(&idp, "saml2").await.unwrap();
            expect_gone(k.get_protocol(&idp, "saml2").await);
            assert!(k.list_protocols(&idp).await.unwrap().is_empty());

            // ensure_protocol: the mapping converges.
            let want = NewProtocol { mapping_id: m1.clone(), remote_id_attribute: None };
            let first = ensure_protocol(&k, &idp, "mapped", &want).await.unwrap();
            assert_eq!(first.outcome, Outcome::Created);
            assert_eq!(first.object.mapping_id, m1);
            let second = ensure_protocol(&k, &idp, "mapped", &want).await.unwrap();
            assert_eq!(second.outcome, Outcome::Adopted);
            assert_eq!(second.object, first.object);
            let want = NewProtocol { mapping_id: m2.clone(), ..want };
            let third = ensure_protocol(&k, &idp, "mapped", &want).await.unwrap();
            assert_eq!(third.outcome, Outcome::Updated);
            assert_eq!(third.object.mapping_id, m2);
            assert_eq!(k.get_protocol(&idp, "mapped").await.unwrap().mapping_id, m2);
            let want = NewProtocol { remote_id_attribute: Some("Shib-Identity-Provider".into()), ..want };
            let fourth = ensure_protocol(&k, &idp, "mapped", &want).await.unwrap();
            assert_eq!(fourth.outcome, Outcome::Updated);
            assert_eq!(fourth.object.mapping_id, m2);
            let listed = k.list_protocols(&idp).await.unwrap();
            assert_eq!(listed[0].remote_id_attribute.as_deref(), Some("Shib-Identity-Provider"));
            let fifth = ensure_protocol(&k, &idp, "mapped", &want).await.unwrap();
            assert_eq!(fifth.outcome, Outcome::Adopted, "the remote id attribute is read from the protocol list");
            assert_eq!(fifth.object.remote_id_attribute.as_deref(), Some("Shib-Identity-Provider"));
            // Without an attribute in the request, the one set is left alone.
            let without = NewProtocol { remote_id_attribute: None, ..want.clone() };
            assert_eq!(ensure_protocol(&k, &idp, "mapped", &without).await.unwrap().outcome, Outcome::Adopted);
            // Deleting the IdP deletes its protocols.
            k.delete_identity_provider(&idp).await.unwrap();
            expect_gone(k.get_protocol(&idp, "mapped").await);

            k.delete_mapping(&m1).await.unwrap();
            expect_gone(k.get_mapping(&m1).await);
            assert!(!k.list_mappings().await.unwrap().iter().any(|m| m.id == m1));

            // ensure_mapping: the rules converge.
            let m3 = unique("ens-map");
            {
                let m3 = m3.clone();
                c.defer(format!("mapping {m3}"), &k, move |k| async move { k.delete_mapping(&m3).await });
            }
            let want = NewMapping { schema_version: None, rules: rules(&g.id) };
            let first = ensure_mapping(&k, &m3, &want).await.unwrap();
            assert_eq!(first.outcome, Outcome::Created);
            assert_eq!(first.object.rules, want.rules);
            let second = ensure_mapping(&k, &m3, &want).await.unwrap();
            assert_eq!(second.outcome, Outcome::Adopted, "Keystone returns the rules as they were stored");
            let want = NewMapping { schema_version: None, rules: changed.clone() };
            let third = ensure_mapping(&k, &m3, &want).await.unwrap();
            assert_eq!(third.outcome, Outcome::Updated);
            assert_eq!(third.object.rules, changed);
            assert_eq!(k.get_mapping(&m3).await.unwrap().rules, changed);
            assert_eq!(ensure_mapping(&k, &m3, &want).await.unwrap().outcome, Outcome::Adopted);
        })
        .await;
}

#[tokio::test]
async fn service_providers() {
    let _writes = common::writing_to(Cloud::A).await;
    let tb = Testbed::get();
    let k = common::admin(Cloud::A);
    let b = tb.url(Cloud::B);
    let auth_url = |idp: &str| format!("{b}/OS-FEDERATION/identity_providers/{idp}/protocols/saml2/auth");
    let sp_url = format!("{}://{}/Shibboleth.sso/SAML2/ECP", b.scheme(), b.authority());
    let c = Cleanup::new();
    c.clone()
        .run(async {
            let id = unique("sp");
            let sp = k
                .create_service_provider(
                    &id,
                    &NewServiceProvider {
                        auth_url: auth_url("idp1"),
                        sp_url: sp_url.clone(),
                        enabled: false,
                        description: Some("s1".into()),
                        relay_state_prefix: None,
                    },
                )
                .await
                .unwrap();
            {
                let id = id.clone();
                c.defer(
                    format!("service provider {id}"),
                    &k,
                    move |k| async move { k.delete_service_provider(&id).await },
                );
            }
            assert_eq!(sp.id, id);
            assert_eq!(sp.auth_url, auth_url("idp1"));
            assert_eq!(sp.sp_url, sp_url);
            assert!(!sp.enabled);
            assert_eq!(sp.description.as_deref(), Some("s1"));
            assert_eq!(sp.relay_state_prefix.as_deref(), Some("ss:mem:"), "Keystone's default relay state prefix");
            assert_eq!(k.get_service_provider(&id).await.unwrap(), sp);
            assert!(k.list_service_providers().await.unwrap().contains(&sp));

            // Disabled: not in tokens. Enabled: in every token (validation re-renders the list).
            let own = k.session().token().await.unwrap();
            assert!(k.validate_token(own.secret()).await.unwrap().service_provider(&id).is_none());
            let updated = k
                .update_service_provider(
                    &id,
                    &ServiceProviderUpdate {
                        auth_url: Some(auth_url("idp2")),
                        enabled: Some(true),
                        description: Some("s2".into()),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            assert_eq!(updated.auth_url, auth_url("idp2"));
            assert!(updated.enabled);
            assert_eq!(updated.description.as_deref(), Some("s2"));
            assert_eq!(k.get_service_provider(&id).await.unwrap(), updated);
            let listed = k.validate_token(own.secret()).await.unwrap();
            let in_token = listed.service_provider(&id).expect("an enabled service provider is listed in tokens");
            assert_eq!(in_token.auth_url.as_str(), auth_url("idp2"));
            assert_eq!(in_token.sp_url.as_str(), sp_url);

            k.delete_service_provider(&id).await.unwrap();
            expect_gone(k.get_service_provider(&id).await);
            assert!(!k.list_service_providers().await.unwrap().iter().any(|s| s.id == id));

            // ensure_service_provider: URLs, enabled and description converge.
            let id = unique("ens-sp");
            {
                let id = id.clone();
                c.defer(
                    format!("service provider {id}"),
                    &k,
                    move |k| async move { k.delete_service_provider(&id).await },
                );
            }
            let want = NewServiceProvider {
                auth_url: auth_url("idp1"),
                sp_url: sp_url.clone(),
                enabled: false,
                description: None,
                relay_state_prefix: None,
            };
            let first = ensure_service_provider(&k, &id, &want).await.unwrap();
            assert_eq!(first.outcome, Outcome::Created);
            let second = ensure_service_provider(&k, &id, &want).await.unwrap();
            assert_eq!(second.outcome, Outcome::Adopted);
            assert_eq!(second.object, first.object);
            let want = NewServiceProvider { auth_url: auth_url("idp3"), ..want };
            let third = ensure_service_provider(&k, &id, &want).await.unwrap();
            assert_eq!(third.outcome, Outcome::Updated);
            assert_eq!(third.object.auth_url, auth_url("idp3"));
            let want = NewServiceProvider { description: Some("now described".into()), ..want };
            let fourth = ensure_service_provider(&k, &id, &want).await.unwrap();
            assert_eq!(fourth.outcome, Outcome::Updated);
            assert_eq!(fourth.object.description.as_deref(), Some("now described"));
            assert_eq!(k.get_service_provider(&id).await.unwrap(), fourth.object);
            assert_eq!(ensure_service_provider(&k, &id, &want).await.unwrap().outcome, Outcome::Adopted);
        })
        .await;
}

//! The real `openstack` CLI sees what the Rust client created.

use mercador_core::keystone::IdentityApi;
use mercador_core::keystone::types::{NewDomain, NewIdentityProvider, NewRegion, NewServiceProvider};
use mercador_tests::{Cloud, Testbed, unique};

use crate::common::{self, Cleanup};

/// Runs `openstack <args>` on cloud A off the async runtime and returns its lines.
async fn cli(args: &[&str]) -> Vec<String> {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Testbed::get().openstack(Cloud::A, &args)
    })
    .await
    .unwrap()
    .lines()
    .map(|l| l.trim().to_owned())
    .collect()
}

#[tokio::test]
async fn openstack_cli_lists_what_the_client_created() {
    // Writes only to set up and clean up; the CLI reads.
    let mut writes = Some(common::writing_to(Cloud::A).await);
    let tb = Testbed::get();
    let k = common::admin(Cloud::A);
    let c = Cleanup::new();
    c.clone()
        .run(async {
            let region = k
                .create_region(&NewRegion { id: Some(unique("cli-region")), description: None, parent_region_id: None })
                .await
                .unwrap();
            {
                let id = region.id.clone();
                c.defer(format!("region {id}"), &k, move |k| async move { k.delete_region(&id).await });
            }
            let domain = k
                .create_domain(&NewDomain { name: unique("cli-dom"), description: None, enabled: true })
                .await
                .unwrap();
            {
                let id = domain.id.clone();
                c.defer(format!("domain {}", domain.name), &k, move |k| async move { k.delete_domain(&id).await });
            }
            let idp = unique("cli-idp");
            k.create_identity_provider(
                &idp,
                &NewIdentityProvider {
                    remote_ids: vec![format!("http://{idp}.example.invalid/idp")],
                    enabled: false,
                    description: None,
                    domain_id: Some(domain.id.clone()),
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
            let sp = unique("cli-sp");
            k.create_service_provider(
                &sp,
                &NewServiceProvider {
                    auth_url: format!(
                        "http://{sp}.example.invalid/v3/OS-FEDERATION/identity_providers/a/protocols/saml2/auth"
                    ),
                    sp_url: format!("http://{sp}.example.invalid/Shibboleth.sso/SAML2/ECP"),
                    enabled: false,
                    description: None,
                    relay_state_prefix: None,
                },
            )
            .await
            .unwrap();
            {
                let sp = sp.clone();
                c.defer(
                    format!("service provider {sp}"),
                    &k,
                    move |k| async move { k.delete_service_provider(&sp).await },
                );
            }

            writes = None;
            let (regions, domains, idps, sps) = tokio::join!(
                cli(&["region", "list", "-f", "value", "-c", "Region"]),
                cli(&["domain", "list", "-f", "value", "-c", "ID", "-c", "Name"]),
                cli(&["identity", "provider", "list", "-f", "value", "-c", "ID"]),
                cli(&["service", "provider", "list", "-f", "value", "-c", "ID"]),
            );
            assert!(regions.contains(&region.id), "{} not in {regions:?}", region.id);
            assert!(regions.iter().any(|r| r == tb.region(Cloud::A)), "{regions:?}");
            // "<id> <name>" lines: the CLI shows the domain with the id the client got.
            assert!(domains.contains(&format!("{} {}", domain.id, domain.name)), "{domain:?} not in {domains:?}");
            assert!(domains.iter().any(|d| d == "default Default"), "{domains:?}");
            assert!(idps.contains(&idp), "{idp} not in {idps:?}");
            assert!(sps.contains(&sp), "{sp} not in {sps:?}");
            writes = Some(common::writing_to(Cloud::A).await); // for the cleanup
        })
        .await;
}

//! Publisher benchmark: what a subscription costs with Mercador against the
//! reference way, an operator typing the same configuration with the
//! `openstack` CLI, in one run on the testbed's Keystone B.
//!
//! Per iteration, both sides create the same objects (Shibboleth metadata
//! file, identity provider, mapping, protocol `saml2`, admin user with
//! `admin` on the vregion domain, a token for it, the endpoint list) and then
//! remove them. Mercador also validates, records every step and re-reads
//! what it adopts; the CLI does none of that.
//!
//! ```sh
//! testbed/testbed.sh start
//! cargo bench -p mercador-tests --bench publisher
//! ```
//!
//! `MERCADOR_BENCH_SCALE=0.5` runs fewer iterations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a bench binary

use std::time::Instant;

use mercador_core::model::VRegionSpec;
use mercador_core::publisher::{NewPartner, ShibbolethMetadataDir, SubscribeRequest};
use mercador_tests::publisher::{engine, fake_metadata, name, sqlite_url};
use mercador_tests::{Cloud, Testbed, children_peak_rss_mib, median, ms, peak_rss_mib, unique};
use serde_json::json;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let tb = Testbed::get();
    let scale: f64 = std::env::var("MERCADOR_BENCH_SCALE").ok().and_then(|v| v.parse().ok()).unwrap_or(1.0);
    let iterations = ((5.0 * scale).round() as usize).max(2);
    let engine = engine(&sqlite_url()).await;
    let partner = name("bench");
    engine.onboard_partner(NewPartner { name: partner.clone(), description: String::new() }).await.unwrap();
    let vregion: VRegionSpec = serde_json::from_value(json!({
        "name": name("bench-vr"),
        "region": tb.region(Cloud::B),
        "service_types": ["identity"],
        "roles": ["reader"],
        "max_subscriptions": 1,
        "partners": [partner],
    }))
    .unwrap();
    engine.create_vregion(vregion.clone()).await.unwrap();
    let published = engine.publish_vregion(&vregion.name).await.unwrap();
    let domain_id = published.domain_id.clone().unwrap();
    let metadata_dir = ShibbolethMetadataDir::new(tb.var("KEYSTONE_B_SHIB_METADATA_DIR"));

    let (mut ours_up, mut ours_down, mut cli_up, mut cli_down) = (vec![], vec![], vec![], vec![]);
    for i in 0..iterations {
        // ---- Mercador: subscribe, then cancel.
        let entity = format!("https://bench-{i}-{}.example/idp", std::process::id());
        let started = Instant::now();
        let access = engine
            .subscribe(
                &partner,
                SubscribeRequest {
                    vregion: vregion.name.clone(),
                    entity_id: entity.clone(),
                    metadata: Some(fake_metadata(&entity)),
                    metadata_url: None,
                    keystone_url: None,
                },
            )
            .await
            .unwrap();
        ours_up.push(ms(started.elapsed()));
        let started = Instant::now();
        engine.cancel(&partner, &access.subscription.id).await.unwrap();
        ours_down.push(ms(started.elapsed()));

        // ---- The reference: the same objects with the openstack CLI.
        let entity = format!("https://cli-{i}-{}.example/idp", std::process::id());
        let (idp, mapping, user) = (unique("cli-idp"), unique("cli-map"), unique("cli-admin"));
        let rules = std::env::temp_dir().join(format!("{mapping}.json"));
        std::fs::write(
            &rules,
            json!([{
                "local": [{"user": {"name": "{0}@{1}", "domain": {"id": domain_id}}},
                          {"projects": [{"name": "{2}", "domain": {"id": domain_id}, "roles": [{"name": "reader"}]}]}],
                "remote": [{"type": "openstack_user"}, {"type": "openstack_user_domain"},
                           {"type": "openstack_project"}, {"type": "openstack_roles", "any_one_of": ["reader"]}]
            }])
            .to_string(),
        )
        .unwrap();
        let password = unique("pw");
        let b = |args: &[&str]| tb.openstack(Cloud::B, args);
        let started = Instant::now();
        std::fs::write(metadata_dir.file_of(&entity), fake_metadata(&entity)).unwrap();
        b(&["identity", "provider", "create", "--remote-id", &entity, "--domain", &domain_id, "--enable", &idp]);
        b(&["mapping", "create", "--schema-version", "3.0", "--rules", rules.to_str().unwrap(), &mapping]);
        b(&["federation", "protocol", "create", "--identity-provider", &idp, "--mapping", &mapping, "saml2"]);
        b(&["user", "create", "--domain", &domain_id, "--password", &password, &user]);
        b(&["role", "add", "--user", &user, "--user-domain", &domain_id, "--domain", &domain_id, "manager"]);
        b(&["endpoint", "list", "--region", tb.region(Cloud::B), "-f", "json"]);
        let token = std::process::Command::new(tb.var("OPENSTACK_CLI"))
            .args(["--os-auth-url", tb.url(Cloud::B).as_str(), "--os-identity-api-version", "3"])
            .args(["--os-username", &user, "--os-user-domain-id", &domain_id, "--os-password", &password])
            .args(["--os-domain-id", &domain_id, "token", "issue", "-f", "value", "-c", "id"])
            .env_remove("OS_CLOUD")
            .output()
            .unwrap();
        assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
        cli_up.push(ms(started.elapsed()));
        let started = Instant::now();
        b(&["user", "delete", "--domain", &domain_id, &user]);
        b(&["federation", "protocol", "delete", "--identity-provider", &idp, "saml2"]);
        b(&["identity", "provider", "delete", &idp]);
        b(&["mapping", "delete", &mapping]);
        std::fs::remove_file(metadata_dir.file_of(&entity)).unwrap();
        cli_down.push(ms(started.elapsed()));
        let _ = std::fs::remove_file(rules);
    }

    println!("publisher benchmark, {iterations} iterations, Keystone B of the testbed (median ms)");
    println!("{:<34} {:>12} {:>22}", "case", "mercador", "openstack CLI by hand");
    println!(
        "{:<34} {:>12.0} {:>22.0}",
        "subscribe (federation + admin user)",
        median(&mut ours_up),
        median(&mut cli_up)
    );
    println!("{:<34} {:>12.0} {:>22.0}", "cancel (remove it all)", median(&mut ours_down), median(&mut cli_down));
    println!(
        "peak memory: mercador (this process, VmHWM) {:.1} MiB; openstack CLI (largest run, maxrss) {:.1} MiB",
        peak_rss_mib(),
        children_peak_rss_mib()
    );

    engine.withdraw_vregion(&vregion.name).await.unwrap();
    engine.delete_vregion(&vregion.name, true).await.unwrap();
    engine.remove_partner(&partner).await.unwrap();
}

//! Subscriber benchmark: what a binding costs end to end with Mercador
//! against the reference way, an operator typing the same configuration on
//! both clouds with the `openstack` CLI, in one run on the testbed.
//!
//! Per iteration, Mercador's subscriber engine subscribes Keystone A to a
//! vregion of a real publisher service (served in this process over
//! Keystone B, reached over HTTP with the partner's application
//! credential), then cancels. That is the publisher's work on B (the
//! metadata file of A's real SAML identity, identity provider, mapping,
//! protocol, admin user and its token, the endpoint list) plus A's side:
//! service provider `mercador-<alias>`, region `<alias>`, endpoints on the
//! shared `mercador-<type>` service(s). The CLI does the same by hand: the
//! publisher benchmark's commands on B (with A's real metadata fetched by
//! `curl`), then `service provider create`, `region create`, `service
//! create` and `endpoint create` on A; and the deletes. Mercador also
//! validates, records every step, holds leases and re-reads what it
//! adopts; the CLI does none of that.
//!
//! ```sh
//! testbed/testbed.sh start
//! cargo bench -p mercador-tests --bench subscriber
//! ```
//!
//! `MERCADOR_BENCH_SCALE=0.5` runs fewer iterations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a bench binary

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mercador_core::keystone::{HttpClient, HttpConfig};
use mercador_core::model::{SubscriptionState, VRegionSpec};
use mercador_core::publisher::{NewPartner, ShibbolethMetadataDir};
use mercador_core::store::SqlStore;
use mercador_core::subscriber::{NewPublisher, SubscribeRequest, Subscriber, SubscriberConfig};
use mercador_server::PublisherServiceConfig;
use mercador_tests::publisher::{
    a_entity_turn_of, engine, free_entity_on_b, fresh_postgres_database, name, secrets_key, sqlite_url, test_catalog,
};
use mercador_tests::{Cloud, Testbed, children_peak_rss_mib, median, ms, peak_rss_mib, unique};
use serde_json::{Value, json};

/// The secrets key of [`secrets_key`] (id `test`) as the publisher
/// service's key file holds it, so that the service and the engine of
/// [`engine`] share one database.
fn secrets_key_file(dir: &Path) {
    use base64::Engine as _;
    let bytes: [u8; 32] =
        std::array::from_fn(|i| (std::process::id() as u8).wrapping_mul(31).wrapping_add(i as u8 * 7));
    std::fs::write(dir.join("secrets.key"), base64::engine::general_purpose::STANDARD.encode(bytes)).unwrap();
}

/// Starts the publisher service over Keystone B in this process (a task
/// running [`mercador_server::serve`]) on the database `database_url`;
/// returns its base URL once `/healthz` answers 200.
async fn publisher_service(database_url: &str) -> url::Url {
    let tb = Testbed::get();
    let dir = std::env::temp_dir().join(unique("mercador-bench-publisher"));
    std::fs::create_dir_all(&dir).unwrap();
    secrets_key_file(&dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let toml = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
region = {region:?}
reconcile_interval_secs = 0

[keystone]
cloud = "testbed-b"
clouds_yaml = {clouds:?}

[federation]
sp_url = {sp_url:?}
metadata_dir = {metadata_dir:?}

[database]
url = {database_url:?}

[secrets]
key_id = "test"
key_file = "secrets.key"
"#,
        region = tb.region(Cloud::B),
        clouds = tb.clouds_yaml().display().to_string(),
        sp_url = tb.var("KEYSTONE_B_ECP_URL"),
        metadata_dir = tb.var("KEYSTONE_B_SHIB_METADATA_DIR"),
    );
    let config = PublisherServiceConfig::from_toml_str(&toml, &dir).unwrap();
    tokio::spawn(async move { mercador_server::serve(config).await.expect("the publisher service") });
    let url: url::Url = format!("http://127.0.0.1:{port}/").parse().unwrap();
    let health = url.join("healthz").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let probe = health.clone();
        let answered = tokio::task::spawn_blocking(move || {
            std::process::Command::new("curl").args(["-sf", "-o", "/dev/null", probe.as_str()]).status()
        });
        if answered.await.unwrap().unwrap().success() {
            return url;
        }
        assert!(Instant::now() < deadline, "the publisher service is not healthy after 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The subscriber engine over Keystone A with its own SQLite store.
async fn subscriber() -> Subscriber {
    let tb = Testbed::get();
    let store = SqlStore::connect(&sqlite_url()).await.unwrap();
    let config = SubscriberConfig::new(
        tb.url(Cloud::A),
        tb.var("KEYSTONE_A_IDP_ENTITY_ID"),
        tb.var("KEYSTONE_A_IDP_METADATA_URL").parse().unwrap(),
    );
    Subscriber::new(
        config,
        Arc::new(store),
        Arc::new(tb.admin(Cloud::A)),
        secrets_key(),
        HttpClient::new(&HttpConfig::default()).unwrap(),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let tb = Testbed::get();
    let scale: f64 = std::env::var("MERCADOR_BENCH_SCALE").ok().and_then(|v| v.parse().ok()).unwrap_or(1.0);
    let iterations = ((5.0 * scale).round() as usize).max(2);
    let _turn = a_entity_turn_of(0).await;
    let entity = tb.var("KEYSTONE_A_IDP_ENTITY_ID").to_string();
    free_entity_on_b(&entity).await;
    test_catalog().await;

    // Publisher B: the service, and its engine on the same database for
    // the admin's part (a partner for A, a published vregion).
    let database_url = fresh_postgres_database().await;
    let service_url = publisher_service(&database_url).await;
    let publisher = engine(&database_url).await;
    let partner = name("bench");
    let onboarded =
        publisher.onboard_partner(NewPartner { name: partner.clone(), description: String::new() }).await.unwrap();
    let vregion: VRegionSpec = serde_json::from_value(json!({
        "name": name("bench-vr"),
        "region": tb.region(Cloud::B),
        "service_types": ["identity", "compute"],
        "roles": ["reader"],
        "max_subscriptions": 1,
        "partners": [partner],
    }))
    .unwrap();
    publisher.create_vregion(vregion.clone()).await.unwrap();
    let published = publisher.publish_vregion(&vregion.name).await.unwrap();
    let domain_id = published.domain_id.clone().unwrap();
    let metadata_dir = ShibbolethMetadataDir::new(tb.var("KEYSTONE_B_SHIB_METADATA_DIR"));

    // Subscriber A registers B with the partner credential.
    let sub = subscriber().await;
    let b_name = sub
        .register_publisher(NewPublisher {
            name: name("pub-b"),
            keystone_url: tb.url(Cloud::B),
            exchange_url: Some(service_url.join("v1/exchange").unwrap()),
            application_credential_id: onboarded.application_credential_id.clone(),
            application_credential_secret: onboarded.application_credential_secret.expose().to_owned().into(),
        })
        .await
        .unwrap()
        .name;

    let (mut ours_up, mut ours_down, mut cli_up, mut cli_down) = (vec![], vec![], vec![], vec![]);
    let mut cli_commands = (0, 0);
    for _ in 0..iterations {
        // ---- Mercador: subscribe, then cancel.
        let alias = name("bench-a");
        let started = Instant::now();
        let binding = sub
            .subscribe(SubscribeRequest {
                publisher: b_name.clone(),
                vregion: vregion.name.clone(),
                alias: alias.clone(),
            })
            .await
            .unwrap();
        ours_up.push(ms(started.elapsed()));
        assert_eq!(binding.state, SubscriptionState::Active, "{binding:?}");
        assert!(!binding.endpoints.is_empty(), "{binding:?}");
        let started = Instant::now();
        let cancelled = sub.cancel(&alias).await.unwrap();
        ours_down.push(ms(started.elapsed()));
        assert_eq!(cancelled.state, SubscriptionState::Cancelled, "{cancelled:?}");

        // ---- The reference: the same objects with the openstack CLI.
        let (up, down) = by_hand(&entity, &domain_id, &metadata_dir).await;
        cli_up.push(up.0);
        cli_down.push(down.0);
        cli_commands = (up.1, down.1);
    }

    println!("subscriber benchmark, {iterations} iterations, Keystones A and B of the testbed (median ms)");
    println!("{:<44} {:>12} {:>22}", "case", "mercador", "openstack CLI by hand");
    println!(
        "{:<44} {:>12.0} {:>22.0}",
        "subscribe (B: federation + admin; A: SP etc.)",
        median(&mut ours_up),
        median(&mut cli_up)
    );
    println!(
        "{:<44} {:>12.0} {:>22.0}",
        "cancel (remove it all on both)",
        median(&mut ours_down),
        median(&mut cli_down)
    );
    println!(
        "by hand: {} commands to subscribe, {} to cancel (one process and one login each)",
        cli_commands.0, cli_commands.1
    );
    println!(
        "peak memory: mercador (this process: subscriber engine + publisher service, VmHWM) {:.1} MiB; \
         openstack CLI (largest run, maxrss) {:.1} MiB",
        peak_rss_mib(),
        children_peak_rss_mib()
    );

    sub.remove_publisher(&b_name).await.unwrap();
    publisher.withdraw_vregion(&vregion.name).await.unwrap();
    publisher.delete_vregion(&vregion.name, true).await.unwrap();
    publisher.remove_partner(&partner).await.unwrap();
    free_entity_on_b(&entity).await;
}

/// One binding by hand with the `openstack` CLI: B's side as in the
/// publisher benchmark (with A's real SAML identity), then A's service
/// provider, region, service and endpoints; then all of it deleted.
/// Returns (ms, commands) to subscribe and to cancel.
async fn by_hand(entity: &str, domain_id: &str, metadata_dir: &ShibbolethMetadataDir) -> ((f64, usize), (f64, usize)) {
    let tb = Testbed::get();
    let (idp, mapping, user, sp, service) =
        (unique("cli-idp"), unique("cli-map"), unique("cli-admin"), unique("cli-sp"), unique("cli-compute"));
    let region = unique("cli-vr");
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
    let commands = std::cell::Cell::new(0);
    let run = |cloud: Cloud, args: &[&str]| {
        commands.set(commands.get() + 1);
        tb.openstack(cloud, args)
    };
    let b = |args: &[&str]| run(Cloud::B, args);
    let a = |args: &[&str]| run(Cloud::A, args);

    let started = Instant::now();
    // B: A's metadata where Shibboleth reads it, the federation, the admin.
    let metadata_file = metadata_dir.file_of(entity);
    let fetched = std::process::Command::new("curl")
        .args(["-sf", "-o"])
        .arg(&metadata_file)
        .arg(tb.var("KEYSTONE_A_IDP_METADATA_URL"))
        .status()
        .unwrap();
    assert!(fetched.success(), "curl A's metadata");
    b(&["identity", "provider", "create", "--remote-id", entity, "--domain", domain_id, "--enable", &idp]);
    b(&["mapping", "create", "--schema-version", "3.0", "--rules", rules.to_str().unwrap(), &mapping]);
    b(&["federation", "protocol", "create", "--identity-provider", &idp, "--mapping", &mapping, "saml2"]);
    b(&["user", "create", "--domain", domain_id, "--password", &password, &user]);
    b(&["role", "add", "--user", &user, "--user-domain", domain_id, "--domain", domain_id, "manager"]);
    let listed = b(&["endpoint", "list", "--region", tb.region(Cloud::B), "-f", "json"]);
    let token = std::process::Command::new(tb.var("OPENSTACK_CLI"))
        .args(["--os-auth-url", tb.url(Cloud::B).as_str(), "--os-identity-api-version", "3"])
        .args(["--os-username", &user, "--os-user-domain-id", domain_id, "--os-password", &password])
        .args(["--os-domain-id", domain_id, "token", "issue", "-f", "value", "-c", "id"])
        .env_remove("OS_CLOUD")
        .output()
        .unwrap();
    assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
    commands.set(commands.get() + 1);
    // A: the service provider, the region, the compute endpoints in it.
    let auth_url = format!(
        "{}/OS-FEDERATION/identity_providers/{idp}/protocols/saml2/auth",
        tb.url(Cloud::B).as_str().trim_end_matches('/')
    );
    let sp_url = tb.var("KEYSTONE_B_ECP_URL");
    a(&["service", "provider", "create", "--auth-url", &auth_url, "--service-provider-url", sp_url, "--enable", &sp]);
    a(&["region", "create", &region]);
    let service_id = a(&["service", "create", "--name", &service, "-f", "value", "-c", "id", "compute"]);
    let service_id = service_id.trim();
    let endpoints: Vec<Value> = serde_json::from_str(&listed).unwrap();
    let mut created = Vec::new();
    for e in endpoints.iter().filter(|e| e["Service Type"] == "compute") {
        let (interface, url) = (e["Interface"].as_str().unwrap(), e["URL"].as_str().unwrap());
        let id = a(&["endpoint", "create", "--region", &region, "-f", "value", "-c", "id", service_id, interface, url]);
        created.push(id.trim().to_owned());
    }
    assert!(!created.is_empty(), "B's region lists a compute endpoint: {listed}");
    let up = (ms(started.elapsed()), commands.replace(0));

    let started = Instant::now();
    for id in &created {
        a(&["endpoint", "delete", id]);
    }
    a(&["service", "delete", service_id]);
    a(&["region", "delete", &region]);
    a(&["service", "provider", "delete", &sp]);
    b(&["user", "delete", "--domain", domain_id, &user]);
    b(&["federation", "protocol", "delete", "--identity-provider", &idp, "saml2"]);
    b(&["identity", "provider", "delete", &idp]);
    b(&["mapping", "delete", &mapping]);
    std::fs::remove_file(metadata_file).unwrap();
    let down = (ms(started.elapsed()), commands.get());
    let _ = std::fs::remove_file(rules);
    (up, down)
}

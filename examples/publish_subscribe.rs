//! The publisher's half of Mercador's story on the testbed, step by step:
//! B's admin onboards partner A and publishes a vregion; A subscribes with
//! its real SAML identity; A's side is configured by hand (a service
//! provider on Keystone A — the subscriber service does it from the next
//! release); alice of A logs into the vregion through K2K; A cancels and K2K
//! stops. Every step prints what happened and how long it took.
//!
//! `scripts/demo` runs it with the testbed's settings:
//!
//! ```sh
//! OS_CLIENT_CONFIG_FILE=testbed/state/clouds.yaml cargo run -p mercador-examples --example publish_subscribe -- \
//!     --database testbed/state/demo/publisher.db --sp-url http://127.0.0.1:5002/Shibboleth.sso/SAML2/ECP \
//!     --metadata-dir testbed/state/b/shib/metadata --region RegionTwo \
//!     --entity-id http://127.0.0.1:5001/v3/OS-FEDERATION/saml2/idp \
//!     --metadata-url http://127.0.0.1:5001/v3/OS-FEDERATION/saml2/metadata
//! ```

#![allow(clippy::print_stdout)] // an example prints

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use mercador_core::k2k::Keystone2Keystone;
use mercador_core::keystone::types::NewServiceProvider;
use mercador_core::keystone::{
    CloudConfig, HttpClient, HttpConfig, IdentityApi, KeystoneClient, Scope, Session, ensure,
};
use mercador_core::model::{Name, SubscriptionState, VRegionSpec};
use mercador_core::publisher::{NewPartner, Publisher, PublisherConfig, ShibbolethMetadataDir, SubscribeRequest};
use mercador_core::secrets::SecretsKey;
use mercador_core::store::SqlStore;
use secrecy::SecretString;

const PARTNER: &str = "cloud-a";
const VREGION: &str = "lisbon";
const SP_ON_A: &str = "mercador-demo-lisbon";

struct Step(Instant);

impl Step {
    fn start(title: &str) -> Self {
        println!("\n==> {title}");
        Self(Instant::now())
    }
    fn done(self, what: impl std::fmt::Display) {
        println!("    {what}  [{:.0} ms]", self.0.elapsed().as_secs_f64() * 1000.0);
    }
}

fn args() -> anyhow::Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(key) = it.next() {
        let key = key.strip_prefix("--").with_context(|| format!("unexpected argument {key}"))?.to_string();
        let value = it.next().with_context(|| format!("--{key} needs a value"))?;
        map.insert(key, value);
    }
    for key in ["database", "sp-url", "metadata-dir", "region", "entity-id", "metadata-url"] {
        anyhow::ensure!(map.contains_key(key), "missing --{key}; see the example's documentation");
    }
    Ok(map)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let b_config = CloudConfig::load(Some("testbed-b"))?;
    let a_admin = KeystoneClient::new(Arc::new(CloudConfig::load(Some("testbed-a"))?.session()?));
    let alice = Arc::new(CloudConfig::load(Some("testbed-a-alice"))?.session()?);
    let b_admin = Arc::new(KeystoneClient::new(Arc::new(b_config.session()?)));

    let database = std::path::PathBuf::from(&args["database"]);
    if let Some(dir) = database.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // The demo's secrets key: random per run (what an earlier run stored is
    // cleaned up below without opening its secrets).
    let key = SecretString::from(base64_key()?);
    let publisher = Publisher::new(
        PublisherConfig::new(b_config.auth_url.clone(), args["sp-url"].parse()?),
        Arc::new(SqlStore::connect(&format!("sqlite://{}", database.display())).await?),
        b_admin.clone(),
        Arc::new(ShibbolethMetadataDir::new(&args["metadata-dir"])),
        SecretsKey::from_base64("demo", &key)?,
        HttpClient::new(&HttpConfig::default())?,
    );
    let partner = Name::parse("partner", PARTNER)?;
    let vregion = Name::parse("vregion", VREGION)?;

    let step = Step::start("clean up what an earlier run of the demo left");
    let mut removed = Vec::new();
    for s in publisher.list_subscriptions(None).await? {
        if !s.state.is_final() {
            publisher.revoke(&s.id, false).await?;
            removed.push(format!("subscription {}", s.id));
        }
    }
    if publisher.get_vregion(&vregion).await.is_ok() {
        let _ = publisher.withdraw_vregion(&vregion).await;
        publisher.delete_vregion(&vregion, true).await?;
        removed.push(format!("vregion {vregion}"));
    }
    if publisher.get_partner(&partner).await.is_ok() {
        publisher.remove_partner(&partner).await?;
        removed.push(format!("partner {partner}"));
    }
    // The integration tests' K2K fixture claims A's entity id on B too
    // (Keystone allows one identity provider per remote id).
    for idp in b_admin.list_identity_providers().await? {
        if idp.id.starts_with("mercador-tests") && idp.remote_ids.contains(&args["entity-id"]) {
            b_admin.delete_identity_provider(&idp.id).await?;
            removed.push(format!("identity provider {} (tests' fixture) on B", idp.id));
        }
    }
    if a_admin.get_service_provider(SP_ON_A).await.is_ok() {
        a_admin.delete_service_provider(SP_ON_A).await?;
        removed.push(format!("service provider {SP_ON_A} on A"));
    }
    step.done(if removed.is_empty() { "nothing to clean".to_string() } else { removed.join(", ") });

    let step = Step::start(&format!("B's admin onboards partner {partner}"));
    let onboarded =
        publisher.onboard_partner(NewPartner { name: partner.clone(), description: "Cloud A".into() }).await?;
    step.done(format!(
        "project {} in domain mercador-partners; application credential {} (its secret is handed to A out of band, once)",
        onboarded.partner.project_id.as_deref().unwrap_or("?"),
        onboarded.application_credential_id
    ));

    let step = Step::start(&format!("B's admin defines and publishes vregion {vregion}"));
    let spec: VRegionSpec = serde_json::from_value(serde_json::json!({
        "name": vregion,
        "description": "Lisbon, Tier III",
        "region": args["region"],
        "service_types": ["identity"],
        "roles": ["reader"],
        "metadata": {"country": "PT", "sla": "99.9"},
        "max_subscriptions": 1,
        "partners": [partner],
    }))?;
    publisher.create_vregion(spec).await?;
    let published = publisher.publish_vregion(&vregion).await?;
    step.done(format!(
        "{} in region {}, domain {} ({}), roles {:?}",
        published.state,
        published.spec.region,
        published.spec.domain_name(),
        published.domain_id.as_deref().unwrap_or("?"),
        published.spec.roles
    ));

    let step = Step::start(&format!("partner {partner} lists the vregions offered to it"));
    let offered = publisher.offered_vregions(&partner).await?;
    step.done(
        offered.iter().map(|v| format!("{} ({} place left)", v.name, v.places_left)).collect::<Vec<_>>().join(", "),
    );

    let step = Step::start("A subscribes with its Keystone's SAML identity (metadata fetched from A)");
    let access = publisher
        .subscribe(
            &partner,
            SubscribeRequest {
                vregion: vregion.clone(),
                entity_id: args["entity-id"].clone(),
                metadata: None,
                metadata_url: Some(args["metadata-url"].parse()?),
                keystone_url: None,
            },
        )
        .await?;
    step.done(format!(
        "{}: Shibboleth trusts A, identity provider {}, mapping, protocol {}, admin user {} (password received: {} \
         characters); services {:?}",
        access.subscription.state,
        access.k2k.identity_provider,
        access.k2k.protocol,
        access.admin.user_name,
        access.admin.password.as_ref().map(|p| p.expose().len()).unwrap_or(0),
        access.services.iter().map(|s| s.service_type.as_str()).collect::<Vec<_>>()
    ));

    let step = Step::start("A's side (by hand until the subscriber service): a service provider on Keystone A");
    ensure::ensure_service_provider(
        &a_admin,
        SP_ON_A,
        &NewServiceProvider {
            auth_url: access.k2k.auth_url.to_string(),
            sp_url: access.k2k.sp_url.to_string(),
            enabled: true,
            description: Some(format!("Mercador vregion {vregion}")),
            relay_state_prefix: None,
        },
    )
    .await?;
    step.done(format!("{SP_ON_A}: auth_url {}, sp_url {}", access.k2k.auth_url, access.k2k.sp_url));

    let step = Step::start("alice of A logs into the vregion through K2K and lists her projects there");
    let k2k = Arc::new(Keystone2Keystone::new(alice.clone(), SP_ON_A).await?);
    let projects = k2k.projects().await?;
    let project = projects.first().context("alice reaches no project in the vregion")?;
    let on_b = Arc::new(Session::new(k2k, Scope::project_id(project.id.clone()))?);
    let token = on_b.token().await?;
    step.done(format!(
        "projects {:?} in domain {}; token roles {:?} (alice is member at A; the vregion grants reader)",
        projects.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        project.domain_id,
        token.role_names()
    ));

    let step = Step::start("A cancels the subscription");
    let cancelled = publisher.cancel(&partner, &access.subscription.id).await?;
    anyhow::ensure!(cancelled.state == SubscriptionState::Cancelled, "cancel ended {}", cancelled.state);
    let after = Keystone2Keystone::new(alice, SP_ON_A).await?.unscoped_token().await;
    step.done(format!(
        "{}; identity provider, mapping, protocol, admin user and trust removed; alice's project disabled, \
         not deleted; K2K now fails: {}",
        cancelled.state,
        after.err().map(|e| e.to_string()).unwrap_or_else(|| "NO (unexpected)".into())
    ));
    a_admin.delete_service_provider(SP_ON_A).await?;
    Ok(())
}

/// A random 32-byte key, base64.
fn base64_key() -> anyhow::Result<String> {
    use base64::Engine as _;
    use std::io::Read as _;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

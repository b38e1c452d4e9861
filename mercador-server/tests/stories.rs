//! The mission's user stories end to end: a real publisher service over
//! Keystone B and a real subscriber service over Keystone A, driven over
//! HTTP as their admins would (B's admin on the publisher's admin API, A's
//! admin on the subscriber's API); every effect on Keystone A is confirmed
//! with the real `openstack` CLI, as A's admin (`testbed-a`) and as alice,
//! a user of A, going through K2K (`testbed-a-alice --os-service-provider`).
//!
//! - story 3: a vregion offered to another partner only is neither listed
//!   nor bindable, and the bound one brings exactly its own service types;
//! - story 4: one subscription replaced by another (subscribe the new one,
//!   then cancel the old one);
//! - a revocation with `purge` at the publisher, cleaned up on A by the
//!   scheduled refresh alone;
//! - both services killed or stopped mid-way and restarted on the same
//!   databases: nothing lost, an interrupted subscribe finished.
//!
//! Every test binds with Keystone A's real SAML entity id, so each holds
//! [`a_entity_turn`] for its whole run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use mercador_core::keystone::IdentityApi;
use mercador_core::keystone::types::Filter;
use mercador_core::model::Name;
use mercador_tests::publisher::{
    EntityTurn, a_entity_turn, federation_objects_of, free_entity_on_b, glance_url, name, test_catalog,
};
use mercador_tests::{Cloud, Testbed};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use support::{
    ApiClient, PublisherOptions, PublisherProcess, SubscriberOptions, SubscriberProcess, admin_token, keystone_b,
};

/// The two services and their admins at the start of a story: partner A
/// onboarded at B, and B registered at A with that partner's credential.
struct Stage {
    /// Held for the whole story (the tests share A's entity id).
    turn: EntityTurn,
    /// When the turn came (the story's own time starts there).
    turn_at: Instant,
    publisher: PublisherProcess,
    /// B's admin on the publisher's admin API.
    b_admin: ApiClient,
    subscriber: SubscriberProcess,
    /// A's admin on the subscriber's API.
    a_admin: ApiClient,
    /// A's admin token (never in a log).
    a_token: SecretString,
    /// The publisher's name at A.
    b_name: Name,
    /// A's partner name at B.
    partner: Name,
    /// The partner credential's secret (never in a log).
    secret: String,
}

impl Stage {
    /// Takes A's entity turn, frees the entity id on B, starts both
    /// services, onboards partner A at B and registers B at A.
    async fn set_up(prefix: &str, options: SubscriberOptions) -> Self {
        let waiting = Instant::now();
        let turn = a_entity_turn().await;
        let turn_at = Instant::now();
        eprintln!("{prefix}: waited {:?} for the turn on A's entity id", turn_at - waiting);
        let tb = Testbed::get();
        free_entity_on_b(turn.entity_id()).await;
        test_catalog().await;

        let publisher = PublisherProcess::start(PublisherOptions::default()).await;
        let b_admin = ApiClient::new(publisher.url()).with_token(admin_token().await);
        let partner = name(&format!("{prefix}-widget"));
        let onboarded = b_admin.post("/v1/admin/partners", &json!({"name": partner})).await.expect(201);
        let secret = onboarded["application_credential_secret"].as_str().unwrap().to_owned();

        let options = SubscriberOptions { identity: Some(turn.identity().clone()), ..options };
        let subscriber = SubscriberProcess::start_with(options).await;
        let a_token = tb.admin_session(Cloud::A).token().await.unwrap().secret().clone();
        let a_admin = ApiClient::new(subscriber.url()).with_token(a_token.clone());
        let b_name = name(&format!("{prefix}-cirrus"));
        a_admin
            .post(
                "/v1/publishers",
                &json!({
                    "name": b_name,
                    "keystone_url": tb.url(Cloud::B),
                    // The catalog's mercador-exchange is whichever publisher process started last.
                    "exchange_url": publisher.url().join("v1/exchange").unwrap(),
                    "application_credential_id": onboarded["application_credential_id"],
                    "application_credential_secret": secret,
                }),
            )
            .await
            .expect(201);
        Self { turn, turn_at, publisher, b_admin, subscriber, a_admin, a_token, b_name, partner, secret }
    }

    /// B's admin defines and publishes a vregion in B's region, exposing
    /// `service_types`, offered to `partners` (role `reader`, one place).
    async fn publish(&self, prefix: &str, service_types: &[&str], partners: &[&Name]) -> Name {
        let vregion = name(prefix);
        self.b_admin
            .post(
                "/v1/admin/vregions",
                &json!({
                    "name": vregion,
                    "region": Testbed::get().region(Cloud::B),
                    "service_types": service_types,
                    "roles": ["reader"],
                    "max_subscriptions": 1,
                    "partners": partners,
                }),
            )
            .await
            .expect(201);
        self.b_admin.post_empty(&format!("/v1/admin/vregions/{vregion}/publish")).await.expect(200);
        vregion
    }

    /// A's admin binds `vregion` under `alias`; the binding must be active.
    async fn bind(&self, vregion: &Name, alias: &Name) -> Value {
        let bound = self
            .a_admin
            .post("/v1/bindings", &json!({"publisher": self.b_name, "vregion": vregion, "alias": alias}))
            .await
            .expect(201);
        assert_eq!(bound["state"], "active", "{bound}");
        bound
    }

    /// The name of a vregion's Keystone domain at B.
    async fn domain_name(&self, vregion: &Name) -> String {
        let view = self.b_admin.get(&format!("/v1/admin/vregions/{vregion}")).await.expect(200);
        let id = view["domain_id"].as_str().expect("a published vregion has a domain");
        keystone_b().get_domain(id).await.unwrap().name
    }

    /// The id of a vregion's Keystone domain at B.
    async fn domain_id(&self, vregion: &Name) -> String {
        let view = self.b_admin.get(&format!("/v1/admin/vregions/{vregion}")).await.expect(200);
        view["domain_id"].as_str().unwrap().to_owned()
    }

    /// A subscription at B, as B's admin sees it.
    async fn subscription_at_b(&self, id: &str) -> Value {
        self.b_admin.get(&format!("/v1/admin/subscriptions/{id}")).await.expect(200)
    }

    /// Removes the publisher at A, then the vregions and partners at B;
    /// checks that no secret reached either service's log.
    async fn tear_down(self, vregions: &[&Name], other_partners: &[&Name]) {
        let answer =
            self.a_admin.send(self.a_admin.builder(Method::DELETE, &format!("/v1/publishers/{}", self.b_name))).await;
        assert_eq!(answer.status, 204, "{answer}");
        for vregion in vregions {
            self.b_admin.post_empty(&format!("/v1/admin/vregions/{vregion}/withdraw")).await.expect(200);
            self.b_admin.delete(&format!("/v1/admin/vregions/{vregion}?purge=true")).await.expect(204);
        }
        for partner in other_partners.iter().copied().chain([&self.partner]) {
            self.b_admin.delete(&format!("/v1/admin/partners/{partner}")).await.expect(204);
        }
        for (service, log) in [("subscriber", self.subscriber.log()), ("publisher", self.publisher.log())] {
            assert!(!log.contains(self.a_token.expose_secret()), "A's token in the {service} log");
            assert!(!log.contains(&self.secret), "the partner secret in the {service} log");
        }
        eprintln!("{}: the story took {:?} once its turn came", self.partner, self.turn_at.elapsed());
    }
}

// ---- Keystone A through the openstack CLI

/// Starts `openstack --os-cloud <cloud> <args>` (it runs while the caller
/// starts others: each run costs seconds of Python start-up).
fn spawn_cli(cloud: &str, args: &[&str]) -> std::process::Child {
    let tb = Testbed::get();
    Command::new(tb.var("OPENSTACK_CLI"))
        .args(["--os-cloud", cloud])
        .args(args)
        .env("OS_CLIENT_CONFIG_FILE", tb.clouds_yaml())
        .env_remove("OS_CLOUD")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the openstack CLI")
}

/// The output of a [`spawn_cli`] run: stdout, or stderr when it failed.
fn cli_output(child: std::process::Child) -> Result<String, String> {
    let output = child.wait_with_output().expect("wait for the openstack CLI");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Parses the JSON of a [`spawn_cli`] run as A's admin; panics when it failed.
fn cli_json(child: std::process::Child, what: &str) -> Vec<Value> {
    let out = cli_output(child).unwrap_or_else(|e| panic!("openstack {what} failed: {e}"));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("openstack {what}: not JSON ({e}): {out}"))
}

/// The JSON of an `openstack endpoint list` run (`args`) as A's admin.
/// The CLI lists the endpoints, then looks up each one's service: a service
/// another story removes in between (its last binding cancelled) fails the
/// run with "No Service found"; it is asked again then.
fn endpoints_json(child: std::process::Child, args: &[&str]) -> Vec<Value> {
    let mut out = cli_output(child);
    for _ in 0..3 {
        match &out {
            Err(e) if e.contains("No Service found") => out = cli_output(spawn_cli("testbed-a", args)),
            _ => break,
        }
    }
    let out = out.unwrap_or_else(|e| panic!("openstack {} failed: {e}", args.join(" ")));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("openstack {}: not JSON ({e}): {out}", args.join(" ")))
}

/// What A's admin sees with the real CLI: `openstack region list`,
/// `endpoint list` and `service provider list` (run side by side).
struct ViewOfA {
    regions: BTreeSet<String>,
    endpoints: Vec<Value>,
    service_providers: Vec<Value>,
}

impl ViewOfA {
    fn now() -> Self {
        let regions = spawn_cli("testbed-a", &["region", "list", "-f", "json"]);
        let endpoints = spawn_cli("testbed-a", &["endpoint", "list", "-f", "json"]);
        let sps = spawn_cli("testbed-a", &["service", "provider", "list", "-f", "json"]);
        Self {
            regions: cli_json(regions, "region list")
                .iter()
                .map(|r| r["Region"].as_str().unwrap().to_owned())
                .collect(),
            endpoints: endpoints_json(endpoints, &["endpoint", "list", "-f", "json"]),
            service_providers: cli_json(sps, "service provider list"),
        }
    }

    /// Whether `openstack region list` shows `alias`.
    fn has_region(&self, alias: &Name) -> bool {
        self.regions.contains(alias.as_str())
    }

    /// The endpoints in region `alias`.
    fn endpoints_in(&self, alias: &Name) -> Vec<&Value> {
        self.endpoints.iter().filter(|e| e["Region"] == alias.as_str()).collect()
    }

    /// Whether A has the service provider `mercador-<alias>`.
    fn has_sp(&self, alias: &Name) -> bool {
        self.service_providers.iter().any(|sp| sp["ID"] == format!("mercador-{alias}").as_str())
    }

    /// The service providers the subscriber created for `publisher`'s
    /// vregions (their description ends with `of <publisher>`).
    fn sps_of(&self, publisher: &Name) -> BTreeSet<String> {
        let suffix = format!(" of {publisher}");
        self.service_providers
            .iter()
            .filter(|sp| sp["Description"].as_str().is_some_and(|d| d.ends_with(&suffix)))
            .map(|sp| sp["ID"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Nothing of binding `alias` is left: no region, endpoint or service provider.
    fn clean_of(&self, alias: &Name) -> bool {
        !self.has_region(alias) && self.endpoints_in(alias).is_empty() && !self.has_sp(alias)
    }
}

/// alice of A logs in to B through K2K with the real CLI
/// (`openstack --os-cloud testbed-a-alice --os-service-provider <sp>
/// --os-remote-project-name <her project> --os-remote-project-domain-name
/// <domain> token issue`); returns the project id of the token on B, or
/// the CLI's error. The token itself is never printed.
fn alice_through(stage: &Stage, service_provider: &str, domain_name: &str) -> Result<String, String> {
    cli_output(spawn_alice(stage, service_provider, domain_name)).map(|out| out.trim().to_owned())
}

/// Starts [`alice_through`]'s CLI run.
fn spawn_alice(stage: &Stage, service_provider: &str, domain_name: &str) -> std::process::Child {
    let (_, _, project) = Testbed::get().demo_user();
    let args = mercador_tests::k2k_token_project_id_args(service_provider, &project, domain_name);
    spawn_cli("testbed-a-alice", &[&["--os-auth-url", stage.turn.keystone_url().as_str()][..], &args].concat())
}

/// alice's K2K token on B through `service_provider` into `domain_name`
/// with the real CLI (`... token issue -f json -c project_id -c user_id`):
/// its project id and user id, or the CLI's error.
fn alice_token_through(stage: &Stage, service_provider: &str, domain_name: &str) -> Result<(String, String), String> {
    let (_, _, project) = Testbed::get().demo_user();
    let child = spawn_cli(
        "testbed-a-alice",
        &[
            "--os-auth-url",
            stage.turn.keystone_url().as_str(),
            "--os-service-provider",
            service_provider,
            "--os-remote-project-name",
            &project,
            "--os-remote-project-domain-name",
            domain_name,
            "token",
            "issue",
            "-f",
            "json",
            "-c",
            "project_id",
            "-c",
            "user_id",
        ],
    );
    let out = cli_output(child)?;
    let token: Value = serde_json::from_str(&out).map_err(|e| format!("token issue: not JSON ({e}): {out}"))?;
    let field = |name: &str| token[name].as_str().map(str::to_owned).ok_or_else(|| format!("no {name}: {out}"));
    Ok((field("project_id")?, field("user_id")?))
}

/// alice's K2K through `service_provider` must land in the vregion domain
/// `domain_id` (her project) as a user of the partner's users' domain
/// `mercador-k2k-<partner>` (never a vregion domain, which B may retire).
async fn alice_reaches_as_partner_user(stage: &Stage, service_provider: &str, domain_name: &str, domain_id: &str) {
    let partner = &stage.partner;
    let (project_id, user_id) = alice_token_through(stage, service_provider, domain_name)
        .unwrap_or_else(|e| panic!("alice's K2K through {service_provider} into {domain_name} failed: {e}"));
    let b = keystone_b();
    assert_eq!(b.get_project(&project_id).await.unwrap().domain_id, domain_id, "alice landed in the vregion");
    let user_domain = b.get_domain(&b.get_user(&user_id).await.unwrap().domain_id).await.unwrap();
    assert_eq!(user_domain.name, format!("mercador-k2k-{partner}"), "alice's user domain on B");
    assert!(user_domain.enabled, "{user_domain:?}");
}

/// alice's K2K into `domain_name` through `service_provider` must work and
/// land in a project of domain `domain_id` on B; returns that project's id.
async fn alice_reaches(stage: &Stage, service_provider: &str, domain_name: &str, domain_id: &str) -> String {
    let project_id = alice_through(stage, service_provider, domain_name)
        .unwrap_or_else(|e| panic!("alice's K2K through {service_provider} into {domain_name} failed: {e}"));
    let project = keystone_b().get_project(&project_id).await.unwrap();
    assert_eq!(project.domain_id, domain_id, "alice landed in the vregion's domain");
    project_id
}

/// Story 3: Cirrus (B) offers the vregion with an extra service only to
/// Acme (another partner); Widget (A) neither sees nor binds nor reaches it,
/// and the vregion it binds shows exactly its own service types on A.
#[tokio::test]
async fn story3_a_vregion_offered_to_another_partner_stays_hidden() {
    let stage = Stage::set_up("s3", SubscriberOptions::default()).await;
    let acme = name("s3-acme");
    stage.b_admin.post("/v1/admin/partners", &json!({"name": acme})).await.expect(201);
    // Keystone B's catalog in its region has identity, compute (test_catalog)
    // and image (the testbed's real Glance).
    let plain = stage.publish("s3-plain", &["identity", "compute"], &[&stage.partner, &acme]).await;
    let extra = stage.publish("s3-image", &["identity", "compute", "image"], &[&acme]).await;

    // Discovery at A lists the plain vregion only.
    let found = stage.a_admin.get("/v1/discovery").await.expect(200);
    assert_eq!(found["errors"], json!([]), "{found}");
    let offers: Vec<&Value> =
        found["offers"].as_array().unwrap().iter().filter(|o| o["publisher"] == stage.b_name.as_str()).collect();
    assert_eq!(offers.iter().map(|o| o["name"].as_str().unwrap()).collect::<Vec<_>>(), [plain.as_str()], "{found}");
    let types: BTreeSet<&str> =
        offers[0]["service_types"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(types, BTreeSet::from(["identity", "compute"]));
    assert!(!found.to_string().contains(extra.as_str()), "the hidden vregion is never named: {found}");

    // Binding the hidden one by its name: not found, with a message saying
    // who refused what; the binding is recorded as failed, B and A unchanged.
    let hidden_alias = name("s3-hidden");
    let refused = stage
        .a_admin
        .post("/v1/bindings", &json!({"publisher": stage.b_name, "vregion": extra, "alias": hidden_alias}))
        .await
        .expect(404);
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains(stage.b_name.as_str()) && message.contains("404"), "{refused}");
    let failed = stage.a_admin.get(&format!("/v1/bindings/{hidden_alias}")).await.expect(200);
    assert_eq!(failed["state"], "failed", "{failed}");
    assert!(failed["error"].as_str().is_some_and(|e| e.contains("404")), "{failed}");
    assert_eq!(failed["remote_subscription_id"], Value::Null, "{failed}");
    let at_b = stage.b_admin.get("/v1/admin/subscriptions").await.expect(200);
    assert!(
        !at_b.as_array().unwrap().iter().any(|s| s["vregion"] == extra.as_str()),
        "B holds no subscription to the hidden vregion: {at_b}"
    );

    // Binding the plain one: its region on A has exactly its service types
    // (identity stays out of A's catalog), nothing of the image service.
    let alias = name("s3-region");
    stage.bind(&plain, &alias).await;
    let by_region = ["endpoint", "list", "--region", alias.as_str(), "-f", "json"];
    let types = spawn_cli("testbed-a", &by_region);
    let a = ViewOfA::now();
    let types: BTreeSet<String> =
        endpoints_json(types, &by_region).iter().map(|e| e["Service Type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(types, BTreeSet::from(["compute".to_owned()]), "openstack endpoint list --region {alias}");
    assert!(a.has_region(&alias), "openstack region list shows {alias}");
    assert!(a.clean_of(&hidden_alias), "nothing on A for the refused binding");
    assert!(
        !a.endpoints.iter().any(|e| e["URL"].as_str().is_some_and(|u| u.starts_with(&glance_url()))),
        "B's image endpoint reached A's catalog: {:?}",
        a.endpoints
    );
    assert_eq!(a.sps_of(&stage.b_name), BTreeSet::from([format!("mercador-{alias}")]));

    // alice reaches the plain vregion through K2K, never the hidden one.
    let sp = format!("mercador-{alias}");
    let denied = spawn_alice(&stage, &sp, &stage.domain_name(&extra).await);
    alice_reaches(&stage, &sp, &stage.domain_name(&plain).await, &stage.domain_id(&plain).await).await;
    let denied = cli_output(denied);
    assert!(denied.is_err(), "alice reached the hidden vregion's domain: project {denied:?}");

    let cancelled = stage.a_admin.delete(&format!("/v1/bindings/{alias}")).await.expect(200);
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    assert!(ViewOfA::now().clean_of(&alias), "cancel left something of {alias} on A");
    stage.tear_down(&[&plain, &extra], &[&acme]).await;
}

/// Story 4: Widget (A) replaces its subscription to V1 (alias X) by one to
/// V2 (alias Y): subscribe Y first, then cancel X. A shows Y only, alice's
/// K2K works through Y and no longer through X, B keeps nothing of V1's
/// subscription, and the shared catalog service still serves Y. Then B
/// retires V1 (withdraw, delete: its domain disabled; then that domain
/// deleted, as `purge` does): alice's K2K through Y goes on working, her
/// user living in the partner's own users' domain on B.
#[tokio::test]
async fn story4_one_subscription_replaced_by_another() {
    let stage = Stage::set_up("s4", SubscriberOptions::default()).await;
    let v1 = stage.publish("s4-v1", &["identity", "compute"], &[&stage.partner]).await;
    let v2 = stage.publish("s4-v2", &["identity", "compute"], &[&stage.partner]).await;
    let (x, y) = (name("s4-x"), name("s4-y"));
    let (sp_x, sp_y) = (format!("mercador-{x}"), format!("mercador-{y}"));
    let (v1_domain, v2_domain) = (stage.domain_id(&v1).await, stage.domain_id(&v2).await);
    let (v1_domain_name, v2_domain_name) = (stage.domain_name(&v1).await, stage.domain_name(&v2).await);

    // Bound to V1 under X; alice works there.
    let bound_x = stage.bind(&v1, &x).await;
    let remote_x = bound_x["remote_subscription_id"].as_str().unwrap().to_owned();
    alice_reaches(&stage, &sp_x, &v1_domain_name, &v1_domain).await;

    // Subscribe V2 under Y, then cancel X.
    let bound_y = stage.bind(&v2, &y).await;
    let remote_y = bound_y["remote_subscription_id"].as_str().unwrap().to_owned();
    let cancelled = stage.a_admin.delete(&format!("/v1/bindings/{x}")).await.expect(200);
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");

    // alice: through Y into V2; through X nothing any more (run meanwhile).
    let through_x = spawn_alice(&stage, &sp_x, &v1_domain_name);
    let through_y = spawn_alice(&stage, &sp_y, &v2_domain_name);

    // A: region Y and not X, only Y's service provider, Y's endpoint still
    // on the shared mercador-compute service.
    let a = ViewOfA::now();
    assert!(a.has_region(&y) && !a.has_region(&x), "{:?}", a.regions);
    assert_eq!(a.sps_of(&stage.b_name), BTreeSet::from([sp_y.clone()]));
    assert!(a.clean_of(&x), "nothing of X left on A");
    let y_endpoints = a.endpoints_in(&y);
    assert!(!y_endpoints.is_empty(), "Y's endpoints on A");
    assert!(
        y_endpoints.iter().all(|e| e["Service Name"] == "mercador-compute" && e["Service Type"] == "compute"),
        "{y_endpoints:?}"
    );
    let bindings = stage.a_admin.get("/v1/bindings").await.expect(200);
    let state_of = |alias: &Name| {
        bindings.as_array().unwrap().iter().find(|b| b["alias"] == alias.as_str()).map(|b| b["state"].clone())
    };
    assert_eq!((state_of(&x), state_of(&y)), (Some(json!("cancelled")), Some(json!("active"))), "{bindings}");

    let through_y = cli_output(through_y).map(|p| p.trim().to_owned());
    let project = through_y.unwrap_or_else(|e| panic!("alice's K2K through {sp_y} failed: {e}"));
    assert_eq!(keystone_b().get_project(&project).await.unwrap().domain_id, v2_domain, "alice lands in V2");
    let through_x = cli_output(through_x);
    assert!(through_x.is_err(), "alice still reaches V1 through {sp_x}: project {through_x:?}");

    // B: V1's subscription cancelled, its admin user gone; V2's untouched.
    assert_eq!(stage.subscription_at_b(&remote_x).await["state"], "cancelled");
    assert_eq!(stage.subscription_at_b(&remote_y).await["state"], "active");
    let admin_users = |domain: String| {
        let user = format!("mercador-admin-{}", stage.partner);
        async move { keystone_b().list_users(&Filter::new().name(user).domain_id(domain)).await.unwrap().len() }
    };
    assert_eq!(admin_users(v1_domain.clone()).await, 0, "V1's admin user is gone");
    assert_eq!(admin_users(v2_domain.clone()).await, 1, "V2's admin user stays");
    let v1_view = stage.b_admin.get(&format!("/v1/admin/vregions/{v1}")).await.expect(200);
    assert_eq!(v1_view["places_taken"], 0, "{v1_view}");

    // B retires V1: withdrawn, then deleted (its domain disabled); alice
    // still reaches V2 through Y, as a user of the partner's domain.
    stage.b_admin.post_empty(&format!("/v1/admin/vregions/{v1}/withdraw")).await.expect(200);
    stage.b_admin.delete(&format!("/v1/admin/vregions/{v1}")).await.expect(204);
    assert!(!keystone_b().get_domain(&v1_domain).await.unwrap().enabled, "V1's domain is disabled");
    alice_reaches_as_partner_user(&stage, &sp_y, &v2_domain_name, &v2_domain).await;
    // V1's domain deleted too (what `purge` does; the vregion is gone, so by
    // hand): alice is not affected either.
    keystone_b().delete_domain(&v1_domain).await.unwrap();
    alice_reaches_as_partner_user(&stage, &sp_y, &v2_domain_name, &v2_domain).await;
    let refreshed = stage.a_admin.post_empty(&format!("/v1/bindings/{y}/refresh")).await.expect(200);
    assert_eq!(refreshed["repaired"], json!([]), "nothing to repair at B or A: {refreshed}");

    let cancelled = stage.a_admin.delete(&format!("/v1/bindings/{y}")).await.expect(200);
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    // Nothing of the federation is left, the partner's users' domain included.
    assert_eq!(federation_objects_of(&stage.partner, &v2_domain).await, Vec::<String>::new());
    stage.tear_down(&[&v2], &[]).await;
}

/// Seconds between two scheduled refreshes in the revocation story.
const REFRESH_SECS: u64 = 3;

/// B's admin revokes A's subscription with `purge` (the projects A's users
/// had in the vregion are deleted): within a few refresh intervals, and
/// with no call from A's admin, A's region, endpoints and service provider
/// are gone and the binding says it was revoked, and why.
#[tokio::test]
async fn revoked_and_purged_by_the_publisher_a_ends_clean_by_itself() {
    let options = SubscriberOptions { refresh_interval_secs: REFRESH_SECS, ..SubscriberOptions::default() };
    let stage = Stage::set_up("rv", options).await;
    let vregion = stage.publish("rv-vr", &["identity", "compute"], &[&stage.partner]).await;
    let alias = name("rv-alias");
    let bound = stage.bind(&vregion, &alias).await;
    let remote = bound["remote_subscription_id"].as_str().unwrap().to_owned();
    let domain_id = stage.domain_id(&vregion).await;
    let domain_name = stage.domain_name(&vregion).await;
    // alice works in the vregion: her project there is created at her first login.
    let project_id = alice_reaches(&stage, &format!("mercador-{alias}"), &domain_name, &domain_id).await;

    let revoked =
        stage.b_admin.post(&format!("/v1/admin/subscriptions/{remote}/revoke"), &json!({"purge": true})).await;
    assert_eq!(revoked.expect(200)["state"], "revoked", "{revoked}");
    let revoked_at = Instant::now();
    // B: the purge deleted alice's project there, and the federation.
    assert!(keystone_b().get_project(&project_id).await.is_err_and(|e| e.is_not_found()), "the project is purged");
    assert_eq!(federation_objects_of(&stage.partner, &domain_id).await, Vec::<String>::new());

    // A: the scheduled refresh alone cleans up (A's admin only reads from
    // here on). Polled through Keystone A's API, then seen with the CLI.
    let keystone_a = Testbed::get().admin(Cloud::A);
    let limit = Duration::from_secs(REFRESH_SECS * 4 + 10);
    while keystone_a.get_service_provider(&format!("mercador-{alias}")).await.is_ok() {
        assert!(
            revoked_at.elapsed() < limit,
            "A not cleaned up within {limit:?}; log:\n{}",
            stage.subscriber.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("A cleaned up {:?} after the revocation (refresh every {REFRESH_SECS} s)", revoked_at.elapsed());
    let denied = spawn_alice(&stage, &format!("mercador-{alias}"), &domain_name);
    assert!(ViewOfA::now().clean_of(&alias), "region, endpoints or service provider of {alias} left on A");
    let binding = stage.a_admin.get(&format!("/v1/bindings/{alias}")).await.expect(200);
    assert_eq!(binding["state"], "revoked", "{binding}");
    // Why: the publisher's subscription is revoked (or still revoking when
    // the refresh asked), or unknown to it.
    let why = binding["error"].as_str().unwrap_or_default();
    assert!(why.contains(&remote) && (why.contains("revok") || why.contains("no longer")), "{binding}");
    assert!(cli_output(denied).is_err(), "alice's K2K through a revoked binding");

    stage.tear_down(&[&vregion], &[]).await;
}

/// Removes the test hook from a configuration file.
fn without_pause(config: &std::path::Path) {
    let text = std::fs::read_to_string(config).unwrap();
    let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with("pause_after_step")).collect();
    std::fs::write(config, kept.join("\n")).unwrap();
}

/// The subscriber's lease on a binding in the restart story: the restarted
/// subscriber waits it out, and a subscribe step must finish within it (the
/// engine renews it between steps only; the publisher's subscribe took 11 s
/// on a loaded machine, and a 10 s lease let the reconciler take the
/// binding over from the running request).
const LEASE_SECS: u64 = 20;

/// Both services stopped mid-way and started again on the same databases
/// and configuration: the subscriber killed (SIGKILL) while a subscribe
/// waits after its `region` step, the publisher stopped (SIGTERM)
/// meanwhile; after the restart the subscribe finishes by itself. Then both
/// are stopped and started again: everything is still listed, refresh and
/// alice's K2K work, and a cancel cleans both sides.
#[tokio::test]
async fn both_services_restarted_mid_way_keep_their_state() {
    let options = SubscriberOptions {
        pause_after_step: Some("region:120s".into()),
        lease_ttl_secs: Some(LEASE_SECS),
        reconcile_interval_secs: 2,
        ..SubscriberOptions::default()
    };
    let mut stage = Stage::set_up("rs", options).await;
    let vregion = stage.publish("rs-vr", &["identity", "compute"], &[&stage.partner]).await;
    let alias = name("rs-alias");

    // The subscribe stops after the region step; the subscriber is killed there.
    let pending = {
        let client = stage.a_admin.clone();
        let body = json!({"publisher": stage.b_name, "vregion": vregion, "alias": alias});
        tokio::spawn(async move { client.try_post("/v1/bindings", &body).await })
    };
    let mut paused = None;
    for _ in 0..600 {
        let bindings = stage.a_admin.get("/v1/bindings").await.expect(200);
        let at_region =
            bindings.as_array().unwrap().iter().find(|b| b["alias"] == alias.as_str() && b["step"] == "region");
        if let Some(b) = at_region.filter(|_| stage.subscriber.log().contains("pausing after step")) {
            paused = Some(b.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let paused =
        paused.unwrap_or_else(|| panic!("the subscribe never paused; log:\n{}", stage.subscriber.log_tail(40)));
    assert_eq!(paused["state"], "provisioning", "{paused}");
    stage.subscriber.kill9();
    let killed_at = Instant::now();
    assert!(pending.await.unwrap().is_err(), "the admin's request died with the subscriber");
    let a = ViewOfA::now();
    assert!(a.has_region(&alias) && a.has_sp(&alias), "region and service provider are there");
    assert!(a.endpoints_in(&alias).is_empty(), "no endpoint yet");

    // The publisher stops meanwhile (gracefully); both start again.
    let stopped = stage.publisher.terminate().await.unwrap();
    assert!(stopped.success(), "the publisher's graceful stop: {stopped}");
    stage.publisher.restart().await;
    without_pause(stage.subscriber.config_path());
    stage.subscriber.restart().await;
    let limit = Duration::from_secs(LEASE_SECS + 30);
    loop {
        let binding = stage.a_admin.get(&format!("/v1/bindings/{alias}")).await.expect(200);
        if binding["state"] == "active" {
            break;
        }
        assert!(killed_at.elapsed() < limit, "not resumed: {binding}; log:\n{}", stage.subscriber.log_tail(40));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("the interrupted subscribe finished {:?} after the kill", killed_at.elapsed());

    // Both stopped with SIGTERM and started again on the same state.
    for stopped in [stage.subscriber.terminate().await.unwrap(), stage.publisher.terminate().await.unwrap()] {
        assert!(stopped.success(), "graceful stop: {stopped}");
    }
    stage.publisher.restart().await;
    stage.subscriber.restart().await;

    // Everything is still listed, on both sides.
    let publishers = stage.a_admin.get("/v1/publishers").await.expect(200);
    assert!(publishers.as_array().unwrap().iter().any(|p| p["name"] == stage.b_name.as_str()), "{publishers}");
    let bindings = stage.a_admin.get("/v1/bindings").await.expect(200);
    let ours: Vec<&Value> = bindings.as_array().unwrap().iter().filter(|b| b["alias"] == alias.as_str()).collect();
    assert_eq!(ours.len(), 1, "{bindings}");
    assert_eq!(ours[0]["state"], "active", "{bindings}");
    let remote = ours[0]["remote_subscription_id"].as_str().unwrap().to_owned();
    let partners = stage.b_admin.get("/v1/admin/partners").await.expect(200);
    assert!(
        partners.as_array().unwrap().iter().any(|p| p["name"] == stage.partner.as_str() && p["state"] == "active"),
        "{partners}"
    );
    let view = stage.b_admin.get(&format!("/v1/admin/vregions/{vregion}")).await.expect(200);
    assert_eq!((view["state"].as_str(), view["places_taken"].as_u64()), (Some("published"), Some(1)), "{view}");
    let subscriptions =
        stage.b_admin.get(&format!("/v1/admin/subscriptions?partner={}", stage.partner)).await.expect(200);
    let subscriptions = subscriptions.as_array().unwrap();
    assert_eq!(subscriptions.len(), 1, "{subscriptions:?}");
    assert_eq!(
        (subscriptions[0]["id"].as_str(), subscriptions[0]["state"].as_str()),
        (Some(remote.as_str()), Some("active"))
    );
    let found = stage.a_admin.get("/v1/discovery").await.expect(200);
    let offer = found["offers"].as_array().unwrap().iter().find(|o| o["name"] == vregion.as_str()).cloned();
    assert_eq!(offer.map(|o| o["subscription_id"].clone()), Some(json!(remote)), "{found}");

    // Refresh works; A shows the region with its endpoints; alice reaches the vregion.
    let outcome = stage.a_admin.post_empty(&format!("/v1/bindings/{alias}/refresh")).await.expect(200);
    assert_eq!(outcome["revoked"], false, "{outcome}");
    assert_eq!(outcome["repaired"], json!([]), "{outcome}");
    let a = ViewOfA::now();
    assert!(a.has_region(&alias) && a.has_sp(&alias), "region and service provider of {alias}");
    let types: BTreeSet<&str> = a.endpoints_in(&alias).iter().filter_map(|e| e["Service Type"].as_str()).collect();
    assert_eq!(types, BTreeSet::from(["compute"]));
    let domain_id = stage.domain_id(&vregion).await;
    alice_reaches(&stage, &format!("mercador-{alias}"), &stage.domain_name(&vregion).await, &domain_id).await;

    // Cancel cleans both sides.
    let cancelled = stage.a_admin.delete(&format!("/v1/bindings/{alias}")).await.expect(200);
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    assert!(ViewOfA::now().clean_of(&alias), "cancel left something of {alias} on A");
    assert_eq!(stage.subscription_at_b(&remote).await["state"], "cancelled");
    assert_eq!(federation_objects_of(&stage.partner, &domain_id).await, Vec::<String>::new());
    stage.tear_down(&[&vregion], &[]).await;
}

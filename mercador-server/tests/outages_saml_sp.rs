//! B's SAML service provider down, injected for real while the real
//! service binaries run (issue 19): the publisher trusts a subscriber's
//! metadata only when the SP can read it, says which dependency is down,
//! and converges once it is back; a cancel completes with the SP down; a
//! K2K login names the SP's outage.
//!
//! The SP is a private one of this test (`testbed.sh sp-instance`): its own
//! shibd and its own Apache + mod_shib, built from the testbed's templates,
//! in front of the testbed's Keystone B uwsgi socket, with its own metadata
//! directory, which the test's publisher writes. The testbed's shibd and
//! Apache, which the other tests K2K-login through, are never touched, so
//! this binary runs beside the others.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mercador_core::k2k::Keystone2Keystone;
use mercador_core::keystone::IdentityApi;
use mercador_core::outage::{Dependency, OutageKind};
use mercador_tests::publisher::{a_entity_turn, free_entity_on_b, name};
use mercador_tests::{Cloud, Testbed};
use serde_json::{Value, json};
use support::leftovers::{objects_on_a, objects_on_b, wait_for_binding};
use support::{
    Answer, ApiClient, PublisherOptions, PublisherProcess, SubscriberOptions, SubscriberProcess, admin_token,
    partner_token,
};

/// A generous bound for an answer during an outage (the SP's status takes
/// about 6 s to fail when shibd is down: mod_shib retries its socket; the
/// machine is loaded).
const ANSWER_BOUND: Duration = Duration::from_secs(40);
/// How long convergence may take once the SP is back.
const CONVERGE_BOUND: Duration = Duration::from_secs(180);

// ---- a private SAML SP

/// A private SAML SP (shibd + Apache + mod_shib) made by `testbed.sh
/// sp-instance` in a temporary directory, on its own port; both stopped
/// (by their pid files) when dropped.
struct PrivateSp {
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivateSp {
    fn start() -> Self {
        let dir = tempfile::Builder::new().prefix("mercador-sp-").tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let sp = Self { dir, port };
        sp.testbed(&["start", &sp.dir(), &port.to_string()]);
        sp
    }

    fn dir(&self) -> String {
        self.dir.path().display().to_string()
    }

    fn testbed(&self, args: &[&str]) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../testbed/testbed.sh");
        let state = Testbed::get().var("MERCADOR_TESTBED_STATE");
        let out = Command::new("bash")
            .arg(script)
            .arg("sp-instance")
            .args(args)
            .env("MERCADOR_TESTBED_STATE", state)
            .output()
            .expect("run testbed.sh");
        assert!(
            out.status.success(),
            "testbed.sh sp-instance {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn stop(&self, what: &str) {
        self.testbed(&["stop", &self.dir(), what]);
    }

    /// Starts whatever is stopped.
    fn start_again(&self) {
        self.testbed(&["start", &self.dir(), &self.port.to_string()]);
    }

    fn metadata_dir(&self) -> PathBuf {
        self.dir.path().join("metadata")
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The publisher's settings for this SP: its ECP endpoint and metadata
    /// directory, and Keystone B's public URL through its Apache (so that
    /// a K2K login's federated auth URL goes through it too).
    fn publisher_env(&self) -> Vec<(String, String)> {
        vec![
            ("MERCADOR_FEDERATION__SP_URL".into(), format!("{}/Shibboleth.sso/SAML2/ECP", self.base())),
            ("MERCADOR_FEDERATION__METADATA_DIR".into(), self.metadata_dir().display().to_string()),
            ("MERCADOR_KEYSTONE__PUBLIC_URL".into(), format!("{}/v3", self.base())),
        ]
    }
}

impl Drop for PrivateSp {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../testbed/testbed.sh");
        let _ = Command::new("bash")
            .arg(script)
            .args(["sp-instance", "stop", &self.dir()])
            .env("MERCADOR_TESTBED_STATE", Testbed::get().var("MERCADOR_TESTBED_STATE"))
            .output();
    }
}

/// The metadata files in `dir`.
fn metadata_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".xml"))
        .collect()
}

// ---- checks

/// Asserts a `saml_sp_unavailable` answer: 503, the dependency,
/// `Retry-After`, the outage kind; returns the error object.
#[track_caller]
fn assert_sp_outage(answer: &Answer, kind: &str) -> Value {
    let body = answer.expect(503);
    let error = body["error"].clone();
    assert_eq!(error["code"], "saml_sp_unavailable", "{answer}");
    assert_eq!(error["dependency"], "shibboleth_sp", "{answer}");
    assert_eq!(error["outage"], kind, "{answer}");
    let retry = answer.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u32>().ok());
    assert!(retry.is_some_and(|s| (1..=60).contains(&s)), "Retry-After: {answer}");
    assert!(error["message"].as_str().unwrap().contains("harmless"), "{answer}");
    error
}

/// The service type of this test's vregion: its own, so that the
/// subscriber's shared `mercador-<type>` service on Keystone A is this
/// test's alone (the subscribers of tests running beside it, each with its
/// own database and catalog lease, remove an unused `mercador-identity` while
/// another creates an endpoint on it).
const DRILL_TYPE: &str = "saml-sp-drill";

/// A service of type [`DRILL_TYPE`] with a public endpoint in B's region
/// (no server behind it); returns its id.
async fn drill_service_on_b() -> String {
    use mercador_core::keystone::ensure;
    use mercador_core::keystone::types::{NewEndpoint, NewService};
    let tb = Testbed::get();
    let b = tb.admin(Cloud::B);
    let service = NewService {
        service_type: DRILL_TYPE.into(),
        name: Some("mercador-tests-saml-sp-drill".into()),
        description: Some("catalog entry of Mercador's SAML SP outage test (no server behind it)".into()),
        enabled: true,
    };
    let service = ensure::ensure_service(&b, &service).await.expect("service on B").object;
    let endpoint = NewEndpoint {
        service_id: service.id.clone(),
        interface: mercador_core::keystone::Interface::Public,
        url: "http://127.0.0.1:9/saml-sp-drill".into(),
        region_id: Some(tb.region(Cloud::B).to_owned()),
        enabled: true,
    };
    ensure::ensure_endpoint(&b, &endpoint).await.expect("endpoint on B");
    service.id
}

/// `GET /healthz` of the publisher: its status and how long it took.
async fn health(publisher: &PublisherProcess) -> (Answer, Duration) {
    let start = Instant::now();
    let answer = ApiClient::new(publisher.url()).get("/healthz").await;
    (answer, start.elapsed())
}

#[tokio::test]
async fn the_saml_sp_down_during_subscribe_refresh_and_cancel() {
    let tb = Testbed::get();
    let turn = a_entity_turn().await;
    let entity_id = turn.entity_id().to_string();
    free_entity_on_b(&entity_id).await;
    let sp = PrivateSp::start();

    // Publisher B on the private SP; a partner for A; a published vregion.
    let publisher = PublisherProcess::start(PublisherOptions {
        env: sp.publisher_env(),
        reconcile_interval_secs: 5,
        ..PublisherOptions::default()
    })
    .await;
    let publisher_pid = publisher.pid();
    let (healthy, _) = health(&publisher).await;
    assert_eq!(healthy.expect(200)["saml_sp"]["status"], "ok", "{healthy}");
    let b_admin = ApiClient::new(publisher.url()).with_token(admin_token().await);
    let partner = name("sp-down-p");
    let onboarded = b_admin.post("/v1/admin/partners", &json!({"name": partner})).await.expect(201);
    let service_id = drill_service_on_b().await;
    let vregion = name("sp-down-vr");
    let spec = json!({
        "name": vregion, "region": tb.region(Cloud::B), "service_types": [DRILL_TYPE],
        "roles": ["reader"], "max_subscriptions": 1, "partners": [partner],
    });
    b_admin.post("/v1/admin/vregions", &spec).await.expect(201);
    b_admin.post_empty(&format!("/v1/admin/vregions/{vregion}/publish")).await.expect(200);
    let domain = b_admin.get(&format!("/v1/admin/vregions/{vregion}")).await.expect(200)["domain_id"]
        .as_str()
        .map(str::to_owned);

    // Subscriber A with that publisher registered.
    let subscriber = SubscriberProcess::start_with(SubscriberOptions {
        identity: Some(turn.identity().clone()),
        reconcile_interval_secs: 5,
        ..SubscriberOptions::default()
    })
    .await;
    let subscriber_pid = subscriber.pid();
    let a_token = tb.admin_session(Cloud::A).token().await.unwrap().secret().clone();
    let api = ApiClient::new(subscriber.url()).with_token(a_token);
    let b_name = name("sp-down-pub");
    let registration = json!({
        "name": b_name,
        "keystone_url": tb.url(Cloud::B),
        "exchange_url": publisher.url().join("v1/exchange").unwrap(),
        "application_credential_id": onboarded["application_credential_id"],
        "application_credential_secret": onboarded["application_credential_secret"],
    });
    api.post("/v1/publishers", &registration).await.expect(201);

    // ---- shibd stopped: /healthz says so.
    sp.stop("shibd");
    let (down, took) = health(&publisher).await;
    assert_eq!(down.status, 503, "{down}");
    assert_eq!(down.json()["saml_sp"]["status"], "error", "{down}");
    assert!(took < ANSWER_BOUND, "/healthz took {took:?}");
    println!("/healthz with shibd stopped: {took:?}: {}", down.json()["saml_sp"]);

    // ---- a subscribe through A: interrupted at the publisher's trust step,
    // named, continuing in the background; nothing trusted yet.
    let alias = name("sp-down-al");
    let subscribe = json!({"publisher": b_name, "vregion": vregion, "alias": alias});
    let start = Instant::now();
    let answer = api.post("/v1/bindings", &subscribe).await;
    let took = start.elapsed();
    let error = assert_sp_outage(&answer, "refusing");
    assert!(took < ANSWER_BOUND, "subscribe answered after {took:?}");
    let op = &error["operation"];
    assert_eq!((op["name"].as_str(), op["state"].as_str()), (Some("subscribe"), Some("provisioning")), "{answer}");
    assert_eq!(op["binding"], alias.as_str(), "{answer}");
    assert!(op["follow"].as_str().unwrap().contains(&format!("mercador binding show {alias}")), "{answer}");
    println!("subscribe with shibd stopped: {took:?}: {}", error["message"]);
    assert_eq!(metadata_files(&sp.metadata_dir()), Vec::<String>::new(), "nothing trusted while the SP is down");

    // The publisher's own answer to the partner (asking again is harmless):
    // the subscription continues, at step trust.
    let partner_api = ApiClient::new(publisher.url()).with_token(partner_token(&onboarded).await);
    let request = json!({"vregion": vregion, "entity_id": entity_id, "metadata_url": turn.metadata_url()});
    let start = Instant::now();
    let answer = partner_api.post("/v1/exchange/subscriptions", &request).await;
    let error = assert_sp_outage(&answer, "refusing");
    assert!(start.elapsed() < ANSWER_BOUND, "the publisher answered after {:?}", start.elapsed());
    let op = &error["operation"];
    assert_eq!((op["state"].as_str(), op["step"].as_str()), (Some("provisioning"), Some("trust")), "{answer}");
    assert!(op["subscription"].is_string() && op["continues_in_background"] == true, "{answer}");

    // ---- Apache of the SP stopped too: the SP cannot be reached.
    sp.stop("apache");
    let start = Instant::now();
    let answer = partner_api.post("/v1/exchange/subscriptions", &request).await;
    assert_sp_outage(&answer, "unreachable");
    assert!(start.elapsed() < ANSWER_BOUND, "the publisher answered after {:?}", start.elapsed());
    let (down, _) = health(&publisher).await;
    assert_eq!(down.status, 503, "{down}");
    println!("subscribe with the SP's Apache stopped: {:?}", start.elapsed());

    // ---- the SP back: the binding converges by itself, nothing restarted.
    sp.start_again();
    let back = Instant::now();
    let active = wait_for_binding(&api, &alias, "active", CONVERGE_BOUND).await;
    println!("active {:?} after the SP came back", back.elapsed());
    assert!(active["error"].is_null(), "{active}");
    assert_eq!(metadata_files(&sp.metadata_dir()).len(), 1, "A's metadata trusted");
    let (healthy, _) = health(&publisher).await;
    assert_eq!(healthy.status, 200, "{healthy}");
    assert_eq!((publisher.pid(), subscriber.pid()), (publisher_pid, subscriber_pid), "nothing restarted");

    // alice of A signs in to the vregion through the private SP.
    let sp_id = format!("mercador-{alias}");
    let k2k = Keystone2Keystone::new(turn.alice(), &sp_id).await.unwrap();
    assert!(k2k.sp_url().as_str().starts_with(&sp.base()), "the binding uses the private SP: {}", k2k.sp_url());
    let token = k2k.unscoped_token().await.expect("K2K through the private SP");
    assert!(token.info().is_federated());

    // ---- shibd stopped again: a K2K login names the SP's outage.
    sp.stop("shibd");
    let k2k = Keystone2Keystone::new(turn.alice(), &sp_id).await.unwrap();
    let e = k2k.unscoped_token().await.unwrap_err();
    let outage = e.outage().unwrap_or_else(|| panic!("an outage of the SP: {e}"));
    assert_eq!((outage.dependency, outage.kind), (Dependency::ShibbolethSp, OutageKind::Refusing), "{e}");
    assert!(e.to_string().contains("shibd") && e.to_string().contains(&sp.base()), "{e}");
    println!("K2K with shibd stopped: {e}");

    // A refresh: named, retryable; the binding stays active.
    let start = Instant::now();
    let answer = api.post_empty(&format!("/v1/bindings/{alias}/refresh")).await;
    let error = assert_sp_outage(&answer, "refusing");
    assert!(start.elapsed() < ANSWER_BOUND, "refresh answered after {:?}", start.elapsed());
    assert!(error["operation"].is_null(), "nothing continues for an active binding: {answer}");
    let shown = api.get(&format!("/v1/bindings/{alias}")).await.expect(200);
    assert_eq!(shown["state"], "active", "{shown}");
    println!("refresh with shibd stopped: {:?}", start.elapsed());

    // A cancel completes with shibd down: the trust is a file, removed.
    let start = Instant::now();
    let cancelled = api.delete(&format!("/v1/bindings/{alias}")).await.expect(200);
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    println!("cancel with shibd stopped: {:?}", start.elapsed());
    assert_eq!(metadata_files(&sp.metadata_dir()), Vec::<String>::new(), "the trust is gone");
    assert_eq!(objects_on_a(&alias).await, Vec::<String>::new(), "nothing of {alias} left on Keystone A");
    assert_eq!(objects_on_b(&entity_id, domain.as_deref()).await, Vec::<String>::new(), "nothing left on Keystone B");
    let subs = b_admin.get("/v1/admin/subscriptions").await.expect(200);
    let live: Vec<&Value> = subs
        .as_array()
        .map(|s| s.iter().filter(|s| s["vregion"] == vregion.as_str() && s["state"] != "cancelled").collect())
        .unwrap_or_default();
    assert!(live.is_empty(), "the publisher's subscription ended: {live:?}");
    let log = subscriber.log() + &publisher.log();
    assert!(!log.contains("answered with an internal error"), "no 500 in the logs");
    assert_eq!((publisher.pid(), subscriber.pid()), (publisher_pid, subscriber_pid), "nothing restarted");

    api.delete(&format!("/v1/publishers/{b_name}")).await;
    b_admin.post_empty(&format!("/v1/admin/vregions/{vregion}/withdraw")).await.expect(200);
    b_admin.delete(&format!("/v1/admin/vregions/{vregion}?purge=true")).await.expect(204);
    b_admin.delete(&format!("/v1/admin/partners/{partner}")).await.expect(204);
    free_entity_on_b(&entity_id).await;
    tb.admin(Cloud::B).delete_service(&service_id).await.unwrap();
}

//! Outages of what the services depend on, injected for real while the
//! real service binaries run (issue 19). Each test asserts the answer
//! during the outage (a `503` whose code and `dependency` name what is
//! down, `Retry-After`, never a 500), the time it took (a generous bound,
//! a sanity check rather than a benchmark), convergence afterwards without
//! restarting Mercador, and that nothing is left behind on either Keystone.
//!
//! - the publisher's PostgreSQL stopped (`pg_ctl stop -m fast`) and started
//!   again: a private cluster of this test (initdb in a temporary
//!   directory, its own port), never the testbed's;
//! - Keystone B hung while A subscribes: the publisher reaches Keystone B
//!   through a TCP relay of this test that stops passing bytes on (what a
//!   SIGSTOPped or overloaded Keystone does to its callers: connections are
//!   accepted, nothing is answered) and later passes them on again; the
//!   testbed's Keystone B itself is never frozen, so these tests share the
//!   testbed with the others;
//! - the publisher service stopped while A subscribes, then started again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mercador_core::keystone::IdentityApi;
use mercador_core::keystone::types::Filter;
use mercador_core::model::Name;
use mercador_tests::publisher::{a_entity_turn, free_entity_on_b, name, test_catalog};
use mercador_tests::{Cloud, Testbed};
use serde_json::{Value, json};
use support::{
    Answer, ApiClient, PublisherOptions, PublisherProcess, SubscriberOptions, SubscriberProcess, admin_token,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A generous bound for an answer during an outage (the configured
/// timeouts are a few seconds; the machine is loaded).
const ANSWER_BOUND: Duration = Duration::from_secs(30);
/// How long convergence may take once the dependency is back.
const CONVERGE_BOUND: Duration = Duration::from_secs(180);

// ---- a private PostgreSQL cluster

/// A PostgreSQL cluster of one test: initdb in a temporary directory (as
/// user postgres when run as root: the server refuses root), trust
/// authentication on 127.0.0.1, its own port. Stopped (immediately) when
/// dropped.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries under /usr/lib/postgresql (apt package postgresql; the testbed installs it)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("pg_ctl").exists())
            .max()
            .expect("a /usr/lib/postgresql/<version>/bin with pg_ctl");
        let dir = tempfile::Builder::new().prefix("mercador-outage-pg-").tempdir().expect("temp dir");
        if is_root() {
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let pg = Self { dir, bin, port };
        let data = pg.data();
        run(pg.as_postgres(&pg.bin.join("initdb")).args([
            "-D",
            &data,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
        ]));
        pg.start_server();
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn as_postgres(&self, program: &Path) -> Command {
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", "env", "-C", "/"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn start_server(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.path().display());
        let log = self.dir.path().join("postgres.log").display().to_string();
        run(self.as_postgres(&self.bin.join("pg_ctl")).args([
            "-D",
            &self.data(),
            "-l",
            &log,
            "-w",
            "-o",
            &options,
            "start",
        ]));
    }

    /// `pg_ctl stop -m fast`: the server ends every connection and stops.
    fn stop_server(&self) {
        run(self.as_postgres(&self.bin.join("pg_ctl")).args(["-D", &self.data(), "-m", "fast", "-w", "stop"]));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ =
            self.as_postgres(&self.bin.join("pg_ctl")).args(["-D", &self.data(), "-m", "immediate", "stop"]).output();
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"))
}

fn run(command: &mut Command) {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- a relay that can hang

/// A TCP relay in front of a real server. While held ([`Relay::hold`]),
/// it accepts connections and reads requests but passes nothing on in
/// either direction, as a SIGSTOPped or hung server behaves to its
/// callers; [`Relay::release`] passes everything on again (what was held
/// included, as after SIGCONT).
struct Relay {
    port: u16,
    held: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (held, watching) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                let watching = watching.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else { return };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let done = Arc::new(AtomicBool::new(false));
                    tokio::join!(
                        pipe(cr, sw, watching.clone(), done.clone()),
                        pipe(sr, cw, watching.clone(), done.clone())
                    );
                });
            }
        });
        Self { port, held, task }
    }

    fn hold(&self) {
        self.held.send_replace(true);
    }

    fn release(&self) {
        self.held.send_replace(false);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `from` to `to`, waiting before each write while the relay is held.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut held: watch::Receiver<bool>,
    done: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if done.load(Ordering::SeqCst) {
            break;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                // A held server closes nothing either (Apache's keep-alive
                // timeout closing an idle connection would otherwise show).
                let _ = held.wait_for(|h| !*h).await;
                break;
            }
            Ok(n) => n,
        };
        if held.wait_for(|h| !*h).await.is_err() {
            break;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    done.store(true, Ordering::SeqCst);
    let _ = to.shutdown().await;
}

// ---- checks

/// Asserts an outage answer: 503, the code, the dependency, `Retry-After`,
/// the JSON error shape; returns the error object.
#[track_caller]
fn assert_outage(answer: &Answer, code: &str, dependency: &str) -> Value {
    let body = answer.expect(503);
    let error = body["error"].clone();
    assert_eq!(error["code"], code, "{answer}");
    assert_eq!(error["dependency"], dependency, "{answer}");
    assert!(matches!(error["outage"].as_str(), Some("unreachable" | "refusing" | "too_slow")), "{answer}");
    let retry = answer.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u32>().ok());
    assert!(retry.is_some_and(|s| (1..=60).contains(&s)), "Retry-After: {answer}");
    assert!(error["message"].as_str().unwrap().contains("harmless"), "{answer}");
    error
}

/// What Keystone A holds of a binding: service provider, region, endpoints.
async fn objects_on_a(alias: &Name) -> Vec<String> {
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
async fn objects_on_b(entity_id: &str, vregion_domain: Option<&str>) -> Vec<String> {
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

/// Polls `GET /v1/bindings/{alias}` until its state is `state`.
async fn wait_for_binding(api: &ApiClient, alias: &Name, state: &str) -> Value {
    let deadline = Instant::now() + CONVERGE_BOUND;
    loop {
        let answer = api.get(&format!("/v1/bindings/{alias}")).await;
        if answer.status == 200 && answer.json()["state"] == state {
            return answer.json();
        }
        assert!(Instant::now() < deadline, "binding {alias} not {state} within {CONVERGE_BOUND:?}: {answer}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

// ---- the database

#[tokio::test]
async fn the_publishers_postgresql_stopped_then_started_again() {
    let pg = PrivatePostgres::start();
    let env = vec![("MERCADOR_DATABASE__ACQUIRE_TIMEOUT_SECS".to_owned(), "3".to_owned())];
    let mut publisher =
        PublisherProcess::start(PublisherOptions { database_url: Some(pg.url()), env, ..PublisherOptions::default() })
            .await;
    let pid = publisher.pid();
    let admin = ApiClient::new(publisher.url()).with_token(admin_token().await);
    admin.get("/v1/admin/vregions").await.expect(200);

    pg.stop_server();
    for path in ["/v1/admin/vregions", "/v1/admin/partners", "/v1/admin/subscriptions"] {
        let start = Instant::now();
        let answer = admin.get(path).await;
        let took = start.elapsed();
        let error = assert_outage(&answer, "database_unavailable", "database");
        assert!(took < ANSWER_BOUND, "{path} answered after {took:?} (acquire timeout 3 s)");
        assert!(!answer.text.contains("postgres://"), "no database URL in answers: {answer}");
        println!("{path} during the outage: {took:?}, {}", error["message"]);
    }
    let start = Instant::now();
    let health = ApiClient::new(publisher.url()).get("/healthz").await;
    assert_eq!(health.status, 503, "{health}");
    assert!(start.elapsed() < ANSWER_BOUND, "/healthz took {:?}", start.elapsed());
    assert_ne!(health.json()["database"]["status"], "ok", "{health}");
    assert!(!publisher.log().contains("answered with an internal error"), "no 500: {}", publisher.log_tail(30));

    // Back: the same process answers again by itself.
    pg.start_server();
    let deadline = Instant::now() + CONVERGE_BOUND;
    loop {
        let answer = admin.get("/v1/admin/vregions").await;
        if answer.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "not back within {CONVERGE_BOUND:?}: {answer}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let back = Instant::now();
    loop {
        if ApiClient::new(publisher.url()).get("/healthz").await.status == 200 {
            break;
        }
        assert!(back.elapsed() < CONVERGE_BOUND, "/healthz not 200 again");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(publisher.is_running() && publisher.pid() == pid, "the publisher was not restarted");
}

// ---- Keystone B hung, the publisher stopped: a subscribe interrupted

/// Publisher B (through `keystone_relay` when given) with a partner for
/// A and a published vregion; subscriber A with that publisher registered.
struct Story {
    publisher: PublisherProcess,
    subscriber: SubscriberProcess,
    b_admin: ApiClient,
    api: ApiClient,
    partner: Name,
    vregion: Name,
    b_name: Name,
    entity_id: String,
    /// The relayed clouds.yaml copies, removed when the story ends.
    _clouds: Vec<tempfile::TempDir>,
}

/// The settings that make a service reach its Keystone (`cloud`) through
/// `relay`: a copy of the testbed's clouds.yaml with that Keystone's URL
/// on the relay's port, and `[keystone] public_url` the real one (what
/// others are told). Keystone calls time out after 5 s.
/// The directory holding the copy is returned: keep it while the service runs.
fn through_relay(cloud: Cloud, relay: Option<&Relay>) -> (Vec<(String, String)>, Option<tempfile::TempDir>) {
    let tb = Testbed::get();
    let mut env = vec![("MERCADOR_KEYSTONE__TIMEOUT_SECS".to_owned(), "5".to_owned())];
    if let Some(relay) = relay {
        let url = tb.url(cloud).to_string();
        let relayed = url.replace(&format!(":{}", tb.url(cloud).port().unwrap()), &format!(":{}", relay.port));
        let clouds = std::fs::read_to_string(tb.clouds_yaml())
            .unwrap()
            .replace(url.trim_end_matches('/'), relayed.trim_end_matches('/'));
        let dir = tempfile::Builder::new().prefix("mercador-outage-clouds-").tempdir().unwrap();
        let path = dir.path().join("clouds.yaml");
        std::fs::write(&path, clouds).unwrap();
        env.push(("MERCADOR_KEYSTONE__CLOUDS_YAML".to_owned(), path.display().to_string()));
        env.push(("MERCADOR_KEYSTONE__PUBLIC_URL".to_owned(), url));
        return (env, Some(dir));
    }
    (env, None)
}

/// A relay in front of the testbed's Keystone of `cloud`.
async fn relay_to(cloud: Cloud) -> Relay {
    let url = Testbed::get().url(cloud);
    Relay::start(format!("{}:{}", url.host_str().unwrap(), url.port().unwrap()).parse().unwrap()).await
}

impl Story {
    /// `b_relay`: the publisher reaches Keystone B through it (partners and
    /// K2K reach the real one); `a_relay`: the subscriber reaches Keystone A
    /// through it.
    async fn set_up(
        turn: &mercador_tests::publisher::EntityTurn,
        tag: &str,
        b_relay: Option<&Relay>,
        a_relay: Option<&Relay>,
    ) -> Self {
        let tb = Testbed::get();
        let entity_id = turn.entity_id().to_string();
        free_entity_on_b(&entity_id).await;
        let (env, b_clouds) = through_relay(Cloud::B, b_relay);
        let publisher = PublisherProcess::start(PublisherOptions {
            env,
            reconcile_interval_secs: 5,
            ..PublisherOptions::default()
        })
        .await;
        let b_admin = ApiClient::new(publisher.url()).with_token(admin_token().await);
        test_catalog().await;
        let partner = name(&format!("{tag}-p"));
        let onboarded = b_admin.post("/v1/admin/partners", &json!({"name": partner})).await.expect(201);
        let vregion = name(&format!("{tag}-vr"));
        let spec = json!({
            "name": vregion, "region": tb.region(Cloud::B), "service_types": ["identity", "compute"],
            "roles": ["reader"], "max_subscriptions": 1, "partners": [partner],
        });
        b_admin.post("/v1/admin/vregions", &spec).await.expect(201);
        b_admin.post_empty(&format!("/v1/admin/vregions/{vregion}/publish")).await.expect(200);

        let (a_env, a_clouds) = through_relay(Cloud::A, a_relay);
        let subscriber = SubscriberProcess::start_with(SubscriberOptions {
            identity: Some(turn.identity().clone()),
            reconcile_interval_secs: 5,
            env: a_env,
            ..SubscriberOptions::default()
        })
        .await;
        let a_token = tb.admin_session(Cloud::A).token().await.unwrap().secret().clone();
        let api = ApiClient::new(subscriber.url()).with_token(a_token);
        let b_name = name(&format!("{tag}-pub"));
        let registration = json!({
            "name": b_name,
            "keystone_url": tb.url(Cloud::B),
            "exchange_url": publisher.url().join("v1/exchange").unwrap(),
            "application_credential_id": onboarded["application_credential_id"],
            "application_credential_secret": onboarded["application_credential_secret"],
        });
        api.post("/v1/publishers", &registration).await.expect(201);
        let _clouds = b_clouds.into_iter().chain(a_clouds).collect();
        Self { publisher, subscriber, b_admin, api, partner, vregion, b_name, entity_id, _clouds }
    }

    /// Cancels the binding, checks nothing is left on A or B, removes the rest.
    async fn cancel_and_check_clean(self, alias: &Name) {
        let Self { publisher, subscriber, b_admin, api, partner, vregion, b_name, entity_id, _clouds } = self;
        let domain = b_admin.get(&format!("/v1/admin/vregions/{vregion}")).await.expect(200)["domain_id"]
            .as_str()
            .map(str::to_owned);
        let cancelled = api.delete(&format!("/v1/bindings/{alias}")).await.expect(200);
        assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
        assert_eq!(objects_on_a(alias).await, Vec::<String>::new(), "nothing of {alias} left on Keystone A");
        assert_eq!(
            objects_on_b(&entity_id, domain.as_deref()).await,
            Vec::<String>::new(),
            "nothing left on Keystone B"
        );
        let subs = b_admin.get("/v1/admin/subscriptions").await.expect(200);
        let live: Vec<&Value> = subs
            .as_array()
            .or_else(|| subs["subscriptions"].as_array())
            .map(|s| s.iter().filter(|s| s["vregion"] == vregion.as_str() && s["state"] != "cancelled").collect())
            .unwrap_or_default();
        assert!(live.is_empty(), "the publisher's subscription ended: {live:?}");
        let log = subscriber.log() + &publisher.log();
        assert!(!log.contains("answered with an internal error"), "no 500 in the logs");
        api.delete(&format!("/v1/publishers/{b_name}")).await;
        b_admin.post_empty(&format!("/v1/admin/vregions/{vregion}/withdraw")).await.expect(200);
        b_admin.delete(&format!("/v1/admin/vregions/{vregion}?purge=true")).await.expect(204);
        b_admin.delete(&format!("/v1/admin/partners/{partner}")).await.expect(204);
        free_entity_on_b(&entity_id).await;
    }
}

#[tokio::test]
async fn keystone_b_hung_during_a_subscribe_then_back() {
    let turn = a_entity_turn().await;
    let relay = relay_to(Cloud::B).await;
    let story = Story::set_up(&turn, "ks-hung", Some(&relay), None).await;
    let (publisher_pid, subscriber_pid) = (story.publisher.pid(), story.subscriber.pid());

    relay.hold();
    let alias = name("ks-hung-al");
    let start = Instant::now();
    let answer = story
        .api
        .post("/v1/bindings", &json!({"publisher": story.b_name, "vregion": story.vregion, "alias": alias}))
        .await;
    let took = start.elapsed();
    let error = assert_outage(&answer, "keystone_unavailable", "keystone_b");
    assert!(took < ANSWER_BOUND + Duration::from_secs(30), "subscribe answered after {took:?}");
    let op = &error["operation"];
    assert_eq!(op["name"], "subscribe", "{answer}");
    assert_eq!(op["binding"], alias.as_str(), "{answer}");
    assert_eq!(op["state"], "provisioning", "{answer}");
    assert_eq!(op["continues_in_background"], true, "{answer}");
    assert!(op["follow"].as_str().unwrap().contains(&format!("mercador binding show {alias}")), "{answer}");
    println!("subscribe with Keystone B hung: {took:?}: {}", error["message"]);
    let shown = story.api.get(&format!("/v1/bindings/{alias}")).await.expect(200);
    assert_eq!(shown["state"], "provisioning", "{shown}");

    // Asking again while it is down: harmless, the same answer.
    let again = story
        .api
        .post("/v1/bindings", &json!({"publisher": story.b_name, "vregion": story.vregion, "alias": alias}))
        .await;
    assert_outage(&again, "keystone_unavailable", "keystone_b");

    // Keystone B answers again: the binding converges by itself.
    relay.release();
    let active = wait_for_binding(&story.api, &alias, "active").await;
    println!("active {:?} after Keystone B came back", start.elapsed());
    assert!(active["error"].is_null(), "{active}");
    assert_eq!(story.publisher.pid(), publisher_pid);
    assert_eq!(story.subscriber.pid(), subscriber_pid);

    // A refresh while Keystone B hangs: named, retryable; the binding stays active.
    relay.hold();
    let start = Instant::now();
    let answer = story.api.post_empty(&format!("/v1/bindings/{alias}/refresh")).await;
    let error = assert_outage(&answer, "keystone_unavailable", "keystone_b");
    assert!(start.elapsed() < ANSWER_BOUND, "refresh answered after {:?}", start.elapsed());
    assert!(error["operation"].is_null(), "nothing continues for an active binding: {answer}");
    let shown = story.api.get(&format!("/v1/bindings/{alias}")).await.expect(200);
    assert_eq!(shown["state"], "active", "{shown}");

    // A cancel while Keystone B hangs: interrupted, continues, ends once it is back.
    let start = Instant::now();
    let answer = story.api.delete(&format!("/v1/bindings/{alias}")).await;
    let error = assert_outage(&answer, "keystone_unavailable", "keystone_b");
    assert!(start.elapsed() < ANSWER_BOUND, "cancel answered after {:?}", start.elapsed());
    assert_eq!(
        (error["operation"]["name"].as_str(), error["operation"]["state"].as_str()),
        (Some("cancel"), Some("cancelling")),
        "{answer}"
    );
    println!("cancel with Keystone B hung: {:?}", start.elapsed());
    relay.release();
    wait_for_binding(&story.api, &alias, "cancelled").await;
    println!("cancelled {:?} after Keystone B came back", start.elapsed());
    story.cancel_and_check_clean(&alias).await;
}

#[tokio::test]
async fn the_publisher_stopped_during_a_subscribe_then_started_again() {
    let turn = a_entity_turn().await;
    let mut story = Story::set_up(&turn, "pub-down", None, None).await;
    let subscriber_pid = story.subscriber.pid();

    story.publisher.terminate().await;
    let alias = name("pub-down-al");
    let start = Instant::now();
    let answer = story
        .api
        .post("/v1/bindings", &json!({"publisher": story.b_name, "vregion": story.vregion, "alias": alias}))
        .await;
    let took = start.elapsed();
    let error = assert_outage(&answer, "publisher_unavailable", "publisher");
    assert!(took < ANSWER_BOUND, "subscribe answered after {took:?}");
    assert_eq!(error["operation"]["state"], "provisioning", "{answer}");
    assert_eq!(error["operation"]["step"], "remote_subscribe", "{answer}");
    println!("subscribe with the publisher stopped: {took:?}: {}", error["message"]);

    story.publisher.restart().await;
    wait_for_binding(&story.api, &alias, "active").await;
    assert_eq!(story.subscriber.pid(), subscriber_pid, "the subscriber was not restarted");

    // Cancel while the publisher is stopped: interrupted, continues; back: cancelled.
    story.publisher.terminate().await;
    let answer = story.api.delete(&format!("/v1/bindings/{alias}")).await;
    let error = assert_outage(&answer, "publisher_unavailable", "publisher");
    assert_eq!(error["operation"]["name"], "cancel", "{answer}");
    assert_eq!(error["operation"]["state"], "cancelling", "{answer}");
    story.publisher.restart().await;
    wait_for_binding(&story.api, &alias, "cancelled").await;
    story.cancel_and_check_clean(&alias).await;
}

#[tokio::test]
async fn keystone_a_hung_during_a_subscribe_and_a_cancel_then_back() {
    let turn = a_entity_turn().await;
    let relay = relay_to(Cloud::A).await;
    let story = Story::set_up(&turn, "ksa-hung", None, Some(&relay)).await;
    let subscriber_pid = story.subscriber.pid();
    // The caller's token is validated (and cached) before Keystone A hangs.
    story.api.get("/v1/bindings").await.expect(200);

    // Subscribe: Keystone A is asked first (are the alias's region and
    // service provider free?): nothing is started, nothing recorded.
    relay.hold();
    let alias = name("ksa-hung-al");
    let subscribe = json!({"publisher": story.b_name, "vregion": story.vregion, "alias": alias});
    let start = Instant::now();
    let answer = story.api.post("/v1/bindings", &subscribe).await;
    let error = assert_outage(&answer, "keystone_unavailable", "keystone_a");
    assert!(start.elapsed() < ANSWER_BOUND, "subscribe answered after {:?}", start.elapsed());
    assert!(error["operation"].is_null(), "nothing started: {answer}");
    println!("subscribe with Keystone A hung: {:?}", start.elapsed());
    let health = ApiClient::new(story.subscriber.url()).get("/healthz").await;
    assert_eq!(health.status, 503, "{health}");
    relay.release();
    assert_eq!(story.api.get(&format!("/v1/bindings/{alias}")).await.status, 404, "no binding recorded");
    let bound = story.api.post("/v1/bindings", &subscribe).await.expect(201);
    assert_eq!(bound["state"], "active", "{bound}");

    // Cancel: the publisher's side is cancelled, then Keystone A hangs on
    // the removal of A's objects: interrupted, continues, ends by itself.
    relay.hold();
    let start = Instant::now();
    let answer = story.api.delete(&format!("/v1/bindings/{alias}")).await;
    let error = assert_outage(&answer, "keystone_unavailable", "keystone_a");
    assert!(start.elapsed() < ANSWER_BOUND, "cancel answered after {:?}", start.elapsed());
    assert_eq!(error["operation"]["name"], "cancel", "{answer}");
    assert_eq!(error["operation"]["state"], "cancelling", "{answer}");
    println!("cancel with Keystone A hung: {:?}, step {}", start.elapsed(), error["operation"]["step"]);
    relay.release();
    wait_for_binding(&story.api, &alias, "cancelled").await;
    assert_eq!(story.subscriber.pid(), subscriber_pid, "the subscriber was not restarted");
    story.cancel_and_check_clean(&alias).await;
}

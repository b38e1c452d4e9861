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
//! - Keystone B under the publisher, and Keystone A under the subscriber,
//!   frozen for real (`SIGSTOP`, later `SIGCONT`) and stopped for real (its
//!   processes killed: connection refused; later started again) at several
//!   points of a subscribe, a refresh and a cancel. The frozen or stopped
//!   Keystone is a private process of the test
//!   ([`mercador_tests::keystone_process::PrivateKeystone`]) over the
//!   testbed's database, configuration and fernet keys: the same Keystone,
//!   which the service under test reaches on the private port, while K2K
//!   logins, partners and the checks go through the testbed's own
//!   processes, never frozen nor stopped (other tests run beside these);
//! - the publisher service stopped while A subscribes, then started again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mercador_core::model::Name;
use mercador_tests::keystone_process::PrivateKeystone;
use mercador_tests::publisher::{EntityTurn, a_entity_turn, free_entity_on_b, name, test_catalog};
use mercador_tests::{Cloud, Testbed};
use serde_json::{Value, json};
use support::leftovers::{objects_on_a, objects_on_b, wait_for_binding};
use support::{
    Answer, ApiClient, PublisherOptions, PublisherProcess, SubscriberOptions, SubscriberProcess, admin_token,
};

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

// ---- Keystone frozen or stopped, the publisher stopped: operations interrupted

/// Publisher B (on `keystone_b` when given) with a partner for A and a
/// published vregion; subscriber A (on `keystone_a` when given) with that
/// publisher registered.
struct Story {
    publisher: PublisherProcess,
    subscriber: SubscriberProcess,
    b_admin: ApiClient,
    api: ApiClient,
    partner: Name,
    vregion: Name,
    b_name: Name,
    entity_id: String,
    /// The clouds.yaml copies naming the private Keystones, removed when
    /// the story ends.
    _clouds: Vec<tempfile::TempDir>,
}

/// How a [`Story`] is set up.
#[derive(Default)]
struct StoryOptions<'a> {
    /// The publisher's Keystone B (else the testbed's).
    keystone_b: Option<&'a PrivateKeystone>,
    /// The subscriber's Keystone A (else the testbed's).
    keystone_a: Option<&'a PrivateKeystone>,
    /// The publisher's `[testing] pause_after_step`.
    publisher_pause: Option<&'a str>,
    /// The subscriber's `[testing] pause_after_step`.
    subscriber_pause: Option<&'a str>,
}

/// The settings that make a service reach its Keystone (`cloud`) at
/// `private`: a copy of the testbed's clouds.yaml with that Keystone's URL
/// on the private process's port, and `[keystone] public_url` the
/// testbed's (what others are told). Keystone calls time out after 5 s.
/// The directory holding the copy is returned: keep it while the service
/// runs.
fn on_keystone(cloud: Cloud, private: Option<&PrivateKeystone>) -> (Vec<(String, String)>, Option<tempfile::TempDir>) {
    let tb = Testbed::get();
    let mut env = vec![("MERCADOR_KEYSTONE__TIMEOUT_SECS".to_owned(), "5".to_owned())];
    if let Some(private) = private {
        let url = tb.url(cloud).to_string();
        let clouds = std::fs::read_to_string(tb.clouds_yaml())
            .unwrap()
            .replace(url.trim_end_matches('/'), private.url().as_str().trim_end_matches('/'));
        let dir = tempfile::Builder::new().prefix("mercador-outage-clouds-").tempdir().unwrap();
        let path = dir.path().join("clouds.yaml");
        std::fs::write(&path, clouds).unwrap();
        env.push(("MERCADOR_KEYSTONE__CLOUDS_YAML".to_owned(), path.display().to_string()));
        env.push(("MERCADOR_KEYSTONE__PUBLIC_URL".to_owned(), url));
        return (env, Some(dir));
    }
    (env, None)
}

impl Story {
    async fn set_up(turn: &EntityTurn, tag: &str, options: StoryOptions<'_>) -> Self {
        let tb = Testbed::get();
        let entity_id = turn.entity_id().to_string();
        free_entity_on_b(&entity_id).await;
        let (env, b_clouds) = on_keystone(Cloud::B, options.keystone_b);
        let publisher = PublisherProcess::start(PublisherOptions {
            env,
            reconcile_interval_secs: 5,
            pause_after_step: options.publisher_pause.map(str::to_owned),
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

        let (a_env, a_clouds) = on_keystone(Cloud::A, options.keystone_a);
        let subscriber = SubscriberProcess::start_with(SubscriberOptions {
            identity: Some(turn.identity().clone()),
            reconcile_interval_secs: 5,
            pause_after_step: options.subscriber_pause.map(str::to_owned),
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

    /// `POST /v1/bindings` of the story's vregion as `alias`.
    async fn subscribe(&self, alias: &Name) -> Answer {
        self.api.post("/v1/bindings", &json!({"publisher": self.b_name, "vregion": self.vregion, "alias": alias})).await
    }

    /// Starts a subscribe as `alias` and returns once `service`'s log says
    /// it paused after its step (the test hook `pause_after_step`), with the
    /// pending answer.
    async fn subscribe_until_paused(
        &self,
        alias: &Name,
        service: &support::ServiceProcess,
    ) -> tokio::task::JoinHandle<Answer> {
        let paused_before = service.log().matches("pausing after step").count();
        let api = self.api.clone();
        let body = json!({"publisher": self.b_name, "vregion": self.vregion, "alias": alias});
        let pending = tokio::spawn(async move { api.post("/v1/bindings", &body).await });
        let deadline = Instant::now() + ANSWER_BOUND;
        while service.log().matches("pausing after step").count() == paused_before {
            assert!(!pending.is_finished(), "the subscribe ended before the pause: {:?}", pending.await);
            assert!(Instant::now() < deadline, "no pause within {ANSWER_BOUND:?}:\n{}", service.log_tail(30));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        pending
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

/// Asserts the answer of an operation an outage interrupted: the outage
/// (code, dependency, `Retry-After`), and `operation` with its name, the
/// binding, `state`, that it continues and how to follow it; returns the
/// error object.
#[track_caller]
fn assert_interrupted(answer: &Answer, dependency: &str, operation: &str, alias: &Name, state: &str) -> Value {
    let error = assert_outage(answer, "keystone_unavailable", dependency);
    let op = &error["operation"];
    assert_eq!(op["name"], operation, "{answer}");
    assert_eq!(op["binding"], alias.as_str(), "{answer}");
    assert_eq!(op["state"], state, "{answer}");
    assert!(op["step"].as_str().is_some_and(|s| !s.is_empty()), "the step reached: {answer}");
    assert_eq!(op["continues_in_background"], true, "{answer}");
    assert!(op["follow"].as_str().unwrap().contains(&format!("mercador binding show {alias}")), "{answer}");
    error
}

#[tokio::test]
async fn keystone_b_frozen_during_a_subscribe_a_refresh_and_a_cancel_then_thawed() {
    let turn = a_entity_turn().await;
    let mut keystone_b = PrivateKeystone::of_b().await;
    let story =
        Story::set_up(&turn, "ks-frozen", StoryOptions { keystone_b: Some(&keystone_b), ..StoryOptions::default() })
            .await;
    let (publisher_pid, subscriber_pid) = (story.publisher.pid(), story.subscriber.pid());

    // Subscribe: the publisher's first call to Keystone B (the partner's
    // token) hangs until its timeout (5 s).
    keystone_b.freeze();
    let alias = name("ks-frozen-al");
    let start = Instant::now();
    let answer = story.subscribe(&alias).await;
    let took = start.elapsed();
    let error = assert_interrupted(&answer, "keystone_b", "subscribe", &alias, "provisioning");
    assert_eq!(error["outage"], "too_slow", "{answer}");
    assert_eq!(error["operation"]["step"], "remote_subscribe", "{answer}");
    assert!(took < ANSWER_BOUND + Duration::from_secs(30), "subscribe answered after {took:?}");
    println!("subscribe with Keystone B frozen: {took:?}: {}", error["message"]);
    let shown = story.api.get(&format!("/v1/bindings/{alias}")).await.expect(200);
    assert_eq!(shown["state"], "provisioning", "{shown}");

    // Asking again while it is frozen: harmless, the same answer.
    let again = story.subscribe(&alias).await;
    assert_outage(&again, "keystone_unavailable", "keystone_b");

    // SIGCONT: the binding converges by itself.
    keystone_b.thaw();
    let active = wait_for_binding(&story.api, &alias, "active", CONVERGE_BOUND).await;
    println!("active {:?} after Keystone B was thawed", start.elapsed());
    assert!(active["error"].is_null(), "{active}");
    assert_eq!(story.publisher.pid(), publisher_pid);
    assert_eq!(story.subscriber.pid(), subscriber_pid);

    // A refresh while Keystone B is frozen: named, retryable; the binding stays active.
    keystone_b.freeze();
    let start = Instant::now();
    let answer = story.api.post_empty(&format!("/v1/bindings/{alias}/refresh")).await;
    let error = assert_outage(&answer, "keystone_unavailable", "keystone_b");
    assert!(start.elapsed() < ANSWER_BOUND, "refresh answered after {:?}", start.elapsed());
    assert!(error["operation"].is_null(), "nothing continues for an active binding: {answer}");
    println!("refresh with Keystone B frozen: {:?}", start.elapsed());
    let start = Instant::now();
    let health = ApiClient::new(story.publisher.url()).get("/healthz").await;
    assert_eq!(health.status, 503, "the publisher's /healthz with its Keystone frozen: {health}");
    assert_ne!(health.json()["keystone"]["status"], "ok", "{health}");
    assert!(start.elapsed() < ANSWER_BOUND, "/healthz took {:?}", start.elapsed());
    println!("the publisher's /healthz with Keystone B frozen: {:?}", start.elapsed());
    let shown = story.api.get(&format!("/v1/bindings/{alias}")).await.expect(200);
    assert_eq!(shown["state"], "active", "{shown}");

    // A cancel while Keystone B is frozen: interrupted, continues, ends once thawed.
    let start = Instant::now();
    let answer = story.api.delete(&format!("/v1/bindings/{alias}")).await;
    assert_interrupted(&answer, "keystone_b", "cancel", &alias, "cancelling");
    assert!(start.elapsed() < ANSWER_BOUND, "cancel answered after {:?}", start.elapsed());
    println!("cancel with Keystone B frozen: {:?}", start.elapsed());
    keystone_b.thaw();
    wait_for_binding(&story.api, &alias, "cancelled", CONVERGE_BOUND).await;
    println!("cancelled {:?} after Keystone B was thawed", start.elapsed());
    assert_eq!(story.publisher.pid(), publisher_pid);
    story.cancel_and_check_clean(&alias).await;
}

#[tokio::test]
async fn keystone_b_stopped_in_the_middle_of_a_subscribe_then_during_a_refresh_and_a_cancel() {
    let turn = a_entity_turn().await;
    let mut keystone_b = PrivateKeystone::of_b().await;
    // The publisher pauses after creating B's identity provider for A: the
    // test stops Keystone B then, so the mapping's creation is refused.
    let options = StoryOptions {
        keystone_b: Some(&keystone_b),
        publisher_pause: Some("identity_provider:3s"),
        ..StoryOptions::default()
    };
    let story = Story::set_up(&turn, "ks-stopped", options).await;
    let (publisher_pid, subscriber_pid) = (story.publisher.pid(), story.subscriber.pid());

    let alias = name("ks-stopped-al");
    let pending = story.subscribe_until_paused(&alias, &story.publisher).await;
    keystone_b.stop();
    let start = Instant::now();
    let answer = pending.await.unwrap();
    let took = start.elapsed();
    let error = assert_interrupted(&answer, "keystone_b", "subscribe", &alias, "provisioning");
    assert_eq!(error["outage"], "unreachable", "connection refused: {answer}");
    assert!(took < ANSWER_BOUND, "subscribe answered {took:?} after Keystone B stopped");
    println!("subscribe with Keystone B stopped after the identity provider: {took:?}: {}", error["message"]);
    // Asked again while it is stopped: at once, the same outage.
    let start = Instant::now();
    let again = story.subscribe(&alias).await;
    assert_outage(&again, "keystone_unavailable", "keystone_b");
    assert!(start.elapsed() < ANSWER_BOUND, "asked again: {:?}", start.elapsed());
    let health = ApiClient::new(story.publisher.url()).get("/healthz").await;
    assert_eq!(health.status, 503, "the publisher's /healthz with its Keystone stopped: {health}");

    // Started again: the binding converges by itself (the publisher resumes
    // at the mapping), neither service restarted.
    let restart = Instant::now();
    keystone_b.start().await;
    println!("Keystone B started again in {:?}", restart.elapsed());
    let start = Instant::now();
    let active = wait_for_binding(&story.api, &alias, "active", CONVERGE_BOUND).await;
    println!("active {:?} after Keystone B was started again", start.elapsed());
    assert!(active["error"].is_null(), "{active}");

    // A refresh with Keystone B stopped: refused connections, answered at once.
    keystone_b.stop();
    let start = Instant::now();
    let answer = story.api.post_empty(&format!("/v1/bindings/{alias}/refresh")).await;
    let error = assert_outage(&answer, "keystone_unavailable", "keystone_b");
    assert!(start.elapsed() < ANSWER_BOUND, "refresh answered after {:?}", start.elapsed());
    assert!(error["operation"].is_null(), "nothing continues for an active binding: {answer}");
    println!("refresh with Keystone B stopped: {:?}", start.elapsed());
    assert_eq!(story.api.get(&format!("/v1/bindings/{alias}")).await.expect(200)["state"], "active");

    // A cancel with Keystone B stopped: interrupted, continues; started: cancelled.
    let start = Instant::now();
    let answer = story.api.delete(&format!("/v1/bindings/{alias}")).await;
    assert_interrupted(&answer, "keystone_b", "cancel", &alias, "cancelling");
    assert!(start.elapsed() < ANSWER_BOUND, "cancel answered after {:?}", start.elapsed());
    println!("cancel with Keystone B stopped: {:?}", start.elapsed());
    let restart = Instant::now();
    keystone_b.start().await;
    println!("Keystone B started again in {:?}", restart.elapsed());
    wait_for_binding(&story.api, &alias, "cancelled", CONVERGE_BOUND).await;
    assert_eq!((story.publisher.pid(), story.subscriber.pid()), (publisher_pid, subscriber_pid), "not restarted");
    story.cancel_and_check_clean(&alias).await;
}

#[tokio::test]
async fn the_publisher_stopped_during_a_subscribe_then_started_again() {
    let turn = a_entity_turn().await;
    let mut story = Story::set_up(&turn, "pub-down", StoryOptions::default()).await;
    let subscriber_pid = story.subscriber.pid();

    story.publisher.terminate().await;
    let alias = name("pub-down-al");
    let start = Instant::now();
    let answer = story.subscribe(&alias).await;
    let took = start.elapsed();
    let error = assert_outage(&answer, "publisher_unavailable", "publisher");
    assert!(took < ANSWER_BOUND, "subscribe answered after {took:?}");
    assert_eq!(error["operation"]["state"], "provisioning", "{answer}");
    assert_eq!(error["operation"]["step"], "remote_subscribe", "{answer}");
    println!("subscribe with the publisher stopped: {took:?}: {}", error["message"]);

    story.publisher.restart().await;
    wait_for_binding(&story.api, &alias, "active", CONVERGE_BOUND).await;
    assert_eq!(story.subscriber.pid(), subscriber_pid, "the subscriber was not restarted");

    // Cancel while the publisher is stopped: interrupted, continues; back: cancelled.
    story.publisher.terminate().await;
    let answer = story.api.delete(&format!("/v1/bindings/{alias}")).await;
    let error = assert_outage(&answer, "publisher_unavailable", "publisher");
    assert_eq!(error["operation"]["name"], "cancel", "{answer}");
    assert_eq!(error["operation"]["state"], "cancelling", "{answer}");
    story.publisher.restart().await;
    wait_for_binding(&story.api, &alias, "cancelled", CONVERGE_BOUND).await;
    story.cancel_and_check_clean(&alias).await;
}

#[tokio::test]
async fn keystone_a_frozen_and_stopped_during_subscribes_a_refresh_and_a_cancel() {
    let turn = a_entity_turn().await;
    let mut keystone_a = PrivateKeystone::of_a(turn.identity()).await;
    // The subscriber pauses after creating A's service provider: the test
    // stops Keystone A then, so the region's creation is refused.
    let options = StoryOptions {
        keystone_a: Some(&keystone_a),
        subscriber_pause: Some("service_provider:3s"),
        ..StoryOptions::default()
    };
    let story = Story::set_up(&turn, "ksa-out", options).await;
    let subscriber_pid = story.subscriber.pid();
    // The caller's token is validated (and cached) before Keystone A freezes.
    story.api.get("/v1/bindings").await.expect(200);

    // Subscribe with Keystone A frozen: it is asked first (are the alias's
    // region and service provider free?): nothing is started, nothing recorded.
    keystone_a.freeze();
    let alias = name("ksa-out-al");
    let start = Instant::now();
    let answer = story.subscribe(&alias).await;
    let error = assert_outage(&answer, "keystone_unavailable", "keystone_a");
    assert_eq!(error["outage"], "too_slow", "{answer}");
    assert!(start.elapsed() < ANSWER_BOUND, "subscribe answered after {:?}", start.elapsed());
    assert!(error["operation"].is_null(), "nothing started: {answer}");
    println!("subscribe with Keystone A frozen: {:?}", start.elapsed());
    let start = Instant::now();
    let health = ApiClient::new(story.subscriber.url()).get("/healthz").await;
    assert_eq!(health.status, 503, "{health}");
    assert!(start.elapsed() < ANSWER_BOUND, "/healthz took {:?}", start.elapsed());
    keystone_a.thaw();
    assert_eq!(story.api.get(&format!("/v1/bindings/{alias}")).await.status, 404, "no binding recorded");

    // Subscribe, and Keystone A stops after the service provider was
    // created: interrupted, continues once it is started again.
    let pending = story.subscribe_until_paused(&alias, &story.subscriber).await;
    keystone_a.stop();
    let start = Instant::now();
    let answer = pending.await.unwrap();
    let error = assert_interrupted(&answer, "keystone_a", "subscribe", &alias, "provisioning");
    assert_eq!(error["outage"], "unreachable", "connection refused: {answer}");
    assert!(start.elapsed() < ANSWER_BOUND, "subscribe answered {:?} after Keystone A stopped", start.elapsed());
    println!(
        "subscribe with Keystone A stopped after the service provider: {:?}, step {}",
        start.elapsed(),
        error["operation"]["step"]
    );
    let health = ApiClient::new(story.subscriber.url()).get("/healthz").await;
    assert_eq!(health.status, 503, "{health}");
    let restart = Instant::now();
    keystone_a.start().await;
    println!("Keystone A started again in {:?}", restart.elapsed());
    let start = Instant::now();
    let active = wait_for_binding(&story.api, &alias, "active", CONVERGE_BOUND).await;
    println!("active {:?} after Keystone A was started again", start.elapsed());
    assert!(active["error"].is_null(), "{active}");

    // A refresh with Keystone A stopped: named, retryable; still active.
    keystone_a.stop();
    let start = Instant::now();
    let answer = story.api.post_empty(&format!("/v1/bindings/{alias}/refresh")).await;
    let error = assert_outage(&answer, "keystone_unavailable", "keystone_a");
    assert!(start.elapsed() < ANSWER_BOUND, "refresh answered after {:?}", start.elapsed());
    assert!(error["operation"].is_null(), "nothing continues for an active binding: {answer}");
    println!("refresh with Keystone A stopped: {:?}", start.elapsed());
    let restart = Instant::now();
    keystone_a.start().await;
    println!("Keystone A started again in {:?}", restart.elapsed());
    assert_eq!(story.api.get(&format!("/v1/bindings/{alias}")).await.expect(200)["state"], "active");

    // Cancel: the publisher's side is cancelled, then Keystone A, frozen,
    // does not answer the removal of A's objects: interrupted, continues,
    // ends once it is thawed.
    keystone_a.freeze();
    let start = Instant::now();
    let answer = story.api.delete(&format!("/v1/bindings/{alias}")).await;
    let error = assert_interrupted(&answer, "keystone_a", "cancel", &alias, "cancelling");
    assert!(start.elapsed() < ANSWER_BOUND, "cancel answered after {:?}", start.elapsed());
    println!("cancel with Keystone A frozen: {:?}, step {}", start.elapsed(), error["operation"]["step"]);
    keystone_a.thaw();
    wait_for_binding(&story.api, &alias, "cancelled", CONVERGE_BOUND).await;
    assert_eq!(story.subscriber.pid(), subscriber_pid, "the subscriber was not restarted");
    story.cancel_and_check_clean(&alias).await;
}

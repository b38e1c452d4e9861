//! Support for the service tests: the real `mercador-server` binary run as
//! a child process against the running testbed, and a small JSON client.
//!
//! ```ignore
//! mod support;
//! use support::{ApiClient, PublisherOptions, PublisherProcess, admin_token};
//!
//! let publisher = PublisherProcess::start(PublisherOptions::default()).await;
//! let admin = ApiClient::new(publisher.url()).with_token(admin_token().await);
//! let answer = admin.get("/v1/admin/vregions").await;
//! assert_eq!(answer.status, 200, "{answer}");
//! ```
//!
//! Each process gets its own temporary directory (configuration, secrets
//! key, SQLite database unless another URL is given, log file) and a free
//! port on 127.0.0.1; it is killed when the [`PublisherProcess`] is dropped.
//! When a test fails, the directory is kept and the log's tail printed.
//!
//! By default the endpoints are registered in Keystone B's region of the
//! testbed (`RegionTwo`), where subscribers look for them; tests that must
//! not disturb each other's catalog entries pass their own `region`.

#![allow(dead_code, unreachable_pub)] // each test binary uses part of this module
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support: failing loudly is the point

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use mercador_core::keystone::types::{NewProject, NewUser};
use mercador_core::keystone::{
    Credentials, DirectAuth, HttpClient, HttpConfig, IdentityApi, KeystoneClient, Scope, Session, types::Actor,
    types::Filter, types::Target,
};
use mercador_tests::{Cloud, Identity, Testbed, unique};
use reqwest::Method;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::OnceCell;
use url::Url;

pub mod leftovers;

/// How long a start may take before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// What to run the service with.
#[derive(Debug, Clone)]
pub struct PublisherOptions {
    /// `[database] url` (default: SQLite in the process's directory).
    pub database_url: Option<String>,
    /// `[testing] pause_after_step`, e.g. `"identity_provider:30s"`.
    pub pause_after_step: Option<String>,
    /// `[server] region` (default: the testbed's Keystone B region).
    pub region: Option<String>,
    /// `[server] reconcile_interval_secs`.
    pub reconcile_interval_secs: u64,
    /// `[server] body_limit`.
    pub body_limit: Option<usize>,
    /// Further settings as `MERCADOR_<SECTION>__<KEY>` environment variables.
    pub env: Vec<(String, String)>,
    /// `RUST_LOG` of the process.
    pub log_filter: String,
}

impl Default for PublisherOptions {
    fn default() -> Self {
        Self {
            database_url: None,
            pause_after_step: None,
            region: None,
            reconcile_interval_secs: 30,
            body_limit: None,
            env: Vec::new(),
            log_filter: "info,mercador_core=debug,mercador_server=debug,tower_http=debug".into(),
        }
    }
}

/// One Mercador service binary run as a child process (the common part of
/// [`PublisherProcess`] and [`SubscriberProcess`], which deref to it): its
/// own temporary directory (configuration, secrets key, SQLite database,
/// log) and port on 127.0.0.1. Killed when dropped; when a test fails, the
/// directory is kept and the log's tail printed.
pub struct ServiceProcess {
    /// `publisher` or `subscriber`: the binary's subcommand, and the name
    /// of the configuration and log files.
    kind: &'static str,
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    config_path: PathBuf,
    log_path: PathBuf,
    port: u16,
    log_filter: String,
    env: Vec<(String, String)>,
}

impl fmt::Debug for ServiceProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceProcess")
            .field("kind", &self.kind)
            .field("pid", &self.child.as_ref().map(Child::id))
            .field("url", &self.url().as_str())
            .field("dir", &self.path)
            .finish()
    }
}

impl ServiceProcess {
    /// A directory with a fresh secrets key (`secrets.key`) and a free
    /// port; the caller writes [`Self::config_path`], then calls
    /// [`Self::spawn_and_wait`].
    fn prepare(kind: &'static str, log_filter: String, env: Vec<(String, String)>) -> Self {
        let dir = tempfile::Builder::new().prefix(&format!("mercador-{kind}-")).tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        std::fs::write(path.join("secrets.key"), random_key()).expect("write the secrets key");
        Self {
            kind,
            child: None,
            config_path: path.join(format!("{kind}.toml")),
            log_path: path.join(format!("{kind}.log")),
            dir: Some(dir),
            path,
            port: free_port(),
            log_filter,
            env,
        }
    }

    /// Starts `mercador-server <kind> --config FILE` and waits until
    /// `/healthz` answers 200 (registered in the catalog by then). Panics
    /// with the log's tail when it does not.
    async fn spawn_and_wait(&mut self) {
        let log = OpenOptions::new().create(true).append(true).open(&self.log_path).expect("open the log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_mercador-server"));
        command
            .args([self.kind, "--config"])
            .arg(&self.config_path)
            .current_dir(&self.path)
            .env("RUST_LOG", &self.log_filter)
            .env_remove("OS_CLOUD")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        self.child = Some(command.spawn().unwrap_or_else(|e| panic!("spawn mercador-server {}: {e}", self.kind)));
        let client = ApiClient::new(self.url());
        let deadline = Instant::now() + START_TIMEOUT;
        let mut last = String::from("no answer");
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().expect("try_wait")) {
                panic!("the {} service exited during start ({status}); log:\n{}", self.kind, self.log_tail(60));
            }
            match client.try_get("/healthz").await {
                Ok(answer) if answer.status == 200 => return,
                Ok(answer) => last = answer.to_string(),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the {} service is not healthy after {START_TIMEOUT:?} (last: {last}); log:\n{}",
            self.kind,
            self.log_tail(60)
        );
    }

    /// The service's base URL (`http://127.0.0.1:<port>/`).
    pub fn url(&self) -> Url {
        Url::parse(&format!("http://127.0.0.1:{}/", self.port)).expect("url")
    }

    /// The process id (panics when not running).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap_or_else(|| panic!("the {} service is not running", self.kind)).id()
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().expect("try_wait").is_none())
    }

    /// The process's directory (configuration, key, database, log).
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// The configuration file (a test may edit it before [`Self::restart`]).
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The whole log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// SIGKILL, as a crash: nothing runs to its end ([`Self::restart`]
    /// starts it again).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for the graceful stop (at most 30 s, then
    /// SIGKILL and a panic); returns how it ended.
    pub async fn terminate(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -TERM {} failed", child.id());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the {} service did not stop within 30 s of SIGTERM; log:\n{}", self.kind, self.log_tail(40));
    }

    /// Stops the process if it runs (SIGTERM) and starts it again with the
    /// same configuration, port and database.
    pub async fn restart(&mut self) {
        if self.is_running() {
            self.terminate().await;
        } else {
            self.kill9();
        }
        let mut log = OpenOptions::new().append(true).open(&self.log_path).expect("open the log");
        let _ = writeln!(log, "---- restart ----");
        self.spawn_and_wait().await;
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            let kept = dir.keep();
            let log = kept.join(format!("{}.log", self.kind));
            eprintln!("{} log ({}):\n{}", self.kind, log.display(), self.log_tail(40));
        }
    }
}

/// The publisher service (`mercador-server publisher`) over Keystone B,
/// running as a child process; see [`ServiceProcess`] for what it derefs to.
#[derive(Debug)]
pub struct PublisherProcess {
    service: ServiceProcess,
    options: PublisherOptions,
    database_url: String,
}

impl std::ops::Deref for PublisherProcess {
    type Target = ServiceProcess;
    fn deref(&self) -> &ServiceProcess {
        &self.service
    }
}

impl std::ops::DerefMut for PublisherProcess {
    fn deref_mut(&mut self) -> &mut ServiceProcess {
        &mut self.service
    }
}

impl PublisherProcess {
    /// Writes a configuration for the testbed, starts the binary and waits
    /// until `/healthz` answers 200 (it has registered in the catalog by
    /// then). Panics with the log's tail when it does not.
    pub async fn start(options: PublisherOptions) -> Self {
        let tb = Testbed::get();
        let mut service = ServiceProcess::prepare("publisher", options.log_filter.clone(), options.env.clone());
        let port = service.port;
        let database_url = options
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", service.path.join("publisher.db").display()));
        let region = options.region.clone().unwrap_or_else(|| tb.region(Cloud::B).to_owned());
        let mut toml = format!(
            r#"[server]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
region = {region:?}
reconcile_interval_secs = {interval}
request_timeout_secs = 120
shutdown_grace_secs = 10
log_format = "pretty"
{body_limit}
[keystone]
cloud = "testbed-b"
clouds_yaml = {clouds:?}

[federation]
sp_url = {sp_url:?}
metadata_dir = {metadata_dir:?}

[database]
url = {database_url:?}

[secrets]
key_id = "test-1"
key_file = "secrets.key"
"#,
            interval = options.reconcile_interval_secs,
            body_limit = options.body_limit.map(|l| format!("body_limit = {l}")).unwrap_or_default(),
            clouds = tb.clouds_yaml().display().to_string(),
            sp_url = tb.var("KEYSTONE_B_ECP_URL"),
            metadata_dir = tb.var("KEYSTONE_B_SHIB_METADATA_DIR"),
        );
        if let Some(pause) = &options.pause_after_step {
            toml.push_str(&format!("\n[testing]\npause_after_step = {pause:?}\n"));
        }
        std::fs::write(&service.config_path, toml).expect("write the configuration");
        service.spawn_and_wait().await;
        Self { service, options, database_url }
    }

    /// `[database] url`.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// What it was started with.
    pub fn options(&self) -> &PublisherOptions {
        &self.options
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn random_key() -> String {
    let mut bytes = [0u8; 32];
    File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).expect("read /dev/urandom");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A token of Keystone B's admin (project admin), shared by the tests of a binary.
pub async fn admin_token() -> SecretString {
    static TOKEN: OnceCell<SecretString> = OnceCell::const_new();
    TOKEN
        .get_or_init(|| async {
            let token = Testbed::get().admin_session(Cloud::B).token().await.expect("admin token of Keystone B");
            token.secret().clone()
        })
        .await
        .clone()
}

/// A Keystone client of B's admin.
pub fn keystone_b() -> KeystoneClient {
    Testbed::get().admin(Cloud::B)
}

/// A token of a partner, from the application credential its onboarding
/// returned (`application_credential_id`, `application_credential_secret`).
pub async fn partner_token(onboarded: &Value) -> SecretString {
    let id = onboarded["application_credential_id"].as_str().expect("application_credential_id");
    let secret = onboarded["application_credential_secret"].as_str().expect("application_credential_secret");
    let tb = Testbed::get();
    let auth = DirectAuth::new(
        &tb.url(Cloud::B),
        Credentials::application_credential(id, SecretString::from(secret.to_owned())),
    )
    .expect("auth");
    let session = Session::new(Arc::new(auth), Scope::Unscoped).expect("session");
    session.token().await.expect("partner token").secret().clone()
}

/// A throwaway user of Keystone B with role `member` on a throwaway project
/// of domain Default: neither an admin nor a partner.
#[derive(Debug)]
pub struct ThrowawayUser {
    /// Its project id.
    pub project_id: String,
    /// Its user id.
    pub user_id: String,
    /// A token scoped to its project.
    pub token: SecretString,
}

impl ThrowawayUser {
    /// Creates the project and user and gets a token; [`Self::delete`] removes them.
    pub async fn create() -> Self {
        let k = keystone_b();
        let name = unique("mercador-srv-user");
        let project = k
            .create_project(&NewProject {
                name: name.clone(),
                domain_id: "default".into(),
                description: Some("mercador-server test".into()),
                enabled: true,
                parent_id: None,
                tags: Vec::new(),
            })
            .await
            .expect("create project");
        let password = SecretString::from(format!("pw-{}", unique("x")));
        let user = k
            .create_user(&NewUser {
                name: name.clone(),
                domain_id: "default".into(),
                password: Some(password.clone()),
                description: None,
                default_project_id: None,
                enabled: true,
            })
            .await
            .expect("create user");
        let member = k.list_roles(&Filter::new().name("member")).await.expect("roles");
        let member = member.first().expect("role member on Keystone B");
        k.grant_role(&member.id, &Actor::User(user.id.clone()), &Target::Project(project.id.clone()))
            .await
            .expect("grant member");
        let session = Testbed::get().session(
            Cloud::B,
            Credentials::password(name.clone(), "Default", password),
            Scope::project_id(project.id.clone()),
        );
        let token = session.token().await.expect("token of the throwaway user").secret().clone();
        Self { project_id: project.id, user_id: user.id, token }
    }

    /// Deletes the user and the project.
    pub async fn delete(self) {
        let k = keystone_b();
        let _ = k.delete_user(&self.user_id).await;
        let _ = k.delete_project(&self.project_id).await;
    }
}

/// An answer of the service.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body text.
    pub text: String,
}

impl Answer {
    /// The body as JSON (`Null` when empty; panics when not JSON).
    pub fn json(&self) -> Value {
        if self.text.is_empty() {
            return Value::Null;
        }
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {self}"))
    }

    /// `error.code` of an error answer.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_else(|| panic!("not an error body: {self}")).to_owned()
    }

    /// `error.message` of an error answer.
    pub fn error_message(&self) -> String {
        self.json()["error"]["message"].as_str().unwrap_or_else(|| panic!("not an error body: {self}")).to_owned()
    }

    /// Asserts the status, and for errors the JSON error shape; returns the body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{self}");
        let body = self.json();
        if status >= 400 {
            let error = &body["error"];
            assert_eq!(error["status"], status, "{self}");
            for key in ["code", "title", "message"] {
                assert!(error[key].as_str().is_some_and(|s| !s.is_empty()), "no error.{key}: {self}");
            }
            let content_type = self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
            assert!(content_type.starts_with("application/json"), "content-type {content_type}: {self}");
        }
        body
    }
}

/// JSON keys whose values are secrets: never printed by a failing test.
const SECRET_KEYS: &[&str] = &["password", "token", "application_credential_secret", "secret"];

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if SECRET_KEYS.contains(&key.as_str()) && v.is_string() {
                    *v = Value::String("[REDACTED]".into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

impl fmt::Display for Answer {
    /// The status and the body, secrets redacted (a failing assertion
    /// prints it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = match serde_json::from_str::<Value>(&self.text) {
            Ok(mut json) => {
                redact(&mut json);
                json.to_string()
            }
            Err(_) => self.text.clone(),
        };
        let text: String = body.chars().take(2000).collect();
        write!(f, "HTTP {}: {text}", self.status)
    }
}

/// A JSON client of the service.
#[derive(Clone)]
pub struct ApiClient {
    base: Url,
    token: Option<SecretString>,
    http: reqwest::Client,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

impl ApiClient {
    /// A client of the service at `base`, without a token.
    pub fn new(base: Url) -> Self {
        // Through mercador-core's client: it picks the TLS provider reqwest needs.
        let http = HttpClient::new(&HttpConfig { timeout: Duration::from_secs(150), ..HttpConfig::default() })
            .expect("HTTP client")
            .reqwest()
            .clone();
        Self { base, token: None, http }
    }

    /// The same client sending this token in `X-Auth-Token`.
    pub fn with_token(&self, token: SecretString) -> Self {
        Self { token: Some(token), ..self.clone() }
    }

    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> Url {
        self.base.join(path.trim_start_matches('/')).expect("url")
    }

    /// A request with optional body and content type; panics when the
    /// service cannot be reached.
    pub async fn request(&self, method: Method, path: &str, body: Option<(&str, Vec<u8>)>) -> Answer {
        self.try_request(self.builder(method, path), body).await.unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A request built by the caller (extra headers, no token...).
    pub fn builder(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut builder = self.http.request(method, self.url(path));
        if let Some(token) = &self.token {
            builder = builder.header("X-Auth-Token", token.expose_secret());
        }
        builder
    }

    /// Sends a built request.
    pub async fn send(&self, builder: reqwest::RequestBuilder) -> Answer {
        self.try_request(builder, None).await.unwrap_or_else(|e| panic!("request failed: {e}"))
    }

    /// A built request with an optional body; `Err` (the transport's
    /// error, `Debug`-formatted) when no answer came.
    pub async fn try_request(
        &self,
        mut builder: reqwest::RequestBuilder,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Answer, String> {
        if let Some((content_type, bytes)) = body {
            builder = builder.header("Content-Type", content_type).body(bytes);
        }
        let response = builder.send().await.map_err(|e| format!("{e:?}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|e| e.to_string())?;
        Ok(Answer { status, headers, text })
    }

    async fn try_get(&self, path: &str) -> Result<Answer, String> {
        self.try_request(self.builder(Method::GET, path), None).await
    }

    /// `POST` with a JSON body; `Err` when no answer came (the service died).
    #[allow(dead_code)] // not every test binary uses it
    pub async fn try_post(&self, path: &str, body: &Value) -> Result<Answer, String> {
        let bytes = body.to_string().into_bytes();
        self.try_request(self.builder(Method::POST, path), Some(("application/json", bytes))).await
    }

    /// `DELETE`; `Err` when no answer came (the service died).
    #[allow(dead_code)] // not every test binary uses it
    pub async fn try_delete(&self, path: &str) -> Result<Answer, String> {
        self.try_request(self.builder(Method::DELETE, path), None).await
    }

    /// `GET`.
    pub async fn get(&self, path: &str) -> Answer {
        self.request(Method::GET, path, None).await
    }

    /// `DELETE`.
    pub async fn delete(&self, path: &str) -> Answer {
        self.request(Method::DELETE, path, None).await
    }

    /// `POST` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.request(Method::POST, path, Some(("application/json", body.to_string().into_bytes()))).await
    }

    /// `POST` without a body.
    pub async fn post_empty(&self, path: &str) -> Answer {
        self.request(Method::POST, path, None).await
    }

    /// `PUT` with a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.request(Method::PUT, path, Some(("application/json", body.to_string().into_bytes()))).await
    }
}

/// The subscriber service (`mercador-server subscriber`) over Keystone A,
/// running as a child process; see [`ServiceProcess`] for what it derefs to.
#[derive(Debug)]
pub struct SubscriberProcess {
    service: ServiceProcess,
}

impl std::ops::Deref for SubscriberProcess {
    type Target = ServiceProcess;
    fn deref(&self) -> &ServiceProcess {
        &self.service
    }
}

impl std::ops::DerefMut for SubscriberProcess {
    fn deref_mut(&mut self) -> &mut ServiceProcess {
        &mut self.service
    }
}

/// What to run the subscriber service with ([`SubscriberProcess::start_with`]).
#[derive(Debug, Clone)]
pub struct SubscriberOptions {
    /// `[server] refresh_interval_secs`.
    pub refresh_interval_secs: u64,
    /// `[server] reconcile_interval_secs`.
    pub reconcile_interval_secs: u64,
    /// `[server] lease_ttl_secs` (default: the service's, 120 s).
    pub lease_ttl_secs: Option<u64>,
    /// `[testing] pause_after_step`, e.g. `"region:120s"`.
    pub pause_after_step: Option<String>,
    /// Keystone A's SAML identity (`[federation]`; default: identity 0, the
    /// one on `KEYSTONE_A_URL`): the test's turn.
    pub identity: Option<Identity>,
    /// `[server] region`, where it registers in A's catalog (default: A's
    /// region, where the last subscriber started takes the entry).
    pub region: Option<String>,
    /// Further settings as `MERCADOR_<SECTION>__<KEY>` environment variables.
    pub env: Vec<(String, String)>,
}

impl Default for SubscriberOptions {
    fn default() -> Self {
        Self {
            refresh_interval_secs: 300,
            reconcile_interval_secs: 30,
            lease_ttl_secs: None,
            pause_after_step: None,
            identity: None,
            region: None,
            env: Vec::new(),
        }
    }
}

impl SubscriberProcess {
    /// Writes a configuration for the testbed (Keystone A's admin, A's SAML
    /// identity), starts the binary and waits until `/healthz` answers 200.
    pub async fn start(identity: &Identity, refresh_interval_secs: u64) -> Self {
        let identity = Some(identity.clone());
        Self::start_with(SubscriberOptions { refresh_interval_secs, identity, ..SubscriberOptions::default() }).await
    }

    /// [`Self::start`] with more settings (intervals, lease, test hook).
    pub async fn start_with(options: SubscriberOptions) -> Self {
        let SubscriberOptions {
            refresh_interval_secs,
            reconcile_interval_secs,
            lease_ttl_secs,
            pause_after_step,
            identity,
            region,
            env,
        } = options;
        let tb = Testbed::get();
        let identity = identity.unwrap_or_else(|| tb.identity(0));
        let mut service = ServiceProcess::prepare(
            "subscriber",
            "info,mercador_core=debug,mercador_server=debug,tower_http=debug".into(),
            env,
        );
        let port = service.port;
        let mut toml = format!(
            r#"[server]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
region = {region:?}
refresh_interval_secs = {refresh_interval_secs}
reconcile_interval_secs = {reconcile_interval_secs}
shutdown_grace_secs = 10
{lease_ttl}

[keystone]
cloud = "testbed-a"
clouds_yaml = {clouds:?}

[federation]
entity_id = {entity_id:?}
metadata_url = {metadata_url:?}

[secrets]
key_id = "test-1"
key_file = "secrets.key"
"#,
            region = region.as_deref().unwrap_or(tb.region(Cloud::A)),
            clouds = tb.clouds_yaml().display().to_string(),
            entity_id = identity.entity_id,
            metadata_url = identity.metadata_url.as_str(),
            lease_ttl = lease_ttl_secs.map(|t| format!("lease_ttl_secs = {t}")).unwrap_or_default(),
        );
        if let Some(pause) = &pause_after_step {
            toml.push_str(&format!("\n[testing]\npause_after_step = {pause:?}\n"));
        }
        std::fs::write(&service.config_path, toml).expect("write the configuration");
        service.spawn_and_wait().await;
        Self { service }
    }
}

// ---- schemathesis (publisher_fuzz.rs, subscriber_fuzz.rs)

/// The checks of the fuzz tests: every one but `positive_data_acceptance`
/// (the documents cannot express every rule: a region must exist in
/// Keystone, a binding's publisher must be registered...), so some
/// schema-valid requests are rightly refused with 400.
pub const FUZZ_CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                               response_headers_conformance,response_schema_conformance,negative_data_rejection,\
                               missing_required_header,unsupported_method,ignored_auth";

/// How one [`schemathesis`] run differs from the others.
#[derive(Debug, Default)]
pub struct FuzzRun<'a> {
    /// Options before `run` (e.g. `--config-file F`).
    pub global: &'a [&'a str],
    /// More options of `run` (e.g. `--include-path-regex R`).
    pub run: &'a [&'a str],
    /// More environment variables (e.g. `SCHEMATHESIS_HOOKS`).
    pub env: &'a [(&'a str, &'a str)],
}

/// Runs the testbed's schemathesis (`SCHEMATHESIS`) against the OpenAPI
/// document of the service at `base` as the holder of `token`, with
/// [`FUZZ_CHECKS`], every phase, 25 examples per operation and a fixed
/// seed; writes its report (the token redacted) to `dir/report`, and fails
/// with the report's tail when schemathesis found anything.
pub fn schemathesis(base: &Url, dir: &Path, report: &str, token: &SecretString, how: FuzzRun<'_>) {
    let tb = Testbed::get();
    let report = dir.join(report);
    let output = Command::new(tb.var("SCHEMATHESIS"))
        .envs(how.env.iter().copied())
        .args(how.global)
        .arg("run")
        .arg(base.join("openapi.json").expect("openapi URL").as_str())
        .args(["--checks", FUZZ_CHECKS])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "25", "--seed", "20261122", "--no-color"])
        // Every request validates a token with Keystone: on a loaded 2-core
        // machine an answer can take longer than schemathesis's default 10 s.
        .args(["--request-timeout", "30"])
        .args(["--header", &format!("X-Auth-Token: {}", token.expose_secret())])
        .args(how.run)
        .current_dir(dir)
        .output()
        .expect("run schemathesis (testbed/testbed.sh start installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout).replace(token.expose_secret(), "[TOKEN]");
    std::fs::write(&report, stdout.as_bytes()).expect("write the schemathesis report");
    assert!(
        output.status.success(),
        "schemathesis found failures (report {}):\n{}\n{}",
        report.display(),
        stdout.lines().rev().take(80).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n"),
        String::from_utf8_lossy(&output.stderr).replace(token.expose_secret(), "[TOKEN]"),
    );
}
